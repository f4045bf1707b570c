#!/usr/bin/env bash
# Fetches the sample clip for `posestream run`: OpenCV's vtest.avi (768x576,
# 10 fps, people walking; Apache-2.0 AND BSD-3-Clause per the package's
# copyright file), from Debian's opencv-doc package, into the cache
# ($POSESTREAM_MODEL_DIR, else ~/.cache/posestream), verified by sha256.
# With a valid cache it does nothing and needs no network.
set -euo pipefail

SHA256=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
MEMBER=./usr/share/doc/opencv-doc/examples/data/vtest.avi
dir=${POSESTREAM_MODEL_DIR:-$HOME/.cache/posestream}
out=$dir/vtest.avi

valid() { [ -f "$1" ] && echo "$SHA256  $1" | sha256sum --check --status -; }

if valid "$out"; then
  echo "sample clip: $out (cached, sha256 verified)"
  exit 0
fi
command -v apt-get >/dev/null || { echo "fetch-data: error: apt-get is needed to download opencv-doc" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # apt's sandbox user must be able to write here
echo "fetch-data: downloading Debian's opencv-doc (about 96 MB) for vtest.avi..."
(cd "$tmp" && apt-get download -qq opencv-doc 2>/dev/null || apt-get download opencv-doc)
dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb | tar -x -C "$tmp" "$MEMBER"
if ! valid "$tmp/$MEMBER"; then
  echo "fetch-data: error: vtest.avi from opencv-doc fails the sha256 check" >&2
  exit 1
fi
mkdir -p "$dir"
mv "$tmp/$MEMBER" "$out"
echo "sample clip: $out (downloaded, sha256 verified)"
