"""Re-planning: the remaining annual gap re-phased and re-allocated; the plan is never changed.

Private module; the public API is :mod:`salesanalysis.review`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.review.common import (
    DIMS,
    check_period,
    fiscal_months,
    keys_as_str,
    plan_get,
    review_start,
)
from salesanalysis.targets.kernels import largest_remainder

MEASURES = {
    "revenue": ("target_revenue", "revenue"),
    "revenue_no_cushion": ("target_revenue_no_cushion", "revenue"),
    "customers": ("target_customers", "customers"),
}


def allocate_capped(
    need: float, base: np.ndarray, weight: np.ndarray, cap: float
) -> tuple[np.ndarray, bool]:
    """Split ``need`` over units proportionally to ``weight``, each at most ``cap x base``.

    Water-filling: allocate, clip the units over their cap, give the excess to the others in
    proportion to their weight, repeat. When the caps cannot hold the whole need, the rest is
    spread in proportion to ``base`` on top of the caps and ``True`` is returned (caps
    exceeded). Units with zero weight get nothing unless the caps are exceeded.
    """
    base = np.asarray(base, dtype=float)
    weight = np.asarray(weight, dtype=float)
    out = np.zeros(len(base))
    if need <= 0 or len(base) == 0:
        return out, False
    limit = cap * base
    free = weight > 0
    rest = float(need)
    for _ in range(len(base) + 1):
        if rest <= 1e-9 or not free.any():
            break
        share = np.where(free, weight, 0.0)
        add = rest * (share / share.sum())  # proportions first: no precision loss on tiny bases
        room = limit - out
        over = free & (add >= room)
        if not over.any():
            out += add
            rest = 0.0
            break
        out[over] = limit[over]
        rest = need - out.sum()
        free &= ~over
    if rest > 1e-9:
        if base.sum() > 0:
            out += rest * (base / base.sum())
        else:
            out += rest / len(base)
        return out, True
    return out, False


def replan(
    targets: pd.DataFrame,
    actuals: pd.DataFrame,
    period: Any,
    fiscal_year: int,
    *,
    p_reach: pd.DataFrame | None = None,
    plan: Any = None,
    cap: float = 1.5,
    p_floor: float = 0.05,
    p_default: float = 0.5,
    floor_at_plan: bool = True,
    units: dict[str, float] | None = None,
    first_month: Any = None,
) -> pd.DataFrame:
    """Revised targets for the months after the report period, beside the original plan.

    Rule, per measure (revenue, customers):

    1. *Need* = full-year target - actual to date (company; actuals of keys without a target
       count too), floored at 0. The total to re-allocate over the open months is the need, but
       with ``floor_at_plan`` (default) never less than the plan for those months: a company
       ahead of plan keeps its remaining target (re-allocated to those able to deliver it);
       a company behind gets the larger need. ``floor_at_plan=False`` gives the pure gap.
    2. It is re-allocated to the units (``region x product_line x customer_type x rep_id``)
       still able to close it: weight = the unit's remaining planned target x its probability
       of reaching its full-year revenue target (``p_reach``, clipped to ``[p_floor, 1]``;
       ``p_default`` when unknown). Each unit gets at most ``cap`` x its remaining planned
       target; the excess goes to the others (water-filling). If the caps cannot absorb the
       need, the rest is spread in proportion to the remaining plan (``caps_exceeded``).
       Units with no remaining planned target (e.g. a rep who left) get nothing.
    3. Each unit's amount is re-phased over the remaining months by its own original phasing
       (the seasonality of its planned targets).
    4. Cells are rounded to the plan's units (``rounding.revenue``, ``rounding.customers``) by
       largest remainder (:func:`salesanalysis.targets.kernels.largest_remainder`, the decomposition's
       rounding) so that the open months add up exactly to the rounded total of step 1.

    When the targets carry ``target_revenue_no_cushion`` (the company view without the
    over-assignment cushion) it is re-planned the same way (``*_revenue_no_cushion`` columns).
    Closed months (up to the report period) keep the plan as revised target. The input frames
    are not modified; the original plan is kept in the ``plan_*`` columns.

    Args:
        targets, actuals: :func:`monthly_targets`, :func:`monthly_actuals`.
        p_reach: ``region, product_line, customer_type, rep_id, p_reach_target`` (e.g. the
            bottom level of :func:`landing_forecast`).
        first_month: a mid-year plan's first month (None: January); the targets and actuals
            are those of the plan's months only (actuals before the plan do not close the gap).

    Returns:
        ``month, region, product_line, customer_type, rep_id, status`` (closed/open),
        ``plan_revenue, actual_revenue, revised_revenue, change_revenue``, the same for
        customers, and ``caps_exceeded_revenue`` / ``caps_exceeded_customers`` flags;
        ``df.attrs["need"]`` holds the gap per measure (target - actual, rounded, >= 0) and
        ``df.attrs["revised_open_total"]`` what the open months now add up to.
    """
    p = check_period(period, fiscal_year)
    units = _rounding_units(plan, units)
    grid = _replan_grid(targets, actuals, p, fiscal_year, first_month)
    prob = _reach_probabilities(grid, p_reach, p_floor, p_default)
    res = grid.cells[["month", *DIMS, "status"]].copy()
    needs: dict[str, float] = {}
    totals: dict[str, float] = {}
    for measure, (tcol, acol) in MEASURES.items():
        if tcol not in grid.cells.columns:
            continue
        m = _replan_measure(grid, tcol, acol, prob, units[measure], cap, floor_at_plan)
        needs[measure], totals[measure] = m.need, m.open_total
        res[f"plan_{measure}"] = m.plan
        if measure != "revenue_no_cushion":  # same actuals as revenue
            res[f"actual_{measure}"] = np.where(grid.open_, np.nan, np.nan_to_num(m.actual))
        res[f"revised_{measure}"] = m.revised
        res[f"change_{measure}"] = m.revised - m.plan
        res[f"caps_exceeded_{measure}"] = m.caps_exceeded
    if "plan_name" in targets.columns and len(targets):
        res["plan_name"] = str(targets["plan_name"].iloc[0])
    res.attrs["need"] = needs
    res.attrs["revised_open_total"] = totals
    return res


@dataclass
class _ReplanGrid:
    """The fiscal year's cells (``month x DIMS``) with their targets and actuals."""

    cells: pd.DataFrame  # month, DIMS, target columns, revenue, customers, status
    targets: pd.DataFrame  # the targets of the fiscal year
    actuals: pd.DataFrame  # the actuals of the fiscal year to date
    open_: np.ndarray  # cells of the months after the report period
    unit_key: pd.MultiIndex  # the unit (DIMS) of each cell


@dataclass
class _Revised:
    """One measure re-planned: cell arrays in the order of the grid."""

    plan: np.ndarray
    actual: np.ndarray
    revised: np.ndarray
    caps_exceeded: bool
    need: float  # the gap: target - actual, rounded, >= 0
    open_total: float  # what the open months now add up to


def _rounding_units(plan: Any, units: dict[str, float] | None) -> dict[str, float]:
    """The unit each measure is rounded to (the plan's ``rounding``, unless given)."""
    units = dict(units or {})
    units.setdefault("revenue", float(plan_get(plan, "rounding.revenue", 1000.0)))
    units.setdefault("customers", float(plan_get(plan, "rounding.customers", 1)))
    units.setdefault("revenue_no_cushion", units["revenue"])
    return units


def _replan_grid(
    targets: pd.DataFrame,
    actuals: pd.DataFrame,
    p: pd.Period,
    fiscal_year: int,
    first_month: Any = None,
) -> _ReplanGrid:
    """The cells with a target in the plan's months of the fiscal year, their targets and
    actuals, closed (up to the report period) or open."""
    end = p.to_timestamp()
    start = review_start(fiscal_year, first_month)
    months = fiscal_months(fiscal_year)
    t = keys_as_str(targets)
    t = t[t["month"].isin(months[months >= start])]
    a = keys_as_str(actuals)
    a = a[(a["month"] >= start) & (a["month"] <= end)]
    grid = t[["month", *DIMS]].drop_duplicates()
    tcols = [c for c, _ in MEASURES.values() if c in t.columns]
    out = grid.merge(
        t.groupby(["month", *DIMS])[tcols].sum().reset_index(), on=["month", *DIMS], how="left"
    )
    out = out.merge(
        a.groupby(["month", *DIMS])[["revenue", "customers"]].sum().reset_index(),
        on=["month", *DIMS],
        how="left",
    )
    out = out.sort_values(["month", *DIMS], kind="mergesort").reset_index(drop=True)
    out["status"] = np.where(out["month"] <= end, "closed", "open")
    open_ = (out["status"] == "open").to_numpy()
    return _ReplanGrid(out, t, a, open_, pd.MultiIndex.from_frame(out[DIMS]))


def _reach_probabilities(
    grid: _ReplanGrid, p_reach: pd.DataFrame | None, p_floor: float, p_default: float
) -> np.ndarray:
    """Each cell's unit's probability of reaching its target, clipped to [p_floor, 1]
    (``p_default`` when unknown)."""
    if p_reach is not None and len(p_reach):
        pr = keys_as_str(p_reach).groupby(DIMS)["p_reach_target"].mean()
        prob = pr.reindex(grid.unit_key).to_numpy(float)
    else:
        prob = np.full(len(grid.cells), np.nan)
    return np.clip(np.where(np.isfinite(prob), prob, p_default), p_floor, 1.0)


def _replan_measure(
    grid: _ReplanGrid,
    tcol: str,
    acol: str,
    prob: np.ndarray,
    unit: float,
    cap: float,
    floor_at_plan: bool,
) -> _Revised:
    """Step 1 (the need, floored at the plan of the open months) and the open months
    re-allocated (:func:`_reallocate`); closed months keep the plan."""
    out, open_ = grid.cells, grid.open_
    plan_v = out[tcol].fillna(0.0).to_numpy(float)
    weight_v = np.clip(plan_v, 0.0, None)  # a negative planned cell takes no share
    act_v = out[acol].to_numpy(float)
    need = max(float(grid.targets[tcol].sum() - grid.actuals[acol].sum()), 0.0)
    gap = round(need / unit) * unit
    if floor_at_plan:
        need = max(need, float(np.sum(weight_v[open_])))
    need_r = round(need / unit) * unit
    revised = plan_v.copy()
    flag = False
    if open_.any():
        revised[open_], flag = _reallocate(grid, weight_v, prob, need_r, unit, cap)
    return _Revised(plan_v, act_v, revised, flag, gap, need_r if open_.any() else 0.0)


def _reallocate(
    grid: _ReplanGrid,
    weight_v: np.ndarray,
    prob: np.ndarray,
    need_r: float,
    unit: float,
    cap: float,
) -> tuple[np.ndarray, bool]:
    """Steps 2-4: ``need_r`` over the units (remaining plan x probability, capped), each
    unit's amount phased by its own plan, rounded to ``unit``; the open cells' values and
    whether the caps were exceeded."""
    out, open_, unit_key = grid.cells, grid.open_, grid.unit_key
    op = out.loc[open_, DIMS].assign(plan=weight_v[open_], prob=prob[open_])
    per = op.groupby(DIMS, sort=True).agg(base=("plan", "sum"), prob=("prob", "first"))
    alloc, flag = allocate_capped(
        need_r,
        per["base"].to_numpy(),
        per["base"].to_numpy() * per["prob"].to_numpy(),
        cap,
    )
    per["alloc"] = alloc
    rem = per["base"].reindex(unit_key).to_numpy()
    u_alloc = per["alloc"].reindex(unit_key).to_numpy()
    phase = np.where(rem > 0, weight_v / np.where(rem > 0, rem, 1.0), 0.0)
    raw = np.where(open_, u_alloc * phase, 0.0)
    if per["base"].sum() == 0:  # nothing planned in the open months: spread evenly
        raw = np.where(open_, need_r / open_.sum(), 0.0)
    return largest_remainder(raw[open_], unit, need_r), flag


def replan_summary(revised: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Plan and revised targets side by side, by ``by`` (default: region) and status:
    ``plan_revenue, revised_revenue, change_revenue, change_pct``."""
    by = list(by or ["region"])
    g = revised.groupby([*by, "status"], sort=True)[
        ["plan_revenue", "revised_revenue", "plan_customers", "revised_customers"]
    ]
    s = g.sum().reset_index()
    s["change_revenue"] = s["revised_revenue"] - s["plan_revenue"]
    s["change_pct"] = np.where(
        s["plan_revenue"] != 0,
        s["change_revenue"] / s["plan_revenue"].where(s["plan_revenue"] != 0, 1.0),
        np.nan,
    )
    return s


__all__ = ["allocate_capped", "replan", "replan_summary"]
