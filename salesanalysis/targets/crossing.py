"""Crossing the three dimensions: from one margin per dimension to a target per cell.

Iterative proportional fitting (:func:`salesanalysis.targets.kernels.ipf`): a seed holding the
historical (and forecast) interaction of the cells is fitted to the three blended margins of
:mod:`salesanalysis.targets.keys` at once, so each cell keeps its historical weight within the
margins. A seed with (near) zeros where the margins need mass is blended towards independent
shares only as much as it takes to converge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from salesanalysis.errors import ConstraintConflict
from salesanalysis.i18n import currency_suffix, tr
from salesanalysis.targets.checks import CheckRow
from salesanalysis.targets.kernels import ipf
from salesanalysis.targets.keys import AllocationKeys

__all__ = ["BLENDS", "Crossing", "cross_dimensions"]

BLENDS = (1e-4, 1e-2, 0.1, 0.5, 1.0)
"""The shares of independent shares tried, in order, when the seed alone does not converge."""


@dataclass(frozen=True)
class Crossing:
    """The cells after the crossing.

    Attributes:
        cells: cell targets (cell order) whose sums per member of each dimension are the
            margins; they sum to the company total.
        error: the largest absolute margin error left; ``iterations``: IPF rounds.
        checks: the "margins matched" check; ``notes``: the blend, when one was needed.
    """

    cells: np.ndarray
    error: float
    iterations: int
    checks: tuple[CheckRow, ...] = ()
    notes: tuple[str, ...] = ()


def cross_dimensions(
    keys: AllocationKeys, shape: tuple[int, int, int], total: float, currency: str
) -> Crossing:
    """Fit the seed (history and forecast keys, in their weights' proportion; history when
    both weigh 0) to the margins of ``keys``.

    Raises:
        ConstraintConflict: IPF does not converge even from independent shares.
    """
    w, margins = keys.weights, keys.margins
    n = int(np.prod(shape))
    notes: list[str] = []
    wh, wf = w["history"], w["forecast"]
    seed = (
        (wh * keys.cells["history"] + wf * keys.cells["forecast"]) / (wh + wf)
        if wh + wf > 0
        else keys.cells["history"]
    )
    indep = np.einsum("i,j,k->ijk", *[m / max(total, 1e-300) for m in margins]).ravel()
    seed = seed + 1e-9 * indep
    if total > 0:
        fit = ipf(seed.reshape(shape), margins)
        # A cell pattern with (near) zeros where the dimension targets need mass makes IPF
        # crawl; blend it towards the independent shares, which meet every margin exactly,
        # only as much as it takes.
        for lam in BLENDS:
            if fit.converged:
                break
            fit = ipf(((1 - lam) * seed + lam * indep).reshape(shape), margins)
            if fit.converged:
                notes.append(
                    tr(
                        "the history's cell pattern could not meet the dimension targets "
                        "exactly; it was blended {pct} towards independent shares to cross them"
                    ).format(pct=f"{lam:.2%}")
                )
        if not fit.converged:
            raise ConstraintConflict(
                tr(
                    "the three dimensions could not be crossed: after {n} rounds the "
                    "margins are still {off} off"
                ).format(n=fit.iterations, off=f"{fit.max_abs_error:,.2f}"),
                fix=tr(
                    "check the allocation keys (a dimension member with a share but no cell "
                    "history), or use more weight on the equal key"
                ),
            )
        x0 = fit.table.ravel()
        ipf_err, ipf_it = fit.max_abs_error, fit.iterations
    else:
        x0, ipf_err, ipf_it = np.zeros(n), 0.0, 0
    check: CheckRow = (
        tr("IPF: margins matched"),
        True,
        ipf_err,
        tr("max abs margin error {error} {currency} after {n} rounds").format(
            error=f"{ipf_err:.2e}", currency=currency_suffix(currency), n=ipf_it
        ),
    )
    return Crossing(x0, ipf_err, ipf_it, (check,), tuple(notes))
