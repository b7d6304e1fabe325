#include "oracle/naive.hpp"

#include <chrono>
#include <ctime>

namespace moecheck {

double thread_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

NaiveRun naive_quad_subset(const Case& c, const std::vector<double>& oracle_h, int64_t n_rows, int64_t n_out) {
  using clock = std::chrono::steady_clock;
  const Shape& s = c.shape;
  NaiveRun r;
  const std::vector<double> x = decoded_x(c);
  std::vector<double> row;
  n_rows = std::min(n_rows, s.T * s.k * s.I);
  n_out = std::min(n_out, s.T * s.H);
  const int64_t full_tokens = n_rows / (s.k * s.I);
  std::vector<Quad> naive_h_all(full_tokens * s.k * s.I);
  volatile double sink = 0;
  auto t0 = clock::now();
  double c0 = thread_cpu_seconds();
  for (int64_t idx = 0; idx < n_rows; ++idx) {
    const int64_t n = idx % s.I, j = (idx / s.I) % s.k, t = idx / s.I / s.k;
    const Quad h = naive_h<Quad>(c, x, t, j, n, row);
    if (t < full_tokens) naive_h_all[idx] = h;
    sink = sink + static_cast<double>(h);
  }
  auto t1 = clock::now();
  r.cpu_seconds = thread_cpu_seconds() - c0;
  r.gate_up_madds = 2 * n_rows * s.H;
  r.gate_up_seconds = std::chrono::duration<double>(t1 - t0).count();
  // Outputs spread evenly over (T, H) so every token's routing is sampled.
  // Tokens whose every neuron got a naive h use it; the others use the
  // oracle's h rounded to double (then the naive y is only ~53-bit accurate).
  std::vector<Quad> h_t(s.k * s.I);
  int64_t cur_t = -1;
  double down_time = 0;
  for (int64_t q = 0; q < n_out; ++q) {
    const int64_t idx = n_out == s.T * s.H ? q : (q * (s.T * s.H)) / n_out;
    const int64_t t = idx / s.H, i = idx % s.H;
    if (t != cur_t) {
      for (int64_t m = 0; m < s.k * s.I; ++m)
        h_t[m] = t < full_tokens ? naive_h_all[t * s.k * s.I + m] : Quad(oracle_h[t * s.k * s.I + m]);
      cur_t = t;
    }
    auto a = clock::now();
    const double ca = thread_cpu_seconds();
    const Quad y = naive_y<Quad>(c, h_t, t, i, row);
    r.cpu_seconds += thread_cpu_seconds() - ca;
    down_time += std::chrono::duration<double>(clock::now() - a).count();
    r.y.push_back(static_cast<double>(y));
    r.y_lo.push_back(static_cast<double>(y - Quad(r.y.back())));
    r.y_index.push_back(idx);
    r.naive_h.push_back(t < full_tokens);
  }
  r.down_madds = n_out * s.k * (s.I + 1);
  r.down_seconds = down_time;
  return r;
}

}  // namespace moecheck
