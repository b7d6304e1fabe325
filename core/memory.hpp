// Early, named failure for allocations the machine cannot hold: a hostile
// shape or file would otherwise end in a bare std::bad_alloc, or in the OOM
// killer, after minutes of work.
#pragma once

#include <cstdint>
#include <string>

namespace moecheck {

// Bytes the kernel reports as available without swapping (MemAvailable in
// /proc/meminfo), or -1 where that is unknown.
int64_t available_memory();

// Throws InputError naming `what`, the size and what is available when
// `bytes` exceed the available memory; does nothing where that is unknown.
void require_memory(uint64_t bytes, const std::string& what);

// "4.79 GB (4790000000 bytes)".
std::string byte_size_text(uint64_t bytes);

}  // namespace moecheck
