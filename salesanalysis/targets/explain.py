"""Explanation: why a target is what it is.

The decomposition keeps, per cell, what each stage contributed to the annual revenue target
(each key, the crossing, each strategy, the re-normalisation, the constraints, the rounding)
and, per rep, their share of each cell. :func:`explain` reads those parts back for a cell, a
roll-up or a rep (:meth:`salesanalysis.targets.decompose.Decomposition.explain`), and
:func:`bridge_table` tells the company's way from last year to the target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from salesanalysis.errors import PlanError
from salesanalysis.i18n import N_, tr
from salesanalysis.targets.cells import CELL, PlanCells
from salesanalysis.targets.company import CompanyTargets
from salesanalysis.targets.constraints import Constrained
from salesanalysis.targets.crossing import Crossing
from salesanalysis.targets.customers import CustomerTargets
from salesanalysis.targets.keys import AllocationKeys, effective_weights
from salesanalysis.targets.phasing import Phasing
from salesanalysis.targets.plan import KEY_NAMES, Plan
from salesanalysis.targets.rounding import RoundedRevenue
from salesanalysis.targets.strategies import StrategyMix

__all__ = [
    "BRIDGE_STEPS",
    "EXPLAIN_COLUMNS",
    "KEY_WORDS",
    "STRATEGY_KINDS",
    "Explanation",
    "bridge_table",
    "explain",
    "explanation",
    "step_notes",
]

EXPLAIN_COLUMNS = ["step", "detail", "amount", "kind"]
KEY_WORDS = {
    "history": N_("history"),
    "forecast": N_("forecast"),
    "potential": N_("potential"),
    "equal": N_("equal"),
}
"""The allocation keys in words (translated where shown)."""
STRATEGY_KINDS = {
    "price": N_("price"),
    "promotion": N_("promotion"),
    "channel_shift": N_("channel shift"),
    "product": N_("product push"),
}
"""The kinds of strategy in words."""
BRIDGE_STEPS = {
    "last year": N_("last year"),
    "volume": N_("volume"),
    "price": N_("price"),
    "new customers": N_("new customers"),
    "strategies": N_("strategies"),
    "target": N_("target"),
}
"""The steps of :func:`bridge_table` in words (the chart's labels)."""


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` reads.

    Attributes:
        parts: one row per cell: the cell keys, ``key_<name>`` (each key's part), ``ipf``,
            ``strategy: <name>`` (each strategy's), ``renorm``, ``constraints`` (amounts adding
            up to ``unrounded``), ``binding`` (the constraints binding there), ``unrounded``,
            ``final_nc`` and ``final_c`` (rounded targets without and with cushion).
        rep_share: one row per cell and rep: ``cell, rep_id, unr, final_nc, final_c, share``
            (of the cell's unrounded target) and the cell keys.
        notes: the detail of each step (``key_<name>``, ``ipf``, ``renorm``).
    """

    parts: pd.DataFrame
    rep_share: pd.DataFrame
    notes: dict[str, str]


def step_notes(plan: Plan, forecast_complete: bool) -> dict[str, str]:
    """The detail printed beside each key, the crossing and the re-normalisation."""
    w = effective_weights(plan, forecast_complete)
    moved = plan.allocation.key_weights.as_dict()["forecast"] - w["forecast"]
    moved_txt = f"{moved:.0%}"
    return {
        "key_history": tr("weight {w} x historical share ({months} months to {cutoff})").format(
            w=f"{w['history']:.0%}",
            months=plan.allocation.history_window_months,
            cutoff=plan.plan_cutoff,
        )
        + (
            tr(" (with the forecast key's {moved}: no forecast)").format(moved=moved_txt)
            if moved
            else ""
        ),
        "key_forecast": tr("weight {w} x share of the forecast").format(w=f"{w['forecast']:.0%}")
        + (
            tr(" (no forecast: its {moved} went to history)").format(moved=moved_txt)
            if moved
            else ""
        ),
        "key_potential": tr("weight {w} x share of market potential (market x {share})").format(
            w=f"{w['potential']:.0%}", share=f"{plan.allocation.potential_share:.0%}"
        ),
        "key_equal": tr("weight {w} x equal share").format(w=f"{w['equal']:.0%}"),
        "ipf": tr(
            "crossing region x product line x customer type at once keeps each cell's "
            "historical weight within the blended margins"
        ),
        "renorm": tr(
            "strategies move the mix; every cell is scaled back so the company total holds"
        ),
    }


def explanation(
    cells: PlanCells,
    total: float,
    keys: AllocationKeys,
    crossed: Crossing,
    mix: StrategyMix,
    fitted: Constrained,
    phased: Phasing,
    bottom: pd.DataFrame,
    rounded: RoundedRevenue,
    plan: Plan,
) -> Explanation:
    """Collect the parts of every cell's target and every rep's share of each cell."""
    parts = cells.cells.copy()
    for k in KEY_NAMES:
        parts[f"key_{k}"] = total * keys.weights[k] * keys.cells[k]
    parts["ipf"] = crossed.cells - keys.blend(total)
    for s in plan.strategies:
        parts[f"strategy: {s.name}"] = mix.effects[s.name]
    parts["renorm"] = mix.renorm
    parts["constraints"] = fitted.change
    parts["binding"] = fitted.binding
    parts["unrounded"] = fitted.cells
    parts["final_nc"] = rounded.cells
    parts["final_c"] = rounded.cells_c
    x_cm = phased.cell_months
    b_unr = x_cm[bottom["cell"].to_numpy(), bottom["m"].to_numpy()] * bottom["share"].to_numpy()
    rs = (
        pd.DataFrame(
            {
                "cell": bottom["cell"],
                "rep_id": bottom["rep_id"],
                "unr": b_unr,
                "final_nc": rounded.rows,
                "final_c": rounded.rows_c,
            }
        )
        .groupby(["cell", "rep_id"], as_index=False)
        .sum()
    )
    rs["share"] = rs["unr"] / fitted.cells[rs["cell"]].clip(min=1e-300)
    for c in CELL:
        rs[c] = cells.cells[c].to_numpy()[rs["cell"]]
    return Explanation(parts, rs, step_notes(plan, cells.coverage.complete))


def _select(
    ex: Explanation, keys: dict[str, str]
) -> tuple[pd.DataFrame, np.ndarray, float, float]:
    """The cells (with each one's weight: 1, or the rep's share) and the final targets
    without and with cushion of what ``keys`` names."""
    bad = set(keys) - {*CELL, "rep_id"}
    if bad:
        raise PlanError(
            tr("cannot explain by {keys}").format(keys=", ".join(sorted(map(str, bad)))),
            fix=tr("use region, product_line, customer_type and/or rep_id"),
        )
    parts = ex.parts
    mask = np.ones(len(parts), bool)
    for k in CELL:
        if k in keys:
            mask &= (parts[k] == str(keys[k])).to_numpy()
    sel = parts[mask]
    if "rep_id" in keys:
        rs = ex.rep_share[ex.rep_share["rep_id"] == str(keys["rep_id"])]
        if rs.empty:
            raise PlanError(
                tr("rep {rep} has no target in this plan").format(rep=keys["rep_id"]),
                fix=tr("check the rep_id and that the rep is active in the plan months"),
            )
        sel = sel.merge(rs[[*CELL, "share", "final_nc", "final_c"]], on=CELL, how="inner")
        weight = sel["share"].to_numpy()
        in_sel = rs[CELL].apply(tuple, axis=1).isin(sel[CELL].apply(tuple, axis=1))
        final_nc = float(rs.loc[in_sel, "final_nc"].sum())
        final_c = float(rs.loc[in_sel, "final_c"].sum())
    else:
        weight = np.ones(len(sel))
        final_nc = float(sel["final_nc"].sum())
        final_c = float(sel["final_c"].sum())
    if sel.empty:
        raise PlanError(
            tr("no target matches {keys}").format(
                keys=", ".join(f"{k}={v}" for k, v in keys.items())
            ),
            fix=tr("check the labels (see .segments)"),
        )
    return sel, weight, final_nc, final_c


def explain(ex: Explanation, plan: Plan, **keys: str) -> pd.DataFrame:
    """Why this number: the parts of a cell, roll-up or rep's annual revenue target.

    Keys: any of ``region``, ``product_line``, ``customer_type``, ``rep_id``. Returns rows
    ``step, detail, amount, kind``: the ``step`` rows add up to each ``subtotal`` row
    (first the target without cushion, then the rep targets with cushion).

    Raises:
        PlanError: an unknown key, a rep without a target, or keys no target matches.
    """
    sel, weight, final_nc, final_c = _select(ex, keys)
    notes = ex.notes

    def part(col: str) -> float:
        return float((sel[col] * weight).sum())

    rows: list[tuple[str, str, float, str]] = []
    for k in KEY_NAMES:
        name = tr("key: {key}").format(key=tr(KEY_WORDS.get(k, k)))
        rows.append((name, notes.get(f"key_{k}", ""), part(f"key_{k}"), "step"))
    rows.append((tr("crossing (IPF)"), notes["ipf"], part("ipf"), "step"))
    for s in plan.strategies:
        col = f"strategy: {s.name}"
        segment = " / ".join(v for _, v in s.segment)
        detail = tr("{kind} {pct} on {segment}: {rationale}").format(
            kind=tr(STRATEGY_KINDS.get(s.kind, s.kind)),
            pct=f"{s.pct:+.1%}",
            segment=segment,
            rationale=s.rationale,
        )
        rows.append((tr("strategy: {name}").format(name=s.name), detail, part(col), "step"))
    renorm = tr("re-normalise to the company total")
    rows.append((renorm, notes["renorm"], part("renorm"), "step"))
    binding = sorted({b for bs in sel["binding"] for b in bs.split("; ") if b})
    binding_txt = "; ".join(binding) or tr("none binding here (share of redistribution only)")
    rows.append((tr("pins, floors, caps"), binding_txt, part("constraints"), "step"))
    unrounded = sum(r[2] for r in rows)
    rounding_txt = tr("to {unit} (largest remainder)").format(unit=f"{plan.rounding_revenue:,.0f}")
    rows.append((tr("rounding"), rounding_txt, final_nc - unrounded, "step"))
    rows.append((tr("target without cushion"), "", final_nc, "subtotal"))
    cush = unrounded * plan.cushion_pct
    cushion_txt = tr("+{pct} over-assignment on rep targets").format(pct=f"{plan.cushion_pct:.1%}")
    rows.append((tr("cushion"), cushion_txt, cush, "step"))
    rows.append((tr("rounding after cushion"), "", final_c - final_nc - cush, "step"))
    rows.append((tr("rep targets (with cushion)"), "", final_c, "subtotal"))
    return pd.DataFrame(rows, columns=EXPLAIN_COLUMNS)


def bridge_table(
    company: CompanyTargets,
    r_c: np.ndarray,
    mix: StrategyMix,
    customers: CustomerTargets,
) -> pd.DataFrame:
    """Last year -> target (revenue, no cushion): ``step, amount, kind, note``; the steps
    (volume, price, new customers, strategies) add up from last year to the target.

    ``r_c`` are the rounded cell targets without cushion."""
    ly_total, base_total, total = company.last_year, company.base, company.total
    price_part = float((r_c * (1 - 1 / mix.price_mult)).sum())
    promo_part = float((r_c * (1 - 1 / mix.promo_mult)).sum())
    newc = 0.0
    if customers.full_year is not None and customers.base_count > 0:
        c_fy, bcnt = customers.full_year, customers.base_count
        scale = ly_total / base_total if base_total > 0 else 1.0
        newc = (c_fy - bcnt) * (base_total / bcnt) * scale
    volume = total - ly_total - price_part - promo_part - newc
    return pd.DataFrame(
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
