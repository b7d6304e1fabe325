// Warp decode kernels for mxfp4 weights, both h formats (one file per weight
// format so the CUDA build compiles them in parallel).
#include "kernels/warp_decode/kernels.cuh"

namespace moecheck::warp_decode {
template void launch_fmt<HBf16, Mxfp4Weights>(const DeviceArgs&, void*, CUstream_st*);
template void launch_fmt<HF32, Mxfp4Weights>(const DeviceArgs&, void*, CUstream_st*);
}  // namespace moecheck::warp_decode
