// Where the figures came from: the device (or "none"), the build and the host.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace moecheck::report {

using json = nlohmann::ordered_json;

// name, compute capability, SMs, clocks, memory, L2, driver and runtime
// versions; {"name": "none", "reason": why} without a device.
json device_json();
// commit (git rev-parse at configure time), build type, compiler, flags,
// CUDA and its architectures.
json build_json();
json host_json();  // CPU threads the oracle may use, host name
std::string utc_now();

}  // namespace moecheck::report
