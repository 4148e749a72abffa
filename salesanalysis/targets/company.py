"""Company targets: the plan's revenue target for the plan months (stage 1), and the company
table of the result (one row per measure, with the statement a planner reads), including the
market-share target and its agreement with the revenue target.

A target is a value, growth over a stated base, or a percentile of the forecast. A mid-year
plan (cutoff inside the fiscal year) covers the remaining months.

The growth base (:func:`growth_base`) is always comparable with the months planned: the same
months a year earlier (for a full-year plan made at the end of last year, the 12 months before
the cutoff; for a mid-year plan for July-December, last July-December) when the data hold them
all; otherwise the history there is (the months before the cutoff with data, at most 12) is
annualised: its monthly average times the number of plan months. The rule used is stated
next to the target. A value or forecast-percentile target is a full-year figure: the plan
months get it minus the actuals to the cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from salesanalysis.errors import PlanError
from salesanalysis.i18n import tr
from salesanalysis.targets.cells import ForecastCoverage, PlanCells
from salesanalysis.targets.checks import CheckRow
from salesanalysis.targets.customers import CustomerTargets
from salesanalysis.targets.forecast_rows import Z80
from salesanalysis.targets.periods import PlanWindows
from salesanalysis.targets.plan import Plan
from salesanalysis.targets.rounding import round_unit

__all__ = [
    "SHARE_WARN_REL",
    "CompanyTargets",
    "company_table",
    "company_targets",
    "share_warning",
]

SHARE_WARN_REL = 0.10
"""Largest relative gap tolerated between the market share the revenue target implies and the
plan's ``market_share`` target before the company statement warns (10%: e.g. 17.0% against
anything outside 15.3%..18.7%). Relative, because it is then the same as the gap between the
revenue target and the revenue the share target implies, whatever the company's size."""


@dataclass(frozen=True)
class CompanyTargets:
    """The company's revenue target and what it is compared with.

    Attributes:
        last_year: revenue in last year's comparable months.
        base: what a growth target applies to (see :func:`growth_base`).
        base_rule: the growth base's rule in words, shown next to the target.
        base_months: the months whose revenue makes the base (before any annualising).
        base_revenue: their revenue (the base before annualising).
        actual_ytd: revenue of the fiscal year to the cutoff (0 for a full-year plan).
        full_year: the fiscal year's target (before taking off ``actual_ytd``).
        total: the target of the plan months, rounded to ``rounding.revenue`` (what is
            allocated to cells, reps and months).
    """

    last_year: float
    base: float
    actual_ytd: float
    full_year: float
    total: float
    base_rule: str = ""
    base_months: tuple[pd.Timestamp, ...] = ()
    base_revenue: float = 0.0


def _money(x: float, currency: str = "") -> str:
    """An amount in the report's money format (no currency unless given)."""
    from salesanalysis.report.formatting import money

    return money(x, currency)


def _share(x: float) -> str:
    from salesanalysis.report.formatting import pct

    return pct(x)


def growth_base(
    cube: pd.DataFrame, cells: PlanCells, win: PlanWindows
) -> tuple[float, str, list[pd.Timestamp], float]:
    """The revenue a growth target applies to, and its rule in words (module docstring).

    The same months a year earlier when the data start on or before the first of them; else
    the months before the cutoff that have data (at most 12), annualised to the plan months.
    Returns the base, its rule in words, the months it is made of and their revenue.
    """
    first = cube["month"].min() if len(cube) else None
    n_plan = len(win.months)
    ly = float(cells.last_year.sum())
    if first is not None and win.last_year and min(win.last_year) >= first:
        same = (
            tr("the same months a year earlier")
            if n_plan < 12
            else tr("the 12 months to the cutoff")
        )
        span = f"{win.last_year[0]:%Y-%m}..{win.last_year[-1]:%Y-%m}"
        rule = tr("growth base: {same} ({span}), {amount}").format(
            same=same, span=span, amount=_money(ly)
        )
        return ly, rule, list(win.last_year), ly
    have = [m for m in win.base if first is not None and m >= first]
    if not have:
        return 0.0, tr("growth base: no history before the cutoff (0)"), [], 0.0
    got = float(cube.loc[cube["month"].isin(have), "revenue"].sum())
    base = got / len(have) * n_plan
    rule = tr(
        "growth base: annualised, the data do not reach back to the same months a year "
        "earlier: {n} months of history ({first}..{last}) average {monthly} a month x "
        "{plan_months} plan months = {base}"
    ).format(
        n=len(have),
        first=f"{have[0]:%Y-%m}",
        last=f"{have[-1]:%Y-%m}",
        monthly=_money(got / len(have)),
        plan_months=n_plan,
        base=_money(base),
    )
    return base, rule, have, got


def company_targets(
    cube: pd.DataFrame, cells: PlanCells, win: PlanWindows, plan: Plan
) -> CompanyTargets:
    """The revenue target of the plan months from ``plan.targets.revenue``.

    Raises:
        PlanError: a forecast percentile without a forecast of every plan month, or a target
            the actuals to the cutoff already reach.
    """
    cov = cells.coverage
    ly_total = float(cells.last_year.sum())
    base_total, base_rule, b_months, b_revenue = growth_base(cube, cells, win)
    ytd_rev = float(cube.loc[cube["month"].isin(win.ytd), "revenue"].sum()) if win.ytd else 0.0
    spec = plan.targets.revenue
    if spec.kind == "value":
        t_fy = spec.amount
    elif spec.kind == "growth":  # growth applies to the plan months' own base
        t_fy = ytd_rev + base_total * (1 + spec.amount)
    else:
        if not cov.complete:
            raise PlanError(
                tr(
                    "targets.revenue asks for P{p} of the forecast, but the forecast "
                    "covers {covered} of the {months} plan months"
                ).format(p=f"{spec.amount:g}", covered=cov.months_covered, months=win.n_months),
                fix=tr(
                    "run the forecast step with an origin at the plan cutoff and a horizon "
                    "covering the fiscal year, or set the target by value or growth"
                ),
            )
        t_fy = ytd_rev + cov.mean + float(norm.ppf(spec.amount / 100)) * cov.sigma
    t_plan = t_fy - ytd_rev
    if t_plan < 0:
        raise PlanError(
            tr(
                "the revenue target for {year} ({target}) is already reached by the "
                "actuals to {cutoff} ({actual}): nothing is left to plan"
            ).format(
                year=plan.fiscal_year,
                target=f"{t_fy:,.0f}",
                cutoff=plan.plan_cutoff,
                actual=f"{ytd_rev:,.0f}",
            ),
            fix=tr("raise the target or move plan_cutoff"),
        )
    total = round_unit(t_plan, plan.rounding_revenue)
    rule = base_rule if spec.kind == "growth" else ""
    return CompanyTargets(
        ly_total, base_total, ytd_rev, t_fy, total, rule, tuple(b_months), b_revenue
    )


def share_warning(share_t: float, own: float, implied: float, total: float, currency: str) -> str:
    """The warning when the revenue target's share of the market (``own``) and the market
    share target (``share_t``) differ by more than :data:`SHARE_WARN_REL`; '' otherwise."""
    if not (np.isfinite(share_t) and np.isfinite(own) and share_t > 0):
        return ""
    rel = own / share_t - 1
    if abs(rel) <= SHARE_WARN_REL:
        return ""
    text = (
        tr(
            "WARNING: the revenue target implies a market share of {own}, {points} points "
            "({rel}) above the market share target of {share} (more than the {tol} tolerated)."
        )
        if rel > 0
        else tr(
            "WARNING: the revenue target implies a market share of {own}, {points} points "
            "({rel}) below the market share target of {share} (more than the {tol} tolerated)."
        )
    )
    fix = tr(
        "To make them agree, either the revenue target (the one allocated to cells and reps) "
        "would need to be {implied} instead of {total}, or targets.market_share would need to "
        "be {own}."
    )
    return (
        text.format(
            own=_share(own),
            points=f"{abs(own - share_t) * 100:.1f}",
            rel=_share(abs(rel)),
            share=_share(share_t),
            tol=_share(SHARE_WARN_REL),
        )
        + " "
        + fix.format(implied=_money(implied, currency), total=_money(total), own=_share(own))
    )


def _pct(a: float, b: float) -> str:
    from salesanalysis.report.formatting import pct

    return pct(a / b - 1, signed=True) if b and np.isfinite(b) and b > 0 else tr("n/a")


def _revenue_row(
    company: CompanyTargets,
    cov: ForecastCoverage,
    total_with_cushion: float,
    win: PlanWindows,
    plan: Plan,
) -> dict[str, Any]:
    """The revenue row of the company table, with the statement against last year and the
    forecast (median, 80% interval, probability of reaching the target)."""
    total, ly_total, have_fc = company.total, company.last_year, cov.complete
    fc_mean, fc_sigma = cov.mean, cov.sigma
    months, nm = win.months, win.n_months
    fc_p10 = fc_mean - Z80 * fc_sigma if have_fc else np.nan
    if have_fc and fc_mean >= 0:  # sales are not negative: the normal is censored at 0
        fc_p10 = max(fc_p10, 0.0)
    fc_p90 = fc_mean + Z80 * fc_sigma if have_fc else np.nan
    p_reach = (
        float(1 - norm.cdf((total - fc_mean) / fc_sigma)) if have_fc and fc_sigma > 0 else np.nan
    )
    period_txt = (
        tr("fiscal year")
        if nm == 12
        else tr("{first}..{last} (mid-year plan)").format(
            first=f"{months[0]:%Y-%m}", last=f"{months[-1]:%Y-%m}"
        )
    )
    stmt = tr(
        "Revenue target {target} for the {period}: {change} vs last year ({last_year})"
    ).format(
        target=_money(total, plan.currency),
        period=period_txt,
        change=_pct(total, ly_total),
        last_year=_money(ly_total),
    )
    if have_fc:
        stmt += tr(
            ", {change} vs the forecast median ({median}; 80% interval {p10} to {p90}); "
            "probability of reaching it {p_reach}"
        ).format(
            change=_pct(total, fc_mean),
            median=_money(fc_mean),
            p10=_money(fc_p10),
            p90=_money(fc_p90),
            p_reach=_share(p_reach),
        )
    else:
        stmt += tr("; no forecast for these months to compare with")
    if company.base_rule:
        stmt += tr("; {rule}").format(rule=company.base_rule)
    return {
        "measure": "revenue",
        "basis": plan.targets.revenue.describe(),
        "last_year": ly_total,
        "base_12m": company.base,
        "actual_ytd": company.actual_ytd,
        "target_full_year": company.full_year,
        "target": total,
        "cushion_pct": plan.cushion_pct,
        "target_with_cushion": total_with_cushion,
        "forecast_median": fc_mean,
        "forecast_p10": fc_p10,
        "forecast_p90": fc_p90,
        "p_reach": p_reach,
        "statement": stmt + tr("."),
    }


def _customers_row(customers: CustomerTargets, plan: Plan) -> dict[str, Any]:
    """The customers row of the company table (activations; no cushion, no forecast)."""
    full_year, base_count, total = customers.full_year, customers.base_count, customers.total
    return {
        "measure": "customers",
        "basis": plan.targets.customers.describe(),
        "last_year": base_count,
        "base_12m": base_count,
        "actual_ytd": customers.active_ytd,
        "target_full_year": full_year,
        "target": total,
        "cushion_pct": 0.0,
        "target_with_cushion": total,
        "forecast_median": np.nan,
        "forecast_p10": np.nan,
        "forecast_p90": np.nan,
        "p_reach": np.nan,
        "statement": tr(
            "Customer target {target} activations ({change} vs {base} active customers in the "
            "12 months before the cutoff)."
        ).format(
            target=f"{total:,.0f}", change=_pct(full_year, base_count), base=f"{base_count:,}"
        ),
    }


def _market_share_row(
    company: CompanyTargets,
    cov: ForecastCoverage,
    market_total: float,
    market: pd.DataFrame | None,
    win: PlanWindows,
    plan: Plan,
) -> tuple[dict[str, Any], CheckRow | None]:
    """The market-share row of the company table and a failed check when the share target
    and the revenue target disagree (None when they agree).

    Raises:
        PlanError: a forecast percentile without the forecast or the market size."""
    ms, mk_total, total = plan.targets.market_share, market_total, company.total
    have_fc, fc_mean, fc_sigma = cov.complete, cov.mean, cov.sigma
    share_months = list(company.base_months) or list(win.base)  # the base's own months
    base_mk = (
        float(market[market["month"].isin(share_months)]["market_size"].sum())
        if market is not None and len(market)
        else np.nan
    )
    base_rev = company.base_revenue if company.base_months else company.base
    base_share = base_rev / base_mk if base_mk and base_mk > 0 else np.nan
    if ms.kind == "value":
        share_t = ms.amount
    elif ms.kind == "growth":
        share_t = base_share * (1 + ms.amount)
    else:
        if not (have_fc and mk_total > 0):
            raise PlanError(
                tr(
                    "targets.market_share asks for a forecast percentile, but the "
                    "forecast or the market size for the plan months is missing"
                ),
                fix=tr("set market_share by value or growth"),
            )
        share_t = (fc_mean + float(norm.ppf(ms.amount / 100)) * fc_sigma) / mk_total
    implied = share_t * mk_total if mk_total > 0 else np.nan
    own = total / mk_total if mk_total > 0 else np.nan
    ms_stmt = tr(
        "Market share target {share} of a market of {market} = {implied}; the revenue target "
        "is {own} of that market."
    ).format(
        share=_share(share_t),
        market=_money(mk_total),
        implied=_money(implied, plan.currency),
        own=_share(own),
    )
    warn = share_warning(share_t, own, implied, total, plan.currency)
    failed: CheckRow | None = None
    if warn:  # also a failed check (shown with the others, like a missing rep)
        ms_stmt += " " + warn
        failed = (
            tr("market share target agrees with the revenue target"),
            False,
            float(own / share_t - 1),
            warn,
        )
    row = {
        "measure": "market_share",
        "basis": ms.describe(share=True),
        "last_year": base_share,
        "base_12m": base_share,
        "actual_ytd": np.nan,
        "target_full_year": share_t,
        "target": share_t,
        "cushion_pct": 0.0,
        "target_with_cushion": share_t,
        "forecast_median": fc_mean / mk_total if have_fc and mk_total else np.nan,
        "forecast_p10": np.nan,
        "forecast_p90": np.nan,
        "p_reach": np.nan,
        "statement": ms_stmt,
    }
    return row, failed


def company_table(
    company: CompanyTargets,
    cells: PlanCells,
    total_with_cushion: float,
    customers: CustomerTargets,
    market: pd.DataFrame | None,
    win: PlanWindows,
    plan: Plan,
    checks: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The company table (one row per measure of the plan) and ``checks`` with a failed check
    added when the market-share target disagrees with the revenue target.

    Returns ``(company, checks)``; company columns ``measure, basis, last_year, base_12m,
    actual_ytd, target_full_year, target, cushion_pct, target_with_cushion, forecast_median,
    forecast_p10, forecast_p90, p_reach, statement``.
    """
    cov = cells.coverage
    comp = [_revenue_row(company, cov, total_with_cushion, win, plan)]
    if customers.full_year is not None:
        comp.append(_customers_row(customers, plan))
    if plan.targets.market_share is not None:
        row, failed = _market_share_row(company, cov, float(cells.market.sum()), market, win, plan)
        if failed is not None:
            checks = pd.concat(
                [checks, pd.DataFrame([failed], columns=checks.columns)], ignore_index=True
            )
        comp.append(row)
    return pd.DataFrame(comp), checks
