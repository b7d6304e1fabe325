#!/usr/bin/env bash
# test_gate.sh MOECHECK DIR [EXAMPLE_PLUGIN BUGGY_PLUGIN]: the regression
# gate must pass a report against itself and must fail (exit 1, printing
# what regressed) against a baseline that was more accurate: an edited copy
# of a real report, and the report of a correct variant run under the name
# of a planted-bug one (h rounded to bf16 where it declares fp32).
set -u
mc="$1"; dir="$2"; example="${3:-}"; buggy="${4:-}"
only='^qwen3-30b-a3b/mini/bf16/T(1|4)/uniform/(normal|cancel)$'
rm -rf "$dir"; mkdir -p "$dir"
fail() { echo "FAIL: $*"; exit 1; }
# Host backend everywhere: the planted-bug plugin has no device path.
report() { "$mc" report --preset smoke --backend host --only "$only" --no-progress "$@"; }

report --variants warp_decode --out "$dir/base" || fail "baseline run exited $?"

out="$(report --variants warp_decode --out "$dir/same" --baseline "$dir/base/report.json" 2>&1)"; rc=$?
echo "$out"
[[ $rc -eq 0 ]] || fail "a report against itself must pass the gate (exit $rc)"
grep -q "accuracy results" <<<"$out" || fail "the gate did not say what it compared"

# A point the baseline lacks (x in f16, y in f32, as against a report from
# before x and y were swept) is not compared and does not fail the gate; the
# bf16 points still are.
"$mc" report --preset smoke --backend host --no-progress --variants warp_decode --out "$dir/formats" \
  --only "$only|^qwen3-30b-a3b/mini/bf16/T4/uniform/normal/x-f16/y-f32\$" --baseline "$dir/base/report.json" \
  >"$dir/formats.log" 2>&1; rc=$?
[[ $rc -eq 0 ]] || fail "a new x / y format point must not fail the gate (exit $rc): $(tail -5 "$dir/formats.log")"
grep -q "4 accuracy results" "$dir/formats.log" || fail "the gate did not compare the 4 bf16 points: $(cat "$dir/formats.log")"
grep -q '"x_format": "f16"' "$dir/formats/report.json" || fail "the x f16 point did not run"

python3 - "$dir/base/report.json" "$dir/better.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for c in r["configs"]:
    for x in c["results"]:
        if "metrics" in x:
            m = x["metrics"]
            m["rel_l2"] = m["rel_l2"] / 4 if isinstance(m["rel_l2"], (int, float)) else m["rel_l2"]
json.dump(r, open(sys.argv[2], "w"))
PY
out="$(report --variants warp_decode --out "$dir/vs-better" --baseline "$dir/better.json" 2>&1)"; rc=$?
echo "$out"
[[ $rc -eq 1 ]] || fail "a 4x more accurate baseline must fail the gate with exit 1 (got $rc)"
grep -q "regressed: .*relative L2 error" <<<"$out" || fail "the gate did not print the relative L2 regression"

python3 - "$dir/base/report.json" "$dir/v99.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); r["schema_version"] = 99; json.dump(r, open(sys.argv[2], "w"))
PY
out="$(report --variants warp_decode --out "$dir/v99" --baseline "$dir/v99.json" 2>&1)"; rc=$?
[[ $rc -eq 2 ]] || fail "an unreadable baseline schema must exit 2 (got $rc): $out"

if [[ -n "$example" && -n "$buggy" ]]; then
  report --plugin "$example" --variants example_sequential --out "$dir/seq" || fail "example_sequential run exited $?"
  sed 's/"example_sequential"/"bug_h_bf16"/g' "$dir/seq/report.json" >"$dir/seq-as-bug.json"
  out="$(report --plugin "$buggy" --variants bug_h_bf16 --out "$dir/bug" --baseline "$dir/seq-as-bug.json" 2>&1)"; rc=$?
  echo "$out"
  [[ $rc -eq 1 ]] || fail "the planted-bug variant must fail the gate with exit 1 (got $rc)"
  grep -q "regressed: .*bug_h_bf16" <<<"$out" || fail "the gate did not name the planted-bug variant"
fi
echo "PASS"
