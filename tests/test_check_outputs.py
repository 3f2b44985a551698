"""notebooks/check_outputs.py: re-run a notebook and compare its `key numbers:` line (issue 11, part 8).

The pure functions (key_numbers, flatten, compare) on hand-built notebooks; main() in-process with a fake kernel
(the environment it gives the kernel, the temporary cache, the exit statuses); and the command end to end on a
one-cell notebook whose key numbers depend on CTRVIZ_MODE.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "notebooks" / "check_outputs.py"


def _load():
    spec = importlib.util.spec_from_file_location("check_outputs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


co = _load()


def _stream(text: str, name: str = "stdout") -> nbformat.NotebookNode:
    return new_output("stream", name=name, text=text)


def _notebook(*texts: str, source: str = "print('hi')") -> nbformat.NotebookNode:
    """A markdown cell, then one code cell whose stored outputs are the stream ``texts``."""
    return new_notebook(cells=[new_markdown_cell("key numbers: {\"not\": \"code\"}"),
                               new_code_cell(source, execution_count=1, outputs=[_stream(t) for t in texts])])


def _line(numbers: dict) -> str:
    return f"key numbers: {json.dumps(numbers, sort_keys=True)}\n"


# --- key_numbers -------------------------------------------------------------------------------------------------


def test_key_numbers_reads_the_line_among_other_output() -> None:
    nb = _notebook("training ...\n", _line({"auc": {"gin": 0.7}, "kept": 3}) + "notebook ran in 3 s (full mode)\n")
    assert co.key_numbers(nb) == {"auc": {"gin": 0.7}, "kept": 3}


def test_key_numbers_joins_a_line_split_across_stream_outputs() -> None:
    assert co.key_numbers(_notebook("key numbers: {\"a\"", ": 1}\n")) == {"a": 1}


def test_key_numbers_without_the_line_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"no `key numbers:` line in the stored outputs"):
        co.key_numbers(_notebook("auc 0.7\n"))
    with pytest.raises(ValueError, match=r"no `key numbers:` line"):
        co.key_numbers(new_notebook(cells=[new_code_cell("print(1)")]))        # never executed: no outputs


@pytest.mark.parametrize(("texts", "match"), [
    ((_line({"a": 1}), _line({"a": 2})), r"2 `key numbers:` lines"),
    (("key numbers: {a: 1}\n",), r"not valid JSON"),
    (("key numbers: [1, 2]\n",), r"holds a list, expected a JSON object"),
])
def test_key_numbers_rejects_ambiguous_or_malformed_lines(texts: tuple[str, ...], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        co.key_numbers(_notebook(*texts))


# --- flatten -----------------------------------------------------------------------------------------------------


def test_flatten_gives_dotted_keys_and_keeps_lists() -> None:
    nested = {"sweep_auc": {"0.5": 0.71, "deep": {"x": 1}}, "ranks": [1, 2, 5], "kept": 3}
    assert co.flatten(nested) == {"sweep_auc.0.5": 0.71, "sweep_auc.deep.x": 1, "ranks": [1, 2, 5], "kept": 3}


def test_flatten_rejects_keys_that_collide() -> None:
    with pytest.raises(ValueError, match=r"key 'a.b' occurs twice"):
        co.flatten({"a": {"b": 1}, "a.b": 2})


# --- compare -----------------------------------------------------------------------------------------------------


def _ok(table: pd.DataFrame) -> dict[str, bool]:
    return dict(zip(table["key"], table["ok"], strict=True))


def test_equal_numbers_are_all_ok() -> None:
    numbers = {"auc": {"gin": 0.712345, "aoanet": 0.72}, "kept": 7, "ranks": [0, 2, 5]}
    table = co.compare(numbers, json.loads(json.dumps(numbers)), tolerance=0.002)
    assert list(table.columns) == ["key", "committed", "fresh", "|diff|", "ok"]
    assert list(table["key"]) == ["auc.aoanet", "auc.gin", "kept", "ranks"]
    assert table["ok"].all()
    assert table.loc[table.key == "auc.gin", "|diff|"].item() == 0.0
    assert co.summary("06_x.ipynb", table, 0.002) == "06_x.ipynb: 4 numbers, all within 0.002"


def test_a_float_off_by_more_than_the_tolerance_differs() -> None:
    table = co.compare({"a": 0.7, "b": 0.7, "c": 0.7}, {"a": 0.7021, "b": 0.702, "c": 0.6985}, tolerance=0.002)
    assert _ok(table) == {"a": False, "b": True, "c": True}                 # exactly the tolerance is within
    assert table.loc[table.key == "a", "|diff|"].item() == pytest.approx(0.0021)
    assert co.summary("08_x.ipynb", table, 0.002) == "08_x.ipynb: 1 of 3 differ (tolerance 0.002)"


def test_an_int_off_by_one_differs_even_within_the_tolerance() -> None:
    table = co.compare({"kept": 3, "ranks": [1, 2], "auc": 0.7}, {"kept": 4, "ranks": [1, 3], "auc": 1.7}, tolerance=5)
    assert _ok(table) == {"auc": True, "kept": False, "ranks": False}
    assert table.loc[table.key == "kept", "|diff|"].item() == 1.0


@pytest.mark.parametrize(("committed", "fresh"), [
    (3, 3.0),                          # an int became a float: the notebook prints something else now
    ([1, 2], [1, 2, 3]),               # a list of another length
    (True, 1),                         # a bool is not an int
    (math.nan, 0.7),
])
def test_values_of_another_kind_or_shape_differ(committed: object, fresh: object) -> None:
    assert not co.compare({"v": committed}, {"v": fresh}, tolerance=10).ok.item()


def test_nan_matches_nan() -> None:
    assert co.compare({"v": math.nan}, {"v": math.nan}, tolerance=0).ok.item()


def test_a_key_missing_on_either_side_is_a_mismatch() -> None:
    table = co.compare({"auc": {"gin": 0.7, "old": 0.6}}, {"auc": {"gin": 0.7, "new": 0.6}}, tolerance=0.002)
    assert _ok(table) == {"auc.gin": True, "auc.new": False, "auc.old": False}
    row = table.set_index("key")
    assert row.loc["auc.new", "committed"] is pd.NA and row.loc["auc.old", "fresh"] is pd.NA
    text = co.format_table(table)
    assert "(missing)" in text and "DIFFERS" in text


@pytest.mark.parametrize("tolerance", [-0.001, math.nan, math.inf, "0.002"])
def test_compare_rejects_a_bad_tolerance(tolerance: object) -> None:
    with pytest.raises(ValueError, match=r"tolerance must be a finite number >= 0"):
        co.compare({}, {}, tolerance=tolerance)


# --- main, in-process with a fake kernel -------------------------------------------------------------------------


def _write(path: Path, nb: nbformat.NotebookNode) -> Path:
    nbformat.write(nb, path)
    return path


@pytest.fixture
def fake_kernel(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """Replace clean.execute: record the kernel's environment and print the key numbers it implies."""
    seen: list[dict] = []

    def execute(nb: nbformat.NotebookNode, folder: Path, timeout: int) -> nbformat.NotebookNode:
        env = {k: os.environ.get(k) for k in ("CTRVIZ_MODE", "CTRVIZ_QUICK", "CTRVIZ_CACHE", "OMP_NUM_THREADS",
                                              "PYTHONHASHSEED", "MPLBACKEND")}
        seen.append({**env, "cache_exists": Path(env["CTRVIZ_CACHE"]).is_dir(), "folder": folder, "timeout": timeout})
        nb.cells[-1].outputs = [_stream(_line({"mode_is_full": int(env["CTRVIZ_MODE"] == "full"), "auc": 0.7}))]
        return nb

    monkeypatch.setattr(co, "_load_clean", lambda: SimpleNamespace(execute=execute))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("CTRVIZ_QUICK", "1")
    return seen


def test_main_runs_a_copy_in_full_mode_with_a_fresh_cache(tmp_path: Path, fake_kernel: list[dict],
                                                          capsys: pytest.CaptureFixture) -> None:
    path = _write(tmp_path / "06_x.ipynb", _notebook(_line({"mode_is_full": 1, "auc": 0.7005})))
    before = path.read_bytes()
    assert co.main([str(path), "--timeout", "30"]) == 0
    out = capsys.readouterr().out
    assert out.strip().splitlines()[-1] == "06_x.ipynb: 2 numbers, all within 0.002"
    assert "mode_is_full" in out and "0.000500" in out
    (run,) = fake_kernel
    assert run["CTRVIZ_MODE"] == "full" and run["CTRVIZ_QUICK"] is None and run["MPLBACKEND"] is None
    assert run["OMP_NUM_THREADS"] == "1" and run["PYTHONHASHSEED"] == "0"
    assert run["cache_exists"] and not Path(run["CTRVIZ_CACHE"]).exists()     # fresh, then removed
    assert run["folder"] == tmp_path.resolve() and run["timeout"] == 30
    assert path.read_bytes() == before                                          # the committed file is untouched
    assert os.environ["MPLBACKEND"] == "Agg" and os.environ["CTRVIZ_QUICK"] == "1"  # and so is our environment
    assert "CTRVIZ_MODE" not in os.environ


def test_main_reports_differences_with_exit_1(tmp_path: Path, fake_kernel: list[dict],
                                              capsys: pytest.CaptureFixture) -> None:
    path = _write(tmp_path / "07_x.ipynb", _notebook(_line({"mode_is_full": 1, "auc": 0.7})))
    assert co.main([str(path), "--mode", "quick", "--cache", str(tmp_path / "cache")]) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1] == "07_x.ipynb: 1 of 2 differ (tolerance 0.002)"
    (run,) = fake_kernel
    assert run["CTRVIZ_MODE"] == "quick" and run["CTRVIZ_CACHE"] == str(tmp_path / "cache")
    assert (tmp_path / "cache").is_dir()                                        # a given cache is kept


def test_main_counts_a_failed_rerun_as_a_difference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture) -> None:
    def execute(nb, folder, timeout):
        raise RuntimeError("cell 3 raised")

    monkeypatch.setattr(co, "_load_clean", lambda: SimpleNamespace(execute=execute))
    path = _write(tmp_path / "08_x.ipynb", _notebook(_line({"a": 1})))
    assert co.main([str(path)]) == 1
    captured = capsys.readouterr()
    assert "08_x.ipynb: the re-run failed: RuntimeError: cell 3 raised" in captured.err
    assert captured.out.strip() == "08_x.ipynb: could not be re-run"


@pytest.mark.parametrize(("name", "content", "match"), [
    ("missing.ipynb", None, r"missing.ipynb: no such file"),
    ("notes.txt", "{}", r"notes.txt: not a notebook"),
    ("broken.ipynb", "{", r"broken.ipynb: not a readable notebook"),
    ("plain.ipynb", nbformat.writes(_notebook("auc 0.7\n")), r"plain.ipynb: no `key numbers:` line"),
])
def test_usage_errors_exit_2_with_one_line_before_any_run(tmp_path: Path, fake_kernel: list[dict],
                                                          capsys: pytest.CaptureFixture,
                                                          name: str, content: str | None, match: str) -> None:
    good = _write(tmp_path / "good.ipynb", _notebook(_line({"a": 1})))
    if content is not None:
        (tmp_path / name).write_text(content)
    assert co.main([str(good), str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("check_outputs.py: error: ")
    assert re.search(match, err), err
    assert fake_kernel == []                                                    # nothing ran


@pytest.mark.parametrize("argv", [["--tolerance", "-1"], ["--tolerance", "nan"], ["--tolerance", "x"],
                                  ["--mode", "huge"], ["--timeout", "0"]])
def test_bad_options_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str]) -> None:
    path = _write(tmp_path / "good.ipynb", _notebook(_line({"a": 1})))
    with pytest.raises(SystemExit) as exc:
        co.main([str(path), *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("check_outputs.py: error: ")


# --- the command, end to end -------------------------------------------------------------------------------------

MODE_CELL = """import json, os
print("key numbers:", json.dumps({"mode_is_full": int(os.environ.get("CTRVIZ_MODE") == "full"), "auc": 0.75}))
print("ran in 0 s")"""


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("CTRVIZ_MODE", "CTRVIZ_QUICK", "MPLBACKEND")}
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env={**env, "OMP_NUM_THREADS": "1"},
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(("mode", "status", "last"), [
    ("full", 0, "mode.ipynb: 2 numbers, all within 0.002"),
    ("quick", 1, "mode.ipynb: 1 of 2 differ (tolerance 0.002)"),
], ids=["full", "quick"])
def test_cli_reruns_a_notebook_in_the_given_mode(tmp_path: Path, mode: str, status: int, last: str) -> None:
    committed = _line({"auc": 0.75, "mode_is_full": 1})
    nb = new_notebook(cells=[new_code_cell(MODE_CELL, execution_count=1,            # the outputs of a full-mode run
                                           outputs=[_stream(committed + "ran in 0 s\n")])])
    path = _write(tmp_path / "mode.ipynb", nb)
    before = path.read_bytes()
    done = _cli(str(path), "--mode", mode, "--timeout", "120")
    assert done.returncode == status, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == last
    assert path.read_bytes() == before


def test_cli_missing_file_exits_2_with_one_line(tmp_path: Path) -> None:
    done = _cli(str(tmp_path / "nope.ipynb"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"check_outputs.py: error: {tmp_path / 'nope.ipynb'}: no such file"
    assert done.stdout == ""
