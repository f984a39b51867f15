#!/usr/bin/env bash
# Prepares a host for rigbench: installs Podman, applies the host adjustments this
# machine needs (and only those), and makes sure a base image for the Containerfiles
# exists. Idempotent: a configured machine passes through in a second or two.
#
# What it may change, each only when the check before it says so:
#   - apt-get install podman (and runc, debootstrap) when missing;
#   - /etc/containers/containers.conf.d/50-rigbench.conf: runtime = "runc" on
#     hybrid cgroup hosts (crun refuses them), and default_ulimits within the
#     hard limits when the process lacks CAP_SYS_RESOURCE (Podman's defaults then
#     fail at container start);
#   - a local base image localhost/rigbench/debian:trixie built with debootstrap
#     from apt's own mirror, when the pinned registry base cannot be pulled;
#   - with RIGBENCH_EXTRA_BASES="sid ..." (scripts/test.sh asks for sid), local
#     Debian bases of those suites too (Debian sid packages ROCm 6.4).
set -euo pipefail

# Keep in sync with src/backend.rs (PINNED_DEBIAN, LOCAL_DEBIAN).
PINNED_BASE="debian:trixie-slim@sha256:d7e12182ce18b85b93007c1dedf31f2d29e01ccf3182cc4017c709b6259bc132"
LOCAL_BASE="localhost/rigbench/debian:trixie"
CONF_DIR=/etc/containers/containers.conf.d
CONF="$CONF_DIR/50-rigbench.conf"

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "missing $*; install it with your package manager and run this again"
  log "installing $* with apt-get"
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

need_runc() {
  # Hybrid mode: a tmpfs at /sys/fs/cgroup with the v2 hierarchy under unified/.
  [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" != cgroup2fs ] && [ -d /sys/fs/cgroup/unified ]
}

lacks_sys_resource() {
  # CAP_SYS_RESOURCE is capability 24.
  local eff
  eff=$(awk '/^CapEff:/ {print $2}' /proc/self/status)
  [ -n "$eff" ] && [ $(( (16#$eff >> 24) & 1 )) -eq 0 ]
}

write_engine_conf() {
  local runtime_line="" ulimit_line="" nofile nproc
  if need_runc; then
    command -v runc >/dev/null 2>&1 || apt_install runc
    runtime_line='runtime = "runc"'
  fi
  if lacks_sys_resource; then
    nofile=$(ulimit -Hn)
    nproc=$(ulimit -Hu)
    [ "$nofile" = unlimited ] && nofile=1048576
    # Measured on such a sandbox: nproc 65536 fails at start although the hard
    # limit is higher, 32768 works.
    if [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; then nproc=32768; fi
    ulimit_line="default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
  fi
  if [ -z "$runtime_line" ] && [ -z "$ulimit_line" ]; then
    return 0
  fi
  local want
  want=$(printf '# Written by rigbench scripts/setup.sh for this host.\n[containers]\n%s\n\n[engine]\n%s\n' \
    "$ulimit_line" "$runtime_line")
  if [ -f "$CONF" ] && [ "$(cat "$CONF")" = "$want" ]; then
    return 0
  fi
  log "writing $CONF (${runtime_line:-default runtime}; ${ulimit_line:-default ulimits})"
  as_root mkdir -p "$CONF_DIR"
  printf '%s\n' "$want" | as_root tee "$CONF" >/dev/null
}

apt_mirror() {
  # The first Debian mirror apt is configured with, deb822 or one-line format.
  local m
  m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | grep -v security | awk '{print $2}' | head -n1)
  if [ -z "$m" ]; then
    m=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | grep -v security |
      awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' | head -n1)
  fi
  [ -n "$m" ] || die "no Debian mirror found in apt's sources; pass one as RIGBENCH_DEBIAN_MIRROR"
  printf '%s\n' "$m"
}

# Builds localhost/rigbench/debian:SUITE with debootstrap from apt's own mirror.
debootstrap_base() {
  local suite=$1 image="localhost/rigbench/debian:$1" mirror root
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  mirror=${RIGBENCH_DEBIAN_MIRROR:-$(apt_mirror)}
  root=$(mktemp -d /var/tmp/rigbench-rootfs.XXXXXX)
  if ! as_root debootstrap --variant=minbase "$suite" "$root" "$mirror" >/dev/null; then
    as_root rm -rf "$root"
    die "debootstrap of $suite from $mirror failed"
  fi
  as_root tar -C "$root" -c . | podman import -q - "$image" >/dev/null
  as_root rm -rf "$root"
  log "made $image"
}

ensure_base() {
  if podman image exists "$PINNED_BASE" || podman image exists "$LOCAL_BASE"; then
    return 0
  fi
  log "pulling the pinned base $PINNED_BASE"
  if timeout 120 podman pull -q "$PINNED_BASE" >/dev/null 2>&1; then
    return 0
  fi
  log "no registry answered; building $LOCAL_BASE with debootstrap instead"
  debootstrap_base trixie
}

ensure_extra_bases() {
  local suite
  for suite in ${RIGBENCH_EXTRA_BASES:-}; do
    podman image exists "localhost/rigbench/debian:$suite" || debootstrap_base "$suite"
  done
}

command -v podman >/dev/null 2>&1 || apt_install podman
write_engine_conf
ensure_base
ensure_extra_bases
log "ready: $(podman --version), runtime $(podman info --format '{{.Host.OCIRuntime.Name}}')"
