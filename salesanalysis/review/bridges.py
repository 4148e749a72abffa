"""Variance bridges (target -> actual, last year -> this year) that add up to the total.

Private module; the public API is :mod:`salesanalysis.review`.

The price / volume / mix part is a *sequential (chain) decomposition* over segments
``s = (region, product_line, customer_type)``, each with revenue ``R_s`` and quantity ``Q_s``;
unit price ``P_s = R_s / Q_s``; ``0`` = base (target or last year), ``1`` = current (actual or
this year); ``w`` = quantity shares. The chain moves from the base revenue to the current one
through these states, so the steps telescope and their sum is exactly ``R1 - R0`` (to
floating-point precision)::

    S0 = R0                                   = Q0 * Pbar0
    S1 = Q1 * Pbar0                           volume          = S1 - S0
    S2 = Q1 * sum_r  w1_r  * Pbar0_r          mix: region     = S2 - S1
    S3 = Q1 * sum_rp w1_rp * Pbar0_rp         mix: product    = S3 - S2  (within region)
    S4 = Q1 * sum_s  w1_s  * P0_s             mix: cust. type = S4 - S3  (within region x line)
       = sum_s Q1_s * P0_s
    S5 = R1 = sum_s Q1_s * P1_s               price           = S5 - S4

``Pbar0_g`` is the base average unit price of a group ``g`` at its base composition
(``R0_g / Q0_g``). The price effect is therefore the change in the average unit price of each
product line, measured like for like within each region and customer type and weighted by the
current quantities: ``sum_s (P1_s - P0_s) * Q1_s``; shifts between regions or customer types
with different prices are mix, not price. The order (volume, region, product line, customer
type, price) is fixed and stated in the report. A segment or group with no base quantity takes
its parent's base price (so a new segment adds volume and mix, not price). Revenue without a
positive quantity on a side where it has revenue (net returns, fees) cannot be priced: that
segment's whole change is counted as volume.

Quantities are added across product lines for the volume and product-line mix steps; that reads
well when the units are comparable (pieces). When they are not, read *volume + product-line mix*
together as the change of quantities valued at base prices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.i18n import N_, tr
from salesanalysis.review.attainment import NO_CUSHION, customer_activations, monthly_targets
from salesanalysis.review.common import (
    CELL,
    DIMS,
    check_period,
    keys_as_str,
    plan_get,
    require_columns,
    review_start,
    with_month,
)

PVM_STEPS = ["volume", "mix_region", "mix_product_line", "mix_customer_type", "price"]
LABELS = {
    "target": N_("Target"),
    "actual": N_("Actual"),
    "last_year": N_("Last year, same months"),
    "this_year": N_("This year"),
    "customers": N_("Customers (vs target)"),
    "new_customers": N_("New customers"),
    "lost_customers": N_("Lost customers"),
    "volume": N_("Volume"),
    "mix_region": N_("Mix: region"),
    "mix_product_line": N_("Mix: product line"),
    "mix_customer_type": N_("Mix: customer type"),
    "price": N_("Price"),
}
"""What each step of a bridge reads as (``label``, in the report's language)."""


def _filter(df: pd.DataFrame, where: Mapping[str, str] | None) -> pd.DataFrame:
    if not where:
        return df
    mask = np.ones(len(df), dtype=bool)
    for k, v in where.items():
        if k not in DIMS:
            raise ValueError(f"bridge filter key must be one of {DIMS}, not {k!r}")
        mask &= (df[k].astype(str) == str(v)).to_numpy()
    return df[mask]


def pvm_chain(base: pd.DataFrame, current: pd.DataFrame) -> dict[str, float]:
    """Price / volume / mix chain between two segment frames (see the module docstring).

    Args:
        base, current: ``region, product_line, customer_type, revenue, quantity`` (rows of the
            same segment are summed; a segment may be missing on either side).

    Returns:
        ``{"volume", "mix_region", "mix_product_line", "mix_customer_type", "price"}``; the sum
        equals ``current.revenue.sum() - base.revenue.sum()``.
    """
    b = base.groupby(CELL, sort=True)[["revenue", "quantity"]].sum()
    c = current.groupby(CELL, sort=True)[["revenue", "quantity"]].sum()
    idx = b.index.union(c.index)
    b = b.reindex(idx, fill_value=0.0)
    c = c.reindex(idx, fill_value=0.0)
    r0, q0 = b["revenue"].to_numpy(float), b["quantity"].to_numpy(float)
    r1, q1 = c["revenue"].to_numpy(float), c["quantity"].to_numpy(float)
    priced = ((q0 > 0) | ((q0 == 0) & (r0 == 0))) & ((q1 > 0) | ((q1 == 0) & (r1 == 0)))
    out = dict.fromkeys(PVM_STEPS, 0.0)
    out["volume"] = float(np.sum(r1[~priced]) - np.sum(r0[~priced]))
    if not priced.any():
        return out
    seg = idx.to_frame(index=False)[priced].reset_index(drop=True)
    r0, q0, r1, q1 = r0[priced], q0[priced], r1[priced], q1[priced]
    R0, Q0, R1, Q1 = r0.sum(), q0.sum(), r1.sum(), q1.sum()
    if Q1 == 0:  # nothing sold now: the whole change is volume
        out["volume"] += float(R1 - R0)
        return out
    # base price of the total; without base quantity, the current one (no price effect)
    p_tot = R0 / Q0 if Q0 > 0 else R1 / Q1

    def group_price(keys: Sequence[str], parent: np.ndarray) -> np.ndarray:
        g = pd.DataFrame({**{k: seg[k] for k in keys}, "r0": r0, "q0": q0})
        s = g.groupby(list(keys), sort=False)[["r0", "q0"]].transform("sum")
        qg, rg = s["q0"].to_numpy(), s["r0"].to_numpy()
        return np.where(qg > 0, rg / np.where(qg > 0, qg, 1.0), parent)

    p_r = group_price(["region"], np.full(len(seg), p_tot))
    p_rp = group_price(["region", "product_line"], p_r)
    p_s = np.where(q0 > 0, r0 / np.where(q0 > 0, q0, 1.0), p_rp)
    s0 = R0
    s1 = Q1 * p_tot
    s2 = float(np.sum(q1 * p_r))
    s3 = float(np.sum(q1 * p_rp))
    s4 = float(np.sum(q1 * p_s))
    s5 = R1
    out["volume"] += s1 - s0
    out["mix_region"] = s2 - s1
    out["mix_product_line"] = s3 - s2
    out["mix_customer_type"] = s4 - s3
    out["price"] = s5 - s4
    return out


def _bridge_frame(
    start_name: str, start: float, steps: Mapping[str, float], end_name: str, end: float
) -> pd.DataFrame:
    rows = [
        {"step": start_name, "label": tr(LABELS[start_name]), "kind": "total", "amount": start}
    ]
    rows += [
        {"step": k, "label": tr(LABELS[k]), "kind": "delta", "amount": float(v)}
        for k, v in steps.items()
    ]
    rows.append({"step": end_name, "label": tr(LABELS[end_name]), "kind": "total", "amount": end})
    df = pd.DataFrame(rows)
    df["cumulative"] = start + df["amount"].where(df["kind"] == "delta", 0.0).cumsum()
    df.loc[df.index[-1], "cumulative"] = end
    df["share_of_variance"] = np.where(
        df["kind"] == "delta", df["amount"] / (end - start) if end != start else np.nan, np.nan
    )
    return df


def _window(df: pd.DataFrame, first: pd.Timestamp, last: pd.Timestamp) -> pd.DataFrame:
    return df[(df["month"] >= first) & (df["month"] <= last)]


def bridge_last_year(
    customers: pd.DataFrame,
    period: Any,
    fiscal_year: int,
    *,
    where: Mapping[str, str] | None = None,
    first_month: Any = None,
) -> pd.DataFrame:
    """Bridge from last year to this year over the same months (January to the report period;
    for a mid-year plan, ``first_month``, the plan's first month, to the report period).

    Customers are split by their net revenue in each window (active = positive):

    * ``new_customers`` = change of revenue of customers active this year but not last year
      (their this-year revenue, less any last-year net revenue such as returns);
    * ``lost_customers`` = change of revenue of customers active last year but not this year
      (minus their last-year revenue, plus any this-year lines);
    * the remaining (retained) customers' change is split into volume, mix (region, product
      line, customer type) and price by :func:`pvm_chain`.

    Args:
        customers: the customer cube (quantity is needed for price and volume).
        where: optional filter, e.g. ``{"region": "华东"}`` or ``{"rep_id": "R007"}``.

    Returns:
        ``step, label, kind, amount, cumulative, share_of_variance``: first row ``last_year``
        (total), then the steps (``delta``), last row ``this_year`` (total); the deltas add up
        to ``this_year - last_year``.
    """
    require_columns(
        customers,
        ["month", "customer_id", *DIMS, "revenue", "quantity"],
        "customer cube",
        tr("Build it with salesanalysis.data.cube.build_customer_cube."),
    )
    p = check_period(period, fiscal_year)
    c = _filter(keys_as_str(with_month(customers), [*DIMS, "customer_id"]), where)
    start = review_start(fiscal_year, first_month)
    ty = _window(c, start, p.to_timestamp())
    ly = _window(c, start - pd.DateOffset(years=1), p.to_timestamp() - pd.DateOffset(years=1))
    r_ty = ty.groupby("customer_id")["revenue"].sum()
    r_ly = ly.groupby("customer_id")["revenue"].sum()
    ids = r_ty.index.union(r_ly.index)
    r_ty, r_ly = r_ty.reindex(ids, fill_value=0.0), r_ly.reindex(ids, fill_value=0.0)
    new = set(ids[(r_ty > 0) & ~(r_ly > 0)])
    lost = set(ids[(r_ly > 0) & ~(r_ty > 0)])
    steps: dict[str, float] = {}
    steps["new_customers"] = float(r_ty[list(new)].sum() - r_ly[list(new)].sum())
    steps["lost_customers"] = float(r_ty[list(lost)].sum() - r_ly[list(lost)].sum())
    keep_ty = ty[~ty["customer_id"].isin(new | lost)]
    keep_ly = ly[~ly["customer_id"].isin(new | lost)]
    steps.update(pvm_chain(keep_ly, keep_ty))
    return _bridge_frame(
        "last_year", float(ly["revenue"].sum()), steps, "this_year", float(ty["revenue"].sum())
    )


def price_factors(segments: pd.DataFrame, plan: Any = None) -> pd.Series:
    """Planned price factor per segment from the plan's ``strategies`` of kind ``price``.

    A strategy applies to a segment when every key of its ``segment`` mapping matches; factors
    of several strategies multiply (``1 + pct`` each). Returns a Series aligned with
    ``segments`` (1.0 where no strategy applies).
    """
    f = np.ones(len(segments))
    for s in plan_get(plan, "strategies", []) or []:
        kind = s.get("kind") if isinstance(s, Mapping) else getattr(s, "kind", None)
        if kind != "price":
            continue
        seg = (s.get("segment") if isinstance(s, Mapping) else getattr(s, "segment", None)) or {}
        pct = float(s.get("pct") if isinstance(s, Mapping) else getattr(s, "pct", 0.0))
        mask = np.ones(len(segments), dtype=bool)
        for k, v in seg.items():
            if k in segments.columns:
                mask &= (segments[k].astype(str) == str(v)).to_numpy()
            else:
                mask &= False
        f = np.where(mask, f * (1.0 + pct), f)
    return pd.Series(f, index=segments.index)


def target_unit_prices(
    customers: pd.DataFrame,
    period: Any,
    fiscal_year: int,
    *,
    plan: Any = None,
    first_month: Any = None,
) -> pd.DataFrame:
    """Unit prices the target is read at, per segment ``(region, product_line, customer_type)``.

    Rule: last year's average unit price of the segment over the same months (January, or a
    mid-year plan's ``first_month``, to the report period, a year earlier); where the segment had no quantity, its product line's
    price; where the product line had none either, this year's price of the segment (no price
    effect). Multiplied by the plan's price strategies (:func:`price_factors`).

    Returns ``region, product_line, customer_type, target_price``.
    """
    p = check_period(period, fiscal_year)
    c = keys_as_str(with_month(customers), DIMS)
    start = review_start(fiscal_year, first_month)
    ly = _window(c, start - pd.DateOffset(years=1), p.to_timestamp() - pd.DateOffset(years=1))
    ty = _window(c, start, p.to_timestamp())
    seg = pd.concat([ly[CELL], ty[CELL]]).drop_duplicates().reset_index(drop=True)

    def price(df: pd.DataFrame, keys: list[str]) -> pd.Series:
        g = df.groupby(keys, sort=True)[["revenue", "quantity"]].sum()
        g = g[g["quantity"] > 0]
        return g["revenue"] / g["quantity"]

    p_seg = price(ly, CELL)
    p_line = price(ly, ["product_line"])
    p_now = price(ty, CELL)
    idx = pd.MultiIndex.from_frame(seg[CELL])
    tp = p_seg.reindex(idx).to_numpy()
    tp = np.where(np.isnan(tp), p_line.reindex(seg["product_line"]).to_numpy(), tp)
    tp = np.where(np.isnan(tp), p_now.reindex(idx).to_numpy(), tp)
    seg["target_price"] = tp * price_factors(seg, plan).to_numpy()
    return seg


def bridge_target(
    customers: pd.DataFrame,
    targets: pd.DataFrame,
    period: Any,
    fiscal_year: int,
    *,
    where: Mapping[str, str] | None = None,
    prices: pd.DataFrame | None = None,
    plan: Any = None,
    window: str = "ytd",
    first_month: Any = None,
) -> pd.DataFrame:
    """Bridge from the target to the actual revenue of the year to date (or ``window="month"``).

    For a mid-year plan (``first_month``, its first month) the year to date is the plan's first
    month to the report period: the months before the plan are in neither side.

    Targets carry revenue and customer counts but no quantities, so the target is read at a
    stated unit price per segment (``prices``, default :func:`target_unit_prices`: last year's
    price x the plan's price strategies): target quantity ``QT_s = T_s / PT_s``. Steps:

    * ``customers`` = (actual - target active customers) x target revenue per customer
      ``T / NT`` (customers counted by the additive activation rule; 0 when no customer
      target);
    * ``volume`` = ``(Q1 - QT) * PbarT - customers``, i.e. the change of quantity per customer
      ``PbarT * N1 * (q1 - qT)``;
    * ``mix_region``, ``mix_product_line``, ``mix_customer_type``, ``price`` as in
      :func:`pvm_chain` with the target as the base.

    Segments with a target but no usable price (no quantity anywhere) are counted as volume.
    The target is the company target without the over-assignment cushion
    (``target_revenue_no_cushion`` when present) unless ``where`` names a rep.

    Returns the same layout as :func:`bridge_last_year`, from ``target`` to ``actual``.
    """
    require_columns(
        customers,
        ["month", "customer_id", *DIMS, "revenue", "quantity"],
        "customer cube",
        tr("Build it with salesanalysis.data.cube.build_customer_cube."),
    )
    if window not in ("ytd", "month"):
        raise ValueError("window must be 'ytd' or 'month'")
    p = check_period(period, fiscal_year)
    start = review_start(fiscal_year, first_month)
    first = max(p.to_timestamp(), start) if window == "month" else start
    last = p.to_timestamp()
    c = keys_as_str(with_month(customers), [*DIMS, "customer_id"])
    act = _filter(_window(c, first, last), where)
    tg = _filter(_window(monthly_targets(targets, fiscal_year), first, last), where)
    if NO_CUSHION in tg.columns and not (where and "rep_id" in where):
        tg = tg.assign(target_revenue=tg[NO_CUSHION])  # company view: no cushion
    if prices is None:
        prices = target_unit_prices(customers, p, fiscal_year, plan=plan, first_month=first_month)
    cur = act.groupby(CELL, sort=True)[["revenue", "quantity"]].sum().reset_index()
    base = tg.groupby(CELL, sort=True)["target_revenue"].sum().rename("revenue").reset_index()
    base = base.merge(keys_as_str(prices, CELL)[[*CELL, "target_price"]], on=CELL, how="left")
    tp = base["target_price"].to_numpy(float)
    ok = np.isfinite(tp) & (tp > 0)
    base["quantity"] = np.where(ok, base["revenue"].to_numpy(float) / np.where(ok, tp, 1.0), 0.0)
    # no usable price: leave the quantity at 0 -> counted as volume by pvm_chain
    steps: dict[str, float] = {"customers": 0.0}
    steps.update(pvm_chain(base[[*CELL, "revenue", "quantity"]], cur))
    n1 = float(
        _filter(customer_activations(customers, p, fiscal_year, first_month=first_month), where)
        .pipe(_window, first, last)["customers"]
        .sum()
    )
    nt = float(tg["target_customers"].sum())
    t_total = float(tg["target_revenue"].sum())
    if nt > 0:
        steps["customers"] = (n1 - nt) * t_total / nt
        steps["volume"] -= steps["customers"]
    return _bridge_frame("target", t_total, steps, "actual", float(act["revenue"].sum()))


__all__ = [
    "PVM_STEPS",
    "bridge_last_year",
    "bridge_target",
    "price_factors",
    "pvm_chain",
    "target_unit_prices",
]
