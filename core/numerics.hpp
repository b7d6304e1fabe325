// A kernel variant's numerics declaration: what the bounds are derived from
// (oracle/BOUNDS.md). It says how each reduction is shaped, in what format it
// accumulates and where intermediates are rounded. A variant that rounds
// somewhere it does not declare must fail its accuracy property.
#pragma once

#include <cstdint>
#include <optional>

#include "core/formats.hpp"

namespace moecheck {

// How a dot product of length n is reduced: `lanes` partial sums, each a
// sequential chain over its share of the terms (fma: product not rounded
// separately), then a log2(lanes)-level pairwise tree. lanes = 1 is a plain
// sequential sum. `block` > 0 means the chain is cut into blocks of that many
// terms whose partial sums are added in sequence (tensor-core K tiles).
struct ReductionShape {
  int lanes = 32;
  bool fma = true;
  int block = 0;
  // > 0: the order is known, and the bound follows it (running error bound
  // over the actual partial sums, much tighter than gamma_n; BOUNDS.md 2.4):
  // terms are dealt to lanes in chunks of `chunk` consecutive terms, chunk c
  // to lane c % lanes; each lane's chain (cut into `block`-term blocks when
  // block > 0) runs in increasing term order from +0; the lanes are then
  // summed by an xor butterfly (offsets lanes/2, ..., 1; lanes rounded up to
  // a power of two, absent lanes holding exact zeros). With lanes = 1 any
  // chunk > 0 means plain increasing order. 0: order not declared, gamma_n.
  int chunk = 0;
};

// Where the routing weight w_j enters the down projection.
enum class Combine : uint8_t {
  // Warp decode: one accumulator per lane across all k experts; each expert's
  // lane partial over its slice of I is folded in as acc = fma(w_j, p_j, acc).
  fold_partials,
  // Expert-centric: each expert's output y_j = D_j h_j is finished (and
  // rounded to `expert_out_format`), then y = sum_j w_j * y_j sequentially.
  per_expert_outputs,
  // Routing weight in the down GEMM's epilogue (vLLM's fused MoE): y_j =
  // RN(fl(w_j * D_j h_j)) to `expert_out_format`, then y = sum_j y_j in any
  // order. Unordered down reductions only (BOUNDS.md 2.7).
  weighted_expert_outputs,
  // Routing weight applied before the down projection: h' = RN(fl(w_j * h))
  // to `h_format`, y_j = D_j h' (rounded to `expert_out_format`), y = sum_j
  // y_j in any order. Unordered down reductions only (BOUNDS.md 2.7).
  weighted_h,
};

// How x_requant / h_requant scale the values they round.
enum class RequantScale : uint8_t {
  // A power-of-two scale per requant_block values (OCP MX), or none (block 0).
  pow2_block,
  // One fp32 scale per row (per-token fp8): s = max(fl(amax / max_f),
  // 2^-126), elements sat_f(RN_f(fl(v / s))); the GEMM sums the element codes
  // and multiplies its fp32 result by s (epilogue_roundings counts that
  // rounding). requant_block is unused (oracle/BOUNDS.md 2.1).
  fp32_row,
};

struct Numerics {
  Format accumulator = Format::f32;
  // Unit of the accumulator's rounding; 0 means unit_roundoff(accumulator).
  // Tensor cores that truncate in their adder trees declare 2^-23 here.
  double accumulator_unit = 0;
  // fp32 (accumulator) roundings in each dequantized weight of w13 and w2
  // before it meets x or h: 0 exact (bf16, f16, power-of-two MX scales), 1
  // for w = fl(e * s) with an fp32 scale s, 2 for w = fl(e * fl(s1 * s2))
  // (NVFP4's e4m3 block scale times its fp32 tensor scale, |e| <= 6).
  // Each rounding adds u |w| + eta_f (its underflow floor) to the weight,
  // the later ones scaled by |e| (oracle/BOUNDS.md 2.1). -1: inferred, one
  // rounding where the exact value has more significant bits than the
  // accumulator, none elsewhere.
  int weight_roundings = -1;
  // Dequantized weights rounded to this format before the product (weight-
  // only quantized GEMMs feeding bf16 tensor cores: w_tile = RN(w_dequant));
  // nullopt: the dequantized weight is used as weight_roundings says. Costs
  // u_f |w| + floor_f per weight, no relative part where the exact value has
  // at most the format's precision and no fp32 rounding (oracle/BOUNDS.md 2.1).
  std::optional<Format> weight_tile_format;
  // Activations re-quantized before the gate/up product (x in this format);
  // nullopt when x is used as given.
  std::optional<Format> x_requant;
  ReductionShape gate_up;
  // g and u rounded to this format before the activation (a GEMM that writes
  // its gate/up output in bf16); nullopt: kept in the accumulator.
  std::optional<Format> gate_up_format;
  // The activation's gate factor (silu(g), gelu(g), alpha-silu(clamp g), g)
  // rounded to this format before it multiplies u: a separate activation
  // kernel and multiply (PyTorch eager). nullopt: one fused evaluation.
  std::optional<Format> gate_act_format;
  // Activation evaluated in fp32 from the rounded g, u; its own error in fp32
  // ulps of the result on top of the propagated input error.
  double activation_ulps = 4;
  Format h_format = Format::f32;  // where h is rounded between the two GEMMs
  std::optional<Format> h_requant;  // e.g. MXFP8 re-quantization of h
  // Values per shared power-of-two scale of x_requant / h_requant, along the
  // reduction dimension (OCP MX: 32, scale 2^(floor(log2 amax) - emax_elem),
  // elements saturating); 0 means plain element-wise rounding with no scale.
  // The bound's absolute floor (underflow) depends on it (oracle/BOUNDS.md 2.1).
  int requant_block = 32;
  RequantScale requant_scale = RequantScale::pow2_block;
  // fp32 roundings of each gate/up and down GEMM output after its sum, by
  // scales applied in the epilogue: 1 for fl(acc * s_row), 2 for
  // fl(fl(acc * s_row) * s_w) with s_w the weight row's fp32 scale (its
  // codes then enter the sum as they are). Each adds one rounding to every
  // term's path plus an underflow floor per output (oracle/BOUNDS.md 2.1).
  int epilogue_roundings = 0;
  ReductionShape down;
  Combine combine = Combine::fold_partials;
  Format expert_out_format = Format::f32;  // per_expert_outputs / weighted_expert_outputs only
  // Every add of the top-k sum rounded to this format (a bf16 running sum);
  // nullopt: the accumulator. Per-expert combines with unordered down only.
  std::optional<Format> topk_sum_format;
  Format output_format = Format::bf16;
};

}  // namespace moecheck
