"""Figures from result DataFrames (seaborn/matplotlib). Every function returns the figure.

Nothing here reads model internals: plots take the DataFrames that ``experiments`` and ``train``
return (and, later, the documented interpretation outputs of the models).
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure


def plot_model_comparison(results: pd.DataFrame, oracle_auc: float | None = None, metric: str = "auc",
                          ax: plt.Axes | None = None) -> Figure:
    """Bar chart of each model's test ``metric``, with the oracle (Bayes) AUC as a dashed line.

    Args:
        results: one row per model with columns ``model`` and ``metric``.
        oracle_auc: the best achievable AUC, when known (synthetic data).
    """
    for col in ("model", metric):
        if col not in results.columns:
            raise ValueError(f"plot_model_comparison: results lack column {col!r}; have {list(results.columns)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    sns.barplot(data=results, x="model", y=metric, hue="model", ax=ax, palette="deep", legend=False)
    lo = float(results[metric].min())
    if oracle_auc is not None:
        ax.axhline(oracle_auc, ls="--", color="black", lw=1.2, label=f"oracle {oracle_auc:.4f}")
        ax.legend(loc="upper left")
        lo = min(lo, oracle_auc)
    hi = max(float(results[metric].max()), oracle_auc or 0.0)
    ax.set_ylim(max(0.0, lo - 0.1 * (hi - lo + 0.05)), hi + 0.05 * (hi - lo + 0.05))
    for patch, value in zip(ax.patches, results[metric], strict=False):
        ax.annotate(f"{value:.4f}", (patch.get_x() + patch.get_width() / 2, patch.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.set_xlabel("model")
    if len(results) > 5:                                       # long names side by side would overlap
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right", rotation_mode="anchor")
    ax.set_ylabel(f"test {metric.upper()}")
    ax.set_title(f"Test {metric.upper()} by model")
    return ax.figure


def plot_training_curves(histories: Mapping[str, pd.DataFrame], metric: str = "valid_auc",
                         ax: plt.Axes | None = None) -> Figure:
    """One line per model: ``metric`` per epoch from each trainer history DataFrame."""
    frames = []
    for name, hist in histories.items():
        if metric not in hist.columns or "epoch" not in hist.columns:
            raise ValueError(f"plot_training_curves: history of {name!r} lacks 'epoch' or {metric!r}")
        frames.append(hist[["epoch", metric]].assign(model=name))
    if not frames:
        raise ValueError("plot_training_curves: no histories given")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    sns.lineplot(data=pd.concat(frames, ignore_index=True), x="epoch", y=metric, hue="model", marker="o", ax=ax)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric.replace("valid_", "validation ").replace("auc", "AUC").replace("_", " "))
    ax.set_title("Validation curves")
    return ax.figure


def plot_demo(results: pd.DataFrame, histories: Mapping[str, pd.DataFrame], oracle_auc: float | None) -> Figure:
    """The demo's figure: test AUC by model beside the oracle (left), validation AUC per epoch (right)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    plot_model_comparison(results, oracle_auc, ax=left)
    plot_training_curves(histories, ax=right)
    return fig
