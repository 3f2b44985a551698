"""The AOANet paper's equivalence lemmas, checked numerically in float64 on random inputs.

Reference: L. Lang et al., "Architecture and Operation Adaptive Network for Online Recommendations",
KDD 2021: Table 1 and Appendix A (operation level, Lemmas A.1–A.8), Table 2 and Lemmas 3.1–3.4 (layer
level), plus the CAN paper's FM special case (Zhou et al., CAN Sec. 4.2).

One source for W, h and α: every baseline layer in ``ctrviz.models`` says how GIN expresses it — its ``as_gin()``
returns a :class:`ctrviz.nn.gin.GINForm` (``CrossLayer.as_gin``: Lemma 3.1, ``FwFMLayer.as_gin``: Table 2 row
FwFM, …), and the settings without a layer are :func:`~ctrviz.nn.gin.inner_product_form` (FM, DeepFM, IPNN),
:func:`~ctrviz.nn.gin.hadamard_form` (NFM) and :func:`~ctrviz.nn.gin.outer_product_form`. Every check takes its
baseline's layer with random weights, builds the generalized interaction ``Z = (u ⊗ v) ⊙ W``
(:func:`ctrviz.nn.gin.generalized_interaction`) or a GIN layer (:meth:`ctrviz.nn.gin.GINLayer.from_form`,
:meth:`ctrviz.nn.gin.GINForm.fuse`) from that form, and compares with the layer's own output, over several shapes
and seeds. :func:`check_all` returns one row per relation; ``python -m ctrviz lemmas`` prints it and exits
non-zero if any relation fails.

One table: each row of :data:`LEMMAS` names the setting it checks (``Lemma.setting``, one of
:func:`lemma_weight_models`); :func:`lemma_weights` draws that setting's W from the same ``as_gin()`` forms, says
its h, α and pairing in words, and lists the rows that name it.

Two things the paper leaves implicit, found by these checks:

- **Pairing order for DCN and DCN-M (Lemmas 3.1, 3.2, A.6).** GIN's fusion ``hᵀ Z`` sums over the
  index of u, the *left* vector, and its pairing is (u ∈ B_0, v ∈ B_{l-1}). DCN's term x_0 (x_lᵀ w)
  sums over x_l, so the proofs set u = x_l, v = x_0 — the *swapped* pairing (B_{l-1}, B_0). With GIN's
  own order the same W gives x_l ⊙ (Wᵀ x_0), another function. Lemma A.7 instead keeps u = x_0 and
  fuses by *row* sums O_i = Σ_j Z_ij = (Z h)_i, which ``hᵀ Z`` is not. Both forms are checked here, and
  the rows say which. The GIN model offers both orders for its layers ≥ 2: ``GINConfig(pair_order="lemma")``
  (``GINLayer(swapped=True)``) is the proofs' order, in which a stack of GIN layers is a stack of DCN/DCN-M terms.
- **AutoInt (Lemma 3.4) is degenerate.** Its construction ``W_ij = (k_i / k_j) v_j`` divides by the
  key's components and ``α_j = softmax_j(q_sᵀ k_j) / (q_sᵀ k_j)`` by the attention logit; the
  relation holds on generic inputs but is undefined when a key component or a logit is 0 (NaN), and
  loses precision near 0. W also depends on the input, so it is not a learnable GIN weight: AutoInt
  lies in GIN's function class only with input-dependent W and α. The rows of kind ``"degenerate"``
  show these cases; they are explained failures, not part of the pass/fail verdict.

Example:
    >>> table = check_all(seeds=(0,))
    >>> bool(table.query("kind == 'relation'")["passed"].all())
    True
    >>> lemma_weights("dcn")["lemmas"]                  # the LEMMAS rows whose setting is "dcn"
    ('A.6 DCN', '3.1 DCN (3 layers)', "3.1 GIN's pairing order")
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd
import torch
from torch import Tensor

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Field, Pair, Schema
from ctrviz.models.afm import AFMLayer, pair_products
from ctrviz.models.autoint import InteractingLayer
from ctrviz.models.dcn import CrossLayer
from ctrviz.models.dcnv2 import CrossLayerV2
from ctrviz.models.fwfm import FwFMLayer
from ctrviz.models.nfm import bi_interaction
from ctrviz.models.pnn import OuterProductLayer, outer_products
from ctrviz.models.xdeepfm import CINLayer
from ctrviz.nn.coaction import CoAction, CoActionConfig
from ctrviz.nn.gin import (
    GINForm,
    GINLayer,
    generalized_interaction,
    hadamard_form,
    inner_product_form,
    outer_product_form,
    self_attention_form,
)
from ctrviz.nn.pairs import fm_interaction, inner_product_layer

TOLERANCE = 1e-10
DTYPE = torch.float64
SHAPES = ((4, 3, 2), (3, 5, 4), (2, 8, 16))   # (B, F, D)


@dataclass(frozen=True)
class Lemma:
    """One relation: ``error(gen, B, F, D)`` → max |lhs − rhs| on random inputs of that shape.

    ``setting`` is the model of :func:`lemma_weight_models` whose GIN form the row checks (``None`` for CAN's
    row, which is no GIN setting).
    """

    name: str
    reference: str
    relation: str
    error: Callable[[torch.Generator, int, int, int], float]
    kind: Literal["relation", "degenerate"] = "relation"
    note: str = ""
    setting: str | None = None


def _randn(gen: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=gen, dtype=DTYPE)


def _err(a: Tensor, b: Tensor) -> float:
    """max |a − b| (NaN if either has a NaN, inf if an inf)."""
    return float((a - b).abs().max())


def _randomize(module: torch.nn.Module, gen: torch.Generator) -> torch.nn.Module:
    """``module`` in float64 with every parameter drawn N(0, 1) from ``gen`` (a copy of the baseline's weights)."""
    module.to(DTYPE)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(_randn(gen, *p.shape))
    return module


def _ones(*shape: int) -> Tensor:
    return torch.ones(*shape, dtype=DTYPE)


# ---------------------------------------------------------------- operation level: Table 1, Appendix A -------


def _a1_inner(gen: torch.Generator, B: int, F: int, D: int) -> float:
    u, v = _randn(gen, B, D), _randn(gen, B, D)
    z = generalized_interaction(u, v, inner_product_form(2, D, DTYPE).weight[0])   # (B, D, D), W = I
    return _err(z.diagonal(dim1=-2, dim2=-1).sum(-1), (u * v).sum(-1))  # Σ_i Z_ii vs uᵀv


def _a2_hadamard(gen: torch.Generator, B: int, F: int, D: int) -> float:
    u, v = _randn(gen, B, D), _randn(gen, B, D)
    z = generalized_interaction(u, v, hadamard_form(2, D, DTYPE).weight[0])        # (B, D, D), W = I
    return _err(z.diagonal(dim1=-2, dim2=-1), u * v)                    # [Z_11 … Z_dd] vs u ⊙ v


def _a3_outer(gen: torch.Generator, B: int, F: int, D: int) -> float:
    u, v = _randn(gen, B, D), _randn(gen, B, D)
    z = generalized_interaction(u, v, outer_product_form(2, D, DTYPE).weight[0])   # (B, D, D), W = 1
    return _err(z, outer_products(torch.stack([u, v], 1))[:, 0])        # vs OPNN's f_i f_jᵀ


def _a4_fwfm(gen: torch.Generator, B: int, F: int, D: int) -> float:
    u, v = _randn(gen, B, D), _randn(gen, B, D)
    fwfm = _randomize(FwFMLayer(2), gen)                                 # one pair u, v: r (1,)
    w = fwfm.as_gin(D).per_pair().weight[0]                              # W = diag(r, …, r) (Lemma A.4)
    z = generalized_interaction(u, v, w)                                 # (B, D, D)
    return _err(z.diagonal(dim1=-2, dim2=-1).sum(-1), fwfm(torch.stack([u, v], 1)))


def _a5_afm(gen: torch.Generator, B: int, F: int, D: int) -> float:
    e = _randn(gen, B, F, D)
    afm = _randomize(AFMLayer(D, attention_factor=3), gen)
    w = afm.as_gin(e).per_pair().weight                                  # (B, P, D, D) W = diag(α, …, α) per row
    rows, cols = torch.triu_indices(F, F, 1)
    z = generalized_interaction(e[:, rows], e[:, cols], w)               # (B, P, D, D)
    o = z.diagonal(dim1=-2, dim2=-1)                                     # (B, P, D) α (u ⊙ v)
    a = afm.attention(e)                                                 # (B, P) α = MLP(u ⊙ v), softmaxed
    return max(_err(o, a[..., None] * pair_products(e)), _err(o.sum(1), afm(e)))


def _a6_dcn(gen: torch.Generator, B: int, F: int, D: int) -> float:
    K = F * D
    x0, xl = _randn(gen, B, K), _randn(gen, B, K)
    cross = _randomize(CrossLayer(K), gen)
    z = generalized_interaction(xl, x0, cross.as_gin().weight[0])        # W_ij = w_i; u = x_l, v = x_0 (swapped)
    return _err(z.sum(-2), cross.interaction(x0, xl))                    # O_j = Σ_i Z_ij vs x_0 (x_lᵀ w)


def _a7_dcnm(gen: torch.Generator, B: int, F: int, D: int) -> float:
    K = F * D
    x0, xl = _randn(gen, B, K), _randn(gen, B, K)
    cross = _randomize(CrossLayerV2(K), gen)
    w = cross.as_gin().weight[0].mT                                      # W^D: Lemma 3.2's (W^D)ᵀ transposed back
    z = generalized_interaction(x0, xl, w)                               # u = x_0, v = x_l: Lemma 3.2's Z, transposed
    return _err(z.sum(-1), cross.interaction(x0, xl))                    # O_i = Σ_j Z_ij vs x_0 ⊙ (W^D x_l)


def _a8_autoint(gen: torch.Generator, B: int, F: int, D: int) -> float:
    e = _randn(gen, B, F, D)
    layer = _randomize(InteractingLayer(D, head_dim=D, heads=2, residual=False), gen)
    q, k, v = layer.project(e)                                           # (B, H, F, d) each
    eye = inner_product_form(F, q.shape[-1], DTYPE).weight[0]            # W = I: Σ_i Z_ii = qᵀk (Lemma A.1)
    # Z^j for query i: (q_i ⊗ k_j) ⊙ I, every head/query/key at once
    z = generalized_interaction(q[:, :, :, None], k[:, :, None], eye)    # (B, H, F, F, d, d)
    logits = z.diagonal(dim1=-2, dim2=-1).sum(-1)                        # (B, H, F, F) Σ_i Z^j_ii
    o = torch.einsum("bhij,bhjd->bhid", logits.softmax(-1), v)           # (B, H, F, d) Σ_j softmax · v_j
    return _err(o, layer.head_outputs(e))


# ---------------------------------------------------------------- layer level: Table 2, Lemmas 3.1–3.4 -------


def _fm_layer(gen: torch.Generator, B: int, F: int, D: int) -> float:
    e = _randn(gen, B, F, D)
    gin = GINLayer.from_form(inner_product_form(F, D, DTYPE))            # W = I, h = 1, α = 1 on i < j
    return _err(gin(e, e).sum((1, 2)), fm_interaction(e))                # Σ_j P_j vs FM's Σ_{i<j} ⟨e_i, e_j⟩


def _ipnn_layer(gen: torch.Generator, B: int, F: int, D: int) -> float:
    e = _randn(gen, B, F, D)
    gin = GINLayer.from_form(inner_product_form(F, D, DTYPE).per_pair())   # one subspace per pair
    return _err(gin(e, e).sum(-1), inner_product_layer(e))               # (B, P) vs IPNN's p


def _fwfm_layer(gen: torch.Generator, B: int, F: int, D: int) -> float:
    e = _randn(gen, B, F, D)
    fwfm = _randomize(FwFMLayer(F), gen)
    gin = GINLayer.from_form(fwfm.as_gin(D))                             # α_ij = r_ij (free α, Table 2)
    return _err(gin(e, e).sum((1, 2)), fwfm(e))


def _afm_layer(gen: torch.Generator, B: int, F: int, D: int) -> float:
    e = _randn(gen, B, F, D)
    afm = _randomize(AFMLayer(D, attention_factor=3), gen)
    p = afm.as_gin(e).fuse(e, e)                                         # (B, 1, D), α = attention net, per row
    return _err(p[:, 0], afm(e))                                         # vs Σ α_ij (e_i ⊙ e_j)


def _nfm_layer(gen: torch.Generator, B: int, F: int, D: int) -> float:
    e = _randn(gen, B, F, D)
    gin = GINLayer.from_form(hadamard_form(F, D, DTYPE))
    return _err(gin(e, e)[:, 0], bi_interaction(e))                      # P vs NFM's Bi-Interaction vector


def _opnn_layer(gen: torch.Generator, B: int, F: int, D: int) -> float:
    e = _randn(gen, B, F, D)
    opnn = _randomize(OuterProductLayer(F, D, kernel="mat"), gen)
    gin = GINLayer.from_form(opnn.as_gin())                              # W^p = K_p, α one-hot on pair p
    return _err(gin(e, e).sum(-1), opnn(e))                              # Σ_ij u_i v_j K_ij vs OPNN's p


def _dcn_layer(gen: torch.Generator, B: int, F: int, D: int) -> float:
    """A 3-layer cross network, each layer a GIN layer (swapped pairing) + bias + residual."""
    K = F * D
    x0 = _randn(gen, B, K)
    crosses = [_randomize(CrossLayer(K), gen) for _ in range(3)]
    xl_dcn, xl_gin = x0, x0
    for c in crosses:
        gin = GINLayer.from_form(c.as_gin())
        xl_gin = gin(xl_gin[:, None], x0[:, None])[:, 0] + c.bias + xl_gin   # u = x_l, v = x_0
        xl_dcn = c(x0, xl_dcn)
    return _err(xl_gin, xl_dcn)


def _dcnm_layer(gen: torch.Generator, B: int, F: int, D: int) -> float:
    """Two DCN-M layers: GIN with W = (W^D)ᵀ, swapped pairing, + x_0 ⊙ b + x_l."""
    K = F * D
    x0 = _randn(gen, B, K)
    crosses = [_randomize(CrossLayerV2(K), gen) for _ in range(2)]
    xl_dcn, xl_gin = x0, x0
    for c in crosses:
        gin = GINLayer.from_form(c.as_gin())
        xl_gin = gin(xl_gin[:, None], x0[:, None])[:, 0] + x0 * c.bias + xl_gin
        xl_dcn = c(x0, xl_dcn)
    return _err(xl_gin, xl_dcn)


def _dcn_gin_order(gen: torch.Generator, B: int, F: int, D: int) -> float:
    """GIN's own pairing (u = x_0, v = x_l) with the same W gives x_l ⊙ (Wᵀ x_0): that identity, checked."""
    K = F * D
    x0, xl = _randn(gen, B, K), _randn(gen, B, K)
    w = _randn(gen, K, K)
    gin = GINLayer.from_form(GINForm(w[None], _ones(1, K), _ones(1, 1, 1), "inter-layer"))
    return _err(gin(x0[:, None], xl[:, None])[:, 0], xl * (x0 @ w))   # (x0 @ w)_j = Σ_i x0_i W_ij


def _xdeepfm_layer(gen: torch.Generator, B: int, F: int, D: int) -> float:
    """Two CIN layers of 4 and 3 maps: S_l = H_l, W = I, h = 1, α[s, u, v] = CIN weight[s, v, u]."""
    e = _randn(gen, B, F, D)
    cins = [_randomize(CINLayer(F, F, 4), gen), _randomize(CINLayer(4, F, 3), gen)]
    x_cin, x_gin = e, e
    for c in cins:
        gin = GINLayer.from_form(c.as_gin(D))                            # (H_l, m, H_{l-1}) α
        x_gin, x_cin = gin(e, x_gin), c(e, x_cin)                        # (B, H_l, D)
    return _err(x_gin, x_cin)


def _autoint_layer(gen: torch.Generator, B: int, F: int, D: int) -> float:
    e = _randn(gen, B, F, D)
    layer = _randomize(InteractingLayer(D, head_dim=D, heads=2, residual=False), gen)
    q, k, _ = layer.project(e)                                           # (B, H, F, d)
    p = torch.stack([layer.as_gin(e, h).fuse(q[:, h], k[:, h]) for h in range(q.shape[1])], 1)
    return _err(p, layer.head_outputs(e))


def _autoint_zero_key(gen: torch.Generator, B: int, F: int, D: int) -> float:
    e = _randn(gen, B, F, D)
    layer = _randomize(InteractingLayer(D, head_dim=D, heads=1, residual=False), gen)
    q, k, v = (t[:, 0] for t in layer.project(e))
    k = k.clone()
    k[:, 0, 0] = 0.0                                                     # one key component exactly 0
    want = torch.einsum("bst,btd->bsd", torch.einsum("bsd,btd->bst", q, k).softmax(-1), v)
    return _err(self_attention_form(q, k, v).fuse(q, k), want)


def _autoint_orthogonal(gen: torch.Generator, B: int, F: int, D: int) -> float:
    e = _randn(gen, B, F, D)
    layer = _randomize(InteractingLayer(D, head_dim=D, heads=1, residual=False), gen)
    q, k, v = (t[:, 0] for t in layer.project(e))
    q = q.clone()
    k0 = k[:, 0]
    q[:, 0] -= (q[:, 0] * k0).sum(-1, keepdim=True) / (k0 * k0).sum(-1, keepdim=True) * k0   # q_0 ⊥ k_0
    want = torch.einsum("bst,btd->bsd", torch.einsum("bsd,btd->bst", q, k).softmax(-1), v)
    return _err(self_attention_form(q, k, v).fuse(q, k), want)


def _can_fm(gen: torch.Generator, B: int, F: int, D: int) -> float:
    """CAN Sec. 4.2: one 1×D micro-MLP layer, no bias, no activation, order 1 → ⟨P_induction, P_feed⟩."""
    schema = Schema((Field("a", "sparse", vocab_size=F + 2), Field("b", "sparse", vocab_size=F + 2)),
                    pairs=(Pair("a", "b"),))
    unit = CoAction(schema, config=CoActionConfig(layers=(D, 1), bias=False, activation="none", orders=1)).to(DTYPE)
    _randomize(unit, gen)
    ids = torch.randint(2, F + 2, (B, 2), generator=gen)
    out = unit(Batch(ids, torch.zeros(B, 0, dtype=DTYPE), {}, torch.zeros(B, dtype=DTYPE)))[:, 0, 0]   # (B,)
    (weight, _), = unit.micro_mlp(0, ids[:, 0])                          # (B, 1, D, 1): P_induction of a
    feed = unit.feed_vectors(0, ids[:, 1])                               # (B, D) P_feed of b
    return _err(out, (weight[:, 0, :, 0] * feed).sum(-1))


# ---------------------------------------------------------------- the table ----------------------------------

_SWAP = "pairing (u, v) = (x_l, x_0), the proof's order; GIN's (x_0, x_l) is the next row"

LEMMAS: tuple[Lemma, ...] = (
    Lemma("A.1 inner product", "Table 1; Lemma A.1", "uᵀv = Σ_i Z_ii, W = I", _a1_inner, setting="inner"),
    Lemma("A.2 Hadamard product", "Table 1; Lemma A.2", "u ⊙ v = [Z_11 … Z_dd], W = I", _a2_hadamard,
          setting="hadamard"),
    Lemma("A.3 outer product (OPNN)", "Table 1; Lemma A.3", "u ⊗ v = Z, W = 1 (vs pnn.outer_products)", _a3_outer,
          setting="outer"),
    Lemma("A.4 FwFM", "Table 1; Lemma A.4", "r uᵀv = Σ_i Z_ii, W = diag(r) (vs fwfm_interaction)", _a4_fwfm,
          setting="fwfm"),
    Lemma("A.5 AFM", "Table 1; Lemma A.5", "α(u ⊙ v) = diag Z, W = diag(α), α = AFM attention", _a5_afm,
          setting="afm"),
    Lemma("A.6 DCN", "Table 1; Lemma A.6", "x_0 (x_lᵀ w) = [Σ_i Z_ij]_j, W_ij = w_i, u = x_l, v = x_0", _a6_dcn,
          setting="dcn"),
    Lemma("A.7 DCN-M", "Table 1; Lemma A.7", "x_0 ⊙ (W^D x_l) = [Σ_j Z_ij]_i (row sums), W = W^D, u = x_0",
          _a7_dcnm, setting="dcn-m"),
    Lemma("A.8 AutoInt attention", "Table 1; Lemma A.8", "Σ_j softmax_j(Σ_i Z^j_ii) v_j, Z^j = (q ⊗ k_j) ⊙ I",
          _a8_autoint, setting="autoint"),
    Lemma("3.x FM / DeepFM", "Table 2 row deepFM", "Σ_j P_j = FM, L = S = 1, W = I, h = 1, α = 1 (i < j)", _fm_layer,
          setting="inner"),
    Lemma("3.x IPNN", "Table 2 row IPNN", "Σ_j P^s_j = p_s, S = P subspaces, α^s one-hot on pair s, W = I",
          _ipnn_layer, setting="inner"),
    Lemma("3.x FwFM", "Table 2 row FwFM", "Σ_j P_j = FwFM, α_ij = r_ij free, W = I, h = 1", _fwfm_layer,
          setting="fwfm"),
    Lemma("3.x AFM", "Table 2 row AFM", "P = Σ α_ij (e_i ⊙ e_j), α = AFM attention (per row), W = I", _afm_layer,
          setting="afm"),
    Lemma("3.x NFM", "Sec. 3.4 FM-based models", "P = Bi-Interaction, W = I, h = 1, α = 1 (i < j)", _nfm_layer,
          setting="hadamard"),
    Lemma("3.x OPNN", "Table 2 row OPNN", "Σ_j P^s_j = uᵀ K_s v, S = P, W^s = K_s (mat kernel), α one-hot",
          _opnn_layer, setting="opnn"),
    Lemma("3.1 DCN (3 layers)", "Table 2 row DCN; Lemma 3.1",
          "x_{l+1} = P(x_l, x_0) + b + x_l, W_ij = w_i, h = 1, α = 1", _dcn_layer, note=_SWAP, setting="dcn"),
    Lemma("3.1 GIN's pairing order", "Sec. 3.3.2 Eq. 8", "P(x_0, x_l) = x_l ⊙ (Wᵀ x_0), h = 1, α = 1",
          _dcn_gin_order, note="why DCN/DCN-M need the swapped pairing", setting="dcn"),
    Lemma("3.2 DCN-M (2 layers)", "Table 2 row DCN-M; Lemma 3.2",
          "x_{l+1} = P(x_l, x_0) + x_0 ⊙ b + x_l, W = (W^D)ᵀ, h = 1, α = 1", _dcnm_layer, note=_SWAP,
          setting="dcn-m"),
    Lemma("3.3 xDeepFM CIN (2 layers)", "Table 2 row xDeepFM; Lemma 3.3",
          "P_l^s = CIN map s, S_l = H_l, W = I, h = 1, α^s_{u,v} = W^s_{v,u}", _xdeepfm_layer, setting="xdeepfm"),
    Lemma("3.4 AutoInt", "Table 2 row AutoInt; Lemma 3.4",
          "P_s = Σ_t softmax(q_sᵀk_t) v_t, W_ij = k_i/k_j v_j, α = softmax/(qᵀk), h = 1", _autoint_layer,
          note="W and α depend on the input; defined only when every k_i ≠ 0 and q_sᵀk_t ≠ 0", setting="autoint"),
    Lemma("3.4 AutoInt, a key component = 0", "Lemma 3.4", "W_ij = k_i/k_j v_j divides by k_j = 0",
          _autoint_zero_key, kind="degenerate",
          note="0/0 in W → NaN, though AutoInt's own output is finite: the construction, not AutoInt, fails",
          setting="autoint"),
    Lemma("3.4 AutoInt, q_s ⊥ k_t", "Lemma 3.4", "α = softmax/(q_sᵀk_t) divides by q_sᵀk_t = 0",
          _autoint_orthogonal, kind="degenerate",
          note="the 1/(qᵀk) of α meets the qᵀk of hᵀZ as (1/0)·0: NaN or a large rounding error",
          setting="autoint"),
    Lemma("CAN FM special case", "CAN Sec. 4.2", "1×D micro-MLP, no bias/activation, order 1 = ⟨P_ind, P_feed⟩",
          _can_fm),
)


def check(lemma: Lemma, seeds: tuple[int, ...] = (0, 1, 2), shapes: tuple[tuple[int, int, int], ...] = SHAPES,
          tolerance: float = TOLERANCE) -> dict[str, object]:
    """One lemma over every shape × seed → a row: lemma, reference, relation, kind, shapes, max_abs_error, passed."""
    errors = []
    for (B, F, D), seed in itertools.product(shapes, seeds):
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            errors.append(lemma.error(gen, B, F, D))
    worst = float("nan") if any(e != e for e in errors) else max(errors)
    return {"lemma": lemma.name, "reference": lemma.reference, "relation": lemma.relation, "kind": lemma.kind,
            "shapes": " ".join(f"{B}×{F}×{D}" for B, F, D in shapes), "seeds": len(seeds),
            "max_abs_error": worst, "passed": bool(worst <= tolerance), "note": lemma.note}


def check_all(seeds: tuple[int, ...] = (0, 1, 2), shapes: tuple[tuple[int, int, int], ...] = SHAPES,
              tolerance: float = TOLERANCE) -> pd.DataFrame:
    """Every lemma of :data:`LEMMAS` → a DataFrame, one row each (see :func:`check`).

    Shapes are (B, F, D): batch, fields, embedding dim (the cross networks use K = F·D). Rows of kind
    ``"degenerate"`` are the explained failure cases (module docstring); judge the others by ``passed``.
    """
    return pd.DataFrame([check(lemma, seeds, shapes, tolerance) for lemma in LEMMAS])


# ---------------------------------------------------------------- the settings, for figures ------------------


@dataclass(frozen=True)
class _Setting:
    """One setting of AOANet Tables 1–2 as :func:`lemma_weights` shows it: ``form(gen, F, D)`` → its GIN form (from
    the baseline's own layer, random weights) and a label per W; the rest says W, h, α and the pairing in words.
    Its lemmas are the :data:`LEMMAS` rows that name it."""

    models: str
    axis: str
    constraint: str
    h: str
    alpha: str
    pairing: str
    form: Callable[[torch.Generator, int, int], tuple[GINForm, list[str]]]


def _pair_labels(F: int, name: str = "", values: Tensor | None = None) -> list[str]:
    """``"pair (i, j)"`` for every i < j in ``field_pairs`` order, with ``": name = value"`` when given."""
    rows, cols = torch.triu_indices(F, F, 1)
    labels = [f"pair ({i}, {j})" for i, j in zip(rows.tolist(), cols.tolist(), strict=True)]
    if values is None:
        return labels
    return [f"{label}: {name} = {x:.2f}" for label, x in zip(labels, values.tolist(), strict=True)]


def _inner_form(gen: torch.Generator, F: int, D: int) -> tuple[GINForm, list[str]]:
    return inner_product_form(F, D, DTYPE), ["every pair"]


def _hadamard_form(gen: torch.Generator, F: int, D: int) -> tuple[GINForm, list[str]]:
    return hadamard_form(F, D, DTYPE), ["every pair"]


def _outer_form(gen: torch.Generator, F: int, D: int) -> tuple[GINForm, list[str]]:
    return outer_product_form(F, D, DTYPE), ["every pair"]


def _opnn_form(gen: torch.Generator, F: int, D: int) -> tuple[GINForm, list[str]]:
    return _randomize(OuterProductLayer(F, D, kernel="mat"), gen).as_gin(), _pair_labels(F)


def _fwfm_form(gen: torch.Generator, F: int, D: int) -> tuple[GINForm, list[str]]:
    fwfm = _randomize(FwFMLayer(F), gen)
    return fwfm.as_gin(D).per_pair(), _pair_labels(F, "r", fwfm.r)       # Lemma A.4: W = r·I per pair


def _afm_form(gen: torch.Generator, F: int, D: int) -> tuple[GINForm, list[str]]:
    e = _randn(gen, 1, F, D)
    afm = _randomize(AFMLayer(D, attention_factor=3), gen)
    return afm.as_gin(e).per_pair(), _pair_labels(F, "α", afm.attention(e)[0])   # Lemma A.5, one input row


def _dcn_form(gen: torch.Generator, F: int, D: int) -> tuple[GINForm, list[str]]:
    return _randomize(CrossLayer(F * D), gen).as_gin(), ["one cross layer"]


def _dcnm_form(gen: torch.Generator, F: int, D: int) -> tuple[GINForm, list[str]]:
    return _randomize(CrossLayerV2(F * D), gen).as_gin(), ["one cross layer"]


def _xdeepfm_form(gen: torch.Generator, F: int, D: int) -> tuple[GINForm, list[str]]:
    H = 4
    return _randomize(CINLayer(F, F, H), gen).as_gin(D), [f"CIN map {s}" for s in range(H)]


def _autoint_form(gen: torch.Generator, F: int, D: int) -> tuple[GINForm, list[str]]:
    e = _randn(gen, 1, F, D)
    layer = _randomize(InteractingLayer(D, head_dim=D, heads=1, residual=False), gen)
    return layer.as_gin(e), [f"key t = {t}" for t in range(F)]           # one head, one input row


_FM_PAIRS = "B_0 × B_0, pairs i < j"

_SETTINGS: dict[str, _Setting] = {
    "inner": _Setting(
        models="FM, DeepFM, IPNN", axis="pair", constraint="W = diag(1, …, 1) (Table 1 row uᵀv)",
        h="h = [1, …, 1]: hᵀZ = u ⊙ v, and Σ_j of it is uᵀv = Σ_i Z_ii",
        alpha="FM/DeepFM: α = 1 on every pair i < j, one subspace; IPNN: S = P subspaces, α^s one-hot on pair s",
        pairing=_FM_PAIRS, form=_inner_form),
    "hadamard": _Setting(
        models="NFM (Bi-Interaction), xDeepFM", axis="pair", constraint="W = diag(1, …, 1) (Table 1 row u ⊙ v)",
        h="h = [1, …, 1]: P = [Z_11, …, Z_dd] = u ⊙ v (no sum over j: NFM removes FM's constraint on h)",
        alpha="α = 1 on every pair i < j (NFM's Bi-Interaction pooling Σ_{i<j} e_i ⊙ e_j)",
        pairing=_FM_PAIRS, form=_hadamard_form),
    "outer": _Setting(
        models="OPNN (raw outer products)", axis="pair", constraint="W_ij = 1 for all i, j (Table 1 row u ⊗ v)",
        h="none: Z = u ⊗ v itself is the output (OPNN feeds all of Z to its MLP)",
        alpha="none (one map per pair)", pairing=_FM_PAIRS, form=_outer_form),
    "opnn": _Setting(
        models="OPNN (kernel 'mat')", axis="subspace = pair",
        constraint="W^s = K_s, OPNN's learned D×D kernel of pair s (no constraint)",
        h="h = [1, …, 1]; Σ_j P^s_j = Σ_ij u_i v_j K_ij = uᵀ K_s v",
        alpha="S = P subspaces, α^s one-hot on pair s", pairing=_FM_PAIRS, form=_opnn_form),
    "fwfm": _Setting(
        models="FwFM", axis="pair", constraint="W = diag(r_ij, …, r_ij) per pair (Lemma A.4)",
        h="h = [1, …, 1]; Σ_i Z_ii = r_ij uᵀv",
        alpha="Table 2 puts r in α instead: W = I, α_ij = r_ij free (FwFM removes FM's constraint on α)",
        pairing=_FM_PAIRS, form=_fwfm_form),
    "afm": _Setting(
        models="AFM", axis="pair",
        constraint="W = diag(α_ij, …, α_ij), α = AFM's attention net of u ⊙ v (Lemma A.5)",
        h="h = [1, …, 1]: P = Σ_{i<j} α_ij (e_i ⊙ e_j)",
        alpha="α_ij = softmax over pairs of AFM's attention MLP(u ⊙ v): one value per pair and input row",
        pairing=_FM_PAIRS, form=_afm_form),
    "dcn": _Setting(
        models="DCN", axis="layer", constraint="W_ij = w_i for every j: all columns equal (Lemma 3.1, Eq. 20)",
        h="h = [1, …, 1]: P_j = Σ_i u_i w_i v_j = (x_lᵀ w) x_0,j",
        alpha="α = [1] (one pair per layer); + b_l + x_l added outside GIN",
        pairing="(u, v) = (x_l, x_0): the proof's order, the swap of GIN's (B_0, B_{l-1}); B_0 = {concat(A)}",
        form=_dcn_form),
    "dcn-m": _Setting(
        models="DCN-M (DCN-V2)", axis="layer",
        constraint="W = (W^D)ᵀ, no constraint (Lemma 3.2); Lemma A.7 keeps W = W^D with u = x_0 and row sums",
        h="h = [1, …, 1]: P_j = Σ_i W^D_ji u_i v_j = x_0,j (W^D x_l)_j",
        alpha="α = [1] (one pair per layer); + x_0 ⊙ b_l + x_l added outside GIN",
        pairing="(u, v) = (x_l, x_0): the proof's order; B_0 = {concat(A)}", form=_dcnm_form),
    "xdeepfm": _Setting(
        models="xDeepFM (CIN)", axis="subspace = CIN feature map",
        constraint="W = diag(1, …, 1) in every subspace, S_l = H_l (Lemma 3.3)",
        h="h = [1, …, 1]: hᵀZ = u ⊙ v",
        alpha="α^s_{u,v} = CIN weight W^s_{v,u}: the CIN's learned map weights are GIN's α",
        pairing="B_0 × B_{l-1}, all pairs (inter-layer)", form=_xdeepfm_form),
    "autoint": _Setting(
        models="AutoInt", axis="key t",
        constraint="W^t_ij = (k_t,i / k_t,j) v_t,j per key t (Lemma 3.4); Table 1's Lemma A.8 uses W = I with a "
                   "softmax fusion",
        h="h = [1, …, 1]: hᵀZ^t = (q_sᵀ k_t) v_t",
        alpha="α_{s,t} = softmax_t(q_sᵀ k_t) / (q_sᵀ k_t); n subspaces, one per query s",
        pairing="query s × every key t (partly pairing, Table 2)", form=_autoint_form),
}


def lemma_weight_models() -> tuple[str, ...]:
    """The models :func:`lemma_weights` knows, in the order of Tables 1–2.

    Example:
        >>> lemma_weight_models()[:3]
        ('inner', 'hadamard', 'outer')
    """
    return tuple(_SETTINGS)


def lemma_weights(model: str, fields: int = 3, dim: int = 4, seed: int = 0) -> dict[str, object]:
    """The W a lemma sets for ``model`` (AOANet Tables 1–2, Appendix A), with its h, α and pairing in words.

    W is the baseline layer's own ``as_gin()`` form (FwFM's r, DCN's w, DCN-M's W^D, OPNN's kernels, AFM's
    attention, AutoInt's keys and values; :mod:`ctrviz.nn.gin`'s forms for FM, NFM and the outer product), with
    weights drawn N(0, 1) from ``seed`` in float64 as :func:`check` draws them. FwFM and AFM are shown one W per
    pair (Lemmas A.4–A.5: ``GINForm.per_pair``). AFM and AutoInt's W depend on the input: shown for one random row.

    Args:
        model: one of :func:`lemma_weight_models`: ``"inner"`` (FM, DeepFM, IPNN), ``"hadamard"`` (NFM),
            ``"outer"``, ``"opnn"``, ``"fwfm"``, ``"afm"``, ``"dcn"``, ``"dcn-m"``, ``"xdeepfm"``, ``"autoint"``.
        fields: F ≥ 2 (pairs i < j: P = F(F−1)/2; the cross networks use K = F·D).
        dim: D ≥ 1.
        seed: the generator's seed.

    Returns:
        dict with ``model``, ``models`` (the paper's names), ``weight`` (S, D, D) float64 — one W per
        subspace/pair/key, K×K for DCN and DCN-M —, ``labels`` (S names), ``axis`` (what S indexes),
        ``constraint``, ``h``, ``alpha``, ``pairing`` (text), ``input_dependent`` (bool) and ``lemmas`` (names
        of the :data:`LEMMAS` rows whose ``setting`` is ``model``, for :func:`check`).

    Example:
        >>> lemma_weights("inner", dim=2)["weight"].tolist()           # W = I
        [[[1.0, 0.0], [0.0, 1.0]]]
        >>> w = lemma_weights("dcn", fields=2, dim=2)["weight"][0]    # K = 4, W_ij = w_i for every j
        >>> w.shape, bool((w == w[:, :1]).all())
        (torch.Size([4, 4]), True)
        >>> lemma_weights("fwfm", fields=3)["weight"].shape           # one r·I per pair
        torch.Size([3, 4, 4])
    """
    if model not in _SETTINGS:
        raise ValueError(f"lemma_weights: model must be one of {list(_SETTINGS)}, got {model!r}")
    for name, value, low in (("fields", fields, 2), ("dim", dim, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"lemma_weights: {name} must be an int >= {low}, got {value!r}")
    setting = _SETTINGS[model]
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        form, labels = setting.form(gen, fields, dim)
    weight = form.weight[0] if form.input_dependent else form.weight    # (S, D, D): one input row when per row
    return {"model": model, "weight": weight, "labels": labels, "axis": setting.axis, "models": setting.models,
            "constraint": setting.constraint, "h": setting.h, "alpha": setting.alpha, "pairing": setting.pairing,
            "input_dependent": form.input_dependent,
            "lemmas": tuple(lemma.name for lemma in LEMMAS if lemma.setting == model)}
