// The property catalog (DESIGN.md section 6): one runner shared by the gtest
// property suite, `moecheck fuzz` and `moecheck replay`. A property is checked
// for one variant on one backend against a CaseContext, which computes the
// oracle, the variant's bounds and its first output once and reuses them for
// every property of that case (the oracle is the expensive part).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"
#include "kernels/variant.hpp"
#include "oracle/bounds.hpp"
#include "oracle/oracle.hpp"

namespace moecheck::props {

enum class Backend : uint8_t { host, cuda };
std::string_view backend_name(Backend b);
Backend parse_backend(std::string_view name);  // throws InputError

enum class Property : uint8_t {
  accuracy,          // every output within its rigorous bound; no NaN/Inf from finite inputs
  differential,      // every other variant agrees within the sum of both bounds
  twin,              // device output equals the host twin bit for bit (cuda only)
  determinism,       // repeated runs bitwise identical
  batch_invariance,  // a token alone gives bitwise its row of the batch (report only without the claim)
  permutation,       // permuting each token's top-k order stays within the bound
  zero_weight,       // a zero routing weight removes that expert's contribution
  linearity,         // y(s w) within the bound of s y(w), s a power of two
  isolation,         // NaN in unselected experts' weights / other tokens' x never reaches an output
  exact,             // exact-integer bilinear cases come out exact where the declaration allows
};
std::string_view property_name(Property p);
Property parse_property(std::string_view name);  // throws InputError
const std::vector<Property>& all_properties();
std::vector<Property> parse_property_list(std::string_view comma_separated);  // "" -> all

// skip: the property does not apply (unsupported case, no device, no claim
// to check); report: a measured fact that is not a failure (batch variance of
// a variant that does not claim batch invariance).
enum class Status : uint8_t { pass, fail, skip, report };
std::string_view status_name(Status s);

struct Verdict {
  Property property = Property::accuracy;
  Status status = Status::pass;
  std::string variant;
  Backend backend = Backend::host;
  std::string detail;  // why it failed / was skipped; first bad element with error and bound
  bool failed() const { return status == Status::fail; }
};

// Whether v can run on backend b in this process; the reason when not.
bool backend_runs(const Variant& v, Backend b, std::string* why = nullptr);
// (T, H) output codes of one fresh run; the host output buffer is prefilled
// with NaN codes, as the device one is, so unwritten elements cannot pass.
std::vector<uint8_t> run_variant(const Variant& v, const Case& c, Backend b);

// "T=3 H=65 I=31 E=8 k=2 weights=bf16 x=bf16 act=swiglu layout=interleaved"
std::string case_summary(const Case& c);

// Its lazy results may be asked for from several threads at once (the
// fuzzer runs a small case's properties side by side): each is computed
// outside the lock and kept by whichever thread stores it first.
class CaseContext {
 public:
  // Validates c (InputError). threads: OpenMP threads for the oracle and the
  // bounds of this case; 0 picks by size (one thread per 2^13 multiply-adds:
  // small cases' parallel regions cost more in fork/join than they save).
  explicit CaseContext(Case c, int threads = 0);
  const Case& base() const { return case_; }
  const OracleResult& oracle();
  const Bounds& bounds(const Variant& v);
  // The first output of v on b (decoded through its declared output format).
  const std::vector<uint8_t>& output(const Variant& v, Backend b);
  // Some element, partial sum or intermediate may leave the finite range of
  // a format the variant declares, the output format included, or a NaN or
  // infinite input reaches an output: the properties that compare outputs
  // with each other (not with the oracle's rule) skip such cases.
  bool may_overflow(const Variant& v);
  // kernels/check.hpp: the excuse of the accuracy rule.
  bool intermediates_may_overflow(const Variant& v);
  int threads() const { return threads_; }
  // For a context over some tokens of a larger batch: the output v gave for
  // those rows in the whole batch (what the oracle then judges), and the
  // batch whose shape v declares its numerics for (a declaration may depend
  // on T).
  void set_output(const Variant& v, Backend b, std::vector<uint8_t> y);
  void declare_as(const Case& whole);
  Numerics numerics(const Variant& v) const;

 private:
  Case case_;
  int threads_;
  std::mutex mu_;  // guards the caches below; computation runs unlocked
  std::once_flag oracle_once_;
  std::unique_ptr<OracleResult> oracle_;
  std::optional<double> weight_max_;  // max |dequantized weight| over the selected experts
  std::map<std::string, Bounds> bounds_;
  std::map<std::string, std::vector<uint8_t>> outputs_;
  std::optional<Case> declared_;  // tensors left empty: numerics() reads shape and formats only
};

// Checks one property. `peers` are the other variants for `differential`.
// A variant that throws fails; the case itself was validated by CaseContext.
Verdict check_property(Property p, const Variant& v, Backend b, CaseContext& ctx,
                       const std::vector<const Variant*>& peers);

// Tokens `rows` of c (in that order, repeats allowed) as a case of their own,
// with the same weights and stored experts: a token's oracle and bounds
// depend on nothing else.
Case select_tokens(const Case& c, const std::vector<int64_t>& rows);

// Batch sizes batch invariance compares a token alone against.
std::vector<int64_t> batch_sizes();
// Each token of `tokens` alone against its row in c's batch, then inside at
// most max_batches batches of batch_sizes() (taken in turn from first_size;
// built from c's tokens, repeated where larger than T) at the first, last and
// middle position, while the tokens run stay within max_tokens; output in
// fp32 where v writes it.
Verdict check_batch_invariance(const Variant& v, Backend b, const Case& c, const std::vector<int64_t>& tokens,
                               int64_t max_tokens, int max_batches, uint64_t first_size);

// The production-scale tier: the whole batch runs (determinism, batch
// invariance, no unwritten element); tokens sample_tokens() picks (first,
// last, a random one, the holders of the largest storage slot and expert id)
// are judged by every other property as a batch of their own, with the
// whole batch's rows as the variant's output.
std::vector<int64_t> sample_tokens(const Case& c, uint64_t seed);
// seconds, when given, gains the time of the whole-batch run and of each
// property (the sampled tokens' oracle goes to the first that needs it).
std::vector<Verdict> check_sampled(const std::vector<Property>& props, const Variant& v, Backend b, const Case& c,
                                   const std::vector<const Variant*>& peers, uint64_t seed,
                                   std::map<std::string, double>* seconds = nullptr);

// First flat index in [begin, end) that breaks the accuracy rule of
// kernels/check.hpp (judge_element, no overflow excuse) for output format
// out; -1 when none.
int64_t first_outside(Format out, const OracleResult& o, const std::vector<double>& y,
                      const std::vector<double>& bound, int64_t begin, int64_t end);

}  // namespace moecheck::props
