"""Neural Factorization Machine (NFM): Bi-interaction pooling of the pair-wise Hadamard products → MLP.

Reference: X. He, T.-S. Chua, "Neural Factorization Machines for Sparse Predictive Analytics", SIGIR 2017
(arXiv:1708.05027). Not a row of AOANet's Table 3, but AOANet's Table 1 and Lemma A.2 name it as the
Hadamard-product case of the generalized interaction ``Z = (e_i ⊗ e_j) ⊙ W``: with W = diag(1, …, 1) and
fusion O = [Z_11, …, Z_dd]ᵀ, O = e_i ⊙ e_j, and "Σ Z plays the role of output vector of Bi-Interaction
Layer in NFM, and h and following output layer models non-linear feature interaction" (Sec. 3.4).

Equations (He & Chua; e_f the embedding of field f):

    f_BI  = Σ_{i<j} e_i ⊙ e_j = ½ [ (Σ_f e_f)² − Σ_f e_f² ]        Bi-interaction pooling, (B, D), O(F·D)
    logit = b + Σ_f w_f + MLP(f_BI)                                  hidden layers, then hᵀ(·) + c

:func:`bi_interaction` is f_BI (its ``.sum(-1)`` is FM's pairwise sum, :func:`~ctrviz.nn.pairs.fm_interaction`;
it equals ``pair_products(e).sum(1)`` of ``afm.py`` without forming the P pairs). With ``hidden=()`` the MLP is
the single projection hᵀ f_BI + c — He & Chua's NFM-0, which is FM when h = 1, c = 0.

Defaults (AOANet Sec. 4.1): D = 16, MLP 512-256-64 ReLU on f_BI (AOANet's shared deep component; here it is
NFM's own network, as in the paper, not a second branch).

Deviations from the paper: AOANet's 512-256-64 instead of He & Chua's single hidden layer; their BatchNorm on
f_BI is a switch (``input_norm``, off by default) and there is no dropout on f_BI (``dropout`` acts on the
hidden layers); the MLP's output bias c sits next to LR's bias; sequence/multi fields are one pooled field
each, so no pair lies inside a field.
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
from ctrviz.nn.pairs import check_pairwise


def bi_interaction(e: Tensor) -> Tensor:
    """NFM's Bi-interaction pooling Σ_{i<j} e_i ⊙ e_j = ½[(Σ_f e_f)² − Σ_f e_f²]: (B, F, D) → (B, D).

    Example:
        >>> import torch
        >>> e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])
        >>> bi_interaction(e).tolist()        # [3, 8] + [5, 12] + [15, 24]
        [[23.0, 44.0]]
    """
    square_of_sum = e.sum(1).pow(2)                              # (B, D)
    sum_of_square = e.pow(2).sum(1)                              # (B, D)
    return 0.5 * (square_of_sum - sum_of_square)                 # (B, D)


@dataclass(frozen=True)
class NFMConfig(DeepConfig):
    """:class:`~ctrviz.nn.config.DeepConfig`'s fields with AOANet's defaults: embed_dim D = 16; hidden widths
    512-256-64 (``()``: NFM-0), ReLU, dropout and batch_norm of the MLP on f_BI; pooling; plus ``input_norm``:
    BatchNorm1d on f_BI (He & Chua)."""

    hidden: tuple[int, ...] = (512, 256, 64)
    activation: Activation = "relu"
    input_norm: bool = False


@register("nfm", NFMConfig, "Bi-interaction pooling Σ e_i ⊙ e_j → MLP, + linear", "He & Chua, SIGIR 2017")
class NFM(nn.Module):
    """NFM: LR + MLP(Σ_{i<j} e_i ⊙ e_j).

    Args:
        schema: the dataset's fields (at least two).
        config: :class:`NFMConfig`.

    Attributes:
        linear: :class:`~ctrviz.nn.linear.Linear`. embedding: :class:`~ctrviz.nn.FieldEmbedding` (B, F, D).
        input_norm: BatchNorm1d(D) or identity. mlp: the network on f_BI, reading (B, D), one logit out.

    Shape:
        Batch of B rows → logits (B,); :meth:`pooled` → (B, D).

    Example:
        >>> import torch
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=4)))
        >>> m = NFM(s, NFMConfig(embed_dim=3, hidden=(8,)))
        >>> m.mlp.net[0].in_features                    # the MLP reads f_BI, width D
        3
        >>> m(Batch(torch.tensor([[2, 3]]), torch.zeros(1, 0), {}, torch.ones(1))).shape
        torch.Size([1])
    """

    def __init__(self, schema: Schema, config: NFMConfig) -> None:
        super().__init__()
        check_pairwise(schema, config.embed_dim, type(config).__name__)
        self.config = config
        self.linear = Linear(schema, config.pooling)
        self.embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)
        self.input_norm = nn.BatchNorm1d(config.embed_dim) if config.input_norm else nn.Identity()
        self.mlp = MLP(config.embed_dim, tuple(config.hidden), config.activation, config.dropout,
                       config.batch_norm, out_dim=1)

    def pooled(self, batch: Batch) -> Tensor:
        """The Bi-interaction vector f_BI of every row: (B, D)."""
        return bi_interaction(self.embedding(batch))               # (B, F, D) → (B, D)

    def forward(self, batch: Batch) -> Tensor:
        f_bi = self.input_norm(self.pooled(batch))                 # (B, D)
        return self.linear(batch) + self.mlp(f_bi).squeeze(-1)     # (B, 1) → (B,)
