"""Shared building blocks: field embeddings, MLP (later: co-action unit, generalized interaction)."""

from ctrviz.nn.embedding import FieldEmbedding
from ctrviz.nn.mlp import MLP, make_activation

__all__ = ["FieldEmbedding", "MLP", "make_activation"]
