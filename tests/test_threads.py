"""OpenMP waiting and thread count: what ``import ctrviz`` sets, what it leaves alone, and ``--threads``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import ctrviz
from ctrviz import __main__ as cli

PRINT = "import os, ctrviz; print(os.environ.get('GOMP_SPINCOUNT'), os.environ.get('OMP_WAIT_POLICY'))"


def env_after_import() -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", PRINT], env=clean, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_import_sets_a_short_spin_unless_the_user_chose():
    assert env_after_import() == "1000 None"                          # a fresh process: ctrviz's default
    assert ctrviz._openmp_defaults({}, torch_loaded=False) == {"GOMP_SPINCOUNT": "1000"}
    assert ctrviz._openmp_defaults({"OMP_WAIT_POLICY": "ACTIVE"}, torch_loaded=False) == {}   # the user's wins
    assert ctrviz._openmp_defaults({"GOMP_SPINCOUNT": "5"}, torch_loaded=False) == {}         # so does this
    assert ctrviz._openmp_defaults({}, torch_loaded=True) == {}       # OpenMP already read its settings: left alone


@pytest.mark.parametrize("command", [["train", "--model", "dnn", "--data", "synthetic"], ["demo"],
                                     ["reproduce", "can-table2", "--data", "synthetic"]])
def test_threads_option_sets_torch_threads_before_the_command_runs(monkeypatch, command):
    seen = []
    monkeypatch.setattr(torch, "set_num_threads", seen.append)
    name = {"train": "cmd_train", "demo": "cmd_demo", "reproduce": "cmd_reproduce"}[command[0]]
    monkeypatch.setattr(cli, name, lambda args: 0 if seen == [1] else pytest.fail("threads not set first"))
    assert cli.main([*command, "--threads", "1"]) == 0 and seen == [1]


def test_threads_must_be_positive(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--model", "dnn", "--data", "synthetic", "--threads", "0"])
    assert e.value.code == 2 and "--threads" in capsys.readouterr().err
