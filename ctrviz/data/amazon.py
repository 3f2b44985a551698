"""Amazon Books in the DIEN/CAN sample format: the CAN paper's Amazon(book) dataset (Sec. 5.1, Table 1).

Data: the Books subset of McAuley's Amazon product data (http://jmcauley.ucsd.edu/data/amazon/, CAN footnote 2;
McAuley et al., SIGIR 2015 and He & McAuley, WWW 2016), turned into CTR samples by the DIEN scripts that the
CAN repository reuses (``process_data.py`` → ``local_aggretor.py`` → ``split_by_user.py``). ctrviz cannot download
it: pass the folder holding the scripts' output (or set ``CTRVIZ_AMAZON_DIR`` for ``load_dataset("amazon")``).

Files read (UTF-8, tab-separated, no header; see ``data/README.md``):

- ``local_train_splitByUser``, ``local_test_splitByUser``: ``label \\t uid \\t mid \\t cat \\t mid_history \\t
  cat_history``; label 0/1, histories oldest first joined by ``\\x02`` (ASCII 2), possibly empty, of equal length.
  The scripts write each user's last review as a negative line then a positive line sharing the history (the
  user's earlier reviews); 1 user in 10 goes to the test file.
- ``item-info`` (``mid \\t cat``) and ``reviews-info`` (``uid \\t mid \\t rating \\t timestamp``): the scripts'
  intermediate files, read by :func:`read_item_info` / :func:`read_reviews_info`; :func:`build_amazon_files`
  rebuilds the two sample files from them. The originals' ``*_voc.pkl`` are never read (no unpickling): the
  vocabularies are fitted on the training part and saved as JSON with the ``TableEncoder``.

Split: test = the test file; valid = a seeded ``valid_fraction`` of the training file's *users* (all their rows),
train = the rest — by users because the test file holds users unseen in training, so valid should too.

Histories longer than ``max_len`` keep their most recent ``max_len`` items, as DIEN/CAN's ``prepare_data`` does.
Deviations from the paper: its Table 1 has no separate valid set ("Validation" 121,216 = the test file); our
vocabularies are fitted on the train part only, theirs (``generate_voc.py``) on the whole training file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ctrviz.data.batch import CTRData
from ctrviz.data.parquet_cache import (
    arrow_text,
    cached_parquet,
    check_chunksize,
    encode_seq_splits,
    first_bad,
    flat_history_index,
    iter_line_chunks,
    need_file,
    parse_labels,
    split_fields,
)
from ctrviz.utils import atomic_write_text

FILES = ("local_train_splitByUser", "local_test_splitByUser")
SEP = "\x02"
ENV_VAR = "CTRVIZ_AMAZON_DIR"
DEFAULT_CAT = "default_cat"
_SCHEMA = pa.schema([("label", pa.int8()), ("user", pa.string()), ("item", pa.string()), ("category", pa.string()),
                     ("hist_item", pa.list_(pa.string())), ("hist_cat", pa.list_(pa.string()))])
_OPTIONS = {"format": "dien-amazon-samples", "version": 1}
_PROTOCOL = ("Amazon Books, DIEN/CAN sample files: each row is label, user, item, category and the user's earlier "
             "reviewed items/categories (most recent {max_len} kept). Test = local_test_splitByUser; valid = "
             "{valid_fraction:g} of local_train_splitByUser's users (seed {seed}, all their rows), train = the rest. "
             "Encoders fitted on train (min_count {min_count}); ids unseen there -> OOV; group = user id, "
             "factorised over all splits.")


def _need(path: Path, what: str) -> Path:
    return need_file(path, f"the DIEN/CAN Amazon {what}")


def _nonempty(f: list[pa.StringArray], cols: dict[int, str], numbers: np.ndarray, path: Path) -> None:
    for k, what in cols.items():
        first_bad(pc.greater(pc.binary_length(f[k]), 0), numbers, path, f"a non-empty {what}", f[k])


def _np(a: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return a.to_numpy(zero_copy_only=False) if isinstance(a, pa.Array) else a.to_numpy()


def _parse_samples(path: Path, chunksize: int) -> Iterator[pa.Table]:
    """Yield the validated rows of a DIEN sample file chunk by chunk (histories as arrow lists)."""
    for numbers, lines in iter_line_chunks(path, chunksize):
        f = split_fields(lines, numbers, "\t", 6, path)
        label = parse_labels(f[0], numbers, path)
        _nonempty(f, {1: "user id", 2: "item id", 3: "category"}, numbers, path)
        lists, lengths = [], []
        for k in (4, 5):
            empty = _np(pc.equal(f[k], ""))
            parts = pc.split_pattern(f[k], SEP)                           # "" → [""]: dropped below
            n = np.where(empty, 0, _np(pc.count_substring(f[k], SEP)) + 1)  # (R,) history length per line
            values = pc.list_flatten(parts).filter(pa.array(np.repeat(~empty, _np(pc.list_value_length(parts)))))
            if (bad := np.flatnonzero(_np(pc.equal(values, "")))).size:
                row = int(np.repeat(np.arange(len(n)), n)[bad[0]])
                raise ValueError(f"{path}: line {numbers[row]}: empty id in a {SEP!r}-joined history")
            lists.append(pa.ListArray.from_arrays(pa.array(np.r_[0, np.cumsum(n)], pa.int32()), values))
            lengths.append(n)
        if (bad := np.flatnonzero(lengths[0] != lengths[1])).size:
            i = int(bad[0])
            raise ValueError(f"{path}: line {numbers[i]}: mid_history has {lengths[0][i]} items but cat_history has "
                             f"{lengths[1][i]}; expected equal lengths")
        yield pa.table({"label": label, "user": f[1], "item": f[2], "category": f[3],
                        "hist_item": lists[0], "hist_cat": lists[1]})


def _cached_samples(path: Path, cache: str | Path | None, chunksize: int, created: list[Path] | None) -> Path:
    src = _need(Path(path).expanduser(), "sample file")
    check_chunksize(chunksize)
    return cached_parquet("amazon", src, _OPTIONS, _SCHEMA, lambda: _parse_samples(src, chunksize), cache=cache,
                          created=created, allow_empty=True)     # an empty test file is a valid round trip


def read_amazon_samples(path: str | Path, *, cache: str | Path | None = None, chunksize: int = 1_000_000
                        ) -> pd.DataFrame:
    """One DIEN sample file as a validated table, parsed once into the parquet cache (``<cache>/amazon/``).

    Returns:
        columns ``label`` (int8), ``user``, ``item``, ``category`` (str), ``hist_item``, ``hist_cat`` (arrays of
        str, oldest first), in file order (blank lines skipped).
    """
    return pd.read_parquet(_cached_samples(Path(path), cache, chunksize, None))


def _read_tsv(path: Path, ncols: int, chunksize: int) -> Iterator[tuple[np.ndarray, list[pa.StringArray]]]:
    for numbers, lines in iter_line_chunks(_need(path, path.name), chunksize):
        yield numbers, split_fields(lines, numbers, "\t", ncols, path)


def read_item_info(path: str | Path, *, chunksize: int = 1_000_000) -> pd.DataFrame:
    """``item-info`` (``mid \\t cat``) as ``item``, ``category``; a repeated mid keeps its first line (as DIEN)."""
    path, parts = Path(path).expanduser(), []
    for numbers, f in _read_tsv(path, 2, chunksize):
        _nonempty(f, {0: "item id"}, numbers, path)
        parts.append(pd.DataFrame({"item": f[0].to_pandas(), "category": f[1].to_pandas()}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({"item": [], "category": []}, dtype=str)
    return out.drop_duplicates("item", ignore_index=True)


def read_reviews_info(path: str | Path, *, chunksize: int = 1_000_000) -> pd.DataFrame:
    """``reviews-info`` (``uid \\t mid \\t rating \\t timestamp``) as ``user``, ``item``, ``rating`` (float),
    ``timestamp`` (int64), in file order."""
    path, parts = Path(path).expanduser(), []
    for numbers, f in _read_tsv(path, 4, chunksize):
        _nonempty(f, {0: "user id", 1: "item id"}, numbers, path)
        first_bad(pc.match_substring_regex(f[2], r"^\d+(?:\.\d*)?$"), numbers, path, "a numeric rating", f[2])
        first_bad(pc.match_substring_regex(f[3], r"^\d{1,18}(?:\.0*)?$"), numbers, path, "an integer timestamp", f[3])
        parts.append(pd.DataFrame({"user": f[0].to_pandas(), "item": f[1].to_pandas(),
                                   "rating": _np(pc.cast(f[2], pa.float64())),
                                   "timestamp": _np(pc.cast(pc.cast(f[3], pa.float64()), pa.int64()))}))
    empty = pd.DataFrame({"user": pd.Series([], dtype=str), "item": pd.Series([], dtype=str),
                          "rating": np.zeros(0), "timestamp": np.zeros(0, np.int64)})
    return pd.concat(parts, ignore_index=True) if parts else empty


def build_amazon_files(reviews_info: str | Path, item_info: str | Path, out_dir: str | Path, *, seed: int = 0,
                       test_fraction: float = 0.1, chunksize: int = 1_000_000) -> tuple[Path, Path]:
    """Write ``local_{train,test}_splitByUser`` into ``out_dir`` from ``reviews-info`` + ``item-info``, as DIEN does.

    Steps of ``process_data.py`` / ``local_aggretor.py`` / ``split_by_user.py``: each user's reviews in time order
    (ties by file order; users in order of first appearance); every review gets a negative drawn uniformly from
    all review lines of the file (so by popularity), redrawn while equal to the reviewed item; categories from
    ``item-info``, ``"default_cat"`` when missing (DIEN crashes on a negative without one). Only each user's
    *last* review is kept (users with one review are dropped): a ``0`` line for its negative, then a ``1`` line,
    both with the user's earlier items/categories as history; each user lands in the test file with probability
    ``test_fraction``. DIEN's ``local_train`` (the earlier reviews) is unused by CAN and not written. NumPy's
    seeded generator replaces Python's ``random``, so the draws differ from the scripts'.

    Returns:
        the paths of the train and test files (written atomically, after all input was read and checked).
    """
    if not 0.0 <= test_fraction <= 1.0:
        raise ValueError(f"test_fraction must lie in [0, 1], got {test_fraction!r}")
    rv = read_reviews_info(reviews_info, chunksize=chunksize)
    cat_of = read_item_info(item_info, chunksize=chunksize).set_index("item").category
    items = rv.item.to_numpy(dtype=object)
    if len(set(items)) < 2:
        raise ValueError(f"{reviews_info}: needs at least 2 distinct items to draw negatives")
    n = len(rv)
    ucode = pd.factorize(rv.user)[0]                                     # users in order of first appearance
    order = np.lexsort((np.arange(n), rv.timestamp.to_numpy(), ucode))   # by user, time, file order
    u, user = ucode[order], rv.user.to_numpy(dtype=object)[order]
    item = rv.item.to_numpy(dtype=object)[order]                         # (N,) reviews in that order
    cat = cat_of.reindex(item).fillna(DEFAULT_CAT).to_numpy(dtype=object)
    starts = np.flatnonzero(np.r_[True, u[1:] != u[:-1]]) if n else np.zeros(0, np.int64)
    sizes = np.diff(np.r_[starts, n])
    k = (starts + sizes - 1)[sizes >= 2]                                 # (U,) each user's last review, with history
    hl = k - starts[sizes >= 2]                                          # (U,) its history length
    idx = flat_history_index(k - hl, hl)                                 # (K,) the earlier reviews, oldest first
    rng = np.random.default_rng(seed)
    neg = rng.choice(items, size=len(k))
    while (same := neg == item[k]).any():
        neg[same] = rng.choice(items, size=int(same.sum()))
    neg_cat = cat_of.reindex(neg).fillna(DEFAULT_CAT).to_numpy(dtype=object)
    to_test = rng.random(len(k)) < test_fraction
    cuts = np.cumsum(hl)[:-1]
    hists = zip(np.split(item[idx], cuts), np.split(cat[idx], cuts), strict=True) if len(k) else ()
    out: dict[bool, list[str]] = {False: [], True: []}
    for j, (h1, h2) in enumerate(hists):
        tail, r = f"{SEP.join(h1)}\t{SEP.join(h2)}\n", k[j]
        out[bool(to_test[j])] += [f"0\t{user[r]}\t{neg[j]}\t{neg_cat[j]}\t{tail}",
                                  f"1\t{user[r]}\t{item[r]}\t{cat[r]}\t{tail}"]
    folder = Path(out_dir).expanduser()
    return (atomic_write_text(folder / FILES[0], "".join(out[False])),
            atomic_write_text(folder / FILES[1], "".join(out[True])))


def load_amazon(path: str | Path, *, max_len: int = 100, min_count: int = 1, valid_fraction: float = 0.1,
                seed: int = 0, cache: str | Path | None = None, chunksize: int = 1_000_000) -> CTRData:
    """Amazon Books (DIEN/CAN files) as a :class:`~ctrviz.data.batch.CTRData` (module docstring for the protocol).

    Args:
        path: folder holding ``local_train_splitByUser`` and ``local_test_splitByUser``.
        max_len: T of ``hist_item``/``hist_cat``; the most recent ``max_len`` items are kept.
        min_count: training tokens seen fewer times become OOV (all vocabularies).
        valid_fraction: share of the training file's users (rounded half up) held out as valid.
        seed: seeds the choice of valid users.
        cache: cache root of the parquet tables; default ``$CTRVIZ_CACHE`` or ``~/.cache/ctrviz``.
        chunksize: lines parsed at a time on the first load.

    Returns:
        ``CTRData`` with sparse ``user``, ``item``, ``category``, sequences ``hist_item`` (vocab ``item``) and
        ``hist_cat`` (vocab ``category``), pairs item × hist_item and category × hist_cat, user_field ``"user"``.

    Example:
        >>> import pathlib, tempfile
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> row = "{}\\tu{}\\tb{}\\tc1\\tb1\\x02b2\\tc1\\x02c2\\n"
        >>> _ = (d / FILES[0]).write_text("".join(row.format(k % 2, k // 2, k) for k in range(8)))
        >>> _ = (d / FILES[1]).write_text(row.format(0, 9, 9) + row.format(1, 9, 3))
        >>> data = load_amazon(d, valid_fraction=0.25, cache=d / "cache")
        >>> data.info["sizes"], data.schema["hist_item"].max_len
        ({'train': 6, 'valid': 2, 'test': 2}, 100)
    """
    if not isinstance(max_len, int) or isinstance(max_len, bool) or max_len < 1:
        raise ValueError(f"max_len must be an int >= 1, got {max_len!r}")
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction must lie in [0, 1), got {valid_fraction!r}")
    folder = Path(path).expanduser()
    for f in FILES:
        _need(folder / f, "sample file")
    made: list[Path] = []
    try:
        paths = [_cached_samples(folder / f, cache, chunksize, made) for f in FILES]
    except BaseException:   # all or nothing: a bad test file also un-caches the train file parsed just before
        for p in made:
            p.unlink(missing_ok=True)
            if not any(p.parent.iterdir()):
                p.parent.rmdir()
        raise
    full, test = (pq.read_table(p) for p in paths)
    text = arrow_text                                                     # arrow-backed, no copies
    users = pd.unique(text(full["user"]))
    chosen = users[np.random.default_rng(seed).permutation(len(users))[:int(valid_fraction * len(users) + 0.5)]]
    is_valid = text(full["user"]).isin(chosen).to_numpy()
    tables = {"train": full.filter(pa.array(~is_valid)), "valid": full.filter(pa.array(is_valid)), "test": test}
    if tables["train"].num_rows == 0:
        raise ValueError(f"{folder / FILES[0]}: the amazon train split is empty (file empty or valid_fraction too big)")
    codes = pd.factorize(pd.concat([text(t["user"]) for t in tables.values()], ignore_index=True))[0]
    splits, start = {}, 0
    for s, t in tables.items():   # group = user id: valid/test users are all OOV in `sparse` by construction
        splits[s] = {"label": _np(t["label"]), "user": text(t["user"]), "item": text(t["item"]),
                     "category": text(t["category"]), "hist_item": text(pc.list_flatten(t["hist_item"])),
                     "hist_cat": text(pc.list_flatten(t["hist_cat"])),
                     "hist_len": _np(pc.list_value_length(t["hist_item"])).astype(np.int64),
                     "group": codes[start:start + t.num_rows]}
        start += t.num_rows
    info = {"protocol": _PROTOCOL.format(max_len=max_len, valid_fraction=valid_fraction, seed=seed,
                                         min_count=min_count),
            "source": str(folder), "cache_files": [str(p) for p in paths], "max_len": max_len, "seed": seed,
            "valid_users": sorted(map(str, chosen))}
    return encode_seq_splits("amazon", splits, max_len=max_len, min_count=min_count, info=info)


def load_amazon_from_env(*, seed: int = 0, cache: str | Path | None = None, min_count: int | None = None) -> CTRData:
    """:func:`load_amazon` of the folder named by ``$CTRVIZ_AMAZON_DIR`` (used by ``load_dataset("amazon")``);
    ``min_count``: ``None`` keeps its default."""
    path = os.environ.get(ENV_VAR)
    if not path:
        raise ValueError(f"amazon: set {ENV_VAR} to a folder holding {FILES[0]} and {FILES[1]}. ctrviz cannot "
                         "download them: get reviews_Books_5.json.gz and meta_Books.json.gz "
                         "(http://jmcauley.ucsd.edu/data/amazon/) and run the DIEN scripts (prepare_data.sh in "
                         "https://github.com/mouna99/dien), or build them from their reviews-info and item-info with "
                         "ctrviz.data.amazon.build_amazon_files; see data/README.md")
    return load_amazon(path, seed=seed, cache=cache, **({} if min_count is None else {"min_count": min_count}))
