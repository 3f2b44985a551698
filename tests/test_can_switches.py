"""CAN's three switches toward the official code — micro-MLP bias, activation after the last layer, order
combination — checked by hand on a one-pair unit, and the ``can-official`` preset that sets all three."""

from __future__ import annotations

import math

import pytest
import torch

from ctrviz import __main__ as cli
from ctrviz.data import Batch, Field, Pair, Schema
from ctrviz.models import count_parameters, create, make_config, parse_overrides
from ctrviz.models.can import CAN, CANConfig, CANOfficial, CANOfficialConfig
from ctrviz.nn.coaction import CoAction, CoActionConfig, CoActionOptions

# one pair a × b, micro-MLP 2 → 2 → 1; P_induction of a = 2 and P_feed of b = 2, set by hand
W0, B0 = [[1.0, 0.5], [-1.0, 2.0]], [0.1, -0.2]          # (d_in, d_out) = (2, 2)
W1, B1 = [[1.0], [-2.0]], [0.3]                          # (2, 1)
FEED = [0.5, -1.0]


def pair_schema() -> Schema:
    return Schema((Field("a", "sparse", vocab_size=3), Field("b", "sparse", vocab_size=3)), (Pair("a", "b"),))


def pair_batch() -> Batch:
    return Batch(torch.tensor([[2, 2]]), torch.zeros(1, 0), {}, torch.zeros(1))


def hand_unit(**switches) -> CoAction:
    """A float64 unit whose induction row of a = 2 is W0 ‖ B0 ‖ W1 ‖ B1 (no B0, B1 without bias), feed row of b = 2
    is FEED."""
    cfg = CoActionConfig(layers=(2, 2, 1), **switches)
    unit = CoAction(pair_schema(), config=cfg).double()
    flat = lambda m: [x for row in m for x in row]         # noqa: E731  row-major (d_in, d_out), as unflatten reads
    row = flat(W0) + (B0 if cfg.bias else []) + flat(W1) + (B1 if cfg.bias else [])
    assert len(row) == cfg.induction_dim
    with torch.no_grad():
        unit.induction.weight[unit.ind_offsets[0] + 2] = torch.tensor(row, dtype=torch.float64)
        unit.feed.weight[unit.feed_off_0[0] + 2] = torch.tensor(FEED, dtype=torch.float64)
    return unit


def by_hand(order: int, bias: bool = True, last_activation: bool = True) -> list[float]:
    """Eq. 7–9 for h_0 = FEED^order, written out: h_1 = tanh(h_0 W0 + B0), h_2 = [tanh](h_1 W1 + B1), h_1 ‖ h_2."""
    h0 = [x ** order for x in FEED]
    pre1 = [h0[0] * W0[0][o] + h0[1] * W0[1][o] + (B0[o] if bias else 0.0) for o in range(2)]
    h1 = [math.tanh(x) for x in pre1]
    pre2 = h1[0] * W1[0][0] + h1[1] * W1[1][0] + (B1[0] if bias else 0.0)
    return h1 + [math.tanh(pre2) if last_activation else pre2]


def check(got: torch.Tensor, want: list[float]) -> None:
    assert got.shape == (len(want),)
    assert torch.allclose(got, torch.tensor(want, dtype=torch.float64), rtol=0, atol=1e-12), (got, want)


# ---------------------------------------------------------------- each switch by hand ---------------------------


@pytest.mark.parametrize("last", [True, False])
def test_last_activation_by_hand_in_forward_and_explain(last):
    unit = hand_unit(orders=1, last_activation=last)
    want = by_hand(1, last_activation=last)
    check(unit(pair_batch())[0, 0], want)
    e = unit.explain("a×b", induction_id=2, feed_id=2)
    check(torch.cat(e.outputs), want)
    check(e.output, want)
    check(e.unit_output, want)
    if not last:                                        # h_2 is the plain affine map: it can leave (-1, 1)
        assert e.outputs[-1].item() == pytest.approx(sum(a * w[0] for a, w in zip(want[:2], W1, strict=True)) + B1[0])


def test_bias_off_by_hand_no_bias_terms_and_fewer_induction_values():
    unit = hand_unit(orders=1, bias=False)
    assert unit.config.induction_dim == 2 * 2 + 2 * 1                   # Σ d_in·d_out = 6 (with bias: 6 + 2 + 1)
    assert CoActionConfig(layers=(2, 2, 1)).induction_dim == 9
    assert unit.induction.weight.shape == (3, 6)
    assert all(bias is None for _, bias in unit.micro_mlp("a×b", torch.tensor([2])))
    e = unit.explain("a×b", induction_id=2, feed_id=2)
    assert e.biases is None
    check(unit(pair_batch())[0, 0], by_hand(1, bias=False))
    check(e.output, by_hand(1, bias=False))


def test_concat_gives_c_times_width_values_per_pair_that_are_the_sums_parts():
    C = 3
    concat, summed = hand_unit(orders=C, order_combine="concat"), hand_unit(orders=C)
    assert concat.config.out_dim == C * (2 + 1) and summed.config.out_dim == 2 + 1
    blocks = [by_hand(c) for c in range(1, C + 1)]                     # order 1's h_1 ‖ h_2, then order 2's, …
    out = concat(pair_batch())[0, 0]                                    # (C·3,)
    check(out, [x for block in blocks for x in block])
    check(out.view(C, 3).sum(0), [sum(col) for col in zip(*blocks, strict=True)])
    check(summed(pair_batch())[0, 0], [sum(col) for col in zip(*blocks, strict=True)])
    e = concat.explain("a×b", induction_id=2, feed_id=2, order=2)
    check(torch.cat(e.outputs), blocks[1])
    check(e.output, [x for block in blocks for x in block])


def test_all_three_switches_together_on_a_sequence_feed_match_a_loop():
    """A history of two ids, one padding position: the unit per position, sum-pooled, switches all on."""
    schema = Schema((Field("a", "sparse", vocab_size=3), Field("h", "sequence", vocab_size=4, max_len=3)),
                    (Pair("a", "h"),))
    torch.manual_seed(0)
    cfg = CoActionConfig(layers=(3, 4, 2), bias=False, last_activation=False, orders=2, order_combine="concat",
                         init_std=0.5)
    unit = CoAction(schema, config=cfg).double()
    b = Batch(torch.tensor([[2]]), torch.zeros(1, 0), {"h": torch.tensor([[3, 2, 0]])}, torch.zeros(1))
    w = unit.induction.weight[unit.ind_offsets[0] + 2]
    w0, w1 = w[:12].view(3, 4), w[12:].view(4, 2)
    want = torch.zeros(2 * 6, dtype=torch.float64)
    for t in (3, 2):
        parts = []
        for c in (1, 2):
            h1 = torch.tanh(unit.feed.weight[unit.feed_off_0[0] + t] ** c @ w0)
            parts += [h1, h1 @ w1]                                      # no tanh on the last layer
        want = want + torch.cat(parts)
    assert torch.allclose(unit(b)[0, 0], want, atol=1e-12)


# ---------------------------------------------------------------- defaults, configs, parameter counts -----------


def test_defaults_are_the_paper_and_unchanged():
    assert (CoActionConfig().bias, CoActionConfig().last_activation, CoActionConfig().order_combine) == (
        True, True, "sum")
    cfg = CANConfig()
    assert (cfg.micro_bias, cfg.micro_last_activation, cfg.order_combine) == (True, True, "sum")
    assert cfg.coaction() == CoActionConfig()
    unit = hand_unit(orders=2)
    check(unit(pair_batch())[0, 0], [x + y for x, y in zip(by_hand(1), by_hand(2), strict=True)])
    torch.manual_seed(0)
    default = CoAction(pair_schema(), config=CoActionConfig(layers=(2, 2, 1)))
    torch.manual_seed(0)
    explicit = CoAction(pair_schema(), config=CoActionConfig(layers=(2, 2, 1), last_activation=True))
    assert torch.equal(default(pair_batch()), explicit(pair_batch()))


def can_schema() -> Schema:
    return Schema((Field("user", "sparse", vocab_size=5), Field("item", "sparse", vocab="item", vocab_size=7),
                   Field("hist", "sequence", vocab="item", vocab_size=7, max_len=4)),
                  pairs=(Pair("item", "hist"), Pair("item", "user")))


def test_parameter_counts_by_hand():
    """Induction rows: one table for the item vocabulary (7 rows; both pairs use it). Bias off removes
    Σ layers[1:] = 12 values per row; concat widens the head's input by P·(C − 1)·12 = 2·2·12 into 200 units."""
    s = can_schema()
    base = count_parameters(create("can", s))
    no_bias = count_parameters(create("can", s, {"micro_bias": False}))
    no_last = count_parameters(create("can", s, {"micro_last_activation": False}))
    concat = count_parameters(create("can", s, {"order_combine": "concat"}))
    official = count_parameters(create("can-official", s))
    assert base - no_bias == 7 * (8 + 4)
    assert no_last == base
    assert concat - base == 2 * (3 - 1) * 12 * 200
    assert official == base - 7 * 12 + 2 * 2 * 12 * 200


def test_bad_values_name_the_field():
    with pytest.raises(ValueError, match="CoActionConfig.last_activation must be True or False, got 'no'"):
        CoActionConfig(last_activation="no")
    with pytest.raises(ValueError, match="CANConfig.micro_last_activation must be True or False, got 1"):
        CANConfig(micro_last_activation=1)
    with pytest.raises(ValueError, match="CANOfficialConfig.order_combine"):
        CANOfficialConfig(order_combine="mean")


def test_switches_reach_every_can_model_and_the_command_line():
    assert parse_overrides("can", ["coaction.micro_last_activation=false"]) == {"micro_last_activation": False}
    s = can_schema()
    switches = {"micro_bias": False, "micro_last_activation": False, "order_combine": "concat"}
    for name in ("can", "can-dien", "can+cartesian", "can-official"):
        cfg = make_config(name, switches)
        assert isinstance(cfg, CoActionOptions)
        c = cfg.coaction()
        assert (c.bias, c.last_activation, c.order_combine) == (False, False, "concat"), name
    dien = create("can-dien", s, switches)
    assert not dien.coaction.config.last_activation and dien.coaction.config.out_dim == 36


# ---------------------------------------------------------------- the official preset --------------------------


def test_official_preset_is_the_released_codes_unit():
    cfg = make_config("can-official")
    assert isinstance(cfg, CANOfficialConfig) and isinstance(cfg, CANConfig)
    assert (cfg.micro_bias, cfg.micro_last_activation, cfg.order_combine) == (False, False, "concat")
    assert (cfg.micro_layers, cfg.orders, cfg.micro_activation, cfg.order_independence) == ((16, 8, 4), 3, "tanh",
                                                                                            False)
    assert cfg.coaction().induction_dim == 16 * 8 + 8 * 4 == 160          # the code's WEIGHT_EMB_DIM
    assert cfg.coaction().out_dim == 3 * (8 + 4) == 36
    m = create("can-official", can_schema())
    assert type(m) is CANOfficial and isinstance(m, CAN)
    assert m.coaction.induction.weight.shape == (7, 160)
    # its switches can still be turned back: the paper's unit under the preset's name
    paper = make_config("can-official", {"micro_bias": True, "micro_last_activation": True, "order_combine": "sum"})
    assert paper.coaction() == CANConfig().coaction()


def test_official_preset_trains_one_step():
    s = can_schema()
    rows = Batch(torch.tensor([[2, 3], [3, 4], [4, 2], [2, 6]]), torch.zeros(4, 0),
                 {"hist": torch.tensor([[3, 4, 0, 0], [2, 0, 0, 0], [5, 6, 2, 0], [0, 0, 0, 0]])},
                 torch.tensor([1.0, 0.0, 1.0, 0.0]))
    torch.manual_seed(0)
    m = create("can-official", s)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    loss = torch.nn.functional.binary_cross_entropy_with_logits(m(rows), rows.label)
    loss.backward()
    assert m.coaction.induction.weight.grad.abs().sum() > 0
    opt.step()
    after = m.state_dict()
    assert not torch.equal(before["coaction.induction.weight"], after["coaction.induction.weight"])
    assert m.coaction_outputs(rows).shape == (4, 2, 36)


def test_official_preset_is_listed_with_its_fields(capsys):
    assert cli.main(["models"]) == 0
    assert "can-official" in capsys.readouterr().out
    assert cli.main(["models", "--fields", "can-official"]) == 0
    out = capsys.readouterr().out
    assert "coaction.micro_last_activation" in out and "default 'concat'" in out
