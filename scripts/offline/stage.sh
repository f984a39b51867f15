#!/usr/bin/env bash
# Makes, on a machine with network, everything scripts/offline/drive.sh carries
# to a GPU host with none: in STAGE_DIR (default .h200v, which .git/info/exclude
# should name) Debian bookworm's Podman packages (debs-podman/, podman-debs.sh,
# 20 MB), the Vulkan packages (debs-vulkan/, vulkan-debs.sh), the
# trimmed llama.cpp archive (source.sh, 12 MB, sha256 b955fa94…) and a stripped,
# gzipped release rigbench of this checkout (rigbench.gz, 7 MB); and the real Gemma 3 270M (from
# rigbench's cache, else fetched by `rigbench run` of the default plan's model)
# split into PARTS_DIR_PREFIX1… folders of one 45 MiB part each (default
# .h200p1 … .h200p6: a device call carries 64 MiB, the working tree of 13 MB
# included). What exists is kept. Prints
# what each call should carry.
# Usage: scripts/offline/stage.sh [STAGE_DIR] [PARTS_DIR_PREFIX]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
stage=${1:-$repo/.h200v}
parts=${2:-$repo/.h200p}
cache=${RIGBENCH_CACHE:-$HOME/.cache/rigbench}
mkdir -p "$stage"
log() { printf 'stage: %s\n' "$*" >&2; }

[ -d "$stage/debs-podman" ] || "$here/podman-debs.sh" "$stage/debs-podman"
[ -d "$stage/debs-vulkan" ] || "$here/vulkan-debs.sh" "$stage/debs-vulkan"

archive="$stage/llama-src-0c1e57098-trimmed.tar.gz"
if [ ! -f "$archive" ]; then
  sdist="$cache/sources/832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e.tar.gz"
  if [ ! -f "$sdist" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && pip download -q --no-deps --no-binary llama-cpp-python llama-cpp-python==0.3.36)
    sdist=$(ls "$tmp"/llama_cpp_python-0.3.36.tar.gz)
  fi
  "$here/source.sh" "$archive" "$sdist"
fi

log "rigbench (release, stripped) of $(git -C "$repo" describe --always --dirty)"
(cd "$repo" && cargo build --release -q)
target=$(cd "$repo" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
# Stripped and gzipped (19 MB → 7 MB): the first call's 64 MiB holds the
# working tree too, which grew past what a plain binary leaves room for.
install -m755 "$target/release/rigbench" "$stage/rigbench"
strip "$stage/rigbench"
gzip -9 -f "$stage/rigbench"

model=$(find "$cache/models" -name gemma-3-270m-q4_k_m.gguf 2>/dev/null | head -n1)
if [ -z "$model" ]; then
  log "the real Gemma 3 270M is not in $cache/models: fetch it with rigbench run (the default plan), then run this again"
  exit 1
fi
if [ ! -f "${parts}1/part-0" ]; then
  tmp=$(mktemp -d)
  split -b 45M -d -a 1 "$model" "$tmp/part-"
  i=1
  for p in "$tmp"/part-*; do
    mkdir -p "$parts$i" && mv "$p" "$parts$i/"
    i=$((i + 1))
  done
  rmdir "$tmp"
fi
# A device call carries the working tree and what it names within 64 MiB. Where
# the tree (results/ grows) and the whole stage do not fit, STAGE_DIRa holds
# the packages and rigbench for the first call and STAGE_DIRb the source
# archive for the second (drive.sh stages what a later call brings; the
# builds want the archive only after the host is prepared). Hard links: no
# second copy here.
tree_kib=$(git -C "$repo" ls-files -z | (cd "$repo" && xargs -0 du -k --apparent-size 2>/dev/null) | awk '{s += $1} END {print s + 0}')
stage_kib=$(du -sk --apparent-size "$stage" | cut -f1)
if [ $((tree_kib + stage_kib)) -gt $((62 * 1024)) ]; then
  rm -rf "${stage}a" "${stage}b" && mkdir -p "${stage}a" "${stage}b"
  cp -al "$stage/debs-podman" "$stage/debs-vulkan" "$stage/rigbench.gz" "${stage}a/"
  cp -al "$archive" "${stage}b/"
  log "the tree ($((tree_kib / 1024)) MiB) and $(basename "$stage") ($((stage_kib / 1024)) MiB) exceed a call's 64 MiB:"
  log "carry [\"$(basename "$stage")a\"] with CARRY=$(basename "$stage")a in the first call, [\"$(basename "$stage")b\"] with CARRY=$(basename "$stage")b in the second, then one [\"$(basename "$parts")N\"] a call:"
  du -sh "${stage}a" "${stage}b" "$parts"* >&2
else
  log "carry [\"$(basename "$stage")\"] in the first call, then one [\"$(basename "$parts")N\"] a call:"
  du -sh "$stage" "$parts"* >&2
fi
