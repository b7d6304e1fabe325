// The `auto` variant (auto.cpp): picks the fastest variant per (shape, T)
// from the measured crossover table in crossover.hpp.
#pragma once

#include "core/problem.hpp"

namespace moecheck::autovariant {

// Name of the variant `auto` runs for shape s (looked up by H, I, k, then T).
const char* choose(const Shape& s);

}  // namespace moecheck::autovariant
