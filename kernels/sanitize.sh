#!/bin/bash
# compute-sanitizer (memcheck, racecheck, initcheck, synccheck) on small cases
# of one variant through `moecheck run` (which also checks the output against
# the oracle). Exit 77 (CTest: skipped) without compute-sanitizer or a device.
# usage: sanitize.sh MOECHECK VARIANT [--plugin PATH]...
set -u
moecheck=$1
variant=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
if [ ! -x "$san" ]; then
  echo "SKIP: compute-sanitizer not found"
  exit 77
fi
if ! "$moecheck" run --variant "$variant" "$@" --shape 37,21,4,2 --tokens 1 --backend cuda >/dev/null 2>probe.err; then
  if grep -q "no device\|without CUDA\|no device implementation" probe.err; then
    echo "SKIP: $(cat probe.err)"
    exit 77
  fi
  cat probe.err
  exit 1
fi
# Odd shapes (scalar tails) and an aligned one (16-byte vector path).
cases=("--shape 37,21,4,2 --tokens 3 --activation geglu --layout interleaved"
       "--shape 264,136,8,3 --tokens 5 --routing zipf --activation swiglu_clamped")
status=0
for tool in memcheck racecheck initcheck synccheck; do
  for c in "${cases[@]}"; do
    # shellcheck disable=SC2086
    if ! "$san" --tool "$tool" --error-exitcode 99 --print-limit 20 \
        "$moecheck" run --variant "$variant" "$@" $c --backend cuda --threads 2 >log.txt 2>&1; then
      echo "FAIL: compute-sanitizer --tool $tool $moecheck run --variant $variant $* $c --backend cuda"
      tail -40 log.txt
      status=1
    else
      echo "clean: $tool $variant $c ($(grep -o 'ERROR SUMMARY: [0-9]* errors' log.txt))"
    fi
  done
done
exit $status
