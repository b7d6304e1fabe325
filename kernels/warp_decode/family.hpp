// The warp decode family as a Variant: one class template over the format of
// h between the two kernels (bf16: warp_decode, fp32: warp_decode_h32). The
// device launch lives in the variant's .cu file, the host twin in its .cpp.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/variant.hpp"
#include "kernels/warp_decode/warp_math.hpp"

namespace moecheck::warp_decode {

// Device entry (kernels.cuh, instantiated in warp_decode{,_h32}.cu).
template <class HT>
void launch(const DeviceArgs& a, void* workspace, CUstream_st* stream);

// Host twin (host_twin.hpp, instantiated in warp_decode{,_h32}.cpp).
template <class HT>
void run_twin(const Case& c, std::vector<uint8_t>& y);

// Bytes of h in the workspace: (T, k, I), each (t, j) row starting on a
// 16-byte boundary only when I is a multiple of 8 (no padding: the scalar
// path handles the rest).
template <class HT>
size_t h_bytes(const Shape& s) {
  return static_cast<size_t>(s.T * s.k * s.I) * sizeof(typename HT::Store);
}

// The reduction order both kernels run (warp_math.hpp), declared exactly so
// the bounds follow it (running error bound over the actual partial sums):
// 8-term chunks dealt round-robin to 32 lanes, one fma chain per lane from
// +0, then the xor butterfly.
constexpr ReductionShape kLaneOrder{kWarp, true, 0, kChunk};

template <class HT>
class WarpDecodeVariant final : public Variant {
 public:
  WarpDecodeVariant(std::string name, std::string description)
      : name_(std::move(name)), description_(std::move(description)) {}

  std::string name() const override { return name_; }
  std::string family() const override { return "warp_decode"; }
  std::string description() const override { return description_; }
  Claims claims() const override { return {true, true, true}; }

  Numerics numerics(const Case&) const override {
    Numerics n;
    n.accumulator = Format::f32;
    n.gate_up = kLaneOrder;
    n.activation_ulps = 1;  // kernels/activation.hpp: double evaluation, one rounding
    n.h_format = HT::format;
    n.down = kLaneOrder;
    n.combine = Combine::fold_partials;
    n.output_format = Format::bf16;
    return n;
  }

  Support supports(const Case& c) const override {
    if (c.x_format != Format::bf16)
      return Support::no(name_ + " takes bf16 x (got " + std::string(format_name(c.x_format)) + ")");
    if (c.w13.format != WeightFormat::bf16 || c.w2.format != WeightFormat::bf16)
      return Support::no(name_ + " takes bf16 weights (got " + std::string(weight_format_name(c.w13.format)) + ")");
    return Support::yes();
  }

  bool has_device() const override {
#if MOECHECK_WITH_CUDA
    return true;
#else
    return false;
#endif
  }
  size_t workspace_bytes(const Shape& s) const override { return h_bytes<HT>(s); }

  void run_device(const DeviceArgs& a, void* workspace, CUstream_st* stream) const override;

  void run_host(const Case& c, std::vector<uint8_t>& y) const override { run_twin<HT>(c, y); }

 private:
  std::string name_, description_;
};

}  // namespace moecheck::warp_decode
