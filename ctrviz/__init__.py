"""ctrviz — learn, verify and use CAN and AOANet for click-through-rate prediction.

Data flows one way: raw file → :mod:`ctrviz.data` (schema + encoders) → tensors on the device →
:mod:`ctrviz.models` → logits → :mod:`ctrviz.train` / :mod:`ctrviz.metrics` → DataFrames →
:mod:`ctrviz.plots`. Nothing lower imports anything higher.

Letters used for tensor shapes in every docstring and shape comment:

==  ============================================================
B   batch (rows)
F   fields (F_s sparse, F_q sequence/multi, F_d dense)
D   embedding dimension
T   sequence length (max_len)
P   field pairs
S   subspaces (AOANet)
L   layers
C   orders (CAN's multi-order enhancement)
H   hidden width
==  ============================================================

Threads: torch's OpenMP threads spin-wait for each other (GNU OpenMP: 300,000 spins before sleeping), which makes
a multi-thread job beside other busy processes many times slower — they spin on the cores the others need.
Importing ctrviz before torch therefore sets ``GOMP_SPINCOUNT=1000`` (spin briefly, then sleep) unless
``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is already set: on an idle machine no slower than the default, 2.7× faster
beside two busy processes (measured in DEVELOPERS.md, "Running beside other work"). ``OMP_WAIT_POLICY=ACTIVE``
restores spinning, ``OMP_NUM_THREADS`` / ``--threads`` set the thread count. A process that imported torch
first keeps torch's default (OpenMP reads these once, when torch loads it); LLVM's OpenMP (macOS) reads
``KMP_BLOCKTIME`` instead, which ctrviz leaves alone.

Example:
    >>> import ctrviz
    >>> {"lr", "fm", "dnn", "can", "cartesian"} <= set(ctrviz.MODELS)
    True
"""

import os as _os
import sys as _sys


def _openmp_defaults(environ: dict[str, str], torch_loaded: bool) -> dict[str, str]:
    """What ``import ctrviz`` adds to the environment: ``GOMP_SPINCOUNT=1000`` unless torch has already loaded
    OpenMP (too late: it read the environment then) or the user set ``OMP_WAIT_POLICY`` / ``GOMP_SPINCOUNT``."""
    if torch_loaded or "OMP_WAIT_POLICY" in environ or "GOMP_SPINCOUNT" in environ:
        return {}
    return {"GOMP_SPINCOUNT": "1000"}


_os.environ.update(_openmp_defaults(dict(_os.environ), "torch" in _sys.modules))

from ctrviz.data import Batch, CTRData, Field, Pair, Schema, list_datasets, load_dataset  # noqa: E402
from ctrviz.models import MODELS, count_parameters, create, list_models  # noqa: E402

__version__ = "0.1.0"

# ``ctrviz.explain`` is the function (the module stays importable as ``from ctrviz.explain import …``)
from ctrviz.explain import ExplainReport, explain, pairs_from_report  # noqa: E402

__all__ = ["MODELS", "Batch", "CTRData", "ExplainReport", "Field", "Pair", "Schema", "__version__", "count_parameters",
           "create", "explain", "list_datasets", "list_models", "load_dataset", "pairs_from_report"]
