// expert_centric_fp8: the eight-stage expert-centric path with the
// activations going into each GEMM re-quantized to fp8 e4m3 with one fp32
// scale per row (fp8_row.hpp), as production w8a8 fp8 paths do (vLLM's
// dynamic per-token fp8 quantization feeding cutlass_scaled_mm): the GEMMs
// sum the e4m3 codes times the weights in fp32 and the epilogue multiplies
// by the row's scale, then by the weight row's scale for fp8_channel weights
// (whose codes are then the B operand as they are). Every other weight
// format is dequantized into the bf16 tile as in expert_centric. The codes
// are bf16 values, so the bf16 tensor-core GEMMs run unchanged: numerically
// an fp8 x fp8 (fp8_channel) or fp8 x bf16 GEMM with fp32 accumulation.
#include <stdexcept>
#include <string>

#include "kernels/expert_centric/expert_centric.hpp"
#include "kernels/expert_centric/plan.hpp"

namespace moecheck {
namespace {

class ExpertCentricFp8 final : public Variant {
 public:
  std::string name() const override { return "expert_centric_fp8"; }
  std::string family() const override { return "expert_centric"; }
  std::string description() const override {
    return "expert_centric with x and h re-quantized to fp8 e4m3 with one fp32 scale per row (amax / 448) before "
           "each grouped GEMM, scales applied in the GEMM epilogue (fp8_channel weights: codes in the tile, "
           "their scale in the epilogue too)";
  }
  // As expert_centric: the re-quantization is a per-row function of the
  // row's own values (block max, no atomics), so determinism and batch
  // invariance hold.
  Claims claims() const override { return base_->claims(); }

  Numerics numerics(const Case& c) const override {
    Numerics n = base_->numerics(c);
    n.x_requant = Format::e4m3;  // gathered x rows, from x's own values (any x format)
    n.h_requant = Format::e4m3;  // h after its bf16 rounding
    n.requant_scale = RequantScale::fp32_row;
    n.requant_block = 0;  // the whole row (requant_scale)
    // fl(acc * s_row), then fl(. * s_w) for fp8_channel's row scale (exact
    // product by 1 elsewhere).
    if (c.w13.format == WeightFormat::fp8_channel) {
      n.epilogue_roundings = 2;
      n.weight_roundings = 0;             // w = e * s_w exactly: the tile holds e
      n.weight_tile_format.reset();       // e4m3 codes are bf16 values
    } else {
      n.epilogue_roundings = 1;
    }
    return n;
  }

  // As expert_centric (every weight format, x in bf16, f16 or f32), on the
  // eight-stage path.
  Support supports(const Case& c) const override { return base_->supports(c); }

  bool has_device() const override { return base_->has_device(); }
  size_t workspace_bytes(const Shape& s) const override {
    return static_cast<size_t>(ec::plan_layout(s, /*fused=*/false, /*fp8_row=*/true).total);
  }
  void run_device(const DeviceArgs& a, void* ws, CUstream_st* st) const override {
    ec::run_device(a, ws, st, /*fused=*/false, ec::Requant::fp8_row);
  }
  void run_host(const Case& c, std::vector<uint8_t>& y) const override {
    ec::run_host(c, false, y, ec::Requant::fp8_row);
  }

 private:
  std::unique_ptr<Variant> base_ = make_expert_centric();
};

}  // namespace

std::unique_ptr<Variant> make_expert_centric_fp8() { return std::make_unique<ExpertCentricFp8>(); }

#if !MOECHECK_WITH_CUDA
void ec::gather_fp8_rows_for_test(const std::vector<uint16_t>&, int64_t, const std::vector<int64_t>&,
                                  std::vector<uint16_t>&, std::vector<float>&) {
  throw std::runtime_error("expert-centric: built without CUDA (MOECHECK_ENABLE_CUDA=OFF)");
}
#endif

}  // namespace moecheck
