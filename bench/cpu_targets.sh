#!/usr/bin/env bash
# Issue 11's CPU targets, each run N times in a row (default 5), as one
# table of p99 end-to-end latencies: the README's main job (`run`, 4 x
# vtest.avi in real time), `bench --videos vtest.avi --num-streams 4`, and
# the overload case (8 live synthetic 640x360@30 streams, two of priority 1
# with max_latency_ms 150, six of priority 0 with 250; its criteria are the
# deadlines and no loss at the highest priority). Run it on an otherwise
# idle machine: the timings are the machine's.
#   bench/cpu_targets.sh [N]      (env: BIN, default build/posestream)
set -u
n=${1:-5}
bin=${BIN:-build/posestream}
clip=${POSESTREAM_MODEL_DIR:-$HOME/.cache/posestream}/vtest.avi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
  echo '['
  for k in 0 1; do
    echo "{\"uri\":\"synthetic:640x360@30\",\"name\":\"hi$k\",\"priority\":1,\"max_latency_ms\":150},"
  done
  for k in 0 1 2 3 4; do
    echo "{\"uri\":\"synthetic:640x360@30\",\"name\":\"lo$k\",\"max_latency_ms\":250},"
  done
  echo '{"uri":"synthetic:640x360@30","name":"lo5","max_latency_ms":250}]'
} >"$tmp/overload.json"
p99() { sed -n 's/.*end-to-end latency p50 \/ p99 *[0-9.]* \/ \([0-9.]*\) ms.*/\1/p' "$1"; }
printf '%-4s %-22s %-22s %-40s\n' run "main job p99 ms" "bench vtest x4 p99 ms" \
  "overload: hi p99 / lost, lo p99 / skipped"
for i in $(seq "$n"); do
  "$bin" run --no-status >"$tmp/run" 2>&1
  main=$(sed -n 's/^all .* \([0-9.]*\) *[0-9.]*$/\1/p' "$tmp/run" | tail -1)
  "$bin" bench --videos "$clip" --num-streams 4 >"$tmp/bench" 2>&1
  "$bin" bench --streams "$tmp/overload.json" --duration 15 >"$tmp/over" 2>&1
  hi=$(sed -n 's/.*priority 1 .*= [0-9]* + \([0-9]*\) + \([0-9]*\) .*p99 \([0-9.]*\) ms/\3 ms, \1 dropped + \2 late/p' "$tmp/over")
  lo=$(sed -n 's/.*priority 0 .*= [0-9]* + [0-9]* + [0-9]* + \([0-9]*\) .*p99 \([0-9.]*\) ms/\2 ms, \1 skipped/p' "$tmp/over")
  printf '%-4s %-22s %-22s %-40s\n' "$i" "$main" "$(p99 "$tmp/bench")" "$hi; $lo"
done
