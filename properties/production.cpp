// Batch invariance at several batch sizes and positions, and the production-
// scale tier of a fuzz run (DESIGN.md section 6): the oracle-free properties
// on the whole batch, the oracle on sampled tokens.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "kernels/check.hpp"
#include "properties/properties.hpp"

namespace moecheck::props {
namespace {

Verdict make(Property p, Status s, const Variant& v, Backend b, std::string d = "") {
  return {p, s, v.name(), b, std::move(d)};
}

std::string header(Property p, const Variant& v, Backend b, const Case& c) {
  return std::string(property_name(p)) + " failed: variant " + v.name() + " backend " + std::string(backend_name(b)) +
         " " + case_summary(c) + ": ";
}

int64_t first_row_difference(const std::vector<uint8_t>& a, int64_t ra, const std::vector<uint8_t>& b, int64_t rb,
                             int64_t H, int eb) {
  for (int64_t i = 0; i < H; ++i)
    if (std::memcmp(&a[(ra * H + i) * eb], &b[(rb * H + i) * eb], static_cast<size_t>(eb)) != 0) return i;
  return -1;
}

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.9g", v);
  return b;
}

double code_value(const std::vector<uint8_t>& codes, Format f, int64_t idx) {
  const int eb = format_bits(f) / 8;
  uint32_t code = 0;
  std::memcpy(&code, &codes[idx * eb], static_cast<size_t>(eb));
  return decode(f, code);
}

// The case with the output asked for in fp32 where v writes it: bf16 output
// rounds most reduction-order changes away.
Case widest_output(const Variant& v, const Case& c) {
  Case w = c;
  w.y_format = Format::f32;
  if (v.supports(w).ok && v.numerics(w).output_format == Format::f32) return w;
  return c;
}

}  // namespace

Case select_tokens(const Case& c, const std::vector<int64_t>& rows) {
  Case s;
  s.shape = c.shape;
  s.shape.T = static_cast<int64_t>(rows.size());
  s.act = c.act;
  s.layout = c.layout;
  s.x_format = c.x_format;
  s.y_format = c.y_format;
  s.stored_experts = c.stored_experts;
  s.w13 = c.w13;
  s.w2 = c.w2;
  const int64_t xb = x_elem_bytes(c.x_format) * c.shape.H, k = c.shape.k;
  for (int64_t t : rows) {
    s.x.insert(s.x.end(), c.x.begin() + t * xb, c.x.begin() + (t + 1) * xb);
    s.topk_ids.insert(s.topk_ids.end(), c.topk_ids.begin() + t * k, c.topk_ids.begin() + (t + 1) * k);
    s.topk_weights.insert(s.topk_weights.end(), c.topk_weights.begin() + t * k, c.topk_weights.begin() + (t + 1) * k);
  }
  return s;  // no provenance: the spec no longer describes it
}

std::vector<int64_t> batch_sizes() { return {2, 3, 8, 17, 33, 64, 65, 96, 128}; }

Verdict check_batch_invariance(const Variant& v, Backend b, const Case& c, const std::vector<int64_t>& tokens,
                               int64_t max_tokens, int max_batches, uint64_t first_size) {
  const Property P = Property::batch_invariance;
  const Case cw = widest_output(v, c);
  const Shape& s = cw.shape;
  const Format yf = v.numerics(cw).output_format;
  const int eb = format_bits(yf) / 8;
  const Status bad = v.claims().batch_invariant ? Status::fail : Status::report;
  auto verdict = [&](const std::string& where, const std::vector<uint8_t>& in, int64_t row, int64_t t,
                     const std::vector<uint8_t>& alone) {
    const int64_t i = first_row_difference(in, row, alone, 0, s.H, eb);
    if (i < 0) return make(P, Status::pass, v, b);
    return make(P, bad, v, b,
                header(P, v, b, c) + "token " + std::to_string(t) + " alone differs from its row " + where +
                    " at i=" + std::to_string(i) + ": alone " + num(code_value(alone, yf, i)) + ", in the batch " +
                    num(code_value(in, yf, row * s.H + i)) + " (y in " + std::string(format_name(yf)) + ") case " +
                    c.provenance);
  };
  const std::vector<uint8_t> full = run_variant(v, cw, b);
  std::vector<std::vector<uint8_t>> alone;
  for (int64_t t : tokens) {
    alone.push_back(run_variant(v, single_token(cw, t), b));
    const Verdict r = verdict("in the case's batch of T=" + std::to_string(s.T) + " (row " + std::to_string(t) + ")",
                              full, t, t, alone.back());
    if (r.status != Status::pass) return r;
  }
  // Batches of other sizes built from the case's tokens (repeated where the
  // batch is larger than T), each checked token first, last or in the middle.
  const std::vector<int64_t> sizes = batch_sizes();
  int64_t budget = max_tokens - static_cast<int64_t>(tokens.size());
  int run = 0;
  for (size_t j = 0; j < sizes.size() && run < max_batches; ++j) {
    const int64_t B = sizes[(first_size + j) % sizes.size()];
    if (B == s.T || B > budget) continue;
    budget -= B;
    const size_t q = static_cast<size_t>(run) % tokens.size();
    const int64_t t = tokens[q], pos = run % 3 == 0 ? 0 : run % 3 == 1 ? B - 1 : B / 2;
    ++run;
    std::vector<int64_t> rows(static_cast<size_t>(B));
    for (int64_t r = 0; r < B; ++r) rows[r] = r == pos ? t : (t + 1 + r) % s.T;
    const std::vector<uint8_t> in = run_variant(v, select_tokens(cw, rows), b);
    const Verdict r = verdict("in a batch of " + std::to_string(B) + " at position " + std::to_string(pos), in, pos, t,
                              alone[q]);
    if (r.status != Status::pass) return r;
  }
  return make(P, Status::pass, v, b);
}

std::vector<int64_t> sample_tokens(const Case& c, uint64_t seed) {
  const Shape& s = c.shape;
  // The token that holds the largest storage slot and the one with the
  // largest expert id: index-width bugs show there first.
  int64_t max_slot_t = 0, max_id_t = 0, max_slot = -1, max_id = -1;
  for (int64_t t = 0; t < s.T; ++t)
    for (int64_t j = 0; j < s.k; ++j) {
      const int32_t id = c.topk_ids[t * s.k + j];
      if (c.slot_of(id) > max_slot) max_slot = c.slot_of(id), max_slot_t = t;
      if (id > max_id) max_id = id, max_id_t = t;
    }
  Rng r(mix_seed(seed, static_cast<uint64_t>(s.T)));
  std::vector<int64_t> rows = {0, s.T - 1, static_cast<int64_t>(r.below(static_cast<uint64_t>(s.T))), max_slot_t,
                               max_id_t};
  std::sort(rows.begin(), rows.end());
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  return rows;
}

std::vector<Verdict> check_sampled(const std::vector<Property>& props, const Variant& v, Backend b, const Case& c,
                                   const std::vector<const Variant*>& peers, uint64_t seed,
                                   std::map<std::string, double>* seconds) {
  using Clock = std::chrono::steady_clock;
  auto clock_in = [&](const std::string& what, Clock::time_point t0) {
    if (seconds) (*seconds)[what] += std::chrono::duration<double>(Clock::now() - t0).count();
  };
  std::vector<Verdict> out;
  const std::vector<int64_t> rows = sample_tokens(c, seed);
  CaseContext sub(select_tokens(c, rows));
  sub.declare_as(c);
  const Shape& s = c.shape;
  std::string why;
  if (!backend_runs(v, b, &why)) {
    for (Property p : props) out.push_back(make(p, Status::skip, v, b, why));
    return out;
  }
  const Format yf = v.numerics(c).output_format;
  const int eb = format_bits(yf) / 8;
  std::vector<uint8_t> full;
  try {
    const Clock::time_point t0 = Clock::now();
    full = run_variant(v, c, b);
    clock_in("(whole-batch run)", t0);
  } catch (const std::exception& e) {
    out.push_back(make(Property::accuracy, Status::fail, v, b, header(Property::accuracy, v, b, c) + "threw: " + e.what()));
    return out;
  }
  // The sampled tokens' rows of the whole batch are what the oracle judges.
  std::vector<uint8_t> sampled;
  for (int64_t t : rows) sampled.insert(sampled.end(), full.begin() + t * s.H * eb, full.begin() + (t + 1) * s.H * eb);
  sub.set_output(v, b, std::move(sampled));
  const std::string rows_note = " (sampled tokens of T=" + std::to_string(s.T) + ": t counts them)";
  for (Property p : props) {
    const Clock::time_point t0 = Clock::now();
    try {
      Verdict r;
      switch (p) {
        case Property::determinism: {
          r = make(p, Status::pass, v, b);
          for (int rep = 2; rep <= 3 && r.status == Status::pass; ++rep) {
            const std::vector<uint8_t> again = run_variant(v, c, b);
            for (int64_t i = 0; i < s.T * s.H; ++i)
              if (std::memcmp(&again[i * eb], &full[i * eb], static_cast<size_t>(eb)) != 0) {
                r = make(p, v.claims().deterministic ? Status::fail : Status::report, v, b,
                         header(p, v, b, c) + "run " + std::to_string(rep) + " differs from run 1 at t=" +
                             std::to_string(i / s.H) + " i=" + std::to_string(i % s.H) + ": " +
                             num(code_value(again, yf, i)) + " vs " + num(code_value(full, yf, i)));
                break;
              }
          }
          break;
        }
        case Property::batch_invariance:
          r = check_batch_invariance(v, b, c, {rows.front(), rows.back()}, 4 * s.T + 16,
                                     static_cast<int>(batch_sizes().size()), 0);
          break;
        case Property::twin:
          // The whole batch's sampled rows against the twin run on them as a
          // batch of their own: equal only for a batch-invariant variant;
          // any other is judged on one batch, the sampled tokens.
          if (v.claims().batch_invariant) {
            r = check_property(p, v, b, sub, peers);
          } else {
            CaseContext own(sub.base());
            r = check_property(p, v, b, own, peers);
          }
          if (r.failed()) r.detail += rows_note;
          break;
        default:
          r = check_property(p, v, b, sub, peers);
          if (r.failed()) r.detail += rows_note;
      }
      out.push_back(std::move(r));
    } catch (const std::exception& e) {
      out.push_back(make(p, Status::fail, v, b, header(p, v, b, c) + "threw: " + e.what()));
    }
    clock_in(std::string(property_name(p)), t0);
  }
  // Production cases carry no special values, so where x is finite no
  // intermediate of fp32's range overflows and no output can be NaN: a NaN left in the poisoned
  // buffer is an unwritten (or garbage) element, whichever token it is in.
  // (An infinity can be the correctly rounded output of a narrow y format,
  // and a declared f16 or e5m2 intermediate may overflow into inf - inf.)
  const Numerics n = v.numerics(c);
  auto narrow = [](std::optional<Format> f) { return f && (*f == Format::f16 || *f == Format::e5m2); };
  // Heavy-tailed x past f16's range is inf when stored: then NaN can be exact.
  bool inputs_finite = true;
  for (int64_t t = 0; t < s.T && inputs_finite; ++t)
    for (int64_t i = 0; i < s.H && inputs_finite; ++i) inputs_finite = std::isfinite(c.x_value(t, i));
  const bool nan_possible = !inputs_finite || narrow(n.h_format) || narrow(n.expert_out_format) || narrow(n.x_requant) ||
                            narrow(n.h_requant) || narrow(n.weight_tile_format) || narrow(n.gate_up_format) ||
                            narrow(n.gate_act_format) || narrow(n.topk_sum_format) || sub.may_overflow(v);
  if (!nan_possible)
    for (int64_t i = 0; i < s.T * s.H; ++i)
      if (std::isnan(code_value(full, yf, i))) {
        out.push_back(make(Property::accuracy, Status::fail, v, b,
                           header(Property::accuracy, v, b, c) + "output t=" + std::to_string(i / s.H) +
                               " i=" + std::to_string(i % s.H) +
                               " is NaN from finite inputs whose declared intermediates cannot overflow (unwritten "
                               "or garbage element) case " + c.provenance));
        break;
      }
  return out;
}

}  // namespace moecheck::props
