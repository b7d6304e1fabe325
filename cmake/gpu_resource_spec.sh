#!/usr/bin/env bash
# CTest resource spec for this machine's GPUs: one `gpus` resource per device
# with MOECHECK_TESTS_PER_GPU slots (default 4), so tests that declare
# RESOURCE_GROUPS "gpus:1" spread across the devices, a few at a time on each
# (cmake/gpu_launcher.sh maps the allocation to CUDA_VISIBLE_DEVICES). Several
# per GPU because most GPU tests are short and spend their time starting a
# CUDA context and in host-side checking; none of them times anything.
set -euo pipefail
slots="${MOECHECK_TESTS_PER_GPU:-4}"
[[ "$slots" =~ ^[1-9][0-9]*$ ]] || { echo "MOECHECK_TESTS_PER_GPU must be a positive integer" >&2; exit 2; }
n=0
if command -v nvidia-smi >/dev/null 2>&1; then n=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true); fi
printf '{"version": {"major": 1, "minor": 0}, "local": [{"gpus": ['
for ((i = 0; i < n; i++)); do
  [[ $i -gt 0 ]] && printf ', '
  printf '{"id": "%d", "slots": %d}' "$i" "$slots"
done
printf ']}]}\n'
