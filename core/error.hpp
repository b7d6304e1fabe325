// Error types with their CLI exit status: a failed check exits 1, bad usage or
// bad input exits 2. Everything user-facing throws one of these.
#pragma once

#include <stdexcept>
#include <string>

namespace moecheck {

// Malformed files, impossible shapes, out-of-range ids, bad flags: exit 2.
struct InputError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A property or accuracy check failed: exit 1.
struct CheckFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace moecheck
