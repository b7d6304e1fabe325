// Reports on the CPU: sweep plans, JSON figures, the accuracy of one real
// sweep point on the host backend, summaries, the regression gate, the
// crossover interpolation and the renderings.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "core/error.hpp"
#include "kernels/registry.hpp"
#include "reports/accuracy.hpp"
#include "reports/gate.hpp"
#include "reports/render.hpp"
#include "reports/report.hpp"
#include "reports/summary.hpp"
#include "reports/throughput.hpp"

namespace moecheck::report {
namespace {

TEST(Plan, IdsUniqueSeedsStableAcrossPlans) {
  const Plan smoke = make_plan("smoke"), ci = make_plan("ci");
  const std::vector<Config> a = expand(smoke, 1), b = expand(ci, 1), c = expand(smoke, 2);
  std::set<std::string> ids;
  for (const Config& x : a) EXPECT_TRUE(ids.insert(x.id).second) << x.id;
  // The same point in another plan has the same seed; another report seed changes it.
  for (const Config& x : a)
    for (const Config& y : b)
      if (x.id == y.id) {
        EXPECT_EQ(x.spec.seed, y.spec.seed) << x.id;
      }
  EXPECT_NE(a[0].spec.seed, c[0].spec.seed);
  EXPECT_THROW(make_plan("nightly"), InputError);
}

bool has_format_suffix(const std::string& id) { return id.find("/x-") != std::string::npos; }

// x and y in bf16 keep the ids of before (the gate matches main's stored
// report by id) and come first, in the old order (shards keep their points);
// the points with other x / y formats follow, their ids spelling both.
TEST(Plan, FormatSweepsAppendPointsKeepBf16Ids) {
  const struct {
    const char* preset;
    size_t bf16_points, format_points;
  } expected[] = {{"smoke", 36, 2}, {"ci", 274, 96}};
  for (const auto& e : expected) {
    const std::vector<Config> cs = expand(make_plan(e.preset), 1);
    ASSERT_EQ(cs.size(), e.bf16_points + e.format_points) << e.preset;
    for (size_t i = 0; i < cs.size(); ++i) {
      const GenSpec& g = cs[i].spec;
      const bool bf16_io = g.x_format == Format::bf16 && g.y_format == Format::bf16;
      EXPECT_EQ(i < e.bf16_points, bf16_io) << e.preset << " point " << i << ": " << cs[i].id;
      EXPECT_EQ(has_format_suffix(cs[i].id), !bf16_io) << cs[i].id;
      if (!bf16_io) {
        const std::string suffix =
            "/x-" + std::string(format_name(g.x_format)) + "/y-" + std::string(format_name(g.y_format));
        EXPECT_NE(cs[i].id.find(suffix), std::string::npos) << cs[i].id;
      }
    }
  }
  const std::vector<Config> smoke = expand(make_plan("smoke"), 1), ci = expand(make_plan("ci"), 1);
  EXPECT_EQ(smoke.front().id, "qwen3-30b-a3b/mini/bf16/T1/uniform/normal");
  EXPECT_EQ(smoke[36].id, "qwen3-30b-a3b/mini/bf16/T4/uniform/normal/x-f16/y-f32");
  EXPECT_EQ(smoke[37].id, "gpt-oss-120b/mini/bf16/T9/uniform/normal/x-f32/y-f16");
  // ci: each of the 8 (x, y) pairs other than bf16/bf16 on 3 mini shapes x {bf16, mxfp8} x T {1, 8}.
  std::map<std::pair<Format, Format>, int> pairs;
  for (const Config& c : ci)
    if (has_format_suffix(c.id)) ++pairs[{c.spec.x_format, c.spec.y_format}];
  EXPECT_EQ(pairs.size(), 8u);
  for (const auto& [xy, n] : pairs) EXPECT_EQ(n, 12) << format_name(xy.first) << "/" << format_name(xy.second);
}

// Every format sweep names shapes of its plan; f16 x or y never with heavy
// values (its x outliers and outputs pass f16's 65504).
TEST(Plan, FormatSweepsNamePlanShapesAndFitF16) {
  for (const std::string& name : plan_names()) {
    const Plan p = make_plan(name);
    EXPECT_FALSE(name != "smoke" && p.format_sweeps.empty()) << name;
    for (const FormatSweep& f : p.format_sweeps)
      for (const std::string& s : f.shapes)
        EXPECT_TRUE(std::any_of(p.shapes.begin(), p.shapes.end(), [&](const SweepShape& x) { return x.name == s; }))
            << name << ": format sweep names shape " << s << ", not in the plan";
    std::set<std::string> ids;
    for (const Config& c : expand(p, 3)) {
      EXPECT_TRUE(ids.insert(c.id).second) << name << ": id twice: " << c.id;
      const bool f16 = c.spec.x_format == Format::f16 || c.spec.y_format == Format::f16;
      EXPECT_FALSE(f16 && c.spec.values == ValueDist::heavy) << c.id;
    }
  }
}

TEST(Json, NonFiniteFiguresRoundTrip) {
  EXPECT_EQ(fig(INFINITY), "inf");
  EXPECT_TRUE(std::isinf(num(fig(INFINITY))));
  EXPECT_TRUE(std::isnan(num(fig(NAN))));
  EXPECT_EQ(num(fig(0.25)), 0.25);
}

// One small real sweep point through warp_decode's host twin.
json small_point(ValueDist values, Format x = Format::bf16, Format y = Format::bf16) {
  static const SweepShape shape{"test", {1, 136, 72, 8, 4}, {}};
  Config c;
  c.shape = &shape;
  c.spec.shape = shape.shape;
  c.spec.shape.T = 3;
  c.spec.values = values;
  c.spec.x_format = x;
  c.spec.y_format = y;
  c.spec.seed = 7;
  c.id = "test/" + std::string(values_name(values));
  const AccuracyRun run{"host", {&find_variant("warp_decode"), &find_variant("warp_decode_h32")}, {}, 1};
  return run_config(c, 0, run);
}

TEST(Accuracy, HostPointHasEveryFigure) {
  const json p = small_point(ValueDist::normal);
  ASSERT_EQ(p["results"].size(), 2u);
  for (const json& r : p["results"]) {
    EXPECT_EQ(r["status"], "ok") << r.dump();
    const json& m = r["metrics"];
    EXPECT_EQ(m["count"], 3 * 136);
    EXPECT_GT(num(m["cosine"]), 0.999);
    EXPECT_LE(num(m["max_bound_ratio"]), 1.0);
    EXPECT_GT(num(m["rel_l2"]), 0.0);
    EXPECT_TRUE(r["replay"].get<std::string>().find("--variant " + r["variant"].get<std::string>()) !=
                std::string::npos);
    int64_t n = m["ucond_hist"]["zero"].get<int64_t>() + m["ucond_hist"]["inf"].get<int64_t>();
    for (const json& b : m["ucond_hist"]["counts"]) n += b.get<int64_t>();
    EXPECT_EQ(n, 3 * 136);
  }
  EXPECT_TRUE(p["references"].contains("fp32"));
  EXPECT_TRUE(p["references"].contains("fp64"));
  // h in fp32 is no less accurate than h in bf16.
  EXPECT_LE(num(p["results"][1]["metrics"]["rel_l2"]), num(p["results"][0]["metrics"]["rel_l2"]));
}

// The expert-centric family runs on the host backend by its host evaluation
// (no twin) and is judged within its rigorous bound, as on a device.
TEST(Accuracy, HostPointRunsTheExpertCentricFamilyWithinBound) {
  static const SweepShape shape{"test", {1, 136, 72, 8, 4}, {}};
  Config c;
  c.shape = &shape;
  c.spec.shape = shape.shape;
  c.spec.shape.T = 3;
  c.spec.seed = 7;
  c.id = "test/ec";
  std::vector<const Variant*> vs;
  for (const char* n : {"expert_centric", "expert_centric_fused", "expert_centric_mxfp8", "expert_centric_fp8"})
    vs.push_back(&find_variant(n));
  const json p = run_config(c, 0, AccuracyRun{"host", vs, {}, 1});
  ASSERT_EQ(p["results"].size(), vs.size());
  for (const json& r : p["results"]) {
    EXPECT_EQ(r["status"], "ok") << r.dump();
    EXPECT_EQ(r["backend"], "host") << r.dump();
    EXPECT_EQ(r["metrics"]["violations"], 0) << r.dump();
    EXPECT_LE(num(r["metrics"]["max_bound_ratio"]), 1.0) << r.dump();
  }
}

// x in f16 and y in f32: the point records both, every variant declares
// (and is measured as) its f32 output, and the replay asks for both formats.
TEST(Accuracy, HostPointWithXf16Yf32) {
  const json p = small_point(ValueDist::normal, Format::f16, Format::f32);
  EXPECT_EQ(p["x_format"], "f16");
  EXPECT_EQ(p["y_format"], "f32");
  ASSERT_EQ(p["results"].size(), 2u);
  for (const json& r : p["results"]) {
    EXPECT_EQ(r["status"], "ok") << r.dump();
    EXPECT_EQ(r["output_format"], "f32");
    EXPECT_LE(num(r["metrics"]["max_bound_ratio"]), 1.0);
    const std::string replay = r["replay"];
    EXPECT_NE(replay.find("--x-format f16 --y-format f32"), std::string::npos) << replay;
  }
}

TEST(Accuracy, Fp32ReferenceIsMisleadingNearCancellation) {
  const json normal = small_point(ValueDist::normal), cancel = small_point(ValueDist::cancel);
  const double n32 = num(normal["references"]["fp32"]["rel_l2"]), c32 = num(cancel["references"]["fp32"]["rel_l2"]);
  EXPECT_GT(c32, 100 * n32) << "fp32 reference rel L2: normal " << n32 << ", cancel " << c32;
}

// A report of the given points (by value: a braced json would be ambiguous).
json report_of(std::vector<json> points) {
  json r = {{"schema", "moecheck-report"}, {"schema_version", kSchemaVersion}, {"seed", "1"}};
  r["configs"] = json::array();
  for (json& p : points) r["configs"].push_back(std::move(p));
  r["throughput"] = {{"skipped", "test"}};
  return r;
}

TEST(Gate, PassesItselfCatchesLessAccurate) {
  const json base = report_of(std::vector<json>(1, small_point(ValueDist::normal)));
  EXPECT_TRUE(compare(base, base).ok());
  json better = base;
  for (json& r : better["configs"][0]["results"]) r["metrics"]["rel_l2"] = num(r["metrics"]["rel_l2"]) / 2;
  const GateResult g = compare(better, base);
  ASSERT_EQ(g.regressions.size(), 2u);
  EXPECT_NE(g.regressions[0].find("relative L2 error"), std::string::npos) << g.regressions[0];
  // Within the noise threshold is not a regression.
  json slightly = base;
  for (json& r : slightly["configs"][0]["results"]) r["metrics"]["rel_l2"] = num(r["metrics"]["rel_l2"]) / 1.05;
  EXPECT_TRUE(compare(slightly, base).ok());
}

TEST(Gate, CatchesViolationsAndStatus) {
  const json base = report_of(std::vector<json>(1, small_point(ValueDist::normal)));
  json worse = base;
  worse["configs"][0]["results"][0]["metrics"]["violations"] = 3;
  worse["configs"][0]["results"][1] = {{"variant", "warp_decode_h32"}, {"status", "failed"}, {"reason", "boom"}};
  const GateResult g = compare(base, worse);
  ASSERT_EQ(g.regressions.size(), 2u);
  EXPECT_NE(g.regressions[0].find("rigorous bound"), std::string::npos);
  EXPECT_NE(g.regressions[1].find("ok -> failed"), std::string::npos);
}

TEST(Gate, ThroughputOnlyOnTheSameCard) {
  auto rows = [](double us) {
    return json{{"device", "NVIDIA H100"},
                {"rows", json::array({{{"preset", "p"}, {"T", 8}, {"variant", "warp_decode"}, {"status", "ok"},
                                       {"us", {{"median", us}}}}})}};
  };
  json a = report_of(std::vector<json>{}), b = report_of(std::vector<json>{});
  a["throughput"] = rows(10.0), b["throughput"] = rows(12.0);
  EXPECT_EQ(compare(a, b).regressions.size(), 1u);
  EXPECT_TRUE(compare(b, a).ok());
  b["throughput"]["device"] = "NVIDIA H200";
  const GateResult g = compare(a, b);
  EXPECT_TRUE(g.ok());
  EXPECT_EQ(g.throughput_compared, 0);
}

TEST(Gate, RejectsOtherFiles) {
  EXPECT_THROW(compare(json{{"rows", 1}}, report_of(std::vector<json>{})), InputError);
  json future = report_of(std::vector<json>{});
  future["schema_version"] = kSchemaVersion + 1;
  EXPECT_THROW(compare(future, report_of(std::vector<json>{})), InputError);
}

bench::Row row(int64_t T, const std::string& v, double speedup) {
  bench::Row r;
  r.preset = "p", r.T = T, r.variant = v, r.speedup = speedup, r.us.median = 1, r.bytes = 1e6;
  return r;
}

TEST(Throughput, CrossoverInterpolatesInLog2T) {
  const json c = crossovers({row(8, "expert_centric", 1), row(8, "wd", 2.0), row(16, "wd", 1.5), row(32, "wd", 0.5),
                             row(8, "fast", 3.0), row(32, "fast", 2.0)});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_TRUE(c[0]["T"].is_null());  // "fast": never slower
  EXPECT_NEAR(c[1]["T"].get<double>(), std::exp2(4.5), 1e-9);
  EXPECT_EQ(c[1]["first_T_slower"], 32);
}

// One synthetic result: the figures accuracy_ratios reads.
json fake_result(const std::string& v, double rel_l2, double ucond, double cos32, double abs32) {
  return {{"variant", v}, {"status", "ok"},
          {"metrics", {{"rel_l2", rel_l2}, {"max_ucond", ucond}}},
          {"rel_l2_vs_fp32_reference", rel_l2 * 2},
          {"cosine_vs_fp32_reference", cos32},
          {"max_abs_vs_fp32_reference", abs32}};
}

// Warp decode is compared against both expert-centric baselines that ran
// (without and with MXFP8 activation re-quantization), under every metric.
TEST(Summary, RatiosAgainstEachExpertCentricBaseline) {
  json configs = json::array();
  for (double s : {1.0, 4.0}) {  // two points: geomeans of s-independent ratios
    json c = {{"weights", "bf16"}, {"results", json::array()}};
    c["results"].push_back(fake_result("warp_decode", 1e-3 * s, 2.0 * s, 1 - 1e-6 * s, 0.01 * s));
    c["results"].push_back(fake_result("expert_centric", 2e-3 * s, 3.0 * s, 1 - 3e-6 * s, 0.02 * s));
    c["results"].push_back(fake_result("expert_centric_mxfp8", 6e-3 * s, 10.0 * s, 1 - 5e-5 * s, 0.05 * s));
    configs.push_back(c);
  }
  const std::vector<std::string> names = {"warp_decode", "expert_centric", "expert_centric_mxfp8"};
  ASSERT_EQ(ratio_baseline(configs, names), "expert_centric");
  const json ar = accuracy_ratios(configs, ratio_baseline(configs, names), names);
  EXPECT_EQ(ar["baselines"], json::array({"expert_centric", "expert_centric_mxfp8"}));
  auto row = [&](const std::string& v, const std::string& b) {
    for (const json& x : ar["rows"])
      if (x["variant"] == v && x["baseline"] == b) return x;
    ADD_FAILURE() << "no row " << v << " over " << b;
    return json();
  };
  const json a = row("warp_decode", "expert_centric"), m = row("warp_decode", "expert_centric_mxfp8");
  EXPECT_NEAR(num(a["vs_oracle"]["geomean"]), 2.0, 1e-12);
  EXPECT_NEAR(num(a["vs_fp32_reference"]["geomean"]), 2.0, 1e-12);
  EXPECT_NEAR(num(a["max_ucond_vs_oracle"]["geomean"]), 1.5, 1e-12);
  EXPECT_NEAR(num(a["cosine_distance_vs_fp32_reference"]["geomean"]), 3.0, 1e-6);
  EXPECT_NEAR(num(a["max_abs_vs_fp32_reference"]["geomean"]), 2.0, 1e-12);
  EXPECT_EQ(a["vs_oracle"]["points"], 2);
  EXPECT_NEAR(num(m["vs_oracle"]["geomean"]), 6.0, 1e-12);
  EXPECT_NEAR(num(m["max_ucond_vs_oracle"]["geomean"]), 5.0, 1e-12);
  EXPECT_NEAR(num(m["cosine_distance_vs_fp32_reference"]["geomean"]), 50.0, 1e-4);
  EXPECT_NEAR(num(m["max_abs_vs_fp32_reference"]["geomean"]), 5.0, 1e-12);
  EXPECT_TRUE(row("expert_centric_mxfp8", "expert_centric").is_object());
  json r = report_of(std::vector<json>(1, small_point(ValueDist::normal)));
  r["date"] = "d", r["preset"] = "smoke", r["command"] = "moecheck report", r["elapsed_s"] = 1.0;
  r["backend"] = {{"name", "host"}, {"why_host", "no device"}};
  r["device"] = {{"name", "none"}, {"reason", "no device"}};
  r["build"] = {{"commit", "abc"}, {"build_type", "Release"}, {"compiler", "gcc"}, {"cuda", false},
                {"cuda_architectures", ""}};
  r["aggregate"] = aggregate(r["configs"], {"warp_decode", "warp_decode_h32"});
  r["worst_cases"] = worst_cases(r["configs"], 5);
  r["accuracy_ratios"] = ar;
  const std::string md = render_markdown(r);
  EXPECT_NE(md.find("## Accuracy ratio over expert_centric\n"), std::string::npos);
  EXPECT_NE(md.find("## Accuracy ratio over expert_centric_mxfp8\n"), std::string::npos);
  EXPECT_NE(md.find("| warp_decode | bf16 | bf16 | bf16 | 6x [6, 6] | 5x [5, 5] |"), std::string::npos) << md;
}

// One row per (variant, weights, x, y) that ran; points from reports written
// before x and y were swept (no fields) count as bf16. expert_centric_fp8 is
// a baseline once it ran, and absent before.
TEST(Summary, RatioRowsPerWeightXAndYFormat) {
  json configs = json::array();
  auto point = [&](const char* x, const char* y, double s, bool fp8) {
    json c = {{"weights", "mxfp8"}, {"results", json::array()}};
    if (x) c["x_format"] = x, c["y_format"] = y;
    c["results"].push_back(fake_result("warp_decode", 1e-3 * s, 2.0, 1 - 1e-6, 0.01));
    c["results"].push_back(fake_result("expert_centric", 2e-3 * s, 3.0, 1 - 3e-6, 0.02));
    if (fp8) c["results"].push_back(fake_result("expert_centric_fp8", 8e-3 * s, 9.0, 1 - 9e-6, 0.05));
    configs.push_back(c);
  };
  point(nullptr, nullptr, 1, false);  // an old report's point: bf16 x and y
  point("bf16", "bf16", 2, false);
  point("f16", "f32", 1, false);
  const std::vector<std::string> names = {"warp_decode", "expert_centric", "expert_centric_mxfp8",
                                          "expert_centric_fp8"};
  json ar = accuracy_ratios(configs, ratio_baseline(configs, names), names);
  EXPECT_EQ(ar["baselines"], json::array({"expert_centric"})) << "baselines that did not run have no rows";
  ASSERT_EQ(ar["rows"].size(), 2u) << ar.dump(1);
  EXPECT_EQ(ar["rows"][0]["x_format"], "bf16");
  EXPECT_EQ(ar["rows"][0]["y_format"], "bf16");
  EXPECT_EQ(ar["rows"][0]["vs_oracle"]["points"], 2);
  EXPECT_EQ(ar["rows"][1]["x_format"], "f16");
  EXPECT_EQ(ar["rows"][1]["y_format"], "f32");
  EXPECT_EQ(ar["rows"][1]["weights"], "mxfp8");
  EXPECT_NEAR(num(ar["rows"][1]["vs_oracle"]["geomean"]), 2.0, 1e-12);

  point("f32", "f16", 1, true);
  ar = accuracy_ratios(configs, ratio_baseline(configs, names), names);
  EXPECT_EQ(ar["baselines"], json::array({"expert_centric", "expert_centric_fp8"}));
  bool fp8_row = false;
  for (const json& x : ar["rows"])
    if (x["baseline"] == "expert_centric_fp8" && x["variant"] == "warp_decode") {
      fp8_row = true;
      EXPECT_EQ(x["x_format"], "f32");
      EXPECT_EQ(x["y_format"], "f16");
      EXPECT_NEAR(num(x["vs_oracle"]["geomean"]), 8.0, 1e-12);
    }
  EXPECT_TRUE(fp8_row) << ar.dump(1);
  json r = report_of(std::vector<json>{});
  r["accuracy_ratios"] = ar;
  r["aggregate"] = aggregate(r["configs"], {});
  r["worst_cases"] = json::array();
  r["date"] = "d", r["preset"] = "smoke", r["elapsed_s"] = 1.0;
  r["backend"] = {{"name", "cuda"}};
  r["device"] = {{"name", "none"}, {"reason", "test"}};
  r["build"] = {{"commit", "abc"}, {"build_type", "Release"}, {"cuda", false}};
  const std::string md = render_markdown(r);
  EXPECT_NE(md.find("| warp_decode | mxfp8 | f16 | f32 | 2x [2, 2] |"), std::string::npos) << md;
  EXPECT_NE(md.find("| warp_decode | mxfp8 | f32 | f16 | 8x [8, 8] |"), std::string::npos) << md;
  EXPECT_NE(md.find("## Accuracy ratio over expert_centric_fp8\n"), std::string::npos) << md;
}

TEST(Render, HtmlIsSelfContainedAndMarkdownSaysHost) {
  json r = report_of(std::vector<json>(1, small_point(ValueDist::normal)));
  r["date"] = "d", r["preset"] = "smoke", r["command"] = "moecheck report </script><!--", r["elapsed_s"] = 1.0;
  r["backend"] = {{"name", "host"}, {"why_host", "no device"}};
  r["device"] = {{"name", "none"}, {"reason", "no device"}};
  r["build"] = {{"commit", "abc"}, {"build_type", "Release"}, {"compiler", "gcc"}, {"cuda", false},
                {"cuda_architectures", ""}};
  const std::vector<std::string> names = {"warp_decode", "warp_decode_h32"};
  r["aggregate"] = aggregate(r["configs"], names);
  r["accuracy_ratios"] = accuracy_ratios(r["configs"], ratio_baseline(r["configs"], names), names);
  r["worst_cases"] = worst_cases(r["configs"], 5);
  const std::string html = render_html(r);
  EXPECT_EQ(html.find("@REPORT_JSON@"), std::string::npos);
  EXPECT_EQ(html.find("@SCRIPTS@"), std::string::npos);
  EXPECT_EQ(html.find("</script><!--"), std::string::npos) << "report text must not end the script element";
  EXPECT_EQ(html.find("src=\"http"), std::string::npos) << "nothing fetched";
  EXPECT_NE(html.find("vegaEmbed"), std::string::npos);
  const std::string md = render_markdown(r);
  EXPECT_NE(md.find("Host backend"), std::string::npos);
  EXPECT_NE(md.find("Accuracy ratio over warp_decode"), std::string::npos);
  // Variant descriptions reach the Markdown: `auto` names its crossover table's provenance there.
  r["variants"] = json::array({{{"name", "auto"}, {"family", "auto"}, {"description", "table from card X, date Y"},
                                {"deterministic", true}, {"batch_invariant", false}, {"host_twin", false},
                                {"host", true}}});
  EXPECT_NE(render_markdown(r).find(
                "| auto | auto | true | false | false (host evaluation within bound) | table from card X, date Y |"),
            std::string::npos);
}

}  // namespace
}  // namespace moecheck::report
