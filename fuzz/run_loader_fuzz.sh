#!/usr/bin/env bash
# Fuzz the case loader for a bounded time under ASan/UBSan.
#   fuzz/run_loader_fuzz.sh [seconds]      (default 60)
# Builds only core + the libFuzzer harness with clang in build-fuzz/ (the main build
# uses g++), seeds from core/testdata/{valid,malformed}, and exits non-zero on
# any finding (crash, sanitizer report, leak, timeout, or an exception other
# than InputError). Reproducers land in build-fuzz/findings/.
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MOECHECK_FUZZ_BUILD_DIR:-$root/build-fuzz}"
jobs="${MOECHECK_FUZZ_BUILD_JOBS:-2}"

mkdir -p "$build"
CC="${CC_FUZZ:-clang}" CXX="${CXX_FUZZ:-clang++}" cmake -S "$root" -B "$build" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOECHECK_ENABLE_CUDA=OFF \
  -DMOECHECK_BUILD_FUZZERS=ON >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 2; }
cmake --build "$build" --target case_loader_fuzz -j "$jobs" >"$build/build.log" 2>&1 || { tail -50 "$build/build.log"; exit 2; }

# The working corpus grows in build-fuzz/; the committed files are read-only seeds.
corpus="$build/corpus"
findings="$build/findings"
mkdir -p "$corpus" "$findings"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
set +e
"$build/fuzz/case_loader_fuzz" "$corpus" "$root/core/testdata/valid" "$root/core/testdata/malformed" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$findings/" -print_final_stats=1 2>&1 | tail -40
status=${PIPESTATUS[0]}
set -e
if [[ $status -ne 0 ]]; then
  echo "case_loader_fuzz: FINDING (exit $status); reproducers in $findings:" >&2
  ls -l "$findings" >&2
  echo "replay with: $build/fuzz/case_loader_fuzz <file>" >&2
  exit 1
fi
echo "case_loader_fuzz: ${seconds}s clean"
