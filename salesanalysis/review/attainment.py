"""Actual vs target, pacing, landing forecast, the review table and its headline.

Private module; the public API is :mod:`salesanalysis.review`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from salesanalysis.data import counting
from salesanalysis.errors import InputError
from salesanalysis.i18n import tr
from salesanalysis.review.common import (
    ALL,
    BEFORE_PLAN,
    CELL,
    DIMS,
    JUDGED,
    LEVEL_KEYS,
    REVIEW_LEVELS,
    SHARE_LEVELS,
    TO_COME,
    WINDOWS,
    Z80,
    Z95,
    check_period,
    fiscal_months,
    keys_as_str,
    remaining_months,
    report_windows,
    require_columns,
    review_months,
    review_start,
    roll,
    safe_ratio,
    segment_label,
    with_month,
)

NO_CUSHION = "target_revenue_no_cushion"
REVIEW_COLUMNS = [
    "level",
    *DIMS,
    "measure",
    "window",
    "actual",
    "target",
    "attainment",
    "expected_to_date",
    "landing_mean",
    "landing_lo_80",
    "landing_hi_80",
    "p_reach_target",
]

# --------------------------------------------------------------------------- actuals and targets


def customer_activations(
    customers: pd.DataFrame, period: Any, fiscal_year: int, *, first_month: Any = None
) -> pd.DataFrame:
    """Customers counted by the additive rule of docs/ARCHITECTURE.md, for the fiscal year to date.

    The rule is :mod:`salesanalysis.data.counting`'s (the same as the target decomposition's) over
    January to the report period: a customer is *active* when at least one month has positive
    net revenue (all cells together; a later return does not undo it) and is *activated* in the
    first such month; their *home cell* is the ``(region, product_line, customer_type,
    rep_id)`` with the most revenue for that customer in the window (ties: the first in sorted
    key order). The count for a cell and month is the number of customers with that home cell
    activated in that month, so counts add up over cells and months (the year-to-date sum is
    the number of distinct active customers).

    A mid-year plan (``first_month``) is judged on the customers activated in its months: the
    rule runs over the fiscal year to date as always, and only the activations from
    ``first_month`` on are kept, so a customer already active before the plan is not counted
    again (the decomposition's customer target excludes the same customers: its full-year
    target less those active in the fiscal year to the cutoff, by the same rule).

    Args:
        customers: the customer cube (``month, customer_id, region, product_line,
            customer_type, rep_id, revenue``).
        first_month: the plan's first month (None: January).

    Returns:
        ``month, region, product_line, customer_type, rep_id, customers`` (int64), only
        cell-months with at least one activation.
    """
    require_columns(
        customers,
        ["month", "customer_id", *DIMS, "revenue"],
        "customer cube",
        tr("Build it with salesanalysis.data.cube.build_customer_cube."),
    )
    p = check_period(period, fiscal_year)
    c = keys_as_str(with_month(customers), [*DIMS, "customer_id"])
    months = fiscal_months(fiscal_year)
    acts = counting.activations(c, months[months <= p.to_timestamp()])
    return acts[acts["month"].isin(review_months(p, fiscal_year, first_month))]


def monthly_actuals(
    cube: pd.DataFrame,
    customers: pd.DataFrame,
    period: Any,
    fiscal_year: int,
    *,
    first_month: Any = None,
) -> pd.DataFrame:
    """Actuals of the fiscal year to date at the bottom grain, one row per month and key.

    With ``first_month`` (a mid-year plan's first month) only the months from it to the report
    period: the months before the plan are not judged.

    Returns ``month, region, product_line, customer_type, rep_id, revenue, quantity, customers``
    where ``customers`` is the activation count of :func:`customer_activations`.
    """
    require_columns(
        cube,
        ["month", *DIMS, "revenue"],
        "cube",
        tr("Build it with salesanalysis.data.cube.build_cube."),
    )
    p = check_period(period, fiscal_year)
    cb = keys_as_str(with_month(cube))
    cb = cb[cb["month"].isin(review_months(p, fiscal_year, first_month))]
    if "quantity" not in cb.columns:
        cb = cb.assign(quantity=np.nan)
    money = cb.groupby(["month", *DIMS], sort=True)[["revenue", "quantity"]].sum().reset_index()
    acts = customer_activations(customers, p, fiscal_year, first_month=first_month)
    out = money.merge(acts, on=["month", *DIMS], how="outer")
    out[["revenue", "quantity"]] = out[["revenue", "quantity"]].fillna(0.0)
    out["customers"] = out["customers"].fillna(0).astype("int64")
    return out.sort_values(["month", *DIMS], kind="mergesort").reset_index(drop=True)


def monthly_targets(targets: pd.DataFrame, fiscal_year: int) -> pd.DataFrame:
    """The fiscal year's targets: ``month, region, product_line, customer_type, rep_id,
    target_revenue, target_customers`` (+ ``target_revenue_no_cushion`` when present; other
    columns dropped, duplicates summed)."""
    require_columns(
        targets,
        ["month", *DIMS, "target_revenue"],
        "targets",
        tr("Run the target decomposition step (03) to write outputs/targets.parquet."),
    )
    t = keys_as_str(with_month(targets))
    if "target_customers" not in t.columns:
        t = t.assign(target_customers=0.0)
    months = fiscal_months(fiscal_year)
    t = t[t["month"].isin(months)]
    if t.empty:
        raise InputError(
            tr("the targets hold no month of fiscal year {fy}").format(fy=fiscal_year),
            fix=tr("Run the target decomposition for this fiscal year's plan."),
        )
    vals = ["target_revenue", "target_customers"]
    if NO_CUSHION in t.columns:
        vals.append(NO_CUSHION)
    t = t.groupby(["month", *DIMS], sort=True)[vals].sum().reset_index()
    return t


def company_view(
    targets: pd.DataFrame, company_targets: pd.DataFrame | None = None
) -> pd.DataFrame | None:
    """The targets to judge every level above the rep against: ``company_targets`` when given,
    else the targets' ``target_revenue_no_cushion`` (the company target without the
    over-assignment cushion, written by the target decomposition) as ``target_revenue``;
    None when neither exists (rep targets are then used everywhere)."""
    if company_targets is not None:
        return company_targets
    if NO_CUSHION in targets.columns:
        return targets.assign(target_revenue=targets[NO_CUSHION])
    return None


def _company_keys(
    targets: pd.DataFrame, company_targets: pd.DataFrame | None
) -> pd.DataFrame | None:
    """The company view (:func:`company_view`) with string keys, a month column and every
    dimension present (``*`` for the ones it does not carry); None when there is none."""
    company = company_view(targets, company_targets)
    if company is None:
        return None
    ct = keys_as_str(with_month(company))
    for d in DIMS:
        if d not in ct.columns:
            ct[d] = ALL
    return ct


def monthly_market(market: pd.DataFrame, fiscal_year: int) -> pd.DataFrame:
    """Market size of the fiscal year: ``month, region, product_line, market_size``."""
    require_columns(
        market,
        ["month", "region", "product_line", "market_size"],
        "market",
        tr("Provide market.csv (see data/README.md)."),
    )
    m = keys_as_str(with_month(market), ["region", "product_line"])
    m = m[m["month"].isin(fiscal_months(fiscal_year))]
    return (
        m.groupby(["month", "region", "product_line"], sort=True)["market_size"]
        .sum()
        .reset_index()
    )


def _in(df: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    return df[(df["month"] >= first) & (df["month"] <= last)]


def _sum_at(df: pd.DataFrame, level: str, values: Sequence[str]) -> pd.DataFrame:
    if df.empty:
        return pd.DataFrame(columns=["level", *DIMS, *values])
    return roll(df, level, values)


def monthly_overview(
    actuals: pd.DataFrame,
    targets: pd.DataFrame,
    period: Any,
    fiscal_year: int,
    *,
    first_month: Any = None,
) -> pd.DataFrame:
    """The company's fiscal year month by month, each month marked by what the review does
    with it.

    Args:
        actuals: :func:`monthly_actuals` of the whole fiscal year to date (without
            ``first_month``, so that the months before a mid-year plan are there to show).
        targets: :func:`monthly_targets` (the company view without the cushion is used when
            the targets carry it, see :func:`company_view`).
        first_month: a mid-year plan's first month (None: January).

    Returns:
        ``month, status, actual, target, attainment, customers, target_customers``, one row per
        month of the fiscal year. ``status``: ``BEFORE_PLAN`` for the months before the plan
        (their actuals shown, no target, no attainment: they are not judged), ``judged`` for
        the plan's months to the report period, ``to come`` after it (no actual). The keys
        are English; :func:`salesanalysis.review.readable` shows them in the report's
        language.
    """
    p = check_period(period, fiscal_year)
    months = fiscal_months(fiscal_year)
    start = review_start(fiscal_year, first_month)
    end = p.to_timestamp()
    company = company_view(targets)
    tg = company if company is not None else targets
    a = _in(actuals, months[0], end).groupby("month")[["revenue", "customers"]].sum()
    t = tg.groupby("month")[["target_revenue", "target_customers"]].sum()
    a, t = a.reindex(months), t.reindex(months, fill_value=0.0)
    closed = months <= end
    plan = months >= start
    out = pd.DataFrame(
        {
            "month": months,
            "status": np.select([~plan, closed], [BEFORE_PLAN, JUDGED], TO_COME),
            "actual": np.where(closed, a["revenue"].fillna(0.0).to_numpy(), np.nan),
            "target": np.where(plan, t["target_revenue"].to_numpy(float), np.nan),
            "customers": np.where(closed, a["customers"].fillna(0).to_numpy(float), np.nan),
            "target_customers": np.where(plan, t["target_customers"].to_numpy(float), np.nan),
        }
    )
    out["attainment"] = np.where(plan & closed, safe_ratio(out["actual"], out["target"]), np.nan)
    cols = ["month", "status", "actual", "target", "attainment", "customers", "target_customers"]
    return out[cols]


# --------------------------------------------------------------------------- attainment


def attainment_table(
    actuals: pd.DataFrame,
    targets: pd.DataFrame,
    market: pd.DataFrame | None,
    period: Any,
    fiscal_year: int,
    *,
    levels: Iterable[str] = REVIEW_LEVELS,
    share_levels: Iterable[str] = SHARE_LEVELS,
    company_targets: pd.DataFrame | None = None,
    first_month: Any = None,
) -> pd.DataFrame:
    """Actual vs target per level, key, measure and window.

    Args:
        actuals: :func:`monthly_actuals`.
        targets: :func:`monthly_targets` (rep grain; includes any over-assignment cushion).
        market: :func:`monthly_market`, or None (no market share rows).
        company_targets: optional targets without the cushion (month x any subset of the
            dimensions, ``target_revenue``, ``target_customers``); used for every level except
            ``rep`` and ``bottom``, so the company is judged against the company target.
        first_month: a mid-year plan's first month (None: January). Every window then starts
            no earlier than it: ``ytd`` and ``fy`` judge only the plan's months, and the months
            before the plan are left out of actuals and targets alike.

    Returns:
        ``level, region, product_line, customer_type, rep_id, measure, window, actual, target,
        attainment, expected_to_date``. Windows: ``month``, ``qtd``, ``ytd`` (actual vs the
        phased target of the same months) and ``fy`` (actual year to date vs the full-year
        target). ``expected_to_date`` is the phased target of the months elapsed, never a
        straight line. Market share = revenue / market size over the same months; its target is
        target revenue / market size. ``attainment`` = actual / target (NaN if target is 0).
    """
    wins = report_windows(period, fiscal_year, first_month)
    ytd = wins["ytd"]
    act = actuals
    ct = _company_keys(targets, company_targets)
    if ct is not None and "target_customers" not in ct.columns:
        ct["target_customers"] = 0.0
    out = []
    for level in levels:
        tg = targets if (ct is None or level in ("rep", "bottom")) else ct
        for window in WINDOWS:
            a_first, a_last = ytd if window == "fy" else wins[window]
            t_first, t_last = wins[window]
            a = _sum_at(_in(act, a_first, a_last), level, ["revenue", "customers"])
            t = _sum_at(_in(tg, t_first, t_last), level, ["target_revenue", "target_customers"])
            e = _sum_at(_in(tg, a_first, a_last), level, ["target_revenue", "target_customers"])
            e = e.rename(
                columns={"target_revenue": "exp_revenue", "target_customers": "exp_customers"}
            )
            m = a.merge(t, on=["level", *DIMS], how="outer").merge(
                e, on=["level", *DIMS], how="outer"
            )
            m = m.fillna({c: 0.0 for c in m.columns if c not in ("level", *DIMS)})
            for measure, ac, tc, ec in (
                ("revenue", "revenue", "target_revenue", "exp_revenue"),
                ("customers", "customers", "target_customers", "exp_customers"),
            ):
                out.append(
                    pd.DataFrame(
                        {
                            "level": m["level"],
                            **{d: m[d] for d in DIMS},
                            "measure": measure,
                            "window": window,
                            "actual": m[ac].astype(float),
                            "target": m[tc].astype(float),
                            "expected_to_date": m[ec].astype(float),
                        }
                    )
                )
    if market is not None and len(market):
        out.append(_share_rows(act, targets if ct is None else ct, market, wins, share_levels))
    res = pd.concat(out, ignore_index=True)
    res["attainment"] = safe_ratio(res["actual"], res["target"])
    return res[
        ["level", *DIMS, "measure", "window", "actual", "target", "attainment", "expected_to_date"]
    ]


def _share_rows(
    act: pd.DataFrame,
    tg: pd.DataFrame,
    market: pd.DataFrame,
    wins: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]],
    share_levels: Iterable[str],
) -> pd.DataFrame:
    rows = []
    mk = market.assign(customer_type=ALL, rep_id=ALL)
    ytd = wins["ytd"]
    for level in share_levels:
        for window in WINDOWS:
            a_first, a_last = ytd if window == "fy" else wins[window]
            t_first, t_last = wins[window]
            a = _sum_at(_in(act, a_first, a_last), level, ["revenue"])
            t = _sum_at(_in(tg, t_first, t_last), level, ["target_revenue"])
            e = _sum_at(_in(tg, a_first, a_last), level, ["target_revenue"]).rename(
                columns={"target_revenue": "exp_revenue"}
            )
            ma = _sum_at(_in(mk, a_first, a_last), level, ["market_size"]).rename(
                columns={"market_size": "m_act"}
            )
            mt = _sum_at(_in(mk, t_first, t_last), level, ["market_size"]).rename(
                columns={"market_size": "m_tgt"}
            )
            m = ma.merge(mt, on=["level", *DIMS], how="outer")
            for f in (a, t, e):
                m = m.merge(f, on=["level", *DIMS], how="left")
            m = m.fillna({"revenue": 0.0, "target_revenue": 0.0, "exp_revenue": 0.0})
            rows.append(
                pd.DataFrame(
                    {
                        "level": m["level"],
                        **{d: m[d] for d in DIMS},
                        "measure": "market_share",
                        "window": window,
                        "actual": safe_ratio(m["revenue"], m["m_act"]),
                        "target": safe_ratio(m["target_revenue"], m["m_tgt"]),
                        "expected_to_date": safe_ratio(m["exp_revenue"], m["m_act"]),
                    }
                )
            )
    return pd.concat(rows, ignore_index=True)


# --------------------------------------------------------------------------- landing forecast


def _forecast_sd(fc: pd.DataFrame) -> pd.Series:
    """Standard deviation of each monthly forecast, from its 80% (else 95%) interval."""
    sd80 = (fc["hi_80"] - fc["lo_80"]) / (2 * Z80) if {"lo_80", "hi_80"} <= set(fc) else np.nan
    sd95 = (fc["hi_95"] - fc["lo_95"]) / (2 * Z95) if {"lo_95", "hi_95"} <= set(fc) else np.nan
    sd = pd.Series(sd80, index=fc.index, dtype=float)
    return sd.fillna(pd.Series(sd95, index=fc.index, dtype=float)).clip(lower=0.0)


def prepare_forecast(
    forecast: pd.DataFrame, period: Any, fiscal_year: int, *, first_month: Any = None
) -> pd.DataFrame:
    """The forecast rows used for landing: months after the report period, in the fiscal year.

    A forecast made before the fiscal year (or earlier in it) also covers months that are now
    actuals; those months are dropped and the actuals are used instead. With ``first_month``
    (a mid-year plan) only the plan's months among them. Adds ``sd``.

    Raises:
        InputError: the forecast does not reach December of the fiscal year, or starts after
            the month following the report period (months would be missing).
    """
    require_columns(
        forecast,
        ["level", *DIMS, "month", "mean"],
        "forecast",
        tr("Run the forecasting step (02) to write outputs/forecast.parquet."),
    )
    fc = keys_as_str(with_month(forecast), ["level", *DIMS])
    if "measure" in fc.columns:  # tolerate a multi-measure forecast: revenue only
        fc = fc[fc["measure"].astype(str) == "revenue"]
    rest = remaining_months(period, fiscal_year, first_month)
    fc = fc[fc["month"].isin(rest)].copy()
    if len(rest):
        have = set(fc["month"].unique())
        missing = [m for m in rest if m not in have]
        if missing:
            names = ", ".join(f"{m:%Y-%m}" for m in missing)
            raise InputError(
                tr(
                    "the forecast does not cover the month(s) {months} that remain in fiscal "
                    "year {fy} after the report period {period}"
                ).format(months=names, fy=fiscal_year, period=check_period(period, fiscal_year)),
                fix=tr(
                    "Rerun the forecasting step (02) with the report period as its cutoff and a "
                    "horizon that reaches December."
                ),
            )
    fc["sd"] = _forecast_sd(fc)
    return fc


def forecast_at_level(fc: pd.DataFrame, level: str) -> pd.DataFrame:
    """Monthly forecast mean and sd of one level: the level's own rows when the forecast has
    them, else the sum of the ``bottom`` (or ``cell``) rows, sd added up (i.e. perfectly
    correlated series, a conservative rule); empty when neither exists."""
    own = fc[fc["level"] == level]
    if len(own):
        return own[["level", *DIMS, "month", "mean", "sd"]]
    for finer in ("bottom", "cell"):  # a forecast made at detail="cell" has no bottom rows
        rows = fc[fc["level"] == finer]
        if len(rows) and set(LEVEL_KEYS[level]) <= set(LEVEL_KEYS[finer]):
            return roll(rows, level, ["mean", "sd"], by_month=True)
    return pd.DataFrame(columns=["level", *DIMS, "month", "mean", "sd"])


def _combine_sd(sds: pd.Series, rho: float) -> float:
    s = sds.to_numpy(dtype=float)
    if not np.isfinite(s).all():
        return float("nan")
    var = (1.0 - rho) * float(np.sum(s * s)) + rho * float(np.sum(s)) ** 2
    return math.sqrt(max(var, 0.0))


def p_reach(target: Any, mean: Any, sd: Any) -> np.ndarray:
    """P(outcome >= target) for a normal outcome (sd 0: 1 if mean >= target else 0)."""
    target = np.asarray(target, dtype=float)
    mean = np.asarray(mean, dtype=float)
    sd = np.asarray(sd, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (target - mean) / np.where(sd > 0, sd, 1.0)
        p = np.where(sd > 0, stats.norm.sf(z), (mean >= target - 1e-9).astype(float))
    return np.where(np.isfinite(target) & np.isfinite(mean) & np.isfinite(sd), p, np.nan)


def landing_forecast(
    actuals: pd.DataFrame,
    targets: pd.DataFrame,
    forecast: pd.DataFrame,
    period: Any,
    fiscal_year: int,
    *,
    levels: Iterable[str] = REVIEW_LEVELS,
    month_correlation: float = 1.0,
    company_targets: pd.DataFrame | None = None,
    first_month: Any = None,
) -> pd.DataFrame:
    """Full-year revenue landing per level and key: actual to date + forecast of the rest.

    Rules (stated in the report):

    * Forecast months used = the months after the report period up to December; forecast
      months that are already actuals are ignored (see :func:`prepare_forecast`).
    * Each month's forecast is read as normal with ``sd = (hi_80 - lo_80) / (2 * 1.2816)``
      (the 95% interval when the 80% one is missing).
    * Months are combined with a common correlation ``rho`` (``month_correlation``):
      ``var = (1 - rho) * sum(sd_m^2) + rho * (sum sd_m)^2``. The default ``rho = 1`` (errors
      of one forecast path move together, a conservative choice) makes the landing interval
      the sum of the monthly bounds for symmetric intervals.
    * Landing interval = landing mean -/+ z * sd (80% and 95%), the remaining months' forecast
      read as a normal censored at 0: a lower bound is never below the actual to date.
    * ``p_reach_target`` = P(landing >= full-year target) under that normal (1 when the
      actual to date has reached the target).
    * A key without forecast rows (e.g. a rep hired after the forecast cutoff) gets NaN
      landing, unless no month remains (December: landing = actual, sd 0).
    * A mid-year plan (``first_month``) lands its own months: actual from ``first_month`` to
      the report period + forecast of the rest, against the target of the plan's months.

    Returns:
        ``level, region, product_line, customer_type, rep_id, actual_ytd, target_fy,
        forecast_rest, landing_mean, landing_sd, landing_lo_80, landing_hi_80, landing_lo_95,
        landing_hi_95, p_reach_target``.
    """
    if not 0.0 <= month_correlation <= 1.0:
        raise ValueError("month_correlation must lie between 0 and 1")
    p = check_period(period, fiscal_year)
    rest = remaining_months(p, fiscal_year, first_month)
    fc = prepare_forecast(forecast, p, fiscal_year, first_month=first_month)
    wins = report_windows(p, fiscal_year, first_month)
    ct = _company_keys(targets, company_targets)
    frames = []
    for level in levels:
        tg = targets if (ct is None or level in ("rep", "bottom")) else ct
        m = _actual_and_target(_in(actuals, *wins["ytd"]), _in(tg, *wins["fy"]), level)
        if len(rest):
            m = _with_forecast_rest(m, forecast_at_level(fc, level), len(rest), month_correlation)
        else:
            m["forecast_rest"] = 0.0
            m["landing_sd"] = 0.0
        frames.append(m)
    return _landing_bounds(pd.concat(frames, ignore_index=True))


def _actual_and_target(
    actual_ytd: pd.DataFrame, targets: pd.DataFrame, level: str
) -> pd.DataFrame:
    """``level, DIMS, actual_ytd, target_fy`` of every key with an actual or a target."""
    a = _sum_at(actual_ytd, level, ["revenue"]).rename(columns={"revenue": "actual_ytd"})
    t = _sum_at(targets, level, ["target_revenue"]).rename(columns={"target_revenue": "target_fy"})
    m = a.merge(t, on=["level", *DIMS], how="outer")
    m = m.fillna({"actual_ytd": 0.0, "target_fy": 0.0})
    # float even when one side has no rows (a report month before a mid-year plan began)
    return m.astype({"actual_ytd": float, "target_fy": float})


def _with_forecast_rest(
    m: pd.DataFrame, f: pd.DataFrame, n_rest: int, month_correlation: float
) -> pd.DataFrame:
    """``forecast_rest`` (the forecast of the remaining months) and ``landing_sd`` (their
    sd combined with ``month_correlation``) of the keys forecast for all ``n_rest`` months;
    NaN for the others (none when the level has no forecast)."""
    if not len(f):
        m["forecast_rest"] = np.nan
        m["landing_sd"] = np.nan
        return m
    g = f.groupby(["level", *DIMS], sort=True)
    agg = pd.DataFrame(
        {
            "forecast_rest": g["mean"].sum(),
            "landing_sd": g["sd"].apply(lambda s: _combine_sd(s, month_correlation)),
            "n_months": g["month"].nunique(),
        }
    ).reset_index()
    agg = agg[agg["n_months"] == n_rest].drop(columns="n_months")
    m = m.merge(agg, on=["level", *DIMS], how="outer")
    return m.fillna({"actual_ytd": 0.0, "target_fy": 0.0})


def _landing_bounds(res: pd.DataFrame) -> pd.DataFrame:
    """Landing mean, 80% and 95% intervals and the probability of reaching the target.

    A non-negative forecast of the remaining months is a normal censored at 0 (sales are not
    negative): the landing's lower bounds are never below the actual to date, and a target
    already reached has probability 1 (the probability of a target still ahead is the same
    under the censored normal)."""
    res["landing_mean"] = res["actual_ytd"] + res["forecast_rest"]
    censored = (res["forecast_rest"] >= 0).to_numpy()
    for lv, z in (("80", Z80), ("95", Z95)):
        lo = res["landing_mean"] - z * res["landing_sd"]
        res[f"landing_lo_{lv}"] = np.where(censored, np.fmax(lo, res["actual_ytd"]), lo)
        res[f"landing_hi_{lv}"] = res["landing_mean"] + z * res["landing_sd"]
    pr = p_reach(res["target_fy"], res["landing_mean"], res["landing_sd"])
    reached = censored & (res["actual_ytd"] >= res["target_fy"]).to_numpy()
    res["p_reach_target"] = np.where(reached & np.isfinite(pr), 1.0, pr)
    return res[
        [
            "level",
            *DIMS,
            "actual_ytd",
            "target_fy",
            "forecast_rest",
            "landing_mean",
            "landing_sd",
            "landing_lo_80",
            "landing_hi_80",
            "landing_lo_95",
            "landing_hi_95",
            "p_reach_target",
        ]
    ]


def customer_landing(actual_ytd: Any, expected_ytd: Any, target_fy: Any) -> pd.DataFrame:
    """Full-year customer landing: a pace-adjusted plan with Poisson uncertainty.

    There is no statistical forecast of activations, so the rule is: the activations still to
    come = the phased target of the remaining months x the pace so far (actual / expected to
    date; 1 when nothing was expected), as a Poisson count. Landing = actual + that count; the
    80% interval comes from the Poisson 10% and 90% quantiles; ``p_reach_target`` =
    P(Poisson >= target - actual).
    """
    a = np.asarray(actual_ytd, dtype=float)
    e = np.asarray(expected_ytd, dtype=float)
    t = np.asarray(target_fy, dtype=float)
    pace = np.where(e > 0, a / np.where(e > 0, e, 1.0), 1.0)
    lam = np.clip(t - e, 0.0, None) * pace
    need = t - a
    with np.errstate(invalid="ignore"):
        lo = np.where(lam > 0, stats.poisson.ppf(0.1, np.where(lam > 0, lam, 1.0)), 0.0)
        hi = np.where(lam > 0, stats.poisson.ppf(0.9, np.where(lam > 0, lam, 1.0)), 0.0)
        pr = np.where(
            need <= 0,
            1.0,
            np.where(
                lam > 0, stats.poisson.sf(np.ceil(need) - 1, np.where(lam > 0, lam, 1.0)), 0.0
            ),
        )
    return pd.DataFrame(
        {
            "landing_mean": a + lam,
            "landing_lo_80": a + lo,
            "landing_hi_80": a + hi,
            "p_reach_target": pr,
        }
    )


# --------------------------------------------------------------------------- review table


def build_review(
    cube: pd.DataFrame,
    customers: pd.DataFrame,
    targets: pd.DataFrame,
    forecast: pd.DataFrame | None,
    market: pd.DataFrame | None,
    period: Any,
    fiscal_year: int,
    *,
    levels: Iterable[str] = REVIEW_LEVELS,
    share_levels: Iterable[str] = SHARE_LEVELS,
    month_correlation: float = 1.0,
    company_targets: pd.DataFrame | None = None,
    first_month: Any = None,
) -> pd.DataFrame:
    """The review table (``outputs/review.parquet``).

    One row per level and key (``*`` for summed dimensions), ``measure`` (revenue, customers,
    market_share) and ``window`` (month, qtd, ytd, fy): ``actual, target, attainment,
    expected_to_date, landing_mean, landing_lo_80, landing_hi_80, p_reach_target``.
    Landing columns are filled on ``fy`` rows only (NaN elsewhere): revenue from
    :func:`landing_forecast`; customers from :func:`customer_landing`; market share = revenue
    landing / full-year market size, with the revenue probability of reaching the target
    revenue (= target share x market). Without a forecast the revenue landing is NaN.

    Rep rows are judged against the rep targets (with the over-assignment cushion); every other
    level against the company targets without it (``company_targets``, else the targets'
    ``target_revenue_no_cushion`` column, see :func:`company_view`).

    A mid-year plan (``first_month``, its first month; None = January) is judged on its own
    months only: ``ytd`` = the plan's first month to the report period, ``fy`` = the plan's
    months; the months before the plan are in no window.
    """
    levels = list(levels)
    share_levels = list(share_levels)
    act = monthly_actuals(cube, customers, period, fiscal_year, first_month=first_month)
    tgt = monthly_targets(targets, fiscal_year)
    mkt = monthly_market(market, fiscal_year) if market is not None else None
    company_targets = company_view(tgt, company_targets)
    att = attainment_table(
        act,
        tgt,
        mkt,
        period,
        fiscal_year,
        levels=levels,
        share_levels=share_levels,
        company_targets=company_targets,
        first_month=first_month,
    )
    for c in ("landing_mean", "landing_lo_80", "landing_hi_80", "p_reach_target"):
        att[c] = np.nan
    fy = att["window"] == "fy"
    # revenue
    if forecast is not None:
        land = landing_forecast(
            act,
            tgt,
            forecast,
            period,
            fiscal_year,
            levels=sorted(set(levels) | set(share_levels)),
            month_correlation=month_correlation,
            company_targets=company_targets,
            first_month=first_month,
        )
        lk = land.set_index(["level", *DIMS])
        idx = att.loc[fy & (att["measure"] == "revenue")].set_index(["level", *DIMS]).index
        for c in ("landing_mean", "landing_lo_80", "landing_hi_80", "p_reach_target"):
            att.loc[fy & (att["measure"] == "revenue"), c] = lk[c].reindex(idx).to_numpy()
        if mkt is not None and len(mkt):
            sel = fy & (att["measure"] == "market_share")
            # the market of the months the target covers (the plan's months)
            mk = _in(mkt, *report_windows(period, fiscal_year, first_month)["fy"])
            mk = mk.assign(customer_type=ALL, rep_id=ALL)
            sizes = pd.concat(
                [_sum_at(mk, lv, ["market_size"]) for lv in share_levels], ignore_index=True
            )
            sidx = att.loc[sel].set_index(["level", *DIMS]).index
            size = sizes.set_index(["level", *DIMS])["market_size"].reindex(sidx).to_numpy()
            for c in ("landing_mean", "landing_lo_80", "landing_hi_80"):
                att.loc[sel, c] = safe_ratio(lk[c].reindex(sidx).to_numpy(), size)
            att.loc[sel, "p_reach_target"] = lk["p_reach_target"].reindex(sidx).to_numpy()
    # customers
    sel = fy & (att["measure"] == "customers")
    cl = customer_landing(
        att.loc[sel, "actual"], att.loc[sel, "expected_to_date"], att.loc[sel, "target"]
    )
    for c in cl.columns:
        att.loc[sel, c] = cl[c].to_numpy()
    att = att[REVIEW_COLUMNS]
    order = {lv: i for i, lv in enumerate(dict.fromkeys([*levels, *share_levels]))}
    att = att.assign(
        _l=att["level"].map(order),
        _w=att["window"].map({w: i for i, w in enumerate(WINDOWS)}),
        _m=att["measure"].map({"revenue": 0, "customers": 1, "market_share": 2}),
    )
    att = att.sort_values(["_m", "_l", *DIMS, "_w"], kind="mergesort")
    return att.drop(columns=["_l", "_w", "_m"]).reset_index(drop=True)


# --------------------------------------------------------------------------- pacing


def pacing_table(
    review: pd.DataFrame,
    period: Any,
    fiscal_year: int,
    *,
    measure: str = "revenue",
    first_month: Any = None,
) -> pd.DataFrame:
    """Seasonality-aware pacing per level and key, from the ``fy`` rows of the review table.

    Columns: ``actual_ytd``; ``target_fy``; ``expected_to_date`` (the *phased* target of the
    months elapsed); ``straight_line`` (target x months elapsed / 12, shown for contrast only);
    ``pace_gap`` = actual - expected; ``pace_pct`` = actual / expected; ``remaining_months``;
    ``remaining_target`` = target - expected (the phased plan for the rest of the year);
    ``required_remaining`` = target - actual; ``required_per_month`` = required / remaining
    months; ``plan_per_month`` = remaining target / remaining months; ``required_vs_plan`` =
    required / remaining target (1.25 = the rest of the year must run 25% above the phased
    plan); ``landing_mean``, ``p_reach_target``. A mid-year plan (``first_month``) counts its
    own months only: the straight line is target x plan months elapsed / plan months.
    """
    if measure not in ("revenue", "customers"):
        raise ValueError("pacing applies to revenue or customers")
    p = check_period(period, fiscal_year)
    fy = review[(review["measure"] == measure) & (review["window"] == "fy")]
    elapsed = len(review_months(p, fiscal_year, first_month))
    n_plan = 13 - review_start(fiscal_year, first_month).month
    left = len(remaining_months(p, fiscal_year, first_month))
    out = pd.DataFrame(
        {
            "level": fy["level"],
            **{d: fy[d] for d in DIMS},
            "actual_ytd": fy["actual"],
            "target_fy": fy["target"],
            "expected_to_date": fy["expected_to_date"],
            "straight_line": fy["target"] * elapsed / float(n_plan),
        }
    )
    out["pace_gap"] = out["actual_ytd"] - out["expected_to_date"]
    out["pace_pct"] = safe_ratio(out["actual_ytd"], out["expected_to_date"])
    out["remaining_months"] = left
    out["remaining_target"] = out["target_fy"] - out["expected_to_date"]
    out["required_remaining"] = out["target_fy"] - out["actual_ytd"]
    out["required_per_month"] = out["required_remaining"] / left if left else np.nan
    out["plan_per_month"] = out["remaining_target"] / left if left else np.nan
    out["required_vs_plan"] = safe_ratio(out["required_remaining"], out["remaining_target"])
    out["landing_mean"] = fy["landing_mean"]
    out["p_reach_target"] = fy["p_reach_target"]
    return out.reset_index(drop=True)


def _match(df: pd.DataFrame, key: Mapping[str, str] | None) -> pd.DataFrame:
    if not key:
        return df
    mask = np.ones(len(df), dtype=bool)
    for k, v in key.items():
        mask &= (df[k].astype(str) == str(v)).to_numpy()
    return df[mask]


def pacing_curve(
    actuals: pd.DataFrame,
    targets: pd.DataFrame,
    forecast: pd.DataFrame | None,
    period: Any,
    fiscal_year: int,
    *,
    level: str = "total",
    key: Mapping[str, str] | None = None,
    month_correlation: float = 1.0,
    first_month: Any = None,
) -> pd.DataFrame:
    """Monthly revenue path of one level and key over the fiscal year, for the pacing chart.

    Columns: ``month, actual, target, in_plan, cum_actual, cum_target`` (phased),
    ``straight_line`` (cumulative), ``required`` (after the report period: the phased target of
    each remaining month scaled so the year closes on target), ``cum_required``,
    ``landing_mean, landing_lo_80, landing_hi_80`` (cumulative: actual to date, then +
    forecast). ``key`` selects the key of the level, e.g. ``{"region": "华东"}``.
    A mid-year plan (``first_month``): the months before it have ``in_plan`` False, their
    monthly ``actual`` (0 when ``actuals`` leaves them out) and no cumulative figure; the
    cumulative lines start at the plan's first month.
    """
    p = check_period(period, fiscal_year)
    months = fiscal_months(fiscal_year)
    end = p.to_timestamp()
    a = _match(_in(actuals, months[0], end), key)
    if level not in ("rep", "bottom"):
        company = company_view(targets)
        targets = company if company is not None else targets
    t = _match(targets, key)
    a_m = a.groupby("month")["revenue"].sum().reindex(months)
    a_m[months > end] = np.nan
    t_m = t.groupby("month")["target_revenue"].sum().reindex(months, fill_value=0.0)
    out = pd.DataFrame({"month": months, "actual": a_m.to_numpy(), "target": t_m.to_numpy()})
    out.loc[out["month"] <= end, "actual"] = out["actual"].fillna(0.0)
    plan = (out["month"] >= review_start(fiscal_year, first_month)).to_numpy()
    out["in_plan"] = plan
    out["cum_actual"] = out["actual"].where(plan).cumsum()
    out["cum_target"] = out["target"].where(plan).cumsum()
    fy_target = float(out.loc[plan, "target"].sum())
    out["straight_line"] = np.where(plan, fy_target * np.cumsum(plan) / float(plan.sum()), np.nan)
    done = (out["month"] <= end).to_numpy()
    ytd = float(out.loc[done & plan, "actual"].sum())
    rem_plan = float(out.loc[~done & plan, "target"].sum())
    need = fy_target - ytd
    scale = need / rem_plan if rem_plan else np.nan
    out["required"] = np.where(done | ~plan, np.nan, out["target"] * scale)
    out["cum_required"] = np.where(
        done, out["cum_actual"], ytd + out["required"].where(~done, 0.0).cumsum()
    )
    out["landing_mean"] = np.where(done, out["cum_actual"], np.nan)
    out["landing_lo_80"] = out["landing_mean"]
    out["landing_hi_80"] = out["landing_mean"]
    rest = ~done & plan
    if forecast is not None and rest.any():
        fc = prepare_forecast(forecast, p, fiscal_year, first_month=first_month)
        f = _match(forecast_at_level(fc, level), key)
        f = f.groupby("month")[["mean", "sd"]].sum().reindex(months[rest])
        if f["mean"].notna().all():
            cm = ytd + f["mean"].cumsum().to_numpy()
            sds = [_combine_sd(f["sd"].iloc[: i + 1], month_correlation) for i in range(len(f))]
            out.loc[rest, "landing_mean"] = cm
            lo = cm - Z80 * np.asarray(sds)  # sales are not negative: not below the actual
            out.loc[rest, "landing_lo_80"] = np.where(cm >= ytd, np.fmax(lo, ytd), lo)
            out.loc[rest, "landing_hi_80"] = cm + Z80 * np.asarray(sds)
    return out


# --------------------------------------------------------------------------- headline


def _jsonable(x: Any) -> Any:
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    return x


def headline(review: pd.DataFrame, *, n: int = 3, level: str = "cell") -> dict[str, Any]:
    """Headline figures for the run's index page (plain JSON-able values).

    Keys: ``ytd_actual, ytd_target, ytd_attainment`` (revenue, company, year to date),
    ``fy_target, landing_mean, landing_lo_80, landing_hi_80, landing_vs_target`` (landing /
    target - 1), ``p_reach_target``, ``customers_ytd, customers_target_ytd``, and ``behind`` /
    ``ahead``: the ``n`` keys of ``level`` (default: region x product line x customer type
    cells) furthest behind / ahead of their year-to-date target in currency, each a dict with
    ``segment, actual, target, gap, attainment``.
    """
    rev = review[review["measure"] == "revenue"]
    tot = rev[rev["level"] == "total"].set_index("window")
    if tot.empty or "ytd" not in tot.index:
        raise InputError(
            tr("the review table has no company revenue row"),
            fix=tr("Build it with salesanalysis.review.build_review."),
        )

    ytd, fy = tot.loc["ytd"], tot.loc["fy"]
    cus = review[
        (review["measure"] == "customers")
        & (review["level"] == "total")
        & (review["window"] == "ytd")
    ]
    seg = rev[(rev["level"] == level) & (rev["window"] == "ytd")].copy()
    seg["gap"] = seg["actual"] - seg["target"]
    seg = seg.sort_values(["gap", *DIMS], kind="mergesort")

    def items(df: pd.DataFrame) -> list[dict[str, Any]]:
        return [
            {
                "segment": segment_label(r),
                "actual": _jsonable(r["actual"]),
                "target": _jsonable(r["target"]),
                "gap": _jsonable(r["gap"]),
                "attainment": _jsonable(r["attainment"]),
            }
            for _, r in df.iterrows()
        ]

    landing = fy["landing_mean"]
    return {
        "ytd_actual": _jsonable(ytd["actual"]),
        "ytd_target": _jsonable(ytd["target"]),
        "ytd_attainment": _jsonable(ytd["attainment"]),
        "fy_target": _jsonable(fy["target"]),
        "landing_mean": _jsonable(landing),
        "landing_lo_80": _jsonable(fy["landing_lo_80"]),
        "landing_hi_80": _jsonable(fy["landing_hi_80"]),
        "landing_vs_target": _jsonable(
            landing / fy["target"] - 1.0 if fy["target"] else float("nan")
        ),
        "p_reach_target": _jsonable(fy["p_reach_target"]),
        "customers_ytd": _jsonable(cus["actual"].iloc[0]) if len(cus) else None,
        "customers_target_ytd": _jsonable(cus["target"].iloc[0]) if len(cus) else None,
        "behind": items(seg[seg["gap"] < 0].head(n)),
        "ahead": items(seg[seg["gap"] > 0].iloc[::-1].head(n)),
    }


def off_track(
    review: pd.DataFrame, *, level: str = "cell", n: int = 5, measure: str = "revenue"
) -> pd.DataFrame:
    """The ``n`` keys of a level furthest behind their year-to-date target (in currency for
    revenue), with YTD attainment, the full-year landing and the probability of reaching it."""
    ytd = review[
        (review["measure"] == measure) & (review["level"] == level) & (review["window"] == "ytd")
    ]
    fy = review[
        (review["measure"] == measure) & (review["level"] == level) & (review["window"] == "fy")
    ]
    m = ytd[["level", *DIMS, "actual", "target", "attainment"]].merge(
        fy[["level", *DIMS, "target", "landing_mean", "p_reach_target"]].rename(
            columns={"target": "target_fy"}
        ),
        on=["level", *DIMS],
        how="left",
    )
    m["gap"] = m["actual"] - m["target"]
    m.insert(1, "segment", [segment_label(r) for _, r in m.iterrows()])
    return m.sort_values(["gap", *DIMS], kind="mergesort").head(n).reset_index(drop=True)


__all__ = [
    "REVIEW_COLUMNS",
    "CELL",
    "LEVEL_KEYS",
    "attainment_table",
    "build_review",
    "company_view",
    "customer_activations",
    "customer_landing",
    "forecast_at_level",
    "headline",
    "landing_forecast",
    "monthly_actuals",
    "monthly_market",
    "monthly_overview",
    "monthly_targets",
    "off_track",
    "p_reach",
    "pacing_curve",
    "pacing_table",
    "prepare_forecast",
]


def summary_table(review: pd.DataFrame, level: str, *, measure: str = "revenue") -> pd.DataFrame:
    """One row per key of a level, windows side by side, for display: ``segment``,
    ``month_actual, month_target, month_att``, the same for ``qtd`` and ``ytd``, then
    ``fy_target, expected_to_date, pace_gap, landing_mean, landing_lo_80, landing_hi_80,
    landing_vs_target, p_reach_target``."""
    d = review[(review["level"] == level) & (review["measure"] == measure)]
    idx = ["level", *DIMS]
    out = d[d["window"] == "fy"][idx].drop_duplicates().reset_index(drop=True)
    for w in ("month", "qtd", "ytd"):
        part = d[d["window"] == w][[*idx, "actual", "target", "attainment"]].rename(
            columns={"actual": f"{w}_actual", "target": f"{w}_target", "attainment": f"{w}_att"}
        )
        out = out.merge(part, on=idx, how="left")
    fy = d[d["window"] == "fy"][
        [
            *idx,
            "target",
            "expected_to_date",
            "landing_mean",
            "landing_lo_80",
            "landing_hi_80",
            "p_reach_target",
        ]
    ]
    out = out.merge(fy.rename(columns={"target": "fy_target"}), on=idx, how="left")
    out["pace_gap"] = out["ytd_actual"] - out["expected_to_date"]
    out["landing_vs_target"] = safe_ratio(out["landing_mean"], out["fy_target"]) - 1.0
    out.insert(0, "segment", [segment_label(r) for _, r in out.iterrows()])
    return out.drop(columns=idx)


__all__ += ["summary_table"]
