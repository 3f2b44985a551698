"""Attentional Factorization Machine (AFM): pair-wise Hadamard products, pooled with learned attention.

Reference: J. Xiao, H. Ye, X. He, H. Zhang, F. Wu, T.-S. Chua, "Attentional Factorization Machines: Learning
the Weight of Feature Interactions via Attention Networks", IJCAI 2017 (arXiv:1708.04617). The ``AFM`` row of
the AOANet paper's Tables 3–4 (AOANet ref. [20]; attention factor t = 3 on Criteo, 5 on Private). AOANet's
Table 1 and Lemma A.5: with W = diag(α, …, α), α = MLP(e_i ⊙ e_j) and fusion O = [Z_11, …, Z_dd]ᵀ the
generalized interaction ``Z = (e_i ⊗ e_j) ⊙ W`` is α (e_i ⊙ e_j) — AFM's attended pair vector; the final
``pᵀ Σ`` is AOANet's fusion ``P = hᵀ Σ α Z`` (Eq. 42) with h = p ("AFM learns α through the attention
mechanism on the basis of NFM", Sec. 3.4).

Equations (Xiao et al. Sec. 3; e_f the embedding of field f, P = F(F-1)/2 pairs in ``field_pairs`` order):

    z_ij   = e_i ⊙ e_j                                        pair-wise interaction layer   (B, P, D)
    a'_ij  = hᵀ ReLU(W z_ij + b)                             attention net, W (t, D), b (t,), h (t,)
    α_ij   = softmax over the P pairs of a'_ij                                              (B, P)
    logit  = b_0 + Σ_f w_f + pᵀ Σ_{i<j} α_ij z_ij              p (D,)
             + MLP([e_1; …; e_F])                             (the deep part, ``AFMConfig.deep``)

Public pieces: :func:`pair_products` (z), :class:`AFMLayer` — ``scores`` (a'), ``attention`` (α, for
interpretation: which field pairs the model attends to, named by :meth:`AFM.pair_names`), ``forward``
(the pooled vector Σ α z, (B, D), the literal path) and ``project`` (pᵀ Σ α z without building z: what
:class:`AFM` trains with, about 2× faster forward + backward); ``AFM.p`` is the projection. AOANet's
Lemma A.5 writes α = MLP(z) and leaves out AFM's softmax over the pairs: that MLP is ``scores``,
``attention`` adds the softmax.

Deep part: AOANet gives every baseline the same deep component (Sec. 4.1, 512-256-64 ReLU), so
``deep=True`` (default) adds an MLP on the concatenated embeddings in parallel; ``AFMConfig(deep=False)``
is Xiao et al.'s shallow AFM.

Initialisation: W Xavier-normal, b = 0, h Xavier-normal, p = 1 (an untrained AFM's pairwise term is an
attention-weighted mean of the FM inner products ⟨e_i, e_j⟩).

Deviations from the paper: no dropout on the pair-wise layer and no separate L2 on W (use the trainer's
``weight_decay``); the linear term is :class:`~ctrviz.nn.linear.Linear`; sequence/multi fields are one pooled
field each, so no pair lies inside a field.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import MLP, FieldEmbedding
from ctrviz.nn.config import DeepConfig
from ctrviz.nn.gin import GINForm
from ctrviz.nn.linear import Linear
from ctrviz.nn.mlp import Activation
from ctrviz.nn.pairs import check_pairwise, field_pairs


def pair_products(e: Tensor) -> Tensor:
    """The Hadamard products e_i ⊙ e_j of every pair i < j (AFM's / NFM's pair-wise interaction layer).

    Shape:
        (B, F, D) → (B, P, D), P = F(F-1)/2 in :func:`~ctrviz.nn.pairs.field_pairs` order.
        ``.sum(-1)`` is :func:`~ctrviz.nn.pairs.inner_product_layer`, ``.sum(1)`` is NFM's Bi-interaction.

    Example:
        >>> pair_products(torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])).tolist()   # (0,1), (0,2), (1,2)
        [[[3.0, 8.0], [5.0, 12.0], [15.0, 24.0]]]
    """
    F = e.shape[1]
    # row i's pairs (i, i+1..F-1) from slices: ~3x faster forward + backward than gathering e[:, rows] on CPU
    return torch.cat([e[:, i:i + 1] * e[:, i + 1:] for i in range(F - 1)], 1) if F > 1 \
        else e[:, :0]                                             # (B, P, D)


class AFMLayer(nn.Module):
    """AFM's attention-based pooling of the pair-wise Hadamard products.

    Args:
        dim: D, the embedding width.
        attention_factor: t, the attention net's hidden width (AOANet Table 4: 3 on Criteo).

    Attributes:
        attention_net: ``nn.Linear(D, t)``: ``weight`` is W (t, D), ``bias`` is b (t,).
        h: (t,) parameter, the attention net's output vector.

    Shape:
        (B, F, D) → (B, D): Σ_{i<j} α_ij (e_i ⊙ e_j). :meth:`attention` gives α (B, P).

    Example:
        >>> layer = AFMLayer(dim=2, attention_factor=3)
        >>> with torch.no_grad():
        ...     _ = layer.h.zero_()                       # every score 0 → uniform α = 1/P
        >>> e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])
        >>> torch.allclose(layer.attention(e), torch.full((1, 3), 1 / 3))   # (B, P)
        True
        >>> [round(x, 4) for x in layer(e)[0].tolist()]   # mean of [3, 8], [5, 12], [15, 24]
        [7.6667, 14.6667]
    """

    def __init__(self, dim: int, attention_factor: int) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"AFMLayer.dim must be >= 1, got {dim}")
        if attention_factor < 1:
            raise ValueError(f"AFMLayer.attention_factor must be >= 1, got {attention_factor}")
        self.dim, self.attention_factor = dim, attention_factor
        self.attention_net = nn.Linear(dim, attention_factor)   # W (t, D), b (t,)
        self.h = nn.Parameter(torch.empty(attention_factor))     # (t,)
        nn.init.xavier_normal_(self.attention_net.weight)
        nn.init.zeros_(self.attention_net.bias)
        nn.init.normal_(self.h, std=(2.0 / (attention_factor + 1)) ** 0.5)   # Xavier-normal of a (t, 1) matrix

    def scores(self, z: Tensor) -> Tensor:
        """Unnormalised attention a'_ij = hᵀ ReLU(W z_ij + b) of pair products ``z``: (B, P, D) → (B, P)."""
        hidden = torch.relu(self.attention_net(z))               # (B, P, t)
        # a[b, p] = Σ_t hidden[b, p, t] · h[t]
        return torch.einsum("bpt,t->bp", hidden, self.h)          # (B, P)

    def attention(self, e: Tensor) -> Tensor:
        """α_ij = softmax over pairs of :meth:`scores`: (B, F, D) → (B, P), each row sums to 1."""
        return torch.softmax(self.scores(pair_products(e)), dim=1)   # (B, P, D) → (B, P)

    def forward(self, e: Tensor) -> Tensor:
        z = pair_products(e)                                      # (B, P, D)
        alpha = torch.softmax(self.scores(z), dim=1)              # (B, P)
        # pooled[b, d] = Σ_p α[b, p] · z[b, p, d]
        return torch.einsum("bp,bpd->bd", alpha, z)               # (B, D)

    def as_gin(self, e: Tensor) -> GINForm:
        """This layer on input ``e`` as GIN (AOANet Table 2 row AFM): one subspace, W = I, h = 1 and α_uv = a_uv,
        the :meth:`attention` of pair u < v in each row — input-dependent: P = Σ_{u<v} a_uv (e_u ⊙ e_v) = ``self(e)``.

        ``.per_pair()`` of it puts a into W instead, W = diag(a_uv, …, a_uv) per pair and row: Lemma A.5 (Table 1).

        Args:
            e: (B, F, D) field embeddings.

        Shape:
            weight (1, D, D), h (1, D), alpha (B, 1, F, F)

        Example:
            >>> layer = AFMLayer(dim=2, attention_factor=3)
            >>> e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])
            >>> form = layer.as_gin(e)
            >>> form.alpha.shape, form.input_dependent
            (torch.Size([1, 1, 3, 3]), True)
            >>> torch.allclose(form.fuse(e, e)[:, 0], layer(e))
            True
        """
        B, F, D = e.shape
        a = self.attention(e).detach()                            # (B, P)
        rows, cols = torch.triu_indices(F, F, 1, device=e.device)  # pairs i < j, field_pairs order
        alpha = a.new_zeros(B, 1, F, F)
        alpha[:, 0, rows, cols] = a                               # (B, 1, F, F): α_uv = a_uv per row
        eye = torch.eye(D, dtype=a.dtype, device=a.device)
        return GINForm(eye[None], a.new_ones(1, D), alpha, "upper", input_dependent=True)

    def project(self, e: Tensor, p: Tensor) -> Tensor:
        """pᵀ ``forward(e)`` = Σ_{i<j} α_ij pᵀ(e_i ⊙ e_j), without building the pair products: (B, F, D), (D,) → (B,).

        Everything AFM takes from a pair is a weighted inner product ⟨e_i ⊙ w, e_j⟩: W z_ij + b is t of them
        (w = a row of W) and pᵀ z_ij one more (w = p). One batched product E diag(w) Eᵀ per w gives them for
        every pair at once: (t + 1)·F² numbers per row instead of P·D products plus P·t hidden units, and
        matrix products instead of a pass of element-wise products. Equal to the literal path up to float
        rounding (``tests/test_baselines_aoanet_fm.py``); :class:`AFM` trains through it.
        """
        F = e.shape[1]
        w = torch.cat([self.attention_net.weight, p[None]], 0)                  # (t + 1, D)
        # g[b, k, i, j] = Σ_d e[b, i, d] · w[k, d] · e[b, j, d]
        g = torch.matmul(e[:, None] * w[:, None], e.transpose(1, 2)[:, None])  # (B, t + 1, F, F)
        rows, cols = torch.triu_indices(F, F, 1, device=e.device)               # pairs i < j, field_pairs order
        g = g.flatten(2)[:, :, rows * F + cols]                                 # (B, t + 1, P)
        hidden = torch.relu(g[:, :-1] + self.attention_net.bias[:, None])      # (B, t, P): ReLU(W z_ij + b)
        # a[b, p] = Σ_t h[t] · hidden[b, t, p]
        alpha = torch.softmax(torch.einsum("btp,t->bp", hidden, self.h), dim=1)   # (B, P)
        return (alpha * g[:, -1]).sum(1)                                        # (B,): Σ_p α_p · pᵀ z_p


@dataclass(frozen=True)
class AFMConfig(DeepConfig):
    """:class:`~ctrviz.nn.config.DeepConfig`'s fields with AOANet's defaults (embed_dim D = 16; hidden
    512-256-64, ReLU, dropout, batch_norm of the deep part; pooling) plus ``attention_factor`` t (AOANet
    Table 4, Criteo: 3) and ``deep``: add the parallel MLP (``False``: Xiao et al.'s AFM, MLP fields unused)."""

    hidden: tuple[int, ...] = (512, 256, 64)
    activation: Activation = "relu"
    attention_factor: int = 3
    deep: bool = True

    def __post_init__(self) -> None:
        a = self.attention_factor
        if not isinstance(a, int) or isinstance(a, bool) or a < 1:
            raise ValueError(f"{type(self).__name__}.attention_factor must be >= 1, got {a!r}")
        super().__post_init__()


@register("afm", AFMConfig, "FM's pair products pooled by an attention net (+ parallel DNN)",
          "Xiao et al., IJCAI 2017")
class AFM(nn.Module):
    """AFM: LR + pᵀ Σ_{i<j} α_ij (e_i ⊙ e_j) (+ MLP(e_1 ⊕ … ⊕ e_F) when ``config.deep``).

    Args:
        schema: the dataset's fields (at least two).
        config: :class:`AFMConfig`.

    Attributes:
        linear: :class:`~ctrviz.nn.linear.Linear`. embedding: :class:`~ctrviz.nn.FieldEmbedding` (B, F, D).
        afm: :class:`AFMLayer`. p: (D,) projection of the pooled vector. mlp: the deep part, or ``None``.

    Shape:
        Batch of B rows → logits (B,); :meth:`attention` → (B, P).

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema(tuple(Field(n, "sparse", vocab_size=4) for n in "abc"))
        >>> m = AFM(s, AFMConfig(embed_dim=2, attention_factor=3, deep=False))
        >>> b = Batch(torch.tensor([[1, 2, 3]]), torch.zeros(1, 0), {}, torch.ones(1))
        >>> m(b).shape, m.attention(b).shape, m.pair_names()[0]
        (torch.Size([1]), torch.Size([1, 3]), ('a', 'b'))
    """

    def __init__(self, schema: Schema, config: AFMConfig) -> None:
        super().__init__()
        check_pairwise(schema, config.embed_dim, type(config).__name__)
        self.config = config
        self.linear = Linear(schema, config.pooling)
        self.embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)
        self.afm = AFMLayer(config.embed_dim, config.attention_factor)
        self.p = nn.Parameter(torch.ones(config.embed_dim))      # (D,)
        self.mlp = (MLP(self.embedding.num_fields * config.embed_dim, tuple(config.hidden), config.activation,
                        config.dropout, config.batch_norm, out_dim=1) if config.deep else None)

    def pair_names(self) -> tuple[tuple[str, str], ...]:
        """Names of the P field pairs, in the order of :meth:`attention`'s columns."""
        return field_pairs(self.embedding.field_names())

    def attention(self, batch: Batch) -> Tensor:
        """The attention weights α_ij of every row: (B, P), rows sum to 1."""
        return self.afm.attention(self.embedding(batch))          # (B, F, D) → (B, P)

    def parts(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """The logit terms, each (B,): linear, pᵀ Σ α_ij (e_i ⊙ e_j), and the deep part (0 without one)."""
        e = self.embedding(batch)                                 # (B, F, D)
        pairwise = self.afm.project(e, self.p)                    # (B,) = pᵀ afm(e), the fast path
        deep = torch.zeros_like(pairwise)                         # (B,)
        if self.mlp is not None:
            deep = self.mlp(e.flatten(1)).squeeze(-1)             # (B, F·D) → (B, 1) → (B,)
        return self.linear(batch), pairwise, deep                 # (B,), (B,), (B,)

    def forward(self, batch: Batch) -> Tensor:
        linear, pairwise, deep = self.parts(batch)                # (B,) each
        return linear + pairwise + deep                           # (B,)
