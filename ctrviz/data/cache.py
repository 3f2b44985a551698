"""Where downloaded and derived data lives: ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``."""

from __future__ import annotations

import os
from pathlib import Path

from ctrviz.utils import writable_dir


def cache_dir(override: str | os.PathLike | None = None, create: bool = True) -> Path:
    """The data cache folder (created if missing; ``ValueError`` naming it if it is a file or cannot be written).

    Args:
        override: use this folder instead of ``$CTRVIZ_CACHE`` / ``~/.cache/ctrviz``.
        create: make the folder; ``False`` only checks that it could be made and written (nothing is touched).

    Example:
        >>> import tempfile
        >>> cache_dir(tempfile.mkdtemp()).is_dir()
        True
    """
    path = Path(override or os.environ.get("CTRVIZ_CACHE") or Path.home() / ".cache" / "ctrviz").expanduser()
    what = "--cache" if override else "$CTRVIZ_CACHE" if os.environ.get("CTRVIZ_CACHE") else "the data cache"
    writable_dir(path, what)                           # ValueError naming it when it is a file or read-only
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path
