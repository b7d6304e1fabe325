#include "core/formats.hpp"

#include <array>
#include <string>

#include "core/error.hpp"

namespace moecheck {

namespace {
constexpr std::array<std::pair<Format, std::string_view>, 7> kNames{{
    {Format::f32, "f32"},
    {Format::bf16, "bf16"},
    {Format::f16, "f16"},
    {Format::e4m3, "e4m3"},
    {Format::e5m2, "e5m2"},
    {Format::e2m1, "e2m1"},
    {Format::e8m0, "e8m0"},
}};
}  // namespace

std::string_view format_name(Format f) {
  for (auto& [fmt, name] : kNames)
    if (fmt == f) return name;
  return "?";
}

Format parse_format(std::string_view name) {
  for (auto& [fmt, n] : kNames)
    if (n == name) return fmt;
  if (name == "fp32" || name == "float32") return Format::f32;
  if (name == "fp16" || name == "float16") return Format::f16;
  std::string known;
  for (auto& [fmt, n] : kNames) known += (known.empty() ? "" : ", ") + std::string(n);
  throw InputError("unknown number format '" + std::string(name) + "' (known: " + known + ")");
}

}  // namespace moecheck
