"""Donsker-Varadhan read-out of a lookup-table critic over the copula square [0, 1]^2.

    MI >= E_p(u,v)[T(u, v)] - log E_p(u)p(v)[exp T(u, v)]

The table holds T at the centres of a G x G grid of cells covering exactly [0, 1]^2
(cell (i, j) is centred at ((i + 0.5) / G, (j + 0.5) / G)); values in between are read
bilinearly and the border cells extend flat to the edges (``grid_sample`` with
``align_corners=False`` and border padding). Rows index u (the x variable), columns v.

The marginal term. After the copula transform both marginals are uniform, so the product of
marginals is the uniform measure on the square and ``E[exp T]`` is the mean of ``exp T`` over
the table's cells: the limit of infinitely many shuffles, without their noise. The paper's
shuffle estimate is available too (``marginal="shuffle"``).

A table may be given in full, (B, G, G), or as low-rank factors ``T = A @ B^T`` with A, B of
shape (B, G, R); bilinear read-out of a product of factors is the product of the factors'
linear read-outs, so the joint term never needs the full table.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["interp_rows", "lookup", "dv_bound", "dv_bound_factors", "log_mean_exp"]


def log_mean_exp(x: torch.Tensor, dim) -> torch.Tensor:
    """log(mean(exp(x))) over ``dim`` (int or tuple), computed stably."""
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    count = math.prod(x.shape[d] for d in dims)
    return torch.logsumexp(x, dim=dims) - math.log(count)


def interp_rows(rows: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Linear read-out of a 1-D grid of vectors at positions u in [0, 1].

    Args:
        rows: (B, G, R) values at the cell centres (g + 0.5) / G.
        u: (B, n) positions.
    Returns:
        (B, n, R) interpolated rows (flat beyond the first and last centres).
    """
    G = rows.shape[1]
    pos = (u * G - 0.5).clamp(0, G - 1)  # continuous cell index
    i0 = pos.floor().long().clamp(max=G - 2) if G > 1 else torch.zeros_like(pos, dtype=torch.long)
    w = (pos - i0.to(pos.dtype)).unsqueeze(-1).to(rows.dtype)  # (B, n, 1)
    idx0 = i0.unsqueeze(-1).expand(-1, -1, rows.shape[-1])
    r0 = rows.gather(1, idx0)
    if G == 1:
        return r0
    r1 = rows.gather(1, idx0 + 1)
    return r0 + w * (r1 - r0)


def lookup(table: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Bilinear read-out of full tables: table (B, G, G), u, v (B, n) -> (B, n)."""
    # grid_sample wants (x, y) = (column, row) in [-1, 1]
    grid = torch.stack([v * 2 - 1, u * 2 - 1], dim=-1).unsqueeze(1).to(table.dtype)  # (B, 1, n, 2)
    out = F.grid_sample(table.unsqueeze(1), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[:, 0, 0, :]


def dv_bound(
    table: torch.Tensor,
    u: torch.Tensor,
    v: torch.Tensor,
    *,
    marginal: str = "grid",
    num_shuffles: int = 5,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """DV estimate for full tables.

    Args:
        table: (B, G, G) critic values.
        u, v: (B, n) copula samples of the joint distribution.
        marginal: "grid" (exact uniform integral over the cells) or "shuffle" (paper: v shuffled
            ``num_shuffles`` times to sample the product of marginals).
    Returns:
        (B,) DV lower-bound estimates in nats.
    """
    joint = lookup(table, u, v).mean(-1)
    if marginal == "grid":
        return joint - log_mean_exp(table, dim=(1, 2))
    if marginal != "shuffle":
        raise ValueError(f"marginal must be 'grid' or 'shuffle', got {marginal!r}")
    B, n = v.shape
    # permutations are drawn on the CPU (pass a CPU generator) and moved to v's device
    perms = torch.stack([torch.randperm(n, generator=generator) for _ in range(num_shuffles)]).to(v.device)  # (S, n)
    shuffled = v[:, perms].reshape(B, -1)  # (B, S*n)
    marg = lookup(table, u.repeat(1, num_shuffles), shuffled)
    return joint - log_mean_exp(marg, dim=-1)


def dv_bound_factors(
    a: torch.Tensor, b: torch.Tensor, u: torch.Tensor, v: torch.Tensor, *, scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """DV estimate for low-rank tables ``T = scale * a @ b^T``.

    Args:
        a: (B, G, R) row factors (functions of u); b: (B, G, R) column factors (of v).
        u, v: (B, n) copula samples.
    Returns:
        dv: (B,) estimates; table: (B, G, G) the materialised critic.
    """
    joint = (interp_rows(a, u) * interp_rows(b, v)).sum(-1).mean(-1) * scale  # (B,)
    table = torch.einsum("bir,bjr->bij", a, b) * scale
    return joint - log_mean_exp(table, dim=(1, 2)), table
