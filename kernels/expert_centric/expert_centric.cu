// Device path of the expert-centric family: launches only, on the caller's
// stream, into the caller's workspace (plan.hpp). No allocation, no host
// sync: every grid is sized for the worst routing and blocks past the real
// tile count (read on the device) return at once.
#include <cuda_runtime.h>

#include <stdexcept>

#include "core/cuda_check.hpp"
#include "kernels/expert_centric/ec_kernels.cuh"
#include "kernels/expert_centric/expert_centric.hpp"
#include "kernels/expert_centric/gemm_launch.cuh"
#include "kernels/warp_decode/family.hpp"

namespace moecheck::ec {
namespace {

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

// One GEMM in mode m with weights in format wf (gemm_launch.cuh); codes:
// fp8_channel weights as their bare e4m3 codes (expert_centric_fp8;
// gateup_f32 only, which writes the fp32 sums for its epilogue).
void launch_gemm(Mode m, const GemmArgs& g, int64_t cols, int64_t tiles, bool vec, WeightFormat wf, Format xf,
                 cudaStream_t st, bool codes = false) {
  if (codes && m == Mode::gateup_f32) return launch_gemm_codes(g, cols, tiles, vec, st);
  warp_decode::with_weights(wf, [&](auto w) { launch_gemm_fmt<decltype(w)>(m, g, cols, tiles, vec, xf, st); });
}

template <class T>
T* at(void* ws, int64_t off) {
  return reinterpret_cast<T*>(static_cast<char*>(ws) + off);
}

}  // namespace

void run_device(const DeviceArgs& a, void* ws, CUstream_st* stream, bool fused, Requant rq) {
  if (fused && rq != Requant::none)
    throw std::invalid_argument("expert-centric: activation re-quantization is on the eight-stage path only");
  warp_decode::check_output_format("expert-centric", a.y_format);
  cudaStream_t st = stream;
  const Shape& s = a.shape;
  const bool mxfp8 = rq == Requant::mxfp8, fp8 = rq == Requant::fp8_row;
  const Layout L = plan_layout(s, fused, fp8);
  const int64_t N = pair_count(s), tiles = max_tiles(s), rows = max_rows(s);
  auto* sorted = at<int32_t>(ws, L.sorted_pair);
  auto* row_of = at<int32_t>(ws, L.row_of_pair);
  auto* tile_e = at<int32_t>(ws, L.tile_expert);
  auto* ntiles = at<int32_t>(ws, L.num_tiles);
  auto* h = at<uint16_t>(ws, L.h);
  const void* x = a.x;
  const WeightFormat wf = a.weight_format;
  const Format xf = a.x_format;
  const int S = static_cast<int>(s.E);

  // 1-2. count, stable sort and pad (token, slot) pairs by expert.
  align_kernel<<<1, 256, 3 * S * sizeof(int), st>>>(a.topk_ids, static_cast<int>(N), S, sorted, row_of, tile_e, ntiles);
  MOECHECK_CHECK_LAUNCH();

  const bool interleaved = a.layout == GateUpLayout::interleaved;
  // 16-byte vector paths (8 weights or activations per half-chunk; scales
  // and tensor scales are read element-wise).
  const bool vec_h = s.H % 8 == 0 && aligned16(x) && aligned16(a.w13);
  const bool vec_i = s.I % 8 == 0 && aligned16(a.w2);
  GemmArgs g{};
  g.sorted_pair = sorted;
  g.tile_expert = tile_e;
  g.num_tiles = ntiles;
  g.k = static_cast<int>(s.k);
  g.I = static_cast<int>(s.I);
  g.interleaved = interleaved;
  g.act = a.act;
  g.topk_w = a.topk_weights;

  if (fused) {
    // gate/up through the sorted index, activation in the epilogue: h (rows, I).
    GemmArgs g1 = g;
    g1.a = x, g1.w = a.w13, g1.w_scale = a.w13_scale, g1.w_ts = a.w13_tensor_scale;
    g1.R = 2 * s.I, g1.K = s.H, g1.out = h, g1.ldo = s.I;
    launch_gemm(Mode::gateup_act, g1, s.I, tiles, vec_h, wf, xf, st);
    // down with w_j in the epilogue: yw (N, H) f32.
    auto* yw = at<float>(ws, L.yw);
    GemmArgs g2 = g;
    g2.a = h, g2.w = a.w2, g2.w_scale = a.w2_scale, g2.w_ts = a.w2_tensor_scale;
    g2.R = s.H, g2.K = s.I, g2.out = yw, g2.ldo = s.H;
    launch_gemm(Mode::down_weighted, g2, s.H, tiles, vec_i, wf, xf, st);
    const int64_t n_out = s.T * s.H;
    topk_sum_kernel<<<static_cast<unsigned>((n_out + 255) / 256), 256, 0, st>>>(yw, s.T, s.H, g.k, a.y_format,
                                                                                  a.y);
    MOECHECK_CHECK_LAUNCH();
    return;
  }

  auto* xg = at<uint16_t>(ws, L.xg);
  auto* gu = at<float>(ws, L.gu);
  auto* ys = at<uint16_t>(ws, L.ys);
  // fp8: row scales of xg and h, fp8_channel weights as bare codes (their
  // scales in the epilogues).
  auto* sx = at<float>(ws, L.sx);
  auto* sh = at<float>(ws, L.sh);
  const bool codes = fp8 && wf == WeightFormat::fp8_channel;
  // 3. gather x into the expert-major padded buffer xg (rows, H) bf16; with
  // mxfp8, re-quantized to MXFP8 values from x's own format (bf16 storage,
  // exact); with fp8, to e4m3 codes (as bf16) and their row scales sx.
  if (mxfp8) {
    gather_mxfp8_rows(x, xf, s.H, g.k, sorted, rows, ntiles, xg, st);
  } else if (fp8) {
    gather_fp8_rows(x, xf, s.H, g.k, sorted, rows, ntiles, xg, sx, st);
  } else {
    warp_decode::with_x(xf, [&](auto xv) {
      gather_kernel<decltype(xv)><<<static_cast<unsigned>(rows), 256, 0, st>>>(x, s.H, g.k, sorted, ntiles, xg);
      MOECHECK_CHECK_LAUNCH();
    });
  }
  // 4. gate/up grouped GEMM: gu (rows, 2I) f32 (fp8: sums of code products).
  GemmArgs g1 = g;
  g1.a = xg, g1.w = a.w13, g1.w_scale = a.w13_scale, g1.w_ts = a.w13_tensor_scale;
  g1.R = 2 * s.I, g1.K = s.H, g1.out = gu, g1.ldo = 2 * s.I;
  launch_gemm(Mode::gateup_f32, g1, 2 * s.I, tiles, s.H % 8 == 0 && aligned16(a.w13), wf, xf, st, codes);
  // 5. activation: h (rows, I) bf16; fp8: from the epilogue of the sums,
  // then re-quantized to codes and row scales sh.
  if (fp8) {
    act_fp8_rows(gu, s.I, interleaved, a.act, sorted, tile_e, ntiles, rows, sx,
                 codes ? static_cast<const float*>(a.w13_scale) : nullptr, h, sh, st);
  } else {
    activation_kernel<<<static_cast<unsigned>(rows), 256, 0, st>>>(gu, s.I, interleaved, a.act, sorted, ntiles, h);
    MOECHECK_CHECK_LAUNCH();
    if (mxfp8) requant_mxfp8_rows(h, s.I, rows, ntiles, st);  // 5b. h -> MXFP8 values
  }
  GemmArgs g2 = g;
  g2.a = h, g2.w = a.w2, g2.w_scale = a.w2_scale, g2.w_ts = a.w2_tensor_scale;
  g2.R = s.H, g2.K = s.I, g2.ldo = s.H;
  if (fp8) {
    // 6-7. down grouped GEMM as fp32 sums yacc (rows, H) (the gateup_f32
    // mode stores its sums as they are), then the epilogue, bf16 per-expert
    // outputs, scattered to pair order: ys (N, H).
    auto* yacc = at<float>(ws, L.yacc);
    g2.out = yacc;
    launch_gemm(Mode::gateup_f32, g2, s.H, tiles, vec_i, wf, xf, st, codes);
    scatter_fp8(yacc, s.H, N, row_of, tile_e, sh, codes ? static_cast<const float*>(a.w2_scale) : nullptr, ys, st);
  } else {
    // 6. down grouped GEMM: ye (rows, H) bf16 per-expert outputs.
    auto* ye = at<uint16_t>(ws, L.ye);
    g2.out = ye;
    launch_gemm(Mode::down_bf16, g2, s.H, tiles, vec_i, wf, xf, st);
    // 7. scatter to pair order: ys (N, H).
    scatter_kernel<<<static_cast<unsigned>(N), 256, 0, st>>>(ye, s.H, row_of, ys);
    MOECHECK_CHECK_LAUNCH();
  }
  // 8. combine with the routing weights: y (T, H) bf16.
  const int64_t n_out = s.T * s.H;
  combine_kernel<<<static_cast<unsigned>((n_out + 255) / 256), 256, 0, st>>>(ys, a.topk_weights, s.T, s.H, g.k,
                                                                              a.y_format, a.y);
  MOECHECK_CHECK_LAUNCH();
}

}  // namespace moecheck::ec
