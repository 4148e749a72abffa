"""Demand plan: the quantities the revenue targets imply, for production and logistics.

Stages: each cell's **base price** (revenue / quantity over the 12 months up to the plan cutoff;
a cell without sales takes its product line's price, then the company's) -> the **planned
price** (x (1 + pct) of every price strategy naming the cell) -> **units** per cell and month
(target without cushion / planned price) -> per product line and month, units rounded to whole
units (the product line's year adds up exactly, largest remainder) and the **planned average
price** = revenue target / planned units, so units x price is the revenue target exactly.

The cube carries product lines, not products: a data set with a ``product`` column is planned
per product line (the sentence :data:`PRODUCT_NOTE` says so).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from salesanalysis.execution.segments import DIMENSIONS, segment_rows
from salesanalysis.i18n import N_
from salesanalysis.report.excel import write_excel
from salesanalysis.targets.kernels import largest_remainder
from salesanalysis.targets.periods import base_months
from salesanalysis.targets.plan import Plan

__all__ = [
    "DEMAND_COLUMNS",
    "PRODUCT_NOTE",
    "cell_prices",
    "demand_plan",
    "write_demand_plan",
]

DEMAND_COLUMNS = [
    "product_line",
    "month",
    "revenue_target",
    "units",
    "planned_price",
    "base_price",
]
PRODUCT_NOTE = N_(
    "Quantities are planned per product line: the monthly cube holds product lines, not products."
)
_TARGET = "target_revenue_no_cushion"


def cell_prices(cube: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """Per cell (region x product line x customer type): ``base_price`` over the 12 months up to
    the plan cutoff and ``planned_price`` = base price x the cell's price strategies."""
    months = base_months(plan)
    hist = cube[cube["month"].isin(months)]
    cells = hist.groupby(list(DIMENSIONS), as_index=False)[["revenue", "quantity"]].sum()
    line = hist.groupby("product_line")[["revenue", "quantity"]].sum()
    line_price = (line["revenue"] / line["quantity"].where(line["quantity"] > 0)).dropna()
    tot_q = float(hist["quantity"].sum())
    company = float(hist["revenue"].sum()) / tot_q if tot_q > 0 else np.nan
    price = cells["revenue"] / cells["quantity"].where(cells["quantity"] > 0)
    price = price.where(price > 0)
    price = price.fillna(cells["product_line"].map(line_price)).fillna(company)
    out = cells[list(DIMENSIONS)].assign(base_price=price.to_numpy())
    mult = np.ones(len(out))
    for s in plan.strategies:
        if s.kind == "price":
            mult[segment_rows(out, s.segment_dict)] *= 1 + s.pct
    out["planned_price"] = out["base_price"] * mult
    return out


def demand_plan(targets: pd.DataFrame, cube: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """:data:`DEMAND_COLUMNS` per product line and month of the targets (``targets.parquet``).

    ``units`` are whole units adding up over the year to the product line's rounded units;
    ``planned_price`` = ``revenue_target`` / ``units`` (the average over the line's cells, price
    strategies included), so units x planned price = the revenue target.
    """
    keys = ["month", *DIMENSIONS]
    cells = targets.groupby(keys, as_index=False)[_TARGET].sum()
    prices = cell_prices(cube, plan)
    cells = cells.merge(prices, on=list(DIMENSIONS), how="left")
    fallback = float(prices["planned_price"].mean()) if len(prices) else np.nan
    cells["planned_price"] = cells["planned_price"].fillna(fallback)
    cells["base_price"] = cells["base_price"].fillna(fallback)
    cells["units"] = cells[_TARGET] / cells["planned_price"]
    cells["base_value"] = cells["units"] * cells["base_price"]
    line = cells.groupby(["product_line", "month"], as_index=False)[
        [_TARGET, "units", "base_value"]
    ].sum()
    parts = []
    for _, g in line.groupby("product_line", sort=True):
        g = g.sort_values("month").copy()
        g["units"] = largest_remainder(g["units"].to_numpy(), 1.0)
        parts.append(g)
    out = pd.concat(parts, ignore_index=True) if parts else line
    out = out.rename(columns={_TARGET: "revenue_target"})
    has = out["units"] > 0
    out["planned_price"] = np.where(has, out["revenue_target"] / out["units"].where(has), np.nan)
    exact = (
        cells.groupby(["product_line", "month"])["units"]
        .sum()
        .reindex(pd.MultiIndex.from_frame(out[["product_line", "month"]]))
    )
    out["base_price"] = (out["base_value"] / exact.to_numpy()).where(exact.to_numpy() > 0)
    return out[DEMAND_COLUMNS].reset_index(drop=True)


def write_demand_plan(demand: pd.DataFrame, outputs: Path | str, currency: str) -> Path:
    """``outputs/demand_plan.xlsx`` for production and logistics: units per product line and
    month (a sheet, wide), and the detail with prices (the project's safe Excel writer)."""
    wide = demand.assign(month=demand["month"].dt.strftime("%Y-%m")).pivot_table(
        index="product_line", columns="month", values="units", aggfunc="sum", fill_value=0
    )
    wide["total_units"] = wide.sum(axis=1)
    wide.columns.name = None
    detail = demand.assign(month=demand["month"].dt.strftime("%Y-%m")).rename(
        columns={"revenue_target": "target_revenue", "base_price": "last_year_price"}
    )  # headers in both languages with units (report.excel.HEADERS)
    return write_excel(
        {"units": wide.reset_index(), "detail": detail},
        Path(outputs) / "demand_plan.xlsx",
        pct_columns=set(),
        currency=currency,
        totals=True,
    )
