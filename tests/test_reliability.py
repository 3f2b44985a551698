"""Failures at the edges (issue 12): bad checkpoints and resumes that do not match, output folders checked up front.

Each user error must give exit code 2 from the CLI, one line naming the problem and the fix, no traceback — and
leave the checkpoint, cache and output folders exactly as they were (compared by a hash of every file).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from ctrviz import Batch, CTRData, Field, Schema, create
from ctrviz import __main__ as cli
from ctrviz.data import DATASETS, DatasetSpec
from ctrviz.data.cache import cache_dir
from ctrviz.data.criteo import load_criteo, read_criteo
from ctrviz.data.movielens import read_movielens_raw
from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
from ctrviz.experiments import run_model
from ctrviz.train import CheckpointError, TrainConfig, Trainer, evaluate_model, predict
from ctrviz.utils import orphaned_temp_files, seed_everything, temp_prefix, writable_dir


class Payload:
    """A class a weights-only load must refuse (a pickled object inside a checkpoint)."""


@pytest.fixture
def loads(monkeypatch):
    """A 3k-row synthetic dataset under the name 'synthetic'; returns the list of (seed, cache) it was loaded with."""
    calls = []

    def load(seed, cache):
        calls.append((seed, cache))
        return make_synthetic(SyntheticConfig(n_rows=3000, seed=seed))
    monkeypatch.setitem(DATASETS, "synthetic", DatasetSpec("synthetic", "small", load))
    return calls


def tree_hash(*folders: Path) -> str:
    """sha1 over every file's relative path and bytes under ``folders`` (missing folders hash as empty)."""
    h = hashlib.sha1()
    for folder in folders:
        for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()) if Path(folder).exists() else []:
            h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def run_cli(capsys, args: list[str]) -> tuple[int, str]:
    code = cli.main(args)
    captured = capsys.readouterr()
    return code, captured.err


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ctrviz: error: ") and "Traceback" not in err, err
    return lines[0]


TRAIN = ["train", "--model", "lr", "--data", "synthetic", "--batch-size", "256", "--lr", "0.02", "--json",
         "--no-progress"]


def _write_bad(path: Path, kind: str, good: bytes) -> None:
    if kind == "random":
        path.write_bytes(os.urandom(4096))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif kind == "text":
        path.write_text("not a checkpoint\n")
    elif kind == "list":
        torch.save([1, 2, 3], path)
    elif kind == "tensor":
        torch.save(torch.ones(3), path)
    elif kind == "other dict":
        torch.save({"weights": torch.ones(2), "epoch": 1}, path)
    elif kind == "pickled object":
        torch.save({"model": Payload(), "epoch": 1}, path)
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("kind, says", [
    ("random", "is unreadable"), ("empty", "is unreadable (0 bytes"), ("truncated", "is unreadable"),
    ("text", "is unreadable"), ("list", "is not a ctrviz checkpoint (a list)"),
    ("tensor", "is not a ctrviz checkpoint (a Tensor)"), ("other dict", "is not a ctrviz checkpoint (no 'model'"),
    ("pickled object", "holds pickled Python objects")])
def test_resume_from_a_bad_checkpoint_is_one_line_and_loads_nothing(loads, capsys, tmp_path, kind, says):
    ck, cache = tmp_path / "ck", tmp_path / "cache"
    code, err = run_cli(capsys, [*TRAIN, "--epochs", "1", "--checkpoint-dir", str(ck), "--cache", str(cache)])
    assert code == 0, err
    last = ck / "last.pt"
    _write_bad(last, kind, last.read_bytes())
    before = tree_hash(ck, cache)
    line = one_line_error(*run_cli(capsys, [*TRAIN, "--epochs", "2", "--checkpoint-dir", str(ck), "--cache",
                                            str(cache), "--resume"]))
    assert says in line and str(last) in line and "delete it, or train without resume" in line, line
    assert "weights_only=False" not in line                     # never the advice to unpickle
    assert tree_hash(ck, cache) == before


def test_resume_with_another_seed_is_refused_by_name(loads, capsys, tmp_path):
    ck = tmp_path / "ck"
    code, err = run_cli(capsys, [*TRAIN, "--epochs", "1", "--seed", "0", "--checkpoint-dir", str(ck)])
    assert code == 0, err
    before = tree_hash(ck)
    line = one_line_error(*run_cli(capsys, [*TRAIN, "--epochs", "2", "--seed", "1", "--checkpoint-dir", str(ck),
                                            "--resume"]))
    assert "made with seed 0, this run has 1" in line and "resume with the same seed" in line, line
    assert tree_hash(ck) == before
    code, err = run_cli(capsys, [*TRAIN, "--epochs", "2", "--seed", "0", "--checkpoint-dir", str(ck), "--resume"])
    assert code == 0, err                                        # the same seed resumes


def _fit(model_config: dict, data_seed: int, ck: Path, resume: bool, epochs: int = 1):
    data = make_synthetic(SyntheticConfig(n_rows=2000, seed=data_seed))
    seed_everything(0)
    model = create("dnn", data.schema, model_config)
    return Trainer(TrainConfig(epochs=epochs, batch_size=256, progress=False, checkpoint_dir=str(ck),
                               resume=resume)).fit(model, data)


@pytest.mark.parametrize("config, data_seed, says", [
    ({"dropout": 0.3}, 0, "made with model config"),            # same shapes, another config
    ({"dropout": 0.1}, 1, "made with data 'synthetic, 1600/200/200 rows, "),     # same sizes, other rows
])
def test_resume_with_another_config_or_data_is_refused_by_name(tmp_path, config, data_seed, says):
    ck = tmp_path / "ck"
    _fit({"dropout": 0.1}, 0, ck, resume=False)
    before = tree_hash(ck)
    with pytest.raises(CheckpointError, match="delete it, or train without resume") as err:
        _fit(config, data_seed, ck, resume=True, epochs=2)
    assert says in str(err.value) and "\n" not in str(err.value)
    assert tree_hash(ck) == before
    assert len(_fit({"dropout": 0.1}, 0, ck, resume=True, epochs=2).history) == 2     # the matching run resumes


@pytest.mark.parametrize("place", ["file", "under a file"])
@pytest.mark.parametrize("command, option", [
    (TRAIN, "--checkpoint-dir"), (TRAIN, "--cache"),
    (["reproduce", "can-table2", "--data", "synthetic", "--quick", "--no-progress"], "--out"),
    (["reproduce", "can-table2", "--data", "synthetic", "--quick", "--no-progress"], "--results"),
    (["reproduce", "can-table2", "--data", "synthetic", "--quick", "--no-progress"], "--cache"),
    (["demo", "--epochs", "1", "--no-progress"], "--out")])
def test_output_folders_are_checked_before_any_data_is_read(loads, capsys, tmp_path, command, option, place):
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me\n")
    path = blocker if place == "file" else blocker / "sub"
    others = {"--cache": tmp_path / "cache", "--out": tmp_path / "out", "--results": tmp_path / "results"}
    extra = [x for o, p in others.items() if o != option and (o != "--results" or "reproduce" in command)
             and (o != "--out" or command[0] != "train") for x in (o, str(p))]
    line = one_line_error(*run_cli(capsys, [*command, *extra, option, str(path)]))
    says = "is a file, not a folder" if place == "file" else f"cannot be written ({blocker} is a file)"
    assert line.startswith(f"ctrviz: error: {option} {path} {says}"), line
    assert loads == [] and blocker.read_text() == "keep me\n"       # no data read, nothing written
    assert not any(p.exists() for o, p in others.items() if o != option)


def test_trainer_checks_its_checkpoint_dir_before_the_first_step(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    data = make_synthetic(SyntheticConfig(n_rows=1000, seed=0))
    model = create("lr", data.schema)
    steps = []
    model.register_forward_hook(lambda *_: steps.append(1))
    with pytest.raises(ValueError, match=r"TrainConfig.checkpoint_dir .*a-file is a file, not a folder"):
        Trainer(TrainConfig(epochs=1, progress=False, checkpoint_dir=str(blocker))).fit(model, data)
    assert steps == []


def test_cache_folder_from_the_environment_is_named(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("CTRVIZ_CACHE", str(blocker))
    with pytest.raises(ValueError, match=r"^\$CTRVIZ_CACHE .*a-file is a file, not a folder; pass a folder$"):
        cache_dir()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a folder without write permission")
def test_a_folder_without_write_permission_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="no write permission"):
            writable_dir(locked / "ck", "--checkpoint-dir")
    finally:
        locked.chmod(0o700)


# ------------------------------------------------------------------ the inference path checks its input (class 4)

SCHEMA = Schema((Field("user", "sparse", vocab_size=5), Field("item", "sparse", vocab_size=10),
                 Field("price", "dense"), Field("hist", "sequence", vocab="item", vocab_size=10, max_len=4)))


def rows(n: int = 6, **change) -> Batch:
    """``n`` valid rows for SCHEMA, with ``change`` replacing a part (sparse, dense, seqs, label)."""
    g = torch.Generator().manual_seed(0)
    users, items = torch.randint(1, 5, (n,), generator=g), torch.randint(1, 10, (n,), generator=g)
    parts = {"sparse": torch.stack([users, items], 1),
             "dense": torch.rand(n, 1, generator=g), "seqs": {"hist": torch.randint(0, 10, (n, 4), generator=g)},
             "label": (torch.arange(n) % 2).float()}
    parts.update(change)
    return Batch(parts["sparse"], parts["dense"], parts["seqs"], parts["label"])


BAD_BATCHES = {
    "user id past its vocabulary": (lambda: rows(sparse=torch.tensor([[7, 2]] * 6)),
                                    "field 'user': ids must lie in [1, 4], got range [7, 7]"),
    "negative id": (lambda: rows(sparse=torch.tensor([[-1, 2]] * 6)), "field 'user': ids must lie in [1, 4]"),
    "one sparse column for two fields": (lambda: rows(sparse=torch.ones(6, 1, dtype=torch.int64)),
                                         "Batch.sparse has 1 columns, schema has 2 sparse fields"),
    "sequence too short": (lambda: rows(seqs={"hist": torch.ones(6, 3, dtype=torch.int64)}),
                           "Batch.seqs['hist'] has length 3, schema max_len is 4"),
    "sequence misnamed": (lambda: rows(seqs={"history": torch.ones(6, 4, dtype=torch.int64)}),
                          "Batch.seqs has ['history'], schema expects ['hist']"),
    "dense column missing": (lambda: rows(dense=torch.zeros(6, 0)), "Batch.dense has 0 columns"),
    "int64 labels": (lambda: rows(label=torch.tensor([0, 1] * 3)), "Batch.label must be a float tensor"),
    "float ids": (lambda: rows(sparse=torch.ones(6, 2)), "field 'user': ids must be int64"),
}


@pytest.mark.parametrize("case", list(BAD_BATCHES))
def test_predict_and_evaluate_check_user_batches_against_the_schema(case):
    make, says = BAD_BATCHES[case]
    model = create("dnn", SCHEMA)
    for call, where in ((predict, "predict"), (evaluate_model, "predict")):
        with pytest.raises(ValueError, match="does not fit the model's schema") as err:
            call(model, make())
        assert str(err.value).startswith(f"{where}: batch does not fit") and says in str(err.value), str(err.value)
    assert predict(model, rows()).shape == (6,)                  # the valid rows still predict


def test_trainer_checks_the_data_against_the_model_schema_and_names_an_empty_split():
    bigger = Schema((Field("user", "sparse", vocab_size=50), *SCHEMA.fields[1:]))
    ids = torch.stack([torch.arange(40) + 1, torch.arange(40) % 9 + 1], 1)      # user ids up to 40
    split = Batch(ids, torch.rand(40, 1), {"hist": torch.zeros(40, 4, dtype=torch.int64)},
                  (torch.arange(40) % 2).float())
    data = CTRData("other", bigger, split, split, split)
    with pytest.raises(ValueError, match=r"Trainer.fit: data.train does not fit the model's schema: field 'user'"):
        Trainer(TrainConfig(epochs=1, progress=False)).fit(create("dnn", SCHEMA), data)
    empty = CTRData("tiny", SCHEMA, rows(), rows()[:0], rows())
    with pytest.raises(ValueError, match=r"^data.valid has no rows; training needs both"):
        Trainer(TrainConfig(epochs=1, progress=False)).fit(create("dnn", SCHEMA), empty)


# ------------------------------------------------------------------ messages a user can act on (class 6)

CRITEO = Path(__file__).parent / "fixtures" / "criteo" / "train.txt"


def test_a_gzip_file_is_read_as_the_text_inside(tmp_path):
    gz = tmp_path / "train.txt.gz"
    gz.write_bytes(gzip.compress(CRITEO.read_bytes()))
    plain = read_criteo(CRITEO, cache=tmp_path / "a")
    packed = read_criteo(gz, cache=tmp_path / "b")
    pd.testing.assert_frame_equal(plain, packed)


def test_a_folder_where_a_file_belongs_is_called_a_folder(tmp_path):
    folder = tmp_path / "train.txt"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"train.txt: is a folder, not a file; expected"):
        read_criteo(folder, cache=tmp_path / "cache")
    (tmp_path / "ml" / "u.data").mkdir(parents=True)                   # a GroupLens folder whose u.data is a folder
    with pytest.raises(ValueError, match=r"u.data: is a folder, not a file; expected a MovieLens 100K file"):
        read_movielens_raw(tmp_path / "ml")


def test_seed_out_of_range_names_the_option(capsys, loads):
    for seed in ("18446744073709551616", "-1", "2.5"):
        with pytest.raises(SystemExit) as exit_:
            cli.main([*TRAIN, "--seed", seed])
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and err.startswith("ctrviz: error: argument --seed: "), err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert loads == []
    with pytest.raises(ValueError, match=r"TrainConfig.seed must be < 2\^63"):
        TrainConfig(seed=2**64)


def test_ctrl_c_is_one_line_and_exit_130(capsys, monkeypatch, loads):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("ctrviz.experiments.run_model", interrupted)
    code = cli.main([*TRAIN, "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 130 and err.strip().splitlines() == [
        "ctrviz: interrupted (Ctrl-C); train stopped, nothing half-written was kept"], err


# ------------------------------------------------------------------ real files that dead-end (class 7)

def _criteo_env(monkeypatch, text: str, folder: Path, name: str = "train.txt") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    monkeypatch.setenv("CTRVIZ_CRITEO_TXT", str(path))
    return path


def test_min_count_reaches_the_reader_from_the_command_line(monkeypatch, capsys, tmp_path):
    cache = tmp_path / "cache"
    train = ["train", "--model", "lr", "--data", "criteo", "--epochs", "1", "--no-progress", "--cache", str(cache)]
    _criteo_env(monkeypatch, CRITEO.read_text(), tmp_path / "small")                 # 12 rows: ids too rare
    line = one_line_error(*run_cli(capsys, train))
    assert "occurs min_count=10 times" in line and "--min-count N" in line, line
    _criteo_env(monkeypatch, CRITEO.read_text() * 10, tmp_path)              # 120 rows: every split has both labels
    line = one_line_error(*run_cli(capsys, [*train, "--min-count", "500"]))
    assert "occurs min_count=500 times" in line, line                        # the flag reaches the reader
    code, err = run_cli(capsys, [*train, "--min-count", "1", "--batch-size", "16", "--json"])
    assert code == 0, err
    line = one_line_error(*run_cli(capsys, ["reproduce", "can-table2", "--data", "synthetic", "--quick",
                                            "--min-count", "2", "--cache", str(cache), "--out", str(tmp_path / "o")]))
    assert "min_count does not apply to synthetic" in line and "criteo" in line, line
    with pytest.raises(SystemExit):
        cli.main(["train", "--model", "lr", "--data", "criteo", "--min-count", "0"])
    assert "argument --min-count: must be > 0" in capsys.readouterr().err


def test_the_csv_variant_of_the_criteo_sample_gets_the_command_that_converts_it(monkeypatch, capsys, tmp_path):
    header = ",".join(["label", *(f"I{k}" for k in range(1, 14)), *(f"C{k}" for k in range(1, 27))])
    rows = [line.split("\t") for line in CRITEO.read_text().splitlines()]
    body = [",".join([r[0], *(f"{v}.0" if v else "" for v in r[1:14]), *r[14:]]) for r in rows]
    csv = _criteo_env(monkeypatch, "\n".join([header, *body]) + "\n", tmp_path, "criteo_sample.csv")
    cache = tmp_path / "cache"
    line = one_line_error(*run_cli(capsys, ["train", "--model", "lr", "--data", "criteo", "--no-progress",
                                            "--cache", str(cache), "--min-count", "1"]))
    assert "line 1 is a CSV header" in line and "Convert it with: " in line, line
    command = line.split("Convert it with: ")[1].split(" and pass that file")[0]
    assert subprocess.run(command, shell=True, check=False).returncode == 0
    converted = csv.with_name("train.txt")
    pd.testing.assert_frame_equal(read_criteo(converted, cache=tmp_path / "a"),
                                  read_criteo(CRITEO, cache=tmp_path / "b"))


# ------------------------------------------------------------------ nothing left behind on error (class 3)

@pytest.mark.parametrize("content", ["", "\n\n\n"])
def test_an_input_without_data_rows_writes_nothing(monkeypatch, capsys, tmp_path, content):
    path = _criteo_env(monkeypatch, content, tmp_path / "in")
    cache = tmp_path / "cache"
    line = one_line_error(*run_cli(capsys, ["train", "--model", "lr", "--data", "criteo", "--no-progress",
                                            "--cache", str(cache), "--min-count", "1"]))
    assert line.startswith(f"ctrviz: error: {path}: ") and ("no data rows" in line or "line 1" in line), line
    assert not [p for p in cache.rglob("*") if p.is_file()]                # no parquet, no temp file


def test_a_load_whose_train_split_comes_out_empty_writes_nothing(tmp_path):
    two = tmp_path / "two.txt"
    two.write_text("".join(CRITEO.read_text().splitlines(keepends=True)[:2]))
    with pytest.raises(ValueError, match=r"the criteo train split is empty \(2 rows"):
        load_criteo(two, min_count=1, valid_fraction=0.45, test_fraction=0.45, cache=tmp_path / "cache")
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_a_killed_cache_build_leaves_a_temp_file_that_the_next_run_removes(tmp_path, capsys):
    big = tmp_path / "train.txt"
    big.write_text(CRITEO.read_text() * 20_000)                          # 240,000 rows: parsing takes seconds
    cache = tmp_path / "cache"
    code = f"from ctrviz.data.criteo import read_criteo; read_criteo({str(big)!r}, cache={str(cache)!r}, chunksize=500)"
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 300                               # generous: a loaded machine starts slowly
        while not list((cache / "criteo").glob(".*.tmp")) and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        child.kill()                                                      # kill -9 in the middle of the build
    finally:
        child.wait()
    left = list((cache / "criteo").glob(".*.tmp"))
    assert len(left) == 1 and not list((cache / "criteo").glob("*.parquet")), "the build finished before the kill"
    mine = cache / "runs" / f"{temp_prefix('x.json')}live.tmp"          # a live writer's temp file (this process)
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"still being written")
    assert orphaned_temp_files(cache, recursive=True) == left
    assert cli.main(["cache", "clean", "--cache", str(cache)]) == 0
    out = capsys.readouterr().out
    assert f"removed {left[0]}" in out and "1 temp file(s) of killed runs removed" in out, out
    assert not left[0].exists() and mine.exists()                        # the orphan goes, the live one stays
    small = tmp_path / "small.txt"
    small.write_text(CRITEO.read_text())
    orphan = cache / "criteo" / ".small.txt-0.parquet.999999999.zz.tmp"   # a killed build's file, for cached_parquet
    orphan.write_bytes(b"half")
    read_criteo(small, cache=cache)
    assert not orphan.exists()                                           # the next build in that folder removes it


# ------------------------------------------------------------------ AOANet resumes whichever stage was interrupted (5)

@pytest.mark.parametrize("killed_at", [2, 3, 4], ids=["selection epoch 2", "re-train epoch 1", "re-train epoch 2"])
def test_aoanet_resumes_the_stage_it_was_interrupted_in(tmp_path, monkeypatch, killed_at):
    data = make_synthetic(SyntheticConfig(n_rows=2000, seed=0))
    config = {"layers": 1, "subspaces": 2, "hidden": (16,), "ratio": 0.3}

    def train(folder: str, resume: bool = False) -> dict:
        tc = TrainConfig(epochs=2, patience=0, batch_size=256, progress=False, checkpoint_dir=str(tmp_path / folder),
                         resume=resume)
        return run_model("aoanet", data, tc, config)[0]

    whole = train("whole")
    real, calls = Trainer._train_epoch, []

    def dies(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == killed_at:                                      # epochs: 2 of the selection, then 2 more
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)
    monkeypatch.setattr(Trainer, "_train_epoch", dies)
    with pytest.raises(KeyboardInterrupt):
        train("cut")
    monkeypatch.setattr(Trainer, "_train_epoch", real)
    resumed = train("cut", resume=True)
    for key in ("auc", "logloss", "selection_auc", "kept_fraction"):
        assert resumed[key] == whole[key], key                          # bit-equal to the uninterrupted run


@pytest.mark.parametrize("first, later", [((1, 7, "260.0"), (2, 1, "x")), ((1, 30, "zz"), (2, 2, "1.5")),
                                          ((0, 0, "2"), (3, 5, "y"))])
def test_criteo_reports_the_first_bad_line_whatever_column_it_is_in(tmp_path, first, later):
    rows = [line.split("\t") for line in CRITEO.read_text().splitlines()]
    for row, col, value in (first, later):                               # (row, column, value), 0-based
        rows[row][col] = value
    path = tmp_path / "train.txt"
    path.write_text("\n".join("\t".join(r) for r in rows) + "\n")
    with pytest.raises(ValueError, match=rf"train.txt: line {first[0] + 1}: expected .*got '{re.escape(first[2])}'"):
        read_criteo(path, cache=tmp_path / "cache")


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied", "/data/train.txt"),
                                   OSError(28, "No space left on device", "/cache/x.parquet"),
                                   FileNotFoundError(2, "No such file or directory", "/data/u.data")])
def test_os_errors_on_the_users_files_are_one_line(capsys, monkeypatch, loads, error):
    def fails(*args, **kwargs):
        raise error
    monkeypatch.setattr("ctrviz.data.load_dataset", fails)
    line = one_line_error(*run_cli(capsys, [*TRAIN, "--epochs", "1"]))
    assert line == f"ctrviz: error: {error.strerror}: {error.filename}"


def test_a_bug_still_shows_its_traceback(monkeypatch, loads):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("a bug, not a user error")
    monkeypatch.setattr("ctrviz.experiments.run_model", bug)
    with pytest.raises(ZeroDivisionError):
        cli.main([*TRAIN, "--epochs", "1"])
