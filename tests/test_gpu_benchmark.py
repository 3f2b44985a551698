"""benchmarks/gpu_throughput.py runs end to end on CPU (small sizes): a row per model × batch, both checks PASS.

The script is meant for a GPU; here it runs as its docstring's CPU smoke run, in a subprocess, and the test reads
the figures back from its output (not just its exit code). Its torchrun check starts ``ctrviz train`` under torchrun
on the full synthetic set, as ``tests/test_distributed.py::test_torchrun_cli_prints_one_json_object`` already does
(there with 2 ranks; 13–17 s on 2 cores), so the smoke run leaves it out, and
:func:`test_torchrun_check_reads_the_cli_output` checks the command it builds and what it makes of the output.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_throughput.py"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # 2 shared cores (DEVELOPERS.md)
MODELS, BATCHES = ("dnn", "can", "aoanet"), (256, 512)
# model, batch, samples/s, step ms, peak mem, MFLOP/sample, TFLOP/s, % of peak, target, met
ROW = re.compile(r"^(\S+)\s+(\d+)\s+([\d,]+)\s+([\d.]+)\s+(n/a|[\d.]+ GB)\s+([\d.]+)\s+([\d.]+)\s+(unknown|[\d.]+ %)"
                 r"\s+(>= \S+|-)\s+(\S+)\s*$")
CHECK = re.compile(r"^\s+(torchrun|resume)\s+(PASS|FAIL)\s+(.*)$")


def run(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=ENV, capture_output=True, text=True,
                          timeout=timeout)


def test_cpu_smoke_run_prints_every_row_and_passes_the_resume_check():
    done = run("--device", "cpu", "--rows", "4000", "--vocab-cap", "2000", "--batch", *map(str, BATCHES), "--steps",
               "3", "--warmup", "1", "--models", *MODELS, "--check-rows", "4000", "--checks", "resume")
    out = done.stdout
    assert done.returncode == 0, f"exit {done.returncode}\n{out}\n{done.stderr[-3000:]}"
    rows = {(m.group(1), int(m.group(2))): m for m in map(ROW.match, out.splitlines()) if m}
    assert sorted(rows) == sorted((m, b) for m in MODELS for b in BATCHES), out
    for (_, batch), m in rows.items():
        samples_per_s, step_ms = float(m.group(3).replace(",", "")), float(m.group(4))
        flops, tflops = float(m.group(6)), float(m.group(7))
        assert samples_per_s > 0 and step_ms > 0 and flops > 0 and tflops > 0, m.group(0)
        assert abs(samples_per_s * step_ms / 1e3 - batch) <= 0.01 * batch, m.group(0)   # one timing, two views
        assert m.group(5) == "n/a" and m.group(8) == "unknown" and m.group(10) == "-", m.group(0)  # CPU: unmarked
    # the model's FLOPs do not depend on the batch size; AOANet (a GIN) does several times DNN's matrix work
    for model in MODELS:
        assert rows[model, 256].group(6) == rows[model, 512].group(6)
    assert float(rows["aoanet", 256].group(6)) > 2 * float(rows["dnn", 256].group(6))
    checks = {m.group(1): (m.group(2), m.group(3)) for m in map(CHECK.match, out.splitlines()) if m}
    assert checks.keys() == {"resume"} and all(v[0] == "PASS" for v in checks.values()), checks
    straight, resumed = re.search(r"straight (\S+) vs 1 epoch \+ resume to 2 (\S+):", checks["resume"][1]).groups()
    assert straight == resumed and "max |Δweight| 0 " in checks["resume"][1]
    assert "target dnn: >= 20M samples/s on one H100" in out and "not marked: not a CUDA device" in out
    assert "FAILED" not in out


def test_compile_with_a_row_wise_embedding_optimizer_is_a_clear_error():
    done = run("--device", "cpu", "--compile", "--no-checks", timeout=120)
    assert done.returncode == 2
    assert "--compile needs --embedding-optimizer dense" in done.stderr


@pytest.mark.parametrize("stdout, rc, passed, says", [
    ('progress\n{"auc": 0.77, "world_size": 1, "device": "cpu"}\n', 0, True, "world_size 1 (want 1), test AUC 0.77"),
    ('{"auc": 0.77, "world_size": 2}\n', 0, False, "world_size 2 (want 1)"),
    ('{"auc": 0.4, "world_size": 1}\n', 0, False, "test AUC 0.4"),
    ('{"auc": 0.77, "world_size": 1}\n{"auc": 0.77, "world_size": 1}\n', 0, False, "2 JSON object(s)"),
    ("", 1, False, "exited 1 with 0 JSON object(s)"),
])
def test_torchrun_check_reads_the_cli_output(monkeypatch, stdout, rc, passed, says):
    spec = importlib.util.spec_from_file_location("gpu_throughput", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    ran = []

    def fake_run(cmd, **kw):
        ran.append(cmd)
        return subprocess.CompletedProcess(cmd, rc, stdout, "boom")
    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    ok, what = bench.check_torchrun(torch.device("cpu"))
    assert ok is passed and says in what, what
    assert ran[0][1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]
    assert ran[0][5:] == ["-m", "ctrviz", "train", "--model", "dnn", "--data", "synthetic", "--epochs", "1",
                          "--device", "cpu", "--json", "--no-progress"]
    json.dumps(what)                                        # the text goes into --json as is
