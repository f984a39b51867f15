#!/bin/sh
# Prints what a rigbench image holds, as JSON that rigbench reads into the manifest.
#   build-info.sh build CMAKE_FLAG...  (in the build stage) what was built, from
#       what, with which flags and compiler -> /opt/llama/build-info.json
#   build-info.sh offload FILE  the GPU code objects a HIP binary carries
#   build-info.sh runtime  (in the final stage) the OS and the driver stack the
#       binaries run on: Mesa, Vulkan loader, ROCm -> /opt/llama/runtime-info.json
set -eu

esc() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr '\n\t' '  '; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# Version of an installed package, or empty: dpkg and rpm alike.
pkg_version() {
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f '${Version}' "$1" 2>/dev/null || true
  elif command -v rpm >/dev/null 2>&1; then
    rpm -q --qf '%{VERSION}-%{RELEASE}' "$1" 2>/dev/null | grep -v 'not installed' || true
  fi
}

rocm_version() {
  for f in /opt/rocm/.info/version /opt/rocm/.info/version-dev; do
    [ -r "$f" ] && { head -n1 "$f"; return; }
  done
  if command -v hipconfig >/dev/null 2>&1; then
    hipconfig --version 2>/dev/null | head -n1
    return
  fi
  # A runtime stage without hipconfig: the HIP runtime package's version.
  first_pkg_version libamdhip64-dev rocm-hip hip-runtime-amd
}

# The first of several package names (Debian, Fedora, AMD's own) installed.
first_pkg_version() {
  for p in "$@"; do
    v=$(pkg_version "$p")
    [ -n "$v" ] && { printf '%s' "$v"; return; }
  done
}

# The ROCm libraries' versions, as their packages say: HIP, rocBLAS, hipBLAS,
# rocWMMA (Debian's, Fedora's and AMD's package names).
rocm_libs() {
  printf '  "hip": "%s",\n' "$(esc "$(first_pkg_version libamdhip64-dev rocm-hip-devel hip-dev hip-runtime-amd)")"
  printf '  "rocblas": "%s",\n' "$(esc "$(first_pkg_version librocblas-dev rocblas-devel rocblas-dev rocblas)")"
  printf '  "hipblas": "%s",\n' "$(esc "$(first_pkg_version libhipblas-dev hipblas-devel hipblas-dev hipblas)")"
  printf '  "rocwmma": "%s",\n' "$(esc "$(first_pkg_version librocwmma-dev rocwmma-devel rocwmma-dev)")"
}

# The Vulkan loader's version: its package's, else (a base with packages
# unpacked but not installed, scripts/offline/vulkan-base.sh) the version in the
# library's file name (libvulkan.so.1.4.309 -> 1.4.309).
vulkan_loader_version() {
  v="$(pkg_version libvulkan1)$(pkg_version vulkan-loader)"
  if [ -z "$v" ]; then
    for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
      [ -e "$d/libvulkan.so.1" ] || continue
      v=$(basename "$(readlink -f "$d/libvulkan.so.1")" | sed -n 's/^libvulkan\.so\.//p')
      break
    done
  fi
  printf '%s' "$v"
}

first_line() { "$@" 2>/dev/null | head -n1 || true; }

# nvcc's release line, where there is an nvcc.
nvcc_version() {
  n=$(command -v nvcc 2>/dev/null || true)
  [ -n "$n" ] || { [ -x /usr/local/cuda/bin/nvcc ] && n=/usr/local/cuda/bin/nvcc; }
  [ -n "$n" ] || return 0
  "$n" --version 2>/dev/null | grep -i release | head -n1 || true
}

# The GPU architectures whose machine code a binary carries (sm_90 …), where the
# toolkit's cuobjdump is there to read them.
cuda_archs() {
  o=$(command -v cuobjdump 2>/dev/null || true)
  [ -n "$o" ] || { [ -x /usr/local/cuda/bin/cuobjdump ] && o=/usr/local/cuda/bin/cuobjdump; }
  [ -n "$o" ] || return 0
  "$o" --list-elf "$1" 2>/dev/null | grep -o 'sm_[0-9]*[a-z]*' | sort -u | tr '\n' ' ' | sed 's/ $//' || true
}

# The GPU code objects a HIP binary or object carries: the targets of the
# offload bundles in its .hip_fatbin section (hipv4-amdgcn-amd-amdhsa--gfx1151 …).
offload_targets() {
  command -v objcopy >/dev/null 2>&1 || return 0
  t=$(mktemp)
  if objcopy -O binary --only-section=.hip_fatbin "$1" "$t" 2>/dev/null; then
    grep -a -o 'hipv4-amdgcn-amd-amdhsa--[a-z0-9:+-]*' "$t" | sort -u || true
  fi
  rm -f "$t"
}

# shellcheck source=/dev/null
. /etc/os-release
mode=${1:?usage: build-info.sh build|runtime|offload [CMAKE_FLAG|FILE]...}
shift

case "$mode" in
  build)
    flags=""
    for f in "$@"; do flags="$flags${flags:+, }\"$(esc "$f")\""; done
    printf '{\n'
    printf '  "backend": "%s",\n' "$(esc "$BACKEND")"
    printf '  "base_image": "%s",\n' "$(esc "${BASE_IMAGE:-}")"
    printf '  "os": "%s",\n' "$(esc "${PRETTY_NAME:-unknown}")"
    printf '  "llama_commit": "%s",\n' "$(esc "$LLAMA_COMMIT")"
    printf '  "llama_build_number": %s,\n' "${LLAMA_BUILD_NUMBER:-0}"
    printf '  "cmake_flags": [%s],\n' "$flags"
    printf '  "compiler": "%s",\n' "$(esc "$(first_line c++ --version)")"
    printf '  "hip_compiler": "%s",\n' "$(esc "${HIPCXX:+$(first_line "$HIPCXX" --version)}")"
    printf '  "cmake": "%s",\n' "$(esc "$(first_line cmake --version)")"
    printf '  "rocm": "%s",\n' "$(esc "$(rocm_version)")"
    case "$BACKEND" in
      rocm*)
        rocm_libs
        printf '  "offload_targets": "%s",\n' \
          "$(esc "$(offload_targets /opt/llama/bin/llama-server | tr '\n' ' ' | sed 's/ $//')")" ;;
    esac
    if [ "$BACKEND" = cuda ]; then
      printf '  "nvcc": "%s",\n' "$(esc "$(nvcc_version)")"
      printf '  "cuda_architectures": "%s",\n' "$(esc "$(cuda_archs /opt/llama/bin/llama-server)")"
    fi
    # What a base made from a host (scripts/offline/cuda-base.sh) was made from.
    if [ -r /etc/rigbench-base.json ]; then
      printf '  "base_made_from": %s,\n' "$(tr -d '\n' < /etc/rigbench-base.json)"
    fi
    # COMPILER_CACHE from build-llama.sh: "none" (no ccache in the image), "off"
    # (asked to compile everything anew), or "on HITS MISSES VERSION".
    # shellcheck disable=SC2086 # the words of COMPILER_CACHE are meant apart
    set -- ${COMPILER_CACHE:-none}
    if [ "$1" = on ]; then
      printf '  "compiler_cache": {"state": "on", "tool": "%s", "hits": %s, "misses": %s},\n' \
        "$(esc "$(echo "$*" | cut -d' ' -f4-)")" "${2:-0}" "${3:-0}"
    else
      printf '  "compiler_cache": {"state": "%s"},\n' "$(esc "$1")"
    fi
    # What build-llama.sh decided about the CMake options (cmake-options.sh):
    # one the source lacks, set off and left out; auto turned on or off, and why.
    notes=""
    if [ -n "${BUILD_NOTES:-}" ] && [ -r "$BUILD_NOTES" ]; then
      while IFS= read -r n; do notes="$notes${notes:+, }\"$(esc "$n")\""; done < "$BUILD_NOTES"
    fi
    printf '  "build_notes": [%s],\n' "$notes"
    printf '  "binaries": {"llama-server": "%s", "llama-bench": "%s"}\n' \
      "$(sha /opt/llama/bin/llama-server)" "$(sha /opt/llama/bin/llama-bench)"
    printf '}\n'
    ;;
  runtime)
    printf '{\n'
    printf '  "os": "%s",\n' "$(esc "${PRETTY_NAME:-unknown}")"
    printf '  "mesa_vulkan_drivers": "%s",\n' "$(esc "$(pkg_version mesa-vulkan-drivers)")"
    printf '  "vulkan_loader": "%s",\n' "$(esc "$(vulkan_loader_version)")"
    printf '  "rocm": "%s",\n' "$(esc "$(rocm_version)")"
    if [ -r /etc/rigbench-base.json ]; then
      printf '  "base_made_from": %s,\n' "$(tr -d '\n' < /etc/rigbench-base.json)"
    fi
    printf '  "libgomp": "%s"\n' "$(esc "$(pkg_version libgomp1)$(pkg_version libgomp)")"
    printf '}\n'
    ;;
  offload)
    offload_targets "${1:?usage: build-info.sh offload FILE}"
    ;;
  *)
    echo "build-info.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
