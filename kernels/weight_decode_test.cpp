// The installed weight decoders read every format as core/weights.hpp
// defines it: W::at is the exact dequantized value rounded to fp32 once per
// declared rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/generate.hpp"
#include "kernels/weight_decode.hpp"

namespace moecheck {
namespace {

TEST(WeightDecode, EveryFormatMatchesTheStacksValue_E2_R130_K70) {
  for (WeightFormat f : all_weight_formats()) {
    GenSpec s;
    s.shape = {1, 70, 65, 2, 1};  // w13: (2, 130, 70), past one 128-row block
    s.weights = f;
    s.seed = 11;
    const Case c = generate_case(s);
    const WeightStack& w = c.w13;
    const auto* ts = w.tensor_scale.empty() ? nullptr : w.tensor_scale.data();
    int64_t checked = 0;
    weight_decode::with_weight_format(f, [&](auto d) {
      using W = decltype(d);
      for (int64_t e = 0; e < w.E; ++e)
        for (int64_t r = 0; r < w.R; ++r) {
          const auto row = W::row(w.data.data(), w.scales.data(), ts, e, w.R, w.K, r);
          for (int64_t k = 0; k < w.K; ++k, ++checked) {
            const float got = W::at(row, k);
            // nvfp4: fl(e * fl(s * ts)); the others round e * s (exact in double) once, or not at all.
            float want = static_cast<float>(w.value(e, r, k));
            if (f == WeightFormat::nvfp4)
              want = static_cast<float>(decode(element_format(f), w.code(e, r, k))) *
                     static_cast<float>(w.scale(e, r, k));
            ASSERT_TRUE(got == want || (std::isnan(got) && std::isnan(want)))
                << weight_format_name(f) << " e=" << e << " r=" << r << " k=" << k << ": " << got << " vs " << want;
          }
        }
    });
    EXPECT_EQ(checked, w.E * w.R * w.K) << weight_format_name(f);
    EXPECT_EQ(weight_decode::roundings(f), f == WeightFormat::nvfp4 ? 2 : (f == WeightFormat::fp8_channel || f == WeightFormat::fp8_block128) ? 1 : 0);
  }
}

}  // namespace
}  // namespace moecheck
