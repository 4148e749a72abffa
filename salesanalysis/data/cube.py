"""Validated transactions -> the monthly cube and the customer cube.

The cube's grain is ``month x region x product_line x customer_type x rep_id`` with revenue,
quantity, orders (distinct order ids) and customers (distinct customers active in the cell that
month). The customer cube keeps ``customer_id`` in the grain; it is the single source for
anything about customers (new, lost, concentration, counting targets).
"""

from __future__ import annotations

import pandas as pd

__all__ = ["DIMS", "KEYS", "build_cube", "build_customer_cube", "build_order_counts"]

DIMS = ["region", "product_line", "customer_type", "rep_id"]
KEYS = ["month", *DIMS]


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
