#!/usr/bin/env bash
# The library as others get it (issue 13): `cmake --install` into a temporary
# prefix, then the examples built against the installed copy through
# pkg-config (shared, and static from libposestream.a with --static) and run;
# the shared library exports ps_ names only and carries its SONAME; the CLI
# includes the public header alone and, installed, finds its sample photos.
# usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

cmake --install "$build" --prefix "$tmp/inst" >/dev/null
inst=$tmp/inst
lib=$(ls -d "$inst"/lib*/ | head -1)
for f in include/posestream.h bin/posestream; do
  [ -e "$inst/$f" ] || fail "not installed: $f"
done
for f in libposestream.so libposestream.a pkgconfig/posestream.pc; do
  [ -e "$lib/$f" ] || fail "not installed: $lib$f"
done
ls "$inst"/share/posestream/samples/*.jpg >/dev/null || fail "sample photographs not installed"
echo "installed: $(cd "$inst" && find . -type f | sort | tr '\n' ' ')"

soname=$(readelf -d "$lib/libposestream.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
version=$(sed -n 's/^Version: //p' "$lib/pkgconfig/posestream.pc")
[ "$soname" = "libposestream.so.${version%.*}" ] || fail "SONAME '$soname' for version $version"
echo "SONAME $soname (version $version)"

nm -D --defined-only "$lib/libposestream.so" | awk '{print $NF}' >"$tmp/syms"
others=$(grep -v '^ps_' "$tmp/syms" || true)
[ -z "$others" ] || fail "exported beyond ps_: $(echo "$others" | head -5 | tr '\n' ' ')"
echo "exported: $(wc -l <"$tmp/syms") symbols, every one ps_"

bad=$(grep -h '#include "' "$src"/src/cli/*.c "$src"/src/cli/*.h | grep -v -e '"cli/' -e '"posestream.h"' || true)
[ -z "$bad" ] || fail "the CLI includes internals: $bad"
echo "src/cli includes posestream.h and its own headers only"

export PKG_CONFIG_PATH=$lib/pkgconfig
# static: the archive with its dependencies' shared libraries (Debian's
# FFmpeg ships none static, so `pkg-config --static` asks for more than is
# installed): Requires.private through pkg-config, then Libs.private
pc=$lib/pkgconfig/posestream.pc
if ! why=$(pkg-config --cflags --libs posestream 2>&1); then
  # a machine without its dependencies' -dev packages (the GPU machine's kit)
  echo "SKIP: pkg-config cannot resolve posestream's requirements here: $why"; exit 77
fi
static_deps="$(pkg-config --libs $(sed -n 's/^Requires.private: //p' "$pc")) $(sed -n 's/^Libs.private: //p' "$pc")"
for ex in detect_image multi_stream; do
  # shellcheck disable=SC2046
  cc -std=c11 -Wall -Wextra -Werror "$src/examples/$ex.c" -o "$tmp/$ex" \
    $(pkg-config --cflags --libs posestream) -Wl,-rpath,"$lib"
  # shellcheck disable=SC2046
  cc -std=c11 -Wall -Wextra -Werror "$src/examples/$ex.c" -o "$tmp/$ex-static" \
    $(pkg-config --cflags posestream) "$lib/libposestream.a" $static_deps
done
echo "examples built against the installed library: shared and static"
ldd "$tmp/multi_stream" | grep -q "$lib" || fail "multi_stream does not load the installed library"

model=${POSESTREAM_MODEL_DIR:-$HOME/.cache/posestream}
if [ ! -f "$model/movenet-multipose.json" ]; then
  echo "SKIP: running them needs the model (tools/fetch-model.sh)"; exit 77
fi
photo=$(ls "$inst"/share/posestream/samples/*.jpg | head -1)
"$tmp/detect_image" "$photo" >"$tmp/one.json" 2>"$tmp/err" || { cat "$tmp/err"; fail "detect_image"; }
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["people"], d' "$tmp/one.json" \
  || fail "detect_image: no person in $photo"
"$tmp/detect_image-static" "$photo" | cmp - "$tmp/one.json" || fail "static and shared differ"
echo "detect_image: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["people"]))' "$tmp/one.json") people in $(basename "$photo"), static build the same"

samples=$inst/share/posestream/samples
n=$(ls "$samples"/*.jpg | wc -l)
"$tmp/multi_stream" "$samples" "$samples" >"$tmp/lines" 2>"$tmp/err" || { cat "$tmp/err"; fail "multi_stream"; }
got=$(grep -c ' people, ' "$tmp/lines" || true)
[ "$got" -eq $((2 * n)) ] || { cat "$tmp/lines" "$tmp/err"; fail "multi_stream: $got lines for 2 x $n frames"; }
grep -q '^all ' "$tmp/err" || fail "multi_stream: no summary"
echo "multi_stream: $got result lines for 2 streams of $n photos, summary printed"

"$inst/bin/posestream" detect >"$tmp/cli.jsonl" 2>"$tmp/err" || { cat "$tmp/err"; fail "installed posestream detect"; }
[ "$(wc -l <"$tmp/cli.jsonl")" -eq "$n" ] || fail "installed detect: $(wc -l <"$tmp/cli.jsonl") lines for $n samples"
echo "installed posestream detect: $n sample photographs found under share/"
