#!/usr/bin/env python3
"""Writes the hostile-input corpus for the case loader (standard library only).

    python3 core/testdata/make_malformed.py

valid/      small well-formed case files; they must load. They are the bases
            the malformed files are derived from, so a malformed file fails
            for the one reason it was built for, not because its base was bad.
malformed/  one tiny file per defect; each must be rejected with an InputError
            whose message contains the text listed in malformed/EXPECTED.tsv.

The files are committed; rerun this after changing it and commit the result.
"""
import json
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VALID = os.path.join(HERE, "valid")
MALFORMED = os.path.join(HERE, "malformed")

# ---- container ---------------------------------------------------------------


def container(header_obj, data, pad=True):
    """A safetensors file: u64 LE header length, JSON header, data."""
    h = json.dumps(header_obj, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)  # the reference aligns the data section to 8
    return struct.pack("<Q", len(h)) + h + data


def raw(header_bytes, data=b""):
    return struct.pack("<Q", len(header_bytes)) + header_bytes + data


def tensors(metadata, named):
    """named: list of (name, dtype, shape, bytes) laid out back to back."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, payload in named:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(payload)]}
        data += payload
    return container(header, data)


# ---- a valid case (core/case_io.hpp) ---------------------------------------------

T, H, I, E, K_TOP = 2, 4, 2, 4, 2


def bf16(v):
    return struct.pack("<f", v)[2:]


def meta(**over):
    m = {
        "moecheck.version": "1",
        "T": str(T), "H": str(H), "I": str(I), "E": str(E), "k": str(K_TOP),
        "weight_format": "bf16", "x_format": "bf16", "activation": "swiglu",
        "alpha": "1.70200002", "limit": "7", "layout": "concatenated",
        "provenance": "{\"made_by\":\"core/testdata/make_malformed.py\"}",
    }
    m.update(over)
    return {k: v for k, v in m.items() if v is not None}


def i32(vals):
    return struct.pack("<%di" % len(vals), *vals)


def f32(vals):
    return struct.pack("<%df" % len(vals), *vals)


def case_tensors(weights="bf16", ids=(0, 1, 2, 3), wts=(0.5, 0.5, 0.25, 0.75), S=E):
    """(name, dtype, shape, bytes) for a T=2 H=4 I=2 E=4 k=2 case."""
    out = [
        ("x", "BF16", [T, H], b"".join(bf16(v) for v in (1.0, -2.0, 0.5, 3.0, 0.25, 1.5, -1.0, 2.0))),
        ("topk_ids", "I32", [T, K_TOP], i32(ids)),
        ("topk_weights", "F32", [T, K_TOP], f32(wts)),
    ]
    if weights == "bf16":
        out += [
            ("w13", "BF16", [S, 2 * I, H], b"".join(bf16(0.125 * ((n % 7) - 3)) for n in range(S * 2 * I * H))),
            ("w2", "BF16", [S, H, I], b"".join(bf16(0.25 * ((n % 5) - 2)) for n in range(S * H * I))),
        ]
    elif weights == "mxfp8":
        # e4m3 codes 0x30..0x3f (0.5 .. 1.875) and e8m0 scale 127 (1.0), one block per row.
        out += [
            ("w13", "F8_E4M3", [S, 2 * I, H], bytes(0x30 + n % 16 for n in range(S * 2 * I * H))),
            ("w13.scale", "U8", [S, 2 * I, 1], bytes([127]) * (S * 2 * I)),
            ("w2", "F8_E4M3", [S, H, I], bytes(0x30 + n % 16 for n in range(S * H * I))),
            ("w2.scale", "U8", [S, H, 1], bytes([126]) * (S * H)),
        ]
    elif weights == "nvfp4":
        # packed e2m1 pairs (low nibble = even k), e4m3 block scales 1.0 (0x38), tensor scale 0.5.
        out += [
            ("w13", "U8", [S, 2 * I, H // 2], bytes(0x21 + n % 3 for n in range(S * 2 * I * H // 2))),
            ("w13.scale", "F8_E4M3", [S, 2 * I, 1], bytes([0x38]) * (S * 2 * I)),
            ("w13.tensor_scale", "F32", [S], f32([0.5] * S)),
            ("w2", "U8", [S, H, 1], bytes(0x12 + n % 3 for n in range(S * H))),
            ("w2.scale", "F8_E4M3", [S, H, 1], bytes([0x38]) * (S * H)),
            ("w2.tensor_scale", "F32", [S], f32([0.5] * S)),
        ]
    return out


def replace(named, name, dtype=None, shape=None, payload=None):
    out = []
    for n, d, s, p in named:
        if n == name:
            out.append((n, dtype or d, shape if shape is not None else s, payload if payload is not None else p))
        else:
            out.append((n, d, s, p))
    return out


def drop(named, name):
    return [t for t in named if t[0] != name]


def duplicate_key_case(key, second):
    """A valid case whose __metadata__ names `key` twice (json.dumps cannot)."""
    good = tensors(meta(), case_tensors())
    hlen = struct.unpack("<Q", good[:8])[0]
    header, data = good[8:8 + hlen], good[8 + hlen:]
    header = header.replace(b'"%s":' % key.encode(), b'"%s":"%s","%s":' % (key.encode(), second.encode(), key.encode()), 1)
    return raw(header.rstrip() + b" " * (-len(header.rstrip()) % 8), data)


# A generator spec of moecheck's own form whose case has this file's shape
# and formats but other values.
FALSE_PROVENANCE = json.dumps({
    "generator": "moecheck.generate_case/1", "preset": "custom", "T": T, "H": H, "I": I, "E": E, "k": K_TOP,
    "weights": "bf16", "x_format": "bf16", "y_format": "bf16", "activation": "swiglu", "alpha": 1.7020000219345093,
    "limit": 7.0, "layout": "concatenated", "routing": "uniform", "values": "normal", "storage": "auto",
    "seed": "1"}, separators=(",", ":"))


def valid_files():
    return {
        "case_bf16.safetensors": tensors(meta(), case_tensors()),
        "case_mxfp8.safetensors": tensors(meta(weight_format="mxfp8"), case_tensors("mxfp8")),
        "case_nvfp4.safetensors": tensors(meta(weight_format="nvfp4"), case_tensors("nvfp4")),
        "case_stored_experts.safetensors": tensors(
            meta(), case_tensors(ids=(0, 2, 2, 3), S=3) + [("stored_experts", "I32", [3], i32([0, 2, 3]))]),
        "case_swiglu_clamped.safetensors": tensors(meta(activation="swiglu_clamped", limit="10"), case_tensors()),
        # A provenance that claims what the file is not: `case verify` exits 1.
        "case_false_provenance.safetensors": tensors(meta(provenance=FALSE_PROVENANCE), case_tensors()),
        # alpha and limit as moecheck writes them now: the fp32 value's hex float.
        "case_alpha_hex.safetensors": tensors(
            meta(activation="swiglu_clamped", alpha="0x1.b3b646p+0", limit="0x1.cp+2"), case_tensors()),
        # What `case new --alpha 1e-40` wrote before: a decimal that rounds to
        # a subnormal fp32 (std::stof rejected it).
        "case_alpha_subnormal_decimal.safetensors": tensors(
            meta(activation="swiglu_clamped", alpha="9.9999461e-41"), case_tensors()),
        # The others have no y_format key (files from before it existed): bf16.
        "case_y_f32.safetensors": tensors(meta(y_format="f32"), case_tensors()),
        # An empty tensor sharing its offset with a non-empty one that sorts
        # before it by name: legal (the reference orders spans by (begin, end)).
        "case_zero_sized_tensor.safetensors": tensors(meta(), [("zz_empty", "F32", [0], b"")] + case_tensors()),
    }


# ---- the malformed corpus ----------------------------------------------------------


def malformed_files():
    base = tensors(meta(), case_tensors())
    hlen = struct.unpack("<Q", base[:8])[0]
    good_tensor = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    eight = f32([1.0, 2.0])
    f = {}  # name -> (bytes, expected message fragment)

    def one(name, header_obj, data, expect):
        f[name] = (container(header_obj, data), expect)

    # -- the outer container
    f["empty"] = (b"", "need at least 8")
    f["short_length"] = (b"\x10\x00\x00\x00\x00", "need at least 8")
    f["length_only"] = (struct.pack("<Q", 0), "not valid JSON")
    f["header_past_end"] = (struct.pack("<Q", 1000) + b'{"a":1}', "runs past the end")
    f["header_length_2p63"] = (struct.pack("<Q", 1 << 63) + b"{}      ", "exceeds 100 MB")
    f["header_length_max"] = (struct.pack("<Q", (1 << 64) - 1) + b"{}      ", "exceeds 100 MB")
    f["header_length_101MB"] = (struct.pack("<Q", 101 << 20) + b"{}      ", "exceeds 100 MB")
    f["truncated_in_header"] = (base[: 8 + hlen // 2], "runs past the end")
    f["truncated_in_data"] = (base[: len(base) - 5], "outside the")
    f["truncated_to_header"] = (base[: 8 + hlen], "outside the")
    # -- the JSON header
    f["header_not_json"] = (raw(b"hello, world"), "not valid JSON")
    f["header_json_array"] = (raw(b"[1,2,3]"), "not a JSON object")
    f["header_json_string"] = (raw(b'"x"'), "not a JSON object")
    f["header_json_null"] = (raw(b"null"), "not a JSON object")
    f["header_unterminated"] = (raw(b'{"x":{"dtype":"F32"'), "not valid JSON")
    f["header_invalid_utf8"] = (raw(b'{"\xff\xfe":{}}'), "not valid JSON")
    f["header_nul_byte"] = (raw(b'{"x"\x00:1}'), "not valid JSON")
    f["header_deep_nesting"] = (raw(b"[" * 20000), "nests deeper than 3 levels")
    f["header_depth_4"] = (raw(b'{"x":{"dtype":"F32","shape":[[2]],"data_offsets":[0,8]}}'), "nests deeper than 3 levels")
    # nlohmann::json keeps the last of repeated keys silently; the loader must not.
    f["header_duplicate_tensor"] = (raw(b'{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                        b'"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', eight),
                                    "duplicate key 'x' in the safetensors header")
    f["header_duplicate_metadata"] = (raw(b'{"__metadata__":{"T":"2"},"__metadata__":{"T":"3"},'
                                          b'"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', eight),
                                      "duplicate key '__metadata__' in the safetensors header")
    f["entry_duplicate_dtype"] = (raw(b'{"x":{"dtype":"F64","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', eight),
                                  "duplicate key 'dtype' in the entry of tensor 'x'")
    f["header_trailing_garbage"] = (raw(b'{} {"a":1}'), "not valid JSON")
    # -- tensor entries
    one("entry_not_object", {"x": 5}, b"", "entry is not an object")
    one("dtype_unknown", {"x": dict(good_tensor, dtype="F17")}, eight, "unknown safetensors dtype")
    one("dtype_lowercase", {"x": dict(good_tensor, dtype="f32")}, eight, "unknown safetensors dtype")
    one("dtype_empty", {"x": dict(good_tensor, dtype="")}, eight, "unknown safetensors dtype")
    one("dtype_not_string", {"x": dict(good_tensor, dtype=4)}, eight, "missing dtype")
    one("dtype_missing", {"x": {"shape": [2], "data_offsets": [0, 8]}}, eight, "missing dtype")
    one("shape_missing", {"x": {"dtype": "F32", "data_offsets": [0, 8]}}, eight, "missing shape")
    one("shape_not_array", {"x": dict(good_tensor, shape="2")}, eight, "shape is not an array")
    one("shape_negative", {"x": dict(good_tensor, shape=[-1, -2])}, eight, "out of range")
    one("shape_float", {"x": dict(good_tensor, shape=[2.0])}, eight, "non-integer")
    one("shape_string_entry", {"x": dict(good_tensor, shape=["2"])}, eight, "non-integer")
    one("shape_u64_max", {"x": dict(good_tensor, shape=[(1 << 64) - 1])}, eight, "out of range")
    one("shape_product_overflows", {"x": dict(good_tensor, shape=[1 << 32, 1 << 32, 1 << 32])}, eight,
        "overflows")
    one("shape_product_wraps_to_2", {"x": dict(good_tensor, shape=[1 << 62, 1 << 62, 2])}, eight, "out of range")
    one("offsets_missing", {"x": {"dtype": "F32", "shape": [2]}}, eight, "data_offsets")
    one("offsets_negative", {"x": dict(good_tensor, data_offsets=[-8, 0])}, eight, "data_offsets")
    one("offsets_three", {"x": dict(good_tensor, data_offsets=[0, 4, 8])}, eight, "data_offsets")
    one("offsets_float", {"x": dict(good_tensor, data_offsets=[0, 8.0])}, eight, "data_offsets")
    one("offsets_reversed", {"x": dict(good_tensor, data_offsets=[8, 0])}, eight, "outside the")
    one("offsets_past_end", {"x": dict(good_tensor, data_offsets=[0, 4096])}, eight, "outside the")
    one("offsets_u64_max", {"x": dict(good_tensor, data_offsets=[8, (1 << 64) - 1])}, eight, "outside the")
    one("offsets_size_mismatch", {"x": dict(good_tensor, data_offsets=[0, 4])}, eight[:4], "bytes for")
    one("offsets_size_mismatch_dtype", {"x": dict(good_tensor, dtype="F64")}, eight, "bytes for")
    one("tensors_overlap",
        {"a": dict(good_tensor, data_offsets=[0, 8]), "b": dict(good_tensor, data_offsets=[4, 12])},
        eight + eight[:4], "overlaps")
    one("tensors_alias",
        {"a": dict(good_tensor, data_offsets=[0, 8]), "b": dict(good_tensor, data_offsets=[0, 8])},
        eight, "overlaps")
    one("data_hole",
        {"a": dict(good_tensor, data_offsets=[0, 8]), "b": dict(good_tensor, data_offsets=[12, 20])},
        eight + b"\0" * 4 + eight, "hole")
    one("data_trailing_bytes", {"x": good_tensor}, eight + b"\0" * 8, "trailing bytes")
    one("metadata_not_object", {"__metadata__": ["a"], "x": good_tensor}, eight, "__metadata__ is not an object")
    one("metadata_int_value", {"__metadata__": {"T": 2}, "x": good_tensor}, eight, "is not a string")
    one("metadata_null_value", {"__metadata__": {"T": None}, "x": good_tensor}, eight, "is not a string")
    one("metadata_object_value", {"__metadata__": {"T": {"v": "2"}}, "x": good_tensor}, eight, "is not a string")

    # -- valid containers holding impossible cases
    def case(name, md, named, expect):
        f["case_" + name] = (tensors(md, named), expect)

    ct = case_tensors()
    case("no_metadata", None, ct, "lacks 'moecheck.version'")
    case("version_2", meta(**{"moecheck.version": "2"}), ct, "not supported")
    case("missing_k", meta(k=None), ct, "lacks 'k'")
    case("T_not_integer", meta(T="two"), ct, "not an integer")
    case("T_trailing_text", meta(T="2x"), ct, "not an integer")
    case("T_overflows", meta(T="99999999999999999999"), ct, "not an integer")
    case("T_zero", meta(T="0"), ct, "at least 1")
    case("H_negative", meta(H="-4"), ct, "at least 1")
    case("H_huge", meta(H=str(1 << 40)), ct, "too large")
    case("k_greater_than_E", meta(k="5"), ct, "top-k exceeds")
    case("shape_contradicts_x", meta(H="8"), ct, "has shape")
    case("shape_contradicts_ids", meta(k="1"), ct, "has shape")
    case("w13_rows_wrong", meta(), replace(ct, "w13", shape=[E, I, 2 * H]), "has shape")
    case("missing_x", meta(), drop(ct, "x"), "no tensor 'x'")
    case("missing_w2", meta(), drop(ct, "w2"), "no tensor 'w2'")
    case("missing_topk_weights", meta(), drop(ct, "topk_weights"), "no tensor 'topk_weights'")
    case("x_format_contradicts_dtype", meta(x_format="f16"), ct, "contradicts")
    case("x_dtype_f64", meta(), replace(ct, "x", dtype="F64", shape=[T, H // 4]), "expected BF16, F16 or F32")
    case("ids_dtype_f32", meta(), replace(ct, "topk_ids", dtype="F32"), "dtype")
    case("weights_dtype_bf16", meta(), replace(ct, "topk_weights", dtype="BF16", shape=[T, K_TOP, 2]), "dtype")
    case("id_out_of_range", meta(), case_tensors(ids=(0, 1, 2, 4)), "outside [0, 4)")
    case("id_negative", meta(), case_tensors(ids=(0, -1, 2, 3)), "outside [0, 4)")
    case("id_int_min", meta(), case_tensors(ids=(0, 1, -(1 << 31), 3)), "outside [0, 4)")
    case("id_repeated_in_token", meta(), case_tensors(ids=(0, 1, 3, 3)), "repeated")
    case("weight_nan", meta(), case_tensors(wts=(0.5, float("nan"), 0.25, 0.75)), "not finite")
    case("weight_inf", meta(), case_tensors(wts=(0.5, 0.5, float("-inf"), 0.75)), "not finite")
    case("unknown_weight_format", meta(weight_format="mxfp6"), ct, "unknown weight format")
    case("unknown_activation", meta(activation="relu"), ct, "unknown activation")
    case("unknown_layout", meta(layout="diagonal"), ct, "layout")
    case("unknown_x_format", meta(x_format="f24"), ct, "unknown number format")
    case("unknown_y_format", meta(y_format="f24"), ct, "unknown number format")
    case("y_format_e4m3", meta(y_format="e4m3"), ct, "y format must be bf16, f16 or f32")
    case("alpha_not_number", meta(alpha="fast"), ct, "not a number")
    case("clamped_limit_nan", meta(activation="swiglu_clamped", limit="nan"), ct, "clamped SwiGLU")
    case("bf16_with_scale", meta(), ct + [("w13.scale", "F32", [E, 2 * I], f32([1.0] * (E * 2 * I)))], "present but")
    case("alpha_overflows_fp32", meta(activation="swiglu_clamped", alpha="1e39"), ct, "within fp32's range")
    f["case_metadata_duplicate_activation"] = (duplicate_key_case("activation", "geglu"),
                                               "duplicate key 'activation' in __metadata__")
    mx = case_tensors("mxfp8")
    case("mxfp8_missing_scale", meta(weight_format="mxfp8"), drop(mx, "w13.scale"), "no tensor 'w13.scale'")
    case("mxfp8_missing_w2_scale", meta(weight_format="mxfp8"), drop(mx, "w2.scale"), "no tensor 'w2.scale'")
    case("mxfp8_scale_shape", meta(weight_format="mxfp8"),
         replace(mx, "w13.scale", shape=[E, 1, 2 * I]), "has shape")
    case("mxfp8_scale_dtype", meta(weight_format="mxfp8"),
         replace(mx, "w2.scale", dtype="F8_E4M3"), "dtype")
    case("mxfp8_data_bf16", meta(weight_format="mxfp8"), replace(ct, "w13", dtype="BF16"), "dtype")
    nv = case_tensors("nvfp4")
    case("nvfp4_missing_tensor_scale", meta(weight_format="nvfp4"), drop(nv, "w2.tensor_scale"),
         "no tensor 'w2.tensor_scale'")
    case("nvfp4_tensor_scale_zero", meta(weight_format="nvfp4"),
         replace(nv, "w13.tensor_scale", payload=f32([0.5, 0.0, 0.5, 0.5])), "finite and positive")
    case("nvfp4_tensor_scale_nan", meta(weight_format="nvfp4"),
         replace(nv, "w13.tensor_scale", payload=f32([0.5, float("nan"), 0.5, 0.5])), "finite and positive")
    case("nvfp4_unpacked_data", meta(weight_format="nvfp4"),
         replace(nv, "w13", shape=[E, 2 * I, H], payload=bytes(E * 2 * I * H)), "has shape")
    st3 = case_tensors(ids=(0, 2, 2, 3), S=3)
    case("stored_experts_out_of_range", meta(), st3 + [("stored_experts", "I32", [3], i32([0, 2, 4]))],
         "stored_experts")
    case("stored_experts_unsorted", meta(), st3 + [("stored_experts", "I32", [3], i32([0, 3, 2]))],
         "strictly ascending")
    case("stored_experts_empty", meta(), ct + [("stored_experts", "I32", [0], b"")], "empty")
    case("stored_experts_dtype", meta(), st3 + [("stored_experts", "I64", [3], struct.pack("<3q", 0, 2, 3))],
         "stored_experts")
    case("expert_not_stored", meta(), case_tensors(ids=(0, 2, 1, 3), S=3) + [
        ("stored_experts", "I32", [3], i32([0, 2, 3]))], "no stored weights")
    case("stored_count_mismatch", meta(), ct + [("stored_experts", "I32", [3], i32([0, 2, 3]))], "has shape")
    return f


def write_tree(path, files):
    os.makedirs(path, exist_ok=True)
    for old in os.listdir(path):
        if old.endswith(".safetensors"):
            os.remove(os.path.join(path, old))
    for name, data in sorted(files.items()):
        with open(os.path.join(path, name), "wb") as fh:
            fh.write(data)


def main():
    write_tree(VALID, valid_files())
    mal = malformed_files()
    write_tree(MALFORMED, {n + ".safetensors": d for n, (d, _) in mal.items()})
    with open(os.path.join(MALFORMED, "EXPECTED.tsv"), "w") as fh:
        fh.write("# file\tfragment the InputError message must contain (written by make_malformed.py)\n")
        for name, (_, expect) in sorted(mal.items()):
            fh.write("%s.safetensors\t%s\n" % (name, expect))
    biggest = max(len(d) for d, _ in mal.values())
    print("wrote %d valid and %d malformed files (largest %d bytes)" % (len(valid_files()), len(mal), biggest))
    return 0


if __name__ == "__main__":
    sys.exit(main())
