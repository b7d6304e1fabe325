// moecheck case new | show | verify: make a seeded case file, describe one,
// or check its provenance by regenerating it.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <map>

#include "cli/command.hpp"
#include "cli/options.hpp"
#include "core/case_io.hpp"
#include "core/case_verify.hpp"
#include "core/error.hpp"
#include "core/float_text.hpp"
#include "core/output_path.hpp"

namespace moecheck::cli {
namespace {

struct CaseNewArgs {
  SpecFlags spec;
  std::string out;
};

struct CaseShowArgs {
  std::string file;
};

void print_range(const char* name, double lo, double hi, double absmax) {
  std::printf("  %-22s min % .6g  max % .6g  absmax %.6g\n", name, lo, hi, absmax);
}

void show_stack(const char* name, const WeightStack& w) {
  std::printf("%s: (%" PRId64 ", %" PRId64 ", %" PRId64 ") %s, %" PRId64 " bytes data, %" PRId64 " bytes scales\n", name,
              w.E, w.R, w.K, std::string(weight_format_name(w.format)).c_str(), w.data_bytes(), w.scale_bytes());
  // Value statistics over a bounded sample of rows keep `show` fast on big cases.
  double lo = INFINITY, hi = -INFINITY, am = 0;
  int64_t nonfinite = 0;
  const int64_t rows = w.E * w.R, step = std::max<int64_t>(1, rows / 4096);
  std::vector<double> row(w.K);
  for (int64_t er = 0; er < rows; er += step) {
    w.dequant_row(er / w.R, er % w.R, row.data());
    for (double v : row) {
      if (!std::isfinite(v)) {
        ++nonfinite;
        continue;
      }
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      am = std::max(am, std::fabs(v));
    }
  }
  print_range(step > 1 ? "values (sampled rows)" : "values", lo, hi, am);
  if (nonfinite) std::printf("  non-finite values: %" PRId64 "\n", nonfinite);
}

void show_routing(const Case& c) {
  const Shape& s = c.shape;
  std::map<int32_t, int64_t> load;
  for (int32_t e : c.topk_ids) ++load[e];
  int64_t maxload = 0;
  int32_t hottest = -1;
  for (auto& [e, n] : load)
    if (n > maxload) maxload = n, hottest = e;
  std::printf("routing: %zu distinct experts of %" PRId64 " used; hottest expert %d serves %" PRId64 " of %" PRId64
              " tokens\n",
              load.size(), s.E, hottest, maxload, s.T);
  const int64_t shown = std::min<int64_t>(s.T, 4);
  for (int64_t t = 0; t < shown; ++t) {
    std::printf("  token %" PRId64 ":", t);
    for (int64_t j = 0; j < s.k; ++j) std::printf(" %d:%.4g", c.id(t, j), static_cast<double>(c.weight(t, j)));
    std::printf("\n");
  }
  if (shown < s.T) std::printf("  ... %" PRId64 " more tokens\n", s.T - shown);
}

void show_case(const CaseShowArgs& a) {
  const Case c = load_case(a.file);
  const Shape& s = c.shape;
  std::printf("case %s\n", a.file.c_str());
  std::printf("shape: T=%" PRId64 " H=%" PRId64 " I=%" PRId64 " E=%" PRId64 " k=%" PRId64 "\n", s.T, s.H, s.I, s.E, s.k);
  std::printf("formats: weights %s, x %s, y %s\n", std::string(weight_format_name(c.w13.format)).c_str(),
              std::string(format_name(c.x_format)).c_str(), std::string(format_name(c.y_format)).c_str());
  std::printf("activation: %s", std::string(activation_name(c.act.kind)).c_str());
  if (c.act.kind == Activation::swiglu_clamped)
    std::printf(" (alpha %.9g = %s, limit %.9g = %s)", static_cast<double>(c.act.alpha),
                float_exact_text(c.act.alpha).c_str(), static_cast<double>(c.act.limit),
                float_exact_text(c.act.limit).c_str());
  std::printf("\nlayout: %s\n", std::string(layout_name(c.layout)).c_str());
  std::printf("stored experts: %" PRId64 " of %" PRId64 "%s\n", c.stored_count(), s.E,
              c.stored_experts.empty() ? "" : " (only routed experts stored)");
  show_routing(c);
  double lo = INFINITY, hi = -INFINITY, am = 0;
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t n = 0; n < s.H; ++n) {
      const double v = c.x_value(t, n);
      lo = std::min(lo, v), hi = std::max(hi, v), am = std::max(am, std::fabs(v));
    }
  std::printf("x: (%" PRId64 ", %" PRId64 ") %s\n", s.T, s.H, std::string(format_name(c.x_format)).c_str());
  print_range("values", lo, hi, am);
  show_stack("w13 (gate/up)", c.w13);
  show_stack("w2 (down)", c.w2);
  // Anyone can write any provenance into a file; only regenerating checks it.
  if (!c.provenance.empty())
    std::printf("provenance (claimed, not checked; `moecheck case verify %s` checks it): %s\n", a.file.c_str(),
                c.provenance.c_str());
}

// Exit 0 when the provenance regenerates the file exactly, 1 (CheckFailure)
// with the first difference, 2 (InputError) when there is nothing to
// regenerate from.
void verify_case_cmd(const std::string& file) {
  const Case c = load_case(file);
  Verification v;
  try {
    v = verify_case(c);
  } catch (const InputError& e) {
    throw InputError(file + ": no usable provenance: " + e.what());
  }
  if (!v.equal)
    throw CheckFailure(file + " is not what its provenance generates; first difference: " + v.first_difference);
  std::printf("case %s: equal to what its provenance generates (metadata, x, routing and %" PRId64
              " experts' weights, bit for bit)\n",
              file.c_str(), v.experts_compared);
}

void setup(CLI::App& root) {
  auto* cmd = root.add_subcommand("case", "Create or inspect case files (safetensors)");
  cmd->require_subcommand(1);

  static CaseNewArgs na;
  auto* nw = cmd->add_subcommand("new", "Generate a seeded case and save it (atomic write)");
  add_spec_flags(*nw, na.spec);
  nw->add_option("--out,-o", na.out, "Output .safetensors file")->required();
  nw->callback([] {
    check_output_file(na.out, "--out");
    const GenSpec spec = spec_from_flags(na.spec);
    Case c;  // without weights: they go to the file expert by expert
    save_generated_case(na.out, spec, &c);
    std::printf("wrote %s: T=%" PRId64 " H=%" PRId64 " I=%" PRId64 " E=%" PRId64 " k=%" PRId64
                ", %s weights, %" PRId64 " experts stored, seed %" PRIu64 "\n",
                na.out.c_str(), c.shape.T, c.shape.H, c.shape.I, c.shape.E, c.shape.k,
                std::string(weight_format_name(spec.weights)).c_str(), c.stored_count(), spec.seed);
  });

  static CaseShowArgs sa;
  auto* sh = cmd->add_subcommand("show", "Describe a case file");
  sh->add_option("file", sa.file, "Case file")->required();
  sh->callback([] { show_case(sa); });

  static std::string verify_file;
  auto* vf = cmd->add_subcommand("verify", "Regenerate a case from its provenance and compare it tensor by tensor "
                                            "(exit 0 equal, 1 different, 2 no usable provenance)");
  vf->add_option("file", verify_file, "Case file")->required();
  vf->callback([] { verify_case_cmd(verify_file); });
}

MOECHECK_COMMAND(setup);

}  // namespace
}  // namespace moecheck::cli
