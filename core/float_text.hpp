// fp32 values as text that reads back to the same value: metadata and
// provenance hold alpha and limit this way, so an independent reader recovers
// the exact fp32 value the oracle uses.
#pragma once

#include <optional>
#include <string>

namespace moecheck {

// C99 hex-float of the exact value ("0x1.b3b646p+0" for 1.702f), or "nan",
// "inf", "-inf".
std::string float_exact_text(float v);

// The fp32 value of a hex-float or decimal text (correctly rounded, subnormals
// included), or nullopt where the text is not one number or overflows fp32.
std::optional<float> parse_float_text(const std::string& s);

}  // namespace moecheck
