// Built-in variants: one line each. Keep one variant per line so families
// merge without conflicts.
#include "kernels/registry.hpp"

namespace moecheck {

void register_builtin_variants(Registry& r) {
  // warp_decode family (kernels/warp_decode/)
  MOECHECK_BUILTIN_VARIANT(make_warp_decode);
  MOECHECK_BUILTIN_VARIANT(make_warp_decode_h32);
  MOECHECK_BUILTIN_VARIANT(make_warp_decode_grouped);
  // expert_centric family (kernels/expert_centric/)
  MOECHECK_BUILTIN_VARIANT(make_expert_centric);
  MOECHECK_BUILTIN_VARIANT(make_expert_centric_fused);
  MOECHECK_BUILTIN_VARIANT(make_expert_centric_mxfp8);
  MOECHECK_BUILTIN_VARIANT(make_expert_centric_fp8);
  // picks one of the above per (shape, T) (kernels/auto/)
  MOECHECK_BUILTIN_VARIANT(make_auto);
}

}  // namespace moecheck
