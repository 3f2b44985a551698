"""MovieLens 100K loader: both file formats, both tasks, error paths — on a hand-written 20-rating fixture.

The fixture (tests/fixtures/ml100k/, the same data as GroupLens files and as RecBole atomic files):
4 users × 6 movies, timestamps 881250000 + t. Per user, in time order (item@t):

    user 1: 1@1  2@3  3@5  4@8   6@19
    user 2: 2@2  1@4  5@4  3@9   4@17     (1@4 comes before 5@4 in the file: ties keep file order)
    user 3: 1@6  3@7  4@10 2@12  5@18
    user 4: 4@11 1@13 2@14 3@15  6@20

Movie 6 is rated only in the last 10 % of time, so it is out-of-vocabulary outside train.
"""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ctrviz.data.movielens as ml
from ctrviz.data.movielens import fetch_movielens, load_movielens, read_movielens_raw
from ctrviz.data.schema import OOV_ID, PAD_ID

FIX = Path(__file__).parent / "fixtures" / "ml100k"
GL, RB = FIX / "grouplens", FIX / "recbole"


def rows(data, split: str) -> list[tuple[str, str]]:
    """(user, item) tokens of a split's rows, decoded with the fitted encoder."""
    v = data.info["encoder"].vocabs
    b = getattr(data, split)
    return list(zip(v["user"].decode(b.sparse[:, 0]), v["item"].decode(b.sparse[:, 1]), strict=True))


def hist(data, split: str, name: str = "hist_item") -> list[list[str]]:
    """Decoded history of every row of a split, padding dropped."""
    vocab = data.info["encoder"].vocabs[data.schema[name].table]
    return [vocab.decode([i for i in r if i != PAD_ID]) for r in getattr(data, split).seqs[name].tolist()]


# -- reading -----------------------------------------------------------------------------------------
def test_both_formats_give_identical_frames():
    gl, rb = read_movielens_raw(GL), read_movielens_raw(RB)
    for a, b in zip(gl, rb, strict=True):
        pd.testing.assert_frame_equal(a, b)
    ratings, items, users = gl
    assert list(ratings.columns) == ["user", "item", "rating", "timestamp"]
    assert ratings.iloc[0].tolist() == [3, 4, 5, 881250010]                  # file order kept
    g = dict(zip(items.item, items.genres, strict=True))
    assert g[1] == ["Animation", "Children's", "Comedy"]
    assert g[4] == ["Film-Noir", "Sci-Fi"]                                   # RecBole wrote "Sci-Fi Film-Noir"
    assert g[5] == ["unknown"]                                               # no genre flag at all
    assert items.title.tolist()[2:5] == ["Misérables, Les", "Blade Runner", "Good Morning (1971)"]
    assert items.year.isna().tolist() == [False] * 4 + [True, True]          # "(V)" and "unkonwn" → <NA>
    assert users.iloc[1].tolist() == [2, 53, "F", "other"]


def test_cache_holding_recbole_files_is_read_without_download(tmp_path, monkeypatch):
    shutil.copytree(RB, tmp_path / "ml-100k")
    monkeypatch.setattr(ml, "_download_wheel", lambda dest: pytest.fail("must not download"))
    for a, b in zip(read_movielens_raw(cache=tmp_path), read_movielens_raw(GL), strict=True):
        pd.testing.assert_frame_equal(a, b)


# -- task "movielens" --------------------------------------------------------------------------------
def test_movielens_labels_and_time_split():
    d = load_movielens("movielens", source=GL)
    assert d.info["sizes"] == {"train": 16, "valid": 2, "test": 2}
    assert rows(d, "train") == [(str(u), str(i)) for u, i in [(1, 1), (2, 2), (1, 2), (2, 1), (2, 5), (1, 3), (3, 1),
                                (3, 3), (1, 4), (2, 3), (3, 4), (4, 4), (3, 2), (4, 1), (4, 2), (4, 3)]]
    assert d.train.label.tolist() == [1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1]   # rating >= 4
    assert rows(d, "valid") == [("2", "4"), ("3", "5")] and d.valid.label.tolist() == [0, 1]
    assert rows(d, "test") == [("1", "<oov>"), ("4", "<oov>")] and d.test.label.tolist() == [1, 0]
    assert d.test.sparse[:, 1].tolist() == [OOV_ID, OOV_ID]                  # movie 6 never in train
    assert d.info["click_rate"]["train"] == pytest.approx(10 / 16)
    assert d.schema.sparse_names == ("user", "item", "age", "gender", "occupation", "genre")
    assert [(p.induction, p.feed) for p in d.schema.pairs] == [("item", "hist_item"), ("genre", "hist_genre")]
    assert d.schema.user_field == "user" and d.schema["genres"].max_len == 6
    ages = d.info["encoder"].vocabs["age"].decode(d.train.sparse[:4, 2])
    assert ages == ["18-24", "45-54", "18-24", "45-54"]                      # users 1, 2, 1, 2: ages 24, 53
    assert d.valid.group.tolist() == [2, 3] and d.test.group.tolist() == [1, 4]   # raw user ids for GAUC


def test_movielens_histories_and_truncation():
    d = load_movielens("movielens", source=GL)
    h = hist(d, "train")
    assert h[0] == [] and h[1] == [] and h[6] == [] and h[11] == []          # each user's first rating
    assert h[3] == ["2"] and h[4] == ["2", "1"]                              # tie at t=4: file order decides
    assert hist(d, "test") == [["1", "2", "3", "4"], ["4", "1", "2", "3"]]
    d2 = load_movielens("movielens", source=GL, max_len=2)
    assert hist(d2, "test") == [["3", "4"], ["2", "3"]]                      # the most recent two kept
    assert hist(d2, "test", "hist_genre") == [["Drama", "Film-Noir"], ["Action", "Drama"]]
    genres = d.info["encoder"].vocabs["genre"]
    assert genres.decode([i for i in d.train.seqs["genres"][0].tolist() if i]) == ["Animation", "Children's", "Comedy"]
    assert genres.decode(d.train.sparse[:1, 5]) == ["Animation"]            # first genre


# -- task "movielens-seq" ----------------------------------------------------------------------------
def test_seq_positives_negatives_and_split():
    d = load_movielens("movielens-seq", source=GL, max_len=2, seed=0)
    assert d.info["sizes"] == {"train": 16, "valid": 8, "test": 8}
    assert d.schema.sparse_names == ("user", "item", "genre") and d.schema.seq_names == ("hist_item", "hist_genre")
    for split in ("train", "valid", "test"):
        b, r, h = getattr(d, split), rows(d, split), hist(d, split)
        assert b.label.tolist() == [1, 0] * (len(b) // 2)                    # each positive, then its negative
        for k in range(0, len(b), 2):
            assert r[k][0] == r[k + 1][0] and h[k] == h[k + 1]               # same user and history
            assert r[k][1] != r[k + 1][1]                                    # a different target
            assert (b.seqs["hist_genre"][k] == b.seqs["hist_genre"][k + 1]).all()
    pos = lambda split: [(*r, h) for r, h in zip(rows(d, split), hist(d, split), strict=True)][::2]  # noqa: E731
    assert pos("test") == [("1", "<oov>", ["3", "4"]), ("2", "4", ["5", "3"]), ("3", "5", ["4", "2"]),
                           ("4", "<oov>", ["2", "3"])]                       # each user's last rating
    assert pos("valid") == [("1", "4", ["2", "3"]), ("2", "3", ["1", "5"]), ("3", "2", ["3", "4"]),
                            ("4", "3", ["1", "2"])]
    assert pos("train") == [("1", "2", ["1"]), ("1", "3", ["1", "2"]), ("2", "1", ["2"]), ("2", "5", ["2", "1"]),
                            ("3", "3", ["1"]), ("3", "4", ["1", "3"]), ("4", "1", ["4"]), ("4", "2", ["4", "1"])]


def test_seq_negatives_come_from_training_period_by_popularity():
    # training period = all but each user's last two ratings: movies 1 (×4), 2 (×3), 3 (×2), 4 (×2), 5 (×1).
    # Movie 6 (rated only at t=19, 20) must never be a negative.
    counts: dict[str, int] = {}
    for seed in range(20):
        d = load_movielens("movielens-seq", source=GL, seed=seed)
        for split in ("train", "valid", "test"):
            for _, item in rows(d, split)[1::2]:
                counts[item] = counts.get(item, 0) + 1
    assert set(counts) <= {"1", "2", "3", "4", "5"}
    assert counts["1"] > counts["5"]
    a, b = (load_movielens("movielens-seq", source=GL, seed=7) for _ in range(2))
    assert (a.train.sparse == b.train.sparse).all()                          # seeded


# -- errors ------------------------------------------------------------------------------------------
def edit(folder: Path, name: str, line: int, text: str | None, encoding: str = "latin-1") -> None:
    lines = (folder / name).read_text(encoding=encoding).splitlines()
    lines[line - 1:line] = [] if text is None else [text]
    (folder / name).write_text("\n".join(lines) + "\n", encoding=encoding)


BAD = [
    ("grouplens", "u.data", 3, "2\t2\t4", r"u\.data: line 3: expected 4 '\\t'-separated columns, got 3"),
    ("grouplens", "u.data", 2, "x1\t1\t5\t881250001", r"u\.data: line 2: expected an integer user id, got 'x1'"),
    ("grouplens", "u.data", 5, "2\t1\t6\t881250004", r"u\.data: line 5: expected an integer rating in 1\.\.5, got '6'"),
    ("grouplens", "u.data", 7, "3\t1\t3\t8812.5", r"u\.data: line 7: expected an integer timestamp, got '8812\.5'"),
    ("grouplens", "u.data", 1, "3\t9\t5\t881250010", r"u\.data: line 1: item 9 is not listed in .*u\.item"),
    ("grouplens", "u.item", 2, "2|GoldenEye (1995)|||u" + "|2" * 19, r"u\.item: line 2: expected an integer 0/1 flag"),
    ("grouplens", "u.item", 3, "1|Dup (1995)|||u" + "|0" * 19, r"u\.item: line 3: item id 1 appears twice"),
    ("grouplens", "u.user", 4, "4|old|F|writer|15213", r"u\.user: line 4: expected an integer age, got 'old'"),
    ("recbole", "ml-100k.inter", 1, "user\titem\trating\ttime", r"ml-100k\.inter: line 1: expected the header"),
    ("recbole", "ml-100k.inter", 3, "1\t1\t5\t881250001\t7", r"ml-100k\.inter: line 3: expected 4 '\\t'-separated"),
    ("recbole", "ml-100k.item", 5, "4\tBlade Runner\t1982\tNoir", r"ml-100k\.item: line 5: unknown genre 'Noir'"),
]


@pytest.mark.parametrize("fmt, name, line, text, match", BAD, ids=[f"{b[1]}:{b[2]}" for b in BAD])
def test_malformed_line_names_file_and_line(tmp_path, fmt, name, line, text, match):
    src = shutil.copytree(FIX / fmt, tmp_path / "src")
    edit(src, name, line, text, "utf-8" if fmt == "recbole" else "latin-1")
    with pytest.raises(ValueError, match=match):
        load_movielens("movielens", source=src, cache=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_missing_file_and_empty_folder(tmp_path):
    src = shutil.copytree(GL, tmp_path / "src")
    (src / "u.user").unlink()
    with pytest.raises(ValueError, match=r"u\.user: missing file"):
        read_movielens_raw(src)
    with pytest.raises(ValueError, match=r"found neither u\.data nor ml-100k\.inter"):
        read_movielens_raw(tmp_path / "nowhere")


def test_unknown_task_and_bad_max_len():
    with pytest.raises(ValueError, match=r"unknown MovieLens task 'ml'.*'movielens', 'movielens-seq'"):
        load_movielens("ml", source=GL)
    with pytest.raises(ValueError, match=r"max_len must be an int >= 1, got 0"):
        load_movielens(source=GL, max_len=0)


# -- download (faked: no network in tests) ----------------------------------------------------------
def fake_wheel(path: Path, folder: Path = RB, skip: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for f in ("inter", "item", "user"):
            if f != skip:
                zf.write(folder / f"ml-100k.{f}", ml._MEMBER.format(f"ml-100k.{f}"))
        zf.writestr("recbole/__init__.py", "")
    return path


@pytest.fixture
def downloads(tmp_path, monkeypatch):
    """Replace pip with a fake wheel built from ``state['folder']``; count the downloads."""
    state = {"folder": RB, "skip": "", "calls": 0, "pin": True}

    def download(dest: Path) -> Path:
        state["calls"] += 1
        wheel = fake_wheel(dest / "recbole-1.2.1-py3-none-any.whl", state["folder"], state["skip"])
        if state["pin"]:
            monkeypatch.setattr(ml, "_WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
        return wheel

    monkeypatch.setattr(ml, "_download_wheel", download)
    return state


def test_fetch_extracts_once_then_reads_cache(tmp_path, downloads):
    cache = tmp_path / "cache"
    folder = fetch_movielens(cache)
    assert folder == cache / "ml-100k" and sorted(p.name for p in cache.iterdir()) == ["ml-100k"]
    assert sorted(p.name for p in folder.iterdir()) == ["ml-100k.inter", "ml-100k.item", "ml-100k.user"]
    d = load_movielens("movielens", cache=cache)
    assert downloads["calls"] == 1 and d.info["source"] == str(folder) and len(d.train) == 16


def test_sha256_mismatch_caches_nothing(tmp_path, downloads):
    downloads["pin"] = False
    with pytest.raises(ValueError, match=r"sha256 [0-9a-f]{64} does not match the pinned 9c99482"):
        fetch_movielens(tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.parametrize("skip", ["", "user"])
def test_bad_download_caches_nothing(tmp_path, downloads, skip):
    bad = shutil.copytree(RB, tmp_path / "bad")
    edit(bad, "ml-100k.inter", 4, "4\t6\t3", "utf-8")
    downloads.update(folder=bad, skip=skip)
    match = r"lacks recbole/dataset_example/ml-100k/ml-100k\.user" if skip else r"ml-100k\.inter: line 4: expected 4"
    with pytest.raises(ValueError, match=match):
        load_movielens(cache=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


# -- the real data: fetched from PyPI (the recbole wheel, which CI reaches) into the user cache on the first run,
# read from there on later runs; a failed download fails the test (it never skips)


@pytest.mark.slow
def test_real_movielens_100k():
    real = fetch_movielens()
    ratings, items, users = read_movielens_raw(real)
    assert (len(ratings), len(items), len(users)) == (100_000, 1682, 943)
    assert np.bincount(ratings.rating)[1:].tolist() == [6110, 11370, 27145, 34174, 21201]
    assert items.genres.map(len).max() == 6 and users.age.between(7, 73).all()
    d = load_movielens("movielens", cache=real.parent, max_len=5)
    assert d.info["sizes"] == {"train": 80_000, "valid": 10_000, "test": 10_000}
    s = load_movielens("movielens-seq", cache=real.parent, max_len=5)
    assert s.info["sizes"] == {"train": 2 * (100_000 - 3 * 943), "valid": 2 * 943, "test": 2 * 943}
