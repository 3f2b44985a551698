"""Taobao UserBehavior reader: protocol, negatives, streaming, parquet cache and errors — on a 16-line fixture.

tests/fixtures/taobao/UserBehavior.csv (user,item,category,behavior,timestamp; lines out of time order on
purpose). The pv clicks per user in time order, item(category)@time:

    user 1: 101(11)@1000 102(12)@1010 104(13)@1020 105(11)@1030 106(12)@1040   (+ 103 buy@1015)
    user 2: 102(12)@1005 101(11)@1012 107(14)@1012 108(15)@1050             (+ 104 cart@1013; tie 101, 107: file order)
    user 3: 101(11)@1001 103(11)@1002 109(16)@1060                          (+ 102 fav@1003)
    user 4: 110(17)@1070                                                     (one click: no positive)

Training period (all but each user's last two clicks): 101 ×3, 102 ×2, 104 ×1 — the only possible negatives.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import ctrviz.data.taobao as tb
from ctrviz.data import load_dataset
from ctrviz.data.schema import OOV_ID, PAD_ID
from ctrviz.data.taobao import load_taobao, read_taobao

FIX = Path(__file__).parent / "fixtures" / "taobao"
CSV = FIX / "UserBehavior.csv"


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def rows(data, split):
    """(user, item, category, history items) of each row, decoded; padding dropped."""
    v, b = data.info["encoder"].vocabs, getattr(data, split)
    hist = [v["item"].decode([i for i in r if i != PAD_ID]) for r in b.seqs["hist_item"].tolist()]
    return list(zip(v["user"].decode(b.sparse[:, 0]), v["item"].decode(b.sparse[:, 1]),
                    v["category"].decode(b.sparse[:, 2]), hist, strict=True))


def positives(data, split):
    return [(u, i, c, h) for (u, i, c, h), y in zip(rows(data, split), getattr(data, split).label, strict=True) if y]


def test_read_taobao_table(cache):
    t = read_taobao(CSV, cache=cache)
    assert list(t.columns) == ["user", "item", "category", "behavior", "timestamp"] and len(t) == 16
    assert t.iloc[0].tolist() == [1, 101, 11, "pv", 1000]                     # file order kept
    assert t.behavior.value_counts().to_dict() == {"pv": 13, "buy": 1, "cart": 1, "fav": 1}


def test_protocol_split_histories_and_oov(cache):
    d = load_taobao(CSV, cache=cache)
    assert d.info["sizes"] == {"train": 6, "valid": 6, "test": 6}
    assert d.schema.sparse_names == ("user", "item", "category") and d.schema.seq_names == ("hist_item", "hist_cat")
    assert [(p.induction, p.feed) for p in d.schema.pairs] == [("item", "hist_item"), ("category", "hist_cat")]
    assert d.schema.user_field == "user" and d.schema["hist_cat"].table == "category"
    assert positives(d, "train") == [("1", "102", "12", ["101"]), ("1", "104", "13", ["101", "102"]),
                                     ("2", "101", "11", ["102"])]
    # valid/test targets 105, 107, 103, 106, 108, 109 never occur in train → OOV; so do categories 14, 15, 16
    # and user 3 (3 clicks: its only positives are valid and test, so it has no train row)
    assert positives(d, "valid") == [("1", "<oov>", "11", ["101", "102", "104"]),
                                     ("2", "<oov>", "<oov>", ["102", "101"]), ("<oov>", "<oov>", "11", ["101"])]
    assert positives(d, "test") == [("1", "<oov>", "12", ["101", "102", "104", "<oov>"]),
                                    ("2", "<oov>", "<oov>", ["102", "101", "<oov>"]),
                                    ("<oov>", "<oov>", "<oov>", ["101", "<oov>"])]
    assert d.test.seqs["hist_item"][0, 3] == OOV_ID and d.test.seqs["hist_item"][0, 4] == PAD_ID
    cats = d.info["encoder"].vocabs["category"]
    assert cats.decode([i for i in d.test.seqs["hist_cat"][0].tolist() if i]) == ["11", "12", "13", "11"]
    groups = {"train": [1, 1, 1, 1, 2, 2], "valid": [1, 1, 2, 2, 3, 3], "test": [1, 1, 2, 2, 3, 3]}
    for split in ("train", "valid", "test"):
        b, r = getattr(d, split), rows(d, split)
        assert b.label.tolist() == [1, 0] * 3                                  # each positive, then its negative
        assert b.group.tolist() == groups[split]                               # raw user ids
        for k in range(0, 6, 2):
            assert r[k][0] == r[k + 1][0] and r[k][3] == r[k + 1][3]          # same user, same history
            assert (b.seqs["hist_cat"][k] == b.seqs["hist_cat"][k + 1]).all()


def test_truncation_keeps_most_recent_and_behaviors_option(cache):
    d = load_taobao(CSV, max_len=2, cache=cache)
    assert [h for *_, h in positives(d, "test")] == [["104", "<oov>"], ["101", "<oov>"], ["101", "<oov>"]]
    assert d.schema["hist_item"].max_len == 2 and d.test.seqs["hist_item"].shape == (6, 2)
    a = load_taobao(CSV, behaviors=("pv", "buy", "cart", "fav"), cache=cache)
    assert a.info["sizes"] == {"train": 12, "valid": 6, "test": 6}
    assert positives(a, "train")[:3] == [("1", "102", "12", ["101"]), ("1", "103", "11", ["101", "102"]),
                                         ("1", "104", "13", ["101", "102", "103"])]


def test_negatives_only_from_training_period_with_their_category(cache):
    seen = set()
    for seed in range(15):
        d = load_taobao(CSV, seed=seed, cache=cache)
        for split in ("train", "valid", "test"):
            r = rows(d, split)
            for k in range(0, len(r), 2):
                pos_item, (_, neg_item, neg_cat, _) = r[k][1], r[k + 1]
                assert neg_item != pos_item
                assert (neg_item, neg_cat) in {("101", "11"), ("102", "12"), ("104", "13")}
                seen.add(neg_item)
    assert seen == {"101", "102", "104"}
    a, b = (load_taobao(CSV, seed=3, cache=cache) for _ in range(2))
    assert (a.train.sparse == b.train.sparse).all() and (a.test.sparse == b.test.sparse).all()   # seeded


def test_min_count(cache):
    # train rows: user 1 ×4, user 2 ×2; items 101 and 102 each ≥ 5 times (4 in histories + 1 target)
    d = load_taobao(CSV, min_count=3, cache=cache)
    v = d.info["encoder"].vocabs
    assert v["user"].tokens == ["1"] and v["user"].decode(d.train.sparse[:, 0]) == ["1"] * 4 + ["<oov>"] * 2
    assert {"101", "102"} <= set(v["item"].tokens) and v["item"].min_count == 3
    assert d.train.group.tolist() == [1, 1, 1, 1, 2, 2]                     # GAUC still tells OOV users apart


def test_max_users_keeps_a_seeded_sample(cache):
    samples = set()
    for seed in range(6):   # any 3 of the 4 users leave >= 2 training-period items
        d = load_taobao(CSV, max_users=3, seed=seed, cache=cache)
        groups = frozenset(g for b in (d.train, d.valid, d.test) for g in b.group.tolist())
        assert d.info["n_users"] == 3 and len(groups) <= 3 and groups <= {1, 2, 3}   # user 4 has no positive
        samples.add((d.info["n_events"], groups))
    assert len(samples) > 1
    assert load_taobao(CSV, max_users=4, cache=cache).info["sizes"] == {"train": 6, "valid": 6, "test": 6}
    with pytest.raises(ValueError, match=r"max_users must be None or an int >= 1, got 0"):
        load_taobao(CSV, max_users=0, cache=cache)


# -- streaming and the parquet cache -----------------------------------------------------------------
def test_small_chunks_give_the_same_table(tmp_path):
    a = read_taobao(CSV, cache=tmp_path / "a", chunksize=3)
    b = read_taobao(CSV, cache=tmp_path / "b")
    assert a.equals(b)


def test_cache_reused_then_invalidated_when_file_changes(tmp_path, cache, monkeypatch):
    src = shutil.copy(CSV, tmp_path / "UserBehavior.csv")
    first = load_taobao(src, cache=cache)
    files = sorted((cache / "taobao").iterdir())
    assert [f.suffix for f in files] == [".parquet"] and first.info["cache_file"] == str(files[0])
    real = tb._parse
    monkeypatch.setattr(tb, "_parse", lambda *a: pytest.fail("raw file parsed again"))
    again = load_taobao(src, cache=cache)
    assert (again.test.sparse == first.test.sparse).all() and again.info["sizes"] == first.info["sizes"]
    with open(src, "a") as fh:
        fh.write("4,101,11,pv,1080\n")                                      # user 4 now has a positive
    os.utime(src, ns=(os.stat(src).st_atime_ns, os.stat(src).st_mtime_ns + 10**9))
    calls = []
    monkeypatch.setattr(tb, "_parse", lambda *a: calls.append(1) or real(*a))
    changed = load_taobao(src, cache=cache)
    assert calls == [1] and changed.info["sizes"]["test"] == 8
    assert len(list((cache / "taobao").iterdir())) == 1                     # the stale parquet was replaced


# -- errors ------------------------------------------------------------------------------------------
BAD = [
    (5, "1,102,12,pv", r"line 5: expected 5 ','-separated columns, got 4"),
    (2, "3,101,11,pv,1001,x", r"line 2: expected 5 ','-separated columns, got 6"),
    (9, "2,1O4,13,cart,1013", r"line 9: expected an integer item id, got '1O4'"),
    (1, "u1,101,11,pv,1000", r"line 1: expected an integer user id, got 'u1'"),
    (12, "1,103,11,buy,1015.5", r"line 12: expected an integer timestamp, got '1015\.5'"),
    (16, "3,109,16,PV,1060", r"line 16: expected a behavior type in \('pv', 'buy', 'cart', 'fav'\), got 'PV'"),
]


@pytest.mark.parametrize("line, text, match", BAD, ids=[b[2].split(":")[1][:30] for b in BAD])
@pytest.mark.parametrize("chunksize", [3, 1000])
def test_malformed_line_names_line_and_writes_nothing(tmp_path, cache, line, text, match, chunksize):
    src = tmp_path / "UserBehavior.csv"
    lines = CSV.read_text().splitlines()
    lines[line - 1] = text
    src.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"UserBehavior\.csv: " + match):
        load_taobao(src, cache=cache, chunksize=chunksize)
    assert not cache.exists()


def test_unknown_behavior_fixture_and_existing_cache_untouched(tmp_path, cache):
    load_taobao(CSV, cache=cache)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in cache.rglob("*") if p.is_file()}
    with pytest.raises(ValueError, match=r"UserBehavior_bad_behavior\.csv: line 4: expected a behavior .* 'click'"):
        load_taobao(FIX / "UserBehavior_bad_behavior.csv", cache=cache, chunksize=2)
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in cache.rglob("*") if p.is_file()} == before


def test_blank_lines_skipped_and_line_numbers_kept(tmp_path, cache):
    src = tmp_path / "u.csv"
    src.write_text("\n" + CSV.read_text().replace("1,105,11,pv,1030\n", "1,105,11,pv,1030\n\n1,x,11,pv,1\n"))
    with pytest.raises(ValueError, match=r"line 13: expected an integer item id, got 'x'"):
        read_taobao(src, cache=cache, chunksize=4)


def test_bad_arguments_and_missing_file(tmp_path, cache):
    with pytest.raises(ValueError, match=r"missing file; expected Taobao UserBehavior\.csv"):
        load_taobao(tmp_path / "nope.csv", cache=cache)
    with pytest.raises(ValueError, match=r"behaviors must be a non-empty tuple of .*got 'pv'"):
        load_taobao(CSV, behaviors="pv", cache=cache)
    with pytest.raises(ValueError, match=r"behaviors must be .*got \('click',\)"):
        load_taobao(CSV, behaviors=("click",), cache=cache)
    with pytest.raises(ValueError, match=r"max_len must be an int >= 1, got 0"):
        load_taobao(CSV, max_len=0, cache=cache)
    with pytest.raises(ValueError, match=r"chunksize must be an int >= 1, got 0"):
        load_taobao(CSV, chunksize=0, cache=cache)
    few = tmp_path / "few.csv"
    few.write_text("1,5,1,pv,1\n1,6,1,pv,2\n1,7,1,pv,3\n")               # one training-period item only
    with pytest.raises(ValueError, match=r"needs at least 2 items .* got 1"):
        load_taobao(few, cache=cache)


def test_registry_reads_env_var(monkeypatch, cache):
    monkeypatch.delenv("CTRVIZ_TAOBAO_CSV", raising=False)
    with pytest.raises(ValueError, match=r"set CTRVIZ_TAOBAO_CSV to the path of UserBehavior\.csv.*tianchi"):
        load_dataset("taobao", cache=cache)
    monkeypatch.setenv("CTRVIZ_TAOBAO_CSV", str(CSV))
    assert load_dataset("taobao", cache=cache).info["sizes"] == {"train": 6, "valid": 6, "test": 6}
