// The kernel variant API. A variant is one way of computing the MoE layer:
// a name, a family, a numerics declaration (what the bounds are derived
// from), its claims, a support predicate that answers with a reason, a device
// entry point and, where it claims one, a bit-exact host twin.
//
// Device entry points run on the caller's stream with caller-provided
// workspace, allocate nothing, never synchronize the host and can be captured
// in a CUDA graph.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/numerics.hpp"
#include "core/problem.hpp"

struct CUstream_st;  // cudaStream_t without requiring CUDA headers

namespace moecheck {

struct Claims {
  bool deterministic = false;    // repeated runs are bitwise identical
  bool batch_invariant = false;  // a token's output does not depend on the batch
  bool host_twin = false;        // run_host equals run_device bit for bit
  // run_host evaluates the declared numerics but not in the device's exact
  // operation order (tensor-core sums): it runs on the host backend and is
  // judged within the bound like the device, with no bit-for-bit claim.
  bool host = false;
  // What the host backend may run: a twin or a bounded host evaluation.
  bool runs_on_host() const { return host_twin || host; }
};

struct Support {
  bool ok = true;
  std::string reason;  // why not, when !ok (reported as skipped)
  static Support yes() { return {}; }
  static Support no(std::string why) { return {false, std::move(why)}; }
};

// Device pointers for one call. Expert ids are storage slots (0..S-1): the
// runner remaps a case's global ids through Case::slot_of, so a kernel sees a
// dense (S, ...) weight stack and shape.E == S.
struct DeviceArgs {
  Shape shape;
  ActivationSpec act;
  GateUpLayout layout = GateUpLayout::concatenated;
  Format x_format = Format::bf16;
  Format y_format = Format::bf16;            // Case::y_format: bf16, f16 or f32
  WeightFormat weight_format = WeightFormat::bf16;
  const void* x = nullptr;                   // (T, H) x_format codes
  const void* w13 = nullptr;                 // (S, 2I, H) see core/weights.hpp
  const void* w13_scale = nullptr;
  const float* w13_tensor_scale = nullptr;   // (S) nvfp4
  const void* w2 = nullptr;                  // (S, H, I)
  const void* w2_scale = nullptr;
  const float* w2_tensor_scale = nullptr;    // (S) nvfp4
  const int32_t* topk_ids = nullptr;         // (T, k) slots
  const float* topk_weights = nullptr;       // (T, k)
  void* y = nullptr;                         // (T, H) codes of numerics().output_format (== y_format)
};

class Variant {
 public:
  virtual ~Variant() = default;
  virtual std::string name() const = 0;
  virtual std::string family() const = 0;
  virtual std::string description() const = 0;
  virtual Claims claims() const = 0;
  // The declaration may depend on the case (formats), never on its values.
  virtual Numerics numerics(const Case& c) const = 0;
  virtual Support supports(const Case& c) const = 0;
  virtual bool has_device() const = 0;
  virtual size_t workspace_bytes(const Shape& s) const = 0;
  virtual void run_device(const DeviceArgs& a, void* workspace, CUstream_st* stream) const = 0;
  // Host twin (claims().host_twin) or host evaluation (claims().host): y
  // gets (T, H) output codes, little endian.
  virtual void run_host(const Case& c, std::vector<uint8_t>& y) const = 0;
};

}  // namespace moecheck
