// Deterministic random numbers: xoshiro256** seeded by splitmix64, and only
// distributions built from IEEE arithmetic (no libm, no std:: distributions,
// whose output is implementation-defined), so a (spec, seed) gives the same
// case bit for bit on every machine.
#pragma once

#include <cstdint>

namespace moecheck {

inline uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Mix several 64-bit keys into one seed (stream splitting per tensor/row, so
// results do not depend on the thread count).
inline uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c = 0, uint64_t d = 0) {
  uint64_t s = a;
  uint64_t h = splitmix64(s);
  s = h ^ b;
  h = splitmix64(s);
  s = h ^ c;
  h = splitmix64(s);
  s = h ^ d;
  return splitmix64(s);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (auto& w : s_) w = splitmix64(seed);
  }
  uint64_t next() {
    const uint64_t r = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return r;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Uniform in (0, 1].
  double uniform_pos() { return static_cast<double>((next() >> 11) + 1) * 0x1.0p-53; }
  // Uniform integer in [0, n), n > 0, unbiased (Lemire).
  uint64_t below(uint64_t n) {
    __uint128_t m = static_cast<__uint128_t>(next()) * n;
    uint64_t l = static_cast<uint64_t>(m);
    if (l < n) {
      const uint64_t t = (0 - n) % n;
      while (l < t) {
        m = static_cast<__uint128_t>(next()) * n;
        l = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }
  // Approximately standard normal: Irwin-Hall sum of 4 uniforms, rescaled to
  // unit variance (support [-2 sqrt 3, 2 sqrt 3]). Arithmetic only.
  double normal() {
    double s = uniform() + uniform() + uniform() + uniform() - 2.0;
    return s * 1.7320508075688772;
  }
  // Heavy-tailed ("slash" distribution, Cauchy-like x^-2 tails): normal over
  // uniform, arithmetic only.
  double heavy() { return normal() / uniform_pos(); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace moecheck
