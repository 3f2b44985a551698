"""The ``ctrviz`` command (``python -m ctrviz …``): train, demo, reproduce, explain, spec, lemmas, cache, models,
datasets.

``explain`` trains GIN over seeds and writes a report folder of the field pairs that matter (:mod:`ctrviz.explain`);
``train --model can --pairs-from REPORT`` uses its top pairs as CAN's co-action pairs.

``train`` and ``reproduce`` take a registered dataset (``--data criteo``) or your own table with a spec
(``--data my.csv --spec my.yaml``, :func:`ctrviz.data.table.load_table`); ``spec my.csv`` writes a starter spec.

Bad arguments and bad input (files, checkpoints, output folders — every folder a command writes is checked before
any data is read) exit with status 2 and one line ``ctrviz: error: <reason>``; Ctrl-C exits 130 with one line.
Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

DEMO_MODELS = ("lr", "fm", "dnn", "cartesian", "can", "can+cartesian", "gin", "aoanet")  # + CAN Table 2, AOANet


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        self.exit(2, f"ctrviz: error: {message} (try `{self.prog} --help`)\n")


def _seed(text: str) -> int:
    """A seed: an integer in [0, 2^63 − 1] (torch's and NumPy's seeding take 64-bit values)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2^63 - 1], got {text}")
    return value


def _positive(kind: type) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value
    return parse


def _add_train_options(p: argparse.ArgumentParser, epochs: int, batch_size: int, patience: int,
                       lr: float = 1e-3) -> None:
    p.add_argument("--epochs", type=_positive(int), default=epochs, help=f"maximum epochs (default {epochs})")
    p.add_argument("--batch-size", type=_positive(int), default=batch_size,
                   help=f"rows per step (default {batch_size})")
    p.add_argument("--lr", type=_positive(float), default=lr, help=f"Adam learning rate (default {lr:g})")
    p.add_argument("--patience", type=int, default=patience,
                   help=f"early-stopping patience on valid AUC; 0 = off (default {patience})")
    p.add_argument("--seed", type=_seed, default=0, help="seed for data, init and shuffling (default 0)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--cache", default=None, help="data cache folder (default $CTRVIZ_CACHE or ~/.cache/ctrviz)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--threads", type=_positive(int), default=None, metavar="N",
                   help="CPU threads for torch (default: $OMP_NUM_THREADS, else one per core); beside other busy "
                        "processes fewer threads than cores can be faster")


_MIN_COUNT_HELP = ("ids seen fewer times in the train split become OOV (criteo, avazu, amazon, taobao, and a --spec "
                   "table, where it replaces the spec's global min_count; default: the reader's); a 100-row sample "
                   "needs 1")
_SPEC_HELP = ("a table spec (.yaml, .toml or .json) describing the file given as --data; write a starter one with "
              "`ctrviz spec FILE`")


def _data_help(names) -> str:
    return f"one of: {', '.join(names)}; or, with --spec, a CSV/TSV (.gz) or parquet file"


def build_parser() -> argparse.ArgumentParser:
    from ctrviz.data import DATASETS
    from ctrviz.models import MODELS
    from ctrviz.optim import EMBEDDING_OPTIMIZERS

    parser = _Parser(prog="ctrviz", description="CAN and AOANet, step by step: train, compare, verify.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train one model on one dataset and report test metrics")
    t.add_argument("--model", required=True, choices=sorted(MODELS), metavar="NAME",
                   help=f"one of: {', '.join(sorted(MODELS))}")
    t.add_argument("--data", required=True, metavar="NAME|FILE", help=_data_help(DATASETS))
    t.add_argument("--spec", default=None, metavar="SPEC", help=_SPEC_HELP)
    _add_train_options(t, epochs=10, batch_size=1024, patience=2)
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="a model config field, e.g. --set embed_dim=8 --set hidden=64,32 --set "
                        "pairs=item:hist_item --set coaction.orders=2 (repeatable; the fields: "
                        "python -m ctrviz models --fields MODEL)")
    t.add_argument("--min-count", type=_positive(int), default=None, metavar="N", help=_MIN_COUNT_HELP)
    t.add_argument("--checkpoint-dir", default=None, help="write last.pt here after every epoch")
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint-dir/last.pt")
    t.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    t.add_argument("--fused", action="store_true", help="fused optimizer kernels (faster; equal up to rounding)")
    t.add_argument("--optimizer", default="adam", choices=("adam", "adamw", "adagrad", "sgd"),
                   help="the optimizer of the dense weights (and of the tables with --embedding-optimizer dense)")
    t.add_argument("--weight-decay", type=float, default=0.0, metavar="W",
                   help="L2 (adam, adagrad, sgd) or decoupled (adamw) weight decay (default 0)")
    t.add_argument("--grad-clip", type=_positive(float), default=None, metavar="NORM",
                   help="clip the global gradient L2 norm to NORM (default: no clipping)")
    t.add_argument("--embedding-optimizer", default="dense", choices=EMBEDDING_OPTIMIZERS,
                   help="dense: the tables with Adam like every weight (default); lazy_adam / rowwise_adagrad: "
                        "update only the rows a batch touches (a step's cost independent of the vocabulary)")
    t.add_argument("--embedding-lr", type=_positive(float), default=None, metavar="LR",
                   help="the tables' learning rate with a row-wise --embedding-optimizer (default: --lr)")
    t.add_argument("--amp", action="store_true",
                   help="bf16 autocast, also on a CPU with native bf16 (default: only on a bf16 GPU)")
    t.add_argument("--pairs-from", default=None, metavar="REPORT",
                   help="CAN's co-action pairs: the top --top-k pairs of a `ctrviz explain` report folder (for models "
                        "with pairs: can, can-official, can-dien, cartesian, can+cartesian)")
    t.add_argument("--top-k", type=_positive(int), default=5, metavar="K",
                   help="with --pairs-from: how many pairs (default 5)")
    t.add_argument("--induction", default="first", choices=("first", "second", "smaller"),
                   help="with --pairs-from: which field of a pair a×b is CAN's induction side: first (a), second (b) "
                        "or smaller (the smaller vocabulary); a history or bag is always the feed (default first)")
    d = sub.add_parser("demo", help="train the baselines on synthetic data, print a table beside the oracle, "
                                    "write a figure")
    # Smaller batches and more patience than `train`: with CAN's N(0, 0.01) embedding init the DNN sits
    # on a plateau (valid AUC ≈ 0.75) for a few epochs before it learns the interactions.
    _add_train_options(d, epochs=10, batch_size=256, patience=3)
    d.add_argument("--out", default="ctrviz-out", help="folder for demo.png and demo.csv (default ctrviz-out)")
    r = sub.add_parser("reproduce", help="run one of the papers' experiments (models × seeds × settings), print "
                                         "mean ± std, write CSV + PNG")
    from ctrviz.reproduce import SPECS
    r.add_argument("name", choices=list(SPECS), metavar="NAME", help=f"one of: {', '.join(SPECS)}")
    r.add_argument("--data", required=True, metavar="NAME|FILE", help=_data_help(DATASETS))
    r.add_argument("--spec", default=None, metavar="SPEC", help=_SPEC_HELP)
    r.add_argument("--seeds", type=_positive(int), default=5, help="seeds per setting (default 5)")
    r.add_argument("--quick", action="store_true", help="1 seed, 1 epoch, <= 8k training rows, a reduced grid")
    r.add_argument("--out", default="ctrviz-out/reproduce", help="folder for the CSV and PNG files")
    r.add_argument("--results", default=None, metavar="DIR",
                   help="result cache folder (default <cache>/runs); finished runs are reused")
    r.add_argument("--cache", default=None, help="data cache folder (default $CTRVIZ_CACHE or ~/.cache/ctrviz)")
    r.add_argument("--min-count", type=_positive(int), default=None, metavar="N", help=_MIN_COUNT_HELP)
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--threads", type=_positive(int), default=None, metavar="N",
                   help="CPU threads for torch (default: $OMP_NUM_THREADS, else one per core)")
    r.add_argument("--skip", nargs="+", default=[], metavar="LABEL",
                   help="leave out these models / grid labels (e.g. xdeepfm, the slowest on CPU)")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="a model config field for every run whose model has it (repeatable), e.g. pair_order=lemma "
                        "(GIN/AOANet)")
    r.add_argument("--batch-size", type=_positive(int), default=None, metavar="N",
                   help="training batch size instead of the spec's (on real data: 128 for can-*, "
                        "as the CAN paper; 1024 for the others, as AOANet's; 256 on synthetic data)")
    r.add_argument("--lr", type=_positive(float), default=None, help="learning rate instead of the spec's")
    r.add_argument("--embedding-optimizer", default=None, choices=EMBEDDING_OPTIMIZERS,
                   help="the tables' optimizer instead of the spec's dense Adam: lazy_adam / rowwise_adagrad update "
                        "only the rows a batch touches (for models with large tables, e.g. cartesian)")
    r.add_argument("--embedding-lr", type=_positive(float), default=None, metavar="LR",
                   help="the tables' learning rate with a row-wise --embedding-optimizer (default: the spec's lr)")
    e = sub.add_parser("explain", help="which feature interactions matter: train GIN (AOANet's selection) over seeds, "
                                       "write a report folder (ranked pairs, heatmap, AUCs, report.html)")
    e.add_argument("--data", required=True, metavar="NAME|FILE", help=_data_help(DATASETS))
    e.add_argument("--spec", default=None, metavar="SPEC", help=_SPEC_HELP)
    e.add_argument("--seeds", type=_positive(int), default=3, help="seeds --seed … --seed+N-1 (default 3)")
    e.add_argument("--ratio", type=_ratio, default=0.3, metavar="R",
                   help="the share of α AOANet keeps, in (0, 1) (default 0.3, AOANet Table 4)")
    e.add_argument("--out", default="ctrviz-out/explain", help="the report folder (default ctrviz-out/explain)")
    e.add_argument("--compare", nargs="+", default=["aoanet", "dnn"], metavar="MODEL",
                   help="models trained beside GIN for the AUC table (default: aoanet dnn; aoanet reuses GIN as its "
                        "selection stage)")
    e.add_argument("--max-rows", type=_positive(int), default=None, metavar="N",
                   help="train on at most N random training rows (and N/4, at least 2000, valid/test rows)")
    e.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="a GIN/AOANet config field, e.g. --set embed_dim=8 --set hidden=64 --set ranking=layer "
                        "(fields: ctrviz models --fields aoanet; the ratio is --ratio)")
    e.add_argument("--min-count", type=_positive(int), default=None, metavar="N", help=_MIN_COUNT_HELP)
    e.add_argument("--results", default=None, metavar="DIR",
                   help="result cache folder shared with reproduce (default <cache>/runs); finished runs are reused")
    # measured: 40k synthetic rows, 4 epochs of batch 256 at lr 3e-3 put the planted pairs on top (tests/test_explain)
    _add_train_options(e, epochs=5, batch_size=256, patience=2, lr=3e-3)
    sp = sub.add_parser("spec", help="inspect a CSV/TSV/parquet file (column types, cardinalities, missing rates) and "
                                     "write a starter spec to edit, for train/reproduce --spec")
    sp.add_argument("file", metavar="FILE", help="the table: .csv, .tsv, .txt (optionally .gz) or .parquet")
    sp.add_argument("--out", default=None, dest="spec_out", metavar="SPEC",
                    help="where to write the spec (default: FILE's name with .yaml, beside it)")
    sp.add_argument("--rows", type=_positive(int), default=10_000, metavar="N",
                    help="rows to sample from the top of the file (default 10000)")
    sp.add_argument("--force", action="store_true", help="overwrite an existing spec file")
    lem = sub.add_parser("lemmas", help="check the AOANet equivalence lemmas (and CAN's FM case) in float64; "
                                        "exit 1 if one fails")
    lem.add_argument("--seeds", type=_positive(int), default=3, help="random inputs per shape (default 3)")
    c = sub.add_parser("cache", help="look after the data cache: `cache clean` removes the temp files of builds "
                                     "that were killed")
    c.add_argument("action", choices=["clean"], help="clean: remove temp files whose writing process is gone")
    c.add_argument("--cache", default=None, help="data cache folder (default $CTRVIZ_CACHE or ~/.cache/ctrviz)")
    m = sub.add_parser("models", help="list the registered models (--fields MODEL: its config fields, for --set)")
    m.add_argument("--fields", default=None, choices=sorted(MODELS), metavar="MODEL",
                   help="print MODEL's config fields with their types and defaults")
    sub.add_parser("datasets", help="list the registered datasets")
    return parser


def _ratio(text: str) -> float:
    """A selection ratio r in the open interval (0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1) (the share of α kept), got {text}")
    return value


def _train_config(args: argparse.Namespace, **extra: object):
    from ctrviz.train import TrainConfig
    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, patience=args.patience,
                       seed=args.seed, device=args.device, progress=not args.no_progress, **extra)


def cmd_train(args: argparse.Namespace) -> int:
    from ctrviz import distributed
    from ctrviz.data import load_dataset
    from ctrviz.experiments import run_model
    from ctrviz.models import make_config, parse_overrides

    if args.resume and not args.checkpoint_dir:
        raise ValueError("--resume needs --checkpoint-dir (the folder holding last.pt)")
    overrides = parse_overrides(args.model, args.overrides)
    make_config(args.model, overrides)                 # an impossible value fails here, before the data loads
    if args.pairs_from is not None:
        _pairs_from(args, overrides, None)             # the report and the model checked before the data loads
    config = _train_config(args, checkpoint_dir=args.checkpoint_dir, resume=args.resume, fused=args.fused,
                           embedding_optimizer=args.embedding_optimizer, embedding_lr=args.embedding_lr,
                           optimizer=args.optimizer, weight_decay=args.weight_decay, grad_clip=args.grad_clip,
                           **({"amp": True} if args.amp else {}))
    # Under torchrun: one process per device, DistributedDataParallel, only rank 0 reports. Else a no-op.
    with distributed.process_group(args.device) as launched:
        with distributed.main_first():  # rank 0 fills the data cache (downloads, encodings), then the others
            data = load_dataset(args.data, seed=args.seed, cache=args.cache, min_count=args.min_count,
                                spec=args.spec)
        if args.pairs_from is not None:
            overrides["pairs"] = _pairs_from(args, overrides, data.schema)
            if distributed.is_main():
                print(f"co-action pairs from {args.pairs_from} (top {args.top_k}, induction × feed): "
                      + ", ".join(f"{a}×{b}" for a, b in overrides["pairs"]), file=sys.stderr, flush=True)
        row, _ = run_model(args.model, data, config, model_config=overrides or None)
        if launched:
            row["world_size"] = distributed.world_size()
        if not distributed.is_main():
            return 0
    if args.json:
        print(json.dumps(row))
    else:
        width = max(map(len, row))
        print("\n".join(f"{k:<{width}}  {v:.4f}" if isinstance(v, float) else f"{k:<{width}}  {v}"
                        for k, v in row.items()))
    return 0


def _pairs_from(args: argparse.Namespace, overrides: dict, schema) -> tuple[tuple[str, str], ...]:
    """``--pairs-from``: the report's top pairs as ``pairs`` of the model config (checked against ``schema``)."""
    from ctrviz.explain import pairs_from_report
    from ctrviz.models import config_fields

    if "pairs" not in config_fields(args.model):
        raise ValueError(f"--pairs-from sets co-action pairs; model {args.model} has none (use can, can-official, "
                         "can-dien, cartesian or can+cartesian)")
    if "pairs" in overrides:
        raise ValueError("--pairs-from and --set pairs=… both name the pairs; pass one of them")
    pairs = pairs_from_report(args.pairs_from, args.top_k, args.induction, schema)
    return tuple((p.induction, p.feed) for p in pairs)


def cmd_explain(args: argparse.Namespace) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import pandas as pd

    from ctrviz.data import load_dataset
    from ctrviz.data.cache import cache_dir
    from ctrviz.data.subsample import subsample
    from ctrviz.explain import explain
    from ctrviz.models import make_config, parse_overrides

    start = time.perf_counter()
    overrides = parse_overrides("aoanet", args.overrides)
    if "ratio" in overrides:
        raise ValueError("--set ratio=…: the ratio is --ratio")
    ranking = overrides.pop("ranking", "subspace")
    make_config("aoanet", {**overrides, "ratio": args.ratio, "ranking": ranking})   # fails here, before the data loads
    for name in args.compare:
        make_config(name, None)                                  # an unknown model too
    results = Path(args.results) if args.results else cache_dir(args.cache) / "runs"
    seeds = list(range(args.seed, args.seed + args.seeds))
    print(f"ctrviz explain: GIN over seeds {seeds[0]}–{seeds[-1]} on {args.data}, r = {args.ratio:g}, compared with "
          f"{', '.join(args.compare) or 'nothing'} …", flush=True)
    data = load_dataset(args.data, seed=args.seed, cache=args.cache, min_count=args.min_count, spec=args.spec)
    if args.max_rows is not None:
        data = subsample(data, args.max_rows, max(2000, args.max_rows // 4), seed=args.seed)
    rep = explain(data, seeds=seeds, ratio=args.ratio, train=_train_config(args), model_config=overrides,
                  ranking=ranking, compare=args.compare, cache=results, progress=not args.no_progress)
    files = rep.save(args.out)
    print(f"\n{rep.summary_text()}\n")
    with pd.option_context("display.width", 200):
        print(rep.pairs.head(10).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        print()
        print(rep.auc_summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"\nReport: {files['report.html'].resolve()}\nFolder: {Path(args.out).resolve()}\n"
          f"CAN from these pairs: ctrviz train --model can --data {args.data} --pairs-from {args.out} --top-k 5\n"
          f"Done in {time.perf_counter() - start:.0f} s.")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import matplotlib
    matplotlib.use("Agg")
    import pandas as pd

    from ctrviz.data import load_dataset
    from ctrviz.experiments import compare_models
    from ctrviz.plots import plot_demo
    from ctrviz.utils import atomic_write_bytes, atomic_write_text

    start = time.perf_counter()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder; pass another path")
    print(f"ctrviz demo: synthetic data with planted interactions (seed {args.seed}) …", flush=True)
    data = load_dataset("synthetic", seed=args.seed, cache=args.cache)
    oracle = float(data.info["oracle_auc"])
    table, results = compare_models(DEMO_MODELS, data, _train_config(args))
    table = table[["model", "auc", "logloss", "params", "seconds", "epochs"]].astype({"params": "Int64",
                                                                                      "epochs": "Int64"})
    dnn_params = table.loc[table.model == "dnn", "params"]
    if len(dnn_params):   # parameter multiples as in CAN's Table 2
        table.insert(4, "×dnn", table["params"] / dnn_params.iloc[0])
    shown = pd.concat([table, pd.DataFrame([{"model": "oracle", "auc": oracle,
                                             "logloss": float(data.info["oracle_logloss"])}])], ignore_index=True)
    n = {s: len(getattr(data, s)) for s in ("train", "valid", "test")}
    print(f"\nSynthetic data: {n['train']:,} train / {n['valid']:,} valid / {n['test']:,} test rows, "
          f"planted pairs {data.info['planted_pairs']}.")
    fmt = {"auc": "{:.4f}", "logloss": "{:.4f}", "params": "{:,}", "×dnn": "{:.1f}x", "seconds": "{:.1f}",
           "epochs": "{}"}
    print(shown.assign(**{c: ["-" if pd.isna(v) else f.format(v) for v in shown[c]] for c, f in fmt.items()})
          .to_string(index=False))
    fig = plot_demo(table, {k: r.history for k, r in results.items()}, oracle)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    png = atomic_write_bytes(out / "demo.png", buf.getvalue())
    csv = atomic_write_text(out / "demo.csv", shown.to_csv(index=False))
    print(f"\nFigure: {png.resolve()}\nTable:  {csv.resolve()}\nDone in {time.perf_counter() - start:.0f} s.")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    import matplotlib
    matplotlib.use("Agg")

    from ctrviz.data import load_dataset
    from ctrviz.data.cache import cache_dir
    from ctrviz.reproduce import NAMED_TRAIN_FIELDS, SPECS, apply_overrides, default_train, reproduce, table_text

    start, spec = time.perf_counter(), SPECS[args.name]
    runs = spec.runs(args.seeds, args.quick, args.skip)   # an unknown label fails here, before the data loads
    overrides = _spec_overrides(runs, args.overrides)
    apply_overrides(runs, overrides, spec.name)        # so does a field no model has, or an impossible value
    changed = {k: getattr(args, k) for k in NAMED_TRAIN_FIELDS if getattr(args, k) is not None}
    if args.embedding_lr is not None and args.embedding_optimizer in (None, "dense"):
        raise ValueError("--embedding-lr needs a row-wise --embedding-optimizer (lazy_adam or rowwise_adagrad); "
                         "with dense tables --lr sets every weight's rate")
    train = dataclasses.replace(default_train(args.data, args.quick, spec.name), **changed)   # checks the values
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a folder; pass another path")
    results = Path(args.results) if args.results else cache_dir(args.cache) / "runs"
    print(f"ctrviz reproduce {spec.name}: {spec.title} ({spec.paper}) on {args.data}"
          f"{', quick' if args.quick else f', {args.seeds} seeds'}"
          f"{', without ' + ', '.join(args.skip) if args.skip else ''} …", flush=True)
    data = load_dataset(args.data, seed=0, cache=args.cache, min_count=args.min_count, spec=args.spec)
    if changed:
        print(f"training: batch {train.batch_size}, lr {train.lr:g}" + (
            f", tables {train.embedding_optimizer}" + (f" at lr {train.embedding_lr:g}" if train.embedding_lr else "")
            if train.embedding_optimizer != "dense" else ""), flush=True)
    rep = reproduce(args.name, data, seeds=args.seeds, quick=args.quick, out=out, cache=results,
                    progress=not args.no_progress, skip=args.skip, overrides=overrides, train=train)
    cached = int(rep.runs["cached"].sum())
    print(f"\n{table_text(rep)}\n")
    print(f"{len(rep.runs)} runs ({cached} from the cache {results}); mean ± std over seeds.")
    for what, path in rep.files.items():
        print(f"{what:8s} {path.resolve()}")
    print(f"Done in {time.perf_counter() - start:.0f} s.")
    return 0


def _spec_overrides(runs: list, items: list[str]) -> dict[str, object]:
    """``reproduce --set`` items typed by the config of the first run whose model has the key (one-line errors)."""
    from ctrviz.models import config_fields, parse_overrides

    out: dict[str, object] = {}
    for item in items:
        key = item.split("=", 1)[0].strip()
        model = next((r.model for r in runs if key.split(".")[-1] in
                      config_fields(r.model)), None)
        if model is None:
            raise ValueError(f"--set {item}: no model of this experiment has the config field {key!r}")
        out.update(parse_overrides(model, [item]))
    return out


def cmd_spec(args: argparse.Namespace) -> int:
    import pandas as pd

    from ctrviz.data.table import TableSpec
    from ctrviz.data.table_inspect import inspect_table
    from ctrviz.utils import atomic_write_text

    src = Path(args.file).expanduser()
    out = Path(args.spec_out).expanduser() if args.spec_out else src.with_name(src.name.split(".")[0] + ".yaml")
    if out.exists() and not args.force:
        raise ValueError(f"{out} exists (your edits?); pass --force to overwrite it or --out another path")
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise ValueError(f"--out {out}: the starter spec is YAML; name it .yaml or .yml")
    report = inspect_table(src, rows=args.rows)
    with pd.option_context("display.max_colwidth", 60, "display.width", 200, "display.max_rows", 500):
        print(report.summary.to_string(index=False, formatters={"missing": "{:.1%}".format}))
    written = atomic_write_text(out, report.spec)
    try:
        TableSpec.from_text(report.spec)
        ready = "edit it if a guess is wrong"
    except ValueError as e:                            # e.g. no label found: the spec says what to fill in
        ready = f"edit it first ({' '.join(str(e).split())})"
    print(f"\n{report.rows:,} rows sampled. Wrote {written}: {ready}, then run\n"
          f"  ctrviz train --model dnn --data {src} --spec {written}")
    return 0


def cmd_lemmas(args: argparse.Namespace) -> int:
    import pandas as pd

    from ctrviz.lemmas import TOLERANCE, check_all

    table = check_all(seeds=tuple(range(args.seeds)))
    relations, degenerate = table[table.kind == "relation"], table[table.kind == "degenerate"]
    show = relations[["lemma", "reference", "relation", "max_abs_error", "passed"]]
    with pd.option_context("display.max_colwidth", 90, "display.width", 250):
        print(show.to_string(index=False, formatters={"max_abs_error": "{:.1e}".format}))
        print(f"\nshapes (B×F×D): {table.shapes.iloc[0]}; {args.seeds} seed(s) each; float64; "
              f"pass if max |error| <= {TOLERANCE:g}")
        for row in relations[relations.note != ""].itertuples():
            print(f"  {row.lemma}: {row.note}")
        print("\ndegenerate constructions (explained failures, not counted; see ctrviz.lemmas):")
        for row in degenerate.itertuples():
            print(f"  {row.lemma}: {row.relation} → max |error| {row.max_abs_error:.1e}; {row.note}")
    failed = relations[~relations.passed]
    print(f"\n{len(relations) - len(failed)}/{len(relations)} relations hold"
          + (f"; FAILED: {', '.join(failed.lemma)}" if len(failed) else ""))
    return 1 if len(failed) else 0


def cmd_list(what: str) -> int:
    import pandas as pd

    from ctrviz.data import list_datasets
    from ctrviz.models import list_models

    frame = list_models() if what == "models" else list_datasets()
    with pd.option_context("display.max_colwidth", 100, "display.width", 200):
        print(frame.to_string(index=False))
    return 0


def cmd_fields(model: str) -> int:
    import dataclasses
    import typing

    from ctrviz.models import config_parts, get_spec

    cls = get_spec(model).config_cls
    hints = typing.get_type_hints(cls)
    part_of = {f: part for part, fields in config_parts(cls).items() for f in fields}
    rows = [(f"{part_of[f.name]}.{f.name}" if f.name in part_of else f.name,
             str(hints[f.name]).replace("typing.", "").replace("<class '", "").replace("'>", ""),
             repr(f.default if f.default is not dataclasses.MISSING else f.default_factory()))
            for f in dataclasses.fields(cls)]
    width = max(len(r[0]) for r in rows), max(len(r[1]) for r in rows)
    print(f"{model} ({cls.__name__}): set any of these with --set KEY=VALUE "
          f"(a field of a part: its name alone or part.name)")
    for name, kind, default in rows:
        print(f"  {name:<{width[0]}}  {kind:<{width[1]}}  default {default}")
    return 0


def cmd_cache(args: argparse.Namespace) -> int:
    import shutil

    from ctrviz.data.cache import cache_dir
    from ctrviz.utils import orphaned_temp_files

    root = cache_dir(args.cache, create=False)
    stale = orphaned_temp_files(root, recursive=True)
    freed = 0
    for path in stale:                                 # a temp file, or the temp folder of an encoded-cache build
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        freed += size
        print(f"removed {path} ({size / 1e6:.1f} MB)")
    print(f"{len(stale)} temp file(s) of killed runs removed from {root}, {freed / 1e6:.1f} MB freed")
    return 0


def _check_outputs(args: argparse.Namespace) -> None:
    """Every folder the command will write — data cache, checkpoints, figures, results — checked before any data
    is read or any training starts (a ValueError naming the option)."""
    from ctrviz.data.cache import cache_dir
    from ctrviz.utils import writable_dir

    if getattr(args, "cache", None) is not None or args.command in ("train", "demo", "reproduce", "explain"):
        cache_dir(args.cache, create=False)
    for option in ("checkpoint_dir", "out", "results"):
        if getattr(args, option, None) is not None:
            writable_dir(getattr(args, option), "--" + option.replace("_", "-"))


def _check_data(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--data``: a registered name, or a file when ``--spec`` is given (argparse's one-line error otherwise)."""
    from ctrviz.data import DATASETS

    if args.command not in ("train", "reproduce", "explain"):
        return
    if args.spec is None and args.data not in DATASETS:
        if Path(args.data).expanduser().is_file() or Path(args.data).suffix:
            parser.error(f"argument --data: {args.data!r} is a file; describe its columns with --spec SPEC (write a "
                         f"starter spec with `ctrviz spec {args.data}`)")
        parser.error(f"argument --data: invalid choice: {args.data!r} (choose from {', '.join(DATASETS)}; or a file "
                     "with --spec)")
    if args.spec is not None and args.data in DATASETS and not Path(args.data).expanduser().is_file():
        parser.error(f"argument --spec: --data {args.data} is a registered dataset; --spec describes a file given as "
                     "--data (drop --spec, or pass the file)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_data(parser, args)
    try:
        _check_outputs(args)
        if getattr(args, "threads", None) is not None:
            import torch
            torch.set_num_threads(args.threads)
        if args.command == "train":
            return cmd_train(args)
        if args.command == "demo":
            return cmd_demo(args)
        if args.command == "lemmas":
            return cmd_lemmas(args)
        if args.command == "explain":
            return cmd_explain(args)
        if args.command == "reproduce":
            return cmd_reproduce(args)
        if args.command == "cache":
            return cmd_cache(args)
        if args.command == "spec":
            return cmd_spec(args)
        if args.command == "models" and args.fields:
            return cmd_fields(args.fields)
        return cmd_list(args.command)
    except (ValueError, FloatingPointError) as e:
        msg = " ".join(str(e).split())
        print(f"ctrviz: error: {msg}", file=sys.stderr)
        return 2
    except OSError as e:                              # a file the user named: missing, unreadable, disk full, …
        where = f": {e.filename}" if e.filename else ""
        print(f"ctrviz: error: {e.strerror or ' '.join(str(e).split())}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:                         # Ctrl-C: atomic writes already removed their temp files
        print(f"ctrviz: interrupted (Ctrl-C); {args.command} stopped, nothing half-written was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
