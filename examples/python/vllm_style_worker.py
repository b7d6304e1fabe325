"""The numerics of a vLLM-style Triton fused MoE, written in PyTorch so they
run anywhere: its declaration, ../numerics/vllm_triton_fused_moe.json, is
fuzzed here without Triton or a GPU. With Triton, call your kernel from
moe_layer instead and keep (or edit) the declaration.

    moecheck fuzz --exec 'python3 examples/python/vllm_style_worker.py' --cases 200
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from moecheck_worker import serve  # noqa: E402


def moe_layer(case):
    out = torch.zeros(case.T, case.H, dtype=torch.float32, device=case.x.device)
    for e, tok, j in case.routed_experts():
        gu = (case.x[tok].float() @ case.w13[e].float().t()).to(torch.bfloat16)  # tl.dot in fp32, stored bf16
        g, u = case.gate_up(gu)
        h = (F.silu(g.float()) * u.float()).to(torch.bfloat16)  # silu_and_mul in fp32, stored bf16
        acc = h.float() @ case.w2[e].float().t()  # the down tl.dot in fp32
        y_e = (acc * case.topk_weights[tok, j, None]).to(torch.bfloat16)  # routing weight in the epilogue
        out.index_add_(0, tok, y_e.float())  # the top-k sum in fp32
    return out.to(case.y_dtype)


if __name__ == "__main__":
    torch.set_num_threads(int(os.environ.get("MOECHECK_WORKER_THREADS", "1")))
    here = os.path.dirname(os.path.abspath(__file__))
    serve("vllm_style_fused_moe", moe_layer, description="vLLM-style fused MoE numerics in PyTorch",
          numerics_file=os.path.join(here, "..", "numerics", "vllm_triton_fused_moe.json"),
          supports={"weights": ["bf16"], "x": ["bf16"], "activations": ["swiglu"]},
          claims={"deterministic": True})
