"""torch_eager_worker.py with one bug, for CI to prove that moecheck catches
it: every expert of a token is weighted with the token's FIRST routing
weight (topk_weights[tok, 0] instead of topk_weights[tok, j]), an indexing
slip that top-1 tests and equal routing weights never see.

    moecheck fuzz --exec 'python3 examples/python/broken_worker.py' --cases 40   # must FAIL
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from moecheck_worker import serve  # noqa: E402


def moe_layer(case):
    out = torch.zeros(case.T, case.H, dtype=torch.float32, device=case.x.device)
    for e, tok, _ in case.routed_experts():
        g, u = case.gate_up(case.x[tok] @ case.w13[e].t())
        h = F.silu(g) * u
        y_e = h @ case.w2[e].t()
        out.index_add_(0, tok, y_e.float() * case.topk_weights[tok, 0, None])  # the bug: 0, not j
    return out.to(case.y_dtype)


if __name__ == "__main__":
    torch.set_num_threads(1)
    here = os.path.dirname(os.path.abspath(__file__))
    serve("torch_eager_broken", moe_layer, description="torch_eager_worker.py with a routing-weight indexing bug",
          numerics_file=os.path.join(here, "..", "numerics", "pytorch_eager_bf16.json"),
          supports={"weights": ["bf16"], "x": ["bf16"], "activations": ["swiglu"]},
          claims={"deterministic": True})
