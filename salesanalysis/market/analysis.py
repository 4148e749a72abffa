"""Market analysis for a report month: KPIs, trend and seasonality, mix, market share, customer
base, concentration, and price versus volume.

Pure functions on the normalised frames of ``docs/ARCHITECTURE.md`` (the cube, the customer cube
and the market frame). Everything is "as of" the report ``period``: months after it are ignored.

Windows (all inclusive, in months) for a report month ``P``:

- ``month``: ``P``;
- ``ytd``: January of ``P``'s year to ``P``;
- ``l12m``: the last 12 months, ``P-11`` to ``P``;

and the *prior* window is the same window 12 months earlier (year over year, "YoY"). A prior
window that starts before the first month of data is incomplete: its value and the YoY are
missing (NaN), never a misleading growth against a partial year.

Customers are counted from the customer cube: a customer is *active* in a window when their net
revenue over the window (all cells together) is positive, so a customer with only returns is not
active.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from salesanalysis.errors import InputError
from salesanalysis.i18n import tr

__all__ = [
    "WINDOWS",
    "Window",
    "as_period",
    "window",
    "headline_kpis",
    "monthly_revenue",
    "TrendSeasonality",
    "trend_seasonality",
    "mix_growth",
    "market_share",
    "market_share_trend",
    "customer_base",
    "customer_window_counts",
    "customer_revenue",
    "concentration",
    "pareto_curve",
    "price_volume",
    "market_summary",
]

WindowName = Literal["month", "ytd", "l12m"]
WINDOWS: tuple[WindowName, ...] = ("month", "ytd", "l12m")
TOTAL = "*"  # key of a summed-over dimension, as in the forecast and review frames


# ----------------------------------------------------------------------------- periods, windows


def as_period(period: str | pd.Period | pd.Timestamp) -> pd.Period:
    """A report month as ``pd.Period('YYYY-MM', 'M')`` (accepts ``"2026-10"``, a Period or date).

    Raises:
        InputError: the value is not a month.
    """
    if isinstance(period, pd.Period):
        return period.asfreq("M")
    if isinstance(period, pd.Timestamp):
        return period.to_period("M")
    text = str(period).strip()
    # strict: pandas would read "June" as June of the current year
    if re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", text):
        return pd.Period(text, freq="M")
    raise InputError(
        tr("the report period {period} is not a month").format(period=repr(period)),
        fix=tr("Write it as YYYY-MM, e.g. 2026-10."),
    )


@dataclass(frozen=True)
class Window:
    """An inclusive range of months; ``start``/``end`` are month-start timestamps."""

    name: str
    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def months(self) -> int:
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1

    def shift(self, months: int) -> Window:
        off = pd.DateOffset(months=months)
        return Window(self.name, self.start + off, self.end + off)

    def mask(self, month: pd.Series) -> pd.Series:
        return (month >= self.start) & (month <= self.end)

    def label(self) -> str:
        a, b = self.start.strftime("%Y-%m"), self.end.strftime("%Y-%m")
        return a if a == b else f"{a}~{b}"


def window(period: str | pd.Period, name: WindowName) -> Window:
    """The window ``name`` (``month``, ``ytd``, ``l12m``) ending in ``period``."""
    p = as_period(period)
    end = p.to_timestamp()
    if name == "month":
        start = end
    elif name == "ytd":
        start = pd.Timestamp(year=p.year, month=1, day=1)
    elif name == "l12m":
        start = (p - 11).to_timestamp()
    else:
        raise ValueError(f"unknown window {name!r}; use one of {WINDOWS}")
    return Window(name, start, end)


def _first_month(frame: pd.DataFrame) -> pd.Timestamp:
    return pd.Timestamp(frame["month"].min())


def _check_period(frame: pd.DataFrame, period: pd.Period) -> None:
    if frame.empty:
        raise InputError(
            tr("there are no transactions to analyse"),
            fix=tr("Check that the transactions file has rows."),
        )
    first, last = frame["month"].min(), frame["month"].max()
    p = period.to_timestamp()
    if p < first or p > last:
        raise InputError(
            tr(
                "the report period {period} is outside the transactions, which cover {first} to "
                "{last}"
            ).format(
                period=period,
                first=f"{pd.Timestamp(first):%Y-%m}",
                last=f"{pd.Timestamp(last):%Y-%m}",
            ),
            fix=tr(
                "Choose a report month within the data (or leave the period empty for the "
                "latest complete month)."
            ),
        )


def _growth(cur: float | pd.Series, prior: float | pd.Series) -> float | pd.Series:
    """cur / prior - 1, NaN when prior is missing or not positive."""
    if isinstance(prior, pd.Series):
        return (cur / prior.where(prior > 0)) - 1
    if prior is None or not np.isfinite(prior) or prior <= 0:
        return float("nan")
    return float(cur) / float(prior) - 1


def _months_range(start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    return pd.date_range(start, end, freq="MS")


# ----------------------------------------------------------------------------- headline KPIs


def _customer_month_revenue(customers: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Net revenue per customer and month (all cells together), months up to ``end``."""
    c = customers.loc[customers["month"] <= end, ["month", "customer_id", "revenue"]]
    return c.groupby(["customer_id", "month"], as_index=False, sort=False)["revenue"].sum()


def _active_count(cm: pd.DataFrame, w: Window) -> int:
    sub = cm.loc[w.mask(cm["month"])]
    per = sub.groupby("customer_id", sort=False)["revenue"].sum()
    return int((per > 0).sum())


def headline_kpis(
    cube: pd.DataFrame,
    customers: pd.DataFrame,
    period: str | pd.Period,
    *,
    order_counts: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Revenue, orders and active customers for the month, YTD and last 12 months, with YoY.

    ``orders`` is the sum of the cube's distinct orders per cell, so an order with lines in
    several product lines counts once per line. Pass ``order_counts`` (``month, orders``: distinct
    orders per month) to count whole orders instead; the ``orders_basis`` column says which.

    Returns:
        One row per ``measure`` (``revenue``, ``orders``, ``customers``) and ``window``
        (``month``, ``ytd``, ``l12m``): ``start, end, value, prior, change, yoy`` and
        ``complete_prior`` (False when the prior window starts before the data).
    """
    p = as_period(period)
    _check_period(cube, p)
    first = _first_month(cube)
    cm = _customer_month_revenue(customers, p.to_timestamp())
    if order_counts is not None:
        orders_src = order_counts[["month", "orders"]]
        basis = "distinct orders"
    else:
        orders_src = cube[["month", "orders"]]
        basis = "orders per product line"
    rows = []
    for name in WINDOWS:
        w = window(p, name)
        pw = w.shift(-12)
        complete = pw.start >= first
        values = {
            "revenue": (
                float(cube.loc[w.mask(cube["month"]), "revenue"].sum()),
                float(cube.loc[pw.mask(cube["month"]), "revenue"].sum()),
            ),
            "orders": (
                float(orders_src.loc[w.mask(orders_src["month"]), "orders"].sum()),
                float(orders_src.loc[pw.mask(orders_src["month"]), "orders"].sum()),
            ),
            "customers": (float(_active_count(cm, w)), float(_active_count(cm, pw))),
        }
        for measure, (cur, prior) in values.items():
            prior_v = prior if complete else float("nan")
            rows.append(
                {
                    "measure": measure,
                    "window": name,
                    "start": w.start,
                    "end": w.end,
                    "value": cur,
                    "prior": prior_v,
                    "change": cur - prior_v,
                    "yoy": _growth(cur, prior_v),
                    "complete_prior": complete,
                    "orders_basis": basis if measure == "orders" else "",
                }
            )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- trend, season


def monthly_revenue(cube: pd.DataFrame, period: str | pd.Period | None = None) -> pd.Series:
    """Total revenue per month from the first month of data to ``period`` (missing months = 0).

    Returns a float Series indexed by month-start timestamps, named ``revenue``.
    """
    s = cube.groupby("month", sort=True)["revenue"].sum()
    end = as_period(period).to_timestamp() if period is not None else s.index.max()
    idx = _months_range(s.index.min(), end)
    return s.reindex(idx, fill_value=0.0).astype("float64").rename("revenue").rename_axis("month")


@dataclass(frozen=True)
class TrendSeasonality:
    """Result of :func:`trend_seasonality`.

    ``components``: per month ``revenue, trend, seasonal, resid, seasonally_adjusted,
    seasonal_index`` (currency, ``revenue = trend + seasonal + resid``).
    ``indices``: per calendar month ``calendar_month`` (1-12), ``seasonal_index`` (1.10 = 10%
    above trend; the 12 indices average 1).
    ``multiplicative``: True when STL ran on log revenue (all months positive).
    ``trend_yoy``: growth of the trend over the last 12 months.
    ``seasonal_strength``: ``max(0, 1 - var(resid) / var(seasonal + resid))`` (Wang, Smith
    & Hyndman), 0 = no seasonality, 1 = pure seasonality.
    """

    components: pd.DataFrame
    indices: pd.DataFrame
    multiplicative: bool
    trend_yoy: float
    seasonal_strength: float


def trend_seasonality(
    revenue: pd.Series, *, period: int = 12, robust: bool = True, years: int = 3
) -> TrendSeasonality:
    """STL decomposition of monthly revenue (statsmodels, ``period=12``, robust by default).

    When every month is positive, STL runs on ``log(revenue)``, so that the seasonal pattern is
    multiplicative (a month is x% above trend), which fits revenue better than fixed amounts;
    otherwise it runs on the amounts. Components are converted back to currency so that
    ``revenue = trend + seasonal + resid`` always holds. Seasonal indices by calendar month are
    the mean of the last ``years`` years of the seasonal factor, scaled to average 1.

    Args:
        revenue: monthly revenue (see :func:`monthly_revenue`), regular months, no gaps.

    Raises:
        InputError: fewer than two full years of months.
    """
    from statsmodels.tsa.seasonal import STL

    y = revenue.astype("float64")
    if len(y) < 2 * period:
        raise InputError(
            tr(
                "trend and seasonality need at least {needed} months of history; the data has "
                "{months}"
            ).format(needed=2 * period, months=len(y)),
            fix=tr("Add older transactions, or read the trend from the monthly chart for now."),
        )
    if y.isna().any():
        raise InputError(
            tr("the monthly revenue series has gaps"),
            fix=tr("Fill missing months with 0 (monthly_revenue does this)."),
        )
    multiplicative = bool((y > 0).all())
    x = np.log(y) if multiplicative else y
    fit = STL(x.to_numpy(), period=period, robust=robust).fit()
    trend_x = pd.Series(fit.trend, index=y.index)
    seas_x = pd.Series(fit.seasonal, index=y.index)
    if multiplicative:
        factor = np.exp(seas_x)
        trend = np.exp(trend_x)
        sa = y / factor
    else:
        trend = trend_x
        sa = y - seas_x
        factor = (trend + seas_x) / trend.where(trend > 0)
    comp = (
        pd.DataFrame(
            {
                "revenue": y,
                "trend": trend,
                "seasonal": y - sa,
                "resid": sa - trend,
                "seasonally_adjusted": sa,
                "seasonal_index": factor,
            }
        )
        .rename_axis("month")
        .reset_index()
    )
    recent = comp.tail(years * period)
    idx = recent.groupby(recent["month"].dt.month)["seasonal_index"].mean()
    idx = idx.reindex(range(1, 13))
    idx = idx / idx.mean()
    indices = pd.DataFrame(
        {"calendar_month": idx.index.astype("int64"), "seasonal_index": idx.to_numpy()}
    )
    tv = comp["trend"].to_numpy()
    trend_yoy = float(tv[-1] / tv[-1 - period] - 1) if tv[-1 - period] > 0 else float("nan")
    resid_x, seas_np = np.asarray(fit.resid), np.asarray(fit.seasonal)
    denom = np.var(seas_np + resid_x)
    level = float(np.mean(np.abs(x))) or 1.0
    # a flat series leaves only rounding noise: no seasonality, not a ratio of two tiny numbers
    strength = float(max(0.0, 1 - np.var(resid_x) / denom)) if denom > 1e-20 * level**2 else 0.0
    return TrendSeasonality(comp, indices, multiplicative, trend_yoy, strength)


# ----------------------------------------------------------------------------- mix and growth


def mix_growth(
    cube: pd.DataFrame, period: str | pd.Period, by: str, *, window_name: WindowName = "l12m"
) -> pd.DataFrame:
    """Revenue mix and YoY growth by one dimension (``region``, ``product_line``, ...).

    Returns one row per value of ``by`` (largest first) and a last row with key ``"*"`` (total):
    ``revenue, prior, share, prior_share, share_change`` (fraction points), ``growth``
    (YoY), ``contribution`` (change / prior total: the rows' contributions add up to the total
    growth). Shares of the rows add up to 1. Prior columns are NaN when the prior window starts
    before the data.
    """
    p = as_period(period)
    _check_period(cube, p)
    w = window(p, window_name)
    pw = w.shift(-12)
    complete = pw.start >= _first_month(cube)
    cur = cube.loc[w.mask(cube["month"])].groupby(by, sort=False)["revenue"].sum()
    prior = cube.loc[pw.mask(cube["month"])].groupby(by, sort=False)["revenue"].sum()
    out = pd.DataFrame({"revenue": cur, "prior": prior}).fillna(0.0)
    if not complete:
        out["prior"] = np.nan
    out = out.sort_values("revenue", ascending=False, kind="stable")
    tot_cur, tot_prior = float(out["revenue"].sum()), float(out["prior"].sum(min_count=1))
    out.loc[TOTAL] = [tot_cur, tot_prior]
    out["share"] = out["revenue"] / tot_cur if tot_cur else np.nan
    out["prior_share"] = out["prior"] / tot_prior if tot_prior and complete else np.nan
    out["share_change"] = out["share"] - out["prior_share"]
    out["growth"] = _growth(out["revenue"], out["prior"])
    out["contribution"] = (
        (out["revenue"] - out["prior"]) / tot_prior if (complete and tot_prior > 0) else np.nan
    )
    out = out.rename_axis(by).reset_index()
    out[by] = out[by].astype("str")
    out.insert(1, "window", window_name)
    return out


# ----------------------------------------------------------------------------- market share


def _market_coverage(market: pd.DataFrame, w: Window, by: str) -> pd.Series:
    sub = market.loc[w.mask(market["month"])]
    return sub.groupby(by, sort=False)["month"].nunique() / w.months


def market_share(
    cube: pd.DataFrame,
    market: pd.DataFrame,
    period: str | pd.Period,
    by: str,
    *,
    window_name: WindowName = "l12m",
) -> pd.DataFrame:
    """Market size and the company's share by ``region`` or ``product_line`` for a window.

    ``share = revenue / market_size`` over the same months. A key whose market data do not cover
    every month of the window gets a missing share (``coverage`` < 1) rather than a share
    against part of a year. The last row (key ``"*"``) is the whole market (keys with full
    coverage only).

    Returns:
        ``<by>, window, revenue, market_size, share, coverage, prior_revenue,
        prior_market_size, prior_share, share_change`` (fraction points),
        ``market_growth``, ``revenue_growth``.
    """
    if by not in ("region", "product_line"):
        raise ValueError("market share is defined by region or product_line only")
    p = as_period(period)
    _check_period(cube, p)
    w = window(p, window_name)
    pw = w.shift(-12)

    def one(win: Window) -> pd.DataFrame:
        rev = cube.loc[win.mask(cube["month"])].groupby(by, sort=False)["revenue"].sum()
        mk = market.loc[win.mask(market["month"])].groupby(by, sort=False)["market_size"].sum()
        cov = _market_coverage(market, win, by)
        f = pd.DataFrame({"revenue": rev, "market_size": mk, "coverage": cov})
        f["revenue"] = f["revenue"].fillna(0.0)
        f["coverage"] = f["coverage"].fillna(0.0)
        full = f["coverage"] >= 1 - 1e-12
        tot_rev = float(f.loc[full, "revenue"].sum()) if full.any() else np.nan
        tot_mk = float(f.loc[full, "market_size"].sum()) if full.any() else np.nan
        f.loc[TOTAL] = [tot_rev, tot_mk, float(full.all()) if len(f) else 0.0]
        f["share"] = (f["revenue"] / f["market_size"].where(f["market_size"] > 0)).where(
            f["coverage"] >= 1 - 1e-12
        )
        f.loc[TOTAL, "share"] = tot_rev / tot_mk if full.any() and tot_mk > 0 else np.nan
        return f

    cur, prior = one(w), one(pw)
    out = cur.join(prior[["revenue", "market_size", "share"]].add_prefix("prior_"), how="left")
    out["share_change"] = out["share"] - out["prior_share"]
    out["market_growth"] = _growth(out["market_size"], out["prior_market_size"])
    complete = pw.start >= _first_month(cube)
    out["revenue_growth"] = _growth(out["revenue"], out["prior_revenue"]) if complete else np.nan
    if not complete:
        out[["prior_revenue", "prior_share", "share_change"]] = np.nan
    body = out.drop(index=TOTAL).sort_values("market_size", ascending=False, kind="stable")
    out = pd.concat([body, out.loc[[TOTAL]]])
    out = out.rename_axis(by).reset_index()
    out[by] = out[by].astype("str")
    out.insert(1, "window", window_name)
    cols = [
        by,
        "window",
        "revenue",
        "market_size",
        "share",
        "coverage",
        "prior_revenue",
        "prior_market_size",
        "prior_share",
        "share_change",
        "market_growth",
        "revenue_growth",
    ]
    return out[cols]


def market_share_trend(
    cube: pd.DataFrame,
    market: pd.DataFrame,
    period: str | pd.Period,
    by: str,
    *,
    months: int = 24,
) -> pd.DataFrame:
    """Rolling 12-month market share by ``by`` for the last ``months`` months up to ``period``.

    Returns long rows ``month, <by>, revenue_l12m, market_l12m, share`` (plus key ``"*"`` for
    the total). Months whose 12-month window is not fully covered by the data or by the market
    file are left out.
    """
    p = as_period(period)
    end = p.to_timestamp()
    first = max(_first_month(cube), _first_month(market))
    idx = _months_range(first, end)
    rev = (
        cube.loc[cube["month"] <= end]
        .pivot_table(index="month", columns=by, values="revenue", aggfunc="sum", fill_value=0.0)
        .reindex(idx, fill_value=0.0)
    )
    mk = (
        market.loc[market["month"] <= end]
        .pivot_table(index="month", columns=by, values="market_size", aggfunc="sum")
        .reindex(idx)
    )
    keys = [k for k in mk.columns]
    rev = rev.reindex(columns=keys, fill_value=0.0)
    rev[TOTAL] = rev.sum(axis=1)
    mk[TOTAL] = mk.sum(axis=1, min_count=len(keys))
    r12 = rev.rolling(12, min_periods=12).sum()
    m12 = mk.rolling(12, min_periods=12).sum()  # NaN when any month lacks market data
    share = r12 / m12.where(m12 > 0)
    long = (
        pd.DataFrame(
            {
                "revenue_l12m": r12.stack(future_stack=True),
                "market_l12m": m12.stack(future_stack=True),
                "share": share.stack(future_stack=True),
            }
        )
        .rename_axis(["month", by])
        .reset_index()
    )
    long = long.loc[long["month"] > end - pd.DateOffset(months=months)].dropna(subset=["share"])
    long[by] = long[by].astype("str")
    return long.reset_index(drop=True)


# ----------------------------------------------------------------------------- customers


def _activity_matrix(
    customers: pd.DataFrame, end: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray, pd.DatetimeIndex, pd.Index]:
    """Boolean ``customers x months`` (net revenue > 0) and the revenue matrix, to ``end``."""
    cm = _customer_month_revenue(customers, end)
    months = _months_range(cm["month"].min(), end)
    cust = pd.Index(cm["customer_id"].unique()).sort_values()
    ci = cust.get_indexer(cm["customer_id"])
    mi = months.get_indexer(cm["month"])
    rev = np.zeros((len(cust), len(months)))
    np.add.at(rev, (ci, mi), cm["revenue"].to_numpy(dtype="float64"))
    return rev > 0, rev, months, cust


def customer_base(
    customers: pd.DataFrame, period: str | pd.Period, *, months: int | None = None
) -> pd.DataFrame:
    """Customer flows by month, as of ``period``.

    Definitions (a customer "buys" in a month when their net revenue that month is positive):

    - ``active``: customers who bought in the month;
    - ``active_l12m``: customers who bought in the 12 months ending with the month (the base);
    - ``new``: customers whose first purchase in the data is in the month;
    - ``lost``: customers in the base last month who are not in it now, i.e. whose last purchase
      was exactly 12 months ago;
    - ``returning``: customers back in the base who had bought before but not in the 12 months
      before the month.

    So ``active_l12m = previous active_l12m + new + returning - lost`` exactly. Flows are missing
    (NaN) in the first 12 months of data, where a first purchase in the data need not be a
    customer's first ever and the base is not yet complete.

    Returns:
        One row per month (the last ``months`` months, default all): ``month, active,
        active_l12m, new, returning, lost, revenue, revenue_per_active,
        revenue_per_active_l12m`` (currency per customer).
    """
    p = as_period(period)
    end = p.to_timestamp()
    if customers.empty or customers["month"].min() > end:
        raise InputError(
            tr("there are no customer transactions up to {period}").format(period=p),
            fix=tr("Check the report period and the transactions file."),
        )
    act, rev, mths, _ = _activity_matrix(customers, end)
    n_m = len(mths)
    cs = np.concatenate(
        [np.zeros((act.shape[0], 1), dtype="int64"), np.cumsum(act, axis=1, dtype="int64")], axis=1
    )
    lo = np.maximum(np.arange(n_m) - 11, 0)
    in_base = (cs[:, np.arange(n_m) + 1] - cs[:, lo]) > 0  # bought in [m-11, m]
    ever = act.any(axis=1)
    first = np.where(ever, act.argmax(axis=1), -1)
    prev_base = np.concatenate([np.zeros((act.shape[0], 1), bool), in_base[:, :-1]], axis=1)
    new = np.bincount(first[ever], minlength=n_m).astype("float64")
    lost = (prev_base & ~in_base).sum(axis=0).astype("float64")
    returning = (in_base & ~prev_base & (first[:, None] < np.arange(n_m)[None, :])).sum(axis=0)
    returning = returning.astype("float64")
    warm = np.arange(n_m) < 12
    for a in (new, lost, returning):
        a[warm] = np.nan
    active = act.sum(axis=0).astype("float64")
    base = in_base.sum(axis=0).astype("float64")
    base[np.arange(n_m) < 11] = np.nan
    month_rev = rev.sum(axis=0)
    rev_l12m = pd.Series(month_rev).rolling(12, min_periods=12).sum().to_numpy()
    out = pd.DataFrame(
        {
            "month": mths,
            "active": active,
            "active_l12m": base,
            "new": new,
            "returning": returning,
            "lost": lost,
            "revenue": month_rev,
            "revenue_per_active": np.where(
                active > 0, month_rev / np.where(active > 0, active, 1), np.nan
            ),
            "revenue_per_active_l12m": rev_l12m / np.where(base > 0, base, np.nan),
        }
    )
    if months is not None:
        out = out.tail(months)
    return out.reset_index(drop=True)


def customer_window_counts(customers: pd.DataFrame, period: str | pd.Period) -> pd.DataFrame:
    """Customers in the last 12 months versus the 12 months before (stock comparison).

    Returns one row: ``active_l12m, active_prior_l12m, retained, lost, won`` where ``lost`` =
    bought in the prior 12 months but not in the last 12, ``won`` = the reverse (new or back),
    ``new`` = first purchase in the data within the last 12 months, and ``retention`` =
    retained / active_prior_l12m. Prior counts are NaN when the data start less than 24 months
    before ``period``.
    """
    p = as_period(period)
    end = p.to_timestamp()
    act, _, mths, _ = _activity_matrix(customers, end)
    n_m = len(mths)
    cur = act[:, max(0, n_m - 12) :].any(axis=1)
    complete = n_m >= 24
    prior = act[:, max(0, n_m - 24) : max(0, n_m - 12)].any(axis=1)
    ever_before = act[:, : max(0, n_m - 12)].any(axis=1)
    new = cur & ~ever_before
    nan = float("nan")
    row = {
        "active_l12m": float(cur.sum()),
        "active_prior_l12m": float(prior.sum()) if complete else nan,
        "retained": float((cur & prior).sum()) if complete else nan,
        "lost": float((prior & ~cur).sum()) if complete else nan,
        "won": float((cur & ~prior).sum()) if complete else nan,
        "new": float(new.sum()) if n_m >= 24 else nan,
    }
    row["retention"] = (
        row["retained"] / row["active_prior_l12m"]
        if (complete and row["active_prior_l12m"] > 0)
        else nan
    )
    return pd.DataFrame([row])


# ----------------------------------------------------------------------------- concentration


def customer_revenue(
    customers: pd.DataFrame, period: str | pd.Period, *, window_name: WindowName = "l12m"
) -> pd.Series:
    """Net revenue per customer over the window, customers with positive revenue only,
    largest first (ties by customer id)."""
    w = window(as_period(period), window_name)
    sub = customers.loc[w.mask(customers["month"])]
    s = sub.groupby("customer_id", sort=True)["revenue"].sum()
    s = s[s > 0]
    order = np.lexsort((s.index.to_numpy(dtype=str), -s.to_numpy()))
    return s.iloc[order].rename("revenue")


def concentration(
    customers: pd.DataFrame,
    period: str | pd.Period,
    *,
    window_name: WindowName = "l12m",
    top_n: int = 10,
    top_pct: float = 0.2,
) -> pd.DataFrame:
    """How concentrated revenue is among customers over the window.

    Shares are of the revenue of customers with positive net revenue in the window.

    Returns one row: ``customers, revenue, top_n_share`` (the ``top_n`` largest customers),
    ``top_pct_share`` (the largest ``ceil(top_pct x customers)``), ``customers_for_80pct``
    (fewest customers that make 80% of revenue) and its share of customers, and ``hhi``
    (Herfindahl-Hirschman index, sum of squared shares, 0-10,000 scale) with ``hhi_equivalent``
    (10,000 / HHI: the number of equal-sized customers with the same concentration).
    """
    s = customer_revenue(customers, period, window_name=window_name)
    n = len(s)
    total = float(s.sum())
    nan = float("nan")
    if n == 0 or total <= 0:
        return pd.DataFrame(
            [
                {
                    "customers": 0,
                    "revenue": 0.0,
                    "top_n": top_n,
                    "top_n_share": nan,
                    "top_pct": top_pct,
                    "top_pct_share": nan,
                    "customers_for_80pct": nan,
                    "customers_for_80pct_share": nan,
                    "hhi": nan,
                    "hhi_equivalent": nan,
                }
            ]
        )
    shares = s.to_numpy() / total
    cum = np.cumsum(shares)
    k_pct = max(1, math.ceil(top_pct * n - 1e-9))
    k80 = int(np.searchsorted(cum, 0.8 - 1e-12) + 1)
    hhi = float(np.sum(shares**2) * 10_000)
    return pd.DataFrame(
        [
            {
                "customers": n,
                "revenue": total,
                "top_n": top_n,
                "top_n_share": float(cum[min(top_n, n) - 1]),
                "top_pct": top_pct,
                "top_pct_share": float(cum[k_pct - 1]),
                "customers_for_80pct": min(k80, n),
                "customers_for_80pct_share": min(k80, n) / n,
                "hhi": hhi,
                "hhi_equivalent": 10_000 / hhi,
            }
        ]
    )


def pareto_curve(
    customers: pd.DataFrame,
    period: str | pd.Period,
    *,
    window_name: WindowName = "l12m",
    points: tuple[float, ...] = (
        0.01,
        0.02,
        0.05,
        0.1,
        0.2,
        0.3,
        0.4,
        0.5,
        0.6,
        0.7,
        0.8,
        0.9,
        1.0,
    ),
) -> pd.DataFrame:
    """Pareto (cumulative) curve: share of revenue made by the top x% of customers.

    Returns one row per point: ``customer_pct`` (x), ``customers`` (``ceil(x n)``),
    ``revenue_share`` (cumulative share of revenue of those customers).
    """
    s = customer_revenue(customers, period, window_name=window_name)
    n = len(s)
    if n == 0:
        return pd.DataFrame(
            {"customer_pct": list(points), "customers": 0, "revenue_share": np.nan}
        )
    cum = np.cumsum(s.to_numpy()) / float(s.sum())
    k = np.array([max(1, math.ceil(x * n - 1e-9)) for x in points])
    return pd.DataFrame(
        {"customer_pct": list(points), "customers": k, "revenue_share": cum[np.minimum(k, n) - 1]}
    )


# ----------------------------------------------------------------------------- price / volume


def price_volume(
    cube: pd.DataFrame,
    period: str | pd.Period,
    *,
    by: str | list[str] = "product_line",
    window_name: WindowName = "l12m",
) -> pd.DataFrame:
    """Split the YoY revenue change of each product line into a price and a volume effect.

    With revenue ``R = P x Q`` (``Q`` = quantity, ``P = R / Q`` the average net unit price) in
    the prior (0) and current (1) window, the symmetric (midpoint) split is::

        price effect  = (P1 - P0) x (Q0 + Q1) / 2
        volume effect = (Q1 - Q0) x (P0 + P1) / 2
        price effect + volume effect = P1 Q1 - P0 Q0 = R1 - R0        (exactly)

    so there is no interaction term. The price effect includes product mix within the line
    (the average price moves when the mix of products does). When a line has no positive
    quantity in either window (new or stopped line), its whole change is volume and the price
    effect is 0. The volume effect is computed as ``change - price effect`` (equal to the
    formula above) so that the parts add up in floating point too. Quantities of different lines are not added; the ``"*"`` row sums the effects.

    Returns:
        One row per key and a ``"*"`` total: ``revenue_prior, revenue, change, quantity_prior,
        quantity, price_prior, price, price_change`` (fraction), ``quantity_change``,
        ``price_effect, volume_effect``.
    """
    keys = [by] if isinstance(by, str) else list(by)
    p = as_period(period)
    _check_period(cube, p)
    w = window(p, window_name)
    pw = w.shift(-12)
    if pw.start < _first_month(cube):
        raise InputError(
            tr(
                "price and volume effects need the same months a year earlier ({months}), which "
                "start before the data"
            ).format(months=pw.label()),
            fix=tr("Use a later report period or add older transactions."),
        )
    agg = {"revenue": "sum", "quantity": "sum"}
    cur = cube.loc[w.mask(cube["month"])].groupby(keys, sort=True).agg(agg)
    pri = cube.loc[pw.mask(cube["month"])].groupby(keys, sort=True).agg(agg)
    f = pri.add_suffix("_prior").join(cur, how="outer").fillna(0.0)
    r0, r1 = f["revenue_prior"], f["revenue"]
    q0, q1 = f["quantity_prior"], f["quantity"]
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        p0 = (r0 / q0).where(q0 > 0)
        p1 = (r1 / q1).where(q1 > 0)
        ok = (q0 > 0) & (q1 > 0) & np.isfinite(p0) & np.isfinite(p1)
        price_eff = ((p1 - p0) * (q0 + q1) / 2).where(ok, 0.0)
    price_eff = price_eff.where(np.isfinite(price_eff), 0.0)
    # = (Q1 - Q0) x (P0 + P1) / 2 when the price is defined; taken as the remainder so that
    # the two parts add up to the change in floating point as well
    vol_eff = (r1 - r0) - price_eff
    out = pd.DataFrame(
        {
            "revenue_prior": r0,
            "revenue": r1,
            "change": r1 - r0,
            "quantity_prior": q0,
            "quantity": q1,
            "price_prior": p0,
            "price": p1,
            "price_change": _growth(p1, p0),
            "quantity_change": _growth(q1, q0),
            "price_effect": price_eff,
            "volume_effect": vol_eff,
        }
    )
    out = out.reset_index()
    total = {k: TOTAL for k in keys}
    for c in ("revenue_prior", "revenue", "change", "price_effect", "volume_effect"):
        total[c] = float(out[c].sum())
    out = pd.concat([out, pd.DataFrame([total])], ignore_index=True)
    for k in keys:
        out[k] = out[k].astype("str")
    out.insert(len(keys), "window", window_name)
    return out


# ----------------------------------------------------------------------------- summary


def _rows(
    section: str, measure: str, dimension: str, key: str, window_name: str, value: float, unit: str
) -> dict:
    return {
        "section": section,
        "measure": measure,
        "dimension": dimension,
        "key": key,
        "window": window_name,
        "value": float(value) if value is not None else np.nan,
        "unit": unit,
    }


def market_summary(
    cube: pd.DataFrame,
    customers: pd.DataFrame,
    market: pd.DataFrame,
    period: str | pd.Period,
    *,
    currency: str = "CNY",
    dims: tuple[str, ...] = ("region", "product_line", "customer_type"),
    order_counts: pd.DataFrame | None = None,
    top_n: int = 10,
) -> pd.DataFrame:
    """All headline numbers of the market analysis as one tidy frame.

    Columns: ``period`` (YYYY-MM), ``section`` (``kpi``, ``trend``, ``mix``, ``market``,
    ``customers``, ``concentration``, ``price_volume``), ``measure``, ``dimension`` and ``key``
    (``"*"`` for totals), ``window`` (``month``, ``ytd``, ``l12m``, ``-``), ``value`` (float),
    ``unit`` (currency code, ``ratio``, ``customers``, ``orders``, ``index``).
    Ratios are fractions (0.12 = 12%).
    """
    p = as_period(period)
    rows = [
        *_kpi_rows(cube, customers, p, currency, order_counts),
        *_trend_rows(cube, p),
        *_mix_rows(cube, p, dims, currency),
        *_market_rows(cube, market, p, dims, currency),
        *_customer_rows(customers, p, currency),
        *_concentration_rows(customers, p, top_n),
        *_price_volume_rows(cube, p, currency),
    ]
    out = pd.DataFrame(rows)
    out.insert(0, "period", str(p))
    for c in ("period", "section", "measure", "dimension", "key", "window", "unit"):
        out[c] = out[c].astype("str")
    return out


def _kpi_rows(
    cube: pd.DataFrame,
    customers: pd.DataFrame,
    p: pd.Period,
    currency: str,
    order_counts: pd.DataFrame | None,
) -> list[dict]:
    """Section ``kpi``: each headline KPI, its prior-window value and the YoY."""
    rows = []
    units = {"revenue": currency, "orders": "orders", "customers": "customers"}
    for r in headline_kpis(cube, customers, p, order_counts=order_counts).itertuples():
        rows.append(_rows("kpi", r.measure, TOTAL, TOTAL, r.window, r.value, units[r.measure]))
        rows.append(
            _rows("kpi", f"{r.measure}_prior", TOTAL, TOTAL, r.window, r.prior, units[r.measure])
        )
        rows.append(_rows("kpi", f"{r.measure}_yoy", TOTAL, TOTAL, r.window, r.yoy, "ratio"))
    return rows


def _trend_rows(cube: pd.DataFrame, p: pd.Period) -> list[dict]:
    """Section ``trend``: trend, seasonal strength and indices (none when the history is too
    short)."""
    try:
        ts = trend_seasonality(monthly_revenue(cube, p))
    except InputError:
        return []
    rows = [
        _rows("trend", "trend_yoy", TOTAL, TOTAL, "l12m", ts.trend_yoy, "ratio"),
        _rows("trend", "seasonal_strength", TOTAL, TOTAL, "-", ts.seasonal_strength, "ratio"),
    ]
    for r in ts.indices.itertuples():
        rows.append(
            _rows(
                "trend",
                "seasonal_index",
                "calendar_month",
                str(r.calendar_month),
                "-",
                r.seasonal_index,
                "index",
            )
        )
    return rows


def _mix_rows(
    cube: pd.DataFrame, p: pd.Period, dims: tuple[str, ...], currency: str
) -> list[dict]:
    """Section ``mix``: revenue, share and growth of each key of each dimension."""
    rows = []
    for dim in dims:
        for r in mix_growth(cube, p, dim).itertuples():
            key = getattr(r, dim)
            rows.append(_rows("mix", "revenue", dim, key, "l12m", r.revenue, currency))
            rows.append(_rows("mix", "share", dim, key, "l12m", r.share, "ratio"))
            rows.append(_rows("mix", "growth", dim, key, "l12m", r.growth, "ratio"))
    return rows


def _market_rows(
    cube: pd.DataFrame,
    market: pd.DataFrame | None,
    p: pd.Period,
    dims: tuple[str, ...],
    currency: str,
) -> list[dict]:
    """Section ``market``: market size, share and its change by region and product line."""
    rows = []
    for dim in ("region", "product_line"):
        if dim not in dims or market is None or market.empty:
            continue
        for wn in ("l12m", "ytd"):
            for r in market_share(cube, market, p, dim, window_name=wn).itertuples():
                key = getattr(r, dim)
                rows.append(_rows("market", "market_size", dim, key, wn, r.market_size, currency))
                rows.append(_rows("market", "market_share", dim, key, wn, r.share, "ratio"))
                rows.append(_rows("market", "share_change", dim, key, wn, r.share_change, "ratio"))
    return rows


def _customer_rows(customers: pd.DataFrame, p: pd.Period, currency: str) -> list[dict]:
    """Section ``customers``: the customer base in the month and the last 12 months."""
    cb = customer_base(customers, p).iloc[-1]
    rows = [
        _rows("customers", c, TOTAL, TOTAL, "month", cb[c], "customers")
        for c in ("active", "active_l12m", "new", "returning", "lost")
    ]
    rows.append(
        _rows(
            "customers",
            "revenue_per_active_l12m",
            TOTAL,
            TOTAL,
            "l12m",
            cb["revenue_per_active_l12m"],
            currency,
        )
    )
    wc = customer_window_counts(customers, p).iloc[0]
    for c in ("lost", "won", "new", "retained"):
        rows.append(_rows("customers", c, TOTAL, TOTAL, "l12m", wc[c], "customers"))
    rows.append(_rows("customers", "retention", TOTAL, TOTAL, "l12m", wc["retention"], "ratio"))
    return rows


def _concentration_rows(customers: pd.DataFrame, p: pd.Period, top_n: int) -> list[dict]:
    """Section ``concentration``: top-n and top-percent shares, customers for 80%, HHI."""
    conc = concentration(customers, p, top_n=top_n).iloc[0]
    return [
        _rows("concentration", c, TOTAL, TOTAL, "l12m", conc[c], unit)
        for c, unit in (
            ("top_n_share", "ratio"),
            ("top_pct_share", "ratio"),
            ("customers_for_80pct", "customers"),
            ("hhi", "index"),
        )
    ]


def _price_volume_rows(cube: pd.DataFrame, p: pd.Period, currency: str) -> list[dict]:
    """Section ``price_volume``: change, price and volume effects by product line (none when
    there is no prior year)."""
    try:
        pv = price_volume(cube, p)
    except InputError:
        return []
    return [
        _rows("price_volume", c, "product_line", r.product_line, "l12m", getattr(r, c), currency)
        for r in pv.itertuples()
        for c in ("change", "price_effect", "volume_effect")
    ]


# ----------------------------------------------------------------------------- notebook helpers
