// Seeded case generation: (shape, formats, routing and value distributions,
// seed) -> Case, bit for bit the same on every machine and thread count.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/problem.hpp"

namespace moecheck {

enum class RoutingDist : uint8_t { uniform, zipf, one_set, distinct, adversarial };
enum class ValueDist : uint8_t { normal, uniform, heavy, integer, cancel };
std::string_view routing_name(RoutingDist r);
RoutingDist parse_routing(std::string_view name);
std::string_view values_name(ValueDist v);
ValueDist parse_values(std::string_view name);

enum class ExpertStorage : uint8_t { automatic, all, routed };

struct GenSpec {
  std::string preset;  // informational; shape holds the numbers
  Shape shape;
  WeightFormat weights = WeightFormat::bf16;
  Format x_format = Format::bf16;
  Format y_format = Format::bf16;  // the output format asked for; draws nothing
  ActivationSpec act;
  GateUpLayout layout = GateUpLayout::concatenated;
  RoutingDist routing = RoutingDist::uniform;
  ValueDist values = ValueDist::normal;
  ExpertStorage storage = ExpertStorage::automatic;
  uint64_t seed = 1;
};

// Value distributions:
//   normal   x ~ N(0,1) (Irwin-Hall approximation), weights ~ N(0, 1/K)
//   uniform  x ~ U(-1,1), weights ~ U(-1,1)/sqrt(K)
//   heavy    slash-distributed x with a few outlier channels 32x larger (as
//            LLM activations have), normal weights
//   integer  x in {-2..2}, weights in {-1,0,1}, routing weights powers of two:
//            every product and sum stays an exactly representable integer
//   cancel   neurons in pairs whose down columns cancel and whose h differ
//            only through one hidden channel set to 2^-e per token: |y| is
//            about 2^-e of its condition number, e down to ~56 (make_cancelling)
// Throws InputError, naming the size, when the case cannot fit in memory.
Case generate_case(const GenSpec& spec);

// generate_case in parts, for checking a large case expert by expert without
// a second copy: the case with routing, x and provenance but no weights
// (stacks of 0 experts), and each expert's weights as generate_case stores
// them (stacks of 1 expert; the reference stays valid until the next call).
Case generate_case_without_weights(const GenSpec& spec);
struct ExpertWeights {
  WeightStack w13, w2;
};
class ExpertGenerator {
 public:
  explicit ExpertGenerator(const GenSpec& spec);
  const ExpertWeights& operator()(int32_t expert);

 private:
  GenSpec spec_;
  std::vector<float> m13_, m2_;  // fp32 masters, reused across experts
  ExpertWeights out_;
};

// The spec as JSON (stored as the case's provenance) and back.
std::string spec_to_json(const GenSpec& spec);
GenSpec spec_from_json(std::string_view json);  // throws InputError

}  // namespace moecheck
