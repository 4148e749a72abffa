"""Re-planning: the remaining annual gap re-phased and re-allocated; the plan is never changed.

The rule (stated in step 04 next to the revised targets; bounds from ``plan.yaml``'s
``replan:`` section, :class:`salesanalysis.targets.plan.ReplanSettings`):

* The remaining gap goes to those with headroom: units (rep x segment) that can still reach
  their target get raises weighted by their probability of reaching it x the rep's remaining
  capacity (:func:`salesanalysis.targets.capacity.rep_capacity`, the decomposition's rule).
* A unit or rep whose chance of reaching its full-year target is under ``min_chance`` never
  gets a higher remaining target than planned; its remainder is lowered toward its landing
  forecast, and the difference moves to those ahead.
* Every unit's revised remaining target stays within ``+/- max_change`` of its planned one (so
  every rep's does too), in whole rounding units. When the bounds cannot hold the total, the
  bounds win: what cannot be placed is reported as *unallocated*, never spread silently.

Private module; the public API is :mod:`salesanalysis.review`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.i18n import N_, tr
from salesanalysis.report.formatting import money, number, pct
from salesanalysis.review.common import (
    DIMS,
    check_period,
    fiscal_months,
    keys_as_str,
    plan_get,
    review_start,
)
from salesanalysis.targets import capacity
from salesanalysis.targets.kernels import largest_remainder

MEASURES = {
    "revenue": ("target_revenue", "revenue"),
    "revenue_no_cushion": ("target_revenue_no_cushion", "revenue"),
    "customers": ("target_customers", "customers"),
}
# measures whose remainder may be lowered toward the landing forecast (a revenue forecast)
_FORECAST_MEASURES = ("revenue", "revenue_no_cushion")
MAX_CHANGE = 0.30  # plan.yaml replan.max_change (targets.plan.ReplanSettings)
MIN_CHANCE = 0.10  # plan.yaml replan.min_chance
RULE_LABELS = {
    "closed": N_("closed month"),
    "raised": N_("raised"),
    "kept": N_("kept"),
    "cut": N_("cut"),
    "lowered": N_("lowered: chance under {min_chance}"),
}
"""What the rule did to a unit (the ``rule`` column, in the report's language)."""


def water_fill(amount: float, room: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Split ``amount`` over units in proportion to ``weight``, each at most its ``room``.

    Water-filling: allocate in proportion, fix the units that reach their room, give the excess
    to the others in proportion to their weight, repeat. Units with zero weight or zero room
    get nothing, so the result sums to ``min(amount, room of the weighted units)``: the caller
    sees what could not be placed instead of a bound being broken.
    """
    room = np.clip(np.asarray(room, dtype=float), 0.0, None)
    weight = np.clip(np.asarray(weight, dtype=float), 0.0, None)
    out = np.zeros(len(room))
    free = (weight > 0) & (room > 0)
    rest = float(amount)
    for _ in range(len(room) + 1):
        if rest <= 0 or not free.any():
            break
        share = np.where(free, weight, 0.0)
        add = rest * (share / share.sum())  # proportions first: no precision loss
        over = free & (add >= room - out)
        if not over.any():
            return out + add
        out[over] = room[over]
        free &= ~over
        rest = float(amount) - float(out.sum())
    return out


def replan(
    targets: pd.DataFrame,
    actuals: pd.DataFrame,
    period: Any,
    fiscal_year: int,
    *,
    p_reach: pd.DataFrame | None = None,
    plan: Any = None,
    reps: pd.DataFrame | None = None,
    max_change: float | None = None,
    min_chance: float | None = None,
    p_default: float = 0.5,
    floor_at_plan: bool = True,
    units: dict[str, float] | None = None,
    first_month: Any = None,
) -> pd.DataFrame:
    """Revised targets for the months after the report period, beside the original plan.

    Rule, per measure (revenue, revenue without cushion, customers), over *units* (``region x
    product_line x customer_type x rep_id``, a rep's segment):

    1. *Need* = full-year target - actual to date (company; actuals of keys without a target
       count too), floored at 0; with ``floor_at_plan`` (default) never less than the plan of
       the open months (a company ahead of plan keeps its remaining target).
    2. *Chance* of a unit = the lower of its own and its rep's probability of reaching the
       full-year revenue target (``p_reach``: :func:`landing_forecast` rows of levels
       ``bottom`` and ``rep``; ``p_default`` when neither is known).
    3. *Bounds*: each unit's revised remaining target stays within ``+/- max_change`` of its
       planned remaining target ``R``, in whole rounding units (``ceil((1 - max_change) R)``
       to ``floor((1 + max_change) R)``); a unit whose chance is under ``min_chance`` is
       *behind* and never goes above ``R``. A rep's total, the sum of its units, is then
       within the same bounds. Units without a remaining plan (a rep who left) get nothing.
    4. Behind units start at their landing forecast (the forecast of their remaining
       months; a unit without one gets its share of its rep's forecast not in its other units)
       held within the bounds; the others at ``R``. The difference to the need goes:
       up, to the units ahead in proportion to chance x remaining capacity (the rep's capacity
       in the open months from :func:`salesanalysis.targets.capacity.rep_capacity`, ``reps``
       and the plan's ramp; split over the rep's units by their remaining plan; a full FTE per
       open month when ``reps`` is not given or lacks the rep), each up to its bound, then
       back to behind units toward their plan; down (a need below the plan, only with
       ``floor_at_plan=False``), from units in proportion to (1 - chance) x ``R``, then in
       proportion to the room left, each down to its bound.
    5. What the bounds cannot place is *unallocated* (``attrs["unallocated"]``: > 0 when
       the remaining months carry less than the need, < 0 when the cuts could not bring them
       down to it); bounds are never broken to keep the total.
    6. Each unit's amount is rounded to the plan's unit (largest remainder within the bounds,
       :func:`salesanalysis.targets.kernels.largest_remainder`) and re-phased over the open
       months by its own planned phasing, rounded again per unit, so months, units and every
       roll-up add up exactly to the revised open total.

    Closed months (up to the report period) keep the plan. The input frames are not modified.

    Args:
        targets, actuals: :func:`monthly_targets`, :func:`monthly_actuals`.
        p_reach: ``[level], region, product_line, customer_type, rep_id, p_reach_target``
            and optionally ``forecast_rest`` (:func:`landing_forecast` with levels
            ``["bottom", "rep"]``; rows without ``level`` are read as ``bottom``).
        plan: the plan (its ``replan``, ``rounding`` and ``reps`` ramp settings).
        reps: the reps table (``rep_id``, ``hire_date``, ``end_date``, ``fte``).
        max_change, min_chance: override the plan's ``replan`` settings.
        first_month: a mid-year plan's first month (None: January); the targets and actuals
            are those of the plan's months only (actuals before the plan do not close the gap).

    Returns:
        ``month, region, product_line, customer_type, rep_id, status`` (closed/open),
        ``chance``, ``rule`` (what the rule did to the unit's revenue), and per measure
        ``plan_*, actual_*, revised_*, change_*``; ``attrs``: ``need`` (the gap, rounded,
        >= 0), ``revised_open_total``, ``unallocated``, ``rule`` (the bounds used).
    """
    p = check_period(period, fiscal_year)
    rule = _rule_settings(plan, max_change, min_chance)
    units = _rounding_units(plan, units)
    grid = _replan_grid(targets, actuals, p, fiscal_year, first_month)
    chance, landing = _unit_chances(grid, p_reach, p_default)
    cap = _rep_capacity(grid, reps, plan)
    res = grid.cells[["month", *DIMS, "status"]].copy()
    res["chance"] = chance[grid.code]
    attrs: dict[str, dict[str, Any]] = {"need": {}, "revised_open_total": {}, "unallocated": {}}
    for measure, (tcol, acol) in MEASURES.items():
        if tcol not in grid.cells.columns:
            continue
        fc = landing if measure in _FORECAST_MEASURES else np.full(len(landing), np.nan)
        facts = _UnitFacts(chance, fc, cap, grid.units["rep_id"].factorize()[0])
        m = _replan_measure(grid, tcol, acol, facts, units[measure], rule, floor_at_plan)
        attrs["need"][measure], attrs["revised_open_total"][measure] = m.need, m.open_total
        attrs["unallocated"][measure] = m.unallocated
        res[f"plan_{measure}"] = m.plan
        if measure != "revenue_no_cushion":  # same actuals as revenue
            res[f"actual_{measure}"] = np.where(grid.open_, np.nan, np.nan_to_num(m.actual))
        res[f"revised_{measure}"] = m.revised
        res[f"change_{measure}"] = m.revised - m.plan
        if measure == "revenue":
            res["rule"] = np.where(grid.open_, m.labels[grid.code], tr(RULE_LABELS["closed"]))
    if "plan_name" in targets.columns and len(targets):
        res["plan_name"] = str(targets["plan_name"].iloc[0])
    res.attrs.update(attrs)
    res.attrs["rule"] = dict(rule)
    return res


@dataclass
class _ReplanGrid:
    """The fiscal year's cells (``month x DIMS``) with their targets and actuals."""

    cells: pd.DataFrame  # month, DIMS, target columns, revenue, customers, status
    targets: pd.DataFrame  # the targets of the fiscal year
    actuals: pd.DataFrame  # the actuals of the fiscal year to date
    open_: np.ndarray  # cells of the months after the report period
    units: pd.DataFrame  # the units (DIMS), sorted
    code: np.ndarray  # the unit of each cell (row of ``units``)
    open_months: pd.DatetimeIndex  # the months after the report period in the fiscal year


@dataclass
class _UnitFacts:
    """Per unit: chance of reaching the target, landing forecast of the open months (NaN when
    unknown or not used), the rep's remaining capacity (NaN: unknown)."""

    chance: np.ndarray
    landing: np.ndarray
    capacity: np.ndarray
    rep_code: np.ndarray  # the rep (rep_id) of each unit


@dataclass
class _Revised:
    """One measure re-planned: cell arrays in the order of the grid."""

    plan: np.ndarray
    actual: np.ndarray
    revised: np.ndarray
    labels: np.ndarray  # per unit: what the rule did
    need: float  # the gap: target - actual, rounded, >= 0
    open_total: float  # what the open months now add up to
    unallocated: float  # need (floored at plan) - open total: what the bounds could not place


def _rule_settings(
    plan: Any, max_change: float | None, min_chance: float | None
) -> dict[str, float]:
    """The bounds: the arguments, else the plan's ``replan`` section, else the defaults."""
    if max_change is None:
        max_change = plan_get(plan, "replan.max_change", MAX_CHANGE)
    if min_chance is None:
        min_chance = plan_get(plan, "replan.min_chance", MIN_CHANCE)
    mc, pc = float(max_change), float(min_chance)
    if not 0.0 <= mc <= 1.0 or not 0.0 <= pc <= 1.0:
        raise ValueError("replan max_change and min_chance must lie between 0 and 1")
    return {"max_change": mc, "min_chance": pc}


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
    code = out.groupby(DIMS, sort=True).ngroup().to_numpy()
    units = out[DIMS].drop_duplicates().sort_values(DIMS).reset_index(drop=True)
    return _ReplanGrid(out, t, a, open_, units, code, months[months > end])


def _unit_chances(
    grid: _ReplanGrid, p_reach: pd.DataFrame | None, p_default: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's chance (the lower of its own and its rep's probability of reaching the
    target; ``p_default`` when neither is known) and its landing forecast of the open months
    (``forecast_rest``; from its rep's when it has none of its own; NaN when unknown)."""
    n = len(grid.units)
    own = rep = landing = np.full(n, np.nan)
    if p_reach is not None and len(p_reach):
        pr = keys_as_str(p_reach)
        level = pr["level"].astype(str) if "level" in pr.columns else pd.Series("bottom", pr.index)
        bottom, reps = pr[level == "bottom"], pr[level == "rep"]
        ukey = pd.MultiIndex.from_frame(grid.units[DIMS])
        if len(bottom):
            g = bottom.groupby(DIMS)
            own = g["p_reach_target"].mean().reindex(ukey).to_numpy(float)
            if "forecast_rest" in bottom.columns:
                landing = g["forecast_rest"].sum(min_count=1).reindex(ukey).to_numpy(float)
        if len(reps):
            rkey = pd.MultiIndex.from_frame(grid.units[["region", "rep_id"]])
            g = reps.groupby(["region", "rep_id"])
            rep = g["p_reach_target"].mean().reindex(rkey).to_numpy(float)
            if "forecast_rest" in reps.columns:
                rest = g["forecast_rest"].sum(min_count=1).reindex(rkey).to_numpy(float)
                landing = _landing_from_rep(grid, landing, rest)
    both = np.vstack([own, rep])
    known = np.isfinite(both).any(axis=0)
    low = np.min(np.where(np.isfinite(both), both, np.inf), axis=0)
    return np.clip(np.where(known, low, p_default), 0.0, 1.0), landing


def _landing_from_rep(grid: _ReplanGrid, landing: np.ndarray, rep_rest: np.ndarray) -> np.ndarray:
    """Units without a forecast of their own (no sale in their history) whose rep has one: the
    part of the rep's forecast not in its units' own forecasts (at least 0), split over them
    by their remaining planned revenue."""
    rep_code = grid.units["rep_id"].factorize()[0]
    missing = ~np.isfinite(landing) & np.isfinite(rep_rest)
    if not missing.any() or "target_revenue" not in grid.cells.columns:
        return landing
    plan = grid.cells["target_revenue"].fillna(0.0).clip(lower=0.0).to_numpy(float)
    rem = np.bincount(grid.code[grid.open_], plan[grid.open_], minlength=len(grid.units))
    known = pd.Series(np.nan_to_num(landing)).groupby(rep_code).transform("sum").to_numpy()
    left = np.clip(rep_rest - known, 0.0, None)
    w = np.where(missing, rem, 0.0)
    wsum = pd.Series(w).groupby(rep_code).transform("sum").to_numpy()
    share = np.divide(w, wsum, out=np.zeros_like(w), where=wsum > 0)
    return np.where(missing, left * share, landing)


def _rep_capacity(grid: _ReplanGrid, reps: pd.DataFrame | None, plan: Any) -> np.ndarray:
    """The remaining capacity (FTE-months in the open months) of each unit's rep, from the
    one capacity rule (:func:`salesanalysis.targets.capacity.rep_capacity`, the plan's ramp);
    a full FTE per open month for a rep the table does not have (or without a table)."""
    full = float(len(grid.open_months))
    out = np.full(len(grid.units), full)
    if reps is None or not len(reps) or not len(grid.open_months):
        return out
    cap = capacity.rep_capacity(
        reps,
        grid.open_months,
        ramp_months=int(plan_get(plan, "reps.ramp_months", 6)),
        ramp_curve=str(plan_get(plan, "reps.ramp_curve", "linear")),
        ramp_start=float(plan_get(plan, "reps.ramp_start", 0.25)),
    )
    per_rep = cap.groupby(cap["rep_id"].astype(str))["capacity"].sum()
    got = per_rep.reindex(grid.units["rep_id"]).to_numpy(float)
    return np.where(np.isfinite(got), got, out)


def _replan_measure(
    grid: _ReplanGrid,
    tcol: str,
    acol: str,
    facts: _UnitFacts,
    unit: float,
    rule: dict[str, float],
    floor_at_plan: bool,
) -> _Revised:
    """Step 1 (the need, floored at the plan of the open months), steps 2-5 per unit
    (:func:`_unit_totals`) and step 6 (:func:`_phase`); closed months keep the plan."""
    out, open_ = grid.cells, grid.open_
    plan_v = out[tcol].fillna(0.0).to_numpy(float)
    weight_v = np.clip(plan_v, 0.0, None)  # a negative planned cell takes no share
    act_v = out[acol].to_numpy(float)
    need = max(float(grid.targets[tcol].sum() - grid.actuals[acol].sum()), 0.0)
    gap = round(need / unit) * unit
    remaining = np.bincount(grid.code[open_], weight_v[open_], minlength=len(grid.units))
    if floor_at_plan:
        need = max(need, float(remaining.sum()))
    need_r = round(need / unit) * unit
    revised = plan_v.copy()
    labels = np.full(len(grid.units), tr(RULE_LABELS["kept"]), dtype=object)
    total = 0.0
    if open_.any():
        x, labels = _unit_totals(remaining, need_r, facts, unit, rule)
        revised[open_] = _phase(grid, weight_v, remaining, x, unit)
        total = float(x.sum())
    left = need_r - total if open_.any() else 0.0
    return _Revised(plan_v, act_v, revised, labels, gap, total, left)


def unit_bounds(
    remaining: np.ndarray, behind: np.ndarray, max_change: float, unit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's lowest and highest revised remaining target, in whole rounding units:
    ``ceil((1 - max_change) R)`` to ``floor((1 + max_change) R)``, at most ``R`` for a unit
    *behind*. A remaining plan too small for any multiple of the unit inside its bounds keeps
    its nearest multiple."""
    r = np.asarray(remaining, dtype=float) / unit
    lo = np.ceil((1.0 - max_change) * r - 1e-9)
    hi = np.floor((1.0 + max_change) * r + 1e-9)
    near = np.round(r)
    empty = lo > hi
    lo, hi = np.where(empty, near, lo), np.where(empty, near, hi)
    hi = np.where(behind, np.maximum(np.minimum(hi, np.floor(r + 1e-9)), lo), hi)
    return lo * unit, hi * unit


def _unit_totals(
    remaining: np.ndarray,
    need: float,
    facts: _UnitFacts,
    unit: float,
    rule: dict[str, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Steps 2-5 of :func:`replan`: each unit's revised remaining total (rounded, within its
    bounds) and what the rule did to it."""
    chance = facts.chance
    behind = chance < rule["min_chance"]
    lo, hi = unit_bounds(remaining, behind, rule["max_change"], unit)
    base = np.clip(np.round(remaining / unit) * unit, lo, hi)
    lowered = behind & np.isfinite(facts.landing)
    x = np.where(lowered, np.clip(np.nan_to_num(facts.landing), lo, hi), base)
    rep_plan = pd.Series(remaining).groupby(facts.rep_code).transform("sum").to_numpy()
    share = np.divide(remaining, rep_plan, out=np.zeros_like(remaining), where=rep_plan > 0)
    weight = np.where(behind, 0.0, chance * facts.capacity * share)
    hi = np.where(behind | (weight > 0), hi, base)  # no capacity left: no raise
    total = min(max(need, float(lo.sum())), float(hi.sum()))
    total = round(total / unit) * unit
    gap = total - float(x.sum())
    if gap > 0:  # up: those ahead first, then those behind back toward their plan
        x = x + water_fill(gap, hi - x, weight)
        x = x + water_fill(total - x.sum(), hi - x, np.where(behind, hi - x, 0.0))
        x = x + water_fill(total - x.sum(), hi - x, hi - x)  # float residue only
    elif gap < 0:  # down: the least likely first, then in proportion to the room left
        x = x - water_fill(-gap, x - lo, (1.0 - chance) * remaining)
        x = x - water_fill(x.sum() - total, x - lo, x - lo)
    x = _round_within(x, lo, hi, unit, total)
    tol = 1e-9 * max(unit, 1.0)
    labels = np.select(
        [x > remaining + tol, behind & (x < remaining - tol), x < remaining - tol],
        [
            tr(RULE_LABELS["raised"]),
            tr(RULE_LABELS["lowered"]).format(min_chance=pct(rule["min_chance"])),
            tr(RULE_LABELS["cut"]),
        ],
        tr(RULE_LABELS["kept"]),
    ).astype(object)
    return x, labels


def _round_within(
    x: np.ndarray, lo: np.ndarray, hi: np.ndarray, unit: float, total: float
) -> np.ndarray:
    """``x`` rounded to multiples of ``unit`` adding up to ``total`` (largest remainder), each
    within its bounds (multiples of ``unit`` themselves): a value that float noise pushed one
    unit outside is moved back and the unit given to the largest remainder with room."""
    if not len(x):
        return x
    frac = np.clip(x, lo, hi)
    r = largest_remainder(frac, unit, total)
    tol = 1e-6 * unit
    for _ in range(2 * len(r)):
        over, under = np.flatnonzero(r > hi + tol), np.flatnonzero(r < lo - tol)
        if not len(over) and not len(under):
            break
        if len(over):
            i, room = over[0], r + unit <= hi + tol
            r[i] -= unit
            r[int(np.argmax(np.where(room, frac - r, -np.inf)))] += unit
        else:
            i, room = under[0], r - unit >= lo - tol
            r[i] += unit
            r[int(np.argmax(np.where(room, r - frac, -np.inf)))] -= unit
    return r


def _phase(
    grid: _ReplanGrid, weight_v: np.ndarray, remaining: np.ndarray, x: np.ndarray, unit: float
) -> np.ndarray:
    """Step 6: each unit's revised total over its open months by its own planned phasing,
    rounded per unit (largest remainder) so that the unit's months add up to its total."""
    idx = np.flatnonzero(grid.open_)
    codes = grid.code[idx]
    rem = remaining[codes]
    raw = np.where(rem > 0, x[codes] * weight_v[idx] / np.where(rem > 0, rem, 1.0), 0.0)
    out = np.zeros(len(idx))
    order = np.argsort(codes, kind="stable")
    for part in np.split(order, np.flatnonzero(np.diff(codes[order])) + 1):
        u = codes[part[0]]
        if x[u] != 0:
            out[part] = largest_remainder(raw[part], unit, x[u])
    return out


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


def replan_statement(revised: pd.DataFrame, currency: str = "") -> str:
    """The rule and its bounds in one short paragraph, with what it did (reps raised, kept,
    lowered) and, when the bounds could not place the whole amount still needed, how much is
    unallocated and why. Made from :func:`replan`'s output (its ``rule`` column and
    ``attrs``), in the report's language."""
    rule = revised.attrs.get("rule", {"max_change": MAX_CHANGE, "min_chance": MIN_CHANCE})
    mc, pc = pct(rule["max_change"]), pct(rule["min_chance"])
    text = tr(
        "Rule: what is still needed goes to the reps and segments with headroom, in proportion "
        "to their probability of reaching their target × their remaining capacity; a rep or "
        "segment with less than a {min_chance} chance gets no raise (its remainder may be "
        "lowered toward its landing forecast, and the difference moves to those ahead); every "
        "rep × segment, and so every rep, stays within ±{max_change} of its remaining plan "
        "(the plan's re-planning settings)."
    ).format(min_chance=pc, max_change=mc)
    open_ = revised[revised["status"] == "open"]
    if len(open_) and "plan_revenue" in open_.columns:
        per = open_.groupby("rep_id")[["plan_revenue", "revised_revenue"]].sum()
        d = per["revised_revenue"] - per["plan_revenue"]
        text += " " + tr("{raised} reps raised, {kept} unchanged, {lowered} lowered.").format(
            raised=number((d > 0).sum()),
            kept=number((d == 0).sum()),
            lowered=number((d < 0).sum()),
        )
    left = revised.attrs.get("unallocated", {}).get("revenue", 0.0)
    if left > 0:
        text += " " + tr(
            "The bounds leave {amount} of what is still needed unallocated: every rep and "
            "segment ahead that can take more is already {max_change} above its remaining plan "
            "and those behind are back at plan. A wider bound in the plan's re-planning "
            "settings would place it; the bound is kept instead."
        ).format(amount=money(left, currency), max_change="+" + mc)
    elif left < 0:
        text += " " + tr(
            "Cuts are bounded at {max_change}: the remaining months carry {amount} more than "
            "what is still needed."
        ).format(max_change="−" + mc, amount=money(-left, currency))
    return text


__all__ = ["replan", "replan_statement", "replan_summary", "unit_bounds", "water_fill"]
