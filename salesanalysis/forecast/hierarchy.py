"""Hierarchical forecast: series for every level of the sales hierarchy, made coherent.

The hierarchy is *grouped* (crossed), not a tree: the company total is at once the sum of the
regions, of the product lines, of the customer types, of the cells (region x product line x
customer type), of the reps and of the bottom series (region x product line x customer type x
rep). See the level table in ``docs/ARCHITECTURE.md``.

Steps (:func:`forecast_hierarchy` runs them all):

1. :func:`build_series` sums the cube into one monthly series per level and key, filled to
   regular months with 0 up to the cutoff, with the linear constraints that tie the levels.
2. The forecast engine (:mod:`salesanalysis.forecast.engine`) makes *base* forecasts for every active
   series independently.
3. Log-scale base forecasts are turned from medians into means (below).
4. :func:`reconcile` adjusts the base means so that every level adds up exactly (MinT with
   shrinkage by default) and keeps the lowest-level series non-negative.
5. Each series' base interval moves with its mean (same quantile distances around the mean).
6. :func:`reconciliation_backtest` measures the accuracy (MASE per level) of the reconciled
   against the engine's forecasts at earlier origins, so a reader can see what it costs.

Why MinT with shrinkage (``"mint_shrink"``, the default)
    Reconciliation by projection, ``y~ = y^ - W C'(C W C')^-1 C y^`` (``C y = 0`` are the
    aggregation constraints), is optimal (MinT, Wickramasuriya, Athanasopoulos & Hyndman 2019)
    when ``W`` is the covariance of the base forecast errors. In a sales hierarchy the lowest
    series are noisy: the engine often finds no significant seasonality there, so their errors
    share the seasonal pattern they miss and are strongly *correlated*. A diagonal ``W`` (WLS)
    treats the sum of hundreds of rep x cell forecasts as very precise and drags the company
    total towards that flat sum; on the sample company WLS with variance scaling made the
    total, product-line and customer-type forecasts 25-45% worse in MASE. MinT sees the
    correlation and leans on the levels that forecast well. ``W`` is estimated as in
    MinT(shrink): the sample covariance of in-sample errors, shrunk towards its diagonal with
    the Schäfer-Strimmer intensity. The engine does not return its models' in-sample residuals,
    so the errors are those of simple stand-ins of each series' model class
    (:func:`proxy_residuals`): seasonal naive where the chosen model is seasonal, last year's
    level where it is not (so the missed seasonality is in the error). ``W`` is held as a
    diagonal plus a ``T x n`` factor and the projection is solved in the space of the ``k``
    aggregation constraints (a few hundred even for 50,000 bottom series), so it stays fast.
    ``"wls_var"`` (variances from the engine's interval widths, per step), ``"wls_struct"``
    (variance proportional to the number of bottom series under a node), ``"ols"`` and
    ``"none"`` are available for comparison.

Medians and means
    The engine forecasts positive series on the log scale; back-transformed with ``exp`` that
    gives the *median* of the forecast distribution (its ``median`` column). Medians do not
    add up (the sum of 60 cell medians is several percent below the median of their sum); means
    do. The engine's ``mean`` column is ``median * exp(sigma^2 / 2)``, with ``sigma`` the
    log-scale sd at its narrowest interval level capped at 0.5 (so at most +13%; a very wide
    interval would let the assumed tail, not the data, set the mean), and the means are what is
    reconciled (``log_mean_correction``; for an engine without a ``median`` column the same
    conversion is made here from the narrowest interval).
    ``base_mean`` in the output is the engine's point forecast (its median) as it came;
    ``mean`` is the reconciled mean.

Non-negativity
    After the projection, leaf series with a negative mean are fixed at 0 and the projection is
    redone for the others (an active-set heuristic for the non-negative problem, as in
    Wickramasuriya, Turlach & Hyndman 2020); this repeats until no leaf is negative. Aggregates
    are sums of leaves, so they are non-negative too. Lower interval bounds are clipped at 0
    for series whose history never went negative.

Inactive series
    A leaf with no revenue in the last ``active_months`` months before the cutoff (a rep who
    left, a cell that stopped buying) is not sent to the engine: its forecast is 0 (model
    ``"inactive"``), and aggregates with only inactive leaves are 0 too. Given the reps table
    (``reps=``), a rep whose ``end_date`` is before the first forecast month is inactive too
    (:func:`reps_gone`), and a rep leaving inside the horizon is held at 0 from the month after
    the ``end_date`` (:func:`months_after_leaving`); the reconciliation gives their share of
    the region's forecast to the reps who stay.

Level of detail
    ``detail="bottom"`` reconciles down to region x product line x customer type x rep.
    ``detail="cell"`` skips that level (it is the largest and noisiest): the leaves are then
    the cells *and* the reps, reconciled jointly so that cells add up to total, regions, product
    lines and customer types, and the reps of each region add up to that region (and so to the
    total). Reps are not split by product line or customer type in that mode.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.stats import norm

from salesanalysis.errors import InputError, Problem, SalesAnalysisError
from salesanalysis.forecast import _models as fm

__all__ = [
    "KEY_COLS",
    "LEVELS",
    "LEVEL_KEYS",
    "ALL",
    "HierarchySeries",
    "HierarchyForecast",
    "MAX_LOG_SIGMA",
    "ErrorCovariance",
    "build_series",
    "proxy_residuals",
    "mint_covariance",
    "reconcile",
    "reconcile_forecasts",
    "coherence_gaps",
    "series_accuracy",
    "accuracy_by_level",
    "reconciliation_backtest",
    "chosen_scores",
    "backtest_summary",
    "hardest_series",
    "ForecastParams",
    "forecast_parameters",
    "forecast_hierarchy",
    "reps_gone",
    "reps_left_before",
    "months_after_leaving",
]

ALL = "*"
"""Key value of a dimension that is summed over."""

KEY_COLS: tuple[str, ...] = ("region", "product_line", "customer_type", "rep_id")
LEVEL_KEYS: dict[str, tuple[str, ...]] = {
    "total": (),
    "region": ("region",),
    "product_line": ("product_line",),
    "customer_type": ("customer_type",),
    "cell": ("region", "product_line", "customer_type"),
    "rep": ("region", "rep_id"),
    "bottom": ("region", "product_line", "customer_type", "rep_id"),
}
LEVELS: tuple[str, ...] = tuple(LEVEL_KEYS)
"""Levels from the top down."""

Detail = Literal["bottom", "cell"]
Reconciliation = Literal["mint_shrink", "wls_var", "wls_struct", "ols", "none"]
_RECONCILIATIONS = ("mint_shrink", "wls_var", "wls_struct", "ols", "none")
_ID_COLS = ["level", *KEY_COLS]
MAX_LOG_SIGMA = fm.MAX_LOG_SIGMA
"""Largest log-scale standard deviation used to turn a median into a mean (factor <= 1.13).

Beyond it the log-normal tail, not the data, would set the mean: a rep with five months of
history has sigma near 1.7, which would multiply the forecast by 4 to 7. Chosen on the sample
company's backtests (origins 2025-04, -07, -10): with the cap every level improved at every
origin; without it the region and bottom levels got slightly worse at one origin."""


class HierarchyError(SalesAnalysisError):
    """A hierarchical forecast cannot be made with the arguments given."""

    title = "Forecast problem"


# --------------------------------------------------------------------------- helpers


def _to_month(value: Any, what: str = "cutoff") -> pd.Timestamp:
    """Month start of ``value`` ("2025-12", a Period, a Timestamp or a date)."""
    try:
        if isinstance(value, pd.Period):
            return value.asfreq("M").to_timestamp()
        if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value.strip()):
            raise ValueError(value)
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise HierarchyError(
            f"The {what} {value!r} is not a month.", fix="Give it as YYYY-MM, e.g. '2025-12'."
        ) from exc
    if ts is pd.NaT:
        raise HierarchyError(f"The {what} is missing.", fix="Give it as YYYY-MM, e.g. '2025-12'.")
    return ts.to_period("M").to_timestamp()


def _month_col(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s).dt.to_period("M").dt.to_timestamp()


def _agg_matrix(child: pd.DataFrame, parent: pd.DataFrame, cols: Sequence[str]) -> sp.csr_matrix:
    """0/1 matrix (len(parent) x len(child)): 1 where the child rolls up into the parent."""
    cols = list(cols)
    if not cols:
        return sp.csr_matrix(np.ones((1, len(child))))
    p = parent[cols].reset_index(drop=True).assign(_p=np.arange(len(parent)))
    c = child[cols].reset_index(drop=True).assign(_c=np.arange(len(child)))
    m = c.merge(p, on=cols, how="inner")
    data = np.ones(len(m))
    return sp.csr_matrix(
        (data, (m["_p"].to_numpy(), m["_c"].to_numpy())), shape=(len(parent), len(child))
    )


def _level_keys(bottom: pd.DataFrame, level: str) -> pd.DataFrame:
    """Sorted distinct keys of ``level`` with ``*`` in the summed-over dimensions."""
    cols = list(LEVEL_KEYS[level])
    if cols:
        keys = bottom[cols].drop_duplicates().sort_values(cols).reset_index(drop=True)
    else:
        keys = pd.DataFrame(index=[0])
    out = pd.DataFrame({"level": level}, index=keys.index)
    for c in KEY_COLS:
        out[c] = keys[c].astype(str) if c in cols else ALL
    return out


# --------------------------------------------------------------------------- series builder


@dataclass
class HierarchySeries:
    """Monthly history of every series of the hierarchy and the constraints that tie them.

    Attributes:
        keys: one row per series: ``series_id, level, region, product_line, customer_type,
            rep_id`` (``*`` for summed-over dimensions), in the row order of ``values``.
        months: the regular months of the history (month starts), oldest first.
        values: ``len(keys) x len(months)`` array of the measure (0 where nothing was sold).
        constraints: sparse ``k x len(keys)`` matrix ``C``; coherent vectors satisfy ``C y = 0``
            (each row: an aggregate minus the sum of its children).
        leaves: boolean mask of the series that are never an aggregate (bottom series, or cells
            and reps when ``detail="cell"``).
        n_bottom: number of bottom (region x product line x customer type x rep) series under
            each series, the structural weight.
        detail: ``"bottom"`` or ``"cell"``.
        cutoff: last month of the history.
    """

    keys: pd.DataFrame
    months: pd.DatetimeIndex
    values: np.ndarray
    constraints: sp.csr_matrix
    leaves: np.ndarray
    n_bottom: np.ndarray
    detail: str
    cutoff: pd.Timestamp
    _primary: sp.csr_matrix = field(repr=False, default=None)  # aggregates from primary leaves
    _rep_region: sp.csr_matrix | None = field(repr=False, default=None)  # region rows x rep rows

    def long(self) -> pd.DataFrame:
        """History as a long frame: ``series_id, level, <keys>, month, value``."""
        n, t = self.values.shape
        out = self.keys.loc[np.repeat(np.arange(n), t)].reset_index(drop=True)
        out["month"] = np.tile(self.months.to_numpy(), n)
        out["value"] = self.values.reshape(-1)
        return out

    def engine_input(self, rows: np.ndarray | None = None) -> pd.DataFrame:
        """Long ``series_id, month, value`` frame for the engine, leading zeros trimmed.

        A series starts at its first non-zero month (a rep hired late starts when they do);
        a series with no non-zero month keeps its last month only.
        """
        rows = np.arange(len(self.keys)) if rows is None else np.asarray(rows)
        vals = self.values[rows]
        nz = vals != 0
        first = np.where(nz.any(axis=1), nz.argmax(axis=1), vals.shape[1] - 1)
        t_idx = np.arange(vals.shape[1])
        keep = t_idx[None, :] >= first[:, None]
        r, c = np.nonzero(keep)
        return pd.DataFrame(
            {
                "series_id": self.keys["series_id"].to_numpy()[rows][r],
                "month": self.months.to_numpy()[c],
                "value": vals[r, c].astype("float64"),
            }
        )


def _check_cube(cube: pd.DataFrame, value: str) -> None:
    need = ["month", *KEY_COLS, value]
    missing = [c for c in need if c not in cube.columns]
    if missing:
        raise InputError(
            "The monthly cube lacks columns the forecast needs.",
            problems=[
                Problem(
                    f"missing column(s): {', '.join(missing)}",
                    file="outputs/cube.parquet",
                    fix="Rebuild the cube with salesanalysis.data.cube.build_cube (rerun the prepare "
                    "step).",
                )
            ],
        )


def build_series(
    cube: pd.DataFrame,
    cutoff: Any,
    *,
    value: str = "revenue",
    detail: Detail = "bottom",
) -> HierarchySeries:
    """Sum the cube into one regular monthly series per level and key, up to ``cutoff``.

    Args:
        cube: the monthly cube (``month, region, product_line, customer_type, rep_id, <value>``).
        cutoff: last month of history to use (YYYY-MM, Period or Timestamp).
        value: the measure to forecast (default ``revenue``).
        detail: ``"bottom"`` (all levels) or ``"cell"`` (no rep x cell bottom level).

    Returns:
        A :class:`HierarchySeries`; every level sums to the cube's total month by month.

    Raises:
        InputError: the cube lacks a column or has no data up to the cutoff.
    """
    if detail not in ("bottom", "cell"):
        raise HierarchyError(f"Unknown level of detail {detail!r}.", fix="Use 'bottom' or 'cell'.")
    _check_cube(cube, value)
    cut = _to_month(cutoff)
    month = _month_col(cube["month"])
    data = cube.loc[month <= cut, list(KEY_COLS)].astype(str)
    data["month"] = month[month <= cut]
    data["value"] = pd.to_numeric(cube.loc[month <= cut, value], errors="coerce").fillna(0.0)
    if data.empty:
        first = month.min()
        raise InputError(
            f"There is no sales history up to {cut:%Y-%m} to forecast from.",
            problems=[
                Problem(
                    f"the data start in {first:%Y-%m}" if pd.notna(first) else "the cube is empty",
                    file="outputs/cube.parquet",
                    fix="Choose a later report period, or check the transactions file.",
                )
            ],
        )
    months = pd.date_range(data["month"].min(), cut, freq="MS")
    data = data.groupby([*KEY_COLS, "month"], sort=True, as_index=False)["value"].sum()

    bottom = data[list(KEY_COLS)].drop_duplicates().sort_values(list(KEY_COLS))
    bottom = bottom.reset_index(drop=True)
    b_code = (
        data[list(KEY_COLS)]
        .merge(bottom.assign(_b=np.arange(len(bottom))), on=list(KEY_COLS), how="left")["_b"]
        .to_numpy()
    )
    t_code = months.get_indexer(pd.DatetimeIndex(data["month"]))
    y_bottom = np.zeros((len(bottom), len(months)))
    np.add.at(y_bottom, (b_code, t_code), data["value"].to_numpy(dtype="float64"))

    levels = list(LEVELS) if detail == "bottom" else [lv for lv in LEVELS if lv != "bottom"]
    keys_list, rollups = [], []
    for lv in levels:
        k = _level_keys(bottom, lv)
        keys_list.append(k)
        rollups.append(_agg_matrix(bottom, k, LEVEL_KEYS[lv]))
    keys = pd.concat(keys_list, ignore_index=True)
    keys.insert(0, "series_id", [f"{lv}/{i:05d}" for lv, i in _numbering(keys["level"])])
    s_all = sp.vstack(rollups).tocsr()
    values = np.asarray(s_all @ y_bottom)
    n_bottom = np.asarray(s_all.sum(axis=1)).ravel()
    n = len(keys)

    lvl = keys["level"].to_numpy()
    rep_region = None
    if detail == "bottom":
        leaves = lvl == "bottom"
        agg = np.flatnonzero(~leaves)
        primary = s_all[agg]  # aggregates x bottoms
        c = sp.hstack([sp.identity(len(agg)), -primary]).tocsr()
        # columns are ordered aggregates first, then bottoms: that is the row order of keys
    else:
        cells = np.flatnonzero(lvl == "cell")
        reps = np.flatnonzero(lvl == "rep")
        top = np.flatnonzero(np.isin(lvl, ["total", "region", "product_line", "customer_type"]))
        regions = np.flatnonzero(lvl == "region")
        leaves = np.isin(lvl, ["cell", "rep"])
        cell_keys, rep_keys = keys.iloc[cells], keys.iloc[reps]
        blocks, primary_rows = [], []
        for lv in ("total", "region", "product_line", "customer_type"):
            rows = np.flatnonzero(lvl == lv)
            primary_rows.append(_agg_matrix(cell_keys, keys.iloc[rows], LEVEL_KEYS[lv]))
        primary = sp.vstack(primary_rows).tocsr()  # top rows x cells
        rep_region = _agg_matrix(rep_keys, keys.iloc[regions], ["region"])  # regions x reps
        c1 = _embed(sp.identity(len(top)), top, n) - _embed(primary, cells, n)
        c2 = _embed(sp.identity(len(regions)), regions, n) - _embed(rep_region, reps, n)
        blocks = [c1, c2]
        c = sp.vstack(blocks).tocsr()
    return HierarchySeries(
        keys=keys,
        months=months,
        values=values,
        constraints=c,
        leaves=leaves,
        n_bottom=n_bottom,
        detail=detail,
        cutoff=cut,
        _primary=primary,
        _rep_region=rep_region,
    )


def _numbering(levels: pd.Series):
    counts: dict[str, int] = {}
    for lv in levels:
        counts[lv] = counts.get(lv, -1) + 1
        yield lv, counts[lv]


def _embed(block: sp.spmatrix, cols: np.ndarray, n: int) -> sp.csr_matrix:
    """Place the columns of ``block`` at positions ``cols`` of an ``n``-column matrix."""
    block = sp.csr_matrix(block)
    coo = block.tocoo()
    return sp.csr_matrix((coo.data, (coo.row, cols[coo.col])), shape=(block.shape[0], n))


# --------------------------------------------------------------------------- reconciliation


def _solve_psd(m: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Solve ``m x = r`` for a symmetric PSD ``m``; least squares when it is singular."""
    try:
        return sla.cho_solve(sla.cho_factor(m, lower=True, check_finite=False), r)
    except (np.linalg.LinAlgError, sla.LinAlgError):
        return sla.lstsq(m, r, check_finite=False)[0]


@dataclass(frozen=True)
class ErrorCovariance:
    """Covariance ``W = diag(diag) + factor' factor`` of the base forecast errors.

    ``diag`` is ``n`` or ``n x h`` (one column per forecast step); ``factor`` (``T x n``, or
    None for a diagonal ``W``) is a low-rank part, so that ``W`` is never formed for large
    hierarchies. ``shrinkage`` is the weight of the diagonal target in MinT(shrink).
    """

    diag: np.ndarray
    factor: np.ndarray | None = None
    shrinkage: float | None = None


def reconcile(
    base: np.ndarray,
    constraints: sp.spmatrix,
    variance: np.ndarray | ErrorCovariance,
    *,
    nonneg: np.ndarray | None = None,
    fixed: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Coherent forecasts closest to ``base`` in the metric ``W^-1`` (MinT / WLS projection).

    For each forecast step (column), solves
    ``min (y - b)' W^-1 (y - b)  s.t.  C y = 0,  y_i = 0 for fixed i,  y_i >= 0 for nonneg i``:
    the projection ``y = b - W C'(C W C')^-1 C b`` over the free series, repeated with negative
    ``nonneg`` series fixed at 0 until none is negative.

    Args:
        base: ``n x h`` base forecasts (one row per series).
        constraints: sparse ``k x n`` matrix ``C``.
        variance: ``n x h`` (or ``n``) positive error variances (diagonal ``W``, WLS), or an
            :class:`ErrorCovariance` (MinT).
        nonneg: series that must not be negative (usually the leaves).
        fixed: series held at exactly 0 (inactive series): ``n`` (every step) or ``n x h``
            (per step, e.g. a rep's months after leaving).

    Returns:
        ``(reconciled, zeroed)``: the ``n x h`` coherent forecasts and an ``n x h`` mask of the
        series set to 0 by the non-negativity rule.
    """
    base = np.asarray(base, dtype="float64")
    squeeze = base.ndim == 1
    if squeeze:
        base = base[:, None]
    n, h = base.shape
    cov = variance if isinstance(variance, ErrorCovariance) else ErrorCovariance(variance)
    d = np.asarray(cov.diag, dtype="float64")
    d = np.broadcast_to(d[:, None] if d.ndim == 1 else d, (n, h))
    f = None if cov.factor is None else np.asarray(cov.factor, dtype="float64")
    c = sp.csc_matrix(constraints)
    nonneg = np.zeros(n, bool) if nonneg is None else np.asarray(nonneg, bool)
    fixed0 = np.zeros(n, bool) if fixed is None else np.asarray(fixed, bool)
    fixed0 = np.broadcast_to(fixed0[:, None] if fixed0.ndim == 1 else fixed0, (n, h))
    out = np.zeros((n, h))
    zeroed = np.zeros((n, h), bool)
    for j in range(h):
        fixed_j = fixed0[:, j].copy()
        while True:
            y = _project(base[:, j], c, d[:, j], f, fixed_j)
            neg = nonneg & ~fixed_j & (y < 0)
            if not neg.any():
                break
            fixed_j |= neg
            zeroed[neg, j] = True
        out[:, j] = y
    return (out[:, 0], zeroed[:, 0]) if squeeze else (out, zeroed)


def _project(
    b: np.ndarray, c: sp.csc_matrix, d: np.ndarray, f: np.ndarray | None, fixed: np.ndarray
) -> np.ndarray:
    free = np.flatnonzero(~fixed)
    y = np.zeros_like(b)
    if free.size == 0:
        return y
    cf = c[:, free].tocsr()
    live = np.diff(cf.indptr) > 0  # constraints with at least one free member
    cf = cf[live]
    bf = b[free]
    if cf.shape[0] == 0:
        y[free] = bf
        return y
    ct = cf.T.tocsr()  # free x k
    wct = ct.multiply(d[free][:, None]).tocsr()  # diag(d) C'
    if f is None:
        m = (cf @ wct).toarray()
    else:
        ff = f[:, free]  # T x free
        g = np.asarray((ct.T @ ff.T).T)  # T x k  = F C'
        wct = wct.toarray() + ff.T @ g
        m = np.asarray(cf @ wct)
    lam = _solve_psd(m, cf @ bf)
    y[free] = bf - np.asarray(wct @ lam).ravel()
    return y


def _shrinkage_intensity(z: np.ndarray) -> float:
    """Schäfer-Strimmer intensity for shrinking the correlation of ``z`` (T x n, standardised
    columns) towards the identity, computed with T x T products only (no n x n matrix)."""
    t = z.shape[0]
    if t < 3:
        return 1.0
    gram = z @ z.T
    sum_r2 = ((gram**2).sum() - ((z**2).sum(axis=0) ** 2).sum()) / (t - 1) ** 2  # i != j
    if sum_r2 <= 0:
        return 1.0
    q = (z**2).sum(axis=1)
    sum_w2 = (q**2).sum() - (z**4).sum()  # sum over t and i != j of (z_ti z_tj)^2
    sum_wbar2 = sum_r2 * ((t - 1) / t) ** 2
    var_r = t / (t - 1) ** 3 * (sum_w2 - t * sum_wbar2)
    return float(np.clip(var_r / sum_r2, 0.0, 1.0))


def proxy_residuals(
    values: np.ndarray, seasonal: np.ndarray, season_length: int = 12
) -> np.ndarray:
    """In-sample multi-step errors of simple stand-ins for each series' model class.

    ``y_t - y_{t-m}`` (seasonal naive) for series whose chosen model is seasonal, and
    ``y_t - mean(y_{t-m} .. y_{t-1})`` (last year's level) for the others, so a non-seasonal
    model's error carries the seasonality it misses. Returns ``T x n`` (``T = months - m``).
    """
    m = int(season_length)
    v = np.asarray(values, dtype="float64")
    n, length = v.shape
    if length <= m:
        return np.zeros((0, n))
    cs = np.concatenate([np.zeros((n, 1)), np.cumsum(v, axis=1)], axis=1)
    trailing = (cs[:, m:length] - cs[:, : length - m]) / m  # mean of the m months before t
    seas = v[:, m:] - v[:, :-m]
    e = np.where(np.asarray(seasonal, bool)[:, None], seas, v[:, m:] - trailing)
    return e.T


def mint_covariance(
    values: np.ndarray, seasonal: np.ndarray, season_length: int = 12
) -> ErrorCovariance | None:
    """MinT(shrink) error covariance from :func:`proxy_residuals` (None if too few months).

    ``W = lambda diag(S) + (1 - lambda) S``, S the sample covariance of the residuals and
    lambda the Schäfer-Strimmer intensity, held as a diagonal plus a ``T x n`` factor.
    """
    e = proxy_residuals(values, seasonal, season_length)
    t = e.shape[0]
    if t < 3:
        return None
    x = e - e.mean(axis=0)
    s2 = (x**2).sum(axis=0) / (t - 1)
    sd = np.sqrt(s2)
    z = np.divide(x, sd, out=np.zeros_like(x), where=sd > 0)
    lam = _shrinkage_intensity(z)
    floor = 1e-8 * s2.max() + 1e-9
    diag = lam * s2 + np.where(s2 > 0, 0.0, floor) + floor * (1 - lam)
    factor = np.sqrt((1.0 - lam) / (t - 1)) * x
    return ErrorCovariance(diag=diag, factor=factor, shrinkage=lam)


def _variances(
    method: str,
    mean: np.ndarray,
    bounds: dict[int, tuple[np.ndarray, np.ndarray]],
    n_bottom: np.ndarray,
) -> np.ndarray:
    """``n x h`` error variances for a diagonal (WLS) weight matrix."""
    n, h = mean.shape
    if method == "ols":
        return np.ones((n, h))
    if method == "wls_struct":
        return np.broadcast_to(np.maximum(n_bottom, 1.0)[:, None], (n, h)).astype(float)
    lvl = 80 if 80 in bounds else min(bounds)
    lo, hi = bounds[lvl]
    z = norm.ppf(0.5 + lvl / 200.0)
    sd = np.abs(hi - lo) / (2.0 * z)
    var = np.where(np.isfinite(sd), sd, 0.0) ** 2
    # floor: a series with a zero-width interval is held almost fixed, never exactly (keeps
    # C W C' invertible and lets it move when everything around it must)
    floor = 1e-6 * var.max(axis=0, keepdims=True) + 1e-9
    return np.maximum(var, floor)


def _median_to_mean(
    mean: np.ndarray, bounds: dict[int, tuple[np.ndarray, np.ndarray]], is_log: np.ndarray
) -> np.ndarray:
    """Expected value of log-scale forecasts: ``median * exp(sigma^2 / 2)``.

    The engine back-transforms log-scale forecasts with ``exp``, which gives the median of the
    predictive distribution; medians do not add up, means do. ``sigma`` (on the log scale) is
    read from the narrowest interval: ``(ln hi - ln lo) / (2 z)``, capped at
    :data:`MAX_LOG_SIGMA`.
    """
    lvl = min(bounds)
    lo, hi = bounds[lvl]
    z = norm.ppf(0.5 + lvl / 200.0)
    ok = is_log[:, None] & (lo > 0) & (hi > 0) & (mean > 0)
    sig = np.zeros_like(mean)
    sig[ok] = (np.log(hi[ok]) - np.log(lo[ok])) / (2.0 * z)
    sig = np.minimum(sig, MAX_LOG_SIGMA)
    return np.where(ok, mean * np.exp(sig**2 / 2.0), mean)


def _engine_flags(
    series: HierarchySeries, engine_info: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per series: (model is seasonal, forecast made on the log scale), from the engine's
    ``chosen`` table (``series_id, seasonal, transform``); unknown: seasonal, not log."""
    n = len(series.keys)
    seasonal = np.ones(n, bool)
    is_log = np.zeros(n, bool)
    if isinstance(engine_info, pd.DataFrame) and "series_id" in engine_info.columns:
        info = engine_info.drop_duplicates("series_id").set_index("series_id")
        ids = series.keys["series_id"]
        if "seasonal" in info.columns:
            s = ids.map(info["seasonal"])
            seasonal = s.where(s.notna(), True).astype(bool).to_numpy()
        if "transform" in info.columns:
            is_log = ids.map(info["transform"]).eq("log").to_numpy().copy()
    return seasonal, is_log


def reconcile_forecasts(
    series: HierarchySeries,
    base: pd.DataFrame,
    *,
    levels: Sequence[int] = (80, 95),
    method: Reconciliation = "mint_shrink",
    inactive: np.ndarray | None = None,
    engine_info: pd.DataFrame | None = None,
    log_mean_correction: bool = True,
    season_length: int = 12,
    off_months: np.ndarray | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Reconcile the engine's base forecasts of every series of ``series``.

    Args:
        series: the hierarchy (from :func:`build_series`).
        base: engine output ``series_id, month, mean, lo_<l>, hi_<l>..., model`` for the
            active series (others are treated as inactive, forecast 0).
        levels: interval levels present in ``base``.
        method: ``"mint_shrink"`` (default), ``"wls_var"``, ``"wls_struct"``, ``"ols"`` or
            ``"none"``.
        inactive: series held at 0 (default: those missing from ``base``).
        engine_info: the engine's ``chosen`` table (``series_id, seasonal, transform``): which
            models are seasonal (for MinT's residuals) and which forecasts are log-scale medians.
        log_mean_correction: turn log-scale medians into means before reconciling.
        season_length: months per season.
        off_months: ``n x h`` series-months held at 0 (with their intervals), e.g. the months
            after a rep's ``end_date``; None = none.

    Returns:
        ``(frame, info)``: the forecast frame (``series_id, level, <keys>, month, mean, lo_*,
        hi_*, model, base_mean``; ``base_mean`` is the engine's point forecast as it came) and
        facts about the run (``method`` used, ``shrinkage``, ``log_corrected`` series,
        ``zeroed`` series-months set to 0 by the non-negativity rule, ``max_gap``).
    """
    if method not in _RECONCILIATIONS:
        raise HierarchyError(
            f"Unknown reconciliation method {method!r}.",
            fix=f"Use one of: {', '.join(_RECONCILIATIONS)}.",
        )
    keys = series.keys
    n = len(keys)
    ids = keys["series_id"].to_numpy()
    months = pd.DatetimeIndex(sorted(pd.unique(_month_col(base["month"]))))
    h = len(months)
    row = pd.Index(ids).get_indexer(base["series_id"])
    col = months.get_indexer(_month_col(base["month"]))
    if (row < 0).any():
        raise HierarchyError(
            "The forecast engine returned series that are not in the hierarchy.",
            fix="Report this as a bug, with the period and data used.",
        )
    present = np.zeros(n, bool)
    present[row] = True
    inactive = ~present if inactive is None else (np.asarray(inactive, bool) | ~present)

    def grid(col_name: str) -> np.ndarray:
        a = np.zeros((n, h))
        a[row, col] = base[col_name].to_numpy(dtype="float64")
        return a

    has_median = "median" in base.columns  # this engine gives means and medians both
    engine_mean = grid("median" if has_median else "mean")  # the point forecast as it came
    engine_expected = grid("mean") if has_median else None
    counts = np.zeros((n, h))
    counts[row, col] = 1
    missing = (counts[~inactive] == 0).sum()
    if missing:
        raise HierarchyError(
            f"The forecast engine left {int(missing)} series-months without a forecast.",
            fix="Report this as a bug, with the period and data used.",
        )
    bounds = {int(lv): (grid(f"lo_{lv}"), grid(f"hi_{lv}")) for lv in levels}
    model = np.full(n, "inactive", dtype=object)
    first = base.drop_duplicates("series_id")
    model[pd.Index(ids).get_indexer(first["series_id"])] = first["model"].astype(str).to_numpy()
    model[inactive] = "inactive"
    off = np.broadcast_to(inactive[:, None], (n, h)).copy()
    if off_months is not None:
        off |= np.asarray(off_months, bool)
    engine_mean[off] = 0.0
    seasonal, is_log = _engine_flags(series, engine_info)
    is_log = is_log & ~inactive
    if not log_mean_correction:
        mean = engine_mean
    elif engine_expected is not None:
        engine_expected[off] = 0.0
        mean = engine_expected
    else:  # an engine that returns log-scale medians only (no ``median`` column)
        mean = np.where(off, 0.0, _median_to_mean(engine_mean, bounds, is_log))

    used, lam = method, None
    if method == "none":
        rec, zeroed = mean.copy(), np.zeros((n, h), bool)
        diag = np.ones((n, h))
    else:
        cov: np.ndarray | ErrorCovariance | None = None
        if method == "mint_shrink":
            cov = mint_covariance(series.values, seasonal, season_length)
            if cov is None:  # too little history for residuals: WLS on the interval widths
                used = "wls_var"
            else:
                lam = cov.shrinkage
        if cov is None:
            cov = _variances(used, mean, bounds, series.n_bottom)
        rec, zeroed = reconcile(mean, series.constraints, cov, nonneg=series.leaves, fixed=off)
        diag = cov.diag if isinstance(cov, ErrorCovariance) else cov
        diag = np.broadcast_to(diag[:, None] if diag.ndim == 1 else diag, (n, h))
        rec = _exact(series, rec, diag, zeroed | off)

    # intervals: the base interval moved by the reconciliation's change of the mean
    hist_nonneg = (series.values >= 0).all(axis=1)
    shift = np.where(off, 0.0, rec - mean)
    out = keys.loc[np.repeat(np.arange(n), h)].reset_index(drop=True)
    out["month"] = np.tile(months.to_numpy(), n)
    out["mean"] = rec.reshape(-1)
    for lv in levels:
        lo, hi = bounds[int(lv)]
        # a lower bound at 0 (a month without sales is a likely outcome) stays at 0
        held = off | (hist_nonneg[:, None] & (lo <= 0.0))
        lo_r = np.where(held, 0.0, lo + shift)
        hi_r = np.where(off, 0.0, hi + shift)
        lo_r = np.where(hist_nonneg[:, None], np.maximum(lo_r, 0.0), lo_r)
        out[f"lo_{lv}"] = np.minimum(lo_r, rec).reshape(-1)
        out[f"hi_{lv}"] = np.maximum(hi_r, rec).reshape(-1)
    _nest_intervals(out, levels)
    out["model"] = np.repeat(model, h).astype(str)
    out["base_mean"] = engine_mean.reshape(-1)
    info = {
        "method": used,
        "shrinkage": lam,
        "log_corrected": int((is_log & log_mean_correction).sum()),
        "zeroed": int(zeroed.sum()),
        "max_gap": float(np.abs(series.constraints @ rec).max()) if n else 0.0,
    }
    return out, info


def _nest_intervals(frame: pd.DataFrame, levels: Sequence[int]) -> None:
    """Make wider levels contain narrower ones (in place): lo_95 <= lo_80, hi_80 <= hi_95."""
    lv = sorted(int(x) for x in levels)
    for a, b in zip(lv, lv[1:], strict=False):
        frame[f"lo_{b}"] = np.minimum(frame[f"lo_{b}"], frame[f"lo_{a}"])
        frame[f"hi_{b}"] = np.maximum(frame[f"hi_{b}"], frame[f"hi_{a}"])


def _exact(
    series: HierarchySeries, y: np.ndarray, var: np.ndarray, fixed: np.ndarray
) -> np.ndarray:
    """Remove the round-off of the projection: aggregates are re-summed from the leaves."""
    y = y.copy()
    lvl = series.keys["level"].to_numpy()
    if series.detail == "bottom":
        agg = np.flatnonzero(lvl != "bottom")
        bot = np.flatnonzero(lvl == "bottom")
        y[agg] = series._primary @ y[bot]
        return y
    top = np.flatnonzero(np.isin(lvl, ["total", "region", "product_line", "customer_type"]))
    cells = np.flatnonzero(lvl == "cell")
    reps = np.flatnonzero(lvl == "rep")
    regions = np.flatnonzero(lvl == "region")
    y[top] = series._primary @ y[cells]
    # reps: spread each region's (tiny) residual over its free reps in proportion to variance
    rr = series._rep_region
    gap = y[regions] - rr @ y[reps]
    w = np.where(fixed[reps], 0.0, var[reps])
    wsum = rr @ w
    share = np.divide(w, rr.T @ wsum, out=np.zeros_like(w), where=(rr.T @ wsum) > 0)
    y[reps] = y[reps] + share * (rr.T @ gap)
    return y


# --------------------------------------------------------------------------- coherence check


def coherence_gaps(forecast: pd.DataFrame, value: str = "mean") -> pd.DataFrame:
    """Largest absolute gap between each level and the sums of the level below, per month.

    Checks total vs region/product_line/customer_type/cell/rep/bottom, each one-dimension level
    vs cell, region vs rep, cell and rep vs bottom (for the levels present in ``forecast``).

    Returns:
        ``parent, child, max_abs_gap`` (0 up to float round-off when coherent).
    """
    pairs = [
        ("total", "region"),
        ("total", "product_line"),
        ("total", "customer_type"),
        ("total", "cell"),
        ("total", "rep"),
        ("total", "bottom"),
        ("region", "cell"),
        ("product_line", "cell"),
        ("customer_type", "cell"),
        ("region", "rep"),
        ("cell", "bottom"),
        ("rep", "bottom"),
    ]
    present = set(forecast["level"].unique())
    rows = []
    for parent, child in pairs:
        if parent not in present or child not in present:
            continue
        pk = list(LEVEL_KEYS[parent])
        p = forecast.loc[forecast["level"] == parent, [*pk, "month", value]]
        c = forecast.loc[forecast["level"] == child, [*pk, "month", value]]
        cs = c.groupby([*pk, "month"], as_index=False)[value].sum()
        m = p.merge(cs, on=[*pk, "month"], how="outer", suffixes=("_p", "_c")).fillna(0.0)
        gap = (m[f"{value}_p"] - m[f"{value}_c"]).abs().max() if len(m) else 0.0
        rows.append({"parent": parent, "child": child, "max_abs_gap": float(gap)})
    return pd.DataFrame(rows, columns=["parent", "child", "max_abs_gap"])


# --------------------------------------------------------------------------- accuracy


def _mase_scale(values: np.ndarray, season_length: int) -> np.ndarray:
    """In-sample MAE of the seasonal naive forecast (lag 1 when history is too short).

    Leading zeros are ignored (a series starts at its first non-zero month).
    """
    out = np.full(values.shape[0], np.nan)
    for i, v in enumerate(values):
        nz = np.flatnonzero(v != 0)
        if nz.size == 0:
            continue
        v = v[nz[0] :]
        lag = season_length if v.size > season_length else 1
        if v.size <= lag:
            continue
        out[i] = np.mean(np.abs(v[lag:] - v[:-lag]))
    return out


def series_accuracy(
    forecast: pd.DataFrame,
    actuals: pd.DataFrame,
    history: HierarchySeries,
    *,
    season_length: int = 12,
) -> pd.DataFrame:
    """Errors of base and reconciled forecasts of each series against actuals.

    Args:
        forecast: frame from :func:`forecast_hierarchy` (``level, <keys>, month, mean,
            base_mean, model``), made with ``history`` as its history.
        actuals: long ``level, <keys>, month, value`` frame of what happened (e.g.
            ``build_series(cube, later_cutoff).long()``); months absent count as 0.
        history: the history the forecast was made from (for the MASE scale).
        season_length: seasonal lag of the MASE scale.

    Returns:
        One row per scored series: ``level, <keys>, model, months, mae_base, mae_reconciled,
        scale, mase_base, mase_reconciled`` (MASE is NaN when the scale is 0: a constant or
        empty history), and ``inside_<l>`` per interval level present in ``forecast``: the
        months whose actual fell inside the reconciled ``lo_<l>``..``hi_<l>`` interval.
        Inactive series are left out (both forecasts are 0).
    """
    levels = _interval_levels(forecast)
    bounds = [c for lv in levels for c in (f"lo_{lv}", f"hi_{lv}")]
    f = forecast.loc[
        forecast["model"] != "inactive",
        [*_ID_COLS, "month", "mean", "base_mean", "model", *bounds],
    ]
    a = actuals[[*_ID_COLS, "month", "value"]]
    m = f.merge(a, on=[*_ID_COLS, "month"], how="left")
    m["value"] = m["value"].fillna(0.0)
    m["err_base"] = (m["base_mean"] - m["value"]).abs()
    m["err_rec"] = (m["mean"] - m["value"]).abs()
    for lv in levels:
        m[f"inside_{lv}"] = (m["value"] >= m[f"lo_{lv}"]) & (m["value"] <= m[f"hi_{lv}"])
    g = (
        m.groupby(_ID_COLS, sort=False)
        .agg(
            model=("model", "first"),
            months=("month", "size"),
            mae_base=("err_base", "mean"),
            mae_reconciled=("err_rec", "mean"),
            **{f"inside_{lv}": (f"inside_{lv}", "sum") for lv in levels},
        )
        .reset_index()
    )
    scale = pd.DataFrame(history.keys[_ID_COLS]).assign(
        scale=_mase_scale(history.values, season_length)
    )
    g = g.merge(scale, on=_ID_COLS, how="left")
    ok = g["scale"] > 0
    g["mase_base"] = np.where(ok, g["mae_base"] / g["scale"].where(ok, 1.0), np.nan)
    g["mase_reconciled"] = np.where(ok, g["mae_reconciled"] / g["scale"].where(ok, 1.0), np.nan)
    return g


def _interval_levels(frame: pd.DataFrame) -> list[int]:
    """Interval levels with both ``lo_<l>`` and ``hi_<l>`` columns in ``frame``, ascending."""
    found = [int(c[3:]) for c in frame.columns if re.fullmatch(r"lo_\d+", str(c))]
    return sorted(lv for lv in found if f"hi_{lv}" in frame.columns)


def accuracy_by_level(per_series: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per level, base against reconciled (from :func:`series_accuracy`).

    Returns:
        ``level, series, scored, mase_base, mase_reconciled, change, median_change, rel_mae,
        improved`` and ``cov_<l>`` per interval level: ``series`` counts series x origin pairs
        (``scored``: those with a MASE scale); mean MASE of each; ``change = mase_reconciled /
        mase_base - 1`` (negative = reconciliation helped); ``median_change`` the same for the
        median MASE; ``rel_mae`` the geometric mean over series of ``MAE reconciled / MAE
        base`` (below 1 = better; robust to a few series with a huge error); ``improved`` the
        share of scored series whose error went down; ``cov_<l>`` the share of series-months
        whose actual fell inside the reconciled ``<l>``% interval (nominal: ``l``/100). Levels
        in hierarchy order.
    """
    d = per_series.copy()
    d["scored"] = d["mase_base"].notna()
    d["better"] = (d["mase_reconciled"] < d["mase_base"] - 1e-12) & d["scored"]
    ok = d["scored"] & (d["mae_base"] > 0) & (d["mae_reconciled"] > 0)
    d["log_ratio"] = np.where(
        ok, np.log(d["mae_reconciled"].where(ok, 1.0) / d["mae_base"].where(ok, 1.0)), np.nan
    )
    cov_levels = sorted(int(c[7:]) for c in d.columns if re.fullmatch(r"inside_\d+", str(c)))
    g = d.groupby("level", sort=False).agg(
        months=("months", "sum"),
        **{f"inside_{lv}": (f"inside_{lv}", "sum") for lv in cov_levels},
        series=("level", "size"),
        scored=("scored", "sum"),
        mase_base=("mase_base", "mean"),
        mase_reconciled=("mase_reconciled", "mean"),
        med_base=("mase_base", "median"),
        med_rec=("mase_reconciled", "median"),
        log_ratio=("log_ratio", "mean"),
        better=("better", "sum"),
    )
    g["change"] = g["mase_reconciled"] / g["mase_base"] - 1.0
    g["median_change"] = g["med_rec"] / g["med_base"] - 1.0
    g["rel_mae"] = np.exp(g["log_ratio"])
    g["improved"] = g["better"] / g["scored"].where(g["scored"] > 0)
    for lv in cov_levels:
        g[f"cov_{lv}"] = g[f"inside_{lv}"] / g["months"].where(g["months"] > 0)
    order = {lv: i for i, lv in enumerate(LEVELS)}
    g = g.reset_index().sort_values("level", key=lambda s: s.map(order)).reset_index(drop=True)
    cols = [
        "level",
        "series",
        "scored",
        "mase_base",
        "mase_reconciled",
        "change",
        "median_change",
        "rel_mae",
        "improved",
        *(f"cov_{lv}" for lv in cov_levels),
    ]
    return g[cols]


# --------------------------------------------------------------------------- backtest tables


def _baseline_name(models: Sequence[str]) -> str | None:
    names = [m for m in models if "naive" in str(m).lower()]
    seasonal = [m for m in names if str(m).lower().startswith(("s", "seasonal"))]
    return (seasonal or names or [None])[0]


def _family_col(frame: pd.DataFrame) -> str:
    """The column naming the model family: ``candidate`` (engine) when present, else ``model``."""
    return "candidate" if "candidate" in frame.columns else "model"


def chosen_scores(
    backtest: pd.DataFrame, chosen: pd.DataFrame, metric: str = "mase"
) -> pd.DataFrame:
    """Backtest score of the model each series chose.

    Uses the engine's ``chosen.backtest_mase`` when present, else the backtest rows flagged
    ``chosen``, else the backtest row of the chosen model (scores averaged over rows).

    Returns:
        ``series_id, level, <keys>, model, <metric>`` (``model``: the chosen model's family).
    """
    fam = _family_col(chosen)
    ch = chosen[["series_id", "level", *KEY_COLS]].assign(model=chosen[fam].astype(str))
    if metric == "mase" and "backtest_mase" in chosen.columns:
        return ch.assign(mase=chosen["backtest_mase"].to_numpy(dtype=float))
    if "chosen" in backtest.columns:
        sc = backtest[backtest["chosen"].astype(bool)].groupby("series_id")[metric].min()
        return ch.assign(**{metric: ch["series_id"].map(sc).to_numpy(dtype=float)})
    bfam = _family_col(backtest)
    per = backtest.groupby(["series_id", bfam], as_index=False, sort=False)[metric].mean()
    per = per.rename(columns={bfam: "model"})
    return ch.merge(per, on=["series_id", "model"], how="left")


def backtest_summary(
    backtest: pd.DataFrame,
    chosen: pd.DataFrame | None = None,
    *,
    metric: str = "mase",
    baseline: str | None = None,
) -> pd.DataFrame:
    """Mean backtest score per level and model, and against the baseline on the same series.

    Args:
        backtest: the engine's backtest with ``series_id, level, candidate`` (or ``model``) and
            ``<metric>``: one row per series and candidate (or per series, candidate, origin).
        chosen: the engine's ``chosen`` table with the series' level; adds a row
            ``model="chosen"`` per level (the score of each series' own choice).
        baseline: the reference model (default: the seasonal naive candidate).

    Returns:
        ``level, model, series, <metric>, vs_baseline`` where ``vs_baseline`` is the mean score
        divided by the baseline's mean score over the same series (below 1 = better).
        ``.attrs["baseline"]`` names the baseline.
    """
    if metric not in backtest.columns:
        raise HierarchyError(
            f"The backtest table has no column {metric!r}.",
            fix=f"Use one of: {', '.join(map(str, backtest.columns))}.",
        )
    fam = _family_col(backtest)
    per = backtest.groupby(["series_id", "level", fam], as_index=False, sort=False)[metric].mean()
    per = per.rename(columns={fam: "model"})
    per = per[np.isfinite(per[metric])]
    if chosen is not None and len(chosen):
        ch = chosen_scores(backtest, chosen, metric).dropna(subset=[metric])
        per = pd.concat(
            [
                per,
                ch[["series_id", "level"]].assign(
                    model="chosen", **{metric: ch[metric].to_numpy()}
                ),
            ],
            ignore_index=True,
        )
    baseline = baseline or _baseline_name(list(dict.fromkeys(per["model"])))
    base = (
        per[per["model"] == baseline][["series_id", metric]].rename(columns={metric: "_base"})
        if baseline is not None
        else pd.DataFrame(columns=["series_id", "_base"])
    )
    per = per.merge(base, on="series_id", how="left")
    g = per.groupby(["level", "model"], as_index=False, sort=False).agg(
        series=("series_id", "size"), score=(metric, "mean"), _b=("_base", "mean")
    )
    both = (
        per.dropna(subset=["_base"])
        .groupby(["level", "model"], sort=False)
        .agg(s=(metric, "mean"), b=("_base", "mean"))
    )
    ratio = (both["s"] / both["b"]).rename("vs_baseline").reset_index()
    g = g.merge(ratio, on=["level", "model"], how="left").drop(columns="_b")
    g = g.rename(columns={"score": metric})
    order = {lv: i for i, lv in enumerate(LEVELS)}
    g["_o"] = g["level"].map(order)
    g["_m"] = g["model"].map(lambda m: (m == baseline, m == "chosen"))
    g = g.sort_values(["_o", "_m", metric]).drop(columns=["_o", "_m"]).reset_index(drop=True)
    g.attrs["baseline"] = baseline
    return g


def hardest_series(
    scores: pd.DataFrame,
    *,
    n: int = 8,
    score: str = "mase",
    levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The ``n`` series with the largest ``score`` (e.g. from :func:`chosen_scores` or
    :func:`series_accuracy`), optionally only from some levels."""
    d = scores.dropna(subset=[score])
    if levels is not None:
        d = d[d["level"].isin(list(levels))]
    return d.sort_values(score, ascending=False, kind="stable").head(n).reset_index(drop=True)


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class ForecastParams:
    """Validated parameters of the forecast step (see :func:`forecast_parameters`)."""

    horizon: int
    levels: tuple[int, ...]
    models: tuple[str, ...] | None
    method: str
    n_origins: int
    detail: str
    reconciliation: str
    accuracy_origins: int
    n_jobs: int | None
    scheduler: str | None

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`forecast_hierarchy` (after ``cube, cutoff``)."""
        return {
            "horizon": self.horizon,
            "levels": self.levels,
            "models": self.models,
            "method": self.method,
            "n_origins": self.n_origins,
            "detail": self.detail,
            "reconciliation": self.reconciliation,
            "accuracy_origins": self.accuracy_origins,
            "n_jobs": self.n_jobs,
            "scheduler": self.scheduler,
        }


def _param_error(name: str, value: Any, expected: str) -> HierarchyError:
    return HierarchyError(
        f"The notebook parameter '{name}' is {value!r}, which is not {expected}.",
        fix=f"Set '{name}' to {expected} (in the parameters cell or with `-p {name} ...`).",
    )


def forecast_parameters(
    *,
    horizon: int = 0,
    levels: str | Sequence[int] = "",
    models: str | Sequence[str] = "",
    method: str = "default",
    backtest_origins: int = 3,
    detail: str = "bottom",
    reconciliation: str = "mint_shrink",
    accuracy_origins: int = 1,
    n_jobs: int = 0,
    scheduler: str = "",
    plan: Any = None,
) -> ForecastParams:
    """Check the notebook's parameters and fill the defaults from the plan.

    ``horizon=0`` and ``levels=""`` take the plan's ``forecast.horizon`` / ``forecast.levels``
    (12 and 80, 95 without a plan); ``models=""`` lets the engine use its default candidates;
    ``levels`` and ``models`` may be comma-separated strings; ``n_jobs=0`` uses all cores;
    ``scheduler=""`` runs on local processes.

    Raises:
        HierarchyError: a parameter is malformed (the message names it and the fix).
    """
    fs = getattr(plan, "forecast", None)
    try:
        h = int(horizon)
    except (TypeError, ValueError):
        raise _param_error("horizon", horizon, "a whole number of months") from None
    if h == 0:
        h = int(getattr(fs, "horizon", 12))
    if not 1 <= h <= 60:
        raise _param_error("horizon", horizon, "between 1 and 60 months (0 = the plan's)")
    if isinstance(levels, str):
        raw = [x for x in levels.replace(";", ",").split(",") if x.strip()]
    else:
        raw = list(levels)
    if not raw:
        raw = list(getattr(fs, "levels", (80, 95)))
    try:
        lv = tuple(sorted({int(str(x).strip().rstrip("%")) for x in raw}))
    except ValueError:
        raise _param_error("levels", levels, "a list of percentages like '80,95'") from None
    if any(not 1 <= x <= 99 for x in lv):
        raise _param_error("levels", levels, "percentages between 1 and 99, like '80,95'")
    if isinstance(models, str):
        mods = tuple(x.strip() for x in models.split(",") if x.strip())
    else:
        mods = tuple(str(x) for x in models)
    if detail not in ("bottom", "cell"):
        raise _param_error("detail", detail, "'bottom' or 'cell'")
    if reconciliation not in _RECONCILIATIONS:
        raise _param_error(
            "reconciliation", reconciliation, " or ".join(repr(x) for x in _RECONCILIATIONS)
        )
    for name, v, lo in (
        ("backtest_origins", backtest_origins, 1),
        ("accuracy_origins", accuracy_origins, 0),
        ("n_jobs", n_jobs, 0),
    ):
        if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < lo:
            raise _param_error(name, v, f"a whole number >= {lo}")
    if not isinstance(method, str) or not method:
        raise _param_error("method", method, "a method name such as 'default'")
    sched = str(scheduler or "").strip() or None
    if sched is not None and "://" not in sched:
        raise _param_error("scheduler", scheduler, "a Dask address like 'tcp://host:8786' or ''")
    return ForecastParams(
        horizon=h,
        levels=lv,
        models=mods or None,
        method=method,
        n_origins=int(backtest_origins),
        detail=detail,
        reconciliation=reconciliation,
        accuracy_origins=int(accuracy_origins),
        n_jobs=int(n_jobs) or None,
        scheduler=sched,
    )


# --------------------------------------------------------------------------- driver


@dataclass
class HierarchyForecast:
    """Everything the forecast step produces.

    Attributes:
        forecast: the frame for ``outputs/forecast.parquet``: ``level, region, product_line,
            customer_type, rep_id, month, mean, lo_*, hi_*, model, base_mean``.
        backtest: the engine's backtest scores, with the series' level and keys (for
            ``outputs/backtest.parquet``).
        accuracy: reconciled against base MASE per level at earlier origins (or ``None``).
        accuracy_series: the same per series and origin (or ``None``).
        history: ``level, <keys>, month, value`` up to the cutoff.
        chosen: the model chosen for each active series, with its keys.
        coverage: the engine's backtest interval coverage (as it returns it).
        warnings: the engine's summarised warnings (as it returns it).
        info: run facts: cutoff, horizon, detail, reconciliation, series counts, max gap.
    """

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    accuracy: pd.DataFrame | None
    accuracy_series: pd.DataFrame | None
    history: pd.DataFrame
    chosen: pd.DataFrame
    coverage: Any
    warnings: Any
    info: dict[str, Any]


def _default_engine() -> Callable[..., Any]:
    from salesanalysis.forecast.engine import run_forecast

    return run_forecast


def _call_engine(engine: Callable[..., Any], df: pd.DataFrame, horizon: int, levels, **kw):
    """Call ``engine`` with the keyword arguments its signature accepts (None = its default)."""
    try:
        params = inspect.signature(engine).parameters
        takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
    except (TypeError, ValueError):  # pragma: no cover - builtins
        params, takes_all = {}, True
    args = {k: v for k, v in kw.items() if v is not None and (takes_all or k in params)}
    return engine(df, horizon, tuple(levels), **args)


def _with_keys(frame: Any, keys: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame) or "series_id" not in frame.columns:
        return frame if isinstance(frame, pd.DataFrame) else pd.DataFrame()
    return keys.merge(frame, on="series_id", how="right")


def _active(
    series: HierarchySeries, active_months: int | None, gone: np.ndarray | None = None
) -> np.ndarray:
    """Series worth forecasting: a leaf with a non-zero month in the window and not ``gone``
    (the series of a rep who has left), or an aggregate with such a leaf under it."""
    n = len(series.keys)
    gone = np.zeros(n, bool) if gone is None else np.asarray(gone, bool)
    if active_months is None and not gone.any():
        return np.ones(n, bool)
    if active_months is None:
        leaf_active = series.leaves.copy()
    else:
        recent = series.values[:, -int(active_months) :]
        leaf_active = series.leaves & (recent != 0).any(axis=1)
    leaf_active &= ~gone
    # an aggregate is active when a constraint ties it to an active leaf (a rep who has left
    # with detail="bottom": all of the rep's leaves are gone, so is the rep)
    c = abs(sp.csr_matrix(series.constraints))
    agg_rows = (c @ leaf_active.astype(float)) > 0
    act = leaf_active.copy()
    parents = np.asarray((c[agg_rows] > 0).sum(axis=0)).ravel() > 0
    act |= parents & ~series.leaves
    return act


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


def forecast_hierarchy(
    cube: pd.DataFrame,
    cutoff: Any,
    horizon: int,
    *,
    levels: Sequence[int] = (80, 95),
    detail: Detail = "bottom",
    n_jobs: int | None = None,
    scheduler: str | None = None,
    method: str = "default",
    models: Sequence[str] | None = None,
    n_origins: int = 3,
    season_length: int = 12,
    reconciliation: Reconciliation = "mint_shrink",
    log_mean_correction: bool = True,
    accuracy_origins: int = 1,
    accuracy_step: int = 3,
    active_months: int | None = 12,
    value: str = "revenue",
    engine: Callable[..., Any] | None = None,
    reps: pd.DataFrame | None = None,
) -> HierarchyForecast:
    """Coherent forecasts for every level and key of the sales hierarchy.

    Args:
        cube: the monthly cube.
        cutoff: last month of history (the report period).
        horizon: months to forecast after the cutoff.
        levels: interval levels in percent.
        detail: ``"bottom"`` (down to rep x cell) or ``"cell"`` (cells and reps, see module doc).
        n_jobs, scheduler, method, models, n_origins, season_length: passed to the engine.
        reconciliation: ``"mint_shrink"`` (default), ``"wls_var"``, ``"wls_struct"``, ``"ols"``,
            ``"none"`` (see the module docstring).
        log_mean_correction: turn the engine's log-scale forecasts (medians) into means before
            reconciling (means add up, medians do not).
        accuracy_origins: earlier origins at which reconciled and base forecasts are compared
            against actuals (0 = skip; each origin costs one more engine run).
        accuracy_step: months between those origins.
        active_months: a leaf with no sales in this many months is forecast as 0 (None = all
            series are forecast).
        value: the cube measure to forecast.
        engine: the forecast engine (default :func:`salesanalysis.forecast.engine.run_forecast`).
        reps: the reps table (``rep_id, end_date``); a rep who left before the first forecast
            month is forecast at 0 (:func:`reps_gone`). None = every rep with recent sales is
            forecast.

    Returns:
        A :class:`HierarchyForecast`.
    """
    if int(horizon) < 1:
        raise HierarchyError(
            f"The forecast horizon must be at least 1 month, not {horizon}.",
            fix="Set horizon to the number of months to forecast, e.g. 12.",
        )
    if not levels or any(not 0 < float(lv) < 100 for lv in levels):
        raise HierarchyError(
            f"Interval levels must be percentages between 0 and 100, not {list(levels)}.",
            fix="Use e.g. levels=(80, 95).",
        )
    levels = tuple(int(lv) for lv in levels)
    engine = engine or _default_engine()
    series = build_series(cube, cutoff, value=value, detail=detail)
    gone = reps_gone(series, reps)
    act = _active(series, active_months, gone)
    rows = np.flatnonzero(act)
    eng_kw = dict(
        season_length=season_length,
        n_origins=n_origins,
        n_jobs=n_jobs,
        scheduler=scheduler,
        method=method,
        models=None if models is None else list(models),
        # interval widths calibrated level by level: the many bottom series must not set the
        # width of the total's interval
        calibration_groups=dict(
            zip(series.keys["series_id"], series.keys["level"].astype(str), strict=True)
        ),
    )
    result = _call_engine(engine, series.engine_input(rows), int(horizon), levels, **eng_kw)
    base = result.forecasts
    chosen = getattr(result, "chosen", None)
    if not isinstance(chosen, pd.DataFrame):
        chosen = base.drop_duplicates("series_id")[["series_id", "model"]]
    frame, info = reconcile_forecasts(
        series,
        base,
        levels=levels,
        method=reconciliation,
        inactive=~act,
        engine_info=chosen,
        log_mean_correction=log_mean_correction,
        season_length=season_length,
        off_months=months_after_leaving(
            series,
            reps,
            pd.date_range(
                series.cutoff + pd.DateOffset(months=1), periods=int(horizon), freq="MS"
            ),
        ),
    )
    keys = series.keys
    history = series.long().drop(columns="series_id")

    accuracy = acc_series = None
    if accuracy_origins and accuracy_origins > 0:
        accuracy, acc_series = reconciliation_backtest(
            cube,
            cutoff,
            horizon,
            origins=accuracy_origins,
            step=accuracy_step,
            levels=levels,
            detail=detail,
            n_jobs=n_jobs,
            scheduler=scheduler,
            method=method,
            models=models,
            n_origins=n_origins,
            season_length=season_length,
            reconciliation=reconciliation,
            log_mean_correction=log_mean_correction,
            active_months=active_months,
            value=value,
            engine=engine,
            reps=reps,
        )
    info.update(
        cutoff=series.cutoff,
        horizon=int(horizon),
        detail=detail,
        levels=levels,
        series=len(keys),
        forecast_series=int(act.sum()),
        inactive_series=int((~act).sum()),
        left_reps=int((gone & (series.keys["level"] == "rep").to_numpy()).sum()),
        history_start=series.months[0],
    )
    return HierarchyForecast(
        forecast=frame.drop(columns="series_id"),
        backtest=_with_keys(getattr(result, "backtest", None), keys),
        accuracy=accuracy,
        accuracy_series=acc_series,
        history=history,
        chosen=_with_keys(chosen, keys),
        coverage=getattr(result, "coverage", None),
        warnings=getattr(result, "warnings", None),
        info=info,
    )


def reconciliation_backtest(
    cube: pd.DataFrame,
    cutoff: Any,
    horizon: int,
    *,
    origins: int = 1,
    step: int = 3,
    season_length: int = 12,
    **kwargs: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accuracy of reconciled against base forecasts at earlier forecast origins.

    The hierarchy is forecast (engine + reconciliation, exactly as :func:`forecast_hierarchy`
    does) from the origins ``cutoff - horizon - i * step`` (i = 0 .. origins-1), and both the
    base and the reconciled means are scored by MASE against the actuals of the ``horizon``
    months that followed, series by series.

    Args:
        cube, cutoff, horizon: as for :func:`forecast_hierarchy`.
        origins: number of origins.
        step: months between origins.
        season_length: seasonal lag of the MASE scale (also passed to the engine).
        **kwargs: other :func:`forecast_hierarchy` arguments (levels, detail, engine, ...).

    Returns:
        ``(by_level, per_series)``: :func:`accuracy_by_level` over all origins, and the
        per-series table from :func:`series_accuracy` with an ``origin`` column.

    Raises:
        HierarchyError: the history is too short for an origin with a full horizon before it.
    """
    cut = _to_month(cutoff)
    value = kwargs.get("value", "revenue")
    detail = kwargs.get("detail", "bottom")
    actual = build_series(cube, cut, value=value, detail=detail)
    actual_long = actual.long()
    kwargs = {k: v for k, v in kwargs.items() if k not in ("accuracy_origins", "accuracy_step")}
    per = []
    for i in range(int(origins)):
        origin = cut - pd.DateOffset(months=int(horizon) + i * int(step))
        if origin < actual.months[0] + pd.DateOffset(months=season_length):
            if per:
                break
            raise HierarchyError(
                f"The history (from {actual.months[0]:%Y-%m}) is too short to test the "
                f"forecast {horizon} months back from {cut:%Y-%m}.",
                fix="Lower accuracy_origins to 0 or use a shorter horizon.",
            )
        hf = forecast_hierarchy(
            cube,
            origin,
            horizon,
            season_length=season_length,
            accuracy_origins=0,
            **kwargs,
        )
        hist = build_series(cube, origin, value=value, detail=detail)
        s = series_accuracy(hf.forecast, actual_long, hist, season_length=season_length)
        s.insert(0, "origin", origin)
        per.append(s)
    per_series = pd.concat(per, ignore_index=True)
    return accuracy_by_level(per_series), per_series
