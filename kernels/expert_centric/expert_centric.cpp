#include "kernels/expert_centric/expert_centric.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/activation.hpp"
#include "kernels/expert_centric/fp8_row.hpp"
#include "kernels/expert_centric/mx_requant.hpp"
#include "kernels/expert_centric/plan.hpp"
#include "kernels/warp_decode/family.hpp"

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
  // IEEE operation sequence the CPU can repeat; the host evaluation
  // (ec::run_host) sums in one order the declaration allows, so CPU runners
  // judge it within the same bound.
  Claims claims() const override { return {true, true, false, true}; }

  Numerics numerics(const Case& c) const override {
    Numerics n;
    n.accumulator = Format::f32;
    // The tensor-core adder aligns to the largest exponent and may truncate.
    n.accumulator_unit = std::ldexp(1.0, -23);
    n.gate_up = ReductionShape{1, true, 16};  // one chain per output, one mma per 16 terms
    // Weight-only quantization: each weight is dequantized as warp decode
    // does (w = fl(e * S), warp_math.hpp W::at) and rounded once to bf16 as it
    // is loaded into the tensor-core tile (exact for bf16 weights).
    n.weight_roundings = warp_decode::dequant_roundings(c.w13.format);
    if (c.w13.format != WeightFormat::bf16) n.weight_tile_format = Format::bf16;
    // f16 / f32 x is rounded to bf16 (RNE, element by element) where the
    // gate/up GEMM's A operand is formed (gather or A staging).
    if (c.x_format != Format::bf16) {
      n.x_requant = Format::bf16;
      n.requant_block = 0;
    }
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
    n.output_format = c.y_format;  // the combine / top-k sum rounds once to y's format
    return n;
  }

  Support supports(const Case& c) const override {
    if (c.x_format != Format::bf16 && c.x_format != Format::f16 && c.x_format != Format::f32)
      return Support::no("expert-centric: x must be bf16, f16 or f32 (got " + std::string(format_name(c.x_format)) + ")");
    if (c.y_format != Format::bf16 && c.y_format != Format::f16 && c.y_format != Format::f32)
      return Support::no("expert-centric: y must be bf16, f16 or f32 (got " + std::string(format_name(c.y_format)) + ")");
    if (c.w13.format != c.w2.format)
      return Support::no("expert-centric: w13 and w2 in one format (got " +
                         std::string(weight_format_name(c.w13.format)) + " and " +
                         std::string(weight_format_name(c.w2.format)) + ")");
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
void run_device(const DeviceArgs&, void*, CUstream_st*, bool, Requant) {
  throw std::runtime_error("expert-centric: built without CUDA (MOECHECK_ENABLE_CUDA=OFF)");
}
#endif

namespace {
float round_bf16(float v) { return bf16_to_f32(f32_to_bf16_rn(v)); }

// out (K) = row r of expert slot `slot` as the GEMM's B operand: each weight
// dequantized (W::at, as the device loader) and rounded once to bf16; with
// `codes` (fp8_row and fp8_channel weights) the e4m3 codes alone, *s_w the
// row's scale (else 1).
void tile_row(const WeightStack& w, int64_t slot, int64_t r, float* out, bool codes = false, float* s_w = nullptr) {
  if (codes) {
    const auto row = Fp8ChannelCodes::row(w.data.data(), w.scales.data(), w.tensor_scale.data(), slot, w.R, w.K, r);
    for (int64_t q = 0; q < w.K; ++q) out[q] = Fp8ChannelCodes::at(row, q);
    *s_w = warp_decode::Fp8ChannelWeights::scale(row, 0);
    return;
  }
  if (s_w) *s_w = 1.0f;
  warp_decode::with_weights(w.format, [&](auto wt) {
    using W = decltype(wt);
    const auto row = W::row(w.data.data(), w.scales.data(), w.tensor_scale.data(), slot, w.R, w.K, r);
    for (int64_t q = 0; q < w.K; ++q) out[q] = round_bf16(W::at(row, q));
  });
}

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

void run_host(const Case& c, bool fused, std::vector<uint8_t>& y, Requant rq) {
  const Shape& s = c.shape;
  const int64_t T = s.T, H = s.H, I = s.I, k = s.k;
  const bool mxfp8 = rq == Requant::mxfp8, fp8 = rq == Requant::fp8_row;
  const bool codes = fp8 && c.w13.format == WeightFormat::fp8_channel;  // w13, w2 in one format
  std::vector<float> yj(static_cast<size_t>(T * k * H));
#pragma omp parallel for schedule(dynamic) collapse(2)
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t j = 0; j < k; ++j) {
      const int64_t e = c.slot_of(c.id(t, j));
      std::vector<float> h(static_cast<size_t>(I));
      // (H) this token's x as the A operand: bf16 (RNE from f16 / f32), or
      // re-quantized to MXFP8 / fp8 row codes straight from its exact values
      // (sx: the fp8 row scale, 1 otherwise).
      std::vector<uint16_t> xr(static_cast<size_t>(H));
      float sx = 1.0f, sh = 1.0f, sg = 1.0f, su = 1.0f, sd = 1.0f;
      auto xv = [&](int64_t q) { return static_cast<float>(c.x_value(t, q)); };
      if (mxfp8)
        mx_requant_values(xv, H, xr.data());
      else if (fp8)
        fp8_row_values(xv, H, xr.data(), &sx);
      else
        for (int64_t q = 0; q < H; ++q) xr[q] = f32_to_bf16_rn(xv(q));
      std::vector<float> gw(static_cast<size_t>(H)), uw(static_cast<size_t>(H)), dw(static_cast<size_t>(I));
      for (int64_t n = 0; n < I; ++n) {
        tile_row(c.w13, e, gate_row(c.layout, I, n), gw.data(), codes, &sg);
        tile_row(c.w13, e, up_row(c.layout, I, n), uw.data(), codes, &su);
        auto x = [&](int64_t k) { return bf16_to_f32(xr[k]); };
        float g = blocked_dot(H, x, [&](int64_t k) { return gw[k]; });
        float u = blocked_dot(H, x, [&](int64_t k) { return uw[k]; });
        if (fp8) g = fp8_epilogue(g, sx, sg), u = fp8_epilogue(u, sx, su);
        h[n] = round_bf16(act::apply(c.act, g, u));
      }
      if (mxfp8 || fp8) {
        std::vector<uint16_t> hc(static_cast<size_t>(I));  // (I) h codes
        for (int64_t n = 0; n < I; ++n) hc[n] = f32_to_bf16_rn(h[n]);
        if (mxfp8)
          mx_requant_row(hc.data(), I, hc.data());
        else
          fp8_row_values([&](int64_t q) { return h[q]; }, I, hc.data(), &sh);
        for (int64_t n = 0; n < I; ++n) h[n] = bf16_to_f32(hc[n]);
      }
      for (int64_t i = 0; i < H; ++i) {
        tile_row(c.w2, e, i, dw.data(), codes, &sd);
        float d = blocked_dot(I, [&](int64_t k) { return h[k]; }, [&](int64_t k) { return dw[k]; });
        if (fp8) d = fp8_epilogue(d, sh, sd);
        yj[(t * k + j) * H + i] = fused ? c.weight(t, j) * d : round_bf16(d);
      }
    }
  }
  const int64_t yb = format_bits(c.y_format) / 8;
  y.assign(static_cast<size_t>(T * H * yb), 0);  // (T, H) codes of y_format, little endian
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t i = 0; i < H; ++i) {
      float acc = 0.0f;
      for (int64_t j = 0; j < k; ++j) {
        const float v = yj[(t * k + j) * H + i];
        acc = fused ? acc + v : std::fma(c.weight(t, j), v, acc);
      }
      const uint32_t code = f32_to_code(c.y_format, acc);
      for (int64_t b = 0; b < yb; ++b) y[(t * H + i) * yb + b] = static_cast<uint8_t>(code >> (8 * b));
    }
  }
}

}  // namespace ec
}  // namespace moecheck
