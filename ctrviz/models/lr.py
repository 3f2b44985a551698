"""Logistic regression on one-hot fields — the linear baseline of every CTR paper.

Reference: H. B. McMahan et al., "Ad Click Prediction: a View from the Trenches", KDD 2013 (the
industrial LR); used as the ``LR`` row of the AOANet paper's Table 3.

Equation: ``logit = b + Σ_f w_f[x_f] + Σ_q Σ_{t ∈ real(q)} w_q[x_{q,t}] + Σ_d w_d · x_d``
— one weight per categorical id (sequence/multi fields: the sum of their ids' weights), one per dense
field, and a bias.

Deviations from the paper: none (no FTRL; trained with the trainer's optimizer like every model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import FieldEmbedding


@dataclass(frozen=True)
class LRConfig:
    """Args: pooling of sequence/multi fields (``"sum"`` keeps LR a plain bag-of-ids model)."""

    pooling: Literal["sum", "mean"] = "sum"


@register("lr", LRConfig, "logistic regression on one-hot ids", "McMahan et al., KDD 2013")
class LR(nn.Module):
    """Logistic regression: a weight per id and per dense field, plus a bias.

    Args:
        schema: the dataset's fields.
        config: :class:`LRConfig`.

    Shape:
        Batch of B rows → logits (B,)

    Example:
        >>> from ctrviz.data.schema import Field
        >>> m = LR(Schema((Field("a", "sparse", vocab_size=4),)), LRConfig())
        >>> with torch.no_grad():
        ...     m.weights.table.weight[:] = torch.tensor([[0.], [0.], [1.], [2.]])
        >>> m(Batch(torch.tensor([[2], [3]]), torch.zeros(2, 0), {}, torch.zeros(2))).tolist()
        [1.0, 2.0]
    """

    def __init__(self, schema: Schema, config: LRConfig) -> None:
        super().__init__()
        self.config = config
        self.weights = FieldEmbedding(schema, dim=1, pooling=config.pooling, init_std=0.0)
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, batch: Batch) -> Tensor:
        w = self.weights(batch)                  # (B, F, 1)
        return w.sum((1, 2)) + self.bias         # (B,)
