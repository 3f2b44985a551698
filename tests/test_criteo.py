"""Criteo (Kaggle train.txt) reader: log buckets, vocabularies, random split, streaming, parquet cache, errors.

tests/fixtures/criteo/train.txt — 12 lines in the exact Kaggle format (40 tab-separated columns, no header).
The columns the tests look at, line by line (⌀ = empty):

    line   label  I1   I2   I3  I5     C1        C2        C3
    1      1      1    -1   ⌀   1000   68fd1e64  80e26c9b  fb936136
    2      0      ⌀    -2   ⌀   100    05db9164  0b153874  02cf9876
    3      0      0    0    ⌀   150    68fd1e64  80e26c9b  74e1a23a
    4      1      3    -3   ⌀   0      68fd1e64  ⌀         b00d1501
    5      0      ⌀    1    ⌀   1000   05db9164  0b153874  aa8c1539
    6      1      2    -1   ⌀   ⌀      ⌀         80e26c9b  ⌀
    7      0      1    5    ⌀   100    68fd1e64  ⌀         9b5fd12f
    8      0      ⌀    -1   ⌀   3      8cf07265  80e26c9b  ⌀
    9      1      20   2    ⌀   4      05db9164  0b153874  6532318c
    10     0      1    -1   ⌀   1000   68fd1e64  ⌀         c1ea2cd4
    11     1      0    0    ⌀   100    05db9164  80e26c9b  2824a5f6
    12     0      1    1    ⌀   0      68fd1e64  09e68b86  e0d76380

I4 = 7 and I6..I13 = 0 on every line; C4..C26 = 0a000004 … 0a00001a (one constant per column).
Log buckets (v > 2 → b⌊ln(v)²⌋, else v<v>, empty → nan): 3, 4 → b1; 5 → b2; 20 → b8; 100 → b21; 150 → b25;
1000 → b47. With min_count=2 and every row in train, vocabularies (ids from 2, by count, ties by token):

    I1: v1 ×4, nan ×3, v0 ×2            (b1, v2, b8 once → OOV)
    I2: v-1 ×4, v0 ×2, v1 ×2            (v-2, v-3, b2, v2 once → OOV)
    I5: b21 ×3, b47 ×3, b1 ×2, v0 ×2    (b25, nan once → OOV)
    C1: 68fd1e64 ×6, 05db9164 ×4        ("" and 8cf07265 once → OOV)
    C2: 80e26c9b ×5, "" ×3, 0b153874 ×3 (09e68b86 once → OOV)
    C3: "" ×2                           (every hex value once → OOV)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ctrviz.data.criteo as cr
from ctrviz.data import load_dataset
from ctrviz.data.criteo import CAT_FIELDS, INT_FIELDS, criteo_columns, load_criteo, read_criteo
from ctrviz.data.encoders import log_bucket
from ctrviz.data.parquet_cache import random_split
from ctrviz.experiments import run_model
from ctrviz.train import TrainConfig

FIX = Path(__file__).parent / "fixtures" / "criteo"
TXT = FIX / "train.txt"
LABELS = [1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0]


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def decoded(data, split, field):
    """The tokens of ``field`` in ``split``, decoded with the fitted vocabulary."""
    j = data.schema.sparse_names.index(field)
    return data.info["encoder"].vocabs[field].decode(getattr(data, split).sparse[:, j])


def test_read_criteo_table(cache):
    t = read_criteo(TXT, cache=cache)
    assert list(t.columns) == ["label", *INT_FIELDS, *CAT_FIELDS] and len(t) == 12
    assert t.label.tolist() == LABELS and str(t.label.dtype) == "int8"
    assert t.I1.tolist()[:3] == [1, pd.NA, 0] and str(t.I1.dtype) == "Int64"       # empty I → <NA>
    assert t.I2.tolist()[:4] == [-1, -2, 0, -3] and t.I3.isna().all()                # negative I2 kept
    assert t.C1[5] == "" and t.C2[3] == "" and t.C3[0] == "fb936136"                 # empty C → ""
    assert t.C26.unique().tolist() == ["0a00001a"]
    assert t.attrs["cache_file"].endswith(".parquet")


def test_log_buckets_and_vocabulary_ids_by_hand(cache):
    d = load_criteo(TXT, min_count=2, valid_fraction=0.0, test_fraction=0.0, cache=cache)
    assert d.info["sizes"] == {"train": 12, "valid": 0, "test": 0}
    assert d.schema.sparse_names == INT_FIELDS + CAT_FIELDS and d.schema.dense_names == ()
    assert d.schema.pairs == () and d.schema.user_field is None and d.train.group is None
    assert d.train.label.tolist() == LABELS                                          # file order
    v = d.info["encoder"].vocabs
    assert v["I1"].tokens == ["v1", "nan", "v0"] and v["I2"].tokens == ["v-1", "v0", "v1"]
    assert v["I3"].tokens == ["nan"] and v["I5"].tokens == ["b21", "b47", "b1", "v0"]
    assert v["C1"].tokens == ["68fd1e64", "05db9164"] and v["C2"].tokens == ["80e26c9b", "", "0b153874"]
    assert v["C3"].tokens == [""]
    col = {f: d.train.sparse[:, j].tolist() for j, f in enumerate(d.schema.sparse_names)}
    assert col["I1"] == [2, 3, 4, 1, 3, 1, 2, 3, 1, 2, 4, 2]                         # b1 (3), v2, b8 (20) → OOV
    assert col["I2"] == [2, 1, 3, 1, 4, 2, 1, 2, 1, 2, 3, 4]                         # v-2, v-3, b2, v2 → OOV
    assert col["I3"] == [2] * 12                                                     # always empty: one "nan" id
    assert col["I5"] == [3, 2, 1, 5, 3, 1, 2, 4, 4, 3, 2, 5]                         # 3 and 4 share bucket b1
    assert col["C1"] == [2, 3, 2, 2, 3, 1, 2, 1, 3, 2, 3, 2]
    assert col["C2"] == [2, 4, 2, 3, 4, 2, 3, 2, 4, 3, 2, 1]
    assert col["C3"] == [1, 1, 1, 1, 1, 2, 1, 2, 1, 1, 1, 1]                         # only "" is frequent
    assert col["I4"] == [2] * 12 and col["C26"] == [2] * 12
    assert d.schema["I1"].vocab_size == 5 and d.schema["C3"].vocab_size == 3
    one = load_criteo(TXT, min_count=1, valid_fraction=0.0, test_fraction=0.0, cache=cache)
    assert decoded(one, "train", "I1") == log_bucket(read_criteo(TXT, cache=cache).I1.astype(float)).tolist()
    assert decoded(one, "train", "I2")[3:9] == ["v-3", "v1", "v-1", "b2", "v-1", "v2"]
    assert len(one.info["encoder"].vocabs["C3"].tokens) == 11                         # 10 hex values + ""


def test_random_split_and_vocabulary_fitted_on_train_only(cache):
    d = load_criteo(TXT, min_count=2, seed=0, cache=cache)                           # 80/10/10 of 12 rows
    assert d.info["sizes"] == {"train": 10, "valid": 1, "test": 1}
    rows = random_split(12, valid_fraction=0.1, test_fraction=0.1, seed=0)
    t = read_criteo(TXT, cache=cache)
    for split in ("train", "valid", "test"):
        assert getattr(d, split).label.tolist() == [LABELS[i] for i in rows[split]]
    train = t.iloc[rows["train"]]
    for field in ("I1", "I2", "I5", "C1", "C2", "C3"):
        raw = (lambda s: log_bucket(s.astype(float)).tolist()) if field in INT_FIELDS else (lambda s: s.tolist())
        counts = pd.Series(raw(train[field])).value_counts()
        kept = set(counts[counts >= 2].index)
        assert set(d.info["encoder"].vocabs[field].tokens) == kept                   # counted on train rows only
        for split in ("train", "valid", "test"):
            want = [x if x in kept else "<oov>" for x in raw(t.iloc[rows[split]][field])]
            assert decoded(d, split, field) == want
    for split in ("train", "valid", "test"):                                          # the encoder describes the data
        ref = d.info["encoder"].transform(t.iloc[rows[split]])                          # incl. empty I fields (NaN)
        assert (getattr(d, split).sparse == ref.sparse).all()
    again = load_criteo(TXT, min_count=2, seed=0, cache=cache)
    assert (again.test.sparse == d.test.sparse).all()                                 # seeded
    tests = {tuple(random_split(12, valid_fraction=0.1, test_fraction=0.1, seed=s)["test"]) for s in range(6)}
    assert len(tests) > 1
    paper = load_criteo(TXT, min_count=2, valid_fraction=0.0, seed=0, cache=cache)  # AOANet's 90/10
    assert paper.info["sizes"] == {"train": 11, "valid": 0, "test": 1}
    assert paper.test.label.tolist() == d.test.label.tolist()                        # same test rows
    assert "test 0.1, valid 0.1" in d.info["protocol"] and d.info["min_count"] == 2


def test_default_min_count_and_too_rare_fields(cache):
    assert [c.min_count for c in criteo_columns()] == [10] * 39
    with pytest.raises(ValueError, match=r"criteo: no value of field 'I1' occurs min_count=10 times in the train "
                                         r"split \(10 rows\); lower min_count"):
        load_criteo(TXT, cache=cache)


def test_trains_one_epoch(cache):
    d = load_criteo(TXT, min_count=1, valid_fraction=0.25, test_fraction=0.25, seed=1, cache=cache)
    assert d.info["sizes"] == {"train": 6, "valid": 3, "test": 3}
    assert all(len(set(getattr(d, s).label.tolist())) == 2 for s in ("valid", "test"))   # AUC needs both classes
    row, result = run_model("dnn", d, TrainConfig(epochs=1, batch_size=4, progress=False, device="cpu"))
    assert row["data"] == "criteo" and row["epochs"] == 1 and 0.0 <= row["auc"] <= 1.0
    assert np.isfinite(result.history["train_loss"]).all()


# -- streaming and the parquet cache -----------------------------------------------------------------
def test_small_chunks_give_the_same_result(tmp_path):
    a = read_criteo(TXT, cache=tmp_path / "a", chunksize=2)
    b = read_criteo(TXT, cache=tmp_path / "b")
    assert a.equals(b)
    x = load_criteo(TXT, min_count=2, cache=tmp_path / "a", chunksize=2)
    y = load_criteo(TXT, min_count=2, cache=tmp_path / "b")
    for split in ("train", "valid", "test"):
        assert (getattr(x, split).sparse == getattr(y, split).sparse).all()
        assert (getattr(x, split).label == getattr(y, split).label).all()


def test_cache_reused_then_invalidated_when_file_changes(tmp_path, cache, monkeypatch):
    src = shutil.copy(TXT, tmp_path / "train.txt")
    first = load_criteo(src, min_count=2, cache=cache)
    files = sorted((cache / "criteo").iterdir())
    assert sorted(f.suffix.split("-")[0] for f in files) == [".enc", ".parquet"]    # parsed table + its encoding
    assert first.info["cache_file"] in map(str, files) and first.info["encoded_cache"] in map(str, files)
    real = cr._fast_parse
    for parser in ("_parse", "_fast_parse"):
        monkeypatch.setattr(cr, parser, lambda *a: pytest.fail("raw file parsed again"))
    again = load_criteo(src, min_count=2, cache=cache)
    assert (again.train.sparse == first.train.sparse).all() and again.info["sizes"] == first.info["sizes"]
    with open(src, "a") as fh:
        fh.write(TXT.read_text().splitlines()[0] + "\n")                          # a 13th line
    os.utime(src, ns=(os.stat(src).st_atime_ns, os.stat(src).st_mtime_ns + 10**9))
    calls = []
    monkeypatch.setattr(cr, "_fast_parse", lambda *a: calls.append(1) or real(*a))
    changed = load_criteo(src, min_count=2, cache=cache)
    assert calls == [1] and sum(changed.info["sizes"].values()) == 13
    left = sorted((cache / "criteo").iterdir())                 # the stale parquet and its encoding were replaced
    assert len(left) == 2 and changed.info["cache_file"] in map(str, left)


# -- errors ------------------------------------------------------------------------------------------
def edit(line: int, col: int | None, value: str) -> str:
    """The fixture with column ``col`` (0 = label, 1..13 = I, 14..39 = C) of ``line`` set to ``value``
    (``col=None``: the last column removed)."""
    lines = [ln.split("\t") for ln in TXT.read_text().splitlines()]
    if col is None:
        lines[line - 1].pop()
    else:
        lines[line - 1][col] = value
    return "\n".join("\t".join(ln) for ln in lines) + "\n"


BAD = [
    (4, None, "", r"line 4: expected 40 '\\t'-separated columns, got 39"),
    (3, 0, "2", r"line 3: expected a label 0 or 1, got '2'"),
    (12, 0, "", r"line 12: expected a label 0 or 1, got ''"),
    (2, 1, "abc", r"line 2: expected an integer I1 or empty, got 'abc'"),
    (7, 5, "1.5", r"line 7: expected an integer I5 or empty, got '1\.5'"),
    (5, 2, "--1", r"line 5: expected an integer I2 or empty, got '--1'"),
    (9, 20, "zzzzzzzz", r"line 9: expected 8 hex digits or empty in C7, got 'zzzzzzzz'"),
    (12, 39, "68fd1e6", r"line 12: expected 8 hex digits or empty in C26, got '68fd1e6'"),
    (1, 14, "068fd1e64", r"line 1: expected 8 hex digits or empty in C1, got '068fd1e64'"),
]


@pytest.mark.parametrize("line, col, value, match", BAD, ids=[b[3].split(":")[1][:30] for b in BAD])
@pytest.mark.parametrize("chunksize", [2, 1000])
def test_malformed_line_names_line_and_field_and_writes_nothing(tmp_path, cache, line, col, value, match, chunksize):
    src = tmp_path / "train.txt"
    src.write_text(edit(line, col, value))
    with pytest.raises(ValueError, match=r"train\.txt: " + match):
        load_criteo(src, min_count=2, cache=cache, chunksize=chunksize)
    assert not cache.exists()


def snapshot(folder: Path) -> dict:
    """Every path under ``folder`` → (mtime, bytes) for files, ``False`` for folders."""
    return {p: p.is_file() and (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*")}


def test_error_leaves_existing_cache_untouched(tmp_path, cache):
    src = shutil.copy(TXT, tmp_path / "train.txt")
    load_criteo(src, min_count=2, cache=cache)
    before = snapshot(cache)
    Path(src).write_text(edit(11, 30, "not-hex!"))
    with pytest.raises(ValueError, match=r"line 11: expected 8 hex digits or empty in C17, got 'not-hex!'"):
        load_criteo(src, min_count=2, cache=cache, chunksize=3)
    assert snapshot(cache) == before                                                    # same files, no temp file left


def test_blank_lines_skipped_and_line_numbers_kept(tmp_path, cache):
    src = tmp_path / "train.txt"
    lines = TXT.read_text().splitlines()
    src.write_text("\n" + "\n".join(lines[:5]) + "\n\n" + "\n".join(lines[5:]) + "\n")
    assert len(read_criteo(src, cache=cache, chunksize=4)) == 12
    src.write_text("\n" + edit(6, 3, "x"))                                          # fixture line 6 → file line 7
    with pytest.raises(ValueError, match=r"line 7: expected an integer I3 or empty, got 'x'"):
        read_criteo(src, cache=cache, chunksize=4)


def test_bad_arguments_missing_and_empty_file(tmp_path, cache):
    with pytest.raises(ValueError, match=r"nope\.txt: missing file; expected the Criteo Kaggle train\.txt"):
        load_criteo(tmp_path / "nope.txt", cache=cache)
    with pytest.raises(ValueError, match=r"min_count must be an int >= 1, got 0"):
        load_criteo(TXT, min_count=0, cache=cache)
    with pytest.raises(ValueError, match=r"valid_fraction must lie in \[0, 1\), got -0\.1"):
        load_criteo(TXT, valid_fraction=-0.1, cache=cache)
    with pytest.raises(ValueError, match=r"valid_fraction \+ test_fraction must be < 1, got 0\.5 \+ 0\.5"):
        load_criteo(TXT, valid_fraction=0.5, test_fraction=0.5, cache=cache)
    with pytest.raises(ValueError, match=r"chunksize must be an int >= 1, got 0"):
        load_criteo(TXT, chunksize=0, cache=cache)
    assert not cache.exists()                                                       # all checked before parsing
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"empty\.txt: no data rows \(the file is empty, blank or holds only a header"):
        load_criteo(empty, cache=cache)
    assert not list(cache.rglob("*.parquet")) and not list(cache.rglob(".*.tmp"))    # a failed load writes nothing


def test_registry_reads_env_var(monkeypatch, cache):
    monkeypatch.delenv("CTRVIZ_CRITEO_TXT", raising=False)
    with pytest.raises(ValueError, match=r"criteo: set CTRVIZ_CRITEO_TXT to the path of the Criteo Kaggle train\.txt"):
        load_dataset("criteo", cache=cache)
    monkeypatch.setenv("CTRVIZ_CRITEO_TXT", str(TXT))
    with pytest.raises(ValueError, match=r"no value of field 'I1' occurs min_count=10 times"):   # 12 rows only
        load_dataset("criteo", cache=cache)
    assert list((cache / "criteo").iterdir()) == []                             # a failed load leaves no cache file
    assert load_dataset("criteo", cache=cache, min_count=1).info["min_count"] == 1
    assert len(list((cache / "criteo").glob("*.parquet"))) == 1                     # a load that works caches the file
