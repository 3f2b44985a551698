"""Schema, Batch and encoders: hand-checkable values and every error path."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from ctrviz.data import (
    OOV_ID,
    Batch,
    Column,
    Field,
    Pair,
    Schema,
    Standardizer,
    TableEncoder,
    Vocabulary,
    iter_batches,
    log_bucket,
    pad_sequences,
)


# -- schema --------------------------------------------------------------------------------------
def small_schema() -> Schema:
    return Schema((Field("user", "sparse", vocab_size=4), Field("item", "sparse", vocab_size=6),
                   Field("hist", "sequence", vocab="item", vocab_size=6, max_len=3), Field("price", "dense")),
                  pairs=(Pair("item", "hist"),), user_field="user")


def test_schema_groups_fields_and_shares_vocabularies():
    s = small_schema()
    assert s.sparse_names == ("user", "item")
    assert s.seq_names == ("hist",)
    assert s.dense_names == ("price",)
    assert s.vocab_sizes == {"user": 4, "item": 6}
    assert s["hist"].table == "item"
    assert Schema.from_json(s.to_json()) == s


@pytest.mark.parametrize("make, match", [
    (lambda: Field("a", "bogus", vocab_size=5), "kind must be one of"),
    (lambda: Field("a", "sparse", vocab_size=2), "vocab_size must be at least 3"),
    (lambda: Field("a", "sequence", vocab_size=5), "needs max_len >= 1"),
    (lambda: Field("a", "dense", vocab_size=5), "dense field has no vocab"),
    (lambda: Field("a", "sparse", vocab_size=5, max_len=2), "sparse field has no max_len"),
    (lambda: Schema((Field("a", "sparse", vocab_size=3), Field("a", "dense"))), "appears twice"),
    (lambda: Schema((Field("a", "sparse", vocab_size=3), Field("b", "sequence", vocab="a", vocab_size=4,
                                                                max_len=2))), "disagree on vocab_size"),
    (lambda: Schema((Field("a", "sparse", vocab_size=3),), pairs=(Pair("a", "zz"),)), "feed field 'zz'"),
    (lambda: Schema((Field("a", "sparse", vocab_size=3), Field("x", "dense")), pairs=(Pair("a", "x"),)),
     "is dense"),
    (lambda: Schema((Field("x", "dense"),), user_field="x"), "user_field"),
])
def test_schema_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# -- batch ---------------------------------------------------------------------------------------
def batch_for(s: Schema, n: int = 4) -> Batch:
    return Batch(torch.tensor([[2, 3]] * n), torch.ones(n, 1), {"hist": torch.tensor([[2, 5, 0]] * n)},
                 torch.tensor([0.0, 1.0] * (n // 2)), torch.full((n,), 2))


def test_batch_check_accepts_valid_and_indexing_keeps_rows():
    s = small_schema()
    b = batch_for(s)
    b.check(s)
    sub = b[torch.tensor([1, 3])]
    assert len(sub) == 2 and sub.label.tolist() == [1.0, 1.0] and sub.seqs["hist"].shape == (2, 3)


@pytest.mark.parametrize("mutate, match", [
    (lambda b: setattr(b, "sparse", torch.tensor([[2, 6]] * 4)), r"field 'item': ids must lie in \[1, 5\]"),
    (lambda b: setattr(b, "sparse", torch.tensor([[0, 2]] * 4)), r"field 'user': ids must lie in \[1, 3\]"),
    (lambda b: b.seqs.__setitem__("hist", torch.zeros(4, 2, dtype=torch.long)), "has length 2, schema max_len is 3"),
    (lambda b: setattr(b, "dense", torch.full((4, 1), float("nan"))), r"NaN/inf in fields \['price'\]"),
    (lambda b: setattr(b, "label", torch.tensor([0.0, 2.0, 1.0, 0.0])), "only 0 and 1"),
    (lambda b: setattr(b, "sparse", torch.ones(4, 2, dtype=torch.int16)), "must be int64"),
    (lambda b: setattr(b, "dense", torch.ones(4, 2)), "2 columns, schema has 1 dense"),
])
def test_batch_check_errors_name_the_field(mutate, match):
    s = small_schema()
    b = batch_for(s)
    mutate(b)
    with pytest.raises((ValueError, TypeError), match=match):
        b.check(s)


def test_batch_rejects_ragged_rows():
    with pytest.raises(ValueError, match=r"Batch.sparse: expected \(B, ·\) with B=3"):
        Batch(torch.ones(2, 1, dtype=torch.long), torch.zeros(3, 0), {}, torch.zeros(3))


def test_iter_batches_covers_every_row_once_and_shuffle_is_seeded():
    s = small_schema()
    b = batch_for(s, n=10)
    b.group = torch.arange(10)
    seen = torch.cat([x.group for x in iter_batches(b, 3, shuffle=True, generator=torch.Generator().manual_seed(1))])
    again = torch.cat([x.group for x in iter_batches(b, 3, shuffle=True, generator=torch.Generator().manual_seed(1))])
    assert sorted(seen.tolist()) == list(range(10))
    assert seen.tolist() == again.tolist() and seen.tolist() != list(range(10))
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        next(iter_batches(b, 0))


# -- encoders ------------------------------------------------------------------------------------
def test_vocabulary_orders_by_count_and_maps_rare_and_unseen_to_oov():
    v = Vocabulary(min_count=2).fit(["x", "y", "y", "z", "z", "z", "x"])
    assert v.tokens == ["z", "x", "y"]
    assert v.encode(["z", "y", "x", "never"]).tolist() == [2, 4, 3, OOV_ID]
    assert v.decode([0, 1, 2]) == ["<pad>", "<oov>", "z"]
    assert Vocabulary.from_dict(json.loads(json.dumps(v.to_dict()))).encode(["y"]).tolist() == [4]
    assert Vocabulary(min_count=3).fit(["a", "b"]).encode(["a"]).tolist() == [OOV_ID]


def test_vocabulary_errors():
    with pytest.raises(ValueError, match="min_count must be an int >= 1"):
        Vocabulary(0)
    with pytest.raises(RuntimeError, match="not fitted"):
        Vocabulary().encode(["a"])
    with pytest.raises(ValueError, match="NaN/None"):
        Vocabulary().fit(["a", None])


def test_log_bucket_matches_the_criteo_formula():
    # ln(3)^2 = 1.207 → 1; ln(100)^2 = 21.2 → 21; ln(1000)^2 = 47.7 → 47
    assert log_bucket([0, 1, 2, 3, 100, 1000]).tolist() == ["v0", "v1", "v2", "b1", "b21", "b47"]
    assert log_bucket([np.nan]).tolist() == ["nan"]


def test_standardizer():
    s = Standardizer(log1p=True).fit([0.0, np.e - 1])   # log1p → [0, 1]: mean .5, std .5
    assert np.allclose(s.transform([0.0, np.e - 1]), [-1.0, 1.0])
    assert Standardizer().fit([2.0, 2.0]).std == 1.0      # constant column: no division by zero
    with pytest.raises(ValueError, match="NaN/inf"):
        Standardizer().fit([1.0, np.nan])
    with pytest.raises(ValueError, match="log1p needs values >= 0"):
        Standardizer(log1p=True).fit([-1.0])


@pytest.mark.parametrize("lengths, expect", [
    ([0, 0], [[0, 0, 0], [0, 0, 0]]),                       # empty histories
    ([5, 1], [[3, 4, 5], [6, 0, 0]]),                       # over-long: most recent 3 kept
    ([3, 3], [[1, 2, 3], [4, 5, 6]]),                       # exactly max_len
])
def test_pad_sequences_keeps_the_most_recent(lengths, expect):
    ids = np.arange(1, sum(lengths) + 1)
    assert pad_sequences(ids, np.array(lengths), 3).tolist() == expect


def test_pad_sequences_rejects_inconsistent_lengths():
    with pytest.raises(ValueError, match="lengths sum to 3 but 2 ids"):
        pad_sequences(np.array([1, 2]), np.array([1, 2]), 2)


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "uid": ["u1", "u2", "u1", "u3"], "mid": ["a", "b", "a", "c"],
        "hist": [[], ["a"], ["a", "b", "c", "a"], ["b"]],
        "count": [0, 5, 100, 1], "price": [1.0, 2.0, 3.0, 2.0], "click": [1, 0, 1, 0],
    })


def encoder() -> TableEncoder:
    return TableEncoder([Column("user", "sparse", source="uid"), Column("item", "sparse", source="mid"),
                         Column("hist_item", "sequence", source="hist", vocab="item", max_len=2),
                         Column("count", "sparse", transform="log_bucket"),
                         Column("price", "dense", transform="standardize")],
                        label="click", pairs=[Pair("item", "hist_item")], user_field="user")


def test_table_encoder_fits_on_train_and_maps_unseen_to_oov():
    train = frame()
    enc = encoder().fit(train)
    # item vocabulary counts mid + hist tokens: a ×5, b ×3, c ×2 → a=2, b=3, c=4
    assert enc.vocabs["item"].tokens == ["a", "b", "c"]
    b = enc.transform(train)
    assert b.sparse[:, 1].tolist() == [2, 3, 2, 4]
    assert b.seqs["hist_item"].tolist() == [[0, 0], [2, 0], [4, 2], [3, 0]]
    assert b.group.tolist() == b.sparse[:, 0].tolist()
    assert np.allclose(b.dense[:, 0].numpy(), (train.price - 2.0) / np.sqrt(0.5))
    assert enc.schema["hist_item"].vocab_size == 5
    test = pd.DataFrame({"uid": ["u9"], "mid": ["zz"], "hist": [["zz", "a"]], "count": [7],
                         "price": [2.0], "click": [1]})
    t = enc.transform(test)
    assert t.sparse[0, :2].tolist() == [OOV_ID, OOV_ID] and t.seqs["hist_item"].tolist() == [[OOV_ID, 2]]


def test_table_encoder_json_round_trip(tmp_path):
    enc = encoder().fit(frame())
    enc.save(tmp_path / "enc.json")
    again = TableEncoder.load(tmp_path / "enc.json")
    a, b = enc.transform(frame()), again.transform(frame())
    assert torch.equal(a.sparse, b.sparse) and torch.equal(a.dense, b.dense)
    assert torch.equal(a.seqs["hist_item"], b.seqs["hist_item"])
    assert again.schema == enc.schema


@pytest.mark.parametrize("df_change, match", [
    (lambda d: d.drop(columns="mid"), r"lacks columns \['mid'\]"),
    (lambda d: d.assign(mid=["a", None, "b", "c"]), "column 'mid': missing value at row 1"),
    (lambda d: d.assign(hist=[[], "a", [], []]), "column 'hist': row 1 holds str"),
    (lambda d: d.assign(click=[1, 0, 2, 0]), "must hold only 0 and 1"),
    (lambda d: d.assign(price=[1.0, np.nan, 3.0, 2.0]), "NaN/inf"),
])
def test_table_encoder_errors(df_change, match):
    enc = encoder().fit(frame())
    with pytest.raises((ValueError, TypeError), match=match):
        enc.transform(df_change(frame()))


def test_column_spec_errors():
    with pytest.raises(ValueError, match="dense column takes transform"):
        Column("x", "dense", transform="log_bucket")
    with pytest.raises(ValueError, match="needs max_len >= 1"):
        Column("h", "sequence")
    with pytest.raises(ValueError, match="duplicate column names"):
        TableEncoder([Column("a", "sparse"), Column("a", "sparse")], label="y")
    with pytest.raises(RuntimeError, match="not fitted"):
        encoder().transform(frame())
