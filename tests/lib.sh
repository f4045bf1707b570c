# What the shell tests share (sourced, not run): where the model and the
# sample clip are cached, skipping (exit 77) when they are missing, and a
# free port on the loopback for a server a test starts.
ps_cache=${POSESTREAM_MODEL_DIR:-$HOME/.cache/posestream}

need_model() {
  [ -f "$ps_cache/movenet-multipose.json" ] ||
    { echo "SKIP: model not in $ps_cache (tools/fetch-model.sh)"; exit 77; }
}

# Sets clip to the cached vtest.avi.
need_clip() {
  clip=$ps_cache/vtest.avi
  [ -f "$clip" ] || { echo "SKIP: $clip missing (tools/fetch-data.sh)"; exit 77; }
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
