"""Series of the sales hierarchy: one regular monthly series per level and key, with the linear
constraints that tie the levels (:func:`build_series`).

The hierarchy is *grouped* (crossed), not a tree: the company total is at once the sum of the
regions, of the product lines, of the customer types, of the cells (region x product line x
customer type), of the reps and of the bottom series (region x product line x customer type x
rep). :data:`LEVEL_KEYS` names the key columns of each level; a summed-over dimension has the
key :data:`ALL` (``*``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from salesanalysis.errors import InputError, Problem, SalesAnalysisError
from salesanalysis.i18n import N_, tr

__all__ = [
    "ALL",
    "KEY_COLS",
    "LEVELS",
    "LEVEL_KEYS",
    "HierarchyError",
    "HierarchySeries",
    "build_series",
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


class HierarchyError(SalesAnalysisError):
    """A hierarchical forecast cannot be made with the arguments given."""

    title = N_("Forecast problem")  # translated where the error is shown (errors.py)


# --------------------------------------------------------------------------- helpers


def _to_month(value: Any) -> pd.Timestamp:
    """Month start of ``value`` ("2025-12", a Period, a Timestamp or a date)."""
    try:
        if isinstance(value, pd.Period):
            return value.asfreq("M").to_timestamp()
        if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value.strip()):
            raise ValueError(value)
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise HierarchyError(
            tr("The cutoff {value} is not a month.").format(value=repr(value)),
            fix=tr("Give it as YYYY-MM, e.g. '2025-12'."),
        ) from exc
    if ts is pd.NaT:
        raise HierarchyError(
            tr("The cutoff is missing."),
            fix=tr("Give it as YYYY-MM, e.g. '2025-12'."),
        )
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
            tr("The monthly cube lacks columns the forecast needs."),
            problems=[
                Problem(
                    tr("missing column(s): {columns}").format(columns=", ".join(missing)),
                    file="outputs/cube.parquet",
                    fix=tr(
                        "Rebuild the cube with salesanalysis.data.cube.build_cube (rerun the "
                        "prepare step)."
                    ),
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
        raise HierarchyError(
            tr("Unknown level of detail {value}.").format(value=repr(detail)),
            fix=tr("Use 'bottom' or 'cell'."),
        )
    _check_cube(cube, value)
    cut = _to_month(cutoff)
    history = bottom_history(cube, cut, value)
    months = pd.date_range(history["month"].min(), cut, freq="MS")
    bottom, y_bottom = _bottom_grid(history, months)
    keys, rollup = level_rollups(bottom, detail)
    tie = constraints(keys, rollup, detail)
    return HierarchySeries(
        keys=keys,
        months=months,
        values=np.asarray(rollup @ y_bottom),
        constraints=tie.matrix,
        leaves=tie.leaves,
        n_bottom=np.asarray(rollup.sum(axis=1)).ravel(),
        detail=detail,
        cutoff=cut,
        _primary=tie.primary,
        _rep_region=tie.rep_region,
    )


def bottom_history(cube: pd.DataFrame, cutoff: pd.Timestamp, value: str) -> pd.DataFrame:
    """The cube's ``value`` summed per bottom key and month, up to ``cutoff`` (a month start).

    Returns:
        ``region, product_line, customer_type, rep_id, month, value`` (keys as ``str``, sorted
        by keys and month; only months with a cube row).

    Raises:
        InputError: there is no row up to the cutoff.
    """
    month = _month_col(cube["month"])
    data = cube.loc[month <= cutoff, list(KEY_COLS)].astype(str)
    data["month"] = month[month <= cutoff]
    data["value"] = pd.to_numeric(cube.loc[month <= cutoff, value], errors="coerce").fillna(0.0)
    if data.empty:
        first = month.min()
        raise InputError(
            tr("There is no sales history up to {cutoff} to forecast from.").format(
                cutoff=f"{cutoff:%Y-%m}"
            ),
            problems=[
                Problem(
                    tr("the data start in {month}").format(month=f"{first:%Y-%m}")
                    if pd.notna(first)
                    else tr("the cube is empty"),
                    file="outputs/cube.parquet",
                    fix=tr("Choose a later report period, or check the transactions file."),
                )
            ],
        )

    return data.groupby([*KEY_COLS, "month"], sort=True, as_index=False)["value"].sum()


def _bottom_grid(
    history: pd.DataFrame, months: pd.DatetimeIndex
) -> tuple[pd.DataFrame, np.ndarray]:
    """Sorted distinct bottom keys, and their ``keys x months`` values (0 where no row)."""
    bottom = history[list(KEY_COLS)].drop_duplicates().sort_values(list(KEY_COLS))
    bottom = bottom.reset_index(drop=True)
    b_code = (
        history[list(KEY_COLS)]
        .merge(bottom.assign(_b=np.arange(len(bottom))), on=list(KEY_COLS), how="left")["_b"]
        .to_numpy()
    )
    t_code = months.get_indexer(pd.DatetimeIndex(history["month"]))
    y_bottom = np.zeros((len(bottom), len(months)))
    np.add.at(y_bottom, (b_code, t_code), history["value"].to_numpy(dtype="float64"))
    return bottom, y_bottom


def level_rollups(bottom: pd.DataFrame, detail: Detail) -> tuple[pd.DataFrame, sp.csr_matrix]:
    """The keys of every series and the 0/1 matrix summing the bottom series into each.

    Args:
        bottom: the distinct bottom keys (``region, product_line, customer_type, rep_id``).
        detail: ``"bottom"`` (all levels) or ``"cell"`` (no bottom level).

    Returns:
        ``(keys, rollup)``: ``series_id, level, <keys>`` (levels from the top down, keys sorted;
        ``series_id`` is ``<level>/<number>``) and the ``len(keys) x len(bottom)`` matrix.
    """
    levels = list(LEVELS) if detail == "bottom" else [lv for lv in LEVELS if lv != "bottom"]
    keys_list, rollups = [], []
    for lv in levels:
        k = _level_keys(bottom, lv)
        keys_list.append(k)
        rollups.append(_agg_matrix(bottom, k, LEVEL_KEYS[lv]))
    keys = pd.concat(keys_list, ignore_index=True)
    keys.insert(0, "series_id", [f"{lv}/{i:05d}" for lv, i in _numbering(keys["level"])])
    return keys, sp.vstack(rollups).tocsr()


@dataclass(frozen=True)
class Constraints:
    """The linear constraints of a hierarchy (see :class:`HierarchySeries`).

    Attributes:
        matrix: sparse ``k x n`` ``C`` (coherent ``y``: ``C y = 0``).
        leaves: the series that are never an aggregate.
        primary: aggregates from the primary leaves: all aggregates x bottom series
            (``detail="bottom"``), or total, region, product line and customer type x cells.
        rep_region: regions x reps (``detail="cell"``; None otherwise).
    """

    matrix: sp.csr_matrix
    leaves: np.ndarray
    primary: sp.csr_matrix
    rep_region: sp.csr_matrix | None = None


def constraints(keys: pd.DataFrame, rollup: sp.csr_matrix, detail: Detail) -> Constraints:
    """The aggregation constraints of the series ``keys`` (from :func:`level_rollups`).

    ``detail="bottom"``: every aggregate is the sum of its bottom series. ``detail="cell"``:
    total, regions, product lines and customer types are sums of cells, and each region is
    also the sum of its reps.
    """
    n = len(keys)
    lvl = keys["level"].to_numpy()
    if detail == "bottom":
        leaves = lvl == "bottom"
        agg = np.flatnonzero(~leaves)
        primary = rollup[agg]  # aggregates x bottoms
        c = sp.hstack([sp.identity(len(agg)), -primary]).tocsr()
        # columns are ordered aggregates first, then bottoms: that is the row order of keys
        return Constraints(c, leaves, primary)
    cells = np.flatnonzero(lvl == "cell")
    reps = np.flatnonzero(lvl == "rep")
    top = np.flatnonzero(np.isin(lvl, ["total", "region", "product_line", "customer_type"]))
    regions = np.flatnonzero(lvl == "region")
    leaves = np.isin(lvl, ["cell", "rep"])
    cell_keys, rep_keys = keys.iloc[cells], keys.iloc[reps]
    primary_rows = []
    for lv in ("total", "region", "product_line", "customer_type"):
        rows = np.flatnonzero(lvl == lv)
        primary_rows.append(_agg_matrix(cell_keys, keys.iloc[rows], LEVEL_KEYS[lv]))
    primary = sp.vstack(primary_rows).tocsr()  # top rows x cells
    rep_region = _agg_matrix(rep_keys, keys.iloc[regions], ["region"])  # regions x reps
    c1 = _embed(sp.identity(len(top)), top, n) - _embed(primary, cells, n)
    c2 = _embed(sp.identity(len(regions)), regions, n) - _embed(rep_region, reps, n)
    return Constraints(sp.vstack([c1, c2]).tocsr(), leaves, primary, rep_region)


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
