// libFuzzer harness for the case loader: bytes -> StReader (header checks)
// -> case_from_safetensors, and the generic parse_safetensors. Rejecting input with an InputError is the expected
// outcome; any other exception, a crash, a sanitizer report, a leak or a hang
// is a finding.
#include <cstddef>
#include <cstdint>

#include "core/case_io.hpp"
#include "core/error.hpp"
#include "core/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const moecheck::StFile f = moecheck::parse_safetensors(data, size);
    const moecheck::Case c = moecheck::case_from_safetensors(moecheck::StReader::from_bytes(data, size));
    // A case that validates must also survive the accessors the oracle uses.
    volatile double sink = 0;
    for (int64_t t = 0; t < c.shape.T; ++t)
      for (int64_t j = 0; j < c.shape.k; ++j) {
        const int64_t slot = c.slot_of(c.id(t, j));
        sink = sink + c.w13.value(slot, 0, 0) + c.w2.value(slot, c.shape.H - 1, c.shape.I - 1);
      }
    sink = sink + c.x_value(c.shape.T - 1, c.shape.H - 1);
    (void)sink;
  } catch (const moecheck::InputError&) {
  }
  return 0;
}
