"""Field-weighted Factorization Machine (FwFM): FM with one learned weight r_ij per field pair.

Reference: J. Pan, J. Xu, A. L. Ruiz, W. Zhao, S. Pan, Y. Sun, Q. Lu, "Field-weighted Factorization Machines
for Click-Through Rate Prediction in Display Advertising", WWW 2018 (arXiv:1806.03514). The ``FwFM`` row of
the AOANet paper's Table 3 (AOANet ref. [11]). AOANet's Table 1 and Lemma A.4: with W = diag(α, …, α) and
fusion O = Σ_k Z_kk the generalized interaction ``Z = (e_i ⊗ e_j) ⊙ W`` is α⟨e_i, e_j⟩ — FwFM's term with
α = r_ij ("FwFM removes the constraints on α", AOANet Sec. 3.4; Table 2: h = [1, …, 1]ᵀ, α free).

Equations (Pan et al.; e_f the embedding of field f, P = F(F-1)/2 pairs in ``field_pairs`` order):

    y_FwFM = b + Σ_f w_f + Σ_{i<j} r_ij ⟨e_i, e_j⟩           r ∈ R^P, one weight per *field* pair
    logit  = y_FwFM + MLP([e_1; …; e_F])                      (the deep part, ``FwFMConfig.deep``)

FM (``fm.py``) is FwFM with r = 1; FFM (``ffm.py``) spends F·D weights per feature to model the same
field-pair effects that FwFM gets from P scalars. :func:`fwfm_interaction` is the pairwise sum,
:class:`FwFMLayer` holds ``r`` (P,) — in the order of :func:`~ctrviz.nn.pairs.inner_product_layer` and
:func:`~ctrviz.nn.pairs.field_pairs`, (0, 1), (0, 2), …, (F-2, F-1) — and :meth:`FwFM.pair_names` names
its entries, so ``r`` reads as a field-pair importance table.

Deep part: AOANet compares every baseline with the same deep component (Sec. 4.1: "Deep component also
stays same for all models", 512-256-64), so ``deep=True`` (default) adds an MLP on the concatenated
embeddings in parallel, as DeepFM does — the DeepFwFM of W. Deng et al., "DeepLight", WSDM 2021.
``FwFMConfig(deep=False)`` is Pan et al.'s shallow FwFM.

Deviations from the paper: ``r`` starts at 1, so an untrained FwFM is an FM (Pan et al. do not fix an
initialisation); the linear term is the per-id weight of :class:`~ctrviz.nn.linear.Linear` (Pan et al.'s
"LW" variant; their FeLV/FiLV linear vectors are not implemented); sequence/multi fields are one pooled
field each, so no pair lies inside a field (no r_{F,F}).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import MLP, FieldEmbedding
from ctrviz.nn.config import DeepConfig
from ctrviz.nn.gin import GINForm
from ctrviz.nn.linear import Linear
from ctrviz.nn.mlp import Activation
from ctrviz.nn.pairs import check_pairwise, field_pairs, inner_product_layer


def fwfm_interaction(e: Tensor, r: Tensor) -> Tensor:
    """Σ_{i<j} r_ij ⟨e_i, e_j⟩ for field embeddings ``e`` and pair weights ``r``.

    Args:
        e: (B, F, D) field embeddings.
        r: (P,) pair weights, P = F(F-1)/2, in :func:`~ctrviz.nn.pairs.field_pairs` order.

    Shape:
        (B, F, D), (P,) → (B,)

    Example:
        >>> e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])     # ⟨·,·⟩ of (0,1), (0,2), (1,2): 11, 17, 39
        >>> fwfm_interaction(e, torch.tensor([1., 0., 2.])).item()  # 1·11 + 0·17 + 2·39
        89.0
    """
    F = e.shape[1]
    P = F * (F - 1) // 2
    if r.shape != (P,):
        raise ValueError(f"fwfm_interaction: r must have shape (P,) = ({P},) for F = {F} fields, "
                         f"got {tuple(r.shape)}")
    # out[b] = Σ_p ⟨e_i, e_j⟩[b, p] · r[p]
    return torch.einsum("bp,p->b", inner_product_layer(e), r)     # (B, P) → (B,)


class FwFMLayer(nn.Module):
    """FwFM's pairwise part with its field-pair weights as a parameter.

    Args:
        num_fields: F (at least 2).

    Attributes:
        r: (P,) parameter, r[p] the weight of pair p = (i, j), i < j, in ``field_pairs`` order; starts at 1.

    Shape:
        (B, F, D) → (B,)

    Example:
        >>> layer = FwFMLayer(num_fields=3)
        >>> layer.r.shape                                 # P = 3
        torch.Size([3])
        >>> e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])
        >>> layer(e).item()                               # r = 1: the FM sum 11 + 17 + 39
        67.0
        >>> layer.terms(e).tolist()
        [[11.0, 17.0, 39.0]]
    """

    def __init__(self, num_fields: int) -> None:
        super().__init__()
        if num_fields < 2:
            raise ValueError(f"FwFMLayer crosses pairs of fields and needs num_fields >= 2, got {num_fields}")
        self.num_fields = num_fields
        self.r = nn.Parameter(torch.ones(num_fields * (num_fields - 1) // 2))   # (P,)

    def terms(self, e: Tensor) -> Tensor:
        """The P weighted terms r_ij ⟨e_i, e_j⟩ (B, P); :meth:`forward` is their sum."""
        return inner_product_layer(e) * self.r                    # (B, P)

    def forward(self, e: Tensor) -> Tensor:
        return fwfm_interaction(e, self.r)                        # (B,)

    def as_gin(self, dim: int) -> GINForm:
        """This layer as GIN (AOANet Table 2 row FwFM): one subspace, W = I, h = 1 and α_uv = r_uv on the field
        pairs u < v ("FwFM removes the constraint on α"): Σ_j P_j = Σ_{u<v} r_uv ⟨e_u, e_v⟩ = ``self(e)``.

        ``.per_pair()`` of it puts r into W instead, W = diag(r_uv, …, r_uv) per pair: Lemma A.4 (Table 1).

        Args:
            dim: D, the embedding width (the layer itself works for any).

        Shape:
            weight (1, D, D), h (1, D), alpha (1, F, F)

        Example:
            >>> layer = FwFMLayer(num_fields=3)
            >>> form = layer.as_gin(dim=2)
            >>> form.alpha[0].tolist()                        # r = 1 on every pair u < v
            [[0.0, 1.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
            >>> e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])
            >>> form.fuse(e, e).sum().item()                  # = layer(e)
            67.0
        """
        if dim < 1:
            raise ValueError(f"FwFMLayer.as_gin: dim must be >= 1, got {dim}")
        r, F = self.r.detach(), self.num_fields                   # (P,)
        rows, cols = torch.triu_indices(F, F, 1, device=r.device)  # pairs i < j, field_pairs order
        alpha = r.new_zeros(1, F, F)
        alpha[0, rows, cols] = r                                  # (1, F, F): α_uv = r_uv
        eye = torch.eye(dim, dtype=r.dtype, device=r.device)
        return GINForm(eye[None], r.new_ones(1, dim), alpha, "upper")


@dataclass(frozen=True)
class FwFMConfig(DeepConfig):
    """:class:`~ctrviz.nn.config.DeepConfig`'s fields with AOANet's defaults (embed_dim D = 16; hidden
    512-256-64, ReLU, dropout, batch_norm of the deep part; pooling) plus ``deep``: add the parallel MLP on
    the concatenated embeddings (``False``: Pan et al.'s FwFM, the MLP fields are then unused)."""

    hidden: tuple[int, ...] = (512, 256, 64)
    activation: Activation = "relu"
    deep: bool = True


@register("fwfm", FwFMConfig, "FM with a learned weight per field pair (+ parallel DNN)", "Pan et al., WWW 2018")
class FwFM(nn.Module):
    """FwFM: LR + Σ_{i<j} r_ij ⟨e_i, e_j⟩ (+ MLP(e_1 ⊕ … ⊕ e_F) when ``config.deep``).

    Args:
        schema: the dataset's fields (at least two).
        config: :class:`FwFMConfig`.

    Attributes:
        linear: :class:`~ctrviz.nn.linear.Linear`. embedding: :class:`~ctrviz.nn.FieldEmbedding` (B, F, D).
        fwfm: :class:`FwFMLayer` holding ``r`` (P,). mlp: the deep part, or ``None``.

    Shape:
        Batch of B rows → logits (B,)

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema(tuple(Field(n, "sparse", vocab_size=4) for n in "abc"))
        >>> m = FwFM(s, FwFMConfig(embed_dim=2, deep=False))
        >>> m.pair_names(), m.fwfm.r.shape
        ((('a', 'b'), ('a', 'c'), ('b', 'c')), torch.Size([3]))
        >>> m(Batch(torch.tensor([[1, 2, 3]]), torch.zeros(1, 0), {}, torch.ones(1))).shape
        torch.Size([1])
    """

    def __init__(self, schema: Schema, config: FwFMConfig) -> None:
        super().__init__()
        check_pairwise(schema, config.embed_dim, type(config).__name__)
        self.config = config
        self.linear = Linear(schema, config.pooling)
        self.embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)
        F = self.embedding.num_fields
        self.fwfm = FwFMLayer(F)
        self.mlp = (MLP(F * config.embed_dim, tuple(config.hidden), config.activation, config.dropout,
                        config.batch_norm, out_dim=1) if config.deep else None)

    def pair_names(self) -> tuple[tuple[str, str], ...]:
        """Names of the P field pairs, in the order of ``fwfm.r`` and :meth:`interactions`' columns."""
        return field_pairs(self.embedding.field_names())

    def interactions(self, batch: Batch) -> Tensor:
        """The weighted pair terms r_ij ⟨e_i, e_j⟩: (B, P)."""
        return self.fwfm.terms(self.embedding(batch))             # (B, F, D) → (B, P)

    def parts(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """The logit terms, each (B,): linear, Σ_{i<j} r_ij ⟨e_i, e_j⟩, and the deep part (0 without one)."""
        e = self.embedding(batch)                                 # (B, F, D)
        pairwise = self.fwfm(e)                                   # (B,)
        deep = torch.zeros_like(pairwise)                         # (B,)
        if self.mlp is not None:
            deep = self.mlp(e.flatten(1)).squeeze(-1)             # (B, F·D) → (B, 1) → (B,)
        return self.linear(batch), pairwise, deep                 # (B,), (B,), (B,)

    def forward(self, batch: Batch) -> Tensor:
        linear, pairwise, deep = self.parts(batch)                # (B,) each
        return linear + pairwise + deep                           # (B,)
