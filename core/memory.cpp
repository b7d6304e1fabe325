#include "core/memory.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace moecheck {

int64_t available_memory() {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream s(line);
    std::string key, unit;
    int64_t kib = -1;
    if (s >> key >> kib >> unit && key == "MemAvailable:" && unit == "kB" && kib >= 0) return kib * 1024;
  }
  return -1;
}

std::string byte_size_text(uint64_t bytes) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g GB (%llu bytes)", static_cast<double>(bytes) / 1e9,
                static_cast<unsigned long long>(bytes));
  return buf;
}

void require_memory(uint64_t bytes, const std::string& what) {
  const int64_t avail = available_memory();
  if (avail >= 0 && bytes > static_cast<uint64_t>(avail))
    throw InputError(what + " needs " + byte_size_text(bytes) + " of memory, but only " +
                     byte_size_text(static_cast<uint64_t>(avail)) + " is available (MemAvailable in /proc/meminfo)");
}

}  // namespace moecheck
