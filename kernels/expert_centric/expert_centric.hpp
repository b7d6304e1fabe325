// The expert-centric family: the conventional MoE path that organizes work
// around experts (DESIGN.md section 2), the baseline every speedup is
// measured against.
//   expert_centric        eight explicit stages: align (count, stable sort,
//                         pad to 16-row tiles), gather, gate/up grouped GEMM
//                         (fp32 out), activation (h bf16), down grouped GEMM
//                         (bf16 per-expert outputs), scatter, combine.
//   expert_centric_fused  vLLM fused_moe style: align, gate/up GEMM reading x
//                         through the sorted index with the activation in its
//                         epilogue, down GEMM with w_j in its epilogue (fp32
//                         out), top-k sum.
//   expert_centric_mxfp8  expert_centric with the gathered x rows and h
//                         re-quantized to MXFP8 (e4m3, 32-value blocks,
//                         mx_requant.hpp) before each GEMM, the seed's
//                         comparison configuration (expert_centric_mxfp8.cpp).
// Every weight format (core/weights.hpp) runs the same bf16 tensor-core GEMMs:
// weights are dequantized (warp_math.hpp W::at) and rounded once to bf16 as
// they are loaded into the B fragments (weight-only quantization); x in f16 or
// f32 is rounded to bf16 where the A operand is formed.
// Both GEMMs are hand-written mma.sync tile kernels: cuBLAS grouped GEMM takes
// the per-group sizes on the host, which would need a host sync on the
// routing and break graph capture.
#pragma once

#include <memory>

#include "kernels/variant.hpp"

namespace moecheck {

std::unique_ptr<Variant> make_expert_centric();
std::unique_ptr<Variant> make_expert_centric_fused();
std::unique_ptr<Variant> make_expert_centric_mxfp8();

namespace ec {
// Device path (expert_centric.cu); throws when built without CUDA. mxfp8:
// re-quantize xg and h before each GEMM (eight-stage path only).
void run_device(const DeviceArgs& a, void* workspace, CUstream_st* stream, bool fused, bool mxfp8 = false);
// Host evaluation of the declared numerics: fp32 chains in blocks of 16 exact
// products, the same roundings of h, per-expert outputs and y. Not bit-exact
// with the device (tensor-core adders and libm differ).
void run_host(const Case& c, bool fused, std::vector<uint8_t>& y, bool mxfp8 = false);
// rows (max_rows, n) bf16 re-quantized to MXFP8 in place on the stream, rows
// past *num_tiles * 16 untouched (expert_centric_mxfp8.cu).
void requant_mxfp8_rows(uint16_t* rows, int64_t n, int64_t max_rows, const int32_t* num_tiles, CUstream_st* stream);
// xg (max_rows, H) <- the x rows (x (T, H) in format xf) of each padded row's
// pair, re-quantized to MXFP8 straight from x's values (bf16 storage,
// exact); padding rows zero; rows past *num_tiles * 16 untouched.
void gather_mxfp8_rows(const void* x, Format xf, int64_t H, int k, const int32_t* sorted_pair, int64_t max_rows,
                       const int32_t* num_tiles, uint16_t* xg, CUstream_st* stream);
// For the GPU tests: rows (R, n) host codes through requant_mxfp8_rows with
// *num_tiles = live_tiles, synchronously; throws when built without CUDA.
void requant_mxfp8_rows_for_test(std::vector<uint16_t>& rows, int64_t n, int32_t live_tiles);
}  // namespace ec

}  // namespace moecheck
