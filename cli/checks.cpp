#include "cli/checks.hpp"

#include <cerrno>
#include <cfloat>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <thread>

namespace moecheck::cli {
namespace {

// The whole text as a double; false for trailing characters or none.
bool parse_double(const std::string& s, double& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  errno = 0;
  v = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size();
}

std::string num(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

CLI::Validator uint64_text() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        uint64_t v = 0;
        const char* end = s.data() + s.size();
        const auto [p, ec] = std::from_chars(s.data(), end, v);
        if (s.empty() || ec == std::errc::invalid_argument || p != end)
          return "'" + s + "' is not an unsigned decimal integer";
        if (ec == std::errc::result_out_of_range) return "'" + s + "' does not fit in 64 bits (max 18446744073709551615)";
        return "";
      },
      "UINT64");
}

CLI::Validator finite_in(double lo, double hi, bool open_lo) {
  const std::string range = (open_lo ? "(" : "[") + num(lo) + ", " + num(hi) + "]";
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        double v = 0;
        if (!parse_double(s, v)) return "'" + s + "' is not a number";
        if (!std::isfinite(v)) return "'" + s + "' is not finite";
        if (v < lo || v > hi || (open_lo && v == lo)) return s + " is outside " + range;
        return "";
      },
      "FINITE in " + range);
}

CLI::Validator finite_fp32() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        double v = 0;
        if (!parse_double(s, v)) return "'" + s + "' is not a number";
        if (!std::isfinite(v)) return "'" + s + "' is not finite";
        if (std::fabs(v) > FLT_MAX) return s + " overflows fp32 (largest finite 3.40282347e+38)";
        return "";
      },
      "FP32");
}

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

CLI::Validator thread_count() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        int64_t v = 0;
        const char* end = s.data() + s.size();
        const auto [p, ec] = std::from_chars(s.data(), end, v);
        if (s.empty() || ec != std::errc() || p != end) return "'" + s + "' is not an integer";
        if (v < 0) return s + " is negative (0 picks the OpenMP default)";
        if (v > hardware_threads())
          return s + " is above this machine's " + std::to_string(hardware_threads()) + " hardware threads";
        return "";
      },
      "0.." + std::to_string(hardware_threads()));
}

}  // namespace moecheck::cli
