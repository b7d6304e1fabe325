#include "reports/plan.hpp"

#include <algorithm>
#include <set>

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

// The formats x and y take (core/problem.hpp Case).
const std::vector<Format> kIoFormats = {Format::bf16, Format::f16, Format::f32};

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
    // x in f16 with y in f32 and the reverse, once each: every non-bf16
    // format through the host twins.
    p.format_sweeps = {{{"qwen3-30b-a3b/mini"}, {4}, {WeightFormat::bf16}, {Format::f16}, {Format::f32},
                        {RoutingDist::uniform}, {ValueDist::normal}},
                       {{"gpt-oss-120b/mini"}, {9}, {WeightFormat::bf16}, {Format::f32}, {Format::f16},
                        {RoutingDist::uniform}, {ValueDist::normal}}};
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
    // Every (x, y) pair of bf16/f16/f32 on the mini shapes with bf16 and mxfp8
    // weights, T 1 and 8, uniform routing, normal values: 96 points.
    p.format_sweeps = {{{"qwen3-30b-a3b/mini", "gpt-oss-120b/mini", "mixtral-8x7b/mini"}, {1, 8},
                        {WeightFormat::bf16, WeightFormat::mxfp8}, kIoFormats, kIoFormats, {RoutingDist::uniform},
                        {ValueDist::normal}}};
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
    // Every weight format x every (x, y) pair on the mini shape at three batch
    // sizes (single token, ragged, large) and two routings; full-size shapes
    // keep bf16 x and y (host generation of their experts takes seconds).
    p.format_sweeps = {{{"qwen3-30b-a3b/mini"}, {1, 7, 32}, all_weight_formats(), kIoFormats, kIoFormats,
                        {RoutingDist::uniform, RoutingDist::zipf}, kAllValues}};
    p.oracle_tokens = 3;
    for (const Preset& pr : shape_presets()) p.bench_presets.push_back(std::string(pr.name));
    p.bench_tokens = {1, 2, 4, 8, 12, 16, 24, 32, 48, 64};
    p.bench_replays = 50;
  } else {
    throw InputError("unknown report preset '" + preset + "' (smoke, ci or full)");
  }
  return p;
}

namespace {

// f16's range (65504) does not hold heavy values: x is drawn from a
// normal / uniform ratio with outlier channels x32 (up to 3.2e5), and outputs
// pass 65504 (qwen3-30b-a3b/mini T=32 seed 5: 292 of 16640 y in f16 were inf). Such
// a point measures an overflow, not a kernel.
bool fits_f16(ValueDist v) { return v != ValueDist::heavy; }

std::string format_suffix(Format x, Format y) {
  if (x == Format::bf16 && y == Format::bf16) return "";
  return "/x-" + std::string(format_name(x)) + "/y-" + std::string(format_name(y));
}

// The cross product of `f` over `s`, new ids only, in deterministic order.
void add_points(const SweepShape& s, const FormatSweep& f, uint64_t seed, std::set<std::string>& ids,
                std::vector<Config>& out) {
  for (WeightFormat wf : f.weights)
    for (Format xf : f.x_formats)
      for (Format yf : f.y_formats)
        for (int64_t T : f.tokens)
          for (RoutingDist r : f.routings)
            for (ValueDist v : f.values) {
              if (r == RoutingDist::distinct && T * s.shape.k > s.shape.E) continue;  // cannot be all distinct
              if (s.max_T > 0 && (T > s.max_T || r != RoutingDist::uniform ||
                                  (v != ValueDist::normal && v != ValueDist::cancel)))
                continue;
              if ((xf == Format::f16 || yf == Format::f16) && !fits_f16(v)) continue;
              Config c;
              c.shape = &s;
              c.spec.preset = s.name;
              c.spec.shape = s.shape;
              c.spec.shape.T = T;
              c.spec.weights = wf;
              c.spec.x_format = xf;
              c.spec.y_format = yf;
              c.spec.act = s.act;
              c.spec.routing = r;
              c.spec.values = v;
              // Only routed experts' weights: generating unrouted ones is most of
              // a small point's time, and no output depends on them.
              c.spec.storage = ExpertStorage::routed;
              c.id = s.name + "/" + std::string(weight_format_name(wf)) + "/T" + std::to_string(T) + "/" +
                     std::string(routing_name(r)) + "/" + std::string(values_name(v)) + format_suffix(xf, yf);
              if (!ids.insert(c.id).second) continue;
              // Each point's seed from the report's seed and the point's id:
              // adding a point to a plan does not change the others.
              c.spec.seed = fnv1a(c.id, seed);
              out.push_back(std::move(c));
            }
}

}  // namespace

// The main sweep first, shape by shape, then each format sweep: appending
// points leaves the earlier ones' order, and so their shards, as they were.
std::vector<Config> expand(const Plan& p, uint64_t seed) {
  std::vector<Config> out;
  std::set<std::string> ids;
  const FormatSweep main{{}, p.tokens, p.weights, {Format::bf16}, {Format::bf16}, p.routings, p.values};
  for (const SweepShape& s : p.shapes) add_points(s, main, seed, ids, out);
  for (const FormatSweep& f : p.format_sweeps)
    for (const SweepShape& s : p.shapes)
      if (f.shapes.empty() || std::find(f.shapes.begin(), f.shapes.end(), s.name) != f.shapes.end())
        add_points(s, f, seed, ids, out);
  return out;
}

}  // namespace moecheck::report
