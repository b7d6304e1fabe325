// Work that cannot fit in memory fails at once with its size named, instead
// of a bare std::bad_alloc (or the OOM killer) later.
#include "core/memory.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "core/error.hpp"
#include "core/generate.hpp"

namespace moecheck {
namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no InputError)";
}

TEST(Memory, AvailableMemoryIsKnownOnLinux) { EXPECT_GT(available_memory(), 0); }

TEST(Memory, RequiringMoreThanAvailableNamesTheSize) {
  const std::string m = message_of([] { require_memory(uint64_t{1} << 62, "test work"); });
  EXPECT_NE(m.find("test work needs"), std::string::npos) << m;
  EXPECT_NE(m.find("4611686018427387904 bytes"), std::string::npos) << m;
  EXPECT_NE(m.find("MemAvailable"), std::string::npos) << m;
  EXPECT_NO_THROW(require_memory(1 << 20, "a megabyte"));
}

// Each dimension within validate_shape's 2^20, the whole far past any machine.
TEST(Memory, GenerateCaseH1MI1ME64BeyondMemoryNamesTheSize) {
  GenSpec s;
  s.shape = {1, 1 << 20, 1 << 20, 64, 1};
  s.storage = ExpertStorage::all;
  const std::string m = message_of([&] { generate_case(s); });
  EXPECT_NE(m.find("generating this case"), std::string::npos) << m;
  EXPECT_NE(m.find("bytes) of memory"), std::string::npos) << m;
}

TEST(Memory, GenerateCaseT1MH1MBeyondMemoryNamesTheSize) {
  GenSpec s;
  s.shape = {1 << 20, 1 << 20, 1, 1, 1};
  const std::string m = message_of([&] { generate_case(s); });
  EXPECT_NE(m.find("generating x and the routing"), std::string::npos) << m;
}

}  // namespace
}  // namespace moecheck
