// One variant output checked against the oracle within the variant's
// rigorous bound; shared by the bench (check before timing) and the tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/variant.hpp"

namespace moecheck::bench {

// The case restricted to tokens `keep` (same weights and storage): outputs
// of a token depend only on its own x and routing.
Case token_subset(const Case& c, const std::vector<int64_t>& keep);

// First, middle and last token (distinct, ascending).
std::vector<int64_t> spread_tokens(int64_t T);

struct OracleCheck {
  bool ok = false;
  std::string message;           // "" when ok; violations and the replay spec otherwise
  std::vector<int64_t> tokens;   // tokens the oracle checked (all when empty subset)
};

// y: (T, H) output codes in v.numerics(c).output_format. Every output must be
// finite (an unwritten one keeps its NaN sentinel). max_tokens > 0 and < T:
// the oracle checks only spread_tokens(T).
OracleCheck check_against_oracle(const Variant& v, const Case& c, const std::vector<uint8_t>& y, int64_t max_tokens = 0);

}  // namespace moecheck::bench
