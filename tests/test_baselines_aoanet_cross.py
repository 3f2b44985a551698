"""The AOANet paper's cross / attention baselines (DCN, DCN-M, xDeepFM, AutoInt, AutoInt+): every layer against
a hand value and a brute-force loop over features, fields and heads (float64, 1e-12), the AOANet Lemma A.6 / A.7 /
3.3 / A.8 reading of each layer as ``Z = (u ⊗ v) ⊙ W`` with the index conventions the lemma checker relies on,
whole models against loops, parameter counts against formulas, error paths, and a short training run of each."""

from __future__ import annotations

import math

import pytest
import torch
from helpers import batch, brute_fields, schema

from ctrviz.data import Field, Schema
from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
from ctrviz.experiments import run_model
from ctrviz.models import MODELS, count_parameters, create, make_config
from ctrviz.models.autoint import AutoIntPlus, InteractingLayer
from ctrviz.models.dcn import CrossLayer, DCNConfig
from ctrviz.models.dcnv2 import DCNV2, CrossLayerV2
from ctrviz.models.xdeepfm import CINLayer
from ctrviz.train import TrainConfig

NAMES = ("dcn", "dcn-m", "xdeepfm", "autoint", "autoint+")
F, F_D, ROWS = 5, 1, 4 + 6 + 5        # schema(): 5 fields, 1 dense; vocab rows user + item (hist shares) + genres


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.dtype == b.dtype == torch.float64 and a.shape == b.shape and torch.allclose(a, b, rtol=0, atol=1e-12)


def values(*shape: int, start: int = 1) -> torch.Tensor:
    """Distinct float64 values without a seed: sin(start), sin(start + 1), … in ``shape``."""
    n = math.prod(shape)
    return torch.sin(torch.arange(start, start + n, dtype=torch.float64)).reshape(shape)


def set_params(module: torch.nn.Module, start: int = 7) -> torch.nn.Module:
    """float64 and distinct 0.5·sin values in every parameter (a different stretch of sin per parameter)."""
    module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.5 * values(*p.shape, start=start))
            start += p.numel()
    return module


def mlp_params(width: int, hidden: tuple[int, ...]) -> int:
    """Weights + biases of the Linear layers width → hidden… (ReLU has none, no output layer)."""
    total = 0
    for h in hidden:
        total, width = total + width * h + h, h
    return total


def x0_rows(m: torch.nn.Module) -> torch.Tensor:
    """x_0 = [e_1; …; e_F] of :func:`batch` from loops over the embedding table: (B, F·D)."""
    return torch.stack([torch.cat(row) for row in brute_fields(m.embedding, batch())])


# ---------------------------------------------------------------- brute-force layers ---------------------------


def brute_cross(x0: torch.Tensor, xl: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """DCN's x_0 x_lᵀ w for one row, by loops: out[j] = x0[j] · Σ_i xl[i] w[i]."""
    K = len(x0)
    s = sum(xl[i] * w[i] for i in range(K))
    return torch.stack([x0[j] * s for j in range(K)])


def brute_cross_v2(x0: torch.Tensor, xl: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """DCN-M's x_0 ⊙ (W x_l) for one row, by loops: out[i] = x0[i] · Σ_j W[i, j] xl[j]."""
    K = len(x0)
    return torch.stack([x0[i] * sum(W[i, j] * xl[j] for j in range(K)) for i in range(K)])


def brute_cin(x0: torch.Tensor, xprev: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """xDeepFM Eq. 6 for one row, by loops: X[h] = Σ_i Σ_j W[h, i, j] · (X_prev[i] ⊙ X_0[j])."""
    H, H_prev, m = W.shape
    return torch.stack([sum(W[h, i, j] * xprev[i] * x0[j] for i in range(H_prev) for j in range(m))
                        for h in range(H)])


def brute_attention(layer: InteractingLayer, e: torch.Tensor) -> tuple[list, list]:
    """AutoInt Eq. 5–7 for one row e (F, in_dim), by loops over heads, fields and features.

    Returns α[h][i][j] (floats) and ẽ[h][i] (vectors of head_dim)."""
    Fn, K = e.shape
    Wq, Wk, Wv = layer.w_query, layer.w_key, layer.w_value
    alpha, out = [], []
    for h in range(layer.heads):
        q = [sum(e[i, k] * Wq[h, k] for k in range(K)) for i in range(Fn)]
        k_ = [sum(e[i, k] * Wk[h, k] for k in range(K)) for i in range(Fn)]
        v = [sum(e[i, k] * Wv[h, k] for k in range(K)) for i in range(Fn)]
        a_h, o_h = [], []
        for i in range(Fn):
            scores = [math.exp(float(sum(q[i][d] * k_[j][d] for d in range(layer.head_dim)).detach()))
                      for j in range(Fn)]
            a = [s / sum(scores) for s in scores]
            a_h.append(a)
            o_h.append(sum(a[j] * v[j] for j in range(Fn)))
        alpha.append(a_h)
        out.append(o_h)
    return alpha, out


def brute_interacting(layer: InteractingLayer, e: torch.Tensor) -> torch.Tensor:
    """AutoInt Eq. 8–9 for one row: ReLU(ẽ^1 ⊕ … ⊕ ẽ^heads + W_Res e_i), (F, heads·head_dim)."""
    _, out = brute_attention(layer, e)
    rows = []
    for i in range(e.shape[0]):
        cat = torch.cat([out[h][i] for h in range(layer.heads)])
        if layer.w_res is not None:
            cat = cat + torch.stack([sum(e[i, k] * layer.w_res[k, n] for k in range(e.shape[1]))
                                     for n in range(layer.w_res.shape[1])])
        rows.append(torch.relu(cat))
    return torch.stack(rows)


# ---------------------------------------------------------------- DCN ----------------------------------------


def test_cross_layer_by_hand():
    layer = CrossLayer(3).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.0, 0.0, -1.0]))
        layer.bias.copy_(torch.tensor([0.0, 1.0, 0.0]))
    x0, xl = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64), torch.tensor([[4.0, 5.0, 1.0]], dtype=torch.float64)
    # x_lᵀ w = 4 - 1 = 3 → x_0 · 3 = (3, 6, 9); + b + x_l = (7, 12, 10)
    assert layer.interaction(x0, xl).tolist() == [[3.0, 6.0, 9.0]]
    assert layer(x0, xl).tolist() == [[7.0, 12.0, 10.0]]
    assert [tuple(p.shape) for p in layer.parameters()] == [(3,), (3,)]


def test_cross_layer_equals_the_loop_and_aoanet_lemma_a6():
    layer = set_params(CrossLayer(6))
    x0, xl = values(3, 6), values(3, 6, start=40)
    brute = torch.stack([brute_cross(x0[b], xl[b], layer.weight) for b in range(3)])
    assert close(layer.interaction(x0, xl), brute)
    assert close(layer(x0, xl), brute + layer.bias + xl)
    # Lemma 3.1 / A.6: u = x_l, v = x_0, W[i, j] = w_i for every j, Z = (u ⊗ v) ⊙ W, O_j = Σ_i Z_ij
    W = layer.weight[:, None].expand(6, 6)
    Z = torch.einsum("bi,bj->bij", xl, x0) * W
    assert close(layer.interaction(x0, xl), Z.sum(1))


def test_dcn_forward_equals_the_loop():
    m = create("dcn", schema(), {"embed_dim": 2, "layers": 2, "hidden": (4,)})
    set_params(m)
    x0 = x0_rows(m)                                                             # (B, F·D) = (2, 10)
    for b in range(2):
        xl = x0[b]
        for layer in m.cross_layers:
            xl = brute_cross(x0[b], xl, layer.weight) + layer.bias + xl
        deep = m.deep(x0[b:b + 1])[0]
        expected = sum(m.out.weight[0, k] * v for k, v in enumerate(torch.cat([xl, deep]))) + m.out.bias[0]
        assert close(m(batch())[b], expected)
    outs = m.cross_outputs(batch())
    assert outs.shape == (2, 3, 10) and close(outs[:, 0], x0) and close(outs[:, -1], m.cross(x0))


def test_dcn_structures_and_cross_only():
    b = batch()
    stacked = set_params(create("dcn", schema(), {"embed_dim": 2, "hidden": (4,), "structure": "stacked"}))
    assert close(stacked(b), stacked.out(stacked.deep(stacked.cross(x0_rows(stacked)))).squeeze(-1))
    alone = set_params(create("dcn", schema(), {"embed_dim": 2, "hidden": ()}))
    assert alone.deep is None and alone.out.in_features == 10
    assert close(alone(b), alone.out(alone.cross(x0_rows(alone))).squeeze(-1))


def test_dcn_works_with_one_field():
    m = create("dcn", Schema((Field("a", "sparse", vocab_size=3),)), {"embed_dim": 2, "hidden": (4,)})
    assert m.cross_layers[0].weight.shape == (2,)


# ---------------------------------------------------------------- DCN-M ----------------------------------------


def test_cross_layer_v2_by_hand():
    layer = CrossLayerV2(2).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 0.0]]))
        layer.bias.copy_(torch.tensor([1.0, -1.0]))
    x0, xl = torch.tensor([[2.0, 5.0]], dtype=torch.float64), torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    # W x_l = (3, 3) → x_0 ⊙ (3, 3) = (6, 15); x_0 ⊙ (W x_l + b) + x_l = (2·4 + 1, 5·2 + 1)
    assert layer.interaction(x0, xl).tolist() == [[6.0, 15.0]]
    assert layer(x0, xl).tolist() == [[9.0, 11.0]]


def test_cross_layer_v2_equals_the_loop_and_aoanet_lemmas_32_a7():
    layer = set_params(CrossLayerV2(5))
    x0, xl = values(3, 5), values(3, 5, start=30)
    brute = torch.stack([brute_cross_v2(x0[b], xl[b], layer.weight) for b in range(3)])
    assert close(layer.interaction(x0, xl), brute)
    assert close(layer(x0, xl), brute + x0 * layer.bias + xl)
    # Lemma A.7: u = x_0, v = x_l, W = weight, O_i = Σ_j Z_ij
    Z = torch.einsum("bi,bj->bij", x0, xl) * layer.weight
    assert close(layer.interaction(x0, xl), Z.sum(2))
    # Lemma 3.2: u = x_l, v = x_0, W = weightᵀ, O_j = Σ_i Z_ij
    Z = torch.einsum("bi,bj->bij", xl, x0) * layer.weight.T
    assert close(layer.interaction(x0, xl), Z.sum(1))
    assert layer.matrix() is layer.weight and layer.u_weight is None


def test_low_rank_cross_layer_is_the_full_layer_with_w_equal_u_vt():
    low = set_params(CrossLayerV2(5, low_rank=2))
    assert low.weight is None and low.u_weight.shape == low.v_weight.shape == (5, 2)
    W = torch.stack([torch.stack([sum(low.u_weight[i, r] * low.v_weight[j, r] for r in range(2)) for j in range(5)])
                     for i in range(5)])
    assert close(low.matrix(), W)
    full = CrossLayerV2(5).double()
    with torch.no_grad():
        full.weight.copy_(W)
        full.bias.copy_(low.bias)
    x0, xl = values(4, 5), values(4, 5, start=60)
    assert close(low(x0, xl), full(x0, xl))
    assert count_parameters(low) == 2 * 5 * 2 + 5


def test_dcn_m_forward_equals_the_loop():
    m = set_params(create("dcn-m", schema(), {"embed_dim": 2, "hidden": (4,)}))
    assert len(m.cross_layers) == 2 and all(isinstance(x, CrossLayerV2) for x in m.cross_layers)
    x0 = x0_rows(m)
    for b in range(2):
        xl = x0[b]
        for layer in m.cross_layers:
            xl = brute_cross_v2(x0[b], xl, layer.weight) + x0[b] * layer.bias + xl
        z = torch.cat([xl, m.deep(x0[b:b + 1])[0]])
        assert close(m(batch())[b], sum(m.out.weight[0, k] * v for k, v in enumerate(z)) + m.out.bias[0])


# ---------------------------------------------------------------- xDeepFM ----------------------------------------


def test_cin_layer_by_hand():
    layer = CINLayer(prev_maps=2, num_fields=3, maps=2).double()
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[0, 1, 2] = 2.0                 # map 0 = 2 · X_prev[1] ⊙ X_0[2]
        layer.weight[1, 0, 0] = 1.0                 # map 1 = X_prev[0] ⊙ X_0[0] + X_prev[1] ⊙ X_0[1]
        layer.weight[1, 1, 1] = 1.0
    x0 = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]], dtype=torch.float64)
    xprev = torch.tensor([[[1.0, -1.0], [0.5, 2.0]]], dtype=torch.float64)
    assert layer(x0, xprev).tolist() == [[[5.0, 24.0], [2.5, 6.0]]]
    assert layer.weight.shape == (2, 2, 3)          # (H_l, H_{l-1}, m)


def test_cin_layer_equals_the_loop_and_aoanet_lemma_33():
    layer = set_params(CINLayer(prev_maps=3, num_fields=4, maps=2))
    x0, xprev = values(2, 4, 3), values(2, 3, 3, start=50)
    brute = torch.stack([brute_cin(x0[b], xprev[b], layer.weight) for b in range(2)])
    assert close(layer(x0, xprev), brute)
    # Lemma 3.3: map h = GIN subspace h with W = I, h = 1 (u ⊙ v) and α^h_{u,v} = weight[h, i, j],
    # u = row i of X_{l-1}, v = field j of X_0
    Z = torch.einsum("bid,bje,de->bijde", xprev, x0, torch.eye(3, dtype=torch.float64))   # (B, H_prev, m, D, D)
    gin = torch.einsum("hij,bijde->bhe", layer.weight, Z)                                   # hᵀ Σ α Z, h = 1
    assert close(layer(x0, xprev), gin)


def test_cin_fast_path_equals_the_literal_layer_with_gradients():
    g = torch.Generator().manual_seed(0)
    layer = CINLayer(prev_maps=7, num_fields=5, maps=6).double()        # 7 rows: slices of 4 and 3
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=g, dtype=torch.float64))
    x0 = torch.randn(3, 5, 4, generator=g, dtype=torch.float64, requires_grad=True)
    xprev = torch.randn(3, 7, 4, generator=g, dtype=torch.float64, requires_grad=True)
    fast, literal = layer(x0, xprev), layer.forward_literal(x0, xprev)
    assert fast.shape == (3, 6, 4) and close(fast, literal)
    up = torch.randn(3, 6, 4, generator=g, dtype=torch.float64)
    grads = [torch.autograd.grad((y * up).sum(), (x0, xprev, layer.weight)) for y in (fast, literal)]
    assert all(close(a, b) for a, b in zip(*grads, strict=True))
    with torch.autocast("cpu", dtype=torch.bfloat16):                   # the CIN stays float32 under autocast
        out = layer.float()(x0.float(), xprev.float())
    assert out.dtype == torch.float32


def test_xdeepfm_forward_equals_the_loop():
    m = set_params(create("xdeepfm", schema(), {"embed_dim": 2, "cin_maps": (3, 2), "hidden": (4,)}))
    b = batch()
    rows = brute_fields(m.embedding, b)
    for r in range(2):
        x0 = torch.stack(rows[r])                                               # (F, D)
        x1 = brute_cin(x0, x0, m.cin_layers[0].weight)                          # (3, D)
        x2 = brute_cin(x0, x1, m.cin_layers[1].weight)                          # (2, D)
        p = [x.sum() for x in (*x1, *x2)]                                       # p⁺, Σ H_l = 5
        deep = m.deep(x0.flatten()[None])[0]                                    # (4,)
        z = torch.stack([*p, *deep])
        expected = sum(m.out.weight[0, k] * z[k] for k in range(len(z))) + m.linear(b)[r]
        assert m.out.bias is None and close(m(b)[r], expected)
    assert [tuple(x.shape) for x in m.cin(m.embedding(b))] == [(2, 3, 2), (2, 2, 2)]


def test_xdeepfm_cin_only():
    m = set_params(create("xdeepfm", schema(), {"embed_dim": 2, "cin_maps": (3,), "hidden": (), "linear": False}))
    b = batch()
    assert m.linear is None and m.deep is None and m.out.bias is not None
    p = m.cin(m.embedding(b))[0].sum(-1)                                        # (B, 3)
    assert close(m(b), p @ m.out.weight[0] + m.out.bias[0])


# ---------------------------------------------------------------- AutoInt ----------------------------------------


def test_interacting_layer_by_hand():
    layer = InteractingLayer(in_dim=2, head_dim=1, heads=1, residual=True).double()
    with torch.no_grad():
        layer.w_query.copy_(torch.tensor([[[1.0], [0.0]]]))      # q_i = e_i[0]
        layer.w_key.copy_(torch.tensor([[[1.0], [0.0]]]))        # k_i = e_i[0]
        layer.w_value.copy_(torch.tensor([[[0.0], [1.0]]]))      # v_i = e_i[1]
        layer.w_res.copy_(torch.tensor([[0.0], [-10.0]]))        # res_i = -10 e_i[1]
    e = torch.tensor([[[0.0, 1.0], [math.log(3.0), 2.0]]], dtype=torch.float64)
    # field 0: q_0 = 0 → α_0 = (1/2, 1/2), ẽ_0 = (1 + 2)/2, res_0 = -10 → ReLU(-8.5) = 0
    # field 1: q_1 = ln 3, k = (0, ln 3) → scores (e^0, e^{ln²3}) = (1, s), ẽ_1 = (1 + 2s)/(1 + s), res_1 = -20
    s = math.exp(math.log(3.0) ** 2)
    a = layer.attention(e)[0, 0]
    assert a[0].tolist() == [0.5, 0.5] and math.isclose(a[1, 1].item(), s / (1 + s), rel_tol=1e-15)
    assert math.isclose(layer.head_outputs(e)[0, 0, 1, 0].item(), (1 + 2 * s) / (1 + s), rel_tol=1e-15)
    assert layer(e)[0, :, 0].tolist() == [0.0, 0.0]            # both rows negative before the ReLU


@pytest.mark.parametrize("residual", [True, False])
def test_interacting_layer_equals_the_loop_and_aoanet_lemma_a8(residual):
    layer = set_params(InteractingLayer(in_dim=3, head_dim=2, heads=2, residual=residual))
    e = values(2, 4, 3)
    att, heads, out = layer.attention(e), layer.head_outputs(e), layer(e)
    assert att.shape == (2, 2, 4, 4) and heads.shape == (2, 2, 4, 2) and out.shape == (2, 4, 4)
    for b in range(2):
        alpha, tilde = brute_attention(layer, e[b])
        assert close(att[b], torch.tensor(alpha, dtype=torch.float64))
        assert close(heads[b], torch.stack([torch.stack(t) for t in tilde]))
        assert close(out[b], brute_interacting(layer, e[b]))
    assert close(att.sum(-1), torch.ones(2, 2, 4, dtype=torch.float64))
    assert (layer.w_res is None) != residual
    # Lemma A.8: Z^j = (q ⊗ k^j) ⊙ I, O^j = softmax_j(Σ_i Z^j_ii) v^j, summed over j
    q, k, v = layer.project(e)                                               # (B, heads, F, head_dim)
    Z = torch.einsum("bhid,bhje,de->bhijde", q, k, torch.eye(2, dtype=torch.float64))
    weights = Z.diagonal(dim1=-2, dim2=-1).sum(-1).softmax(-1)               # (B, heads, F, F)
    assert close(torch.einsum("bhij,bhjd->bhid", weights, v), heads)


def test_autoint_forward_equals_the_loop():
    for name, extra in (("autoint", {}), ("autoint+", {"hidden": (4,)})):
        m = set_params(create(name, schema(), {"embed_dim": 2, "heads": 2, "head_dim": 2, **extra}))
        b = batch()
        rows = brute_fields(m.embedding, b)
        for r in range(2):
            x = torch.stack(rows[r])                                         # (F, D)
            for layer in m.interacting:
                x = brute_interacting(layer, x)                              # (F, heads·head_dim)
            z = x.flatten() if m.deep is None else torch.cat([x.flatten(), m.deep(torch.cat(rows[r])[None])[0]])
            expected = sum(m.out.weight[0, k] * z[k] for k in range(len(z))) + m.out.bias[0]
            assert close(m(b)[r], expected), name
        maps = m.attention_maps(b)
        assert len(maps) == 2 and maps[1].shape == (2, 2, F, F) and len(m.field_names()) == F
        assert close(maps[0], m.interacting[0].attention(m.embedding(b)))


# ---------------------------------------------------------------- parameters and defaults ----------------------


def test_parameter_counts():
    D, K = 3, F * 3
    emb = ROWS * D + F_D * D
    h = (8, 5)
    assert count_parameters(create("dcn", schema(), {"embed_dim": D, "hidden": h})) == \
        emb + 3 * 2 * K + mlp_params(K, h) + (K + 5 + 1)
    assert count_parameters(create("dcn", schema(), {"embed_dim": D, "hidden": h, "structure": "stacked"})) == \
        emb + 3 * 2 * K + mlp_params(K, h) + (5 + 1)
    assert count_parameters(create("dcn", schema(), {"embed_dim": D, "hidden": ()})) == emb + 3 * 2 * K + K + 1
    assert count_parameters(create("dcn-m", schema(), {"embed_dim": D, "hidden": h})) == \
        emb + 2 * (K * K + K) + mlp_params(K, h) + (K + 5 + 1)
    assert count_parameters(create("dcn-m", schema(), {"embed_dim": D, "hidden": h, "low_rank": 4})) == \
        emb + 2 * (2 * K * 4 + K) + mlp_params(K, h) + (K + 5 + 1)
    lr = ROWS + F_D + 1
    cin = 4 * F * F + 2 * 4 * F                                                     # H_l · H_{l-1} · m
    assert count_parameters(create("xdeepfm", schema(), {"embed_dim": D, "cin_maps": (4, 2), "hidden": h})) == \
        emb + lr + cin + mlp_params(K, h) + (4 + 2 + 5)
    assert count_parameters(create("xdeepfm", schema(), {"embed_dim": D, "cin_maps": (4, 2), "hidden": (),
                                                         "linear": False})) == emb + cin + (4 + 2 + 1)
    heads, d = 2, 4
    att = (3 * heads * D * d + D * heads * d) + (3 * heads * (heads * d) * d + heads * d * heads * d)
    assert count_parameters(create("autoint", schema(), {"embed_dim": D, "heads": heads, "head_dim": d})) == \
        emb + att + F * heads * d + 1
    no_res = 3 * heads * D * d + 3 * heads * (heads * d) * d
    assert count_parameters(create("autoint", schema(), {"embed_dim": D, "heads": heads, "head_dim": d,
                                                         "residual": False})) == emb + no_res + F * heads * d + 1
    assert count_parameters(create("autoint+", schema(), {"embed_dim": D, "heads": heads, "head_dim": d,
                                                          "hidden": h})) == \
        emb + att + mlp_params(K, h) + F * heads * d + 5 + 1


def test_aoanet_table4_and_sec41_defaults():
    for name in NAMES:
        assert name in MODELS and make_config(name).embed_dim == 16
        if name != "autoint":
            cfg = make_config(name)
            assert (cfg.hidden, cfg.activation) == ((512, 256, 64), "relu"), name
    assert make_config("dcn").layers == 3 and make_config("dcn").structure == "parallel"
    assert make_config("dcn-m").layers == 2 and make_config("dcn-m").low_rank is None
    assert make_config("xdeepfm").cin_maps == (100, 100)
    a = make_config("autoint")
    assert (a.layers, a.heads, a.head_dim, a.residual) == (2, 3, 16, True)
    assert not hasattr(a, "hidden")
    m = create("autoint+", schema())
    assert [x.out_features for x in m.deep.net if isinstance(x, torch.nn.Linear)] == [512, 256, 64]
    assert m.interacting[1].w_query.shape == (3, 48, 16)


# ---------------------------------------------------------------- errors -------------------------------------


@pytest.mark.parametrize("name, config, match", [
    ("dcn", {"layers": 0}, "DCNConfig.layers must be an int >= 1, got 0"),
    ("dcn", {"embed_dim": 0}, "DCNConfig.embed_dim must be an int >= 1, got 0"),
    ("dcn", {"structure": "serial"}, "DCNConfig.structure must be 'parallel' or 'stacked', got 'serial'"),
    ("dcn", {"low_rank": 2}, r"unknown config field\(s\) \['low_rank'\]"),
    ("dcn-m", {"layers": 0}, "DCNV2Config.layers must be an int >= 1, got 0"),
    ("dcn-m", {"low_rank": 0}, "DCNV2Config.low_rank must be None or an int >= 1, got 0"),
    ("dcn-m", {"dropout": 1.0}, "dropout must be in"),
    ("xdeepfm", {"cin_maps": ()}, r"XDeepFMConfig.cin_maps must be a non-empty tuple of ints >= 1 .*got \(\)"),
    ("xdeepfm", {"cin_maps": (100, 0)}, r"XDeepFMConfig.cin_maps must be .*got \(100, 0\)"),
    ("xdeepfm", {"embed_dim": 0}, "XDeepFMConfig.embed_dim must be an int >= 1"),
    ("autoint", {"heads": 0}, "AutoIntConfig.heads must be an int >= 1, got 0"),
    ("autoint", {"layers": 0}, "AutoIntConfig.layers must be an int >= 1, got 0"),
    ("autoint", {"head_dim": 0}, "AutoIntConfig.head_dim must be an int >= 1, got 0"),
    ("autoint", {"hidden": (8,)}, r"unknown config field\(s\) \['hidden'\]"),
    ("autoint+", {"heads": 0}, "AutoIntPlusConfig.heads must be an int >= 1, got 0"),
    ("autoint+", {"dropout": 1.0}, "dropout must be in"),
])
def test_config_errors(name, config, match):
    with pytest.raises(ValueError, match=match):
        create(name, schema(), config)


@pytest.mark.parametrize("make, match", [
    (lambda: CrossLayer(0), "CrossLayer.dim must be >= 1, got 0"),
    (lambda: CrossLayerV2(0), "CrossLayerV2.dim must be >= 1, got 0"),
    (lambda: CrossLayerV2(4, low_rank=0), "CrossLayerV2.low_rank must be None or >= 1, got 0"),
    (lambda: CINLayer(0, 3, 2), "CINLayer sizes must be >= 1, got prev_maps=0"),
    (lambda: InteractingLayer(4, 0, 2), "InteractingLayer sizes must be >= 1, got in_dim=4, head_dim=0"),
])
def test_layer_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("name", ["xdeepfm", "autoint", "autoint+"])
def test_field_crossing_models_need_two_fields(name):
    with pytest.raises(ValueError, match="needs at least 2 fields, the schema has 1"):
        create(name, Schema((Field("a", "sparse", vocab_size=3),)))


def test_subclasses_refuse_the_base_config():
    with pytest.raises(TypeError, match="DCNV2 needs a DCNV2Config"):
        DCNV2(schema(), DCNConfig())
    with pytest.raises(TypeError, match="AutoIntPlus needs an AutoIntPlusConfig"):
        AutoIntPlus(schema(), make_config("autoint"))


# ---------------------------------------------------------------- training -----------------------------------


@pytest.fixture(scope="module")
def synthetic():
    # 6 context fields with strong main effects, 2 planted pairs and short histories: learnable in one epoch of
    # 1,600 rows (with the default 20 fields and T = 20 one epoch sits on the sum-pooled-history plateau, AUC < 0.5)
    return make_synthetic(SyntheticConfig(n_rows=2000, n_fields=6, vocab_size=10, n_planted_pairs=2,
                                          main_strength=1.0, seq_len=4, seed=0))


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", NAMES)
def test_each_model_learns_the_synthetic_clicks(synthetic, one_thread, name):
    # 25 Adam steps at lr 1e-2 (batch 64), AOANet's default sizes; on CPU with seed 0 the test AUCs are 0.70–0.86
    row, result = run_model(name, synthetic, TrainConfig(epochs=1, batch_size=64, lr=1e-2, progress=False,
                                                         device="cpu"))
    assert math.isfinite(result.history["train_loss"].iloc[0]) and math.isfinite(row["logloss"])
    assert result.history["valid_auc"].iloc[0] > 0.6, result.history
    assert row["auc"] > 0.65, row
