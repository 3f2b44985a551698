"""The install files agree: environment.yml installs what pyproject.toml declares, torch pinned as in
the Makefile; .ci/run runs the README's test command."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_installs_this_package_with_every_extra():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    editable = [p for p in pip if p.startswith("-e .[")]
    assert len(editable) == 1, pip
    extras = set(re.search(r"\[(.*)\]", editable[0]).group(1).split(","))
    assert extras == set(pyproject()["project"]["optional-dependencies"])
    # one source of truth: no package is listed in environment.yml besides torch's pin
    assert [p for p in pip if p not in editable] == [makefile_torch_pin()]


def makefile_torch_pin() -> str:
    return re.search(r"^TORCH := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)


def test_torch_is_pinned_first_and_pyproject_only_bounds_it_below():
    assert makefile_torch_pin() == "torch==2.13.0"
    torch_req = [d for d in pyproject()["project"]["dependencies"] if d.startswith("torch")]
    assert torch_req == ["torch>=2.2"]   # a lower bound the pinned CPU wheel satisfies: pip adds nothing


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make demo" in readme
    assert [ln for ln in ci.splitlines() if ln and not ln.startswith(("#", "set ", "cd "))] == ["make test"]
