"""The forecast a plan uses: the run's forecast when it covers the plan months, else a forecast
made from the plan cutoff (cached in ``outputs/forecast_plan.parquet`` with a fingerprint of
what it was made from, and made again when that changed). With fewer than six months of sales
to the cutoff no forecast is made (the decomposition then uses history keys only), and the
source says why.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from salesanalysis.i18n import tr
from salesanalysis.targets.forecast_rows import forecast_rows
from salesanalysis.targets.periods import month_start, plan_months
from salesanalysis.targets.plan import DIMENSIONS, Plan

__all__ = [
    "PLAN_FORECAST_ATTR",
    "forecast_covers",
    "forecast_for_plan",
    "plan_forecast_fingerprint",
]


def forecast_covers(forecast: pd.DataFrame | None, plan: Plan) -> bool:
    """Whether ``forecast`` has the company total for every month the plan covers."""
    if forecast is None or len(forecast) == 0:
        return False
    return len(forecast_rows(forecast, "company", plan_months(plan))) == len(plan_months(plan))


PLAN_FORECAST_ATTR = "salesanalysis.plan_forecast"
"""Key in ``DataFrame.attrs`` of the plan-cutoff forecast holding its fingerprint; pandas keeps
``attrs`` in the Parquet file's metadata, so the fingerprint travels with
``outputs/forecast_plan.parquet`` through ``RunContext.write``/``read``."""
_PLAN_FC_VERSION = 1
_PLAN_FC_METHOD = "fast"
_PLAN_FC_DETAIL = "cell"


def _history_digest(cube: pd.DataFrame, cutoff: pd.Timestamp) -> str:
    """A stable hash of the cube rows up to ``cutoff`` that a forecast reads (month, the keys,
    revenue): independent of row order, column order, extra columns and the month's dtype."""
    month = pd.to_datetime(cube["month"])
    keep = (month <= cutoff).to_numpy()
    month = month[keep]
    d = pd.DataFrame({"month": (month.dt.year * 12 + month.dt.month - 1).to_numpy("int64")})
    for c in [*DIMENSIONS, "rep_id"]:
        d[c] = cube.loc[keep, c].astype(str).to_numpy()
    d["revenue"] = (
        pd.to_numeric(cube.loc[keep, "revenue"], errors="coerce")
        .fillna(0.0)
        .astype("float64")
        .to_numpy()
    )
    d = d.sort_values(list(d.columns)).reset_index(drop=True)
    h = hashlib.sha256(",".join(d.columns).encode())
    h.update(pd.util.hash_pandas_object(d, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _left_by(reps: pd.DataFrame | None, cutoff: pd.Period) -> list[str]:
    """Reps whose end_date is before the first month after ``cutoff`` (sorted ids)."""
    from salesanalysis.forecast.hierarchy import reps_left_before

    return reps_left_before(reps, month_start(cutoff + 1))


def plan_forecast_fingerprint(
    cube: pd.DataFrame, plan: Plan, reps: pd.DataFrame | None = None
) -> dict[str, Any]:
    """What a forecast from the plan cutoff is made from: a hash of the cube up to the cutoff
    and the settings (cutoff, last month and horizon, interval levels, method, detail).

    :func:`forecast_for_plan` stores it in the new forecast's ``attrs`` and accepts a cached
    forecast only when its fingerprint equals this one.
    """
    last = pd.Period(f"{plan.fiscal_year}-12", "M")
    return {
        "version": _PLAN_FC_VERSION,
        "data": _history_digest(cube, month_start(plan.cutoff_period)),
        "cutoff": str(plan.cutoff_period),
        "last_month": str(last),
        "horizon": int((last - plan.cutoff_period).n),
        "levels": sorted({int(lv) for lv in plan.forecast.levels}),
        "method": _PLAN_FC_METHOD,
        "detail": _PLAN_FC_DETAIL,
        "left_reps": _left_by(reps, plan.cutoff_period),
    }


def _cache_rejection(cached: pd.DataFrame, plan: Plan, want: dict[str, Any]) -> str | None:
    """Why the cached plan-cutoff forecast cannot be used, as '... forecast <why>' (None: it can)."""
    if not forecast_covers(cached, plan) or pd.Timestamp(cached["month"].min()) != month_start(
        plan.cutoff_period + 1
    ):
        return tr("does not start after the cutoff or misses plan months")
    have = cached.attrs.get(PLAN_FORECAST_ATTR)
    if not isinstance(have, dict) or have.get("version") != want["version"]:
        return tr("does not record what it was made from (an older file)")
    if any(have.get(k) != want[k] for k in ("cutoff", "last_month", "horizon")):
        return tr("was made for another cutoff or horizon")
    if have.get("data") != want["data"] or have.get("left_reps", []) != want["left_reps"]:
        return tr("was made from other data")
    if have.get("levels") != want["levels"]:
        return tr("was made with other interval levels ({have} instead of {want})").format(
            have=", ".join(map(str, have.get("levels") or [])),
            want=", ".join(map(str, want["levels"])),
        )
    if any(have.get(k) != want[k] for k in ("method", "detail")):
        return tr("was made with other forecast settings")
    return None


def forecast_for_plan(
    cube: pd.DataFrame,
    plan: Plan,
    run_forecast: pd.DataFrame | None,
    cached: pd.DataFrame | None = None,
    refit: bool = True,
    reps: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame | None, str, bool]:
    """The forecast the plan should use: ``(frame, where it came from, newly made)``.

    The run's forecast when it covers the plan months; else a cached forecast made from the
    plan cutoff (``outputs/forecast_plan.parquet``) when it was made from the same inputs;
    else, when ``refit``, a new hierarchical forecast from the plan cutoff (cells and reps, the
    engine's fast setting) to the end of the fiscal year, unless the history to the cutoff is
    too short to forecast (under six months of sales: the run's forecast, i.e. none, is
    returned and the source says why). A plan made in December and reviewed
    in October needs the latter: the run's forecast starts after the report month.

    A new forecast carries :func:`plan_forecast_fingerprint` in ``attrs[PLAN_FORECAST_ATTR]``,
    which ``RunContext.write`` keeps in the Parquet file's metadata and ``RunContext.read``
    restores. The cache is used only when it covers the plan months from the month after the
    cutoff and its fingerprint matches: same cube rows up to the cutoff (month, keys, revenue),
    cutoff, horizon, interval levels (``plan.forecast.levels``), method, detail, and the reps
    who had left by the cutoff (``reps``: they are forecast at 0, see
    :func:`salesanalysis.forecast.hierarchy.reps_gone`). A cache
    without a fingerprint (an older file) is not used. When a cache is not used, the returned
    source says why.
    """
    if forecast_covers(run_forecast, plan):
        return run_forecast, tr("the run's forecast"), False
    has_cache = cached is not None and len(cached) > 0
    if not has_cache and not refit:
        return run_forecast, tr("the run's forecast (it misses plan months)"), False
    want = plan_forecast_fingerprint(cube, plan, reps)
    why = _cache_rejection(cached, plan, want) if has_cache else ""
    if why is None:
        source = tr("the forecast made from the plan cutoff {cutoff} (cached)")
        return cached, source.format(cutoff=plan.plan_cutoff), False
    rejected = tr("the cached plan-cutoff forecast {why}").format(why=why) if why else ""
    if not refit:
        source = tr("the run's forecast (it misses plan months; {rejected})")
        return run_forecast, source.format(rejected=rejected), False
    from salesanalysis.forecast import hierarchy as H

    if H.too_short_to_forecast(cube, plan.plan_cutoff) is not None:
        n = H.history_months(cube, plan.plan_cutoff)
        return (
            run_forecast,
            (
                tr(
                    "no forecast could be made from the plan cutoff {cutoff}: the history to it "
                    "has {n} month of sales, and a forecast needs at least {min}"
                )
                if n == 1
                else tr(
                    "no forecast could be made from the plan cutoff {cutoff}: the history to it "
                    "has {n} months of sales, and a forecast needs at least {min}"
                )
            ).format(cutoff=plan.plan_cutoff, n=n, min=H.MIN_HISTORY_MONTHS),
            False,
        )

    fc = H.forecast_hierarchy(
        cube[cube["month"] <= month_start(plan.cutoff_period)],
        plan.plan_cutoff,
        want["horizon"],
        levels=plan.forecast.levels,
        detail=_PLAN_FC_DETAIL,
        method=_PLAN_FC_METHOD,
        accuracy_origins=0,
        reps=reps,
    ).forecast
    fc.attrs[PLAN_FORECAST_ATTR] = want
    source = tr(
        "a forecast made from the plan cutoff {cutoff} ({months} months, cells and reps, fast "
        "setting)"
    ).format(cutoff=plan.plan_cutoff, months=want["horizon"])
    if rejected:
        source = tr("{source}: {rejected}; forecast again").format(
            source=source, rejected=rejected
        )
    return fc, source, True
