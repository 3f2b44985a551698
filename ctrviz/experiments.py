"""Experiment runners: one model on one dataset → a flat result dict; many → DataFrames.

- :func:`run_model`: one model, one seed → a row (what ``ctrviz train`` and the demo call).
- :func:`sweep`: models × seeds × settings → one row per run, each cached on disk under a hash of
  its full config (model config, train config, data fingerprint), written atomically; an
  interrupted sweep resumes where it stopped, a changed config never reuses a stale result.
- :func:`summarize`: runs → mean ± std per model and setting, parameters relative to a base model —
  the papers' "mean ± std over 5 runs".

The papers' experiments as named specs (``ctrviz reproduce NAME``) live in :mod:`ctrviz.reproduce`; the
analysis of AOANet's α (``pair_importance``, ``kept_at_ratio``, ``planted_pair_ranks``) beside the model in
:mod:`ctrviz.models.aoanet`; ``subsample`` in :mod:`ctrviz.data.subsample`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from ctrviz.data.batch import CTRData
from ctrviz.models import count_parameters, create, get_spec, make_config, prepare_data
from ctrviz.train import TrainConfig, Trainer, TrainResult
from ctrviz.utils import atomic_torch_save, atomic_write_text, seed_everything


def run_model(model_name: str, data: CTRData, train: TrainConfig | None = None,
              model_config: object | dict | None = None, *,
              stage_cache: str | Path | None = None) -> tuple[dict, TrainResult]:
    """Seed, build ``model_name`` for ``data.schema``, train and test it.

    The model is built right after ``seed_everything(train.seed)``, so the same seed gives the same
    initial weights and — on CPU — bit-identical metrics. A model with a training ``stage`` (AOANet's
    selection) runs it first, with the same ``train`` config (checkpoints under ``<checkpoint_dir>/<stage>``),
    and its result columns join the row (``selection_auc``, ``kept_fraction``, …). ``resume`` continues whichever
    stage was interrupted: the earlier stage from its own checkpoint (a finished one is read back, not re-trained),
    the last stage from ``<checkpoint_dir>/last.pt``, or from its start when the run never reached it.

    ``stage_cache``: a folder where a stage's trained module is kept (``<key>.pt``, written atomically, read
    with ``weights_only=True``) and reused by any later run whose stage starts from the same module: same
    class, config and initial weights, same training config, same data. AOANet's selection GIN does not
    depend on the ratio, the ranking or the retrain mode, so a sweep over ratios trains it once per seed.
    The reused stage gives the same weights and metrics as training it again (training is deterministic
    on CPU); the row's ``seconds`` then leaves out its training (``selection_seconds`` keeps the original).

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
            path = None
            if stage_cache is not None:
                path = Path(stage_cache) / f"{_stage_key(module, name, train, data_fingerprint(prepared))}.pt"
                if path.is_file():
                    saved = torch.load(path, weights_only=True, map_location="cpu")
                    module.load_state_dict(saved["state"])
                    return dict(saved["metrics"])
            sub = None if train.checkpoint_dir is None else str(Path(train.checkpoint_dir) / name)
            res = Trainer(dataclasses.replace(train, checkpoint_dir=sub)).fit(module, prepared)
            metrics = {**{k: float(v) for k, v in res.test.items()}, "seconds": float(res.seconds)}
            if path is not None:
                state = {k: v.detach().cpu() for k, v in module.state_dict().items()}
                atomic_torch_save({"state": state, "metrics": metrics}, path)
            return metrics
        extra = stage(model, fit)
        if train.resume and not (Path(train.checkpoint_dir) / "last.pt").is_file():
            # interrupted in the earlier stage (resumed above from <checkpoint_dir>/<stage>): this stage starts now
            train = dataclasses.replace(train, resume=False)
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


# ---------------------------------------------------------------- sweeps with a result cache ----------------


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a model, its config overrides, a seed, and labels for the tables.

    Args:
        model: a registered model name.
        config: overrides of the model's config dataclass (``{}`` = its defaults).
        seed: the training seed (initial weights, dropout, shuffle order).
        setting: labels that become columns of the result, e.g. ``{"layers": 2}`` — they name the
            point of an ablation grid; they do not change the run (``config`` does).
        label: the model's name in tables, e.g. ``"can (small)"``; default ``model``.

    Example:
        >>> RunSpec("gin", {"layers": 3}, seed=1, setting={"layers": 3}).name
        'gin'
    """

    model: str
    config: Mapping[str, object] = field(default_factory=dict)
    seed: int = 0
    setting: Mapping[str, object] = field(default_factory=dict)
    label: str | None = None

    @property
    def name(self) -> str:
        return self.label or self.model


def data_fingerprint(data: CTRData) -> str:
    """sha256 over the schema and every tensor of every split: a changed dataset gets a new key.

    Example:
        >>> from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
        >>> a = make_synthetic(SyntheticConfig(n_rows=500, n_fields=6))
        >>> data_fingerprint(a) == data_fingerprint(make_synthetic(SyntheticConfig(n_rows=500, n_fields=6, seed=1)))
        False
    """
    h = hashlib.sha256(data.schema.to_json().encode())
    for split in ("train", "valid", "test"):
        b = getattr(data, split)
        for name, t in [("sparse", b.sparse), ("dense", b.dense), ("label", b.label),
                        *sorted((f"seq:{k}", v) for k, v in b.seqs.items())]:
            h.update(f"{split}/{name}/{tuple(t.shape)}/{t.dtype}".encode())
            h.update(t.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()


def run_key(spec: RunSpec, train: TrainConfig, fingerprint: str) -> str:
    """The cache key of a run: sha256 of the resolved model config, the train config (minus what only
    changes how it is shown or where it is written), the data fingerprint, the torch version and
    ``_CACHE_VERSION`` (bumped when ctrviz changes what a run computes)."""
    cfg = make_config(spec.model, dict(spec.config))
    tc = _train_fields(train)
    tc["seed"] = spec.seed
    text = json.dumps({"model": spec.model, "config": _model_fields(cfg), "train": tc, "data": fingerprint,
                       "version": _CACHE_VERSION, "torch": torch.__version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


_CACHE_VERSION = 1          # bump when a result row's meaning changes
# TrainConfig fields added since version 1, with their defaults: hashed only when set to something else, so
# the runs cached before a field existed (which ran with its default) keep their keys.
_ADDED_FIELDS = {"fused": False, "embedding_optimizer": "dense", "embedding_lr": None}


# Model-config fields added since version 1 (GIN's pair order, CAN's last-layer activation), likewise hashed only
# when they differ from the default every earlier run had.
_ADDED_MODEL_FIELDS = {"pair_order": "eq8", "micro_last_activation": True}


def _model_fields(cfg: object) -> dict | None:
    """``asdict(cfg)`` without the added fields left at their defaults (``None`` for a module without a config)."""
    if not dataclasses.is_dataclass(cfg):
        return None
    return {k: v for k, v in dataclasses.asdict(cfg).items()
            if not (k in _ADDED_MODEL_FIELDS and v == _ADDED_MODEL_FIELDS[k])}


def _train_fields(train: TrainConfig) -> dict:
    """The fields of ``train`` that change what a run computes (not how it is shown or where it is written)."""
    return {k: v for k, v in dataclasses.asdict(train).items() if k not in ("progress", "checkpoint_dir", "resume")
            and not (k in _ADDED_FIELDS and v == _ADDED_FIELDS[k])}


def _stage_key(module: nn.Module, stage: str, train: TrainConfig, fingerprint: str) -> str:
    """sha256 of a stage's starting point: its name, the module's class, config and initial weights, the
    training config, the data, the torch version and ``_CACHE_VERSION``."""
    cfg = getattr(module, "config", None)
    h = hashlib.sha256(json.dumps({
        "stage": stage, "module": type(module).__name__, "train": _train_fields(train), "data": fingerprint,
        "config": _model_fields(cfg),
        "version": _CACHE_VERSION, "torch": torch.__version__}, sort_keys=True, default=str).encode())
    for name, t in module.state_dict().items():
        h.update(f"{name}/{tuple(t.shape)}/{t.dtype}".encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:32]


def sweep(runs: Sequence[RunSpec], data: CTRData, train: TrainConfig | None = None, *,
          cache: str | Path | None = None, progress: bool = True) -> pd.DataFrame:
    """Run every :class:`RunSpec` on ``data`` → one row per run (:func:`run_model`'s row plus the setting columns).

    Args:
        runs: the grid; duplicates are run once.
        data: the dataset (the same for every run).
        train: the training config; each run's ``seed`` replaces ``train.seed``.
        cache: folder for one ``<key>.json`` per finished run (:func:`run_key`); ``None`` = no cache.
            A run whose file exists is read back instead of trained, so an interrupted sweep resumes
            where it stopped; files are written atomically, so a killed run leaves no half file. Trained
            stages go to ``<cache>/stages`` (:func:`run_model`'s ``stage_cache``): AOANet runs that differ
            only in ratio, ranking or retrain mode share one selection GIN per seed.
        progress: a tqdm bar over the runs (the trainer's own bars are switched off).

    Returns:
        DataFrame, one row per run in ``runs`` order: ``model`` (the label), ``seed``, the setting columns,
        ``auc, logloss, gauc, params, samples_per_s, seconds, best_epoch, epochs, cached`` and extra columns
        some models add (AOANet's ``selection_auc``, ``kept_fraction``).
    """
    train = train or TrainConfig()
    if not runs:
        raise ValueError("sweep: no runs given")
    for r in runs:
        if not isinstance(r, RunSpec):
            raise TypeError(f"sweep: runs must be RunSpec, got {type(r).__name__}")
        make_config(r.model, dict(r.config))            # unknown model / config field: fail before any training
    folder = Path(cache) if cache is not None else None
    fingerprint = data_fingerprint(data) if folder is not None else ""
    rows, done = [], {}
    bar = tqdm(runs, desc="runs", disable=not progress)
    for r in bar:
        bar.set_postfix_str(f"{r.name} seed {r.seed} {dict(r.setting) or ''}".strip())
        tc = dataclasses.replace(train, seed=r.seed, progress=False)
        key = run_key(r, tc, fingerprint) if folder is not None else None
        path = folder / f"{key}.json" if folder is not None else None
        if key in done:
            row = dict(done[key])
        elif path is not None and path.is_file():
            row = {**json.loads(path.read_text()), "cached": True}
        else:
            row, _ = run_model(r.model, data, tc, dict(r.config),
                               stage_cache=folder / "stages" if folder is not None else None)
            if path is not None:
                atomic_write_text(path, json.dumps(row, sort_keys=True))
            row["cached"] = False
        if key is not None:
            done[key] = row
        rows.append({**row, "model": r.name, "seed": r.seed, **dict(r.setting)})
    front = ["model", "seed", *dict.fromkeys(k for r in runs for k in r.setting)]
    table = pd.DataFrame(rows)
    return table[front + [c for c in table.columns if c not in front]]


def summarize(runs: pd.DataFrame, by: Sequence[str] | None = None, base: str | None = None) -> pd.DataFrame:
    """Mean ± std over seeds of each model × setting, as the papers report.

    Args:
        runs: :func:`sweep`'s table.
        by: grouping columns; default ``model`` plus every setting column (those between ``seed`` and
            ``data``/``auc``, as :func:`sweep` orders them).
        base: a model whose (mean) parameter count is 1.0x in ``params_rel``; ``None``: no such column.

    Returns:
        one row per group, in first-seen order: the group columns, ``auc_mean, auc_std, logloss_mean,
        logloss_std, params, seconds_mean, samples_per_s_mean, n`` (runs), ``params_rel`` with a base, and
        ``selection_auc_mean``/``_std`` when the runs have them (AOANet's GIN stage).

    Example:
        >>> runs = pd.DataFrame({"model": ["a", "a", "b"], "seed": [0, 1, 0], "auc": [0.7, 0.8, 0.9],
        ...                      "logloss": [0.5, 0.4, 0.3], "params": [10, 10, 30], "seconds": [1., 1., 2.],
        ...                      "samples_per_s": [5., 5., 4.]})
        >>> summarize(runs, base="a")[["model", "auc_mean", "n", "params_rel"]].round(3).values.tolist()
        [['a', 0.75, 2, 1.0], ['b', 0.9, 1, 3.0]]
    """
    need = {"model", "auc", "logloss", "params", "seconds", "samples_per_s"}
    missing = sorted(need - set(runs.columns))
    if missing:
        raise ValueError(f"summarize: runs lack columns {missing}")
    if by is None:                                      # sweep's order: model, seed, settings…, data, auc, …
        cols = list(runs.columns)
        start = cols.index("seed") + 1 if "seed" in cols else 1
        stop = min(cols.index(c) for c in ("data", "auc") if c in cols)
        by = ["model", *cols[start:stop]]
    by = list(by)
    aggs = {"auc_mean": ("auc", "mean"), "auc_std": ("auc", "std"), "logloss_mean": ("logloss", "mean"),
            "logloss_std": ("logloss", "std"), "params": ("params", "mean"), "seconds_mean": ("seconds", "mean"),
            "samples_per_s_mean": ("samples_per_s", "mean"), "n": ("auc", "size")}
    if "selection_auc" in runs.columns:
        aggs.update(selection_auc_mean=("selection_auc", "mean"), selection_auc_std=("selection_auc", "std"))
    out = runs.groupby(by, sort=False, dropna=False).agg(**aggs).reset_index()
    out["params"] = out["params"].round().astype("int64")
    for c in ("auc_std", "logloss_std"):
        out[c] = out[c].fillna(0.0)                      # one seed: no spread
    if base is not None:
        hit = out.loc[out.model == base, "params"]
        if hit.empty:
            raise ValueError(f"summarize: base model {base!r} is not among {sorted(out.model.unique())}")
        out["params_rel"] = out["params"] / float(hit.iloc[0])
    return out


def format_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """:func:`summarize`'s table with ``auc`` / ``logloss`` as ``"0.7771 ± 0.0084"`` strings and ``1.0x``
    parameter multiples — for printing."""
    out = summary.copy()
    for m in ("auc", "logloss", "selection_auc"):
        if f"{m}_mean" in out:
            out[m] = ["-" if pd.isna(a) else f"{a:.4f} ± {0.0 if pd.isna(b) else b:.4f}"
                      for a, b in zip(out[f"{m}_mean"], out[f"{m}_std"], strict=True)]
            out = out.drop(columns=[f"{m}_mean", f"{m}_std"])
    if "params_rel" in out:
        out["params_rel"] = [f"{v:.1f}x" for v in out["params_rel"]]
    out["seconds_mean"] = out["seconds_mean"].round(1)
    out["samples_per_s_mean"] = out["samples_per_s_mean"].round(0).astype("int64")
    return out
