#!/usr/bin/env bash
# moecheck check as a user runs it: a built-in variant's output saved by
# `run` and judged with `numerics`' declaration prints run's bound line to
# the last digit; mismatched outputs and self-contradicting declarations
# exit 2 naming the problem.   check_test.sh MOECHECK SCRATCH_DIR
set -euo pipefail
m="$1" d="$2"
mkdir -p "$d"
spec=(--variant warp_decode_h32 --backend host --shape 264,40,8,2 --weights mxfp4 --y-format f16)
run_line="$("$m" run "${spec[@]}" --tokens 3 --save-case "$d/c.st" --save-output "$d/y.st" | grep '^bound ')"
"$m" "run" "${spec[@]}" --tokens 2 --save-output "$d/y2.st" >/dev/null
"$m" numerics warp_decode_h32 >"$d/decl.json"
check_line="$("$m" check "$d/c.st" "$d/y.st" --numerics "$d/decl.json" | grep '^bound ')"
[[ "$run_line" == "$check_line" ]] || { echo "run: $run_line"; echo "check: $check_line"; exit 1; }
expect2() {  # expect2 MESSAGE ARGS...: exit 2 with MESSAGE on stderr
  local msg="$1" rc=0 err
  shift
  err="$("$m" "$@" 2>&1 >/dev/null)" || rc=$?
  [[ $rc == 2 && "$err" == *"$msg"* ]] || { echo "want exit 2 with '$msg', got $rc: $err"; exit 1; }
}
expect2 "y has shape (2, 264), the case needs (3, 264)" check "$d/c.st" "$d/y2.st" --numerics "$d/decl.json"
sed 's/"output_format": "case"/"output_format": "f32"/' "$d/decl.json" >"$d/f32.json"
expect2 "y is F16 but the declared output format is f32" check "$d/c.st" "$d/y.st" --numerics "$d/f32.json"
printf '{"moecheck_numerics": 1, "output_format": "case", "topk_sum_format": "bf16"}' >"$d/bad.json"
expect2 "contradicts itself: topk_sum_format" check "$d/c.st" "$d/y.st" --numerics "$d/bad.json"
echo "check agrees with run: $check_line"
