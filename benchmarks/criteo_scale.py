"""Criteo-size data on one machine: first build, cached load and one DeepFM epoch, each with its peak RSS (issue 14).

For every ``--rows`` size: write a Criteo-format file with ``benchmarks/criteo_file.py`` (unless ``--keep`` finds
it), then run three fresh processes under ``/usr/bin/time -v`` and read their "Maximum resident set size":

1. **build** — ``load_criteo(path, cache=<empty folder>)``: parse the text into the parquet cache and encode it
   into the encoded cache (int32 ids, memory-mapped later); rows/s = rows / seconds of the call;
2. **load** — the same call again: the cached load maps the arrays (no parsing, no encoding);
3. **epoch** — the cached load, then one epoch of DeepFM (``TrainConfig(epochs=1, batch_size=4096,
   embedding_optimizer="lazy_adam")``, the documented setting for large vocabularies), validation and test
   included; samples/s = train rows / training seconds of the epoch.

The peak RSS counts the mapped pages a process touched (the ids file is read whole during an epoch), so it is the
honest figure for "fits in memory". Run alone on an idle machine (``--threads`` = cores)::

    .venv/bin/python benchmarks/criteo_scale.py --rows 5000000 20000000 --dir /tmp/criteo-scale
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

STEP = r"""
import json, sys, time
import torch
from ctrviz.data.criteo import load_criteo
torch.set_num_threads({threads})
t0 = time.perf_counter()
data = load_criteo({path!r}, cache={cache!r}, min_count=10)
out = {{"load_s": time.perf_counter() - t0, "rows": sum(data.info["sizes"].values()),
        "ids": sum(len(v) for v in data.info["encoder"].vocabs.values()), "dtype": str(data.train.sparse.dtype)}}
if {epoch}:
    from ctrviz.models import create
    from ctrviz.train import TrainConfig, Trainer
    from ctrviz.utils import seed_everything
    seed_everything(0)
    model = create("deepfm", data.schema)
    cfg = TrainConfig(epochs=1, batch_size=4096, embedding_optimizer="lazy_adam", progress=False, patience=0,
                      amp=False)
    t1 = time.perf_counter()
    res = Trainer(cfg).fit(model, data)
    h = res.history.iloc[0]
    out.update(fit_s=time.perf_counter() - t1, samples_per_s=float(h["samples_per_s"]),
               valid_auc=float(h["valid_auc"]), params=sum(p.numel() for p in model.parameters()))
print("RESULT " + json.dumps(out))
"""


def run_step(path: Path, cache: Path, threads: int, epoch: bool) -> dict[str, object]:
    """One fresh process under ``/usr/bin/time -v``: its RESULT JSON plus ``peak_rss_gb`` and ``wall_s``."""
    code = STEP.format(path=str(path), cache=str(cache), threads=threads, epoch=epoch)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       cwd=HERE.parent)
    wall = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(f"step failed ({p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    out = json.loads(next(ln for ln in p.stdout.splitlines() if ln.startswith("RESULT "))[7:])
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    return {**out, "peak_rss_gb": rss_kb / 1e6, "wall_s": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    p.add_argument("--dir", default="/tmp/criteo-scale", help="folder for the files and caches")
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--steps", nargs="+", default=["build", "load", "epoch"], choices=["build", "load", "epoch"])
    p.add_argument("--keep", action="store_true", help="reuse a generated file of that size if present")
    a = p.parse_args()
    root = Path(a.dir)
    root.mkdir(parents=True, exist_ok=True)
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, threads {a.threads}")
    for rows in a.rows:
        src = root / f"criteo-{rows}.txt"
        if not (a.keep and src.is_file()):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, str(HERE / "criteo_file.py"), str(src), "--rows", str(rows)], check=True)
            print(f"generated {rows:,} rows in {time.perf_counter() - t0:.0f} s ({src.stat().st_size / 1e9:.2f} GB)")
        cache = root / f"cache-{rows}"
        if "build" in a.steps:
            shutil.rmtree(cache, ignore_errors=True)
        for step in a.steps:
            r = run_step(src, cache, a.threads, epoch=step == "epoch")
            line = (f"{rows:>11,} rows  {step:<5}  load {r['load_s']:7.1f} s = {rows / r['load_s']:>11,.0f} rows/s  "
                    f"peak RSS {r['peak_rss_gb']:5.2f} GB  ({r['ids']:,} ids, {r['dtype']})")
            if step == "epoch":
                line += (f"  epoch {r['fit_s']:.0f} s, {r['samples_per_s']:,.0f} samples/s, valid AUC "
                         f"{r['valid_auc']:.4f}, {r['params']:,} parameters")
            print(line, flush=True)


if __name__ == "__main__":
    main()
