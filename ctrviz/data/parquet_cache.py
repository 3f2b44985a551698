"""Streaming raw files into a parquet cache: chunked line reading with line numbers, vectorised validation.

The large real-data readers (:mod:`ctrviz.data.amazon`, :mod:`ctrviz.data.taobao`) share one shape:

1. :func:`iter_line_chunks` reads a text file ``chunksize`` lines at a time (never the whole file), keeping
   the 1-based line number of every non-blank line;
2. :func:`split_fields` / :func:`parse_ints` validate a chunk with vectorised pandas string operations and
   raise ``ValueError("<file>: line <n>: expected …")`` at the first bad line;
3. :func:`cached_parquet` streams the parsed chunks into a temp parquet file under
   ``cache_dir(cache)/<dataset>/`` and renames it into place only when every chunk parsed, so an error
   leaves the cache as it was. The file name holds a hash of (resolved path, size, mtime, reader options);
   a later call with the same key reads the parquet and never opens the raw file, a changed file gets a
   new key (and the stale parquet of that path is deleted).
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq


def check_chunksize(chunksize: int) -> int:
    """``chunksize`` if it is an int >= 1, else a ``ValueError``."""
    if not isinstance(chunksize, int) or isinstance(chunksize, bool) or chunksize < 1:
        raise ValueError(f"chunksize must be an int >= 1, got {chunksize!r}")
    return chunksize


def iter_line_chunks(path: str | Path, chunksize: int, encoding: str = "utf-8"
                     ) -> Iterator[tuple[np.ndarray, list[str]]]:
    """Chunks of ≤ ``chunksize`` lines: (1-based line numbers, lines without ``\\r\\n``); blank lines skipped.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.txt"
        >>> _ = p.write_bytes(b"a\\r\\nb\\n\\nc\\n")
        >>> [(n.tolist(), lines) for n, lines in iter_line_chunks(p, 2)]
        [([1, 2], ['a', 'b']), ([4], ['c'])]
    """
    check_chunksize(chunksize)
    with open(path, "rb") as fh:
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
    """Raise ``ValueError`` at the first ``False`` in ``ok``: '<path>: line <n>: expected <what>, got <value>'."""
    ok = ok.to_numpy(zero_copy_only=False) if isinstance(ok, pa.Array) else np.asarray(ok, dtype=bool)
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        got = values[i].as_py() if isinstance(values, pa.Array) else values[i]
        raise ValueError(f"{path}: line {numbers[i]}: expected {what}, got {got!r}")


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
                   created: list[Path] | None = None) -> Path:
    """The parquet cache of ``path``'s parsed table, built from ``chunks()`` on the first call.

    Args:
        dataset: sub-folder of the cache, e.g. ``"amazon"``.
        path: the raw file (its path, size and mtime key the cache).
        options: reader options that change the parsed table (part of the key).
        schema: arrow schema of the table; every chunk is cast to it.
        chunks: called only on a cache miss; yields the parsed table chunk by chunk and raises ``ValueError``
            on bad input (then nothing is left in the cache: the temp file, and folders this call made, go).
        cache: cache root; default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``.
        created: if given, the path is appended when this call wrote it, so a caller reading several files can
            remove what it wrote when a later file fails (see :func:`ctrviz.data.amazon.load_amazon`).

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
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{final.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for part in chunks():
                if isinstance(part, pd.DataFrame):
                    part = pa.Table.from_pandas(part, schema=schema, preserve_index=False)
                writer.write_table(part.cast(schema))
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


__all__ = ["cached_parquet", "check_chunksize", "first_bad", "iter_line_chunks", "parse_ints",
           "source_key", "split_fields"]
