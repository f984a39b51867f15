# Sourced by container-tax.sh and h200-decisions.sh (STEPS=tax): the container
# tax on the GPU (issue 29, item 1). host_build builds llama-bench directly on
# the host from the same source archive, compiler, CUDA toolkit and CMake flags
# as the cuda image (whose base is a slice of this host's toolchain,
# cuda-base.sh), at the same paths (/src/llama.cpp, /src/build). tax_pairs
# IMAGE MODEL [HOST_BIN] runs HOST_BIN on the host (default: the image's own
# llama-bench copied out, so that the two arms run the same bytes and differ
# only by the container; the host's CUDA libraries are those the image's base
# was sliced from) against the image's llama-bench in its container,
# interleaved ABBA on MODEL (the study's dense model, synthetic gemma3-27b Q8_0): pp512 and tg128,
# all layers on the GPU, flash attention on. The container gets what
# rigbench's passthrough gives it: the device nodes and the driver's library
# folder, read-only, where the image's LD_LIBRARY_PATH looks
# (/usr/local/nvidia/lib64). Each llama-bench's JSON goes to
# $out/tax-N-{host,container}.json, both binaries' sha256 to $out/binaries.txt.
# PAIRS (default 3) ABBA pairs, REPS (default 3) repetitions each. Needs
# `stage`, `out` and steps.sh's `run` and `step`.
# shellcheck shell=bash
: "${stage:?tax.sh needs stage set}" "${out:?tax.sh needs out set}"
# The image's flags (build-llama.sh's base set and the cuda backend's, as its
# build-info.json records them); the host build uses the same.
tax_flags=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF
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
    cmake -S /src/llama.cpp -B /src/build "${gen[@]}" "${tax_flags[@]}" &&
    cmake --build /src/build --config Release -j "$(nproc)" --target llama-bench
}
built_cuda_image() { # the tag `rigbench build` printed in $out/build-cuda.log
  grep -o 'localhost/rigbench/llama-cuda:[0-9a-f]*' "$out/build-cuda.log" | head -n1
}
tax_pairs() { # IMAGE MODEL [HOST_BIN]
  local image=$1 model=$2 cid i libs=/usr/local/nvidia/lib64 nvcc cuda
  # On the host: the driver's folder, then the toolkit's libraries (cudart,
  # cuBLAS), which the image carries as its base's slice of them.
  nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  cuda=$(dirname "$(dirname "$(readlink -f "$nvcc")")")
  tax_host_libs="$libs:$cuda/lib64:$cuda/targets/x86_64-linux/lib"
  mkdir -p /root/tax /m
  copy_bench "$image" /root/tax/llama-bench.image
  tax_bin=${3:-/root/tax/llama-bench.image}
  { sha256sum "$tax_bin" /root/tax/llama-bench.image; echo "image $image"; echo "model $model"
    echo "on the host:"; LD_LIBRARY_PATH=$tax_host_libs ldd "$tax_bin"; } > "$out/binaries.txt" 2>&1
  ln -sf "$model" /m/model.gguf
  tax_args=(-m /m/model.gguf -p 512 -n 128 -r "${REPS:-3}" -ngl 99 -fa 1 -t "$(nproc)" -o json)
  tax_model=$model
  tax_libs=$libs
  tax_abba "" tax_on_host tax_in_container "$image"
}
copy_bench() { # IMAGE DEST: the image's own llama-bench copied out
  local cid
  cid=$(podman create "$1") && podman cp "$cid:/opt/llama/bin/llama-bench" "$2"
  podman rm -f "$cid" > /dev/null 2>&1
}
tax_abba() { # NAME_PREFIX HOST_FN CONTAINER_FN IMAGE: one untimed run each (the
  # model into the page cache, the GPU clocks up), then PAIRS pairs, host
  # first in odd pairs, container first in even ones (ABBA)
  local p=$1 on_host=$2 in_container=$3 image=$4 i
  run "warm-${p}host" "$on_host" 0
  run "warm-${p}container" "$in_container" "$image" 0
  for i in $(seq 1 "${PAIRS:-3}"); do
    if [ $((i % 2)) = 1 ]; then
      run "tax-$p$i-host" "$on_host" "$i"; run "tax-$p$i-container" "$in_container" "$image" "$i"
    else
      run "tax-$p$i-container" "$in_container" "$image" "$i"; run "tax-$p$i-host" "$on_host" "$i"
    fi
  done
}
tax_on_host() { # N
  LD_LIBRARY_PATH=$tax_host_libs "$tax_bin" "${tax_args[@]}" > "$out/tax-$1-host.json"
}
tax_in_container() { # IMAGE N
  podman run --rm --device /dev/nvidia0 --device /dev/nvidiactl --device /dev/nvidia-uvm \
    --device /dev/nvidia-uvm-tools -v "$tax_libs:$tax_libs:ro" -v "$tax_model:/m/model.gguf:ro" \
    --entrypoint /opt/llama/bin/llama-bench "$1" "${tax_args[@]}" > "$out/tax-$2-container.json"
}
built_image() { # BACKEND: the tag `rigbench build` printed in $out/build-BACKEND.log
  grep -o "localhost/rigbench/llama-$1:[0-9a-f]*" "$out/build-$1.log" | head -n1
}
# The tax on Vulkan: tax_pairs_vulkan IMAGE MODEL DEBS_VULKAN runs the vulkan
# image's own llama-bench (copied out) on the host against the same in its
# container, ABBA as tax_pairs. The container gets exactly the passthrough
# `rigbench doctor --json` decides for vulkan on this host (device nodes,
# the driver's Vulkan libraries and ICD file read-only, its environment); the
# host run gets the same libraries under the names the container sees
# (/root/tax/vkhost: a link per mount, so the ICD's libGLX_nvidia.so.0 is the
# same file) and the loader and libglvnd the image's base was made from
# (the libvulkan1, libglvnd0 and libegl1 packages in DEBS_VULKAN, unpacked: with
# no display NVIDIA's Vulkan driver makes no instance unless glvnd's libEGL finds
# its EGL vendor, results/nvidia-vulkan-2026-12; tried once without libEGL on
# an H100, where the loader found no driver), so that the
# two arms differ by the container alone. Files: tax-vulkan-N-{host,container}.json,
# binaries-vulkan.txt, doctor-vulkan.json.
tax_pairs_vulkan() { # IMAGE MODEL DEBS_VULKAN
  local image=$1 model=$2 debs=$3 d vkhost=/root/tax/vkhost vkroot=/root/tax/vkroot
  mkdir -p /root/tax /m "$vkroot"
  rm -rf "$vkhost" && mkdir -p "$vkhost"
  copy_bench "$image" /root/tax/llama-bench.vulkan
  for d in "$debs"/libvulkan1_*.deb "$debs"/libglvnd0_*.deb "$debs"/libegl1_*.deb; do dpkg-deb -x "$d" "$vkroot"; done
  rigbench doctor --json > "$out/doctor-vulkan.json" 2> /dev/null
  # The passthrough as podman arguments (one a line) and the host's
  # environment (K=V a line, the container's paths mapped to the host's).
  python3 - "$out/doctor-vulkan.json" "$vkhost" "$vkroot" > /root/tax/vk.args <<'PY' || return 1
import json, os, sys
doc, vkhost, vkroot = sys.argv[1:]
p = next(b["passthrough"] for b in json.load(open(doc))["backends"] if b["backend"] == "vulkan")
host_env = {}
for m in p["mounts"]:
    print("ARG -v"); print("ARG %s:%s:ro" % (m["host"], m["container"]))
    if m["container"].endswith(".json"):
        host_env[m["container"]] = m["host"]
    else:
        os.symlink(m["host"], os.path.join(vkhost, os.path.basename(m["container"])))
for d in p["devices"]:
    print("ARG --device"); print("ARG " + d)
for g in p["group_add"]:
    print("ARG --group-add"); print("ARG " + g)
for k, v in p["env"].items():
    print("ARG -e"); print("ARG %s=%s" % (k, v))
    if k == "LD_LIBRARY_PATH":
        v = vkhost + ":" + vkroot + "/usr/lib/x86_64-linux-gnu"
    print("ENV %s=%s" % (k, host_env.get(v, v)))
PY
  mapfile -t tax_vk_args < <(sed -n 's/^ARG //p' /root/tax/vk.args)
  mapfile -t tax_vk_env < <(sed -n 's/^ENV //p' /root/tax/vk.args)
  { sha256sum /root/tax/llama-bench.vulkan; echo "image $image"; echo "model $model"
    echo "container: ${tax_vk_args[*]}"; echo "host: ${tax_vk_env[*]}"; ls -la "$vkhost"
    env "${tax_vk_env[@]}" ldd /root/tax/llama-bench.vulkan; } > "$out/binaries-vulkan.txt" 2>&1
  ln -sf "$model" /m/model.gguf
  tax_args=(-m /m/model.gguf -p 512 -n 128 -r "${REPS:-3}" -ngl 99 -fa 1 -t "$(nproc)" -o json)
  tax_model=$model
  tax_abba vulkan- tax_vk_on_host tax_vk_in_container "$image"
}
tax_vulkan_step() { # STAGE: the Vulkan tax on the dense model the pipeline's
  # `models` step made, with the vulkan image it built (build-vulkan.log)
  local image dense
  image=$(built_image vulkan)
  dense=$(grep -o '/[^ ]*gemma3-27b[^ ]*\.gguf' "$out/models.log" | head -n1)
  if [ -n "$image" ] && [ -n "$dense" ]; then
    tax_pairs_vulkan "$image" "$dense" "$1/debs-vulkan"
  else
    step "taxvk: no vulkan image ($image) or dense model ($dense)"
  fi
}
tax_vk_on_host() { # N
  env "${tax_vk_env[@]}" /root/tax/llama-bench.vulkan "${tax_args[@]}" > "$out/tax-vulkan-$1-host.json"
}
tax_vk_in_container() { # IMAGE N
  podman run --rm "${tax_vk_args[@]}" -v "$tax_model:/m/model.gguf:ro" \
    --entrypoint /opt/llama/bin/llama-bench "$1" "${tax_args[@]}" > "$out/tax-vulkan-$2-container.json"
}
