"""Avazu (Kaggle train CSV) reader: header, hour → hour-of-day/weekday, vocabularies, split, cache, errors.

tests/fixtures/avazu/train.csv — the Kaggle header and 10 rows (file lines 2–11) in the exact format; line 2 is the
real file's first row. The columns the tests look at, row by row (⌀ = empty):

    line  click  hour      → hour_of_day  weekday        C1    banner_pos  site_id   device_model  C20
    2     0      14102100    0            1 (Tue 21 Oct)  1005  0           1fbe01fe  44956a24      -1
    3     0      14102100    0            1               1005  0           1fbe01fe  711ee120      -1
    4     1      14102101    1            1               1005  1           85f751fd  8a4875bd      100084
    5     0      14102213    13           2 (Wed 22 Oct)  1005  0           1fbe01fe  6332421a      -1
    6     1      14102213    13           2               1002  0           85f751fd  779d90c2      100148
    7     0      14102623    23           6 (Sun 26 Oct)  1005  1           85f751fd  ⌀             157
    8     0      14102623    23           6               1005  0           1fbe01fe  44956a24      -1
    9     1      14103000    0            3 (Thu 30 Oct)  1010  0           e151e245  be6db1d7      100075
    10    0      14102100    0            1               1005  0           85f751fd  8a4875bd      ⌀
    11    1      14102513    13           5 (Sat 25 Oct)  1005  1           1fbe01fe  44956a24      -1

device_ip is 6b9769f2 on lines 3 and 10, a different value on every other line. With min_count=2 and every row in
train, vocabularies (ids from 2, by count, ties by token): hour_of_day 0 ×4, 13 ×3, 23 ×2 (1 → OOV); weekday 1 ×4,
2 ×2, 6 ×2 (3, 5 → OOV); C1 1005 ×8; site_id 1fbe01fe ×5, 85f751fd ×4; device_model 44956a24 ×3, 8a4875bd ×2 ("" and
the rest → OOV); C20 -1 ×5 (empty once → OOV).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import ctrviz.data.avazu as av
from ctrviz.data import load_dataset
from ctrviz.data.avazu import CAT_FIELDS, FIELDS, HEADER, avazu_columns, load_avazu, parse_hour, read_avazu
from ctrviz.data.parquet_cache import random_split
from ctrviz.experiments import run_model
from ctrviz.train import TrainConfig

FIX = Path(__file__).parent / "fixtures" / "avazu"
CSV = FIX / "train.csv"
CLICKS = [0, 0, 1, 0, 1, 0, 0, 1, 0, 1]


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def snapshot(folder: Path) -> dict:
    """Every path under ``folder`` → (mtime, bytes) for files, ``False`` for folders."""
    return {p: p.is_file() and (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*")}


def test_read_avazu_table(cache):
    t = read_avazu(CSV, cache=cache)
    assert list(t.columns) == ["click", "hour", "hour_of_day", "weekday", *CAT_FIELDS] and len(t) == 10
    assert "id" not in t.columns and t.click.tolist() == CLICKS
    assert t.hour.tolist()[:4] == ["14102100", "14102100", "14102101", "14102213"]
    assert t.hour_of_day.tolist() == [0, 0, 1, 13, 13, 23, 23, 0, 0, 13]
    assert t.weekday.tolist() == [1, 1, 1, 2, 2, 6, 6, 3, 1, 5]                      # 0 = Monday
    assert t.device_model[5] == "" and t.C20[8] == "" and t.C20[0] == "-1"           # empty and negative tokens
    first = CSV.read_text().splitlines()[1].split(",")                               # the real file's first row
    assert t.iloc[0][list(CAT_FIELDS)].tolist() == first[3:] and first[3:6] == ["1005", "0", "1fbe01fe"]


def test_fields_and_vocabulary_ids_by_hand(cache):
    d = load_avazu(CSV, min_count=2, valid_fraction=0.0, test_fraction=0.0, cache=cache)
    assert d.info["sizes"] == {"train": 10, "valid": 0, "test": 0}
    assert d.schema.sparse_names == FIELDS and len(FIELDS) == 23 and d.schema.dense_names == ()
    assert d.schema.pairs == () and d.schema.user_field is None and d.train.label.tolist() == CLICKS
    v = d.info["encoder"].vocabs
    assert v["hour_of_day"].tokens == ["0", "13", "23"] and v["weekday"].tokens == ["1", "2", "6"]
    assert v["site_id"].tokens == ["1fbe01fe", "85f751fd"] and v["device_model"].tokens == ["44956a24", "8a4875bd"]
    assert v["device_ip"].tokens == ["6b9769f2"] and v["C20"].tokens == ["-1"]
    col = {f: d.train.sparse[:, j].tolist() for j, f in enumerate(d.schema.sparse_names)}
    assert col["hour_of_day"] == [2, 2, 1, 3, 3, 4, 4, 2, 2, 3]                    # hour 1 seen once → OOV
    assert col["weekday"] == [2, 2, 2, 3, 3, 4, 4, 1, 2, 1]                        # Thu, Sat seen once → OOV
    assert col["C1"] == [2, 2, 2, 2, 1, 2, 2, 1, 2, 2]
    assert col["banner_pos"] == [2, 2, 3, 2, 2, 3, 2, 2, 2, 3]
    assert col["site_id"] == [2, 2, 3, 2, 3, 3, 2, 1, 3, 2]
    assert col["device_model"] == [2, 1, 3, 1, 1, 1, 2, 1, 3, 2]                   # "" (line 7) once → OOV
    assert col["device_ip"] == [1, 2, 1, 1, 1, 1, 1, 1, 2, 1]
    assert col["C20"] == [2, 2, 1, 2, 1, 1, 2, 1, 1, 2]
    one = load_avazu(CSV, min_count=1, valid_fraction=0.0, test_fraction=0.0, cache=cache)
    j = FIELDS.index("device_model")
    assert one.info["encoder"].vocabs["device_model"].tokens[:3] == ["44956a24", "8a4875bd", ""]   # ties by token
    assert one.train.sparse[5, j] == 4                                              # "" is a token like any other
    assert one.info["encoder"].vocabs["weekday"].tokens == ["1", "2", "6", "3", "5"]


def test_random_split_vocabulary_from_train_and_encoder_reencodes(cache):
    d = load_avazu(CSV, min_count=2, seed=0, cache=cache)                            # 80/10/10 of 10 rows
    assert d.info["sizes"] == {"train": 8, "valid": 1, "test": 1}
    rows = random_split(10, valid_fraction=0.1, test_fraction=0.1, seed=0)
    t = read_avazu(CSV, cache=cache)
    enc = d.info["encoder"]
    for field in FIELDS:
        counts = t.iloc[rows["train"]][field].astype(str).value_counts()
        assert set(enc.vocabs[field].tokens) == set(counts[counts >= 2].index)     # counted on train rows only
    for split in ("train", "valid", "test"):
        b, ref = getattr(d, split), enc.transform(t.iloc[rows[split]])              # the encoder describes the data
        assert (b.sparse == ref.sparse).all() and (b.label == ref.label).all()
        assert b.label.tolist() == [CLICKS[i] for i in rows[split]]
    assert [c.min_count for c in avazu_columns()] == [5] * 23
    assert "test 0.1, valid 0.1" in d.info["protocol"] and d.info["cache_file"].endswith(".parquet")


def test_trains_one_epoch(cache):
    d = load_avazu(CSV, min_count=1, valid_fraction=0.2, test_fraction=0.2, seed=1, cache=cache)
    assert d.info["sizes"] == {"train": 6, "valid": 2, "test": 2}
    assert all(len(set(getattr(d, s).label.tolist())) == 2 for s in ("valid", "test"))   # AUC needs both classes
    row, result = run_model("dnn", d, TrainConfig(epochs=1, batch_size=4, progress=False, device="cpu"))
    assert row["data"] == "avazu" and row["epochs"] == 1 and 0.0 <= row["auc"] <= 1.0
    assert np.isfinite(result.history["train_loss"]).all()


def test_parse_hour_calendar():
    good = ["14102100", "16022923", "14123123", "00010100"]                          # 2016 is a leap year
    hod, wd = parse_hour(pa.array(good), np.arange(4), "f")
    assert hod.tolist() == [0, 23, 23, 0] and wd.tolist() == [1, 0, 2, 5]            # Mon 29 Feb 2016, Sat 1 Jan 2000
    for bad in ("15022900", "14043100", "14100012", "14130100", "14000100", "14102124", "1410210", "141021OO",
                "-4102100", "141021000", ""):
        with pytest.raises(ValueError, match=r"f: line 2: expected an hour YYMMDDHH \(a real date, hour 00-23\)"):
            parse_hour(pa.array(["14102100", bad]), np.array([1, 2]), "f")


# -- streaming and the parquet cache -----------------------------------------------------------------
@pytest.mark.parametrize("chunksize", [1, 2, 3])
def test_small_chunks_give_the_same_result(tmp_path, chunksize):
    a = read_avazu(CSV, cache=tmp_path / "a", chunksize=chunksize)                    # 1: the header is a chunk alone
    b = read_avazu(CSV, cache=tmp_path / "b")
    assert a.equals(b)
    x = load_avazu(CSV, min_count=2, cache=tmp_path / "a", chunksize=chunksize)
    y = load_avazu(CSV, min_count=2, cache=tmp_path / "b")
    for split in ("train", "valid", "test"):
        assert (getattr(x, split).sparse == getattr(y, split).sparse).all()


def test_cache_reused_then_invalidated_when_file_changes(tmp_path, cache, monkeypatch):
    src = shutil.copy(CSV, tmp_path / "train")
    first = load_avazu(src, min_count=2, cache=cache)
    files = sorted((cache / "avazu").iterdir())
    assert sorted(f.suffix.split("-")[0] for f in files) == [".enc", ".parquet"]    # parsed table + its encoding
    assert first.info["cache_file"] in map(str, files) and first.info["encoded_cache"] in map(str, files)
    real = av._parse
    monkeypatch.setattr(av, "_parse", lambda *a: pytest.fail("raw file parsed again"))
    again = load_avazu(src, min_count=2, cache=cache)
    assert (again.train.sparse == first.train.sparse).all() and again.info["sizes"] == first.info["sizes"]
    with open(src, "a") as fh:
        fh.write(CSV.read_text().splitlines()[1] + "\n")                          # an 11th row
    os.utime(src, ns=(os.stat(src).st_atime_ns, os.stat(src).st_mtime_ns + 10**9))
    calls = []
    monkeypatch.setattr(av, "_parse", lambda *a: calls.append(1) or real(*a))
    changed = load_avazu(src, min_count=2, cache=cache)
    assert calls == [1] and sum(changed.info["sizes"].values()) == 11
    left = sorted((cache / "avazu").iterdir())                  # the stale parquet and its encoding were replaced
    assert len(left) == 2 and changed.info["cache_file"] in map(str, left)


# -- errors ------------------------------------------------------------------------------------------
def edit(line: int, col: int | None, value: str) -> str:
    """The fixture with column ``col`` of ``line`` (1 = the header) set to ``value`` (``None``: last column removed)."""
    lines = [ln.split(",") for ln in CSV.read_text().splitlines()]
    if col is None:
        lines[line - 1].pop()
    else:
        lines[line - 1][col] = value
    return "\n".join(",".join(ln) for ln in lines) + "\n"


HOUR = r"expected an hour YYMMDDHH \(a real date, hour 00-23\), got "
BAD = [
    (5, None, "", r"line 5: expected 24 ','-separated columns, got 23"),
    (7, 5, "85f751fd,x", r"line 7: expected 24 ','-separated columns, got 25"),
    (3, 1, "2", r"line 3: expected a label 0 or 1, got '2'"),
    (11, 1, "", r"line 11: expected a label 0 or 1, got ''"),
    (4, 2, "14133100", r"line 4: " + HOUR + r"'14133100'"),                          # month 13
    (9, 2, "14022900", r"line 9: " + HOUR + r"'14022900'"),                          # 29 Feb 2014
    (10, 2, "14103124", r"line 10: " + HOUR + r"'14103124'"),                        # hour 24
    (2, 2, "2014-10-21", r"line 2: " + HOUR + r"'2014-10-21'"),
    (1, 2, "hours", r"line 1: expected the Avazu header 'id,click,hour,.*,C21' \(24 columns\), got 24 "
                    r"columns; column 3 is 'hours', expected 'hour'"),
    (1, None, "", r"line 1: expected the Avazu header .* got 23 columns; column 24 is nothing, expected 'C21'"),
]


@pytest.mark.parametrize("line, col, value, match", BAD, ids=[b[3].split(":")[1][:30] for b in BAD])
@pytest.mark.parametrize("chunksize", [2, 1000])
def test_malformed_line_names_line_and_field_and_writes_nothing(tmp_path, cache, line, col, value, match, chunksize):
    src = tmp_path / "train"
    src.write_text(edit(line, col, value))
    with pytest.raises(ValueError, match=r"train: " + match):
        load_avazu(src, min_count=2, cache=cache, chunksize=chunksize)
    assert not cache.exists()


def test_test_file_header_without_click_is_rejected(tmp_path, cache):
    src = tmp_path / "test"
    src.write_text(",".join(h for h in HEADER if h != "click") + "\n")            # Kaggle's unlabeled test file
    with pytest.raises(ValueError, match=r"column 2 is 'hour', expected 'click'"):
        read_avazu(src, cache=cache)
    assert not cache.exists()


def test_error_leaves_existing_cache_untouched(tmp_path, cache):
    src = shutil.copy(CSV, tmp_path / "train")
    load_avazu(src, min_count=2, cache=cache)
    before = snapshot(cache)
    Path(src).write_text(edit(8, 2, "14102699"))
    with pytest.raises(ValueError, match=r"line 8: " + HOUR + r"'14102699'"):
        load_avazu(src, min_count=2, cache=cache, chunksize=3)
    assert snapshot(cache) == before                                                # same files, no temp file left


def test_blank_lines_skipped_and_line_numbers_kept(tmp_path, cache):
    src = tmp_path / "train"
    lines = CSV.read_text().splitlines()
    src.write_text("\n" + "\n".join(lines[:4]) + "\n\n" + "\n".join(lines[4:]) + "\n")   # header on line 2
    assert read_avazu(src, cache=cache, chunksize=2).equals(read_avazu(CSV, cache=cache))
    src.write_text("\n" + edit(6, 1, "yes"))                                       # fixture line 6 → file line 7
    with pytest.raises(ValueError, match=r"line 7: expected a label 0 or 1, got 'yes'"):
        read_avazu(src, cache=cache, chunksize=2)


def test_bad_arguments_missing_empty_and_header_only_files(tmp_path, cache):
    with pytest.raises(ValueError, match=r"nope\.csv: missing file; expected the Avazu Kaggle train CSV"):
        load_avazu(tmp_path / "nope.csv", cache=cache)
    with pytest.raises(ValueError, match=r"min_count must be an int >= 1, got 0"):
        load_avazu(CSV, min_count=0, cache=cache)
    with pytest.raises(ValueError, match=r"test_fraction must lie in \[0, 1\), got 1\.0"):
        load_avazu(CSV, test_fraction=1.0, cache=cache)
    with pytest.raises(ValueError, match=r"chunksize must be an int >= 1, got 0"):
        load_avazu(CSV, chunksize=0, cache=cache)
    assert not cache.exists()
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ValueError, match=r"empty: line 1: expected the Avazu header .*, the file is empty"):
        load_avazu(empty, cache=cache)
    assert not cache.exists()
    header_only = tmp_path / "header_only"
    header_only.write_text(",".join(HEADER) + "\n")
    with pytest.raises(ValueError, match=r"header_only: no data rows \(the file is empty, blank or holds only a"):
        load_avazu(header_only, cache=cache)
    assert not list(cache.rglob("*.parquet")) and not list(cache.rglob(".*.tmp"))    # a failed load writes nothing
    with pytest.raises(ValueError, match=r"avazu: no value of field 'hour_of_day' occurs min_count=5 times in the "
                                         r"train split \(8 rows\)"):
        load_avazu(CSV, cache=cache)                                                # default min_count on 10 rows


def test_registry_reads_env_var(monkeypatch, cache):
    monkeypatch.delenv("CTRVIZ_AVAZU_CSV", raising=False)
    with pytest.raises(ValueError, match=r"avazu: set CTRVIZ_AVAZU_CSV to the path of the Avazu Kaggle train CSV"):
        load_dataset("avazu", cache=cache)
    monkeypatch.setenv("CTRVIZ_AVAZU_CSV", str(CSV))
    with pytest.raises(ValueError, match=r"no value of field 'hour_of_day' occurs min_count=5 times"):  # 10 rows only
        load_dataset("avazu", cache=cache)
    assert list((cache / "avazu").iterdir()) == []                              # a failed load leaves no cache file
    assert load_dataset("avazu", cache=cache, min_count=1).info["min_count"] == 1
    assert len(list((cache / "avazu").glob("*.parquet"))) == 1                      # a load that works caches the file
