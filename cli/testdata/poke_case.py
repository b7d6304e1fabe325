#!/usr/bin/env python3
"""poke_case.py IN OUT TENSOR INDEX VALUE [TENSOR INDEX VALUE ...]

Copies a case file, setting elements of its tensors (flat INDEX) to VALUE
(a float: nan, inf, 3e38), encoded in the tensor's dtype (BF16, F16, F32).
The tests of the accuracy rule use it to make cases no generator flag makes:
a NaN and an infinity in x, a routing weight of 3e38."""
import json
import struct
import sys


def encode(dtype: str, v: float) -> bytes:
    if dtype == "F32":
        return struct.pack("<f", v)
    if dtype == "F16":
        return struct.pack("<e", v)
    if dtype == "BF16":  # the top half of the fp32 pattern: exact for nan, inf and bf16 values
        return struct.pack("<f", v)[2:]
    raise SystemExit(f"poke_case: dtype {dtype} not supported")


def main() -> int:
    args = sys.argv[1:]
    if len(args) < 5 or (len(args) - 2) % 3:
        print(__doc__, file=sys.stderr)
        return 2
    data = bytearray(open(args[0], "rb").read())
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    for name, index, value in zip(*[iter(args[2:])] * 3):
        t = header[name]
        code = encode(t["dtype"], float(value))
        at = 8 + n + t["data_offsets"][0] + int(index) * len(code)
        if at + len(code) > 8 + n + t["data_offsets"][1]:
            raise SystemExit(f"poke_case: {name}[{index}] is past the tensor")
        data[at : at + len(code)] = code
    open(args[1], "wb").write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
