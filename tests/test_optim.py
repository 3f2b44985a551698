"""Row-wise embedding optimizers (ctrviz.optim): one step on a tiny table checked by hand, equality with dense Adam
where every row is touched, the split into dense and row-wise parts, clipping, and resume through the Trainer."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
from ctrviz.experiments import run_model
from ctrviz.optim import LazyAdam, RowwiseAdagrad, SplitOptimizer, clip_grad_norm, make_optimizer
from ctrviz.train import TrainConfig

B1, B2, EPS = 0.9, 0.999, 1e-8


def table(rows: int = 5, dim: int = 2) -> nn.Embedding:
    t = nn.Embedding(rows, dim, sparse=True).double()
    with torch.no_grad():
        t.weight.copy_(torch.arange(rows * dim, dtype=torch.float64).view(rows, dim) / 10)
    return t


def step(t: nn.Embedding, opt: torch.optim.Optimizer, ids: list[int], scale: list[float]) -> None:
    """loss = Σ_k scale_k · Σ_d w[ids_k, d]: the gradient of row r is (Σ_{k: ids_k = r} scale_k) on every d."""
    opt.zero_grad(set_to_none=True)
    (t(torch.tensor(ids)).sum(1) * torch.tensor(scale, dtype=torch.float64)).sum().backward()
    opt.step()


def test_lazy_adam_moves_only_touched_rows_by_the_hand_computed_step():
    t = table()
    w0 = t.weight.detach().clone()
    opt = LazyAdam(t.parameters(), lr=0.1)
    step(t, opt, [1, 3, 1], [1.0, -2.0, 0.5])              # g_1 = 1.5, g_3 = -2 (every d); rows 0, 2, 4 untouched
    moved = w0 - t.weight.detach()
    # first step: m = (1-β1) g, v = (1-β2) g², update = lr/(1-β1) · m / (√v/√(1-β2) + ε) = lr · g / (|g| + ε)
    for row, g in ((1, 1.5), (3, -2.0)):
        assert moved[row].tolist() == pytest.approx([0.1 * g / (abs(g) + EPS)] * 2, abs=1e-15)
    assert moved[[0, 2, 4]].abs().max() == 0
    # second step touches row 3 and a new row 4: the table's step count is 2 for both (TF LazyAdam, SparseAdam)
    before = t.weight.detach().clone()
    step(t, opt, [4, 3], [1.0, 1.0])
    moved = before - t.weight.detach()
    bc1, bc2 = 1 - B1 ** 2, 1 - B2 ** 2
    for row, g_prev, g in ((3, -2.0, 1.0), (4, 0.0, 1.0)):
        m = B1 * (1 - B1) * g_prev + (1 - B1) * g
        v = B2 * (1 - B2) * g_prev ** 2 + (1 - B2) * g ** 2
        assert moved[row].tolist() == pytest.approx([0.1 / bc1 * m / (math.sqrt(v) / math.sqrt(bc2) + EPS)] * 2,
                                                    rel=1e-12)
    assert moved[[0, 1, 2]].abs().max() == 0                # row 1 keeps its momentum but does not move
    assert opt.state[t.weight]["exp_avg"][1].tolist() == pytest.approx([(1 - B1) * 1.5] * 2)


@pytest.mark.parametrize("sparse", [True, False])
def test_lazy_adam_is_adam_when_every_row_is_touched(sparse):
    """Sparse gradients of all rows, or a dense gradient: bit-equal to torch.optim.Adam (weight decay included)."""
    torch.manual_seed(0)
    a, b = nn.Embedding(6, 3, sparse=sparse), nn.Embedding(6, 3, sparse=False)
    b.load_state_dict(a.state_dict())
    oa, ob = LazyAdam(a.parameters(), lr=0.01, weight_decay=0.1), torch.optim.Adam(b.parameters(), lr=0.01,
                                                                                  weight_decay=0.1)
    for s in range(4):
        ids = torch.randperm(6)
        coef = torch.randn(6, 3)
        for emb, opt in ((a, oa), (b, ob)):
            opt.zero_grad(set_to_none=True)
            (emb(ids) * coef).sum().backward()
            opt.step()
        assert torch.equal(a.weight, b.weight), s


def test_rowwise_adagrad_keeps_one_accumulator_per_row():
    t = table()
    opt = RowwiseAdagrad(t.parameters(), lr=0.5, eps=1e-10)
    step(t, opt, [2, 2], [1.0, 2.0])                         # g_2 = 3 on both dims: G_2 = mean(9, 9) = 9
    before = t.weight.detach().clone()
    step(t, opt, [2, 0], [-1.0, 4.0])                         # g_2 = -1 → G_2 = 10; g_0 = 4 → G_0 = 16
    state = opt.state[t.weight]["sum"]
    assert state.tolist() == pytest.approx([16.0, 0.0, 10.0, 0.0, 0.0])
    moved = before - t.weight.detach()
    assert moved[2].tolist() == pytest.approx([0.5 * -1 / (math.sqrt(10) + 1e-10)] * 2, rel=1e-12)
    assert moved[0].tolist() == pytest.approx([0.5 * 4 / (4 + 1e-10)] * 2, rel=1e-12)
    assert moved[[1, 3, 4]].abs().max() == 0


def test_make_optimizer_splits_tables_from_dense_weights_and_round_trips_its_state():
    model = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(8, 1))
    opt = make_optimizer(model, "adam", lr=0.01, embedding="rowwise_adagrad", embedding_lr=0.1)
    assert isinstance(opt, SplitOptimizer) and model[0].sparse
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1]
    assert opt.rows.param_groups[0]["params"] == [model[0].weight]
    model(torch.tensor([[1, 2]])).sum().backward()
    assert model[0].weight.grad.is_sparse
    opt.step()
    state = opt.state_dict()
    again = make_optimizer(model, "adam", lr=0.01, embedding="rowwise_adagrad", embedding_lr=0.1)
    again.load_state_dict(state)
    assert torch.equal(again.rows.state_dict()["state"][0]["sum"], state["rows"]["state"][0]["sum"])
    with pytest.raises(ValueError, match="not a row-wise split"):
        again.load_state_dict(make_optimizer(model).state_dict())
    dense = make_optimizer(model)                            # back to dense: the table's gradient is dense again
    assert isinstance(dense, torch.optim.Adam) and not model[0].sparse
    with pytest.raises(ValueError, match="no trainable nn.Embedding"):
        make_optimizer(nn.Linear(2, 1), embedding="lazy_adam")


def test_clip_grad_norm_treats_sparse_and_dense_gradients_alike():
    torch.manual_seed(1)
    sparse, dense = nn.Embedding(5, 2, sparse=True), nn.Embedding(5, 2)
    dense.load_state_dict(sparse.state_dict())
    w = nn.Parameter(torch.randn(3))
    ids = torch.tensor([0, 3, 3])
    norms, grads = [], []
    for emb in (sparse, dense):
        emb.zero_grad(set_to_none=True)
        w.grad = torch.tensor([1.0, -2.0, 2.0])
        (emb(ids) ** 2).sum().backward()
        norms.append(clip_grad_norm([emb.weight, w], 0.5))
        grads.append((emb.weight.grad.to_dense(), w.grad.clone()))
    assert float(norms[0]) == pytest.approx(float(norms[1]), rel=1e-6)
    assert torch.allclose(grads[0][0], grads[1][0]) and torch.allclose(grads[0][1], grads[1][1])
    total = math.sqrt(float(grads[0][0].pow(2).sum() + grads[0][1].pow(2).sum()))
    assert total == pytest.approx(0.5, rel=1e-5)


@pytest.mark.parametrize("embedding", ["lazy_adam", "rowwise_adagrad"])
def test_resume_with_a_row_wise_optimizer_continues_the_same_run(tmp_path, embedding):
    data = make_synthetic(SyntheticConfig(n_rows=1500, seed=0))
    cfg = dict(batch_size=256, patience=0, device="cpu", progress=False, embedding_optimizer=embedding,
               embedding_lr=0.05)
    _, straight = run_model("deepfm", data, TrainConfig(epochs=3, **cfg), {"hidden": (8,), "embed_dim": 4})
    run_model("deepfm", data, TrainConfig(epochs=2, checkpoint_dir=str(tmp_path), **cfg),
              {"hidden": (8,), "embed_dim": 4})
    _, resumed = run_model("deepfm", data, TrainConfig(epochs=3, checkpoint_dir=str(tmp_path), resume=True, **cfg),
                           {"hidden": (8,), "embed_dim": 4})
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight.history["train_loss"].tolist() == resumed.history["train_loss"].tolist()
    with pytest.raises(ValueError, match="saved with optimizer 'adam\\+"):
        run_model("deepfm", data, TrainConfig(epochs=3, checkpoint_dir=str(tmp_path), resume=True,
                                              **{**cfg, "embedding_optimizer": "dense"}),
                  {"hidden": (8,), "embed_dim": 4})


@pytest.mark.parametrize("kw, says", [
    ({"embedding_optimizer": "sparse"}, "embedding_optimizer must be 'dense', 'lazy_adam' or 'rowwise_adagrad'"),
    ({"embedding_lr": 0.0}, "embedding_lr must be None or a finite number > 0"),
    ({"embedding_optimizer": "lazy_adam", "compile": True}, "compile=True needs embedding_optimizer='dense'"),
])
def test_train_config_checks_the_embedding_optimizer(kw, says):
    with pytest.raises(ValueError, match=None) as err:
        TrainConfig(**kw)
    assert says in str(err.value)
