#include "kernels/external/external.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>

#include "core/case_io.hpp"
#include "kernels/external/declaration.hpp"
#include "kernels/external/output_file.hpp"
#include "kernels/external/worker.hpp"
#include "kernels/registry.hpp"

namespace moecheck::external {
namespace {

using nlohmann::json;

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}

std::string& loaded_flags() {
  static std::string flags;
  return flags;
}

// What the handshake's "supports" allows; an absent list allows everything.
struct Supports {
  json j;
  std::string reason;  // the worker's own words, appended to ours
  Support check(const Case& c) const {
    auto listed = [&](const char* key, std::string_view v) {
      if (!j.contains(key)) return true;
      for (const json& e : j[key])
        if (e.is_string() && e.get<std::string>() == v) return true;
      return false;
    };
    auto no = [&](const std::string& why) { return Support::no(why + (reason.empty() ? "" : " (" + reason + ")")); };
    if (!listed("weights", weight_format_name(c.w13.format)))
      return no("weights " + std::string(weight_format_name(c.w13.format)) + " not supported");
    if (!listed("x", format_name(c.x_format))) return no("x " + std::string(format_name(c.x_format)) + " not supported");
    if (!listed("y", format_name(c.y_format))) return no("y " + std::string(format_name(c.y_format)) + " not supported");
    if (!listed("activations", activation_name(c.act.kind)))
      return no("activation " + std::string(activation_name(c.act.kind)) + " not supported");
    if (!listed("layouts", layout_name(c.layout)))
      return no("layout " + std::string(layout_name(c.layout)) + " not supported");
    const Shape& s = c.shape;
    for (auto [key, v] : {std::pair{"max_T", s.T}, std::pair{"max_H", s.H}, std::pair{"max_I", s.I},
                          std::pair{"max_E", s.E}, std::pair{"max_k", s.k}})
      if (j.contains(key) && v > j[key].get<int64_t>())
        return no(std::string(key).substr(4) + "=" + std::to_string(v) + " above the worker's " + key + " " +
                  j[key].dump());
    return Support::yes();
  }
};

// A request's case file: validated like save_case, but neither fsync'ed nor
// renamed (save_case's durability costs milliseconds; the file lives for
// one request unless kept, and only the worker reads it).
void write_scratch(const std::string& path, const Case& c) {
  validate(c);
  const std::vector<uint8_t> bytes = serialize_case(c);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) throw InputError("cannot write the request's case file " + path);
}

class External final : public Variant {
 public:
  External(std::string command, double timeout_s) : worker_(std::move(command), timeout_s) {
    const json& h = worker_.hello();
    const std::string who = "worker '" + worker_.command() + "' handshake";
    if (h["moecheck_worker"] != 1) throw InputError(who + ": moecheck_worker must be 1 (the protocol version)");
    if (!h.contains("name") || !h["name"].is_string() || h["name"].get<std::string>().empty())
      throw InputError(who + ": needs a \"name\" string (the variant name)");
    name_ = h["name"].get<std::string>();
    description_ = h.contains("description") && h["description"].is_string() ? h["description"].get<std::string>()
                                                                             : "served by worker '" + worker_.command() + "'";
    if (h.contains("numerics_file") && !h["numerics_file"].is_string())
      throw InputError(who + ": \"numerics_file\" must be a path string");
    if (h.contains("numerics_file") == h.contains("numerics"))
      throw InputError(who + ": give exactly one of \"numerics\" (inline declaration) or \"numerics_file\" (path)");
    decl_ = h.contains("numerics") ? Declaration::parse(h["numerics"], who + ": numerics")
                                   : Declaration::load(h["numerics_file"].get<std::string>());
    const json claims = h.value("claims", json::object());
    if (!claims.is_object()) throw InputError(who + ": \"claims\" must be an object");
    for (const char* k : {"deterministic", "batch_invariant"})
      if (claims.contains(k) && !claims[k].is_boolean()) throw InputError(who + ": claims." + k + " must be true or false");
    claims_.deterministic = claims.value("deterministic", false);
    claims_.batch_invariant = claims.value("batch_invariant", false);
    // Vacuous: with no device entry point there is nothing for run_host to
    // differ from, and the host backend is where moecheck runs a worker.
    claims_.host_twin = true;
    supports_.j = h.value("supports", json::object());
    if (!supports_.j.is_object()) throw InputError(who + ": \"supports\" must be an object");
    for (auto& [k, v] : supports_.j.items()) {
      const bool list = k == "weights" || k == "x" || k == "y" || k == "activations" || k == "layouts";
      const bool limit = k == "max_T" || k == "max_H" || k == "max_I" || k == "max_E" || k == "max_k";
      if (list && !(v.is_array() && std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); })))
        throw InputError(who + ": supports." + k + " must be a list of names");
      if (limit && !v.is_number_integer()) throw InputError(who + ": supports." + k + " must be an integer");
      if (k == "reason" && !v.is_string()) throw InputError(who + ": supports.reason must be a string");
      if (!list && !limit && k != "reason")
        throw InputError(who + ": supports: unknown key '" + k +
                         "' (known: weights, x, y, activations, layouts, max_T, max_H, max_I, max_E, max_k, reason)");
    }
    supports_.reason = supports_.j.value("reason", "");
    char tmpl[] = "/tmp/moecheck-worker-XXXXXX";
    const char* env = std::getenv("TMPDIR");
    std::string base = (env && *env) ? std::string(env) + "/moecheck-worker-XXXXXX" : tmpl;
    if (!mkdtemp(base.data())) throw InputError(who + ": cannot create a temporary directory " + base);
    dir_ = base;
  }
  // Registered variants are never destroyed (kernels/registry.cpp): this
  // runs at exit (cleanup_at_exit).
  void shut_down() {
    worker_.stop();
    std::error_code ec;
    std::filesystem::remove(dir_, ec);  // only when empty: kept cases stay
  }

  std::string name() const override { return name_; }
  std::string family() const override { return "external"; }
  std::string description() const override { return description_; }
  Claims claims() const override { return claims_; }
  Numerics numerics(const Case& c) const override { return decl_.for_case(c); }
  Support supports(const Case& c) const override { return supports_.check(c); }
  bool has_device() const override { return false; }
  size_t workspace_bytes(const Shape&) const override { return 0; }
  void run_device(const DeviceArgs&, void*, CUstream_st*) const override {
    throw InputError(name_ + " is served by a worker process: host backend only");
  }

  void run_host(const Case& c, std::vector<uint8_t>& y) const override {
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t id = ++next_id_;
    const std::string cpath = dir_ + "/case-" + std::to_string(id) + ".safetensors";
    const std::string ypath = dir_ + "/y-" + std::to_string(id) + ".safetensors";
    write_scratch(cpath, c);
    // y is removed whatever happens; the case only once it passed through.
    const std::unique_ptr<const std::string, void (*)(const std::string*)> drop_y(&ypath, [](const std::string* p) {
      std::error_code ec;
      std::filesystem::remove(*p, ec);
    });
    const std::string kept = "; case file kept: " + cpath;
    json reply;
    try {
      reply = worker_.request({{"id", id}, {"case", cpath}, {"output", ypath}});
    } catch (const WorkerError& e) {
      throw WorkerError(e.what() + kept);
    }
    const std::string who = "worker '" + worker_.command() + "'";
    const std::string status = reply.value("status", "");
    if (status == "error") throw WorkerError(who + " failed: " + reply.value("message", "(no message)") + kept);
    if (status != "ok")
      throw WorkerError(who + " replied without \"status\": \"ok\" or \"error\": " + reply.dump().substr(0, 200) + kept);
    try {
      y = read_output_file(ypath, c.shape, numerics(c).output_format);
    } catch (const InputError& e) {
      throw WorkerError(who + " wrote a bad output: " + e.what() + kept);
    }
    std::error_code ec;
    std::filesystem::remove(cpath, ec);
  }

 private:
  mutable Worker worker_;
  mutable std::mutex mu_;
  mutable int64_t next_id_ = 0;
  std::string name_, description_, dir_;
  Declaration decl_;
  Claims claims_;
  Supports supports_;
};

std::vector<External*>& running() {
  static std::vector<External*> all;
  return all;
}

void cleanup_at_exit() {
  for (External* v : running()) v->shut_down();
}

}  // namespace

std::string load_worker(const std::string& command, double timeout_s) {
  if (!(timeout_s > 0)) throw InputError("--exec-timeout must be positive");
  std::unique_ptr<External> v;
  try {
    v = std::make_unique<External>(command, timeout_s);
  } catch (const WorkerError& e) {
    throw InputError(std::string(e.what()) + " (while starting)");  // no handshake: bad usage, exit 2
  }
  const std::string name = v->name();
  if (running().empty()) std::atexit(cleanup_at_exit);
  running().push_back(v.get());
  Registry::instance().add(std::move(v), "worker '" + command + "'");
  char t[32];
  std::snprintf(t, sizeof t, "%g", timeout_s);
  loaded_flags() += " --exec " + shell_quote(command) + " --exec-timeout " + t;
  return name;
}

std::string exec_flags() { return loaded_flags(); }

}  // namespace moecheck::external
