"""ctrviz.distributed: two CPU ranks (gloo) train like one process, the torchrun CLI, and setup errors."""

from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

import ctrviz.train as train_mod
from ctrviz import distributed
from ctrviz.data.batch import CTRData
from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
from ctrviz.experiments import run_model
from ctrviz.train import TrainConfig

WORLD = 2
DNN = {"hidden": (16, 8), "dropout": 0.0}  # no dropout, no BatchNorm: one process and two must agree
# Two ranks average two half-batch mean gradients where one process takes one full-batch mean: the same sum in
# another order, so float32 rounding (~1e-7 relative) differs per step and Adam carries it through 16 steps.
# Observed max |Δw| ≈ 4e-7; 1e-5 leaves a 20× margin and is still far below what one wrong row would change.
ATOL = 1e-5
ENV = {"OMP_NUM_THREADS": "1"}  # 2 ranks on a small shared machine (DEVELOPERS.md)


@functools.cache
def data() -> CTRData:
    """1401 training rows at batch 200: 7 global batches of 200 (100 rows per rank) and a last one of 1 row,
    of which rank 0's share is empty (it runs the batch at loss weight 0)."""
    d = make_synthetic(SyntheticConfig(n_rows=2000, seed=0))
    return CTRData(d.name, d.schema, d.train[:1401], d.valid, d.test, d.info)


def config(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(epochs=2, batch_size=200, lr=0.01, patience=0, device="cpu", progress=False,
                                 seed=3), **kw})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, port: int, out: Path, embedding: str = "dense") -> None:
    """One rank, as torchrun would start it; writes what it saw to out/rank{rank}.pt."""
    os.environ.update(ENV, WORLD_SIZE=str(WORLD), RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    saves, save = [], train_mod.atomic_torch_save
    train_mod.atomic_torch_save = lambda obj, path: saves.append(str(path)) or save(obj, path)
    shares, shard = [], distributed.shard
    distributed.shard = lambda b: shares.append((len(b), shard(b)[1])) or shard(b)  # (global rows, own rows)
    with distributed.process_group("cpu") as launched:
        with pytest.raises(ValueError, match="already initialized"):
            distributed.init("cpu")
        assert distributed.mean(rank) == 0.5 and distributed.active() and distributed.is_main() == (rank == 0)
        # every rank raises before the first collective, so none waits for the others
        with pytest.raises(ValueError, match="batch_size=199 is not divisible by the world size 2"):
            run_model("dnn", data(), config(batch_size=199), DNN)
        shares.clear()
        row, res = run_model("dnn", data(), config(checkpoint_dir=str(out / "ckpt"), embedding_optimizer=embedding),
                             DNN)
        torch.save({"launched": launched, "rank": distributed.rank(), "world": distributed.world_size(),
                    "state": res.model.state_dict(), "valid": res.valid, "test": res.test, "saves": saves,
                    "shares": shares,
                    "history": res.history.drop(columns=["seconds", "samples_per_s"]).to_dict("list")},
                   out / f"rank{rank}.pt")
    assert not distributed.active()  # the group is gone


@pytest.mark.parametrize("embedding", ["dense", "lazy_adam"])
def test_two_ranks_train_like_one_process(tmp_path, monkeypatch, embedding):
    """Dense Adam, and row-wise updates of the embedding table (sparse gradients, all-reduced by DDP)."""
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    # fork: the ranks inherit the imported modules (torch, ctrviz), which saves seconds per rank
    ranks = mp.start_processes(_rank_main, args=(_free_port(), tmp_path, embedding), nprocs=WORLD, join=False,
                               start_method="fork")
    deadline = time.monotonic() + 180
    while not ranks.join(timeout=1):  # raises if a rank failed (and stops the other)
        if time.monotonic() > deadline:
            for p in ranks.processes:
                p.kill()
            pytest.fail("the two ranks did not finish within 180 s")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD))
    assert (r0["launched"], r0["rank"], r0["world"], r1["rank"]) == (True, 0, 2, 1)
    # each rank trained on its half of every global batch: 7 × 200 rows, then 1 row that only rank 1 gets
    assert r0["shares"] == [(200, 100)] * 7 + [(1, 0)] + [(200, 100)] * 7 + [(1, 0)]
    assert r1["shares"] == [(200, 100)] * 7 + [(1, 1)] + [(200, 100)] * 7 + [(1, 1)]
    # every rank ends with the same weights and the same metrics (so the same early-stopping decisions)
    assert r0["valid"] == r1["valid"] and r0["test"] == r1["test"] and r0["history"] == r1["history"]
    assert all(torch.equal(r0["state"][k], r1["state"][k]) for k in r0["state"])
    # only rank 0 wrote the checkpoint, once per epoch, atomically (no temp file left)
    assert r0["saves"] == [str(tmp_path / "ckpt" / "last.pt")] * 2 and r1["saves"] == []
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["last.pt"]
    ck = torch.load(tmp_path / "ckpt" / "last.pt", weights_only=True)
    assert ck["epoch"] == 2 and all(torch.equal(ck["model"][k], r0["state"][k]) for k in r0["state"])

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _, one = run_model("dnn", data(), config(embedding_optimizer=embedding), DNN)  # same seed and batches, 1 rank
    finally:
        torch.set_num_threads(threads)
    ref = one.model.state_dict()
    diff = max(float((r0["state"][k] - ref[k]).abs().max()) for k in ref if ref[k].numel())
    assert diff <= ATOL, diff
    assert all(torch.allclose(r0["state"][k], ref[k], rtol=0, atol=ATOL) for k in ref)
    for split, got in (("valid", one.valid), ("test", one.test)):
        assert r0[split] == pytest.approx(got, abs=ATOL), split
    assert r0["history"]["train_loss"] == pytest.approx(one.history["train_loss"].tolist(), abs=ATOL)


def test_torchrun_cli_prints_one_json_object(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "ctrviz",
           "train", "--model", "lr", "--data", "synthetic", "--epochs", "1", "--json", "--no-progress",
           "--checkpoint-dir", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **ENV}, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout  # rank 0 only
    row = json.loads(lines[0])
    assert row["world_size"] == 2 and row["model"] == "lr" and row["epochs"] == 1
    assert 0.6 < row["auc"] <= row["oracle_auc"]
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


TORCHRUN = {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


@pytest.mark.parametrize("change, match", [
    ({"RANK": None}, "WORLD_SIZE is set but RANK is not; launch with `torchrun"),
    ({"MASTER_ADDR": None, "MASTER_PORT": None}, "MASTER_ADDR, MASTER_PORT are not"),
    ({"WORLD_SIZE": "two"}, "WORLD_SIZE must be an integer, got 'two'"),
    ({"RANK": "2"}, r"0 <= LOCAL_RANK <= RANK < WORLD_SIZE, got WORLD_SIZE=2, RANK=2"),
    ({"LOCAL_RANK": "-1"}, "LOCAL_RANK=-1"),
])
def test_launch_env_errors(change, match):
    env = {k: v for k, v in {**TORCHRUN, **change}.items() if v is not None}
    with pytest.raises(ValueError, match=match):
        distributed.launch_env(env)


def test_launch_env_and_no_torchrun():
    assert distributed.launch_env(TORCHRUN) == distributed.LaunchEnv(2, 1, 1, "127.0.0.1", 29500)
    assert distributed.launch_env({"PATH": "/bin"}) is None


def test_init_errors_before_any_group_starts(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with pytest.raises(ValueError, match="needs torchrun's environment .*torchrun --nproc_per_node=N"):
        distributed.init("cpu")
    with distributed.process_group("cpu") as launched:  # plain process: nothing to start or destroy
        assert launched is False and distributed.is_main() and not distributed.active()
    for k, v in TORCHRUN.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValueError, match="backend 'nccl' moves only CUDA tensors"):
        distributed.init("cpu", backend="nccl")
    with pytest.raises(ValueError, match="backend must be 'gloo', 'nccl' or None"):
        distributed.init("cpu", backend="mpi")
    assert not torch.distributed.is_initialized()


def test_check_setup_errors():
    cpu = torch.device("cpu")
    assert distributed.check_setup(cpu, 1024, world=4, backend="gloo") == cpu
    with pytest.raises(ValueError, match=r"batch_size=1000 is not divisible by the world size 3.*999 or 1002"):
        distributed.check_setup(cpu, 1000, world=3, backend="gloo")
    with pytest.raises(ValueError, match=r"batch_size=1 .* use a multiple of 2, e\.g\. 2$"):
        distributed.check_setup(cpu, 1, world=2, backend="gloo")
    with pytest.raises(ValueError, match="process group uses nccl .* TrainConfig.device is cpu"):
        distributed.check_setup(cpu, 1024, world=2, backend="nccl")


@pytest.mark.parametrize("m", [1, 2, 7, 200])
def test_shards_cover_the_batch_and_weights_give_its_mean(m):
    """Σ_r weight_r · mean_r / W equals the mean over the m rows (what DDP's averaged gradient sees)."""
    b = data().train[:m]
    loss = b.label + torch.arange(m) / 10  # a per-row "loss" with distinct values
    parts = [distributed.shard(b, r, WORLD) for r in range(WORLD)]
    rows = [distributed.bounds(m, r, WORLD) for r in range(WORLD)]
    assert sum(n for _, n in parts) == m and rows[0][0] == 0 and rows[-1][1] == m
    assert all(rows[r][1] == rows[r + 1][0] for r in range(WORLD - 1))  # contiguous, in rank order
    total = sum(n * WORLD / m * (loss[lo:hi].mean() if n else 0.0)
                for (_, n), (lo, hi) in zip(parts, rows, strict=True))
    assert float(total) / WORLD == pytest.approx(float(loss.mean()), abs=1e-6)
    assert all(len(s) == (n or m) for s, n in parts)  # an empty share runs the whole batch (at weight 0)
