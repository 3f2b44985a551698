"""xDeepFM — linear part + Compressed Interaction Network (CIN) + DNN.

Reference: J. Lian, X. Zhou, F. Zhang, Z. Chen, X. Xie, G. Sun, "xDeepFM: Combining Explicit and Implicit
Feature Interactions for Recommender Systems", KDD 2018 (arXiv:1803.05170) — the ``xDeepFM`` row of
AOANet's Tables 1–4 (AOANet ref. [6]; Table 4: L = 2 layers of n = 100 feature maps).

Equations (Lian et al. Eq. 6, 9–11; X_0 = the m = F field embeddings, rows X^{i,*} ∈ R^D):

    X_l^{h,*} = Σ_{i=1}^{H_{l-1}} Σ_{j=1}^{m} W^{l,h}_{i,j} (X_{l-1}^{i,*} ⊙ X_0^{j,*})    h = 1..H_l, H_0 = m   (Eq. 6)
    p_l^h     = Σ_d X_l^{h,d}        p⁺ = [p_1; …; p_L] ∈ R^{Σ H_l}        (sum pooling, Eq. 9)
    logit     = w_linᵀ a + w_dnnᵀ x_dnn + w_cinᵀ p⁺ + b                    (Eq. 11)

a the raw (one-hot) features — ctrviz's :class:`~ctrviz.nn.linear.Linear`, which holds b — and x_dnn the
last hidden layer of the DNN on [e_1; …; e_F] (AOANet: ReLU 512-256-64). :class:`CINLayer` is Eq. 6 with
``weight[h, i, j]`` = W^{l,h}_{i,j}: the first index is the new map, the second the row of X_{l-1}, the
third the field of X_0. ``CINLayer.forward_literal`` computes the layer as the paper describes it: the
intermediate tensor z[b, i, j, d] = X_{l-1}[b, i, d] · X_0[b, j, d] (B, H_{l-1}, m, D), then compressed by
the H_l filters. ``forward`` (what the model trains with) computes the same sums without ever holding z:
in a (row, B·D) layout it takes a few rows i of X_{l-1} at a time, builds their slice of z (cache-sized)
and adds W[:, i, :] @ z_i into the output; the backward pass rebuilds each slice instead of storing z
(256 MB per layer at B = 1024, m = 39, H = 100, D = 16). About 2× faster forward + backward on CPU than
the literal path there (1 thread), and the memory of z is gone; equal up to float rounding (tests). It
runs in float32 also under autocast (bf16 autocast speeds up the DNN beside it, not the CIN).

AOANet's view (Lemma 3.3, Table 2): each feature map is one GIN subspace (S_l = H_l) with W = I and
h = 1 — the Hadamard product u ⊙ v (Lemma A.2) — and α^{l,h}_{u,v} = ``weight[h, i, j]`` for u the i-th
row of X_{l-1} and v the j-th field of X_0; GIN's output concat(B_1, …, B_L) after sum pooling is p⁺.

Deviations from the paper: every map of a layer feeds both the next layer and p⁺ (the equations; the
authors' code can instead send half of each hidden layer's maps to each, "split half" — not implemented);
no bias and no activation in the CIN (Eq. 6; the authors' code adds an optional bias and activation);
one bias b in the logit (LR's; the output layer has none, ``linear=False`` gives it one); AOANet's
defaults (D = 16, ReLU 512-256-64); ``linear=False`` and ``hidden=()`` drop those parts (both off:
the paper's CIN-only model); Glorot-uniform filters; pooled sequence/multi fields, x·v dense fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ctrviz.data.batch import Batch
from ctrviz.data.schema import Schema
from ctrviz.models.registry import register
from ctrviz.nn import MLP, FieldEmbedding
from ctrviz.nn.config import AOANetDeepConfig
from ctrviz.nn.gin import GINForm
from ctrviz.nn.linear import Linear
from ctrviz.nn.pairs import check_pairwise


@dataclass(frozen=True)
class XDeepFMConfig(AOANetDeepConfig):
    """:class:`~ctrviz.nn.config.AOANetDeepConfig` (embed_dim 16, DNN ReLU 512-256-64; ``hidden=()`` drops
    the DNN) plus ``cin_maps``: H_1, …, H_L, the feature maps of each CIN layer (AOANet Table 4: (100, 100))
    and ``linear``: keep the linear part."""

    cin_maps: tuple[int, ...] = (100, 100)
    linear: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        maps = self.cin_maps
        if not isinstance(maps, tuple) or not maps or any(not isinstance(h, int) or h < 1 for h in maps):
            raise ValueError(f"{type(self).__name__}.cin_maps must be a non-empty tuple of ints >= 1 "
                             f"(feature maps per CIN layer), got {maps!r}")


class CINLayer(nn.Module):
    """One CIN layer (Lian et al. Eq. 6): X_l[h] = Σ_{i,j} weight[h, i, j] · (X_{l-1}[i] ⊙ X_0[j]).

    Args:
        prev_maps: H_{l-1}, rows of the previous layer's output (m for the first layer, which reads X_0).
        num_fields: m, rows of X_0.
        maps: H_l, feature maps of this layer.

    Attributes:
        weight: (H_l, H_{l-1}, m); ``weight[h, i, j]`` multiplies X_{l-1}[i] ⊙ X_0[j] in map h.

    Shape:
        x0 (B, m, D), xprev (B, H_{l-1}, D) → (B, H_l, D)

    Example:
        >>> layer = CINLayer(prev_maps=2, num_fields=2, maps=1)
        >>> with torch.no_grad():
        ...     layer.weight[:] = torch.tensor([[[0., 1.], [0., 0.]]])    # only X_prev[0] ⊙ X_0[1]
        >>> x0 = torch.tensor([[[1., 2.], [3., 4.]]])
        >>> layer(x0, x0).tolist()
        [[[3.0, 8.0]]]
    """

    def __init__(self, prev_maps: int, num_fields: int, maps: int) -> None:
        super().__init__()
        if min(prev_maps, num_fields, maps) < 1:
            raise ValueError(f"CINLayer sizes must be >= 1, got prev_maps={prev_maps}, num_fields={num_fields}, "
                             f"maps={maps}")
        weight = torch.empty(maps, prev_maps, num_fields)                            # (H_l, H_{l-1}, m)
        nn.init.xavier_uniform_(weight.view(maps, prev_maps * num_fields))          # a 1×1 conv's Glorot bounds
        self.weight = nn.Parameter(weight)

    def forward(self, x0: Tensor, xprev: Tensor) -> Tensor:
        B, m, D = x0.shape
        x0t = x0.permute(1, 0, 2).reshape(m, B * D)                    # (m, B·D)
        xt = xprev.permute(1, 0, 2).reshape(xprev.shape[1], B * D)     # (H_{l-1}, B·D)
        out = _CINProduct.apply(self.weight, xt, x0t)                  # (H_l, B·D)
        return out.view(-1, B, D).permute(1, 0, 2)                     # (B, H_l, D)

    def forward_literal(self, x0: Tensor, xprev: Tensor) -> Tensor:
        """Eq. 6 as written: build z (B, H_{l-1}, m, D), compress it by the filters. Same result as ``forward``."""
        # z[b, i, j, d] = xprev[b, i, d] · x0[b, j, d]
        z = torch.einsum("bid,bjd->bijd", xprev, x0)                 # (B, H_{l-1}, m, D)
        # out[b, h, d] = Σ_{i,j} W[h, i, j] · z[b, i, j, d]
        return torch.einsum("hij,bijd->bhd", self.weight, z)         # (B, H_l, D)

    def as_gin(self, dim: int) -> GINForm:
        """This layer as one GIN layer (AOANet Lemma 3.3, Table 2 row xDeepFM): S_l = H_l subspaces, W = I and
        h = 1 in each (hᵀZ = u ⊙ v, Lemma A.2), α^s_{u,v} = ``weight[s, v, u]`` for u a field of X_0 (B_0) and
        v a row of X_{l-1} (B_{l-1}) — GIN's own inter-layer pairing. The CIN's learned weights all live in α.

        Args:
            dim: D, the embedding width (the layer itself works for any).

        Shape:
            weight (H_l, D, D), h (H_l, D), alpha (H_l, m, H_{l-1})

        Example:
            >>> layer = CINLayer(prev_maps=2, num_fields=3, maps=4)
            >>> form = layer.as_gin(dim=2)
            >>> form.weight.shape, form.alpha.shape
            (torch.Size([4, 2, 2]), torch.Size([4, 3, 2]))
            >>> x0, xprev = torch.tensor([[[1., 2.], [3., 4.], [5., 6.]]]), torch.tensor([[[1., -1.], [2., 0.5]]])
            >>> torch.allclose(form.fuse(x0, xprev), layer(x0, xprev))
            True
        """
        if dim < 1:
            raise ValueError(f"CINLayer.as_gin: dim must be >= 1, got {dim}")
        w = self.weight.detach()                                     # (H_l, H_{l-1}, m)
        H = w.shape[0]
        eye = torch.eye(dim, dtype=w.dtype, device=w.device)
        return GINForm(eye.repeat(H, 1, 1), w.new_ones(H, dim), w.transpose(1, 2).clone(), "inter-layer")


class _CINProduct(torch.autograd.Function):
    """out[h, n] = Σ_{i,j} W[h, i, j] · xt[i, n] · x0t[j, n], n = (b, d), in slices of ``ROWS`` rows i.

    Forward and backward build z_i = xt[i] ⊙ x0t (ROWS·m, N) for one slice at a time; nothing of z is kept
    for the backward (it saves W, xt, x0t only), which rebuilds each slice for dW, dxt and dx0t.
    """

    ROWS = 4       # rows of X_{l-1} per slice: 4·m·N floats, a few MB — fastest of 1, 2, 4, 16 here (1 thread)

    @staticmethod
    def slices(xt: Tensor, x0t: Tensor) -> Iterator[tuple[int, int, Tensor]]:
        """(lo, hi, z) for rows lo..hi-1 of xt: z[(i - lo)·m + j] = xt[i] ⊙ x0t[j], (rows·m, N)."""
        rows, m = xt.shape[0], x0t.shape[0]
        for lo in range(0, rows, _CINProduct.ROWS):
            hi = min(lo + _CINProduct.ROWS, rows)
            yield lo, hi, (xt[lo:hi, None] * x0t).view((hi - lo) * m, -1)

    @staticmethod
    def forward(ctx, weight: Tensor, xt: Tensor, x0t: Tensor) -> Tensor:
        ctx.dtypes = weight.dtype, xt.dtype, x0t.dtype
        dtype = torch.promote_types(torch.promote_types(weight.dtype, xt.dtype), torch.float32)   # never below f32
        with torch.autocast(xt.device.type, enabled=False):
            weight, xt, x0t = weight.to(dtype), xt.to(dtype), x0t.to(dtype)
            ctx.save_for_backward(weight, xt, x0t)
            H, Hp, m = weight.shape
            w = weight.reshape(H, Hp * m)                              # (H_l, H_{l-1}·m)
            out = xt.new_zeros(H, x0t.shape[1])                        # (H_l, N)
            for lo, hi, z in _CINProduct.slices(xt, x0t):
                out.addmm_(w[:, lo * m:hi * m], z)                     # out += W[:, rows, :] @ z
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        weight, xt, x0t = ctx.saved_tensors
        with torch.autocast(xt.device.type, enabled=False):
            grad = grad.to(xt.dtype)
            H, Hp, m = weight.shape
            w = weight.reshape(H, Hp * m)
            dw, dxt, dx0t = torch.empty_like(w), torch.empty_like(xt), torch.zeros_like(x0t)
            for lo, hi, z in _CINProduct.slices(xt, x0t):              # z rebuilt, not stored
                torch.mm(grad, z.T, out=dw[:, lo * m:hi * m])          # dW[:, rows, :] = grad @ zᵀ
                dz = (w[:, lo * m:hi * m].T @ grad).view(hi - lo, m, -1)   # (rows, m, N)
                dxt[lo:hi] = (dz * x0t).sum(1)                         # Σ_j dz[i, j] · x0t[j]
                dx0t += (dz * xt[lo:hi, None]).sum(0)                  # Σ_i dz[i, j] · xt[i]
        return tuple(g.to(t) for g, t in zip((dw.view_as(weight), dxt, dx0t), ctx.dtypes, strict=True))


@register("xdeepfm", XDeepFMConfig, "xDeepFM: linear + CIN (sum-pooled feature maps) + DNN",
          "Lian et al., KDD 2018")
class XDeepFM(nn.Module):
    """xDeepFM: linear part, Compressed Interaction Network and DNN, summed into one logit.

    Args:
        schema: the dataset's fields (at least two).
        config: :class:`XDeepFMConfig`.

    Attributes:
        cin_layers: the L :class:`CINLayer` s.
        linear: :class:`~ctrviz.nn.linear.Linear` or ``None``; deep: the DNN's :class:`~ctrviz.nn.MLP` or ``None``.
        out: ``nn.Linear`` over [p⁺; x_dnn] (w_cin, w_dnn; a bias only when ``linear=False``).

    Shape:
        Batch of B rows → logits (B,); :meth:`cin` → L tensors (B, H_l, D).

    Example:
        >>> from ctrviz.data.schema import Field
        >>> s = Schema((Field("a", "sparse", vocab_size=4), Field("b", "sparse", vocab_size=4),
        ...             Field("x", "dense")))
        >>> m = XDeepFM(s, XDeepFMConfig(embed_dim=2, cin_maps=(4, 3), hidden=(8,)))
        >>> [tuple(layer.weight.shape) for layer in m.cin_layers]        # (H_l, H_{l-1}, m)
        [(4, 3, 3), (3, 4, 3)]
        >>> m.out.in_features                                           # Σ H_l + 8
        15
        >>> m(Batch(torch.tensor([[2, 3]]), torch.ones(1, 1), {}, torch.ones(1))).shape
        torch.Size([1])
    """

    def __init__(self, schema: Schema, config: XDeepFMConfig) -> None:
        super().__init__()
        check_pairwise(schema, config.embed_dim, type(config).__name__)
        self.config = config
        self.embedding = FieldEmbedding(schema, config.embed_dim, pooling=config.pooling)
        m = self.embedding.num_fields
        prev = (m, *config.cin_maps[:-1])
        self.cin_layers = nn.ModuleList([CINLayer(p, m, h) for p, h in zip(prev, config.cin_maps, strict=True)])
        self.linear = Linear(schema, config.pooling) if config.linear else None
        self.deep = MLP(m * config.embed_dim, tuple(config.hidden), config.activation, config.dropout,
                        config.batch_norm) if config.hidden else None
        width = sum(config.cin_maps) + (self.deep.out_dim if self.deep is not None else 0)
        self.out = nn.Linear(width, 1, bias=not config.linear)

    def cin(self, x0: Tensor) -> list[Tensor]:
        """Every CIN layer's feature maps X_1, …, X_L from X_0 = the field embeddings (B, m, D): each (B, H_l, D)."""
        maps, xl = [], x0
        for layer in self.cin_layers:
            xl = layer(x0, xl)                                       # (B, H_l, D)
            maps.append(xl)
        return maps

    def forward(self, batch: Batch) -> Tensor:
        e = self.embedding(batch)                                    # (B, F, D)
        parts = [torch.cat([x.sum(-1) for x in self.cin(e)], 1)]     # L × (B, H_l, D) → p⁺ (B, Σ H_l)
        if self.deep is not None:
            parts.append(self.deep(e.flatten(1)))                    # (B, F·D) → (B, H)
        logit = self.out(torch.cat(parts, 1)).squeeze(-1)            # (B, Σ H_l + H) → (B, 1) → (B,)
        return logit if self.linear is None else logit + self.linear(batch)   # (B,)
