"""Training throughput on one GPU, ready to run in one shot: samples/s, memory, FLOPs and two correctness checks.

Six models (``dnn``, ``deepfm``, ``dcn-m``, ``can``, ``gin``, ``aoanet``; each built by :func:`ctrviz.models.create`
with its default config) train on Criteo-shaped synthetic data built directly on the device:

- 26 sparse fields C1..C26 with the Criteo Kaggle cardinalities capped at ``--vocab-cap`` (default 1,000,000: the
  capped fields stand for a hashed / min-count-filtered vocabulary), ids skewed by a power law p(rank k) ∝ k^-s
  (``--zipf`` s, default 1.05; the most frequent id is the first); 13 dense fields log1p(log-normal counts);
- labels from a planted logistic model: an intercept, a weight per dense field, a random effect per id of every
  sparse field, and rank-2 interactions of the pairs C1×C2, C3×C4, C5×C6 — the pairs the schema declares
  (``Pair(induction, feed)``), which CAN turns into co-action units with single-id feeds; ~25 % positives;
- ``--rows`` rows (default 4,000,000 on CUDA, 200,000 on CPU), resident on the device for the whole run.

What is timed, per model × batch size (``--batch``, default 4096 16384 65536), a fresh model each time (seeded,
built, moved to the device, then the optimizer :func:`ctrviz.optim.make_optimizer` builds with the arguments
:class:`~ctrviz.train.Trainer` passes it): ``--warmup`` untimed steps, then ``--steps`` timed steps, with
``torch.cuda.synchronize()`` before the clock starts and before it stops. A step is the body of
``Trainer._train_epoch`` (single process, no gradient clipping):

    data[idx] (gather of the batch's rows by index, on the device; idx = slices of a permutation drawn on the
    device, a new one per pass) → forward under bf16 autocast if --amp (``forward_with_aux`` for models that have
    it, BCE-with-logits + aux loss) → logits shape check → on CPU the loss finiteness check → zero_grad(set_to_none)
    → backward → optimizer step → running loss sum on the device (on CUDA read every 50 steps, as the Trainer does).

Options that mirror :class:`~ctrviz.train.TrainConfig` (checked by building one, so its error messages apply):
``--amp/--no-amp`` (default: bf16 autocast on a CUDA GPU with bf16, off on CPU; ``--amp`` on CPU needs native
bf16), ``--fused``, ``--embedding-optimizer`` (default ``lazy_adam``: only the rows a batch touches are updated;
``dense`` steps every table row with Adam), ``--compile`` (``torch.compile`` of the training step's forward,
``forward_with_aux`` included, as the Trainer does it; it needs ``--embedding-optimizer dense`` — TrainConfig refuses
it otherwise). CUDA graphs are not offered: the
row-wise optimizers coalesce a sparse gradient whose size depends on the batch (a data-dependent shape and a host
sync every step), which a captured graph cannot replay, and ``make_optimizer`` builds no ``capturable`` Adam for
the dense case either.

AOANet: its row times the re-train stage, a GIN whose gates keep ``ratio`` (0.3) of the interactions (chosen by
``select_gates`` from the initial α: the pruning is a mask, so a step costs what a GIN step costs); its
selection stage is a GIN training, the ``gin`` row.

Reported per row: samples/s (steps × batch / timed seconds); the step time; peak device memory
(``torch.cuda.max_memory_allocated`` since the model was built, the resident data included; "n/a" on CPU, where
the process's peak RSS is printed once at the end); FLOPs per sample, counted by
``torch.utils.flop_counter.FlopCounterMode`` over one forward + backward of the eager model (it counts matrix
products — mm, addmm, bmm, einsum's products, convolutions, attention — not element-wise ops, gathers or the
optimizer, so for gather-bound models it understates the work); achieved TFLOP/s = FLOPs/sample × samples/s; and
the fraction of the device's dense peak for the precision used (bf16 with --amp, else fp32, or tf32 when torch
allows it for matmuls), from NVIDIA's datasheet figures for H100 SXM / PCIe / NVL, H200 and A100 keyed on
``torch.cuda.get_device_name()``, or ``--peak-tflops``; "unknown" on CPU unless given. The issue's targets, on
one H100: DNN ≥ 20M samples/s, CAN and AOANet ≥ 5M samples/s — marked met / not met only on a CUDA device
(against the same numbers on any GPU; they are stated for an H100).

Two checks before the benchmark, each printed as PASS/FAIL with what was compared; the script exits 1 if one fails:

1. ``torchrun --standalone --nproc_per_node=1 -m ctrviz train --model dnn --data synthetic --epochs 1 --device DEV
   --json --no-progress`` (the real CLI, on the full default synthetic set; ``ctrviz.distributed`` starts NCCL on
   CUDA and gloo on CPU) exits 0 and prints one JSON object with world_size 1 and a finite test AUC > 0.5.
2. Resume on the device, in process (:func:`ctrviz.experiments.run_model`, what ``ctrviz train`` calls): DNN on
   ``--check-rows`` synthetic rows with this run's --amp / --fused / --embedding-optimizer, batch 256, lr 0.01,
   2 epochs straight against 1 epoch with a checkpoint_dir then ``resume`` to 2 epochs: the final test AUC (and
   the weights) must be bit-equal on CPU, the AUC within 1e-6 on CUDA (run under
   ``torch.use_deterministic_algorithms(True, warn_only=True)``); the AUC and largest weight differences are printed.

Run on a GPU (from the repository root; rows are printed as they are measured)::

    .venv/bin/python benchmarks/gpu_throughput.py --json gpu_throughput.json

CPU smoke run (what tests/test_gpu_benchmark.py runs)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpu_throughput.py --device cpu --rows 4000 --vocab-cap 2000 \\
        --batch 256 512 --steps 3 --warmup 1 --models dnn can aoanet --check-rows 4000
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from ctrviz.data.batch import Batch
from ctrviz.data.schema import FIRST_ID, Field, Pair, Schema
from ctrviz.distributed import TrainForward
from ctrviz.models import create
from ctrviz.optim import make_optimizer
from ctrviz.train import TrainConfig
from ctrviz.utils import resolve_device, seed_everything

ROOT = Path(__file__).resolve().parents[1]
# Criteo Kaggle (display advertising challenge) cardinalities of C1..C26, as listed with DLRM's Kaggle setup.
CRITEO_CARDINALITIES = (1460, 583, 10131227, 2202608, 305, 24, 12517, 633, 3, 93145, 5683, 8351593, 3194, 27,
                        14992, 5461306, 10, 5652, 2173, 4, 7046547, 18, 15, 286181, 105, 142572)
NUM_DENSE = 13
PAIRS = (("C1", "C2"), ("C3", "C4"), ("C5", "C6"))     # induction × feed: CAN's co-action pairs, planted below
MODELS = ("dnn", "deepfm", "dcn-m", "can", "gin", "aoanet")
TARGETS = {"dnn": 20e6, "can": 5e6, "aoanet": 5e6}     # samples/s on one H100 (issue 14)
NAN_CHECK_EVERY = 50                                    # TrainConfig.nan_check_every's default
# Dense (no sparsity) peak TFLOP/s from NVIDIA's datasheets; matched on torch.cuda.get_device_name(), first hit wins.
PEAKS = (
    (("H200", "NVL"), "H200 NVL", {"bf16": 835.5, "tf32": 417.5, "fp32": 60.0}),
    (("H200",), "H200", {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9}),
    (("H100", "NVL"), "H100 NVL", {"bf16": 835.5, "tf32": 417.5, "fp32": 60.0}),
    (("H100", "PCIE"), "H100 PCIe", {"bf16": 756.5, "tf32": 378.0, "fp32": 51.2}),
    (("H100",), "H100 SXM", {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9}),
    (("A100",), "A100", {"bf16": 312.0, "tf32": 156.0, "fp32": 19.5}),
)


# ----------------------------------------------------------------------------------------------- data


def make_data(rows: int, vocab_cap: int, zipf: float, device: torch.device, seed: int) -> tuple[Schema, Batch]:
    """Criteo-shaped rows generated on ``device`` (module docstring): power-law ids, log-count dense values,
    labels from a planted logistic model with main effects and the three pairs' rank-2 interactions."""
    gen = torch.Generator(device=device).manual_seed(seed)

    def rand(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=gen, device=device)

    def randn(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=gen, device=device)

    vocab = [min(c, vocab_cap) + FIRST_ID for c in CRITEO_CARDINALITIES]          # + padding and OOV ids
    cols = []
    for v in vocab:
        n, u = v - FIRST_ID, rand(rows).double()
        # inverse CDF of a power law x^-s on [1, n + 1): rank floor(x) - 1 in [0, n), small ranks frequent
        x = (n + 1) ** u if abs(zipf - 1) < 1e-9 else (1 - u * (1 - (n + 1) ** (1 - zipf))) ** (1 / (1 - zipf))
        cols.append(FIRST_ID + (x.floor().long() - 1).clamp_(0, n - 1))          # (N,)
    sparse = torch.stack(cols, 1)                                                  # (N, 26)
    dense = torch.log1p(torch.exp(1.0 + 1.5 * randn(rows, NUM_DENSE)))             # (N, 13) log1p(log-normal)
    z = (dense - dense.mean(0)) / dense.std(0)                                     # (N, 13)
    logit = z @ (0.3 * randn(NUM_DENSE))                                           # (N,)
    for j, v in enumerate(vocab):                                                  # a random effect per id
        logit += 0.25 * randn(v)[sparse[:, j]]
    names = [f"C{j + 1}" for j in range(len(vocab))]
    for a, b in PAIRS:                                                             # rank-2 pair interactions
        ia, ib = names.index(a), names.index(b)
        ua, vb = randn(vocab[ia], 2), randn(vocab[ib], 2)                          # (V_a, 2), (V_b, 2)
        logit += 0.7 * (ua[sparse[:, ia]] * vb[sparse[:, ib]]).sum(1)
    lo, hi = -20.0, 20.0                                   # intercept: bisect mean click probability to 25 %
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if float(torch.sigmoid(logit + mid).mean()) < 0.25 else (lo, mid)
    logit += (lo + hi) / 2
    label = (rand(rows) < torch.sigmoid(logit)).float()                            # (N,)
    fields = [Field(name, "sparse", vocab_size=v) for name, v in zip(names, vocab, strict=True)]
    fields += [Field(f"I{j + 1}", "dense") for j in range(NUM_DENSE)]
    schema = Schema(tuple(fields), pairs=tuple(Pair(a, b) for a, b in PAIRS))
    batch = Batch(sparse, dense.float(), {}, label)
    batch.check(schema)
    return schema, batch


def batch_ids(rows: int, batch: int, device: torch.device, seed: int) -> Iterator[Tensor]:
    """Row ids of full batches: slices of a permutation drawn on the device, a new one per pass."""
    gen = torch.Generator(device=device).manual_seed(seed)
    while True:
        order = torch.randperm(rows, generator=gen, device=device)
        for i in range(0, rows - batch + 1, batch):
            yield order[i:i + batch]


# ----------------------------------------------------------------------------------------------- device facts


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def resolve_amp(cfg: TrainConfig, device: torch.device) -> bool:
    """What ``Trainer.fit`` decides: ``True`` as asked, ``"auto"`` = a CUDA GPU of compute capability >= 8.0."""
    return cfg.amp is True or (cfg.amp == "auto" and device.type == "cuda"
                               and torch.cuda.get_device_capability(device) >= (8, 0))


def peak_tflops(device: torch.device, precision: str, override: float | None) -> tuple[float | None, str]:
    """(peak dense TFLOP/s for ``precision`` or None, where the figure comes from)."""
    if override is not None:
        return override, "--peak-tflops"
    if device.type != "cuda":
        return None, "not a CUDA device; pass --peak-tflops"
    name = torch.cuda.get_device_name(device)
    for keys, label, table in PEAKS:
        if all(k in name.upper() for k in keys):
            return table[precision], f"{label} datasheet, dense {precision}"
    return None, f"unknown for {name!r} (pass --peak-tflops)"


def precision_of(device: torch.device, amp: bool) -> str:
    if amp:
        return "bf16"
    tf32 = device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32
    return "tf32" if tf32 else "fp32"


# ----------------------------------------------------------------------------------------------- one row


def build(name: str, schema: Schema, cfg: TrainConfig, device: torch.device, seed: int
          ) -> tuple[nn.Module, object, nn.Module]:
    """Model, optimizer and the module steps call, as ``Trainer.fit`` makes them."""
    seed_everything(seed)
    model = create(name, schema)
    if name == "aoanet":                          # the re-train stage: gates keep `ratio` of the interactions
        from ctrviz.models.aoanet import select_gates
        model.set_gates(select_gates(model.gin_layers, model.config.ratio, model.config.ranking))
    model.to(device)
    opt = make_optimizer(model, cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.fused, cfg.embedding_optimizer,
                         cfg.embedding_lr)
    step_fwd = TrainForward(model)               # the Trainer's step forward: (logits, aux | None)
    return model, opt, torch.compile(step_fwd) if cfg.compile else step_fwd


def measure(name: str, schema: Schema, data: Batch, batch: int, args: argparse.Namespace, cfg: TrainConfig,
            device: torch.device, amp: bool) -> dict[str, object]:
    """Warm-up, timed steps and one FLOP-counted forward + backward of a fresh ``name`` at batch size ``batch``."""
    if cfg.compile:
        torch._dynamo.reset()                    # every row compiles afresh (no cache limits, no dynamic shapes)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model, opt, fwd = build(name, schema, cfg, device, args.seed)
    with_aux = hasattr(model, "forward_with_aux")  # e.g. GIN's optional α penalty, for the FLOP count
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    ids = batch_ids(len(data), batch, device, args.seed)

    def step(k: int) -> None:
        nonlocal loss_sum
        b = data[next(ids)]                                                       # the batch's rows, gathered
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits, aux = fwd(b)                                                  # (B,), aux or None
        if logits.shape != (batch,):
            raise ValueError(f"{name}: logits of shape {tuple(logits.shape)}, expected ({batch},)")
        loss = F.binary_cross_entropy_with_logits(logits.float(), b.label)
        if aux is not None:
            loss = loss + aux.float()
        if device.type == "cpu" and not torch.isfinite(loss):
            raise FloatingPointError(f"{name}: the loss became NaN/inf at step {k}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach() * batch
        if device.type != "cpu" and k % NAN_CHECK_EVERY == 0 and not torch.isfinite(loss_sum):
            raise FloatingPointError(f"{name}: the loss became NaN/inf by step {k}")

    for k in range(1, args.warmup + 1):
        step(k)
    sync(device)
    t0 = time.perf_counter()
    for k in range(args.warmup + 1, args.warmup + args.steps + 1):
        step(k)
    sync(device)
    seconds = time.perf_counter() - t0
    if not math.isfinite(float(loss_sum)):
        raise FloatingPointError(f"{name}: the loss became NaN/inf")
    peak_mem = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    b = data[next(ids)]
    with FlopCounterMode(display=False) as counter:                               # eager model: one fwd + bwd
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            logits, aux = model.forward_with_aux(b) if with_aux else (model(b), None)
        loss = F.binary_cross_entropy_with_logits(logits.float(), b.label)
        (loss if aux is None else loss + aux.float()).backward()
    opt.zero_grad(set_to_none=True)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"model": name, "batch": batch, "samples_per_s": args.steps * batch / seconds,
            "step_ms": 1e3 * seconds / args.steps, "peak_mem_bytes": peak_mem,
            "flops_per_sample": counter.get_total_flops() / batch, "params": params}


def free(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


# ----------------------------------------------------------------------------------------------- checks


def check_torchrun(device: torch.device) -> tuple[bool, str]:
    """The real CLI under torchrun, one process: one JSON object, world_size 1, finite AUC > 0.5."""
    dev = device.type                                       # a CUDA rank trains on cuda:LOCAL_RANK = cuda:0
    cli = ["-m", "ctrviz", "train", "--model", "dnn", "--data", "synthetic", "--epochs", "1", "--device", dev,
           "--json", "--no-progress"]
    shown = "torchrun --standalone --nproc_per_node=1 " + " ".join(cli)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1", *cli]
    backend = "nccl" if dev == "cuda" else "gloo"
    try:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        return False, f"`{shown}` did not finish in 600 s"
    objects = []
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            try:
                objects.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    if done.returncode != 0 or len(objects) != 1:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        return False, f"`{shown}` exited {done.returncode} with {len(objects)} JSON object(s), want 0 and 1: {tail}"
    row = objects[0]
    auc, world = row.get("auc"), row.get("world_size")
    ok = world == 1 and isinstance(auc, float) and math.isfinite(auc) and auc > 0.5
    return ok, (f"`{shown}` ({backend}): one JSON object, world_size {world} (want 1), test AUC {auc} "
                f"(want finite > 0.5), device {row.get('device')}")


def check_resume(device: torch.device, cfg: TrainConfig, amp: bool, rows: int) -> tuple[bool, str]:
    """2 epochs straight vs 1 epoch + resume to 2, in process, on the device: equal final test AUC (and, on CPU,
    bit-equal final weights)."""
    from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
    from ctrviz.experiments import run_model

    data = make_synthetic(SyntheticConfig(n_rows=rows, seed=0))
    base = dataclasses.replace(cfg, epochs=2, batch_size=256, lr=0.01, patience=0, progress=False, compile=False)
    deterministic = torch.are_deterministic_algorithms_enabled()
    if device.type == "cuda":
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*deterministic.*")
            _, straight = run_model("dnn", data, base)
            run_model("dnn", data, dataclasses.replace(base, epochs=1, checkpoint_dir=tmp))
            _, resumed = run_model("dnn", data, dataclasses.replace(base, checkpoint_dir=tmp, resume=True))
    finally:
        torch.use_deterministic_algorithms(deterministic)
    a, b = straight.test["auc"], resumed.test["auc"]
    ws, wr = straight.model.state_dict(), resumed.model.state_dict()
    dw = max((float((ws[k].float() - wr[k].float()).abs().max()) for k in ws if ws[k].numel()), default=0.0)
    tol = 0.0 if device.type == "cpu" else 1e-6
    ok = len(resumed.history) == 2 and math.isfinite(a) and abs(a - b) <= tol and (tol > 0 or dw == 0)
    want = "bit-equal AUC and weights on CPU" if tol == 0 else f"|diff| <= {tol:g} on CUDA"
    return ok, (f"dnn on {rows:,} synthetic rows ({cfg.embedding_optimizer}, fused={cfg.fused}, amp={amp}, "
                f"batch 256, lr 0.01): test AUC 2 epochs straight {a!r} vs 1 epoch + resume to 2 {b!r}: "
                f"|diff| {abs(a - b):.3g}, max |Δweight| {dw:.3g} (want {want}); epochs run {len(resumed.history)}")


# ----------------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, TrainConfig, torch.device]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS, metavar="NAME",
                   help=f"models to time (default: all of {', '.join(MODELS)})")
    p.add_argument("--batch", nargs="+", type=int, default=[4096, 16384, 65536],
                   help="batch sizes (default 4096 16384 65536)")
    p.add_argument("--rows", type=int, default=None, help="rows on the device (default 4,000,000 on CUDA, "
                                                          "200,000 on CPU); at least the largest batch")
    p.add_argument("--vocab-cap", type=int, default=1_000_000,
                   help="cap on every Criteo field's cardinality (default 1,000,000)")
    p.add_argument("--zipf", type=float, default=1.05,
                   help="power-law exponent s of the id frequencies; 0: uniform (default 1.05)")
    p.add_argument("--steps", type=int, default=100, help="timed steps per model and batch (default 100)")
    p.add_argument("--warmup", type=int, default=10,
                   help="untimed steps first; torch.compile compiles here (default 10)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present, the default), cpu, cuda, cuda:N")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                   help="bf16 autocast (default: on for a CUDA GPU with bf16, off on CPU)")
    p.add_argument("--fused", action="store_true", help="fused optimizer kernels (TrainConfig.fused)")
    p.add_argument("--embedding-optimizer", default="lazy_adam", choices=("dense", "lazy_adam", "rowwise_adagrad"),
                   help="TrainConfig.embedding_optimizer (default lazy_adam)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (needs --embedding-optimizer dense)")
    p.add_argument("--peak-tflops", type=float, default=None, help="the device's peak TFLOP/s for the precision used")
    p.add_argument("--check-rows", type=int, default=20_000, help="synthetic rows of the resume check (default 20,000)")
    p.add_argument("--no-checks", action="store_true", help="skip both checks (same as --checks with nothing after)")
    p.add_argument("--checks", nargs="*", choices=("torchrun", "resume"), default=["torchrun", "resume"],
                   help="which checks to run first (default both)")
    p.add_argument("--seed", type=int, default=0, help="seed of the data, the models and the batch order (default 0)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the rows and checks to FILE")
    args = p.parse_args(argv)
    for name in ("steps", "vocab_cap", "check_rows"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0 or min(args.batch) < 1 or args.zipf < 0:
        p.error("--warmup must be >= 0, every --batch >= 1 and --zipf >= 0")
    if args.compile and args.embedding_optimizer != "dense":
        p.error(f"--compile needs --embedding-optimizer dense (torch.compile does not trace the sparse gradients of "
                f"the row-wise updates; got {args.embedding_optimizer})")
    try:
        device = resolve_device(args.device)
        cfg = TrainConfig(device=str(device), amp="auto" if args.amp is None else args.amp, fused=args.fused,
                          embedding_optimizer=args.embedding_optimizer, compile=args.compile, progress=False,
                          seed=args.seed)
    except ValueError as e:
        p.error(str(e))
    if args.rows is None:
        args.rows = max(4_000_000 if device.type == "cuda" else 200_000, max(args.batch))
    if args.rows < max(args.batch):
        p.error(f"--rows {args.rows} is smaller than the largest --batch {max(args.batch)}")
    return args, cfg, device


def fmt_bytes(n: int | None) -> str:
    return "n/a" if n is None else f"{n / 1e9:.2f} GB"


def main(argv: list[str] | None = None) -> int:
    args, cfg, device = parse_args(argv)
    amp = resolve_amp(cfg, device)
    precision = precision_of(device, amp)
    peak, peak_from = peak_tflops(device, precision, args.peak_tflops)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"gpu_throughput: {name}; torch {torch.__version__}"
          f"{f', CUDA {torch.version.cuda}' if device.type == 'cuda' else ''}")
    print(f"settings: device {device}, amp {amp} ({precision}), fused {cfg.fused}, embedding optimizer "
          f"{cfg.embedding_optimizer}, compile {cfg.compile}, warm-up {args.warmup} + {args.steps} timed steps")
    print(f"peak: {'unknown' if peak is None else f'{peak:g} TFLOP/s'} ({peak_from})", flush=True)

    checks: list[dict[str, object]] = []
    chosen = [] if args.no_checks else args.checks
    if chosen:
        print("\nchecks")
        for label, run in (("torchrun", lambda: check_torchrun(device)),
                           ("resume", lambda: check_resume(device, cfg, amp, args.check_rows))):
            if label not in chosen:
                continue
            t0 = time.perf_counter()
            try:
                ok, what = run()
            except Exception as e:                     # a crash is a failed check, and the benchmark still runs
                ok, what = False, f"raised {type(e).__name__}: {' '.join(str(e).split())[:300]}"
            print(f"  {label:<9}{'PASS' if ok else 'FAIL'}  {what}  [{time.perf_counter() - t0:.1f} s]", flush=True)
            checks.append({"check": label, "passed": ok, "what": what})
        free(device)

    schema, data = make_data(args.rows, args.vocab_cap, args.zipf, device, args.seed)
    resident = sum(t.nbytes for t in (data.sparse, data.dense, data.label))
    vocab = sum(schema.vocab_sizes.values())
    print(f"\ndata: {args.rows:,} rows on {device} ({fmt_bytes(resident)}), 26 sparse fields (Σ vocabulary {vocab:,}, "
          f"cap {args.vocab_cap:,}, zipf {args.zipf:g}) + 13 dense, {float(data.label.mean()):.1%} positives, "
          f"pairs {', '.join('×'.join(p) for p in PAIRS)}")
    mark = device.type == "cuda"
    head = (f"{'model':<8}{'batch':>8}{'samples/s':>14}{'step ms':>10}{'peak mem':>11}{'MFLOP/sample':>14}"
            f"{'TFLOP/s':>10}{'% of peak':>11}   {'target (1×H100)':<17}{'met':<8}")
    print(f"\n{head}\n{'-' * len(head)}", flush=True)
    rows: list[dict[str, object]] = []
    for model_name in args.models:
        for batch in args.batch:
            try:
                r = measure(model_name, schema, data, batch, args, cfg, device, amp)
            except torch.cuda.OutOfMemoryError:
                r = None
            free(device)                         # after the except block: its traceback no longer holds the model
            if r is None:
                print(f"{model_name:<8}{batch:>8}  out of device memory", flush=True)
                rows.append({"model": model_name, "batch": batch, "error": "out of memory"})
                continue
            tflops = r["flops_per_sample"] * r["samples_per_s"] / 1e12
            frac = "unknown" if peak is None else f"{100 * tflops / peak:.1f} %"
            target = TARGETS.get(model_name)
            want = f">= {target / 1e6:g}M/s" if target else "-"
            met = ("yes" if r["samples_per_s"] >= target else "NO") if target and mark else "-"
            r.update(tflops=tflops, peak_fraction=None if peak is None else tflops / peak, target=target,
                     met=None if met == "-" else met == "yes")
            rows.append(r)
            print(f"{model_name:<8}{batch:>8}{r['samples_per_s']:>14,.0f}{r['step_ms']:>10.2f}"
                  f"{fmt_bytes(r['peak_mem_bytes']):>11}{r['flops_per_sample'] / 1e6:>14.3f}{tflops:>10.3f}"
                  f"{frac:>11}   {want:<17}{met:<8}", flush=True)
    print()
    if device.type == "cpu":
        print(f"peak memory: n/a on CPU; the process's peak RSS was "
              f"{fmt_bytes(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)}")
    else:
        print("peak mem: torch.cuda.max_memory_allocated since the model was built, the resident data included")
    print("MFLOP/sample: matrix products of one forward + backward (FlopCounterMode); element-wise ops, gathers and "
          "the optimizer are not counted")
    for model_name in args.models:
        got = [r for r in rows if r["model"] == model_name and "samples_per_s" in r]
        if model_name in TARGETS and got:
            best = max(got, key=lambda r: r["samples_per_s"])
            verdict = ("MET" if best["samples_per_s"] >= TARGETS[model_name] else "NOT MET") if mark else \
                "not marked: not a CUDA device"
            print(f"target {model_name}: >= {TARGETS[model_name] / 1e6:g}M samples/s on one H100; best here "
                  f"{best['samples_per_s']:,.0f} at batch {best['batch']}: {verdict}")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": name, "torch": torch.__version__, "amp": amp,
                                               "precision": precision, "peak_tflops": peak, "settings": vars(args),
                                               "rows": rows, "checks": checks}, indent=1, default=str))
        print(f"wrote {args.json}")
    failed = [c["check"] for c in checks if not c["passed"]]
    if failed:
        print(f"FAILED checks: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
