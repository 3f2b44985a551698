"""The demo alone and beside busy processes, under several OpenMP waiting policies (DEVELOPERS.md, "Running beside
other work").

Each setting is ``MODE:BUSY:THREADS``: MODE ``ctrviz`` runs ``python -m ctrviz demo …`` as a user would (ctrviz sets
its policy at import), ``torch-default`` imports torch first (so ctrviz cannot set anything: torch's own default),
``spin=N`` imports torch first with ``GOMP_SPINCOUNT=N`` in the environment, ``passive`` the same with
``OMP_WAIT_POLICY=PASSIVE``; BUSY is how many ``while True: pass`` processes run beside it; THREADS is ``--threads``
or ``-`` for the default (one per core). ``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT`` and ``OMP_NUM_THREADS`` are removed
from the demo's environment unless the mode sets them. The demo is ``ctrviz demo --epochs 1 --no-progress`` (6 models,
1 epoch each; ``--epochs`` to change). Prints the wall time of each setting.

Run (from the repository root, on an otherwise idle machine)::

    .venv/bin/python benchmarks/contention.py torch-default:0:- torch-default:2:- ctrviz:0:- ctrviz:2:-
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

RUN_AFTER_TORCH = ("import sys, torch, runpy; sys.argv = ['ctrviz'] + sys.argv[1:]; "
                   "runpy.run_module('ctrviz', run_name='__main__', alter_sys=True)")


def run(mode: str, busy: int, threads: int | None, epochs: int, out: str) -> float:
    """Seconds for one demo in ``mode`` beside ``busy`` spinning processes."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS")}
    demo = ["demo", "--epochs", str(epochs), "--no-progress", "--out", out]
    demo += ["--threads", str(threads)] if threads else []
    if mode == "ctrviz":
        cmd = [sys.executable, "-m", "ctrviz", *demo]
    elif mode == "torch-default" or mode == "passive" or mode.startswith("spin="):
        if mode == "passive":
            env["OMP_WAIT_POLICY"] = "PASSIVE"
        elif mode.startswith("spin="):
            env["GOMP_SPINCOUNT"] = mode.removeprefix("spin=")
        cmd = [sys.executable, "-c", RUN_AFTER_TORCH, *demo]
    else:
        raise SystemExit(f"unknown mode {mode!r}: ctrviz, torch-default, passive or spin=N")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0
    finally:
        for h in hogs:
            h.kill()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("settings", nargs="+", metavar="MODE:BUSY:THREADS")
    p.add_argument("--epochs", type=int, default=1)
    args = p.parse_args()
    print(f"nproc {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory() as out:
        for spec in args.settings:
            mode, busy, threads = spec.split(":")
            t = run(mode, int(busy), None if threads == "-" else int(threads), args.epochs, out)
            print(f"{mode:<14} beside {busy} busy, threads {threads}: {t:7.1f} s", flush=True)


if __name__ == "__main__":
    main()
