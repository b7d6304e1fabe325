// Expert-centric GEMMs for mxfp4 weights; one file per weight format
// (gemm_launch.cuh).
#include "kernels/expert_centric/gemm_inst.cuh"

namespace moecheck::ec {
template void launch_gemm_fmt<warp_decode::Mxfp4Weights>(Mode, const GemmArgs&, int64_t, int64_t, bool, Format, cudaStream_t);
}  // namespace moecheck::ec
