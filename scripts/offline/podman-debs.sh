#!/usr/bin/env bash
# Fetches, on a machine that reaches Debian's archive, the packages
# scripts/offline/gpu-host.sh installs Podman from on a GPU host with no network
# (the lent machine's Ubuntu 24.04): Debian bookworm's Podman 4.3.1 with conmon,
# runc, netavark, aardvark-dns, slirp4netns, catatonit, iptables and the
# libraries they need there, from bookworm and its updates. About 20 MB. apt
# reads the lists into a private folder (apt-download.sh); the machine's own
# apt setup is not touched. Prints the packages and their sha256.
# Usage: scripts/offline/podman-debs.sh DEBS_DIR
set -euo pipefail
out=${1:?usage: scripts/offline/podman-debs.sh DEBS_DIR}
# shellcheck source=scripts/offline/apt-download.sh
. "$(dirname "$0")/apt-download.sh"
apt_download "$out" "deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main" \
  podman conmon runc containers-storage golang-github-containers-common \
  golang-github-containers-image netavark aardvark-dns slirp4netns catatonit iptables \
  libgpgme11 libassuan0 libgpg-error0 libsubid4 libyajl2 libdevmapper1.02.1 libslirp0 \
  libnftnl11 libip4tc2 libip6tc2 libnetfilter-conntrack3 libnfnetlink0 libxtables12 \
  libprotobuf-c1 libglib2.0-0
