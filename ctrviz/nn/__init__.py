"""Shared building blocks: field embeddings, MLP, generalized interaction (co-action, sequences: own modules)."""

from ctrviz.nn.embedding import FieldEmbedding
from ctrviz.nn.gin import GINLayer, generalized_interaction
from ctrviz.nn.mlp import MLP, make_activation

__all__ = ["FieldEmbedding", "GINLayer", "MLP", "generalized_interaction", "make_activation"]
