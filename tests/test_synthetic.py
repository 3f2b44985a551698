"""Tests of the synthetic generator: layout, the planted truth, the oracle and config errors."""

from __future__ import annotations

from dataclasses import asdict, replace

import numpy as np
import pytest
import torch
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.preprocessing import OneHotEncoder

from ctrviz.data.schema import Pair
from ctrviz.data.synthetic import SyntheticConfig, make_synthetic

SMALL = SyntheticConfig(n_rows=5000, vocab_size=30, n_users=200, n_items=60, n_categories=6, seq_len=8, seed=3)
SPLITS = ("train", "valid", "test")


@pytest.fixture(scope="module")
def data():
    return make_synthetic(SMALL)


def _all(data, get):
    """Concatenate ``get(batch)`` over the three splits (numpy)."""
    return np.concatenate([np.asarray(get(getattr(data, s))) for s in SPLITS])


def _tensors(d):
    return [getattr(d, s).sparse for s in SPLITS] + [getattr(d, s).label for s in SPLITS] + [
        getattr(d, s).seqs[k] for s in SPLITS for k in ("hist_item", "hist_cat")]


def test_same_seed_same_data_other_seed_differs(data):
    again = make_synthetic(SMALL)
    assert all(torch.equal(a, b) for a, b in zip(_tensors(data), _tensors(again), strict=True))
    assert np.array_equal(data.info["prob"]["test"], again.info["prob"]["test"])
    other = make_synthetic(replace(SMALL, seed=4))
    assert not torch.equal(data.train.sparse, other.train.sparse)
    assert not torch.equal(data.train.label, other.train.label)


def test_schema_and_shapes(data):
    s = data.schema
    assert s.sparse_names == ("user", "item", "category", "f00", "f01", *(f"f{k:02d}" for k in range(2, 20)))
    assert s.seq_names == ("hist_item", "hist_cat")
    planted = tuple(Pair(a, b) for a, b in data.info["planted_pairs"])
    assert s.pairs == (Pair("item", "hist_item"), Pair("category", "hist_cat"), *planted)
    assert s.user_field == "user"
    assert s.vocab_sizes == {"user": 202, "item": 62, "category": 8, **{f"f{k:02d}": 32 for k in range(20)}}
    assert [len(getattr(data, k)) for k in SPLITS] == [4000, 500, 500]
    for k in SPLITS:
        b = getattr(data, k)
        assert b.dense.shape == (len(b), 0) and b.dense.dtype == torch.float32
        assert b.seqs["hist_item"].shape == (len(b), 8)
        assert torch.equal(b.group, b.sparse[:, 0])
        assert int(b.sparse.min()) >= 2          # OOV (1) and padding (0) never appear in sparse fields
    assert data.info["config"] == asdict(SMALL)
    assert SyntheticConfig(n_fields=120).field_names[-1] == "f119"


def test_history_is_left_aligned_and_matches_categories(data):
    hist = _all(data, lambda b: b.seqs["hist_item"])
    cats = _all(data, lambda b: b.seqs["hist_cat"])
    real = hist > 0
    assert not (real[:, 1:] & ~real[:, :-1]).any()          # no real id after a padding slot
    assert np.array_equal(real, cats > 0)
    lengths = real.sum(1)
    assert lengths.min() == 0 and lengths.max() == 8 and len(np.unique(lengths)) == 9
    item_cat = data.info["item_category"]
    assert np.array_equal(cats, item_cat[hist])             # item_category[0] = 0 keeps padding at 0
    sparse = _all(data, lambda b: b.sparse)
    assert np.array_equal(sparse[:, 2], item_cat[sparse[:, 1]])
    # histories come mostly (90% + chance) from each user's 3 preferred categories
    per_user = np.zeros((202, 8))
    np.add.at(per_user, (np.repeat(sparse[:, 0], 8), cats.ravel()), real.ravel())
    top3 = np.sort(per_user[:, 2:], axis=1)[:, -3:].sum()
    assert top3 / per_user.sum() > 0.9


def test_logit_parts_rebuild_the_probability(data):
    parts = {k: np.concatenate([data.info["logit_parts"][s][k] for s in SPLITS]) for k in ("main", "pairs",
                                                                                              "coaction")}
    prob = np.concatenate([data.info["prob"][s] for s in SPLITS])
    np.testing.assert_allclose(expit(data.info["intercept"] + sum(parts.values())), prob, rtol=1e-12)
    assert prob.mean() == pytest.approx(SMALL.base_rate, abs=1e-6)       # the intercept is solved for it
    co = parts["coaction"]
    assert parts["coaction"].std() == pytest.approx(SMALL.coaction_strength, rel=1e-9)
    hist = _all(data, lambda b: b.seqs["hist_item"])
    target = _all(data, lambda b: b.sparse[:, 1])
    u = data.info["item_vectors"]
    raw = (np.exp(SMALL.coaction_sharpness * (np.einsum("nd,ntd->nt", u[target], u[hist]) - 1)) * (hist > 0)).sum(1)
    empty = raw == 0
    assert empty.any() and (co[empty] == 0).all()
    np.testing.assert_allclose(co[~empty] / raw[~empty], co[~empty][0] / raw[~empty][0], rtol=1e-9)
    # co-action rewards history items of the target's category
    same = (_all(data, lambda b: b.seqs["hist_cat"]) == _all(data, lambda b: b.sparse[:, 2:3])).sum(1)
    assert co[same >= 3].mean() > co[(same == 0) & ~empty].mean() + 1.0


def test_planted_pairs_are_pure_interactions():
    cfg = SyntheticConfig(n_rows=40_000, n_fields=8, vocab_size=10, n_planted_pairs=2, pair_strength=1.5,
                          n_items=40, n_categories=4, seq_len=4, seed=1)
    d = make_synthetic(cfg)
    planted = d.info["planted_pairs"]
    assert len(planted) == 2 and planted == sorted(planted)
    assert len({f for pair in planted for f in pair}) == 4                         # disjoint
    names = list(d.schema.sparse_names)
    sparse = _all(d, lambda b: b.sparse)
    p = np.arange(1, 11) ** -cfg.zipf
    p /= p.sum()
    total = np.zeros(len(sparse))
    for a, b in planted:
        table = d.info["pair_tables"][(a, b)]
        assert table.shape == (12, 12) and not table[:2].any() and not table[:, :2].any()
        np.testing.assert_allclose(p @ table[2:, 2:], 0, atol=1e-12)                # E[effect | b] = 0
        np.testing.assert_allclose(table[2:, 2:] @ p, 0, atol=1e-12)                # E[effect | a] = 0
        assert np.sqrt(p @ table[2:, 2:] ** 2 @ p) == pytest.approx(1.5)
        ia, ib = sparse[:, names.index(a)], sparse[:, names.index(b)]
        effect = table[ia, ib]
        total += effect
        assert effect.var() == pytest.approx(1.5**2, rel=0.1)
        for ids in (ia, ib):                       # empirical: the field alone explains ~none of it
            cnt = np.bincount(ids)
            cond = np.bincount(ids, effect) / np.maximum(cnt, 1)
            assert (cnt * cond**2).sum() / (effect**2).sum() < 0.01
    np.testing.assert_allclose(total, np.concatenate([d.info["logit_parts"][s]["pairs"] for s in SPLITS]))


def test_planted_triples_are_pure_third_order_interactions():
    cfg = SyntheticConfig(n_rows=40_000, n_fields=9, vocab_size=6, n_planted_pairs=1, n_planted_triples=2,
                          triple_strength=1.2, n_items=40, n_categories=4, seq_len=4, seed=2)
    d = make_synthetic(cfg)
    triples, pairs = d.info["planted_triples"], d.info["planted_pairs"]
    fields = [f for t in triples for f in t]
    assert len(triples) == 2 and triples == sorted(triples) and all(list(t) == sorted(t) for t in triples)
    assert len(set(fields)) == 6 and not set(fields) & {f for pr in pairs for f in pr}   # disjoint from each other
    p = np.arange(1, 7) ** -cfg.zipf
    p /= p.sum()
    names, sparse = list(d.schema.sparse_names), _all(d, lambda b: b.sparse)
    total = np.zeros(len(sparse))
    for t in triples:
        table = d.info["triple_tables"][t]
        assert table.shape == (8, 8, 8) and not table[:2].any() and not table[:, :2].any() and not table[..., :2].any()
        core = table[2:, 2:, 2:]
        for axis in range(3):                      # averaging out any one field leaves 0: no pairwise part
            np.testing.assert_allclose(np.tensordot(p, np.moveaxis(core, axis, 0), axes=1), 0, atol=1e-12)
        assert np.sqrt(np.einsum("i,j,k,ijk->", p, p, p, core**2)) == pytest.approx(1.2)
        ia, ib, ic = (sparse[:, names.index(f)] for f in t)
        effect = table[ia, ib, ic]
        total += effect
        for x, y in ((ia, ib), (ia, ic), (ib, ic)):   # empirical: a pair of its fields explains ~none of it
            key = x * 8 + y
            cnt, cond = np.bincount(key), np.bincount(key, effect) / np.maximum(np.bincount(key), 1)
            assert (cnt * cond**2).sum() / (effect**2).sum() < 0.02
    np.testing.assert_allclose(total, np.concatenate([d.info["logit_parts"][s]["triples"] for s in SPLITS]))
    parts = sum(np.concatenate([d.info["logit_parts"][s][k] for s in SPLITS]) for k in d.info["logit_parts"]["train"])
    prob = np.concatenate([d.info["prob"][s] for s in SPLITS])
    np.testing.assert_allclose(expit(d.info["intercept"] + parts), prob, rtol=1e-12)


def test_no_triples_leaves_the_data_unchanged():
    a = make_synthetic(SyntheticConfig(n_rows=3000, seed=4))
    b = make_synthetic(SyntheticConfig(n_rows=3000, seed=4, n_planted_triples=1))
    assert torch.equal(a.train.sparse, b.train.sparse) and a.info["planted_pairs"] == b.info["planted_pairs"]
    assert not (a.info["prob"]["train"] == b.info["prob"]["train"]).all()   # only the clicks' model changed
    assert "triples" not in a.info["logit_parts"]["train"] and a.info["planted_triples"] == []


def test_oracle_scores(data):
    y, prob = data.test.label.numpy(), data.info["prob"]["test"]
    assert data.info["oracle_auc"] == pytest.approx(roc_auc_score(y, prob), abs=1e-12)
    assert data.info["oracle_logloss"] == pytest.approx(log_loss(y, prob), abs=1e-12)
    assert data.info["oracle_auc"] > 0.75
    y_all = _all(data, lambda b: b.label)
    p_all = np.concatenate([data.info["prob"][s] for s in SPLITS])
    assert abs(y_all.mean() - p_all.mean()) < 4 * np.sqrt((p_all * (1 - p_all)).sum()) / len(p_all)


def test_crossed_feature_beats_separate_fields():
    cfg = SyntheticConfig(n_rows=6000, n_fields=2, vocab_size=6, zipf=0.0, n_planted_pairs=1, pair_strength=1.0,
                          main_strength=0.0, coaction_strength=0.0, n_items=20, n_categories=4, seq_len=2, seed=2)
    d = make_synthetic(cfg)
    assert d.info["planted_pairs"] == [("f00", "f01")]

    def auc(cols):
        x_tr, x_te = (getattr(d, s).sparse[:, 3:].numpy() for s in ("train", "test"))
        enc = OneHotEncoder(handle_unknown="ignore").fit(cols(x_tr))
        lr = LogisticRegression(max_iter=1000).fit(enc.transform(cols(x_tr)), d.train.label.numpy())
        return roc_auc_score(d.test.label.numpy(), lr.decision_function(enc.transform(cols(x_te))))

    separate = auc(lambda x: x)
    crossed = auc(lambda x: (x[:, 0] * 100 + x[:, 1])[:, None])
    # pure in logit space; the sigmoid still lets each field alone carry a little signal
    assert separate < 0.62 and crossed > separate + 0.1
    assert crossed > d.info["oracle_auc"] - 0.03           # the crossed feature is (about) all there is


@pytest.mark.parametrize("kwargs, match", [
    ({"n_planted_pairs": 11}, "n_planted_pairs must be <= n_fields // 2 = 10"),
    ({"n_fields": 4, "n_planted_pairs": 3}, "n_planted_pairs"),
    ({"n_planted_triples": 5}, r"n_planted_triples must be <= \(n_fields - 2 \* n_planted_pairs\) // 3 = 4"),
    ({"n_rows": -5}, "n_rows must be >= 100"),
    ({"n_items": -1}, "n_items must be >= 1"),
    ({"seq_len": 0}, "seq_len must be >= 1"),
    ({"vocab_size": 1}, "vocab_size must be >= 2"),
    ({"pair_rank": 10}, "pair_rank must be <= vocab_size - 1 = 9"),
    ({"zipf": -0.5}, "zipf must be >= 0"),
    ({"pair_strength": -1.0}, "pair_strength must be >= 0"),
    ({"n_items": 10}, "n_items must be >= n_categories = 20"),
    ({"prefs_per_user": 21}, "prefs_per_user must be in"),
    ({"coaction_sharpness": 0.0}, "coaction_sharpness must be > 0"),
    ({"base_rate": 1.0}, r"base_rate must be in \(0, 1\)"),
    ({"n_fields": 2.5}, "n_fields must be int"),
    ({"seed": True}, "seed must be int"),
    ({"zipf": "1"}, "zipf must be float"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=f"SyntheticConfig.{match}"):
        SyntheticConfig(**kwargs)


def test_make_synthetic_rejects_other_configs():
    with pytest.raises(TypeError, match="config must be a SyntheticConfig"):
        make_synthetic({"n_rows": 1000})
