#include "core/shard.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "core/error.hpp"

namespace moecheck {
namespace {

TEST(Shard, ParsesAndPartitionsEveryItemExactlyOnce) {
  for (int n : {1, 2, 3, 7}) {
    std::vector<int> owners(50, 0);
    for (int i = 1; i <= n; ++i) {
      const Shard s = parse_shard(std::to_string(i) + "/" + std::to_string(n));
      EXPECT_EQ(s.index, i);
      EXPECT_EQ(s.count, n);
      EXPECT_EQ(s.str(), std::to_string(i) + "/" + std::to_string(n));
      for (int k = 0; k < 50; ++k) owners[k] += s.owns(k);
    }
    for (int k = 0; k < 50; ++k) EXPECT_EQ(owners[k], 1) << "item " << k << " with n = " << n;
  }
}

TEST(Shard, RejectsMalformedWithTheFlagInTheMessage) {
  for (const char* bad : {"", "1", "/2", "1/", "0/2", "3/2", "1/0", "a/2", "1/2x", "-1/2", "1/99999", "1//2", " 1/2"}) {
    try {
      parse_shard(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("--shard"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace moecheck
