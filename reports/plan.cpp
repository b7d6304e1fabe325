#include "reports/plan.hpp"

#include "core/error.hpp"

namespace moecheck::report {
namespace {

SweepShape preset_shape(const std::string& name) {
  const Preset& p = find_preset(name);
  SweepShape s{std::string(p.name), {1, p.H, p.I, p.E, p.k}, {}, 2};
  if (name == "gpt-oss-120b") s.act.kind = Activation::swiglu_clamped;
  return s;
}

// A preset with H and I divided by `div` (k and the expert count kept where
// they fit): the same routing structure at a size the host oracle and host
// twins finish in well under a second. Sizes are kept off multiples of the
// warp's 256-element stride so the ragged tail paths are in the sweep too.
SweepShape mini(const std::string& name, int64_t div, int64_t E) {
  SweepShape s = preset_shape(name);
  s.name = name + "/mini";
  s.shape.H = s.shape.H / div + 8;
  s.shape.I = s.shape.I / div + 8;
  s.shape.E = E;
  s.max_T = 0;
  return s;
}

const std::vector<ValueDist> kAllValues = {ValueDist::normal, ValueDist::uniform, ValueDist::heavy, ValueDist::integer,
                                           ValueDist::cancel};

uint64_t fnv1a(const std::string& text, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ (seed * 0x9E3779B97F4A7C15ull);
  for (unsigned char ch : text) h = (h ^ ch) * 1099511628211ull;
  return h >> 1;  // keep it a positive int64 for JSON readers
}

}  // namespace

const std::vector<std::string>& plan_names() {
  static const std::vector<std::string> names = {"smoke", "ci", "full"};
  return names;
}

Plan make_plan(const std::string& preset) {
  Plan p;
  p.name = preset;
  if (preset == "smoke") {
    p.shapes = {mini("qwen3-30b-a3b", 8, 32), mini("gpt-oss-120b", 8, 16)};
    p.tokens = {1, 4, 9};
    p.weights = {WeightFormat::bf16};
    p.routings = {RoutingDist::uniform, RoutingDist::zipf};
    p.values = {ValueDist::normal, ValueDist::heavy, ValueDist::cancel};
    p.bench_presets = {"qwen3-30b-a3b"};
    p.bench_tokens = {1, 4, 16, 32};
    p.bench_replays = 20;
  } else if (preset == "ci") {
    p.shapes = {mini("qwen3-30b-a3b", 4, 64), mini("gpt-oss-120b", 4, 32), mini("mixtral-8x7b", 16, 8),
                preset_shape("qwen3-30b-a3b")};
    p.tokens = {1, 8, 32};
    p.weights = {WeightFormat::bf16, WeightFormat::mxfp8};
    p.routings = {RoutingDist::uniform, RoutingDist::zipf, RoutingDist::one_set};
    p.values = kAllValues;
    p.oracle_tokens = 3;
    p.bench_presets = {"qwen3-30b-a3b", "qwen3-235b-a22b", "deepseek-v3"};
    p.bench_tokens = {1, 2, 4, 8, 16, 32, 64};
  } else if (preset == "full") {
    for (const Preset& pr : shape_presets()) p.shapes.push_back(preset_shape(std::string(pr.name)));
    p.shapes.push_back(mini("qwen3-30b-a3b", 4, 64));
    p.tokens = {1, 2, 4, 7, 16, 32, 64};  // full-size shapes: T <= 2
    p.weights = all_weight_formats();
    p.routings = {RoutingDist::uniform, RoutingDist::zipf, RoutingDist::one_set, RoutingDist::distinct,
                  RoutingDist::adversarial};
    p.values = kAllValues;
    p.oracle_tokens = 3;
    for (const Preset& pr : shape_presets()) p.bench_presets.push_back(std::string(pr.name));
    p.bench_tokens = {1, 2, 4, 8, 12, 16, 24, 32, 48, 64};
    p.bench_replays = 50;
  } else {
    throw InputError("unknown report preset '" + preset + "' (smoke, ci or full)");
  }
  return p;
}

std::vector<Config> expand(const Plan& p, uint64_t seed) {
  std::vector<Config> out;
  for (const SweepShape& s : p.shapes)
    for (WeightFormat wf : p.weights)
      for (int64_t T : p.tokens)
        for (RoutingDist r : p.routings)
          for (ValueDist v : p.values) {
            if (r == RoutingDist::distinct && T * s.shape.k > s.shape.E) continue;  // cannot be all distinct
            if (s.max_T > 0 && (T > s.max_T || r != RoutingDist::uniform ||
                                (v != ValueDist::normal && v != ValueDist::cancel)))
              continue;
            Config c;
            c.shape = &s;
            c.spec.preset = s.name;
            c.spec.shape = s.shape;
            c.spec.shape.T = T;
            c.spec.weights = wf;
            c.spec.act = s.act;
            c.spec.routing = r;
            c.spec.values = v;
            // Only routed experts' weights: generating unrouted ones is most of
            // a small point's time, and no output depends on them.
            c.spec.storage = ExpertStorage::routed;
            c.id = s.name + "/" + std::string(weight_format_name(wf)) + "/T" + std::to_string(T) + "/" +
                   std::string(routing_name(r)) + "/" + std::string(values_name(v));
            // Each point's seed from the report's seed and the point's id:
            // adding a point to a plan does not change the others.
            c.spec.seed = fnv1a(c.id, seed);
            out.push_back(std::move(c));
          }
  return out;
}

}  // namespace moecheck::report
