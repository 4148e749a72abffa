"""The targets frame and its roll-ups: one row per level (company, region, product line,
customer type, cell, rep) and key, with last year, the targets, growth, market and potential.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesanalysis.targets.cells import CELL, PlanCells
from salesanalysis.targets.customers import CustomerTargets
from salesanalysis.targets.periods import PlanWindows
from salesanalysis.targets.plan import Plan
from salesanalysis.targets.rounding import RoundedRevenue

__all__ = ["BOTTOM", "LEVELS", "SEGMENT_COLUMNS", "segment_table", "targets_frame"]

BOTTOM = ["month", *CELL, "rep_id"]
LEVELS = {
    "company": [],
    "region": ["region"],
    "product_line": ["product_line"],
    "customer_type": ["customer_type"],
    "cell": CELL,
    "rep": ["region", "rep_id"],
}
SEGMENT_COLUMNS = [
    "level",
    *CELL,
    "rep_id",
    "last_year",
    "target_revenue_no_cushion",
    "target_revenue",
    "target_customers",
    "growth_vs_last_year",
    "market_size",
    "potential",
    "target_market_share",
]


def targets_frame(
    cells: pd.DataFrame,
    bottom: pd.DataFrame,
    rounded: RoundedRevenue,
    customers: CustomerTargets,
    plan: Plan,
) -> pd.DataFrame:
    """The targets at the bottom grain, sorted by ``month, region, product_line,
    customer_type, rep_id``: ``target_revenue`` (with cushion), ``target_revenue_no_cushion``,
    ``target_customers`` (int64) and ``plan_name``.

    ``bottom`` is the rep split's rows, which the rounded rows follow."""
    targets = pd.DataFrame(
        {
            "month": bottom["month"].to_numpy(),
            "region": cells["region"].to_numpy()[bottom["cell"]],
            "product_line": cells["product_line"].to_numpy()[bottom["cell"]],
            "customer_type": cells["customer_type"].to_numpy()[bottom["cell"]],
            "rep_id": bottom["rep_id"].to_numpy(),
            "target_revenue": rounded.rows_c,
            "target_revenue_no_cushion": rounded.rows,
            "target_customers": np.round(customers.rows).astype("int64"),
        }
    )
    for c in [*CELL, "rep_id"]:
        targets[c] = targets[c].astype(str)
    targets["month"] = pd.to_datetime(targets["month"]).astype("datetime64[ns]")
    targets["plan_name"] = plan.name
    return targets.sort_values(BOTTOM, kind="stable").reset_index(drop=True)


def _level_rows(
    tb: pd.DataFrame, hist_ly: pd.DataFrame, mk_cells: pd.DataFrame, level: str, ks: list[str]
) -> pd.DataFrame:
    """One level's rows: the targets summed per key, last year and (not for reps) market."""
    agg = {
        "target_revenue_no_cushion": "sum",
        "target_revenue": "sum",
        "target_customers": "sum",
    }
    if ks:
        t = tb.groupby(ks, as_index=False).agg(agg)
        ly = hist_ly.groupby(ks)["revenue"].sum()
        t["last_year"] = (
            ly.reindex(pd.MultiIndex.from_frame(t[ks]) if len(ks) > 1 else t[ks[0]])
            .fillna(0.0)
            .to_numpy()
        )
    else:
        t = pd.DataFrame([tb[list(agg)].sum()])
        t["last_year"] = float(hist_ly["revenue"].sum())
    if level != "rep":
        mkk = (
            mk_cells.groupby(ks)[["market_size", "potential"]].sum()
            if ks
            else mk_cells[["market_size", "potential"]].sum().to_frame().T
        )
        if ks:
            idx = pd.MultiIndex.from_frame(t[ks]) if len(ks) > 1 else t[ks[0]]
            mkk = mkk.reindex(idx)
        t["market_size"] = mkk["market_size"].to_numpy()
        t["potential"] = mkk["potential"].to_numpy()
    t.insert(0, "level", level)
    return t


def segment_table(targets: pd.DataFrame, cells: PlanCells, win: PlanWindows) -> pd.DataFrame:
    """The roll-ups of ``targets``: :data:`SEGMENT_COLUMNS`, one row per level of
    :data:`LEVELS` and key (``*`` in the keys a level does not have); last year is revenue in
    last year's comparable months; growth and market share are NaN without a base."""
    hist = cells.hist
    tb = targets.assign(cell_i=cells.grid.get_indexer(pd.MultiIndex.from_frame(targets[CELL])))
    hist_ly = hist[hist["month"].isin(win.last_year)]
    hist_ly = hist_ly.assign(**{c: hist_ly[c].astype(str) for c in [*CELL, "rep_id"]})
    mk_cells = cells.cells.assign(
        market_size=cells.market, potential=cells.potential, last_year=cells.last_year
    )
    seg_rows = [_level_rows(tb, hist_ly, mk_cells, level, ks) for level, ks in LEVELS.items()]
    segments = pd.concat(seg_rows, ignore_index=True)
    for c in [*CELL, "rep_id"]:
        segments[c] = segments[c].fillna("*").astype(str) if c in segments else "*"
    segments["growth_vs_last_year"] = np.where(
        segments["last_year"] > 0,
        segments["target_revenue_no_cushion"]
        / segments["last_year"].where(segments["last_year"] > 0)
        - 1,
        np.nan,
    )
    segments["target_market_share"] = np.where(
        segments["market_size"] > 0,
        segments["target_revenue_no_cushion"]
        / segments["market_size"].where(segments["market_size"] > 0),
        np.nan,
    )
    return segments[SEGMENT_COLUMNS]
