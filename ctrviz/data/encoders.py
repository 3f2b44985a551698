"""Encoders: raw table columns → the integer ids and floats of a :class:`~ctrviz.data.batch.Batch`.

Every encoder is fitted on the training split only and saved/loaded as JSON (never pickle):

- :class:`Vocabulary` — categorical tokens → ids with ``min_count`` and an OOV id
  (0 = padding, 1 = OOV, known tokens from 2 in descending frequency).
- :func:`log_bucket` — the Criteo-winning transform of counts: ``v > 2 → ⌊ln(v)²⌋``, kept as a token.
- :class:`Standardizer` — dense floats → (x − mean) / std.
- :func:`pad_sequences` — variable-length lists → (N, T) ids, most recent ``T`` kept (CAN Sec. 6).
- :class:`TableEncoder` — a set of :class:`Column` specs fitted together on a pandas DataFrame, producing
  the :class:`~ctrviz.data.schema.Schema` and the :class:`~ctrviz.data.batch.Batch` of any split.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch

from ctrviz.data.batch import Batch
from ctrviz.data.schema import FIRST_ID, OOV_ID, PAD_ID, Field, Pair, Schema
from ctrviz.utils import atomic_write_text


class Vocabulary:
    """Token → id map fitted on training tokens.

    Args:
        min_count: tokens seen fewer times than this in training map to OOV.

    Example:
        >>> v = Vocabulary(min_count=2).fit(["a", "b", "a", "c", "c", "c"])
        >>> v.encode(["c", "a", "b", "zzz"]).tolist()   # b is rare, zzz unseen → OOV = 1
        [2, 3, 1, 1]
        >>> len(v)   # padding + OOV + {c, a}
        4
    """

    def __init__(self, min_count: int = 1) -> None:
        if not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"Vocabulary.min_count must be an int >= 1, got {min_count!r}")
        self.min_count = min_count
        self.tokens: list[str] | None = None
        self._index: pd.Index | None = None

    def fit(self, tokens: Iterable[object]) -> Vocabulary:
        """Count ``tokens`` (compared as ``str``) and keep those seen ``min_count`` times or more."""
        codes, uniques = _factorize(tokens)
        counts: Counter[str] = Counter()
        for tok, c in zip(uniques, np.bincount(codes, minlength=len(uniques)).tolist(), strict=True):
            counts[tok] += c   # 1 and "1" are the same token
        kept = [t for t, c in counts.items() if c >= self.min_count]
        kept.sort(key=lambda t: (-counts[t], t))
        return self._set(kept)

    def _set(self, tokens: list[str]) -> Vocabulary:
        self.tokens = tokens
        self._index = pd.Index(tokens, dtype=object)
        return self

    def __len__(self) -> int:
        """Number of ids, padding and OOV included."""
        return FIRST_ID + len(self._fitted())

    def _fitted(self) -> list[str]:
        if self.tokens is None:
            raise RuntimeError("Vocabulary is not fitted: call fit() on the training split first")
        return self.tokens

    def encode(self, tokens: Iterable[object]) -> np.ndarray:
        """Ids (int64) of ``tokens``; unseen or rare tokens → ``OOV_ID``."""
        self._fitted()
        codes, uniques = _factorize(tokens)
        pos = self._index.get_indexer(uniques)                        # one hash lookup per distinct token
        return np.where(pos < 0, OOV_ID, pos + FIRST_ID).astype(np.int64)[codes]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens of ``ids`` (``"<pad>"`` and ``"<oov>"`` for the reserved ids)."""
        toks = self._fitted()
        special = {PAD_ID: "<pad>", OOV_ID: "<oov>"}
        return [special.get(int(i)) or toks[int(i) - FIRST_ID] for i in ids]

    def to_dict(self) -> dict:
        return {"min_count": self.min_count, "tokens": self._fitted()}

    @classmethod
    def from_dict(cls, d: dict) -> Vocabulary:
        return cls(int(d["min_count"]))._set([str(t) for t in d["tokens"]])


def _factorize(values: Iterable[object]) -> tuple[np.ndarray, list[str]]:
    """(codes, distinct tokens as ``str``): each value is ``uniques[codes[i]]``; NaN/None → error."""
    if not isinstance(values, (np.ndarray, pd.Series)):
        values = np.asarray(list(values), dtype=object)
    if np.ndim(values) != 1:
        raise ValueError(f"expected a 1-D list of tokens, got shape {np.shape(values)}")
    codes, uniques = pd.factorize(values)
    if len(codes) and codes.min() < 0:
        raise ValueError("tokens contain NaN/None; fill missing categories with a token such as '' first")
    return codes, [str(u) for u in uniques]


def log_bucket(values: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    """Criteo's integer transform as tokens: ``v > 2 → "b⌊ln(v)²⌋"``, else ``"v{int(v)}"``; NaN → ``"nan"``.

    The winning Criteo solution discretised counts this way so heavy tails share buckets.

    Example:
        >>> log_bucket([0, 2, 3, 100, float("nan"), -1]).tolist()
        ['v0', 'v2', 'b1', 'b21', 'nan', 'v-1']
    """
    x = np.asarray(values, dtype=np.float64)
    out = np.empty(x.shape, dtype=object)
    nan = np.isnan(x)
    big = ~nan & (x > 2)
    out[nan] = "nan"
    out[big] = np.char.add("b", np.floor(np.log(x[big]) ** 2).astype(np.int64).astype(str))
    small = ~nan & ~big
    out[small] = np.char.add("v", np.floor(x[small]).astype(np.int64).astype(str))
    return out


class Standardizer:
    """Dense floats → (x − mean) / std, statistics from the training split.

    Example:
        >>> s = Standardizer().fit([1.0, 3.0])
        >>> s.transform([1.0, 2.0, 5.0]).tolist()
        [-1.0, 0.0, 3.0]
    """

    def __init__(self, log1p: bool = False) -> None:
        self.log1p = log1p
        self.mean: float | None = None
        self.std: float | None = None

    def _prep(self, values: Iterable[float], what: str) -> np.ndarray:
        x = np.asarray(list(values) if not isinstance(values, (np.ndarray, pd.Series)) else values,
                       dtype=np.float64)
        if not np.isfinite(x).all():
            raise ValueError(f"Standardizer.{what}: values contain NaN/inf; impute them or use log_bucket")
        if self.log1p:
            if (x < 0).any():
                raise ValueError(f"Standardizer.{what}: log1p needs values >= 0, got min {x.min()}")
            x = np.log1p(x)
        return x

    def fit(self, values: Iterable[float]) -> Standardizer:
        x = self._prep(values, "fit")
        if x.size == 0:
            raise ValueError("Standardizer.fit: no values")
        self.mean, std = float(x.mean()), float(x.std())
        self.std = std if std > 0 else 1.0
        return self

    def transform(self, values: Iterable[float]) -> np.ndarray:
        if self.mean is None:
            raise RuntimeError("Standardizer is not fitted: call fit() on the training split first")
        return ((self._prep(values, "transform") - self.mean) / self.std).astype(np.float32)

    def to_dict(self) -> dict:
        return {"log1p": self.log1p, "mean": self.mean, "std": self.std}

    @classmethod
    def from_dict(cls, d: dict) -> Standardizer:
        s = cls(bool(d["log1p"]))
        s.mean, s.std = d["mean"], d["std"]
        return s


def pad_sequences(ids: np.ndarray, lengths: np.ndarray, max_len: int) -> np.ndarray:
    """Concatenated id lists → (N, T) ids, left-aligned, 0-padded, the *last* ``T`` of each kept.

    Args:
        ids: (sum of lengths,) int64 — every row's ids in chronological order, rows back to back.
        lengths: (N,) length of each row's list.
        max_len: T.

    Example:
        >>> pad_sequences(np.array([5, 6, 7, 8, 9]), np.array([3, 0, 2]), 2).tolist()
        [[6, 7], [0, 0], [8, 9]]
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if (lengths < 0).any():
        raise ValueError("pad_sequences: negative length")
    if lengths.sum() != len(ids):
        raise ValueError(f"pad_sequences: lengths sum to {lengths.sum()} but {len(ids)} ids were given")
    n = len(lengths)
    out = np.zeros((n, max_len), dtype=np.int64)
    keep = np.minimum(lengths, max_len)                                  # (N,)
    ends = np.cumsum(lengths)                                            # (N,) one past each row's last id
    rows = np.repeat(np.arange(n), keep)                                 # (K,)
    pos = np.arange(keep.sum()) - np.repeat(np.cumsum(keep) - keep, keep)  # (K,) 0..keep-1 in each row
    src = np.repeat(ends - keep, keep) + pos                             # (K,) index into ids
    out[rows, pos] = ids[src]
    return out


Transform = Literal["none", "log_bucket", "standardize", "log_standardize"]


@dataclass(frozen=True)
class Column:
    """How one raw DataFrame column becomes one field.

    Args:
        name: the field name (and, unless ``source`` is given, the DataFrame column).
        kind: ``"sparse"``, ``"dense"``, ``"multi"`` or ``"sequence"`` (see :mod:`ctrviz.data.schema`).
            Multi/sequence columns hold lists of tokens (chronological for sequences).
        source: DataFrame column to read; defaults to ``name``.
        vocab: vocabulary shared with other columns (e.g. ``"item"`` for ``hist_item``); the
            vocabulary is fitted on the training tokens of every column that shares it.
        min_count: rarer training tokens become OOV.
        max_len: T for multi/sequence columns.
        transform: ``"log_bucket"`` turns a numeric column into a categorical one (sparse kind);
            ``"standardize"``/``"log_standardize"`` scale a dense one.
    """

    name: str
    kind: Literal["sparse", "dense", "multi", "sequence"]
    source: str | None = None
    vocab: str | None = None
    min_count: int = 1
    max_len: int = 0
    transform: Transform = "none"

    def __post_init__(self) -> None:
        if self.kind == "dense" and self.transform not in ("none", "standardize", "log_standardize"):
            raise ValueError(f"Column {self.name!r}: a dense column takes transform none/standardize/"
                             f"log_standardize, got {self.transform!r}")
        if self.kind != "dense" and self.transform not in ("none", "log_bucket"):
            raise ValueError(f"Column {self.name!r}: a {self.kind} column takes transform none/log_bucket, "
                             f"got {self.transform!r}")
        if self.kind in ("multi", "sequence") and self.max_len < 1:
            raise ValueError(f"Column {self.name!r}: a {self.kind} column needs max_len >= 1")

    @property
    def src(self) -> str:
        return self.source or self.name

    @property
    def table(self) -> str:
        return self.vocab or self.name


class TableEncoder:
    """Fit :class:`Column` specs on a training DataFrame; encode any split to a :class:`Batch`.

    Args:
        columns: the column specs, in field order.
        label: name of the 0/1 label column.
        pairs: interaction pairs to put in the schema.
        user_field: sparse field GAUC groups by.

    Example:
        >>> df = pd.DataFrame({"user": ["u1", "u2", "u1"], "hist": [["a"], [], ["a", "b"]],
        ...                    "price": [1.0, 2.0, 3.0], "click": [1, 0, 1]})
        >>> enc = TableEncoder([Column("user", "sparse"), Column("hist", "sequence", max_len=2),
        ...                     Column("price", "dense", transform="standardize")], label="click").fit(df)
        >>> b = enc.transform(df)
        >>> b.sparse.tolist(), b.seqs["hist"].tolist()
        ([[2], [3], [2]], [[2, 0], [0, 0], [2, 3]])
    """

    def __init__(self, columns: Sequence[Column], label: str, pairs: Sequence[Pair] = (),
                 user_field: str | None = None) -> None:
        self.columns = tuple(columns)
        names = [c.name for c in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"TableEncoder: duplicate column names in {names}")
        self.label = label
        self.pairs = tuple(pairs)
        self.user_field = user_field
        self.vocabs: dict[str, Vocabulary] = {}
        self.scalers: dict[str, Standardizer] = {}

    # -- fitting ---------------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame) -> TableEncoder:
        """Fit vocabularies and scalers on ``df`` (the training split only)."""
        self._check_frame(df)
        tokens: dict[str, list[np.ndarray]] = {}
        min_counts: dict[str, int] = {}
        for c in self.columns:
            if c.kind == "dense":
                self.scalers[c.name] = Standardizer(log1p=c.transform == "log_standardize").fit(df[c.src])
                continue
            if min_counts.setdefault(c.table, c.min_count) != c.min_count:
                raise ValueError(f"TableEncoder: columns sharing vocabulary {c.table!r} disagree on min_count")
            tokens.setdefault(c.table, []).append(self._tokens(c, df)[0])
        for table, parts in tokens.items():
            self.vocabs[table] = Vocabulary(min_counts[table]).fit(np.concatenate(parts))
        return self

    def _tokens(self, c: Column, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Flat tokens of column ``c`` and (for list columns) the per-row lengths."""
        col = df[c.src]
        if c.kind == "sparse":
            if c.transform != "log_bucket" and col.isna().any():   # log_bucket maps NaN to its own "nan" token
                row = int(np.flatnonzero(col.isna().to_numpy())[0])
                raise ValueError(f"column {c.src!r}: missing value at row {row}; fill it with a token "
                                 "(e.g. '') or use transform='log_bucket' for numbers")
            vals = log_bucket(col) if c.transform == "log_bucket" else col.to_numpy()
            return vals, np.ones(len(col), dtype=np.int64)
        lists = col.to_numpy()
        for i, v in enumerate(lists):
            if not isinstance(v, (list, tuple, np.ndarray)):
                raise TypeError(f"column {c.src!r}: row {i} holds {type(v).__name__}, a {c.kind} column "
                                "needs a list of tokens per row (use [] for none)")
        lengths = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
        flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=object, count=int(lengths.sum()))
        return flat, lengths

    def _check_frame(self, df: pd.DataFrame) -> None:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"TableEncoder needs a pandas DataFrame, got {type(df).__name__}")
        missing = [c.src for c in self.columns if c.src not in df.columns]
        if missing:
            raise ValueError(f"TableEncoder: DataFrame lacks columns {missing}; it has {list(df.columns)}")

    # -- encoding --------------------------------------------------------------------------------
    @property
    def schema(self) -> Schema:
        """The :class:`Schema` of the encoded data (needs a fitted encoder)."""
        if not self.vocabs and not self.scalers:
            raise RuntimeError("TableEncoder is not fitted: call fit() on the training split first")
        fields = []
        for c in self.columns:
            if c.kind == "dense":
                fields.append(Field(c.name, "dense"))
            else:
                fields.append(Field(c.name, c.kind, vocab=c.vocab, vocab_size=len(self.vocabs[c.table]),
                                    max_len=c.max_len))
        return Schema(tuple(fields), self.pairs, self.user_field)

    def transform(self, df: pd.DataFrame) -> Batch:
        """Encode ``df`` with the fitted vocabularies; unseen tokens → OOV."""
        schema = self.schema
        self._check_frame(df)
        if self.label not in df.columns:
            raise ValueError(f"TableEncoder: DataFrame lacks the label column {self.label!r}")
        label = df[self.label].to_numpy()
        if len(label) and (pd.isna(label).any() or not np.isin(label, (0, 1)).all()):
            raise ValueError(f"label column {self.label!r} must hold only 0 and 1")
        n = len(df)
        sparse, dense, seqs = [], [], {}
        for c in self.columns:
            if c.kind == "dense":
                dense.append(self.scalers[c.name].transform(df[c.src]))
                continue
            toks, lengths = self._tokens(c, df)
            ids = self.vocabs[c.table].encode(toks)
            if c.kind == "sparse":
                sparse.append(ids)
            else:
                seqs[c.name] = torch.from_numpy(pad_sequences(ids, lengths, c.max_len))
        batch = Batch(
            torch.from_numpy(np.stack(sparse, 1) if sparse else np.zeros((n, 0), np.int64)),
            torch.from_numpy(np.stack(dense, 1) if dense else np.zeros((n, 0), np.float32)),
            seqs,
            torch.from_numpy(label.astype(np.float32)),
        )
        if self.user_field is not None:
            batch.group = batch.sparse[:, schema.sparse_names.index(self.user_field)].clone()
        batch.check(schema)
        return batch

    # -- persistence -----------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps({
            "columns": [asdict(c) for c in self.columns], "label": self.label,
            "pairs": [asdict(p) for p in self.pairs], "user_field": self.user_field,
            "vocabs": {k: v.to_dict() for k, v in self.vocabs.items()},
            "scalers": {k: s.to_dict() for k, s in self.scalers.items()},
        })

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted encoder as JSON, atomically."""
        atomic_write_text(path, self.to_json())

    @classmethod
    def from_json(cls, text: str) -> TableEncoder:
        d = json.loads(text)
        enc = cls([Column(**c) for c in d["columns"]], d["label"], [Pair(**p) for p in d["pairs"]],
                  d["user_field"])
        enc.vocabs = {k: Vocabulary.from_dict(v) for k, v in d["vocabs"].items()}
        enc.scalers = {k: Standardizer.from_dict(v) for k, v in d["scalers"].items()}
        return enc

    @classmethod
    def load(cls, path: str | os.PathLike) -> TableEncoder:
        with open(path, encoding="utf-8") as fh:
            return cls.from_json(fh.read())

