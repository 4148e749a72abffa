"""Rep capacity: the rules shared by the target decomposition and the performance review.

One implementation of each rule (docs/ARCHITECTURE.md, "Rep capacity"):

- :func:`ramp_factor`: the capacity factor of a new hire ``k`` months after the hire month
  (``reps.ramp_months``, ``reps.ramp_curve``, ``reps.ramp_start`` in the plan).
- :func:`active_share`: the share of a month's days a rep is employed, from ``hire_date`` to
  ``end_date`` (both inclusive; no hire date = employed from before the month, NaT end date = still
  employed). A month is *active* for a rep when this share is positive.
- :func:`rep_capacity`: capacity of every rep in every month =
  ``fte x active_share x ramp_factor(k)`` (``fte`` defaults to 1; a rep without a hire date
  counts as fully ramped). A rep who changed region (optional ``prev_region`` and
  ``region_from`` in reps.csv) counts in ``prev_region`` for the months before the month of
  ``region_from`` and in ``region`` from then on.
- :func:`effective_capacity`: ``capacity x productivity index ^ reps.productivity_weight``, the
  capacity the decomposition matches targets to (one rule: the index is 1 for a rep without
  history and for a to-be-hired rep).

The decomposition splits a region's cell-month targets over its reps by this capacity
(:func:`salesanalysis.targets.decompose.rep_capacity`); the review judges a rep on the capacity they
had (:func:`salesanalysis.review.rep_capacity`, ramp-adjusted attainment).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from salesanalysis.targets.plan import RAMP_CURVES  # the curves the plan accepts

__all__ = [
    "RAMP_CURVES",
    "ramp_factor",
    "active_share",
    "months_since_hire",
    "rep_capacity",
    "region_by_month",
    "effective_capacity",
]

_NO_HIRE_DATE = 10_000  # months since hire of a rep without a hire date: fully ramped


def ramp_factor(
    months_since_hire: np.ndarray, ramp_months: int, curve: str, start: float
) -> np.ndarray:
    """Capacity factor of a rep ``k`` months after the hire month (k = 0 is the hire month).

    ``linear``: from ``start`` up to 1 in equal steps over ``ramp_months``; ``step``: ``start``
    until the ramp ends, then 1; ``s_curve``: a smooth S (3t^2 - 2t^3) from ``start`` to 1.
    Months before the hire month get 0; a ramp of 0 months means full capacity at once.
    """
    k = np.asarray(months_since_hire, dtype=float)
    out = np.ones_like(k)
    if ramp_months > 0:
        t = np.clip(k / ramp_months, 0.0, 1.0)
        if curve == "linear":
            shape = t
        elif curve == "step":
            shape = (k >= ramp_months).astype(float)
        elif curve == "s_curve":
            shape = 3 * t**2 - 2 * t**3
        else:
            raise ValueError(f"unknown ramp curve {curve!r} (use one of {', '.join(RAMP_CURVES)})")
        out = start + (1.0 - start) * shape
    return np.where(k < 0, 0.0, out)


def _dates(values: Iterable | pd.Series) -> pd.Series:
    s = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    return pd.to_datetime(s).reset_index(drop=True)


def active_share(
    hire_date: Iterable | pd.Series, end_date: Iterable | pd.Series, month: pd.Timestamp
) -> np.ndarray:
    """Share of ``month``'s days each rep is employed (0 to 1), one value per rep.

    Days from ``max(month start, hire_date)`` to ``min(month end, end_date)``, both inclusive,
    over the days of the month. A missing hire date means employed from before the month, a
    missing end date (NaT) still employed.
    """
    m = pd.Timestamp(month).to_period("M").to_timestamp()
    m_end = m + pd.offsets.MonthEnd(0)
    hire, end = _dates(hire_date), _dates(end_date)
    first = hire.where(hire > m, m).fillna(m)
    last = end.where(end < m_end, m_end).fillna(m_end)
    days = (last - first).dt.days.to_numpy(dtype=float) + 1
    return np.clip(days, 0, None) / m_end.day


def months_since_hire(hire_date: Iterable | pd.Series, month: pd.Timestamp) -> np.ndarray:
    """Whole months from each rep's hire month to ``month`` (0 in the hire month, negative
    before it); a rep without a hire date gets a large number (fully ramped)."""
    m = pd.Timestamp(month)
    hire = _dates(hire_date)
    k = (m.year - hire.dt.year) * 12 + (m.month - hire.dt.month)
    return k.fillna(_NO_HIRE_DATE).to_numpy(dtype=float)


_DAY_NS = np.int64(86_400 * 10**9)


def _active_shares(hire: pd.Series, end: pd.Series, months: list[pd.Timestamp]) -> np.ndarray:
    """:func:`active_share` of every rep (rows) in every month (columns) at once."""
    if not months:
        return np.zeros((len(hire), 0))
    m = np.array([x.to_period("M").to_timestamp().to_datetime64() for x in months], "M8[ns]")
    m_end = np.array(
        [
            (x.to_period("M").to_timestamp() + pd.offsets.MonthEnd(0)).to_datetime64()
            for x in months
        ],
        "M8[ns]",
    )
    h = hire.to_numpy(dtype="M8[ns]")[:, None]
    e = end.to_numpy(dtype="M8[ns]")[:, None]
    first = np.where(~np.isnat(h) & (h > m[None, :]), h, m[None, :])
    last = np.where(~np.isnat(e) & (e < m_end[None, :]), e, m_end[None, :])
    span = (last - first).astype(np.int64)
    days = np.floor_divide(span, _DAY_NS).astype(float) + 1
    n_days = np.array([pd.Timestamp(x).day for x in m_end], dtype=float)
    return np.clip(days, 0, None) / n_days[None, :]


def _months_since(hire: pd.Series, months: list[pd.Timestamp]) -> np.ndarray:
    """:func:`months_since_hire` of every rep (rows) in every month (columns) at once."""
    y = hire.dt.year.to_numpy(dtype=float)[:, None]
    mo = hire.dt.month.to_numpy(dtype=float)[:, None]
    my = np.array([x.year for x in months], dtype=float)[None, :]
    mm = np.array([x.month for x in months], dtype=float)[None, :]
    k = (my - y) * 12 + (mm - mo)
    return np.where(np.isnan(k), float(_NO_HIRE_DATE), k).reshape(len(hire), len(months))


def rep_capacity(
    reps: pd.DataFrame,
    months: Iterable[pd.Timestamp],
    *,
    ramp_months: int = 6,
    ramp_curve: str = "linear",
    ramp_start: float = 0.25,
) -> pd.DataFrame:
    """Capacity of every rep in every month: ``fte x active_share x ramp_factor(k)``.

    Args:
        reps: ``rep_id`` and optionally ``region``, ``hire_date``, ``end_date`` (NaT = still
            active), ``fte`` (missing or NaN = 1.0). Duplicate ``rep_id`` rows: the first counts.
        months: month starts.
        ramp_months, ramp_curve, ramp_start: the plan's ``reps`` settings (:func:`ramp_factor`).

    Returns:
        One row per rep and month, reps in input order, months in the given order:
        ``rep_id`` (str), ``region`` (str, when ``reps`` has it: the region the rep is in that
        month, see :func:`region_by_month`), ``month``, ``active_share``,
        ``active`` (share > 0), ``ramp`` (the ramp factor in active months, else 0) and
        ``capacity``.
    """
    r = reps.drop_duplicates("rep_id").reset_index(drop=True)
    nan = pd.Series(pd.NaT, index=r.index)
    hire = r["hire_date"] if "hire_date" in r.columns else nan
    end = r["end_date"] if "end_date" in r.columns else nan
    fte = (
        pd.to_numeric(r["fte"], errors="coerce").fillna(1.0).to_numpy(dtype=float)
        if "fte" in r.columns
        else np.ones(len(r))
    )
    months = [pd.Timestamp(m) for m in months]
    n, nm = len(r), len(months)
    share = _active_shares(_dates(hire), _dates(end), months)
    ramp = ramp_factor(
        _months_since(_dates(hire), months), int(ramp_months), str(ramp_curve), float(ramp_start)
    )
    ramp = np.where(share > 0, ramp, 0.0)
    out = pd.DataFrame({"rep_id": np.repeat(r["rep_id"].astype(str).to_numpy(), nm)})
    out["month"] = pd.DatetimeIndex(months * n) if n else pd.DatetimeIndex([])
    if "region" in r.columns:
        out.insert(1, "region", region_by_month(r, months).ravel())
    out["active_share"] = share.ravel()
    out["active"] = out["active_share"] > 0
    out["ramp"] = ramp.ravel()
    out["capacity"] = np.repeat(fte, nm) * share.ravel() * ramp.ravel()
    return out


def region_by_month(reps: pd.DataFrame, months: list[pd.Timestamp]) -> np.ndarray:
    """The region of each rep (rows, input order) in each month (columns), as strings.

    ``region`` throughout, except for a rep with ``prev_region`` and ``region_from`` (both
    optional columns of reps.csv): ``prev_region`` in the months before ``region_from``'s month.
    """
    n, nm = len(reps), len(months)
    out = np.repeat(reps["region"].astype(str).to_numpy()[:, None], nm, axis=1).astype(object)
    if n == 0 or nm == 0 or not {"prev_region", "region_from"} <= set(reps.columns):
        return out
    prev = reps["prev_region"]
    start = pd.to_datetime(reps["region_from"]).dt.to_period("M").dt.to_timestamp()
    moved = (prev.notna() & start.notna()).to_numpy()
    mon = np.array([pd.Timestamp(m).to_datetime64() for m in months], dtype="datetime64[ns]")
    before = mon[None, :] < start.to_numpy(dtype="datetime64[ns]")[:, None]
    mask = moved[:, None] & before
    prev_s = prev.astype(object).where(prev.notna(), "").astype(str).to_numpy()
    out[mask] = np.repeat(prev_s[:, None], nm, axis=1)[mask]
    return out


def effective_capacity(
    capacity: np.ndarray | pd.Series, productivity: np.ndarray | pd.Series, weight: float
) -> np.ndarray:
    """Effective capacity: ``capacity x productivity ^ weight`` (``reps.productivity_weight``;
    weight 0 = capacity alone). A missing productivity index counts as 1."""
    p = np.nan_to_num(np.asarray(productivity, dtype=float), nan=1.0)
    return np.asarray(capacity, dtype=float) * np.power(np.clip(p, 1e-9, None), float(weight))
