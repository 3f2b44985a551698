"""Model-agnostic trainer: device, AMP, optimizer, early stopping, checkpoints, progress bars.

Any ``nn.Module`` whose ``forward(batch: Batch)`` returns (B,) logits trains here; models never pick a
device or build an optimizer (DESIGN.md, style 3). :meth:`Trainer.fit` moves model and data to the
device once, minimises mean BCE-with-logits over shuffled mini-batches, evaluates validation AUC /
logloss / GAUC after every epoch, stops early on validation AUC and restores the best weights.

Auxiliary losses: a model that also defines ``forward_with_aux(batch) -> (logits (B,), aux_loss ())`` is
trained on ``BCE(logits) + aux_loss`` (DIEN's interest-extractor loss, for one); evaluation uses ``forward``.

Seeding: ``fit`` calls ``seed_everything(config.seed)`` first, which fixes dropout and the shuffle
order (a CPU generator seeded from ``(seed, epoch)``), but a model's *initial weights* are drawn when
the caller builds it — seed before building (``seed_everything(0); model = MyModel(...)``; the ``ctrviz``
CLI does this). Then the same seed gives bit-identical histories on CPU.

AMP: ``amp="auto"`` runs forward passes under bf16 autocast on CUDA GPUs with native bf16 (compute
capability ≥ 8.0) and never on CPU, so CPU runs stay float32 and bit-exact. ``amp=True`` asks for bf16
autocast explicitly: on such a GPU, or on a CPU with native bf16 instructions (AVX512-BF16 or AMX, where
oneDNN's bf16 matrix products run about twice as fast as float32 ones: ``benchmarks/peer_throughput.py``);
elsewhere it is a ``ValueError``. bf16 needs no gradient scaler; the loss and the weights stay float32.

Speed options, off by default because they change results in the last bits (cached runs and the figures
in the README were measured without them): ``fused=True`` steps the optimizer with torch's one-pass fused
kernel instead of the per-tensor loop of element-wise ops (on CPU that loop allocates several temporaries
the size of the embedding table every step); ``amp=True`` on a bf16 CPU as above.

Divergence: on CPU the loss is checked every step before the update (free there); on CUDA the epoch's
running loss sum (kept on the device, so steps never wait for the host) is read every
``nan_check_every`` steps, so the error names a window of steps. Either way :class:`TrainingDiverged`
is raised, ``last.pt`` keeps the last good epoch, and the in-memory model should be reloaded from it.

Checkpoints: ``checkpoint_dir/last.pt`` is rewritten atomically after every epoch; it holds only tensors,
dicts, lists, numbers and strings (``torch.load(path, weights_only=True)`` reads it): ``epoch, model,
optimizer, optimizer_name, history, best_state, best_auc, best_epoch, bad_epochs, rng_cpu, rng_cuda``.

Data-parallel: under ``torchrun`` (a ``torch.distributed`` process group of W ≥ 2 ranks, see
:mod:`ctrviz.distributed`) ``fit`` wraps the model in ``DistributedDataParallel``, each rank trains on its
1/W of every global batch of ``batch_size`` rows (same shuffle order as one process), evaluation is sharded
and all-gathered so every rank gets the same metrics, and only rank 0 shows progress and writes ``last.pt``.
Without a process group (or with W = 1) nothing here changes.
"""

from __future__ import annotations

import hashlib
import pickle
import time
import zipfile
from dataclasses import dataclass, field, fields
from math import inf
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from ctrviz import distributed
from ctrviz.data.batch import Batch, CTRData, iter_batches, place
from ctrviz.data.schema import Schema
from ctrviz.metrics import evaluate
from ctrviz.optim import DENSE_OPTIMIZERS as _OPTIMIZERS
from ctrviz.optim import EMBEDDING_OPTIMIZERS, EmbeddingOptimizer, clip_grad_norm, make_optimizer
from ctrviz.utils import atomic_torch_save, resolve_device, seed_everything, writable_dir

__all__ = ["CheckpointError", "TrainConfig", "TrainResult", "Trainer", "TrainingDiverged", "check_input",
           "evaluate_model", "predict"]


@dataclass
class _LoopState:
    """The training loop's state; saved in ``last.pt`` (and restored on resume) under the field names.

    Args:
        epoch: last finished epoch (1-based); 0 before the first.
        history: one row dict per finished epoch (the columns of :attr:`TrainResult.history`).
        best_state: the best epoch's ``model.state_dict()``, on the host; ``None`` before it or without
            ``restore_best``.
        best_auc: the highest validation AUC so far; ``-inf`` before the first epoch.
        best_epoch: the epoch that reached ``best_auc``; 0 before the first.
        bad_epochs: epochs since ``best_auc`` last rose (early stopping compares it with ``patience``).
    """

    epoch: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    best_state: dict[str, Tensor] | None = None
    best_auc: float = -inf
    best_epoch: int = 0
    bad_epochs: int = 0


_STATE_KEYS = tuple(f.name for f in fields(_LoopState))  # last.pt's loop-state keys, in this order


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or inf. ``last.pt`` (when checkpointing) still holds the last good epoch."""


class CheckpointError(ValueError):
    """``resume=True`` found a ``last.pt`` it will not use: unreadable, not a ctrviz checkpoint, holding pickled
    objects (never loaded: ``weights_only``), or made by another run (seed, model config, data). Nothing was loaded."""


_CHECKPOINT_KEYS = ("model", "optimizer", "optimizer_name", "rng_cpu", *_STATE_KEYS)
_START_OVER = "delete it, or train without resume to start over"


def _run_identity(model: nn.Module, data: CTRData, seed: int) -> dict[str, object]:
    """What a checkpoint must have been made with to be resumed: the seed, the model's class and config, the data.

    The data are named by their name, split sizes and a hash of the schema and the first training rows (cheap:
    at most 4,096 rows are read), so another dataset, another split or another data seed is told apart.
    """
    train = data.train
    head = train[: min(len(train), 4096)]
    digest = hashlib.sha1(repr(data.schema).encode())
    for t in (head.sparse, head.dense, head.label, *(head.seqs[k] for k in sorted(head.seqs))):
        digest.update(t.detach().cpu().contiguous().numpy().tobytes())
    rows = f"{len(data.train)}/{len(data.valid)}/{len(data.test)} rows"
    return {"seed": seed, "model": type(model).__name__, "config": repr(getattr(model, "config", None)),
            "data": f"{data.name}, {rows}, {digest.hexdigest()[:12]}"}


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Every field is checked on construction (``ValueError`` naming the field).

    Args:
        epochs: maximum number of passes over the training split.
        batch_size, eval_batch_size: rows per training / evaluation mini-batch (under torchrun: the global
            batches, split over the ranks).
        lr, weight_decay: optimizer learning rate and L2 / decoupled weight decay.
        optimizer: ``"adam"``, ``"adamw"``, ``"adagrad"`` or ``"sgd"`` (plain, no momentum).
        embedding_optimizer: ``"dense"`` (the embedding tables with ``optimizer``, like every weight),
            ``"lazy_adam"`` or ``"rowwise_adagrad"``: sparse gradients for every ``nn.Embedding`` and an optimizer that
            updates only the rows a batch touches, so a step costs what it touches (:mod:`ctrviz.optim`, which says
            how each differs from dense Adam).
        embedding_lr: the tables' learning rate with a row-wise ``embedding_optimizer`` (``None``: ``lr``).
        patience: stop after this many epochs without a higher validation AUC; 0 disables.
        restore_best: load the weights of the best validation-AUC epoch at the end.
        grad_clip: max global gradient L2 norm, or ``None``.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, …
        amp: ``"auto"`` (bf16 autocast on a bf16-capable GPU, never on CPU), ``True`` (bf16 autocast; needs such a
            GPU or a CPU with native bf16) or ``False``.
        fused: use the optimizer's fused implementation (``torch.optim.Adam(..., fused=True)`` etc.): faster,
            equal up to float rounding.
        compile: wrap the model in ``torch.compile`` (weights and checkpoints stay the plain model's).
        seed: seeds dropout and the shuffle order (seed the model's init yourself, see module doc).
        progress: show tqdm bars (epochs, and steps within an epoch); ``False`` prints nothing.
        checkpoint_dir: folder for ``last.pt``, or ``None``. resume: continue from its ``last.pt``.
        nan_check_every: on CUDA, steps between host reads of the running loss to detect NaN/inf.
    """

    epochs: int = 10
    batch_size: int = 1024
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    embedding_optimizer: EmbeddingOptimizer = "dense"
    embedding_lr: float | None = None
    patience: int = 2
    restore_best: bool = True
    grad_clip: float | None = None
    device: str = "auto"
    amp: bool | str = "auto"
    fused: bool = False
    compile: bool = False
    seed: int = 0
    progress: bool = True
    checkpoint_dir: str | None = None
    resume: bool = False
    eval_batch_size: int = 8192
    nan_check_every: int = 50

    def __post_init__(self) -> None:
        for name, lo in (("epochs", 1), ("batch_size", 1), ("eval_batch_size", 1), ("patience", 0),
                         ("seed", 0), ("nan_check_every", 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f"TrainConfig.{name} must be an int >= {lo}, got {v!r}")
        if self.seed >= 2**63:                            # torch.manual_seed takes a signed 64-bit value
            raise ValueError(f"TrainConfig.seed must be < 2^63, got {self.seed}")
        for name, v, zero_ok in (("lr", self.lr, False), ("weight_decay", self.weight_decay, True),
                                 ("grad_clip", 1.0 if self.grad_clip is None else self.grad_clip, False)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v >= 0 if zero_ok else v > 0) or v == inf:
                raise ValueError(f"TrainConfig.{name} must be a finite number {'>=' if zero_ok else '>'} 0, got {v!r}")
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"TrainConfig.optimizer must be one of {sorted(_OPTIMIZERS)}, got {self.optimizer!r}")
        if self.embedding_optimizer not in EMBEDDING_OPTIMIZERS:
            raise ValueError(f"TrainConfig.embedding_optimizer must be 'dense', 'lazy_adam' or 'rowwise_adagrad', "
                             f"got {self.embedding_optimizer!r}")
        e = self.embedding_lr
        if e is not None and (isinstance(e, bool) or not isinstance(e, (int, float)) or not 0 < e < inf):
            raise ValueError(f"TrainConfig.embedding_lr must be None or a finite number > 0, got {e!r}")
        if self.embedding_optimizer != "dense" and self.compile:
            raise ValueError("TrainConfig.compile=True needs embedding_optimizer='dense' (torch.compile does not "
                             "trace the sparse gradients of row-wise updates)")
        for name in ("restore_best", "fused", "compile", "progress", "resume"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"TrainConfig.{name} must be True or False, got {getattr(self, name)!r}")
        if not (isinstance(self.amp, bool) or self.amp == "auto"):
            raise ValueError(f"TrainConfig.amp must be 'auto', True or False, got {self.amp!r}")
        device = resolve_device(self.device)  # ValueError "device: ..." for an unknown or absent device
        if self.amp is True and not _bf16_ok(device):
            raise ValueError(f"TrainConfig.amp=True needs a CUDA GPU with bf16 (compute capability >= 8.0) or a CPU "
                             f"with native bf16 (AVX512-BF16/AMX), the device is {device} without; use amp='auto' "
                             f"(bf16 on such GPUs, off elsewhere) or amp=False")
        if self.checkpoint_dir is not None and not isinstance(self.checkpoint_dir, (str, Path)):
            raise ValueError(f"TrainConfig.checkpoint_dir must be a path string or None, got {self.checkpoint_dir!r}")
        if self.resume and self.checkpoint_dir is None:
            raise ValueError("TrainConfig.resume=True needs checkpoint_dir (the folder holding last.pt)")


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    Args:
        history: one row per epoch: ``epoch, train_loss, valid_auc, valid_logloss, [valid_gauc,] seconds,
            samples_per_s`` (seconds = whole epoch incl. validation; samples/s = training rows / training time).
        best_epoch: epoch (1-based) with the highest validation AUC.
        valid, test: metrics of the final model — the restored best one when ``restore_best``.
        params: number of trainable parameters. seconds: total wall time. device: e.g. ``"cpu"``.
        model: the trained model itself (the object passed to :meth:`Trainer.fit`, on ``device``), for
            inspection: AOANet's α table, CAN's co-action outputs, …
    """

    history: pd.DataFrame
    best_epoch: int
    valid: dict[str, float]
    test: dict[str, float]
    params: int
    seconds: float
    device: str
    model: nn.Module | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict; ``history`` as a list of row dicts."""
        return {"best_epoch": self.best_epoch, "valid": dict(self.valid), "test": dict(self.test),
                "params": self.params, "seconds": self.seconds, "device": self.device,
                "history": self.history.to_dict("records")}


class Trainer:
    """Fits any ``forward(batch) -> (B,) logits`` model on a :class:`CTRData`.

    Args:
        config: a :class:`TrainConfig` (default: all defaults).

    Example:
        >>> from ctrviz.data.schema import Field, Schema
        >>> schema = Schema((Field("user", "sparse", vocab_size=10), Field("item", "sparse", vocab_size=10)))
        >>> ids = torch.randint(2, 10, (600, 2), generator=torch.Generator().manual_seed(0))
        >>> def rows(s): return Batch(ids[s], torch.zeros(len(ids[s]), 0), {}, (ids[s, 1] >= 6).float())
        >>> data = CTRData("toy", schema, rows(slice(0, 400)), rows(slice(400, 500)), rows(slice(500, 600)))
        >>> class LR(nn.Module):  # logistic regression: one weight per (field, id)
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.w = nn.Parameter(torch.zeros(2, 10))  # (F, vocab)
        ...     def forward(self, batch):
        ...         return self.w[torch.arange(2), batch.sparse].sum(1)  # (B, F) -> (B,)
        >>> _ = seed_everything(0); model = LR()
        >>> result = Trainer(TrainConfig(epochs=3, batch_size=64, lr=0.1, progress=False)).fit(model, data)
        >>> result.valid["auc"] > 0.95, len(result.history), result.params
        (True, 3, 20)
    """

    def __init__(self, config: TrainConfig | None = None) -> None:
        if config is not None and not isinstance(config, TrainConfig):
            raise TypeError(f"Trainer expects a TrainConfig, got {type(config).__name__}")
        self.config = config or TrainConfig()

    def fit(self, model: nn.Module, data: CTRData) -> TrainResult:
        """Train ``model`` in place (moved to the device, left in eval mode); early-stop on ``data.valid``.

        Raises ``ValueError`` (bad output shape, resume from another model, a batch size or device that does
        not fit the process group, a checkpoint_dir that is a file or read-only — checked before anything runs),
        ``FileNotFoundError`` (resume without ``last.pt``), :class:`CheckpointError` (a ``last.pt`` that is unreadable,
        foreign or from another seed, model config or data) or :class:`TrainingDiverged`.
        """
        cfg, t_start = self.config, time.perf_counter()
        if cfg.checkpoint_dir is not None:                 # a bad folder fails now, not after the first epoch
            writable_dir(cfg.checkpoint_dir, "TrainConfig.checkpoint_dir")
        device = resolve_device(cfg.device)
        ddp, main = distributed.active(), distributed.is_main()
        if ddp:  # torchrun: this rank's GPU; batch_size must split evenly over the ranks
            device = distributed.check_setup(device, cfg.batch_size)
        amp = cfg.amp is True or (cfg.amp == "auto" and _bf16_ok(device, cpu=False))
        for split in ("train", "valid"):
            if len(getattr(data, split)) == 0:
                raise ValueError(f"data.{split} has no rows; training needs both (validation AUC picks the best "
                                 "epoch and stops early): split the data so each gets some")
        check_input(model, {"data.train": data.train, "data.valid": data.valid, "data.test": data.test}, "Trainer.fit")
        seed_everything(cfg.seed)
        model.to(device)
        # each split on the device when it fits (whole splits resident on a GPU), else read from host memory
        train, valid, test = (place(getattr(data, s), device) for s in ("train", "valid", "test"))
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("the model has no trainable parameters")
        opt = make_optimizer(model, cfg.optimizer, cfg.lr, cfg.weight_decay, cfg.fused, cfg.embedding_optimizer,
                             cfg.embedding_lr)
        ckpt = Path(cfg.checkpoint_dir) / "last.pt" if cfg.checkpoint_dir is not None else None
        identity = _run_identity(model, data, cfg.seed) if ckpt is not None else {}   # in last.pt; resume must match
        st = self._load(ckpt, model, opt, device, identity) if cfg.resume else _LoopState()
        fwd = torch.compile(model) if cfg.compile else model
        # training steps call one forward returning (logits, aux | None), compiled with forward_with_aux when asked
        # (compiling the model alone leaves forward_with_aux, e.g. GIN's or DIEN's, uncompiled); DDP's under torchrun
        step_fwd = distributed.TrainForward(model)
        train_fwd = distributed.wrap(model, compile=cfg.compile) if ddp else (
            torch.compile(step_fwd) if cfg.compile else step_fwd)
        bar = tqdm(range(st.epoch + 1, cfg.epochs + 1), desc="epochs", total=cfg.epochs, initial=st.epoch,
                   disable=not (cfg.progress and main))
        for epoch in bar:
            if cfg.patience and st.bad_epochs >= cfg.patience:
                break
            t0 = time.perf_counter()
            try:
                loss, train_s = self._train_epoch(train_fwd, opt, params, train, epoch, amp, device)
            except TrainingDiverged as e:
                kept = f"{ckpt} still holds epoch {st.epoch}" if ckpt and st.epoch else "no checkpoint written"
                raise TrainingDiverged(f"training diverged: {e}. Try a lower lr (now {cfg.lr:g}), grad_clip (e.g. "
                                       f"1.0){' or amp=False' if amp else ''}; {kept}.") from None
            m = _evaluate(fwd, valid, cfg.eval_batch_size, amp)
            st.history.append({"epoch": epoch, "train_loss": loss, **{f"valid_{k}": v for k, v in m.items()},
                              "seconds": time.perf_counter() - t0, "samples_per_s": len(train) / train_s})
            st.epoch = epoch
            if m["auc"] > st.best_auc:
                best = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
                        } if cfg.restore_best else None  # kept on the host: no second copy in GPU memory
                st.best_auc, st.best_epoch, st.bad_epochs, st.best_state = m["auc"], epoch, 0, best
            else:
                st.bad_epochs += 1
            if ckpt is not None and main:
                atomic_torch_save({**vars(st), "model": model.state_dict(), "optimizer": opt.state_dict(),
                                   "optimizer_name": self._optimizer_name(), "run": identity,
                                   "rng_cpu": torch.get_rng_state(),
                                   "rng_cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None},
                                  ckpt)
            bar.set_postfix(loss=f"{loss:.4f}", valid_auc=f"{m['auc']:.4f}")
        bar.close()
        if cfg.restore_best and st.best_state is not None:
            model.load_state_dict(st.best_state)
        v, t = (_evaluate(fwd, s, cfg.eval_batch_size, amp) for s in (valid, test))
        model.eval()
        cols = ["epoch", "train_loss", "valid_auc", "valid_logloss", *(["valid_gauc"] if "gauc" in v else []),
                "seconds", "samples_per_s"]
        return TrainResult(pd.DataFrame(st.history, columns=cols), st.best_epoch, v, t,
                           sum(p.numel() for p in params), time.perf_counter() - t_start, str(device), model)

    def _train_epoch(self, fwd: nn.Module, opt: torch.optim.Optimizer, params: list[Tensor], train: Batch,
                     epoch: int, amp: bool, dev: torch.device) -> tuple[float, float]:
        """One pass over ``train``; returns (mean loss, training seconds). No host sync per step on CUDA.

        ``fwd`` returns ``(logits, aux | None)`` (:class:`ctrviz.distributed.TrainForward`); under a process group it
        is :func:`ctrviz.distributed.wrap`'s DDP module and each global batch is cut to this rank's rows (module
        docstring of :mod:`ctrviz.distributed`).
        """
        cfg = self.config
        ddp, world = distributed.active(), distributed.world_size()
        gen = torch.Generator().manual_seed(int(np.random.SeedSequence([cfg.seed, epoch]).generate_state(1)[0]))
        if ddp:  # dropout: independent draws per rank, reproducible per epoch (resume included)
            torch.manual_seed(int(np.random.SeedSequence([cfg.seed, epoch, distributed.rank()]).generate_state(1)[0]))
        steps = -(-len(train) // cfg.batch_size)
        loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
        checked, t0 = 0, time.perf_counter()
        fwd.train()
        batches = iter_batches(train, cfg.batch_size, shuffle=True, generator=gen, device=dev)
        for step, b in enumerate(tqdm(batches, total=steps, desc=f"epoch {epoch}", leave=False,
                                      disable=not (cfg.progress and distributed.is_main())), 1):
            n, weight = len(b), 1.0
            if ddp:  # this rank's n rows of the m-row global batch; DDP averages Σ_r weight_r·mean_r over W ranks
                m = len(b)
                b, n = distributed.shard(b)
                weight = n * world / m  # 1 unless the last batch is ragged; 0 for an empty share
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=amp):
                logits, aux = fwd(b)                 # aux: e.g. DIEN's auxiliary loss (see module docstring)
            _check_logits(logits, len(b))
            loss = F.binary_cross_entropy_with_logits(logits.float(), b.label)
            if aux is not None:
                loss = loss + aux.float()
            if dev.type == "cpu" and not ddp and not torch.isfinite(loss):
                raise TrainingDiverged(f"the loss became NaN/inf at epoch {epoch}, step {step} of {steps}")
            opt.zero_grad(set_to_none=True)
            (loss if weight == 1.0 else loss * weight).backward()
            if cfg.grad_clip is not None:
                clip_grad_norm(params, cfg.grad_clip)
            opt.step()
            loss_sum += loss.detach() * n
            # Several ranks (any device) check the all-reduced sum, so that they all stop at the same step.
            if (dev.type != "cpu" or ddp) and (step - checked >= cfg.nan_check_every or step == steps):
                if not torch.isfinite(distributed.all_reduce_sum(loss_sum)):  # one host sync per window
                    raise TrainingDiverged(f"the loss became NaN/inf at epoch {epoch}, in one of steps "
                                           f"{checked + 1}..{step} of {steps}")
                checked = step
        total = distributed.all_reduce_sum(loss_sum)  # loss_sum itself in a single process
        return total.item() / len(train), time.perf_counter() - t0  # .item(): the epoch's host sync

    def _load(self, path: Path | None, model: nn.Module, opt: torch.optim.Optimizer, device: torch.device,
              identity: dict[str, object]) -> _LoopState:
        """Restore model, optimizer, RNG and loop state from ``last.pt``; return the loop state.

        Everything is checked before anything is loaded: the file (:class:`CheckpointError` when unreadable,
        foreign or holding pickled objects), the run that made it (seed, model config, data: ``identity``), the
        state's keys and shapes and the optimizer.
        """
        if path is None or not path.is_file():
            raise FileNotFoundError(f"resume=True but there is no checkpoint {path}; train once without resume "
                                    "(with the same checkpoint_dir) or fix checkpoint_dir")
        ck = self._read_checkpoint(path)
        made = ck.get("run")
        if isinstance(made, dict):                        # checkpoints from before this record skip the check
            for key, what in (("seed", "seed"), ("model", "model class"), ("config", "model config"),
                              ("data", "data")):
                if made.get(key) != identity[key]:
                    raise CheckpointError(f"checkpoint {path} was made with {what} {made.get(key)!r}, this run has "
                                          f"{identity[key]!r}; resume with the same {what}, or {_START_OVER}")
        mine = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        theirs = {k: tuple(v.shape) for k, v in ck["model"].items()}
        if mine != theirs:
            diff = sorted(set(mine.items()) ^ set(theirs.items()))[:4]
            raise ValueError(f"{path} was saved from a different model: state_dict keys/shapes differ, e.g. {diff}; "
                             "use a fresh checkpoint_dir or resume=False")
        if ck["optimizer_name"] != self._optimizer_name():
            raise ValueError(f"{path} was saved with optimizer {ck['optimizer_name']!r}, the config says "
                             f"{self._optimizer_name()!r}")
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        cfg = self.config
        for o in getattr(opt, "parts", (opt,)):  # the config, not the checkpoint, decides lr and weight decay
            lr = cfg.lr if o is not getattr(opt, "rows", None) or cfg.embedding_lr is None else cfg.embedding_lr
            for g in o.param_groups:
                g.update(lr=lr, weight_decay=cfg.weight_decay)
        torch.set_rng_state(ck["rng_cpu"])
        if device.type == "cuda" and ck["rng_cuda"] is not None:
            torch.cuda.set_rng_state(ck["rng_cuda"], device)
        return _LoopState(**{k: ck[k] for k in _STATE_KEYS})

    def _optimizer_name(self) -> str:
        """The optimizer as ``last.pt`` records it: ``adam``, or ``adam+lazy_adam`` with a row-wise embedding one."""
        cfg = self.config
        return cfg.optimizer if cfg.embedding_optimizer == "dense" else f"{cfg.optimizer}+{cfg.embedding_optimizer}"

    @staticmethod
    def _read_checkpoint(path: Path) -> dict[str, Any]:
        """``torch.load(path, weights_only=True)``, every failure a :class:`CheckpointError` saying what to do."""
        size = path.stat().st_size
        if not zipfile.is_zipfile(path):                  # torch.save writes a zip archive
            raise CheckpointError(f"checkpoint {path} is unreadable ({size:,} bytes: empty, truncated or not a torch "
                                  f"file); {_START_OVER}")
        try:
            ck = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:
            raise CheckpointError(f"checkpoint {path} holds pickled Python objects, which ctrviz never loads (it was "
                                  f"not written by ctrviz and may be unsafe); {_START_OVER}") from None
        except (RuntimeError, EOFError, OSError, KeyError, ValueError) as e:
            raise CheckpointError(f"checkpoint {path} is unreadable ({type(e).__name__}: a damaged torch file); "
                                  f"{_START_OVER}") from None
        missing = [k for k in _CHECKPOINT_KEYS if k not in ck] if isinstance(ck, dict) else None
        if missing is None or missing:
            what = f"a {type(ck).__name__}" if missing is None else f"no {', '.join(map(repr, missing[:3]))}"
            raise CheckpointError(f"checkpoint {path} is not a ctrviz checkpoint ({what}); {_START_OVER}")
        return ck


def _evaluate(model: nn.Module, split: Batch, batch_size: int, amp: bool) -> dict[str, float]:
    """:func:`evaluate_model`; under a process group each rank predicts its contiguous 1/W of the rows, the
    probabilities are all-gathered in row order and every rank computes the same metrics of the same array."""
    if not distributed.active():
        return evaluate_model(model, split, batch_size, amp=amp)
    lo, hi = distributed.bounds(len(split))
    mine = torch.from_numpy(predict(model, split[lo:hi], batch_size, amp=amp))
    return evaluate(split.label, distributed.all_gather_rows(mine).numpy(), split.group)


def _bf16_ok(device: torch.device, cpu: bool = True) -> bool:
    """Native bf16 on ``device``: a CUDA GPU of compute capability >= 8.0, or (``cpu``) a CPU with AVX512-BF16/AMX."""
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 0)
    return cpu and device.type == "cpu" and torch.backends.mkldnn.is_available() \
        and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _check_logits(logits: Tensor, n: int) -> None:
    if not isinstance(logits, Tensor) or logits.shape != (n,) or not logits.is_floating_point():
        got = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise ValueError(f"model.forward(batch) must return float logits of shape (B,) = ({n},), got {got}"
                         f"{'; end forward with .squeeze(-1)' if got == (n, 1) else ''}")


def check_input(model: nn.Module, batches: dict[str, Batch], where: str) -> None:
    """Check user batches against the schema the model was built for (``model.schema``, set by
    :func:`ctrviz.models.create`), once at the boundary — never per step.

    All fields share one embedding table, so an id outside its field's vocabulary would silently read another
    field's rows, and one sparse column would broadcast over every field; this turns those and every other
    mismatch (sequence lengths, missing sequences or dense columns, int labels) into a ``ValueError`` naming the
    field. A model without ``schema`` (a hand-built module) is not checked.
    """
    schema = getattr(model, "schema", None)
    if not isinstance(schema, Schema):
        return
    for name, batch in batches.items():
        if not isinstance(batch, Batch):
            raise ValueError(f"{where}: {name} must be a ctrviz Batch, got {type(batch).__name__}")
        try:
            batch.check(schema)
        except (ValueError, TypeError) as e:
            raise ValueError(f"{where}: {name} does not fit the model's schema: {e}") from None


@torch.no_grad()
def predict(model: nn.Module, batch: Batch, batch_size: int = 8192, *, amp: bool = False) -> np.ndarray:
    """Click probabilities ``sigmoid(model(batch))`` as a (N,) float32 array, in eval mode.

    Mini-batches go to the model's device if ``batch`` lives elsewhere; the model's train/eval mode is restored.

    Args:
        model: a ``forward(batch) -> (B,) logits`` module. batch: the rows. batch_size: rows per forward.
        amp: run forwards under bf16 autocast (on the model's device type).

    Example:
        >>> class Half(nn.Module):
        ...     def forward(self, batch): return torch.zeros(len(batch))
        >>> predict(Half(), Batch(torch.tensor([[2], [3]]), torch.zeros(2, 0), {}, torch.tensor([0., 1.])))
        array([0.5, 0.5], dtype=float32)
    """
    check_input(model, {"batch": batch}, "predict")
    device = next((p.device for p in model.parameters()), batch.device)
    was_training = model.training
    model.eval()
    try:
        out = []
        for b in iter_batches(batch, batch_size):
            b = b.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                logits = model(b)
            _check_logits(logits, len(b))
            out.append(torch.sigmoid(logits.float()))
        return torch.cat(out).cpu().numpy() if out else np.zeros(0, np.float32)
    finally:
        model.train(was_training)


def evaluate_model(model: nn.Module, batch: Batch, batch_size: int = 8192, *, amp: bool = False) -> dict[str, float]:
    """:func:`ctrviz.metrics.evaluate` of :func:`predict` on ``batch``: auc, logloss, and gauc when ``batch.group``."""
    return evaluate(batch.label, predict(model, batch, batch_size, amp=amp), batch.group)
