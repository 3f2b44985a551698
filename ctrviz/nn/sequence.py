"""Behaviour-sequence building blocks for DIN / DIEN (and CAN-DIEN): target attention, masked GRU, AUGRU.

References: G. Zhou et al., "Deep Interest Network for Click-Through Rate Prediction", KDD 2018 (DIN);
G. Zhou et al., "Deep Interest Evolution Network for Click-Through Rate Prediction", AAAI 2019 (DIEN).

Sequences in ctrviz are LEFT-aligned: the real behaviours come first (oldest first), 0-padding after, so
``lengths = mask.sum(1)`` and position ``lengths - 1`` is the most recent behaviour. Empty histories
(length 0) occur and never produce NaN here.

- :class:`TargetAttention` — DIN's local activation unit (DIN Eq. 3): a_j = MLP([e_j, v_A, e_j − v_A,
  e_j ⊙ v_A]), pooled v_U(A) = Σ_j a_j e_j. As in DIN the weights are *not* softmax-normalised
  ("the normalization with softmax on the output of a(·) is abandoned"); ``softmax=True`` normalises them
  over the real positions (DIEN's attention in the interest evolving layer).
- :func:`run_gru` — an ``nn.GRU`` over left-aligned padded sequences: the GRU is causal, so its outputs at
  real positions equal those of the unpadded sequence; padding outputs are zeroed and the final state is
  the output at position length − 1 (zeros for an empty history). No packing, no host sync.
- :class:`AUGRUCell` / :class:`AUGRU` — DIEN's GRU with attentional update gate (Sec. 4.3):
  ũ_t = a_t · u_t,  h_t = (1 − ũ_t) ∘ h_{t−1} + ũ_t ∘ h̃_t. With a_t = 0 the state is kept; with a_t = 1
  it is a plain GRU step. Parameters are laid out exactly as ``torch.nn.GRUCell`` (gates r, z, n; PyTorch's
  z is the *keep* gate, so DIEN's u_t = 1 − z_t).
- :func:`auxiliary_loss` — DIEN's interest-extractor loss L_aux (Sec. 4.2), masked for padding.
- :class:`SequencePairs` — which ``Pair(target, sequence)`` of a schema the models read, as table rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import FIRST_ID, PAD_ID
from ctrviz.nn.embedding import FieldEmbedding
from ctrviz.nn.mlp import MLP, Activation


class TargetAttention(nn.Module):
    """DIN's local activation unit: a weight per behaviour from [e_j, v_A, e_j − v_A, e_j ⊙ v_A].

    Args:
        dim: D of the behaviour and target vectors.
        hidden: hidden widths of the scoring MLP (DIN/DIEN code: 80 × 40).
        activation: its activation (the DIN/DIEN code uses sigmoid).
        softmax: ``False`` (DIN): raw scores, padding set to 0; ``True``: softmax over real positions.

    Shape:
        query (B, D), keys (B, T, D), mask (B, T) bool → pooled (B, D), weights (B, T).
        Padding gets weight 0; an empty history gives weights 0 and a zero pooled vector.

    Example:
        >>> att = TargetAttention(2, hidden=())
        >>> pooled, w = att(torch.ones(1, 2), torch.ones(1, 3, 2), torch.tensor([[True, True, False]]))
        >>> pooled.shape, w[0, 2].item()
        (torch.Size([1, 2]), 0.0)
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (80, 40), activation: Activation = "sigmoid",
                 softmax: bool = False) -> None:
        super().__init__()
        self.softmax = softmax
        self.mlp = MLP(4 * dim, tuple(hidden), activation, out_dim=1)

    def weights(self, query: Tensor, keys: Tensor, mask: Tensor) -> Tensor:
        """The attention weight of each position: (B, T), 0 at padding."""
        q = query.unsqueeze(1).expand_as(keys)                              # (B, T, D)
        feats = torch.cat([keys, q, keys - q, keys * q], -1)                # (B, T, 4D)
        scores = self.mlp(feats).squeeze(-1)                                # (B, T)
        if self.softmax:  # finfo.min, not -inf: an all-padding row stays finite (uniform, then zeroed)
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min).softmax(-1)  # (B, T)
        return scores.masked_fill(~mask, 0.0)                               # (B, T)

    def forward(self, query: Tensor, keys: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        w = self.weights(query, keys, mask)                                 # (B, T)
        # b: batch, t: position, d: embedding
        return torch.einsum("bt,btd->bd", w.to(keys.dtype), keys), w        # (B, D), (B, T)


def run_gru(gru: nn.GRU, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Run a ``batch_first`` ``nn.GRU`` over left-aligned padded sequences.

    Args:
        gru: a one-direction ``nn.GRU(..., batch_first=True)``.
        x: (B, T, D) inputs; mask: (B, T) bool, real positions first.

    Returns:
        outputs (B, T, H) with padding positions zeroed, and the final state (B, H) = the output at the
        last real position (zeros for an empty history) — equal to running the GRU on each unpadded row.

    Example:
        >>> gru = nn.GRU(2, 3, batch_first=True)
        >>> out, last = run_gru(gru, torch.randn(2, 4, 2), torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]]).bool())
        >>> out.shape, last[1].abs().sum().item()
        (torch.Size([2, 4, 3]), 0.0)
    """
    if not gru.batch_first or gru.bidirectional:
        raise ValueError("run_gru needs a one-direction nn.GRU with batch_first=True")
    out, _ = gru(x)                                                         # (B, T, H)
    out = out * mask.unsqueeze(-1).to(out.dtype)                            # (B, T, H) padding zeroed
    last = (mask.sum(1) - 1).clamp_min(0)                                   # (B,) index of last real step
    final = out.gather(1, last.view(-1, 1, 1).expand(-1, 1, out.shape[-1])).squeeze(1)  # (B, H)
    return out, final                                                       # empty row: out[:, 0] = 0


class AUGRUCell(nn.Module):
    """One AUGRU step (DIEN Sec. 4.3): a GRU whose update gate is scaled by the attention score a_t.

    Parameters ``weight_ih`` (3H, I), ``weight_hh`` (3H, H), ``bias_ih``, ``bias_hh`` (3H,) in the order and
    initialisation of ``torch.nn.GRUCell``, so ``cell.load_state_dict(gru_cell.state_dict())`` works.

    Shape:
        x (B, I), h (B, H), a (B,) → (B, H)

    Example:
        >>> cell, h = AUGRUCell(2, 3), torch.randn(4, 3)
        >>> torch.equal(cell(torch.randn(4, 2), h, torch.zeros(4)), h)   # a = 0 keeps the state
        True
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        ref = nn.GRUCell(input_size, hidden_size)  # borrow GRUCell's init: U(−1/√H, 1/√H)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.weight_ih, self.weight_hh = nn.Parameter(ref.weight_ih.detach()), nn.Parameter(ref.weight_hh.detach())
        self.bias_ih, self.bias_hh = nn.Parameter(ref.bias_ih.detach()), nn.Parameter(ref.bias_hh.detach())

    def project(self, x: Tensor) -> Tensor:
        """Input part of the three gates, for any leading shape: (..., I) → (..., 3H)."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def step(self, gi: Tensor, h: Tensor, a: Tensor) -> Tensor:
        """One step from projected inputs ``gi`` (B, 3H), state ``h`` (B, H) and attention ``a`` (B,)."""
        gh = F.linear(h, self.weight_hh, self.bias_hh)                      # (B, 3H)
        i_r, i_z, i_n = gi.chunk(3, -1)                                     # 3 × (B, H)
        h_r, h_z, h_n = gh.chunk(3, -1)                                     # 3 × (B, H)
        r = torch.sigmoid(i_r + h_r)                                        # reset gate r_t
        u = 1 - torch.sigmoid(i_z + h_z)                                    # DIEN's update gate u_t = 1 − z_t
        n = torch.tanh(i_n + r * h_n)                                       # candidate h̃_t
        u = a.unsqueeze(-1).to(u.dtype) * u                                 # (B, H) ũ_t = a_t · u_t
        return h + u * (n - h)                                              # (1 − ũ) ∘ h + ũ ∘ h̃

    def forward(self, x: Tensor, h: Tensor, a: Tensor) -> Tensor:
        return self.step(self.project(x), h, a)


class AUGRU(nn.Module):
    """DIEN's interest evolving layer: :class:`AUGRUCell` over left-aligned sequences.

    The attention is multiplied by the mask, so padding steps leave the state unchanged and the state after
    the last step is the state at the last real behaviour (zeros, the initial state, for an empty history).
    One Python loop over the T time steps (a recurrence); batch rows run together.

    Shape:
        x (B, T, I), attention (B, T), mask (B, T) → outputs (B, T, H) (0 at padding), final state (B, H)

    Example:
        >>> out, last = AUGRU(2, 3)(torch.randn(2, 4, 2), torch.ones(2, 4), torch.ones(2, 4, dtype=torch.bool))
        >>> out.shape, torch.equal(out[:, -1], last)
        (torch.Size([2, 4, 3]), True)
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.cell = AUGRUCell(input_size, hidden_size)

    def forward(self, x: Tensor, attention: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        B = x.shape[0]
        gi = self.cell.project(x)                                           # (B, T, 3H) all steps at once
        a = attention * mask.to(attention.dtype)                            # (B, T) 0 at padding
        # the state is kept in float32 (float64 for float64 inputs) even under bf16 autocast: T updates
        h = x.new_zeros(B, self.cell.hidden_size, dtype=torch.promote_types(x.dtype, torch.float32))  # (B, H)
        outs = []
        for gi_t, a_t in zip(gi.unbind(1), a.unbind(1), strict=True):      # unbind: one backward, not T
            h = self.cell.step(gi_t, h, a_t)                                # (B, H)
            outs.append(h)
        out = torch.stack(outs, 1) * mask.unsqueeze(-1).to(h.dtype)         # (B, T, H)
        return out, h


def auxiliary_loss(h: Tensor, positive: Tensor, negative: Tensor, mask: Tensor) -> Tensor:
    """DIEN's L_aux (Sec. 4.2): h_t should score the next real behaviour above a sampled negative.

    loss = mean over real pairs (t, t+1) of  −log σ(⟨h_t, e_{t+1}⟩) − log(1 − σ(⟨h_t, ê_{t+1}⟩)).

    Args:
        h: (B, T, H) interest states; positive, negative: (B, T, H) behaviour / negative embeddings.
        mask: (B, T) bool; pair (t, t+1) counts when position t+1 is real. Rows with < 2 behaviours
            contribute nothing; no counted pair at all → 0.

    Example:
        >>> h, e = torch.zeros(1, 3, 2), torch.zeros(1, 3, 2)
        >>> round(auxiliary_loss(h, e, e, torch.ones(1, 3, dtype=torch.bool)).item(), 4)   # 2 log 2
        1.3863
    """
    # b: batch, t: position, h: hidden
    pos = torch.einsum("bth,bth->bt", h[:, :-1], positive[:, 1:]).float()   # (B, T-1) ⟨h_t, e_{t+1}⟩
    neg = torch.einsum("bth,bth->bt", h[:, :-1], negative[:, 1:]).float()   # (B, T-1) ⟨h_t, ê_{t+1}⟩
    w = mask[:, 1:].float()                                                 # (B, T-1)
    loss = (F.softplus(-pos) + F.softplus(neg)) * w                        # (B, T-1) −log σ(s), −log(1 − σ(s))
    return loss.sum() / w.sum().clamp_min(1.0)


class SequencePairs(nn.Module):
    """The schema's ``Pair(target, sequence)`` pairs that a sequence model reads, as embedding-table rows.

    Rule: every pair whose feed is a ``"sequence"`` field (or only those named in ``names``) is used, and the
    pairs are *parallel*: their sequences must share max_len T (hist_item and hist_cat describe the same
    events), so targets and behaviours are concatenated along D — item ‖ category, as in the DIN/DIEN code.
    The padding mask is the first sequence's. Targets must be sparse fields.

    Args:
        embedding: the model's :class:`~ctrviz.nn.FieldEmbedding` (its table offsets are read, not stored).
        names: sequence field names to use; empty: all sequence pairs.

    Attributes: ``targets``, ``feeds`` (field names, P each), ``max_len`` T, ``keep`` (buffer, (F_o,)):
    positions of ``embedding.field_names()`` that are not used sequences (the "other" fields).

    Example:
        >>> from ctrviz.data.schema import Field, Pair, Schema
        >>> from ctrviz.nn import FieldEmbedding
        >>> s = Schema((Field("item", "sparse", vocab_size=5),
        ...             Field("hist", "sequence", vocab="item", vocab_size=5, max_len=3)), (Pair("item", "hist"),))
        >>> sp = SequencePairs(FieldEmbedding(s, 2))
        >>> sp.feeds, sp.keep.tolist()
        (('hist',), [0])
    """

    def __init__(self, embedding: FieldEmbedding, names: Sequence[str] = ()) -> None:
        super().__init__()
        schema = embedding.schema
        seq = [p for p in schema.pairs if schema[p.feed].kind == "sequence"]
        if not seq:
            raise ValueError(f"this model needs a Pair(target, sequence) whose feed is a 'sequence' field; the "
                             f"schema's pairs are {[(p.induction, p.feed) for p in schema.pairs]} and its sequence "
                             f"fields {list(schema.names('sequence'))}")
        unknown = sorted(set(names) - {p.feed for p in seq})
        if unknown:
            raise ValueError(f"sequences {unknown} are not the feed of a sequence pair; choose from "
                             f"{[p.feed for p in seq]}")
        pairs = [p for p in seq if not names or p.feed in names]
        lens = {p.feed: schema[p.feed].max_len for p in pairs}
        if len(set(lens.values())) > 1:
            raise ValueError(f"parallel sequences must share max_len, got {lens}; pick one length with "
                             "the config's `sequences` field")
        bad = [p.induction for p in pairs if schema[p.induction].kind != "sparse"]
        if bad:
            raise ValueError(f"the target of a sequence pair must be a sparse field, got {bad}")
        self.targets = tuple(p.induction for p in pairs)
        self.feeds = tuple(p.feed for p in pairs)
        self.max_len = lens[self.feeds[0]]
        off = embedding.table_offsets

        def buf(name: str, values: list[int]) -> None:
            self.register_buffer(name, torch.tensor(values, dtype=torch.long), persistent=False)
        buf("target_cols", [schema.sparse_names.index(n) for n in self.targets])
        buf("target_offsets", [off[schema[n].table] for n in self.targets])
        buf("feed_offsets", [off[schema[n].table] for n in self.feeds])
        buf("feed_span", [schema[n].vocab_size - FIRST_ID for n in self.feeds])
        buf("keep", [i for i, n in enumerate(embedding.field_names()) if n not in self.feeds])

    def target_rows(self, batch: Batch) -> Tensor:
        """Table rows of the targets: (B, P)."""
        return batch.sparse[:, self.target_cols] + self.target_offsets      # (B, P)

    def sequence_rows(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """Table rows of the behaviours (B, T, P) and the padding mask (B, T) (True = real)."""
        ids = torch.stack([batch.seqs[n] for n in self.feeds], -1)          # (B, T, P)
        return ids + self.feed_offsets, ids[..., 0] != PAD_ID                # (B, T, P), (B, T)

    def random_rows(self, *shape: int) -> Tensor:
        """Uniform known ids (≥ FIRST_ID) of each sequence's vocabulary, independently: (*shape, P) rows."""
        r = torch.randint(0, 2**62, (*shape, len(self.feeds)), device=self.feed_span.device)  # (*shape, P)
        return r % self.feed_span + FIRST_ID + self.feed_offsets            # (*shape, P)
