"""``salesanalysis plan import``: a manager's edits to rep targets in ``targets.xlsx``, read back.

The manager edits the *Rep* sheet's target revenue (with cushion) of some reps. Each edit is an
override: the rep's new annual target. The difference is spread so that every pin and the
company total stay as they were:

1. an edited rep's change is spread over the rep's rows (months x cells) in proportion to their
   targets, in whole units of ``rounding.revenue``;
2. rows are grouped by the pins whose segment holds them (rows under no pin form one group);
   within each group, the edited reps' changes are offset over the *unedited* reps' rows of that
   group, in proportion to their targets. A pinned segment's total, and so the company total,
   is unchanged. When a group has no unedited rep to take the offset, or the offset would take a
   row below zero, the import is refused and says which pin or total stands in the way.

The target without cushion moves by the same rule, by each edit's change / (1 + cushion) rounded
to the unit. Customers targets are not changed. Edits are validated first (a number, whole
units, not negative, a rep that exists in that region) and every problem is listed at once.

What is written: the run's ``targets.parquet`` and ``targets_company.parquet`` become the edited
targets (the run's own are kept once as ``*_before_import.parquet``) and ``targets.xlsx`` shows
them (every level sheet, *Rep x month*, *Rep load* with its loads and flags, *Headcount*); when the fiscal year has a plan of record, the edited targets are also stored as its next
version (kind ``import``) through :mod:`salesanalysis.targets.record`.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.errors import InputError, Problem, RecordError

__all__ = ["ImportResult", "import_workbook", "read_rep_edits", "spread_edits"]

CELL = ["region", "product_line", "customer_type"]
REP_SHEET = "Rep"


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    edits: pd.DataFrame  # region, rep_id, old, new, change (with cushion)
    targets: pd.DataFrame  # the new targets (the grain of targets.parquet)
    offsets: pd.DataFrame  # group, change spread over the unedited reps
    version: str | None  # the plan-of-record version written, None for a draft
    notes: tuple[str, ...] = ()  # edits that were not read (other columns)

    def lines(self, currency: str = "") -> list[str]:
        """old -> new per edit, then where the offsets went."""
        unit = f" {currency}" if currency else ""
        out = [
            f"{r.region}/{r.rep_id}: {r.old:,.0f} -> {r.new:,.0f}{unit} ({r.change:+,.0f})"
            for r in self.edits.itertuples()
        ]
        out += [
            f"offset over the other reps of {r.group}: {r.change:+,.0f}{unit} ({r.reps} reps)"
            for r in self.offsets.itertuples()
            if r.change
        ]
        return out


def _plan(run: Path) -> dict[str, Any]:
    path = run / "outputs" / "plan.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    return data if isinstance(data, dict) else {}


def read_rep_edits(
    workbook: Path, targets: pd.DataFrame, unit: float
) -> tuple[pd.DataFrame, list[str]]:
    """The reps whose target revenue the workbook's *Rep* sheet changes: ``region, rep_id,
    old, new, change, row``; and notes on edits that are not read (other columns).

    Raises:
        InputError: no Rep sheet or column, a value that is not a whole, non-negative number of
            ``unit``, a rep that does not exist in that region, a rep listed twice.
    """
    from openpyxl import load_workbook

    from salesanalysis.report.excel import TOTAL_LABEL, column_of_header

    name = workbook.name
    try:
        wb = load_workbook(workbook, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input problem
        raise InputError(
            f"{workbook} is not a readable workbook ({type(exc).__name__})",
            fix="Give the targets.xlsx of a run, saved as .xlsx.",
        ) from None
    try:
        if REP_SHEET not in wb.sheetnames:
            raise InputError(
                f"{workbook} has no sheet {REP_SHEET!r} (sheets: {', '.join(wb.sheetnames)})",
                fix="Edit the rep targets in the Rep sheet of the run's targets.xlsx.",
            )
        rows = list(wb[REP_SHEET].iter_rows(values_only=True))
    finally:
        wb.close()
    wanted = [
        "region",
        "rep_id",
        "target_revenue",
        "target_revenue_no_cushion",
        "target_customers",
    ]
    at: dict[str, int] = {}
    for j, h in enumerate(rows[0] if rows else ()):
        col = column_of_header(h, wanted)
        if col and col not in at:
            at[col] = j
    missing = [c for c in ("region", "rep_id", "target_revenue") if c not in at]
    if missing:
        raise InputError(
            f"sheet {REP_SHEET} of {workbook} lacks the column(s) {missing}",
            fix="Keep the header row of the Rep sheet as the pipeline wrote it.",
        )
    old = targets.groupby(["region", "rep_id"])[
        ["target_revenue", "target_revenue_no_cushion", "target_customers"]
    ].sum()
    problems: list[Problem] = []
    notes: list[str] = []
    edits, seen = [], set()
    for i, row in enumerate(rows[1:], start=2):
        if not row or all(v is None for v in row) or row[0] == TOTAL_LABEL:
            continue
        region = str(row[at["region"]]).removeprefix("'")
        rep = str(row[at["rep_id"]]).removeprefix("'")
        value = row[at["target_revenue"]]
        col = rows[0][at["target_revenue"]]
        if (region, rep) not in old.index:
            problems.append(
                Problem(
                    f"rep {rep} in region {region} is not in the run's targets",
                    file=name,
                    column=str(col),
                    rows=[i],
                    fix="Edit the target of a listed rep; add reps in reps.csv and rerun.",
                )
            )
            continue
        if (region, rep) in seen:
            problems.append(Problem(f"rep {rep} is listed twice", file=name, rows=[i]))
            continue
        seen.add((region, rep))
        bad = _value_problem(value, unit, name, str(col), i)
        if bad is not None:
            problems.append(bad)
            continue
        before = old.loc[(region, rep)]
        if abs(float(value) - float(before["target_revenue"])) > 0.5:
            edits.append((region, rep, float(before["target_revenue"]), float(value), i))
            continue
        for other in ("target_revenue_no_cushion", "target_customers"):
            v = row[at[other]] if other in at else None
            if isinstance(v, int | float) and abs(float(v) - float(before[other])) > 0.5:
                notes.append(
                    f"row {i} ({region}/{rep}): the edit of {other} is not read; edit the "
                    "target revenue (with cushion), the others follow from it"
                )
    if problems:
        raise InputError(
            f"{workbook}: {len(problems)} edit(s) cannot be read",
            problems,
            fix="Correct the cells named above and import again; nothing was written.",
        )
    frame = pd.DataFrame(edits, columns=["region", "rep_id", "old", "new", "row"])
    frame["change"] = frame["new"] - frame["old"]
    return frame, notes


def _value_problem(value: Any, unit: float, file: str, col: str, row: int) -> Problem | None:
    """What is wrong with a typed target (not a number, negative, not whole units), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return Problem(
            "the target is not a number",
            file=file,
            column=col,
            rows=[row],
            values=[value],
            fix="Type the rep's annual target as a number (no text, no formula).",
        )
    if value < 0:
        return Problem(
            "the target is negative",
            file=file,
            column=col,
            rows=[row],
            values=[value],
            fix="Targets are 0 or more.",
        )
    if abs(value / unit - round(value / unit)) > 1e-9 * max(1.0, abs(value / unit)):
        return Problem(
            f"the target is not in whole units of {unit:,.0f}",
            file=file,
            column=col,
            rows=[row],
            values=[value],
            fix=f"Round it to a multiple of {unit:,.0f} (plan.yaml rounding.revenue).",
        )
    return None


def _share(amount: int, weights: np.ndarray) -> np.ndarray:
    """``amount`` (whole units, any sign) over rows in proportion to ``weights`` (equal when
    they are all 0), largest remainder: the parts are whole and add up to ``amount``."""
    n = len(weights)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    w = np.asarray(weights, dtype=float)
    w = w if w.sum() > 0 else np.ones(n)
    raw = abs(amount) * w / w.sum()
    base = np.floor(raw + 1e-9).astype(np.int64)
    left = abs(amount) - int(base.sum())
    if left:
        order = np.argsort(-(raw - base), kind="stable")
        base[order[:left]] += 1
    return base if amount >= 0 else -base


def _groups(targets: pd.DataFrame, pins: list[dict[str, Any]]) -> tuple[np.ndarray, list[str]]:
    """Each row's group (pins whose segment holds it) and the groups' names."""
    labels = np.full(len(targets), "", dtype=object)
    for p in pins:
        seg = p.get("segment") or {}
        if p.get("revenue") is None or not seg:
            continue
        mask = np.ones(len(targets), dtype=bool)
        for k, v in seg.items():
            mask &= targets[k].astype(str).to_numpy() == str(v)
        name = "pin " + ", ".join(f"{k}={v}" for k, v in seg.items())
        labels[mask] = [f"{a}; {name}" if a else name for a in labels[mask]]
    names = ["the reps under no pin" if g == "" else g for g in labels]
    return np.asarray(names, dtype=object), sorted(set(names))


def spread_edits(
    targets: pd.DataFrame, edits: pd.DataFrame, unit: float, cushion: float, pins: list[dict]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The targets with the edits applied and offset within each pin group (see the module's
    doc); and the offsets per group.

    Raises:
        RecordError: an offset has no unedited rep to go to, or would take a row below zero.
    """
    t = targets.reset_index(drop=True).copy()
    group, _ = _groups(t, pins)
    edited = set(zip(edits["region"], edits["rep_id"], strict=True))
    is_edited = np.array(
        [(r, p) in edited for r, p in zip(t["region"], t["rep_id"], strict=True)], dtype=bool
    )
    offsets = []
    problems: list[Problem] = []
    for col, scale in (("target_revenue", 1.0), ("target_revenue_no_cushion", 1 + cushion)):
        if col not in t.columns:
            continue
        units = np.round(t[col].to_numpy(dtype=float) / unit).astype(np.int64)
        delta = np.zeros(len(t), dtype=np.int64)
        for e in edits.itertuples():
            rows = np.flatnonzero(
                (t["region"].to_numpy() == e.region) & (t["rep_id"].to_numpy() == e.rep_id)
            )
            change = int(round(e.change / scale / unit))
            delta[rows] += _share(change, units[rows])
        for g in sorted(set(group)):
            in_g = group == g
            moved = int(delta[in_g & is_edited].sum())
            if not moved:
                continue
            takers = np.flatnonzero(in_g & ~is_edited)
            room = int(units[takers].sum())
            if len(takers) == 0 or (moved > room):
                if col == "target_revenue":
                    problems.append(_refusal(g, moved * unit, room * unit, len(takers)))
                continue
            delta[takers] += _share(-moved, units[takers])
            if col == "target_revenue":
                offsets.append((g, -moved * unit, len(set(t.loc[takers, "rep_id"]))))
        new = units + delta
        if (new < 0).any() and not problems:
            bad = np.flatnonzero(new < 0)[:5]
            problems.append(
                Problem(
                    f"the edits would take {len(np.flatnonzero(new < 0))} monthly target(s) of "
                    f"{col} below zero (e.g. {', '.join(str(t.loc[i, 'rep_id']) for i in bad)})",
                    fix="Lower the edited targets less.",
                )
            )
        t[col] = new.astype(float) * unit
    if problems:
        raise RecordError(
            f"the edits cannot be imported: {len(problems)} pin(s) or total(s) stand in the way",
            problems,
            fix="Edit the targets so that the reps of a pinned segment still add up to the pin "
            "(raise one, lower another), or change the pin in plan.yaml and rerun; nothing "
            "was written.",
        )
    return t, pd.DataFrame(offsets, columns=["group", "change", "reps"])


def _refusal(group: str, moved: float, room: float, takers: int) -> Problem:
    what = "the company total" if group == "the reps under no pin" else f"the {group}"
    if takers == 0:
        why = (
            f"the edits change {group} by {moved:+,.0f} and no unedited rep is left there to "
            f"offset it, so {what} would break"
        )
    else:
        why = (
            f"the edits add {moved:+,.0f} to {group}, more than the {room:,.0f} the unedited "
            f"reps there hold, so {what} cannot be kept without a negative target"
        )
    return Problem(why, key="pins" if group.startswith("pin") else None)


def _company_table(t: pd.DataFrame, like: Path) -> pd.DataFrame:
    """``targets_company.parquet`` (month x cell, without cushion) of the new targets."""
    cols = [c for c in ("target_revenue_no_cushion", "target_customers") if c in t.columns]
    out = (
        t.groupby(["month", *CELL], as_index=False)[cols]
        .sum()
        .rename(columns={"target_revenue_no_cushion": "target_revenue"})
    )
    if like.exists():
        old = pd.read_parquet(like)
        if "plan_name" in old.columns and len(old):
            out["plan_name"] = old["plan_name"].iloc[0]
        out = out[[c for c in old.columns if c in out.columns]]
    return out


def _refresh_workbook(path: Path, targets: pd.DataFrame, plan: dict[str, Any]) -> None:
    """The run's ``targets.xlsx`` shows the imported targets: the level sheets, *Rep x month*,
    *Rep load* (loads and flags recomputed, flags in the run's report language) and
    *Headcount*."""
    from salesanalysis import i18n
    from salesanalysis.report.excel import refresh_level_sheets
    from salesanalysis.targets.output import LEVEL_SHEETS, refresh_rep_sheets

    flag_pct = (plan.get("reps") or {}).get("load_flag_pct")
    flag_pct = float(flag_pct) if isinstance(flag_pct, int | float) else None
    refresh_level_sheets(path, targets, only=LEVEL_SHEETS)
    before = i18n.language()
    i18n.set_report_from_plan(plan)
    try:
        refresh_rep_sheets(path, targets, flag_pct)
    finally:
        i18n.set_report(before)


def import_workbook(
    run: Path | str, workbook: Path | str, records: Path | str, note: str | None = None
) -> ImportResult:
    """Import a manager's rep-target edits into a run (and the plan of record, when the year
    has one). Nothing is written unless every edit is valid and can be offset.

    Raises:
        InputError: the workbook or an edit is invalid (exit 2).
        RecordError: a pin or the company total stands in the way, or the run is not a
            successful run with targets (exit 6).
    """
    from salesanalysis.targets import record

    run, workbook = Path(run), Path(workbook)
    outputs = run / "outputs"
    src = record.run_targets(run)
    if not workbook.is_file():
        raise InputError(
            f"{workbook} does not exist", fix="Give the path of the edited targets.xlsx."
        )
    plan = _plan(run)
    unit = float((plan.get("rounding") or {}).get("revenue") or 1.0)
    cushion = float(plan.get("cushion_pct") or 0.0)
    targets = pd.read_parquet(src)
    edits, notes = read_rep_edits(workbook, targets, unit)
    if edits.empty:
        raise InputError(
            f"{workbook}: no rep target differs from the run's targets; nothing to import",
            fix="Edit the target revenue of some reps in the Rep sheet, save, import again.",
        )
    new, offsets = spread_edits(targets, edits, unit, cushion, list(plan.get("pins") or []))
    year = int(pd.to_datetime(new["month"]).dt.year.iloc[0])
    cur = record.current(year, records)
    for name in ("targets", "targets_company"):  # the run's own targets, kept once
        keep = outputs / f"{name}_before_import.parquet"
        if (outputs / f"{name}.parquet").exists() and not keep.exists():
            shutil.copy2(outputs / f"{name}.parquet", keep)
    company = _company_table(new, outputs / "targets_company.parquet")
    for name, df in (("targets", new), ("targets_company", company)):
        tmp = outputs / f".{name}.parquet.tmp"
        df.to_parquet(tmp, index=False)
        tmp.replace(outputs / f"{name}.parquet")
    if (outputs / "targets.xlsx").exists():
        _refresh_workbook(outputs / "targets.xlsx", new, plan)
    version = None
    if cur is not None:
        why = note or f"imported from {workbook.name}: {len(edits)} rep target(s) edited"
        version = record.store_import(run, records, why, cur).version
    return ImportResult(edits.drop(columns="row"), new, offsets, version, tuple(notes))
