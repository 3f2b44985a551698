"""Shared fixtures. Unit tests draw with the Agg backend (set here, in-process only, so notebook
kernels started by nbval keep their inline figures)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
