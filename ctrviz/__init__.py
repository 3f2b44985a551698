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

Example:
    >>> import ctrviz
    >>> {"lr", "fm", "dnn", "can", "cartesian"} <= set(ctrviz.MODELS)
    True
"""

from ctrviz.data import Batch, CTRData, Field, Pair, Schema, list_datasets, load_dataset
from ctrviz.models import MODELS, count_parameters, create, list_models

__version__ = "0.1.0"

__all__ = ["MODELS", "Batch", "CTRData", "Field", "Pair", "Schema", "__version__", "count_parameters", "create",
           "list_datasets", "list_models", "load_dataset"]
