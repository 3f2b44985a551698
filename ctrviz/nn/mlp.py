"""The multi-layer perceptron every deep CTR model ends in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from torch import Tensor, nn

Activation = Literal["relu", "prelu", "tanh", "sigmoid", "none"]
_ACTIVATIONS = {"relu": nn.ReLU, "prelu": nn.PReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "none": nn.Identity}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (``relu``, ``prelu``, ``tanh``, ``sigmoid``, ``none``)."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {name!r}")
    return _ACTIVATIONS[name]()


class MLP(nn.Module):
    """Stacked ``Linear → [BatchNorm] → activation → [Dropout]`` layers.

    Args:
        in_dim: input width.
        hidden: widths of the hidden layers, e.g. ``(200, 80)`` (CAN Sec. 5.1).
        activation: hidden-layer activation.
        dropout: dropout probability after each hidden layer.
        batch_norm: add BatchNorm1d before the activation.
        out_dim: if given, a final linear layer to this width with no activation (e.g. 1 logit).

    Shape:
        (B, in_dim) → (B, out_dim or hidden[-1] or in_dim)

    Example:
        >>> import torch
        >>> MLP(8, (4, 3), out_dim=1)(torch.zeros(5, 8)).shape
        torch.Size([5, 1])
    """

    def __init__(self, in_dim: int, hidden: Sequence[int] = (200, 80), activation: Activation = "relu",
                 dropout: float = 0.0, batch_norm: bool = False, out_dim: int | None = None) -> None:
        super().__init__()
        if in_dim < 1 or any(h < 1 for h in hidden):
            raise ValueError(f"MLP widths must be >= 1, got in_dim={in_dim}, hidden={tuple(hidden)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP.dropout must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers.append(nn.Linear(width, h))
            if batch_norm:
                layers.append(nn.BatchNorm1d(h))
            layers.append(make_activation(activation))
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = h
        if out_dim is not None:
            layers.append(nn.Linear(width, out_dim))
            width = out_dim
        self.out_dim = width
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

