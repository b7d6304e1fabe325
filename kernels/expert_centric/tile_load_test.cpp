// The tile GEMM's weight fragments (tile_load.hpp) on the host: for every
// weight format, every 16-weight chunk of every row expands to exactly
// f32_to_bf16_rn(W::at) (what run_host and the declaration assume), zeros
// past K; and the words the device's vector loads give (little-endian
// 16 / 8 / 4-byte halves) equal the code-by-code assembly.
#include <gtest/gtest.h>

#include <cstring>
#include <sstream>

#include "core/generate.hpp"
#include "kernels/expert_centric/tile_load.hpp"
#include "kernels/warp_decode/family.hpp"

namespace moecheck::ec::test {
namespace {

uint16_t frag_code(const Frag& f, int e) { return static_cast<uint16_t>(f.r[e / 2] >> (16 * (e % 2))); }

// Byte offset of weight k in its row, and the bytes of an 8-weight half.
template <class W>
int64_t byte_of(int64_t k) {
  if constexpr (!kScaled<W>)
    return 2 * k;
  else
    return W::kFp4 ? k / 2 : k;
}

// The words of the vector path: each 8-weight half inside K loaded whole.
template <class W>
RawW<W> vector_words(const typename W::Row& row, int64_t k, int64_t K) {
  RawW<W> c{};
  const int64_t half = byte_of<W>(8);
  const uint8_t* base;
  if constexpr (kScaled<W>)
    base = row.data;
  else
    base = static_cast<const uint8_t*>(row);
  for (int h = 0; h < 2; ++h)
    if (k + 8 * h < K) std::memcpy(reinterpret_cast<uint8_t*>(c.r) + h * half, base + byte_of<W>(k + 8 * h), half);
  return c;
}

template <class W>
void check_stack(const WeightStack& w, const std::string& what) {
  for (int64_t e = 0; e < w.E; ++e)
    for (int64_t r = 0; r < w.R; ++r) {
      const auto row = W::row(w.data.data(), w.scales.data(), w.tensor_scale.data(), e, w.R, w.K, r);
      for (int64_t k = 0; k < w.K; k += 16) {
        const RawW<W> c = load_raw_scalar<W>(row, k, w.K, true);
        const Frag f = to_frag<W>(c);
        for (int i = 0; i < 16; ++i) {
          const uint16_t want = k + i < w.K ? f32_to_bf16_rn(W::at(row, k + i)) : 0;
          ASSERT_EQ(frag_code(f, i), want) << what << " expert " << e << " row " << r << " k " << k + i << " of "
                                           << w.K << ": fragment 0x" << std::hex << frag_code(f, i)
                                           << ", bf16(W::at) 0x" << want;
        }
        const Frag invalid = to_frag<W>(load_raw_scalar<W>(row, k, w.K, false));
        for (int i = 0; i < 16; ++i) ASSERT_EQ(frag_code(invalid, i), 0) << what << ": !valid must give zeros";
        if (w.K % 8 == 0) {
          const RawW<W> v = vector_words<W>(row, k, w.K);
          for (int q = 0; q < raw_words<W>(); ++q)
            ASSERT_EQ(v.r[q], c.r[q]) << what << " row " << r << " k " << k << ": vector word " << q << " differs";
        }
      }
    }
}

class TileLoad : public ::testing::TestWithParam<WeightFormat> {};

TEST_P(TileLoad, FragmentIsBf16OfDequantizedWeight_K37_K64_K200) {
  for (int64_t H : {37, 64, 200}) {
    GenSpec g;
    g.shape = {1, H, 24, 2, 1};
    g.weights = GetParam();
    g.values = ValueDist::heavy;  // wide magnitudes: subnormal and large bf16 roundings
    g.storage = ExpertStorage::all;
    g.seed = 31 + static_cast<uint64_t>(H);
    const Case c = generate_case(g);
    std::ostringstream what;
    what << weight_format_name(GetParam()) << " H" << H;
    warp_decode::with_weights(GetParam(), [&](auto wt) {
      check_stack<decltype(wt)>(c.w13, what.str() + " w13");
      check_stack<decltype(wt)>(c.w2, what.str() + " w2");
    });
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, TileLoad, ::testing::ValuesIn(all_weight_formats()),
                         [](const auto& info) { return std::string(weight_format_name(info.param)); });

}  // namespace
}  // namespace moecheck::ec::test
