#!/usr/bin/env bash
# A first look at the study's scale on an NVIDIA GPU, for planning the full run
# (plans/h200-study.toml) within a device lease: run after h200-vulkan.sh on the
# same machine (its cuda and vulkan images are reused: the same source, bases
# and build arguments), it makes the study's two synthetic models there
# (gemma3-27b Q8_0 and qwen3moe-30b-a3b Q4_0, at the study's context size of
# 65536) and runs cuda against vulkan on each, at the shortest and the longest
# of the study's prompt lengths, one round of two runs, with llama-bench's
# pp512/tg128: what fits, what fails, how long a server start and a cell take.
# The 8B model h200-vulkan.sh made is removed first (the host's disk holds
# 64 GB: images and both models must fit at once). Steps and times go to
# OUT_DIR/pipeline.log as in h200-vulkan.sh.
# Usage: scripts/offline/h200-scale-scout.sh STAGE_DIR OUT_DIR
set -uo pipefail
stage=${1:?usage: h200-scale-scout.sh STAGE_DIR OUT_DIR}
out=${2:?usage: h200-scale-scout.sh STAGE_DIR OUT_DIR}
mkdir -p "$out"
# shellcheck source=scripts/offline/steps.sh
. "$(dirname "$0")/steps.sh"
plan="$out/h200-scale-scout.toml"
cat > "$plan" <<EOF
name = "h200-scale-scout"
description = "The study's synthetic models at full size on an NVIDIA GPU, cuda against vulkan, ctx 65536, prompts 31 and 11205: a first look"

[bench]
runs = 2
rounds = 1
warmup_runs = 1
n_predict = 64
seed = 42
prompt_tokens = [31, 11205]
health_timeout_s = 600
stall_timeout_s = 180
request_timeout_s = 900

[source]
commit = "0c1e57098bba43ac29e6e3b677cdceebdd22334f"

[[source.archives]]
kind = "path"
path = "$stage/llama-src-0c1e57098-trimmed.tar.gz"
sha256 = "b955fa94b04e8b0c43d289f5d7184f28cffaa6af85705660cdeba90542a8fdb9"
dir = "llama.cpp"

[[models]]
name = "synthetic-gemma3-27b-q8_0"
synthetic = { shape = "gemma3-27b", quant = "q8_0" }

[[models]]
name = "synthetic-qwen3moe-30b-a3b-q4_0"
synthetic = { shape = "qwen3moe-30b-a3b", quant = "q4_0" }

[[backends]]
name = "cuda"
base_image = "auto"

[[backends]]
name = "vulkan"
base_image = "auto"
driver = "nvidia"

[[variants]]
name = "f16"
ctx_size = 65536
threads = "auto"
n_gpu_layers = "auto"
batch_size = 2048
ubatch_size = 512
flash_attn = "on"
cache_type_k = "f16"
cache_type_v = "f16"

[llama_bench]
n_prompt = [512]
n_gen = [128]
n_depth = [0]
repetitions = 2
timeout_s = 900
EOF
step "scout: $(df -h / | awk 'NR==2 {print $4}') free on / before removing the 8B model"
rm -f "${RIGBENCH_CACHE:-$HOME/.cache/rigbench}"/synthetic/*/llama3-8b-*.gguf
df -h / > "$out/df-before.txt"
run scout-run rigbench run --plan "$plan" --out "$out/run"
df -h / > "$out/df-after.txt"
run scout-bundle rigbench bundle "$out/run" -o "$out/h200-scale-scout.tar.gz"
run scout-cmp rigbench compare "$out/run" --within backend cuda vulkan
step "scout done"
