"""Field-aware Factorization Machine (FFM): every feature keeps one latent vector per field it meets.

Reference: Y. Juan, Y. Zhuang, W.-S. Chin, C.-J. Lin, "Field-aware Factorization Machines for CTR
Prediction", RecSys 2016 — the ``FFM`` row of the CAN paper's Tables 3 and 4 (CAN ref. [9]).

Equation (Juan et al. Eq. 4, plus the linear part of ctrviz's LR):

    logit = b + Σ_f w_f + Σ_{i<j} ⟨v_{i,f_j}, v_{j,f_i}⟩

FM (Rendle, ``fm.py``) gives field i one vector e_i for all its partners; FFM gives it F of them, and
the pair (i, j) uses the copy of i meant for j's field and the copy of j meant for i's field. Here
``v[b, i, j]`` is ``v_{i,f_j}`` — a (B, F, F, D) tensor — and every pair is read at once with two index
tensors from ``torch.triu_indices`` (no Python loop over pairs). The pair order is row-major,
(0, 1), (0, 2), …, (F-2, F-1), the order of ``itertools.combinations``; :func:`field_pairs` names them.

Embedding layout: one :class:`~ctrviz.nn.FieldEmbedding` of width F·D, viewed as (F, D) per field,
so sparse, sequence/multi (masked sum of the bag's F·D rows) and dense (``x · v``) fields all work and
fields that share a vocabulary (``item``, ``hist_item``) share rows. The slot a field keeps for its
own field (``v[b, i, i]``) is never read by FFM: a 1/F share of the table sits idle, the price of that
sharing (a shared row's slot j means "toward field j" for every field that reads it).

Deviations from the paper: Juan et al.'s φ_FFM has no linear term (``FFMConfig.linear=False``
reproduces that); a sequence/multi field is one field with a pooled vector; no per-instance
normalisation; trained with the trainer's optimizer instead of AdaGrad.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn.config import Config
from ctrviz.nn.linear import Linear
from ctrviz.nn.pairs import FieldAwareEmbedding, check_pairwise, ffm_products, field_pairs


@dataclass(frozen=True)
class FFMConfig(Config):
    """Args: embed_dim D of each field-aware vector (Juan et al. use k = 4); linear: add LR's
    per-id weights and bias; pooling of sequence fields."""

    embed_dim: int = 4
    linear: bool = True
    pooling: Literal["sum", "mean"] = "sum"


@register("ffm", FFMConfig, "field-aware FM: a vector per (feature, partner field)", "Juan et al., RecSys 2016")
class FFM(nn.Module):
    """Field-aware Factorization Machine.

    Args:
        schema: the dataset's fields (at least two).
        config: :class:`FFMConfig`.

    Shape:
        Batch of B rows → logits (B,)

    Example:
        >>> import torch
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=3), Field("b", "sparse", vocab_size=3)))
        >>> m = FFM(s, FFMConfig(embed_dim=1, linear=False))
        >>> with torch.no_grad():      # rows: id × (toward a, toward b); a=2 meets b=2: v_{a,f_b}·v_{b,f_a}
        ...     m.embedding.embedding.table.weight[:] = torch.tensor([[0., 0], [0, 0], [0, 3], [0, 0],
        ...                                                           [0, 0], [5, 0]])
        >>> m(Batch(torch.tensor([[2, 2]]), torch.zeros(1, 0), {}, torch.ones(1))).tolist()
        [15.0]
    """

    def __init__(self, schema: Schema, config: FFMConfig) -> None:
        super().__init__()
        check_pairwise(schema, config.embed_dim, "FFMConfig")
        self.config = config
        self.linear = Linear(schema, config.pooling) if config.linear else None
        self.embedding = FieldAwareEmbedding(schema, config.embed_dim, pooling=config.pooling)

    def pair_names(self) -> tuple[tuple[str, str], ...]:
        """Names of the P field pairs, in the order of :meth:`interactions`' columns."""
        return field_pairs(self.embedding.field_names())

    def interactions(self, batch: Batch) -> Tensor:
        """The pairwise terms ⟨v_{i,f_j}, v_{j,f_i}⟩ (B, P) — the logit is their sum plus the linear part."""
        return ffm_products(self.embedding(batch)).sum(-1)           # (B, F, F, D) → (B, P, D) → (B, P)

    def forward(self, batch: Batch) -> Tensor:
        logit = self.interactions(batch).sum(1)                        # (B, P) → (B,)
        return logit if self.linear is None else logit + self.linear(batch)  # (B,)
