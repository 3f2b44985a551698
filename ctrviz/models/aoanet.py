"""AOANet — GIN with architecture adaptation: select interactions by |α|, prune, re-train (Sec. 3.5).

Reference: L. Lang et al., "Architecture and Operation Adaptive Network for Online Recommendations",
KDD 2021, Sec. 3.5; Table 4 (Criteo: L = 2, S = 3, r = 0.3; Private: L = 2, S = 2, r = 0.2).

Two stages (DARTS/AutoFIS-style, as the paper says):

1. **Selection.** Train :class:`~ctrviz.models.gin.GIN` with α trainable (Eq. 42): P = hᵀ Σ α_{u,v} Z_{u,v}.
2. **Re-train.** Rank the interactions by |α|, keep the top fraction r, fix the gate G(α) ∈ {0, 1} and
   train again under the pruned architecture (Eq. 43): P = hᵀ Σ G(α) α_{u,v} Z_{u,v}; α of the kept
   interactions stays trainable.

Ranking groups (``AOANetConfig.ranking``): ``"subspace"`` (default) keeps the top r of every layer's
every subspace; ``"layer"`` of every layer; ``"global"`` of all α at once. The default is per subspace
because α is only comparable there: scaling α^s by c and h^s by 1/c leaves P^s unchanged, so the
α of two subspaces (or layers) carry arbitrary relative scales. Each group keeps ⌈r·count⌉ ≥ 1.

``retrain``: ``"scratch"`` (default) rewinds every weight to the selection stage's *initial* values
and trains under the gate, as DARTS and AutoFIS re-train from scratch; ``"warm"`` continues from the
selection stage's trained weights.

Analysis beside the model: :func:`select_from_alpha` (G(α) from α and the pair layout) is called by both
:func:`select_gates` (the selection stage) and :func:`kept_at_ratio` (a table, no model); :func:`pair_importance`
ranks field pairs by Σ|α|, :func:`planted_pair_ranks` finds the synthetic data's planted pairs in that ranking.

Deviations from the paper: the paper does not say how α are grouped for ranking nor how the re-train
stage is initialised; both are options here (defaults above). The selection stage uses the same
:class:`~ctrviz.train.TrainConfig` as the re-train stage.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from ctrviz.data.schema import Schema
from ctrviz.models.gin import GIN, GINConfig
from ctrviz.models.registry import register
from ctrviz.nn.gin import GINLayer

Ranking = Literal["subspace", "layer", "global"]


@dataclass(frozen=True)
class AOANetConfig(GINConfig):
    """:class:`~ctrviz.models.gin.GINConfig` (``pair_order`` included) plus the architecture adaptation:

    Args:
        ratio: r, the fraction of interactions kept (Table 4: 0.3 on Criteo).
        ranking: ``"subspace"``, ``"layer"`` or ``"global"`` (module docstring).
        retrain: ``"scratch"`` (rewind to the initial weights) or ``"warm"`` (keep the selection's).
    """

    ratio: float = 0.3
    ranking: Ranking = "subspace"
    retrain: Literal["scratch", "warm"] = "scratch"

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.ratio, bool) or not isinstance(self.ratio, (int, float)) or not 0 < self.ratio <= 1:
            raise ValueError(f"AOANetConfig.ratio must be in (0, 1], got {self.ratio!r}")
        if self.ranking not in ("subspace", "layer", "global"):
            raise ValueError(f"AOANetConfig.ranking must be 'subspace', 'layer' or 'global', got {self.ranking!r}")
        if self.retrain not in ("scratch", "warm"):
            raise ValueError(f"AOANetConfig.retrain must be 'scratch' or 'warm', got {self.retrain!r}")

    def gin(self) -> GINConfig:
        """The selection stage's GIN config (every field GIN has)."""
        return GINConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(GINConfig)})


def select_from_alpha(alphas: Sequence[Tensor | np.ndarray], exists: Sequence[Tensor | np.ndarray], ratio: float,
                      ranking: Ranking = "subspace") -> list[Tensor]:
    """G(α) (Eq. 43) as a pure function of α and the pair layout: the top ``ratio`` of |α| per ranking group.

    The one implementation of AOANet's selection: :func:`select_gates` (the selection stage) and
    :func:`kept_at_ratio` (a table, no model) both call it, so they cannot disagree.

    Args:
        alphas: one α (S, n, m) per layer (tensors or arrays; only |α| is used).
        exists: one (S, n, m) mask per layer, true (or > 0) where the pair exists (GIN's ``gate``: the pairing,
            times an earlier selection); only those pairs are candidates.
        ratio: r in (0, 1]; a group of c candidates keeps ⌈r·c⌉ (at least 1).
        ranking: ``"subspace"`` (a group per layer and subspace), ``"layer"`` (per layer) or ``"global"`` (one).

    Returns:
        one 0/1 tensor per layer, shaped like its α (α's float dtype and device). Ties are broken by position:
        layer, then subspace, then row-major (u, v) (a stable sort).

    Example:
        >>> alpha = torch.tensor([[[0.1, -3.0], [2.0, 0.5]]])                   # S = 1, 2 × 2 pairs
        >>> select_from_alpha([alpha], [torch.ones(1, 2, 2)], 0.5)[0].tolist()   # ⌈0.5·4⌉ = 2: |α| = 3 and 2
        [[[0.0, 1.0], [1.0, 0.0]]]
        >>> select_from_alpha([alpha], [torch.tensor([[[1, 0], [1, 1]]])], 0.34)[0].tolist()  # ⌈0.34·3⌉ = 2 of 3
        [[[0.0, 0.0], [1.0, 1.0]]]
    """
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio!r}")
    if ranking not in ("subspace", "layer", "global"):
        raise ValueError(f"ranking must be 'subspace', 'layer' or 'global', got {ranking!r}")
    alphas = [torch.as_tensor(a).detach() for a in alphas]
    exists = [torch.as_tensor(e) for e in exists]
    if len(alphas) != len(exists) or not alphas:
        raise ValueError(f"select_from_alpha needs one α and one mask per layer, got {len(alphas)} and {len(exists)}")
    for li, (a, e) in enumerate(zip(alphas, exists, strict=True), start=1):
        if a.dim() != 3 or a.shape != e.shape:
            raise ValueError(f"layer {li}: α must be (S, n, m) and its exists mask the same shape, got "
                             f"{tuple(a.shape)} and {tuple(e.shape)}")
    # groups: lists of (layer index, subspace)
    if ranking == "subspace":
        groups = [[(li, s)] for li, a in enumerate(alphas) for s in range(a.shape[0])]
    elif ranking == "layer":
        groups = [[(li, s) for s in range(a.shape[0])] for li, a in enumerate(alphas)]
    else:
        groups = [[(li, s) for li, a in enumerate(alphas) for s in range(a.shape[0])]]
    gates = [torch.zeros(a.shape, dtype=a.dtype if a.is_floating_point() else torch.get_default_dtype(),
                         device=a.device) for a in alphas]
    for group in groups:
        # candidates: every existing pair in the group's subspaces, as flat positions
        scores, where = [], []
        for li, s in group:
            idx = (exists[li][s] > 0).flatten().nonzero().squeeze(1)        # (c_ls,)
            scores.append(alphas[li][s].flatten()[idx].abs())
            where += [(li, s, int(i)) for i in idx]
        score = torch.cat(scores)                                        # (c,)
        keep = math.ceil(ratio * len(score) - 1e-9)
        order = torch.sort(-score, stable=True).indices[:max(1, keep)]
        for k in order.tolist():
            li, s, i = where[k]
            gates[li][s].view(-1)[i] = 1.0
    return gates


def select_gates(layers: Sequence[GINLayer], ratio: float, ranking: Ranking = "subspace") -> list[Tensor]:
    """G(α) of trained GIN layers: :func:`select_from_alpha` of their ``alpha``, their current ``gate`` the layout.

    Args:
        layers: trained GIN layers; ``alpha`` (S, n, m) and ``gate`` (S, n, m) each.
        ratio, ranking: as :func:`select_from_alpha`.

    Returns:
        one 0/1 tensor per layer, shaped like its ``alpha`` (the gate's dtype and device).

    Example:
        >>> layer = GINLayer(n_left=2, n_right=2, dim=1, subspaces=1)
        >>> with torch.no_grad():
        ...     _ = layer.alpha.copy_(torch.tensor([[[0.1, -3.0], [2.0, 0.5]]]))
        >>> select_gates([layer], ratio=0.5)[0].tolist()     # |α| = 3 and 2 kept
        [[[0.0, 1.0], [1.0, 0.0]]]
    """
    gates = select_from_alpha([layer.alpha for layer in layers], [layer.gate for layer in layers], ratio, ranking)
    return [g.to(layer.gate) for g, layer in zip(gates, layers, strict=True)]


# ---------------------------------------------------------------- analysis of an interactions table ------------


def pair_importance(interactions: pd.DataFrame, layer: int = 1) -> pd.DataFrame:
    """Rank the unordered field pairs of a GIN/AOANet layer by Σ |α| over subspaces and both orders.

    Args:
        interactions: :meth:`ctrviz.models.gin.GIN.interactions` or ``AOANet.selection`` (columns layer,
            subspace, left, right, alpha, kept).
        layer: which layer (1 = field × field).

    Returns:
        one row per unordered pair {a, b} (a = b included when the pairing has it): a, b, importance
        (Σ_s |α_s,ab| + |α_s,ba|), kept (any subspace/order kept), rank (1 = largest), sorted by rank.

    Example:
        >>> t = pd.DataFrame({"layer": 1, "subspace": 0, "left": ["x", "y", "x"], "right": ["y", "x", "x"],
        ...                   "alpha": [0.5, -2.0, 1.0], "kept": [False, True, False]})
        >>> pair_importance(t)[["a", "b", "importance", "rank"]].values.tolist()
        [['x', 'y', 2.5, 1], ['x', 'x', 1.0, 2]]
    """
    t = interactions[interactions.layer == layer]
    a = [min(u, v) for u, v in zip(t.left, t.right, strict=True)]
    b = [max(u, v) for u, v in zip(t.left, t.right, strict=True)]
    out = (t.assign(a=a, b=b, importance=t.alpha.abs())
           .groupby(["a", "b"], as_index=False).agg(importance=("importance", "sum"), kept=("kept", "any"))
           .sort_values(["importance", "a", "b"], ascending=[False, True, True], ignore_index=True))
    out["rank"] = range(1, len(out) + 1)
    return out


def kept_at_ratio(interactions: pd.DataFrame, ratio: float, ranking: Ranking) -> pd.Series:
    """The ``kept`` column :func:`select_gates` would set at ``ratio``, every listed α a candidate.

    For "what if r were 0.1?" on a trained model's :meth:`~ctrviz.models.gin.GIN.interactions` table, without
    the model: per layer, the table's α (as float32, like the model's) with its listed (left, right) pairs as the
    layout, in the table's row order, go to :func:`select_from_alpha`. ``GIN.interactions`` lists the pairs in the
    model's row-major order, so ties break as they do in the model, whatever the pairing.

    Args:
        interactions: columns layer, subspace, left, right, alpha (one row per pair and subspace).
        ratio: r in (0, 1].
        ranking: ``"subspace"``, ``"layer"`` or ``"global"``.

    Returns:
        a bool Series on ``interactions``' index.

    Example:
        >>> t = pd.DataFrame({"layer": 1, "subspace": 0, "left": ["a", "a", "b"], "right": ["a", "b", "a"],
        ...                   "alpha": [0.1, -3.0, 2.0]})
        >>> kept_at_ratio(t, 0.5, "subspace").tolist()                 # ⌈0.5·3⌉ = 2: |α| = 3 and 2
        [False, True, True]
    """
    alphas, exists, where = [], [], []
    for li in sorted(pd.unique(interactions["layer"]).tolist()):
        t = interactions[interactions["layer"] == li]
        pairs = list(zip(t["left"], t["right"], strict=True))
        column = {pair: i for i, pair in enumerate(dict.fromkeys(pairs))}  # each pair in first-seen (model) order
        s = torch.tensor(t["subspace"].to_numpy(dtype=np.int64))
        p = torch.tensor([column[pair] for pair in pairs], dtype=torch.int64)
        shape = (int(s.max()) + 1, 1, len(column))                         # (S, 1, pairs): row-major = table order
        alpha, listed = torch.zeros(shape), torch.zeros(shape, dtype=torch.bool)
        alpha[s, 0, p] = torch.tensor(t["alpha"].to_numpy(dtype=np.float32))
        listed[s, 0, p] = True
        alphas.append(alpha)
        exists.append(listed)
        where.append((t.index, s, p))
    gates = select_from_alpha(alphas, exists, ratio, ranking)
    kept = pd.Series(False, index=interactions.index)
    for gate, (index, s, p) in zip(gates, where, strict=True):
        kept.loc[index] = (gate[s, 0, p] > 0).numpy()
    return kept


def planted_pair_ranks(interactions: pd.DataFrame, planted: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """Where the synthetic data's planted pairs land in :func:`pair_importance` (layer 1).

    Returns:
        one row per planted pair: a, b, rank (1 = top |α|), of (number of pairs), importance, kept.

    Example:
        >>> t = pd.DataFrame({"layer": 1, "subspace": 0, "left": ["x", "y", "x"], "right": ["y", "x", "x"],
        ...                   "alpha": [0.5, -2.0, 1.0], "kept": [False, True, False]})
        >>> planted_pair_ranks(t, [("y", "x")])[["a", "b", "rank", "of", "kept"]].values.tolist()
        [['x', 'y', 1, 2, True]]
    """
    ranked = pair_importance(interactions)
    rows = []
    for u, v in planted:
        hit = ranked[(ranked.a == min(u, v)) & (ranked.b == max(u, v))]
        if hit.empty:
            raise ValueError(f"planted pair ({u!r}, {v!r}) is not among the layer-1 interactions")
        rows.append({"a": min(u, v), "b": max(u, v), "rank": int(hit["rank"].iloc[0]), "of": len(ranked),
                     "importance": float(hit.importance.iloc[0]), "kept": bool(hit.kept.iloc[0])})
    return pd.DataFrame(rows)


@register("aoanet", AOANetConfig, "GIN pruned to the top-r interactions by |α|, then re-trained",
          "Lang et al., KDD 2021 (AOANet) Sec. 3.5",
          stage=lambda model, fit: model.selection_stage(fit))
class AOANet(GIN):
    """GIN whose gates are set by a selection stage (:meth:`selection_stage`).

    Built by :func:`~ctrviz.models.create` it is a GIN with every gate open; :func:`ctrviz.experiments.run_model`
    runs :meth:`selection_stage` (train a GIN, prune) before training it — the re-train stage.

    Args:
        schema: the dataset's fields.
        config: :class:`AOANetConfig`.

    Attributes:
        selection: after :meth:`selection_stage`, a DataFrame (layer, subspace, left, right, alpha, kept)
            with the selection stage's α and the decision; ``None`` before.

    Shape:
        Batch of B rows → logits (B,)

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema(tuple(Field(n, "sparse", vocab_size=5) for n in "abc"))
        >>> m = AOANet(s, AOANetConfig(embed_dim=2, subspaces=1, layers=1, hidden=(), ratio=0.5))
        >>> with torch.no_grad():
        ...     _ = m.gin_layers[0].alpha.copy_(torch.arange(9.).view(1, 3, 3))
        >>> m.set_gates(select_gates(m.gin_layers, 0.5))
        >>> m.interactions().query("kept")[["left", "right", "alpha"]].values.tolist()   # the top ⌈4.5⌉
        [['b', 'b', 4.0], ['b', 'c', 5.0], ['c', 'a', 6.0], ['c', 'b', 7.0], ['c', 'c', 8.0]]
    """

    def __init__(self, schema: Schema, config: AOANetConfig) -> None:
        super().__init__(schema, config)
        self.selection: pd.DataFrame | None = None

    def set_gates(self, gates: Sequence[Tensor]) -> None:
        """Fix G(α) (Eq. 43): one 0/1 tensor per layer, shaped like its ``alpha``, within its pairing."""
        if len(gates) != len(self.gin_layers):
            raise ValueError(f"set_gates needs one gate per layer ({len(self.gin_layers)}), got {len(gates)}")
        for li, (layer, g) in enumerate(zip(self.gin_layers, gates, strict=True), start=1):
            if g.shape != layer.alpha.shape:
                raise ValueError(f"gate of layer {li} must have shape {tuple(layer.alpha.shape)}, got {tuple(g.shape)}")
            if not bool(((g == 0) | (g == 1)).all()) or bool((g > self._exists(li)).any()):
                raise ValueError(f"gate of layer {li} must be 0/1 and only open pairs the pairing has")
            layer.gate.copy_(g.to(layer.gate))

    def selection_stage(self, fit: Callable[[nn.Module, str], dict[str, float]]) -> dict[str, float]:
        """Stage 1: train a GIN from this model's current (initial) weights, rank |α|, set the gates.

        With ``retrain="warm"`` this model also takes the trained GIN's weights.

        Args:
            fit: ``fit(module, stage_name) -> test metrics (with "seconds")`` trains ``module`` on the
                experiment's data (:func:`ctrviz.experiments.run_model` passes a :class:`~ctrviz.train.Trainer`
                whose checkpoints, if any, go to a ``selection/`` subfolder). Models never import the trainer.

        Returns:
            extra result columns: ``selection_auc`` / ``selection_logloss`` (the GIN's test metrics),
            ``selection_seconds`` and ``kept_fraction``.
        """
        gin = GIN(self.schema, self.config.gin()).to(next(self.parameters()).device)
        gin.load_state_dict(self.state_dict())
        result = fit(gin, "selection")
        gates = select_gates(gin.gin_layers, self.config.ratio, self.config.ranking)
        if self.config.retrain == "warm":
            self.load_state_dict(gin.state_dict())
        self.set_gates(gates)
        table = gin.interactions()
        table["kept"] = self.interactions()["kept"].to_numpy()
        self.selection = table
        return {"selection_auc": result["auc"], "selection_logloss": result["logloss"],
                "selection_seconds": result["seconds"], "kept_fraction": float(table["kept"].mean())}
