#include "core/safetensors.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/output_path.hpp"

namespace moecheck {

namespace {

// The reference implementation refuses headers over 100 MB; so do we.
constexpr uint64_t kMaxHeader = 100ull << 20;
constexpr int64_t kMaxDim = int64_t{1} << 40;

int64_t checked_numel(const std::string& name, const nlohmann::json& shape) {
  if (!shape.is_array()) throw InputError("tensor '" + name + "': shape is not an array");
  int64_t n = 1;
  for (auto& d : shape) {
    if (!d.is_number_integer()) throw InputError("tensor '" + name + "': shape has a non-integer entry");
    const int64_t v = d.get<int64_t>();
    if (v < 0 || v > kMaxDim) throw InputError("tensor '" + name + "': dimension " + std::to_string(v) + " out of range");
    if (v != 0 && n > kMaxDim / v) throw InputError("tensor '" + name + "': element count overflows");
    n *= v;
  }
  return n;
}

struct Span {
  uint64_t begin, end;
  std::string name;
};

}  // namespace

int64_t dtype_size(const std::string& d) {
  static const std::pair<const char*, int64_t> table[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1}, {"F8_E8M0", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
      {"F32", 4},  {"I64", 8}, {"U64", 8}, {"F64", 8},
  };
  for (auto& [n, s] : table)
    if (d == n) return s;
  throw InputError("unknown safetensors dtype '" + d + "'");
}

StFile parse_safetensors(const uint8_t* data, size_t size) {
  if (size < 8) throw InputError("not a safetensors file: " + std::to_string(size) + " bytes, need at least 8");
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | data[i];
  if (hlen > kMaxHeader) throw InputError("safetensors header length " + std::to_string(hlen) + " exceeds 100 MB");
  if (hlen > size - 8)
    throw InputError("safetensors header length " + std::to_string(hlen) + " runs past the end of the file (" +
                     std::to_string(size) + " bytes)");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(data + 8, data + 8 + hlen);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("safetensors header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) throw InputError("safetensors header is not a JSON object");
  const uint64_t dsize = size - 8 - hlen;
  const uint8_t* base = data + 8 + hlen;
  StFile f;
  std::vector<Span> spans;
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) throw InputError("__metadata__ is not an object");
      for (auto& [k, v] : entry.items()) {
        if (!v.is_string()) throw InputError("__metadata__ value of '" + k + "' is not a string");
        f.metadata[k] = v.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object()) throw InputError("tensor '" + name + "': entry is not an object");
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) throw InputError("tensor '" + name + "': missing dtype");
    if (!entry.contains("shape")) throw InputError("tensor '" + name + "': missing shape");
    if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2 ||
        !entry["data_offsets"][0].is_number_unsigned() || !entry["data_offsets"][1].is_number_unsigned())
      throw InputError("tensor '" + name + "': data_offsets must be two non-negative integers");
    StTensor t;
    t.dtype = entry["dtype"].get<std::string>();
    const int64_t esize = dtype_size(t.dtype);
    const int64_t numel = checked_numel(name, entry["shape"]);
    for (auto& d : entry["shape"]) t.shape.push_back(d.get<int64_t>());
    const uint64_t b = entry["data_offsets"][0].get<uint64_t>(), e = entry["data_offsets"][1].get<uint64_t>();
    if (b > e || e > dsize)
      throw InputError("tensor '" + name + "': data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                       ") outside the " + std::to_string(dsize) + "-byte data section");
    if (e - b != static_cast<uint64_t>(numel * esize))
      throw InputError("tensor '" + name + "': " + std::to_string(e - b) + " bytes for " + std::to_string(numel) +
                       " elements of " + t.dtype);
    t.bytes.assign(base + b, base + e);
    spans.push_back({b, e, name});
    f.tensors.emplace(name, std::move(t));
  }
  // Like the reference implementation: tensors tile the data section exactly.
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t at = 0;
  for (auto& s : spans) {
    if (s.begin < at) throw InputError("tensor '" + s.name + "' overlaps the previous tensor");
    if (s.begin > at) throw InputError("hole in the data section before tensor '" + s.name + "'");
    at = s.end;
  }
  if (at != dsize) throw InputError("data section has " + std::to_string(dsize - at) + " trailing bytes no tensor covers");
  return f;
}

StFile read_safetensors(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw InputError("'" + path + "' is not a readable regular file");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw InputError("cannot open '" + path + "'");
  const std::streamoff n = in.tellg();
  if (n < 0) throw InputError("cannot read '" + path + "'");
  std::vector<uint8_t> buf(static_cast<size_t>(n));
  in.seekg(0);
  if (n > 0 && !in.read(reinterpret_cast<char*>(buf.data()), n)) throw InputError("cannot read '" + path + "'");
  try {
    return parse_safetensors(buf.data(), buf.size());
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
}

std::vector<uint8_t> serialize_safetensors(const StFile& f) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!f.metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (auto& [k, v] : f.metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  uint64_t off = 0;
  for (auto& [name, t] : f.tensors) {
    int64_t numel = 1;
    for (auto d : t.shape) numel *= d;
    if (static_cast<int64_t>(t.bytes.size()) != numel * dtype_size(t.dtype))
      throw std::logic_error("serialize_safetensors: tensor '" + name + "' size does not match its shape");
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.bytes.size()}}};
    off += t.bytes.size();
  }
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');  // align the data section, as the reference does
  std::vector<uint8_t> out(8 + h.size() + off);
  const uint64_t hl = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(hl >> (8 * i));
  std::memcpy(out.data() + 8, h.data(), h.size());
  uint8_t* p = out.data() + 8 + h.size();
  for (auto& [name, t] : f.tensors) {
    if (!t.bytes.empty()) std::memcpy(p, t.bytes.data(), t.bytes.size());
    p += t.bytes.size();
  }
  return out;
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  check_output_file(path, "output");  // renaming over a FIFO or a device node would replace it
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const TempFileGuard on_signal_remove(tmp);
  FILE* fp = std::fopen(tmp.c_str(), "wb");
  if (!fp) throw InputError("cannot write '" + tmp + "': " + std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), fp) == bytes.size() && std::fflush(fp) == 0 &&
                  fsync(fileno(fp)) == 0;
  const bool closed = std::fclose(fp) == 0;
  if (!ok || !closed) {
    std::remove(tmp.c_str());
    throw InputError("writing '" + tmp + "' failed: " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw InputError("cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno));
  }
}

void write_safetensors(const std::string& path, const StFile& f) { write_file_atomic(path, serialize_safetensors(f)); }

}  // namespace moecheck
