"""A first look at your table: column types, cardinalities, missing rates, and a starter spec to edit.

:func:`inspect_table` reads the first ``rows`` rows of a CSV/TSV (optionally ``.gz``) or parquet file — the delimiter
and the header are sniffed when the name does not say them — and guesses what each column is (the ``ctrviz spec``
command prints the summary and writes the spec):

- **label**: a 0/1 column named like ``label``, ``click``, ``clicked``, ``is_click``, ``clk``, ``y``, ``target``;
  else the first column when it holds only 0/1;
- **user** / **time**: a column named like ``user_id``/``uid`` (also kept as a sparse field) / ``time``, ``ts``,
  ``timestamp``, ``date`` (only used by the split);
- **multi** / **sequence**: text where at least 30 % of the values hold a separator (``|``, ``;``, ``,``, space; not
  the file's delimiter): a ``sequence`` when the name looks like a history (``hist``, ``seq``, ``recent``), else
  ``multi``; ``max_len`` = the 95th percentile of the token counts (at least 2, at most 100);
- **dense**: numbers with more than 20 distinct values (``fill: 0`` when some are empty);
- **sparse**: everything else — text and low-cardinality numbers;
- left out (commented): constant columns and text/integer columns unique on every row (row ids).

Every guess is a starting point: the spec says what it guessed and why, in comments, for you to check.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ctrviz.data.parquet_cache import GZIP_MAGIC, check_positive_int, need_file
from ctrviz.data.table import _NA, _NUMBER, _SUFFIX_TYPES, _read_lines, _split_rows

_LABEL = re.compile(r"^(label|labels|click|clicks|clicked|is_click|isclick|clk|y|target|converted|conversion)$", re.I)
_USER = re.compile(r"^(user|user_?id|uid|customer_?id|member_?id|visitor_?id)$", re.I)
_TIME = re.compile(r"^(time|ts|timestamp|date|datetime|event_time|unix_time|created_at)$|(_time|_ts)$", re.I)
_HISTORY = re.compile(r"hist|seq|recent|behav|history|clicked_", re.I)
_SEPS = ("|", ";", ",", " ")
_INT = r"^[+-]?\d+(\.0*)?$"


@dataclass
class TableReport:
    """What :func:`inspect_table` found.

    Args:
        summary: one row per column: ``column``, ``type`` (int, float, text, list, empty), ``distinct``, ``missing``
            (fraction), ``example``, ``guess`` (label, user, time, sparse, dense, multi, sequence, skip) and ``why``.
        spec: the starter spec as commented YAML (loads with :meth:`~ctrviz.data.table.TableSpec.from_text`).
        rows: the rows read.
    """

    summary: pd.DataFrame
    spec: str
    rows: int


def _sniff(lines: list[str], default: str | None) -> str:
    """The delimiter that splits every sample line into the same number (> 1) of columns; ``default`` first."""
    for d in dict.fromkeys([c for c in (default, ",", "\t", ";", "|") if c]):
        with contextlib.suppress(csv.Error):
            counts = {len(r) for r in csv.reader(lines[:50], delimiter=d)}
            if len(counts) == 1 and counts.pop() > 1:
                return d
    return default or ","


def _sample(src: Path, rows: int) -> tuple[dict[str, pa.Array], dict]:
    """The first ``rows`` rows as arrow columns, and the format found."""
    with open(src, "rb") as fh:
        head = fh.read(4)
    named_gz = src.name.lower().endswith(".gz")
    base = src.name[:-3] if named_gz else src.name
    kind = "parquet" if head == b"PAR1" else _SUFFIX_TYPES.get(Path(base).suffix.lower(), "csv")
    if kind == "parquet":
        pf = pq.ParquetFile(src)
        batch = next(pf.iter_batches(batch_size=rows), None)
        if batch is None:
            raise ValueError(f"{src}: no rows")
        return {n: batch.column(n) for n in batch.schema.names}, {"type": "parquet"}
    if head[:2] == GZIP_MAGIC and not named_gz:
        raise ValueError(f"{src}: is gzip-compressed but its name does not end in .gz; rename it to {src.name}.gz")
    if named_gz and head[:2] != GZIP_MAGIC:
        raise ValueError(f"{src}: is named .gz but is not gzip-compressed; rename it to {src.name[:-3]}")
    with contextlib.closing(_read_lines(src, rows + 1, "utf-8")) as chunks:
        first = next(chunks, None)
    if first is None:
        raise ValueError(f"{src}: no data rows (the file is empty or blank)")
    numbers, lines = first
    delimiter = _sniff(lines, "\t" if kind == "tsv" else None)
    ncols = len(next(csv.reader(lines[:1], delimiter=delimiter)))
    cells = [c.strip() for c in next(csv.reader(lines[:1], delimiter=delimiter))]
    header = not any(re.match(_NUMBER, c) for c in cells) and len(set(cells)) == len(cells) and all(cells)
    names = cells if header else [f"c{k}" for k in range(1, ncols + 1)]
    body, body_numbers = (lines[1:], numbers[1:]) if header else (lines[:rows], numbers[:rows])
    if not body:
        raise ValueError(f"{src}: no data rows below the header")
    cols = _split_rows(body, body_numbers, delimiter, ncols, src)
    fmt = {"type": "tsv" if delimiter == "\t" else "csv", "delimiter": delimiter, "header": header}
    return dict(zip(names, cols, strict=True)), fmt


def _describe(name: str, col: pa.Array, delimiter: str | None) -> dict:
    """Type, distinct count, missing rate, example and the list separator (if any) of one sample column."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    n = len(col)
    if pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        lengths = pc.fill_null(pc.list_value_length(col), 0).to_numpy(zero_copy_only=False)
        flat = pc.list_flatten(col)
        tokens = set(map(str, pc.unique(flat).to_pylist()))
        return {"column": name, "type": "list", "distinct": len(tokens), "missing": float((lengths == 0).mean()),
                "example": str(col[0].as_py())[:30], "sep": None, "lengths": lengths, "tokens": tokens}
    text = col if pa.types.is_string(col.type) or pa.types.is_large_string(col.type) else pc.cast(col, pa.string())
    text = pc.fill_null(pc.utf8_trim_whitespace(text), "")
    missing = pc.is_in(pc.utf8_lower(text), value_set=pa.array(_NA)).to_numpy(zero_copy_only=False)
    values = pd.Series(text.to_numpy(zero_copy_only=False)[~missing], dtype=object)
    info = {"column": name, "distinct": int(values.nunique()), "missing": float(missing.mean()) if n else 0.0,
            "example": str(values.iloc[0])[:30] if len(values) else "", "sep": None, "lengths": None,
            "tokens": set(values)}
    if not len(values):
        return {**info, "type": "empty"}
    if values.str.fullmatch(_NUMBER[1:-1]).all():
        return {**info, "type": "int" if values.str.fullmatch(_INT[1:-1]).all() else "float",
                "zero_one": set(values.astype(float).unique()) <= {0.0, 1.0}}
    for sep in _SEPS:
        if sep == delimiter:
            continue
        has = values.str.contains(sep, regex=False)
        if has.mean() >= 0.3:
            parts = values.str.split(sep, regex=False).map(lambda t: [x.strip() for x in t if x.strip()])
            return {**info, "type": "text", "sep": sep, "lengths": parts.map(len).to_numpy(),
                    "tokens": set(parts.explode().dropna())}
    return {**info, "type": "text", "zero_one": set(values.str.lower()) <= {"0", "1", "true", "false"}}


def _guess(d: dict, rows: int) -> tuple[str, str]:
    """(kind, why) for one described column (label/user/time are chosen by :func:`inspect_table`)."""
    if d["type"] == "empty" or d["distinct"] <= 1:
        return "skip", "empty in the sample" if d["type"] == "empty" else "constant in the sample"
    if d["type"] == "list" or d["sep"] is not None:
        kind = "sequence" if _HISTORY.search(d["column"]) else "multi"
        sep = "" if d["sep"] is None else f" separated by {d['sep']!r}"
        return kind, f"lists{sep}, up to {int(np.max(d['lengths']))} tokens"
    if d["type"] in ("text", "int") and d["distinct"] == rows and rows >= 50:
        return "skip", "unique on every row: an id"
    if d["type"] in ("int", "float") and d["distinct"] > 20:
        return "dense", f"numbers, {d['distinct']} distinct" + (", some empty: fill 0" if d["missing"] else "")
    return "sparse", f"{'numbers' if d['type'] in ('int', 'float') else 'text'}, {d['distinct']} distinct"


def _y(name: str) -> str:
    """A YAML scalar for ``name`` (quoted unless it is a plain identifier)."""
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name) and name.lower() not in ("true", "false", "null", "y", "n")
    return name if plain else json.dumps(name)


def inspect_table(path: str | Path, *, rows: int = 10_000) -> TableReport:
    """Describe the first ``rows`` rows of a CSV/TSV/parquet file and write a starter spec (module docstring).

    Example:
        >>> import pathlib, tempfile
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> lines = ["click,user_id,city,tags,price"] + [f"{k % 2},u{k % 7},c{k % 3},a|b{k % 4},{k * 1.5}"
        ...                                              for k in range(60)]
        >>> _ = (d / "log.csv").write_text("\\n".join(lines) + "\\n")
        >>> r = inspect_table(d / "log.csv")
        >>> r.summary.set_index("column")["guess"].to_dict()
        {'click': 'label', 'user_id': 'user', 'city': 'sparse', 'tags': 'multi', 'price': 'dense'}
        >>> from ctrviz.data.table import TableSpec
        >>> [c.name for c in TableSpec.from_text(r.spec).columns]
        ['user_id', 'city', 'price', 'tags']
    """
    check_positive_int(rows, "rows")
    src = need_file(path, "a CSV/TSV (optionally .gz) or parquet file")
    columns, fmt = _sample(src, rows)
    n = len(next(iter(columns.values())))
    described = [_describe(name, col, fmt.get("delimiter")) for name, col in columns.items()]
    label = next((d["column"] for d in described if _LABEL.match(d["column"]) and d.get("zero_one")), None)
    if label is None and described[0].get("zero_one") and described[0]["missing"] == 0:
        label = described[0]["column"]
    user = next((d["column"] for d in described if _USER.match(d["column"]) and d["column"] != label), None)
    time = next((d["column"] for d in described if _TIME.match(d["column"]) and d["column"] not in (label, user)
                 and d["type"] in ("int", "float", "text") and d["sep"] is None), None)
    rows_out, kinds = [], {k: [] for k in ("sparse", "dense", "multi", "sequence", "skip")}
    for d in described:
        if d["column"] == label:
            kind, why = "label", "0/1" + (f", click rate in the sample {_rate(columns[label]):.3f}")
        elif d["column"] == time:
            kind, why = "time", "named like a time: orders the split (by: time or last_k)"
        else:
            kind, why = _guess(d, n)
            if d["column"] == user:
                kind, why = "user", f"named like a user, {d['distinct']} distinct: GAUC groups; also a sparse field"
                kinds["sparse"].append((d, why))
            else:
                kinds[kind].append((d, why))
        rows_out.append({"column": d["column"], "type": d["type"], "distinct": d["distinct"],
                         "missing": round(d["missing"], 4), "example": d["example"], "guess": kind, "why": why})
    summary = pd.DataFrame(rows_out)
    return TableReport(summary, _spec_text(src, n, fmt, label, user, time, kinds), n)


def _rate(col: pa.Array) -> float:
    text = pc.utf8_lower(pc.cast(col, pa.string()))
    return float(pc.mean(pc.cast(pc.is_in(text, value_set=pa.array(["1", "1.0", "true"])), pa.float64())).as_py())


def _line(text: str, comment: str = "") -> str:
    return f"{text:<38}  # {comment}" if comment else text


def _spec_text(src: Path, n: int, fmt: dict, label: str | None, user: str | None, time: str | None,
               kinds: dict[str, list]) -> str:
    out = [f"# Starter spec for {src.name}, guessed by `ctrviz spec` from its first {n:,} rows: check every line, then",
           f"#   ctrviz train --model dnn --data {src} --spec <this file>",
           "# The keys are explained in data/README.md (\"Your own table\")."]
    if fmt["type"] != "parquet":
        out.append(f"format: {{type: {fmt['type']}, delimiter: {json.dumps(fmt['delimiter'])}, "
                   f"header: {'true' if fmt['header'] else 'false'}}}")
    out.append(f"label: {_y(label)}" if label else _line("label: null", "TODO: no 0/1 column named like a label"))
    if user:
        out.append(_line(f"user: {_y(user)}", "GAUC groups by it (and split by: last_k)"))
    if time:
        out.append(_line(f"time: {_y(time)}", "orders split by: time / last_k"))
    if kinds["sparse"]:
        out.append(_line("sparse:", "categories: one id per value seen >= min_count times in train"))
        out += [_line(f"  - {_y(d['column'])}", why) for d, why in kinds["sparse"]]
    if kinds["dense"]:
        out.append(_line("dense:", "numbers, standardized with the train mean and std"))
        out += [_line(f"  {_y(d['column'])}: {{{'fill: 0' if d['missing'] else ''}}}", why)
                for d, why in kinds["dense"]]
    pairs = []
    for kind in ("multi", "sequence"):
        if kinds[kind]:
            out.append(_line(f"{kind}:", "lists in one cell -> padded ids (B, T); the last max_len kept"))
        for d, why in kinds[kind]:
            max_len = int(min(100, max(2, np.ceil(np.percentile(d["lengths"], 95)))))
            opts = [f"max_len: {max_len}"] + ([] if d["sep"] is None else [f"sep: {json.dumps(d['sep'])}"])
            shared = _shared_vocab(d, [s for s, _ in kinds["sparse"]])
            if shared is not None:                     # e.g. a history of ads beside the target ad
                opts.append(f"vocab: {_y(shared)}")
                pairs.append(f"[{_y(shared)}, {_y(d['column'])}]")
                why += f"; most tokens are values of {shared}: shares its vocabulary"
            out.append(_line(f"  {_y(d['column'])}: {{{', '.join(opts)}}}", why))
    for d, why in kinds["skip"]:
        out.append(f"# left out: {d['column']} ({why})")
    out.append(_line("min_count: 1", "raise it (5-10) on large data: rarer values share the OOV id"))
    out.append(_line("split: {by: random, valid: 0.1, test: 0.1, seed: 0}", "or {by: time}, {by: last_k, k: 1}"))
    out.append(_line(f"pairs: [{', '.join(pairs)}]", "CAN's induction x feed pairs (target x its history)") if pairs
               else _line("# pairs: [[<induction>, <feed>]]", "CAN's co-action pairs, e.g. [[item, hist_item]]"))
    return "\n".join(out) + "\n"


def _shared_vocab(d: dict, sparse: list[dict]) -> str | None:
    """The sparse column whose values make up at least half of a list column's distinct tokens, if any."""
    best = max(sparse, key=lambda s: len(d["tokens"] & s["tokens"]), default=None)
    if best is None or not d["tokens"] or 2 * len(d["tokens"] & best["tokens"]) < len(d["tokens"]):
        return None
    return best["column"]


__all__ = ["TableReport", "inspect_table"]
