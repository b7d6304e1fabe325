#include "kernels/plugin.hpp"

#include <dlfcn.h>

#include <filesystem>
#include <set>

#include "core/error.hpp"
#include "kernels/plugin_api.hpp"
#include "kernels/registry.hpp"

namespace moecheck {
namespace {

class Collector final : public PluginRegistrar {
 public:
  void add(std::unique_ptr<Variant> v) override { added.push_back(std::move(v)); }
  std::vector<std::unique_ptr<Variant>> added;
};

std::string abi_text(const PluginAbi& a) {
  return "ABI " + std::to_string(a.version) + " (sizeof Case " + std::to_string(a.sizeof_case) + ", DeviceArgs " +
         std::to_string(a.sizeof_device_args) + ", Numerics " + std::to_string(a.sizeof_numerics) + ", Shape " +
         std::to_string(a.sizeof_shape) + ")";
}

}  // namespace

std::vector<std::string> load_plugin(const std::string& path) {
  static std::set<std::string> loaded;
  std::error_code ec;
  const auto canon = std::filesystem::weakly_canonical(path, ec);
  const std::string key = ec ? path : canon.string();
  if (loaded.count(key)) return {};
  if (!std::filesystem::exists(path)) throw InputError("plugin " + path + ": no such file");

  // RTLD_LOCAL: a plugin's copies of moecheck_core stay private to it.
  void* handle = dlopen(key.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) throw InputError("plugin " + path + ": cannot load: " + dlerror());
  // Never dlclose: registered variants live in the library's code.
  const auto* abi = static_cast<const PluginAbi*>(dlsym(handle, "moecheck_plugin_abi"));
  if (!abi)
    throw InputError("plugin " + path +
                     ": not a moecheck plugin (no exported moecheck_plugin_abi; define it with MOECHECK_PLUGIN)");
  const PluginAbi want = this_plugin_abi();
  if (abi->version != want.version || abi->sizeof_case != want.sizeof_case ||
      abi->sizeof_device_args != want.sizeof_device_args || abi->sizeof_numerics != want.sizeof_numerics ||
      abi->sizeof_shape != want.sizeof_shape)
    throw InputError("plugin " + path + ": built against moecheck plugin " + abi_text(*abi) +
                     ", but this moecheck has plugin " + abi_text(want) +
                     "; rebuild the plugin against this moecheck's installed headers");
  auto entry = reinterpret_cast<moecheck_register_variants_fn>(dlsym(handle, "moecheck_register_variants"));
  if (!entry) throw InputError("plugin " + path + ": no exported moecheck_register_variants entry point");

  Collector collector;
  if (entry(&collector) != 0) throw InputError("plugin " + path + ": moecheck_register_variants failed");
  if (collector.added.empty()) throw InputError("plugin " + path + ": registered no variants");
  std::vector<std::string> names;
  for (auto& v : collector.added) {
    names.push_back(v->name());
    Registry::instance().add(std::move(v), path);
  }
  loaded.insert(key);
  return names;
}

}  // namespace moecheck
