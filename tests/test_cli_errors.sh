#!/usr/bin/env bash
# Bad input to `posestream detect`: each case must exit 1 with exactly one
# line on stderr, "posestream: error: <what>: <why>", naming the input and
# the reason; a bad image must not stop the good ones. Run under the
# sanitizer build too, so "no crash" is checked by AddressSanitizer.
#   test_cli_errors.sh POSESTREAM_BINARY GOLDEN_DIR
set -u
bin=$1
golden=$2
model=${POSESTREAM_MODEL_DIR:-$HOME/.cache/posestream}
if [ ! -f "$model/movenet-multipose.json" ]; then
  echo "SKIP: model not in $model (run tools/fetch-model.sh)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
good=$golden/photo1.jpg

# expect NAME PATTERN [args...]: exit status 1, one stderr line matching
# PATTERN (besides the note of a CUDA build falling back to the CPU).
expect() {
  local name=$1 pattern=$2
  shift 2
  "$bin" detect "$@" >"$tmp/out" 2>"$tmp/all"
  local rc=$? lines
  grep -v "; using the CPU$" "$tmp/all" >"$tmp/err"
  lines=$(wc -l <"$tmp/err")
  if [ "$rc" -eq 1 ] && [ "$lines" -eq 1 ] && grep -Eq "^posestream: error: .*$pattern" "$tmp/err"; then
    printf 'ok    %-28s %s\n' "$name" "$(cat "$tmp/err")"
  else
    printf 'FAIL  %-28s exit %s, %s stderr lines:\n' "$name" "$rc" "$lines"
    cat "$tmp/err"
    failures=$((failures + 1))
  fi
}

# A copy of the model to break; $1 is its folder.
model_copy() {
  mkdir -p "$1"
  cp "$model/movenet-multipose.json" "$model/movenet-multipose.bin" "$1/"
}

expect "missing model" "/nonexistent/m.json.*model not found" --model /nonexistent/m.json "$good"

model_copy "$tmp/trunc"
head -c 4000000 "$model/movenet-multipose.bin" >"$tmp/trunc/movenet-multipose.bin"
expect "truncated .bin" "movenet-multipose.json: weight shards hold 4000000 bytes.*truncated" \
  --no-verify --model "$tmp/trunc" "$good"
expect "checksum mismatch" "movenet-multipose.bin: checksum mismatch" --model "$tmp/trunc" "$good"

model_copy "$tmp/no_shard"
sed -i 's/"movenet-multipose.bin"/"gone.bin"/' "$tmp/no_shard/movenet-multipose.json"
expect "missing weight shard" "no_shard/gone.bin: .*No such file" --no-verify --model "$tmp/no_shard" "$good"

model_copy "$tmp/bad_json"
printf '{ "format": "graph-model", "modelTopology": ' >"$tmp/bad_json/movenet-multipose.json"
expect "malformed model.json" "movenet-multipose.json: not valid JSON" --no-verify --model "$tmp/bad_json" "$good"

model_copy "$tmp/version"
sed -i 's/"format": "graph-model"/"format": "layers-model"/' "$tmp/version/movenet-multipose.json"
expect "wrong-format model.json" "format 'layers-model' is not a TF.js graph-model" \
  --no-verify --model "$tmp/version" "$good"

model_copy "$tmp/op"
sed -i 's/"op":"Sigmoid"/"op":"Softplus"/' "$tmp/op/movenet-multipose.json"
expect "unsupported op" "node 'StatefulPartitionedCall/Sigmoid(_1)?' \(op Softplus\): op not supported" \
  --no-verify --model "$tmp/op" "$good"

expect "missing image" "$tmp/none.jpg: " "$tmp/none.jpg"
: >"$tmp/empty.jpg"
expect "empty image file" "$tmp/empty.jpg: .*empty" "$tmp/empty.jpg"
echo "not an image at all" >"$tmp/text.png"
expect "not an image" "$tmp/text.png: .*not an image" "$tmp/text.png"
printf '\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x01\x86\xa0\x00\x01\x86\xa0\x08\x02\x00\x00\x00\x27\x30\x9c\x9f\x00\x00\x00\x0c\x49\x44\x41\x54\x78\x9c\x63\x60\x60\x60\x00\x00\x00\x04\x00\x01\xf6\x17\x38\x55\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82' >"$tmp/huge.png"
expect "PNG of absurd size" "$tmp/huge.png: .*absurd dimensions 100000x100000" "$tmp/huge.png"
printf '\xff\xd8\xff\xc0\x00\x11\x08\xfd\xe8\xfd\xe8\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xd9' >"$tmp/huge.jpg"
expect "JPEG of absurd size" "$tmp/huge.jpg: .*absurd dimensions 65000x65000" "$tmp/huge.jpg"
head -c 20000 "$good" >"$tmp/cut.jpg"
expect "truncated JPEG" "$tmp/cut.jpg: .*truncated" "$tmp/cut.jpg"

expect "--max-people 33" "--max-people: expected a number from 1 to 32" --max-people 33 "$good"

# One bad image among good ones: the good ones still come out.
expect "bad image among good" "$tmp/none.jpg" "$good" "$tmp/none.jpg" "$golden/photo2.jpg"
if [ "$(grep -c '"people":' "$tmp/out")" -ne 2 ]; then
  echo "FAIL  bad image among good: expected 2 result lines"
  failures=$((failures + 1))
fi

if [ "$failures" -ne 0 ]; then
  echo "test_cli_errors: FAIL ($failures)"
  exit 1
fi
echo "test_cli_errors: PASS"
