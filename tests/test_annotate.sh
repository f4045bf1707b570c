#!/usr/bin/env bash
# Annotated video and snapshots on a real clip (vtest.avi): `run --annotate`
# writes an MP4 that FFmpeg decodes back with the source's frame count and
# size, and in decoded frames the pixels on the lines between the keypoints
# the JSON line gives for that frame have the colours of those limbs (the
# source frame there does not); `--snapshot-every` writes JPEGs of the same
# size, one per interval.
#   test_annotate.sh POSESTREAM_BINARY LIMB_COLOURS_HEADER
set -u
bin=$1
draw_c=$2
. "$(dirname "$0")/lib.sh"
need_model
need_clip
for t in ffmpeg ffprobe python3; do
  command -v $t >/dev/null || { echo "SKIP: $t missing (tools/setup.sh installs it)"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/video" "$tmp/snap"
"$bin" run --no-status --backend cpu -o "$tmp/r.jsonl" --annotate "$tmp/video" \
  --snapshot-every 20 "$tmp/snap" "$clip" 2>"$tmp/err" || { cat "$tmp/err"; echo "FAIL: run"; exit 1; }
python3 - "$tmp" "$clip" "$draw_c" <<'PY'
import json, re, subprocess, sys
tmp, clip, draw_c = sys.argv[1:]
fails = 0
def check(ok, what):
    global fails
    print(("ok    " if ok else "FAIL  ") + what)
    fails += not ok
def probe(path, count=True):
    args = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
            "stream=codec_name,width,height,nb_read_frames", "-of", "json"]
    out = subprocess.run(args + (["-count_frames"] if count else []) + [path],
                         capture_output=True, text=True).stdout
    return json.loads(out)["streams"][0]
src, got = probe(clip), probe(f"{tmp}/video/stream0.mp4")
check(got["codec_name"] in ("h264", "mpeg4") and (got["width"], got["height"]) ==
      (src["width"], src["height"]) and got["nb_read_frames"] == src["nb_read_frames"],
      f"video: {got['codec_name']} {got['width']}x{got['height']}, {got['nb_read_frames']} frames "
      f"(source {src['width']}x{src['height']}, {src['nb_read_frames']})")

# The limbs and their colours, read from the drawing code itself.
text = open(draw_c).read()
pairs = [tuple(map(int, p)) for p in re.findall(r"\{(\d+), (\d+)\}",
         text.split("ps_limbs[PS_NUM_LIMBS][2] = {")[1].split("};")[0])]
named = dict((n, tuple(map(int, c))) for n, *c in
             re.findall(r"#define (\w+) \{(\d+), (\d+), (\d+)\}", text))
order = re.findall(r"\w+", text.split("ps_limb_colour[PS_NUM_LIMBS] = {")[1].split("};")[0])
colours = [named[n] for n in order]
W, H = src["width"], src["height"]
def frame(path, n):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-vf", f"select=eq(n\\,{n})",
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         capture_output=True).stdout
    return raw if len(raw) == W * H * 3 else None
def near_colour(img, x, y, c, tol=70):
    for dy in range(-1, 2):
        for dx in range(-1, 2):
            xx, yy = int(round(x)) + dx, int(round(y)) + dy
            if 0 <= xx < W and 0 <= yy < H:
                p = img[3 * (yy * W + xx): 3 * (yy * W + xx) + 3]
                if sum((p[i] - c[i]) ** 2 for i in range(3)) ** 0.5 <= tol:
                    return True
    return False
lines = [json.loads(l) for l in open(f"{tmp}/r.jsonl")]
# Frames with a confident, long limb: the longest limbs of the best frames.
cands = []
for j in lines:
    for p in j["people"]:
        k = p["keypoints"]
        for (a, b), c in zip(pairs, colours):
            if k[a]["score"] > 0.3 and k[b]["score"] > 0.3:
                L = ((k[a]["x"] - k[b]["x"]) ** 2 + (k[a]["y"] - k[b]["y"]) ** 2) ** 0.5
                if L >= 12:
                    cands.append((L, j["frame"], k[a], k[b], c))
cands.sort(key=lambda t: -t[0])
best = []  # the 6 frames with the longest limbs, and every long limb in them
for cand in cands:
    if cand[1] not in best and len(best) < 6:
        best.append(cand[1])
picked = [cand for cand in cands if cand[1] in best]
hit = bg = total = 0
cache = {}
for L, f, a, b, c in picked:
    if f not in cache:
        cache[f] = (frame(f"{tmp}/video/stream0.mp4", f), frame(clip, f))
    drawn, orig = cache[f]
    if drawn is None or orig is None:
        continue
    for t in (0.3, 0.5, 0.7):
        x, y = a["x"] + (b["x"] - a["x"]) * t, a["y"] + (b["y"] - a["y"]) * t
        total += 1
        hit += near_colour(drawn, x, y, c)
        bg += near_colour(orig, x, y, c)
check(total >= 30 and hit >= 0.8 * total and bg <= 0.2 * total,
      f"limb colours on the limbs: {hit} of {total} points in {len(cache)} frames "
      f"(the source frame: {bg})")
snaps = sorted(subprocess.run(["ls", f"{tmp}/snap"], capture_output=True, text=True).stdout.split())
want = (int(src["nb_read_frames"]) + 199) // 200  # every 20 s at 10 fps
sizes = {(probe(f"{tmp}/snap/{s}", False)["width"], probe(f"{tmp}/snap/{s}", False)["height"])
         for s in snaps}
check(len(snaps) == want and sizes == {(W, H)},
      f"snapshots: {len(snaps)} ({want} expected), sizes {sorted(sizes)}")
print("test_annotate:", "FAIL" if fails else "PASS")
sys.exit(1 if fails else 0)
PY
