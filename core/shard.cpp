#include "core/shard.hpp"

#include <charconv>

#include "core/error.hpp"

namespace moecheck {
namespace {

constexpr int kMaxShards = 4096;

bool parse_int(std::string_view s, int& v) {
  if (s.empty() || s.size() > 6) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

Shard parse_shard(std::string_view text) {
  const std::string shown(text);
  const size_t slash = text.find('/');
  Shard s;
  if (slash == std::string_view::npos || !parse_int(text.substr(0, slash), s.index) ||
      !parse_int(text.substr(slash + 1), s.count))
    throw InputError("--shard wants i/n (shard i of n, numbered from 1), got '" + shown + "'");
  if (s.count < 1 || s.count > kMaxShards)
    throw InputError("--shard " + shown + ": n must be 1.." + std::to_string(kMaxShards));
  if (s.index < 1 || s.index > s.count)
    throw InputError("--shard " + shown + ": i must be 1.." + std::to_string(s.count) + " (shards are numbered from 1)");
  return s;
}

}  // namespace moecheck
