#!/bin/sh
# Installs the packages one stage of a rigbench image needs, on apt (Debian,
# Ubuntu) and dnf (Fedora) bases alike, so one Containerfile serves both.
# Usage: install-deps.sh build|runtime BACKEND
set -eu

stage=${1:?usage: install-deps.sh build|runtime BACKEND}
backend=${2:?usage: install-deps.sh build|runtime BACKEND}

# Debian's ROCm 7.2.4 (experimental, on a sid base): the packages the build
# needs and every ROCm package they pull, each pinned to its version, so that
# nothing newer comes from experimental and the rest comes from sid. rocWMMA's
# Debian package ships only its top-level headers, so WMMA flash attention
# cannot be built on it (build-llama.sh says so in the image's build notes).
ROCM7_DEBIAN_RUNTIME="libamdhip64-dev=7.2.4-1~exp2 librocblas-dev=7.2.4-1~exp1
  libhipblas-dev=7.2.4-1~exp1 libamdhip64-7=7.2.4-1~exp2 libhiprtc7=7.2.4-1~exp2
  libhiprtc-builtins7=7.2.4-1~exp2 libhsa-runtime64-1=7.2.4+dfsg-1~exp1
  libhsa-runtime-dev=7.2.4+dfsg-1~exp1 libamd-comgr3=7.2.4+dfsg-1~exp1
  libamd-comgr-dev=7.2.4+dfsg-1~exp1 rocm-device-libs-22=7.2.4+dfsg-1~exp1
  libhipblas-common-dev=7.2.4-1~exp1 libhipblas3=7.2.4-1~exp1
  libroctx64-4=7.2.4-1~exp1 librocblas5=7.2.4-1~exp1 librocsolver0=7.2.4-1~exp1+b1"
ROCM7_DEBIAN="hipcc=7.2.4+dfsg-1~exp1 librocwmma-dev=7.2.4-1~exp1 $ROCM7_DEBIAN_RUNTIME"

# Package lists: apt names, then dnf names ("-" where that family has no way).
case "$stage/$backend" in
  build/cpu)
    # ccache: the compiler cache rigbench's images share (build-llama.sh).
    apt_pkgs="ca-certificates ccache cmake g++ make"
    dnf_pkgs="ccache cmake gcc-c++ make"
    needs="cmake c++" ;;
  runtime/cpu)
    apt_pkgs="libgomp1"
    dnf_pkgs="libgomp"
    needs_libs="libgomp.so.1" ;;
  build/vulkan)
    apt_pkgs="ca-certificates ccache cmake g++ make libvulkan-dev glslc spirv-headers"
    dnf_pkgs="ccache cmake gcc-c++ make vulkan-loader-devel vulkan-headers glslc spirv-headers-devel"
    # The offline base (scripts/offline/vulkan-base.sh) carries these already.
    needs="cmake c++ glslc"
    needs_libs="libvulkan.so"
    needs_files="/usr/include/vulkan/vulkan.h /usr/include/spirv/unified1/spirv.hpp" ;;
  runtime/vulkan)
    # libglvnd's libGLdispatch.so.0 and libEGL.so.1: NVIDIA's Vulkan driver
    # (libGLX_nvidia, mounted from the host on NVIDIA hosts) links the first
    # and, with no X display, creates no instance unless the second finds
    # NVIDIA's EGL vendor (measured on an H100, driver 580); hosts without a
    # desktop lack both.
    apt_pkgs="libgomp1 libvulkan1 mesa-vulkan-drivers vulkan-tools libglvnd0 libegl1"
    dnf_pkgs="libgomp vulkan-loader mesa-vulkan-drivers vulkan-tools libglvnd libglvnd-egl"
    # The offline base for NVIDIA hosts has the loader and libglvnd, no Mesa:
    # the driver comes from the host.
    needs_libs="libgomp.so.1 libvulkan.so.1 libGLdispatch.so.0 libEGL.so.1" ;;
  build/rocm6)
    # Debian (sid) and Fedora package ROCm 6.4 themselves.
    apt_pkgs="ca-certificates ccache cmake g++ make hipcc libamdhip64-dev librocblas-dev libhipblas-dev rocm-cmake rocminfo"
    dnf_pkgs="ccache cmake gcc-c++ make rocm-hip-devel rocblas-devel hipblas-devel rocm-cmake rocminfo" ;;
  runtime/rocm6)
    # The -dev packages pull exactly the runtime libraries the build linked.
    apt_pkgs="libgomp1 libamdhip64-dev librocblas-dev libhipblas-dev rocminfo"
    dnf_pkgs="libgomp rocm-hip rocblas hipblas rocminfo" ;;
  build/rocm7)
    if [ -x /opt/rocm/bin/hipconfig ]; then
      # AMD's image carries ROCm 7 (HIP, rocBLAS, hipBLAS, rocWMMA); only build tools.
      apt_pkgs="ca-certificates ccache cmake g++ make"
    else
      # Debian sid: ROCm 7.2.4 from experimental, every package of it pinned.
      apt_pkgs="ca-certificates ccache cmake g++ make rocm-cmake rocminfo $ROCM7_DEBIAN"
      apt_experimental=1
    fi
    dnf_pkgs="-" ;;
  runtime/rocm7)
    if [ -x /opt/rocm/bin/hipconfig ]; then
      apt_pkgs="libgomp1"
    else
      # The -dev packages pull exactly the runtime libraries the build linked.
      apt_pkgs="libgomp1 rocminfo $ROCM7_DEBIAN_RUNTIME"
      apt_experimental=1
    fi
    dnf_pkgs="-" ;;
  build/cuda)
    # NVIDIA's devel image (or the host's toolkit) carries nvcc and cuBLAS; only
    # build tools. The image rigbench makes from it starts from scratch.
    apt_pkgs="ca-certificates cmake g++ make"
    dnf_pkgs="cmake gcc-c++ make"
    needs="cmake c++ nvcc" ;;
  *)
    echo "install-deps.sh: no package list for stage '$stage' and backend '$backend'" >&2
    exit 2 ;;
esac

# A base that already has every tool and library this stage needs installs
# nothing: a base made from a host with no network (scripts/offline/cuda-base.sh)
# has no package source. Make or Ninja is needed too (build-llama.sh takes either).
# A base that lacks any of them installs the stage's whole list.
if [ -n "${needs:-}${needs_libs:-}${needs_files:-}" ]; then
  missing=""
  for t in ${needs:-}; do
    command -v "$t" >/dev/null 2>&1 || [ -x "/usr/local/cuda/bin/$t" ] || missing="$missing $t"
  done
  if [ -n "${needs:-}" ] && ! command -v make >/dev/null 2>&1 && ! command -v ninja >/dev/null 2>&1; then
    missing="$missing make"
  fi
  for l in ${needs_libs:-}; do
    found=""
    for d in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /lib/x86_64-linux-gnu; do
      [ -e "$d/$l" ] && found=1
    done
    [ -n "$found" ] || missing="$missing $l"
  done
  for f in ${needs_files:-}; do
    [ -e "$f" ] || missing="$missing $f"
  done
  if [ -z "$missing" ]; then
    echo "install-deps.sh: the base has ${needs:-} ${needs_libs:-} ${needs_files:-} already; nothing to install"
    exit 0
  fi
fi

if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  # APT_CHECK_VALID_UNTIL=false (a build argument) accepts a snapshot mirror's
  # expired Release file for Debian sid; it weakens apt's replay protection, so it
  # is off unless asked for.
  if [ -n "${apt_experimental:-}" ]; then
    # Experimental beside the base's own suite, from the same mirror; apt takes
    # nothing from it unless a version is named.
    mirror=$(grep -h -o -m1 'https\?://[^ ]*' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1)
    [ -n "$mirror" ] || mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
    echo "deb ${mirror:-http://deb.debian.org/debian} experimental main" > /etc/apt/sources.list.d/rigbench-experimental.list
  fi
  apt-get -o Acquire::Check-Valid-Until="${APT_CHECK_VALID_UNTIL:-true}" update -q
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  apt-get install -y -q --no-install-recommends $apt_pkgs
  # The downloaded packages and apt's caches (about 90 MB in the vulkan image,
  # with those debootstrap left in the local base) are not part of the image.
  apt-get clean
  rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
elif command -v dnf >/dev/null 2>&1; then
  if [ "$dnf_pkgs" = "-" ]; then
    echo "install-deps.sh: $backend needs an apt base with ROCm 7 (AMD's image); pass one as BASE_IMAGE" >&2
    exit 2
  fi
  # shellcheck disable=SC2086
  dnf install -y --setopt=install_weak_deps=False $dnf_pkgs
  dnf clean all
else
  echo "install-deps.sh: the base image has neither apt-get nor dnf" >&2
  exit 2
fi
