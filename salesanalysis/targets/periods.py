"""The months a plan works with: the plan months, the base window, last year, the year to date.

Every stage of the decomposition reads its windows from one :class:`PlanWindows`, so "last
year" or "the 12 months before the cutoff" mean the same thing everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from salesanalysis.targets.plan import Plan

__all__ = [
    "PlanWindows",
    "base_months",
    "last_year_months",
    "month_start",
    "plan_months",
    "plan_windows",
    "ytd_months",
]


def month_start(p: pd.Period) -> pd.Timestamp:
    """The first day of the month ``p`` (the ``month`` column's convention)."""
    return p.to_timestamp()


def plan_months(plan: Plan) -> list[pd.Timestamp]:
    """Months the plan covers: the fiscal year's months after the cutoff."""
    cut = plan.cutoff_period
    fy = [pd.Period(f"{plan.fiscal_year}-{m:02d}", "M") for m in range(1, 13)]
    return [month_start(p) for p in fy if p > cut]


def base_months(plan: Plan, n: int = 12) -> list[pd.Timestamp]:
    """The ``n`` months up to and including the cutoff."""
    cut = plan.cutoff_period
    return [month_start(cut - k) for k in range(n - 1, -1, -1)]


def last_year_months(plan: Plan) -> list[pd.Timestamp]:
    """Last year's months comparable with the plan months (same calendar months a year
    earlier when they are all before the cutoff, else the 12 months before the cutoff)."""
    cut = month_start(plan.cutoff_period)
    pm = plan_months(plan)
    prev = [m - pd.DateOffset(years=1) for m in pm]
    if len(pm) < 12 and all(m <= cut for m in prev):
        return [pd.Timestamp(m) for m in prev]
    return base_months(plan)


def ytd_months(plan: Plan) -> list[pd.Timestamp]:
    """The fiscal year's months up to and including the cutoff (empty for a full-year plan)."""
    cut = plan.cutoff_period
    return [
        month_start(pd.Period(f"{plan.fiscal_year}-{m:02d}", "M"))
        for m in range(1, 13)
        if pd.Period(f"{plan.fiscal_year}-{m:02d}", "M") <= cut
    ]


@dataclass(frozen=True)
class PlanWindows:
    """The month windows of one plan (each a sorted list of month starts).

    Attributes:
        cutoff: the last month of data the plan may use.
        months: the plan months (after the cutoff, to the end of the fiscal year).
        base: the 12 months to the cutoff (what ``growth`` targets apply to).
        history: the ``allocation.history_window_months`` months to the cutoff (history key).
        last_year: last year's months comparable with the plan months.
        ytd: the fiscal year's months to the cutoff (a mid-year plan's actuals).
    """

    cutoff: pd.Timestamp
    months: list[pd.Timestamp]
    base: list[pd.Timestamp]
    history: list[pd.Timestamp]
    last_year: list[pd.Timestamp]
    ytd: list[pd.Timestamp]

    @property
    def n_months(self) -> int:
        return len(self.months)


def plan_windows(plan: Plan) -> PlanWindows:
    """The windows of ``plan`` (see :class:`PlanWindows`)."""
    return PlanWindows(
        cutoff=month_start(plan.cutoff_period),
        months=plan_months(plan),
        base=base_months(plan),
        history=base_months(plan, plan.allocation.history_window_months),
        last_year=last_year_months(plan),
        ytd=ytd_months(plan),
    )
