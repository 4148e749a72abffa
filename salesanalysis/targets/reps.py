"""Reps: the team's capacity, how a cell's monthly target is split over a region's reps, and
each rep's load.

**Effective capacity** (:mod:`salesanalysis.targets.capacity`, the one rule): fte x share of
the month active x ramp factor x productivity index ^ ``reps.productivity_weight``. A rep who
changed region (``prev_region``, ``region_from``) has capacity in each region for the months
spent there.

**Within a region** (``reps.allocation: capacity_and_book``), each cell-month is split over the
region's reps active that month in proportion to effective capacity x book factor, the book
factor = ``(1 - b) + b x book index`` with ``b = reps.book_weight`` and the book index = the
revenue of the accounts the rep holds (customers whose home cell is the rep's, their base-window
revenue) per unit of effective capacity, over the region's. The factors are normalised to a
capacity-weighted mean of 1 and kept within the inner half of the load band
(:func:`band_half`), so the book moves a rep's load by at most that much; a rep without
history, a new hire's empty book and a to-be-hired rep count at factor 1 after normalising.
``history_share``: reps share a region's targets by their base-window revenue (a rep without
any by the region's median revenue per unit of capacity). ``equal_capacity``: factor 1.

A region without an active rep in a month gives that month's targets to :data:`UNASSIGNED`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesanalysis.data.counting import home_cells
from salesanalysis.i18n import tr
from salesanalysis.targets import capacity
from salesanalysis.targets.checks import CheckRow
from salesanalysis.targets.periods import PlanWindows, base_months
from salesanalysis.targets.plan import Plan

__all__ = [
    "TBH_PREFIX",
    "UNASSIGNED",
    "RepSplit",
    "Team",
    "band_half",
    "book_factors",
    "productivity",
    "rep_capacity",
    "rep_load",
    "rep_month_table",
    "split_to_reps",
    "team_capacity",
    "unassigned_check",
]

UNASSIGNED = "(unassigned)"
TBH_PREFIX = "TBH-"  # to-be-hired placeholder reps: TBH-<region>-<n>


def band_half(band: float) -> float:
    """The multiplicative half of the load band each of the two levels may use: region loads
    within ``[L / h, L x h]`` and book factors within ``[1 / h, h]``, ``h = sqrt(1 + 0.9 x
    band)``, so that a rep's load stays within ``(1 +/- band)`` of the reference with a
    margin of a tenth of the band for the median moving."""
    return float(np.sqrt(1.0 + 0.9 * float(band)))


def rep_capacity(reps: pd.DataFrame, months: list[pd.Timestamp], plan: Plan) -> pd.DataFrame:
    """Capacity of every rep in every month: ``fte x share of the month active x ramp``.

    The rules are :mod:`salesanalysis.targets.capacity`'s (shared with the review), with the plan's
    ``reps`` ramp settings: a rep without a hire date counts as fully ramped; months before the
    hire month or after the end date have no capacity.

    Returns ``rep_id, region, month, active_share, ramp, capacity`` (rep by rep; ``region`` is
    the rep's region in that month).
    """
    s = plan.reps
    cap = capacity.rep_capacity(
        reps, months, ramp_months=s.ramp_months, ramp_curve=s.ramp_curve, ramp_start=s.ramp_start
    )
    return cap[["rep_id", "region", "month", "active_share", "ramp", "capacity"]]


def productivity(cube: pd.DataFrame, reps: pd.DataFrame, plan: Plan) -> pd.Series:
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


def _books(customers: pd.DataFrame | None, plan: Plan) -> pd.Series:
    """Base-window revenue of the accounts each rep holds, per ``(rep_id, region)``: every
    active customer's revenue (all their cells) goes to their home cell's rep and region."""
    if customers is None or len(customers) == 0:
        return pd.Series(dtype=float)
    bm = base_months(plan)
    hc = home_cells(customers, bm)
    if len(hc) == 0:
        return pd.Series(dtype=float)
    w = customers[pd.to_datetime(customers["month"]).isin(bm)]
    tot = w.groupby(w["customer_id"].astype(str))["revenue"].sum()
    hc = hc.assign(book=tot.reindex(hc["customer_id"].astype(str)).fillna(0.0).to_numpy())
    return hc.groupby([hc["rep_id"].astype(str), hc["region"].astype(str)])["book"].sum()


def book_factors(
    eff: pd.DataFrame, books: pd.Series, weight: float, half: float, cycles: int = 50
) -> pd.Series:
    """Book factor per ``(rep_id, region)``: ``(1 - weight) + weight x book index``,
    normalised to a capacity-weighted mean of 1 within the region and clipped to
    ``[1 / half, half]`` (normalise and clip repeated until both hold).

    Args:
        eff: ``rep_id, region, eff_capacity`` (annual, one row per rep and region).
        books: book revenue per ``(rep_id, region)`` (missing = 0).
    """
    idx = pd.MultiIndex.from_frame(eff[["rep_id", "region"]])
    ec = eff["eff_capacity"].to_numpy(dtype=float)
    bk = books.reindex(idx).fillna(0.0).to_numpy() if len(books) else np.zeros(len(ec))
    g, _ = pd.factorize(eff["region"].astype(str))
    ng = int(g.max()) + 1 if len(g) else 0

    def by_region(v: np.ndarray) -> np.ndarray:
        return np.bincount(g, weights=v, minlength=ng)[g]

    ec_r = by_region(ec)
    rate = np.divide(by_region(bk), ec_r, out=np.zeros(len(ec)), where=ec_r > 0)
    per = np.divide(bk, ec, out=np.zeros(len(ec)), where=ec > 0)
    bi = np.divide(per, rate, out=np.ones(len(ec)), where=rate > 0)
    f = (1.0 - weight) + weight * bi
    for _ in range(cycles):
        mean = np.divide(by_region(f * ec), ec_r, out=np.ones(len(ec)), where=ec_r > 0)
        f = np.clip(f / np.where(mean > 0, mean, 1.0), 1.0 / half, half)
        m2 = np.divide(by_region(f * ec), ec_r, out=np.ones(len(ec)), where=ec_r > 0)
        if float(np.abs(m2 - 1).max(initial=0.0)) < 1e-9:
            break
    return pd.Series(f, index=idx)


@dataclass(frozen=True)
class Team:
    """The reps and their capacity in the plan months.

    Attributes:
        reps: the rep list (``rep_id``, ``region`` as strings; ``tbh`` True for to-be-hired
            placeholders).
        capacity: rep x plan month rows with positive effective capacity: ``rep_id, region,
            month, active_share, ramp, capacity, productivity, eff_capacity, factor,
            weight`` (``weight`` = what the split uses: effective capacity x factor, or the
            rep's history under ``history_share``).
    """

    reps: pd.DataFrame
    capacity: pd.DataFrame

    def region_capacity(self) -> pd.Series:
        """Effective capacity per region over the plan months."""
        return self.capacity.groupby("region")["eff_capacity"].sum()


def _history_weights(cap: pd.DataFrame, hist: pd.DataFrame, plan: Plan) -> np.ndarray:
    """``history_share``: a rep's weight in a month = their base-window revenue in the region x
    the month's active share; a rep without any counts at the region's median revenue per unit
    of capacity (x their capacity)."""
    bm = base_months(plan)
    h = hist[hist["month"].isin(bm)]
    rev = h.groupby([h["rep_id"].astype(str), h["region"].astype(str)])["revenue"].sum()
    key = pd.MultiIndex.from_frame(cap[["rep_id", "region"]])
    r = pd.Series(rev.reindex(key).fillna(0.0).clip(lower=0).to_numpy(), index=cap.index)
    annual_cap = cap.groupby(["rep_id", "region"])["eff_capacity"].transform("sum")
    rate = (r / annual_cap.where(annual_cap > 0)).where(r > 0)
    med = rate.groupby(cap["region"]).transform("median").fillna(1.0)
    w = np.where(r > 0, r * cap["active_share"] / 12.0, med * cap["eff_capacity"])
    return np.asarray(w, dtype=float)


def team_capacity(
    reps: pd.DataFrame,
    hist: pd.DataFrame,
    customers: pd.DataFrame | None,
    win: PlanWindows,
    plan: Plan,
    base: Team | None = None,
) -> Team:
    """Every rep's effective capacity and split weight in each plan month.

    Args:
        reps: the rep list (``rep_id, region, hire_date, end_date, fte`` and optionally
            ``prev_region, region_from``; ``tbh`` marks to-be-hired reps).
        hist: the cube to the cutoff (productivity, ``history_share``).
        customers: the customer cube (the reps' books; None = no book factor).
        base: the team of the same reps in post (no to-be-hired reps) and the same plan, when
            ``reps`` is it plus to-be-hired reps: only their rows are computed (a to-be-hired
            rep has no productivity index nor book, and the reps in post do not depend on them).
    """
    s = plan.reps
    reps_n = reps.assign(rep_id=reps["rep_id"].astype(str), region=reps["region"].astype(str))
    if "tbh" not in reps_n.columns:
        reps_n["tbh"] = False
    reps_n["tbh"] = reps_n["tbh"].fillna(False).astype(bool)
    if base is not None and s.allocation != "history_share":
        known = set(base.reps["rep_id"])
        new = reps_n[reps_n["tbh"] & ~reps_n["rep_id"].isin(known)]
        if len(known) + len(new) == len(reps_n) and not base.reps["tbh"].any():
            added = team_capacity(new, hist, None, win, plan).capacity
            cap = pd.concat([base.capacity, added], ignore_index=True)
            return Team(reps_n, cap)
    cap = rep_capacity(reps_n, win.months, plan)
    real = reps_n[~reps_n["tbh"]]
    prod = productivity(hist, real, plan) if len(real) else pd.Series(dtype=float)
    cap["productivity"] = cap["rep_id"].map(prod).fillna(1.0)
    cap["eff_capacity"] = capacity.effective_capacity(
        cap["capacity"], cap["productivity"], s.productivity_weight
    )
    cap = cap[cap["eff_capacity"] > 0].reset_index(drop=True)
    cap["factor"] = 1.0
    if s.allocation == "capacity_and_book" and s.book_weight > 0 and len(cap):
        eff = cap.groupby(["rep_id", "region"], as_index=False)["eff_capacity"].sum()
        tbh_ids = set(reps_n.loc[reps_n["tbh"], "rep_id"])
        eff = eff[~eff["rep_id"].isin(tbh_ids)]
        f = book_factors(eff, _books(customers, plan), s.book_weight, band_half(s.band))
        key = pd.MultiIndex.from_frame(cap[["rep_id", "region"]])
        cap["factor"] = f.reindex(key).fillna(1.0).to_numpy()
    if s.allocation == "history_share" and len(cap):
        cap["weight"] = _history_weights(cap, hist, plan)
    else:
        cap["weight"] = cap["eff_capacity"] * cap["factor"]
    return Team(reps_n, cap)


@dataclass(frozen=True)
class RepSplit:
    """How each cell-month is split over reps.

    Attributes:
        reps: the rep list with ``rep_id`` and ``region`` as strings (``tbh`` marks
            to-be-hired reps).
        capacity: rep x plan month rows with positive effective capacity (:class:`Team`).
        rows: one row per cell, plan month and rep of the cell's region: ``cell`` (index into
            the cells), ``m`` (plan month index), ``region``, ``month``, ``rep_id``,
            ``eff_capacity`` (the split weight) and ``share`` (of the cell-month; the shares of
            a cell-month sum to 1), sorted by ``m, cell, rep_id``.
        notes: regions with months without an active rep.
    """

    reps: pd.DataFrame
    capacity: pd.DataFrame
    rows: pd.DataFrame
    notes: tuple[str, ...] = ()


def split_to_reps(
    regions: np.ndarray,
    reps: pd.DataFrame,
    hist: pd.DataFrame,
    win: PlanWindows,
    plan: Plan,
    *,
    team: Team | None = None,
) -> RepSplit:
    """Split each cell-month over its region's reps by their split weight (:class:`Team`).

    Args:
        regions: the region of each cell (cell order).
        reps: the rep list (``rep_id, region, hire_date, end_date, fte``).
        hist: the cube to the cutoff (for the productivity index).
        team: the team's capacity when already made (:func:`team_capacity`, e.g. with
            to-be-hired reps); made from ``reps`` without a book factor otherwise.
    """
    months, nm, n = win.months, win.n_months, len(regions)
    team = team if team is not None else team_capacity(reps, hist, None, win, plan)
    cm = pd.DataFrame({"cell": np.repeat(np.arange(n), nm), "m": np.tile(np.arange(nm), n)})
    cm["region"] = regions[cm["cell"]]
    cm["month"] = [months[j] for j in cm["m"]]
    capm = team.capacity[["rep_id", "region", "month", "weight"]].rename(
        columns={"weight": "eff_capacity"}
    )
    capm = capm[capm["eff_capacity"] > 0]
    bottom = cm.merge(capm, on=["region", "month"], how="left")
    missing = bottom["rep_id"].isna()
    notes = []
    if missing.any():
        regs = sorted(bottom.loc[missing, "region"].unique())
        notes.append(
            tr("no active rep in some months of: {regions}; those targets go to '{who}'").format(
                regions=", ".join(regs), who=UNASSIGNED
            )
        )
        bottom.loc[missing, "rep_id"] = UNASSIGNED
        bottom.loc[missing, "eff_capacity"] = 1.0
    bottom["rep_id"] = bottom["rep_id"].astype(str)
    tot_cap = bottom.groupby(["cell", "m"])["eff_capacity"].transform("sum")
    bottom["share"] = bottom["eff_capacity"] / tot_cap
    bottom = bottom.sort_values(["m", "cell", "rep_id"], kind="stable").reset_index(drop=True)
    return RepSplit(team.reps, team.capacity, bottom, tuple(notes))


def unassigned_check(targets: pd.DataFrame) -> list[CheckRow]:
    """A failed check when some targets went to :data:`UNASSIGNED` (none otherwise)."""
    if not (targets["rep_id"] == UNASSIGNED).any():
        return []
    return [
        (
            tr("every target has a rep"),
            False,
            float(targets.loc[targets["rep_id"] == UNASSIGNED, "target_revenue"].sum()),
            tr("targets assigned to '{who}': add reps or pin the region").format(who=UNASSIGNED),
        )
    ]


REP_LOAD_COLUMNS = [
    "rep_id",
    "name",
    "region",
    "tbh",
    "hire_date",
    "end_date",
    "fte",
    "months_active",
    "capacity",
    "productivity",
    "eff_capacity",
    "book_factor",
    "target_revenue",
    "load",
    "load_eff",
    "load_vs_median",
    "flag",
    "rule",
]


def rep_load(
    targets: pd.DataFrame, split: RepSplit, plan: Plan, rules: dict[str, str] | None = None
) -> pd.DataFrame:
    """Per rep (:data:`REP_LOAD_COLUMNS`): capacity, productivity, effective capacity, book
    factor, ``target_revenue`` (with cushion), ``load`` (target per unit of capacity),
    ``load_eff`` (target per unit of effective capacity), ``load_vs_median`` (``load_eff``
    against the median of the reps in post, to-be-hired reps left out of the median), ``flag``
    (``above``/``below`` when more than ``reps.load_flag_pct`` off, else '') and ``rule`` (what
    the capacity policy did in the rep's region, from ``rules``; a rep who changed region is
    listed in the region of the most capacity)."""
    rep_tot = targets.groupby("rep_id")["target_revenue"].sum()
    cap = split.capacity
    main = (
        cap.groupby(["rep_id", "region"])["eff_capacity"]
        .sum()
        .reset_index()
        .sort_values(["rep_id", "eff_capacity"], ascending=[True, False], kind="stable")
        .drop_duplicates("rep_id")
        .set_index("rep_id")["region"]
    )
    ec = cap["eff_capacity"]
    capsum = (
        cap.assign(fw=ec * cap["factor"], pw=cap["capacity"] * cap["productivity"])
        .groupby("rep_id")
        .agg(
            capacity=("capacity", "sum"),
            eff_capacity=("eff_capacity", "sum"),
            months_active=("active_share", "sum"),
            pw=("pw", "sum"),
            fw=("fw", "sum"),
        )
    )
    capsum["productivity"] = capsum["pw"] / capsum["capacity"].where(capsum["capacity"] > 0)
    capsum["book_factor"] = capsum["fw"] / capsum["eff_capacity"]
    capsum["region"] = main.reindex(capsum.index)
    r = split.reps.drop_duplicates("rep_id").set_index("rep_id")
    cols = [c for c in ["name", "hire_date", "end_date", "fte", "tbh"] if c in r.columns]
    rl = r[cols].join(capsum.drop(columns=["pw", "fw"]), how="inner")
    if "tbh" not in rl.columns:
        rl["tbh"] = False
    rl["target_revenue"] = rep_tot.reindex(rl.index).fillna(0.0)
    rl["load"] = rl["target_revenue"] / rl["capacity"]
    rl["load_eff"] = rl["target_revenue"] / rl["eff_capacity"]
    inpost = rl.loc[~rl["tbh"].astype(bool), "load_eff"]
    med = float(inpost.median()) if len(inpost) else np.nan
    rl["load_vs_median"] = rl["load_eff"] / med - 1 if med and np.isfinite(med) else np.nan
    lim = plan.reps.load_flag_pct
    rl["flag"] = np.where(
        rl["load_vs_median"] > lim + 1e-9,
        tr("above"),
        np.where(rl["load_vs_median"] < -lim - 1e-9, tr("below"), ""),
    )
    rules = rules or {}
    rl["rule"] = [rules.get(str(g), "") for g in rl["region"]]
    out = rl.reset_index().rename(columns={"index": "rep_id"})
    return out[[c for c in REP_LOAD_COLUMNS if c in out.columns]]


def rep_month_table(targets: pd.DataFrame, rep_load: pd.DataFrame) -> pd.DataFrame:
    """Rep x month targets (with cushion): ``rep_id, name, region``, one column per plan month
    labelled ``YYYY-MM``, ``total``; every rep with a target, to-be-hired reps included, in
    region then rep order (the rows add up to the company's rep targets)."""
    t = targets.assign(label=pd.to_datetime(targets["month"]).dt.strftime("%Y-%m"))
    wide = t.pivot_table(
        index="rep_id", columns="label", values="target_revenue", aggfunc="sum", fill_value=0.0
    )
    wide = wide[sorted(wide.columns)]
    wide["total"] = wide.sum(axis=1)
    info = rep_load.set_index("rep_id")[["name", "region"]] if len(rep_load) else None
    wide.insert(0, "name", info["name"].reindex(wide.index).fillna("") if info is not None else "")
    region = targets.groupby("rep_id")["region"].first()
    reg = info["region"].reindex(wide.index) if info is not None else region.reindex(wide.index)
    wide.insert(1, "region", reg.fillna(region.reindex(wide.index)).astype(str))
    wide.columns.name = None
    out = wide.reset_index()
    return out.sort_values(["region", "rep_id"], kind="stable").reset_index(drop=True)
