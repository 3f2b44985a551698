"""What every model config is made of: the :class:`Config` base that checks each field on construction, and the
parts several models share (:class:`DeepConfig`, :class:`AOANetDeepConfig`; CAN's co-action part is
:class:`ctrviz.nn.coaction.CoActionOptions`).

A config stays one flat frozen dataclass — ``dataclasses.asdict`` and the run cache keys built from it are those of
its fields — made of parts by inheritance: ``CANConfig(DeepConfig, CoActionOptions)``. A part names itself
(``part = "deep"``, ``"coaction"``, ``"gin"``), so an override can say which part it means: ``{"coaction.orders": 2}``,
``{"coaction": {"orders": 2}}`` or ``--set coaction.orders=2`` (:func:`ctrviz.models.make_config`).

Every config checks its fields when it is built, whoever builds it (``CANConfig(orders=0)`` raises), in three
steps: its own ``__post_init__`` (the rules of its model, e.g. ``ratio`` in (0, 1]), then each part's, then
:meth:`Config.__post_init__`: the fields many configs share (:func:`check_common_fields`) and every field against
its annotation (:func:`check_field_types`). A config's ``__post_init__`` ends with ``super().__post_init__()``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass
from typing import ClassVar, Literal

from ctrviz.nn.mlp import Activation


@dataclass(frozen=True)
class Config:
    """Base of every model config: on construction, the shared fields and every field's type are checked.

    Class attributes:
        part: the name overrides use for this class's fields (``"deep"`` → ``deep.hidden``), ``None`` for none.
        signed: numeric fields that may be negative or zero (every other int is a count or a width, >= 1; every
            other float is finite and >= 0).

    Example:
        >>> @dataclass(frozen=True)
        ... class HeadConfig(Config):
        ...     layers: int = 2
        ...     kind: Literal["a", "b"] = "a"
        >>> HeadConfig(kind="c")
        Traceback (most recent call last):
        ...
        ValueError: HeadConfig.kind must be one of ('a', 'b'), got 'c'
    """

    part: ClassVar[str | None] = None
    signed: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        check_common_fields(self)
        check_field_types(self)


@functools.cache
def _hints(cls: type) -> dict[str, object]:
    return typing.get_type_hints(cls)


def check_field_types(config: object) -> None:
    """Every dataclass field of ``config`` against its annotation — ints (not bools) ``>= 1`` and finite numbers
    ``>= 0`` unless the field is in ``config.signed``, bools, non-empty strings, a ``Literal``'s values, tuples
    element by element, ``None`` where the annotation allows it; a ValueError naming ``<Config>.<field>``.

    Example:
        >>> @dataclass(frozen=True)
        ... class Pairs:
        ...     pairs: tuple[tuple[str, str], ...] | None = None
        >>> check_field_types(Pairs(pairs=(("a", "b"),))) is None
        True
        >>> check_field_types(Pairs(pairs=(("a",),)))
        Traceback (most recent call last):
        ...
        ValueError: Pairs.pairs must be a tuple of (str, str) tuples or None, got (('a',),)
    """
    hints, signed = _hints(type(config)), getattr(config, "signed", frozenset())
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if not _fits(value, hints[f.name], f.name in signed):
            raise ValueError(f"{type(config).__name__}.{f.name} must be {_describe(hints[f.name], f.name in signed)}"
                             f", got {value!r}")


def _fits(value: object, hint: object, signed: bool) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(value is None if a is type(None) else _fits(value, a, signed) for a in args)
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and (signed or value >= 1)
    if hint is float:
        return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                and (signed or value >= 0))
    if hint is str:
        return isinstance(value, str) and value != ""
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_fits(v, args[0], signed) for v in value)
        return len(value) == len(args) and all(_fits(v, a, signed) for v, a in zip(value, args, strict=True))
    return True                                      # a type this check does not know: the config's own checks


def _describe(hint: object, signed: bool) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("None" if a is type(None) else _describe(a, signed) for a in args)
    if origin is Literal:
        return f"one of {args}"
    if origin is tuple:
        short = {bool: "bool", int: "int", float: "number", str: "str"}
        if len(args) == 2 and args[1] is Ellipsis:
            element = args[0]
            if typing.get_origin(element) is tuple:
                return f"a tuple of ({', '.join(short.get(a, str(a)) for a in typing.get_args(element))}) tuples"
            nouns = {bool: "bools", int: "ints" if signed else "ints >= 1", str: "non-empty strs",
                     float: "finite numbers" if signed else "finite numbers >= 0"}
            return f"a tuple of {nouns.get(element, str(element))}"
        return f"a tuple of ({', '.join(short.get(a, str(a)) for a in args)})"
    names = {bool: "True or False", int: "an int" if signed else "an int >= 1",
             float: "a finite number" if signed else "a finite number >= 0", str: "a non-empty str"}
    return names.get(hint, str(hint))


def check_positive(config: object, *names: str) -> None:
    """``ValueError`` naming the field unless every ``config.<name>`` is an int >= 1."""
    for name in names:
        v = getattr(config, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{type(config).__name__}.{name} must be an int >= 1, got {v!r}")


def check_common_fields(config: object) -> None:
    """Check the fields many model configs share — ``embed_dim``, ``hidden``, ``activation``, ``dropout``,
    ``batch_norm``, ``pooling`` — wherever ``config`` has them; a ValueError naming ``<Config>.<field>``.

    Every :class:`Config` runs it on construction, so a config whose own ``__post_init__`` checks only its special
    fields is covered too.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class HeadConfig:
        ...     hidden: tuple = (8, 0)
        >>> check_common_fields(HeadConfig())
        Traceback (most recent call last):
        ...
        ValueError: HeadConfig.hidden: MLP widths must be >= 1 ints, in a tuple (() for none), got (8, 0)
    """
    name, has = type(config).__name__, vars(config)
    if "embed_dim" in has:
        if isinstance(config.embed_dim, bool) or not isinstance(config.embed_dim, int):
            raise ValueError(f"{name}.embed_dim must be an int >= 1, got {config.embed_dim!r}")
        if config.embed_dim < 1:
            raise ValueError(f"{name}.embed_dim must be >= 1, got {config.embed_dim}")
    if "hidden" in has and (not isinstance(config.hidden, tuple) or any(
            isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in config.hidden)):
        raise ValueError(f"{name}.hidden: MLP widths must be >= 1 ints, in a tuple (() for none), got "
                         f"{config.hidden!r}")
    if "activation" in has and config.activation not in typing.get_args(Activation):
        raise ValueError(f"{name}.activation must be one of {typing.get_args(Activation)}, got {config.activation!r}")
    if "dropout" in has and (isinstance(config.dropout, bool) or not isinstance(config.dropout, (int, float))
                             or not 0 <= config.dropout < 1):
        raise ValueError(f"{name}.dropout must be in [0, 1), got {config.dropout!r}")
    if "batch_norm" in has and not isinstance(config.batch_norm, bool):
        raise ValueError(f"{name}.batch_norm must be True or False, got {config.batch_norm!r}")
    if "pooling" in has and config.pooling not in ("sum", "mean"):
        raise ValueError(f"{name}.pooling must be 'sum' or 'mean', got {config.pooling!r}")



@dataclass(frozen=True)
class DeepConfig(Config):
    """The part ``deep`` of a model config: the fields of an Embedding & MLP model (CAN Sec. 3, 5.1).

    Args:
        embed_dim: D, the width of every field's embedding.
        hidden: hidden widths of the MLP (CAN: 200 × 80; ``()``: no hidden layer).
        activation: the MLP's activation (PReLU, as the DIEN/CAN code).
        dropout: dropout after each hidden layer, in [0, 1).
        batch_norm: BatchNorm1d before each activation.
        pooling: pooling of sequence/multi fields (CAN: sum).

    Every field is checked on construction, the message naming it (a sweep fails when built, not hours in).

    Example:
        >>> DeepConfig(dropout=2.0)
        Traceback (most recent call last):
        ...
        ValueError: DeepConfig.dropout must be in [0, 1), got 2.0
    """

    part: ClassVar[str] = "deep"
    embed_dim: int = 16
    hidden: tuple[int, ...] = (200, 80)
    activation: Activation = "prelu"
    dropout: float = 0.0
    batch_norm: bool = False
    pooling: Literal["sum", "mean"] = "sum"


@dataclass(frozen=True)
class AOANetDeepConfig(DeepConfig):
    """:class:`DeepConfig` with AOANet Sec. 4.1's defaults, shared by its baselines (DCN, DCN-M, xDeepFM, AutoInt+):
    the deep part's hidden widths 512-256-64 and ReLU."""

    hidden: tuple[int, ...] = (512, 256, 64)
    activation: Activation = "relu"

    def __post_init__(self) -> None:
        check_positive(self, "embed_dim")     # AOANet's baselines word it "an int >= 1"
        super().__post_init__()
