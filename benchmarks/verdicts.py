"""One verdict per testable claim of the CAN and AOANet papers, from measured ``ctrviz reproduce`` results (issue 16).

Each claim compares two sides, each a (mean, std, seeds) of test AUC measured by the command in its row. The verdict
is computed, never typed: with d = the claimed side's mean minus the other's and s = the sum of their standard
deviations,

- **holds** when d > s (the claimed order, by more than the seeds' spread),
- **doesn't hold** when d < -s (the opposite order, by more than the spread),
- **can't tell** otherwise (the two are within their seed spread on this data).

A claim about a grid optimum (Fig. 3, Table 5) compares the paper's best setting with the best other setting of the
run. The numbers in :data:`CLAIMS` are copied from the runs' printed summaries (README.md, "The papers' experiments":
runs of earlier sessions, with their commands); where a printout gave only a range of stds for a grid, the range's top
is used (:func:`U`). ``--runs DIR`` (default ``benchmarks/results``, where the summaries of issue 16's runs are
committed) adds the claims those runs answer, read from the summary CSVs ``ctrviz reproduce --out DIR`` wrote; a
re-run with 5 seeds replaces the older rows of its table. Prints the markdown table the README holds (a test checks
that the README's table is this one)::

    python benchmarks/verdicts.py
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ctrviz.reproduce import file_stem


@dataclass(frozen=True)
class Side:
    """A measured test AUC: mean ± std over ``seeds`` seeds, labelled."""

    label: str
    mean: float
    std: float
    seeds: int
    known: bool = True       # False: the printout gave only its grid's std range; ``std`` is the range's top


@dataclass(frozen=True)
class Claim:
    paper: str
    claim: str
    data: str
    claimed: Side            # the side the paper says is higher
    other: Side
    command: str


def verdict(c: Claim) -> str:
    """holds / doesn't hold / can't tell by the rule of the module docstring.

    Example:
        >>> v = lambda a, b: verdict(Claim("", "", "", Side("a", a, 0.001, 3), Side("b", b, 0.001, 3), ""))
        >>> v(0.90, 0.89), v(0.89, 0.90), v(0.900, 0.8995)
        ('holds', "doesn't hold", "can't tell")
    """
    d, s = c.claimed.mean - c.other.mean, c.claimed.std + c.other.std
    return "holds" if d > s else "doesn't hold" if d < -s else "can't tell"


S = Side


def U(label: str, mean: float, bound: float, seeds: int) -> Side:
    """A side whose own std the run's printout did not give, only the range of its grid's stds: the range's top is
    used (it makes "can't tell" likelier, never "holds")."""
    return Side(label, mean, bound, seeds, known=False)


CAN2_SYN = "reproduce can-table2 --data synthetic --seeds 5"
CAN2_SEQ = "train --model M --data movielens-seq --seed 0..4"
# Runs on real data before the CAN specs took the CAN paper's batch 128 (Sec. 5.1) carry ``--batch-size 1024``.
CAN3_SYN = "reproduce can-table3 --data synthetic --seeds 3 --skip xdeepfm"
CAN3_ML = "reproduce can-table3 --data movielens --seeds 3 --batch-size 1024"
FIG5_SYN = "reproduce can-fig5 --data synthetic --seeds 5"
FIG5_ML = "reproduce can-fig5 --data movielens --seeds 3 --batch-size 1024"
T5_SYN = "reproduce can-table5 --data synthetic --seeds 3"
T5_ML = "reproduce can-table5 --data movielens --seeds 3 --batch-size 1024"
A3_SYN = "reproduce aoanet-table3 --data synthetic --seeds 3 --skip xdeepfm"
A3_ML = "reproduce aoanet-table3 --data movielens --seeds 3"
F3_SYN = "reproduce aoanet-fig3 --data synthetic --seeds 3"
F3_ML = "reproduce aoanet-fig3 --data movielens --seeds 3"
# The default CAN (2 layers, tanh, orders 1-3) and GIN (L = 2, S = 3) and AOANet (r = 0.3) are one cached run
# in every spec that holds them (same config, same seeds): their std comes from the table that printed it.
CAN_SYN3, CAN_ML3 = S("default CAN", 0.8989, 0.0005, 3), S("default CAN", 0.7088, 0.0002, 3)
GIN_SYN3, GIN_ML3 = S("L = 2, S = 3 (default)", 0.8822, 0.0014, 3), S("L = 2, S = 3 (default)", 0.7080, 0.0051, 3)

CLAIMS = [
    # -- CAN, Table 2 ------------------------------------------------------------------------------------------
    Claim("CAN", "Table 2: + CAN beats DNN", "synthetic",
          S("can", 0.8991, 0.0006, 5), S("dnn", 0.8819, 0.0019, 5), CAN2_SYN),
    Claim("CAN", "Table 2: + CAN beats DNN", "movielens-seq",
          S("can", 0.7774, 0.0080, 5), S("dnn", 0.7771, 0.0084, 5), CAN2_SEQ),
    Claim("CAN", "Table 2: + Cartesian beats DNN", "synthetic",
          S("cartesian", 0.8976, 0.0003, 5), S("dnn", 0.8819, 0.0019, 5), CAN2_SYN),
    Claim("CAN", "Table 2: + Cartesian beats DNN", "movielens-seq",
          S("cartesian", 0.7505, 0.0087, 5), S("dnn", 0.7771, 0.0084, 5), CAN2_SEQ),
    Claim("CAN", "Table 2: CAN at least matches Cartesian, with a fraction of its parameters", "synthetic",
          S("can (1.4x DNN's parameters)", 0.8991, 0.0006, 5), S("cartesian (2.8x)", 0.8976, 0.0003, 5), CAN2_SYN),
    Claim("CAN", "Table 2: CAN at least matches Cartesian, with a fraction of its parameters", "movielens-seq",
          S("can (5.3x)", 0.7774, 0.0080, 5), S("cartesian (266x)", 0.7505, 0.0087, 5), CAN2_SEQ),
    Claim("CAN", "Table 2: CAN + Cartesian beats CAN", "synthetic",
          S("can+cartesian", 0.8974, 0.0003, 5), S("can", 0.8991, 0.0006, 5), CAN2_SYN),
    Claim("CAN", "Table 2: CAN + Cartesian beats CAN", "movielens-seq",
          S("can+cartesian", 0.7484, 0.0090, 5), S("can", 0.7774, 0.0080, 5), CAN2_SEQ),
    # -- CAN, Tables 3-4 ---------------------------------------------------------------------------------------
    Claim("CAN", "Table 3: CAN beats the best model without DIEN (here PNN)", "synthetic",
          S("can", 0.8989, 0.0005, 3), S("pnn", 0.8993, 0.0002, 3), CAN3_SYN),
    Claim("CAN", "Table 3: CAN beats the best model without DIEN (here PNN)", "movielens",
          S("can", 0.7088, 0.0002, 3), S("pnn", 0.7144, 0.0034, 3), CAN3_ML),
    Claim("CAN", "Table 3: DIEN beats DNN", "synthetic",
          S("dien", 0.8784, 0.0005, 3), S("dnn", 0.8814, 0.0018, 3), CAN3_SYN),
    Claim("CAN", "Table 3: DIEN beats DNN", "movielens",
          S("dien", 0.7150, 0.0012, 3), S("dnn", 0.7114, 0.0050, 3), CAN3_ML),
    Claim("CAN", "Table 3: CAN-DIEN beats DIEN", "synthetic",
          S("can-dien", 0.8990, 0.0005, 3), S("dien", 0.8784, 0.0005, 3), CAN3_SYN),
    Claim("CAN", "Table 3: CAN-DIEN beats DIEN", "movielens",
          S("can-dien", 0.7112, 0.0027, 3), S("dien", 0.7150, 0.0012, 3), CAN3_ML),
    # -- CAN, Fig. 5 -------------------------------------------------------------------------------------------
    Claim("CAN", "Fig. 5: CAN (small) beats ONN at similar parameters", "synthetic",
          S("can (small)", 0.8998, 0.0005, 5), S("onn", 0.8931, 0.0003, 5), FIG5_SYN),
    Claim("CAN", "Fig. 5: CAN (small) beats ONN at similar parameters", "movielens",
          S("can (small)", 0.7125, 0.0011, 3), S("onn", 0.7123, 0.0008, 3), FIG5_ML),
    Claim("CAN", "Fig. 5: the larger CAN beats CAN (small)", "synthetic",
          S("can", 0.8991, 0.0006, 5), S("can (small)", 0.8998, 0.0005, 5), FIG5_SYN),
    Claim("CAN", "Fig. 5: the larger CAN beats CAN (small)", "movielens",
          S("can", 0.7088, 0.0002, 3), S("can (small)", 0.7125, 0.0011, 3), FIG5_ML),
    # -- CAN, Table 5 ------------------------------------------------------------------------------------------
    Claim("CAN", "Table 5: a 2-layer micro-MLP beats the best of 1 and 3 layers", "synthetic",
          CAN_SYN3, U("3 layers", 0.8996, 0.0006, 3), T5_SYN),
    Claim("CAN", "Table 5: a 2-layer micro-MLP beats the best of 1 and 3 layers", "movielens",
          CAN_ML3, U("1 layer", 0.7113, 0.0007, 3), T5_ML),
    Claim("CAN", "Table 5: tanh beats no activation", "synthetic", CAN_SYN3, U("none", 0.8990, 0.0006, 3), T5_SYN),
    Claim("CAN", "Table 5: tanh beats no activation", "movielens", CAN_ML3, U("none", 0.7091, 0.0007, 3), T5_ML),
    Claim("CAN", "Table 5: orders 1-3 beat order 1", "synthetic", CAN_SYN3, U("order 1", 0.8993, 0.0006, 3), T5_SYN),
    Claim("CAN", "Table 5: orders 1-3 beat order 1", "movielens", CAN_ML3, U("order 1", 0.7094, 0.0007, 3), T5_ML),
    # -- AOANet, Table 3 ---------------------------------------------------------------------------------------
    Claim("AOANet", "Table 3: GIN beats DCN-M (the paper's best baseline)", "synthetic",
          S("gin", 0.8822, 0.0014, 3), S("dcn-m", 0.8921, 0.0007, 3), A3_SYN),
    Claim("AOANet", "Table 3: GIN beats DCN-M (the paper's best baseline)", "movielens",
          S("gin", 0.7080, 0.0051, 3), S("dcn-m", 0.7125, 0.0038, 3), A3_ML),
    Claim("AOANet", "Table 3: GIN beats every baseline (here the best is IPNN / OPNN)", "synthetic",
          S("gin", 0.8822, 0.0014, 3), S("ipnn", 0.8993, 0.0002, 3), A3_SYN),
    Claim("AOANet", "Table 3: GIN beats every baseline (here the best is IPNN / OPNN)", "movielens",
          S("gin", 0.7080, 0.0051, 3), S("opnn", 0.7151, 0.0026, 3), A3_ML),
    Claim("AOANet", "Table 3: AOANet (pruned at r = 0.3, re-trained) beats GIN", "synthetic",
          S("aoanet", 0.8961, 0.0009, 3), S("gin", 0.8822, 0.0014, 3), A3_SYN),
    Claim("AOANet", "Table 3: AOANet (pruned at r = 0.3, re-trained) beats GIN", "movielens",
          S("aoanet", 0.7131, 0.0058, 3), S("gin", 0.7080, 0.0051, 3), A3_ML),
    Claim("AOANet", "Table 3: AOANet beats every baseline", "synthetic",
          S("aoanet", 0.8961, 0.0009, 3), S("ipnn", 0.8993, 0.0002, 3), A3_SYN),
    Claim("AOANet", "Table 3: AOANet beats every baseline", "movielens",
          S("aoanet", 0.7131, 0.0058, 3), S("opnn", 0.7151, 0.0026, 3), A3_ML),
    Claim("AOANet", "Table 3: DCN-M beats the other baselines (here IPNN)", "synthetic",
          S("dcn-m", 0.8921, 0.0007, 3), S("ipnn", 0.8993, 0.0002, 3), A3_SYN),
    Claim("AOANet", "Table 3: DCN-M beats the other baselines (here OPNN)", "movielens",
          S("dcn-m", 0.7125, 0.0038, 3), S("opnn", 0.7151, 0.0026, 3), A3_ML),
    Claim("AOANet", "Table 3: OPNN beats IPNN", "synthetic",
          S("opnn", 0.8992, 0.0003, 3), S("ipnn", 0.8993, 0.0002, 3), A3_SYN),
    Claim("AOANet", "Table 3: OPNN beats IPNN", "movielens",
          S("opnn", 0.7151, 0.0026, 3), S("ipnn", 0.7144, 0.0034, 3), A3_ML),
    # -- AOANet, Fig. 3 ----------------------------------------------------------------------------------------
    Claim("AOANet", "Fig. 3a: L = 2 beats the best other L (Eq. 8 order; pairwise-only data)", "synthetic",
          GIN_SYN3, U("L = 1", 0.8868, 0.0014, 3), F3_SYN),
    Claim("AOANet", "Fig. 3a: L = 2 beats the best other L (Eq. 8 order)", "movielens",
          GIN_ML3, U("L = 1", 0.7127, 0.0080, 3), F3_ML),
    Claim("AOANet", "Fig. 3b: S = 2 (Private's best) or 3 (Criteo's) beats the best other S", "synthetic",
          U("S = 2", 0.8843, 0.0014, 3), U("S = 4", 0.8846, 0.0014, 3), F3_SYN),
    Claim("AOANet", "Fig. 3b: S = 2 (Private's best) or 3 (Criteo's) beats the best other S", "movielens",
          U("S = 2", 0.7097, 0.0080, 3), U("S = 1", 0.7130, 0.0080, 3), F3_ML),
    Claim("AOANet", "Fig. 3c: pruning to r = 0.2-0.3 beats no pruning (r = 1)", "synthetic",
          U("r = 0.2", 0.8973, 0.0009, 3), S("r = 1.0 (GIN itself)", 0.8822, 0.0014, 3), F3_SYN),
    Claim("AOANet", "Fig. 3c: pruning to r = 0.2-0.3 beats no pruning (r = 1)", "movielens",
          S("r = 0.3", 0.7131, 0.0058, 3), S("r = 1.0 (GIN itself)", 0.7080, 0.0051, 3), F3_ML),
    Claim("AOANet", "Fig. 3c: r = 0.2-0.3 beats the best other r", "synthetic",
          U("r = 0.2", 0.8973, 0.0009, 3), U("r = 0.1", 0.8969, 0.0009, 3), F3_SYN),
]


def table(claims: list[Claim]) -> pd.DataFrame:
    """The verdict table: one row per claim and dataset."""
    fmt = lambda s: f"{s.label} {s.mean:.4f} ± {'' if s.known else '≤'}{s.std:.4f}"   # noqa: E731
    return pd.DataFrame([{"paper": c.paper, "claim": c.claim, "data": c.data, "verdict": verdict(c),
                          "claimed side": fmt(c.claimed), "other side": fmt(c.other),
                          "seeds": f"{c.claimed.seeds}", "command": f"`ctrviz {c.command}`"} for c in claims])


def _rows(t: pd.DataFrame, model: str, knob: str | None = None) -> pd.DataFrame:
    rows = t[t["model"] == model]
    return rows if knob is None else rows[rows["knob"] == knob]


def _side(rows: pd.DataFrame, label: str) -> Side:
    """The best (highest mean AUC) of ``rows`` of a summary as a :class:`Side`."""
    if rows.empty:
        raise SystemExit(f"no summary rows for {label!r}")
    r = rows.sort_values("auc_mean").iloc[-1]
    return Side(label, float(r["auc_mean"]), float(r["auc_std"]), int(r["n"]))


def _at(rows: pd.DataFrame, values: tuple[float, ...], name: str) -> tuple[Side, Side]:
    """(the best of ``rows`` whose ``value`` is in ``values``, the best of the others), labelled ``name = value``."""
    v = pd.to_numeric(rows["value"])
    mine, rest = rows[v.isin(values)], rows[~v.isin(values)]
    label = lambda r: f"{name} = {pd.to_numeric(r.sort_values('auc_mean')['value']).iloc[-1]:g}"   # noqa: E731
    return _side(mine, label(mine)), _side(rest, label(rest))


A3_BASELINES = ("ipnn", "opnn", "deepfm", "fwfm", "afm", "dcn", "dcn-m", "xdeepfm", "autoint")
LEMMA = {"pair_order": "lemma"}
OFFICIAL = {"micro_bias": False, "micro_last_activation": False, "order_combine": "concat"}


def _stem(spec: str, data: str, skip: tuple[str, ...] = (), sets: dict | None = None,
          batch: int | None = None) -> tuple[str, str]:
    """The file stem ``ctrviz reproduce`` writes with 5 seeds (and ``--batch-size batch`` when given), and the command
    that wrote it."""
    stem = file_stem(spec, data, skip=skip, overrides=sets, train={"batch_size": batch} if batch else None)
    quote = lambda label: f'"{label}"' if " " in label else label   # noqa: E731
    command = f"reproduce {spec} --data {data} --seeds 5" + (" --skip " + " ".join(map(quote, skip)) if skip else "") \
        + "".join(f" --set {k}={str(v).lower()}" for k, v in sorted((sets or {}).items())) \
        + (f" --batch-size {batch}" if batch else "")
    return stem, command


def table3_claims(runs: Path, data: str, skip: tuple[str, ...]) -> list[Claim]:
    """AOANet Table 3's claims from ``aoanet-table3`` summaries, 5 seeds, in both pair orders (those present)."""
    out = []
    for sets in ({}, LEMMA):
        stem, command = _stem("aoanet-table3", data, skip, sets)
        if not (runs / f"{stem}.csv").is_file():
            continue
        t, order = pd.read_csv(runs / f"{stem}.csv"), f", {sets['pair_order']} order" if sets else ""
        base = t[t["model"].isin(A3_BASELINES)]
        best = _side(base, base.sort_values("auc_mean")["model"].iloc[-1])
        gin, aoanet = _side(_rows(t, "gin"), "gin"), _side(_rows(t, "aoanet"), "aoanet")
        others = base[base["model"] != "dcn-m"]
        out += [Claim("AOANet", f"Table 3: GIN beats DCN-M (the paper's best baseline{order})", data, gin,
                      _side(_rows(t, "dcn-m"), "dcn-m"), command),
                Claim("AOANet", f"Table 3: GIN beats every baseline{order}", data, gin, best, command),
                Claim("AOANet", f"Table 3: AOANet (pruned at r = 0.3, re-trained) beats GIN{order}", data, aoanet, gin,
                      command),
                Claim("AOANet", f"Table 3: AOANet beats every baseline{order}", data, aoanet, best, command)]
        if not sets:        # the baselines have no pair order: one row each
            out += [Claim("AOANet", "Table 3: DCN-M beats the other baselines", data, _side(_rows(t, "dcn-m"), "dcn-m"),
                          _side(others, others.sort_values("auc_mean")["model"].iloc[-1]), command),
                    Claim("AOANet", "Table 3: OPNN beats IPNN", data, _side(_rows(t, "opnn"), "opnn"),
                          _side(_rows(t, "ipnn"), "ipnn"), command)]
    return out


def fig3_claims(runs: Path, data: str) -> list[Claim]:
    """AOANet Fig. 3's optima (L, S, r) from ``aoanet-fig3`` summaries, 5 seeds, in both pair orders: the whole grid,
    or, where it was not run, only AOANet's ratios (``--skip gin``)."""
    out = []
    for sets in ({}, LEMMA):
        if not (found := _first(runs, "aoanet-fig3", data, sets, (), ("gin",))):
            continue
        (t, skip, command), order = found, f"{sets['pair_order']} order" if sets else "Eq. 8 order"
        if not skip:
            plants = "; pairwise-only data" if data == "synthetic" else ""     # synthetic-3way asks L (aoanet-depth)
            out += [Claim("AOANet", f"Fig. 3a: L = 2 beats the best other L ({order}{plants})", data,
                          *_at(_rows(t, "gin", "layers L"), (2,), "L"), command),
                    Claim("AOANet", f"Fig. 3b: S = 2 (Private's best) or 3 (Criteo's) beats the best other S ({order})",
                          data, *_at(_rows(t, "gin", "subspaces S"), (2, 3), "S"), command)]
        r_rows = _rows(t, "aoanet", "ratio r")
        pruned, unpruned = _at(r_rows, (0.2, 0.3), "r")
        out += [Claim("AOANet", f"Fig. 3c: pruning to r = 0.2-0.3 beats no pruning (r = 1; {order})", data, pruned,
                      _at(r_rows, (1.0,), "r")[0], command),
                Claim("AOANet", f"Fig. 3c: r = 0.2-0.3 beats the best other r ({order})", data, pruned, unpruned,
                      command)]
    return out


def _first(runs: Path, spec: str, data: str, sets: dict, *skips: tuple[str, ...]):
    """(summary, skip, command) of the first of ``spec``'s 5-seed summaries on ``data`` with ``--set sets`` that is
    present, trying the ``skips`` in order (the whole grid before a run that left points out); None if none is."""
    for skip in skips:
        stem, command = _stem(spec, data, skip, sets)
        if (runs / f"{stem}.csv").is_file():
            return pd.read_csv(runs / f"{stem}.csv"), skip, command
    return None


def _both_cans(runs: Path, spec: str, data: str, *skips: tuple[str, ...]):
    """(summary, claim suffix, official?, command) for each of ``spec``'s summaries on ``data`` that is present (the
    first of ``skips`` found): the paper's CAN and the released one (``--set`` :data:`OFFICIAL`)."""
    for sets in ({}, OFFICIAL):
        if found := _first(runs, spec, data, sets, *skips):
            yield found[0], " (CAN as released)" if sets else "", bool(sets), found[2]


def can_table2_claims(runs: Path, data: str, skip: tuple[str, ...] = ()) -> list[Claim]:
    """CAN Table 2's claims from ``can-table2`` summaries, 5 seeds, with the paper's CAN and the released one; a
    claim whose models were skipped (``--skip cartesian can+cartesian``) is left out."""
    out = []
    for t, how, official, command in _both_cans(runs, "can-table2", data, skip):
        side = lambda m, label=None, t=t: _side(_rows(t, m), label or m)   # noqa: E731
        name = "can as released" if official else "can"
        out += [Claim("CAN", f"Table 2: + CAN beats DNN{how}", data, side("can", name), side("dnn"), command)]
        if "cartesian" in skip:
            continue
        rel = t.set_index("model")["params_rel"]
        can, cart = side("can", name), side("cartesian", f"cartesian ({rel['cartesian']:.2g}x)")
        if not official:
            out += [Claim("CAN", "Table 2: + Cartesian beats DNN", data, side("cartesian"), side("dnn"), command)]
        out += [Claim("CAN", f"Table 2: CAN at least matches Cartesian, with a fraction of its parameters{how}", data,
                      side("can", f"{name} ({rel['can']:.2g}x DNN's parameters)"), cart, command)]
        if "can+cartesian" not in skip:
            out += [Claim("CAN", f"Table 2: CAN + Cartesian beats CAN{how}", data, side("can+cartesian"), can, command)]
    return out


def table5_claims(runs: Path, data: str, *skips: tuple[str, ...]) -> list[Claim]:
    """CAN Table 5's claims from ``can-table5`` summaries, 5 seeds, with the paper's CAN and the released one, each
    the first of ``skips`` present (default: the whole grid). The default CAN (2 layers, tanh, orders 1-3) is one
    cached run under three labels; its "2 layers" row is used. Orders 1-2 and 1-4, where run, give the paper's
    choice of 3 orders ("2 or 3 power terms are proper", Sec. 5.3) its own row."""
    out = []
    for t, how, _, command in _both_cans(runs, "can-table5", data, *(skips or ((),))):
        at = lambda ablation, *values, t=t: t[(t["ablation"] == ablation) & t["value"].astype(str).isin(values)]  # noqa: E731
        default = _side(at("micro-MLP layers", "2 layers"), "default CAN")
        out += [Claim("CAN", f"Table 5: a 2-layer micro-MLP beats the best of 1 and 3 layers{how}", data, default,
                      _side(rest := at("micro-MLP layers", "1 layer", "3 layers"),
                            str(rest.sort_values("auc_mean")["value"].iloc[-1])), command),
                Claim("CAN", f"Table 5: tanh beats no activation{how}", data, default,
                      _side(at("activation", "none"), "none"), command),
                Claim("CAN", f"Table 5: orders 1-3 beat order 1{how}", data, default,
                      _side(at("orders", "1"), "order 1"), command)]
        if len(more := at("orders", "2", "4")) == 2:
            out.append(Claim("CAN", f"Table 5: orders 1-3 beat the best of orders 1-2 and 1-4{how}", data, default,
                             _side(more, f"orders 1-{more.sort_values('auc_mean')['value'].iloc[-1]}"), command))
    return out


CAN3_NAMES = {"ffm": "FFM", "dnn": "DNN", "deepfm": "DeepFM", "deepffm": "DeepFFM", "xdeepfm": "xDeepFM", "pnn": "PNN",
              "ncf": "NCF", "onn": "ONN"}     # can-table3's models without DIEN or CAN


def can_table3_claims(runs: Path, data: str, skip: tuple[str, ...] = ()) -> list[Claim]:
    """CAN Table 3's claims from a ``can-table3`` summary, 5 seeds: CAN against the best model without DIEN or CAN,
    DIEN against DNN, CAN-DIEN against DIEN."""
    stem, command = _stem("can-table3", data, skip)
    if not (runs / f"{stem}.csv").is_file():
        return []
    t = pd.read_csv(runs / f"{stem}.csv")
    others = t[t["model"].isin(CAN3_NAMES)]
    best = CAN3_NAMES[others.sort_values("auc_mean")["model"].iloc[-1]]
    side = lambda m: _side(_rows(t, m), m)   # noqa: E731
    return [Claim("CAN", f"Table 3: CAN beats the best model without DIEN (here {best})", data, side("can"),
                  _side(others, best.lower()), command),
            Claim("CAN", "Table 3: DIEN beats DNN", data, side("dien"), side("dnn"), command),
            Claim("CAN", "Table 3: CAN-DIEN beats DIEN", data, side("can-dien"), side("dien"), command)]


def fig5_claims(runs: Path, data: str) -> list[Claim]:
    """CAN Fig. 5's claims from a ``can-fig5`` summary, 5 seeds: the small CAN (1 layer, order 1) against ONN, whose
    parameter count it is closest to, and the default CAN against the small one."""
    stem, command = _stem("can-fig5", data)
    if not (runs / f"{stem}.csv").is_file():
        return []
    t = pd.read_csv(runs / f"{stem}.csv")
    small = _side(_rows(t, "can (small)"), "can (small)")
    return [Claim("CAN", "Fig. 5: CAN (small) beats ONN at similar parameters", data, small,
                  _side(_rows(t, "onn"), "onn"), command),
            Claim("CAN", "Fig. 5: the larger CAN beats CAN (small)", data, _side(_rows(t, "can"), "can"), small,
                  command)]


def family(c: Claim) -> str:
    """The table or figure a claim is about: ``"Table 3"``, ``"Fig. 3c"``, …"""
    return c.claim.split(":")[0]


def new_claims(runs: Path) -> tuple[list[Claim], set[tuple[str, str]]]:
    """Claims answered by issue 16's runs, read from the summaries ``ctrviz reproduce --out RUNS`` wrote (those
    present), and the (command, :func:`family` or claim) of the rows of :data:`CLAIMS` they replace (the same claims,
    re-run with 5 seeds)."""
    out, replaced = [], set()
    for data, seeds in (("synthetic-3way", 5), ("synthetic", 3)):
        csv = runs / f"aoanet-depth-{data}.csv"
        if not csv.is_file():
            continue
        t = pd.read_csv(csv)
        for order, name in (("eq8", "Eq. 8"), ("lemma", "lemma")):
            out.append(Claim("AOANet", f"Fig. 3a: L = 2 beats the best other L ({name} order)", data,
                             *_at(_rows(t, f"gin ({order})"), (2,), "L"),
                             f"reproduce aoanet-depth --data {data} --seeds {seeds}"))
    rerun = [(table3_claims, ("synthetic", ("xdeepfm",)), A3_SYN), (table3_claims, ("movielens", ()), A3_ML),
             (fig3_claims, ("synthetic",), F3_SYN), (fig3_claims, ("movielens",), F3_ML),
             (can_table3_claims, ("synthetic", ("xdeepfm",)), CAN3_SYN), (can_table3_claims, ("movielens",), CAN3_ML),
             (table5_claims, ("synthetic",), T5_SYN), (table5_claims, ("movielens",), T5_ML),
             (fig5_claims, ("synthetic",), FIG5_SYN), (fig5_claims, ("movielens",), FIG5_ML)]
    for read, args, old in rerun:          # a whole table re-run with 5 seeds replaces the old run's rows of it
        if found := read(runs, *args):
            out, replaced = out + found, replaced | {(old, family(c)) for c in found}
    # The movielens-seq re-run at batch 128 leaves out the Cartesian models (19.9 M parameters: one seed had not
    # finished after 10 minutes on CPU); their rows stay those of the train runs. Replaced claim by claim.
    for data, old, skip in (("synthetic", CAN2_SYN, ()), ("movielens-seq", CAN2_SEQ, ("cartesian", "can+cartesian"))):
        if found := can_table2_claims(runs, data, skip):
            out, replaced = out + found, replaced | {(old, c.claim) for c in found}
    out += table5_claims(runs, "movielens-seq", (), ("order=2", "order=4"))    # new data for Table 5: replaces no row
    only = ("can (item × history only)", "can-official (item × history only)")
    for data, skip in (("synthetic", ()), ("movielens-seq", only)):
        for batch in (None, 1024):             # the spec's batch, else a run from before the CAN specs took 128
            stem, command = _stem("can-presets", data, skip, batch=batch)
            if (csv := runs / f"{stem}.csv").is_file():
                break
        else:
            continue
        t = pd.read_csv(csv)
        dnn = _side(_rows(t, "dnn"), "dnn")
        for model, how in (("can-official", "CAN as released"), (only[0], "item × history pairs only"),
                           (only[1], "as released, item × history pairs only")):
            claim = f"Table 2: + CAN beats DNN ({how})"
            if model not in skip and not any((c.claim, c.data) == (claim, data) for c in out):   # can-table2's first
                out.append(Claim("CAN", claim, data, _side(_rows(t, model), model), dnn, command))
    return out, replaced


FAMILIES = ("Table 2", "Table 3", "Fig. 5", "Table 5", "Fig. 3a", "Fig. 3b", "Fig. 3c")


def ordered(claims: list[Claim]) -> list[Claim]:
    """CAN's claims, then AOANet's, each paper's in the order of its tables and figures, each table's by dataset
    (stable within one)."""
    return sorted(claims, key=lambda c: (c.paper != "CAN", FAMILIES.index(family(c)), c.data))


def markdown(t: pd.DataFrame) -> str:
    """``t`` as a GitHub markdown table (no extra dependency)."""
    rows = [list(t.columns), ["---"] * len(t.columns), *t.astype(str).values.tolist()]
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


RESULTS = Path(__file__).resolve().parent / "results"


def verdict_table(runs: Path | None = RESULTS) -> pd.DataFrame:
    """The verdict table from :data:`CLAIMS` and the summaries in ``runs`` (by default the ones committed under
    ``benchmarks/results/``, copied from ``ctrviz-out/reproduce``), which replace the older rows they re-run."""
    found, replaced = new_claims(runs) if runs else ([], set())
    kept = [c for c in CLAIMS if (c.command, family(c)) not in replaced and (c.command, c.claim) not in replaced]
    return table(ordered(kept + found))


def counts(t: pd.DataFrame) -> str:
    """The README's sentence counting the verdicts of ``t`` per paper.

    Example:
        >>> counts(pd.DataFrame({"paper": ["CAN", "CAN", "AOANet"], "verdict": ["holds", "can't tell", "holds"]}))
        "Of the 2 CAN rows, 1 holds, 0 don't and 1 can't be told apart; of the 1 AOANet rows, 1 holds, ..."
    """
    parts = []
    for paper in ("CAN", "AOANet"):
        n = t[t["paper"] == paper]["verdict"].value_counts()
        holds, no, unsure = (int(n.get(k, 0)) for k in ("holds", "doesn't hold", "can't tell"))
        parts.append(f"of the {holds + no + unsure} {paper} rows, {holds} hold{'s' * (holds == 1)}, {no} don't and "
                     f"{unsure} can't be told apart")
    return "O" + "; ".join(parts)[1:] + "."


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, default=RESULTS,
                   help="folder of `ctrviz reproduce --out` summaries (default: benchmarks/results)")
    t = verdict_table(p.parse_args().runs)
    print(markdown(t))
    print()
    print(counts(t))
    print()
    print(t.groupby(["paper", "verdict"]).size().unstack(fill_value=0).to_string())


if __name__ == "__main__":
    main()
