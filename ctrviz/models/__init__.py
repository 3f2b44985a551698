"""Models, one per file, and the registry that names them (``create("dnn", schema)``)."""

# registers the models
from ctrviz.models import (  # noqa: F401
    can,
    can_dien,
    cartesian,
    deepffm,
    dien,
    din,
    dnn,
    ffm,
    fm,
    lr,
    ncf,
    onn,
    pnn,
)
from ctrviz.models.registry import (
    MODELS,
    ModelSpec,
    count_parameters,
    create,
    get_spec,
    list_models,
    make_config,
    prepare_data,
)

__all__ = ["MODELS", "ModelSpec", "count_parameters", "create", "get_spec", "list_models", "make_config",
           "prepare_data"]
