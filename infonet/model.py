"""InfoNet: an attention network that maps a joint sample to a lookup-table critic and an MI estimate.

Shapes: B batch of sequences, n samples per sequence, G cells per side of the copula grid,
P patch side, M = (G / P)^2 tokens, D width, Q quantiles.

    (u, v) copula samples (B, n) each
      -> empirical copula density on a G x G grid: each sample's rank cell integrated over the
         grid cells (B, G, G), then blurred (Gaussian, about one cell)
      -> M tokens: P x P patches of the density, embedded, plus position and sample-size embeddings
      -> `depth` pre-norm self-attention blocks over the tokens (B, M, D)
      -> critic table T (B, G, G): each token decodes its own patch of cells
      -> Donsker-Varadhan read-out of T at the samples (B,)
      -> quantile head on the pooled tokens, log n and the DV value: the 5 / 50 / 95 % quantiles
         of the MI (B, Q); the median is the estimate

Why a density grid. For one pair of scalar variables the samples enter the critic only through
their empirical copula, and the released InfoNet reads them one by one with cross-attention,
whose cost grows with n. Binning the copula on a grid keeps all of it up to the grid's
resolution (at n <= G it is the exact permutation, smeared over neighbouring cells), costs
O(n) with a tiny constant, and everything after it is independent of n: the estimate at
n = 10^6 costs what it costs at n = 100. Splatting is differentiable in (u, v), so gradients
reach the samples (see :mod:`infonet.differentiable`).

Departures from the released InfoNet code, each fixing a known defect: no LayerNorm over the raw
2-vector (which collapses it to about sign(u - v)); the table spans exactly the copula square the
inputs occupy; the marginal term is the exact integral of exp T over the uniform square (no
shuffle noise). New here (as in MIST): a quantile head trained on the simulator's true MI, and the
sample size as an input, so the estimate can correct the small-sample bias of the DV read-out.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .readout import dv_bound

__all__ = ["InfoNetConfig", "InfoNet", "InfoNetOutput", "SizeRouted", "QUANTILES", "splat", "refine_grid"]

QUANTILES = (0.05, 0.5, 0.95)  # the quantile head's levels; the median is the point estimate
LOG_N_CENTRE, LOG_N_SCALE = math.log(256.0), 2.0  # log n is fed as (log n - centre) / scale, about [-1.4, 1.4]
MAX_N_SEEN = 4096  # the longest training sequences; a larger n is read as strided chunks of at most this
CALIBRATION_SIZES = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096)  # knots of the interval calibration


@dataclass
class InfoNetConfig:
    grid_size: int = 32  # G: cells per side of the density grid and of the critic table
    patch_size: int = 4  # P: tokens are P x P patches of cells
    dim: int = 64  # D: token width
    depth: int = 3  # self-attention blocks
    heads: int = 4
    mlp_ratio: int = 2
    input_blur: float = 1.0  # std (in cells) of the Gaussian blur of the density before the trunk (0: none)
    detach_head: bool = False  # the head reads the trunk through stopped gradients (a pure calibrator)
    crossfit: bool = False  # DV read-out on the half of the samples the table was not built from

    def __post_init__(self):
        for name in ("grid_size", "patch_size", "dim", "depth", "heads", "mlp_ratio"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.grid_size < 2 or self.grid_size % self.patch_size:
            raise ValueError(
                f"grid_size ({self.grid_size}) must be >= 2 and a multiple of patch_size ({self.patch_size})"
            )
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if self.input_blur < 0:
            raise ValueError(f"input_blur must be >= 0, got {self.input_blur}")

    @property
    def num_tokens(self) -> int:
        return (self.grid_size // self.patch_size) ** 2


@dataclass
class InfoNetOutput:
    mi: torch.Tensor  # (B,) the estimate (the median quantile), nats
    quantiles: torch.Tensor  # (B, Q) at QUANTILES
    dv: torch.Tensor  # (B,) Donsker-Varadhan read-out of the critic, nats
    table: torch.Tensor  # (B, G, G) critic over [0, 1]^2 (rows: u, columns: v)


# ----------------------------------------------------------------------------- helpers


def _box_weights(u: torch.Tensor, n: int, G: int, span: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sample's box [u - 1/2n, u + 1/2n] spread over the ``span`` grid cells from its first one.

    Returns the first cell (B, n) long and the share of the box in each of the span cells
    (B, n, span), summing to 1 along the last axis.
    """
    half = 0.5 / n
    lo = u.clamp(half, 1 - half) - half  # the box, kept inside [0, 1]
    first = (lo.detach() * G).floor().clamp(0, G - 1)
    edges = (first.unsqueeze(-1) + torch.arange(span + 1, device=u.device, dtype=u.dtype)) / G  # (B, n, span + 1)
    inside = torch.minimum(edges[..., 1:], (lo + 2 * half).unsqueeze(-1)) - torch.maximum(
        edges[..., :-1], lo.unsqueeze(-1)
    )
    return first.long(), inside.clamp_min(0) * n


def splat(u: torch.Tensor, v: torch.Tensor, grid_size: int) -> torch.Tensor:
    """Empirical copula density of (u, v) samples on a G x G grid over [0, 1]^2.

    Sample t's unit mass is spread uniformly over the square of side 1/n centred on it (for
    ranks u = (r + 0.5) / n, exactly its rank cell), and the grid holds the integral of that
    "checkerboard" density over each cell. So the grid's marginals are exactly uniform and the
    picture changes smoothly with n: spreading a sample over the cells around its centre instead
    aliases rank lattice against grid lattice (at n = G every sample would sit on a cell centre,
    at n = G / 2 on a cell corner). Differentiable in u and v (piecewise linear).

    Args:
        u, v: (B, n) positions in [0, 1].
    Returns:
        (B, G, G) density (mean 1 over the cells); rows index u, columns v.
    """
    B, n = u.shape
    G = grid_size
    span = -(-G // n) + 1  # cells a box of width 1/n can touch
    iu, wu = _box_weights(u, n, G, span)
    iv, wv = _box_weights(v, n, G, span)
    k = torch.arange(span, device=u.device)
    rows = (iu.unsqueeze(-1) + k).clamp(max=G - 1)  # (B, n, span); beyond-the-edge cells carry weight 0
    cols = (iv.unsqueeze(-1) + k).clamp(max=G - 1)
    batch = torch.arange(B, device=u.device).view(B, 1, 1, 1)
    index = (batch * G + rows.unsqueeze(-1)) * G + cols.unsqueeze(-2)  # (B, n, span, span)
    weight = wu.unsqueeze(-1) * wv.unsqueeze(-2)
    flat = torch.zeros(B * G * G, device=u.device, dtype=weight.dtype).index_add(
        0, index.reshape(-1), weight.reshape(-1)
    )
    return flat.view(B, G, G) * (G * G / n)


def smoothing_matrix(size: int, sigma: float) -> torch.Tensor:
    """(G, G) Gaussian smoothing along one axis, reflected at the borders, preserving mass.

    ``S @ D @ S.T`` blurs a density grid D; each column of S sums to 1, so no mass is lost at the
    borders and a uniform density stays uniform.
    """
    if sigma == 0:
        return torch.eye(size)
    radius = int(math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    mat = torch.zeros(size, size, dtype=torch.float64)
    for j in range(size):  # the mass of cell j, spread over its neighbours i
        for off, w in zip(offsets.long().tolist(), kernel.tolist(), strict=True):
            i = j + off
            i = -i - 1 if i < 0 else (2 * size - i - 1 if i >= size else i)  # reflect about the edge
            mat[min(max(i, 0), size - 1), j] += w
    return mat.float()


def patchify(image: torch.Tensor, p: int) -> torch.Tensor:
    """(B, G, G) -> (B, M, P*P) non-overlapping P x P patches, row-major."""
    B, G, _ = image.shape
    m = G // p
    return image.view(B, m, p, m, p).permute(0, 1, 3, 2, 4).reshape(B, m * m, p * p)


def unpatchify(patches: torch.Tensor, p: int) -> torch.Tensor:
    """(B, M, P*P) -> (B, G, G), the inverse of :func:`patchify`."""
    B, M, _ = patches.shape
    m = math.isqrt(M)
    return patches.view(B, m, m, p, p).permute(0, 1, 3, 2, 4).reshape(B, m * p, m * p)


def log_n_feature(n: int | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """(B, 1) standardised log sample size, capped at the training range (measured: fed uncapped,
    n = 10^6 read a Gaussian pair's 0.511 nats as 0.639)."""
    log_n = torch.log(torch.as_tensor(n, dtype=like.dtype, device=like.device).clamp(max=MAX_N_SEEN))
    return ((log_n - LOG_N_CENTRE) / LOG_N_SCALE).expand(like.shape[0]).unsqueeze(-1)


# ----------------------------------------------------------------------------- blocks


FEW_KEYS = 16  # on a CPU, a softmax over at most this many keys is written out too


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, written_out: bool = False) -> torch.Tensor:
    """softmax(q k^T / sqrt(c)) v over heads: q (B, H, M, c), k and v (B, H, K, c) -> (B, H, M, c).

    The fused kernel, or with ``written_out`` the product written out: the multivariate network's
    attention over a few keys (its 16 latents, short samples), where on a CPU the fused kernel's
    overhead dominates (measured: 190 -> 115 us per pair at n = 50, with smaller chunks). Over
    ``FEW_KEYS`` keys or fewer the softmax is written out as well: torch's CPU kernel vectorises
    along the keys and is slow on a handful (0.76 against 0.16-0.18 ms for the narrow network's
    latents, (327, 4, 8, 8)).
    """
    if not written_out:
        return F.scaled_dot_product_attention(q, k, v)
    return softmax_keys(q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5) @ v


def softmax_keys(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over the last axis, the keys; written out over ``FEW_KEYS`` keys or fewer on a CPU (:func:`attend`)."""
    if scores.shape[-1] > FEW_KEYS or scores.is_cuda:
        return scores.softmax(-1)
    scores = (scores - scores.amax(-1, keepdim=True)).exp()
    return scores / scores.sum(-1, keepdim=True)


class Attention(nn.Module):
    """Multi-head self-attention (pre-normed by the caller), computed by :func:`attend`."""

    def __init__(self, dim: int, heads: int, written_out: bool = False):
        super().__init__()
        self.heads, self.written_out = heads, written_out
        self.to_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, M, D = x.shape
        q, k, v = self.to_qkv(x).view(B, M, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)  # (B, H, M, c)
        out = attend(q, k, v, self.written_out).transpose(1, 2).reshape(B, M, D)
        return self.to_out(out)


class Block(nn.Module):
    """Pre-norm attention then feed-forward: ``x = x + attn(norm(x))``, ``x = x + ff(norm(x))``."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int, written_out: bool = False):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads, written_out)
        self.norm2 = nn.LayerNorm(dim)
        self.ff = nn.Sequential(nn.Linear(dim, dim * mlp_ratio), nn.GELU(), nn.Linear(dim * mlp_ratio, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.ff(self.norm2(x))


class QuantileHead(nn.Module):
    """Pooled tokens, log n and the DV value -> the 5 / 50 / 95 % quantiles of the MI, ordered and >= 0.

    The two widths (median to 5 %, median to 95 %) are multiplied by ``width_scale`` (2, K): per
    side, one factor per sample size of ``CALIBRATION_SIZES`` (piecewise linear in log n between
    them, constant beyond), which ``infonet.calibration`` fits after training so that each tail
    holds 5 % at every n; it is 1 (no change) until then.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim + 2, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim), nn.GELU())
        self.out = nn.Linear(dim, 3)
        self.register_buffer("width_scale", torch.ones(2, len(CALIBRATION_SIZES)))

    def scale_at(self, n: int) -> tuple[float, float]:
        """The calibrated width factors (low side, high side) at sample size ``n``."""
        x, knots = math.log(max(n, 1)), [math.log(k) for k in CALIBRATION_SIZES]
        i = next((i for i in range(1, len(knots)) if x <= knots[i]), len(knots) - 1)
        t = min(max((x - knots[i - 1]) / (knots[i] - knots[i - 1]), 0.0), 1.0)
        low, high = ((1 - t) * row[i - 1] + t * row[i] for row in self.width_scale.tolist())
        return low, high

    def forward(self, pooled: torch.Tensor, log_n: torch.Tensor, dv: torch.Tensor, n: int) -> torch.Tensor:
        raw = self.out(self.net(torch.cat([pooled, log_n, dv.unsqueeze(-1)], dim=-1))).float()  # (B, 3)
        scale_low, scale_high = self.scale_at(n)
        median = F.softplus(raw[:, 0])
        low = F.relu(median - scale_low * F.softplus(raw[:, 1]))
        high = median + scale_high * F.softplus(raw[:, 2])
        return torch.stack([low, median, high], dim=-1)


# ----------------------------------------------------------------------------- model


class InfoNet(nn.Module):
    """Maps copula samples (u, v) to a critic table, its DV read-out and a calibrated MI."""

    def __init__(self, cfg: InfoNetConfig):
        super().__init__()
        self.cfg = cfg
        D, p2 = cfg.dim, cfg.patch_size**2
        self.embed = nn.Linear(2 * p2, D)  # a patch's density and its log1p
        self.pos = nn.Parameter(torch.randn(cfg.num_tokens, D) * 0.02)
        self.size_embed = nn.Sequential(nn.Linear(1, D), nn.GELU(), nn.Linear(D, D))
        self.blocks = nn.ModuleList([Block(D, cfg.heads, cfg.mlp_ratio) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(D)
        self.to_table = nn.Linear(D, p2)  # each token decodes the critic on its own patch
        self.head = QuantileHead(D)
        # The blur hides where samples sit inside their cells: without it, the grid of ranks (spacing
        # 1/n) beats against the grid of cells, and the picture of the same copula changes with n
        # mod G (at n = 32 every sample fills one cell exactly, at n = 33 none does), which the
        # network learned as a cue (measured: estimates on independent data jumped 0.44 -> 0.79 ->
        # 0.41 from n = 31 to 32 to 33).
        self.register_buffer("blur", smoothing_matrix(cfg.grid_size, cfg.input_blur), persistent=False)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def trunk(self, density: torch.Tensor, log_n: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Density grids (B, G, G) and log-n features (B, 1) -> tokens (B, M, D) and critic tables (B, G, G)."""
        density = self.blur @ density @ self.blur.T
        patches = patchify(density, self.cfg.patch_size)  # (B, M, P*P)
        x = self.embed(torch.cat([patches, torch.log1p(patches)], dim=-1))
        x = x + self.pos + self.size_embed(log_n).unsqueeze(1)
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        table = unpatchify(self.to_table(x).float(), self.cfg.patch_size)
        return x, table

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> InfoNetOutput:
        """Args: u, v (B, n) copula samples in [0, 1]. Returns an :class:`InfoNetOutput`."""
        B, n = u.shape
        if n > MAX_N_SEEN:
            return self._chunked(u, v)
        G = self.cfg.grid_size
        if self.cfg.crossfit:  # each half's table is read out on the other half
            halves = [(u[:, 0::2], v[:, 0::2]), (u[:, 1::2], v[:, 1::2])]
            density = torch.cat([splat(a, b, G) for a, b in halves])
            tokens, tables = self.trunk(density.to(self.embed.weight.dtype), log_n_feature(n // 2, density))
            dv = 0.5 * (dv_bound(tables[:B], *halves[1]) + dv_bound(tables[B:], *halves[0]))
            pooled, table = tokens.mean(1).view(2, B, -1).mean(0), 0.5 * (tables[:B] + tables[B:])
        else:
            density = splat(u, v, G)
            tokens, table = self.trunk(density.to(self.embed.weight.dtype), log_n_feature(n, density))
            dv = dv_bound(table, u.float(), v.float())
            pooled = tokens.mean(1)
        if self.cfg.detach_head:
            pooled = pooled.detach()
        # the DV value enters the head without gradient: the supervised loss shapes the critic only
        # through the shared tokens
        quantiles = self.head(pooled, log_n_feature(n, pooled), dv.detach().to(pooled.dtype), n)
        return InfoNetOutput(mi=quantiles[:, 1], quantiles=quantiles, dv=dv, table=table)

    def _chunked(self, u: torch.Tensor, v: torch.Tensor) -> InfoNetOutput:
        """Beyond the training lengths: the mean over k strided chunks of at most MAX_N_SEEN samples.

        Chunk j holds samples j, j + k, j + 2k, ..., so each spans the whole sequence (a time series
        too); its values stay the full sample's copula positions (about uniform, and differentiable).
        Measured: read whole, a Gaussian pair's 0.511 nats at n = 50,000 came out 0.465 from the
        64-cell network (its grid is far less noisy than at any training length). The quantiles are
        one chunk's (conservative: the mean of k chunks varies less).
        """
        B, n = u.shape
        k = -(-n // MAX_N_SEEN)
        m = n // k
        chunks = [t[:, : m * k].reshape(B, m, k).transpose(1, 2).reshape(B * k, m) for t in (u, v)]
        out = self(*chunks)
        mean = lambda t: t.unflatten(0, (B, k)).mean(1)  # noqa: E731
        quantiles = mean(out.quantiles)
        return InfoNetOutput(mi=quantiles[:, 1], quantiles=quantiles, dv=mean(out.dv), table=mean(out.table))


class SizeRouted(nn.Module):
    """InfoNets that each answer a range of sample sizes: one network for short sequences, one for long.

    Expert i answers sequences of n < ``bounds[i]`` samples that no earlier expert takes; the last
    one answers every larger n. All pairs of one forward pass have the same n, so a pass costs one
    expert's pass. Used wherever an :class:`InfoNet` is (``model(u, v)`` gives an
    :class:`InfoNetOutput`), so estimates, pairwise matrices and the differentiable MI route alike.

    Why. One small network for every n from 16 to 4096 has to share its capacity: the long-sequence
    validation error kept falling while the short-sequence error rose. A long-sequence expert can
    also read a finer grid, which at n = 32 would only show the rank lattice.
    """

    def __init__(self, experts: list[InfoNet], bounds: list[int]):
        super().__init__()
        bounds = [int(b) for b in bounds]
        if len(experts) != len(bounds) + 1 or bounds != sorted(set(bounds)) or (bounds and bounds[0] < 2):
            raise ValueError(
                f"SizeRouted needs one more expert than bounds and increasing bounds >= 2; "
                f"got {len(experts)} experts and bounds {bounds}"
            )
        self.experts = nn.ModuleList(experts)
        self.bounds = bounds

    def num_params(self) -> int:
        return sum(e.num_params() for e in self.experts)

    def expert_for(self, n: int) -> InfoNet:
        """The network that answers sequences of n samples."""
        return self.experts[sum(n >= b for b in self.bounds)]

    def serves(self, i: int) -> tuple[int, float]:
        """The range [low, high) of n that expert i answers."""
        edges = [0, *self.bounds, math.inf]
        return edges[i], edges[i + 1]

    def forward(self, u: torch.Tensor, v: torch.Tensor) -> InfoNetOutput:
        return self.expert_for(u.shape[1])(u, v)


def refine_grid(state: dict, coarse: InfoNetConfig, factor: int) -> tuple[InfoNetConfig, dict]:
    """Weights of a model on a grid ``factor`` times finer, with the same tokens, that start where ``state`` is.

    Each token reads a patch ``factor`` times wider: a fine cell gets its coarse cell's embedding
    column divided by ``factor**2`` (a coarse cell is the mean of its fine cells) and the critic
    table is upsampled to the nearest cell. Everything after the embedding is kept, so training
    on the finer grid starts from the coarse model's behaviour instead of from scratch. The blur
    stays ``input_blur`` cells, i.e. ``factor`` times narrower in the copula square.

    Returns the fine config and its state dict.
    """
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    fine = dataclasses.replace(coarse, grid_size=coarse.grid_size * factor, patch_size=coarse.patch_size * factor)
    p, q = coarse.patch_size, fine.patch_size
    # fine patch cell (i, j) -> coarse patch cell (i // factor, j // factor), both row-major
    cells = torch.arange(q)
    parent = ((cells // factor).view(-1, 1) * p + (cells // factor).view(1, -1)).reshape(-1)  # (q * q,)
    out = dict(state)
    w = state["embed.weight"]  # (D, 2 p^2): densities, then their log1p
    out["embed.weight"] = torch.cat([w[:, : p * p][:, parent], w[:, p * p :][:, parent]], dim=1) / factor**2
    out["to_table.weight"] = state["to_table.weight"][parent]
    out["to_table.bias"] = state["to_table.bias"][parent]
    return fine, out
