#!/usr/bin/env bash
# expect_exit.sh CODE PATTERN cmd...: run cmd, require exit status CODE and,
# when PATTERN is not empty, stderr+stdout matching PATTERN (grep -E).
code="$1"; pattern="$2"; shift 2
out="$("$@" 2>&1)"; rc=$?
printf '%s\n' "$out"
if [[ $rc -ne $code ]]; then echo "expected exit $code, got $rc: $*" >&2; exit 1; fi
if [[ -n "$pattern" ]] && ! grep -qE -e "$pattern" <<<"$out"; then
  echo "output does not match /$pattern/: $*" >&2; exit 1
fi
