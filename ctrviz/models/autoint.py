"""AutoInt and AutoInt+ — feature interactions by multi-head self-attention over the field embeddings.

Reference: W. Song, C. Shi, Z. Xiao, Z. Duan, Y. Xu, M. Zhang, J. Tang, "AutoInt: Automatic Feature
Interaction Learning via Self-Attentive Neural Networks", CIKM 2019 (arXiv:1810.11921) — the ``AutoInt``
row of AOANet's Tables 1–4 (AOANet ref. [16]; Table 4, Criteo: L = 2 layers, h = 3 heads, d = 16).

Equations (Song et al. Eq. 5–10; e_i the embedding of field i, one interacting layer, head h):

    q_i = W_Q^h e_i,  k_i = W_K^h e_i,  v_i = W_V^h e_i                  ∈ R^d, d = head_dim
    α_ij^h = exp(⟨q_i, k_j⟩) / Σ_j' exp(⟨q_i, k_j'⟩)                                       (Eq. 5–6)
    ẽ_i^h = Σ_j α_ij^h v_j                                                                  (Eq. 7)
    e_i^Res = ReLU(ẽ_i^1 ⊕ … ⊕ ẽ_i^heads + W_Res e_i)                    ∈ R^{heads·d}    (Eq. 8–9)
    logit = wᵀ (e_1^Res ⊕ … ⊕ e_F^Res) + b             after L stacked layers              (Eq. 10)

AutoInt+ (Song et al., "integrating implicit interactions") trains a DNN beside it:
logit = wᵀ [e^Res; MLP(e_1 ⊕ … ⊕ e_F)] + b — one ``nn.Linear`` over the concatenation, the same function
as adding a logit from each part. AOANet: every baseline's DNN is ReLU 512-256-64.

:class:`InteractingLayer` stores the projections per head as ``(heads, in_dim, head_dim)`` tensors,
q_i^h = e_i @ ``w_query[h]`` (so ``w_query[h]`` = W_Q^hᵀ), and ``w_res`` as (in_dim, heads·head_dim),
W_Res e_i = e_i @ ``w_res``; head h fills columns h·head_dim … (h+1)·head_dim - 1 of the output.
:meth:`InteractingLayer.attention` returns α (B, heads, F, F), α[b, h, i, j] = α_ij^h (rows sum to 1),
and :meth:`InteractingLayer.head_outputs` the ẽ^h before the residual and the ReLU.

AOANet's view (Lemma 3.4 / A.8, Table 1): with W = I the generalized interaction of q_i and k_j has
Σ_k Z_kk = ⟨q_i, k_j⟩ (Lemma A.1); the fusion softmax_j(Σ_k Z^j_kk) v_j summed over j is ẽ_i — one GIN
subspace per field i, the projections being an extra "projection phase" (q, k, v from each e_i).

Deviations from the paper: AOANet's Table 4 setting by default (D = 16, L = 2, 3 heads of 16), not
AutoInt's (d = 32, 2 heads, 3 layers); no 1/√d scaling (the paper has none); Glorot-uniform projections
per head; ``residual=False`` drops W_Res (the paper's ablation); pooled sequence/multi fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import MLP, FieldEmbedding
from ctrviz.nn.config import AOANetDeepConfig, Config, check_positive
from ctrviz.nn.gin import GINForm, self_attention_form
from ctrviz.nn.pairs import check_pairwise


@dataclass(frozen=True)
class AutoIntConfig(Config):
    """Args: embed_dim D (AOANet: 16); layers L of interacting layers (Table 4: 2); heads per layer (3);
    head_dim d of each head's q, k, v (16); residual: add W_Res e_i before the ReLU; pooling of sequence fields."""

    embed_dim: int = 16
    layers: int = 2
    heads: int = 3
    head_dim: int = 16
    residual: bool = True
    pooling: Literal["sum", "mean"] = "sum"

    def __post_init__(self) -> None:
        check_positive(self, "embed_dim", "layers", "heads", "head_dim")
        super().__post_init__()


@dataclass(frozen=True)
class AutoIntPlusConfig(AutoIntConfig, AOANetDeepConfig):
    """:class:`AutoIntConfig` plus the DNN of :class:`~ctrviz.nn.config.AOANetDeepConfig` (hidden 512-256-64,
    ReLU, dropout, batch_norm). AutoIntConfig's checks run first, then the deep part's."""


class InteractingLayer(nn.Module):
    """One AutoInt interacting layer: multi-head self-attention over the fields, residual, ReLU.

    Args:
        in_dim: width of each input field vector (D for the first layer, heads·head_dim after).
        head_dim: d, width of each head's q, k and v.
        heads: number of attention heads.
        residual: add ``e @ w_res`` before the ReLU.

    Attributes:
        w_query, w_key, w_value: (heads, in_dim, head_dim); q[b, h, i] = e[b, i] @ w_query[h], likewise k, v.
        w_res: (in_dim, heads·head_dim), or ``None`` when ``residual=False``.

    Shape:
        (B, F, in_dim) → (B, F, heads·head_dim); :meth:`attention` → (B, heads, F, F);
        :meth:`head_outputs` → (B, heads, F, head_dim).

    Example:
        >>> layer = InteractingLayer(in_dim=2, head_dim=2, heads=1, residual=False)
        >>> with torch.no_grad():
        ...     for w in (layer.w_query, layer.w_key, layer.w_value):
        ...         w[:] = torch.eye(2)                                  # q = k = v = e
        >>> e = torch.tensor([[[1., 0.], [0., 1.]]])                     # ⟨q_i, k_j⟩ = 1 if i = j else 0
        >>> a = layer.attention(e)
        >>> a.shape, round(a[0, 0, 0, 0].item(), 4)                      # e / (e + 1)
        (torch.Size([1, 1, 2, 2]), 0.7311)
        >>> layer(e).shape
        torch.Size([1, 2, 2])
    """

    def __init__(self, in_dim: int, head_dim: int, heads: int, residual: bool = True) -> None:
        super().__init__()
        if min(in_dim, head_dim, heads) < 1:
            raise ValueError(f"InteractingLayer sizes must be >= 1, got in_dim={in_dim}, head_dim={head_dim}, "
                             f"heads={heads}")
        self.heads, self.head_dim = heads, head_dim
        bound = math.sqrt(6.0 / (in_dim + head_dim))                  # Glorot uniform of each head's in_dim → d map
        self.w_query, self.w_key, self.w_value = (
            nn.Parameter(torch.empty(heads, in_dim, head_dim).uniform_(-bound, bound)) for _ in range(3))
        if residual:
            bound = math.sqrt(6.0 / (in_dim + heads * head_dim))
            self.w_res = nn.Parameter(torch.empty(in_dim, heads * head_dim).uniform_(-bound, bound))
        else:
            self.register_parameter("w_res", None)

    def project(self, e: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """q, k, v of every field and head: each (B, heads, F, head_dim)."""
        # q[b, h, f, d] = Σ_k e[b, f, k] · w_query[h, k, d]   (likewise k, v)
        return tuple(torch.einsum("bfk,hkd->bhfd", e, w)              # 3 × (B, heads, F, head_dim)
                     for w in (self.w_query, self.w_key, self.w_value))

    @staticmethod
    def _softmax(q: Tensor, k: Tensor) -> Tensor:
        # s[b, h, i, j] = Σ_d q[b, h, i, d] · k[b, h, j, d]
        return torch.einsum("bhid,bhjd->bhij", q, k).softmax(-1)     # (B, heads, F, F)

    def attention(self, e: Tensor) -> Tensor:
        """α[b, h, i, j] = softmax_j ⟨q_i^h, k_j^h⟩ (B, heads, F, F): how much field i attends to field j."""
        q, k, _ = self.project(e)                                     # (B, heads, F, head_dim)
        return self._softmax(q, k)                                    # (B, heads, F, F)

    def head_outputs(self, e: Tensor) -> Tensor:
        """ẽ_i^h = Σ_j α_ij^h v_j^h, before concatenation, residual and ReLU: (B, heads, F, head_dim)."""
        q, k, v = self.project(e)                                     # (B, heads, F, head_dim)
        # out[b, h, i, d] = Σ_j α[b, h, i, j] · v[b, h, j, d]
        return torch.einsum("bhij,bhjd->bhid", self._softmax(q, k), v)   # (B, heads, F, head_dim)

    def as_gin(self, e: Tensor, head: int = 0) -> GINForm:
        """One head on input ``e`` as GIN (AOANet Lemma 3.4, Table 2 row AutoInt): the head's q, k, v
        (:meth:`project`, the lemma's "projection phase") in :func:`~ctrviz.nn.gin.self_attention_form` — one
        subspace per query s paired with every key t, h = 1, W^t_ij = (k_t,i / k_t,j) v_t,j and
        α_{s,t} = softmax_t(q_sᵀ k_t) / (q_sᵀ k_t), both computed from the input. ``form.fuse(q, k)`` of that
        head is :meth:`head_outputs`' head ``head``; the residual and the ReLU stay outside GIN. Undefined
        (NaN) where a key component or a logit q_sᵀ k_t is 0.

        Args:
            e: (B, F, in_dim) input field vectors.
            head: which head, 0 ≤ head < heads.

        Shape:
            weight (B, F, head_dim, head_dim), h (F, head_dim), alpha (B, F, F)

        Example:
            >>> layer = InteractingLayer(in_dim=2, head_dim=2, heads=1, residual=False)
            >>> with torch.no_grad():
            ...     for w in (layer.w_query, layer.w_key, layer.w_value):
            ...         w[:] = torch.eye(2)                                  # q = k = v = e
            >>> e = torch.tensor([[[1., 2.], [3., -1.]]])                    # logits 5, 1, 1, 10: none is 0
            >>> form = layer.as_gin(e)
            >>> form.weight.shape, form.pairing
            (torch.Size([1, 2, 2, 2]), 'query-key')
            >>> torch.allclose(form.fuse(e, e), layer.head_outputs(e)[:, 0])
            True
        """
        if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < self.heads:
            raise ValueError(f"InteractingLayer.as_gin: head must be an int in 0..{self.heads - 1}, got {head!r}")
        q, k, v = (t[:, head].detach() for t in self.project(e))     # (B, F, head_dim) each
        return self_attention_form(q, k, v)

    def forward(self, e: Tensor) -> Tensor:
        out = self.head_outputs(e).transpose(1, 2).flatten(2)         # (B, F, heads, head_dim) → (B, F, heads·head_dim)
        if self.w_res is not None:
            # res[b, f, n] = Σ_k e[b, f, k] · w_res[k, n]
            out = out + torch.einsum("bfk,kn->bfn", e, self.w_res)    # (B, F, heads·head_dim)
        return torch.relu(out)                                        # (B, F, heads·head_dim)


@register("autoint", AutoIntConfig, "AutoInt: multi-head self-attention over fields (no DNN)",
          "Song et al., CIKM 2019")
class AutoInt(nn.Module):
    """AutoInt: L interacting layers over the field embeddings, flattened into one logistic output.

    Args:
        schema: the dataset's fields (at least two).
        config: :class:`AutoIntConfig`.

    Attributes:
        interacting: the L :class:`InteractingLayer` s; deep: ``None`` here, the DNN in AutoInt+.

    Shape:
        Batch of B rows → logits (B,); :meth:`attention_maps` → L tensors (B, heads, F, F).

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=4),
        ...             Field("x", "dense")))
        >>> m = AutoInt(s, AutoIntConfig(embed_dim=4, layers=2, heads=2, head_dim=3))
        >>> m.interacting[0].w_query.shape, m.interacting[1].w_query.shape   # (heads, in_dim, head_dim)
        (torch.Size([2, 4, 3]), torch.Size([2, 6, 3]))
        >>> b = Batch(torch.tensor([[2, 3]]), torch.ones(1, 1), {}, torch.ones(1))
        >>> m(b).shape, m.attention_maps(b)[0].shape
        (torch.Size([1]), torch.Size([1, 2, 3, 3]))
    """

    def __init__(self, schema: Schema, config: AutoIntConfig) -> None:
        super().__init__()
        check_pairwise(schema, config.embed_dim, type(config).__name__)
        self.config = config
        self.embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)
        F, D, width = self.embedding.num_fields, config.embed_dim, config.heads * config.head_dim
        self.interacting = nn.ModuleList([InteractingLayer(D if i == 0 else width, config.head_dim, config.heads,
                                                           config.residual) for i in range(config.layers)])
        self.deep = self.make_deep(F * D, config)
        self.out = nn.Linear(F * width + (self.deep.out_dim if self.deep is not None else 0), 1)

    def make_deep(self, in_dim: int, config: AutoIntConfig) -> MLP | None:
        """The parallel DNN on [e_1; …; e_F]: none for AutoInt; AutoInt+ overrides this."""
        return None

    def field_names(self) -> tuple[str, ...]:
        """Names of the F fields, the order of the attention maps' last two axes."""
        return self.embedding.field_names()

    def attention_maps(self, batch: Batch) -> list[Tensor]:
        """Every layer's attention weights α, for interpretation: L tensors (B, heads, F, F)."""
        with torch.no_grad():
            e, maps = self.embedding(batch), []                      # (B, F, D)
            for layer in self.interacting:
                maps.append(layer.attention(e))                      # (B, heads, F, F)
                e = layer(e)                                         # (B, F, heads·head_dim)
            return maps

    def forward(self, batch: Batch) -> Tensor:
        e = self.embedding(batch)                                    # (B, F, D)
        x = e
        for layer in self.interacting:
            x = layer(x)                                             # (B, F, heads·head_dim)
        parts = [x.flatten(1)]                                       # (B, F·heads·head_dim)
        if self.deep is not None:
            parts.append(self.deep(e.flatten(1)))                    # (B, F·D) → (B, H)
        return self.out(torch.cat(parts, 1)).squeeze(-1)             # (B, F·heads·head_dim + H) → (B, 1) → (B,)


@register("autoint+", AutoIntPlusConfig, "AutoInt+: AutoInt with a parallel DNN (ReLU 512-256-64)",
          "Song et al., CIKM 2019")
class AutoIntPlus(AutoInt):
    """AutoInt+: :class:`AutoInt` with a DNN beside the interacting layers (``hidden=()``: plain AutoInt).

    Args:
        schema: the dataset's fields (at least two).
        config: :class:`AutoIntPlusConfig`.

    Shape:
        Batch of B rows → logits (B,)

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=4)))
        >>> m = AutoIntPlus(s, AutoIntPlusConfig(embed_dim=4, heads=1, head_dim=2, hidden=(8,)))
        >>> m.out.in_features                                        # F·heads·head_dim + 8
        12
    """

    def make_deep(self, in_dim: int, config: AutoIntConfig) -> MLP | None:
        if not isinstance(config, AutoIntPlusConfig):
            raise TypeError(f"AutoIntPlus needs an AutoIntPlusConfig (it has the DNN), got {type(config).__name__}")
        return MLP(in_dim, tuple(config.hidden), config.activation, config.dropout, config.batch_norm) \
            if config.hidden else None
