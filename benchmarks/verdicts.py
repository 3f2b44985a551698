"""One verdict per testable claim of the CAN and AOANet papers, from measured ``ctrviz reproduce`` results (issue 16).

Each claim compares two sides, each a (mean, std, seeds) of test AUC measured by the command in its row. The verdict
is computed, never typed: with d = the claimed side's mean minus the other's and s = the sum of their standard
deviations,

- **holds** when d > s (the claimed order, by more than the seeds' spread),
- **doesn't hold** when d < -s (the opposite order, by more than the spread),
- **can't tell** otherwise (the two are within their seed spread on this data).

A claim about a grid optimum (Fig. 3, Table 5) compares the paper's best setting with the best other setting of the
run. Every number is read from the summary CSVs ``ctrviz reproduce --out DIR`` wrote, 5 seeds each, committed under
``benchmarks/results`` (``--runs DIR`` reads another folder); a claim whose run is not there has no row. Prints the
markdown table the README holds (a test checks that the README's table is this one)::

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


def table(claims: list[Claim]) -> pd.DataFrame:
    """The verdict table: one row per claim and dataset."""
    fmt = lambda s: f"{s.label} {s.mean:.4f} ± {s.std:.4f}"   # noqa: E731
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
LAZY = {"embedding_optimizer": "lazy_adam"}     # row-wise Adam for the tables: the Cartesian models at batch 128


def _stem(spec: str, data: str, skip: tuple[str, ...] = (), sets: dict | None = None,
          train: dict | None = None) -> tuple[str, str]:
    """The file stem ``ctrviz reproduce`` writes with 5 seeds, ``--set sets`` and the training settings ``train``
    (e.g. ``{"batch_size": 1024}`` for ``--batch-size 1024``), and the command that wrote it."""
    stem = file_stem(spec, data, skip=skip, overrides=sets, train=train)
    quote = lambda label: f'"{label}"' if " " in label else label   # noqa: E731
    command = f"reproduce {spec} --data {data} --seeds 5" + (" --skip " + " ".join(map(quote, skip)) if skip else "") \
        + "".join(f" --set {k}={str(v).lower()}" for k, v in sorted((sets or {}).items())) \
        + "".join(f" --{k.replace('_', '-')} {v}" for k, v in (train or {}).items())
    return stem, command


def table3_claims(runs: Path, data: str, skip: tuple[str, ...]) -> list[Claim]:
    """AOANet Table 3's claims from ``aoanet-table3`` summaries, 5 seeds, in both pair orders (those present)."""
    out = []
    for sets in ({}, LEMMA):
        if not (found := _first(runs, "aoanet-table3", data, sets, skip)):
            continue
        (t, _, command), order = found, f", {sets['pair_order']} order" if sets else ""
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


def _first(runs: Path, spec: str, data: str, sets: dict, *skips: tuple[str, ...], train: dict | None = None):
    """(summary, skip, command) of the first of ``spec``'s 5-seed summaries on ``data`` with ``--set sets`` (and the
    training settings ``train``) that is present, trying the ``skips`` in order (the whole grid before a run that left
    points out); None if none is."""
    for skip in skips:
        stem, command = _stem(spec, data, skip, sets, train)
        if (runs / f"{stem}.csv").is_file():
            return pd.read_csv(runs / f"{stem}.csv"), skip, command
    return None


def _both_cans(runs: Path, spec: str, data: str, *skips: tuple[str, ...], train: dict | None = None):
    """(summary, claim suffix, official?, command) for each of ``spec``'s summaries on ``data`` that is present (the
    first of ``skips`` found): the paper's CAN and the released one (``--set`` :data:`OFFICIAL`). The suffix names
    the released CAN and tables trained by lazy Adam (``train=LAZY``)."""
    for sets in ({}, OFFICIAL):
        if found := _first(runs, spec, data, sets, *skips, train=train):
            tags = ["CAN as released"] * bool(sets) + ["tables by lazy Adam"] * (train == LAZY)
            yield found[0], f" ({', '.join(tags)})" if tags else "", bool(sets), found[2]


def _times(x: float) -> str:
    """A parameter multiple: ``"1.4x"``, ``"266x"``."""
    return f"{x:.2g}x" if x < 10 else f"{x:.0f}x"


def can_table2_claims(runs: Path, data: str, skip: tuple[str, ...] = (), train: dict | None = None) -> list[Claim]:
    """CAN Table 2's claims from ``can-table2`` summaries, 5 seeds, with the paper's CAN and the released one; a
    claim whose models were skipped (``--skip cartesian can+cartesian``) is left out. With ``train=LAZY`` the runs
    whose tables were trained by lazy Adam (``--embedding-optimizer lazy_adam``): their claims say so."""
    out = []
    for t, how, official, command in _both_cans(runs, "can-table2", data, skip, train=train):
        side = lambda m, label=None, t=t: _side(_rows(t, m), label or m)   # noqa: E731
        name = "can as released" if official else "can"
        can = side("can", name)
        out += [Claim("CAN", f"Table 2: + CAN beats DNN{how}", data, can, side("dnn"), command)]
        if "cartesian" in skip:
            continue
        rel = t.set_index("model")["params_rel"]
        cart = side("cartesian", f"cartesian ({_times(rel['cartesian'])})")
        if not official:
            out += [Claim("CAN", f"Table 2: + Cartesian beats DNN{how}", data, side("cartesian"), side("dnn"),
                          command)]
        out += [Claim("CAN", f"Table 2: CAN at least matches Cartesian, with a fraction of its parameters{how}", data,
                      side("can", f"{name} ({_times(rel['can'])} DNN's parameters)"), cart, command)]
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
    if not (found := _first(runs, "can-table3", data, {}, skip)):
        return []
    t, _, command = found
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
    if not (found := _first(runs, "can-fig5", data, {}, ())):
        return []
    t, _, command = found
    small = _side(_rows(t, "can (small)"), "can (small)")
    return [Claim("CAN", "Fig. 5: CAN (small) beats ONN at similar parameters", data, small,
                  _side(_rows(t, "onn"), "onn"), command),
            Claim("CAN", "Fig. 5: the larger CAN beats CAN (small)", data, _side(_rows(t, "can"), "can"), small,
                  command)]


def family(c: Claim) -> str:
    """The table or figure a claim is about: ``"Table 3"``, ``"Fig. 3c"``, …"""
    return c.claim.split(":")[0]


def read_claims(runs: Path) -> list[Claim]:
    """Every claim answered by the summaries ``ctrviz reproduce --out RUNS`` wrote (those present), 5 seeds each."""
    out = []
    if (csv := runs / "aoanet-depth-synthetic-3way.csv").is_file():
        t = pd.read_csv(csv)
        for order, name in (("eq8", "Eq. 8"), ("lemma", "lemma")):
            out.append(Claim("AOANet", f"Fig. 3a: L = 2 beats the best other L ({name} order)", "synthetic-3way",
                             *_at(_rows(t, f"gin ({order})"), (2,), "L"),
                             "reproduce aoanet-depth --data synthetic-3way --seeds 5"))
    for read, *args in [(table3_claims, "synthetic", ("xdeepfm",)), (table3_claims, "movielens", ()),
                        (fig3_claims, "synthetic"), (fig3_claims, "movielens"),
                        (can_table3_claims, "synthetic", ("xdeepfm",)), (can_table3_claims, "movielens"),
                        (table5_claims, "synthetic"), (table5_claims, "movielens"), (table5_claims, "movielens-seq"),
                        (fig5_claims, "synthetic"), (fig5_claims, "movielens"),
                        (can_table2_claims, "synthetic"),
                        # At batch 128 the Cartesian models (19.9 M parameters on movielens-seq) need row-wise updates
                        # of their tables on CPU (with dense Adam one seed had not finished after 10 minutes): the table
                        # without them by the paper's Adam, then the whole table with lazy Adam for the tables.
                        (can_table2_claims, "movielens-seq", ("cartesian", "can+cartesian")),
                        (can_table2_claims, "movielens-seq", (), LAZY),
                        (can_table2_claims, "movielens", ("cartesian", "can+cartesian")),
                        (can_table2_claims, "movielens", (), LAZY)]:
        out += read(runs, *args)
    # The item × history pairs rows come from can-presets on synthetic (on movielens-seq they were skipped: the
    # presets' other rows, DNN and the released CAN, are can-table2's there).
    if found := _first(runs, "can-presets", "synthetic", {}, ()):
        (t, _, command), dnn = found, _side(_rows(found[0], "dnn"), "dnn")
        for model, how in (("can-official", "CAN as released"),
                           ("can (item × history only)", "item × history pairs only"),
                           ("can-official (item × history only)", "as released, item × history pairs only")):
            claim = f"Table 2: + CAN beats DNN ({how})"
            if not any((c.claim, c.data) == (claim, "synthetic") for c in out):   # can-table2's first
                out.append(Claim("CAN", claim, "synthetic", _side(_rows(t, model), model), dnn, command))
    return out


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


def verdict_table(runs: Path = RESULTS) -> pd.DataFrame:
    """The verdict table from the summaries in ``runs`` (by default the ones committed under ``benchmarks/results/``,
    copied from ``ctrviz-out/reproduce``)."""
    return table(ordered(read_claims(runs)))


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
