"""The multi-layer perceptron every deep CTR model ends in."""

from __future__ import annotations

import typing
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


def check_common_fields(config: object) -> None:
    """Check the fields many model configs share — ``embed_dim``, ``hidden``, ``activation``, ``dropout``,
    ``batch_norm``, ``pooling`` — wherever ``config`` has them; a ValueError naming ``<Config>.<field>``.

    :class:`~ctrviz.models.dnn.DNNConfig` runs it on construction; :func:`ctrviz.models.make_config` runs it on
    every registered config, so a config whose own ``__post_init__`` checks only its special fields is covered too.

    Example:
        >>> from dataclasses import dataclass
        >>> @dataclass
        ... class HeadConfig:
        ...     hidden: tuple = (8, 0)
        >>> check_common_fields(HeadConfig())
        Traceback (most recent call last):
        ...
        ValueError: HeadConfig.hidden: MLP widths must be >= 1 ints, in a tuple (() for none), got (8, 0)
    """
    name, has = type(config).__name__, vars(config)
    if "embed_dim" in has:
        if isinstance(config.embed_dim, bool) or not isinstance(config.embed_dim, int):
            raise ValueError(f"{name}.embed_dim must be an int >= 1, got {config.embed_dim!r}")
        if config.embed_dim < 1:
            raise ValueError(f"{name}.embed_dim must be >= 1, got {config.embed_dim}")
    if "hidden" in has and (not isinstance(config.hidden, tuple) or any(
            isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in config.hidden)):
        raise ValueError(f"{name}.hidden: MLP widths must be >= 1 ints, in a tuple (() for none), got "
                         f"{config.hidden!r}")
    if "activation" in has and config.activation not in typing.get_args(Activation):
        raise ValueError(f"{name}.activation must be one of {typing.get_args(Activation)}, got {config.activation!r}")
    if "dropout" in has and (isinstance(config.dropout, bool) or not isinstance(config.dropout, (int, float))
                             or not 0 <= config.dropout < 1):
        raise ValueError(f"{name}.dropout must be in [0, 1), got {config.dropout!r}")
    if "batch_norm" in has and not isinstance(config.batch_norm, bool):
        raise ValueError(f"{name}.batch_norm must be True or False, got {config.batch_norm!r}")
    if "pooling" in has and config.pooling not in ("sum", "mean"):
        raise ValueError(f"{name}.pooling must be 'sum' or 'mean', got {config.pooling!r}")
