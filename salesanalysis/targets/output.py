"""Writing the targets: ``targets.parquet`` and friends, the Excel workbook, and the per-level
tables reports and the workbook show; after ``plan import``, the workbook's rep sheets brought
back in line with the targets, and the check that every figure of the workbook matches them.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from salesanalysis.i18n import N_, tr
from salesanalysis.targets.cells import CELL
from salesanalysis.targets.plan import Plan
from salesanalysis.untrusted import EXCEL_WRITER_KWARGS

if TYPE_CHECKING:
    from salesanalysis.targets.decompose import Decomposition

__all__ = [
    "LEVEL_SHEETS",
    "REP_SHEETS",
    "WORDS",
    "in_words",
    "level_tables",
    "refresh_rep_sheets",
    "rep_sheet_differences",
    "workbook_differences",
    "write_targets",
]

WORDS: dict[str, dict[str, str]] = {
    "measure": {
        "revenue": N_("revenue"),
        "customers": N_("customers"),
        "market_share": N_("market share"),
    },
    "level": {
        "company": N_("company"),
        "region": N_("region"),
        "product_line": N_("product line"),
        "customer_type": N_("customer type"),
        "cell": N_("cell"),
        "rep": N_("rep"),
    },
    "dimension": {
        "region": N_("region"),
        "product_line": N_("product line"),
        "customer_type": N_("customer type"),
    },
    "kind": {"step": N_("step"), "subtotal": N_("subtotal"), "total": N_("total")},
    "capacity_policy": {
        "hire": N_("hire"),
        "rebalance": N_("rebalance"),
        "flag": N_("flag"),
    },
    "allocation": {
        "capacity_and_book": N_("capacity and book"),
        "history_share": N_("history share"),
        "equal_capacity": N_("equal capacity"),
    },
    "ramp_curve": {"linear": N_("linear"), "step": N_("stepped"), "s_curve": N_("S-curve")},
    "phasing": {
        "history": N_("history seasonality"),
        "forecast": N_("forecast seasonality"),
    },
}
"""The codes step 03's tables hold (``measure``, ``level``, ``kind``...) and the plan's coded
settings (``capacity_policy``, ``allocation``, ``ramp_curve``, ``phasing``) in words; translated
by :func:`in_words` (and by ``tr(WORDS[column][code])`` in a sentence or the assumption
table)."""

_SHEETS = [
    ("Company", []),
    ("Region", ["region"]),
    ("Product line", ["product_line"]),
    ("Customer type", ["customer_type"]),
    ("Cell", CELL),
    ("Rep", ["region", "rep_id"]),
    ("Month", ["month"]),
]
LEVEL_SHEETS = tuple(name for name, _ in _SHEETS)  # the sheets that hold the targets by level
_NO_TOTALS = ("Assumptions", "Company", "Checks", "Rep load")  # sheets without a total row


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
            keep = isinstance(v, int | float) and not isinstance(v, bool)  # numbers as numbers
            rows.append((prefix, v if keep else "" if v is None else str(v)))

    walk("", plan.to_dict())
    rows.insert(0, ("plan file", str(plan.source or "(edited in the notebook)")))
    return pd.DataFrame(rows, columns=["assumption", "value"], dtype=object)


def in_words(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose coded columns (the keys of :data:`WORDS`) read in the report's
    language; other columns and unknown codes are left as they are."""
    out = df.copy()
    for col, words in WORDS.items():
        if col in out.columns:
            out[col] = [tr(words[v]) if isinstance(v, str) and v in words else v for v in out[col]]
    return out


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
    (one row per measure), ``rep_load.parquet`` (per rep: capacity, effective capacity, target,
    load, flag, rule applied), ``headcount.parquet`` (the hires the plan needs) and
    ``targets.xlsx`` (with the *Rep x month*, *Rep load* and *Headcount* sheets).

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
        "rep_load": out / "rep_load.parquet",
        "headcount": out / "headcount.parquet",
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
    frames = (
        ("targets", t),
        ("company", company),
        ("summary", decomposition.company),
        ("rep_load", decomposition.rep_load),
        ("headcount", decomposition.headcount),
    )
    for key, df in frames:
        tmp = paths[key].with_name("." + paths[key].name + ".tmp")
        df.to_parquet(tmp, index=False)
        tmp.replace(paths[key])
    tmp = paths["xlsx"].with_name(".targets.xlsx.tmp")
    from salesanalysis.report.excel import write_sheet

    with pd.ExcelWriter(tmp, engine="xlsxwriter", engine_kwargs=EXCEL_WRITER_KWARGS) as xw:
        wb = xw.book
        wb.set_properties(
            {"title": f"Targets {decomposition.plan.name}", "created": _dt.datetime(2000, 1, 1)}
        )
        sheets = {"Assumptions": _assumptions_table(decomposition.plan)}
        sheets.update(level_tables(decomposition))
        sheets["Rep x month"] = decomposition.rep_month
        sheets["Rep load"] = decomposition.rep_load
        sheets["Headcount"] = decomposition.headcount
        sheets["Checks"] = decomposition.checks
        for name, df in sheets.items():  # formats, bilingual headers, totals: report.excel
            write_sheet(
                xw,
                name,
                df,
                currency=decomposition.plan.currency,
                pct_columns=("growth_vs_last_year", "load_vs_median"),
                totals=name not in _NO_TOTALS,
                widths={"assumption": 40, "value": 40} if name == "Assumptions" else None,
            )
    tmp.replace(paths["xlsx"])
    return paths


# --------------------------------------------------------------------------------------------
# the rep sheets of targets.xlsx against the targets (after plan import, before freeze)

REP_SHEETS = ("Rep x month", "Rep load", "Headcount")
"""The sheets of ``targets.xlsx`` that show rep targets besides the level sheets."""
_MONTH_LABEL = re.compile(r"\d{4}-\d{2}")


def _heads(ws: Any) -> tuple[dict[str, int], dict[str, int], list[tuple[int, tuple]]]:
    """A sheet's known columns (name -> index), month columns (``YYYY-MM`` -> index) and body
    rows (row number, values) without the total row."""
    from salesanalysis.report.excel import HEADERS, TOTAL_LABEL, column_of_header

    rows = ws.iter_rows(values_only=True)
    header = next(rows, ())
    known: dict[str, int] = {}
    months: dict[str, int] = {}
    for j, h in enumerate(header):
        if isinstance(h, str) and _MONTH_LABEL.fullmatch(h.strip()):
            months[h.strip()] = j
            continue
        col = column_of_header(h, HEADERS) if h is not None else None
        if col is not None and col not in known:
            known[col] = j
    body = [
        (i, r)
        for i, r in enumerate(rows, start=2)
        if any(v is not None for v in r) and r[0] != TOTAL_LABEL
    ]
    return known, months, body


def _rep_expected(targets: pd.DataFrame) -> dict[str, Any]:
    """What the rep sheets must show: by rep and month, by rep, TBH reps' targets by region
    (keys as the workbook shows them)."""
    from salesanalysis.targets.reps import TBH_PREFIX
    from salesanalysis.untrusted import neutralise_cell

    t = targets.assign(
        label=pd.to_datetime(targets["month"]).dt.strftime("%Y-%m"),
        rep=targets["rep_id"].astype(str).map(neutralise_cell),
        reg=targets["region"].astype(str).map(neutralise_cell),
    )
    tbh = t[t["rep_id"].astype(str).str.startswith(TBH_PREFIX)]
    return {
        "month": t.groupby(["rep", "label"])["target_revenue"].sum().to_dict(),
        "rep": t.groupby("rep")["target_revenue"].sum().to_dict(),
        "tbh": tbh.groupby("reg")["target_revenue"].sum().to_dict(),
    }


def _cell_off(value: Any, want: float) -> bool:
    return not (isinstance(value, int | float) and abs(float(value) - want) <= 0.5)


def _rep_sheet_rows(ws: Any, exp: dict[str, Any]) -> Iterator[tuple[int, int, float, Any, str]]:
    """Each figure a rep sheet shows with what it should be: ``(row, column index, expected,
    value in the workbook, what it is)``."""
    known, months, body = _heads(ws)
    if ws.title == "Headcount":
        reg, tr_col = known.get("region"), known.get("target_revenue")
        if reg is None or tr_col is None:
            return
        for i, r in body:
            key = str(r[reg])
            yield i, tr_col, float(exp["tbh"].get(key, 0.0)), r[tr_col], key
        return
    rep = known.get("rep_id")
    if rep is None:
        return
    for i, r in body:
        key = str(r[rep])
        if ws.title == "Rep x month":
            for label, j in months.items():
                yield i, j, float(exp["month"].get((key, label), 0.0)), r[j], f"{key} {label}"
            if "total" in known:
                yield i, known["total"], float(exp["rep"].get(key, 0.0)), r[known["total"]], key
        elif "target_revenue" in known:
            j = known["target_revenue"]
            yield i, j, float(exp["rep"].get(key, 0.0)), r[j], key


def rep_sheet_differences(path: Path | str, targets: pd.DataFrame) -> list[str]:
    """Where the rep sheets of a targets workbook (:data:`REP_SHEETS`: each rep's month and
    total targets, each rep's target in *Rep load*, the to-be-hired reps' targets by region in
    *Headcount*) differ from ``targets``; a rep of the targets missing from *Rep x month* too.
    Empty when every figure matches (to 0.5)."""
    from openpyxl import load_workbook

    exp = _rep_expected(targets)
    out: list[str] = []
    wb = load_workbook(path, read_only=True)
    try:
        for name in REP_SHEETS:
            if name not in wb.sheetnames:
                continue
            seen = set()
            for i, _j, want, got, what in _rep_sheet_rows(wb[name], exp):
                seen.add(what.split(" ")[0])
                if _cell_off(got, want):
                    out.append(
                        f"sheet {name}, row {i} ({what}): {got!r} in the workbook, "
                        f"{want:,.0f} in the targets"
                    )
            if name == "Rep x month":
                out += [
                    f"sheet {name}: rep {k} is in the targets but not in the workbook"
                    for k in exp["rep"]
                    if k not in seen
                ]
    finally:
        wb.close()
    return out


def workbook_differences(path: Path | str, targets: pd.DataFrame) -> list[str]:
    """Every figure of a ``targets.xlsx`` that differs from ``targets``: the level sheets
    (:data:`LEVEL_SHEETS`) and the rep sheets (:data:`REP_SHEETS`)."""
    from salesanalysis.report.excel import level_sheet_differences

    return level_sheet_differences(path, targets, only=LEVEL_SHEETS) + rep_sheet_differences(
        path, targets
    )


def _refresh_load(ws: Any, load_flag_pct: float | None) -> dict[str, str]:
    """*Rep load* after its targets changed: ``load``, ``load_eff``, ``load_vs_median`` (the
    median of the reps in post) and ``flag`` recomputed from each row's capacity. Returns the
    flag of each rep."""
    known, _, body = _heads(ws)
    need = ("rep_id", "target_revenue")
    if any(c not in known for c in need):
        return {}

    def ratio(r: tuple, col: str) -> float | None:
        c = r[known[col]] if col in known else None
        t = r[known["target_revenue"]]
        ok = isinstance(c, int | float) and c > 0 and isinstance(t, int | float)
        return float(t) / float(c) if ok else None

    eff = {i: ratio(r, "eff_capacity") for i, r in body}
    tbh = {i: bool(r[known["tbh"]]) if "tbh" in known else False for i, r in body}
    inpost = [v for i, v in eff.items() if v is not None and not tbh[i]]
    med = float(np.median(inpost)) if inpost else None
    flags: dict[str, str] = {}
    for i, r in body:
        if "load" in known:
            ws.cell(row=i, column=known["load"] + 1, value=ratio(r, "capacity"))
        if "load_eff" in known:
            ws.cell(row=i, column=known["load_eff"] + 1, value=eff[i])
        vs = eff[i] / med - 1 if eff[i] is not None and med else None
        if "load_vs_median" in known:
            ws.cell(row=i, column=known["load_vs_median"] + 1, value=vs)
        if "flag" in known and load_flag_pct is not None:
            flag = ""
            if vs is not None and vs > load_flag_pct + 1e-9:
                flag = tr("above")
            elif vs is not None and vs < -load_flag_pct - 1e-9:
                flag = tr("below")
            ws.cell(row=i, column=known["flag"] + 1, value=flag)
            flags[str(r[known["rep_id"]])] = flag
    return flags


def refresh_rep_sheets(
    path: Path | str, targets: pd.DataFrame, load_flag_pct: float | None = None
) -> Path:
    """Rewrite the rep sheets of a targets workbook (:data:`REP_SHEETS`) from ``targets``:
    each rep's month and total targets, *Rep load*'s targets and the loads and flags that
    follow (flags with ``load_flag_pct``, the plan's ``reps.load_flag_pct``; in the current
    report language), *Headcount*'s to-be-hired targets; the *Rep* sheet's flags follow *Rep
    load*'s. Everything else is kept; written atomically, recalculated when opened."""
    from openpyxl import load_workbook

    from salesanalysis.report.excel import HEADERS, column_of_header, save_workbook

    path = Path(path)
    exp = _rep_expected(targets)
    wb = load_workbook(path)
    flags: dict[str, str] = {}
    for name in REP_SHEETS:
        if name not in wb.sheetnames:
            continue
        ws = wb[name]
        for i, j, want, _got, _what in list(_rep_sheet_rows(ws, exp)):
            ws.cell(row=i, column=j + 1, value=want)
        if name == "Rep load":
            flags = _refresh_load(ws, load_flag_pct)
    if flags and "Rep" in wb.sheetnames:
        ws = wb["Rep"]
        head = [column_of_header(c.value, HEADERS) for c in ws[1]]
        if "rep_id" in head and "flag" in head:
            rep, flag = head.index("rep_id"), head.index("flag")
            for row in ws.iter_rows(min_row=2):
                key = str(row[rep].value)
                if key in flags:
                    row[flag].value = flags[key]
    wb.calculation.fullCalcOnLoad = True  # total rows are recomputed on opening
    save_workbook(wb, path)
    return path
