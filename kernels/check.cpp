#include "kernels/check.hpp"

#include <cmath>
#include <cstdio>
#include <cstring>

#include "core/error.hpp"
#include "core/generate.hpp"
#include "kernels/external/external.hpp"

namespace moecheck {

std::vector<double> decode_output(const std::vector<uint8_t>& codes, Format f, int64_t count) {
  const int bytes = format_bits(f) / 8;
  if (bytes <= 0 || static_cast<int64_t>(codes.size()) != count * bytes)
    throw InputError("output has " + std::to_string(codes.size()) + " bytes, expected " +
                     std::to_string(count * bytes) + " for " + std::to_string(count) + " " +
                     std::string(format_name(f)) + " values");
  std::vector<double> y(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    uint32_t code = 0;
    std::memcpy(&code, &codes[static_cast<size_t>(i * bytes)], static_cast<size_t>(bytes));
    y[i] = decode(f, code);
  }
  return y;
}

CheckResult check_output(const Case& c, const OracleResult& o, const Variant& v, const std::vector<uint8_t>& y_codes) {
  CheckResult r;
  r.numerics = v.numerics(c);
  r.y = decode_output(y_codes, r.numerics.output_format, c.shape.T * c.shape.H);
  r.bounds = derive_bounds(c, o, r.numerics);
  r.metrics = compute_metrics(o, r.y, r.numerics.output_format, &r.bounds);
  int64_t bad = r.metrics.first_violation;
  if (bad < 0 && r.metrics.nonfinite > 0)
    for (size_t i = 0; i < r.y.size() && bad < 0; ++i)
      if (!std::isfinite(r.y[i])) bad = static_cast<int64_t>(i);
  if (bad >= 0) r.first_violation = describe_violation(c, o, r.y, r.bounds, static_cast<size_t>(bad));
  if (r.numerics.output_format != c.y_format) {
    // A variant that supports a case must write y in the format it asks for.
    r.output_format_ok = false;
    r.first_violation = v.name() + " declares output " + std::string(format_name(r.numerics.output_format)) +
                        " but the case asks for y in " + std::string(format_name(c.y_format)) +
                        (r.first_violation.empty() ? "" : "; " + r.first_violation);
  }
  return r;
}

std::string replay_command(const Case& c, const std::string& variant, const std::string& backend,
                           const std::vector<std::string>& plugins, const std::string& case_file) {
  std::string cmd = "moecheck run --variant " + variant;
  for (const auto& p : plugins) cmd += " --plugin " + p;
  cmd += external::exec_flags();
  if (!case_file.empty() || c.provenance.empty()) {
    cmd += " --case " + (case_file.empty() ? std::string("<saved case: rerun with --save-case FILE>") : case_file);
  } else {
    const GenSpec g = spec_from_json(c.provenance);
    const Shape& s = g.shape;
    bool preset_matches = false;
    if (!g.preset.empty()) {
      try {
        const Preset& p = find_preset(g.preset);
        preset_matches = p.H == s.H && p.I == s.I && p.E == s.E && p.k == s.k;
      } catch (const InputError&) {
      }
    }
    if (preset_matches)
      cmd += " --preset " + g.preset;
    else
      cmd += " --shape " + std::to_string(s.H) + "," + std::to_string(s.I) + "," + std::to_string(s.E) + "," +
             std::to_string(s.k);
    cmd += " --tokens " + std::to_string(s.T) + " --weights " + std::string(weight_format_name(g.weights)) +
           " --x-format " + std::string(format_name(g.x_format)) + " --y-format " +
           std::string(format_name(g.y_format)) + " --activation " +
           std::string(activation_name(g.act.kind)) + " --layout " + std::string(layout_name(g.layout)) +
           " --routing " + std::string(routing_name(g.routing)) + " --values " + std::string(values_name(g.values)) +
           " --seed " + std::to_string(g.seed);
    if (g.act.kind == Activation::swiglu_clamped && (g.act.alpha != 1.702f || g.act.limit != 7.0f)) {
      char buf[96];
      std::snprintf(buf, sizeof buf, " --alpha %.9g --limit %.9g", g.act.alpha, g.act.limit);
      cmd += buf;
    }
    if (g.storage == ExpertStorage::routed) cmd += " --storage routed";
    if (g.storage == ExpertStorage::all) cmd += " --storage all";
  }
  cmd += " --backend " + backend;
  return cmd;
}

}  // namespace moecheck
