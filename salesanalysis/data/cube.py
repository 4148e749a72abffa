"""Validated transactions -> the monthly cube and the customer cube.

The cube's grain is ``month x region x product_line x customer_type x rep_id`` with revenue,
quantity, orders (distinct order ids) and customers (distinct customers active in the cell that
month). The customer cube keeps ``customer_id`` in the grain; it is the single source for
anything about customers (new, lost, concentration, counting targets).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from salesanalysis.i18n import N_

__all__ = [
    "DIMS",
    "KEYS",
    "PRODUCT_KEYS",
    "build_cube",
    "build_customer_cube",
    "build_order_counts",
    "build_product_cube",
    "MIX_COLUMNS",
    "UNSPECIFIED",
    "product_mix",
]

DIMS = ["region", "product_line", "customer_type", "rep_id"]
KEYS = ["month", *DIMS]
PRODUCT_KEYS = ["month", "product_line", "product"]
UNSPECIFIED = N_("(unspecified)")
"""The name (through ``tr``) of a product line's products the transactions leave blank."""
MIX_COLUMNS = ["product_line", "product", "share", "price", "revenue", "quantity"]


def build_customer_cube(transactions: pd.DataFrame) -> pd.DataFrame:
    """Aggregate order lines to ``month x customer_id x region x product_line x customer_type x
    rep_id``: revenue, quantity and orders (distinct order ids with that key)."""
    keys = ["month", "customer_id", "region", "product_line", "customer_type", "rep_id"]
    g = transactions.groupby(keys, sort=True, observed=True)
    out = g.agg(
        revenue=("revenue", "sum"), quantity=("quantity", "sum"), orders=("order_id", "nunique")
    ).reset_index()
    out["orders"] = out["orders"].astype("int64")
    return out


def build_cube(transactions: pd.DataFrame) -> pd.DataFrame:
    """The monthly cube from validated transactions.

    ``orders`` counts distinct order ids per cell (an order that spans product lines counts in
    each line's cell); ``customers`` counts distinct customers per cell, which does not add up
    across cells or months (see docs/ARCHITECTURE.md for the additive counting rule).
    """
    g = transactions.groupby(KEYS, sort=True, observed=True)
    out = g.agg(
        revenue=("revenue", "sum"),
        quantity=("quantity", "sum"),
        orders=("order_id", "nunique"),
        customers=("customer_id", "nunique"),
    ).reset_index()
    out["orders"] = out["orders"].astype("int64")
    out["customers"] = out["customers"].astype("int64")
    return out


def build_order_counts(transactions: pd.DataFrame) -> pd.DataFrame:
    """Distinct orders per ``month x region x customer_type x rep_id``.

    An order spans product lines, so the cube's ``orders`` (per product-line cell) count it once
    per line; this table counts whole orders (an order belongs to one customer, hence to one
    region, customer type and rep) and adds up to the company's order count.
    """
    keys = ["month", "region", "customer_type", "rep_id"]
    out = (
        transactions.groupby(keys, sort=True, observed=True)["order_id"]
        .nunique()
        .rename("orders")
        .reset_index()
    )
    out["orders"] = out["orders"].astype("int64")
    return out


def build_product_cube(transactions: pd.DataFrame) -> pd.DataFrame | None:
    """Revenue and quantity per ``month x product_line x product`` when the transactions name
    products (a blank product is ""), else None. It sits beside the cube, not in its grain: the
    demand plan splits a product line's target into products with it (``product_mix``)."""
    if "product" not in transactions.columns:
        return None
    g = transactions.groupby(PRODUCT_KEYS, sort=True, observed=True)
    return g.agg(revenue=("revenue", "sum"), quantity=("quantity", "sum")).reset_index()


def product_mix(
    products: pd.DataFrame, months: Sequence[pd.Timestamp], unspecified: str = ""
) -> pd.DataFrame:
    """:data:`MIX_COLUMNS`: each product's ``share`` of its product line's revenue over
    ``months`` (the plan's history window), its average net unit ``price`` (revenue / quantity;
    NaN without a positive quantity) and its revenue and quantity there.

    A product with no positive revenue in the window has no share (left out); the shares of a
    line add up to 1. A blank product is named ``unspecified`` (the line's other products).
    """
    win = products[products["month"].isin(pd.DatetimeIndex(months))]
    g = win.groupby(["product_line", "product"], as_index=False)[["revenue", "quantity"]].sum()
    g = g[g["revenue"] > 0].copy()
    g["product"] = g["product"].astype(str).replace("", unspecified)
    g["share"] = g["revenue"] / g.groupby("product_line")["revenue"].transform("sum")
    g["price"] = g["revenue"] / g["quantity"].where(g["quantity"] > 0)
    return g[MIX_COLUMNS].sort_values(["product_line", "product"]).reset_index(drop=True)
