"""Feasibility: how likely each target is, read from the forecast.

Per level and key, the forecast of the plan months (:mod:`salesanalysis.targets.forecast_rows`:
normal, months perfectly correlated) gives P10/P50/P90, the gap to the target and the
probability of reaching it, P(forecast >= target); the gap is forecast - target (negative: the
target is above the forecast), the sign of every gap in the reports. A non-negative forecast is
read as a normal censored at 0 (sales are not negative): its P10 is never below 0. Reps are judged on their targets with
cushion, every other level on the targets without. Targets below P10 or above P90 are flagged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from salesanalysis.i18n import tr
from salesanalysis.targets.cells import CELL
from salesanalysis.targets.forecast_rows import Z80, annual_forecast, forecast_rows
from salesanalysis.targets.segments import LEVELS

__all__ = ["FEASIBILITY_COLUMNS", "feasibility_table"]

FEASIBILITY_COLUMNS = [
    "level",
    *CELL,
    "rep_id",
    "target",
    "forecast",
    "forecast_p10",
    "forecast_p50",
    "forecast_p90",
    "gap",
    "p_reach",
    "flag",
]


def feasibility_table(
    forecast: pd.DataFrame | None,
    segments: pd.DataFrame,
    months: list[pd.Timestamp],
    complete: bool,
) -> pd.DataFrame:
    """:data:`FEASIBILITY_COLUMNS` per level and key of ``segments`` the forecast has (empty
    when the forecast does not cover every plan month, ``complete`` False)."""
    feas_rows = []
    if complete:
        for level, ks in LEVELS.items():
            rows = forecast_rows(forecast, level, months)
            if rows.empty:
                continue
            an = annual_forecast(rows, ks)
            seg = segments[segments["level"] == level]
            f = (
                seg.merge(an, on=ks, how="left")
                if ks
                else seg.assign(fc_mean=an["fc_mean"].iloc[0], fc_sigma=an["fc_sigma"].iloc[0])
            )
            feas_rows.append(f)
    if not feas_rows:
        return pd.DataFrame(columns=FEASIBILITY_COLUMNS)
    feas = pd.concat(feas_rows, ignore_index=True)
    feas["target"] = np.where(
        feas["level"] == "rep", feas["target_revenue"], feas["target_revenue_no_cushion"]
    )
    sig = feas["fc_sigma"].where(feas["fc_sigma"] > 0)
    # a positive forecast has no negative sales: the normal is censored at 0 (P10 >= 0; the
    # probability of reaching a positive target is the same under the censored normal)
    p10 = feas["fc_mean"] - Z80 * feas["fc_sigma"]
    feas["forecast_p10"] = p10.where(~(feas["fc_mean"] >= 0), p10.clip(lower=0.0))
    feas["forecast_p50"] = feas["fc_mean"]
    feas["forecast_p90"] = feas["fc_mean"] + Z80 * feas["fc_sigma"]
    feas["gap"] = feas["fc_mean"] - feas["target"]  # forecast - target: negative = short
    pr = 1 - norm.cdf((feas["target"] - feas["fc_mean"]) / sig)
    det = np.where(feas["target"] <= feas["fc_mean"], 1.0, 0.0)
    feas["p_reach"] = np.where(sig.notna(), pr, np.where(feas["fc_mean"].notna(), det, np.nan))
    feas["flag"] = np.where(
        feas["target"] < feas["forecast_p10"],
        tr("below P10"),
        np.where(feas["target"] > feas["forecast_p90"], tr("above P90"), ""),
    )
    cols = [c if c != "forecast" else "fc_mean" for c in FEASIBILITY_COLUMNS]
    return feas[cols].rename(columns={"fc_mean": "forecast"})
