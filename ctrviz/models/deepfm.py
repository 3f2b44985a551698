"""DeepFM: a Factorization Machine and a DNN that read the same field embeddings, logits summed.

Reference: H. Guo, R. Tang, Y. Ye, Z. Li, X. He, "DeepFM: A Factorization-Machine based Neural Network for
CTR Prediction", IJCAI 2017 (arXiv:1703.04247). The ``DeepFM`` row of the AOANet paper's Table 3 (AOANet
ref. [3]); AOANet's Table 1 / Lemma A.1 write its FM part as the generalized interaction
``Z = (e_i ⊗ e_j) ⊙ W`` with W = diag(1, …, 1) and fusion O = Σ_k Z_kk = ⟨e_i, e_j⟩ (Table 2's
"deepFM, IPNN" row: h = α = [1, …, 1]ᵀ).

Equations (Guo et al. Sec. 2.1; e_f the embedding of field f, shared by both parts):

    ŷ      = σ(y_FM + y_DNN)
    y_FM   = b + Σ_f w_f + Σ_{i<j} ⟨e_i, e_j⟩                 (= ctrviz's ``FM``: LR + fm_interaction)
    y_DNN  = MLP([e_1; …; e_F])                                 a^(0) = the concatenated embeddings, (B, F·D)

Both parts are reused, not re-derived: the linear part is :class:`~ctrviz.nn.linear.Linear`, the pairwise sum
is :func:`~ctrviz.nn.pairs.fm_interaction` (Rendle's O(F·D) square-of-sum form), the head is
:class:`~ctrviz.nn.MLP`. :meth:`DeepFM.parts` returns the three logit terms separately.

Defaults (AOANet Sec. 4.1): D = 16, deep part 512-256-64 ReLU ("Deep component also stays same for all
models"), no dropout.

Deviations from the paper: AOANet's head instead of Guo et al.'s 200-200-200 ReLU with dropout 0.5; the
MLP's output layer has its own bias next to LR's (two intercepts, one model); sequence/multi fields enter
as one pooled vector each (as in ``fm.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import MLP, FieldEmbedding
from ctrviz.nn.config import DeepConfig
from ctrviz.nn.linear import Linear
from ctrviz.nn.mlp import Activation
from ctrviz.nn.pairs import check_pairwise, fm_interaction


@dataclass(frozen=True)
class DeepFMConfig(DeepConfig):
    """:class:`~ctrviz.nn.config.DeepConfig`'s fields with AOANet's defaults: embed_dim D = 16; hidden widths
    512-256-64, ReLU, dropout and batch_norm of the deep part; pooling of sequence fields."""

    hidden: tuple[int, ...] = (512, 256, 64)
    activation: Activation = "relu"


@register("deepfm", DeepFMConfig, "FM + DNN on shared embeddings, logits summed", "Guo et al., IJCAI 2017")
class DeepFM(nn.Module):
    """DeepFM: LR + Σ_{i<j} ⟨e_i, e_j⟩ + MLP(e_1 ⊕ … ⊕ e_F), one embedding table for both parts.

    Args:
        schema: the dataset's fields (at least two).
        config: :class:`DeepFMConfig`.

    Attributes:
        linear: the :class:`~ctrviz.nn.linear.Linear` part (b + Σ_f w_f).
        embedding: the shared :class:`~ctrviz.nn.FieldEmbedding`, (B, F, D).
        mlp: the deep part, reading (B, F·D), ending in one logit.

    Shape:
        Batch of B rows → logits (B,)

    Example:
        >>> import torch
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=4)))
        >>> m = DeepFM(s, DeepFMConfig(embed_dim=3, hidden=(8,)))
        >>> m.mlp.net[0].in_features                    # F·D = 2·3
        6
        >>> b = Batch(torch.tensor([[2, 3], [3, 2]]), torch.zeros(2, 0), {}, torch.ones(2))
        >>> linear, fm, deep = m.parts(b)
        >>> torch.allclose(m(b), linear + fm + deep)
        True
    """

    def __init__(self, schema: Schema, config: DeepFMConfig) -> None:
        super().__init__()
        check_pairwise(schema, config.embed_dim, type(config).__name__)
        self.config = config
        self.linear = Linear(schema, config.pooling)
        self.embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)
        self.mlp = MLP(self.embedding.num_fields * config.embed_dim, tuple(config.hidden), config.activation,
                       config.dropout, config.batch_norm, out_dim=1)

    def parts(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """The three logit terms, each (B,): linear b + Σ_f w_f, FM Σ_{i<j} ⟨e_i, e_j⟩, and the DNN's."""
        e = self.embedding(batch)                                   # (B, F, D)
        deep = self.mlp(e.flatten(1)).squeeze(-1)                   # (B, F·D) → (B, 1) → (B,)
        return self.linear(batch), fm_interaction(e), deep          # (B,), (B,), (B,)

    def forward(self, batch: Batch) -> Tensor:
        linear, fm, deep = self.parts(batch)                        # (B,) each
        return linear + fm + deep                                   # (B,)
