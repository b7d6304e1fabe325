// The warp decode family as a Variant: one class template over the format of
// h between the two kernels (bf16: warp_decode, fp32: warp_decode_h32). The
// device launch lives in the per-weight-format .cu files (inst_<fmt>.cu,
// kernels.cuh), the host twin in the variant's .cpp (host_twin.hpp).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "kernels/variant.hpp"
#include "kernels/warp_decode/warp_math.hpp"

namespace moecheck::warp_decode {

// Calls fn(V{}) with the reader of x format f.
template <class Fn>
decltype(auto) with_x(Format f, Fn&& fn) {
  switch (f) {
    case Format::bf16: return fn(Bf16Vec{});
    case Format::f16: return fn(F16Vec{});
    case Format::f32: return fn(F32Vec{});
    default: break;
  }
  throw InputError("warp_decode: x must be bf16, f16 or f32 (got " + std::string(format_name(f)) + ")");
}

// The output formats the family writes (core/formats.hpp f32_to_code).
inline void check_output_format(const std::string& who, Format y_format) {
  if (y_format != Format::bf16 && y_format != Format::f16 && y_format != Format::f32)
    throw InputError(who + ": y must be bf16, f16 or f32 (got " + std::string(format_name(y_format)) + ")");
}

// Device entry for one weight format (kernels.cuh, instantiated per format in
// inst_<fmt>.cu so the CUDA build parallelizes).
template <class HT, class W>
void launch_fmt(const DeviceArgs& a, void* workspace, CUstream_st* stream);

template <class HT>
void launch(const DeviceArgs& a, void* workspace, CUstream_st* stream) {
  with_weights(a.weight_format, [&](auto w) { launch_fmt<HT, decltype(w)>(a, workspace, stream); });
}

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
// W::kChunk-term chunks (8, 16 or 32 by weight format) dealt round-robin to
// 32 lanes, one fma chain per lane from +0, then the xor butterfly.
inline ReductionShape lane_order(WeightFormat f) {
  return ReductionShape{kWarp, true, 0, with_weights(f, [](auto w) { return decltype(w)::kChunk; })};
}

template <class HT>
class WarpDecodeVariant final : public Variant {
 public:
  WarpDecodeVariant(std::string name, std::string description)
      : name_(std::move(name)), description_(std::move(description)) {}

  std::string name() const override { return name_; }
  std::string family() const override { return "warp_decode"; }
  std::string description() const override { return description_; }
  Claims claims() const override { return {true, true, true}; }

  Numerics numerics(const Case& c) const override {
    Numerics n;
    n.accumulator = Format::f32;
    n.gate_up = lane_order(c.w13.format);
    n.weight_roundings = dequant_roundings(c.w13.format);
    n.activation_ulps = 1;  // kernels/activation.hpp: double evaluation, one rounding
    n.h_format = HT::format;
    n.down = lane_order(c.w2.format);
    n.combine = Combine::fold_partials;
    n.output_format = c.y_format;
    return n;
  }

  Support supports(const Case& c) const override {
    if (c.x_format != Format::bf16 && c.x_format != Format::f16 && c.x_format != Format::f32)
      return Support::no(name_ + " takes bf16, f16 or f32 x (got " + std::string(format_name(c.x_format)) + ")");
    if (c.w13.format != c.w2.format)
      return Support::no(name_ + " takes w13 and w2 in one format (got " +
                         std::string(weight_format_name(c.w13.format)) + " and " +
                         std::string(weight_format_name(c.w2.format)) + ")");
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
