"""CAN — Co-Action Network (Zhou et al., "CAN: Feature Co-Action Network for Click-Through Rate Prediction").

The base model's embeddings are kept (every field embedded, sequences sum-pooled — ctrviz's
:class:`~ctrviz.models.dnn.DNN`), and beside them the co-action outputs of the chosen induction × feed
pairs (:mod:`ctrviz.nn.coaction`) go into the same 200 × 80 head (Eq. 3):

    ŷ = DNN( e_item, e_user, {F(u_i, m_j)}_{u_i ∈ U_feed, m_j ∈ M_induction} | Θ )

trained with cross-entropy (Eq. 4). ``F`` is the co-action unit: the induction id's vector reshaped
into a micro-MLP (16→8→4, tanh, Sec. 5.1) that the feed id's vector runs through (Eq. 5–9), per
history position and sum-pooled (Eq. 10), over orders 1..3 of the feed (Eq. 11), with the three
independence levels of Sec. 4.4 as switches.

With ``layers=(D, 1), bias=False, activation="none", orders=1`` the unit's output is the inner product
⟨P_induction, P_feed⟩: the FM special case of Sec. 4.2 (checked in ``tests/test_can.py``).

Deviations from the paper: one sigmoid logit instead of a 2-way softmax; the DNN part uses PReLU as
the DIEN/CAN code does; only parameter independence is on by default, as the paper's public-dataset
experiments (Sec. 4.4). ``can-official`` (:class:`CANOfficial`) is the unit as the released code computes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import MLP, FieldEmbedding
from ctrviz.nn.coaction import CoAction, CoActionOptions
from ctrviz.nn.config import DeepConfig


@dataclass(frozen=True)
class CANConfig(DeepConfig, CoActionOptions):
    """The DNN part's fields (:class:`~ctrviz.nn.config.DeepConfig`: embed_dim, hidden 200 × 80, activation,
    dropout, batch_norm, pooling) and the :class:`CoActionOptions`."""


@register("can", CANConfig, "Co-Action Network: DNN + co-action units of induction × feed pairs",
          "Zhou et al., CAN Sec. 4")
class CAN(nn.Module):
    """CAN-DNN: the DNN base model plus co-action features.

    Args:
        schema: the dataset's fields; ``schema.pairs`` (or ``config.pairs``) name the co-action pairs.
        config: :class:`CANConfig`.

    Shape:
        Batch of B rows → logits (B,); :meth:`coaction_outputs` → (B, P, O)

    Example:
        >>> from ctrviz.data.schema import Field, Pair
        >>> s = Schema((Field("item", "sparse", vocab_size=6),
        ...             Field("hist", "sequence", vocab="item", vocab_size=6, max_len=4)), (Pair("item", "hist"),))
        >>> m = CAN(s, CANConfig(embed_dim=4, hidden=(8,), micro_layers=(4, 3, 2)))
        >>> b = Batch(torch.tensor([[2]]), torch.zeros(1, 0), {"hist": torch.tensor([[3, 4, 0, 0]])}, torch.ones(1))
        >>> m(b).shape, m.coaction_outputs(b).shape      # P = 1 pair, O = 3 + 2
        (torch.Size([1]), torch.Size([1, 1, 5]))
    """

    def __init__(self, schema: Schema, config: CANConfig) -> None:
        super().__init__()
        self.config = config
        self.embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)
        self.coaction = CoAction(schema, config.coaction_pairs(), config.coaction(), main_embedding=self.embedding)
        width = self.embedding.num_fields * config.embed_dim + len(self.coaction.pairs) * config.coaction().out_dim
        self.mlp = MLP(width, tuple(config.hidden), config.activation, config.dropout, config.batch_norm, out_dim=1)

    @property
    def pair_names(self) -> tuple[str, ...]:
        """``"induction×feed"`` names of the co-action pairs, in output order."""
        return self.coaction.names

    def coaction_outputs(self, batch: Batch, per_position: bool = False) -> Tensor | dict[str, Tensor]:
        """What the co-action units computed, for interpretation.

        Args:
            batch: rows on the model's device.
            per_position: ``False`` → the pooled outputs (B, P, O) that enter the DNN, pairs in
                :attr:`pair_names` order; ``True`` → ``{pair name: (B, T, O)}`` before pooling, zero at padding.
        """
        with torch.no_grad():
            return self.coaction.per_position(batch) if per_position else self.coaction(batch)

    def forward(self, batch: Batch) -> Tensor:
        e = self.embedding(batch).flatten(1)                 # (B, F·D)
        co = self.coaction(batch).flatten(1)                 # (B, P, O) → (B, P·O)
        return self.mlp(torch.cat([e, co], 1)).squeeze(-1)   # (B, F·D + P·O) → (B,)


@dataclass(frozen=True)
class CANOfficialConfig(CANConfig):
    """:class:`CANConfig` with the co-action unit of the released code as defaults: ``micro_bias=False``,
    ``micro_last_activation=False``, ``order_combine="concat"`` (:class:`CANOfficial`)."""

    micro_bias: bool = False
    micro_last_activation: bool = False
    order_combine: Literal["sum", "concat"] = "concat"


@register("can-official", CANOfficialConfig, "CAN as its official code: no micro-MLP bias, no last tanh, orders "
          "concatenated", "Zhou et al., CAN; CAN-Paper/Co-Action-Network script/model.py")
class CANOfficial(CAN):
    """CAN with the co-action unit of the official code, CAN-Paper/Co-Action-Network ``script/model.py``.

    Three things differ from the paper and from ``can``'s defaults, each a switch of
    :class:`~ctrviz.nn.coaction.CoActionOptions` that this preset sets:

    - **no micro-MLP bias** (``micro_bias=False``): ``weight_emb_b = [0, 0]``, so ``P_induction`` holds only the
      weights, D' = 16·8 + 8·4 = 160 (its ``WEIGHT_EMB_DIM``) instead of Eq. 5–6's 160 + 8 + 4 = 172;
    - **no tanh after the last layer** (``micro_last_activation=False``): ``gen_coaction`` applies ``tf.nn.tanh``
      only ``if j != len(weight)-1``; Eq. 8 applies σ to every layer;
    - **orders concatenated** (``order_combine="concat"``): every order's ``h_1 ‖ h_2`` is appended to one list
      and concatenated, 3 × (8 + 4) = 36 values per pair reach the DNN; Eq. 11 sums the orders to 12.

    The rest is ``can``'s and agrees with that code: micro-MLP 16→8→4 shared by the C = 3 orders (``order_indep =
    False``), feed powers P_feed^c, a separate feed table (parameter independence), one induction table per
    vocabulary, masked sum-pooling over the history, 200 × 80 PReLU head. Not reproduced: its TF default
    (Glorot-uniform) init of the tables (ctrviz keeps the paper's N(0, 0.01)) and the BatchNorm on the head's input
    (``bn1``); its batch size 128 and Adam lr 0.001 are training settings (:class:`~ctrviz.train.TrainConfig`).

    Args/Shape: as :class:`CAN` (config :class:`CANOfficialConfig`).

    Example:
        >>> from ctrviz.data.schema import Field, Pair
        >>> s = Schema((Field("item", "sparse", vocab_size=6),
        ...             Field("hist", "sequence", vocab="item", vocab_size=6, max_len=4)), (Pair("item", "hist"),))
        >>> m = CANOfficial(s, CANOfficialConfig(embed_dim=4, hidden=(8,)))
        >>> m.coaction.induction.weight.shape[1], m.config.coaction().out_dim     # D' = 160, O = 3 × (8 + 4)
        (160, 36)
    """
