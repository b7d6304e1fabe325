#include "kernels/registry.hpp"


#include "core/error.hpp"

namespace moecheck {

Registry& Registry::instance() {
  static Registry* r = [] {
    auto* reg = new Registry();  // never destroyed: plugin variants outlive static teardown order
    register_builtin_variants(*reg);
    return reg;
  }();
  return *r;
}

void Registry::add(std::unique_ptr<Variant> v, std::string origin) {
  if (!v) throw InputError("variant registration from " + origin + ": null variant");
  const std::string name = v->name();
  if (name.empty()) throw InputError("variant registration from " + origin + ": empty name");
  if (const Variant* old = find(name); old != nullptr)
    throw InputError("variant '" + name + "' from " + origin + " is already registered (from " +
                     this->origin(name) + ")");
  entries_.push_back({std::move(v), std::move(origin)});
}

const Variant* Registry::find(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.variant->name() == name) return e.variant.get();
  return nullptr;
}

const Variant& Registry::get(std::string_view name) const {
  if (const Variant* v = find(name)) return *v;
  std::string known;
  for (const auto& n : names()) known += (known.empty() ? "" : ", ") + n;
  throw InputError("unknown variant '" + std::string(name) + "' (known: " + known +
                   "; plugins add more with --plugin PATH)");
}

std::vector<const Variant*> Registry::all() const {
  std::vector<const Variant*> out;
  for (const auto& e : entries_) out.push_back(e.variant.get());
  return out;
}

std::string Registry::origin(std::string_view name) const {
  for (const auto& e : entries_)
    if (e.variant->name() == name) return e.origin;
  return {};
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.variant->name());
  return out;
}

const Variant& find_variant(std::string_view name) { return Registry::instance().get(name); }
std::vector<const Variant*> all_variants() { return Registry::instance().all(); }

}  // namespace moecheck
