"""MovieLens 100K as two CTR tasks: plain rating-CTR and the CAN paper's sequential (DIEN-style) protocol.

Data: GroupLens ml-100k — 100,000 ratings (1–5) of 1,682 movies by 943 users, 1997–98. Harper & Konstan,
"The MovieLens Datasets: History and Context", ACM TiiS 5(4), 2015. Research use; cite it; never
redistributed, so it is never committed (``data/README.md``). Read from a GroupLens folder
(``u.data``/``u.item``/``u.user``) or from the RecBole atomic files (``ml-100k.{inter,item,user}``) shipped in
the ``recbole==1.2.1`` wheel on PyPI (sha256 pinned); both give identical normalised frames.

Tasks (full protocol text in ``info["protocol"]`` and ``data/README.md``):

- ``"movielens"``: every rating is a row, label = rating ≥ 4; user/movie features plus the user's earlier
  movies as ``hist_item``/``hist_genre``; time-ordered 80/10/10 split.
- ``"movielens-seq"``: CAN Sec. 5.1's Amazon protocol (after DIN/DIEN): every rating with history is a
  positive, paired with a popularity-sampled negative sharing its history; per user the last positive is
  test, the one before valid.

Deviations from the paper: the paper's Amazon negatives are "products not rated by the user"; like the
DIEN scripts we only resample a negative equal to the positive, but draw by popularity in the *training*
period only (the scripts use the whole log, leaking test-period popularity).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from ctrviz.data.batch import CTRData
from ctrviz.data.cache import cache_dir
from ctrviz.data.encoders import Column, TableEncoder
from ctrviz.data.schema import Pair

GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
          "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
          "War", "Western")
TASKS = ("movielens", "movielens-seq")
AGE_EDGES, AGE_TOKENS = (18, 25, 35, 45, 55), ("<18", "18-24", "25-34", "35-44", "45-54", "55+")
_WHEEL, _WHEEL_SHA256 = "recbole==1.2.1", "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
_MEMBER = "recbole/dataset_example/ml-100k/ml-100k.{}"
_RB_FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")
_GL_FILES = ("u.data", "u.item", "u.user")
_RB_HEADERS = {"inter": ["user_id", "item_id", "rating", "timestamp"],
               "item": ["item_id", "movie_title", "release_year", "class"],
               "user": ["user_id", "age", "gender", "occupation", "zip_code"]}
_INT = re.compile(r"\d+(?:\.0*)?")  # RecBole types rating/timestamp as float: accept "4" and "4.0"


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(f"[movielens] {msg}", file=sys.stderr, flush=True)


def _read_table(path: Path, sep: str, ncols: int, encoding: str, header: list[str] | None = None) -> pd.DataFrame:
    """Rows of a delimited file as str columns 0..ncols-1, indexed by 1-based line number; checks column counts."""
    if not path.is_file():
        raise ValueError(f"{path}: missing file; expected a MovieLens 100K file here")
    lines = path.read_text(encoding=encoding).splitlines()
    start = 0
    if header is not None:
        names = [h.split(":")[0] for h in lines[0].split(sep)] if lines else []
        if names != header:
            raise ValueError(f"{path}: line 1: expected the header columns {header}, got {names}")
        start = 1
    rows, numbers = [], []
    for n, line in enumerate(lines[start:], start + 1):
        if not line.strip():
            continue
        parts = line.split(sep)
        if len(parts) != ncols:
            raise ValueError(f"{path}: line {n}: expected {ncols} {sep!r}-separated columns, got {len(parts)}")
        rows.append(parts)
        numbers.append(n)
    return pd.DataFrame(rows, index=pd.Index(numbers, name="line"), columns=range(ncols), dtype=object)


def _ints(df: pd.DataFrame, col: int, path: Path, what: str, lo: int | None = None, hi: int | None = None) -> np.ndarray:
    """Column ``col`` as int64, or a ValueError naming the file, the first bad line and what was expected."""
    s = df[col].str.strip()
    ok = s.str.fullmatch(_INT).to_numpy(dtype=bool)
    vals = np.where(ok, pd.to_numeric(s.where(ok, "0")).to_numpy(), 0).astype(np.int64)
    if lo is not None:
        ok &= (vals >= lo) & (vals <= hi)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        rng = f" in {lo}..{hi}" if lo is not None else ""
        raise ValueError(f"{path}: line {df.index[i]}: expected an integer {what}{rng}, got {df[col].iloc[i]!r}")
    return vals


def _unique_ids(ids: np.ndarray, df: pd.DataFrame, path: Path, what: str) -> None:
    dup = pd.Series(ids).duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        raise ValueError(f"{path}: line {df.index[i]}: {what} id {ids[i]} appears twice; expected unique ids")


def _read_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Parse and validate a GroupLens or RecBole ml-100k folder into (ratings, items, users)."""
    if (folder / "u.data").exists() or not (folder / "ml-100k.inter").exists():
        if not (folder / "u.data").exists() and not folder.is_dir():
            raise ValueError(f"{folder}: not a folder; expected GroupLens {_GL_FILES} or RecBole {_RB_FILES}")
        paths = [folder / f for f in _GL_FILES]
        r = _read_table(paths[0], "\t", 4, "latin-1")
        it = _read_table(paths[1], "|", 5 + len(GENRES), "latin-1")
        us = _read_table(paths[2], "|", 5, "latin-1")
        flags = np.stack([_ints(it, 5 + g, paths[1], f"0/1 flag for genre {name!r}", 0, 1)
                          for g, name in enumerate(GENRES)], 1)
        genres = [[GENRES[g] for g in np.flatnonzero(row)] for row in flags]
        titles = it[1].str.replace(r"\s*\(\d{4}\)\s*$", "", regex=True).str.strip()
        years = it[2].str.extract(r"(\d{4})\s*$")[0]
    else:
        paths = [folder / f for f in _RB_FILES]
        r = _read_table(paths[0], "\t", 4, "utf-8", _RB_HEADERS["inter"])
        it = _read_table(paths[1], "\t", 4, "utf-8", _RB_HEADERS["item"])
        us = _read_table(paths[2], "\t", 5, "utf-8", _RB_HEADERS["user"])
        order = {g: k for k, g in enumerate(GENRES)}
        genres = []
        for line, cls in zip(it.index, it[3]):
            bad = [g for g in cls.split() if g not in order]
            if bad:
                raise ValueError(f"{paths[1]}: line {line}: unknown genre {bad[0]!r}; expected one of {GENRES}")
            genres.append(sorted(set(cls.split()), key=order.__getitem__))
        titles = it[1].str.strip().replace("unkonwn", "unknown")  # RecBole's typo for GroupLens' movie 267
        years = it[2].str.strip().where(it[2].str.strip().str.fullmatch(r"\d{4}"))
    ratings = pd.DataFrame({c: _ints(r, k, paths[0], c) for k, c in enumerate(("user", "item", "rating", "timestamp"))})
    _ints(r, 2, paths[0], "rating", 1, 5)
    item_ids = _ints(it, 0, paths[1], "item id")
    _unique_ids(item_ids, it, paths[1], "item")
    items = pd.DataFrame({"item": item_ids, "title": titles.to_numpy(dtype=object),
                          "year": pd.array(pd.to_numeric(years).to_numpy(), dtype="Int64"),
                          "genres": pd.Series([g or ["unknown"] for g in genres], dtype=object).to_numpy()})
    user_ids = _ints(us, 0, paths[2], "user id")
    _unique_ids(user_ids, us, paths[2], "user")
    users = pd.DataFrame({"user": user_ids, "age": _ints(us, 1, paths[2], "age"),
                          "gender": us[2].str.strip().to_numpy(dtype=object),
                          "occupation": us[3].str.strip().to_numpy(dtype=object)})
    for col, known, what, p in (("item", items.item, "item", paths[1]), ("user", users.user, "user", paths[2])):
        miss = ~ratings[col].isin(known).to_numpy()
        if miss.any():
            i = int(np.flatnonzero(miss)[0])
            raise ValueError(f"{paths[0]}: line {r.index[i]}: {what} {ratings[col].iloc[i]} is not listed in {p}")
    return (ratings, items.sort_values("item", ignore_index=True), users.sort_values("user", ignore_index=True))


def _download_wheel(dest: Path) -> Path:
    """``pip download`` the pinned RecBole wheel into ``dest``; return the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", _WHEEL, "-d", str(dest)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    wheels = sorted(dest.glob("recbole-*.whl"))
    if done.returncode != 0 or not wheels:
        raise RuntimeError(f"could not download {_WHEEL} from PyPI ({' '.join(cmd)}):\n{done.stderr[-2000:]}\n"
                           "Pass source= a GroupLens ml-100k folder instead.")
    return wheels[0]


def fetch_movielens(cache: str | Path | None = None, *, progress: bool = False) -> Path:
    """The folder holding ``ml-100k.{inter,item,user}``; downloads and verifies them on first use.

    Downloads the ``recbole==1.2.1`` wheel with pip, checks its pinned sha256, extracts the three RecBole
    atomic files to a temp folder, validates them, then renames it to ``<cache>/ml-100k``. Later calls
    only return that folder. On any error nothing is left in the cache.

    Args:
        cache: cache root; default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``.
        progress: print what happens to stderr.
    """
    root = cache_dir(cache)
    final = root / "ml-100k"
    if all((final / f).is_file() for f in _RB_FILES):
        return final
    with tempfile.TemporaryDirectory() as dl:
        _log(progress, f"downloading {_WHEEL} from PyPI with pip")
        wheel = _download_wheel(Path(dl))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != _WHEEL_SHA256:
            raise ValueError(f"{wheel.name}: sha256 {digest} does not match the pinned {_WHEEL_SHA256}; "
                             "refusing to use it (nothing cached)")
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".ml-100k.", suffix=".tmp"))
        try:
            with zipfile.ZipFile(wheel) as zf:
                for f in _RB_FILES:
                    try:
                        (tmp / f).write_bytes(zf.read(_MEMBER.format(f.split(".")[-1])))
                    except KeyError:
                        raise ValueError(f"{wheel.name}: lacks {_MEMBER.format(f.split('.')[-1])}") from None
            _read_folder(tmp)  # validate before anything becomes visible in the cache
            try:
                os.rename(tmp, final)
            except OSError:
                if not all((final / f).is_file() for f in _RB_FILES):  # not a concurrent download: give up
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    _log(progress, f"cached in {final}")
    return final


def read_movielens_raw(source: str | Path | None = None, cache: str | Path | None = None
                       ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Normalised ml-100k frames ``(ratings, items, users)``, identical for both file formats.

    Args:
        source: a GroupLens ``ml-100k`` folder (``u.data``, ``u.item``, ``u.user``) or a folder of RecBole
            ``ml-100k.{inter,item,user}`` files; ``None``: :func:`fetch_movielens` into ``cache``.
        cache: cache root used when ``source`` is ``None``.

    Returns:
        ratings (user, item, rating, timestamp; int64, in file order), items (item, title without the year,
        year (Int64, <NA> if unknown), genres: list of str in GroupLens order, ``["unknown"]`` if none) and
        users (user, age, gender, occupation). Malformed input raises ``ValueError`` naming file and line.
    """
    return _read_folder(Path(source).expanduser() if source is not None else fetch_movielens(cache))


def _histories(tokens: np.ndarray, pos: np.ndarray, max_len: int) -> np.ndarray:
    """Per row (sorted by user, then time) the tokens of the user's previous ≤ max_len rows, as arrays.

    Example:
        >>> h = _histories(np.array(list("abcde"), dtype=object), np.array([0, 1, 2, 0, 1]), 1)
        >>> [x.tolist() for x in h]
        [[], ['a'], ['b'], [], ['d']]
    """
    k = np.minimum(pos, max_len)                                          # (N,) history length per row
    offs = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)           # (K,) 0..k-1 within each row
    flat = tokens[np.repeat(np.arange(len(pos)) - k, k) + offs]          # (K,) tokens, oldest first
    out = np.empty(len(pos), dtype=object)
    out[:] = np.split(flat, np.cumsum(k)[:-1]) if len(pos) else []
    return out


def _protocol(task: str, max_len: int, seed: int) -> str:
    if task == "movielens":
        return (f"MovieLens 100K, plain CTR: one row per rating, label = rating >= 4. Features: user, item, age "
                f"bucket {AGE_TOKENS}, gender, occupation, first genre, all genres; hist_item/hist_genre = the "
                f"user's earlier ratings (time order, ties by file order), last {max_len} kept. Split: all ratings "
                "sorted by timestamp (stable), first 80% train, next 10% valid, last 10% test. Encoders fitted "
                "on train; unseen ids -> OOV.")
    return (f"MovieLens 100K, CAN/DIEN Amazon protocol: per user in time order (ties by file order), each rating "
            f"with an earlier one is a positive (target = that movie, history = previous <= {max_len} movies), "
            "paired with a negative sharing user and history whose movie is drawn by popularity among the "
            "training-period ratings (all but each user's last two), resampled while equal to the positive "
            f"(seed {seed}). Split per user: last positive (+ negative) test, second-to-last valid, rest train. "
            "Encoders fitted on train; unseen ids -> OOV.")


def load_movielens(task: str = "movielens", *, source: str | Path | None = None, cache: str | Path | None = None,
                   max_len: int = 50, seed: int = 0, progress: bool = False) -> CTRData:
    """MovieLens 100K as a :class:`~ctrviz.data.batch.CTRData` for one of two tasks (module docstring).

    Args:
        task: ``"movielens"`` (plain CTR, time split) or ``"movielens-seq"`` (CAN Sec. 5.1 Amazon protocol).
        source: a GroupLens or RecBole ml-100k folder; ``None``: download once into ``cache``.
        cache: cache root; default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``.
        max_len: T of ``hist_item``/``hist_genre``; the most recent ``max_len`` movies are kept.
        seed: seeds the negative sampling of ``"movielens-seq"``.
        progress: print stages and timings to stderr.

    Returns:
        ``CTRData`` with pairs item × hist_item and genre × hist_genre, user_field ``"user"``; ``info`` holds
        sizes, click rates, the protocol text, the source and the fitted ``TableEncoder`` (to decode ids).

    Example:
        >>> import pathlib, tempfile
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "u.data").write_text("".join(f"{1 + k % 2}\\t{1 + k % 3}\\t{1 + k % 5}\\t{k}\\n" for k in range(10)))
        >>> _ = (d / "u.item").write_text("".join(f"{i}|Movie {i} (1995)|01-Jan-1995||url" + "|0" * (i - 1) + "|1"
        ...                                       + "|0" * (19 - i) + "\\n" for i in (1, 2, 3)))
        >>> _ = (d / "u.user").write_text("1|24|M|student|00000\\n2|40|F|other|11111\\n")
        >>> data = load_movielens("movielens", source=d, max_len=3)
        >>> len(data.train), len(data.valid), len(data.test), data.schema["hist_item"].max_len
        (8, 1, 1, 3)
        >>> len(load_movielens("movielens-seq", source=d).test)   # last positive + negative of both users
        4
    """
    if task not in TASKS:
        raise ValueError(f"unknown MovieLens task {task!r}; choose one of {TASKS}")
    if not isinstance(max_len, int) or isinstance(max_len, bool) or max_len < 1:
        raise ValueError(f"max_len must be an int >= 1, got {max_len!r}")
    t0 = time.perf_counter()
    ratings, items, users = read_movielens_raw(source, cache)
    src = str(Path(source).expanduser() if source is not None else cache_dir(cache) / "ml-100k")
    _log(progress, f"read {len(ratings)} ratings from {src} in {time.perf_counter() - t0:.2f}s")
    t1 = time.perf_counter()
    n = len(ratings)
    order = np.lexsort((np.arange(n), ratings.timestamp.to_numpy(), ratings.user.to_numpy()))
    r = ratings.iloc[order].reset_index(drop=True)                       # by user, time, file order
    pos = r.groupby("user", sort=False).cumcount().to_numpy()            # rank within the user
    ginfo = items.set_index("item")["genres"]
    first = pd.Series([g[0] for g in ginfo], index=ginfo.index)
    item_tok = r.item.astype(str).to_numpy(dtype=object)
    genre_tok = first.reindex(r.item).to_numpy(dtype=object)
    r["hist_item"] = _histories(item_tok, pos, max_len)
    r["hist_genre"] = _histories(genre_tok, pos, max_len)
    r["item"], r["genre"] = item_tok, genre_tok
    if task == "movielens":
        u = users.set_index("user")
        age = pd.Series(np.asarray(AGE_TOKENS, dtype=object)[np.searchsorted(AGE_EDGES, u.age, side="right")],
                        index=u.index)
        r["age"], r["gender"], r["occupation"] = (age.reindex(r.user).to_numpy(), u.gender.reindex(r.user).to_numpy(),
                                                  u.occupation.reindex(r.user).to_numpy())
        r["genres"] = ginfo.reindex(r.item.astype(np.int64)).to_numpy()
        r["label"] = (r.rating >= 4).astype(np.int64)
        r["t"] = np.argsort(order, kind="stable")                         # original row → rank in file order
        r = r.sort_values(["timestamp", "t"], kind="stable", ignore_index=True)
        cut = (n * 8 // 10, n * 9 // 10)
        parts = {"train": r.iloc[:cut[0]], "valid": r.iloc[cut[0]:cut[1]], "test": r.iloc[cut[1]:]}
        extra = [Column("age", "sparse"), Column("gender", "sparse"), Column("occupation", "sparse")]
        columns = [Column("user", "sparse"), Column("item", "sparse"), *extra, Column("genre", "sparse"),
                   Column("genres", "multi", vocab="genre", max_len=6)]
    else:
        size = np.bincount(pd.factorize(r.user)[0])[pd.factorize(r.user)[0]]  # ratings of the row's user
        from_end = size - 1 - pos                                        # 0 = the user's last rating
        period = r.item.to_numpy()[from_end >= 2]                        # training period: all but last two
        cands, counts = np.unique(period, return_counts=True)
        if len(cands) < 2:
            raise ValueError(f"{src}: movielens-seq needs at least 2 movies rated in the training period, "
                             f"got {len(cands)}; use more ratings")
        p = r[pos >= 1].reset_index(drop=True).assign(label=1)          # positives, in user/time order
        rng = np.random.default_rng(seed)
        neg = rng.choice(cands, size=len(p), p=counts / counts.sum())
        while (same := neg == p.item.to_numpy()).any():                   # DIEN: resample if equal to positive
            neg[same] = rng.choice(cands, size=int(same.sum()), p=counts / counts.sum())
        ng = p.assign(item=neg, genre=first.reindex(neg).to_numpy(dtype=object), label=0)
        split = np.select([from_end[pos >= 1] == 0, from_end[pos >= 1] == 1], ["test", "valid"], "train")
        both = pd.concat([p, ng], keys=[0, 1], names=["neg", "row"]).swaplevel().sort_index()  # pos, neg, pos…
        both["item"] = both.item.astype(str)
        both["split"] = np.repeat(split, 2)
        parts = {s: both[both.split == s].reset_index(drop=True) for s in ("train", "valid", "test")}
        columns = [Column("user", "sparse"), Column("item", "sparse"), Column("genre", "sparse")]
    columns += [Column("hist_item", "sequence", vocab="item", max_len=max_len),
                Column("hist_genre", "sequence", vocab="genre", max_len=max_len)]
    if len(parts["train"]) == 0:
        raise ValueError(f"{src}: the {task} train split is empty; the data has too few ratings")
    _log(progress, f"built {task} rows in {time.perf_counter() - t1:.2f}s")
    t2 = time.perf_counter()
    enc = TableEncoder(columns, label="label", pairs=(Pair("item", "hist_item"), Pair("genre", "hist_genre")),
                       user_field="user").fit(parts["train"])
    batches = {s: enc.transform(df) for s, df in parts.items()}
    _log(progress, f"encoded in {time.perf_counter() - t2:.2f}s")
    info = {"sizes": {s: len(b) for s, b in batches.items()},
            "click_rate": {s: float(b.label.mean()) if len(b) else float("nan") for s, b in batches.items()},
            "protocol": _protocol(task, max_len, seed), "source": src, "max_len": max_len, "seed": seed,
            "n_ratings": n, "n_users": int(ratings.user.nunique()), "n_items": int(ratings.item.nunique()),
            "encoder": enc}
    return CTRData(task, enc.schema, batches["train"], batches["valid"], batches["test"], info)
