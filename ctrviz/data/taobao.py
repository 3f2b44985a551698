"""Taobao UserBehavior as next-click CTR: the CAN paper's Taobao protocol (Sec. 5.1, after DIEN).

Data: ``UserBehavior.csv`` from Alibaba's Tianchi platform (https://tianchi.aliyun.com/dataset/dataDetail?dataId=649,
CAN footnote 3): about 100 M behaviours of about 1 M random Taobao users between 25 Nov and 3 Dec 2017,
introduced by Zhu et al., "Learning Tree-based Deep Model for Recommender Systems", KDD 2018. It needs a
Tianchi login and is never redistributed, so ctrviz cannot download it: pass its path (or set
``CTRVIZ_TAOBAO_CSV`` for ``load_dataset("taobao")``).

Format: CSV without header, ``user_id,item_id,category_id,behavior_type,timestamp`` with integer ids, a Unix
timestamp and ``behavior_type`` one of ``pv`` (click), ``buy``, ``cart``, ``fav``. Every line is checked; a wrong
column count, a non-integer id or timestamp or an unknown behaviour raises ``ValueError`` naming the 1-based line.

Protocol (CAN Sec. 5.1: "the click behaviors for each user are taken and sorted according to the timestamp to
construct the behavior sequence"; samples as in DIEN), in ``info["protocol"]`` and ``data/README.md``:

1. keep the ``behaviors`` events (``pv`` by default) of all users, or of a seeded sample of ``max_users``; per
   user sort them by timestamp, ties by file order;
2. every event with at least one earlier event is a positive: target item + category, history = the previous
   ≤ ``max_len`` items + categories (most recent kept);
3. each positive is followed by a negative with the same user and history, its item drawn with probability ∝
   the item's event count in the training period (all but each user's last two events), redrawn while equal to
   the positive; its category is the item's category at its first training-period event in file order;
4. split per user: the last positive (+ negative) → test, the second-to-last → valid, the rest → train.

Deviations from the paper: the CAN paper gives no split or sampling details for Taobao (its Table 1 sizes imply
a subset of users); this follows ctrviz's ``movielens-seq`` (DIN/DIEN) protocol. Timestamps outside the
collection window are kept as they are (no date filter).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ctrviz.data.batch import CTRData
from ctrviz.data.parquet_cache import (
    cached_parquet,
    check_chunksize,
    encode_seq_splits,
    first_bad,
    flat_history_index,
    forget_on_error,
    iter_line_chunks,
    need_file,
    parse_ints,
    split_fields,
)

BEHAVIORS = ("pv", "buy", "cart", "fav")
ENV_VAR = "CTRVIZ_TAOBAO_CSV"
_SCHEMA = pa.schema([("user", pa.int64()), ("item", pa.int64()), ("category", pa.int64()),
                     ("behavior", pa.int8()), ("timestamp", pa.int64())])
_OPTIONS = {"format": "taobao-userbehavior-csv", "version": 1}
_PROTOCOL = ("Taobao UserBehavior, CAN/DIEN protocol: {behaviors} events per user in time order (ties by file order); "
             "each event with an earlier one is a positive (target = its item and category, history = previous "
             "<= {max_len} items/categories), followed by a negative sharing user and history whose item is drawn by "
             "popularity among training-period events (all but each user's last two), redrawn while equal to the "
             "positive, category = the item's category at its first training-period event (seed {seed}). Split per "
             "user: last positive (+ negative) test, second-to-last valid, rest train. Encoders fitted on train "
             "(min_count {min_count}); ids unseen there -> OOV; group = raw user id.")


def _parse(path: Path, chunksize: int):
    """Yield the validated table of ``path`` chunk by chunk (user, item, category, behavior code, timestamp)."""
    for numbers, lines in iter_line_chunks(path, chunksize):
        f = split_fields(lines, numbers, ",", 5, path)
        code = pc.index_in(f[3], value_set=pa.array(BEHAVIORS))
        first_bad(pc.is_valid(code), numbers, path, f"a behavior type in {BEHAVIORS}", f[3])
        yield pa.table({"user": parse_ints(f[0], numbers, path, "user id"),
                        "item": parse_ints(f[1], numbers, path, "item id"),
                        "category": parse_ints(f[2], numbers, path, "category id"),
                        "behavior": pc.cast(code, pa.int8()),
                        "timestamp": parse_ints(f[4], numbers, path, "timestamp", signed=True)})


def read_taobao(path: str | Path, *, cache: str | Path | None = None, chunksize: int = 1_000_000,
                created: list[Path] | None = None) -> pd.DataFrame:
    """The validated UserBehavior table, parsed once into the parquet cache (``<cache>/taobao/``).

    Args:
        path: ``UserBehavior.csv``.
        cache: cache root; default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``.
        chunksize: lines parsed at a time (the raw file is never read whole).
        created: if given, the cache file is appended when this call wrote it (so a failing caller can remove it).

    Returns:
        columns ``user``, ``item``, ``category``, ``timestamp`` (int64) and ``behavior`` (categorical over
        ``BEHAVIORS``), in file order (blank lines skipped).
    """
    src = need_file(path, "Taobao UserBehavior.csv")
    check_chunksize(chunksize)
    cached = cached_parquet("taobao", src, _OPTIONS, _SCHEMA, lambda: _parse(src, chunksize), cache=cache,
                            created=created)
    t = pd.read_parquet(cached)
    t["behavior"] = pd.Categorical.from_codes(t.behavior.to_numpy(), BEHAVIORS)
    t.attrs["cache_file"] = str(cached)
    return t


def load_taobao(path: str | Path, *, max_len: int = 50, min_count: int = 1, behaviors: tuple[str, ...] = ("pv",),
                seed: int = 0, max_users: int | None = None, cache: str | Path | None = None,
                chunksize: int = 1_000_000) -> CTRData:
    """Taobao UserBehavior as a :class:`~ctrviz.data.batch.CTRData` under the protocol of the module docstring.

    Args:
        path: ``UserBehavior.csv``.
        max_len: T of ``hist_item``/``hist_cat``; the most recent ``max_len`` events are kept.
        min_count: training tokens seen fewer times become OOV (all vocabularies).
        behaviors: which behaviour types form the sequences and targets.
        seed: seeds the negative sampling (and the user sample).
        max_users: keep a seeded random sample of this many users (``None``: all). The full file (~1 M users,
            ~100 M rows, mostly clicks) gives N·T history ids per sequence field, more than most machines hold.
        cache: cache root of the parquet table; default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``.
        chunksize: lines parsed at a time on the first load.

    Returns:
        ``CTRData`` with sparse ``user``, ``item``, ``category``, sequences ``hist_item`` (vocab ``item``) and
        ``hist_cat`` (vocab ``category``), pairs item × hist_item and category × hist_cat, user_field ``"user"``;
        ``Batch.group`` is the raw user id. ``info`` holds sizes, click rates, the protocol, the cache file and
        the fitted ``encoder``.

    Example:
        >>> import pathlib, tempfile
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> rows = [(1, 5, 1, 0), (1, 6, 1, 1), (1, 7, 2, 2), (1, 8, 2, 3), (2, 6, 1, 0), (2, 5, 1, 1), (2, 9, 3, 2)]
        >>> _ = (d / "UserBehavior.csv").write_text("".join(f"{u},{i},{c},pv,{t}\\n" for u, i, c, t in rows))
        >>> data = load_taobao(d / "UserBehavior.csv", cache=d / "cache")
        >>> data.info["sizes"], data.schema.seq_names
        ({'train': 2, 'valid': 4, 'test': 4}, ('hist_item', 'hist_cat'))
    """
    if not isinstance(max_len, int) or isinstance(max_len, bool) or max_len < 1:
        raise ValueError(f"max_len must be an int >= 1, got {max_len!r}")
    if isinstance(behaviors, str) or not behaviors or not set(behaviors) <= set(BEHAVIORS):
        raise ValueError(f"behaviors must be a non-empty tuple of {BEHAVIORS}, got {behaviors!r}")
    created: list[Path] = []
    t = read_taobao(path, cache=cache, chunksize=chunksize, created=created)
    with forget_on_error(created):                     # a load that fails leaves no cache file of its own
        return _protocol_data(t, path, max_len=max_len, min_count=min_count, behaviors=behaviors, seed=seed,
                              max_users=max_users)


def _protocol_data(t: pd.DataFrame, path: str | Path, *, max_len: int, min_count: int, behaviors: tuple[str, ...],
                   seed: int, max_users: int | None) -> CTRData:
    """:func:`load_taobao` once the table is read: the protocol's rows, split and encoded."""
    keep = t.behavior.isin(behaviors).to_numpy()
    if max_users is not None:
        if not isinstance(max_users, int) or isinstance(max_users, bool) or max_users < 1:
            raise ValueError(f"max_users must be None or an int >= 1, got {max_users!r}")
        users = np.unique(t.user.to_numpy()[keep])
        if max_users < len(users):
            chosen = np.random.default_rng([seed, 1]).choice(users, max_users, replace=False)
            keep = keep & np.isin(t.user.to_numpy(), chosen)
    user, item, cat, ts = (t[c].to_numpy()[keep] for c in ("user", "item", "category", "timestamp"))  # file order
    n = len(user)
    order = np.lexsort((np.arange(n), ts, user))                         # by user, time, file order
    u, it, ca = user[order], item[order], cat[order]                     # (N,) events in that order
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]]) if n else np.zeros(0, np.int64)  # each user's first
    sizes = np.diff(np.r_[starts, n])
    pos = np.arange(n) - np.repeat(starts, sizes)                        # (N,) rank within the user
    from_end = np.repeat(sizes, sizes) - 1 - pos                         # (N,) 0 = the user's last event
    in_train = np.zeros(n, dtype=bool)
    in_train[order] = from_end >= 2                                      # training period, in file order
    cands, first, counts = np.unique(item[in_train], return_index=True, return_counts=True)
    if len(cands) < 2:
        raise ValueError(f"{path}: taobao needs at least 2 items with {behaviors} events in the training period "
                         f"(all but each user's last two events), got {len(cands)}")
    cat_of = cat[in_train][first]                                        # category at the first training event
    kp = np.flatnonzero(pos >= 1)                                        # (P,) positives
    rng = np.random.default_rng(seed)
    neg = rng.choice(cands, size=len(kp), p=counts / counts.sum())
    while (same := neg == it[kp]).any():                                 # DIEN: redraw a negative equal to the positive
        neg[same] = rng.choice(cands, size=int(same.sum()), p=counts / counts.sum())
    neg_cat = cat_of[np.searchsorted(cands, neg)]
    split = np.select([from_end[kp] == 0, from_end[kp] == 1], ["test", "valid"], "train")
    splits = {}
    for s in ("train", "valid", "test"):
        m = split == s
        k, hl = kp[m], np.repeat(np.minimum(pos[kp[m]], max_len), 2)    # rows: each positive, then its negative
        idx = flat_history_index(np.repeat(k, 2) - hl, hl)               # (K,) events in the rows' histories
        splits[s] = {"label": np.tile([1, 0], len(k)), "user": np.repeat(u[k], 2), "group": np.repeat(u[k], 2),
                     "item": np.column_stack([it[k], neg[m]]).ravel(),                  # (2P_s,) pos, neg, pos, …
                     "category": np.column_stack([ca[k], neg_cat[m]]).ravel(),
                     "hist_item": it[idx], "hist_cat": ca[idx], "hist_len": hl}
    if not len(splits["train"]["label"]):
        raise ValueError(f"{path}: the taobao train split is empty; users need at least 3 {behaviors} events")
    info = {"protocol": _PROTOCOL.format(behaviors=list(behaviors), max_len=max_len, seed=seed, min_count=min_count),
            "source": str(path), "cache_file": t.attrs["cache_file"], "max_len": max_len, "seed": seed,
            "behaviors": tuple(behaviors), "max_users": max_users, "n_events": n, "n_users": len(starts),
            "n_items": len(np.unique(item))}
    return encode_seq_splits("taobao", splits, max_len=max_len, min_count=min_count, info=info)


def load_taobao_from_env(*, seed: int = 0, cache: str | Path | None = None, min_count: int | None = None) -> CTRData:
    """:func:`load_taobao` of the file named by ``$CTRVIZ_TAOBAO_CSV`` (used by ``load_dataset("taobao")``);
    ``min_count``: ``None`` keeps its default."""
    path = os.environ.get(ENV_VAR)
    if not path:
        raise ValueError(f"taobao: set {ENV_VAR} to the path of UserBehavior.csv. ctrviz cannot download it: get "
                         "UserBehavior.csv.zip from https://tianchi.aliyun.com/dataset/dataDetail?dataId=649 (free "
                         "Tianchi account), unzip it and run e.g. `export CTRVIZ_TAOBAO_CSV=~/data/UserBehavior.csv`")
    return load_taobao(path, seed=seed, cache=cache, **({} if min_count is None else {"min_count": min_count}))
