#!/usr/bin/env bash
# Prepares a host for rigbench: installs Podman, applies the host adjustments this
# machine needs (and only those), and makes sure a base image for the Containerfiles
# exists. Idempotent: a configured machine passes through in a second or two.
# Debian/Ubuntu (apt-get) and Fedora/RHEL (dnf); elsewhere it says what to install.
#
# What it may change, each only when the check before it says so:
#   - install podman (and runc, debootstrap) when missing: apt-get or dnf;
#   - /etc/containers/containers.conf.d/50-rigbench.conf: runtime = "runc" on
#     hybrid cgroup hosts (crun refuses them), and default_ulimits within the
#     hard limits when the process lacks CAP_SYS_RESOURCE (Podman's defaults then
#     fail at container start);
#   - a local base image localhost/rigbench/debian:trixie built with debootstrap
#     from apt's own mirror (or RIGBENCH_DEBIAN_MIRROR), when the pinned registry
#     base cannot be pulled;
#   - with RIGBENCH_EXTRA_BASES="sid ..." (scripts/test.sh asks for sid), local
#     Debian bases of those suites too (Debian sid packages ROCm 6.4);
#   - rootless Podman, for the user running this (when not root) or for
#     RIGBENCH_ROOTLESS_USER (run as root; the user is created if missing):
#     subordinate uid/gid ranges in /etc/subuid and /etc/subgid, newuidmap,
#     /dev/net/tun usable by the user (slirp4netns needs it to publish ports),
#     the runtime directory /run/user/UID where no login manager made one,
#     and the overlay storage driver in the user's storage.conf where Podman
#     would fall back to vfs (a full copy of every layer).
#
# RIGBENCH_SETUP_DRY_RUN=1 changes nothing: it prints each change it would make
# ("would: ..."). RIGBENCH_OS_RELEASE names another os-release file (a fixture)
# for choosing the package manager.
set -euo pipefail

# Keep in sync with src/backend.rs (PINNED_DEBIAN, LOCAL_DEBIAN).
PINNED_BASE="debian:trixie-slim@sha256:d7e12182ce18b85b93007c1dedf31f2d29e01ccf3182cc4017c709b6259bc132"
LOCAL_BASE="localhost/rigbench/debian:trixie"
CONF_DIR=/etc/containers/containers.conf.d
CONF="$CONF_DIR/50-rigbench.conf"

DRY=${RIGBENCH_SETUP_DRY_RUN:-0}
OS_RELEASE=${RIGBENCH_OS_RELEASE:-/etc/os-release}

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
dry() { [ "$DRY" = 1 ]; }

as_root() {
  if dry; then
    printf 'setup: would: %s\n' "$*" >&2
  elif [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    sudo "$@"
  fi
}

# The package manager, from os-release's ID and ID_LIKE.
pkg_manager() {
  local id="" like=""
  if [ -r "$OS_RELEASE" ]; then
    # shellcheck source=/dev/null
    id=$(. "$OS_RELEASE" && printf '%s' "${ID:-}")
    # shellcheck source=/dev/null
    like=$(. "$OS_RELEASE" && printf '%s' "${ID_LIKE:-}")
  fi
  case " $id $like " in
    *" debian "* | *" ubuntu "*) echo apt-get ;;
    *" fedora "* | *" rhel "* | *" centos "*) echo dnf ;;
    *) echo none ;;
  esac
}

# Debian's package names, as Fedora calls them.
pkg_name() {
  case "$(pkg_manager):$1" in
    dnf:uidmap) echo shadow-utils ;;
    *) echo "$1" ;;
  esac
}

pkg_install() {
  local mgr names=() p
  mgr=$(pkg_manager)
  for p in "$@"; do names+=("$(pkg_name "$p")"); done
  case "$mgr" in
    apt-get)
      dry || command -v apt-get >/dev/null 2>&1 || die "os-release says Debian-like but apt-get is missing"
      log "installing ${names[*]} with apt-get"
      as_root apt-get update -q >/dev/null
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${names[@]}" >/dev/null
      ;;
    dnf)
      dry || command -v dnf >/dev/null 2>&1 || die "os-release says Fedora-like but dnf is missing"
      log "installing ${names[*]} with dnf"
      as_root dnf install -y -q "${names[@]}" >/dev/null
      ;;
    *)
      die "missing ${names[*]}: this script knows apt-get (Debian, Ubuntu) and dnf (Fedora, RHEL); install them with your package manager (Arch: pacman -S podman; openSUSE: zypper install podman) and run it again"
      ;;
  esac
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
    command -v runc >/dev/null 2>&1 || pkg_install runc
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
  if dry; then
    log "would: write $CONF: $(printf '%s' "$want" | tr '\n' ' ')"
  else
    printf '%s\n' "$want" | as_root tee "$CONF" >/dev/null
  fi
}

apt_mirror() {
  # The first Debian mirror apt is configured with, deb822 or one-line format.
  local m
  m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | grep -v security | awk '{print $2}' | head -n1)
  if [ -z "$m" ]; then
    m=$(grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | grep -v security |
      awk '{for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; exit}}' | head -n1)
  fi
  # Not a Debian host (Fedora): Debian's own redirector.
  [ -n "$m" ] || [ "$(pkg_manager)" = apt-get ] || m=http://deb.debian.org/debian
  [ -n "$m" ] || die "no Debian mirror found in apt's sources; pass one as RIGBENCH_DEBIAN_MIRROR"
  printf '%s\n' "$m"
}

# Builds localhost/rigbench/debian:SUITE with debootstrap from apt's own mirror.
debootstrap_base() {
  local suite=$1 image="localhost/rigbench/debian:$1" mirror root
  command -v debootstrap >/dev/null 2>&1 || pkg_install debootstrap
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
  if dry; then
    log "dry run: the base image ($PINNED_BASE, else $LOCAL_BASE) is not looked for"
    return 0
  fi
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
  dry && return 0
  for suite in ${RIGBENCH_EXTRA_BASES:-}; do
    podman image exists "localhost/rigbench/debian:$suite" || debootstrap_base "$suite"
  done
}

# Whether USER has a subordinate range in FILE (/etc/subuid, /etc/subgid).
has_subid() {
  local user=$1 file=$2 uid
  uid=$(id -u "$user" 2>/dev/null || echo "")
  grep -qE "^($user|${uid:-none}):" "$file" 2>/dev/null
}

# The first free 65536-id range above the ranges FILE already hands out.
next_subid() {
  awk -F: 'BEGIN {n = 100000} {e = $2 + $3; if (e > n) n = e} END {print n}' "$1" 2>/dev/null || echo 100000
}

# Rootless Podman for USER: what it needs from the host, each only if missing.
ensure_rootless() {
  local user=$1 home conf
  if ! id "$user" >/dev/null 2>&1; then
    log "creating the user $user for rootless Podman"
    as_root useradd -m -s /bin/bash "$user"
  fi
  command -v newuidmap >/dev/null 2>&1 || pkg_install uidmap
  local f
  for f in /etc/subuid /etc/subgid; do
    if ! has_subid "$user" "$f"; then
      log "giving $user a subordinate id range in $f"
      if dry; then
        log "would: append $user:$(next_subid "$f"):65536 to $f"
      else
        printf '%s:%s:65536\n' "$user" "$(next_subid "$f")" | as_root tee -a "$f" >/dev/null
      fi
    fi
  done
  # slirp4netns opens /dev/net/tun in the user's namespace: root-only (0600)
  # on some hosts, 0666 on most distributions.
  if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
    log "making /dev/net/tun usable by users (mode 0666, as most distributions ship it)"
    as_root chmod 0666 /dev/net/tun
  fi
  # The user's runtime directory, where a login manager (systemd-logind) would
  # have made it: Podman keeps its run root there, and the user's API socket
  # is looked for at $XDG_RUNTIME_DIR/podman/podman.sock.
  local rundir
  rundir="/run/user/$(id -u "$user" 2>/dev/null || echo UID)"
  if [ ! -d "$rundir" ]; then
    log "making $user's runtime directory $rundir (no login manager made it)"
    as_root install -d -m 0700 -o "$user" -g "$(id -g "$user" 2>/dev/null || echo GID)" "$rundir"
  fi
  # Podman picks vfs when it cannot tell that native rootless overlay works
  # (kernel 5.13 and later have it): overlay unless the user chose otherwise.
  home=$(getent passwd "$user" | cut -d: -f6 || true)
  conf="$home/.config/containers/storage.conf"
  if [ -n "$home" ] && [ ! -e "$conf" ] && kernel_has_rootless_overlay; then
    log "writing $conf (driver = \"overlay\")"
    if dry; then
      log "would: write $conf: [storage] driver = \"overlay\""
    else
      as_root install -d -o "$user" -g "$(id -g "$user")" "$home/.config" "$home/.config/containers"
      printf '[storage]\ndriver = "overlay"\n' | as_root tee "$conf" >/dev/null
      as_root chown "$user:$(id -g "$user")" "$conf"
    fi
  fi
}

kernel_has_rootless_overlay() {
  local major minor
  IFS=. read -r major minor _ < <(uname -r)
  [ "$major" -gt 5 ] || { [ "$major" -eq 5 ] && [ "${minor%%[!0-9]*}" -ge 13 ]; }
}

log "package manager: $(pkg_manager) (from $OS_RELEASE)$(dry && echo '; dry run, nothing is changed')"
command -v podman >/dev/null 2>&1 || pkg_install podman
write_engine_conf
if [ -n "${RIGBENCH_ROOTLESS_USER:-}" ]; then
  ensure_rootless "$RIGBENCH_ROOTLESS_USER"
elif [ "$(id -u)" -ne 0 ]; then
  ensure_rootless "$(id -un)"
fi
ensure_base
ensure_extra_bases
if dry; then
  log "dry run done: nothing was changed"
else
  log "ready: $(podman --version), runtime $(podman info --format '{{.Host.OCIRuntime.Name}}')"
fi
