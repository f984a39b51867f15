#!/bin/sh
# Unpacks the llama.cpp source archive, builds llama-server, llama-bench,
# llama-gguf-split (to split and merge models, as users ship them) and
# llama-quantize (to make a synthetic model's K-quants from rigbench's Q8_0) with the
# commit and build number rigbench passes, installs them under /opt/llama and writes
# /opt/llama/build-info.json. Shared by every Containerfile; backend flags come as
# arguments. Usage: build-llama.sh [CMAKE_FLAG]...
# Environment: LLAMA_ARCHIVE, LLAMA_SRC_DIR, LLAMA_COMMIT, LLAMA_BUILD_NUMBER,
# BUILD_JOBS (0 = all cores), BASE_IMAGE, BACKEND, RIGBENCH_CCACHE (1: compile
# through ccache into the cache directory the Containerfile mounts, see below).
set -eu

: "${LLAMA_ARCHIVE:?}" "${LLAMA_SRC_DIR:?}" "${LLAMA_COMMIT:?}" "${BACKEND:?}"
build_number=${LLAMA_BUILD_NUMBER:-0}
jobs=${BUILD_JOBS:-0}
[ "$jobs" -gt 0 ] || jobs=$(nproc)

# Count the path components so that only the llama.cpp tree is unpacked.
strip=$(printf '%s' "$LLAMA_SRC_DIR" | awk -F/ '{print NF}')
mkdir -p /src/llama.cpp
tar -xf "$LLAMA_ARCHIVE" -C /src/llama.cpp --strip-components="$strip" "$LLAMA_SRC_DIR"
rm -f "$LLAMA_ARCHIVE"

case "$BACKEND" in
  cuda)
    # nvcc where NVIDIA's images and toolkit installers put it.
    if [ -z "${CUDACXX:-}" ] && ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
      CUDACXX=/usr/local/cuda/bin/nvcc
      export CUDACXX
    fi
    ;;
  rocm*)
    # HIP as llama.cpp documents it: the ROCm clang as the HIP compiler, wherever
    # the distribution put it (/opt/rocm, /usr/lib64/rocm, /usr/lib/llvm-*).
    HIPCXX=${HIPCXX:-"$(hipconfig -l)/clang"}
    HIP_PATH=${HIP_PATH:-"$(hipconfig -R)"}
    export HIPCXX HIP_PATH
    ;;
esac

# The compiler cache: rigbench's images share one ccache directory on the build
# machine (a `RUN --mount=type=cache` in the Containerfile), so that an image
# whose sources and flags another image already compiled (the Vulkan image after
# the CPU one, a rebuild of changed build scripts) takes those objects from it.
# ccache gives the bytes the compiler would; `-march=native` is the exception
# (ccache issue 824: the flag reads the CPU, the cache key does not), so the
# CPU's model and flags are made part of every key. RIGBENCH_CCACHE=0 (a rerun
# checking that the binaries rebuild bit-identically) compiles everything anew.
# What the cache gave is recorded in build-info.json.
CCACHE_MOUNT=/var/cache/rigbench-ccache
ccache_state=none
if command -v ccache >/dev/null 2>&1; then
  if [ "${RIGBENCH_CCACHE:-0}" = 1 ] && [ -d "$CCACHE_MOUNT" ] && [ -w "$CCACHE_MOUNT" ]; then
    grep -m2 -E '^(model name|flags)' /proc/cpuinfo > /tmp/ccache-cpu-identity || true
    CCACHE_DIR=$CCACHE_MOUNT
    CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-3G}
    CCACHE_EXTRAFILES=/tmp/ccache-cpu-identity
    CCACHE_STATSLOG=/tmp/ccache-stats.log
    export CCACHE_DIR CCACHE_MAXSIZE CCACHE_EXTRAFILES CCACHE_STATSLOG
    unset CCACHE_DISABLE
    ccache_state=on
  else
    CCACHE_DISABLE=1
    export CCACHE_DISABLE
    ccache_state=off
  fi
fi

set -- \
  -DCMAKE_BUILD_TYPE=Release \
  -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_COMMIT="$LLAMA_COMMIT" \
  -DLLAMA_BUILD_NUMBER="$build_number" \
  -DLLAMA_BUILD_TESTS=OFF \
  -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF \
  -DLLAMA_OPENSSL=OFF \
  "$@"

# Compilations the compiler cache gave and those compiled anew: "HITS MISSES".
cache_counts() {
  echo "$(grep -c -E '^(direct|preprocessed)_cache_hit$' /tmp/ccache-stats.log || true)" \
    "$(grep -c -E '^cache_miss$' /tmp/ccache-stats.log || true)"
}

# No option does nothing silently (cmake-options.sh): one the source lacks stops
# the build unless it is set off, and auto turns into ON or off; each such
# decision is a note in build-info.json.
BUILD_NOTES=/tmp/rigbench-build-notes
export BUILD_NOTES
: > "$BUILD_NOTES"
resolved=$(/rigbench/images/cmake-options.sh resolve /src/llama.cpp "$BUILD_NOTES" "$@") || exit 3
set -f
old_ifs=$IFS
IFS='
'
# shellcheck disable=SC2086 # one option per line, split on newlines only
set -- $resolved
IFS=$old_ifs
set +f
if [ -s "$BUILD_NOTES" ]; then sed 's/^/build-llama.sh: /' "$BUILD_NOTES"; fi

# Make where the base has it, else Ninja (a toolkit-only base may carry just that).
if ! command -v make >/dev/null 2>&1 && command -v ninja >/dev/null 2>&1; then
  set -- -G Ninja "$@"
fi

echo "build-llama.sh: cmake -S /src/llama.cpp -B /src/build $*"
# Its output kept (and shown as it comes) for CMake's list of unused variables.
{ cmake -S /src/llama.cpp -B /src/build "$@" 2>&1; echo "$?" > /tmp/cmake-configure.rc; } |
  tee /tmp/cmake-configure.log
rc=$(cat /tmp/cmake-configure.rc)
[ "$rc" = 0 ] || exit "$rc"
/rigbench/images/cmake-options.sh unused /tmp/cmake-configure.log "$BUILD_NOTES" "$@"
if [ "${CONFIGURE_ONLY:-0}" = 1 ]; then
  echo "build-llama.sh: CONFIGURE_ONLY=1, stopping after cmake configure"
  exit 0
fi
# COMPILE_UNIT=DIR:OBJECT (the tests' proof of a toolchain without its hours of
# build): compiles one object in the build tree's DIR, says what the compiler
# cache gave and which GPU code objects the object carries, and stops.
if [ -n "${COMPILE_UNIT:-}" ]; then
  make -C "/src/build/${COMPILE_UNIT%%:*}" "${COMPILE_UNIT#*:}"
  obj=$(find "/src/build/${COMPILE_UNIT%%:*}" -path "*/${COMPILE_UNIT#*:}" | head -n1)
  [ -n "$obj" ] || { echo "build-llama.sh: no ${COMPILE_UNIT#*:} after compiling it" >&2; exit 1; }
  if [ "$ccache_state" = on ] && [ -r /tmp/ccache-stats.log ]; then
    echo "build-llama.sh: compiler cache: $(cache_counts | cut -d' ' -f1) hit(s), $(cache_counts | cut -d' ' -f2) miss(es)"
  fi
  echo "build-llama.sh: offload targets of $obj: $(/rigbench/images/build-info.sh offload "$obj" | tr '\n' ' ')"
  echo "build-llama.sh: COMPILE_UNIT=$COMPILE_UNIT, stopping after it"
  exit 0
fi
cmake --build /src/build --config Release -j "$jobs" --target llama-server llama-bench llama-gguf-split llama-quantize

mkdir -p /opt/llama/bin
install -m 0755 /src/build/bin/llama-server /src/build/bin/llama-bench \
  /src/build/bin/llama-gguf-split /src/build/bin/llama-quantize /opt/llama/bin/

# What the compiler cache gave: compilations taken from it and compiled anew.
COMPILER_CACHE="$ccache_state"
if [ "$ccache_state" = on ] && [ -r /tmp/ccache-stats.log ]; then
  COMPILER_CACHE="on $(cache_counts) $(ccache --version | head -n1)"
fi
export COMPILER_CACHE
/rigbench/images/build-info.sh build "$@" > /opt/llama/build-info.json
rm -rf /src
