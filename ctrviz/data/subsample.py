"""Random subsets of a dataset's splits, for quick runs (``ctrviz reproduce --quick``, the notebooks' quick mode).

:func:`subsample` keeps at most ``n_train`` training and ``n_eval`` valid/test rows, drawn at random with a
seed; per-split arrays in ``CTRData.info`` keep the same rows, and the synthetic data's oracle metrics are
recomputed on the kept test rows.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from sklearn.metrics import log_loss, roc_auc_score

from ctrviz.data.batch import CTRData


def subsample(data: CTRData, n_train: int, n_eval: int, seed: int = 0) -> CTRData:
    """At most ``n_train`` training and ``n_eval`` valid/test rows, drawn at random (seeded): quick runs.

    Per-split arrays in ``info`` (synthetic data's ``prob``, ``logit_parts``) keep the same rows, and the
    oracle metrics are recomputed on the kept test rows.

    Example:
        >>> from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
        >>> small = subsample(make_synthetic(SyntheticConfig(n_rows=1000, n_fields=6)), 100, 20)
        >>> len(small.train), len(small.valid), len(small.test), len(small.info["prob"]["test"])
        (100, 20, 20, 20)
    """
    g = torch.Generator().manual_seed(seed)
    cut, rows = {}, {}
    for split, n in (("train", n_train), ("valid", n_eval), ("test", n_eval)):
        b = getattr(data, split)
        rows[split] = torch.arange(len(b)) if len(b) <= n else torch.randperm(len(b), generator=g)[:n].sort().values
        cut[split] = b if len(b) <= n else b[rows[split].to(b.device)]
    info = {k: _cut_per_split(v, rows) for k, v in data.info.items() if not k.startswith("oracle")}
    if "prob" in info:                                   # synthetic data: the oracle of the kept test rows
        y, p = cut["test"].label.cpu().numpy(), info["prob"]["test"]
        info["oracle_auc"] = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan")
        info["oracle_logloss"] = float(log_loss(y, p, labels=[0, 1]))
    return CTRData(data.name, data.schema, cut["train"], cut["valid"], cut["test"],
                   {**info, "subsample": {s: len(b) for s, b in cut.items()}})


def _cut_per_split(value: object, rows: Mapping[str, torch.Tensor]) -> object:
    """``info`` values held per split (``{"train": array, …}``, nested) keep the subsampled rows only."""
    if isinstance(value, Mapping) and set(value) == set(rows):
        return {s: _take(v, rows[s]) for s, v in value.items()}
    return value


def _take(value: object, idx: torch.Tensor) -> object:
    if isinstance(value, Mapping):
        return {k: _take(v, idx) for k, v in value.items()}
    return value[idx.numpy()] if hasattr(value, "__getitem__") and hasattr(value, "shape") else value
