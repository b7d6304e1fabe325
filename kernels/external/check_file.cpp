#include "kernels/external/check_file.hpp"

#include "core/error.hpp"
#include "kernels/external/output_file.hpp"

namespace moecheck::external {
namespace {

class Declared final : public Variant {
 public:
  explicit Declared(Declaration d) : d_(std::move(d)) {}
  std::string name() const override { return d_.name().empty() ? "declared" : d_.name(); }
  std::string family() const override { return "external"; }
  std::string description() const override { return "an output computed outside moecheck"; }
  Claims claims() const override { return {}; }
  Numerics numerics(const Case& c) const override { return d_.for_case(c); }
  Support supports(const Case&) const override { return Support::yes(); }
  bool has_device() const override { return false; }
  size_t workspace_bytes(const Shape&) const override { return 0; }
  void run_device(const DeviceArgs&, void*, CUstream_st*) const override { nothing_to_run(); }
  void run_host(const Case&, std::vector<uint8_t>&) const override { nothing_to_run(); }

 private:
  [[noreturn]] void nothing_to_run() const {
    throw InputError(name() + " only declares numerics: its output comes from a file");
  }
  Declaration d_;
};

}  // namespace

std::unique_ptr<Variant> declared_variant(Declaration d) { return std::make_unique<Declared>(std::move(d)); }

CheckResult check_output_file(const Case& c, const OracleResult& o, const Declaration& d, const std::string& y_path) {
  const auto v = declared_variant(d);
  const std::vector<uint8_t> y = read_output_file(y_path, c.shape, v->numerics(c).output_format);
  return check_output(c, o, *v, y);
}

}  // namespace moecheck::external
