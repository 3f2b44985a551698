"""Criteo display ads (Kaggle): the AOANet paper's public dataset (Sec. 5.1, "Criteo", Table 3).

Data: the Criteo Display Advertising Challenge (Kaggle, 2014) training file ``train.txt`` from ``dac.tar.gz``
(https://www.kaggle.com/c/criteo-display-ad-challenge, also on Criteo AI Lab's site): about 45 M ad impressions
over 7 days, each with a click label, 13 integer fields (mostly counts) and 26 hashed categorical fields. It is
distributed under Criteo's terms of use and ctrviz cannot download it: pass the path of ``train.txt``
(or set ``CTRVIZ_CRITEO_TXT`` for ``load_dataset("criteo")``). The unlabeled ``test.txt`` is not read.

Format: tab-separated, no header, 40 columns ``label, I1..I13, C1..C26``: label 0/1; ``I*`` integers or empty
(``I2`` is negative in the real data: -1, -2, -3); ``C*`` 8 hex digits (``68fd1e64``) or empty. A wrong column
count, a non-integer ``I*``, a ``C*`` that is not 8 hex digits or a label other than 0/1 raises ``ValueError``
naming the file, the 1-based line and the field; nothing is written to the cache then.

Encoding (the AutoInt/FuxiCTR practice that AOANet follows, every field categorical — 39 sparse fields):

- ``I*`` → :func:`~ctrviz.data.encoders.log_bucket` tokens (the Kaggle winners' transform: ``v > 2 →
  ⌊ln(v)²⌋``, else the value itself, ``-1``..``-3`` included; empty → its own token ``"nan"``);
- ``C*`` → the hex string, empty → the token ``""`` (FuxiCTR's ``fill_na=""``);
- each field has its own :class:`~ctrviz.data.encoders.Vocabulary` fitted on the **train split only**: tokens seen
  fewer than ``min_count`` times there (default 10, AutoInt's threshold for Criteo), or never, → ``OOV_ID``. So an
  empty value keeps its own id when it is frequent (as it is for most fields), else it is OOV.

Split: a seeded random permutation of the rows (:func:`~ctrviz.data.parquet_cache.random_split`): test =
``test_fraction`` (10 %), valid = ``valid_fraction`` (10 %), train = the rest (80 %), each in file order. The test
rows depend only on ``seed`` and ``test_fraction``, so ``valid_fraction=0.0`` gives the paper's 90/10 split with
the same test rows.

Deviations from the paper: AOANet gives no preprocessing details; this follows AutoInt (Song et al., CIKM 2019)
and FuxiCTR. The paper splits 90/10 without a valid set; we hold out 10 % for early stopping by default.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

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
    open_text_source,
    parse_labels,
    split_fields,
)

INT_FIELDS = tuple(f"I{k}" for k in range(1, 14))
CAT_FIELDS = tuple(f"C{k}" for k in range(1, 27))
ENV_VAR = "CTRVIZ_CRITEO_TXT"
_NAMES = ["label", *INT_FIELDS, *CAT_FIELDS]
# C* are stored as parquet dictionaries: the encoder reads each column's distinct values and codes, never re-hashing
_SCHEMA = pa.schema([("label", pa.int8()), *((c, pa.int64()) for c in INT_FIELDS),
                     *((c, pa.dictionary(pa.int32(), pa.string())) for c in CAT_FIELDS)])
_OPTIONS = {"format": "criteo-kaggle-tsv", "version": 2}
_INT_RE, _HEX_RE = r"^(-?\d{1,18})?$", r"^([0-9a-fA-F]{8})?$"
_PROTOCOL = ("Criteo (Kaggle train.txt), AutoInt/FuxiCTR encoding: I1..I13 -> log_bucket tokens (v > 2 -> "
             "floor(ln(v)^2), else v; empty -> 'nan'), C1..C26 -> hex string (empty -> ''); one vocabulary per field "
             "fitted on train, tokens seen < {min_count} times there -> OOV. Random split (seed {seed}): test "
             "{test_fraction:g}, valid {valid_fraction:g}, train the rest, each in file order.")


def _optional_ints(col: pa.Array, numbers: np.ndarray, path: Path, field: str) -> pa.Array:
    """An ``I*`` column as int64, empty → null; anything but an integer or empty names its line."""
    first_bad(pc.match_substring_regex(col, _INT_RE), numbers, path, f"an integer {field} or empty", col)
    return pc.cast(pc.if_else(pc.equal(col, ""), pa.scalar(None, pa.string()), col), pa.int64())


class _NotFast(ValueError):
    """The fast parser met a value it does not accept: the line-numbered parser reads the file instead."""


def _fast_column(k: int, col: pa.Array) -> pa.Array:
    """Column ``k`` of a parsed block, validated on its distinct values only (one hash pass per column):
    label → int8, ``I*`` → int64 with nulls, ``C*`` → a dictionary array. Raises :class:`_NotFast` on a bad value."""
    col = pc.dictionary_encode(col)
    values = col.dictionary                                                 # the block's distinct strings
    if k == 0:
        if not pc.all(pc.is_in(values, value_set=pa.array(["0", "1"]))).as_py():
            raise _NotFast
        return pc.take(pc.cast(values, pa.int8()), col.indices)
    if not pc.all(pc.match_substring_regex(values, _INT_RE if k <= len(INT_FIELDS) else _HEX_RE)).as_py():
        raise _NotFast
    if k > len(INT_FIELDS):
        return col
    ints = pc.cast(pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values), pa.int64())
    return pc.take(ints, col.indices)


def _fast_parse(path: Path) -> Iterator[pa.Table]:
    """The rows of ``path`` as :func:`_parse` yields them, parsed by pyarrow's multi-threaded CSV reader and checked
    on each block's distinct values; any problem (a wrong column count, a bad value, bad UTF-8) raises
    :class:`_NotFast` (or pyarrow's ``ArrowInvalid``, a ``ValueError``), and :func:`_cached` re-reads the file with
    :func:`_parse`, whose error names the line. About 5× faster than :func:`_parse` on a valid file."""
    with open_text_source(path) as fh:
        gz = isinstance(fh, gzip.GzipFile)
    source = pa.input_stream(str(path), compression="gzip" if gz else None)
    reader = pcsv.open_csv(
        source, read_options=pcsv.ReadOptions(column_names=_NAMES, block_size=1 << 24),
        parse_options=pcsv.ParseOptions(delimiter="\t", quote_char=False, double_quote=False, escape_char=False,
                                        newlines_in_values=False, ignore_empty_lines=True),
        convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(_NAMES, pa.string()),
                                            strings_can_be_null=False, quoted_strings_can_be_null=False))
    with reader, ThreadPoolExecutor(2) as pool:                      # pyarrow kernels release the GIL
        for block in reader:
            yield pa.table(list(pool.map(_fast_column, range(len(_NAMES)), block.columns)), names=_NAMES)


def _parse(path: Path, chunksize: int) -> Iterator[pa.Table]:
    """Yield the validated rows of ``path`` chunk by chunk (label int8, I* int64 with nulls, C* strings); a bad value
    names its line."""
    for numbers, lines in iter_line_chunks(path, chunksize):
        f = split_fields(lines, numbers, "\t", 40, path)
        columns = earliest_bad_line(                   # the first bad line is reported, whichever column
            [partial(parse_labels, f[0], numbers, path)]
            + [partial(_optional_ints, f[k], numbers, path, name) for k, name in enumerate(INT_FIELDS, 1)]
            + [partial(_hashes, f[k], numbers, path, name) for k, name in enumerate(CAT_FIELDS, 14)])
        yield pa.table(dict(zip(["label", *INT_FIELDS, *CAT_FIELDS], columns, strict=True)))


def _hashes(col: pa.Array, numbers: np.ndarray, path: Path, field: str) -> pa.Array:
    """A ``C*`` column as it is; anything but 8 hex digits or empty names its line."""
    first_bad(pc.match_substring_regex(col, _HEX_RE), numbers, path, f"8 hex digits or empty in {field}", col)
    return col


_CSV_HEADER = ["label", *INT_FIELDS, *CAT_FIELDS]        # the widely copied CSV sample: comma-separated, a header


def _refuse_known_variants(src: Path) -> None:
    """A file in the CSV variant of the Criteo sample (``label,I1,…,C26`` header, commas, counts like ``260.0``)
    gets one message with the command that converts it, instead of three rounds of line errors."""
    with open_text_source(src) as fh:
        first = fh.readline().decode("utf-8", errors="replace").strip()
    if [c.strip().strip('"') for c in first.split(",")] == _CSV_HEADER or first.lower().split(",")[:1] == ["label"]:
        out = src.with_name("train.txt") if src.name != "train.txt" else src.with_name("train.tsv")
        raise ValueError(f"{src}: line 1 is a CSV header ({first[:40]}…): this is the comma-separated variant of the "
                         "Criteo sample, and ctrviz reads the Kaggle train.txt format (tab-separated, no header, "
                         "integer counts). Convert it with: "
                         f"tail -n +2 '{src}' | tr ',' '\\t' | sed -E 's/\\.0+(\\t|$)/\\1/g' > '{out}' and pass that "
                         "file; or train it as it is with a table spec (`ctrviz train --data FILE --spec criteo.yaml`, "
                         "the 5-line spec in data/README.md, 'Your own table')")


def _cached(path: str | Path, cache: str | Path | None, chunksize: int, created: list[Path] | None = None) -> Path:
    src = need_file(path, "the Criteo Kaggle train.txt")
    check_chunksize(chunksize)
    _refuse_known_variants(src)
    try:                                               # fast on a valid file; on any problem, the exact error below
        return cached_parquet("criteo", src, _OPTIONS, _SCHEMA, lambda: _fast_parse(src), cache=cache,
                              created=created)
    except ValueError:
        pass
    return cached_parquet("criteo", src, _OPTIONS, _SCHEMA, lambda: _parse(src, chunksize), cache=cache,
                          created=created)


def read_criteo(path: str | Path, *, cache: str | Path | None = None, chunksize: int = 1_000_000) -> pd.DataFrame:
    """The validated Criteo table, parsed once into the parquet cache (``<cache>/criteo/``).

    Holds the whole table in memory: fine for the fixture or a sample; for the full file (45 M rows) use
    :func:`load_criteo`, which reads the cache one column at a time.

    Args:
        path: ``train.txt``.
        cache: cache root; default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``.
        chunksize: lines parsed at a time on the first call (the raw file is never read whole).

    Returns:
        columns ``label`` (int8), ``I1``..``I13`` (nullable ``Int64``, ``<NA>`` = empty), ``C1``..``C26`` (str,
        ``""`` = empty), in file order (blank lines skipped); ``attrs["cache_file"]`` is the parquet path.

    Example:
        >>> import pathlib, tempfile
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "train.txt").write_text("1\\t5\\t-1" + "\\t" * 11 + "\\t68fd1e64" * 26 + "\\n")
        >>> t = read_criteo(d / "train.txt", cache=d / "cache")
        >>> t.I1.tolist(), t.I2.tolist(), t.I3.tolist(), t.C1.tolist(), str(t.I3.dtype)
        ([5], [-1], [<NA>], ['68fd1e64'], 'Int64')
    """
    cached = _cached(path, cache, chunksize)
    t = pq.read_table(cached)
    t = t.cast(pa.schema([(f.name, pa.string() if pa.types.is_dictionary(f.type) else f.type) for f in t.schema]))
    t = t.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    t.attrs["cache_file"] = str(cached)
    return t


def criteo_columns(min_count: int = 10) -> list[Column]:
    """The 39 :class:`~ctrviz.data.encoders.Column` specs: ``I1``..``I13`` log-bucketed, then ``C1``..``C26``.

    Example:
        >>> cols = criteo_columns(min_count=2)
        >>> len(cols), cols[0].transform, cols[13].name, cols[13].min_count
        (39, 'log_bucket', 'C1', 2)
    """
    return ([Column(c, "sparse", min_count=min_count, transform="log_bucket") for c in INT_FIELDS]
            + [Column(c, "sparse", min_count=min_count) for c in CAT_FIELDS])


def load_criteo(path: str | Path, *, min_count: int = 10, valid_fraction: float = 0.1, test_fraction: float = 0.1,
                seed: int = 0, cache: str | Path | None = None, chunksize: int = 1_000_000) -> CTRData:
    """Criteo ``train.txt`` as a :class:`~ctrviz.data.batch.CTRData` (module docstring for encoding and split).

    Args:
        path: ``train.txt`` (40 tab-separated columns, no header).
        min_count: tokens seen fewer times in the train split become OOV (every field).
        valid_fraction, test_fraction: shares of the rows, rounded half up; ``valid_fraction=0.0`` is the paper's
            90/10.
        seed: seeds the random split.
        cache: cache root of the parquet table; default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``.
        chunksize: lines parsed at a time on the first load.

    Returns:
        ``CTRData`` with 39 sparse fields ``I1``..``I13``, ``C1``..``C26`` (no dense fields, no pairs, no user field);
        ``info`` holds ``sizes``, ``click_rate``, ``protocol``, ``source``, ``cache_file``, ``seed``, the fractions,
        ``min_count``, the fitted ``encoder`` (decode ids with ``info["encoder"].vocabs["C1"]``) and
        ``encoded_cache``, the folder of the int32 ids (N × 39 × 4 bytes, 7 GB for the full file), built one column
        at a time and memory-mapped by this and every later load with the same settings
        (:mod:`ctrviz.data.encoded_cache`).

    Example:
        >>> import pathlib, tempfile
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> row = "{}\\t{}" + "\\t1" * 12 + "\\t0000000a" * 26 + "\\n"
        >>> _ = (d / "train.txt").write_text("".join(row.format(k % 2, k) for k in range(10)))
        >>> data = load_criteo(d / "train.txt", min_count=1, cache=d / "cache")
        >>> data.info["sizes"], len(data.schema.sparse_names)
        ({'train': 8, 'valid': 1, 'test': 1}, 39)
    """
    return load_split_table("criteo", path, lambda created: _cached(path, cache, chunksize, created), criteo_columns,
                            "label",
                            protocol=_PROTOCOL, min_count=min_count, seed=seed, valid_fraction=valid_fraction,
                            test_fraction=test_fraction)


def load_criteo_from_env(*, seed: int = 0, cache: str | Path | None = None, min_count: int | None = None) -> CTRData:
    """:func:`load_criteo` of the file named by ``$CTRVIZ_CRITEO_TXT`` (used by ``load_dataset("criteo")``);
    ``min_count``: ``None`` keeps its default."""
    path = os.environ.get(ENV_VAR)
    if not path:
        raise ValueError(f"criteo: set {ENV_VAR} to the path of the Criteo Kaggle train.txt. ctrviz cannot "
                         "download it: get dac.tar.gz (Criteo Display Advertising Challenge, "
                         "https://www.kaggle.com/c/criteo-display-ad-challenge, or Criteo AI Lab), extract it and "
                         "run e.g. `export CTRVIZ_CRITEO_TXT=~/data/dac/train.txt`; see data/README.md")
    return load_criteo(path, seed=seed, cache=cache, **({} if min_count is None else {"min_count": min_count}))


__all__ = ["CAT_FIELDS", "ENV_VAR", "INT_FIELDS", "criteo_columns", "load_criteo", "load_criteo_from_env",
           "read_criteo"]
