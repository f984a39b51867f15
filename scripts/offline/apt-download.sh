# Sourced by vulkan-debs.sh and podman-debs.sh: Debian packages downloaded from
# the archive lines given, with apt's lists and cache in a private folder and no
# installed package in view (an empty status), so that each package's newest
# version there is the one downloaded and the machine's own apt setup is not
# touched. Prints the packages and their sha256.
# shellcheck shell=bash
apt_download() { # OUT_DIR SOURCES_LIST_TEXT PACKAGE...
  local out=$1 sources=$2 state rc
  shift 2
  state=$(mktemp -d)
  mkdir -p "$out" "$state/lists/partial" "$state/cache/archives/partial"
  printf '%s\n' "$sources" > "$state/sources.list"
  : > "$state/status"
  local o=(-oDir::Etc::SourceList="$state/sources.list" -oDir::Etc::SourceParts=/dev/null
    -oDir::State::Lists="$state/lists" -oDir::Cache="$state/cache"
    -oDir::State::status="$state/status"
    -oAPT::Architecture=amd64 -oAPT::Architectures=amd64)
  apt-get "${o[@]}" update -q >&2 &&
    (cd "$out" && apt-get "${o[@]}" download "$@" >&2) &&
    (cd "$out" && sha256sum ./*.deb)
  rc=$?
  rm -rf "$state"
  return "$rc"
}
