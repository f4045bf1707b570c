#!/usr/bin/env bash
# `posestream serve` for real (issue 14): started on a free loopback port
# with synthetic streams and driven with curl: health, version, add, list,
# change, remove, every error the API answers (400, 401, 404, 405, 409 is
# left to admission's own tests, 413, 415), results as text/event-stream,
# the token check, SIGTERM (summary, exit 0).
#   test_serve.sh POSESTREAM_BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
need_model
command -v curl >/dev/null || { echo "SKIP: curl is not installed (tools/setup.sh)"; exit 77; }
tmp=$(mktemp -d)
pid=
trap 'rm -rf "$tmp"; [ -n "$pid" ] && kill "$pid" 2>/dev/null' EXIT
failures=0
ok() { printf 'ok    %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; failures=$((failures + 1)); }
port=$(free_port)
url=http://127.0.0.1:$port
# req METHOD PATH [BODY [CONTENT-TYPE]]: the body to $tmp/body, prints the status
req() {
  local args=(-s -o "$tmp/body" -w '%{http_code}' -X "$1" "$url$2")
  [ $# -ge 3 ] && args+=(--data-binary "$3" -H "Content-Type: ${4:-application/json}")
  curl "${args[@]}"
}
# expect NAME STATUS WANT [GREP]: status and, when given, a pattern in the body
expect() {
  if [ "$2" = "$3" ] && { [ -z "${4:-}" ] || grep -q -- "$4" "$tmp/body"; }; then ok "$1 ($2)"
  else fail "$1: got $2, wanted $3 ${4:+with '$4'}: $(head -c 300 "$tmp/body")"; fi
}
field() { python3 -c "import json,sys; print(json.load(open('$tmp/body'))$1)"; }

"$bin" serve --listen "127.0.0.1:$port" --backend cpu --input-size 64 \
  synthetic:64x64@10#name=first >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do curl -s "$url/api/v1/health" >/dev/null && break; sleep 0.1; done

expect "health" "$(req GET /api/v1/health)" 200 '"status":"ok"'
expect "version" "$(req GET /api/v1/version)" 200 '"version":"'
expect "add" "$(req POST /api/v1/streams '{"uri":"synthetic:64x64@10","name":"cam \"2\"","priority":1}')" 201 '"id":1'
expect "add: not JSON" "$(req POST /api/v1/streams '{"uri":')" 400 'not JSON'
expect "add: no uri" "$(req POST /api/v1/streams '{"name":"x"}')" 400 'uri.*missing'
expect "add: priority a string" "$(req POST /api/v1/streams '{"uri":"a.mp4","priority":"high"}')" 400 'priority'
expect "add: unknown field" "$(req POST /api/v1/streams '{"uri":"a.mp4","colour":1}')" 400 'colour'
expect "add: not JSON content" "$(req POST /api/v1/streams '{"uri":"a.mp4"}' text/plain)" 415
head -c 70000 /dev/zero | tr '\0' ' ' >"$tmp/big"
expect "add: body over 64 KiB" "$(req POST /api/v1/streams "@$tmp/big")" 413
expect "list" "$(req GET /api/v1/streams)" 200
[ "$(field '.__len__()')" = 2 ] && ok "list: 2 streams" || fail "list: $(field '.__len__()') streams"
expect "change" "$(req PATCH /api/v1/streams/1 '{"priority":5,"max_fps":4}')" 200 '"priority":5'
expect "change: unknown field" "$(req PATCH /api/v1/streams/1 '{"uri":"x"}')" 400 'unknown field'
expect "change: bad value" "$(req PATCH /api/v1/streams/1 '{"max_fps":-1}')" 400 'max_fps'
expect "change: unknown id" "$(req PATCH /api/v1/streams/77 '{"priority":1}')" 404
expect "get: unknown id" "$(req GET /api/v1/streams/77)" 404 'no such stream'
expect "no such endpoint" "$(req GET /api/v2/nothing)" 404 'no such endpoint'
expect "method not allowed" "$(req PUT /api/v1/streams)" 405 'not allowed'
expect "results: bad stream" "$(req GET '/api/v1/results?stream=x')" 400

curl -sN --max-time 3 "$url/api/v1/results?stream=1" >"$tmp/events"
python3 - "$tmp/events" <<'PY' && ok "results: event-stream of stream 1, frames in order" || fail "results stream"
import json, sys
frames = [json.loads(l[6:]) for l in open(sys.argv[1]) if l.startswith("data: ")]
assert frames and all(f["stream"] == 1 and f["name"] == 'cam "2"' for f in frames), frames[:2]
assert [f["frame"] for f in frames] == sorted(f["frame"] for f in frames)
print(f"      {len(frames)} events in 3 s")
PY

expect "remove" "$(req DELETE /api/v1/streams/1)" 200 '"state":"removed"'
expect "remove again" "$(req DELETE /api/v1/streams/1)" 409 'already ended or removed'
expect "metrics" "$(req GET /metrics)" 200 'posestream_frames_total{stream="0",name="first",outcome="processed"}'
grep -q '^# TYPE posestream_latency_seconds histogram' "$tmp/body" && ok "metrics: latency histogram" || fail "metrics: no latency histogram"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
[ "$rc" -eq 0 ] && grep -q '^all ' "$tmp/err" && grep -q 'SIGTERM' "$tmp/err" \
  && ok "SIGTERM: summary, exit 0" || { fail "SIGTERM: exit $rc"; tail -5 "$tmp/err"; }

# -- the token: outside the loopback only with one, then every request needs it
"$bin" serve --listen "0.0.0.0:$port" --backend cpu >/dev/null 2>"$tmp/err"
[ $? -eq 1 ] && grep -q 'without --token-file' "$tmp/err" && ok "0.0.0.0 without --token-file: refused" \
  || fail "0.0.0.0 without a token: $(cat "$tmp/err")"
echo "s3cret-token-for-tests" >"$tmp/token"
"$bin" serve --listen "0.0.0.0:$port" --token-file "$tmp/token" --backend cpu --input-size 64 \
  >/dev/null 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do curl -s "$url/api/v1/health" >/dev/null && break; sleep 0.1; done
expect "no token" "$(req GET /api/v1/health)" 401
expect "wrong token" "$(curl -s -o "$tmp/body" -w '%{http_code}' -H 'Authorization: Bearer nope' "$url/api/v1/health")" 401
expect "the token" "$(curl -s -o "$tmp/body" -w '%{http_code}' -H 'Authorization: Bearer s3cret-token-for-tests' "$url/api/v1/health")" 200
kill -TERM "$pid"; wait "$pid"; pid=

[ "$failures" -eq 0 ] && echo "test_serve: PASS" || { echo "test_serve: FAIL ($failures)"; exit 1; }
