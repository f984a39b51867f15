#!/usr/bin/env bash
# The H200 run, end to end, on a host prepared by scripts/offline/gpu-host.sh:
# builds the cpu and cuda images of plans/h200-cuda.toml (while the model's parts
# are still arriving), joins and verifies the model, runs the plan twice (a and
# b), compares (cuda against cpu, each variant against the default, b against
# a) and bundles each run. Every step is logged with its time to
# $OUT_DIR/pipeline.log, and a run is bundled as soon as it ends, so whatever
# finished can be fetched even if the machine is taken back later.
# Usage: scripts/offline/h200-pipeline.sh STAGE_DIR OUT_DIR
# (STAGE_DIR holds the source archive and parts/part-* of the model.)
# RIGBENCH_H200_RUNS names the runs (default "a b"); a run other than a and b
# (a later session's) is also compared with the published run
# results/h200-2026-12/a.
set -uo pipefail
stage=${1:?usage: h200-pipeline.sh STAGE_DIR OUT_DIR}
out=${2:?usage: h200-pipeline.sh STAGE_DIR OUT_DIR}
repo=$(cd "$(dirname "$0")/../.." && pwd)
plan="$repo/plans/h200-cuda.toml"
model="$stage/gemma-3-270m-q4_k_m.gguf"
want=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
mkdir -p "$out"
# shellcheck source=scripts/offline/steps.sh
. "$(dirname "$0")/steps.sh"

run build rigbench build --plan "$plan"
join_parts "$stage" 5 "$want" "$model" 600 || exit 1
for r in ${RIGBENCH_H200_RUNS:-a b}; do
  run "run-$r" rigbench run --plan "$plan" --out "$out/$r"
  run "bundle-$r" rigbench bundle "$out/$r" -o "$out/h200-$r.tar.gz"
  run "cmp-$r-backend" rigbench compare "$out/$r" --within backend cpu cuda
  if [ "$r" = a ]; then
    run "cmp-a-q8k" rigbench compare "$out/a" --within variant default q8k
    run "cmp-a-nographs" rigbench compare "$out/a" --within variant default nographs
  fi
  case "$r" in
    a | b) ;;
    *) run "cmp-published-$r" rigbench compare "$repo/results/h200-2026-12/a" "$out/$r" ;;
  esac
done
if [ -d "$out/a" ] && [ -d "$out/b" ]; then
  run "cmp-a-b" rigbench compare "$out/a" "$out/b"
fi
step "done"
