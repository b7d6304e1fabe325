// auto: runs, per (shape, T), the variant the measured crossover table
// (crossover.hpp) names as fastest, and answers every question about a case
// (numerics, support, workspace) as that variant does for it.
#include "kernels/auto/auto.hpp"

#include <algorithm>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "kernels/auto/crossover.hpp"
#include "kernels/registry.hpp"

namespace moecheck {
namespace autovariant {

const char* choose(const Shape& s, WeightFormat w) {
  const WeightClass wc = weight_class(w);
  const Segment* segs = wc == WeightClass::wide ? kDefaultSegments16 : kDefaultSegmentsQ;
  for (const CrossoverRow& r : kCrossover)
    if (r.H == s.H && r.I == s.I && r.k == s.k && r.weights == wc) segs = r.segments;
  for (int q = 0; q < 4 && segs[q].variant; ++q)
    if (s.T <= segs[q].max_T) return segs[q].variant;
  return segs[0].variant;  // unreachable: every row ends with kAnyT
}

namespace {

class AutoVariant final : public Variant {
 public:
  std::string name() const override { return "auto"; }
  std::string family() const override { return "auto"; }
  std::string description() const override {
    return std::string("the fastest of warp_decode / warp_decode_grouped / expert_centric_fused per (H, I, k, T, "
                       "16-bit or quantized weights) from the crossover table kernels/auto/crossover.hpp (") +
           kCrossoverProvenance16 + "; " + kCrossoverProvenanceQ + ")";
  }
  // Every candidate is deterministic. Not batch invariant: a token's result
  // depends on T through the choice of variant. No host twin: the choice may
  // be expert_centric_fused, whose host evaluation is not bit-exact; every
  // candidate runs on the host, so auto does too.
  Claims claims() const override { return {true, false, false, true}; }

  Numerics numerics(const Case& c) const override { return pick(c).numerics(c); }
  Support supports(const Case& c) const override {
    const Variant& v = pick(c);
    const Support s = v.supports(c);
    return s.ok ? s : Support::no("auto -> " + v.name() + ": " + s.reason);
  }
  bool has_device() const override {
#if MOECHECK_WITH_CUDA
    return true;
#else
    return false;
#endif
  }
  // The shape alone does not say the weight format: room for either choice.
  size_t workspace_bytes(const Shape& s) const override {
    return std::max(pick(s, WeightFormat::bf16).workspace_bytes(s), pick(s, WeightFormat::mxfp8).workspace_bytes(s));
  }
  void run_device(const DeviceArgs& a, void* ws, CUstream_st* stream) const override {
    pick(a.shape, a.weight_format).run_device(a, ws, stream);
  }
  void run_host(const Case& c, std::vector<uint8_t>& y) const override { pick(c).run_host(c, y); }

 private:
  static const Variant& pick(const Shape& s, WeightFormat w) { return find_variant(choose(s, w)); }
  static const Variant& pick(const Case& c) { return pick(c.shape, c.w13.format); }
};

}  // namespace
}  // namespace autovariant

std::unique_ptr<Variant> make_auto() { return std::make_unique<autovariant::AutoVariant>(); }

}  // namespace moecheck
