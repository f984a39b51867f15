#!/usr/bin/env bash
# Fetches, on a machine that reaches Debian's archive, the packages
# scripts/offline/vulkan-base.sh carries to a GPU host with no network: Debian
# trixie's Vulkan loader and its headers, SPIR-V headers, glslc with libshaderc1
# (glslang inside; needs glibc 2.38, so they run on Ubuntu 24.04 too) and
# libglvnd's libGLdispatch, which NVIDIA's Vulkan driver links, and libEGL,
# without which it creates no instance where there is no X display. About 4.4 MB.
# apt reads trixie's lists into a private folder (apt-download.sh); the
# machine's own apt setup is not touched. Prints the packages and their sha256.
# Usage: scripts/offline/vulkan-debs.sh DEBS_DIR
set -euo pipefail
out=${1:?usage: scripts/offline/vulkan-debs.sh DEBS_DIR}
# shellcheck source=scripts/offline/apt-download.sh
. "$(dirname "$0")/apt-download.sh"
apt_download "$out" "deb http://deb.debian.org/debian trixie main" \
  libvulkan1 libvulkan-dev spirv-headers glslc libshaderc1 libglvnd0 libegl1
