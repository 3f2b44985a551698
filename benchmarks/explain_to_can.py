"""AOANet → CAN: does CAN with the pairs `ctrviz explain` found match CAN with the true pairs, and beat random pairs?

The synthetic data (default size, data seed 0) with ``declare_pairs=False``: the schema names no pairs, so nothing
tells CAN which fields co-act. Then:

1. :func:`ctrviz.explain.explain` trains GIN over the seeds and ranks the field pairs by |α| (DNN beside it);
2. CAN is trained per seed with three sets of ``--top-k`` induction × feed pairs:

   - **explained**: the report's top k (:func:`ctrviz.explain.pairs_from_report`, ``induction="first"``);
   - **true**: what the generator planted — item × hist_item, category × hist_cat and the 3 planted context pairs
     (the pairs the schema declares by default; k = 5 matches them);
   - **random**: k pairs drawn uniformly (per seed) from every pair CAN can take (one side sparse, none dense).

Prints a DataFrame of test AUC / logloss, mean ± std over the seeds, with DNN, GIN and the oracle beside them, and
writes every run to ``--out``.

Run:  python benchmarks/explain_to_can.py [--seeds 3] [--epochs 3] [--top-k 5] [--rows 200000]
Training: batch 256, lr 3e-3, at most ``--epochs`` epochs, patience 2 (explain's defaults, fewer epochs).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import time

import numpy as np
import pandas as pd

from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
from ctrviz.experiments import run_model
from ctrviz.explain import default_train, explain, pairs_from_report
from ctrviz.utils import atomic_write_text


def _names(pairs) -> str:
    return ", ".join(f"{a}×{b}" for a, b in pairs)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--rows", type=int, default=SyntheticConfig().n_rows)
    p.add_argument("--out", default="ctrviz-out/explain_to_can.csv")
    args = p.parse_args()
    start = time.perf_counter()
    data = make_synthetic(SyntheticConfig(n_rows=args.rows, declare_pairs=False))
    assert data.schema.pairs == ()
    train = dataclasses.replace(default_train(), epochs=args.epochs)
    seeds = list(range(args.seeds))

    rep = explain(data, seeds=seeds, train=train, compare=("dnn",), progress=False)
    print(rep.summary_text(), flush=True)
    explained = [(q.induction, q.feed) for q in pairs_from_report(rep, args.top_k, "first", data.schema)]
    true = [("item", "hist_item"), ("category", "hist_cat"), *(tuple(q) for q in data.info["planted_pairs"])]
    schema = data.schema
    usable = [(a, b) if schema[a].kind == "sparse" else (b, a)
              for i, a in enumerate(schema.names("sparse", "multi", "sequence"))
              for b in schema.names("sparse", "multi", "sequence")[i + 1:]
              if "sparse" in (schema[a].kind, schema[b].kind)]
    print(f"explained top {args.top_k}: {_names(explained)}\ntrue: {_names(true)}\n"
          f"random: {args.top_k} of {len(usable)} usable pairs per seed", flush=True)

    rows = [{"variant": r.model, "seed": r.seed, "auc": r.auc, "logloss": r.logloss, "pairs": ""}
            for r in rep.auc.itertuples()]
    for seed in seeds:
        rng = np.random.default_rng(seed)
        random = [usable[i] for i in rng.choice(len(usable), size=args.top_k, replace=False)]
        for variant, pairs in (("can, explained pairs", explained), ("can, true pairs", true),
                               ("can, random pairs", random)):
            row, _ = run_model("can", data, dataclasses.replace(train, seed=seed), {"pairs": tuple(pairs)})
            rows.append({"variant": variant, "seed": seed, "auc": row["auc"], "logloss": row["logloss"],
                         "pairs": _names(pairs), "true_pairs_hit": len(set(pairs) & set(true))})
            print(f"seed {seed}  {variant:22s} auc {row['auc']:.4f}  ({_names(pairs)})", flush=True)
    runs = pd.DataFrame(rows)
    table = (runs.groupby("variant", sort=False)
             .agg(auc_mean=("auc", "mean"), auc_std=("auc", "std"), logloss_mean=("logloss", "mean"),
                  logloss_std=("logloss", "std"), n=("auc", "size")).reset_index())
    shown = pd.DataFrame({
        "variant": table["variant"],
        "test AUC": [f"{m:.4f} ± {s:.4f}" for m, s in zip(table.auc_mean, table.auc_std, strict=True)],
        "logloss": [f"{m:.4f} ± {s:.4f}" for m, s in zip(table.logloss_mean, table.logloss_std, strict=True)],
        "seeds": table["n"]})
    print(f"\n{shown.to_string(index=False)}\noracle AUC {data.info['oracle_auc']:.4f}; {len(data.train):,} training "
          f"rows; {args.epochs} epochs; {time.perf_counter() - start:.0f} s; {datetime.date.today().isoformat()}")
    print(f"written: {atomic_write_text(args.out, runs.to_csv(index=False))}")


if __name__ == "__main__":
    main()
