// Case <-> safetensors. Tensor names:
//   x (T, H) BF16/F16/F32; topk_ids (T, k) I32; topk_weights (T, k) F32;
//   w13 (S, 2I, H) and w2 (S, H, I): BF16, F16, F8_E4M3, or U8 (packed e2m1,
//   last dim ceil(K/2)); w13.scale / w2.scale: F32 or U8 (e8m0) or F8_E4M3;
//   w13.tensor_scale / w2.tensor_scale (S) F32 (nvfp4);
//   stored_experts (S) I32 when only some experts are stored.
// __metadata__: moecheck.version, shape (T,H,I,E,k), weight_format, x_format,
// y_format (output format; absent reads as bf16), activation, alpha, limit
// (the fp32 value as a hex float, "0x1.b3b646p+0"; decimal text of older
// files reads too), layout, provenance (the generator spec: a claim, which
// `moecheck case verify` checks by regenerating).
#pragma once

#include <string>

#include "core/generate.hpp"
#include "core/problem.hpp"
#include "core/safetensors.hpp"

namespace moecheck {

inline constexpr int kCaseFileVersion = 1;

// The case as tensors that point into c: valid while c lives, never copied.
StWrite case_views(const Case& c);
std::vector<uint8_t> serialize_case(const Case& c);
// Validates the header's tensors, then reads them straight into the case.
Case case_from_safetensors(const StReader& f);  // throws InputError
void save_case(const std::string& path, const Case& c);  // atomic, streamed
Case load_case(const std::string& path);
// generate_case(spec) saved to `path` without holding the case: each
// expert's weights go to the file as they are made, so a full-size preset
// costs one expert of memory, not the file's size. The file is byte for byte
// the one save_case(path, generate_case(spec)) writes. `head`, when given,
// receives the case without its weights (shape, routing, x, provenance).
void save_generated_case(const std::string& path, const GenSpec& spec, Case* head = nullptr);

}  // namespace moecheck
