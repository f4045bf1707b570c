#!/usr/bin/env bash
# A real Prometheus (Debian's) scrapes `posestream serve`'s /metrics from
# 127.0.0.1 every second; posestream_frames_total of each stream is read
# back through Prometheus' own query API and set against what serve says.
#   test_prometheus.sh POSESTREAM_BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
need_model
prom=$(command -v prometheus) || { echo "SKIP: prometheus is not installed (tools/setup.sh)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl is not installed (tools/setup.sh)"; exit 77; }
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(free_port)
pport=$(free_port)

"$bin" serve --listen "127.0.0.1:$port" --backend cpu --input-size 64 \
  'synthetic:64x64@10#name=door' 'synthetic:64x64@5#name=yard' 2>"$tmp/serve.err" &
pids+=($!)
cat >"$tmp/prometheus.yml" <<YML
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: posestream
    static_configs:
      - targets: ['127.0.0.1:$port']
YML
"$prom" --config.file="$tmp/prometheus.yml" --storage.tsdb.path="$tmp/data" \
  --web.listen-address="127.0.0.1:$pport" >"$tmp/prom.log" 2>&1 &
pids+=($!)

query='posestream_frames_total{outcome="processed"}'
for _ in $(seq 60); do
  sleep 1
  curl -s "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$query" >"$tmp/q.json" || continue
  python3 - "$tmp/q.json" <<'PY' && break
import json, sys
r = json.load(open(sys.argv[1]))["data"]["result"]
names = {x["metric"]["name"]: float(x["value"][1]) for x in r}
sys.exit(0 if len(names) == 2 and all(v > 0 for v in names.values()) else 1)
PY
done
curl -s "http://127.0.0.1:$port/metrics" >"$tmp/now.txt"
python3 - "$tmp/q.json" "$tmp/now.txt" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))["data"]["result"]
scraped = {x["metric"]["name"]: float(x["value"][1]) for x in r}
now = {}
for line in open(sys.argv[2]):
    m = re.match(r'posestream_frames_total\{stream="\d+",name="(\w+)",outcome="processed"\} (\d+)', line)
    if m: now[m.group(1)] = float(m.group(2))
print("through Prometheus:", scraped, "serve now:", now)
ok = set(scraped) == {"door", "yard"} and all(0 < scraped[k] <= now[k] for k in scraped)
print("test_prometheus:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
rc=$?
[ $rc -eq 0 ] || { tail -5 "$tmp/prom.log"; tail -5 "$tmp/serve.err"; }
exit $rc
