// A Case on the device: every tensor uploaded once, routing ids remapped from
// global expert ids to storage slots (Case::slot_of), and an output buffer
// pre-filled with a NaN sentinel so unwritten elements cannot pass. No CUDA
// headers here: the CLI and CPU-only builds include this too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/variant.hpp"

namespace moecheck {

// True when this build has CUDA and at least one device answers; otherwise
// false with the reason in *why.
bool cuda_available(std::string* why = nullptr);

// Name and compute capability of the current device ("NVIDIA H100 80GB HBM3,
// sm_90"), or the reason there is none.
std::string cuda_device_name();

// Bytes of a (T, H) output in `f`.
int64_t output_bytes(const Shape& s, Format f);

class DeviceCase {
 public:
  // Uploads c and allocates a (T, H) output of `out` codes, poisoned.
  DeviceCase(const Case& c, Format out);
  ~DeviceCase();
  DeviceCase(const DeviceCase&) = delete;
  DeviceCase& operator=(const DeviceCase&) = delete;

  DeviceArgs args() const;
  // Fills the output with 0xFF bytes (NaN in bf16, fp16 and fp32) on `stream`.
  void poison_output(CUstream_st* stream = nullptr);
  std::vector<uint8_t> download_output() const;  // synchronizes the device
  int64_t output_size() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Runs `v` once on the device: upload, poison output and workspace, run on a
// fresh stream, check errors, download (T, H) output codes.
std::vector<uint8_t> run_on_device(const Variant& v, const Case& c);

}  // namespace moecheck
