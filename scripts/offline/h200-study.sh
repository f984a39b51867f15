#!/usr/bin/env bash
# Issue 29's run on the lent GPU machine (no network, no Podman):
# plans/h200-study.toml (cuda against vulkan on the study's two architectures at
# full size and the real Gemma 3 270M beside its synthetic twin, cpu as its
# baseline) built and run twice
# (a and b, new server starts), each bundled as soon as it ends, compared
# within (cuda against vulkan, q8_0 K against f16, graphs off against on,
# synthetic against real) and
# with each other, and a reference made of a that b is checked against.
# The host is prepared as h200-vulkan.sh does (Podman, the cuda and vulkan
# bases); the images build side by side while the model's parts arrive and
# the synthetic models are made (`rigbench model prepare`). BACKENDS names
# the images to build (default "cpu cuda vulkan"; a run limited with
# RUN_FLAGS="--backend cuda --backend vulkan" needs only those two).
# STAGE_DIR (it must be /root/rigbench-stage: the plan names the source
# archive and the model there) holds debs-podman/, debs-vulkan/,
# llama-src-0c1e57098-trimmed.tar.gz and parts/part-* of
# gemma-3-270m-q4_k_m.gguf (`split -b 45M`: a device call carries 64 MiB),
# PARTS of them (default 6); rigbench is on PATH. Every step is logged with
# its time to OUT_DIR/pipeline.log, each step's output to OUT_DIR/NAME.log.
# RUNS names the runs (default "a b"); RUN_FLAGS adds flags to each (e.g.
# "--rounds 2" where the lease is short: say so beside the figures).
# Run a ran on an H100 (results/h100-study-2026-12, with RUNS=a
# RUN_FLAGS="--rounds 2 --backend cuda --backend vulkan" BACKENDS="cuda
# vulkan"): host 97 s, both images side by side in 490 s while the models were
# made (91 s), the run 16.5 min, cuda's llama-bench 40 s; with the machine's
# start and the staging that is the whole 30-minute lease (it ended in
# vulkan's llama-bench).
# A full run b does not fit a 30-minute lease (run a's needed about 1750 s of
# it and lost vulkan's llama-bench): the small models have their own result
# (results/h100-warmup-synreal-2026-12), so run b leaves them out with
# EXCLUDE_MODELS="gemma-3-270m-q4_k_m synthetic-gemma3-270m" (no parts to
# carry; about 1400 s with the machine's start: host 75 s, images 315 s, the
# big models' cells about 900 s, llama-bench about 100 s) and is compared
# with run a on the cells both have.
# TAX=vulkan adds, after the runs, the container tax on Vulkan
# (scripts/offline/tax.sh's tax_pairs_vulkan: the vulkan image's llama-bench
# on the host against in its container, ABBA, on the dense model the run used).
# Usage: [RUNS=…] [RUN_FLAGS=…] [PARTS=N] [EXCLUDE_MODELS=…] [TAX=vulkan] scripts/offline/h200-study.sh STAGE_DIR OUT_DIR
set -uo pipefail
stage=${1:?usage: h200-study.sh STAGE_DIR OUT_DIR}
out=${2:?usage: h200-study.sh STAGE_DIR OUT_DIR}
here=$(cd "$(dirname "$0")" && pwd)
plan="$here/../../plans/h200-study.toml"
model="$stage/gemma-3-270m-q4_k_m.gguf"
want=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
read -r -a run_flags <<< "${RUN_FLAGS:-}"
mkdir -p "$out"
# EXCLUDE_MODELS: models left out of this lease's runs: a copy of the plan
# without their [[models]] entries (with their [[models.sources]]) and the
# [[exclude]] rules that name them (the manifest records the plan as run). For
# a short lease with room only for the small model's cells. (An [[exclude]]
# rule alone would do with a rigbench of fe76edb or later, which makes no model
# that no cell uses; the binary staged in .h200v, fd0097e, is older.)
if [ -n "${EXCLUDE_MODELS:-}" ]; then
  # shellcheck disable=SC2086 # the names are meant as words
  python3 - "$plan" "$out/h200-study.toml" $EXCLUDE_MODELS <<'PY' || exit 1
import re, sys
src, dst, *names = sys.argv[1:]
named = re.compile(r'(?m)^(name|model) = "(%s)"' % "|".join(map(re.escape, names)))
kept, dropping = [], False
for c in re.split(r"(?m)^(?=\[)", open(src).read()):
    if c.startswith("[[models.sources]]"):
        drop = dropping
    else:
        drop = c.startswith(("[[models]]", "[[exclude]]")) and bool(named.search(c))
        dropping = drop and c.startswith("[[models]]")
    if not drop:
        kept.append(c)
open(dst, "w").write("".join(kept))
PY
  plan="$out/h200-study.toml"
fi
# shellcheck source=scripts/offline/steps.sh
. "$here/steps.sh"
# shellcheck source=scripts/offline/tax.sh
. "$here/tax.sh"

run host "$here/gpu-host.sh" "$stage/debs-podman" || exit 1
run vulkan-base "$here/vulkan-base.sh" "$stage/debs-vulkan" || exit 1
run doctor rigbench doctor
run dry-run rigbench run --plan "$plan" --dry-run "${run_flags[@]}"
read -r -a backends <<< "${BACKENDS:-cpu cuda vulkan}"
start_builds "$plan" "${backends[@]}"
# The real model's parts, unless this lease's runs leave it out (its twin
# needs its vocabulary: leave both out together).
case " ${EXCLUDE_MODELS:-} " in
  *" gemma-3-270m-q4_k_m "*) step "the real Gemma 3 270M left out: no parts awaited" ;;
  *) join_parts "$stage" "${PARTS:-6}" "$want" "$model" 1200 || exit 1 ;;
esac
# The synthetic models made while the images build (the run finds them).
run models rigbench model prepare --plan "$plan"
wait_builds || exit 1
for r in ${RUNS:-a b}; do
  run "run-$r" rigbench run --plan "$plan" "${run_flags[@]}" --out "$out/$r"
  run "bundle-$r" rigbench bundle "$out/$r" -o "$out/h200-study-$r.tar.gz"
  run "cmp-$r-cuda-vulkan" rigbench compare "$out/$r" --within backend cuda vulkan --html "$out/cmp-$r-cuda-vulkan.html"
  run "cmp-$r-q8k" rigbench compare "$out/$r" --within variant f16 q8k
  run "cmp-$r-nographs" rigbench compare "$out/$r" --within variant f16 nographs
  case " ${backends[*]} " in
    *" cpu "*) run "cmp-$r-cpu-cuda" rigbench compare "$out/$r" --within backend cpu cuda ;;
  esac
  run "cmp-$r-synthetic-real" rigbench compare "$out/$r" --within model gemma-3-270m-q4_k_m synthetic-gemma3-270m
done
if [ -d "$out/a" ] && [ -d "$out/b" ]; then
  run cmp-a-b rigbench compare "$out/a" "$out/b"
  run reference rigbench reference from-run "$out/a" -o "$out/h200-study.toml" --name h200-study \
    --title "The study's question on an NVIDIA GPU: cuda against vulkan, dense and MoE at full size"
  run cmp-b-reference rigbench compare "$out/b" --reference "$out/h200-study.toml"
fi
case " ${TAX:-} " in
  *" vulkan "*) tax_vulkan_step "$stage" ;;
esac
nvidia-smi -q > "$out/nvidia-smi-q.txt" 2>&1
step "done"
