#!/usr/bin/env bash
# Prepares an NVIDIA GPU host that reaches no network and has no Podman (the lent
# H200 machine: Ubuntu 24.04, root, driver in /usr/local/nvidia) for rigbench:
#   1. Podman from Debian bookworm's packages carried in DEBS_DIR (made here with
#      `apt-get download`, see docs/offline-gpu-hosts.md), unpacked with
#      dpkg -x, copying only files the host lacks, then ldconfig;
#   2. the host adjustments scripts/setup.sh makes elsewhere: runc as the runtime,
#      default_ulimits within the hard limits (no CAP_SYS_RESOURCE there), and
#      /usr/sbin/iptables for netavark (the packages ship only the -legacy/-nft
#      links);
#   3. the local CUDA base (scripts/offline/cuda-base.sh).
# Idempotent. Usage: scripts/offline/gpu-host.sh DEBS_DIR
set -euo pipefail
debs=${1:?usage: scripts/offline/gpu-host.sh DEBS_DIR}
here=$(cd "$(dirname "$0")" && pwd)
log() { printf 'gpu-host: %s\n' "$*" >&2; }

if ! command -v podman >/dev/null 2>&1; then
  unpack=$(mktemp -d)
  for d in "$debs"/*.deb; do dpkg -x "$d" "$unpack"; done
  # Only what the host lacks: its own libraries and tools stay as they are.
  (cd "$unpack" && find . ! -type d) | while read -r f; do
    t="/${f#./}"
    if [ ! -e "$t" ] && [ ! -L "$t" ]; then
      mkdir -p "$(dirname "$t")"
      cp -a "$unpack/${f#./}" "$t"
    fi
  done
  rm -rf "$unpack"
  ldconfig
  log "podman unpacked from $(find "$debs" -name '*.deb' | wc -l) packages"
fi
# netavark runs both (measured there: without ip6tables, "netavark: No such file
# or directory" at the first container with a published port).
for t in iptables ip6tables; do
  if [ ! -e "/usr/sbin/$t" ] && [ -e /usr/sbin/xtables-legacy-multi ]; then
    ln -s xtables-legacy-multi "/usr/sbin/$t"
    log "linked /usr/sbin/$t to xtables-legacy-multi (netavark needs it)"
  fi
done
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
nproc=$(ulimit -Hu)
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
mkdir -p /etc/containers/containers.conf.d
cat > /etc/containers/containers.conf.d/50-rigbench.conf <<CONF
# Written by rigbench scripts/offline/gpu-host.sh for this host.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "runc"
CONF
podman info --format 'podman {{.Version.Version}}, runtime {{.Host.OCIRuntime.Name}}, cgroups {{.Host.CgroupsVersion}}, storage {{.Store.GraphDriverName}}' >&2
"$here/cuda-base.sh"
