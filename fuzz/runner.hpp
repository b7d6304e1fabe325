// `moecheck fuzz` and `moecheck replay`: the fuzzing loop around the property
// catalog (properties/properties.hpp) with RapidCheck generation and
// shrinking, a live status line, and failures saved as corpus case files.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "core/shard.hpp"
#include "fuzz/generators.hpp"
#include "kernels/variant.hpp"
#include "properties/properties.hpp"

namespace moecheck::fuzz {

struct FuzzOptions {
  std::string variant;
  std::vector<std::string> plugins;  // already loaded; only echoed in replay commands
  double time_s = 60;                // search time (shrinking has its own budget)
  int64_t cases = -1;                // stop after this many cases instead, when >= 0
  uint64_t seed = 1;
  // This runner fuzzes RapidCheck chunks k with shard.owns(k): n shards with
  // one seed search disjoint cases; --time / --cases apply to each shard.
  Shard shard;
  props::Backend backend = props::Backend::host;
  std::vector<props::Property> properties;  // empty: all
  std::string corpus = "fuzz/corpus";
  int max_size = 40;                 // RapidCheck size: shapes grow with it
  double shrink_time_s = 60;
  bool live = false;                 // rewrite one status line (terminal) instead of plain lines
};

// Returns the exit status: 0 no failure, 1 a failure found (shrunk, saved).
// Throws InputError for bad options (unknown variant, nothing supported).
int run_fuzz(const FuzzOptions& opt, std::ostream& out);

// Every property of every chosen variant (one, or all registered that
// support the case) on every chosen backend; one verdict line each.
// Returns 1 when any property fails, else 0.
int run_replay(const std::string& case_file, const std::string& variant, const std::vector<std::string>& backends,
               const std::vector<std::string>& plugins, std::ostream& out);

// Saves the case (atomically) as DIR/VARIANT-PROPERTY-HASH.safetensors, its
// provenance the generator spec plus the specials; returns the path.
std::string save_failure(const std::string& dir, const std::string& variant, props::Property p, const FuzzCase& fc);

// (weight format, x format) pairs and activations v supports, probed on tiny
// generated cases, so the generator wastes no time on unsupported cases.
GenOptions supported_options(const Variant& v);

// Reference peers for the differential property: the built-in variants
// (trusted), without v itself.
std::vector<const Variant*> reference_peers(const Variant& v);

}  // namespace moecheck::fuzz
