// What a plugin includes: a shared library built against the installed
// moecheck headers that adds variants to a moecheck process.
//
//   #include <moecheck/kernels/plugin_api.hpp>   (in-tree: "kernels/plugin_api.hpp")
//   MOECHECK_PLUGIN(registrar) {
//     registrar.add(std::make_unique<MyVariant>());
//   }
//
// The macro exports the one C entry point `moecheck_register_variants` and
// the data symbol `moecheck_plugin_abi`, which the loader checks before it
// calls anything: C++ objects (Variant, Case, DeviceArgs, Numerics) cross
// the boundary, so a plugin built against other headers must be refused, not
// run. Bump kPluginAbiVersion whenever any of those types or the Variant
// vtable changes; the recorded sizes catch a forgotten bump.
#pragma once

#include <cstdint>
#include <memory>

#include "kernels/variant.hpp"

namespace moecheck {

// 2: Case::y_format, DeviceArgs::y_format (DeviceArgs kept its size: the
// version is what refuses plugins built before it).
// 3: Claims::host (Claims is returned by value from a virtual; its size is
// not among the recorded ones); Numerics::gate_up_format, gate_act_format,
// topk_sum_format, Combine::weighted_expert_outputs, weighted_h.
inline constexpr uint32_t kPluginAbiVersion = 3;

struct PluginAbi {
  uint32_t version;
  uint32_t sizeof_case;
  uint32_t sizeof_device_args;
  uint32_t sizeof_numerics;
  uint32_t sizeof_shape;
};

constexpr PluginAbi this_plugin_abi() {
  return {kPluginAbiVersion, static_cast<uint32_t>(sizeof(Case)), static_cast<uint32_t>(sizeof(DeviceArgs)),
          static_cast<uint32_t>(sizeof(Numerics)), static_cast<uint32_t>(sizeof(Shape))};
}

// Handed to the plugin's entry point; add() takes ownership. Variants must
// stay valid for the life of the process (plugins are never unloaded).
class PluginRegistrar {
 public:
  virtual ~PluginRegistrar() = default;
  virtual void add(std::unique_ptr<Variant> v) = 0;
};

}  // namespace moecheck

extern "C" {
// Returns 0 on success; non-zero (or an exception, caught by the macro)
// means registration failed.
typedef int (*moecheck_register_variants_fn)(moecheck::PluginRegistrar* registrar);
}

#define MOECHECK_PLUGIN_EXPORT extern "C" __attribute__((visibility("default")))

#define MOECHECK_PLUGIN(registrar_name)                                                             \
  MOECHECK_PLUGIN_EXPORT const ::moecheck::PluginAbi moecheck_plugin_abi = ::moecheck::this_plugin_abi(); \
  static void moecheck_plugin_register_(::moecheck::PluginRegistrar& registrar_name);               \
  MOECHECK_PLUGIN_EXPORT int moecheck_register_variants(::moecheck::PluginRegistrar* r) {           \
    try {                                                                                           \
      moecheck_plugin_register_(*r);                                                                \
      return 0;                                                                                     \
    } catch (...) {                                                                                 \
      return 1;                                                                                     \
    }                                                                                               \
  }                                                                                                 \
  static void moecheck_plugin_register_(::moecheck::PluginRegistrar& registrar_name)
