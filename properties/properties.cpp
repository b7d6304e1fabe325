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
  if (b == Backend::host) return v.claims().host_twin ? true : no(v.name() + " has no host twin");
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
    throw CheckFailure(v.name() + " host twin wrote " + std::to_string(y.size()) + " output bytes, expected " +
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
  if (!oracle_) oracle_ = std::make_unique<OracleResult>(run_oracle(case_, threads_));
  return *oracle_;
}

const Bounds& CaseContext::bounds(const Variant& v) {
  auto it = bounds_.find(v.name());
  if (it == bounds_.end()) it = bounds_.emplace(v.name(), derive_bounds(case_, oracle(), v.numerics(case_))).first;
  return it->second;
}

const std::vector<uint8_t>& CaseContext::output(const Variant& v, Backend b) {
  const std::string key = v.name() + "@" + std::string(backend_name(b));
  auto it = outputs_.find(key);
  if (it == outputs_.end()) it = outputs_.emplace(key, run_variant(v, case_, b)).first;
  return it->second;
}

namespace {

// Largest |w| of any dequantized weight the selected experts hold: a code
// times its scale can exceed the accumulator's range (an fp32 or e8m0 scale
// near the top of its range) even where every product with x is zero.
double selected_weight_max(const Case& c) {
  std::vector<bool> used(static_cast<size_t>(c.stored_count()), false);
  for (int32_t id : c.topk_ids) used[static_cast<size_t>(c.slot_of(id))] = true;
  double m = 0;
  for (const WeightStack* w : {&c.w13, &c.w2}) {
    std::vector<double> row(static_cast<size_t>(w->K));
    for (int64_t e = 0; e < w->E; ++e)
      for (int64_t r = 0; used[static_cast<size_t>(e)] && r < w->R; ++r) {
        w->dequant_row(e, r, row.data());
        for (double v : row) m = std::isfinite(v) ? std::max(m, std::fabs(v)) : INFINITY;
      }
  }
  return m;
}

}  // namespace

bool CaseContext::may_overflow(const Variant& v) {
  const OracleResult& o = oracle();
  const Numerics n = v.numerics(case_);
  // Weights are dequantized in the accumulator's format.
  if (!weight_max_) weight_max_ = selected_weight_max(case_);
  if (!(*weight_max_ <= 0.5 * mini_max(n.accumulator))) return true;
  // Half the smallest declared range of the intermediates: they are bounded
  // by these condition sums up to the (small) rounding growth. The output
  // format bounds y alone (below): an f16 y must not skip cases whose fp32
  // intermediates pass 65504.
  double lim = mini_max(n.accumulator);
  for (Format f : {n.h_format, n.expert_out_format}) lim = std::min(lim, mini_max(f));
  for (auto f : {n.gate_up_format, n.gate_act_format, n.topk_sum_format})
    if (f) lim = std::min(lim, mini_max(*f));
  lim *= 0.5;
  auto over = [&](const std::vector<double>& v) {
    return std::any_of(v.begin(), v.end(), [&](double a) { return !std::isfinite(a) || std::fabs(a) > lim; });
  };
  if (over(o.g_cond) || over(o.u_cond) || over(o.h)) return true;
  // x rounded element-wise into a narrower range (f32 x into bf16 tiles:
  // bf16's largest finite value is below fp32's) may become inf, and a zero
  // routing weight times inf is NaN. Block-scaled re-quantization picks its
  // scale from the block's (or row's) amax, so it keeps x in range.
  if (n.x_requant && n.requant_scale == RequantScale::pow2_block && n.requant_block == 0) {
    const double xlim = 0.5 * mini_max(*n.x_requant);
    for (int64_t t = 0; t < case_.shape.T; ++t)
      for (int64_t i = 0; i < case_.shape.H; ++i)
        if (!(std::fabs(case_.x_value(t, i)) <= xlim)) return true;
  }
  // A per-expert partial D_e h is up to cond / |w_j| before w_j scales it.
  const Shape& s = case_.shape;
  for (int64_t t = 0; t < s.T; ++t) {
    double wmin = 1;
    for (int64_t j = 0; j < s.k; ++j)
      if (case_.weight(t, j) != 0) wmin = std::min(wmin, std::fabs(static_cast<double>(case_.weight(t, j))));
    for (int64_t i = 0; i < s.H; ++i) {
      const double c = o.cond[t * s.H + i];
      if (!std::isfinite(c) || c / wmin > lim) return true;
    }
  }
  // |y| <= cond.
  const double ylim = mini_max(n.output_format) * 0.5;
  if (std::any_of(o.cond.begin(), o.cond.end(), [&](double c) { return !(c <= ylim); })) return true;
  return std::any_of(case_.topk_weights.begin(), case_.topk_weights.end(),
                     [&](float w) { return std::fabs(static_cast<double>(w)) > ylim; });
}

int64_t first_outside(const OracleResult& o, const std::vector<double>& y, const std::vector<double>& bound,
                      int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    const double yo = o.y(i);
    if (!std::isfinite(yo)) continue;  // the oracle itself overflowed: nothing to judge
    const double e = std::fabs(y[i] - yo);
    if (!(e <= bound[i] + o.err[i])) return i;
  }
  return -1;
}

}  // namespace moecheck::props
