"""DIEN — Deep Interest Evolution Network: GRU interests, an auxiliary loss, and an attentional GRU (AUGRU).

Reference: G. Zhou, N. Mou, Y. Fan, Q. Pi, W. Bian, C. Zhou, X. Zhu, K. Gai, "Deep Interest Evolution
Network for Click-Through Rate Prediction", AAAI 2019 (arXiv:1809.03672). DIEN is the strongest baseline of
the CAN paper's Table 3 (Amazon book 0.8346, Taobao 0.9262), and CAN-DIEN = DIEN + co-action features.

Equations (DIEN Sec. 4; behaviours e_b[t], target e_a, all concatenated item ‖ category):

- interest extractor (Sec. 4.2), a GRU:  h_t = GRU(e_b[t], h_{t−1}),  h_t ∈ R^H with H = P·D.
- auxiliary loss (Sec. 4.2): L_aux = −1/N Σ_i Σ_t [ log σ(⟨h_t, e_b[t+1]⟩) + log(1 − σ(⟨h_t, ê_b[t+1]⟩)) ],
  ê_b a negative behaviour; total loss L = L_target + α · L_aux (α = ``aux_weight``, 1.0 in the DIEN code).
- attention (Sec. 4.3): a_t = softmax_t( score(h_t, e_a) ) over the real positions.
- interest evolving layer, AUGRU (Sec. 4.3): ũ'_t = a_t · u'_t,  h'_t = (1 − ũ'_t) ∘ h'_{t−1} + ũ'_t ∘ h̃'_t.
- ŷ = MLP( E(other fields) ‖ h'_T ), the 200 × 80 head of CAN Sec. 5.1.

Which sequences: as in :mod:`ctrviz.models.din` (:class:`~ctrviz.nn.sequence.SequencePairs`): the schema's
parallel ``Pair(target, sequence)`` pairs, concatenated along D; the GRU runs over the P·D-wide behaviours.

Deviations from the paper: negatives ê_b are drawn inside the model, uniformly from each sequence's
vocabulary (independently per field, ``torch.randint`` on the batch's device, not resampled if equal to the
positive) — the paper samples from the items the user did not click, which the data pipeline does not
provide; L_aux is averaged over the real (t, t+1) pairs rather than summed over t; the attention score is
DIN's MLP on [h_t, e_a, h_t − e_a, h_t ⊙ e_a] with softmax (the DIEN code's ``din_fcn_attention``) instead
of the paper's bilinear h_t W e_a; the final state is not concatenated with the sum-pooled history as the
DIEN code does; PReLU head, one logit + sigmoid.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isfinite

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.din import DINConfig
from ctrviz.models.registry import register
from ctrviz.nn import MLP, FieldEmbedding
from ctrviz.nn.sequence import AUGRU, SequencePairs, TargetAttention, auxiliary_loss, run_gru


@dataclass(frozen=True)
class DIENConfig(DINConfig):
    """DIN's fields (:class:`~ctrviz.models.din.DINConfig`), with att_softmax True as in DIEN, plus
    aux_weight α of L_aux (0 disables it)."""

    att_softmax: bool = True
    aux_weight: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        a = self.aux_weight
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not isfinite(a) or a < 0:
            raise ValueError(f"DIENConfig.aux_weight must be a finite number >= 0, got {a!r}")


@register("dien", DIENConfig, "Deep Interest Evolution Network: GRU + auxiliary loss + AUGRU",
          "Zhou et al., DIEN (AAAI 2019) Sec. 4; CAN Table 3")
class DIEN(nn.Module):
    """Deep Interest Evolution Network.

    Args:
        schema: the dataset's fields; needs a ``Pair(target, sequence)`` with a sequence feed.
        config: :class:`DIENConfig`.

    Shape:
        Batch of B rows → logits (B,); :meth:`forward_with_aux` → (logits (B,), α·L_aux ());
        :meth:`attention_scores` → (B, T).

    Example:
        >>> from ctrviz.data.schema import Field, Pair
        >>> s = Schema((Field("item", "sparse", vocab_size=6),
        ...             Field("hist", "sequence", vocab="item", vocab_size=6, max_len=3)), (Pair("item", "hist"),))
        >>> m = DIEN(s, DIENConfig(embed_dim=4, hidden=(8,)))
        >>> b = Batch(torch.tensor([[2], [3]]), torch.zeros(2, 0), {"hist": torch.tensor([[4, 5, 0], [0, 0, 0]])},
        ...           torch.zeros(2))
        >>> logits, aux = m.forward_with_aux(b)
        >>> logits.shape, aux.shape, m.attention_scores(b).sum(1).round(decimals=4).tolist()  # softmax; empty → 0
        (torch.Size([2]), torch.Size([]), [1.0, 0.0])
    """

    def __init__(self, schema: Schema, config: DIENConfig) -> None:
        super().__init__()
        self.config = config
        D = config.embed_dim
        self.embedding = FieldEmbedding(schema, D, pooling=config.pooling)
        self.pairs = SequencePairs(self.embedding, config.sequences)
        H = len(self.pairs.feeds) * D                                       # hidden = behaviour width P·D
        self.extractor = nn.GRU(H, H, batch_first=True)                     # interest extractor layer
        self.activation_unit = TargetAttention(H, config.att_hidden, config.att_activation, config.att_softmax)
        self.evolution = AUGRU(H, H)                                        # interest evolving layer
        self.mlp = MLP(len(self.pairs.keep) * D + H, tuple(config.hidden), config.activation,
                       config.dropout, config.batch_norm, out_dim=1)

    def _interests(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Target (B, H), behaviours (B, T, H), interest states h_t (B, T, H), mask (B, T)."""
        table = self.embedding.table
        target = table(self.pairs.target_rows(batch)).flatten(1)            # (B, P) → (B, P, D) → (B, H)
        rows, mask = self.pairs.sequence_rows(batch)                        # (B, T, P), (B, T)
        behaviours = table(rows).flatten(2)                                 # (B, T, P, D) → (B, T, H)
        h, _ = run_gru(self.extractor, behaviours, mask)                    # (B, T, H), 0 at padding
        return target, behaviours, h, mask

    def attention_scores(self, batch: Batch) -> Tensor:
        """a_t, the attention of the interest evolving layer: (B, T), softmax over each row's real steps
        (sums to 1; 0 at padding and for an empty history). How much each behaviour's interest state
        updates the AUGRU for this row's target."""
        target, _, h, mask = self._interests(batch)
        return self.activation_unit.weights(target, h, mask)                # (B, T)

    def _head_inputs(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The head's input (B, F_o·D + H) and, for the auxiliary loss, behaviours, h_t and the mask."""
        target, behaviours, h, mask = self._interests(batch)                # (B, H), (B, T, H), (B, T, H), (B, T)
        a = self.activation_unit.weights(target, h, mask)                   # (B, T)
        _, final = self.evolution(h, a, mask)                               # (B, H) h'_T
        others = self.embedding(batch)[:, self.pairs.keep].flatten(1)       # (B, F, D) → (B, F_o, D) → (B, F_o·D)
        return torch.cat([others, final], 1), behaviours, h, mask           # (B, F_o·D + H)

    def _logits(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        x, behaviours, h, mask = self._head_inputs(batch)
        return self.mlp(x).squeeze(-1), behaviours, h, mask                 # (B,)

    def forward(self, batch: Batch) -> Tensor:
        return self._logits(batch)[0]

    def forward_with_aux(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Logits (B,) and α · L_aux (scalar), with fresh uniform negatives; the trainer adds the two losses."""
        logits, behaviours, h, mask = self._logits(batch)
        if self.config.aux_weight == 0:
            return logits, logits.new_zeros(())
        B, T, _ = behaviours.shape
        negatives = self.embedding.table(self.pairs.random_rows(B, T)).flatten(2)  # (B, T, P) → (B, T, H)
        return logits, self.config.aux_weight * auxiliary_loss(h, behaviours, negatives, mask)
