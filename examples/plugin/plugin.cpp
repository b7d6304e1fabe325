// A moecheck plugin: one variant, registered through MOECHECK_PLUGIN.
// Build it (see CMakeLists.txt), then
//   moecheck run --plugin ./libmoecheck_example_plugin.so --variant example_sequential --preset qwen3-30b-a3b ...
#include <cstring>
#include <memory>
#include <vector>

#include <moecheck/core/error.hpp>
#include <moecheck/kernels/plugin_api.hpp>

#include "sequential.hpp"

// 1: a copy that never writes the last output (its test must see it fail).
#ifndef EXAMPLE_LEAVE_LAST_UNWRITTEN
#define EXAMPLE_LEAVE_LAST_UNWRITTEN 0
#endif

#if EXAMPLE_WITH_CUDA
#include <cuda_runtime.h>
namespace example {
void launch_sequential(const moecheck::DeviceArgs& a, void* workspace, cudaStream_t stream);
}
#endif

namespace example {

class Sequential final : public moecheck::Variant {
 public:
  std::string name() const override {
    return EXAMPLE_LEAVE_LAST_UNWRITTEN ? "example_sequential_unwritten" : "example_sequential";
  }
  std::string family() const override { return "example"; }
  std::string description() const override {
    return "plugin template: one thread per element, sequential fp32 fma chains, h in fp32";
  }
  moecheck::Claims claims() const override { return {true, true, true}; }

  // Declare exactly what the code does: the bounds are derived from this.
  moecheck::Numerics numerics(const moecheck::Case& c) const override {
    moecheck::Numerics n;
    // One sequential fma chain over H in increasing order (chunk > 0 with one
    // lane declares the order, so the bound follows the actual partial sums).
    n.gate_up = moecheck::ReductionShape{1, true, 0, 1};
    n.activation_ulps = 1;                              // kernels/activation.hpp
    n.h_format = moecheck::Format::f32;
    n.down = moecheck::ReductionShape{1, true, 0, 1};
    // Each expert's dot product is finished before w_j enters: a fold of
    // whole partials (one lane) is the fold_partials shape with lanes = 1.
    n.combine = moecheck::Combine::fold_partials;
    n.output_format = c.y_format;  // the fp32 accumulator stored in the format asked for
    return n;
  }

  moecheck::Support supports(const moecheck::Case& c) const override {
    if (c.x_format != moecheck::Format::bf16) return moecheck::Support::no("example_sequential takes bf16 x");
    if (c.y_format != moecheck::Format::bf16 && c.y_format != moecheck::Format::f16 &&
        c.y_format != moecheck::Format::f32)
      return moecheck::Support::no("example_sequential writes y in bf16, f16 or f32");
    if (c.w13.format != moecheck::WeightFormat::bf16 || c.w2.format != moecheck::WeightFormat::bf16)
      return moecheck::Support::no("example_sequential takes bf16 weights");
    return moecheck::Support::yes();
  }

  bool has_device() const override { return EXAMPLE_WITH_CUDA != 0; }
  size_t workspace_bytes(const moecheck::Shape& s) const override {
    return static_cast<size_t>(s.T * s.k * s.I) * sizeof(float);  // h (T, k, I)
  }
  void run_device(const moecheck::DeviceArgs& a, void* ws, CUstream_st* stream) const override {
#if EXAMPLE_WITH_CUDA
    launch_sequential(a, ws, stream);
#else
    (void)a, (void)ws, (void)stream;
    throw moecheck::InputError("example_sequential was built without CUDA");
#endif
  }

  void run_host(const moecheck::Case& c, std::vector<uint8_t>& y) const override {
    const moecheck::Shape s = c.shape;
    std::vector<int32_t> slots(c.topk_ids.size());  // (T, k) storage slots
    for (size_t i = 0; i < slots.size(); ++i) slots[i] = static_cast<int32_t>(c.slot_of(c.topk_ids[i]));
    const auto* x = reinterpret_cast<const uint16_t*>(c.x.data());
    const auto* w13 = reinterpret_cast<const uint16_t*>(c.w13.data.data());
    const auto* w2 = reinterpret_cast<const uint16_t*>(c.w2.data.data());
    std::vector<float> h(static_cast<size_t>(s.T * s.k * s.I));  // (T, k, I)
    for (int64_t idx = 0; idx < s.T * s.k * s.I; ++idx) {
      const int64_t n = idx % s.I, tj = idx / s.I;
      h[idx] = h_element(x, w13, c.act, c.layout, s.H, s.I, tj / s.k, slots[tj], n);
    }
    const int64_t yb = moecheck::format_bits(c.y_format) / 8;
    // (T, H) codes of y_format, little endian. resize, not assign: the
    // caller fills y with NaN codes first, so an element this code never
    // writes fails as unwritten instead of reading as 0.
    y.resize(static_cast<size_t>(s.T * s.H * yb), 0xFF);
    for (int64_t idx = 0; idx < s.T * s.H - EXAMPLE_LEAVE_LAST_UNWRITTEN; ++idx) {
      const float v = y_element(h.data(), w2, slots.data(), c.topk_weights.data(), s.H, s.I, s.k, idx / s.H,
                                idx % s.H);
      const uint32_t code = moecheck::f32_to_code(c.y_format, v);
      std::memcpy(&y[idx * yb], &code, static_cast<size_t>(yb));  // little endian host
    }
  }
};

}  // namespace example

MOECHECK_PLUGIN(registrar) { registrar.add(std::make_unique<example::Sequential>()); }
