#!/usr/bin/env bash
# The live pipeline under churn (issue 11's GPU target): N streams of URI,
# the first HIGH of them at priority 1 with max_latency_ms HI_MS, the rest
# at priority 0 (LO_MS: their deadline, 0 none), while ADD more are added
# and REMOVE of the priority-0 ones removed during the run (bench --add,
# --remove). Prints bench's table, the figures by priority and the live
# criteria (the high priority loses no frame and keeps its deadline; no
# stream that stays loses a frame).
#   bench/live.sh N HIGH ADD REMOVE [more bench options]
#   env: BIN (build/posestream), URI (synthetic:1920x1080@30), HI_MS (50),
#        LO_MS (0)
set -eu
[ $# -ge 4 ] || { sed -n '2,12p' "$0"; exit 2; }
n=$1 high=$2 add=$3 remove=$4
shift 4
bin=${BIN:-build/posestream}
uri=${URI:-synthetic:1920x1080@30}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lo=""
[ "${LO_MS:-0}" != 0 ] && lo=",\"max_latency_ms\":$LO_MS"
{
  echo '['
  for k in $(seq 0 $((n - 1))); do
    sep=,
    [ "$k" -eq $((n - 1)) ] && sep=
    if [ "$k" -lt "$high" ]; then
      echo "{\"uri\":\"$uri\",\"name\":\"high$k\",\"priority\":1,\"max_latency_ms\":${HI_MS:-50}}$sep"
    else
      echo "{\"uri\":\"$uri\",\"name\":\"s$k\"$lo}$sep"
    fi
  done
  echo ']'
} >"$tmp/streams.json"
"$bin" bench --streams "$tmp/streams.json" --add "$add" --remove "$remove" "$@"
