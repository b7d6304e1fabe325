// warp_decode_h32: h kept in fp32 between the kernels (no rounding of h;
// twice the h traffic of warp_decode). Host twin and registration.
#include "kernels/warp_decode/host_twin.hpp"

namespace moecheck {
namespace warp_decode {

template void run_twin<HF32>(const Case&, std::vector<uint8_t>&);

template <>
void WarpDecodeVariant<HF32>::run_device(const DeviceArgs& a, void* ws, CUstream_st* stream) const {
#if MOECHECK_WITH_CUDA
  launch<HF32>(a, ws, stream);
#else
  (void)a, (void)ws, (void)stream;
  throw InputError(name_ + ": built without CUDA");
#endif
}

}  // namespace warp_decode

std::unique_ptr<Variant> make_warp_decode_h32() {
  return std::make_unique<warp_decode::WarpDecodeVariant<warp_decode::HF32>>(
      "warp_decode_h32",
      "output-centric: warp per (token, expert, neuron) gate/up with activation, h kept in fp32; warp per "
      "(token, output) down with routing weights folded into one fp32 accumulator");
}

}  // namespace moecheck
