#!/usr/bin/env bash
# Results to a real broker: Debian's mosquitto on a free loopback port.
#  1. `run --mqtt` on two short clips: a subscriber gets exactly one poses
#     message per processed frame (per stream: the results lines), each
#     valid JSON, in order, plus each stream's retained state messages and
#     the status online/offline.
#  2. The broker killed (by its PID) mid-run and started again on the same
#     port, with a queue of 5 messages: the run goes on, messages resume,
#     the ones the queue could not hold meanwhile are counted in the
#     summary, exit status 0.
#  3. A wrong password: one clear error line and the run goes on without
#     MQTT; with --mqtt-required it stops with exit status 1.
#   test_mqtt.sh POSESTREAM_BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
need_model
need_clip
broker=$(command -v mosquitto || echo /usr/sbin/mosquitto)
for t in "$broker" mosquitto_sub mosquitto_pub mosquitto_passwd ffmpeg python3; do
  command -v "$t" >/dev/null || { echo "SKIP: $t missing (tools/setup.sh installs it)"; exit 77; }
done
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(free_port)
failures=0
check() { # check NAME EXPRESSION: the expression in bash
  if bash -c "$2"; then echo "ok    $1"; else echo "FAIL  $1"; failures=$((failures + 1)); fi
}
wait_line() { # wait_line FILE PATTERN: up to 20 s for a line matching it
  for _ in $(seq 200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
subscribe() { # subscribe FILE: a subscriber to ps/#, returning once it receives
  mosquitto_sub -h 127.0.0.1 -p "$port" -t 'ps/#' -v >"$1" 2>&1 &
  pids+=($!)
  sub_pid=$!
  for _ in $(seq 100); do
    mosquitto_pub -h 127.0.0.1 -p "$port" -t ps/probe -m probe 2>/dev/null
    grep -q "^ps/probe" "$1" && return 0
    sleep 0.1
  done
  echo "FAIL: the subscriber never received"; exit 1
}
start_broker() { # start_broker CONF: until its port answers
  "$broker" -c "$1" >>"$tmp/broker.log" 2>&1 &
  broker_pid=$!
  pids+=($broker_pid)
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null &&
      return 0
    sleep 0.1
  done
  echo "FAIL: mosquitto did not start"; tail -5 "$tmp/broker.log"; exit 1
}
printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_type all\n' "$port" \
  >"$tmp/open.conf"
ffmpeg -v error -t 4 -i "$clip" -c copy "$tmp/a.avi" && ffmpeg -v error -ss 20 -t 3 -i "$clip" \
  -c copy "$tmp/b.avi" || { echo "FAIL: cutting the clips"; exit 1; }

# 1. two clips, every message
start_broker "$tmp/open.conf"
subscribe "$tmp/sub.txt"
"$bin" run --no-status --backend cpu --mqtt "mqtt://127.0.0.1:$port/ps" -o "$tmp/r/" \
  "$tmp/a.avi" "$tmp/b.avi" 2>"$tmp/run1.err"
rc=$?
wait_line "$tmp/sub.txt" "^ps/status offline" # the last message the run sends
kill $sub_pid
check "two clips: exit status 0" "[ $rc -eq 0 ]"
python3 - "$tmp" <<'PY' || failures=$((failures + 1))
import json, sys
tmp = sys.argv[1]
msgs = [l.rstrip("\n").split(" ", 1) for l in open(f"{tmp}/sub.txt") if " " in l]
ok = True
for sid, name in ((0, "a.avi"), (1, "b.avi")):
    want = [json.loads(l) for l in open(f"{tmp}/r/stream{sid}.jsonl")]
    got = [json.loads(p) for t, p in msgs if t == f"ps/{name}/poses"]
    frames = [g["frame"] for g in got]
    same = [(g["frame"], len(g["people"])) for g in got] == [(w["frame"], len(w["people"])) for w in want]
    states = [json.loads(p)["state"] for t, p in msgs if t == f"ps/{name}/state"]
    good = same and frames == sorted(frames) and states == ["running", "ended"]
    print(f"{'ok   ' if good else 'FAIL '} {name}: {len(got)} poses messages for {len(want)} "
          f"processed frames, in order: {frames == sorted(frames)}, states {states}")
    ok &= good
status = [p for t, p in msgs if t == "ps/status"]
print(f"{'ok   ' if status == ['online', 'offline'] else 'FAIL '} status {status}")
sys.exit(0 if ok and status == ["online", "offline"] else 1)
PY

# 2. the broker killed mid-run and started again
subscribe "$tmp/sub2.txt"
"$bin" run --no-status --backend cpu --duration 9 --mqtt "mqtt://127.0.0.1:$port/ps" \
  --mqtt-queue 5 -o /dev/null synthetic:160x120@10 2>"$tmp/run2.err" &
run_pid=$!
sleep 3
kill -9 $broker_pid
wait $broker_pid 2>/dev/null
sleep 2
start_broker "$tmp/open.conf"
subscribe "$tmp/sub3.txt"
wait $run_pid
rc=$?
wait_line "$tmp/sub3.txt" "^ps/status offline"
after=$(grep -c '/poses ' "$tmp/sub3.txt")
lost=$(sed -n 's/^mqtt .* \([0-9]*\) dropped.*/\1/p' "$tmp/run2.err")
outages=$(grep -c "connection lost" "$tmp/run2.err")
echo "      before the kill $(grep -c '/poses ' "$tmp/sub2.txt"), after the restart $after messages;" \
  "the summary: ${lost:-?} dropped; $outages outage notice(s)"
check "broker killed and restarted: exit 0, messages resume, losses counted, said once" \
  "[ $rc -eq 0 ] && [ $after -gt 10 ] && [ ${lost:-0} -gt 0 ] && [ $outages -eq 1 ]"
kill $broker_pid
wait $broker_pid 2>/dev/null # its port free again

# 3. a wrong password
mosquitto_passwd -c -b "$tmp/passwd" user right >/dev/null 2>&1
chmod o+rx "$tmp" && chmod o+r "$tmp/passwd" # mosquitto started as root reads it as its own user
printf 'listener %s 127.0.0.1\nallow_anonymous false\npassword_file %s\npersistence false\nlog_type all\n' \
  "$port" "$tmp/passwd" >"$tmp/auth.conf"
start_broker "$tmp/auth.conf"
"$bin" run --no-status --backend cpu --duration 2 --mqtt "mqtt://user:wrong@127.0.0.1:$port/ps" \
  -o /dev/null synthetic:160x120@10 2>"$tmp/run3.err"
rc=$?
lines=$(grep -ci "mqtt.*refused" "$tmp/run3.err")
check "wrong password: one error line, the run goes on (exit 0), the password never shown" \
  "[ $rc -eq 0 ] && [ $lines -eq 1 ] && ! grep -q wrong '$tmp/run3.err'"
grep -i "mqtt.*refused" "$tmp/run3.err" | sed 's/^/      /'
"$bin" run --no-status --backend cpu --duration 2 --mqtt "mqtt://user:wrong@127.0.0.1:$port/ps" \
  --mqtt-required -o /dev/null synthetic:160x120@10 2>"$tmp/run4.err"
rc=$?
check "wrong password with --mqtt-required: exit 1 naming it" \
  "[ $rc -eq 1 ] && grep -qi 'error: .*refused' '$tmp/run4.err'"
"$bin" run --no-status --backend cpu --duration 2 --mqtt "mqtt://user:right@127.0.0.1:$port/ps" \
  --mqtt-required -o /dev/null synthetic:160x120@10 2>"$tmp/run5.err"
rc=$?
check "the right password: runs" "[ $rc -eq 0 ]"

if [ $failures -ne 0 ]; then echo "test_mqtt: FAIL ($failures)"; exit 1; fi
echo "test_mqtt: PASS"
