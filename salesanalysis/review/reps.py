"""Rep leaderboard with ramp-adjusted attainment, spread of attainment and the Gini coefficient.

Private module; the public API is :mod:`salesanalysis.review`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.i18n import tr
from salesanalysis.review.common import (
    check_period,
    fiscal_months,
    keys_as_str,
    plan_get,
    require_columns,
    review_start,
    safe_ratio,
)
from salesanalysis.targets import capacity


def gini(
    values: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray | None = None
) -> float:
    """Gini coefficient of non-negative values (0 = all equal; (n-1)/n = one holds everything).

    ``G = sum_i sum_j w_i w_j |x_i - x_j| / (2 (sum w)^2 mean_w)`` with ``mean_w`` the weighted
    mean; unweighted when ``weights`` is None. NaN values are dropped; an empty input or an
    all-zero one gives 0.

    Raises:
        ValueError: a negative value or weight.
    """
    x = np.asarray(values, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    keep = np.isfinite(x) & np.isfinite(w)
    x, w = x[keep], w[keep]
    if np.any(x < 0) or np.any(w < 0):
        raise ValueError("the Gini coefficient needs non-negative values and weights")
    if len(x) == 0 or w.sum() == 0:
        return 0.0
    mean = float(np.sum(w * x) / np.sum(w))
    if mean == 0:
        return 0.0
    # sort once: sum_i sum_j w_i w_j |x_i - x_j| = 2 * sum_i w_i x_i (W_<i - W_>i) on sorted x
    o = np.argsort(x, kind="mergesort")
    x, w = x[o], w[o]
    cw = np.cumsum(w)
    below = cw - w  # weight strictly before i
    above = cw[-1] - cw  # weight strictly after i
    total = 2.0 * float(np.sum(w * x * (below - above)))
    return total / (2.0 * float(np.sum(w)) ** 2 * mean)


def rep_capacity(
    reps: pd.DataFrame,
    fiscal_year: int,
    *,
    ramp_months: int = 6,
    ramp_curve: str = "linear",
    ramp_start: float = 0.25,
) -> pd.DataFrame:
    """Monthly capacity of each rep over the fiscal year, with the plan's ramp.

    The target decomposition's rule, from :mod:`salesanalysis.targets.capacity` (one implementation):
    capacity = ``fte x share of the month active x ramp(k)``, where the share of the month runs
    from ``hire_date`` to ``end_date`` (NaT = still active; no hire date = active and fully
    ramped), ``k`` is the number of months since the hire month and ``ramp`` is
    :func:`salesanalysis.targets.capacity.ramp_factor`. A month counts as active when its share is
    positive.

    Returns ``rep_id, month, active_share, active, ramp, capacity`` (month by month).
    """
    require_columns(reps, ["rep_id"], "reps", tr("See data/README.md for reps.csv."))
    cap = capacity.rep_capacity(
        reps,
        fiscal_months(fiscal_year),
        ramp_months=int(ramp_months),
        ramp_curve=str(ramp_curve),
        ramp_start=float(ramp_start),
    )
    cap = cap.sort_values("month", kind="mergesort").reset_index(drop=True)
    return cap[["rep_id", "month", "active_share", "active", "ramp", "capacity"]]


def _ramp_settings(plan: Any) -> dict[str, Any]:
    return {
        "ramp_months": int(plan_get(plan, "reps.ramp_months", 6)),
        "ramp_curve": str(plan_get(plan, "reps.ramp_curve", "linear")),
        "ramp_start": float(plan_get(plan, "reps.ramp_start", 0.25)),
    }


def rep_leaderboard(
    actuals: pd.DataFrame,
    targets: pd.DataFrame,
    reps: pd.DataFrame,
    period: Any,
    fiscal_year: int,
    *,
    plan: Any = None,
    review: pd.DataFrame | None = None,
    band: float = 0.05,
    first_month: Any = None,
) -> pd.DataFrame:
    """One row per rep: attainment as assigned and ramp-adjusted, load and landing.

    Ramp-adjusted attainment judges a rep on the capacity they had: only the months they were
    active to date, each weighted by ``fte x share of the month active x ramp`` from the plan
    (:func:`rep_capacity`, the decomposition's rule from :mod:`salesanalysis.targets.capacity`). The
    rep's *fair target* to date is ``sum_m rate(region, m) x capacity(rep, m)``, where
    ``rate`` = the region team's target in month m / the team's capacity in month m (target per
    fully-ramped FTE). Fair targets of a team add up to its targets; they do not depend on how
    the decomposition split the team target (e.g. a hire added after the plan got no target).
    ``ramp_adjusted_attainment`` = actual in active months / fair target to date.

    Args:
        actuals, targets: :func:`monthly_actuals`, :func:`monthly_targets`.
        reps: ``rep_id, name, region, hire_date, end_date, fte``.
        plan: the plan (``reps.ramp_months``, ``ramp_curve``, ``ramp_start``); defaults apply
            when None.
        review: the review table; when given, the rep's landing and probability of reaching
            the full-year target are added.
        band: status band: ``ahead`` above ``1 + band``, ``behind`` below ``1 - band``.
        first_month: a mid-year plan's first month (None: January): actuals, targets and
            capacity are taken from it on (to date: to the report period; full year: to
            December), the months before the plan are not judged.

    Returns columns ``rank, rep_id, name, region, fte, hire_date, end_date, active_months,
    capacity_ytd, capacity_fy, actual_ytd, actual_active, target_ytd, target_fy, attainment,
    fair_target_ytd, ramp_adjusted_attainment, target_per_capacity, load_vs_median, status``
    (+ ``landing_mean, p_reach_target``), sorted by ramp-adjusted attainment, best first.
    """
    end = check_period(period, fiscal_year).to_timestamp()
    start = review_start(fiscal_year, first_month)
    cap = rep_capacity(reps, fiscal_year, **_ramp_settings(plan))
    # the plan's months only (every month of the year for a full-year plan)
    cap = cap[cap["month"] >= start]
    actuals = actuals[actuals["month"] >= start]
    targets = targets[targets["month"] >= start]
    roster = _roster(reps)
    home = (
        roster.set_index("rep_id")["region"]
        if "region" in roster.columns
        else pd.Series(dtype=str)
    )
    act = actuals.merge(cap[["rep_id", "month", "active"]], on=["rep_id", "month"], how="left")
    act["active"] = act["active"].fillna(True).astype(bool)  # unknown rep: always counted
    team = _team_targets(targets, cap, home)
    # reps with actuals or targets this year, or active in it
    ids = sorted(
        set(act["rep_id"]) | set(team.targets["rep_id"]) | set(cap.loc[cap["active"], "rep_id"])
    )
    out = _rep_rows(ids, roster)
    out = _capacity_columns(out, cap, end)
    out = _attainment_columns(out, act, team, end)
    out = _load_and_status(out, band)
    if review is not None:
        out = _with_landing(out, review)
    out = out.sort_values(
        ["ramp_adjusted_attainment", "rep_id"],
        ascending=[False, True],
        na_position="last",
        kind="mergesort",
    ).reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out


@dataclass
class _TeamTargets:
    """Targets and fair targets by rep and month."""

    targets: pd.DataFrame  # rep_id, month, target, team
    fair: pd.DataFrame  # the capacity frame + team, rate (team target per capacity), fair


def _roster(reps: pd.DataFrame) -> pd.DataFrame:
    """One row per rep, with ``name``, ``end_date`` and ``fte`` defaults when absent."""
    r = keys_as_str(reps, ["rep_id", "region"]).drop_duplicates("rep_id")
    for c, default in (("name", ""), ("end_date", pd.NaT), ("fte", 1.0)):
        if c not in r.columns:
            r[c] = default
    return r


def _team_targets(targets: pd.DataFrame, cap: pd.DataFrame, home: pd.Series) -> _TeamTargets:
    """Each rep's target per month, and the fair target: the team's target per unit of
    capacity that month x the rep's capacity (a rep's team is their home region)."""
    t_m = targets.groupby(["rep_id", "month"])["target_revenue"].sum().rename("target")
    t_m = t_m.reset_index()
    t_m["team"] = t_m["rep_id"].map(home).fillna("?")
    c_m = cap.copy()
    c_m["team"] = c_m["rep_id"].map(home).fillna("?")
    team_t = t_m.groupby(["team", "month"])["target"].sum()
    team_c = c_m.groupby(["team", "month"])["capacity"].sum()
    rate = pd.Series(safe_ratio(team_t, team_c.reindex(team_t.index)), index=team_t.index)
    c_m["rate"] = rate.reindex(pd.MultiIndex.from_frame(c_m[["team", "month"]])).to_numpy()
    c_m["fair"] = c_m["rate"].fillna(0.0) * c_m["capacity"]
    return _TeamTargets(t_m, c_m)


def _rep_rows(ids: list[str], roster: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({"rep_id": ids})
    return out.merge(
        roster[
            [
                c
                for c in ("rep_id", "name", "region", "fte", "hire_date", "end_date")
                if c in roster.columns
            ]
        ],
        on="rep_id",
        how="left",
    )


def _capacity_columns(out: pd.DataFrame, cap: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """``active_months``, ``capacity_ytd`` (up to ``end``) and ``capacity_fy``."""
    g = cap[cap["month"] <= end].groupby("rep_id")
    out["active_months"] = out["rep_id"].map(g["active"].sum()).fillna(0).astype(int)
    out["capacity_ytd"] = out["rep_id"].map(g["capacity"].sum()).fillna(0.0)
    out["capacity_fy"] = out["rep_id"].map(cap.groupby("rep_id")["capacity"].sum()).fillna(0.0)
    return out


def _attainment_columns(
    out: pd.DataFrame, act: pd.DataFrame, team: _TeamTargets, end: pd.Timestamp
) -> pd.DataFrame:
    """Actuals (all and in active months), targets and fair targets to date, attainment as
    assigned and ramp-adjusted, target per unit of capacity."""
    t_m, c_m = team.targets, team.fair
    a_ytd = act[act["month"] <= end]
    out["actual_ytd"] = out["rep_id"].map(a_ytd.groupby("rep_id")["revenue"].sum()).fillna(0.0)
    out["actual_active"] = (
        out["rep_id"].map(a_ytd[a_ytd["active"]].groupby("rep_id")["revenue"].sum()).fillna(0.0)
    )
    out["target_ytd"] = (
        out["rep_id"].map(t_m[t_m["month"] <= end].groupby("rep_id")["target"].sum()).fillna(0.0)
    )
    out["target_fy"] = out["rep_id"].map(t_m.groupby("rep_id")["target"].sum()).fillna(0.0)
    out["attainment"] = safe_ratio(out["actual_ytd"], out["target_ytd"])
    out["fair_target_ytd"] = (
        out["rep_id"].map(c_m[c_m["month"] <= end].groupby("rep_id")["fair"].sum()).fillna(0.0)
    )
    out["ramp_adjusted_attainment"] = safe_ratio(out["actual_active"], out["fair_target_ytd"])
    out["target_per_capacity"] = safe_ratio(out["target_fy"], out["capacity_fy"])
    return out


def _load_and_status(out: pd.DataFrame, band: float) -> pd.DataFrame:
    """Load vs the median rep's target per capacity; status by ramp-adjusted attainment."""
    med = (
        float(np.nanmedian(out["target_per_capacity"]))
        if out["target_per_capacity"].notna().any()
        else np.nan
    )
    out["load_vs_median"] = safe_ratio(out["target_per_capacity"], med) - 1.0
    a = out["ramp_adjusted_attainment"]
    out["status"] = np.select(  # keys: readable() shows them in the report's language
        [a.isna(), a > 1 + band, a < 1 - band], ["no target", "ahead", "behind"], "on track"
    )
    return out


def _with_landing(out: pd.DataFrame, review: pd.DataFrame) -> pd.DataFrame:
    """The rep's full-year landing and probability of reaching the target, from the review."""
    rv = review[
        (review["level"] == "rep") & (review["measure"] == "revenue") & (review["window"] == "fy")
    ]
    rv = (
        rv.groupby("rep_id")[["landing_mean"]]
        .sum(min_count=1)
        .join(rv.groupby("rep_id")["p_reach_target"].mean())
    )
    return out.merge(rv.reset_index(), on="rep_id", how="left")


def attainment_spread(
    board: pd.DataFrame, column: str = "ramp_adjusted_attainment"
) -> dict[str, float]:
    """Spread of attainment across reps (those with a target): n, mean, median, std, p10, p90,
    IQR, min, max, share at or above 100%, and the Gini coefficient of target per unit of
    capacity (0 = every rep carries the same load per FTE)."""
    a = board[column].dropna().astype(float)
    q = (
        a.quantile([0.1, 0.25, 0.5, 0.75, 0.9])
        if len(a)
        else pd.Series(np.nan, index=[0.1, 0.25, 0.5, 0.75, 0.9])
    )
    loaded = board[(board["capacity_fy"] > 0) & board["target_per_capacity"].notna()]
    return {
        "n": int(len(a)),
        "mean": float(a.mean()) if len(a) else float("nan"),
        "median": float(q[0.5]),
        "std": float(a.std(ddof=1)) if len(a) > 1 else float("nan"),
        "p10": float(q[0.1]),
        "p90": float(q[0.9]),
        "iqr": float(q[0.75] - q[0.25]),
        "min": float(a.min()) if len(a) else float("nan"),
        "max": float(a.max()) if len(a) else float("nan"),
        "share_on_target": float((a >= 1.0).mean()) if len(a) else float("nan"),
        "gini_target_per_capacity": gini(loaded["target_per_capacity"].clip(lower=0.0)),
    }


__all__ = ["attainment_spread", "gini", "rep_capacity", "rep_leaderboard"]
