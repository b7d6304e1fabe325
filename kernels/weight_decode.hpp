// Weight decoders a plugin's device code can use (and its host twin: every
// function is MOECHECK_HD): one loader per weight format, the same code
// moecheck's warp decode kernels read weights with, so a plugin reads every
// format without copying it.
//
//   #include <moecheck/kernels/weight_decode.hpp>
//   moecheck::weight_decode::with_weight_format(a.weight_format, [&](auto w) {
//     using W = decltype(w);
//     my_kernel<W><<<...>>>(a);   // in the kernel:
//   });                           //   auto row = W::row(a.w13, a.w13_scale, a.w13_tensor_scale, slot, 2 * I, H, r);
//                                 //   float v = W::at(row, k);   // fl32(element * scale), core/weights.hpp layouts
//
// W::at rounds as moecheck::weight_decode::roundings(format) says (Numerics::
// weight_roundings): 0 for bf16, f16, mxfp8, mxfp4; 1 for fp8_channel,
// fp8_block128; 2 for nvfp4.
#pragma once

#include <utility>

#include "kernels/warp_decode/warp_math.hpp"

namespace moecheck::weight_decode {

using warp_decode::Bf16Weights;
using warp_decode::F16Weights;
using warp_decode::Fp8Block128Weights;
using warp_decode::Fp8ChannelWeights;
using warp_decode::Mxfp4Weights;
using warp_decode::Mxfp8Weights;
using warp_decode::Nvfp4Weights;

MOECHECK_HD int roundings(WeightFormat f) { return warp_decode::dequant_roundings(f); }

// Calls fn with the loader of format f (host side: picks the kernel to launch).
template <class Fn>
decltype(auto) with_weight_format(WeightFormat f, Fn&& fn) {
  return warp_decode::with_weights(f, std::forward<Fn>(fn));
}

}  // namespace moecheck::weight_decode
