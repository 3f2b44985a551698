"""Tensors a model eats: :class:`Batch` (one split or one mini-batch) and :class:`CTRData` (splits).

A whole split is one :class:`Batch` holding N rows; a mini-batch is the same class indexed by a
tensor of row ids, so batching is one gather per tensor on the training device and no per-row Python
work (``Batch.__getitem__``). Shapes (letters as in DESIGN.md): ``sparse`` (B, F_s) long,
``dense`` (B, F_d) float, ``seqs[name]`` (B, T) long with 0 = padding, ``label`` (B,) float,
``group`` (B,) long — the user id GAUC groups by, or ``None``.

A whole split may store its ids as int32 (half the memory; the encoded cache of the large readers maps them from
disk, :mod:`ctrviz.data.encoded_cache`): indexing a :class:`Batch` always gives int64 ids, so a model never sees
the storage type.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ctrviz.data.schema import Schema


@dataclass
class Batch:
    """Rows of a CTR dataset as tensors.

    Args:
        sparse: (B, F_s) int64 ids (int32 allowed for a stored split), columns in ``schema.sparse_names`` order.
        dense: (B, F_d) float32 values, columns in ``schema.dense_names`` order.
        seqs: name → (B, T) int64 (or int32) ids, 0 = padding, for every ``schema.seq_names`` field.
        label: (B,) float32 clicks in {0, 1}.
        group: (B,) int64 user ids for GAUC, or ``None``.

    Example:
        >>> b = Batch(torch.tensor([[2], [3], [4]]), torch.zeros(3, 0), {}, torch.tensor([0., 1., 1.]))
        >>> len(b[torch.tensor([0, 2])])
        2
    """

    sparse: Tensor
    dense: Tensor
    seqs: dict[str, Tensor]
    label: Tensor
    group: Tensor | None = None

    def __post_init__(self) -> None:
        n = self.label.shape[0]
        if self.label.dim() != 1:
            raise ValueError(f"Batch.label must be 1-D (B,), got shape {tuple(self.label.shape)}")
        for name, t in [("sparse", self.sparse), ("dense", self.dense), *self.seqs.items(),
                        ("group", self.group)]:
            if t is not None and (t.dim() != (1 if name == "group" else 2) or t.shape[0] != n):
                raise ValueError(
                    f"Batch.{name}: expected {'(B,)' if name == 'group' else '(B, ·)'} with B={n} rows, "
                    f"got shape {tuple(t.shape)}"
                )

    def __len__(self) -> int:
        return self.label.shape[0]

    def __getitem__(self, idx: Tensor | slice) -> Batch:
        """Rows ``idx`` (an index tensor on the same device, or a slice); ids come back as int64 whatever the
        storage type (``.long()`` is free when they already are)."""
        return Batch(
            self.sparse[idx].long(), self.dense[idx], {k: v[idx].long() for k, v in self.seqs.items()},
            self.label[idx], None if self.group is None else self.group[idx],
        )

    def to(self, device: torch.device | str) -> Batch:
        """The same rows on ``device`` (non-blocking where the source is pinned)."""
        def mv(t: Tensor) -> Tensor:
            return t.to(device, non_blocking=True)
        return Batch(mv(self.sparse), mv(self.dense), {k: mv(v) for k, v in self.seqs.items()},
                     mv(self.label), None if self.group is None else mv(self.group))

    @property
    def device(self) -> torch.device:
        return self.label.device

    @property
    def nbytes(self) -> int:
        """Bytes of all the tensors (as stored: int32 ids count 4 bytes each)."""
        ts = [self.sparse, self.dense, self.label, *self.seqs.values()] + ([] if self.group is None else [self.group])
        return sum(t.numel() * t.element_size() for t in ts)

    def check(self, schema: Schema) -> None:
        """Raise ``ValueError`` naming the field if the tensors don't match ``schema``."""
        if self.sparse.shape[1] != len(schema.sparse_names):
            raise ValueError(f"Batch.sparse has {self.sparse.shape[1]} columns, schema has "
                             f"{len(schema.sparse_names)} sparse fields {schema.sparse_names}")
        if self.dense.shape[1] != len(schema.dense_names):
            raise ValueError(f"Batch.dense has {self.dense.shape[1]} columns, schema has "
                             f"{len(schema.dense_names)} dense fields {schema.dense_names}")
        if set(self.seqs) != set(schema.seq_names):
            raise ValueError(f"Batch.seqs has {sorted(self.seqs)}, schema expects {sorted(schema.seq_names)}")
        for j, name in enumerate(schema.sparse_names):
            _check_ids(name, self.sparse[:, j], schema[name].vocab_size, allow_pad=False)
        for name in schema.seq_names:
            f = schema[name]
            if self.seqs[name].shape[1] != f.max_len:
                raise ValueError(f"Batch.seqs[{name!r}] has length {self.seqs[name].shape[1]}, "
                                 f"schema max_len is {f.max_len}")
            _check_ids(name, self.seqs[name], f.vocab_size, allow_pad=True)
        if self.dense.numel() and not torch.isfinite(self.dense).all():
            bad = (~torch.isfinite(self.dense)).any(0).nonzero().flatten().tolist()
            raise ValueError(f"Batch.dense has NaN/inf in fields {[schema.dense_names[i] for i in bad]}; "
                             "impute or drop them before encoding")
        if not self.label.is_floating_point():
            raise ValueError(f"Batch.label must be a float tensor of 0. and 1., got {self.label.dtype}; "
                             "use label.float()")
        if len(self) and not ((self.label == 0) | (self.label == 1)).all():
            raise ValueError("Batch.label must hold only 0 and 1")


def place(batch: Batch, device: torch.device, free_bytes: int | None = None) -> Batch:
    """``batch`` where training reads it from: on ``device`` when it fits, else left in host memory.

    On a GPU a split is copied whole when it takes at most half of the free device memory (``free_bytes``, default
    ``torch.cuda.mem_get_info``), so a step gathers its rows on the GPU; a larger split stays on the host (e.g. the
    memory-mapped encoded cache) and each mini-batch is gathered there and copied over from pinned memory
    (:func:`iter_batches` with ``device``). On the CPU nothing is copied.

    Example:
        >>> b = Batch(torch.arange(2, 6)[:, None], torch.zeros(4, 0), {}, torch.zeros(4))
        >>> place(b, torch.device("meta"), free_bytes=10).device.type    # 48 bytes > half of 10 → stays home
        'cpu'
    """
    if device.type == "cpu" or batch.device == device:
        return batch
    if free_bytes is None:
        free_bytes = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else batch.nbytes * 2
    return batch.to(device) if batch.nbytes <= free_bytes / 2 else batch


def _check_ids(name: str, ids: Tensor, vocab_size: int, allow_pad: bool) -> None:
    if ids.dtype not in (torch.int64, torch.int32):
        raise TypeError(f"field {name!r}: ids must be int64 (or int32 in a stored split), got {ids.dtype}")
    if ids.numel() == 0:
        return
    lo, hi = int(ids.min()), int(ids.max())
    if hi >= vocab_size or lo < (0 if allow_pad else 1):
        raise ValueError(f"field {name!r}: ids must lie in [{0 if allow_pad else 1}, {vocab_size - 1}], "
                         f"got range [{lo}, {hi}]; re-encode with the vocabulary fitted on train")


@dataclass
class CTRData:
    """A dataset ready to train on: a schema and train / validation / test splits.

    Args:
        name: dataset name, e.g. ``"synthetic"``.
        schema: the fields.
        train, valid, test: the splits as :class:`Batch`.
        info: free-form facts about the data (sizes, protocol, oracle metrics for synthetic data).
    """

    name: str
    schema: Schema
    train: Batch
    valid: Batch
    test: Batch
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for split in ("train", "valid", "test"):
            getattr(self, split).check(self.schema)

    def to(self, device: torch.device | str) -> CTRData:
        """The same data with every split on ``device``."""
        return CTRData(self.name, self.schema, self.train.to(device), self.valid.to(device),
                       self.test.to(device), self.info)


def iter_batches(data: Batch, batch_size: int, *, shuffle: bool = False,
                 generator: torch.Generator | None = None, device: torch.device | None = None) -> Iterator[Batch]:
    """Mini-batches of ``data``: one gather per tensor on the data's device, no per-row Python.

    Args:
        data: the rows, on the training device or (see :func:`place`) in host memory.
        batch_size: rows per batch (the last one may be smaller).
        shuffle: permute rows first, drawing from ``generator`` (a CPU generator, for bit-identical
            order across devices).
        device: where to deliver each batch, when ``data`` lives elsewhere: gathered where ``data`` is, then copied
            (from pinned memory, without blocking, when ``device`` is a GPU).

    Example:
        >>> b = Batch(torch.arange(2, 7)[:, None], torch.zeros(5, 0), {}, torch.zeros(5))
        >>> [len(x) for x in iter_batches(b, 2)]
        [2, 2, 1]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(data)
    move = device is not None and torch.device(device) != data.device
    if shuffle:
        order = torch.randperm(n, generator=generator).to(data.device)
        parts = (data[order[i:i + batch_size]] for i in range(0, n, batch_size))
    else:
        parts = (data[i:i + batch_size] for i in range(0, n, batch_size))
    for b in parts:
        yield _pinned(b).to(device) if move else b


def _pinned(b: Batch) -> Batch:
    """``b`` in page-locked host memory when a GPU is present (so ``to(cuda)`` does not block), else ``b``."""
    if not torch.cuda.is_available():
        return b
    return Batch(b.sparse.pin_memory(), b.dense.pin_memory(), {k: v.pin_memory() for k, v in b.seqs.items()},
                 b.label.pin_memory(), None if b.group is None else b.group.pin_memory())
