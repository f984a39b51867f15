#!/usr/bin/env bash
# Makes localhost/rigbench/vulkan:host, the base the vulkan image builds and
# runs on where no registry and no package archive answer (the lent H200
# machine): the host-made toolchain base of scripts/offline/cuda-base.sh (the
# host's compiler, CMake, Ninja) with Debian trixie's Vulkan packages carried in
# DEBS_DIR (fetched elsewhere by scripts/offline/vulkan-debs.sh: the loader and
# its headers, SPIR-V headers, glslc with libshaderc1, libglvnd0, libegl1) unpacked over
# it. images/install-deps.sh then finds every tool and library the vulkan
# image's stages need and installs nothing. There is no Mesa in it: on an
# NVIDIA host the vulkan backend runs on NVIDIA's own driver, mounted from the
# host. What it was made from (the packages, their versions and sha256, the base
# below) is written into it as /etc/rigbench-base.json, which the image's build
# info records.
# Environment: RIGBENCH_VULKAN_BASE (the tag made), RIGBENCH_VULKAN_FROM (the
# toolchain base, default localhost/rigbench/cuda:host).
# Usage: scripts/offline/vulkan-base.sh DEBS_DIR
set -euo pipefail
debs=$(cd "${1:?usage: scripts/offline/vulkan-base.sh DEBS_DIR}" && pwd)
tag=${RIGBENCH_VULKAN_BASE:-localhost/rigbench/vulkan:host}
from=${RIGBENCH_VULKAN_FROM:-localhost/rigbench/cuda:host}
log() { printf 'vulkan-base: %s\n' "$*" >&2; }
die() { printf 'vulkan-base: error: %s\n' "$*" >&2; exit 1; }

if podman image exists "$tag"; then
  log "$tag exists"
  exit 0
fi
podman image exists "$from" || die "no $from: make it first (scripts/offline/cuda-base.sh), or name another toolchain base in RIGBENCH_VULKAN_FROM"
for p in libvulkan1 libvulkan-dev spirv-headers glslc libshaderc1 libglvnd0 libegl1; do
  compgen -G "$debs/${p}_*.deb" >/dev/null || die "no ${p}_*.deb in $debs: fetch them with scripts/offline/vulkan-debs.sh DIR where Debian's archive answers"
done

ctx=$(mktemp -d /var/tmp/rigbench-vulkan-base.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/root/etc"
pkgs=""
for d in "$debs"/*.deb; do
  dpkg-deb -x "$d" "$ctx/root"
  name=$(dpkg-deb -f "$d" Package)
  version=$(dpkg-deb -f "$d" Version)
  pkgs="$pkgs${pkgs:+, }\"$name\": {\"version\": \"$version\", \"sha256\": \"$(sha256sum "$d" | cut -d' ' -f1)\"}"
done
# The toolchain base's own record, kept inside this one.
below=$(podman run --rm --entrypoint cat "$from" /etc/rigbench-base.json 2>/dev/null | tr -d '\n' || true)
[ -n "$below" ] || below=null
from_id=$(podman image inspect --format '{{.Id}}' "$from")
cat > "$ctx/root/etc/rigbench-base.json" <<JSON
{"made_by": "scripts/offline/vulkan-base.sh", "from": "$from", "from_id": "$from_id", "from_made_from": $below, "packages": {$pkgs}, "made_at": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"}
JSON
# Debian's packages put their libraries under usr/lib/x86_64-linux-gnu, which
# the dynamic loader of Debian and Ubuntu searches without a cache.
# Only usr/ and etc/ (no "./" entry that would set the root's own mode).
tar -C "$ctx/root" -cf "$ctx/root.tar" usr etc
cat > "$ctx/Containerfile" <<CF
FROM $from
ADD root.tar /
CF
podman build -q -t "$tag" -f "$ctx/Containerfile" "$ctx" >/dev/null
log "made $tag from $from with $(find "$debs" -name '*.deb' | wc -l) packages: $(cat "$ctx/root/etc/rigbench-base.json")"
