"""Interactive explorers (ipywidgets) over ctrviz's public interpretation outputs.

- :func:`lemma_explorer`: pick a model of AOANet Tables 1–2 → the W its lemma sets
  (:func:`ctrviz.lemmas.lemma_weights`) drawn as its structure (fixed, tied, free, input-dependent entries) or
  its values, its h, α and pairing in words, and the max error of its relations computed live
  (:func:`ctrviz.lemmas.check`).
- :func:`pruning_explorer`: slide AOANet's selection ratio r (Sec. 3.5, Eq. 43) → which interactions G(α)
  keeps (:func:`ctrviz.plots.plot_pruning_mask` / :func:`~ctrviz.plots.plot_interaction_heatmap`), how many,
  whether the planted pairs survive, and the re-trained AUC at r from a cached sweep.
- :func:`coaction_explorer`: pick an induction id and a feed id of a CAN model → the micro-MLP weights
  reshaped from ``P_induction`` (heatmaps) and each layer's output for that feed (CAN Eq. 5–9), as
  :meth:`ctrviz.nn.coaction.CoAction.explain` returns them.

Widgets only draw: the numbers come from the models and their analysis (``CoAction.explain``,
:func:`ctrviz.models.aoanet.kept_at_ratio`, :func:`ctrviz.reproduce.auc_by_ratio`), never from math redone here.

Each returns an ``ipywidgets.VBox`` whose attributes hold the current state, so code and tests drive it
without a browser: set a control (``w.slider.value = 0.5``) and read ``w.figure``, ``w.kept_fraction``, ….
The figure is drawn into an ``ipywidgets.Image`` (PNG) and closed, so the inline backend does not show it
a second time; ``w.figure`` stays readable.

``static``: ``None`` (default) gives the widget when ipywidgets imports and a Jupyter kernel runs, else
the matplotlib Figure of the initial state; ``True`` always the Figure; ``False`` always the widget (an
ImportError without ipywidgets). The static Figure shows everything the widget does: its figure, and the
info panel's text as a block under the panels (the figure's ``supxlabel``), so a saved notebook or a
headless run loses nothing but the controls.

:func:`plot_weight_structure` draws what a lemma constrains in a stack of W matrices (:func:`weight_structure`:
fixed 0 or 1, tied, free, input-dependent); their values, :func:`ctrviz.plots.plot_weight_pattern`.

Example:
    >>> import matplotlib; matplotlib.use("Agg")
    >>> fig = lemma_explorer("dcn", static=True)           # no widget: the structure of W_ij = w_i, and the text
    >>> fig.axes[0].get_title(), "3.1 DCN (3 layers)" in fig.get_supxlabel()
    ('one cross layer', True)
    >>> plt.close("all")
"""

from __future__ import annotations

import html
import io
import re
import textwrap
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.patches import Patch
from torch import Tensor

from ctrviz.data.batch import Batch
from ctrviz.data.schema import FIRST_ID, OOV_ID
from ctrviz.lemmas import LEMMAS, check, lemma_weight_models, lemma_weights
from ctrviz.models.aoanet import kept_at_ratio, planted_pair_ranks
from ctrviz.nn.coaction import CoAction
from ctrviz.plots import (
    _as_stack,
    _matrix_heatmap,
    _symmetric_limit,
    _weight_panels,
    plot_interaction_heatmap,
    plot_pruning_mask,
    plot_weight_pattern,
)
from ctrviz.reproduce import auc_by_ratio

DPI = 80
_MAX_IDS = 30


# ---------------------------------------------------------------- plumbing ------------------------------------


def _ipywidgets() -> ModuleType | None:
    """The ipywidgets module, or ``None`` when it cannot be imported."""
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets


def _kernel_running() -> bool:
    """Whether this runs inside a Jupyter kernel (where widgets can render)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _static(static: bool | None, func: str) -> bool:
    if static is not None and not isinstance(static, bool):
        raise ValueError(f"{func}: static must be True, False or None, got {static!r}")
    if static is None:
        return _ipywidgets() is None or not _kernel_running()
    if not static and _ipywidgets() is None:
        raise ImportError(f"{func}(static=False) needs ipywidgets: pip install 'ipywidgets>=8.0' "
                          "(or pass static=True for a figure)")
    return static


def _png(fig: Figure) -> bytes:
    """``fig`` as PNG bytes at :data:`DPI`; the figure is closed (no second copy from the inline backend)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def _attach(box: Any, **values: Any) -> None:
    for name, value in values.items():
        setattr(box, name, value)


def _panel(widgets: ModuleType, controls: Sequence[Any], info: Any, image: Any) -> Any:
    image.layout.align_self = "flex-start"     # natural size: a VBox would stretch the PNG to the cell width
    return widgets.VBox([widgets.HBox(list(controls)), info, image])


def _updater(box: Any, compute: Callable[[], dict[str, Any]], info_html: Callable[[dict[str, Any]], str]
             ) -> Callable[..., None]:
    """``update(change=None)``: recompute the state, store it on ``box``, redraw the image and the text."""
    def update(change: object = None) -> None:
        state = compute()
        _attach(box, **state)
        box.info.value = info_html(state)
        box.image.value = _png(state["figure"])
    return update


def _fill(text: str, width: int) -> str:
    """``text`` wrapped to ``width`` characters line by line, its own line breaks kept."""
    return "\n".join(textwrap.fill(line, max(width, 20)) if line.strip() else "" for line in text.splitlines())


def _panel_text(markup: str) -> str:
    """An info panel's HTML as plain text: a line per ``<br>`` and per table row, cells joined by `` | ``."""
    text = re.sub(r"<br\s*/?>|</tr>", "\n", markup)
    text = re.sub(r"</t[dh]>\s*(?=<t[dh])", " | ", text)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def _with_text_panel(fig: Figure, text: str, fontsize: int = 8) -> Figure:
    """``fig``, made taller, with ``text`` as a block under its panels: a static explorer's copy of the info panel.

    The block is the figure's ``supxlabel`` (left-aligned), for which the constrained layout makes room.
    """
    width, height = fig.get_size_inches()
    if fig.get_supxlabel():                                                          # keep a note already there
        text = f"{fig.get_supxlabel()}\n{text}"
    body = _fill(text, int(width * 72 / (0.56 * fontsize)) - 4)
    extra = (body.count("\n") + 1) * fontsize * 1.3 / 72 + 0.25                     # inches for the block
    fig.set_size_inches(width, height + extra)
    if not isinstance(fig.get_layout_engine(), ConstrainedLayoutEngine):
        fig.subplots_adjust(bottom=(extra + 0.3) / (height + extra))
    fig.supxlabel(body, x=0.01, ha="left", multialignment="left", fontsize=fontsize)
    return fig


def _static_figure(state: dict[str, Any], info_html: Callable[[dict[str, Any]], str]) -> Figure:
    """A static explorer: the interactive one's figure plus its info panel's text, in one Figure."""
    return _with_text_panel(state["figure"], _panel_text(info_html(state)))


# ---------------------------------------------------------------- W structure: fixed, tied, free, input ------

STRUCTURE_KINDS: tuple[str, ...] = ("fixed 0", "fixed 1", "tied", "free", "input-dependent", "undefined")
"""The classes of :func:`weight_structure`, in the order of the colours of :func:`plot_weight_structure`."""

_STRUCTURE_COLORS = ("#f4f4f4", "#3b3b3b", "#e08a2c", "#3a78b5", "#8e5bb5", "#c0392b")
_STRUCTURE_HELP = {"fixed 0": "", "fixed 1": "", "tied": "one learned number per letter",
                   "free": "a learned number of its own", "input-dependent": "computed from the input",
                   "undefined": "NaN or ±inf"}


def weight_structure(weight: Tensor | np.ndarray, input_dependent: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """What a lemma's W constrains, entry by entry: fixed 0, fixed 1, tied, free or input-dependent.

    Read off a W built from *random* learned weights (as :func:`ctrviz.lemmas.lemma_weights` builds it): an
    entry that is exactly 0 or 1 is fixed by the construction; entries exactly equal to each other are one
    learned number used several times (tied, e.g. DCN's W_ij = w_i, AOANet Eq. 20); an entry equal to no
    other is free. With ``input_dependent`` every entry that is not fixed is computed from the input (AFM's
    attention, AutoInt's keys and values, Lemmas A.5 and 3.4) rather than learned; its tie groups are kept.
    Non-finite entries are ``"undefined"``. Exact equality is the test, so a random draw makes accidental
    ties practically impossible — but do not feed it rounded or integer-valued weights.

    Args:
        weight: (D, D) or (S, D, D) tensor or array; ties are found across the whole stack.
        input_dependent: whether the non-fixed entries depend on the input.

    Returns:
        ``(kinds, groups)``, both of ``weight``'s shape: ``kinds`` a str array of :data:`STRUCTURE_KINDS`,
        ``groups`` an int array numbering the tie groups 0, 1, … in row-major order of their first entry
        (−1 for entries tied to nothing).

    Example:
        >>> kinds, groups = weight_structure(torch.eye(2))
        >>> kinds.tolist()
        [['fixed 1', 'fixed 0'], ['fixed 0', 'fixed 1']]
        >>> w = torch.tensor([[0.3, 0.3], [-1.2, -1.2]])             # DCN: W_ij = w_i, each row one number
        >>> weight_structure(w)[1].tolist()
        [[0, 0], [1, 1]]
        >>> weight_structure(torch.tensor([[0.5, 2.0], [0.0, -1.0]]), input_dependent=True)[0].tolist()
        [['input-dependent', 'input-dependent'], ['fixed 0', 'input-dependent']]
    """
    shape = np.shape(weight.detach().cpu() if isinstance(weight, Tensor) else weight)
    flat = _as_stack(weight, "weight_structure").ravel()
    kinds = np.full(flat.shape, "free", dtype=f"<U{max(map(len, STRUCTURE_KINDS))}")
    groups = np.full(flat.shape, -1, dtype=np.int64)
    finite = np.isfinite(flat)
    kinds[~finite] = "undefined"
    kinds[finite & (flat == 0)] = "fixed 0"
    kinds[finite & (flat == 1)] = "fixed 1"
    learned = np.flatnonzero(finite & (flat != 0) & (flat != 1))
    members: dict[float, list[int]] = {}
    for k in learned:                                                 # row-major: first entry first
        members.setdefault(float(flat[k]), []).append(int(k))
    tied = [idx for idx in members.values() if len(idx) > 1]
    for g, idx in enumerate(tied):
        kinds[idx] = "tied"
        groups[idx] = g
    if input_dependent:
        kinds[learned] = "input-dependent"
    return kinds.reshape(shape), groups.reshape(shape)


def _group_label(g: int) -> str:
    """Tie group 0, 1, … → ``a`` … ``z``, then ``27``, ``28``, … (1-based numbers past the alphabet)."""
    return chr(ord("a") + g) if g < 26 else str(g + 1)


def plot_weight_structure(weight: Tensor | np.ndarray | dict[str, Any], input_dependent: bool | None = None,
                          labels: Sequence[str] | None = None, title: str | None = None, note: str | None = None,
                          max_panels: int = 4, annot: bool | None = None) -> Figure:
    """Which entries of W a lemma fixes, ties, leaves free or computes from the input (AOANet Tables 1–2).

    Each panel is one W (a pair, subspace, key or layer), its cells coloured by :func:`weight_structure`:
    fixed 0 (white), fixed 1 (black), tied (orange, one letter per group of equal entries: one learned
    number), free (blue: an own learned number), input-dependent (purple), undefined (red). Unlike
    :func:`~ctrviz.plots.plot_weight_pattern` it does not show the random values, only what the construction allows
    them to be. The legend (outside the panels, on the right) counts the entries of each kind.

    Args:
        weight: (D, D) or (S, D, D) tensor/array built with random learned weights, or the dict of
            :func:`ctrviz.lemmas.lemma_weights` (its ``weight``, ``labels``, ``input_dependent``, ``model`` and
            ``constraint`` are used).
        input_dependent: see :func:`weight_structure`; ``None`` = the dict's flag, else ``False``.
        labels: a title per panel (default ``W^0, W^1, …``).
        title: the figure's title (default: the question it answers, with the dict's model and constraint).
        note: a line of text under the panels.
        max_panels: draw at most this many W (the title says how many are left out; the legend's counts
            are over all of them).
        annot: write 0, 1 and the tie letters in the cells; ``None`` = when D ≤ 12.

    Returns:
        the Figure; axes 0..k−1 are the panels, each with one image of codes into :data:`STRUCTURE_KINDS`.

    Example:
        >>> fig = plot_weight_structure(torch.eye(3), title="W = I: which entries are learned?")
        >>> fig.axes[0].images[0].get_array().tolist()[0]           # 1 = fixed 1, 0 = fixed 0
        [1, 0, 0]
        >>> plt.close(fig)
    """
    func = "plot_weight_structure"
    question = "Which entries of W are fixed, tied, free or input-dependent?"
    w, labels, pattern = _weight_panels(weight, labels, max_panels, func,
                                        ("weight", "labels", "model", "constraint", "input_dependent"))
    if pattern is not None:
        input_dependent = bool(pattern["input_dependent"]) if input_dependent is None else input_dependent
        title = f"{question}\n{pattern['model']}: {pattern['constraint']}" if title is None else title
    input_dependent = bool(input_dependent)
    S, D = w.shape[0], w.shape[1]
    kinds, groups = weight_structure(w, input_dependent)
    index = {kind: code for code, kind in enumerate(STRUCTURE_KINDS)}
    codes = np.vectorize(index.__getitem__, otypes=[np.int64])(kinds)   # (S, D, D) codes into STRUCTURE_KINDS
    shown = min(S, max_panels)
    annot = D <= 12 if annot is None else annot
    side = 2.3 if D <= 6 else 0.24 * D + 0.9
    width = side * shown + 2.4                                        # + the legend on the right
    fig, axes = plt.subplots(1, shown, figsize=(width, side + 1.3), layout="constrained", squeeze=False)
    cmap = ListedColormap(_STRUCTURE_COLORS)
    for s, ax in enumerate(axes[0]):
        ax.imshow(codes[s], cmap=cmap, vmin=-0.5, vmax=len(STRUCTURE_KINDS) - 0.5, interpolation="nearest")
        ax.set_xticks(np.arange(D))
        ax.set_yticks(np.arange(D))
        ax.set_xticks(np.arange(D + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(D + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="white", linewidth=0.8)
        ax.tick_params(which="minor", length=0)
        ax.tick_params(labelsize=8, length=0)
        if D > 12:
            ax.set_xticks(np.arange(0, D, 2))
            ax.set_yticks(np.arange(0, D, 2))
        ax.set_title(labels[s], fontsize=9)
        ax.set_xlabel("j (index of v)", fontsize=8)
        ax.set_ylabel("i (index of u)" if s == 0 else "", fontsize=8)
        if not annot:
            continue
        for i, j in np.ndindex(D, D):
            kind, g = kinds[s, i, j], groups[s, i, j]
            text = {"fixed 0": "0", "fixed 1": "1", "undefined": "?"}.get(kind, _group_label(g) if g >= 0 else "")
            if text:
                dark = kind in ("fixed 1", "free", "input-dependent", "undefined")
                ax.text(j, i, text, ha="center", va="center", fontsize=8 if D <= 9 else 7,
                        color="white" if dark else "black")
    n_groups = int(groups.max()) + 1 if groups.size else 0
    handles = []
    for code, kind in enumerate(STRUCTURE_KINDS):
        n = int((kinds == kind).sum())
        if n:
            extra = f", {n_groups} group{'s' * (n_groups != 1)}" if kind == "tied" else ""
            handles.append(Patch(facecolor=_STRUCTURE_COLORS[code], edgecolor="#999999",
                                 label=f"{kind} ({n}{extra})\n{_STRUCTURE_HELP[kind]}" if _STRUCTURE_HELP[kind]
                                 else f"{kind} ({n})"))
    # beside the last panel, top-aligned: the constrained layout makes room for it, so it never covers a cell
    axes[0][-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.04, 1.0), borderaxespad=0.0,
                       fontsize=8, frameon=False, labelspacing=0.9, title=f"entries ({S * D * D} in all)",
                       title_fontsize=8, alignment="left")
    more = f" (first {shown} of {S})" if shown < S else ""
    fig.suptitle(_fill(f"{title or question}{more}", int(width * 11)), fontsize=10)
    if note:
        fig.supxlabel(textwrap.fill(note, int(width * 14)), fontsize=8)
    return fig


def _lemma_rows(names: Sequence[str], seeds: tuple[int, ...]) -> pd.DataFrame:
    by_name = {lemma.name: lemma for lemma in LEMMAS}
    rows = [check(by_name[n], seeds=seeds) for n in names]
    return pd.DataFrame(rows)[["lemma", "reference", "relation", "kind", "max_abs_error", "passed", "note"]]


def _lemma_state(model: str, fields: int, dim: int, seeds: tuple[int, ...], view: str) -> dict[str, Any]:
    pattern = lemma_weights(model, fields=fields, dim=dim)
    errors = _lemma_rows(pattern["lemmas"], seeds)
    relations = errors[errors["kind"] == "relation"]
    max_error = float(relations["max_abs_error"].max()) if len(relations) else float("nan")
    passed = bool(relations["passed"].all())
    figure = plot_weight_structure(pattern) if view == "structure" else plot_weight_pattern(pattern)
    return {"pattern": pattern, "errors": errors, "max_error": max_error, "passed": passed, "figure": figure}


def _lemma_html(state: dict[str, Any]) -> str:
    p = state["pattern"]
    rows = "".join(
        f"<tr><td>{html.escape(str(r['lemma']))}</td><td>{html.escape(str(r['relation']))}</td>"
        f"<td>{'NaN' if pd.isna(r['max_abs_error']) else format(r['max_abs_error'], '.1e')}</td>"
        f"<td>{'degenerate (explained)' if r['kind'] == 'degenerate' else ('ok' if r['passed'] else 'FAILED')}"
        f"</td></tr>" for _, r in state["errors"].iterrows())
    depends = " <i>(depends on the input: shown for one random row)</i>" if p["input_dependent"] else ""
    return (f"<b>{html.escape(p['models'])}</b>{depends}<br>"
            f"<b>W</b>: {html.escape(p['constraint'])}<br><b>h</b>: {html.escape(p['h'])}<br>"
            f"<b>α</b>: {html.escape(p['alpha'])}<br><b>pairing</b>: {html.escape(p['pairing'])}<br>"
            f"<table><tr><th>lemma</th><th>relation</th><th>max |error|</th><th></th></tr>{rows}</table>")


def lemma_explorer(model: str = "dcn", fields: int = 3, dim: int = 4, seeds: tuple[int, ...] = (0, 1, 2),
                   view: Literal["structure", "values"] = "structure", static: bool | None = None) -> Any:
    """Pick a model of AOANet Tables 1–2 → what its lemma does to W, its h and α, and the lemmas' max error (live).

    The W comes from :func:`ctrviz.lemmas.lemma_weights` (the baseline's own layer, small dims), drawn as its
    structure (:func:`plot_weight_structure`: fixed, tied, free or input-dependent entries) or its values
    (:func:`~ctrviz.plots.plot_weight_pattern`); the errors from :func:`ctrviz.lemmas.check` of every
    :data:`~ctrviz.lemmas.LEMMAS` row the setting backs, over ``seeds`` × the default shapes, in float64.

    Args:
        model: the first model shown, one of :func:`ctrviz.lemmas.lemma_weight_models`.
        fields, dim: F and D of the drawn W (the checks use :data:`ctrviz.lemmas.SHAPES`).
        seeds: seeds of the checks.
        view: ``"structure"`` or ``"values"`` of W, shown first.
        static: see the module docstring. The static Figure holds the info panel's text (models, W, h, α,
            pairing, and the table of errors) under the panels.

    Returns:
        the Figure (static), or an ``ipywidgets.VBox`` with attributes ``dropdown`` (the model), ``view``
        (ToggleButtons), ``info`` (HTML), ``image``, and the current ``pattern`` (dict), ``errors`` (DataFrame:
        lemma, reference, relation, kind, max_abs_error, passed, note), ``max_error`` (over the relation rows),
        ``passed``, ``figure``.

    Example:
        >>> fig = lemma_explorer("fwfm", static=True)          # W = r·I per pair: the diagonal one tied number
        >>> "A.4 FwFM" in fig.get_supxlabel().get_text()  # doctest: +SKIP
        True
    """
    func = "lemma_explorer"
    names = lemma_weight_models()
    if model not in names:
        raise ValueError(f"{func}: model must be one of {list(names)}, got {model!r}")
    seeds = tuple(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"{func}: seeds must be a non-empty sequence of ints, got {seeds!r}")
    if view not in ("structure", "values"):
        raise ValueError(f"{func}: view must be 'structure' or 'values', got {view!r}")
    lemma_weights(model, fields=fields, dim=dim)                     # fields/dim errors before any widget
    if _static(static, func):
        return _static_figure(_lemma_state(model, fields, dim, seeds, view), _lemma_html)
    widgets = _ipywidgets()
    options = [(f"{n} — {lemma_weights(n, fields=2, dim=1)['models']}", n) for n in names]
    dropdown = widgets.Dropdown(options=options, value=model, description="model",
                                layout=widgets.Layout(width="420px"))
    toggle = widgets.ToggleButtons(options=["structure", "values"], value=view, description="W")
    box = _panel(widgets, [dropdown, toggle], widgets.HTML(), widgets.Image(format="png"))
    _attach(box, dropdown=dropdown, view=toggle, info=box.children[1], image=box.children[2])
    update = _updater(box, lambda: _lemma_state(dropdown.value, fields, dim, seeds, toggle.value), _lemma_html)
    dropdown.observe(update, names="value")
    toggle.observe(update, names="value")
    update()
    return box


# ---------------------------------------------------------------- pruning explorer ---------------------------


def _auc_at(table: pd.DataFrame | None, ratio: float) -> tuple[float | None, float | None, str]:
    if table is None:
        return None, None, "no sweep given: pass sweep= (runs or summary with the ratio r) for the re-trained AUC"
    k = int((table["ratio"] - ratio).abs().to_numpy().argmin())
    row = table.iloc[k]
    at, auc = float(row["ratio"]), float(row["auc"])
    spread = "" if pd.isna(row["auc_std"]) else f" ± {row['auc_std']:.4f}"
    where = f"at r = {at:g}" if abs(at - ratio) < 1e-9 else f"no run at r = {ratio:g}; nearest cached r = {at:g}"
    return auc, at, f"re-trained AUC {where}: {auc:.4f}{spread} ({int(row['n'])} run(s))"


def _pruning_html(s: dict[str, Any]) -> str:
    """The pruning explorer's info panel: counts at r, the re-trained AUC, the planted pairs' fate."""
    counts = ", ".join(f"layer {li}: {k}/{n}" for li, (k, n) in s["layer_counts"].items())
    text = (f"<b>r = {s['ratio']:.2f}</b> ({s['ranking']} ranking): kept {s['kept_count']} of {s['total']} "
            f"interactions ({100 * s['kept_fraction']:.1f} %) — {counts}<br>{html.escape(s['auc_text'])}")
    if s["planted_status"] is not None:
        marks = ", ".join(f"{r.a}×{r.b} (rank {r['rank']} of {r.of}) {'kept' if r.kept else 'pruned'}"
                          for _, r in s["planted_status"].iterrows())
        text += f"<br>planted pairs: {html.escape(marks)}"
    return text


def pruning_explorer(interactions: pd.DataFrame, planted: Sequence[tuple[str, str]] | None = None,
                     sweep: pd.DataFrame | None = None, ratio: float = 0.3,
                     ranking: Literal["subspace", "layer", "global"] = "subspace", layer: int = 1,
                     view: Literal["mask", "heatmap"] = "mask", static: bool | None = None) -> Any:
    """Slide AOANet's selection ratio r → the interactions G(α) keeps, and the re-trained AUC at r (Sec. 3.5).

    The gates at r are :func:`ctrviz.models.aoanet.kept_at_ratio`'s — AOANet's own selection
    (:func:`~ctrviz.models.aoanet.select_from_alpha`: the top ⌈r·count⌉ of |α| per ``ranking`` group, every α in
    the table a candidate) —, as :func:`ctrviz.plots.plot_pruning_mask` previews them.

    Args:
        interactions: :meth:`ctrviz.models.gin.GIN.interactions` or ``AOANet.selection`` (columns layer,
            subspace, left, right, alpha).
        planted: field pairs to mark (the synthetic data's ``data.info["planted_pairs"]``), layer 1 only.
        sweep: AUC by ratio, from :func:`ctrviz.experiments.sweep` / :func:`~ctrviz.experiments.summarize`
            (a ``ratio`` column, or ``knob``/``value`` as ``ctrviz reproduce aoanet-fig3`` writes; ``auc`` or
            ``auc_mean``; read by :func:`ctrviz.reproduce.auc_by_ratio`); the AUC at the cached ratio nearest r
            is shown. ``None``: no AUC.
        ratio: the starting r in (0, 1].
        ranking: ``"subspace"``, ``"layer"`` or ``"global"``.
        layer: the layer drawn first (1 = field × field).
        view: ``"mask"`` (:func:`~ctrviz.plots.plot_pruning_mask`, one panel per subspace) or ``"heatmap"``
            (:func:`~ctrviz.plots.plot_interaction_heatmap` of the kept gates per field pair).
        static: see the module docstring; the static Figure holds the panel's counts, re-trained AUC and
            planted pairs' ranks as text under the mask.

    Returns:
        the Figure (static), or an ``ipywidgets.VBox`` with controls ``slider`` (r), ``view``, ``layer`` and the
        current ``ratio``, ``ranking``, ``kept`` (bool Series on ``interactions``' index, every layer),
        ``kept_count``, ``total``, ``kept_fraction`` (over every layer, as AOANet's ``kept_fraction``),
        ``layer_counts`` ({layer: (kept, total)}), ``planted_status``
        (:func:`ctrviz.models.aoanet.planted_pair_ranks` at r, or ``None``), ``auc``, ``auc_ratio`` (the
        cached r it comes from), ``auc_text``, ``figure``.

    Example:
        >>> t = pd.DataFrame({"layer": 1, "subspace": 0, "left": ["a", "a", "b", "b"], "right": ["a", "b", "a", "b"],
        ...                   "alpha": [0.1, -3.0, 2.0, 0.5]})
        >>> fig = pruning_explorer(t, ratio=0.5, static=True)        # the top 2 of |α|: (a, b) and (b, a)
        >>> fig.axes[0].collections[0].get_array().reshape(2, 2).tolist()
        [[0.0, 1.0], [1.0, 0.0]]
        >>> plt.close("all")
    """
    func = "pruning_explorer"
    need = ("layer", "subspace", "left", "right", "alpha")
    if not isinstance(interactions, pd.DataFrame):
        raise ValueError(f"{func}: interactions must be a pandas DataFrame, got {type(interactions).__name__}")
    missing = [c for c in need if c not in interactions.columns]
    if missing:
        raise ValueError(f"{func}: interactions lack column {missing[0]!r}; have {list(interactions.columns)}")
    if interactions.empty:
        raise ValueError(f"{func}: interactions have no rows")
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise ValueError(f"{func}: ratio must be a number in (0, 1], got {ratio!r}")
    if ranking not in ("subspace", "layer", "global"):
        raise ValueError(f"{func}: ranking must be one of ['subspace', 'layer', 'global'], got {ranking!r}")
    if view not in ("mask", "heatmap"):
        raise ValueError(f"{func}: view must be 'mask' or 'heatmap', got {view!r}")
    layers = sorted(int(x) for x in pd.unique(interactions["layer"]))
    if layer not in layers:
        raise ValueError(f"{func}: layer must be one of {layers}, got {layer!r}")
    planted = [tuple(p) for p in planted] if planted else None
    if planted:
        planted_pair_ranks(interactions.assign(kept=False), planted)      # unknown fields: ValueError now
    try:
        table = auc_by_ratio(sweep) if sweep is not None else None
    except ValueError as err:
        raise ValueError(f"{func}: {err}") from err
    data = interactions.drop(columns=["kept"], errors="ignore")

    def state(r: float, shown_layer: int, how: str) -> dict[str, Any]:
        kept = kept_at_ratio(data, float(r), ranking)
        marked = data.assign(kept=kept)
        marks = planted if shown_layer == 1 else None
        if how == "mask":                                             # the same gates, titled by r and ranking
            figure = plot_pruning_mask(marked, layer=shown_layer, ratio=float(r), ranking=ranking, planted=marks)
        else:
            figure = plot_interaction_heatmap(marked, layer=shown_layer, planted=marks, value="kept")
        auc, auc_ratio, auc_text = _auc_at(table, float(r))
        per_layer = kept.groupby(data["layer"]).agg(["sum", "size"])
        return {"ratio": float(r), "ranking": ranking, "kept": kept, "kept_count": int(kept.sum()),
                "total": len(kept), "kept_fraction": float(kept.mean()),
                "layer_counts": {int(li): (int(k), int(n)) for li, (k, n) in per_layer.iterrows()},
                "figure": figure, "auc": auc, "auc_ratio": auc_ratio, "auc_text": auc_text,
                "planted_status": planted_pair_ranks(marked, planted) if planted else None}

    if _static(static, func):
        return _static_figure(state(ratio, layer, view), _pruning_html)
    widgets = _ipywidgets()
    slider = widgets.FloatSlider(value=float(ratio), min=0.05, max=1.0, step=0.05, description="ratio r",
                                 continuous_update=False, readout_format=".2f")
    toggle = widgets.ToggleButtons(options=["mask", "heatmap"], value=view, description="view")
    layer_box = widgets.Dropdown(options=layers, value=layer, description="layer",
                                 layout=widgets.Layout(width="160px"))
    box = _panel(widgets, [slider, layer_box, toggle], widgets.HTML(), widgets.Image(format="png"))
    _attach(box, slider=slider, view=toggle, layer=layer_box, info=box.children[1], image=box.children[2])

    update = _updater(box, lambda: state(slider.value, layer_box.value, toggle.value), _pruning_html)
    for control in (slider, toggle, layer_box):
        control.observe(update, names="value")
    update()
    return box


# ---------------------------------------------------------------- co-action explorer ---------------------------


def _coaction_unit(model: Any, func: str) -> CoAction:
    unit = model if isinstance(model, CoAction) else getattr(model, "coaction", None)
    if not isinstance(unit, CoAction):
        raise ValueError(f"{func}: model must be a CAN-style model with a `coaction` unit "
                         f"(ctrviz.nn.coaction.CoAction) or the unit itself, got {type(model).__name__}")
    return unit


def _id_options(ids: Sequence[int] | None, batch: Batch | None, unit: CoAction, field: str, lowest: int,
                func: str, what: str) -> list[int]:
    vocab = unit.schema[field].vocab_size
    if ids is None and batch is not None:
        if not isinstance(batch, Batch):
            raise ValueError(f"{func}: batch must be a ctrviz Batch, got {type(batch).__name__}")
        col = batch.seqs[field] if field in batch.seqs else batch.sparse[:, unit.schema.sparse_names.index(field)]
        values, counts = torch.unique(col[col >= lowest].cpu(), return_counts=True)
        ids = values[torch.argsort(counts, descending=True, stable=True)][:_MAX_IDS].tolist()
    if ids is None:
        ids = list(range(FIRST_ID, min(vocab, FIRST_ID + _MAX_IDS)))
    ids = list(ids)
    if not ids:
        raise ValueError(f"{func}: no {what} ids to choose from")
    for i in ids:
        if isinstance(i, bool) or not isinstance(i, int) or not lowest <= i < vocab:
            raise ValueError(f"{func}: {what} ids of field {field!r} must be ints in [{lowest}, {vocab}), got {i!r}")
    return ids


def _coaction_state(unit: CoAction, k: int, induction_id: int, feed_id: int, order: int) -> dict[str, Any]:
    """The explorer's state from :meth:`CoAction.explain`; a RuntimeError if its micro-MLP and the unit disagree."""
    e = unit.explain(k, induction_id, feed_id, order)
    diff = float((e.output - e.unit_output).abs().max())
    if not diff <= 1e-5 * max(1.0, float(e.unit_output.abs().max())):
        raise RuntimeError(f"coaction_explorer: the reshaped micro-MLP differs from the unit's own output by {diff:.3g}"
                           " — has CoAction's weight layout changed?")
    biases = list(e.biases) if e.biases is not None else []
    figure = _coaction_figure(e.pair, induction_id, feed_id, order, unit.config.orders, e.induction_vector,
                              e.weights, biases, e.inputs, e.outputs)
    return {"pair_name": e.pair, "induction_id": induction_id, "feed_id": feed_id,
            "induction_vector": e.induction_vector.cpu(), "weights": [w.cpu() for w in e.weights],
            "biases": [b.cpu() for b in biases] if biases else None, "feed_vector": e.inputs.cpu(),
            "outputs": [o.cpu() for o in e.outputs], "unit_output": e.unit_output.cpu(), "max_abs_diff": diff,
            "figure": figure}


def _coaction_html(s: dict[str, Any]) -> str:
    """The co-action explorer's info panel: the unit's own output for the two ids, and the reshaping's check."""
    out = ", ".join(f"{x:.3g}" for x in s["unit_output"].tolist())
    return (f"<b>{html.escape(s['pair_name'])}</b>, induction id {s['induction_id']}, feed id {s['feed_id']}: "
            f"F(u, m) = ‖ h_i = [{html.escape(out)}] (the unit's own output, orders combined; the reshaped "
            f"micro-MLP matches it to {s['max_abs_diff']:.1e})")


def _coaction_figure(name: str, induction_id: int, feed_id: int, order: int, orders: int, vector: Tensor,
                     weights: Sequence[Tensor], biases: Sequence[Tensor], h0: Tensor, outs: Sequence[Tensor]) -> Figure:
    L = len(weights)
    fig, axes = plt.subplots(2, L + 1, figsize=(3.1 * (L + 1), 6.2), layout="constrained",
                             gridspec_kw={"height_ratios": [1.6, 1]}, squeeze=False)
    mats = [torch.cat([w, b[None]]) if biases else w for w, b in zip(weights, biases or [None] * L, strict=True)]
    vmax = _symmetric_limit(np.concatenate([m.detach().cpu().double().numpy().ravel() for m in mats]))
    for li, (ax, m) in enumerate(zip(axes[0][:L], mats, strict=True)):
        d_in, d_out = weights[li].shape
        rows = [str(i) for i in range(d_in)] + (["b"] if biases else [])
        _matrix_heatmap(ax, m.cpu().double().numpy(), vmax, annot=m.numel() <= 40, rows=rows,
                        cols=[str(j) for j in range(d_out)])
        ax.set_title(f"layer {li + 1}: w{li + 1} ({d_in}×{d_out})" + (f" + b{li + 1}" if biases else ""), fontsize=9)
        ax.set_xlabel("output unit", fontsize=8)
        ax.set_ylabel("input unit" if li == 0 else "", fontsize=8)
    # the raw induction vector, coloured by the piece of the micro-MLP each entry becomes
    ax = axes[0][L]
    values = vector.cpu().double().numpy()
    pieces = []                                                       # one colour per w_i and per b_i
    for li, m in enumerate(mats):
        pieces += [f"C{2 * li}"] * weights[li].numel() + [f"C{2 * li + 1}"] * (m.numel() - weights[li].numel())
    colors = pieces * (len(values) // len(pieces))                    # C_w tables side by side (order independence)
    ax.bar(np.arange(len(values)), values, color=colors, width=1.0)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_title(f"P_induction (D' = {len(values)}):\nw and b pieces in colour", fontsize=9)
    ax.set_xlabel("entry", fontsize=8)
    ax.tick_params(labelsize=8)
    for ax, h, label in zip(axes[1], [h0, *outs], ["h0 = P_feed" + (f"^{order}" if order > 1 else ""),
                                                   *[f"h{i + 1}" for i in range(L)]], strict=True):
        v = h.cpu().double().numpy()
        ax.bar(np.arange(len(v)), v, color=np.where(v >= 0, "#c0392b", "#2e6da4"), width=0.8)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_title(label + f" ({len(v)})", fontsize=9)
        ax.tick_params(labelsize=8)
    orders_note = f", order {order} of {orders}" if orders > 1 else ""
    fig.suptitle(f"Co-action {name}: induction id {induction_id} → micro-MLP, feed id {feed_id}{orders_note}",
                 fontsize=10)
    return fig


def coaction_explorer(model: Any, pair: str | None = None, induction_ids: Sequence[int] | None = None,
                      feed_ids: Sequence[int] | None = None, batch: Batch | None = None, order: int = 1,
                      static: bool | None = None) -> Any:
    """Pick an induction id and a feed id → CAN's micro-MLP and what it does to that feed (CAN Eq. 5–9, 11).

    The induction id's vector ``P_induction`` is cut into the micro-MLP's weights and biases
    (‖_i (w_i ‖ b_i), Eq. 5–6), drawn as heatmaps (bias as the last row ``b``); the feed id's vector
    ``P_feed`` (to the power c for order c, Eq. 11) runs through it, and every layer's output h_1 … h_L is
    drawn (Eq. 7–9) — all from :meth:`ctrviz.nn.coaction.CoAction.explain`. The explorer checks that the
    micro-MLP run one vector at a time matches the unit's own batched output (``explain``'s ``unit_output``) and
    raises a RuntimeError if they differ.

    Args:
        model: a :class:`~ctrviz.models.can.CAN` (or any model with a ``coaction`` unit), or a
            :class:`~ctrviz.nn.coaction.CoAction`.
        pair: ``"induction×feed"`` name (``model.pair_names``); default the first pair.
        induction_ids, feed_ids: the ids to choose from; default the ids of ``batch`` (most frequent first,
            at most 30), else the first 30 known ids (from 2) of each vocabulary.
        batch: rows whose ids to offer (e.g. ``data.test``).
        order: the feed order c shown first (1 … C).
        static: see the module docstring.

    Returns:
        the Figure (static: with the panel's text — the unit's output and the check — under the heatmaps), or an
        ``ipywidgets.VBox`` with controls ``pair``, ``induction``, ``feed``, ``order`` (Dropdowns) and the
        current ``pair_name``, ``induction_id``, ``feed_id``, ``induction_vector`` (D'·C_w,), ``weights`` (L tensors
        (d_in, d_out)), ``biases`` (L tensors or ``None``), ``feed_vector`` (h_0 = P_feed^c), ``outputs`` (L
        tensors h_i), ``unit_output`` (the unit's output (O,), all orders combined), ``max_abs_diff``
        (reshaped vs the unit's own output) and ``figure``.

    Example:
        >>> from ctrviz.data.schema import Field, Pair, Schema
        >>> from ctrviz.models.can import CAN, CANConfig
        >>> s = Schema((Field("item", "sparse", vocab_size=6),
        ...             Field("hist", "sequence", vocab="item", vocab_size=6, max_len=3)), (Pair("item", "hist"),))
        >>> model = CAN(s, CANConfig(embed_dim=4, hidden=(8,), micro_layers=(4, 3, 2)))
        >>> fig = coaction_explorer(model, static=True)               # induction id 2, feed id 2
        >>> [a.get_title() for a in fig.axes[:2]]
        ['layer 1: w1 (4×3) + b1', 'layer 2: w2 (3×2) + b2']
        >>> plt.close("all")
    """
    func = "coaction_explorer"
    unit = _coaction_unit(model, func)
    names = list(unit.names)
    pair = names[0] if pair is None else pair
    if pair not in names:
        raise ValueError(f"{func}: pair must be one of {names}, got {pair!r}")
    orders = unit.config.orders
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= orders:
        raise ValueError(f"{func}: order must be an int in [1, {orders}], got {order!r}")
    given = (induction_ids, feed_ids)

    def options(k: int) -> tuple[list[int], list[int]]:
        p = unit.pairs[k]
        return (_id_options(given[0], batch, unit, p.induction, 0, func, "induction"),
                _id_options(given[1], batch, unit, p.feed, OOV_ID, func, "feed"))

    k0 = names.index(pair)
    ind_opts, feed_opts = options(k0)
    if _static(static, func):
        return _static_figure(_coaction_state(unit, k0, ind_opts[0], feed_opts[0], order), _coaction_html)
    widgets = _ipywidgets()
    small = widgets.Layout(width="190px")
    pair_box = widgets.Dropdown(options=names, value=pair, description="pair", layout=widgets.Layout(width="260px"))
    ind_box = widgets.Dropdown(options=ind_opts, value=ind_opts[0], description="induction", layout=small)
    feed_box = widgets.Dropdown(options=feed_opts, value=feed_opts[0], description="feed", layout=small)
    order_box = widgets.Dropdown(options=list(range(1, orders + 1)), value=order, description="order", layout=small)
    box = _panel(widgets, [pair_box, ind_box, feed_box, order_box], widgets.HTML(), widgets.Image(format="png"))
    _attach(box, pair=pair_box, induction=ind_box, feed=feed_box, order=order_box, info=box.children[1],
            image=box.children[2])

    update = _updater(box, lambda: _coaction_state(unit, names.index(pair_box.value), ind_box.value,
                                                   feed_box.value, order_box.value), _coaction_html)
    busy = []

    def on_pair(change: object) -> None:
        busy.append(True)                                     # one redraw, after both option lists change
        try:
            ind, feed = options(names.index(pair_box.value))
            ind_box.options, ind_box.value = ind, ind[0]
            feed_box.options, feed_box.value = feed, feed[0]
        finally:
            busy.pop()
        update()

    def on_value(change: object) -> None:
        if not busy:
            update()

    pair_box.observe(on_pair, names="value")
    for control in (ind_box, feed_box, order_box):
        control.observe(on_value, names="value")
    update()
    return box
