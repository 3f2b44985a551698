"""ctrviz.train: learning, determinism, checkpoint/resume, divergence, early stopping, config errors."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import ctrviz.train as train_mod
from ctrviz import distributed
from ctrviz.data.batch import Batch, CTRData
from ctrviz.data.schema import Field, Schema
from ctrviz.train import TrainConfig, Trainer, TrainingDiverged, evaluate_model, predict
from ctrviz.utils import seed_everything

TIME_COLS = ["seconds", "samples_per_s"]
SCHEMA = Schema((Field("user", "sparse", vocab_size=10), Field("item", "sparse", vocab_size=12)), user_field="user")


def _split(n: int, seed: int, groups: bool) -> Batch:
    g = torch.Generator().manual_seed(seed)
    user = torch.randint(2, 10, (n,), generator=g)  # known ids 2..9
    item = torch.randint(2, 12, (n,), generator=g)  # known ids 2..11
    label = (user + item > 12).float()  # additive in the ids: a per-id linear model can learn it exactly
    return Batch(torch.stack([user, item], 1), torch.zeros(n, 0), {}, label, user if groups else None)


def make_data(groups: bool = True) -> CTRData:
    return CTRData("toy", SCHEMA, _split(512, 1, groups), _split(256, 2, groups), _split(256, 3, groups))


DATA = make_data()


class Tiny(nn.Module):
    """Embedding per (field, id) → dropout → linear → (B,) logits."""

    def __init__(self, d: int = 4, p: float = 0.0):
        super().__init__()
        self.emb = nn.Embedding(10 + 12, d)
        self.register_buffer("offset", torch.tensor([0, 10]))  # item ids live after the 10 user ids
        self.drop = nn.Dropout(p)
        self.out = nn.Linear(2 * d, 1)

    def forward(self, batch: Batch) -> torch.Tensor:
        e = self.emb(batch.sparse + self.offset)  # (B, F, D)
        return self.out(self.drop(e.flatten(1))).squeeze(-1)  # (B, F*D) -> (B,)


class NaNFromEpoch2(Tiny):
    """Returns NaN logits from the 5th training step on (batch 128 on 512 rows: epoch 2, step 1)."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, batch):
        out = super().forward(batch)
        self.calls += self.training
        return out + float("nan") if self.calls > 4 else out


class WrongShape(Tiny):
    def forward(self, batch):
        return super().forward(batch).unsqueeze(-1)  # (B, 1): a classic mistake


def dropout_model():
    return Tiny(p=0.3)


def cfg(**kw) -> TrainConfig:
    base = dict(epochs=3, batch_size=64, lr=0.05, progress=False, device="cpu", patience=0)
    return TrainConfig(**{**base, **kw})


def fit(model_cls=Tiny, data=DATA, model_seed=0, **kw):
    seed_everything(model_seed)  # callers seed before building the model
    model = model_cls()
    return model, Trainer(cfg(**kw)).fit(model, data)


def no_time(h: pd.DataFrame) -> pd.DataFrame:
    return h.drop(columns=TIME_COLS)


def test_learns_the_rule():
    model, res = fit(epochs=5)
    assert res.valid["auc"] > 0.9 and res.test["auc"] > 0.9 and res.valid["gauc"] > 0.85
    assert res.history["train_loss"].iloc[-1] < res.history["train_loss"].iloc[0]
    assert res.params == sum(p.numel() for p in model.parameters()) == 22 * 4 + 8 + 1
    assert res.device == "cpu" and res.seconds > 0 and not model.training
    assert 1 <= res.best_epoch <= 5
    json.dumps(res.to_dict())  # plain JSON-ready types


def test_history_columns_with_and_without_groups():
    _, res = fit(epochs=2)
    assert list(res.history.columns) == ["epoch", "train_loss", "valid_auc", "valid_logloss", "valid_gauc",
                                         *TIME_COLS]
    assert res.history["epoch"].tolist() == [1, 2] and (res.history["samples_per_s"] > 0).all()
    _, res = fit(epochs=1, data=make_data(groups=False))
    assert list(res.history.columns) == ["epoch", "train_loss", "valid_auc", "valid_logloss", *TIME_COLS]
    assert "gauc" not in res.valid


def test_same_seed_bit_identical():
    m1, r1 = fit(dropout_model, epochs=3)
    m2, r2 = fit(dropout_model, epochs=3)
    pd.testing.assert_frame_equal(no_time(r1.history), no_time(r2.history), check_exact=True)
    assert r1.valid == r2.valid and r1.test == r2.test
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True))
    _, r3 = fit(dropout_model, epochs=3, seed=1)  # another shuffle order → another history
    assert not no_time(r1.history).equals(no_time(r3.history))


@pytest.mark.parametrize("opt", ["adamw", "adagrad", "sgd"])
def test_other_optimizers_and_grad_clip(opt):
    _, res = fit(epochs=1, optimizer=opt, grad_clip=1.0, lr=0.1)
    assert np.isfinite(res.history["train_loss"]).all()


def test_resume_matches_uninterrupted_run(tmp_path):
    _, full = fit(dropout_model, epochs=4, checkpoint_dir=str(tmp_path / "full"))
    fit(dropout_model, epochs=2, checkpoint_dir=str(tmp_path / "part"))
    # a differently initialised model: the checkpoint, not the init, must decide the result
    _, resumed = fit(dropout_model, model_seed=123, epochs=4, checkpoint_dir=str(tmp_path / "part"), resume=True)
    pd.testing.assert_frame_equal(no_time(full.history), no_time(resumed.history), check_exact=True)
    assert full.valid == resumed.valid and full.test == resumed.test and full.best_epoch == resumed.best_epoch
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "last.pt", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


def test_resume_without_checkpoint_or_from_other_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint .*last.pt"):
        fit(epochs=2, checkpoint_dir=str(tmp_path), resume=True)
    fit(epochs=1, checkpoint_dir=str(tmp_path))
    with pytest.raises(ValueError, match="different model"):
        fit(lambda: Tiny(d=8), epochs=2, checkpoint_dir=str(tmp_path), resume=True)
    with pytest.raises(ValueError, match="optimizer 'adam'"):
        fit(epochs=2, checkpoint_dir=str(tmp_path), resume=True, optimizer="sgd")


def test_checkpoint_loads_with_weights_only(tmp_path):
    fit(epochs=2, checkpoint_dir=str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp files left behind
    ck = torch.load(tmp_path / "last.pt", weights_only=True)
    assert {"epoch", "model", "optimizer", "history", "best_state", "best_auc", "best_epoch", "bad_epochs",
            "rng_cpu", "rng_cuda"} <= set(ck)
    assert ck["epoch"] == 2 and [r["epoch"] for r in ck["history"]] == [1, 2]
    Tiny().load_state_dict(ck["model"])
    Tiny().load_state_dict(ck["best_state"])


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    msg = r"epoch 2, step 1 of 4.*lower lr.*grad_clip.*last.pt still holds epoch 1"
    with pytest.raises(TrainingDiverged, match=msg):
        fit(NaNFromEpoch2, epochs=4, batch_size=128, checkpoint_dir=str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    ck = torch.load(tmp_path / "last.pt", weights_only=True)
    assert ck["epoch"] == 1 and len(ck["history"]) == 1
    model = Tiny()
    model.load_state_dict(ck["model"])
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert issubclass(TrainingDiverged, FloatingPointError)


def test_nan_without_checkpoint_says_so():
    with pytest.raises(TrainingDiverged, match="no checkpoint written"):
        fit(NaNFromEpoch2, epochs=2, batch_size=128)


def _scripted_eval(monkeypatch, aucs):
    """Validation AUCs follow ``aucs`` (then the real value); snapshot the weights at every evaluation."""
    snaps, script, real = [], iter(aucs), train_mod.evaluate_model

    def fake(model, batch, batch_size=8192, *, amp=False):
        snaps.append({k: v.clone() for k, v in model.state_dict().items()})
        m = real(model, batch, batch_size, amp=amp)
        return {**m, "auc": next(script, m["auc"])}

    monkeypatch.setattr(train_mod, "evaluate_model", fake)
    return snaps


def same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_restores_best(monkeypatch):
    snaps = _scripted_eval(monkeypatch, [0.6, 0.8, 0.7, 0.75, 0.99])
    model, res = fit(epochs=10, patience=2)
    # epoch 2 is best; epochs 3 and 4 don't improve → stop after 4; weights back to epoch 2's
    assert res.history["valid_auc"].tolist() == [0.6, 0.8, 0.7, 0.75]
    assert res.best_epoch == 2
    assert same(model.state_dict(), snaps[1]) and not same(model.state_dict(), snaps[3])


def test_early_stopping_without_restore(monkeypatch):
    snaps = _scripted_eval(monkeypatch, [0.6, 0.8, 0.7, 0.75])
    model, res = fit(epochs=10, patience=2, restore_best=False)
    assert len(res.history) == 4 and res.best_epoch == 2
    assert same(model.state_dict(), snaps[3])


def test_patience_zero_runs_every_epoch(monkeypatch):
    _scripted_eval(monkeypatch, [0.9, 0.5, 0.5, 0.5])
    _, res = fit(epochs=4, patience=0)
    assert len(res.history) == 4 and res.best_epoch == 1


@pytest.mark.parametrize("kw, match", [
    (dict(epochs=0), "epochs must be an int >= 1"),
    (dict(epochs=2.5), "epochs"),
    (dict(batch_size=True), "batch_size"),
    (dict(eval_batch_size=0), "eval_batch_size"),
    (dict(patience=-1), "patience"),
    (dict(seed=-3), "seed"),
    (dict(nan_check_every=0), "nan_check_every"),
    (dict(lr=0), "lr must be a finite number > 0"),
    (dict(lr=float("nan")), "lr"),
    (dict(weight_decay=-1e-4), "weight_decay"),
    (dict(grad_clip=0.0), "grad_clip"),
    (dict(optimizer="adamx"), "optimizer must be one of"),
    (dict(progress="yes"), "progress must be True or False"),
    (dict(amp="bf16"), "amp must be 'auto', True or False"),
    (dict(device="tpu"), "device: 'tpu' is not a torch device"),
    (dict(resume=True), "resume=True needs checkpoint_dir"),
    (dict(checkpoint_dir=3), "checkpoint_dir"),
])
def test_config_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kw)


def test_amp_true_needs_native_bf16(monkeypatch):
    monkeypatch.setattr(train_mod, "_bf16_ok", lambda device, cpu=True: False)
    with pytest.raises(ValueError, match="amp=True needs a CUDA GPU .* or a CPU with native bf16"):
        TrainConfig(amp=True, device="cpu")
    assert TrainConfig(amp="auto", device="cpu").amp == "auto"


@pytest.mark.skipif(not train_mod._bf16_ok(torch.device("cpu")), reason="this CPU has no native bf16")
def test_amp_true_on_a_bf16_cpu_trains_in_bf16_and_keeps_float32_weights():
    m32, r32 = fit(epochs=3)
    m16, r16 = fit(epochs=3, amp=True)
    assert r16.valid["auc"] > 0.95 and all(p.dtype == torch.float32 for p in m16.parameters())
    batch = make_data().test
    p32, p16 = predict(m16, batch), predict(m16, batch, amp=True)
    assert 0 < np.abs(p32 - p16).max() < 0.02       # bf16 really ran, and stays close to float32
    assert not no_time(r32.history).equals(no_time(r16.history))


def test_fused_optimizer_equals_the_default_up_to_rounding(tmp_path):
    for opt in ("adam", "adamw", "adagrad", "sgd"):
        m1, r1 = fit(dropout_model, epochs=2, optimizer=opt, lr=0.05, checkpoint_dir=str(tmp_path / opt))
        m2, r2 = fit(dropout_model, epochs=2, optimizer=opt, lr=0.05, fused=True,
                     checkpoint_dir=str(tmp_path / f"{opt}-fused"))
        groups = [torch.load(tmp_path / d / "last.pt", weights_only=True)["optimizer"]["param_groups"][0]
                  for d in (opt, f"{opt}-fused")]
        assert not groups[0].get("fused") and groups[1]["fused"] is True     # the fused kernel really ran
        for a, b in zip(m1.state_dict().values(), m2.state_dict().values(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
        assert abs(r1.valid["auc"] - r2.valid["auc"]) < 1e-3
    with pytest.raises(ValueError, match="fused must be True or False"):
        TrainConfig(fused="yes")


def test_wrong_output_shape_fails_before_any_file(tmp_path):
    with pytest.raises(ValueError, match=r"shape \(B,\) = \(64,\), got \(64, 1\).*squeeze"):
        fit(WrongShape, checkpoint_dir=str(tmp_path / "ck"))
    assert not (tmp_path / "ck").exists()


def test_progress_false_prints_nothing(capsys):
    fit(epochs=1)
    assert capsys.readouterr() == ("", "")
    fit(epochs=1, progress=True)
    assert "epochs" in capsys.readouterr().err


def test_predict_and_evaluate_model():
    model = Tiny()
    model.train()
    p = predict(model, DATA.valid, batch_size=100)
    assert p.shape == (256,) and p.dtype == np.float32 and ((p > 0) & (p < 1)).all()
    assert model.training  # mode restored
    assert set(evaluate_model(model, DATA.valid)) == {"auc", "logloss", "gauc"}
    with pytest.raises(ValueError, match="shape"):
        predict(WrongShape(), DATA.valid)


def test_compile_wraps_but_checkpoints_the_plain_model(tmp_path, monkeypatch):
    # dynamo's "eager" backend exercises the wrapping without inductor's ~20 s C++ build on 2 cores
    real = torch.compile
    monkeypatch.setattr(torch, "compile", lambda m, **kw: real(m, backend="eager", **kw))
    model, res = fit(epochs=3, compile=True, checkpoint_dir=str(tmp_path))
    assert res.valid["auc"] > 0.9 and not model.training
    ck = torch.load(tmp_path / "last.pt", weights_only=True)
    assert set(ck["model"]) == set(Tiny().state_dict())  # no "_orig_mod." prefixes


def with_aux_case() -> tuple[type[nn.Module], CTRData]:
    """A model whose auxiliary loss pushes a parameter to 3.0 (only the aux term can move it), and its data."""
    class WithAux(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(10))
            self.target = nn.Parameter(torch.zeros(()))

        def forward(self, batch):
            return self.w[batch.sparse[:, 0]]

        def forward_with_aux(self, batch):
            return self(batch), (self.target - 3.0) ** 2

    schema = Schema((Field("a", "sparse", vocab_size=10),))
    ids = torch.arange(2, 10).repeat(8)[:, None]
    rows = Batch(ids, torch.zeros(len(ids), 0), {}, (ids[:, 0] % 2).float())
    return WithAux, CTRData("aux", schema, rows, rows, rows)


def test_forward_with_aux_adds_the_auxiliary_loss_during_training_only():
    WithAux, data = with_aux_case()
    model = WithAux()
    Trainer(TrainConfig(epochs=30, batch_size=16, lr=0.1, patience=0, restore_best=False, progress=False)).fit(
        model, data)
    assert abs(model.target.item() - 3.0) < 0.1


def test_compile_covers_forward_with_aux(monkeypatch):
    """compile=True compiles the training step's forward, forward_with_aux included (compiling the model alone
    would leave forward_with_aux running uncompiled), and the auxiliary loss still trains."""
    real, compiled = torch.compile, []
    monkeypatch.setattr(torch, "compile", lambda m, **kw: compiled.append(m) or real(m, backend="eager", **kw))
    WithAux, data = with_aux_case()
    model = WithAux()
    Trainer(TrainConfig(epochs=30, batch_size=16, lr=0.1, patience=0, restore_best=False, progress=False,
                        compile=True)).fit(model, data)
    steps = [m for m in compiled if isinstance(m, distributed.TrainForward)]
    assert len(steps) == 1 and steps[0].model is model
    assert abs(model.target.item() - 3.0) < 0.1
