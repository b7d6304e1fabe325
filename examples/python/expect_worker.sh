#!/usr/bin/env bash
# expect_worker.sh MOECHECK PYTHON pass|caught WORKER.py [fuzz flags...]:
# fuzz a Python worker on the host. pass: every case must pass. caught: the
# planted bug must be found, shrunk, saved, and reproduced by the printed
# replay line. Exit 77 (CTest's skip) when PYTHON has no torch package.
set -u
moecheck="$1" py="$2" want="$3" worker="$4"
shift 4
if ! why="$("$py" -c 'import importlib.util as u, sys; sys.exit(u.find_spec("torch") is None)' 2>&1)"; then
  echo "skipped: $py has no torch package (install python3-torch) $why"; exit 77
fi
SECONDS=0
out="$("$moecheck" fuzz --exec "$py $worker" --backend host "$@" 2>&1)"; rc=$?
printf '%s\n' "$out"
echo "fuzz took ${SECONDS} s"
if [[ $want == pass ]]; then
  [[ $rc -eq 0 ]] || { echo "expected $worker to pass, got exit $rc" >&2; exit 1; }
  exit 0
fi
[[ $rc -eq 1 ]] || { echo "expected the planted bug in $worker to be found (exit 1), got exit $rc" >&2; exit 1; }
grep -qE "shrunk in [0-9]+ steps" <<<"$out" || { echo "no shrink report" >&2; exit 1; }
replay="$(sed -n 's/^replay: moecheck //p' <<<"$out")"
[[ -n "$replay" ]] || { echo "no replay line" >&2; exit 1; }
# The replay line is shell text (the worker command is quoted in it).
rep="$(eval "\"$moecheck\" $replay" 2>&1)"; rrc=$?
printf 'replay:\n%s\n' "$rep"
[[ $rrc -eq 1 ]] || { echo "the replay line did not reproduce the failure (exit $rrc)" >&2; exit 1; }
