"""Sweeps with a result cache, summaries, and every `reproduce` spec in --quick mode."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from ctrviz import experiments
from ctrviz.__main__ import main
from ctrviz.data.subsample import subsample
from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
from ctrviz.experiments import RunSpec, data_fingerprint, run_key, summarize, sweep
from ctrviz.reproduce import SPECS, default_train, reproduce
from ctrviz.train import TrainConfig

TRAIN = TrainConfig(epochs=1, batch_size=256, lr=1e-2, progress=False)


@pytest.fixture(scope="module")
def data():
    return make_synthetic(SyntheticConfig(n_rows=3000, n_fields=6, n_users=50, n_items=40, seq_len=5))


def test_sweep_rows_settings_and_seeds(data):
    runs = [RunSpec("lr", seed=s) for s in (0, 1)] + [RunSpec("fm", {"embed_dim": 4}, 0, {"dim": 4}, "fm-4")]
    table = sweep(runs, data, TRAIN, progress=False)
    assert list(table.columns[:3]) == ["model", "seed", "dim"]
    assert table.model.tolist() == ["lr", "lr", "fm-4"] and table.seed.tolist() == [0, 1, 0]
    assert table.dim.isna().tolist() == [True, True, False] and not table.cached.any()
    assert table.auc.between(0, 1).all() and table.loc[0, "auc"] != table.loc[1, "auc"]   # seeds differ


def test_cache_resumes_and_a_changed_config_is_not_reused(data, tmp_path, monkeypatch):
    runs = [RunSpec("lr", seed=0), RunSpec("lr", seed=1)]
    first = sweep(runs, data, TRAIN, cache=tmp_path, progress=False)
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 2 and json.loads(files[0].read_text())["model"] == "lr"
    calls = []
    real = experiments.run_model
    monkeypatch.setattr(experiments, "run_model", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    again = sweep(runs, data, TRAIN, cache=tmp_path, progress=False)
    assert calls == [] and again.cached.all()
    pd.testing.assert_series_equal(first.auc, again.auc)
    sweep([RunSpec("lr", {"pooling": "mean"}, seed=0)], data, TRAIN, cache=tmp_path, progress=False)   # new config
    sweep(runs[:1], data, TrainConfig(epochs=1, batch_size=128, lr=1e-2, progress=False), cache=tmp_path,
          progress=False)                                                                          # new train config
    other = make_synthetic(SyntheticConfig(n_rows=3000, n_fields=6, n_users=50, n_items=40, seq_len=5, seed=1))
    sweep(runs[:1], other, TRAIN, cache=tmp_path, progress=False)                                 # new data
    assert calls == ["lr", "lr", "lr"] and len(list(tmp_path.glob("*.json"))) == 5


def test_an_interrupted_sweep_keeps_finished_runs(data, tmp_path, monkeypatch):
    real = experiments.run_model

    def fail_on_seed_1(name, d, train, config, **kw):
        if train.seed == 1:
            raise KeyboardInterrupt
        return real(name, d, train, config, **kw)

    monkeypatch.setattr(experiments, "run_model", fail_on_seed_1)
    with pytest.raises(KeyboardInterrupt):
        sweep([RunSpec("lr", seed=0), RunSpec("lr", seed=1)], data, TRAIN, cache=tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.json"))) == 1 and not list(tmp_path.glob("*.tmp*"))
    monkeypatch.setattr(experiments, "run_model", real)
    table = sweep([RunSpec("lr", seed=0), RunSpec("lr", seed=1)], data, TRAIN, cache=tmp_path, progress=False)
    assert table.cached.tolist() == [True, False]


def test_aoanet_runs_that_differ_only_in_ratio_share_one_selection_stage(data, tmp_path, monkeypatch):
    gin = {"embed_dim": 4, "hidden": (8,), "layers": 1, "subspaces": 2}
    runs = [RunSpec("aoanet", {**gin, "ratio": r}, seed) for seed in (0, 1) for r in (0.3, 0.6)]
    fresh = sweep(runs, data, TRAIN, progress=False)                       # no cache: every stage trained
    fits = []
    real = experiments.Trainer.fit
    monkeypatch.setattr(experiments.Trainer, "fit",
                        lambda self, m, d: fits.append(type(m).__name__) or real(self, m, d))
    cached = sweep(runs, data, TRAIN, cache=tmp_path, progress=False)
    assert fits.count("GIN") == 2 and fits.count("AOANet") == 4           # one selection GIN per seed
    assert len(list((tmp_path / "stages").glob("*.pt"))) == 2 and not list(tmp_path.glob("stages/*.tmp*"))
    cols = ["auc", "logloss", "selection_auc", "selection_logloss", "kept_fraction"]
    pd.testing.assert_frame_equal(fresh[cols], cached[cols])                # bit-identical to training again
    assert fresh.kept_fraction.iloc[0] < fresh.kept_fraction.iloc[1]
    fits.clear()                                                           # another seed, or another GIN: trained
    sweep([RunSpec("aoanet", {**gin, "ratio": 0.5}, 2), RunSpec("aoanet", {**gin, "subspaces": 1}, 0)], data,
          TRAIN, cache=tmp_path, progress=False)
    assert fits.count("GIN") == 2 and len(list((tmp_path / "stages").glob("*.pt"))) == 4


def test_run_key_depends_on_everything_that_changes_the_result(data):
    fp = data_fingerprint(data)
    key = run_key(RunSpec("dnn"), TRAIN, fp)
    assert key == run_key(RunSpec("dnn", {"embed_dim": 16}), TRAIN, fp)              # the default, spelled out
    assert key == run_key(RunSpec("dnn", setting={"x": 1}, label="other"), TRAIN, fp)  # labels only
    assert key == run_key(RunSpec("dnn"), TrainConfig(epochs=1, batch_size=256, lr=1e-2, progress=True), fp)
    assert key != run_key(RunSpec("dnn", seed=1), TRAIN, fp)
    assert key != run_key(RunSpec("dnn"), dataclasses.replace(TRAIN, fused=True), fp)
    assert key != run_key(RunSpec("dnn", {"embed_dim": 8}), TRAIN, fp)
    assert key != run_key(RunSpec("dnn"), TRAIN, fp[:-1] + "0")


def test_sweep_errors_before_training(data):
    with pytest.raises(ValueError, match="unknown config field"):
        sweep([RunSpec("lr"), RunSpec("dnn", {"hiden": (8,)})], data, TRAIN, progress=False)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        sweep([RunSpec("nope")], data, TRAIN, progress=False)
    with pytest.raises(ValueError, match="no runs"):
        sweep([], data, TRAIN, progress=False)
    with pytest.raises(TypeError, match="runs must be RunSpec"):
        sweep(["lr"], data, TRAIN, progress=False)


def test_summarize_means_stds_and_relative_parameters():
    runs = pd.DataFrame({"model": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "L": [1, 1, 1, 1],
                         "data": "d", "auc": [0.7, 0.8, 0.9, 0.9], "logloss": [0.5, 0.3, 0.2, 0.4],
                         "params": [10, 10, 25, 25], "seconds": [1.0, 3.0, 2.0, 2.0], "samples_per_s": [4.0] * 4})
    s = summarize(runs, base="b")
    assert s[["model", "L"]].values.tolist() == [["a", 1], ["b", 1]]
    assert s.auc_mean.tolist() == pytest.approx([0.75, 0.9])
    assert s.auc_std.tolist() == pytest.approx([pd.Series([0.7, 0.8]).std(), 0.0])
    assert s.params_rel.tolist() == pytest.approx([0.4, 1.0]) and s.n.tolist() == [2, 2]
    with pytest.raises(ValueError, match="base model 'c'"):
        summarize(runs, base="c")
    with pytest.raises(ValueError, match=r"lack columns \['logloss'\]"):
        summarize(runs.drop(columns="logloss"))


def test_subsample_is_seeded_and_bounded(data):
    a, b = subsample(data, 100, 30), subsample(data, 100, 30)
    assert (len(a.train), len(a.valid), len(a.test)) == (100, 30, 30)
    assert (a.train.sparse == b.train.sparse).all()
    from sklearn.metrics import roc_auc_score
    assert len(a.info["logit_parts"]["test"]["main"]) == 30
    assert a.info["oracle_auc"] == pytest.approx(roc_auc_score(a.test.label.numpy(), a.info["prob"]["test"]))
    assert len(subsample(data, 10**6, 10**6).train) == len(data.train)


@pytest.mark.parametrize("name", list(SPECS))
def test_every_spec_runs_in_quick_mode(name, data, tmp_path):
    rep = reproduce(name, data, quick=True, out=tmp_path, cache=tmp_path / "runs", progress=False)
    grid = SPECS[name].grid(True)
    assert len(rep.runs) == len(grid) and rep.runs.auc.between(0, 1).all()
    assert len(rep.summary) == len(grid) and (rep.summary.n == 1).all()
    assert all(p.is_file() and p.stat().st_size > 0 for p in rep.files.values())
    assert pd.read_csv(rep.files["summary"]).shape[0] == len(grid)
    if SPECS[name].base:
        assert rep.summary.loc[rep.summary.model == SPECS[name].base, "params_rel"].tolist() == [1.0]


def test_reproduce_without_out_writes_nothing(data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cache = tmp_path / "runs"
    rep = reproduce("can-table2", data, quick=True, out=None, cache=cache, progress=False)
    assert rep.files == {} and len(rep.summary) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["runs"]      # only the result cache


def test_reproduce_names_the_files_after_changed_training_settings(data, tmp_path):
    usual = default_train(data.name, True)
    kw = dict(quick=True, out=tmp_path, cache=tmp_path / "runs", progress=False, skip=["cartesian", "can+cartesian"])
    plain = reproduce("can-table2", data, train=usual, **kw)
    small = reproduce("can-table2", data, train=dataclasses.replace(usual, batch_size=128), **kw)
    both = reproduce("can-table2", data, train=dataclasses.replace(usual, batch_size=128, lr=0.001), **kw)
    assert plain.files["summary"].name == "can-table2-synthetic-quick-no-cartesian-no-can+cartesian.csv"
    assert small.files["summary"].name == "can-table2-synthetic-quick-no-cartesian-no-can+cartesian-batch_size=128.csv"
    assert both.files["summary"].name.endswith("-batch_size=128-lr=0.001.csv")
    assert pd.read_csv(plain.files["summary"]).auc_mean.tolist() == plain.summary.auc_mean.tolist()   # not overwritten
    assert not small.runs.cached.any() and not plain.summary.auc_mean.equals(small.summary.auc_mean)


def test_reproduce_skip_leaves_out_labels_and_names_the_files(data, tmp_path):
    full = reproduce("can-table2", data, quick=True, out=tmp_path, cache=tmp_path / "runs", progress=False)
    rep = reproduce("can-table2", data, quick=True, out=tmp_path, cache=tmp_path / "runs", progress=False,
                    skip=["cartesian", "dnn"])
    assert rep.summary.model.tolist() == ["can", "can+cartesian"] and rep.runs.cached.all()   # same runs, cached
    assert "params_rel" not in rep.summary                     # the base model (dnn) was skipped
    assert rep.files["summary"].name == "can-table2-synthetic-quick-no-cartesian-no-dnn.csv"
    assert full.files["summary"].is_file()                     # the full table's files are untouched
    sub = full.summary.set_index("model").loc[["can", "can+cartesian"], "auc_mean"]
    assert rep.summary.set_index("model").auc_mean.equals(sub)
    with pytest.raises(ValueError, match=r"no grid point labelled 'xdeepfm' to skip; labels: dnn, cartesian"):
        reproduce("can-table2", data, quick=True, out=tmp_path, skip=["xdeepfm"])
    with pytest.raises(ValueError, match="leaves no runs"):
        reproduce("can-table2", data, quick=True, out=tmp_path, skip=["dnn", "cartesian", "can", "can+cartesian"])
    with pytest.raises(TypeError, match="skip must be a list of labels"):
        reproduce("can-table2", data, quick=True, out=tmp_path, skip="dnn")


def test_reproduce_errors(data, tmp_path):
    with pytest.raises(ValueError, match="unknown experiment 'table9'"):
        reproduce("table9", data, out=tmp_path)
    with pytest.raises(ValueError, match="seeds must be an int >= 1"):
        reproduce("can-table2", data, seeds=0, out=tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is not a folder"):
        reproduce("can-table2", data, out=tmp_path / "file")


def test_cli_reproduce_quick_twice_uses_the_cache(tmp_path, monkeypatch, capsys, data):
    from ctrviz.data import DATASETS, DatasetSpec
    monkeypatch.setitem(DATASETS, "synthetic", DatasetSpec("synthetic", "small", lambda seed, cache: data))
    args = ["reproduce", "can-table2", "--data", "synthetic", "--quick", "--out", str(tmp_path / "out"),
            "--results", str(tmp_path / "runs"), "--no-progress"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "4 runs (0 from the cache" in out and "can+cartesian" in out and "1.0x" in out
    assert main(args) == 0
    assert "4 runs (4 from the cache" in capsys.readouterr().out
    assert (tmp_path / "out" / "can-table2-synthetic-quick.png").is_file()
    assert main(args + ["--skip", "cartesian"]) == 0
    assert "3 runs (3 from the cache" in capsys.readouterr().out
    assert (tmp_path / "out" / "can-table2-synthetic-quick-no-cartesian.png").is_file()
    assert main(args + ["--skip", "can", "can+cartesian", "--embedding-optimizer", "lazy_adam"]) == 0
    out = capsys.readouterr().out                   # new runs (the tables' optimizer is part of the cache key)
    assert "tables lazy_adam" in out and "2 runs (0 from the cache" in out
    lazy = pd.read_csv(tmp_path / "out" / "can-table2-synthetic-quick-no-can-no-can+cartesian-"
                                          "embedding_optimizer=lazy_adam.csv").set_index("model")
    dense = pd.read_csv(tmp_path / "out" / "can-table2-synthetic-quick.csv").set_index("model")
    assert lazy.auc_mean["cartesian"] != dense.auc_mean["cartesian"]
    monkeypatch.setitem(DATASETS, "synthetic", DatasetSpec("synthetic", "small", lambda seed, cache: pytest.fail()))
    assert main(args + ["--skip", "nope"]) == 2                     # fails before the data loads
    assert "no grid point labelled 'nope'" in capsys.readouterr().err
    assert main(args + ["--embedding-lr", "0.01"]) == 2
    assert "--embedding-lr needs a row-wise --embedding-optimizer" in capsys.readouterr().err
