"""Cartesian product and CAN + Cartesian — the rows "+ Cartesian" and "+ CAN + Cartesian" of CAN's Table 2.

Reference: Zhou et al., "CAN: Feature Co-Action Network for Click-Through Rate Prediction", Sec. 3
(Cartesian product: "treat feature combinations as new features and learn an embedding vector for
each feature combination directly") and Table 2.

For each induction × feed pair ``<A, B>`` the pair itself becomes a categorical field with its own
vocabulary built on the training split (:func:`ctrviz.data.cartesian.add_pair_ids`; unseen pairs →
OOV) and its own embedding; for a sequence feed the pair embeddings are sum-pooled over the history.
``cartesian`` is the DNN base model with these fields added (Eq. 2 with ``F(u_i, m_j) = E(<u_i, m_j>)``);
``can+cartesian`` is CAN with them added — Table 2's best row, at the largest parameter count.

The model classes are :class:`~ctrviz.models.dnn.DNN` and :class:`~ctrviz.models.can.CAN` themselves:
what differs is the data (the ``prepare`` step adds the pair fields), so they are registered with it.

Deviations from the paper: none beyond those of DNN and CAN.
"""

from __future__ import annotations

from dataclasses import dataclass

from ctrviz.data.batch import CTRData
from ctrviz.data.cartesian import add_pair_ids, pair_field_name
from ctrviz.data.schema import Pair, Schema
from ctrviz.models.can import CAN, CANConfig
from ctrviz.models.dnn import DNN, DNNConfig
from ctrviz.models.registry import register
from ctrviz.nn.config import check_positive


@dataclass(frozen=True)
class CartesianConfig(DNNConfig):
    """DNN's fields, plus: ``pairs`` to cross (``None`` = the schema's pairs) and the pair vocabulary's
    ``min_count``."""

    pairs: tuple[tuple[str, str], ...] | None = None
    min_count: int = 1

    def __post_init__(self) -> None:
        check_positive(self, "min_count")
        super().__post_init__()


@dataclass(frozen=True)
class CANCartesianConfig(CANConfig):
    """CAN's fields (its ``pairs`` are both the co-action and the Cartesian pairs), plus ``min_count``."""

    min_count: int = 1

    def __post_init__(self) -> None:
        check_positive(self, "min_count")
        super().__post_init__()


def _pairs(config: CartesianConfig | CANCartesianConfig) -> tuple[Pair, ...] | None:
    return None if config.pairs is None else tuple(Pair(*p) for p in config.pairs)


def _prepare(data: CTRData, config: CartesianConfig | CANCartesianConfig) -> CTRData:
    return add_pair_ids(data, _pairs(config), config.min_count)


def _check(schema: Schema, config: CartesianConfig | CANCartesianConfig) -> None:
    pairs = _pairs(config) or schema.pairs
    missing = [pair_field_name(p) for p in pairs if pair_field_name(p) not in schema]
    if missing:
        raise ValueError(f"the schema lacks the Cartesian fields {missing}: build the model on "
                         "ctrviz.models.prepare_data(name, data, config).schema (run_model does this)")


@register("cartesian", CartesianConfig, "DNN + Cartesian-product pair-id embeddings", "Zhou et al., CAN Sec. 3",
          prepare=_prepare)
class Cartesian(DNN):
    """DNN on data with Cartesian pair fields. Args/Shape as :class:`~ctrviz.models.dnn.DNN`."""

    def __init__(self, schema: Schema, config: CartesianConfig) -> None:
        _check(schema, config)
        super().__init__(schema, config)


@register("can+cartesian", CANCartesianConfig, "CAN + Cartesian-product pair-id embeddings",
          "Zhou et al., CAN Table 2", prepare=_prepare)
class CANCartesian(CAN):
    """CAN on data with Cartesian pair fields. Args/Shape as :class:`~ctrviz.models.can.CAN`."""

    def __init__(self, schema: Schema, config: CANCartesianConfig) -> None:
        _check(schema, config)
        super().__init__(schema, config)
