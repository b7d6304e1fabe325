// A case file's provenance is a claim: the generator spec said to have made
// it. verify_case regenerates the case from that spec and compares it with
// the file, metadata and tensor by tensor, one expert at a time, so checking
// a full-size case costs its own size plus one expert.
#pragma once

#include <string>

#include "core/problem.hpp"

namespace moecheck {

struct Verification {
  bool equal = true;
  std::string first_difference;  // where and what, when !equal
  int64_t experts_compared = 0;
};

// Throws InputError when the provenance is absent, not a generator spec, or
// records changes made after generation (fuzz specials).
Verification verify_case(const Case& c);

}  // namespace moecheck
