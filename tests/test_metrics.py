"""ctrviz.metrics: hand-checkable AUC / logloss / GAUC values and every error path."""

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from ctrviz.metrics import auc, evaluate, gauc, logloss


def test_auc_by_hand():
    # positives 0.35, 0.8 vs negatives 0.1, 0.4: of 4 pairs, only (0.35 vs 0.4) is misordered -> 3/4
    assert auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert auc([0, 1], [0.3, 0.3]) == 0.5  # a tie counts one half


def test_logloss_by_hand():
    assert logloss([1, 0], [0.8, 0.2]) == pytest.approx(-math.log(0.8))
    assert logloss([1, 1, 0], [0.5, 0.5, 0.5]) == pytest.approx(math.log(2))


def test_gauc_by_hand():
    # user 7: positives 0.6, 0.1 vs negative 0.2 -> 1 of 2 pairs ordered -> AUC 0.5, 3 impressions
    # user 8: positive 0.9 vs negative 0.3 -> AUC 1.0, 2 impressions
    # user 9: only clicks -> skipped
    y = [0, 1, 1, 0, 1, 1, 1]
    p = [0.2, 0.6, 0.1, 0.3, 0.9, 0.5, 0.5]
    g = [7, 7, 7, 8, 8, 9, 9]
    assert gauc(y, p, g) == pytest.approx((3 * 0.5 + 2 * 1.0) / 5)


def test_gauc_matches_sklearn_per_user_with_ties():
    rng = np.random.default_rng(0)
    n = 3000
    g = rng.integers(0, 200, n)
    y = rng.integers(0, 2, n)
    p = np.round(rng.random(n), 1)  # many ties within users
    num = den = 0.0
    for u in np.unique(g):
        m = g == u
        if 0 < y[m].sum() < m.sum():
            num += m.sum() * roc_auc_score(y[m], p[m])
            den += m.sum()
    assert gauc(y, p, g) == pytest.approx(num / den, abs=1e-12)


def test_evaluate_keys_and_tensor_inputs():
    y = torch.tensor([0.0, 0.0, 1.0, 1.0])
    p = torch.tensor([0.1, 0.4, 0.35, 0.8])
    out = evaluate(y, p)
    assert set(out) == {"auc", "logloss"} and out["auc"] == pytest.approx(0.75)
    out = evaluate(y, p, torch.tensor([1, 1, 1, 1]))
    assert set(out) == {"auc", "logloss", "gauc"} and out["gauc"] == pytest.approx(0.75)
    assert all(isinstance(v, float) for v in out.values())


@pytest.mark.parametrize("fn, args, match", [
    (auc, ([0, 1, 1], [0.2, 0.3]), "differ in length"),
    (auc, ([0, 1], [0.2, float("nan")]), "NaN"),
    (logloss, ([0, 1], [-0.1, 0.5]), r"probabilities in \[0, 1\]"),
    (logloss, ([0, 1], [0.5, 1.5]), "sigmoid"),
    (auc, ([0, 2], [0.2, 0.3]), "labels must be 0 or 1"),
    (auc, ([1, 1, 1], [0.2, 0.3, 0.4]), "undefined when all 3 labels are 1"),
    (auc, ([], []), "empty"),
    (auc, ([[0, 1]], [[0.2, 0.3]]), "1-D"),
    (gauc, ([0, 1], [0.2, 0.3], [1, 2]), "none of the 2 groups"),
    (gauc, ([0, 1], [0.2, 0.3], [1]), "groups and labels differ"),
])
def test_errors(fn, args, match):
    with pytest.raises(ValueError, match=match):
        fn(*args)
