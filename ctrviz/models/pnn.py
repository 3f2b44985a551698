"""Product-based Neural Networks: IPNN (pairwise inner products) and OPNN (pairwise outer products).

Reference: Y. Qu, H. Cai, K. Ren, W. Zhang, Y. Yu, Y. Wen, J. Wang, "Product-based Neural Networks for
User Response Prediction", ICDM 2016 (arXiv:1611.00144). The ``PNN`` row of the CAN paper's Tables 3–4
(CAN refs. [14, 15]) and the ``IPNN``/``OPNN`` rows of AOANet's Table 3; AOANet's Tables 1–2 and Lemmas
A.1 / A.3 write both as special cases of the generalized interaction ``Z = (u ⊗ v) ⊙ W`` (W = I and
summing diag Z: inner product; W = all ones: outer product).

Equations (Qu et al. Sec. III; A ⊙ B = Σ_{kl} A_kl B_kl, f_i the embedding of field i):

    l_1 = act(l_z + l_p + b_1),   l_z^n = W_z^n ⊙ z,   l_p^n = W_p^n ⊙ p
    z = (f_1, …, f_F)                                   the "linear signal", (B, F·D)
    IPNN: p_ij = ⟨f_i, f_j⟩                              (B, P)
    OPNN: p_ij = f_i f_jᵀ (D × D);  superposition trick p = Σ_i Σ_j f_i f_jᵀ = f_Σ f_Σᵀ, f_Σ = Σ_i f_i

then more ``act(W l + b)`` layers and ŷ = σ(w_outᵀ l_L + b). Here one ``nn.Linear`` reading
``cat[z, p]`` is l_z + l_p + b_1 (the first layer of ``self.mlp``). Pairs i < j, in ``field_pairs`` order.

OPNN kernels (:class:`OuterProductLayer`, ``OPNNConfig.kernel``):

- ``"mat"`` (default): a learned D×D kernel per pair, ``kernel`` (P, D, D), p_ij = ⟨f_i f_jᵀ, K_ij⟩ =
  f_iᵀ K_ij f_j → (B, P): the paper's W_p^n with W_p^{n,ij} = w_{n,ij} K_ij. It is the default of the
  authors' released code (github.com/Atomu2014/product-nets, ``kernel_type='mat'``; DeepCTR's
  ``OutterProductLayer`` copies it), whose README notes that ``u vᵀ ⊙ w = uᵀ w v`` and that the
  paper's complexity tricks "restrict model capacity and are unnecessary". P·D² weights.
- ``"full"``: every entry of every f_i f_jᵀ goes to the first Linear → W_p^n unconstrained, H·P·D²
  weights (15 M for 25 fields at D = 16, H = 200): the paper's general form, for small schemas.
- ``"superposition"``: the paper's trick, f_Σ f_Σᵀ (B, D²) → H·D² weights; it also sums the i = j
  and j > i terms, as Qu et al.'s double sum does.

Deviations from the paper: IPNN's W_p is unconstrained over pairs (the paper factorises it as
θ^n θ^nᵀ for speed; its authors dropped that later, see above); ``kernel`` starts at the identity, so
OPNN starts as IPNN; the default head is CAN's 200 × 80 PReLU (every CAN baseline shares it) —
``IPNNConfig.aoanet()`` gives AOANet's setting (D = 16, ReLU 512-256-64); pooled sequence fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import MLP, FieldEmbedding
from ctrviz.nn.config import DeepConfig
from ctrviz.nn.gin import GINForm, pair_onehot
from ctrviz.nn.pairs import check_pairwise, field_pairs, inner_product_layer

OuterKernel = Literal["mat", "full", "superposition"]


def outer_products(e: Tensor) -> Tensor:
    """OPNN's p_ij = f_i f_jᵀ for every pair i < j. (B, F, D) → (B, P, D, D).

    Example:
        >>> outer_products(torch.tensor([[[1., 2.], [3., 4.]]])).tolist()
        [[[[3.0, 4.0], [6.0, 8.0]]]]
    """
    F = e.shape[1]
    rows, cols = torch.triu_indices(F, F, 1, device=e.device)   # (P,), (P,)
    # p[b, q, k, l] = e[b, rows_q, k] · e[b, cols_q, l]
    return torch.einsum("bqk,bql->bqkl", e[:, rows], e[:, cols])  # (B, P, D, D)


class InnerProductLayer(nn.Module):
    """:func:`inner_product_layer` as a module with ``out_dim`` = P (no parameters).

    Shape:
        (B, F, D) → (B, P)
    """

    def __init__(self, num_fields: int) -> None:
        super().__init__()
        self.out_dim = num_fields * (num_fields - 1) // 2

    def forward(self, e: Tensor) -> Tensor:
        return inner_product_layer(e)                             # (B, P)


class OuterProductLayer(nn.Module):
    """OPNN's product signal p with one of three kernels (module docstring).

    Args:
        num_fields: F.
        dim: D.
        kernel: ``"mat"`` (learned ``kernel`` (P, D, D), output (B, P)), ``"full"`` (raw outer products,
            (B, P·D²)) or ``"superposition"`` (f_Σ f_Σᵀ, (B, D²)).

    Attributes:
        kernel: the (P, D, D) parameter K for ``"mat"``, ``None`` otherwise.
        out_dim: width of the output.

    Shape:
        (B, F, D) → (B, out_dim)

    Example:
        >>> layer = OuterProductLayer(num_fields=2, dim=2)
        >>> with torch.no_grad():
        ...     layer.kernel[0] = torch.tensor([[0., 1.], [0., 0.]])   # picks f_0[0] · f_1[1]
        >>> layer(torch.tensor([[[1., 2.], [3., 4.]]])).tolist()
        [[4.0]]
    """

    def __init__(self, num_fields: int, dim: int, kernel: OuterKernel = "mat") -> None:
        super().__init__()
        if kernel not in ("mat", "full", "superposition"):
            raise ValueError(f"OuterProductLayer.kernel must be 'mat', 'full' or 'superposition', got {kernel!r}")
        P = num_fields * (num_fields - 1) // 2
        self.kind = kernel
        self.out_dim = {"mat": P, "full": P * dim * dim, "superposition": dim * dim}[kernel]
        if kernel == "mat":
            self.kernel = nn.Parameter(torch.eye(dim).repeat(P, 1, 1))   # (P, D, D), starts as ⟨f_i, f_j⟩
        else:
            self.register_parameter("kernel", None)

    def forward(self, e: Tensor) -> Tensor:
        if self.kind == "superposition":
            s = e.sum(1)                                            # (B, D) f_Σ
            return torch.einsum("bk,bl->bkl", s, s).flatten(1)      # (B, D, D) → (B, D²)
        if self.kind == "full":
            return outer_products(e).flatten(1)                     # (B, P, D, D) → (B, P·D²)
        F = e.shape[1]
        rows, cols = torch.triu_indices(F, F, 1, device=e.device)   # (P,), (P,)
        # p[b, q] = Σ_{k,l} e[b, rows_q, k] · K[q, k, l] · e[b, cols_q, l]
        return torch.einsum("bqk,qkl,bql->bq", e[:, rows], self.kernel, e[:, cols])  # (B, P)

    def as_gin(self) -> GINForm:
        """The ``"mat"`` kernel's product signal as GIN (AOANet Table 2 row OPNN): S = P subspaces, W^s = K_s (the
        learned kernel of pair s, free), h = 1 and α^s one-hot on pair s: Σ_j P^s_j = Σ_ij u_i v_j (K_s)_ij =
        e_uᵀ K_s e_v = ``self(e)[:, s]``. The ``"full"`` kernel's raw outer products are
        :func:`~ctrviz.nn.gin.outer_product_form` (Lemma A.3); ``"superposition"`` has no such form.

        Shape:
            weight (P, D, D), h (P, D), alpha (P, F, F)

        Example:
            >>> layer = OuterProductLayer(num_fields=3, dim=2)
            >>> form = layer.as_gin()
            >>> form.weight.shape, form.alpha.shape                    # one kernel and one pair per subspace
            (torch.Size([3, 2, 2]), torch.Size([3, 3, 3]))
            >>> e = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]])
            >>> torch.allclose(form.fuse(e, e).sum(-1), layer(e))
            True
        """
        if self.kernel is None:
            raise ValueError(f"OuterProductLayer.as_gin needs kernel 'mat' (Table 2 row OPNN), got {self.kind!r}; "
                             "the raw outer products of 'full' are ctrviz.nn.gin.outer_product_form (Lemma A.3)")
        kernel = self.kernel.detach().clone()                       # (P, D, D): W^s = K_s
        P, D = kernel.shape[:2]
        F = round((1 + (1 + 8 * P) ** 0.5) / 2)                     # P = F(F-1)/2
        return GINForm(kernel, kernel.new_ones(P, D), pair_onehot(F, kernel.dtype, kernel.device), "upper")


@dataclass(frozen=True)
class IPNNConfig(DeepConfig):
    """:class:`~ctrviz.nn.config.DeepConfig`'s fields: embed_dim D; hidden widths, activation, dropout and
    batch_norm of the MLP after the product layer (CAN: 200 × 80 PReLU; AOANet: :meth:`aoanet`); pooling."""

    @classmethod
    def aoanet(cls, **overrides: object):
        """AOANet Sec. 4.1's setting: embedding 16, deep part 512-256-64 (ReLU)."""
        return cls(**{"embed_dim": 16, "hidden": (512, 256, 64), "activation": "relu", **overrides})


@dataclass(frozen=True)
class OPNNConfig(IPNNConfig):
    """:class:`IPNNConfig` plus ``kernel``: ``"mat"``, ``"full"`` or ``"superposition"``."""

    kernel: OuterKernel = "mat"

    def __post_init__(self) -> None:
        if self.kernel not in ("mat", "full", "superposition"):
            raise ValueError(f"OPNNConfig.kernel must be 'mat', 'full' or 'superposition', got {self.kernel!r}")
        super().__post_init__()


@register("ipnn", IPNNConfig, "PNN with pairwise inner products (l_z + l_p → MLP)", "Qu et al., ICDM 2016")
class IPNN(nn.Module):
    """Inner-product PNN: embeddings ⊕ pairwise inner products → MLP.

    Args:
        schema: the dataset's fields (at least two).
        config: :class:`IPNNConfig`.

    Shape:
        Batch of B rows → logits (B,); the MLP reads (B, F·D + product width).

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=4)))
        >>> m = IPNN(s, IPNNConfig(embed_dim=3, hidden=(8,)))
        >>> m.mlp.net[0].in_features                    # F·D + P = 2·3 + 1
        7
        >>> m(Batch(torch.tensor([[2, 3]]), torch.zeros(1, 0), {}, torch.ones(1))).shape
        torch.Size([1])
    """

    def __init__(self, schema: Schema, config: IPNNConfig) -> None:
        super().__init__()
        check_pairwise(schema, config.embed_dim, type(config).__name__)
        self.config = config
        self.embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)
        F = self.embedding.num_fields
        self.product = self.make_product(F, config)
        self.mlp = MLP(F * config.embed_dim + self.product.out_dim, tuple(config.hidden), config.activation,
                       config.dropout, config.batch_norm, out_dim=1)

    def make_product(self, num_fields: int, config: IPNNConfig) -> nn.Module:
        """The product layer (a module with ``out_dim``); OPNN overrides this."""
        return InnerProductLayer(num_fields)

    def pair_names(self) -> tuple[tuple[str, str], ...]:
        """Names of the P field pairs, in the order of the inner products / ``mat`` kernel's first axis."""
        return field_pairs(self.embedding.field_names())

    def signals(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The product layer's output: linear signal z (B, F·D) and product signal p (B, out_dim)."""
        e = self.embedding(batch)                                   # (B, F, D)
        return e.flatten(1), self.product(e)                        # (B, F·D), (B, out_dim)

    def forward(self, batch: Batch) -> Tensor:
        z, p = self.signals(batch)                                  # (B, F·D), (B, out_dim)
        return self.mlp(torch.cat([z, p], 1)).squeeze(-1)           # (B, F·D + out_dim) → (B, 1) → (B,)


@register("opnn", OPNNConfig, "PNN with pairwise outer products (per-pair D×D kernel)", "Qu et al., ICDM 2016")
class OPNN(IPNN):
    """Outer-product PNN: embeddings ⊕ kernel-contracted outer products → MLP.

    Args:
        schema: the dataset's fields (at least two).
        config: :class:`OPNNConfig`.

    Shape:
        Batch of B rows → logits (B,)

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=4)))
        >>> OPNN(s, OPNNConfig(embed_dim=3, hidden=(8,))).product.kernel.shape   # (P, D, D)
        torch.Size([1, 3, 3])
    """

    def make_product(self, num_fields: int, config: IPNNConfig) -> nn.Module:
        if not isinstance(config, OPNNConfig):
            raise TypeError(f"OPNN needs an OPNNConfig (it has the kernel), got {type(config).__name__}")
        return OuterProductLayer(num_fields, config.embed_dim, config.kernel)
