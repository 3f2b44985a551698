"""Models, one per file, and the registry that names them (``create("dnn", schema)``)."""

# registers the models
from ctrviz.models import (  # noqa: F401
    afm,
    aoanet,
    autoint,
    can,
    can_dien,
    cartesian,
    dcn,
    dcnv2,
    deepffm,
    deepfm,
    dien,
    din,
    dnn,
    ffm,
    fm,
    fwfm,
    gin,
    lr,
    ncf,
    nfm,
    onn,
    pnn,
    xdeepfm,
)
from ctrviz.models.registry import (
    MODELS,
    ModelSpec,
    config_fields,
    config_parts,
    count_parameters,
    create,
    get_spec,
    list_models,
    make_config,
    parse_overrides,
    prepare_data,
)

__all__ = ["MODELS", "ModelSpec", "config_fields", "config_parts", "count_parameters", "create", "get_spec",
           "list_models", "make_config", "parse_overrides", "prepare_data"]
