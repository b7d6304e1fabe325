// Device helpers of the bench, behind an interface without CUDA headers:
// the read-bandwidth ceiling, device-side random fills for timing-only
// weights, buffers, and CUDA-graph replay timing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

struct CUstream_st;

namespace moecheck::bench {

struct DeviceProps {
  std::string name;
  int sms = 0;
  int64_t l2_bytes = 0;
  int64_t total_mem = 0, free_mem = 0;
};
DeviceProps device_props();

// Streaming-read bandwidth in GB/s (1e9 B/s): a kernel that only reads a
// `bytes` buffer with 16-byte loads (the ceiling of a read-dominated kernel),
// median over `reps` timed passes after a warm-up.
double read_bandwidth_gbps(int64_t bytes, int reps);

// Owning device allocation.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(o.p_), n_(o.n_) { o.p_ = nullptr, o.n_ = 0; }
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return p_; }
  size_t size() const { return n_; }
  void upload(const void* src, size_t bytes);
  std::vector<uint8_t> download() const;
  void fill_bytes(int value);  // synchronous

 private:
  void* p_ = nullptr;
  size_t n_ = 0;
};

// n bf16 values uniform in [-scale, scale) from a counter hash of (seed, i):
// weights and activations for timing-only layer copies, generated where they
// live (a host-generated full layer of a large preset would take minutes).
void fill_random_bf16(void* p, int64_t n, uint64_t seed, float scale);
// n random bytes from the same hash, each ANDed with `mask` (0xBF keeps e4m3
// codes off the NaN pattern and below 2: timing-only fp8 / fp4 weights).
void fill_random_bytes(void* p, int64_t n, uint64_t seed, uint8_t mask);

// Captures body(stream) into a CUDA graph, replays it `warmup` times, then
// times `replays` replays one by one with events: milliseconds per replay.
std::vector<double> time_graph(const std::function<void(CUstream_st*)>& body, int warmup, int replays);

// Runs body(stream) once and waits (no graph): warm-up and output checks.
void run_once(const std::function<void(CUstream_st*)>& body);

}  // namespace moecheck::bench
