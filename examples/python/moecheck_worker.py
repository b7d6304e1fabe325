"""The moecheck worker protocol, for a kernel written in Python.

moecheck starts the worker once (`moecheck fuzz --exec 'python3 my_worker.py'`)
and talks to it in JSON lines: the worker prints one handshake line, then
answers each request line {"id", "case", "output"} by reading the case file,
running its kernel and writing y to the output file, with one reply line
{"id", "status": "ok"} or {"id", "status": "error", "message"}. stdout is
the protocol: log to stderr. See kernels/external/README.md.

Case and output files are safetensors. Debian has no python3-safetensors,
so they are read here with json + torch.frombuffer: an 8-byte little-endian
header length, the JSON header, then the raw tensor bytes.
"""
import json
import os
import struct
import sys
import traceback

import torch

DTYPES = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32, "I32": torch.int32, "U8": torch.uint8}
NAMES = {torch.bfloat16: "BF16", torch.float16: "F16", torch.float32: "F32"}
Y_DTYPES = {"bf16": torch.bfloat16, "f16": torch.float16, "f32": torch.float32}
# Same-size integer views, to get raw bytes out of a tensor through numpy
# (which has no bf16).
RAW = {torch.bfloat16: torch.int16, torch.float16: torch.int16, torch.float32: torch.int32}


def read_safetensors(path):
    """(metadata, {name: tensor}); tensors of dtypes this module does not read are left out."""
    with open(path, "rb") as f:
        data = bytearray(f.read())
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        dtype = DTYPES.get(t["dtype"])
        if dtype is None:
            continue
        a, b = t["data_offsets"]
        size = torch.empty(0, dtype=dtype).element_size()
        flat = torch.frombuffer(data, dtype=dtype, offset=8 + n + a, count=(b - a) // size) if b > a else \
            torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(t["shape"])
    return meta, tensors


def write_y(path, y):
    """Writes tensor y as the only tensor of a safetensors file, atomically."""
    y = y.detach().to("cpu").contiguous()
    raw = y.view(RAW[y.dtype]).numpy().tobytes()
    head = json.dumps({"y": {"dtype": NAMES[y.dtype], "shape": list(y.shape), "data_offsets": [0, len(raw)]}})
    head = head.encode() + b" " * (-len(head) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + raw)
    os.replace(tmp, path)


def fp32_text(text):
    """alpha and limit travel as C99 hex floats (exact); older files wrote decimal."""
    return float.fromhex(text) if "0x" in text.lower() else float(text)


class Case:
    """A moecheck case: x (T, H), routing (T, k) as storage slots, w13 (S, 2I, H), w2 (S, H, I)."""

    def __init__(self, path, device):
        meta, t = read_safetensors(path)
        self.T, self.H, self.I, self.E, self.k = (int(meta[d]) for d in ("T", "H", "I", "E", "k"))
        self.weight_format, self.x_format = meta["weight_format"], meta["x_format"]
        self.y_dtype = Y_DTYPES[meta.get("y_format", "bf16")]
        self.activation, self.layout = meta["activation"], meta["layout"]
        self.alpha, self.limit = fp32_text(meta["alpha"]), fp32_text(meta["limit"])
        ids = t["topk_ids"].long()
        if "stored_experts" in t:  # only the routed experts' weights are stored: global id -> slot
            ids = torch.searchsorted(t["stored_experts"].long(), ids)
        self.topk_ids = ids.to(device)
        self.topk_weights = t["topk_weights"].to(device)
        self.x, self.w13, self.w2 = t["x"].to(device), t["w13"].to(device), t["w2"].to(device)

    def routed_experts(self):
        """(e, tok, j) for each stored expert that some token routes to: its tokens and their top-k slots."""
        for e in range(self.w13.shape[0]):
            tok, j = torch.where(self.topk_ids == e)
            if tok.numel():
                yield e, tok, j

    def gate_up(self, gu):
        """Splits a (n, 2I) gate/up product by the case's layout."""
        if self.layout == "interleaved":
            return gu[:, 0::2], gu[:, 1::2]
        return gu[:, : self.I], gu[:, self.I :]


def serve(name, layer, description="", numerics_file=None, supports=None, claims=None, device="cpu"):
    """Handshake, then one reply per request until stdin closes. layer(case) -> y (T, H) in case.y_dtype."""
    if device == "cpu":
        # Debian's torch 1.13 (oneDNN 2.x) runs bf16 GEMMs on AMX where the
        # CPU has it without asking Linux for the AMX state, and dies of
        # SIGILL (moecheck fuzz found it: the worker "exited with status
        # 132" on a T=6 H=63 I=40 case). oneDNN reads this cap at its first
        # GEMM; a setting of your own wins.
        os.environ.setdefault("DNNL_MAX_CPU_ISA", "AVX512_CORE_BF16")
    hello = {"moecheck_worker": 1, "name": name, "description": description,
             "numerics_file": os.path.abspath(numerics_file), "supports": supports or {}, "claims": claims or {}}
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        try:
            with torch.no_grad():
                case = Case(req["case"], device)
                write_y(req["output"], layer(case))
            reply = {"id": req["id"], "status": "ok"}
        except Exception as e:  # the kernel's failure is moecheck's finding: report it, keep serving
            traceback.print_exc(file=sys.stderr)
            reply = {"id": req["id"], "status": "error", "message": f"{type(e).__name__}: {e}"}
        print(json.dumps(reply), flush=True)
