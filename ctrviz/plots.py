"""Figures from result DataFrames and the models' public interpretation outputs (seaborn/matplotlib).

Every function returns the matplotlib Figure, draws into ``ax`` when one is given, and raises a
ValueError naming the missing column or bad argument. Nothing here reads model internals: plots take
the DataFrames that ``experiments``, ``train`` and ``lemmas`` return, ``GIN.interactions()`` /
``AOANet.selection`` (α gates) and ``CAN.coaction_outputs`` (co-action outputs).

Example:
    >>> import matplotlib; matplotlib.use("Agg")      # no window; notebooks keep their inline backend
    >>> fig = plot_model_comparison(pd.DataFrame({"model": ["lr", "dnn"], "auc": [0.70, 0.80]}), oracle_auc=0.9)
    >>> fig.axes[0].get_ylabel()
    'test AUC'
    >>> plt.close(fig)
"""

from __future__ import annotations

import re
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import MaxNLocator
from torch import Tensor

from ctrviz.lemmas import TOLERANCE
from ctrviz.models.aoanet import kept_at_ratio, planted_pair_ranks


def plot_model_comparison(results: pd.DataFrame, oracle_auc: float | None = None, metric: str = "auc",
                          ax: plt.Axes | None = None, err: str | None = "auto") -> Figure:
    """Test ``metric`` of each model as a dot with its ± std error bar, and the oracle (Bayes) AUC as a dashed line.

    A dot plot, not bars: the AUCs of CTR models sit in a narrow band (say 0.88–0.90), where a bar from a
    truncated axis misstates the ratios and a bar from zero hides the differences; the reader reads the
    dot's position. Error bars only where a row averages more than one run (column ``n`` > 1; without an
    ``n`` column, every row whose error is a number), so one seed shows no "± 0". Each dot is labelled
    with its value; the oracle's legend sits right of the axes, off the data.

    Args:
        results: one row per model with columns ``model`` and ``metric`` (:func:`ctrviz.experiments.compare_models`'
            table, or :func:`ctrviz.experiments.summarize`'s with ``metric="auc_mean"``).
        oracle_auc: the best achievable AUC, when known (synthetic data).
        metric: the column to plot.
        ax: an Axes to draw into.
        err: the column of the error bars' half-lengths; ``"auto"``: ``<metric>_std`` (``auc_mean`` →
            ``auc_std``) when ``results`` have it; ``None``: no error bars.

    Returns:
        the Figure.

    Example:
        >>> s = pd.DataFrame({"model": ["lr", "dnn"], "auc": [0.70, 0.80], "auc_std": [0.01, 0.02], "n": [3, 3]})
        >>> fig = plot_model_comparison(s, oracle_auc=0.9)
        >>> ax = fig.axes[0]
        >>> ax.get_ylabel(), [c.has_yerr for c in ax.containers], len(ax.patches)   # dots with error bars, no bars
        ('test AUC (mean ± std over 3 runs)', [True], 0)
        >>> plt.close(fig)
    """
    func = "plot_model_comparison"
    if err == "auto":
        std = metric.removesuffix("_mean") + "_std"
        err = std if std in results.columns else None
    for col in ("model", metric) + (() if err is None else (err,)):
        if col not in results.columns:
            raise ValueError(f"{func}: results lack column {col!r}; have {list(results.columns)}")
    if results.empty:
        raise ValueError(f"{func}: results have no rows")
    names = [str(m) for m in results["model"]]
    scores = results[metric].to_numpy(dtype=float)
    spread = _spread(results, err)
    x = np.arange(len(names), dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(min(10.0, max(6.0, 2.0 + 0.6 * len(names))), 3.5), layout="constrained")
    ax.errorbar(x, scores, yerr=spread, fmt="o", ms=6, color="#1f5f8b", ecolor="#1f5f8b", elinewidth=1.4,
                capsize=4 if spread is not None else 0, zorder=3)
    top = scores if spread is None else scores + np.nan_to_num(spread)
    for xi, yi, value in zip(x, top, scores, strict=True):
        ax.annotate(f"{value:.4f}", (xi, yi), xytext=(0, 3), textcoords="offset points", ha="center",
                    va="bottom", fontsize=8)
    lo = float(np.nanmin(scores if spread is None else scores - np.nan_to_num(spread)))
    hi = float(np.nanmax(top))
    if oracle_auc is not None:
        ax.axhline(oracle_auc, ls="--", color="black", lw=1.2, label=f"oracle {oracle_auc:.4f}", zorder=2)
        _legend_outside(ax)
        lo, hi = min(lo, oracle_auc), max(hi, oracle_auc)
    pad = 0.08 * (hi - lo) + 2e-3
    ax.set_ylim(lo - pad, hi + 2.5 * pad)                                 # room for the value labels on top
    ax.set_xlim(-0.5, len(names) - 0.5)
    ax.set_xticks(x, names)
    if len(names) > 5:                                                    # long names side by side would overlap
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")
    ax.grid(axis="y", alpha=0.3)
    ax.set_xlabel("model")
    pretty, label = _value_label(metric, err, results, spread)
    ax.set_ylabel(f"test {label}")
    ax.set_title(f"Test {pretty} by model")
    return ax.figure


def plot_training_curves(histories: Mapping[str, pd.DataFrame], metric: str = "valid_auc",
                         ax: plt.Axes | None = None) -> Figure:
    """One line per model: ``metric`` per epoch from each trainer history DataFrame (integer epoch ticks,
    the legend right of the axes)."""
    frames = []
    for name, hist in histories.items():
        if metric not in hist.columns or "epoch" not in hist.columns:
            raise ValueError(f"plot_training_curves: history of {name!r} lacks 'epoch' or {metric!r}")
        frames.append(hist[["epoch", metric]].assign(model=name))
    if not frames:
        raise ValueError("plot_training_curves: no histories given")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    data = pd.concat(frames, ignore_index=True)
    sns.lineplot(data=data, x="epoch", y=metric, hue="model", marker="o", ax=ax)
    ax.set_xlabel("epoch")
    _integer_ticks(ax, "x", data["epoch"].to_numpy(dtype=float))       # epochs are whole numbers
    ax.set_ylabel(metric.replace("valid_", "validation ").replace("auc", "AUC").replace("_", " "))
    ax.set_title("Validation curves")
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8, title_fontsize=8,
                    frameon=False)
    return ax.figure


def plot_demo(results: pd.DataFrame, histories: Mapping[str, pd.DataFrame], oracle_auc: float | None) -> Figure:
    """The demo's figure: test AUC by model beside the oracle (left), validation AUC per epoch (right)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    plot_model_comparison(results, oracle_auc, ax=left)
    plot_training_curves(histories, ax=right)
    return fig


# ---------------------------------------------------------------- interpretation figures ---------------------
#
# The figures below take the public interpretation outputs: ``GIN.interactions()`` / ``AOANet.selection``
# (columns layer, subspace, left, right, alpha, kept), CAN's ``coaction_outputs``, ``lemmas.check_all()`` and
# summary DataFrames of ablations. Each checks its input and raises a ValueError naming the bad column or
# argument, draws into ``ax`` when given, and returns the figure.

_PRUNED_KEPT = ListedColormap(["#e3e3e3", "#1f5f8b"])    # 0 = pruned (light grey), 1 = kept (dark blue)
_PLANTED_COLOR = "#e8302a"
_CONTEXT_FIELD = re.compile(r"f(\d+)")


def _require(df: object, columns: Sequence[str], func: str, what: str) -> pd.DataFrame:
    """``df`` if it is a DataFrame with every column, else a ValueError naming the first missing one."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{func}: {what} must be a pandas DataFrame, got {type(df).__name__}")
    for col in columns:
        if col not in df.columns:
            raise ValueError(f"{func}: {what} lack column {col!r}; have {list(df.columns)}")
    return df


def _choice(value: object, allowed: Sequence[object], func: str, name: str) -> None:
    if value not in allowed:
        raise ValueError(f"{func}: {name} must be one of {list(allowed)}, got {value!r}")


def _layer_rows(interactions: pd.DataFrame, layer: int, func: str) -> pd.DataFrame:
    t = interactions[interactions["layer"] == layer]
    if t.empty:
        raise ValueError(f"{func}: interactions have no rows of layer {layer!r}; "
                         f"layers present: {sorted(pd.unique(interactions['layer']).tolist())}")
    return t


def _node_order(names: Sequence[str]) -> list[str]:
    """Unique names, first-seen order, except that context fields ``f00, f01, …`` go last, sorted by number."""
    seen = list(dict.fromkeys(names))
    others = [n for n in seen if not _CONTEXT_FIELD.fullmatch(str(n))]
    context = sorted((n for n in seen if _CONTEXT_FIELD.fullmatch(str(n))),
                     key=lambda n: int(_CONTEXT_FIELD.fullmatch(str(n)).group(1)))
    return others + context


def _axes_list(ax: Axes | Sequence[Axes] | None, n: int, func: str, what: str,
               figsize: tuple[float, float]) -> list[Axes]:
    """``n`` axes: the given ones (one Axes when n == 1, else a sequence of n) or a new 1 × n figure."""
    if ax is None:
        _, axes = plt.subplots(1, n, figsize=figsize, layout="constrained", squeeze=False)
        return list(axes[0])
    try:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
    except TypeError:
        axes = [ax]
    if len(axes) != n or not all(isinstance(a, Axes) for a in axes):
        raise ValueError(f"{func}: ax must be {n} matplotlib Axes (one per {what}), got {len(axes)} "
                         f"({', '.join(sorted({type(a).__name__ for a in axes}))})")
    return axes


def _short_count(n: float) -> str:
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g}{unit}"
    return f"{n:.0f}"


def _to_numpy(x: object, func: str, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{func}: {name} must be a tensor or array of numbers, got {type(x).__name__}") from err


def plot_alpha_distributions(interactions: pd.DataFrame, kind: Literal["violin", "hist"] = "violin",
                             absolute: bool = False, ax: Axes | Sequence[Axes] | None = None) -> Figure:
    """How the learned α gates of a GIN / AOANet are spread, per layer and subspace (AOANet Sec. 3.3, Eq. 12).

    ``kind="violin"``: one violin per (layer, subspace) on one axes, layers along x, subspaces side by
    side (``cut=0``: each violin spans exactly the smallest to the largest α; quartiles dashed).
    ``kind="hist"``: one panel per layer, the subspaces' histograms stacked (bar heights add up to the
    number of α of that layer). α of different subspaces carry arbitrary relative scales (module doc of
    :mod:`ctrviz.models.aoanet`): compare the spread within a subspace, not α values across subspaces.

    Args:
        interactions: :meth:`ctrviz.models.gin.GIN.interactions` or ``AOANet.selection`` (columns layer,
            subspace, alpha).
        kind: ``"violin"`` or ``"hist"``.
        absolute: plot |α| (what pruning ranks) instead of the signed α.
        ax: an Axes to draw into; for ``"hist"`` one Axes per layer (a sequence when there are several).

    Returns:
        the Figure.

    Example:
        >>> t = pd.DataFrame({"layer": [1, 1, 1, 1, 2, 2], "subspace": [0, 0, 1, 1, 0, 0],
        ...                   "alpha": [0.5, -1.0, 2.0, 3.0, 0.1, 0.4]})
        >>> fig = plot_alpha_distributions(t)
        >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
        ('layer', 'α')
        >>> [a.get_title() for a in plot_alpha_distributions(t, kind="hist").axes]
        ['layer 1: 4 α', 'layer 2: 2 α']
        >>> plt.close("all")
    """
    func = "plot_alpha_distributions"
    t = _require(interactions, ("layer", "subspace", "alpha"), func, "interactions")
    _choice(kind, ("violin", "hist"), func, "kind")
    if t.empty:
        raise ValueError(f"{func}: interactions have no rows")
    label = "|α|" if absolute else "α"
    data = pd.DataFrame({"layer": t["layer"].astype(int).to_numpy(), "subspace": t["subspace"].astype(int).to_numpy(),
                         label: (t["alpha"].abs() if absolute else t["alpha"]).astype(float).to_numpy()})
    subspaces = sorted(data["subspace"].unique().tolist())
    palette = dict(zip(subspaces, sns.color_palette("deep", len(subspaces)), strict=True))
    if kind == "violin":
        if ax is not None and not isinstance(ax, Axes):
            raise ValueError(f"{func}: kind='violin' draws into one matplotlib Axes, got {type(ax).__name__}")
        if ax is None:
            n_layers = data["layer"].nunique()
            _, ax = plt.subplots(figsize=(min(10.0, 3.0 + 2.5 * n_layers), 4), layout="constrained")
        sns.violinplot(data=data, x="layer", y=label, hue="subspace", hue_order=subspaces, palette=palette, cut=0,
                       inner="quart", density_norm="width", linewidth=0.8, ax=ax)
        if data[label].min() < 0 < data[label].max():                   # a zero line only where α changes sign
            ax.axhline(0.0, color="grey", lw=0.8, ls=":", zorder=0)
        ax.set_xlabel("layer")
        ax.set_ylabel(label)
        ax.set_title(f"{label} per layer and subspace")
        ax.legend(title="subspace", loc="best", fontsize=8, title_fontsize=8)
        return ax.figure
    layers = sorted(data["layer"].unique().tolist())
    axes = _axes_list(ax, len(layers), func, "layer", figsize=(min(10.0, 4.5 * len(layers)), 3.8))
    for a, layer in zip(axes, layers, strict=True):
        part = data[data["layer"] == layer]
        sns.histplot(data=part, x=label, hue="subspace", hue_order=subspaces, palette=palette, multiple="stack",
                     bins=min(40, max(5, int(np.sqrt(len(part))))), ax=a)
        a.set_xlabel(label)
        a.set_ylabel("count")
        a.set_title(f"layer {layer}: {len(part)} {label}")
    return axes[0].figure


def _cell_matrix(t: pd.DataFrame, rows: list[str], cols: list[str], score: pd.Series, how: str,
                 symmetric: bool) -> np.ndarray:
    """(len(rows), len(cols)) of ``score`` aggregated (``how``) per cell; NaN where no α exists.

    Symmetric: the unordered pair {u, v} lands in the lower triangle (row = the later name), both orders summed.
    """
    r_of, c_of = {n: i for i, n in enumerate(rows)}, {n: i for i, n in enumerate(cols)}
    r = np.array([r_of[u] for u in t["left"]], dtype=np.int64)
    c = np.array([c_of[v] for v in t["right"]], dtype=np.int64)
    if symmetric:
        r, c = np.maximum(r, c), np.minimum(r, c)
    cells = pd.DataFrame({"r": r, "c": c, "score": score.to_numpy(dtype=np.float64)})
    agg = cells.groupby(["r", "c"])["score"].agg(how)
    matrix = np.full((len(rows), len(cols)), np.nan)
    matrix[agg.index.get_level_values("r"), agg.index.get_level_values("c")] = agg.to_numpy()
    return matrix


def _mark_cells(ax: Axes, cells: Sequence[tuple[int, int]], label: str | None) -> None:
    """A red box around each (row, col) cell of a heatmap (gid ``"planted"``, for tests and legends)."""
    for k, (r, c) in enumerate(cells):
        ax.add_patch(Rectangle((c, r), 1, 1, fill=False, edgecolor=_PLANTED_COLOR, lw=2.2, zorder=3, clip_on=False,
                               gid="planted", label=label if k == 0 else None))


def _planted_cells(planted: Sequence[tuple[str, str]], rows: list[str], cols: list[str], symmetric: bool,
                   func: str) -> list[tuple[int, int]]:
    cells = []
    for pair in planted:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise ValueError(f"{func}: planted must be (field_a, field_b) pairs, got {pair!r}")
        for name in pair:
            if name not in rows or name not in cols:
                raise ValueError(f"{func}: planted field {name!r} is not a field of this layer's interactions")
        a, b = pair
        if symmetric:
            i, j = rows.index(a), rows.index(b)
            cells.append((max(i, j), min(i, j)))
        else:
            cells += list(dict.fromkeys([(rows.index(a), cols.index(b)), (rows.index(b), cols.index(a))]))
    return cells


def plot_interaction_heatmap(interactions: pd.DataFrame, layer: int = 1,
                             planted: Sequence[tuple[str, str]] | None = None,
                             value: Literal["abs_sum", "abs_mean", "kept"] = "abs_sum", ordered: bool | None = None,
                             annot: bool | None = None, ax: Axes | None = None) -> Figure:
    """Field × field importance of a GIN / AOANet layer: how much α weight each pair gets (AOANet Sec. 3.5).

    Layer 1, ``ordered=False`` (the default there): one cell per *unordered* pair {u, v} in the lower
    triangle (upper triangle blank), both orders and all subspaces pooled — for ``value="abs_sum"`` the
    cell is Σ_s (|α_s,uv| + |α_s,vu|), exactly :func:`ctrviz.models.aoanet.pair_importance`'s importance,
    so the heatmap and the rank table agree. The diagonal u = v has only one order, so under ``pairing="all"``
    it gets half the terms of an off-diagonal cell; ``value="abs_mean"`` (mean |α| over the cell's
    terms) compares them fairly. ``ordered=True`` (always for layers ≥ 2, whose right side is the previous
    layer's subspaces P_{l-1}.s) shows the ordered matrix: row u (left, a field of B_0), column v (right),
    Σ_s |α_s,uv|. Blank cells are pairs the pairing does not have.

    Fields are ordered as in the model (user, item, …) with the context fields ``f00, f01, …`` last, sorted.

    Args:
        interactions: :meth:`ctrviz.models.gin.GIN.interactions` or ``AOANet.selection`` (columns layer,
            subspace, left, right, alpha; kept for ``value="kept"``).
        layer: which layer (1 = field × field).
        planted: field pairs to box in red, e.g. ``data.info["planted_pairs"]`` of the synthetic data;
            the legend gives their ranks by Σ|α| (:func:`ctrviz.models.aoanet.planted_pair_ranks`). Layer 1 only.
        value: ``"abs_sum"`` Σ|α|, ``"abs_mean"`` mean |α|, or ``"kept"`` the number of kept gates in the cell.
        ordered: see above; ``None`` = symmetric for layer 1, ordered after.
        annot: write the values in the cells; ``None`` = when there are at most 100 cells.
        ax: an Axes to draw into.

    Returns:
        the Figure (on a new figure: axes 0 the map, axes 1 the colour bar).

    Example:
        >>> t = pd.DataFrame({"layer": 1, "subspace": [0, 0, 1, 1], "left": ["a", "b", "a", "b"],
        ...                   "right": ["b", "a", "b", "b"], "alpha": [0.5, -2.0, 1.0, 3.0], "kept": True})
        >>> fig = plot_interaction_heatmap(t, planted=[("a", "b")])
        >>> fig.axes[0].collections[0].get_array().filled(0).reshape(2, 2).tolist()   # row b: {a,b}, {b,b}
        [[0.0, 0.0], [3.5, 3.0]]
        >>> plt.close(fig)
    """
    func = "plot_interaction_heatmap"
    _choice(value, ("abs_sum", "abs_mean", "kept"), func, "value")
    need = ("layer", "subspace", "left", "right", "kept" if value == "kept" else "alpha")
    t = _layer_rows(_require(interactions, need, func, "interactions"), layer, func)
    rows = _node_order(t["left"].tolist() + (t["right"].tolist() if layer == 1 else []))
    cols = rows if layer == 1 else _node_order(t["right"].tolist())
    if ordered is None:
        ordered = layer != 1
    if not ordered and set(t["right"]) - set(rows):
        raise ValueError(f"{func}: ordered=False needs the same fields on both sides (layer 1); layer {layer} "
                         f"pairs fields with {sorted(set(t['right']) - set(rows))[:3]}…, use ordered=True")
    if planted and layer != 1:
        raise ValueError(f"{func}: planted pairs are field × field, so only for layer 1, got layer={layer}")
    score = t["kept"].astype(float) if value == "kept" else t["alpha"].abs()
    matrix = _cell_matrix(t, rows, cols, score, "mean" if value == "abs_mean" else "sum", symmetric=not ordered)
    label = {"abs_sum": "Σ |α|", "abs_mean": "mean |α|", "kept": "kept gates"}[value]
    vmin = vmax = None
    extend = "neither"
    if not ordered:
        matrix[np.triu_indices(len(rows), 1)] = np.nan
        off = matrix[np.tril_indices(len(rows), -1)]
        off = off[np.isfinite(off)]
        if value != "abs_mean" and off.size:
            # a diagonal cell sums one order, an off-diagonal cell two: colour by the off-diagonal range
            # so the diagonal does not flatten it; values outside show as the colour bar's end arrows
            vmin, vmax = float(off.min()), float(off.max())
            diag = np.diag(matrix)[np.isfinite(np.diag(matrix))]
            low, high = bool((diag < vmin).any()), bool((diag > vmax).any())
            extend = {(True, True): "both", (True, False): "min", (False, True): "max"}.get((low, high), "neither")
            if extend != "neither":
                label += " (diagonal: one order, clipped)"
    n_r, n_c = matrix.shape
    if ax is None:
        cell = min(0.4, 7.5 / max(n_r, n_c))
        _, ax = plt.subplots(figsize=(min(10.0, max(6.0, n_c * cell + 2.8)), n_r * cell + 1.8), layout="constrained")
        pitch = (cell, cell)
    else:
        pitch = _cell_pitch(ax, n_r, n_c, square=n_c > 3)
    if annot is None:
        annot = n_r * n_c <= 100
    sns.heatmap(pd.DataFrame(matrix, index=rows, columns=cols), mask=np.isnan(matrix), cmap="viridis", vmin=vmin,
                vmax=vmax, annot=annot, fmt=".3g", annot_kws={"fontsize": 7}, square=n_c > 3, linewidths=0.3,
                linecolor="white", xticklabels=_label_step(pitch[1]), yticklabels=_label_step(pitch[0]),
                cbar_kws={"label": label, "shrink": 0.8, "extend": extend}, ax=ax)
    ax.tick_params(labelsize=8, length=0)                                # 8 pt: every k-th label when cells are small
    plt.setp(ax.get_xticklabels(), rotation=90)
    plt.setp(ax.get_yticklabels(), rotation=0)
    if ordered:
        ax.set_ylabel("left u (field of B₀)")
        ax.set_xlabel("right v (field)" if layer == 1 else f"right v (subspace of layer {layer - 1})")
    else:
        ax.set_xlabel("field")
        ax.set_ylabel("field")
    pairs = "ordered pairs (u, v)" if ordered else "unordered pairs, both orders"
    what = {"abs_sum": "Σ |α|", "abs_mean": "mean |α|", "kept": "kept gates"}[value]
    ax.set_title(f"Layer {layer}: {what} over subspaces,\n{pairs}" if n_c <= 6 else
                 f"Layer {layer}: {what} over subspaces, {pairs}", fontsize=10)
    if planted:
        cells = _planted_cells(planted, rows, cols, not ordered, func)
        ranks = planted_pair_ranks(t, planted)
        of = int(ranks["of"].iloc[0])
        if ordered:                                                     # one line between the title and the map
            text = ", ".join(f"{r.a}×{r.b} #{r['rank']}" for _, r in ranks.iterrows())
            _mark_cells(ax, cells, f"planted pair (rank by Σ|α| of {of} pairs): {text}")
            ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=7, frameon=False, borderaxespad=0.2,
                      handlelength=1)
            ax.set_title(ax.get_title(), fontsize=10, pad=16)
        else:                                                           # in the empty upper triangle
            text = "\n".join(f"{r.a}×{r.b}: #{r['rank']}" for _, r in ranks.iterrows())
            _mark_cells(ax, cells, f"planted pair, rank by Σ|α|\nof {of} pairs:\n{text}")
            ax.legend(loc="upper right", fontsize=8, frameon=False, handlelength=1)
    return ax.figure


def plot_pruning_mask(interactions: pd.DataFrame, layer: int = 1, ratio: float | None = None,
                      ranking: Literal["subspace", "layer", "global"] = "subspace",
                      planted: Sequence[tuple[str, str]] | None = None,
                      ax: Axes | Sequence[Axes] | None = None) -> Figure:
    """AOANet's architecture: which interactions G(α) keeps (dark) or prunes (light), one panel per subspace.

    Each panel is the ordered matrix of layer ``layer`` in subspace s: row u (left, a field of B₀), column
    v (right: a field in layer 1, a subspace of the previous layer after), Eq. 43's gate G(α_s,uv). Blank
    cells are pairs the pairing does not have. Fields are ordered as in :func:`plot_interaction_heatmap`.

    Args:
        interactions: ``AOANet.selection`` (the selection-stage α and the decision) or
            :meth:`ctrviz.models.gin.GIN.interactions` (columns layer, subspace, left, right, kept; alpha
            when ``ratio`` is given).
        layer: which layer (1 = field × field).
        ratio: ``None`` shows the ``kept`` column. A number r in (0, 1] recomputes the mask as
            :func:`ctrviz.models.aoanet.select_gates` does — the top ⌈r·count⌉ of |α| per ``ranking`` group,
            every α in the table a candidate — e.g. to preview a ratio on a trained GIN's α.
        ranking: ``"subspace"``, ``"layer"`` or ``"global"`` (only with ``ratio``; ``"global"`` ranks
            every layer in the table together).
        planted: field pairs to box in red in every panel, both orders (layer 1 only).
        ax: one Axes per subspace (a single Axes when S = 1).

    Returns:
        the Figure.

    Example:
        >>> t = pd.DataFrame({"layer": 1, "subspace": [0, 0, 0, 0], "left": ["a", "a", "b", "b"],
        ...                   "right": ["a", "b", "a", "b"], "alpha": [0.1, -3.0, 2.0, 0.5],
        ...                   "kept": [True, False, False, True]})
        >>> fig = plot_pruning_mask(t)
        >>> fig.axes[0].collections[0].get_array().reshape(2, 2).tolist()       # the kept column
        [[1.0, 0.0], [0.0, 1.0]]
        >>> fig = plot_pruning_mask(t, ratio=0.5)                               # top 2 of |α|: 3 and 2
        >>> fig.axes[0].collections[0].get_array().reshape(2, 2).tolist()
        [[0.0, 1.0], [1.0, 0.0]]
        >>> plt.close("all")
    """
    func = "plot_pruning_mask"
    need = ("layer", "subspace", "left", "right", "kept") + (("alpha",) if ratio is not None else ())
    interactions = _require(interactions, need, func, "interactions")
    if ratio is not None:
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
            raise ValueError(f"{func}: ratio must be a number in (0, 1] or None, got {ratio!r}")
        _choice(ranking, ("subspace", "layer", "global"), func, "ranking")
        interactions = interactions.assign(kept=kept_at_ratio(interactions, float(ratio), ranking))
    t = _layer_rows(interactions, layer, func)
    if planted and layer != 1:
        raise ValueError(f"{func}: planted pairs are field × field, so only for layer 1, got layer={layer}")
    rows = _node_order(t["left"].tolist() + (t["right"].tolist() if layer == 1 else []))
    cols = rows if layer == 1 else _node_order(t["right"].tolist())
    subspaces = sorted(pd.unique(t["subspace"]).tolist())
    n_r, n_c = len(rows), len(cols)
    S, narrow = len(subspaces), n_c <= 3                               # narrow: layer ≥ 2 (columns = subspaces)
    if narrow:
        width, height = min(10.0, max(6.0, S * (0.55 * n_c + 0.3) + 1.6)), min(9.0, 0.25 * n_r + 1.9)
    else:
        cell = min(0.3, (9.0 - 1.2) / (S * n_c))
        width = S * (n_c * cell + 0.2) + 1.2
        height = min(9.0, (width - 1.2) / S * n_r / n_c + 1.8)       # square panels + titles and tick labels
    width += 1.1                                                       # the legend's column
    axes = _axes_list(ax, S, func, "subspace", figsize=(width, height))
    if ax is None:                                                     # the cell pitch in inches, rows and columns
        pitch = ((height - 1.9) / n_r, 1.0) if narrow else (cell, cell)
    else:
        pitch = _cell_pitch(axes[0], n_r, n_c, square=n_c > 3)
    step_r, step_c = _label_step(pitch[0]), _label_step(pitch[1])     # 8 pt labels: every k-th when cells are small
    for k, (a, s) in enumerate(zip(axes, subspaces, strict=True)):
        part = t[t["subspace"] == s]
        mask = _cell_matrix(part, rows, cols, part["kept"].astype(float), "max", symmetric=False)
        sns.heatmap(pd.DataFrame(mask, index=rows, columns=cols), mask=np.isnan(mask), cmap=_PRUNED_KEPT, vmin=0,
                    vmax=1, cbar=False, square=n_c > 3, linewidths=0.3 if max(n_r, n_c) <= 30 else 0,
                    linecolor="white", xticklabels=step_c, yticklabels=step_r if k == 0 else False, ax=a)
        a.tick_params(labelsize=8, length=0)
        plt.setp(a.get_xticklabels(), rotation=90)
        plt.setp(a.get_yticklabels(), rotation=0)
        kept, total = int(np.nansum(mask)), int(np.isfinite(mask).sum())
        a.set_title(f"subspace {s}" + ("\n" if narrow else ": ") + f"{kept}/{total} kept", fontsize=9)
        a.set_xlabel("right v (field)" if layer == 1 else "right v", fontsize=8)
        a.set_ylabel("left u (field of B₀)" if k == 0 else "", fontsize=8)
        if planted:
            _mark_cells(a, _planted_cells(planted, rows, cols, False, func), "planted pair" if k == 0 else None)
    fig = axes[0].figure
    handles = [Patch(color=_PRUNED_KEPT(1), label="kept"), Patch(color=_PRUNED_KEPT(0), label="pruned")]
    if planted:
        handles.append(Patch(fill=False, edgecolor=_PLANTED_COLOR, lw=2, label="planted pair"))
    how = "the kept column" if ratio is None else f"top {ratio:g} of |α| per {ranking}"
    # beside the panels (its own column, under the suptitle's row): a narrow mask has no room for both in one row
    fig.legend(handles=handles, loc="outside right upper" if ax is None else "upper right",
               ncol=1 if ax is None else len(handles), fontsize=8, frameon=False)
    title = f"Layer {layer} gates G(α): {how}"                 # wrapped to the panels' width, left of the legend
    fig.suptitle(title if ax is not None else textwrap.fill(title, max(20, int((width - 1.3) * 11))), fontsize=10,
                 x=0.02 if ax is None else 0.5, ha="left" if ax is None else "center")
    return fig


def _metric_label(y: str, err: str | None) -> tuple[str, str]:
    """(``"AUC"``, ``"AUC (mean ± std)"``) for ``auc_mean`` ± ``auc_std``; other names spelled out."""
    metric = y.removesuffix("_mean")
    pretty = metric.upper() if metric.lower() in ("auc", "gauc") else metric.replace("_", " ")
    stat = ["mean"] if y.endswith("_mean") or err is not None else []
    if err is not None:
        stat.append("std" if err.endswith("_std") else err.replace("_", " "))
    return pretty, f"{pretty} ({' ± '.join(stat)})" if stat else pretty


def _spread(table: pd.DataFrame, err: str | None) -> np.ndarray | None:
    """Half-lengths of the error bars from column ``err``: NaN where a row averages ``n`` ≤ 1 runs (one run
    has no spread to show, and ``summarize`` fills its std with 0), ``None`` when no row has a bar."""
    if err is None:
        return None
    spread = pd.to_numeric(table[err], errors="coerce").to_numpy(dtype=float)
    if "n" in table.columns:
        spread = np.where(pd.to_numeric(table["n"], errors="coerce").to_numpy(dtype=float) > 1, spread, np.nan)
    return spread if np.isfinite(spread).any() else None


def _value_label(y: str, err: str | None, table: pd.DataFrame, spread: np.ndarray | None) -> tuple[str, str]:
    """(metric name, axis label) saying what the dots and bars are: ``AUC (mean ± std over 3 runs)``, ``AUC
    (one run)`` when every row has n = 1, else :func:`_metric_label` of the error bars actually drawn."""
    pretty, label = _metric_label(y, err if spread is not None else None)
    runs = pd.to_numeric(table["n"], errors="coerce") if "n" in table.columns else None
    if runs is not None and (runs == 1).all():
        return pretty, f"{pretty} (one run)"
    if spread is not None and runs is not None and runs.nunique() == 1:
        return pretty, f"{label[:-1]} over {int(runs.iloc[0])} runs)"
    return pretty, label


def _legend_outside(ax: Axes, title: str | None = None, handles: list | None = None,
                    labels: list[str] | None = None) -> None:
    """The axes' legend right of the axes, top-aligned: never over the data (constrained layout makes room)."""
    where = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0, "fontsize": 8,
             "title": title, "title_fontsize": 8, "frameon": False}
    if handles is None:
        ax.legend(**where)
    else:
        ax.legend(handles, labels, **where)


def _integer_ticks(ax: Axes, axis: Literal["x", "y"], values: np.ndarray) -> None:
    """Whole-number ticks only (epochs, counts, layers); a single value gets a view of ± 0.5 and one tick."""
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    if hi - lo < 1:
        (ax.set_xlim if axis == "x" else ax.set_ylim)(lo - 0.5, hi + 0.5)


def _cell_pitch(ax: Axes, n_rows: int, n_cols: int, square: bool) -> tuple[float, float]:
    """Rough (row, column) pitch in inches of an n_rows × n_cols matrix drawn into a given ``ax`` (before
    layout, so 80 % of its current size, for the tick labels that will take the rest)."""
    width, height = ax.figure.get_size_inches()
    box = ax.get_position()
    rows, cols = 0.8 * box.height * height / n_rows, 0.8 * box.width * width / n_cols
    return (min(rows, cols),) * 2 if square else (rows, cols)


def _label_step(cell_inch: float, fontsize: float = 8.0) -> int:
    """Label every k-th row / column of a matrix whose cells are ``cell_inch`` apart, so that labels of
    ``fontsize`` points (a line is about 1.35 × that, with a gap) never overlap."""
    return max(1, int(np.ceil(1.35 * fontsize / 72 / max(cell_inch, 1e-6) - 1e-9)))


def _errorbar_lines(ax: Axes, x: np.ndarray, y: np.ndarray, err: np.ndarray | None, **kwargs: object) -> None:
    ax.errorbar(x, y, yerr=err, capsize=3.5 if err is not None else 0, marker="o", ms=5, lw=1.6, **kwargs)


def _references(reference: object, func: str) -> list[tuple[str, float, float]]:
    """``reference`` (label → mean or (mean, std)) as [(label, mean, std)], std NaN when not given."""
    if reference is None:
        return []
    if not isinstance(reference, Mapping):
        raise ValueError(f"{func}: reference must be a dict label → (mean, std) or label → mean, "
                         f"got {type(reference).__name__}")
    out = []
    for label, value in reference.items():
        pair = value if isinstance(value, (tuple, list)) else (value, np.nan)
        if len(pair) != 2 or not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                                     for v in pair) or not np.isfinite(pair[0]):
            raise ValueError(f"{func}: reference[{label!r}] must be a number or (mean, std), got {value!r}")
        out.append((str(label), float(pair[0]), float(pair[1])))
    return out


def plot_ablation(summary: pd.DataFrame, x: str, y: str = "auc_mean", err: str | None = "auc_std",
                  hue: str | None = "model", ax: Axes | None = None, *,
                  reference: Mapping[str, float | tuple[float, float]] | None = None,
                  oracle: float | None = None) -> Figure:
    """Ablation curves: ``y`` ± ``err`` against ``x``, one line per ``hue`` (AOANet Fig. 4, CAN Tables 5–7).

    For example AUC vs the number of layers L, subspaces S, pruning ratio r, CAN's micro-MLP depth or
    orders. Numeric ``x`` is plotted on a numeric axis (integer ticks when every x is an integer); other
    ``x`` (e.g. ``"16-8-4"``) as categories in first-seen order. Each line is sorted by x. Error bars only
    where a row averages more than one run (column ``n`` > 1; without ``n``, wherever ``err`` is a number).

    A model that does not change along x — GIN beside AOANet's ratio r, the unpruned model — is a
    ``reference``: a line across the whole x range with a band of ± its std, not a flat series of dots.
    The legend sits right of the axes, never over the data.

    Args:
        summary: one row per (hue, x) — aggregate over seeds first, e.g.
            ``runs.groupby(["model", "layers"]).auc.agg(auc_mean="mean", auc_std="std").reset_index()``.
        x: the ablated column. y: the metric column. err: its error column (``None`` = no error bars).
        hue: the column that separates lines (``None`` = a single line).
        ax: an Axes to draw into.
        reference: label → ``(mean, std)`` (or label → mean): each a solid horizontal line at the mean with
            an ``axhspan`` band of mean ± std (no band for a std of 0 or NaN, or a bare mean).
        oracle: the best achievable value (the Bayes AUC of synthetic data): a dashed black line.

    Returns:
        the Figure.

    Example:
        >>> s = pd.DataFrame({"model": ["gin", "gin", "aoanet", "aoanet"], "layers": [1, 2, 1, 2],
        ...                   "auc_mean": [0.70, 0.72, 0.71, 0.73], "auc_std": [0.01, 0.02, 0.01, 0.005]})
        >>> fig = plot_ablation(s, x="layers")
        >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
        ('layers', 'AUC (mean ± std)')
        >>> r = pd.DataFrame({"ratio": [0.1, 0.3, 0.5], "auc_mean": [0.80, 0.81, 0.79], "auc_std": 0.01, "n": 2})
        >>> fig = plot_ablation(r, x="ratio", hue=None, reference={"GIN (r = 1)": (0.805, 0.004)}, oracle=0.9)
        >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        ['GIN (r = 1)', 'oracle 0.9000']
        >>> plt.close("all")
    """
    func = "plot_ablation"
    cols = [c for c in (x, y, err, hue) if c is not None]
    summary = _require(summary, cols, func, "summary")
    if summary.empty:
        raise ValueError(f"{func}: summary has no rows")
    keys = [c for c in (hue, x) if c is not None]
    if summary.duplicated(keys).any():
        first = summary[summary.duplicated(keys)][keys].iloc[0]
        dup = {k: v.item() if isinstance(v, np.generic) else v for k, v in first.items()}
        raise ValueError(f"{func}: summary has several rows for {dup}; aggregate "
                         f"the seeds into one row per ({', '.join(keys)}) first")
    references = _references(reference, func)
    if oracle is not None and (isinstance(oracle, bool) or not isinstance(oracle, (int, float, np.number))
                               or not np.isfinite(oracle)):
        raise ValueError(f"{func}: oracle must be a number or None, got {oracle!r}")
    numeric = pd.api.types.is_numeric_dtype(summary[x]) and not pd.api.types.is_bool_dtype(summary[x])
    categories = list(dict.fromkeys(summary[x]))
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    groups = [(None, summary)] if hue is None else list(summary.groupby(hue, sort=False))
    drawn = None
    for k, (name, part) in enumerate(groups):
        part = part.sort_values(x, key=None if numeric else (lambda c: c.map(categories.index)))
        xs = part[x].to_numpy(dtype=float) if numeric else part[x].map(categories.index).to_numpy(dtype=float)
        spread = _spread(part, err)
        drawn = drawn if spread is None else spread
        _errorbar_lines(ax, xs, part[y].to_numpy(dtype=float), spread, color=f"C{k % 10}",
                        label=None if hue is None else str(name), zorder=3)
    bands = {}                                                          # label → its band, for the legend
    for j, (label, mean, std) in enumerate(references):
        color = f"C{(len(groups) + j) % 10}" if hue is not None else f"C{(j + 1) % 10}"
        line = ax.axhline(mean, color=color, lw=1.6, zorder=2, label=label)
        if np.isfinite(std) and std > 0:
            bands[line] = (ax.axhspan(mean - std, mean + std, color=color, alpha=0.18, lw=0, zorder=1), line)
    if oracle is not None:
        ax.axhline(float(oracle), color="black", ls="--", lw=1.1, zorder=2, label=f"oracle {float(oracle):.4f}")
    if not numeric:
        ax.set_xticks(range(len(categories)), [str(c) for c in categories])
        if len(categories) == 1:
            ax.set_xlim(-0.5, 0.5)
    elif all(float(v).is_integer() for v in summary[x]):
        _integer_ticks(ax, "x", summary[x].to_numpy(dtype=float))
    pretty, label = _value_label(y, err, summary, drawn)
    ax.set_xlabel(x)
    ax.set_ylabel(label)
    ax.set_title(f"Ablation: {pretty} vs {x}")
    ax.grid(axis="y", alpha=0.3)
    if hue is not None or references or oracle is not None:                  # the series first, then the lines
        handles, labels = ax.get_legend_handles_labels()
        order = sorted(range(len(handles)), key=lambda i: not isinstance(handles[i], ErrorbarContainer))
        _legend_outside(ax, title=hue, handles=[bands.get(handles[i], handles[i]) for i in order],
                        labels=[labels[i] for i in order])
    return ax.figure


def plot_params_vs_auc(summary: pd.DataFrame, params: str = "params", auc: str = "auc_mean",
                       err: str | None = "auc_std", model: str = "model", log: bool | None = None,
                       ax: Axes | None = None) -> Figure:
    """Model size against quality, CAN Fig. 5's question: do more parameters buy a higher AUC?

    One labelled dot per model at (parameters, AUC), with ± std error bars where a row averages more than
    one run (column ``n`` > 1; without ``n``, wherever ``err`` is a number). Parameter counts that differ
    by orders of magnitude are positions on a log axis — never the lengths of log-scaled bars, whose
    baseline is arbitrary. Top left is best: a high AUC from few parameters.

    Args:
        summary: one row per model (columns ``model``, ``params``, ``auc``, and ``err`` unless ``None``),
            e.g. :func:`ctrviz.experiments.summarize`'s, or :func:`ctrviz.experiments.compare_models`'
            results with ``auc="auc", err=None``.
        params, auc, err, model: the column names.
        log: parameter axis on a log scale; ``None``: when the counts span a factor of 10 or more.
        ax: an Axes to draw into.

    Returns:
        the Figure: one axes, parameters along x, the AUC along y, each dot labelled "model (count)".

    Example:
        >>> s = pd.DataFrame({"model": ["lr", "dnn", "can"], "params": [700, 60_000, 520_000],
        ...                   "auc_mean": [0.52, 0.72, 0.74], "auc_std": [0.001, 0.003, 0.002], "n": 5})
        >>> fig = plot_params_vs_auc(s)
        >>> ax = fig.axes[0]
        >>> ax.get_xscale(), ax.get_ylabel(), [t.get_text() for t in ax.texts]
        ('log', 'AUC (mean ± std over 5 runs)', ['lr (700)', 'dnn (60k)', 'can (520k)'])
        >>> plt.close(fig)
    """
    func = "plot_params_vs_auc"
    cols = [c for c in (model, params, auc, err) if c is not None]
    summary = _require(summary, cols, func, "summary")
    if summary.empty:
        raise ValueError(f"{func}: summary has no rows")
    if summary[model].duplicated().any():
        raise ValueError(f"{func}: summary has several rows for model "
                         f"{summary[model][summary[model].duplicated()].iloc[0]!r}; aggregate the seeds first")
    sizes = summary[params].to_numpy(dtype=float)
    if log and not (sizes > 0).all():
        raise ValueError(f"{func}: column {params!r} must be > 0 on a log scale (log=False for others)")
    if log is None:
        log = bool((sizes > 0).all() and sizes.max() >= 10 * sizes.min())
    names = [str(m) for m in summary[model]]
    scores = summary[auc].to_numpy(dtype=float)
    spread = _spread(summary, err)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4), layout="constrained")
    ax.errorbar(sizes, scores, yerr=spread, fmt="o", ms=6, color="#d1495b", elinewidth=1.4,
                capsize=4 if spread is not None else 0, zorder=3)
    pos = np.log10(sizes) if log else sizes
    lo, hi = float(pos.min()), float(pos.max())
    span = hi - lo if hi > lo else (1.0 if log else max(abs(hi), 1.0))
    for name, size, p, score in zip(names, sizes, pos, scores, strict=True):
        right = (p - lo) / span <= 0.6                                  # label towards the middle of the axes
        ax.annotate(f"{name} ({_short_count(size)})", (size, score), xytext=(7 if right else -7, 0),
                    textcoords="offset points", ha="left" if right else "right", va="center", fontsize=8)
    edges = (lo - 0.12 * span, hi + 0.12 * span)
    ax.set_xlim(*(10.0 ** np.array(edges) if log else edges))
    if log:
        ax.set_xscale("log")
    margin = np.zeros_like(scores) if spread is None else np.nan_to_num(spread)
    y_lo, y_hi = float(np.nanmin(scores - margin)), float(np.nanmax(scores + margin))
    pad = 0.12 * (y_hi - y_lo) + 2e-3
    ax.set_ylim(y_lo - pad, y_hi + pad)
    pretty, label = _value_label(auc, err, summary, spread)
    ax.set_xlabel("parameters" + (" (log scale)" if log else ""))
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    ax.set_title(f"Do more parameters buy a higher {pretty}?")
    return ax.figure


def plot_coaction_magnitude(outputs: torch.Tensor | np.ndarray | Mapping[str, torch.Tensor],
                            pair_names: Sequence[str] | None = None, kind: Literal["bar", "box"] = "bar",
                            ax: Axes | None = None) -> Figure:
    """How strongly each induction × feed pair's co-action unit fires: mean |output| per pair (CAN Sec. 4.2).

    A row's magnitude is the mean over the O output units of |F(u, m)|. From the pooled outputs (B, P, O)
    of :meth:`ctrviz.models.can.CAN.coaction_outputs` that is one value per (row, pair), sum-pooled over
    the history (rows with an empty history count as 0, as the DNN sees them). From the per-position
    dict (``per_position=True``: pair name → (B, T, O)) it is one value per (row, position), and the
    padding positions (all-zero outputs) are left out. ``kind="bar"``: the mean with a ± std bar;
    ``kind="box"``: the distribution.

    Args:
        outputs: (B, P, O) tensor or array, or a dict pair name → (B, T, O).
        pair_names: names of the P pairs (``CAN.pair_names``) for a tensor (default ``pair 0``, …); for a
            dict, the pairs to show in that order (default: all, in the dict's order).
        kind: ``"bar"`` or ``"box"``.
        ax: an Axes to draw into.

    Returns:
        the Figure; pairs along y, magnitude along x.

    Example:
        >>> out = torch.tensor([[[1.0, -3.0], [0.0, 0.5]], [[2.0, 2.0], [0.5, 0.0]]])   # (B=2, P=2, O=2)
        >>> fig = plot_coaction_magnitude(out, ["item×hist", "cat×hist"])
        >>> [round(float(p.get_width()), 3) for p in fig.axes[0].patches]           # (2 + 2) / 2, (0.25 + 0.25) / 2
        [2.0, 0.25]
        >>> plt.close(fig)
    """
    func = "plot_coaction_magnitude"
    _choice(kind, ("bar", "box"), func, "kind")
    frames = []
    if isinstance(outputs, Mapping):
        names = list(outputs) if pair_names is None else list(pair_names)
        for name in names:
            if name not in outputs:
                raise ValueError(f"{func}: pair {name!r} is not in outputs; have {list(outputs)}")
            out = _to_numpy(outputs[name], func, f"outputs[{name!r}]")
            if out.ndim != 3:
                raise ValueError(f"{func}: outputs[{name!r}] must be (B, T, O), got shape {out.shape}")
            mag = np.abs(out).mean(-1)                                     # (B, T)
            real = np.abs(out).max(-1) > 0                                 # (B, T) padding is exactly 0
            frames.append(pd.DataFrame({"pair": name, "magnitude": mag[real]}))
        unit = "per (row, position), padding left out"
    else:
        out = _to_numpy(outputs, func, "outputs")
        if out.ndim != 3:
            raise ValueError(f"{func}: outputs must be (B, P, O) or a dict of (B, T, O), got shape {out.shape}")
        names = [f"pair {p}" for p in range(out.shape[1])] if pair_names is None else list(pair_names)
        if len(names) != out.shape[1]:
            raise ValueError(f"{func}: pair_names has {len(names)} names for P = {out.shape[1]} pairs")
        mag = np.abs(out).mean(-1)                                         # (B, P)
        frames += [pd.DataFrame({"pair": name, "magnitude": mag[:, p]}) for p, name in enumerate(names)]
        unit = "per row, pooled over the history"
    if not names:
        raise ValueError(f"{func}: no pairs to plot")
    data = pd.concat(frames, ignore_index=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 1.2 + 0.45 * len(names)), layout="constrained")
    palette = dict(zip(names, sns.color_palette("deep", len(names)), strict=True))
    if kind == "bar":
        sns.barplot(data=data, x="magnitude", y="pair", hue="pair", order=names, hue_order=names, palette=palette,
                    errorbar="sd", capsize=0.2, err_kws={"linewidth": 1}, legend=False, ax=ax)
    else:
        with warnings.catch_warnings():                                # seaborn 0.13 passes bxp(vert=…), which
            warnings.filterwarnings("ignore", "vert: bool", DeprecationWarning)   # matplotlib ≥ 3.11 deprecates
            sns.boxplot(data=data, x="magnitude", y="pair", hue="pair", order=names, hue_order=names, palette=palette,
                        fliersize=1.5, legend=False, ax=ax)
    ax.set_xlabel(f"mean |co-action output| over O ({unit})")
    ax.set_ylabel("induction × feed pair")
    ax.set_title("Co-action magnitude per pair" + (" (mean ± std)" if kind == "bar" else ""))
    ax.grid(axis="x", alpha=0.3)
    return ax.figure


def plot_lemma_errors(table: pd.DataFrame, tolerance: float = TOLERANCE, ax: Axes | None = None) -> Figure:
    """Max abs error of every equivalence check (AOANet Tables 1–2, Appendix A) on a log axis, and the tolerance.

    One row per lemma (top to bottom as in ``table``). Relations within ``tolerance`` are green dots,
    failed ones red; rows of kind ``"degenerate"`` (explained failures, :mod:`ctrviz.lemmas`) orange
    diamonds. An error of exactly 0 cannot sit on a log axis: it is drawn at the left edge and labelled
    ``0``; NaN / inf at the right edge, labelled ``NaN`` / ``inf``.

    Args:
        table: :func:`ctrviz.lemmas.check_all` (columns lemma, max_abs_error; kind optional, else every
            row is a relation).
        tolerance: the pass threshold (:data:`ctrviz.lemmas.TOLERANCE`), drawn as a dashed line.
        ax: an Axes to draw into.

    Returns:
        the Figure.

    Example:
        >>> t = pd.DataFrame({"lemma": ["A.1", "A.2", "3.4 zero key"], "kind": ["relation", "relation", "degenerate"],
        ...                   "max_abs_error": [0.0, 3e-15, float("nan")]})
        >>> fig = plot_lemma_errors(t)
        >>> fig.axes[0].get_xscale(), sorted(x.get_text() for x in fig.axes[0].texts)
        ('log', ['0', 'NaN'])
        >>> plt.close(fig)
    """
    func = "plot_lemma_errors"
    table = _require(table, ("lemma", "max_abs_error"), func, "table")
    if table.empty:
        raise ValueError(f"{func}: table has no rows")
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not 0 < tolerance < np.inf:
        raise ValueError(f"{func}: tolerance must be a positive number, got {tolerance!r}")
    names = [str(n) for n in table["lemma"]]
    errors = pd.to_numeric(table["max_abs_error"], errors="coerce").to_numpy(dtype=float)
    kinds = table["kind"].astype(str).to_numpy() if "kind" in table.columns else np.full(len(names), "relation")
    finite_pos = errors[np.isfinite(errors) & (errors > 0)]
    lo = 10.0 ** np.floor(np.log10(min(finite_pos.min() if finite_pos.size else tolerance, tolerance))) / 10
    hi = 10.0 ** np.ceil(np.log10(max(finite_pos.max() if finite_pos.size else tolerance, tolerance))) * 10
    x = np.where(errors == 0, lo, np.where(np.isfinite(errors), errors, hi))
    y = np.arange(len(names), dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 1.4 + 0.27 * len(names)), layout="constrained")
    degenerate = kinds == "degenerate"
    passed = np.isfinite(errors) & (errors <= tolerance)
    groups = (("relation, within tolerance", ~degenerate & passed, "o", "#2a9d4b"),
              ("relation, failed", ~degenerate & ~passed, "o", "#d62828"),
              ("degenerate (explained failure)", degenerate, "D", "#f08c00"))
    for label, sel, marker, color in groups:
        if sel.any():
            ax.scatter(x[sel], y[sel], marker=marker, s=36, color=color, edgecolor="black", lw=0.4, zorder=3,
                       label=label)
    for xi, yi, e in zip(x, y, errors, strict=True):
        ax.hlines(yi, lo / 3, xi, color="#cccccc", lw=0.8, zorder=1)
        if not np.isfinite(e) or e == 0:
            text = "0" if e == 0 else ("NaN" if np.isnan(e) else "inf")
            ax.annotate(text, (xi, yi), xytext=(6 if e == 0 else -6, 0), textcoords="offset points",
                        ha="left" if e == 0 else "right", va="center", fontsize=7, style="italic")
    ax.axvline(tolerance, color="black", ls="--", lw=1, label=f"tolerance {tolerance:g}", zorder=2)
    ax.set_xscale("log")
    ax.set_xlim(lo / 3, hi * 3)
    ax.set_yticks(y, names, fontsize=8)
    ax.set_ylim(len(names) - 0.5, -0.5)                                    # first lemma on top
    ax.set_xlabel("max |lhs − rhs| over shapes × seeds (float64, log scale; 0 at the left edge)")
    ax.set_title("Equivalence lemmas: max abs error", pad=24)
    ax.grid(axis="x", alpha=0.3, which="major")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=4, fontsize=7, frameon=False, borderaxespad=0.3,
              handletextpad=0.3, columnspacing=1.2)
    return ax.figure


# ---------------------------------------------------------------- W patterns (AOANet Eq. 4) -------------------


def _symmetric_limit(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def _as_stack(weight: Tensor | np.ndarray, func: str) -> np.ndarray:
    """``weight`` as a float64 array (S, D, D) (a (D, D) gets S = 1); ValueError otherwise."""
    if isinstance(weight, Tensor):
        weight = weight.detach().cpu().double().numpy()
    try:
        w = np.asarray(weight, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{func}: weight must be a tensor or array of numbers, got {type(weight).__name__}") from err
    w = w + 0.0                                                       # -0.0 → 0.0 (no "-0" in the cells)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3 or w.shape[1] != w.shape[2] or w.shape[0] == 0:
        raise ValueError(f"{func}: weight must be (D, D) or (S, D, D) with S >= 1, got shape {w.shape}")
    return w


def _matrix_heatmap(ax: Axes, matrix: np.ndarray, vmax: float, annot: bool, rows: Sequence[str] | None = None,
                    cols: Sequence[str] | None = None) -> None:
    """A diverging heatmap centred at 0 (non-finite cells left blank on a grey background)."""
    frame = pd.DataFrame(matrix, index=rows, columns=cols)
    sns.heatmap(frame, mask=~np.isfinite(matrix), cmap="RdBu_r", vmin=-vmax, vmax=vmax, annot=annot,
                fmt=".2g", annot_kws={"fontsize": 7}, cbar=False, square=True, linewidths=0.3, linecolor="white",
                xticklabels=True, yticklabels=True, ax=ax)
    ax.set_facecolor("#bbbbbb")
    ax.tick_params(labelsize=8, length=0)
    plt.setp(ax.get_yticklabels(), rotation=0)


def _weight_panels(weight: Tensor | np.ndarray | dict[str, Any], labels: Sequence[str] | None, max_panels: int,
                   func: str, keys: Sequence[str]) -> tuple[np.ndarray, list[str], dict[str, Any] | None]:
    """The (S, D, D) stack to draw, one label per matrix, and the pattern dict (``lemma_weights``) if one was given."""
    pattern = None
    if isinstance(weight, dict):
        for key in keys:
            if key not in weight:
                raise ValueError(f"{func}: a pattern dict needs key {key!r} (from ctrviz.lemmas.lemma_weights)")
        pattern, weight = weight, weight["weight"]
        labels = pattern["labels"] if labels is None else labels
    w = _as_stack(weight, func)
    if isinstance(max_panels, bool) or not isinstance(max_panels, int) or max_panels < 1:
        raise ValueError(f"{func}: max_panels must be an int >= 1, got {max_panels!r}")
    S = w.shape[0]
    labels = [f"W^{s}" for s in range(S)] if labels is None else [str(x) for x in labels]
    if len(labels) != S:
        raise ValueError(f"{func}: {len(labels)} labels for {S} matrices")
    return w, labels, pattern


def plot_weight_pattern(weight: Tensor | np.ndarray | dict[str, Any], labels: Sequence[str] | None = None,
                        title: str | None = None, note: str | None = None, max_panels: int = 4,
                        annot: bool | None = None, value_label: str = "W_ij") -> Figure:
    """Heatmaps of generalized-interaction weights W (AOANet Eq. 4: Z_ij = u_i v_j W_ij), one panel per W.

    Colours diverge around 0 on one scale shared by the panels (red > 0, blue < 0); non-finite entries
    (the degenerate AutoInt construction) are grey.

    Args:
        weight: (D, D) or (S, D, D) tensor/array, or the dict of :func:`ctrviz.lemmas.lemma_weights`
            (its ``weight``, ``labels`` and constraint are used).
        labels: a title per panel (default ``W^0, W^1, …``).
        title: the figure's title.
        note: a line of text under the panels.
        max_panels: draw at most this many W (the title says how many are left out).
        annot: write the values in the cells; ``None`` = when D ≤ 6.
        value_label: the colour bar's label (e.g. ``"Z_ij"`` to draw interaction maps).

    Returns:
        the Figure (axes 0..k−1 the panels, then a colour bar).

    Example:
        >>> fig = plot_weight_pattern(torch.eye(3), title="W = I")
        >>> fig.axes[0].collections[0].get_array().reshape(3, 3).tolist()[0]
        [1.0, 0.0, 0.0]
        >>> plt.close(fig)
    """
    func = "plot_weight_pattern"
    w, labels, pattern = _weight_panels(weight, labels, max_panels, func, ("weight", "labels", "model", "constraint"))
    if pattern is not None and title is None:
        title = f"{pattern['model']}: {pattern['constraint']}"
    S, D = w.shape[0], w.shape[1]
    shown = min(S, max_panels)
    annot = D <= 6 if annot is None else annot
    vmax = _symmetric_limit(w[:shown])
    side = 2.4 if D <= 6 else 3.0
    width = max(6.5, side * shown + 1.2)
    fig, axes = plt.subplots(1, shown, figsize=(width, side + 1.1), layout="constrained", squeeze=False)
    ticks = [str(i) for i in range(D)]
    for s, ax in enumerate(axes[0]):
        _matrix_heatmap(ax, w[s], vmax, annot, ticks, ticks)
        ax.set_title(labels[s], fontsize=9)
        ax.set_xlabel("j (index of v)", fontsize=8)
        ax.set_ylabel("i (index of u)" if s == 0 else "", fontsize=8)
        if D > 12:
            ax.set_xticks(ax.get_xticks()[::2])
            ax.set_yticks(ax.get_yticks()[::2])
    mappable = axes[0][0].collections[0]
    fig.colorbar(mappable, ax=list(axes[0]), shrink=0.8, label=value_label)
    more = f" (first {shown} of {S})" if shown < S else ""
    if title is not None or more:
        fig.suptitle(textwrap.fill(f"{title or 'W'}{more}", int(width * 11)), fontsize=10)
    if note:
        fig.supxlabel(textwrap.fill(note, int(width * 14)), fontsize=8)
    return fig
