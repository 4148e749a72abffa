"""Demand meets supply: each region's target against what its reps can carry.

The keys say where the revenue can come from; the team's effective capacity
(:mod:`salesanalysis.targets.capacity`) says who can sell it. A region's *load* is its target
per unit of effective capacity; the band (``reps.load_band``, else ``reps.load_flag_pct``) keeps
each region within ``[L / h, L x h]`` of a reference load ``L``, ``h`` =
:func:`salesanalysis.targets.reps.band_half` (the other half of the band is the reps' book
factors within a region). ``reps.capacity_policy`` decides what happens to a region outside it:

- ``rebalance``: region totals are moved into the band: ``L`` is the load at which
  ``sum_r clip(demand_r, C_r L / h, C_r L h)`` (each region also within the sums of its cells'
  floors and caps) equals the demand of the regions that may move; the cells of a region are
  then refitted to its new total with the pins, floors and caps
  (:func:`salesanalysis.targets.kernels.fit_constraints`). A region whose move would break a
  pin (a smallest conflicting set, :func:`~salesanalysis.targets.kernels.find_conflict`) is
  held and says so.
- ``hire``: ``L`` is the median load of the team (weighted by capacity). Regions under the band
  are raised to its floor, paid for by the regions above it in proportion to their excess (when
  those can pay; otherwise as ``rebalance``, and nobody needs to be hired). What a region's team
  still cannot carry above ``L x h`` goes to to-be-hired reps ``TBH-<region>-<n>``: the fewest
  that can carry it, from the latest plan month from which, ramping up, they still can; the
  headcount plan lists them with the revenue at risk per month of delay (the target the hires
  would no longer carry if they started a month later, at the region's load). The need is
  judged month by month (:func:`tbh_plan`): each month's target is shared by the reps in post
  that month, so hires relieve the team only from their start month; the team's load over the
  year with them (``team_load_after``, :func:`team_load`) must be within the band's top too,
  which may need more hires, or an earlier start, than the annual totals alone.
- ``flag``: nothing moves; reps outside the band are flagged.

``reps.allocation: equal_capacity`` is ``rebalance`` with a band of 0 (every region the same
target per unit of effective capacity where pins, floors and caps allow);
``history_share`` moves nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pandas as pd

from salesanalysis.i18n import tr
from salesanalysis.targets import capacity
from salesanalysis.targets.cells import PlanCells
from salesanalysis.targets.checks import CheckRow
from salesanalysis.targets.constraints import Constrained
from salesanalysis.targets.kernels import Group, find_conflict, fit_constraints
from salesanalysis.targets.periods import PlanWindows
from salesanalysis.targets.phasing import phase_to_months
from salesanalysis.targets.plan import Plan
from salesanalysis.targets.reps import TBH_PREFIX, Team, band_half, team_capacity

__all__ = [
    "HEADCOUNT_COLUMNS",
    "REGION_COLUMNS",
    "Balance",
    "match_capacity",
    "region_loads",
    "start_capacity",
    "start_profiles",
    "tbh_plan",
    "team_load",
]

HEADCOUNT_COLUMNS = [
    "region",
    "count",
    "latest_start",
    "rep_ids",
    "capacity_needed",
    "capacity_added",
    "target_revenue",
    "revenue_at_risk_per_month",
]
REGION_COLUMNS = [
    "region",
    "reps",
    "eff_capacity",
    "demand",
    "load_before",
    "target",
    "change",
    "tbh",
    "tbh_capacity",
    "load_after",
    "team_load_after",
    "rule",
]


@dataclass(frozen=True)
class Balance:
    """What matching the targets to capacity did.

    Attributes:
        fitted: the cells after the region totals (pins, floors and caps held).
        team: the team's capacity with the to-be-hired reps.
        reference: the reference load ``L`` (target per unit of effective capacity).
        regions: :data:`REGION_COLUMNS` per region (annual, without cushion).
        headcount: :data:`HEADCOUNT_COLUMNS` per region that needs hires (``target_revenue``
            is filled in from the final targets by :func:`salesanalysis.targets.decompose`).
        rules: per region, the sentence of what the policy did ('' when in the band).
    """

    fitted: Constrained
    team: Team
    reference: float
    regions: pd.DataFrame
    headcount: pd.DataFrame
    rules: dict[str, str]
    checks: tuple[CheckRow, ...] = ()
    notes: tuple[str, ...] = ()


def region_loads(x: np.ndarray, cell_regions: np.ndarray, cap: pd.Series) -> pd.DataFrame:
    """Demand (sum of the cells), effective capacity and load per region."""
    d = pd.Series(np.asarray(x, float)).groupby(cell_regions).sum()
    c = cap.reindex(d.index).fillna(0.0)
    return pd.DataFrame(
        {"demand": d, "eff_capacity": c, "load": (d / c.where(c > 0)).to_numpy()}, index=d.index
    )


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    ok = np.isfinite(values) & (weights > 0)
    if not ok.any():
        return float("nan")
    v, w = values[ok], weights[ok]
    o = np.argsort(v, kind="stable")
    cw = np.cumsum(w[o])
    return float(v[o][np.searchsorted(cw, cw[-1] / 2.0)])


def _solve_band(
    d: np.ndarray, c: np.ndarray, lo: np.ndarray, hi: np.ndarray, h: float
) -> tuple[np.ndarray, float]:
    """Region totals ``clip(clip(d, c L / h, c L h), lo, hi)`` summing to ``d.sum()``: the
    reference load ``L`` by bisection (the sum is monotone in ``L``)."""
    budget = float(d.sum())
    if len(d) == 0 or budget <= 0 or not (c > 0).any():
        return d.copy(), float("nan")

    def tot(load: float) -> np.ndarray:
        band = np.clip(d, c * load / h, c * load * h)
        return np.clip(np.where(c > 0, band, d), lo, hi)

    a, b = 0.0, float(np.nanmax(np.where(c > 0, d / np.where(c > 0, c, 1), 0))) * h * 4 + 1.0
    for _ in range(200):
        mid = (a + b) / 2
        if tot(mid).sum() < budget:
            a = mid
        else:
            b = mid
    t = tot(b)
    res = budget - t.sum()
    room = np.where(res > 0, hi - t, t - lo)
    j = int(np.argmax(room))
    t[j] += res
    return t, b


def _bounds(fitted: Constrained, cell_regions: np.ndarray, regions: pd.Index):
    n = len(fitted.cells)
    lo = np.zeros(n) if fitted.floor is None else np.asarray(fitted.floor, float)
    hi = np.full(n, np.inf) if fitted.cap is None else np.asarray(fitted.cap, float)
    lo_r = pd.Series(lo).groupby(cell_regions).sum().reindex(regions).to_numpy()
    hi_r = pd.Series(hi).groupby(cell_regions).sum().reindex(regions).to_numpy()
    return lo_r, hi_r


def _region_targets(
    rl: pd.DataFrame,
    held: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    policy: str,
    h: float,
) -> tuple[np.ndarray, float]:
    """The region totals of a policy and the reference load (see the module docstring)."""
    d, c = rl["demand"].to_numpy(float), rl["eff_capacity"].to_numpy(float)
    t = d.copy()
    free = ~held
    if policy == "flag" or not free.any():
        ref = _weighted_median(rl["load"].to_numpy(float), c)
        return t, ref
    t_f, ref_b = _solve_band(d[free], c[free], lo[free], hi[free], h)
    if policy == "rebalance":
        t[free] = t_f
        return t, ref_b
    ref = _weighted_median(rl["load"].to_numpy(float), c)
    if not np.isfinite(ref) or ref <= 0:
        t[free] = t_f
        return t, ref_b
    has = free & (c > 0)
    up = np.where(has, (np.minimum(c * ref / h, hi) - d).clip(min=0), 0.0)
    avail = np.where(has, (d - np.maximum(c * ref * h, lo)).clip(min=0), 0.0)
    if up.sum() <= avail.sum() + 1e-9:
        t = d + up - (avail * (up.sum() / avail.sum()) if avail.sum() > 0 else 0.0)
        return t, ref
    t[free] = t_f
    return t, ref_b


def _fit_regions(
    fitted: Constrained, cell_regions: np.ndarray, regions: pd.Index, t: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Cells refitted to the region totals ``t`` with the pins, floors and caps; the regions
    whose totals conflict with them (held at their demand) are returned by name."""
    n = len(fitted.cells)
    idx = {r: np.flatnonzero(cell_regions == r) for r in regions}
    groups = [Group(f"region {r}", idx[r], float(t[i])) for i, r in enumerate(regions)]
    conflict = find_conflict(n, [*groups, *fitted.pins], fitted.floor, fitted.cap)
    if conflict:
        return fitted.cells, [g.name[len("region ") :] for g in groups if g.name in conflict]
    x, _, _ = fit_constraints(fitted.cells, [*groups, *fitted.pins], fitted.floor, fitted.cap)
    return x, []


def _pinned(fitted: Constrained, cell_regions: np.ndarray, regions: pd.Index) -> np.ndarray:
    """Regions whose every cell is in one revenue pin (their total cannot move)."""
    out = np.zeros(len(regions), bool)
    for i, r in enumerate(regions):
        cells_r = set(np.flatnonzero(cell_regions == r).tolist())
        out[i] = any(cells_r <= set(np.asarray(g.index, int).tolist()) for g in fitted.pins)
    return out


def start_profiles(win: PlanWindows, plan: Plan) -> np.ndarray:
    """A new full-time hire's capacity in each plan month (columns) by the plan month they
    start (rows, on its first day), with the plan's ramp."""
    s = plan.reps
    key = tuple(pd.Timestamp(m) for m in win.months)
    return _start_profiles(key, s.ramp_months, s.ramp_curve, s.ramp_start).copy()


@lru_cache(maxsize=64)
def _start_profiles(
    months: tuple[pd.Timestamp, ...], ramp_months: int, ramp_curve: str, ramp_start: float
) -> np.ndarray:
    starts = pd.DataFrame({"rep_id": [str(j) for j in range(len(months))], "hire_date": months})
    cap = capacity.rep_capacity(
        starts, list(months), ramp_months=ramp_months, ramp_curve=ramp_curve, ramp_start=ramp_start
    )
    return cap["capacity"].to_numpy(dtype=float).reshape(len(months), len(months))


def start_capacity(win: PlanWindows, plan: Plan) -> np.ndarray:
    """A new full-time hire's capacity over the plan months, by the plan month they start
    (on its first day), with the plan's ramp."""
    return start_profiles(win, plan).sum(axis=1)


def team_load(demand: np.ndarray, team: np.ndarray, added: np.ndarray) -> float:
    """The load (target per unit of capacity over the year) of a region's team in post when
    hires with monthly capacity ``added`` join it: each month's target is shared in proportion
    to capacity, so in the months before the hires are in post the team carries it alone."""
    c = float(team.sum())
    if c <= 0:
        return 0.0
    tot = team + added
    share = np.divide(team, tot, out=np.zeros_like(team), where=tot > 0)
    return float((demand * share).sum() / c)


def tbh_plan(
    region: str,
    demand: np.ndarray,
    team: np.ndarray,
    top: float,
    months: list[pd.Timestamp],
    profiles: np.ndarray,
) -> tuple[pd.DataFrame, dict]:
    """To-be-hired reps for a region whose target the team cannot carry within the band's top
    ``top``, month by month: the fewest that, starting in the first plan month, keep both the
    region's load and its team's (:func:`team_load`) at most ``top``; then the latest plan month
    from which that many, ramping up, still do.

    Args:
        demand: the region's target in each plan month.
        team: the team's effective capacity in each plan month.
        profiles: a hire's capacity by start month (rows) and month (:func:`start_profiles`).

    Returns the rep rows (``rep_id, name, region, hire_date, end_date, fte, tbh``) and the
    headcount row (:data:`HEADCOUNT_COLUMNS` without ``target_revenue``)."""
    total, c = float(demand.sum()), float(team.sum())
    per = profiles.sum(axis=1)
    need = total / top - c
    tol = 1 + 1e-9

    def ok(n: int, j: int) -> bool:
        if total / (c + n * per[j]) > top * tol:
            return False
        return team_load(demand, team, n * profiles[j]) <= top * tol

    count = max(1, math.ceil(need / per[0] - 1e-9))
    while not ok(count, 0) and count < 10_000:
        count += 1
    fit = [j for j in range(len(per)) if per[j] > 0 and ok(count, j)]
    j = max(fit) if fit else 0
    nxt = per[j + 1] if j + 1 < len(per) else 0.0
    load = total / (c + count * per[j])
    ids = [f"{TBH_PREFIX}{region}-{i + 1}" for i in range(count)]
    rows = pd.DataFrame(
        {
            "rep_id": ids,
            "name": [tr("TBH {region} {n}").format(region=region, n=i + 1) for i in range(count)],
            "region": region,
            "hire_date": pd.Timestamp(months[j]),
            "end_date": pd.NaT,
            "fte": 1.0,
            "tbh": True,
        }
    )
    head = {
        "region": region,
        "count": count,
        "latest_start": pd.Timestamp(months[j]).strftime("%Y-%m"),
        "rep_ids": ", ".join(ids),
        "capacity_needed": float(need),
        "capacity_added": float(count * per[j]),
        "revenue_at_risk_per_month": float(count * (per[j] - nxt) * load),
    }
    return rows, head


def _money(x: float, currency: str = "") -> str:
    from salesanalysis.report.formatting import money

    return money(x, currency)


def _rule(row: pd.Series, held: bool, policy: str, lo: float, hi: float, currency: str) -> str:
    """The sentence of what the policy did in one region."""
    out_band = not (lo - 1e-6 <= row["load_before"] <= hi + 1e-6) if row["eff_capacity"] else 0
    parts = []
    if abs(row["change"]) > 0.5:
        text = (
            tr("{policy}: target raised by {amount}")
            if row["change"] > 0
            else tr("{policy}: target lowered by {amount}")
        )
        parts.append(text.format(policy=tr(policy), amount=_money(abs(row["change"]), currency)))
    if row["tbh"] > 0:
        parts.append(
            tr("hire: {n} to-be-hired rep(s) carry what the team cannot").format(n=int(row["tbh"]))
        )
    if held and out_band and not parts:
        parts.append(tr("held by pins, floors or caps: outside the band"))
    if out_band and not parts:
        parts.append(tr("flag: outside the band, nothing moved"))
    return "; ".join(parts)


def match_capacity(
    fitted: Constrained,
    cells: PlanCells,
    team: Team,
    reps: pd.DataFrame,
    hist: pd.DataFrame,
    customers: pd.DataFrame | None,
    win: PlanWindows,
    plan: Plan,
) -> Balance:
    """Match each region's target to its team's effective capacity by ``reps.capacity_policy``
    (module docstring). ``reps``, ``hist``, ``customers`` remake the team with the to-be-hired
    reps (:func:`salesanalysis.targets.reps.team_capacity`)."""
    s = plan.reps
    policy, h = s.capacity_policy, band_half(s.band)
    if s.allocation == "history_share":
        policy = "flag"
    elif s.allocation == "equal_capacity":
        policy, h = "rebalance", 1.0
    cell_regions = cells.cells["region"].astype(str).to_numpy()
    rl = region_loads(fitted.cells, cell_regions, team.region_capacity())
    regions = rl.index
    lo, hi = _bounds(fitted, cell_regions, regions)
    held = (rl["eff_capacity"] <= 0).to_numpy() | _pinned(fitted, cell_regions, regions)
    x = fitted.cells
    for _ in range(len(regions) + 1):
        t, ref = _region_targets(rl, held, lo, hi, policy, h)
        if policy == "flag" or np.allclose(t, rl["demand"].to_numpy(), rtol=0, atol=1e-6):
            break
        x, stuck = _fit_regions(fitted, cell_regions, regions, t)
        if not stuck:
            break
        held = held | regions.isin(stuck)
        x = fitted.cells
    t_after = pd.Series(x).groupby(cell_regions).sum().reindex(regions).to_numpy()
    demand_m, team_m = _monthly(x, cells, cell_regions, regions, team, win, plan)
    new_reps, heads = [], []
    if policy == "hire" and np.isfinite(ref) and ref > 0:
        c = rl["eff_capacity"].to_numpy()
        profiles = start_profiles(win, plan)
        for i, r in enumerate(regions):
            top = ref * h
            over = t_after[i] / top - c[i] > 1e-6 * max(1.0, c[i])
            late = team_load(demand_m[i], team_m[i], np.zeros(len(win.months))) > top * (1 + 1e-6)
            if (over or late) and t_after[i] > 0:
                rows, head = tbh_plan(str(r), demand_m[i], team_m[i], top, win.months, profiles)
                new_reps.append(rows)
                heads.append(head)
    team2 = team
    if new_reps:
        all_reps = pd.concat([reps.assign(tbh=False), *new_reps], ignore_index=True)
        team2 = team_capacity(all_reps, hist, customers, win, plan, base=team)
    headcount = pd.DataFrame(
        heads, columns=[c for c in HEADCOUNT_COLUMNS if c != "target_revenue"]
    )
    headcount.insert(6, "target_revenue", np.nan)
    table = _region_table(rl, t_after, team2, headcount, held, policy, ref, h, plan)
    table["team_load_after"] = _team_loads(demand_m, team_m, team2, regions, win)
    table = table[REGION_COLUMNS]
    rules = dict(zip(table["region"], table["rule"], strict=True))
    con = _with_balance(fitted, x, cell_regions, rules)
    checks, notes = _balance_checks(table, policy, ref, h, plan)
    return Balance(con, team2, float(ref), table, headcount, rules, checks, notes)


def _monthly(
    x: np.ndarray,
    cells: PlanCells,
    cell_regions: np.ndarray,
    regions: pd.Index,
    team: Team,
    win: PlanWindows,
    plan: Plan,
) -> tuple[np.ndarray, np.ndarray]:
    """Each region's target (cells ``x`` phased as the plan phases them) and its team's
    effective capacity, by plan month (regions x months)."""
    cm = phase_to_months(np.asarray(x, float), cells, win, plan).cell_months
    demand = pd.DataFrame(cm).groupby(cell_regions).sum().reindex(regions).fillna(0.0)
    cap = team.capacity
    cap = cap[~cap["rep_id"].astype(str).str.startswith(TBH_PREFIX)]
    tm = cap.pivot_table(index="region", columns="month", values="eff_capacity", aggfunc="sum")
    tm = tm.reindex(index=regions, columns=win.months).fillna(0.0)
    return demand.to_numpy(dtype=float), tm.to_numpy(dtype=float)


def _team_loads(
    demand: np.ndarray, team_m: np.ndarray, team2: Team, regions: pd.Index, win: PlanWindows
) -> np.ndarray:
    """Per region, the load of the team in post with the hires in post from their start
    (:func:`team_load`)."""
    cap = team2.capacity
    tbh = cap[cap["rep_id"].astype(str).str.startswith(TBH_PREFIX)]
    added = tbh.pivot_table(index="region", columns="month", values="eff_capacity", aggfunc="sum")
    added = added.reindex(index=regions, columns=win.months).fillna(0.0).to_numpy(dtype=float)
    return np.array(
        [team_load(demand[i], team_m[i], added[i]) for i in range(len(regions))], dtype=float
    )


def _region_table(
    rl: pd.DataFrame,
    t_after: np.ndarray,
    team2: Team,
    headcount: pd.DataFrame,
    held: np.ndarray,
    policy: str,
    ref: float,
    h: float,
    plan: Plan,
) -> pd.DataFrame:
    cap2 = team2.capacity
    tbh_cap = cap2[cap2["rep_id"].str.startswith(TBH_PREFIX)].groupby("region")["eff_capacity"]
    reps_n = cap2[~cap2["rep_id"].str.startswith(TBH_PREFIX)].groupby("region")["rep_id"]
    tab = pd.DataFrame(
        {
            "region": rl.index.astype(str),
            "reps": reps_n.nunique().reindex(rl.index).fillna(0).astype(int).to_numpy(),
            "eff_capacity": rl["eff_capacity"].to_numpy(),
            "demand": rl["demand"].to_numpy(),
            "load_before": rl["load"].to_numpy(),
            "target": t_after,
        }
    )
    tab["change"] = tab["target"] - tab["demand"]
    cnt = headcount.set_index("region")["count"] if len(headcount) else pd.Series(dtype=int)
    tab["tbh"] = cnt.reindex(tab["region"]).fillna(0).astype(int).to_numpy()
    tab["tbh_capacity"] = tbh_cap.sum().reindex(tab["region"]).fillna(0.0).to_numpy()
    cap_all = tab["eff_capacity"] + tab["tbh_capacity"]
    tab["load_after"] = tab["target"] / cap_all.where(cap_all > 0)
    lo, hi = (ref / h, ref * h) if np.isfinite(ref) else (-np.inf, np.inf)
    tab["rule"] = [
        _rule(r, bool(held[i]), policy, lo, hi, plan.currency) for i, r in tab.iterrows()
    ]
    return tab


def _with_balance(
    fitted: Constrained, x: np.ndarray, cell_regions: np.ndarray, rules: dict[str, str]
) -> Constrained:
    """The constrained cells with the capacity move folded into ``change`` and ``binding``."""
    if np.array_equal(x, fitted.cells):
        return fitted
    moved = np.abs(x - fitted.cells) > 1e-9
    binding = [
        "; ".join(p for p in (b, tr("capacity: ") + rules.get(str(r), "")) if p) if m else b
        for b, r, m in zip(fitted.binding, cell_regions, moved, strict=True)
    ]
    return replace(fitted, cells=x, change=fitted.change + (x - fitted.cells), binding=binding)


def _balance_checks(
    tab: pd.DataFrame, policy: str, ref: float, h: float, plan: Plan
) -> tuple[tuple[CheckRow, ...], tuple[str, ...]]:
    """The check that every out-of-band region was handled (rebalance, hire), and the note of
    what the policy did."""
    if not np.isfinite(ref):
        return (), ()
    lo, hi = ref / h - 1e-6 * ref, ref * h + 1e-6 * ref
    out = tab[(tab["eff_capacity"] > 0) & ~tab["load_before"].between(lo, hi)]
    after = tab["load_after"]
    # with hires, the region's load may sit under the band: they are sized so that the team in
    # post stays within it month by month, before they are in post and while they ramp up
    region_ok = after.between(lo, hi) | ((tab["tbh"] > 0) & (after <= hi))
    team_over = tab["team_load_after"] > hi
    still = tab[(tab["eff_capacity"] > 0) & (~region_ok | team_over)]
    notes = [
        tr(
            "capacity policy {policy}: reference load {ref} per unit of effective capacity, "
            "band {lo} to {hi}; "
        ).format(
            policy=tr(policy),
            ref=_money(ref, plan.currency),
            lo=_money(ref / h),
            hi=_money(ref * h),
        )
        + (
            "; ".join(f"{r.region}: {r.rule}" for r in tab.itertuples() if r.rule)
            or tr("every region within the band")
        )
    ]
    if policy == "flag":
        return (), tuple(notes)
    check: CheckRow = (
        tr("capacity ({policy}): every out-of-band region rebalanced or carried by hires").format(
            policy=tr(policy)
        ),
        bool(len(still) == 0),
        float(len(still)),
        tr("{before} region(s) outside the band before, {after} after").format(
            before=len(out), after=len(still)
        )
        + (f": {', '.join(still['region'])} ({'; '.join(still['rule'])})" if len(still) else "")
        + (
            tr(
                "; month by month: each month's target is shared by the reps in post that month, "
                "so hires relieve the team only from their start month; the team's load with "
                "them is within the band (a region with hires may sit under it: they are sized "
                "for the months before they ramp up)"
            )
            if policy == "hire"
            else ""
        ),
    )
    return (check,), tuple(notes)
