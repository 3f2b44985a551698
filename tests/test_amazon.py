"""Amazon Books (DIEN/CAN files) reader: fields, histories, split, OOV, builder, parquet cache, errors.

Fixtures (tests/fixtures/amazon/, the exact DIEN formats: tab-separated, histories joined by \\x02):

local_train_splitByUser — 5 users, each a negative line then a positive line sharing the history:

    AU1  neg B03  pos B04 (Mystery)          history B01 B02
    AU2  neg B01  pos B03 (Fantasy)          history B02 B04 B05
    AU3  neg B05  pos B02 (Fantasy)          history B04
    AU4  neg B02  pos B01 (History)          history empty
    AU5  neg B04  pos B06 (Science Fiction)  history B01 B03 B04 B02 B05

local_test_splitByUser — users AU6 (neg B02, pos B07 "Poetry", history B09 B01) and AU7 (neg B03, pos B01,
history B05); AU6, AU7, B07, B09 and "Poetry" never occur in training → OOV.

item-info / reviews-info — the inputs of build_amazon_files (see test_build_files_like_dien).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import ctrviz.data.amazon as am
from ctrviz.data import load_dataset
from ctrviz.data.amazon import (
    FILES,
    build_amazon_files,
    load_amazon,
    read_amazon_samples,
    read_item_info,
    read_reviews_info,
)
from ctrviz.data.schema import OOV_ID, PAD_ID

FIX = Path(__file__).parent / "fixtures" / "amazon"


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def src(tmp_path):
    """A copy of the two sample files (tests edit it)."""
    out = tmp_path / "amazon"
    out.mkdir()
    for f in FILES:
        shutil.copy(FIX / f, out / f)
    return out


def rows(data, split, seq="hist_item"):
    """(label, user, item, category, history) of each row, decoded; padding dropped."""
    v, b = data.info["encoder"].vocabs, getattr(data, split)
    vocab = v[data.schema[seq].table]
    hist = [vocab.decode([i for i in r if i != PAD_ID]) for r in b.seqs[seq].tolist()]
    return list(zip(b.label.int().tolist(), v["user"].decode(b.sparse[:, 0]), v["item"].decode(b.sparse[:, 1]),
                    v["category"].decode(b.sparse[:, 2]), hist, strict=True))


def test_fields_histories_and_oov(cache):
    d = load_amazon(FIX, valid_fraction=0.0, cache=cache)
    assert d.info["sizes"] == {"train": 10, "valid": 0, "test": 4}
    assert d.schema.sparse_names == ("user", "item", "category") and d.schema.seq_names == ("hist_item", "hist_cat")
    assert [(p.induction, p.feed) for p in d.schema.pairs] == [("item", "hist_item"), ("category", "hist_cat")]
    assert d.schema.user_field == "user" and d.schema["hist_item"].table == "item"
    assert d.schema["hist_cat"].table == "category" and d.schema["hist_item"].max_len == 100
    r = rows(d, "train")
    assert [x[0] for x in r] == [0, 1] * 5                                     # file order: negative, positive
    assert r[1] == (1, "AU1", "B04", "Mystery", ["B01", "B02"])
    assert r[6] == (0, "AU4", "B02", "Fantasy", []) and r[7][4] == []         # empty history → all padding
    assert d.train.seqs["hist_item"][7].tolist() == [PAD_ID] * 100
    assert r[9] == (1, "AU5", "B06", "Science Fiction", ["B01", "B03", "B04", "B02", "B05"])
    assert [x[4] for x in rows(d, "train", "hist_cat")][3] == ["Fantasy", "Mystery", "Fantasy"]
    assert rows(d, "test") == [(0, "<oov>", "B02", "Fantasy", ["<oov>", "B01"]),
                               (1, "<oov>", "<oov>", "<oov>", ["<oov>", "B01"]),
                               (0, "<oov>", "B03", "Fantasy", ["B05"]), (1, "<oov>", "B01", "History", ["B05"])]
    assert d.test.sparse[1].tolist() == [OOV_ID] * 3
    assert [x[4] for x in rows(d, "test", "hist_cat")][:2] == [["<oov>", "History"]] * 2
    assert d.test.group.tolist() == [5, 5, 6, 6] and d.train.group.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_truncation_keeps_most_recent_and_min_count(cache):
    d = load_amazon(FIX, max_len=2, valid_fraction=0.0, cache=cache)
    assert [x[4] for x in rows(d, "train")][8:] == [["B02", "B05"]] * 2
    assert [x[4] for x in rows(d, "train", "hist_cat")][2] == ["Mystery", "Fantasy"]
    assert d.train.seqs["hist_item"].shape == (10, 2)
    m = load_amazon(FIX, min_count=2, valid_fraction=0.0, cache=cache)
    assert rows(m, "train")[9][2:4] == ("<oov>", "<oov>")                     # B06, "Science Fiction": seen once
    assert rows(m, "train")[1][1] == "AU1"                                     # each user has 2 rows: kept


def test_valid_split_holds_out_whole_users(cache):
    d = load_amazon(FIX, valid_fraction=0.4, seed=0, cache=cache)             # 0.4 × 5 users = 2 users
    valid_users = d.info["valid_users"]
    assert len(valid_users) == 2 and set(valid_users) <= {"AU1", "AU2", "AU3", "AU4", "AU5"}
    assert d.info["sizes"] == {"train": 6, "valid": 4, "test": 4}
    vocab = d.info["encoder"].vocabs["user"]
    assert not set(valid_users) & set(vocab.tokens) and len(vocab.tokens) == 3  # fitted on train users only
    assert rows(d, "valid")[0][1] == "<oov>" and len(set(d.valid.group.tolist())) == 2
    assert not set(d.valid.group.tolist()) & set(d.train.group.tolist())
    again = load_amazon(FIX, valid_fraction=0.4, seed=0, cache=cache)
    assert again.info["valid_users"] == valid_users                           # seeded
    picks = {tuple(load_amazon(FIX, valid_fraction=0.2, seed=s, cache=cache).info["valid_users"]) for s in range(8)}
    assert len(picks) > 1 and all(len(p) == 1 for p in picks)


def test_read_samples_table(cache):
    t = read_amazon_samples(FIX / FILES[0], cache=cache, chunksize=4)
    assert list(t.columns) == ["label", "user", "item", "category", "hist_item", "hist_cat"] and len(t) == 10
    assert t.iloc[2][:4].tolist() == [0, "AU2", "B01", "History"] and list(t.hist_item[2]) == ["B02", "B04", "B05"]
    assert len(t.hist_item[6]) == 0 and len(t.hist_cat[7]) == 0


# -- streaming and the parquet cache -----------------------------------------------------------------
def test_cache_reused_then_invalidated_and_chunks(src, cache, monkeypatch, tmp_path):
    first = load_amazon(src, valid_fraction=0.0, cache=cache)
    names = sorted(p.name for p in (cache / "amazon").iterdir())
    assert len(names) == 2 and all(n.endswith(".parquet") for n in names)
    assert names[0].startswith("local_test_splitByUser-") and names[1].startswith("local_train_splitByUser-")
    real = am._parse_samples
    monkeypatch.setattr(am, "_parse_samples", lambda *a: pytest.fail("raw file parsed again"))
    again = load_amazon(src, valid_fraction=0.0, cache=cache)
    assert rows(again, "train") == rows(first, "train") and rows(again, "test") == rows(first, "test")
    with open(src / FILES[1], "a") as fh:                                      # change the test file
        fh.write("0\tAU8\tB01\tHistory\t\t\n1\tAU8\tB02\tFantasy\t\t\n")
    parsed = []
    monkeypatch.setattr(am, "_parse_samples", lambda path, n: parsed.append((path.name, n)) or real(path, n))
    changed = load_amazon(src, valid_fraction=0.0, cache=cache, chunksize=3)
    assert parsed == [(FILES[1], 3)] and changed.info["sizes"]["test"] == 6  # only the changed file re-read
    assert len(list((cache / "amazon").iterdir())) == 2                       # the stale parquet is gone
    small = load_amazon(src, valid_fraction=0.0, cache=tmp_path / "c2", chunksize=3)  # streaming, 3 lines a chunk
    assert rows(small, "train") == rows(changed, "train") and rows(small, "test") == rows(changed, "test")


# -- errors ------------------------------------------------------------------------------------------
BAD = [
    (3, "0\tAU2\tB01\tHistory\tB02", r"line 3: expected 6 '\\t'-separated columns, got 5"),
    (5, "2\tAU3\tB05\tFantasy\tB04\tMystery", r"line 5: expected a label 0 or 1, got '2'"),
    (8, "1\t\tB01\tHistory\t\t", r"line 8: expected a non-empty user id, got ''"),
    (6, "1\tAU3\tB02\tFantasy\tB04\x02B01\tMystery", r"line 6: mid_history has 2 items but cat_history has 1"),
    (9, "0\tAU5\tB04\tMystery\tB01\x02\x02B03\tHistory\x02Fantasy\x02Mystery", r"line 9: empty id in a '\\x02'-joined"),
]


@pytest.mark.parametrize("line, text, match", BAD, ids=[b[2].split(":")[1][:25] for b in BAD])
@pytest.mark.parametrize("chunksize", [2, 1000])
def test_malformed_line_names_line_and_writes_nothing(src, cache, line, text, match, chunksize):
    lines = (src / FILES[0]).read_text().splitlines()
    lines[line - 1] = text
    (src / FILES[0]).write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"local_train_splitByUser: " + match):
        load_amazon(src, cache=cache, chunksize=chunksize)
    assert not cache.exists()


def test_bad_fixture_leaves_existing_cache_untouched(src, cache):
    load_amazon(src, cache=cache)
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in cache.rglob("*") if p.is_file()}
    shutil.copy(FIX / "bad_local_train_splitByUser", src / FILES[0])
    with pytest.raises(ValueError, match=r"line 7: mid_history has 2 items but cat_history has 1"):
        load_amazon(src, cache=cache, chunksize=4)
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in cache.rglob("*") if p.is_file()} == before


def test_not_utf8_missing_file_and_bad_arguments(src, cache):
    (src / FILES[1]).write_bytes(b"0\tAU6\tB02\tFantasy\t\t\n1\tAU6\tB\xff7\tPoetry\t\t\n")
    with pytest.raises(ValueError, match=r"local_test_splitByUser: line 2: expected utf-8 text"):
        load_amazon(src, cache=cache)
    assert not list(cache.rglob("*"))                                         # the good train file's parquet too
    (src / FILES[1]).unlink()
    with pytest.raises(ValueError, match=r"local_test_splitByUser: missing file; expected the DIEN/CAN Amazon"):
        load_amazon(src, cache=cache)
    with pytest.raises(ValueError, match=r"valid_fraction must lie in \[0, 1\), got 1\.0"):
        load_amazon(FIX, valid_fraction=1.0, cache=cache)
    with pytest.raises(ValueError, match=r"max_len must be an int >= 1, got 0"):
        load_amazon(FIX, max_len=0, cache=cache)


# -- item-info, reviews-info and the DIEN builder ----------------------------------------------------
def test_read_item_and_reviews_info(tmp_path):
    items = read_item_info(FIX / "item-info")
    assert items.values.tolist() == [["B01", "History"], ["B02", "Fantasy"], ["B03", "Fantasy"],
                                     ["B04", "Mystery"], ["B05", "Fantasy"]]    # repeated B01 keeps its first line
    rv = read_reviews_info(FIX / "reviews-info", chunksize=2)
    assert list(rv.columns) == ["user", "item", "rating", "timestamp"] and len(rv) == 9
    assert rv.iloc[3].tolist() == ["AU1", "B02", 5.0, 1002]
    bad = tmp_path / "reviews-info"
    bad.write_text("AU1\tB01\t5.0\t1000\nAU1\tB02\tfive\t1001\n")
    with pytest.raises(ValueError, match=r"reviews-info: line 2: expected a numeric rating, got 'five'"):
        read_reviews_info(bad)
    bad.write_text("AU1\tB01\t5.0\t1000\nAU1\tB02\t4.0\t10:01\n")
    with pytest.raises(ValueError, match=r"line 2: expected an integer timestamp, got '10:01'"):
        read_reviews_info(bad)
    bad.write_text("B01\tHistory\tx\n")
    with pytest.raises(ValueError, match=r"line 1: expected 2 '\\t'-separated columns, got 3"):
        read_item_info(bad)


def test_build_files_like_dien(tmp_path):
    # reviews by user in time order: AU1 B01 B02 B03 · AU2 B02 B05 B01 (B05, B01 tie: file order) · AU3 B04 (one
    # review: dropped) · AU4 B08 B01 (B08 not in item-info → default_cat). Each user's last review is kept.
    train, test = build_amazon_files(FIX / "reviews-info", FIX / "item-info", tmp_path / "out", test_fraction=0.0)
    assert test.read_text() == "" and train.name == FILES[0]
    lines = [ln.split("\t") for ln in train.read_text().splitlines()]
    assert [ln[0] for ln in lines] == ["0", "1"] * 3
    assert [ln[1:] for ln in lines[1::2]] == [["AU1", "B03", "Fantasy", "B01\x02B02", "History\x02Fantasy"],
                                               ["AU2", "B01", "History", "B02\x02B05", "Fantasy\x02Fantasy"],
                                               ["AU4", "B01", "History", "B08", "default_cat"]]
    cats = {"B01": "History", "B02": "Fantasy", "B03": "Fantasy", "B04": "Mystery", "B05": "Fantasy",
            "B08": "default_cat"}
    for neg, pos in zip(lines[::2], lines[1::2], strict=True):
        assert neg[1] == pos[1] and neg[4:] == pos[4:] and neg[2] != pos[2]   # same user/history, other item
        assert neg[3] == cats[neg[2]]                                          # negative's own category
    _, test = build_amazon_files(FIX / "reviews-info", FIX / "item-info", tmp_path / "all", test_fraction=1.0)
    assert len(test.read_text().splitlines()) == 6
    d = load_amazon(tmp_path / "out", valid_fraction=0.0, cache=tmp_path / "cache")   # round trip, empty test file
    assert d.info["sizes"] == {"train": 6, "valid": 0, "test": 0}


def test_registry_reads_env_var(monkeypatch, cache):
    monkeypatch.delenv("CTRVIZ_AMAZON_DIR", raising=False)
    with pytest.raises(ValueError, match=r"set CTRVIZ_AMAZON_DIR to a folder holding local_train_splitByUser"):
        load_dataset("amazon", cache=cache)
    monkeypatch.setenv("CTRVIZ_AMAZON_DIR", str(FIX))
    assert load_dataset("amazon", cache=cache).info["sizes"] == {"train": 8, "valid": 2, "test": 4}
