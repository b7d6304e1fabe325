// Registry and plugin loading.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "core/error.hpp"
#include "core/generate.hpp"
#include "kernels/plugin.hpp"
#include "kernels/plugin_api.hpp"
#include "kernels/registry.hpp"

namespace moecheck {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError thrown)";
}

TEST(Registry, Builtins_are_registered_with_their_claims) {
  for (const char* name : {"warp_decode", "warp_decode_h32"}) {
    const Variant& v = find_variant(name);
    EXPECT_EQ(v.name(), name);
    EXPECT_EQ(v.family(), "warp_decode");
    EXPECT_TRUE(v.claims().deterministic && v.claims().batch_invariant && v.claims().host_twin);
    EXPECT_EQ(Registry::instance().origin(name), "builtin");
  }
}

// Tensor-core sums have no host operation order to repeat: the
// expert-centric family (and auto, which may pick it) runs on CPU runners by
// a host evaluation judged by the bound, never as a bit-exact twin.
TEST(Registry, Expert_centric_family_and_auto_claim_a_host_evaluation_not_a_twin) {
  for (const char* name : {"expert_centric", "expert_centric_fused", "expert_centric_mxfp8", "expert_centric_fp8",
                           "auto"}) {
    const Claims c = find_variant(name).claims();
    EXPECT_TRUE(c.host && c.runs_on_host()) << name;
    EXPECT_FALSE(c.host_twin) << name;
  }
}

TEST(Registry, Unknown_name_is_an_input_error_listing_known_names) {
  const std::string msg = error_of([] { find_variant("no_such_variant"); });
  EXPECT_NE(msg.find("no_such_variant"), std::string::npos) << msg;
  EXPECT_NE(msg.find("warp_decode_h32"), std::string::npos) << msg;
}

class Dummy final : public Variant {
 public:
  explicit Dummy(std::string n) : n_(std::move(n)) {}
  std::string name() const override { return n_; }
  std::string family() const override { return "test"; }
  std::string description() const override { return ""; }
  Claims claims() const override { return {}; }
  Numerics numerics(const Case&) const override { return {}; }
  Support supports(const Case&) const override { return Support::no("test dummy"); }
  bool has_device() const override { return false; }
  size_t workspace_bytes(const Shape&) const override { return 0; }
  void run_device(const DeviceArgs&, void*, CUstream_st*) const override {}
  void run_host(const Case&, std::vector<uint8_t>&) const override {}

 private:
  std::string n_;
};

TEST(Registry, Duplicate_names_are_refused_naming_the_first_origin) {
  const std::string msg = error_of([] { Registry::instance().add(std::make_unique<Dummy>("warp_decode"), "test"); });
  EXPECT_NE(msg.find("already registered"), std::string::npos) << msg;
  EXPECT_NE(msg.find("builtin"), std::string::npos) << msg;
}

#ifdef MOECHECK_EXAMPLE_PLUGIN
// Small exact case: integer values and bilinear activation make every step
// exact, so any two correct variants agree bit for bit.
Case exact_case() {
  GenSpec g;
  g.shape = {3, 37, 21, 6, 3};
  g.act.kind = Activation::bilinear;
  g.values = ValueDist::integer;
  g.seed = 11;
  return generate_case(g);
}

TEST(Plugin, Example_plugin_loads_registers_and_is_exact) {
  const auto names = load_plugin(MOECHECK_EXAMPLE_PLUGIN);
  ASSERT_EQ(names, std::vector<std::string>{"example_sequential"});
  EXPECT_TRUE(load_plugin(MOECHECK_EXAMPLE_PLUGIN).empty());  // second load: no-op
  const Variant& v = find_variant("example_sequential");
  EXPECT_EQ(Registry::instance().origin("example_sequential").find("moecheck_example_plugin") != std::string::npos,
            true);
  const Case c = exact_case();
  ASSERT_TRUE(v.supports(c).ok);
  std::vector<uint8_t> y_plugin, y_builtin;
  v.run_host(c, y_plugin);
  find_variant("warp_decode_h32").run_host(c, y_builtin);
  ASSERT_EQ(y_plugin.size(), static_cast<size_t>(c.shape.T * c.shape.H * 2));
  EXPECT_EQ(y_plugin, y_builtin);
  // Not all zero: the comparison above means something.
  int nonzero = 0;
  for (size_t i = 0; i < y_plugin.size(); i += 2) nonzero += (y_plugin[i] | y_plugin[i + 1]) != 0;
  EXPECT_GT(nonzero, c.shape.T * c.shape.H / 4);
}
#endif

#ifdef MOECHECK_BAD_ABI_PLUGIN
TEST(Plugin, ABI_mismatch_is_a_clear_error) {
  const std::string msg = error_of([] { load_plugin(MOECHECK_BAD_ABI_PLUGIN); });
  // The fixture claims this build's version + 1000.
  EXPECT_NE(msg.find("ABI " + std::to_string(kPluginAbiVersion + 1000)), std::string::npos) << msg;
  EXPECT_NE(msg.find("rebuild the plugin"), std::string::npos) << msg;
}

TEST(Plugin, Library_without_entry_point_is_refused) {
  const std::string msg = error_of([] { load_plugin(MOECHECK_NOT_A_PLUGIN); });
  EXPECT_NE(msg.find("not a moecheck plugin"), std::string::npos) << msg;
}
#endif

TEST(Plugin, Missing_file_is_an_input_error) {
  const std::string msg = error_of([] { load_plugin("/nonexistent/libnothing.so"); });
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
}

}  // namespace
}  // namespace moecheck
