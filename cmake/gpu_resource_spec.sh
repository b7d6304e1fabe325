#!/usr/bin/env bash
# CTest resource spec for this machine's GPUs: one `gpus` resource per device,
# one slot each, so tests that declare RESOURCE_GROUPS "gpus:1" spread across
# them (cmake/gpu_launcher.sh maps the allocation to CUDA_VISIBLE_DEVICES).
set -euo pipefail
n=0
if command -v nvidia-smi >/dev/null 2>&1; then n=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true); fi
printf '{"version": {"major": 1, "minor": 0}, "local": [{"gpus": ['
for ((i = 0; i < n; i++)); do
  [[ $i -gt 0 ]] && printf ', '
  printf '{"id": "%d", "slots": 1}' "$i"
done
printf ']}]}\n'
