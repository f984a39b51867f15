#!/usr/bin/env bash
# Makes the trimmed llama.cpp source archive for a host that reaches no network
# and takes small transfers (the lent GPU machine: 64 MiB a call): the tree that
# llama-cpp-python 0.3.36 vendors (llama.cpp 0c1e57098) without models/, docs/
# and benches/ (vocabularies, documents and scripts no build reads), packed
# deterministically (sorted names, fixed times and owners, gzip -n), so the same
# sdist always gives the same bytes and the plan can pin its sha256.
# Usage: scripts/offline/source.sh OUT.tar.gz [SDIST]
set -euo pipefail

out=${1:?usage: scripts/offline/source.sh OUT.tar.gz [SDIST]}
sdist=${2:-${RIGBENCH_CACHE:-$HOME/.cache/rigbench}/sources/832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e.tar.gz}
want=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
[ -f "$sdist" ] || {
  echo "source.sh: $sdist is missing: fetch it with" >&2
  echo "  pip download --no-deps --no-binary llama-cpp-python llama-cpp-python==0.3.36" >&2
  exit 1
}
got=$(sha256sum "$sdist" | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "source.sh: $sdist has sha256 $got, not $want" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -xzf "$sdist" -C "$work" llama_cpp_python-0.3.36/vendor/llama.cpp
mv "$work/llama_cpp_python-0.3.36/vendor/llama.cpp" "$work/llama.cpp"
rm -rf "$work/llama.cpp/models" "$work/llama.cpp/docs" "$work/llama.cpp/benches"
tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -c llama.cpp |
  gzip -n -9 > "$out"
echo "$(sha256sum "$out" | cut -d' ' -f1)  $out ($(du -h "$out" | cut -f1))"
