#include "fuzz/runner.hpp"

#include <rapidcheck.h>
#include <rapidcheck/detail/TestListenerAdapter.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "core/case_io.hpp"
#include "core/error.hpp"
#include "core/generate.hpp"
#include "core/rng.hpp"
#include "kernels/check.hpp"
#include "kernels/external/external.hpp"
#include "kernels/registry.hpp"

namespace moecheck::fuzz {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Cases per RapidCheck run, per tier: fixed, so `--cases N --seed S`
// replays exactly.
constexpr int kChunk = 10;
constexpr int kProductionChunk = 2;
// The production tier's share of the run: of the time under --time (the
// larger cases cost what they cost), of the chunks under --cases (one in
// kProductionEvery, so the schedule does not depend on the clock).
constexpr double kProductionShare = 0.25;
constexpr int64_t kProductionEvery = 4;

struct TierStats {
  int64_t cases = 0;
  double seconds = 0;
  std::map<char, std::vector<int64_t>> dims;  // 'T', 'H', 'I', 'E', 'k' of each passing case
};

struct Failure {
  FuzzCase fc;
  props::Verdict verdict;
  Tier tier;
};

struct State {
  State(const FuzzOptions& o, const Variant& var, std::ostream& os)
      : opt(o), v(var), peers(reference_peers(var)),
        props(o.properties.empty() ? props::all_properties() : o.properties), out(os) {}
  const FuzzOptions& opt;
  const Variant& v;
  std::vector<const Variant*> peers;
  std::vector<props::Property> props;
  std::ostream& out;
  Clock::time_point start = Clock::now(), last_status = Clock::now();
  int64_t cases = 0, skipped = 0, shrink_steps = 0, peer_turn = 0;
  // A small case's properties run side by side on the host's cores (one
  // thread's oracle is all a small case needs, so the others sat idle) where
  // every variant involved is built in: a plugin or a worker process need not
  // be reentrant. Device runs stay on one thread.
  const bool side_by_side =
      opt.backend == props::Backend::host && Registry::instance().origin(v.name()) == "builtin";
  Tier tier = Tier::small;  // of the chunk being run
  std::map<Tier, TierStats> tiers;
  std::map<props::Property, std::map<props::Status, int64_t>> verdicts;  // per property, of passing cases
  // Seconds per tier in building cases, the production tier's whole-batch
  // run, and each property (the oracle goes to the first property that needs
  // it; thread seconds where properties run side by side): what a faster
  // fuzzer must cut.
  std::map<Tier, std::map<std::string, double>> seconds;
  std::map<std::string, int64_t> classes;
  std::optional<Failure> failure;  // the latest failing case: after shrinking, the minimal one
  Clock::time_point shrink_start;

  void status(bool force = false) {
    if (!force && since(last_status) < (opt.live ? 0.25 : 5.0)) return;
    last_status = Clock::now();
    char buf[256];
    const double t = since(start);
    if (failure)
      std::snprintf(buf, sizeof buf, "[fuzz %s %s] shrinking: %lld steps, now %s", v.name().c_str(),
                    std::string(props::backend_name(opt.backend)).c_str(), static_cast<long long>(shrink_steps),
                    describe(failure->fc).substr(0, 80).c_str());
    else
      std::snprintf(buf, sizeof buf,
                    "[fuzz %s %s] %lld cases (%lld production-scale), %.1f cases/s, %zu classes, %lld with skips, "
                    "0 failures, %.0fs",
                    v.name().c_str(), std::string(props::backend_name(opt.backend)).c_str(),
                    static_cast<long long>(cases), static_cast<long long>(tiers[Tier::production].cases),
                    t > 0 ? cases / t : 0.0, classes.size(), static_cast<long long>(skipped), t);
    if (opt.live)
      out << "\r\033[K" << buf << std::flush;
    else
      out << buf << "\n" << std::flush;
  }

  // One generated case: the first failing property fails it. After the
  // shrink budget is spent every candidate passes, which ends shrinking
  // with the smallest failure found so far.
  void property(const FuzzCase& fc) {
    if (failure && since(shrink_start) > opt.shrink_time_s) return;
    Case c;
    const Clock::time_point built = Clock::now();
    try {
      c = build_case(fc);
      seconds[tier]["(building cases)"] += since(built);
    } catch (const InputError& e) {
      RC_DISCARD(std::string("impossible spec: ") + e.what());
    }
    const Support s = v.supports(c);
    if (!s.ok) RC_DISCARD("unsupported: " + s.reason);
    bool any_skip = false;
    const std::vector<props::Verdict> got = verdicts_of(std::move(c), fc.spec.seed);
    for (const props::Verdict& r : got) {
      any_skip |= r.status == props::Status::skip;
      if (!r.failed()) continue;
      if (!failure) shrink_start = Clock::now();
      failure = Failure{fc, r, tier};
      ++shrink_steps;
      status();
      RC_FAIL(r.detail);
    }
    if (failure) return;  // a passing shrink candidate
    ++cases;
    skipped += any_skip;
    for (const props::Verdict& r : got) ++verdicts[r.property][r.status];
    for (const std::string& t : coverage_tags(fc)) ++classes[t];
    const Shape& sh = fc.spec.shape;
    TierStats& ts = tiers[tier];
    ++ts.cases;
    for (auto [d, n] : {std::pair{'T', sh.T}, {'H', sh.H}, {'I', sh.I}, {'E', sh.E}, {'k', sh.k}}) ts.dims[d].push_back(n);
    status();
  }

  static int run_rank(props::Property p) {
    using P = props::Property;
    constexpr P kOrder[] = {P::determinism, P::batch_invariance, P::zero_weight, P::differential,
                            P::linearity,   P::permutation,      P::isolation,   P::twin,
                            P::exact,       P::accuracy};
    for (int r = 0; r < static_cast<int>(std::size(kOrder)); ++r)
      if (kOrder[r] == p) return r;
    return static_cast<int>(std::size(kOrder));
  }

  // Differential compares with one reference peer per case, taken in turn
  // among those that run it: each peer costs a run and its bounds, and all
  // seven took a quarter of the small tier's time. A failure being shrunk
  // compares with every peer, as replay does.
  std::vector<const Variant*> case_peers(const Case& c) {
    if (failure) return peers;
    std::vector<const Variant*> able;
    for (const Variant* q : peers)
      if (q->supports(c).ok && props::backend_runs(*q, opt.backend)) able.push_back(q);
    if (able.empty()) return able;
    return {able[static_cast<size_t>(peer_turn++ % static_cast<int64_t>(able.size()))]};
  }

  // Small cases: every property on every output. Production-scale cases:
  // the whole batch for the oracle-free properties, sampled tokens for the
  // rest (properties/properties.hpp).
  std::vector<props::Verdict> verdicts_of(Case c, uint64_t seed) {
    const std::vector<const Variant*> with = case_peers(c);
    if (tier == Tier::production)
      return props::check_sampled(props, v, opt.backend, c, with, seed, &seconds[Tier::production]);
    props::CaseContext cx(std::move(c));
    const size_t n = props.size();
    std::vector<props::Verdict> got(n);
    std::vector<double> secs(n, -1);  // -1: not run (a failure came first)
    std::vector<std::exception_ptr> thrown(n);
    // Side by side, the first property computes the oracle (once, with the
    // case's threads) while the others start with determinism and batch
    // invariance, which need none, then take the costliest first.
    std::vector<size_t> order(n);
    for (size_t i = 0; i < n; ++i) order[i] = i;
    if (side_by_side)
      std::stable_sort(order.begin() + (n > 0), order.end(),
                       [&](size_t a, size_t b) { return run_rank(props[a]) < run_rank(props[b]); });
    std::atomic<bool> failed{false};  // the rest is skipped: shrinking runs many failing cases
#pragma omp parallel for schedule(dynamic, 1) if (side_by_side)
    for (size_t r = 0; r < n; ++r) {
      const size_t i = order[r];
      if (failed.load()) continue;
      const Clock::time_point t0 = Clock::now();
      try {
        got[i] = props::check_property(props[i], v, opt.backend, cx, with);
        if (got[i].failed()) failed = true;
      } catch (...) {
        thrown[i] = std::current_exception();
        failed = true;
      }
      secs[i] = since(t0);
    }
    std::vector<props::Verdict> ran;
    for (size_t i = 0; i < n; ++i) {
      if (thrown[i]) std::rethrow_exception(thrown[i]);
      if (secs[i] < 0) continue;
      seconds[Tier::small][std::string(props::property_name(props[i]))] += secs[i];
      ran.push_back(std::move(got[i]));
      if (ran.back().failed()) break;  // the first failure in property order
    }
    return ran;
  }
};

std::string with_specials(const Case& c, const FuzzCase& fc) {
  if (fc.specials.empty() || c.provenance.size() < 2 || c.provenance.back() != '}') return c.provenance;
  std::string d = describe(fc);
  const size_t at = d.find(" special(");
  std::string sp = at == std::string::npos ? "" : d.substr(at + 1);
  for (char& ch : sp)
    if (ch == '"' || ch == '\\') ch = '\'';
  return c.provenance.substr(0, c.provenance.size() - 1) + ",\"fuzz_specials\":\"" + sp + "\"}";
}

std::string replay_line(const FuzzOptions& opt, const std::string& file) {
  std::string cmd = "moecheck replay " + file + " --variant " + opt.variant;
  for (const auto& p : opt.plugins) cmd += " --plugin " + p;
  cmd += external::exec_flags();
  return cmd + " --backend " + std::string(props::backend_name(opt.backend));
}

std::string shard_note(const FuzzOptions& opt) { return opt.shard.whole() ? "" : ", shard " + opt.shard.str(); }

int report_failure(State& st) {
  const Failure& f = *st.failure;
  const std::string file = save_failure(st.opt.corpus, st.opt.variant, f.verdict.property, f.fc);
  // Search and shrink reported apart: shrinking has its own budget, and
  // "found in" is what a fuzzer's speed is judged by.
  const double search = std::chrono::duration<double>(st.shrink_start - st.start).count();
  st.out << "FAIL after " << st.cases << " passing cases (search " << std::fixed;
  st.out.precision(3);
  st.out << search << " s, seed " << st.opt.seed << shard_note(st.opt) << "), shrunk in " << st.shrink_steps
         << " steps (" << since(st.shrink_start) << " s)\n";
  st.out << "property: " << props::property_name(f.verdict.property) << " (" << tier_name(f.tier)
         << " tier)\n";
  st.out << "minimal case: " << describe(f.fc) << "\n";
  st.out << f.verdict.detail << "\n";
  st.out << "saved: " << file << "\n";
  st.out << "replay: " << replay_line(st.opt, file) << "\n";
  return 1;
}

// "min 1, p10 2, p50 9, p90 40, max 128" of one dimension's drawn values.
std::string quantiles(std::vector<int64_t> v) {
  if (v.empty()) return "-";
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))]; };
  std::ostringstream os;
  os << "min " << v.front() << ", p10 " << at(0.1) << ", p50 " << at(0.5) << ", p90 " << at(0.9) << ", max "
     << v.back();
  return os.str();
}

void summary(State& st) {
  const double t = since(st.start);
  st.out << "PASS: " << st.cases << " cases in " << std::fixed;
  st.out.precision(1);
  st.out << t << " s (" << (t > 0 ? st.cases / t : 0.0) << " cases/s) for " << st.v.name() << " on "
         << props::backend_name(st.opt.backend) << ", seed " << st.opt.seed << shard_note(st.opt) << "\n";
  for (Tier tier : {Tier::small, Tier::production}) {
    const TierStats& ts = st.tiers[tier];
    st.out << "tier " << tier_name(tier) << ": " << ts.cases << " cases in " << ts.seconds << " s ("
           << (ts.seconds > 0 ? ts.cases / ts.seconds : 0.0) << " cases/s, " << (t > 0 ? 100 * ts.seconds / t : 0.0)
           << "% of the time)\n";
    for (char d : {'T', 'H', 'I', 'E', 'k'}) {
      auto it = ts.dims.find(d);
      st.out << "  " << d << ": " << quantiles(it == ts.dims.end() ? std::vector<int64_t>{} : it->second) << "\n";
    }
  }
  st.out << "properties (checked / skipped / reported, per case):\n";
  for (props::Property p : st.props) {
    auto& m = st.verdicts[p];
    st.out << "  " << props::property_name(p) << ": " << m[props::Status::pass] << " / " << m[props::Status::skip]
           << " / " << m[props::Status::report] << "\n";
  }
  for (const auto& [tier, parts] : st.seconds) {
    double all = 0;
    for (const auto& [what, sec] : parts) all += sec;
    if (all <= 0) continue;
    st.out << tier_name(tier) << "-tier time:";
    for (const auto& [what, sec] : parts) {
      char buf[96];
      std::snprintf(buf, sizeof buf, " %s %.0f%%", what.c_str(), 100 * sec / all);
      st.out << buf;
    }
    st.out << "\n";
  }
  st.out << "coverage (" << st.classes.size() << " classes):\n";
  for (const auto& [k, n] : st.classes) st.out << "  " << k << ": " << n << "\n";
}

// Whether the next chunk is production-scale (see kProductionShare).
bool production_next(const State& st, const FuzzOptions& opt, int64_t chunks_run) {
  if (opt.cases >= 0) return chunks_run % kProductionEvery == kProductionEvery - 1;
  if (chunks_run == 0) return false;  // small cases first: most bugs show there within milliseconds
  const auto it = st.tiers.find(Tier::production);
  const double prod = it == st.tiers.end() ? 0 : it->second.seconds;
  return prod < kProductionShare * since(st.start);
}

}  // namespace

std::string save_failure(const std::string& dir, const std::string& variant, props::Property p, const FuzzCase& fc) {
  Case c = build_case(fc);
  c.provenance = with_specials(c, fc);
  std::filesystem::create_directories(dir);
  uint64_t h = 1469598103934665603ull;  // FNV-1a of the description: same case, same name
  for (char ch : describe(fc)) h = (h ^ static_cast<uint8_t>(ch)) * 1099511628211ull;
  char name[64];
  std::snprintf(name, sizeof name, "-%016llx.safetensors", static_cast<unsigned long long>(h));
  const std::string file =
      std::filesystem::absolute(std::filesystem::path(dir) / (variant + "-" + std::string(props::property_name(p)) + name)).string();
  save_case(file, c);
  return file;
}

GenOptions supported_options(const Variant& v) {
  GenOptions o;
  GenSpec g;
  g.shape = {1, 32, 32, 2, 1};
  for (WeightFormat w : all_weight_formats())
    for (Format x : {Format::bf16, Format::f16, Format::f32}) {
      g.weights = w;
      g.x_format = x;
      if (v.supports(generate_case(g)).ok) o.formats.emplace_back(w, x);
    }
  if (o.formats.empty()) throw InputError(v.name() + " supports none of the generated weight/x formats");
  std::tie(g.weights, g.x_format) = o.formats.front();
  for (Activation a : {Activation::swiglu, Activation::bilinear, Activation::geglu, Activation::swiglu_clamped}) {
    g.act.kind = a;
    if (v.supports(generate_case(g)).ok) o.activations.push_back(a);
  }
  if (o.activations.empty()) throw InputError(v.name() + " supports none of the activations");
  g.act.kind = o.activations.front();
  for (Format y : {Format::bf16, Format::f16, Format::f32}) {
    g.y_format = y;
    if (v.supports(generate_case(g)).ok) o.y_formats.push_back(y);
  }
  if (o.y_formats.empty()) throw InputError(v.name() + " supports none of the output formats bf16, f16, f32");
  return o;
}

std::vector<const Variant*> reference_peers(const Variant& v) {
  std::vector<const Variant*> out;
  for (const Variant* q : all_variants())
    if (q->name() != v.name() && Registry::instance().origin(q->name()) == "builtin") out.push_back(q);
  return out;
}

int run_fuzz(const FuzzOptions& opt, std::ostream& out) {
  const Variant& v = find_variant(opt.variant);
  std::string why;
  if (!props::backend_runs(v, opt.backend, &why)) throw InputError("cannot fuzz on " + std::string(props::backend_name(opt.backend)) + ": " + why);
  GenOptions small = supported_options(v);
  const bool device = opt.backend == props::Backend::cuda;
  small.budget = tier_budget(Tier::small, device);
  GenOptions production = small;
  production.tier = Tier::production;
  production.budget = tier_budget(Tier::production, device);
  State st(opt, v, out);
  // Chunk numbers per tier: each tier's cases depend on the seed and its own
  // chunk count only, not on how the tiers interleave.
  int64_t next[2] = {opt.shard.index - 1, opt.shard.index - 1};
  for (int64_t chunks_run = 0;; ++chunks_run) {
    if (opt.cases >= 0 ? st.cases >= opt.cases : since(st.start) >= opt.time_s) break;
    st.tier = production_next(st, opt, chunks_run) ? Tier::production : Tier::small;
    const bool prod = st.tier == Tier::production;
    const GenOptions& gen = prod ? production : small;
    const int64_t chunk = next[prod];
    next[prod] += opt.shard.count;
    const int per = prod ? kProductionChunk : kChunk;
    rc::detail::TestParams params;
    params.seed = mix_seed(opt.seed, static_cast<uint64_t>(chunk), prod ? 0x70726f64ull : 0);
    params.maxSuccess = opt.cases >= 0 ? static_cast<int>(std::min<int64_t>(per, opt.cases - st.cases)) : per;
    params.maxSize = opt.max_size;
    params.maxDiscardRatio = 20;
    rc::detail::TestMetadata meta;
    meta.id = "fuzz/" + opt.variant;
    // Drawn here rather than through rc::Arbitrary so that the generator is
    // restricted to what the variant supports. A silent listener: the
    // failure is reported (and replayable) through the saved case instead.
    rc::detail::TestListenerAdapter quiet;
    const auto t0 = Clock::now();
    const auto result = rc::detail::checkProperty(
        rc::detail::toProperty([&st, &gen] { st.property(*gen_fuzz_case(gen)); }), meta, params, quiet);
    st.tiers[st.tier].seconds += since(t0);
    if (st.failure) break;
    if (result.template is<rc::detail::GaveUpResult>())
      throw InputError("gave up: too many generated cases were discarded for " + opt.variant + ": " +
                       result.template get<rc::detail::GaveUpResult>().description);
    if (result.template is<rc::detail::Error>())
      throw InputError("fuzz error: " + result.template get<rc::detail::Error>().description);
    if (result.template is<rc::detail::FailureResult>())  // a failure outside the properties (an exception)
      throw CheckFailure("fuzz: " + result.template get<rc::detail::FailureResult>().description);
  }
  if (opt.live) out << "\n";
  if (st.failure) return report_failure(st);
  // A zero budget (or one no case fits in) checked nothing: never a PASS.
  if (st.cases == 0) throw InputError("fuzz: no case completed within the budget (--time/--cases): nothing was checked");
  summary(st);
  return 0;
}

}  // namespace moecheck::fuzz

namespace moecheck::fuzz {

int run_replay(const std::string& case_file, const std::string& variant, const std::vector<std::string>& backends,
               const std::vector<std::string>& plugins, std::ostream& out) {
  const Case c = load_case(case_file);
  std::vector<const Variant*> variants;
  if (!variant.empty())
    variants.push_back(&find_variant(variant));
  else
    variants = all_variants();
  std::vector<props::Backend> bs;
  for (const auto& b : backends) bs.push_back(props::parse_backend(b));
  if (bs.empty()) bs = {props::Backend::host, props::Backend::cuda};
  out << "case " << case_file << ": " << props::case_summary(c) << "\n";
  // A case past the small tier's budget is judged as the fuzzer's
  // production tier judged it: whole batch, oracle on sampled tokens.
  const Shape& s = c.shape;
  const bool large = s.T * s.k * s.I * s.H > tier_budget(Tier::small, false).work;
  uint64_t seed = 1;
  try {
    seed = spec_from_json(c.provenance).seed;
  } catch (const InputError&) {  // no generator spec: token sampling uses seed 1
  }
  if (large) out << "  (production-scale case: sampled tokens " << [&] {
      std::string r;
      for (int64_t t : props::sample_tokens(c, seed)) r += (r.empty() ? "" : ",") + std::to_string(t);
      return r;
    }() << " against the oracle)\n";
  std::optional<props::CaseContext> cx;
  if (!large) cx.emplace(c);
  int failed = 0, passed = 0;
  for (const Variant* v : variants) {
    // A named variant is judged against the built-ins; a whole-registry
    // replay cross-checks everything that is loaded.
    const std::vector<const Variant*> peers = variant.empty() ? all_variants() : reference_peers(*v);
    for (props::Backend b : bs) {
      std::string why;
      if (!props::backend_runs(*v, b, &why)) {
        out << "  skip   " << v->name() << " " << props::backend_name(b) << ": " << why << "\n";
        continue;
      }
      std::vector<props::Verdict> got;
      if (large) {
        const Support sup = v->supports(c);
        if (!sup.ok) {
          out << "  skip   " << v->name() << " " << props::backend_name(b) << ": unsupported: " << sup.reason << "\n";
          continue;
        }
        got = props::check_sampled(props::all_properties(), *v, b, c, peers, seed);
      } else {
        for (props::Property p : props::all_properties()) got.push_back(props::check_property(p, *v, b, *cx, peers));
      }
      for (const props::Verdict& r : got) {
        failed += r.failed();
        passed += r.status == props::Status::pass;
        out << "  " << props::status_name(r.status) << std::string(7 - props::status_name(r.status).size(), ' ')
            << v->name() << " " << props::backend_name(b) << " " << props::property_name(r.property);
        if (!r.detail.empty()) out << ": " << r.detail;
        out << "\n";
        if (r.failed()) {
          std::string cmd = "moecheck replay " + case_file + " --variant " + v->name();
          for (const auto& pl : plugins) cmd += " --plugin " + pl;
          cmd += external::exec_flags();
          out << "    replay: " << cmd << " --backend " << props::backend_name(b) << "\n";
        }
      }
    }
  }
  out << (failed ? "FAIL: " : "PASS: ") << failed << " failed, " << passed << " passed\n";
  if (passed + failed == 0) throw InputError("no property could run on " + case_file + " (see the skips above)");
  return failed ? 1 : 0;
}

}  // namespace moecheck::fuzz
