"""Field embeddings: every field of a :class:`~ctrviz.data.schema.Schema` → one D-dim vector per row.

One table holds the rows of every vocabulary back to back (an offset per vocabulary), so all sparse
fields are embedded by one gather and all sequence/multi fields by another; fields that share a
vocabulary (``item`` and ``hist_item``) share rows. Sequence and multi fields are pooled over their
real (non-padding) positions with a segment matrix — one einsum, no Python loop over fields. Dense
fields become ``x · v_f`` (a learned vector per field scaled by the value), the usual FM/DeepFM choice.

Output field order: sparse fields, then sequence/multi fields, then dense fields (schema order
within each group), as listed by :meth:`FieldEmbedding.field_names`.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import PAD_ID, Schema


class FieldEmbedding(nn.Module):
    """Embed every field of ``schema`` to (B, F, D).

    Args:
        schema: the dataset's fields.
        dim: D, the embedding width.
        pooling: ``"sum"`` (CAN/DIEN's base model) or ``"mean"`` over real positions of a sequence.
        init_std: std of the Gaussian initialisation (CAN Sec. 5.1 uses 0.01).

    Shape:
        - input: a :class:`Batch` with ``sparse`` (B, F_s), ``seqs[name]`` (B, T), ``dense`` (B, F_d)
        - output of :meth:`forward`: (B, F, D) with F = F_s + F_q + F_d

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("item", "sparse", vocab_size=5),
        ...             Field("hist", "sequence", vocab="item", vocab_size=5, max_len=3)))
        >>> emb = FieldEmbedding(s, dim=2)
        >>> b = Batch(torch.tensor([[2]]), torch.zeros(1, 0), {"hist": torch.tensor([[2, 3, 0]])}, torch.ones(1))
        >>> out = emb(b)
        >>> out.shape
        torch.Size([1, 2, 2])
        >>> torch.allclose(out[0, 1], emb.table.weight[2] + emb.table.weight[3])  # sum of real positions
        True
    """

    def __init__(self, schema: Schema, dim: int, pooling: Literal["sum", "mean"] = "sum",
                 init_std: float = 0.01) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"FieldEmbedding.dim must be >= 1, got {dim}")
        if pooling not in ("sum", "mean"):
            raise ValueError(f"FieldEmbedding.pooling must be 'sum' or 'mean', got {pooling!r}")
        self.schema, self.dim, self.pooling = schema, dim, pooling
        offsets, total = {}, 0
        for table, size in schema.vocab_sizes.items():
            offsets[table] = total
            total += size
        self.table_offsets = offsets
        self.table = nn.Embedding(max(total, 1), dim)
        nn.init.normal_(self.table.weight, std=init_std)
        self.register_buffer("sparse_offsets",
                             torch.tensor([offsets[schema[n].table] for n in schema.sparse_names], dtype=torch.long),
                             persistent=False)
        seq = schema.seq_names
        lens = [schema[n].max_len for n in seq]
        self.register_buffer("seq_offsets", torch.tensor(
            [offsets[schema[n].table] for n, t in zip(seq, lens, strict=True) for _ in range(t)], dtype=torch.long),
            persistent=False)
        # segment[q, t] = 1 where position t of the concatenated sequences belongs to field q
        segment = torch.zeros(len(seq), sum(lens))
        for q, start in enumerate(torch.tensor([0, *lens]).cumsum(0)[:-1].tolist()):
            segment[q, start:start + lens[q]] = 1.0
        self.register_buffer("segment", segment, persistent=False)
        self.dense_weight = nn.Parameter(torch.randn(len(schema.dense_names), dim) * init_std)

    def field_names(self) -> tuple[str, ...]:
        """Names of the F output fields, in output order."""
        return self.schema.sparse_names + self.schema.seq_names + self.schema.dense_names

    @property
    def num_fields(self) -> int:
        return len(self.field_names())

    def sparse(self, ids: Tensor) -> Tensor:
        """(B, F_s) ids → (B, F_s, D)."""
        return self.table(ids + self.sparse_offsets)  # (B, F_s, D)

    def lookup(self, name: str, ids: Tensor) -> Tensor:
        """Ids of field ``name``'s vocabulary, any shape (...,) → (..., D). Padding is not zeroed."""
        return self.table(ids + self.table_offsets[self.schema[name].table])

    def sequences(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """All multi/sequence fields, unpooled: embeddings (B, ΣT, D) and mask (B, ΣT), concatenated."""
        ids = torch.cat([batch.seqs[n] for n in self.schema.seq_names], 1)  # (B, ΣT)
        mask = ids != PAD_ID                                                   # (B, ΣT)
        return self.table(ids + self.seq_offsets), mask                        # (B, ΣT, D)

    def pooled(self, batch: Batch) -> Tensor:
        """Multi/sequence fields pooled over their real positions: (B, F_q, D); empty lists → 0."""
        emb, mask = self.sequences(batch)                                  # (B, ΣT, D), (B, ΣT)
        emb = emb * mask.unsqueeze(-1).to(emb.dtype)                       # (B, ΣT, D) padding zeroed
        # b: batch, t: concatenated position, q: sequence field, d: embedding
        pooled = torch.einsum("btd,qt->bqd", emb, self.segment.to(emb.dtype))  # (B, F_q, D)
        if self.pooling == "mean":
            counts = mask.to(emb.dtype) @ self.segment.to(emb.dtype).T     # (B, F_q)
            pooled = pooled / counts.clamp_min(1.0).unsqueeze(-1)          # (B, F_q, D)
        return pooled

    def forward(self, batch: Batch) -> Tensor:
        """Every field as one vector: (B, F, D)."""
        parts = [self.sparse(batch.sparse)]                                # (B, F_s, D)
        if self.schema.seq_names:
            parts.append(self.pooled(batch))                               # (B, F_q, D)
        if self.schema.dense_names:
            parts.append(batch.dense.unsqueeze(-1) * self.dense_weight)    # (B, F_d, D)
        return torch.cat(parts, 1)                                         # (B, F, D)
