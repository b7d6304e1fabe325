#include "cli/options.hpp"

#include <cfloat>
#include <sstream>

#include "cli/checks.hpp"
#include "core/error.hpp"

namespace moecheck::cli {

std::vector<CLI::Option*> add_spec_flags(CLI::App& cmd, SpecFlags& f) {
  return {
      cmd.add_option("--preset", f.preset, "Shape preset (moecheck list)")->capture_default_str(),
      cmd.add_option("--shape", f.shape, "H,I,E,k overriding the preset's shape"),
      cmd.add_option("--tokens,-T", f.tokens, "Tokens in the decode step (1..2^20)")
          ->capture_default_str()
          ->check(CLI::Range(int64_t{1}, int64_t{1} << 20)),
      cmd.add_option("--weights", f.weights, "Weight format")->capture_default_str(),
      cmd.add_option("--x-format", f.x_format, "Activation (x) format: bf16, f16, f32")->capture_default_str(),
      cmd.add_option("--y-format", f.y_format, "Output (y) format the layer call asks for: bf16, f16, f32")
          ->capture_default_str(),
      cmd.add_option("--activation", f.activation, "swiglu, geglu, swiglu_clamped, bilinear")->capture_default_str(),
      cmd.add_option("--alpha", f.alpha, "Clamped SwiGLU alpha")->capture_default_str()->check(finite_fp32()),
      cmd.add_option("--limit", f.limit, "Clamped SwiGLU limit (positive)")
          ->capture_default_str()
          ->check(finite_in(0, FLT_MAX, true)),
      cmd.add_option("--layout", f.layout, "Gate/up layout: concatenated, interleaved")->capture_default_str(),
      cmd.add_option("--routing", f.routing, "uniform, zipf, one_set, distinct, adversarial")->capture_default_str(),
      cmd.add_option("--values", f.values, "normal, uniform, heavy, integer, cancel")->capture_default_str(),
      cmd.add_option("--experts,--storage", f.storage, "Stored experts: auto, all, routed")->capture_default_str(),
      cmd.add_option("--seed", f.seed, "Generator seed")->capture_default_str()->check(uint64_text()),
  };
}

GenSpec spec_from_flags(const SpecFlags& f) {
  GenSpec s;
  const Preset& p = find_preset(f.preset);
  s.preset = f.preset;
  s.shape = {f.tokens, p.H, p.I, p.E, p.k};
  if (!f.shape.empty()) {
    std::istringstream in(f.shape);
    char c1 = 0, c2 = 0, c3 = 0;
    int64_t H = 0, I = 0, E = 0, k = 0;
    if (!(in >> H >> c1 >> I >> c2 >> E >> c3 >> k) || c1 != ',' || c2 != ',' || c3 != ',' || !in.eof())
      throw InputError("--shape must be H,I,E,k (four integers), got '" + f.shape + "'");
    s.preset = "custom";
    s.shape = {f.tokens, H, I, E, k};
  }
  validate_shape(s.shape);
  s.weights = parse_weight_format(f.weights);
  s.x_format = parse_format(f.x_format);
  s.y_format = parse_format(f.y_format);  // generate_case rejects non-output formats
  s.act = {parse_activation(f.activation), f.alpha, f.limit};
  s.layout = parse_layout(f.layout);
  s.routing = parse_routing(f.routing);
  s.values = parse_values(f.values);
  if (f.storage == "auto") s.storage = ExpertStorage::automatic;
  else if (f.storage == "all") s.storage = ExpertStorage::all;
  else if (f.storage == "routed") s.storage = ExpertStorage::routed;
  else throw InputError("--experts must be auto, all or routed, got '" + f.storage + "'");
  s.seed = f.seed;
  return s;
}

}  // namespace moecheck::cli
