"""The co-action unit and CAN, checked against a brute-force re-computation and the FM special case;
the Cartesian product features by hand."""

from __future__ import annotations

import pytest
import torch

from ctrviz.data import Batch, CTRData, Field, Pair, Schema
from ctrviz.data.cartesian import add_pair_ids
from ctrviz.models import count_parameters, create, prepare_data
from ctrviz.nn import FieldEmbedding
from ctrviz.nn.coaction import CoAction, CoActionConfig


def schema() -> Schema:
    return Schema((Field("user", "sparse", vocab_size=5), Field("item", "sparse", vocab="item", vocab_size=7),
                   Field("cat", "sparse", vocab_size=4),
                   Field("hist", "sequence", vocab="item", vocab_size=7, max_len=4),
                   Field("hist_cat", "sequence", vocab="cat", vocab_size=4, max_len=3)),
                  pairs=(Pair("item", "hist"), Pair("cat", "hist_cat"), Pair("item", "user")))


def batch() -> Batch:
    return Batch(torch.tensor([[2, 3, 2], [4, 6, 3], [3, 2, 2]]), torch.zeros(3, 0),
                 {"hist": torch.tensor([[2, 5, 6, 0], [0, 0, 0, 0], [3, 3, 4, 5]]),
                  "hist_cat": torch.tensor([[2, 3, 0], [3, 0, 0], [0, 0, 0]])},
                 torch.tensor([1.0, 0.0, 1.0]))


def reference(unit: CoAction, b: Batch) -> torch.Tensor:
    """The unit re-computed row by row, pair by pair, position by position, order by order (Eq. 5–11)."""
    cfg, s = unit.config, unit.schema
    feed_table = unit.feed.weight if unit.main_embedding is None else unit.main_embedding.table.weight
    d_ind = cfg.induction_dim
    rows = []
    for r in range(len(b)):
        pair_outs = []
        for k, p in enumerate(unit.pairs):
            ind_id = b.sparse[r, s.sparse_names.index(p.induction)]
            w_all = unit.induction.weight[unit.ind_offsets[k] + ind_id]
            f = s[p.feed]
            ids = b.seqs[p.feed][r] if f.kind == "sequence" else b.sparse[r, s.sparse_names.index(p.feed)][None]
            bucket = unit.buckets.index(len(ids))
            j = getattr(unit, f"pairs_{bucket}").tolist().index(k)
            feed_off = getattr(unit, f"feed_off_{bucket}")[j]
            per_order = []
            for c in range(1, cfg.orders + 1):
                wv = w_all[(c - 1) * d_ind:c * d_ind] if cfg.order_independence else w_all
                total = torch.zeros(sum(cfg.layers[1:]))
                for t in ids.tolist():
                    if t == 0:
                        continue
                    h, pos, outs = feed_table[feed_off + t] ** c, 0, []
                    for i, o in zip(cfg.layers[:-1], cfg.layers[1:], strict=True):
                        h = h @ wv[pos:pos + i * o].reshape(i, o)
                        pos += i * o
                        if cfg.bias:
                            h = h + wv[pos:pos + o]
                            pos += o
                        h = torch.tanh(h) if cfg.activation == "tanh" else h
                        outs.append(h)
                    total = total + torch.cat(outs)
                per_order.append(total)
            pair_outs.append(sum(per_order) if cfg.order_combine == "sum" else torch.cat(per_order))
        rows.append(torch.stack(pair_outs))
    return torch.stack(rows)


@pytest.mark.parametrize("cfg", [
    CoActionConfig(layers=(3, 4, 2), orders=3, init_std=0.5),
    CoActionConfig(layers=(3, 2), bias=False, activation="none", orders=2, order_combine="concat", init_std=0.5),
    CoActionConfig(layers=(3, 4, 2), orders=2, combination_independence=True, order_independence=True, init_std=0.5),
])
def test_unit_equals_the_brute_force_recomputation(cfg):
    torch.manual_seed(0)
    unit = CoAction(schema(), config=cfg)
    b = batch()
    out = unit(b)
    assert out.shape == (3, 3, cfg.out_dim)
    assert torch.allclose(out, reference(unit, b), atol=1e-5)


@torch.no_grad()
def test_fm_special_case_is_the_inner_product():
    """Sec. 4.2: a one-layer 1×D micro-MLP, no bias, no activation, order 1 → ⟨P_induction, P_feed⟩."""
    torch.manual_seed(1)
    s = schema()
    unit = CoAction(s, config=CoActionConfig(layers=(5, 1), bias=False, activation="none", orders=1, init_std=1.0))
    b = batch()
    out = unit(b)[:, :, 0]                                                     # (B, P)
    ind = unit.induction.weight
    item_col, user_col = 1, 0
    for r in range(3):
        v_item = ind[unit.ind_offsets[0] + b.sparse[r, item_col]]
        hist = [t for t in b.seqs["hist"][r].tolist() if t]
        feed_off = getattr(unit, f"feed_off_{unit.buckets.index(4)}")[0]      # hist: the length-4 bucket
        fm = sum(torch.dot(v_item, unit.feed.weight[feed_off + t]) for t in hist) if hist else torch.tensor(0.0)
        assert abs(out[r, 0].item() - float(fm)) < 1e-6
        v_user = unit.feed.weight[unit.feed_off_0[0] + b.sparse[r, user_col]]  # bucket 0: single ids
        assert abs(out[r, 2].item() - torch.dot(ind[unit.ind_offsets[2] + b.sparse[r, item_col]], v_user).item()) < 1e-6


def test_padding_and_empty_histories_contribute_nothing_and_positions_sum_to_the_pooled_output():
    unit = CoAction(schema(), config=CoActionConfig(layers=(3, 4, 2), init_std=0.5))
    b = batch()
    per = unit.per_position(b)
    assert list(per) == ["item×hist", "cat×hist_cat", "item×user"]
    assert per["item×hist"].shape == (3, 4, 6) and per["item×user"].shape == (3, 1, 6)
    assert torch.equal(per["item×hist"][0, 3], torch.zeros(6))                # padding position
    assert torch.equal(per["item×hist"][1], torch.zeros(4, 6))                # empty history
    pooled = torch.stack([v.sum(1) for v in per.values()], 1)
    assert torch.allclose(pooled, unit(b), atol=1e-6)


def test_independence_levels_change_the_tables_as_section_4_4_says():
    s, cfg = schema(), CoActionConfig(layers=(4, 3, 2), orders=3)
    d_ind = 4 * 3 + 3 + 3 * 2 + 2                                              # Eq. 6: Σ |w_i| + |b_i| = 23
    assert cfg.induction_dim == d_ind
    shared = CoAction(s, config=cfg)                                           # item's table serves 2 pairs
    assert shared.induction.weight.shape == (7 + 4, d_ind)
    assert shared.feed.weight.shape == (7 + 4 + 5, 4)                          # item (hist), cat, user
    comb = CoAction(s, config=CoActionConfig(layers=(4, 3, 2), orders=3, combination_independence=True))
    assert comb.induction.weight.shape == (7 + 4 + 7, d_ind)                   # one table per pair
    order = CoAction(s, config=CoActionConfig(layers=(4, 3, 2), orders=3, order_independence=True))
    assert order.induction.weight.shape == (7 + 4, 3 * d_ind)                  # one P_induction per order
    main = FieldEmbedding(s, 4)
    tied = CoAction(s, config=CoActionConfig(layers=(4, 3, 2), parameter_independence=False), main_embedding=main)
    assert not hasattr(tied, "feed") and tied(batch()).shape == (3, 3, 5)
    with pytest.raises(ValueError, match="pass main_embedding with dim == layers\\[0\\] \\(4\\)"):
        CoAction(s, config=CoActionConfig(layers=(4, 3, 2), parameter_independence=False),
                 main_embedding=FieldEmbedding(s, 8))


@pytest.mark.parametrize("make, match", [
    (lambda: CoActionConfig(layers=(4,)), "needs the feed dim and >= 1 layer width"),
    (lambda: CoActionConfig(orders=0), "orders must be an int >= 1"),
    (lambda: CoActionConfig(activation="relu"), "must be 'tanh' or 'none'"),
    (lambda: CoActionConfig(order_combine="mean"), "order_combine"),
    (lambda: CoAction(schema(), pairs=(Pair("hist", "item"),)), "induction field must be a sparse field"),
    (lambda: CoAction(Schema((Field("a", "sparse", vocab_size=3),))), "needs at least one induction × feed pair"),
    (lambda: create("can", schema(), {"pairs": (("item", "nope"),)}), "feed field must be a categorical field"),
])
def test_coaction_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_can_feeds_embeddings_and_coaction_outputs_to_the_head():
    s = schema()
    m = create("can", s, {"embed_dim": 4, "hidden": (8,), "micro_layers": (4, 3, 2)})
    b = batch()
    assert m(b).shape == (3,) and m.pair_names == ("item×hist", "cat×hist_cat", "item×user")
    assert m.mlp.net[0].in_features == 5 * 4 + 3 * 5                           # F·D + P·O
    assert torch.equal(m.coaction_outputs(b), m.coaction(b))
    dnn = create("dnn", s, {"embed_dim": 4, "hidden": (8,)})
    extra = count_parameters(m) - count_parameters(dnn)
    assert extra == m.coaction.induction.weight.numel() + m.coaction.feed.weight.numel() + 3 * 5 * 8


# -- Cartesian product ---------------------------------------------------------------------------
def test_pair_ids_are_fitted_on_train_and_unseen_pairs_are_oov():
    s = schema()
    train = batch()
    test = Batch(torch.tensor([[2, 3, 2], [2, 5, 2]]), torch.zeros(2, 0),
                 {"hist": torch.tensor([[2, 6, 0, 0], [2, 0, 0, 0]]), "hist_cat": torch.zeros(2, 3, dtype=torch.long)},
                 torch.tensor([1.0, 0.0]))
    out = add_pair_ids(CTRData("toy", s, train, train, test), pairs=(Pair("item", "hist"), Pair("item", "user")))
    assert out.schema.seq_names == ("hist", "hist_cat", "<item,hist>")
    assert out.schema.sparse_names[-1] == "<item,user>"
    # training keys item·7 + hist: row 0 (3, {2,5,6}) → 23, 26, 27; row 2 (2, {3,3,4,5}) → 17, 17, 18, 19
    # sorted vocabulary 17, 18, 19, 23, 26, 27 → ids 2..7
    assert out.train.seqs["<item,hist>"].tolist() == [[5, 6, 7, 0], [0, 0, 0, 0], [2, 2, 3, 4]]
    assert out.test.seqs["<item,hist>"].tolist() == [[5, 7, 0, 0], [1, 0, 0, 0]]   # (5, 2) never seen → OOV
    assert out.schema["<item,hist>"].vocab_size == 6 + 2 and out.info["cartesian"]["<item,hist>"] == 6
    rare = add_pair_ids(CTRData("toy", s, train, train, test), pairs=(Pair("item", "hist"),), min_count=2)
    assert rare.train.seqs["<item,hist>"].tolist() == [[1, 1, 1, 0], [0, 0, 0, 0], [2, 2, 1, 1]]
    with pytest.raises(ValueError, match="pairs were added before"):
        add_pair_ids(out, pairs=(Pair("item", "hist"),))
    with pytest.raises(ValueError, match="min_count must be an int >= 1"):
        add_pair_ids(CTRData("toy", s, train, train, test), min_count=0)


def test_cartesian_models_need_the_prepared_schema_and_cost_more_parameters():
    s = schema()
    data = CTRData("toy", s, batch(), batch(), batch())
    with pytest.raises(ValueError, match="lacks the Cartesian fields"):
        create("cartesian", s)
    prepared = prepare_data("cartesian", data)
    cart, dnn = create("cartesian", prepared.schema), create("dnn", s)
    assert count_parameters(cart) > count_parameters(dnn)
    assert cart(prepared.train).shape == (3,)
    both = create("can+cartesian", prepare_data("can+cartesian", data).schema)
    assert both.pair_names == ("item×hist", "cat×hist_cat", "item×user")


def test_can_dien_adds_the_coaction_outputs_to_dien_head():
    s = Schema((Field("item", "sparse", vocab="item", vocab_size=7),
                Field("hist", "sequence", vocab="item", vocab_size=7, max_len=4)), pairs=(Pair("item", "hist"),))
    b = Batch(torch.tensor([[2], [3]]), torch.zeros(2, 0), {"hist": torch.tensor([[2, 5, 6, 0], [0, 0, 0, 0]])},
              torch.tensor([1.0, 0.0]))
    cfg = {"embed_dim": 4, "hidden": (8,), "micro_layers": (4, 3, 2)}
    dien = create("dien", s, {"embed_dim": 4, "hidden": (8,)})
    both = create("can-dien", s, cfg)
    assert both.mlp.net[0].in_features == dien.mlp.net[0].in_features + 1 * 5     # + P·O
    x, *_ = both._head_inputs(b)
    assert torch.equal(x[:, -5:], both.coaction(b).flatten(1))
    logits, aux = both.forward_with_aux(b)
    (torch.nn.functional.binary_cross_entropy_with_logits(logits, b.label) + aux).backward()
    assert both.coaction.induction.weight.grad.abs().sum() > 0 and torch.isfinite(aux)


@torch.no_grad()
def test_micro_mlp_and_feed_vectors_rebuild_the_unit_output():
    """The public accessors give the same numbers as forward: h ← tanh(h W + b) per layer, outputs concatenated,
    orders h, h², h³ summed (Eq. 5–11)."""
    s = Schema((Field("a", "sparse", vocab_size=5), Field("b", "sparse", vocab_size=6)), (Pair("a", "b"),))
    unit = CoAction(s, config=CoActionConfig(layers=(4, 3, 2), orders=3, init_std=0.5))
    ida, idb = torch.tensor([2, 4, 3]), torch.tensor([5, 2, 3])
    b = Batch(torch.stack([ida, idb], 1), torch.zeros(3, 0), {}, torch.zeros(3))
    layers, feed = unit.micro_mlp("a×b", ida), unit.feed_vectors(0, idb)
    want = 0
    for c in (1, 2, 3):
        h, outs = feed ** c, []
        for w, bias in layers:
            h = torch.tanh(torch.einsum("ni,nio->no", h, w[:, 0]) + bias[:, 0])
            outs.append(h)
        want = want + torch.cat(outs, 1)
    assert torch.allclose(unit(b)[:, 0], want, atol=1e-6)
    with pytest.raises(ValueError, match="unknown co-action pair 'b×a'"):
        unit.micro_mlp("b×a", ida)
    with pytest.raises(ValueError, match="out of range"):
        unit.feed_vectors(3, idb)
