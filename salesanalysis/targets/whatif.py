"""What if the growth, cushion, key weights or load band were different: step 03's what-if
panel, and the plan at a glance.

:class:`WhatIf` keeps what does not depend on those four assumptions (the plan's windows and
cells, the team's capacity for each load band and rep settings already seen) and reruns only the
stages that do, the same functions :func:`salesanalysis.targets.decompose.decompose` calls:
company target -> allocation keys -> crossing -> strategies -> pins, floors, caps -> capacity
policy -> rounding of the cells. So the company and region targets it shows are exactly those a
full decomposition with the same assumptions gives (rounded cells add up to regions; the months
and reps are rounded under the cells and never change a region's total). The rep loads are
computed from the unrounded rep targets (within a rounding unit of the full decomposition's):
rounding the 5,000-odd rep-month rows is what a full decomposition spends most of its time on.

:func:`whatif_panel` builds the ipywidgets panel (JupyterLab only; the static report shows
:func:`panel_note` instead). :func:`plan_at_a_glance` is the page's opening summary: the company
targets and their split by region, product line and customer type.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.errors import ConstraintConflict
from salesanalysis.i18n import N_, tr
from salesanalysis.targets.balance import match_capacity
from salesanalysis.targets.cells import plan_cells
from salesanalysis.targets.company import company_targets
from salesanalysis.targets.constraints import apply_constraints
from salesanalysis.targets.crossing import cross_dimensions
from salesanalysis.targets.explain import KEY_WORDS
from salesanalysis.targets.kernels import Group
from salesanalysis.targets.keys import allocation_keys
from salesanalysis.targets.periods import plan_windows
from salesanalysis.targets.phasing import phase_to_months
from salesanalysis.targets.plan import KEY_NAMES, Plan
from salesanalysis.targets.reps import (
    Team,
    _books,
    band_half,
    book_factors,
    rep_load,
    split_to_reps,
    team_capacity,
)
from salesanalysis.targets.rounding import _round_cells, round_unit
from salesanalysis.targets.strategies import apply_strategies

__all__ = [
    "WhatIf",
    "WhatIfResult",
    "glance_tables",
    "panel_note",
    "plan_at_a_glance",
    "whatif_panel",
]

PANEL_NOTE = N_(
    "The what-if panel (sliders for growth, cushion, allocation key weights and load band) "
    "works when this notebook is opened in JupyterLab (`make lab`); the static report shows "
    "the targets of the plan as it is."
)


@dataclass(frozen=True)
class WhatIfResult:
    """The views a what-if recomputes.

    Attributes:
        plan: the plan with the changed assumptions.
        company: one row: ``last_year, target, cushion_pct, target_with_cushion,
            growth_vs_last_year`` (revenue, plan months).
        regions: per region: ``region, last_year, target_revenue_no_cushion, target_revenue,
            growth_vs_last_year, tbh, load_after, rule`` (``target_revenue`` with cushion).
        rep_load: :func:`salesanalysis.targets.reps.rep_load` of the unrounded rep targets.
        seconds: how long the recomputation took.
    """

    plan: Plan
    company: pd.DataFrame
    regions: pd.DataFrame
    rep_load: pd.DataFrame
    seconds: float


class WhatIf:
    """Recompute the company, region and rep-load views for changed assumptions, fast.

    Args: as :func:`salesanalysis.targets.decompose.decompose` (the plan is the starting
    point; :meth:`plan_for` changes it).
    """

    def __init__(
        self,
        cube: pd.DataFrame,
        customers: pd.DataFrame,
        reps: pd.DataFrame,
        market: pd.DataFrame,
        forecast: pd.DataFrame | None,
        plan: Plan,
    ):
        self.cube, self.customers, self.reps, self.plan = cube, customers, reps, plan
        self.win = plan_windows(plan)
        self.cells = plan_cells(cube, market, forecast, self.win, plan)
        self._teams: dict[Any, Team] = {}
        self._books: pd.Series | None = None
        self._regions = self.cells.cells["region"].astype(str).to_numpy()
        n = len(self._regions)  # each cell's month profile (the phasing is not a slider)
        self._phase = phase_to_months(np.ones(n), self.cells, self.win, plan).cell_months

    def plan_for(
        self,
        revenue_growth: float | None = None,
        cushion_pct: float | None = None,
        key_weights: Mapping[str, float] | None = None,
        load_band: float | None = None,
    ) -> Plan:
        """The starting plan with the given assumptions changed (None = as in the plan).
        ``key_weights`` need not add up to 1: they are scaled to."""
        p = self.plan
        changes: dict[str, Any] = {}
        if revenue_growth is not None:
            changes["targets"] = {**p.targets.to_dict(), "revenue": {"growth": revenue_growth}}
        if cushion_pct is not None:
            changes["cushion_pct"] = cushion_pct
        if key_weights is not None:
            total = sum(float(key_weights.get(k, 0.0)) for k in KEY_NAMES)
            w = {k: float(key_weights.get(k, 0.0)) / total for k in KEY_NAMES} if total else None
            if w:
                w[KEY_NAMES[0]] = 1.0 - sum(w[k] for k in KEY_NAMES[1:])  # exactly 1
                changes["allocation"] = {**p.allocation.to_dict(), "key_weights": w}
        if load_band is not None:
            changes["reps"] = {**p.reps.to_dict(), "load_band": load_band}
        return p.with_changes(**changes) if changes else p

    def _team(self, plan: Plan) -> Team:
        """The team's capacity under ``plan``'s rep settings, cached. A team that differs from
        one already made only in the load band (which only moves the book factors) is derived
        from it instead of being made again."""
        key = (plan.reps, plan.fiscal_year, plan.plan_cutoff)
        if key in self._teams:
            return self._teams[key]
        s = plan.reps
        same = [
            t
            for (r, fy, cut), t in self._teams.items()
            if (fy, cut) == key[1:] and replace(r, load_band=s.load_band) == s
        ]
        if same and s.allocation == "capacity_and_book" and s.book_weight > 0:
            cap = same[0].capacity.copy()
            if self._books is None:
                self._books = _books(self.customers, plan)
            eff = cap.groupby(["rep_id", "region"], as_index=False)["eff_capacity"].sum()
            f = book_factors(eff, self._books, s.book_weight, band_half(s.band))
            idx = pd.MultiIndex.from_frame(cap[["rep_id", "region"]])
            cap["factor"] = f.reindex(idx).fillna(1.0).to_numpy()
            cap["weight"] = cap["eff_capacity"] * cap["factor"]
            team = Team(same[0].reps, cap)
        else:
            team = team_capacity(self.reps, self.cells.hist, self.customers, self.win, plan)
        self._teams[key] = team
        return team

    def run(self, plan: Plan) -> WhatIfResult:
        """The company, region and rep-load views of ``plan`` (which must differ from the
        starting plan only in the assumptions :meth:`plan_for` changes)."""
        t0 = time.perf_counter()
        cells, win = self.cells, self.win
        company = company_targets(self.cube, cells, win, plan)
        total = company.total
        keys = allocation_keys(cells, total, plan)
        crossed = cross_dimensions(keys, cells.shape, total, plan.currency)
        mix = apply_strategies(crossed.cells, cells.cells, cells.grid, plan.strategies, total)
        fitted0 = apply_constraints(mix.cells, cells, total, plan)
        bal = match_capacity(
            fitted0, cells, self._team(plan), self.reps, cells.hist, self.customers, win, plan
        )
        r_c, r_cc, total_c = _rounded_cells(bal.fitted, total, plan)
        regions = _region_view(cells, r_c, r_cc, bal.regions, self._regions)
        x_cm = bal.fitted.cells[:, None] * self._phase
        loads = _rep_loads(bal, x_cm, cells, win, plan, self._regions, self.reps)
        ly = float(cells.last_year.sum())
        comp = pd.DataFrame(
            {
                "last_year": [ly],
                "target": [total],
                "cushion_pct": [plan.cushion_pct],
                "target_with_cushion": [total_c],
                "growth_vs_last_year": [total / ly - 1 if ly else np.nan],
            }
        )
        return WhatIfResult(plan, comp, regions, loads, time.perf_counter() - t0)


def _rounded_cells(fitted: Any, total: float, plan: Plan) -> tuple[np.ndarray, np.ndarray, float]:
    """The cells rounded as :func:`salesanalysis.targets.rounding.round_revenue` rounds them,
    without and with the cushion (the first step of its chain; the later steps keep the cells'
    totals), and the company total with the cushion."""
    x_c, unit, cush = fitted.cells, plan.rounding_revenue, plan.cushion_pct
    n, notes = len(x_c), []
    groups = [Group("company total", np.arange(n), total), *fitted.pins]
    r_c = _round_cells(x_c, unit, groups, fitted.floor, fitted.cap, notes, "revenue")
    total_c = round_unit(total * (1 + cush), unit)
    label = "revenue with cushion"
    top = Group("company total", np.arange(n), total_c)
    try:
        r_cc = _round_cells(
            x_c * (1 + cush), unit, [top, *fitted.pins_c], None, None, notes, label
        )
    except ConstraintConflict:
        r_cc = _round_cells(x_c * (1 + cush), unit, [top], None, None, notes, label)
    return r_c, r_cc, total_c


def _region_view(
    cells: Any, r_c: np.ndarray, r_cc: np.ndarray, bal_regions: pd.DataFrame, regions: np.ndarray
) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"region": regions, "last_year": cells.last_year, "no_c": r_c, "with_c": r_cc}
    )
    g = frame.groupby("region", sort=True)[["last_year", "no_c", "with_c"]].sum()
    out = pd.DataFrame(
        {
            "region": g.index.astype(str),
            "last_year": g["last_year"].to_numpy(),
            "target_revenue_no_cushion": g["no_c"].to_numpy(),
            "target_revenue": g["with_c"].to_numpy(),
        }
    )
    ly = out["last_year"].where(out["last_year"] > 0)
    out["growth_vs_last_year"] = out["target_revenue_no_cushion"] / ly - 1
    b = bal_regions.set_index("region")
    out["tbh"] = b["tbh"].reindex(out["region"]).fillna(0).astype(int).to_numpy()
    out["load_after"] = b["load_after"].reindex(out["region"]).to_numpy()
    out["rule"] = b["rule"].reindex(out["region"]).fillna("").to_numpy()
    return out


def _rep_loads(
    bal: Any,
    x_cm: np.ndarray,
    cells: Any,
    win: Any,
    plan: Plan,
    regions: np.ndarray,
    reps: pd.DataFrame,
) -> pd.DataFrame:
    """Rep loads from the unrounded rep targets (cell x month ``x_cm``, with the cushion)."""
    split = split_to_reps(regions, reps, cells.hist, win, plan, team=bal.team)
    rows = split.rows
    x_cm = x_cm * (1 + plan.cushion_pct)
    amount = x_cm[rows["cell"].to_numpy(), rows["m"].to_numpy()] * rows["share"].to_numpy()
    targets = pd.DataFrame({"rep_id": rows["rep_id"].to_numpy(), "target_revenue": amount})
    return rep_load(targets, split, plan, bal.rules)


# --------------------------------------------------------------------------- the panel


def panel_note() -> str:
    """What the static report says where the panel is in JupyterLab."""
    return tr(PANEL_NOTE)


def _views(result: WhatIfResult, base: WhatIfResult) -> list[Any]:
    """The tables a what-if shows: company and regions against the plan, rep loads."""
    from salesanalysis.report.formatting import pct, table

    cur = result.plan.currency
    comp = result.company.assign(
        plan_target=base.company["target"].to_numpy(),
        change=result.company["target"].to_numpy() - base.company["target"].to_numpy(),
    )
    reg = result.regions.assign(
        plan_target=base.regions["target_revenue_no_cushion"].to_numpy(),
        change=result.regions["target_revenue_no_cushion"].to_numpy()
        - base.regions["target_revenue_no_cushion"].to_numpy(),
    )
    rl = result.rep_load
    band = result.plan.reps.band
    inpost = rl[~rl["tbh"].astype(bool)]
    outside = inpost[(inpost["load_vs_median"].abs() > band + 1e-9)]
    summary = tr(
        "Rep loads: {n} reps in post, {out} outside the band of ±{band}; the highest load is "
        "{hi} and the lowest {lo} against the median; {tbh} to-be-hired reps. "
        "Recomputed in {s:.2f} s."
    ).format(
        n=len(inpost),
        out=len(outside),
        band=pct(band),
        hi=pct(inpost["load_vs_median"].max(), signed=True),
        lo=pct(inpost["load_vs_median"].min(), signed=True),
        tbh=int(rl["tbh"].astype(bool).sum()),
        s=result.seconds,
    )
    money_c = ["last_year", "plan_target", "target", "target_with_cushion", "change"]
    labels = {
        "last_year": tr("Last year"),
        "plan_target": tr("Target in the plan"),
        "target": tr("Target"),
        "change": tr("Change"),
        "cushion_pct": tr("Cushion"),
        "target_with_cushion": tr("Target with cushion"),
        "growth_vs_last_year": tr("Growth vs last year"),
        "region": tr("Region"),
        "target_revenue_no_cushion": tr("Target (without cushion)"),
        "target_revenue": tr("Target with cushion"),
        "tbh": tr("To-be-hired reps"),
    }
    return [
        table(
            comp[
                [
                    "last_year",
                    "plan_target",
                    "target",
                    "change",
                    "cushion_pct",
                    "target_with_cushion",
                    "growth_vs_last_year",
                ]
            ],
            money=money_c,
            pct=["cushion_pct", "growth_vs_last_year"],
            signed_pct=["growth_vs_last_year"],
            labels=labels,
            caption=tr("What if: company revenue target (plan months)"),
            unit=cur,
        ),
        table(
            reg[
                [
                    "region",
                    "plan_target",
                    "target_revenue_no_cushion",
                    "change",
                    "target_revenue",
                    "growth_vs_last_year",
                    "tbh",
                ]
            ],
            money=["plan_target", "target_revenue_no_cushion", "change", "target_revenue"],
            pct=["growth_vs_last_year"],
            signed_pct=["growth_vs_last_year"],
            ints=["tbh"],
            labels=labels,
            caption=tr("What if: targets by region"),
            unit=cur,
        ),
        summary,
    ]


def whatif_panel(engine: WhatIf) -> Any:
    """The ipywidgets panel: sliders for revenue growth (when the plan sets the revenue target
    by growth), cushion, the four key weights and the load band; every change recomputes the
    company, region and rep-load views (:meth:`WhatIf.run`) below the sliders."""
    import ipywidgets as w
    from IPython.display import Markdown, display

    p = engine.plan
    base = engine.run(p)
    style = {"description_width": "12em"}
    layout = w.Layout(width="32em")

    def slider(label: str, value: float, lo: float, hi: float, step: float) -> Any:
        return w.FloatSlider(
            value=value,
            min=lo,
            max=hi,
            step=step,
            description=label,
            readout_format=".0%",
            continuous_update=False,
            style=style,
            layout=layout,
        )

    growth = None
    if p.targets.revenue.kind == "growth":
        g = p.targets.revenue.amount
        growth = slider(tr("Revenue growth"), g, min(-0.2, g), max(0.4, g), 0.005)
    cushion = slider(tr("Cushion"), p.cushion_pct, 0.0, max(0.2, p.cushion_pct), 0.005)
    kw = p.allocation.key_weights.as_dict()
    weights = {
        k: slider(tr("Key weight: {key}").format(key=tr(KEY_WORDS[k])), kw[k], 0.0, 1.0, 0.05)
        for k in KEY_NAMES
    }
    band = slider(tr("Load band ±"), p.reps.band, 0.05, max(0.5, p.reps.band), 0.01)
    out = w.Output()

    def update(_change: Any = None) -> None:
        try:
            plan = engine.plan_for(
                revenue_growth=growth.value if growth is not None else None,
                cushion_pct=cushion.value,
                key_weights={k: s.value for k, s in weights.items()},
                load_band=band.value,
            )
            views = _views(engine.run(plan), base)
        except Exception as e:  # a business error is shown in the panel, not raised
            views = [e.render() if hasattr(e, "render") else str(e)]
        out.clear_output(wait=True)
        with out:
            for v in views:
                display(Markdown(v) if isinstance(v, str) else v)

    sliders = [s for s in [growth, cushion, *weights.values(), band] if s is not None]
    for s in sliders:
        s.observe(update, names="value")
    update()
    return w.VBox([*sliders, out])


# --------------------------------------------------------------------------- at a glance

_MEASURES = {
    "revenue": N_("Revenue"),
    "customers": N_("Active customers"),
    "market_share": N_("Market share"),
}
_GLANCE_LEVELS = (
    ("Region", "region", N_("Targets by region")),
    ("Product line", "product_line", N_("Targets by product line")),
    ("Customer type", "customer_type", N_("Targets by customer type")),
)


def glance_tables(dec: Any) -> dict[str, pd.DataFrame]:
    """The plan at a glance as frames: ``company`` (revenue target, with cushion, customers,
    market share, each with last year and the change) and one frame per dimension with each
    member's target (without cushion), its share of the company target and its growth."""
    from salesanalysis.targets.output import level_tables

    comp = dec.company.set_index("measure")
    rows = []
    for m in comp.index:
        r = comp.loc[m]
        rows.append(
            {
                "measure": m,
                "target_of": tr(_MEASURES.get(m, m)),
                "last_year": r["last_year"],
                "target": r["target"],
                "target_with_cushion": r["target_with_cushion"],
            }
        )
    out = {"company": pd.DataFrame(rows)}
    tabs = level_tables(dec)
    for name, dim, _caption in _GLANCE_LEVELS:
        t = tabs[name]
        total = float(t["target_revenue_no_cushion"].sum())
        out[dim] = pd.DataFrame(
            {
                dim: t[dim].astype(str),
                "target_revenue_no_cushion": t["target_revenue_no_cushion"],
                "share_of_target": t["target_revenue_no_cushion"] / total if total else np.nan,
                "growth_vs_last_year": t["growth_vs_last_year"],
            }
        ).sort_values("target_revenue_no_cushion", ascending=False, kind="stable")
    return out


def plan_at_a_glance(dec: Any) -> Any:
    """The plan at a glance as one HTML block (company targets, then the split by region,
    product line and customer type), to fill the placeholder at the top of step 03's page."""
    from IPython.display import HTML

    from salesanalysis.report.formatting import table

    frames = glance_tables(dec)
    cur = dec.plan.currency
    labels = {
        "target_of": tr("Target of"),
        "last_year": tr("Last year"),
        "target": tr("Target"),
        "target_with_cushion": tr("Target with cushion"),
        "target_revenue_no_cushion": tr("Target (without cushion)"),
        "share_of_target": tr("Share of the company target"),
        "growth_vs_last_year": tr("Growth vs last year"),
        "region": tr("Region"),
        "product_line": tr("Product line"),
        "customer_type": tr("Customer type"),
    }
    parts = [
        table(
            frames["company"][["target_of", "last_year", "target", "target_with_cushion"]],
            money=["last_year", "target", "target_with_cushion"],
            labels=labels,
            row_key="target_of",
            row_formats={tr(_MEASURES["market_share"]): "pct", tr(_MEASURES["customers"]): "ints"},
            caption=tr("Company targets (market share in %, customers as a count)"),
            unit=cur,
        )
    ]
    for _name, dim, caption in _GLANCE_LEVELS:
        parts.append(
            table(
                frames[dim].reset_index(drop=True),
                money=["target_revenue_no_cushion"],
                pct=["share_of_target", "growth_vs_last_year"],
                signed_pct=["growth_vs_last_year"],
                labels=labels,
                caption=tr(caption),
                unit=cur,
            )
        )
    note = tr(
        "Segment targets are without the cushion; the rep targets add up to the company target "
        "plus the cushion. Every rep's target by month is in the table *Rep x month targets* "
        "further down and in the *Rep x month* sheet of targets.xlsx."
    )
    return HTML("".join(p._repr_html_() for p in parts) + f"<p>{_md_inline(note)}</p>")


def _md_inline(text: str) -> str:
    import html
    import re

    return re.sub(r"\*([^*]+)\*", r"<em>\1</em>", html.escape(text))
