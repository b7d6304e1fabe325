// The problem model: one MoE layer call (shape, formats, activation, gate/up
// layout, routing, tensors) and its validation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/formats.hpp"
#include "core/weights.hpp"

namespace moecheck {

struct Shape {
  int64_t T = 1;  // tokens in the decode step
  int64_t H = 0;  // hidden size
  int64_t I = 0;  // expert intermediate size
  int64_t E = 0;  // experts
  int64_t k = 0;  // experts per token
};

struct Preset {
  std::string_view name;
  int64_t H, I, E, k;
  std::string_view note;
};
const std::vector<Preset>& shape_presets();
const Preset& find_preset(std::string_view name);  // throws InputError

enum class Activation : uint8_t { swiglu, geglu, swiglu_clamped, bilinear };
std::string_view activation_name(Activation a);
Activation parse_activation(std::string_view name);

struct ActivationSpec {
  Activation kind = Activation::swiglu;
  float alpha = 1.702f;  // swiglu_clamped only
  float limit = 7.0f;    // swiglu_clamped only
};

// Fused gate/up tensor (E, 2I, H): concatenated = rows [0, I) gate, [I, 2I)
// up; interleaved = row 2n gate n, row 2n+1 up n. Mixing them up is a real
// bug class, so both are first-class.
enum class GateUpLayout : uint8_t { concatenated, interleaved };
std::string_view layout_name(GateUpLayout l);
GateUpLayout parse_layout(std::string_view name);

inline int64_t gate_row(GateUpLayout l, int64_t /*I*/, int64_t n) {
  return l == GateUpLayout::concatenated ? n : 2 * n;
}
inline int64_t up_row(GateUpLayout l, int64_t I, int64_t n) {
  return l == GateUpLayout::concatenated ? I + n : 2 * n + 1;
}

struct Case {
  Shape shape;
  ActivationSpec act;
  GateUpLayout layout = GateUpLayout::concatenated;
  Format x_format = Format::bf16;       // bf16, f16 or f32
  std::vector<uint8_t> x;               // (T, H) codes of x_format, little endian
  // The format the layer call asks its output y (T, H) in: bf16, f16 or f32.
  Format y_format = Format::bf16;
  WeightStack w13;                      // (S, 2I, H) gate/up
  WeightStack w2;                       // (S, H, I) down
  std::vector<int32_t> topk_ids;        // (T, k) global expert ids
  std::vector<float> topk_weights;      // (T, k)
  // (S) ascending global ids of the experts whose weights are stored; empty
  // means all E are stored (S = E). Weights of experts no token routes to
  // need not be materialized for large presets.
  std::vector<int32_t> stored_experts;
  std::string provenance;               // JSON: generator spec and seed, for replay

  int64_t stored_count() const { return stored_experts.empty() ? shape.E : static_cast<int64_t>(stored_experts.size()); }
  // Storage slot of a global expert id, or -1 when its weights are not stored.
  int64_t slot_of(int32_t expert) const;
  double x_value(int64_t t, int64_t n) const;  // exact
  int32_t id(int64_t t, int64_t j) const { return topk_ids[t * shape.k + j]; }
  float weight(int64_t t, int64_t j) const { return topk_weights[t * shape.k + j]; }
};

// Token t of c as a one-token case: same weights and stored experts, its own
// x row and routing; the provenance is dropped (the spec no longer describes it).
Case single_token(const Case& c, int64_t t);

// Every stored expert that no token of c routes to gets NaN weights
// (poison_expert_nan): a kernel that reads an unselected expert shows it.
// Returns how many were poisoned.
int64_t poison_unrouted_experts(Case& c);

// Throws InputError with a precise message for any impossible case: k > E,
// ids out of range or repeated within a token, ids whose weights are not
// stored, non-finite routing weights, tensor sizes that do not match the
// shape, missing or mis-shaped scales, zero-sized dimensions.
void validate(const Case& c);
// All of validate() but the weight stacks' sizes and scales (a case whose
// weights are still being written).
void validate_without_weights(const Case& c);
void validate_shape(const Shape& s);

// Bytes one x (or y) element takes: 4 for f32, 2 for bf16 / f16.
int64_t x_elem_bytes(Format f);

}  // namespace moecheck
