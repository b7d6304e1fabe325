#include "fuzz/generators.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <sstream>

#include "core/error.hpp"

namespace moecheck::fuzz {
namespace {

// Uniform in [lo, hi) at any RapidCheck size: rc::gen::inRange scales its
// range with the size (at size 0 it always yields lo), which would cap every
// dimension of a fuzz run by its size parameter.
template <typename T>
rc::Gen<T> any_in(T lo, T hi) {
  return rc::gen::resize(rc::kNominalSize, rc::gen::inRange<T>(lo, hi));
}

// Sizes one off a vector width or a tile, where tail handling breaks.
constexpr int64_t kEdgeSizes[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257};
// Production sizes: the presets' own, and odd, prime and just-past-a-power-
// of-two neighbours, where tails, tiles and index widths break.
const std::vector<int64_t> kBigH = {1024, 1025, 1536, 2047, 2048, 2049, 2880, 3071, 3584, 4093,
                                    4096, 4097, 5120, 6143, 7168, 7169, 8191, 8192};
const std::vector<int64_t> kBigI = {511, 512, 513, 767, 768, 769, 1023, 1024, 1025, 1408,
                                    1536, 1537, 1600, 2047, 2048, 2049, 2880, 3071, 4093, 4096};

// A dimension in [1, hi]: mostly uniform (shrinks to 1), often an edge size.
rc::Gen<int64_t> gen_dim(int64_t hi) {
  std::vector<int64_t> edges;
  for (int64_t e : kEdgeSizes)
    if (e <= hi) edges.push_back(e);
  return rc::gen::weightedOneOf<int64_t>({{3, any_in<int64_t>(1, hi + 1)}, {2, rc::gen::elementOf(edges)}});
}

// Small sizes, production sizes, or anything up to `top`.
rc::Gen<int64_t> gen_wide(int64_t small_hi, const std::vector<int64_t>& big, int64_t top) {
  return rc::gen::weightedOneOf<int64_t>({{3, gen_dim(small_hi)},
                                          {4, rc::gen::elementOf(big)},
                                          {1, any_in<int64_t>(small_hi + 1, top + 1)}});
}

rc::Gen<int64_t> gen_tokens() {
  return rc::gen::weightedOneOf<int64_t>({{3, any_in<int64_t>(1, 9)},
                                          {3, any_in<int64_t>(9, 33)},
                                          {2, any_in<int64_t>(33, 65)},
                                          {1, any_in<int64_t>(65, 129)}});
}

rc::Gen<int64_t> gen_experts() {
  return rc::gen::weightedOneOf<int64_t>({{4, any_in<int64_t>(1, 65)},
                                          {2, rc::gen::elementOf(std::vector<int64_t>{128, 256})},
                                          {1, any_in<int64_t>(129, 513)},
                                          {1, rc::gen::elementOf(std::vector<int64_t>{160, 384, 512})}});
}

rc::Gen<int64_t> gen_topk(int64_t E) {
  const int64_t kmax = std::min<int64_t>(16, E), k8 = std::min<int64_t>(8, kmax);
  return rc::gen::weightedOneOf<int64_t>({{4, any_in<int64_t>(1, k8 + 1)},
                                          {2, rc::gen::just(k8)},
                                          {2, any_in<int64_t>(1, kmax + 1)},
                                          {1, rc::gen::just(kmax)}});
}

int64_t work(const Shape& s) { return s.T * s.k * s.I * s.H; }

// Weight elements stored: every expert, or at most one per routing entry.
int64_t stored(const Shape& s, bool all, bool one_set = false) {
  return (all ? s.E : std::min(s.E, one_set ? s.k : s.T * s.k)) * 3 * s.I * s.H;
}

bool fits(const DrawnShape& d, const TierBudget& b) {
  return work(d.shape) <= b.work && stored(d.shape, d.store_all, d.one_set) <= b.stored_weights;
}

// Halves the largest of T, H, I, k other than `keep` (0..3) until the shape
// fits, then `keep` too if it alone is over budget. Every expert is stored
// where that fits, as isolation needs unselected experts to poison.
void shrink_to_budget(DrawnShape& d, const TierBudget& b, int keep) {
  Shape& s = d.shape;
  int64_t* dims[] = {&s.T, &s.H, &s.I, &s.k};
  d.store_all = stored(s, true) <= b.stored_weights;
  for (bool spare_keep : {true, false})
    while (!fits(d, b)) {
      int64_t* big = nullptr;
      for (int i = 0; i < 4; ++i)
        if ((!spare_keep || i != keep) && *dims[i] > 1 && (!big || *dims[i] > *big)) big = dims[i];
      if (!big) break;
      *big = (*big + 1) / 2;
      d.store_all = stored(s, true) <= b.stored_weights;
    }
}

template <typename T>
T pick(const std::vector<T>& v) {
  return *rc::gen::elementOf(v);
}

}  // namespace

std::string_view tier_name(Tier t) { return t == Tier::small ? "small" : "production"; }

TierBudget tier_budget(Tier t, bool device) {
  if (t == Tier::small) return {int64_t{1} << 16, int64_t{1} << 18, 0};
  // Case generation (about 10 ns per stored element and core), copies and
  // uploads cost more than a GPU's run of the batch.
  if (device) return {int64_t{1} << 33, int64_t{1} << 26, int64_t{1} << 29};
  return {int64_t{1} << 24, int64_t{1} << 23, int64_t{1} << 26};
}

GenOptions& default_gen_options() {
  static GenOptions o;
  return o;
}

rc::Gen<DrawnShape> gen_shape(Tier tier, const TierBudget& budget) {
  return rc::gen::exec([tier, budget] {
    DrawnShape d;
    Shape& s = d.shape;
    s.T = *gen_tokens();
    // Presets exactly, where one token of them fits (routing one_set then
    // stores just k experts); the production tier only.
    if (tier == Tier::production && *rc::gen::weightedElement<bool>({{19, false}, {1, true}})) {
      const Preset& p = pick(shape_presets());
      s = {s.T, p.H, p.I, p.E, p.k};
      TierBudget pb = budget;
      pb.stored_weights = budget.preset_weights;
      d.one_set = !fits(d, pb);
      while (s.T > 1 && !fits(d, pb)) s.T = (s.T + 1) / 2;
      if (fits(d, pb)) {
        d.preset = std::string(p.name);
        return d;
      }
      s.T = *gen_tokens();
      d.one_set = false;
    }
    s.H = *gen_wide(256, kBigH, 8192);
    s.I = *gen_wide(128, kBigI, 4096);
    s.E = *gen_experts();
    s.k = *gen_topk(s.E);
    // The case's own budget, log-uniform below the tier's: most cases stay
    // cheap, and one kept dimension still reaches its full range.
    TierBudget own = budget;
    own.work >>= *any_in(0, tier == Tier::small ? 7 : 5);
    // T and H kept most often: batch-dependent and long-reduction bugs.
    shrink_to_budget(d, own, *rc::gen::weightedElement<int>({{3, 0}, {4, 1}, {2, 2}, {1, 3}}));
    return d;
  });
}

rc::Gen<FuzzCase> gen_fuzz_case(const GenOptions& opt) {
  return rc::gen::exec([opt] {
      FuzzCase fc;
      GenSpec& g = fc.spec;
      const DrawnShape d = *gen_shape(opt.tier, opt.budget);
      g.shape = d.shape;
      g.preset = d.preset;
      std::vector<std::pair<WeightFormat, Format>> formats = opt.formats;
      if (formats.empty())
        for (WeightFormat w : all_weight_formats())
          for (Format x : {Format::bf16, Format::f16, Format::f32}) formats.emplace_back(w, x);
      std::tie(g.weights, g.x_format) = pick(formats);
      std::vector<Activation> acts = opt.activations;
      if (acts.empty())
        acts = {Activation::swiglu, Activation::bilinear, Activation::geglu, Activation::swiglu_clamped};
      g.act.kind = pick(acts);
      g.layout = *rc::gen::element(GateUpLayout::concatenated, GateUpLayout::interleaved);
      g.routing = *rc::gen::element(RoutingDist::uniform, RoutingDist::distinct, RoutingDist::one_set,
                                    RoutingDist::zipf, RoutingDist::adversarial);
      if (d.one_set) g.routing = RoutingDist::one_set;
      g.values = *rc::gen::weightedElement<ValueDist>(
          {{4, ValueDist::normal}, {2, ValueDist::integer}, {2, ValueDist::uniform}, {2, ValueDist::heavy},
           {2, ValueDist::cancel}});
      g.storage = d.store_all ? ExpertStorage::all : ExpertStorage::routed;
      g.seed = *any_in<uint64_t>(1, 1u << 31);
      // Exact-integer cases: bilinear on small integers with few terms, so
      // every intermediate stays within even bf16's exact integers and the
      // result must come out exact (DESIGN.md section 1).
      const bool bilinear_ok = std::find(acts.begin(), acts.end(), Activation::bilinear) != acts.end();
      const bool small = opt.tier == Tier::small;
      const bool exact = small && bilinear_ok && *rc::gen::weightedElement<bool>({{5, false}, {1, true}});
      if (exact) {
        g.act.kind = Activation::bilinear;
        g.values = ValueDist::integer;
        g.shape.H = *any_in<int64_t>(1, 5);
        g.shape.I = *any_in<int64_t>(1, 4);
        g.storage = ExpertStorage::all;
      }
      // Half the small cases carry specials; the risky kinds are drawn most
      // often. Production-scale cases carry none: there every output that is
      // not finite is a failure (unwritten), whichever token it belongs to.
      // Scales are targets only where the weight format has them; NaN only
      // in weights or scales (apply_special puts it in an unselected expert).
      const auto target = has_scales(g.weights)
          ? rc::gen::weightedElement<SpecialTarget>(
                {{4, SpecialTarget::x}, {2, SpecialTarget::w13}, {2, SpecialTarget::w2},
                 {2, SpecialTarget::routing_weight}, {2, SpecialTarget::w13_scale}, {2, SpecialTarget::w2_scale}})
          : rc::gen::weightedElement<SpecialTarget>(
                {{4, SpecialTarget::x}, {2, SpecialTarget::w13}, {2, SpecialTarget::w2}, {2, SpecialTarget::routing_weight}});
      const auto value_kind = rc::gen::weightedElement<SpecialKind>(
          {{4, SpecialKind::subnormal}, {2, SpecialKind::min_normal}, {3, SpecialKind::big}, {1, SpecialKind::near_max},
           {2, SpecialKind::zero}, {1, SpecialKind::neg_zero}, {3, SpecialKind::tie}, {2, SpecialKind::power_of_two}});
      const auto weight_kind = rc::gen::weightedElement<SpecialKind>(
          {{4, SpecialKind::subnormal}, {2, SpecialKind::min_normal}, {3, SpecialKind::big}, {1, SpecialKind::near_max},
           {2, SpecialKind::zero}, {1, SpecialKind::neg_zero}, {3, SpecialKind::tie}, {2, SpecialKind::power_of_two},
           {2, SpecialKind::nan}});
      const int n = exact || !small ? 0 : *rc::gen::weightedOneOf<int>({{1, rc::gen::just(0)}, {1, any_in(1, 6)}});
      for (int i = 0; i < n; ++i) {
        const SpecialTarget t = *target;
        const bool in_weights = t != SpecialTarget::x && t != SpecialTarget::routing_weight;
        const SpecialKind kind = in_weights ? *weight_kind : *value_kind;
        fc.specials.push_back({t, kind, *rc::gen::arbitrary<uint32_t>(), *rc::gen::arbitrary<uint32_t>()});
      }
      // Drawn last so the draws above (and the cases of saved seeds) stay as
      // they were; bf16 first so shrinking ends there.
      std::vector<Format> ys = opt.y_formats;
      if (ys.empty()) ys = {Format::bf16, Format::f16, Format::f32};
      std::stable_partition(ys.begin(), ys.end(), [](Format y) { return y == Format::bf16; });
      std::vector<Format> pool;  // bf16 four times: drawn 4 in 6 when all three are allowed
      for (Format y : ys) pool.insert(pool.end(), y == Format::bf16 ? 4 : 1, y);
      g.y_format = *rc::gen::elementOf(pool);
      return fc;
  });
}

namespace {

// The code of a finite special value in a minifloat or IEEE format (bf16,
// f16, f32, e4m3, e2m1). Exponents are clamped to the format's finite range,
// so that e.g. e2m1 (exponents 0..3) and e4m3 (no infinities, top mantissa
// of the top exponent is NaN) get their own extremes.
uint32_t special_code(Format f, SpecialKind k, uint32_t bits) {
  const MiniSpec m = mini_spec(f);
  const uint32_t sign = (bits >> 31) ? 1u << (m.ebits + m.mbits) : 0u;
  const uint32_t mant_mask = (1u << m.mbits) - 1;
  const uint32_t max_code = encode(f, mini_max(f));  // largest finite, positive
  const uint32_t emax = max_code >> m.mbits;          // its biased exponent
  auto code = [&](int64_t e, uint32_t mant) {
    const uint32_t be = static_cast<uint32_t>(std::clamp<int64_t>(e, 1, emax));
    mant &= mant_mask;
    if (be == emax) mant = std::min(mant, max_code & mant_mask);
    return sign | (be << m.mbits) | mant;
  };
  switch (k) {
    case SpecialKind::subnormal: return sign | (1 + bits % mant_mask);
    case SpecialKind::min_normal: return code(1, bits % 2);
    case SpecialKind::big: return code(m.bias + m.bias / 3 + bits % 3, bits >> 8);
    case SpecialKind::near_max: return sign | (max_code - std::min(bits % 4, max_code));
    case SpecialKind::zero: return 0;
    case SpecialKind::neg_zero: return 1u << (m.ebits + m.mbits);
    case SpecialKind::tie: return code(m.bias - static_cast<int64_t>(bits % 3), 1);
    case SpecialKind::power_of_two: return code(m.bias - 4 + static_cast<int64_t>(bits % 8), 0);
    case SpecialKind::nan: break;  // see nan_code
  }
  return 0;
}

// A NaN code of f, or nullopt where f has none (e2m1).
std::optional<uint32_t> nan_code(Format f) {
  switch (f) {
    case Format::bf16: return 0x7FC0;
    case Format::f16: return 0x7E00;
    case Format::f32: return 0x7FC00000u;
    case Format::e4m3: return 0x7F;
    case Format::e8m0: return 0xFF;
    default: return std::nullopt;
  }
}

// The code of a special scale: scales are positive; e8m0 holds only powers
// of two (no zero, no subnormals: 0x00 is 2^-127, 0xFE 2^127, 0xFF NaN).
uint32_t scale_code(Format f, SpecialKind k, uint32_t bits) {
  if (k == SpecialKind::nan) return *nan_code(f);
  bits &= 0x7fffffffu;
  if (f != Format::e8m0) return special_code(f, k, bits);
  switch (k) {
    case SpecialKind::subnormal:
    case SpecialKind::zero:
    case SpecialKind::neg_zero: return 0x00;
    case SpecialKind::min_normal: return 0x01;
    case SpecialKind::big: return 127 + 42 + bits % 3;
    case SpecialKind::near_max: return 0xFE - bits % 4;
    case SpecialKind::tie: return 127;
    default: return 127 - 4 + bits % 8;  // power_of_two
  }
}

// Storage slot for a NaN special: one that no token selects (-1: none).
int64_t unselected_slot(const Case& c, uint32_t where) {
  std::vector<bool> used(static_cast<size_t>(c.stored_count()), false);
  for (int32_t id : c.topk_ids) used[static_cast<size_t>(c.slot_of(id))] = true;
  std::vector<int64_t> free;
  for (int64_t e = 0; e < c.stored_count(); ++e)
    if (!used[static_cast<size_t>(e)]) free.push_back(e);
  return free.empty() ? -1 : free[where % free.size()];
}

// Writes element code `code` at flat element index `idx` of w's (E, R, K).
void put_weight_code(WeightStack& w, int64_t idx, uint32_t code) {
  const int64_t k = idx % w.K, er = idx / w.K;
  uint8_t* row = w.data.data() + er * w.row_bytes();
  switch (format_bits(element_format(w.format))) {
    case 16: std::memcpy(row + 2 * k, &code, 2); break;
    case 8: row[k] = static_cast<uint8_t>(code); break;
    default:  // e2m1: two per byte, low nibble = even k
      row[k / 2] = (k & 1) ? static_cast<uint8_t>((row[k / 2] & 0x0f) | ((code & 0xf) << 4))
                           : static_cast<uint8_t>((row[k / 2] & 0xf0) | (code & 0xf));
  }
}

void put_scale_code(WeightStack& w, int64_t idx, uint32_t code) {
  if (scale_format(w.format) == Format::f32)
    std::memcpy(&w.scales[static_cast<size_t>(idx) * 4], &code, 4);
  else
    w.scales[static_cast<size_t>(idx)] = static_cast<uint8_t>(code);
}

int64_t scale_count(const WeightStack& w) {
  return w.scale_bytes() / (scale_format(w.format) == Format::f32 ? 4 : 1);
}

void apply_weight_special(Case& c, WeightStack& w, bool scale, const Special& s) {
  const int64_t per = w.R * w.K;  // elements per expert
  int64_t e = -1;
  if (s.kind == SpecialKind::nan && (e = unselected_slot(c, s.bits)) < 0) return;
  if (scale) {
    if (!has_scales(w.format)) return;
    const int64_t n = scale_count(w), sp = n / w.E;
    const int64_t idx = e < 0 ? static_cast<int64_t>(s.where % static_cast<uint64_t>(n)) : e * sp + s.where % sp;
    put_scale_code(w, idx, scale_code(scale_format(w.format), s.kind, s.bits));
    return;
  }
  const int64_t idx = e < 0 ? static_cast<int64_t>(s.where % static_cast<uint64_t>(w.E * per)) : e * per + s.where % per;
  const Format f = element_format(w.format);
  if (s.kind != SpecialKind::nan) return put_weight_code(w, idx, special_code(f, s.kind, s.bits));
  if (nan_code(f)) return put_weight_code(w, idx, *nan_code(f));
  // e2m1 has no NaN: poison the element's block scale instead (OCP MX: a
  // NaN scale makes its whole block NaN).
  const int64_t KB = (w.K + scale_block(w.format) - 1) / scale_block(w.format);
  put_scale_code(w, (idx / w.K) * KB + (idx % w.K) / scale_block(w.format), *nan_code(scale_format(w.format)));
}

void put(std::vector<uint8_t>& bytes, int64_t idx, int nbytes, uint32_t code) {
  std::memcpy(&bytes[static_cast<size_t>(idx * nbytes)], &code, static_cast<size_t>(nbytes));
}

}  // namespace

void apply_special(Case& c, const Special& s) {
  const Shape& sh = c.shape;
  switch (s.target) {
    case SpecialTarget::x: {
      const int nb = format_bits(c.x_format) / 8;
      put(c.x, s.where % (sh.T * sh.H), nb, special_code(c.x_format, s.kind, s.bits));
      break;
    }
    case SpecialTarget::w13:
    case SpecialTarget::w2:
    case SpecialTarget::w13_scale:
    case SpecialTarget::w2_scale: {
      const bool up = s.target == SpecialTarget::w13 || s.target == SpecialTarget::w13_scale;
      apply_weight_special(c, up ? c.w13 : c.w2, s.target == SpecialTarget::w13_scale || s.target == SpecialTarget::w2_scale, s);
      break;
    }
    case SpecialTarget::routing_weight: {
      // Routing weights are softmax outputs: positive and never huge, so
      // near_max becomes a plain large weight and the sign is dropped.
      const SpecialKind k = s.kind == SpecialKind::near_max ? SpecialKind::big : s.kind;
      uint32_t code = special_code(Format::f32, k, s.bits & 0x7fffffffu);
      if (k == SpecialKind::big) code = float_bits(1024.0f);
      float v;
      std::memcpy(&v, &code, 4);
      c.topk_weights[s.where % c.topk_weights.size()] = v;
      break;
    }
  }
}

Case build_case(const FuzzCase& fc) {
  Case c = generate_case(fc.spec);
  for (const Special& s : fc.specials) apply_special(c, s);
  return c;
}

std::string_view target_name(SpecialTarget t) {
  static const char* n[] = {"x", "w13", "w2", "routing_weight", "w13_scale", "w2_scale"};
  return n[static_cast<int>(t)];
}
std::string_view kind_name(SpecialKind k) {
  static const char* n[] = {"subnormal", "min_normal", "big",          "near_max", "zero",
                            "neg_zero",  "tie",        "power_of_two", "nan"};
  return n[static_cast<int>(k)];
}

std::string describe(const FuzzCase& fc) {
  const GenSpec& g = fc.spec;
  std::ostringstream os;
  os << "T=" << g.shape.T << " H=" << g.shape.H << " I=" << g.shape.I << " E=" << g.shape.E << " k=" << g.shape.k
     << " weights=" << weight_format_name(g.weights) << " x=" << format_name(g.x_format)
     << " y=" << format_name(g.y_format) << " act=" << activation_name(g.act.kind) << " layout=" << layout_name(g.layout)
     << " routing=" << routing_name(g.routing) << " values=" << values_name(g.values) << " seed=" << g.seed;
  for (const Special& s : fc.specials)
    os << " special(" << target_name(s.target) << "," << kind_name(s.kind) << ",at=" << s.where << ",bits=0x" << std::hex
       << s.bits << std::dec << ")";
  return os.str();
}

std::vector<std::string> coverage_tags(const FuzzCase& fc) {
  const Shape& s = fc.spec.shape;
  std::vector<std::string> t;
  t.push_back(s.T == 1 ? "T=1" : s.T % 2 ? "T odd" : "T even");
  t.push_back(s.H % 32 ? "H not /32" : "H /32");
  t.push_back(s.I % 32 ? "I not /32" : "I /32");
  if (s.k == s.E) t.push_back("k=E");
  if (s.k == 1) t.push_back("k=1");
  if (s.E >= 128) t.push_back("E>=128");
  if (s.E > 256) t.push_back("E>256");
  if (s.k > 8) t.push_back("k>8");
  if (s.T > 64) t.push_back("T>64");
  if (s.H >= 1024) t.push_back("H>=1024");
  if (s.I >= 1024) t.push_back("I>=1024");
  if (!fc.spec.preset.empty()) t.push_back("preset " + fc.spec.preset);
  t.push_back(std::string("storage ") + (fc.spec.storage == ExpertStorage::all ? "all" : "routed"));
  t.push_back(std::string("weights ") + std::string(weight_format_name(fc.spec.weights)));
  t.push_back(std::string("y ") + std::string(format_name(fc.spec.y_format)));
  t.push_back(std::string("act ") + std::string(activation_name(fc.spec.act.kind)));
  t.push_back(std::string("routing ") + std::string(routing_name(fc.spec.routing)));
  t.push_back(std::string("values ") + std::string(values_name(fc.spec.values)));
  for (const Special& sp : fc.specials)
    t.push_back("special " + std::string(kind_name(sp.kind)) + " in " + std::string(target_name(sp.target)));
  return t;
}

}  // namespace moecheck::fuzz
