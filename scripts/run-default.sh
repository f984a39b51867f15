#!/usr/bin/env bash
# The main job on the built-in default (README): prepares the host
# (scripts/setup.sh), builds rigbench and runs the default plan. The default
# llama.cpp source and model are fetched by rigbench itself. Extra arguments go to
# `rigbench run` (for example --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked
exec target/release/rigbench run "$@"
