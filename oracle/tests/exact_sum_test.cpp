// exact_sum against an exact MPFR sum; the fast row decoder against
// WeightStack::value.
#include <gtest/gtest.h>
#include <mpfr.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/generate.hpp"
#include "oracle/exact_sum.hpp"
#include "oracle/mp.hpp"
#include "oracle/rows.hpp"
#include "oracle/tests/test_util.hpp"

namespace moecheck {
namespace {

// Doubles from bit patterns with exponents in [lo, hi]: specials excluded,
// subnormals included when lo reaches them.
rc::Gen<double> double_in(int lo, int hi) {
  return rc::gen::exec([=] {
    const int e = *rc::gen::inRange(lo, hi + 1);
    const uint64_t mant = *rc::gen::arbitrary<uint64_t>() & ((uint64_t{1} << 52) - 1);
    const bool neg = *rc::gen::arbitrary<bool>();
    double v = e < -1022 ? bits_double(mant >> std::min(52, -1022 - e)) : bits_double((uint64_t(e + 1023) << 52) | mant);
    return neg ? -v : v;
  });
}

// Exact sum in MPFR: 2300 bits cover the whole double range plus carries.
struct ExactRef {
  mpfr_t s;
  explicit ExactRef(const std::vector<double>& v) {
    mpfr_init2(s, 2300);
    mpfr_set_zero(s, 1);
    for (double d : v) mpfr_add_d(s, s, d, MPFR_RNDN);
  }
  ~ExactRef() { mpfr_clear(s); }
};

double diff_to(const ExactRef& r, const MpWide& w) {
  mpfr_t d;
  mpfr_init2(d, 2300);
  mpfr_sub(d, r.s, raw(w), MPFR_RNDN);
  const double out = std::fabs(mpfr_get_d(d, MPFR_RNDA));
  mpfr_clear(d);
  return out;
}

RC_GTEST_PROP(ExactSum, ExactOverModerateExponentRange, ()) {
  const int lo = *rc::gen::inRange(-1074, 900);
  const int hi = std::min(1000, lo + *rc::gen::inRange(0, 500));
  const auto v = *rc::gen::container<std::vector<double>>(double_in(lo, hi));
  std::vector<double> p = v;
  const ExactSum s = exact_sum(p.data(), p.size());
  MpWide w;
  const double bound = mp_from_sum(s, w);
  const ExactRef ref(v);
  RC_ASSERT(bound == 0.0);
  RC_ASSERT(diff_to(ref, w) == 0.0);
}

// Over the whole double range the result may need the bounded remainder or
// more bits than MpWide holds; the returned bound must then cover the error.
RC_GTEST_PROP(ExactSum, BoundHoldsOverTheWholeRange, ()) {
  const auto v = *rc::gen::container<std::vector<double>>(double_in(-1074, 1000));
  std::vector<double> p = v;
  const ExactSum s = exact_sum(p.data(), p.size());
  MpWide w;
  const double bound = mp_from_sum(s, w);
  const ExactRef ref(v);
  RC_ASSERT(diff_to(ref, w) <= bound);
}

// Same multiset, any order: identical levels bit for bit.
RC_GTEST_PROP(ExactSum, OrderIndependent, ()) {
  const auto v = *rc::gen::nonEmpty(rc::gen::container<std::vector<double>>(double_in(-60, 60)));
  auto w = v;
  std::mt19937 rng(*rc::gen::arbitrary<uint32_t>());
  std::shuffle(w.begin(), w.end(), rng);
  std::vector<double> a = v;
  const ExactSum x = exact_sum(a.data(), a.size()), y = exact_sum(w.data(), w.size());
  RC_ASSERT(x.levels == y.levels);
  for (int l = 0; l < x.levels; ++l) RC_ASSERT(double_bits(x.level[l]) == double_bits(y.level[l]));
}

TEST(ExactSum, NonFiniteTermsGiveNonFiniteResult) {
  std::vector<double> v{1.0, NAN, 2.0};
  const ExactSum s = exact_sum(v.data(), v.size());
  EXPECT_FALSE(s.finite);
  MpWide w;
  EXPECT_TRUE(std::isnan(mp_from_sum(s, w)));
}

TEST(ExactSum, TotalCancellationIsExactlyZero) {
  std::vector<double> v{0x1p100, 1.0, -0x1p100, 0x1p-900, -1.0, -0x1p-900};
  const ExactSum s = exact_sum(v.data(), v.size());
  MpWide w;
  EXPECT_EQ(mp_from_sum(s, w), 0.0);
  EXPECT_TRUE(mpfr_zero_p(raw(w)));
}

// The fast decoder equals WeightStack::value for every format.
RC_GTEST_PROP(Rows, DecodeRowMatchesValue, ()) {
  GenSpec spec = *test::small_spec(300, 40, 1);
  const Case c = generate_case(spec);
  for (const WeightStack* w : {&c.w13, &c.w2}) {
    std::vector<double> row(w->K);
    for (int64_t e = 0; e < w->E; ++e)
      for (int64_t r = 0; r < w->R; ++r) {
        decode_row(*w, e, r, row.data());
        for (int64_t k = 0; k < w->K; ++k) {
          const double v = w->value(e, r, k);
          MC_RC_CHECK(double_bits(row[k]) == double_bits(v) || (std::isnan(v) && std::isnan(row[k])),
                        std::string(weight_format_name(w->format)) + " e=" + std::to_string(e) +
                            " r=" + std::to_string(r) + " k=" + std::to_string(k));
        }
      }
  }
}

}  // namespace
}  // namespace moecheck
