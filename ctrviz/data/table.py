"""Your own table → :class:`~ctrviz.data.batch.CTRData`: a small spec names the columns, :func:`load_table` reads.

A click log in a CSV/TSV file (header or not, any one-character delimiter, optionally ``.gz``), a parquet file or a
pandas DataFrame becomes train/valid/test splits that every ctrviz model trains on. The spec — a YAML, TOML or JSON
file, a ``dict`` of the same keys, or a :class:`TableSpec` — says what each column is::

    label: clicked                     # 0/1; or {column: clicked, map: {"yes": 1, "no": 0}}
    sparse: [user_id, ad_id, site]     # categories: one id per value (tokens seen < min_count times in train → OOV)
    dense:                             # numbers, standardized with the train mean/std
      price: {fill: 0}                 #   an empty price becomes 0 (without fill an empty value is an error)
    sequence:                          # ordered lists in one cell, oldest first → Batch.seqs (B, T), 0 = padding
      hist_ads: {sep: "|", max_len: 20, vocab: ad_id}
    user: user_id                      # GAUC groups by it (and the last_k split); a sparse field only if listed there
    time: ts                           # numbers or ISO 8601 dates, for split by: time / last_k
    split: {by: random, valid: 0.1, test: 0.1, seed: 0}    # or {by: time, …} or {by: last_k, k: 1}
    min_count: 2                       # global; or {default: 2, user_id: 5}; a column's own option wins
    pairs: [[ad_id, hist_ads]]         # CAN's induction × feed pairs (or "ad_id:hist_ads")
    format: {delimiter: ";", header: true}                  # only when the file name does not say it

The keys, their options and the one-line errors for impossible values: :mod:`ctrviz.data.table_spec`.
Multi-valued (``multi``: a bag, e.g. genres) and ``sequence`` (a time-ordered history) columns both hold a
list in one cell and both become ``Batch.seqs[name]`` (B, T), left-aligned, 0-padded, the **last**
``max_len`` tokens kept (CAN Sec. 6); the models pool both. A missing category is the token ``""``.

Reading: a file is read ``chunksize`` lines (or parquet rows) at a time, never whole, validated with vectorised
pyarrow operations and streamed into the parquet cache (:func:`~ctrviz.data.parquet_cache.cached_parquet`,
``<cache>/table/``, keyed by the file and the parts of the spec that change the parsed table — label, columns,
separators, format — so changing ``min_count`` or the split reuses it); then each column is read back alone, its
vocabulary fitted on the **train split only** (a list column counts the tokens it keeps, the last ``max_len`` of each
row), and encoded. A DataFrame skips the cache. Lines with a ``"`` are split by :mod:`csv` (quoted values may hold
the delimiter, not a newline); the others by pyarrow.

Bad input is a one-line ``ValueError`` naming the file, the 1-based line (or the 0-based row of a DataFrame or
parquet file), the column and the fix, and nothing is left in the cache: a column the spec names but the file lacks
(with a delimiter hint when the header is one column that holds another delimiter); a label other than 0/1 or the
declared map; a dense value that is not a number; an empty dense value without ``fill``; text in a list column
without ``sep``; a wrong separator (rule: a multi/sequence column with ``max_len`` > 1 whose declared ``sep`` occurs
in **no** value of the file while at least a tenth of its non-empty values hold one other separator among
``, ; | : / tab space`` — no row would have two tokens, and those cells would be long tokens); an empty split; a
file that is not the declared format (parquet named ``.csv``, text named ``.parquet``, binary or non-UTF-8 text);
gzip content whose name does not end in ``.gz`` or a ``.gz`` name on a file that is not gzip.
"""

from __future__ import annotations

import contextlib
import csv
import difflib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch

from ctrviz.data.batch import Batch, CTRData
from ctrviz.data.encoders import Column, Standardizer, TableEncoder, Vocabulary, pad_sequences
from ctrviz.data.parquet_cache import (
    GZIP_MAGIC,
    SPLITS,
    arrow_text,
    cached_parquet,
    check_chunksize,
    earliest_bad_line,
    flat_history_index,
    forget_on_error,
    iter_line_chunks,
    need_file,
    random_split,
    sparse_tokens,
    split_fields,
)
from ctrviz.data.table_spec import KINDS, ColumnSpec, FormatSpec, SplitSpec, TableSpec, as_spec

_SUFFIX_TYPES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".txt": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_NA = ["", "nan", "na", "n/a", "null", "none"]           # empty numbers (lower-cased)
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_SEP_CANDIDATES = (",", ";", "|", ":", "/", "\t", " ")


# == parsing: raw columns → the typed table of the cache ===========================================
@dataclass(frozen=True)
class _Where:
    src: str                                           # the file, or "DataFrame"
    unit: str                                          # "line" (1-based, files) or "row" (0-based position)

    def fail(self, numbers: np.ndarray, ok: np.ndarray | pa.Array, values: pa.Array, msg: str) -> None:
        """Raise at the first False of ``ok``: '<src>: <unit> <n>: ' + msg with {value} filled in; ``.line`` = n."""
        ok = ok.to_numpy(zero_copy_only=False) if isinstance(ok, (pa.Array, pa.ChunkedArray)) else np.asarray(ok)
        ok = np.asarray(ok, dtype=bool)
        if ok.all():
            return
        i = int(np.flatnonzero(~ok)[0])
        value = values[i].as_py() if isinstance(values, pa.Array) else values[i]
        err = ValueError(f"{self.src}: {self.unit} {numbers[i]}: "
                         + msg.replace("{value}", "an empty value" if value in (None, "") else repr(value)))
        err.line = int(numbers[i])
        raise err


def _plain(col: pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if pa.types.is_large_string(col.type):
        col = col.cast(pa.string())
    return col


def _is_text(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t)


def _text(col: pa.Array, name: str, what: str, src: str) -> pa.Array:
    """A column as trimmed strings (numbers and booleans as their text), nulls kept."""
    if _is_text(col.type):
        return pc.utf8_trim_whitespace(col)
    if pa.types.is_null(col.type):
        return pa.nulls(len(col), pa.string())
    if _is_number(col.type) or pa.types.is_temporal(col.type):
        return pc.cast(col, pa.string())
    raise ValueError(f"{src}: column {name!r} holds {col.type} values, not {what}; "
                     + ("list it under multi or sequence" if pa.types.is_list(col.type) or
                        pa.types.is_large_list(col.type) else "convert it to text or numbers"))


def _label(col: pa.Array, numbers: np.ndarray, where: _Where, name: str, mapping: dict[str, int] | None) -> pa.Array:
    fix = f"declare what the values mean: label: {{column: {name}, map: {{<value>: 1, <other value>: 0}}}}"
    if mapping is None and (pa.types.is_boolean(col.type) or _is_number(col.type)):
        x = pc.cast(col, pa.float64()).to_numpy(zero_copy_only=False)
        where.fail(numbers, (x == 0) | (x == 1), col, f"label column {name!r} holds {{value}}, expected 0 or 1; {fix}")
        return pa.array(x.astype(np.int8))
    text = pc.utf8_lower(_text(col, name, "labels", where.src))
    if mapping is None:
        ok = pc.fill_null(pc.is_in(text, value_set=pa.array(["0", "1", "0.0", "1.0", "true", "false"])), False)
        where.fail(numbers, ok, col, f"label column {name!r} holds {{value}}, expected 0 or 1; {fix}")
        return pc.cast(pc.is_in(text, value_set=pa.array(["1", "1.0", "true"])), pa.int8())
    keys = pa.array(list(mapping))
    pos = pc.index_in(text, value_set=keys)
    where.fail(numbers, pc.is_valid(pos), col, f"label column {name!r} holds {{value}}, which label.map does not list "
                                               f"(it maps {', '.join(map(repr, mapping))}); add it to label.map")
    return pc.take(pa.array(list(mapping.values()), pa.int8()), pos)


def _numbers(col: pa.Array, numbers: np.ndarray, where: _Where, what: str, fix: str, missing: str | None) -> pa.Array:
    """A column of numbers as float64 (empty / NaN → null); text names its line; ``missing``: the message for an
    empty value, ``None`` if empty values are fine."""
    if _is_number(col.type):
        x = pc.cast(col, pa.float64())
        arr = x.to_numpy(zero_copy_only=False)
        where.fail(numbers, ~np.isinf(arr), x, f"{what} holds {{value}}, not a finite number; {fix}")
        x = pa.array(arr, from_pandas=True)            # NaN → null
    elif _is_text(col.type) or pa.types.is_null(col.type):
        text = _text(col, what, "numbers", where.src)
        empty = pc.fill_null(pc.is_in(pc.utf8_lower(text), value_set=pa.array(_NA)), True)
        ok = pc.or_(empty, pc.fill_null(pc.match_substring_regex(text, _NUMBER), False))
        where.fail(numbers, ok, text, f"{what} holds {{value}}, not a number; {fix}")
        x = pc.cast(pc.if_else(empty, pa.scalar(None, pa.string()), text), pa.float64())
    else:
        raise ValueError(f"{where.src}: {what} holds {col.type} values, not numbers; {fix}")
    if missing is not None:
        where.fail(numbers, pc.is_valid(x), x, f"{what} is empty; {missing}")
    return x


class _SepCheck:
    """Counts, over a whole file, the values of a list column that hold the declared ``sep`` and those that hold
    each other separator character (the wrong-separator rule of the module docstring)."""

    def __init__(self, name: str, sep: str) -> None:
        self.name, self.sep = name, sep
        self.nonempty = self.with_sep = 0
        self.others = {c: [0, None] for c in _SEP_CANDIDATES if c not in sep}

    def update(self, text: pa.Array, numbers: np.ndarray) -> None:
        self.nonempty += int(pc.sum(pc.not_equal(text, "")).as_py() or 0)
        self.with_sep += int(pc.sum(pc.match_substring(text, self.sep)).as_py() or 0)
        for c, slot in self.others.items():
            hit = pc.match_substring(text, c).to_numpy(zero_copy_only=False)
            slot[0] += int(hit.sum())
            if slot[1] is None and hit.any():
                slot[1] = int(numbers[int(np.argmax(hit))])

    def check(self, where: _Where) -> None:
        if self.with_sep or not self.nonempty:
            return
        c, (count, first) = max(self.others.items(), key=lambda kv: kv[1][0])
        if count and 10 * count >= self.nonempty:
            raise ValueError(f"{where.src}: column {self.name!r}: no value holds the declared separator {self.sep!r} "
                             f"but {count} of {self.nonempty} non-empty values hold {c!r} (the first on {where.unit} "
                             f"{first}); set sep: {c!r} for it (or, if each value is one token, list it under sparse)")


def _lists(col: pa.Array, numbers: np.ndarray, where: _Where, c: ColumnSpec, check: _SepCheck | None) -> pa.Array:
    """A multi/sequence column as list<string>: cells split at ``sep`` (or lists already), tokens trimmed, empty
    tokens dropped, an empty or missing cell → []."""
    n = len(col)
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        flat = pc.list_flatten(col)
        parent = pc.list_parent_indices(col).to_numpy(zero_copy_only=False)
        flat = _text(_plain(flat), c.name, "tokens", where.src)
    elif _is_text(col.type) or pa.types.is_null(col.type):
        text = pc.fill_null(_text(col, c.name, "text", where.src), "")
        if c.sep is None:
            has = pc.not_equal(text, "")
            where.fail(numbers, pc.invert(has), text, f"{c.kind} column {c.name!r} holds text {{value}}; declare its "
                                                      f"separator: {c.kind}: {{{c.name}: {{sep: ',', max_len: "
                                                      f"{c.max_len}}}}}")
        if check is not None:
            check.update(text, numbers)
        parts = pc.split_pattern(text, c.sep or ",")
        flat = pc.utf8_trim_whitespace(pc.list_flatten(parts))
        parent = pc.list_parent_indices(parts).to_numpy(zero_copy_only=False)
    else:
        raise ValueError(f"{where.src}: {c.kind} column {c.name!r} holds {col.type} values; it needs text with a "
                         "separator (sep) or lists")
    keep = pc.fill_null(pc.not_equal(flat, ""), False)
    flat, parent = pc.filter(flat, keep), parent[keep.to_numpy(zero_copy_only=False)]
    offsets = np.concatenate([[0], np.cumsum(np.bincount(parent, minlength=n))]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), flat.cast(pa.string()))


def _seconds(t: pd.Series) -> np.ndarray:
    """UTC datetimes → float seconds since 1970 (whatever pandas' resolution)."""
    return ((t - pd.Timestamp("1970-01-01", tz="UTC")) / pd.Timedelta(1, "s")).to_numpy(dtype=np.float64)


class _Parser:
    """Raw columns of one chunk → the typed table of the cache; keeps the state that spans chunks."""

    def __init__(self, spec: TableSpec, where: _Where) -> None:
        self.spec, self.where = spec, where
        self.checks = {c.name: _SepCheck(c.name, c.sep) for c in spec.columns
                       if c.kind in ("multi", "sequence") and c.sep is not None and c.max_len > 1}
        self.time_numeric: bool | None = None
        types = {spec.label: pa.int8()}
        for c in spec.columns:
            types[c.name] = (pa.float64() if c.kind == "dense" or c.transform == "log_bucket" else
                             pa.list_(pa.string()) if c.kind in ("multi", "sequence") else pa.string())
        if spec.user is not None and spec.user not in types:
            types[spec.user] = pa.string()
        if spec.time is not None:
            types[spec.time] = pa.float64()
        self.schema = pa.schema(list(types.items()))

    def options(self) -> dict:
        """What changes the parsed table: part of the cache key."""
        s = self.spec
        return {"format": "ctrviz-table", "version": 1, "label": [s.label, s.label_map], "user": s.user,
                "time": s.time, "columns": [[c.name, c.kind, c.transform, c.sep, c.fill is not None, c.max_len > 1]
                                            for c in s.columns],
                "fmt": asdict(s.format)}

    def table(self, raw: Mapping[str, pa.Array], numbers: np.ndarray) -> pa.Table:
        s, w = self.spec, self.where
        raw = {k: _plain(v) for k, v in raw.items()}
        checks: list[tuple[str, Callable[[], pa.Array]]] = [
            (s.label, partial(_label, raw[s.label], numbers, w, s.label, s.label_map))]
        for c in s.columns:
            checks.append((c.name, partial(self._column, c, raw[c.name], numbers)))
        if s.user is not None and s.user not in (c.name for c in s.columns):
            checks.append((s.user, partial(self._text, s.user, raw[s.user], numbers)))
        if s.time is not None:
            checks.append((s.time, partial(self._time, raw[s.time], numbers)))
        cols = earliest_bad_line([f for _, f in checks])   # the first bad line is reported, whichever column
        return pa.table(dict(zip([k for k, _ in checks], cols, strict=True)), schema=self.schema)

    def _text(self, name: str, col: pa.Array, numbers: np.ndarray) -> pa.Array:
        text = pc.fill_null(_text(col, name, "categories", self.where.src), "")
        if name == self.spec.user:
            self.where.fail(numbers, pc.not_equal(text, ""), text,
                            f"user column {name!r} is empty; every row needs a user (or drop user: from the spec)")
        return text

    def _column(self, c: ColumnSpec, col: pa.Array, numbers: np.ndarray) -> pa.Array:
        if c.kind == "dense":
            return _numbers(col, numbers, self.where, f"dense column {c.name!r}",
                            "fix the value, or list the column under sparse if it holds categories",
                            None if c.fill is not None else
                            f"give it a fill value (dense: {{{c.name}: {{fill: 0}}}}) or list it under sparse with "
                            "transform: log_bucket")
        if c.transform == "log_bucket":
            x = _numbers(col, numbers, self.where, f"sparse column {c.name!r}",
                         "drop transform: log_bucket to use the values as categories", None)
            if c.name == self.spec.user:
                self.where.fail(numbers, pc.is_valid(x), x, f"user column {c.name!r} is empty; every row needs a user")
            return x
        if c.kind == "sparse":
            return self._text(c.name, col, numbers)
        return _lists(col, numbers, self.where, c, self.checks.get(c.name))

    def _time(self, col: pa.Array, numbers: np.ndarray) -> pa.Array:
        name, w = self.spec.time, self.where
        if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
            w.fail(numbers, pc.is_valid(col), col, f"time column {name!r} is empty; every row needs a time")
            return pa.array(_seconds(pd.to_datetime(pd.Series(col.to_pandas()), utc=True)), pa.float64())
        text = pc.fill_null(_text(col, name, "times", w.src), "")
        w.fail(numbers, pc.not_equal(text, ""), text, f"time column {name!r} is empty; every row needs a time")
        numeric = bool(pc.all(pc.match_substring_regex(text, _NUMBER)).as_py() is not False)
        if self.time_numeric is None:
            self.time_numeric = numeric
        if self.time_numeric:
            w.fail(numbers, pc.match_substring_regex(text, _NUMBER), text,
                   f"time column {name!r} holds {{value}}, not a number like the rows before it; use one kind of time")
            return pc.cast(text, pa.float64())
        t = pd.to_datetime(pd.Series(text.to_numpy(zero_copy_only=False)), errors="coerce", format="ISO8601", utc=True)
        w.fail(numbers, t.notna().to_numpy(), text, f"time column {name!r} holds {{value}}, not a number or an ISO "
                                                    "8601 date/time (2024-01-31, 2024-01-31 12:00:00)")
        return pa.array(_seconds(t), pa.float64())

    def finish(self) -> None:
        """The checks that need the whole file (the wrong-separator rule)."""
        for check in self.checks.values():
            check.check(self.where)


# == sources: a CSV/TSV file, a parquet file, a DataFrame ==========================================
def _file_format(src: Path, fmt: FormatSpec) -> tuple[str, str]:
    """(type, delimiter) of ``src``; refuses a gzip mismatch and a file that is not the declared format."""
    with open(src, "rb") as fh:
        head = fh.read(4)
    gz, named_gz = head[:2] == GZIP_MAGIC, src.name.lower().endswith(".gz")
    if gz and not named_gz:
        raise ValueError(f"{src}: is gzip-compressed but its name does not end in .gz; rename it to {src.name}.gz "
                         "(or gunzip it)")
    if named_gz and not gz:
        raise ValueError(f"{src}: is named .gz but is not gzip-compressed; rename it to {src.name[:-3]}")
    base = src.name[:-3] if named_gz else src.name
    kind = fmt.type or _SUFFIX_TYPES.get(Path(base).suffix.lower())
    if kind is None:
        raise ValueError(f"{src}: cannot tell the format from the name; set format: {{type: csv}} (or tsv, parquet) "
                         "in the spec")
    if kind == "parquet":
        if named_gz:
            raise ValueError(f"{src}: a parquet file is compressed inside; gunzip it (parquet is not read as .gz)")
        if head != b"PAR1":
            raise ValueError(f"{src}: is not a parquet file (it does not start with PAR1); if it is text, set "
                             "format: {type: csv} (or tsv) and its delimiter")
    elif head == b"PAR1":
        raise ValueError(f"{src}: is a parquet file, not {kind}; set format: {{type: parquet}} (or rename it .parquet)")
    return kind, fmt.delimiter or ("\t" if kind == "tsv" else ",")


def _split_rows(lines: list[str], numbers: np.ndarray, delimiter: str, ncols: int, src: Path) -> list[pa.Array]:
    """Lines → ``ncols`` string columns: pyarrow's split when no line holds a quote, else :mod:`csv`."""
    if not any('"' in line for line in lines):
        return split_fields(lines, numbers, delimiter, ncols, src)
    reader = partial(csv.reader, delimiter=delimiter, strict=True)
    try:
        rows = list(reader(lines))
    except csv.Error:
        rows = []
    if len(rows) != len(lines):                        # a quote that does not close on its line: find it
        for i, line in enumerate(lines):
            try:
                if len(list(reader([line]))) != 1:
                    raise csv.Error
            except csv.Error:
                raise ValueError(f"{src}: line {numbers[i]}: a quoted value does not close on its line (values "
                                 "spanning lines are not supported); fix the quotes") from None
    for i, r in enumerate(rows):
        if len(r) != ncols:
            raise ValueError(f"{src}: line {numbers[i]}: expected {ncols} {delimiter!r}-separated columns, got "
                             f"{len(r)}")
    return [pa.array([r[k] for r in rows], pa.string()) for k in range(ncols)]


def _read_lines(src: Path, chunksize: int, encoding: str) -> Iterator[tuple[np.ndarray, list[str]]]:
    """:func:`~ctrviz.data.parquet_cache.iter_line_chunks`; UTF-8 drops a spreadsheet's byte-order mark."""
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        yield from iter_line_chunks(src, chunksize, codec)
    except ValueError as e:
        if str(e).endswith(f"expected {codec} text"):
            raise ValueError(f"{str(e).replace(codec, encoding)} (is it binary? ctrviz reads CSV/TSV text, "
                             "optionally .gz, and parquet; for text in another encoding set format: {encoding: "
                             "latin-1})") from None
        raise


def _csv_header(src: Path, delimiter: str, fmt: FormatSpec) -> list[str]:
    with contextlib.closing(_read_lines(src, 1, fmt.encoding)) as lines:
        first = next(lines, None)
    if first is None:
        raise ValueError(f"{src}: no data rows (the file is empty or blank)")
    number, line = int(first[0][0]), first[1][0]
    try:
        cells = [c.strip() for c in next(csv.reader([line], delimiter=delimiter, strict=True))]
    except csv.Error:
        raise ValueError(f"{src}: line {number}: a quoted value does not close on its line; fix the quotes") from None
    if fmt.header:
        dup = next((c for c in cells if cells.count(c) > 1), None)
        if dup is not None:
            raise ValueError(f"{src}: line {number}: the header names column {dup!r} twice; rename one")
        return cells
    if fmt.columns:
        if len(fmt.columns) != len(cells):
            raise ValueError(f"{src}: line {number}: format.columns names {len(fmt.columns)} columns but the line "
                             f"has {len(cells)} {delimiter!r}-separated values")
        return list(fmt.columns)
    return [f"c{k}" for k in range(1, len(cells) + 1)]


def _check_columns(src: str, have: Sequence[str], spec: TableSpec, delimiter: str | None) -> None:
    """Every column the spec names is in ``have``, else a ValueError naming it (and a delimiter hint)."""
    roles = {spec.label: "label", **{c.name: c.kind for c in spec.columns}}
    for col in spec.needed():
        if col in have:
            continue
        role = roles.get(col, "user" if col == spec.user else "time")
        close = difflib.get_close_matches(col, list(have), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if delimiter is not None and len(have) == 1:
            other = next((c for c in (",", ";", "\t", "|") if c != delimiter and c in have[0]), None)
            if other is not None:
                hint += f"; its header is one column {have[0][:60]!r}: set format: {{delimiter: {other!r}}}"
        shown = ", ".join(map(str, have[:30])) + (", …" if len(have) > 30 else "")
        raise ValueError(f"{src}: the spec names column {col!r} ({role}) but the table has no such column{hint}; its "
                         f"columns: {shown}")


def _csv_chunks(src: Path, names: list[str], delimiter: str, parser: _Parser, fmt: FormatSpec, chunksize: int
                ) -> Iterator[pa.Table]:
    index = {n: k for k, n in enumerate(names)}
    first = True
    for numbers, lines in _read_lines(src, chunksize, fmt.encoding):
        if first and fmt.header:
            numbers, lines = numbers[1:], lines[1:]
        first = False
        if not lines:
            continue
        cols = _split_rows(lines, numbers, delimiter, len(names), src)
        yield parser.table({n: cols[index[n]] for n in parser.schema.names}, numbers)
    parser.finish()


def _parquet_chunks(pf: pq.ParquetFile, parser: _Parser, chunksize: int) -> Iterator[pa.Table]:
    start = 0
    for batch in pf.iter_batches(batch_size=chunksize, columns=parser.schema.names):
        numbers = np.arange(start, start + batch.num_rows)
        start += batch.num_rows
        yield parser.table({n: batch.column(n) for n in parser.schema.names}, numbers)
    parser.finish()


def _frame_column(s: pd.Series) -> pa.Array:
    try:
        return pa.array(s, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):       # mixed Python objects: compare as text
        return pa.array([None if v is None or (isinstance(v, float) and np.isnan(v)) else
                         list(map(str, v)) if isinstance(v, (list, tuple, np.ndarray)) else str(v) for v in s])


def _cache_file(src: Path, spec: TableSpec, cache: str | Path | None, chunksize: int, created: list[Path]) -> Path:
    kind, delimiter = _file_format(src, spec.format)
    parser = _Parser(spec, _Where(str(src), "row" if kind == "parquet" else "line"))
    if kind == "parquet":
        try:
            pf = pq.ParquetFile(src)
        except (pa.ArrowInvalid, OSError) as e:
            raise ValueError(f"{src}: is not a readable parquet file ({' '.join(str(e).split())})") from None
        _check_columns(str(src), pf.schema_arrow.names, spec, None)
        chunks = partial(_parquet_chunks, pf, parser, chunksize)
    else:
        names = _csv_header(src, delimiter, spec.format)
        _check_columns(str(src), names, spec, delimiter)
        chunks = partial(_csv_chunks, src, names, delimiter, parser, spec.format, chunksize)
    options = {**parser.options(), "type": kind, "delimiter": delimiter}
    return cached_parquet("table", src, options, parser.schema, chunks, cache=cache, created=created)


# == encoding: the typed table → CTRData, one column at a time =====================================
def _split_rows_of(spec: TableSpec, read: Callable[[str], pa.ChunkedArray], n: int, seed: int
                   ) -> dict[str, np.ndarray]:
    sp = spec.split
    if sp.by == "random":
        return random_split(n, valid_fraction=sp.valid, test_fraction=sp.test, seed=seed)
    t = read(spec.time).to_numpy() if spec.time is not None else np.arange(n, dtype=np.float64)
    order = np.argsort(t, kind="stable")               # (N,) rows in time order, ties in file order
    if sp.by == "time":
        n_test, n_valid = int(sp.test * n + 0.5), int(sp.valid * n + 0.5)
        a, b = n - n_test - n_valid, n - n_test
        return {"train": order[:max(a, 0)], "valid": order[max(a, 0):max(b, 0)], "test": order[max(b, 0):]}
    users = _codes(read(spec.user))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)                         # (N,) position in time order
    grouped = np.lexsort((rank, users))                # (N,) rows by user, then time
    u = users[grouped]
    ends = np.flatnonzero(np.r_[u[1:] != u[:-1], True])                     # last position of each user
    from_end = np.empty(n, dtype=np.int64)
    from_end[grouped] = np.repeat(ends, np.diff(np.r_[-1, ends])) - np.arange(n)   # 0 = the user's last row
    by_time = lambda mask: order[mask[order]]          # noqa: E731 — the rows of mask, in time order
    return {"train": by_time(from_end >= 2 * sp.k), "valid": by_time((from_end >= sp.k) & (from_end < 2 * sp.k)),
            "test": by_time(from_end < sp.k)}


def _codes(col: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """(N,) int64 codes of a column's distinct values (users → GAUC groups)."""
    values = arrow_text(col) if _is_text(col.type) else col.to_numpy(zero_copy_only=False)
    return pd.factorize(values)[0].astype(np.int64)


def _list_parts(col: pa.ChunkedArray | pa.Array) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """A list<string> column → (flat tokens, (N,) start of each row in them, (N,) lengths)."""
    col = _plain(col)
    lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    return arrow_text(pc.list_flatten(col)), np.cumsum(lengths) - lengths, lengths


def _encode(name: str, spec: TableSpec, read: Callable[[str], pa.ChunkedArray], n: int, seed: int, info: dict
            ) -> CTRData:
    splits = _split_rows_of(spec, read, n, seed)
    for s in SPLITS:
        if not len(splits[s]):
            raise ValueError(f"{info['source']}: the {s} split is empty ({n} rows, split "
                             f"{spec.split.describe(seed)}); use more rows or "
                             + ("raise split.valid/test" if spec.split.by != "last_k" else
                                "fewer rows per user in k (most users need 2k + 1 rows)"))
    order = np.concatenate([splits[s] for s in SPLITS])  # (N,) rows, split by split
    bounds = np.cumsum([0] + [len(splits[s]) for s in SPLITS])
    train = splits["train"]
    min_counts = spec.table_min_counts()
    columns = [Column(c.name, c.kind, vocab=c.vocab, min_count=min_counts.get(c.table, 1), max_len=c.max_len,
                      transform=c.transform) for c in spec.columns]
    user_field = spec.user if spec.user in [c.name for c in spec.columns] else None
    enc = TableEncoder(columns, label=spec.label, pairs=spec.pairs, user_field=user_field)
    # fit: every vocabulary on the train tokens of all its columns (lists: the last max_len of each row)
    parts: dict[str, tuple] = {}
    fit_tokens: dict[str, list[pd.Series]] = {}
    for c in spec.columns:
        if c.kind == "dense":
            continue
        col = read(c.name)
        if c.kind == "sparse":
            tokens = sparse_tokens(col, c.transform)
            parts[c.name] = (tokens,)
            fit_tokens.setdefault(c.table, []).append(tokens.iloc[train])
        else:
            flat, starts, lengths = _list_parts(col)
            parts[c.name] = (flat, starts, lengths)
            keep = np.minimum(lengths[train], c.max_len)
            fit_tokens.setdefault(c.table, []).append(
                flat.iloc[flat_history_index(starts[train] + lengths[train] - keep, keep)])
    for table, tokens in fit_tokens.items():
        vocab = Vocabulary(min_counts[table]).fit(tokens[0] if len(tokens) == 1 else
                                                  pd.concat(tokens, ignore_index=True))
        if not vocab.tokens:
            raise ValueError(f"{info['source']}: no value of vocabulary {table!r} occurs min_count="
                             f"{min_counts[table]} times in the train split ({len(train)} rows); lower min_count "
                             "(in the spec, or --min-count 1)")
        enc.vocabs[table] = vocab
    sparse, dense, seqs = [], [], {}
    for c in spec.columns:
        if c.kind == "dense":
            x = read(c.name).to_numpy(zero_copy_only=False).astype(np.float64)   # (N,) NaN = empty
            x = np.where(np.isnan(x), c.fill if c.fill is not None else np.nan, x)
            scaler = Standardizer(log1p=c.transform == "log_standardize")
            if c.transform == "log_standardize" and (x < 0).any():
                raise ValueError(f"{name}: dense column {c.name!r} has negative values (min {x.min():g}); "
                                 "log_standardize needs values >= 0: use transform: standardize")
            if c.transform == "none":
                scaler.mean, scaler.std = 0.0, 1.0
            else:
                scaler.fit(x[train])
            enc.scalers[c.name] = scaler
            dense.append(scaler.transform(x[order]))                              # (N,)
        elif c.kind == "sparse":
            sparse.append(enc.vocabs[c.table].encode(parts[c.name][0])[order])    # (N,)
        else:
            flat, starts, lengths = parts[c.name]
            ids = enc.vocabs[c.table].encode(flat)                               # (K,) every token
            rows = flat_history_index(starts[order], lengths[order])              # (K,) tokens in split order
            seqs[c.name] = torch.from_numpy(pad_sequences(ids[rows], lengths[order], c.max_len))   # (N, T)
    label = read(spec.label).to_numpy().astype(np.float32)[order]               # (N,)
    group = None
    if spec.user is not None:
        group = _codes(read(spec.user))[order]
    sparse_ids = np.stack(sparse, 1) if sparse else np.zeros((n, 0), np.int64)  # (N, F_s)
    dense_x = np.stack(dense, 1) if dense else np.zeros((n, 0), np.float32)     # (N, F_d)
    batches = {}
    for k, s in enumerate(SPLITS):
        a, b = int(bounds[k]), int(bounds[k + 1])
        batches[s] = Batch(torch.from_numpy(sparse_ids[a:b]), torch.from_numpy(dense_x[a:b]),
                           {f: v[a:b] for f, v in seqs.items()}, torch.from_numpy(label[a:b]),
                           None if group is None else torch.from_numpy(group[a:b].astype(np.int64)))
    kinds = {k: sum(c.kind == k for c in spec.columns) for k in KINDS}
    info = {**info, "protocol": f"your table {info['source']}: label {spec.label!r}"
                                f"{' (mapped)' if spec.label_map else ''}, {kinds['sparse']} sparse, {kinds['dense']} "
                                f"dense, {kinds['multi']} multi, {kinds['sequence']} sequence fields; vocabularies "
                                f"fitted on train, tokens seen < min_count there -> OOV; split "
                                f"{spec.split.describe(seed)}.",
            "seed": seed, "min_count": spec.min_count, "spec": spec.to_dict(),
            "sizes": {s: len(b) for s, b in batches.items()},
            "click_rate": {s: float(b.label.mean()) for s, b in batches.items()}, "encoder": enc}
    return CTRData(name, enc.schema, batches["train"], batches["valid"], batches["test"], info)


def load_table(source: str | Path | pd.DataFrame, spec: TableSpec | Mapping | str | Path, *, seed: int = 0,
               cache: str | Path | None = None, min_count: int | None = None, chunksize: int = 1_000_000) -> CTRData:
    """A CSV/TSV/parquet file or a DataFrame, described by ``spec``, as :class:`~ctrviz.data.batch.CTRData`.

    Args:
        source: a ``.csv``/``.tsv``/``.txt`` file (optionally ``.gz``), a ``.parquet`` file, or a DataFrame (used
            directly, no cache; its list columns may hold lists instead of separated text).
        spec: a :class:`TableSpec`, a dict of spec keys, or a ``.yaml``/``.toml``/``.json`` spec file (module
            docstring).
        seed: seeds the random split when the spec gives no ``split.seed``.
        cache: cache root of the parsed table (``<cache>/table/``); default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``.
        min_count: replaces the spec's global ``min_count`` (``None``: keep it).
        chunksize: lines (or parquet rows) parsed at a time on the first load.

    Returns:
        ``CTRData`` named ``spec.name`` or the file name without extensions; the sparse fields in spec order
        (``Batch.sparse``), dense ones (``Batch.dense``, standardized), multi/sequence ones in ``Batch.seqs``
        (B, T), ``Batch.group`` the user (when ``user`` is given), the spec's pairs, ``user_field`` = the user when it
        is a sparse field. ``info``: ``sizes``, ``click_rate``, ``protocol``, ``source``, ``cache_file`` (files),
        ``seed``, ``min_count``, ``spec`` and the fitted ``encoder`` (decode ids with
        ``info["encoder"].vocabs[field]``).

    Example:
        >>> df = pd.DataFrame({"click": [0, 1] * 10, "ad": list("ab") * 10, "price": range(20),
        ...                    "tags": ["x|y", ""] * 10})
        >>> data = load_table(df, {"label": "click", "sparse": ["ad"], "dense": ["price"],
        ...                        "multi": {"tags": {"sep": "|", "max_len": 3}}})
        >>> data.info["sizes"], data.schema.sparse_names, data.train.seqs["tags"].shape[1]
        ({'train': 16, 'valid': 2, 'test': 2}, ('ad',), 3)
        >>> data.info["encoder"].vocabs["tags"].decode(data.train.seqs["tags"][0].tolist())
        ['x', 'y', '<pad>']
    """
    spec = as_spec(spec)
    if min_count is not None:
        spec = spec.with_min_count(min_count)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    split_seed = spec.split.seed if spec.split.seed is not None else seed
    if isinstance(source, pd.DataFrame):
        where = _Where("DataFrame", "row")
        _check_columns("DataFrame", [str(c) for c in source.columns], spec, None)
        if not len(source):
            raise ValueError("DataFrame: no rows")
        parser = _Parser(spec, where)
        table = parser.table({c: _frame_column(source[c]) for c in parser.schema.names}, np.arange(len(source)))
        parser.finish()
        return _encode(spec.name or "table", spec, table.column, table.num_rows, split_seed, {"source": "DataFrame"})
    check_chunksize(chunksize)
    src = need_file(source, "a CSV/TSV (optionally .gz) or parquet file")
    created: list[Path] = []
    cached = _cache_file(src, spec, cache, chunksize, created)
    with forget_on_error(created):                     # an encode-stage error leaves no cache file of this call
        pf = pq.ParquetFile(cached)
        name = spec.name or src.name.split(".")[0] or "table"
        return _encode(name, spec, lambda col: pf.read(columns=[col]).column(0), pf.metadata.num_rows, split_seed,
                       {"source": str(src), "cache_file": str(cached)})


__all__ = ["KINDS", "ColumnSpec", "FormatSpec", "SplitSpec", "TableSpec", "as_spec", "load_table"]
