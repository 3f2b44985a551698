"""Experiment runners: one model on one dataset → a flat result dict; several → a DataFrame.

Issue 5 grows this into multi-seed sweeps with a result cache; the single-run function here is what
the CLI (`ctrviz train`) and the demo call.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from torch import nn

from ctrviz.data.batch import CTRData
from ctrviz.models import count_parameters, create, get_spec, prepare_data
from ctrviz.train import TrainConfig, Trainer, TrainResult
from ctrviz.utils import seed_everything


def run_model(model_name: str, data: CTRData, train: TrainConfig | None = None,
              model_config: object | dict | None = None) -> tuple[dict, TrainResult]:
    """Seed, build ``model_name`` for ``data.schema``, train and test it.

    The model is built right after ``seed_everything(train.seed)``, so the same seed gives the same
    initial weights and — on CPU — bit-identical metrics. A model with a training ``stage`` (AOANet's
    selection) runs it first, with the same ``train`` config (checkpoints under ``<checkpoint_dir>/<stage>``),
    and its result columns join the row (``selection_auc``, ``kept_fraction``, …).

    Returns:
        a flat dict (model, data, auc, logloss, gauc, params, samples_per_s, seconds — the whole run,
        stages included —, best_epoch, epochs, device, seed, and oracle_auc / oracle_logloss for synthetic
        data) and the full :class:`~ctrviz.train.TrainResult` (history DataFrame and trained model included).
    """
    train = train or TrainConfig()
    start = time.perf_counter()
    prepared = prepare_data(model_name, data, model_config)   # e.g. Cartesian pair ids, fitted on train
    seed_everything(train.seed)
    model = create(model_name, prepared.schema, model_config)
    extra = {}
    stage = get_spec(model_name).stage
    if stage is not None:                                       # e.g. AOANet's selection stage
        def fit(module: nn.Module, name: str) -> dict[str, float]:
            sub = None if train.checkpoint_dir is None else str(Path(train.checkpoint_dir) / name)
            res = Trainer(dataclasses.replace(train, checkpoint_dir=sub)).fit(module, prepared)
            return {**{k: float(v) for k, v in res.test.items()}, "seconds": float(res.seconds)}
        extra = stage(model, fit)
    result = Trainer(train).fit(model, prepared)
    row = {
        "model": model_name,
        "data": data.name,
        **{k: float(v) for k, v in result.test.items()},
        "params": count_parameters(model),
        "samples_per_s": float(result.history["samples_per_s"].mean()),
        "seconds": time.perf_counter() - start,
        "best_epoch": int(result.best_epoch),
        "epochs": int(len(result.history)),
        "device": str(result.device),
        "seed": train.seed,
        **extra,
    }
    for key in ("oracle_auc", "oracle_logloss"):
        if key in data.info:
            row[key] = float(data.info[key])
    return row, result


def compare_models(model_names: Sequence[str], data: CTRData, train: TrainConfig | None = None
                   ) -> tuple[pd.DataFrame, dict[str, TrainResult]]:
    """Run :func:`run_model` for each name → (one row per model as a DataFrame, results by name)."""
    rows, results = [], {}
    for name in model_names:
        row, results[name] = run_model(name, data, train)
        rows.append(row)
    return pd.DataFrame(rows), results


def pair_importance(interactions: pd.DataFrame, layer: int = 1) -> pd.DataFrame:
    """Rank the unordered field pairs of a GIN/AOANet layer by Σ |α| over subspaces and both orders.

    Args:
        interactions: :meth:`ctrviz.models.gin.GIN.interactions` or ``AOANet.selection`` (columns layer,
            subspace, left, right, alpha, kept).
        layer: which layer (1 = field × field).

    Returns:
        one row per unordered pair {a, b} (a = b included when the pairing has it): a, b, importance
        (Σ_s |α_s,ab| + |α_s,ba|), kept (any subspace/order kept), rank (1 = largest), sorted by rank.

    Example:
        >>> t = pd.DataFrame({"layer": 1, "subspace": 0, "left": ["x", "y", "x"], "right": ["y", "x", "x"],
        ...                   "alpha": [0.5, -2.0, 1.0], "kept": [False, True, False]})
        >>> pair_importance(t)[["a", "b", "importance", "rank"]].values.tolist()
        [['x', 'y', 2.5, 1], ['x', 'x', 1.0, 2]]
    """
    t = interactions[interactions.layer == layer]
    a = [min(u, v) for u, v in zip(t.left, t.right, strict=True)]
    b = [max(u, v) for u, v in zip(t.left, t.right, strict=True)]
    out = (t.assign(a=a, b=b, importance=t.alpha.abs())
           .groupby(["a", "b"], as_index=False).agg(importance=("importance", "sum"), kept=("kept", "any"))
           .sort_values(["importance", "a", "b"], ascending=[False, True, True], ignore_index=True))
    out["rank"] = range(1, len(out) + 1)
    return out


def planted_pair_ranks(interactions: pd.DataFrame, planted: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Where the synthetic data's planted pairs land in :func:`pair_importance` (layer 1).

    Returns:
        one row per planted pair: a, b, rank (1 = top |α|), of (number of pairs), importance, kept.
    """
    ranked = pair_importance(interactions)
    rows = []
    for u, v in planted:
        hit = ranked[(ranked.a == min(u, v)) & (ranked.b == max(u, v))]
        if hit.empty:
            raise ValueError(f"planted pair ({u!r}, {v!r}) is not among the layer-1 interactions")
        rows.append({"a": min(u, v), "b": max(u, v), "rank": int(hit["rank"].iloc[0]), "of": len(ranked),
                     "importance": float(hit.importance.iloc[0]), "kept": bool(hit.kept.iloc[0])})
    return pd.DataFrame(rows)
