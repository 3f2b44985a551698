"""The command line: listing, training end to end, the demo, and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ctrviz import __main__ as cli
from ctrviz.data import DATASETS, DatasetSpec
from ctrviz.data.synthetic import SyntheticConfig, make_synthetic


@pytest.fixture
def small_synthetic(monkeypatch):
    """Register a 6k-row synthetic dataset under the name 'synthetic' for this test."""
    def load(seed, cache):
        return make_synthetic(SyntheticConfig(n_rows=6000, seed=seed))
    monkeypatch.setitem(DATASETS, "synthetic", DatasetSpec("synthetic", "small", load))


def test_models_and_datasets_list_what_is_registered(capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("lr", "fm", "dnn"))
    assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("synthetic", "movielens", "movielens-seq"))


def test_train_json_reports_every_promised_key(small_synthetic, capsys):
    assert cli.main(["train", "--model", "lr", "--data", "synthetic", "--epochs", "3", "--json",
                     "--lr", "0.02", "--batch-size", "256", "--no-progress", "--seed", "3"]) == 0
    row = json.loads(capsys.readouterr().out)
    for key in ("model", "data", "auc", "logloss", "params", "samples_per_s", "seconds", "oracle_auc"):
        assert key in row, key
    assert row["model"] == "lr" and row["data"] == "synthetic" and row["seed"] == 3
    assert 0.5 < row["auc"] <= row["oracle_auc"] + 0.02
    assert row["params"] > 0 and row["samples_per_s"] > 0


def test_same_seed_same_metrics(small_synthetic, capsys):
    args = ["train", "--model", "dnn", "--data", "synthetic", "--epochs", "1", "--json", "--no-progress"]
    cli.main(args)
    first = json.loads(capsys.readouterr().out)
    cli.main(args)
    second = json.loads(capsys.readouterr().out)
    assert (first["auc"], first["logloss"]) == (second["auc"], second["logloss"])


def test_train_fused_and_amp_flags_reach_the_trainer(small_synthetic, capsys, monkeypatch):
    import ctrviz.experiments as ex
    seen = []
    real = ex.run_model
    monkeypatch.setattr(ex, "run_model", lambda model, data, config, **kw: seen.append(config) or real(
        model, data, config, **kw))
    monkeypatch.setattr("ctrviz.train._bf16_ok", lambda device, cpu=True: cpu)     # a bf16 CPU, for the flag
    args = ["train", "--model", "lr", "--data", "synthetic", "--epochs", "1", "--json", "--no-progress"]
    assert cli.main(args + ["--fused", "--amp"]) == 0
    assert seen[-1].fused is True and seen[-1].amp is True and 0 < json.loads(capsys.readouterr().out)["auc"] < 1
    assert cli.main(args) == 0
    assert seen[-1].fused is False and seen[-1].amp == "auto"
    monkeypatch.setattr("ctrviz.train._bf16_ok", lambda device, cpu=True: False)
    assert cli.main(args + ["--amp"]) == 2
    assert "amp=True needs a CUDA GPU" in capsys.readouterr().err


def test_demo_prints_the_table_with_the_oracle_and_writes_the_figure(small_synthetic, capsys, tmp_path):
    assert cli.main(["demo", "--epochs", "2", "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "oracle" in out and all(m in out for m in cli.DEMO_MODELS)
    png = (tmp_path / "demo.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    csv = (tmp_path / "demo.csv").read_text().splitlines()
    assert csv[0].startswith("model,auc,logloss") and csv[-1].startswith("oracle,")


@pytest.mark.parametrize("argv, match", [
    (["train", "--model", "nope", "--data", "synthetic"], "argument --model: invalid choice: 'nope'"),
    (["train", "--model", "dnn", "--data", "criteo-typo"], "argument --data: invalid choice"),
    (["train", "--model", "dnn", "--data", "synthetic", "--epochs", "0"], "must be > 0"),
    (["train", "--model", "dnn", "--data", "synthetic", "--batch-size", "ten"], "expected an integer, got 'ten'"),
    (["train", "--model", "dnn"], "required: --data"),
    ([], "required: command"),
])
def test_bad_arguments_exit_2_with_one_line(argv, match, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("ctrviz: error:") and err.count("\n") == 1 and match in err


def test_runtime_errors_exit_2_with_one_line(small_synthetic, capsys, tmp_path):
    code = cli.main(["train", "--model", "lr", "--data", "synthetic", "--resume", "--no-progress"])
    assert code == 2
    assert capsys.readouterr().err == "ctrviz: error: --resume needs --checkpoint-dir (the folder holding last.pt)\n"
    code = cli.main(["train", "--model", "lr", "--data", "synthetic", "--device", "cuda:7", "--no-progress"])
    err = capsys.readouterr().err
    if code == 2:   # no such GPU here
        assert err.startswith("ctrviz: error: device") and err.count("\n") == 1


def test_python_dash_m_runs_as_a_program():
    done = subprocess.run([sys.executable, "-m", "ctrviz", "train", "--model", "x", "--data", "synthetic"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("ctrviz: error: argument --model")
