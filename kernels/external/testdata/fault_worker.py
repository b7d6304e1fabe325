#!/usr/bin/env python3
"""A worker that misbehaves on purpose, for moecheck's fault tests, and the
trivial worker that measures the protocol's own cost (mode "zeros").

    fault_worker.py MODE NAME
MODE: zeros (y = 0, correct shape), crash, hang, garbage, wrong_shape,
error, wrong_id, no_handshake, bad_numerics.
"""
import json
import os
import struct
import sys
import time


def header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))


def write_y(path, rows, cols):
    data = bytes(2 * rows * cols)  # bf16 zeros
    head = json.dumps({"y": {"dtype": "BF16", "shape": [rows, cols], "data_offsets": [0, len(data)]}}).encode()
    head += b" " * (-len(head) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + data)
    os.replace(tmp, path)


def main():
    mode, name = sys.argv[1], sys.argv[2]
    numerics = {"moecheck_numerics": 1, "output_format": "bf16"}
    if mode == "bad_numerics":
        numerics["expert_out_format"] = "bf16"  # with the default fold_partials: contradicts itself
    if mode == "no_handshake":
        print("hello", flush=True)
    else:
        print(json.dumps({"moecheck_worker": 1, "name": name, "numerics": numerics,
                          "supports": {"weights": ["bf16"], "y": ["bf16"], "reason": "test worker"}}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if mode == "crash":
            os._exit(3)
        if mode == "hang":
            time.sleep(3600)
        if mode == "garbage":
            print("Traceback (most recent call last):", flush=True)
            continue
        if mode == "error":
            print(json.dumps({"id": req["id"], "status": "error", "message": "kernel raised ValueError"}), flush=True)
            continue
        t, h = header(req["case"])["x"]["shape"]
        write_y(req["output"], t, h + (1 if mode == "wrong_shape" else 0))
        rid = req["id"] + (1 if mode == "wrong_id" else 0)
        print(json.dumps({"id": rid, "status": "ok"}), flush=True)


main()
