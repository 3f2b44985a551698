"""Helpers several test modules share (test modules never import each other): a small schema with every kind
of field, a batch for it, deterministic weights, and field vectors computed by loops."""

from __future__ import annotations

import torch

from ctrviz.data import Batch, Field, Pair, Schema
from ctrviz.data.schema import PAD_ID
from ctrviz.nn import FieldEmbedding


def schema() -> Schema:
    """5 fields of every kind: sparse user/item, a history sharing item's vocabulary, a multi field, a dense one."""
    return Schema((Field("user", "sparse", vocab_size=4), Field("item", "sparse", vocab_size=6),
                   Field("hist", "sequence", vocab="item", vocab_size=6, max_len=3),
                   Field("genres", "multi", vocab_size=5, max_len=2), Field("price", "dense")),
                  pairs=(Pair("item", "hist"),), user_field="user")


def batch(dtype: torch.dtype = torch.float64) -> Batch:
    return Batch(torch.tensor([[2, 3], [3, 5]]), torch.tensor([[0.5], [-2.0]], dtype=dtype),
                 {"hist": torch.tensor([[4, 5, 0], [0, 0, 0]]), "genres": torch.tensor([[2, 3], [4, 0]])},
                 torch.tensor([1.0, 0.0]))


def hand_weights(module: torch.nn.Module) -> None:
    """Deterministic, distinct values for every parameter: 0.1·sin(1, 2, 3, …), float64."""
    module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.1 * torch.sin(torch.arange(1, p.numel() + 1, dtype=torch.float64)).view_as(p))


def brute_fields(emb: FieldEmbedding, b: Batch) -> list[list[torch.Tensor]]:
    """Field vectors by loops over rows, fields and positions, straight from the table: out[row][field]."""
    w, s = emb.table.weight, emb.schema
    out = []
    for r in range(len(b)):
        row = [w[emb.table_offsets[s[n].table] + int(b.sparse[r, k])] for k, n in enumerate(s.sparse_names)]
        for n in s.seq_names:
            row.append(sum((w[emb.table_offsets[s[n].table] + int(t)] for t in b.seqs[n][r] if t != PAD_ID),
                           torch.zeros(w.shape[1], dtype=w.dtype)))
        row += [b.dense[r, k] * emb.dense_weight[k] for k in range(len(s.dense_names))]
        out.append(row)
    return out
