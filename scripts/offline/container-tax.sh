#!/usr/bin/env bash
# The container tax on the GPU (issue 29, item 1) alone: the host prepared, the
# cuda image and llama-bench on the host (scripts/offline/tax.sh's host_build)
# built side by side while the study's dense model is made, then tax.sh's
# interleaved ABBA pairs of the host's llama-bench against the image's.
# h200-decisions.sh runs the same as its step `tax`. Steps and times go to
# OUT_DIR/pipeline.log.
# STAGE_DIR holds debs-podman/ and llama-src-0c1e57098-trimmed.tar.gz; rigbench
# is on PATH. PAIRS (default 3) ABBA pairs, REPS (default 3) repetitions each.
# Tried once on an H100 (2026-12-06), cut by the lease before llama-bench: the
# host's CMake found CUDA 13.0.88 with GCC 13.3.0 (the image's compiler) and
# compiled (56 % after 5.3 min); beside it the image's build was at 47 % after
# 5 min, so the two take about 10-11 min side by side; the dense model was made
# in 76 s on 4 threads meanwhile (sha256 366bbe3b…, as on every machine).
# Usage: [PAIRS=N] [REPS=N] scripts/offline/container-tax.sh STAGE_DIR OUT_DIR
set -uo pipefail
stage=${1:?usage: container-tax.sh STAGE_DIR OUT_DIR}
out=${2:?usage: container-tax.sh STAGE_DIR OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
plan="$here/../../plans/h200-study.toml"
model=/root/tax/gemma3-27b-q8_0.gguf
mkdir -p "$out" /root/tax
# shellcheck source=scripts/offline/steps.sh
. "$here/steps.sh"
# shellcheck source=scripts/offline/tax.sh
. "$here/tax.sh"

run host "$here/gpu-host.sh" "$stage/debs-podman" || exit 1
run build-cuda rigbench build --plan "$plan" --backend cuda &
b1=$!
run host-build host_build &
b2=$!
run synth rigbench model synth --shape gemma3-27b --quant q8_0 --threads 4 --out "$model" &
b3=$!
failed=0
for p in "$b1" "$b2" "$b3"; do wait "$p" || failed=1; done
[ "$failed" = 0 ] || { step "a build or the model failed"; exit 1; }
image=$(built_cuda_image)
[ -n "$image" ] || { step "no cuda image tag in build-cuda.log"; exit 1; }
tax_pairs "$image" "$model" /src/build/bin/llama-bench
nvidia-smi -q > "$out/nvidia-smi-q.txt" 2>&1
step "done"
