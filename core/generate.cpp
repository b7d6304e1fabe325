#include "core/generate.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>

#include "core/enum_table.hpp"
#include "core/error.hpp"
#include "core/float_text.hpp"
#include "core/memory.hpp"
#include "core/rng.hpp"

namespace moecheck {

namespace {

const std::pair<RoutingDist, std::string_view> kRouting[] = {
    {RoutingDist::uniform, "uniform"},   {RoutingDist::zipf, "zipf"},
    {RoutingDist::one_set, "one_set"},   {RoutingDist::distinct, "distinct"},
    {RoutingDist::adversarial, "adversarial"},
};
const std::pair<ValueDist, std::string_view> kValues[] = {
    {ValueDist::normal, "normal"},   {ValueDist::uniform, "uniform"}, {ValueDist::heavy, "heavy"},
    {ValueDist::integer, "integer"}, {ValueDist::cancel, "cancel"},
};
const std::pair<ExpertStorage, std::string_view> kStorage[] = {
    {ExpertStorage::automatic, "auto"}, {ExpertStorage::all, "all"}, {ExpertStorage::routed, "routed"}};

// Stream ids keep tensors independent of each other and of the thread count.
enum Stream : uint64_t { kRoute = 1, kRouteWeights, kX, kW13, kW2, kOutlier, kCancel };

// Weighted draw of k distinct experts (weights > 0), in draw order.
std::vector<int32_t> draw_weighted(Rng& r, const std::vector<double>& weight, int64_t k) {
  std::vector<double> w = weight;
  std::vector<int32_t> out;
  for (int64_t j = 0; j < k; ++j) {
    double total = 0;
    for (double v : w) total += v;
    double u = r.uniform() * total;
    int64_t pick = static_cast<int64_t>(w.size()) - 1;
    for (int64_t e = 0; e < static_cast<int64_t>(w.size()); ++e) {
      if (w[e] > 0 && u < w[e]) {
        pick = e;
        break;
      }
      u -= w[e];
    }
    while (w[pick] == 0) --pick;  // guard against the last-bin rounding case
    out.push_back(static_cast<int32_t>(pick));
    w[pick] = 0;
  }
  return out;
}

std::vector<int32_t> permutation(Rng& r, int64_t n) {
  std::vector<int32_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[r.below(i + 1)]);
  return p;
}

void shuffle(Rng& r, int32_t* v, int64_t n) {
  for (int64_t i = n - 1; i > 0; --i) std::swap(v[i], v[r.below(i + 1)]);
}

std::vector<int32_t> route(const GenSpec& spec) {
  const Shape& s = spec.shape;
  Rng r(mix_seed(spec.seed, kRoute));
  std::vector<int32_t> ids(s.T * s.k);
  switch (spec.routing) {
    case RoutingDist::uniform:
      for (int64_t t = 0; t < s.T; ++t) {
        auto p = permutation(r, s.E);
        std::copy_n(p.begin(), s.k, &ids[t * s.k]);
      }
      break;
    case RoutingDist::zipf: {
      // Popularity 1/(rank+1) over a random ranking of the experts.
      auto rank = permutation(r, s.E);
      std::vector<double> w(s.E);
      for (int64_t e = 0; e < s.E; ++e) w[rank[e]] = 1.0 / static_cast<double>(e + 1);
      for (int64_t t = 0; t < s.T; ++t) {
        auto d = draw_weighted(r, w, s.k);
        std::copy(d.begin(), d.end(), &ids[t * s.k]);
      }
      break;
    }
    case RoutingDist::one_set: {
      auto p = permutation(r, s.E);
      for (int64_t t = 0; t < s.T; ++t) {
        std::copy_n(p.begin(), s.k, &ids[t * s.k]);
        shuffle(r, &ids[t * s.k], s.k);
      }
      break;
    }
    case RoutingDist::distinct: {
      // Consecutive chunks of a permutation: no expert shared until they run out.
      std::vector<int32_t> p;
      size_t at = 0;
      for (int64_t t = 0; t < s.T; ++t) {
        if (at + s.k > p.size()) {
          p = permutation(r, s.E);
          at = 0;
        }
        std::copy_n(p.begin() + at, s.k, &ids[t * s.k]);
        at += s.k;
      }
      break;
    }
    case RoutingDist::adversarial: {
      // One hot expert in every token, at a random slot.
      const int32_t hot = static_cast<int32_t>(r.below(s.E));
      for (int64_t t = 0; t < s.T; ++t) {
        auto p = permutation(r, s.E);
        ids[t * s.k] = hot;
        int64_t j = 1;
        for (int32_t e : p) {
          if (j == s.k) break;
          if (e != hot) ids[t * s.k + j++] = e;
        }
        shuffle(r, &ids[t * s.k], s.k);
      }
      break;
    }
  }
  return ids;
}

std::vector<float> route_weights(const GenSpec& spec) {
  const Shape& s = spec.shape;
  Rng r(mix_seed(spec.seed, kRouteWeights));
  std::vector<float> w(s.T * s.k);
  for (int64_t t = 0; t < s.T; ++t) {
    if (spec.values == ValueDist::integer) {
      // Powers of two keep w_j * (integer) exact.
      for (int64_t j = 0; j < s.k; ++j) w[t * s.k + j] = static_cast<float>(pow2(-static_cast<int>(r.below(3))));
      continue;
    }
    // Normalized positive weights, as a renormalized top-k softmax gives.
    double sum = 0;
    std::vector<double> v(s.k);
    for (auto& x : v) sum += (x = r.uniform_pos());
    for (int64_t j = 0; j < s.k; ++j) w[t * s.k + j] = static_cast<float>(v[j] / sum);
  }
  return w;
}

double draw_value(Rng& r, ValueDist d, bool is_x) {
  switch (d) {
    case ValueDist::uniform: return 2 * r.uniform() - 1;
    case ValueDist::heavy:
      if (is_x) return std::clamp(r.heavy(), -1e4, 1e4);
      return r.normal();
    case ValueDist::integer:
      return is_x ? static_cast<double>(static_cast<int64_t>(r.below(5)) - 2)
                  : static_cast<double>(static_cast<int64_t>(r.below(3)) - 1);
    default: return r.normal();
  }
}

bool outlier_channel(uint64_t seed, int64_t n) { return mix_seed(seed, kOutlier, n) % 64 == 0; }

// The hidden channel through which cancel cases leave their residue.
int64_t cancel_channel(const GenSpec& spec) {
  return static_cast<int64_t>(mix_seed(spec.seed, kCancel) % static_cast<uint64_t>(spec.shape.H));
}

// Deepest power of two below 1 that x's format holds (its smallest subnormal),
// capped where the residues reach 2^-60 of the condition number.
int cancel_depth(Format x) { return std::min(56, mini_spec(x).bias + mini_spec(x).mbits - 1); }

std::vector<uint8_t> make_x(const GenSpec& spec) {
  const Shape& s = spec.shape;
  const int64_t eb = x_elem_bytes(spec.x_format);
  std::vector<uint8_t> x(s.T * s.H * eb);
  for (int64_t t = 0; t < s.T; ++t) {
    Rng r(mix_seed(spec.seed, kX, t));
    std::vector<double> row(static_cast<size_t>(s.H));
    for (int64_t n = 0; n < s.H; ++n) {
      row[n] = draw_value(r, spec.values, true);
      if (spec.values == ValueDist::heavy && outlier_channel(spec.seed, n)) row[n] *= 32;
    }
    // Each token's cancel channel is 2^-e, e uniform to the format's depth:
    // the token's outputs are residues of about 2^-e of their condition.
    if (spec.values == ValueDist::cancel)
      row[cancel_channel(spec)] = (r.below(2) ? -1 : 1) * pow2(-static_cast<int>(r.below(cancel_depth(spec.x_format) + 1)));
    for (int64_t n = 0; n < s.H; ++n) {
      const uint32_t code = encode(spec.x_format, row[n]);
      for (int64_t b = 0; b < eb; ++b) x[(t * s.H + n) * eb + b] = static_cast<uint8_t>(code >> (8 * b));
    }
  }
  return x;
}

// Master fp32 weights (R, K) of one expert, keyed by its global id so that a
// routed-only case holds the same weights as the all-experts case.
void master_rows(const GenSpec& spec, uint64_t stream, int32_t expert, int64_t R, int64_t K, std::vector<float>& m) {
  m.resize(static_cast<size_t>(R * K));
  const double scale = spec.values == ValueDist::integer ? 1.0 : 1.0 / std::sqrt(static_cast<double>(K));
#pragma omp parallel for schedule(static) if (R * K > (1 << 18))
  for (int64_t row = 0; row < R; ++row) {
    Rng r(mix_seed(spec.seed, stream, static_cast<uint64_t>(expert), static_cast<uint64_t>(row)));
    for (int64_t k = 0; k < K; ++k) m[row * K + k] = static_cast<float>(draw_value(r, spec.values, false) * scale);
  }
}

// Near-cancellation with a controlled residue. Intermediate neurons pair up
// as (2m, 2m+1): equal gate and up rows, except that the gate rows disagree
// in sign at the cancel channel c (value the row's largest magnitude, so it
// survives every quantization), and down columns 2m+1 = -(2m) (an odd I's
// last column is 0). Pairs share every block and channel scale, so the
// quantized weights keep these relations exactly, and y = sum_j w_j sum_m
// D[i,2m] (h[2m] - h[2m+1]) with h[2m] - h[2m+1] driven by 2 G[2m,c] x[c]:
// |y| / cond follows x[c] = 2^-e (make_x) down to ~2^-60, and y is exactly
// zero only where every pair's difference is.
void make_cancelling(const GenSpec& spec, std::vector<float>& w13, std::vector<float>& w2) {
  const int64_t H = spec.shape.H, I = spec.shape.I, c = cancel_channel(spec);
  for (int64_t m = 0; 2 * m + 1 < I; ++m) {
    for (int part = 0; part < 2; ++part) {
      const int64_t src = part ? up_row(spec.layout, I, 2 * m) : gate_row(spec.layout, I, 2 * m);
      const int64_t dst = part ? up_row(spec.layout, I, 2 * m + 1) : gate_row(spec.layout, I, 2 * m + 1);
      std::copy_n(&w13[src * H], H, &w13[dst * H]);
    }
    const int64_t g0 = gate_row(spec.layout, I, 2 * m) * H, g1 = gate_row(spec.layout, I, 2 * m + 1) * H;
    float amax = 0;
    for (int64_t n = 0; n < H; ++n) amax = std::max(amax, std::fabs(w13[g0 + n]));
    w13[g0 + c] = amax;
    w13[g1 + c] = -amax;
    for (int64_t i = 0; i < H; ++i) w2[i * I + 2 * m + 1] = -w2[i * I + 2 * m];
  }
  if (I % 2)
    for (int64_t i = 0; i < H; ++i) w2[i * I + I - 1] = 0;
}

// Copies a one-expert stack into slot `slot` of a stack sized for all.
void put_slot(WeightStack& into, int64_t slot, const WeightStack& one) {
  std::copy(one.data.begin(), one.data.end(), into.data.begin() + slot * static_cast<int64_t>(one.data.size()));
  std::copy(one.scales.begin(), one.scales.end(), into.scales.begin() + slot * static_cast<int64_t>(one.scales.size()));
  if (!one.tensor_scale.empty()) into.tensor_scale[static_cast<size_t>(slot)] = one.tensor_scale[0];
}

WeightStack empty_stack(WeightFormat f, int64_t S, int64_t R, int64_t K) {
  WeightStack w{f, S, R, K, {}, {}, {}};
  return w;
}

// What generate_case holds at its peak: the case itself, plus one expert's
// fp32 masters and its quantized copy.
uint64_t generation_bytes(const GenSpec& spec, int64_t S) {
  const Shape& s = spec.shape;
  uint64_t b = static_cast<uint64_t>(s.T * s.H * x_elem_bytes(spec.x_format) + 8 * s.T * s.k);
  for (int64_t slots : {S, int64_t{1}})
    for (const WeightStack& w : {empty_stack(spec.weights, slots, 2 * s.I, s.H), empty_stack(spec.weights, slots, s.H, s.I)})
      b += static_cast<uint64_t>(w.data_bytes() + w.scale_bytes() + 4 * slots);
  return b + static_cast<uint64_t>(4 * 3 * s.I * s.H);
}

std::vector<int32_t> choose_stored(const GenSpec& spec, const std::vector<int32_t>& ids) {
  const Shape& s = spec.shape;
  ExpertStorage st = spec.storage;
  if (st == ExpertStorage::automatic) {
    WeightStack probe;
    probe.format = spec.weights;
    probe.E = s.E;
    probe.R = 3 * s.I;  // gate + up + down, counted per element below
    probe.K = s.H;
    const double bytes = static_cast<double>(probe.data_bytes()) + static_cast<double>(probe.scale_bytes());
    st = bytes <= 2.0 * (1ull << 30) ? ExpertStorage::all : ExpertStorage::routed;
  }
  if (st == ExpertStorage::all) return {};
  std::vector<int32_t> used = ids;
  std::sort(used.begin(), used.end());
  used.erase(std::unique(used.begin(), used.end()), used.end());
  if (static_cast<int64_t>(used.size()) == s.E) return {};
  return used;
}

// JSON has no NaN or infinity (nlohmann writes null, which then fails to
// read): those go as text. A finite fp32 stays a number, which every JSON
// reader gets exactly (it is a double's shortest round-trip text).
nlohmann::ordered_json float_json(float v) {
  if (std::isfinite(v)) return v;
  return float_exact_text(v);
}

float float_of_json(const nlohmann::json& j, const char* key) {
  if (j.is_number()) return j.get<float>();
  const std::optional<float> v = j.is_string() ? parse_float_text(j.get<std::string>()) : std::nullopt;
  if (!v) throw InputError(std::string("generator spec is not valid: ") + key + " is not an fp32 number");
  return *v;
}

}  // namespace

std::string_view routing_name(RoutingDist r) { return name_in(r, kRouting); }
RoutingDist parse_routing(std::string_view name) { return parse_in("routing distribution", name, kRouting); }
std::string_view values_name(ValueDist v) { return name_in(v, kValues); }
ValueDist parse_values(std::string_view name) { return parse_in("value distribution", name, kValues); }

Case generate_case_without_weights(const GenSpec& spec) {
  validate_shape(spec.shape);
  const Shape& s = spec.shape;
  if (spec.x_format != Format::bf16 && spec.x_format != Format::f16 && spec.x_format != Format::f32)
    throw InputError("x format must be bf16, f16 or f32");
  require_memory(static_cast<uint64_t>(s.T * s.H * x_elem_bytes(spec.x_format) + 8 * s.T * s.k),
                 "generating x and the routing (T=" + std::to_string(s.T) + " H=" + std::to_string(s.H) + ")");
  Case c;
  c.shape = s;
  c.act = spec.act;
  c.layout = spec.layout;
  c.x_format = spec.x_format;
  c.y_format = spec.y_format;  // validate() rejects a non-output format
  c.topk_ids = route(spec);
  c.topk_weights = route_weights(spec);
  c.x = make_x(spec);
  c.stored_experts = choose_stored(spec, c.topk_ids);
  c.w13 = empty_stack(spec.weights, 0, 2 * s.I, s.H);
  c.w2 = empty_stack(spec.weights, 0, s.H, s.I);
  c.provenance = spec_to_json(spec);
  return c;
}

ExpertGenerator::ExpertGenerator(const GenSpec& spec) : spec_(spec) {
  const Shape& s = spec.shape;
  require_memory(generation_bytes(spec, 0), "generating one expert's weights (H=" + std::to_string(s.H) +
                                                " I=" + std::to_string(s.I) + ")");
}

const ExpertWeights& ExpertGenerator::operator()(int32_t expert) {
  const Shape& s = spec_.shape;
  master_rows(spec_, kW13, expert, 2 * s.I, s.H, m13_);
  master_rows(spec_, kW2, expert, s.H, s.I, m2_);
  if (spec_.values == ValueDist::cancel) make_cancelling(spec_, m13_, m2_);
  quantize_weights_into(out_.w13, spec_.weights, 1, 2 * s.I, s.H, m13_);
  quantize_weights_into(out_.w2, spec_.weights, 1, s.H, s.I, m2_);
  return out_;
}

Case generate_case(const GenSpec& spec) {
  Case c = generate_case_without_weights(spec);
  const Shape& s = c.shape;
  const int64_t S = c.stored_count();
  require_memory(generation_bytes(spec, S), "generating this case (T=" + std::to_string(s.T) + " H=" +
                                                std::to_string(s.H) + " I=" + std::to_string(s.I) + ", " +
                                                std::to_string(S) + " experts stored)");
  // Sized once: growing expert by expert would copy the whole stack each time
  // its capacity doubles.
  for (WeightStack* w : {&c.w13, &c.w2}) {
    w->E = S;
    w->data.resize(static_cast<size_t>(w->data_bytes()));
    w->scales.resize(static_cast<size_t>(w->scale_bytes()));
    if (spec.weights == WeightFormat::nvfp4) w->tensor_scale.resize(static_cast<size_t>(S));
  }
  ExpertGenerator gen(spec);
  for (int64_t slot = 0; slot < S; ++slot) {
    const ExpertWeights& one = gen(c.stored_experts.empty() ? static_cast<int32_t>(slot) : c.stored_experts[slot]);
    put_slot(c.w13, slot, one.w13);
    put_slot(c.w2, slot, one.w2);
  }
  validate(c);
  return c;
}

std::string spec_to_json(const GenSpec& spec) {
  nlohmann::ordered_json j;
  j["generator"] = "moecheck.generate_case/1";
  j["preset"] = spec.preset;
  j["T"] = spec.shape.T;
  j["H"] = spec.shape.H;
  j["I"] = spec.shape.I;
  j["E"] = spec.shape.E;
  j["k"] = spec.shape.k;
  j["weights"] = weight_format_name(spec.weights);
  j["x_format"] = format_name(spec.x_format);
  j["y_format"] = format_name(spec.y_format);
  j["activation"] = activation_name(spec.act.kind);
  j["alpha"] = float_json(spec.act.alpha);
  j["limit"] = float_json(spec.act.limit);
  j["layout"] = layout_name(spec.layout);
  j["routing"] = routing_name(spec.routing);
  j["values"] = values_name(spec.values);
  j["storage"] = name_in(spec.storage, kStorage);
  j["seed"] = std::to_string(spec.seed);
  return j.dump();
}

GenSpec spec_from_json(std::string_view text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
    GenSpec s;
    s.preset = j.at("preset").get<std::string>();
    s.shape = {j.at("T").get<int64_t>(), j.at("H").get<int64_t>(), j.at("I").get<int64_t>(), j.at("E").get<int64_t>(),
               j.at("k").get<int64_t>()};
    s.weights = parse_weight_format(j.at("weights").get<std::string>());
    s.x_format = parse_format(j.at("x_format").get<std::string>());
    // Specs written before the output format was a choice: bf16.
    if (j.contains("y_format")) s.y_format = parse_format(j.at("y_format").get<std::string>());
    s.act.kind = parse_activation(j.at("activation").get<std::string>());
    s.act.alpha = float_of_json(j.at("alpha"), "alpha");
    s.act.limit = float_of_json(j.at("limit"), "limit");
    s.layout = parse_layout(j.at("layout").get<std::string>());
    s.routing = parse_routing(j.at("routing").get<std::string>());
    s.values = parse_values(j.at("values").get<std::string>());
    s.storage = parse_in("expert storage", j.at("storage").get<std::string>(), kStorage);
    s.seed = std::stoull(j.at("seed").get<std::string>());
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("generator spec is not valid: ") + e.what());
  } catch (const std::logic_error& e) {
    throw InputError(std::string("generator spec is not valid: ") + e.what());
  }
}

}  // namespace moecheck
