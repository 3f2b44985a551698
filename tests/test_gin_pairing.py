"""GIN's two pair orders (``GINConfig.pair_order``), float64.

AOANet Eq. 8 pairs u ∈ B_0 with v ∈ B_{l-1} (``"eq8"``); the proofs of Lemmas 3.1–3.2 set u = x_l, v = x_0
(``"lemma"``). With B_0 = {x_0} (one field of width K, Table 2's ``B_0 = {concat(A)}``), S = 1, h = 1, α = 1 a
2-layer GIN computes
    eq8:   P_1 = x_0 ⊙ (W_1ᵀ x_0),  P_2 = P_1 ⊙ (W_2ᵀ x_0)
    lemma: P_1 = x_0 ⊙ (W_1ᵀ x_0),  P_2 = x_0 ⊙ (W_2ᵀ P_1)
and a 2-layer DCN-M's interaction terms are x_1 = x_0 ⊙ (W^D_1 x_0), x_2 = x_0 ⊙ (W^D_2 x_1).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ctrviz.data import Batch, Field, Schema
from ctrviz.models import create, make_config, parse_overrides
from ctrviz.models.aoanet import AOANet, AOANetConfig, kept_at_ratio
from ctrviz.models.dcn import CrossLayer
from ctrviz.models.dcnv2 import CrossLayerV2
from ctrviz.models.gin import GIN, GINConfig
from ctrviz.nn.gin import GINLayer, fuse

F64 = torch.float64
N, K = 64, 4                                     # rows, width of x_0 (exact relations)
N_FIT, K_FIT = 512, 12                           # the fits: the Eq. 8 residual grows with K (~0.2 at 4, ~0.6 at 16)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def one_field_gin(order: str, x0: torch.Tensor, **overrides) -> tuple[GIN, Batch]:
    """A GIN on one sparse field of width K whose embedding rows 1..N are x0 (so B_0 = {x_0}), and the batch
    reading those rows; float64."""
    schema = Schema((Field("x", "sparse", vocab_size=len(x0) + 2),))
    config = GINConfig(embed_dim=x0.shape[1], layers=2, subspaces=1, hidden=(), pair_order=order, **overrides)
    model = GIN(schema, config).double()
    with torch.no_grad():
        model.embedding.table.weight[2:2 + len(x0)] = x0
    ids = torch.arange(2, 2 + len(x0))[:, None]
    return model, Batch(ids, torch.zeros(len(x0), 0), {}, torch.zeros(len(x0)))


def set_layer(layer: GINLayer, weight: torch.Tensor) -> None:
    """W = ``weight`` (K, K), h = 1, α = 1 (Lemmas 3.1–3.2's settings)."""
    with torch.no_grad():
        layer.weight.copy_(weight[None])
        layer.h.fill_(1.0)
        layer.alpha.fill_(1.0)


def rel_residual(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).detach().norm() / b.detach().norm())


def test_embedding_rows_are_x0():
    x0 = torch.randn(N, K, generator=_gen(0), dtype=F64)
    model, batch = one_field_gin("lemma", x0)
    assert torch.equal(model.embedding(batch)[:, 0], x0)


# ---------------------------------------------------------------- (a) lemma order = DCN, DCN-M ----------------


@pytest.mark.parametrize("kind", ["dcn", "dcn-m"])
def test_lemma_order_two_layers_are_two_cross_layers_exactly(kind):
    gen = _gen(1)
    x0 = torch.randn(N, K, generator=gen, dtype=F64)
    crosses = [(CrossLayer(K) if kind == "dcn" else CrossLayerV2(K)).double() for _ in range(2)]
    with torch.no_grad():
        for c in crosses:
            for p in c.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=F64))
    model, batch = one_field_gin("lemma", x0)
    assert [layer.swapped for layer in model.gin_layers] == [False, True]
    for layer, c in zip(model.gin_layers, crosses, strict=True):
        set_layer(layer, c.as_gin().weight[0])             # DCN: W_ij = w_i (Eq. 20); DCN-M: W = (W^D)ᵀ

    # the interaction terms alone: x_{l+1} = x_0 ⊙ (W^D x_l)  (DCN: x_0 (x_lᵀ w))
    with torch.no_grad():
        want = x0
        for c in crosses:
            want = c.interaction(x0, want)
        outs = model.fusion_outputs(batch)                  # B_1, B_2: (N, 1, K) each
    assert float((outs[1][:, 0] - want).abs().max()) < 1e-12 * float(want.abs().max())

    # the whole cross layer: the model's GIN layers + the bias and residual the lemmas add outside GIN
    xl_dcn, xl_gin = x0, x0
    for layer, c in zip(model.gin_layers, crosses, strict=True):
        with torch.no_grad():
            term = layer(x0[:, None], xl_gin[:, None])[:, 0]   # (u, v) = (x_l, x_0) from layer 2 on
            bias = c.bias if kind == "dcn" else x0 * c.bias
            xl_gin = term + bias + xl_gin
            xl_dcn = c(x0, xl_dcn)
    assert float((xl_gin - xl_dcn).abs().max()) < 1e-12 * float(xl_dcn.abs().max())

    # the literal D×D maps agree with the fast path in the lemma order too
    literal, _ = one_field_gin("lemma", x0, literal=True)
    literal.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert float((literal.fusion_outputs(batch)[1] - outs[1]).abs().max()) < 1e-12 * float(want.abs().max())


# ---------------------------------------------------------------- (b) Eq. 8 order cannot ----------------------


def eq8_best_fit(x0: torch.Tensor, target: torch.Tensor, restarts: int = 6, sweeps: int = 60,
                 seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Least squares of a 2-layer Eq. 8 GIN (B_0 = {x_0}, S = 1; h and α folded into M = diag(h) W α) to ``target``.

    Output j is x0_j (M_1ᵀ x0)_j (M_2ᵀ x0)_j: column j of M_1 and of M_2 touch only output j, and each enters
    linearly once the other is fixed. Alternating least squares per column, from the identity and random
    starts; the best (M_1, M_2) is returned.
    """
    gen = _gen(seed)
    n, k = x0.shape
    best, best_err = None, float("inf")
    starts = [torch.eye(k, dtype=F64)] + [torch.randn(k, k, generator=gen, dtype=F64) for _ in range(restarts)]
    for a in starts:
        b = torch.zeros(k, k, dtype=F64)
        for _ in range(sweeps):
            for fixed, free in ((a, b), (b, a)):
                # design[j, r, i] = x0[r, j] · (x0 @ fixed)[r, j] · x0[r, i]: output j is design[j] @ free[:, j]
                design = (x0 * (x0 @ fixed)).T[:, :, None] * x0[None]                # (k, n, k)
                sol = torch.linalg.lstsq(design, target.T[:, :, None]).solution       # (k, k, 1)
                free.copy_(sol[:, :, 0].T)
        err = rel_residual(x0 * (x0 @ a) * (x0 @ b), target)
        if err < best_err:
            best, best_err = (a.clone(), b.clone()), err
    return best


def eq8_residual(x0: torch.Tensor, target: torch.Tensor) -> float:
    """The best fit, loaded into a real Eq. 8 GIN model, run through it, and its relative residual."""
    m1, m2 = eq8_best_fit(x0, target)
    model, batch = one_field_gin("eq8", x0)
    set_layer(model.gin_layers[0], m1)
    set_layer(model.gin_layers[1], m2)
    with torch.no_grad():
        out = model.fusion_outputs(batch)[1][:, 0]
    assert torch.allclose(out, x0 * (x0 @ m1) * (x0 @ m2), rtol=1e-10, atol=1e-12)   # the formula is the model's
    return rel_residual(out, target)


@torch.no_grad()
def dcnm_target(x0: torch.Tensor, w1: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
    layers = [CrossLayerV2(x0.shape[1]).double(), CrossLayerV2(x0.shape[1]).double()]
    layers[0].weight.copy_(w1)
    layers[1].weight.copy_(w2)
    return layers[1].interaction(x0, layers[0].interaction(x0, x0))         # x_0 ⊙ (W_2 (x_0 ⊙ (W_1 x_0)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_eq8_order_cannot_fit_a_random_two_layer_dcn_m(seed):
    gen = _gen(10 + seed)
    x0 = torch.randn(N_FIT, K_FIT, generator=gen, dtype=F64)
    w1, w2 = (torch.randn(K_FIT, K_FIT, generator=gen, dtype=F64) for _ in range(2))
    target = dcnm_target(x0, w1, w2)
    residual = eq8_residual(x0, target)
    print(f"seed {seed}: Eq. 8 order, best relative residual {residual:.3f}")
    assert residual > 0.4                                  # 0.51–0.54 at K = 12

    # the same target in the lemma order: exact with W = (W^D)ᵀ (the fitted structure is the only difference)
    model, batch = one_field_gin("lemma", x0)
    set_layer(model.gin_layers[0], w1.T)
    set_layer(model.gin_layers[1], w2.T)
    with torch.no_grad():
        assert rel_residual(model.fusion_outputs(batch)[1][:, 0], target) < 1e-12


def test_the_fit_is_a_real_fit_a_diagonal_dcn_m_is_fitted_exactly():
    """With diagonal W^D the Eq. 8 order can express DCN-M (x2_j = x0_j · W1_jj x0_j · W2_jj x0_j): the same
    fitter finds it, so the residual above is the order's, not the fitter's."""
    gen = _gen(20)
    x0 = torch.randn(N_FIT, K_FIT, generator=gen, dtype=F64)
    w1, w2 = (torch.diag(torch.randn(K_FIT, generator=gen, dtype=F64)) for _ in range(2))
    assert eq8_residual(x0, dcnm_target(x0, w1, w2)) < 1e-8


# ---------------------------------------------------------------- (c) the default is unchanged -----------------


def small_batch() -> tuple[Schema, Batch]:
    schema = Schema(tuple(Field(n, "sparse", vocab_size=6) for n in "abc"))
    return schema, Batch(torch.tensor([[2, 3, 4], [5, 2, 3], [4, 4, 5]]), torch.zeros(3, 0), {}, torch.ones(3))


def old_gin_outputs(model: GIN, batch: Batch) -> list[torch.Tensor]:
    """The code before the switch: every layer ``fuse(x_0, x_{l-1})`` with its gated α (Eq. 8)."""
    x0 = model.embedding(batch)
    outs, prev = [], x0
    for layer in model.gin_layers:
        prev = fuse(x0, prev, layer.weight, layer.h, layer.gate * layer.alpha)
        outs.append(prev)
    return outs


def test_default_is_eq8_and_bit_identical_to_the_code_before():
    assert GINConfig().pair_order == "eq8" and AOANetConfig().pair_order == "eq8"
    schema, batch = small_batch()
    torch.manual_seed(0)
    default = GIN(schema, GINConfig(embed_dim=4, layers=3, hidden=(8,)))
    torch.manual_seed(0)
    explicit = GIN(schema, GINConfig(embed_dim=4, layers=3, hidden=(8,), pair_order="eq8"))
    assert not any(layer.swapped for layer in default.gin_layers)
    with torch.no_grad():
        assert torch.equal(default(batch), explicit(batch))
        for new, old in zip(default.fusion_outputs(batch), old_gin_outputs(default, batch), strict=True):
            assert torch.equal(new, old)


def test_layer_1_is_the_same_in_both_orders_and_layer_2_differs():
    schema, batch = small_batch()
    torch.manual_seed(0)
    eq8 = GIN(schema, GINConfig(embed_dim=4, hidden=(8,)))
    lemma = GIN(schema, GINConfig(embed_dim=4, hidden=(8,), pair_order="lemma"))
    lemma.load_state_dict(eq8.state_dict())
    with torch.no_grad():
        a, b = eq8.fusion_outputs(batch), lemma.fusion_outputs(batch)
        assert torch.equal(a[0], b[0])
        assert not torch.allclose(a[1], b[1])
        assert not torch.equal(eq8(batch), lemma(batch))


def test_lemma_order_in_every_path_literal_aux_interactions():
    schema, batch = small_batch()
    torch.manual_seed(0)
    model = GIN(schema, GINConfig(embed_dim=3, layers=3, subspaces=2, hidden=(), pair_order="lemma",
                                  alpha_l1=0.1)).double()
    literal = GIN(schema, dataclasses.replace(model.config, literal=True)).double()
    literal.load_state_dict(model.state_dict())
    with torch.no_grad():
        for p in model.gin_layers.parameters():
            p.add_(0.3 * torch.randn_like(p))
        literal.load_state_dict(model.state_dict())
        for fast, slow in zip(model.fusion_outputs(batch), literal.fusion_outputs(batch), strict=True):
            assert torch.allclose(fast, slow, rtol=1e-12, atol=1e-12)
        logits, aux = model.forward_with_aux(batch)
        assert torch.equal(logits, model(batch))
        assert torch.allclose(aux, 0.1 * sum(layer.alpha.abs().sum() for layer in model.gin_layers))

    # B_2 by hand: P^s = Σ_{a ∈ fields, b ∈ B_1} α^s_{a,b} x_0[a] ⊙ (M^sᵀ B_1[b]), M = diag(h) W
    x0 = model.embedding(batch)
    b1 = model.fusion_outputs(batch)[0]
    layer = model.gin_layers[1]
    want = torch.zeros(3, 2, 3, dtype=F64)
    for s in range(2):
        m = layer.h[s][:, None] * layer.weight[s]
        for a in range(3):
            for b in range(2):
                want[:, s] += layer.alpha[s, a, b] * x0[:, a] * (b1[:, b] @ m)
    with torch.no_grad():
        assert torch.allclose(model.fusion_outputs(batch)[1], want.detach(), rtol=1e-12, atol=1e-12)

    t = model.interactions()                                   # layer ≥ 2: u (left) is a P of B_{l-1}
    row = t[(t.layer == 2) & (t.subspace == 1) & (t.left == "P1.0") & (t.right == "c")]
    assert len(row) == 1 and row.alpha.iloc[0] == float(layer.alpha[1, 2, 0].detach())
    assert model.node_names(2) == (["P1.0", "P1.1"], ["a", "b", "c"]) and model.node_names(1)[0] == ["a", "b", "c"]
    assert len(t) == 2 * 9 + 2 * 2 * (3 * 2)


def test_aoanet_prunes_and_retrains_in_the_lemma_order():
    schema, batch = small_batch()
    torch.manual_seed(0)
    model = AOANet(schema, AOANetConfig(embed_dim=3, subspaces=2, hidden=(), ratio=0.5, pair_order="lemma"))
    seen = {}

    def fit(gin, stage):
        seen["config"] = gin.config
        with torch.no_grad():
            for layer in gin.gin_layers:
                layer.alpha.copy_(torch.arange(layer.alpha.numel(), dtype=torch.float32).view_as(layer.alpha))
        return {"auc": 0.5, "logloss": 0.7, "seconds": 0.0}

    model.selection_stage(fit)
    assert seen["config"].pair_order == "lemma" and model.gin_layers[1].swapped
    kept = model.interactions()["kept"]
    assert kept.tolist() == kept_at_ratio(model.selection, 0.5, "subspace").tolist()
    assert 0 < kept.mean() < 1
    pruned = model(batch)                                      # the gates act in the swapped layer
    with torch.no_grad():
        for layer in model.gin_layers:
            layer.gate.fill_(1.0)
    assert not torch.allclose(pruned, model(batch))


def test_pair_order_is_validated_and_reaches_the_config_from_the_command_line_and_registry():
    with pytest.raises(ValueError, match="GINConfig.pair_order must be 'eq8' or 'lemma', got 'swap'"):
        GINConfig(pair_order="swap")
    with pytest.raises(ValueError, match="AOANetConfig.pair_order"):
        AOANetConfig(pair_order="Eq8")
    assert parse_overrides("aoanet", ["gin.pair_order=lemma"]) == {"pair_order": "lemma"}
    assert make_config("aoanet", {"gin.pair_order": "lemma"}).gin().pair_order == "lemma"
    schema, _ = small_batch()
    assert create("gin", schema, {"pair_order": "lemma"}).gin_layers[1].swapped


def test_run_cache_keys_of_default_configs_ignore_the_added_fields():
    """Runs cached before ``pair_order`` / ``micro_last_activation`` existed keep their keys; a non-default value
    is a different run."""
    from ctrviz.experiments import RunSpec, run_key
    from ctrviz.train import TrainConfig

    key = lambda model, **cfg: run_key(RunSpec(model, config=cfg, seed=0), TrainConfig(), "fp")   # noqa: E731
    assert key("gin") == key("gin", pair_order="eq8") != key("gin", pair_order="lemma")
    assert key("can") == key("can", micro_last_activation=True) != key("can", micro_last_activation=False)
