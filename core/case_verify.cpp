#include "core/case_verify.hpp"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.hpp"
#include "core/float_text.hpp"
#include "core/generate.hpp"

namespace moecheck {

namespace {

GenSpec usable_spec(const Case& c) {
  if (c.provenance.empty()) throw InputError("the case has no provenance to regenerate it from");
  const nlohmann::json j = nlohmann::json::parse(c.provenance, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("generator", "") != "moecheck.generate_case/1")
    throw InputError("the provenance is not a moecheck generator spec: " + c.provenance);
  if (j.contains("fuzz_specials"))
    throw InputError("the provenance records fuzz specials applied after generation, which verify cannot replay: " +
                     c.provenance);
  return spec_from_json(c.provenance);
}

// Compares `n` bytes; on the first difference records it in units of
// `elem` bytes (an element index a reader can look up).
bool same_bytes(Verification& v, const std::string& what, const uint8_t* file, const uint8_t* regen, size_t n,
                size_t elem, int64_t first_elem = 0) {
  if (std::memcmp(file, regen, n) == 0) return true;
  size_t i = 0;
  while (file[i] == regen[i]) ++i;
  i -= i % elem;
  std::ostringstream m;
  m << what << " element " << first_elem + static_cast<int64_t>(i / elem) << ": file has 0x";
  for (size_t b = elem; b-- > 0;) m << std::hex << (file[i + b] >> 4) << (file[i + b] & 15);
  m << ", the provenance gives 0x";
  for (size_t b = elem; b-- > 0;) m << std::hex << (regen[i + b] >> 4) << (regen[i + b] & 15);
  v.equal = false;
  v.first_difference = m.str();
  return false;
}

template <class T>
bool same_vector(Verification& v, const std::string& what, const std::vector<T>& file, const std::vector<T>& regen) {
  if (file.size() != regen.size()) {
    v.equal = false;
    v.first_difference = what + ": file has " + std::to_string(file.size()) + " elements, the provenance gives " +
                         std::to_string(regen.size());
    return false;
  }
  return same_bytes(v, what, reinterpret_cast<const uint8_t*>(file.data()),
                    reinterpret_cast<const uint8_t*>(regen.data()), file.size() * sizeof(T), sizeof(T));
}

bool same_field(Verification& v, const std::string& what, const std::string& file, const std::string& regen) {
  if (file == regen) return true;
  v.equal = false;
  v.first_difference = "metadata " + what + ": file has " + file + ", the provenance gives " + regen;
  return false;
}

bool same_metadata(Verification& v, const Case& f, const Case& g) {
  auto dims = [](const Shape& s) {
    return "T=" + std::to_string(s.T) + " H=" + std::to_string(s.H) + " I=" + std::to_string(s.I) +
           " E=" + std::to_string(s.E) + " k=" + std::to_string(s.k);
  };
  return same_field(v, "shape", dims(f.shape), dims(g.shape)) &&
         same_field(v, "weight_format", std::string(weight_format_name(f.w13.format)),
                    std::string(weight_format_name(g.w13.format))) &&
         same_field(v, "x_format", std::string(format_name(f.x_format)), std::string(format_name(g.x_format))) &&
         same_field(v, "y_format", std::string(format_name(f.y_format)), std::string(format_name(g.y_format))) &&
         same_field(v, "activation", std::string(activation_name(f.act.kind)), std::string(activation_name(g.act.kind))) &&
         same_field(v, "alpha", float_exact_text(f.act.alpha), float_exact_text(g.act.alpha)) &&
         same_field(v, "limit", float_exact_text(f.act.limit), float_exact_text(g.act.limit)) &&
         same_field(v, "layout", std::string(layout_name(f.layout)), std::string(layout_name(g.layout)));
}

// Slot `slot` of the file's stack against one regenerated expert.
bool same_expert(Verification& v, const std::string& name, const WeightStack& file, int64_t slot,
                 const WeightStack& one, int32_t expert) {
  const std::string at = name + " (slot " + std::to_string(slot) + ", expert " + std::to_string(expert) + ")";
  const size_t db = one.data.size(), sb = one.scales.size();
  const size_t selem = scale_format(one.format) == Format::f32 ? 4 : 1;
  const size_t delem = std::max(1, format_bits(element_format(one.format)) / 8);  // packed e2m1: per byte
  if (!same_bytes(v, at, file.data.data() + slot * db, one.data.data(), db, delem) ||
      !same_bytes(v, name + ".scale (slot " + std::to_string(slot) + ")", file.scales.data() + slot * sb,
                  one.scales.data(), sb, selem))
    return false;
  if (one.tensor_scale.empty()) return true;
  return same_bytes(v, name + ".tensor_scale", reinterpret_cast<const uint8_t*>(&file.tensor_scale[slot]),
                    reinterpret_cast<const uint8_t*>(one.tensor_scale.data()), 4, 4, slot);
}

}  // namespace

Verification verify_case(const Case& c) {
  const GenSpec spec = usable_spec(c);
  Verification v;
  Case g = generate_case_without_weights(spec);
  // Equal metadata means equal shapes and formats, so x's sizes agree.
  if (!same_metadata(v, c, g) ||
      !same_bytes(v, "tensor x", c.x.data(), g.x.data(), g.x.size(), static_cast<size_t>(x_elem_bytes(g.x_format))) ||
      !same_vector(v, "tensor topk_ids", c.topk_ids, g.topk_ids) ||
      !same_vector(v, "tensor topk_weights", c.topk_weights, g.topk_weights) ||
      !same_vector(v, "tensor stored_experts", c.stored_experts, g.stored_experts))
    return v;
  ExpertGenerator gen(spec);
  for (int64_t slot = 0; slot < c.stored_count(); ++slot) {
    const int32_t e = c.stored_experts.empty() ? static_cast<int32_t>(slot) : c.stored_experts[slot];
    const ExpertWeights& one = gen(e);
    if (!same_expert(v, "tensor w13", c.w13, slot, one.w13, e) || !same_expert(v, "tensor w2", c.w2, slot, one.w2, e))
      return v;
    ++v.experts_compared;
  }
  return v;
}

}  // namespace moecheck
