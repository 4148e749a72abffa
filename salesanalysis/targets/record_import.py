"""``salesanalysis plan import``: a manager's edits to targets in ``targets.xlsx``, read back.

The manager edits the target revenue (with cushion) of some reps in the *Rep* sheet, or of some
cells (region x product line x customer type) in the *Cell* sheet; one level per import (edits
in both sheets are refused: import one, then the other). Each edit is an override: the rep's or
the cell's new annual target. The difference is spread so that every pin and the company total
stay as they were:

1. an edited rep's (cell's) change is spread over its rows (months x cells, or months x reps)
   in proportion to their targets, in whole units of ``rounding.revenue``;
2. rows are grouped by the pins whose segment holds them (rows under no pin form one group);
   within each group, the edited reps' (cells') changes are offset over the *unedited* reps'
   (cells') rows of that group, in proportion to their targets. A pinned segment's total, and
   so the company total, is unchanged. When a group has nothing unedited to take the offset, or
   the offset would take a row below zero, the import is refused and says which pin or total
   stands in the way.

The target without cushion moves by the same rule, by each edit's change / (1 + cushion) rounded
to the unit. Customers targets are not changed. Edits are validated first (a number, whole
units, not negative, a rep that exists in that region or a cell of the targets) and every
problem is listed at once.

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
from salesanalysis.i18n import N_, tr

__all__ = ["LEVELS", "ImportResult", "import_workbook", "read_edits", "spread_edits"]

CELL = ["region", "product_line", "customer_type"]
REP_SHEET = "Rep"
CELL_SHEET = "Cell"
LEVELS: dict[str, tuple[str, list[str]]] = {
    "rep": (REP_SHEET, ["region", "rep_id"]),
    "cell": (CELL_SHEET, CELL),
}
"""The levels a manager may edit: level -> (sheet of targets.xlsx, key columns)."""
NO_PIN = N_("everything under no pin")
"""The group of the rows no pin holds (their total is the company total less the pins)."""
_WHAT = {"rep": (N_("rep"), N_("reps")), "cell": (N_("cell"), N_("cells"))}


@dataclass(frozen=True)
class ImportResult:
    """What an import did."""

    edits: pd.DataFrame  # the level's keys, old, new, change (with cushion)
    targets: pd.DataFrame  # the new targets (the grain of targets.parquet)
    offsets: pd.DataFrame  # group, change spread over the unedited reps (cells), count
    version: str | None  # the plan-of-record version written, None for a draft
    notes: tuple[str, ...] = ()  # edits that were not read (other columns)
    level: str = "rep"  # what was edited: "rep" (the Rep sheet) or "cell" (the Cell sheet)
    currency: str = ""  # of the run's plan, shown after the amounts

    def heading(self, workbook: str) -> str:
        """``3 rep target(s) edited in edited.xlsx (target with cushion):``."""
        return tr("{n} {what} target(s) edited in {workbook} (target with cushion):").format(
            n=len(self.edits), what=tr(_WHAT[self.level][0]), workbook=workbook
        )

    def report(self, workbook: Path | str, run: Path | str, records: Path | str) -> list[str]:
        """What ``plan import`` prints: the edits old -> new, the offsets, the notes, the
        company total and where the targets went."""
        currency = self.currency
        out = [self.heading(str(workbook))]
        out += [f"  {line}" for line in self.lines(currency)]
        out += [tr("note: {note}").format(note=n) for n in self.notes]
        total = self.targets["target_revenue"].sum()
        out.append(
            tr("company total unchanged: {total}").format(
                total=f"{total:,.0f}{' ' + currency if currency else ''}"
            )
        )
        if self.version:
            out.append(
                tr("stored as {version}, now the current plan of record in {records}").format(
                    version=self.version, records=records
                )
            )
        else:
            out.append(
                tr(
                    "written to {outputs} (targets.parquet, targets.xlsx) as the run's draft; "
                    "freeze it with `salesanalysis plan freeze --run {run}`"
                ).format(outputs=Path(run) / "outputs", run=run)
            )
        return out

    def lines(self, currency: str = "") -> list[str]:
        """old -> new per edit, then where the offsets went."""
        unit = f" {currency}" if currency else ""
        keys = LEVELS[self.level][1]
        out = [
            f"{'/'.join(str(getattr(r, k)) for k in keys)}: {r.old:,.0f} -> {r.new:,.0f}{unit}"
            f" ({r.change:+,.0f})"
            for r in self.edits.itertuples()
        ]
        what = tr(_WHAT[self.level][1])
        out += [
            tr("offset over the other {what} of {group}: {change}{unit} ({n} {what})").format(
                what=what, group=r.group, change=f"{r.change:+,.0f}", unit=unit, n=r.count
            )
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


def read_edits(
    workbook: Path, targets: pd.DataFrame, unit: float
) -> tuple[pd.DataFrame, list[str], str]:
    """The reps (*Rep* sheet) or cells (*Cell* sheet) whose target revenue the workbook
    changes: the level's key columns, ``old, new, change, row``; notes on edits that are not
    read (other columns); and the level edited (``"rep"`` or ``"cell"``; ``"rep"`` when
    nothing differs).

    Raises:
        InputError: no Rep or Cell sheet, a missing column, a value that is not a whole,
            non-negative number of ``unit``, a rep or cell that is not in the targets, one
            listed twice, or edits in both sheets.
    """
    from openpyxl import load_workbook

    try:
        wb = load_workbook(workbook, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input problem
        raise InputError(
            tr("{workbook} is not a readable workbook ({kind})").format(
                workbook=workbook, kind=type(exc).__name__
            ),
            fix=tr("Give the targets.xlsx of a run, saved as .xlsx."),
        ) from None
    try:
        sheets = {
            level: list(wb[sheet].iter_rows(values_only=True))
            for level, (sheet, _) in LEVELS.items()
            if sheet in wb.sheetnames
        }
        names = list(wb.sheetnames)
    finally:
        wb.close()
    if not sheets:
        raise InputError(
            tr("{workbook} has no sheet {rep!r} or {cell!r} (sheets: {sheets})").format(
                workbook=workbook, rep=REP_SHEET, cell=CELL_SHEET, sheets=", ".join(names)
            ),
            fix=tr(
                "Edit the rep targets in the Rep sheet, or the cell targets in the Cell sheet, "
                "of the run's targets.xlsx."
            ),
        )
    problems: list[Problem] = []
    notes: list[str] = []
    found: dict[str, pd.DataFrame] = {}
    for level, rows in sheets.items():
        edits = _sheet_edits(level, rows, workbook, targets, unit, problems, notes)
        if edits is not None and len(edits):
            found[level] = edits
    if problems:
        raise InputError(
            tr("{workbook}: {n} edit(s) cannot be read").format(
                workbook=workbook, n=len(problems)
            ),
            problems,
            fix=tr("Correct the cells named above and import again; nothing was written."),
        )
    if len(found) > 1:
        raise InputError(
            tr(
                "{workbook} changes targets in both the Rep and the Cell sheet ({reps} rep(s), "
                "{cells} cell(s)); one import reads one level"
            ).format(workbook=workbook, reps=len(found["rep"]), cells=len(found["cell"])),
            fix=tr(
                "Import the workbook with the Rep edits only, then edit the Cell sheet of the "
                "refreshed targets.xlsx and import again (each import keeps the pins and the "
                "company total)."
            ),
        )
    level = next(iter(found), "rep")
    keys = LEVELS[level][1]
    frame = found.get(level, pd.DataFrame(columns=[*keys, "old", "new", "row"]))
    frame["change"] = frame["new"] - frame["old"]
    return frame, notes, level


def _sheet_edits(
    level: str,
    rows: list[tuple[Any, ...]],
    workbook: Path,
    targets: pd.DataFrame,
    unit: float,
    problems: list[Problem],
    notes: list[str],
) -> pd.DataFrame | None:
    """The edits of one level's sheet; its problems and notes are added to the lists. None
    when the sheet lacks a key column (a problem)."""
    from salesanalysis.report.excel import TOTAL_LABEL, column_of_header

    sheet, keys = LEVELS[level]
    name = workbook.name
    figures = ["target_revenue", "target_revenue_no_cushion", "target_customers"]
    at: dict[str, int] = {}
    for j, h in enumerate(rows[0] if rows else ()):
        col = column_of_header(h, [*keys, *figures])
        if col and col not in at:
            at[col] = j
    missing = [c for c in (*keys, "target_revenue") if c not in at]
    if missing:
        problems.append(
            Problem(
                tr("sheet {sheet} lacks the column(s) {missing}").format(
                    sheet=sheet, missing=", ".join(missing)
                ),
                file=name,
                fix=tr(
                    "Keep the header row of the {sheet} sheet as the pipeline wrote it."
                ).format(sheet=sheet),
            )
        )
        return None
    old = targets.groupby(keys)[figures].sum()
    what = tr(_WHAT[level][0])
    edits, seen = [], set()
    for i, row in enumerate(rows[1:], start=2):
        if not row or all(v is None for v in row) or row[0] == TOTAL_LABEL:
            continue
        key = tuple(str(row[at[k]]).removeprefix("'") for k in keys)
        label = "/".join(key)
        col = str(rows[0][at["target_revenue"]])
        if key not in old.index:
            problems.append(
                Problem(
                    tr("{what} {label} is not in the run's targets").format(
                        what=what, label=label
                    ),
                    file=name,
                    column=col,
                    rows=[i],
                    fix=tr(
                        "Edit the target of a listed rep or cell; add reps in reps.csv and rerun."
                    ),
                )
            )
            continue
        if key in seen:
            problems.append(
                Problem(
                    tr("{what} {label} is listed twice").format(what=what, label=label),
                    file=name,
                    rows=[i],
                )
            )
            continue
        seen.add(key)
        value = row[at["target_revenue"]]
        bad = _value_problem(value, unit, name, col, i)
        if bad is not None:
            problems.append(bad)
            continue
        before = old.loc[key]
        if abs(float(value) - float(before["target_revenue"])) > 0.5:
            edits.append((*key, float(before["target_revenue"]), float(value), i))
            continue
        for other in ("target_revenue_no_cushion", "target_customers"):
            v = row[at[other]] if other in at else None
            if isinstance(v, int | float) and abs(float(v) - float(before[other])) > 0.5:
                notes.append(
                    tr(
                        "sheet {sheet}, row {row} ({label}): the edit of {column} is not read; "
                        "edit the target revenue (with cushion), the others follow from it"
                    ).format(sheet=sheet, row=i, label=label, column=other)
                )
    return pd.DataFrame(edits, columns=[*keys, "old", "new", "row"])


def _value_problem(value: Any, unit: float, file: str, col: str, row: int) -> Problem | None:
    """What is wrong with a typed target (not a number, negative, not whole units), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return Problem(
            tr("the target is not a number"),
            file=file,
            column=col,
            rows=[row],
            values=[value],
            fix=tr("Type the annual target as a number (no text, no formula)."),
        )
    if value < 0:
        return Problem(
            tr("the target is negative"),
            file=file,
            column=col,
            rows=[row],
            values=[value],
            fix=tr("Targets are 0 or more."),
        )
    if abs(value / unit - round(value / unit)) > 1e-9 * max(1.0, abs(value / unit)):
        return Problem(
            tr("the target is not in whole units of {unit}").format(unit=f"{unit:,.0f}"),
            file=file,
            column=col,
            rows=[row],
            values=[value],
            fix=tr("Round it to a multiple of {unit} (plan.yaml rounding.revenue).").format(
                unit=f"{unit:,.0f}"
            ),
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
        name = tr("pin {segment}").format(segment=", ".join(f"{k}={v}" for k, v in seg.items()))
        labels[mask] = [f"{a}; {name}" if a else name for a in labels[mask]]
    names = [NO_PIN if g == "" else g for g in labels]
    return np.asarray(names, dtype=object), sorted(set(names))


def spread_edits(
    targets: pd.DataFrame,
    edits: pd.DataFrame,
    unit: float,
    cushion: float,
    pins: list[dict],
    level: str = "rep",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The targets with the edits (of reps or cells, ``level``) applied and offset within each
    pin group (see the module's doc); and the offsets per group.

    Raises:
        RecordError: an offset has nothing unedited to go to, or would take a row below zero.
    """
    keys = LEVELS[level][1]
    t = targets.reset_index(drop=True).copy()
    group, _ = _groups(t, pins)
    row_key = pd.MultiIndex.from_frame(t[keys].astype(str))
    edit_key = pd.MultiIndex.from_frame(edits[keys].astype(str))
    is_edited = np.asarray(row_key.isin(edit_key), dtype=bool)
    row_of = pd.Series(np.arange(len(t))).groupby(row_key.to_flat_index()).apply(list)
    offsets = []
    problems: list[Problem] = []
    for col, scale in (("target_revenue", 1.0), ("target_revenue_no_cushion", 1 + cushion)):
        if col not in t.columns:
            continue
        units = np.round(t[col].to_numpy(dtype=float) / unit).astype(np.int64)
        delta = np.zeros(len(t), dtype=np.int64)
        for key, change_ in zip(edit_key.to_flat_index(), edits["change"], strict=True):
            rows = np.asarray(row_of.get(key, []), dtype=np.int64)
            change = int(round(change_ / scale / unit))
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
                    problems.append(_refusal(g, moved * unit, room * unit, len(takers), level))
                continue
            delta[takers] += _share(-moved, units[takers])
            if col == "target_revenue":
                count = len(set(row_key[takers]))
                offsets.append((g, -moved * unit, count))
        new = units + delta
        if (new < 0).any() and not problems:
            bad = np.flatnonzero(new < 0)[:5]
            problems.append(
                Problem(
                    tr(
                        "the edits would take {n} monthly target(s) of {column} below zero "
                        "(e.g. {examples})"
                    ).format(
                        n=len(np.flatnonzero(new < 0)),
                        column=col,
                        examples=", ".join("/".join(row_key[i]) for i in bad),
                    ),
                    fix=tr("Lower the edited targets less."),
                )
            )
        t[col] = new.astype(float) * unit
    if problems:
        raise RecordError(
            tr("the edits cannot be imported: {n} pin(s) or total(s) stand in the way").format(
                n=len(problems)
            ),
            problems,
            fix=tr(
                "Edit the targets so that the reps (cells) of a pinned segment still add up to "
                "the pin (raise one, lower another), or change the pin in plan.yaml and rerun; "
                "nothing was written."
            ),
        )
    return t, pd.DataFrame(offsets, columns=["group", "change", "count"])


def _refusal(group: str, moved: float, room: float, takers: int, level: str) -> Problem:
    kept = tr("the company total") if group == NO_PIN else group
    one, many = (tr(w) for w in _WHAT[level])
    if takers == 0:
        why = tr(
            "the edits change {group} by {moved} and no unedited {what} is left there to "
            "offset it, so {kept} would break"
        ).format(group=group, moved=f"{moved:+,.0f}", what=one, kept=kept)
    else:
        why = tr(
            "the edits add {moved} to {group}, more than the {room} the unedited {what} there "
            "hold, so {kept} cannot be kept without a negative target"
        ).format(group=group, moved=f"{moved:+,.0f}", room=f"{room:,.0f}", what=many, kept=kept)
    return Problem(why, key="pins" if group != NO_PIN else None)


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
    """Import a manager's edits of rep or cell targets into a run (and the plan of record, when the year
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
            tr("{workbook} does not exist").format(workbook=workbook),
            fix=tr("Give the path of the edited targets.xlsx."),
        )
    plan = _plan(run)
    unit = float((plan.get("rounding") or {}).get("revenue") or 1.0)
    cushion = float(plan.get("cushion_pct") or 0.0)
    targets = pd.read_parquet(src)
    edits, notes, level = read_edits(workbook, targets, unit)
    if edits.empty:
        raise InputError(
            tr(
                "{workbook}: no rep or cell target differs from the run's targets; nothing to "
                "import"
            ).format(workbook=workbook),
            fix=tr(
                "Edit the target revenue of some reps in the Rep sheet (or of some cells in the "
                "Cell sheet), save, import again."
            ),
        )
    pins = list(plan.get("pins") or [])
    new, offsets = spread_edits(targets, edits, unit, cushion, pins, level)
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
        why = note or tr("imported from {workbook}: {n} {what} target(s) edited").format(
            workbook=workbook.name, n=len(edits), what=tr(_WHAT[level][0])
        )
        version = record.store_import(run, records, why, cur).version
    currency = str(plan.get("currency") or "")
    return ImportResult(
        edits.drop(columns="row"), new, offsets, version, tuple(notes), level, currency
    )
