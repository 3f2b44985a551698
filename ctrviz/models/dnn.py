"""DNN — "Embedding & MLP", the base model of the CAN paper (CAN Sec. 3, Eq. 1; Sec. 5.1).

Reference: G. Zhou et al., "CAN: Feature Co-Action Network for Click-Through Rate Prediction"
(Alibaba), and the DIN/DIEN base model it follows (Zhou et al., KDD 2018 / AAAI 2019).

Equation (CAN Eq. 1 without the co-action features):

    ŷ = DNN( E(u_1), …, E(u_I), E(m_1), …, E(m_J) )

Every field is embedded (sequence/multi fields sum-pooled over their real positions), the F
embeddings are concatenated to an F·D vector and passed through the MLP. The CAN paper's head is
"a three-layer MLP with layers 200 × 80 × 2" (Sec. 5.1): hidden 200 and 80, then the output.

Deviations from the paper: one logit with a sigmoid instead of a 2-way softmax (the same model,
half the output weights); PReLU activations as in the DIEN/CAN TensorFlow code.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import MLP, FieldEmbedding
from ctrviz.nn.config import DeepConfig


@dataclass(frozen=True)
class DNNConfig(DeepConfig):
    """:class:`~ctrviz.nn.mlp.DeepConfig`: embed_dim D; hidden widths of the head (CAN: 200 × 80); activation;
    dropout; batch_norm; pooling of sequence fields (CAN: sum)."""


@register("dnn", DNNConfig, "Embedding & MLP (CAN's base model, 200×80 head)", "Zhou et al., CAN Sec. 3, 5.1")
class DNN(nn.Module):
    """Embedding & MLP.

    Args:
        schema: the dataset's fields.
        config: :class:`DNNConfig`.

    Shape:
        Batch of B rows → logits (B,)

    Example:
        >>> import torch
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("x", "dense")))
        >>> m = DNN(s, DNNConfig(embed_dim=4, hidden=(8,)))
        >>> m(Batch(torch.tensor([[2], [3]]), torch.ones(2, 1), {}, torch.zeros(2))).shape
        torch.Size([2])
    """

    def __init__(self, schema: Schema, config: DNNConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)
        self.mlp = MLP(self.embedding.num_fields * config.embed_dim, tuple(config.hidden), config.activation,
                       config.dropout, config.batch_norm, out_dim=1)

    def forward(self, batch: Batch) -> Tensor:
        e = self.embedding(batch)               # (B, F, D)
        return self.mlp(e.flatten(1)).squeeze(-1)  # (B, F·D) → (B, 1) → (B,)
