// CLI11 validators for flag values, so that a bad value is rejected where it
// is parsed (exit 2, naming the flag and the value) instead of being wrapped,
// rounded or passed on: CLI11's own conversions accept "nan", "inf" and
// "-1" into an unsigned, and saturate 2^64.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace moecheck::cli {

// A decimal integer that fits in uint64 (no sign, no wrap-around).
CLI::Validator uint64_text();
// A finite number in [lo, hi]; open_lo excludes lo itself.
CLI::Validator finite_in(double lo, double hi, bool open_lo = false);
// A finite value an fp32 holds without overflowing (|v| <= FLT_MAX).
CLI::Validator finite_fp32();
// 0 (the OpenMP default) up to this machine's hardware threads: libgomp
// crashes on tens of thousands of threads.
CLI::Validator thread_count();
int hardware_threads();

}  // namespace moecheck::cli
