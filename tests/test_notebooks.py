"""The notebooks: executed and compared by nbval, and checked for git hygiene (DESIGN.md, house style 9).

- ``00_*`` … ``05_*`` (the build-up and lemma notebooks) run under strict nbval: every cell's fresh output
  must equal the stored one after ``notebooks/sanitize.cfg`` (timings, progress bars, addresses, paths,
  round-off of printed errors) — so a package change that alters what a notebook shows fails here.
- ``06_*`` … ``09_*`` (experiments; 09: your own data) run under ``--nbval-lax`` (cells must run, outputs are not
  compared) in their mid-size mode, ``CTRVIZ_MODE=mid``: the full mode's data and training with fewer seeds and grid
  points, so the findings their cells assert (the planted pairs on top, pruning beating GIN) are tested. One
  fresh result cache serves the four, as it would a reader running them in order (09 downloads MovieLens-100k
  into it from PyPI).
- Every cell runs, the collapsed exercise solutions included: each asserts its answer.
- Every ``notebooks/*.ipynb`` must be clean: valid nbformat, no widget state or editor metadata, small
  embedded images, one header style (a first markdown cell ``# NN · title`` saying what it teaches, the paper
  sections and how long it runs on CPU), a first code cell that prints the versions used, and — from 02 on —
  2–4 exercises whose solutions sit in collapsed cells tagged ``solution``.

nbval runs in a subprocess with ``OMP_NUM_THREADS=1`` (the thread count changes float summation order;
the stored outputs were made with one thread by ``notebooks/clean.py``) and without ``MPLBACKEND``, which
the kernels would inherit and lose their inline figures. Regenerate a notebook's outputs with
``python notebooks/clean.py notebooks/NN_name.ipynb``.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SANITIZE = NOTEBOOKS / "sanitize.cfg"
BUILD_UP = sorted(NOTEBOOKS.glob("0[0-5]_*.ipynb"))
EXPERIMENTS = sorted(NOTEBOOKS.glob("0[6-9]_*.ipynb"))
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))

MAX_FILE_BYTES = 1_500_000
MAX_IMAGE_BYTES = 300_000
NOISY_CELL_METADATA = {"collapsed", "scrolled", "ExecuteTime", "execution"}
NOTEBOOK_METADATA = {"kernelspec", "language_info"}
TIMEOUT_S = 1800
HEADER_PARTS = ("**What this notebook teaches.**", "**Paper.**")


def _nbval(notebooks: list[Path], mode: str, **env_extra: str) -> None:
    """Run pytest's nbval plugin on ``notebooks`` in a subprocess; fail with its output unless it exits 0."""
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env = {k: v for k, v in env.items() if k not in ("CTRVIZ_MODE", "CTRVIZ_QUICK")}
    env.update(OMP_NUM_THREADS="1", PYTHONHASHSEED="0", **env_extra)
    cmd = [sys.executable, "-m", "pytest", mode, "--nbval-current-env", "-p", "no:cacheprovider",
           "--nbval-sanitize-with", str(SANITIZE.relative_to(ROOT)), "-q", "-o", "addopts=",
           *(str(p.relative_to(ROOT)) for p in notebooks)]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, (
        f"`{' '.join(cmd[1:])}` exited {done.returncode}. If a change to ctrviz is meant to change what a "
        "notebook shows, re-run `python notebooks/clean.py <notebook>` and review the diff.\n"
        f"--- stdout ---\n{done.stdout[-30_000:]}\n--- stderr ---\n{done.stderr[-5_000:]}")


@pytest.mark.slow
def test_build_up_notebooks_reproduce_their_outputs() -> None:
    assert BUILD_UP, f"no notebooks/00_*.ipynb … 05_*.ipynb found in {NOTEBOOKS}"
    _nbval(BUILD_UP, "--nbval")


@pytest.mark.slow
def test_experiment_notebooks_run_mid(tmp_path: Path) -> None:
    assert EXPERIMENTS, f"no notebooks/06_*.ipynb … 09_*.ipynb found in {NOTEBOOKS}"
    _nbval(EXPERIMENTS, "--nbval-lax", CTRVIZ_MODE="mid", CTRVIZ_CACHE=str(tmp_path))


def _image_bytes(data: object) -> int:
    text = "".join(data) if isinstance(data, list) else str(data)
    try:
        return len(base64.b64decode(text, validate=False))
    except ValueError:
        return len(text.encode())


@pytest.mark.parametrize("path", ALL, ids=[p.name for p in ALL])
def test_notebook_is_clean(path: Path) -> None:
    size = path.stat().st_size
    assert size < MAX_FILE_BYTES, f"{path.name}: {size:,} bytes; keep notebooks under {MAX_FILE_BYTES:,}"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata, f"{path.name}: widget state in the metadata; run notebooks/clean.py"
    extra = set(nb.metadata) - NOTEBOOK_METADATA
    assert not extra, f"{path.name}: notebook metadata {sorted(extra)}; run notebooks/clean.py --no-execute"
    assert nb.cells, f"{path.name}: no cells"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "CPU" in first.source, (
        f"{path.name}: the first cell must be markdown saying what the notebook teaches, the paper sections, "
        "and how long it runs on CPU and on a GPU")
    number = path.name[:2]
    assert first.source.startswith(f"# {number} · "), f"{path.name}: the first line must be '# {number} · title'"
    for part in HEADER_PARTS:
        assert part in first.source, f"{path.name}: the first cell has no {part!r} paragraph (one header style)"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and "versions()" in code[0].source, (
        f"{path.name}: the first code cell must print the versions used (ctrviz.utils.versions)")
    solutions = [k for k, c in enumerate(nb.cells) if "solution" in c.metadata.get("tags", [])]
    if number >= "02":
        assert 2 <= len(solutions) <= 4, f"{path.name}: {len(solutions)} exercise solutions; 2–4 expected"
        heading = [k for k, c in enumerate(nb.cells) if c.cell_type == "markdown" and "## Exercises" in c.source]
        assert heading and heading[0] < solutions[0], f"{path.name}: no '## Exercises' cell before the solutions"
    for k in solutions:
        cell = nb.cells[k]
        assert cell.cell_type == "code" and cell.metadata.get("jupyter", {}).get("source_hidden") is True, (
            f"{path.name}, cell {k}: a solution must be a collapsed code cell (jupyter.source_hidden)")
        assert "assert" in cell.source, f"{path.name}, cell {k}: a solution must assert its answer"
    for k, cell in enumerate(nb.cells):
        noisy = NOISY_CELL_METADATA & set(cell.metadata)
        assert not noisy, f"{path.name}, cell {k}: metadata {sorted(noisy)}; run notebooks/clean.py --no-execute"
        if cell.cell_type != "code":
            continue
        if cell.outputs:
            assert cell.execution_count is not None, (
                f"{path.name}, cell {k}: outputs without an execution count (nbval refuses such cells)")
        for out in cell.outputs:
            for mime, data in out.get("data", {}).items():
                assert mime != "application/vnd.jupyter.widget-view+json", f"{path.name}, cell {k}: a widget view"
                if mime.startswith("image/"):
                    n = _image_bytes(data)
                    assert n < MAX_IMAGE_BYTES, (f"{path.name}, cell {k}: a {mime} of {n:,} bytes; lower the dpi "
                                                 f"or the figure size (limit {MAX_IMAGE_BYTES:,})")
