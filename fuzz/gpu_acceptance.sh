#!/usr/bin/env bash
# gpu_acceptance.sh MOECHECK BUGGY_PLUGIN OUTDIR [SOAK_SECONDS]: the GPU
# figures of the fuzzer at its defaults (no size flag), in one go:
#  1. every planted bug fuzzed on the device for at most 60 s: caught or not,
#     after how long, by which property and tier;
#  2. warp_decode for 60 s: the small and production tiers' rates;
#  3. the production variants side by side for SOAK_SECONDS (default 290),
#     each on its own cores: they must stay clean.
# Writes one log per run under OUTDIR and prints a table last.
set -u
moecheck="$1"; plugin="$2"; out="$3"; soak="${4:-290}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
bugs=$("$moecheck" list --plugin "$plugin" 2>/dev/null | grep -o 'bug_[a-z0-9_]*' | sort -u)
table="$out/table.txt"; : > "$table"
for bug in $bugs; do
  log="$out/planted-$bug.log"
  start=$(date +%s.%N)
  OMP_WAIT_POLICY=passive timeout 150 "$moecheck" fuzz --variant "$bug" --plugin "$plugin" --backend cuda \
    --time 60s --shrink-time 10 --corpus "$out/corpus" > "$log" 2>&1
  rc=$?
  found=$(sed -n 's/^FAIL after \([0-9]*\) passing cases.*/\1 passing cases/p' "$log")
  prop=$(sed -n 's/^property: //p' "$log")
  printf 'planted %-18s rc=%d %-20s %s (%.1f s total)\n' "$bug" "$rc" "${found:-not found}" "$prop" \
    "$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN{print b - a}')" | tee -a "$table"
done
"$moecheck" fuzz --variant warp_decode --backend cuda --time 60s --seed 7 > "$out/rate-warp_decode.log" 2>&1
echo "rate warp_decode rc=$?: $(grep -E '^(PASS|tier)' "$out/rate-warp_decode.log" | tr '\n' ' ')" | tee -a "$table"
variants="warp_decode warp_decode_h32 warp_decode_grouped expert_centric expert_centric_fused expert_centric_mxfp8 expert_centric_fp8 auto"
n=$(echo $variants | wc -w); cores=$(nproc); per=$(( cores / n > 0 ? cores / n : 1 )); i=0
for v in $variants; do
  OMP_NUM_THREADS=$per OMP_WAIT_POLICY=passive taskset -c $(( i * per ))-$(( i * per + per - 1 )) \
    "$moecheck" fuzz --variant "$v" --backend cuda --time "${soak}s" --seed $(( 100 + i )) \
    --corpus "$out/corpus" > "$out/soak-$v.log" 2>&1 &
  i=$(( i + 1 ))
done
wait
for v in $variants; do
  echo "soak $v: $(grep -E '^(PASS|FAIL|property|tier|moecheck)' "$out/soak-$v.log" | tr '\n' ' ')" | tee -a "$table"
done
echo "== table"; cat "$table"
