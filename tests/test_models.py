"""Embeddings and the first models (LR, FM, DNN): values checked by hand or by brute force."""

from __future__ import annotations

import itertools

import pytest
import torch

from ctrviz.data import Batch, CTRData, Field, Pair, Schema
from ctrviz.models import MODELS, count_parameters, create, list_models, make_config, prepare_data
from ctrviz.nn import MLP, FieldEmbedding
from ctrviz.nn.pairs import fm_interaction


def schema() -> Schema:
    return Schema((Field("user", "sparse", vocab_size=4), Field("item", "sparse", vocab_size=6),
                   Field("hist", "sequence", vocab="item", vocab_size=6, max_len=3),
                   Field("genres", "multi", vocab_size=5, max_len=2), Field("price", "dense")),
                  pairs=(Pair("item", "hist"),), user_field="user")


def batch() -> Batch:
    return Batch(torch.tensor([[2, 3], [3, 5]]), torch.tensor([[0.5], [-2.0]]),
                 {"hist": torch.tensor([[4, 5, 0], [0, 0, 0]]), "genres": torch.tensor([[2, 3], [4, 0]])},
                 torch.tensor([1.0, 0.0]))


def test_field_embedding_layout_sharing_and_pooling():
    emb = FieldEmbedding(schema(), dim=3)
    w = emb.table.weight
    off = emb.table_offsets
    assert off == {"user": 0, "item": 4, "genres": 10} and w.shape == (15, 3)
    out = emb(batch())
    assert out.shape == (2, 5, 3) and emb.field_names() == ("user", "item", "hist", "genres", "price")
    assert torch.equal(out[0, 1], w[off["item"] + 3])                               # item 3
    assert torch.allclose(out[0, 2], w[off["item"] + 4] + w[off["item"] + 5])       # hist shares item rows
    assert torch.equal(out[1, 2], torch.zeros(3))                                   # empty history → 0
    assert torch.allclose(out[1, 3], w[off["genres"] + 4])                          # padding ignored
    assert torch.allclose(out[1, 4], -2.0 * emb.dense_weight[0])                    # dense: x · v


def test_field_embedding_mean_pooling_divides_by_real_length():
    emb = FieldEmbedding(schema(), dim=2, pooling="mean")
    w, off = emb.table.weight, emb.table_offsets["item"]
    out = emb(batch())
    assert torch.allclose(out[0, 2], (w[off + 4] + w[off + 5]) / 2)
    assert torch.equal(out[1, 2], torch.zeros(2))


def test_fm_interaction_equals_the_sum_over_pairs():
    e = torch.randn(4, 5, 3, dtype=torch.float64)
    brute = sum((e[:, i] * e[:, j]).sum(-1) for i, j in itertools.combinations(range(5), 2))
    assert torch.allclose(fm_interaction(e), brute, atol=1e-12)


def test_lr_is_the_sum_of_id_weights():
    m = create("lr", schema())
    with torch.no_grad():
        m.weights.table.weight.copy_(torch.arange(15, dtype=torch.float32)[:, None])
        m.weights.dense_weight.fill_(10.0)
        m.bias.fill_(0.25)
    # row 0: user 2 (→2) + item 3 (→7) + hist {4,5} (→8+9) + genres {2,3} (→12+13) + 10·0.5 + 0.25
    # row 1: user 3 (→3) + item 5 (→9) + hist {} + genres {4} (→14) + 10·(−2) + 0.25
    assert m(batch()).tolist() == [56.25, 6.25]
    assert count_parameters(m) == 15 + 1 + 1


def test_fm_adds_the_pairwise_term_to_lr():
    m = create("fm", schema(), {"embed_dim": 4})
    b = batch()
    e = m.embedding(b)
    assert torch.allclose(m(b), m.linear(b) + fm_interaction(e))


def test_dnn_parameter_count_matches_the_formula():
    s = schema()
    m = create("dnn", s, {"embed_dim": 4, "hidden": (8, 5)})
    emb = 15 * 4 + 1 * 4                       # table + dense vector
    mlp = (5 * 4 * 8 + 8) + (8 * 5 + 5) + (5 + 1) + 2   # linears + output + two PReLU slopes
    assert count_parameters(m) == emb + mlp
    assert m(batch()).shape == (2,)


def test_dnn_default_head_is_cans_200x80():
    m = create("dnn", schema())
    widths = [layer.out_features for layer in m.mlp.net if isinstance(layer, torch.nn.Linear)]
    assert widths == [200, 80, 1]


def test_every_registered_model_trains_one_step_and_learns_gradients():
    data = CTRData("toy", schema(), batch(), batch(), batch())
    for name in MODELS:
        prepared = prepare_data(name, data)
        m, b = create(name, prepared.schema), prepared.train
        loss = torch.nn.functional.binary_cross_entropy_with_logits(m(b), b.label)
        loss.backward()
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters()), name


def test_registry_errors_and_listing():
    with pytest.raises(ValueError, match="unknown model 'nope'; registered: .*dnn"):
        create("nope", schema())
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['embed_dims'\]"):
        make_config("dnn", {"embed_dims": 3})
    with pytest.raises(TypeError, match="config must be a DNNConfig"):
        make_config("dnn", 3)
    assert {"lr", "fm", "dnn"} <= set(list_models()["name"])


@pytest.mark.parametrize("make, match", [
    (lambda: MLP(0, (3,)), "widths must be >= 1"),
    (lambda: MLP(3, (3,), dropout=1.0), "dropout must be in"),
    (lambda: MLP(3, (3,), activation="gelu"), "activation must be one of"),
    (lambda: FieldEmbedding(schema(), dim=0), "dim must be >= 1"),
    (lambda: FieldEmbedding(schema(), dim=2, pooling="max"), "pooling must be"),
])
def test_building_block_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()
