"""Schema: which fields a CTR dataset has, what kind each is, and which fields pair up.

Every dataset in ctrviz — synthetic, MovieLens, Criteo, Amazon — is described by one
:class:`Schema` that models read at construction time. Fields come in four kinds:

- ``sparse``: one categorical id per row, e.g. ``user``, ``item`` → a column of ``Batch.sparse``.
- ``dense``: one float per row (already transformed), e.g. ``age`` → a column of ``Batch.dense``.
- ``multi``: a bag of categorical ids with no order, e.g. a movie's genres → ``Batch.seqs[name]``.
- ``sequence``: an ordered, time-sorted list of ids, most recent last, e.g. a user's click history
  → ``Batch.seqs[name]``. Truncation keeps the most recent ``max_len`` items (CAN Sec. 6,
  "sequence cut-off").

Id convention for every vocabulary: ``0`` is padding (only seen in multi/sequence fields), ``1`` is
the out-of-vocabulary id, known values start at ``2``.

Fields that share a vocabulary share an embedding table (``vocab``): a history of items uses the
``item`` vocabulary, so the target item and the items in the history live in the same id space.

:class:`Pair` marks two fields that an interaction model should combine. For CAN the first field is
the *induction* side (its embedding becomes the micro-MLP's weights) and the second the *feed* side
(CAN Sec. 4.1, Eq. 5–9); symmetric models ignore the order.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Literal

PAD_ID = 0
OOV_ID = 1
FIRST_ID = 2

FieldKind = Literal["sparse", "dense", "multi", "sequence"]
_KINDS = ("sparse", "dense", "multi", "sequence")


@dataclass(frozen=True)
class Field:
    """One input field.

    Args:
        name: unique field name, e.g. ``"item"`` or ``"hist_item"``.
        kind: ``"sparse"``, ``"dense"``, ``"multi"`` or ``"sequence"``.
        vocab: name of the vocabulary (and so the embedding table) the ids belong to; defaults to
            the field's own name. Dense fields have none.
        vocab_size: number of ids including padding (0) and OOV (1); 0 for dense fields.
        max_len: padded length T of a multi or sequence field; 0 otherwise.

    Example:
        >>> Field("hist_item", "sequence", vocab="item", vocab_size=12, max_len=5).table
        'item'
    """

    name: str
    kind: FieldKind
    vocab: str | None = None
    vocab_size: int = 0
    max_len: int = 0

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"Field.name must be a non-empty string, got {self.name!r}")
        if self.kind not in _KINDS:
            raise ValueError(f"Field {self.name!r}: kind must be one of {_KINDS}, got {self.kind!r}")
        if self.kind == "dense":
            if self.vocab is not None or self.vocab_size or self.max_len:
                raise ValueError(f"Field {self.name!r}: a dense field has no vocab, vocab_size or max_len")
            return
        if self.vocab_size < FIRST_ID + 1:
            raise ValueError(
                f"Field {self.name!r}: vocab_size must be at least {FIRST_ID + 1} (padding, OOV and one "
                f"known value), got {self.vocab_size}"
            )
        if self.kind in ("multi", "sequence") and self.max_len < 1:
            raise ValueError(f"Field {self.name!r}: a {self.kind} field needs max_len >= 1, got {self.max_len}")
        if self.kind == "sparse" and self.max_len:
            raise ValueError(f"Field {self.name!r}: a sparse field has no max_len (got {self.max_len})")

    @property
    def table(self) -> str:
        """Name of the embedding table / vocabulary this field's ids index."""
        return self.vocab or self.name


@dataclass(frozen=True)
class Pair:
    """Two fields to combine: ``induction`` × ``feed`` (CAN's order; symmetric models ignore it).

    Example:
        >>> Pair("item", "hist_item")
        Pair(induction='item', feed='hist_item')
    """

    induction: str
    feed: str


@dataclass(frozen=True)
class Schema:
    """All fields of a dataset, in column order, plus the interaction pairs.

    Args:
        fields: the fields; the order of the sparse ones is the column order of ``Batch.sparse``,
            the order of the dense ones the column order of ``Batch.dense``.
        pairs: induction × feed pairs for interaction models. Both sides must be categorical.
        user_field: the sparse field GAUC groups by (``None``: no GAUC).

    Example:
        >>> s = Schema((Field("user", "sparse", vocab_size=5), Field("price", "dense")))
        >>> s.sparse_names, s.dense_names
        (('user',), ('price',))
    """

    fields: tuple[Field, ...]
    pairs: tuple[Pair, ...] = ()
    user_field: str | None = None
    _by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fields = tuple(self.fields)
        object.__setattr__(self, "fields", fields)
        object.__setattr__(self, "pairs", tuple(self.pairs))
        by_name: dict[str, Field] = {}
        for f in fields:
            if not isinstance(f, Field):
                raise TypeError(f"Schema.fields must hold Field objects, got {type(f).__name__}")
            if f.name in by_name:
                raise ValueError(f"Schema: field name {f.name!r} appears twice")
            by_name[f.name] = f
        object.__setattr__(self, "_by_name", by_name)
        sizes: dict[str, int] = {}
        for f in fields:
            if f.kind == "dense":
                continue
            if sizes.setdefault(f.table, f.vocab_size) != f.vocab_size:
                raise ValueError(
                    f"Schema: fields sharing vocabulary {f.table!r} disagree on vocab_size "
                    f"({sizes[f.table]} vs {f.vocab_size} for {f.name!r})"
                )
        for p in self.pairs:
            for side, name in (("induction", p.induction), ("feed", p.feed)):
                if name not in by_name:
                    raise ValueError(f"Schema: pair {side} field {name!r} is not a field; known: {sorted(by_name)}")
                if by_name[name].kind == "dense":
                    raise ValueError(f"Schema: pair {side} field {name!r} is dense; pairs need categorical fields")
        if self.user_field is not None and self.user_field not in self.sparse_names:
            raise ValueError(f"Schema: user_field {self.user_field!r} must name a sparse field")

    def __getitem__(self, name: str) -> Field:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no field {name!r}; known fields: {sorted(self._by_name)}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def names(self, *kinds: FieldKind) -> tuple[str, ...]:
        """Names of the fields of the given kinds, in schema order."""
        return tuple(f.name for f in self.fields if f.kind in kinds)

    @property
    def sparse_names(self) -> tuple[str, ...]:
        return self.names("sparse")

    @property
    def dense_names(self) -> tuple[str, ...]:
        return self.names("dense")

    @property
    def seq_names(self) -> tuple[str, ...]:
        """Multi-valued and sequence fields, in schema order (the keys of ``Batch.seqs``)."""
        return self.names("multi", "sequence")

    @property
    def vocab_sizes(self) -> dict[str, int]:
        """Vocabulary (embedding table) name → number of ids, in first-seen order."""
        return {f.table: f.vocab_size for f in self.fields if f.kind != "dense"}

    def to_json(self) -> str:
        """Serialise as JSON (round-trips through :meth:`from_json`)."""
        return json.dumps(
            {"fields": [asdict(f) for f in self.fields], "pairs": [asdict(p) for p in self.pairs],
             "user_field": self.user_field},
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Schema:
        """Inverse of :meth:`to_json`.

        Example:
            >>> s = Schema((Field("a", "sparse", vocab_size=3),), user_field="a")
            >>> Schema.from_json(s.to_json()) == s
            True
        """
        raw = json.loads(text)
        return cls(
            tuple(Field(**f) for f in raw["fields"]),
            tuple(Pair(**p) for p in raw.get("pairs", ())),
            raw.get("user_field"),
        )
