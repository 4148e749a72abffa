"""Target decomposition: from the company target to every cell, rep and month.

Pure functions (frames in, frames out); :func:`write_targets` is the only I/O.

The steps, in order (each is visible in :meth:`Decomposition.explain`):

1. **Overall targets** per measure from the plan: a value, growth over the 12 months before
   the cutoff, or a percentile of the forecast. A mid-year plan (cutoff inside the fiscal year)
   covers the remaining months: full-year target minus the actuals to the cutoff.
2. **Allocation keys** per dimension (region, product line, customer type): historical share
   (window from the plan), forecast share, market potential (market size x potential_share;
   the market has no customer type, so a cell's potential is split over customer types by
   the cell's historical share) and equal shares, blended by the plan's weights. The three
   dimensions are crossed by **iterative proportional fitting**: a seed holding the historical
   (and forecast) interaction of the cells is fitted to the three blended margins at once.
3. **Strategies** (price %, promotion %, channel shift) are applied to the cells they name, in
   the plan's order, then every cell is scaled back so the company total holds. *Strategies
   change the mix, not the company total*: the company target is the planner's commitment
   (growth, value or percentile); a price rise on pumps makes pumps carry more of it.
4. **Pins, floors, caps**: pins fix the annual target of a cell or roll-up; floors keep every
   cell at or above ``floors.vs_last_year`` x its last-year revenue; caps keep it at or below
   ``caps.vs_potential`` x its potential. The rest is redistributed proportionally so totals
   still hold. Constraints that cannot hold together raise :class:`ConstraintConflict`
   naming a smallest conflicting set (and describing only the constraints in it).
5. **Months**: each cell's annual target is phased by its own seasonality (last three years;
   the company profile for cells with thin history) or by the forecast, per the plan.
6. **Reps**: each cell-month is split over the region's reps active that month by capacity =
   fte x share of the month active x ramp factor (:mod:`salesanalysis.targets.capacity`, the rules the
   review uses too), times (1 - w + w x productivity index) when ``productivity_weight``
   w > 0.
7. **Cushion**: rep targets sum to the company target x (1 + cushion_pct). The targets frame
   keeps both ``target_revenue`` (rep targets, with cushion) and
   ``target_revenue_no_cushion``. The cushion applies to revenue only.
8. **Rounding** to the plan's unit by the largest-remainder method, generalised so that every
   level adds up exactly: cells (honouring pins) -> cell x month (also matching the rounded
   month totals) -> reps (also matching the rounded rep totals). Done separately for the
   targets with and without the cushion, and for customers.
9. **Customers** follow the counting rule of docs/ARCHITECTURE.md (:mod:`salesanalysis.data.counting`,
   the review's rule too): a customer is active when a month has positive net revenue;
   activations per home cell (incl. rep) and month. The base count (what growth applies to)
   and, in a mid-year plan, the customers already active are counted that way. A cell's
   customer target grows with its revenue target at its base-window revenue per customer,
   scaled to the company customer target; months follow the company's historical activation
   pattern; reps get the cell's customers in proportion to their revenue target.
10. **Feasibility**: the forecast's monthly interval is read as a normal distribution
   (sigma = (hi_80 - lo_80) / 2.563) and monthly errors are taken as perfectly correlated, so
   the annual P-x is the sum of the monthly P-x (wider, i.e. more cautious, than assuming
   independent months). Probability of reaching a target = P(forecast >= target).
   The market-share target is compared with the share the revenue target implies; the company
   statement warns when they differ by more than :data:`SHARE_WARN_REL` (10% relative).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from salesanalysis.data import counting
from salesanalysis.data.counting import home_cells
from salesanalysis.errors import ConstraintConflict, PlanError, Problem
from salesanalysis.targets import capacity
from salesanalysis.targets.kernels import (
    Group,
    controlled_round,
    find_conflict,
    fit_constraints,
    ipf,
    largest_remainder,
)
from salesanalysis.targets.plan import DIMENSIONS, KEY_NAMES, Plan
from salesanalysis.untrusted import EXCEL_WRITER_KWARGS, neutralise_cell, neutralise_frame

__all__ = [
    "Decomposition",
    "decompose",
    "write_targets",
    "plan_months",
    "base_months",
    "rep_capacity",
    "home_cells",
    "UNASSIGNED",
    "TargetParams",
    "target_parameters",
    "forecast_covers",
    "forecast_for_plan",
    "plan_forecast_fingerprint",
    "PLAN_FORECAST_ATTR",
    "SHARE_WARN_REL",
    "level_tables",
]

Z80 = float(norm.ppf(0.9))
UNASSIGNED = "(unassigned)"
CELL = list(DIMENSIONS)
BOTTOM = ["month", *DIMENSIONS, "rep_id"]
LEVELS = {
    "company": [],
    "region": ["region"],
    "product_line": ["product_line"],
    "customer_type": ["customer_type"],
    "cell": CELL,
    "rep": ["region", "rep_id"],
}


# --------------------------------------------------------------------------- months


def _ts(p: pd.Period) -> pd.Timestamp:
    return p.to_timestamp()


def plan_months(plan: Plan) -> list[pd.Timestamp]:
    """Months the plan covers: the fiscal year's months after the cutoff."""
    cut = plan.cutoff_period
    fy = [pd.Period(f"{plan.fiscal_year}-{m:02d}", "M") for m in range(1, 13)]
    return [_ts(p) for p in fy if p > cut]


def base_months(plan: Plan, n: int = 12) -> list[pd.Timestamp]:
    """The ``n`` months up to and including the cutoff."""
    cut = plan.cutoff_period
    return [_ts(cut - k) for k in range(n - 1, -1, -1)]


def _ly_months(plan: Plan) -> list[pd.Timestamp]:
    """Last year's months comparable with the plan months (same calendar months a year
    earlier when they are all before the cutoff, else the 12 months before the cutoff)."""
    cut = _ts(plan.cutoff_period)
    pm = plan_months(plan)
    prev = [m - pd.DateOffset(years=1) for m in pm]
    if len(pm) < 12 and all(m <= cut for m in prev):
        return [pd.Timestamp(m) for m in prev]
    return base_months(plan)


def _ytd_months(plan: Plan) -> list[pd.Timestamp]:
    cut = plan.cutoff_period
    return [
        _ts(pd.Period(f"{plan.fiscal_year}-{m:02d}", "M"))
        for m in range(1, 13)
        if pd.Period(f"{plan.fiscal_year}-{m:02d}", "M") <= cut
    ]


# --------------------------------------------------------------------------- forecast


def _fc_rows(
    forecast: pd.DataFrame | None, level: str, months: list[pd.Timestamp]
) -> pd.DataFrame:
    """Forecast rows of one level for the plan months with ``sigma`` (normal, from the 80%
    interval). Falls back to aggregating the bottom level when the level is absent."""
    cols = ["region", "product_line", "customer_type", "rep_id", "month", "mean", "sigma"]
    if forecast is None or len(forecast) == 0:
        return pd.DataFrame(columns=cols)
    fc = forecast[forecast["month"].isin(months)]
    keys = {
        "total": [],
        "company": [],
        "region": ["region"],
        "product_line": ["product_line"],
        "customer_type": ["customer_type"],
        "cell": CELL,
        "rep": ["region", "rep_id"],
        "bottom": [*CELL, "rep_id"],
    }[level]
    lvl = "total" if level == "company" else level
    rows = fc[fc["level"] == lvl] if "level" in fc.columns else fc.iloc[0:0]
    if rows.empty:
        src = None
        for cand in ("bottom", "cell"):
            sub = fc[fc["level"] == cand] if "level" in fc.columns else fc.iloc[0:0]
            if not sub.empty and set(keys) <= set(CELL if cand == "cell" else [*CELL, "rep_id"]):
                src = sub
                break
        if src is None:
            return pd.DataFrame(columns=cols)
        src = src.assign(sigma=(src["hi_80"] - src["lo_80"]) / (2 * Z80))
        rows = src.groupby([*keys, "month"], as_index=False)[["mean", "sigma"]].sum()
    else:
        rows = rows.assign(sigma=(rows["hi_80"] - rows["lo_80"]) / (2 * Z80))
    rows = rows.copy()
    for c in ["region", "product_line", "customer_type", "rep_id"]:
        if c not in keys:
            rows[c] = "*"
        rows[c] = rows[c].astype(str)
    rows["sigma"] = rows["sigma"].clip(lower=0.0)
    return rows[cols].reset_index(drop=True)


def _annual(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Sum monthly mean and sigma (perfectly correlated months) per key."""
    if rows.empty:
        return pd.DataFrame(columns=[*keys, "fc_mean", "fc_sigma", "fc_months"])
    g = rows.groupby(keys, as_index=False) if keys else rows.assign(_k=0).groupby("_k")
    out = g.agg(fc_mean=("mean", "sum"), fc_sigma=("sigma", "sum"), fc_months=("month", "nunique"))
    return out.drop(columns=["_k"], errors="ignore").reset_index(drop=True)


# --------------------------------------------------------------------------- reps


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


def _productivity(cube: pd.DataFrame, reps: pd.DataFrame, plan: Plan) -> pd.Series:
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


# --------------------------------------------------------------------------- customers


def _activation_profile(customers: pd.DataFrame, plan: Plan) -> pd.Series:
    """Share of a year's activations by calendar month (1-12), last three full years
    (activation: :func:`salesanalysis.data.counting.activation_months`, each year on its own)."""
    cut = plan.cutoff_period
    years = [y for y in range(cut.year - 3, cut.year + 1) if pd.Period(f"{y}-12", "M") <= cut]
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


# --------------------------------------------------------------------------- results


@dataclass
class Decomposition:
    """The result of :func:`decompose`.

    Attributes:
        targets: grain month x region x product_line x customer_type x rep_id with
            ``target_revenue`` (rep targets, with cushion), ``target_revenue_no_cushion``,
            ``target_customers`` and ``plan_name``; all rounded and adding up.
        company: one row per measure: basis, last year, target, cushion, forecast, statement.
        segments: one row per level and key with last year, targets, market figures.
        feasibility: per level and key: forecast, gap, probability of reaching, flag.
        rep_load: per rep: capacity, productivity, target, load vs the median, flag.
        checks: every check made, with ``ok`` and a detail.
        bridge: last year -> target: volume, price, new customers, strategies.
        keys: allocation keys per dimension member (each key's share and the blend).
    """

    plan: Plan
    targets: pd.DataFrame
    company: pd.DataFrame
    segments: pd.DataFrame
    feasibility: pd.DataFrame
    rep_load: pd.DataFrame
    checks: pd.DataFrame
    bridge: pd.DataFrame
    keys: pd.DataFrame
    months: list[pd.Timestamp]
    _parts: pd.DataFrame = field(repr=False)
    _rep_share: pd.DataFrame = field(repr=False)
    _notes: dict[str, str] = field(repr=False, default_factory=dict)

    def explain(self, **keys: str) -> pd.DataFrame:
        """Why this number: the parts of a cell, roll-up or rep's annual revenue target.

        Keys: any of ``region``, ``product_line``, ``customer_type``, ``rep_id``. Returns rows
        ``step, detail, amount, kind``: the ``step`` rows add up to each ``subtotal`` row
        (first the target without cushion, then the rep targets with cushion).
        """
        bad = set(keys) - {*CELL, "rep_id"}
        if bad:
            raise PlanError(
                f"cannot explain by {sorted(bad)}",
                fix="use region, product_line, customer_type and/or rep_id",
            )
        parts = self._parts
        mask = np.ones(len(parts), bool)
        for k in CELL:
            if k in keys:
                mask &= (parts[k] == str(keys[k])).to_numpy()
        sel = parts[mask]
        if "rep_id" in keys:
            rs = self._rep_share[self._rep_share["rep_id"] == str(keys["rep_id"])]
            if rs.empty:
                raise PlanError(
                    f"rep {keys['rep_id']} has no target in this plan",
                    fix="check the rep_id and that the rep is active in the plan months",
                )
            sel = sel.merge(rs[[*CELL, "share", "final_nc", "final_c"]], on=CELL, how="inner")
            weight = sel["share"].to_numpy()
            final_nc = float(
                rs.loc[
                    rs[CELL].apply(tuple, axis=1).isin(sel[CELL].apply(tuple, axis=1)), "final_nc"
                ].sum()
            )
            final_c = float(
                rs.loc[
                    rs[CELL].apply(tuple, axis=1).isin(sel[CELL].apply(tuple, axis=1)), "final_c"
                ].sum()
            )
        else:
            weight = np.ones(len(sel))
            final_nc = float(sel["final_nc"].sum())
            final_c = float(sel["final_c"].sum())
        if sel.empty:
            raise PlanError(f"no target matches {keys}", fix="check the labels (see .segments)")
        notes = self._notes
        rows: list[tuple[str, str, float, str]] = []
        for k in KEY_NAMES:
            amt = float((sel[f"key_{k}"] * weight).sum())
            rows.append((f"key: {k}", notes.get(f"key_{k}", ""), amt, "step"))
        rows.append(("crossing (IPF)", notes["ipf"], float((sel["ipf"] * weight).sum()), "step"))
        for s in self.plan.strategies:
            col = f"strategy: {s.name}"
            amt = float((sel[col] * weight).sum())
            rows.append(
                (col, f"{s.kind} {s.pct:+.1%} on {s.segment_dict}: {s.rationale}", amt, "step")
            )
        rows.append(
            (
                "re-normalise to the company total",
                notes["renorm"],
                float((sel["renorm"] * weight).sum()),
                "step",
            )
        )
        binding = sorted({b for bs in sel["binding"] for b in bs.split("; ") if b})
        rows.append(
            (
                "pins, floors, caps",
                "; ".join(binding) or "none binding here (share of redistribution only)",
                float((sel["constraints"] * weight).sum()),
                "step",
            )
        )
        unrounded = sum(r[2] for r in rows)
        rows.append(
            (
                "rounding",
                f"to {self.plan.rounding_revenue:,.0f} (largest remainder)",
                final_nc - unrounded,
                "step",
            )
        )
        rows.append(("target without cushion", "", final_nc, "subtotal"))
        cush = unrounded * self.plan.cushion_pct
        rows.append(
            (
                "cushion",
                f"+{self.plan.cushion_pct:.1%} over-assignment on rep targets",
                cush,
                "step",
            )
        )
        rows.append(("rounding after cushion", "", final_c - final_nc - cush, "step"))
        rows.append(("rep targets (with cushion)", "", final_c, "subtotal"))
        return pd.DataFrame(rows, columns=["step", "detail", "amount", "kind"])


# --------------------------------------------------------------------------- helpers


def _segment_mask(cells: pd.DataFrame, seg: dict[str, str]) -> np.ndarray:
    m = np.ones(len(cells), bool)
    for k, v in seg.items():
        m &= (cells[k] == v).to_numpy()
    return m


def _check_labels(seg: dict[str, str], members: dict[str, list[str]], where: str) -> None:
    for dim, label in seg.items():
        if label not in members[dim]:
            raise PlanError(
                f"{where} names {dim} '{label}', which has no history or forecast in the data",
                problems=[Problem(f"unknown {dim} '{label}'", key=where, values=[label])],
                fix=f"use one of: {', '.join(members[dim])}",
            )


def _shares(s: pd.Series) -> pd.Series:
    s = s.clip(lower=0.0).fillna(0.0)
    tot = s.sum()
    return s / tot if tot > 0 else pd.Series(1.0 / max(len(s), 1), index=s.index)


def _round_unit(x: float, unit: float) -> float:
    return float(np.floor(x / unit + 0.5) * unit)


SHARE_WARN_REL = 0.10
"""Largest relative gap tolerated between the market share the revenue target implies and the
plan's ``market_share`` target before the company statement warns (10%: e.g. 17.0% against
anything outside 15.3%..18.7%). Relative, because it is then the same as the gap between the
revenue target and the revenue the share target implies, whatever the company's size."""


def _share_warning(share_t: float, own: float, implied: float, total: float, currency: str) -> str:
    """The warning when the revenue target's share of the market (``own``) and the market
    share target (``share_t``) differ by more than :data:`SHARE_WARN_REL`; '' otherwise."""
    if not (np.isfinite(share_t) and np.isfinite(own) and share_t > 0):
        return ""
    rel = own / share_t - 1
    if abs(rel) <= SHARE_WARN_REL:
        return ""
    side = "above" if rel > 0 else "below"
    return (
        f"WARNING: the revenue target implies a market share of {own:.1%}, "
        f"{abs(own - share_t) * 100:.1f} points ({abs(rel):.0%}) {side} the market share "
        f"target of {share_t:.1%} (more than the {SHARE_WARN_REL:.0%} tolerated). To make "
        f"them agree, either the revenue target (the one allocated to cells and reps) would "
        f"need to be {implied:,.0f} {currency} instead of {total:,.0f}, or "
        f"targets.market_share would need to be {own:.1%}."
    )


def _conflict_error(
    conflict: list[str],
    groups: list[Group],
    floor_c: np.ndarray | None,
    cap_c: np.ndarray | None,
    floor_name: str,
    cap_name: str,
) -> ConstraintConflict:
    """The error for a conflicting set of pins, company total, floors and caps.

    Only the constraints in the conflict are described: a group's floor and cap sums appear
    only when the floors (or caps) are part of the conflict, and the fix names only the plan
    settings involved. Without floors and caps the conflict comes from the groups overlapping
    (targets are never negative), which is what the detail then says.
    """
    use_floor = floor_c is not None and floor_name in conflict
    use_cap = cap_c is not None and cap_name in conflict
    named = [g for g in groups if g.name in conflict]
    probs = []
    for g in named:
        parts = []
        if use_floor:
            parts.append(f"the floors of its cells sum to {float(floor_c[g.index].sum()):,.0f}")
        if use_cap:
            cp = float(cap_c[g.index].sum())
            what = "their caps" if parts else "the caps of its cells"
            parts.append(
                f"{what} {'to' if parts else 'sum to'} {cp:,.0f}"
                if np.isfinite(cp)
                else f"{'they have' if parts else 'its cells have'} no cap"
            )
        if not parts:  # only groups: they overlap, and no cell target can be negative
            cells_g = set(np.asarray(g.index, int).tolist())
            inside = [
                h.name
                for h in named
                if h is not g and cells_g < set(np.asarray(h.index, int).tolist())
            ]
            parts.append(
                f"covers {len(cells_g)} cell(s)"
                + (f", all within {'; '.join(inside)}" if inside else "")
            )
        probs.append(Problem(f"{g.name}: " + ", ".join(parts), key=g.name.split(" = ")[0]))
    why = "" if use_floor or use_cap else " (no cell target can be negative)"
    knobs = []
    if any(g.name.startswith("pins[") for g in named):
        knobs.append("a pin's amount")
    if use_floor:
        knobs.append("floors.vs_last_year")
    if use_cap:
        knobs.append("caps.vs_potential")
    if any(g.name.startswith("company ") for g in named):
        knobs.append("the company target")
    knob_txt = " or ".join([", ".join(knobs[:-1]), knobs[-1]] if len(knobs) > 1 else knobs)
    return ConstraintConflict(
        "these plan constraints cannot all hold at once: " + "; ".join(conflict) + why,
        problems=probs,
        fix="change one of the named constraints" + (f" ({knob_txt})" if knob_txt else ""),
    )


def _round_chain(
    cells: pd.DataFrame,
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

    ``bottom`` has ``cell`` (index into cells), ``m`` (month index), ``share`` (of the
    cell-month going to the row's rep) and ``rep_id``. Returns rounded (cells, cell-months,
    bottom rows)."""
    n, nm = x_cm.shape
    groups = [Group("company total", np.arange(n), total), *pin_groups]
    r_c = controlled_round(x_c, unit, groups, lower, upper)
    if r_c is None:
        notes.append(f"{label}: floors/caps hold to within one rounding unit")
        r_c = controlled_round(x_c, unit, groups)
    if r_c is None:
        raise ConstraintConflict(
            f"the pins cannot all be rounded to the unit {unit:,.0f} at once ({label})",
            fix="make pinned amounts multiples of the rounding unit, or remove a pin that "
            "overlaps another",
        )
    # cell x month: rows = cells (fixed), columns = months (largest remainder of month totals)
    month_tot = largest_remainder(x_cm.sum(axis=0), unit, total)
    flat = x_cm.ravel()
    g_rows = [Group(f"cell {i}", np.arange(i * nm, (i + 1) * nm), r_c[i]) for i in range(n)]
    g_cols = [Group(f"month {j}", np.arange(j, n * nm, nm), month_tot[j]) for j in range(nm)]
    r_cm = controlled_round(flat, unit, g_rows + g_cols)
    if r_cm is None:
        notes.append(f"{label}: month totals add up but are not each the closest rounding")
        r_cm = np.concatenate([largest_remainder(x_cm[i], unit, r_c[i]) for i in range(n)])
    r_cm = r_cm.reshape(n, nm)
    # reps, one region at a time: rows = cell-months (fixed), columns = reps
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
            notes.append(f"{label}: rep totals add up but are not each the closest rounding")
            res = np.zeros(len(idx))
            for k, ix in rows.items():
                res[np.asarray(ix)] = largest_remainder(
                    v[np.asarray(ix)], unit, r_cm[k // nm, k % nm]
                )
        out[idx] = res
    return r_c, r_cm, out


# --------------------------------------------------------------------------- decompose


def decompose(
    cube: pd.DataFrame,
    customers: pd.DataFrame,
    reps: pd.DataFrame,
    market: pd.DataFrame,
    forecast: pd.DataFrame | None,
    plan: Plan,
) -> Decomposition:
    """Decompose the plan's company targets into rounded targets for every cell, rep and month.

    Args:
        cube: the monthly cube (``docs/ARCHITECTURE.md``); months after the cutoff are ignored.
        customers: the customer cube (for the customer-count targets).
        reps: the rep list (hire / end dates, fte).
        market: market size by month, region and product line.
        forecast: ``outputs/forecast.parquet`` (may be ``None``; forecast-based keys then fall
            back to history and feasibility is left empty).
        plan: the validated plan.

    Raises:
        PlanError: the data cannot support the plan (no data up to the cutoff, a pin names an
            unknown region, a forecast percentile without a forecast, ...).
        ConstraintConflict: pins, floors and caps that cannot hold together (named).
    """
    notes: list[str] = []
    check_rows: list[tuple[str, bool, float, str]] = []
    cut_ts = _ts(plan.cutoff_period)
    months = plan_months(plan)
    bm = base_months(plan)
    hm = base_months(plan, plan.allocation.history_window_months)
    lym = _ly_months(plan)
    ytdm = _ytd_months(plan)
    nm = len(months)
    w = plan.allocation.key_weights.as_dict()

    hist = cube[cube["month"] <= cut_ts]
    if hist.empty or hist["month"].max() < cut_ts:
        last = "none" if hist.empty else f"{cube['month'].max():%Y-%m}"
        raise PlanError(
            f"plan_cutoff {plan.plan_cutoff} is after the last month of data ({last})",
            fix="set plan_cutoff to a month the transactions cover",
        )
    if hist["month"].min() > bm[0]:
        notes.append(
            f"less than 12 months of history before the cutoff (from "
            f"{hist['month'].min():%Y-%m}); last-year figures cover fewer months"
        )

    # ---- forecast availability
    fc_total = _fc_rows(forecast, "company", months)
    fc_months = int(fc_total["month"].nunique()) if len(fc_total) else 0
    have_fc = fc_months == nm
    if fc_months < nm:
        first_fc = (
            f"{forecast['month'].min():%Y-%m}"
            if forecast is not None and len(forecast)
            else "none"
        )
        msg = (
            f"the forecast covers {fc_months} of the {nm} plan months (forecast starts {first_fc})"
        )
        check_rows.append(("forecast covers the plan months", False, fc_months, msg))
        if w["forecast"] > 0:
            notes.append(msg + "; the forecast key and forecast phasing fall back to history")

    # ---- members and cells
    members: dict[str, list[str]] = {}
    recent = hist[hist["month"].isin(set(hm) | set(bm))]
    fc_cell = _fc_rows(forecast, "cell", months) if have_fc else _fc_rows(None, "cell", months)
    for d in DIMENSIONS:
        labels = set(recent[d].astype(str)) | set(fc_cell[d].astype(str))
        labels.discard("*")
        members[d] = sorted(labels)
        if not members[d]:
            raise PlanError(
                f"no {d} has revenue in the history window before the cutoff",
                fix="check plan_cutoff and allocation.history_window_months",
            )
    for i, s in enumerate(plan.strategies):
        _check_labels(s.segment_dict, members, f"strategies[{i}] ('{s.name}')")
        if s.to is not None:
            _check_labels(dict(s.to), members, f"strategies[{i}].to ('{s.name}')")
    for i, p in enumerate(plan.pins):
        _check_labels(p.segment_dict, members, f"pins[{i}] ({p.label})")
    grid = pd.MultiIndex.from_product([members[d] for d in DIMENSIONS], names=CELL)
    cells = grid.to_frame(index=False)
    n = len(cells)
    shape = tuple(len(members[d]) for d in DIMENSIONS)

    def cell_vec(df: pd.DataFrame, col: str) -> np.ndarray:
        if df.empty:
            return np.zeros(n)
        s = df.assign(**{d: df[d].astype(str) for d in CELL}).groupby(CELL)[col].sum()
        return s.reindex(grid).fillna(0.0).to_numpy(dtype=float)

    hist_c = cell_vec(hist[hist["month"].isin(hm)], "revenue")
    base_c = cell_vec(hist[hist["month"].isin(bm)], "revenue")
    ly_c = cell_vec(hist[hist["month"].isin(lym)], "revenue")
    fc_c = cell_vec(fc_cell, "mean") if have_fc else hist_c.copy()

    # market potential per cell (region x product line spread over customer types by history)
    mk = market[market["month"].isin(months)] if market is not None else None
    mk_note = ""
    if market is not None and len(market):
        got = set(market["month"].unique())
        if not set(months) <= got:
            last_year = [m - pd.DateOffset(years=1) for m in months]
            latest = max(got)
            mk = market[market["month"].isin(last_year) & (market["month"] <= latest)]
            mk_note = (
                "market size for the plan months is missing; the same months of the "
                "previous year are used"
            )
            notes.append(mk_note)
    if mk is not None and len(mk):
        mrp = mk.assign(
            region=mk["region"].astype(str), product_line=mk["product_line"].astype(str)
        )
        mrp = mrp.groupby(["region", "product_line"])["market_size"].sum()
    else:
        mrp = pd.Series(dtype=float)
    h3 = hist_c.reshape(shape)
    rp_tot = h3.sum(axis=2, keepdims=True)
    ct_global = _shares(pd.Series(h3.sum(axis=(0, 1)))).to_numpy()
    ct_split = np.where(rp_tot > 0, h3 / np.where(rp_tot > 0, rp_tot, 1), ct_global[None, None, :])
    mk_rp = np.array(
        [
            [float(mrp.get((r, p), np.nan)) for p in members["product_line"]]
            for r in members["region"]
        ]
    )
    has_market = np.isfinite(mk_rp)[:, :, None] & np.ones(shape, bool)
    market_c = (np.nan_to_num(mk_rp)[:, :, None] * ct_split).ravel()
    potential_c = market_c * plan.allocation.potential_share
    has_market = has_market.ravel()

    # ---- company targets
    ly_total = float(ly_c.sum())
    base_total = float(base_c.sum())
    ytd_rev = float(cube.loc[cube["month"].isin(ytdm), "revenue"].sum()) if ytdm else 0.0
    fc_mean = float(fc_total["mean"].sum()) if have_fc else np.nan
    fc_sigma = float(fc_total["sigma"].sum()) if have_fc else np.nan
    spec = plan.targets.revenue
    if spec.kind == "value":
        t_fy = spec.amount
    elif spec.kind == "growth":
        t_fy = base_total * (1 + spec.amount)
    else:
        if not have_fc:
            raise PlanError(
                f"targets.revenue asks for P{spec.amount:g} of the forecast, but the forecast "
                f"covers {fc_months} of the {nm} plan months",
                fix="run the forecast step with an origin at the plan cutoff and a horizon "
                "covering the fiscal year, or set the target by value or growth",
            )
        t_fy = ytd_rev + fc_mean + float(norm.ppf(spec.amount / 100)) * fc_sigma
    t_plan = t_fy - ytd_rev
    if t_plan < 0:
        raise PlanError(
            f"the revenue target for {plan.fiscal_year} ({t_fy:,.0f}) is already reached by the "
            f"actuals to {plan.plan_cutoff} ({ytd_rev:,.0f}): nothing is left to plan",
            fix="raise the target or move plan_cutoff",
        )
    unit = plan.rounding_revenue
    total = _round_unit(t_plan, unit)

    # ---- allocation keys per dimension and the IPF
    cell_keys = {
        "history": _shares(pd.Series(hist_c)).to_numpy(),
        "forecast": _shares(pd.Series(fc_c)).to_numpy(),
        "potential": (
            _shares(pd.Series(potential_c)).to_numpy()
            if potential_c.sum() > 0
            else _shares(pd.Series(hist_c)).to_numpy()
        ),
        "equal": np.full(n, 1.0 / n),
    }
    if potential_c.sum() <= 0 and w["potential"] > 0:
        notes.append("no market size for the plan months: the potential key uses history")
    key_rows = []
    margins = []
    for ax, d in enumerate(DIMENSIONS):
        other = tuple(a for a in range(3) if a != ax)
        parts = {}
        for k in KEY_NAMES:
            if k == "equal":
                parts[k] = np.full(shape[ax], 1.0 / shape[ax])
            else:
                parts[k] = cell_keys[k].reshape(shape).sum(axis=other)
        blended = sum(w[k] * parts[k] for k in KEY_NAMES)
        margins.append(total * blended)
        for i, lab in enumerate(members[d]):
            key_rows.append(
                {
                    "dimension": d,
                    "member": lab,
                    **{k: float(parts[k][i]) for k in KEY_NAMES},
                    "blended": float(blended[i]),
                    "margin": float(total * blended[i]),
                }
            )
    keys_df = pd.DataFrame(key_rows)
    sums = [float(m.sum()) for m in margins]
    if max(sums) - min(sums) > 1e-6 * max(1.0, total):
        raise ConstraintConflict(
            "the allocation margins do not agree: "
            + ", ".join(f"{d} sums to {s:,.0f}" for d, s in zip(DIMENSIONS, sums, strict=True)),
            fix="check allocation.key_weights",
        )
    wh, wf = w["history"], w["forecast"]
    seed = (
        (wh * cell_keys["history"] + wf * cell_keys["forecast"]) / (wh + wf)
        if wh + wf > 0
        else cell_keys["history"]
    )
    indep = np.einsum("i,j,k->ijk", *[m / max(total, 1e-300) for m in margins]).ravel()
    seed = seed + 1e-9 * indep
    if total > 0:
        fit = ipf(seed.reshape(shape), margins)
        # A cell pattern with (near) zeros where the dimension targets need mass makes IPF
        # crawl; blend it towards the independent shares, which meet every margin exactly,
        # only as much as it takes.
        for lam in (1e-4, 1e-2, 0.1, 0.5, 1.0):
            if fit.converged:
                break
            fit = ipf(((1 - lam) * seed + lam * indep).reshape(shape), margins)
            if fit.converged:
                notes.append(
                    f"the history's cell pattern could not meet the dimension targets exactly; it "
                    f"was blended {lam:.2%} towards independent shares to cross them"
                )
        if not fit.converged:
            raise ConstraintConflict(
                f"the three dimensions could not be crossed: after {fit.iterations} rounds the "
                f"margins are still {fit.max_abs_error:,.2f} off",
                fix="check the allocation keys (a dimension member with a share but no cell "
                "history), or use more weight on the equal key",
            )
        x0 = fit.table.ravel()
        ipf_err, ipf_it = fit.max_abs_error, fit.iterations
    else:
        x0, ipf_err, ipf_it = np.zeros(n), 0.0, 0
    check_rows.append(
        (
            "IPF: margins matched",
            True,
            ipf_err,
            f"max abs margin error {ipf_err:.2e} {plan.currency} after {ipf_it} rounds",
        )
    )
    blend_c = total * sum(w[k] * cell_keys[k] for k in KEY_NAMES)

    # ---- strategies (mix only)
    x = x0.copy()
    strat_eff: dict[str, np.ndarray] = {}
    price_mult = np.ones(n)
    promo_mult = np.ones(n)
    for s in plan.strategies:
        before = x.copy()
        src = _segment_mask(cells, s.segment_dict)
        if s.kind in ("price", "promotion"):
            x[src] *= 1 + s.pct
            (price_mult if s.kind == "price" else promo_mult)[src] *= 1 + s.pct
        else:
            moved = x[src] * s.pct
            x[src] -= moved
            dest = cells[src].copy()
            for k, v in dict(s.to).items():  # type: ignore[arg-type]
                dest[k] = v
            pos = grid.get_indexer(pd.MultiIndex.from_frame(dest))
            np.add.at(x, pos, moved)
        strat_eff[s.name] = x - before
    x1 = x
    x2 = x1 * (total / x1.sum()) if x1.sum() > 0 else x1
    renorm = x2 - x1

    # ---- pins, floors, caps
    floor_c = ly_c.clip(min=0) * plan.floor_vs_last_year if plan.floor_vs_last_year else None
    cap_c = None
    if plan.cap_vs_potential:
        cap_c = np.where(has_market, potential_c * plan.cap_vs_potential, np.inf)
    if floor_c is not None and cap_c is not None:
        bad = floor_c > cap_c + 1e-9
        if bad.any():
            ex = (
                cells[bad]
                .head(5)
                .apply(lambda r: ", ".join(f"{k}={r[k]}" for k in CELL), axis=1)
                .tolist()
            )
            raise ConstraintConflict(
                f"{int(bad.sum())} cells have a floor (vs last year) above their cap (vs "
                f"potential), e.g. {'; '.join(ex)}",
                problems=[
                    Problem(
                        f"floor {floor_c[i]:,.0f} > cap {cap_c[i]:,.0f}",
                        key=", ".join(f"{k}={cells.iloc[i][k]}" for k in CELL),
                    )
                    for i in np.flatnonzero(bad)[:5]
                ],
                fix="lower floors.vs_last_year, raise caps.vs_potential or "
                "allocation.potential_share",
            )
    pin_groups: list[Group] = []
    pin_groups_c: list[Group] = []
    for i, p in enumerate(plan.pins):
        if p.revenue is None:
            continue
        idx = np.flatnonzero(_segment_mask(cells, p.segment_dict))
        val = _round_unit(p.revenue, unit)
        if val != p.revenue:
            notes.append(f"pins[{i}] ({p.label}) rounded to {val:,.0f}")
        pin_groups.append(Group(f"pins[{i}] ({p.label}) = {val:,.0f}", idx, val))
        pin_groups_c.append(
            Group(f"pins[{i}]", idx, _round_unit(val * (1 + plan.cushion_pct), unit))
        )
    groups = [Group(f"company revenue target {total:,.0f}", np.arange(n), total), *pin_groups]
    floor_name = f"floors (each cell >= {plan.floor_vs_last_year or 0:.0%} of last year)"
    cap_name = f"caps (each cell <= {plan.cap_vs_potential or 0:.0%} of its potential)"
    conflict = find_conflict(n, groups, floor_c, cap_c, lower_name=floor_name, upper_name=cap_name)
    if conflict:
        raise _conflict_error(conflict, groups, floor_c, cap_c, floor_name, cap_name)
    x3, cyc, fit_err = fit_constraints(x2, groups, floor_c, cap_c)
    check_rows.append(
        (
            "pins/floors/caps fitted",
            fit_err <= 1e-6 * max(total, 1.0),
            fit_err,
            f"{cyc} raking cycles, max error {fit_err:.2e}",
        )
    )
    constraints = x3 - x2
    binding = []
    for i in range(n):
        b = [g.name for g in pin_groups if i in set(g.index)]
        if (
            floor_c is not None
            and abs(x3[i] - floor_c[i]) <= 1e-6 * max(1.0, floor_c[i])
            and floor_c[i] > 0
        ):
            b.append(f"floor {plan.floor_vs_last_year:.0%} x last year")
        if (
            cap_c is not None
            and np.isfinite(cap_c[i])
            and abs(x3[i] - cap_c[i]) <= 1e-6 * max(1.0, cap_c[i])
        ):
            b.append(f"cap {plan.cap_vs_potential:.0%} x potential")
        binding.append("; ".join(b))

    # ---- phasing
    phase = np.zeros((n, nm))
    src_ph = "history"
    if plan.phasing == "forecast" and have_fc:
        fcm = fc_cell.groupby([*CELL, "month"])["mean"].sum().clip(lower=0)
        arr = fcm.reindex(
            pd.MultiIndex.from_product(
                [*[members[d] for d in DIMENSIONS], months], names=[*CELL, "month"]
            )
        ).fillna(0.0)
        phase = arr.to_numpy().reshape(n, nm).copy()
        src_ph = "forecast"
    elif plan.phasing == "forecast":
        notes.append("phasing: forecast missing for the plan months, history used instead")
    years = sorted({m.year for m in hist["month"]})
    full_years = [y for y in years if pd.Timestamp(f"{y}-12-01") <= cut_ts][-3:]
    hy = hist[hist["month"].dt.year.isin(full_years)]
    cal = [m.month for m in months]
    comp_prof = hy.groupby(hy["month"].dt.month)["revenue"].sum().clip(lower=0)
    comp_prof = comp_prof.reindex(range(1, 13), fill_value=0.0).to_numpy()
    if comp_prof.sum() <= 0:
        comp_prof = np.ones(12)
    comp_ph = comp_prof[np.array(cal) - 1]
    comp_ph = comp_ph / comp_ph.sum()
    cell_prof = (
        hy.assign(cm=hy["month"].dt.month, **{d: hy[d].astype(str) for d in CELL})
        .groupby([*CELL, "cm"])["revenue"]
        .sum()
        .clip(lower=0)
    )
    cell_prof = cell_prof.reindex(
        pd.MultiIndex.from_product(
            [*[members[d] for d in DIMENSIONS], range(1, 13)], names=[*CELL, "cm"]
        )
    ).fillna(0.0)
    cell_prof = cell_prof.to_numpy().reshape(n, 12)[:, np.array(cal) - 1]
    months_with = (cell_prof > 0).sum(axis=1)
    for i in range(n):
        if src_ph == "forecast" and phase[i].sum() > 0:
            phase[i] /= phase[i].sum()
        elif (
            months_with[i] >= max(1, int(0.75 * nm))
            and cell_prof[i].sum() > 0
            and len(full_years) >= 1
        ):
            phase[i] = cell_prof[i] / cell_prof[i].sum()
        else:
            phase[i] = comp_ph
    x_cm = x3[:, None] * phase

    # ---- reps and capacity
    reps_n = reps.assign(rep_id=reps["rep_id"].astype(str), region=reps["region"].astype(str))
    cap = rep_capacity(reps_n, months, plan)
    prod = _productivity(hist, reps_n, plan)
    pw = plan.reps.productivity_weight
    cap["productivity"] = cap["rep_id"].map(prod).fillna(1.0)
    cap["eff_capacity"] = cap["capacity"] * (1 - pw + pw * cap["productivity"])
    cap = cap[cap["eff_capacity"] > 0]
    cm = pd.DataFrame({"cell": np.repeat(np.arange(n), nm), "m": np.tile(np.arange(nm), n)})
    cm["region"] = cells["region"].to_numpy()[cm["cell"]]
    cm["month"] = [months[j] for j in cm["m"]]
    capm = cap[["rep_id", "region", "month", "eff_capacity"]]
    bottom = cm.merge(capm, on=["region", "month"], how="left")
    missing = bottom["rep_id"].isna()
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

    # ---- rounding: no cushion, with cushion
    rnotes: list[str] = []
    r_c, r_cm, r_b = _round_chain(
        cells, x3, x_cm, bottom, unit, total, pin_groups, floor_c, cap_c, rnotes, "revenue"
    )
    cush = plan.cushion_pct
    total_c = _round_unit(total * (1 + cush), unit)
    try:
        rc_c, rc_cm, rc_b = _round_chain(
            cells,
            x3 * (1 + cush),
            x_cm * (1 + cush),
            bottom,
            unit,
            total_c,
            pin_groups_c,
            None,
            None,
            rnotes,
            "revenue with cushion",
        )
    except ConstraintConflict:
        rnotes.append(
            "revenue with cushion: pinned groups x (1 + cushion) could not all be "
            "rounded exactly; only the total is held"
        )
        rc_c, rc_cm, rc_b = _round_chain(
            cells,
            x3 * (1 + cush),
            x_cm * (1 + cush),
            bottom,
            unit,
            total_c,
            [],
            None,
            None,
            rnotes,
            "revenue with cushion",
        )
    notes.extend(rnotes)

    # ---- customers
    cust_b = np.zeros(len(bottom))
    cust_company = None
    c_spec = plan.targets.customers
    hc = home_cells(customers, bm) if customers is not None else pd.DataFrame()
    base_cust = len(hc)
    act_ytd = 0
    if customers is not None and ytdm:  # the review's count of the same months
        act_ytd = len(counting.active_customers(customers, ytdm))
    cust_total = 0.0
    if c_spec is not None:
        if c_spec.kind == "forecast_percentile":
            raise PlanError(
                "targets.customers cannot use forecast_percentile: the forecast is "
                "of revenue only",
                fix="set customers by value or growth",
            )
        c_fy = c_spec.amount if c_spec.kind == "value" else base_cust * (1 + c_spec.amount)
        cu = plan.rounding_customers
        cust_total = _round_unit(max(c_fy - act_ytd, 0.0), cu)
        hcc = hc.assign(n=1.0) if len(hc) else pd.DataFrame(columns=[*CELL, "n", "revenue"])
        bc = cell_vec(hcc, "n") if len(hc) else np.zeros(n)
        brev = cell_vec(hcc, "revenue") if len(hc) else np.zeros(n)
        rpc_all = brev.sum() / bc.sum() if bc.sum() > 0 else 1.0
        rpc = np.where((bc > 0) & (brev > 0), brev / np.where(bc > 0, bc, 1), rpc_all)
        cw = x3 / rpc
        cust_c = cw * cust_total / cw.sum() if cw.sum() > 0 else np.full(n, cust_total / n)
        cpins = []
        for i, p in enumerate(plan.pins):
            if p.customers is not None:
                idx = np.flatnonzero(_segment_mask(cells, p.segment_dict))
                cpins.append(
                    Group(
                        f"pins[{i}] ({p.label}) customers = {p.customers:,.0f}",
                        idx,
                        _round_unit(p.customers, cu),
                    )
                )
        cgroups = [
            Group(f"company customer target {cust_total:,.0f}", np.arange(n), cust_total),
            *cpins,
        ]
        if cpins:
            conf = find_conflict(n, cgroups, None, None)
            if conf:
                raise ConstraintConflict(
                    "these customer pins cannot all hold at once: " + "; ".join(conf),
                    fix="change one of the named customer pins",
                )
            cust_c, _, _ = fit_constraints(cust_c, cgroups)
        act = _activation_profile(customers, plan).to_numpy()[np.array(cal) - 1]
        act = act / act.sum() if act.sum() > 0 else np.full(nm, 1 / nm)
        cust_cm = cust_c[:, None] * act[None, :]
        rev_row = x_cm[bottom["cell"].to_numpy(), bottom["m"].to_numpy()] * bottom["share"]
        row_tot = rev_row.groupby([bottom["cell"], bottom["m"]]).transform("sum")
        cshare = np.where(
            row_tot > 0, rev_row / np.where(row_tot > 0, row_tot, 1), bottom["share"]
        )
        cb = bottom.assign(share=cshare)
        cnotes: list[str] = []
        _, _, cust_b = _round_chain(
            cells,
            cust_c,
            cust_cm,
            cb,
            float(cu),
            cust_total,
            cpins,
            None,
            None,
            cnotes,
            "customers",
        )
        notes.extend(cnotes)
        cust_company = (c_fy, base_cust, act_ytd)

    # ---- targets frame
    targets = pd.DataFrame(
        {
            "month": bottom["month"].to_numpy(),
            "region": cells["region"].to_numpy()[bottom["cell"]],
            "product_line": cells["product_line"].to_numpy()[bottom["cell"]],
            "customer_type": cells["customer_type"].to_numpy()[bottom["cell"]],
            "rep_id": bottom["rep_id"].to_numpy(),
            "target_revenue": rc_b,
            "target_revenue_no_cushion": r_b,
            "target_customers": np.round(cust_b).astype("int64"),
        }
    )
    for c in [*CELL, "rep_id"]:
        targets[c] = targets[c].astype(str)
    targets["month"] = pd.to_datetime(targets["month"]).astype("datetime64[ns]")
    targets["plan_name"] = plan.name
    targets = targets.sort_values(BOTTOM, kind="stable").reset_index(drop=True)

    # ---- checks: every level adds up
    def add_check(name: str, ok: bool, value: float, detail: str) -> None:
        check_rows.append((name, bool(ok), float(value), detail))

    for col, tot, lbl in [
        ("target_revenue_no_cushion", total, "company target"),
        ("target_revenue", total_c, "company target x (1 + cushion)"),
        ("target_customers", cust_total, "company customer target"),
    ]:
        s = float(targets[col].sum())
        add_check(
            f"{col}: sums to the {lbl}", abs(s - tot) < 1e-6, s - tot, f"{s:,.0f} vs {tot:,.0f}"
        )
    for col, rc, rcm in [
        ("target_revenue_no_cushion", r_c, r_cm),
        ("target_revenue", rc_c, rc_cm),
    ]:
        by_cell = targets.groupby(CELL)[col].sum().reindex(grid).fillna(0).to_numpy()
        add_check(
            f"{col}: cells add up",
            np.allclose(by_cell, rc, atol=1e-6),
            float(np.abs(by_cell - rc).max()),
            "rep targets summed per cell = cell target",
        )
        by_m = targets.groupby("month")[col].sum().reindex(months).fillna(0).to_numpy()
        add_check(
            f"{col}: months add up",
            np.allclose(by_m, rcm.sum(axis=0), atol=1e-6),
            float(np.abs(by_m - rcm.sum(axis=0)).max()),
            "per month",
        )
        mult = np.abs(targets[col] / unit - np.round(targets[col] / unit)).max()
        add_check(f"{col}: multiples of {unit:,.0f}", mult < 1e-6, float(mult), "")
        add_check(
            f"{col}: no negative target", (targets[col] >= 0).all(), float(targets[col].min()), ""
        )
    for g in pin_groups:
        got = float(r_c[g.index].sum())
        add_check(
            f"pin honoured: {g.name}", abs(got - g.target) < 1e-6, got - g.target, f"{got:,.0f}"
        )
    if floor_c is not None:
        slack = float((r_c - floor_c).min())
        add_check(
            "floors honoured (within one rounding unit)",
            slack >= -unit - 1e-6,
            slack,
            "smallest margin of a cell over its floor",
        )
    if cap_c is not None:
        slack = float(np.min(np.where(np.isfinite(cap_c), cap_c - r_c, np.inf)))
        add_check(
            "caps honoured (within one rounding unit)",
            slack >= -unit - 1e-6,
            slack,
            "smallest margin of a cell under its cap",
        )
    if (targets["rep_id"] == UNASSIGNED).any():
        add_check(
            "every target has a rep",
            False,
            float(targets.loc[targets["rep_id"] == UNASSIGNED, "target_revenue"].sum()),
            f"targets assigned to '{UNASSIGNED}': add reps or pin the region",
        )
    for nt in notes:
        add_check("note", True, np.nan, nt)
    checks = pd.DataFrame(check_rows, columns=["check", "ok", "value", "detail"])

    # ---- rep load
    rep_tot = targets.groupby("rep_id")["target_revenue"].sum()
    capsum = cap.groupby("rep_id").agg(
        region=("region", "first"),
        capacity=("capacity", "sum"),
        eff_capacity=("eff_capacity", "sum"),
        months_active=("active_share", "sum"),
        productivity=("productivity", "first"),
    )
    rl = reps_n.set_index("rep_id")[["name", "hire_date", "end_date", "fte"]].join(
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
    rep_load = rl.reset_index().rename(columns={"index": "rep_id"})

    # ---- segments
    tb = targets.assign(cell_i=grid.get_indexer(pd.MultiIndex.from_frame(targets[CELL])))
    seg_rows = []
    hist_ly = hist[hist["month"].isin(lym)]
    hist_ly = hist_ly.assign(**{c: hist_ly[c].astype(str) for c in [*CELL, "rep_id"]})
    mk_cells = cells.assign(market_size=market_c, potential=potential_c, last_year=ly_c)
    for level, ks in LEVELS.items():
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
        seg_rows.append(t)
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
    segments = segments[
        [
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
    ]

    # ---- feasibility
    feas_rows = []
    if have_fc:
        for level, ks in LEVELS.items():
            rows = _fc_rows(forecast, level, months)
            if rows.empty:
                continue
            an = _annual(rows, ks)
            seg = segments[segments["level"] == level]
            f = (
                seg.merge(an, on=ks, how="left")
                if ks
                else seg.assign(fc_mean=an["fc_mean"].iloc[0], fc_sigma=an["fc_sigma"].iloc[0])
            )
            feas_rows.append(f)
    if feas_rows:
        feas = pd.concat(feas_rows, ignore_index=True)
        feas["target"] = np.where(
            feas["level"] == "rep", feas["target_revenue"], feas["target_revenue_no_cushion"]
        )
        sig = feas["fc_sigma"].where(feas["fc_sigma"] > 0)
        feas["forecast_p10"] = feas["fc_mean"] - Z80 * feas["fc_sigma"]
        feas["forecast_p50"] = feas["fc_mean"]
        feas["forecast_p90"] = feas["fc_mean"] + Z80 * feas["fc_sigma"]
        feas["gap"] = feas["target"] - feas["fc_mean"]
        pr = 1 - norm.cdf((feas["target"] - feas["fc_mean"]) / sig)
        det = np.where(feas["target"] <= feas["fc_mean"], 1.0, 0.0)
        feas["p_reach"] = np.where(sig.notna(), pr, np.where(feas["fc_mean"].notna(), det, np.nan))
        feas["flag"] = np.where(
            feas["target"] < feas["forecast_p10"],
            "below P10",
            np.where(feas["target"] > feas["forecast_p90"], "above P90", ""),
        )
        feasibility = feas[
            [
                "level",
                *CELL,
                "rep_id",
                "target",
                "fc_mean",
                "forecast_p10",
                "forecast_p50",
                "forecast_p90",
                "gap",
                "p_reach",
                "flag",
            ]
        ].rename(columns={"fc_mean": "forecast"})
    else:
        feasibility = pd.DataFrame(
            columns=[
                "level",
                *CELL,
                "rep_id",
                "target",
                "forecast",
                "forecast_p10",
                "forecast_p50",
                "forecast_p90",
                "gap",
                "p_reach",
                "flag",
            ]
        )

    # ---- company frame
    comp = []
    fc_p10 = fc_mean - Z80 * fc_sigma if have_fc else np.nan
    fc_p90 = fc_mean + Z80 * fc_sigma if have_fc else np.nan
    p_reach = (
        float(1 - norm.cdf((total - fc_mean) / fc_sigma)) if have_fc and fc_sigma > 0 else np.nan
    )
    period_txt = (
        "fiscal year" if nm == 12 else f"{months[0]:%Y-%m}..{months[-1]:%Y-%m} (mid-year plan)"
    )

    def pct(a: float, b: float) -> str:
        return f"{a / b - 1:+.1%}" if b and np.isfinite(b) and b > 0 else "n/a"

    stmt = (
        f"Revenue target {total:,.0f} {plan.currency} for the {period_txt}: "
        f"{pct(total, ly_total)} vs last year ({ly_total:,.0f})"
    )
    if have_fc:
        stmt += (
            f", {pct(total, fc_mean)} vs the forecast median ({fc_mean:,.0f}; 80% interval "
            f"{fc_p10:,.0f} to {fc_p90:,.0f}); probability of reaching it {p_reach:.0%}"
        )
    else:
        stmt += "; no forecast for these months to compare with"
    comp.append(
        {
            "measure": "revenue",
            "basis": spec.describe(),
            "last_year": ly_total,
            "base_12m": base_total,
            "actual_ytd": ytd_rev,
            "target_full_year": t_fy,
            "target": total,
            "cushion_pct": cush,
            "target_with_cushion": total_c,
            "forecast_median": fc_mean,
            "forecast_p10": fc_p10,
            "forecast_p90": fc_p90,
            "p_reach": p_reach,
            "statement": stmt + ".",
        }
    )
    if cust_company is not None:
        c_fy, bcnt, ay = cust_company
        comp.append(
            {
                "measure": "customers",
                "basis": c_spec.describe(),
                "last_year": bcnt,
                "base_12m": bcnt,
                "actual_ytd": ay,
                "target_full_year": c_fy,
                "target": cust_total,
                "cushion_pct": 0.0,
                "target_with_cushion": cust_total,
                "forecast_median": np.nan,
                "forecast_p10": np.nan,
                "forecast_p90": np.nan,
                "p_reach": np.nan,
                "statement": f"Customer target {cust_total:,.0f} activations "
                f"({pct(c_fy, bcnt)} vs {bcnt:,} active customers in the 12 "
                "months before the cutoff).",
            }
        )
    ms = plan.targets.market_share
    mk_total = float(market_c.sum())
    if ms is not None:
        base_mk = (
            float(market[market["month"].isin(bm)]["market_size"].sum())
            if market is not None and len(market)
            else np.nan
        )
        base_share = base_total / base_mk if base_mk and base_mk > 0 else np.nan
        if ms.kind == "value":
            share_t = ms.amount
        elif ms.kind == "growth":
            share_t = base_share * (1 + ms.amount)
        else:
            if not (have_fc and mk_total > 0):
                raise PlanError(
                    "targets.market_share asks for a forecast percentile, but the "
                    "forecast or the market size for the plan months is missing",
                    fix="set market_share by value or growth",
                )
            share_t = (fc_mean + float(norm.ppf(ms.amount / 100)) * fc_sigma) / mk_total
        implied = share_t * mk_total if mk_total > 0 else np.nan
        own = total / mk_total if mk_total > 0 else np.nan
        ms_stmt = (
            f"Market share target {share_t:.1%} of a market of {mk_total:,.0f} = "
            f"{implied:,.0f} {plan.currency}; the revenue target is {own:.1%} of that "
            "market."
        )
        warn = _share_warning(share_t, own, implied, total, plan.currency)
        if warn:  # also a failed check (shown with the others, like a missing rep)
            ms_stmt += " " + warn
            checks = pd.concat(
                [
                    checks,
                    pd.DataFrame(
                        [
                            (
                                "market share target agrees with the revenue target",
                                False,
                                float(own / share_t - 1),
                                warn,
                            )
                        ],
                        columns=checks.columns,
                    ),
                ],
                ignore_index=True,
            )
        comp.append(
            {
                "measure": "market_share",
                "basis": ms.describe(share=True),
                "last_year": base_share,
                "base_12m": base_share,
                "actual_ytd": np.nan,
                "target_full_year": share_t,
                "target": share_t,
                "cushion_pct": 0.0,
                "target_with_cushion": share_t,
                "forecast_median": fc_mean / mk_total if have_fc and mk_total else np.nan,
                "forecast_p10": np.nan,
                "forecast_p90": np.nan,
                "p_reach": np.nan,
                "statement": ms_stmt,
            }
        )
    company = pd.DataFrame(comp)

    # ---- bridge last year -> target (revenue, no cushion)
    price_part = float((r_c * (1 - 1 / price_mult)).sum())
    promo_part = float((r_c * (1 - 1 / promo_mult)).sum())
    newc = 0.0
    if cust_company is not None and base_cust > 0:
        c_fy, bcnt, _ = cust_company
        scale = ly_total / base_total if base_total > 0 else 1.0
        newc = (c_fy - bcnt) * (base_total / bcnt) * scale
    volume = total - ly_total - price_part - promo_part - newc
    bridge = pd.DataFrame(
        {
            "step": ["last year", "volume", "price", "new customers", "strategies", "target"],
            "amount": [ly_total, volume, price_part, newc, promo_part, total],
            "kind": ["total", "step", "step", "step", "step", "total"],
            "note": [
                "revenue in the comparable months before the cutoff",
                "the rest of the change (existing customers buying more or less)",
                "share of the target due to price strategies: target x (1 - 1/(1+pct))",
                "extra customers x base revenue per customer",
                "share of the target due to promotions (channel shifts move mix only)",
                "company target without cushion",
            ],
        }
    )

    # ---- explanation parts per cell
    parts = cells.copy()
    for k in KEY_NAMES:
        parts[f"key_{k}"] = total * w[k] * cell_keys[k]
    parts["ipf"] = x0 - blend_c
    for s in plan.strategies:
        parts[f"strategy: {s.name}"] = strat_eff[s.name]
    parts["renorm"] = renorm
    parts["constraints"] = constraints
    parts["binding"] = binding
    parts["unrounded"] = x3
    parts["final_nc"] = r_c
    parts["final_c"] = rc_c
    b_unr = x_cm[bottom["cell"].to_numpy(), bottom["m"].to_numpy()] * bottom["share"].to_numpy()
    rs = (
        pd.DataFrame(
            {
                "cell": bottom["cell"],
                "rep_id": bottom["rep_id"],
                "unr": b_unr,
                "final_nc": r_b,
                "final_c": rc_b,
            }
        )
        .groupby(["cell", "rep_id"], as_index=False)
        .sum()
    )
    rs["share"] = rs["unr"] / x3[rs["cell"]].clip(min=1e-300)
    for c in CELL:
        rs[c] = cells[c].to_numpy()[rs["cell"]]
    expl_notes = {
        "key_history": f"weight {w['history']:.0%} x historical share "
        f"({plan.allocation.history_window_months} months to {plan.plan_cutoff})",
        "key_forecast": f"weight {w['forecast']:.0%} x share of the forecast"
        + ("" if have_fc else " (forecast missing: history used)"),
        "key_potential": f"weight {w['potential']:.0%} x share of market potential "
        f"(market x {plan.allocation.potential_share:.0%})",
        "key_equal": f"weight {w['equal']:.0%} x equal share",
        "ipf": "crossing region x product line x customer type at once keeps each cell's "
        "historical weight within the blended margins",
        "renorm": "strategies move the mix; every cell is scaled back so the company total holds",
    }
    return Decomposition(
        plan=plan,
        targets=targets,
        company=company,
        segments=segments,
        feasibility=feasibility,
        rep_load=rep_load,
        checks=checks,
        bridge=bridge,
        keys=keys_df,
        months=months,
        _parts=parts,
        _rep_share=rs,
        _notes=expl_notes,
    )


# --------------------------------------------------------------------------- output


_SHEETS = [
    ("Company", []),
    ("Region", ["region"]),
    ("Product line", ["product_line"]),
    ("Customer type", ["customer_type"]),
    ("Cell", CELL),
    ("Rep", ["region", "rep_id"]),
    ("Month", ["month"]),
]


def _assumptions_table(plan: Plan) -> pd.DataFrame:
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict):
            for k, vv in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), vv)
        elif isinstance(v, list):
            if not v:
                rows.append((prefix, "(none)"))
            for i, vv in enumerate(v):
                walk(f"{prefix}[{i}]", vv)
        else:
            rows.append((prefix, "" if v is None else str(v)))

    walk("", plan.to_dict())
    rows.insert(0, ("plan file", str(plan.source or "(edited in the notebook)")))
    return pd.DataFrame(rows, columns=["assumption", "value"])


def level_tables(dec: Decomposition) -> dict[str, pd.DataFrame]:
    """One table per level (company, region, ..., rep, month) for reports and Excel."""
    t = dec.targets
    vals = ["target_revenue_no_cushion", "target_revenue", "target_customers"]
    out = {}
    for sheet, ks in _SHEETS:
        if ks == ["month"]:
            tab = t.groupby("month", as_index=False)[vals].sum()
            tab["month"] = tab["month"].dt.strftime("%Y-%m")
        elif ks:
            tab = t.groupby(ks, as_index=False)[vals].sum()
            level = "rep" if "rep_id" in ks else ("cell" if len(ks) == 3 else ks[0])
            seg = dec.segments[dec.segments["level"] == level][
                [*ks, "last_year", "growth_vs_last_year"]
            ]
            tab = tab.merge(seg, on=ks, how="left")
            if level == "rep":
                tab = tab.merge(
                    dec.rep_load[["rep_id", "name", "capacity", "load", "flag"]],
                    on="rep_id",
                    how="left",
                )
        else:
            tab = pd.DataFrame([t[vals].sum()])
            seg = dec.segments[dec.segments["level"] == "company"]
            tab["last_year"] = seg["last_year"].to_numpy()
            tab["growth_vs_last_year"] = seg["growth_vs_last_year"].to_numpy()
        out[sheet] = tab
    return out


def write_targets(decomposition: Decomposition, outputs_dir: str | Path) -> dict[str, Path]:
    """Write ``targets.parquet`` (rep targets, with cushion), ``targets_company.parquet``
    (month x cell, without cushion, as the review step reads it), ``targets_summary.parquet``
    (one row per measure) and ``targets.xlsx``.

    The workbook has an *Assumptions* sheet first, then a sheet per level, formatted with
    thousands separators. Files are written under a temporary name and then renamed, and the
    workbook carries a fixed creation date so reruns give identical bytes.
    """
    out = Path(outputs_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "targets": out / "targets.parquet",
        "company": out / "targets_company.parquet",
        "summary": out / "targets_summary.parquet",
        "xlsx": out / "targets.xlsx",
    }
    t = decomposition.targets
    company = (
        t.groupby(["month", *CELL], as_index=False)[
            ["target_revenue_no_cushion", "target_customers"]
        ]
        .sum()
        .rename(columns={"target_revenue_no_cushion": "target_revenue"})
    )
    company["plan_name"] = decomposition.plan.name
    for key, df in (("targets", t), ("company", company), ("summary", decomposition.company)):
        tmp = paths[key].with_name("." + paths[key].name + ".tmp")
        df.to_parquet(tmp, index=False)
        tmp.replace(paths[key])
    tmp = paths["xlsx"].with_name(".targets.xlsx.tmp")
    with pd.ExcelWriter(tmp, engine="xlsxwriter", engine_kwargs=EXCEL_WRITER_KWARGS) as xw:
        wb = xw.book
        wb.set_properties(
            {"title": f"Targets {decomposition.plan.name}", "created": _dt.datetime(2000, 1, 1)}
        )
        money = wb.add_format({"num_format": "#,##0"})
        pctf = wb.add_format({"num_format": "0.0%"})
        head = wb.add_format({"bold": True, "bottom": 1})
        sheets = {"Assumptions": _assumptions_table(decomposition.plan)}
        sheets.update(level_tables(decomposition))
        sheets["Checks"] = decomposition.checks
        for name, df in sheets.items():
            neutralise_frame(df).to_excel(xw, sheet_name=name, index=False)  # no formulas
            ws = xw.sheets[name]
            for j, col in enumerate(df.columns):
                ws.write_string(0, j, neutralise_cell(str(col)), head)
                width = max(12, min(48, len(str(col)) + 2))
                if name == "Assumptions":
                    width = 40 if j == 0 else 60
                fmt = None
                if col in ("growth_vs_last_year", "load"):
                    fmt = pctf if col != "load" else money
                elif pd.api.types.is_numeric_dtype(df[col]) and col != "ok":
                    fmt = money
                ws.set_column(j, j, width, fmt)
            ws.freeze_panes(1, 0)
    tmp.replace(paths["xlsx"])
    return paths


# --------------------------------------------------------------------------- notebook helpers


@dataclass(frozen=True)
class TargetParams:
    """Validated parameters of notebook 03 (see :func:`target_parameters`)."""

    period: str
    scenario_name: str
    explain_rep: str
    forecast_from_cutoff: bool


def target_parameters(
    *,
    period: str = "",
    scenario_name: str = "",
    explain_rep: str = "",
    forecast_from_cutoff: bool = True,
) -> TargetParams:
    """Check the notebook's parameters; raise :class:`PlanError` with the fix when malformed."""
    import re

    def bad(name: str, value: Any, expected: str) -> PlanError:
        return PlanError(
            f"the notebook parameter '{name}' is {value!r}, which is not {expected}",
            fix=f"set '{name}' to {expected} (parameters cell or `-p {name} ...`)",
        )

    if not isinstance(period, str) or (
        period and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period)
    ):
        raise bad("period", period, 'a month "YYYY-MM" or ""')
    if (
        not isinstance(scenario_name, str)
        or re.search(r'[\\/:*?"<>|\x00-\x1f]', scenario_name)
        or scenario_name.startswith(".")
        or len(scenario_name) > 100
    ):
        raise bad("scenario_name", scenario_name, 'a short name usable as a file name, or ""')
    if not isinstance(explain_rep, str):
        raise bad("explain_rep", explain_rep, 'a rep_id or ""')
    if not isinstance(forecast_from_cutoff, bool):
        raise bad("forecast_from_cutoff", forecast_from_cutoff, "True or False")
    return TargetParams(period, scenario_name.strip(), explain_rep.strip(), forecast_from_cutoff)


def forecast_covers(forecast: pd.DataFrame | None, plan: Plan) -> bool:
    """Whether ``forecast`` has the company total for every month the plan covers."""
    if forecast is None or len(forecast) == 0:
        return False
    return len(_fc_rows(forecast, "company", plan_months(plan))) == len(plan_months(plan))


PLAN_FORECAST_ATTR = "salesanalysis.plan_forecast"
"""Key in ``DataFrame.attrs`` of the plan-cutoff forecast holding its fingerprint; pandas keeps
``attrs`` in the Parquet file's metadata, so the fingerprint travels with
``outputs/forecast_plan.parquet`` through ``RunContext.write``/``read``."""
_PLAN_FC_VERSION = 1
_PLAN_FC_METHOD = "fast"
_PLAN_FC_DETAIL = "cell"


def _history_digest(cube: pd.DataFrame, cutoff: pd.Timestamp) -> str:
    """A stable hash of the cube rows up to ``cutoff`` that a forecast reads (month, the keys,
    revenue): independent of row order, column order, extra columns and the month's dtype."""
    month = pd.to_datetime(cube["month"])
    keep = (month <= cutoff).to_numpy()
    month = month[keep]
    d = pd.DataFrame({"month": (month.dt.year * 12 + month.dt.month - 1).to_numpy("int64")})
    for c in [*DIMENSIONS, "rep_id"]:
        d[c] = cube.loc[keep, c].astype(str).to_numpy()
    d["revenue"] = (
        pd.to_numeric(cube.loc[keep, "revenue"], errors="coerce")
        .fillna(0.0)
        .astype("float64")
        .to_numpy()
    )
    d = d.sort_values(list(d.columns)).reset_index(drop=True)
    h = hashlib.sha256(",".join(d.columns).encode())
    h.update(pd.util.hash_pandas_object(d, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _left_by(reps: pd.DataFrame | None, cutoff: pd.Period) -> list[str]:
    """Reps whose end_date is before the first month after ``cutoff`` (sorted ids)."""
    from salesanalysis.forecast.hierarchy import reps_left_before

    return reps_left_before(reps, _ts(cutoff + 1))


def plan_forecast_fingerprint(
    cube: pd.DataFrame, plan: Plan, reps: pd.DataFrame | None = None
) -> dict[str, Any]:
    """What a forecast from the plan cutoff is made from: a hash of the cube up to the cutoff
    and the settings (cutoff, last month and horizon, interval levels, method, detail).

    :func:`forecast_for_plan` stores it in the new forecast's ``attrs`` and accepts a cached
    forecast only when its fingerprint equals this one.
    """
    last = pd.Period(f"{plan.fiscal_year}-12", "M")
    return {
        "version": _PLAN_FC_VERSION,
        "data": _history_digest(cube, _ts(plan.cutoff_period)),
        "cutoff": str(plan.cutoff_period),
        "last_month": str(last),
        "horizon": int((last - plan.cutoff_period).n),
        "levels": sorted({int(lv) for lv in plan.forecast.levels}),
        "method": _PLAN_FC_METHOD,
        "detail": _PLAN_FC_DETAIL,
        "left_reps": _left_by(reps, plan.cutoff_period),
    }


def _cache_rejection(cached: pd.DataFrame, plan: Plan, want: dict[str, Any]) -> str | None:
    """Why the cached plan-cutoff forecast cannot be used, as '... forecast <why>' (None: it can)."""
    if not forecast_covers(cached, plan) or pd.Timestamp(cached["month"].min()) != _ts(
        plan.cutoff_period + 1
    ):
        return "does not start after the cutoff or misses plan months"
    have = cached.attrs.get(PLAN_FORECAST_ATTR)
    if not isinstance(have, dict) or have.get("version") != want["version"]:
        return "does not record what it was made from (an older file)"
    if any(have.get(k) != want[k] for k in ("cutoff", "last_month", "horizon")):
        return "was made for another cutoff or horizon"
    if have.get("data") != want["data"] or have.get("left_reps", []) != want["left_reps"]:
        return "was made from other data"
    if have.get("levels") != want["levels"]:
        return (
            f"was made with other interval levels ({', '.join(map(str, have.get('levels') or []))}"
            f" instead of {', '.join(map(str, want['levels']))})"
        )
    if any(have.get(k) != want[k] for k in ("method", "detail")):
        return "was made with other forecast settings"
    return None


def forecast_for_plan(
    cube: pd.DataFrame,
    plan: Plan,
    run_forecast: pd.DataFrame | None,
    cached: pd.DataFrame | None = None,
    refit: bool = True,
    reps: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame | None, str, bool]:
    """The forecast the plan should use: ``(frame, where it came from, newly made)``.

    The run's forecast when it covers the plan months; else a cached forecast made from the
    plan cutoff (``outputs/forecast_plan.parquet``) when it was made from the same inputs;
    else, when ``refit``, a new hierarchical forecast from the plan cutoff (cells and reps, the
    engine's fast setting) to the end of the fiscal year. A plan made in December and reviewed
    in October needs the latter: the run's forecast starts after the report month.

    A new forecast carries :func:`plan_forecast_fingerprint` in ``attrs[PLAN_FORECAST_ATTR]``,
    which ``RunContext.write`` keeps in the Parquet file's metadata and ``RunContext.read``
    restores. The cache is used only when it covers the plan months from the month after the
    cutoff and its fingerprint matches: same cube rows up to the cutoff (month, keys, revenue),
    cutoff, horizon, interval levels (``plan.forecast.levels``), method, detail, and the reps
    who had left by the cutoff (``reps``: they are forecast at 0, see
    :func:`salesanalysis.forecast.hierarchy.reps_gone`). A cache
    without a fingerprint (an older file) is not used. When a cache is not used, the returned
    source says why.
    """
    if forecast_covers(run_forecast, plan):
        return run_forecast, "the run's forecast (outputs/forecast.parquet)", False
    has_cache = cached is not None and len(cached) > 0
    if not has_cache and not refit:
        return run_forecast, "the run's forecast (it misses plan months)", False
    want = plan_forecast_fingerprint(cube, plan, reps)
    why = _cache_rejection(cached, plan, want) if has_cache else ""
    if why is None:
        return cached, f"the forecast made from the plan cutoff {plan.plan_cutoff} (cached)", False
    rejected = f"the cached plan-cutoff forecast {why}" if why else ""
    if not refit:
        return run_forecast, f"the run's forecast (it misses plan months; {rejected})", False
    from salesanalysis.forecast import hierarchy as H

    fc = H.forecast_hierarchy(
        cube[cube["month"] <= _ts(plan.cutoff_period)],
        plan.plan_cutoff,
        want["horizon"],
        levels=plan.forecast.levels,
        detail=_PLAN_FC_DETAIL,
        method=_PLAN_FC_METHOD,
        accuracy_origins=0,
        reps=reps,
    ).forecast
    fc.attrs[PLAN_FORECAST_ATTR] = want
    source = (
        f"a forecast made from the plan cutoff {plan.plan_cutoff} ({want['horizon']} "
        "months, cells and reps, fast setting)"
    )
    return fc, (f"{source}: {rejected}; forecast again" if rejected else source), True
