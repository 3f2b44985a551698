"""DCN — Deep & Cross Network: explicit crosses of x_0 of bounded degree, in parallel with a DNN.

Reference: R. Wang, B. Fu, G. Fu, M. Wang, "Deep & Cross Network for Ad Click Predictions", ADKDD 2017
(arXiv:1708.05123) — the ``DCN`` row of AOANet's Tables 1–4 (AOANet ref. [18]; Table 4, Criteo: L = 3).

Equations (Wang et al. Eq. 3 and 5; K = F·D, every field's embedding concatenated):

    x_0     = [e_1; …; e_F]                                                    (B, K)
    x_{l+1} = x_0 x_lᵀ w_l + b_l + x_l = x_0 (x_lᵀ w_l) + b_l + x_l          w_l, b_l ∈ R^K   (Eq. 3)
    h       = MLP(x_0)                              ReLU 512-256-64 (AOANet Sec. 4.1)
    logit   = w_outᵀ [x_L; h] + b_out                                                           (Eq. 5)

A layer costs 2K weights, and x_L is a polynomial of degree L + 1 in x_0. :class:`CrossLayer` is one
layer; :meth:`CrossLayer.interaction` returns the interaction term x_0 (x_lᵀ w) alone.

AOANet's view (Lemma 3.1 / A.6, Table 1 row ``(u ⊗ v) w^D``): with u = x_l, v = x_0 and the
generalized interaction Z = (u ⊗ v) ⊙ W, Z_ij = u_i v_j W_ij, choose W_ij = w_i for every j (one
subspace, α = [1], h = 1) and take the column sums O_j = Σ_i Z_ij = v_j Σ_i u_i w_i: that is
:meth:`CrossLayer.interaction`. The bias b_l and the residual x_l are what AOANet "appends" to B_l.

Structures (``DCNConfig.structure``): ``"parallel"`` (DCN, above) or ``"stacked"`` (DCN-V2's other
arrangement: logit = w_outᵀ MLP(x_L) + b_out); ``hidden=()`` leaves the cross network alone
(logit = w_outᵀ x_L + b_out). :class:`~ctrviz.models.dcnv2.DCNV2` reuses this class with its own layer.

Deviations from the paper: dense fields enter x_0 as their embedding x·v_f like in every ctrviz model
(DCN stacks the raw normalised value); AOANet's setting by default (D = 16 for every field instead of
DCN's 6·(cardinality)^¼, deep part ReLU 512-256-64, no batch norm — ``batch_norm=True`` adds it as
Wang et al. do); Glorot-normal w_l and zero b_l (the paper gives no initialisation; DeepCTR's
``CrossNet`` does this); sequence/multi fields are pooled, one field each.
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
from ctrviz.nn.config import AOANetDeepConfig, check_positive
from ctrviz.nn.gin import GINForm

Structure = Literal["parallel", "stacked"]


@dataclass(frozen=True)
class DCNConfig(AOANetDeepConfig):
    """:class:`AOANetDeepConfig` plus ``layers``: L cross layers (AOANet Table 4, Criteo: 3) and
    ``structure``: ``"parallel"`` (DCN) or ``"stacked"`` (the deep part reads x_L); ``hidden=()``: no deep part."""

    layers: int = 3
    structure: Structure = "parallel"

    def __post_init__(self) -> None:
        check_positive(self, "layers")
        if self.structure not in ("parallel", "stacked"):
            raise ValueError(f"{type(self).__name__}.structure must be 'parallel' or 'stacked', "
                             f"got {self.structure!r}")
        super().__post_init__()


class CrossLayer(nn.Module):
    """One DCN cross layer: x_{l+1} = x_0 (x_lᵀ w) + b + x_l.

    Args:
        dim: K, the width of x_0 (F·D in :class:`DCN`).

    Attributes:
        weight: w, (K,).
        bias: b, (K,).

    Shape:
        x0 (B, K), xl (B, K) → (B, K); :meth:`interaction` → (B, K).

    Example:
        >>> layer = CrossLayer(2)
        >>> with torch.no_grad():
        ...     layer.weight[:] = torch.tensor([1., 2.])
        ...     layer.bias[:] = torch.tensor([0.5, 0.])
        >>> x0, xl = torch.tensor([[1., 3.]]), torch.tensor([[2., 1.]])   # x_lᵀ w = 4
        >>> layer.interaction(x0, xl).tolist(), layer(x0, xl).tolist()
        ([[4.0, 12.0]], [[6.5, 13.0]])
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"CrossLayer.dim must be >= 1, got {dim}")
        self.weight = nn.Parameter(torch.randn(dim) * math.sqrt(2.0 / (dim + 1)))   # (K,) Glorot normal, K → 1
        self.bias = nn.Parameter(torch.zeros(dim))                                    # (K,)

    def interaction(self, x0: Tensor, xl: Tensor) -> Tensor:
        """The interaction term x_0 x_lᵀ w = x_0 (x_lᵀ w) — AOANet Lemma 3.1's "first term of DCN"."""
        # s[b] = Σ_k xl[b, k] · w[k]
        s = torch.einsum("bk,k->b", xl, self.weight)     # (B,)
        return x0 * s.unsqueeze(-1)                      # (B, K)

    def forward(self, x0: Tensor, xl: Tensor) -> Tensor:
        return self.interaction(x0, xl) + self.bias + xl  # (B, K)

    def as_gin(self) -> GINForm:
        """:meth:`interaction` as GIN (AOANet Lemma 3.1, Table 2 row DCN; the same W is Lemma A.6's).

        One subspace, h = 1, α = [1] and W_ij = w_i for every j (all columns equal, Eq. 20), with the pairing of
        the proof, (u, v) = (x_l, x_0) — the swap of GIN's (B_0, B_{l-1}): P_j = Σ_i x_l,i w_i x_0,j = x_0,j (x_lᵀ w).
        b and the residual x_l are added outside GIN. The weights are copied (detached).

        Shape:
            weight (1, K, K), h (1, K), alpha (1, 1, 1)

        Example:
            >>> layer = CrossLayer(2)
            >>> with torch.no_grad():
            ...     layer.weight[:] = torch.tensor([1., 2.])
            >>> form = layer.as_gin()
            >>> form.weight.tolist(), form.pairing
            ([[[1.0, 1.0], [2.0, 2.0]]], 'swapped')
            >>> x0, xl = torch.tensor([[1., 3.]]), torch.tensor([[2., 1.]])
            >>> form.fuse(xl[:, None], x0[:, None])[:, 0].tolist()      # = layer.interaction(x0, xl)
            [[4.0, 12.0]]
        """
        w = self.weight.detach()                                             # (K,)
        K = w.shape[0]
        return GINForm(w[:, None].expand(K, K)[None].clone(), w.new_ones(1, K), w.new_ones(1, 1, 1), "swapped")


@register("dcn", DCNConfig, "Deep & Cross Network: x_0 (x_lᵀ w_l) + b_l + x_l cross layers ∥ DNN",
          "Wang et al., ADKDD 2017")
class DCN(nn.Module):
    """Deep & Cross Network.

    Args:
        schema: the dataset's fields.
        config: :class:`DCNConfig`.

    Attributes:
        cross_layers: the L cross layers (:meth:`make_cross_layer`), each reading (x_0, x_l).
        deep: the deep part's :class:`~ctrviz.nn.MLP` (no output layer), or ``None`` for ``hidden=()``.
        out: the final ``nn.Linear`` to one logit.

    Shape:
        Batch of B rows → logits (B,); :meth:`cross_outputs` → (B, L + 1, F·D).

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("x", "dense")))
        >>> m = DCN(s, DCNConfig(embed_dim=3, layers=2, hidden=(8,)))
        >>> [tuple(p.shape) for p in m.cross_layers[0].parameters()]   # w, b of width F·D = 6
        [(6,), (6,)]
        >>> m.out.in_features                                           # [x_L; h] = 6 + 8
        14
        >>> m(Batch(torch.tensor([[2], [3]]), torch.ones(2, 1), {}, torch.zeros(2))).shape
        torch.Size([2])
    """

    def __init__(self, schema: Schema, config: DCNConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)
        K = self.embedding.num_fields * config.embed_dim
        self.cross_layers = nn.ModuleList([self.make_cross_layer(K, config) for _ in range(config.layers)])
        self.deep = MLP(K, tuple(config.hidden), config.activation, config.dropout, config.batch_norm) \
            if config.hidden else None
        deep_width = self.deep.out_dim if self.deep is not None else 0
        stacked = config.structure == "stacked" and self.deep is not None
        self.out = nn.Linear(deep_width if stacked else K + deep_width, 1)

    def make_cross_layer(self, dim: int, config: DCNConfig) -> nn.Module:
        """One cross layer of width ``dim`` = F·D; DCN-V2 overrides this."""
        return CrossLayer(dim)

    def cross(self, x0: Tensor) -> Tensor:
        """The cross network: x_0 (B, F·D) → x_L (B, F·D)."""
        xl = x0
        for layer in self.cross_layers:
            xl = layer(x0, xl)                           # (B, F·D)
        return xl

    def cross_outputs(self, batch: Batch) -> Tensor:
        """x_0, x_1, …, x_L stacked, for interpretation: (B, L + 1, F·D); field f is columns f·D … f·D + D - 1."""
        with torch.no_grad():
            xs = [self.embedding(batch).flatten(1)]      # (B, F, D) → (B, F·D)
            for layer in self.cross_layers:
                xs.append(layer(xs[0], xs[-1]))          # (B, F·D)
            return torch.stack(xs, 1)                    # (B, L + 1, F·D)

    def forward(self, batch: Batch) -> Tensor:
        x0 = self.embedding(batch).flatten(1)            # (B, F, D) → (B, F·D)
        xl = self.cross(x0)                              # (B, F·D)
        if self.deep is None:
            return self.out(xl).squeeze(-1)              # (B, 1) → (B,)
        if self.config.structure == "stacked":
            return self.out(self.deep(xl)).squeeze(-1)   # (B, H) → (B, 1) → (B,)
        h = self.deep(x0)                                # (B, H)
        return self.out(torch.cat([xl, h], 1)).squeeze(-1)   # (B, F·D + H) → (B, 1) → (B,)
