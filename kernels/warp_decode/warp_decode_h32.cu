// warp_decode_h32 (h kept in fp32 between the kernels): device entry.
#include "kernels/warp_decode/kernels.cuh"

namespace moecheck::warp_decode {
template void launch<HF32>(const DeviceArgs&, void*, CUstream_st*);
}
