#!/usr/bin/env bash
# Makes localhost/rigbench/cuda:host, the base the cuda image's build stage uses
# on a host that reaches no registry (the counterpart of setup.sh's debootstrap
# base): a slice of this host's own root filesystem with only what the build
# needs (the C/C++ toolchain, make or ninja, CMake, the CUDA toolkit's compiler,
# headers, cudart and cuBLAS), imported with `podman import`. What it was made
# from is written into it as /etc/rigbench-base.json (the image's build info
# records it). Environment: CUDA_HOME (default: where nvcc is, else
# /usr/local/cuda), RIGBENCH_CUDA_BASE (the tag).
set -euo pipefail
tag=${RIGBENCH_CUDA_BASE:-localhost/rigbench/cuda:host}
log() { printf 'cuda-base: %s\n' "$*" >&2; }
die() { printf 'cuda-base: error: %s\n' "$*" >&2; exit 1; }

if podman image exists "$tag"; then
  log "$tag exists"
  exit 0
fi
nvcc=$(command -v nvcc || true)
cuda=${CUDA_HOME:-$( [ -n "$nvcc" ] && dirname "$(dirname "$(readlink -f "$nvcc")")" || echo /usr/local/cuda)}
cuda=$(readlink -f "$cuda")
[ -x "$cuda/bin/nvcc" ] || die "no nvcc under $cuda: set CUDA_HOME"
command -v c++ >/dev/null 2>&1 || die "no C++ compiler (c++) on this host"

# CMake and Ninja: a real binary, or the one inside a pip-installed package (an
# entry-point script, which needs the Python beside it).
real_tool() {
  local t p
  t=$(command -v "$1" || true)
  [ -n "$t" ] || return 0
  if head -c 2 "$t" | grep -q '#!'; then
    p=$(sed -n '1s/^#!//p' "$t")
    "$p" -c "import $1, os; print(os.path.join($1.$2, '$1'))" 2>/dev/null || true
  else
    readlink -f "$t"
  fi
}
cmake_bin=$(real_tool cmake CMAKE_BIN_DIR)
[ -n "$cmake_bin" ] || die "no cmake on this host"
ninja_bin=$(real_tool ninja BIN_DIR)

root=$(mktemp -d /var/tmp/rigbench-cuda-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
copy() { # copy PATH... into the root, keeping paths, links and modes
  local p
  for p in "$@"; do
    [ -e "$p" ] || continue
    cp -a --parents "$p" "$root/"
  done
}
# The userland: merged /usr (bin, lib, lib64, sbin as links where the host has
# them), without what no build reads (firmware, kernel modules, Python, locales).
for l in bin lib lib64 sbin; do
  if [ -L "/$l" ]; then cp -a "/$l" "$root/$l"; fi
done
mkdir -p "$root/usr/lib"
copy /usr/bin /usr/sbin /usr/libexec /usr/include /usr/lib64
for d in /usr/lib/*; do
  case "$(basename "$d")" in
    firmware|modules|python3*|locale|jvm|node_modules|snapd|systemd) continue ;;
  esac
  copy "$d"
done
copy /etc/os-release /etc/passwd /etc/group /etc/ld.so.conf /etc/ld.so.conf.d /etc/alternatives
mkdir -p "$root/tmp" "$root/var/tmp"
chmod 1777 "$root/tmp" "$root/var/tmp"
# The toolkit: compiler, NVVM, headers, cudart and cuBLAS (and the driver stub
# the link needs), not the other libraries (cuFFT, cuSPARSE, NPP, …).
mkdir -p "$root$cuda"
copy "$cuda/bin" "$cuda/nvvm" "$cuda/include" "$cuda/version.json"
tlib=$(readlink -f "$cuda/lib64")
mkdir -p "$root$tlib"
copy "$cuda/lib64" "$cuda/targets/x86_64-linux/include" "$tlib/stubs" "$tlib/cmake"
for f in "$tlib"/libcudart* "$tlib"/libcublas* "$tlib"/libcudadevrt* "$tlib"/libculibos*; do
  copy "$f"
done
ln -sfn "$cuda" "$root/usr/local/cuda"
# CMake (with its modules) and Ninja.
cmake_home=$(dirname "$(dirname "$cmake_bin")")
copy "$cmake_home"
mkdir -p "$root/usr/local/bin"
ln -sfn "$cmake_bin" "$root/usr/local/bin/cmake"
if [ -n "$ninja_bin" ]; then
  copy "$ninja_bin"
  ln -sfn "$ninja_bin" "$root/usr/local/bin/ninja"
fi
nvcc_version=$("$cuda/bin/nvcc" --version | grep -i release | head -n1)
# shellcheck source=/dev/null
. /etc/os-release
cat > "$root/etc/rigbench-base.json" <<JSON
{"made_by": "scripts/offline/cuda-base.sh", "host_os": "${PRETTY_NAME:-unknown}", "cuda_home": "$cuda", "nvcc": "$nvcc_version", "compiler": "$(c++ --version | head -n1)", "cmake": "$("$cmake_bin" --version | head -n1)", "ninja": "${ninja_bin:+$("$ninja_bin" --version)}", "made_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
JSON
log "slice: $(du -sh "$root" | cut -f1) ($(du -sh "$root/usr/lib" | cut -f1) in /usr/lib, $(du -sh "$root$cuda" | cut -f1) of CUDA)"
tar -C "$root" -c . | podman import -q \
  --change "ENV PATH=$cuda/bin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV CUDA_HOME=$cuda" - "$tag" >/dev/null
log "made $tag: $(cat "$root/etc/rigbench-base.json")"
