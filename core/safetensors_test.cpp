// The safetensors container and the case loader on hostile input: every file
// of core/testdata/malformed (written by make_malformed.py) must be rejected
// with an InputError naming its defect, every file of core/testdata/valid
// must load, and no prefix or byte-flip of a valid file may do anything but
// load or throw InputError. Plus exact round trips of generated cases.
#include "core/safetensors.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "core/case_io.hpp"
#include "core/error.hpp"
#include "core/float_text.hpp"
#include "core/generate.hpp"

#ifndef MOECHECK_TESTDATA
#error "MOECHECK_TESTDATA (core/testdata) must be defined by the build"
#endif

namespace moecheck {
namespace {

namespace fs = std::filesystem;

const fs::path kTestdata = MOECHECK_TESTDATA;

std::vector<uint8_t> read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// file name -> message fragment, from malformed/EXPECTED.tsv.
std::map<std::string, std::string> expected_fragments() {
  std::map<std::string, std::string> m;
  std::ifstream in(kTestdata / "malformed" / "EXPECTED.tsv");
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto tab = line.find('\t');
    if (tab != std::string::npos) m[line.substr(0, tab)] = line.substr(tab + 1);
  }
  return m;
}

enum class Outcome { loaded, input_error, other_exception };

struct Result {
  Outcome outcome;
  std::string message;
};

// The two entry points a user reaches: from a path, and from bytes in memory.
Result try_load_path(const fs::path& p) {
  try {
    load_case(p.string());
    return {Outcome::loaded, ""};
  } catch (const InputError& e) {
    return {Outcome::input_error, e.what()};
  } catch (const std::exception& e) {
    return {Outcome::other_exception, std::string("non-InputError exception: ") + e.what()};
  }
}

Result try_load_bytes(const std::vector<uint8_t>& b) {
  try {
    case_from_safetensors(StReader::from_bytes(b.data(), b.size()));
    return {Outcome::loaded, ""};
  } catch (const InputError& e) {
    return {Outcome::input_error, e.what()};
  } catch (const std::exception& e) {
    return {Outcome::other_exception, std::string("non-InputError exception: ") + e.what()};
  }
}

// ---- the committed corpora ---------------------------------------------------

TEST(MalformedCorpus, EveryFileIsRejectedWithItsMessage) {
  const auto fragments = expected_fragments();
  const auto files = files_in(kTestdata / "malformed");
  ASSERT_GE(files.size(), 90u) << "corpus missing; run core/testdata/make_malformed.py";
  EXPECT_EQ(files.size(), fragments.size()) << "every file needs an EXPECTED.tsv line and vice versa";
  for (const fs::path& p : files) {
    const std::string name = p.filename().string();
    const auto it = fragments.find(name);
    ASSERT_NE(it, fragments.end()) << name << " has no line in EXPECTED.tsv";
    const Result by_path = try_load_path(p);
    EXPECT_EQ(by_path.outcome, Outcome::input_error) << name << ": " << (by_path.outcome == Outcome::loaded ? "loaded" : by_path.message);
    EXPECT_NE(by_path.message.find(it->second), std::string::npos)
        << name << ": message does not mention '" << it->second << "': " << by_path.message;
    EXPECT_NE(by_path.message.find(p.string()), std::string::npos) << name << ": message does not name the file: " << by_path.message;
    const Result by_bytes = try_load_bytes(read_bytes(p));
    EXPECT_EQ(by_bytes.outcome, Outcome::input_error) << name << " (from memory): " << by_bytes.message;
    EXPECT_NE(by_bytes.message.find(it->second), std::string::npos) << name << " (from memory): " << by_bytes.message;
  }
}

TEST(ValidCorpus, EveryFileLoads) {
  const auto files = files_in(kTestdata / "valid");
  ASSERT_GE(files.size(), 6u);
  for (const fs::path& p : files) {
    const Result r = try_load_path(p);
    EXPECT_EQ(r.outcome, Outcome::loaded) << p.filename() << ": " << r.message;
  }
}

TEST(ValidCorpus, ContentsAsWritten) {
  const Case c = load_case((kTestdata / "valid" / "case_bf16.safetensors").string());
  EXPECT_EQ(c.shape.T, 2);
  EXPECT_EQ(c.shape.H, 4);
  EXPECT_EQ(c.shape.I, 2);
  EXPECT_EQ(c.shape.E, 4);
  EXPECT_EQ(c.shape.k, 2);
  EXPECT_EQ(c.x_format, Format::bf16);
  EXPECT_EQ(c.y_format, Format::bf16);  // no y_format key: files from before it was a choice
  EXPECT_EQ(load_case((kTestdata / "valid" / "case_y_f32.safetensors").string()).y_format, Format::f32);
  EXPECT_EQ(c.x_value(0, 1), -2.0);
  EXPECT_EQ(c.x_value(1, 3), 2.0);
  EXPECT_EQ(c.topk_ids, (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(c.weight(1, 1), 0.75f);
  EXPECT_EQ(c.w13.value(0, 0, 0), -0.375);  // 0.125 * (0 % 7 - 3)
  EXPECT_EQ(c.w2.value(3, 3, 1), 0.25 * ((3 * 8 + 3 * 2 + 1) % 5 - 2));
  const Case mx = load_case((kTestdata / "valid" / "case_mxfp8.safetensors").string());
  EXPECT_EQ(mx.w13.format, WeightFormat::mxfp8);
  EXPECT_EQ(mx.w13.value(0, 0, 1), 0.5625);  // e4m3 0x31 * 2^0
  EXPECT_EQ(mx.w2.value(0, 0, 1), 0.28125);  // e4m3 0x31 * 2^-1
  const Case nv = load_case((kTestdata / "valid" / "case_nvfp4.safetensors").string());
  EXPECT_EQ(nv.w13.value(0, 0, 0), 0.25);  // low nibble of 0x21: e2m1 0.5, times 1.0 * 0.5
  EXPECT_EQ(nv.w13.value(0, 0, 1), 0.5);   // high nibble: e2m1 1.0
  const Case st = load_case((kTestdata / "valid" / "case_stored_experts.safetensors").string());
  EXPECT_EQ(st.stored_count(), 3);
  EXPECT_EQ(st.slot_of(2), 1);
  EXPECT_EQ(st.slot_of(1), -1);
}

// ---- mutations of a valid file ------------------------------------------------

TEST(Mutations, EveryPrefixIsRejected) {
  const auto bytes = read_bytes(kTestdata / "valid" / "case_mxfp8.safetensors");
  ASSERT_GT(bytes.size(), 100u);
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + n);
    const Result r = try_load_bytes(prefix);
    EXPECT_EQ(r.outcome, Outcome::input_error) << "prefix of " << n << " bytes: " << r.message;
  }
}

// Every byte replaced by a few hostile values: the loader may accept the file
// (a flipped data byte is still a case) but must never fail otherwise.
TEST(Mutations, ByteFlipsLoadOrThrowInputError) {
  const auto bytes = read_bytes(kTestdata / "valid" / "case_nvfp4.safetensors");
  int rejected = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (uint8_t v : {uint8_t{0x00}, uint8_t{0xff}, static_cast<uint8_t>(bytes[i] ^ 0x01), uint8_t{'9'}, uint8_t{'-'}}) {
      std::vector<uint8_t> m = bytes;
      m[i] = v;
      const Result r = try_load_bytes(m);
      EXPECT_NE(r.outcome, Outcome::other_exception) << "byte " << i << " = " << int(v) << ": " << r.message;
      if (r.outcome == Outcome::input_error) {
        ++rejected;
        EXPECT_FALSE(r.message.empty());
      }
    }
  }
  EXPECT_GT(rejected, 100);
}

// ---- container level -------------------------------------------------------------

TEST(Safetensors, DtypeSizes) {
  EXPECT_EQ(dtype_size("BF16"), 2);
  EXPECT_EQ(dtype_size("F8_E4M3"), 1);
  EXPECT_EQ(dtype_size("F32"), 4);
  EXPECT_EQ(dtype_size("I64"), 8);
  EXPECT_THROW(dtype_size("F4"), InputError);
  EXPECT_THROW(dtype_size("bf16"), InputError);
}

TEST(Safetensors, ReadingWhatIsNotAFileIsAnInputError) {
  EXPECT_THROW(read_safetensors("/nonexistent/dir/case.safetensors"), InputError);
  EXPECT_THROW(load_case("/nonexistent/dir/case.safetensors"), InputError);
  const Result dir = try_load_path(kTestdata);  // a directory
  EXPECT_EQ(dir.outcome, Outcome::input_error) << dir.message;
}

// ---- hostile headers too big for the committed corpus -------------------------------

std::vector<uint8_t> file_with_header(const std::string& h) {
  std::vector<uint8_t> b(8 + h.size());
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(static_cast<uint64_t>(h.size()) >> (8 * i));
  std::copy(h.begin(), h.end(), b.begin() + 8);
  return b;
}

void expect_rejected(const std::vector<uint8_t>& b, const std::string& fragment) {
  const Result r = try_load_bytes(b);
  EXPECT_EQ(r.outcome, Outcome::input_error) << r.message;
  EXPECT_NE(r.message.find(fragment), std::string::npos) << r.message;
}

// Issue 21: 3.6 GiB and 21 s, or std::bad_alloc under a 4 GB limit, before.
TEST(HostileHeaders, Nested100MBHeaderIsRejectedAtDepth4) {
  expect_rejected(file_with_header(std::string(kMaxHeaderBytes, '[')), "nests deeper than 3 levels");
}

// Issue 21 had 1.7 M of them accepted (1.5 GiB, 9.9 s); one past the limit
// goes the same way.
TEST(HostileHeaders, ZeroSizeTensors65537AreRejected) {
  std::string h = "{";
  for (size_t i = 0; i <= kMaxTensors; ++i)
    h += (i ? ",\"t" : "\"t") + std::to_string(i) + "\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}";
  expect_rejected(file_with_header(h + "}"), "more than 65536 tensors");
}

TEST(HostileHeaders, ShapeOf2Pow21EntriesIsRejected) {
  std::string h = "{\"x\":{\"dtype\":\"U8\",\"data_offsets\":[0,1],\"shape\":[1";
  for (size_t i = 0; i < kMaxHeaderValues; ++i) h += ",1";
  expect_rejected(file_with_header(h + "]}}"), "more than 2097152 JSON values");
}

StFile sample_file() {
  StFile f;
  f.metadata["b"] = "two words";
  f.metadata["a"] = "{\"json\": [1, 2]}";
  f.metadata["unicode"] = "\xc3\xa9t\xc3\xa9";
  f.tensors["z"] = {"F32", {2, 3}, std::vector<uint8_t>(24, 0x3f)};
  f.tensors["a"] = {"U8", {5}, {1, 2, 3, 4, 5}};
  f.tensors["scalar"] = {"I32", {}, {1, 0, 0, 0}};
  f.tensors["empty"] = {"BF16", {0, 7}, {}};
  return f;
}

void expect_same(const StFile& a, const StFile& b) {
  EXPECT_EQ(a.metadata, b.metadata);
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    const auto it = b.tensors.find(name);
    ASSERT_NE(it, b.tensors.end()) << name;
    EXPECT_EQ(t.dtype, it->second.dtype) << name;
    EXPECT_EQ(t.shape, it->second.shape) << name;
    EXPECT_EQ(t.bytes, it->second.bytes) << name;
  }
}

TEST(Safetensors, SerializeParseRoundTrip) {
  const StFile f = sample_file();
  const std::vector<uint8_t> bytes = serialize_safetensors(f);
  const StFile g = parse_safetensors(bytes.data(), bytes.size());
  expect_same(f, g);
  EXPECT_EQ(serialize_safetensors(g), bytes);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | bytes[i];
  EXPECT_EQ(hlen % 8, 0u) << "data section aligned as the reference writer does";
}

TEST(Safetensors, WriteIsAtomicAndLeavesNoTemporary) {
  const fs::path dir = fs::temp_directory_path() / ("moecheck_st_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path p = dir / "f.safetensors";
  write_safetensors(p.string(), sample_file());
  expect_same(sample_file(), read_safetensors(p.string()));
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path(), p) << "left behind: " << e.path();
  EXPECT_THROW(write_safetensors((dir / "missing" / "f.safetensors").string(), sample_file()), InputError);
  fs::remove_all(dir);
}

TEST(Safetensors, WritingPastTheFreeDiskSpaceIsRefusedBeforeAnyByte) {
  const fs::path dir = fs::temp_directory_path() / ("moecheck_disk_" + std::to_string(getpid()));
  fs::create_directories(dir);
  StWrite w;
  w.tensors["huge"] = {"U8", {int64_t{1} << 60}, nullptr, size_t{1} << 60};
  try {
    write_safetensors((dir / "f.safetensors").string(), w);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("of disk space"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::is_empty(dir)) << "a file or temporary was left behind";
  fs::remove_all(dir);
}

// Every dimension within validate_shape's 2^20, x alone 2 TiB: a sparse file
// on disk, refused before any tensor is allocated.
TEST(CaseFiles, SparseFileOfA2TiBCaseIsRefusedNamingTheSize) {
  const int64_t T = 1 << 20, H = 1 << 20;
  const uint64_t xb = uint64_t(T) * H * 2, ids = uint64_t(T) * 4, w13 = 2 * uint64_t(H) * 2, w2 = uint64_t(H) * 2;
  auto entry = [](const char* dtype, const std::string& shape, uint64_t b, uint64_t e) {
    return std::string("{\"dtype\":\"") + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
           std::to_string(b) + "," + std::to_string(e) + "]}";
  };
  const std::string t = std::to_string(T), h = std::to_string(H);
  std::string hdr = "{\"__metadata__\":{\"moecheck.version\":\"1\",\"T\":\"" + t + "\",\"H\":\"" + h +
                    "\",\"I\":\"1\",\"E\":\"1\",\"k\":\"1\",\"weight_format\":\"bf16\",\"x_format\":\"bf16\","
                    "\"activation\":\"swiglu\",\"alpha\":\"1\",\"limit\":\"7\",\"layout\":\"concatenated\"},";
  hdr += "\"x\":" + entry("BF16", "[" + t + "," + h + "]", 0, xb) + ",";
  hdr += "\"topk_ids\":" + entry("I32", "[" + t + ",1]", xb, xb + ids) + ",";
  hdr += "\"topk_weights\":" + entry("F32", "[" + t + ",1]", xb + ids, xb + 2 * ids) + ",";
  hdr += "\"w13\":" + entry("BF16", "[1,2," + h + "]", xb + 2 * ids, xb + 2 * ids + w13) + ",";
  hdr += "\"w2\":" + entry("BF16", "[1," + h + ",1]", xb + 2 * ids + w13, xb + 2 * ids + w13 + w2) + "}";
  const fs::path p = fs::temp_directory_path() / ("moecheck_sparse_" + std::to_string(getpid()) + ".safetensors");
  {
    const std::vector<uint8_t> head = file_with_header(hdr);
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(head.data()), static_cast<std::streamsize>(head.size()));
  }
  std::error_code ec;
  fs::resize_file(p, file_with_header(hdr).size() + xb + 2 * ids + w13 + w2, ec);
  if (ec) {
    fs::remove(p);
    GTEST_SKIP() << "this file system holds no 2 TiB sparse file: " << ec.message();
  }
  const Result r = try_load_path(p);
  fs::remove(p);
  EXPECT_EQ(r.outcome, Outcome::input_error) << r.message;
  EXPECT_NE(r.message.find("loading this case needs"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("bytes) of memory"), std::string::npos) << r.message;
}

// ---- case round trips --------------------------------------------------------------

void expect_same_case(const Case& a, const Case& b, const std::string& what) {
  EXPECT_EQ(a.shape.T, b.shape.T) << what;
  EXPECT_EQ(a.shape.H, b.shape.H) << what;
  EXPECT_EQ(a.shape.I, b.shape.I) << what;
  EXPECT_EQ(a.shape.E, b.shape.E) << what;
  EXPECT_EQ(a.shape.k, b.shape.k) << what;
  EXPECT_EQ(a.act.kind, b.act.kind) << what;
  EXPECT_EQ(float_bits(a.act.alpha), float_bits(b.act.alpha)) << what;
  EXPECT_EQ(float_bits(a.act.limit), float_bits(b.act.limit)) << what;
  EXPECT_EQ(a.layout, b.layout) << what;
  EXPECT_EQ(a.x_format, b.x_format) << what;
  EXPECT_EQ(a.y_format, b.y_format) << what;
  EXPECT_EQ(a.x, b.x) << what;
  EXPECT_EQ(a.topk_ids, b.topk_ids) << what;
  EXPECT_EQ(a.topk_weights, b.topk_weights) << what;
  EXPECT_EQ(a.stored_experts, b.stored_experts) << what;
  EXPECT_EQ(a.provenance, b.provenance) << what;
  for (auto [wa, wb] : {std::pair{&a.w13, &b.w13}, std::pair{&a.w2, &b.w2}}) {
    EXPECT_EQ(wa->format, wb->format) << what;
    EXPECT_EQ(wa->data, wb->data) << what;
    EXPECT_EQ(wa->scales, wb->scales) << what;
    EXPECT_EQ(wa->tensor_scale, wb->tensor_scale) << what;
  }
}

TEST(CaseFiles, GeneratedCasesRoundTripBitForBit) {
  for (WeightFormat f : all_weight_formats()) {
    for (Format x : {Format::bf16, Format::f16, Format::f32}) {
      GenSpec s;
      s.shape = {3, 40, 24, 6, 2};
      s.weights = f;
      s.x_format = x;
      s.act.kind = Activation::swiglu_clamped;
      s.act.alpha = 1.702f;
      s.act.limit = 7.0f;
      s.layout = GateUpLayout::interleaved;
      s.seed = 11;
      Case c = generate_case(s);
      // Every output format, each with every x format across the weight formats.
      const Format ys[] = {Format::bf16, Format::f16, Format::f32};
      c.y_format = ys[(static_cast<int>(f) + static_cast<int>(x)) % 3];
      const std::string what = std::string(weight_format_name(f)) + " x " + std::string(format_name(x)) + " y " +
                               std::string(format_name(c.y_format));
      const std::vector<uint8_t> bytes = serialize_case(c);
      const Case back = case_from_safetensors(StReader::from_bytes(bytes.data(), bytes.size()));
      expect_same_case(c, back, what);
      EXPECT_EQ(serialize_case(back), bytes) << what;
    }
  }
}

// Issue 21: `case new --alpha 1e-40` wrote "9.9999461e-41", which the loader
// then rejected; issue 17: alpha "1.70200002" agreed with fp32 to 17-31 bits.
TEST(CaseFiles, ClampedAlphaAndLimitRoundTripBitForBitThroughAFile) {
  GenSpec s;
  s.shape = {1, 8, 4, 2, 1};
  s.act.kind = Activation::swiglu_clamped;
  const fs::path p = fs::temp_directory_path() / ("moecheck_alpha_" + std::to_string(getpid()) + ".safetensors");
  for (auto [alpha, limit] : {std::pair{1e-40f, 7.0f}, std::pair{1.702f, std::nextafter(7.0f, 8.0f)},
                              std::pair{std::numeric_limits<float>::denorm_min(), 3.4e38f}}) {
    s.act.alpha = alpha;
    s.act.limit = limit;
    save_case(p.string(), generate_case(s));
    const StReader r = StReader::from_path(p.string());
    EXPECT_EQ(float_bits(*parse_float_text(r.metadata().at("alpha"))), float_bits(alpha)) << r.metadata().at("alpha");
    const Case back = load_case(p.string());
    EXPECT_EQ(float_bits(back.act.alpha), float_bits(alpha)) << alpha;
    EXPECT_EQ(float_bits(back.act.limit), float_bits(limit)) << limit;
  }
  fs::remove(p);
}

TEST(ValidCorpus, AlphaInHexAndInOldSubnormalDecimalReadExactly) {
  const Case hex = load_case((kTestdata / "valid" / "case_alpha_hex.safetensors").string());
  EXPECT_EQ(float_bits(hex.act.alpha), float_bits(1.702f));
  EXPECT_EQ(float_bits(hex.act.limit), float_bits(7.0f));
  const Case old = load_case((kTestdata / "valid" / "case_alpha_subnormal_decimal.safetensors").string());
  EXPECT_EQ(float_bits(old.act.alpha), float_bits(1e-40f));
}

// `case new` writes expert by expert without holding the case; the file
// must be the one the in-memory path writes.
TEST(CaseFiles, SavedExpertByExpertEqualsSavedWholeForEveryWeightFormat) {
  const fs::path p = fs::temp_directory_path() / ("moecheck_pieces_" + std::to_string(getpid()) + ".safetensors");
  for (WeightFormat f : all_weight_formats()) {
    GenSpec s;
    s.shape = {3, 40, 24, 12, 2};
    s.weights = f;
    s.storage = f == WeightFormat::mxfp4 ? ExpertStorage::routed : ExpertStorage::all;
    s.seed = 21;
    Case head;
    save_generated_case(p.string(), s, &head);
    EXPECT_EQ(read_bytes(p), serialize_case(generate_case(s))) << weight_format_name(f);
    EXPECT_EQ(head.topk_ids, generate_case(s).topk_ids) << weight_format_name(f);
  }
  fs::remove(p);
}

TEST(CaseFiles, RoutedOnlyStorageRoundTrips) {
  GenSpec s;
  s.shape = {2, 16, 8, 64, 2};
  s.storage = ExpertStorage::routed;
  s.seed = 3;
  const Case c = generate_case(s);
  ASSERT_FALSE(c.stored_experts.empty());
  const fs::path p = fs::temp_directory_path() / ("moecheck_case_" + std::to_string(getpid()) + ".safetensors");
  save_case(p.string(), c);
  expect_same_case(c, load_case(p.string()), "routed");
  fs::remove(p);
}

}  // namespace
}  // namespace moecheck
