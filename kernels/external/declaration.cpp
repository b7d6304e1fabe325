#include "kernels/external/declaration.hpp"

#include <array>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/enum_table.hpp"
#include "core/error.hpp"
#include "core/generate.hpp"

namespace moecheck::external {
namespace {

using nlohmann::json;

const std::pair<Combine, std::string_view> kCombines[] = {{Combine::fold_partials, "fold_partials"},
                                                          {Combine::per_expert_outputs, "per_expert_outputs"},
                                                          {Combine::weighted_expert_outputs, "weighted_expert_outputs"},
                                                          {Combine::weighted_h, "weighted_h"}};
const std::pair<RequantScale, std::string_view> kScales[] = {{RequantScale::pow2_block, "pow2_block"},
                                                             {RequantScale::fp32_row, "fp32_row"}};

// The field names are Numerics' own, so the file reads like the C++ declaration.
const std::set<std::string> kFields = {
    "accumulator",     "accumulator_unit", "weight_roundings",  "weight_tile_format", "x_requant",
    "gate_up",         "gate_up_format",   "gate_act_format",   "activation_ulps",    "h_format",
    "h_requant",       "requant_block",    "requant_scale",     "epilogue_roundings", "down",
    "combine",         "expert_out_format", "topk_sum_format",  "output_format"};
const std::set<std::string> kTopLevel = {"moecheck_numerics", "name", "description", "cases"};

json reduction_to_json(const ReductionShape& r) {
  return {{"lanes", r.lanes}, {"fma", r.fma}, {"block", r.block}, {"chunk", r.chunk}};
}
json opt_format(const std::optional<Format>& f) { return f ? json(format_name(*f)) : json(nullptr); }

struct Reader {
  const json& j;
  std::string where;
  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw InputError(where + ": " + key + ": " + why);
  }
  const json* get(const std::string& key) const {
    auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
  }
  Format format(const std::string& key, Format dflt) const {
    const json* v = get(key);
    if (!v) return dflt;
    if (!v->is_string()) fail(key, "wants a format name, got " + v->dump());
    try {
      return parse_format(v->get<std::string>());
    } catch (const InputError& e) {
      fail(key, e.what());
    }
  }
  std::optional<Format> opt(const std::string& key) const {
    const json* v = get(key);
    if (!v || v->is_null()) return std::nullopt;
    return format(key, Format::f32);
  }
  int integer(const std::string& key, int dflt) const {
    const json* v = get(key);
    if (!v) return dflt;
    if (!v->is_number_integer()) fail(key, "wants an integer, got " + v->dump());
    const auto x = v->get<int64_t>();
    if (x < -(1 << 20) || x > (1 << 20)) fail(key, "out of range: " + v->dump());
    return static_cast<int>(x);
  }
  double number(const std::string& key, double dflt) const {
    const json* v = get(key);
    if (!v) return dflt;
    if (!v->is_number()) fail(key, "wants a number, got " + v->dump());
    return v->get<double>();
  }
  template <class Enum, size_t N>
  Enum named(const std::string& key, Enum dflt, const std::pair<Enum, std::string_view> (&table)[N]) const {
    const json* v = get(key);
    if (!v) return dflt;
    if (!v->is_string()) fail(key, "wants a name, got " + v->dump());
    try {
      return parse_in(key, v->get<std::string>(), table);
    } catch (const InputError& e) {
      fail(key, e.what());
    }
  }
  ReductionShape reduction(const std::string& key) const {
    const json* v = get(key);
    ReductionShape r;
    if (!v) return r;
    // Any summation tree: BOUNDS.md 2.7 shows this shape's depths dominate them all.
    if (v->is_string() && v->get<std::string>() == "any") return ReductionShape{1, false, 0, 0};
    if (!v->is_object()) fail(key, "wants \"any\" or {lanes, fma, block, chunk}, got " + v->dump());
    for (auto& [k, x] : v->items())
      if (k != "lanes" && k != "fma" && k != "block" && k != "chunk") fail(key, "unknown key '" + k + "'");
    const Reader in{*v, where + ": " + key};
    r.lanes = in.integer("lanes", r.lanes);
    r.block = in.integer("block", r.block);
    r.chunk = in.integer("chunk", r.chunk);
    if (const json* f = in.get("fma")) {
      if (!f->is_boolean()) in.fail("fma", "wants true or false, got " + f->dump());
      r.fma = f->get<bool>();
    }
    return r;
  }
};

bool one_of(Format f, std::initializer_list<Format> ok) {
  for (Format g : ok)
    if (f == g) return true;
  return false;
}

void check_reduction(const ReductionShape& r, const std::string& where, const std::string& key) {
  if (r.lanes < 1 || r.block < 0 || r.chunk < 0)
    throw InputError(where + ": " + key + ": lanes must be >= 1, block and chunk >= 0");
}

json apply_cases(const json& file, const Case& c) {
  json n = file;
  n.erase("moecheck_numerics"), n.erase("name"), n.erase("description"), n.erase("cases");
  const std::map<std::string, std::string> have = {{"weights", std::string(weight_format_name(c.w13.format))},
                                                   {"x", std::string(format_name(c.x_format))},
                                                   {"y", std::string(format_name(c.y_format))}};
  for (const json& e : file.value("cases", json::array())) {
    bool match = true;
    for (auto& [k, v] : e.at("if").items()) match = match && have.at(k) == v.get<std::string>();
    if (match)
      for (auto& [k, v] : e.at("set").items()) n[k] = v;
  }
  return n;
}

// Shape of "cases": [{"if": {weights|x|y: name}, "set": {field: value}}].
void check_cases(const json& cases, const std::string& where) {
  if (!cases.is_array()) throw InputError(where + ": cases: wants an array of {\"if\": ..., \"set\": ...}");
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string at = where + ": cases[" + std::to_string(i) + "]";
    const json& e = cases[i];
    if (!e.is_object() || !e.contains("if") || !e.contains("set") || e.size() != 2 || !e["if"].is_object() ||
        !e["set"].is_object())
      throw InputError(at + ": wants {\"if\": {...}, \"set\": {...}}");
    for (auto& [k, v] : e["if"].items()) {
      if (!v.is_string()) throw InputError(at + ": if." + k + ": wants a name");
      if (k == "weights") parse_weight_format(v.get<std::string>());
      else if (k == "x" || k == "y") parse_format(v.get<std::string>());
      else throw InputError(at + ": if: unknown key '" + k + "' (known: weights, x, y)");
    }
    for (auto& [k, v] : e["set"].items())
      if (!kFields.count(k)) throw InputError(at + ": set: unknown field '" + k + "'");
  }
}

}  // namespace

json numerics_to_json(const Numerics& n) {
  return {{"accumulator", format_name(n.accumulator)},
          {"accumulator_unit", n.accumulator_unit},
          {"weight_roundings", n.weight_roundings},
          {"weight_tile_format", opt_format(n.weight_tile_format)},
          {"x_requant", opt_format(n.x_requant)},
          {"gate_up", reduction_to_json(n.gate_up)},
          {"gate_up_format", opt_format(n.gate_up_format)},
          {"gate_act_format", opt_format(n.gate_act_format)},
          {"activation_ulps", n.activation_ulps},
          {"h_format", format_name(n.h_format)},
          {"h_requant", opt_format(n.h_requant)},
          {"requant_block", n.requant_block},
          {"requant_scale", name_in(n.requant_scale, kScales)},
          {"epilogue_roundings", n.epilogue_roundings},
          {"down", reduction_to_json(n.down)},
          {"combine", name_in(n.combine, kCombines)},
          {"expert_out_format", format_name(n.expert_out_format)},
          {"topk_sum_format", opt_format(n.topk_sum_format)},
          {"output_format", format_name(n.output_format)}};
}

Numerics numerics_from_json(const json& j, const std::string& where, const Case* c) {
  if (!j.is_object()) throw InputError(where + ": a declaration is a JSON object");
  for (auto& [k, v] : j.items())
    if (!kFields.count(k)) throw InputError(where + ": unknown field '" + k + "'");
  const Reader in{j, where};
  Numerics n;
  n.accumulator = in.format("accumulator", n.accumulator);
  n.accumulator_unit = in.number("accumulator_unit", n.accumulator_unit);
  n.weight_roundings = in.integer("weight_roundings", n.weight_roundings);
  n.weight_tile_format = in.opt("weight_tile_format");
  n.x_requant = in.opt("x_requant");
  n.gate_up = in.reduction("gate_up");
  n.gate_up_format = in.opt("gate_up_format");
  n.gate_act_format = in.opt("gate_act_format");
  n.activation_ulps = in.number("activation_ulps", n.activation_ulps);
  n.h_format = in.format("h_format", n.h_format);
  n.h_requant = in.opt("h_requant");
  n.requant_block = in.integer("requant_block", n.requant_block);
  n.requant_scale = in.named("requant_scale", n.requant_scale, kScales);
  n.epilogue_roundings = in.integer("epilogue_roundings", n.epilogue_roundings);
  n.down = in.reduction("down");
  n.combine = in.named("combine", n.combine, kCombines);
  n.expert_out_format = in.format("expert_out_format", n.accumulator);
  n.topk_sum_format = in.opt("topk_sum_format");
  const json* out = in.get("output_format");
  if (!out) throw InputError(where + ": output_format: required (a format, or \"case\" for the case's y format)");
  if (out->is_string() && out->get<std::string>() == "case") {
    if (!c) throw InputError(where + ": output_format \"case\" needs a case");
    n.output_format = c->y_format;
  } else {
    n.output_format = in.format("output_format", n.output_format);
  }
  validate_numerics(n, where);
  return n;
}

void validate_numerics(const Numerics& n, const std::string& where) {
  auto bad = [&](const std::string& why) { throw InputError(where + ": contradicts itself: " + why); };
  const std::initializer_list<Format> stored = {Format::f32, Format::bf16, Format::f16};
  const std::initializer_list<Format> requant = {Format::e4m3, Format::e5m2, Format::e2m1, Format::bf16, Format::f16};
  if (!one_of(n.accumulator, stored)) bad("accumulator must be f32, bf16 or f16");
  if (!one_of(n.output_format, stored)) bad("output_format must be bf16, f16 or f32");
  for (auto [f, key] : {std::pair{n.h_format, "h_format"}, std::pair{n.expert_out_format, "expert_out_format"}})
    if (!one_of(f, stored)) bad(std::string(key) + " must be f32, bf16 or f16");
  for (auto [f, key] : {std::pair{n.gate_up_format, "gate_up_format"}, std::pair{n.gate_act_format, "gate_act_format"},
                        std::pair{n.topk_sum_format, "topk_sum_format"},
                        std::pair{n.weight_tile_format, "weight_tile_format"}})
    if (f && !one_of(*f, stored)) bad(std::string(key) + " must be f32, bf16 or f16");
  for (auto [f, key] : {std::pair{n.x_requant, "x_requant"}, std::pair{n.h_requant, "h_requant"}})
    if (f && !one_of(*f, requant)) bad(std::string(key) + " must be e4m3, e5m2, e2m1, bf16 or f16");
  if (!(n.accumulator_unit >= 0 && n.accumulator_unit < 1)) bad("accumulator_unit must be in [0, 1)");
  if (!(n.activation_ulps >= 0 && std::isfinite(n.activation_ulps))) bad("activation_ulps must be finite and >= 0");
  if (n.weight_roundings < -1 || n.weight_roundings > 2) bad("weight_roundings is -1 (inferred), 0, 1 or 2");
  if (n.epilogue_roundings < 0 || n.epilogue_roundings > 2) bad("epilogue_roundings is 0, 1 or 2");
  if (n.requant_block < 0) bad("requant_block must be >= 0");
  check_reduction(n.gate_up, where, "gate_up");
  check_reduction(n.down, where, "down");
  if (n.requant_scale == RequantScale::fp32_row && !n.x_requant && !n.h_requant)
    bad("requant_scale fp32_row with neither x_requant nor h_requant");
  if (n.requant_scale == RequantScale::fp32_row && n.requant_block != 0)
    bad("requant_block is unused with requant_scale fp32_row (one scale per row): set it to 0");
  const bool fold = n.combine == Combine::fold_partials;
  if (fold && n.expert_out_format != n.accumulator)
    bad("expert_out_format rounds per-expert outputs, which combine fold_partials never forms");
  if (fold && n.topk_sum_format) bad("topk_sum_format: combine fold_partials has no separate top-k sum");
  if (n.down.chunk > 0 && (n.combine == Combine::weighted_expert_outputs || n.combine == Combine::weighted_h ||
                           n.topk_sum_format))
    bad("a declared down order (chunk > 0) with weighted_expert_outputs, weighted_h or topk_sum_format has no "
        "derived bound yet: declare the down order unspecified (chunk 0)");
}

Declaration Declaration::parse(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) throw InputError(where + ": a declaration file is a JSON object");
  for (auto& [k, v] : j.items())
    if (!kTopLevel.count(k) && !kFields.count(k)) throw InputError(where + ": unknown field '" + k + "'");
  const json* ver = j.contains("moecheck_numerics") ? &j["moecheck_numerics"] : nullptr;
  if (!ver || !ver->is_number_integer() || ver->get<int64_t>() != kDeclarationVersion)
    throw InputError(where + ": moecheck_numerics: wants " + std::to_string(kDeclarationVersion) +
                     " (the schema version this moecheck reads)");
  if (j.contains("cases")) check_cases(j["cases"], where);
  Declaration d;
  d.json_ = j;
  d.where_ = where;
  d.name_ = j.contains("name") && j["name"].is_string() ? j["name"].get<std::string>() : "";
  // Every combination of formats must give a consistent declaration: check
  // them now, so a contradiction is an input error before any case runs.
  for (WeightFormat w : all_weight_formats())
    for (Format x : {Format::bf16, Format::f16, Format::f32})
      for (Format y : {Format::bf16, Format::f16, Format::f32}) {
        Case c;
        c.w13.format = w;
        c.x_format = x;
        c.y_format = y;
        d.for_case(c);
      }
  return d;
}

Declaration Declaration::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("numerics declaration " + path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded()) throw InputError("numerics declaration " + path + ": not valid JSON");
  return parse(j, "numerics declaration " + path);
}

Numerics Declaration::for_case(const Case& c) const {
  const std::string at = where_ + " (weights " + std::string(weight_format_name(c.w13.format)) + ", x " +
                         std::string(format_name(c.x_format)) + ", y " + std::string(format_name(c.y_format)) + ")";
  return numerics_from_json(apply_cases(json_, c), at, &c);
}

json declaration_of(const Variant& v) {
  // The file keys declarations by format only; auto's follow its pick.
  if (v.family() == "auto")
    throw InputError(v.name() + " picks a variant per shape and T (kernels/auto/crossover.hpp), so it has no single "
                     "declaration: use the one of the variant it picks (moecheck numerics VARIANT)");
  std::map<std::string, json> per;  // "w x y" -> that combination's fields
  std::vector<std::array<std::string, 3>> order;
  bool output_is_case = true;
  for (WeightFormat w : all_weight_formats())
    for (Format x : {Format::bf16, Format::f16, Format::f32})
      for (Format y : {Format::bf16, Format::f16, Format::f32}) {
        GenSpec s;
        s.shape = {1, 64, 32, 4, 2};
        s.weights = w, s.x_format = x, s.y_format = y;
        const Case c = generate_case(s);
        if (!v.supports(c).ok) continue;
        const Numerics n = v.numerics(c);
        output_is_case = output_is_case && n.output_format == y;
        const std::array<std::string, 3> key = {std::string(weight_format_name(w)), std::string(format_name(x)),
                                                std::string(format_name(y))};
        per[key[0] + " " + key[1] + " " + key[2]] = numerics_to_json(n);
        order.push_back(key);
      }
  if (order.empty()) throw InputError(v.name() + " supports no format combination to declare");
  json base = per[order[0][0] + " " + order[0][1] + " " + order[0][2]];
  if (output_is_case) base["output_format"] = "case";
  auto diff = [&](const std::array<std::string, 3>& k) {
    json n = per[k[0] + " " + k[1] + " " + k[2]];
    if (output_is_case) n["output_format"] = "case";
    json set = json::object();
    for (auto& [f, val] : n.items())
      if (base[f] != val) set[f] = val;
    return set;
  };
  // One entry per weight format where its x and y formats agree, else per
  // (weights, x), else per (weights, x, y): short files for the common case.
  json cases = json::array();
  std::set<std::string> done;
  for (const auto& k : order) {
    const json set = diff(k);
    bool by_w = true, by_wx = true;
    for (const auto& o : order) {
      if (o[0] != k[0]) continue;
      const bool same = diff(o) == set;
      by_w = by_w && same;
      by_wx = by_wx && (o[1] != k[1] || same);
    }
    json cond = {{"weights", k[0]}};
    if (!by_w) cond["x"] = k[1];
    if (!by_w && !by_wx) cond["y"] = k[2];
    if (set.empty() || !done.insert(cond.dump()).second) continue;
    cases.push_back({{"if", cond}, {"set", set}});
  }
  json out = {{"moecheck_numerics", kDeclarationVersion}, {"name", v.name()},
              {"description", "moecheck numerics " + v.name() + ": " + v.description()}};
  out.update(base);
  if (!cases.empty()) out["cases"] = cases;
  return out;
}

}  // namespace moecheck::external
