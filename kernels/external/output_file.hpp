// The output file a kernel outside moecheck writes: safetensors with one
// tensor `y` (T, H) in bf16, f16 or f32 (`moecheck check`, worker replies).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/formats.hpp"
#include "core/problem.hpp"

namespace moecheck::external {

// The (T, H) codes of y, little endian. Throws InputError naming the file
// and the problem: unreadable, no `y`, a shape other than (T, H), or a dtype
// other than `expected` (the declared output format).
std::vector<uint8_t> read_output_file(const std::string& path, const Shape& s, Format expected);

// Writes codes of format f as tensor `y` (T, H), atomically.
void write_output_file(const std::string& path, const Shape& s, Format f, const std::vector<uint8_t>& codes);

}  // namespace moecheck::external
