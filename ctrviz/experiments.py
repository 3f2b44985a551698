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
