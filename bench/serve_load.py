#!/usr/bin/env python3
"""What `posestream serve`'s HTTP side costs the engine (issue 14's targets).

  serve_load.py load BIN N URI [serve options...]
      N streams of URI, twice quiet and twice under load (10 /metrics
      scrapes and 20 API calls a second), interleaved; per run the frames/s
      processed after the warm-up (from the API's counts) and the overall
      p99 of the summary serve prints at SIGTERM.
  serve_load.py preview BIN N URI [serve options...]
      the same, twice quiet and twice with one client watching stream 0's
      preview (MJPEG, 5 pictures a second, 360 high): issue 16's target.
  serve_load.py adds BIN N URI [serve options...]
      an empty serve, then N streams added through POST one after another:
      the time of each answer, and how many run 10 s later.
env: WARMUP (5 s), DURATION (20 s), PORT (18181).
"""
import json, os, re, signal, statistics, subprocess, sys, threading, time, urllib.request

WARMUP = float(os.environ.get("WARMUP", 5))
DURATION = float(os.environ.get("DURATION", 20))
PORT = int(os.environ.get("PORT", 18181))
BASE = f"http://127.0.0.1:{PORT}"


def call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


def start(binary, uris, extra):
    cmd = [binary, "serve", "--listen", f"127.0.0.1:{PORT}", *extra, *uris]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        try:
            call("GET", "/api/v1/health")
            return p
        except OSError:
            time.sleep(0.1)
    p.kill()
    sys.exit("serve did not answer: " + p.stderr.read()[-2000:])


def stop(p):
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=120)[1]
    m = re.search(r"^all\s+(\d+)\s+(\d+)(?:\s+\S+){8}\s+(\S+)\s+(\S+)\s+(\S+)", err, re.M)
    return float(m.group(4)) if m else float("nan")  # p99 ms of every frame (then max)


def processed():
    return sum(s["processed"] for s in json.loads(call("GET", "/api/v1/streams")[1]))


def load(stop_at):
    """10 scrapes and 20 API calls a second until stop_at."""
    t = time.time()
    k = 0
    while t < stop_at:
        call("GET", "/metrics")
        call("GET", "/api/v1/streams" if k % 2 else "/api/v1/health")
        call("GET", "/api/v1/health")
        k += 1
        t += 0.1
        time.sleep(max(0.0, t - time.time()))
    return k


def watch(stop_at):
    """One client on stream 0's preview until stop_at; returns the pictures."""
    url = BASE + "/api/v1/streams/0/preview.mjpeg?fps=5&height=360"
    n = 0
    with urllib.request.urlopen(url, timeout=30) as r:
        while time.time() < stop_at:
            line = r.readline()
            if line.lower().startswith(b"content-length:"):
                r.readline()
                r.read(int(line.split(b":")[1]))
                n += 1
    return n


def one_run(binary, uris, extra, during):
    p = start(binary, uris, extra)
    time.sleep(WARMUP)
    n0, t0 = processed(), time.time()
    calls = during(t0 + DURATION) if during else (time.sleep(DURATION) or 0)
    n1, t1 = processed(), time.time()
    p99 = stop(p)
    return (n1 - n0) / (t1 - t0), p99, calls / (t1 - t0)


def cmd_load(binary, n, uri, extra, during=lambda t: load(t) * 3, what="requests"):
    uris = [f"{uri}#name=s{k}" for k in range(n)]
    rows = []
    for rnd in range(2):
        for loaded in ((False, True) if rnd == 0 else (True, False)):
            fps, p99, rate = one_run(binary, uris, extra, during if loaded else None)
            rows.append((loaded, fps, p99))
            print(f"{'loaded' if loaded else 'quiet ':6}  {fps:9.1f} frames/s  p99 {p99:7.2f} ms"
                  f"  {rate:5.1f} {what}/s", flush=True)
    q = [r for r in rows if not r[0]]
    l = [r for r in rows if r[0]]
    qf, lf = statistics.mean(r[1] for r in q), statistics.mean(r[1] for r in l)
    qp, lp = statistics.mean(r[2] for r in q), statistics.mean(r[2] for r in l)
    print(f"under load: throughput {100 * (lf - qf) / qf:+.2f}% (targets: requests > -1%, "
          f"a preview > -2%), p99 {lp - qp:+.2f} ms")


def cmd_adds(binary, n, uri, extra):
    p = start(binary, [], extra)
    times = []
    for k in range(n):
        t = time.time()
        status, _ = call("POST", "/api/v1/streams", {"uri": uri, "name": f"a{k}"})
        times.append((time.time() - t) * 1000)
        assert status == 201, status
    time.sleep(10)
    running = json.loads(call("GET", "/api/v1/health")[1])["streams"]
    stop(p)
    slowest = sorted(range(n), key=lambda k: -times[k])[:3]
    print("slowest: " + ", ".join(f"#{k} {times[k]:.1f} ms" for k in slowest))
    times.sort()
    print(f"{n} POSTs one after another: median {statistics.median(times):.1f} ms, "
          f"p99 {times[int(0.99 * (n - 1))]:.1f} ms, max {times[-1]:.1f} ms (target < 50 ms each); "
          f"{running} streams active 10 s later")


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] not in ("load", "preview", "adds"):
        sys.exit(__doc__)
    what, binary, n, uri = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    if what == "preview":
        cmd_load(binary, n, uri, sys.argv[5:], watch, "pictures")
    else:
        (cmd_load if what == "load" else cmd_adds)(binary, n, uri, sys.argv[5:])
