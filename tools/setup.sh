#!/usr/bin/env bash
# One-time set-up on Debian/Ubuntu, safe to repeat: installs the packages the
# build needs (with sudo when not root), builds into build/, and fetches the
# model into the cache (tools/fetch-model.sh). curl and prometheus are for
# the tests of `posestream serve`; ffmpeg (ffprobe) decodes the annotated
# video back and chromium (driven through python3-websocket) loads the live
# page in its tests; mosquitto is the broker the MQTT tests start.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(build-essential cmake pkg-config libcjson-dev libdnnl-dev libjpeg-dev libpng-dev
          libssl-dev npm libavformat-dev libavcodec-dev libswscale-dev libavutil-dev clang
          libffmpeg-nvenc-dev python3 locales libmicrohttpd-dev curl prometheus ffmpeg chromium
          python3-websocket libmosquitto-dev mosquitto mosquitto-clients)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from elsewhere (e.g. NodeSource's nodejs): then it is not needed.
if command -v npm >/dev/null; then
  missing=("${missing[@]/npm/}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep . || true))
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A locale whose decimal point is a comma, for test_json_out: JSON numbers
# must not change with the locale.
if ! locale -a 2>/dev/null | grep -qi '^de_DE.utf-\?8$'; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo localedef -i de_DE -f UTF-8 de_DE.UTF-8 2>/dev/null ||
    echo "setup: could not make the de_DE.UTF-8 locale: test_json_out skips its locale check"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPOSESTREAM_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
tools/fetch-model.sh
tools/fetch-data.sh
