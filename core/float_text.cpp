#include "core/float_text.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace moecheck {

std::string float_exact_text(float v) {
  if (std::isnan(v)) return "nan";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%a", static_cast<double>(v));  // exact: every float is a double
  return buf;
}

std::optional<float> parse_float_text(const std::string& s) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0]))) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  const float v = std::strtof(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  // ERANGE with a finite result is underflow: strtof still returns the
  // correctly rounded subnormal (or zero), which is the value meant.
  if (errno == ERANGE && std::isinf(v)) return std::nullopt;
  return v;
}

}  // namespace moecheck
