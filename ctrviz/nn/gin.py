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

Which vector of a pair is u (``GINLayer(swapped=…)``, ``GINConfig.pair_order``). Eq. 8 as printed,
``C_l = {Z_{u,v} | (u,v) ∈ pairing(B_0, B_{l-1})}`` with ``pairing(M, N) = {(u,v) | u ∈ M, v ∈ N}``, takes
u ∈ B_0, v ∈ B_{l-1}; with M = diag(h) W the output is then P_j = v_j (Mᵀ u)_j, i.e. B_l = B_{l-1} ⊙ (Mᵀ B_0).
The proofs of Lemmas 3.1 and 3.2 instead "denote x_l = u, x_0 = v": u ∈ B_{l-1}, v ∈ B_0, and
B_l = B_0 ⊙ (Mᵀ B_{l-1}) — DCN-M's x_0 ⊙ (W^D x_l) with Mᵀ = W^D (Eq. 24–26). ``swapped=True`` computes that
order (``fuse(x_{l-1}, x_0)``); α keeps its layout (rows B_0, columns B_{l-1}) in both.

How GIN expresses a baseline (AOANet Tables 1–2, Lemmas 3.1–3.4, Appendix A) is a :class:`GINForm`: the W, h, α
a lemma sets and which vectors it pairs. Each baseline layer gives its own (``CrossLayer.as_gin`` in
``ctrviz.models.dcn``, ``FwFMLayer.as_gin``, …); the settings without a layer come from
:func:`inner_product_form` (FM, DeepFM, IPNN), :func:`hadamard_form` (NFM), :func:`outer_product_form` and
:func:`self_attention_form` (AutoInt on any q, k, v). ``ctrviz.lemmas`` checks every form against its baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import Tensor, nn

Pairing = Literal["all", "distinct", "upper"]
PairOrder = Literal["eq8", "lemma"]   # u ∈ B_0 (Eq. 8) or u ∈ B_{l-1} (Lemmas 3.1–3.2's proofs), layers ≥ 2
FormPairing = Literal["upper", "inter-layer", "swapped", "query-key"]


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
        weight: W (S, D, D), or (B, S, D, D) for an input-dependent W (AFM one pair per subspace, Lemma A.5).
        h: (S, D).
        alpha: (S, n, m), or (B, S, n, m) for input-dependent weights (AFM's attention, Table 2).

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
    # right[b, s, v, j] = Σ_i left[b, s, v, i] · h[s, i] · W[(b,) s, i, j]
    right = torch.einsum("bsvi,si,bsij->bsvj" if weight.dim() == 4 else "bsvi,si,sij->bsvj",
                         left, h, weight)                               # (B, S, m, D)
    # P[b, s, j] = Σ_v right[b, s, v, j] · xprev[b, v, j]
    return torch.einsum("bsvj,bvj->bsj", right, xprev)                 # (B, S, D)


def pair_onehot(num_fields: int, dtype: torch.dtype | None = None, device: torch.device | None = None) -> Tensor:
    """α with one field pair per subspace: (P, F, F), ``[p, i, j] = 1`` for pair p = (i, j), i < j, in
    ``field_pairs`` order (IPNN's and OPNN's S = P subspaces, Table 2).

    Example:
        >>> pair_onehot(3)[1].tolist()                                  # pair 1 = (0, 2)
        [[0.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    rows, cols = torch.triu_indices(num_fields, num_fields, 1, device=device)    # (P,), (P,)
    alpha = torch.zeros(len(rows), num_fields, num_fields, dtype=dtype, device=device)   # (P, F, F)
    alpha[torch.arange(len(rows), device=device), rows, cols] = 1.0
    return alpha


@dataclass(frozen=True, eq=False)
class GINForm:
    """How GIN expresses a baseline's interaction: the W, h, α a lemma of AOANet Tables 1–2 sets, and the pairing.

    A baseline layer's ``as_gin()`` returns its form (``CrossLayer.as_gin``: Lemma 3.1, …); the settings without
    a layer come from :func:`inner_product_form`, :func:`hadamard_form`, :func:`outer_product_form` and
    :func:`self_attention_form`. :meth:`fuse` runs the form (Eq. 12), :meth:`GINLayer.from_form` loads a fixed
    one into a GIN layer, :meth:`per_pair` gives Table 1's one-map-per-pair form of an FM-style one.

    Attributes:
        weight: W (S, D, D); (B, S, D, D) when computed from the input row (AFM per pair, Lemma A.5). For
            ``"query-key"``: one W per key t, (B, m, D, D) (AutoInt, Lemma 3.4).
        h: (S, D).
        alpha: α (S, n, m); (B, S, n, m) when computed from the input row (AFM, Table 2). For ``"query-key"``:
            (B, S, m), ``alpha[b, s, t]`` = α_{s,t} of query s and key t.
        pairing: which vectors are u and v, i.e. what :meth:`fuse` takes as ``left`` and ``right``:
            ``"upper"``: B_0 × B_0, the field pairs u < v (FM-based models; α is 0 elsewhere) — fuse(e, e);
            ``"inter-layer"``: B_0 × B_{l-1}, GIN's own pairing (Eq. 8; xDeepFM's CIN) — fuse(x_0, x_{l-1});
            ``"swapped"``: B_{l-1} × B_0, u = x_l, v = x_0, the order of Lemmas 3.1–3.2's proofs (DCN, DCN-M)
            — fuse(x_l, x_0); a GIN with ``pair_order="lemma"`` pairs its layers ≥ 2 this way
            (``GINLayer(swapped=True)``, whose ``forward(x_0, x_l)`` is this form's ``fuse(x_l, x_0)``);
            ``"query-key"``: query s × every key t, one subspace per query (AutoInt, Table 2's "partly
            pairing") — fuse(q, k).
        input_dependent: W or α are computed from the input (AFM, AutoInt), so they are not learnable GIN weights.

    Example:
        >>> form = GINForm(torch.eye(2)[None], torch.ones(1, 2), torch.ones(1, 1, 1), "swapped")
        >>> form.subspaces, form.dim
        (1, 2)
        >>> GINForm(torch.eye(2), torch.ones(1, 2), torch.ones(1, 1, 1), "swapped")
        Traceback (most recent call last):
        ...
        ValueError: GINForm.weight must be (S, D, D) or (B, S, D, D), got (2, 2)
    """

    weight: Tensor
    h: Tensor
    alpha: Tensor
    pairing: FormPairing
    input_dependent: bool = False

    def __post_init__(self) -> None:
        if self.pairing not in get_args(FormPairing):
            raise ValueError(f"GINForm.pairing must be one of {get_args(FormPairing)}, got {self.pairing!r}")
        w, h, a = self.weight, self.h, self.alpha
        if w.dim() not in (3, 4) or w.shape[-1] != w.shape[-2]:
            raise ValueError(f"GINForm.weight must be (S, D, D) or (B, S, D, D), got {tuple(w.shape)}")
        if h.dim() != 2 or h.shape[1] != w.shape[-1]:
            raise ValueError(f"GINForm.h must be (S, D) with D = {w.shape[-1]}, got {tuple(h.shape)}")
        S = h.shape[0]
        if self.pairing == "query-key":
            if w.dim() != 4 or a.shape != (w.shape[0], S, w.shape[1]) or not self.input_dependent:
                raise ValueError(f"GINForm with pairing 'query-key' needs weight (B, m, D, D), alpha (B, S, m) and "
                                 f"input_dependent=True, got {tuple(w.shape)}, {tuple(a.shape)}, "
                                 f"{self.input_dependent}")
            return
        if w.shape[-3] != S or a.dim() not in (3, 4) or a.shape[-3] != S:
            raise ValueError(f"GINForm: weight (…, S, D, D), h (S, D) and alpha (…, S, n, m) must agree on S, got "
                             f"{tuple(w.shape)}, {tuple(h.shape)}, {tuple(a.shape)}")
        if (w.dim() == 4 or a.dim() == 4) and not self.input_dependent:
            raise ValueError("GINForm: a per-row weight or alpha (a leading batch axis) needs input_dependent=True")

    @property
    def subspaces(self) -> int:
        """S."""
        return self.h.shape[0]

    @property
    def dim(self) -> int:
        """D."""
        return self.h.shape[1]

    def fuse(self, left: Tensor, right: Tensor) -> Tensor:
        """Run the form: P^s = h^sᵀ Σ_{u,v} α^s_{u,v} (u ⊗ v) ⊙ W (Eq. 12), u from ``left``, v from ``right``.

        ``"query-key"`` forms build every map literally (B·S·m·D² numbers: for small inputs), the others take
        :func:`fuse`'s fast path. See ``pairing`` for what ``left`` and ``right`` are.

        Shape:
            left (B, n, D), right (B, m, D) → (B, S, D)
        """
        if self.pairing != "query-key":
            return fuse(left, right, self.weight, self.h, self.alpha)     # (B, S, D)
        # Z[b, s, t] = (q_s ⊗ k_t) ⊙ W^t: one map per query s and key t
        z = generalized_interaction(left[:, :, None], right[:, None], self.weight[:, None])   # (B, S, m, D, D)
        # hz[b, s, t, j] = Σ_i h[s, i] · Z[b, s, t, i, j]
        hz = torch.einsum("si,bstij->bstj", self.h, z)                   # (B, S, m, D)
        # P[b, s, j] = Σ_t α[b, s, t] · hz[b, s, t, j]
        return torch.einsum("bst,bstj->bsj", self.alpha, hz)             # (B, S, D)

    def per_pair(self) -> GINForm:
        """The same function with one field pair per subspace and α folded into W: W^p = α_p W, α^p one-hot.

        For a one-subspace ``"upper"`` form (FM, FwFM, AFM): Σ_p P^p equals the original P. This is Table 1's
        per-pair view — FwFM's W = diag(r_ij) (Lemma A.4), AFM's W = diag(a_ij) (Lemma A.5) — and IPNN's
        S = P subspaces (Table 2 row IPNN).

        Example:
            >>> form = inner_product_form(3, 2).per_pair()                  # IPNN
            >>> form.weight.shape, form.alpha.shape
            (torch.Size([3, 2, 2]), torch.Size([3, 3, 3]))
        """
        if self.pairing != "upper" or self.subspaces != 1:
            raise ValueError(f"GINForm.per_pair needs a one-subspace 'upper' form, got S = {self.subspaces}, "
                             f"pairing {self.pairing!r}")
        F = self.alpha.shape[-1]
        rows, cols = torch.triu_indices(F, F, 1, device=self.alpha.device)   # pairs i < j, field_pairs order
        a = self.alpha[..., 0, rows, cols]                                   # (P,) or (B, P): α of each pair
        weight = a[..., None, None] * self.weight                            # (…, P, D, D): W^p = α_p W
        return GINForm(weight, self.h.expand(len(rows), -1).clone(), pair_onehot(F, a.dtype, a.device),
                       "upper", self.input_dependent)


def inner_product_form(num_fields: int, dim: int, dtype: torch.dtype | None = None) -> GINForm:
    """FM's (and DeepFM's) pairwise term as GIN: one subspace, W = I, h = 1, α = 1 on every field pair u < v.

    Table 2 row deepFM / IPNN; the W is Table 1's inner product (Lemma A.1, uᵀv = Σ_i Z_ii). Summed over the
    output, Σ_j P_j = Σ_{u<v} ⟨e_u, e_v⟩; IPNN keeps the P inner products apart: :meth:`GINForm.per_pair`.

    Example:
        >>> e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])         # ⟨·,·⟩ of (0,1), (0,2), (1,2): 11, 17, 39
        >>> inner_product_form(3, 2).fuse(e, e).sum().item()            # FM
        67.0
        >>> inner_product_form(3, 2).per_pair().fuse(e, e).sum(-1).tolist()   # IPNN's p
        [[11.0, 17.0, 39.0]]
    """
    alpha = torch.ones(num_fields, num_fields, dtype=dtype).triu(1)[None]     # (1, F, F): α_uv = 1 for u < v
    return GINForm(torch.eye(dim, dtype=dtype)[None], torch.ones(1, dim, dtype=dtype), alpha, "upper")


def hadamard_form(num_fields: int, dim: int, dtype: torch.dtype | None = None) -> GINForm:
    """NFM's Bi-Interaction pooling Σ_{u<v} e_u ⊙ e_v as GIN (Sec. 3.4; Table 1's Hadamard product, Lemma A.2).

    The W, h, α of :func:`inner_product_form` (W = I: (hᵀZ)_j = Z_jj = u_j v_j), read as the vector P itself,
    without FM's sum over j ("NFM removes the constraint on h").

    Example:
        >>> e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])         # [3, 8] + [5, 12] + [15, 24]
        >>> hadamard_form(3, 2).fuse(e, e).tolist()
        [[[23.0, 44.0]]]
    """
    return inner_product_form(num_fields, dim, dtype)


def outer_product_form(num_fields: int, dim: int, dtype: torch.dtype | None = None) -> GINForm:
    """The raw outer product of every field pair (Table 1 row u ⊗ v, Lemma A.3; OPNN's ``"full"`` kernel).

    W_ij = 1 for all i, j, α = 1 on the pairs u < v. The output is the maps Z = u ⊗ v themselves
    (:meth:`GINLayer.interaction_maps`), not a fusion: h is kept at 1 but not used.

    Example:
        >>> e = torch.tensor([[[1., 2.], [3., 4.]]])
        >>> GINLayer.from_form(outer_product_form(2, 2)).interaction_maps(e, e)[0, 0, 0, 1].tolist()
        [[3.0, 4.0], [6.0, 8.0]]
    """
    alpha = torch.ones(num_fields, num_fields, dtype=dtype).triu(1)[None]     # (1, F, F)
    return GINForm(torch.ones(1, dim, dim, dtype=dtype), torch.ones(1, dim, dtype=dtype), alpha, "upper")


def self_attention_form(q: Tensor, k: Tensor, v: Tensor) -> GINForm:
    """Lemma 3.4 (Table 2 row AutoInt): one attention head as GIN on its queries, keys and values.

    One subspace per query s, paired with every key t; h = 1 and

        W^t_ij = (k_t,i / k_t,j) v_t,j,    α_{s,t} = softmax_t(q_sᵀ k_t) / (q_sᵀ k_t),

    so Z_ij = q_s,i k_t,i v_t,j, hᵀZ = (q_sᵀ k_t) v_t and P_s = Σ_t softmax_t(q_sᵀ k_t) v_t. W and α are computed
    from the input, and divide: undefined (NaN) where a key component or a logit q_sᵀ k_t is 0.

    Args:
        q: (B, n, D) queries. k, v: (B, m, D) keys and values (AutoInt: m = n, the fields).

    Example:
        >>> q = k = torch.tensor([[[1., 2.], [2., 1.]]])
        >>> v = torch.tensor([[[1., 0.], [0., 1.]]])
        >>> out = self_attention_form(q, k, v).fuse(q, k)
        >>> torch.allclose(out, (q @ k.mT).softmax(-1) @ v)
        True
    """
    # W[b, t, i, j] = k[b, t, i] / k[b, t, j] · v[b, t, j]  — one D×D map per key, divides by k's components
    w = k[..., :, None] / k[..., None, :] * v[..., None, :]             # (B, m, D, D)
    logits = torch.einsum("bsd,btd->bst", q, k)                          # (B, n, m): q_sᵀ k_t
    alpha = logits.softmax(-1) / logits                                  # (B, n, m), divides by q_sᵀ k_t
    h = torch.ones(q.shape[1], q.shape[-1], dtype=q.dtype, device=q.device)   # (n, D)
    return GINForm(w, h, alpha, "query-key", input_dependent=True)


class GINLayer(nn.Module):
    """One GIN interaction + fusion layer in S subspaces (Eq. 7–13, gated as Eq. 43).

    Args:
        n_left: n = |B_0|, the number of field vectors (left side u of every pair).
        n_right: m = |B_{l-1}|: n for the first layer, the previous layer's S after it.
        dim: D.
        subspaces: S.
        pairing: which (u, v) exist (:func:`pair_mask`); the paper's is ``"all"``.
        alpha_init: starting value of every α (equal, so any order among them is learned).
        swapped: ``False``: u ∈ B_0, v ∈ B_{l-1} (Eq. 8); ``True``: u ∈ B_{l-1}, v ∈ B_0, the order of the
            proofs of Lemmas 3.1–3.2 (module docstring). The same in layer 1, where both sides are B_0, only
            if α is symmetric: GIN swaps layers ≥ 2 only.

    Attributes:
        weight: ``W`` (S, D, D), the generalized interaction's weights per subspace.
        h: ``h`` (S, D), the fusion projection per subspace.
        alpha: ``α`` (S, n_left, n_right); ``alpha[s, a, b]`` weighs the map of field a of B_0 and vector b of
            B_{l-1} (fields in layer 1, subspaces of the previous layer after) in subspace s: Z_{a,b} (u = a) in
            Eq. 8's order, Z_{b,a} (u = b) when ``swapped``.
        gate: buffer ``G`` (S, n_left, n_right) of 0/1: the pairing mask, times AOANet's selection.
        swapped: the order above.

    Shape:
        x0 (B, n_left, D), xprev (B, n_right, D) → (B, S, D)

    Example:
        >>> layer = GINLayer(n_left=2, n_right=2, dim=3, subspaces=4)
        >>> x = torch.randn(5, 2, 3)
        >>> layer(x, x).shape
        torch.Size([5, 4, 3])
        >>> torch.allclose(layer(x, x), layer.forward_literal(x, x), atol=1e-6)
        True
        >>> x0, x1 = torch.tensor([[[1., 2.]]]), torch.tensor([[[3., 5.]]])   # B_0 and B_1, one vector each
        >>> w = torch.tensor([[[0., 1.], [0., 0.]]])                           # only W_01 = 1: P_1 = u_0 v_1
        >>> eq8 = GINLayer.from_form(GINForm(w, torch.ones(1, 2), torch.ones(1, 1, 1), "inter-layer"))
        >>> eq8(x0, x1).tolist()                                               # u = x_0, v = x_1: 1 · 5
        [[[0.0, 5.0]]]
        >>> lemma = GINLayer(1, 1, 2, 1, swapped=True)
        >>> _ = lemma.load_state_dict(eq8.state_dict())
        >>> lemma(x0, x1).tolist()                                             # u = x_1, v = x_0: 3 · 2
        [[[0.0, 6.0]]]
    """

    def __init__(self, n_left: int, n_right: int, dim: int, subspaces: int, pairing: Pairing = "all",
                 alpha_init: float = 1.0, swapped: bool = False) -> None:
        super().__init__()
        for name, value in (("n_left", n_left), ("n_right", n_right), ("dim", dim), ("subspaces", subspaces)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GINLayer.{name} must be an int >= 1, got {value!r}")
        if not isinstance(swapped, bool):
            raise ValueError(f"GINLayer.swapped must be True or False, got {swapped!r}")
        self.n_left, self.n_right, self.dim, self.subspaces = n_left, n_right, dim, subspaces
        self.swapped = swapped
        S, D = subspaces, dim
        # W^s starts near the identity (the Hadamard product, Lemma A.2) with a little noise so the
        # subspaces differ; h^s near all-ones (sum over i, as every lemma of Table 2 sets it).
        self.weight = nn.Parameter(torch.eye(D).repeat(S, 1, 1) + 0.1 * torch.randn(S, D, D) / D ** 0.5)
        self.h = nn.Parameter(torch.ones(S, D) + 0.1 * torch.randn(S, D))
        self.alpha = nn.Parameter(torch.full((S, n_left, n_right), float(alpha_init)))
        self.register_buffer("gate", pair_mask(n_left, n_right, pairing).expand(S, -1, -1).clone())

    @classmethod
    def from_form(cls, form: GINForm) -> GINLayer:
        """A GIN layer whose W, h, α are ``form``'s (dtype and device too); the gate is ``form``'s pairing mask.

        Only for forms with fixed weights: an input-dependent one (AFM, AutoInt) runs by :meth:`GINForm.fuse`.

        Example:
            >>> layer = GINLayer.from_form(inner_product_form(3, 2))      # FM (Table 2 row deepFM)
            >>> e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])
            >>> layer(e, e).sum().item()
            67.0
        """
        if form.input_dependent:
            raise ValueError(f"GINLayer.from_form: the form's W or α depend on the input (pairing "
                             f"{form.pairing!r}); run it with GINForm.fuse instead")
        S, n, m = form.alpha.shape
        layer = cls(n, m, form.dim, S, pairing="upper" if form.pairing == "upper" else "all")
        layer.to(dtype=form.weight.dtype, device=form.weight.device)
        with torch.no_grad():
            layer.weight.copy_(form.weight)
            layer.h.copy_(form.h)
            layer.alpha.copy_(form.alpha)
        return layer

    def gated_alpha(self) -> Tensor:
        """``G ⊙ α`` (S, n_left, n_right): the weights the fusion actually uses."""
        return self.gate * self.alpha

    def forward(self, x0: Tensor, xprev: Tensor) -> Tensor:
        """Fast path (:func:`fuse`): the reordered sums of the module docstring, no D×D map per pair."""
        if self.swapped:                     # u ∈ B_{l-1}, v ∈ B_0: α[s, a, b] weighs (u, v) = (b, a)
            return fuse(xprev, x0, self.weight, self.h, self.gated_alpha().transpose(1, 2))   # (B, S, D)
        return fuse(x0, xprev, self.weight, self.h, self.gated_alpha())  # (B, S, D)

    def interaction_maps(self, x0: Tensor, xprev: Tensor) -> Tensor:
        """Every interaction map Z^s_{u,v} = (u ⊗ v) ⊙ W^s (Eq. 11), literally: (B, S, n, m, D, D).

        ``[b, s, a, c]`` is the map of field a of B_0 and vector c of B_{l-1}: u = x0[a], v = xprev[c] (Eq. 8's
        order), or u = xprev[c], v = x0[a] when ``swapped``. Memory grows as B·S·n·m·D²: for small inputs.
        """
        a = x0[:, None, :, None, :]                                     # (B, 1, n, 1, D)
        c = xprev[:, None, None, :, :]                                  # (B, 1, 1, m, D)
        u, v = (c, a) if self.swapped else (a, c)
        w = self.weight[None, :, None, None]                            # (1, S, 1, 1, D, D)
        return generalized_interaction(u, v, w)                         # (B, S, n, m, D, D)

    def forward_literal(self, x0: Tensor, xprev: Tensor) -> Tensor:
        """Eq. 12 as written: build every Z, weigh by G ⊙ α, sum over pairs, project with hᵀ."""
        z = self.interaction_maps(x0, xprev)                            # (B, S, n, m, D, D)
        # fused[b, s] = Σ_{u,v} a[s, u, v] · Z[b, s, u, v]
        fused = torch.einsum("suv,bsuvij->bsij", self.gated_alpha(), z)  # (B, S, D, D)
        # P[b, s, j] = Σ_i h[s, i] · fused[b, s, i, j]
        return torch.einsum("si,bsij->bsj", self.h, fused)              # (B, S, D)
