#!/usr/bin/env bash
# Issue 29's decision trials and warm-up A/B on the lent GPU machine (no
# network, no Podman): the host prepared as h200-study.sh does, the cuda and
# vulkan images built side by side, then plans/h200-aa.toml three times (A/A:
# "same" within ±2 % in at most 10 minutes, never "faster" or "slower"),
# plans/h200-q8k.toml (a real difference decided within 10 minutes) and
# plans/h200-warmup.toml (short against full warm-ups), each run bundled as it
# ends; STEPS=cacheram runs plans/h200-cacheram.toml (llama-server's host prompt
# cache on against off: the short prompts' cost after a full request) and
# STEPS=synreal plans/h200-synreal.toml (the synthetic gemma3-270m against the
# real model in Q4_K_M, whose PARTS parts drive.sh hands over, as h200-study.sh
# takes them); STEPS=tax the container tax (scripts/offline/tax.sh: the cuda image's
# llama-bench on the host against in its container, ABBA, on the dense model
# the plans made); STEPS=taxvk the same on Vulkan (tax.sh's tax_pairs_vulkan, with
# BACKENDS including vulkan). STAGE_DIR must be /root/rigbench-stage (the plans name the source
# archive there) and hold debs-podman/, debs-vulkan/ and
# llama-src-0c1e57098-trimmed.tar.gz; rigbench is on PATH. STEPS names what to
# run (default "aa1 aa2 aa3 q8k warmup"), BACKENDS which images to build
# (default "cuda vulkan"), RUN_FLAGS flags for every run (`--backend vulkan`
# with BACKENDS=vulkan: the A/A and q8k plans on one backend). Steps and times go to
# OUT_DIR/pipeline.log, each step's output to OUT_DIR/NAME.log.
# Usage: [STEPS=…] [BACKENDS=…] [RUN_FLAGS=…] scripts/offline/h200-decisions.sh STAGE_DIR OUT_DIR
set -uo pipefail
stage=${1:?usage: h200-decisions.sh STAGE_DIR OUT_DIR}
out=${2:?usage: h200-decisions.sh STAGE_DIR OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
plans="$here/../../plans"
read -r -a run_flags <<< "${RUN_FLAGS:-}"
mkdir -p "$out"
# shellcheck source=scripts/offline/steps.sh
. "$here/steps.sh"
# shellcheck source=scripts/offline/tax.sh
. "$here/tax.sh"

run host "$here/gpu-host.sh" "$stage/debs-podman" || exit 1
case " ${BACKENDS:-cuda vulkan} " in
  *" vulkan "*) run vulkan-base "$here/vulkan-base.sh" "$stage/debs-vulkan" || exit 1 ;;
esac
# shellcheck disable=SC2086 # the backends are meant as words
start_builds "$plans/h200-warmup.toml" ${BACKENDS:-cuda vulkan}
# The dense model made from its recipe while the images build (the runs find it).
run models rigbench model prepare --plan "$plans/h200-aa.toml"
wait_builds || exit 1
for s in ${STEPS:-aa1 aa2 aa3 q8k warmup}; do
  if [ "$s" = synreal ]; then
    # The real Gemma 3 270M in parts (drive.sh hands them over), then its twin's
    # recipe made (Q4_K_M waits for the run's images).
    join_parts "$stage" "${PARTS:-6}" a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 \
      "$stage/gemma-3-270m-q4_k_m.gguf" 600 || continue
    run models-synreal rigbench model prepare --plan "$plans/h200-synreal.toml"
  fi
  if [ "$s" = tax ]; then
    image=$(built_cuda_image)
    dense=$(grep -o '/[^ ]*gemma3-27b[^ ]*\.gguf' "$out/models.log" | head -n1)
    if [ -n "$image" ] && [ -n "$dense" ]; then tax_pairs "$image" "$dense"; else step "tax: no cuda image ($image) or dense model ($dense)"; fi
    continue
  fi
  if [ "$s" = taxvk ]; then
    tax_vulkan_step "$stage"
    continue
  fi
  plan="$plans/h200-${s%[0-9]}.toml"
  run "run-$s" rigbench run --plan "$plan" "${run_flags[@]}" --out "$out/$s"
  run "bundle-$s" rigbench bundle "$out/$s" -o "$out/h200-$s.tar.gz"
done
nvidia-smi -q > "$out/nvidia-smi-q.txt" 2>&1
step "done"
