"""Factorization Machine (FM): a linear model plus every pairwise field interaction ⟨v_i, v_j⟩.

Reference: S. Rendle, "Factorization Machines", ICDM 2010. The ``FM`` row of the AOANet paper's
Table 3; the CAN paper's Sec. 4.2 shows a one-layer co-action unit reduces to this inner product.

Equation (Rendle Eq. 1, and the O(FD) rewrite of his Lemma 3.1):

    logit = b + Σ_f w_f + Σ_{i<j} ⟨e_i, e_j⟩
          = b + Σ_f w_f + ½ Σ_d [ (Σ_f e_{f,d})² − Σ_f e_{f,d}² ]

where ``e_f`` is field f's embedding (sparse id; pooled sequence/multi field; ``x_d · v_d`` for a
dense field) and ``w_f`` its linear weight.

Deviations from the paper: a sequence/multi field enters as one pooled vector, so pairs *within*
the same bag (e.g. two genres of one movie) are not crossed — the usual field-level FM of CTR
libraries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import FieldEmbedding
from ctrviz.nn.config import Config
from ctrviz.nn.linear import Linear
from ctrviz.nn.pairs import fm_interaction


@dataclass(frozen=True)
class FMConfig(Config):
    """Args: embed_dim D (AOANet Table 3 setting: 16); pooling of sequence fields."""

    embed_dim: int = 16
    pooling: Literal["sum", "mean"] = "sum"


@register("fm", FMConfig, "factorization machine: linear + all pairwise inner products", "Rendle, ICDM 2010")
class FM(nn.Module):
    """Factorization Machine over all fields.

    Args:
        schema: the dataset's fields.
        config: :class:`FMConfig`.

    Shape:
        Batch of B rows → logits (B,)
    """

    def __init__(self, schema: Schema, config: FMConfig) -> None:
        super().__init__()
        if config.embed_dim < 1:
            raise ValueError(f"FMConfig.embed_dim must be >= 1, got {config.embed_dim}")
        self.config = config
        self.linear = Linear(schema, config.pooling)
        self.embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)

    def forward(self, batch: Batch) -> Tensor:
        e = self.embedding(batch)                        # (B, F, D)
        return self.linear(batch) + fm_interaction(e)    # (B,)
