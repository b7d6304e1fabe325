#include "kernels/device_case.hpp"

#include "core/error.hpp"

#if MOECHECK_WITH_CUDA
#include <cuda_runtime.h>

#include <mutex>

#include "core/cuda_check.hpp"
#endif

namespace moecheck {

int64_t output_bytes(const Shape& s, Format f) { return s.T * s.H * format_bits(f) / 8; }

#if MOECHECK_WITH_CUDA

bool cuda_available(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    // The runtime's error names read as faults; say what they mean here.
    const bool no_gpu = e == cudaErrorInsufficientDriver || e == cudaErrorNoDevice;
    if (why)
      *why = std::string(no_gpu ? "no GPU (no NVIDIA driver or device on this machine): " : "cudaGetDeviceCount failed: ") +
             cudaGetErrorName(e);
    cudaGetLastError();  // consume it so the next CUDA call does not report it
    return false;
  }
  if (n == 0) {
    if (why) *why = "no CUDA device";
    return false;
  }
  return true;
}

std::string cuda_device_name() {
  std::string why;
  if (!cuda_available(&why)) return "(no device: " + why + ")";
  int dev = 0;
  MOECHECK_CUDA(cudaGetDevice(&dev));
  cudaDeviceProp p{};
  MOECHECK_CUDA(cudaGetDeviceProperties(&p, dev));
  return std::string(p.name) + ", sm_" + std::to_string(p.major) + std::to_string(p.minor);
}

namespace {

// A fuzz case runs its variant 15-20 times, with about eleven buffers each:
// the device's stream-ordered pool hands freed blocks back out, where a
// cudaMalloc/cudaFree pair per buffer costs microseconds and cudaFree waits
// for the whole device. Up to 4 GiB stays cached between runs (the first
// sizeable production case fills it; larger peaks go back at the next
// synchronization).
void keep_pool_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    int dev = 0;
    MOECHECK_CUDA(cudaGetDevice(&dev));
    cudaMemPool_t pool;
    MOECHECK_CUDA(cudaDeviceGetDefaultMemPool(&pool, dev));
    uint64_t keep = uint64_t{4} << 30;
    MOECHECK_CUDA(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
  });
}

// Device buffer owning its allocation, from the pool, ordered on `stream`
// (the legacy stream unless given); freed on the legacy stream once every
// use has been synchronized.
struct Buf {
  void* p = nullptr;
  size_t n = 0;
  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() {
    if (p) cudaFreeAsync(p, nullptr);
  }
  void alloc(size_t bytes, cudaStream_t stream = nullptr) {
    keep_pool_memory();
    n = bytes;
    if (bytes) MOECHECK_CUDA(cudaMallocAsync(&p, bytes, stream));
  }
  void upload(const void* src, size_t bytes) {
    alloc(bytes);
    if (bytes) MOECHECK_CUDA(cudaMemcpy(p, src, bytes, cudaMemcpyHostToDevice));
  }
};

}  // namespace

struct DeviceCase::Impl {
  DeviceArgs args;
  Buf x, w13, w13_scale, w13_ts, w2, w2_scale, w2_ts, ids, weights, y;
};

DeviceCase::DeviceCase(const Case& c, Format out) : impl_(std::make_unique<Impl>()) {
  validate(c);
  Impl& m = *impl_;
  // Global expert ids -> storage slots: kernels index a dense (S, ...) stack.
  std::vector<int32_t> slots(c.topk_ids.size());  // (T, k)
  for (size_t i = 0; i < slots.size(); ++i) {
    const int64_t s = c.slot_of(c.topk_ids[i]);
    if (s < 0) throw InputError("routed expert " + std::to_string(c.topk_ids[i]) + " has no stored weights");
    slots[i] = static_cast<int32_t>(s);
  }
  m.x.upload(c.x.data(), c.x.size());
  m.w13.upload(c.w13.data.data(), c.w13.data.size());
  m.w13_scale.upload(c.w13.scales.data(), c.w13.scales.size());
  m.w13_ts.upload(c.w13.tensor_scale.data(), c.w13.tensor_scale.size() * sizeof(float));
  m.w2.upload(c.w2.data.data(), c.w2.data.size());
  m.w2_scale.upload(c.w2.scales.data(), c.w2.scales.size());
  m.w2_ts.upload(c.w2.tensor_scale.data(), c.w2.tensor_scale.size() * sizeof(float));
  m.ids.upload(slots.data(), slots.size() * sizeof(int32_t));
  m.weights.upload(c.topk_weights.data(), c.topk_weights.size() * sizeof(float));
  m.y.alloc(static_cast<size_t>(output_bytes(c.shape, out)));

  DeviceArgs& a = m.args;
  a.shape = c.shape;
  a.shape.E = c.stored_count();  // kernels see the storage slots only
  a.act = c.act;
  a.layout = c.layout;
  a.x_format = c.x_format;
  a.y_format = c.y_format;
  a.weight_format = c.w13.format;
  a.x = m.x.p;
  a.w13 = m.w13.p;
  a.w13_scale = m.w13_scale.p;
  a.w13_tensor_scale = static_cast<const float*>(m.w13_ts.p);
  a.w2 = m.w2.p;
  a.w2_scale = m.w2_scale.p;
  a.w2_tensor_scale = static_cast<const float*>(m.w2_ts.p);
  a.topk_ids = static_cast<const int32_t*>(m.ids.p);
  a.topk_weights = static_cast<const float*>(m.weights.p);
  a.y = m.y.p;
  poison_output(nullptr);
  MOECHECK_CUDA(cudaDeviceSynchronize());
}

DeviceCase::~DeviceCase() = default;

DeviceArgs DeviceCase::args() const { return impl_->args; }

void DeviceCase::poison_output(CUstream_st* stream) {
  if (impl_->y.n) MOECHECK_CUDA(cudaMemsetAsync(impl_->y.p, 0xFF, impl_->y.n, stream));
}

int64_t DeviceCase::output_size() const { return static_cast<int64_t>(impl_->y.n); }

std::vector<uint8_t> DeviceCase::download_output() const {
  std::vector<uint8_t> out(impl_->y.n);
  MOECHECK_CUDA(cudaDeviceSynchronize());
  if (!out.empty()) MOECHECK_CUDA(cudaMemcpy(out.data(), impl_->y.p, out.size(), cudaMemcpyDeviceToHost));
  return out;
}

std::vector<uint8_t> run_on_device(const Variant& v, const Case& c) {
  std::string why;
  if (!cuda_available(&why)) throw InputError("no device to run " + v.name() + " on: " + why);
  if (!v.has_device()) throw InputError(v.name() + " has no device implementation");
  DeviceCase dc(c, v.numerics(c).output_format);
  DeviceArgs a = dc.args();
  cudaStream_t stream;
  MOECHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  Buf ws;  // freed (on the legacy stream) after this stream is synchronized
  try {
    ws.alloc(v.workspace_bytes(a.shape), stream);
    // Poisoned workspace: an intermediate read before it is written shows as
    // NaN. On the variant's stream: a non-blocking stream does not wait for
    // a cudaMemset on the legacy stream, so on a busy GPU that memset could
    // land in the middle of the kernels (NaN outputs from correct variants
    // with 8 property-test processes on one H200).
    if (ws.n) MOECHECK_CUDA(cudaMemsetAsync(ws.p, 0xFF, ws.n, stream));
    dc.poison_output(stream);
    v.run_device(a, ws.p, stream);
    MOECHECK_CUDA(cudaStreamSynchronize(stream));
  } catch (...) {
    cudaStreamDestroy(stream);
    throw;
  }
  MOECHECK_CUDA(cudaStreamDestroy(stream));
  return dc.download_output();
}

#else  // !MOECHECK_WITH_CUDA

bool cuda_available(std::string* why) {
  if (why) *why = "moecheck was built without CUDA (MOECHECK_ENABLE_CUDA=OFF)";
  return false;
}

std::string cuda_device_name() { return "(no device: built without CUDA)"; }

struct DeviceCase::Impl {};
DeviceCase::DeviceCase(const Case&, Format) { throw InputError("moecheck was built without CUDA"); }
DeviceCase::~DeviceCase() = default;
DeviceArgs DeviceCase::args() const { return {}; }
void DeviceCase::poison_output(CUstream_st*) {}
std::vector<uint8_t> DeviceCase::download_output() const { return {}; }
int64_t DeviceCase::output_size() const { return 0; }
std::vector<uint8_t> run_on_device(const Variant& v, const Case&) {
  throw InputError("cannot run " + v.name() + " on a device: moecheck was built without CUDA");
}

#endif

}  // namespace moecheck
