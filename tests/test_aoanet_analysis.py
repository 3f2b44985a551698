"""AOANet's analysis beside the model (ctrviz.models.aoanet): the selection G(α) as a pure function of α and the pair
layout, checked by hand; select_gates (the selection stage) and kept_at_ratio (a table, no model) agree with it
bit for bit; the planted pairs' ranks; and reproduce.auc_by_ratio, the sweep reading the pruning explorer shows."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from ctrviz.data.schema import Field, Schema
from ctrviz.models.aoanet import (
    AOANet,
    AOANetConfig,
    kept_at_ratio,
    planted_pair_ranks,
    select_from_alpha,
    select_gates,
)
from ctrviz.reproduce import auc_by_ratio

# layer 1: S = 2 subspaces of 2 × 2 pairs, pair (1, 1) of subspace 0 absent (|α| = 3 there must not count);
# layer 2: S = 2 of 1 × 2 pairs, all present
A1 = torch.tensor([[[1., -5.], [0.1, 3.]], [[2., -2.], [2., 1.]]])
E1 = torch.tensor([[[1, 1], [1, 0]], [[1, 1], [1, 1]]], dtype=torch.bool)
A2 = torch.tensor([[[0.5, -0.25]], [[0.0, 4.0]]])
E2 = torch.ones(2, 1, 2, dtype=torch.bool)


def test_select_from_alpha_per_subspace_by_hand():
    g1, g2 = select_from_alpha([A1, A2], [E1, E2], 0.5, "subspace")
    # s0 of layer 1: 3 candidates (1, 5, 0.1) keep ⌈1.5⌉ = 2; s1: |α| = 2, 2, 2, 1 keep 2, the tie by position
    assert g1.tolist() == [[[1., 1.], [0., 0.]], [[1., 1.], [0., 0.]]]
    assert g2.tolist() == [[[1., 0.]], [[0., 1.]]]                    # 2 candidates each: keep 1
    assert g1.dtype == A1.dtype and g1.shape == A1.shape


def test_select_from_alpha_per_layer_and_globally_by_hand():
    g1, g2 = select_from_alpha([A1, A2], [E1, E2], 0.5, "layer")
    # layer 1: 7 candidates keep ⌈3.5⌉ = 4: |α| 5, then the three 2s of subspace 1 in position order
    assert g1.tolist() == [[[0., 1.], [0., 0.]], [[1., 1.], [1., 0.]]]
    assert g2.tolist() == [[[1., 0.]], [[0., 1.]]]                    # 4 candidates keep 2: 4.0 and 0.5
    g1, g2 = select_from_alpha([A1, A2], [E1, E2], 0.25, "global")
    # 11 candidates keep ⌈2.75⌉ = 3: 5, 4, and the first 2 (layer 1, subspace 1, pair (0, 0))
    assert g1.tolist() == [[[0., 1.], [0., 0.]], [[1., 0.], [0., 0.]]]
    assert g2.tolist() == [[[0., 0.]], [[0., 1.]]]
    assert [g.sum().item() for g in select_from_alpha([A1, A2], [E1, E2], 0.01, "subspace")] == [2., 2.]  # >= 1 each


def test_select_from_alpha_takes_arrays_and_keeps_the_float_dtype():
    want = select_from_alpha([A1, A2], [E1, E2], 0.5, "layer")
    got = select_from_alpha([A1.double().numpy(), A2.double().numpy()], [E1.numpy(), E2.numpy().astype(float)],
                            0.5, "layer")
    assert [g.dtype for g in got] == [torch.float64, torch.float64]
    assert all(torch.equal(a, b.float()) for a, b in zip(want, got, strict=True))


@pytest.mark.parametrize(("args", "match"), [
    (([A1], [E1], 0.0), r"ratio must be in \(0, 1\], got 0.0"),
    (([A1], [E1], 1.5), r"ratio must be in \(0, 1\], got 1.5"),
    (([A1], [E1], 0.5, "field"), "ranking must be 'subspace', 'layer' or 'global', got 'field'"),
    (([A1, A2], [E1], 0.5), "needs one α and one mask per layer, got 2 and 1"),
    (([], [], 0.5), "needs one α and one mask per layer, got 0 and 0"),
    (([A1], [E2], 0.5), r"layer 1: α must be \(S, n, m\) and its exists mask the same shape"),
    (([A1[0]], [E1[0]], 0.5), r"layer 1: α must be \(S, n, m\)"),
])
def test_select_from_alpha_errors(args, match):
    with pytest.raises(ValueError, match=match):
        select_from_alpha(*args)


def _aoanet(pairing: str, seed: int, ties: bool) -> AOANet:
    torch.manual_seed(seed)
    schema = Schema(tuple(Field(f"f{i}", "sparse", vocab_size=5) for i in range(5)))
    model = AOANet(schema, AOANetConfig(embed_dim=2, layers=2, subspaces=3, hidden=(), pairing=pairing))
    with torch.no_grad():
        for layer in model.gin_layers:
            a = torch.randn_like(layer.alpha)
            layer.alpha.copy_((2 * a).round() / 2 if ties else a)     # ties: many equal |α|, broken by position
    return model


@pytest.mark.parametrize("ranking", ["subspace", "layer", "global"])
@pytest.mark.parametrize(("pairing", "ties"), [("all", False), ("upper", True), ("distinct", True)])
def test_select_gates_and_kept_at_ratio_are_the_same_selection(pairing, ties, ranking):
    """The selection stage (select_gates on the layers) and the table preview (kept_at_ratio) call one function:
    the same gates, tie for tie."""
    for ratio in (0.1, 0.3, 0.5, 1.0):
        model = _aoanet(pairing, seed=3, ties=ties)
        table = model.interactions()
        gates = select_gates(model.gin_layers, ratio, ranking)
        pure = select_from_alpha([la.alpha for la in model.gin_layers], [la.gate for la in model.gin_layers],
                                 ratio, ranking)
        assert all(torch.equal(a, b) for a, b in zip(gates, pure, strict=True))
        model.set_gates(gates)                                        # what AOANet's selection stage does
        assert kept_at_ratio(table, ratio, ranking).tolist() == model.interactions()["kept"].tolist()


def test_kept_at_ratio_by_hand_and_on_the_table_index():
    t = pd.DataFrame({"layer": [1, 1, 1, 2, 2], "subspace": 0, "left": ["a", "a", "b", "a", "b"],
                      "right": ["a", "b", "a", "P1.0", "P1.0"], "alpha": [0.1, -3.0, 2.0, 1.0, -1.0]},
                     index=[10, 11, 12, 13, 14])
    kept = kept_at_ratio(t, 0.5, "subspace")
    assert kept.index.tolist() == [10, 11, 12, 13, 14]
    assert kept.tolist() == [False, True, True, True, False]         # layer 2: a tie, the first position kept
    assert kept_at_ratio(t, 0.2, "global").tolist() == [False, True, False, False, False]   # ⌈0.2·5⌉ = 1


def test_planted_pair_ranks_and_its_error():
    t = pd.DataFrame({"layer": 1, "subspace": 0, "left": ["x", "y", "x", "z"], "right": ["y", "x", "x", "x"],
                      "alpha": [0.5, -2.0, 1.0, 0.25], "kept": [False, True, False, False]})
    ranks = planted_pair_ranks(t, [("y", "x"), ("z", "x")])
    assert ranks.to_dict("list") == {"a": ["x", "x"], "b": ["y", "z"], "rank": [1, 3], "of": [3, 3],
                                     "importance": [2.5, 0.25], "kept": [True, False]}
    with pytest.raises(ValueError, match=r"planted pair \('x', 'w'\) is not among the layer-1 interactions"):
        planted_pair_ranks(t, [("x", "w")])


# ---------------------------------------------------------------- reproduce.auc_by_ratio ------------------------


def test_auc_by_ratio_from_runs_and_from_a_summary():
    runs = pd.DataFrame({"model": ["gin", "aoanet", "aoanet", "aoanet"], "seed": [0, 0, 1, 0],
                         "ratio": [0.3, 0.3, 0.3, 1.0], "auc": [0.9, 0.7, 0.8, 0.6]})
    out = auc_by_ratio(runs)                                          # the aoanet rows only, mean ± std over seeds
    assert out["ratio"].tolist() == [0.3, 1.0] and out["auc"].tolist() == pytest.approx([0.75, 0.6])
    assert out["auc_std"].iloc[0] == pytest.approx(math.sqrt(0.005)) and np.isnan(out["auc_std"].iloc[1])
    assert out["n"].tolist() == [2, 1]
    summary = pd.DataFrame({"model": ["gin", "aoanet", "aoanet"], "knob": ["layers L", "ratio r", "ratio r"],
                            "value": [2, 1.0, 0.5], "auc_mean": [0.70, 0.72, 0.74], "auc_std": [0.01, 0.0, 0.03],
                            "n": [5, 5, 5]})
    out = auc_by_ratio(summary)                                       # aoanet-fig3's knob/value layout, sorted by r
    assert out.to_dict("list") == {"ratio": [0.5, 1.0], "auc": [0.74, 0.72], "auc_std": [0.03, 0.0], "n": [5, 5]}


@pytest.mark.parametrize(("sweep", "match"), [
    ([0.7], "sweep must be a pandas DataFrame, got list"),
    (pd.DataFrame({"auc": [0.7]}), "sweep needs a 'ratio' column, or 'knob' and 'value'"),
    (pd.DataFrame({"ratio": [0.3]}), r"sweep needs an 'auc' \(runs\) or 'auc_mean' \(summary\) column"),
    (pd.DataFrame({"ratio": ["a"], "auc": [0.7]}), "sweep column 'ratio' must hold numbers"),
    (pd.DataFrame({"knob": ["layers L"], "value": [2], "auc": [0.7]}), "sweep has no rows with a ratio r"),
])
def test_auc_by_ratio_errors(sweep, match):
    with pytest.raises(ValueError, match=match):
        auc_by_ratio(sweep)
