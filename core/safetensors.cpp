#include "core/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.hpp"
#include "core/memory.hpp"
#include "core/output_path.hpp"

namespace moecheck {

namespace {

constexpr int64_t kMaxDim = int64_t{1} << 40;

// A first pass over the header with no document built, so its memory stays
// bounded: it rejects what nlohmann::json would accept (a repeated key, of
// which it keeps the last silently, which once switched swiglu to geglu),
// nesting deeper than a safetensors header has, and more tensors or values
// than any real file. (A parser callback could do the same in one pass, but
// nlohmann rescans the parent object after each nested one: quadratic in
// the tensor count.)
class StrictHeader : public nlohmann::json_sax<nlohmann::json> {
 public:
  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override { return open(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_object() override { return close(); }
  bool end_array() override { return close(); }
  bool key(string_t& k) override;
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    throw InputError(std::string("safetensors header is not valid JSON: ") + e.what());
  }

 private:
  bool value() {
    if (++values_ > kMaxHeaderValues)
      throw InputError("safetensors header holds more than " + std::to_string(kMaxHeaderValues) + " JSON values");
    return true;
  }
  bool open() {
    if (open_.size() >= static_cast<size_t>(kMaxHeaderDepth))
      throw InputError("safetensors header nests deeper than " + std::to_string(kMaxHeaderDepth) +
                       " levels (header, tensor entry, shape)");
    open_.emplace_back();
    return value();
  }
  bool close() {
    open_.pop_back();
    return true;
  }

  std::vector<std::set<std::string>> open_;  // keys seen, per open container
  std::string entry_;                        // the top-level key being parsed
  size_t values_ = 0, tensors_ = 0;
};

bool StrictHeader::key(string_t& k) {
  if (open_.size() == 1) {
    entry_ = k;
    if (k != "__metadata__" && ++tensors_ > kMaxTensors)
      throw InputError("safetensors header lists more than " + std::to_string(kMaxTensors) + " tensors");
  }
  if (!open_.back().insert(k).second) {
    const std::string where = open_.size() == 1        ? "the safetensors header"
                              : entry_ == "__metadata__" ? "__metadata__"
                                                         : "the entry of tensor '" + entry_ + "'";
    throw InputError("duplicate key '" + k + "' in " + where);
  }
  return value();
}

nlohmann::json parse_header_json(const uint8_t* begin, const uint8_t* end) {
  StrictHeader strict;
  nlohmann::json::sax_parse(begin, end, &strict);
  try {
    return nlohmann::json::parse(begin, end);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(std::string("safetensors header is not valid JSON: ") + e.what());
  }
}

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

StEntry parse_entry(const std::string& name, const nlohmann::json& entry, uint64_t dsize) {
  if (!entry.is_object()) throw InputError("tensor '" + name + "': entry is not an object");
  if (!entry.contains("dtype") || !entry["dtype"].is_string()) throw InputError("tensor '" + name + "': missing dtype");
  if (!entry.contains("shape")) throw InputError("tensor '" + name + "': missing shape");
  const auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned())
    throw InputError("tensor '" + name + "': data_offsets must be two non-negative integers");
  StEntry t;
  t.dtype = entry["dtype"].get<std::string>();
  const int64_t esize = dtype_size(t.dtype);
  const int64_t numel = checked_numel(name, entry["shape"]);
  for (auto& d : entry["shape"]) t.shape.push_back(d.get<int64_t>());
  t.begin = (*offsets)[0].get<uint64_t>();
  t.end = (*offsets)[1].get<uint64_t>();
  if (t.begin > t.end || t.end > dsize)
    throw InputError("tensor '" + name + "': data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                     ") outside the " + std::to_string(dsize) + "-byte data section");
  if (t.size() != static_cast<uint64_t>(numel * esize))
    throw InputError("tensor '" + name + "': " + std::to_string(t.size()) + " bytes for " + std::to_string(numel) +
                     " elements of " + t.dtype);
  return t;
}

// Like the reference implementation: tensors tile the data section exactly.
void check_tiling(const std::map<std::string, StEntry>& entries, uint64_t dsize) {
  std::vector<std::pair<const StEntry*, const std::string*>> spans;
  for (auto& [name, e] : entries) spans.push_back({&e, &name});
  std::sort(spans.begin(), spans.end(), [](auto& a, auto& b) {
    return a.first->begin != b.first->begin ? a.first->begin < b.first->begin : a.first->end < b.first->end;
  });
  uint64_t at = 0;
  for (auto& [e, name] : spans) {
    if (e->begin < at) throw InputError("tensor '" + *name + "' overlaps the previous tensor");
    if (e->begin > at) throw InputError("hole in the data section before tensor '" + *name + "'");
    at = e->end;
  }
  if (at != dsize) throw InputError("data section has " + std::to_string(dsize - at) + " trailing bytes no tensor covers");
}

uint64_t header_length(const uint8_t* first8, uint64_t size) {
  if (size < 8) throw InputError("not a safetensors file: " + std::to_string(size) + " bytes, need at least 8");
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | first8[i];
  if (hlen > kMaxHeaderBytes) throw InputError("safetensors header length " + std::to_string(hlen) + " exceeds 100 MB");
  if (hlen > size - 8)
    throw InputError("safetensors header length " + std::to_string(hlen) + " runs past the end of the file (" +
                     std::to_string(size) + " bytes)");
  return hlen;
}

void pread_all(int fd, uint8_t* out, uint64_t n, uint64_t at, const std::string& path) {
  while (n > 0) {
    const ssize_t got = ::pread(fd, out, std::min<uint64_t>(n, 1ull << 30), static_cast<off_t>(at));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw InputError("reading '" + path + "' failed: " + std::strerror(errno));
    if (got == 0) throw InputError("'" + path + "' ended early: it changed while being read");
    out += got, n -= static_cast<uint64_t>(got), at += static_cast<uint64_t>(got);
  }
}

std::string header_text(const StWrite& w) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!w.metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (auto& [k, v] : w.metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  uint64_t off = 0;
  for (auto& [name, t] : w.tensors) {
    int64_t numel = 1;
    for (auto d : t.shape) numel *= d;
    if (static_cast<int64_t>(t.size) != numel * dtype_size(t.dtype))
      throw std::logic_error("serialize_safetensors: tensor '" + name + "' size does not match its shape");
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {off, off + t.size}}};
    off += t.size;
  }
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');  // align the data section, as the reference does
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>(static_cast<uint64_t>(h.size()) >> (8 * i));
  return out + h;
}

// Runs `body` on PATH.tmp.<pid>, syncs it, and renames it over PATH; the
// temporary goes when anything fails, an exception from `body` included.
void write_atomic(const std::string& path, const std::function<bool(FILE*)>& body) {
  check_output_file(path, "output");  // renaming over a FIFO or a device node would replace it
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const TempFileGuard on_signal_remove(tmp);
  FILE* fp = std::fopen(tmp.c_str(), "wb");
  if (!fp) throw InputError("cannot write '" + tmp + "': " + std::strerror(errno));
  bool ok = false;
  try {
    ok = body(fp) && std::fflush(fp) == 0 && fsync(fileno(fp)) == 0;
  } catch (...) {
    std::fclose(fp);
    std::remove(tmp.c_str());
    throw;
  }
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

// A full-size case is gigabytes: say so before writing most of it.
void require_disk(const std::string& path, uint64_t bytes) {
  const std::filesystem::path dir = std::filesystem::absolute(path).parent_path();
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) != 0) return;  // the write itself will name the problem
  const uint64_t free = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (bytes > free)
    throw InputError("writing '" + path + "' needs " + byte_size_text(bytes) + " of disk space, but only " +
                     byte_size_text(free) + " is free there");
}

bool pwrite_all(int fd, const uint8_t* data, uint64_t n, uint64_t at) {
  while (n > 0) {
    const ssize_t put = ::pwrite(fd, data, std::min<uint64_t>(n, 1ull << 30), static_cast<off_t>(at));
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    data += put, n -= static_cast<uint64_t>(put), at += static_cast<uint64_t>(put);
  }
  return true;
}

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

namespace {

// The header of a file of `size` bytes whose first 8 + hlen bytes are `head`.
void parse_header(const uint8_t* head, uint64_t hlen, uint64_t size, std::map<std::string, std::string>& metadata,
                  std::map<std::string, StEntry>& entries) {
  const nlohmann::json header = parse_header_json(head + 8, head + 8 + hlen);
  if (!header.is_object()) throw InputError("safetensors header is not a JSON object");
  const uint64_t dsize = size - 8 - hlen;
  for (auto& [name, entry] : header.items()) {
    if (name != "__metadata__") {
      entries.emplace(name, parse_entry(name, entry, dsize));
      continue;
    }
    if (!entry.is_object()) throw InputError("__metadata__ is not an object");
    for (auto& [k, v] : entry.items()) {
      if (!v.is_string()) throw InputError("__metadata__ value of '" + k + "' is not a string");
      metadata[k] = v.get<std::string>();
    }
  }
  check_tiling(entries, dsize);
}

}  // namespace

StReader StReader::from_bytes(const uint8_t* data, size_t size) {
  StReader r;
  const uint64_t hlen = header_length(data, size);
  parse_header(data, hlen, size, r.metadata_, r.entries_);
  r.data_start_ = 8 + hlen;
  r.data_bytes_ = size - r.data_start_;
  r.bytes_ = data;
  return r;
}

StReader StReader::from_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw InputError("'" + path + "' is not a readable regular file: " + std::strerror(errno));
  StReader r;
  r.fd_ = std::shared_ptr<int>(new int(fd), [](int* p) { ::close(*p), delete p; });
  r.path_ = path;
  struct stat st {};
  // A FIFO or device would block or never end: only regular files are cases.
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) throw InputError("'" + path + "' is not a readable regular file");
  try {
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    uint8_t first8[8] = {};
    pread_all(fd, first8, std::min<uint64_t>(size, 8), 0, path);
    const uint64_t hlen = header_length(first8, size);
    std::vector<uint8_t> head(8 + hlen);
    pread_all(fd, head.data(), head.size(), 0, path);
    parse_header(head.data(), hlen, size, r.metadata_, r.entries_);
    r.data_start_ = 8 + hlen;
    r.data_bytes_ = size - r.data_start_;
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  return r;
}

const StEntry* StReader::find(const std::string& name) const {
  const auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

void StReader::read(const StEntry& e, uint8_t* out) const {
  if (e.size() == 0) return;
  if (bytes_)
    std::memcpy(out, bytes_ + data_start_ + e.begin, e.size());
  else
    pread_all(*fd_, out, e.size(), data_start_ + e.begin, path_);
}

void StReader::read(const std::string& name, std::vector<uint8_t>& out) const {
  const StEntry* e = find(name);
  if (!e) throw std::logic_error("StReader::read: no tensor '" + name + "'");
  out.resize(e->size());
  read(*e, out.data());
}

namespace {

StFile read_all(const StReader& r) {
  StFile f;
  f.metadata = r.metadata();
  for (auto& [name, e] : r.entries()) {
    StTensor& t = f.tensors[name];
    t.dtype = e.dtype;
    t.shape = e.shape;
    r.read(name, t.bytes);
  }
  return f;
}

}  // namespace

StFile parse_safetensors(const uint8_t* data, size_t size) { return read_all(StReader::from_bytes(data, size)); }

StFile read_safetensors(const std::string& path) {
  const StReader r = StReader::from_path(path);
  require_memory(r.data_bytes(), "reading the tensors of '" + path + "'");
  return read_all(r);
}

StWrite views_of(const StFile& f) {
  StWrite w;
  w.metadata = f.metadata;
  for (auto& [name, t] : f.tensors) w.tensors[name] = {t.dtype, t.shape, t.bytes.data(), t.bytes.size()};
  return w;
}

std::vector<uint8_t> serialize_safetensors(const StWrite& w) {
  const std::string h = header_text(w);
  std::vector<uint8_t> out(h.begin(), h.end());
  for (auto& [name, t] : w.tensors) {
    if (!t.data && t.size) throw std::logic_error("serialize_safetensors: tensor '" + name + "' has no data");
    out.insert(out.end(), t.data, t.data + t.size);
  }
  return out;
}

std::vector<uint8_t> serialize_safetensors(const StFile& f) { return serialize_safetensors(views_of(f)); }

void write_safetensors_pieces(const std::string& path, const StWrite& w,
                              const std::function<void(const StPut&)>& produce) {
  const std::string h = header_text(w);
  std::map<std::string, uint64_t> at, missing;  // file offset; bytes still to come
  uint64_t off = h.size();
  for (auto& [name, t] : w.tensors) {
    at[name] = off;
    off += t.size;
    if (!t.data) missing[name] = t.size;
  }
  require_disk(path, off);
  write_atomic(path, [&](FILE* fp) {
    const int fd = fileno(fp);
    if (!pwrite_all(fd, reinterpret_cast<const uint8_t*>(h.data()), h.size(), 0)) return false;
    for (auto& [name, t] : w.tensors)
      if (t.data && !pwrite_all(fd, t.data, t.size, at[name])) return false;
    bool ok = true;
    produce([&](const std::string& name, uint64_t offset, const uint8_t* data, size_t n) {
      const auto it = missing.find(name);
      if (it == missing.end() || offset + n > w.tensors.at(name).size || n > it->second)
        throw std::logic_error("write_safetensors_pieces: piece of '" + name + "' outside what is left to write");
      it->second -= n;
      ok = ok && pwrite_all(fd, data, n, at[name] + offset);
    });
    for (auto& [name, left] : missing)
      if (left) throw std::logic_error("write_safetensors_pieces: " + std::to_string(left) + " bytes of '" + name + "' never written");
    return ok;
  });
}

void write_safetensors(const std::string& path, const StWrite& w) {
  write_safetensors_pieces(path, w, [](const StPut&) {});
}

void write_safetensors(const std::string& path, const StFile& f) { write_safetensors(path, views_of(f)); }

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_atomic(path, [&](FILE* fp) { return std::fwrite(bytes.data(), 1, bytes.size(), fp) == bytes.size(); });
}

}  // namespace moecheck
