"""Committed outputs reproduce: re-run an experiment notebook and compare its key numbers (issue 11, part 8).

Usage::

    python notebooks/check_outputs.py notebooks/06_architecture_adaptation.ipynb
    python notebooks/check_outputs.py notebooks/0[678]_*.ipynb --tolerance 0.002
    python notebooks/check_outputs.py notebooks/07_can_ablations.ipynb --cache ~/.cache/ctrviz   # reads runs back

The experiment notebooks (``06_*`` … ``09_*``) train many models, so nbval does not compare their outputs
cell by cell (``tests/test_notebooks.py`` runs them in a small mode). Instead each one ends with a cell that
prints one line ``key numbers: {json}`` — the AUCs, counts and ranks its findings rest on. This script reads
that line from the committed outputs, executes a copy of the notebook in memory (the committed file is never
written) in a fresh kernel of this Python via ``notebooks/clean.py``'s ``execute``, with
``CTRVIZ_MODE=--mode`` (default ``full``, the mode the committed outputs come from), ``OMP_NUM_THREADS=1``,
``PYTHONHASHSEED=0``, no ``MPLBACKEND``, and ``CTRVIZ_CACHE`` a fresh temporary folder (removed afterwards)
unless ``--cache DIR`` is given, and compares the fresh line with the committed one, number by number.

Rules: nested dicts are flattened to dotted keys; floats must agree within ``--tolerance`` (absolute, default
0.002 AUC); ints, and lists of ints, must be equal; a key present on one side only is a mismatch. Why 0.002 and
not 0: another CPU, BLAS build or thread count changes the order of float summations, and training amplifies
those last-bit differences into AUC differences of order 1e-4…1e-3. On the same machine with one thread the
runs are bit-identical, so the difference you should see there is exactly 0.

How long: a full re-run takes roughly 06 about 4 min, 07 about 6 min, 08 about 8 min, 09 about 3 min on one CPU
thread (rough figures from one machine; yours may differ by a factor of two). With ``--cache DIR`` pointing at a
cache that already holds the runs, the trained results are read back instead of retrained and a notebook takes
seconds — that checks the analysis, not the training.

Exit status: 0 all numbers match, 1 some differ (or a notebook failed to run or printed no key numbers),
2 usage error (missing file, not a notebook, no ``key numbers:`` line in the committed outputs, bad tolerance).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib.util
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import nbformat
import pandas as pd

from ctrviz.utils import NOTEBOOK_MODES

HERE = Path(__file__).resolve().parent
PREFIX = "key numbers:"
DEFAULT_TOLERANCE = 0.002
EPS = 1e-12                      # a difference of exactly the tolerance (0.702 - 0.7 = 0.0020000000000000018) is within
COLUMNS = ["key", "committed", "fresh", "|diff|", "ok"]


def _load_clean():
    """``notebooks/clean.py`` as a module (``notebooks/`` is not a package)."""
    spec = importlib.util.spec_from_file_location("_ctrviz_notebooks_clean", HERE / "clean.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def key_numbers(nb: nbformat.NotebookNode) -> dict:
    """The dict printed as ``key numbers: {json}`` in the stored stream outputs of ``nb``'s code cells.

    A cell's stream outputs are joined per stream (a line may be split across outputs) and read line by line.

    Args:
        nb: a notebook (``nbformat.read(path, as_version=4)``).

    Raises:
        ValueError: no such line, more than one, or its text is not a JSON object.

    Example:
        >>> from nbformat.v4 import new_code_cell, new_notebook, new_output
        >>> out = new_output("stream", name="stdout", text='key numbers: {"auc": 0.71}\\nran in 3 s\\n')
        >>> key_numbers(new_notebook(cells=[new_code_cell("...", outputs=[out])]))
        {'auc': 0.71}
    """
    found = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        streams: dict[str, str] = {}
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                text = out.get("text", "")
                streams[out.get("name", "stdout")] = streams.get(out.get("name", "stdout"), "") + (
                    "".join(text) if isinstance(text, list) else text)
        for text in streams.values():
            found += [line[len(PREFIX):].strip() for line in text.splitlines() if line.startswith(PREFIX)]
    if not found:
        raise ValueError(f"no `{PREFIX}` line in the stored outputs of its code cells "
                         "(run it with notebooks/clean.py so its outputs are stored)")
    if len(found) > 1:
        raise ValueError(f"{len(found)} `{PREFIX}` lines in its outputs; expected exactly one")
    try:
        numbers = json.loads(found[0])
    except json.JSONDecodeError as e:
        raise ValueError(f"its `{PREFIX}` line is not valid JSON ({e})") from None
    if not isinstance(numbers, dict):
        raise ValueError(f"its `{PREFIX}` line holds a {type(numbers).__name__}, expected a JSON object")
    return numbers


def flatten(d: Mapping, prefix: str = "") -> dict:
    """Nested dicts → one flat dict with dotted keys; other values (numbers, lists) are kept as they are.

    Args:
        d: a (nested) mapping with string keys.
        prefix: prepended to every key (used by the recursion).

    Raises:
        ValueError: two paths give the same dotted key (a key that itself contains a dot).

    Example:
        >>> flatten({"auc": {"gin": 0.7, "aoanet": 0.71}, "kept": 3, "ranks": [1, 2]})
        {'auc.gin': 0.7, 'auc.aoanet': 0.71, 'kept': 3, 'ranks': [1, 2]}
    """
    flat: dict = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        items = flatten(value, f"{name}.") if isinstance(value, Mapping) else {name: value}
        for k, v in items.items():
            if k in flat:
                raise ValueError(f"key {k!r} occurs twice after flattening nested dicts to dotted keys")
            flat[k] = v
    return flat


def _is_number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _match(a: object, b: object, tolerance: float) -> tuple[bool, float]:
    """(whether ``a`` and ``b`` agree, their absolute difference or NaN when that means nothing)."""
    if _is_number(a) and _is_number(b):
        diff = abs(a - b)
        if isinstance(a, float) and isinstance(b, float):
            if math.isnan(a) or math.isnan(b):
                return math.isnan(a) and math.isnan(b), math.nan
            return diff <= tolerance + EPS, float(diff)
        return type(a) is type(b) and a == b, float(diff)          # ints exactly; an int ↔ float change never ok
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return False, math.nan
        pairs = [_match(x, y, tolerance) for x, y in zip(a, b, strict=True)]
        diffs = [d for _, d in pairs if not math.isnan(d)]
        return all(ok for ok, _ in pairs), max(diffs, default=math.nan)
    return type(a) is type(b) and a == b, math.nan


def compare(committed: Mapping, fresh: Mapping, tolerance: float = DEFAULT_TOLERANCE) -> pd.DataFrame:
    """One row per (flattened) key: ``key, committed, fresh, |diff|, ok``, sorted by key.

    Floats agree when ``|committed - fresh| <= tolerance``; ints, lists of ints (element by element) and other
    values must be equal; an int on one side and a float on the other never agree. A key missing on one side
    shows ``pd.NA`` there and is not ok. ``|diff|`` is NaN where it means nothing (lists of other lengths,
    missing keys, non-numbers).

    Args:
        committed: the key numbers stored in the notebook (nested dicts allowed).
        fresh: the key numbers of the re-run.
        tolerance: absolute tolerance for floats, finite and ≥ 0.

    Raises:
        ValueError: a negative, NaN or infinite tolerance.

    Example:
        >>> compare({"auc": 0.7, "n": 3}, {"auc": 0.7015, "n": 4}, tolerance=0.002)[["key", "ok"]]
           key     ok
        0  auc   True
        1    n  False
    """
    if not _is_number(tolerance) or not math.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    old, new = flatten(committed), flatten(fresh)
    rows = []
    for key in sorted(old.keys() | new.keys()):
        if key in old and key in new:
            ok, diff = _match(old[key], new[key], tolerance)
        else:
            ok, diff = False, math.nan
        rows.append({"key": key, "committed": old.get(key, pd.NA), "fresh": new.get(key, pd.NA),
                     "|diff|": diff, "ok": ok})
    return pd.DataFrame(rows, columns=COLUMNS).astype({"committed": object, "fresh": object, "|diff|": float,
                                                      "ok": bool})


def _show(value: object) -> str:
    return "(missing)" if value is pd.NA else json.dumps(value)


def format_table(table: pd.DataFrame) -> str:
    """``compare``'s table as text: values as JSON, a missing key as ``(missing)``, NaN diffs blank."""
    if table.empty:
        return "(no key numbers)"
    text = pd.DataFrame({"key": table["key"], "committed": table["committed"].map(_show, na_action=None),
                         "fresh": table["fresh"].map(_show, na_action=None),
                         "|diff|": ["" if math.isnan(d) else f"{d:.6f}" for d in table["|diff|"]],
                         "ok": ["ok" if ok else "DIFFERS" for ok in table["ok"]]})
    return text.to_string(index=False)             # pandas' own formatters skip missing values, hence the strings


def summary(name: str, table: pd.DataFrame, tolerance: float) -> str:
    """The last line printed for a notebook, e.g. ``06_x.ipynb: 12 numbers, all within 0.002``."""
    bad = int((~table["ok"]).sum())
    if bad == 0:
        return f"{name}: {len(table)} numbers, all within {tolerance:g}"
    return f"{name}: {bad} of {len(table)} differ (tolerance {tolerance:g})"


@contextlib.contextmanager
def _environment(**values: str | None) -> Iterator[None]:
    """Set (a str) or remove (None) environment variables for the kernel, then restore them."""
    def apply(changes: dict[str, str | None]) -> None:
        for k, v in changes.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    saved = {k: os.environ.get(k) for k in values}
    try:
        apply(values)
        yield
    finally:
        apply(saved)


def run_fresh(nb: nbformat.NotebookNode, folder: Path, mode: str, cache: Path | None, timeout: int) -> dict:
    """Execute a copy of ``nb`` (in ``folder``) in the checked environment; return its key numbers.

    The kernel inherits ``CTRVIZ_MODE=mode``, ``OMP_NUM_THREADS=1``, ``PYTHONHASHSEED=0``, no ``MPLBACKEND``,
    and ``CTRVIZ_CACHE=cache`` or a fresh temporary folder that is removed afterwards. ``nb`` is not changed.
    """
    with contextlib.ExitStack() as stack:
        if cache is None:
            cache = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ctrviz-check-cache-")))
        stack.enter_context(_environment(CTRVIZ_MODE=mode, CTRVIZ_QUICK=None, CTRVIZ_CACHE=str(cache),
                                         OMP_NUM_THREADS="1", PYTHONHASHSEED="0", MPLBACKEND=None))
        ran = _load_clean().execute(copy.deepcopy(nb), folder, timeout)
    return key_numbers(ran)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:              # one line, not argparse's usage + error
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _usage_error(message: str) -> int:
    """Print ``message`` as one line on stderr; return the usage-error exit status, 2."""
    print(f"check_outputs.py: error: {message}", file=sys.stderr)
    return 2


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"bad tolerance {text!r}: expected a finite number >= 0")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="check_outputs.py",
        description="Re-run experiment notebooks and check that the `key numbers:` line of their committed "
                    "outputs reproduces (floats within --tolerance, ints and lists exactly). The committed files "
                    "are never modified. Exit 0: all match; 1: some differ; 2: usage error.")
    parser.add_argument("notebooks", nargs="+", type=Path, help=".ipynb files with committed outputs")
    parser.add_argument("--mode", choices=NOTEBOOK_MODES, default="full",
                        help="CTRVIZ_MODE for the re-run (default full, the mode the committed outputs come from)")
    parser.add_argument("--tolerance", type=_tolerance, default=DEFAULT_TOLERANCE,
                        help="absolute tolerance for floats (default 0.002 AUC: another CPU, BLAS or thread count "
                             "changes float summation order; on the same machine with one thread the difference "
                             "is exactly 0)")
    parser.add_argument("--cache", type=Path, default=None, metavar="DIR",
                        help="CTRVIZ_CACHE for the re-run instead of a fresh temporary folder; runs already cached "
                             "there are read back, not retrained, so only the analysis is re-checked")
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per cell (default 1200)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error(f"--timeout must be > 0 seconds, got {args.timeout}")
    committed = {}
    for path in args.notebooks:                         # every usage error before the first (long) run
        if not path.is_file():
            return _usage_error(f"{path}: no such file")
        if path.suffix != ".ipynb":
            return _usage_error(f"{path}: not a notebook (expected an .ipynb file)")
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as e:                         # nbformat raises JSON, validation and version errors
            first = (str(e).strip().splitlines() or [""])[0]
            return _usage_error(f"{path}: not a readable notebook ({type(e).__name__}: {first})")
        try:
            committed[path] = (nb, key_numbers(nb))
        except ValueError as e:
            return _usage_error(f"{path}: {e}")
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    all_ok = True
    for path, (nb, old) in committed.items():
        where = f"cache {args.cache}" if args.cache is not None else "a fresh temporary cache"
        print(f"executing {path} ({args.mode} mode, {where}) ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            new = run_fresh(nb, path.resolve().parent, args.mode, args.cache, args.timeout)
        except Exception as e:                          # a failing cell, a timeout, no key numbers in the re-run
            print(f"{path.name}: the re-run failed: {type(e).__name__}: {e}", file=sys.stderr)
            print(f"{path.name}: could not be re-run", flush=True)
            all_ok = False
            continue
        print(f"ran {path.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
        table = compare(old, new, args.tolerance)
        print(format_table(table))
        print(summary(path.name, table, args.tolerance), flush=True)
        all_ok &= bool(table["ok"].all())
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
