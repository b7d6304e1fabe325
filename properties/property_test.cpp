// The property catalog as gtest properties: every registered variant (and
// the example plugin) that claims a property and supports the generated case
// is checked on this binary's backend (PROPS_BACKEND: host twins on any
// machine, cuda where a device answers). Case counts follow
// MOECHECK_TEST_LEVEL; RC_PARAMS still overrides them (e.g. a fixed seed).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>

#include "core/error.hpp"
#include "core/generate.hpp"
#include "fuzz/generators.hpp"
#include "fuzz/runner.hpp"
#include "kernels/check.hpp"
#include "kernels/device_case.hpp"
#include "kernels/plugin.hpp"
#include "kernels/registry.hpp"
#include "properties/properties.hpp"

namespace moecheck::props {
namespace {

#ifndef PROPS_CUDA
#define PROPS_CUDA 0
#endif
#ifndef MOECHECK_TEST_LEVEL
#define MOECHECK_TEST_LEVEL 1
#endif
constexpr int kCases[] = {10, 100, 1000};
constexpr int kMaxSize[] = {20, 50, 100};

Backend backend() { return parse_backend(PROPS_BACKEND); }

const std::vector<const Variant*>& variants() {
  static const std::vector<const Variant*> v = [] {
#ifdef MOECHECK_EXAMPLE_PLUGIN
    load_plugin(MOECHECK_EXAMPLE_PLUGIN);
#endif
    return all_variants();
  }();
  return v;
}

// The formats and activations any runnable variant supports, so that most
// generated cases exercise something.
const fuzz::GenOptions& gen_options() {
  static const fuzz::GenOptions o = [] {
    fuzz::GenOptions u;
    std::set<std::pair<WeightFormat, Format>> f;
    std::set<Activation> a;
    std::set<Format> y;
    for (const Variant* v : variants()) {
      if (!backend_runs(*v, backend())) continue;
      const fuzz::GenOptions s = fuzz::supported_options(*v);
      f.insert(s.formats.begin(), s.formats.end());
      a.insert(s.activations.begin(), s.activations.end());
      y.insert(s.y_formats.begin(), s.y_formats.end());
    }
    // Entries are drawn uniformly: repeating the supported ones keeps the
    // one unsupported pair (which exercises the skip path) at ~10%.
    for (int rep = 0; rep < 9; ++rep) u.formats.insert(u.formats.end(), f.begin(), f.end());
    u.formats.emplace_back(WeightFormat::mxfp4, Format::f32);
    u.activations.assign(a.begin(), a.end());
    u.y_formats.assign(y.begin(), y.end());
    return u;
  }();
  return o;
}

void check_case(Property p) {
  const fuzz::FuzzCase fc = *fuzz::gen_fuzz_case(gen_options());
  Case c;
  try {
    c = fuzz::build_case(fc);
  } catch (const InputError& e) {
    RC_DISCARD(std::string("impossible spec: ") + e.what());
  }
  CaseContext cx(std::move(c));
  int checked = 0;
  for (const Variant* v : variants()) {
    const Verdict r = check_property(p, *v, backend(), cx, variants());
    checked += r.status == Status::pass || r.status == Status::report;
    if (r.status == Status::report) RC_TAG("reported: " + v->name());
    if (r.failed()) {
      // Shrinking saves each smaller failing case under the same scheme; the
      // last one printed is the minimal one.
      const std::string file = fuzz::save_failure("property-failures", v->name(), p, fc);
      RC_FAIL(r.detail + "\n  case: " + fuzz::describe(fc) + "\n  replay: moecheck replay " + file + " --variant " +
              v->name() + " --backend " + std::string(backend_name(backend())));
    }
  }
  RC_CLASSIFY(checked == 0, "skipped by every variant");
  RC_CLASSIFY(cx.base().shape.T == 1, "T=1");
  RC_CLASSIFY(cx.base().shape.k == cx.base().shape.E, "k=E");
  RC_CLASSIFY(!fc.specials.empty(), "specials");
}

void run_property(Property p) {
  std::string why;
  if (backend() == Backend::cuda && !cuda_available(&why)) GTEST_SKIP() << "no CUDA device: " << why;
  rc::detail::TestParams params = rc::detail::configuration().testParams;
  if (!std::getenv("RC_PARAMS")) {
    params.maxSuccess = kCases[MOECHECK_TEST_LEVEL];
    params.maxSize = kMaxSize[MOECHECK_TEST_LEVEL];
  }
  rc::detail::TestMetadata meta;
  meta.id = "properties/" + std::string(property_name(p));
  meta.description = std::string(property_name(p));
  const auto result = rc::detail::checkTestable([p] { check_case(p); }, meta, params);
  std::ostringstream ss;
  rc::detail::printResultMessage(result, ss);
  if (result.template is<rc::detail::SuccessResult>())
    std::cout << ss.str() << std::endl;
  else
    FAIL() << ss.str();
}

// expert_centric rounds f32 x element-wise into its bf16 tiles; bf16's
// largest finite value is below fp32's, so x near fp32's maximum becomes inf
// there and a zero routing weight times inf is a legitimate NaN (seen by
// zero_weight on an H100 before may_overflow knew about x_requant).
TEST(CaseContext, May_overflow_when_f32_x_passes_an_element_wise_requant_format) {
  GenSpec g;
  g.shape = Shape{1, 32, 1, 1, 1};  // T H I E k
  g.weights = WeightFormat::mxfp8;
  g.x_format = Format::f32;
  g.values = ValueDist::uniform;
  const Variant& ec = find_variant("expert_centric");
  for (float v : {1.0f, 3.4e38f}) {
    Case c = generate_case(g);
    std::memcpy(c.x.data() + 9 * sizeof(float), &v, sizeof v);
    const Numerics n = ec.numerics(c);
    ASSERT_TRUE(n.x_requant && n.requant_scale == RequantScale::pow2_block && n.requant_block == 0)
        << "expert_centric's declaration changed";
    CaseContext cx(c);
    EXPECT_EQ(cx.may_overflow(ec), v > 1.0f) << "x[0, 9] = " << v;
  }
}

// expert_centric_fp8 over fp8_channel weights sums x codes times weight
// codes and scales by x's row scale before the weight's: with one x element
// near bf16's maximum that product (||x||_1 times codes up to 448) passes
// fp32's range although every g_cond is below it, the epilogue gives
// +-inf * s_w, and the clamped SwiGLU of -inf is NaN (found by `moecheck fuzz
// --variant expert_centric_mxfp8 --backend host --seed 20`, differential).
TEST(CaseContext, May_overflow_when_fp8_row_x_times_fp8_channel_codes_passes_f32) {
  GenSpec g;
  g.shape = Shape{1, 4, 1, 1, 1};  // T H I E k
  g.weights = WeightFormat::fp8_channel;
  g.act.kind = Activation::swiglu_clamped;
  g.routing = RoutingDist::one_set;
  g.values = ValueDist::uniform;
  const Variant& fp8 = find_variant("expert_centric_fp8");
  ASSERT_EQ(fp8.numerics(generate_case(g)).epilogue_roundings, 2) << "expert_centric_fp8's declaration changed";
  const uint16_t bf16_max = 0x7F7F;
  for (uint16_t code : {uint16_t{0x3F80}, bf16_max}) {  // 1.0, 3.39e38
    Case c = generate_case(g);
    std::memcpy(c.x.data() + 1 * sizeof code, &code, sizeof code);
    CaseContext cx(c);
    const std::vector<double> y = decode_output(cx.output(fp8, Backend::host), Format::bf16, 4);
    const bool nan = std::any_of(y.begin(), y.end(), [](double v) { return std::isnan(v); });
    ASSERT_EQ(nan, code == bf16_max) << "the case no longer reaches the overflow: x[0, 1] code " << code;
    EXPECT_EQ(cx.may_overflow(fp8), code == bf16_max) << "x[0, 1] code " << code;
    const Verdict r = check_property(Property::accuracy, fp8, Backend::host, cx, {});
    EXPECT_FALSE(r.failed()) << r.detail;
  }
}

#define MOECHECK_PROPERTY_TEST(name) \
  TEST(Properties, name) { run_property(Property::name); }

MOECHECK_PROPERTY_TEST(accuracy)
MOECHECK_PROPERTY_TEST(differential)
#if PROPS_CUDA  // device against host twin: nothing to compare on the host backend
MOECHECK_PROPERTY_TEST(twin)
#endif
MOECHECK_PROPERTY_TEST(determinism)
MOECHECK_PROPERTY_TEST(batch_invariance)
MOECHECK_PROPERTY_TEST(permutation)
MOECHECK_PROPERTY_TEST(zero_weight)
MOECHECK_PROPERTY_TEST(linearity)
MOECHECK_PROPERTY_TEST(isolation)
MOECHECK_PROPERTY_TEST(exact)

}  // namespace
}  // namespace moecheck::props
