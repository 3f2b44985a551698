"""Avazu mobile ads (Kaggle): the second public benchmark of the AOANet line of work (AutoInt, FuxiCTR).

Data: the training file ``train`` (``train.gz`` unzipped) of the Avazu Click-Through Rate Prediction challenge
(Kaggle, 2014, https://www.kaggle.com/c/avazu-ctr-prediction): about 40 M mobile ad impressions over 10 days
(21–30 Oct 2014) with a click label, the hour and 21 categorical attributes (site, app and device ids and
types, the anonymised ``C1``, ``C14``–``C21``). It needs a Kaggle account and acceptance of the competition
rules, so ctrviz cannot download it: pass its path (or set ``CTRVIZ_AVAZU_CSV`` for ``load_dataset("avazu")``). The
unlabeled ``test`` file is not read.

Format: CSV with the header ``id,click,hour,C1,banner_pos,site_id,site_domain,site_category,app_id,app_domain,
app_category,device_id,device_ip,device_model,device_type,device_conn_type,C14,…,C21`` (24 columns; a different
header is an error). ``click`` is 0/1; ``hour`` is ``YYMMDDHH`` (year 20YY) and must be a real date and an hour
00–23; every other value is an opaque token (hex ids, small integers), possibly empty. A wrong column count, a
label other than 0/1 or a malformed hour raises ``ValueError`` naming the file, the 1-based line (the header is
line 1) and the field; nothing is written to the cache then.

Encoding (the AutoInt/FuxiCTR practice, every field categorical — 23 sparse fields): ``id`` is dropped; ``hour``
becomes ``hour_of_day`` (0–23) and ``weekday`` (0 = Monday … 6 = Sunday); the 21 other columns are kept as they are
(empty → the token ``""``). Each field has its own :class:`~ctrviz.data.encoders.Vocabulary` fitted on the
**train split only**: tokens seen fewer than ``min_count`` times there (default 5, AutoInt's threshold for Avazu),
or never, → ``OOV_ID``.

Split: as :mod:`ctrviz.data.criteo` — a seeded random permutation, test ``test_fraction`` (10 %), valid
``valid_fraction`` (10 %), train the rest, each in file order (:func:`~ctrviz.data.parquet_cache.random_split`).

Deviations: the AOANet paper reports Criteo only; Avazu is read here for the same experiments as AutoInt and
FuxiCTR run them. FuxiCTR's Avazu preprocessing also adds a ``weekend`` flag, which ``weekday`` determines; it is
left out. The date itself is not a field (hour_of_day and weekday generalise beyond the 10 days).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ctrviz.data.batch import CTRData
from ctrviz.data.encoders import Column
from ctrviz.data.parquet_cache import (
    cached_parquet,
    check_chunksize,
    earliest_bad_line,
    first_bad,
    iter_line_chunks,
    load_split_table,
    need_file,
    parse_labels,
    split_fields,
)

HEADER = ("id", "click", "hour", "C1", "banner_pos", "site_id", "site_domain", "site_category", "app_id",
          "app_domain", "app_category", "device_id", "device_ip", "device_model", "device_type", "device_conn_type",
          "C14", "C15", "C16", "C17", "C18", "C19", "C20", "C21")
CAT_FIELDS = HEADER[3:]
FIELDS = ("hour_of_day", "weekday", *CAT_FIELDS)
ENV_VAR = "CTRVIZ_AVAZU_CSV"
_SCHEMA = pa.schema([("click", pa.int8()), ("hour", pa.string()), ("hour_of_day", pa.int8()), ("weekday", pa.int8()),
                     *((c, pa.string()) for c in CAT_FIELDS)])
_OPTIONS = {"format": "avazu-kaggle-csv", "version": 1}
_PROTOCOL = ("Avazu (Kaggle train), AutoInt/FuxiCTR encoding: id dropped, hour YYMMDDHH -> hour_of_day and weekday "
             "(0 = Monday), the 21 other columns as tokens (empty -> ''); one vocabulary per field fitted on train, "
             "tokens seen < {min_count} times there -> OOV. Random split (seed {seed}): test {test_fraction:g}, valid "
             "{valid_fraction:g}, train the rest, each in file order.")


def parse_hour(col: pa.Array, numbers: np.ndarray, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Avazu ``hour`` strings ``YYMMDDHH`` (year 20YY) → (hour of day, weekday with 0 = Monday), both int8.

    Example:
        >>> h, w = parse_hour(pa.array(["14102100", "14103023"]), np.array([2, 3]), "train")
        >>> h.tolist(), w.tolist()   # 21 Oct 2014 was a Tuesday, 30 Oct a Thursday
        ([0, 23], [1, 3])
        >>> parse_hour(pa.array(["14102100", "14023012"]), np.array([2, 3]), "train")
        Traceback (most recent call last):
        ...
        ValueError: train: line 3: expected an hour YYMMDDHH (a real date, hour 00-23), got '14023012'
    """
    what = "an hour YYMMDDHH (a real date, hour 00-23)"
    first_bad(pc.match_substring_regex(col, r"^\d{8}$"), numbers, path, what, col)
    v = pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)
    yy, mm, dd, hh = v // 1_000_000, v // 10_000 % 100, v // 100 % 100, v % 100
    month = ((yy + 30) * 12 + mm - 1).astype("datetime64[M]")             # (R,) months since 1970-01 → 20YY-MM
    first = month.astype("datetime64[D]")                                 # (R,) 1st of that month
    days = ((month + 1).astype("datetime64[D]") - first).astype(np.int64)  # (R,) days in that month
    first_bad((mm >= 1) & (mm <= 12) & (dd >= 1) & (dd <= days) & (hh <= 23), numbers, path, what, col)
    weekday = ((first + (dd - 1)).astype(np.int64) + 3) % 7               # 1970-01-01 was a Thursday (3)
    return hh.astype(np.int8), weekday.astype(np.int8)


def _check_header(line: str, number: int, path: Path) -> None:
    got = line.split(",")
    if tuple(got) == HEADER:
        return
    diff = next((k for k, (a, b) in enumerate(zip(got, HEADER, strict=False)) if a != b), min(len(got), len(HEADER)))
    found = repr(got[diff]) if diff < len(got) else "nothing"
    wanted = repr(HEADER[diff]) if diff < len(HEADER) else "the end of the line"
    raise ValueError(f"{path}: line {number}: expected the Avazu header {','.join(HEADER)!r} ({len(HEADER)} columns), "
                     f"got {len(got)} columns; column {diff + 1} is {found}, expected {wanted}")


def _parse(path: Path, chunksize: int) -> Iterator[pa.Table]:
    """Yield the validated rows of ``path`` chunk by chunk (click, hour, hour_of_day, weekday, 21 token columns)."""
    header = False
    for numbers, lines in iter_line_chunks(path, chunksize):
        if not header:
            _check_header(lines[0], int(numbers[0]), path)
            header, numbers, lines = True, numbers[1:], lines[1:]
            if not lines:
                continue
        f = split_fields(lines, numbers, ",", len(HEADER), path)
        click, (hour_of_day, weekday) = earliest_bad_line(      # the first bad line, whichever column
            [partial(parse_labels, f[1], numbers, path), partial(parse_hour, f[2], numbers, path)])
        yield pa.table({"click": click, "hour": f[2], "hour_of_day": hour_of_day, "weekday": weekday,
                        **{name: f[k] for k, name in enumerate(CAT_FIELDS, 3)}})
    if not header:
        raise ValueError(f"{path}: line 1: expected the Avazu header {','.join(HEADER)!r}, the file is empty")


def _cached(path: str | Path, cache: str | Path | None, chunksize: int, created: list[Path] | None = None) -> Path:
    src = need_file(path, "the Avazu Kaggle train CSV")
    check_chunksize(chunksize)
    return cached_parquet("avazu", src, _OPTIONS, _SCHEMA, lambda: _parse(src, chunksize), cache=cache,
                          created=created)


def read_avazu(path: str | Path, *, cache: str | Path | None = None, chunksize: int = 1_000_000) -> pd.DataFrame:
    """The validated Avazu table, parsed once into the parquet cache (``<cache>/avazu/``).

    Holds the whole table in memory: fine for the fixture or a sample; for the full file (40 M rows) use
    :func:`load_avazu`, which reads the cache one column at a time.

    Args:
        path: the Kaggle ``train`` CSV (unzipped).
        cache: cache root; default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``.
        chunksize: lines parsed at a time on the first call (the raw file is never read whole).

    Returns:
        columns ``click`` (int8), ``hour`` (the raw ``YYMMDDHH``), ``hour_of_day``, ``weekday`` (int8) and the 21
        token columns ``C1`` … ``C21`` (str), in file order (blank lines skipped; ``id`` dropped);
        ``attrs["cache_file"]`` is the parquet path.

    Example:
        >>> import pathlib, tempfile
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> row = "7,1,14102813,1005" + ",x" * 20 + "\\n"
        >>> _ = (d / "train").write_text(",".join(HEADER) + "\\n" + row)
        >>> t = read_avazu(d / "train", cache=d / "cache")
        >>> t.hour[0], int(t.hour_of_day[0]), int(t.weekday[0]), t.C1[0]   # 28 Oct 2014: a Tuesday
        ('14102813', 13, 1, '1005')
    """
    cached = _cached(path, cache, chunksize)
    t = pd.read_parquet(cached)
    t.attrs["cache_file"] = str(cached)
    return t


def avazu_columns(min_count: int = 5) -> list[Column]:
    """The 23 :class:`~ctrviz.data.encoders.Column` specs: ``hour_of_day``, ``weekday``, then ``C1`` … ``C21``.

    Example:
        >>> cols = avazu_columns(min_count=2)
        >>> len(cols), cols[0].name, cols[2].name, cols[-1].min_count
        (23, 'hour_of_day', 'C1', 2)
    """
    return [Column(c, "sparse", min_count=min_count) for c in FIELDS]


def load_avazu(path: str | Path, *, min_count: int = 5, valid_fraction: float = 0.1, test_fraction: float = 0.1,
               seed: int = 0, cache: str | Path | None = None, chunksize: int = 1_000_000) -> CTRData:
    """Avazu ``train`` as a :class:`~ctrviz.data.batch.CTRData` (module docstring for encoding and split).

    Args:
        path: the Kaggle ``train`` CSV (unzipped, with its header).
        min_count: tokens seen fewer times in the train split become OOV (every field).
        valid_fraction, test_fraction: shares of the rows, rounded half up.
        seed: seeds the random split.
        cache: cache root of the parquet table; default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``.
        chunksize: lines parsed at a time on the first load.

    Returns:
        ``CTRData`` with 23 sparse fields (``FIELDS``; no dense fields, no pairs, no user field); ``info`` holds
        ``sizes``, ``click_rate``, ``protocol``, ``source``, ``cache_file``, ``seed``, the fractions, ``min_count``
        and the fitted ``encoder`` (``info["encoder"].transform(read_avazu(path))`` re-encodes every row).

    Example:
        >>> import pathlib, tempfile
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> rows = "".join(f"{k},{k % 2},141021{k:02d}" + ",a" * 21 + "\\n" for k in range(10))
        >>> _ = (d / "train").write_text(",".join(HEADER) + "\\n" + rows)
        >>> data = load_avazu(d / "train", min_count=1, cache=d / "cache")
        >>> data.info["sizes"], data.schema.sparse_names[:3]
        ({'train': 8, 'valid': 1, 'test': 1}, ('hour_of_day', 'weekday', 'C1'))
    """
    return load_split_table("avazu", path, lambda created: _cached(path, cache, chunksize, created), avazu_columns,
                            "click",
                            protocol=_PROTOCOL, min_count=min_count, seed=seed, valid_fraction=valid_fraction,
                            test_fraction=test_fraction)


def load_avazu_from_env(*, seed: int = 0, cache: str | Path | None = None, min_count: int | None = None) -> CTRData:
    """:func:`load_avazu` of the file named by ``$CTRVIZ_AVAZU_CSV`` (used by ``load_dataset("avazu")``);
    ``min_count``: ``None`` keeps its default."""
    path = os.environ.get(ENV_VAR)
    if not path:
        raise ValueError(f"avazu: set {ENV_VAR} to the path of the Avazu Kaggle train CSV. ctrviz cannot download "
                         "it: get train.gz from https://www.kaggle.com/c/avazu-ctr-prediction/data (Kaggle account, "
                         "accept the competition rules), unzip it and run e.g. `export CTRVIZ_AVAZU_CSV=~/data/avazu/"
                         "train`; see data/README.md")
    return load_avazu(path, seed=seed, cache=cache, **({} if min_count is None else {"min_count": min_count}))


__all__ = ["CAT_FIELDS", "ENV_VAR", "FIELDS", "HEADER", "avazu_columns", "load_avazu", "load_avazu_from_env",
           "parse_hour", "read_avazu"]
