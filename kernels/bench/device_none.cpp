// CPU-only builds: the bench's device helpers exist and say why they cannot run.
#include "core/error.hpp"
#include "kernels/bench/device.hpp"

namespace moecheck::bench {

[[noreturn]] static void no_cuda() { throw InputError("moecheck was built without CUDA (MOECHECK_ENABLE_CUDA=OFF)"); }

DeviceProps device_props() { no_cuda(); }
double read_bandwidth_gbps(int64_t, int) { no_cuda(); }
DeviceBuffer::DeviceBuffer(size_t) { no_cuda(); }
DeviceBuffer::~DeviceBuffer() = default;
DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&&) noexcept { return *this; }
void DeviceBuffer::upload(const void*, size_t) { no_cuda(); }
std::vector<uint8_t> DeviceBuffer::download() const { no_cuda(); }
void DeviceBuffer::fill_bytes(int) { no_cuda(); }
void fill_random_bf16(void*, int64_t, uint64_t, float) { no_cuda(); }
void fill_random_bytes(void*, int64_t, uint64_t, uint8_t) { no_cuda(); }
std::vector<double> time_graph(const std::function<void(CUstream_st*)>&, int, int) { no_cuda(); }
void run_once(const std::function<void(CUstream_st*)>&) { no_cuda(); }

}  // namespace moecheck::bench
