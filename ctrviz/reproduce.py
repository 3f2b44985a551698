"""The papers' experiments as named specs: ``python -m ctrviz reproduce NAME --data D [--seeds N] [--quick]``.

Each spec is a grid of :class:`~ctrviz.experiments.RunSpec` (models × settings × seeds) run by
:func:`ctrviz.experiments.sweep` with its on-disk result cache, summarised as mean ± std
(:func:`ctrviz.experiments.summarize`), printed, and written as CSV (every run and the summary) and PNG.

==================  ===============================================================================
``can-table2``      CAN Table 2: DNN, + Cartesian, + CAN, + CAN + Cartesian, parameters as multiples of DNN's
``can-table3``      CAN Tables 3–4: FFM, DNN, DeepFM, DeepFFM, xDeepFM, PNN, NCF, ONN, DIEN, CAN, CAN-DIEN
``can-table5``      CAN Table 5: micro-MLP layers 1/2/3, activation none/tanh, orders 1–4
``can-fig5``        CAN Fig. 5: parameters vs AUC for PNN, NCF, ONN, CAN (small), CAN
``aoanet-table3``   AOANet Table 3: IPNN … AutoInt, GIN, AOANet (AUC and logloss)
``aoanet-fig3``     AOANet Fig. 3: GIN layers L, subspaces S, AOANet selection ratio r
``aoanet-depth``    GIN layers L = 1..3 in both pair orders (Eq. 8's and the lemmas' proofs', ``pair_order``)
``can-presets``     DNN, CAN (the paper), CAN as released (``can-official``), each CAN with item × history pairs only
==================  ===============================================================================

``overrides`` (``ctrviz reproduce … --set KEY=VALUE``) change every run whose model has that config field (e.g.
``pair_order=lemma`` reaches GIN and AOANet in ``aoanet-table3``); ``--batch-size``, ``--lr`` and
``--embedding-optimizer`` change the training (a row-wise optimizer makes a step's cost follow the batch instead of the
vocabulary). Both become part of the output file names.

:func:`auc_by_ratio` reads AOANet's re-trained AUC per selection ratio r out of a sweep's runs or summary (what
``aoanet-fig3`` writes; the pruning explorer shows it).

``quick=True`` runs one seed, one epoch (lr 1e-2), on at most 8,000 training and 2,000 valid/test rows,
and a reduced grid: every spec finishes in under 2 minutes on 2 CPU cores (the test suite runs them all).

The settings the papers give are the defaults: CAN's models keep CAN's 200 × 80 PReLU head, AOANet's keep
AOANet's (embedding 16, ReLU 512-256-64, Table 4's layers); on real data the CAN specs train with CAN's batch 128
and the AOANet specs with AOANet's 1024 (Adam 1e-3 in both), on the synthetic data every spec with batch 256
(:func:`default_train`). The README ("Fidelity") compares batch 128 with 1024 for CAN on MovieLens.
For CAN Table 3 the AOANet-family baselines (DeepFM, xDeepFM) get CAN's head, as the CAN paper compares every
model with one head.
"CAN (small)" is our choice (the paper gives no size): micro-MLP 16→4, order 1.
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ctrviz.data.batch import CTRData
from ctrviz.data.subsample import subsample
from ctrviz.experiments import RunSpec, format_summary, summarize, sweep
from ctrviz.models import config_fields
from ctrviz.train import TrainConfig
from ctrviz.utils import atomic_write_bytes, atomic_write_text

QUICK_TRAIN_ROWS, QUICK_EVAL_ROWS = 8_000, 2_000
_CAN_HEAD = {"hidden": (200, 80), "activation": "prelu"}


@dataclass(frozen=True)
class Spec:
    """A named experiment.

    Args:
        name, title, paper: how it is called, what it shows, where in the papers.
        grid: ``grid(quick) -> [(label, model, config, setting), …]``; seeds are added by :meth:`runs`.
        base: model label whose parameters are 1.0x in the summary, or ``None``.
        plot: ``"bars"`` (AUC by model), ``"params"`` (CAN Fig. 5) or ``"ablation"`` (AUC vs ``x``).
        x: the setting column on the x axis of an ablation plot; ``hue``: one line per value of it.
    """

    name: str
    title: str
    paper: str
    grid: Callable[[bool], list[tuple[str, str, dict, dict]]]
    base: str | None = None
    plot: Literal["bars", "params", "ablation"] = "bars"
    x: str | None = None
    hue: str = "model"

    def runs(self, seeds: int, quick: bool, skip: Sequence[str] = ()) -> list[RunSpec]:
        """The full list of runs: every grid point × seeds 0..seeds-1 (one seed when ``quick``), leaving out
        the grid points whose label is in ``skip`` (``ValueError`` for a label the grid does not have)."""
        grid = self.grid(quick)
        labels = list(dict.fromkeys(label for label, *_ in grid))
        if isinstance(skip, str) or not all(isinstance(s, str) for s in skip):
            raise TypeError(f"{self.name}: skip must be a list of labels, got {skip!r}")
        for s in skip:
            if s not in labels:
                raise ValueError(f"{self.name}: no grid point labelled {s!r} to skip; labels: {', '.join(labels)}")
        if set(labels) <= set(skip):
            raise ValueError(f"{self.name}: skipping {', '.join(skip)} leaves no runs")
        return [RunSpec(model, config, seed, setting, label)
                for label, model, config, setting in grid if label not in skip
                for seed in range(1 if quick else seeds)]


def _models(*names: str) -> Callable[[bool], list[tuple[str, str, dict, dict]]]:
    return lambda quick: [(n, n, {}, {}) for n in names]


def _with_can_head(model: str) -> dict:
    """CAN's head for a model whose config has ``hidden`` and ``activation`` (AOANet-family defaults differ)."""
    fields = config_fields(model)
    return {k: v for k, v in _CAN_HEAD.items() if k in fields}


def _can_table3(quick: bool) -> list[tuple[str, str, dict, dict]]:
    names = [("ffm", "ffm"), ("dnn", "dnn"), ("deepfm", "deepfm"), ("deepffm", "deepffm"), ("xdeepfm", "xdeepfm"),
             ("pnn", "ipnn"), ("ncf", "ncf"), ("onn", "onn"), ("dien", "dien"), ("can", "can"),
             ("can-dien", "can-dien")]
    return [(label, model, _with_can_head(model) if model in ("deepfm", "xdeepfm") else {}, {})
            for label, model in names]


def _can_table5(quick: bool) -> list[tuple[str, str, dict, dict]]:
    layers = {"1 layer": (16, 8), "2 layers": (16, 8, 4), "3 layers": (16, 8, 4, 4)}   # Sec. 5.3: 16/8, 8/4, 4/4
    grid = [(f"micro-MLP {k}", "can", {"micro_layers": v}, {"ablation": "micro-MLP layers", "value": k})
            for k, v in layers.items()]
    grid += [(f"activation {a}", "can", {"micro_activation": a}, {"ablation": "activation", "value": a})
             for a in ("none", "tanh")]
    grid += [(f"order={c}", "can", {"orders": c}, {"ablation": "orders", "value": str(c)})
             for c in ((1, 3) if quick else (1, 2, 3, 4))]
    return grid


def _can_fig5(quick: bool) -> list[tuple[str, str, dict, dict]]:
    return [("pnn", "ipnn", {}, {}), ("ncf", "ncf", {}, {}), ("onn", "onn", {}, {}),
            ("can (small)", "can", {"micro_layers": (16, 4), "orders": 1}, {}), ("can", "can", {}, {})]


def _aoanet_fig3(quick: bool) -> list[tuple[str, str, dict, dict]]:
    layers, subspaces = ((1, 2), (1, 2)) if quick else ((1, 2, 3, 4), (1, 2, 3, 4))
    ratios = (0.3, 1.0) if quick else (0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
    grid = [("gin", "gin", {"layers": L}, {"knob": "layers L", "value": L}) for L in layers]
    grid += [("gin", "gin", {"subspaces": S}, {"knob": "subspaces S", "value": S}) for S in subspaces]
    grid += [("aoanet", "aoanet", {"ratio": r}, {"knob": "ratio r", "value": r}) for r in ratios]
    return grid


def _aoanet_depth(quick: bool) -> list[tuple[str, str, dict, dict]]:
    layers = (1, 2) if quick else (1, 2, 3)
    return [(f"gin ({order})", "gin", {"layers": L, "pair_order": order}, {"knob": "layers L", "value": L})
            for order in ("eq8", "lemma") for L in layers]


_ITEM_HISTORY = (("item", "hist_item"), ("category", "hist_cat"))   # the synthetic data's sequence pairs


def _can_presets(quick: bool) -> list[tuple[str, str, dict, dict]]:
    grid = [("dnn", "dnn", {}, {}), ("can", "can", {}, {}), ("can-official", "can-official", {}, {})]
    grid += [(f"{m} (item × history only)", m, {"pairs": _ITEM_HISTORY}, {}) for m in ("can", "can-official")]
    return grid


def auc_by_ratio(sweep: pd.DataFrame) -> pd.DataFrame:
    """AOANet's re-trained AUC per selection ratio r, from a sweep's runs or its summary (AOANet Fig. 3, right).

    Args:
        sweep: :func:`~ctrviz.experiments.sweep`'s runs or :func:`~ctrviz.experiments.summarize`'s table, with
            the ratio in a ``ratio`` column, or in ``value`` where ``knob`` names it (as ``aoanet-fig3`` writes:
            ``knob = "ratio r"``); and ``auc`` (runs: mean and std over them) or ``auc_mean`` (a summary: its
            ``auc_std`` and ``n`` kept). Only the ``aoanet`` rows when a ``model`` column has any.

    Returns:
        one row per ratio, sorted: ratio, auc, auc_std (NaN for a single run), n (runs).

    Raises:
        ValueError: ``sweep`` is not a DataFrame, lacks the columns, holds no numeric ratio or no rows with one.

    Example:
        >>> runs = pd.DataFrame({"model": "aoanet", "knob": "ratio r", "value": [0.3, 0.3, 1.0],
        ...                      "auc": [0.70, 0.80, 0.60]})
        >>> auc_by_ratio(runs).round(4).values.tolist()
        [[0.3, 0.75, 0.0707, 2.0], [1.0, 0.6, nan, 1.0]]
    """
    if not isinstance(sweep, pd.DataFrame):
        raise ValueError(f"sweep must be a pandas DataFrame, got {type(sweep).__name__}")
    t = sweep
    if "ratio" in t.columns:
        col = "ratio"
    elif "value" in t.columns and "knob" in t.columns:
        t = t[t["knob"].astype(str).str.contains("ratio")]
        col = "value"
    else:
        raise ValueError(f"sweep needs a 'ratio' column, or 'knob' and 'value' as `ctrviz reproduce aoanet-fig3` "
                         f"writes; have {list(sweep.columns)}")
    if "model" in t.columns and (t["model"] == "aoanet").any():
        t = t[t["model"] == "aoanet"]
    if "auc_mean" in t.columns:
        auc, std = t["auc_mean"], t["auc_std"] if "auc_std" in t.columns else pd.Series(np.nan, index=t.index)
        n = t["n"] if "n" in t.columns else pd.Series(1, index=t.index)
    elif "auc" in t.columns:
        auc, std, n = t["auc"], pd.Series(np.nan, index=t.index), pd.Series(1, index=t.index)
    else:
        raise ValueError(f"sweep needs an 'auc' (runs) or 'auc_mean' (summary) column; have {list(sweep.columns)}")
    try:
        ratio = pd.to_numeric(t[col])
    except (TypeError, ValueError) as err:
        raise ValueError(f"sweep column {col!r} must hold numbers (the ratio r)") from err
    rows = pd.DataFrame({"ratio": ratio, "auc": pd.to_numeric(auc), "std": std, "n": n}).dropna(subset=["ratio"])
    if rows.empty:
        raise ValueError("sweep has no rows with a ratio r")
    if "auc_mean" in t.columns:
        out = rows.groupby("ratio").agg(auc=("auc", "mean"), auc_std=("std", "mean"), n=("n", "sum"))
    else:
        out = rows.groupby("ratio").agg(auc=("auc", "mean"), auc_std=("auc", "std"), n=("auc", "size"))
    return out.reset_index()


SPECS: dict[str, Spec] = {s.name: s for s in (
    Spec("can-table2", "DNN, + Cartesian, + CAN, + CAN + Cartesian", "CAN Table 2",
         _models("dnn", "cartesian", "can", "can+cartesian"), base="dnn"),
    Spec("can-table3", "the CAN paper's model comparison", "CAN Tables 3–4", _can_table3, base="dnn"),
    Spec("can-table5", "co-action unit ablations: micro-MLP depth, activation, orders", "CAN Table 5",
         _can_table5, plot="ablation", x="value", hue="ablation"),
    Spec("can-fig5", "parameters vs AUC", "CAN Fig. 5", _can_fig5, base="pnn", plot="params"),
    Spec("aoanet-table3", "the AOANet paper's model comparison", "AOANet Table 3",
         _models("ipnn", "opnn", "deepfm", "fwfm", "afm", "dcn", "dcn-m", "xdeepfm", "autoint", "gin", "aoanet")),
    Spec("aoanet-fig3", "GIN layers L and subspaces S, AOANet selection ratio r", "AOANet Fig. 3",
         _aoanet_fig3, plot="ablation", x="value", hue="knob"),
    Spec("aoanet-depth", "GIN depth L in both pair orders (Eq. 8; Lemmas 3.1-3.2's proofs)",
         "AOANet Fig. 3 (L) and Lemmas 3.1-3.2", _aoanet_depth, plot="ablation", x="value", hue="knob"),
    Spec("can-presets", "DNN, CAN (paper), CAN as released, each CAN with item x history pairs only",
         "CAN paper vs released code", _can_presets, base="dnn"),
)}


def default_train(data_name: str, quick: bool, spec: str = "") -> TrainConfig:
    """The training settings of a spec run (Adam, lr 1e-3, at most 10 epochs, early stopping on valid AUC).

    Batch size: the paper's on real data, 128 for the CAN specs (CAN Sec. 5.1) and 1024 for the others (AOANet
    Sec. 4.1, "Model Settings"); 256 with patience 3 on the synthetic data, which is neither paper's (the demo's
    settings). Quick: one epoch of batch 256 at lr 1e-2 (at lr 1e-3 one epoch of 8k rows leaves most models on
    their starting plateau).

    Example:
        >>> [default_train("movielens", False, s).batch_size for s in ("can-table2", "aoanet-table3")]
        [128, 1024]
    """
    if quick:
        return TrainConfig(epochs=1, batch_size=256, lr=1e-2, progress=False)
    if data_name.startswith("synthetic"):
        return TrainConfig(epochs=10, batch_size=256, patience=3, progress=False)
    return TrainConfig(epochs=10, batch_size=128 if spec.startswith("can-") else 1024, patience=2, progress=False)


@dataclass
class Reproduction:
    """What :func:`reproduce` returns: every run, the summary, the figure and the files written."""

    spec: Spec
    runs: pd.DataFrame
    summary: pd.DataFrame
    figure: Figure
    files: dict[str, Path]


def reproduce(name: str, data: CTRData, *, seeds: int = 5, quick: bool = False, train: TrainConfig | None = None,
              out: str | Path | None = "ctrviz-out/reproduce", cache: str | Path | None = None,
              progress: bool = True, skip: Sequence[str] = (), overrides: dict | None = None) -> Reproduction:
    """Run spec ``name`` on ``data``, summarise, plot, write ``<out>/<name>-<data>[-quick][-no-LABEL].{csv,png}``.

    Args:
        name: a key of :data:`SPECS`.
        data: the dataset (``quick`` subsamples it).
        seeds: runs per grid point (ignored when ``quick``: one).
        train: training settings; default :func:`default_train`.
        out: folder for the CSV files (``…-runs.csv`` every run, ``….csv`` the summary) and the PNG, or ``None``
            to write nothing (``Reproduction.files`` is then empty).
        cache: :func:`~ctrviz.experiments.sweep`'s result cache folder, or ``None``.
        progress: a bar over the runs.
        skip: grid labels to leave out (e.g. ``["xdeepfm"]``, the slowest model of ``aoanet-table3`` on CPU);
            the file names then end in ``-no-<label>``.
        overrides: model config fields set in every run whose model has them (:func:`apply_overrides`), e.g.
            ``{"pair_order": "lemma"}``; the file names then end in ``-<key>=<value>``, and in
            ``-batch_size=N`` / ``-lr=X`` / ``-embedding_optimizer=NAME`` where ``train`` differs from
            :func:`default_train` there (:func:`file_stem`).

    Raises:
        ValueError: unknown spec, seeds < 1, ``out`` is a file, or a label to skip the spec does not have —
        before anything runs.
    """
    if name not in SPECS:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(SPECS)}")
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise ValueError(f"seeds must be an int >= 1, got {seeds!r}")
    out = None if out is None else Path(out)
    if out is not None and out.exists() and not out.is_dir():
        raise ValueError(f"out {out} exists and is not a folder; pass another path")
    spec = SPECS[name]
    grid = apply_overrides(spec.runs(seeds, quick, skip), overrides or {}, spec.name)
    if quick:
        data = subsample(data, QUICK_TRAIN_ROWS, QUICK_EVAL_ROWS)
    usual = default_train(data.name, quick, name)
    train = train or usual
    runs = sweep(grid, data, train, cache=cache, progress=progress)
    summary = summarize(runs, base=spec.base if spec.base not in skip else None)
    figure = plot_spec(spec, summary, data)
    if out is None:
        return Reproduction(spec, runs, summary, figure, {})
    stem = file_stem(name, data.name, quick=quick, skip=skip, overrides=overrides, train={
        k: getattr(train, k) for k in NAMED_TRAIN_FIELDS if getattr(train, k) != getattr(usual, k)})
    buf = io.BytesIO()
    figure.savefig(buf, format="png", dpi=110)
    files = {"runs": atomic_write_text(out / f"{stem}-runs.csv", runs.to_csv(index=False)),
             "summary": atomic_write_text(out / f"{stem}.csv", summary.to_csv(index=False)),
             "figure": atomic_write_bytes(out / f"{stem}.png", buf.getvalue())}
    return Reproduction(spec, runs, summary, figure, files)


# The training settings ``reproduce`` names in its files when they differ from the spec's, in this order.
NAMED_TRAIN_FIELDS = ("batch_size", "lr", "embedding_optimizer", "embedding_lr")


def file_stem(name: str, data: str, *, quick: bool = False, skip: Sequence[str] = (), overrides: dict | None = None,
              train: dict | None = None) -> str:
    """The name :func:`reproduce` gives its files (before ``.csv``, ``-runs.csv``, ``.png``): spec, data, ``-quick``,
    ``-no-<label>`` per skipped label, ``-<key>=<value>`` per override (sorted), then ``-batch_size=N`` / ``-lr=X`` /
    ``-embedding_optimizer=NAME`` / ``-embedding_lr=X`` for training settings other than the spec's (``train``);
    characters other than letters, digits and ``.+=-`` become ``_``.

    Example:
        >>> file_stem("can-presets", "movielens", skip=["can (item × history only)"], train={"batch_size": 128})
        'can-presets-movielens-no-can_item_history_only_-batch_size=128'
        >>> file_stem("can-table2", "movielens-seq", train={"batch_size": 128, "embedding_optimizer": "lazy_adam"})
        'can-table2-movielens-seq-batch_size=128-embedding_optimizer=lazy_adam'
    """
    clean = lambda text: re.sub(r"[^A-Za-z0-9.+=-]+", "_", text)   # noqa: E731
    number = lambda v: f"{v:g}" if isinstance(v, (int, float)) else str(v)   # noqa: E731
    return f"{name}-{data}{'-quick' if quick else ''}" + "".join(f"-no-{clean(label)}" for label in skip) + "".join(
        f"-{clean(f'{k}={v}')}" for k, v in sorted((overrides or {}).items())) + "".join(
        f"-{clean(f'{k}={number(v)}')}" for k, v in (train or {}).items())


def apply_overrides(runs: list[RunSpec], overrides: dict, name: str = "spec") -> list[RunSpec]:
    """``runs`` with ``overrides`` (model config fields) set in every run whose model's config has the field (a
    ``part.field`` key is matched by its field name); ``ValueError`` when no run's model has a key, or a value is
    impossible for a model (checked by building each config).

    Example:
        >>> runs = [RunSpec("gin", {}, 0), RunSpec("dnn", {}, 0)]
        >>> [r.config for r in apply_overrides(runs, {"pair_order": "lemma"})]
        [{'pair_order': 'lemma'}, {}]
    """
    from ctrviz.models import make_config

    out, used = [], set()
    for r in runs:
        names = config_fields(r.model)
        mine = {k: v for k, v in overrides.items() if k.split(".")[-1] in names}
        used |= set(mine)
        if mine:
            make_config(r.model, {**r.config, **mine})
        out.append(dataclasses.replace(r, config={**r.config, **mine}) if mine else r)
    if unused := sorted(set(overrides) - used):
        raise ValueError(f"{name}: no model of this experiment has the config field(s) {', '.join(unused)}")
    return out


def plot_spec(spec: Spec, summary: pd.DataFrame, data: CTRData) -> Figure:
    """The spec's figure from its summary: test AUC per model as dots ± std beside the oracle, CAN Fig. 5
    (parameters vs AUC), or one ablation panel per knob (:mod:`ctrviz.plots`).

    A one-panel figure carries "<paper> on <data>" as the first line of its own title, so no suptitle sits
    on top of it; the ablation panels share a suptitle that the constrained layout keeps clear of their
    titles. Error bars appear where the summary's ``n`` > 1.

    Args:
        spec: a value of :data:`SPECS`.
        summary: :func:`ctrviz.experiments.summarize` of the spec's runs.
        data: the dataset (its ``name``, and ``info["oracle_auc"]`` when known).

    Returns:
        the Figure.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")
        >>> from types import SimpleNamespace
        >>> s = pd.DataFrame({"model": ["dnn", "can"], "auc_mean": [0.80, 0.85], "auc_std": [0.01, 0.02], "n": 3})
        >>> fig = plot_spec(SPECS["can-table2"], s, SimpleNamespace(name="synthetic", info={"oracle_auc": 0.9}))
        >>> fig.axes[0].get_title(), fig.get_suptitle()
        ('CAN Table 2 on synthetic\\nTest AUC by model', '')
        >>> plt.close(fig)
    """
    from ctrviz import plots

    title = f"{spec.paper} on {data.name}"
    if spec.plot == "ablation":                       # one panel per ablation: their x values differ
        groups = list(dict.fromkeys(summary[spec.hue]))
        fig, axes = plt.subplots(1, len(groups), figsize=(max(6, 4 * len(groups)), 3.6), layout="constrained",
                                 squeeze=False)
        for ax, g in zip(axes[0], groups, strict=True):
            part = summary[summary[spec.hue] == g]
            models = list(dict.fromkeys(part["model"]))
            one_line = not part.duplicated(spec.x).any()    # one row per x (CAN Table 5): x names the points
            plots.plot_ablation(part, x=spec.x, hue=None if one_line else "model", ax=ax)
            ax.set_title(str(g) + (f" ({models[0]})" if len(models) == 1 else ""))
            ax.set_xlabel(str(g))
        if len(groups) == 1:                          # one panel: the spec in its own title, as below
            axes[0][0].set_title(f"{title}\n{axes[0][0].get_title()}")
        else:
            fig.suptitle(title)
        return fig
    if spec.plot == "params":
        fig = plots.plot_params_vs_auc(summary)
    else:
        fig = plots.plot_model_comparison(summary.rename(columns={"auc_mean": "auc"}), data.info.get("oracle_auc"))
    ax = fig.axes[0]
    ax.set_title(f"{title}\n{ax.get_title()}")
    return fig


def table_text(rep: Reproduction) -> str:
    """The summary as printed by ``ctrviz reproduce``."""
    shown = format_summary(rep.summary)
    keep = [c for c in shown.columns if c not in ("samples_per_s_mean",)]
    return shown[keep].to_string(index=False)
