#!/usr/bin/env bash
# The live page in a real browser: Debian's headless Chromium, driven over
# its DevTools protocol (Debian's python3-websocket), loads / from a running
# `posestream serve` on 127.0.0.1 with two synthetic streams; it must show
# two previews that are pictures, two screenshots of them a second apart
# must differ (the previews move), the add form must add a stream that then
# appears, and its remove button must take it away again.
#   test_page.sh POSESTREAM_BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
need_model
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "SKIP: chromium missing (tools/setup.sh installs it)"; exit 77; }
py=/usr/bin/python3 # Debian's, where python3-websocket is
$py -c "import websocket" 2>/dev/null || { echo "SKIP: python3-websocket missing"; exit 77; }
tmp=$(mktemp -d)
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
devport=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" serve --listen "127.0.0.1:$port" --backend cpu --no-verify \
  synthetic:320x180@10 synthetic:320x180@10 2>"$tmp/serve.err" &
serve_pid=$!
"$browser" --headless=new --no-sandbox --disable-gpu --user-data-dir="$tmp/profile" \
  --remote-debugging-port="$devport" --window-size=1280,900 about:blank >"$tmp/chromium.log" 2>&1 &
browser_pid=$!
trap 'kill $serve_pid $browser_pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
$py - "$port" "$devport" <<'PY'
import base64, json, sys, time, urllib.request
import websocket
port, devport = sys.argv[1:]
base = f"http://127.0.0.1:{port}"
def wait_for(url, seconds):
    for _ in range(int(seconds * 10)):
        try:
            return urllib.request.urlopen(url, timeout=2).read()
        except OSError:
            time.sleep(0.1)
    sys.exit(f"FAIL: {url} not answering")
wait_for(base + "/api/v1/health", 30)
wait_for(f"http://127.0.0.1:{devport}/json/version", 30)
req = urllib.request.Request(f"http://127.0.0.1:{devport}/json/new?about:blank", method="PUT")
target = json.loads(urllib.request.urlopen(req).read())
ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=30)
seq = 0
def call(method, **params):
    global seq
    seq += 1
    ws.send(json.dumps({"id": seq, "method": method, "params": params}))
    while True:
        m = json.loads(ws.recv())
        if m.get("id") == seq:
            if "error" in m:
                sys.exit(f"FAIL: {method}: {m['error']}")
            return m["result"]
def js(expr):
    r = call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
    return r["result"].get("value")
def until(expr, seconds):
    for _ in range(int(seconds * 5)):
        v = js(expr)
        if v:
            return v
        time.sleep(0.2)
    return js(expr)
fails = 0
def check(ok, what):
    global fails
    print(("ok    " if ok else "FAIL  ") + what)
    fails += not ok
call("Page.enable")
call("Page.navigate", url=base + "/")
shown = until("[...document.querySelectorAll('.card img')].filter(i => i.naturalWidth > 0).length == 2", 20)
n = js("document.querySelectorAll('.card img').length")
w = js("[...document.querySelectorAll('.card img')].map(i => i.naturalWidth + 'x' + i.naturalHeight).join(' ')")
check(shown and n == 2, f"two previews on the page, pictures of {w}")
rect = js("(() => { const r = document.querySelector('.card img').getBoundingClientRect(); "
          "return [r.x, r.y, r.width, r.height]; })()")
clip = dict(x=rect[0], y=rect[1], width=rect[2], height=rect[3], scale=1)
shots = []
for _ in range(2):
    shots.append(base64.b64decode(call("Page.captureScreenshot", format="png", clip=clip)["data"]))
    time.sleep(1)
check(shots[0] != shots[1], f"screenshots of the first preview a second apart differ "
      f"({len(shots[0])} and {len(shots[1])} bytes of PNG)")
js("document.querySelector('#add [name=uri]').value = 'synthetic:320x180@10';"
   "document.querySelector('#add [name=name]').value = 'from-the-form';"
   "document.querySelector('#add button').click(); true")
added = until("[...document.querySelectorAll('.card .name')].some(e => e.textContent.startsWith('from-the-form'))", 10)
api = json.loads(urllib.request.urlopen(base + "/api/v1/streams").read())
check(added and any(s["name"] == "from-the-form" for s in api) and len(api) == 3,
      f"the form added a stream: on the page, and {len(api)} streams in the API")
js("[...document.querySelectorAll('.card')].find(c => c.querySelector('.name').textContent"
   ".startsWith('from-the-form')).querySelector('.rm').click(); true")
gone = until("document.querySelectorAll('.card').length == 2", 10)
check(gone, "its remove button took it away")
ws.close()
print("test_page:", "FAIL" if fails else "PASS")
sys.exit(1 if fails else 0)
PY
rc=$?
[ $rc -eq 0 ] || tail -5 "$tmp/serve.err"
exit $rc
