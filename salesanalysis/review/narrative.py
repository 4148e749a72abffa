"""The review's sentences for the page (step 04), in the report's language.

Each function turns figures the review computed into a short Markdown paragraph: amounts
through :func:`~salesanalysis.report.formatting.money` (the report's units), percentages
through :func:`~salesanalysis.report.formatting.pct` (one decimal), counts through
:func:`~salesanalysis.report.formatting.number`. Gaps are actual - target (negative =
behind).

Private module; the public API is :mod:`salesanalysis.review`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from salesanalysis.i18n import tr
from salesanalysis.report.formatting import NA, md, money, number, pct
from salesanalysis.review.replanning import replan_statement

__all__ = ["headline_text", "replan_text", "spread_text", "to_date_label"]


def to_date_label(first_month: Any = None, mid_year: bool = False) -> str:
    """What "to date" means on the page: "year to date", or for a mid-year plan "since the
    plan began in 2026-07"."""
    if mid_year and first_month is not None:
        return tr("since the plan began in {month}").format(
            month=f"{pd.Timestamp(first_month):%Y-%m}"
        )
    return tr("year to date")


def headline_text(
    head: Mapping[str, Any],
    period: Any,
    plan_name: str,
    fiscal_year: int,
    currency: str,
    to_date: str,
) -> str:
    """The headline: revenue to date against the phased target, the landing forecast with
    its 80% interval and the chance of reaching the full-year target, customers to date.

    Args:
        head: :func:`salesanalysis.review.headline`.
        to_date: :func:`to_date_label`.
    """
    lines = [
        tr("**{period}** · plan *{plan}* · fiscal year {fy}").format(
            period=period, plan=md(plan_name), fy=fiscal_year
        ),
        "",
        "- "
        + tr(
            "Revenue {to_date}: **{actual}** against a phased target of {target}: "
            "**{attainment}** attainment (gap {gap})."
        ).format(
            to_date=to_date,
            actual=money(head["ytd_actual"], currency),
            target=money(head["ytd_target"], currency),
            attainment=pct(head["ytd_attainment"]),
            gap=_gap(head["ytd_actual"], head["ytd_target"], currency),
        ),
        "- "
        + tr(
            "Landing forecast for {fy}: **{landing}** (80% interval {lo} – {hi}) against a "
            "full-year target of {target} ({vs_target}); probability of reaching it: "
            "**{p_reach}**."
        ).format(
            fy=fiscal_year,
            landing=money(head["landing_mean"], currency),
            lo=money(head["landing_lo_80"], currency),
            hi=money(head["landing_hi_80"], currency),
            target=money(head["fy_target"], currency),
            vs_target=pct(head["landing_vs_target"], signed=True),
            p_reach=pct(head["p_reach_target"]),
        ),
        "- "
        + tr("Customers activated {to_date}: {actual} against {target} planned to date.").format(
            to_date=to_date,
            actual=number(head["customers_ytd"]),
            target=number(head["customers_target_ytd"]),
        ),
    ]
    return "\n".join(lines)


def _gap(actual: Any, target: Any, currency: str) -> str:
    if actual is None or target is None:
        return NA
    return money(float(actual) - float(target), currency, signed=True)


def spread_text(spread: Mapping[str, Any]) -> str:
    """How the reps' ramp-adjusted attainment is spread, and the Gini coefficient of target
    per unit of capacity (:func:`salesanalysis.review.attainment_spread`)."""
    return tr(
        "{n} reps with a target: median ramp-adjusted attainment **{median}**, 10th–90th "
        "percentile {p10} – {p90}, {on_target} at or above 100%. Gini coefficient of target "
        "per unit of capacity: **{gini}**."
    ).format(
        n=number(spread["n"]),
        median=pct(spread["median"]),
        p10=pct(spread["p10"]),
        p90=pct(spread["p90"]),
        on_target=pct(spread["share_on_target"]),
        gini=number(spread["gini_target_per_capacity"], 3),
    )


def replan_text(revised: pd.DataFrame, currency: str) -> str:
    """What the rest of the year still needs (rep targets with the cushion, minus the actual
    to date), what the remaining months now carry, and the rule that placed it
    (:func:`salesanalysis.review.replan_statement`)."""
    need, total = revised.attrs["need"], revised.attrs["revised_open_total"]
    return (
        tr(
            "Revenue still needed to reach the target: **{revenue}** (rep targets with "
            "cushion); customers still to activate: **{customers}**. The remaining months now "
            "carry {open_revenue} and {open_customers} customers."
        ).format(
            revenue=money(need["revenue"], currency),
            customers=number(need["customers"]),
            open_revenue=money(total["revenue"], currency),
            open_customers=number(total["customers"]),
        )
        + "\n\n"
        + replan_statement(revised, currency)
    )
