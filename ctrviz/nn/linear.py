"""The linear part of a CTR model: one weight per categorical id and per dense field, plus a bias.

``logit = b + Σ_f w_f[x_f] + Σ_q Σ_{t ∈ real(q)} w_q[x_{q,t}] + Σ_d w_d · x_d`` — logistic regression on one-hot
ids (:class:`~ctrviz.models.lr.LR` is this module as a model), and the first-order term of FM, FFM, FwFM, AFM,
NFM, DeepFM, DeepFFM and xDeepFM. Weights start at zero.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.nn.embedding import FieldEmbedding


class Linear(nn.Module):
    """A weight per id and per dense field, plus a bias.

    Args:
        schema: the dataset's fields.
        pooling: pooling of sequence/multi fields (``"sum"`` keeps it a plain bag-of-ids model).

    Shape:
        Batch of B rows → logits (B,)

    Example:
        >>> from ctrviz.data.schema import Field
        >>> m = Linear(Schema((Field("a", "sparse", vocab_size=4),)))
        >>> with torch.no_grad():
        ...     m.weights.table.weight[:] = torch.tensor([[0.], [0.], [1.], [2.]])
        >>> m(Batch(torch.tensor([[2], [3]]), torch.zeros(2, 0), {}, torch.zeros(2))).tolist()
        [1.0, 2.0]
    """

    def __init__(self, schema: Schema, pooling: Literal["sum", "mean"] = "sum") -> None:
        super().__init__()
        self.weights = FieldEmbedding(schema, dim=1, pooling=pooling, init_std=0.0)
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, batch: Batch) -> Tensor:
        w = self.weights(batch)                  # (B, F, 1)
        return w.sum((1, 2)) + self.bias         # (B,)
