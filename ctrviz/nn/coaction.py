"""The co-action unit of CAN (Zhou et al., "CAN: Feature Co-Action Network", Sec. 4.2–4.4).

For an induction × feed pair (e.g. target item × the items of the user's history) the *induction*
id looks up a vector ``P_induction ∈ R^{D'}`` that is reshaped and split into the weights and biases
of a micro-MLP (Eq. 5–6):

    ‖_{i=0}^{L-1} (w_i ‖ b_i) = P_induction,        Σ_i |w_i| + |b_i| = D'

and the *feed* id's vector ``P_feed ∈ R^{D}`` runs through it; the outputs of every layer are
concatenated (Eq. 7–9):

    h_0 = P_feed,   h_i = σ(w_{i-1} ⊗ h_{i-1} + b_{i-1}),   F(u, m) = ‖_{i=1}^{L} h_i

A sequence feed runs every position through the unit, masks padding and sum-pools (Eq. 10, as the
text describes it: "applied to each click behavior followed by a sum-pooling"). Multi-order
enhancement feeds the element-wise powers ``P_feed^c``, c = 1..C, through the unit (Eq. 11).

Multi-level independence (Sec. 4.4), each a switch of :class:`CoActionConfig`:

- parameter independence: induction and feed vectors have their own tables, separate from the
  model's main embeddings (off: the feed side reuses the main embedding, which then needs D = layers[0]);
- combination independence: every pair gets its own induction and feed tables (Eq. 12–13), instead
  of one table per vocabulary shared by all pairs that use it;
- order independence: a separate ``P_induction`` per order c (the induction width grows C times).

Every pair is computed in one batched einsum per distinct feed length (in practice two buckets:
sequence feeds and single-id feeds), never a Python loop over pairs, orders or positions.

Deviations from the paper: none by default. Three switches give the released code's unit
(CAN-Paper/Co-Action-Network ``script/model.py``, ``gen_coaction``; the ``can-official`` model sets all three):
``bias=False`` (its ``weight_emb_b = [0, 0]``; Eq. 5 has biases), ``last_activation=False`` (it skips tanh after
the last layer, ``if j != len(weight)-1``; Eq. 8 applies σ to every layer) and ``order_combine="concat"`` (it
concatenates the orders, 3 × (8 + 4) = 36 values per pair; Eq. 11 sums them to 12). Eq. 10 as printed pools the
sequence before the unit; we follow the text and the official code (unit per position, then sum).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import PAD_ID, Pair, Schema
from ctrviz.nn.config import Config
from ctrviz.nn.embedding import FieldEmbedding


@dataclass(frozen=True)
class CoActionConfig:
    """Knobs of the co-action unit.

    Args:
        layers: micro-MLP widths from the feed dim D on: ``(16, 8, 4)`` is CAN's 16→8→4 (Sec. 5.1).
        bias: give every micro-MLP layer a bias taken from ``P_induction`` (Eq. 5); ``False`` shrinks D' by
            Σ layers[1:] (the official code has none).
        activation: ``"tanh"`` (CAN, Sec. 4.3) or ``"none"``.
        last_activation: apply ``activation`` after the last micro-MLP layer too (Eq. 8: every layer,
            h_i = σ(w_{i-1} ⊗ h_{i-1} + b_{i-1}), i = 1, …, L); ``False``: h_L has no σ, as in the official code.
        orders: C, feed orders 1..C (Eq. 11; CAN uses 3).
        order_combine: ``"sum"`` (Eq. 11, Σ_{c=1}^{C} H(P_induction, (P_feed)^c): the width stays Σ layers[1:]) or
            ``"concat"`` (the official code's: C times wider, order 1's h_1 ‖ … ‖ h_L first, then order 2's, …;
            keeps the orders apart for the DNN — useful to see what each order contributes).
        parameter_independence, combination_independence, order_independence: Sec. 4.4 (module doc).
        init_std: std of the Gaussian init of the induction and feed tables (CAN Sec. 5.1: 0.01).
    """

    layers: tuple[int, ...] = (16, 8, 4)
    bias: bool = True
    activation: Literal["tanh", "none"] = "tanh"
    last_activation: bool = True
    orders: int = 3
    order_combine: Literal["sum", "concat"] = "sum"
    parameter_independence: bool = True
    combination_independence: bool = False
    order_independence: bool = False
    init_std: float = 0.01

    def __post_init__(self) -> None:
        if len(self.layers) < 2 or any(not isinstance(w, int) or w < 1 for w in self.layers):
            raise ValueError(f"CoActionConfig.layers needs the feed dim and >= 1 layer width, all >= 1 ints, "
                             f"got {self.layers!r}")
        if self.activation not in ("tanh", "none"):
            raise ValueError(f"CoActionConfig.activation must be 'tanh' or 'none', got {self.activation!r}")
        if not isinstance(self.last_activation, bool):
            raise ValueError(f"CoActionConfig.last_activation must be True or False, got {self.last_activation!r}")
        if not isinstance(self.orders, int) or self.orders < 1:
            raise ValueError(f"CoActionConfig.orders must be an int >= 1, got {self.orders!r}")
        if self.order_combine not in ("sum", "concat"):
            raise ValueError(f"CoActionConfig.order_combine must be 'sum' or 'concat', got {self.order_combine!r}")
        if not self.init_std > 0:
            raise ValueError(f"CoActionConfig.init_std must be > 0, got {self.init_std!r}")

    @property
    def induction_dim(self) -> int:
        """D' = Σ_i |w_i| + |b_i| (Eq. 6), per order when order independence is on."""
        dims = zip(self.layers[:-1], self.layers[1:], strict=True)
        return sum(i * o + (o if self.bias else 0) for i, o in dims)

    @property
    def out_dim(self) -> int:
        """Width of one pair's output: Σ layers[1:] (Eq. 9), times C when orders are concatenated."""
        return sum(self.layers[1:]) * (self.orders if self.order_combine == "concat" else 1)

    def activates(self, layer: int) -> bool:
        """Whether ``activation`` follows micro-MLP layer ``layer`` (0-based): every layer, or all but the last
        without ``last_activation``."""
        return self.last_activation or layer < len(self.layers) - 2


@dataclass(frozen=True, eq=False)
class CoActionExplanation:
    """What :meth:`CoAction.explain` returns: one induction id × one feed id of a pair, step by step (Eq. 5–11).

    Attributes:
        pair, induction_id, feed_id, order: what was asked (``pair`` as the unit names it).
        induction_vector: ``P_induction`` (D'·C_w,), the whole row: per order table, every layer's w then b.
        weights: order ``order``'s micro-MLP weights w_i, L tensors (d_in, d_out) (Eq. 5–6).
        biases: its biases b_i, L tensors (d_out,), or ``None`` without ``bias``.
        feed_vector: ``P_feed`` (D,).
        inputs: h_0 = ``P_feed`` ** ``order`` (D,), what the micro-MLP of that order reads (Eq. 11).
        outputs: h_1 … h_L of that order, L tensors (d_out,): h_i = σ(h_{i-1} w_i + b_i) (Eq. 7–8), no σ on h_L
            without ``last_activation``.
        output: F(u, m), all orders combined (sum or concat), (O,) (Eq. 9, 11), from the micro-MLP above.
        unit_output: the same (O,) from the unit's batched path (:meth:`CoAction.per_position`).
    """

    pair: str
    induction_id: int
    feed_id: int
    order: int
    induction_vector: Tensor
    weights: tuple[Tensor, ...]
    biases: tuple[Tensor, ...] | None
    feed_vector: Tensor
    inputs: Tensor
    outputs: tuple[Tensor, ...]
    output: Tensor
    unit_output: Tensor


class CoAction(nn.Module):
    """Co-action outputs of several induction × feed pairs at once.

    Args:
        schema: the dataset's fields; induction fields must be sparse, feed fields any categorical kind.
        pairs: the pairs to compute (default: ``schema.pairs``).
        config: :class:`CoActionConfig`.
        main_embedding: the model's main embedding; required when ``parameter_independence`` is off.

    Shape:
        - :meth:`forward`: Batch of B rows → (B, P, O) with O = ``config.out_dim``
        - :meth:`per_position`: pair name ``"induction×feed"`` → (B, T, O), padding positions zero

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("item", "sparse", vocab_size=5),
        ...             Field("hist", "sequence", vocab="item", vocab_size=5, max_len=3)), (Pair("item", "hist"),))
        >>> unit = CoAction(s, config=CoActionConfig(layers=(4, 2), orders=2))
        >>> b = Batch(torch.tensor([[2], [3]]), torch.zeros(2, 0), {"hist": torch.tensor([[2, 4, 0], [0, 0, 0]])},
        ...           torch.zeros(2))
        >>> out = unit(b)
        >>> out.shape, bool(out[1].abs().sum() == 0)      # (B, P, O); an empty history gives 0
        (torch.Size([2, 1, 2]), True)
    """

    def __init__(self, schema: Schema, pairs: tuple[Pair, ...] | None = None,
                 config: CoActionConfig | None = None, main_embedding: FieldEmbedding | None = None) -> None:
        super().__init__()
        cfg = self.config = config or CoActionConfig()
        pairs = tuple(schema.pairs if pairs is None else pairs)
        if not pairs:
            raise ValueError("CoAction needs at least one induction × feed pair: set Schema.pairs or pass pairs=")
        for p in pairs:
            if p.induction not in schema or schema[p.induction].kind != "sparse":
                raise ValueError(f"co-action pair {p}: the induction field must be a sparse field of the schema")
            if p.feed not in schema or schema[p.feed].kind == "dense":
                raise ValueError(f"co-action pair {p}: the feed field must be a categorical field of the schema")
        if not cfg.parameter_independence and (main_embedding is None or main_embedding.dim != cfg.layers[0]):
            raise ValueError("CoActionConfig.parameter_independence=False shares the main embedding as the feed: "
                             f"pass main_embedding with dim == layers[0] ({cfg.layers[0]})")
        self.schema, self.pairs = schema, pairs
        self.names = tuple(f"{p.induction}×{p.feed}" for p in pairs)
        self.main_embedding = None if cfg.parameter_independence else main_embedding

        def table_rows(side: str) -> tuple[list[int], int]:
            """Row offset of each pair's table on one side, sharing a table per vocabulary unless independent."""
            offsets, keys, total = [], {}, 0
            for k, p in enumerate(pairs):
                f = schema[getattr(p, side)]
                key = k if cfg.combination_independence else f.table
                if key not in keys:
                    keys[key] = total
                    total += f.vocab_size
                offsets.append(keys[key])
            return offsets, total

        ind_off, ind_rows = table_rows("induction")
        self.order_tables = cfg.orders if cfg.order_independence else 1
        self.induction = nn.Embedding(ind_rows, cfg.induction_dim * self.order_tables)  # rows × (D'·C_w)
        nn.init.normal_(self.induction.weight, std=cfg.init_std)
        self.register_buffer("ind_offsets", torch.tensor(ind_off), persistent=False)
        self.register_buffer("ind_cols", torch.tensor([schema.sparse_names.index(p.induction) for p in pairs]),
                             persistent=False)
        if cfg.parameter_independence:
            feed_off, feed_rows = table_rows("feed")
            self.feed = nn.Embedding(feed_rows, cfg.layers[0])
            nn.init.normal_(self.feed.weight, std=cfg.init_std)
        else:
            feed_off = [main_embedding.table_offsets[schema[p.feed].table] for p in pairs]
        # Feed ids come from one (B, F_s + ΣT) matrix: sparse columns, then every sequence field's positions.
        starts, col = {n: j for j, n in enumerate(schema.sparse_names)}, len(schema.sparse_names)
        for n in schema.seq_names:
            starts[n], col = col, col + schema[n].max_len
        lengths = [schema[p.feed].max_len or 1 for p in pairs]
        self.buckets = sorted(set(lengths))
        order = []
        for i, t in enumerate(self.buckets):
            ks = [k for k in range(len(pairs)) if lengths[k] == t]
            order += ks
            self.register_buffer(f"cols_{i}", torch.tensor([starts[pairs[k].feed] + j for k in ks for j in range(t)]),
                                 persistent=False)                          # (P_b·T,)
            self.register_buffer(f"pairs_{i}", torch.tensor(ks), persistent=False)
            self.register_buffer(f"feed_off_{i}", torch.tensor([feed_off[k] for k in ks]), persistent=False)
        self.register_buffer("unsort", torch.argsort(torch.tensor(order)), persistent=False)
        self.act = nn.Tanh() if cfg.activation == "tanh" else nn.Identity()

    def _feed_table(self) -> nn.Embedding:
        return self.feed if self.main_embedding is None else self.main_embedding.table

    def _bucket(self, i: int, all_ids: Tensor, w_all: Tensor) -> tuple[Tensor, Tensor]:
        """Unit outputs of bucket i, per position: (B, P_b, T, O) and the mask (B, P_b, T)."""
        cfg, t = self.config, self.buckets[i]
        cols, ks = getattr(self, f"cols_{i}"), getattr(self, f"pairs_{i}")
        B, P = all_ids.shape[0], ks.numel()
        ids = all_ids[:, cols].view(B, P, t)                                   # (B, P_b, T)
        mask = ids != PAD_ID                                                   # (B, P_b, T)
        h = self._feed_table()(ids + getattr(self, f"feed_off_{i}")[:, None])  # (B, P_b, T, D)
        C = cfg.orders
        h = h.unsqueeze(2).expand(B, P, C, t, h.shape[-1]).cumprod(2)          # (B, P_b, C, T, D): h, h², …, h^C
        w = w_all[:, ks].view(B, P, self.order_tables, -1)                      # (B, P_b, C_w, D')
        w = w.expand(B, P, C, w.shape[-1])                                      # (B, P_b, C, D') a view
        outs, pos = [], 0
        for li, (d_in, d_out) in enumerate(zip(cfg.layers[:-1], cfg.layers[1:], strict=True)):   # L layers
            weight = w[..., pos:pos + d_in * d_out].unflatten(-1, (d_in, d_out))  # (B, P_b, C, d_in, d_out)
            pos += d_in * d_out
            # b: batch, p: pair, c: order, t: position, i: layer input, o: layer output
            h = torch.einsum("bpcti,bpcio->bpcto", h, weight)                   # (B, P_b, C, T, d_out)
            if cfg.bias:
                h = h + w[..., pos:pos + d_out].unsqueeze(3)                    # (B, P_b, C, T, d_out)
                pos += d_out
            if cfg.activates(li):
                h = self.act(h)
            outs.append(h)
        out = torch.cat(outs, -1)                                               # (B, P_b, C, T, Σd_out) Eq. 9
        out = out.sum(2) if cfg.order_combine == "sum" else out.transpose(2, 3).flatten(3)  # (B, P_b, T, O)
        return out * mask.unsqueeze(-1).to(out.dtype), mask                     # padding zeroed

    def _pair_index(self, pair: int | str) -> int:
        if isinstance(pair, str):
            if pair not in self.names:
                raise ValueError(f"unknown co-action pair {pair!r}; pairs: {list(self.names)}")
            return self.names.index(pair)
        if not 0 <= pair < len(self.pairs):
            raise ValueError(f"pair index {pair} out of range 0..{len(self.pairs) - 1}")
        return pair

    def micro_mlp(self, pair: int | str, ids: Tensor) -> list[tuple[Tensor, Tensor | None]]:
        """The micro-MLP that induction ids set up for ``pair`` (Eq. 5–6): P_induction split into layers.

        Args:
            pair: index or name (``"item×hist_item"``) of the pair.
            ids: (N,) ids of the pair's induction field (schema ids: 2 = the first value).

        Returns:
            one ``(weight (N, C_w, d_in, d_out), bias (N, C_w, d_out) or None)`` per layer, where C_w is the
            number of orders with their own parameters (C with order independence, else 1). The feed vector
            h of order c runs through them as ``h ← act(h @ weight + bias)`` (no act after the last layer without
            ``last_activation``).

        Example:
            >>> from ctrviz.data.schema import Field
            >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=4)), (Pair("a", "b"),))
            >>> unit = CoAction(s, config=CoActionConfig(layers=(4, 3, 2)))
            >>> [(tuple(w.shape), tuple(b.shape)) for w, b in unit.micro_mlp("a×b", torch.tensor([2]))]
            [((1, 1, 4, 3), (1, 1, 3)), ((1, 1, 3, 2), (1, 1, 2))]
        """
        k, cfg = self._pair_index(pair), self.config
        w = self.induction(ids + self.ind_offsets[k]).view(len(ids), self.order_tables, -1)   # (N, C_w, D')
        layers, pos = [], 0
        for d_in, d_out in zip(cfg.layers[:-1], cfg.layers[1:], strict=True):
            weight = w[..., pos:pos + d_in * d_out].unflatten(-1, (d_in, d_out))           # (N, C_w, d_in, d_out)
            pos += d_in * d_out
            bias = w[..., pos:pos + d_out] if cfg.bias else None                           # (N, C_w, d_out)
            pos += d_out if cfg.bias else 0
            layers.append((weight, bias))
        return layers

    def feed_vectors(self, pair: int | str, ids: Tensor) -> Tensor:
        """P_feed of ids of ``pair``'s feed field (its own table, or the main embedding's without parameter
        independence): (N,) → (N, D)."""
        k = self._pair_index(pair)
        i = next(i for i in range(len(self.buckets)) if k in getattr(self, f"pairs_{i}").tolist())
        j = getattr(self, f"pairs_{i}").tolist().index(k)
        return self._feed_table()(ids + getattr(self, f"feed_off_{i}")[j])              # (N, D)

    def _inputs(self, batch: Batch) -> tuple[Tensor, Tensor]:
        seqs = [batch.seqs[n] for n in self.schema.seq_names]
        all_ids = torch.cat([batch.sparse, *seqs], 1)                           # (B, F_s + ΣT)
        ind = batch.sparse[:, self.ind_cols] + self.ind_offsets                 # (B, P)
        return all_ids, self.induction(ind)                                     # (B, P, D'·C_w)

    def forward(self, batch: Batch) -> Tensor:
        """Pooled co-action output of every pair (Eq. 9–11): (B, P, O)."""
        all_ids, w_all = self._inputs(batch)
        pooled = [self._bucket(i, all_ids, w_all)[0].sum(2) for i in range(len(self.buckets))]  # (B, P_b, O)
        return torch.cat(pooled, 1)[:, self.unsort]                             # (B, P, O) in pair order

    @torch.no_grad()
    def per_position(self, batch: Batch) -> dict[str, Tensor]:
        """Each pair's output before pooling: ``"induction×feed"`` → (B, T, O), zero at padding (T = 1 for a
        single-id feed). Summing over T gives :meth:`forward`'s row for that pair."""
        all_ids, w_all = self._inputs(batch)
        result = {}
        for i in range(len(self.buckets)):
            out, _ = self._bucket(i, all_ids, w_all)                            # (B, P_b, T, O)
            for j, k in enumerate(getattr(self, f"pairs_{i}").tolist()):
                result[self.names[k]] = out[:, j]                               # (B, T, O)
        return {n: result[n] for n in self.names}

    @torch.no_grad()
    def explain(self, pair: int | str, induction_id: int, feed_id: int, order: int = 1) -> CoActionExplanation:
        """One induction id × one feed id of ``pair``, step by step (Eq. 5–11): the micro-MLP that ``P_induction``
        becomes, ``P_feed`` run through it, each layer's output, and the unit's own output for the two ids.

        The micro-MLP is run here one vector at a time, as the equations read; ``unit_output`` comes from the
        batched path (:meth:`per_position` of a one-row batch holding the two ids, every other column padding).
        The two agree (``output`` vs ``unit_output``, float rounding apart), and so does :meth:`forward`.

        Args:
            pair: index or name (``"item×hist_item"``, as :attr:`names`) of the pair.
            induction_id: an id of the pair's induction field, in [0, vocab_size).
            feed_id: an id of the pair's feed field, in [1, vocab_size) (0 is padding: the unit outputs zero).
            order: the feed order c (1 … C) whose weights, input and layer outputs are returned (Eq. 11).

        Returns:
            :class:`CoActionExplanation` (tensors detached, on the unit's device).

        Example:
            >>> from ctrviz.data.schema import Field
            >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=5)), (Pair("a", "b"),))
            >>> unit = CoAction(s, config=CoActionConfig(layers=(4, 3, 2), orders=2))
            >>> e = unit.explain("a×b", induction_id=2, feed_id=3, order=2)
            >>> [tuple(w.shape) for w in e.weights], [tuple(b.shape) for b in e.biases], tuple(e.induction_vector.shape)
            ([(4, 3), (3, 2)], [(3,), (2,)], (23,))
            >>> torch.equal(e.inputs, e.feed_vector ** 2), [tuple(h.shape) for h in e.outputs], tuple(e.output.shape)
            (True, [(3,), (2,)], (5,))
            >>> torch.allclose(e.output, e.unit_output, atol=1e-7)     # the batched unit agrees
            True
        """
        k, cfg = self._pair_index(pair), self.config
        p = self.pairs[k]
        for name, value, side, low in (("induction_id", induction_id, p.induction, 0),
                                       ("feed_id", feed_id, p.feed, PAD_ID + 1)):
            vocab = self.schema[side].vocab_size
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value < vocab:
                raise ValueError(f"CoAction.explain: {name} of field {side!r} must be an int in [{low}, {vocab}), "
                                 f"got {value!r}")
        if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= cfg.orders:
            raise ValueError(f"CoAction.explain: order must be an int in [1, {cfg.orders}], got {order!r}")
        device = self.induction.weight.device
        ind = torch.tensor([induction_id], device=device)
        vector = self.induction(ind + self.ind_offsets[k])[0]                  # (D'·C_w,) P_induction
        layers = self.micro_mlp(k, ind)                                        # L × ((1, C_w, d_in, d_out), bias)
        p_feed = self.feed_vectors(k, torch.tensor([feed_id], device=device))[0]   # (D,)
        runs = []
        for c in range(1, cfg.orders + 1):
            t = c - 1 if self.order_tables > 1 else 0                          # order c's own table, or the one
            h, outs = p_feed ** c, []                                          # (D,) h_0 = P_feed^c (Eq. 11)
            for li, (weight, bias) in enumerate(layers):
                h = h @ weight[0, t]                                           # (d_in,) → (d_out,)
                if bias is not None:
                    h = h + bias[0, t]
                h = self.act(h) if cfg.activates(li) else h                    # h_i (Eq. 7–8)
                outs.append(h)
            runs.append(outs)
        blocks = [torch.cat(outs) for outs in runs]                            # C × (Σ d_out,) Eq. 9
        output = torch.stack(blocks).sum(0) if cfg.order_combine == "sum" else torch.cat(blocks)  # (O,)
        # the batched path: a one-row batch holding the two ids (feed at position 0), everything else padding
        schema = self.schema
        sparse = torch.full((1, len(schema.sparse_names)), PAD_ID, dtype=torch.long, device=device)
        seqs = {n: torch.full((1, schema[n].max_len), PAD_ID, dtype=torch.long, device=device)
                for n in schema.seq_names}
        sparse[0, schema.sparse_names.index(p.induction)] = induction_id
        if p.feed in seqs:
            seqs[p.feed][0, 0] = feed_id
        else:
            sparse[0, schema.sparse_names.index(p.feed)] = feed_id
        batch = Batch(sparse, torch.zeros(1, len(schema.dense_names), device=device), seqs,
                      torch.zeros(1, device=device))
        unit_output = self.per_position(batch)[self.names[k]][0, 0]            # (O,)
        t = order - 1 if self.order_tables > 1 else 0
        return CoActionExplanation(
            pair=self.names[k], induction_id=induction_id, feed_id=feed_id, order=order,
            induction_vector=vector.detach(), weights=tuple(w[0, t].detach() for w, _ in layers),
            biases=None if not cfg.bias else tuple(b[0, t].detach() for _, b in layers),
            feed_vector=p_feed.detach(), inputs=(p_feed ** order).detach(),
            outputs=tuple(h.detach() for h in runs[order - 1]), output=output.detach(),
            unit_output=unit_output.detach())


_OPTION_OF = {"layers": "micro_layers", "bias": "micro_bias", "activation": "micro_activation",
              "last_activation": "micro_last_activation",
              "init_std": "coaction_init_std"}       # CoActionConfig field → the option that sets it


@dataclass(frozen=True)
class CoActionOptions(Config):
    """The part ``coaction`` of a model config: the co-action fields shared by CAN's configs (CAN, CAN + Cartesian,
    CAN-DIEN).

    Args:
        pairs: induction × feed pairs as ``(("item", "hist_item"), …)``; ``None`` = the schema's pairs.
        micro_layers … order_independence, coaction_init_std: the :class:`CoActionConfig` fields
            (``micro_last_activation`` is its ``last_activation``).
    """

    part: ClassVar[str] = "coaction"
    pairs: tuple[tuple[str, str], ...] | None = None
    micro_layers: tuple[int, ...] = (16, 8, 4)
    micro_bias: bool = True
    micro_activation: Literal["tanh", "none"] = "tanh"
    micro_last_activation: bool = True
    orders: int = 3
    order_combine: Literal["sum", "concat"] = "sum"
    parameter_independence: bool = True
    combination_independence: bool = False
    order_independence: bool = False
    coaction_init_std: float = 0.01

    def __post_init__(self) -> None:
        """The co-action fields checked by building the unit's config (a ValueError naming the field), after every
        field's type (the base checks run first here, so the unit's checks see the types they expect)."""
        Config.__post_init__(self)
        try:
            self.coaction()
        except ValueError as e:                       # name this config's field, not CoActionConfig's
            field = str(e).split(" ", 1)[0].removeprefix("CoActionConfig.")
            option = _OPTION_OF.get(field, field)
            raise ValueError(f"{type(self).__name__}.{option}: {e}") from None
        super().__post_init__()

    def coaction(self) -> CoActionConfig:
        """The co-action unit's part of this config."""
        return CoActionConfig(
            layers=self.micro_layers, bias=self.micro_bias, activation=self.micro_activation,
            last_activation=self.micro_last_activation, orders=self.orders, order_combine=self.order_combine,
            parameter_independence=self.parameter_independence, combination_independence=self.combination_independence,
            order_independence=self.order_independence, init_std=self.coaction_init_std)

    def coaction_pairs(self) -> tuple[Pair, ...] | None:
        return None if self.pairs is None else tuple(Pair(*p) for p in self.pairs)
