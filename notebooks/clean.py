"""Execute notebooks in place and strip them for git (DESIGN.md, house style 9).

Usage::

    python notebooks/clean.py notebooks/02_why_coaction.ipynb      # run it, keep outputs, strip the noise
    python notebooks/clean.py --no-execute notebooks/*.ipynb         # strip only
    make notebooks                                                  # every notebooks/*.ipynb

Each notebook runs top to bottom in a fresh kernel of *this* Python (the venv's, whatever kernelspecs
the machine has), in the notebook's folder, with the environment ``tests/test_notebooks.py`` gives nbval:
``OMP_NUM_THREADS=1`` (the thread count changes float summation order, so outputs stay bit-identical
to the test run), ``PYTHONHASHSEED=0`` and no ``MPLBACKEND`` (figures stay inline). ``--env KEY=VALUE``
adds variables, e.g. ``--env CTRVIZ_QUICK=1``.

What is kept: sources, outputs (nbval compares them), execution counts (nbval only checks cells that
have one), cell ``tags`` (``nbval-ignore-output``, ``raises-exception``, ``solution``, …), a cell's
``jupyter.source_hidden`` (the collapsed solutions of the exercises) and a minimal kernelspec.
What goes: every other notebook, cell and output metadata (widget state, ``ExecuteTime``, ``collapsed``,
``scrolled``, execution timings, image sizes), random cell ids (replaced by ``c00``, ``c01``, … so an
unchanged notebook gives an unchanged file).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

from ctrviz.utils import atomic_write_text

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
KEEP_CELL_METADATA = ("tags",)
HIDDEN = {"source_hidden": True}                # JupyterLab's "collapsed input" (View → Collapse Selected Code)


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` with only the metadata nbval needs (see the module docstring); changes ``nb`` in place."""
    nb.metadata = nbformat.from_dict({"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}})
    nb.nbformat, nb.nbformat_minor = 4, max(5, nb.get("nbformat_minor", 5))
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i:02d}"
        hidden = cell.metadata.get("jupyter", {}).get("source_hidden", False)
        cell.metadata = nbformat.from_dict({k: v for k, v in cell.metadata.items() if k in KEEP_CELL_METADATA})
        if hidden:
            cell.metadata["jupyter"] = dict(HIDDEN)
        if cell.cell_type != "code":
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
            continue
        for out in cell.get("outputs", []):
            if "metadata" in out:
                out.metadata = nbformat.from_dict({})
            out.pop("transient", None)
    return nb


def execute(nb: nbformat.NotebookNode, folder: Path, timeout: int) -> nbformat.NotebookNode:
    """Run every cell of ``nb`` in a fresh kernel of this Python, working directory ``folder``."""
    import ipykernel.kernelspec
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from traitlets import default

    class ThisPython(KernelSpecManager):
        """Every kernel name resolves to ipykernel on ``sys.executable`` (as nbval's ``--nbval-current-env``)."""

        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                          **ipykernel.kernelspec.get_kernel_dict())

    class Manager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return ThisPython(data_dir=self.data_dir)

    client = NotebookClient(nb, kernel_manager_class=Manager, kernel_name=KERNELSPEC["name"], timeout=timeout,
                            record_timing=False, allow_errors=False, resources={"metadata": {"path": str(folder)}})
    client.execute()                          # starts, and at the end shuts down, its own kernel
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute notebooks in place and strip their metadata.")
    parser.add_argument("notebooks", nargs="+", type=Path, help=".ipynb files")
    parser.add_argument("--no-execute", action="store_true", help="only strip; keep the outputs as they are")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment variable for the kernel (repeatable)")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if path.suffix != ".ipynb" or not path.is_file():
            parser.error(f"{path}: not an .ipynb file")
    extra = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--env {item!r}: expected KEY=VALUE")
        extra[key] = value
    os.environ.pop("MPLBACKEND", None)       # the kernel inherits this process's environment
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["PYTHONHASHSEED"] = "0"       # set iteration order of str, as in the nbval run
    os.environ.update(extra)
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        if not args.no_execute:
            print(f"executing {path}", file=sys.stderr, flush=True)
            execute(nb, path.resolve().parent, args.timeout)
        strip(nb)
        nbformat.validate(nb)
        text = nbformat.writes(nb) + "\n"
        if path.read_text(encoding="utf-8") != text:
            mode = path.stat().st_mode & 0o777
            atomic_write_text(path, text)
            path.chmod(mode)                  # the atomic write's temp file was private (0600)
            print(f"wrote {path} ({len(text.encode()) / 1024:.0f} kB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
