"""The package's layering: a model file imports ``ctrviz.nn`` and at most its declared parent models."""

from __future__ import annotations

import ast
from pathlib import Path

import ctrviz

MODELS_DIR = Path(ctrviz.__file__).parent / "models"
NOT_MODELS = {"__init__", "registry"}
# model file → the models it extends (DCN-M's cross network is DCN's with another layer, AOANet is a GIN pruned,
# CAN-DIEN is DIEN with co-action units, DIEN is DIN with an interest GRU, the Cartesian baselines are DNN / CAN
# with pair-id embeddings); every other shared piece lives in ctrviz.nn
PARENTS = {"dcnv2": {"dcn"}, "aoanet": {"gin"}, "can_dien": {"dien"}, "dien": {"din"}, "cartesian": {"dnn", "can"}}


def model_imports() -> dict[str, set[str]]:
    """Every model file → the other model files it imports (at any depth: module level or inside a function)."""
    models = {p.stem for p in MODELS_DIR.glob("*.py")} - NOT_MODELS
    out: dict[str, set[str]] = {}
    for name in sorted(models):
        tree = ast.parse((MODELS_DIR / f"{name}.py").read_text(encoding="utf-8"))
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[:2] == ["ctrviz", "models"]:
                    if len(parts) > 2:
                        found.add(parts[2])
                    else:                                   # from ctrviz.models import dcn
                        found.update(a.name for a in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("ctrviz.models."))
        out[name] = (found & models) - {name}
    return out


def test_model_files_import_only_their_declared_parents():
    imports = model_imports()
    undeclared = {m: sorted(extra) for m, deps in imports.items() if (extra := deps - PARENTS.get(m, set()))}
    assert undeclared == {}, f"model files importing models that are not their declared parent: {undeclared}"
    assert sum(len(d) for d in imports.values()) <= 8
    assert all(len(p) == 1 for m, p in PARENTS.items() if m != "cartesian")   # cartesian.py holds two models


def test_the_scan_sees_model_imports():
    """The scan above is not vacuous: it finds every declared parent edge that exists today."""
    imports = model_imports()
    assert imports["dcnv2"] == {"dcn"} and imports["aoanet"] == {"gin"} and imports["cartesian"] == {"dnn", "can"}
    assert len(imports) == 23
