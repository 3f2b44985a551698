"""Quality of the row-wise embedding optimizers: test AUC of dense Adam, lazy Adam and row-wise Adagrad, same runs.

For each dataset × model × seed, the same model (same initial weights) is trained three times with
``TrainConfig(embedding_optimizer=…)`` = ``"dense"`` (every weight with Adam, the default), ``"lazy_adam"`` and
``"rowwise_adagrad"`` (``embedding_lr`` from ``--adagrad-lr``: Adagrad's usual rates are 10–100× Adam's), every
other setting the CLI's defaults (Adam lr 1e-3, batch 1024, up to ``--epochs`` epochs, early stopping on validation
AUC with patience 2, best epoch restored). It prints one row per dataset × model × optimizer: test AUC and logloss as
mean ± std over the seeds, the difference to dense Adam per seed (mean, and the largest magnitude) and the spread
of dense Adam itself (max − min over seeds), plus epochs run. An optimizer "keeps the AUC" on a row when its mean
difference is within dense Adam's own seed spread.

This is a quality check, not a speed one (speed: ``peer_throughput.py --fast --vocab-cap …``), so it can run beside
other work; give it ``OMP_NUM_THREADS=1`` then.

Run (from the repository root)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/embedding_optimizers.py --data synthetic movielens \\
        --models dnn deepfm --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd

from ctrviz.data import load_dataset
from ctrviz.experiments import run_model
from ctrviz.train import TrainConfig

OPTIMIZERS = ("dense", "lazy_adam", "rowwise_adagrad")


def sd(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", nargs="+", default=["synthetic", "movielens"])
    p.add_argument("--models", nargs="+", default=["dnn", "deepfm"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--adagrad-lr", type=float, default=0.05, help="embedding_lr of rowwise_adagrad (default 0.05)")
    p.add_argument("--cache", default=None, help="data cache folder (default $CTRVIZ_CACHE or ~/.cache/ctrviz)")
    args = p.parse_args()
    rows = []
    for name in args.data:
        for seed in args.seeds:
            data = load_dataset(name, seed=seed, cache=args.cache)
            for model in args.models:
                for opt in OPTIMIZERS:
                    cfg = TrainConfig(epochs=args.epochs, seed=seed, progress=False, device="cpu",
                                      embedding_optimizer=opt,
                                      embedding_lr=args.adagrad_lr if opt == "rowwise_adagrad" else None)
                    t0 = time.perf_counter()
                    row, res = run_model(model, data, cfg)
                    rows.append({"data": name, "model": model, "optimizer": opt, "seed": seed, "auc": row["auc"],
                                 "logloss": row["logloss"], "epochs": len(res.history),
                                 "seconds": time.perf_counter() - t0})
                    print(f"{name:<10} {model:<7} seed {seed} {opt:<16} test AUC {row['auc']:.4f}  "
                          f"logloss {row['logloss']:.4f}  {len(res.history)} epochs", flush=True)
    runs = pd.DataFrame(rows)
    print(f"\n{'data':<10} {'model':<7} {'optimizer':<16} {'test AUC':>16} {'logloss':>16} {'Δ AUC vs dense':>22} "
          f"{'dense spread':>13} {'epochs':>7}  keeps AUC")
    for (name, model), g in runs.groupby(["data", "model"], sort=False):
        dense = g[g.optimizer == "dense"].set_index("seed")
        spread = dense.auc.max() - dense.auc.min()
        for opt in OPTIMIZERS:
            o = g[g.optimizer == opt].set_index("seed")
            diff = (o.auc - dense.auc).tolist()
            verdict = "—" if opt == "dense" else ("yes" if abs(statistics.mean(diff)) <= spread else "NO")
            print(f"{name:<10} {model:<7} {opt:<16} {o.auc.mean():>9.4f} ± {sd(o.auc.tolist()):.4f} "
                  f"{o.logloss.mean():>9.4f} ± {sd(o.logloss.tolist()):.4f} "
                  f"{statistics.mean(diff):>+10.4f} (max {max(diff, key=abs):+.4f}) {spread:>13.4f} "
                  f"{o.epochs.mean():>7.1f}  {verdict}")


if __name__ == "__main__":
    main()
