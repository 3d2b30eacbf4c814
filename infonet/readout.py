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

Cross-fitting. When the table is built from the very samples the joint term averages over, it
fits them and the read-out is biased upwards at small n; reading it out on samples it was not
built from (``InfoNetConfig.crossfit``) removes that part of the bias.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["lookup", "dv_bound", "log_mean_exp"]


def log_mean_exp(x: torch.Tensor, dim) -> torch.Tensor:
    """log(mean(exp(x))) over ``dim`` (int or tuple), computed stably."""
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    count = math.prod(x.shape[d] for d in dims)
    return torch.logsumexp(x, dim=dims) - math.log(count)


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
