"""The plan's cells: the history to the cutoff, the forecast's coverage of the plan months, the
members of each dimension, the grid region x product line x customer type, and per-cell history,
last year, forecast and market potential.

This is what every later stage works on: a cell is one row of :attr:`PlanCells.cells`, and a
per-cell amount is a vector in the same order (``PlanCells.vector``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesanalysis.errors import PlanError, Problem
from salesanalysis.i18n import tr
from salesanalysis.targets.checks import CheckRow
from salesanalysis.targets.forecast_rows import forecast_rows
from salesanalysis.targets.periods import PlanWindows
from salesanalysis.targets.plan import DIMENSIONS, Plan

__all__ = [
    "CELL",
    "ForecastCoverage",
    "PlanCells",
    "cell_vector",
    "check_labels",
    "forecast_coverage",
    "history_to_cutoff",
    "market_potential",
    "plan_cells",
    "plan_members",
    "segment_mask",
    "shares",
]

CELL = list(DIMENSIONS)


def segment_mask(cells: pd.DataFrame, seg: dict[str, str]) -> np.ndarray:
    """Which cells a segment (``{dimension: label}``, all must match) names."""
    m = np.ones(len(cells), bool)
    for k, v in seg.items():
        m &= (cells[k] == v).to_numpy()
    return m


def check_labels(seg: dict[str, str], members: dict[str, list[str]], where: str) -> None:
    """Raise :class:`PlanError` when a segment names a label the data does not have."""
    for dim, label in seg.items():
        if label not in members[dim]:
            raise PlanError(
                tr(
                    "{where} names {dim} '{label}', which has no history or forecast in the data"
                ).format(where=where, dim=dim, label=label),
                problems=[
                    Problem(
                        tr("unknown {dim} '{label}'").format(dim=dim, label=label),
                        key=where,
                        values=[label],
                    )
                ],
                fix=tr("use one of: {choices}").format(choices=", ".join(members[dim])),
            )


def shares(s: pd.Series) -> pd.Series:
    """Non-negative shares summing to 1 (equal shares when nothing is positive)."""
    s = s.clip(lower=0.0).fillna(0.0)
    tot = s.sum()
    return s / tot if tot > 0 else pd.Series(1.0 / max(len(s), 1), index=s.index)


def cell_vector(grid: pd.MultiIndex, df: pd.DataFrame, col: str) -> np.ndarray:
    """``df[col]`` summed per cell, in the order of ``grid`` (0 for cells ``df`` lacks)."""
    if df.empty:
        return np.zeros(len(grid))
    s = df.assign(**{d: df[d].astype(str) for d in CELL}).groupby(CELL)[col].sum()
    return s.reindex(grid).fillna(0.0).to_numpy(dtype=float)


def history_to_cutoff(cube: pd.DataFrame, win: PlanWindows, plan: Plan) -> pd.DataFrame:
    """The cube's months up to the cutoff; :class:`PlanError` when the data stop before it."""
    hist = cube[cube["month"] <= win.cutoff]
    if hist.empty or hist["month"].max() < win.cutoff:
        last = tr("none") if hist.empty else f"{cube['month'].max():%Y-%m}"
        raise PlanError(
            tr("plan_cutoff {cutoff} is after the last month of data ({last})").format(
                cutoff=plan.plan_cutoff, last=last
            ),
            fix=tr("set plan_cutoff to a month the transactions cover"),
        )
    return hist


@dataclass(frozen=True)
class ForecastCoverage:
    """How much of the plan the forecast covers.

    Attributes:
        total: company forecast rows for the plan months (``forecast_rows`` schema).
        cell: cell forecast rows for the plan months (empty unless ``complete``).
        months_covered: plan months the company forecast has.
        complete: whether it covers every plan month (forecast key, phasing, feasibility and
            percentile targets need that).
        checks: a failed check when the forecast misses plan months.
        notes: the fallback note (when the forecast key has weight).
    """

    total: pd.DataFrame
    cell: pd.DataFrame
    months_covered: int
    complete: bool
    checks: tuple[CheckRow, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def mean(self) -> float:
        """The annual forecast median (NaN without a complete forecast)."""
        return float(self.total["mean"].sum()) if self.complete else np.nan

    @property
    def sigma(self) -> float:
        """The annual forecast sigma (months perfectly correlated; NaN without a forecast)."""
        return float(self.total["sigma"].sum()) if self.complete else np.nan


def forecast_coverage(
    forecast: pd.DataFrame | None, win: PlanWindows, plan: Plan
) -> ForecastCoverage:
    """Read the forecast for the plan months at the company and cell levels."""
    months, nm = win.months, win.n_months
    fc_total = forecast_rows(forecast, "company", months)
    fc_months = int(fc_total["month"].nunique()) if len(fc_total) else 0
    have_fc = fc_months == nm
    checks: list[CheckRow] = []
    notes: list[str] = []
    if fc_months < nm:
        first_fc = (
            f"{forecast['month'].min():%Y-%m}"
            if forecast is not None and len(forecast)
            else tr("none")
        )
        msg = tr(
            "the forecast covers {n} of the {total} plan months (forecast starts {first})"
        ).format(n=fc_months, total=nm, first=first_fc)
        checks.append((tr("forecast covers the plan months"), False, fc_months, msg))
        if plan.allocation.key_weights.as_dict()["forecast"] > 0:
            notes.append(msg + tr("; the forecast key and forecast phasing fall back to history"))
    fc_cell = forecast_rows(forecast if have_fc else None, "cell", months)
    return ForecastCoverage(fc_total, fc_cell, fc_months, have_fc, tuple(checks), tuple(notes))


def plan_members(
    hist: pd.DataFrame, fc_cell: pd.DataFrame, win: PlanWindows, plan: Plan
) -> dict[str, list[str]]:
    """The sorted labels of each dimension (history window, base window or forecast); checks
    that the plan's strategies and pins name only those (:class:`PlanError` otherwise)."""
    members: dict[str, list[str]] = {}
    recent = hist[hist["month"].isin(set(win.history) | set(win.base))]
    for d in DIMENSIONS:
        labels = set(recent[d].astype(str)) | set(fc_cell[d].astype(str))
        labels.discard("*")
        members[d] = sorted(labels)
        if not members[d]:
            raise PlanError(
                tr("no {dim} has revenue in the history window before the cutoff").format(dim=d),
                fix=tr("check plan_cutoff and allocation.history_window_months"),
            )
    for i, s in enumerate(plan.strategies):
        check_labels(s.segment_dict, members, f"strategies[{i}] ('{s.name}')")
        if s.to is not None:
            check_labels(dict(s.to), members, f"strategies[{i}].to ('{s.name}')")
    for i, p in enumerate(plan.pins):
        check_labels(p.segment_dict, members, f"pins[{i}] ({p.label})")
    return members


def market_potential(
    market: pd.DataFrame | None,
    history: np.ndarray,
    members: dict[str, list[str]],
    win: PlanWindows,
    plan: Plan,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Market size and potential per cell: the market of the plan months per region x product
    line (the same months a year earlier when it lacks them), spread over customer types by
    the cell's history (the company's customer-type mix for a region x product line without
    history); potential = market x ``allocation.potential_share``.

    Returns ``(market, potential, has_market, notes)``, vectors in cell order.
    """
    months = win.months
    shape = tuple(len(members[d]) for d in DIMENSIONS)
    notes: list[str] = []
    mk = market[market["month"].isin(months)] if market is not None else None
    if market is not None and len(market):
        got = set(market["month"].unique())
        if not set(months) <= got:
            last_year = [m - pd.DateOffset(years=1) for m in months]
            latest = max(got)
            mk = market[market["month"].isin(last_year) & (market["month"] <= latest)]
            notes.append(
                tr(
                    "market size for the plan months is missing; the same months of the "
                    "previous year are used"
                )
            )
    if mk is not None and len(mk):
        mrp = mk.assign(
            region=mk["region"].astype(str), product_line=mk["product_line"].astype(str)
        )
        mrp = mrp.groupby(["region", "product_line"])["market_size"].sum()
    else:
        mrp = pd.Series(dtype=float)
    h3 = history.reshape(shape)
    rp_tot = h3.sum(axis=2, keepdims=True)
    ct_global = shares(pd.Series(h3.sum(axis=(0, 1)))).to_numpy()
    ct_split = np.where(rp_tot > 0, h3 / np.where(rp_tot > 0, rp_tot, 1), ct_global[None, None, :])
    mk_rp = np.array(
        [
            [float(mrp.get((r, p), np.nan)) for p in members["product_line"]]
            for r in members["region"]
        ]
    )
    has_market = np.isfinite(mk_rp)[:, :, None] & np.ones(shape, bool)
    market_c = (np.nan_to_num(mk_rp)[:, :, None] * ct_split).ravel()
    potential_c = market_c * plan.allocation.potential_share
    return market_c, potential_c, has_market.ravel(), notes


@dataclass(frozen=True)
class PlanCells:
    """The cells of the plan and what is known about each (vectors in cell order).

    Attributes:
        hist: the cube's rows up to the cutoff.
        coverage: the forecast's coverage of the plan months.
        members: the sorted labels of each dimension.
        grid: the cells as a MultiIndex ``region, product_line, customer_type`` (all
            combinations of the members).
        cells: the same as a frame (one row per cell, the three key columns).
        history: revenue in the history window (``allocation.history_window_months``).
        base: revenue in the 12 months to the cutoff.
        last_year: revenue in last year's comparable months.
        forecast: forecast of the plan months (the history when the forecast is incomplete).
        market: market size of the plan months; ``potential``: market x potential_share.
        has_market: whether the cell's region x product line has a market size.
        checks, notes: what this stage found (forecast coverage, short history, market).
    """

    hist: pd.DataFrame
    coverage: ForecastCoverage
    members: dict[str, list[str]]
    grid: pd.MultiIndex
    cells: pd.DataFrame
    history: np.ndarray
    base: np.ndarray
    last_year: np.ndarray
    forecast: np.ndarray
    market: np.ndarray
    potential: np.ndarray
    has_market: np.ndarray
    checks: tuple[CheckRow, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        """Number of cells."""
        return len(self.cells)

    @property
    def shape(self) -> tuple[int, int, int]:
        """Members per dimension (the cells reshape to this 3-d table)."""
        r, p, c = (len(self.members[d]) for d in DIMENSIONS)
        return r, p, c

    def vector(self, df: pd.DataFrame, col: str) -> np.ndarray:
        """``df[col]`` summed per cell (see :func:`cell_vector`)."""
        return cell_vector(self.grid, df, col)


def plan_cells(
    cube: pd.DataFrame,
    market: pd.DataFrame | None,
    forecast: pd.DataFrame | None,
    win: PlanWindows,
    plan: Plan,
) -> PlanCells:
    """Build :class:`PlanCells`: history, forecast coverage, members, grid, vectors, market.

    Raises:
        PlanError: no data to the cutoff, a dimension without labels, or a strategy or pin
            naming a label the data do not have.
    """
    hist = history_to_cutoff(cube, win, plan)
    notes: list[str] = []
    if hist["month"].min() > win.base[0]:
        notes.append(
            tr(
                "less than 12 months of history before the cutoff (from {first}); last-year "
                "figures cover fewer months"
            ).format(first=f"{hist['month'].min():%Y-%m}")
        )
    cov = forecast_coverage(forecast, win, plan)
    members = plan_members(hist, cov.cell, win, plan)
    grid = pd.MultiIndex.from_product([members[d] for d in DIMENSIONS], names=CELL)
    hist_c = cell_vector(grid, hist[hist["month"].isin(win.history)], "revenue")
    base_c = cell_vector(grid, hist[hist["month"].isin(win.base)], "revenue")
    ly_c = cell_vector(grid, hist[hist["month"].isin(win.last_year)], "revenue")
    fc_c = cell_vector(grid, cov.cell, "mean") if cov.complete else hist_c.copy()
    market_c, potential_c, has_market, mk_notes = market_potential(
        market, hist_c, members, win, plan
    )
    return PlanCells(
        hist=hist,
        coverage=cov,
        members=members,
        grid=grid,
        cells=grid.to_frame(index=False),
        history=hist_c,
        base=base_c,
        last_year=ly_c,
        forecast=fc_c,
        market=market_c,
        potential=potential_c,
        has_market=has_market,
        checks=cov.checks,
        notes=(*notes, *cov.notes, *mk_notes),
    )
