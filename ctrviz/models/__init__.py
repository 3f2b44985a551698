"""Models, one per file, and the registry that names them (``create("dnn", schema)``)."""

from ctrviz.models import dnn, fm, lr  # noqa: F401  (registers the models)
from ctrviz.models.registry import MODELS, ModelSpec, count_parameters, create, get_spec, list_models, make_config

__all__ = ["MODELS", "ModelSpec", "count_parameters", "create", "get_spec", "list_models", "make_config"]
