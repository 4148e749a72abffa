"""Reps who leave: a rep whose ``end_date`` is before the first forecast month is forecast at 0
(:func:`reps_gone`), and a rep leaving inside the horizon is held at 0 from the month after the
``end_date`` (:func:`months_after_leaving`); the reconciliation gives their share of the
region's forecast to the reps who stay.

:func:`reps_left_before` is the one rule for "has left", also used by the plan-cutoff forecast's
fingerprint (:mod:`salesanalysis.targets.decompose`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesanalysis.forecast.series import HierarchySeries

__all__ = ["months_after_leaving", "reps_gone", "reps_left_before"]


def _rep_end(series: HierarchySeries, reps: pd.DataFrame | None) -> pd.Series:
    """Per series: the end_date of its rep (rep and rep x cell series; NaT elsewhere)."""
    keys = series.keys
    none = pd.Series(pd.NaT, index=keys.index, dtype="datetime64[ns]")
    if reps is None or len(reps) == 0 or "end_date" not in reps.columns:
        return none
    end = pd.Series(
        pd.to_datetime(reps["end_date"], errors="coerce").to_numpy(),
        index=reps["rep_id"].astype(str),
    )
    end = end[~end.index.duplicated()]
    mapped = keys["rep_id"].astype(str).map(end)
    return mapped.where(keys["level"].isin(["rep", "bottom"]).to_numpy(), pd.NaT).astype(
        "datetime64[ns]"
    )


def months_after_leaving(
    series: HierarchySeries, reps: pd.DataFrame | None, months: pd.DatetimeIndex
) -> np.ndarray:
    """``n x h``: the forecast months that start after the series' rep's ``end_date``."""
    end = _rep_end(series, reps).to_numpy()
    m = np.asarray(months, dtype="datetime64[ns]")
    with np.errstate(invalid="ignore"):
        return ~np.isnat(end)[:, None] & (m[None, :] > end[:, None])


def reps_left_before(reps: pd.DataFrame | None, first: pd.Timestamp) -> list[str]:
    """Ids (sorted) of the reps whose ``end_date`` is before ``first`` (a month start)."""
    if reps is None or len(reps) == 0 or "end_date" not in reps.columns:
        return []
    end = pd.to_datetime(reps["end_date"], errors="coerce")
    return sorted(reps.loc[end.notna() & (end < first), "rep_id"].astype(str))


def reps_gone(series: HierarchySeries, reps: pd.DataFrame | None) -> np.ndarray:
    """Rep and rep x cell series of reps whose ``end_date`` is before the first forecast month:
    their sales have gone to others (or are lost), so they are forecast at 0 and the
    reconciliation gives their share of the region to the reps who stay."""
    left = reps_left_before(reps, series.cutoff + pd.DateOffset(months=1))
    keys = series.keys
    return (
        keys["level"].isin(["rep", "bottom"]) & keys["rep_id"].astype(str).isin(left)
    ).to_numpy()
