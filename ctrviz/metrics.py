"""Ranking and calibration metrics for CTR models: AUC, logloss and GAUC.

AUC and logloss come from scikit-learn (``roc_auc_score``, ``log_loss``). GAUC is the
impression-weighted mean of per-user AUCs used by DIN and CAN (CAN Sec. 5.1):

    GAUC = Σ_u n_u · AUC_u / Σ_u n_u,

where ``n_u`` is user ``u``'s number of impressions and users whose labels are all one class are
skipped (their AUC is undefined). Per-user AUCs are computed for all users at once with pandas: the
Mann–Whitney form ``AUC_u = (Σ ranks of u's positives − P_u(P_u+1)/2) / (P_u·N_u)`` with average ranks
for ties, which is exactly what ``roc_auc_score`` returns for each user (the tests check this).

Every function accepts NumPy arrays, lists or torch tensors (any device) and raises ``ValueError``
with the reason for mismatched lengths, NaN predictions, probabilities outside [0, 1], labels other
than 0/1, or a single label class.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score

__all__ = ["auc", "logloss", "gauc", "evaluate"]


def _np(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, possibly on a GPU or in bf16
        x = x.detach().float().cpu().numpy() if x.is_floating_point() else x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    return a


def _check(y: Any, p: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated (labels as int8, probabilities as float64)."""
    y, p = _np(y, "labels"), _np(p, "predictions")
    if len(y) != len(p):
        raise ValueError(f"labels and predictions differ in length: {len(y)} vs {len(p)}")
    if len(y) == 0:
        raise ValueError("labels and predictions are empty")
    p = p.astype(np.float64)
    if np.isnan(p).any():
        raise ValueError(f"predictions contain {int(np.isnan(p).sum())} NaN values (did training diverge?)")
    if p.min() < 0 or p.max() > 1:
        raise ValueError(f"predictions must be probabilities in [0, 1], got range [{p.min():g}, {p.max():g}]; "
                         "pass sigmoid(logits), not logits")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        raise ValueError(f"labels must be 0 or 1, got {np.unique(y[bad])[:5].tolist()}")
    return y.astype(np.int8), p


def auc(y: Any, p: Any) -> float:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``).

    Args:
        y: (N,) labels in {0, 1}.
        p: (N,) predicted click probabilities (any monotone score works too, but must lie in [0, 1]).

    Example:
        >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    y, p = _check(y, p)
    if y.min() == y.max():
        raise ValueError(f"auc is undefined when all {len(y)} labels are {int(y[0])}; need both clicks and non-clicks")
    return float(roc_auc_score(y, p))


def logloss(y: Any, p: Any) -> float:
    """Mean binary cross-entropy in nats (``sklearn.metrics.log_loss``; p is clipped to float eps).

    Example:
        >>> round(logloss([1, 0], [0.8, 0.2]), 4)  # -ln 0.8
        0.2231
    """
    y, p = _check(y, p)
    return float(log_loss(y, p, labels=[0, 1]))


def gauc(y: Any, p: Any, groups: Any) -> float:
    """Group AUC: per-user AUC weighted by the user's impressions; single-class users skipped.

    Args:
        y: (N,) labels in {0, 1}.
        p: (N,) predicted probabilities.
        groups: (N,) user ids (any hashable values).

    Example:
        >>> # user 7: AUC 0.5 over 3 rows; user 8: AUC 1.0 over 2 rows; user 9: all clicks, skipped
        >>> gauc([0, 1, 1, 0, 1, 1, 1], [.2, .6, .1, .3, .9, .5, .5], [7, 7, 7, 8, 8, 9, 9])
        0.7
    """
    y, p = _check(y, p)
    g = _np(groups, "groups")
    if len(g) != len(y):
        raise ValueError(f"groups and labels differ in length: {len(g)} vs {len(y)}")
    df = pd.DataFrame({"g": g, "y": y, "p": p})
    df["r"] = df.groupby("g", sort=False)["p"].rank(method="average")  # rank of p within the user
    df["ry"] = df["r"] * df["y"]
    s = df.groupby("g", sort=False).agg(n=("y", "size"), pos=("y", "sum"), rsum=("ry", "sum"))
    s = s[(s["pos"] > 0) & (s["pos"] < s["n"])]
    if s.empty:
        raise ValueError(f"gauc is undefined: none of the {df['g'].nunique()} groups has both clicks and non-clicks")
    pos, neg = s["pos"].to_numpy(np.float64), (s["n"] - s["pos"]).to_numpy(np.float64)
    per_user = (s["rsum"].to_numpy() - pos * (pos + 1) / 2) / (pos * neg)
    return float(np.average(per_user, weights=s["n"].to_numpy(np.float64)))


def evaluate(y: Any, p: Any, groups: Any | None = None) -> dict[str, float]:
    """``{"auc", "logloss"}`` plus ``"gauc"`` when ``groups`` (user ids) are given.

    Example:
        >>> evaluate([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])["auc"]
        0.75
    """
    out = {"auc": auc(y, p), "logloss": logloss(y, p)}
    if groups is not None:
        out["gauc"] = gauc(y, p, groups)
    return out
