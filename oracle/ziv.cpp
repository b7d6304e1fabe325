#include "oracle/ziv.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "oracle/exact_sum.hpp"
#include "oracle/mp.hpp"
#include "oracle/rows.hpp"
#include "oracle/up.hpp"
#include "oracle/vec.hpp"

namespace moecheck {
namespace {

// Activation precisions tried in turn: 2^-804 relative still fits a double
// bound, and reaches |y| down to ~2^-690 of the grouped condition.
constexpr int kLevels[] = {402, 804};
// ue = clamp(u) + 1 is exact at this precision unless |u| < ~2^-1300.
constexpr mpfr_prec_t kFactorBits = 2400;
// Class coefficients sum products w_j D ue (up to kFactorBits + 77 bits, the
// products spanning ~450 binades): exact at this precision in practice; a
// rounding is bounded all the same (class_coefs).
constexpr mpfr_prec_t kCoefBits = 4000;
// Tried first: coefficients of a few short terms are exact at this
// precision, and an add costs in proportion to the precision.
constexpr mpfr_prec_t kShortCoefBits = 320;

struct MpVec {  // MPFR values with their lifetime
  std::vector<__mpfr_struct> a;
  MpVec(size_t n, mpfr_prec_t p) : a(n) {
    for (auto& f : a) mpfr_init2(&f, p);
  }
  ~MpVec() {
    for (auto& f : a) mpfr_clear(&f);
  }
  MpVec(const MpVec&) = delete;
  MpVec& operator=(const MpVec&) = delete;
  mpfr_ptr operator[](size_t i) { return &a[i]; }
};

bool needs(const OracleResult& o, int64_t idx) {
  const double y = std::fabs(o.y_hi[idx]), e = o.err[idx];
  if (!std::isfinite(y) || !(e > 0)) return false;  // not finite, or exact already
  if (y == 0) return true;
  // Below 2^-916 y_lo is subnormal: the double-double holds fewer bits.
  return y >= 0x1p-916 && e > std::ldexp(y, -kZivTargetBits);
}

// Exact gate/up values of one token, (k, I), written h = F(ge) ue with ge
// the activation's gate input (g; min(g, limit) clamped) and ue its factor
// (u; clamp(u) + 1 clamped; u bilinear, F(g) = g): terms with equal ge form
// one class, which shares one F.
struct TokenTerms {
  MpVec ge, ue;
  bool exact = true;      // every g, u exact (the bounded remainder never used)
  std::vector<int> cls;   // class of each term
  int classes = 0;
  std::vector<int> rep;   // one term of each class
  // Terms sorted by (ge, ue); sub_begin[m] is where run m of equal (ge, ue)
  // starts in ord (plus the end): a run's coefficient is ue sum w_j D.
  std::vector<int> ord, sub_begin;
  mpfr_prec_t prod_bits = 2;  // holds any ue times a double exactly
  explicit TokenTerms(size_t n) : ge(n, wide_precision_bits()), ue(n, kFactorBits), cls(n) {}
};

double exact_row_dot(const Case& c, int64_t slot, int64_t row, const double* x, std::vector<double>& w,
                     std::vector<double>& prod, mpfr_ptr out) {
  const int64_t H = c.shape.H;
  decode_row(c.w13, slot, row, w.data());
  int64_t mb = 0;
  mul_into(w.data(), x, prod.data(), H, mb);
  two_prod_err(w.data(), x, prod.data(), prod.data() + H, H, mb);  // zeros where the products are exact
  MpWide v;
  const double e = mp_from_sum(exact_sum(prod.data(), 2 * H), v);
  return e + (mpfr_set(out, raw(v), MPFR_RNDN) != 0);  // nonzero: not exact
}

// ge, ue of one term from its exact g, u; false if ue = clamp(u) + 1 was inexact.
bool effective(const ActivationSpec& a, mpfr_ptr g, mpfr_ptr u) {
  if (a.kind != Activation::swiglu_clamped) return true;
  const double lim = a.limit;
  if (mpfr_cmp_d(g, lim) > 0) mpfr_set_d(g, lim, MPFR_RNDN);
  if (mpfr_cmp_d(u, lim) > 0) mpfr_set_d(u, lim, MPFR_RNDN);
  if (mpfr_cmp_d(u, -lim) < 0) mpfr_set_d(u, -lim, MPFR_RNDN);
  return mpfr_add_ui(u, u, 1, MPFR_RNDN) == 0;
}

void token_terms(const Case& c, const double* x, int64_t t, TokenTerms& tt) {
  const Shape& s = c.shape;
  const int64_t KI = s.k * s.I;
  int inexact = 0;
#pragma omp parallel reduction(+ : inexact)
  {
    std::vector<double> w(s.H), prod(2 * s.H);
#pragma omp for schedule(dynamic, 8)
    for (int64_t q = 0; q < KI; ++q) {
      const int64_t j = q / s.I, n = q % s.I, slot = c.slot_of(c.id(t, j));
      const double eg = exact_row_dot(c, slot, gate_row(c.layout, s.I, n), x, w, prod, tt.ge[q]);
      const double eu = exact_row_dot(c, slot, up_row(c.layout, s.I, n), x, w, prod, tt.ue[q]);
      inexact += !(eg == 0 && eu == 0 && effective(c.act, tt.ge[q], tt.ue[q]));
      // Down to the bits they use (exact): the coefficient products and sums stay short.
      mpfr_prec_round(tt.ge[q], std::max<mpfr_prec_t>(mpfr_min_prec(tt.ge[q]), 2), MPFR_RNDN);
      mpfr_prec_round(tt.ue[q], std::max<mpfr_prec_t>(mpfr_min_prec(tt.ue[q]), 2), MPFR_RNDN);
    }
  }
  tt.exact = inexact == 0;
  if (!tt.exact) return;
  for (int64_t q = 0; q < KI; ++q) tt.prod_bits = std::max(tt.prod_bits, mpfr_get_prec(tt.ue[q]) + 53);
  std::vector<int>& ord = tt.ord;
  ord.resize(KI);
  std::iota(ord.begin(), ord.end(), 0);
  std::sort(ord.begin(), ord.end(), [&](int a, int b) {
    const int cg = mpfr_cmp(tt.ge[a], tt.ge[b]);
    return cg != 0 ? cg < 0 : mpfr_cmp(tt.ue[a], tt.ue[b]) < 0;
  });
  for (int64_t r = 0; r < KI; ++r) {
    const int q = ord[r], p = r > 0 ? ord[r - 1] : -1;
    const bool same = p >= 0 && mpfr_equal_p(tt.ge[q], tt.ge[p]);
    if (!same) tt.rep.push_back(q);
    tt.cls[q] = same ? tt.cls[p] : tt.classes++;
    if (!same || !mpfr_equal_p(tt.ue[q], tt.ue[p])) tt.sub_begin.push_back(static_cast<int>(r));
  }
  tt.sub_begin.push_back(static_cast<int>(KI));
}

// e (m nonoverlapping doubles, increasing magnitude, no zeros) += b, exactly
// (Shewchuk's Grow-Expansion with zero elimination); returns the new length.
int grow_expansion(double* e, int m, double b) {
  int k = 0;
  double q = b;
  for (int i = 0; i < m; ++i) {
    const double s = q + e[i], bv = s - q, err = (q - (s - bv)) + (e[i] - bv);
    q = s;
    if (err != 0) e[k++] = err;
  }
  if (q != 0) e[k++] = q;
  return k;
}

enum class Coefs { zero, nonzero, inexact };

// coef[class] = sum of w_j D_j[i, n] ue over the class's terms at coef's
// precision: per run of equal (ge, ue), sum w_j D exactly in doubles (an
// expansion; empty for a structural cancellation, the common case here),
// then ue times its components in MPFR. With cerr: cerr[class] bounds the
// rounding; without, `inexact` when a sum rounded. `zero` when every
// coefficient is exactly 0: y is then exactly 0.
Coefs class_coefs(const Case& c, TokenTerms& tt, int64_t t, int64_t i, std::vector<double>& d,
                  std::vector<double>& ex, MpVec& coef, std::vector<double>* cerr) {
  const Shape& s = c.shape;
  for (int64_t j = 0; j < s.k; ++j) decode_row(c.w2, c.slot_of(c.id(t, j)), i, &d[j * s.I]);
  for (int k = 0; k < tt.classes; ++k) mpfr_set_zero(coef[k], 1);
  if (cerr) cerr->assign(tt.classes, 0);
  MpVec prod(1, tt.prod_bits);
  bool all_exact = true, any = false;
  for (size_t m = 0; m + 1 < tt.sub_begin.size(); ++m) {
    int len = 0;
    for (int r = tt.sub_begin[m]; r < tt.sub_begin[m + 1]; ++r) {
      const int q = tt.ord[r];
      const double w = static_cast<double>(c.weight(t, q / s.I)), p = w * d[q];
      len = grow_expansion(ex.data(), len, p);
      len = grow_expansion(ex.data(), len, std::fma(w, d[q], -p));  // exact: products are far from underflow
    }
    const int q = tt.ord[tt.sub_begin[m]], k = tt.cls[q];
    for (int l = 0; l < len; ++l) {
      any = true;
      mpfr_mul_d(prod[0], tt.ue[q], ex[l], MPFR_RNDN);  // exact: ue's bits + 53
      if (mpfr_add(coef[k], coef[k], prod[0], MPFR_RNDN) != 0) {
        if (!cerr) return Coefs::inexact;
        all_exact = false;
        // Half an ulp at precision pc, <= |coef| 2^(1 - pc): that product may
        // underflow a double, hence the step up.
        const int pc = static_cast<int>(mpfr_get_prec(coef[k]));
        const double half_ulp = std::ldexp(std::fabs(mpfr_get_d(coef[k], MPFR_RNDA)), 1 - pc);
        (*cerr)[k] = add_up((*cerr)[k], std::nextafter(half_ulp, INFINITY));
      }
    }
  }
  if (!any) return Coefs::zero;
  for (int k = 0; k < tt.classes; ++k)
    if (!mpfr_zero_p(coef[k])) return Coefs::nonzero;
  return all_exact ? Coefs::zero : Coefs::nonzero;
}

// y = sum coef F at precision p + 64 with its bound; true when it meets the target.
bool refine_one(MpVec& coef, const std::vector<double>& cerr, MpVec& f, const std::vector<double>& ferr, int classes,
                int p, OracleResult& o, int64_t idx) {
  MpVec terms(classes, 2), y(1, p + 64);
  std::vector<mpfr_ptr> ptr(classes);
  double bound = 0;
  for (int k = 0; k < classes; ++k) {
    mpfr_set_prec(terms[k], mpfr_get_prec(coef[k]) + mpfr_get_prec(f[k]));
    mpfr_mul(terms[k], coef[k], f[k], MPFR_RNDN);  // exact
    ptr[k] = terms[k];
    const double cmag = std::fabs(mpfr_get_d(coef[k], MPFR_RNDA)), fmag = std::fabs(mpfr_get_d(f[k], MPFR_RNDA));
    // |c F - c~ F~| <= |c~| eF + eC (|F~| + eF)
    bound = add_up(bound, add_up(mul_up(cmag, ferr[k]), mul_up(cerr[k], add_up(fmag, ferr[k]))));
  }
  if (mpfr_sum(y[0], ptr.data(), classes, MPFR_RNDN) != 0)  // rounded once: half an ulp at p + 64 bits
    bound = add_up(bound, mul_up(std::fabs(mpfr_get_d(y[0], MPFR_RNDA)), std::ldexp(1.0, -(p + 63))));
  double hi, lo;
  const double err = add_up(bound, split_double_double(y[0], hi, lo));
  if (!(err < o.err[idx])) return false;
  o.y_hi[idx] = hi;
  o.y_lo[idx] = lo;
  o.err[idx] = err;
  return !needs(o, idx);
}

void refine_token(const Case& c, const double* x, int64_t t, std::vector<int64_t> todo, OracleResult& o) {
  const Shape& s = c.shape;
  TokenTerms tt(static_cast<size_t>(s.k * s.I));
  token_terms(c, x, t, tt);
  if (!tt.exact) return;  // never seen: the fast path's bound stands
  MpVec unit(1, 2);
  mpfr_set_ui(unit[0], c.act.kind == Activation::swiglu_clamped ? 0 : 1, MPFR_RNDN);  // F(g) = act(g, unit)
  for (const int p : kLevels) {
    if (todo.empty()) return;
    MpVec f(tt.classes, p);
    std::vector<double> ferr(tt.classes);
    for (int k = 0; k < tt.classes; ++k) ferr[k] = activation_at(c.act, tt.ge[tt.rep[k]], unit[0], 0, 0, f[k]);
    std::vector<char> done(todo.size(), 0);
#pragma omp parallel
    {
      std::vector<double> d(s.k * s.I), cerr(tt.classes, 0), ex(2 * s.k * s.I + 1);
      MpVec short_coef(tt.classes, kShortCoefBits), long_coef(tt.classes, kCoefBits);
#pragma omp for schedule(dynamic, 1)
      for (size_t r = 0; r < todo.size(); ++r) {
        const int64_t idx = todo[r];
        MpVec* coef = &short_coef;
        Coefs k = class_coefs(c, tt, t, idx % s.H, d, ex, short_coef, nullptr);
        if (k == Coefs::inexact) k = class_coefs(c, tt, t, idx % s.H, d, ex, *(coef = &long_coef), &cerr);
        if (k == Coefs::zero) {
          o.y_hi[idx] = o.y_lo[idx] = o.err[idx] = 0;
          done[r] = 1;
          continue;
        }
        done[r] = refine_one(*coef, coef == &long_coef ? cerr : std::vector<double>(tt.classes, 0), f, ferr,
                             tt.classes, p, o, idx);
      }
    }
    std::vector<int64_t> left;
    for (size_t r = 0; r < todo.size(); ++r)
      if (!done[r]) left.push_back(todo[r]);
    todo.swap(left);
  }
}

}  // namespace

void refine_outputs(const Case& c, const std::vector<double>& x, OracleResult& o) {
  const Shape& s = c.shape;
  for (int64_t t = 0; t < s.T; ++t) {
    std::vector<int64_t> todo;
    for (int64_t i = 0; i < s.H; ++i)
      if (needs(o, t * s.H + i)) todo.push_back(t * s.H + i);
    if (!todo.empty()) refine_token(c, &x[t * s.H], t, std::move(todo), o);
  }
}

}  // namespace moecheck
