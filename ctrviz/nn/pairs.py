"""Pairs of fields: their enumeration, the checks of pairwise models, and the products they take.

Every pairwise model here (FM, FFM, FwFM, AFM, NFM, PNN, ONN, DeepFM, DeepFFM, xDeepFM, AutoInt) reads
its pairs i < j in one order, row-major (0, 1), (0, 2), …, (F-2, F-1) — ``torch.triu_indices``, the order of
``itertools.combinations`` — and :func:`field_pairs` names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.nn.embedding import FieldEmbedding


def field_pairs(names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """The P = F(F-1)/2 field pairs in the order every pairwise layer here uses (``torch.triu_indices``).

    Example:
        >>> field_pairs(["a", "b", "c"])
        (('a', 'b'), ('a', 'c'), ('b', 'c'))
    """
    rows, cols = torch.triu_indices(len(names), len(names), 1).tolist()
    return tuple((names[i], names[j]) for i, j in zip(rows, cols, strict=True))


def check_pairwise(schema: Schema, embed_dim: int, model: str) -> None:
    """Shared config checks of the pairwise models: D >= 1 and at least two fields to pair."""
    if embed_dim < 1:
        raise ValueError(f"{model}.embed_dim must be >= 1, got {embed_dim}")
    if len(schema.fields) < 2:
        raise ValueError(f"{model} crosses pairs of fields and needs at least 2 fields, "
                         f"the schema has {len(schema.fields)}")


def fm_interaction(e: Tensor) -> Tensor:
    """Σ_{i<j} ⟨e_i, e_j⟩ for field embeddings ``e`` (B, F, D) → (B,), in O(F·D).

    Example:
        >>> import torch
        >>> e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])
        >>> fm_interaction(e).item()   # 1·3+2·4 + 1·5+2·6 + 3·5+4·6 = 11 + 17 + 39
        67.0
    """
    square_of_sum = e.sum(1).pow(2)          # (B, D)
    sum_of_square = e.pow(2).sum(1)          # (B, D)
    return 0.5 * (square_of_sum - sum_of_square).sum(1)  # (B,)


def inner_product_layer(e: Tensor) -> Tensor:
    """IPNN's p: ⟨f_i, f_j⟩ for every pair i < j. (B, F, D) → (B, P).

    Example:
        >>> e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])
        >>> inner_product_layer(e).tolist()           # (0,1), (0,2), (1,2)
        [[11.0, 17.0, 39.0]]
    """
    F = e.shape[1]
    rows, cols = torch.triu_indices(F, F, 1, device=e.device)   # (P,), (P,)
    # gram[b, i, j] = Σ_d e[b, i, d] · e[b, j, d]
    gram = torch.einsum("bid,bjd->bij", e, e)                     # (B, F, F)
    return gram[:, rows, cols]                                    # (B, P)


def ffm_products(v: Tensor) -> Tensor:
    """The FFM interaction vectors ``v_{i,f_j} ⊙ v_{j,f_i}`` of every pair i < j.

    Args:
        v: (B, F, F, D) field-aware embeddings, ``v[b, i, j] = v_{i,f_j}``.

    Shape:
        (B, F, F, D) → (B, P, D), P = F(F-1)/2 in :func:`field_pairs` order. ``.sum(-1)`` gives the
        FFM inner products ⟨v_{i,f_j}, v_{j,f_i}⟩ (B, P).

    Example:
        >>> v = torch.zeros(1, 2, 2, 1)
        >>> v[0, 0, 1], v[0, 1, 0] = 3.0, 5.0        # v_{0,f_1} = 3, v_{1,f_0} = 5
        >>> ffm_products(v).tolist()
        [[[15.0]]]
    """
    F = v.shape[1]
    rows, cols = torch.triu_indices(F, F, 1, device=v.device)   # (P,), (P,)
    return v[:, rows, cols] * v[:, cols, rows]                    # (B, P, D)


class FieldAwareEmbedding(nn.Module):
    """Every field → F vectors of width D, one per field it can meet: (B, F, F, D).

    Args:
        schema: the dataset's fields.
        dim: D, the width of each field-aware vector.
        pooling: pooling of sequence/multi fields (``"sum"`` or ``"mean"``).
        init_std: std of the Gaussian initialisation.

    Shape:
        Batch of B rows → (B, F, F, D), ``out[b, i, j] = v_{i,f_j}``; fields in
        :meth:`FieldEmbedding.field_names` order (sparse, sequence/multi, dense).

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=3), Field("b", "sparse", vocab_size=4)))
        >>> FieldAwareEmbedding(s, dim=2)(Batch(torch.tensor([[2, 3]]), torch.zeros(1, 0), {}, torch.ones(1))).shape
        torch.Size([1, 2, 2, 2])
    """

    def __init__(self, schema: Schema, dim: int, pooling: Literal["sum", "mean"] = "sum",
                 init_std: float = 0.01) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"FieldAwareEmbedding.dim must be >= 1, got {dim}")
        self.num_fields, self.dim = len(schema.fields), dim
        self.embedding = FieldEmbedding(schema, self.num_fields * dim, pooling=pooling, init_std=init_std)

    def field_names(self) -> tuple[str, ...]:
        return self.embedding.field_names()

    def forward(self, batch: Batch) -> Tensor:
        flat = self.embedding(batch)                                    # (B, F, F·D)
        return flat.unflatten(-1, (self.num_fields, self.dim))          # (B, F, F, D)
