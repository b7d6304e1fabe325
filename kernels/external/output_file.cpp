#include "kernels/external/output_file.hpp"

#include "core/error.hpp"
#include "core/safetensors.hpp"

namespace moecheck::external {
namespace {

std::string dtype_of(Format f) {
  switch (f) {
    case Format::bf16: return "BF16";
    case Format::f16: return "F16";
    case Format::f32: return "F32";
    default: throw InputError("output format must be bf16, f16 or f32, got " + std::string(format_name(f)));
  }
}

std::string shape_text(const std::vector<int64_t>& v) {
  std::string s = "(";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
  return s + ")";
}

}  // namespace

std::vector<uint8_t> read_output_file(const std::string& path, const Shape& s, Format expected) {
  const StFile f = read_safetensors(path);
  auto it = f.tensors.find("y");
  if (it == f.tensors.end()) {
    std::string have;
    for (const auto& [name, t] : f.tensors) have += (have.empty() ? "" : ", ") + name;
    throw InputError("output " + path + ": no tensor 'y' (has: " + (have.empty() ? "none" : have) + ")");
  }
  const StTensor& y = it->second;
  const std::vector<int64_t> want = {s.T, s.H};
  if (y.shape != want)
    throw InputError("output " + path + ": y has shape " + shape_text(y.shape) + ", the case needs " +
                     shape_text(want) + " (T, H)");
  if (y.dtype != dtype_of(expected))
    throw InputError("output " + path + ": y is " + y.dtype + " but the declared output format is " +
                     std::string(format_name(expected)) + " (" + dtype_of(expected) + ")");
  return y.bytes;
}

void write_output_file(const std::string& path, const Shape& s, Format f, const std::vector<uint8_t>& codes) {
  StFile file;
  file.tensors["y"] = StTensor{dtype_of(f), {s.T, s.H}, codes};
  write_safetensors(path, file);
}

}  // namespace moecheck::external
