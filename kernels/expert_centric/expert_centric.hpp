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
//   expert_centric_fp8    expert_centric with the gathered x rows and h
//                         re-quantized to e4m3 with one fp32 scale per row
//                         (fp8_row.hpp), the GEMMs summing the codes and
//                         their epilogues applying the row scale (and
//                         fp8_channel's weight scale): production w8a8 fp8
//                         (expert_centric_fp8.cpp).
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
std::unique_ptr<Variant> make_expert_centric_fp8();

namespace ec {
// Re-quantization of xg and h before each GEMM (eight-stage path only):
// none, MXFP8 (mx_requant.hpp) or e4m3 with one fp32 scale per row, applied
// in the GEMM epilogues (fp8_row.hpp).
enum class Requant { none, mxfp8, fp8_row };
// Device path (expert_centric.cu); throws when built without CUDA.
void run_device(const DeviceArgs& a, void* workspace, CUstream_st* stream, bool fused, Requant rq = Requant::none);
// Host evaluation of the declared numerics: fp32 chains in blocks of 16 exact
// products, the same roundings of h, per-expert outputs and y. Not bit-exact
// with the device (tensor-core adders and libm differ).
void run_host(const Case& c, bool fused, std::vector<uint8_t>& y, Requant rq = Requant::none);
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

// expert_centric_fp8's stages (expert_centric_fp8.cu), rows past
// *num_tiles * 16 untouched, padding rows zero codes with scale 1.
// xg (max_rows, H) e4m3 codes as bf16 and sx (max_rows) their row scales
// from the x rows (x (T, H) in format xf) of each padded row's pair.
void gather_fp8_rows(const void* x, Format xf, int64_t H, int k, const int32_t* sorted_pair, int64_t max_rows,
                     const int32_t* num_tiles, uint16_t* xg, float* sx, CUstream_st* stream);
// h (max_rows, I) codes and sh (max_rows) from gu (max_rows, 2I) f32 sums of
// code products: g, u = fp8_epilogue(sum, sx[row], s_w), s_w the gate / up
// row's scale of w13_scale ((S, 2I) f32) for fp8_channel (nullptr: 1), then
// h = bf16(act(g, u)) re-quantized per row.
void act_fp8_rows(const float* gu, int64_t I, bool interleaved, ActivationSpec act, const int32_t* sorted_pair,
                  const int32_t* tile_expert, const int32_t* num_tiles, int64_t max_rows, const float* sx,
                  const float* w13_scale, uint16_t* h, float* sh, CUstream_st* stream);
// ys (N, H) bf16 = bf16(fp8_epilogue(yacc[row], sh[row], s_w)) at each pair's
// padded row, s_w from w2_scale ((S, H) f32) for fp8_channel (nullptr: 1).
void scatter_fp8(const float* yacc, int64_t H, int64_t N, const int32_t* row_of_pair, const int32_t* tile_expert,
                 const float* sh, const float* w2_scale, uint16_t* ys, CUstream_st* stream);
// For the GPU tests: x (R, n) bf16 rows through gather_fp8_rows (pair p on
// row p, k = 1; rows listed in `pad` are padding), synchronously; codes
// (R, n) and scales (R) out; throws when built without CUDA.
void gather_fp8_rows_for_test(const std::vector<uint16_t>& x, int64_t n, const std::vector<int64_t>& pad,
                              std::vector<uint16_t>& codes, std::vector<float>& scales);
}  // namespace ec

}  // namespace moecheck
