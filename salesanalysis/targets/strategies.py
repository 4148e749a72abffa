"""Strategies: price %, promotion %, product pushes and channel shifts change the mix, not the
company total.

They are applied to the cells they name, in the plan's order; then every cell is scaled back so
the company total holds. The company target is the planner's commitment (growth, value or
percentile); a price rise on pumps makes pumps carry more of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesanalysis.targets.cells import segment_mask
from salesanalysis.targets.plan import Strategy

__all__ = ["StrategyMix", "apply_strategies"]


@dataclass(frozen=True)
class StrategyMix:
    """The cells after the strategies.

    Attributes:
        cells: cell targets after the strategies, scaled back to the company total.
        effects: per strategy name, what it moved per cell (before re-normalising).
        renorm: per cell, the re-normalisation back to the company total.
        price_mult, promo_mult: per cell, the product of (1 + pct) of the price (promotion and
            product) strategies naming the cell (for the bridge from last year).
    """

    cells: np.ndarray
    effects: dict[str, np.ndarray]
    renorm: np.ndarray
    price_mult: np.ndarray
    promo_mult: np.ndarray


def apply_strategies(
    x0: np.ndarray,
    cells: pd.DataFrame,
    grid: pd.MultiIndex,
    strategies: Sequence[Strategy],
    total: float,
) -> StrategyMix:
    """Apply ``strategies`` in order to the cell targets ``x0`` and scale back to ``total``.

    A price, promotion or product push multiplies the cells of its segment by (1 + pct) (a
    product push: the extra revenue of the product it names, see the demand plan); a channel shift
    moves pct of its segment's cells to the cells named by ``to`` (the segment's other keys
    unchanged). ``cells`` and ``grid`` are the cells as a frame and as an index (same order).
    """
    n = len(x0)
    x = x0.copy()
    strat_eff: dict[str, np.ndarray] = {}
    price_mult = np.ones(n)
    promo_mult = np.ones(n)
    for s in strategies:
        before = x.copy()
        src = segment_mask(cells, s.segment_dict)
        if s.kind in ("price", "promotion", "product"):
            x[src] *= 1 + s.pct
            (price_mult if s.kind == "price" else promo_mult)[src] *= 1 + s.pct
        else:
            moved = x[src] * s.pct
            x[src] -= moved
            dest = cells[src].copy()
            for k, v in dict(s.to).items():  # type: ignore[arg-type]
                dest[k] = v
            pos = grid.get_indexer(pd.MultiIndex.from_frame(dest))
            np.add.at(x, pos, moved)
        strat_eff[s.name] = x - before
    x1 = x
    x2 = x1 * (total / x1.sum()) if x1.sum() > 0 else x1
    return StrategyMix(x2, strat_eff, x2 - x1, price_mult, promo_mult)
