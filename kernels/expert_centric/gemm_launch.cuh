// The grouped GEMM launches of the expert-centric path, one entry per weight
// loader W: declared here for expert_centric.cu, defined in gemm_inst.cuh and
// instantiated once per weight format in inst_<fmt>.cu, so that the CUDA
// build compiles the formats side by side (all 86 tile_gemm instances in one
// file took 13 of the CPU CI build's 18 minutes on two cores).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/expert_centric/tile_gemm.cuh"

namespace moecheck::ec {

// One GEMM in mode m with weights read by W. cols: output columns; tiles:
// the worst-case tile count (grid rows past the real count return at once);
// vec: 16-byte loads; xf: x's format (gateup_act reads x, the other modes
// bf16 rows of the workspace).
template <class W>
void launch_gemm_fmt(Mode m, const GemmArgs& g, int64_t cols, int64_t tiles, bool vec, Format xf, cudaStream_t st);

// gateup_f32 with fp8_channel weights as their bare e4m3 codes
// (expert_centric_fp8: the row scales go in the epilogue).
void launch_gemm_codes(const GemmArgs& g, int64_t cols, int64_t tiles, bool vec, cudaStream_t st);

}  // namespace moecheck::ec
