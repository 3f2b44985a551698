"""Synthetic CTR data with a known answer: planted field pairs and an item × history co-action.

:func:`make_synthetic` draws rows from a click model we wrote down, so every experiment can be
scored against the truth: does CAN (Zhou et al., "CAN: Feature Co-Action Network", Sec. 4) find the
target-item × history co-action, and do AOANet's α gates (Lang et al., "AOANet", KDD '21, Sec. 3.3) keep
exactly the planted field pairs?

Generative model for row n (ids are shifted by +2 into the schema convention: 0 pad, 1 OOV):

- context fields ``f00..``: x[n, k] ~ p independently, p(v) ∝ (v + 1)^(-zipf), v = 0..V-1, so id 2
  is the most frequent value, as the encoders would number it;
- item i has a category c(i) and a unit latent vector u_i = unit(μ_c(i) + 0.25·ε_i) in R^latent_dim,
  clustered around a random unit centroid μ_c;
- user m prefers ``prefs_per_user`` categories. Each history position draws its category from them
  with probability 0.9 (else uniform), the target with probability 0.5; the item is uniform within the
  category. History length L_n ~ Uniform{0..T} (some rows have no history);
- true logit, with k = ``coaction_sharpness``::

      z_n = b + main_n + pairs_n + triples_n + coaction_n
      main_n     = Σ_k w_k[x[n, k]] + w_item[i_n]                  w ~ N(0, main_strength²), centred under p
      pairs_n    = Σ_(a, b) E_ab[x[n, a], x[n, b]]                  E_ab = X Yᵀ, X, Y (V, pair_rank) centred under p
      triples_n  = Σ_(a, b, c) Σ_r X_r[x_a] Y_r[x_b] Z_r[x_c]      X, Y, Z (V, pair_rank) centred under p
      coaction_n = (s / σ) · Σ_{j < L_n} exp(k·(⟨u_{i_n}, u_{h[n, j]}⟩ − 1))

  Centring the factors of E_ab makes it a pure interaction, E[E_ab | x_a] = E[E_ab | x_b] = 0 (no
  per-field part), and it is rescaled to std ``pair_strength`` under p ⊗ p. A planted triple
  (``n_planted_triples``, 0 by default) is a pure **third-order** interaction the same way: the mean of its
  table over any one of its fields is 0, so it has no pairwise and no per-field part — a model that
  multiplies only two embeddings (FM, one GIN layer) cannot fit it, a second GIN/DCN layer (x_0 ⊙ x_1 terms)
  can. Its std under p ⊗ p ⊗ p is ``triple_strength``; its fields are disjoint from the pairs'. It is drawn
  from its own generator (``seed``, 3), so the data of ``n_planted_triples=0`` are unchanged. The co-action is a soft
  count of history items close to the target (1 for an identical vector, e^(-2k) for an opposite one);
  σ is the std of that sum over the generated rows, so the part has std s = ``coaction_strength`` and
  is 0 for an empty history. b is solved so that the mean click probability is ``base_rate``;
- click y_n ~ Bernoulli(sigmoid(z_n)); rows are split 80/10/10 at random.

The schema's ``pairs`` are item × hist_item, category × hist_cat and the planted pairs: the
generator declares what it planted, as a CAN user declares combinations by domain knowledge;
models that search for interactions themselves (GIN/AOANet) must find the planted pairs unaided.
``declare_pairs=False`` leaves the schema without pairs (``benchmarks/explain_to_can.py``: CAN gets its pairs
from :func:`ctrviz.explain.explain` instead).

The co-action is *summed* over the history, as CAN sum-pools its co-action outputs (Sec. 4.2), so it
lies in CAN's function class; it is not a function of the sum-pooled history embedding.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from scipy.optimize import brentq
from scipy.special import expit
from sklearn.metrics import log_loss, roc_auc_score

from ctrviz.data.batch import Batch, CTRData
from ctrviz.data.schema import FIRST_ID, Field, Pair, Schema

_HIST_PREF = 0.9     # P(history position comes from one of the user's preferred categories)
_TARGET_PREF = 0.5   # P(target item comes from one of the user's preferred categories)
_ITEM_SPREAD = 0.25  # std of an item's latent vector around its category centroid (before normalising)
_SPLITS = ("train", "valid", "test")


@dataclass(frozen=True)
class SyntheticConfig:
    """Knobs of the synthetic click model (see the module docstring for the formulas).

    The defaults are sized so that the models can learn the truth: with 160k training rows, CAN gets
    within 0.01 of the oracle AUC (README, demo table); larger vocabularies or fewer rows widen the gap
    from estimation noise alone.

    Args:
        n_rows: total rows, split 80/10/10 at random.
        n_fields: context categorical fields ``f00..``.
        vocab_size: values per context field.
        zipf: skew of the value frequencies, ``p(v) ∝ (v+1)^-zipf`` (0 = uniform).
        n_planted_pairs: disjoint context-field pairs with a pure interaction table.
        n_planted_triples: disjoint context-field triples with a pure three-field interaction (no pairwise part).
        triple_strength: std (in logits) of each planted triple's effect.
        pair_rank: rank of each planted table (≤ embedding dim → a factorised model can fit it exactly).
        pair_strength: std (in logits) of each planted pair's effect.
        main_strength: std (in logits) of each field's per-value main effect (context fields and item).
        n_users, n_items, n_categories: sizes of the user, item and category vocabularies.
        prefs_per_user: categories each user's history mostly comes from.
        seq_len: T, the maximum history length; actual lengths are uniform on 0..T.
        latent_dim: width of the items' latent vectors.
        coaction_sharpness: k in ``exp(k·(⟨u_target, u_j⟩ − 1))``; large k → only near-identical items count.
        coaction_strength: std (in logits) of the item × history co-action part.
        base_rate: mean click probability (sets the intercept).
        seed: seed of ``numpy.random.default_rng``.
        declare_pairs: ``True``: the schema's ``pairs`` name the truth (item × hist_item, category × hist_cat and
            the planted pairs), as a domain expert would for CAN; ``False``: the schema declares no pairs, so
            CAN needs them from elsewhere (``pairs=`` in its config, ``ctrviz train --pairs-from`` an explain
            report). The data are the same either way.

    Example:
        >>> SyntheticConfig(n_rows=1000).n_fields
        20
        >>> SyntheticConfig(seq_len=0)
        Traceback (most recent call last):
        ...
        ValueError: SyntheticConfig.seq_len must be >= 1, got 0
    """

    n_rows: int = 200_000
    n_fields: int = 20
    vocab_size: int = 10
    zipf: float = 1.1
    n_planted_pairs: int = 3
    n_planted_triples: int = 0
    triple_strength: float = 1.0
    pair_rank: int = 2
    pair_strength: float = 1.0
    main_strength: float = 0.3
    n_users: int = 300
    n_items: int = 100
    n_categories: int = 20
    prefs_per_user: int = 3
    seq_len: int = 20
    latent_dim: int = 4
    coaction_sharpness: float = 3.0
    coaction_strength: float = 1.5
    base_rate: float = 0.25
    seed: int = 0
    declare_pairs: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.declare_pairs, bool):
            raise ValueError(f"SyntheticConfig.declare_pairs must be True or False, got {self.declare_pairs!r}")
        for f in fields(self):
            if f.name == "declare_pairs":
                continue
            v = getattr(self, f.name)
            want = int if f.type in (int, "int") else float
            if isinstance(v, bool) or not isinstance(v, (int, float)) or (want is int and not isinstance(v, int)):
                raise ValueError(f"SyntheticConfig.{f.name} must be {want.__name__}, got {v!r}")
        minimum = {"n_rows": 100, "n_fields": 1, "vocab_size": 2, "n_planted_pairs": 0, "n_planted_triples": 0,
                   "triple_strength": 0, "pair_rank": 1,
                   "n_users": 1, "n_items": 1, "n_categories": 1, "prefs_per_user": 1, "seq_len": 1,
                   "latent_dim": 1, "seed": 0, "zipf": 0, "pair_strength": 0, "main_strength": 0,
                   "coaction_strength": 0}
        for name, lo in minimum.items():
            if getattr(self, name) < lo:
                raise ValueError(f"SyntheticConfig.{name} must be >= {lo}, got {getattr(self, name)}")
        if 2 * self.n_planted_pairs > self.n_fields:
            raise ValueError(f"SyntheticConfig.n_planted_pairs must be <= n_fields // 2 = {self.n_fields // 2} "
                             f"(pairs are disjoint), got {self.n_planted_pairs}")
        if 2 * self.n_planted_pairs + 3 * self.n_planted_triples > self.n_fields:
            raise ValueError(f"SyntheticConfig.n_planted_triples must be <= (n_fields - 2 * n_planted_pairs) // 3 = "
                             f"{(self.n_fields - 2 * self.n_planted_pairs) // 3} (pairs and triples are disjoint), "
                             f"got {self.n_planted_triples}")
        if self.pair_rank > self.vocab_size - 1:
            raise ValueError(f"SyntheticConfig.pair_rank must be <= vocab_size - 1 = {self.vocab_size - 1}, "
                             f"got {self.pair_rank}")
        if self.n_items < self.n_categories:
            raise ValueError(f"SyntheticConfig.n_items must be >= n_categories = {self.n_categories} (every "
                             f"category needs an item), got {self.n_items}")
        if self.prefs_per_user > self.n_categories:
            raise ValueError(f"SyntheticConfig.prefs_per_user must be in [1, n_categories = {self.n_categories}], "
                             f"got {self.prefs_per_user}")
        if not self.coaction_sharpness > 0:
            raise ValueError(f"SyntheticConfig.coaction_sharpness must be > 0, got {self.coaction_sharpness}")
        if not 0 < self.base_rate < 1:
            raise ValueError(f"SyntheticConfig.base_rate must be in (0, 1), got {self.base_rate}")

    @property
    def field_names(self) -> list[str]:
        """Names of the context fields, ``f00``, ``f01``, …"""
        width = max(2, len(str(self.n_fields - 1)))
        return [f"f{k:0{width}d}" for k in range(self.n_fields)]


def make_synthetic(config: SyntheticConfig | None = None) -> CTRData:
    """Draw a synthetic CTR dataset whose click model is known (see the module docstring).

    Args:
        config: the knobs; ``None`` → ``SyntheticConfig()`` (200k rows, about 0.6 s).

    Returns:
        :class:`CTRData` named ``"synthetic"``. Sparse fields ``user, item, category, f00..``;
        sequences ``hist_item``, ``hist_cat`` (B, T), left-aligned, 0-padded; no dense fields;
        ``group`` = user ids. ``info`` holds ``config``, ``planted_pairs`` (sorted (field_a, field_b)),
        ``pair_tables`` (pair → (V+2, V+2) effect indexed by ids), ``intercept``, ``prob`` and
        ``logit_parts`` (split → (N,) arrays; ``logit = intercept + Σ parts``), ``item_category`` and
        ``item_vectors`` (indexed by item id), and the Bayes ``oracle_auc`` / ``oracle_logloss`` on test.

    Shape:
        each split: ``sparse`` (B, 3 + n_fields) int64, ``dense`` (B, 0) float32, ``seqs[·]`` (B, seq_len)
        int64, ``label`` (B,) float32, ``group`` (B,) int64; B = 80 / 10 / 10 % of ``n_rows``.

    Example:
        >>> data = make_synthetic(SyntheticConfig(n_rows=2000, seed=0))
        >>> data.train.sparse.shape, data.test.seqs["hist_item"].shape    # 3 + 20 sparse fields, T = 20
        (torch.Size([1600, 23]), torch.Size([200, 20]))
        >>> len(data.info["planted_pairs"]), 0.6 < data.info["oracle_auc"] < 1
        (3, True)
    """
    cfg = SyntheticConfig() if config is None else config
    if not isinstance(cfg, SyntheticConfig):
        raise TypeError(f"make_synthetic: config must be a SyntheticConfig, got {type(cfg).__name__}")
    rng = np.random.default_rng(cfg.seed)
    N, F, V, T, C = cfg.n_rows, cfg.n_fields, cfg.vocab_size, cfg.seq_len, cfg.n_categories
    names = cfg.field_names

    # -- context fields, main effects and planted pairs -------------------------------------------
    p = np.arange(1, V + 1, dtype=np.float64) ** -cfg.zipf
    p /= p.sum()                                                          # (V,) value frequencies
    x = rng.choice(V, size=(N, F), p=p)                                   # (N, F) values 0..V-1
    w = rng.normal(0.0, cfg.main_strength, (F, V))                        # (F, V) main effects
    w -= (w @ p)[:, None]                                                 # centred under p
    main = w[np.arange(F), x].sum(1)                                      # (N,)
    pair_idx = np.sort(rng.permutation(F)[: 2 * cfg.n_planted_pairs].reshape(-1, 2), axis=1)  # (P, 2)
    pair_idx = pair_idx[np.lexsort(pair_idx.T[::-1])]                     # (P, 2) sorted by (a, b)
    pairs = np.zeros(N)
    tables: dict[tuple[str, str], np.ndarray] = {}
    for a, b in pair_idx:                                                 # P ≤ F/2 iterations, not rows
        xa, yb = rng.normal(size=(2, V, cfg.pair_rank))                   # (V, R) factors
        xa, yb = xa - p @ xa, yb - p @ yb                                 # centred under p → pure interaction
        e = xa @ yb.T                                                     # (V, V)
        e *= cfg.pair_strength / np.sqrt(p @ e**2 @ p)                    # std under p ⊗ p = pair_strength
        pairs += e[x[:, a], x[:, b]]                                      # (N,)
        tables[(names[a], names[b])] = np.pad(e, ((FIRST_ID, 0), (FIRST_ID, 0)))  # (V+2, V+2) by id
    triples, triple_tables = _plant_triples(cfg, x, p, np.setdiff1d(np.arange(F), pair_idx), names)   # (N,), {…}

    # -- items, users, targets and histories ------------------------------------------------------
    item_cat = rng.permutation(np.arange(cfg.n_items) % C)                # (I,) every category has items
    by_cat = np.argsort(item_cat, kind="stable")                          # (I,) items grouped by category
    count = np.bincount(item_cat, minlength=C)                            # (C,)
    start = np.cumsum(count) - count                                      # (C,)

    def item_in(cat: np.ndarray) -> np.ndarray:                           # uniform item of each category
        return by_cat[start[cat] + (rng.random(cat.shape) * count[cat]).astype(np.int64)]

    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)

    centroid = unit(rng.normal(size=(C, cfg.latent_dim)))                 # (C, d)
    u = unit(centroid[item_cat] + _ITEM_SPREAD * rng.normal(size=(cfg.n_items, cfg.latent_dim)))  # (I, d)
    w_item = rng.normal(0.0, cfg.main_strength, cfg.n_items)              # (I,)
    prefs = np.argsort(rng.random((cfg.n_users, C)), axis=1)[:, : cfg.prefs_per_user]  # (U, P) categories
    user = rng.integers(cfg.n_users, size=N)                              # (N,)
    pref_pick = prefs[user[:, None], rng.integers(cfg.prefs_per_user, size=(N, T + 1))]  # (N, T+1)
    mix = rng.random((N, T + 1)) < np.r_[_TARGET_PREF, np.full(T, _HIST_PREF)]           # (N, T+1)
    cats = np.where(mix, pref_pick, rng.integers(C, size=(N, T + 1)))    # (N, T+1) col 0 = target
    items = item_in(cats)                                                 # (N, T+1)
    target, hist, hist_cat = items[:, 0], items[:, 1:], cats[:, 1:]       # (N,), (N, T), (N, T)
    length = rng.integers(0, T + 1, size=N)                               # (N,) 0..T
    real = np.arange(T) < length[:, None]                                 # (N, T) left-aligned mask
    # sims[n, j] = Σ_d u[target_n, d] · u[hist_nj, d]
    sims = np.einsum("nd,ntd->nt", u[target], u[hist])                    # (N, T)
    raw = (np.exp(cfg.coaction_sharpness * (sims - 1)) * real).sum(1)    # (N,) sum over real positions
    coaction = cfg.coaction_strength * raw / max(raw.std(), 1e-12)        # (N,) 0 for an empty history
    main += w_item[target]

    # -- intercept, clicks and splits -------------------------------------------------------------
    rest = main + pairs + triples + coaction                              # (N,)
    intercept = brentq(lambda c: expit(c + rest).mean() - cfg.base_rate, -50.0, 50.0, xtol=1e-10)
    prob = expit(intercept + rest)                                        # (N,) float64
    label = (rng.random(N) < prob).astype(np.float32)                     # (N,)

    sparse = np.column_stack([user, target, item_cat[target], x]) + FIRST_ID  # (N, 3 + F)
    seq_item = np.where(real, hist + FIRST_ID, 0)                         # (N, T)
    seq_cat = np.where(real, hist_cat + FIRST_ID, 0)                      # (N, T)
    order = rng.permutation(N)
    n_tr, n_va = int(0.8 * N), int(0.1 * N)
    rows = dict(zip(_SPLITS, (np.sort(order[:n_tr]), np.sort(order[n_tr:n_tr + n_va]),
                              np.sort(order[n_tr + n_va:])), strict=True))

    def batch(r: np.ndarray) -> Batch:
        s = torch.from_numpy(sparse[r])
        return Batch(s, torch.zeros(len(r), 0), {"hist_item": torch.from_numpy(seq_item[r]),
                     "hist_cat": torch.from_numpy(seq_cat[r])}, torch.from_numpy(label[r]), s[:, 0].clone())

    n_item_ids, n_cat_ids = cfg.n_items + FIRST_ID, C + FIRST_ID
    schema = Schema(
        (Field("user", "sparse", vocab_size=cfg.n_users + FIRST_ID),
         Field("item", "sparse", vocab="item", vocab_size=n_item_ids),
         Field("category", "sparse", vocab="category", vocab_size=n_cat_ids),
         *(Field(name, "sparse", vocab_size=V + FIRST_ID) for name in names),
         Field("hist_item", "sequence", vocab="item", vocab_size=n_item_ids, max_len=T),
         Field("hist_cat", "sequence", vocab="category", vocab_size=n_cat_ids, max_len=T)),
        # The generator declares what it planted, as a domain expert declares combinations for CAN (Sec. 6,
        # "combination reduction"); models that search for interactions (GIN/AOANet) ignore this list.
        pairs=(Pair("item", "hist_item"), Pair("category", "hist_cat"), *(Pair(a, b) for a, b in tables))
        if cfg.declare_pairs else (),
        user_field="user",
    )
    test_y, test_p = label[rows["test"]], prob[rows["test"]]
    two_classes = 0 < test_y.sum() < len(test_y)
    info = {
        "config": asdict(cfg),
        "planted_pairs": list(tables),
        "pair_tables": tables,
        "planted_triples": list(triple_tables),
        "triple_tables": triple_tables,
        "intercept": float(intercept),
        "prob": {k: prob[r] for k, r in rows.items()},
        "logit_parts": {k: {"main": main[r], "pairs": pairs[r], **({"triples": triples[r]} if triple_tables else {}),
                            "coaction": coaction[r]} for k, r in rows.items()},   # "triples" only when planted
        "item_category": np.r_[0, 1, item_cat + FIRST_ID],                # (I+2,) item id → category id
        "item_vectors": np.pad(u, ((FIRST_ID, 0), (0, 0))),               # (I+2, d) item id → u
        "oracle_auc": float(roc_auc_score(test_y, test_p)) if two_classes else float("nan"),
        "oracle_logloss": float(log_loss(test_y, test_p, labels=[0, 1])),
    }
    return CTRData("synthetic", schema, batch(rows["train"]), batch(rows["valid"]), batch(rows["test"]), info)


def _plant_triples(cfg: SyntheticConfig, x: np.ndarray, p: np.ndarray, free: np.ndarray, names: list[str]
                   ) -> tuple[np.ndarray, dict[tuple[str, str, str], np.ndarray]]:
    """The planted three-field interactions (module docstring): their part of the logit (N,) and each triple's
    (V+2, V+2, V+2) table indexed by ids, keyed by its sorted field names. Drawn from ``default_rng((seed, 3))``
    among the ``free`` fields (those no pair uses)."""
    if cfg.n_planted_triples == 0:
        return np.zeros(len(x)), {}
    rng = np.random.default_rng((cfg.seed, 3))
    V, R = cfg.vocab_size, cfg.pair_rank
    idx = np.sort(rng.permutation(free)[: 3 * cfg.n_planted_triples].reshape(-1, 3), axis=1)   # (Q, 3)
    idx = idx[np.lexsort(idx.T[::-1])]
    part, tables = np.zeros(len(x)), {}
    for a, b, c in idx:                                                   # Q iterations, not rows
        fa, fb, fc = (f - p @ f for f in rng.normal(size=(3, V, R)))      # (V, R) each, centred under p
        # t[i, j, k] = Σ_r fa[i, r] fb[j, r] fc[k, r]
        t = np.einsum("ir,jr,kr->ijk", fa, fb, fc)                        # (V, V, V)
        t *= cfg.triple_strength / np.sqrt(np.einsum("i,j,k,ijk->", p, p, p, t**2))   # std under p⊗p⊗p
        part += t[x[:, a], x[:, b], x[:, c]]                              # (N,)
        tables[(names[a], names[b], names[c])] = np.pad(t, [(FIRST_ID, 0)] * 3)       # (V+2,)*3 by id
    return part, tables
