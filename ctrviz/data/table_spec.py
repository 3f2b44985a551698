"""The table spec: what each column of your table is (:func:`ctrviz.data.table.load_table` reads the table).

A spec is a YAML, TOML or JSON file, a ``dict`` of the same keys, or a :class:`TableSpec` built directly; the
example is in :mod:`ctrviz.data.table` and ``data/README.md`` ("Your own table").

Keys (unknown keys and impossible values are a one-line ``ValueError`` naming the key):

- ``label`` (required): the 0/1 column. Without ``map`` the values must be 0/1 (``0.0``/``1.0``, or booleans); with
  ``map`` every value must be one of its keys (compared as lower-case text).
- ``sparse``, ``dense``, ``multi``, ``sequence``: each a list of column names, or a mapping name → options, or a list
  mixing names, ``{name: options}`` and groups ``{names: [...], <options>}``. Options: sparse ``min_count``, ``vocab``
  (share another field's vocabulary and embedding table), ``transform: log_bucket`` (numbers → Criteo's
  ``⌊ln(v)²⌋`` buckets, empty → its own token); dense ``transform`` (``standardize`` (default), ``log_standardize``,
  ``none``) and ``fill`` (the number an empty value becomes); multi/sequence ``sep`` (the separator inside a cell;
  not needed when the cells already hold lists), ``max_len`` (required: T), ``min_count``, ``vocab``.
  A missing category is the token ``""`` (its own id when frequent, as in Criteo's ``fill_na``).
- ``multi`` vs ``sequence``: both are lists in one cell and both become ``Batch.seqs[name]`` (B, T), left-aligned and
  0-padded, the **last** ``max_len`` tokens kept (CAN Sec. 6); the schema kind ``multi`` (a bag, e.g. genres) or
  ``sequence`` (a time-ordered history, most recent last) tells the models which is which; the models pool both.
- ``user``, ``time``: optional columns; ``time`` is only used by the split (list it under ``dense`` yourself if it
  is also a feature, then it must be numeric — a time column cannot also be a field).
- ``split``: ``{by: random, valid, test, seed}`` (a seeded permutation; ``seed`` absent → :func:`load_table`'s
  ``seed``, the CLI's ``--seed``), ``{by: time, valid, test}`` (rows sorted by ``time``, stable: the first part
  train, then valid, then test) or ``{by: last_k, k}`` (per ``user``, in ``time`` order or else file order: the last
  ``k`` rows test, the ``k`` before valid, the rest train). Fractions lie in (0, 1) and sum below 1; every split
  must end up with rows.
- ``min_count``: an int ≥ 1 (default 1), or ``{default: n, <field>: m, …}``; ``--min-count`` / ``min_count=``
  replaces the global value. Fields sharing a vocabulary share one ``min_count`` (one column's own value applies to
  the whole vocabulary; two different values are an error).
- ``pairs``: CAN's induction × feed pairs, each ``[a, b]``, ``"a:b"`` or ``{induction: a, feed: b}``.
- ``format``: ``type`` (``csv``, ``tsv``, ``parquet``; default from the name: ``.csv``, ``.tsv``/``.tab``/``.txt``,
  ``.parquet``/``.pq``, each also ``.gz`` except parquet), ``delimiter`` (one character; ``tab`` allowed; default
  ``,`` for csv, tab for tsv), ``header`` (default true), ``columns`` (the names of a file without header; default
  ``c1``, ``c2``, …), ``encoding`` (default ``utf-8``).
- ``name``: the dataset name in results (default: the file name without its extensions).
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np

from ctrviz.data.parquet_cache import need_file
from ctrviz.data.schema import Pair

Kind = Literal["sparse", "dense", "multi", "sequence"]
KINDS: tuple[str, ...] = ("sparse", "dense", "multi", "sequence")
_TOP_KEYS = ("name", "label", *KINDS, "user", "time", "split", "min_count", "pairs", "format")
_OPTIONS = {"sparse": ("min_count", "vocab", "transform"), "dense": ("transform", "fill"),
            "multi": ("sep", "max_len", "min_count", "vocab"), "sequence": ("sep", "max_len", "min_count", "vocab")}
_TRANSFORMS = {"sparse": ("none", "log_bucket"), "dense": ("standardize", "log_standardize", "none"),
               "multi": ("none",), "sequence": ("none",)}
_SPLIT_KEYS = {"random": ("by", "valid", "test", "seed"), "time": ("by", "valid", "test"), "last_k": ("by", "k")}
_FORMAT_KEYS = ("type", "delimiter", "header", "columns", "encoding")
_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}


def _err(where: str, key: str, known: Sequence[str]) -> ValueError:
    close = difflib.get_close_matches(str(key), [str(k) for k in known], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(f"spec: {where}unknown key {key!r}{hint}; known keys: {', '.join(known)}")


def _check_keys(d: Mapping, known: Sequence[str], where: str = "") -> None:
    for k in d:
        if k not in known:
            raise _err(where, k, known)


def _int(value: object, key: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"spec: {key} must be an int >= {low}, got {value!r}")
    return value


def _name(value: object, key: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)                             # a YAML key like 1: quote-less column names of numbers
    if not isinstance(value, str) or not value:
        raise ValueError(f"spec: {key} must be a column name (a non-empty string), got {value!r}")
    return value


@dataclass(frozen=True)
class ColumnSpec:
    """One feature column of a :class:`TableSpec` (the options of the module docstring).

    Example:
        >>> ColumnSpec("hist", "sequence", sep="|", max_len=5).max_len
        5
        >>> ColumnSpec("price", "dense", max_len=3)
        Traceback (most recent call last):
        ...
        ValueError: spec: dense column 'price': max_len is for multi/sequence columns
    """

    name: str
    kind: Kind
    vocab: str | None = None
    min_count: int | None = None
    transform: str | None = None
    max_len: int = 0
    sep: str | None = None
    fill: float | None = None

    def __post_init__(self) -> None:
        _name(self.name, "a column name")
        if self.kind not in KINDS:
            raise ValueError(f"spec: column {self.name!r}: kind must be one of {KINDS}, got {self.kind!r}")
        where = f"{self.kind} column {self.name!r}"
        if self.transform is None:                     # dense: standardize; the others: as they are
            object.__setattr__(self, "transform", _TRANSFORMS[self.kind][0])
        if self.transform not in _TRANSFORMS[self.kind]:
            raise ValueError(f"spec: {where}: transform must be one of {_TRANSFORMS[self.kind]}, got "
                             f"{self.transform!r}")
        if self.min_count is not None:
            _int(self.min_count, f"{where}: min_count")
        if self.vocab is not None and (self.kind == "dense" or not isinstance(self.vocab, str) or not self.vocab):
            raise ValueError(f"spec: {where}: vocab must name a vocabulary (a non-empty string) and is not for dense "
                             f"columns, got {self.vocab!r}")
        if self.kind in ("multi", "sequence"):
            _int(self.max_len, f"{where}: max_len")
            if self.sep is not None and (not isinstance(self.sep, str) or not self.sep):
                raise ValueError(f"spec: {where}: sep must be a non-empty string (quote it in YAML: sep: '|'), "
                                 f"got {self.sep!r}")
        elif self.max_len or self.sep is not None:
            raise ValueError(f"spec: {where}: {'max_len' if self.max_len else 'sep'} is for multi/sequence columns")
        if self.fill is not None and (self.kind != "dense" or isinstance(self.fill, bool)
                                      or not isinstance(self.fill, (int, float)) or not np.isfinite(self.fill)):
            raise ValueError(f"spec: {where}: fill is a finite number for dense columns, got {self.fill!r}")

    @property
    def table(self) -> str:
        """The vocabulary (embedding table) this column's ids index."""
        return self.vocab or self.name


@dataclass(frozen=True)
class SplitSpec:
    """How rows become train / valid / test (module docstring, ``split``).

    Example:
        >>> SplitSpec("random", valid=0.2, test=0.9)
        Traceback (most recent call last):
        ...
        ValueError: spec: split.valid + split.test must be < 1, got 0.2 + 0.9
    """

    by: Literal["random", "time", "last_k"] = "random"
    valid: float = 0.1
    test: float = 0.1
    seed: int | None = None
    k: int = 1

    def __post_init__(self) -> None:
        if self.by not in _SPLIT_KEYS:
            raise ValueError(f"spec: split.by must be one of {tuple(_SPLIT_KEYS)}, got {self.by!r}")
        for key in ("valid", "test"):
            f = getattr(self, key)
            if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0.0 < f < 1.0:
                raise ValueError(f"spec: split.{key} must be a fraction in (0, 1) (training needs a valid and a test "
                                 f"split), got {f!r}")
        if self.valid + self.test >= 1.0:
            raise ValueError(f"spec: split.valid + split.test must be < 1, got {self.valid!r} + {self.test!r}")
        if self.seed is not None:
            _int(self.seed, "split.seed", low=0)
        _int(self.k, "split.k")

    def describe(self, seed: int) -> str:
        if self.by == "random":
            return f"random (seed {seed}): test {self.test:g}, valid {self.valid:g}, train the rest, each in file order"
        if self.by == "time":
            return f"by time: the earliest {1 - self.valid - self.test:g} train, then valid {self.valid:g}, test " \
                   f"{self.test:g}"
        return f"last {self.k} rows of each user test, the {self.k} before valid, the rest train"


@dataclass(frozen=True)
class FormatSpec:
    """How a file is read (module docstring, ``format``); ``None``: from the file name."""

    type: Literal["csv", "tsv", "parquet"] | None = None
    delimiter: str | None = None
    header: bool = True
    columns: tuple[str, ...] = ()
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        if self.type not in (None, "csv", "tsv", "parquet"):
            raise ValueError(f"spec: format.type must be csv, tsv or parquet, got {self.type!r}")
        if self.delimiter is not None:
            d = _DELIMITER_NAMES.get(self.delimiter, self.delimiter) if isinstance(self.delimiter, str) else None
            if not isinstance(d, str) or len(d) != 1 or d in "\"\r\n":
                raise ValueError(f"spec: format.delimiter must be one character (or tab, comma, semicolon, pipe, "
                                 f"space), got {self.delimiter!r}")
            object.__setattr__(self, "delimiter", d)
        if not isinstance(self.header, bool):
            raise ValueError(f"spec: format.header must be true or false, got {self.header!r}")
        cols = tuple(_name(c, "format.columns[]") for c in (self.columns or ()))
        object.__setattr__(self, "columns", cols)
        if cols and self.header:
            raise ValueError("spec: format.columns names the columns of a file without a header; set header: false")
        if len(set(cols)) != len(cols):
            raise ValueError(f"spec: format.columns names a column twice: {cols}")
        if not isinstance(self.encoding, str) or not self.encoding:
            raise ValueError(f"spec: format.encoding must be a text encoding name, got {self.encoding!r}")


@dataclass(frozen=True)
class TableSpec:
    """What the columns of a table are: label, features, user/time, split, min_count, pairs, format.

    Build it with :meth:`from_dict` / :meth:`load` (the spec keys of the module docstring) or directly.

    Example:
        >>> s = TableSpec.from_dict({"label": "click", "sparse": ["user", "ad"], "dense": {"price": {"fill": 0}},
        ...                          "sequence": {"hist": {"sep": "|", "max_len": 5, "vocab": "ad"}},
        ...                          "pairs": ["ad:hist"], "min_count": {"default": 2, "user": 1}})
        >>> [(c.name, c.kind, c.min_count) for c in s.columns]
        [('user', 'sparse', 1), ('ad', 'sparse', None), ('price', 'dense', None), ('hist', 'sequence', None)]
        >>> s.table_min_counts()
        {'user': 1, 'ad': 2}
        >>> TableSpec.from_dict({"label": "click", "sparse": ["a"], "splitt": {}})
        Traceback (most recent call last):
        ...
        ValueError: spec: unknown key 'splitt' (did you mean 'split'?); known keys: name, label, sparse, dense, \
multi, sequence, user, time, split, min_count, pairs, format
    """

    label: str
    columns: tuple[ColumnSpec, ...]
    label_map: dict[str, int] | None = None
    user: str | None = None
    time: str | None = None
    split: SplitSpec = field(default_factory=SplitSpec)
    min_count: int = 1
    pairs: tuple[Pair, ...] = ()
    format: FormatSpec = field(default_factory=FormatSpec)
    name: str | None = None

    def __post_init__(self) -> None:
        _name(self.label, "label")
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "pairs", tuple(self.pairs))
        if not self.columns:
            raise ValueError("spec: no feature columns; list some under sparse, dense, multi or sequence")
        seen: dict[str, str] = {}
        for c in self.columns:
            if not isinstance(c, ColumnSpec):
                raise TypeError(f"TableSpec.columns must hold ColumnSpec objects, got {type(c).__name__}")
            if c.name in seen:
                raise ValueError(f"spec: column {c.name!r} is listed twice ({seen[c.name]} and {c.kind}); keep one")
            seen[c.name] = c.kind
        if self.label in seen:
            raise ValueError(f"spec: the label column {self.label!r} is also listed under {seen[self.label]}; "
                             "remove it there")
        if self.label_map is not None:
            if not isinstance(self.label_map, Mapping) or not self.label_map:
                raise ValueError(f"spec: label.map must map label values to 0/1, got {self.label_map!r}")
            norm = {}
            for k, v in self.label_map.items():
                if isinstance(v, bool) or v not in (0, 1):
                    raise ValueError(f"spec: label.map[{k!r}] must be 0 or 1, got {v!r}")
                norm[_key_text(k)] = int(v)
            object.__setattr__(self, "label_map", norm)
        _int(self.min_count, "min_count")
        if not isinstance(self.split, SplitSpec) or not isinstance(self.format, FormatSpec):
            raise TypeError("TableSpec.split must be a SplitSpec and TableSpec.format a FormatSpec")
        for key in ("user", "time"):
            col = getattr(self, key)
            if col is None:
                continue
            _name(col, key)
            if col == self.label:
                raise ValueError(f"spec: {key} column {col!r} is the label column")
            if key == "user" and seen.get(col, "sparse") != "sparse":
                raise ValueError(f"spec: user column {col!r} is listed under {seen[col]}; a user is categorical "
                                 "(list it under sparse, or not at all)")
            if key == "time" and (col in seen or col == self.user):
                raise ValueError(f"spec: time column {col!r} is also {'the user' if col == self.user else seen[col]} "
                                 "column; a time column only orders the split")
        if self.split.by == "time" and self.time is None:
            raise ValueError("spec: split by: time needs a time column (time: <column>)")
        if self.split.by == "last_k" and self.user is None:
            raise ValueError("spec: split by: last_k needs a user column (user: <column>)")
        for c in self.columns:
            if c.vocab is not None and seen.get(c.vocab) == "dense":
                raise ValueError(f"spec: {c.kind} column {c.name!r}: vocab {c.vocab!r} is a dense column")
        self.table_min_counts()                            # conflicting min_count in a shared vocabulary
        for p in self.pairs:
            for side, col in (("induction", p.induction), ("feed", p.feed)):
                if col not in seen:
                    close = difflib.get_close_matches(str(col), list(seen), n=1)
                    raise ValueError(f"spec: pairs: {side} field {col!r} is not a feature column"
                                     + (f" (did you mean {close[0]!r}?)" if close else ""))
                if seen[col] == "dense":
                    raise ValueError(f"spec: pairs: {side} field {col!r} is dense; pairs need categorical fields")
        if self.name is not None:
            _name(self.name, "name")

    # -- reading a spec ----------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: Mapping) -> TableSpec:
        """A spec from the keys of the module docstring (what a YAML/TOML/JSON file holds)."""
        if not isinstance(d, Mapping):
            raise ValueError(f"spec: expected a mapping of keys (label, sparse, …), got {type(d).__name__}")
        _check_keys(d, _TOP_KEYS)
        if "label" not in d or d["label"] is None:
            raise ValueError("spec: label is required: the name of the 0/1 click column")
        label, label_map = d["label"], None
        if isinstance(label, Mapping):
            _check_keys(label, ("column", "map"), "label: ")
            if "column" not in label:
                raise ValueError("spec: label: needs column: <the label column>")
            label, label_map = label["column"], label.get("map")
            if label_map is not None and not isinstance(label_map, Mapping):
                raise ValueError(f"spec: label.map must be a mapping value → 0/1, got {label_map!r}")
        columns = [c for kind in KINDS for c in _columns(kind, d.get(kind))]
        min_count = d.get("min_count", 1)
        if isinstance(min_count, Mapping):
            by_name = {c.name: i for i, c in enumerate(columns)}
            default = min_count.get("default", 1)
            for key, value in min_count.items():
                if key == "default":
                    continue
                if key not in by_name or columns[by_name[key]].kind == "dense":
                    raise _err("min_count: ", key, ["default", *(c.name for c in columns if c.kind != "dense")])
                c = columns[by_name[key]]
                if c.min_count is None:
                    columns[by_name[key]] = replace(c, min_count=_int(value, f"min_count.{key}"))
            min_count = default
        split = d.get("split") or {}
        if not isinstance(split, Mapping):
            raise ValueError(f"spec: split must be a mapping such as {{by: random, valid: 0.1, test: 0.1}}, got "
                             f"{split!r}")
        by = split.get("by", "random")
        if by not in _SPLIT_KEYS:
            raise ValueError(f"spec: split.by must be one of {tuple(_SPLIT_KEYS)}, got {by!r}")
        _check_keys(split, _SPLIT_KEYS[by], f"split (by: {by}): ")
        fmt = d.get("format") or {}
        if not isinstance(fmt, Mapping):
            raise ValueError(f"spec: format must be a mapping such as {{type: csv, delimiter: ','}}, got {fmt!r}")
        _check_keys(fmt, _FORMAT_KEYS, "format: ")
        if "columns" in fmt and not isinstance(fmt["columns"], (list, tuple)):
            raise ValueError(f"spec: format.columns must be a list of names, got {fmt['columns']!r}")
        pairs = d.get("pairs") or []
        if not isinstance(pairs, (list, tuple)):
            raise ValueError(f"spec: pairs must be a list of [induction, feed] pairs, got {pairs!r}")
        return cls(label=_name(label, "label"), columns=tuple(columns), label_map=label_map, user=d.get("user"),
                   time=d.get("time"), split=SplitSpec(**split), min_count=min_count,
                   pairs=tuple(_pair(p) for p in pairs), format=FormatSpec(**fmt), name=d.get("name"))

    @classmethod
    def from_text(cls, text: str, syntax: Literal["yaml", "toml", "json"] = "yaml") -> TableSpec:
        """A spec from YAML (1.2 booleans: only true/false, so ``yes``/``no`` stay text), TOML or JSON text."""
        try:
            if syntax == "yaml":
                try:
                    import yaml
                except ImportError:
                    raise ValueError("spec: reading YAML needs PyYAML (pip install pyyaml); or write the spec as TOML "
                                     "or JSON") from None
                raw = yaml.load(text, Loader=_yaml_loader())
            elif syntax == "toml":
                raw = tomllib.loads(text)
            elif syntax == "json":
                raw = json.loads(text)
            else:
                raise ValueError(f"spec syntax must be yaml, toml or json, got {syntax!r}")
        except ValueError:
            raise
        except Exception as e:                         # yaml.YAMLError, tomllib.TOMLDecodeError
            msg = " ".join(str(e).split())
            raise ValueError(f"spec: not valid {syntax.upper()}: {msg}") from None
        return cls.from_dict(raw if raw is not None else {})

    @classmethod
    def load(cls, path: str | Path) -> TableSpec:
        """A spec file: ``.yaml``/``.yml``, ``.toml`` or ``.json``."""
        p = need_file(path, "a table spec (.yaml, .toml or .json; make one with `ctrviz spec DATA`)")
        syntax = {".yaml": "yaml", ".yml": "yaml", ".toml": "toml", ".json": "json"}.get(p.suffix.lower())
        if syntax is None:
            raise ValueError(f"{p}: a spec file ends in .yaml, .yml, .toml or .json")
        try:
            return cls.from_text(p.read_text(encoding="utf-8"), syntax)
        except ValueError as e:
            raise ValueError(f"{p}: {e}") from None

    # -- derived facts -----------------------------------------------------------------------------
    def table_min_counts(self) -> dict[str, int]:
        """Vocabulary → min_count: a column's own value, else the global one; sharing columns must agree."""
        out: dict[str, tuple[int, str | None]] = {}
        for c in self.columns:
            if c.kind == "dense":
                continue
            have = out.get(c.table)
            if c.min_count is None:
                out.setdefault(c.table, (self.min_count, None))
            elif have is None or have[1] is None:
                out[c.table] = (c.min_count, c.name)
            elif have[0] != c.min_count:
                raise ValueError(f"spec: columns {have[1]!r} and {c.name!r} share vocabulary {c.table!r} but ask for "
                                 f"min_count {have[0]} and {c.min_count}; give one value")
        return {t: m for t, (m, _) in out.items()}

    def with_min_count(self, min_count: int) -> TableSpec:
        """The same spec with the global ``min_count`` replaced (columns with their own keep theirs)."""
        return replace(self, min_count=_int(min_count, "min_count"))

    def to_dict(self) -> dict:
        """The spec as plain data (JSON-able); ``from_dict(to_dict())`` is not promised (columns are expanded)."""
        return asdict(self)

    def needed(self) -> list[str]:
        """The source columns a file must have: label, features, user, time."""
        names = [self.label, *(c.name for c in self.columns)]
        names += [c for c in (self.user, self.time) if c is not None and c not in names]
        return names


def _key_text(k: object) -> str:
    return ("true" if k else "false") if isinstance(k, bool) else str(k).strip().lower()


def _pair(p: object) -> Pair:
    if isinstance(p, str) and p.count(":") == 1:
        a, b = p.split(":")
    elif isinstance(p, (list, tuple)) and len(p) == 2:
        a, b = p
    elif isinstance(p, Mapping) and set(p) == {"induction", "feed"}:
        a, b = p["induction"], p["feed"]
    else:
        raise ValueError(f"spec: pairs: each pair is [induction, feed], 'induction:feed' or {{induction: …, feed: …}}, "
                         f"got {p!r}")
    return Pair(_name(a, "pairs[].induction"), _name(b, "pairs[].feed"))


def _columns(kind: str, value: object) -> list[ColumnSpec]:
    """The columns listed under ``kind`` (names, name → options, groups ``{names: [...], <options>}``)."""
    if value is None:
        return []
    items: list[tuple[object, object]] = []
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, Mapping):
        value = [value] if ("names" in value or "name" in value) else [{k: v} for k, v in value.items()]
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"spec: {kind}: expected a list of column names or a mapping name → options, got {value!r}")
    for item in value:
        if isinstance(item, (list, tuple)):
            items += [(n, {}) for n in item]
        elif isinstance(item, Mapping) and ("names" in item or "name" in item):
            opts = {k: v for k, v in item.items() if k not in ("name", "names")}
            names = item.get("names", [item.get("name")])
            if not isinstance(names, (list, tuple)):
                raise ValueError(f"spec: {kind}: names must be a list of column names, got {names!r}")
            items += [(n, opts) for n in names]
        elif isinstance(item, Mapping) and len(item) == 1:
            items += list(item.items())
        else:
            items.append((item, {}))
    out = []
    for name, opts in items:
        name = _name(name, f"{kind}: a column")
        if opts is None:
            opts = {}
        if not isinstance(opts, Mapping):
            raise ValueError(f"spec: {kind} column {name!r}: options must be a mapping such as "
                             f"{{{', '.join(_OPTIONS[kind][:2])}: …}}, got {opts!r}")
        _check_keys(opts, _OPTIONS[kind], f"{kind} column {name!r}: ")
        out.append(ColumnSpec(name, kind, **opts))
    return out


def _yaml_loader() -> type:
    """A safe YAML loader with YAML 1.2 booleans (``yes``, ``no``, ``on``, ``off`` stay strings)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    resolvers = yaml.SafeLoader.yaml_implicit_resolvers
    bool_tag = "tag:yaml.org,2002:bool"
    Loader.yaml_implicit_resolvers = {k: [r for r in v if r[0] != bool_tag] for k, v in resolvers.items()}
    Loader.add_implicit_resolver(bool_tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                 list("tTfF"))
    return Loader


def as_spec(spec: TableSpec | Mapping | str | Path) -> TableSpec:
    """A :class:`TableSpec` from a spec, a dict of spec keys or a spec file path."""
    if isinstance(spec, TableSpec):
        return spec
    if isinstance(spec, Mapping):
        return TableSpec.from_dict(spec)
    if isinstance(spec, (str, Path)):
        return TableSpec.load(spec)
    raise TypeError(f"spec must be a TableSpec, a dict or a spec file path, got {type(spec).__name__}")


__all__ = ["KINDS", "ColumnSpec", "FormatSpec", "SplitSpec", "TableSpec", "as_spec"]
