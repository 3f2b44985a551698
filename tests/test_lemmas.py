"""The equivalence lemmas: every relation holds to 1e-10 in float64, the degenerate AutoInt constructions
fail as explained, a wrong construction is caught, and `ctrviz lemmas` reports and exits accordingly; each
baseline layer's `as_gin()` form reproduces the layer, and `lemma_weights` is drawn from those forms and the
one table of lemmas."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ctrviz import lemmas
from ctrviz.__main__ import main
from ctrviz.models.afm import AFMLayer
from ctrviz.models.autoint import InteractingLayer
from ctrviz.models.dcn import CrossLayer
from ctrviz.models.dcnv2 import CrossLayerV2
from ctrviz.models.fwfm import FwFMLayer
from ctrviz.models.pnn import OuterProductLayer
from ctrviz.models.xdeepfm import CINLayer
from ctrviz.nn.gin import (
    GINForm,
    GINLayer,
    generalized_interaction,
    hadamard_form,
    inner_product_form,
    outer_product_form,
)


@pytest.fixture(scope="module")
def table():
    return lemmas.check_all()


def test_every_relation_holds_to_1e_10(table):
    relations = table[table.kind == "relation"]
    assert len(relations) == 20
    assert relations.passed.all(), relations[~relations.passed][["lemma", "max_abs_error"]]
    assert (relations.max_abs_error <= 1e-10).all()
    assert list(table.columns) == ["lemma", "reference", "relation", "kind", "shapes", "seeds", "max_abs_error",
                                   "passed", "note"]


def test_the_table_covers_table_1_table_2_and_can(table):
    refs = " ".join(table.reference)
    for ref in [f"Lemma A.{k}" for k in range(1, 9)] + [f"Lemma 3.{k}" for k in range(1, 5)] + ["CAN Sec. 4.2"]:
        assert ref in refs
    for model in ("deepFM", "IPNN", "FwFM", "AFM", "OPNN", "DCN", "DCN-M", "xDeepFM", "AutoInt"):
        assert f"Table 2 row {model}" in refs


def test_degenerate_autoint_constructions_give_nan(table):
    degenerate = table[table.kind == "degenerate"]
    assert len(degenerate) == 2 and not degenerate.passed.any()
    assert degenerate.max_abs_error.isna().all()


def test_a_wrong_construction_is_caught():
    """Lemma A.6 with GIN's own pairing order (u = x_0, v = x_l) is another function: the check must fail."""
    def swapped(gen, B, F, D):
        K = F * D
        x0, xl = torch.randn(B, K, generator=gen, dtype=torch.float64), \
            torch.randn(B, K, generator=gen, dtype=torch.float64)
        cross = CrossLayer(K).double()
        z = generalized_interaction(x0, xl, cross.weight[:, None].expand(K, K))
        return float((z.sum(-2) - cross.interaction(x0, xl)).abs().max())

    row = lemmas.check(dataclasses.replace(lemmas.LEMMAS[5], error=swapped))
    assert not row["passed"] and row["max_abs_error"] > 1e-3


def test_tolerance_and_shapes_are_honoured():
    row = lemmas.check(lemmas.LEMMAS[0], seeds=(0,), shapes=((2, 2, 3),), tolerance=1e-15)
    assert row["shapes"] == "2×2×3" and row["seeds"] == 1 and row["passed"]


def test_cli_prints_the_table_and_exits_0(capsys):
    assert main(["lemmas", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "20/20 relations hold" in out and "degenerate constructions" in out and "A.7 DCN-M" in out


def test_cli_exits_1_when_a_relation_fails(monkeypatch, capsys):
    broken = dataclasses.replace(lemmas.LEMMAS[0], error=lambda gen, B, F, D: 1.0)
    monkeypatch.setattr(lemmas, "LEMMAS", (broken,) + lemmas.LEMMAS[1:])
    assert main(["lemmas", "--seeds", "1"]) == 1
    assert "FAILED: A.1 inner product" in capsys.readouterr().out


# ---------------------------------------------------------------- one source: each layer's as_gin() -----------

F64 = torch.float64


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _random_weights(layer, seed=1):
    """The layer in float64 with every weight N(0, 1): generic learned weights, not its init."""
    return lemmas._randomize(layer, torch.Generator().manual_seed(seed))


def _close(a, b):
    assert a.shape == b.shape and (a - b).abs().max() <= 1e-10, (a - b).abs().max()


def test_cross_layer_as_gin_is_its_interaction():
    """Lemma 3.1: W_ij = w_i, h = 1, α = [1], fed (x_l, x_0) — the swapped pairing — is x_0 (x_lᵀ w)."""
    layer = _random_weights(CrossLayer(6))
    form = layer.as_gin()
    assert form.pairing == "swapped" and not form.input_dependent
    assert torch.equal(form.weight[0], layer.weight.detach()[:, None].expand(6, 6))
    x0, xl = _rand(4, 6), _rand(4, 6, seed=2)
    _close(GINLayer.from_form(form)(xl[:, None], x0[:, None])[:, 0], layer.interaction(x0, xl))


@pytest.mark.parametrize("low_rank", [None, 2])
def test_cross_layer_v2_as_gin_is_its_interaction(low_rank):
    """Lemma 3.2: W = (W^D)ᵀ (U Vᵀ when low-rank), swapped pairing → x_0 ⊙ (W^D x_l)."""
    layer = _random_weights(CrossLayerV2(6, low_rank=low_rank))
    form = layer.as_gin()
    assert torch.equal(form.weight[0], layer.matrix().detach().T)
    x0, xl = _rand(4, 6), _rand(4, 6, seed=2)
    _close(GINLayer.from_form(form)(xl[:, None], x0[:, None])[:, 0], layer.interaction(x0, xl))


def test_fwfm_layer_as_gin_is_fwfm_and_per_pair_is_lemma_a4():
    layer = _random_weights(FwFMLayer(4))
    e = _rand(3, 4, 5)
    form = layer.as_gin(dim=5)                                    # Table 2: W = I, α_uv = r_uv
    assert torch.equal(form.alpha[0][torch.triu_indices(4, 4, 1).unbind()], layer.r.detach())
    _close(GINLayer.from_form(form)(e, e).sum((1, 2)), layer(e))
    pairs = form.per_pair()                                       # Lemma A.4: W = r_p·I, one pair per subspace
    assert torch.equal(pairs.weight, layer.r.detach()[:, None, None] * torch.eye(5, dtype=F64))
    _close(pairs.fuse(e, e).sum(-1), layer.terms(e))


def test_afm_layer_as_gin_is_afm_and_per_pair_is_lemma_a5():
    layer = _random_weights(AFMLayer(4, attention_factor=3))
    e = _rand(3, 4, 4)
    form = layer.as_gin(e)                                        # Table 2: W = I, α = attention per row
    assert form.input_dependent and form.alpha.shape == (3, 1, 4, 4)
    _close(form.fuse(e, e)[:, 0], layer(e))
    pairs = form.per_pair()                                       # Lemma A.5: W = diag(a_p) per pair and row
    assert pairs.weight.shape == (3, 6, 4, 4) and pairs.input_dependent
    _close(pairs.fuse(e, e).sum(1), layer(e))
    with pytest.raises(ValueError, match="input"):
        GINLayer.from_form(form)


def test_outer_product_layer_as_gin_is_opnn_mat():
    layer = _random_weights(OuterProductLayer(4, 3, kernel="mat"))
    form = layer.as_gin()                                         # W^s = K_s, α^s one-hot on pair s
    assert torch.equal(form.weight, layer.kernel.detach()) and form.alpha.shape == (6, 4, 4)
    e = _rand(3, 4, 3)
    _close(GINLayer.from_form(form)(e, e).sum(-1), layer(e))
    for kernel in ("full", "superposition"):
        with pytest.raises(ValueError, match="needs kernel 'mat'"):
            OuterProductLayer(4, 3, kernel=kernel).as_gin()


def test_cin_layer_as_gin_is_the_cin_layer():
    """Lemma 3.3: S_l = H_l, W = I, h = 1, α^s_{u,v} = weight[s, v, u], GIN's inter-layer pairing."""
    layer = _random_weights(CINLayer(prev_maps=3, num_fields=4, maps=5))
    form = layer.as_gin(dim=2)
    assert form.pairing == "inter-layer" and torch.equal(form.weight, torch.eye(2, dtype=F64).expand(5, 2, 2))
    x0, xprev = _rand(3, 4, 2), _rand(3, 3, 2, seed=2)
    _close(GINLayer.from_form(form)(x0, xprev), layer(x0, xprev))


def test_interacting_layer_as_gin_is_each_head():
    """Lemma 3.4: W^t = k_t,i / k_t,j v_t,j, α = softmax / (qᵀk), one subspace per query; every head."""
    layer = _random_weights(InteractingLayer(4, head_dim=3, heads=2, residual=False))
    e = _rand(3, 5, 4)
    q, k, _ = layer.project(e)
    for head in range(2):
        form = layer.as_gin(e, head)
        assert form.pairing == "query-key" and form.input_dependent and form.weight.shape == (3, 5, 3, 3)
        _close(form.fuse(q[:, head], k[:, head]), layer.head_outputs(e)[:, head])
    with pytest.raises(ValueError, match="head must be an int in 0..1"):
        layer.as_gin(e, head=2)


def test_the_fixed_forms_by_hand():
    e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])            # ⟨·,·⟩ of (0,1), (0,2), (1,2): 11, 17, 39
    assert inner_product_form(3, 2).fuse(e, e).sum().item() == 67.0                     # FM
    assert inner_product_form(3, 2).per_pair().fuse(e, e).sum(-1).tolist() == [[11.0, 17.0, 39.0]]   # IPNN
    assert hadamard_form(3, 2).fuse(e, e).tolist() == [[[23.0, 44.0]]]                  # NFM: Σ e_i ⊙ e_j
    maps = GINLayer.from_form(outer_product_form(3, 2)).interaction_maps(e, e)          # (1, 1, 3, 3, 2, 2)
    assert maps[0, 0, 0, 1].tolist() == [[3.0, 4.0], [6.0, 8.0]]                         # e_0 ⊗ e_1


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"weight": torch.eye(2)}, r"weight must be \(S, D, D\)"),
    ({"h": torch.ones(1, 3)}, r"h must be \(S, D\) with D = 2"),
    ({"alpha": torch.ones(2, 1, 1)}, "must agree on S"),
    ({"pairing": "all"}, "pairing must be one of"),
    ({"alpha": torch.ones(4, 1, 1, 1)}, "needs input_dependent=True"),
    ({"pairing": "query-key"}, "'query-key' needs weight"),
])
def test_gin_form_errors(kwargs, match):
    args = {"weight": torch.eye(2)[None], "h": torch.ones(1, 2), "alpha": torch.ones(1, 1, 1), "pairing": "swapped"}
    with pytest.raises(ValueError, match=match):
        GINForm(**{**args, **kwargs})


def test_per_pair_needs_one_upper_subspace():
    with pytest.raises(ValueError, match="one-subspace 'upper' form"):
        CrossLayer(4).as_gin().per_pair()
    with pytest.raises(ValueError, match="one-subspace 'upper' form"):
        inner_product_form(3, 2).per_pair().per_pair()


# ---------------------------------------------------------------- one table ----------------------------------


def test_lemma_weights_lemmas_come_from_the_table():
    names = {lemma.name for lemma in lemmas.LEMMAS}
    models = lemmas.lemma_weight_models()
    assert {lemma.setting for lemma in lemmas.LEMMAS} == set(models) | {None}
    covered = set()
    for model in models:
        listed = lemmas.lemma_weights(model, fields=2, dim=1)["lemmas"]
        assert listed and set(listed) <= names
        assert listed == tuple(lemma.name for lemma in lemmas.LEMMAS if lemma.setting == model)   # table order
        covered |= set(listed)
    assert names - covered == {"CAN FM special case"}             # every other row backs exactly one setting
    assert lemmas.lemma_weights("inner")["lemmas"] == ("A.1 inner product", "3.x FM / DeepFM", "3.x IPNN")


def test_lemma_weights_is_the_layers_form():
    """lemma_weights' W is the baseline layer's as_gin() form, drawn as check draws it (same seed, same layer)."""
    gen = torch.Generator().manual_seed(3)
    cross = lemmas._randomize(CrossLayerV2(6), gen)
    assert torch.equal(lemmas.lemma_weights("dcn-m", fields=2, dim=3, seed=3)["weight"], cross.as_gin().weight)
    gen = torch.Generator().manual_seed(0)
    fwfm = lemmas._randomize(FwFMLayer(3), gen)
    assert torch.equal(lemmas.lemma_weights("fwfm", fields=3, dim=2)["weight"], fwfm.as_gin(2).per_pair().weight)
