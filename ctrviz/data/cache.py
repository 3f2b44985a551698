"""Where downloaded and derived data lives: ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """The data cache folder (created if missing).

    Args:
        override: use this folder instead of ``$CTRVIZ_CACHE`` / ``~/.cache/ctrviz``.

    Example:
        >>> import tempfile
        >>> cache_dir(tempfile.mkdtemp()).is_dir()
        True
    """
    path = Path(override or os.environ.get("CTRVIZ_CACHE") or Path.home() / ".cache" / "ctrviz").expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path
