"""Streaming raw files into a parquet cache: chunked line reading with line numbers, vectorised validation.

The large real-data readers (:mod:`ctrviz.data.amazon`, :mod:`ctrviz.data.taobao`, :mod:`ctrviz.data.criteo`,
:mod:`ctrviz.data.avazu`) share one shape:

1. :func:`iter_line_chunks` reads a text file ``chunksize`` lines at a time (never the whole file), keeping
   the 1-based line number of every non-blank line;
2. :func:`split_fields` / :func:`parse_ints` validate a chunk with vectorised pyarrow string operations and
   raise ``ValueError("<file>: line <n>: expected …")`` at the first bad line;
3. :func:`cached_parquet` streams the parsed chunks into a temp parquet file under
   ``cache_dir(cache)/<dataset>/`` and renames it into place only when every chunk parsed, so an error
   leaves the cache as it was. The file name holds a hash of (resolved path, size, mtime, reader options);
   a later call with the same key reads the parquet and never opens the raw file, a changed file gets a
   new key (and the stale parquet of that path is deleted);
4. :func:`flat_history_index` and :func:`encode_seq_splits` turn the table into tensors without a Python object
   per row: histories stay flat token arrays (rows back to back) + lengths until
   :func:`~ctrviz.data.encoders.pad_sequences` pads them, vocabularies are :class:`~ctrviz.data.encoders.Vocabulary`
   fitted on the train split, and the :class:`~ctrviz.data.encoders.TableEncoder` returned describes (and can
   re-encode) the same columns;
5. for the all-categorical tables (:mod:`ctrviz.data.criteo`, :mod:`ctrviz.data.avazu`) :func:`load_split_table`
   draws a seeded train/valid/test split of the rows (:func:`random_split`) and encodes the parquet file one column
   at a time into the encoded cache (:mod:`ctrviz.data.encoded_cache`: int32 ids on disk, memory-mapped by every
   later load, which neither parses nor encodes).
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import hashlib
import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from ctrviz.data.batch import Batch, CTRData
from ctrviz.data.encoded_cache import build_encoded, encoded_folder, encoded_key, load_encoded, log_bucket_codes
from ctrviz.data.encoders import Column, TableEncoder, Vocabulary, pad_sequences
from ctrviz.data.schema import Pair
from ctrviz.utils import orphaned_temp_files, temp_prefix


def check_positive_int(value: int, name: str) -> int:
    """``value`` if it is an int >= 1, else ``ValueError("<name> must be an int >= 1, got …")``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    return value


def check_chunksize(chunksize: int) -> int:
    """``chunksize`` if it is an int >= 1, else a ``ValueError``."""
    return check_positive_int(chunksize, "chunksize")


def need_file(path: str | Path, what: str) -> Path:
    """``path`` (user-expanded) if it is a file, else ``ValueError("<path>: missing file; expected <what> …")``
    (or ``"<path>: is a folder, …"`` when it is one)."""
    src = Path(path).expanduser()
    if src.is_dir():
        raise ValueError(f"{src}: is a folder, not a file; expected {what} (see data/README.md)")
    if not src.is_file():
        raise ValueError(f"{src}: missing file; expected {what} (see data/README.md)")
    return src


GZIP_MAGIC = b"\x1f\x8b"


def open_text_source(path: str | Path) -> BinaryIO:
    """``path`` opened for reading bytes; a gzip-compressed file (by its first two bytes, whatever its name) is
    decompressed on the fly, so ``train.txt.gz`` reads like ``train.txt``."""
    with open(path, "rb") as fh:
        gz = fh.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if gz else open(path, "rb")


def iter_line_chunks(path: str | Path, chunksize: int, encoding: str = "utf-8"
                     ) -> Iterator[tuple[np.ndarray, list[str]]]:
    """Chunks of ≤ ``chunksize`` lines: (1-based line numbers, lines without ``\\r\\n``); blank lines skipped.
    A gzip-compressed file is read through :func:`open_text_source`.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.txt"
        >>> _ = p.write_bytes(b"a\\r\\nb\\n\\nc\\n")
        >>> [(n.tolist(), lines) for n, lines in iter_line_chunks(p, 2)]
        [([1, 2], ['a', 'b']), ([4], ['c'])]
    """
    check_chunksize(chunksize)
    with open_text_source(path) as fh:
        start = 1
        while chunk := list(itertools.islice(fh, chunksize)):
            try:
                text = [b.decode(encoding).rstrip("\r\n") for b in chunk]
            except UnicodeDecodeError:
                bad = next(i for i, b in enumerate(chunk) if not _decodes(b, encoding))
                raise ValueError(f"{path}: line {start + bad}: expected {encoding} text") from None
            keep = [i for i, t in enumerate(text) if t.strip()]
            if keep:
                yield np.asarray(keep, dtype=np.int64) + start, [text[i] for i in keep]
            start += len(chunk)


def _decodes(b: bytes, encoding: str) -> bool:
    try:
        b.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def split_fields(lines: Sequence[str], numbers: np.ndarray, sep: str, ncols: int, path: str | Path
                 ) -> list[pa.StringArray]:
    """Lines → ``ncols`` arrow string columns (split in C by pyarrow); a wrong column count names the line.

    Example:
        >>> split_fields(["1,a", "2,b"], np.array([1, 2]), ",", 2, "f.csv")[1].to_pylist()
        ['a', 'b']
        >>> split_fields(["1,a", "2"], np.array([1, 5]), ",", 2, "f.csv")
        Traceback (most recent call last):
        ...
        ValueError: f.csv: line 5: expected 2 ','-separated columns, got 1
    """
    arr = pa.array(list(lines), type=pa.string())
    counts = pc.count_substring(arr, sep).to_numpy(zero_copy_only=False) + 1
    if (bad := np.flatnonzero(counts != ncols)).size:
        i = int(bad[0])
        raise ValueError(f"{path}: line {numbers[i]}: expected {ncols} {sep!r}-separated columns, got {counts[i]}")
    parts = pc.split_pattern(arr, sep)
    return [pc.list_element(parts, k) if len(arr) else pa.array([], pa.string()) for k in range(ncols)]


def first_bad(ok: np.ndarray | pa.Array, numbers: np.ndarray, path: str | Path, what: str,
              values: pa.Array | Sequence[object]) -> None:
    """Raise ``ValueError`` at the first ``False`` in ``ok``: '<path>: line <n>: expected <what>, got <value>'
    (its ``line`` attribute holds n, for :func:`earliest_bad_line`)."""
    ok = ok.to_numpy(zero_copy_only=False) if isinstance(ok, pa.Array) else np.asarray(ok, dtype=bool)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        got = values[i].as_py() if isinstance(values, pa.Array) else values[i]
        err = ValueError(f"{path}: line {numbers[i]}: expected {what}, got {got!r}")
        err.line = int(numbers[i])
        raise err


def earliest_bad_line(checks: Sequence[Callable[[], object]]) -> list[object]:
    """Run one chunk's column checks, each returning its parsed column; when several fail, raise the error of the
    earliest line (the leftmost column on a tie), so a file's first bad value is the one reported, whichever column
    holds it.

    Example:
        >>> lines = np.array([1, 2, 3])
        >>> earliest_bad_line([lambda: parse_ints(pa.array(["1", "2", "x"]), lines, "f", "a"),
        ...                    lambda: parse_ints(pa.array(["1", "2.0", "3"]), lines, "f", "b")])
        Traceback (most recent call last):
        ...
        ValueError: f: line 2: expected an integer b, got '2.0'
    """
    results, errors = [], []
    for check in checks:
        try:
            results.append(check())
        except ValueError as e:
            if not hasattr(e, "line"):
                raise
            errors.append(e)
    if errors:
        raise min(errors, key=lambda e: e.line)
    return results


def parse_labels(col: pa.Array, numbers: np.ndarray, path: str | Path) -> pa.Array:
    """An arrow string column of ``0``/``1`` clicks as int8; anything else names its line.

    Example:
        >>> parse_labels(pa.array(["0", "1"]), np.array([1, 2]), "f").to_pylist()
        [0, 1]
        >>> parse_labels(pa.array(["1", "yes"]), np.array([1, 2]), "f")
        Traceback (most recent call last):
        ...
        ValueError: f: line 2: expected a label 0 or 1, got 'yes'
    """
    first_bad(pc.is_in(col, value_set=pa.array(["0", "1"])), numbers, path, "a label 0 or 1", col)
    return pc.cast(col, pa.int8())


def parse_ints(col: pa.Array, numbers: np.ndarray, path: str | Path, what: str, signed: bool = False) -> np.ndarray:
    """An arrow string column as int64; the first non-integer names its line.

    Example:
        >>> parse_ints(pa.array(["7", "0012"]), np.array([1, 2]), "f", "item id").tolist()
        [7, 12]
        >>> parse_ints(pa.array(["7", "x"]), np.array([1, 2]), "f", "item id")
        Traceback (most recent call last):
        ...
        ValueError: f: line 2: expected an integer item id, got 'x'
    """
    first_bad(pc.match_substring_regex(col, r"^-?\d{1,18}$" if signed else r"^\d{1,18}$"), numbers, path,
              f"an integer {what}", col)
    return pc.cast(col, pa.int64()).to_numpy(zero_copy_only=False)


def source_key(path: str | Path, options: Mapping[str, object]) -> str:
    """sha256 (hex) of the file's resolved path, size and mtime (ns) and the reader ``options`` (JSON)."""
    p = Path(path).resolve()
    st = p.stat()
    blob = json.dumps([str(p), st.st_size, st.st_mtime_ns, dict(options)], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _cache_root(cache: str | os.PathLike | None) -> Path:
    """The folder :func:`~ctrviz.data.cache.cache_dir` would use, without creating it."""
    return Path(cache or os.environ.get("CTRVIZ_CACHE") or Path.home() / ".cache" / "ctrviz").expanduser()


def cached_parquet(dataset: str, path: str | Path, options: Mapping[str, object], schema: pa.Schema,
                   chunks: Callable[[], Iterable[pa.Table | pd.DataFrame]], *, cache: str | os.PathLike | None = None,
                   created: list[Path] | None = None, allow_empty: bool = False) -> Path:
    """The parquet cache of ``path``'s parsed table, built from ``chunks()`` on the first call.

    Args:
        dataset: sub-folder of the cache, e.g. ``"amazon"``.
        path: the raw file (its path, size and mtime key the cache).
        options: reader options that change the parsed table (part of the key).
        schema: arrow schema of the table; every chunk is cast to it.
        chunks: called only on a cache miss; yields the parsed table chunk by chunk and raises ``ValueError``
            on bad input (then nothing is left in the cache: the temp file, and folders this call made, go).
            No rows at all is bad input too. Temp files of earlier builds that were killed are removed first.
        cache: cache root; default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``.
        created: if given, the path is appended when this call wrote it, so a caller reading several files can
            remove what it wrote when a later file fails (see :func:`ctrviz.data.amazon.load_amazon`).
        allow_empty: accept a table of no rows (e.g. an empty test file that a protocol allows).

    Returns:
        ``<cache>/<dataset>/<file name>-<path hash>-<key>.parquet``.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / "raw.txt").write_text("3\\n4\\n")
        >>> sch = pa.schema([("x", pa.int64())])
        >>> make = lambda: [pd.DataFrame({"x": [3, 4]})]
        >>> p = cached_parquet("demo", d / "raw.txt", {}, sch, make, cache=d / "cache")
        >>> pd.read_parquet(p).x.tolist(), p.parent == d / "cache" / "demo"
        ([3, 4], True)
    """
    src = Path(path).expanduser()
    key = source_key(src, options)
    stem = f"{src.name}-{hashlib.sha256(str(src.resolve()).encode()).hexdigest()[:8]}"
    root = _cache_root(cache)
    folder = root / dataset
    final = folder / f"{stem}-{key[:20]}.parquet"
    if final.is_file():
        return final
    made = [p for p in (root, folder) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    for stale in orphaned_temp_files(folder):          # left by a build that was killed: hundreds of MB each
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=temp_prefix(final.name), suffix=".tmp")
    os.close(fd)
    try:
        rows, pending = 0, None
        # one writer thread: chunk k is compressed and written while chunk k + 1 is parsed (both release the GIL)
        with pq.ParquetWriter(tmp, schema, compression="lz4") as writer, ThreadPoolExecutor(1) as write:
            for part in chunks():
                if isinstance(part, pd.DataFrame):
                    part = pa.Table.from_pandas(part, schema=schema, preserve_index=False)
                if pending is not None:
                    pending.result()
                pending = write.submit(writer.write_table, part.cast(schema))
                rows += len(part)
            if pending is not None:
                pending.result()
        if rows == 0 and not allow_empty:
            raise ValueError(f"{src}: no data rows (the file is empty, blank or holds only a header)")
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
        if created is not None:
            created.append(final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        for p in reversed(made):
            try:
                p.rmdir()
            except OSError:
                pass
        raise
    for old in folder.glob(f"{glob.escape(stem)}-*.parquet"):   # the same raw path, an older size/mtime or options
        if old != final:
            old.unlink(missing_ok=True)
    return final


def arrow_text(col: pa.Array | pa.ChunkedArray) -> pd.Series:
    """An arrow string column as an arrow-backed pandas Series (no Python object per row)."""
    return pd.Series(col, dtype=pd.ArrowDtype(pa.string()))


def flat_history_index(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Indices ``starts[i], …, starts[i] + lengths[i] - 1`` for every row ``i``, back to back.

    Example:
        >>> flat_history_index(np.array([5, 0, 2]), np.array([2, 0, 3])).tolist()
        [5, 6, 2, 3, 4]
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    offs = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)   # (K,) 0..len-1 per row
    return np.repeat(np.asarray(starts, dtype=np.int64), lengths) + offs


SEQ_COLUMNS = (Column("user", "sparse"), Column("item", "sparse"), Column("category", "sparse"),
               Column("hist_item", "sequence", vocab="item", max_len=1),
               Column("hist_cat", "sequence", vocab="category", max_len=1))


def encode_seq_splits(name: str, splits: Mapping[str, Mapping[str, object]], *, max_len: int, min_count: int,
                      info: dict) -> CTRData:
    """Flat splits → :class:`CTRData` with sparse user/item/category and sequences hist_item/hist_cat.

    Args:
        name: dataset name.
        splits: ``"train"``, ``"valid"``, ``"test"`` → arrays: ``label`` (N,) 0/1; ``user``, ``item``,
            ``category`` (N,) tokens; ``hist_item``, ``hist_cat`` (K,) tokens, every row's history oldest first,
            rows back to back; ``hist_len`` (N,); ``group`` (N,) int64 GAUC group. Tokens are numpy arrays or
            pandas Series (e.g. arrow-backed strings); they are compared as ``str``.
        max_len: T; the last ``max_len`` of each history are kept (and counted when fitting).
        min_count: rarer train tokens → OOV, in every vocabulary.
        info: copied into ``CTRData.info`` with ``sizes``, ``click_rate`` and the fitted ``encoder`` added.

    Pairs: item × hist_item, category × hist_cat; user_field ``"user"``.
    """
    cols = [replace(c, min_count=min_count, max_len=max_len if c.kind == "sequence" else 0) for c in SEQ_COLUMNS]
    enc = TableEncoder(cols, label="label", pairs=(Pair("item", "hist_item"), Pair("category", "hist_cat")),
                       user_field="user")
    tr = splits["train"]
    lens = np.asarray(tr["hist_len"], dtype=np.int64)
    from_end = np.repeat(np.cumsum(lens), lens) - np.arange(lens.sum()) - 1              # (K,) 0 = row's last
    kept = np.flatnonzero(from_end < max_len)
    series = lambda x: x if isinstance(x, pd.Series) else pd.Series(x)                     # noqa: E731
    enc.vocabs = {"user": Vocabulary(min_count).fit(series(tr["user"]))}
    for vocab, target, hist in (("item", "item", "hist_item"), ("category", "category", "hist_cat")):
        tokens = pd.concat([series(tr[target]), series(tr[hist]).iloc[kept]], ignore_index=True)
        enc.vocabs[vocab] = Vocabulary(min_count).fit(tokens)
    schema, batches = enc.schema, {}
    for split, d in splits.items():
        v = enc.vocabs
        sparse = np.stack([v[k].encode(series(d[k])) for k in ("user", "item", "category")], 1)   # (N, 3)
        n = len(sparse)
        seqs = {k: torch.from_numpy(pad_sequences(v[t].encode(series(d[k])), d["hist_len"], max_len))  # (N, T)
                for k, t in (("hist_item", "item"), ("hist_cat", "category"))}
        label = np.asarray(d["label"], dtype=np.float32)
        batches[split] = Batch(torch.from_numpy(sparse), torch.zeros(n, 0), seqs, torch.from_numpy(label),
                               torch.tensor(np.asarray(d["group"], dtype=np.int64)))
    info = {**info, "sizes": {s: len(b) for s, b in batches.items()},
            "click_rate": {s: float(b.label.mean()) if len(b) else float("nan") for s, b in batches.items()},
            "encoder": enc}
    return CTRData(name, schema, batches["train"], batches["valid"], batches["test"], info)


SPLITS = ("train", "valid", "test")


def random_split(n: int, *, valid_fraction: float, test_fraction: float, seed: int) -> dict[str, np.ndarray]:
    """Row indices of a seeded random train/valid/test split of ``n`` rows, each split in file order.

    One permutation (``numpy.random.default_rng(seed)``) of the rows: its first ``⌊test_fraction·n + ½⌋`` rows
    are test, the next ``⌊valid_fraction·n + ½⌋`` valid, the rest train. The test rows depend on ``seed`` and
    ``test_fraction`` only, so ``valid_fraction=0`` (the AOANet paper's 90/10) and ``0.1`` test on the same rows.

    Example:
        >>> s = random_split(10, valid_fraction=0.1, test_fraction=0.2, seed=0)
        >>> {k: len(v) for k, v in s.items()}, sorted(np.concatenate(list(s.values())).tolist()) == list(range(10))
        ({'train': 7, 'valid': 1, 'test': 2}, True)
        >>> (random_split(10, valid_fraction=0.0, test_fraction=0.2, seed=0)["test"] == s["test"]).all()
        np.True_
    """
    for name, f in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0.0 <= f < 1.0:
            raise ValueError(f"{name} must lie in [0, 1), got {f!r}")
    if valid_fraction + test_fraction >= 1.0:
        raise ValueError(f"valid_fraction + test_fraction must be < 1, got {valid_fraction!r} + {test_fraction!r}")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(test_fraction * n + 0.5)
    n_valid = int(valid_fraction * n + 0.5)
    parts = {"train": perm[n_test + n_valid:], "valid": perm[n_test:n_test + n_valid], "test": perm[:n_test]}
    return {k: np.sort(v) for k, v in parts.items()}


def sparse_tokens(col: pa.Array | pa.ChunkedArray, transform: str = "none") -> pd.Series:
    """One raw column as the tokens a :class:`~ctrviz.data.encoders.Vocabulary` counts, without a Python object per row.

    Args:
        col: an arrow column: strings (→ an arrow-backed Series) or integers (→ int64 Series; for
            ``transform="log_bucket"`` nulls are allowed).
        transform: ``"log_bucket"`` maps each value by :func:`~ctrviz.data.encoders.log_bucket` (null → ``"nan"``),
            computed once per distinct value and returned as a categorical Series.

    Example:
        >>> sparse_tokens(pa.array([1, None, 3, 20, 3]), "log_bucket").tolist()
        ['v1', 'nan', 'b1', 'b8', 'b1']
    """
    if transform == "log_bucket":
        return pd.Series(pd.Categorical.from_codes(*log_bucket_codes(col)))
    if transform != "none":
        raise ValueError(f"sparse_tokens: transform must be 'none' or 'log_bucket', got {transform!r}")
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        return arrow_text(col)
    return pd.Series(col.to_numpy(zero_copy_only=False) if isinstance(col, pa.Array) else col.to_numpy())


__all__ = ["SEQ_COLUMNS", "SPLITS", "arrow_text", "cached_parquet", "check_chunksize", "check_positive_int",
           "encode_seq_splits", "first_bad", "flat_history_index", "iter_line_chunks",
           "need_file", "parse_ints", "parse_labels", "random_split", "source_key", "sparse_tokens", "split_fields"]


def load_split_table(name: str, path: str | Path, cache_table: Callable[[list[Path]], Path],
                     columns: Callable[[int], Sequence[Column]], label: str, *, protocol: str, min_count: int,
                     seed: int, valid_fraction: float, test_fraction: float) -> CTRData:
    """The shared body of the Criteo and Avazu loaders: check the arguments before any file is touched, cache
    the raw file (``cache_table(created)`` → parquet path, appending it to ``created`` when this call wrote it),
    split its rows at random, encode column by column into the encoded cache (or map it, when this encoding was
    built before); on any error the parquet this call wrote is removed.

    ``protocol`` is formatted with ``min_count``, ``seed``, ``valid_fraction`` and ``test_fraction`` into
    ``info["protocol"]``; ``columns(min_count)`` gives the field specs.
    """
    check_positive_int(min_count, "min_count")
    random_split(0, valid_fraction=valid_fraction, test_fraction=test_fraction, seed=seed)   # check the fractions
    created: list[Path] = []
    cached = cache_table(created)
    with forget_on_error(created):                     # a failed load leaves no cache file of its own behind
        cols = list(columns(min_count))
        split = {"seed": seed, "valid_fraction": valid_fraction, "test_fraction": test_fraction}
        folder = encoded_folder(cached, encoded_key(cached, cols, label, split))
        if (folder / "meta.json").is_file():           # encoded before: map the arrays, no parsing, no encoding
            return load_encoded(folder)
        n = pq.ParquetFile(cached).metadata.num_rows
        splits = random_split(n, valid_fraction=valid_fraction, test_fraction=test_fraction, seed=seed)
        if not len(splits["train"]):
            raise ValueError(f"{path}: the {name} train split is empty ({n} rows; file empty or fractions too big)")
        info = {"protocol": protocol.format(min_count=min_count, **split), "source": str(path),
                "cache_file": str(cached), **split, "min_count": min_count}
        return load_encoded(build_encoded(name, cached, cols, label, splits, folder, info=info))


@contextlib.contextmanager
def forget_on_error(created: list[Path]) -> Iterator[None]:
    """Remove the cache files in ``created`` (those :func:`cached_parquet` wrote during this load) if the block
    raises: a load that fails validation writes nothing."""
    try:
        yield
    except BaseException:
        for p in created:
            p.unlink(missing_ok=True)
        raise
