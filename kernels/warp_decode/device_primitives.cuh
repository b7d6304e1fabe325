// Device primitives both warp decode kernel files use (kernels.cuh for
// warp_decode / warp_decode_h32, grouped.cu for warp_decode_grouped).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/warp_decode/warp_math.hpp"

namespace moecheck::warp_decode {

__device__ __forceinline__ float bf16_lo(uint32_t v) { return __uint_as_float(v << 16); }
__device__ __forceinline__ float bf16_hi(uint32_t v) { return __uint_as_float(v & 0xffff0000u); }

// f16 code (low 16 bits) to fp32 in one instruction: exact, the value
// warp_math.hpp's host-callable f16_to_f32 gives (NaN payloads aside).
__device__ __forceinline__ float f16_bits_to_f32(uint32_t h) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(static_cast<uint16_t>(h & 0xffffu)));
  return f;
}

// Weights are streamed once per step: keep them out of L1.
__device__ __forceinline__ uint4 load_stream(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}
// The same for the 8- and 4-byte pieces of 8 fp8 / fp4 weights.
__device__ __forceinline__ uint2 load_stream8(const void* p) {
  uint2 v;
  asm volatile("ld.global.nc.L1::no_allocate.v2.u32 {%0,%1}, [%2];" : "=r"(v.x), "=r"(v.y) : "l"(p));
  return v;
}
__device__ __forceinline__ uint32_t load_stream4(const void* p) {
  uint32_t v;
  asm volatile("ld.global.nc.L1::no_allocate.u32 %0, [%1];" : "=r"(v) : "l"(p));
  return v;
}

// The xor butterfly of warp_math.hpp (offsets 16, 8, 4, 2, 1).
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int off = kWarp / 2; off >= 1; off /= 2) v = __fadd_rn(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

// Programmatic dependent launch (sm_90+): a dependent kernel may start while
// this one drains; it touches nothing this one writes until
// griddepcontrol.wait, which returns once the producer has completed and its
// writes are visible. Elsewhere these are no-ops and launches keep plain
// stream order.
__device__ __forceinline__ void allow_dependents() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}
__device__ __forceinline__ void wait_for_producer() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

}  // namespace moecheck::warp_decode
