// The variant registry: built-in variants (kernels/builtin.cpp) and those of
// loaded plugins (kernels/plugin.hpp), looked up by name.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/variant.hpp"

namespace moecheck {

class Registry {
 public:
  // The process-wide registry, built-ins already added.
  static Registry& instance();

  // Throws InputError when the name is empty or already taken (the message
  // names where the first one came from).
  void add(std::unique_ptr<Variant> v, std::string origin);

  const Variant* find(std::string_view name) const;
  // Throws InputError listing the known names when there is none.
  const Variant& get(std::string_view name) const;
  std::vector<const Variant*> all() const;  // registration order
  std::string origin(std::string_view name) const;  // "builtin" or the plugin path
  std::vector<std::string> names() const;

 private:
  Registry() = default;
  struct Entry {
    std::unique_ptr<Variant> variant;
    std::string origin;
  };
  std::vector<Entry> entries_;
};

// Convenience wrappers on Registry::instance().
const Variant& find_variant(std::string_view name);
std::vector<const Variant*> all_variants();

// Defined in kernels/builtin.cpp.
void register_builtin_variants(Registry& r);

}  // namespace moecheck

// Inside register_builtin_variants: declares the factory
// `std::unique_ptr<Variant> factory();` (namespace moecheck) and adds its
// variant, so each built-in variant is one line.
#define MOECHECK_BUILTIN_VARIANT(factory)                      \
  do {                                                         \
    extern std::unique_ptr<::moecheck::Variant> factory();     \
    r.add(factory(), "builtin");                               \
  } while (0)
