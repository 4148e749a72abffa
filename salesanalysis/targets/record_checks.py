"""What ``plan freeze`` and ``plan adopt`` check before anything is stored.

A run's ``outputs/`` folder is an ordinary folder: a ``targets.parquet`` or a
``revised_targets.parquet`` may have been edited by hand since the run wrote it. The plan of
record keeps whatever it stores for the whole year, so the targets are checked first, and the
command refuses (:class:`~salesanalysis.errors.RecordError`, exit 6) with the first failing rows
(row 1 = the first row of the file) when any check fails:

- **grain**: month, region, product_line, customer_type, rep_id present and not blank; every
  month x region x product_line x customer_type x rep_id at most once (*unique*); the months run
  without a gap to December of the fiscal year and every region x product_line x customer_type
  cell has targets in each of them (*complete*);
- **numbers**: every target finite and not negative; revenue in whole units of the plan's
  ``rounding.revenue`` (from the run's ``plan.json``), customers whole (in units of
  ``rounding.customers``);
- **totals** (frozen targets): rep targets without cushion add up to the company target of
  ``targets_summary.parquet``, rep targets with cushion to the target with cushion, which is the
  target x (1 + cushion) rounded to the unit, customers to the customer target; per month and cell
  they add up to ``targets_company.parquet``;
- **totals** (a revision): each row's change is revised - plan; closed months keep the plan; the
  open months add up to the total the review computed (kept in the file's metadata); the
  ``plan_*`` columns add up to the current plan of record's totals in ``record.json`` (the
  revision revises the plan in force);
- **shortfall** (a revision): a review whose re-planning bounds could not place all that is
  still needed (``unallocated`` > 0 in the file's metadata) proposes targets below the
  full-year target; ``adopt`` refuses it unless told to accept it (``--accept-lower``), and
  then says so in the version's note (:func:`revision_shortfall`, :func:`refuse_shortfall`).

Files the run did not write are skipped (their checks cannot be made), never guessed. Workbooks
stored beside the targets (``targets.xlsx``) are checked to hold no formula but the total rows
the package writes (``SUBTOTAL(9, range)``), no external link and no macro, and a frozen
``targets.xlsx`` must still show the figures of ``targets.parquet`` (an edited workbook is
brought in with ``plan import``, never stored as it is).
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.errors import Problem, RecordError
from salesanalysis.i18n import N_, tr

__all__ = [
    "GRAIN",
    "check_revision",
    "check_targets",
    "check_workbook",
    "check_workbook_matches",
    "refuse_shortfall",
    "revision_shortfall",
    "shortfall_note",
]

CELL = ["region", "product_line", "customer_type"]
GRAIN = ["month", *CELL, "rep_id"]
MAX_WORKBOOK_XML = 500 * 1024 * 1024  # bytes of sheet XML read when looking for formulas
_FORMULA = re.compile(rb"<(?:\w+:)?f(?:\s[^>]*?)?(/?)>([^<]*)")


# --------------------------------------------------------------------------------------------
# helpers


def _describe(df: pd.DataFrame, idx: np.ndarray, col: str | None = None) -> list[str]:
    """``2026-03 华东/Pumps/SMB/R1 = -5000`` for the first rows in ``idx``."""
    out = []
    for i in idx[:5]:
        row = df.iloc[int(i)]
        month = row.get("month")
        m = f"{month:%Y-%m}" if isinstance(month, pd.Timestamp) else str(month)
        key = "/".join(str(row.get(c)) for c in [*CELL, "rep_id"])
        value = row.get(col) if col else None
        value = value.item() if hasattr(value, "item") else value  # numpy scalar -> Python
        out.append(f"{m} {key}" + (f" = {value!r}" if col else ""))
    return out


def _rows(df: pd.DataFrame, mask: Any, message: str, file: str, col: str | None = None) -> Problem:
    idx = np.flatnonzero(np.asarray(mask, dtype=bool))
    return Problem(
        message,
        file=file,
        column=col,
        rows=[int(i) + 1 for i in idx[:5]],
        count=len(idx),
        values=_describe(df, idx, col),
    )


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def _plan_json(run: Path) -> dict[str, Any]:
    path = Path(run) / "outputs" / "plan.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _units(run: Path) -> tuple[float | None, float]:
    """(revenue unit or None when the run has no plan.json, customer unit)."""
    rounding = _plan_json(run).get("rounding") or {}
    rev, cust = rounding.get("revenue"), rounding.get("customers")
    rev = float(rev) if isinstance(rev, int | float) and rev > 0 else None
    cust = float(cust) if isinstance(cust, int | float) and cust >= 1 else 1.0
    return rev, cust


def _not_whole(values: np.ndarray, unit: float) -> np.ndarray:
    q = values / unit
    return np.abs(q - np.round(q)) > 1e-6 * np.maximum(1.0, np.abs(q))


def _refuse(src: Path, action: str, problems: list[Problem]) -> None:
    if problems:
        raise RecordError(
            (
                tr(
                    "{file} cannot be frozen: {n} check(s) failed "
                    "(rows count from 1 = the first row of the file)"
                )
                if action == "frozen"
                else tr(
                    "{file} cannot be adopted: {n} check(s) failed "
                    "(rows count from 1 = the first row of the file)"
                )
            ).format(file=src, n=len(problems)),
            problems,
            fix=tr(
                "Store only targets as the pipeline wrote them: run the steps again (a "
                "hand-edited outputs file is refused). To change targets, change plan.yaml "
                "(e.g. pins) and rerun."
            ),
        )


# --------------------------------------------------------------------------------------------
# the checks


def _grain_problems(t: pd.DataFrame, src: str, year: int) -> list[Problem]:
    problems = []
    month = pd.to_datetime(t["month"], errors="coerce")
    bad_month = month.isna() | (month.dt.day != 1) | (month.dt.year != year)
    if bad_month.any():
        problems.append(
            _rows(
                t,
                bad_month,
                tr("months must be first days of months of {year}").format(year=year),
                src,
                "month",
            )
        )
    for col in ["region", "product_line", "customer_type", "rep_id"]:
        blank = t[col].isna() | (t[col].astype(str).str.strip() == "")
        if blank.any():
            problems.append(_rows(t, blank, tr("'{col}' is blank").format(col=col), src, col))
    if problems:
        return problems
    keyed = t.assign(month=month)
    dup = keyed.duplicated(GRAIN, keep=False)
    if dup.any():
        problems.append(
            _rows(
                keyed,
                dup,
                tr(
                    "{n} rows repeat a month x region x product_line x customer_type "
                    "x rep_id (each must appear once)"
                ).format(n=int(dup.sum())),
                src,
            )
        )
    months = pd.date_range(month.min(), f"{year}-12-01", freq="MS")
    have = set(zip(*(keyed[c] for c in ["month", *CELL]), strict=True))
    cells = keyed[CELL].drop_duplicates().itertuples(index=False, name=None)
    missing = [(m, *c) for c in cells for m in months if (m, *c) not in have]
    if missing:
        shown = [f"{m:%Y-%m} {'/'.join(c)}" for m, *c in missing[:5]]
        problems.append(
            Problem(
                tr(
                    "the targets are incomplete: {n} month x cell combinations from "
                    "{start} to {year}-12 have no row"
                ).format(n=len(missing), start=f"{months[0]:%Y-%m}", year=year),
                file=src,
                values=shown,
                count=len(missing),
            )
        )
    return problems


def _number_problems(
    t: pd.DataFrame, src: str, cols: dict[str, float | None], where: Any = None
) -> list[Problem]:
    """Finite, not negative, whole units (``cols``: column -> unit, None = only finite)."""
    problems = []
    scope = np.ones(len(t), dtype=bool) if where is None else np.asarray(where, dtype=bool)
    for col, unit in cols.items():
        if col not in t.columns:
            continue
        v = pd.to_numeric(t[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(v)
        if bad.any():
            msg = tr("'{col}' is not a finite number").format(col=col)
            problems.append(_rows(t, bad, msg, src, col))
            continue
        neg = v < 0
        if neg.any():
            problems.append(_rows(t, neg, tr("'{col}' is negative").format(col=col), src, col))
        if unit is not None:
            frac = _not_whole(v, unit) & scope
            if frac.any():
                msg = (
                    tr("'{col}' is not in whole")
                    if unit == 1
                    else tr("'{col}' is not in whole units of {unit}")
                ).format(col=col, unit=f"{unit:,g}")
                problems.append(_rows(t, frac, msg, src, col))
    return problems


def check_targets(targets: pd.DataFrame, src: Path, run: Path, year: int) -> None:
    """Refuse targets (``targets.parquet`` of a run) that a freeze must not store.

    Raises:
        RecordError: the first failing rows of each failed check (exit 6).
    """
    name = str(src)
    rev_unit, cust_unit = _units(run)
    problems = _grain_problems(targets, name, year)
    problems += _number_problems(
        targets,
        name,
        {
            "target_revenue": rev_unit,
            "target_revenue_no_cushion": rev_unit,
            "target_customers": cust_unit,
        },
    )
    if not problems:
        problems += _total_problems(targets, Path(run) / "outputs", rev_unit)
    _refuse(src, "frozen", problems)


def _total_problems(t: pd.DataFrame, outputs: Path, unit: float | None) -> list[Problem]:
    problems: list[Problem] = []
    summary_path = outputs / "targets_summary.parquet"
    sums = {
        c: float(pd.to_numeric(t[c]).sum())
        for c in ["target_revenue", "target_revenue_no_cushion", "target_customers"]
        if c in t.columns
    }
    if summary_path.is_file():
        s = pd.read_parquet(summary_path).set_index("measure")
        where = str(summary_path)
        pairs = []
        if "revenue" in s.index:
            rev = s.loc["revenue"]
            pairs += [
                ("target_revenue_no_cushion", "revenue", "target", float(rev["target"])),
                (
                    "target_revenue",
                    "revenue",
                    "target_with_cushion",
                    float(rev["target_with_cushion"]),
                ),
            ]
            cush = float(rev.get("cushion_pct", 0.0) or 0.0)
            expect = float(rev["target"]) * (1 + cush)
            tol = (unit or 0.0) / 2 + 1e-6 * max(1.0, abs(expect))
            if abs(float(rev["target_with_cushion"]) - expect) > tol:
                problems.append(
                    Problem(
                        tr(
                            "the company target with cushion {with_cushion} is not the "
                            "target {target} x (1 + {cushion})"
                        ).format(
                            with_cushion=f"{float(rev['target_with_cushion']):,.0f}",
                            target=f"{float(rev['target']):,.0f}",
                            cushion=f"{cush:.1%}",
                        ),
                        file=where,
                    )
                )
        if "customers" in s.index:
            pairs.append(
                ("target_customers", "customers", "target", float(s.loc["customers", "target"]))
            )
        for col, measure, field, total in pairs:
            if col in sums and not _close(sums[col], total):
                problems.append(
                    Problem(
                        tr(
                            "'{col}' adds up to {sum}, not to the company {measure} "
                            "{field} {total} of {file}"
                        ).format(
                            col=col,
                            sum=f"{sums[col]:,.2f}",
                            measure=measure,
                            field=field,
                            total=f"{total:,.2f}",
                            file=summary_path.name,
                        ),
                        file=str(outputs / "targets.parquet"),
                        column=col,
                    )
                )
    company_path = outputs / "targets_company.parquet"
    if company_path.is_file() and "target_revenue_no_cushion" in t.columns:
        comp = pd.read_parquet(company_path)
        keys = ["month", *CELL]
        mine = (
            t.assign(month=pd.to_datetime(t["month"]))
            .groupby(keys, as_index=False)[["target_revenue_no_cushion", "target_customers"]]
            .sum()
        )
        theirs = comp.assign(month=pd.to_datetime(comp["month"]))
        both = mine.merge(theirs, on=keys, how="outer", indicator=True)
        diff = (
            (both["_merge"] != "both")
            | ~np.isclose(
                both["target_revenue_no_cushion"],
                both["target_revenue"],
                rtol=1e-9,
                atol=1e-6,
            )
            | ~np.isclose(
                both["target_customers_x"], both["target_customers_y"], rtol=1e-9, atol=1e-6
            )
        )
        if diff.any():
            bad = both[diff].head(5)
            problems.append(
                Problem(
                    tr(
                        "rep targets do not add up to {file} in {n} month x cell combinations"
                    ).format(file=company_path.name, n=int(diff.sum())),
                    file=str(outputs / "targets.parquet"),
                    values=[
                        f"{r.month:%Y-%m} {r.region}/{r.product_line}/{r.customer_type}"
                        for r in bad.itertuples()
                    ],
                    count=int(diff.sum()),
                )
            )
    return problems


def check_revision(
    revised: pd.DataFrame, src: Path, run: Path, year: int, current_meta: dict[str, Any]
) -> None:
    """Refuse a revision (``revised_targets.parquet`` of a run) that ``adopt`` must not store.

    Args:
        revised: the file as read (``plan_*``, ``revised_*``, ``change_*``, ``status``).
        current_meta: ``record.json`` of the plan of record in force.

    Raises:
        RecordError: the first failing rows of each failed check (exit 6).
    """
    name = str(src)
    rev_unit, cust_unit = _units(run)
    status = revised["status"].astype(str) if "status" in revised.columns else None
    open_ = (status == "open").to_numpy() if status is not None else None
    problems = _grain_problems(revised, name, year)
    problems += _number_problems(
        revised,
        name,
        {
            "revised_revenue": rev_unit,
            "revised_revenue_no_cushion": rev_unit,
            "revised_customers": cust_unit,
        },
        where=open_,  # closed months keep the plan (rounded as the plan of record was)
    )
    problems += _number_problems(revised, name, {"revised_customers": 1.0})
    problems += _number_problems(
        revised,
        name,
        {"plan_revenue": None, "plan_customers": None, "plan_revenue_no_cushion": None},
    )
    if problems:
        _refuse(src, "adopted", problems)
    measures = [
        m for m in ("revenue", "customers", "revenue_no_cushion") if f"revised_{m}" in revised
    ]
    for m in measures:
        rv, pl, ch = f"revised_{m}", f"plan_{m}", f"change_{m}"
        if pl in revised.columns and ch in revised.columns:
            off = ~np.isclose(revised[ch], revised[rv] - revised[pl], rtol=1e-9, atol=1e-6)
            if off.any():
                msg = tr("'{change}' is not '{revised}' - '{plan}'").format(
                    change=ch, revised=rv, plan=pl
                )
                problems.append(_rows(revised, off, msg, name, rv))
        if pl in revised.columns and status is not None:
            moved = (status == "closed").to_numpy() & ~np.isclose(
                revised[rv], revised[pl], rtol=1e-9, atol=1e-6
            )
            if moved.any():
                problems.append(
                    _rows(
                        revised,
                        moved,
                        tr("a closed month's '{col}' differs from the plan").format(col=rv),
                        name,
                        rv,
                    )
                )
    total = revised.attrs.get("revised_open_total") if open_ is not None else None
    if isinstance(total, dict):
        for m in measures:
            want = total.get(m)
            got = float(revised.loc[open_, f"revised_{m}"].sum())
            if isinstance(want, int | float) and not _close(got, float(want)):
                problems.append(
                    Problem(
                        tr(
                            "the open months' '{col}' add up to {got}, not to the "
                            "{want} the review computed"
                        ).format(
                            col=f"revised_{m}", got=f"{got:,.2f}", want=f"{float(want):,.2f}"
                        ),
                        file=name,
                        column=f"revised_{m}",
                    )
                )
    for m, key in (("revenue", "total_revenue"), ("customers", "total_customers")):
        want = current_meta.get(key)
        if f"plan_{m}" in revised.columns and isinstance(want, int | float):
            got = float(revised[f"plan_{m}"].sum())
            if not _close(got, float(want)):
                problems.append(
                    Problem(
                        tr(
                            "'{col}' adds up to {got}, but the plan of record in force "
                            "(FY{year} {version}) has {want}: "
                            "this revision does not revise the current plan"
                        ).format(
                            col=f"plan_{m}",
                            got=f"{got:,.2f}",
                            year=year,
                            version=current_meta.get("version", "?"),
                            want=f"{float(want):,.2f}",
                        ),
                        file=name,
                        column=f"plan_{m}",
                        fix=tr(
                            "Run the report again against the current plan of record "
                            "(same --records folder), then adopt that run's revision."
                        ),
                    )
                )
    _refuse(src, "adopted", problems)


def check_workbook(path: Path) -> None:
    """Refuse a workbook holding formulas (other than the total rows the package writes),
    external links or macros.

    Raises:
        RecordError: what was found, in which part of the workbook.
    """
    from salesanalysis.report.excel import is_total_formula

    fix = tr(
        "Keep the workbook as the pipeline wrote it (run the steps again); a workbook edited "
        "in Excel is not stored in the plan of record: bring its edits in with "
        "`salesanalysis plan import --run <run> <workbook>`."
    )
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
            odd = [n for n in names if "externalLink" in n or n.lower().endswith(".bin")]
            if odd:
                raise RecordError(
                    tr("{file} holds external links or macros ({parts})").format(
                        file=path, parts=", ".join(odd[:3])
                    ),
                    fix=fix,
                )
            sheets = [
                i
                for i in z.infolist()
                if i.filename.startswith("xl/worksheets/") and i.filename.endswith(".xml")
            ]
            if sum(i.file_size for i in sheets) > MAX_WORKBOOK_XML:
                raise RecordError(tr("{file} is too large to check").format(file=path), fix=fix)
            for info in sheets:
                xml = z.read(info)
                for m in _FORMULA.finditer(xml):
                    text = m.group(2).decode("utf-8", "replace")
                    if m.group(1) or not is_total_formula(_xml_text(text)):
                        raise RecordError(
                            tr("{file} holds formulas (in {part}: {formula})").format(
                                file=path,
                                part=info.filename,
                                formula=repr(_xml_text(text)[:60] or tr("a shared formula")),
                            ),
                            fix=fix,
                        )
    except (zipfile.BadZipFile, OSError) as exc:
        raise RecordError(
            tr("{file} is not a readable workbook ({error})").format(file=path, error=exc), fix=fix
        ) from None


def _xml_text(text: str) -> str:
    import html

    return html.unescape(text)


def check_workbook_matches(path: Path, targets: pd.DataFrame) -> None:
    """Refuse a targets workbook whose target figures no longer match ``targets``: each level
    sheet (Company, Region, ..., Rep, Month) must show the sums of the targets by its keys, and
    the rep sheets (Rep x month, Rep load, Headcount) each rep's targets.

    Raises:
        RecordError: the first differences (sheet, row, column, workbook and targets values).
    """
    from salesanalysis.targets.output import workbook_differences

    diffs = workbook_differences(path, targets)
    if diffs:
        raise RecordError(
            tr(
                "{file} no longer matches {targets}: "
                "{n} figure(s) differ (it was edited after the run)"
            ).format(file=path, targets="targets.parquet", n=len(diffs)),
            [Problem(d, file=Path(path).name) for d in diffs[:5]],
            fix=tr(
                "Bring a manager's edits in with `salesanalysis plan import --run <run> "
                "<workbook>` (it checks them, keeps pins and totals, and writes targets and "
                "workbook together), or run the target step again for a fresh workbook."
            ),
        )


# --------------------------------------------------------------------------------------------
# a revision below the full-year target

_SHORT_WORDS = {
    "revenue": N_("{amount} of revenue"),
    "revenue_no_cushion": N_("{amount} of revenue without cushion"),
    "customers": N_("{amount} customers"),
}


def revision_shortfall(revised: pd.DataFrame, run: Path) -> dict[str, float]:
    """What a revision leaves unallocated per measure (``revenue``, ``revenue_no_cushion``,
    ``customers``): the ``unallocated`` amounts :func:`salesanalysis.review.replan` kept in
    the file's metadata, those above half a rounding unit. Empty when the revised targets
    carry all that is still needed (or the file has no such metadata)."""
    left = revised.attrs.get("unallocated")
    if not isinstance(left, dict):
        return {}
    rev_unit, cust_unit = _units(run)
    out = {}
    for m in ("revenue", "revenue_no_cushion", "customers"):
        v = left.get(m)
        unit = cust_unit if m == "customers" else (rev_unit or 1.0)
        if isinstance(v, int | float) and math.isfinite(v) and v > unit / 2:
            out[m] = float(v)
    return out


def _shortfall_words(short: dict[str, float], currency: str) -> str:
    parts = []
    for m, v in short.items():
        if m == "revenue_no_cushion" and "revenue" in short:
            continue  # the same shortfall, before the cushion
        unit = f" {currency}" if currency and m != "customers" else ""
        parts.append(tr(_SHORT_WORDS[m]).format(amount=f"{v:,.0f}{unit}"))
    return ", ".join(parts)


def refuse_shortfall(short: dict[str, float], src: Path, run: Path, year: int) -> None:
    """Refuse a revision below the full-year target (:func:`revision_shortfall` not empty).

    Raises:
        RecordError: the amounts, the bound that held them back and the two ways forward.
    """
    if not short:
        return
    plan = _plan_json(run)
    currency = str(plan.get("currency") or "")
    bound = (plan.get("replan") or {}).get("max_change")
    now = (
        tr(" (now {bound})").format(bound=f"{float(bound):.0%}")
        if isinstance(bound, int | float)
        else ""
    )
    raise RecordError(
        tr(
            "this revision leaves part of what FY{year} still needs unallocated ({amounts}): "
            "the re-planning bounds could not place the whole gap, so its targets add up to "
            "less than the full-year target of the plan of record"
        ).format(amounts=_shortfall_words(short, currency), year=year),
        [
            Problem(
                tr("the review that wrote it could not place the whole gap within its bounds"),
                file=str(src),
            )
        ],
        fix=tr(
            "Rerun the review with a wider `replan: max_change` in plan.yaml{now} and adopt "
            "that run's revision; or adopt this one knowingly with `salesanalysis plan adopt "
            "--run {run} --accept-lower` (the shortfall is written in the version's note)."
        ).format(now=now, run=run),
    )


def shortfall_note(short: dict[str, float], run: Path) -> str:
    """The sentence ``--accept-lower`` adds to the version's note."""
    currency = str(_plan_json(run).get("currency") or "")
    return tr("adopted below the full-year target: {amounts} left unallocated").format(
        amounts=_shortfall_words(short, currency)
    )
