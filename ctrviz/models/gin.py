"""GIN — Generalized Interaction Network, the model AOANet prunes (AOANet paper Sec. 3.3).

Reference: L. Lang et al., "Architecture and Operation Adaptive Network for Online Recommendations",
KDD 2021 (AOANet), Sec. 3.3, Fig. 2; Table 4 settings (Criteo: L = 2, S = 3).

Equations:

    B_0 = A = {a_1, …, a_n} = E(X)                                   (Eq. 6, one vector per field)
    P_l^s = h_l^sᵀ Σ_{(u,v) ∈ B_0 × B_{l-1}} α_{l,u,v}^s (u ⊗ v) ⊙ W_l^s   (Eq. 7–12)
          = Σ_{u,v} α_{l,u,v}^s v ⊙ (M_l^sᵀ u),   M_l^s = diag(h_l^s) W_l^s     (``ctrviz.nn.gin``'s fast path)
    B_l = {P_l^1, …, P_l^S},   l = 1..L                              (Eq. 13)
    H = MLP(concat(A))   (ReLU 512-256-64)                           (Eq. 14)
    Q = concat(P_L^1, …, P_L^S)                                      (Eq. 15)
    ŷ = σ(wᵀ concat(Q, H) + b),   w ∈ R^{D·S + |H|}                  (Eq. 16)

The interaction + fusion layer is :class:`ctrviz.nn.gin.GINLayer` (fast path by default, the literal
D×D maps with ``literal=True``). α layout: layer 1 ``alpha[s, u, v]`` is field u × field v; a later
layer's ``alpha[s, a, b]`` is field a of B_0 × subspace b of B_{l-1}. :meth:`GIN.interactions` lists
them as a DataFrame.

Pair order (``pair_order``). Eq. 8 reads ``C_l = {Z_{u,v} | (u,v) ∈ pairing(B_0, B_{l-1})}``: u ∈ B_0, v ∈ B_{l-1},
so P_l = Σ α x_{l-1} ⊙ (Mᵀ x_0) (``"eq8"``, the default). The proofs of Lemmas 3.1–3.2, which show GIN contains DCN
and DCN-M, "denote x_l = u, x_0 = v": u ∈ B_{l-1}, v ∈ B_0, so P_l = Σ α x_0 ⊙ (Mᵀ x_{l-1}), DCN-M's x_0 ⊙ (W^D x_l)
(``"lemma"``). Layer 1 pairs B_0 with itself and is the same in both; from layer 2 on, only the lemma order
can express a 2-layer DCN or DCN-M (``tests/test_gin_pairing.py``; Eq. 8's order leaves a residual).

Deviations from the paper: the paper gives no initialisation; here W^s starts near I and h^s near 1
(GIN starts close to a Hadamard-product model, Lemma A.2) and every α at ``alpha_init``, so the order
of |α| is learned, not drawn. ``alpha_l1`` (0 by default, as in the paper) adds λ·Σ|α| to the loss
for users who want sparser gates (AutoFIS uses a sparse optimizer for that). Sequence fields enter as
one pooled vector each; a dense field x as x·v. Eq. 8 and the lemmas' proofs disagree on which vector
of a pair is u for layers ≥ 2: both are offered (``pair_order``), Eq. 8's by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import pandas as pd
import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import MLP, FieldEmbedding
from ctrviz.nn.config import Config, check_positive
from ctrviz.nn.gin import GINLayer, Pairing, PairOrder, pair_mask
from ctrviz.nn.mlp import Activation


@dataclass(frozen=True)
class GINConfig(Config):
    """Args:
        embed_dim: D (AOANet Sec. 4.1: 16).
        layers: L interaction + fusion layers (Table 4: 2).
        subspaces: S per layer (Table 4: 3 on Criteo, 2 on Private).
        pairing: first-layer pairs, ``"all"`` (B_0 × B_0, the paper), ``"distinct"`` or ``"upper"``.
        pair_order: which vector of a pair is u in layers l ≥ 2 (layer 1 is B_0 × B_0 either way):
            ``"eq8"`` — Eq. 8, ``C_l = {Z_{u,v} | (u,v) ∈ pairing(B_0, B_{l-1})}``, u ∈ B_0, v ∈ B_{l-1}:
            P = Σ α x_{l-1} ⊙ (Mᵀ x_0), M = diag(h) W (the default, bit-identical to ctrviz before the switch);
            ``"lemma"`` — the proofs of Lemmas 3.1 and 3.2 ("Let us denote x_l = u, x_0 = v"), u ∈ B_{l-1},
            v ∈ B_0: P = Σ α x_0 ⊙ (Mᵀ x_{l-1}), the form of DCN-M's x_0 ⊙ (W^D x_l) (Eq. 23–26).
        alpha_init: starting value of every α.
        alpha_l1: λ of an optional L1 penalty λ·Σ|α| (0 = the paper).
        hidden, activation, dropout, batch_norm: the parallel deep network (Sec. 4.1: ReLU 512-256-64);
            ``hidden=()`` drops it.
        pooling: of sequence/multi fields.
        literal: use the literal D×D interaction maps instead of the fast path (teaching; slow).

    The part ``gin`` of :class:`~ctrviz.models.aoanet.AOANetConfig` (``--set gin.layers=1``).
    """

    part: ClassVar[str] = "gin"
    signed: ClassVar[frozenset[str]] = frozenset({"alpha_init"})
    embed_dim: int = 16
    layers: int = 2
    subspaces: int = 3
    pairing: Pairing = "all"
    pair_order: PairOrder = "eq8"
    alpha_init: float = 1.0
    alpha_l1: float = 0.0
    hidden: tuple[int, ...] = (512, 256, 64)
    activation: Activation = "relu"
    dropout: float = 0.0
    batch_norm: bool = False
    pooling: Literal["sum", "mean"] = "sum"
    literal: bool = False

    def __post_init__(self) -> None:
        check_positive(self, "embed_dim", "layers", "subspaces")
        if self.pairing not in ("all", "distinct", "upper"):
            raise ValueError(f"{type(self).__name__}.pairing must be 'all', 'distinct' or 'upper', "
                             f"got {self.pairing!r}")
        if self.pair_order not in ("eq8", "lemma"):
            raise ValueError(f"{type(self).__name__}.pair_order must be 'eq8' or 'lemma', got {self.pair_order!r}")
        if not isinstance(self.alpha_l1, (int, float)) or isinstance(self.alpha_l1, bool) or not self.alpha_l1 >= 0:
            raise ValueError(f"{type(self).__name__}.alpha_l1 must be a number >= 0, got {self.alpha_l1!r}")
        super().__post_init__()


@register("gin", GINConfig, "generalized interaction network: (u⊗v)⊙W fused by α in S subspaces + MLP",
          "Lang et al., KDD 2021 (AOANet) Sec. 3.3")
class GIN(nn.Module):
    """Generalized Interaction Network.

    Args:
        schema: the dataset's fields (at least two for ``pairing`` other than ``"all"``).
        config: :class:`GINConfig`.

    Attributes:
        gin_layers: the L :class:`~ctrviz.nn.gin.GINLayer` s; layer l has ``weight`` (S, D, D), ``h``
            (S, D), ``alpha`` and ``gate`` (S, n, n) for l = 1 and (S, n, S) after; layers ≥ 2 are
            ``swapped`` when ``pair_order="lemma"``.

    Shape:
        Batch of B rows → logits (B,); :meth:`fusion_outputs` → L tensors (B, S, D).

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema(tuple(Field(n, "sparse", vocab_size=5) for n in "abc"))
        >>> m = GIN(s, GINConfig(embed_dim=4, subspaces=2, hidden=(8,)))
        >>> [tuple(layer.alpha.shape) for layer in m.gin_layers]   # (S, fields, fields), (S, fields, S)
        [(2, 3, 3), (2, 3, 2)]
        >>> m(Batch(torch.tensor([[2, 3, 4]]), torch.zeros(1, 0), {}, torch.ones(1))).shape
        torch.Size([1])
    """

    def __init__(self, schema: Schema, config: GINConfig) -> None:
        super().__init__()
        self.config, self.schema = config, schema
        self.embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)
        n, D, S = self.embedding.num_fields, config.embed_dim, config.subspaces
        if config.pairing != "all" and n < 2:
            raise ValueError(f"GIN with pairing={config.pairing!r} needs at least 2 fields, the schema has {n}")
        swap = config.pair_order == "lemma"                        # layers ≥ 2: u ∈ B_{l-1}, v ∈ B_0
        self.gin_layers = nn.ModuleList(
            [GINLayer(n, n if li == 0 else S, D, S, config.pairing if li == 0 else "all", config.alpha_init,
                      swapped=swap and li > 0) for li in range(config.layers)])
        self.deep = MLP(n * D, tuple(config.hidden), config.activation, config.dropout, config.batch_norm) \
            if config.hidden else None
        self.out = nn.Linear(S * D + (config.hidden[-1] if config.hidden else 0), 1)   # w, b of Eq. 16

    def _layers(self, batch: Batch) -> tuple[Tensor, list[Tensor]]:
        x0 = self.embedding(batch)                                 # (B, n, D)
        outs, prev = [], x0
        for layer in self.gin_layers:
            prev = layer.forward_literal(x0, prev) if self.config.literal else layer(x0, prev)  # (B, S, D)
            outs.append(prev)
        return x0, outs

    def fusion_outputs(self, batch: Batch) -> list[Tensor]:
        """B_1, …, B_L: every layer's fused vectors P_l^s, each (B, S, D)."""
        return self._layers(batch)[1]

    def forward(self, batch: Batch) -> Tensor:
        x0, outs = self._layers(batch)                             # (B, n, D), L × (B, S, D)
        parts = [outs[-1].flatten(1)]                              # Q (B, S·D), Eq. 15
        if self.deep is not None:
            parts.append(self.deep(x0.flatten(1)))                 # H (B, |H|), Eq. 14
        return self.out(torch.cat(parts, 1)).squeeze(-1)           # (B, S·D + |H|) → (B,), Eq. 16

    def forward_with_aux(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        """Logits and the optional L1 penalty on α (``None`` when ``alpha_l1`` is 0)."""
        if not self.config.alpha_l1:
            return self(batch), None
        l1 = sum(layer.gated_alpha().abs().sum() for layer in self.gin_layers)
        return self(batch), self.config.alpha_l1 * l1

    def node_names(self, layer: int) -> tuple[list[str], list[str]]:
        """Names of the u (left) and v (right) vectors of ``layer`` (1-based): the fields of B_0 and B_{layer-1}
        (``P{l}.{s}``), in that order unless the layer is ``swapped`` (``pair_order="lemma"``, layers ≥ 2)."""
        fields = list(self.embedding.field_names())
        prev = fields if layer == 1 else [f"P{layer - 1}.{s}" for s in range(self.config.subspaces)]
        return (prev, fields) if self.gin_layers[layer - 1].swapped else (fields, prev)

    def interactions(self) -> pd.DataFrame:
        """Every α as a row: layer (1-based), subspace, left (u), right (v), alpha, kept (gate), for plotting.

        Rows follow α's layout (B_0 × B_{l-1}, row-major) in both pair orders; left is u (a field in Eq. 8's order,
        a P of B_{l-1} in a ``swapped`` layer). Pairs the pairing leaves out (``pairing="upper"`` etc.) are not listed.
        """
        rows = []
        for li, layer in enumerate(self.gin_layers, start=1):
            left, right = self.node_names(li)
            alpha = layer.alpha.detach().cpu().double()
            gate = layer.gate.cpu()
            exists = self._exists(li)
            for s, a, b in exists.nonzero().tolist():                  # a ∈ B_0, b ∈ B_{l-1}
                u, v = (b, a) if layer.swapped else (a, b)
                rows.append({"layer": li, "subspace": s, "left": left[u], "right": right[v],
                             "alpha": float(alpha[s, a, b]), "kept": bool(gate[s, a, b] > 0)})
        return pd.DataFrame(rows, columns=["layer", "subspace", "left", "right", "alpha", "kept"])

    def _exists(self, layer: int) -> Tensor:
        """(S, n, m) bool: the pairs ``pairing`` defines for ``layer`` (1-based), before any pruning."""
        lay = self.gin_layers[layer - 1]
        pairing = self.config.pairing if layer == 1 else "all"
        return pair_mask(lay.n_left, lay.n_right, pairing).bool().expand(lay.subspaces, -1, -1)
