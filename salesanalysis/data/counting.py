"""The additive customer-counting rule (docs/ARCHITECTURE.md, "Counting customers so that
targets add up"), implemented once for the target decomposition and the review.

- A customer is **active** in a window of months when they have at least one month in it with
  positive net revenue (all their cells together): :func:`active_customers`.
- A customer is **activated** in the first such month: :func:`activation_months`.
- A customer's **home cell** in the window is the ``(region, product_line, customer_type,
  rep_id)`` with the most revenue for that customer there (ties: the first in sorted key
  order): :func:`home_cells` (active customers only).
- "Customers" of a cell and month = active customers with that home cell activated in that
  month: :func:`activations`. Counts add up over cells and months; summed over the window they
  are the number of distinct active customers.

All functions take the customer cube (``month, customer_id, region, product_line,
customer_type, rep_id, revenue``) and the months of the window; rows outside it are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = ["HOME_KEYS", "active_customers", "activation_months", "home_cells", "activations"]

HOME_KEYS = ["region", "product_line", "customer_type", "rep_id"]


def _window(customers: pd.DataFrame, months: Iterable[pd.Timestamp]) -> pd.DataFrame:
    ms = pd.DatetimeIndex([pd.Timestamp(m) for m in months])
    if customers is None or len(customers) == 0 or len(ms) == 0:
        return pd.DataFrame(columns=["month", "customer_id", *HOME_KEYS, "revenue"])
    return customers[pd.to_datetime(customers["month"]).isin(ms)]


def activation_months(customers: pd.DataFrame, months: Iterable[pd.Timestamp]) -> pd.Series:
    """The month each active customer was activated: their first month in ``months`` with
    positive net revenue (all cells together). Index ``customer_id`` (sorted), values month
    starts; customers never positive in the window are absent."""
    w = _window(customers, months)
    if w.empty:
        return pd.Series(
            dtype="datetime64[ns]", name="month", index=pd.Index([], name="customer_id")
        )
    net = w.groupby(["customer_id", "month"], sort=True)["revenue"].sum()
    net = net[net > 0].reset_index()
    return net.groupby("customer_id", sort=True)["month"].min().rename("month")


def active_customers(customers: pd.DataFrame, months: Iterable[pd.Timestamp]) -> pd.Index:
    """Customers with at least one month of positive net revenue in ``months`` (sorted ids).

    A later return, even one larger than what was bought, does not undo an activation: a month
    once closed keeps its count, so monthly counts add up and do not change in hindsight.
    """
    return activation_months(customers, months).index


def home_cells(customers: pd.DataFrame, months: Iterable[pd.Timestamp]) -> pd.DataFrame:
    """Each active customer's home cell in ``months``: the ``region, product_line,
    customer_type, rep_id`` with the most revenue for that customer there (ties: the first in
    sorted key order).

    Returns ``customer_id, region, product_line, customer_type, rep_id, revenue`` (the home
    cell's revenue in the window), one row per active customer, sorted by ``customer_id``.
    """
    cols = ["customer_id", *HOME_KEYS, "revenue"]
    months = list(months)
    active = active_customers(customers, months)
    if len(active) == 0:
        return pd.DataFrame(columns=cols)
    w = _window(customers, months)
    w = w[w["customer_id"].isin(active)]
    g = w.groupby(["customer_id", *HOME_KEYS], as_index=False, sort=True)["revenue"].sum()
    # customer, revenue descending, then keys ascending -> the first row is the home cell
    g = g.sort_values(
        ["customer_id", "revenue", *HOME_KEYS],
        ascending=[True, False, True, True, True, True],
        kind="mergesort",
    )
    return g.drop_duplicates("customer_id", keep="first").reset_index(drop=True)[cols]


def activations(customers: pd.DataFrame, months: Iterable[pd.Timestamp]) -> pd.DataFrame:
    """Activations per home cell and month: ``month, region, product_line, customer_type,
    rep_id, customers`` (int64), only cell-months with at least one activation, sorted."""
    cols = ["month", *HOME_KEYS, "customers"]
    months = list(months)
    home = home_cells(customers, months)
    if home.empty:
        return pd.DataFrame(
            {
                k: pd.Series(
                    dtype="datetime64[ns]"
                    if k == "month"
                    else ("int64" if k == "customers" else "str")
                )
                for k in cols
            }
        )
    act = home.set_index("customer_id")[HOME_KEYS].join(
        activation_months(customers, months), how="inner"
    )
    out = act.groupby(["month", *HOME_KEYS], sort=True).size().rename("customers").reset_index()
    out["customers"] = out["customers"].astype("int64")
    return out[cols]
