#include "oracle/metrics.hpp"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>

namespace moecheck {
namespace {

constexpr double kU32 = 0x1p-24;
constexpr double kRelFloor = 0x1p-12;  // |y_o| >= kRelFloor * c for relative error

int64_t ordinal(Format f, uint32_t code) {
  const uint32_t sign = 1u << (format_bits(f) - 1);
  const int64_t mag = code & (sign - 1);
  return (code & sign) ? -mag : mag;
}

Quantiles quantiles(std::vector<double> v) {
  Quantiles q;
  if (v.empty()) return q;
  std::sort(v.begin(), v.end());
  auto at = [&](double p) {
    size_t r = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
    return v[std::min(v.size(), std::max<size_t>(r, 1)) - 1];
  };
  q.p50 = at(0.5);
  q.p90 = at(0.9);
  q.p99 = at(0.99);
  q.p999 = at(0.999);
  q.max = v.back();
  return q;
}

void add_hist(Log2Histogram& h, double v) {
  if (v == 0) {
    ++h.zero;
  } else if (!std::isfinite(v)) {
    ++h.inf;
  } else {
    const int e = std::ilogb(v);
    const int b = std::clamp(e, Log2Histogram::kLo, Log2Histogram::kHi - 1) - Log2Histogram::kLo;
    ++h.counts[b];
  }
}

void track_max(double v, size_t i, double& best, int64_t& at) {
  if (at < 0 || v > best || (std::isnan(v) && !std::isnan(best))) {
    best = v;
    at = static_cast<int64_t>(i);
  }
}

}  // namespace

double abs_error(const OracleResult& o, const std::vector<double>& y, size_t i) {
  if (!std::isfinite(y[i])) return std::numeric_limits<double>::infinity();
  // (y - hi) is exact when y and hi are close (Sterbenz); otherwise its
  // rounding is far below the error itself.
  return std::fabs((y[i] - o.y_hi[i]) - o.y_lo[i]);
}

double ucond_error(const OracleResult& o, const std::vector<double>& y, size_t i) {
  const double a = abs_error(o, y, i);
  if (a == 0) return 0;
  const double c = o.cond[i];
  return c > 0 ? a / (kU32 * c) : std::numeric_limits<double>::infinity();
}

int64_t ulp_distance(Format f, uint32_t a, uint32_t b) {
  if (std::isnan(decode(f, a)) || std::isnan(decode(f, b))) return std::numeric_limits<int64_t>::max();
  const int64_t d = ordinal(f, a) - ordinal(f, b);
  return d < 0 ? -d : d;
}

Metrics compute_metrics(const OracleResult& o, const std::vector<double>& y, Format out_fmt, const Bounds* b) {
  Metrics m;
  const size_t n = o.y_hi.size();
  std::vector<double> abs_v, uc_v;
  abs_v.reserve(n);
  uc_v.reserve(n);
  long double se = 0, so = 0, sy = 0, syo = 0;
  int64_t cr = 0;
  for (size_t i = 0; i < n; ++i) {
    const double yo = o.y_hi[i];
    if (!std::isfinite(yo)) {
      ++m.oracle_nonfinite;
      continue;
    }
    ++m.count;
    if (!std::isfinite(y[i])) ++m.nonfinite;
    const double a = abs_error(o, y, i), uc = ucond_error(o, y, i);
    abs_v.push_back(a);
    uc_v.push_back(uc);
    add_hist(m.ucond_hist, uc);
    track_max(a, i, m.max_abs, m.max_abs_index);
    track_max(uc, i, m.max_ucond, m.max_ucond_index);
    const int64_t ulps = ulp_distance(out_fmt, encode(out_fmt, y[i]), round_oracle(out_fmt, o.y_hi[i], o.y_lo[i]));
    cr += ulps == 0;
    // A cancellation residue's ulps count the format's values between an
    // error of a few u*c and ~0, across binades or zero: they measure nothing.
    if (yo != 0 && std::fabs(yo) >= kRelFloor * o.cond[i]) {
      ++m.rel_count;
      track_max(a / std::fabs(yo), i, m.max_rel, m.max_rel_index);
      if (m.max_ulps_index < 0 || ulps > m.max_ulps) {
        m.max_ulps = ulps;
        m.max_ulps_index = static_cast<int64_t>(i);
      }
    }
    const long double d = static_cast<long double>(y[i]) - yo - o.y_lo[i];
    se += d * d;
    so += static_cast<long double>(yo) * yo;
    sy += static_cast<long double>(y[i]) * y[i];
    syo += static_cast<long double>(y[i]) * yo;
    if (b) {
      const double ratio = a / (b->rigorous[i] + o.err[i]);
      const bool bad = !(a <= b->rigorous[i] + o.err[i]);
      if (bad) {
        ++m.violations;
        if (m.first_violation < 0) m.first_violation = static_cast<int64_t>(i);
      }
      track_max(bad && std::isnan(ratio) ? std::numeric_limits<double>::infinity() : ratio, i, m.max_bound_ratio,
                m.max_bound_ratio_index);
    }
  }
  m.abs_q = quantiles(abs_v);
  m.ucond_q = quantiles(uc_v);
  m.rel_l2 = so > 0 ? static_cast<double>(std::sqrt(se / so)) : (se > 0 ? INFINITY : 0);
  m.cosine = (sy > 0 && so > 0) ? static_cast<double>(syo / std::sqrt(sy * so)) : (sy == so ? 1 : 0);
  m.frac_correctly_rounded = m.count ? static_cast<double>(cr) / static_cast<double>(m.count) : 1;
  return m;
}

std::string describe_violation(const Case& c, const OracleResult& o, const std::vector<double>& y, const Bounds& b,
                               size_t index) {
  const int64_t H = o.shape.H;
  const double a = abs_error(o, y, index), cu = kU32 * o.cond[index];
  char buf[768];
  std::snprintf(buf, sizeof buf,
                "t=%" PRId64 " i=%" PRId64 ": got %.17g oracle %.17g%+.3g (oracle err %.3g) error %.6g bound %.6g "
                "(estimate %.6g; u*c units: error %.4g bound %.4g; c=%.6g)",
                static_cast<int64_t>(index) / H, static_cast<int64_t>(index) % H, y[index], o.y_hi[index],
                o.y_lo[index], o.err[index], a, b.rigorous[index], b.estimate[index], cu > 0 ? a / cu : INFINITY,
                cu > 0 ? b.rigorous[index] / cu : INFINITY, o.cond[index]);
  std::string s = buf;
  if (!c.provenance.empty()) s += " case " + c.provenance;
  return s;
}

std::string format_metrics(const Metrics& m, const Shape& s) {
  auto loc = [&](int64_t i) {
    if (i < 0) return std::string("-");
    return "t=" + std::to_string(i / s.H) + " i=" + std::to_string(i % s.H);
  };
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "elements %" PRId64 " (nonfinite %" PRId64 ", oracle nonfinite %" PRId64 ")\n"
                "max abs error %.6g at %s; p50 %.3g p90 %.3g p99 %.3g p99.9 %.3g\n"
                "max error in u32*c %.4g at %s; p50 %.3g p90 %.3g p99 %.3g p99.9 %.3g\n"
                "max relative error %.4g at %s (%" PRId64 " elements not cancellation residues)\n"
                "rel L2 %.4g, cosine %.12f, correctly rounded %.4f, max ulps %" PRId64 " at %s (same elements)\n",
                m.count, m.nonfinite, m.oracle_nonfinite, m.max_abs, loc(m.max_abs_index).c_str(), m.abs_q.p50,
                m.abs_q.p90, m.abs_q.p99, m.abs_q.p999, m.max_ucond, loc(m.max_ucond_index).c_str(), m.ucond_q.p50,
                m.ucond_q.p90, m.ucond_q.p99, m.ucond_q.p999, m.max_rel, loc(m.max_rel_index).c_str(), m.rel_count,
                m.rel_l2, m.cosine, m.frac_correctly_rounded, m.max_ulps, loc(m.max_ulps_index).c_str());
  std::string out = buf;
  if (m.max_bound_ratio_index >= 0 || m.violations) {
    std::snprintf(buf, sizeof buf, "bound violations %" PRId64 " (first at %s), max error/bound %.4g at %s\n",
                  m.violations, loc(m.first_violation).c_str(), m.max_bound_ratio, loc(m.max_bound_ratio_index).c_str());
    out += buf;
  }
  return out;
}

}  // namespace moecheck
