#!/bin/sh
# Installs the packages one stage of a rigbench image needs, on apt (Debian,
# Ubuntu) and dnf (Fedora) bases alike, so one Containerfile serves both.
# Usage: install-deps.sh build|runtime BACKEND
set -eu

stage=${1:?usage: install-deps.sh build|runtime BACKEND}
backend=${2:?usage: install-deps.sh build|runtime BACKEND}

case "$stage/$backend" in
  build/cpu) apt_pkgs="ca-certificates cmake g++ make"; dnf_pkgs="cmake gcc-c++ make" ;;
  runtime/cpu) apt_pkgs="libgomp1"; dnf_pkgs="libgomp" ;;
  *) echo "install-deps.sh: no package list for stage '$stage' and backend '$backend'" >&2; exit 2 ;;
esac

if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  apt-get install -y -q --no-install-recommends $apt_pkgs
  rm -rf /var/lib/apt/lists/*
elif command -v dnf >/dev/null 2>&1; then
  # shellcheck disable=SC2086
  dnf install -y --setopt=install_weak_deps=False $dnf_pkgs
  dnf clean all
else
  echo "install-deps.sh: the base image has neither apt-get nor dnf" >&2
  exit 2
fi
