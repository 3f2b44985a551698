"""ctrviz.diagrams: the shapes written in the boxes follow the config, text ≥ 8 pt, boxes never overlap."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from matplotlib.text import Text

from ctrviz.data.schema import Field, Pair, Schema
from ctrviz.diagrams import plot_coaction_diagram, plot_gin_diagram
from ctrviz.models.aoanet import AOANet, AOANetConfig
from ctrviz.models.can import CAN, CANConfig
from ctrviz.models.dnn import DNN, DNNConfig
from ctrviz.models.gin import GIN, GINConfig
from ctrviz.nn.coaction import CoAction, CoActionConfig

SCHEMA = Schema((Field("user", "sparse", vocab_size=5), Field("item", "sparse", vocab_size=6),
                 Field("hist", "sequence", vocab="item", vocab_size=6, max_len=3)),
                (Pair("item", "hist"), Pair("item", "user")))


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def shapes(fig: Figure) -> set[str]:
    """The last line of every box's text: its shape string."""
    return {t.split("\n")[-1] for t in texts(fig)}


def boxes(fig: Figure) -> list[FancyBboxPatch]:
    return [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch) and str(p.get_gid()).startswith("box:")]


def assert_well_drawn(fig: Figure) -> None:
    """Every text ≥ 8 pt and inside the figure; no two boxes overlap; each box's text inside its box."""
    assert (fig.get_size_inches() * 4 % 1 == 0).all()              # whole quarter inches
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    for t in fig.findobj(Text):
        if not t.get_text():
            continue
        assert t.get_fontsize() >= 8, f"{t.get_text()!r} is {t.get_fontsize()} pt"
        bb = t.get_window_extent(renderer)
        assert bb.x0 >= page.x0 - 1 and bb.x1 <= page.x1 + 1 and bb.y0 >= page.y0 - 1 and bb.y1 <= page.y1 + 1, \
            f"{t.get_text()!r} leaves the figure"
    patches = boxes(fig)
    assert len(patches) >= 5
    extents = {p.get_gid(): p.get_window_extent(renderer) for p in patches}
    for (a, ea), (b, eb) in itertools.combinations(extents.items(), 2):
        overlap_x = min(ea.x1, eb.x1) - max(ea.x0, eb.x0)
        overlap_y = min(ea.y1, eb.y1) - max(ea.y0, eb.y0)
        assert overlap_x <= 0.5 or overlap_y <= 0.5, f"boxes {a} and {b} overlap"
    box_texts = [t for t in fig.axes[0].texts if "\n" in t.get_text()]
    for t in box_texts:
        bb = t.get_window_extent(renderer)
        assert any(e.x0 - 0.5 <= bb.x0 and bb.x1 <= e.x1 + 0.5 and e.y0 - 0.5 <= bb.y0 and bb.y1 <= e.y1 + 0.5
                   for e in extents.values()), f"{t.get_text()!r} is not inside a box"


def can(**config) -> CAN:
    return CAN(SCHEMA, CANConfig(**{"embed_dim": 4, "hidden": (8,), "micro_layers": (4, 3, 2), "orders": 2,
                                    **config}))


# ------------------------------------------------------------------ co-action ------------------------------------


def test_coaction_diagram_writes_the_shapes_of_the_config() -> None:
    fig = plot_coaction_diagram(can())
    # D' = 4·3 + 3 + 3·2 + 2 = 23, C = 2 orders, O = 3 + 2 = 5, T = 3 positions, P = 2 pairs
    assert {"(B,)", "(B, T)", "(B, 23)", "(B, T, 4)", "(B, 2, T, 4)", "(B, 4, 3)", "(B, 3)", "(B, 3, 2)", "(B, 2)",
            "(B, 2, T, 3)", "(B, 2, T, 2)", "(B, 2, T, 5)", "(B, T, 5)", "(B, 5)", "(B, 2, 5)"} <= shapes(fig)
    words = " ".join(texts(fig))
    assert "item×hist" in words and "T = 3 positions of hist" in words
    assert "D' = Σ |w_i| + |b_i| = 4·3+3 + 3·2+2" in words
    assert_well_drawn(fig)


def test_coaction_diagram_changes_with_the_config() -> None:
    before = shapes(plot_coaction_diagram(can()))
    after = shapes(plot_coaction_diagram(can(micro_layers=(6, 5), orders=3)))
    # D' = 6·5 + 5 = 35, one layer, C = 3, O = 5
    assert {"(B, 35)", "(B, T, 6)", "(B, 3, T, 6)", "(B, 6, 5)", "(B, 3, T, 5)"} <= after
    assert not {"(B, 23)", "(B, T, 4)", "(B, 2, T, 4)"} & after
    assert before != after


def test_coaction_diagram_independence_bias_and_order_combine() -> None:
    fig = plot_coaction_diagram(can(order_independence=True, micro_bias=False, order_combine="concat"))
    # no biases: D' = 4·3 + 3·2 = 18 per order, 2 orders → 36; w_i per order (B, 2, d_in, d_out); O = 2·5
    s = shapes(fig)
    assert {"(B, 36)", "(B, 2, 4, 3)", "(B, 2, 3, 2)", "(B, T, 10)", "(B, 10)"} <= s
    assert not any(t.startswith("b_") for t in texts(fig))
    assert "orders side by side" in " ".join(texts(fig))
    assert_well_drawn(fig)


def test_coaction_diagram_draws_tanh_only_where_the_unit_applies_it() -> None:
    layer_texts = lambda fig: [t for t in texts(fig) if t.startswith("h_") and " w_" in t]   # noqa: E731
    paper = layer_texts(plot_coaction_diagram(can()))
    assert [t.split(" (")[0] for t in paper] == ["h_1 = tanh(h_0 w_0 + b_0)", "h_2 = tanh(h_1 w_1 + b_1)"]
    fig = plot_coaction_diagram(can(micro_last_activation=False, micro_bias=False))
    released = layer_texts(fig)
    assert released[0].startswith("h_1 = tanh(h_0 w_0) (Eq. 8)")
    assert released[1].startswith("h_2 = h_1 w_1 (no tanh on the last layer")
    none = layer_texts(plot_coaction_diagram(can(micro_activation="none")))
    assert not any("tanh" in t for t in none) and none[-1].startswith("h_2 = h_1 w_1 + b_1 (Eq. 8)")
    assert_well_drawn(fig)


def test_coaction_diagram_of_a_single_id_feed_has_no_positions() -> None:
    fig = plot_coaction_diagram(can(), pair="item×user")
    s = shapes(fig)
    assert {"(B, 4)", "(B, 2, 4)", "(B, 2, 5)", "(B, 5)"} <= s
    assert not any("T" in x for x in s)
    assert "Σ over T" not in " ".join(texts(fig))
    assert_well_drawn(fig)


def test_coaction_diagram_takes_a_unit_and_a_pair_index() -> None:
    unit = CoAction(SCHEMA, config=CoActionConfig(layers=(4, 2), orders=1))
    fig = plot_coaction_diagram(unit, pair=1)
    assert "(B, 10)" in shapes(fig) and "item×user" in " ".join(texts(fig))   # D' = 4·2 + 2


@pytest.mark.parametrize("pair", ["user×item", 2, -1, True])
def test_coaction_diagram_rejects_an_unknown_pair(pair) -> None:
    with pytest.raises(ValueError, match="pair must be"):
        plot_coaction_diagram(can(), pair=pair)


def test_coaction_diagram_needs_a_coaction_unit() -> None:
    with pytest.raises(ValueError, match="needs a CoAction or a model with a .coaction unit"):
        plot_coaction_diagram(DNN(SCHEMA, DNNConfig(embed_dim=4, hidden=(8,))))


# ------------------------------------------------------------------ GIN ------------------------------------------

FIELDS = Schema(tuple(Field(n, "sparse", vocab_size=5) for n in ("a", "b", "c")))


def test_gin_diagram_writes_the_shapes_of_the_config() -> None:
    fig = plot_gin_diagram(GIN(FIELDS, GINConfig(embed_dim=4, layers=2, subspaces=2, hidden=(8, 6))))
    words = " ".join(texts(fig))
    # B_0: F = 3 fields × D = 4; W^s (S, D, D); α (S, n, n) then (S, n, S); Q (B, S·D); w of S·D + |H| = 14
    for piece in ("(B, 3, 4)", "W_1: (2, 4, 4)", "W_2: (2, 4, 4)", "α_1: (2, 3, 3)", "α_2: (2, 3, 2)",
                  "h_1: (2, 4)", "3 × 3 = 9 pairs", "3 × 2 = 6 pairs", "w: (14,)", "12 → 8 → 6"):
        assert piece in words, piece
    assert {"(B, 4)", "(B, 8)", "(B, 12)", "(B, 6)", "(B,)"} <= shapes(fig)
    assert sum(t.startswith("P_2^") for t in texts(fig)) == 2        # S nodes in B_2
    assert sum(t.startswith("a_") for t in texts(fig)) == 3           # F nodes in B_0
    assert_well_drawn(fig)


def test_gin_diagram_changes_with_the_config() -> None:
    fig = plot_gin_diagram(GIN(FIELDS, GINConfig(embed_dim=5, layers=3, subspaces=3, hidden=())))
    words = " ".join(texts(fig))
    for piece in ("W_3: (3, 5, 5)", "α_1: (3, 3, 3)", "α_3: (3, 3, 3)", "w: (15,)", "(B, 3, 5)"):
        assert piece in words, piece
    assert "W_1: (2, 4, 4)" not in words and "deep part" in words and "MLP" not in words
    assert_well_drawn(fig)


def test_gin_diagram_names_the_pair_order_of_each_layer() -> None:
    def pairs(order: str) -> list[str]:
        fig = plot_gin_diagram(GIN(FIELDS, GINConfig(embed_dim=4, layers=3, subspaces=2, pair_order=order)))
        assert_well_drawn(fig)
        return [t.split("\n")[0].split("W^s, ")[1] for t in texts(fig) if "interaction: Z^s_uv" in t]

    assert pairs("eq8") == ["(u, v) ∈ B_0 × B_0 (Eq. 7–8, 11)", "(u, v) ∈ B_0 × B_1 (Eq. 7–8, 11)",
                            "(u, v) ∈ B_0 × B_2 (Eq. 7–8, 11)"]
    assert pairs("lemma") == ["(u, v) ∈ B_0 × B_0 (Eq. 7–8, 11)", "(u, v) ∈ B_1 × B_0 (Lemmas 3.1–3.2's order)",
                              "(u, v) ∈ B_2 × B_0 (Lemmas 3.1–3.2's order)"]


def test_gin_diagram_counts_aoanet_gates_and_elides_many_fields() -> None:
    many = Schema(tuple(Field(f"f{k}", "sparse", vocab_size=5) for k in range(11)))
    model = AOANet(many, AOANetConfig(embed_dim=4, subspaces=2, hidden=(8,), ratio=0.5))
    with torch.no_grad():
        for layer in model.gin_layers:
            layer.gate[0] = 0                                       # switch subspace 0 off
    fig = plot_gin_diagram(model, max_nodes=6)
    words = " ".join(texts(fig))
    assert "gates kept 121 of 242" in words and "gates kept 22 of 44" in words   # S·n·n, S·n·S
    assert "6 more" in words and "a_11: f10" in words and "a_5: f4" not in words
    assert_well_drawn(fig)


def test_gin_diagram_rejects_other_models_and_bad_max_nodes() -> None:
    with pytest.raises(ValueError, match="needs a GIN"):
        plot_gin_diagram(can())
    with pytest.raises(ValueError, match="max_nodes must be an int >= 2"):
        plot_gin_diagram(GIN(FIELDS, GINConfig(embed_dim=4, hidden=(8,))), max_nodes=1)
