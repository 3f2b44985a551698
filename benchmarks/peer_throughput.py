"""Training throughput of ctrviz against DeepCTR-Torch (the peer), same data, same settings, same process.

Eight models, each built twice — ctrviz's and the peer's — on the same Criteo-shaped synthetic data:
26 sparse fields with the Criteo Kaggle cardinalities capped at ``--vocab-cap`` (the capped ones stand for
a min-count-filtered vocabulary) and 13 dense fields; D = 16, DNN 512-256-64 ReLU, batch 1024, Adam (lr 1e-3),
no dropout, no batch norm, no regularisation on either side.

What is timed, for both sides: n training steps (n from the warm-up: about ``--seconds`` per measurement, the
same n for every side) on batches of exactly ``--batch`` rows drawn from successive shuffles of the
in-memory data (the same row ids for every side), each step being

    gather the batch's rows by index → forward → BCE loss → finiteness check (a host read) →
    zero_grad(set_to_none=True) → backward → Adam step → running loss sum

- ctrviz: ``train[idx]`` (what :func:`ctrviz.data.batch.iter_batches` yields), ``model(batch)`` → logits (B,),
  ``binary_cross_entropy_with_logits`` — the body of ``Trainer._train_epoch`` on CPU (autocast disabled,
  no progress bar, no validation, no checkpoint).
- peer: ``X[idx]`` of the one float matrix DeepCTR-Torch models read (its ``fit`` does ``.float()`` on it too),
  ``model(X)`` → sigmoid probabilities (B, 1), ``binary_cross_entropy`` — not ``model.fit``, which adds a
  per-sample ``DataLoader`` over a ``TensorDataset``, an L2 penalty over every embedding table each step
  (``l2_reg_embedding=1e-5`` by default; set to 0 here on every model) and two ``.item()`` calls per step.

Each model gets ``--warmup`` untimed steps per side, then ``--rounds`` rounds; the side that goes first rotates
from round to round. Reported: samples/s (median over rounds) per side, their ratio, and the range of the
per-round ratios. ``--fast`` adds ctrviz with its speed options (off by default in the Trainer because they change
results in the last bits): ``fused`` = ``TrainConfig(fused=True)``, the same float32 math in one-pass optimizer
kernels, and ``fused+bf16`` = ``TrainConfig(fused=True, amp=True)``, bf16 autocast on a CPU with native bf16 —
not the peer's precision, so that column is ctrviz's fastest setting, not a like-for-like ratio.

Settings matched per model (ctrviz defaults checked against AOANet Table 4; the peer's set to match):

    DeepFM   linear + FM + DNN
    xDeepFM  CIN (100, 100), no split-half, no CIN activation (ctrviz's CIN is Eq. 6: no bias, no activation)
    AutoInt  AutoInt+ (interacting layers ∥ DNN): 2 layers × 2 heads × d = 8, residual, no scaling. The
             peer's InteractingLayer ties heads·d to D (= 16) and needs D % heads == 0, so ctrviz's default
             3 heads × d = 16 cannot be built there; the row ``autoint+ 3x16`` times ctrviz's default
             against the same peer model and is NOT a like-for-like ratio.
    DCN      3 cross layers (vector) ∥ DNN      DCN-M  2 full-rank cross layers (matrix) ∥ DNN
    PNN      IPNN: [z; inner products] → DNN   AFM    linear + attention-pooled pairs, t = 3, no DNN (the
             peer's AFM has none; ctrviz's ``deep=False``)
    NFM      linear + DNN(bi-interaction)
    Linear part: where ctrviz's model has none (AutoInt+, DCN, DCN-M, IPNN) the peer's gets no linear columns.

Dense fields (``--dense``): ``numeric`` (default) gives each library its own handling — ctrviz embeds a dense
value x as x·v_f, so its interaction layers see F = 39 fields; DeepCTR-Torch feeds raw dense values to the
linear part and the DNN only, so its FM/CIN/attention/cross layers see 26 sparse fields (less work: e.g.
DCN-M's cross matrix is 429² there, 624² in ctrviz). ``bucketized`` turns the 13 dense values into 13 more
categorical fields (64 buckets each) on both sides, so both build exactly the same 39-field models: the
like-for-like comparison of the two implementations.

Run (from the repository root, after ``bash benchmarks/setup_peer_env.sh``)::

    OMP_NUM_THREADS=2 benchmarks/.venv-peer/bin/python benchmarks/peer_throughput.py --fast --extra
    OMP_NUM_THREADS=2 benchmarks/.venv-peer/bin/python benchmarks/peer_throughput.py --fast --dense bucketized
    OMP_NUM_THREADS=2 benchmarks/.venv-peer/bin/python benchmarks/peer_throughput.py --profile xdeepfm

Absolute samples/s swing with machine load (two 2-thread jobs on 2 cores slow each other many times over,
see DEVELOPERS.md; on a busy machine add OMP_WAIT_POLICY=PASSIVE, benchmarks/README.md); the ratios, measured
back to back in one process, are what this benchmark reports.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import FIRST_ID, Field, Schema

# Criteo Kaggle (display advertising challenge) cardinalities of C1..C26, as listed with DLRM's Kaggle setup.
CRITEO_CARDINALITIES = (1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27,
                        14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572)
NUM_DENSE = 13
DENSE_BUCKETS = 64
EMBED_DIM = 16
HIDDEN = (512, 256, 64)
MODELS = ("deepfm", "xdeepfm", "autoint+", "dcn", "dcn-m", "ipnn", "afm", "nfm")
EXTRA_MODELS = ("autoint+ 3x16",)


# ----------------------------------------------------------------------------------------------- data


@dataclass
class Data:
    """The same rows for both libraries: ctrviz's :class:`Batch` and the peer's one float matrix X (N, F)."""

    schema: Schema
    batch: Batch
    x: Tensor          # (N, F_s + F_d) float32, sparse ids then dense values (the peer's feature_index order)
    y: Tensor          # (N,) float32
    sparse_vocab: list[int]   # vocab_size of every sparse column (incl. padding and OOV ids)
    num_dense: int


def make_data(rows: int, vocab_cap: int, dense: str, seed: int) -> Data:
    """Skewed (power-law-ish) ids per field, log-normal counts → log1p for dense fields, ~25 % positives."""
    rng = np.random.default_rng(seed)
    vocab = [min(c, vocab_cap) + FIRST_ID for c in CRITEO_CARDINALITIES]     # + padding and OOV ids
    # rank = floor(V · u³): small ids frequent, the tail rare, every id in [FIRST_ID, vocab)
    sparse = np.stack([FIRST_ID + np.floor((v - FIRST_ID) * rng.random(rows) ** 3).astype(np.int64)
                       for v in vocab], 1)                                            # (N, 26)
    counts = rng.lognormal(mean=1.0, sigma=1.5, size=(rows, NUM_DENSE))              # (N, 13)
    values = np.log1p(counts).astype(np.float32)                                     # (N, 13)
    signal = 0.3 * values[:, 0] - 0.2 * values[:, 1] + 0.5 * (sparse[:, 5] % 2) - 1.4
    y = (rng.random(rows) < 1 / (1 + np.exp(-signal))).astype(np.float32)           # (N,)
    if dense == "bucketized":
        buckets = FIRST_ID + np.clip(np.floor(values * 8), 0, DENSE_BUCKETS - 1).astype(np.int64)   # (N, 13)
        sparse = np.concatenate([sparse, buckets], 1)                                 # (N, 39)
        vocab = vocab + [DENSE_BUCKETS + FIRST_ID] * NUM_DENSE
        values = np.zeros((rows, 0), np.float32)
    fields = [Field(f"C{j + 1}", "sparse", vocab_size=v) for j, v in enumerate(vocab)]
    fields += [Field(f"I{j + 1}", "dense") for j in range(values.shape[1])]
    schema = Schema(tuple(fields))
    batch = Batch(torch.from_numpy(sparse), torch.from_numpy(values), {}, torch.from_numpy(y))
    batch.check(schema)
    x = torch.cat([torch.from_numpy(sparse).float(), torch.from_numpy(values)], 1)  # ids < 2^24: exact in f32
    return Data(schema, batch, x, torch.from_numpy(y), vocab, values.shape[1])


def batch_ids(rows: int, batch: int, seed: int) -> Iterator[Tensor]:
    """Row ids of full batches from successive shuffles (a CPU generator, like the Trainer's)."""
    gen = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(rows, generator=gen)
        for i in range(0, rows - batch + 1, batch):
            yield order[i:i + batch]


# ----------------------------------------------------------------------------------------------- models


def ctrviz_model(name: str, schema: Schema) -> nn.Module:
    from ctrviz.models.afm import AFM, AFMConfig
    from ctrviz.models.autoint import AutoIntPlus, AutoIntPlusConfig
    from ctrviz.models.dcn import DCN, DCNConfig
    from ctrviz.models.dcnv2 import DCNV2, DCNV2Config
    from ctrviz.models.deepfm import DeepFM, DeepFMConfig
    from ctrviz.models.nfm import NFM, NFMConfig
    from ctrviz.models.pnn import IPNN, IPNNConfig
    from ctrviz.models.xdeepfm import XDeepFM, XDeepFMConfig

    deep = {"embed_dim": EMBED_DIM, "hidden": HIDDEN, "activation": "relu"}
    if name == "deepfm":
        return DeepFM(schema, DeepFMConfig(**deep))
    if name == "xdeepfm":
        return XDeepFM(schema, XDeepFMConfig(**deep, cin_maps=(100, 100), linear=True))
    if name == "autoint+":
        return AutoIntPlus(schema, AutoIntPlusConfig(**deep, layers=2, heads=2, head_dim=8, residual=True))
    if name == "autoint+ 3x16":
        return AutoIntPlus(schema, AutoIntPlusConfig(**deep, layers=2, heads=3, head_dim=16, residual=True))
    if name == "dcn":
        return DCN(schema, DCNConfig(**deep, layers=3, structure="parallel"))
    if name == "dcn-m":
        return DCNV2(schema, DCNV2Config(**deep, layers=2, structure="parallel", low_rank=None))
    if name == "ipnn":
        return IPNN(schema, IPNNConfig.aoanet())
    if name == "afm":
        return AFM(schema, AFMConfig(embed_dim=EMBED_DIM, attention_factor=3, deep=False))
    if name == "nfm":
        return NFM(schema, NFMConfig(**deep))
    raise ValueError(f"unknown model {name!r}; choose from {MODELS + EXTRA_MODELS}")


@contextlib.contextmanager
def _no_version_check() -> Iterator[None]:
    """``import deepctr_torch`` starts a thread that asks PyPI for its latest version; don't start it."""
    start = threading.Thread.start

    def start_unless_version_check(self: threading.Thread) -> None:
        if getattr(getattr(self, "_target", None), "__qualname__", "") != "check_version.<locals>.check":
            start(self)

    threading.Thread.start = start_unless_version_check
    try:
        yield
    finally:
        threading.Thread.start = start


def peer_model(name: str, data: Data) -> nn.Module:
    with _no_version_check():
        from deepctr_torch import models as m
        from deepctr_torch.inputs import DenseFeat, SparseFeat

    sparse = [SparseFeat(f"C{j + 1}", v, embedding_dim=EMBED_DIM) for j, v in enumerate(data.sparse_vocab)]
    dense = [DenseFeat(f"I{j + 1}", 1) for j in range(data.num_dense)]
    cols = sparse + dense
    no_reg = {"l2_reg_embedding": 0.0, "init_std": 1e-4, "seed": 0, "device": "cpu"}
    dnn = {"dnn_hidden_units": HIDDEN, "dnn_activation": "relu", "dnn_dropout": 0.0, "l2_reg_dnn": 0.0}
    if name == "deepfm":
        return m.DeepFM(cols, cols, use_fm=True, dnn_use_bn=False, l2_reg_linear=0.0, **dnn, **no_reg)
    if name == "xdeepfm":
        return m.xDeepFM(cols, cols, cin_layer_size=(100, 100), cin_split_half=False, cin_activation="linear",
                         l2_reg_cin=0.0, l2_reg_linear=0.0, dnn_use_bn=False, **dnn, **no_reg)
    if name.startswith("autoint+"):   # the peer can only build heads·d = D: 2 heads × 8 for both rows
        return m.AutoInt([], cols, att_layer_num=2, att_head_num=2, att_res=True, dnn_use_bn=False, **dnn,
                         **no_reg)
    if name in ("dcn", "dcn-m"):
        return m.DCN([], cols, cross_num=3 if name == "dcn" else 2,
                     cross_parameterization="vector" if name == "dcn" else "matrix", l2_reg_linear=0.0,
                     l2_reg_cross=0.0, dnn_use_bn=False, **dnn, **no_reg)
    if name == "ipnn":
        return m.PNN(cols, use_inner=True, use_outter=False, **dnn, **no_reg)
    if name == "afm":   # dense features are not allowed in the peer AFM's interaction columns
        return m.AFM(cols, sparse, use_attention=True, attention_factor=3, l2_reg_linear=0.0, l2_reg_att=0.0,
                     afm_dropout=0.0, **no_reg)
    if name == "nfm":
        return m.NFM(cols, cols, bi_dropout=0.0, l2_reg_linear=0.0, **dnn, **no_reg)
    raise ValueError(f"unknown model {name!r}")


# ----------------------------------------------------------------------------------------------- steps

Step = Callable[[Tensor], None]


def ctrviz_step(model: nn.Module, data: Data, loss_sum: Tensor, fused: bool = False, amp: bool = False,
                embedding: str = "dense") -> Step:
    """One step of ``Trainer._train_epoch`` on CPU: the batch gather included.

    ``fused`` and ``amp`` are ``TrainConfig(fused=True)`` (``torch.optim.Adam(..., fused=True)``: one pass over
    each parameter instead of about ten element-wise kernels, each allocating a temporary the size of the one
    embedding table) and ``TrainConfig(amp=True)`` (bf16 autocast, on a CPU with native bf16). ``embedding`` is
    ``TrainConfig(embedding_optimizer=…)``: ``"lazy_adam"`` updates only the rows the batch touches
    (:mod:`ctrviz.optim`), the optimizer :class:`~ctrviz.train.Trainer` builds with :func:`make_optimizer`.
    """
    from ctrviz.optim import make_optimizer
    opt = make_optimizer(model, "adam", lr=1e-3, fused=fused, embedding=embedding)
    model.train()

    def step(idx: Tensor) -> None:
        b = data.batch[idx]                                          # what iter_batches yields
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            logits = model(b)                                        # (B,)
        loss = F.binary_cross_entropy_with_logits(logits.float(), b.label)
        if not torch.isfinite(loss):
            raise FloatingPointError("ctrviz loss is NaN/inf")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum.add_(loss.detach() * len(b))
    return step


def peer_step(model: nn.Module, data: Data, loss_sum: Tensor) -> Step:
    """The peer's model in the same loop: probabilities → BCE (its ``fit`` uses binary_cross_entropy too)."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    model.train()

    def step(idx: Tensor) -> None:
        x, y = data.x[idx], data.y[idx]                              # (B, F), (B,)
        prob = model(x).squeeze(-1)                                  # (B, 1) → (B,)
        loss = F.binary_cross_entropy(prob, y)
        if not torch.isfinite(loss):
            raise FloatingPointError("peer loss is NaN/inf")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum.add_(loss.detach() * len(y))
    return step


def run_steps(step: Step, ids: Iterator[Tensor], n: int) -> float:
    """Seconds for ``n`` steps."""
    t0 = time.perf_counter()
    for _ in range(n):
        step(next(ids))
    return time.perf_counter() - t0


FAST_SIDES = {"fused": {"fused": True}, "fused+bf16": {"fused": True, "amp": True},
              "lazy": {"embedding": "lazy_adam"}, "lazy+fused+bf16": {"embedding": "lazy_adam", "fused": True,
                                                                      "amp": True}}


def fast_sides(fast: bool) -> dict[str, dict[str, object]]:
    """The :data:`FAST_SIDES` this run times: none without ``--fast``; the bf16 one only on a CPU with native bf16."""
    from ctrviz.train import _bf16_ok
    bf16 = _bf16_ok(torch.device("cpu"))
    return {side: opts for side, opts in FAST_SIDES.items() if fast and (bf16 or not opts.get("amp"))}


def build(name: str, data: Data, seed: int, fast: bool) -> dict[str, Step]:
    """The step of every side: ``ctrviz``, ``peer`` and ctrviz with each of :func:`fast_sides`' options; all
    from the same initial weights."""
    zero = torch.zeros((), dtype=torch.float64)
    torch.manual_seed(seed)
    steps = {"ctrviz": ctrviz_step(ctrviz_model(name, data.schema), data, zero.clone())}
    torch.manual_seed(seed)
    steps["peer"] = peer_step(peer_model(name, data), data, zero.clone())
    for side, opts in fast_sides(fast).items():
        torch.manual_seed(seed)
        steps[side] = ctrviz_step(ctrviz_model(name, data.schema), data, zero.clone(), **opts)
    return steps


def params(step: Step) -> int:
    model = next(c.cell_contents for c in step.__closure__ if isinstance(c.cell_contents, nn.Module))
    return sum(p.numel() for p in model.parameters())


# ----------------------------------------------------------------------------------------------- main


def bench(name: str, data: Data, args: argparse.Namespace) -> dict[str, object]:
    steps = build(name, data, args.seed, args.fast)
    sides = list(steps)
    ids = {side: batch_ids(len(data.y), args.batch, args.seed) for side in sides}   # the same rows per side
    warm = max(run_steps(steps[side], ids[side], args.warmup) / args.warmup for side in sides)   # s per step
    n = max(args.min_steps, min(args.steps, round(args.seconds / warm)))   # the same n for every side
    rate: dict[str, list[float]] = {side: [] for side in sides}
    for r in range(args.rounds):   # round r starts with side r mod k: each side goes first equally often
        for side in sides[r % len(sides):] + sides[:r % len(sides)]:
            rate[side].append(n * args.batch / run_steps(steps[side], ids[side], n))
    med = {side: statistics.median(v) for side, v in rate.items()}
    per_round = [a / b for a, b in zip(rate["ctrviz"], rate["peer"], strict=True)]
    return {"model": name, **med, "ratio": med["ctrviz"] / med["peer"], "lo": min(per_round), "hi": max(per_round),
            "params": (params(steps["ctrviz"]), params(steps["peer"])), "steps": n,
            "fast": {side: med[side] for side in sides[2:]}}


def profile(name: str, data: Data, args: argparse.Namespace) -> None:
    """torch.profiler over ``--min-steps`` steps of each side: the ops with the most self CPU time."""
    from torch.profiler import ProfilerActivity, record_function
    from torch.profiler import profile as torch_profile

    for side, step in build(name, data, args.seed, args.fast).items():
        ids = batch_ids(len(data.y), args.batch, args.seed)
        run_steps(step, ids, args.warmup)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(args.min_steps):
                with record_function(f"{side}_step"):
                    step(next(ids))
        print(f"\n=== {name}: {side}, {args.min_steps} steps, ops by self CPU time")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile_rows))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS + EXTRA_MODELS)
    p.add_argument("--extra", action="store_true", help=f"also time {EXTRA_MODELS} (not like for like)")
    p.add_argument("--dense", choices=("numeric", "bucketized"), default="numeric")
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--vocab-cap", type=int, default=20_000, help="cap on each sparse field's cardinality")
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--steps", type=int, default=30, help="most timed steps per side per round")
    p.add_argument("--min-steps", type=int, default=3, help="fewest timed steps per side per round")
    p.add_argument("--seconds", type=float, default=3.0,
                   help="aim per measurement: steps = seconds / (slowest side's warm-up s/step), within the bounds")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fast", action="store_true",
                   help="also time ctrviz with TrainConfig(fused=True), fused=True + amp=True (bf16; only on a CPU "
                        "with native bf16), embedding_optimizer='lazy_adam', and lazy_adam + fused + bf16")
    p.add_argument("--profile", metavar="MODEL", choices=MODELS + EXTRA_MODELS,
                   help="profile this model (both sides) instead of timing")
    p.add_argument("--profile-rows", type=int, default=18)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    try:
        with _no_version_check():
            import deepctr_torch
    except ImportError:
        raise SystemExit("deepctr_torch is not installed here: run `bash benchmarks/setup_peer_env.sh`, then this "
                         "script with benchmarks/.venv-peer/bin/python") from None
    data = make_data(args.rows, args.vocab_cap, args.dense, args.seed)
    print(f"torch {torch.__version__}, deepctr-torch {deepctr_torch.__version__}, threads {torch.get_num_threads()}"
          f", nproc {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    print(f"data: {args.rows} rows, {len(data.sparse_vocab)} sparse fields (Σ vocab {sum(data.sparse_vocab)}, "
          f"cap {args.vocab_cap}) + {data.num_dense} dense, dense={args.dense}; D={EMBED_DIM}, DNN {HIDDEN}, "
          f"batch {args.batch}, Adam; {args.warmup} warm-up steps, then {args.rounds} rounds of "
          f"{args.min_steps}..{args.steps} steps (about {args.seconds:g} s) per side")
    if args.profile:
        profile(args.profile, data, args)
        return
    names = list(args.models) + ([m for m in EXTRA_MODELS if m not in args.models] if args.extra else [])
    extra = "".join(f"{side + '/s':>14}{'/peer':>8}" for side in fast_sides(args.fast))
    print(f"\n{'model':<15}{'ctrviz samples/s':>18}{'peer samples/s':>16}{'ctrviz/peer':>13}"
          f"{'  per-round range':>19}{extra}{'steps':>7}{'params ctrviz / peer':>24}")
    for name in names:
        r = bench(name, data, args)
        best = max([r["ratio"]] + [v / r["peer"] for v in r["fast"].values()])
        flag = "" if best >= 2 else "  < 2x"
        extra = "".join(f"{v:>14,.0f}{v / r['peer']:>7.2f}x" for v in r["fast"].values())
        print(f"{r['model']:<15}{r['ctrviz']:>18,.0f}{r['peer']:>16,.0f}{r['ratio']:>12.2f}x"
              f"{r['lo']:>10.2f}–{r['hi']:.2f}x{extra}{r['steps']:>7}{r['params'][0]:>13,} / {r['params'][1]:,}{flag}",
              flush=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.2f} (nproc {os.cpu_count()}); target: ctrviz/peer >= 2")


if __name__ == "__main__":
    main()
