#!/bin/sh
# Gathers into DEST what the binaries in /opt/llama/bin need at run time, for an
# image that starts from scratch: the binaries and build-info.json, every shared
# library they load (found with ldd, placed in /opt/llama/lib) except the GPU
# driver's own (libcuda, libnvidia-*: they come from the host), the dynamic
# loader, a shell and cat (rigbench's probes and fault injection use them), and
# /opt/llama/runtime-info.json describing the CUDA libraries carried.
# Usage: collect-runtime.sh DEST
set -eu

dest=${1:?usage: collect-runtime.sh DEST}
mkdir -p "$dest/opt/llama/lib" "$dest/bin" "$dest/tmp"
chmod 1777 "$dest/tmp"
cp -a /opt/llama/bin "$dest/opt/llama/"
cp /opt/llama/build-info.json "$dest/opt/llama/"
sh_path=$(command -v sh)
cat_path=$(command -v cat)
cp -L "$sh_path" "$dest/bin/sh"
cp -L "$cat_path" "$dest/bin/cat"

# Each library a binary loads: "name => /path (0x…)"; the loader: "/lib64/ld-… (0x…)".
libs=$(for b in /opt/llama/bin/llama-server /opt/llama/bin/llama-bench /opt/llama/bin/llama-quantize "$sh_path" "$cat_path"; do
  ldd "$b"
done | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// && $2 ~ /^\(/ {print $1}' | sort -u)
for lib in $libs; do
  case "$(basename "$lib")" in
    libcuda.so*|libnvidia-*) continue ;;
    ld-linux*)
      mkdir -p "$dest$(dirname "$lib")"
      cp -L "$lib" "$dest$lib" ;;
    *)
      cp -L "$lib" "$dest/opt/llama/lib/$(basename "$lib")"
      # The real file's name carries the full version (libcudart.so.13.0.96).
      basename "$(readlink -f "$lib")" >> "$dest/opt/llama/lib/.versions" ;;
  esac
done
[ -n "$(find "$dest" -name 'ld-linux*' | head -n1)" ] || {
  echo "collect-runtime.sh: no dynamic loader found for the binaries" >&2
  exit 2
}

# The CUDA runtime and cuBLAS versions, from the files carried (libcudart.so.13.0.96).
version_of() {
  grep "^$1\.so\." "$dest/opt/llama/lib/.versions" | sed -e "s/^$1\.so\.//" | head -n1
}
# shellcheck source=/dev/null
. /etc/os-release
{
  printf '{\n'
  printf '  "os": "%s (build stage; the image itself is from scratch)",\n' "${PRETTY_NAME:-unknown}"
  printf '  "cuda_runtime": "%s",\n' "$(version_of libcudart)"
  printf '  "cublas": "%s",\n' "$(version_of libcublas)"
  printf '  "libraries": ['
  first=1
  for f in "$dest"/opt/llama/lib/*; do
    [ "$first" = 1 ] || printf ', '
    first=0
    printf '"%s"' "$(basename "$f")"
  done
  printf ']\n}\n'
} > "$dest/opt/llama/runtime-info.json"
echo "collect-runtime.sh: $(find "$dest/opt/llama/lib" -type f | wc -l) libraries, $(du -sh "$dest" | cut -f1) in all"
