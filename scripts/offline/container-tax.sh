#!/usr/bin/env bash
# The container tax on the GPU (issue 29, item 1): llama-bench built directly on
# the host from the same source archive, compiler, CUDA toolkit and CMake flags
# as the cuda image (whose base is a slice of this host's toolchain,
# cuda-base.sh), at the same paths (/src/llama.cpp, /src/build), against the
# image's own llama-bench, interleaved ABBA on the study's dense model
# (synthetic gemma3-27b Q8_0): pp512 and tg128, all layers on the GPU, flash
# attention on. The container gets what rigbench's passthrough gives it: the
# device nodes and the driver's library folder, read-only, where the image's
# LD_LIBRARY_PATH looks (/usr/local/nvidia/lib64). Each llama-bench's
# JSON goes to OUT_DIR/tax-N-{host,container}.json, both binaries' sha256 to
# OUT_DIR/binaries.txt, steps and times to OUT_DIR/pipeline.log.
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

# The image's flags (build-llama.sh's base set and the cuda backend's, as its
# build-info.json records them); the host build uses the same.
flags=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF
  -DLLAMA_BUILD_COMMIT=0c1e57098bba43ac29e6e3b677cdceebdd22334f -DLLAMA_BUILD_NUMBER=0
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF -DGGML_CUDA=ON
  -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_GRAPHS=ON -DGGML_CUDA_FA_ALL_QUANTS=OFF)
host_build() {
  # As build-llama.sh: nvcc where the toolkit put it, no compiler cache.
  CUDACXX=${CUDACXX:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
  CCACHE_DISABLE=1
  export CUDACXX CCACHE_DISABLE
  rm -rf /src/llama.cpp /src/build && mkdir -p /src/llama.cpp &&
    tar -xzf "$stage/llama-src-0c1e57098-trimmed.tar.gz" -C /src/llama.cpp --strip-components=1 llama.cpp &&
    if command -v make >/dev/null 2>&1; then gen=(); else gen=(-G Ninja); fi &&
    cmake -S /src/llama.cpp -B /src/build "${gen[@]}" "${flags[@]}" &&
    cmake --build /src/build --config Release -j "$(nproc)" --target llama-bench
}

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
image=$(grep -o 'localhost/rigbench/llama-cuda:[0-9a-f]*' "$out/build-cuda.log" | head -n1)
[ -n "$image" ] || { step "no cuda image tag in build-cuda.log"; exit 1; }
cid=$(podman create "$image") && podman cp "$cid:/opt/llama/bin/llama-bench" /root/tax/llama-bench.image
podman rm -f "$cid" > /dev/null 2>&1
{ sha256sum /src/build/bin/llama-bench /root/tax/llama-bench.image; echo "image $image"; } > "$out/binaries.txt"
libs=/usr/local/nvidia/lib64
bench_args=(-m /m/model.gguf -p 512 -n 128 -r "${REPS:-3}" -ngl 99 -fa 1 -t "$(nproc)" -o json)
on_host() { # N
  mkdir -p /m && ln -sf "$model" /m/model.gguf &&
    LD_LIBRARY_PATH=$libs /src/build/bin/llama-bench "${bench_args[@]}" > "$out/tax-$1-host.json"
}
in_container() { # N
  podman run --rm --device /dev/nvidia0 --device /dev/nvidiactl --device /dev/nvidia-uvm \
    --device /dev/nvidia-uvm-tools -v "$libs:$libs:ro" -v "$model:/m/model.gguf:ro" \
    --entrypoint /opt/llama/bin/llama-bench "$image" "${bench_args[@]}" > "$out/tax-$1-container.json"
}
# One untimed run each: the model into the page cache, the GPU clocks up.
run warm-host on_host 0
run warm-container in_container 0
for i in $(seq 1 "${PAIRS:-3}"); do
  if [ $((i % 2)) = 1 ]; then
    run "tax-$i-host" on_host "$i"; run "tax-$i-container" in_container "$i"
  else
    run "tax-$i-container" in_container "$i"; run "tax-$i-host" on_host "$i"
  fi
done
nvidia-smi -q > "$out/nvidia-smi-q.txt" 2>&1
step "done"
