"""The forecast as the decomposition reads it: one level's rows for the plan months, with a
normal ``sigma`` taken from the 80% interval, and annual sums of those rows.

The monthly interval is read as a normal distribution (sigma = (hi_80 - lo_80) / 2.563) and
monthly errors are taken as perfectly correlated, so the annual sigma is the sum of the monthly
ones (wider, i.e. more cautious, than assuming independent months).
"""

from __future__ import annotations

import pandas as pd
from scipy.stats import norm

from salesanalysis.targets.plan import DIMENSIONS

__all__ = ["FORECAST_COLUMNS", "Z80", "annual_forecast", "forecast_rows"]

Z80 = float(norm.ppf(0.9))
CELL = list(DIMENSIONS)
FORECAST_COLUMNS = ["region", "product_line", "customer_type", "rep_id", "month", "mean", "sigma"]
_LEVEL_KEYS = {
    "total": [],
    "company": [],
    "region": ["region"],
    "product_line": ["product_line"],
    "customer_type": ["customer_type"],
    "cell": CELL,
    "rep": ["region", "rep_id"],
    "bottom": [*CELL, "rep_id"],
}


def forecast_rows(
    forecast: pd.DataFrame | None, level: str, months: list[pd.Timestamp]
) -> pd.DataFrame:
    """Forecast rows of one level for the plan months with ``sigma`` (normal, from the 80%
    interval). Falls back to aggregating the bottom level when the level is absent.

    Returns :data:`FORECAST_COLUMNS` (``region, product_line, customer_type, rep_id, month,
    mean, sigma``), with ``*`` in the key columns the level does not have; empty when the
    forecast is missing or has neither the level nor a level to build it from.
    """
    cols = FORECAST_COLUMNS
    if forecast is None or len(forecast) == 0:
        return pd.DataFrame(columns=cols)
    fc = forecast[forecast["month"].isin(months)]
    keys = _LEVEL_KEYS[level]
    lvl = "total" if level == "company" else level
    rows = fc[fc["level"] == lvl] if "level" in fc.columns else fc.iloc[0:0]
    if rows.empty:
        src = None
        for cand in ("bottom", "cell"):
            sub = fc[fc["level"] == cand] if "level" in fc.columns else fc.iloc[0:0]
            if not sub.empty and set(keys) <= set(CELL if cand == "cell" else [*CELL, "rep_id"]):
                src = sub
                break
        if src is None:
            return pd.DataFrame(columns=cols)
        src = src.assign(sigma=(src["hi_80"] - src["lo_80"]) / (2 * Z80))
        rows = src.groupby([*keys, "month"], as_index=False)[["mean", "sigma"]].sum()
    else:
        rows = rows.assign(sigma=(rows["hi_80"] - rows["lo_80"]) / (2 * Z80))
    rows = rows.copy()
    for c in ["region", "product_line", "customer_type", "rep_id"]:
        if c not in keys:
            rows[c] = "*"
        rows[c] = rows[c].astype(str)
    rows["sigma"] = rows["sigma"].clip(lower=0.0)
    return rows[cols].reset_index(drop=True)


def annual_forecast(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sum monthly mean and sigma (perfectly correlated months) per key.

    Returns ``*keys, fc_mean, fc_sigma, fc_months`` (one row when ``keys`` is empty)."""
    if rows.empty:
        return pd.DataFrame(columns=[*keys, "fc_mean", "fc_sigma", "fc_months"])
    g = rows.groupby(keys, as_index=False) if keys else rows.assign(_k=0).groupby("_k")
    out = g.agg(fc_mean=("mean", "sum"), fc_sigma=("sigma", "sum"), fc_months=("month", "nunique"))
    return out.drop(columns=["_k"], errors="ignore").reset_index(drop=True)
