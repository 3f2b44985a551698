"""Figures: what they draw (bars, oracle line, one curve per model) and their errors."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from ctrviz.plots import plot_demo, plot_model_comparison, plot_training_curves

RESULTS = pd.DataFrame({"model": ["lr", "dnn"], "auc": [0.70, 0.80]})
HISTORIES = {"lr": pd.DataFrame({"epoch": [1, 2], "valid_auc": [0.6, 0.7]}),
             "dnn": pd.DataFrame({"epoch": [1, 2, 3], "valid_auc": [0.6, 0.75, 0.8]})}


def test_model_comparison_draws_one_bar_per_model_and_the_oracle():
    fig = plot_model_comparison(RESULTS, oracle_auc=0.9)
    ax = fig.axes[0]
    assert [round(p.get_height(), 2) for p in ax.patches] == [0.70, 0.80]
    assert [line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == "--"] == [0.9]
    assert ax.get_ylim()[1] > 0.9 and ax.get_ylabel() == "test AUC"
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
