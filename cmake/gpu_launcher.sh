#!/usr/bin/env bash
# Test launcher for GPU tests: when ctest runs with a resource spec, it names
# the GPU it allocated in CTEST_RESOURCE_GROUP_0_GPUS ("id:2,slots:1"); expose
# only that device to the test. Without a spec the test sees every device.
if [[ -n "${CTEST_RESOURCE_GROUP_0_GPUS:-}" ]]; then
  id="${CTEST_RESOURCE_GROUP_0_GPUS#id:}"
  export CUDA_VISIBLE_DEVICES="${id%%,*}"
fi
exec "$@"
