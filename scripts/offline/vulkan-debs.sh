#!/usr/bin/env bash
# Fetches, on a machine that reaches Debian's archive, the packages
# scripts/offline/vulkan-base.sh carries to a GPU host with no network: Debian
# trixie's Vulkan loader and its headers, SPIR-V headers, glslc with libshaderc1
# (glslang inside; needs glibc 2.38, so they run on Ubuntu 24.04 too) and
# libglvnd's libGLdispatch, which NVIDIA's Vulkan driver links, and libEGL,
# without which it creates no instance where there is no X display. About 4.4 MB.
# apt reads trixie's lists into a private folder; the machine's own apt setup is
# not touched. Prints the packages and their sha256.
# Usage: scripts/offline/vulkan-debs.sh DEBS_DIR
set -euo pipefail
out=$(mkdir -p "${1:?usage: scripts/offline/vulkan-debs.sh DEBS_DIR}" && cd "$1" && pwd)
pkgs="libvulkan1 libvulkan-dev spirv-headers glslc libshaderc1 libglvnd0 libegl1"
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
echo "deb http://deb.debian.org/debian trixie main" > "$state/sources.list"
o=(-oDir::Etc::SourceList="$state/sources.list" -oDir::Etc::SourceParts=/dev/null
   -oDir::State::Lists="$state/lists" -oDir::Cache="$state/cache"
   -oAPT::Architecture=amd64 -oAPT::Architectures=amd64)
apt-get "${o[@]}" update -q >&2
# shellcheck disable=SC2086 # the package list is meant as words
(cd "$out" && apt-get "${o[@]}" download $pkgs >&2)
(cd "$out" && sha256sum ./*.deb)
