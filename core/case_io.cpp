#include "core/case_io.hpp"

#include <cstring>
#include <string>

#include "core/error.hpp"

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
std::vector<uint8_t> as_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

template <class T>
std::vector<T> from_bytes(const StTensor& t) {
  std::vector<T> v(t.bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), t.bytes.data(), v.size() * sizeof(T));
  return v;
}

const StTensor& need(const StFile& f, const std::string& name) {
  auto it = f.tensors.find(name);
  if (it == f.tensors.end()) throw InputError("case file has no tensor '" + name + "'");
  return it->second;
}

void expect(const StTensor& t, const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape) {
  auto str = [](const std::vector<int64_t>& s) {
    std::string r = "(";
    for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + ")";
  };
  if (t.dtype != dtype) throw InputError("tensor '" + name + "' has dtype " + t.dtype + ", expected " + dtype);
  if (t.shape != shape)
    throw InputError("tensor '" + name + "' has shape " + str(t.shape) + ", expected " + str(shape));
}

const std::string& meta(const StFile& f, const std::string& key) {
  auto it = f.metadata.find(key);
  if (it == f.metadata.end()) throw InputError("case file metadata lacks '" + key + "'");
  return it->second;
}

int64_t meta_int(const StFile& f, const std::string& key) {
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

float meta_float(const StFile& f, const std::string& key) {
  const std::string& s = meta(f, key);
  size_t used = 0;
  float v = 0;
  try {
    v = std::stof(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != s.size() || s.empty()) throw InputError("metadata '" + key + "' is not a number: '" + s + "'");
  return v;
}

std::string float_text(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}

void put_stack(StFile& f, const std::string& name, const WeightStack& w) {
  std::vector<int64_t> shape = {w.E, w.R, element_format(w.format) == Format::e2m1 ? w.row_bytes() : w.K};
  f.tensors[name] = {data_dtype(w.format), shape, w.data};
  if (has_scales(w.format)) f.tensors[name + ".scale"] = {scale_dtype(w.format), w.scale_shape(), w.scales};
  if (!w.tensor_scale.empty()) f.tensors[name + ".tensor_scale"] = {"F32", {w.E}, as_bytes(w.tensor_scale)};
}

WeightStack get_stack(const StFile& f, const std::string& name, WeightFormat fmt, int64_t S, int64_t R, int64_t K) {
  WeightStack w;
  w.format = fmt;
  w.E = S;
  w.R = R;
  w.K = K;
  const StTensor& d = need(f, name);
  expect(d, name, data_dtype(fmt), {S, R, element_format(fmt) == Format::e2m1 ? w.row_bytes() : K});
  w.data = d.bytes;
  if (has_scales(fmt)) {
    const StTensor& s = need(f, name + ".scale");
    expect(s, name + ".scale", scale_dtype(fmt), w.scale_shape());
    w.scales = s.bytes;
  } else if (f.tensors.count(name + ".scale")) {
    throw InputError("tensor '" + name + ".scale' present but " + std::string(weight_format_name(fmt)) + " has no scales");
  }
  if (fmt == WeightFormat::nvfp4) {
    const StTensor& t = need(f, name + ".tensor_scale");
    expect(t, name + ".tensor_scale", "F32", {S});
    w.tensor_scale = from_bytes<float>(t);
  }
  return w;
}

}  // namespace

StFile case_to_safetensors(const Case& c) {
  const Shape& s = c.shape;
  StFile f;
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
  f.metadata["alpha"] = float_text(c.act.alpha);
  f.metadata["limit"] = float_text(c.act.limit);
  f.metadata["layout"] = std::string(layout_name(c.layout));
  f.metadata["provenance"] = c.provenance;
  f.tensors["x"] = {x_dtype(c.x_format), {s.T, s.H}, c.x};
  f.tensors["topk_ids"] = {"I32", {s.T, s.k}, as_bytes(c.topk_ids)};
  f.tensors["topk_weights"] = {"F32", {s.T, s.k}, as_bytes(c.topk_weights)};
  if (!c.stored_experts.empty())
    f.tensors["stored_experts"] = {"I32", {static_cast<int64_t>(c.stored_experts.size())}, as_bytes(c.stored_experts)};
  put_stack(f, "w13", c.w13);
  put_stack(f, "w2", c.w2);
  return f;
}

Case case_from_safetensors(const StFile& f) {
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
  c.provenance = f.metadata.count("provenance") ? f.metadata.at("provenance") : "";
  const StTensor& x = need(f, "x");
  c.x_format = x_format_of(x.dtype);
  if (parse_format(meta(f, "x_format")) != c.x_format)
    throw InputError("metadata x_format '" + meta(f, "x_format") + "' contradicts tensor 'x' dtype " + x.dtype);
  expect(x, "x", x.dtype, {s.T, s.H});
  // Files written before the output format was a choice have no key: bf16,
  // the only output those versions wrote. validate() rejects non-output formats.
  if (auto it = f.metadata.find("y_format"); it != f.metadata.end()) c.y_format = parse_format(it->second);
  c.x = x.bytes;
  const StTensor& ids = need(f, "topk_ids");
  expect(ids, "topk_ids", "I32", {s.T, s.k});
  c.topk_ids = from_bytes<int32_t>(ids);
  const StTensor& w = need(f, "topk_weights");
  expect(w, "topk_weights", "F32", {s.T, s.k});
  c.topk_weights = from_bytes<float>(w);
  if (auto it = f.tensors.find("stored_experts"); it != f.tensors.end()) {
    if (it->second.dtype != "I32" || it->second.shape.size() != 1)
      throw InputError("tensor 'stored_experts' must be a 1-D I32 tensor");
    c.stored_experts = from_bytes<int32_t>(it->second);
    if (c.stored_experts.empty()) throw InputError("tensor 'stored_experts' is empty");
  }
  const int64_t S = c.stored_count();
  c.w13 = get_stack(f, "w13", wf, S, 2 * s.I, s.H);
  c.w2 = get_stack(f, "w2", wf, S, s.H, s.I);
  validate(c);
  return c;
}

void save_case(const std::string& path, const Case& c) {
  validate(c);
  write_safetensors(path, case_to_safetensors(c));
}

Case load_case(const std::string& path) {
  const StFile f = read_safetensors(path);
  try {
    return case_from_safetensors(f);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
}

}  // namespace moecheck
