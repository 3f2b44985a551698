"""GIN layer: the fast path (``GINLayer.forward``) against the literal (u ⊗ v) ⊙ W maps (``forward_literal``).

Both compute AOANet Eq. 12, P^s = h^sᵀ Σ_{u,v} α^s_{u,v} (u ⊗ v) ⊙ W^s, for the same ``GINLayer`` (same
parameters). The literal path builds every D×D map Z (B·S·n·m·D² numbers: 4.8 GB for a whole batch of the
first shape below), so it runs in row chunks of at most ``--literal-elems`` map entries (default 4e7, about
0.16 GB per chunk) — the same math row by row, only the memory bounded; the fast path takes the batch at once.

What is timed, per side: forward and backward of one batch — ``out = layer(x0, xprev)`` (or the chunks of
``forward_literal``), ``(out * g).sum().backward()`` with a fixed random g, gradients reaching x0, xprev,
W, h and α — then the gradients are dropped. Rounds alternate which path runs first; the fast path repeats
until it has run for at least ``--min-seconds`` per round (one literal pass is already long). Reported:
seconds per batch (median over rounds) and literal/fast. Before timing, outputs and all five gradients are
checked to agree (float32, relative to the largest entry; the float64 check of the lemma lives in tests/).

Shapes (B rows, n = |B_0| fields, m = |B_{l-1}|, D, S):
    layer 1   B=1024 n=39 m=39 D=16 S=3   Criteo: 13 dense + 26 sparse fields, AOANet Table 4 (L = 2, S = 3)
    layer 2   B=1024 n=39 m=3  D=16 S=3   the second layer reads the S outputs of the first
    small     B=256  n=10 m=10 D=8  S=2   a notebook-sized layer

Run:  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/gin_fast_vs_literal.py [--rounds 3] [--shapes small layer2]
Target: literal/fast >= 10 on every shape. Absolute times swing with machine load (on a busy machine add
OMP_WAIT_POLICY=PASSIVE, see benchmarks/README.md); the ratio is the result.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import Tensor

from ctrviz.nn.gin import GINLayer

SHAPES = {  # name: (B, n, m, D, S)
    "layer1": (1024, 39, 39, 16, 3),
    "layer2": (1024, 39, 3, 16, 3),
    "small": (256, 10, 10, 8, 2),
}


def inputs(B: int, n: int, m: int, D: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x0 = torch.randn(B, n, D, generator=gen).requires_grad_()       # (B, n, D)
    xprev = torch.randn(B, m, D, generator=gen).requires_grad_()    # (B, m, D)
    return x0, xprev, gen


def fast(layer: GINLayer, x0: Tensor, xprev: Tensor, g: Tensor) -> Tensor:
    out = layer(x0, xprev)                                          # (B, S, D)
    (out * g).sum().backward()
    return out.detach()


def literal(layer: GINLayer, x0: Tensor, xprev: Tensor, g: Tensor, chunk: int) -> Tensor:
    outs = []
    for s in range(0, x0.shape[0], chunk):
        out = layer.forward_literal(x0[s:s + chunk], xprev[s:s + chunk])   # (chunk, S, D)
        (out * g[s:s + chunk]).sum().backward()
        outs.append(out.detach())
    return torch.cat(outs)                                          # (B, S, D)


def grads(layer: GINLayer, x0: Tensor, xprev: Tensor) -> dict[str, Tensor]:
    got = {"x0": x0.grad, "xprev": xprev.grad, "W": layer.weight.grad, "h": layer.h.grad, "alpha": layer.alpha.grad}
    drop_grads(layer, x0, xprev)
    return got


def drop_grads(layer: GINLayer, x0: Tensor, xprev: Tensor) -> None:
    for t in (x0, xprev, layer.weight, layer.h, layer.alpha):
        t.grad = None


def rel_err(a: Tensor, b: Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def bench(name: str, args: argparse.Namespace) -> dict[str, float]:
    B, n, m, D, S = SHAPES[name]
    torch.manual_seed(args.seed)
    layer = GINLayer(n, m, D, S)
    with torch.no_grad():                                           # α away from all-equal, as after training
        layer.alpha.mul_(torch.rand_like(layer.alpha))
    x0, xprev, gen = inputs(B, n, m, D, args.seed)
    g = torch.randn(B, S, D, generator=gen)                         # (B, S, D) upstream gradient
    chunk = max(1, min(B, int(args.literal_elems) // (S * n * m * D * D)))

    # agreement: outputs and every gradient, fast vs literal
    out_f, grad_f = fast(layer, x0, xprev, g), grads(layer, x0, xprev)
    out_l, grad_l = literal(layer, x0, xprev, g, chunk), grads(layer, x0, xprev)
    errs = {"out": rel_err(out_l, out_f), **{k: rel_err(grad_l[k], grad_f[k]) for k in grad_f}}
    worst = max(errs, key=errs.get)
    if errs[worst] > args.tol:
        raise AssertionError(f"{name}: fast and literal disagree: {worst} relative error {errs[worst]:.2e} "
                             f"> {args.tol:g} (all: {errs})")

    def time_fast() -> float:
        reps, t0 = 0, time.perf_counter()
        while True:
            fast(layer, x0, xprev, g)
            drop_grads(layer, x0, xprev)
            reps += 1
            if time.perf_counter() - t0 >= args.min_seconds:
                return (time.perf_counter() - t0) / reps

    def time_literal() -> float:
        t0 = time.perf_counter()
        literal(layer, x0, xprev, g, chunk)
        drop_grads(layer, x0, xprev)
        return time.perf_counter() - t0

    time_fast()                                                     # warm-up (the literal ran in the check)
    secs: dict[str, list[float]] = {"fast": [], "literal": []}
    for r in range(args.rounds):
        for side in (("fast", "literal") if r % 2 == 0 else ("literal", "fast")):
            secs[side].append(time_fast() if side == "fast" else time_literal())
    med = {k: statistics.median(v) for k, v in secs.items()}
    per_round = [lit / f for lit, f in zip(secs["literal"], secs["fast"], strict=True)]
    return {"B": B, "n": n, "m": m, "D": D, "S": S, "chunk": chunk, "fast": med["fast"], "literal": med["literal"],
            "ratio": med["literal"] / med["fast"], "lo": min(per_round), "hi": max(per_round),
            "err": errs[worst], "worst": worst}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--min-seconds", type=float, default=1.0, help="least time per fast-path measurement")
    p.add_argument("--literal-elems", type=float, default=4e7, help="most D×D map entries per literal chunk")
    p.add_argument("--tol", type=float, default=1e-4, help="largest relative error allowed (float32)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, nproc {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}; forward + backward per batch, {args.rounds} alternating rounds")
    print(f"\n{'shape':<8}{'B':>6}{'n':>4}{'m':>4}{'D':>4}{'S':>3}{'fast ms':>10}{'literal ms':>12}"
          f"{'literal/fast':>14}{'  per-round range':>19}{'max rel err':>13}  literal chunk")
    for name in args.shapes:
        r = bench(name, args)
        flag = "" if r["ratio"] >= 10 else "  < 10x"
        print(f"{name:<8}{r['B']:>6}{r['n']:>4}{r['m']:>4}{r['D']:>4}{r['S']:>3}{r['fast'] * 1e3:>10.2f}"
              f"{r['literal'] * 1e3:>12.1f}{r['ratio']:>13.1f}x{r['lo']:>10.1f}–{r['hi']:.1f}x"
              f"{r['err']:>13.1e}  {r['chunk']} rows{flag}", flush=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}; target: literal/fast >= 10")


if __name__ == "__main__":
    main()
