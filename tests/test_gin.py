"""GIN and AOANet: the generalized interaction against brute-force loops, the fast path against the literal
D×D maps, the α table, gate selection by |α|, and the two-stage AOANet run."""

from __future__ import annotations

import itertools

import pytest
import torch

from ctrviz.data import Field, Schema
from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
from ctrviz.experiments import run_model
from ctrviz.models import count_parameters, create, make_config
from ctrviz.models.aoanet import AOANet, AOANetConfig, select_gates
from ctrviz.models.gin import GIN, GINConfig
from ctrviz.nn.gin import GINLayer, fuse, generalized_interaction, pair_mask
from ctrviz.train import TrainConfig


def brute_layer(layer: GINLayer, x0: torch.Tensor, xprev: torch.Tensor) -> torch.Tensor:
    """P[b, s, j] = Σ_{u,v} G α[s,u,v] Σ_i h[s,i] x0[b,u,i] xprev[b,v,j] W[s,i,j], by Python loops."""
    B, n, D = x0.shape
    m, S = xprev.shape[1], layer.subspaces
    out = torch.zeros(B, S, D, dtype=x0.dtype)
    a = layer.gate * layer.alpha
    for b, s, u, v, i, j in itertools.product(range(B), range(S), range(n), range(m), range(D), range(D)):
        out[b, s, j] += a[s, u, v] * layer.h[s, i] * x0[b, u, i] * xprev[b, v, j] * layer.weight[s, i, j]
    return out


def random_layer(n: int, m: int, D: int, S: int, pairing: str = "all", seed: int = 0) -> GINLayer:
    torch.manual_seed(seed)
    layer = GINLayer(n, m, D, S, pairing).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p))
    return layer


def schema(fields: int = 4) -> Schema:
    return Schema(tuple(Field(f"f{k}", "sparse", vocab_size=5) for k in range(fields)))


def test_generalized_interaction_by_hand():
    u, v = torch.tensor([1., 2.]), torch.tensor([3., 5.])
    w = torch.tensor([[1., 10.], [100., 1000.]])
    assert generalized_interaction(u, v, w).tolist() == [[3., 50.], [600., 10000.]]   # u_i v_j W_ij


@torch.no_grad()
@pytest.mark.parametrize("n,m,D,S,pairing", [(3, 3, 2, 1, "all"), (4, 4, 3, 2, "upper"), (3, 2, 2, 3, "all"),
                                             (4, 4, 2, 2, "distinct")])
def test_layer_equals_the_brute_force_loop(n, m, D, S, pairing):
    layer = random_layer(n, m, D, S, pairing)
    x0, xprev = torch.randn(2, n, D, dtype=torch.float64), torch.randn(2, m, D, dtype=torch.float64)
    assert torch.allclose(layer(x0, xprev), brute_layer(layer, x0, xprev), atol=1e-10, rtol=0)


@torch.no_grad()
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n,m,D,S", [(5, 5, 4, 3), (7, 3, 8, 3), (2, 2, 16, 1)])
def test_fast_path_equals_the_literal_maps_in_float64(n, m, D, S, seed):
    layer = random_layer(n, m, D, S, seed=seed)
    with torch.no_grad():
        layer.gate.copy_((torch.rand(S, n, m) > 0.3).double())      # some pairs pruned
    x0, xprev = torch.randn(3, n, D, dtype=torch.float64), torch.randn(3, m, D, dtype=torch.float64)
    err = (layer(x0, xprev) - layer.forward_literal(x0, xprev)).abs().max().item()
    assert err <= 1e-10
    assert layer.interaction_maps(x0, xprev).shape == (3, S, n, m, D, D)


def test_fuse_with_per_row_alpha_equals_one_row_at_a_time():
    torch.manual_seed(0)
    x = torch.randn(3, 4, 2, dtype=torch.float64)
    w, h, a = torch.randn(2, 2, 2, dtype=torch.float64), torch.randn(2, 2, dtype=torch.float64), \
        torch.randn(3, 2, 4, 4, dtype=torch.float64)
    rows = torch.cat([fuse(x[b:b + 1], x[b:b + 1], w, h, a[b]) for b in range(3)])
    assert torch.allclose(fuse(x, x, w, h, a), rows, atol=1e-12)


def test_pair_masks_and_their_errors():
    assert pair_mask(2, 3, "all").tolist() == [[1., 1., 1.], [1., 1., 1.]]
    assert pair_mask(3, 3, "distinct").tolist() == [[0., 1., 1.], [1., 0., 1.], [1., 1., 0.]]
    with pytest.raises(ValueError, match="same fields"):
        pair_mask(2, 3, "upper")
    with pytest.raises(ValueError, match="pairing must be"):
        pair_mask(2, 2, "lower")
    with pytest.raises(ValueError, match="GINLayer.subspaces must be an int >= 1"):
        GINLayer(2, 2, 2, 0)


def test_gin_parameters_follow_the_formula():
    n, D, S, L = 4, 3, 2, 2
    m = create("gin", schema(n), {"embed_dim": D, "subspaces": S, "layers": L, "hidden": (8, 4)})
    emb = 4 * 5 * D
    layers = (S * D * D + S * D + S * n * n) + (S * D * D + S * D + S * n * S)     # W, h, α per layer
    mlp = (n * D * 8 + 8) + (8 * 4 + 4)
    out = S * D + 4 + 1                                                           # w ∈ R^{D·S + |H|}, b
    assert count_parameters(m) == emb + layers + mlp + out


def test_gin_output_is_eq_16_of_the_last_layer_and_the_deep_part():
    m = create("gin", schema(3), {"embed_dim": 2, "subspaces": 2, "hidden": (4,)})
    b = make_batch(3)
    with torch.no_grad():
        q = m.fusion_outputs(b)[-1].flatten(1)                                    # (B, S·D)
        h = m.deep(m.embedding(b).flatten(1))                                     # (B, 4)
        want = torch.cat([q, h], 1) @ m.out.weight[0] + m.out.bias
        assert torch.allclose(m(b), want, atol=1e-6)
        literal = GIN(m.schema, GINConfig(embed_dim=2, subspaces=2, hidden=(4,), literal=True))
        literal.load_state_dict(m.state_dict())
        assert torch.allclose(literal(b), m(b), atol=1e-6)


def make_batch(fields: int, rows: int = 5):
    from ctrviz.data import Batch
    g = torch.Generator().manual_seed(0)
    return Batch(torch.randint(2, 5, (rows, fields), generator=g), torch.zeros(rows, 0), {}, torch.zeros(rows))


def test_interactions_table_lists_every_alpha_with_its_names():
    m = create("gin", schema(3), {"embed_dim": 2, "subspaces": 2, "pairing": "upper"})
    t = m.interactions()
    assert list(t.columns) == ["layer", "subspace", "left", "right", "alpha", "kept"]
    layer1, layer2 = t[t.layer == 1], t[t.layer == 2]
    assert len(layer1) == 2 * 3 and len(layer2) == 2 * 3 * 2                      # S·P, then S·n·S
    assert set(zip(layer1.left, layer1.right, strict=True)) == {("f0", "f1"), ("f0", "f2"), ("f1", "f2")}
    assert set(layer2.right) == {"P1.0", "P1.1"} and t.kept.all() and (t.alpha == 1.0).all()


def test_gin_config_errors():
    with pytest.raises(ValueError, match="GINConfig.layers must be an int >= 1"):
        GINConfig(layers=0)
    with pytest.raises(ValueError, match="GINConfig.pairing must be"):
        GINConfig(pairing="triangle")
    with pytest.raises(ValueError, match="alpha_l1 must be a number >= 0"):
        GINConfig(alpha_l1=-1.0)
    with pytest.raises(ValueError, match="at least 2 fields"):
        create("gin", schema(1), {"pairing": "upper"})
    with pytest.raises(ValueError, match="unknown config field"):
        make_config("gin", {"subspace": 2})


def test_alpha_l1_is_added_as_an_auxiliary_loss():
    m = create("gin", schema(3), {"embed_dim": 2, "subspaces": 2, "alpha_l1": 0.5})
    _, aux = m.forward_with_aux(make_batch(3))
    assert aux.item() == pytest.approx(0.5 * (2 * 3 * 3 + 2 * 3 * 2))             # every α starts at 1
    assert create("gin", schema(3)).forward_with_aux(make_batch(3))[1] is None


# ---------------------------------------------------------------- selection ----------------------------------


def layers_with(alphas: list[torch.Tensor]) -> list[GINLayer]:
    out = []
    for a in alphas:
        layer = GINLayer(a.shape[1], a.shape[2], 1, a.shape[0])
        with torch.no_grad():
            layer.alpha.copy_(a)
        out.append(layer)
    return out


def test_select_gates_per_subspace_layer_and_globally():
    a1 = torch.tensor([[[1., -5.], [0.1, 0.2]], [[9., 8.], [7., 6.]]])            # layer 1: S = 2, 2 × 2
    a2 = torch.tensor([[[0.01, 0.02]], [[0.03, -0.04]]])                          # layer 2: S = 2, 1 × 2
    layers = layers_with([a1, a2])
    sub = select_gates(layers, 0.5, "subspace")                                   # ⌈0.5·4⌉ = 2, ⌈0.5·2⌉ = 1
    assert sub[0].tolist() == [[[1., 1.], [0., 0.]], [[1., 1.], [0., 0.]]]
    assert sub[1].tolist() == [[[0., 1.]], [[0., 1.]]]
    lay = select_gates(layers, 0.5, "layer")                                      # top 4 of 8, top 2 of 4
    assert lay[0].tolist() == [[[0., 0.], [0., 0.]], [[1., 1.], [1., 1.]]]
    assert lay[1].tolist() == [[[0., 0.]], [[1., 1.]]]
    glob = select_gates(layers, 0.25, "global")                                   # top 3 of 12
    assert glob[0].tolist() == [[[0., 0.], [0., 0.]], [[1., 1.], [1., 0.]]] and glob[1].sum() == 0
    assert select_gates(layers, 1.0, "global")[1].sum() == 4


def test_select_gates_only_ranks_pairs_the_pairing_has():
    layer = GINLayer(3, 3, 1, 1, pairing="upper")
    with torch.no_grad():
        layer.alpha.copy_(torch.tensor([[[100., 1., 2.], [100., 100., 3.], [100., 100., 100.]]]))
    assert select_gates([layer], 0.34)[0].tolist() == [[[0., 0., 1.], [0., 0., 1.], [0., 0., 0.]]]


def test_select_gate_errors():
    layers = layers_with([torch.ones(1, 2, 2)])
    with pytest.raises(ValueError, match="ratio must be in"):
        select_gates(layers, 0.0)
    with pytest.raises(ValueError, match="ranking must be"):
        select_gates(layers, 0.5, "per-field")
    with pytest.raises(ValueError, match="AOANetConfig.ratio must be in"):
        AOANetConfig(ratio=1.5)
    with pytest.raises(ValueError, match="AOANetConfig.retrain must be"):
        AOANetConfig(retrain="later")


def test_set_gates_checks_shape_and_values_and_pruned_pairs_do_not_matter():
    m = create("aoanet", schema(3), {"embed_dim": 2, "subspaces": 1, "layers": 1, "pairing": "upper"})
    with pytest.raises(ValueError, match="must have shape"):
        m.set_gates([torch.ones(1, 2, 2)])
    with pytest.raises(ValueError, match="only open pairs the pairing has"):
        m.set_gates([torch.ones(1, 3, 3)])                                        # the diagonal is not a pair
    gate = torch.tensor([[[0., 1., 0.], [0., 0., 0.], [0., 0., 0.]]])             # keep (f0, f1) only
    m.set_gates([gate])
    b = make_batch(3)
    with torch.no_grad():
        before = m(b)
        m.gin_layers[0].alpha[0, 0, 2] = 1e6                                      # a pruned pair
        assert torch.equal(m(b), before)
    assert m.interactions().kept.tolist() == [True, False, False]


@pytest.mark.parametrize("retrain", ["scratch", "warm"])
def test_aoanet_two_stages_through_run_model(retrain, tmp_path):
    data = make_synthetic(SyntheticConfig(n_rows=2000, n_fields=6, n_users=20, n_items=20, seq_len=3))
    cfg = {"embed_dim": 4, "subspaces": 2, "hidden": (8,), "ratio": 0.25, "retrain": retrain}
    train = TrainConfig(epochs=1, batch_size=256, progress=False, checkpoint_dir=str(tmp_path))
    row, _ = run_model("aoanet", data, train, cfg)
    assert 0 <= row["selection_auc"] <= 1 and 0 <= row["auc"] <= 1 and row["selection_seconds"] > 0
    assert (tmp_path / "selection" / "last.pt").exists() and (tmp_path / "last.pt").exists()
    n = 6 + 5                                                    # context fields + user, item, cat, 2 histories
    kept_1, kept_2 = -(-n * n // 4), -(-n * 2 // 4)                               # ⌈r·count⌉ per subspace
    assert row["kept_fraction"] == pytest.approx((kept_1 + kept_2) / (n * n + n * 2))


def test_selection_stage_rewinds_or_warm_starts_and_records_the_table():
    data = make_synthetic(SyntheticConfig(n_rows=1000, n_fields=2, n_planted_pairs=1, n_users=10, n_items=10,
                                          n_categories=5, seq_len=2))
    trained = {}

    def fit(module, name):                                                        # a stand-in trainer: shift α
        with torch.no_grad():
            for k, p in enumerate(module.parameters()):
                p.add_(0.01 * (k + 1))
            module.gin_layers[0].alpha[0, 1, 2] = 50.0
        trained.update({k: v.clone() for k, v in module.state_dict().items()})
        return {"auc": 0.6, "logloss": 0.7, "seconds": 1.0}

    for retrain in ("scratch", "warm"):
        torch.manual_seed(0)
        m = AOANet(data.schema, AOANetConfig(embed_dim=2, subspaces=1, hidden=(4,), ratio=0.1, retrain=retrain))
        init = {k: v.clone() for k, v in m.state_dict().items()}
        extra = m.selection_stage(fit)
        assert extra["selection_auc"] == 0.6
        for k, v in m.state_dict().items():
            if not k.endswith("gate"):
                assert torch.equal(v, init[k] if retrain == "scratch" else trained[k]), (retrain, k)
        top = m.selection.sort_values("alpha", key=abs, ascending=False).iloc[0]
        assert (top.layer, top.alpha, top.kept) == (1, 50.0, True)
        assert m.selection.kept.sum() == m.interactions().kept.sum()
