// `--shard i/n`: a CI matrix splits one sweep over n runners. Shards are
// numbered 1..n (as GitHub matrices and most test runners number them); work
// item k (0-based, in the sweep's deterministic order) belongs to shard
// (k mod n) + 1, so every item is in exactly one shard and shard sizes differ
// by at most one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace moecheck {

struct Shard {
  int index = 1;  // 1..count
  int count = 1;

  bool owns(int64_t item) const { return item % count == index - 1; }
  bool whole() const { return count == 1; }
  std::string str() const { return std::to_string(index) + "/" + std::to_string(count); }
};

// Parses "i/n" with 1 <= i <= n <= 4096; throws InputError naming the flag.
Shard parse_shard(std::string_view text);

}  // namespace moecheck
