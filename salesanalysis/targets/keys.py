"""Allocation keys: how the company target is shared over each dimension's members.

Per cell: the historical share (window from the plan), the forecast's share, the share of
market potential (market size x potential_share; the market has no customer type, so a cell's
potential is split over customer types by the cell's history) and equal shares. Per dimension
(region, product line, customer type) each key's shares are summed over the other two
dimensions and blended by the plan's ``allocation.key_weights``: the blend x the company target
is the dimension's *margin*, what :mod:`salesanalysis.targets.crossing` fits the cells to.

Without a forecast of every plan month (a history too short to forecast, or a forecast that
starts too late) the forecast key's weight is moved to the history key, and a note says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesanalysis.errors import ConstraintConflict
from salesanalysis.i18n import tr
from salesanalysis.targets.cells import PlanCells, shares
from salesanalysis.targets.plan import DIMENSIONS, KEY_NAMES, Plan

__all__ = ["AllocationKeys", "allocation_keys", "cell_keys", "effective_weights"]


@dataclass(frozen=True)
class AllocationKeys:
    """The keys of one plan.

    Attributes:
        weights: the key weights used (``history, forecast, potential, equal``; sum 1): the
            plan's, with the forecast key's weight moved to history without a forecast.
        cells: per key, the cell shares (vectors in cell order, each summing to 1).
        margins: per dimension (in ``DIMENSIONS`` order), total x blended shares of its members.
        table: one row per dimension member: ``dimension, member, history, forecast,
            potential, equal`` (each key's share), ``blended`` and ``margin``.
        notes: e.g. the potential key falling back to history without a market size.
    """

    weights: dict[str, float]
    cells: dict[str, np.ndarray]
    margins: list[np.ndarray]
    table: pd.DataFrame
    notes: tuple[str, ...] = ()

    def blend(self, total: float) -> np.ndarray:
        """The blended cell key x ``total`` (what the cells would get without the crossing)."""
        return total * sum(self.weights[k] * self.cells[k] for k in KEY_NAMES)


def cell_keys(cells: PlanCells) -> dict[str, np.ndarray]:
    """Each key's shares per cell; the potential key is the history's without a market size."""
    hist_c, potential_c, n = cells.history, cells.potential, cells.n
    return {
        "history": shares(pd.Series(hist_c)).to_numpy(),
        "forecast": shares(pd.Series(cells.forecast)).to_numpy(),
        "potential": (
            shares(pd.Series(potential_c)).to_numpy()
            if potential_c.sum() > 0
            else shares(pd.Series(hist_c)).to_numpy()
        ),
        "equal": np.full(n, 1.0 / n),
    }


def effective_weights(plan: Plan, forecast_complete: bool) -> dict[str, float]:
    """The key weights used: the plan's, with the forecast key's weight added to the history
    key's when no forecast covers every plan month."""
    w = plan.allocation.key_weights.as_dict()
    if not forecast_complete and w["forecast"] > 0:
        w = {**w, "history": w["history"] + w["forecast"], "forecast": 0.0}
    return w


def allocation_keys(cells: PlanCells, total: float, plan: Plan) -> AllocationKeys:
    """The keys per cell and the blended margins per dimension for the company ``total``.

    Raises:
        ConstraintConflict: the three dimensions' margins do not sum to the same total.
    """
    w = effective_weights(plan, cells.coverage.complete)
    keys = cell_keys(cells)
    shape = cells.shape
    notes = []
    planned = plan.allocation.key_weights.as_dict()
    if w != planned:
        notes.append(
            tr(
                "no forecast covers the plan months: the forecast key's weight ({forecast}) is "
                "moved to the history key ({before} -> {after})"
            ).format(
                forecast=f"{planned['forecast']:.0%}",
                before=f"{planned['history']:.0%}",
                after=f"{w['history']:.0%}",
            )
        )
    if cells.potential.sum() <= 0 and w["potential"] > 0:
        notes.append(tr("no market size for the plan months: the potential key uses history"))
    key_rows = []
    margins = []
    for ax, d in enumerate(DIMENSIONS):
        other = tuple(a for a in range(3) if a != ax)
        parts = {}
        for k in KEY_NAMES:
            if k == "equal":
                parts[k] = np.full(shape[ax], 1.0 / shape[ax])
            else:
                parts[k] = keys[k].reshape(shape).sum(axis=other)
        blended = sum(w[k] * parts[k] for k in KEY_NAMES)
        margins.append(total * blended)
        for i, lab in enumerate(cells.members[d]):
            key_rows.append(
                {
                    "dimension": d,
                    "member": lab,
                    **{k: float(parts[k][i]) for k in KEY_NAMES},
                    "blended": float(blended[i]),
                    "margin": float(total * blended[i]),
                }
            )
    sums = [float(m.sum()) for m in margins]
    if max(sums) - min(sums) > 1e-6 * max(1.0, total):
        raise ConstraintConflict(
            tr("the allocation margins do not agree: {sums}").format(
                sums=", ".join(
                    tr("{dim} sums to {total}").format(dim=d, total=f"{s:,.0f}")
                    for d, s in zip(DIMENSIONS, sums, strict=True)
                )
            ),
            fix=tr("check allocation.key_weights"),
        )
    return AllocationKeys(w, keys, margins, pd.DataFrame(key_rows), tuple(notes))
