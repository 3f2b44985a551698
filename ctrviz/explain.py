"""Which feature interactions matter in your data? GIN's α over seeds → a report (``ctrviz explain``).

Reference: L. Lang et al., "Architecture and Operation Adaptive Network for Online Recommendations", KDD 2021,
Sec. 3.3 (GIN, Eq. 12: P = hᵀ Σ α Z) and Sec. 3.5 (architecture adaptation: keep the top r of |α|, Eq. 42–43).

:func:`explain` runs, for every seed s:

1. **GIN** — AOANet's selection stage, α trainable (Eq. 42). Its first layer's α rank the field pairs:
   ``importance_s(a, b) = Σ_subspaces |α_ab| + |α_ba|`` (:func:`~ctrviz.models.aoanet.pair_importance`), divided by
   its mean over the P distinct pairs, so 1 is an average pair (α's scale is arbitrary per subspace and per seed;
   ratios are not). ``kept`` is AOANet's decision at r (:func:`~ctrviz.models.aoanet.kept_at_ratio`, the same
   function the pruning calls): any subspace or order of the pair kept.
2. **AOANet** — prune at r and re-train (Eq. 43); and any other model of ``compare`` (DNN by default), for the
   test AUC of GIN vs AOANet vs DNN.

Then mean ± std over seeds: :class:`ExplainReport` holds DataFrames (``pairs`` ranked by mean importance, per seed,
AUC per seed and summarised, every α), draws the field × field heatmap and the α distributions
(:mod:`ctrviz.plots`), and :meth:`ExplainReport.save` writes one folder: ``pairs.csv``, ``pairs_by_seed.csv``,
``auc.csv``, ``auc_summary.csv``, ``alpha.csv``, ``heatmap.png``, ``alpha.png``, ``auc.png``, ``report.json`` and a
self-contained ``report.html`` (figures as base64, no script, no external file: it opens offline).

A field with itself (u = v, the diagonal of layer 1) is a squared term, not a pair: it takes part in the pruning
as in AOANet, but not in the ranking. On the synthetic data the report knows the truth (``data.info
["planted_pairs"]``) and says where the planted pairs landed among the pairs of two context fields (``f00``…).

:func:`pairs_from_report` turns the top k pairs into CAN's induction × feed pairs (``ctrviz train --model can
--pairs-from REPORT``): the co-action pairs CAN's authors chose by domain knowledge, found from data instead.

Deviations from the paper: the paper ranks α of one trained model; here over several seeds, as a mean with its
spread, and normalised per seed as described above.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import html
import io
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ctrviz.data.batch import CTRData
from ctrviz.data.schema import Pair, Schema
from ctrviz.models import get_spec, make_config
from ctrviz.models.aoanet import kept_at_ratio, pair_importance
from ctrviz.utils import atomic_write_bytes, atomic_write_text, writable_dir

if TYPE_CHECKING:                    # the trainer (and scikit-learn) load when explain runs, not with `import ctrviz`
    from ctrviz.train import TrainConfig

Induction = Literal["first", "second", "smaller"]
FILES = ("pairs.csv", "pairs_by_seed.csv", "auc.csv", "auc_summary.csv", "alpha.csv", "heatmap.png", "alpha.png",
         "auc.png", "report.html", "report.json")
_SELECTORS = ("aoanet", "gin")        # the models whose α the report reads (AOANet's selection stage is a GIN)


def default_train() -> TrainConfig:
    """:func:`explain`'s training settings: at most 5 epochs of batch 256 at lr 3e-3, patience 2.

    Measured on the synthetic data (40k rows, 4 epochs): the 3 planted pairs are the top 3 context pairs in every
    seed; at 20k rows or 2 epochs they are not (``tests/test_explain.py``, README)."""
    from ctrviz.train import TrainConfig

    return TrainConfig(epochs=5, batch_size=256, lr=3e-3, patience=2, progress=False)


@dataclass
class ExplainReport:
    """What :func:`explain` found, as DataFrames (also :meth:`load` -ed back from a saved folder).

    Attributes:
        pairs: one row per distinct field pair, ranked: rank, a, b (a < b), importance_mean, importance_std (NaN
            for one seed), rank_mean, rank_best, rank_worst (per-seed ranks), kept_frac (share of seeds whose
            AOANet keeps the pair at r), and on synthetic data context (both fields context fields) and planted.
        pairs_by_seed: seed, a, b, importance (1 = the seed's average pair), abs_alpha (Σ|α|), rank, kept.
        auc: seed, model (gin, aoanet, dnn, …), auc, logloss, seconds, cached.
        auc_summary: model, auc_mean, auc_std, logloss_mean, logloss_std, n.
        alpha: every α of every seed's GIN: seed, layer, subspace, left, right, alpha, kept (at r).
        planted: synthetic data only (else ``None``): seed, a, b, rank (of all pairs), context_rank (among pairs of
            two context fields), of, context_of, kept.
        info: data name and rows, schema JSON, seeds, ratio, ranking, model and training configs, planted pairs,
            context fields, oracle AUC, seconds, date.
    """

    pairs: pd.DataFrame
    pairs_by_seed: pd.DataFrame
    auc: pd.DataFrame
    auc_summary: pd.DataFrame
    alpha: pd.DataFrame
    planted: pd.DataFrame | None = None
    info: dict = field(default_factory=dict)

    # ------------------------------------------------------------------------------------------ reading -------

    @property
    def planted_on_top(self) -> bool | None:
        """Synthetic data: are the planted pairs the top context pairs in every seed? ``None`` elsewhere."""
        if self.planted is None:
            return None
        n = self.planted.groupby("seed")["a"].size()
        worst = self.planted.groupby("seed")["context_rank"].max()
        return bool((worst <= n).all())

    def summary_text(self) -> str:
        """Two or three lines: the top pairs, and on synthetic data where the planted pairs landed."""
        top = self.pairs.head(5)
        lines = [f"Top pairs by mean |α| importance over {len(self.info['seeds'])} seed(s) (1 = average pair): "
                 + ", ".join(f"{a}×{b} {m:.2f}" + ("" if np.isnan(s) else f" ± {s:.2f}")
                             for a, b, m, s in zip(top.a, top.b, top.importance_mean, top.importance_std,
                                                   strict=True))]
        if self.planted is not None:
            names = ", ".join(f"{a}×{b}" for a, b in self.info["planted_pairs"])
            k = len(self.info["planted_pairs"])
            seeds = self.planted["seed"].nunique()
            hits = int((self.planted.groupby("seed")["context_rank"].max() <= k).sum())
            ctx_of = int(self.planted["context_of"].iloc[0])
            overall = self.pairs[self.pairs["planted"]]["rank"].tolist()
            lines.append(f"Planted pairs (the generator's truth): {names}. They are the top {k} of the {ctx_of} "
                         f"context pairs in {hits}/{seeds} seeds"
                         + (" — on top, as they should be." if hits == seeds else ".")
                         + f" Overall ranks by mean importance: {', '.join(f'#{r}' for r in overall)} of "
                         f"{len(self.pairs)} pairs.")
        return "\n".join(lines)

    # ------------------------------------------------------------------------------------------ figures -------

    def heatmap(self):
        """Field × field mean importance (layer 1, u ≠ v), planted pairs boxed on synthetic data.

        A cell is the mean over seeds of the pair's normalised Σ|α| — ``pairs.importance_mean`` — drawn by
        :func:`ctrviz.plots.plot_interaction_heatmap` (its ranks in the legend are this report's ranks)."""
        from ctrviz import plots

        t = self._normalised_alpha()
        planted = [tuple(p) for p in self.info.get("planted_pairs") or []]
        fig = plots.plot_interaction_heatmap(t, planted=planted or None, value="abs_sum")
        ax = fig.axes[0]
        ax.set_title(f"Which field pairs matter? Mean importance over {len(self.info['seeds'])} seed(s)\n"
                     "(GIN layer 1, Σ|α| over subspaces and both orders; 1 = average pair)", fontsize=10)
        if len(fig.axes) > 1:
            fig.axes[1].set_ylabel("importance (1 = average pair)")
        return fig

    def alpha_figure(self, max_seeds: int = 4):
        """α per layer and subspace, one panel per seed (the first ``max_seeds``)
        (:func:`ctrviz.plots.plot_alpha_distributions`)."""
        import matplotlib.pyplot as plt

        from ctrviz import plots

        seeds = list(self.info["seeds"])[:max_seeds]
        fig, axes = plt.subplots(1, len(seeds), figsize=(min(14.0, 4.2 * len(seeds)), 3.8), layout="constrained",
                                 squeeze=False)
        for ax, s in zip(axes[0], seeds, strict=True):
            plots.plot_alpha_distributions(self.alpha[self.alpha["seed"] == s], ax=ax)
            ax.set_title(f"seed {s}: how spread are the α?", fontsize=10)
        return fig

    def auc_figure(self):
        """Test AUC of GIN, AOANet (pruned at r, re-trained) and the other models, mean ± std over seeds, beside the
        oracle when known (:func:`ctrviz.plots.plot_model_comparison`)."""
        from ctrviz import plots

        fig = plots.plot_model_comparison(self.auc_summary, self.info.get("oracle_auc"), metric="auc_mean")
        fig.axes[0].set_title(f"Does pruning to r = {self.info['ratio']:g} help? Test AUC by model")
        return fig

    # ------------------------------------------------------------------------------------------ files ---------

    def html(self, images: Mapping[str, bytes] | None = None) -> str:
        """The report as one self-contained HTML page: figures inlined as base64 PNG, inline CSS, no script."""
        images = dict(images) if images is not None else self._images()
        info = self.info

        def img(name: str, alt: str) -> str:
            data = base64.b64encode(images[name]).decode("ascii")
            return f'<img id="{name.split(".")[0]}" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'

        def table(df: pd.DataFrame) -> str:
            return df.to_html(index=False, border=0, classes="t", na_rep="–", float_format=lambda v: f"{v:.4g}")

        top = self.pairs.head(20)
        aucs = self.auc_summary.assign(
            auc=[f"{m:.4f}" + ("" if n < 2 else f" ± {s:.4f}") for m, s, n in
                 zip(self.auc_summary.auc_mean, self.auc_summary.auc_std, self.auc_summary.n, strict=True)],
            logloss=[f"{m:.4f}" + ("" if n < 2 else f" ± {s:.4f}") for m, s, n in
                     zip(self.auc_summary.logloss_mean, self.auc_summary.logloss_std, self.auc_summary.n,
                         strict=True)])[["model", "auc", "logloss", "n"]]
        rows = info.get("rows", {})
        summary = "".join(f"<p>{html.escape(line)}</p>" for line in self.summary_text().splitlines())
        planted = "" if self.planted is None else (
            "<h2>Planted pairs, per seed</h2><p>rank: among all distinct pairs; context_rank: among the pairs of two "
            "context fields.</p>" + table(self.planted))
        settings = {k: info[k] for k in ("data", "seeds", "ratio", "ranking", "compare", "model_config", "train",
                                         "seconds", "created", "ctrviz") if k in info}
        return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ctrviz explain: {html.escape(str(info.get("data")))}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }}
img {{ max-width: 100%; height: auto; display: block; margin: 1em 0; }}
table.t {{ border-collapse: collapse; font-size: 0.85em; }}
table.t th, table.t td {{ padding: 0.2em 0.6em; text-align: right; border-bottom: 1px solid #ddd; }}
pre {{ background: #f6f6f6; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }}
</style></head><body>
<h1>Which feature interactions matter in <code>{html.escape(str(info.get("data")))}</code>?</h1>
<p>GIN (AOANet's selection stage, Lang et al. KDD 2021 Sec. 3.3–3.5) trained with {len(info["seeds"])} seed(s)
on {rows.get("train", "?"):,} training rows; pairs ranked by the mean over seeds of Σ|α| (layer 1, both orders,
all subspaces; 1 = average pair); "kept" = AOANet keeps the pair at r = {info["ratio"]:g}
(ranking per {html.escape(str(info["ranking"]))}).</p>
{summary}
<h2>Field × field importance</h2>
{img("heatmap.png", "field by field heatmap of mean pair importance")}
<h2>Top {len(top)} of {len(self.pairs)} pairs</h2><p>All of them: <code>pairs.csv</code>; per seed:
<code>pairs_by_seed.csv</code>.</p>
{table(top)}
{planted}
<h2>GIN vs AOANet vs the rest: test AUC</h2>
{img("auc.png", "test AUC by model, mean and std over seeds")}
{table(aucs)}
<p>Per seed (<code>auc.csv</code>):</p>
{table(self.auc)}
<h2>α distributions</h2>
{img("alpha.png", "alpha per layer and subspace, per seed")}
<h2>Settings</h2>
<pre>{html.escape(json.dumps(settings, indent=1, default=str))}</pre>
<p>Use the pairs in CAN: <code>ctrviz train --model can --data … --pairs-from THIS_FOLDER --top-k 5</code>.</p>
</body></html>
"""

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write the report folder (:data:`FILES`). Everything is rendered first, then each file is written
        atomically (temp file + rename), ``report.json`` last; a file in the way is a ValueError before any write.

        Returns:
            file name → path.
        """
        folder = writable_dir(folder, "report folder")
        images = self._images()
        texts = {"pairs.csv": self.pairs.to_csv(index=False),
                 "pairs_by_seed.csv": self.pairs_by_seed.to_csv(index=False),
                 "auc.csv": self.auc.to_csv(index=False), "auc_summary.csv": self.auc_summary.to_csv(index=False),
                 "alpha.csv": self.alpha.to_csv(index=False), "report.html": self.html(images)}
        if self.planted is not None:
            texts["planted.csv"] = self.planted.to_csv(index=False)
        meta = json.dumps({**self.info, "files": sorted([*texts, *images, "report.json"])}, indent=1, default=str)
        written = {name: atomic_write_text(folder / name, text) for name, text in texts.items()}
        written.update({name: atomic_write_bytes(folder / name, data) for name, data in images.items()})
        written["report.json"] = atomic_write_text(folder / "report.json", meta)
        return written

    @classmethod
    def load(cls, folder: str | Path) -> ExplainReport:
        """Read a folder :meth:`save` wrote (a ValueError naming what is missing)."""
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise ValueError(f"explain report {folder} is not a folder; write one with `ctrviz explain --out {folder}`")
        missing = [n for n in ("report.json", "pairs.csv", "pairs_by_seed.csv", "auc.csv", "auc_summary.csv",
                               "alpha.csv") if not (folder / n).is_file()]
        if missing:
            raise ValueError(f"{folder} is not an explain report (no {', '.join(missing)}); write one with "
                             "`ctrviz explain`")
        info = json.loads((folder / "report.json").read_text())
        read = {n: pd.read_csv(folder / f"{n}.csv", keep_default_na=False, na_values=[""])
                for n in ("pairs", "pairs_by_seed", "auc", "auc_summary", "alpha")}
        planted = pd.read_csv(folder / "planted.csv") if (folder / "planted.csv").is_file() else None
        return cls(read["pairs"], read["pairs_by_seed"], read["auc"], read["auc_summary"], read["alpha"], planted, info)

    def _images(self) -> dict[str, bytes]:
        import matplotlib.pyplot as plt

        out = {}
        for name, make in (("heatmap.png", self.heatmap), ("alpha.png", self.alpha_figure),
                           ("auc.png", self.auc_figure)):
            fig = make()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100)
            plt.close(fig)
            out[name] = buf.getvalue()
        return out

    def _normalised_alpha(self) -> pd.DataFrame:
        """Layer-1 α with u ≠ v, |α| divided by its seed's mean pair importance, averaged over seeds."""
        t = self.alpha[(self.alpha["layer"] == 1) & (self.alpha["left"] != self.alpha["right"])]
        scale = self.pairs_by_seed.groupby("seed")["abs_alpha"].mean()
        t = t.assign(alpha=t["alpha"].abs() / t["seed"].map(scale))
        return t.groupby(["layer", "subspace", "left", "right"], as_index=False, sort=False).agg(
            alpha=("alpha", "mean"), kept=("kept", "mean"))


# ---------------------------------------------------------------------------------------------- explain -------


def explain(data: CTRData, *, seeds: int | Sequence[int] = 3, ratio: float = 0.3, epochs: int | None = None,
            train: TrainConfig | None = None, model_config: Mapping[str, object] | None = None,
            ranking: Literal["subspace", "layer", "global"] = "subspace", compare: Sequence[str] = ("aoanet", "dnn"),
            cache: str | Path | None = None, progress: bool = True) -> ExplainReport:
    """Train GIN over several seeds on ``data`` and rank its field pairs by |α| (module docstring).

    Args:
        data: any :class:`~ctrviz.data.batch.CTRData` (a registered dataset, a table loaded with a spec, …).
        seeds: a number N (seeds 0..N-1) or the seeds themselves; each seed gives each model its initial weights
            and shuffle order (the data stay the same).
        ratio: r in (0, 1), the share of α AOANet keeps (Table 4: 0.3 on Criteo).
        epochs: replaces ``train.epochs`` when given.
        train: training settings (default :func:`default_train`); ``train.seed`` is replaced by each seed.
        model_config: overrides of the GIN/AOANet config (``embed_dim``, ``layers``, ``subspaces``, ``hidden``,
            ``pairing``, …; :class:`~ctrviz.models.aoanet.AOANetConfig`), not ``ratio``/``ranking``.
        ranking: AOANet's ranking groups (``"subspace"``: the top r of every layer's every subspace).
        compare: models trained beside GIN for the AUC table: ``"aoanet"`` (GIN's α pruned at r, re-trained; its
            selection stage *is* the GIN, so GIN is not trained twice) and any registered model with its defaults.
        cache: a result folder (``ctrviz reproduce``'s, e.g. ``~/.cache/ctrviz/runs``): a run whose row (and, for
            GIN/AOANet, α table) is there is read back; AOANet runs that differ only in r share their GIN
            (``<cache>/stages``).
        progress: a bar over seeds × models saying which seed and stage runs, and the trainer's epoch bars.

    Returns:
        :class:`ExplainReport`.

    Raises:
        ValueError: seeds < 1, ratio outside (0, 1), an unknown model or config field — before any training.

    Example:
        >>> from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
        >>> data = make_synthetic(SyntheticConfig(n_rows=2000, n_fields=4, n_planted_pairs=1, seq_len=3, n_users=20))
        >>> rep = explain(data, seeds=2, epochs=1, compare=("aoanet",), progress=False,
        ...               model_config={"embed_dim": 4, "hidden": (), "layers": 1, "subspaces": 1})
        >>> len(rep.pairs), list(rep.auc_summary.model), rep.auc.seed.tolist()   # 9 fields: 36 pairs
        (36, ['gin', 'aoanet'], [0, 0, 1, 1])
        >>> rep.planted[["a", "b"]].drop_duplicates().values.tolist() == [list(p) for p in data.info["planted_pairs"]]
        True
    """
    from ctrviz.experiments import data_fingerprint

    seed_list = _seed_list(seeds)
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio < 1:
        raise ValueError(f"ratio must be in (0, 1) (the share of α AOANet keeps), got {ratio!r}")
    if ranking not in ("subspace", "layer", "global"):
        raise ValueError(f"ranking must be 'subspace', 'layer' or 'global', got {ranking!r}")
    overrides = dict(model_config or {})
    for key in ("ratio", "ranking"):
        if key in overrides:
            raise ValueError(f"model_config: pass {key} as explain's own argument, not in model_config")
    aoanet_config = make_config("aoanet", {**overrides, "ratio": ratio, "ranking": ranking})   # checks every field
    gin_fields = {f.name for f in dataclasses.fields(aoanet_config.gin())}
    compare = list(dict.fromkeys(compare))
    for name in compare:
        if name == "gin":
            raise ValueError("compare: GIN is always trained (it gives the α); list the other models")
        get_spec(name)                                  # an unknown model fails here
    train = train or default_train()
    if epochs is not None:
        train = dataclasses.replace(train, epochs=epochs)
    selector = "aoanet" if "aoanet" in compare else "gin"
    selector_config = dataclasses.asdict(aoanet_config) if selector == "aoanet" else \
        {k: v for k, v in dataclasses.asdict(aoanet_config).items() if k in gin_fields}
    start = time.perf_counter()
    folder = Path(cache).expanduser() if cache is not None else None
    fingerprint = data_fingerprint(data) if folder is not None else ""
    steps = [(s, m) for s in seed_list for m in [selector] + [m for m in compare if m != selector]]
    stage = {"aoanet": f"GIN selection, then AOANet (prune at r = {ratio:g}, re-train)", "gin": "GIN"}
    bar = tqdm(steps, desc="explain", disable=not progress)
    aucs, alphas = [], []
    for i, (seed, model) in enumerate(bar):
        bar.set_postfix_str(f"seed {seed} ({seed_list.index(seed) + 1}/{len(seed_list)}): {stage.get(model, model)}")
        if progress:
            bar.write(f"explain: seed {seed} ({seed_list.index(seed) + 1}/{len(seed_list)}), step {i + 1}/{len(steps)}:"
                      f" {stage.get(model, model)}", file=sys.stderr)
        tc = dataclasses.replace(train, seed=seed, progress=progress and train.progress)
        config = selector_config if model == selector else {}
        row, table, cached = _cached_run(model, data, tc, config, folder, fingerprint, want_alpha=model == selector)
        if model == "aoanet":
            aucs.append({"seed": seed, "model": "gin", "auc": row["selection_auc"], "logloss": row["selection_logloss"],
                         "seconds": row["selection_seconds"], "cached": cached})
        aucs.append({"seed": seed, "model": model, "auc": row["auc"], "logloss": row["logloss"],
                     "seconds": row["seconds"], "cached": cached})
        if table is not None:
            table = table.drop(columns=["kept"], errors="ignore")
            table["kept"] = kept_at_ratio(table, ratio, ranking).to_numpy()
            alphas.append(table.assign(seed=seed))
    alpha = pd.concat(alphas, ignore_index=True)
    alpha = alpha[["seed", *[c for c in alpha.columns if c != "seed"]]]
    auc = pd.DataFrame(aucs)
    order = list(dict.fromkeys(auc["model"]))
    auc_summary = (auc.groupby("model", sort=False)
                   .agg(auc_mean=("auc", "mean"), auc_std=("auc", "std"), logloss_mean=("logloss", "mean"),
                        logloss_std=("logloss", "std"), n=("auc", "size")).reindex(order).reset_index())
    by_seed = pd.concat([_rank_pairs(alpha[alpha["seed"] == s]).assign(seed=s) for s in seed_list],
                        ignore_index=True)
    by_seed = by_seed[["seed", "a", "b", "importance", "abs_alpha", "rank", "kept"]]
    pairs = (by_seed.groupby(["a", "b"], as_index=False)
             .agg(importance_mean=("importance", "mean"), importance_std=("importance", "std"),
                  rank_mean=("rank", "mean"), rank_best=("rank", "min"), rank_worst=("rank", "max"),
                  kept_frac=("kept", "mean"))
             .sort_values(["importance_mean", "a", "b"], ascending=[False, True, True], ignore_index=True))
    pairs.insert(0, "rank", range(1, len(pairs) + 1))
    planted_pairs = [tuple(sorted(p)) for p in data.info.get("planted_pairs", [])]
    context = _context_fields(data)
    planted = None
    if planted_pairs and context:
        truth = set(planted_pairs)
        pairs["context"] = pairs["a"].isin(context) & pairs["b"].isin(context)
        pairs["planted"] = [(a, b) in truth for a, b in zip(pairs.a, pairs.b, strict=True)]
        planted = _planted_ranks(by_seed, planted_pairs, context)
    info = {
        "data": data.name, "rows": {s: len(getattr(data, s)) for s in ("train", "valid", "test")},
        "fields": [f.name for f in data.schema.fields], "schema": data.schema.to_json(), "seeds": seed_list,
        "ratio": ratio, "ranking": ranking, "compare": compare, "selector": selector,
        "model_config": dataclasses.asdict(aoanet_config), "train": dataclasses.asdict(train),
        "planted_pairs": [list(p) for p in planted_pairs], "context_fields": context,
        "oracle_auc": float(data.info["oracle_auc"]) if "oracle_auc" in data.info else None,
        "seconds": round(time.perf_counter() - start, 1), "created": datetime.date.today().isoformat(),
        "ctrviz": _version(),
    }
    return ExplainReport(pairs, by_seed, auc, auc_summary, alpha, planted, info)


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, bool):
        raise ValueError(f"seeds must be a number >= 1 or a list of seeds, got {seeds!r}")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {seeds}")
        return list(range(seeds))
    out = list(seeds)
    if not out or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in out) \
            or len(set(out)) != len(out):
        raise ValueError(f"seeds must be a number >= 1 or distinct ints >= 0, got {seeds!r}")
    return out


def _cached_run(model: str, data: CTRData, train: TrainConfig, config: dict, folder: Path | None,
                fingerprint: str, want_alpha: bool) -> tuple[dict, pd.DataFrame | None, bool]:
    """:func:`~ctrviz.experiments.run_model`, its row kept as :func:`~ctrviz.experiments.sweep` keeps it
    (``<folder>/<run_key>.json``) and, for the α, the GIN's interactions (``<folder>/alpha/<run_key>.csv``)."""
    from ctrviz.experiments import RunSpec, run_key, run_model

    row_path = alpha_path = None
    if folder is not None:
        key = run_key(RunSpec(model, config, train.seed), train, fingerprint)
        row_path, alpha_path = folder / f"{key}.json", folder / "alpha" / f"{key}.csv"
        if row_path.is_file() and (not want_alpha or alpha_path.is_file()):
            table = pd.read_csv(alpha_path, keep_default_na=False) if want_alpha else None
            return json.loads(row_path.read_text()), table, True
    row, result = run_model(model, data, train, config or None,
                            stage_cache=folder / "stages" if folder is not None else None)
    table = None
    if want_alpha:
        table = result.model.selection if model == "aoanet" else result.model.interactions()
    if folder is not None:
        if table is not None:
            atomic_write_text(alpha_path, table.to_csv(index=False))
        atomic_write_text(row_path, json.dumps(row, sort_keys=True))
    return row, table, False


def _rank_pairs(alpha: pd.DataFrame) -> pd.DataFrame:
    """One seed's distinct layer-1 pairs: a, b, importance (Σ|α| / its mean over the pairs), abs_alpha, rank, kept."""
    ranked = pair_importance(alpha.drop(columns=["seed"]))
    ranked = ranked[ranked["a"] != ranked["b"]].reset_index(drop=True)
    ranked = ranked.rename(columns={"importance": "abs_alpha"})
    ranked["importance"] = ranked["abs_alpha"] / ranked["abs_alpha"].mean()
    ranked["rank"] = range(1, len(ranked) + 1)
    return ranked


def _context_fields(data: CTRData) -> list[str]:
    """The synthetic data's context fields (``f00``…), from its config; ``[]`` for other data."""
    config = data.info.get("config")
    if not isinstance(config, Mapping) or "planted_pairs" not in data.info:
        return []
    from ctrviz.data.synthetic import SyntheticConfig

    names = {f.name for f in dataclasses.fields(SyntheticConfig)}
    return SyntheticConfig(**{k: v for k, v in config.items() if k in names}).field_names


def _planted_ranks(by_seed: pd.DataFrame, planted: Sequence[tuple[str, str]], context: Sequence[str]) -> pd.DataFrame:
    rows = []
    for seed, t in by_seed.groupby("seed", sort=False):
        ctx = t[t["a"].isin(context) & t["b"].isin(context)].reset_index(drop=True)
        for a, b in planted:
            hit = t[(t["a"] == a) & (t["b"] == b)]
            c = ctx.index[(ctx["a"] == a) & (ctx["b"] == b)]
            if hit.empty or not len(c):
                raise ValueError(f"planted pair ({a!r}, {b!r}) is not among GIN's layer-1 pairs")
            rows.append({"seed": seed, "a": a, "b": b, "rank": int(hit["rank"].iloc[0]), "context_rank": int(c[0]) + 1,
                         "of": len(t), "context_of": len(ctx), "kept": bool(hit["kept"].iloc[0])})
    return pd.DataFrame(rows)


def _version() -> str:
    from ctrviz import __version__
    return __version__


# ---------------------------------------------------------------------------------------------- AOANet → CAN ---


def pairs_from_report(report: str | Path | ExplainReport, k: int = 5, induction: Induction = "first",
                      schema: Schema | None = None) -> list[Pair]:
    """The top ``k`` pairs of an explain report as CAN's induction × feed pairs (CAN Sec. 4.1, Eq. 5–9).

    CAN's induction side is reshaped into a micro-MLP, so it must be a sparse field (one id per row); the feed may
    be any categorical field (a history, a bag). A pair with no sparse side, or with a dense side, cannot be a
    co-action pair and is passed over (the next one in the ranking takes its place).

    Args:
        report: a folder :meth:`ExplainReport.save` wrote, or the report itself.
        k: how many pairs (fewer when the report has fewer usable ones).
        induction: which field of a pair ``a × b`` (a < b, as ``pairs.csv`` lists it) is the induction side:
            ``"first"`` (a), ``"second"`` (b), or ``"smaller"`` (the smaller vocabulary: fewer micro-MLP parameters,
            D' per id). When only one side is sparse, it is the induction side whatever this says.
        schema: the dataset CAN will train on; every field of the report must be one of its fields (a report of
            other data is an error). ``None``: the report's own schema.

    Returns:
        the pairs, best first.

    Raises:
        ValueError: not a report folder, k < 1, an unknown ``induction``, a report whose fields ``schema`` lacks,
        or no usable pair.

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("item", "sparse", vocab_size=50), Field("ad", "sparse", vocab_size=9),
        ...             Field("hist", "sequence", vocab="item", vocab_size=50, max_len=4)))
        >>> pairs = pd.DataFrame({"rank": [1, 2, 3], "a": ["hist", "ad", "ad"], "b": ["item", "item", "hist"]})
        >>> rep = ExplainReport(pairs, pairs, pairs, pairs, pairs, info={"schema": s.to_json()})
        >>> [f"{p.induction}×{p.feed}" for p in pairs_from_report(rep, k=2)]       # hist can only be a feed
        ['item×hist', 'ad×item']
        >>> [f"{p.induction}×{p.feed}" for p in pairs_from_report(rep, k=3, induction="second")]
        ['item×hist', 'item×ad', 'ad×hist']
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k (--top-k) must be an int >= 1, got {k!r}")
    if induction not in ("first", "second", "smaller"):
        raise ValueError(f"induction must be 'first', 'second' or 'smaller', got {induction!r}")
    where = "the report" if isinstance(report, ExplainReport) else f"report {report}"
    rep = report if isinstance(report, ExplainReport) else ExplainReport.load(report)
    for col in ("a", "b"):
        if col not in rep.pairs.columns:
            raise ValueError(f"{where}: pairs lack column {col!r}")
    own = Schema.from_json(rep.info["schema"]) if rep.info.get("schema") else None
    target = schema or own
    if target is None:
        raise ValueError(f"{where} has no schema; pass schema=")
    fields = list(dict.fromkeys([*rep.pairs["a"], *rep.pairs["b"]]))
    missing = [f for f in fields if f not in target]
    if missing:
        raise ValueError(f"{where} was made on other data ({rep.info.get('data', '?')}): this dataset has no field "
                         f"{', '.join(repr(f) for f in missing[:5])}{' …' if len(missing) > 5 else ''}; run "
                         "`ctrviz explain` on this dataset")
    out: list[Pair] = []
    for a, b in zip(rep.pairs["a"], rep.pairs["b"], strict=True):
        fa, fb = target[a], target[b]
        if a == b or "dense" in (fa.kind, fb.kind) or "sparse" not in (fa.kind, fb.kind):
            continue
        if fa.kind != "sparse":
            first = False
        elif fb.kind != "sparse":
            first = True
        elif induction == "smaller":
            first = fa.vocab_size <= fb.vocab_size
        else:
            first = induction == "first"
        out.append(Pair(a, b) if first else Pair(b, a))
        if len(out) == k:
            break
    if not out:
        raise ValueError(f"{where} has no pair CAN can use (one side sparse, neither dense)")
    return out
