#!/usr/bin/env bash
# The study's two models, synthetic and at full size, on an NVIDIA GPU host that
# reaches no network (the lent H200), without Podman: rigbench makes gemma3-27b
# in Q8_0 and qwen3moe-30b-a3b in Q4_0 there on every core, and each file's
# sha256 is checked against the one made on the development machine (the same
# recipe, the same bytes, on another machine and thread count). While they are
# written, llama.cpp is built from the trimmed source twice, with CUDA and with
# Vulkan (Debian trixie's loader, headers, SPIR-V headers and glslc carried as
# packages, unpacked under the work folder, not over the host); then on each
# backend and model llama-bench runs pp512 and tg128, and a llama-server
# generation asks for each token's log-probability, which must be a finite
# number (null in llama-server's JSON where a NaN or infinity reached the
# logits).
# Usage: scripts/offline/synthetic-gpu.sh STAGE_DIR OUT_DIR
# STAGE_DIR holds rigbench (the binary), llama-src.tar.gz
# (scripts/offline/source.sh) and debs/ (glslc libshaderc1 libvulkan-dev
# libvulkan1 spirv-headers libglvnd0 from trixie; without it, CUDA only).
# SYNTH_BACKENDS picks the builds (default "cuda vulkan"). Every step is
# logged with its time to OUT_DIR/steps.log.
set -uo pipefail
stage=${1:?usage: synthetic-gpu.sh STAGE_DIR OUT_DIR}
out=${2:?usage: synthetic-gpu.sh STAGE_DIR OUT_DIR}
commit=0c1e57098bba43ac29e6e3b677cdceebdd22334f
work=${SYNTH_WORK:-/tmp/synthetic-gpu}
mkdir -p "$out" "$work/models"
t0=$SECONDS
step() { printf '[%5ds] %s\n' "$((SECONDS - t0))" "$*" >> "$out/steps.log"; }
export PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:/usr/local/nvidia/bin:$PATH
vk=$work/vk
vklib=$vk/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=/usr/local/nvidia/lib64:$vklib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json

# The models and the sha256 each had when made on the development machine.
models="gemma3-27b:q8_0:366bbe3b59d1f206920a8648e2be1085c179471d533449603873fd5e79b22e3a
qwen3moe-30b-a3b:q4_0:bf17f207107d421b9c132c261bf8169f94acacc108165a547090321036d958bc"

step "start: $(nproc) CPUs, $(df -h "$work" | awk 'NR==2 {print $4}') free in $work"
mkdir -p "$work/src"
tar -xzf "$stage/llama-src.tar.gz" -C "$work/src"
common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF
  -DLLAMA_BUILD_COMMIT="$commit" -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF)
chosen=${SYNTH_BACKENDS:-cuda vulkan}
[ "$chosen" = "${chosen/ /}" ] && jobs=$(nproc) || jobs=$(($(nproc) / 2))
build() { # NAME CMAKE_FLAG...
  local name=$1
  shift
  cmake -S "$work/src/llama.cpp" -B "$work/build-$name" "${common[@]}" "$@" &&
    cmake --build "$work/build-$name" -j "$jobs" --target llama-bench llama-server
}
pids=""
backends=""
if [[ " $chosen " == *" cuda "* ]]; then
  build cuda -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 > "$out/build-cuda.log" 2>&1 &
  pids=$!
  backends=cuda
fi
if [[ " $chosen " == *" vulkan "* ]] && [ -d "$stage/debs" ]; then
  for d in "$stage"/debs/*.deb; do dpkg -x "$d" "$vk"; done
  build vulkan -DGGML_VULKAN=ON -DCMAKE_PREFIX_PATH="$vk/usr" \
    -DVulkan_INCLUDE_DIR="$vk/usr/include" -DVulkan_LIBRARY="$vklib/libvulkan.so" \
    -DVulkan_GLSLC_EXECUTABLE="$vk/usr/bin/glslc" > "$out/build-vulkan.log" 2>&1 &
  pids="$pids $!"
  backends="$backends vulkan"
fi
step "builds started: $backends ($jobs jobs each)"

while IFS=: read -r shape quant want; do
  f="$work/models/$shape-$quant.gguf"
  /usr/bin/time -v "$stage/rigbench" --quiet --cache-dir "$work/cache" model synth \
    --shape "$shape" --quant "$quant" -o "$f" < /dev/null > "$out/$shape.synth.txt" 2> "$out/$shape.time.txt"
  got=$(sed -n 's/^sha256: //p' "$out/$shape.synth.txt")
  step "made $shape $quant: $(grep '^wrote' "$out/$shape.synth.txt"); sha256 $got ($([ "$got" = "$want" ] && echo "the same as on the development machine" || echo "NOT $want")); $(grep -E 'Maximum resident' "$out/$shape.time.txt" | tr -s ' \t' ' ')"
done <<< "$models"

for p in $pids; do
  wait "$p"
  step "a build ended: exit $?"
done
for b in $backends; do
  bin=$work/build-$b/bin
  "$bin/llama-bench" --list-devices > "$out/devices-$b.txt" 2>&1
  dev=$(grep -m1 -E '^ *(CUDA|Vulkan)0' "$out/devices-$b.txt")
  step "$b devices: ${dev:-none}"
  # No device: llama.cpp would fall back to the CPU, which is no result of $b.
  if [ -z "$dev" ]; then
    VK_LOADER_DEBUG=error "$bin/llama-bench" --list-devices > "$out/devices-$b-debug.txt" 2>&1
    step "$b: no GPU device, skipped ($(grep -m1 ERROR "$out/devices-$b-debug.txt"))"
    continue
  fi
  while IFS=: read -r shape quant _; do
    f="$work/models/$shape-$quant.gguf"
    "$bin/llama-bench" -m "$f" -ngl 99 -fa 1 -p 512 -n 128 -r 3 -o json < /dev/null \
      > "$out/$b-$shape.bench.json" 2> "$out/$b-$shape.bench.log"
    step "$b llama-bench $shape: exit $? $(grep -o '"avg_ts": [0-9.]*' "$out/$b-$shape.bench.json" | tr '\n' ' ')"
    "$bin/llama-server" -m "$f" -ngl 99 -fa on -c 4096 --port 18181 --host 127.0.0.1 < /dev/null \
      > "$out/$b-$shape.server.log" 2>&1 &
    srv=$!
    for _ in $(seq 1 300); do
      curl -sf 127.0.0.1:18181/health > /dev/null 2>&1 && break
      sleep 1
    done
    curl -s 127.0.0.1:18181/completion -d '{"prompt": [2, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309, 310, 311, 312, 313, 314], "n_predict": 64, "temperature": 0, "top_k": 1, "ignore_eos": true, "n_probs": 1, "return_tokens": true, "cache_prompt": false}' \
      > "$out/$b-$shape.completion.json"
    nulls=$(grep -o '"logprob":null' "$out/$b-$shape.completion.json" | wc -l)
    numbers=$(grep -o '"logprob":-\?[0-9][0-9.e+-]*' "$out/$b-$shape.completion.json" | wc -l)
    step "$b llama-server $shape: $numbers finite log-probabilities, $nulls null; $(grep -o '"predicted_per_second":[0-9.]*' "$out/$b-$shape.completion.json")"
    kill "$srv"
    wait "$srv" 2> /dev/null
  done <<< "$models"
done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$out/gpu.txt" 2>&1
step "done"
