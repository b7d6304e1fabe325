// warp_decode (h stored as bf16 between the kernels): device entry.
#include "kernels/warp_decode/kernels.cuh"

namespace moecheck::warp_decode {
template void launch<HBf16>(const DeviceArgs&, void*, CUstream_st*);
}
