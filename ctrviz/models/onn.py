"""ONN (a.k.a. NFFM): Operation-aware Neural Network — one embedding per (feature, operation).

Reference: Y. Yang, B. Xu, F. Shen, J. Zhao, "Operation-aware Neural Networks for User Response
Prediction", arXiv:1904.12579 (2019; Neural Networks 2020) — the ``ONN`` row of the CAN paper's
Tables 3–4 (CAN ref. [25]), the strongest non-sequential baseline there.

Idea: a shared embedding must serve every operation it enters — being copied into the MLP, and an
inner product with each other field — and the best representation may differ per operation. ONN gives
each feature F representations: one for the *copy* operation and one for its inner product with each
of the F-1 other fields (FFM's field-aware vectors, ``ffm.py``).

Equations (Yang et al. Sec. 3, with v_{i,f_j} the representation of field i for its product with j):

    f   = [e_1^copy; …; e_F^copy;  p_{1,2}; …; p_{F-1,F}]       p_ij = ⟨v_{i,f_j}, v_{j,f_i}⟩
    ŷ   = σ(MLP(BN(f)))                                            f: (B, F·D + P)

``product="hadamard"`` keeps the vectors ``v_{i,f_j} ⊙ v_{j,f_i}`` instead (f: (B, F·D + P·D)), the
NFFM competition variant (and DeepCTR's ``ONN(reduce_sum=False)`` default).

Layout: the copy representations are a :class:`~ctrviz.nn.FieldEmbedding` of width D, the product
ones a :class:`~ctrviz.nn.pairs.FieldAwareEmbedding` of width F·D (its own-field slot unused);
sequence/multi fields are pooled (masked sum) per operation, dense fields are ``x · v`` per operation.

Deviations from the paper: the MLP is CAN's 200 × 80 PReLU head (every CAN baseline shares it);
BatchNorm on the operation layer's output is a switch (``input_norm``, on by default, as DeepCTR's
``use_bn=True``); sequence/multi fields count as one field each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import MLP, FieldEmbedding
from ctrviz.nn.config import Config
from ctrviz.nn.mlp import Activation
from ctrviz.nn.pairs import FieldAwareEmbedding, check_pairwise, ffm_products, field_pairs


@dataclass(frozen=True)
class ONNConfig(Config):
    """Args: embed_dim D of every operation's representation; product ``"inner"`` (ONN) or
    ``"hadamard"`` (NFFM); hidden, activation, dropout, batch_norm of the MLP (CAN: 200 × 80 PReLU);
    input_norm: BatchNorm1d on the operation layer's output; pooling of sequence fields."""

    embed_dim: int = 4
    product: Literal["inner", "hadamard"] = "inner"
    hidden: tuple[int, ...] = (200, 80)
    activation: Activation = "prelu"
    dropout: float = 0.0
    batch_norm: bool = False
    input_norm: bool = True
    pooling: Literal["sum", "mean"] = "sum"

    def __post_init__(self) -> None:
        if self.product not in ("inner", "hadamard"):
            raise ValueError(f"ONNConfig.product must be 'inner' or 'hadamard', got {self.product!r}")
        super().__post_init__()


@register("onn", ONNConfig, "operation-aware embeddings: copy + field-aware products → MLP",
          "Yang et al., arXiv:1904.12579, 2019")
class ONN(nn.Module):
    """Operation-aware Neural Network.

    Args:
        schema: the dataset's fields (at least two).
        config: :class:`ONNConfig`.

    Shape:
        Batch of B rows → logits (B,); the MLP reads (B, F·D + P) (``"hadamard"``: (B, F·D + P·D)).

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=4),
        ...             Field("c", "sparse", vocab_size=4)))
        >>> m = ONN(s, ONNConfig(embed_dim=2, hidden=(8,)))
        >>> m.mlp.net[0].in_features            # F·D + P = 3·2 + 3
        9
        >>> m.eval()(Batch(torch.tensor([[2, 3, 2]]), torch.zeros(1, 0), {}, torch.ones(1))).shape
        torch.Size([1])
    """

    def __init__(self, schema: Schema, config: ONNConfig) -> None:
        super().__init__()
        check_pairwise(schema, config.embed_dim, "ONNConfig")
        self.config = config
        self.copy_embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)
        self.product_embedding = FieldAwareEmbedding(schema, config.embed_dim, pooling=config.pooling)
        F, D = self.copy_embedding.num_fields, config.embed_dim
        width = F * D + F * (F - 1) // 2 * (1 if config.product == "inner" else D)
        self.input_norm = nn.BatchNorm1d(width) if config.input_norm else nn.Identity()
        self.mlp = MLP(width, tuple(config.hidden), config.activation, config.dropout, config.batch_norm, out_dim=1)

    def pair_names(self) -> tuple[tuple[str, str], ...]:
        """Names of the P field pairs, in the order of :meth:`operations`' product columns."""
        return field_pairs(self.copy_embedding.field_names())

    def operations(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The operation layer's two parts: copies (B, F, D) and products (B, P) or (B, P, D) (hadamard)."""
        copies = self.copy_embedding(batch)                                 # (B, F, D)
        z = ffm_products(self.product_embedding(batch))                     # (B, F, F, D) → (B, P, D)
        return copies, (z.sum(-1) if self.config.product == "inner" else z)  # (B, P) or (B, P, D)

    def forward(self, batch: Batch) -> Tensor:
        copies, products = self.operations(batch)                           # (B, F, D), (B, P[, D])
        f = torch.cat([copies.flatten(1), products.flatten(1)], 1)         # (B, F·D + P[·D])
        return self.mlp(self.input_norm(f)).squeeze(-1)                     # (B, 1) → (B,)
