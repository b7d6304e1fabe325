"""A moecheck worker around a plain PyTorch eager MoE layer: bf16, one loop
iteration per expert, as a reference implementation in a model repository
would write it. Its numerics: ../numerics/pytorch_eager_bf16.json.

    moecheck fuzz --exec 'python3 examples/python/torch_eager_worker.py' --cases 40
    ... torch_eager_worker.py --device cuda   (the layer on a GPU)
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from moecheck_worker import serve  # noqa: E402


def moe_layer(case):
    """y = sum_j w_j * W2_e (silu(G_e x) * (U_e x)) over each token's top-k experts e."""
    out = torch.zeros(case.T, case.H, dtype=torch.float32, device=case.x.device)
    for e, tok, j in case.routed_experts():
        g, u = case.gate_up(case.x[tok] @ case.w13[e].t())  # bf16 GEMM, output in bf16
        h = F.silu(g) * u  # two bf16 kernels: silu(g) rounded, then the product
        y_e = h @ case.w2[e].t()  # bf16 GEMM
        out.index_add_(0, tok, y_e.float() * case.topk_weights[tok, j, None])
    return out.to(case.y_dtype)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--name", default="torch_eager_bf16")
    args = ap.parse_args()
    # Small decode cases: threads cost more than they save, and moecheck
    # needs the other core for the oracle.
    torch.set_num_threads(int(os.environ.get("MOECHECK_WORKER_THREADS", "1")))
    if args.device.startswith("cuda"):
        # Otherwise cuBLAS may reduce split-K partial sums in bf16, which the
        # declaration (fp32 accumulation) does not allow.
        torch.backends.cuda.matmul.allow_bf16_reduced_precision_reduction = False
        # The worker claims determinism, which CUDA's index_add_ (float
        # atomics) and cuBLAS's split-K workspaces keep only in this mode.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
    here = os.path.dirname(os.path.abspath(__file__))
    serve(args.name, moe_layer, description=f"PyTorch eager bf16 per-expert loop on {args.device}",
          numerics_file=os.path.join(here, "..", "numerics", "pytorch_eager_bf16.json"),
          supports={"weights": ["bf16"], "x": ["bf16"], "activations": ["swiglu"],
                    "reason": "the layer is bf16 SwiGLU"},
          claims={"deterministic": True}, device=args.device)


if __name__ == "__main__":
    main()
