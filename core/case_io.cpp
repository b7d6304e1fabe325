#include "core/case_io.hpp"

#include <cstring>
#include <string>

#include "core/error.hpp"
#include "core/float_text.hpp"
#include "core/generate.hpp"
#include "core/memory.hpp"

namespace moecheck {

namespace {

const char* x_dtype(Format f) {
  switch (f) {
    case Format::f32: return "F32";
    case Format::f16: return "F16";
    default: return "BF16";
  }
}

Format x_format_of(const std::string& dtype) {
  if (dtype == "F32") return Format::f32;
  if (dtype == "F16") return Format::f16;
  if (dtype == "BF16") return Format::bf16;
  throw InputError("tensor 'x' has dtype " + dtype + "; expected BF16, F16 or F32");
}

const char* data_dtype(WeightFormat f) {
  switch (element_format(f)) {
    case Format::bf16: return "BF16";
    case Format::f16: return "F16";
    case Format::e4m3: return "F8_E4M3";
    default: return "U8";  // packed e2m1 pairs
  }
}

// e8m0 and e4m3 scales are stored as U8 / F8_E4M3; fp32 scales as F32.
const char* scale_dtype(WeightFormat f) {
  switch (scale_format(f)) {
    case Format::f32: return "F32";
    case Format::e4m3: return "F8_E4M3";
    default: return "U8";
  }
}

template <class T>
StView view(const char* dtype, std::vector<int64_t> shape, const std::vector<T>& v) {
  return {dtype, std::move(shape), reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

template <class T>
std::vector<T> read_as(const StReader& f, const StEntry& t) {
  std::vector<T> v(t.size() / sizeof(T));
  f.read(t, reinterpret_cast<uint8_t*>(v.data()));
  return v;
}

const StEntry& need(const StReader& f, const std::string& name) {
  const StEntry* e = f.find(name);
  if (!e) throw InputError("case file has no tensor '" + name + "'");
  return *e;
}

void expect(const StEntry& t, const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape) {
  auto str = [](const std::vector<int64_t>& s) {
    std::string r = "(";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + ")";
  };
  if (t.dtype != dtype) throw InputError("tensor '" + name + "' has dtype " + t.dtype + ", expected " + dtype);
  if (t.shape != shape)
    throw InputError("tensor '" + name + "' has shape " + str(t.shape) + ", expected " + str(shape));
}

const std::string& meta(const StReader& f, const std::string& key) {
  auto it = f.metadata().find(key);
  if (it == f.metadata().end()) throw InputError("case file metadata lacks '" + key + "'");
  return it->second;
}

int64_t meta_int(const StReader& f, const std::string& key) {
  const std::string& s = meta(f, key);
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty()) throw InputError("metadata '" + key + "' is not an integer: '" + s + "'");
  return v;
}

float meta_float(const StReader& f, const std::string& key) {
  const std::string& s = meta(f, key);
  const std::optional<float> v = parse_float_text(s);
  if (!v) throw InputError("metadata '" + key + "' is not a number within fp32's range: '" + s + "'");
  return *v;
}

// A stack whose buffers are empty while its shape is not leaves its tensors
// without data: save_generated_case writes them expert by expert.
void put_stack(StWrite& f, const std::string& name, const WeightStack& w) {
  auto later = [](StView v, int64_t bytes) {
    if (v.size == 0) v = {v.dtype, v.shape, nullptr, static_cast<size_t>(bytes)};
    return v;
  };
  std::vector<int64_t> shape = {w.E, w.R, element_format(w.format) == Format::e2m1 ? w.row_bytes() : w.K};
  f.tensors[name] = later(view(data_dtype(w.format), shape, w.data), w.data_bytes());
  if (has_scales(w.format))
    f.tensors[name + ".scale"] = later(view(scale_dtype(w.format), w.scale_shape(), w.scales), w.scale_bytes());
  if (w.format == WeightFormat::nvfp4)
    f.tensors[name + ".tensor_scale"] = later(view("F32", {w.E}, w.tensor_scale), 4 * w.E);
}

// Checks every tensor of a stack before any is read, so a bad scale tensor
// is reported before gigabytes of weights are loaded.
WeightStack stack_entries(const StReader& f, const std::string& name, WeightFormat fmt, int64_t S, int64_t R,
                          int64_t K) {
  WeightStack w;
  w.format = fmt;
  w.E = S;
  w.R = R;
  w.K = K;
  expect(need(f, name), name, data_dtype(fmt), {S, R, element_format(fmt) == Format::e2m1 ? w.row_bytes() : K});
  if (has_scales(fmt))
    expect(need(f, name + ".scale"), name + ".scale", scale_dtype(fmt), w.scale_shape());
  else if (f.find(name + ".scale"))
    throw InputError("tensor '" + name + ".scale' present but " + std::string(weight_format_name(fmt)) + " has no scales");
  if (fmt == WeightFormat::nvfp4) expect(need(f, name + ".tensor_scale"), name + ".tensor_scale", "F32", {S});
  return w;
}

void read_stack(const StReader& f, const std::string& name, WeightStack& w) {
  f.read(name, w.data);
  if (has_scales(w.format)) f.read(name + ".scale", w.scales);
  if (w.format == WeightFormat::nvfp4) w.tensor_scale = read_as<float>(f, need(f, name + ".tensor_scale"));
}

// What loading costs before any tensor is read: every tensor a case uses,
// since the reader fills the case's own buffers and keeps no other copy.
void require_memory_for(const StReader& f) {
  uint64_t bytes = 0;
  for (const char* n : {"x", "topk_ids", "topk_weights", "stored_experts", "w13", "w13.scale", "w13.tensor_scale",
                        "w2", "w2.scale", "w2.tensor_scale"})
    if (const StEntry* e = f.find(n)) bytes += e->size();
  require_memory(bytes, "loading this case");
}

}  // namespace

StWrite case_views(const Case& c) {
  const Shape& s = c.shape;
  StWrite f;
  f.metadata["moecheck.version"] = std::to_string(kCaseFileVersion);
  f.metadata["T"] = std::to_string(s.T);
  f.metadata["H"] = std::to_string(s.H);
  f.metadata["I"] = std::to_string(s.I);
  f.metadata["E"] = std::to_string(s.E);
  f.metadata["k"] = std::to_string(s.k);
  f.metadata["weight_format"] = std::string(weight_format_name(c.w13.format));
  f.metadata["x_format"] = std::string(format_name(c.x_format));
  f.metadata["y_format"] = std::string(format_name(c.y_format));
  f.metadata["activation"] = std::string(activation_name(c.act.kind));
  f.metadata["alpha"] = float_exact_text(c.act.alpha);
  f.metadata["limit"] = float_exact_text(c.act.limit);
  f.metadata["layout"] = std::string(layout_name(c.layout));
  f.metadata["provenance"] = c.provenance;
  f.tensors["x"] = view(x_dtype(c.x_format), {s.T, s.H}, c.x);
  f.tensors["topk_ids"] = view("I32", {s.T, s.k}, c.topk_ids);
  f.tensors["topk_weights"] = view("F32", {s.T, s.k}, c.topk_weights);
  if (!c.stored_experts.empty())
    f.tensors["stored_experts"] = view("I32", {static_cast<int64_t>(c.stored_experts.size())}, c.stored_experts);
  put_stack(f, "w13", c.w13);
  put_stack(f, "w2", c.w2);
  return f;
}

std::vector<uint8_t> serialize_case(const Case& c) { return serialize_safetensors(case_views(c)); }

Case case_from_safetensors(const StReader& f) {
  const int64_t version = meta_int(f, "moecheck.version");
  if (version != kCaseFileVersion)
    throw InputError("case file version " + std::to_string(version) + " is not supported (this build reads " +
                     std::to_string(kCaseFileVersion) + ")");
  Case c;
  c.shape = {meta_int(f, "T"), meta_int(f, "H"), meta_int(f, "I"), meta_int(f, "E"), meta_int(f, "k")};
  validate_shape(c.shape);
  const Shape& s = c.shape;
  const WeightFormat wf = parse_weight_format(meta(f, "weight_format"));
  c.act.kind = parse_activation(meta(f, "activation"));
  c.act.alpha = meta_float(f, "alpha");
  c.act.limit = meta_float(f, "limit");
  c.layout = parse_layout(meta(f, "layout"));
  c.provenance = f.metadata().count("provenance") ? f.metadata().at("provenance") : "";
  const StEntry& x = need(f, "x");
  c.x_format = x_format_of(x.dtype);
  if (parse_format(meta(f, "x_format")) != c.x_format)
    throw InputError("metadata x_format '" + meta(f, "x_format") + "' contradicts tensor 'x' dtype " + x.dtype);
  expect(x, "x", x.dtype, {s.T, s.H});
  // Files written before the output format was a choice have no key: bf16,
  // the only output those versions wrote. validate() rejects non-output formats.
  if (auto it = f.metadata().find("y_format"); it != f.metadata().end()) c.y_format = parse_format(it->second);
  const StEntry& ids = need(f, "topk_ids");
  expect(ids, "topk_ids", "I32", {s.T, s.k});
  const StEntry& w = need(f, "topk_weights");
  expect(w, "topk_weights", "F32", {s.T, s.k});
  require_memory_for(f);
  f.read("x", c.x);
  c.topk_ids = read_as<int32_t>(f, ids);
  c.topk_weights = read_as<float>(f, w);
  if (const StEntry* st = f.find("stored_experts")) {
    if (st->dtype != "I32" || st->shape.size() != 1) throw InputError("tensor 'stored_experts' must be a 1-D I32 tensor");
    c.stored_experts = read_as<int32_t>(f, *st);
    if (c.stored_experts.empty()) throw InputError("tensor 'stored_experts' is empty");
  }
  const int64_t S = c.stored_count();
  c.w13 = stack_entries(f, "w13", wf, S, 2 * s.I, s.H);
  c.w2 = stack_entries(f, "w2", wf, S, s.H, s.I);
  read_stack(f, "w13", c.w13);
  read_stack(f, "w2", c.w2);
  validate(c);
  return c;
}

void save_case(const std::string& path, const Case& c) {
  validate(c);
  write_safetensors(path, case_views(c));
}

void save_generated_case(const std::string& path, const GenSpec& spec, Case* head) {
  Case c = generate_case_without_weights(spec);
  const int64_t S = c.stored_count();
  c.w13.E = S;
  c.w2.E = S;
  validate_without_weights(c);
  std::vector<float> ts13, ts2;  // nvfp4's per-expert scales, written last
  ExpertGenerator gen(spec);     // checks one expert's memory before the file is started
  write_safetensors_pieces(path, case_views(c), [&](const StPut& put) {
    for (int64_t slot = 0; slot < S; ++slot) {
      const ExpertWeights& one = gen(c.stored_experts.empty() ? static_cast<int32_t>(slot) : c.stored_experts[slot]);
      for (auto [name, w] : {std::pair{"w13", &one.w13}, std::pair{"w2", &one.w2}}) {
        put(name, slot * w->data.size(), w->data.data(), w->data.size());
        if (!w->scales.empty())
          put(std::string(name) + ".scale", slot * w->scales.size(), w->scales.data(), w->scales.size());
      }
      if (spec.weights == WeightFormat::nvfp4) {
        ts13.push_back(one.w13.tensor_scale[0]);
        ts2.push_back(one.w2.tensor_scale[0]);
      }
    }
    if (spec.weights != WeightFormat::nvfp4) return;
    put("w13.tensor_scale", 0, reinterpret_cast<const uint8_t*>(ts13.data()), 4 * ts13.size());
    put("w2.tensor_scale", 0, reinterpret_cast<const uint8_t*>(ts2.data()), 4 * ts2.size());
  });
  if (head) *head = std::move(c);
}

Case load_case(const std::string& path) {
  const StReader f = StReader::from_path(path);
  try {
    return case_from_safetensors(f);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
}

}  // namespace moecheck
