// A bounded safetensors reader/writer. The reader never trusts the file: the
// header length, JSON, dtypes, shapes and offsets are all checked before any
// byte is touched, and every failure is an InputError naming the problem.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace moecheck {

struct StTensor {
  std::string dtype;            // "BF16", "F16", "F32", "F64", "I32", "U8", "F8_E4M3", ...
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;   // raw little-endian data
};

struct StFile {
  std::map<std::string, std::string> metadata;  // __metadata__ (string values)
  std::map<std::string, StTensor> tensors;
};

int64_t dtype_size(const std::string& dtype);  // bytes per element; throws on unknown

StFile parse_safetensors(const uint8_t* data, size_t size);  // throws InputError
StFile read_safetensors(const std::string& path);            // throws InputError
std::vector<uint8_t> serialize_safetensors(const StFile& f);
// Atomic: writes PATH.tmp.<pid> then renames over PATH.
void write_safetensors(const std::string& path, const StFile& f);
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace moecheck
