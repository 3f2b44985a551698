"""Model registry: name → (class, config dataclass, one-line summary)."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd
from torch import nn

from ctrviz.data.batch import CTRData
from ctrviz.data.schema import Schema

Fit = Callable[[nn.Module, str], dict[str, float]]   # fit(module, stage_name) -> test metrics + "seconds"
Stage = Callable[[nn.Module, Fit], dict[str, float]]  # stage(model, fit) -> extra result columns


@dataclass(frozen=True)
class ModelSpec:
    """A registered model. ``prepare(data, config) -> data``, when set, derives the features the model
    needs from the data, fitted on the training split only (e.g. Cartesian pair ids); run it before
    building the model on ``prepared.schema`` (:func:`ctrviz.experiments.run_model` does).

    ``stage(model, fit) -> dict``, when set, is a training stage that runs on the freshly built model
    before its own training (AOANet's selection stage: train a GIN, prune the model's interactions).
    ``fit(module, stage_name)`` trains any module on the experiment's data and returns its test
    metrics and ``seconds``; the dict it returns becomes extra result columns."""

    name: str
    cls: type[nn.Module]
    config_cls: type
    summary: str
    paper: str
    prepare: Callable[[CTRData, object], CTRData] | None = None
    stage: Stage | None = None


MODELS: dict[str, ModelSpec] = {}


def register(name: str, config_cls: type, summary: str, paper: str,
             prepare: Callable[[CTRData, object], CTRData] | None = None,
             stage: Stage | None = None,
             ) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator adding a model to :data:`MODELS` under ``name``."""
    def deco(cls: type[nn.Module]) -> type[nn.Module]:
        if name in MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        MODELS[name] = ModelSpec(name, cls, config_cls, summary, paper, prepare, stage)
        return cls
    return deco


def make_config(name: str, config: object | dict | None = None) -> object:
    """The config dataclass of model ``name`` from ``None`` (defaults), a dict of overrides, or itself.

    A dict's keys are field names, or ``part.field`` for a field of one of the config's parts
    (:func:`config_parts`: ``{"coaction.orders": 2}`` for CAN, ``{"gin.layers": 1}`` for AOANet), or a part's
    name with a dict of its fields (``{"coaction": {"orders": 2}}``). Every value is checked on construction.

    Example:
        >>> make_config("can", {"coaction": {"orders": 2}, "deep.hidden": (64,)}).orders
        2
    """
    spec = get_spec(name)
    if config is None:
        return spec.config_cls()
    if isinstance(config, spec.config_cls):
        return config
    if isinstance(config, dict):
        return spec.config_cls(**_flat_overrides(name, spec.config_cls, config))
    raise TypeError(f"model {name!r}: config must be a {spec.config_cls.__name__}, a dict or None, "
                    f"got {type(config).__name__}")


def config_parts(config_cls: type) -> dict[str, tuple[str, ...]]:
    """The named parts of a config class → their fields, from each base that names itself with ``part``
    (:class:`ctrviz.nn.config.Config`).

    Example:
        >>> from ctrviz.models.aoanet import AOANetConfig
        >>> config_parts(AOANetConfig)["gin"][:3]
        ('embed_dim', 'layers', 'subspaces')
    """
    parts: dict[str, tuple[str, ...]] = {}
    for base in reversed(config_cls.__mro__):
        part = base.__dict__.get("part")
        if isinstance(part, str) and dataclasses.is_dataclass(base):
            parts[part] = tuple(f.name for f in dataclasses.fields(base))
    return parts


def _flat_overrides(name: str, config_cls: type, overrides: dict) -> dict[str, object]:
    """``overrides`` with ``part.field`` keys and ``{part: {field: value}}`` dicts resolved to field names;
    ValueError naming the key that is no field (with the valid ones) or that is given twice."""
    known = [f.name for f in dataclasses.fields(config_cls)]
    parts = config_parts(config_cls)
    unknown = sorted((k for k in overrides if not isinstance(k, str) or (
        "." not in k and k not in known and not (k in parts and isinstance(overrides[k], dict)))), key=str)
    if unknown:
        raise ValueError(f"model {name!r}: unknown config field(s) {unknown}; valid: {sorted(known)}"
                         + (f" (or part.field, parts: {', '.join(parts)})" if parts else ""))
    out: dict[str, object] = {}
    for key, value in overrides.items():
        if key in parts and key not in known and isinstance(value, dict):
            items = [(f"{key}.{k}", v) for k, v in value.items()]
        else:
            items = [(key, value)]
        for dotted, v in items:
            field = _field_of(name, config_cls.__name__, dotted, known, parts)
            if field in out:
                raise ValueError(f"model {name!r}: config field {field!r} is given twice")
            out[field] = v
    return out


def _field_of(name: str, cls_name: str, key: str, known: Sequence[str], parts: dict[str, tuple[str, ...]]) -> str:
    part, dot, field = key.rpartition(".")
    if not dot:
        if key in known:
            return key
        raise ValueError(f"model {name!r} has no config field {key!r}; valid: {', '.join(sorted(known))}"
                         + (f" (or part.field, parts: {', '.join(parts)})" if parts else ""))
    if part not in parts:
        raise ValueError(f"model {name!r}: {key!r} names no part of {cls_name}; its parts: "
                         f"{', '.join(parts) or 'none'}")
    if field not in parts[part]:
        raise ValueError(f"model {name!r}: part {part!r} has no field {field!r}; its fields: "
                         f"{', '.join(parts[part])}")
    return field


def parse_overrides(name: str, items: Sequence[str]) -> dict[str, object]:
    """``["key=value", …]`` (the CLI's ``--set``) → config overrides for :func:`make_config`, typed by the config.

    A key is a field name or ``part.field`` (:func:`config_parts`, e.g. ``coaction.orders``, ``gin.layers``).
    A value is read by its field's type: ints, floats, ``true``/``false``, ``none`` for optional fields, one of a
    Literal's names, a comma list for a tuple (``hidden=200,80``; empty for ``()``), ``a:b`` items for pairs
    (``pairs=item:hist_item,category:hist_cat``), or JSON (``hidden=[200, 80]``). Never ``eval``.

    Raises:
        ValueError: a malformed item, an unknown key (naming the valid ones) or a value of the wrong kind — one
        line naming the key.

    Example:
        >>> parse_overrides("can", ["orders=2", "hidden=64,32", "micro_activation=none", "pairs=item:hist_item"])
        {'orders': 2, 'hidden': (64, 32), 'micro_activation': 'none', 'pairs': (('item', 'hist_item'),)}
    """
    spec = get_spec(name)
    hints = typing.get_type_hints(spec.config_cls)
    known = [f.name for f in dataclasses.fields(spec.config_cls)]
    parts = config_parts(spec.config_cls)
    out: dict[str, object] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE, e.g. --set embed_dim=8")
        try:
            field = _field_of(name, spec.config_cls.__name__, key, known, parts)
        except ValueError as e:
            raise ValueError(f"--set {key}: {e}") from None
        key = field
        value: object = text.strip()
        if isinstance(value, str) and value[:1] in ("[", "{", '"'):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as e:
                raise ValueError(f"--set {key}: {text!r} is not valid JSON ({e.msg})") from None
        out[key] = _coerce(value, hints[key], key)
    return out


def _coerce(value: object, hint: object, key: str) -> object:
    """``value`` (CLI text or a JSON-decoded object) as an instance of the type ``hint``; ValueError naming ``key``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    text = value.strip() if isinstance(value, str) else None
    if origin in (typing.Union, types.UnionType):
        if value is None or (text is not None and text.lower() in ("none", "null")):
            if type(None) in args:
                return None
        errors = []
        for a in args:
            if a is not type(None):
                try:
                    return _coerce(value, a, key)
                except ValueError as e:
                    errors.append(e)
        raise errors[0]
    if origin is typing.Literal:
        for choice in args:
            if value == choice or (text is not None and text == str(choice)):
                return choice
        raise ValueError(f"--set {key}: expected one of {', '.join(map(str, args))}, got {value!r}")
    if hint is bool:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise ValueError(f"--set {key}: expected true or false, got {value!r}")
    if hint in (int, float):
        if isinstance(value, bool) or (hint is int and isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"--set {key}: expected {'an integer' if hint is int else 'a number'}, got {value!r}")
        try:
            number = float(value) if hint is float else int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"--set {key}: expected {'an integer' if hint is int else 'a number'}, got "
                             f"{value!r}") from None
        return number
    if hint is str:
        if text is None:
            raise ValueError(f"--set {key}: expected a string, got {value!r}")
        return text
    if origin is tuple:
        if text is not None:
            value = [] if text == "" else text.split(",")
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"--set {key}: expected a comma list or a JSON list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(v, args[0], key) for v in value)
        if len(value) == 1 and isinstance(value[0], str) and ":" in value[0]:
            value = value[0].split(":")                          # a pair written a:b
        if len(value) != len(args):
            raise ValueError(f"--set {key}: expected {len(args)} parts (a:b), got {value!r}")
        return tuple(_coerce(v, a, key) for v, a in zip(value, args, strict=True))
    raise ValueError(f"--set {key}: fields of type {hint} cannot be set from the command line")


def config_fields(name: str) -> set[str]:
    """The field names of model ``name``'s config dataclass (``"pairs"``, ``"pair_order"``, …).

    Example:
        >>> "pair_order" in config_fields("gin"), "pair_order" in config_fields("dnn")
        (True, False)
    """
    return {f.name for f in dataclasses.fields(get_spec(name).config_cls)}


def get_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; registered: {', '.join(sorted(MODELS))}")
    return MODELS[name]


def create(name: str, schema: Schema, config: object | dict | None = None) -> nn.Module:
    """Build model ``name`` for ``schema`` (for a model with a ``prepare`` step: the prepared data's schema).

    Args:
        name: a registered name (see :func:`list_models`).
        schema: the dataset's schema.
        config: the model's config dataclass, a dict of field overrides, or ``None`` for defaults.

    The model keeps ``schema`` as ``model.schema``: :func:`ctrviz.train.predict`, :func:`~ctrviz.train.evaluate_model`
    and :meth:`~ctrviz.train.Trainer.fit` check every batch against it once, before the first forward.

    Example:
        >>> from ctrviz.data.schema import Field
        >>> m = create("lr", Schema((Field("a", "sparse", vocab_size=4),)))
        >>> count_parameters(m), m.schema.sparse_names   # one weight per id + bias
        (5, ('a',))
    """
    spec = get_spec(name)
    model = spec.cls(schema, make_config(name, config))
    model.schema = schema
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def prepare_data(name: str, data: CTRData, config: object | dict | None = None) -> CTRData:
    """``data`` with the features model ``name`` derives from it (itself when the model needs none)."""
    spec = get_spec(name)
    return data if spec.prepare is None else spec.prepare(data, make_config(name, config))


def list_models() -> pd.DataFrame:
    """The registered models as a DataFrame (name, summary, paper)."""
    return pd.DataFrame([{"name": s.name, "summary": s.summary, "paper": s.paper} for s in MODELS.values()])

