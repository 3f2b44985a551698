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

from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn.config import Config
from ctrviz.nn.linear import Linear


@dataclass(frozen=True)
class LRConfig(Config):
    """Args: pooling of sequence/multi fields (``"sum"`` keeps LR a plain bag-of-ids model)."""

    pooling: Literal["sum", "mean"] = "sum"


@register("lr", LRConfig, "logistic regression on one-hot ids", "McMahan et al., KDD 2013")
class LR(Linear):
    """Logistic regression: :class:`ctrviz.nn.linear.Linear` (a weight per id and per dense field, plus a bias)
    as a registered model.

    Args:
        schema: the dataset's fields.
        config: :class:`LRConfig`.

    Shape:
        Batch of B rows → logits (B,)
    """

    def __init__(self, schema: Schema, config: LRConfig) -> None:
        super().__init__(schema, config.pooling)
        self.config = config
