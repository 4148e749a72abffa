"""Performance review: attainment, seasonality-aware pacing, landing forecast, variance bridges,
rep leaderboard and re-planning. Pure functions: frames in, frames out.

Typical use (what ``notebooks/04_performance_review.ipynb`` does)::

    from salesanalysis import review as rv
    from salesanalysis.review.scope import review_scope
    first = review_scope(ctx.period, plan, records_dir).first_month  # the plan's first month
    df = rv.build_review(ctx.cube, ctx.customers, targets, forecast, ctx.market,
                         ctx.period, plan.fiscal_year, first_month=first)  # review.parquet
    rv.headline(df)                                                  # index page
    act = rv.monthly_actuals(ctx.cube, ctx.customers, ctx.period, plan.fiscal_year,
                             first_month=first)
    tgt = rv.monthly_targets(targets, plan.fiscal_year)
    rv.pacing_table(df, ctx.period, plan.fiscal_year, first_month=first)
    rv.bridge_target(ctx.customers, targets, ctx.period, plan.fiscal_year, plan=plan,
                     first_month=first)
    rv.bridge_last_year(ctx.customers, ctx.period, plan.fiscal_year, first_month=first)
    rv.rep_leaderboard(act, tgt, ctx.reps, ctx.period, plan.fiscal_year, plan=plan, review=df,
                       first_month=first)
    rv.replan(tgt, act, ctx.period, plan.fiscal_year, p_reach=..., plan=plan, reps=ctx.reps,
              first_month=first)

A mid-year plan (``first_month`` after January) is judged on its own months only: every window
starts no earlier than its first month, and the months before it are shown as
``BEFORE_PLAN`` (:func:`monthly_overview`), never counted. ``first_month`` None or January is
the full-year review.

Levels and keys follow the forecast (docs/ARCHITECTURE.md): ``total``, ``region``,
``product_line``, ``customer_type``, ``cell`` (region x product line x customer type), ``rep``
(region, rep_id), plus ``region_product_line`` for market share; a summed dimension holds
``"*"``. Customers are always counted by the additive activation rule (home cell, first active
month), so they add up over cells and months like revenue.

Stated rules (each function's docstring has the detail):

* Expected to date = the *phased* target of the months elapsed (never a straight line).
* Landing = actual to date + forecast of the months after the report period (a forecast made
  before the fiscal year is used only for those months); normal approximation from the 80%
  interval, months combined with correlation ``month_correlation`` (default 1).
* Bridges are sequential chains (volume, mix by region, product line, customer type, price)
  that telescope, so the steps add up to the total variance.
* Re-planning gives what is still needed to those with headroom (probability of reaching the
  target x remaining capacity), no raise under ``replan.min_chance``, every rep x segment within
  ``+/- replan.max_change`` of its remaining plan (what the bounds cannot place is reported as
  unallocated), re-phased by each unit's own seasonality, rounded by largest remainder.
"""

from __future__ import annotations

from salesanalysis.review.attainment import (
    REVIEW_COLUMNS,
    attainment_table,
    build_review,
    company_view,
    customer_activations,
    customer_landing,
    forecast_at_level,
    headline,
    landing_forecast,
    monthly_actuals,
    monthly_market,
    monthly_overview,
    monthly_targets,
    off_track,
    p_reach,
    pacing_curve,
    pacing_table,
    prepare_forecast,
    summary_table,
)
from salesanalysis.review.bridges import (
    PVM_STEPS,
    bridge_last_year,
    bridge_target,
    price_factors,
    pvm_chain,
    target_unit_prices,
)
from salesanalysis.review.common import (
    ALL,
    BEFORE_PLAN,
    DIMS,
    LEVEL_KEYS,
    LEVEL_NAMES,
    MEASURES,
    REVIEW_LEVELS,
    SHARE_LEVELS,
    STATUS_NAMES,
    WINDOW_NAMES,
    WINDOWS,
    ReviewParams,
    before_plan_months,
    fiscal_months,
    readable,
    remaining_months,
    report_windows,
    review_months,
    review_start,
    segment_label,
)
from salesanalysis.review.narrative import headline_text, replan_text, spread_text, to_date_label
from salesanalysis.review.replanning import (
    replan,
    replan_statement,
    replan_summary,
    unit_bounds,
    water_fill,
)
from salesanalysis.review.reps import attainment_spread, gini, rep_capacity, rep_leaderboard
from salesanalysis.review.workbook import (
    REVISED_SHEETS,
    revised_workbook_sheets,
    write_revised_workbook,
)
from salesanalysis.targets.kernels import largest_remainder

__all__ = [
    "ALL",
    "BEFORE_PLAN",
    "DIMS",
    "LEVEL_KEYS",
    "LEVEL_NAMES",
    "MEASURES",
    "PVM_STEPS",
    "REVIEW_COLUMNS",
    "REVIEW_LEVELS",
    "REVISED_SHEETS",
    "ReviewParams",
    "SHARE_LEVELS",
    "STATUS_NAMES",
    "WINDOW_NAMES",
    "WINDOWS",
    "attainment_spread",
    "attainment_table",
    "before_plan_months",
    "bridge_last_year",
    "bridge_target",
    "build_review",
    "company_view",
    "customer_activations",
    "customer_landing",
    "fiscal_months",
    "forecast_at_level",
    "gini",
    "headline",
    "headline_text",
    "landing_forecast",
    "largest_remainder",
    "monthly_actuals",
    "monthly_market",
    "monthly_overview",
    "monthly_targets",
    "off_track",
    "p_reach",
    "pacing_curve",
    "pacing_table",
    "prepare_forecast",
    "price_factors",
    "readable",
    "pvm_chain",
    "remaining_months",
    "rep_capacity",
    "rep_leaderboard",
    "replan",
    "replan_statement",
    "replan_text",
    "replan_summary",
    "report_windows",
    "review_months",
    "review_start",
    "revised_workbook_sheets",
    "segment_label",
    "spread_text",
    "summary_table",
    "target_unit_prices",
    "to_date_label",
    "unit_bounds",
    "water_fill",
    "write_revised_workbook",
]
