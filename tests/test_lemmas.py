"""The equivalence lemmas: every relation holds to 1e-10 in float64, the degenerate AutoInt constructions
fail as explained, a wrong construction is caught, and `ctrviz lemmas` reports and exits accordingly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from ctrviz import lemmas
from ctrviz.__main__ import main
from ctrviz.models.dcn import CrossLayer
from ctrviz.nn.gin import generalized_interaction


@pytest.fixture(scope="module")
def table():
    return lemmas.check_all()


def test_every_relation_holds_to_1e_10(table):
    relations = table[table.kind == "relation"]
    assert len(relations) == 20
    assert relations.passed.all(), relations[~relations.passed][["lemma", "max_abs_error"]]
    assert (relations.max_abs_error <= 1e-10).all()
    assert list(table.columns) == ["lemma", "reference", "relation", "kind", "shapes", "seeds", "max_abs_error",
                                   "passed", "note"]


def test_the_table_covers_table_1_table_2_and_can(table):
    refs = " ".join(table.reference)
    for ref in [f"Lemma A.{k}" for k in range(1, 9)] + [f"Lemma 3.{k}" for k in range(1, 5)] + ["CAN Sec. 4.2"]:
        assert ref in refs
    for model in ("deepFM", "IPNN", "FwFM", "AFM", "OPNN", "DCN", "DCN-M", "xDeepFM", "AutoInt"):
        assert f"Table 2 row {model}" in refs


def test_degenerate_autoint_constructions_give_nan(table):
    degenerate = table[table.kind == "degenerate"]
    assert len(degenerate) == 2 and not degenerate.passed.any()
    assert degenerate.max_abs_error.isna().all()


def test_a_wrong_construction_is_caught():
    """Lemma A.6 with GIN's own pairing order (u = x_0, v = x_l) is another function: the check must fail."""
    def swapped(gen, B, F, D):
        K = F * D
        x0, xl = torch.randn(B, K, generator=gen, dtype=torch.float64), \
            torch.randn(B, K, generator=gen, dtype=torch.float64)
        cross = CrossLayer(K).double()
        z = generalized_interaction(x0, xl, cross.weight[:, None].expand(K, K))
        return float((z.sum(-2) - cross.interaction(x0, xl)).abs().max())

    row = lemmas.check(dataclasses.replace(lemmas.LEMMAS[5], error=swapped))
    assert not row["passed"] and row["max_abs_error"] > 1e-3


def test_tolerance_and_shapes_are_honoured():
    row = lemmas.check(lemmas.LEMMAS[0], seeds=(0,), shapes=((2, 2, 3),), tolerance=1e-15)
    assert row["shapes"] == "2×2×3" and row["seeds"] == 1 and row["passed"]


def test_cli_prints_the_table_and_exits_0(capsys):
    assert main(["lemmas", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert "20/20 relations hold" in out and "degenerate constructions" in out and "A.7 DCN-M" in out


def test_cli_exits_1_when_a_relation_fails(monkeypatch, capsys):
    broken = dataclasses.replace(lemmas.LEMMAS[0], error=lambda gen, B, F, D: 1.0)
    monkeypatch.setattr(lemmas, "LEMMAS", (broken,) + lemmas.LEMMAS[1:])
    assert main(["lemmas", "--seeds", "1"]) == 1
    assert "FAILED: A.1 inner product" in capsys.readouterr().out
