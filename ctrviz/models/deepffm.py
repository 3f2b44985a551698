"""DeepFFM: FFM plus a DNN fed by FFM's field-aware interaction vectors.

References: the CAN paper lists "FFM & DeepFFM [9]" (CAN Sec. 5.1, Tables 3–4) with one citation,
Juan et al.'s FFM, and one sentence: "DeepFFM appends a DNN term to incorporate high order combination
information implicitly". The concrete network followed here is L. Zhang, W. Shen, S. Li, G. Pan,
"Field-aware Neural Factorization Machine for Click-Through Rate Prediction" (FNFM, arXiv:1902.09096,
2019): the "Bi-Interaction concatenation" layer keeps every pair's Hadamard vector ``v_{i,f_j} ⊙ v_{j,f_i}``
(concatenated, not summed as NFM would), normalises it with BatchNorm and feeds it to an MLP.
J. Zhang, T. Huang, Z. Zhang's FAT-DeepFFM (arXiv:1905.06336, 2019) calls this network DeepFFM and writes
its output as a linear part plus that DNN; it credits the Nanjing University team whose journal paper
is ONN (Yang et al., ``onn.py``).

Equations (FFM as in ``ffm.py``; P = F(F-1)/2 pairs in ``field_pairs`` order):

    z_p   = v_{i,f_j} ⊙ v_{j,f_i}                       p = (i, j), i < j        (B, P, D)
    logit = b + Σ_f w_f  +  Σ_p 1ᵀ z_p  +  MLP([z_1; …; z_P])
            └ linear ┘     └ FFM term ┘   └ the appended DNN term ┘

With ``ffm_term=False`` this is FNFM / FAT-DeepFFM's DeepFFM exactly (linear + DNN); the default keeps
the FFM sum so the model is literally "FFM with a DNN term appended", as CAN describes it.

Deviations from the paper: the head is CAN's 200 × 80 PReLU MLP (every CAN baseline shares it) instead
of FNFM's tuned one; FNFM's BatchNorm on the concatenated vectors is a switch (``input_norm``) and off
by default (the CAN paper's DNN head has none); sequence/multi fields are pooled, one field each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import MLP
from ctrviz.nn.config import Config
from ctrviz.nn.linear import Linear
from ctrviz.nn.mlp import Activation
from ctrviz.nn.pairs import FieldAwareEmbedding, check_pairwise, ffm_products, field_pairs


@dataclass(frozen=True)
class DeepFFMConfig(Config):
    """Args: embed_dim D of each field-aware vector; hidden widths, activation, dropout and batch_norm
    of the DNN (CAN: 200 × 80, PReLU); input_norm: BatchNorm1d on the P·D interaction vector (FNFM);
    ffm_term: keep FFM's Σ of inner products in the logit; pooling of sequence fields."""

    embed_dim: int = 4
    hidden: tuple[int, ...] = (200, 80)
    activation: Activation = "prelu"
    dropout: float = 0.0
    batch_norm: bool = False
    input_norm: bool = False
    ffm_term: bool = True
    pooling: Literal["sum", "mean"] = "sum"


@register("deepffm", DeepFFMConfig, "FFM + a DNN on the field-aware pair vectors (FNFM)",
          "CAN ref. [9]; Zhang et al., FNFM, 2019")
class DeepFFM(nn.Module):
    """DeepFFM: linear part, FFM term and an MLP over the concatenated FFM interaction vectors.

    Args:
        schema: the dataset's fields (at least two).
        config: :class:`DeepFFMConfig`.

    Shape:
        Batch of B rows → logits (B,); the MLP reads (B, P·D).

    Example:
        >>> import torch
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=4),
        ...             Field("x", "dense")))
        >>> m = DeepFFM(s, DeepFFMConfig(embed_dim=2, hidden=(8,)))
        >>> m.mlp.net[0].in_features            # P·D = 3 pairs × 2
        6
        >>> m(Batch(torch.tensor([[2, 3], [3, 2]]), torch.ones(2, 1), {}, torch.zeros(2))).shape
        torch.Size([2])
    """

    def __init__(self, schema: Schema, config: DeepFFMConfig) -> None:
        super().__init__()
        check_pairwise(schema, config.embed_dim, "DeepFFMConfig")
        self.config = config
        self.linear = Linear(schema, config.pooling)
        self.embedding = FieldAwareEmbedding(schema, config.embed_dim, pooling=config.pooling)
        F = self.embedding.num_fields
        width = F * (F - 1) // 2 * config.embed_dim                          # P·D
        self.input_norm = nn.BatchNorm1d(width) if config.input_norm else nn.Identity()
        self.mlp = MLP(width, tuple(config.hidden), config.activation, config.dropout, config.batch_norm, out_dim=1)

    def pair_names(self) -> tuple[tuple[str, str], ...]:
        """Names of the P field pairs, in the order of :meth:`interactions`' rows."""
        return field_pairs(self.embedding.field_names())

    def interactions(self, batch: Batch) -> Tensor:
        """The FFM interaction vectors ``v_{i,f_j} ⊙ v_{j,f_i}``: (B, P, D)."""
        return ffm_products(self.embedding(batch))                            # (B, F, F, D) → (B, P, D)

    def forward(self, batch: Batch) -> Tensor:
        z = self.interactions(batch)                                          # (B, P, D)
        deep = self.mlp(self.input_norm(z.flatten(1))).squeeze(-1)            # (B, P·D) → (B, 1) → (B,)
        logit = self.linear(batch) + deep                                     # (B,)
        return logit + z.sum((1, 2)) if self.config.ffm_term else logit      # (B,)
