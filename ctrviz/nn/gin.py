"""The generalized interaction ``Z = (u ⊗ v) ⊙ W`` and GIN's interaction + fusion layer.

Reference: L. Lang, J. Zhao, Z. Zhu, J. Xu, X. Liu, M. Shan, "Architecture and Operation Adaptive
Network for Online Recommendations" (AOANet), KDD 2021, Sec. 3.2–3.3 and 3.5.

Equations (u, v ∈ R^D; one layer l with S subspaces):

    Z_{u,v}^s = (u ⊗ v) ⊙ W^s,   Z_ij = u_i v_j W^s_ij                      (Eq. 4, 7, 11)
    C_l = {Z_{u,v} | (u, v) ∈ pairing(B_0, B_{l-1})},  pairing(M, N) = M × N   (Eq. 8)
    P_l^s = h^sᵀ Σ_{u,v} G_{u,v}^s α_{u,v}^s Z_{u,v}^s    ∈ R^D                (Eq. 9, 12, 43)
    B_l = {P_l^1, …, P_l^S}                                                     (Eq. 10, 13)

G ∈ {0, 1} is AOANet's gate (Eq. 43): all ones for GIN, fixed after the selection stage for AOANet.

The fusion is bilinear, so the sums can be reordered and no D×D map is ever built (the fast path):

    P^s_j = Σ_v v_j Σ_i (h^s_i W^s_ij) Σ_u (G α)^s_{u,v} u_i
          = Σ_v v_j [M^sᵀ a^s_v]_j,   M^s = diag(h^s) W^s,   a^s_v = Σ_u (G α)^s_{u,v} u

Cost per row: O(S·n·m·D + S·m·D²) for n = |B_0|, m = |B_{l-1}|, instead of O(S·n·m·D²) for the
literal path (:meth:`GINLayer.forward_literal`, kept for teaching and checked against the fast path).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

Pairing = Literal["all", "distinct", "upper"]


def generalized_interaction(u: Tensor, v: Tensor, w: Tensor) -> Tensor:
    """Eq. 4: ``Z = (u ⊗ v) ⊙ W``, i.e. ``Z_ij = u_i · v_j · W_ij``.

    Args:
        u, v: (…, D) vectors (any leading batch dims, broadcast against each other).
        w: (D, D) weights, or (…, D, D) broadcasting with the leading dims.

    Shape:
        (…, D), (…, D), (D, D) → (…, D, D)

    Example:
        >>> u, v = torch.tensor([1., 2.]), torch.tensor([3., 4.])
        >>> generalized_interaction(u, v, torch.eye(2)).tolist()      # W = I: diag(u ⊙ v), Lemma A.2
        [[3.0, 0.0], [0.0, 8.0]]
        >>> generalized_interaction(u, v, torch.ones(2, 2)).tolist()  # W = 1: the outer product, Lemma A.3
        [[3.0, 4.0], [6.0, 8.0]]
    """
    # Z[..., i, j] = u[..., i] · v[..., j] · W[..., i, j]
    return u.unsqueeze(-1) * v.unsqueeze(-2) * w                    # (…, D, D)


def pair_mask(n_left: int, n_right: int, pairing: Pairing) -> Tensor:
    """Which (u, v) of ``pairing(B_0, B_{l-1})`` exist: (n_left, n_right) of 0/1.

    ``"all"`` is the paper's Cartesian product M × N (Eq. 8), ordered pairs and u = v included;
    ``"distinct"`` drops u = v; ``"upper"`` keeps u < v (unordered field pairs, as FM counts them).
    The last two need ``n_left == n_right`` (the first layer, where both sides are the fields).

    Example:
        >>> pair_mask(3, 3, "upper").tolist()
        [[0.0, 1.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """
    if pairing == "all":
        return torch.ones(n_left, n_right)
    if pairing not in ("distinct", "upper"):
        raise ValueError(f"pairing must be 'all', 'distinct' or 'upper', got {pairing!r}")
    if n_left != n_right:
        raise ValueError(f"pairing={pairing!r} needs both sides to be the same fields, got {n_left} × {n_right}")
    return torch.ones(n_left, n_right).triu(1) if pairing == "upper" else 1 - torch.eye(n_left)


def fuse(x0: Tensor, xprev: Tensor, weight: Tensor, h: Tensor, alpha: Tensor) -> Tensor:
    """Eq. 12 by the fast path: P^s = h^sᵀ Σ_{u,v} α^s_{u,v} (u ⊗ v) ⊙ W^s, with no D×D map per pair.

    Args:
        x0: (B, n, D), the left vectors u (B_0).
        xprev: (B, m, D), the right vectors v (B_{l-1}).
        weight: W (S, D, D).  h: (S, D).
        alpha: (S, n, m), or (B, S, n, m) for input-dependent weights (AFM's attention, Lemma A.5).

    Shape:
        → (B, S, D)

    Example:
        >>> x = torch.tensor([[[1., 2.], [3., 4.]]])                   # two fields, D = 2
        >>> alpha = torch.tensor([[[0., 1.], [0., 0.]]])                # only (field 0, field 1)
        >>> fuse(x, x, torch.eye(2)[None], torch.ones(1, 2), alpha).tolist()   # u ⊙ v = [1·3, 2·4]
        [[[3.0, 8.0]]]
    """
    # left[b, s, v, i] = Σ_u α[(b,) s, u, v] · x0[b, u, i]
    left = torch.einsum("bsuv,bui->bsvi" if alpha.dim() == 4 else "suv,bui->bsvi", alpha, x0)  # (B, S, m, D)
    # right[b, s, v, j] = Σ_i left[b, s, v, i] · h[s, i] · W[s, i, j]
    right = torch.einsum("bsvi,si,sij->bsvj", left, h, weight)         # (B, S, m, D)
    # P[b, s, j] = Σ_v right[b, s, v, j] · xprev[b, v, j]
    return torch.einsum("bsvj,bvj->bsj", right, xprev)                 # (B, S, D)


class GINLayer(nn.Module):
    """One GIN interaction + fusion layer in S subspaces (Eq. 7–13, gated as Eq. 43).

    Args:
        n_left: n = |B_0|, the number of field vectors (left side u of every pair).
        n_right: m = |B_{l-1}|: n for the first layer, the previous layer's S after it.
        dim: D.
        subspaces: S.
        pairing: which (u, v) exist (:func:`pair_mask`); the paper's is ``"all"``.
        alpha_init: starting value of every α (equal, so any order among them is learned).

    Attributes:
        weight: ``W`` (S, D, D), the generalized interaction's weights per subspace.
        h: ``h`` (S, D), the fusion projection per subspace.
        alpha: ``α`` (S, n_left, n_right); ``alpha[s, u, v]`` weighs Z_{u,v} in subspace s, u indexing
            B_0 (fields) and v indexing B_{l-1} (fields in layer 1, subspaces of the previous layer after).
        gate: buffer ``G`` (S, n_left, n_right) of 0/1: the pairing mask, times AOANet's selection.

    Shape:
        x0 (B, n_left, D), xprev (B, n_right, D) → (B, S, D)

    Example:
        >>> layer = GINLayer(n_left=2, n_right=2, dim=3, subspaces=4)
        >>> x = torch.randn(5, 2, 3)
        >>> layer(x, x).shape
        torch.Size([5, 4, 3])
        >>> torch.allclose(layer(x, x), layer.forward_literal(x, x), atol=1e-6)
        True
    """

    def __init__(self, n_left: int, n_right: int, dim: int, subspaces: int, pairing: Pairing = "all",
                 alpha_init: float = 1.0) -> None:
        super().__init__()
        for name, value in (("n_left", n_left), ("n_right", n_right), ("dim", dim), ("subspaces", subspaces)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GINLayer.{name} must be an int >= 1, got {value!r}")
        self.n_left, self.n_right, self.dim, self.subspaces = n_left, n_right, dim, subspaces
        S, D = subspaces, dim
        # W^s starts near the identity (the Hadamard product, Lemma A.2) with a little noise so the
        # subspaces differ; h^s near all-ones (sum over i, as every lemma of Table 2 sets it).
        self.weight = nn.Parameter(torch.eye(D).repeat(S, 1, 1) + 0.1 * torch.randn(S, D, D) / D ** 0.5)
        self.h = nn.Parameter(torch.ones(S, D) + 0.1 * torch.randn(S, D))
        self.alpha = nn.Parameter(torch.full((S, n_left, n_right), float(alpha_init)))
        self.register_buffer("gate", pair_mask(n_left, n_right, pairing).expand(S, -1, -1).clone())

    def gated_alpha(self) -> Tensor:
        """``G ⊙ α`` (S, n_left, n_right): the weights the fusion actually uses."""
        return self.gate * self.alpha

    def forward(self, x0: Tensor, xprev: Tensor) -> Tensor:
        """Fast path (:func:`fuse`): the reordered sums of the module docstring, no D×D map per pair."""
        return fuse(x0, xprev, self.weight, self.h, self.gated_alpha())  # (B, S, D)

    def interaction_maps(self, x0: Tensor, xprev: Tensor) -> Tensor:
        """Every interaction map Z^s_{u,v} = (u ⊗ v) ⊙ W^s (Eq. 11), literally: (B, S, n, m, D, D).

        Memory grows as B·S·n·m·D²: for teaching and small inputs.
        """
        u = x0[:, None, :, None, :]                                     # (B, 1, n, 1, D)
        v = xprev[:, None, None, :, :]                                  # (B, 1, 1, m, D)
        w = self.weight[None, :, None, None]                            # (1, S, 1, 1, D, D)
        return generalized_interaction(u, v, w)                         # (B, S, n, m, D, D)

    def forward_literal(self, x0: Tensor, xprev: Tensor) -> Tensor:
        """Eq. 12 as written: build every Z, weigh by G ⊙ α, sum over pairs, project with hᵀ."""
        z = self.interaction_maps(x0, xprev)                            # (B, S, n, m, D, D)
        # fused[b, s] = Σ_{u,v} a[s, u, v] · Z[b, s, u, v]
        fused = torch.einsum("suv,bsuvij->bsij", self.gated_alpha(), z)  # (B, S, D, D)
        # P[b, s, j] = Σ_i h[s, i] · fused[b, s, i, j]
        return torch.einsum("si,bsij->bsj", self.h, fused)              # (B, S, D)
