#!/usr/bin/env bash
# Many 1080p30 streams on one GPU (or every GPU visible: a line per GPU
# follows, and their decoders' spread), the figures of bench/NOTES.md's scale
# table: for each stream count N, the decoders' ceiling for the same N
# streams (decode only) and then N streams through posestream (`bench
# --ceiling`); one line per run: delivered frames/s, p50/p99, drops, VRAM,
# CPU per stream, the ceiling and PASS/FAIL. The driver creates NVDEC
# decoders one at a time (about 50 to 90 ms each, bench/NOTES.md), so the
# start-up window is N / 10 s (at least 2) and the run lasts that plus
# MEASURE seconds. Logs and JSON under $OUT (default /tmp/scale).
#   bench/scale.sh CODEC N...        CODEC: h264 or hevc
#   env: BIN (build-gpu/posestream), CLIPS (.gpukit/clips), BATCH (64),
#        MEASURE (20), WARMUP (the window, s), MAX_LATENCY_MS (50),
#        EXTRA (more bench options)
set -u
codec=$1
shift
bin=${BIN:-build-gpu/posestream}
clip=${CLIPS:-.gpukit/clips}/people_1080p_$codec.mp4
out=${OUT:-/tmp/scale}
mkdir -p "$out"
printf '%-5s %5s %5s %9s %8s %8s %7s %8s %9s %9s %7s %s\n' codec N batch "frames/s" "p50 ms" \
  "p99 ms" "drop %" "VRAM MB" "cores/N" "ceiling" "start s" result
for n in "$@"; do
  name=$codec-$n-b${BATCH:-64}
  warm=${WARMUP:-$(( n / 10 > 2 ? n / 10 : 2 ))}
  # shellcheck disable=SC2086
  "$bin" bench --videos "$clip" --num-streams "$n" --batch-size "${BATCH:-64}" \
    --warmup "$warm" --duration $(( warm + ${MEASURE:-20} )) \
    --max-latency-ms "${MAX_LATENCY_MS:-50}" --ceiling \
    --json "$out/$name.json" ${EXTRA:-} >"$out/$name.txt" 2>&1
  rc=$?
  python3 - "$out/$name.json" "$codec" "$n" "${BATCH:-64}" "$rc" <<'PY'
import json, sys
path, codec, n, batch, rc = sys.argv[1:]
try:
    j = json.load(open(path))
except Exception as e:
    print(f"{codec:5} {n:>5} {batch:>5}  no report ({e}), exit {rc}")
    sys.exit()
r = j["report"]
lat = r["latency"]
ceil = j.get("ceiling", {}).get("fps_total", 0)
# delivered: frames per second processed in the measured window
nominal = sum(s["fps_nominal"] for s in r["streams"])
fps = j["delivery"]["total_of_nominal_pct"] / 100 * nominal
print(f"{codec:5} {n:>5} {batch:>5} {fps:9.1f} {lat['p50_ms']:8.2f} {lat['p99_ms']:8.2f} "
      f"{r['drop_pct']:7.3f} {r['vram_mb']:8.0f} {j['cpu_pct'] / 100 / int(n):9.3f} "
      f"{ceil:9.1f} {j['delivery']['slowest_first_frame_s']:7.1f} "
      f"{'PASS' if j['pass'] else 'FAIL'} (exit {rc})")
# several GPUs: each one's share, and the issue's balance criterion (the
# decoders of any two within 5 points; NVML's figure at the end of the run)
gpus = r.get("gpus", [])
for g in gpus if len(gpus) > 1 else []:
    print(f"      GPU {g['gpu']}: {g['streams']} streams, {g['fps']:.1f} frames/s, p99 "
          f"{g['latency']['p99_ms']:.2f} ms, decoders {g['util_decoder']}%, VRAM "
          f"{g['vram_peak_mb']:.0f} MB peak{', FAILED' if g['failed'] else ''}")
if len(gpus) > 1:
    dec = [g["util_decoder"] for g in gpus]
    spread = max(dec) - min(dec)
    print(f"      decoders' spread {spread} points: {'PASS' if spread <= 5 else 'FAIL'} (<= 5)")
PY
done
