// The `auto` variant (auto.cpp): picks the fastest variant per (shape, T,
// weight format) from the measured crossover table in crossover.hpp.
#pragma once

#include "core/problem.hpp"
#include "core/weights.hpp"

namespace moecheck::autovariant {

// Name of the variant `auto` runs for shape s with weights in format w
// (looked up by H, I, k and w's class, then T).
const char* choose(const Shape& s, WeightFormat w);

}  // namespace moecheck::autovariant
