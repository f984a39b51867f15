# Sourced by the GPU-host pipelines (h200-pipeline.sh, h200-vulkan.sh): each
# step logged with its time since the start to $out/pipeline.log, each command's
# output to $out/NAME.log. Needs `out` set and the folder made.
# shellcheck shell=bash
: "${out:?steps.sh needs out set}"
t0=$SECONDS
step() { printf '[%5ds] %s\n' "$((SECONDS - t0))" "$*" >> "$out/pipeline.log"; }
run() { # NAME CMD...: runs CMD, its output to NAME.log, its status to the log
  local name=$1 rc
  shift
  step "start $name: $*"
  "$@" > "$out/$name.log" 2>&1
  rc=$?
  step "end $name: exit $rc"
  return "$rc"
}
