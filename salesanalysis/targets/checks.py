"""Checks of the decomposition: every level adds up, pins, floors and caps hold, every target
has a rep; the notes of the stages are shown with them.

A check is a row ``check, ok, value, detail``; stages report theirs as :data:`CheckRow` tuples
and :func:`checks_frame` puts them together in the order they were made.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesanalysis.i18n import tr
from salesanalysis.targets.plan import DIMENSIONS
from salesanalysis.targets.rounding import RoundedRevenue

__all__ = [
    "CHECK_COLUMNS",
    "CheckRow",
    "adding_up_checks",
    "checks_frame",
    "target_checks",
]

CheckRow = tuple[str, bool, float, str]
"""One check: name, whether it holds, the value checked, a detail for the reader."""

CHECK_COLUMNS = ["check", "ok", "value", "detail"]
CELL = list(DIMENSIONS)


def adding_up_checks(
    targets: pd.DataFrame,
    totals: list[tuple[str, float, str]],
    levels: list[tuple[str, np.ndarray, np.ndarray]],
    grid: pd.MultiIndex,
    months: list[pd.Timestamp],
    unit: float,
) -> list[CheckRow]:
    """That the rounded targets add up.

    Args:
        targets: the targets frame (``month``, the cell keys, ``rep_id`` and the target columns).
        totals: ``(column, company total, label)``: the column must sum to the total.
        levels: ``(column, rounded cells, rounded cell x months)``: the column summed per cell
            and per month must equal them; its values must be multiples of ``unit``, >= 0.
        grid: the cells (the index the rounded cell vectors follow).
        months: the plan months (the columns of the cell x month arrays).
        unit: the rounding unit of the revenue targets.
    """
    rows: list[CheckRow] = []

    def add_check(name: str, ok: bool, value: float, detail: str) -> None:
        rows.append((name, bool(ok), float(value), detail))

    for col, tot, lbl in totals:
        s = float(targets[col].sum())
        add_check(
            tr("{column}: sums to the {what}").format(column=col, what=lbl),
            abs(s - tot) < 1e-6,
            s - tot,
            tr("{a} vs {b}").format(a=f"{s:,.0f}", b=f"{tot:,.0f}"),
        )
    for col, rc, rcm in levels:
        by_cell = targets.groupby(CELL)[col].sum().reindex(grid).fillna(0).to_numpy()
        add_check(
            tr("{column}: cells add up").format(column=col),
            np.allclose(by_cell, rc, atol=1e-6),
            float(np.abs(by_cell - rc).max()),
            tr("rep targets summed per cell = cell target"),
        )
        by_m = targets.groupby("month")[col].sum().reindex(months).fillna(0).to_numpy()
        add_check(
            tr("{column}: months add up").format(column=col),
            np.allclose(by_m, rcm.sum(axis=0), atol=1e-6),
            float(np.abs(by_m - rcm.sum(axis=0)).max()),
            tr("per month"),
        )
        mult = np.abs(targets[col] / unit - np.round(targets[col] / unit)).max()
        add_check(
            tr("{column}: multiples of {unit}").format(column=col, unit=f"{unit:,.0f}"),
            mult < 1e-6,
            float(mult),
            "",
        )
        add_check(
            tr("{column}: no negative target").format(column=col),
            (targets[col] >= 0).all(),
            float(targets[col].min()),
            "",
        )
    return rows


def checks_frame(rows: list[CheckRow], notes: list[str]) -> pd.DataFrame:
    """The checks table: ``rows`` in order, then one ``note`` row (ok, no value) per note."""
    rows = [*rows, *((tr("note"), True, np.nan, nt) for nt in notes)]
    return pd.DataFrame(rows, columns=CHECK_COLUMNS)


def target_checks(
    targets: pd.DataFrame,
    total: float,
    rounded: RoundedRevenue,
    customers_total: float,
    grid: pd.MultiIndex,
    months: list[pd.Timestamp],
    unit: float,
) -> list[CheckRow]:
    """:func:`adding_up_checks` of the targets with and without cushion and of customers."""
    return adding_up_checks(
        targets,
        [
            ("target_revenue_no_cushion", total, tr("company target")),
            ("target_revenue", rounded.total_c, tr("company target x (1 + cushion)")),
            ("target_customers", customers_total, tr("company customer target")),
        ],
        [
            ("target_revenue_no_cushion", rounded.cells, rounded.cell_months),
            ("target_revenue", rounded.cells_c, rounded.cell_months_c),
        ],
        grid,
        months,
        unit,
    )
