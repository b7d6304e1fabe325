// Definitions behind gemm_launch.cuh; only the inst_<fmt>.cu files include
// this, each instantiating launch_gemm_fmt for its weight format.
#pragma once

#include "core/cuda_check.hpp"
#include "kernels/expert_centric/gemm_launch.cuh"
#include "kernels/warp_decode/family.hpp"

namespace moecheck::ec {

template <Mode M, class W>
void launch_mode(const GemmArgs& g, int64_t cols, int64_t tiles, bool vec, Format xf, cudaStream_t st) {
  const dim3 grid(static_cast<unsigned>((cols + block_cols<M>() - 1) / block_cols<M>()), static_cast<unsigned>(tiles));
  auto go = [&](auto xv) {
    using XV = decltype(xv);
    if (vec)
      tile_gemm<M, true, W, XV><<<grid, kWarps * 32, 0, st>>>(g);
    else
      tile_gemm<M, false, W, XV><<<grid, kWarps * 32, 0, st>>>(g);
    MOECHECK_CHECK_LAUNCH();
  };
  if constexpr (M == Mode::gateup_act)
    warp_decode::with_x(xf, go);
  else
    go(Bf16Vec{});
}

template <class W>
void launch_gemm_fmt(Mode m, const GemmArgs& g, int64_t cols, int64_t tiles, bool vec, Format xf, cudaStream_t st) {
  switch (m) {
    case Mode::gateup_f32: return launch_mode<Mode::gateup_f32, W>(g, cols, tiles, vec, xf, st);
    case Mode::down_bf16: return launch_mode<Mode::down_bf16, W>(g, cols, tiles, vec, xf, st);
    case Mode::gateup_act: return launch_mode<Mode::gateup_act, W>(g, cols, tiles, vec, xf, st);
    case Mode::down_weighted: return launch_mode<Mode::down_weighted, W>(g, cols, tiles, vec, xf, st);
  }
}

}  // namespace moecheck::ec
