"""Small shared helpers: atomic file writes, seeding, device choice. Imports nothing from ctrviz."""

from __future__ import annotations

import io
import os
import random
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def temp_prefix(name: str) -> str:
    """Prefix of a temp file written next to ``name`` by this process: ``.NAME.PID.`` (then random, ``.tmp``).

    The PID lets a later run tell a temp file whose writer was killed (kill -9, power loss) from one another
    process is still writing (:func:`orphaned_temp_files`).
    """
    return f".{name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:                            # another user's live process
        return True
    return True


def orphaned_temp_files(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Temp files under ``folder`` (``.NAME.PID.….tmp``, :func:`temp_prefix`) whose writing process is gone.

    A temp file without a PID in its name (older ctrviz) counts once it is a day old.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (d / ".x.parquet.999999999.ab12.tmp").write_bytes(b"half")    # a writer that no longer exists
        >>> _ = (d / f"{temp_prefix('y.json')}cd34.tmp").write_bytes(b"live")  # this process: still writing
        >>> [p.name for p in orphaned_temp_files(d)]
        ['.x.parquet.999999999.ab12.tmp']
    """
    found = []
    root = Path(folder)
    if not root.is_dir():
        return found
    for p in sorted(root.rglob(".*.tmp") if recursive else root.glob(".*.tmp")):
        m = re.fullmatch(r"\..+\.(\d+)\.[^.]+\.tmp", p.name)
        if m:
            if not _alive(int(m.group(1))):
                found.append(p)
        elif p.is_file() and time.time() - p.stat().st_mtime > 86_400:
            found.append(p)
    return found


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same folder and ``os.replace``.

    A reader sees the old file or the new one, never half of one; a crash leaves no partial file.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> atomic_write_bytes(p, b"hi").read_bytes()
        b'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temp_prefix(path.name), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(obj: object, path: str | os.PathLike) -> Path:
    """``torch.save`` to memory, then :func:`atomic_write_bytes`. Load with ``weights_only=True``."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def writable_dir(path: str | os.PathLike, what: str) -> Path:
    """``path`` if it is (or can be created as) a folder this process may write into; nothing is created.

    A run that writes checkpoints, caches or results calls this up front, so a bad location fails in a second with
    a message naming ``what`` (e.g. ``"--checkpoint-dir"``), not after an epoch with a traceback. A missing folder
    is judged by its nearest existing parent.

    Raises:
        ValueError: ``path`` is a file, lies under a file, or cannot be written (permissions, read-only disk).

    Example:
        >>> import tempfile, pathlib
        >>> f = pathlib.Path(tempfile.mkdtemp()) / "f"; _ = f.write_text("x")
        >>> writable_dir(f, "--out")
        Traceback (most recent call last):
        ...
        ValueError: --out ... is a file, not a folder; pass a folder
        >>> writable_dir(f / "sub", "--out")
        Traceback (most recent call last):
        ...
        ValueError: --out .../f/sub cannot be written (.../f is a file); pass a folder you can write to
    """
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise ValueError(f"{what} {p} is a file, not a folder; pass a folder")
    base = p.absolute()
    while not base.exists():                           # the nearest existing parent decides for a missing folder
        base = base.parent
    if not base.is_dir():
        raise ValueError(f"{what} {p} cannot be written ({base} is a file); pass a folder you can write to")
    if not os.access(base, os.W_OK | os.X_OK):         # also False on a read-only file system
        raise ValueError(f"{what} {p} cannot be written (no write permission in {base}); pass a folder you can "
                         "write to")
    return p


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a CPU ``torch.Generator`` seeded with ``seed``."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """``"auto"``/``None`` → CUDA when available, else CPU; otherwise the named device, checked.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device: {device!r} is not a torch device; use 'auto', 'cpu' or 'cuda[:N]'") from e
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} asked for CUDA but torch sees no GPU; use 'auto' or 'cpu'")
    return dev


def versions(packages: tuple[str, ...] = ("ctrviz", "torch", "numpy", "pandas", "scikit-learn", "matplotlib",
                                          "seaborn")) -> dict[str, str]:
    """The Python version and the installed version of each package (``"not installed"`` when missing).

    The first code cell of every notebook prints this, so a reader can tell which versions made its outputs.

    Example:
        >>> v = versions(("torch",))
        >>> list(v) == ["python", "torch"] and v["torch"] == torch.__version__.split("+")[0] or v
        True
    """
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name).split("+")[0]
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


NOTEBOOK_MODES = ("quick", "mid", "full")


def notebook_mode() -> str:
    """The size the experiment notebooks (06–08) run at: ``"quick"``, ``"mid"`` or ``"full"``.

    From ``$CTRVIZ_MODE``; ``CTRVIZ_QUICK=1`` (the older switch) means ``"quick"``; neither set means ``"full"``,
    the mode whose outputs are committed. ``"mid"`` is the mode the test suite runs: the full mode's data and
    training, so the same findings can be asserted, with fewer seeds and grid points.

    Example:
        >>> import os
        >>> os.environ["CTRVIZ_MODE"] = "mid"; notebook_mode()
        'mid'
        >>> del os.environ["CTRVIZ_MODE"]
    """
    mode = os.environ.get("CTRVIZ_MODE") or ("quick" if os.environ.get("CTRVIZ_QUICK") == "1" else "full")
    if mode not in NOTEBOOK_MODES:
        raise ValueError(f"CTRVIZ_MODE must be one of {', '.join(NOTEBOOK_MODES)}, got {mode!r}")
    return mode
