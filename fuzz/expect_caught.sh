#!/usr/bin/env bash
# expect_caught.sh MOECHECK PLUGIN VARIANT BACKEND [fuzz flags...]: fuzz a
# planted-bug variant on BACKEND (host or cuda) and pass only if the bug is
# found, shrunk, saved, and the saved case reproduces the failure through
# `moecheck replay` on the same backend. Exit 77 (CTest's skip code) when
# BACKEND is cuda and there is no device.
set -u
moecheck="$1"; plugin="$2"; variant="$3"; backend="$4"; shift 4
start=$(date +%s)
out="$("$moecheck" fuzz --variant "$variant" --plugin "$plugin" --backend "$backend" "$@" 2>&1)"; rc=$?
printf '%s\n' "$out"
echo "fuzz took $(( $(date +%s) - start )) s"
# `moecheck fuzz` rejects a backend that cannot run as bad input (exit 2);
# no device is a skip, anything else a failure.
if [[ $rc -eq 2 && $backend == cuda ]] && grep -q "no CUDA device" <<<"$out"; then
  echo "skipped: no CUDA device"; exit 77
fi
if [[ $rc -ne 1 ]]; then echo "expected the planted bug in $variant to be found (exit 1), got exit $rc" >&2; exit 1; fi
grep -qE "shrunk in [0-9]+ steps" <<<"$out" || { echo "no shrink report" >&2; exit 1; }
file="$(sed -n 's/^saved: //p' <<<"$out")"
[[ -f "$file" ]] || { echo "failing case not saved" >&2; exit 1; }
rep="$("$moecheck" replay "$file" --variant "$variant" --plugin "$plugin" --backend "$backend" 2>&1)"; rrc=$?
printf 'replay:\n%s\n' "$rep"
if [[ $rrc -ne 1 ]]; then echo "replay of $file did not reproduce the failure (exit $rrc)" >&2; exit 1; fi
