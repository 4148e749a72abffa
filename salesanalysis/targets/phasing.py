"""Phasing: each cell's annual target spread over the plan months.

By the cell's own seasonality (revenue by calendar month over the last three full years before
the cutoff) when the cell has history in at least three quarters of the plan's calendar months,
else by the company's seasonality; or by the forecast's monthly pattern when the plan says
``phasing: forecast`` and the forecast covers the plan months. A full year is a calendar year
the history covers from January to December; without one (a company that started selling less
than a year before the cutoff, or in the middle of the last year) the months get equal shares,
and a note says so: the months the history lacks would otherwise get no target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesanalysis.i18n import tr
from salesanalysis.targets.cells import CELL, PlanCells
from salesanalysis.targets.periods import PlanWindows
from salesanalysis.targets.plan import DIMENSIONS, Plan

__all__ = ["Phasing", "company_profile", "cell_profiles", "phase_to_months", "seasonal_years"]


@dataclass(frozen=True)
class Phasing:
    """Cell targets by month.

    Attributes:
        weights: per cell (rows, cell order) the share of each plan month (columns); rows sum
            to 1.
        cell_months: cell target x weights (rows sum to the cell targets).
        source: ``history`` or ``forecast``.
        notes: the fallback to history when forecast phasing has no forecast.
    """

    weights: np.ndarray
    cell_months: np.ndarray
    source: str
    notes: tuple[str, ...] = ()


def seasonal_years(hist: pd.DataFrame, win: PlanWindows) -> list[int]:
    """The last (up to) three full calendar years of ``hist`` before the cutoff (years whose
    January to December the history covers)."""
    if hist.empty:
        return []
    first = pd.Timestamp(hist["month"].min())
    years = sorted({m.year for m in hist["month"]})
    full = [y for y in years if pd.Timestamp(f"{y}-01-01") >= first]
    return [y for y in full if pd.Timestamp(f"{y}-12-01") <= win.cutoff][-3:]


def company_profile(hy: pd.DataFrame, months: list[pd.Timestamp]) -> np.ndarray:
    """The company's share of each plan month (by calendar month; equal without history)."""
    cal = [m.month for m in months]
    comp_prof = hy.groupby(hy["month"].dt.month)["revenue"].sum().clip(lower=0)
    comp_prof = comp_prof.reindex(range(1, 13), fill_value=0.0).to_numpy()
    if comp_prof.sum() <= 0:
        comp_prof = np.ones(12)
    comp_ph = comp_prof[np.array(cal) - 1]
    return comp_ph / comp_ph.sum()


def cell_profiles(
    hy: pd.DataFrame, members: dict[str, list[str]], months: list[pd.Timestamp]
) -> np.ndarray:
    """Each cell's revenue in the plan months' calendar months (cells x plan months, >= 0)."""
    cal = [m.month for m in months]
    n = int(np.prod([len(members[d]) for d in DIMENSIONS]))
    cell_prof = (
        hy.assign(cm=hy["month"].dt.month, **{d: hy[d].astype(str) for d in CELL})
        .groupby([*CELL, "cm"])["revenue"]
        .sum()
        .clip(lower=0)
    )
    cell_prof = cell_prof.reindex(
        pd.MultiIndex.from_product(
            [*[members[d] for d in DIMENSIONS], range(1, 13)], names=[*CELL, "cm"]
        )
    ).fillna(0.0)
    return cell_prof.to_numpy().reshape(n, 12)[:, np.array(cal) - 1]


def _forecast_profiles(cells: PlanCells, months: list[pd.Timestamp]) -> np.ndarray:
    """Each cell's forecast for each plan month (cells x plan months, >= 0)."""
    fcm = cells.coverage.cell.groupby([*CELL, "month"])["mean"].sum().clip(lower=0)
    arr = fcm.reindex(
        pd.MultiIndex.from_product(
            [*[cells.members[d] for d in DIMENSIONS], months], names=[*CELL, "month"]
        )
    ).fillna(0.0)
    return arr.to_numpy().reshape(cells.n, len(months)).copy()


def phase_to_months(x3: np.ndarray, cells: PlanCells, win: PlanWindows, plan: Plan) -> Phasing:
    """Spread the cell targets ``x3`` over the plan months (see the module docstring)."""
    months, nm, n = win.months, win.n_months, cells.n
    notes: list[str] = []
    phase = np.zeros((n, nm))
    src_ph = "history"
    if plan.phasing == "forecast" and cells.coverage.complete:
        phase = _forecast_profiles(cells, months)
        src_ph = "forecast"
    elif plan.phasing == "forecast":
        notes.append(tr("phasing: forecast missing for the plan months, history used instead"))
    full_years = seasonal_years(cells.hist, win)
    if not full_years and src_ph == "history":
        notes.append(
            tr(
                "phasing: no full calendar year of history before the cutoff, so the revenue "
                "and customer targets are spread evenly over the plan months"
            )
        )
    hy = cells.hist[cells.hist["month"].dt.year.isin(full_years)]
    comp_ph = company_profile(hy, months)
    cell_prof = cell_profiles(hy, cells.members, months)
    months_with = (cell_prof > 0).sum(axis=1)
    for i in range(n):
        if src_ph == "forecast" and phase[i].sum() > 0:
            phase[i] /= phase[i].sum()
        elif (
            months_with[i] >= max(1, int(0.75 * nm))
            and cell_prof[i].sum() > 0
            and len(full_years) >= 1
        ):
            phase[i] = cell_prof[i] / cell_prof[i].sum()
        else:
            phase[i] = comp_ph
    return Phasing(phase, x3[:, None] * phase, src_ph, tuple(notes))
