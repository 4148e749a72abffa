"""Rounding to the plan's unit so that every level adds up exactly.

The largest-remainder method (:func:`salesanalysis.targets.kernels.largest_remainder`),
generalised by :func:`salesanalysis.targets.kernels.controlled_round` so that the totals of
several levels hold at once: cells (honouring pins) -> cell x month (also matching the rounded
month totals) -> reps (also matching the rounded rep totals). Done separately for the targets
with and without the cushion, and for customers (:mod:`salesanalysis.targets.customers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from salesanalysis.errors import ConstraintConflict
from salesanalysis.i18n import N_, tr
from salesanalysis.targets.kernels import Group, controlled_round, largest_remainder
from salesanalysis.targets.plan import Plan

if TYPE_CHECKING:  # constraints imports round_unit from here
    from salesanalysis.targets.constraints import Constrained

__all__ = ["RoundedRevenue", "round_chain", "round_revenue", "round_unit"]


def round_unit(x: float, unit: float) -> float:
    """``x`` to the nearest multiple of ``unit`` (halves up)."""
    return float(np.floor(x / unit + 0.5) * unit)


def _round_cells(
    x_c: np.ndarray,
    unit: float,
    groups: list[Group],
    lower: np.ndarray | None,
    upper: np.ndarray | None,
    notes: list[str],
    label: str,
) -> np.ndarray:
    """Round the cells so that every group (company total, pins) holds, within the bounds
    when possible (else only the groups, with a note)."""
    r_c = controlled_round(x_c, unit, groups, lower, upper)
    if r_c is None:
        notes.append(
            tr("{what}: floors/caps hold to within one rounding unit").format(what=tr(label))
        )
        r_c = controlled_round(x_c, unit, groups)
    if r_c is None:
        raise ConstraintConflict(
            tr("the pins cannot all be rounded to the unit {unit} at once ({what})").format(
                unit=f"{unit:,.0f}", what=tr(label)
            ),
            fix=tr(
                "make pinned amounts multiples of the rounding unit, or remove a pin that "
                "overlaps another"
            ),
        )
    return r_c


def _round_cell_months(
    x_cm: np.ndarray, r_c: np.ndarray, unit: float, total: float, notes: list[str], label: str
) -> np.ndarray:
    """Round cell x month: rows = cells (fixed), columns = months (largest remainder of the
    month totals)."""
    n, nm = x_cm.shape
    month_tot = largest_remainder(x_cm.sum(axis=0), unit, total)
    flat = x_cm.ravel()
    g_rows = [Group(f"cell {i}", np.arange(i * nm, (i + 1) * nm), r_c[i]) for i in range(n)]
    g_cols = [Group(f"month {j}", np.arange(j, n * nm, nm), month_tot[j]) for j in range(nm)]
    r_cm = controlled_round(flat, unit, g_rows + g_cols)
    if r_cm is None:
        notes.append(
            tr("{what}: month totals add up but are not each the closest rounding").format(
                what=tr(label)
            )
        )
        r_cm = np.concatenate([largest_remainder(x_cm[i], unit, r_c[i]) for i in range(n)])
    return r_cm.reshape(n, nm)


def _round_reps(
    r_cm: np.ndarray, bottom: pd.DataFrame, unit: float, notes: list[str], label: str
) -> np.ndarray:
    """Round the rep rows, one region at a time: rows = cell-months (fixed), columns = reps
    (largest remainder of the rep totals)."""
    nm = r_cm.shape[1]
    vals = r_cm[bottom["cell"].to_numpy(), bottom["m"].to_numpy()] * bottom["share"].to_numpy()
    out = np.zeros(len(bottom))
    for _, idx in bottom.groupby("region").indices.items():
        sub = bottom.iloc[idx]
        v = vals[idx]
        row_key = sub["cell"].to_numpy() * nm + sub["m"].to_numpy()
        rows = pd.Series(np.arange(len(idx))).groupby(row_key).indices
        reps = pd.Series(np.arange(len(idx))).groupby(sub["rep_id"].to_numpy()).indices
        rep_names = list(reps)
        rep_tot_unr = np.array([v[reps[r]].sum() for r in rep_names])
        region_total = float(sum(r_cm[k // nm, k % nm] for k in rows))
        rep_tot = largest_remainder(rep_tot_unr, unit, region_total)
        gr = [Group(f"row {k}", np.asarray(ix), r_cm[k // nm, k % nm]) for k, ix in rows.items()]
        gc = [Group(f"rep {r}", np.asarray(reps[r]), rep_tot[i]) for i, r in enumerate(rep_names)]
        res = controlled_round(v, unit, gr + gc)
        if res is None:
            notes.append(
                tr("{what}: rep totals add up but are not each the closest rounding").format(
                    what=tr(label)
                )
            )
            res = np.zeros(len(idx))
            for k, ix in rows.items():
                res[np.asarray(ix)] = largest_remainder(
                    v[np.asarray(ix)], unit, r_cm[k // nm, k % nm]
                )
        out[idx] = res
    return out


def round_chain(
    x_c: np.ndarray,
    x_cm: np.ndarray,
    bottom: pd.DataFrame,
    unit: float,
    total: float,
    pin_groups: list[Group],
    lower: np.ndarray | None,
    upper: np.ndarray | None,
    notes: list[str],
    label: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Round cells, then cell-months, then cell-month-reps so every level adds up exactly.

    Args:
        x_c: unrounded cell amounts (they sum to ``total``).
        x_cm: unrounded cell x month amounts (rows sum to ``x_c``).
        bottom: one row per cell, month and rep: ``cell`` (index into the cells), ``m``
            (month index), ``region``, ``rep_id`` and ``share`` (of the cell-month going to
            the row's rep; the shares of a cell-month sum to 1).
        unit: the rounding unit; ``total``: the rounded company total.
        pin_groups: groups of cells whose rounded sum is fixed (pins).
        lower, upper: bounds per cell (floors, caps) kept when rounding allows.
        notes: where notes about compromises are appended (each starts with ``label``).

    Returns rounded (cells, cell x months, bottom rows).

    Raises:
        ConstraintConflict: the pins cannot all be rounded to the unit at once.
    """
    n = x_cm.shape[0]
    groups = [Group("company total", np.arange(n), total), *pin_groups]
    r_c = _round_cells(x_c, unit, groups, lower, upper, notes, label)
    r_cm = _round_cell_months(x_cm, r_c, unit, total, notes, label)
    out = _round_reps(r_cm, bottom, unit, notes, label)
    return r_c, r_cm, out


@dataclass(frozen=True)
class RoundedRevenue:
    """Rounded revenue targets, without and with the cushion.

    Attributes:
        cells, cell_months, rows: without cushion: per cell, per cell x month (n x months)
            and per bottom row (cell x month x rep, in the order of the rep split's rows).
        cells_c, cell_months_c, rows_c: the same with the cushion (rep targets).
        total_c: the company target x (1 + cushion_pct), rounded.
        notes: compromises the rounding had to make.
    """

    cells: np.ndarray
    cell_months: np.ndarray
    rows: np.ndarray
    cells_c: np.ndarray
    cell_months_c: np.ndarray
    rows_c: np.ndarray
    total_c: float
    notes: tuple[str, ...] = ()


def round_revenue(
    fitted: Constrained, x_cm: np.ndarray, bottom: pd.DataFrame, total: float, plan: Plan
) -> RoundedRevenue:
    """Round the revenue targets without cushion (pins, floors and caps held) and with the
    cushion (the cushioned pins held when they can all be rounded exactly, else only the total;
    floors and caps are not applied to the cushion), to ``rounding.revenue``.

    Args:
        fitted: the cells after pins, floors and caps (their targets, pins, floors, caps).
        x_cm, bottom, total: as :func:`round_chain` (``bottom`` is the rep split's rows).
    """
    x_c, unit, cush = fitted.cells, plan.rounding_revenue, plan.cushion_pct
    rnotes: list[str] = []
    r_c, r_cm, r_b = round_chain(
        x_c,
        x_cm,
        bottom,
        unit,
        total,
        fitted.pins,
        fitted.floor,
        fitted.cap,
        rnotes,
        N_("revenue"),
    )
    total_c = round_unit(total * (1 + cush), unit)
    x_c, x_cm, label = x_c * (1 + cush), x_cm * (1 + cush), N_("revenue with cushion")
    try:
        rc = round_chain(
            x_c, x_cm, bottom, unit, total_c, fitted.pins_c, None, None, rnotes, label
        )
    except ConstraintConflict:
        rnotes.append(
            tr(
                "revenue with cushion: pinned groups x (1 + cushion) could not all be "
                "rounded exactly; only the total is held"
            )
        )
        rc = round_chain(x_c, x_cm, bottom, unit, total_c, [], None, None, rnotes, label)
    return RoundedRevenue(r_c, r_cm, r_b, *rc, total_c, tuple(rnotes))
