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
    """:class:`~ctrviz.models.gin.GINConfig` plus the architecture adaptation:

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


def select_gates(layers: Sequence[GINLayer], ratio: float, ranking: Ranking = "subspace") -> list[Tensor]:
    """G(α): keep the top ``ratio`` of |α| among each layer's existing pairs (its current gate), per group.

    Args:
        layers: trained GIN layers; ``alpha`` (S, n, m) and ``gate`` (S, n, m) each.
        ratio: r in (0, 1]; a group of c candidates keeps ⌈r·c⌉ (at least 1).
        ranking: ``"subspace"``, ``"layer"`` or ``"global"``.

    Returns:
        one 0/1 tensor per layer, shaped like its ``alpha``. Ties are broken by position (stable sort).

    Example:
        >>> layer = GINLayer(n_left=2, n_right=2, dim=1, subspaces=1)
        >>> with torch.no_grad():
        ...     _ = layer.alpha.copy_(torch.tensor([[[0.1, -3.0], [2.0, 0.5]]]))
        >>> select_gates([layer], ratio=0.5)[0].tolist()     # |α| = 3 and 2 kept
        [[[0.0, 1.0], [1.0, 0.0]]]
    """
    if not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio!r}")
    if ranking not in ("subspace", "layer", "global"):
        raise ValueError(f"ranking must be 'subspace', 'layer' or 'global', got {ranking!r}")
    # groups: lists of (layer index, subspace or None for all)
    if ranking == "subspace":
        groups = [[(li, s)] for li, layer in enumerate(layers) for s in range(layer.subspaces)]
    elif ranking == "layer":
        groups = [[(li, s) for s in range(layer.subspaces)] for li, layer in enumerate(layers)]
    else:
        groups = [[(li, s) for li, layer in enumerate(layers) for s in range(layer.subspaces)]]
    gates = [torch.zeros_like(layer.gate) for layer in layers]
    for group in groups:
        # candidates: every existing (gate > 0) pair in the group's subspaces, as flat positions
        scores, where = [], []
        for li, s in group:
            exists = layers[li].gate[s] > 0                               # (n, m)
            idx = exists.flatten().nonzero().squeeze(1)                  # (c_ls,)
            scores.append(layers[li].alpha.detach()[s].flatten()[idx].abs())
            where += [(li, s, int(i)) for i in idx]
        score = torch.cat(scores)                                        # (c,)
        keep = math.ceil(ratio * len(score) - 1e-9)
        order = torch.sort(-score, stable=True).indices[:max(1, keep)]
        for k in order.tolist():
            li, s, i = where[k]
            gates[li][s].view(-1)[i] = 1.0
    return gates


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
