#!/bin/sh
# Prints the build-info JSON of a rigbench image: what was built, from what, with
# which flags and toolchain. rigbench reads it back into the manifest.
# Usage: build-info.sh CMAKE_FLAG... (the flags the build used)
set -eu

esc() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | tr '\n\t' '  '; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

flags=""
for f in "$@"; do flags="$flags${flags:+, }\"$(esc "$f")\""; done

# shellcheck source=/dev/null
. /etc/os-release
printf '{\n'
printf '  "backend": "%s",\n' "$(esc "$BACKEND")"
printf '  "base_image": "%s",\n' "$(esc "${BASE_IMAGE:-}")"
printf '  "os": "%s",\n' "$(esc "${PRETTY_NAME:-unknown}")"
printf '  "llama_commit": "%s",\n' "$(esc "$LLAMA_COMMIT")"
printf '  "llama_build_number": %s,\n' "${LLAMA_BUILD_NUMBER:-0}"
printf '  "cmake_flags": [%s],\n' "$flags"
printf '  "compiler": "%s",\n' "$(esc "$(c++ --version | head -n1)")"
printf '  "cmake": "%s",\n' "$(esc "$(cmake --version | head -n1)")"
printf '  "binaries": {"llama-server": "%s", "llama-bench": "%s"}\n' \
  "$(sha /opt/llama/bin/llama-server)" "$(sha /opt/llama/bin/llama-bench)"
printf '}\n'
