#!/bin/sh
# Installs the packages one stage of a rigbench image needs, on apt (Debian,
# Ubuntu) and dnf (Fedora) bases alike, so one Containerfile serves both.
# Usage: install-deps.sh build|runtime BACKEND
set -eu

stage=${1:?usage: install-deps.sh build|runtime BACKEND}
backend=${2:?usage: install-deps.sh build|runtime BACKEND}

# Package lists: apt names, then dnf names ("-" where that family has no way).
case "$stage/$backend" in
  build/cpu)
    apt_pkgs="ca-certificates cmake g++ make"
    dnf_pkgs="cmake gcc-c++ make" ;;
  runtime/cpu)
    apt_pkgs="libgomp1"
    dnf_pkgs="libgomp" ;;
  build/vulkan)
    apt_pkgs="ca-certificates cmake g++ make libvulkan-dev glslc spirv-headers"
    dnf_pkgs="cmake gcc-c++ make vulkan-loader-devel vulkan-headers glslc spirv-headers-devel" ;;
  runtime/vulkan)
    apt_pkgs="libgomp1 libvulkan1 mesa-vulkan-drivers vulkan-tools"
    dnf_pkgs="libgomp vulkan-loader mesa-vulkan-drivers vulkan-tools" ;;
  build/rocm6)
    # Debian (sid) and Fedora package ROCm 6.4 themselves.
    apt_pkgs="ca-certificates cmake g++ make hipcc libamdhip64-dev librocblas-dev libhipblas-dev rocm-cmake rocminfo"
    dnf_pkgs="cmake gcc-c++ make rocm-hip-devel rocblas-devel hipblas-devel rocm-cmake rocminfo" ;;
  runtime/rocm6)
    # The -dev packages pull exactly the runtime libraries the build linked.
    apt_pkgs="libgomp1 libamdhip64-dev librocblas-dev libhipblas-dev rocminfo"
    dnf_pkgs="libgomp rocm-hip rocblas hipblas rocminfo" ;;
  build/rocm7)
    # AMD's image carries ROCm 7 (HIP, rocBLAS, hipBLAS, rocWMMA); only build tools.
    apt_pkgs="ca-certificates cmake g++ make"
    dnf_pkgs="-" ;;
  runtime/rocm7)
    apt_pkgs="libgomp1"
    dnf_pkgs="-" ;;
  *)
    echo "install-deps.sh: no package list for stage '$stage' and backend '$backend'" >&2
    exit 2 ;;
esac

if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  # APT_CHECK_VALID_UNTIL=false (a build argument) accepts a snapshot mirror's
  # expired Release file for Debian sid; it weakens apt's replay protection, so it
  # is off unless asked for.
  apt-get -o Acquire::Check-Valid-Until="${APT_CHECK_VALID_UNTIL:-true}" update -q
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  apt-get install -y -q --no-install-recommends $apt_pkgs
  rm -rf /var/lib/apt/lists/*
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
