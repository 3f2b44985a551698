"""``--set KEY=VALUE``: every config field of every registered model can be set from the command line (issue 13)."""

from __future__ import annotations

import dataclasses
import json
import types
import typing

import pytest

from ctrviz import __main__ as cli
from ctrviz.data import DATASETS, DatasetSpec
from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
from ctrviz.models import MODELS, make_config, parse_overrides


def as_text(value: object) -> str:
    """How a user writes ``value`` after ``--set key=``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(":".join(map(str, v)) if isinstance(v, tuple) else str(v) for v in value)
    return str(value)


FIELDS = [(name, f) for name, spec in MODELS.items() for f in dataclasses.fields(spec.config_cls)]


@pytest.mark.parametrize("name, field", FIELDS, ids=[f"{n}.{f.name}" for n, f in FIELDS])
def test_every_field_of_every_model_round_trips_through_set(name, field):
    default = make_config(name).__dict__[field.name]
    parsed = parse_overrides(name, [f"{field.name}={as_text(default)}"])
    assert parsed == {field.name: default} and type(parsed[field.name]) is type(default)
    assert make_config(name, parsed) == make_config(name)


def test_values_of_each_kind_parse_to_their_type():
    got = parse_overrides("can", ["embed_dim=8", "dropout=0.25", "batch_norm=true", "micro_activation=none",
                                  "hidden=64, 32", "micro_layers=[8, 4]", "pairs=item:hist_item,category:hist_cat",
                                  'pooling="mean"'])
    assert got == {"embed_dim": 8, "dropout": 0.25, "batch_norm": True, "micro_activation": "none",
                   "hidden": (64, 32), "micro_layers": (8, 4), "pooling": "mean",
                   "pairs": (("item", "hist_item"), ("category", "hist_cat"))}
    assert parse_overrides("gin", ["hidden="]) == {"hidden": ()}                     # no deep part
    assert parse_overrides("can", ["pairs=none"]) == {"pairs": None}


@pytest.mark.parametrize("item, says", [
    ("orders", "expected KEY=VALUE"), ("=3", "expected KEY=VALUE"),
    ("order=3", "model 'can' has no config field 'order'; valid: "),
    ("orders=three", "--set orders: expected an integer, got 'three'"),
    ("orders=2.5", "--set orders: expected an integer"), ("orders=[2.5]", "--set orders: expected an integer"),
    ("batch_norm=maybe", "--set batch_norm: expected true or false"),
    ("micro_activation=relu", "--set micro_activation: expected one of tanh, none, got 'relu'"),
    ("hidden=64,x", "--set hidden: expected an integer, got 'x'"),
    ("pairs=item", "--set pairs: expected 2 parts (a:b)"),
    ("hidden=[64,", "--set hidden: '[64,' is not valid JSON"),
])
def test_a_bad_override_is_one_line_naming_the_key(item, says):
    with pytest.raises(ValueError, match=None) as err:
        parse_overrides("can", [item])
    assert says in str(err.value) and "\n" not in str(err.value), str(err.value)


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setitem(DATASETS, "synthetic", DatasetSpec(
        "synthetic", "small", lambda seed, cache: make_synthetic(SyntheticConfig(n_rows=2000, seed=seed))))


def test_set_reaches_the_model_from_the_command_line(small, capsys, monkeypatch):
    import ctrviz.experiments as ex
    seen = []
    real = ex.run_model
    monkeypatch.setattr(ex, "run_model", lambda *a, **k: seen.append(k) or real(*a, **k))
    args = ["train", "--model", "can", "--data", "synthetic", "--epochs", "1", "--no-progress", "--json",
            "--set", "embed_dim=4", "--set", "hidden=8", "--set", "pairs=item:hist_item"]
    assert cli.main(args) == 0
    row = json.loads(capsys.readouterr().out)
    assert seen[0]["model_config"] == {"embed_dim": 4, "hidden": (8,), "pairs": (("item", "hist_item"),)}
    smaller = row["params"]
    assert cli.main(args[:-6]) == 0                                       # the defaults: more parameters
    assert json.loads(capsys.readouterr().out)["params"] > smaller


@pytest.mark.parametrize("item, says", [("orders=x", "--set orders: expected an integer, got 'x'"),
                                        ("nope=1", "model 'can' has no config field 'nope'"),
                                        ("orders=0", "orders")])
def test_a_bad_set_on_the_command_line_is_one_line_before_the_data_loads(capsys, monkeypatch, item, says):
    monkeypatch.setitem(DATASETS, "synthetic", DatasetSpec("synthetic", "never", lambda seed, cache: pytest.fail()))
    code = cli.main(["train", "--model", "can", "--data", "synthetic", "--set", item])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and says in err and "Traceback" not in err, err


def test_models_fields_lists_what_set_takes(capsys):
    assert cli.main(["models", "--fields", "aoanet"]) == 0
    out = capsys.readouterr().out
    assert "ratio" in out and "Literal['subspace', 'layer', 'global']" in out and "default 0.3" in out


IMPOSSIBLE = {"embed_dim": [0, -3, 2.5, True], "hidden": [(8, 0), (8, -1), "200,80", (8.5,)],
              "activation": ["gelu", ""], "dropout": [1.0, 2.0, -0.1, "0.5"], "batch_norm": ["yes", 1],
              "pooling": ["max"], "orders": [0], "micro_layers": [(16, 0)], "ratio": [0.0, 1.5], "layers": [0],
              "subspaces": [0]}
CASES = [(name, key, value) for name, spec in MODELS.items() for f in dataclasses.fields(spec.config_cls)
         for key, values in IMPOSSIBLE.items() if f.name == key for value in values]


@pytest.mark.parametrize("name, key, value", CASES, ids=[f"{n}.{k}={v!r}" for n, k, v in CASES])
def test_every_registered_config_rejects_impossible_shared_fields(name, key, value):
    with pytest.raises(ValueError, match=key) as err:
        make_config(name, {key: value})
    assert "\n" not in str(err.value)


def impossible_values(hint: object, signed: bool) -> list[object]:
    """Values no field of type ``hint`` can take: the wrong type, out of range, a Literal's non-member."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return [v for v in impossible_values(inner[0], signed) if v is not None] if len(inner) == 1 else ["?"]
    if origin is typing.Literal:
        return ["bogus", None, 1]
    if hint is bool:
        return ["yes", 1, None]
    if hint is int:
        return ["3", 2.5, True, None] + ([] if signed else [0, -1])
    if hint is float:
        return ["0.5", float("nan"), float("inf"), True, None] + ([] if signed else [-0.5])
    if hint is str:
        return ["", 3, None]
    if origin is tuple:
        element = impossible_values(args[0], signed)[0]
        return ["a,b", None, 3, (element,) if args[-1] is Ellipsis else (element,) * len(args)]
    raise AssertionError(f"no impossible values known for {hint}")


ALL_FIELDS = [(name, f.name, value) for name, spec in MODELS.items()
              for f in dataclasses.fields(spec.config_cls)
              for value in impossible_values(typing.get_type_hints(spec.config_cls)[f.name],
                                             f.name in spec.config_cls.signed)]


@pytest.mark.parametrize("name, key, value", ALL_FIELDS, ids=[f"{n}.{k}={v!r}" for n, k, v in ALL_FIELDS])
def test_every_field_of_every_registered_config_is_checked_on_construction(name, key, value):
    """Built directly (not through make_config), each config rejects an impossible value of each of its fields
    with one line naming ``<Config>.<field>``."""
    cls = MODELS[name].config_cls
    with pytest.raises(ValueError) as err:
        cls(**{key: value})
    message = str(err.value)
    assert f"{key}" in message and "\n" not in message, message


def test_impossible_values_include_each_kind():
    """The table above is not vacuous: every registered config gets values for every one of its fields."""
    assert {n for n, _, _ in ALL_FIELDS} == set(MODELS)
    assert len(ALL_FIELDS) > 900
    assert ("can", "orders", 0) in ALL_FIELDS and ("gin", "dropout", -0.5) in ALL_FIELDS
    assert ("gin", "alpha_init", -0.5) not in ALL_FIELDS                  # α may start negative


@pytest.mark.parametrize("overrides", [{"coaction.orders": 2, "deep.hidden": (8,)},
                                       {"coaction": {"orders": 2}, "hidden": (8,)}])
def test_parts_of_a_config_take_dotted_or_nested_overrides(overrides):
    assert make_config("can", overrides) == make_config("can", {"orders": 2, "hidden": (8,)})


def test_dotted_overrides_on_the_cli_and_their_errors():
    assert parse_overrides("aoanet", ["ratio=0.2", "gin.layers=1"]) == {"ratio": 0.2, "layers": 1}
    assert make_config("aoanet", {"gin": {"layers": 1}}).layers == 1
    for item, says in [("gin.nope=1", "part 'gin' has no field 'nope'; its fields: embed_dim"),
                       ("deep.layers=1", "names no part of AOANetConfig; its parts: gin")]:
        with pytest.raises(ValueError, match=None) as err:
            parse_overrides("aoanet", [item])
        assert says in str(err.value), str(err.value)
    with pytest.raises(ValueError, match="config field 'orders' is given twice"):
        make_config("can", {"orders": 2, "coaction.orders": 3})
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['coactions'\]"):
        make_config("can", {"coactions": {"orders": 2}})


def test_models_fields_names_each_fields_part(capsys):
    assert cli.main(["models", "--fields", "can"]) == 0
    out = capsys.readouterr().out
    assert "coaction.orders" in out and "deep.hidden" in out


def test_train_options_reach_the_train_config(small, capsys, monkeypatch):
    import ctrviz.experiments as ex
    seen = []
    monkeypatch.setattr(ex, "run_model", lambda name, data, train, **kw: seen.append(train) or pytest.fail("stop"))
    args = ["train", "--model", "dnn", "--data", "synthetic", "--epochs", "1", "--no-progress", "--optimizer", "adamw",
            "--weight-decay", "0.01", "--grad-clip", "1.5", "--embedding-optimizer", "rowwise_adagrad",
            "--embedding-lr", "0.05"]
    with pytest.raises(pytest.fail.Exception):
        cli.main(args)
    cfg = seen[0]
    assert (cfg.optimizer, cfg.weight_decay, cfg.grad_clip, cfg.embedding_optimizer, cfg.embedding_lr) == (
        "adamw", 0.01, 1.5, "rowwise_adagrad", 0.05)
    assert cli.main(args[:-10] + ["--weight-decay", "-1"]) == 2
    assert "weight_decay must be a finite number >= 0" in capsys.readouterr().err
