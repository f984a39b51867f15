#!/usr/bin/env bash
# The lent GPU machine's side of each device call, run there from the
# repository's root. Each call stages what the carried folder CARRY
# (default .h200v) holds and the stage lacks (debs-podman/, debs-vulkan/, the trimmed source
# archive, rigbench.gz or a rigbench binary) into /root/rigbench-stage, installs rigbench,
# copies scripts/ and plans/ to /root/h200v-repo and starts PIPELINE (a script
# of scripts/offline/ that takes STAGE_DIR OUT_DIR, such as h200-study.sh) in a
# session of its own, so that it outlives the call. A call that carries
# .h200pN/part-* folders hands those parts over to STAGE_DIR/parts (whole, by a
# rename). Every call then waits until the pipeline ends or LIMIT_S seconds
# pass, prints its steps and the GPU's state, and leaves in $OUT the pipeline's
# logs and run directories (no models, no bundles) as NAME.tar.gz and its
# bundles beside. The pipeline's own variables (RUNS, RUN_FLAGS, STEPS, …)
# pass through the first call's environment.
# Usage: PIPELINE=h200-study.sh [CARRY=.h200v] bash scripts/offline/drive.sh LIMIT_S
set -u
limit=${1:?usage: PIPELINE=NAME.sh bash scripts/offline/drive.sh LIMIT_S}
pipeline=${PIPELINE:?name the pipeline: PIPELINE=h200-study.sh}
name=${pipeline%.sh}
t0=$SECONDS
stage=/root/rigbench-stage
out=/root/$name-out
repo=/root/h200v-repo
pid=/root/$name.pid
carry=${CARRY:-.h200v}
mkdir -p "$stage/parts" "$repo"
# What the carried folder holds and the stage lacks, by a rename once whole: a
# later call may bring what the first call's 64 MiB had no room for (the
# source archive, which the builds want only after the host is prepared).
for f in debs-podman debs-vulkan llama-src-0c1e57098-trimmed.tar.gz; do
  if [ -e "$carry/$f" ] && [ ! -e "$stage/$f" ]; then
    cp -r "$carry/$f" "$stage/.$f.tmp" && mv "$stage/.$f.tmp" "$stage/$f" && echo "$f staged from $carry"
  fi
done
if [ ! -e "$pid" ]; then
  echo "staging $carry, starting $pipeline"
  if [ -f "$carry/rigbench.gz" ]; then
    gzip -dc "$carry/rigbench.gz" > /usr/local/bin/rigbench && chmod 755 /usr/local/bin/rigbench || exit 1
  else
    install -m755 "$carry/rigbench" /usr/local/bin/rigbench || exit 1
  fi
  cp -r scripts plans "$repo/"
  setsid nohup bash "$repo/scripts/offline/$pipeline" "$stage" "$out" \
    > "/root/$name.console" 2>&1 < /dev/null &
  echo $! > "$pid"
fi
for p in .h200p*/part-*; do
  [ -f "$p" ] || continue
  n=$(basename "$p")
  [ -f "$stage/parts/$n" ] && continue
  cp "$p" "$stage/parts/.$n.tmp" && mv "$stage/parts/.$n.tmp" "$stage/parts/$n" && echo "part $n handed over"
done
alive() { kill -0 "$(cat "$pid")" 2>/dev/null; }
while [ $((SECONDS - t0)) -lt "$limit" ] && alive; do sleep 5; done
echo "== $pipeline (after $((SECONDS - t0)) s of this call; $(date -u +%T)$(alive || echo '; ended'))"
cat "$out/pipeline.log" 2>/dev/null
tail -3 "/root/$name.console" 2>/dev/null
nvidia-smi --query-gpu=name,memory.used,utilization.gpu,power.draw,clocks.sm --format=csv,noheader 2>&1
df -h / | tail -1
for f in "$out"/*build*.log "$out"/run-*.log; do
  [ -f "$f" ] && { echo "== $f"; tail -4 "$f"; }
done
tar -czf "$OUT/$name.tar.gz" --exclude='*.gguf' --exclude='*.tar.gz' -C / "${out#/}" "root/$name.console" 2>/dev/null
for f in "$out"/*.tar.gz; do [ -f "$f" ] && cp "$f" "$OUT/"; done
ls -la "$OUT"
