#!/usr/bin/env bash
# Vulkan on an NVIDIA GPU, end to end, on a host with no network and no Podman
# (the lent H200 machine): Podman from the packages carried in, the host-made
# toolchain base (gpu-host.sh, cuda-base.sh) and the Vulkan base on it
# (vulkan-base.sh), what the host has for Vulkan (inventory.txt) and what
# `rigbench doctor` makes of it, then plans/h200-vulkan.toml: its cpu, cuda and
# vulkan images built there side by side, one run, its bundle, and the comparisons cuda
# against vulkan, cpu against each. Every step is logged with its time to
# OUT_DIR/pipeline.log; each step's output is OUT_DIR/NAME.log.
# STAGE_DIR (it must be /root/rigbench-stage: the plan names the source archive
# there) holds debs-podman/ (see docs/offline-gpu-hosts.md), debs-vulkan/
# (scripts/offline/vulkan-debs.sh) and llama-src-0c1e57098-trimmed.tar.gz
# (scripts/offline/source.sh); rigbench is on PATH.
# BACKENDS (default "cpu cuda vulkan") names the backends built and run, and
# RUN_FLAGS adds flags to the run (e.g. "--rounds 1"), for a short device lease.
# Usage: [BACKENDS=…] [RUN_FLAGS=…] scripts/offline/h200-vulkan.sh STAGE_DIR OUT_DIR
set -uo pipefail
stage=${1:?usage: h200-vulkan.sh STAGE_DIR OUT_DIR}
out=${2:?usage: h200-vulkan.sh STAGE_DIR OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
plan="$here/../../plans/h200-vulkan.toml"
backends=${BACKENDS:-cpu cuda vulkan}
read -r -a run_flags <<< "${RUN_FLAGS:-}"
has() { [[ " $backends " == *" $1 "* ]]; }
mkdir -p "$out"
# shellcheck source=scripts/offline/steps.sh
. "$(dirname "$0")/steps.sh"

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,pci.bus_id --format=csv 2>&1
  ls -la /dev/nvidia* /dev/dri 2>&1
  ls -la /usr/local/nvidia/lib64 2>&1
  for d in /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d \
           /usr/local/nvidia/share/vulkan/icd.d /etc/glvnd/egl_vendor.d /usr/share/glvnd/egl_vendor.d \
           /usr/local/nvidia/share/glvnd/egl_vendor.d /etc/cdi /var/run/cdi; do
    for f in "$d"/*; do [ -f "$f" ] && { echo "== $f"; cat "$f"; }; done
  done
  ldconfig -p | grep -i 'libvulkan\|libGLdispatch\|libGLX\|libEGL' || echo "(no Vulkan loader or glvnd in ldconfig's cache)"
} > "$out/inventory.txt" 2>&1

run host "$here/gpu-host.sh" "$stage/debs-podman" || exit 1
run vulkan-base "$here/vulkan-base.sh" "$stage/debs-vulkan" || exit 1
run doctor rigbench doctor
run doctor-json rigbench doctor --json
# The three images build side by side (each build is mostly one compiler at a
# time per file; 16 cores are shared better so): each its own log and time.
# shellcheck disable=SC2086 # the backends are meant as words
start_builds "$plan" $backends
wait_builds || exit 1
run run rigbench run --plan "$plan" --backend "${backends// /,}" "${run_flags[@]}" --out "$out/run"
run bundle rigbench bundle "$out/run" -o "$out/h200-vulkan.tar.gz"
run cmp-cuda-vulkan rigbench compare "$out/run" --within backend cuda vulkan --html "$out/cmp-cuda-vulkan.html"
has cpu && run cmp-cpu-cuda rigbench compare "$out/run" --within backend cpu cuda
has cpu && run cmp-cpu-vulkan rigbench compare "$out/run" --within backend cpu vulkan
nvidia-smi -q > "$out/nvidia-smi-q.txt" 2>&1
step "done"
