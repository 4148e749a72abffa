"""Pins, floors and caps.

Pins fix the annual target of a cell or roll-up; floors keep every cell at or above
``floors.vs_last_year`` x its last-year revenue; caps keep it at or below ``caps.vs_potential``
x its potential. The rest is redistributed proportionally so totals still hold
(:func:`salesanalysis.targets.kernels.fit_constraints`). Constraints that cannot hold together
raise :class:`ConstraintConflict` naming a smallest conflicting set (and describing only the
constraints in it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from salesanalysis.errors import ConstraintConflict, Problem
from salesanalysis.i18n import tr
from salesanalysis.targets.cells import CELL, PlanCells, segment_mask
from salesanalysis.targets.checks import CheckRow
from salesanalysis.targets.kernels import Group, find_conflict, fit_constraints
from salesanalysis.targets.plan import Plan
from salesanalysis.targets.rounding import round_unit

__all__ = [
    "Constrained",
    "apply_constraints",
    "bounds",
    "conflict_error",
    "constraint_checks",
    "pin_groups",
]


def bounds(cells: PlanCells, plan: Plan) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Floors and caps per cell (None when the plan has none; a cell without a market size
    has no cap).

    Raises:
        ConstraintConflict: cells whose floor is above their cap (the first five named).
    """
    floor_c = (
        cells.last_year.clip(min=0) * plan.floor_vs_last_year if plan.floor_vs_last_year else None
    )
    cap_c = None
    if plan.cap_vs_potential:
        cap_c = np.where(cells.has_market, cells.potential * plan.cap_vs_potential, np.inf)
    if floor_c is not None and cap_c is not None:
        bad = floor_c > cap_c + 1e-9
        if bad.any():
            cf = cells.cells
            ex = (
                cf[bad]
                .head(5)
                .apply(lambda r: ", ".join(f"{k}={r[k]}" for k in CELL), axis=1)
                .tolist()
            )
            raise ConstraintConflict(
                tr(
                    "{n} cells have a floor (vs last year) above their cap (vs "
                    "potential), e.g. {examples}"
                ).format(n=int(bad.sum()), examples="; ".join(ex)),
                problems=[
                    Problem(
                        tr("floor {floor} > cap {cap}").format(
                            floor=f"{floor_c[i]:,.0f}", cap=f"{cap_c[i]:,.0f}"
                        ),
                        key=", ".join(f"{k}={cf.iloc[i][k]}" for k in CELL),
                    )
                    for i in np.flatnonzero(bad)[:5]
                ],
                fix=tr(
                    "lower floors.vs_last_year, raise caps.vs_potential or "
                    "allocation.potential_share"
                ),
            )
    return floor_c, cap_c


def pin_groups(cells: PlanCells, plan: Plan) -> tuple[list[Group], list[Group], list[str]]:
    """The revenue pins as groups of cells: ``(pins, pins x (1 + cushion), notes)``, amounts
    rounded to ``rounding.revenue`` (a note for each pin that had to be rounded)."""
    unit = plan.rounding_revenue
    groups: list[Group] = []
    groups_c: list[Group] = []
    notes: list[str] = []
    for i, p in enumerate(plan.pins):
        if p.revenue is None:
            continue
        idx = np.flatnonzero(segment_mask(cells.cells, p.segment_dict))
        val = round_unit(p.revenue, unit)
        if val != p.revenue:
            notes.append(
                tr("pins[{i}] ({pin}) rounded to {value}").format(
                    i=i, pin=p.label, value=f"{val:,.0f}"
                )
            )
        name = tr("pins[{i}] ({pin}) = {amount}").format(i=i, pin=p.label, amount=f"{val:,.0f}")
        groups.append(Group(name, idx, val))
        groups_c.append(Group(f"pins[{i}]", idx, round_unit(val * (1 + plan.cushion_pct), unit)))
    return groups, groups_c, notes


def conflict_error(
    conflict: list[str],
    groups: list[Group],
    floor_c: np.ndarray | None,
    cap_c: np.ndarray | None,
    floor_name: str,
    cap_name: str,
) -> ConstraintConflict:
    """The error for a conflicting set of pins, company total, floors and caps (``groups``:
    the company total first, then the pins, as :func:`apply_constraints` builds them).

    Only the constraints in the conflict are described: a group's floor and cap sums appear
    only when the floors (or caps) are part of the conflict, and the fix names only the plan
    settings involved. Without floors and caps the conflict comes from the groups overlapping
    (targets are never negative), which is what the detail then says.
    """
    use_floor = floor_c is not None and floor_name in conflict
    use_cap = cap_c is not None and cap_name in conflict
    named = [g for g in groups if g.name in conflict]
    probs = [_group_problem(g, named, floor_c, cap_c, use_floor, use_cap) for g in named]
    knobs = []
    if any(g is not groups[0] for g in named):  # groups: the company total, then the pins
        knobs.append(tr("a pin's amount"))
    if use_floor:
        knobs.append("floors.vs_last_year")
    if use_cap:
        knobs.append("caps.vs_potential")
    if any(g is groups[0] for g in named):
        knobs.append(tr("the company target"))
    or_ = tr(" or ")
    knob_txt = or_.join([", ".join(knobs[:-1]), knobs[-1]] if len(knobs) > 1 else knobs)
    msg = (
        tr("these plan constraints cannot all hold at once: {conflict}")
        if use_floor or use_cap
        else tr(
            "these plan constraints cannot all hold at once: {conflict} "
            "(no cell target can be negative)"
        )
    )
    fix = (
        tr("change one of the named constraints ({settings})")
        if knob_txt
        else tr("change one of the named constraints")
    )
    return ConstraintConflict(
        msg.format(conflict="; ".join(conflict)), problems=probs, fix=fix.format(settings=knob_txt)
    )


def _group_problem(
    g: Group,
    named: list[Group],
    floor_c: np.ndarray | None,
    cap_c: np.ndarray | None,
    use_floor: bool,
    use_cap: bool,
) -> Problem:
    """What a group in a conflict has: its floors' and caps' sums, or the cells it covers."""
    parts = []
    if use_floor:
        parts.append(
            tr("the floors of its cells sum to {total}").format(
                total=f"{float(floor_c[g.index].sum()):,.0f}"
            )
        )
    if use_cap:
        cp = float(cap_c[g.index].sum())
        if np.isfinite(cp):
            what = (
                tr("their caps to {total}")
                if parts
                else tr("the caps of its cells sum to {total}")
            )
            parts.append(what.format(total=f"{cp:,.0f}"))
        else:
            parts.append(tr("they have no cap") if parts else tr("its cells have no cap"))
    if not parts:  # only groups: they overlap, and no cell target can be negative
        cells_g = set(np.asarray(g.index, int).tolist())
        inside = [
            h.name
            for h in named
            if h is not g and cells_g < set(np.asarray(h.index, int).tolist())
        ]
        covers = (
            tr("covers {n} cell(s), all within {groups}") if inside else tr("covers {n} cell(s)")
        )
        parts.append(covers.format(n=len(cells_g), groups="; ".join(inside)))
    detail = tr("{group}: {details}").format(group=g.name, details=", ".join(parts))
    return Problem(detail, key=g.name.split(" = ")[0])


@dataclass(frozen=True)
class Constrained:
    """The cells after pins, floors and caps.

    Attributes:
        cells: cell targets (cell order) within floors and caps, pins and total held.
        change: per cell, what the constraints changed (``cells`` - the cells before).
        floor, cap: per cell (None when the plan has none).
        pins, pins_c: the revenue pins as cell groups, and the same x (1 + cushion).
        binding: per cell, the constraints binding there ('; '-joined, '' when none).
        checks: the "fitted" check; ``notes``: pins rounded to the unit.
    """

    cells: np.ndarray
    change: np.ndarray
    floor: np.ndarray | None
    cap: np.ndarray | None
    pins: list[Group]
    pins_c: list[Group]
    binding: list[str]
    checks: tuple[CheckRow, ...] = ()
    notes: tuple[str, ...] = ()


def _binding(
    x3: np.ndarray,
    pins: list[Group],
    floor_c: np.ndarray | None,
    cap_c: np.ndarray | None,
    plan: Plan,
) -> list[str]:
    """Per cell, the pins naming it and the floor or cap it sits on."""
    binding = []
    for i in range(len(x3)):
        b = [g.name for g in pins if i in set(g.index)]
        if (
            floor_c is not None
            and abs(x3[i] - floor_c[i]) <= 1e-6 * max(1.0, floor_c[i])
            and floor_c[i] > 0
        ):
            b.append(tr("floor {pct} x last year").format(pct=f"{plan.floor_vs_last_year:.0%}"))
        if (
            cap_c is not None
            and np.isfinite(cap_c[i])
            and abs(x3[i] - cap_c[i]) <= 1e-6 * max(1.0, cap_c[i])
        ):
            b.append(tr("cap {pct} x potential").format(pct=f"{plan.cap_vs_potential:.0%}"))
        binding.append("; ".join(b))
    return binding


def apply_constraints(x2: np.ndarray, cells: PlanCells, total: float, plan: Plan) -> Constrained:
    """Fit the cell targets ``x2`` (summing to ``total``) to the plan's pins, floors and caps.

    Raises:
        ConstraintConflict: a floor above a cap, or pins, total, floors and caps that cannot
            hold together (a smallest conflicting set named).
    """
    n = len(x2)
    floor_c, cap_c = bounds(cells, plan)
    pins, pins_c, notes = pin_groups(cells, plan)
    company = tr("company revenue target {total}").format(total=f"{total:,.0f}")
    groups = [Group(company, np.arange(n), total), *pins]
    floor_name = tr("floors (each cell >= {pct} of last year)").format(
        pct=f"{plan.floor_vs_last_year or 0:.0%}"
    )
    cap_name = tr("caps (each cell <= {pct} of its potential)").format(
        pct=f"{plan.cap_vs_potential or 0:.0%}"
    )
    conflict = find_conflict(n, groups, floor_c, cap_c, lower_name=floor_name, upper_name=cap_name)
    if conflict:
        raise conflict_error(conflict, groups, floor_c, cap_c, floor_name, cap_name)
    x3, cyc, fit_err = fit_constraints(x2, groups, floor_c, cap_c)
    check: CheckRow = (
        tr("pins/floors/caps fitted"),
        fit_err <= 1e-6 * max(total, 1.0),
        fit_err,
        tr("{n} raking cycles, max error {error}").format(n=cyc, error=f"{fit_err:.2e}"),
    )
    binding = _binding(x3, pins, floor_c, cap_c, plan)
    return Constrained(x3, x3 - x2, floor_c, cap_c, pins, pins_c, binding, (check,), tuple(notes))


def constraint_checks(r_c: np.ndarray, con: Constrained, unit: float) -> list[CheckRow]:
    """That the rounded cells ``r_c`` honour the pins exactly and the floors and caps within
    one rounding unit."""
    rows: list[CheckRow] = []
    for g in con.pins:
        got = float(r_c[g.index].sum())
        rows.append(
            (
                tr("pin honoured: {pin}").format(pin=g.name),
                bool(abs(got - g.target) < 1e-6),
                float(got - g.target),
                f"{got:,.0f}",
            )
        )
    if con.floor is not None:
        slack = float((r_c - con.floor).min())
        rows.append(
            (
                tr("floors honoured (within one rounding unit)"),
                bool(slack >= -unit - 1e-6),
                slack,
                tr("smallest margin of a cell over its floor"),
            )
        )
    if con.cap is not None:
        slack = float(np.min(np.where(np.isfinite(con.cap), con.cap - r_c, np.inf)))
        rows.append(
            (
                tr("caps honoured (within one rounding unit)"),
                bool(slack >= -unit - 1e-6),
                slack,
                tr("smallest margin of a cell under its cap"),
            )
        )
    return rows
