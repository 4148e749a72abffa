"""Target decomposition: from the company target to every cell, rep and month.

:func:`decompose` runs the stages in order, each a pure function in a module of its own (frames
and arrays in, a small frozen result out; :func:`write_targets` is the only I/O):

1. **Company targets** (:mod:`~salesanalysis.targets.company`) per measure from the plan, on
   the plan's cells (:mod:`~salesanalysis.targets.cells`: history, forecast coverage, grid).
2. **Allocation keys** (:mod:`~salesanalysis.targets.keys`) per dimension: history, forecast,
   market potential and equal shares, blended by the plan's weights.
3. **Crossing** (:mod:`~salesanalysis.targets.crossing`) of the three dimensions by
   iterative proportional fitting.
4. **Strategies** (:mod:`~salesanalysis.targets.strategies`) change the mix, not the total.
5. **Pins, floors, caps** (:mod:`~salesanalysis.targets.constraints`).
6. **Months** (:mod:`~salesanalysis.targets.phasing`): each cell's seasonality or the forecast.
5b. **Demand meets supply** (:mod:`~salesanalysis.targets.balance`): each region's target
   against its team's effective capacity; ``reps.capacity_policy`` rebalances regions, adds
   to-be-hired reps (the headcount plan) or only flags.
7. **Reps** (:mod:`~salesanalysis.targets.reps`) by effective capacity (fte x active share x
   ramp x productivity ^ weight) and book; each rep's load; the rep x month table.
8. **Rounding** (:mod:`~salesanalysis.targets.rounding`) so every level adds up exactly,
   without and with the cushion (rep targets sum to the company target x (1 + cushion_pct));
   **customers** (:mod:`~salesanalysis.targets.customers`) by the counting rule.
9. **Checks and feasibility** (:mod:`~salesanalysis.targets.checks`,
   :mod:`~salesanalysis.targets.segments`, :mod:`~salesanalysis.targets.feasibility`): every
   level adds up; the probability of reaching each target from the forecast's intervals.
10. **Explanation** (:mod:`~salesanalysis.targets.explain`): the parts of any target, and the
    bridge from last year.

Every step is visible in :meth:`Decomposition.explain` and in ``Decomposition.checks``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from salesanalysis.data.counting import home_cells
from salesanalysis.targets.balance import Balance, match_capacity
from salesanalysis.targets.cells import PlanCells, plan_cells
from salesanalysis.targets.checks import checks_frame, target_checks
from salesanalysis.targets.company import SHARE_WARN_REL, company_table, company_targets
from salesanalysis.targets.constraints import Constrained, apply_constraints, constraint_checks
from salesanalysis.targets.crossing import cross_dimensions
from salesanalysis.targets.customers import CustomerTargets, customer_targets
from salesanalysis.targets.explain import Explanation, bridge_table, explain, explanation
from salesanalysis.targets.feasibility import feasibility_table
from salesanalysis.targets.keys import allocation_keys
from salesanalysis.targets.output import level_tables, write_targets
from salesanalysis.targets.params import TargetParams, target_parameters
from salesanalysis.targets.periods import PlanWindows, base_months, plan_months, plan_windows
from salesanalysis.targets.phasing import phase_to_months
from salesanalysis.targets.plan import Plan
from salesanalysis.targets.plan_forecast import (
    PLAN_FORECAST_ATTR,
    _left_by,  # noqa: F401  (imported from here by tests)
    forecast_covers,
    forecast_for_plan,
    plan_forecast_fingerprint,
)
from salesanalysis.targets.reps import (
    TBH_PREFIX,
    UNASSIGNED,
    rep_capacity,
    rep_load,
    rep_month_table,
    split_to_reps,
    team_capacity,
    unassigned_check,
)
from salesanalysis.targets.rounding import RoundedRevenue, round_revenue
from salesanalysis.targets.segments import segment_table, targets_frame
from salesanalysis.targets.strategies import apply_strategies

__all__ = [
    "Decomposition",
    "decompose",
    "write_targets",
    "plan_months",
    "base_months",
    "rep_capacity",
    "home_cells",
    "UNASSIGNED",
    "TBH_PREFIX",
    "TargetParams",
    "target_parameters",
    "forecast_covers",
    "forecast_for_plan",
    "plan_forecast_fingerprint",
    "PLAN_FORECAST_ATTR",
    "SHARE_WARN_REL",
    "level_tables",
]


@dataclass
class Decomposition:
    """The result of :func:`decompose`.

    Attributes:
        targets: grain month x region x product_line x customer_type x rep_id with
            ``target_revenue`` (rep targets, with cushion), ``target_revenue_no_cushion``,
            ``target_customers`` and ``plan_name``; all rounded and adding up.
        company: one row per measure: basis, last year, target, cushion, forecast, statement.
        segments: one row per level and key with last year, targets, market figures.
        feasibility: per level and key: forecast, gap, probability of reaching, flag.
        rep_load: per rep: capacity, productivity, effective capacity, target, load per unit
            of effective capacity, load vs the median, flag, the rule applied
            (:data:`salesanalysis.targets.reps.REP_LOAD_COLUMNS`), to-be-hired reps included.
        rep_month: rep x month targets with cushion (``rep_id, name, region``, one column per
            month ``YYYY-MM``, ``total``), to-be-hired reps included.
        headcount: the hires the plan needs (``capacity_policy: hire``): region, count,
            latest start month, revenue at risk per month of delay
            (:data:`salesanalysis.targets.balance.HEADCOUNT_COLUMNS`).
        capacity: per region: demand, effective capacity, load before and after, hires and
            the rule applied (:data:`salesanalysis.targets.balance.REGION_COLUMNS`).
        checks: every check made, with ``ok`` and a detail.
        bridge: last year -> target: volume, price, new customers, strategies.
        keys: allocation keys per dimension member (each key's share and the blend).
    """

    plan: Plan
    targets: pd.DataFrame
    company: pd.DataFrame
    segments: pd.DataFrame
    feasibility: pd.DataFrame
    rep_load: pd.DataFrame
    rep_month: pd.DataFrame
    headcount: pd.DataFrame
    capacity: pd.DataFrame
    checks: pd.DataFrame
    bridge: pd.DataFrame
    keys: pd.DataFrame
    months: list[pd.Timestamp]
    _parts: pd.DataFrame = field(repr=False)
    _rep_share: pd.DataFrame = field(repr=False)
    _notes: dict[str, str] = field(repr=False, default_factory=dict)

    def explain(self, **keys: str) -> pd.DataFrame:
        """Why this number: the parts of a cell, roll-up or rep's annual revenue target.

        Keys: any of ``region``, ``product_line``, ``customer_type``, ``rep_id``. Returns rows
        ``step, detail, amount, kind``: the ``step`` rows add up to each ``subtotal`` row
        (first the target without cushion, then the rep targets with cushion).
        """
        return explain(Explanation(self._parts, self._rep_share, self._notes), self.plan, **keys)


def decompose(
    cube: pd.DataFrame,
    customers: pd.DataFrame,
    reps: pd.DataFrame,
    market: pd.DataFrame,
    forecast: pd.DataFrame | None,
    plan: Plan,
) -> Decomposition:
    """Decompose the plan's company targets into rounded targets for every cell, rep and month.

    Args:
        cube, customers, reps, market: the monthly cube (months after the cutoff are ignored),
            the customer cube, the rep list and the market size (``docs/ARCHITECTURE.md``).
        forecast: ``outputs/forecast.parquet`` (may be ``None``; forecast-based keys then fall
            back to history and feasibility is left empty).
        plan: the validated plan.

    Raises:
        PlanError: the data cannot support the plan (no data up to the cutoff, a pin names an
            unknown region, a forecast percentile without a forecast, ...).
        ConstraintConflict: pins, floors and caps that cannot hold together (named).
    """
    win = plan_windows(plan)
    cells = plan_cells(cube, market, forecast, win, plan)
    company = company_targets(cube, cells, win, plan)
    total = company.total
    keys = allocation_keys(cells, total, plan)
    crossed = cross_dimensions(keys, cells.shape, total, plan.currency)
    mix = apply_strategies(crossed.cells, cells.cells, cells.grid, plan.strategies, total)
    team = team_capacity(reps, cells.hist, customers, win, plan)
    bal = match_capacity(
        apply_constraints(mix.cells, cells, total, plan),
        cells,
        team,
        reps,
        cells.hist,
        customers,
        win,
        plan,
    )
    fitted = bal.fitted
    phased = phase_to_months(fitted.cells, cells, win, plan)
    regions = cells.cells["region"].astype(str).to_numpy()
    split = split_to_reps(regions, reps, cells.hist, win, plan, team=bal.team)
    rounded = round_revenue(fitted, phased.cell_months, split.rows, total, plan)
    custs = customer_targets(
        customers, cells, fitted.cells, phased.cell_months, split.rows, win, plan
    )
    targets = targets_frame(cells.cells, split.rows, rounded, custs, plan)
    stages = (cells, keys, crossed, fitted, bal, phased, split, rounded, custs)
    checks = _checks(targets, stages, total, cells, fitted, rounded, custs, win, plan)
    segments = segment_table(targets, cells, win)
    feasibility = feasibility_table(forecast, segments, win.months, cells.coverage.complete)
    loads = rep_load(targets, split, plan, bal.rules)
    summary, checks = company_table(
        company, cells, rounded.total_c, custs, market, win, plan, checks
    )
    ex = explanation(cells, total, keys, crossed, mix, fitted, phased, split.rows, rounded, plan)
    return Decomposition(
        plan=plan,
        targets=targets,
        company=summary,
        segments=segments,
        feasibility=feasibility,
        rep_load=loads,
        rep_month=rep_month_table(targets, loads),
        headcount=_headcount(bal, targets),
        capacity=bal.regions,
        checks=checks,
        bridge=bridge_table(company, rounded.cells, mix, custs),
        keys=keys.table,
        months=win.months,
        _parts=ex.parts,
        _rep_share=ex.rep_share,
        _notes=ex.notes,
    )


def _headcount(bal: Balance, targets: pd.DataFrame) -> pd.DataFrame:
    """The headcount plan with the target the to-be-hired reps carry (with cushion)."""
    hc = bal.headcount.copy()
    if len(hc):
        tbh = targets[targets["rep_id"].str.startswith(TBH_PREFIX)]
        carried = tbh.groupby("region")["target_revenue"].sum()
        hc["target_revenue"] = carried.reindex(hc["region"]).fillna(0.0).to_numpy()
    return hc


def _checks(
    targets: pd.DataFrame,
    stages: tuple[Any, ...],
    total: float,
    cells: PlanCells,
    fitted: Constrained,
    rounded: RoundedRevenue,
    custs: CustomerTargets,
    win: PlanWindows,
    plan: Plan,
) -> pd.DataFrame:
    """Every check in order: the stages' own (forecast coverage, IPF, constraints fitted), the
    targets adding up, pins, floors and caps held, every target with a rep; then each stage's
    notes as a ``note`` row."""
    unit = plan.rounding_revenue
    rows = [
        *(c for s in stages for c in getattr(s, "checks", ())),
        *target_checks(targets, total, rounded, custs.total, cells.grid, win.months, unit),
        *constraint_checks(rounded.cells, fitted, unit),
        *unassigned_check(targets),
    ]
    return checks_frame(rows, [n for s in stages for n in s.notes])
