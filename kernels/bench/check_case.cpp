#include "kernels/bench/check_case.hpp"

#include "kernels/bench/hash.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

namespace moecheck::bench {

void draw_routing(std::mt19937_64& rng, int64_t T, int64_t k, std::vector<int32_t> pool, bool one_set,
                  std::vector<int32_t>& ids, std::vector<float>& w) {
  ids.assign(static_cast<size_t>(T * k), 0);
  w.assign(static_cast<size_t>(T * k), 0.0f);
  std::uniform_real_distribution<float> uw(0.05f, 1.0f);
  for (int64_t t = 0; t < T; ++t) {
    if (!one_set || t == 0) {
      // Partial Fisher-Yates: pool[0, k) becomes k distinct experts.
      for (int64_t j = 0; j < k; ++j) {
        std::uniform_int_distribution<size_t> pick(static_cast<size_t>(j), pool.size() - 1);
        std::swap(pool[static_cast<size_t>(j)], pool[pick(rng)]);
      }
    }
    float sum = 0;
    for (int64_t j = 0; j < k; ++j) {
      ids[t * k + j] = pool[static_cast<size_t>(j)];
      sum += (w[t * k + j] = uw(rng));
    }
    for (int64_t j = 0; j < k; ++j) w[t * k + j] /= sum;
  }
}

namespace {

// (E, R, K) bf16 codes, uniform in (-scale, scale), never 0 before rounding.
void fill_stack(WeightStack& w, uint64_t seed, float scale) {
  const int64_t n = w.E * w.R * w.K;
  w.data.resize(static_cast<size_t>(2 * n));
  uint8_t* d = w.data.data();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t code = hashed_bf16(seed, static_cast<uint64_t>(i), scale);
    d[2 * i] = static_cast<uint8_t>(code & 0xff), d[2 * i + 1] = static_cast<uint8_t>(code >> 8);
  }
}

// The bf16 stack quantized to wf (the masters are its exact values).
WeightStack quantized(const WeightStack& w, WeightFormat wf) {
  std::vector<float> master(static_cast<size_t>(w.E * w.R * w.K));
  const uint8_t* d = w.data.data();
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < w.E * w.R * w.K; ++i)
    master[static_cast<size_t>(i)] = bf16_to_f32(static_cast<uint16_t>(d[2 * i] | (d[2 * i + 1] << 8)));
  return quantize_weights(wf, w.E, w.R, w.K, master);
}

}  // namespace

Case pool_case(const Shape& s, int64_t pool, ActivationSpec act, GateUpLayout layout, uint64_t seed,
               WeightFormat wf) {
  pool = std::clamp<int64_t>(pool, s.k, s.E);
  Case c;
  c.shape = s;
  c.shape.T = 0;
  c.act = act;
  c.layout = layout;
  std::vector<int32_t> all(static_cast<size_t>(s.E));
  std::iota(all.begin(), all.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(all.begin(), all.end(), rng);
  if (pool < s.E) {
    c.stored_experts.assign(all.begin(), all.begin() + pool);
    std::sort(c.stored_experts.begin(), c.stored_experts.end());
  }
  c.w13 = {WeightFormat::bf16, pool, 2 * s.I, s.H, {}, {}, {}};
  c.w2 = {WeightFormat::bf16, pool, s.H, s.I, {}, {}, {}};
  fill_stack(c.w13, 2 * seed + 1, 1.0f / std::sqrt(static_cast<float>(s.H)));
  fill_stack(c.w2, 2 * seed + 2, 1.0f / std::sqrt(static_cast<float>(s.I)));
  if (wf != WeightFormat::bf16) {
    c.w13 = quantized(c.w13, wf);
    c.w2 = quantized(c.w2, wf);
  }
  c.provenance = "{\"pool_case\": {\"H\": " + std::to_string(s.H) + ", \"I\": " + std::to_string(s.I) +
                 ", \"E\": " + std::to_string(s.E) + ", \"k\": " + std::to_string(s.k) + ", \"pool\": " +
                 std::to_string(pool) + ", \"activation\": \"" + std::string(activation_name(act.kind)) +
                 "\", \"layout\": \"" + std::string(layout_name(layout)) + "\", \"seed\": " + std::to_string(seed) +
                 ", \"weights\": \"kernels/bench/check_case.cpp hash fill\", \"format\": \"" +
                 std::string(weight_format_name(wf)) + "\"}}";
  return c;
}

void reroute(Case& c, int64_t T, PoolRouting r, uint64_t seed) {
  const std::string pool_prov = c.provenance.rfind("{\"batch\"", 0) == 0
                                    ? c.provenance.substr(c.provenance.find("\"pool\": ") + 8,
                                                          c.provenance.size() - c.provenance.find("\"pool\": ") - 9)
                                    : c.provenance;
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const int64_t H = c.shape.H, k = c.shape.k;
  c.shape.T = T;
  c.x_format = Format::bf16;
  c.x.resize(static_cast<size_t>(T * H * 2));
  for (int64_t i = 0; i < T * H; ++i) {
    const uint16_t code = f32_to_bf16_rn(nd(rng));
    c.x[2 * i] = static_cast<uint8_t>(code & 0xff), c.x[2 * i + 1] = static_cast<uint8_t>(code >> 8);
  }
  std::vector<int32_t> pool = c.stored_experts;
  if (pool.empty()) {
    pool.resize(static_cast<size_t>(c.shape.E));
    std::iota(pool.begin(), pool.end(), 0);
  }
  draw_routing(rng, T, k, pool, r == PoolRouting::one_set, c.topk_ids, c.topk_weights);
  c.provenance = "{\"batch\": {\"T\": " + std::to_string(T) + ", \"routing\": \"" +
                 (r == PoolRouting::uniform ? "uniform" : "one_set") + "\", \"seed\": " + std::to_string(seed) +
                 "}, \"pool\": " + pool_prov + "}";
  validate(c);
}

}  // namespace moecheck::bench
