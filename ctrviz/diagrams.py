"""Block diagrams with tensor shapes, drawn from a model's real dimensions (not pasted images).

- :func:`plot_coaction_diagram`: CAN's co-action unit for one induction × feed pair (CAN Sec. 4.2–4.4,
  Eq. 5–11 and Fig. 3, left): the induction id's vector ``P_induction`` cut into the micro-MLP's weights and
  biases, the feed vectors and their orders running through it, and the sum-pooling over the history.
- :func:`plot_gin_diagram`: GIN as AOANet's Fig. 2 (Sec. 3.3, Eq. 6–16): the field vectors B_0, every layer's
  generalized interaction ``Z = (u ⊗ v) ⊙ W^s`` over pairing(B_0, B_{l-1}), the α-weighted fusion projected by
  h into the S vectors of B_l, the deep part beside them, and the output.

Every box holds its name and its shape, computed from the model's config and public attributes: the
letters B (rows) and T (history positions, DESIGN.md) for the data's axes, numbers for every size the config
fixes. The boxes are sized from their text and laid out on lanes × rows, so no two boxes overlap whatever
the dimensions; all text is at least 8 pt. Both functions only draw: they read sizes, never run the model.

Example:
    >>> import matplotlib; matplotlib.use("Agg")      # no window; notebooks keep their inline backend
    >>> from ctrviz.data.schema import Field, Pair, Schema
    >>> from ctrviz.models.can import CAN, CANConfig
    >>> s = Schema((Field("item", "sparse", vocab_size=6),
    ...             Field("hist", "sequence", vocab="item", vocab_size=6, max_len=3)), (Pair("item", "hist"),))
    >>> fig = plot_coaction_diagram(CAN(s, CANConfig(embed_dim=4, hidden=(8,), micro_layers=(4, 3, 2))))
    >>> "(B, T, 4)" in {t.get_text().split("\\n")[-1] for t in fig.texts + fig.axes[0].texts}
    True
    >>> plt.close(fig)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch
from torch import nn

from ctrviz.nn.coaction import CoAction

__all__ = ["plot_coaction_diagram", "plot_gin_diagram"]

FONT = 9            # box text, pt
SMALL = 8           # arrow labels and notes, pt (the floor: DESIGN.md, tick labels ≥ 8 pt)
TITLE = 10.5
PAD_X, PAD_Y = 0.10, 0.07       # inches of padding around a box's text
GAP_X, GAP_Y = 0.16, 0.36       # inches between boxes in a row / between rows
LANE_GAP = 0.45                 # inches between lanes
MARGIN = 0.15
COLORS = {"param": "#fde9c4", "induction": "#f9d0a8", "feed": "#cfe2f3", "op": "#e8eef6", "node": "#d5ecd4",
          "out": "#c9e7c2", "deep": "#eadcf0"}


def _shape(*dims: object) -> str:
    """``("B", "T", 4)`` → ``"(B, T, 4)"``; one dim → ``"(B,)"``."""
    return "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + ")"


@dataclass
class _Box:
    key: str
    lane: str
    row: int
    text: str
    color: str
    w: float = 0.0
    h: float = 0.0
    x0: float = 0.0
    y0: float = 0.0

    @property
    def cx(self) -> float:
        return self.x0 + self.w / 2

    @property
    def cy(self) -> float:
        return self.y0 + self.h / 2

    def anchor(self, side: str) -> tuple[float, float]:
        """Point on the box edge (y grows downwards): ``top``, ``bottom``, ``left``, ``right``."""
        return {"top": (self.cx, self.y0), "bottom": (self.cx, self.y0 + self.h),
                "left": (self.x0, self.cy), "right": (self.x0 + self.w, self.cy)}[side]


@dataclass
class _Board:
    """Boxes on lanes (side by side) × rows (top to bottom), each sized from its own text, in inches."""

    title: str
    subtitle: str
    lanes: tuple[str, ...]
    boxes: dict[str, _Box] = field(default_factory=dict)
    lane_min: dict[str, float] = field(default_factory=dict)

    def box(self, key: str, lane: str, row: int, name: str, shape: str, color: str) -> None:
        self.boxes[key] = _Box(key, lane, row, f"{name}\n{shape}", color)

    def draw(self) -> tuple[Figure, Axes]:
        fig = plt.figure(figsize=(6, 4))
        renderer = fig.canvas.get_renderer()

        def size(text: str, fontsize: float, weight: str = "normal") -> tuple[float, float]:
            t = fig.text(0, 0, text, fontsize=fontsize, weight=weight, ha="center", multialignment="center")
            bb = t.get_window_extent(renderer)
            t.remove()
            return bb.width / fig.dpi, bb.height / fig.dpi

        for b in self.boxes.values():
            tw, th = size(b.text, FONT)
            b.w, b.h = tw + 2 * PAD_X, th + 2 * PAD_Y
        rows = sorted({b.row for b in self.boxes.values()})
        in_row = {(lane, r): [b for b in self.boxes.values() if b.lane == lane and b.row == r]
                  for lane in self.lanes for r in rows}
        lane_w = {lane: max([sum(b.w for b in bs) + GAP_X * (len(bs) - 1)
                             for (la, _), bs in in_row.items() if la == lane and bs] + [self.lane_min.get(lane, 0.0)])
                  for lane in self.lanes}
        row_h = {r: max(b.h for b in self.boxes.values() if b.row == r) for r in rows}
        tw, th = size(self.title, TITLE, "bold")
        sw, sh = size(self.subtitle, SMALL)
        inner = sum(lane_w.values()) + LANE_GAP * (len(self.lanes) - 1)
        width = max(inner, tw, sw) + 2 * MARGIN
        width = math.ceil(width * 4) / 4            # whole quarter inches: the same figure size across font builds
        x, lane_x = (width - inner) / 2, {}
        for lane in self.lanes:                              # lanes left to right, centred in their width
            lane_x[lane] = x
            x += lane_w[lane] + LANE_GAP
        y, row_y = MARGIN + th + 0.06 + sh + 0.25, {}
        for r in rows:                                        # rows top to bottom
            row_y[r] = y
            y += row_h[r] + GAP_Y
        height = math.ceil((y - GAP_Y + MARGIN) * 4) / 4
        for (lane, r), bs in in_row.items():
            if not bs:
                continue
            used = sum(b.w for b in bs) + GAP_X * (len(bs) - 1)
            x = lane_x[lane] + (lane_w[lane] - used) / 2
            for b in bs:
                b.x0, b.y0 = x, row_y[r] + (row_h[r] - b.h) / 2
                x += b.w + GAP_X
        self.lane_x, self.lane_w, self.row_y, self.row_h = lane_x, lane_w, row_y, row_h

        fig.set_size_inches(width, height)
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)                                # y grows downwards, in inches
        ax.set_axis_off()
        ax.text(width / 2, MARGIN, self.title, fontsize=TITLE, weight="bold", ha="center", va="top")
        ax.text(width / 2, MARGIN + th + 0.06, self.subtitle, fontsize=SMALL, ha="center", va="top", color="0.25")
        for b in self.boxes.values():
            ax.add_patch(FancyBboxPatch((b.x0, b.y0), b.w, b.h, boxstyle="round,pad=0,rounding_size=0.06",
                                        fc=COLORS[b.color], ec="0.35", lw=0.9, gid=f"box:{b.key}"))
            ax.text(b.cx, b.cy, b.text, fontsize=FONT, ha="center", va="center", multialignment="center")
        return fig, ax

    def arrow(self, ax: Axes, start: tuple[float, float], end: tuple[float, float], label: str | None = None,
              style: str = "-|>") -> None:
        ax.annotate("", xy=end, xytext=start,
                    arrowprops={"arrowstyle": style, "color": "0.3", "lw": 1.0, "shrinkA": 0, "shrinkB": 0})
        if label:
            ax.text((start[0] + end[0]) / 2 + 0.06, (start[1] + end[1]) / 2, label, fontsize=SMALL, color="0.3",
                    ha="left", va="center")

    def down(self, ax: Axes, a: str, b: str, label: str | None = None) -> None:
        """Arrow from the bottom of box ``a`` to the top of box ``b``."""
        self.arrow(ax, self.boxes[a].anchor("bottom"), self.boxes[b].anchor("top"), label)

    def right(self, ax: Axes, a: str, b: str) -> None:
        """Arrow from the right edge of box ``a`` to the left edge of box ``b`` (same row)."""
        self.arrow(ax, self.boxes[a].anchor("right"), self.boxes[b].anchor("left"))


def _unit(model_or_unit: nn.Module) -> CoAction:
    if isinstance(model_or_unit, CoAction):
        return model_or_unit
    unit = getattr(model_or_unit, "coaction", None)
    if not isinstance(unit, CoAction):
        raise ValueError(f"plot_coaction_diagram needs a CoAction or a model with a .coaction unit (CAN), "
                         f"got {type(model_or_unit).__name__}")
    return unit


def plot_coaction_diagram(model_or_unit: nn.Module, pair: int | str | None = None) -> Figure:
    """The co-action unit of one pair as boxes and arrows, every box with its real shape (CAN Eq. 5–11).

    Left lane (induction side): the induction id → its row ``P_induction`` of D'·C_w numbers (C_w = C with
    order independence, else 1) → cut into the micro-MLP's weights w_i (d_in × d_out) and biases b_i
    (Eq. 5–6). Right lane (feed side): the feed ids (B, T) → ``P_feed`` (B, T, D) = h_0 (Eq. 7) → its orders
    h_0^c, c = 1..C (Eq. 11) → the L micro-MLP layers (Eq. 8) → the layer outputs concatenated (Eq. 9) →
    the orders summed (or concatenated) → padding masked and sum-pooled over T (Eq. 10) → (B, O), one of
    the P slices of ``CoAction``'s (B, P, O) output. A single-id feed has no T axis and no pooling.

    Args:
        model_or_unit: a :class:`~ctrviz.models.can.CAN` (anything with a ``coaction`` unit) or a
            :class:`~ctrviz.nn.coaction.CoAction`.
        pair: index or ``"induction×feed"`` name of the pair; default the first.

    Returns:
        the Figure (one axes, in inches, y downwards); each box is a ``FancyBboxPatch`` with gid ``"box:…"``.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from ctrviz.data.schema import Field, Pair, Schema
        >>> s = Schema((Field("item", "sparse", vocab_size=6),
        ...             Field("hist", "sequence", vocab="item", vocab_size=6, max_len=3)), (Pair("item", "hist"),))
        >>> from ctrviz.nn.coaction import CoActionConfig
        >>> fig = plot_coaction_diagram(CoAction(s, config=CoActionConfig(layers=(4, 3, 2), orders=2)))
        >>> texts = " ".join(t.get_text() for t in fig.axes[0].texts)
        >>> "(B, 23)" in texts, "(B, 2, T, 3)" in texts, "(B, 5)" in texts      # D' = 4·3+3 + 3·2+2, O = 3+2
        (True, True, True)
        >>> plt.close(fig)
    """
    unit = _unit(model_or_unit)
    names = list(unit.names)
    if pair is None:
        k = 0
    elif isinstance(pair, str):
        if pair not in names:
            raise ValueError(f"plot_coaction_diagram: pair must be one of {names}, got {pair!r}")
        k = names.index(pair)
    elif isinstance(pair, int) and not isinstance(pair, bool) and 0 <= pair < len(names):
        k = pair
    else:
        raise ValueError(f"plot_coaction_diagram: pair must be a name in {names} or an index 0..{len(names) - 1}, "
                         f"got {pair!r}")
    cfg, p = unit.config, unit.pairs[k]
    feed_field = unit.schema[p.feed]
    seq = feed_field.max_len > 0                     # a sequence/multi feed: positions t = 1..T, then pooling
    T = ("T",) if seq else ()
    D, C, L = cfg.layers[0], cfg.orders, len(cfg.layers) - 1
    c_w = C if cfg.order_independence else 1
    Cw = (c_w,) if c_w > 1 else ()                   # order independence: one micro-MLP per order
    width = sum(cfg.layers[1:])                      # Σ d_out: one order's concatenated output (Eq. 9)
    out = cfg.out_dim
    act = "tanh" if cfg.activation == "tanh" else ""
    own = "its own rows" if cfg.combination_independence else f"the {unit.schema[p.induction].table!r} rows"
    feed_table = "coaction.feed" if cfg.parameter_independence else "the main embedding (no parameter independence)"

    sub = (f"B rows · {'T = ' + str(feed_field.max_len) + ' positions of ' + p.feed + ' · ' if seq else ''}"
           f"C = {C} orders · micro-MLP {'→'.join(map(str, cfg.layers))}"
           f"{', ' + act if act else ', no activation'}{', biases' if cfg.bias else ', no biases'} · "
           f"D' = {cfg.induction_dim}{' per order' if c_w > 1 else ''} · O = {out} · P = {len(names)} "
           f"pair{'s' if len(names) > 1 else ''}")
    board = _Board(f"How the co-action unit of {p.induction}×{p.feed} turns ids into a (B, {out}) feature",
                   sub, ("bus", "induction", "feed"))
    board.lane_min["bus"] = 0.3
    board.box("ind_id", "induction", 0, f"induction id: {p.induction}", _shape("B"), "induction")
    d_ind = " + ".join(f"{i}·{o}" + (f"+{o}" if cfg.bias else "") for i, o in zip(cfg.layers[:-1], cfg.layers[1:],
                                                                                        strict=True))
    board.box("p_ind", "induction", 1,
              f"P_induction: a row of coaction.induction ({own})\nD' = Σ |w_i| + |b_i| = {d_ind}"
              f"{' per order' if c_w > 1 else ''} (Eq. 5–6)", _shape("B", c_w * cfg.induction_dim), "induction")
    board.box("feed_id", "feed", 0, f"feed ids: {p.feed}", _shape("B", *T), "feed")
    board.box("p_feed", "feed", 1, f"P_feed = h_0: lookup in {feed_table} (Eq. 7)", _shape("B", *T, D), "feed")
    board.box("orders", "feed", 2, f"orders h_0^c, c = 1..{C}: element-wise powers (Eq. 11)",
              _shape("B", C, *T, D), "op")
    for i, (d_in, d_out) in enumerate(zip(cfg.layers[:-1], cfg.layers[1:], strict=True)):
        r = 3 + i
        board.box(f"w{i}", "induction", r, f"w_{i}", _shape("B", *Cw, d_in, d_out), "param")
        if cfg.bias:
            board.box(f"b{i}", "induction", r, f"b_{i}", _shape("B", *Cw, d_out), "param")
        inner = f"h_{i} w_{i}" + (f" + b_{i}" if cfg.bias else "")
        if act and cfg.activates(i):
            text = f"h_{i + 1} = {act}({inner}) (Eq. 8)"
        else:
            text = f"h_{i + 1} = {inner} ({'no ' + act + ' on the last layer, as released' if act else 'Eq. 8'})"
        board.box(f"layer{i}", "feed", r, text, _shape("B", C, *T, d_out), "op")
    r = 3 + L
    board.box("concat", "feed", r, f"h_1 ‖ … ‖ h_{L}: layer outputs concatenated (Eq. 9)",
              _shape("B", C, *T, width), "op")
    combine = ("Σ over the C orders (Eq. 11)" if cfg.order_combine == "sum"
               else "orders side by side (order_combine='concat')")
    board.box("combine", "feed", r + 1, combine, _shape("B", *T, out), "op")
    if seq:
        board.box("pool", "feed", r + 2, "padding masked, Σ over T (Eq. 10)", _shape("B", out), "out")
    every = f"all P = {len(names)} pairs" if len(names) > 1 else "P = 1 pair"
    board.box("all", "feed", r + 2 + seq, f"CoAction output, {every} → CAN's DNN (Eq. 3)",
              _shape("B", len(names), out), "out")

    fig, ax = board.draw()
    box = board.boxes
    board.down(ax, "ind_id", "p_ind", "lookup")
    x_bus = board.lane_x["bus"] + board.lane_w["bus"] / 2       # P_induction, cut into slices, feeds every layer
    start = box["p_ind"].anchor("left")
    ax.plot([start[0], x_bus, x_bus], [start[1], start[1], box[f"w{L - 1}"].cy], color="0.3", lw=1.0)
    ax.text(x_bus - 0.05, (start[1] + box["w0"].y0) / 2, "cut and reshape (Eq. 5)", fontsize=SMALL, color="0.3",
            ha="right", va="center", rotation=90)
    for i in range(L):
        board.arrow(ax, (x_bus, box[f"w{i}"].cy), box[f"w{i}"].anchor("left"))
        board.right(ax, f"b{i}" if cfg.bias else f"w{i}", f"layer{i}")
        if i:
            board.down(ax, f"layer{i - 1}", f"layer{i}")
    board.down(ax, "feed_id", "p_feed", "lookup")
    board.down(ax, "p_feed", "orders")
    board.down(ax, "orders", "layer0")
    board.down(ax, f"layer{L - 1}", "concat")
    board.down(ax, "concat", "combine")
    board.down(ax, "combine", "pool" if seq else "all", "mask, sum over t" if seq else None)
    if seq:
        board.down(ax, "pool", "all", f"pair {k + 1} of {len(names)}")
    return fig


def _gin_parts(model: nn.Module) -> tuple[list[str], int, int, int, tuple[int, ...], list]:
    layers = getattr(model, "gin_layers", None)
    config = getattr(model, "config", None)
    if layers is None or config is None or not hasattr(model, "node_names"):
        raise ValueError(f"plot_gin_diagram needs a GIN (or AOANet) model with gin_layers, got {type(model).__name__}")
    fields = list(model.node_names(1)[0])
    return fields, config.embed_dim, config.subspaces, config.layers, tuple(config.hidden), list(layers)


def plot_gin_diagram(model: nn.Module, max_nodes: int = 8) -> Figure:
    """GIN as AOANet's Fig. 2, every box with its real shape (AOANet Sec. 3.3, Eq. 6–16).

    Main lane, top to bottom: the embedding E (Eq. 6) → B_0, one node per field (B, D) → for each layer l:
    the generalized interaction ``Z^s_{u,v} = (u ⊗ v) ⊙ W^s`` over pairing(B_0, B_{l-1}) with W_l (S, D, D)
    (Eq. 7–8, 11; over B_{l-1} × B_0 in layers ≥ 2 with ``pair_order="lemma"``) → the fusion
    ``P^s = h^sᵀ Σ α^s_{u,v} Z^s_{u,v}`` with α_l (S, n, m) and h_l (S, D) (Eq. 9, 12;
    the gates G kept by AOANet's selection are counted) → B_l, S nodes (B, D) (Eq. 13) → Q (Eq. 15) →
    ŷ (Eq. 16). The line on the left carries B_0 into every layer (inter-layer mode). Beside it, the deep
    part: concat(B_0) → MLP (Eq. 14) → H.

    Args:
        model: a :class:`~ctrviz.models.gin.GIN` or :class:`~ctrviz.models.aoanet.AOANet`.
        max_nodes: draw at most this many nodes per row (first ones, an ellipsis, the last one).

    Returns:
        the Figure (one axes, in inches, y downwards); each box is a ``FancyBboxPatch`` with gid ``"box:…"``.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from ctrviz.data.schema import Field, Schema
        >>> from ctrviz.models.gin import GIN, GINConfig
        >>> s = Schema(tuple(Field(n, "sparse", vocab_size=5) for n in "abc"))
        >>> fig = plot_gin_diagram(GIN(s, GINConfig(embed_dim=4, subspaces=2, hidden=(8,))))
        >>> texts = " ".join(t.get_text() for t in fig.axes[0].texts)
        >>> "W_1: (2, 4, 4)" in texts, "α_2: (2, 3, 2)" in texts, "(B, 3, 4)" in texts
        (True, True, True)
        >>> plt.close(fig)
    """
    fields, D, S, L, hidden, layers = _gin_parts(model)
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 2:
        raise ValueError(f"plot_gin_diagram: max_nodes must be an int >= 2, got {max_nodes!r}")
    n = len(fields)
    lanes = ("skip", "main", "deep") if hidden else ("skip", "main")
    sub = (f"B rows · F = {n} fields · D = {D} · S = {S} subspaces · L = {L} layers"
           f"{' · deep part ' + '-'.join(map(str, hidden)) if hidden else ' · no deep part'}")
    board = _Board(f"How GIN turns {n} field vectors into ŷ: shapes from the model", sub, lanes)
    board.lane_min["skip"] = 0.35

    def nodes(row: int, prefix: str, labels: list[str], shape: str) -> list[str]:
        keep = list(range(len(labels)))
        if len(labels) > max_nodes:
            keep = list(range(max_nodes - 2)) + [-1, len(labels) - 1]
        keys = []
        for j in keep:
            key = f"{prefix}{j}"
            if j == -1:
                board.box(key, "main", row, "…", f"{len(labels) - max_nodes + 1} more", "node")
            else:
                board.box(key, "main", row, labels[j], shape, "node")
            keys.append(key)
        return keys

    board.box("embed", "main", 0, "embedding E: one vector per field (Eq. 6)", _shape("B", n, D), "feed")
    b0 = nodes(1, "a", [f"a_{j + 1}: {f}" for j, f in enumerate(fields)], _shape("B", D))
    for li, layer in enumerate(layers, start=1):
        r = 2 + 3 * (li - 1)
        m = n if li == 1 else S
        if getattr(layer, "swapped", False):     # pair_order="lemma": u = x_{l-1}, v = x_0
            where = f"(u, v) ∈ B_{li - 1} × B_0 (Lemmas 3.1–3.2's order)"
        else:
            where = f"(u, v) ∈ B_0 × {'B_0' if li == 1 else f'B_{li - 1}'} (Eq. 7–8, 11)"
        board.box(f"inter{li}", "main", r,
                  f"layer {li} interaction: Z^s_uv = (u ⊗ v) ⊙ W^s, {where}\n"
                  f"{n} × {m} = {n * m} pairs per subspace",
                  f"W_{li}: {_shape(*layer.weight.shape)} · all Z: {_shape('B', S, n, m, D, D)}", "op")
        kept, total = int((layer.gate != 0).sum()), layer.gate.numel()
        board.box(f"fuse{li}", "main", r + 1,
                  f"layer {li} fusion: P^s = h^sᵀ Σ_uv α^s_uv Z^s_uv (Eq. 9, 12); gates kept {kept} of {total}",
                  f"α_{li}: {_shape(*layer.alpha.shape)} · h_{li}: {_shape(*layer.h.shape)}", "param")
        nodes(r + 2, f"p{li}_", [f"P_{li}^{s + 1}" for s in range(S)], _shape("B", D))
    r_out = 2 + 3 * L
    board.box("q", "main", r_out, "Q = concat(P_L^1, …, P_L^S) (Eq. 15)", _shape("B", S * D), "out")
    w_len = S * D + (hidden[-1] if hidden else 0)
    board.box("y", "main", r_out + 1, f"ŷ = σ(wᵀ concat(Q, H) + b), w: {_shape(w_len)} (Eq. 16)", _shape("B"), "out")
    if hidden:
        board.box("flat", "deep", 1, "concat(B_0)", _shape("B", n * D), "deep")
        board.box("mlp", "deep", 2, f"MLP, {getattr(model.config, 'activation', 'relu')} (Eq. 14)",
                  " → ".join(map(str, (n * D, *hidden))), "deep")
        board.box("h", "deep", r_out, "H: the deep part's output", _shape("B", hidden[-1]), "deep")

    fig, ax = board.draw()
    box = board.boxes
    board.arrow(ax, box["embed"].anchor("bottom"), (box["embed"].cx, board.row_y[1]))
    x_skip = board.lane_x["skip"] + board.lane_w["skip"] / 2
    y_b0 = box[b0[0]].cy
    ax.plot([box[b0[0]].x0, x_skip, x_skip], [y_b0, y_b0, box[f"inter{L}"].cy], color="0.3", lw=1.0)
    ax.text(x_skip - 0.05, (y_b0 + box["inter1"].y0) / 2, "B_0", fontsize=SMALL, color="0.3", ha="right", va="center",
            rotation=90)
    for li in range(1, L + 1):
        inter = box[f"inter{li}"]
        board.arrow(ax, (x_skip, inter.cy), inter.anchor("left"))
        if li > 1:   # B_{l-1} flows down into layer l
            board.arrow(ax, (inter.cx, board.row_y[inter.row - 1] + board.row_h[inter.row - 1]), inter.anchor("top"),
                        f"B_{li - 1}")
        board.down(ax, f"inter{li}", f"fuse{li}", "Σ α Z, then hᵀ")
        board.arrow(ax, box[f"fuse{li}"].anchor("bottom"), (box[f"fuse{li}"].cx, board.row_y[inter.row + 2]))
    board.arrow(ax, (box["q"].cx, board.row_y[r_out - 1] + board.row_h[r_out - 1]), box["q"].anchor("top"),
                f"B_{L}")
    board.down(ax, "q", "y")
    if hidden:
        last = box[b0[-1]]
        board.arrow(ax, last.anchor("right"), box["flat"].anchor("left"))
        board.down(ax, "flat", "mlp")
        board.down(ax, "mlp", "h")
        board.arrow(ax, box["h"].anchor("bottom"), box["y"].anchor("right"))
    return fig
