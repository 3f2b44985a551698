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
import torch

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
_MEMBER = "recbole/dataset_example/ml-100k/{}"
_RB_FILES = ("ml-100k.inter", "ml-100k.item", "ml-100k.user")
_GL_FILES = ("u.data", "u.item", "u.user")
_RB_HEADERS = {"inter": ["user_id", "item_id", "rating", "timestamp"],
               "item": ["item_id", "movie_title", "release_year", "class"],
               "user": ["user_id", "age", "gender", "occupation", "zip_code"]}
_INT = re.compile(r"\d+(?:\.0*)?")  # RecBole types rating/timestamp as float: accept "4" and "4.0"


def _read_table(path: Path, sep: str, ncols: int, encoding: str, header: list[str] | None = None) -> pd.DataFrame:
    """Rows of a delimited file as str columns 0..ncols-1, indexed by 1-based line number; checks column counts."""
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a file; expected a MovieLens 100K file here")
    if not path.is_file():
        raise ValueError(f"{path}: missing file; expected a MovieLens 100K file here")
    data = path.read_bytes()
    try:
        lines = data.decode(encoding).splitlines()
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ValueError(f"{path}: line {line}: expected {encoding} text") from None
    names = [h.split(":")[0] for h in lines[0].split(sep)] if header is not None and lines else None
    if header is not None and names != header:
        raise ValueError(f"{path}: line 1: expected the header columns {header}, got {names}")
    rows, numbers = [], []
    for n, line in enumerate(lines[1:] if header else lines, 2 if header else 1):
        if line.strip():
            if len(parts := line.split(sep)) != ncols:
                raise ValueError(f"{path}: line {n}: expected {ncols} {sep!r}-separated columns, got {len(parts)}")
            rows.append(parts)
            numbers.append(n)
    return pd.DataFrame(rows, index=pd.Index(numbers, name="line"), columns=range(ncols), dtype=object)


def _ints(df: pd.DataFrame, col: int, path: Path, what: str, lo: int | None = None, hi: int = 0,
          unique: bool = False) -> np.ndarray:
    """Column ``col`` as int64, or a ValueError naming the file, the first bad line and what was expected."""
    s = df[col].str.strip()
    ok = np.array(s.str.fullmatch(_INT), dtype=bool)
    vals = np.where(ok, pd.to_numeric(s.where(ok, "0")).to_numpy(), 0).astype(np.int64)
    if lo is not None:
        ok &= (vals >= lo) & (vals <= hi)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        rng = f" in {lo}..{hi}" if lo is not None else ""
        raise ValueError(f"{path}: line {df.index[i]}: expected an integer {what}{rng}, got {df[col].iloc[i]!r}")
    if unique and (dup := pd.Series(vals).duplicated().to_numpy()).any():
        i = int(np.flatnonzero(dup)[0])
        raise ValueError(f"{path}: line {df.index[i]}: {what} {vals[i]} appears twice; expected unique ids")
    return vals


def _year(s: pd.Series) -> pd.api.extensions.ExtensionArray:
    """Four-digit years as Int64, anything else <NA>."""
    s = s.fillna("").astype(str).str.strip()
    return pd.array(pd.to_numeric(s.where(s.str.fullmatch(r"\d{4}"))).to_numpy(), dtype="Int64")


def _read_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Parse and validate a GroupLens or RecBole ml-100k folder into (ratings, items, users)."""
    if (folder / "u.data").exists():
        paths = [folder / f for f in _GL_FILES]
        r = _read_table(paths[0], "\t", 4, "latin-1")
        it = _read_table(paths[1], "|", 5 + len(GENRES), "latin-1")
        us = _read_table(paths[2], "|", 5, "latin-1")
        flags = np.stack([_ints(it, 5 + g, paths[1], f"0/1 flag for genre {name!r}", 0, 1)
                          for g, name in enumerate(GENRES)], 1)
        genres = [[GENRES[g] for g in np.flatnonzero(row)] for row in flags]
        last = it[1].str.strip().str.extract(r"^(.*?)\s*\(([^()]*)\)$")  # as RecBole: "title (year)"
        titles, years = last[0].fillna(it[1].str.strip()), _year(last[1])
    elif (folder / "ml-100k.inter").exists():
        paths = [folder / f for f in _RB_FILES]
        r = _read_table(paths[0], "\t", 4, "utf-8", _RB_HEADERS["inter"])
        it = _read_table(paths[1], "\t", 4, "utf-8", _RB_HEADERS["item"])
        us = _read_table(paths[2], "\t", 5, "utf-8", _RB_HEADERS["user"])
        genres = []
        for line, cls in zip(it.index, it[3], strict=True):
            if bad := [g for g in cls.split() if g not in GENRES]:
                raise ValueError(f"{paths[1]}: line {line}: unknown genre {bad[0]!r}; expected one of {GENRES}")
            genres.append(sorted(set(cls.split()), key=GENRES.index))
        titles, years = it[1].str.strip().replace("unkonwn", "unknown"), _year(it[2])  # RecBole's typo, movie 267
    else:
        raise ValueError(f"{folder}: expected a MovieLens 100K folder holding GroupLens {_GL_FILES} or RecBole "
                         f"{_RB_FILES}; found neither u.data nor ml-100k.inter")
    ratings = pd.DataFrame({"user": _ints(r, 0, paths[0], "user id"), "item": _ints(r, 1, paths[0], "item id"),
                            "rating": _ints(r, 2, paths[0], "rating", 1, 5),
                            "timestamp": _ints(r, 3, paths[0], "timestamp")})
    items = pd.DataFrame({"item": _ints(it, 0, paths[1], "item id", unique=True),
                          "title": titles.to_numpy(dtype=object), "year": years,
                          "genres": pd.Series([g or ["unknown"] for g in genres], dtype=object).to_numpy()})
    users = pd.DataFrame({"user": _ints(us, 0, paths[2], "user id", unique=True), "age": _ints(us, 1, paths[2], "age"),
                          "gender": us[2].str.strip().to_numpy(dtype=object),
                          "occupation": us[3].str.strip().to_numpy(dtype=object)})
    for what, known, p in (("item", items.item, paths[1]), ("user", users.user, paths[2])):
        miss = ~ratings[what].isin(known).to_numpy()
        if miss.any():
            i = int(np.flatnonzero(miss)[0])
            raise ValueError(f"{paths[0]}: line {r.index[i]}: {what} {ratings[what].iloc[i]} is not listed in {p}")
    return ratings, items.sort_values("item", ignore_index=True), users.sort_values("user", ignore_index=True)


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
    if final.exists():
        raise ValueError(f"{final} exists but lacks some of {_RB_FILES}; delete that folder and retry")
    with tempfile.TemporaryDirectory() as dl:
        if progress:
            print(f"[movielens] downloading {_WHEEL} from PyPI with pip", file=sys.stderr)
        wheel = _download_wheel(Path(dl))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != _WHEEL_SHA256:
            raise ValueError(f"{wheel.name}: sha256 {digest} does not match the pinned {_WHEEL_SHA256}; "
                             "refusing to use it (nothing cached)")
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=".ml-100k.", suffix=".tmp"))
        try:
            with zipfile.ZipFile(wheel) as zf:
                for f in _RB_FILES:
                    if _MEMBER.format(f) not in zf.namelist():
                        raise ValueError(f"{wheel.name}: lacks {_MEMBER.format(f)}")
                    (tmp / f).write_bytes(zf.read(_MEMBER.format(f)))
            _read_folder(tmp)  # validate before anything becomes visible in the cache
            tmp.chmod(0o755)   # mkdtemp made it private
            try:
                os.rename(tmp, final)
            except OSError:  # a concurrent download finished first: fine if it is complete
                if not all((final / f).is_file() for f in _RB_FILES):
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
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


_PROTOCOLS = {
    "movielens": "MovieLens 100K, plain CTR: one row per rating, label = rating >= 4. Features: user, item, age "
    f"bucket {AGE_TOKENS}, gender, occupation, first genre, all genres; hist_item/hist_genre = the user's earlier "
    "ratings (time order, ties by file order), last {max_len} kept. Split: all ratings sorted by timestamp "
    "(stable), first 80% train, next 10% valid, last 10% test.",
    "movielens-seq": "MovieLens 100K, CAN/DIEN Amazon protocol: per user in time order (ties by file order), each "
    "rating with an earlier one is a positive (target = that movie, history = previous <= {max_len} movies), "
    "paired with a negative sharing user and history whose movie is drawn by popularity among the training-period "
    "ratings (all but each user's last two), resampled while equal to the positive (seed {seed}). Split per user: "
    "last positive (+ its negative) test, second-to-last valid, rest train.",
}


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
        >>> _ = (d / "u.data").write_text("".join(f"{1 + k % 2}\\t{1 + k % 3}\\t{1 + k % 5}\\t{k}\\n"
        ...                                       for k in range(10)))   # user item rating time
        >>> _ = (d / "u.item").write_text("".join(f"{i}|Movie {i} (1995)|01-Jan-1995||url" + "|0" * (i - 1)
        ...                                       + "|1" + "|0" * (19 - i) + "\\n" for i in (1, 2, 3)))
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
    folder = Path(source).expanduser() if source is not None else fetch_movielens(cache, progress=progress)
    ratings, items, users = _read_folder(folder)
    src, t1 = str(folder), time.perf_counter()
    n = len(ratings)
    order = np.lexsort((np.arange(n), ratings.timestamp.to_numpy(), ratings.user.to_numpy()))
    r = ratings.iloc[order].reset_index(drop=True)                       # by user, time, file order
    pos = r.groupby("user", sort=False).cumcount().to_numpy()            # rank within the user
    ginfo = items.set_index("item")["genres"]
    first = pd.Series([g[0] for g in ginfo], index=ginfo.index)          # item → first genre
    r["genre"] = first.reindex(r.item).to_numpy(dtype=object)
    r["hist_item"] = _histories(r.item.astype(str).to_numpy(dtype=object), pos, max_len)
    r["hist_genre"] = _histories(r.genre.to_numpy(), pos, max_len)
    if task == "movielens":
        u = users.set_index("user")
        u["age"] = np.asarray(AGE_TOKENS, dtype=object)[np.searchsorted(AGE_EDGES, u.age, side="right")]
        r = r.join(u, on="user").assign(genres=ginfo.reindex(r.item).to_numpy(), label=(r.rating >= 4).astype(int))
        r = r.iloc[np.argsort(order, kind="stable")]                      # back to file order …
        r = r.sort_values("timestamp", kind="stable", ignore_index=True)  # … then by time, ties by file order
        cut = (n * 8 // 10, n * 9 // 10)
        parts = {"train": r.iloc[:cut[0]], "valid": r.iloc[cut[0]:cut[1]], "test": r.iloc[cut[1]:]}
        columns = [Column("user", "sparse"), Column("item", "sparse"), Column("age", "sparse"),
                   Column("gender", "sparse"), Column("occupation", "sparse"), Column("genre", "sparse"),
                   Column("genres", "multi", vocab="genre", max_len=6)]
    else:
        from_end = r.groupby("user", sort=False).user.transform("size").to_numpy() - 1 - pos  # 0 = user's last
        cands, counts = np.unique(r.item.to_numpy()[from_end >= 2], return_counts=True)  # training period
        if len(cands) < 2:
            raise ValueError(f"{src}: movielens-seq needs at least 2 movies rated in the training period "
                             f"(all but each user's last two ratings), got {len(cands)}")
        is_pos = pos >= 1
        p = r[is_pos].reset_index(drop=True).assign(label=1)              # positives, in user/time order
        rng = np.random.default_rng(seed)
        neg = rng.choice(cands, size=len(p), p=counts / counts.sum())
        while (same := neg == p.item.to_numpy()).any():                   # DIEN: resample if equal to positive
            neg[same] = rng.choice(cands, size=int(same.sum()), p=counts / counts.sum())
        ng = p.assign(item=neg, genre=first.reindex(neg).to_numpy(dtype=object), label=0)
        both = pd.concat([p, ng], keys=[0, 1], names=["neg", "row"]).swaplevel().sort_index()  # pos, neg, pos…
        both["split"] = np.repeat(np.select([from_end[is_pos] == 0, from_end[is_pos] == 1], ["test", "valid"],
                                            "train"), 2)
        parts = {s: both[both.split == s].reset_index(drop=True) for s in ("train", "valid", "test")}
        columns = [Column("user", "sparse"), Column("item", "sparse"), Column("genre", "sparse")]
    columns += [Column("hist_item", "sequence", vocab="item", max_len=max_len),
                Column("hist_genre", "sequence", vocab="genre", max_len=max_len)]
    if len(parts["train"]) == 0:
        raise ValueError(f"{src}: the {task} train split is empty; the data has too few ratings")
    t2 = time.perf_counter()
    enc = TableEncoder(columns, label="label", pairs=(Pair("item", "hist_item"), Pair("genre", "hist_genre")),
                       user_field="user").fit(parts["train"])
    batches = {s: enc.transform(df) for s, df in parts.items()}
    for s, b in batches.items():  # GAUC groups by the raw user id: users unseen in train are all OOV in `sparse`
        b.group = torch.tensor(parts[s].user.to_numpy(dtype=np.int64))
    if progress:
        print(f"[movielens] {task}: read {n} ratings from {src} in {t1 - t0:.2f}s, built rows in {t2 - t1:.2f}s, "
              f"encoded in {time.perf_counter() - t2:.2f}s", file=sys.stderr)
    protocol = _PROTOCOLS[task].format(max_len=max_len, seed=seed)
    info = {"sizes": {s: len(b) for s, b in batches.items()},
            "click_rate": {s: float(b.label.mean()) if len(b) else float("nan") for s, b in batches.items()},
            "protocol": protocol + " Encoders fitted on train; ids unseen there -> OOV; group = raw user id.",
            "source": src, "max_len": max_len, "seed": seed, "n_ratings": n, "n_users": int(ratings.user.nunique()),
            "n_items": int(ratings.item.nunique()), "encoder": enc}
    return CTRData(task, enc.schema, batches["train"], batches["valid"], batches["test"], info)
