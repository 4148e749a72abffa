"""Shared pieces of the performance review: keys, levels, report windows, plan access.

Private module; the public API is :mod:`salesanalysis.review`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.errors import InputError, PlanError
from salesanalysis.i18n import N_, tr

DIMS = ["region", "product_line", "customer_type", "rep_id"]
CELL = ["region", "product_line", "customer_type"]
ALL = "*"

LEVEL_KEYS: dict[str, list[str]] = {
    "total": [],
    "region": ["region"],
    "product_line": ["product_line"],
    "customer_type": ["customer_type"],
    "cell": CELL,
    "rep": ["region", "rep_id"],
    "bottom": DIMS,
    # market share only: the market file has region x product line
    "region_product_line": ["region", "product_line"],
}
REVIEW_LEVELS = ("total", "region", "product_line", "customer_type", "cell", "rep")
SHARE_LEVELS = ("total", "region", "product_line", "region_product_line")
WINDOWS = ("month", "qtd", "ytd", "fy")
MEASURES = ("revenue", "customers", "market_share")
BEFORE_PLAN = N_("before the plan")  # how the months before a mid-year plan are shown
JUDGED = N_("judged")  # a month of the plan up to the report period
TO_COME = N_("to come")  # a month after the report period
COMPANY = N_("Company")  # the total level's segment label
# what the values of the key columns of the review's frames read as on the page (the frames
# keep the keys; :func:`readable` shows them in the report's language)
LEVEL_NAMES = {
    "total": N_("company"),
    "region": N_("region"),
    "product_line": N_("product line"),
    "customer_type": N_("customer type"),
    "cell": N_("region × product line × customer type"),
    "rep": N_("rep"),
    "region_product_line": N_("region × product line"),
}
WINDOW_NAMES = {
    "month": N_("report month"),
    "qtd": N_("quarter to date"),
    "ytd": N_("year to date"),
    "fy": N_("full year"),
}
MEASURE_NAMES = {
    "revenue": N_("revenue"),
    "customers": N_("customers"),
    "market_share": N_("market share"),
}
STATUS_NAMES = {
    "ahead": N_("ahead"),
    "on track": N_("on track"),
    "behind": N_("behind"),
    "no target": N_("no target"),
    "open": N_("open"),
    "closed": N_("closed"),
    BEFORE_PLAN: BEFORE_PLAN,
    JUDGED: JUDGED,
    TO_COME: TO_COME,
}
_VALUE_NAMES = {
    "level": LEVEL_NAMES,
    "window": WINDOW_NAMES,
    "measure": MEASURE_NAMES,
    "status": STATUS_NAMES,
}

Z80 = 1.2815515655446004  # standard normal quantile 0.90
Z95 = 1.959963984540054  # standard normal quantile 0.975


def as_period(period: Any) -> pd.Period:
    """A month as ``pd.Period('YYYY-MM', 'M')`` from a string, Period or Timestamp."""
    try:
        p = pd.Period(period, freq="M")
    except (ValueError, TypeError):
        raise InputError(
            tr("report period '{period}' is not a month").format(period=period),
            fix=tr("Give the period as YYYY-MM, e.g. 2026-10."),
        ) from None
    return p


def fiscal_months(fiscal_year: int) -> pd.DatetimeIndex:
    """The 12 month starts of a fiscal year (fiscal year = calendar year)."""
    return pd.date_range(f"{int(fiscal_year)}-01-01", periods=12, freq="MS")


def check_period(period: Any, fiscal_year: int) -> pd.Period:
    """The report period, which must lie in the fiscal year of the plan."""
    p = as_period(period)
    if p.year != int(fiscal_year):
        raise PlanError(
            tr("the report period {period} is outside the plan's fiscal year {fy}").format(
                period=p, fy=fiscal_year
            ),
            fix=tr("Choose a report month in {fy}, or use the plan for {year}.").format(
                fy=fiscal_year, year=p.year
            ),
        )
    return p


def review_start(fiscal_year: int, first_month: Any = None) -> pd.Timestamp:
    """First month the review judges: January of the fiscal year, or ``first_month`` (the
    first month of a mid-year plan, :func:`salesanalysis.review.scope.plan_start`).

    Raises:
        InputError: ``first_month`` is not a month of the fiscal year.
    """
    months = fiscal_months(fiscal_year)
    if first_month is None:
        return months[0]
    first = as_period(first_month).to_timestamp()
    if first not in months:
        raise InputError(
            tr("the plan's first month {month} is not in fiscal year {fy}").format(
                month=f"{first:%Y-%m}", fy=int(fiscal_year)
            ),
            fix=tr(
                "Check fiscal_year and plan_cutoff in plan.yaml: the plan must cover at least "
                "one month of its fiscal year."
            ),
        )
    return first


def report_windows(
    period: Any, fiscal_year: int, first_month: Any = None
) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """Month ranges (first, last month start, inclusive) of each review window.

    ``month`` = the report month; ``qtd`` = first month of its quarter to it; ``ytd`` = January
    to it; ``fy`` = the whole fiscal year (targets; actuals are year-to-date). With
    ``first_month`` (a mid-year plan's first month) every window starts no earlier than it: the
    months before the plan are not judged (a window that lies wholly before the plan is empty,
    its first month after its last).
    """
    p = check_period(period, fiscal_year)
    end = p.to_timestamp()
    start = review_start(fiscal_year, first_month)
    q_start = pd.Period(year=p.year, month=3 * ((p.month - 1) // 3) + 1, freq="M").to_timestamp()
    months = fiscal_months(fiscal_year)
    return {
        "month": (max(end, start), end),
        "qtd": (max(q_start, start), end),
        "ytd": (start, end),
        "fy": (start, months[-1]),
    }


def review_months(period: Any, fiscal_year: int, first_month: Any = None) -> pd.DatetimeIndex:
    """Months the review judges to date: the plan's first month (January for a full-year
    plan) to the report period (empty when the period is before the plan)."""
    p = check_period(period, fiscal_year)
    months = fiscal_months(fiscal_year)
    start = review_start(fiscal_year, first_month)
    return months[(months >= start) & (months <= p.to_timestamp())]


def before_plan_months(period: Any, fiscal_year: int, first_month: Any = None) -> pd.DatetimeIndex:
    """Months of the fiscal year to the report period that lie before the plan's first month
    ("before the plan"; empty for a full-year plan)."""
    p = check_period(period, fiscal_year)
    months = fiscal_months(fiscal_year)
    start = review_start(fiscal_year, first_month)
    return months[(months < start) & (months <= p.to_timestamp())]


def remaining_months(period: Any, fiscal_year: int, first_month: Any = None) -> pd.DatetimeIndex:
    """Months of the fiscal year after the report period (empty in December); with
    ``first_month``, only the plan's months among them."""
    p = check_period(period, fiscal_year)
    months = fiscal_months(fiscal_year)
    start = review_start(fiscal_year, first_month)
    return months[(months > p.to_timestamp()) & (months >= start)]


def require_columns(df: pd.DataFrame, columns: Iterable[str], name: str, fix: str) -> None:
    """Raise :class:`InputError` naming the frame and the missing columns."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            tr("the {name} frame lacks the column(s) {columns}").format(
                name=name, columns=", ".join(missing)
            ),
            fix=fix,
        )


def with_month(df: pd.DataFrame) -> pd.DataFrame:
    """``month`` as datetime64 month starts (accepts strings and Periods)."""
    out = df.copy()
    m = out["month"]
    if isinstance(m.dtype, pd.PeriodDtype):
        out["month"] = m.dt.to_timestamp()
    elif not pd.api.types.is_datetime64_any_dtype(m):
        out["month"] = pd.to_datetime(m.astype(str)).dt.to_period("M").dt.to_timestamp()
    else:
        out["month"] = m.dt.to_period("M").dt.to_timestamp()
    out["month"] = out["month"].astype("datetime64[ns]")
    return out


def keys_as_str(df: pd.DataFrame, keys: Sequence[str] = DIMS) -> pd.DataFrame:
    out = df.copy()
    for k in keys:
        if k in out.columns:
            out[k] = out[k].astype(str)
    return out


def roll(
    df: pd.DataFrame, level: str, values: Sequence[str], *, by_month: bool = False
) -> pd.DataFrame:
    """Sum ``values`` to a level: its key columns kept, the other dimensions set to ``"*"``.

    Returns columns ``level, region, product_line, customer_type, rep_id, [month,] *values``.
    """
    keys = LEVEL_KEYS[level]
    group = keys + (["month"] if by_month else [])
    if group:
        out = df.groupby(group, sort=True, observed=True)[list(values)].sum().reset_index()
    else:
        out = pd.DataFrame({v: [float(df[v].sum())] for v in values})
    for d in DIMS:
        if d not in keys:
            out[d] = ALL
    out["level"] = level
    cols = ["level", *DIMS] + (["month"] if by_month else []) + list(values)
    return out[cols]


def roll_levels(
    df: pd.DataFrame, levels: Iterable[str], values: Sequence[str], *, by_month: bool = False
) -> pd.DataFrame:
    return pd.concat([roll(df, lv, values, by_month=by_month) for lv in levels], ignore_index=True)


def plan_get(plan: Any, path: str, default: Any = None) -> Any:
    """Read ``a.b.c`` from a plan given as a mapping, an object, or anything with ``to_dict``."""
    node = plan
    if node is not None and not isinstance(node, Mapping) and hasattr(node, "to_dict"):
        node = node.to_dict()
    for part in path.split("."):
        if node is None:
            return default
        if isinstance(node, Mapping):
            node = node.get(part, None)
        else:
            node = getattr(node, part, None)
    return default if node is None else node


def safe_ratio(num: Any, den: Any) -> Any:
    """``num / den`` with NaN where the denominator is 0 or missing."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where((den != 0) & np.isfinite(den), num / np.where(den == 0, 1.0, den), np.nan)
    return out


def segment_label(row: Mapping[str, Any]) -> str:
    """A readable key such as ``华东 / Pumps / SMB`` (``"*"`` parts left out; "Company", in
    the report's language, for the total)."""
    parts = [str(row[d]) for d in DIMS if d in row and str(row[d]) != ALL]
    return " / ".join(parts) if parts else tr(COMPANY)


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of a review frame for the page: the values of its key columns (``level``,
    ``window``, ``measure``, ``status``) in the report's language (``"ytd"`` -> "year to
    date" / 年初至今, ``"behind"`` -> 落后); other values and the frame itself unchanged."""
    out = df.copy()
    for col, names in _VALUE_NAMES.items():
        if col in out.columns:
            out[col] = [tr(names[v]) if v in names else v for v in out[col]]
    return out


class ReviewParams:
    """Validated review-specific notebook parameters.

    Args:
        month_correlation: correlation of forecast errors between months (0-1) for the landing
            interval.
        top_n: how many segments / reps to list as furthest behind or ahead (1-50).
        keep_plan_total: re-planning never lowers the remaining months' total below the plan.
    """

    def __init__(
        self,
        month_correlation: float = 1.0,
        top_n: int = 5,
        keep_plan_total: bool = True,
    ) -> None:
        problems = []
        if not isinstance(keep_plan_total, bool | np.bool_):
            problems.append(
                tr("keep_plan_total must be True or False, not {value}").format(
                    value=repr(keep_plan_total)
                )
            )
        try:
            rho = float(month_correlation)
            if not 0.0 <= rho <= 1.0:
                raise ValueError
        except (TypeError, ValueError):
            problems.append(
                tr("month_correlation must be a number from 0 to 1, not {value}").format(
                    value=repr(month_correlation)
                )
            )
            rho = 1.0
        try:
            n = int(top_n)
            if str(top_n).strip() != str(n) or not 1 <= n <= 50:
                raise ValueError
        except (TypeError, ValueError):
            problems.append(
                tr("top_n must be a whole number from 1 to 50, not {value}").format(
                    value=repr(top_n)
                )
            )
            n = 5
        if problems:
            raise InputError(
                tr("invalid notebook parameter(s): {problems}").format(
                    problems="; ".join(problems)
                ),
                fix=tr(
                    "Correct the parameter in the notebook's parameters cell or "
                    "on the command line (--param name=value)."
                ),
            )
        self.month_correlation, self.top_n = rho, n
        self.keep_plan_total = bool(keep_plan_total)

    def __repr__(self) -> str:
        return (
            f"ReviewParams(month_correlation={self.month_correlation}, "
            f"top_n={self.top_n}, "
            f"keep_plan_total={self.keep_plan_total})"
        )
