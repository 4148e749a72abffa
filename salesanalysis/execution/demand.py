"""Demand plan: the quantities the revenue targets imply, for production and logistics.

Stages: each cell's **base price** (revenue / quantity over the 12 months up to the plan cutoff;
a cell without sales takes its product line's price, then the company's) -> the **planned
price** (x (1 + pct) of every price strategy naming the cell) -> **units** per cell and month
(target without cushion / planned price) -> per product line and month, units rounded to whole
units (the product line's year adds up exactly, largest remainder) and the **planned average
price** = revenue target / planned units, so units x price is the revenue target exactly.

**Per product**, when the transactions name products (``outputs/product_mix.parquet``, see
:func:`salesanalysis.data.product_mix`): each cell's monthly target is split into the products
of its line by their share of the line's revenue over the 12 months up to the cutoff, each
product strategy naming the cell raising its product's share ((share + pct) / (1 + pct), the
other products (share / (1 + pct)): the segment's extra revenue is the pushed product's); each
product's **planned price** is its average net unit price there x the cell's price strategies;
units = revenue / planned price, rounded per product over the year as above. Per product line
and month the products' revenue targets add up to the line's target, and units x planned
price = revenue target for every product and month with units. Without products the plan is
per product line (the sentence :data:`PRODUCT_NOTE` says so).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from salesanalysis.data.cube import UNSPECIFIED
from salesanalysis.execution.segments import DIMENSIONS, segment_rows
from salesanalysis.i18n import N_, tr
from salesanalysis.report.excel import write_excel
from salesanalysis.targets.kernels import largest_remainder
from salesanalysis.targets.periods import base_months
from salesanalysis.targets.plan import Plan

__all__ = [
    "DEMAND_COLUMNS",
    "PRODUCT_DEMAND_COLUMNS",
    "PRODUCT_NOTE",
    "cell_prices",
    "cell_product_shares",
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
PRODUCT_DEMAND_COLUMNS = ["product_line", "product", *DEMAND_COLUMNS[1:]]
PRODUCT_NOTE = N_(
    "Quantities are planned per product line: the transactions have no product column (map "
    "one in mapping.yaml to plan per product)."
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


def demand_plan(
    targets: pd.DataFrame, cube: pd.DataFrame, plan: Plan, mix: pd.DataFrame | None = None
) -> pd.DataFrame:
    """:data:`DEMAND_COLUMNS` per product line and month of the targets (``targets.parquet``),
    or :data:`PRODUCT_DEMAND_COLUMNS` per product when ``mix`` (``RunContext.product_mix``)
    is given.

    ``units`` are whole units adding up over the year to the line's (product's) rounded units;
    ``planned_price`` = ``revenue_target`` / ``units`` (the average over the line's cells, price
    strategies included), so units x planned price = the revenue target.
    """
    if mix is not None and len(mix):
        return _product_plan(targets, cube, plan, mix)
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


def _price_mult(frame: pd.DataFrame, plan: Plan) -> np.ndarray:
    """Per row (with the dimension columns): the product of (1 + pct) of its price strategies."""
    mult = np.ones(len(frame))
    for s in plan.strategies:
        if s.kind == "price":
            mult[segment_rows(frame, s.segment_dict)] *= 1 + s.pct
    return mult


def cell_product_shares(
    cells: pd.DataFrame, mix: pd.DataFrame, plan: Plan, line_price: pd.Series
) -> pd.DataFrame:
    """Per cell (the dimension columns of ``cells``) and product: ``share`` of the cell's target
    and ``base_price``, the product strategies applied in the plan's order.

    A product strategy naming the cell raises its product's share to (share + pct) / (1 + pct)
    and lowers the others' to share / (1 + pct) (a product the line has not sold gets
    pct / (1 + pct), at the line's average price). A line without products in ``mix`` is one
    unspecified product at ``line_price`` (product line -> price).
    """
    m = mix[["product_line", "product", "share", "price"]].rename(columns={"price": "base_price"})
    out = cells[list(DIMENSIONS)].drop_duplicates().merge(m, on="product_line", how="left")
    none = out["product"].isna()
    out.loc[none, "product"] = tr(UNSPECIFIED)
    out.loc[none, "share"] = 1.0
    out["base_price"] = out["base_price"].fillna(out["product_line"].map(line_price))
    for s in plan.strategies:
        if s.kind != "product":
            continue
        hit = segment_rows(out, s.segment_dict)
        seg_cells = out.loc[hit, list(DIMENSIONS)].drop_duplicates()
        known = set(
            map(tuple, out.loc[hit & (out["product"] == s.product), list(DIMENSIONS)].values)
        )
        new = seg_cells[[tuple(r) not in known for r in seg_cells.values]]
        if len(new):
            price = new["product_line"].map(line_price)
            added = new.assign(product=s.product, share=0.0, base_price=price.to_numpy())
            out = pd.concat([out, added], ignore_index=True)
            hit = segment_rows(out, s.segment_dict)
        pushed = hit & (out["product"] == s.product).to_numpy()
        out.loc[hit, "share"] = (out.loc[hit, "share"] + s.pct * pushed[hit]) / (1 + s.pct)
    return out.reset_index(drop=True)


def _product_plan(
    targets: pd.DataFrame, cube: pd.DataFrame, plan: Plan, mix: pd.DataFrame
) -> pd.DataFrame:
    """The demand plan per product (see the module's docstring)."""
    keys = ["month", *DIMENSIONS]
    cells = targets.groupby(keys, as_index=False)[_TARGET].sum()
    hist = cube[cube["month"].isin(base_months(plan))]
    line_price = hist.groupby("product_line")[["revenue", "quantity"]].sum()  # the line's price
    line_price = line_price["revenue"] / line_price["quantity"].where(line_price["quantity"] > 0)
    shares = cell_product_shares(cells, mix, plan, line_price)
    shares["planned_price"] = shares["base_price"] * _price_mult(shares, plan)
    rows = cells.merge(shares, on=list(DIMENSIONS), how="left")
    rows["revenue"] = rows[_TARGET] * rows["share"]
    rows["units"] = rows["revenue"] / rows["planned_price"]
    out = rows.groupby(["product_line", "product", "month"], as_index=False).agg(
        revenue_target=("revenue", "sum"),
        units=("units", "sum"),
        base_price=("base_price", "mean"),
    )
    parts = []
    for _, g in out.groupby(["product_line", "product"], sort=True):
        g = g.sort_values("month").copy()
        g["units"] = largest_remainder(g["units"].to_numpy(), 1.0)
        parts.append(g)
    out = pd.concat(parts, ignore_index=True)
    has = out["units"] > 0
    out["planned_price"] = np.where(has, out["revenue_target"] / out["units"].where(has), np.nan)
    return out[PRODUCT_DEMAND_COLUMNS].reset_index(drop=True)


def write_demand_plan(demand: pd.DataFrame, outputs: Path | str, currency: str) -> Path:
    """``outputs/demand_plan.xlsx`` for production and logistics: units per product line (and
    product, when the plan has them) and month (a sheet, wide), and the detail with prices (the
    project's safe Excel writer)."""
    index = [c for c in ("product_line", "product") if c in demand.columns]
    wide = demand.assign(month=demand["month"].dt.strftime("%Y-%m")).pivot_table(
        index=index, columns="month", values="units", aggfunc="sum", fill_value=0
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
