#include "reports/report.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "core/error.hpp"
#include "core/safetensors.hpp"
#include "kernels/device_case.hpp"
#include "kernels/plugin.hpp"
#include "kernels/registry.hpp"
#include "reports/accuracy.hpp"
#include "reports/environment.hpp"
#include "reports/progress.hpp"
#include "reports/render.hpp"
#include "reports/summary.hpp"
#include "reports/throughput.hpp"

namespace moecheck::report {
namespace {

std::vector<const Variant*> resolve(const Options& o) {
  std::vector<const Variant*> vs;
  if (o.variants.empty()) return all_variants();
  for (const std::string& n : o.variants) vs.push_back(&find_variant(n));
  return vs;
}

// The backend, and in words why where it is the host.
std::pair<std::string, std::string> choose_backend(const Options& o) {
  std::string why;
  const bool dev = cuda_available(&why);
  if (o.backend.empty()) return dev ? std::pair{std::string("cuda"), std::string()} : std::pair{std::string("host"), why};
  if (o.backend == "host") return {"host", "requested with --backend host"};
  if (o.backend != "cuda") throw InputError("--backend is cuda or host, got '" + o.backend + "'");
  if (!dev) throw InputError("--backend cuda: no usable CUDA device (" + why + ")");
  return {"cuda", ""};
}

json variants_json(const std::vector<const Variant*>& vs) {
  json a = json::array();
  for (const Variant* v : vs) {
    const Claims c = v->claims();
    a.push_back({{"name", v->name()},
                 {"family", v->family()},
                 {"origin", Registry::instance().origin(v->name())},
                 {"description", v->description()},
                 {"has_device", v->has_device()},
                 {"host_twin", c.host_twin},
                 {"host", c.host},
                 {"deterministic", c.deterministic},
                 {"batch_invariant", c.batch_invariant}});
  }
  return a;
}

json sweep(const Plan& p, const Options& o, const AccuracyRun& run) {
  std::vector<Config> cfgs = expand(p, o.seed);
  if (o.only)
    std::erase_if(cfgs, [&](const Config& c) { return !std::regex_search(c.id, *o.only); });
  if (cfgs.empty()) throw InputError("--only matches no sweep point of preset " + p.name);
  int64_t k = 0;
  std::erase_if(cfgs, [&](const Config&) { return !o.shard.owns(k++); });
  Progress bar("accuracy", static_cast<int64_t>(cfgs.size()), o.progress);
  json out = json::array();
  for (const Config& c : cfgs) {
    out.push_back(run_config(c, p.oracle_tokens, run));
    bar.step(c.id);
  }
  bar.finish();
  return out;
}

json throughput(Plan p, const std::vector<const Variant*>& vs, const Options& o) {
  // Whole presets per shard: a preset's crossover needs all its T on one card.
  int64_t k = 0;
  std::erase_if(p.bench_presets, [&](const std::string&) { return !o.shard.owns(k++); });
  if (p.bench_presets.empty()) return {{"skipped", "shard " + o.shard.str() + " has no bench preset"}};
  std::vector<std::string> names;
  for (const Variant* v : vs)
    if (v->has_device()) names.push_back(v->name());
  if (names.empty()) return {{"skipped", "no selected variant has a device path"}};
  const int64_t total = static_cast<int64_t>(p.bench_presets.size() * p.bench_tokens.size() * names.size());
  Progress bar("throughput", total, o.progress);
  json j = run_throughput(p, names, o.seed, [&](const bench::Row& r) {
    bar.step(r.preset + " T=" + std::to_string(r.T) + " " + r.variant);
  });
  bar.finish();
  return j;
}

}  // namespace

json build_report(const Options& o) {
  const auto t0 = std::chrono::steady_clock::now();
  const Plan plan = make_plan(o.preset);
  for (const std::string& p : o.plugins) load_plugin(p);
  const std::vector<const Variant*> vs = resolve(o);
  const auto [backend, why_host] = choose_backend(o);
  std::vector<std::string> names;
  for (const Variant* v : vs) names.push_back(v->name());

  json r;
  r["schema"] = "moecheck-report";
  r["schema_version"] = kSchemaVersion;
  r["date"] = utc_now();
  r["preset"] = plan.name;
  r["seed"] = std::to_string(o.seed);
  r["command"] = o.command_line;
  r["shard"] = {{"index", o.shard.index}, {"count", o.shard.count}};
  r["backend"] = {{"name", backend}, {"why_host", why_host}};
  r["device"] = device_json();
  r["build"] = build_json();
  r["host"] = host_json();
  r["variants"] = variants_json(vs);
  const AccuracyRun run{backend, vs, o.plugins, o.threads};
  r["configs"] = sweep(plan, o, run);
  r["aggregate"] = aggregate(r["configs"], names);
  r["accuracy_ratios"] = accuracy_ratios(r["configs"], ratio_baseline(r["configs"], names), names);
  r["worst_cases"] = worst_cases(r["configs"], 20);
  if (backend == "cuda" && !o.throughput)
    r["throughput"] = {{"skipped", "--no-throughput"}};
  else if (backend == "cuda")
    r["throughput"] = throughput(plan, vs, o);
  else
    r["throughput"] = {{"skipped", "host backend: throughput needs a GPU (" + why_host + ")"}};
  r["elapsed_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::vector<std::string> write_report(const json& report, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw InputError("cannot create " + dir + ": " + ec.message());
  const auto bytes = [](const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); };
  const std::vector<std::pair<std::string, std::string>> files = {
      {dir + "/report.json", report.dump(1) + "\n"},
      {dir + "/report.md", render_markdown(report)},
      {dir + "/report.html", render_html(report)}};
  std::vector<std::string> paths;
  for (const auto& [path, text] : files) write_file_atomic(path, bytes(text)), paths.push_back(path);
  return paths;
}

}  // namespace moecheck::report
