"""Customer targets (activations), by the counting rule of docs/ARCHITECTURE.md.

A customer is active when a month has positive net revenue; activations are counted per home
cell (incl. rep) and month (:mod:`salesanalysis.data.counting`, the review's rule too). The base
count (what ``targets.customers.growth`` applies to) and, in a mid-year plan, the customers
already active are counted that way. Each region's customer target starts from its own
active customers in the base window x (1 + growth) (and the strategies naming the region:
promotion x (1 + pct), channel shifts move their share), scaled to the company target; a
check flags a region more than ``allocation.customer_tolerance`` off base x (1 + growth)
without a strategy naming it. Within a region a cell's customer target grows with its revenue
target at its base-window revenue per customer (customer pins held); months follow the company's historical activation pattern; reps get the cell's customers
in proportion to their revenue target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesanalysis.data import counting
from salesanalysis.data.counting import home_cells
from salesanalysis.errors import ConstraintConflict, PlanError
from salesanalysis.i18n import N_, tr
from salesanalysis.targets.cells import CELL, PlanCells, segment_mask
from salesanalysis.targets.kernels import (
    Group,
    find_conflict,
    fit_constraints,
    largest_remainder,
)
from salesanalysis.targets.periods import PlanWindows
from salesanalysis.targets.plan import Plan
from salesanalysis.targets.rounding import round_chain, round_unit

__all__ = [
    "CustomerTargets",
    "activation_profile",
    "cell_customers",
    "customer_targets",
    "region_customer_base",
]


def activation_profile(customers: pd.DataFrame, plan: Plan) -> pd.Series:
    """Share of a year's activations by calendar month (1-12), last three full years
    (activation: :func:`salesanalysis.data.counting.activation_months`, each year on its own).
    A full year is one the customer history covers from January; without one, equal shares."""
    cut = plan.cutoff_period
    years = [y for y in range(cut.year - 3, cut.year + 1) if pd.Period(f"{y}-12", "M") <= cut]
    if customers is not None and len(customers):
        first = pd.Timestamp(pd.to_datetime(customers["month"]).min())
        years = [y for y in years if pd.Timestamp(f"{y}-01-01") >= first]
    years = years[-3:]
    counts = pd.Series(0.0, index=range(1, 13))
    if customers is not None and len(customers) and years:
        for y in years:
            first = counting.activation_months(
                customers, pd.date_range(f"{y}-01-01", periods=12, freq="MS")
            )
            counts += first.dt.month.value_counts().reindex(range(1, 13), fill_value=0)
    if counts.sum() <= 0:
        counts[:] = 1.0
    return counts / counts.sum()


@dataclass(frozen=True)
class CustomerTargets:
    """Customer targets.

    Attributes:
        rows: per rep split row (cell x month x rep, the rep split's order), whole numbers.
        total: the company's customer target of the plan months (0 without a target).
        full_year: the fiscal year's target (None when the plan has no customer target).
        base_count: customers active in the 12 months before the cutoff.
        active_ytd: customers active in the fiscal year to the cutoff.
        notes: compromises the rounding had to make.
    """

    rows: np.ndarray
    total: float
    full_year: float | None
    base_count: int
    active_ytd: int
    notes: tuple[str, ...] = ()
    checks: tuple[tuple, ...] = ()


def cell_customers(
    hc: pd.DataFrame, x3: np.ndarray, cells: PlanCells, total: float, plan: Plan
) -> tuple[np.ndarray, list[Group]]:
    """Customer targets per cell, unrounded: revenue target / base revenue per customer
    (the company's for cells without customers), scaled to ``total``, customer pins held.

    Args:
        hc: home cells of the base window's active customers (``region, product_line,
            customer_type, rep_id, revenue``, one row per customer).
        x3: the cells' revenue targets.

    Returns ``(cell targets, customer pins as groups)``.
    """
    n, cu = cells.n, plan.rounding_customers
    hcc = hc.assign(n=1.0) if len(hc) else pd.DataFrame(columns=[*CELL, "n", "revenue"])
    bc = cells.vector(hcc, "n") if len(hc) else np.zeros(n)
    brev = cells.vector(hcc, "revenue") if len(hc) else np.zeros(n)
    rpc_all = brev.sum() / bc.sum() if bc.sum() > 0 else 1.0
    rpc = np.where((bc > 0) & (brev > 0), brev / np.where(bc > 0, bc, 1), rpc_all)
    cw = x3 / rpc
    cust_c = cw * total / cw.sum() if cw.sum() > 0 else np.full(n, total / n)
    cpins = []
    for i, p in enumerate(plan.pins):
        if p.customers is not None:
            idx = np.flatnonzero(segment_mask(cells.cells, p.segment_dict))
            cpins.append(
                Group(
                    tr("pins[{i}] ({pin}) customers = {n}").format(
                        i=i, pin=p.label, n=f"{p.customers:,.0f}"
                    ),
                    idx,
                    round_unit(p.customers, cu),
                )
            )
    company = tr("company customer target {total}").format(total=f"{total:,.0f}")
    cgroups = [Group(company, np.arange(n), total), *cpins]
    if cpins:
        conf = find_conflict(n, cgroups, None, None)
        if conf:
            raise ConstraintConflict(
                tr("these customer pins cannot all hold at once: {conflict}").format(
                    conflict="; ".join(conf)
                ),
                fix=tr("change one of the named customer pins"),
            )
        cust_c, _, _ = fit_constraints(cust_c, cgroups)
    return cust_c, cpins


def customer_targets(
    customers: pd.DataFrame | None,
    cells: PlanCells,
    x3: np.ndarray,
    x_cm: np.ndarray,
    bottom: pd.DataFrame,
    win: PlanWindows,
    plan: Plan,
) -> CustomerTargets:
    """Customer targets per rep split row from the plan's ``targets.customers``.

    Args:
        customers: the customer cube.
        x3, x_cm: the revenue targets per cell and per cell x month (unrounded).
        bottom: the rep split's rows (:class:`salesanalysis.targets.reps.RepSplit`).

    Raises:
        PlanError: a customer target by forecast percentile (the forecast is of revenue).
        ConstraintConflict: customer pins that cannot hold together or be rounded.
    """
    c_spec = plan.targets.customers
    hc = home_cells(customers, win.base) if customers is not None else pd.DataFrame()
    base_cust = len(hc)
    act_ytd = 0
    if customers is not None and win.ytd:  # the review's count of the same months
        act_ytd = len(counting.active_customers(customers, win.ytd))
    if c_spec is None:
        return CustomerTargets(np.zeros(len(bottom)), 0.0, None, base_cust, act_ytd)
    if c_spec.kind == "forecast_percentile":
        raise PlanError(
            tr(
                "targets.customers cannot use forecast_percentile: the forecast is of revenue only"
            ),
            fix=tr("set customers by value or growth"),
        )
    c_fy = c_spec.amount if c_spec.kind == "value" else base_cust * (1 + c_spec.amount)
    cu = plan.rounding_customers
    cust_total = round_unit(max(c_fy - act_ytd, 0.0), cu)
    cust_c, cpins = cell_customers(hc, x3, cells, cust_total, plan)
    cust_c, rgroups, rchecks = _region_customers(hc, cust_c, cells, cust_total, cpins, plan)
    nm = win.n_months
    cal = [m.month for m in win.months]
    act = activation_profile(customers, plan).to_numpy()[np.array(cal) - 1]
    act = act / act.sum() if act.sum() > 0 else np.full(nm, 1 / nm)
    cust_cm = cust_c[:, None] * act[None, :]
    rev_row = x_cm[bottom["cell"].to_numpy(), bottom["m"].to_numpy()] * bottom["share"]
    row_tot = rev_row.groupby([bottom["cell"], bottom["m"]]).transform("sum")
    cshare = np.where(row_tot > 0, rev_row / np.where(row_tot > 0, row_tot, 1), bottom["share"])
    cnotes: list[str] = []
    _, _, cust_b = round_chain(
        cust_c,
        cust_cm,
        bottom.assign(share=cshare),
        float(cu),
        cust_total,
        [*cpins, *rgroups],
        None,
        None,
        cnotes,
        N_("customers"),
    )
    return CustomerTargets(
        cust_b, cust_total, c_fy, base_cust, act_ytd, tuple(cnotes), tuple(rchecks)
    )


def _strategy_regions(plan: Plan) -> set[str]:
    """Regions a strategy names (in its segment or its ``to``)."""
    out = set()
    for st in plan.strategies:
        for seg in (st.segment_dict, st.to_dict_segment or {}):
            if "region" in seg:
                out.add(str(seg["region"]))
    return out


def region_customer_base(hc: pd.DataFrame, cells: PlanCells, plan: Plan) -> pd.Series:
    """Each region's customer target before scaling: its active customers in the base window
    x (1 + growth) (growth from ``targets.customers``; a value target: the company's implied
    growth), x (1 + pct) for a promotion naming the region, less (plus) the share a
    channel shift moves out of (into) it."""
    regions = pd.Index(cells.members["region"], dtype=str)
    base = hc.groupby(hc["region"].astype(str)).size() if len(hc) else pd.Series(dtype=float)
    base = base.reindex(regions).fillna(0.0).astype(float)
    out = base.copy()
    for st in plan.strategies:
        r = st.segment_dict.get("region")
        if st.kind == "promotion" and r in out.index:
            out[r] *= 1 + st.pct
        to = (st.to_dict_segment or {}).get("region")
        if st.kind == "channel_shift" and r in out.index and to in out.index and r != to:
            moved = out[r] * st.pct
            out[r] -= moved
            out[to] += moved
    return out


def _region_customers(
    hc: pd.DataFrame,
    cust_c: np.ndarray,
    cells: PlanCells,
    total: float,
    cpins: list[Group],
    plan: Plan,
) -> tuple[np.ndarray, list[Group], list[tuple]]:
    """Region customer targets = the region's base x (1 + growth) (and the strategies that name
    it), scaled to ``total`` and rounded; the cells refitted to them (customer pins held; when
    they conflict, the regions follow the revenue and the check says so). Returns the cells,
    the region groups for rounding and the check per region."""
    want = region_customer_base(hc, cells, plan)
    if want.sum() <= 0 or total <= 0:
        return cust_c, [], []
    scaled = want * total / want.sum()
    cu = float(plan.rounding_customers)
    rounded = largest_remainder(scaled.to_numpy(), cu, total)
    regs = cells.cells["region"].astype(str).to_numpy()
    groups = [
        Group(f"region {r} customers", np.flatnonzero(regs == r), float(rounded[i]))
        for i, r in enumerate(want.index)
    ]
    groups = [g for g in groups if len(g.index)]
    allg = [Group("company customers", np.arange(cells.n), total), *cpins, *groups]
    if find_conflict(cells.n, allg, None, None):
        groups = []
    else:
        cust_c, _, _ = fit_constraints(cust_c, allg)
    got = pd.Series(cust_c).groupby(regs).sum().reindex(want.index).fillna(0.0)
    base = hc.groupby(hc["region"].astype(str)).size() if len(hc) else pd.Series(dtype=float)
    base = base.reindex(want.index).fillna(0.0)
    g = total / base.sum() - 1 if base.sum() > 0 else 0.0
    named = _strategy_regions(plan)
    tol = plan.allocation.customer_tolerance
    checks = []
    for r in want.index:
        expect = base[r] * (1 + g)
        dev = got[r] / expect - 1 if expect > 0 else 0.0
        ok = abs(dev) <= tol + 1e-9 or r in named
        why = tr(" (a strategy names it)") if r in named and abs(dev) > tol else ""
        checks.append(
            (
                tr("customer target of {region} follows its base x (1 + growth)").format(region=r),
                bool(ok),
                float(dev),
                tr("{got} against {base} active x (1 {growth}) = {expect}").format(
                    got=f"{got[r]:,.0f}",
                    base=f"{base[r]:,.0f}",
                    growth=f"{g:+.1%}",
                    expect=f"{expect:,.0f}",
                )
                + why,
            )
        )
    return cust_c, groups, checks
