#!/usr/bin/env bash
# bench --html: the report parses as XML (it is written as well-formed
# XHTML), holds one latency plot per stream, a throughput plot, and the same
# criteria and verdicts as the text bench printed.
#   test_bench_html.sh POSESTREAM_BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
need_model
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" bench --synthetic --num-streams 3 --resolution 320x180 --fps 10 --duration 4 \
  --backend cpu --html "$tmp/report.html" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ -s "$tmp/report.html" ] || { cat "$tmp/err"; echo "FAIL: no report (exit $rc)"; exit 1; }
python3 - "$tmp/report.html" "$tmp/out" <<'PY'
import sys, xml.etree.ElementTree as ET
report, out = sys.argv[1:]
ns = {"h": "http://www.w3.org/1999/xhtml", "s": "http://www.w3.org/2000/svg"}
root = ET.parse(report).getroot()
plots = [s.get("class") for s in root.iter("{http://www.w3.org/2000/svg}svg")]
rows = root.findall(".//h:table/h:tr", ns)[1:]
verdicts = [r.findall("h:td", ns)[-1].text for r in rows]
printed = [l.split()[-1] for l in open(out).read().split("criteria:")[1].splitlines()
           if l.startswith("  ") and not l.startswith("    ")]
ok = plots.count("latency") == 3 and plots.count("throughput") == 1 and \
     [v.split()[-1] for v in verdicts] == printed and len(printed) >= 6
print(f"{'ok  ' if ok else 'FAIL'}  {len(plots)} plots ({plots.count('latency')} of latency), "
      f"{len(verdicts)} criteria rows, as printed: {[v.split()[-1] for v in verdicts] == printed}")
if not ok:
    print("report:", verdicts, "printed:", printed)
print("test_bench_html:", "PASS" if ok else "FAIL")
sys.exit(0 if ok else 1)
PY
