// RapidCheck generators for whole MoE cases. A generated FuzzCase is a
// generator spec (shape, formats, distributions, seed) plus a list of special
// values written over the generated tensors from integer bit patterns, since
// RapidCheck's own float generators never produce subnormals, values near a
// format's overflow or rounding ties. Everything random is drawn from
// RapidCheck (or the spec's explicit seed), so a RapidCheck seed replays.
#pragma once

#include <rapidcheck.h>

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "core/generate.hpp"
#include "core/problem.hpp"

namespace moecheck::fuzz {

// w13_scale / w2_scale: the block or channel scales of quantized weights.
enum class SpecialTarget : uint8_t { x, w13, w2, routing_weight, w13_scale, w2_scale };
enum class SpecialKind : uint8_t {
  subnormal,    // smallest magnitudes: flush-to-zero and underflow paths
  min_normal,   // the normal/subnormal boundary
  big,          // ~2^(emax/3): large but leaves headroom for the products
  near_max,     // a few ulps under the format's largest finite value
  zero,
  neg_zero,
  tie,          // 1 + one ulp: last significand bit set, feeds rounding ties
  power_of_two,
  nan,          // weights and scales only: NaN in an expert no token selected,
                // so every output stays finite and must not see it
};

struct Special {
  SpecialTarget target = SpecialTarget::x;
  SpecialKind kind = SpecialKind::zero;
  uint32_t where = 0;  // position, reduced modulo the tensor's element count
  uint32_t bits = 0;   // sign and significand/exponent choice
};

struct FuzzCase {
  GenSpec spec;
  std::vector<Special> specials;
};

// The two tiers of one fuzz run (fuzz/README.md): small cases check every
// output against the oracle; production-scale cases run the oracle-free
// properties in full and check sampled tokens against the oracle.
enum class Tier : uint8_t { small, production };
std::string_view tier_name(Tier t);

// Per-case budgets of a tier. Shapes are drawn at production scale in every
// dimension and then shrunk, one dimension kept, until they fit: size may not
// cap a range (RapidCheck's size scaling would shrink every dimension at
// once, and the bugs live where one dimension is large).
struct TierBudget {
  int64_t work = 0;            // T k I H multiply-adds of one full-batch run
  int64_t stored_weights = 0;  // elements of w13 + w2 that may be stored
  // The same for the shape presets (production tier), drawn rarely enough
  // that their cost does not dominate: full presets need ~10^8 elements.
  int64_t preset_weights = 0;
};
// Budgets per tier and backend: a GPU runs the full batch in microseconds,
// the host twin at ~1 G multiply-adds/s; the oracle only sees sampled tokens
// in the production tier.
TierBudget tier_budget(Tier t, bool device);

// Which (weight format, x format) pairs, output formats and activations the generator draws
// from; tests and `moecheck fuzz` restrict them to what the variants support
// so that few cases are skipped.
struct GenOptions {
  std::vector<std::pair<WeightFormat, Format>> formats;  // empty: all
  std::vector<Activation> activations;                   // empty: all
  // Output formats asked for (Case::y_format), bf16 drawn most often as in
  // production; empty: bf16, f16 and f32.
  std::vector<Format> y_formats;
  Tier tier = Tier::small;
  TierBudget budget = tier_budget(Tier::small, false);
};

GenOptions& default_gen_options();  // used by rc::Arbitrary<FuzzCase>

rc::Gen<FuzzCase> gen_fuzz_case(const GenOptions& opt);
// A shape of the tier's distribution within its budget, and whether every
// expert can be stored (isolation poisons the unselected ones). Production
// draws include the shape presets exactly (T drawn); routing one_set (every
// token on the same k experts) keeps their stored weights within budget.
struct DrawnShape {
  Shape shape;
  bool store_all = false;
  bool one_set = false;
  std::string preset;  // "" for a drawn shape
};
rc::Gen<DrawnShape> gen_shape(Tier tier, const TierBudget& budget);

// generate_case(spec) with the specials applied. Throws InputError when the
// spec is impossible.
Case build_case(const FuzzCase& fc);
// Writes one special into the case: x, a weight code (bf16/f16, e4m3 or
// e2m1), a weight scale (fp32, e8m0 or e4m3) or a routing weight. A no-op
// where the target does not exist (scales of bf16 weights, NaN where every
// stored expert is selected).
void apply_special(Case& c, const Special& s);

std::string_view target_name(SpecialTarget t);
std::string_view kind_name(SpecialKind k);
std::string describe(const FuzzCase& fc);  // one line, for counterexamples
// Coverage classes of a case (shape buckets, formats, distributions,
// specials), for RC_CLASSIFY/RC_TAG and the fuzz summary.
std::vector<std::string> coverage_tags(const FuzzCase& fc);

}  // namespace moecheck::fuzz

namespace rc {
template <>
struct Arbitrary<moecheck::fuzz::FuzzCase> {
  static Gen<moecheck::fuzz::FuzzCase> arbitrary() {
    return moecheck::fuzz::gen_fuzz_case(moecheck::fuzz::default_gen_options());
  }
};
}  // namespace rc

namespace moecheck::fuzz {
inline void showValue(const FuzzCase& fc, std::ostream& os) { os << describe(fc); }
}  // namespace moecheck::fuzz
