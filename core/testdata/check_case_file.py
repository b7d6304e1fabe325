#!/usr/bin/env python3
"""Independent check that a moecheck case file is plain safetensors.

Parses the file with the standard library only (the format is 8-byte header
length, JSON header, data), checks every tensor's dtype/shape/offsets and the
moecheck metadata, decodes x (bf16/f16/f32) and compares it with the values the
CLI printed. Where PyTorch's safetensors is importable (the GPU machines), also
loads the file with safetensors.torch.load_file and compares every tensor
byte for byte.
"""
import json
import struct
import sys

SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2,
         "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


def fail(msg):
    print("check_case_file: FAIL: " + msg)
    sys.exit(1)


def parse(path):
    raw = open(path, "rb").read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    data = raw[8 + hlen:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        n = 1
        for d in t["shape"]:
            n *= d
        b, e = t["data_offsets"]
        if e - b != n * SIZES[t["dtype"]]:
            fail(f"{name}: {e - b} bytes for shape {t['shape']} of {t['dtype']}")
        tensors[name] = (t["dtype"], t["shape"], data[b:e])
    return meta, tensors


def decode_x(dtype, payload):
    if dtype == "F32":
        return list(struct.unpack(f"<{len(payload) // 4}f", payload))
    halves = struct.unpack(f"<{len(payload) // 2}H", payload)
    if dtype == "BF16":
        return [struct.unpack("<f", struct.pack("<I", h << 16))[0] for h in halves]
    return [struct.unpack("<e", struct.pack("<H", h))[0] for h in halves]


def main():
    path = sys.argv[1]
    meta, tensors = parse(path)
    if meta.get("moecheck.version") != "1":
        fail("metadata moecheck.version is not 1")
    T, H, I, E, k = (int(meta[key]) for key in ("T", "H", "I", "E", "k"))
    dtype, shape, payload = tensors["x"]
    if shape != [T, H]:
        fail(f"x has shape {shape}, metadata says ({T}, {H})")
    if tensors["topk_ids"][1] != [T, k] or tensors["topk_ids"][0] != "I32":
        fail("topk_ids is not (T, k) I32")
    ids = struct.unpack(f"<{T * k}i", tensors["topk_ids"][2])
    if any(i < 0 or i >= E for i in ids):
        fail("expert id out of range")
    S = tensors["w13"][1][0]
    if tensors["w13"][1][1] != 2 * I or tensors["w2"][1][1:] != [H, I] and meta["weight_format"] not in ("mxfp4", "nvfp4"):
        fail(f"weight shapes {tensors['w13'][1]} {tensors['w2'][1]} do not match H={H} I={I}")
    x = decode_x(dtype, payload)
    absmax = max(abs(v) for v in x)
    print(f"stdlib parse ok: {len(tensors)} tensors, x absmax {absmax:.6g}, {S} experts stored, "
          f"weights {meta['weight_format']}")
    if len(sys.argv) > 2 and abs(absmax - float(sys.argv[2])) > 0:
        fail(f"x absmax {absmax} differs from the CLI's {sys.argv[2]}")
    try:
        from safetensors.torch import load_file
    except ImportError:
        print("safetensors.torch not importable here: checked with the stdlib parser only")
        return
    loaded = load_file(path)
    for name, (dt, shp, payload) in tensors.items():
        t = loaded[name]
        if list(t.shape) != shp:
            fail(f"torch sees {name} as {list(t.shape)}, expected {shp}")
        got = t.contiguous().view(-1).view(__import__("torch").uint8).numpy().tobytes()
        if got != payload:
            fail(f"torch bytes of {name} differ")
    print(f"safetensors.torch.load_file ok: {len(loaded)} tensors identical")


if __name__ == "__main__":
    main()
