#include "properties/properties.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include <omp.h>

#include "core/error.hpp"
#include "kernels/check.hpp"
#include "kernels/device_case.hpp"
#include "oracle/metrics.hpp"

namespace moecheck::props {
namespace {

const char* const kPropertyNames[] = {"accuracy",    "differential", "twin",      "determinism", "batch_invariance",
                                      "permutation", "zero_weight",  "linearity", "isolation",   "exact"};

}  // namespace

std::string_view backend_name(Backend b) { return b == Backend::host ? "host" : "cuda"; }
Backend parse_backend(std::string_view n) {
  if (n == "host") return Backend::host;
  if (n == "cuda") return Backend::cuda;
  throw InputError("unknown backend '" + std::string(n) + "' (known: host, cuda)");
}

std::string_view property_name(Property p) { return kPropertyNames[static_cast<int>(p)]; }
const std::vector<Property>& all_properties() {
  static const std::vector<Property> all = [] {
    std::vector<Property> v;
    for (int i = 0; i < static_cast<int>(std::size(kPropertyNames)); ++i) v.push_back(static_cast<Property>(i));
    return v;
  }();
  return all;
}
Property parse_property(std::string_view n) {
  std::string known;
  for (Property p : all_properties()) {
    if (property_name(p) == n) return p;
    known += (known.empty() ? "" : ", ") + std::string(property_name(p));
  }
  throw InputError("unknown property '" + std::string(n) + "' (known: " + known + ")");
}
std::vector<Property> parse_property_list(std::string_view s) {
  if (s.empty()) return all_properties();
  std::vector<Property> out;
  size_t at = 0;
  while (at <= s.size()) {
    const size_t comma = std::min(s.find(',', at), s.size());
    if (comma > at) out.push_back(parse_property(s.substr(at, comma - at)));
    at = comma + 1;
  }
  return out;
}
std::string_view status_name(Status s) {
  static const char* n[] = {"pass", "FAIL", "skip", "report"};
  return n[static_cast<int>(s)];
}

bool backend_runs(const Variant& v, Backend b, std::string* why) {
  auto no = [&](std::string r) {
    if (why) *why = std::move(r);
    return false;
  };
  if (b == Backend::host) return v.claims().runs_on_host() ? true : no(v.name() + " has no host implementation");
  if (!v.has_device()) return no(v.name() + " has no device entry point in this build");
  std::string r;
  if (!cuda_available(&r)) return no("no CUDA device: " + r);
  return true;
}

std::vector<uint8_t> run_variant(const Variant& v, const Case& c, Backend b) {
  if (b == Backend::cuda) return run_on_device(v, c);
  const Format out = v.numerics(c).output_format;
  std::vector<uint8_t> y(static_cast<size_t>(output_bytes(c.shape, out)), 0xFF);
  v.run_host(c, y);
  if (y.size() != static_cast<size_t>(output_bytes(c.shape, out)))
    throw CheckFailure(v.name() + " on the host wrote " + std::to_string(y.size()) + " output bytes, expected " +
                       std::to_string(output_bytes(c.shape, out)));
  return y;
}

std::string case_summary(const Case& c) {
  const Shape& s = c.shape;
  std::ostringstream os;
  os << "T=" << s.T << " H=" << s.H << " I=" << s.I << " E=" << s.E << " k=" << s.k
     << " weights=" << weight_format_name(c.w13.format) << " x=" << format_name(c.x_format)
     << " y=" << format_name(c.y_format) << " act=" << activation_name(c.act.kind) << " layout=" << layout_name(c.layout);
  return os.str();
}

namespace {

// Multiply-adds (T k I H) of the case per OpenMP thread of its oracle and
// bounds: a few hundred microseconds of oracle work each, well above what a
// fork, join and thread wake-up of a parallel region cost. Small cases run
// on one thread, large ones on every core.
constexpr int64_t kWorkPerThread = int64_t{1} << 13;

}  // namespace

CaseContext::CaseContext(Case c, int threads) : case_(std::move(c)), threads_(threads) {
  validate(case_);  // an invalid case is bad input, never a variant's failure
  const Shape& s = case_.shape;
  const int64_t by_work = s.T * s.k * s.I * s.H / kWorkPerThread;
  if (threads_ <= 0) threads_ = static_cast<int>(std::clamp<int64_t>(by_work, 1, omp_get_max_threads()));
}

const OracleResult& CaseContext::oracle() {
  std::call_once(oracle_once_, [&] { oracle_ = std::make_unique<OracleResult>(run_oracle(case_, threads_)); });
  return *oracle_;
}

namespace {

// The cached value of `key`, computed by make() outside the lock when absent;
// std::map references stay valid across later inserts.
template <class V, class Make>
const V& cached(std::mutex& mu, std::map<std::string, V>& cache, const std::string& key, Make make) {
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
  }
  V value = make();
  std::lock_guard<std::mutex> lock(mu);
  return cache.emplace(key, std::move(value)).first->second;  // a concurrent first store wins
}

}  // namespace

const Bounds& CaseContext::bounds(const Variant& v) {
  return cached(mu_, bounds_, v.name(), [&] { return derive_bounds(case_, oracle(), numerics(v)); });
}

Numerics CaseContext::numerics(const Variant& v) const { return v.numerics(declared_ ? *declared_ : case_); }

void CaseContext::set_output(const Variant& v, Backend b, std::vector<uint8_t> y) {
  std::lock_guard<std::mutex> lock(mu_);
  outputs_[v.name() + "@" + std::string(backend_name(b))] = std::move(y);
}

void CaseContext::declare_as(const Case& whole) {
  Case d;
  d.shape = whole.shape;
  d.act = whole.act;
  d.layout = whole.layout;
  d.x_format = whole.x_format;
  d.y_format = whole.y_format;
  d.w13.format = whole.w13.format;
  d.w2.format = whole.w2.format;
  d.stored_experts = whole.stored_experts;
  declared_ = std::move(d);
}

const std::vector<uint8_t>& CaseContext::output(const Variant& v, Backend b) {
  const std::string key = v.name() + "@" + std::string(backend_name(b));
  return cached(mu_, outputs_, key, [&] { return run_variant(v, case_, b); });
}

bool CaseContext::intermediates_may_overflow(const Variant& v) {
  double wmax;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!weight_max_) weight_max_ = selected_weight_max(case_);
    wmax = *weight_max_;
  }
  return moecheck::intermediates_may_overflow(case_, oracle(), numerics(v), wmax);
}

bool CaseContext::may_overflow(const Variant& v) {
  const OracleResult& o = oracle();
  if (has_nonfinite_terms(o) || intermediates_may_overflow(v)) return true;
  // |y| <= cond.
  const double ylim = mini_max(numerics(v).output_format) * 0.5;
  if (std::any_of(o.cond.begin(), o.cond.end(), [&](double c) { return !(c <= ylim); })) return true;
  return std::any_of(case_.topk_weights.begin(), case_.topk_weights.end(),
                     [&](float w) { return std::fabs(static_cast<double>(w)) > ylim; });
}

int64_t first_outside(Format out, const OracleResult& o, const std::vector<double>& y,
                      const std::vector<double>& bound, int64_t begin, int64_t end) {
  return judge_output(out, o, y, bound, false, begin, end).first_failure;
}

}  // namespace moecheck::props
