"""DIN — Deep Interest Network: attention-pool the behaviour sequence w.r.t. the target (a CAN baseline).

Reference: G. Zhou, X. Zhu, C. Song, Y. Fan, H. Zhu, X. Ma, Y. Yan, J. Jin, H. Li, K. Gai, "Deep Interest
Network for Click-Through Rate Prediction", KDD 2018 (arXiv:1706.06978). DIN and DIEN are the sequence
baselines of the CAN paper (Zhou et al., CAN Sec. 2 and Table 3).

Equation (DIN Eq. 3, the local activation unit): the user's interest w.r.t. candidate A is

    v_U(A) = f(v_A, e_1, …, e_H) = Σ_j a(e_j, v_A) · e_j = Σ_j w_j · e_j

with a(·) an MLP over [e_j, v_A, e_j − v_A, e_j ⊙ v_A] (the DIN code's form of the paper's "out product"),
and the weights w_j NOT softmax-normalised — the paper keeps Σ_j w_j as a measure of interest intensity.
Then, like the base model (CAN Eq. 1):  ŷ = MLP( E(other fields) ‖ v_U(A) ).

Which sequences (:class:`~ctrviz.nn.sequence.SequencePairs`): every ``Pair(target, sequence)`` whose feed
is a sequence field; parallel sequences (same T: hist_item and hist_cat describe the same clicks) are
concatenated along D, target item ‖ category against behaviour item ‖ category, as in the DIN/DIEN code,
giving one attention over width P·D. The used sequences are represented only by v_U(A); every other field
(targets included) is embedded as in :class:`~ctrviz.models.dnn.DNN` (other sequences sum-pooled).

Deviations from the paper: PReLU in the 200 × 80 head (CAN Sec. 5.1) instead of DIN's Dice (not
implemented); one logit + sigmoid instead of a 2-way softmax; no mini-batch aware regularisation; the
attention MLP is 80 × 40 sigmoid as in the DIN/DIEN code; ``att_softmax=True`` switches to softmax weights.
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
from ctrviz.nn.config import Config
from ctrviz.nn.mlp import Activation
from ctrviz.nn.sequence import SequencePairs, TargetAttention


@dataclass(frozen=True)
class DINConfig(Config):
    """Args: embed_dim D; hidden widths of the head (CAN: 200 × 80); activation; dropout; batch_norm;
    att_hidden / att_activation of the attention MLP (DIN code: 80 × 40, sigmoid); att_softmax (False: DIN's
    unnormalised weights); sequences: sequence fields to attend over (empty: every sequence pair); pooling of
    the other multi/sequence fields."""

    embed_dim: int = 16
    hidden: tuple[int, ...] = (200, 80)
    activation: Activation = "prelu"
    dropout: float = 0.0
    batch_norm: bool = False
    att_hidden: tuple[int, ...] = (80, 40)
    att_activation: Activation = "sigmoid"
    att_softmax: bool = False
    sequences: tuple[str, ...] = ()
    pooling: Literal["sum", "mean"] = "sum"

    def __post_init__(self) -> None:
        if not isinstance(self.sequences, tuple) or not all(isinstance(n, str) and n for n in self.sequences):
            raise ValueError(f"{type(self).__name__}.sequences must be a tuple of field names, got {self.sequences!r}")
        super().__post_init__()                            # the shared fields; CAN-DIEN's co-action options


@register("din", DINConfig, "Deep Interest Network: target attention over the behaviour sequence",
          "Zhou et al., DIN (KDD 2018) Eq. 3; CAN Table 3")
class DIN(nn.Module):
    """Deep Interest Network.

    Args:
        schema: the dataset's fields; needs a ``Pair(target, sequence)`` with a sequence feed.
        config: :class:`DINConfig`.

    Shape:
        Batch of B rows → logits (B,); :meth:`attention_scores` → (B, T).

    Example:
        >>> from ctrviz.data.schema import Field, Pair
        >>> s = Schema((Field("item", "sparse", vocab_size=6),
        ...             Field("hist", "sequence", vocab="item", vocab_size=6, max_len=3)), (Pair("item", "hist"),))
        >>> m = DIN(s, DINConfig(embed_dim=4, hidden=(8,)))
        >>> b = Batch(torch.tensor([[2], [3]]), torch.zeros(2, 0), {"hist": torch.tensor([[4, 5, 0], [0, 0, 0]])},
        ...           torch.zeros(2))
        >>> m(b).shape, m.attention_scores(b)[:, 2].tolist()   # padding gets weight 0
        (torch.Size([2]), [0.0, 0.0])
    """

    def __init__(self, schema: Schema, config: DINConfig) -> None:
        super().__init__()
        self.config = config
        D = config.embed_dim
        self.embedding = FieldEmbedding(schema, D, pooling=config.pooling)
        self.pairs = SequencePairs(self.embedding, config.sequences)
        width = len(self.pairs.feeds) * D                                   # P·D
        self.activation_unit = TargetAttention(width, config.att_hidden, config.att_activation, config.att_softmax)
        self.mlp = MLP(len(self.pairs.keep) * D + width, tuple(config.hidden), config.activation,
                       config.dropout, config.batch_norm, out_dim=1)

    def _target_and_history(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        table = self.embedding.table
        target = table(self.pairs.target_rows(batch)).flatten(1)            # (B, P) → (B, P, D) → (B, P·D)
        rows, mask = self.pairs.sequence_rows(batch)                        # (B, T, P), (B, T)
        return target, table(rows).flatten(2), mask                         # (B, T, P, D) → (B, T, P·D)

    def attention_scores(self, batch: Batch) -> Tensor:
        """DIN's weights w_j of each behaviour for each row's target: (B, T), 0 at padding. Not normalised
        (unless ``att_softmax``): their sum grows with the number of relevant behaviours."""
        target, hist, mask = self._target_and_history(batch)
        return self.activation_unit.weights(target, hist, mask)             # (B, T)

    def forward(self, batch: Batch) -> Tensor:
        others = self.embedding(batch)[:, self.pairs.keep].flatten(1)       # (B, F, D) → (B, F_o, D) → (B, F_o·D)
        target, hist, mask = self._target_and_history(batch)                # (B, P·D), (B, T, P·D), (B, T)
        interest, _ = self.activation_unit(target, hist, mask)              # (B, P·D) v_U(A)
        x = torch.cat([others, interest], 1)                                # (B, F_o·D + P·D)
        return self.mlp(x).squeeze(-1)                                      # (B, 1) → (B,)
