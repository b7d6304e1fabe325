#include "kernels/expert_centric/expert_centric.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/activation.hpp"
#include "kernels/expert_centric/mx_requant.hpp"
#include "kernels/expert_centric/plan.hpp"

namespace moecheck {
namespace {

// Shared-memory limit of the one-block align kernel: 3 ints per slot.
constexpr int64_t kMaxSlots = 4096;

class ExpertCentric final : public Variant {
 public:
  explicit ExpertCentric(bool fused) : fused_(fused) {}
  std::string name() const override { return fused_ ? "expert_centric_fused" : "expert_centric"; }
  std::string family() const override { return "expert_centric"; }
  std::string description() const override {
    return fused_ ? "vLLM fused_moe style: align, gate/up GEMM through the sorted index with the activation "
                    "fused, down GEMM with w_j in the epilogue (fp32), top-k sum"
                  : "eight stages: align, gather, gate/up grouped GEMM, activation (bf16 h), down grouped "
                    "GEMM (bf16 per-expert outputs), scatter, combine";
  }
  // Stable sort, no floating-point atomics, and each mma output element
  // depends only on its own A row and B column: deterministic and batch
  // invariant. No host twin: the tensor cores' internal summation is not an
  // IEEE operation sequence the CPU can repeat.
  Claims claims() const override { return {true, true, false}; }

  Numerics numerics(const Case&) const override {
    Numerics n;
    n.accumulator = Format::f32;
    // The tensor-core adder aligns to the largest exponent and may truncate.
    n.accumulator_unit = std::ldexp(1.0, -23);
    n.gate_up = ReductionShape{1, true, 16};  // one chain per output, one mma per 16 terms
    n.activation_ulps = 1;  // kernels/activation.hpp: one rounding of a double evaluation
    // expert_centric stores g, u in fp32 and h in bf16; the fused path rounds
    // h to bf16 in the gate/up epilogue.
    n.h_format = Format::bf16;
    n.down = ReductionShape{1, true, 16};
    n.combine = Combine::per_expert_outputs;
    // expert_centric stores D_j h_j as bf16 before the combine; the fused path
    // keeps it in fp32 and rounds w_j * y_j once (vLLM rounds that product to
    // bf16: this costs the same bytes per token and one rounding less).
    n.expert_out_format = fused_ ? Format::f32 : Format::bf16;
    n.output_format = Format::bf16;
    return n;
  }

  Support supports(const Case& c) const override {
    if (c.x_format != Format::bf16) return Support::no("expert-centric: x must be bf16 (got " + std::string(format_name(c.x_format)) + ")");
    if (c.w13.format != WeightFormat::bf16 || c.w2.format != WeightFormat::bf16)
      return Support::no("expert-centric: bf16 weights only in this version (got " +
                         std::string(weight_format_name(c.w13.format)) + ")");
    if (c.stored_count() > kMaxSlots)
      return Support::no("expert-centric: at most " + std::to_string(kMaxSlots) + " stored experts");
    Shape s = c.shape;
    s.E = c.stored_count();
    if (ec::max_tiles(s) > 65535) return Support::no("expert-centric: T*k too large for the tile grid");
    return Support::yes();
  }

  bool has_device() const override {
#if MOECHECK_WITH_CUDA
    return true;
#else
    return false;
#endif
  }
  size_t workspace_bytes(const Shape& s) const override { return static_cast<size_t>(ec::plan_layout(s, fused_).total); }
  void run_device(const DeviceArgs& a, void* ws, CUstream_st* st) const override { ec::run_device(a, ws, st, fused_); }
  void run_host(const Case& c, std::vector<uint8_t>& y) const override { ec::run_host(c, fused_, y); }

 private:
  bool fused_;
};

}  // namespace

std::unique_ptr<Variant> make_expert_centric() { return std::make_unique<ExpertCentric>(false); }
std::unique_ptr<Variant> make_expert_centric_fused() { return std::make_unique<ExpertCentric>(true); }

namespace ec {

#if !MOECHECK_WITH_CUDA
void run_device(const DeviceArgs&, void*, CUstream_st*, bool, bool) {
  throw std::runtime_error("expert-centric: built without CUDA (MOECHECK_ENABLE_CUDA=OFF)");
}
#endif

namespace {
uint16_t code16(const std::vector<uint8_t>& d, int64_t i) {
  return static_cast<uint16_t>(d[2 * i] | (d[2 * i + 1] << 8));
}
float bf(const std::vector<uint8_t>& d, int64_t i) { return bf16_to_f32(code16(d, i)); }
float round_bf16(float v) { return bf16_to_f32(f32_to_bf16_rn(v)); }

// One fp32 chain over blocks of 16 exact products a(k) * b(k): each block
// summed exactly in double and rounded once when added, as a
// round-to-nearest tensor core would (real ones may truncate, which the
// declared accumulator unit covers).
template <class A, class B>
float blocked_dot(int64_t K, A a, B b) {
  float acc = 0.0f;
  for (int64_t kb = 0; kb < K; kb += 16) {
    double s = acc;
    for (int64_t k = kb; k < kb + 16 && k < K; ++k) s += static_cast<double>(a(k)) * b(k);
    acc = static_cast<float>(s);
  }
  return acc;
}
}  // namespace

void run_host(const Case& c, bool fused, std::vector<uint8_t>& y, bool mxfp8) {
  const Shape& s = c.shape;
  const int64_t T = s.T, H = s.H, I = s.I, k = s.k;
  if (c.x_format != Format::bf16 || c.w13.format != WeightFormat::bf16 || c.w2.format != WeightFormat::bf16)
    throw std::runtime_error("expert-centric host path: bf16 x and weights only");
  std::vector<float> yj(static_cast<size_t>(T * k * H));
#pragma omp parallel for schedule(dynamic) collapse(2)
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t j = 0; j < k; ++j) {
      const int64_t e = c.slot_of(c.id(t, j));
      std::vector<float> h(static_cast<size_t>(I));
      std::vector<uint16_t> xr(static_cast<size_t>(H));  // (H) this token's x, re-quantized with mxfp8
      for (int64_t q = 0; q < H; ++q) xr[q] = code16(c.x, t * H + q);
      if (mxfp8) mx_requant_row(xr.data(), H, xr.data());
      for (int64_t n = 0; n < I; ++n) {
        const int64_t g0 = (e * 2 * I + gate_row(c.layout, I, n)) * H, u0 = (e * 2 * I + up_row(c.layout, I, n)) * H;
        auto x = [&](int64_t k) { return bf16_to_f32(xr[k]); };
        const float g = blocked_dot(H, x, [&](int64_t k) { return bf(c.w13.data, g0 + k); });
        const float u = blocked_dot(H, x, [&](int64_t k) { return bf(c.w13.data, u0 + k); });
        h[n] = round_bf16(act::apply(c.act, g, u));
      }
      if (mxfp8) {
        std::vector<uint16_t> hc(static_cast<size_t>(I));  // (I) h codes
        for (int64_t n = 0; n < I; ++n) hc[n] = f32_to_bf16_rn(h[n]);
        mx_requant_row(hc.data(), I, hc.data());
        for (int64_t n = 0; n < I; ++n) h[n] = bf16_to_f32(hc[n]);
      }
      for (int64_t i = 0; i < H; ++i) {
        const int64_t d0 = (e * H + i) * I;
        const float d = blocked_dot(I, [&](int64_t k) { return h[k]; }, [&](int64_t k) { return bf(c.w2.data, d0 + k); });
        yj[(t * k + j) * H + i] = fused ? c.weight(t, j) * d : round_bf16(d);
      }
    }
  }
  y.assign(static_cast<size_t>(T * H * 2), 0);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < H; ++i) {
      float acc = 0.0f;
      for (int64_t j = 0; j < k; ++j) {
        const float v = yj[(t * k + j) * H + i];
        acc = fused ? acc + v : std::fma(c.weight(t, j), v, acc);
      }
      const uint16_t code = f32_to_bf16_rn(acc);
      y[2 * (t * H + i)] = static_cast<uint8_t>(code & 0xff);
      y[2 * (t * H + i) + 1] = static_cast<uint8_t>(code >> 8);
    }
  }
}

}  // namespace ec
}  // namespace moecheck
