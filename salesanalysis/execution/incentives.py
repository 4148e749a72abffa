"""Incentives: the commission plan's payout curve, its cost at the forecast, and what reps earn.

The payout of a rep with target ``T`` and attainment ``a`` (actual / target):

    payout = base_rate x T x sum over bands of rate_band x (the part of [0, a] inside the band)

capped at ``cap`` x the on-target payout (the payout at a = 100%). The bands work like tax
brackets: a decelerator band (rate < 1) below a threshold pays less per unit of attainment, an
accelerator band (rate > 1) above 100% more; because each band pays only on the attainment
inside it, the curve is continuous at every band edge and never falls as attainment rises.
With ``measure: revenue_customers`` the attainment is the weighted mean of the revenue and the
customer attainment (the base is still the revenue target).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesanalysis.i18n import tr
from salesanalysis.targets.plan import Incentives

__all__ = [
    "PLAN_COST_COLUMNS",
    "payout_multiple",
    "payout",
    "on_target_payout",
    "payout_curve",
    "blended_attainment",
    "rep_plan_cost",
    "plan_cost_summary",
    "rep_earnings",
    "describe_incentives",
]

PLAN_COST_COLUMNS = [
    "rep_id",
    "target",
    "on_target_payout",
    "forecast_p10",
    "forecast_p50",
    "forecast_p90",
    "payout_p10",
    "payout_p50",
    "payout_p90",
]
SCENARIOS = ("p10", "p50", "p90")


def payout_multiple(attainment: np.ndarray | float, inc: Incentives) -> np.ndarray:
    """The uncapped payout per unit of base rate x target: sum of rate x the part of
    ``[0, attainment]`` in each band (a negative attainment pays nothing)."""
    a = np.maximum(np.asarray(attainment, dtype=float), 0.0)
    out = np.zeros_like(a)
    for t in inc.tiers:
        hi = np.inf if t.end is None else t.end
        out += t.rate * np.clip(np.minimum(a, hi) - t.start, 0.0, None)
    return out


def on_target_payout(target: np.ndarray | float, inc: Incentives) -> np.ndarray:
    """The payout at 100% attainment."""
    return inc.base_rate * np.asarray(target, dtype=float) * payout_multiple(1.0, inc)


def payout(
    attainment: np.ndarray | float, target: np.ndarray | float, inc: Incentives
) -> np.ndarray:
    """The payout of a target at an attainment, capped (:data:`Incentives.cap` x the on-target
    payout); a target of 0 or less pays nothing."""
    t = np.maximum(np.asarray(target, dtype=float), 0.0)
    raw = inc.base_rate * t * payout_multiple(attainment, inc)
    if inc.cap is not None:
        raw = np.minimum(raw, inc.cap * on_target_payout(t, inc))
    return raw


def payout_curve(inc: Incentives, max_attainment: float = 2.0, points: int = 201) -> pd.DataFrame:
    """``attainment, payout_vs_on_target`` (payout / on-target payout) from 0 to
    ``max_attainment``, band edges included, for the chart of the curve."""
    edges = [t.start for t in inc.tiers] + [t.end for t in inc.tiers if t.end is not None]
    a = np.unique(
        np.r_[np.linspace(0, max_attainment, points), [e for e in edges if e <= max_attainment]]
    )
    on = float(on_target_payout(1.0, inc))
    ratio = payout(a, 1.0, inc) / on if on > 0 else np.zeros_like(a)
    return pd.DataFrame({"attainment": a, "payout_vs_on_target": ratio})


def blended_attainment(
    revenue_att: np.ndarray | float, customer_att: np.ndarray | float | None, inc: Incentives
) -> np.ndarray:
    """The attainment the plan pays on: revenue alone, or the weighted mean with customers
    (``customer_att`` None: taken equal to the revenue attainment)."""
    r = np.asarray(revenue_att, dtype=float)
    if inc.measure == "revenue":
        return r
    w = dict(inc.weights)
    c = r if customer_att is None else np.asarray(customer_att, dtype=float)
    return w["revenue"] * r + w["customers"] * c


def rep_plan_cost(feasibility: pd.DataFrame, inc: Incentives) -> pd.DataFrame:
    """:data:`PLAN_COST_COLUMNS` per rep: the payout with the company at the forecast's P10, P50
    and P90 of the plan year, each spread over the reps in proportion to their own P50
    (``feasibility``: the decomposition's table; the company from level ``company``, reps from
    level ``rep`` with their targets with cushion). At P50 every rep is at their own forecast
    mean. The customer attainment, when the plan pays on it, is taken equal to the revenue
    attainment (the forecast has no customer interval per rep)."""
    reps = feasibility[feasibility["level"] == "rep"]
    total = feasibility[feasibility["level"] == "company"]
    out = pd.DataFrame(
        {"rep_id": reps["rep_id"].astype(str), "target": reps["target"].astype(float)}
    )
    out["on_target_payout"] = on_target_payout(out["target"], inc)
    p50 = reps["forecast_p50"].astype(float).clip(lower=0.0).to_numpy()
    t = out["target"].to_numpy()
    for q in SCENARIOS:
        company = float(total[f"forecast_{q}"].iloc[0]) if len(total) else float("nan")
        share = company / p50.sum() if q != "p50" and p50.sum() > 0 else 1.0
        fc = p50 * (share if np.isfinite(share) else 1.0)
        out[f"forecast_{q}"] = fc
        att = np.divide(fc, t, out=np.zeros(len(out)), where=t > 0)
        out[f"payout_{q}"] = payout(blended_attainment(att, None, inc), out["target"], inc)
    return out[PLAN_COST_COLUMNS].sort_values("rep_id").reset_index(drop=True)


def plan_cost_summary(cost: pd.DataFrame) -> pd.DataFrame:
    """``scenario, revenue, payout, cost_of_sales`` on target and with the company at the
    forecast's P10, P50 and P90 (:func:`rep_plan_cost`)."""
    rows = [
        {
            "scenario": tr("on target"),
            "revenue": float(cost["target"].sum()),
            "payout": float(cost["on_target_payout"].sum()),
        }
    ]
    for q in SCENARIOS:
        rows.append(
            {
                "scenario": q.upper(),
                "revenue": float(cost[f"forecast_{q}"].sum()),
                "payout": float(cost[f"payout_{q}"].sum()),
            }
        )
    out = pd.DataFrame(rows)
    out["cost_of_sales"] = np.where(
        out["revenue"] > 0, out["payout"] / out["revenue"].where(out["revenue"] > 0), np.nan
    )
    return out


def rep_earnings(review: pd.DataFrame, inc: Incentives) -> pd.DataFrame:
    """Per rep, from the review (``outputs/review.parquet``): ``rep_id, fy_target, actual_ytd,
    attainment_ytd, earned_to_date`` (the payout on the year's curve of what is sold so far),
    ``landing_p10, landing_p50, landing_p90`` and the expected year-end payout at each
    (``payout_ye_p10/p50/p90``; P10/P90 from the landing's 80% interval)."""
    rep = review[(review["level"] == "rep") & (review["window"].isin(["ytd", "fy"]))]
    rev = rep[rep["measure"] == "revenue"]
    ytd = rev[rev["window"] == "ytd"].set_index("rep_id")
    fy = rev[rev["window"] == "fy"].set_index("rep_id")
    out = pd.DataFrame(index=fy.index.astype(str))
    out["fy_target"] = fy["target"].astype(float)
    out["actual_ytd"] = ytd["actual"].reindex(fy.index).fillna(0.0).to_numpy()
    t = out["fy_target"].to_numpy()
    pos = t > 0

    def att(x: np.ndarray) -> np.ndarray:
        return np.divide(x, t, out=np.zeros(len(t)), where=pos)

    cust = _customer_attainment(rep, fy.index, inc)
    out["attainment_ytd"] = att(out["actual_ytd"].to_numpy())
    out["earned_to_date"] = payout(blended_attainment(out["attainment_ytd"], cust[0], inc), t, inc)
    for q, col in zip(SCENARIOS, ("landing_lo_80", "landing_mean", "landing_hi_80"), strict=True):
        land = fy[col].astype(float).clip(lower=0.0).to_numpy()  # NaN: no landing forecast
        out[f"landing_{q}"] = land
        out[f"payout_ye_{q}"] = payout(blended_attainment(att(land), cust[1], inc), t, inc)
    return out.reset_index().rename(columns={"index": "rep_id"})


def _customer_attainment(
    rep: pd.DataFrame, index: pd.Index, inc: Incentives
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Customer attainment to date and at landing per rep (None when the plan does not pay on
    customers or the review has no customer rows for reps)."""
    if inc.measure == "revenue":
        return None, None
    cu = rep[(rep["measure"] == "customers") & (rep["window"] == "fy")].set_index("rep_id")
    if cu.empty:
        return None, None
    cu = cu.reindex(index)
    t = cu["target"].astype(float).to_numpy()
    pos = t > 0
    act = np.divide(cu["actual"].fillna(0).to_numpy(float), t, out=np.zeros(len(t)), where=pos)
    land = np.divide(
        cu["landing_mean"].fillna(0).to_numpy(float), t, out=np.zeros(len(t)), where=pos
    )
    return act, land


def describe_incentives(inc: Incentives, currency: str = "CNY") -> list[str]:
    """The commission plan in sentences (no settings names), for the report."""
    from salesanalysis.report.formatting import pct

    on = float(payout_multiple(1.0, inc))
    bands = []
    for t in inc.tiers:
        span = (
            tr("from {start} to {end}").format(start=pct(t.start), end=pct(t.end))
            if t.end is not None
            else tr("from {start} upwards").format(start=pct(t.start))
        )
        kind = (
            tr("accelerator")
            if t.rate > 1
            else (tr("decelerator") if t.rate < 1 else tr("base rate"))
        )
        bands.append(
            tr("{span}: {rate} x the base rate ({kind})").format(
                span=span, rate=f"{t.rate:g}", kind=kind
            )
        )
    out = [
        tr(
            "Base rate {rate} of the revenue target at 100% attainment (the on-target payout is "
            "{on_target} of the target)."
        ).format(rate=pct(inc.base_rate, 2), on_target=pct(inc.base_rate * on, 2)),
        tr("Bands of attainment, each paying on the attainment inside it: {bands}.").format(
            bands=tr("; ").join(bands)
        ),
        (
            tr("Cap: at most {cap} x the on-target payout.").format(cap=f"{inc.cap:g}")
            if inc.cap is not None
            else tr("No cap on the payout.")
        ),
    ]
    if inc.measure == "revenue_customers":
        w = dict(inc.weights)
        out.append(
            tr(
                "Attainment = {revenue} revenue attainment + {customers} customer attainment."
            ).format(revenue=pct(w["revenue"]), customers=pct(w["customers"]))
        )
    return out
