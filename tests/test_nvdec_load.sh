#!/usr/bin/env bash
# The engine under NVDEC load (label gpu): 64 streams of a 1080p clip
# decoded by NVDEC, offline, batches of any size up to 64 forming as the
# streams go. Before the fix this failed within seconds: a CUDA graph
# captured for a new batch size mid-run was invalidated by the decoders'
# threads ("operation failed due to a previous error during capture") and
# every stream simply ended. Now the run must end with exit status 0, every
# frame of every stream processed (300 each, none failed), no engine
# failure, and batch sizes beyond the old pre-captured ones (17..63 and not
# a power of two) having actually run.
#   test_nvdec_load.sh POSESTREAM_BINARY   (clip: $POSESTREAM_TEST_CLIP)
set -u
bin=$1
clip=${POSESTREAM_TEST_CLIP:-}
streams=${NVDEC_LOAD_STREAMS:-64}
. "$(dirname "$0")/lib.sh"
need_model
[ -n "$clip" ] && [ -f "$clip" ] || { echo "SKIP: no clip (set POSESTREAM_TEST_CLIP)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! "$bin" run --backend cuda --decode gpu --no-status -o /dev/null --duration 1 "$clip" \
    2>"$tmp/probe"; then
  grep -q "no usable GPU\|NVDEC" "$tmp/probe" && { echo "SKIP: $(tail -1 "$tmp/probe")"; exit 77; }
  cat "$tmp/probe"; exit 1
fi
frames=$("$bin" run --backend cpu --decode cpu --no-status -o - --input-size 32 "$clip" \
         2>/dev/null | wc -l)
args=()
for _ in $(seq "$streams"); do args+=("$clip"); done
"$bin" run --backend cuda --decode gpu --batch-max 64 --no-status -o "$tmp/out/" "${args[@]}" \
  2>"$tmp/log"
rc=$?
cat "$tmp/log"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
[ "$rc" -eq 0 ] || fail "exit status $rc"
grep -q "batches failed" "$tmp/log" && fail "the engine failed batches"
for k in $(seq 0 $((streams - 1))); do
  n=$(wc -l <"$tmp/out/stream$k.jsonl" 2>/dev/null || echo 0)
  [ "$n" -eq "$frames" ] || fail "stream $k: $n results of $frames frames"
done
# batch sizes that were never captured before the fix ran, and ran clean
odd=0
for b in $(grep -o "batch sizes:.*" "$tmp/log" | grep -oE " [0-9]+:" | tr -d ' :'); do
  [ "$b" -gt 16 ] && [ $((b & (b - 1))) -ne 0 ] && odd=$((odd + 1))
done
echo "$streams streams x $frames frames; batch sizes over 16 and not a power of two: $odd kinds"
[ "$odd" -gt 0 ] || fail "no batch of a size captured mid-run before the fix (17..63, not 2^k)"
[ "$failures" -eq 0 ] && echo "test_nvdec_load: PASS" || echo "test_nvdec_load: FAIL"
[ "$failures" -eq 0 ]
