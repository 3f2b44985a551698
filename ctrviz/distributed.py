"""Multi-process data-parallel training: ``torchrun --nproc_per_node=N -m ctrviz train …``.

One process per device (rank ``r`` of ``W``), launched by ``torchrun``, which sets ``WORLD_SIZE``,
``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``. :func:`init` starts the process group
(gloo for CPU, NCCL for CUDA with rank ``r`` on ``cuda:LOCAL_RANK``); :class:`ctrviz.train.Trainer`
then notices the group and trains with ``DistributedDataParallel``:

- **Sharding.** Every rank draws the *same* global shuffle order as a single process (same CPU
  generator), cuts the same global batches of ``batch_size`` rows, and takes its contiguous slice
  :func:`bounds` of each (``batch_size`` is the global batch and must be a multiple of ``W``).
  Rank ``r`` scales its mean loss by ``n_r·W/m`` (``m`` rows in the global batch, ``n_r`` its own;
  1 except in a ragged last batch); DDP averages the gradients over ranks, so every step applies
  ``Σ_r (n_r·W/m)·mean_r / W = mean over the m rows`` — the single-process gradient, up to float
  summation order. A rank whose slice of a tiny last batch is empty runs the whole batch at weight 0,
  so that every rank joins the gradient all-reduce.
- **Evaluation.** Each rank predicts its contiguous 1/W of the validation/test rows, the probabilities are
  all-gathered in row order, and every rank computes the metrics of the same array: identical numbers,
  hence identical early-stopping decisions, on every rank.
- **Rank 0 only** writes checkpoints (atomically, as always), shows progress bars and prints.
- **Randomness inside the model** (dropout, DIEN's sampled negatives) is seeded per ``(seed, epoch, rank)``:
  equivalent in distribution, not bit for bit, but reproducible (resume included). Without it, and without
  BatchNorm (whose batch statistics become per-rank), the weights match the single-process run up to float
  rounding.
- **Errors** are ``ValueError`` raised before any collective (see :func:`launch_env`, :func:`init`,
  :func:`check_setup`). An error on one rank only leaves the others waiting until torchrun stops them.

Example:
    >>> launch_env({}) is None            # not started by torchrun: train in this one process
    True
    >>> [bounds(10, rank=r, world=3) for r in range(3)]
    [(0, 3), (3, 6), (6, 10)]
    >>> rank(), world_size(), is_main(), active()   # no process group: a single process is rank 0 of 1
    (0, 1, True, False)
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.utils import resolve_device

__all__ = ["LaunchEnv", "TrainForward", "active", "all_gather_rows", "all_reduce_sum", "barrier", "bounds",
           "check_setup", "destroy", "init", "is_main", "launch_env", "main_first", "mean", "process_group", "rank",
           "shard", "world_size", "wrap"]

_ENV = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
_LAUNCH = "launch with `torchrun --nproc_per_node=N -m ctrviz train ...`"


@dataclass(frozen=True)
class LaunchEnv:
    """What ``torchrun`` told this process: its global ``rank`` and ``local_rank`` (index on its node) of
    ``world_size`` processes, and the rendezvous address ``master_addr:master_port``."""

    world_size: int
    rank: int
    local_rank: int
    master_addr: str
    master_port: int


def launch_env(environ: Mapping[str, str] | None = None) -> LaunchEnv | None:
    """torchrun's variables from ``environ`` (default ``os.environ``), or ``None`` without ``WORLD_SIZE``.

    Raises ``ValueError`` naming the variable when ``WORLD_SIZE`` is set but the others are missing or wrong.

    Example:
        >>> launch_env({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1",
        ...             "MASTER_PORT": "29500"}).rank
        1
        >>> launch_env({"WORLD_SIZE": "2"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: WORLD_SIZE is set but RANK, LOCAL_RANK, MASTER_ADDR, MASTER_PORT are not; launch with `torchrun ...
    """
    env = os.environ if environ is None else environ
    if "WORLD_SIZE" not in env:
        return None
    missing = [k for k in _ENV if not env.get(k)]
    if missing:
        raise ValueError(f"WORLD_SIZE is set but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not; "
                         f"{_LAUNCH}")
    nums = {}
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_PORT"):
        try:
            nums[k] = int(env[k])
        except ValueError:
            raise ValueError(f"{k} must be an integer, got {env[k]!r}; {_LAUNCH}") from None
    w, r, lr = nums["WORLD_SIZE"], nums["RANK"], nums["LOCAL_RANK"]
    if w < 1 or not 0 <= r < w or not 0 <= lr <= r:
        raise ValueError(f"need WORLD_SIZE >= 1 and 0 <= LOCAL_RANK <= RANK < WORLD_SIZE, got WORLD_SIZE={w}, "
                         f"RANK={r}, LOCAL_RANK={lr}; {_LAUNCH}")
    return LaunchEnv(w, r, lr, env["MASTER_ADDR"], nums["MASTER_PORT"])


def init(device: str | torch.device = "auto", *, backend: str | None = None) -> torch.device:
    """Start the default process group from torchrun's environment; return this rank's device.

    Args:
        device: ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``; a CUDA rank always trains on
            ``cuda:LOCAL_RANK`` (made the current device here).
        backend: ``None`` picks ``"gloo"`` for CPU and ``"nccl"`` for CUDA; ``"gloo"`` also works on CUDA.

    Raises:
        ValueError: not launched by torchrun, a group already exists, ``nccl`` without CUDA, more processes
            on a node than GPUs, or a ``cuda:K`` that is not this rank's GPU.
    """
    env = launch_env()
    if env is None:
        raise ValueError(f"distributed.init needs torchrun's environment ({', '.join(_ENV)}); {_LAUNCH}")
    if dist.is_initialized():
        raise ValueError("a torch.distributed process group is already initialized; call distributed.destroy() "
                         "first")
    dev = resolve_device(device)
    if dev.type == "cuda":
        if env.local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK={env.local_rank} but this node has {torch.cuda.device_count()} GPU(s): "
                             "start at most one process per GPU (--nproc_per_node), or train on --device cpu")
        if dev.index is not None and dev.index != env.local_rank:
            raise ValueError(f"device {dev} under torchrun: rank {env.rank} trains on cuda:{env.local_rank} "
                             "(its LOCAL_RANK); pass device 'cuda' or 'auto'")
        dev = torch.device("cuda", env.local_rank)
        torch.cuda.set_device(dev)
    elif dev.type != "cpu":
        raise ValueError(f"distributed training runs on 'cpu' (gloo) or 'cuda' (nccl), got device {dev}")
    backend = backend or ("nccl" if dev.type == "cuda" else "gloo")
    if backend not in ("gloo", "nccl"):
        raise ValueError(f"backend must be 'gloo', 'nccl' or None (chosen from the device), got {backend!r}")
    if backend == "nccl" and dev.type != "cuda":
        raise ValueError("backend 'nccl' moves only CUDA tensors but the device is cpu; use backend 'gloo' (the "
                         "default for cpu) or a CUDA device")
    dist.init_process_group(backend, init_method="env://", world_size=env.world_size, rank=env.rank,
                            device_id=dev if backend == "nccl" else None)
    return dev


def destroy() -> None:
    """Destroy the default process group, if there is one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def process_group(device: str | torch.device = "auto") -> Iterator[bool]:
    """Under torchrun: :func:`init`, yield ``True``, :func:`destroy` on the way out. Otherwise yield ``False``.

    Example:
        >>> with process_group("cpu") as launched:   # a plain `python` process: nothing to start
        ...     launched, is_main()
        (False, True)
    """
    if launch_env() is None:
        yield False
        return
    init(device)
    try:
        yield True
    finally:
        destroy()


@contextmanager
def main_first() -> Iterator[None]:
    """Run the block on rank 0 first, then on the other ranks (e.g. rank 0 fills a download cache)."""
    if active() and not is_main():
        barrier()
    yield
    if active() and is_main():
        barrier()


def rank() -> int:
    """This process's rank; 0 without a process group."""
    return _rank()


def _rank() -> int:
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def world_size() -> int:
    """Number of processes; 1 without a process group."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main() -> bool:
    """True on rank 0 (and in a single process): the rank that prints, shows progress and saves checkpoints."""
    return rank() == 0


def active() -> bool:
    """A process group of two or more ranks exists: the trainer shards batches and wraps the model in DDP."""
    return world_size() > 1


def barrier() -> None:
    """Wait for every rank (no-op in a single process)."""
    if active():
        dist.barrier()


def bounds(n: int, rank: int | None = None, world: int | None = None) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of ``n`` that rank ``rank`` of ``world`` takes: contiguous, sizes differ by at most 1.

    ``rank``/``world`` default to this process's. Example: ``bounds(7, 1, 2) == (3, 7)``.
    """
    r = _rank() if rank is None else rank
    w = world_size() if world is None else world
    return r * n // w, (r + 1) * n // w


def shard(batch: Batch, rank: int | None = None, world: int | None = None) -> tuple[Batch, int]:
    """This rank's rows of a global batch and how many they are.

    Returns ``(batch[lo:hi], hi - lo)`` with :func:`bounds`; when the slice is empty (a last batch with fewer
    rows than ranks) returns ``(batch, 0)``: the rank still runs a forward and backward, at loss weight 0.

    Example:
        >>> b = Batch(torch.arange(2, 9)[:, None], torch.zeros(7, 0), {}, torch.zeros(7))
        >>> [(s.sparse.flatten().tolist(), n) for s, n in (shard(b, r, 2) for r in range(2))]
        [([2, 3, 4], 3), ([5, 6, 7, 8], 4)]
        >>> shard(b[:1], 0, 2)[1]
        0
    """
    lo, hi = bounds(len(batch), rank, world)
    return (batch[lo:hi], hi - lo) if hi > lo else (batch, 0)


def check_setup(device: torch.device, batch_size: int, *, world: int | None = None,
                backend: str | None = None) -> torch.device:
    """Check a training setup against the process group; return this rank's device (``cuda`` → ``cuda:K``).

    Args:
        device: the resolved ``TrainConfig.device``. batch_size: the *global* batch (``TrainConfig.batch_size``).
        world, backend: default to the process group's.

    Example:
        >>> check_setup(torch.device("cpu"), 1000, world=3, backend="gloo")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ValueError: TrainConfig.batch_size=1000 is not divisible by the world size 3: ... e.g. 999 or 1002
    """
    w = world_size() if world is None else world
    backend = dist.get_backend() if backend is None else backend
    if batch_size % w:
        lo = batch_size // w * w
        raise ValueError(f"TrainConfig.batch_size={batch_size} is not divisible by the world size {w}: it is the "
                         f"global batch, of which each rank takes 1/{w}; use a multiple of {w}, e.g. "
                         f"{lo or w}{f' or {lo + w}' if lo else ''}")
    if backend == "nccl" and device.type != "cuda":
        raise ValueError(f"the process group uses nccl (CUDA only) but TrainConfig.device is {device}; start the "
                         "group on cpu (gloo) or train on 'cuda'")
    if device.type == "cuda":
        mine = torch.cuda.current_device()
        if device.index is not None and device.index != mine:
            raise ValueError(f"TrainConfig.device is {device} but rank {rank()} owns cuda:{mine}; pass 'cuda' or "
                             "'auto' under torchrun")
        device = torch.device("cuda", mine)
    return device


class TrainForward(nn.Module):
    """``model`` behind one ``forward`` returning ``(logits, aux | None)``: what a training step calls, so DDP and
    ``torch.compile`` also see ``forward_with_aux``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        if hasattr(self.model, "forward_with_aux"):
            return self.model.forward_with_aux(batch)
        return self.model(batch), None


def wrap(model: nn.Module, *, compile: bool = False) -> nn.Module:
    """``DistributedDataParallel`` around ``model`` (already on this rank's device), for training steps.

    Calling the result on a :class:`Batch` returns ``(logits (B,), aux_loss | None)``; evaluation uses
    ``model`` itself. ``static_graph=True``: the set of parameters a step uses is fixed (e.g. ``dense_weight``
    of a dataset without dense fields is never used), so DDP needs no per-step graph search.
    DDP broadcasts rank 0's weights and buffers when it is built.
    """
    ddp = nn.parallel.DistributedDataParallel(TrainForward(model), static_graph=True)
    return torch.compile(ddp) if compile else ddp


def _comm_device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def all_reduce_sum(t: Tensor) -> Tensor:
    """The sum of ``t`` over all ranks (a new tensor on ``t``'s device; ``t`` itself in a single process)."""
    if not active():
        return t
    out = t.detach().to(_comm_device(), copy=True)
    dist.all_reduce(out)
    return out.to(t.device)


def mean(x: float) -> float:
    """The average of a number over all ranks (``x`` in a single process), e.g. a per-rank timing.

    Example:
        >>> mean(2.5)
        2.5
    """
    return float(all_reduce_sum(torch.tensor(float(x), dtype=torch.float64))) / world_size()


def all_gather_rows(t: Tensor) -> Tensor:
    """Concatenate every rank's ``t`` (same trailing shape, any number of rows) along dim 0 in rank order."""
    if not active():
        return t
    dev = _comm_device()
    n = torch.tensor([len(t)], device=dev)
    sizes = [torch.zeros_like(n) for _ in range(world_size())]
    dist.all_gather(sizes, n)
    sizes_ = [int(s) for s in sizes]
    padded = torch.zeros((max(sizes_), *t.shape[1:]), dtype=t.dtype, device=dev)
    padded[:len(t)] = t
    parts = [torch.empty_like(padded) for _ in sizes_]
    dist.all_gather(parts, padded)
    return torch.cat([p[:k] for p, k in zip(parts, sizes_, strict=True)]).to(t.device)
