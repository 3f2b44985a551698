"""DCN-M / DCN-V2 — the improved Deep & Cross Network: a full K×K matrix per cross layer.

Reference: R. Wang, R. Shivanna, D. Z. Cheng, S. Jain, D. Lin, L. Hong, E. H. Chi, "DCN V2: Improved Deep
& Cross Network and Practical Lessons for Web-scale Learning to Rank Systems", WWW 2021 (arXiv:2008.13535;
its first version was titled "DCN-M", the name AOANet uses) — the ``DCN-M`` row of AOANet's Tables 1–4
(AOANet ref. [19]; Table 4, Criteo: L = 2), the strongest baseline there.

Equations (Wang et al. 2020 Eq. 1–2; K = F·D; ⊙ is the Hadamard product, which AOANet's Eq. 23 writes ⊗):

    x_{l+1} = x_0 ⊙ (W_l x_l + b_l) + x_l              W_l ∈ R^{K×K}, b_l ∈ R^K          (Eq. 1)
    low rank: W_l = U_l V_lᵀ,   U_l, V_l ∈ R^{K×r}                                      (Eq. 2)
    parallel: logit = w_outᵀ [x_L; MLP(x_0)] + b_out    stacked: logit = w_outᵀ MLP(x_L) + b_out

Everything around the layer — x_0, the deep part, the structures, ``hidden=()`` for the cross network
alone — is :class:`~ctrviz.models.dcn.DCN`'s; this file swaps in :class:`CrossLayerV2`. The default is the
parallel structure, DCN's, since AOANet says DCN-M's "framework stays same" as DCN's.

AOANet's view (Lemma 3.2 / A.7, Table 1 row ``u ⊙ (W^D v)``): the interaction term x_0 ⊙ (W x_l)
(:meth:`CrossLayerV2.interaction`) is the generalized interaction Z = (u ⊗ v) ⊙ W with u = x_0,
v = x_l, W = ``weight`` and the row sums O_i = Σ_j Z_ij = x_0[i] Σ_j W_ij x_l[j] (Lemma A.7); Lemma 3.2
states the same with u = x_l, v = x_0, W = ``weight``ᵀ and column sums. No constraint on W: the only
difference from DCN (W_ij = w_i there), which AOANet credits for DCN-M's lead.

Deviations from the paper: the mixture of low-rank experts (DCN-Mix, Eq. 3) is not implemented; dense
fields enter x_0 as x·v_f; AOANet's defaults (D = 16, ReLU 512-256-64); Glorot-uniform W (U, V) and
zero b (the paper gives no initialisation); pooled sequence/multi fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ctrviz.models.dcn import DCN, DCNConfig
from ctrviz.models.registry import register
from ctrviz.nn.gin import GINForm


@dataclass(frozen=True)
class DCNV2Config(DCNConfig):
    """:class:`~ctrviz.models.dcn.DCNConfig` (embed_dim, deep part, structure) with ``layers`` = 2 (AOANet
    Table 4, Criteo) and ``low_rank``: r for W = U Vᵀ (``None``: full-rank W)."""

    layers: int = 2
    low_rank: int | None = None

    def __post_init__(self) -> None:
        if self.low_rank is not None and (not isinstance(self.low_rank, int) or isinstance(self.low_rank, bool)
                                          or self.low_rank < 1):
            raise ValueError(f"{type(self).__name__}.low_rank must be None or an int >= 1, got {self.low_rank!r}")
        super().__post_init__()


class CrossLayerV2(nn.Module):
    """One DCN-V2 cross layer: x_{l+1} = x_0 ⊙ (W x_l + b) + x_l.

    Args:
        dim: K, the width of x_0 (F·D in the model).
        low_rank: r for W = U Vᵀ; ``None`` for a full K×K W.

    Attributes:
        weight: W, (K, K), ``weight[i, j]`` multiplies x_l[j] in output i (``nn.Linear``'s convention);
            ``None`` when low-rank.
        u_weight, v_weight: U and V, (K, r) each, when low-rank; ``None`` otherwise.
        bias: b, (K,).

    Shape:
        x0 (B, K), xl (B, K) → (B, K); :meth:`interaction` → (B, K); :meth:`matrix` → (K, K).

    Example:
        >>> layer = CrossLayerV2(2)
        >>> with torch.no_grad():
        ...     layer.weight[:] = torch.tensor([[1., 2.], [0., 1.]])
        ...     layer.bias[:] = torch.tensor([1., 0.])
        >>> x0, xl = torch.tensor([[2., 3.]]), torch.tensor([[1., 1.]])   # W x_l = (3, 1)
        >>> layer.interaction(x0, xl).tolist(), layer(x0, xl).tolist()
        ([[6.0, 3.0]], [[9.0, 4.0]])
        >>> CrossLayerV2(6, low_rank=2).matrix().shape
        torch.Size([6, 6])
    """

    def __init__(self, dim: int, low_rank: int | None = None) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"CrossLayerV2.dim must be >= 1, got {dim}")
        if low_rank is not None and low_rank < 1:
            raise ValueError(f"CrossLayerV2.low_rank must be None or >= 1, got {low_rank}")
        if low_rank is None:
            self.weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, dim)))        # (K, K)
            self.register_parameter("u_weight", None)
            self.register_parameter("v_weight", None)
        else:
            self.register_parameter("weight", None)
            self.u_weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, low_rank)))   # (K, r)
            self.v_weight = nn.Parameter(nn.init.xavier_uniform_(torch.empty(dim, low_rank)))   # (K, r)
        self.bias = nn.Parameter(torch.zeros(dim))                                              # (K,)

    def matrix(self) -> Tensor:
        """The layer's W as one (K, K) matrix: ``weight``, or U Vᵀ when low-rank."""
        if self.weight is not None:
            return self.weight                                          # (K, K)
        # w[i, j] = Σ_r U[i, r] · V[j, r]
        return torch.einsum("ir,jr->ij", self.u_weight, self.v_weight)  # (K, K)

    def interaction(self, x0: Tensor, xl: Tensor) -> Tensor:
        """The interaction term x_0 ⊙ (W x_l) — AOANet Lemma 3.2's "first term of DCN-M"."""
        if self.weight is not None:
            # wx[b, i] = Σ_j W[i, j] · xl[b, j]. F.linear: the same float32 sums as the einsum (bit-equal in a
            # probe at B = 1024, K = 624), and a plain GEMM under bf16 autocast, where the einsum's bmm is slower
            wx = F.linear(xl, self.weight)                                 # (B, K)
        else:
            # t[b, r] = Σ_j V[j, r] · xl[b, j]   (never builds the K×K matrix)
            t = torch.einsum("jr,bj->br", self.v_weight, xl)              # (B, r)
            # wx[b, i] = Σ_r U[i, r] · t[b, r]
            wx = torch.einsum("ir,br->bi", self.u_weight, t)               # (B, K)
        return x0 * wx                                                    # (B, K)

    def forward(self, x0: Tensor, xl: Tensor) -> Tensor:
        return self.interaction(x0, xl) + x0 * self.bias + xl             # (B, K)

    def as_gin(self) -> GINForm:
        """:meth:`interaction` as GIN (AOANet Lemma 3.2, Table 2 row DCN-M).

        One subspace, h = 1, α = [1], W = (W^D)ᵀ (:meth:`matrix` transposed, low rank included: no constraint),
        with the proof's pairing (u, v) = (x_l, x_0): P_j = Σ_i x_l,i W^D_ji x_0,j = x_0,j (W^D x_l)_j. x_0 ⊙ b and
        x_l are added outside GIN. Lemma A.7 is the same map transposed: u = x_0, v = x_l, W = W^D, row sums.

        Shape:
            weight (1, K, K), h (1, K), alpha (1, 1, 1)

        Example:
            >>> layer = CrossLayerV2(2)
            >>> with torch.no_grad():
            ...     layer.weight[:] = torch.tensor([[1., 2.], [0., 1.]])
            >>> form = layer.as_gin()
            >>> form.weight.tolist(), form.pairing                      # W = (W^D)ᵀ
            ([[[1.0, 0.0], [2.0, 1.0]]], 'swapped')
            >>> x0, xl = torch.tensor([[2., 3.]]), torch.tensor([[1., 1.]])
            >>> form.fuse(xl[:, None], x0[:, None])[:, 0].tolist()      # = layer.interaction(x0, xl)
            [[6.0, 3.0]]
        """
        w = self.matrix().detach()                                          # (K, K): W^D
        K = w.shape[0]
        return GINForm(w.T[None].clone(), w.new_ones(1, K), w.new_ones(1, 1, 1), "swapped")


@register("dcn-m", DCNV2Config, "DCN-M / DCN-V2: x_0 ⊙ (W_l x_l + b_l) + x_l cross layers ∥ DNN",
          "Wang et al., arXiv:2008.13535 (WWW 2021)")
class DCNV2(DCN):
    """DCN-M, published as DCN-V2: :class:`~ctrviz.models.dcn.DCN` with :class:`CrossLayerV2` layers.

    Args:
        schema: the dataset's fields.
        config: :class:`DCNV2Config`.

    Shape:
        Batch of B rows → logits (B,); :meth:`cross_outputs` → (B, L + 1, F·D).

    Example:
        >>> from ctrviz.data.batch import Batch
        >>> from ctrviz.data.schema import Field, Schema
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=4)))
        >>> m = DCNV2(s, DCNV2Config(embed_dim=3, hidden=(8,)))
        >>> len(m.cross_layers), m.cross_layers[0].weight.shape         # L = 2, W: (F·D, F·D)
        (2, torch.Size([6, 6]))
        >>> m(Batch(torch.tensor([[2, 3]]), torch.zeros(1, 0), {}, torch.ones(1))).shape
        torch.Size([1])
    """

    def make_cross_layer(self, dim: int, config: DCNConfig) -> nn.Module:
        if not isinstance(config, DCNV2Config):
            raise TypeError(f"DCNV2 needs a DCNV2Config (it has low_rank), got {type(config).__name__}")
        return CrossLayerV2(dim, config.low_rank)
