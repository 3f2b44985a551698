"""NCF / NeuMF: a GMF branch (user ⊙ item) beside an MLP branch, fused by one linear layer.

Reference: X. He, L. Liao, H. Zhang, L. Nie, X. Hu, T.-S. Chua, "Neural Collaborative Filtering",
WWW 2017 — the ``NCF`` row of the CAN paper's Tables 3–4 (CAN ref. [7]).

Equations (He et al. Sec. 3.4, NeuMF with separate GMF and MLP embeddings):

    φ^GMF = p_u^G ⊙ q_i^G                                              (B, D_G)
    φ^MLP = a_L(W_Lᵀ(… a_2(W_2ᵀ [p_u^M; q_i^M] + b_2) …) + b_L)             (B, H_L)
    ŷ     = σ(hᵀ [φ^GMF; φ^MLP])

From one user id and one item id to a multi-field CTR schema (:func:`ncf_sides`):

- behaviour pairs = the ``schema.pairs`` whose feed field is a ``sequence`` (a user's history, CAN's
  item × hist_item); pairs of two context fields (synthetic data's planted pairs) say nothing about sides;
- item side I = the *induction* fields of the behaviour pairs (the candidate: ``item``, ``category``);
- user side U = ``schema.user_field`` plus their *feed* fields (who the user is and what they did:
  ``user``, ``hist_item``, ``hist_cat``);
- a schema without behaviour pairs or ``user_field`` falls back to NCF's own input: the first categorical field is
  the user, the second the item; ``NCFConfig.user_fields`` / ``item_fields`` override everything.

GMF sums each side's GMF embeddings, p_u^G = Σ_{f∈U} e_f^G and q_i^G = Σ_{f∈I} e_f^G, so
φ^GMF = Σ_{u∈U} Σ_{i∈I} e_u^G ⊙ e_i^G: every user-side × item-side Hadamard product (the user–item block
of NFM's bi-interaction), and with one field a side it is He et al.'s GMF exactly. The GMF table holds
rows for U ∪ I only. The MLP branch reads *every* field, U, I and the rest (context fields), each with
its own MLP embedding, concatenated.

Deviations from the paper: the MLP branch also sees the context fields (CAN feeds every baseline all
features); its tower is CAN's 200 × 80 PReLU head (shared by every CAN baseline) instead of NCF's
halving ReLU tower; no GMF/MLP pre-training; a side with several fields is a sum of field embeddings.
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


@dataclass(frozen=True)
class NCFConfig(Config):
    """Args: gmf_dim D_G (GMF's predictive factors); mlp_dim, the MLP branch's embedding width; hidden,
    activation, dropout, batch_norm of the MLP tower (CAN: 200 × 80 PReLU); user_fields / item_fields:
    both or neither, overriding the schema rule; pooling of sequence fields."""

    gmf_dim: int = 16
    mlp_dim: int = 16
    hidden: tuple[int, ...] = (200, 80)
    activation: Activation = "prelu"
    dropout: float = 0.0
    batch_norm: bool = False
    user_fields: tuple[str, ...] | None = None
    item_fields: tuple[str, ...] | None = None
    pooling: Literal["sum", "mean"] = "sum"

    def __post_init__(self) -> None:
        if not all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in (self.gmf_dim, self.mlp_dim)):
            raise ValueError(f"NCFConfig.gmf_dim and mlp_dim must be >= 1, got {self.gmf_dim!r}, {self.mlp_dim!r}")
        super().__post_init__()


def ncf_sides(schema: Schema, config: NCFConfig | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The (user side, item side) field names of ``schema`` (module docstring: the rule).

    Example:
        >>> from ctrviz.data.schema import Field, Pair
        >>> s = Schema((Field("user", "sparse", vocab_size=5), Field("item", "sparse", vocab_size=5),
        ...             Field("hist", "sequence", vocab="item", vocab_size=5, max_len=3),
        ...             Field("hour", "sparse", vocab_size=5)),
        ...            pairs=(Pair("item", "hist"), Pair("hour", "user")), user_field="user")
        >>> ncf_sides(s)                                 # hour × user is no behaviour pair: ignored
        (('user', 'hist'), ('item',))
        >>> ncf_sides(Schema(s.fields))                  # no pairs, no user_field: first two fields
        (('user',), ('item',))
    """
    config = config or NCFConfig()
    if (config.user_fields is None) != (config.item_fields is None):
        raise ValueError("NCFConfig.user_fields and item_fields go together: set both or neither")
    if config.user_fields is not None and config.item_fields is not None:
        user, item = tuple(config.user_fields), tuple(config.item_fields)
        for side, names in (("user_fields", user), ("item_fields", item)):
            unknown = [n for n in names if n not in schema]
            if unknown or not names:
                raise ValueError(f"NCFConfig.{side} must be a non-empty tuple of schema fields, got {names}; "
                                 f"known: {[f.name for f in schema.fields]}")
    else:
        behaviour = [p for p in schema.pairs if schema[p.feed].kind == "sequence"]
        item = tuple(dict.fromkeys(p.induction for p in behaviour))
        user_set = {p.feed for p in behaviour} | ({schema.user_field} if schema.user_field else set())
        user = tuple(f.name for f in schema.fields if f.name in user_set)
        if not user or not item:
            categorical = [f.name for f in schema.fields if f.kind != "dense"]
            if len(categorical) < 2:
                raise ValueError(f"NCF needs a user side and an item side; the schema has no behaviour pairs or "
                                 f"user_field and fewer than 2 categorical fields ({categorical}); set "
                                 "NCFConfig.user_fields and item_fields")
            user, item = (categorical[0],), (categorical[1],)
    if set(user) & set(item):
        raise ValueError(f"NCF: fields {sorted(set(user) & set(item))} are on both the user and the item side; "
                         "set NCFConfig.user_fields and item_fields")
    return user, item


@register("ncf", NCFConfig, "NeuMF: GMF (user ⊙ item) + MLP branch, fused linearly", "He et al., WWW 2017")
class NCF(nn.Module):
    """NeuMF over a multi-field schema.

    Args:
        schema: the dataset's fields.
        config: :class:`NCFConfig`.

    Attributes:
        user_fields, item_fields: the two GMF sides (:func:`ncf_sides`).

    Shape:
        Batch of B rows → logits (B,)

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("u", "sparse", vocab_size=4), Field("i", "sparse", vocab_size=4), Field("x", "dense")))
        >>> m = NCF(s, NCFConfig(gmf_dim=2, mlp_dim=3, hidden=(4,)))
        >>> m.user_fields, m.item_fields, m.head.in_features     # D_G + H_L = 2 + 4
        (('u',), ('i',), 6)
        >>> m(Batch(torch.tensor([[2, 3]]), torch.ones(1, 1), {}, torch.ones(1))).shape
        torch.Size([1])
    """

    def __init__(self, schema: Schema, config: NCFConfig) -> None:
        super().__init__()
        self.config = config
        self.user_fields, self.item_fields = ncf_sides(schema, config)
        keep = set(self.user_fields) | set(self.item_fields)
        gmf_schema = Schema(tuple(f for f in schema.fields if f.name in keep))
        self.gmf_embedding = FieldEmbedding(gmf_schema, config.gmf_dim, pooling=config.pooling)
        names = self.gmf_embedding.field_names()
        self.register_buffer("user_index", torch.tensor([names.index(n) for n in self.user_fields]), persistent=False)
        self.register_buffer("item_index", torch.tensor([names.index(n) for n in self.item_fields]), persistent=False)
        self.register_buffer("sparse_cols", torch.tensor(
            [schema.sparse_names.index(n) for n in gmf_schema.sparse_names], dtype=torch.long), persistent=False)
        self.register_buffer("dense_cols", torch.tensor(
            [schema.dense_names.index(n) for n in gmf_schema.dense_names], dtype=torch.long), persistent=False)
        self.mlp_embedding = FieldEmbedding(schema, config.mlp_dim, pooling=config.pooling)
        self.tower = MLP(self.mlp_embedding.num_fields * config.mlp_dim, tuple(config.hidden), config.activation,
                         config.dropout, config.batch_norm)
        self.head = nn.Linear(config.gmf_dim + self.tower.out_dim, 1)      # h

    def branches(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """φ^GMF (B, D_G) and φ^MLP (B, H_L), the two vectors ``head`` fuses."""
        sub = Batch(batch.sparse[:, self.sparse_cols], batch.dense[:, self.dense_cols], batch.seqs, batch.label)
        g = self.gmf_embedding(sub)                                        # (B, |U|+|I|, D_G)
        p_u = g[:, self.user_index].sum(1)                                 # (B, D_G)
        q_i = g[:, self.item_index].sum(1)                                 # (B, D_G)
        phi_mlp = self.tower(self.mlp_embedding(batch).flatten(1))         # (B, F, D_M) → (B, F·D_M) → (B, H_L)
        return p_u * q_i, phi_mlp

    def forward(self, batch: Batch) -> Tensor:
        phi_gmf, phi_mlp = self.branches(batch)                            # (B, D_G), (B, H_L)
        return self.head(torch.cat([phi_gmf, phi_mlp], 1)).squeeze(-1)    # (B, D_G + H_L) → (B, 1) → (B,)
