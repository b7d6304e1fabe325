#include "oracle/running.hpp"

#include <algorithm>
#include <cmath>

namespace moecheck {
namespace {

// |s_double - s_exact| <= k 2^-53 sum|t| for k <= 2^17 terms: 2^-36 covers
// every reduction of the supported shapes (BOUNDS.md 2.4).
constexpr double kApprox = 0x1p-36;

double mag(const Run& r) { return std::fabs(r.s) + kApprox * r.a; }

}  // namespace

double Run::estimate() const { return std::sqrt(V) + Pe; }

void run_add(Run& r, double t, double pi, double pe, const RoundCtx& c) {
  if (!r.any && !c.fma) {
    // First term of a chain started at +0: 0 + fl(t) rounds only the product.
    r.s = t;
    r.a = std::fabs(t);
    r.B = pi + c.u * (mag(r) + pi) + c.eta;
    r.V = (c.u * mag(r)) * (c.u * mag(r));
    r.Pe = pe;
    r.any = true;
    return;
  }
  r.s += t;
  r.a += std::fabs(t);
  const double m = mag(r);
  double rho = c.u * (m + r.B + pi);
  double v = (c.u * m) * (c.u * m);
  if (!c.fma) {
    rho += c.u * (std::fabs(t) + pi) + c.eta;
    v += (c.u * std::fabs(t)) * (c.u * std::fabs(t));
  }
  r.B += pi + rho + c.eta;
  r.V += v;
  r.Pe += pe;
  r.any = true;
}

Run run_join(const Run& x, const Run& y, const RoundCtx& c) {
  if (!x.any) return y;
  if (!y.any) return x;
  Run r;
  r.s = x.s + y.s;
  r.a = x.a + y.a;
  r.any = true;
  const double m = mag(r);
  r.B = x.B + y.B + c.u * (m + x.B + y.B) + c.eta;
  r.V = x.V + y.V + (c.u * m) * (c.u * m);
  r.Pe = x.Pe + y.Pe;
  return r;
}

void run_fold(Run& acc, const Run& p, double w, const RoundCtx& c) {
  if (!p.any) return;
  const double aw = std::fabs(w);
  Run wp;
  wp.s = w * p.s;
  wp.a = aw * p.a * (1 + 0x1p-52);
  wp.B = aw * p.B * (1 + 0x1p-52);
  wp.V = w * w * p.V;
  wp.Pe = aw * p.Pe;
  wp.any = true;
  if (!c.fma || !acc.any) {
    // The product is rounded on its own (or fma(w, p, +0) = RN(w p)).
    const double m = mag(wp);
    wp.B += c.u * (m + wp.B) + c.eta;
    wp.V += (c.u * m) * (c.u * m);
    if (!acc.any) {
      acc = wp;
      return;
    }
  }
  acc = run_join(acc, wp, c);
}

void run_round(Run& r, double u_f, double floor_f) {
  if (!r.any) return;
  const double m = mag(r);
  r.B += u_f * (m + r.B) + floor_f;
  r.V += (u_f * m) * (u_f * m);
}

void lane_chains(const ReductionShape& sh, const double* t, const double* pi, const double* pe, int64_t n,
                 const RoundCtx& c, std::vector<Run>& lanes) {
  const int L = std::max(1, sh.lanes);
  int P = 1;
  while (P < L) P *= 2;
  lanes.assign(P, Run{});
  const int64_t chunk = std::max(1, sh.chunk);
  if (sh.block <= 0) {
    for (int64_t q = 0; q < n; ++q) run_add(lanes[(q / chunk) % L], t[q], pi[q], pe[q], c);
    return;
  }
  // Blocks of `block` consecutive terms of each lane's chain, each summed
  // from +0 and then added to the lane's running sum.
  std::vector<Run> sub(L);
  std::vector<int64_t> count(L, 0);
  for (int64_t q = 0; q < n; ++q) {
    const int l = static_cast<int>((q / chunk) % L);
    run_add(sub[l], t[q], pi[q], pe[q], c);
    if (++count[l] % sh.block == 0) {
      lanes[l] = run_join(lanes[l], sub[l], c);
      sub[l] = Run{};
    }
  }
  for (int l = 0; l < L; ++l) lanes[l] = run_join(lanes[l], sub[l], c);
}

Run butterfly(std::vector<Run>& lanes, const RoundCtx& c) {
  for (size_t off = lanes.size() / 2; off >= 1; off /= 2)
    for (size_t l = 0; l < off; ++l) lanes[l] = run_join(lanes[l], lanes[l + off], c);
  return lanes[0];
}

}  // namespace moecheck
