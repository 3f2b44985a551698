"""The encoded cache: a table's ids as int32 arrays on disk, memory-mapped on load — a cached load does not re-encode.

The large readers (:mod:`ctrviz.data.criteo`, :mod:`ctrviz.data.avazu`) keep two caches under
``cache_dir(cache)/<dataset>/``:

1. the parsed table as parquet (:func:`~ctrviz.data.parquet_cache.cached_parquet`), keyed by the raw file and the
   reader's options — parsing the text is paid once;
2. beside it, one folder per encoding (this module), keyed by that parquet file, the field specs, ``min_count``, the
   split and the seed: ``sparse.bin``, the (F, N) ids column after column (int32; int64 only where a vocabulary
   outgrows int32), ``label.bin`` (N,) float32, ``encoder.json`` (the fitted vocabularies,
   :class:`~ctrviz.data.encoders.TableEncoder` JSON as today) and ``meta.json`` (the split sizes and the ``info`` of
   the load).

A cached load reads the two JSON files and maps the two arrays (``numpy.memmap``, copy-on-write: nothing a caller
does to the tensors reaches the file). Pages are read from disk when a batch first touches them, so a split larger
than RAM trains, and the OS shares the pages between processes. The splits are contiguous row ranges (train, valid,
test), and each :class:`~ctrviz.data.batch.Batch` holds a transposed (N, F) view of the (F, N) array; indexing it
gathers the rows and gives int64 ids (:meth:`~ctrviz.data.batch.Batch.__getitem__`).

Encoding a column (:func:`fit_codes`) works on its distinct values, not its rows: the column is factorized once
(parquet dictionary pages are read as they are), the train rows' counts are one ``bincount``, the kept tokens are
sorted by (count descending, token) in C, and the ids are one lookup per row. The result equals
``Vocabulary(min_count).fit(train tokens)`` followed by ``encode(all tokens)`` (tested).

Writing is atomic: a temp folder (``.NAME.PID.….tmp``) renamed into place when every column is written; an error or a
kill leaves no folder under the final name, and the next build removes temp folders whose writer is gone.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import json
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from ctrviz.data.batch import Batch, CTRData
from ctrviz.data.encoders import Column, TableEncoder, Vocabulary, log_bucket
from ctrviz.data.schema import FIRST_ID, OOV_ID
from ctrviz.utils import orphaned_temp_files, temp_prefix

VERSION = 1
SPLITS = ("train", "valid", "test")
INT32_MAX = np.iinfo(np.int32).max


def log_bucket_codes(col: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column (nulls allowed) as :func:`~ctrviz.data.encoders.log_bucket` tokens, factorized:
    ``(codes (N,), distinct tokens)``, with ``log_bucket`` computed once per distinct value, not per row.

    Example:
        >>> codes, toks = log_bucket_codes(pa.array([1, None, 3, 20, 3]))
        >>> [str(toks[c]) for c in codes]
        ['v1', 'nan', 'b1', 'b8', 'b1']
    """
    values = col.to_numpy(zero_copy_only=False) if isinstance(col, pa.Array) else col.to_numpy()
    codes, uniques = pd.factorize(np.asarray(values, dtype=np.float64), use_na_sentinel=False)
    bucket, buckets = pd.factorize(log_bucket(uniques))                 # (K,) bucket of each distinct value
    return bucket[codes], buckets


def column_codes(parquet: str | Path, column: Column) -> tuple[np.ndarray, pa.Array]:
    """One parquet column factorized: ``(codes (N,) int32, distinct tokens as an arrow string array)``; row ``i`` is
    ``tokens[codes[i]]``.

    String columns are read as dictionary arrays (parquet's own dictionary pages, no re-hash where the file kept them);
    integer columns are factorized on their values and the tokens are their ``str``; ``transform="log_bucket"`` maps
    each distinct value by :func:`~ctrviz.data.encoders.log_bucket` (null → ``"nan"``). A null in a column without a
    transform is an error (fill missing categories with a token such as ``""`` first).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.parquet"
        >>> pq.write_table(pa.table({"c": ["b", "a", "b"], "n": [3, None, 20]}), p)
        >>> codes, toks = column_codes(p, Column("c", "sparse"))
        >>> codes.tolist(), toks.to_pylist()
        ([0, 1, 0], ['b', 'a'])
        >>> codes, toks = column_codes(p, Column("n", "sparse", transform="log_bucket"))
        >>> [toks[int(c)].as_py() for c in codes]
        ['b1', 'nan', 'b8']
    """
    name = column.src
    col = pq.read_table(parquet, columns=[name]).column(0)
    if column.transform == "log_bucket":
        codes, buckets = log_bucket_codes(col)
        return codes.astype(np.int32), pa.array(np.asarray(buckets, dtype=object), pa.string())
    if column.transform != "none":
        raise ValueError(f"column {name!r}: transform must be 'none' or 'log_bucket', got {column.transform!r}")
    if col.null_count:
        raise ValueError(f"column {name!r}: {col.null_count} missing values; fill missing categories with a token "
                         "such as '' first")
    if pa.types.is_dictionary(col.type) or pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        if not pa.types.is_dictionary(col.type):
            col = pq.read_table(parquet, columns=[name], read_dictionary=[name]).column(0)
        if not pa.types.is_dictionary(col.type):                     # a reader that cannot keep the dictionary
            col = pc.dictionary_encode(col)
        col = col.unify_dictionaries()
        tokens = col.chunks[0].dictionary if col.num_chunks else pa.array([], pa.string())
        codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in col.chunks]) if col.num_chunks \
            else np.zeros(0, np.int32)
        return codes.astype(np.int32, copy=False), tokens.cast(pa.string())
    codes, uniques = pd.factorize(col.to_numpy())
    return codes.astype(np.int32), pa.array([str(u) for u in uniques], pa.string())


def fit_codes(codes: np.ndarray, tokens: pa.Array, train: np.ndarray, min_count: int) -> tuple[Vocabulary, np.ndarray]:
    """The :class:`~ctrviz.data.encoders.Vocabulary` of a factorized column fitted on the ``train`` rows, and the ids of
    every row: tokens seen ``min_count`` times or more in train get ids from ``FIRST_ID`` in (count descending, token)
    order, the rest ``OOV_ID`` — ``Vocabulary(min_count).fit(...)`` then ``encode(...)``, on distinct values.

    Example:
        >>> v, ids = fit_codes(np.array([0, 1, 0, 2, 2, 2, 1]), pa.array(["a", "b", "c"]), np.arange(6), 2)
        >>> v.tokens, ids.tolist()
        (['c', 'a'], [3, 1, 3, 2, 2, 2, 1])
    """
    counts = np.bincount(codes[train], minlength=len(tokens))                  # (U,) train count of each token
    kept = np.flatnonzero(counts >= min_count)
    order = pc.sort_indices(pa.table({"n": -counts[kept], "t": tokens.take(pa.array(kept))}),
                            sort_keys=[("n", "ascending"), ("t", "ascending")]).to_numpy()
    ranked = kept[order]                                                       # (K,) token index by id - FIRST_ID
    lookup = np.full(len(tokens), OOV_ID, dtype=np.int64)
    lookup[ranked] = FIRST_ID + np.arange(len(ranked))
    vocab = Vocabulary(min_count)._set(tokens.take(pa.array(ranked)).to_pylist())
    ids = lookup[codes]
    return vocab, ids.astype(np.int32) if len(ranked) + FIRST_ID <= INT32_MAX else ids


def encoded_key(parquet: str | Path, columns: Sequence[Column], label: str, split: Mapping[str, object]) -> str:
    """sha256 (hex) of what the encoded arrays depend on: the parquet file (its name holds the raw file's key), its size
    and mtime, the field specs, the label column, the split parameters and :data:`VERSION`."""
    p = Path(parquet)
    st = p.stat()
    blob = json.dumps([VERSION, p.name, st.st_size, st.st_mtime_ns, [asdict(c) for c in columns], label, dict(split)],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def encoded_folder(parquet: str | Path, key: str) -> Path:
    """``<parquet without .parquet>.enc-<key[:16]>`` beside the parquet file."""
    p = Path(parquet)
    return p.with_name(f"{p.stem}.enc-{key[:16]}")


def remove_orphans(folder: Path) -> None:
    """Remove temp files and temp folders under ``folder`` whose writing process is gone."""
    for stale in orphaned_temp_files(folder):
        shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink(missing_ok=True)


def build_encoded(name: str, parquet: str | Path, columns: Sequence[Column], label: str,
                  splits: Mapping[str, np.ndarray], final: Path, *, info: dict) -> Path:
    """Encode ``parquet`` one column at a time into the folder ``final`` (:func:`encoded_folder`), atomically.

    Returns ``final``. The rows are stored split after split (train, valid, test, each in the order of ``splits``);
    each column's vocabulary is fitted on the train rows. ``info`` is stored in ``meta.json`` (JSON-able values only).
    """
    remove_orphans(final.parent)
    order = np.concatenate([np.asarray(splits[s], dtype=np.int64) for s in SPLITS])   # (N,) rows, split by split
    train = np.asarray(splits["train"], dtype=np.int64)
    enc = TableEncoder(list(columns), label=label)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=temp_prefix(final.name), suffix=".tmp"))
    try:
        dtype = np.int32
        for c in columns:
            if c.kind != "sparse" or c.vocab not in (None, c.name):
                raise ValueError(f"{name}: column {c.name!r} must be sparse with its own vocabulary")

        def encode(c: Column) -> tuple[Vocabulary, np.ndarray]:          # one column: (N,) ids in split order
            vocab, ids = fit_codes(*column_codes(parquet, c), train, c.min_count)
            if not vocab.tokens:
                raise ValueError(f"{name}: no value of field {c.name!r} occurs min_count={c.min_count} times in "
                                 f"the train split ({len(train)} rows); lower min_count (ctrviz train/reproduce "
                                 "--min-count N)")
            if ids.dtype != np.int32:
                raise ValueError(f"{name}: field {c.name!r} has {len(vocab):,} ids, more than int32 holds; raise "
                                 "min_count")
            return vocab, ids[order]

        # two columns at a time (pyarrow and numpy release the GIL), written in field order; at most two columns'
        # ids are held, so the peak memory does not grow with the number of fields
        with open(tmp / "sparse.bin", "wb") as fh, ThreadPoolExecutor(2) as pool:   # (F, N): column j at j*N
            todo = iter(columns)
            running = deque((c, pool.submit(encode, c)) for c in itertools.islice(todo, 2))
            while running:
                c, job = running.popleft()
                vocab, ids = job.result()
                if (nxt := next(todo, None)) is not None:
                    running.append((nxt, pool.submit(encode, nxt)))
                fh.write(ids.tobytes())
                enc.vocabs[c.name] = vocab
        y = pq.read_table(parquet, columns=[label]).column(0).to_numpy().astype(np.float32)[order]   # (N,)
        y.tofile(tmp / "label.bin")
        sizes = {s: len(splits[s]) for s in SPLITS}
        meta = {"version": VERSION, "name": name, "rows": len(order), "fields": len(columns),
                "dtype": np.dtype(dtype).name, "sizes": sizes, "info": info}
        (tmp / "encoder.json").write_text(enc.to_json(), encoding="utf-8")
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        os.chmod(tmp, 0o755)
        if (final / "meta.json").is_file():            # another process finished the same encoding first: keep it
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    same_file = glob.escape(Path(parquet).stem.rsplit("-", 1)[0])       # <file name>-<path hash>, any key
    for old in final.parent.glob(f"{same_file}-*.enc-*"):    # encodings of an older parquet of the same raw file
        if old != final and _stale(old, parquet):
            shutil.rmtree(old, ignore_errors=True)
    return final


def _stale(folder: Path, parquet: str | Path) -> bool:
    """Whether an encoded folder was made from another parquet file than ``parquet`` (its meta names its source)."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return meta.get("info", {}).get("cache_file") != str(parquet)


def load_encoded(folder: str | Path) -> CTRData:
    """The :class:`~ctrviz.data.batch.CTRData` stored by :func:`build_encoded`, its arrays memory-mapped (no copy)."""
    folder = Path(folder)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    n, f = int(meta["rows"]), int(meta["fields"])
    ids = np.memmap(folder / "sparse.bin", dtype=np.dtype(meta["dtype"]), mode="c", shape=(f, n)) if n * f else \
        np.zeros((f, n), np.int32)
    y = np.memmap(folder / "label.bin", dtype=np.float32, mode="c", shape=(n,)) if n else np.zeros(0, np.float32)
    sparse, label = torch.from_numpy(ids).T, torch.from_numpy(y)                # (N, F) view, (N,)
    enc = TableEncoder.load(folder / "encoder.json")
    bounds = np.cumsum([0] + [int(meta["sizes"][s]) for s in SPLITS])
    batches = {s: Batch(sparse[a:b], torch.zeros(b - a, 0), {}, label[a:b])
               for s, a, b in zip(SPLITS, bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)}
    info = {**meta["info"], "sizes": {s: len(b) for s, b in batches.items()},
            "click_rate": {s: float(b.label.mean()) if len(b) else float("nan") for s, b in batches.items()},
            "encoder": enc, "encoded_cache": str(folder)}
    return CTRData(meta["name"], enc.schema, batches["train"], batches["valid"], batches["test"], info)


__all__ = ["build_encoded", "column_codes", "encoded_folder", "encoded_key", "fit_codes", "load_encoded",
           "log_bucket_codes"]
