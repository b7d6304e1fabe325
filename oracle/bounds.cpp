#include "oracle/bounds.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "core/error.hpp"
#include "oracle/mp.hpp"
#include "oracle/rows.hpp"
#include "oracle/running.hpp"

namespace moecheck {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
// Relative slack for magnitudes evaluated in double (libm activations, the
// sums below): far above their actual error (< 2^-40), BOUNDS.md 2.6.
constexpr double kSlack = 1.0001;

int floor_log2(double v) { return std::ilogb(v); }

// Dequantization of one weight into the accumulator (BOUNDS.md 2.1):
// |w_kernel - w| <= rel |w| + floor after r roundings; then, with a declared
// weight_tile_format, one more rounding to it: + tile_rel |w| + tile_floor,
// charged as an input perturbation (its unit is not the accumulator's).
struct WeightDequant {
  int r = 0;
  double rel = 0, floor = 0;
  double tile_rel = 0, tile_floor = 0;
};

struct Units {
  double u;    // accumulator unit roundoff
  double eta;  // accumulator underflow floor per rounding
  WeightDequant wg, wd;  // w13, w2
  int epi = 0;  // Numerics::epilogue_roundings
};

// r roundings declared (Numerics::weight_roundings) or inferred (one when the
// exact value needs more bits than the accumulator has). The first rounding
// costs u |w| + eta; each later one rounds a scale product that the element
// e (|e| <= max of its format) multiplies: + u |w| (1 + u) + |e| (1 + u) eta.
WeightDequant weight_dequant(WeightFormat f, const Numerics& n, double u, double eta) {
  WeightDequant d;
  d.r = n.weight_roundings >= 0 ? n.weight_roundings
                                : (weight_value_bits(f) > format_precision_bits(n.accumulator) ? 1 : 0);
  if (d.r > 0) {
    d.rel = gamma_n(static_cast<double>(d.r), u);
    d.floor = eta * (1 + static_cast<double>(d.r - 1) * (1 + u) * mini_max(element_format(f)));
  }
  if (n.weight_tile_format) {
    // RN_f of w' = w + dw (|dw| <= rel |w| + floor): u_f |w'| + floor_f. An
    // exact value of at most f's precision (r = 0) only rounds below f's
    // normal range, by at most floor_f.
    const Format tf = *n.weight_tile_format;
    const bool fits = d.r == 0 && weight_value_bits(f) <= format_precision_bits(tf);
    const double ut = fits ? 0 : unit_roundoff(tf);
    d.tile_rel = ut * (1 + d.rel);
    d.tile_floor = ut * d.floor + rounding_floor(tf);
  }
  return d;
}

Units units(const Case& c, const Numerics& n) {
  Units r;
  r.u = n.accumulator_unit > 0 ? n.accumulator_unit : unit_roundoff(n.accumulator);
  r.eta = rounding_floor(n.accumulator);
  r.wg = weight_dequant(c.w13.format, n, r.u, r.eta);
  r.wd = weight_dequant(c.w2.format, n, r.u, r.eta);
  r.epi = n.epilogue_roundings;
  return r;
}

// Underflow floor of the epilogue roundings of one GEMM output over the
// weight row w (K) of format f (BOUNDS.md 2.1): fl(A s) costs eta; with a
// second rounding fl(. s_w), the first one's eta is multiplied by s_w (1 + u)
// and s_w <= max|w| / (the element format's smallest positive value) when
// the row has a nonzero code (otherwise the sum is an exact zero).
double epilogue_floor(const Units& un, WeightFormat f, const double* w, int64_t K) {
  if (un.epi <= 0) return 0;
  double sw = 0;
  if (un.epi > 1) {
    const MiniSpec e = mini_spec(element_format(f));
    double m = 0;
    for (int64_t q = 0; q < K; ++q) m = std::max(m, std::fabs(w[q]));
    sw = m / pow2(1 - e.bias - e.mbits);
  }
  return un.eta * (1 + (un.epi - 1) * (1 + un.u) * sw) * kSlack;
}

// Values sharing one re-quantization scale along a row of `len` values
// (0: element-wise rounding, no scale).
int64_t requant_span(const Numerics& n, int64_t len) {
  return n.requant_scale == RequantScale::fp32_row ? len : n.requant_block;
}

// |d act / d u| at the exact g (BOUNDS.md 2.2): |silu(g)|, |gelu(g)|,
// |g' sigmoid(alpha g')|, |g|.
double act_u_slope(const ActivationSpec& a, double g) {
  switch (a.kind) {
    case Activation::swiglu: return std::fabs(g / (1 + std::exp(-g)));
    case Activation::geglu: return std::fabs(0.5 * g * std::erfc(-g / std::sqrt(2.0)));
    case Activation::swiglu_clamped: {
      const double gc = std::min(g, static_cast<double>(a.limit));
      return std::fabs(gc / (1 + std::exp(-static_cast<double>(a.alpha) * gc)));
    }
    case Activation::bilinear: return std::fabs(g);
  }
  return std::fabs(g);
}

// |d act / d g| per unit of the gate weight at the exact g, and a bound on
// the second derivative (BOUNDS.md 2.2): silu' with |silu''| <= 1/2, gelu'
// with |gelu''| <= 2 phi(0) < 0.8, clamped alpha-silu with <= alpha / 2.
double act_g_slope(const ActivationSpec& a, double g, double& curv) {
  auto dsilu = [](double x) {
    const double sg = 1 / (1 + std::exp(-x));
    return sg * (1 + x * (1 - sg));
  };
  switch (a.kind) {
    case Activation::swiglu: curv = 0.5; return std::fabs(dsilu(g));
    case Activation::geglu: {
      curv = 0.8;
      const double phi = std::exp(-0.5 * g * g) * 0.3989422804014327;
      return std::fabs(0.5 * std::erfc(-g / std::sqrt(2.0)) + g * phi);
    }
    case Activation::swiglu_clamped: {
      curv = 0.5 * static_cast<double>(a.alpha) + 1e-9;
      // Above the limit g' = limit is flat, but an error can cross it.
      const double gc = std::min(g, static_cast<double>(a.limit));
      return std::fabs(dsilu(static_cast<double>(a.alpha) * gc));
    }
    case Activation::bilinear: curv = 0; return 1;
  }
  curv = 1;
  return 1.13;
}

// The factor multiplying the gate error: |u|, or |clamp(u) + 1|.
double act_gate_weight(const ActivationSpec& a, double u) {
  if (a.kind != Activation::swiglu_clamped) return std::fabs(u);
  const double lim = a.limit;
  return std::fabs(std::clamp(u, -lim, lim) + 1);
}

struct StageErr {
  double r = 0, e = 0;  // rigorous, estimate
};

// Stage 1: error of one fp32 gate or up dot product (BOUNDS.md 2.1).
// wfloor: the weights' dequantization floors times sum |x|.
StageErr dot_error(double cond, double rq, int64_t depth, int64_t terms, const Units& un, double wfloor) {
  StageErr s;
  s.r = rq + gamma_n(static_cast<double>(depth), un.u) * (cond + rq) + static_cast<double>(terms * depth) * un.eta +
        wfloor;
  s.e = rq + gamma_prob(static_cast<double>(depth), un.u) * (cond + rq);
  return s;
}

// Roundings each position of an n-term reduction of shape sh sees, leaving
// out the final (root) rounding that every term shares, plus `extra` for
// each term (weights rounded into the accumulator); sorted descending
// (BOUNDS.md 2.1). Lane chains of at most m = ceil(n / lanes) terms from +0:
// position 1 sees its product's rounding and the adds 2..m (m), position
// i >= 2 the adds i..m and, without fma, its product's rounding; blocks of
// `block` terms add their own chain plus one join per block from theirs on;
// then ceil(log2 lanes) tree levels. Shorter lanes and blocks only lower
// the depths, so the top n of this list dominate any actual arrangement.
struct Depths {
  std::vector<int> d;          // descending
  std::vector<double> prefix;  // prefix[k] = d[0] + ... + d[k-1]
};

Depths position_depths(const ReductionShape& sh, int64_t n, int extra) {
  const int64_t L = std::max(1, sh.lanes), m = (n + L - 1) / L;
  const int nofma = sh.fma ? 0 : 1;
  auto chain = [&](int64_t len, int64_t i) {  // position i (1-based) of a chain of len terms
    return static_cast<int>(i == 1 ? len : len - i + 1 + nofma);
  };
  std::vector<int> lane;  // depths of one full lane
  if (sh.block > 0 && sh.block < m) {
    const int64_t nb = (m + sh.block - 1) / sh.block;
    for (int64_t b = 0; b < nb; ++b)
      for (int64_t i = 1; i <= sh.block; ++i) lane.push_back(chain(sh.block, i) + static_cast<int>(nb - b));
  } else {
    for (int64_t i = 1; i <= m; ++i) lane.push_back(chain(m, i));
  }
  int tree = 0;
  while ((int64_t{1} << tree) < L) ++tree;
  std::vector<int> d;
  for (int64_t l = 0; l < L; ++l)
    for (int v : lane) d.push_back(v + tree + extra - 1);  // - 1: the root rounding, charged separately
  std::sort(d.begin(), d.end(), std::greater<int>());
  d.resize(static_cast<size_t>(n));
  Depths r{d, std::vector<double>(d.size() + 1, 0)};
  for (size_t k = 0; k < d.size(); ++k) r.prefix[k + 1] = r.prefix[k] + d[k];
  return r;
}

// max over arrangements of sum_q d_q |t_q| (the sorted pairing), bounded
// without sorting: |t| are grouped by their top bits, 8 groups per binade
// from the largest down (kGroups, smaller values in one last group), and a
// group of c values in [lo, hi) meeting depths d_k..d_{k+c-1} (the next c,
// largest first) contributes at most lo sum(d) + d_k (S - c lo), S the
// group's sum: each value is lo plus at most its excess over lo.
double rearranged_sum(const double* tabs, int64_t n, const Depths& dep) {
  constexpr int kGroups = 512, kShift = 49;  // 2^-3 of a binade per group
  int64_t top = 0;
  for (int64_t q = 0; q < n; ++q) top = std::max(top, static_cast<int64_t>(double_bits(tabs[q]) >> kShift));
  if (top == 0) return 0;
  int64_t count[kGroups + 1] = {};
  double sum[kGroups + 1] = {};
  for (int64_t q = 0; q < n; ++q) {
    if (tabs[q] == 0) continue;
    const int64_t g = std::min<int64_t>(kGroups, top - static_cast<int64_t>(double_bits(tabs[q]) >> kShift));
    ++count[g];
    sum[g] += tabs[q];
  }
  double W = 0;
  int64_t k = 0;
  for (int g = 0; g <= kGroups; ++g) {
    if (count[g] == 0) continue;
    const double lo = g < kGroups ? bits_double(static_cast<uint64_t>(top - g) << kShift) : 0;
    const double dsum = dep.prefix[k + count[g]] - dep.prefix[k];
    W += lo * dsum + dep.d[k] * std::max(0.0, sum[g] - count[g] * lo);
    k += count[g];
  }
  return W;
}

// Stage 1 with the order not declared (BOUNDS.md 2.1): Higham's bound term by
// term, sum_i gamma_{d_i} |t_i|, where d_i are the roundings term i sees
// before the root. Which term sits where is not declared, so the largest
// |t| take the deepest positions (rearrangement inequality: no assignment
// gives more). The root rounding is u times the computed value, at most
// u (|g| + E'). tabs: |t_q|; depths: position_depths. Only the rigorous
// part: the estimate stays dot_error's.
StageErr unordered_dot_error(const double* tabs, int64_t n, const Depths& depths, double g, double rq,
                             const Units& un, double wfloor) {
  const double W = rearranged_sum(tabs, n, depths);
  const double dmax = n ? static_cast<double>(depths.d[0]) : 0;
  const double gam = un.u / (1 - (dmax + 1) * un.u);
  StageErr s;
  // Input perturbations (requantized x, weight floors) add to the terms and
  // go through at most dmax roundings like them.
  const double pert = rq + wfloor;
  const double inner = pert + gam * (W + dmax * pert) * kSlack + static_cast<double>(n) * (dmax + 1) * un.eta;
  s.r = inner + un.u * (std::fabs(g) * kSlack + inner);
  return s;
}

// Requantization error of x summed against |row| (BOUNDS.md 2.1).
double x_requant_term(const Case& c, const Numerics& n, const RequantError& rq, const double* row,
                      const double* x, const double* xamax, double cond) {
  double floor_sum = 0;
  const int64_t B = requant_span(n, c.shape.H);
  for (int64_t q = 0; q < c.shape.H; ++q) {
    const double fl = (B > 0 ? rq.floor_per_amax * xamax[q / B] : 0.0) + rq.floor_abs;
    floor_sum += std::fabs(row[q]) * fl;
  }
  (void)x;
  return kSlack * (rq.rel * cond + floor_sum);
}

// A stage's value of magnitude at most mag + e rounded to format f
// (gate_up_format, BOUNDS.md 2.7).
StageErr round_stage(StageErr s, Format f, double mag) {
  const double uf = unit_roundoff(f), ff = rounding_floor(f);
  return {s.r + uf * (mag + s.r) + ff, s.e + uf * (mag + s.e) + ff};
}

// Stage 2: error of h after the activation, the h_format rounding (BOUNDS.md 2.2).
StageErr h_error(const ActivationSpec& a, const Numerics& n, double g, double u, double hmag, StageErr eg, StageErr eu) {
  const double L = act_gate_lipschitz(a.kind);
  double curv = 0;
  const double slope = act_g_slope(a, g, curv) * kSlack;
  const double A = act_gate_weight(a, u), B = act_u_slope(a, g) * kSlack;
  auto one = [&](double Eg, double Eu) {
    // Mean value theorem: |act_g'| on [g - Eg, g + Eg] is at most
    // min(L, |act_g'(g)| + curv Eg).
    const double Lg = std::min(L, slope + curv * Eg);
    double prop = kSlack * (Lg * (A + Eu) * Eg + (B + L * Eg) * Eu);
    if (n.gate_act_format) {
      // The gate factor as evaluated in fp32 (at most B + L Eg, plus its
      // activation_ulps), rounded to the format (BOUNDS.md 2.7).
      const double factor = (B + L * Eg) * (1 + n.activation_ulps * 0x1p-23) + n.activation_ulps * 0x1p-149;
      prop += kSlack * (unit_roundoff(*n.gate_act_format) * factor + rounding_floor(*n.gate_act_format)) * (A + Eu);
    }
    double e = prop + n.activation_ulps * (0x1p-23 * (hmag + prop) + 0x1p-149);
    if (n.h_format != Format::f32) e += unit_roundoff(n.h_format) * (hmag + e) + rounding_floor(n.h_format);
    return e;
  };
  return {one(eg.r, eu.r), one(eg.e, eu.e)};
}

// Stage 3: down projection, combine and output rounding (BOUNDS.md 2.3-2.5).
// The final rounding of y to the output format (BOUNDS.md: half an ulp of
// |y| plus the format's floor), then the bounds of element idx.
// already_rounded: the last add of the top-k sum rounded to the output
// format, so storing it is exact.
void store_with_output_rounding(const Numerics& n, const OracleResult& o, int64_t idx, double yr, double ye,
                                Bounds& b, bool already_rounded = false) {
  if (n.output_format != n.accumulator && !already_rounded) {
    const double uo = unit_roundoff(n.output_format), fo = rounding_floor(n.output_format);
    const double ym = std::fabs(o.y_hi[idx]) + o.err[idx];
    yr += uo * (ym + yr) + fo;
    ye += uo * (ym + ye) + fo;
  }
  b.rigorous[idx] = yr * kSlack;
  b.estimate[idx] = ye;
}

Bounds derive_down_bounds(const Case& c, const OracleResult& o, const Numerics& n, const std::vector<double>& ehr,
                          const std::vector<double>& ehe) {
  const Shape& s = c.shape;
  const Units un = units(c, n);
  Bounds b;
  b.rigorous.assign(s.T * s.H, 0);
  b.estimate.assign(s.T * s.H, 0);
  const bool fold = n.combine == Combine::fold_partials;
  const int64_t dd = reduction_depth(n.down, s.I) + un.wd.r + un.epi;
  // fold_partials: each expert's lane partial is folded in with one fma (two
  // roundings without fma); the tree comes after all k folds.
  const int64_t fold_depth = dd + (n.down.fma ? s.k : 2 * s.k);
  const double inflate = 1 + static_cast<double>(s.I + 2) * 0x1p-52;
  const bool expert_round = n.expert_out_format != n.accumulator;
  const bool weighted = n.combine == Combine::weighted_expert_outputs;
  const bool h_weighted = n.combine == Combine::weighted_h;
  // An add in a narrower format is an accumulator add rounded again, a
  // double rounding (BOUNDS.md 2.7): u_f + u (1 + u_f), floors eta + floor_f.
  const double sum_u = n.topk_sum_format ? unit_roundoff(*n.topk_sum_format) * (1 + un.u) + un.u : 0;
  const double sum_floor = n.topk_sum_format ? rounding_floor(*n.topk_sum_format) + un.eta : 0;
  const bool sum_is_output = n.topk_sum_format == n.output_format;
#pragma omp parallel
  {
    std::vector<double> d(s.I);
#pragma omp for schedule(dynamic, 16)
    for (int64_t idx = 0; idx < s.T * s.H; ++idx) {
      const int64_t t = idx / s.H, i = idx % s.H;
      double C = 0, Pr = 0, Pe = 0;           // fold: sum_j |w_j| (c_j, P_j)
      double Er = 0, Ee = 0, Ar = 0, Ae = 0;  // per expert: sum |w| E_j, sum |w| (|y_j| + E_j)
      for (int64_t j = 0; j < s.k; ++j) {
        const int64_t tj = t * s.k + j;
        decode_row(c.w2, c.slot_of(c.id(t, j)), i, d.data());
        const double w = std::fabs(static_cast<double>(c.weight(t, j)));
        double cj = 0, pr = 0, pe = 0, yj = 0;
        for (int64_t q = 0; q < s.I; ++q) {
          const double a = std::fabs(d[q]);
          double hv = o.h[tj * s.I + q], er = ehr[tj * s.I + q], ee = ehe[tj * s.I + q];
          if (h_weighted) {
            // h' = RN_h(fl(w h)): the weight scales h and its error, then an
            // accumulator rounding and, narrower, an h_format one (BOUNDS.md 2.7).
            const double m = w * std::fabs(hv);
            er = w * er + un.u * (m + w * er) + un.eta;
            ee = w * ee + un.u * (m + w * ee) + un.eta;
            if (n.h_format != n.accumulator) {
              er += unit_roundoff(n.h_format) * (m + er) + rounding_floor(n.h_format);
              ee += unit_roundoff(n.h_format) * (m + ee) + rounding_floor(n.h_format);
            }
            hv *= static_cast<double>(c.weight(t, j));
          }
          cj += a * std::fabs(hv);
          pr += a * er + (un.wd.floor + un.wd.tile_rel * a + un.wd.tile_floor) * (std::fabs(hv) + er);
          pe += a * ee;
          yj += d[q] * hv;
        }
        cj *= inflate;
        pr *= inflate;
        const double ef = epilogue_floor(un, c.w2.format, d.data(), s.I);
        if (fold) {
          C += w * cj;
          Pr += w * (pr + ef);
          Pe += w * (pe + ef);
          continue;
        }
        const double ay = std::fabs(yj) + static_cast<double>(s.I + 2) * 0x1p-52 * cj;
        double ejr = pr + gamma_n(static_cast<double>(dd), un.u) * (cj + pr) + static_cast<double>(s.I * dd) * un.eta + ef;
        double eje = pe + gamma_prob(static_cast<double>(dd), un.u) * (cj + pe) + ef;
        double my = ay;  // |y_j|, or |w_j y_j| once the weight is in (weighted)
        if (weighted) {
          // fl(w_j acc_j) in the epilogue: one accumulator rounding (BOUNDS.md 2.7).
          my = w * ay;
          ejr = w * ejr + un.u * (my + w * ejr) + un.eta;
          eje = w * eje + un.u * (my + w * eje) + un.eta;
        }
        if (expert_round) {
          const double ue = unit_roundoff(n.expert_out_format), fe = rounding_floor(n.expert_out_format);
          ejr += ue * (my + ejr) + fe;
          eje += ue * (my + eje) + fe;
        }
        const double wj = weighted || h_weighted ? 1 : w;  // already in
        Er += wj * ejr;
        Ee += wj * eje;
        Ar += wj * (my + ejr);
        Ae += wj * (my + eje);
      }
      double yr, ye;
      if (fold) {
        yr = Pr + gamma_n(static_cast<double>(fold_depth), un.u) * (C + Pr) +
             static_cast<double>(s.k * s.I * fold_depth) * un.eta;
        ye = Pe + gamma_prob(static_cast<double>(fold_depth), un.u) * (C + Pe);
      } else {
        // y = sum_j w_j y_j: a product and an add per expert, the adds in
        // the top-k sum's format; weighted: the k adds only (BOUNDS.md 2.7).
        const bool in = weighted || h_weighted;
        const double m = static_cast<double>(in ? s.k : s.k + 1);
        const double floors = static_cast<double>(in ? s.k : 2 * s.k) * std::max(un.eta, sum_floor);
        yr = Er + gamma_n(m, std::max(un.u, sum_u)) * Ar + floors;
        ye = Ee + gamma_prob(m, std::max(un.u, sum_u)) * Ae;
      }
      store_with_output_rounding(n, o, idx, yr, ye, b, !fold && sum_is_output);
    }
  }
  return b;
}

bool ordered(const ReductionShape& s) { return s.chunk > 0; }

// Stage 1 with a declared order: running bound over the kernel's own partial
// sums (BOUNDS.md 2.4). Terms are the exact products G[q] x[q]; pi covers
// the declared input roundings.
StageErr ordered_dot_error(const Numerics& n, const Units& un, const RequantError& rq, const double* row,
                           const double* x, const double* xamax, int64_t H, bool inexact_products,
                           std::vector<double>& scratch, std::vector<Run>& lanes) {
  scratch.resize(3 * H);
  double *t = scratch.data(), *pi = t + H, *pe = pi + H;
  const int64_t B = requant_span(n, H);
  for (int64_t q = 0; q < H; ++q) {
    t[q] = row[q] * x[q];
    double p = 0;
    p += un.wg.rel * std::fabs(t[q]) + un.wg.floor * std::fabs(x[q]);
    if (inexact_products) p += 0x1p-53 * std::fabs(t[q]);
    const double dx = n.x_requant ? rq.rel * std::fabs(x[q]) +
                                        ((B > 0 ? rq.floor_per_amax * xamax[q / B] : 0.0) + rq.floor_abs)
                                  : 0.0;
    p += std::fabs(row[q]) * dx;
    // The tile rounding of the weight meets the (re-quantized) x.
    p += (un.wg.tile_rel * std::fabs(row[q]) + un.wg.tile_floor) * (std::fabs(x[q]) + dx);
    pi[q] = p * kSlack;
    pe[q] = p;
  }
  const RoundCtx rc{un.u, un.eta, n.gate_up.fma};
  lane_chains(n.gate_up, t, pi, pe, H, rc, lanes);
  Run r = butterfly(lanes, rc);
  // Epilogue roundings of the sum (their floors: the caller's epilogue_floor).
  for (int e = 0; e < un.epi; ++e) run_round(r, un.u, 0);
  return {r.B, r.estimate()};
}

// Stage 3 with a declared down order (BOUNDS.md 2.4): fold_partials keeps one
// running accumulator per lane across the experts; per_expert_outputs
// reduces each expert, rounds it, and combines sequentially.
Bounds ordered_down_bounds(const Case& c, const OracleResult& o, const Numerics& n, const std::vector<double>& ehr,
                           const std::vector<double>& ehe) {
  const Shape& s = c.shape;
  const Units un = units(c, n);
  const RoundCtx rc{un.u, un.eta, n.down.fma};
  Bounds b;
  b.rigorous.assign(s.T * s.H, 0);
  b.estimate.assign(s.T * s.H, 0);
  const bool fold = n.combine == Combine::fold_partials;
#pragma omp parallel
  {
    std::vector<double> d(s.I), t(s.I), pi(s.I), pe(s.I);
    std::vector<Run> lanes, acc;
#pragma omp for schedule(dynamic, 16)
    for (int64_t idx = 0; idx < s.T * s.H; ++idx) {
      const int64_t tt = idx / s.H, i = idx % s.H;
      Run total;
      double fold_floor = 0;  // fold: sum_j |w_j| (epilogue floor of j)
      for (int64_t j = 0; j < s.k; ++j) {
        const int64_t tj = tt * s.k + j;
        decode_row(c.w2, c.slot_of(c.id(tt, j)), i, d.data());
        for (int64_t q = 0; q < s.I; ++q) {
          const double h = o.h[tj * s.I + q], ad = std::fabs(d[q]);
          t[q] = d[q] * h;
          // h is the oracle's RN-to-double: 2^-53 |h| from the exact h.
          double p = ad * (ehr[tj * s.I + q] + 0x1p-53 * std::fabs(h));
          p += un.wd.rel * std::fabs(t[q]) +
               (un.wd.floor + un.wd.tile_rel * ad + un.wd.tile_floor) * (std::fabs(h) + ehr[tj * s.I + q]);
          pi[q] = p * kSlack;
          pe[q] = ad * ehe[tj * s.I + q];
        }
        lane_chains(n.down, t.data(), pi.data(), pe.data(), s.I, rc, lanes);
        const double w = static_cast<double>(c.weight(tt, j));
        const double ef = epilogue_floor(un, c.w2.format, d.data(), s.I);
        if (fold) {
          if (acc.size() != lanes.size() || j == 0) acc.assign(lanes.size(), Run{});
          // No per-expert sum to apply an epilogue to: each lane partial
          // takes its roundings (a path of every term sees them).
          for (size_t l = 0; l < lanes.size(); ++l) {
            for (int e = 0; e < un.epi; ++e) run_round(lanes[l], un.u, 0);
            run_fold(acc[l], lanes[l], w, rc);
          }
          fold_floor += std::fabs(w) * ef;
          continue;
        }
        Run yj = butterfly(lanes, rc);
        // Epilogue roundings (relative here, floors ef).
        for (int e = 0; e < un.epi; ++e) run_round(yj, un.u, 0);
        yj.B += ef;
        yj.Pe += ef;
        if (n.expert_out_format != n.accumulator)
          run_round(yj, unit_roundoff(n.expert_out_format), rounding_floor(n.expert_out_format));
        // y = sum_j w_j y_j: a product and an add per expert.
        run_fold(total, yj, w, RoundCtx{un.u, un.eta, false});
      }
      if (fold) total = butterfly(acc, rc);
      double yr = total.B + fold_floor, ye = total.estimate() + fold_floor;
      store_with_output_rounding(n, o, idx, yr, ye, b);
    }
  }
  return b;
}

}  // namespace

double gamma_n(double m, double u) {
  const double mu = m * u;
  return mu >= 1 ? kInf : mu / (1 - mu);
}

double gamma_prob(double m, double u) { return std::sqrt(m) * u; }

int64_t reduction_depth(const ReductionShape& s, int64_t n) {
  const int64_t p = std::max(1, s.lanes);
  const int64_t m = (n + p - 1) / p;  // terms per lane
  int64_t chain = m;
  if (s.block > 0 && s.block < m) chain = s.block + (m + s.block - 1) / s.block;
  int64_t tree = 0;
  while ((int64_t{1} << tree) < p) ++tree;
  return chain + tree;
}

double rounding_floor(Format f) {
  const MiniSpec s = mini_spec(f);
  return pow2(-s.bias - s.mbits);  // half of the smallest subnormal 2^(1-bias-mbits)
}

RequantError requant_error(Format f, int block, RequantScale scale) {
  RequantError r;
  const MiniSpec s = mini_spec(f);
  const double u = unit_roundoff(f);
  const int emin = 1 - s.bias;
  const double half_q = pow2(emin - s.mbits - 1);  // half the subnormal quantum
  if (scale == RequantScale::fp32_row) {
    // s = max(fl(amax / max_f), 2^-126), q = sat_f(RN_f(fl(v / s))), value
    // q s: |q s - v| <= (u_f (1 + u) + u) |v| + s (half_q + 2^-149) with
    // u = 2^-24 (the two fp32 roundings; saturation costs at most 2 u max_f,
    // inside u_f |fl(v / s)|) and s <= amax (1 + u) / max_f + 2^-126.
    // BOUNDS.md 2.1.
    const double u32 = 0x1p-24, fq = half_q + 0x1p-149;
    r.rel = u * (1 + u32) + u32;
    r.floor_per_amax = fq * (1 + u32) / mini_max(f);
    r.floor_abs = fq * 0x1p-126;
    return r;
  }
  if (block <= 0) {
    r.rel = u;
    r.floor_abs = half_q;
    return r;
  }
  // Scale 2^(floor(log2 amax) - emax): elements reach up to 2^(emax+1) and
  // saturate at max_f, which costs at most 1 - max_f / 2^(emax+1) relative.
  const int emax = floor_log2(mini_max(f));
  r.rel = std::max(u, 1 - mini_max(f) / pow2(emax + 1));
  r.floor_per_amax = half_q * pow2(-emax);
  // The e8m0 scale stops at 2^-127 (amax below 2^(emax-127) gets a coarser
  // quantum than amax * 2^-emax suggests), and a kernel that keeps the
  // re-quantized values in bf16 rounds once more where they fall below bf16's
  // normal range: half a quantum each (BOUNDS.md 2.1).
  r.floor_abs = half_q * pow2(-127) + pow2(-134);
  return r;
}

Bounds derive_bounds(const Case& c, const OracleResult& o, const Numerics& n) {
  if (ordered(n.down) && (n.combine == Combine::weighted_expert_outputs || n.combine == Combine::weighted_h ||
                          n.topk_sum_format))
    throw InputError("no bound is derived yet for a declared down order (chunk > 0) with " +
                     std::string(n.topk_sum_format ? "topk_sum_format" : "a weighted combine") +
                     ": declare the down order unspecified (chunk 0)");
  const Shape& s = c.shape;
  const Units un = units(c, n);
  const int64_t tki = s.T * s.k * s.I;
  std::vector<double> ehr(tki), ehe(tki);  // (T, k, I) bounds on |h_kernel - h_true|
  const int64_t dg = reduction_depth(n.gate_up, s.H) + un.wg.r + un.epi;
  const bool inexact_products = weight_value_bits(c.w13.format) + format_precision_bits(c.x_format) > 53;
  const RequantError xrq =
      n.x_requant ? requant_error(*n.x_requant, n.requant_block, n.requant_scale) : RequantError{};
  // (T, ceil(H/B)) block amax of |x| for a scaled x requantization.
  std::vector<double> x(s.T * s.H), xamax;
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t q = 0; q < s.H; ++q) x[t * s.H + q] = c.x_value(t, q);
  const int64_t xspan = requant_span(n, s.H);  // values per x scale, 0: none
  const int64_t B = xspan > 0 ? xspan : s.H;
  const int64_t nbx = (s.H + B - 1) / B;
  xamax.assign(s.T * nbx, 0);
  std::vector<double> xabs(s.T, 0);  // (T) sum |x|, for the weights' dequantization floors
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t q = 0; q < s.H; ++q) xabs[t] += std::fabs(x[t * s.H + q]) * kSlack;
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t q = 0; q < s.H; ++q)
      xamax[t * nbx + q / B] = std::max(xamax[t * nbx + q / B], std::fabs(x[t * s.H + q]));
  // (T) sum (|x| + |dx|), |dx| the re-quantization error bound: what the
  // weights' tile rounding multiplies.
  std::vector<double> xpert(s.T, 0);
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t q = 0; q < s.H; ++q) {
      const double ax = std::fabs(x[t * s.H + q]);
      const double dx = n.x_requant ? xrq.rel * ax + (xspan > 0 ? xrq.floor_per_amax * xamax[t * nbx + q / B] : 0.0) +
                                          xrq.floor_abs
                                    : 0.0;
      xpert[t] += (ax + dx) * kSlack;
    }
  const bool tile = un.wg.tile_rel > 0 || un.wg.tile_floor > 0;

  const Depths gate_depths = ordered(n.gate_up) ? Depths{} : position_depths(n.gate_up, s.H, un.wg.r + un.epi);
#pragma omp parallel
  {
    std::vector<double> row(s.H), scratch, tabs;
    std::vector<Run> lanes;
#pragma omp for schedule(dynamic, 16)
    for (int64_t idx = 0; idx < tki; ++idx) {
      const int64_t nn = idx % s.I, t = idx / s.I / s.k, j = (idx / s.I) % s.k;
      double rqg = 0, rqu = 0;
      if (n.x_requant && !ordered(n.gate_up)) {
        const int64_t slot = c.slot_of(c.id(t, j));
        decode_row(c.w13, slot, gate_row(c.layout, s.I, nn), row.data());
        rqg = x_requant_term(c, n, xrq, row.data(), &x[t * s.H], &xamax[t * nbx], o.g_cond[idx]);
        decode_row(c.w13, slot, up_row(c.layout, s.I, nn), row.data());
        rqu = x_requant_term(c, n, xrq, row.data(), &x[t * s.H], &xamax[t * nbx], o.u_cond[idx]);
      }
      if (tile && !ordered(n.gate_up)) {
        // sum_q |dw_q| (|x_q| + |dx_q|), an input perturbation like rq.
        rqg += kSlack * (un.wg.tile_rel * (o.g_cond[idx] * kSlack + rqg) + un.wg.tile_floor * xpert[t]);
        rqu += kSlack * (un.wg.tile_rel * (o.u_cond[idx] * kSlack + rqu) + un.wg.tile_floor * xpert[t]);
      }
      StageErr eg, eu;
      if (ordered(n.gate_up)) {
        const int64_t slot = c.slot_of(c.id(t, j));
        decode_row(c.w13, slot, gate_row(c.layout, s.I, nn), row.data());
        eg = ordered_dot_error(n, un, xrq, row.data(), &x[t * s.H], &xamax[t * nbx], s.H, inexact_products, scratch,
                               lanes);
        const double fg = epilogue_floor(un, c.w13.format, row.data(), s.H);
        eg.r += fg, eg.e += fg;
        decode_row(c.w13, slot, up_row(c.layout, s.I, nn), row.data());
        eu = ordered_dot_error(n, un, xrq, row.data(), &x[t * s.H], &xamax[t * nbx], s.H, inexact_products, scratch,
                               lanes);
        const double fu = epilogue_floor(un, c.w13.format, row.data(), s.H);
        eu.r += fu, eu.e += fu;
      } else {
        eg = dot_error(o.g_cond[idx] * kSlack, rqg, dg, s.H, un, un.wg.floor * xabs[t]);
        eu = dot_error(o.u_cond[idx] * kSlack, rqu, dg, s.H, un, un.wg.floor * xabs[t]);
        // The rigorous part from the actual terms (never above gamma_D g_cond).
        const int64_t slot = c.slot_of(c.id(t, j));
        for (int r = 0; r < 2; ++r) {
          decode_row(c.w13, slot, r == 0 ? gate_row(c.layout, s.I, nn) : up_row(c.layout, s.I, nn), row.data());
          tabs.resize(s.H);
          for (int64_t q = 0; q < s.H; ++q) tabs[q] = std::fabs(row[q] * x[t * s.H + q]);
          StageErr& e = r == 0 ? eg : eu;
          const StageErr w = unordered_dot_error(tabs.data(), s.H, gate_depths, r == 0 ? o.g[idx] : o.u[idx],
                                                 r == 0 ? rqg : rqu, un, un.wg.floor * xabs[t]);
          e.r = std::min(e.r, w.r);
          const double f = epilogue_floor(un, c.w13.format, row.data(), s.H);
          e.r += f, e.e += f;
        }
      }
      if (n.gate_up_format) {
        eg = round_stage(eg, *n.gate_up_format, std::fabs(o.g[idx]) * kSlack);
        eu = round_stage(eu, *n.gate_up_format, std::fabs(o.u[idx]) * kSlack);
      }
      const double hmag = std::fabs(o.h[idx]) * kSlack + o.h_err[idx];
      const StageErr eh = h_error(c.act, n, o.g[idx], o.u[idx], hmag, eg, eu);
      ehr[idx] = eh.r + o.h_err[idx];
      ehe[idx] = eh.e;
    }
  }
  if (n.h_requant) {
    // Block-scaled requantization of h along I (BOUNDS.md 2.2).
    const RequantError hrq = requant_error(*n.h_requant, n.requant_block, n.requant_scale);
    const int64_t hspan = requant_span(n, s.I);  // values per h scale, 0: none
    const int64_t HB = hspan > 0 ? hspan : s.I;
    for (int64_t tj = 0; tj < s.T * s.k; ++tj)
      for (int64_t b0 = 0; b0 < s.I; b0 += HB) {
        const int64_t b1 = std::min(s.I, b0 + HB);
        double amax = 0;
        for (int64_t q = b0; q < b1; ++q)
          amax = std::max(amax, std::fabs(o.h[tj * s.I + q]) * kSlack + o.h_err[tj * s.I + q] + ehr[tj * s.I + q]);
        const double fl = (hspan > 0 ? hrq.floor_per_amax * amax : 0.0) + hrq.floor_abs;
        for (int64_t q = b0; q < b1; ++q) {
          const int64_t idx = tj * s.I + q;
          const double hm = std::fabs(o.h[idx]) * kSlack + o.h_err[idx];
          ehr[idx] += hrq.rel * (hm + ehr[idx]) + fl;
          ehe[idx] += hrq.rel * (hm + ehe[idx]) + fl;
        }
      }
  }
  return ordered(n.down) ? ordered_down_bounds(c, o, n, ehr, ehe) : derive_down_bounds(c, o, n, ehr, ehe);
}

}  // namespace moecheck
