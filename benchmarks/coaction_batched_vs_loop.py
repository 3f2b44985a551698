"""CAN's co-action unit: ctrviz's batched ``CoAction`` against a per-pair / per-order Python loop.

The loop reference is written here and reads the unit's own parameters (``induction`` and ``feed`` tables)
and its own row offsets and id columns (its buffers), so both compute the same function; before timing the
outputs (B, P, O) and the gradients of both tables are asserted to agree. The loop is the straightforward
reading of CAN Eq. 5–11: gather P_induction and P_feed rows (once per table, as the unit does), then for
every pair k and every order c split P_induction (B, D') into the micro-MLP's weights and biases, raise
P_feed (B, T, D) to the power c, run it through the layers with one ``bmm`` per layer (batch rows and
positions vectorised), mask padding, sum-pool over T, then combine the orders (sum or concat) — P·C·L
small kernels per forward instead of a few per feed length.

What is timed, per side: forward and backward of one batch — ``out = unit(batch)`` or the loop,
``(out * g).sum().backward()`` with a fixed random g — then the gradients are dropped. Rounds alternate which
side runs first; each measurement repeats until ``--min-seconds`` have passed. Reported: ms per batch (median)
and loop/batched.

Setting (CAN Sec. 5.1 and its public-data experiments): B = 1024; induction fields item and category; feed
fields the user's item and category histories (T = 50, 0-padded, lengths uniform in 1..50) and two profile
ids (age, gender); six pairs: item×hist_item, category×hist_cat, item×age, item×gender, category×age,
category×gender; micro-MLP 16→8→4, tanh, biases, orders C = 3. Configs: ``default`` (parameter independence
only, orders summed), ``independent`` (combination and order independence on too), ``concat`` (orders
concatenated). Tables are initialised with std 0.1 instead of CAN's 0.01 so the agreement check is not
trivially met by near-zero outputs; speed does not depend on it.

Run:  OMP_NUM_THREADS=2 .venv/bin/python benchmarks/coaction_batched_vs_loop.py [--configs default] [--rounds 3]
Absolute times swing with machine load (on a busy machine add OMP_WAIT_POLICY=PASSIVE, see benchmarks/README.md);
the ratio, measured back to back, is the result.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch import Tensor

from ctrviz.data.batch import Batch
from ctrviz.data.schema import PAD_ID, Field, Pair, Schema
from ctrviz.nn.coaction import CoAction, CoActionConfig

CONFIGS = {
    "default": {},
    "independent": {"combination_independence": True, "order_independence": True},
    "concat": {"order_combine": "concat"},
}
PAIRS = (("item", "hist_item"), ("category", "hist_cat"), ("item", "age"), ("item", "gender"),
         ("category", "age"), ("category", "gender"))


def make_batch(B: int, T: int, seed: int) -> tuple[Schema, Batch]:
    gen = torch.Generator().manual_seed(seed)
    vocab = {"user": 50_000, "item": 100_000, "category": 2_000, "age": 10, "gender": 4}
    fields = [Field(n, "sparse", vocab_size=v) for n, v in vocab.items()]
    fields += [Field("hist_item", "sequence", vocab="item", vocab_size=vocab["item"], max_len=T),
               Field("hist_cat", "sequence", vocab="category", vocab_size=vocab["category"], max_len=T)]
    schema = Schema(tuple(fields), tuple(Pair(a, b) for a, b in PAIRS))
    sparse = torch.stack([torch.randint(2, v, (B,), generator=gen) for v in vocab.values()], 1)   # (B, F_s)
    lengths = torch.randint(1, T + 1, (B, 1), generator=gen)                                      # (B, 1)
    real = torch.arange(T) >= T - lengths                          # (B, T) most recent last, left-padded
    seqs = {n: torch.randint(2, vocab[v], (B, T), generator=gen) * real
            for n, v in (("hist_item", "item"), ("hist_cat", "category"))}                       # (B, T)
    batch = Batch(sparse, torch.zeros(B, 0), seqs, torch.zeros(B))
    batch.check(schema)
    return schema, batch


def pair_feeds(unit: CoAction) -> list[tuple[Tensor, Tensor]]:
    """Per pair k: the columns of the (B, F_s + ΣT) id matrix its feed reads, and its feed-table row offset."""
    out: list[tuple[Tensor, Tensor] | None] = [None] * len(unit.pairs)
    for i, t in enumerate(unit.buckets):
        cols = getattr(unit, f"cols_{i}").view(-1, t)                      # (P_b, T)
        for j, (k, off) in enumerate(zip(getattr(unit, f"pairs_{i}").tolist(), getattr(unit, f"feed_off_{i}"),
                                         strict=True)):
            out[k] = (cols[j], off)
    return out


def loop_reference(unit: CoAction, batch: Batch, feeds: list[tuple[Tensor, Tensor]]) -> Tensor:
    """CAN Eq. 5–11 pair by pair and order by order, with the unit's parameters: (B, P, O).

    The table rows are gathered once per table (as the unit does): gathering per pair would give every pair
    its own full-size dense table gradient in backward and time that, not the per-pair compute.
    """
    cfg = unit.config
    seqs = [batch.seqs[n] for n in unit.schema.seq_names]
    all_ids = torch.cat([batch.sparse, *seqs], 1)                          # (B, F_s + ΣT)
    B, C = all_ids.shape[0], cfg.orders
    ind = batch.sparse[:, unit.ind_cols] + unit.ind_offsets                # (B, P)
    p_ind = F.embedding(ind, unit.induction.weight).view(B, len(unit.pairs), unit.order_tables, -1)  # (B, P, C_w, D')
    ids = [all_ids[:, cols] for cols, _ in feeds]                          # P × (B, T_k)
    rows = torch.cat([i + off for i, (_, off) in zip(ids, feeds, strict=True)], 1)   # (B, ΣT_k)
    feed_all = F.embedding(rows, unit.feed.weight).split([i.shape[1] for i in ids], 1)  # P × (B, T_k, D)
    pair_outs = []
    for k in range(len(unit.pairs)):
        mask = (ids[k] != PAD_ID).unsqueeze(-1).float()                    # (B, T, 1)
        order_outs = []
        for c in range(C):
            w = p_ind[:, k, c if unit.order_tables > 1 else 0]             # (B, D')
            h, pos, outs = feed_all[k] ** (c + 1), 0, []                   # (B, T, D)
            for d_in, d_out in zip(cfg.layers[:-1], cfg.layers[1:], strict=True):
                weight = w[:, pos:pos + d_in * d_out].view(B, d_in, d_out)  # (B, d_in, d_out)
                pos += d_in * d_out
                h = torch.bmm(h, weight)                                   # (B, T, d_out)
                if cfg.bias:
                    h = h + w[:, None, pos:pos + d_out]                    # (B, T, d_out)
                    pos += d_out
                h = torch.tanh(h) if cfg.activation == "tanh" else h
                outs.append(h)
            order_outs.append((torch.cat(outs, -1) * mask).sum(1))         # (B, Σd_out) sum-pooled over T
        pooled = torch.stack(order_outs).sum(0) if cfg.order_combine == "sum" else torch.cat(order_outs, -1)
        pair_outs.append(pooled)                                           # (B, O)
    return torch.stack(pair_outs, 1)                                       # (B, P, O)


def rel_err(a: Tensor, b: Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def bench(name: str, args: argparse.Namespace) -> dict[str, float]:
    schema, batch = make_batch(args.batch, args.seq_len, args.seed)
    torch.manual_seed(args.seed)
    unit = CoAction(schema, config=CoActionConfig(init_std=0.1, **CONFIGS[name]))
    feeds = pair_feeds(unit)
    g = torch.randn(args.batch, len(PAIRS), unit.config.out_dim, generator=torch.Generator().manual_seed(1))
    tables = (unit.induction.weight, unit.feed.weight)

    def batched() -> Tensor:
        out = unit(batch)                                                  # (B, P, O)
        (out * g).sum().backward()
        return out.detach()

    def loop() -> Tensor:
        out = loop_reference(unit, batch, feeds)                           # (B, P, O)
        (out * g).sum().backward()
        return out.detach()

    def take_grads() -> list[Tensor]:
        got = [t.grad for t in tables]
        for t in tables:
            t.grad = None
        return got

    out_b, grad_b = batched(), take_grads()
    out_l, grad_l = loop(), take_grads()
    errs = {"out": rel_err(out_l, out_b), "induction.grad": rel_err(grad_l[0], grad_b[0]),
            "feed.grad": rel_err(grad_l[1], grad_b[1])}
    worst = max(errs, key=errs.get)
    assert errs[worst] <= args.tol, f"{name}: loop and batched disagree: {errs}"

    def timed(fn) -> float:
        reps, t0 = 0, time.perf_counter()
        while True:
            fn()
            take_grads()
            reps += 1
            if time.perf_counter() - t0 >= args.min_seconds:
                return (time.perf_counter() - t0) / reps

    secs: dict[str, list[float]] = {"batched": [], "loop": []}
    for r in range(args.rounds):
        for side in (("batched", "loop") if r % 2 == 0 else ("loop", "batched")):
            secs[side].append(timed(batched if side == "batched" else loop))
    med = {k: statistics.median(v) for k, v in secs.items()}
    per_round = [a / b for a, b in zip(secs["loop"], secs["batched"], strict=True)]
    return {"batched": med["batched"], "loop": med["loop"], "ratio": med["loop"] / med["batched"],
            "lo": min(per_round), "hi": max(per_round), "err": errs[worst], "kernels": len(PAIRS) * unit.config.orders}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--seq-len", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--min-seconds", type=float, default=1.0, help="least time per measurement")
    p.add_argument("--tol", type=float, default=1e-5, help="largest relative error allowed (float32)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, nproc {os.cpu_count()}, "
          f"load average {os.getloadavg()[0]:.2f}; B={args.batch}, T={args.seq_len}, {len(PAIRS)} pairs "
          f"(2 sequence, 4 single-id), micro-MLP 16→8→4 tanh, C=3; forward + backward, {args.rounds} rounds")
    print(f"\n{'config':<13}{'batched ms':>12}{'loop ms':>10}{'loop/batched':>14}{'  per-round range':>19}"
          f"{'max rel err':>13}")
    for name in args.configs:
        r = bench(name, args)
        print(f"{name:<13}{r['batched'] * 1e3:>12.2f}{r['loop'] * 1e3:>10.2f}{r['ratio']:>13.2f}x"
              f"{r['lo']:>10.2f}–{r['hi']:.2f}x{r['err']:>13.1e}", flush=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
