"""Data: schema, encoders, batches, the synthetic generator and real-data readers.

``load_dataset(name)`` is the one entry point the trainer, CLI and notebooks use; the registered
names are listed by :func:`list_datasets`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ctrviz.data.batch import Batch, CTRData, iter_batches
from ctrviz.data.encoders import Column, Standardizer, TableEncoder, Vocabulary, log_bucket, pad_sequences
from ctrviz.data.schema import OOV_ID, PAD_ID, Field, Pair, Schema

if TYPE_CHECKING:
    from ctrviz.data.table import TableSpec


def __getattr__(name: str) -> object:
    """``load_table`` and ``TableSpec`` (:mod:`ctrviz.data.table`) load on first use, so ``import ctrviz`` stays
    free of pyarrow."""
    if name in ("TableSpec", "load_table"):
        from ctrviz.data import table
        return getattr(table, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: ``loader(seed, cache, **options)`` with ``options`` among ``takes``."""

    name: str
    summary: str
    loader: Callable[..., CTRData]
    takes: tuple[str, ...] = ()             # keyword options the loader accepts, e.g. ("min_count",)


def _synthetic(seed: int, cache: str | Path | None) -> CTRData:
    from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
    return make_synthetic(SyntheticConfig(seed=seed))


def _synthetic_3way(seed: int, cache: str | Path | None) -> CTRData:
    from dataclasses import replace

    from ctrviz.data.synthetic import SyntheticConfig, make_synthetic
    data = make_synthetic(SyntheticConfig(seed=seed, n_planted_triples=2))
    return replace(data, name="synthetic-3way")


def _movielens(task: str) -> Callable[[int, str | Path | None], CTRData]:
    def load(seed: int, cache: str | Path | None) -> CTRData:
        from ctrviz.data.movielens import load_movielens
        return load_movielens(task, cache=cache, seed=seed)
    return load


def _amazon(seed: int, cache: str | Path | None, min_count: int | None = None) -> CTRData:
    from ctrviz.data.amazon import load_amazon_from_env
    return load_amazon_from_env(seed=seed, cache=cache, min_count=min_count)


def _taobao(seed: int, cache: str | Path | None, min_count: int | None = None) -> CTRData:
    from ctrviz.data.taobao import load_taobao_from_env
    return load_taobao_from_env(seed=seed, cache=cache, min_count=min_count)


def _criteo(seed: int, cache: str | Path | None, min_count: int | None = None) -> CTRData:
    from ctrviz.data.criteo import load_criteo_from_env
    return load_criteo_from_env(seed=seed, cache=cache, min_count=min_count)


def _avazu(seed: int, cache: str | Path | None, min_count: int | None = None) -> CTRData:
    from ctrviz.data.avazu import load_avazu_from_env
    return load_avazu_from_env(seed=seed, cache=cache, min_count=min_count)


DATASETS: dict[str, DatasetSpec] = {d.name: d for d in (
    DatasetSpec("synthetic", "planted field-pair and item×history interactions with a known oracle", _synthetic),
    DatasetSpec("synthetic-3way", "synthetic plus 2 planted pure three-field interactions (no pairwise part): the "
                "data that asks whether a second GIN layer (AOANet Fig. 3's L) pays", _synthetic_3way),
    DatasetSpec("movielens", "MovieLens-100k, rating ≥ 4 → click, time-ordered split", _movielens("movielens")),
    DatasetSpec("movielens-seq", "MovieLens-100k as next-movie CTR with popularity negatives (CAN/DIEN protocol)",
                _movielens("movielens-seq")),
    DatasetSpec("amazon", "Amazon Books, DIEN/CAN sample files (your copy: set CTRVIZ_AMAZON_DIR)", _amazon,
                ("min_count",)),
    DatasetSpec("taobao", "Taobao UserBehavior clicks, CAN/DIEN protocol (your copy: set CTRVIZ_TAOBAO_CSV)", _taobao,
                ("min_count",)),
    DatasetSpec("criteo", "Criteo Kaggle display ads, 39 categorical fields, random 80/10/10 split (AOANet's dataset; "
                "your copy: set CTRVIZ_CRITEO_TXT)", _criteo, ("min_count",)),
    DatasetSpec("avazu", "Avazu Kaggle mobile ads, 23 categorical fields, random 80/10/10 split (your copy: set "
                "CTRVIZ_AVAZU_CSV)", _avazu, ("min_count",)),
)}


def load_dataset(name: str | Path, *, seed: int = 0, cache: str | Path | None = None, min_count: int | None = None,
                 spec: TableSpec | dict | str | Path | None = None) -> CTRData:
    """Load a registered dataset by name, or your own table file described by ``spec``.

    Args:
        name: see :func:`list_datasets`; with ``spec``, the path of a CSV/TSV/parquet file (:func:`load_table`).
        seed: seed of the generator (synthetic), the negative sampling (movielens-seq, taobao) or the split
            (amazon, criteo, avazu).
        cache: data cache folder (default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``).
        min_count: tokens seen fewer times in the train split become OOV (criteo, avazu, amazon, taobao); ``None``:
            the reader's default (with ``spec``: the spec's global ``min_count``). A small sample needs a low value
            (e.g. 1).
        spec: a table spec (:class:`~ctrviz.data.table.TableSpec`, a dict of its keys or a .yaml/.toml/.json file);
            ``name`` is then the file it describes.
    """
    if spec is not None:
        from ctrviz.data.table import load_table
        return load_table(name, spec, seed=seed, cache=cache, min_count=min_count)
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; registered: {', '.join(DATASETS)}")
    spec, options = DATASETS[name], {}
    if min_count is not None:
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
        if "min_count" not in spec.takes:
            takes = [d.name for d in DATASETS.values() if "min_count" in d.takes]
            raise ValueError(f"min_count does not apply to {name} (it has no vocabulary threshold); it applies to "
                             f"{', '.join(takes)}")
        options["min_count"] = min_count
    return spec.loader(seed, cache, **options)


def list_datasets() -> pd.DataFrame:
    """The registered datasets as a DataFrame (name, summary)."""
    return pd.DataFrame([{"name": d.name, "summary": d.summary} for d in DATASETS.values()])


__all__ = ["Batch", "CTRData", "Column", "DATASETS", "Field", "OOV_ID", "PAD_ID", "Pair", "Schema", "Standardizer",
           "TableEncoder", "TableSpec", "Vocabulary", "iter_batches", "list_datasets", "load_dataset", "load_table",
           "log_bucket", "pad_sequences"]
