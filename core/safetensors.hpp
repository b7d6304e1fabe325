// A bounded safetensors reader/writer. The reader never trusts the file: the
// header length, JSON (depth, size, duplicate keys), dtypes, shapes and
// offsets are all checked before any tensor byte is touched, and every failure
// is an InputError naming the problem. Tensors are read on demand straight
// into the caller's buffer and written straight from it, so a file is never
// held twice in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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

// A tensor's place in the data section: bytes [begin, end).
struct StEntry {
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
  uint64_t size() const { return end - begin; }
};

// Limits no real safetensors header reaches, which bound what a hostile one
// costs to reject: the reference refuses headers over 100 MB; nesting deeper
// than header object > entry object > shape array is never valid.
inline constexpr uint64_t kMaxHeaderBytes = 100ull << 20;
inline constexpr int kMaxHeaderDepth = 3;
inline constexpr size_t kMaxTensors = size_t{1} << 16;
inline constexpr size_t kMaxHeaderValues = size_t{1} << 21;

// A validated header over a file or a byte range; tensor bytes are read only
// when asked for. Copies share the open file.
class StReader {
 public:
  static StReader from_path(const std::string& path);             // throws InputError
  static StReader from_bytes(const uint8_t* data, size_t size);   // data must outlive the reader

  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::map<std::string, StEntry>& entries() const { return entries_; }
  const StEntry* find(const std::string& name) const;
  // Bytes the tensors take in all: what reading every one of them allocates.
  uint64_t data_bytes() const { return data_bytes_; }
  // Fills `out` (resized to the tensor's size) with the tensor's bytes.
  void read(const std::string& name, std::vector<uint8_t>& out) const;
  void read(const StEntry& e, uint8_t* out) const;

 private:
  std::map<std::string, std::string> metadata_;
  std::map<std::string, StEntry> entries_;
  uint64_t data_bytes_ = 0;
  uint64_t data_start_ = 0;  // offset of the data section in the file / byte range
  const uint8_t* bytes_ = nullptr;
  std::shared_ptr<int> fd_;  // closed when the last copy goes
  std::string path_;
};

int64_t dtype_size(const std::string& dtype);  // bytes per element; throws on unknown

StFile parse_safetensors(const uint8_t* data, size_t size);  // throws InputError
StFile read_safetensors(const std::string& path);            // throws InputError

// What to write: tensors by name, each pointing at memory the caller keeps
// alive until the write returns.
struct StView {
  std::string dtype;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  size_t size = 0;
};
struct StWrite {
  std::map<std::string, std::string> metadata;
  std::map<std::string, StView> tensors;
};
StWrite views_of(const StFile& f);

std::vector<uint8_t> serialize_safetensors(const StWrite& w);
std::vector<uint8_t> serialize_safetensors(const StFile& f);
// Atomic: writes PATH.tmp.<pid> then renames over PATH. Streams each tensor
// from its own memory; a view with no data is a logic error here.
void write_safetensors(const std::string& path, const StWrite& w);
// The same for a writer that makes some tensors piece by piece: tensors whose
// view has no data are left to `produce`, which writes every byte of them
// through the StPut it is given (name, offset within the tensor, bytes).
using StPut = std::function<void(const std::string& name, uint64_t offset, const uint8_t* data, size_t n)>;
void write_safetensors_pieces(const std::string& path, const StWrite& w,
                              const std::function<void(const StPut&)>& produce);
void write_safetensors(const std::string& path, const StFile& f);
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);

}  // namespace moecheck
