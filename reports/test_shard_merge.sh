#!/usr/bin/env bash
# test_shard_merge.sh MOECHECK DIR [BACKEND]: a sweep run as 3 shards and
# joined with `report merge` must equal the unsharded report, field for
# field except wall-clock figures (dates, seconds, the command line, the
# shard record); bad merges (a shard missing or twice, parts of different
# sweeps, not a report) exit 2 naming the problem.
set -u
mc="$1"; dir="$2"; backend="${3:-host}"
# Two shapes, two batch sizes, two value distributions: 8 points with x and
# y in bf16, and the preset's 2 with x / y in f16 and f32 (after them in
# sweep order): 10, so each of 3 shards gets 3 or 4 and no shard holds a
# whole shape. One variant of each family: the merge joins per-variant
# results and recomputes the accuracy ratios over expert_centric, which
# more variants only repeat (each costs CPU CI time on the host backend).
only='^(qwen3-30b-a3b|gpt-oss-120b)/mini/bf16/(T(1|4)/uniform/(normal|cancel)|T(4|9)/uniform/normal/x-f(16|32)/y-f(16|32))$'
rm -rf "$dir"; mkdir -p "$dir"
fail() { echo "FAIL: $*"; exit 1; }
report() {
  "$mc" report --preset smoke --backend "$backend" --only "$only" --variants warp_decode,expert_centric --no-progress "$@"
}

report --out "$dir/whole" >"$dir/whole.log" 2>&1 || fail "unsharded run exited $? ($(tail -3 "$dir/whole.log"))"
for i in 1 2 3; do
  report --shard "$i/3" --out "$dir/part$i" >"$dir/part$i.log" 2>&1 || fail "shard $i/3 exited $?"
done
"$mc" report merge "$dir/part3/report.json" "$dir/part1/report.json" "$dir/part2/report.json" \
  --out "$dir/merged" || fail "merge exited $?"

python3 - "$dir" <<'PY' || exit 1
import json, sys
d = sys.argv[1]
load = lambda p: json.load(open(f"{d}/{p}/report.json"))
whole, merged = load("whole"), load("merged")
parts = [load(f"part{i}") for i in (1, 2, 3)]
clock = {"date", "command", "elapsed_s", "shard", "seconds", "run_s"}
def strip(x):
    if isinstance(x, dict): return {k: strip(v) for k, v in x.items() if k not in clock}
    if isinstance(x, list): return [strip(v) for v in x]
    return x
sizes = [len(p["configs"]) for p in parts]
if sum(sizes) != len(whole["configs"]) or min(sizes) == 0 or len(whole["configs"]) < 6:
    sys.exit(f"FAIL: shard sizes {sizes} do not split the {len(whole['configs'])} points")
if not any(c["x_format"] != "bf16" or c["y_format"] != "bf16" for c in whole["configs"]):
    sys.exit("FAIL: no point with x / y in another format than bf16 in the sweep")
a, b = strip(whole), strip(merged)
if a != b:
    for k in a:
        if a.get(k) != b.get(k): sys.exit(f"FAIL: merged report differs from the unsharded one in '{k}'")
    sys.exit("FAIL: merged report has keys the unsharded one lacks: " + str(set(b) - set(a)))
if [m["shard"] for m in merged["shard"]["merged_from"]] != [3, 1, 2]:
    sys.exit("FAIL: merged_from does not record the parts")
print(f"ok: {len(whole['configs'])} points in shards of {sizes}; merged == unsharded (wall-clock fields aside)")
PY

bad() {  # bad CASE_NAME PATTERN merge-args...
  local name="$1" pattern="$2"; shift 2
  out="$("$mc" report merge "$@" --out "$dir/bad" 2>&1)"; rc=$?
  [[ $rc -eq 2 ]] || fail "$name: expected exit 2, got $rc: $out"
  grep -qE -e "$pattern" <<<"$out" || fail "$name: message does not match /$pattern/: $out"
  echo "ok: $name -> $out"
}
bad "missing shard" "shard\(s\) 2 of 3 missing" "$dir/part1/report.json" "$dir/part3/report.json"
bad "shard twice" "shard 1/3 given twice" "$dir/part1/report.json" "$dir/part1/report.json" "$dir/part2/report.json" \
  "$dir/part3/report.json"
bad "unsharded part" "not a shard of the same sweep" "$dir/part1/report.json" "$dir/whole/report.json"
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); r['seed']='7'; json.dump(r,open(sys.argv[2],'w'))" \
  "$dir/part2/report.json" "$dir/seed7.json"
bad "other seed" "not a shard of the same sweep.*seed" "$dir/part1/report.json" "$dir/seed7.json" \
  "$dir/part3/report.json"
echo '{"schema": "something-else"}' >"$dir/other.json"
bad "not a report" "not a moecheck report.json" "$dir/other.json"
echo '{' >"$dir/broken.json"
bad "broken JSON" "not valid JSON" "$dir/broken.json"
bad "no such file" "cannot read" "$dir/nope.json"
"$mc" report --preset smoke --shard 4/3 --out "$dir/bad" >"$dir/badshard.log" 2>&1; rc=$?
[[ $rc -eq 2 ]] && grep -q -- "--shard 4/3" "$dir/badshard.log" || fail "--shard 4/3 must exit 2 naming the flag (got $rc)"
echo "PASS"
