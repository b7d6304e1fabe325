#!/usr/bin/env bash
# expect_caught.sh MOECHECK PLUGIN VARIANT [fuzz flags...]: fuzz a planted-bug
# variant on the host backend and pass only if the bug is found, shrunk,
# saved, and the saved case reproduces the failure through `moecheck replay`.
set -u
moecheck="$1"; plugin="$2"; variant="$3"; shift 3
start=$(date +%s)
out="$("$moecheck" fuzz --variant "$variant" --plugin "$plugin" --backend host "$@" 2>&1)"; rc=$?
printf '%s\n' "$out"
echo "fuzz took $(( $(date +%s) - start )) s"
if [[ $rc -ne 1 ]]; then echo "expected the planted bug in $variant to be found (exit 1), got exit $rc" >&2; exit 1; fi
grep -qE "shrunk in [0-9]+ steps" <<<"$out" || { echo "no shrink report" >&2; exit 1; }
file="$(sed -n 's/^saved: //p' <<<"$out")"
[[ -f "$file" ]] || { echo "failing case not saved" >&2; exit 1; }
rep="$("$moecheck" replay "$file" --variant "$variant" --plugin "$plugin" --backend host 2>&1)"; rrc=$?
printf 'replay:\n%s\n' "$rep"
if [[ $rrc -ne 1 ]]; then echo "replay of $file did not reproduce the failure (exit $rrc)" >&2; exit 1; fi
