// alpha and limit go into case metadata as text: every fp32 value must come
// back bit for bit, and old decimal files must still read.
#include "core/float_text.hpp"

#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>

#include "core/formats.hpp"

namespace moecheck {
namespace {

TEST(FloatText, EveryKindOfFp32RoundTripsBitForBit) {
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {1.702f, 7.0f, 1e-40f, std::numeric_limits<float>::denorm_min(), FLT_MIN, FLT_MAX, -0.0f, 0.0f,
                  std::nextafter(1.702f, 2.0f), -3.5e-42f, inf, -inf}) {
    const std::string t = float_exact_text(v);
    const std::optional<float> back = parse_float_text(t);
    ASSERT_TRUE(back.has_value()) << t;
    EXPECT_EQ(float_bits(*back), float_bits(v)) << t;
  }
  EXPECT_TRUE(std::isnan(*parse_float_text(float_exact_text(NAN))));
  EXPECT_EQ(float_exact_text(1.702f), "0x1.b3b646p+0");
}

TEST(FloatText, OldDecimalTextReadsAsTheNearestFp32) {
  EXPECT_EQ(float_bits(*parse_float_text("1.70200002")), float_bits(1.702f));
  EXPECT_EQ(float_bits(*parse_float_text("7")), float_bits(7.0f));
  // What `case new --alpha 1e-40` wrote before; std::stof rejected it (ERANGE).
  EXPECT_EQ(float_bits(*parse_float_text("9.9999461e-41")), float_bits(1e-40f));
}

TEST(FloatText, NotOneNumberOrPastFp32IsRejected) {
  for (const char* bad : {"", " 1", "1 ", "1x", "fast", "0x", "1e39", "-1e39", "1,5"})
    EXPECT_FALSE(parse_float_text(bad).has_value()) << "'" << bad << "'";
}

}  // namespace
}  // namespace moecheck
