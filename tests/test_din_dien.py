"""DIN, DIEN and their sequence pieces: values checked by hand or against torch.nn.GRU / GRUCell."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ctrviz.data import Batch, Field, Pair, Schema
from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
from ctrviz.experiments import run_model
from ctrviz.models import create
from ctrviz.models.dien import DIEN, DIENConfig
from ctrviz.models.din import DIN, DINConfig
from ctrviz.nn import FieldEmbedding
from ctrviz.nn.sequence import AUGRU, AUGRUCell, SequencePairs, TargetAttention, auxiliary_loss, run_gru
from ctrviz.train import TrainConfig


def schema(T: int = 4) -> Schema:
    return Schema((Field("user", "sparse", vocab_size=5), Field("item", "sparse", vocab_size=9),
                   Field("cat", "sparse", vocab_size=5),
                   Field("hist_item", "sequence", vocab="item", vocab_size=9, max_len=T),
                   Field("hist_cat", "sequence", vocab="cat", vocab_size=5, max_len=T)),
                  pairs=(Pair("item", "hist_item"), Pair("cat", "hist_cat")))


def batch(T: int = 4) -> Batch:
    """Row 0: 3 behaviours, row 1: empty history, row 2: 1 behaviour; left-aligned, padded to T."""
    def padded(rows: list[list[int]]) -> torch.Tensor:
        return torch.tensor([r + [0] * (T - len(r)) for r in rows])
    return Batch(torch.tensor([[2, 3, 2], [3, 6, 3], [4, 8, 4]]), torch.zeros(3, 0),
                 {"hist_item": padded([[3, 4, 5], [], [8]]), "hist_cat": padded([[2, 3, 2], [], [4]])},
                 torch.tensor([1.0, 0.0, 1.0]))


# -- target attention -----------------------------------------------------------------------------

def dot_attention(softmax: bool) -> TargetAttention:
    """Scoring MLP set to score(e, v) = ⟨e, v⟩: the weight 1 on the e ⊙ v block of [e, v, e − v, e ⊙ v]."""
    att = TargetAttention(2, hidden=(), softmax=softmax)
    lin = att.mlp.net[0]
    with torch.no_grad():
        lin.weight.zero_()
        lin.weight[0, 6:8] = 1.0
        lin.bias.zero_()
    return att


def test_target_attention_is_unnormalised_and_masked():
    keys = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]], [[5.0, 5.0], [5.0, 5.0], [5.0, 5.0]]])
    query = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    mask = torch.tensor([[True, True, False], [False, False, False]])   # row 1: empty history
    pooled, w = dot_attention(softmax=False)(query, keys, mask)
    assert w.tolist() == [[1.0, 2.0, 0.0], [0.0, 0.0, 0.0]]              # ⟨e_j, v⟩, padding 0
    assert pooled.tolist() == [[1.0, 4.0], [0.0, 0.0]]                   # 1·(1,0) + 2·(0,2); empty → 0


def test_target_attention_softmax_switch_normalises_over_real_positions():
    keys = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [3.0, 3.0]], [[5.0, 5.0], [5.0, 5.0], [5.0, 5.0]]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    _, w = dot_attention(softmax=True)(torch.ones(2, 2), keys, mask)
    e = math.e
    assert torch.allclose(w[0], torch.tensor([e / (e + e**2), e**2 / (e + e**2), 0.0]))
    assert w[1].tolist() == [0.0, 0.0, 0.0] and torch.isfinite(w).all()


# -- GRU runner and AUGRU -------------------------------------------------------------------------

def test_run_gru_final_state_equals_gru_on_each_unpadded_row():
    torch.manual_seed(0)
    gru = nn.GRU(3, 4, batch_first=True)
    lengths = [5, 0, 2, 1]
    x = torch.randn(4, 5, 3)
    mask = torch.arange(5) < torch.tensor(lengths)[:, None]
    out, last = run_gru(gru, x, mask)
    for i, n in enumerate(lengths):
        if n == 0:
            assert last[i].tolist() == [0.0] * 4 and out[i].abs().sum() == 0
            continue
        ref, h_n = gru(x[i:i + 1, :n])                                   # the row without padding
        assert torch.allclose(last[i], h_n[0, 0], atol=1e-6)
        assert torch.allclose(out[i, :n], ref[0], atol=1e-6) and out[i, n:].abs().sum() == 0


def test_augru_cell_interpolates_between_keeping_the_state_and_a_gru_step():
    torch.manual_seed(0)
    ref, cell = nn.GRUCell(3, 4), AUGRUCell(3, 4)
    cell.load_state_dict(ref.state_dict())                               # same layout as GRUCell
    x, h = torch.randn(5, 3), torch.randn(5, 4)
    assert torch.equal(cell(x, h, torch.zeros(5)), h)                    # a = 0: ũ = 0, state kept
    assert torch.allclose(cell(x, h, torch.ones(5)), ref(x, h), atol=1e-6)  # a = 1: plain GRU
    a = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])                       # ũ = a·u ⇒ h + a·(GRU(x, h) − h)
    assert torch.allclose(cell(x, h, a), h + a[:, None] * (ref(x, h) - h), atol=1e-6)


def test_augru_with_full_attention_is_nn_gru_and_padding_keeps_the_state():
    torch.manual_seed(0)
    gru, augru = nn.GRU(3, 4, batch_first=True), AUGRU(3, 4)
    augru.cell.load_state_dict({k.removesuffix("_l0"): v for k, v in gru.state_dict().items()})
    x = torch.randn(3, 5, 3)
    full = torch.ones(3, 5, dtype=torch.bool)
    out, last = augru(x, torch.ones(3, 5), full)
    assert torch.allclose(out, gru(x)[0], atol=1e-6) and torch.equal(last, out[:, -1])
    mask = torch.arange(5) < torch.tensor([2, 0, 5])[:, None]
    out, last = augru(x, torch.ones(3, 5), mask)
    assert torch.allclose(last[0], gru(x[:1, :2])[1][0, 0], atol=1e-6)  # state after 2 real steps
    assert last[1].tolist() == [0.0] * 4 and out[0, 2:].abs().sum() == 0


# -- auxiliary loss -------------------------------------------------------------------------------

def test_auxiliary_loss_by_hand_and_padding_rows_contribute_nothing():
    h = torch.zeros(1, 3, 2)
    assert auxiliary_loss(h, h, h, torch.ones(1, 3, dtype=torch.bool)).item() == pytest.approx(2 * math.log(2))
    torch.manual_seed(0)
    h, pos, neg = torch.randn(2, 4, 3), torch.randn(2, 4, 3), torch.randn(2, 4, 3)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]]).bool()
    loss = auxiliary_loss(h, pos, neg, mask)
    assert torch.isfinite(loss) and loss > 0
    junk = torch.full((2, 4, 3), 1e4)                                    # rows of padding / one behaviour
    more = [torch.cat([t, junk]) for t in (h, pos, neg)]
    idle = torch.tensor([[0, 0, 0, 0], [1, 0, 0, 0]]).bool()
    assert torch.allclose(auxiliary_loss(*more, torch.cat([mask, idle])), loss)
    assert auxiliary_loss(h, pos, neg, torch.zeros(2, 4, dtype=torch.bool)).item() == 0.0


def test_dien_aux_loss_is_finite_positive_and_scaled_by_aux_weight():
    torch.manual_seed(0)
    m1 = DIEN(schema(), DIENConfig(embed_dim=4, hidden=(8,)))
    m2 = DIEN(schema(), DIENConfig(embed_dim=4, hidden=(8,), aux_weight=2.5))
    m0 = DIEN(schema(), DIENConfig(embed_dim=4, hidden=(8,), aux_weight=0.0))
    m2.load_state_dict(m1.state_dict())
    torch.manual_seed(1)
    logits, aux = m1.forward_with_aux(batch())
    torch.manual_seed(1)                                                 # the same negatives
    _, aux2 = m2.forward_with_aux(batch())
    assert torch.isfinite(aux) and aux > 0 and torch.allclose(aux2, 2.5 * aux)
    assert torch.equal(logits, m1(batch())) and m0.forward_with_aux(batch())[1].item() == 0.0


def test_negative_samples_are_known_ids_of_each_sequence_vocabulary():
    pairs = SequencePairs(FieldEmbedding(schema(), 2))
    off = pairs.feed_offsets
    rows = pairs.random_rows(200, 50) - off                              # back to ids
    assert rows.shape == (200, 50, 2)
    assert rows[..., 0].min() == 2 and rows[..., 0].max() == 8          # items 2..8
    assert rows[..., 1].min() == 2 and rows[..., 1].max() == 4          # categories 2..4


# -- models ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls, cfg", [(DIN, DINConfig), (DIEN, DIENConfig)])
def test_padding_and_empty_histories(cls, cfg):
    torch.manual_seed(0)
    m = cls(schema(4), cfg(embed_dim=4, hidden=(8,)))
    assert m.pairs.feeds == ("hist_item", "hist_cat") and m.pairs.keep.tolist() == [0, 1, 2]
    w = m.attention_scores(batch(4))                                     # (B, T)
    assert w.shape == (3, 4) and w[0, 3] == 0 and w[1].tolist() == [0.0] * 4 and w[2, 1:].tolist() == [0.0] * 3
    if cls is DIEN:                                                      # softmax: sums to 1 over real steps
        assert torch.allclose(w.sum(1), torch.tensor([1.0, 0.0, 1.0]))
    logits = m(batch(4))
    assert logits.shape == (3,) and torch.isfinite(logits).all()
    longer = cls(schema(7), cfg(embed_dim=4, hidden=(8,)))              # no parameter depends on T
    longer.load_state_dict(m.state_dict())
    assert torch.allclose(longer(batch(7)), logits, atol=1e-6)           # more padding, same logits


def test_din_empty_history_pools_to_zero():
    torch.manual_seed(0)
    m = DIN(schema(), DINConfig(embed_dim=4, hidden=(8,)))
    b = batch()
    others = m.embedding(b)[:, m.pairs.keep].flatten(1)                 # (B, 3·D)
    expected = m.mlp(torch.cat([others, torch.zeros(3, 8)], 1)).squeeze(-1)
    assert torch.allclose(m(b)[1], expected[1])                          # row 1 has no history


def test_config_and_schema_errors():
    no_seq = Schema((Field("item", "sparse", vocab_size=5), Field("genres", "multi", vocab_size=5, max_len=2)),
                    pairs=(Pair("item", "genres"),))
    for name in ("din", "dien"):
        with pytest.raises(ValueError, match="needs a Pair\\(target, sequence\\)"):
            create(name, no_seq)
        with pytest.raises(ValueError, match="not the feed of a sequence pair"):
            create(name, schema(), {"sequences": ("hist_typo",)})
        with pytest.raises(ValueError, match="tuple of field names"):
            create(name, schema(), {"sequences": "hist_item"})
    mixed = Schema((*schema().fields[:4], Field("hist_cat", "sequence", vocab="cat", vocab_size=5, max_len=6)),
                   pairs=schema().pairs)
    with pytest.raises(ValueError, match="must share max_len"):
        create("din", mixed)
    assert create("din", mixed, {"sequences": ("hist_item",)}).pairs.feeds == ("hist_item",)
    bad_target = Schema((*schema().fields, Field("tags", "multi", vocab="item", vocab_size=9, max_len=2)),
                        pairs=(Pair("tags", "hist_item"),))
    with pytest.raises(ValueError, match="must be a sparse field"):
        create("dien", bad_target)
    with pytest.raises(ValueError, match="aux_weight must be a finite number >= 0"):
        DIENConfig(aux_weight=-1.0)


@pytest.fixture
def one_thread():
    """The (A)UGRU loops run many tiny ops; with 2 intra-op threads on a busy 2-core box each op waits on a
    descheduled thread (measured: DIEN's test 2.4 s alone, 390 s beside other jobs). One thread avoids that."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("name", ["din", "dien"])
def test_end_to_end_on_synthetic_data(name, one_thread):
    # n_rows=4000 at lr 1e-3 stays on the N(0, 0.01)-init plateau for 2 epochs (test AUC ≈ 0.4–0.55 for every
    # model, DNN included); 10k rows at lr 3e-3 reach ≈ 0.69–0.72 for both (oracle ≈ 0.90) in ~2 s each.
    data = make_synthetic(SyntheticConfig(n_rows=10_000, seed=0))
    row, result = run_model(name, data, TrainConfig(epochs=2, batch_size=256, lr=3e-3, progress=False))
    assert row["auc"] > 0.6 and len(result.history) == 2
    assert math.isfinite(row["logloss"])
