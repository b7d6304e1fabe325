// warp_decode: h rounded to bf16 between the kernels (half the h traffic of
// warp_decode_h32, one more rounding point). Host twin and registration.
#include "kernels/warp_decode/host_twin.hpp"

namespace moecheck {
namespace warp_decode {

template void run_twin<HBf16>(const Case&, std::vector<uint8_t>&);

template <>
void WarpDecodeVariant<HBf16>::run_device(const DeviceArgs& a, void* ws, CUstream_st* stream) const {
#if MOECHECK_WITH_CUDA
  launch<HBf16>(a, ws, stream);
#else
  (void)a, (void)ws, (void)stream;
  throw InputError(name_ + ": built without CUDA");
#endif
}

}  // namespace warp_decode

std::unique_ptr<Variant> make_warp_decode() {
  return std::make_unique<warp_decode::WarpDecodeVariant<warp_decode::HBf16>>(
      "warp_decode",
      "output-centric: warp per (token, expert, neuron) gate/up with activation, h stored as bf16; warp per "
      "(token, output) down with routing weights folded into one fp32 accumulator");
}

}  // namespace moecheck
