"""Figures: what they draw (bars, oracle line, one curve per model, heatmap cells, masks, error bars, markers)
and their errors, on hand-written tables whose expected values are computed by hand below."""

from __future__ import annotations

import math
import re
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.container import BarContainer
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from ctrviz import lemmas
from ctrviz.data import Field, Schema
from ctrviz.data.batch import Batch
from ctrviz.data.schema import Pair
from ctrviz.models import create
from ctrviz.models.aoanet import pair_importance, select_gates
from ctrviz.plots import (
    plot_ablation,
    plot_alpha_distributions,
    plot_coaction_magnitude,
    plot_demo,
    plot_interaction_heatmap,
    plot_lemma_errors,
    plot_model_comparison,
    plot_params_vs_auc,
    plot_pruning_mask,
    plot_training_curves,
    plot_weight_pattern,
)
from ctrviz.reproduce import SPECS, plot_spec

RESULTS = pd.DataFrame({"model": ["lr", "dnn"], "auc": [0.70, 0.80]})
HISTORIES = {"lr": pd.DataFrame({"epoch": [1, 2], "valid_auc": [0.6, 0.7]}),
             "dnn": pd.DataFrame({"epoch": [1, 2, 3], "valid_auc": [0.6, 0.75, 0.8]})}


def test_model_comparison_draws_one_dot_per_model_and_the_oracle():
    fig = plot_model_comparison(RESULTS, oracle_auc=0.9)
    ax = fig.axes[0]
    (dots,) = ax.containers                                             # dots, not bars: no bar patches at all
    x, y, _ = errorbars(dots, with_bars=False)
    assert x == [0, 1] and y == [0.70, 0.80] and not ax.patches
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lr", "dnn"]
    assert [line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == "--"] == [0.9]
    assert ax.get_ylim()[1] > 0.9 and ax.get_ylabel() == "test AUC"
    assert sorted(t.get_text() for t in ax.texts) == ["0.7000", "0.8000"]   # each dot's value
    plt.close(fig)


def test_training_curves_one_line_per_model_with_its_points():
    fig = plot_training_curves(HISTORIES)
    ys = sorted(tuple(line.get_ydata()) for line in fig.axes[0].lines if len(line.get_ydata()))
    assert ys == [(0.6, 0.7), (0.6, 0.75, 0.8)]
    assert fig.axes[0].get_ylabel() == "validation AUC"
    plt.close(fig)


def test_demo_figure_has_both_panels():
    fig = plot_demo(RESULTS, HISTORIES, 0.9)
    assert [ax.get_title() for ax in fig.axes] == ["Test AUC by model", "Validation curves"]
    plt.close(fig)


def test_plot_errors_name_the_missing_column():
    with pytest.raises(ValueError, match="results lack column 'auc'"):
        plot_model_comparison(RESULTS.drop(columns="auc"))
    with pytest.raises(ValueError, match="history of 'lr' lacks"):
        plot_training_curves({"lr": pd.DataFrame({"epoch": [1]})})
    with pytest.raises(ValueError, match="no histories"):
        plot_training_curves({})


# ---------------------------------------------------------------- α tables (GIN.interactions() layout) -------
# Fields first seen as f10, user, f02; the plots order them user, f02, f10 (context fields last, by number).
ROWS = [  # layer, subspace, left, right, alpha, kept
    (1, 0, "f10", "user", 1.0, True), (1, 0, "user", "f10", -2.0, True), (1, 0, "f02", "f10", 0.5, False),
    (1, 0, "f10", "f02", 0.25, False), (1, 0, "user", "user", 3.0, True),
    (1, 1, "f10", "user", -0.5, False), (1, 1, "f02", "f10", 4.0, True), (1, 1, "user", "f02", 1.5, True),
    (2, 0, "user", "P1.0", 2.0, True), (2, 0, "f02", "P1.1", -1.0, False),
    (2, 1, "f10", "P1.0", 0.5, True), (2, 1, "user", "P1.1", 1.5, False),
]
INTER = pd.DataFrame(ROWS, columns=["layer", "subspace", "left", "right", "alpha", "kept"])
NAN = math.nan


def cells(ax, shape):
    """The heatmap's (QuadMesh) values as a (rows, cols) float array, NaN where masked."""
    return np.ma.filled(np.ma.asarray(ax.collections[0].get_array(), dtype=float), NAN).reshape(shape)


def planted_boxes(ax):
    return sorted(tuple(map(float, p.get_xy())) for p in ax.patches if p.get_gid() == "planted")


def errorbars(container, with_bars=True):
    """(x, y, half-length of each error bar) of an ErrorbarContainer (NaN for a row without a bar)."""
    line, _, bars = container.lines
    assert container.has_yerr == with_bars and len(bars) == with_bars  # no bar artists where none is expected
    half = [(seg[1][1] - seg[0][1]) / 2 if len(seg) else NAN for seg in bars[0].get_segments()] if bars else []
    return list(line.get_xdata()), list(line.get_ydata()), half


def test_alpha_violins_span_each_groups_range():
    fig = plot_alpha_distributions(INTER)
    ax = fig.axes[0]
    spans = sorted((round(float(c.get_paths()[0].vertices[:, 1].min()), 6),
                    round(float(c.get_paths()[0].vertices[:, 1].max()), 6)) for c in ax.collections)
    # (layer, subspace) groups: (1,0) α in [-2, 3], (1,1) [-0.5, 4], (2,0) [-1, 2], (2,1) [0.5, 1.5]; cut=0
    assert spans == [(-2.0, 3.0), (-1.0, 2.0), (-0.5, 4.0), (0.5, 1.5)]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("layer", "α", "α per layer and subspace")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1"]
    assert [tuple(line.get_ydata()) for line in ax.lines if line.get_linestyle() == ":"] == [(0.0, 0.0)]  # sign change
    plt.close(fig)
    fig = plot_alpha_distributions(INTER, absolute=True)
    ax = fig.axes[0]
    spans = sorted(round(float(c.get_paths()[0].vertices[:, 1].min()), 6) for c in ax.collections)
    assert ax.get_ylabel() == "|α|" and spans == [0.25, 0.5, 0.5, 1.0]
    assert not [line for line in ax.lines if line.get_linestyle() == ":"]                  # no zero line for |α|
    plt.close(fig)


def test_alpha_histograms_one_panel_per_layer_counting_every_alpha():
    fig = plot_alpha_distributions(INTER, kind="hist")
    assert [a.get_title() for a in fig.axes] == ["layer 1: 8 α", "layer 2: 4 α"]
    assert [sum(p.get_height() for p in a.patches if p.get_height() > 0) for a in fig.axes] == [8, 4]
    assert [(a.get_xlabel(), a.get_ylabel()) for a in fig.axes] == [("α", "count")] * 2
    plt.close(fig)
    fig, (a1, a2) = plt.subplots(1, 2)
    assert plot_alpha_distributions(INTER, kind="hist", ax=[a1, a2]) is fig and a2.get_title() == "layer 2: 4 α"
    plt.close(fig)


def test_heatmap_symmetric_cells_are_the_sums_of_abs_alpha_over_subspaces_and_orders():
    fig = plot_interaction_heatmap(INTER, planted=[("f10", "f02")])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["user", "f02", "f10"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["user", "f02", "f10"]
    # {user,user} 3; {user,f02} 1.5; {user,f10} |1| + |-2| + |-0.5| = 3.5; {f02,f10} 0.5 + 0.25 + 4 = 4.75
    expected = np.array([[3.0, NAN, NAN], [1.5, NAN, NAN], [3.5, 4.75, NAN]])
    np.testing.assert_array_equal(cells(ax, (3, 3)), expected)
    ranked = pair_importance(INTER)                                     # the rank table says the same
    names = ["user", "f02", "f10"]
    for r in ranked.itertuples():
        i, j = sorted((names.index(r.a), names.index(r.b)))
        assert expected[j, i] == r.importance
    assert planted_boxes(ax) == [(1.0, 2.0)]                            # column f02, row f10 (lower triangle)
    assert "f02×f10: #1" in ax.get_legend().get_texts()[0].get_text()  # its rank by Σ|α|
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("field", "field")
    assert ax.get_title().startswith("Layer 1: Σ |α| over subspaces")
    assert fig.axes[1].get_ylabel() == "Σ |α|"                          # the colour bar
    plt.close(fig)


def test_heatmap_ordered_matrix_other_values_and_layer_two():
    fig = plot_interaction_heatmap(INTER, planted=[("f10", "f02")], ordered=True)
    ax = fig.axes[0]
    expected = np.array([[3.0, 1.5, 2.0], [NAN, NAN, 4.5], [1.5, 0.25, NAN]])   # row = left u, column = right v
    np.testing.assert_array_equal(cells(ax, (3, 3)), expected)
    assert planted_boxes(ax) == [(1.0, 2.0), (2.0, 1.0)]                # both orders
    assert ax.get_ylabel() == "left u (field of B₀)"
    plt.close(fig)
    fig = plot_interaction_heatmap(INTER, value="kept")                 # kept gates per unordered pair
    np.testing.assert_array_equal(cells(fig.axes[0], (3, 3)), [[1, NAN, NAN], [1, NAN, NAN], [2, 1, NAN]])
    plt.close(fig)
    fig = plot_interaction_heatmap(INTER, value="abs_mean")
    np.testing.assert_allclose(cells(fig.axes[0], (3, 3)), [[3, NAN, NAN], [1.5, NAN, NAN], [3.5 / 3, 4.75 / 3, NAN]])
    plt.close(fig)
    fig = plot_interaction_heatmap(INTER, layer=2)                      # fields × previous subspaces, ordered
    ax = fig.axes[0]
    np.testing.assert_array_equal(cells(ax, (3, 2)), [[2.0, 1.5], [NAN, 1.0], [0.5, NAN]])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["P1.0", "P1.1"]
    assert ax.get_xlabel() == "right v (subspace of layer 1)"
    plt.close(fig)


def test_heatmap_colours_by_the_off_diagonal_range_when_the_diagonal_falls_outside():
    t = INTER.assign(alpha=np.where((INTER.left == "user") & (INTER.right == "user"), 10.0, INTER.alpha))
    fig = plot_interaction_heatmap(t)
    mesh = fig.axes[0].collections[0]
    assert (mesh.norm.vmin, mesh.norm.vmax) == (1.5, 4.75)
    assert cells(fig.axes[0], (3, 3))[0, 0] == 10.0                     # the value itself is kept
    assert "clipped" in fig.axes[1].get_ylabel()
    plt.close(fig)


def test_pruning_mask_shows_the_kept_column_per_subspace():
    fig = plot_pruning_mask(INTER, planted=[("f02", "f10")])
    a0, a1 = fig.axes
    np.testing.assert_array_equal(cells(a0, (3, 3)), [[1, NAN, 1], [NAN, NAN, 0], [1, 0, NAN]])
    np.testing.assert_array_equal(cells(a1, (3, 3)), [[NAN, 1, NAN], [NAN, NAN, 1], [0, NAN, NAN]])
    assert [a.get_title() for a in fig.axes] == ["subspace 0\n3/5 kept", "subspace 1\n2/3 kept"]  # narrow panels
    assert planted_boxes(a0) == planted_boxes(a1) == [(1.0, 2.0), (2.0, 1.0)]
    assert a0.get_ylabel() == "left u (field of B₀)" and a0.get_xlabel() == "right v (field)"
    assert fig.get_suptitle() == "Layer 1 gates G(α): the kept column"
    plt.close(fig)
    fig = plot_pruning_mask(INTER, layer=2)
    np.testing.assert_array_equal(cells(fig.axes[0], (3, 2)), [[1, NAN], [NAN, 0], [NAN, NAN]])
    np.testing.assert_array_equal(cells(fig.axes[1], (3, 2)), [[NAN, 0], [NAN, NAN], [1, NAN]])
    plt.close(fig)


def test_pruning_mask_at_a_ratio_keeps_the_top_abs_alpha_per_subspace():
    fig = plot_pruning_mask(INTER, ratio=0.2)   # ⌈0.2·5⌉ = 1 of subspace 0 (|3|), ⌈0.2·3⌉ = 1 of subspace 1 (|4|)
    np.testing.assert_array_equal(cells(fig.axes[0], (3, 3)), [[1, NAN, 0], [NAN, NAN, 0], [0, 0, NAN]])
    np.testing.assert_array_equal(cells(fig.axes[1], (3, 3)), [[NAN, 0, NAN], [NAN, NAN, 1], [0, NAN, NAN]])
    assert fig.get_suptitle() == "Layer 1 gates G(α): top 0.2 of |α| per subspace"
    plt.close(fig)
    # ranking="layer": ⌈0.2·8⌉ = 2 over both subspaces of layer 1: |4| (s1) and |3| (s0)
    fig = plot_pruning_mask(INTER, ratio=0.2, ranking="layer")
    assert [np.nansum(cells(a, (3, 3))) for a in fig.axes] == [1, 1]
    plt.close(fig)


def test_pruning_mask_and_heatmap_from_a_real_tiny_gin_match_select_gates():
    schema = Schema(tuple(Field(f"f{k}", "sparse", vocab_size=5) for k in (3, 0, 2, 1)))
    model = create("aoanet", schema, {"embed_dim": 2, "subspaces": 2, "layers": 2, "hidden": (), "ratio": 0.3})
    with torch.no_grad():
        for layer in model.gin_layers:                                  # |α| with ties, no seed needed
            layer.alpha.copy_((torch.arange(layer.alpha.numel()) % 5 - 2.0).view_as(layer.alpha))
    before = model.interactions()
    assert before["kept"].all()
    model.set_gates(select_gates(model.gin_layers, 0.3))               # what AOANet's selection stage does
    after = model.interactions()
    for layer, shape in ((1, (4, 4)), (2, (4, 2))):
        recomputed, kept = plot_pruning_mask(before, layer=layer, ratio=0.3), plot_pruning_mask(after, layer=layer)
        for a, b in zip(recomputed.axes, kept.axes, strict=True):
            np.testing.assert_array_equal(cells(a, shape), cells(b, shape))
        assert [t.get_text() for t in recomputed.axes[0].get_yticklabels()] == ["f0", "f1", "f2", "f3"]
        plt.close("all")
    fig = plot_interaction_heatmap(before, planted=[("f1", "f2")])
    ranked = pair_importance(before)
    matrix = cells(fig.axes[0], (4, 4))
    for r in ranked.itertuples():                                       # every pair's cell = its importance
        i, j = sorted((int(r.a[1:]), int(r.b[1:])))
        assert matrix[j, i] == pytest.approx(r.importance)
    assert planted_boxes(fig.axes[0]) == [(1.0, 2.0)]
    plt.close(fig)
    fig = plot_alpha_distributions(before)
    assert len(fig.axes[0].collections) == 2 * 2                        # L × S violins
    plt.close(fig)


SUMMARY = pd.DataFrame({"model": ["gin", "gin", "gin", "aoanet", "aoanet", "aoanet"],
                        "layers": [2, 1, 3, 1, 2, 3],
                        "auc_mean": [0.72, 0.70, 0.71, 0.705, 0.725, 0.73],
                        "auc_std": [0.02, 0.01, 0.03, 0.004, 0.005, 0.006]})


def test_ablation_draws_one_sorted_curve_per_model_with_std_error_bars():
    fig = plot_ablation(SUMMARY, x="layers")
    ax = fig.axes[0]
    curves = {c.get_label(): errorbars(c) for c in ax.containers}
    assert set(curves) == {"gin", "aoanet"}
    x, y, half = curves["gin"]
    assert x == [1, 2, 3] and y == [0.70, 0.72, 0.71]
    np.testing.assert_allclose(half, [0.01, 0.02, 0.03])
    np.testing.assert_allclose(curves["aoanet"][2], [0.004, 0.005, 0.006])
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("layers", "AUC (mean ± std)")
    assert ax.get_title() == "Ablation: AUC vs layers"
    assert ax.get_legend().get_title().get_text() == "model"
    plt.close(fig)


def test_ablation_categorical_x_single_line_and_no_error_bars():
    s = pd.DataFrame({"micro": ["16-8-4", "16-4", "16"], "auc_mean": [0.74, 0.73, 0.71]})
    fig = plot_ablation(s, x="micro", err=None, hue=None)
    ax = fig.axes[0]
    (line,) = [c for c in ax.containers]
    assert not line.has_yerr and list(line.lines[0].get_ydata()) == [0.74, 0.73, 0.71]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["16-8-4", "16-4", "16"]
    assert ax.get_ylabel() == "AUC (mean)" and ax.get_legend() is None
    plt.close(fig)


def test_params_vs_auc_dots_on_a_log_axis_with_error_bars_and_labels():
    s = pd.DataFrame({"model": ["lr", "dnn", "can"], "params": [700, 60_000, 520_000],
                      "auc_mean": [0.52, 0.72, 0.74], "auc_std": [0.001, 0.003, 0.002]})
    fig = plot_params_vs_auc(s)                                         # counts span > 10x: log x axis
    (ax,) = fig.axes
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "parameters (log scale)"
    assert not ax.patches and not ax.containers[1:]                     # dots, no (log-scaled) bars
    x, y, half = errorbars(ax.containers[0])
    assert x == [700, 60_000, 520_000] and y == [0.52, 0.72, 0.74]
    np.testing.assert_allclose(half, [0.001, 0.003, 0.002])
    assert [t.get_text() for t in ax.texts] == ["lr (700)", "dnn (60k)", "can (520k)"]
    assert ax.get_ylabel() == "AUC (mean ± std)" and ax.get_title() == "Do more parameters buy a higher AUC?"
    plt.close(fig)
    fig = plot_params_vs_auc(s.rename(columns={"auc_mean": "auc"}), auc="auc", err=None, log=False)
    assert fig.axes[0].get_xscale() == "linear" and fig.axes[0].get_ylabel() == "AUC"
    assert not fig.axes[0].containers[0].has_yerr
    plt.close(fig)
    fig = plot_params_vs_auc(s.assign(params=[100_000, 120_000, 150_000]))   # within one decade: linear
    assert fig.axes[0].get_xscale() == "linear"
    plt.close(fig)


def test_coaction_magnitude_from_the_pooled_tensor_and_the_per_position_dict():
    out = torch.tensor([[[1.0, -3.0], [0.0, 0.5]], [[2.0, 2.0], [0.5, 0.0]]])  # (B=2, P=2, O=2)
    fig = plot_coaction_magnitude(out, ["item×hist", "cat×hist"])
    ax = fig.axes[0]
    assert [float(p.get_width()) for p in ax.patches] == [2.0, 0.25]    # mean_rows mean_O |out|
    assert [t.get_text() for t in ax.get_yticklabels()] == ["item×hist", "cat×hist"]
    assert ax.get_ylabel() == "induction × feed pair" and ax.get_xlabel().startswith("mean |co-action output|")
    plt.close(fig)
    per_position = {"item×hist": torch.tensor([[[1.0, 1.0], [3.0, -1.0], [0.0, 0.0]],      # (B=2, T=3, O=2)
                                               [[0.5, 0.5], [0.0, 0.0], [0.0, 0.0]]]),    # zeros = padding
                    "cat×hist": torch.tensor([[[4.0, 0.0]], [[0.0, -2.0]]])}             # (B=2, T=1, O=2)
    fig = plot_coaction_magnitude(per_position)
    assert [float(p.get_width()) for p in fig.axes[0].patches] == [(1 + 2 + 0.5) / 3, 1.5]   # padding left out
    plt.close(fig)
    fig = plot_coaction_magnitude(per_position, ["cat×hist"], kind="box")
    (box,) = fig.axes[0].containers
    assert [float(m.get_xdata()[0]) for m in box.medians] == [1.5]
    plt.close(fig)


def test_coaction_magnitude_from_a_real_tiny_can():
    s = Schema((Field("item", "sparse", vocab_size=6),
                Field("hist", "sequence", vocab="item", vocab_size=6, max_len=4)), (Pair("item", "hist"),))
    model = create("can", s, {"embed_dim": 4, "hidden": (8,), "micro_layers": (4, 3, 2)})
    b = Batch(torch.tensor([[2], [3]]), torch.zeros(2, 0), {"hist": torch.tensor([[3, 4, 0, 0], [5, 0, 0, 0]])},
              torch.ones(2))
    out = model.coaction_outputs(b)                                     # (B, P, O)
    fig = plot_coaction_magnitude(out, model.pair_names)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["item×hist"]
    assert fig.axes[0].patches[0].get_width() == pytest.approx(out.abs().mean().item())
    plt.close(fig)
    per = model.coaction_outputs(b, per_position=True)
    fig = plot_coaction_magnitude(per)
    real = per["item×hist"][:, :2].abs().mean(-1)[[0, 0, 1], [0, 1, 0]]  # the 3 non-padding positions
    assert fig.axes[0].patches[0].get_width() == pytest.approx(real.mean().item())
    plt.close(fig)


LEMMA_TABLE = pd.DataFrame({
    "lemma": ["A.1 exact", "A.4 rounding", "bad relation", "zero key", "q ⊥ k"],
    "kind": ["relation", "relation", "relation", "degenerate", "degenerate"],
    "max_abs_error": [0.0, 4e-16, 1e-6, NAN, 5e-3]})


def test_lemma_errors_on_a_log_axis_with_the_tolerance_and_the_degenerate_rows_apart():
    fig = plot_lemma_errors(LEMMA_TABLE)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_yticklabels()] == list(LEMMA_TABLE.lemma)
    assert [tuple(line.get_xdata()) for line in ax.lines if line.get_linestyle() == "--"] == [(1e-10, 1e-10)]
    groups = {c.get_label(): c.get_offsets() for c in ax.collections if c.get_label().startswith(("relation", "deg"))}
    assert set(groups) == {"relation, within tolerance", "relation, failed", "degenerate (explained failure)"}
    lo, hi = ax.get_xlim()
    ok = groups["relation, within tolerance"]
    assert list(ok[:, 1]) == [0, 1] and ok[1, 0] == 4e-16 and lo < ok[0, 0] < 4e-16   # exact 0 at the left edge
    assert groups["relation, failed"].tolist() == [[1e-6, 2]]
    degenerate = groups["degenerate (explained failure)"]
    assert list(degenerate[:, 1]) == [3, 4] and degenerate[1, 0] == 5e-3 and degenerate[0, 0] > 5e-3  # NaN: right
    assert sorted(t.get_text() for t in ax.texts) == ["0", "NaN"]
    assert ax.get_title() == "Equivalence lemmas: max abs error"
    plt.close(fig)
    fig = plot_lemma_errors(LEMMA_TABLE.drop(columns="kind"), tolerance=1e-5)  # no kind column: all relations
    labels = {c.get_label() for c in fig.axes[0].collections if c.get_label().startswith("relation")}
    assert labels == {"relation, within tolerance", "relation, failed"}
    plt.close(fig)


def test_new_plot_errors_name_the_bad_column_or_argument():
    with pytest.raises(ValueError, match="interactions lack column 'alpha'"):
        plot_alpha_distributions(INTER.drop(columns="alpha"))
    with pytest.raises(ValueError, match="must be a pandas DataFrame, got dict"):
        plot_alpha_distributions({"layer": [1]})
    with pytest.raises(ValueError, match=r"kind must be one of \['violin', 'hist'\], got 'box'"):
        plot_alpha_distributions(INTER, kind="box")
    with pytest.raises(ValueError, match="ax must be 2 matplotlib Axes"):
        plot_alpha_distributions(INTER, kind="hist", ax=plt.subplots()[1])
    with pytest.raises(ValueError, match="no rows of layer 3; layers present: \\[1, 2\\]"):
        plot_interaction_heatmap(INTER, layer=3)
    with pytest.raises(ValueError, match="value must be one of"):
        plot_interaction_heatmap(INTER, value="signed")
    with pytest.raises(ValueError, match="interactions lack column 'kept'"):
        plot_interaction_heatmap(INTER.drop(columns="kept"), value="kept")
    with pytest.raises(ValueError, match="planted field 'zz' is not a field"):
        plot_interaction_heatmap(INTER, planted=[("user", "zz")])
    with pytest.raises(ValueError, match="planted must be"):
        plot_interaction_heatmap(INTER, planted=["user"])
    with pytest.raises(ValueError, match="only for layer 1, got layer=2"):
        plot_interaction_heatmap(INTER, layer=2, planted=[("user", "f02")])
    with pytest.raises(ValueError, match="ordered=False needs the same fields on both sides"):
        plot_interaction_heatmap(INTER, layer=2, ordered=False)
    with pytest.raises(ValueError, match="interactions lack column 'kept'"):
        plot_pruning_mask(INTER.drop(columns="kept"))
    with pytest.raises(ValueError, match="interactions lack column 'alpha'"):
        plot_pruning_mask(INTER.drop(columns="alpha"), ratio=0.5)
    with pytest.raises(ValueError, match=r"ratio must be a number in \(0, 1\] or None, got 0"):
        plot_pruning_mask(INTER, ratio=0)
    with pytest.raises(ValueError, match="ranking must be one of"):
        plot_pruning_mask(INTER, ratio=0.5, ranking="field")
    with pytest.raises(ValueError, match="ax must be 2 matplotlib Axes \\(one per subspace\\), got 1"):
        plot_pruning_mask(INTER, ax=plt.subplots()[1])
    with pytest.raises(ValueError, match="summary lack column 'auc_std'"):
        plot_ablation(SUMMARY.drop(columns="auc_std"), x="layers")
    with pytest.raises(ValueError, match="summary lack column 'depth'"):
        plot_ablation(SUMMARY, x="depth")
    with pytest.raises(ValueError, match="several rows for \\{'model': 'gin', 'layers': 2\\}; aggregate"):
        plot_ablation(pd.concat([SUMMARY, SUMMARY.iloc[:1]]), x="layers")
    with pytest.raises(ValueError, match="summary lack column 'params'"):
        plot_params_vs_auc(SUMMARY)
    with pytest.raises(ValueError, match="several rows for model 'gin'"):
        plot_params_vs_auc(SUMMARY.assign(params=10))
    with pytest.raises(ValueError, match="'params' must be > 0 on a log scale"):
        plot_params_vs_auc(SUMMARY.drop_duplicates("model").assign(params=0), log=True)
    with pytest.raises(ValueError, match="results lack column 'auc_sd'"):
        plot_model_comparison(RESULTS, err="auc_sd")
    with pytest.raises(ValueError, match="results have no rows"):
        plot_model_comparison(RESULTS.iloc[:0])
    with pytest.raises(ValueError, match=r"reference\['gin'\] must be a number or \(mean, std\), got 'high'"):
        plot_ablation(SUMMARY, x="layers", reference={"gin": "high"})
    with pytest.raises(ValueError, match="reference must be a dict label"):
        plot_ablation(SUMMARY, x="layers", reference=[0.7, 0.01])
    with pytest.raises(ValueError, match="oracle must be a number or None, got 'x'"):
        plot_ablation(SUMMARY, x="layers", oracle="x")
    with pytest.raises(ValueError, match="outputs must be \\(B, P, O\\) or a dict of \\(B, T, O\\), got shape"):
        plot_coaction_magnitude(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="pair_names has 1 names for P = 2 pairs"):
        plot_coaction_magnitude(torch.zeros(2, 2, 3), ["a"])
    with pytest.raises(ValueError, match="pair 'b' is not in outputs; have \\['a'\\]"):
        plot_coaction_magnitude({"a": torch.zeros(2, 1, 3)}, ["b"])
    with pytest.raises(ValueError, match=r"outputs\['a'\] must be \(B, T, O\)"):
        plot_coaction_magnitude({"a": torch.zeros(2, 3)})
    with pytest.raises(ValueError, match="kind must be one of"):
        plot_coaction_magnitude(torch.zeros(2, 1, 3), kind="violin")
    with pytest.raises(ValueError, match="table lack column 'max_abs_error'"):
        plot_lemma_errors(LEMMA_TABLE.drop(columns="max_abs_error"))
    with pytest.raises(ValueError, match="tolerance must be a positive number, got 0"):
        plot_lemma_errors(LEMMA_TABLE, tolerance=0)
    plt.close("all")


# ---------------------------------------------------------------- plot_weight_pattern -----------------------


def heat(fig, k=0):
    """The values of the k-th axes' heatmap (masked cells as NaN)."""
    return np.ma.filled(fig.axes[k].collections[0].get_array().astype(float), np.nan)


def test_plot_weight_pattern_draws_each_w_and_limits_panels():
    w = torch.stack([torch.eye(3), -torch.ones(3, 3), torch.zeros(3, 3)])
    fig = plot_weight_pattern(w, labels=["I", "-1", "0"], max_panels=2, title="three")
    assert [a.get_title() for a in fig.axes[:2]] == ["I", "-1"]
    assert heat(fig, 0).reshape(3, 3).tolist() == torch.eye(3).tolist()
    assert heat(fig, 1).reshape(3, 3).tolist() == (-torch.ones(3, 3)).tolist()
    assert "first 2 of 3" in fig._suptitle.get_text()
    fig = plot_weight_pattern(lemmas.lemma_weights("outer", dim=2))               # a pattern dict
    assert "outer" in fig._suptitle.get_text()
    fig = plot_weight_pattern(np.array([[1.0, np.nan], [np.inf, 2.0]]))           # non-finite: blank
    assert np.isnan(heat(fig)).sum() == 2
    plt.close("all")


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    ((torch.zeros(2, 3),), {}, r"\(D, D\) or \(S, D, D\)"),
    ((torch.zeros(2, 2),), {"labels": ["a", "b"]}, "2 labels for 1 matrices"),
    ((torch.zeros(2, 2),), {"max_panels": 0}, "max_panels must be an int >= 1"),
    (("abc",), {}, "tensor or array of numbers"),
    (({"weight": torch.eye(2)},), {}, "pattern dict needs key 'labels'"),
])
def test_plot_weight_pattern_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_weight_pattern(*args, **kwargs)


# ---------------------------------------------------------------- DESIGN.md "Figures": properties of the figure --
# Each rule is checked on the returned Figure after a draw (window extents in pixels), not on pixels.

def _render(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _shown_ticklabels(axis):
    """The tick labels a reader sees: non-empty, visible, and at a tick inside the view."""
    lo, hi = sorted(axis.get_view_interval())
    out = []
    for ticks in (axis.get_major_ticks(), axis.get_minor_ticks()):
        for tick in ticks:
            for label in (tick.label1, tick.label2):
                if label.get_visible() and label.get_text() and lo - 1e-9 <= tick.get_loc() <= hi + 1e-9:
                    out.append(label)
    return out


def _bar_containers(ax):
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def assert_figure_rules(fig, legends_outside=True):
    """No log-scaled bars, bars from zero, tick labels ≥ 8 pt, no "± 0" text, suptitle clear of the axes
    titles, and (``legends_outside``) every axes legend outside its axes: never over the data."""
    renderer = _render(fig)
    for ax in fig.axes:
        for bars in _bar_containers(ax):
            horizontal = bars.orientation == "horizontal"
            assert (ax.get_xscale() if horizontal else ax.get_yscale()) == "linear", "bars on a log axis"
            assert (ax.get_xlim() if horizontal else ax.get_ylim())[0] == 0, "bars that do not start at zero"
        for axis in (ax.xaxis, ax.yaxis):
            sizes = [label.get_fontsize() for label in _shown_ticklabels(axis)]
            assert min(sizes, default=8) >= 8, f"tick labels of {min(sizes)} pt"
        legend = ax.get_legend()
        if legends_outside and legend is not None:
            assert not legend.get_window_extent(renderer).overlaps(ax.get_window_extent(renderer))
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert not [t for t in texts if re.search(r"±\s*0(\.0*)?(?!\d*[1-9])", t)], "a '± 0' text"
    if fig.get_suptitle():
        top = fig._suptitle.get_window_extent(renderer)
        for ax in fig.axes:
            for title in (ax.title, ax._left_title, ax._right_title):
                if title.get_text():
                    assert not top.overlaps(title.get_window_extent(renderer)), "suptitle over an axes title"


def _markers_in_display(ax):
    """Every data point drawn with a marker, in display pixels."""
    points = [line.get_transform().transform(line.get_xydata()) for line in ax.lines if line.get_marker() not in
              (None, "", "None", " ", "_", "|")]                      # "_" and "|": the error bars' caps
    return np.concatenate(points) if points else np.zeros((0, 2))


N3 = pd.DataFrame({"model": ["lr", "dnn", "can"], "auc": [0.70, 0.80, 0.82], "auc_std": [0.01, 0.02, 0.005],
                   "n": 3, "params": [700, 60_000, 520_000]})
N1 = N3.assign(auc_std=0.0, n=1)                                        # summarize's std of a single run is 0


def test_no_log_scaled_bars_parameters_are_dots_on_a_log_axis():           # Figures rule 1
    fig = plot_params_vs_auc(N3, auc="auc")
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert not _bar_containers(ax) and not [p for p in ax.patches if isinstance(p, Rectangle)]
    np.testing.assert_array_equal(_markers_in_display(ax).shape, (3, 2))   # one dot per model
    assert_figure_rules(fig)
    plt.close(fig)


def test_error_bars_when_n_above_one_and_no_plus_minus_zero_for_one_run():   # Figures rule 2
    fig = plot_model_comparison(N3)                                     # err="auto": the auc_std column
    (dots,) = fig.axes[0].containers
    np.testing.assert_allclose(errorbars(dots)[2], [0.01, 0.02, 0.005])
    assert fig.axes[0].get_ylabel() == "test AUC (mean ± std over 3 runs)"
    assert_figure_rules(fig)
    plt.close(fig)
    fig = plot_model_comparison(N1)
    errorbars(fig.axes[0].containers[0], with_bars=False)               # no error bar artists for n = 1
    assert not [t for t in fig.findobj(Text) if "±" in t.get_text()]
    assert fig.axes[0].get_ylabel() == "test AUC (one run)"
    assert_figure_rules(fig)
    plt.close(fig)
    fig = plot_model_comparison(N3.assign(n=[3, 1, 2]))                 # a bar only where n > 1
    np.testing.assert_allclose(errorbars(fig.axes[0].containers[0])[2], [0.01, NAN, 0.005])
    plt.close(fig)
    fig = plot_model_comparison(N3.rename(columns={"auc": "auc_mean"}), metric="auc_mean")   # auc_mean → auc_std
    assert fig.axes[0].containers[0].has_yerr
    plt.close(fig)
    fig = plot_model_comparison(N3, err=None)
    assert not fig.axes[0].containers[0].has_yerr
    plt.close(fig)
    for n, with_bars in ((3, True), (1, False)):
        fig = plot_ablation(SUMMARY.assign(n=n), x="layers")
        for c in fig.axes[0].containers:
            errorbars(c, with_bars=with_bars)
        assert fig.axes[0].get_ylabel() == ("AUC (mean ± std over 3 runs)" if with_bars else "AUC (one run)")
        assert_figure_rules(fig)
        plt.close(fig)
        fig = plot_params_vs_auc(N3.assign(n=n), auc="auc")
        errorbars(fig.axes[0].containers[0], with_bars=with_bars)
        assert_figure_rules(fig)
        plt.close(fig)


@pytest.mark.parametrize("epochs", [[1], [1, 2], [1, 2, 3, 4, 5, 6, 7]])
def test_epoch_ticks_are_integers(epochs):                                  # Figures rule 3
    histories = {"lr": pd.DataFrame({"epoch": epochs, "valid_auc": np.linspace(0.6, 0.7, len(epochs))})}
    for fig, ax in ((f := plot_training_curves(histories), f.axes[0]),
                    (f := plot_demo(RESULTS, histories, 0.9), f.axes[1])):
        _render(fig)
        lo, hi = ax.get_xlim()
        shown = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert shown and all(float(t).is_integer() for t in shown), shown
        assert_figure_rules(fig)
        plt.close(fig)
    fig = plot_ablation(SUMMARY[SUMMARY.layers == 2], x="layers")      # one integer x value
    lo, hi = fig.axes[0].get_xlim()
    assert [t for t in fig.axes[0].get_xticks() if lo <= t <= hi] == [2]
    plt.close(fig)


def _spec_summary(name):
    """A summarize()-like table for spec ``name`` (its quick grid, 3 runs each): no training needed."""
    rows = []
    for k, (label, _, _, setting) in enumerate(SPECS[name].grid(True)):
        rows.append({"model": label, **setting, "auc_mean": 0.80 + 0.01 * k, "auc_std": 0.004, "n": 3,
                     "params": 1000 * 3 ** k})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("name", list(SPECS))
@pytest.mark.parametrize("dpi", [80, 110])
def test_spec_figures_keep_the_suptitle_clear_of_the_axes_titles(name, dpi):   # Figures rule 4
    data = SimpleNamespace(name="synthetic", info={"oracle_auc": 0.9})
    with plt.rc_context({"figure.dpi": dpi}):
        fig = plot_spec(SPECS[name], _spec_summary(name), data)
    assert_figure_rules(fig)                                            # includes: suptitle ∩ titles = ∅
    if len(fig.axes) == 1:                                              # one panel: the spec in its own title
        assert fig.get_suptitle() == "" and fig.axes[0].get_title().startswith(f"{SPECS[name].paper} on synthetic\n")
    else:
        assert fig.get_suptitle() == f"{SPECS[name].paper} on synthetic"
    plt.close(fig)


def test_the_rule_checker_catches_a_suptitle_on_a_title_log_bars_and_a_legend_over_data():
    fig, ax = plt.subplots(figsize=(4, 3))                              # no layout engine: nothing makes room
    ax.set_position([0.1, 0.1, 0.8, 0.84])
    ax.set_title("an axes title")
    fig.suptitle("a suptitle", y=0.985)
    with pytest.raises(AssertionError, match="suptitle over an axes title"):
        assert_figure_rules(fig)
    plt.close(fig)
    fig, ax = plt.subplots()
    ax.bar([0, 1], [10, 1000])
    ax.set_yscale("log")
    with pytest.raises(AssertionError, match="bars on a log axis"):
        assert_figure_rules(fig)
    ax.set_yscale("linear")
    ax.set_ylim(5, 1100)
    with pytest.raises(AssertionError, match="bars that do not start at zero"):
        assert_figure_rules(fig)
    plt.close(fig)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], "o", label="data")
    ax.legend(loc="center")
    ax.set_title("AUC 0.8 ± 0.0000")
    with pytest.raises(AssertionError):                                 # a legend inside the axes
        assert_figure_rules(fig)
    with pytest.raises(AssertionError, match="a '± 0' text"):
        assert_figure_rules(fig, legends_outside=False)
    plt.close(fig)


def test_pruning_mask_of_25_fields_has_8pt_tick_labels_that_do_not_overlap():   # Figures rule 5
    fields = ["user", "item", "category", "hist_item", "hist_cat"] + [f"f{i:02d}" for i in range(20)]
    t = pd.DataFrame([(1, s, u, v, 1.0, (i + j + s) % 3 == 0) for s in range(3)
                      for i, u in enumerate(fields) for j, v in enumerate(fields)],
                     columns=["layer", "subspace", "left", "right", "alpha", "kept"])
    for fig in (plot_pruning_mask(t, planted=[("f01", "f04")]), plot_interaction_heatmap(t)):
        renderer = _render(fig)
        assert_figure_rules(fig, legends_outside=False)
        for ax in fig.axes[:3 if len(fig.axes) == 3 else 1]:
            for axis, coord in ((ax.xaxis, 0), (ax.yaxis, 1)):
                labels = sorted(_shown_ticklabels(axis), key=lambda lab: lab.get_window_extent(renderer).p0[coord])
                boxes = [lab.get_window_extent(renderer) for lab in labels]
                assert all(not a.overlaps(b) for a, b in zip(boxes, boxes[1:], strict=False))
        plt.close(fig)
    fig = plot_pruning_mask(t)
    shown = [lab.get_text() for lab in _shown_ticklabels(fig.axes[0].yaxis)]
    assert shown[0] == "user" and 5 <= len(shown) < len(fields)        # 25 fields at ~0.1 in: every 2nd label
    assert all(lab.get_fontsize() >= 8 for a in fig.axes for lab in _shown_ticklabels(a.xaxis))
    plt.close(fig)
    fig = plot_pruning_mask(INTER)                                      # few fields: every label
    assert [lab.get_text() for lab in _shown_ticklabels(fig.axes[0].yaxis)] == ["user", "f02", "f10"]
    assert_figure_rules(fig, legends_outside=False)
    plt.close(fig)


@pytest.mark.parametrize("n_fields, subspaces", [(4, 1), (4, 3), (25, 1), (25, 3)])
def test_pruning_mask_legend_never_covers_the_title(n_fields, subspaces):   # Figures rule 8, narrow masks too
    fields = [f"f{i:02d}" for i in range(n_fields)]
    t = pd.DataFrame([(1, s, u, v, 1.0, (i + j + s) % 3 == 0) for s in range(subspaces)
                      for i, u in enumerate(fields) for j, v in enumerate(fields)],
                     columns=["layer", "subspace", "left", "right", "alpha", "kept"])
    fig = plot_pruning_mask(t, ratio=0.3, planted=[("f01", "f02")])
    renderer = _render(fig)
    legend = fig.legends[0].get_window_extent(renderer)
    assert not legend.overlaps(fig._suptitle.get_window_extent(renderer))
    assert all(not legend.overlaps(a.get_window_extent(renderer)) for a in fig.axes)
    plt.close(fig)


def test_ablation_reference_is_a_line_with_its_band_and_the_legend_is_off_the_data():   # Figures rules 6, 8
    r = pd.DataFrame({"ratio": [0.1, 0.3, 0.5], "auc_mean": [0.8775, 0.870, 0.851], "auc_std": [0.001, 0.0025, 0.002],
                      "n": 2, "model": "AOANet (re-trained at r)"})
    fig = plot_ablation(r, x="ratio", reference={"GIN (r = 1)": (0.831, 0.011), "DNN": 0.80}, oracle=0.9144)
    ax = fig.axes[0]
    renderer = _render(fig)
    frame = ax.get_window_extent(renderer)
    flat = {line.get_label(): line for line in ax.lines if line.get_label() in ("GIN (r = 1)", "DNN", "oracle 0.9144")}
    assert set(flat) == {"GIN (r = 1)", "DNN", "oracle 0.9144"}
    for label, y in (("GIN (r = 1)", 0.831), ("DNN", 0.80), ("oracle 0.9144", 0.9144)):
        box = flat[label].get_window_extent(renderer)                   # across the whole x range
        assert box.x0 == pytest.approx(frame.x0, abs=2) and box.x1 == pytest.approx(frame.x1, abs=2)
        assert list(flat[label].get_ydata()) == [y, y]
    (band,) = [p for p in ax.patches if isinstance(p, Rectangle)]       # only GIN has a std: one band
    assert (band.get_y(), band.get_y() + band.get_height()) == pytest.approx((0.831 - 0.011, 0.831 + 0.011))
    assert band.get_facecolor()[:3] == pytest.approx(plt.matplotlib.colors.to_rgb(flat["GIN (r = 1)"].get_color()))
    lo, hi = ax.get_ylim()
    assert lo < 0.80 and hi > 0.9144                                    # references inside the view
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["AOANet (re-trained at r)", "GIN (r = 1)", "DNN",
                                                                   "oracle 0.9144"]
    legend = ax.get_legend().get_window_extent(renderer)
    assert not legend.overlaps(frame)                                   # outside the axes ...
    assert not any(legend.contains(px, py) for px, py in _markers_in_display(ax))   # ... so over no data point
    assert_figure_rules(fig)
    plt.close(fig)


def test_model_comparison_and_ablation_legends_never_cover_data():           # Figures rule 8
    for fig in (plot_model_comparison(N3, oracle_auc=0.9), plot_ablation(SUMMARY, x="layers"),
                plot_demo(N3, HISTORIES, 0.9)):
        renderer = _render(fig)
        for ax in fig.axes:
            legend = ax.get_legend()
            assert legend is not None
            box = legend.get_window_extent(renderer)
            assert not box.overlaps(ax.get_window_extent(renderer))
            assert not any(box.contains(px, py) for px, py in _markers_in_display(ax))
        plt.close(fig)


def test_axes_with_bars_start_at_zero_and_auc_comparisons_are_dots():       # Figures rule 7
    fig = plot_model_comparison(pd.DataFrame({"model": ["a", "b"], "auc": [0.881, 0.899], "auc_std": 0.002, "n": 5}))
    ax = fig.axes[0]
    assert not _bar_containers(ax) and not ax.patches                   # a narrow AUC range: dots, no bars
    assert ax.get_ylim()[0] > 0.85                                      # so the axis may zoom in
    plt.close(fig)
    out = torch.tensor([[[1.0, -3.0], [0.0, 0.5]], [[2.0, 2.0], [0.5, 0.0]]])
    for fig in (plot_coaction_magnitude(out), plot_alpha_distributions(INTER, kind="hist")):   # the bar charts
        assert any(_bar_containers(ax) for ax in fig.axes)
        assert_figure_rules(fig, legends_outside=False)                 # value axes from 0, linear
        plt.close(fig)
