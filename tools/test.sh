#!/usr/bin/env bash
# The whole test suite: ctest on the release build, then the unit, golden and
# CLI tests again in an AddressSanitizer + UndefinedBehaviorSanitizer build
# (build-asan/), then the threaded tests under ThreadSanitizer (build-tsan/).
# The sanitizer builds leave the CUDA backend out: it cannot run without a
# GPU, and its tests (label gpu) run on a GPU machine. Run tools/setup.sh first.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== tests (release build)"
ctest --test-dir build --output-on-failure

echo "== tests under ASan + UBSan"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPOSESTREAM_WERROR=ON \
  -DPOSESTREAM_SANITIZE=address,undefined -DPOSESTREAM_CUDA=OFF >/dev/null
cmake --build build-asan -j"$(nproc)" >/dev/null
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure

echo "== pipeline and source tests under ThreadSanitizer"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DPOSESTREAM_WERROR=ON \
  -DPOSESTREAM_SANITIZE=thread -DPOSESTREAM_CUDA=OFF >/dev/null
cmake --build build-tsan -j"$(nproc)" --target test_pipeline test_source test_annotator test_fleet >/dev/null
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  ctest --test-dir build-tsan --output-on-failure -L pipeline

echo "== fuzzing the parsers"
tools/fuzz.sh
