"""The ipywidgets explorers, driven without a browser: set a control, check the figure and the values move;
the static fallback (no ipywidgets, or no kernel) and that it holds the info panel's text; every ValueError;
lemmas.lemma_weights' W patterns; and the W structure (fixed, tied, free, input-dependent) by hand."""

from __future__ import annotations

import html
import re
import sys

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.text import Text

from ctrviz import lemmas
from ctrviz import widgets as W
from ctrviz.data.batch import Batch
from ctrviz.data.schema import Field, Pair, Schema
from ctrviz.models.aoanet import select_gates
from ctrviz.models.can import CAN, CANConfig
from ctrviz.models.gin import GIN, GINConfig

ipywidgets = pytest.importorskip("ipywidgets")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def heat(fig: Figure, k: int = 0) -> np.ndarray:
    """The values of the k-th axes' heatmap (masked cells as NaN)."""
    return np.ma.filled(fig.axes[k].collections[0].get_array().astype(float), np.nan)


def structure_codes(fig: Figure, k: int = 0) -> list[list[str]]:
    """The k-th panel of a plot_weight_structure figure, as the kinds its image's codes stand for."""
    codes = np.asarray(fig.axes[k].images[0].get_array())
    return [[W.STRUCTURE_KINDS[c] for c in row] for row in codes.tolist()]


def words(text: str) -> str:
    """Markup or figure text → its words: tags, entities, the table bars and line breaks dropped."""
    text = re.sub(r"<br\s*/?>|</?(?:tr|td|th|table)>", " ", text)                      # breaks and cells: a space
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", text)).replace("|", " ").split())


def figure_words(fig: Figure) -> str:
    return words(" ".join(t.get_text() for t in fig.findobj(Text)))


# ---------------------------------------------------------------- lemmas.lemma_weights -----------------------


@pytest.mark.parametrize("model", lemmas.lemma_weight_models())
def test_lemma_weights_name_real_lemmas_and_have_square_weights(model):
    p = lemmas.lemma_weights(model, fields=3, dim=2)
    assert set(p["lemmas"]) <= {lemma.name for lemma in lemmas.LEMMAS}
    w = p["weight"]
    assert w.dtype == torch.float64 and w.dim() == 3 and w.shape[1] == w.shape[2]
    assert len(p["labels"]) == w.shape[0]
    assert torch.isfinite(w).all()
    for key in ("constraint", "h", "alpha", "pairing", "models"):
        assert isinstance(p[key], str) and p[key]


def test_lemma_weights_patterns_by_hand():
    eye = torch.eye(3, dtype=torch.float64)
    assert torch.equal(lemmas.lemma_weights("inner", dim=3)["weight"][0], eye)
    assert torch.equal(lemmas.lemma_weights("hadamard", dim=3)["weight"][0], eye)
    assert torch.equal(lemmas.lemma_weights("outer", dim=3)["weight"][0], torch.ones(3, 3, dtype=torch.float64))
    fwfm = lemmas.lemma_weights("fwfm", fields=3, dim=3)["weight"]                   # r_p · I per pair
    assert fwfm.shape == (3, 3, 3) and torch.equal(fwfm, fwfm[:, :1, :1] * eye)
    dcn = lemmas.lemma_weights("dcn", fields=2, dim=2)["weight"][0]                   # K = 4, W_ij = w_i
    assert dcn.shape == (4, 4) and torch.equal(dcn, dcn[:, :1].expand(4, 4))
    assert lemmas.lemma_weights("opnn", fields=4, dim=2)["weight"].shape == (6, 2, 2)  # one K per pair
    assert lemmas.lemma_weights("xdeepfm", dim=2)["weight"].shape == (4, 2, 2)
    assert lemmas.lemma_weights("autoint", fields=3, dim=2)["input_dependent"]
    a = lemmas.lemma_weights("dcn", seed=1)["weight"]
    assert torch.equal(a, lemmas.lemma_weights("dcn", seed=1)["weight"])              # seeded
    assert not torch.equal(a, lemmas.lemma_weights("dcn", seed=2)["weight"])


def test_lemma_weights_dcn_w_in_a_gin_layer_is_the_cross_term():
    """The W lemma_weights returns, put in a GIN layer with the swapped pairing, gives x_0 (x_lᵀ w)."""
    from ctrviz.nn.gin import GINLayer

    w = lemmas.lemma_weights("dcn", fields=2, dim=2)["weight"]                       # (1, 4, 4)
    layer = GINLayer(1, 1, 4, 1).double()
    with torch.no_grad():
        layer.weight.copy_(w)
        layer.h.fill_(1.0)
        layer.alpha.fill_(1.0)
    x0, xl = torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 4, dtype=torch.float64)
    want = x0 * (xl @ w[0, :, 0])[:, None]
    assert torch.allclose(layer(xl[:, None], x0[:, None])[:, 0], want, atol=1e-12)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"model": "nope"}, "model must be one of"),
    ({"model": "dcn", "fields": 1}, "fields must be an int >= 2"),
    ({"model": "dcn", "dim": 0}, "dim must be an int >= 1"),
    ({"model": "dcn", "dim": True}, "dim must be an int >= 1"),
])
def test_lemma_weights_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lemmas.lemma_weights(**kwargs)


# ---------------------------------------------------------------- weight_structure / plot_weight_structure ----


def test_weight_structure_of_the_identity_is_fixed():
    kinds, groups = W.weight_structure(torch.eye(3, dtype=torch.float64))
    assert kinds.shape == groups.shape == (3, 3)
    assert (kinds[np.eye(3, dtype=bool)] == "fixed 1").all()
    assert (kinds[~np.eye(3, dtype=bool)] == "fixed 0").all()
    assert (groups == -1).all()
    assert (W.weight_structure(torch.ones(2, 2))[0] == "fixed 1").all()              # outer product, Lemma A.3
    assert (W.weight_structure(-torch.zeros(2, 2))[0] == "fixed 0").all()             # -0.0 is 0 too


def test_weight_structure_dcn_each_row_one_tied_group():
    w = torch.tensor([0.3, -1.2, 2.5, 0.7])[:, None].expand(4, 4)                     # W_ij = w_i (Eq. 20)
    kinds, groups = W.weight_structure(w)
    assert (kinds == "tied").all()
    assert groups.tolist() == [[0] * 4, [1] * 4, [2] * 4, [3] * 4]


def test_weight_structure_free_tied_across_panels_input_and_undefined():
    free = torch.tensor([[0.5, -0.7], [2.0, 3.0]])
    kinds, groups = W.weight_structure(free)
    assert (kinds == "free").all() and (groups == -1).all()
    stack = torch.stack([0.4 * torch.eye(2), 0.4 * torch.eye(2)])                   # one number in both panels
    kinds, groups = W.weight_structure(stack)
    assert kinds.shape == (2, 2, 2) and kinds[:, 0, 0].tolist() == ["tied", "tied"]
    assert (groups[:, [0, 1], [0, 1]] == 0).all() and (kinds[:, 0, 1] == "fixed 0").all()
    kinds, groups = W.weight_structure(torch.tensor([[0.2, 0.2], [0.0, 0.9]]), input_dependent=True)
    assert kinds.tolist() == [["input-dependent"] * 2, ["fixed 0", "input-dependent"]]
    assert groups.tolist() == [[0, 0], [-1, -1]]                                      # ties kept
    kinds, _ = W.weight_structure(np.array([[np.nan, np.inf], [1.0, 0.5]]))
    assert kinds.tolist() == [["undefined", "undefined"], ["fixed 1", "free"]]


@pytest.mark.parametrize(("model", "want"), [
    ("inner", {"fixed 0", "fixed 1"}), ("outer", {"fixed 1"}), ("xdeepfm", {"fixed 0", "fixed 1"}),
    ("dcn", {"tied"}), ("dcn-m", {"free"}), ("opnn", {"free"}), ("fwfm", {"fixed 0", "tied"}),
    ("afm", {"fixed 0", "input-dependent"}), ("autoint", {"input-dependent"}),
])
def test_weight_structure_of_each_lemma(model, want):
    """The structure read off lemma_weights' random W is what the lemma states (Tables 1–2)."""
    p = lemmas.lemma_weights(model, fields=3, dim=3)
    kinds, groups = W.weight_structure(p["weight"], p["input_dependent"])
    assert set(kinds.ravel().tolist()) == want
    if model == "dcn":                                                                # one group per row of W
        assert (groups[0] == groups[0][:, :1]).all() and len(set(groups[0][:, 0].tolist())) == 9
    if model == "fwfm":                                                               # r_p on pair p's diagonal
        assert [set(groups[k].diagonal().tolist()) for k in range(3)] == [{0}, {1}, {2}]


def test_plot_weight_structure_figure():
    w = torch.stack([torch.eye(3), torch.tensor([0.3, -1.2, 2.5])[:, None].expand(3, 3),
                     torch.tensor([[0.15, 0.25, 0.35], [0.45, 0.55, 0.65], [0.75, 0.85, 0.95]])])
    fig = W.plot_weight_structure(w, labels=["I", "DCN", "free"])
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert structure_codes(fig, 0) == [["fixed 1", "fixed 0", "fixed 0"], ["fixed 0", "fixed 1", "fixed 0"],
                                       ["fixed 0", "fixed 0", "fixed 1"]]
    assert structure_codes(fig, 1) == [["tied"] * 3] * 3 and structure_codes(fig, 2) == [["free"] * 3] * 3
    letters = [[t.get_text() for t in fig.axes[1].texts][3 * i:3 * i + 3] for i in range(3)]
    assert letters == [["a"] * 3, ["b"] * 3, ["c"] * 3]                               # one letter per tie group
    assert "?" in fig.get_suptitle() and "fixed" in fig.get_suptitle()              # the question it answers
    fig.canvas.draw()
    for ax in fig.axes:
        for label in ax.get_xticklabels() + ax.get_yticklabels():
            assert label.get_fontsize() >= 8
    legend = fig.axes[-1].get_legend()
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[0].startswith("fixed 0 (6)") and texts[1].startswith("fixed 1 (3)")
    assert texts[2].startswith("tied (9, 3 groups)") and texts[3].startswith("free (9)")
    box = legend.get_window_extent()
    for ax in fig.axes:                                                               # the legend covers no panel
        assert not box.overlaps(ax.get_window_extent())
    suptitle = fig._suptitle.get_window_extent()
    assert not any(suptitle.overlaps(ax.get_window_extent()) for ax in fig.axes)


def test_plot_weight_structure_from_a_pattern_dict_and_panels():
    p = lemmas.lemma_weights("autoint", fields=3, dim=2)
    fig = W.plot_weight_structure(p, max_panels=2)
    assert len(fig.axes) == 2 and "first 2 of 3" in fig.get_suptitle() and "autoint" in fig.get_suptitle()
    assert structure_codes(fig) == [["input-dependent"] * 2] * 2                       # the dict's flag
    assert fig.axes[0].get_title() == "key t = 0"
    fig = W.plot_weight_structure(torch.eye(2), note="a note", title="W = I")
    assert fig.get_supxlabel() == "a note" and fig.get_suptitle() == "W = I"


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    ((torch.zeros(2, 3),), {}, r"\(D, D\) or \(S, D, D\)"),
    ((torch.zeros(2, 2),), {"labels": ["a", "b"]}, "2 labels for 1 matrices"),
    ((torch.zeros(2, 2),), {"max_panels": 0}, "max_panels must be an int >= 1"),
    (("abc",), {}, "tensor or array of numbers"),
    (({"weight": torch.eye(2), "labels": ["x"], "model": "m", "constraint": "c"},), {},
     "pattern dict needs key 'input_dependent'"),
])
def test_plot_weight_structure_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        W.plot_weight_structure(*args, **kwargs)
    if not kwargs and not isinstance(args[0], dict):
        with pytest.raises(ValueError, match=match):
            W.weight_structure(*args)


# ---------------------------------------------------------------- lemma explorer ------------------------------


def test_lemma_explorer_follows_the_dropdown():
    w = W.lemma_explorer("inner", static=False)
    assert isinstance(w, ipywidgets.VBox)
    assert w.pattern["model"] == "inner" and w.passed and w.max_error <= lemmas.TOLERANCE
    assert set(w.errors["lemma"]) == {"A.1 inner product", "3.x FM / DeepFM", "3.x IPNN"}
    eye = np.eye(4, dtype=bool)                                                        # structure first: W = I fixed
    assert structure_codes(w.figure) == [["fixed 1" if e else "fixed 0" for e in row] for row in eye]
    w.view.value = "values"
    assert heat(w.figure).reshape(4, 4).tolist() == torch.eye(4).tolist()
    first_png, first_fig = w.image.value, w.figure

    w.dropdown.value = "dcn"
    assert w.pattern["model"] == "dcn" and w.figure is not first_fig and w.image.value != first_png
    cells = heat(w.figure).reshape(12, 12)
    assert np.allclose(cells, cells[:, :1])                                            # W_ij = w_i
    assert "GIN&#x27;s pairing order" in w.info.value or "GIN's pairing order" in w.info.value
    assert w.passed and 0 <= w.max_error <= lemmas.TOLERANCE
    w.view.value = "structure"                                                         # every row one tied number
    assert structure_codes(w.figure) == [["tied"] * 12] * 12

    w.dropdown.value = "autoint"                                                       # degenerate rows: NaN
    degenerate = w.errors[w.errors.kind == "degenerate"]
    assert len(degenerate) == 2 and degenerate.max_abs_error.isna().all()
    assert w.passed and np.isfinite(w.max_error)                                       # relations still pass
    assert "NaN" in w.info.value and "degenerate (explained)" in w.info.value
    assert structure_codes(w.figure) == [["input-dependent"] * 4] * 4


@pytest.mark.parametrize("model", ["fwfm", "dcn", "autoint"])
def test_lemma_explorer_static_shows_the_panel_text(model):
    """The static figure holds every fact of the interactive info panel: models, W, h, α, pairing, errors."""
    w = W.lemma_explorer(model, static=False)
    fig = W.lemma_explorer(model, static=True)
    assert words(w.info.value) in figure_words(fig)
    text = figure_words(fig)
    for _, row in w.errors.iterrows():                                                  # each lemma's error string
        value = "NaN" if pd.isna(row.max_abs_error) else f"{row.max_abs_error:.1e}"
        assert f"{words(row.lemma)} {words(row.relation)} {value}" in text


def test_lemma_explorer_static_paths(monkeypatch):
    fig = W.lemma_explorer("fwfm", static=True)
    assert isinstance(fig, Figure) and len(fig.axes) == 3                             # 3 pairs, legend beside
    assert structure_codes(fig, 0)[0] == ["tied", "fixed 0", "fixed 0", "fixed 0"]   # r_01 on the diagonal
    fig = W.lemma_explorer("fwfm", view="values", static=True)
    assert len(fig.axes) == 4 and heat(fig, 0).reshape(4, 4)[0, 1] == 0               # 3 pairs + colour bar
    assert isinstance(W.lemma_explorer("fwfm"), Figure)                               # no kernel in pytest
    monkeypatch.setattr(W, "_kernel_running", lambda: True)
    assert isinstance(W.lemma_explorer("fwfm"), ipywidgets.VBox)                      # a kernel: the widget
    monkeypatch.setitem(sys.modules, "ipywidgets", None)                              # import fails
    assert isinstance(W.lemma_explorer("fwfm"), Figure)
    with pytest.raises(ImportError, match="pip install 'ipywidgets>=8.0'"):
        W.lemma_explorer("fwfm", static=False)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"model": "nope"}, "model must be one of"),
    ({"seeds": ()}, "seeds must be a non-empty sequence of ints"),
    ({"fields": 1}, "fields must be an int >= 2"),
    ({"static": "yes"}, "static must be True, False or None"),
    ({"view": "pattern"}, "view must be 'structure' or 'values'"),
])
def test_lemma_explorer_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        W.lemma_explorer(**kwargs)


# ---------------------------------------------------------------- pruning explorer ----------------------------


@pytest.fixture(scope="module")
def gin_interactions() -> pd.DataFrame:
    schema = Schema(tuple(Field(f"f{i:02d}", "sparse", vocab_size=5) for i in range(4)))
    model = GIN(schema, GINConfig(embed_dim=2, layers=2, subspaces=2, hidden=()))
    with torch.no_grad():                                                              # distinct |α|, f00×f01 largest
        for li, layer in enumerate(model.gin_layers):
            n = layer.alpha.numel()
            layer.alpha.copy_(torch.arange(1, n + 1, dtype=torch.float32).view_as(layer.alpha) / n * (-1) ** li)
        layer = model.gin_layers[0]
        layer.alpha[:, 0, 1] = layer.alpha[:, 1, 0] = 10.0
    return model.interactions()


def test_pruning_explorer_follows_the_slider(gin_interactions):
    w = W.pruning_explorer(gin_interactions, planted=[("f00", "f01")], ratio=0.25, static=False)
    assert isinstance(w, ipywidgets.VBox)
    # 0.25 of 16 pairs per subspace of layer 1 = 4, of 8 per subspace of layer 2 = 2: (4 + 2) · 2 subspaces
    assert (w.kept_count, w.total) == (12, 48) and w.kept_fraction == pytest.approx(12 / 48)
    assert np.nansum(heat(w.figure, 0)) == 4                                           # subspace 0 of layer 1
    assert w.planted_status["kept"].tolist() == [True]
    assert w.auc is None and "no sweep given" in w.auc_text
    png = w.image.value

    w.slider.value = 0.5
    assert w.ratio == 0.5 and (w.kept_count, w.kept_fraction) == (24, 0.5)
    assert np.nansum(heat(w.figure, 0)) == 8 and w.image.value != png
    assert "kept 24 of 48" in w.info.value and "f00×f01" in w.info.value
    # the same gates as AOANet's select_gates on the model's α
    assert w.kept.sum() == 24 and w.kept.dtype == bool

    w.view.value = "heatmap"                                                           # kept gates per field pair
    cells = heat(w.figure)
    assert np.nansum(cells) == int(w.kept[gin_interactions.layer == 1].sum())
    w.layer.value = 2
    assert "Layer 2" in w.figure.axes[0].get_title()
    assert w.kept_count == 24                                                          # counts stay over all layers


def test_pruning_explorer_matches_select_gates(gin_interactions):
    schema = Schema(tuple(Field(f"f{i:02d}", "sparse", vocab_size=5) for i in range(4)))
    model = GIN(schema, GINConfig(embed_dim=2, layers=2, subspaces=2, hidden=()))
    with torch.no_grad():
        for li, layer in enumerate(model.gin_layers, start=1):
            t = gin_interactions[gin_interactions.layer == li]
            layer.alpha.copy_(torch.tensor(t.alpha.to_numpy(), dtype=torch.float32).view_as(layer.alpha))
    gates = select_gates(model.gin_layers, 0.4, "layer")
    want = np.concatenate([g.flatten().numpy() for g in gates]) > 0
    w = W.pruning_explorer(gin_interactions, ratio=0.4, ranking="layer", static=False)
    assert w.kept.tolist() == want.tolist()


def test_pruning_explorer_looks_up_the_auc(gin_interactions):
    summary = pd.DataFrame({"model": ["gin", "aoanet", "aoanet", "aoanet"],
                            "knob": ["layers L", "ratio r", "ratio r", "ratio r"], "value": [2, 0.3, 0.5, 1.0],
                            "auc_mean": [0.70, 0.75, 0.74, 0.72], "auc_std": [0.01, 0.02, 0.03, 0.0],
                            "n": [5, 5, 5, 5]})
    w = W.pruning_explorer(gin_interactions, sweep=summary, ratio=0.3, static=False)
    assert (w.auc, w.auc_ratio) == (0.75, 0.3) and "at r = 0.3: 0.7500 ± 0.0200 (5 run(s))" in w.auc_text
    w.slider.value = 0.55                                                              # nearest cached r = 0.5
    assert (w.auc, w.auc_ratio) == (0.74, 0.5) and "nearest cached r = 0.5" in w.auc_text
    runs = pd.DataFrame({"model": "aoanet", "seed": [0, 1, 0], "ratio": [0.3, 0.3, 1.0], "auc": [0.7, 0.8, 0.6]})
    w = W.pruning_explorer(gin_interactions, sweep=runs, ratio=0.3, static=False)      # runs: mean over seeds
    assert w.auc == pytest.approx(0.75) and "2 run(s)" in w.auc_text


def test_pruning_explorer_static(gin_interactions, monkeypatch):
    fig = W.pruning_explorer(gin_interactions, ratio=0.5, static=True)
    assert isinstance(fig, Figure) and np.nansum(heat(fig, 0)) == 8
    assert "top 0.5 of |α| per subspace" in " ".join(fig.get_suptitle().split())      # titled by r, not "kept"
    fig = W.pruning_explorer(gin_interactions, view="heatmap", layer=2)                # no kernel: static
    assert isinstance(fig, Figure) and "Layer 2" in fig.axes[0].get_title()
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    monkeypatch.setattr(W, "_kernel_running", lambda: True)
    assert isinstance(W.pruning_explorer(gin_interactions), Figure)


@pytest.mark.parametrize("view", ["mask", "heatmap"])
def test_pruning_explorer_static_shows_the_panel_text(gin_interactions, view):
    """The static figure holds the interactive panel's facts: counts, the re-trained AUC, the planted pairs."""
    summary = pd.DataFrame({"model": "aoanet", "knob": "ratio r", "value": [0.25, 0.5], "auc_mean": [0.75, 0.74],
                            "auc_std": [0.02, 0.03], "n": [5, 5]})
    kwargs = {"planted": [("f00", "f01")], "sweep": summary, "ratio": 0.25, "view": view}
    w = W.pruning_explorer(gin_interactions, static=False, **kwargs)
    fig = W.pruning_explorer(gin_interactions, static=True, **kwargs)
    text = figure_words(fig)
    assert words(w.info.value) in text
    assert "re-trained AUC at r = 0.25: 0.7500 ± 0.0200 (5 run(s))" in text
    assert "kept 12 of 48 interactions (25.0 %) — layer 1: 8/32, layer 2: 4/16" in text
    assert "planted pairs: f00×f01 (rank 1 of 10) kept" in text
    fig.canvas.draw()                                                                  # the text block is below
    block = fig.get_supxlabel()                                                        # every panel
    assert "re-trained AUC" in block
    bottom = min(ax.get_window_extent().y0 for ax in fig.axes)
    assert fig._supxlabel.get_window_extent().y1 <= bottom


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"interactions": [1, 2]}, "interactions must be a pandas DataFrame"),
    ({"interactions": pd.DataFrame({"layer": [1]})}, "interactions lack column 'subspace'"),
    ({"ratio": 0.0}, r"ratio must be a number in \(0, 1\]"),
    ({"ratio": 1.5}, r"ratio must be a number in \(0, 1\]"),
    ({"ranking": "pair"}, "ranking must be one of"),
    ({"view": "bars"}, "view must be 'mask' or 'heatmap'"),
    ({"layer": 3}, r"layer must be one of \[1, 2\]"),
    ({"planted": [("f00", "zz")]}, "not among the layer-1 interactions"),
    ({"sweep": [0.7]}, "sweep must be a pandas DataFrame"),
    ({"sweep": pd.DataFrame({"auc": [0.7]})}, "sweep needs a 'ratio' column"),
    ({"sweep": pd.DataFrame({"ratio": [0.3]})}, "sweep needs an 'auc'"),
    ({"sweep": pd.DataFrame({"ratio": ["a"], "auc": [0.7]})}, "must hold numbers"),
    ({"sweep": pd.DataFrame({"knob": ["layers L"], "value": [2], "auc": [0.7]})}, "no rows with a ratio"),
])
def test_pruning_explorer_errors(gin_interactions, kwargs, match):
    kwargs = {"interactions": gin_interactions, **kwargs}
    with pytest.raises(ValueError, match=match):
        W.pruning_explorer(static=False, **kwargs)


# ---------------------------------------------------------------- co-action explorer ---------------------------


def _can(**micro) -> CAN:
    schema = Schema((Field("item", "sparse", vocab_size=8), Field("cat", "sparse", vocab_size=5),
                     Field("hist", "sequence", vocab="item", vocab_size=8, max_len=4)),
                    (Pair("item", "hist"), Pair("item", "cat")))
    torch.manual_seed(0)
    model = CAN(schema, CANConfig(embed_dim=4, hidden=(8,), micro_layers=(4, 3, 2), **micro))
    with torch.no_grad():                                                              # visible, not 0.01-sized
        for p in model.coaction.parameters():
            p.normal_()
    return model


def _one_row(sparse: list[int], hist: list[int]) -> Batch:
    """One row of _can()'s schema: the sparse ids (item, cat) and the history."""
    return Batch(torch.tensor([sparse]), torch.zeros(1, 0), {"hist": torch.tensor([hist])}, torch.zeros(1))


@pytest.mark.parametrize("micro", [{}, {"order_independence": True, "order_combine": "concat"},
                                   {"micro_bias": False, "micro_activation": "none"}])
def test_coaction_explain_equals_the_units_forward_output(micro):
    """CoAction.explain runs the micro-MLP one vector at a time (what the explorer draws); the unit's batched forward
    of a row holding the two ids gives the same output, and a history sum-pools the positions' explanations."""
    unit = _can(**micro).coaction
    for pair, ind, feed, row in (("item×hist", 5, 3, ([5, 0], [3, 0, 0, 0])), (1, 2, 4, ([2, 4], [0, 0, 0, 0]))):
        e = unit.explain(pair, ind, feed)
        k = list(unit.names).index(e.pair)
        with torch.no_grad():
            out = unit(_one_row(*row))[0, k]                          # (O,)
        assert torch.allclose(e.output, out, atol=1e-6) and torch.equal(e.unit_output, out)
        assert e.pair == unit.names[k] and (e.induction_id, e.feed_id, e.order) == (ind, feed, 1)
    by_index, by_name = unit.explain(0, 5, 3, order=2), unit.explain("item×hist", 5, 3, order=2)
    assert all(torch.equal(a, b) for a, b in zip(by_index.weights, by_name.weights, strict=True))
    with torch.no_grad():                                                          # Eq. 10: sum over the history
        pooled = unit(_one_row([5, 0], [3, 6, 0, 0]))[0, 0]
    assert torch.allclose(unit.explain(0, 5, 3).output + unit.explain(0, 5, 6).output, pooled, atol=1e-6)


@pytest.mark.parametrize(("micro", "bias", "tables", "out"), [
    ({}, True, 1, 5), ({"order_independence": True, "order_combine": "concat"}, True, 3, 15),
    ({"micro_bias": False}, False, 1, 5)])
def test_coaction_explain_shapes(micro, bias, tables, out):
    unit = _can(**micro).coaction
    e = unit.explain("item×cat", induction_id=3, feed_id=2, order=3)
    assert [tuple(w.shape) for w in e.weights] == [(4, 3), (3, 2)]                 # micro_layers (4, 3, 2)
    assert e.biases is None if not bias else [tuple(b.shape) for b in e.biases] == [(3,), (2,)]
    assert e.induction_vector.shape == (tables * (4 * 3 + 3 * 2 + (3 + 2 if bias else 0)),)   # D'·C_w
    assert e.feed_vector.shape == (4,) and torch.equal(e.inputs, e.feed_vector ** 3)          # h_0 = P_feed³
    assert [tuple(h.shape) for h in e.outputs] == [(3,), (2,)] and e.output.shape == (out,)
    h = e.inputs                                                                   # by hand: h_i = σ(h w_i + b_i)
    for i, w in enumerate(e.weights):
        h = h @ w + (e.biases[i] if bias else 0)
        h = torch.tanh(h) if "micro_activation" not in micro else h
        assert torch.allclose(h, e.outputs[i])


@pytest.mark.parametrize(("args", "match"), [
    (("cat×hist", 2, 2), r"unknown co-action pair 'cat×hist'; pairs: \['item×hist', 'item×cat'\]"),
    ((2, 2, 2), r"pair index 2 out of range 0..1"),
    ((0, 8, 2), r"induction_id of field 'item' must be an int in \[0, 8\), got 8"),
    ((0, True, 2), r"induction_id of field 'item' must be an int in \[0, 8\), got True"),
    ((0, 2, 0), r"feed_id of field 'hist' must be an int in \[1, 8\), got 0"),
    ((1, 2, 5), r"feed_id of field 'cat' must be an int in \[1, 5\), got 5"),
    ((0, 2, 2, 4), r"order must be an int in \[1, 3\], got 4"),
])
def test_coaction_explain_errors(args, match):
    with pytest.raises(ValueError, match=match):
        _can().coaction.explain(*args)


def test_coaction_explorer_follows_the_ids():
    model = _can()
    w = W.coaction_explorer(model, static=False)
    assert isinstance(w, ipywidgets.VBox)
    assert (w.pair.value, w.induction.value, w.feed.value, w.order.value) == ("item×hist", 2, 2, 1)
    assert [tuple(x.shape) for x in w.weights] == [(4, 3), (3, 2)] and [b.shape[0] for b in w.biases] == [3, 2]
    assert [x.shape[0] for x in w.outputs] == [3, 2] and w.max_abs_diff < 1e-6
    # by hand: h1 = tanh(P_feedᵀ w1 + b1), h2 = tanh(h1ᵀ w2 + b2)
    h1 = torch.tanh(w.feed_vector @ w.weights[0] + w.biases[0])
    assert torch.allclose(w.outputs[0], h1)
    assert torch.allclose(w.outputs[1], torch.tanh(h1 @ w.weights[1] + w.biases[1]))
    top = heat(w.figure, 0).reshape(5, 3)                                              # w1 and the bias row b
    assert np.allclose(top[:4], w.weights[0].numpy()) and np.allclose(top[4], w.biases[0].numpy())
    before = [x.clone() for x in w.weights], w.outputs[0].clone(), w.unit_output.clone()

    w.induction.value = 5                                                              # other weights, same feed
    assert not torch.equal(w.weights[0], before[0][0]) and not torch.equal(w.outputs[0], before[1])
    assert w.max_abs_diff < 1e-6
    feed_before = w.feed_vector.clone()
    w.feed.value = 3                                                                   # same weights, other feed
    assert not torch.equal(w.feed_vector, feed_before) and w.max_abs_diff < 1e-6
    feed_3 = w.feed_vector.clone()
    w.order.value = 3                                                                  # h0 = P_feed³ (Eq. 11)
    assert torch.allclose(w.feed_vector, feed_3 ** 3) and w.max_abs_diff < 1e-6
    assert "order 3 of 3" in w.figure._suptitle.get_text()

    w.pair.value = "item×cat"                                                          # id lists follow the pair
    assert list(w.feed.options) == [2, 3, 4] and w.feed.value == 2 and w.max_abs_diff < 1e-6
    assert "item×cat" in w.info.value


def test_coaction_explorer_batch_ids_order_independence_and_static(monkeypatch):
    model = _can(order_independence=True, order_combine="concat")
    batch = Batch(torch.tensor([[6, 3], [6, 4], [7, 3]]), torch.zeros(3, 0),
                  {"hist": torch.tensor([[5, 5, 5, 0], [4, 0, 0, 0], [0, 0, 0, 0]])}, torch.zeros(3))
    w = W.coaction_explorer(model, batch=batch, static=False)
    assert list(w.induction.options) == [6, 7] and list(w.feed.options) == [5, 4]     # most frequent first
    assert w.unit_output.shape[0] == 3 * 5 and w.max_abs_diff < 1e-6                  # C = 3 orders concatenated
    first = w.weights[0].clone()
    w.order.value = 2                                                                  # own P_induction per order
    assert not torch.equal(w.weights[0], first) and w.induction_vector.shape[0] == 3 * (4 * 3 + 3 + 3 * 2 + 2)
    fig = W.coaction_explorer(model.coaction, induction_ids=[3], feed_ids=[1], static=True)   # the unit itself
    assert isinstance(fig, Figure) and "induction id 3" in fig._suptitle.get_text()
    w = W.coaction_explorer(model.coaction, induction_ids=[3], feed_ids=[1], static=False)
    assert words(w.info.value) in figure_words(fig)                                    # the panel's text too
    out = ", ".join(f"{x:.3g}" for x in w.unit_output.tolist())
    assert f"item×hist, induction id 3, feed id 1: F(u, m) = ‖ h_i = [{out}]" in figure_words(fig)
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    assert isinstance(W.coaction_explorer(model), Figure)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"model": torch.nn.Linear(2, 2)}, "model must be a CAN-style model"),
    ({"pair": "cat×hist"}, r"pair must be one of \['item×hist', 'item×cat'\]"),
    ({"order": 4}, r"order must be an int in \[1, 3\]"),
    ({"induction_ids": [8]}, r"induction ids of field 'item' must be ints in \[0, 8\)"),
    ({"feed_ids": [0]}, r"feed ids of field 'hist' must be ints in \[1, 8\)"),
    ({"feed_ids": []}, "no feed ids to choose from"),
    ({"batch": "rows"}, "batch must be a ctrviz Batch"),
])
def test_coaction_explorer_errors(kwargs, match):
    kwargs = {"model": _can(), **kwargs}
    with pytest.raises(ValueError, match=match):
        W.coaction_explorer(static=False, **kwargs)
