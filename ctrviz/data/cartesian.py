"""Cartesian-product features: the pair ``<A, B>`` as a new categorical field (CAN Sec. 3, Fig. 2a).

Each pair of ids ``(a, b)`` becomes one key ``a · |V_B| + b``; the keys seen at least ``min_count``
times in the *training* split form the pair vocabulary (ids from 2, in sorted key order), every other
key — a combination never seen in training — maps to OOV (1). A sequence feed gives one pair id per
history position (padding stays 0), so a model sum-pools the pair embeddings over the history like
any sequence field. The parameter count grows with the number of distinct pairs, O(N²·D) at worst:
the cost CAN's co-action unit avoids.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from ctrviz.data.batch import Batch, CTRData
from ctrviz.data.schema import FIRST_ID, OOV_ID, PAD_ID, Field, Pair, Schema


def pair_field_name(pair: Pair) -> str:
    """Name of the Cartesian field of ``pair``: ``"<item,hist_item>"``."""
    return f"<{pair.induction},{pair.feed}>"


def _keys(batch: Batch, schema: Schema, pair: Pair) -> Tensor:
    """(B, T) int64 keys a·|V_B| + b of ``pair`` (T = 1 for a sparse feed); −1 where the feed is padding."""
    a = batch.sparse[:, schema.sparse_names.index(pair.induction)].unsqueeze(1)          # (B, 1)
    fb = schema[pair.feed]
    b = batch.seqs[pair.feed] if fb.kind in ("multi", "sequence") else \
        batch.sparse[:, schema.sparse_names.index(pair.feed)].unsqueeze(1)                # (B, T)
    return torch.where(b == PAD_ID, -1, a * fb.vocab_size + b)                            # (B, T)


def add_pair_ids(data: CTRData, pairs: tuple[Pair, ...] | None = None, min_count: int = 1) -> CTRData:
    """``data`` with one Cartesian field per pair appended (vocabulary from the training split only).

    Args:
        data: the dataset; its splits are not modified.
        pairs: pairs to cross (default ``data.schema.pairs``); the induction side must be sparse.
        min_count: rarer training pairs map to OOV.

    Returns:
        a new :class:`CTRData` whose schema has the extra fields (sparse for a sparse feed, a sequence of
        the feed's length otherwise) and whose ``info["cartesian"]`` maps each field to its number of
        distinct training pairs.

    Example:
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=4)), (Pair("a", "b"),))
        >>> rows = Batch(torch.tensor([[2, 2], [2, 3], [2, 2]]), torch.zeros(3, 0), {}, torch.tensor([1., 0., 1.]))
        >>> test = Batch(torch.tensor([[2, 2], [3, 3]]), torch.zeros(2, 0), {}, torch.tensor([1., 0.]))
        >>> out = add_pair_ids(CTRData("toy", s, rows, rows, test))
        >>> out.train.sparse[:, 2].tolist(), out.test.sparse[:, 2].tolist()   # (3, 3) never seen → OOV
        ([2, 3, 2], [2, 1])
    """
    schema = data.schema
    pairs = tuple(schema.pairs if pairs is None else pairs)
    if not pairs:
        raise ValueError("add_pair_ids: no pairs given and the schema declares none")
    if not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"add_pair_ids: min_count must be an int >= 1, got {min_count!r}")
    for p in pairs:
        if p.induction not in schema or schema[p.induction].kind != "sparse":
            raise ValueError(f"Cartesian pair {p}: the induction field must be a sparse field")
        if p.feed not in schema or schema[p.feed].kind == "dense":
            raise ValueError(f"Cartesian pair {p}: the feed field must be a categorical field")
        if pair_field_name(p) in schema:
            raise ValueError(f"the schema already has field {pair_field_name(p)!r}: pairs were added before")
    vocabs: dict[str, Tensor] = {}
    fields = list(schema.fields)
    for p in pairs:
        keys = _keys(data.train, schema, p)
        uniq, counts = torch.unique(keys[keys >= 0], return_counts=True)                 # sorted keys
        vocabs[pair_field_name(p)] = uniq[counts >= min_count]
        fb = schema[p.feed]
        seq = fb.kind in ("multi", "sequence")
        fields.append(Field(pair_field_name(p), "sequence" if seq else "sparse",
                            vocab_size=len(vocabs[pair_field_name(p)]) + FIRST_ID, max_len=fb.max_len if seq else 0))
    new_schema = replace(schema, fields=tuple(fields))

    def encode(batch: Batch) -> Batch:
        sparse, seqs = [batch.sparse], dict(batch.seqs)
        for p in pairs:
            keys, vocab = _keys(batch, schema, p), vocabs[pair_field_name(p)]         # (B, T), (K,)
            pos = torch.searchsorted(vocab, keys).clamp_max(max(len(vocab) - 1, 0))   # (B, T)
            hit = (vocab[pos] == keys) if len(vocab) else torch.zeros_like(keys, dtype=torch.bool)
            ids = torch.where(keys < 0, PAD_ID, torch.where(hit, pos + FIRST_ID, OOV_ID))  # (B, T)
            if new_schema[pair_field_name(p)].kind == "sparse":
                sparse.append(ids)
            else:
                seqs[pair_field_name(p)] = ids
        return Batch(torch.cat(sparse, 1), batch.dense, seqs, batch.label, batch.group)

    info = {**data.info, "cartesian": {k: int(len(v)) for k, v in vocabs.items()}}
    return CTRData(data.name, new_schema, encode(data.train), encode(data.valid), encode(data.test), info)
