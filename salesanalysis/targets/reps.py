"""Reps: how a cell's monthly target is split over the region's reps, and each rep's load.

Each cell-month is split over the reps of the cell's region active that month in proportion to
their capacity = fte x share of the month active x ramp factor
(:mod:`salesanalysis.targets.capacity`, the rules the review uses too), times
(1 - w + w x productivity index) when ``reps.productivity_weight`` w > 0. A region without an
active rep in a month gives that month's targets to :data:`UNASSIGNED`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesanalysis.targets import capacity
from salesanalysis.targets.checks import CheckRow
from salesanalysis.targets.periods import PlanWindows, base_months
from salesanalysis.targets.plan import Plan

__all__ = [
    "UNASSIGNED",
    "RepSplit",
    "productivity",
    "rep_capacity",
    "rep_load",
    "split_to_reps",
    "unassigned_check",
]

UNASSIGNED = "(unassigned)"


def rep_capacity(reps: pd.DataFrame, months: list[pd.Timestamp], plan: Plan) -> pd.DataFrame:
    """Capacity of every rep in every month: ``fte x share of the month active x ramp``.

    The rules are :mod:`salesanalysis.targets.capacity`'s (shared with the review), with the plan's
    ``reps`` ramp settings: a rep without a hire date counts as fully ramped; months before the
    hire month or after the end date have no capacity.

    Returns ``rep_id, region, month, active_share, ramp, capacity`` (rep by rep).
    """
    s = plan.reps
    cap = capacity.rep_capacity(
        reps, months, ramp_months=s.ramp_months, ramp_curve=s.ramp_curve, ramp_start=s.ramp_start
    )
    return cap[["rep_id", "region", "month", "active_share", "ramp", "capacity"]]


def productivity(cube: pd.DataFrame, reps: pd.DataFrame, plan: Plan) -> pd.Series:
    """Productivity index per rep: base-window revenue per unit of capacity over the median of
    the rep's region (the team the cell targets are split over).

    Reps without capacity in the base window get 1; the index is clipped to [0.25, 4]."""
    bm = base_months(plan)
    cap = rep_capacity(reps, bm, plan).groupby("rep_id")["capacity"].sum()
    rev = cube[cube["month"].isin(bm)].groupby("rep_id")["revenue"].sum()
    ratio = (rev.reindex(cap.index).fillna(0.0) / cap).where(cap > 0)
    region = reps.drop_duplicates("rep_id").set_index("rep_id")["region"].reindex(cap.index)
    med = ratio.groupby(region).transform("median")
    out = (ratio / med.where(med > 0)).fillna(1.0).clip(0.25, 4.0)
    return out


@dataclass(frozen=True)
class RepSplit:
    """How each cell-month is split over reps.

    Attributes:
        reps: the rep list with ``rep_id`` and ``region`` as strings.
        capacity: rep x plan month rows with positive effective capacity: ``rep_id, region,
            month, active_share, ramp, capacity, productivity, eff_capacity``.
        rows: one row per cell, plan month and rep of the cell's region: ``cell`` (index into
            the cells), ``m`` (plan month index), ``region``, ``month``, ``rep_id``,
            ``eff_capacity`` and ``share`` (of the cell-month; the shares of a cell-month sum
            to 1), sorted by ``m, cell, rep_id``.
        notes: regions with months without an active rep.
    """

    reps: pd.DataFrame
    capacity: pd.DataFrame
    rows: pd.DataFrame
    notes: tuple[str, ...] = ()


def split_to_reps(
    regions: np.ndarray, reps: pd.DataFrame, hist: pd.DataFrame, win: PlanWindows, plan: Plan
) -> RepSplit:
    """Split each cell-month over its region's reps by effective capacity.

    Args:
        regions: the region of each cell (cell order).
        reps: the rep list (``rep_id, region, hire_date, end_date, fte``).
        hist: the cube to the cutoff (for the productivity index).
    """
    months, nm, n = win.months, win.n_months, len(regions)
    reps_n = reps.assign(rep_id=reps["rep_id"].astype(str), region=reps["region"].astype(str))
    cap = rep_capacity(reps_n, months, plan)
    prod = productivity(hist, reps_n, plan)
    pw = plan.reps.productivity_weight
    cap["productivity"] = cap["rep_id"].map(prod).fillna(1.0)
    cap["eff_capacity"] = cap["capacity"] * (1 - pw + pw * cap["productivity"])
    cap = cap[cap["eff_capacity"] > 0]
    cm = pd.DataFrame({"cell": np.repeat(np.arange(n), nm), "m": np.tile(np.arange(nm), n)})
    cm["region"] = regions[cm["cell"]]
    cm["month"] = [months[j] for j in cm["m"]]
    capm = cap[["rep_id", "region", "month", "eff_capacity"]]
    bottom = cm.merge(capm, on=["region", "month"], how="left")
    missing = bottom["rep_id"].isna()
    notes = []
    if missing.any():
        regs = sorted(bottom.loc[missing, "region"].unique())
        notes.append(
            f"no active rep in some months of: {', '.join(regs)}; those targets go to "
            f"'{UNASSIGNED}'"
        )
        bottom.loc[missing, "rep_id"] = UNASSIGNED
        bottom.loc[missing, "eff_capacity"] = 1.0
    bottom["rep_id"] = bottom["rep_id"].astype(str)
    tot_cap = bottom.groupby(["cell", "m"])["eff_capacity"].transform("sum")
    bottom["share"] = bottom["eff_capacity"] / tot_cap
    bottom = bottom.sort_values(["m", "cell", "rep_id"], kind="stable").reset_index(drop=True)
    return RepSplit(reps_n, cap, bottom, tuple(notes))


def unassigned_check(targets: pd.DataFrame) -> list[CheckRow]:
    """A failed check when some targets went to :data:`UNASSIGNED` (none otherwise)."""
    if not (targets["rep_id"] == UNASSIGNED).any():
        return []
    return [
        (
            "every target has a rep",
            False,
            float(targets.loc[targets["rep_id"] == UNASSIGNED, "target_revenue"].sum()),
            f"targets assigned to '{UNASSIGNED}': add reps or pin the region",
        )
    ]


def rep_load(targets: pd.DataFrame, split: RepSplit, plan: Plan) -> pd.DataFrame:
    """Per rep: ``rep_id, name, hire_date, end_date, fte, region, capacity, eff_capacity,
    months_active, productivity, target_revenue`` (with cushion), ``load`` (target per unit of
    capacity), ``load_vs_median`` and ``flag`` (``above``/``below`` when the load is more than
    ``reps.load_flag_pct`` off the median, else '')."""
    rep_tot = targets.groupby("rep_id")["target_revenue"].sum()
    capsum = split.capacity.groupby("rep_id").agg(
        region=("region", "first"),
        capacity=("capacity", "sum"),
        eff_capacity=("eff_capacity", "sum"),
        months_active=("active_share", "sum"),
        productivity=("productivity", "first"),
    )
    rl = split.reps.set_index("rep_id")[["name", "hire_date", "end_date", "fte"]].join(
        capsum, how="inner"
    )
    rl["target_revenue"] = rep_tot.reindex(rl.index).fillna(0.0)
    rl["load"] = rl["target_revenue"] / rl["capacity"]
    med = float(rl["load"].median()) if len(rl) else np.nan
    rl["load_vs_median"] = rl["load"] / med - 1 if med and np.isfinite(med) else np.nan
    lim = plan.reps.load_flag_pct
    rl["flag"] = np.where(
        rl["load_vs_median"] > lim, "above", np.where(rl["load_vs_median"] < -lim, "below", "")
    )
    return rl.reset_index().rename(columns={"index": "rep_id"})
