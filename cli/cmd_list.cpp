// moecheck list: what this build knows (formats, presets, distributions).
#include <cstdio>

#include "cli/command.hpp"
#include "core/generate.hpp"
#include "kernels/plugin.hpp"
#include "kernels/registry.hpp"

namespace moecheck::cli {
namespace {

void list_variants() {
  std::printf("variants (name, family, claims, origin):\n");
  for (const Variant* v : all_variants()) {
    const Claims c = v->claims();
    std::string claims;
    if (c.deterministic) claims += " deterministic";
    if (c.batch_invariant) claims += " batch-invariant";
    if (c.host_twin)
      claims += " host-twin";
    else if (c.host)
      claims += " host";
    if (v->has_device()) claims += " device";
    std::printf("  %-24s %-16s%s  [%s]\n", v->name().c_str(), v->family().c_str(), claims.c_str(),
                Registry::instance().origin(v->name()).c_str());
  }
}

void list_all() {
  std::printf("weight formats:\n");
  for (WeightFormat f : all_weight_formats())
    std::printf("  %-14s element %s%s\n", std::string(weight_format_name(f)).c_str(),
                std::string(format_name(element_format(f))).c_str(),
                has_scales(f) ? (", scale " + std::string(format_name(scale_format(f)))).c_str() : "");
  std::printf("x formats: bf16 f16 f32\n");
  std::printf("element formats (unit roundoff):\n");
  for (Format f : {Format::f32, Format::bf16, Format::f16, Format::e4m3, Format::e5m2, Format::e2m1, Format::e8m0})
    std::printf("  %-5s u = %g, max %g\n", std::string(format_name(f)).c_str(), unit_roundoff(f),
                f == Format::f32 ? 3.4028234663852886e38 : f == Format::e8m0 ? 1.7014118346046923e38 : mini_max(f));
  std::printf("shape presets (H, I, E, k):\n");
  for (auto& p : shape_presets())
    std::printf("  %-16s %6ld %6ld %4ld %2ld  %s\n", std::string(p.name).c_str(), static_cast<long>(p.H),
                static_cast<long>(p.I), static_cast<long>(p.E), static_cast<long>(p.k), std::string(p.note).c_str());
  std::printf("activations: swiglu geglu swiglu_clamped bilinear\n");
  std::printf("gate/up layouts: concatenated interleaved\n");
  std::printf("routing distributions: uniform zipf one_set distinct adversarial\n");
  std::printf("value distributions: normal uniform heavy integer cancel\n");
  list_variants();
}

void setup(CLI::App& root) {
  static std::vector<std::string> plugins;
  auto* cmd = root.add_subcommand("list", "List formats, presets, distributions and variants");
  cmd->add_option("--plugin", plugins, "Plugin shared library adding variants (repeatable)");
  cmd->callback([] {
    for (const auto& p : plugins) load_plugin(p);
    list_all();
  });
}

MOECHECK_COMMAND(setup);

}  // namespace
}  // namespace moecheck::cli
