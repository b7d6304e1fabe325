// Expert-centric GEMMs for fp8_channel weights, and for their bare codes
// (expert_centric_fp8); one file per weight format (gemm_launch.cuh).
#include "kernels/expert_centric/fp8_row.hpp"
#include "kernels/expert_centric/gemm_inst.cuh"

namespace moecheck::ec {
template void launch_gemm_fmt<warp_decode::Fp8ChannelWeights>(Mode, const GemmArgs&, int64_t, int64_t, bool, Format, cudaStream_t);

void launch_gemm_codes(const GemmArgs& g, int64_t cols, int64_t tiles, bool vec, cudaStream_t st) {
  launch_mode<Mode::gateup_f32, Fp8ChannelCodes>(g, cols, tiles, vec, Format::bf16, st);
}
}  // namespace moecheck::ec
