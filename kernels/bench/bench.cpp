#include "kernels/bench/bench.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <set>

#include "core/error.hpp"
#include "kernels/bench/check_case.hpp"
#include "kernels/bench/device.hpp"
#include "kernels/bench/oracle_check.hpp"
#include "kernels/device_case.hpp"
#include "kernels/registry.hpp"

namespace moecheck::bench {

int64_t expert_bytes(const Shape& s, WeightFormat wf) {
  WeightStack w13{wf, 1, 2 * s.I, s.H, {}, {}, {}};
  WeightStack w2{wf, 1, s.H, s.I, {}, {}, {}};
  int64_t b = w13.data_bytes() + w13.scale_bytes() + w2.data_bytes() + w2.scale_bytes();
  if (wf == WeightFormat::nvfp4) b += 2 * 4;  // one fp32 tensor scale per matrix
  return b;
}

LayerBytes layer_bytes(const Shape& s, WeightFormat wf, int64_t unique_experts, Format x_fmt, Format y_fmt) {
  LayerBytes b;
  b.weights = unique_experts * expert_bytes(s, wf);
  b.x = s.T * s.H * x_elem_bytes(x_fmt);
  b.y = s.T * s.H * format_bits(y_fmt) / 8;
  b.routing = s.T * s.k * (4 + 4);  // int32 ids, fp32 weights
  return b;
}

int64_t count_unique(const std::vector<int32_t>& ids) {
  return static_cast<int64_t>(std::set<int32_t>(ids.begin(), ids.end()).size());
}

int choose_layers(int64_t layer_weight_bytes, int64_t l2_bytes, int64_t budget_bytes, int max_layers,
                  double l2_multiple) {
  const double per = std::max<double>(1.0, static_cast<double>(layer_weight_bytes));
  int want = static_cast<int>(std::ceil(l2_multiple * static_cast<double>(l2_bytes) / per));
  want = std::clamp(want, 2, max_layers);
  const int fit = static_cast<int>(std::floor(static_cast<double>(budget_bytes) / per));
  return std::max(1, std::min(want, fit));
}

Stats summarize(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[static_cast<size_t>(std::lround(q * static_cast<double>(v.size() - 1)))]; };
  s.median = v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  s.p10 = at(0.1), s.p90 = at(0.9), s.min = v.front(), s.max = v.back();
  s.n = static_cast<int>(v.size());
  return s;
}

LayerRouting random_routing(const Shape& s, uint64_t seed) {
  LayerRouting r;
  std::mt19937_64 rng(seed);
  std::vector<int32_t> all(static_cast<size_t>(s.E));
  std::iota(all.begin(), all.end(), 0);
  draw_routing(rng, s.T, s.k, all, false, r.ids, r.weights);
  std::set<int32_t> used(r.ids.begin(), r.ids.end());
  r.experts.assign(used.begin(), used.end());
  r.slots.resize(r.ids.size());
  for (size_t i = 0; i < r.ids.size(); ++i)
    r.slots[i] = static_cast<int32_t>(std::lower_bound(r.experts.begin(), r.experts.end(), r.ids[i]) - r.experts.begin());
  return r;
}

namespace {

ActivationSpec preset_activation(const Preset& p) {
  ActivationSpec a;
  if (p.name == "gpt-oss-120b") a.kind = Activation::swiglu_clamped;
  return a;
}

// Rotating layer copies of one (preset, T) in device memory.
struct Layer {
  LayerRouting r;
  DeviceBuffer w13, w2, w13s, w2s, w13t, w2t, x, ids, wts, y;  // codes, scales, tensor scales
  DeviceArgs args;
};

// Timing-only weights of a (U, R, K) stack in `wf`, filled on the device:
// 16-bit codes from the bf16 hash fill (~U(-1, 1)/sqrt(K); read as f16 they
// stay finite), e4m3 codes random below 2 and never NaN, e2m1 codes random;
// scales constant (their bytes are read all the same): fp32 0x3c3c3c3c
// (~0.0115), e8m0 2^-7, e4m3 0.5. Values are finite: timing checks it.
void fill_timing_stack(WeightFormat wf, int64_t U, int64_t R, int64_t K, uint64_t seed, DeviceBuffer& data,
                       DeviceBuffer& scales, DeviceBuffer& tensor) {
  const WeightStack shape{wf, U, R, K, {}, {}, {}};
  data = DeviceBuffer(static_cast<size_t>(shape.data_bytes()));
  const Format ef = element_format(wf);
  if (format_bits(ef) == 16)
    fill_random_bf16(data.get(), shape.data_bytes() / 2, seed, 1.0f / std::sqrt(static_cast<float>(K)));
  else
    fill_random_bytes(data.get(), shape.data_bytes(), seed, ef == Format::e4m3 ? 0xBF : 0xFF);
  if (has_scales(wf)) {
    scales = DeviceBuffer(static_cast<size_t>(shape.scale_bytes()));
    const Format sf = scale_format(wf);
    scales.fill_bytes(sf == Format::f32 ? 0x3c : sf == Format::e8m0 ? 127 - 7 : 0x30);
  }
  if (wf == WeightFormat::nvfp4) {
    tensor = DeviceBuffer(static_cast<size_t>(U) * 4);
    tensor.fill_bytes(0x3c);
  }
}

std::vector<const Variant*> resolve_variants(const Options& o) {
  std::vector<const Variant*> vs;
  if (o.variants.empty()) {
    for (const Variant* v : all_variants())
      if (v->has_device()) vs.push_back(v);
  } else {
    for (const std::string& n : o.variants) vs.push_back(&find_variant(n));
  }
  // The baseline first, so every later row has its speedup.
  std::stable_partition(vs.begin(), vs.end(), [](const Variant* v) { return v->name() == "expert_centric"; });
  return vs;
}

}  // namespace

std::vector<Row> run_bench(const Options& o, Header& header, const std::function<void(const Row&)>& progress) {
  std::string why;
  if (!cuda_available(&why)) throw InputError("bench needs a CUDA device: " + why);
  for (const std::string& p : o.presets) find_preset(p);  // fail on typos before any work
  const std::vector<const Variant*> variants = resolve_variants(o);
  DeviceProps d = device_props();
  header.device = d.name, header.sms = d.sms, header.l2_bytes = d.l2_bytes, header.mem_bytes = d.total_mem;
  header.read_buffer_bytes = std::min<int64_t>(o.read_buffer_bytes, d.free_mem / 4) / 16 * 16;
  header.read_gbps = read_bandwidth_gbps(header.read_buffer_bytes, 10);

  std::vector<Row> rows;
  for (const std::string& pname : o.presets) {
    const Preset& p = find_preset(pname);
    // The check layer: a pool of experts as large as check_values allows.
    const Shape ps{0, p.H, p.I, p.E, p.k};
    Case check = pool_case(ps, static_cast<int64_t>(o.check_values / (3.0 * static_cast<double>(p.H * p.I))),
                           preset_activation(p), GateUpLayout::concatenated, o.seed, o.weights);
    const int64_t pool_size = check.stored_count();
    for (int64_t T : o.tokens) {
      const Shape s{T, p.H, p.I, p.E, p.k};
      reroute(check, T, PoolRouting::uniform, o.seed * 1000003u + static_cast<uint64_t>(T));

      // Layer copies: weights only for the experts each layer's routing touches.
      d = device_props();
      size_t ws_max = 0;
      for (const Variant* v : variants) ws_max = std::max(ws_max, v->workspace_bytes(Shape{T, p.H, p.I, std::min(p.E, T * p.k), p.k}));
      const LayerRouting r0 = random_routing(s, o.seed * 7919u + static_cast<uint64_t>(T));
      const int64_t eb = expert_bytes(s, o.weights);
      const int64_t budget = static_cast<int64_t>(0.8 * static_cast<double>(d.free_mem)) - static_cast<int64_t>(ws_max) -
                             (int64_t{1} << 30);
      const int L = choose_layers(static_cast<int64_t>(r0.experts.size()) * eb * 5 / 4, d.l2_bytes, budget);
      std::vector<Layer> layers(static_cast<size_t>(L));
      double mean_bytes = 0;
      for (int l = 0; l < L; ++l) {
        Layer& ly = layers[static_cast<size_t>(l)];
        ly.r = l == 0 ? r0 : random_routing(s, o.seed * 7919u + static_cast<uint64_t>(T) + 104729u * static_cast<uint64_t>(l));
        const int64_t U = static_cast<int64_t>(ly.r.experts.size());
        ly.x = DeviceBuffer(static_cast<size_t>(T * p.H * 2));
        ly.ids = DeviceBuffer(ly.r.slots.size() * 4);
        ly.wts = DeviceBuffer(ly.r.weights.size() * 4);
        ly.y = DeviceBuffer(static_cast<size_t>(T * p.H * 4));
        const uint64_t seed = o.seed * 0x100000001b3ull + static_cast<uint64_t>(T * 64 + l);
        fill_timing_stack(o.weights, U, 2 * p.I, p.H, 3 * seed + 1, ly.w13, ly.w13s, ly.w13t);
        fill_timing_stack(o.weights, U, p.H, p.I, 3 * seed + 2, ly.w2, ly.w2s, ly.w2t);
        fill_random_bf16(ly.x.get(), T * p.H, 3 * seed + 3, 1.0f);  // x ~ U(-1, 1)
        ly.ids.upload(ly.r.slots.data(), ly.r.slots.size() * 4);
        ly.wts.upload(ly.r.weights.data(), ly.r.weights.size() * 4);
        DeviceArgs& a = ly.args;
        a.shape = Shape{T, p.H, p.I, U, p.k};
        a.act = check.act;
        a.layout = check.layout;
        a.weight_format = o.weights;
        a.y_format = check.y_format;  // y buffer: 4 bytes per element fits every output format
        a.x = ly.x.get(), a.w13 = ly.w13.get(), a.w2 = ly.w2.get();
        a.w13_scale = ly.w13s.get(), a.w2_scale = ly.w2s.get();
        a.w13_tensor_scale = static_cast<const float*>(ly.w13t.get());
        a.w2_tensor_scale = static_cast<const float*>(ly.w2t.get());
        a.topk_ids = static_cast<const int32_t*>(ly.ids.get());
        a.topk_weights = static_cast<const float*>(ly.wts.get());
        a.y = ly.y.get();
        mean_bytes += static_cast<double>(layer_bytes(s, o.weights, U, Format::bf16, check.y_format).total()) / L;
      }

      double baseline_us = 0;
      for (const Variant* v : variants) {
        Row row;
        row.preset = pname, row.T = T, row.variant = v->name(), row.layers = L, row.bytes = mean_bytes;
        const Support sp = v->supports(check);
        if (!v->has_device() || !sp.ok) {
          row.skipped = true;
          row.note = v->has_device() ? sp.reason : "no device path";
          rows.push_back(row), progress(row);
          continue;
        }
        // Correct first: the host-generated check layer through the oracle.
        const std::vector<uint8_t> y = run_on_device(*v, check);
        const OracleCheck chk = check_against_oracle(*v, check, y, o.check_tokens);
        if (!chk.ok) {
          row.failed = true, row.note = chk.message;
          rows.push_back(row), progress(row);
          continue;
        }
        row.note = "oracle: " + (chk.tokens.empty() ? std::string("all ") + std::to_string(T) + " tokens"
                                                    : std::to_string(chk.tokens.size()) + " of " + std::to_string(T) + " tokens") +
                   ", pool of " + std::to_string(pool_size) + " experts";

        DeviceBuffer ws(std::max<size_t>(ws_max, 256));
        auto body = [&](CUstream_st* st) {
          for (const Layer& ly : layers) v->run_device(ly.args, ws.get(), st);
        };
        // Timing layers: every output written (NaN sentinel) and finite.
        const int ob = format_bits(v->numerics(check).output_format) / 8;
        for (Layer& ly : layers) ly.y.fill_bytes(0xFF);
        run_once(body);
        for (const Layer& ly : layers) {
          const std::vector<uint8_t> yb = ly.y.download();
          for (int64_t i = 0; i < T * p.H; ++i) {
            uint32_t code = 0;
            for (int b = 0; b < ob; ++b) code |= static_cast<uint32_t>(yb[i * ob + b]) << (8 * b);
            if (!std::isfinite(decode(v->numerics(check).output_format, code))) {
              row.failed = true;
              row.note = "timing layer output y[" + std::to_string(i / p.H) + ", " + std::to_string(i % p.H) +
                         "] not written or not finite";
              break;
            }
          }
          if (row.failed) break;
        }
        if (row.failed) {
          rows.push_back(row), progress(row);
          continue;
        }
        std::vector<double> ms = time_graph(body, o.warmup, o.replays);
        for (double& t : ms) t = t * 1000.0 / L;
        row.us = summarize(ms);
        row.gbps = row.bytes / (row.us.median * 1e-6) / 1e9;
        row.pct_read = 100.0 * row.gbps / header.read_gbps;
        if (v->name() == "expert_centric") baseline_us = row.us.median;
        row.speedup = baseline_us > 0 ? baseline_us / row.us.median : 0;
        rows.push_back(row), progress(row);
      }
    }
  }
  return rows;
}

}  // namespace moecheck::bench
