#!/usr/bin/env bash
# Fuzzes the parsers of outside input with libFuzzer for a bounded time each
# (default 20 s; FUZZ_SECONDS): JPEG/PNG decoding, the TF.js model reader,
# streams files, video files through the source path and the serve API's
# routing and JSON handlers (fuzz_serve, a fake backend), seeded with the
# reference photographs, the cached model.json, a streams file and the head
# of the sample clip. Builds
# build-fuzz/ with clang (ASan + UBSan); skips, saying so, where clang's
# libFuzzer is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-20}

if ! command -v clang >/dev/null ||
   ! echo 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }' |
     clang -x c -fsanitize=fuzzer -o /dev/null - 2>/dev/null; then
  echo "fuzz: skipped (clang with libFuzzer is not installed)"
  exit 0
fi
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DPOSESTREAM_FUZZ=ON \
  -DPOSESTREAM_SANITIZE=address,undefined -DPOSESTREAM_CUDA=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_image fuzz_model fuzz_streams fuzz_video fuzz_serve >/dev/null

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir -p "$corpus/image" "$corpus/model" "$corpus/streams" "$corpus/video" "$corpus/serve"
# serve: a method byte (0 GET, 1 POST, 2 PATCH, 3 DELETE), the path, '\n', the body
printf '\001/api/v1/streams\n{"uri":"rtsp://cam/1","name":"door","priority":2,"options":{"rtsp_transport":"tcp"}}' \
  >"$corpus/serve/add"
printf '\002/api/v1/streams/0\n{"priority":3,"max_fps":5}' >"$corpus/serve/change"
printf '\003/api/v1/streams/0\n' >"$corpus/serve/remove"
printf '\000/api/v1/streams\n' >"$corpus/serve/list"
printf '[{"uri":"rtsp://cam/1#x","name":"door","priority":1,"max_latency_ms":150,"max_fps":10,"options":{"rtsp_transport":"tcp","timeout":5}}]' \
  >"$corpus/streams/seed"
printf 'clip.mp4#priority=1,max_latency_ms=150,max_fps=2.5,name=a' >"$corpus/streams/arg"
cp tests/data/golden/*.jpg "$corpus/image/"
clip=${POSESTREAM_MODEL_DIR:-$HOME/.cache/posestream}/vtest.avi
if [ -f "$clip" ]; then
  head -c 60000 "$clip" >"$corpus/video/vtest-head" # the header and the first frames
else
  printf 'RIFF\0\0\0\0AVI LIST' >"$corpus/video/seed"
fi
model=${POSESTREAM_MODEL_DIR:-$HOME/.cache/posestream}/movenet-multipose.json
if [ -f "$model" ]; then
  { cat "$model"; printf '\0'; } >"$corpus/model/seed"
else
  printf '{"format":"graph-model","modelTopology":{"node":[]},"weightsManifest":[]}' >"$corpus/model/seed"
fi
for t in image model streams video serve; do
  echo "fuzz: fuzz_$t for $seconds s"
  rc=0
  UBSAN_OPTIONS=halt_on_error=1 build-fuzz/fuzz/fuzz_$t -max_total_time="$seconds" \
    -rss_limit_mb=4096 -max_len=400000 -print_final_stats=1 -artifact_prefix=build-fuzz/ \
    "$corpus/$t" >"$corpus/$t.log" 2>&1 || rc=$?
  grep -E "^(Done|stat::number_of_executed_units)" "$corpus/$t.log" || true
  if [ "$rc" -ne 0 ]; then
    tail -40 "$corpus/$t.log"
    echo "fuzz: fuzz_$t FAILED (the input is saved in build-fuzz/, named above)"
    exit 1
  fi
done
