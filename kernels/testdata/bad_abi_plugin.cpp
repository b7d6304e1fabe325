// Test fixture: a library that claims a different plugin ABI version. The
// loader must refuse it before calling anything.
#include "kernels/plugin_api.hpp"

MOECHECK_PLUGIN_EXPORT const moecheck::PluginAbi moecheck_plugin_abi = {
    moecheck::kPluginAbiVersion + 1000, moecheck::this_plugin_abi().sizeof_case,
    moecheck::this_plugin_abi().sizeof_device_args, moecheck::this_plugin_abi().sizeof_numerics,
    moecheck::this_plugin_abi().sizeof_shape};

MOECHECK_PLUGIN_EXPORT int moecheck_register_variants(moecheck::PluginRegistrar*) {
  __builtin_trap();  // never called: the ABI check comes first
}
