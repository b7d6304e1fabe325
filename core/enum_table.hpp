// Name <-> enum lookups over a static table, with the list of known names in
// the error, shared by every enum the CLI and case files spell out.
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "core/error.hpp"

namespace moecheck {

template <class Enum, size_t N>
Enum parse_in(std::string_view what, std::string_view name, const std::pair<Enum, std::string_view> (&table)[N]) {
  for (auto& [v, n] : table)
    if (n == name) return v;
  std::string known;
  for (auto& [v, n] : table) known += (known.empty() ? "" : ", ") + std::string(n);
  throw InputError("unknown " + std::string(what) + " '" + std::string(name) + "' (known: " + known + ")");
}

template <class Enum, size_t N>
std::string_view name_in(Enum e, const std::pair<Enum, std::string_view> (&table)[N]) {
  for (auto& [v, n] : table)
    if (v == e) return n;
  return "?";
}

}  // namespace moecheck
