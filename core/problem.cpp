#include "core/problem.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/enum_table.hpp"
#include "core/error.hpp"

namespace moecheck {

namespace {

const std::pair<Activation, std::string_view> kActivations[] = {
    {Activation::swiglu, "swiglu"},
    {Activation::geglu, "geglu"},
    {Activation::swiglu_clamped, "swiglu_clamped"},
    {Activation::bilinear, "bilinear"},
};
const std::pair<GateUpLayout, std::string_view> kLayouts[] = {
    {GateUpLayout::concatenated, "concatenated"},
    {GateUpLayout::interleaved, "interleaved"},
};

std::string dims(const Shape& s) {
  return "T=" + std::to_string(s.T) + " H=" + std::to_string(s.H) + " I=" + std::to_string(s.I) +
         " E=" + std::to_string(s.E) + " k=" + std::to_string(s.k);
}

void check_stack(const char* name, const WeightStack& w, int64_t S, int64_t R, int64_t K) {
  const std::string n(name);
  if (w.E != S || w.R != R || w.K != K)
    throw InputError(n + " has shape (" + std::to_string(w.E) + ", " + std::to_string(w.R) + ", " +
                     std::to_string(w.K) + "), expected (" + std::to_string(S) + ", " + std::to_string(R) + ", " +
                     std::to_string(K) + ")");
  if (static_cast<int64_t>(w.data.size()) != w.data_bytes())
    throw InputError(n + " holds " + std::to_string(w.data.size()) + " bytes, expected " +
                     std::to_string(w.data_bytes()) + " for " + std::string(weight_format_name(w.format)));
  if (static_cast<int64_t>(w.scales.size()) != w.scale_bytes())
    throw InputError(n + ".scale holds " + std::to_string(w.scales.size()) + " bytes, expected " +
                     std::to_string(w.scale_bytes()) + " for " + std::string(weight_format_name(w.format)) +
                     (w.scale_bytes() && w.scales.empty() ? " (missing scales)" : ""));
  const size_t ts = w.format == WeightFormat::nvfp4 ? static_cast<size_t>(S) : 0;
  if (w.tensor_scale.size() != ts)
    throw InputError(n + ".tensor_scale has " + std::to_string(w.tensor_scale.size()) + " values, expected " +
                     std::to_string(ts));
  for (float t : w.tensor_scale)
    if (!(std::isfinite(t) && t > 0)) throw InputError(n + ".tensor_scale must be finite and positive");
}

}  // namespace

const std::vector<Preset>& shape_presets() {
  static const std::vector<Preset> presets = {
      {"qwen3-30b-a3b", 2048, 768, 128, 8, "\"8 of 128\" example of the seed"},
      {"qwen3-235b-a22b", 4096, 1536, 128, 8, ""},
      {"deepseek-v3", 7168, 2048, 256, 8, "block-128 fp8 weights in the original"},
      {"gpt-oss-120b", 2880, 2880, 128, 4, "MXFP4 weights, clamped SwiGLU"},
      {"mixtral-8x7b", 4096, 14336, 8, 2, "few large experts"},
  };
  return presets;
}

const Preset& find_preset(std::string_view name) {
  for (auto& p : shape_presets())
    if (p.name == name) return p;
  std::string known;
  for (auto& p : shape_presets()) known += (known.empty() ? "" : ", ") + std::string(p.name);
  throw InputError("unknown preset '" + std::string(name) + "' (known: " + known + ")");
}

std::string_view activation_name(Activation a) { return name_in(a, kActivations); }
Activation parse_activation(std::string_view name) { return parse_in("activation", name, kActivations); }
std::string_view layout_name(GateUpLayout l) { return name_in(l, kLayouts); }
GateUpLayout parse_layout(std::string_view name) { return parse_in("gate/up layout", name, kLayouts); }

int64_t x_elem_bytes(Format f) { return f == Format::f32 ? 4 : 2; }

int64_t Case::slot_of(int32_t expert) const {
  if (expert < 0 || expert >= shape.E) return -1;
  if (stored_experts.empty()) return expert;
  auto it = std::lower_bound(stored_experts.begin(), stored_experts.end(), expert);
  return (it != stored_experts.end() && *it == expert) ? it - stored_experts.begin() : -1;
}

double Case::x_value(int64_t t, int64_t n) const {
  const int64_t idx = t * shape.H + n;
  if (x_format == Format::f32) {
    uint32_t b;
    std::memcpy(&b, &x[idx * 4], 4);
    return decode(Format::f32, b);
  }
  return decode(x_format, x[idx * 2] | (static_cast<uint32_t>(x[idx * 2 + 1]) << 8));
}

int64_t poison_unrouted_experts(Case& c) {
  std::vector<bool> used(static_cast<size_t>(c.stored_count()), false);
  for (int32_t id : c.topk_ids) used[static_cast<size_t>(c.slot_of(id))] = true;
  int64_t n = 0;
  for (int64_t e = 0; e < c.stored_count(); ++e)
    if (!used[static_cast<size_t>(e)]) poison_expert_nan(c.w13, e), poison_expert_nan(c.w2, e), ++n;
  return n;
}

Case single_token(const Case& c, int64_t t) {
  Case s = c;
  s.shape.T = 1;
  const int64_t xb = x_elem_bytes(c.x_format) * c.shape.H;
  s.x.assign(c.x.begin() + t * xb, c.x.begin() + (t + 1) * xb);
  s.topk_ids.assign(c.topk_ids.begin() + t * c.shape.k, c.topk_ids.begin() + (t + 1) * c.shape.k);
  s.topk_weights.assign(c.topk_weights.begin() + t * c.shape.k, c.topk_weights.begin() + (t + 1) * c.shape.k);
  s.provenance.clear();
  return s;
}

void validate_shape(const Shape& s) {
  // Limits keep every index product inside int64 and every tensor allocatable.
  constexpr int64_t kMaxDim = int64_t{1} << 20;
  if (s.T < 1 || s.H < 1 || s.I < 1 || s.E < 1 || s.k < 1)
    throw InputError("every dimension must be at least 1 (" + dims(s) + ")");
  if (s.T > kMaxDim || s.H > kMaxDim || s.I > kMaxDim || s.E > kMaxDim)
    throw InputError("dimension too large (limit 2^20): " + dims(s));
  if (s.k > s.E) throw InputError("top-k exceeds the number of experts: " + dims(s));
}

void validate(const Case& c) {
  validate_without_weights(c);
  const int64_t S = c.stored_count();
  check_stack("w13", c.w13, S, 2 * c.shape.I, c.shape.H);
  check_stack("w2", c.w2, S, c.shape.H, c.shape.I);
}

void validate_without_weights(const Case& c) {
  const Shape& s = c.shape;
  validate_shape(s);
  if (c.x_format != Format::bf16 && c.x_format != Format::f16 && c.x_format != Format::f32)
    throw InputError("x format must be bf16, f16 or f32, got " + std::string(format_name(c.x_format)));
  if (c.y_format != Format::bf16 && c.y_format != Format::f16 && c.y_format != Format::f32)
    throw InputError("y format must be bf16, f16 or f32, got " + std::string(format_name(c.y_format)));
  if (static_cast<int64_t>(c.x.size()) != s.T * s.H * x_elem_bytes(c.x_format))
    throw InputError("x holds " + std::to_string(c.x.size()) + " bytes, expected (T, H) = (" + std::to_string(s.T) +
                     ", " + std::to_string(s.H) + ") of " + std::string(format_name(c.x_format)));
  if (c.act.kind == Activation::swiglu_clamped &&
      !(std::isfinite(c.act.alpha) && std::isfinite(c.act.limit) && c.act.limit > 0))
    throw InputError("clamped SwiGLU needs finite alpha and a positive finite limit");
  for (size_t i = 0; i < c.stored_experts.size(); ++i) {
    const int32_t e = c.stored_experts[i];
    if (e < 0 || e >= s.E)
      throw InputError("stored_experts[" + std::to_string(i) + "] = " + std::to_string(e) + " is outside [0, " +
                       std::to_string(s.E) + ")");
    if (i > 0 && e <= c.stored_experts[i - 1]) throw InputError("stored_experts must be strictly ascending");
  }
  if (c.w13.format != c.w2.format) throw InputError("w13 and w2 must share one weight format");
  const int64_t n = s.T * s.k;
  if (static_cast<int64_t>(c.topk_ids.size()) != n || static_cast<int64_t>(c.topk_weights.size()) != n)
    throw InputError("topk_ids and topk_weights must both be (T, k) = (" + std::to_string(s.T) + ", " +
                     std::to_string(s.k) + ")");
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t j = 0; j < s.k; ++j) {
      const int32_t e = c.id(t, j);
      const std::string at = "token " + std::to_string(t) + " slot " + std::to_string(j);
      if (e < 0 || e >= s.E)
        throw InputError("expert id " + std::to_string(e) + " at " + at + " is outside [0, " + std::to_string(s.E) + ")");
      for (int64_t j2 = 0; j2 < j; ++j2)
        if (c.id(t, j2) == e) throw InputError("expert id " + std::to_string(e) + " repeated within " + at);
      if (c.slot_of(e) < 0) throw InputError("expert " + std::to_string(e) + " at " + at + " has no stored weights");
      if (!std::isfinite(c.weight(t, j)))
        throw InputError("routing weight at " + at + " is not finite (" + std::to_string(c.weight(t, j)) + ")");
    }
}

}  // namespace moecheck
