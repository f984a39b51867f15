#!/usr/bin/env bash
# Checks, on an NVIDIA host without Podman (the lent H200 machine), that the
# vulkan backend's passthrough rigbench decides for this host is what
# llama.cpp's Vulkan backend needs, and which part of it is needed:
#   1. what the host has: device nodes, the driver's folder, Vulkan ICD files,
#      the libraries libGLX_nvidia and its companions link (DT_NEEDED);
#   2. `rigbench doctor` here (text and JSON), whose vulkan passthrough is used;
#   3. the vulkan image's root filesystem (`podman export` of the image, the
#      Mesa drivers and the other binaries left out, libglvnd's libGLdispatch
#      in) entered with chroot in a private mount namespace holding exactly the
#      passthrough's device nodes (plus null, zero, random, urandom), its
#      read-only mounts and its environment, as a container would; llama-bench
#      lists its devices and measures a synthetic Gemma 3 270M in Q8_0;
#   4. the same with one part left out at a time (each driver library, the
#      SPIR-V compiler without a pipeline cache, libGLdispatch, the loader's
#      pointer to the ICD file), and with CUDA's unified-memory nodes added.
# Every result goes to OUT_DIR (log.txt, inventory.txt, doctor.*, one file per
# variant). Usage: vulkan-passthrough.sh ROOTFS.tar.xz RIGBENCH OUT_DIR
set -uo pipefail
rootfs=${1:?usage: vulkan-passthrough.sh ROOTFS.tar.xz RIGBENCH OUT_DIR}
rb=$(readlink -f "${2:?usage: vulkan-passthrough.sh ROOTFS.tar.xz RIGBENCH OUT_DIR}")
out=$(readlink -f "${3:?usage: vulkan-passthrough.sh ROOTFS.tar.xz RIGBENCH OUT_DIR}")
mkdir -p "$out"
t0=$SECONDS
log() { printf '[%4ds] %s\n' "$((SECONDS - t0))" "$*" | tee -a "$out/log.txt"; }

# --- 1. The host.
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1
  ls -la /dev/nvidia* /dev/dri 2>&1
  ls -la /usr/local/nvidia /usr/local/nvidia/lib64 2>&1
  find / -xdev \( -path /proc -o -path /sys \) -prune -o -path '*vulkan*' -name '*.json' -print 2>/dev/null |
    while read -r f; do echo "== $f"; cat "$f"; done
  find / -xdev \( -path /proc -o -path /sys \) -prune -o -name 'libGLdispatch*' -print 2>/dev/null
} > "$out/inventory.txt" 2>&1
python3 - >> "$out/inventory.txt" 2>&1 <<'PY'
import glob, struct
def needed(path):
    with open(path, 'rb') as f:
        d = f.read()
    if d[:4] != b'\x7fELF' or d[4] != 2:
        return None
    shoff, = struct.unpack_from('<Q', d, 0x28)
    shentsize, shnum = struct.unpack_from('<HH', d, 0x3A)
    secs = [struct.unpack_from('<IIQQQQIIQQ', d, shoff + i * shentsize) for i in range(shnum)]
    dyn = [s for s in secs if s[1] == 6]
    if not dyn:
        return []
    strtab = secs[dyn[0][6]]
    out = []
    for off in range(dyn[0][4], dyn[0][4] + dyn[0][5], 16):
        tag, val = struct.unpack_from('<qQ', d, off)
        if tag == 1:
            s = strtab[4] + val
            out.append(d[s:d.index(b'\0', s)].decode())
    return out
for pat in ['libGLX_nvidia.so.*', 'libnvidia-glcore.so.*', 'libnvidia-glvkspirv.so.*',
            'libnvidia-gpucomp.so.*', 'libnvidia-glsi.so.*', 'libnvidia-tls.so.*']:
    for p in sorted(glob.glob('/usr/local/nvidia/lib64/' + pat)):
        print('NEEDED', p, needed(p))
PY
log "inventory written"

# --- 2. What rigbench decides here.
"$rb" doctor > "$out/doctor.txt" 2>&1
"$rb" doctor --json > "$out/doctor.json" 2> "$out/doctor-json.err"
python3 - "$out/doctor.json" > /tmp/vk-pass.sh <<'PY' || { log "no vulkan passthrough in doctor's JSON"; exit 1; }
import json, shlex, sys
r = json.load(open(sys.argv[1]))
v = [b for b in r['backends'] if b['backend'] == 'vulkan'][0]
p = v['passthrough']
if p is None:
    sys.exit(1)
print('devices=(%s)' % ' '.join(shlex.quote(d) for d in p['devices']))
print('mounts=(%s)' % ' '.join(shlex.quote(m['host'] + '=' + m['container']) for m in p['mounts']))
print('envs=(%s)' % ' '.join(shlex.quote(k + '=' + val) for k, val in p['env'].items()))
print('driver=%s' % shlex.quote(str(p.get('vulkan_driver'))))
PY
devices=() mounts=() envs=() driver=""
# shellcheck disable=SC1091
. /tmp/vk-pass.sh
log "rigbench's vulkan passthrough: driver $driver; devices ${devices[*]}; ${#mounts[@]} mounts; env ${envs[*]}"

# --- 3. The image's root and a model.
root=/tmp/vk-root
rm -rf "$root" && mkdir -p "$root"
xz -dc "$rootfs" | tar -x -C "$root"
chroot "$root" /sbin/ldconfig
"$rb" model synth --shape gemma3-270m --quant q8_0 -o /tmp/vk-model.gguf > "$out/synth.txt" 2>&1
log "root unpacked ($(du -sh "$root" | cut -f1)), model made: $(tail -1 "$out/synth.txt")"
mkdir -p /tmp/vk-glcache

# One variant: NAME, then words: skip=SUBSTRING (leave out mounts whose host
# path has it), nocache (a fresh, empty pipeline cache), dev=NODE (add a
# device node), noenv=VAR, noglvnd; BENCH (llama-bench arguments) last.
variant() {
  local name=$1
  shift
  local skips=() extra=() noenv=() cache=/tmp/vk-glcache glvnd=1 w
  while [ $# -gt 1 ]; do
    w=$1
    shift
    case $w in
      skip=*) skips+=("${w#skip=}") ;;
      dev=*) extra+=("${w#dev=}") ;;
      noenv=*) noenv+=("${w#noenv=}") ;;
      nocache) cache=$(mktemp -d) ;;
      noglvnd) glvnd=0 ;;
    esac
  done
  local bench=$1
  unshare -m --propagation private bash -s > "$out/$name.txt" 2>&1 <<EOF
set -u
R=$root
mount -t tmpfs tmpfs \$R/dev
for d in null zero random urandom ${devices[*]} ${extra[*]}; do
  d=/dev/\${d#/dev/}; touch \$R\$d; mount --bind \$d \$R\$d
done
for m in ${mounts[*]}; do
  h=\${m%%=*}; c=\${m#*=}
  for s in ${skips[*]:-}; do case \$h in *\$s*) echo "left out: \$h"; continue 2 ;; esac; done
  mkdir -p "\$(dirname \$R\$c)"; touch \$R\$c; mount --bind -o ro \$h \$R\$c
done
[ $glvnd = 1 ] || mount --bind /dev/null \$R/usr/lib/x86_64-linux-gnu/libGLdispatch.so.0.0.0
mount -t proc proc \$R/proc
mount --rbind /sys \$R/sys
mount -t tmpfs tmpfs \$R/tmp
mkdir -p \$R/models \$R/glcache
touch \$R/models/m.gguf; mount --bind -o ro /tmp/vk-model.gguf \$R/models/m.gguf
mount --bind $cache \$R/glcache
env=(PATH=/opt/llama/bin:/usr/bin:/bin HOME=/tmp __GL_SHADER_DISK_CACHE_PATH=/glcache)
for e in ${envs[*]}; do
  case " ${noenv[*]:-} " in *" \${e%%=*} "*) echo "unset: \${e%%=*}"; continue ;; esac
  env+=("\$e")
done
echo "env: \${env[*]}"
echo "--- list-devices"
timeout 60 chroot \$R /usr/bin/env -i "\${env[@]}" llama-bench --list-devices; echo "exit \$?"
echo "--- bench"
timeout 120 chroot \$R /usr/bin/env -i "\${env[@]}" llama-bench -m /models/m.gguf $bench -ngl 99 -fa 1 -o md; echo "exit \$?"
EOF
  log "$name: $(grep -E 'Vulkan[0-9]:|^exit|\| *tg|\| *pp' "$out/$name.txt" | tr -s ' ' | tr '\n' ';' | cut -c1-400)"
}

# --- 4. The passthrough, then each part left out.
variant passthrough "-p 512 -n 128 -r 3"
small="-p 64 -n 16 -r 1"
variant without-gpucomp skip=libnvidia-gpucomp "$small"
variant without-glsi skip=libnvidia-glsi "$small"
variant without-tls skip=libnvidia-tls "$small"
variant without-glvkspirv-fresh-cache skip=libnvidia-glvkspirv nocache "$small"
variant without-glcore skip=libnvidia-glcore "$small"
variant without-glvnd noglvnd "$small"
variant without-vk-driver-files noenv=VK_DRIVER_FILES "$small"
variant with-uvm dev=/dev/nvidia-uvm "$small"
log "done"
