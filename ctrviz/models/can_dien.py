"""CAN-DIEN — DIEN with co-action features (Zhou et al., "CAN: Feature Co-Action Network", Sec. 5.1–5.2, Table 3).

The CAN paper evaluates its co-action unit on two base models: the DNN (``can``, Eq. 3) and DIEN, "a
state-of-the-art method focusing on user interest, to evaluate the promotion of CAN on
sequence-oriented modeling". CAN-DIEN is DIEN (:mod:`ctrviz.models.dien`: interest extractor GRU with
its auxiliary loss, attention, AUGRU) whose head also receives the pooled co-action outputs
``{F(u_i, m_j)}`` of the induction × feed pairs (:mod:`ctrviz.nn.coaction`, CAN Eq. 5–11):

    ŷ = DNN( e_others, h'_T, {F(u_i, m_j)} )

Deviations from the paper: those of DIEN (uniform negatives for the auxiliary loss) and CAN (one logit).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.dien import DIEN, DIENConfig
from ctrviz.models.registry import register
from ctrviz.nn import MLP
from ctrviz.nn.coaction import CoAction, CoActionOptions


@dataclass(frozen=True)
class CANDIENConfig(DIENConfig, CoActionOptions):
    """DIEN's fields plus the co-action fields of :class:`~ctrviz.nn.coaction.CoActionOptions`."""


@register("can-dien", CANDIENConfig, "DIEN + co-action units of induction × feed pairs", "Zhou et al., CAN Table 3")
class CANDIEN(DIEN):
    """DIEN whose head also takes the co-action outputs.

    Args:
        schema: the dataset's fields (a sequence pair for DIEN; the co-action pairs from ``config.pairs``
            or the schema).
        config: :class:`CANDIENConfig`.

    Shape:
        Batch of B rows → logits (B,); :meth:`coaction_outputs` → (B, P, O); the rest as DIEN.

    Example:
        >>> from ctrviz.data.schema import Field, Pair
        >>> s = Schema((Field("item", "sparse", vocab_size=6),
        ...             Field("hist", "sequence", vocab="item", vocab_size=6, max_len=3)), (Pair("item", "hist"),))
        >>> m = CANDIEN(s, CANDIENConfig(embed_dim=4, hidden=(8,), micro_layers=(4, 2)))
        >>> b = Batch(torch.tensor([[2]]), torch.zeros(1, 0), {"hist": torch.tensor([[3, 4, 0]])}, torch.ones(1))
        >>> m(b).shape, m.coaction_outputs(b).shape
        (torch.Size([1]), torch.Size([1, 1, 2]))
    """

    def __init__(self, schema: Schema, config: CANDIENConfig) -> None:
        super().__init__(schema, config)
        self.coaction = CoAction(schema, config.coaction_pairs(), config.coaction(), main_embedding=self.embedding)
        first = self.mlp.net[0]
        width = first.in_features + len(self.coaction.pairs) * config.coaction().out_dim
        self.mlp = MLP(width, tuple(config.hidden), config.activation, config.dropout, config.batch_norm, out_dim=1)

    def coaction_outputs(self, batch: Batch) -> Tensor:
        """Pooled co-action outputs (B, P, O), pairs in ``self.coaction.names`` order."""
        with torch.no_grad():
            return self.coaction(batch)

    def _head_inputs(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        x, behaviours, h, mask = super()._head_inputs(batch)               # (B, F_o·D + H)
        co = self.coaction(batch).flatten(1)                                # (B, P, O) → (B, P·O)
        return torch.cat([x, co], 1), behaviours, h, mask                   # (B, F_o·D + H + P·O)
