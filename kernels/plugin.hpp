// Loading plugins (see kernels/plugin_api.hpp for the plugin side).
#pragma once

#include <string>
#include <vector>

namespace moecheck {

// dlopen()s the library, checks its moecheck_plugin_abi against this
// build's, calls moecheck_register_variants and returns the names it added.
// Throws InputError with the path and the reason on any failure (not
// loadable, not a moecheck plugin, ABI mismatch, registration failed,
// duplicate variant name). Loading the same path twice is a no-op.
std::vector<std::string> load_plugin(const std::string& path);

}  // namespace moecheck
