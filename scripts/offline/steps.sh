# Sourced by the GPU-host pipelines (h200-pipeline.sh, h200-vulkan.sh,
# h200-study.sh, h200-decisions.sh, container-tax.sh): each step logged with its
# time since the start to $out/pipeline.log, each command's output to
# $out/NAME.log; images built side by side; and a model carried in parts joined
# and checked. Needs `out` set and the folder made.
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
build_pids=()
start_builds() { # PLAN BACKEND...: each backend's image built in the background
  # (logged as build-BACKEND); wait_builds waits for them all
  local plan=$1 b
  shift
  for b in "$@"; do
    run "build-$b" rigbench build --plan "$plan" --backend "$b" &
    build_pids+=($!)
  done
}
wait_builds() { # fails, saying so, when any build started by start_builds did
  local p failed=0
  for p in "${build_pids[@]}"; do wait "$p" || failed=1; done
  build_pids=()
  [ "$failed" = 0 ] || { step "a build failed: see build-*.log"; return 1; }
}
join_parts() { # STAGE PARTS SHA256 MODEL WAIT_S: waits up to WAIT_S seconds for
  # PARTS files STAGE/parts/part-*, joins them into MODEL and checks its sha256
  local stage=$1 parts=$2 want=$3 model=$4 wait_s=$5 got
  step "waiting for the model's $parts parts"
  for _ in $(seq 1 "$wait_s"); do
    [ "$(find "$stage/parts" -name 'part-*' 2>/dev/null | wc -l)" -ge "$parts" ] && break
    sleep 1
  done
  cat "$stage"/parts/part-* > "$model"
  got=$(sha256sum "$model" | cut -d' ' -f1)
  step "model joined: sha256 $got ($( [ "$got" = "$want" ] && echo as pinned || echo NOT as pinned))"
  [ "$got" = "$want" ]
}
