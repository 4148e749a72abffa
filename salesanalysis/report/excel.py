"""Formatted Excel workbooks for managers: a working tool, not a dump.

Every sheet has a bilingual header with the unit (``目标收入 Target revenue (CNY)``), the header
row and the first column frozen, numbers stored as numbers with thousands separators (fractions
as %), months as ``YYYY-MM`` and, where asked, a total row of ``SUBTOTAL`` formulas written by
this module (never from data: the formula text is made here from cell addresses). A workbook
read back (``salesanalysis plan import``) finds its columns by :func:`column_of_header`.

Text from the data is always written as text: the workbook is opened with xlsxwriter's
``strings_to_formulas``/``strings_to_urls`` off and text cells that a spreadsheet would read as a
formula get a leading ``'`` (see :mod:`salesanalysis.untrusted`)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from salesanalysis.report.formatting import header_label
from salesanalysis.untrusted import EXCEL_WRITER_KWARGS, neutralise_cell, neutralise_frame

__all__ = [
    "save_workbook",
    "HEADERS",
    "TOTAL_LABEL",
    "column_of_header",
    "excel_header",
    "is_pct_column",
    "is_total_formula",
    "level_sheet_differences",
    "refresh_level_sheets",
    "write_excel",
    "write_sheet",
]

PCT_HINTS = ("attainment", "share", "pct", "percent", "growth", "probability", "p_reach", "%")
NOT_ADDITIVE = frozenset(
    {"load", "load_eff", "productivity", "book_factor", "planned_price", "last_year_price"}
)
"""Numeric columns whose total means nothing (a ratio): no total cell."""
TOTAL_LABEL = "合计 Total"
"""The first cell of a sheet's total row."""

# column -> (Chinese, English, unit); unit "money" is the plan's currency
HEADERS: dict[str, tuple[str, str, str]] = {
    "month": ("月份", "Month", "YYYY-MM"),
    "region": ("区域", "Region", ""),
    "product_line": ("产品线", "Product line", ""),
    "customer_type": ("客户类型", "Customer type", ""),
    "rep_id": ("销售代表编号", "Rep ID", ""),
    "name": ("姓名", "Name", ""),
    "target_revenue": ("目标收入", "Target revenue", "money"),
    "target_revenue_no_cushion": ("目标收入(不含缓冲)", "Target revenue without cushion", "money"),
    "target_customers": ("目标客户数", "Target customers", "count"),
    "last_year": ("去年收入", "Last year revenue", "money"),
    "growth_vs_last_year": ("同比增长", "Growth vs last year", "%"),
    "capacity": ("产能", "Capacity", "FTE-months"),
    "load": ("负荷", "Target per FTE-month", "money"),
    "flag": ("提示", "Flag", ""),
    "total": ("合计", "Total", "money"),
    # per rep (Rep load): capacity, productivity, load
    "tbh": ("待招聘", "To be hired", ""),
    "hire_date": ("入职日期", "Hire date", ""),
    "end_date": ("离职日期", "End date", ""),
    "fte": ("全职当量", "FTE", ""),
    "months_active": ("在岗月数", "Months active", ""),
    "productivity": ("生产率指数", "Productivity index", ""),
    "eff_capacity": ("有效产能", "Effective capacity", "FTE-months"),
    "book_factor": ("客户基础系数", "Book factor", ""),
    "load_eff": ("有效负荷", "Target per effective FTE-month", "money"),
    "load_vs_median": ("负荷较中位数", "Load vs median", "%"),
    "rule": ("规则", "Rule applied", ""),
    # the headcount plan
    "count": ("招聘人数", "Hires", ""),
    "latest_start": ("最晚入职月份", "Latest start", "YYYY-MM"),
    "rep_ids": ("待招聘编号", "To-be-hired rep IDs", ""),
    "capacity_needed": ("所需产能", "Capacity needed", "FTE-months"),
    "capacity_added": ("新增产能", "Capacity added", "FTE-months"),
    "revenue_at_risk_per_month": (
        "每延迟一月的风险收入",
        "Revenue at risk per month of delay",
        "money",
    ),
    # revised targets
    "chance": ("达成概率", "P(reach)", "%"),
    "plan_remaining": ("剩余月份原计划", "Plan, months left", "money"),
    "revised_remaining": ("剩余月份修订目标", "Revised, months left", "money"),
    "change_pct": ("调整比例", "Change vs plan", "%"),
    "plan_name": ("计划名称", "Plan name", ""),
    # the demand plan
    "product": ("产品", "Product", ""),
    "units": ("数量", "Units", ""),
    "total_units": ("合计数量", "Total units", ""),
    "planned_price": ("计划单价", "Planned price", "money"),
    "last_year_price": ("去年单价", "Last year price", "money"),
    "assumption": ("假设", "Assumption", ""),
    "value": ("取值", "Value", ""),
    "plan_revenue": ("原计划收入", "Plan revenue", "money"),
    "plan_customers": ("原计划客户数", "Plan customers", "count"),
    "revised_revenue": ("修订目标收入", "Revised revenue", "money"),
    "revised_customers": ("修订目标客户数", "Revised customers", "count"),
    "revised_revenue_no_cushion": (
        "修订目标收入(不含缓冲)",
        "Revised revenue without cushion",
        "money",
    ),
    "change_revenue": ("收入调整", "Change in revenue", "money"),
    "change_customers": ("客户数调整", "Change in customers", "count"),
    "actual_revenue": ("实际收入", "Actual revenue", "money"),
    "actual_customers": ("实际客户数", "Actual customers", "count"),
    "closed": ("已结月", "Closed month", ""),
    "status": ("状态", "Status", ""),
    "plan_revenue_no_cushion": ("原计划收入(不含缓冲)", "Plan revenue without cushion", "money"),
    "change_revenue_no_cushion": ("收入调整(不含缓冲)", "Change without cushion", "money"),
    "caps_exceeded_revenue": ("超出上限(收入)", "Cap exceeded, revenue", ""),
    "caps_exceeded_revenue_no_cushion": ("超出上限(不含缓冲)", "Cap exceeded, no cushion", ""),
    "caps_exceeded_customers": ("超出上限(客户数)", "Cap exceeded, customers", ""),
    "check": ("检查", "Check", ""),
    "ok": ("通过", "OK", ""),
    "detail": ("说明", "Detail", ""),
}


def is_pct_column(name: str) -> bool:
    """Columns whose name says they hold a fraction shown as a percentage."""
    n = str(name).lower()
    if n in HEADERS:
        return HEADERS[n][2] == "%"
    return any(h in n for h in PCT_HINTS)


def excel_header(col: Any, currency: str = "CNY") -> str:
    """A column's header in a workbook: Chinese, English and the unit,
    ``target_revenue`` -> ``目标收入 Target revenue (CNY)``; a column not in :data:`HEADERS`
    gets its report label (``header_label``)."""
    if col in HEADERS:
        zh, en, unit = HEADERS[col]
        unit = currency if unit == "money" else unit
        return f"{zh} {en}" + (f" ({unit})" if unit else "")
    return str(header_label(col))


def column_of_header(text: Any, columns: Iterable[str], currency: str = "CNY") -> str | None:
    """The column of ``columns`` that a workbook header names: its bilingual header
    (:func:`excel_header`, any currency), its Chinese or English part, or the column's own
    name. None when none matches."""
    t = re.sub(r"\s+", " ", str(text or "")).strip()
    bare = re.sub(r"\s*\([^()]*\)$", "", t)  # without the unit
    for col in columns:
        candidates = {str(col), excel_header(col, currency), str(header_label(col))}
        if col in HEADERS:
            zh, en, _ = HEADERS[col]
            candidates |= {zh, en, f"{zh} {en}"}
        if t in candidates or bare in candidates:
            return col
    return None


_TOTAL_FORMULA = re.compile(r"=?SUBTOTAL\(9,\$?([A-Z]{1,3})\$?(\d+):\$?([A-Z]{1,3})\$?(\d+)\)")


def is_total_formula(formula: str) -> bool:
    """A formula this module writes in a total row (``SUBTOTAL(9,C2:C41)``, one column)."""
    m = _TOTAL_FORMULA.fullmatch(formula.strip())
    return bool(m) and m.group(1) == m.group(3)


def _col_letter(j: int) -> str:
    s = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def _kind(col: Any, s: pd.Series, pct_columns: Collection[Any]) -> str:
    """How a column is shown: month, date, pct, int, dec, text."""
    if pd.api.types.is_datetime64_any_dtype(s):
        d = s.dropna()
        monthly = len(d) > 0 and bool((d.dt.day == 1).all() and (d.dt.normalize() == d).all())
        return "month" if monthly or col == "month" else "date"
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        return "text"
    if col in pct_columns or is_pct_column(str(col)):
        return "pct"
    frac = bool((s.dropna() % 1 != 0).any())
    return "dec" if frac else "int"


def _width(values: Iterable[Any]) -> float:
    return max((sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(v)) for v in values), default=0)


def write_sheet(
    xw: pd.ExcelWriter,
    name: str,
    df: pd.DataFrame,
    *,
    currency: str = "CNY",
    pct_columns: Collection[Any] = (),
    totals: bool = False,
    freeze_first_column: bool = True,
    widths: Mapping[Any, float] | None = None,
) -> None:
    """Write one formatted sheet into an open xlsxwriter ``ExcelWriter``.

    Args:
        currency: the unit of money columns in the headers.
        pct_columns: numeric columns shown as % (besides those :func:`is_pct_column` finds).
        totals: add a bold total row under the data: ``SUBTOTAL(9, ...)`` of each count and
            amount column (so a filter shows the total of what is shown; % columns stay empty).
        freeze_first_column: freeze the first column as well as the header row.
        widths: column widths (characters) to use instead of the measured ones.
    """
    sheet = str(name)[:31]
    df = df.reset_index(drop=True)
    kinds = {c: _kind(c, df[c], pct_columns) for c in df.columns}
    out = neutralise_frame(df)
    for i, c in enumerate(df.columns):
        if kinds[c] == "month":  # months as text YYYY-MM (sorts, filters and reads back as is)
            out.isetitem(i, df[c].dt.strftime("%Y-%m"))
    out.to_excel(xw, sheet_name=sheet, index=False)
    book, ws = xw.book, xw.sheets[sheet]
    fmts = {
        "head": book.add_format(
            {"bold": True, "bg_color": "#DDE6F0", "border": 1, "text_wrap": True, "valign": "top"}
        ),
        "int": book.add_format({"num_format": "#,##0"}),
        "dec": book.add_format({"num_format": "#,##0.00"}),
        "pct": book.add_format({"num_format": "0.0%"}),
        "date": book.add_format({"num_format": "yyyy-mm-dd"}),
        "month": None,
        "text": None,
        "total": book.add_format({"bold": True, "top": 1, "num_format": "#,##0"}),
        "total_label": book.add_format({"bold": True, "top": 1}),
    }
    n = len(df)
    for j, col in enumerate(df.columns):
        head = excel_header(col, currency)
        ws.write_string(0, j, neutralise_cell(head), fmts["head"])
        w = (widths or {}).get(col)
        if w is None:
            cells = _width(out.iloc[:, j].head(200)) if n else 0
            w = min(max(10, cells + 2, min(_width(head.split(" ")[:1]) + 2, 24)), 40)
        ws.set_column(j, j, w, fmts[kinds[col]])
    ws.set_row(0, 33)  # two lines of header: Chinese, then English and the unit
    ws.freeze_panes(1, 1 if freeze_first_column else 0)
    if n:
        ws.autofilter(0, 0, n, max(len(df.columns) - 1, 0))
    if totals and n:
        ws.write_string(n + 1, 0, TOTAL_LABEL, fmts["total_label"])
        for j, col in enumerate(df.columns):
            if j == 0 or kinds[col] not in ("int", "dec") or col in NOT_ADDITIVE:
                continue
            letter = _col_letter(j)
            ws.write_formula(
                n + 1,
                j,
                f"=SUBTOTAL(9,{letter}2:{letter}{n + 1})",
                fmts["total"],
                float(df[col].sum()),  # the value shown before the workbook is recalculated
            )


def write_excel(
    sheets: Mapping[str, pd.DataFrame],
    path: Path | str,
    pct_columns: set[str] | None = None,
    *,
    currency: str = "CNY",
    totals: bool = False,
    no_totals: Collection[str] = (),
) -> Path:
    """Write one sheet per frame (:func:`write_sheet`), atomically (a failed write leaves no
    file). Sheet names are cut to Excel's 31 characters. No text from the frames becomes a
    formula or a link; with ``totals`` the only formulas are the total rows' (none on the
    sheets named in ``no_totals``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        with pd.ExcelWriter(tmp, engine="xlsxwriter", engine_kwargs=EXCEL_WRITER_KWARGS) as xw:
            for name, df in sheets.items():
                write_sheet(
                    xw,
                    name,
                    df,
                    currency=currency,
                    pct_columns=pct_columns or (),
                    totals=totals and name not in no_totals,
                )
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# --------------------------------------------------------------------------------------------
# reading a targets workbook back: its level sheets against the targets they show

LEVEL_KEYS = ["month", "region", "product_line", "customer_type", "rep_id"]
TARGET_FIGURES = ["target_revenue_no_cushion", "target_revenue", "target_customers"]


def _sheet_columns(header: Iterable[Any]) -> dict[int, str]:
    """Column index -> known column (keys, target figures and the columns derived from them)."""
    known = [*LEVEL_KEYS, *TARGET_FIGURES, "last_year", "growth_vs_last_year", "capacity", "load"]
    out: dict[int, str] = {}
    for j, h in enumerate(header):
        col = column_of_header(h, known) if h is not None else None
        if col is not None and col not in out.values():
            out[j] = col
    return out


def _is_total_row(row: tuple[Any, ...]) -> bool:
    first = row[0] if row else None
    return first == TOTAL_LABEL or any(
        isinstance(v, str) and v.startswith("=SUBTOTAL") for v in row
    )


def _expected(targets: pd.DataFrame, keys: list[str], figures: list[str]) -> dict[tuple, dict]:
    t = targets.copy()
    if "month" in keys:
        t["month"] = pd.to_datetime(t["month"]).dt.strftime("%Y-%m")
    for k in keys:
        t[k] = t[k].astype(str).map(neutralise_cell)  # as the workbook shows the labels
    if not keys:
        return {(): {f: float(t[f].sum()) for f in figures}}
    sums = t.groupby(keys, sort=False)[figures].sum()
    return {
        (k if isinstance(k, tuple) else (k,)): {f: float(v) for f, v in row.items()}
        for k, row in sums.iterrows()
    }


def _level_rows(ws: Any) -> tuple[dict[int, str], list[tuple[int, tuple[Any, ...]]]]:
    rows = ws.iter_rows(values_only=True)
    header = next(rows, ())
    cols = _sheet_columns(header)
    body = [(i, r) for i, r in enumerate(rows, start=2) if any(v is not None for v in r)]
    return cols, [(i, r) for i, r in body if not _is_total_row(r)]


def _is_level_sheet(title: str, figures: list[str], only: Collection[str] | None) -> bool:
    if not figures or title.lower() in ("assumptions", "checks"):
        return False
    return only is None or title in only


def _level_sheets(wb: Any, targets: pd.DataFrame, only: Collection[str] | None) -> Iterator[Any]:
    """Each level sheet of an open workbook with what both the check and the refresh need:
    ``(sheet, body rows, key columns, column index by name, figure columns, expected sums)``."""
    for ws in wb.worksheets:
        cols, body = _level_rows(ws)
        figures = [c for c in cols.values() if c in TARGET_FIGURES]
        if not _is_level_sheet(ws.title, figures, only):
            continue
        keys = [k for k in LEVEL_KEYS if k in cols.values()]
        yield (
            ws,
            body,
            keys,
            {c: j for j, c in cols.items()},
            figures,
            _expected(targets, keys, figures),
        )


def level_sheet_differences(
    path: Path | str, targets: pd.DataFrame, only: Collection[str] | None = None
) -> list[str]:
    """Where a targets workbook's level sheets (any sheet with target figures by keys, or the
    sheets named in ``only``) differ from the sums of ``targets``: ``"sheet Rep, row 7
    (华东/R003): 目标收入 ... 1,200,000 in the workbook, 1,150,000 in the targets"``. Empty when
    every figure matches (to 0.5)."""
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=False)
    out: list[str] = []
    try:
        for ws, body, keys, at, figures, want in _level_sheets(wb, targets, only):
            seen = set()
            for i, row in body:
                key = tuple(str(row[at[k]]) for k in keys)
                seen.add(key)
                exp = want.get(key)
                where = f"sheet {ws.title}, row {i}" + (f" ({'/'.join(key)})" if key else "")
                if exp is None:
                    out.append(f"{where}: no such {'/'.join(keys)} in the targets")
                    continue
                for f in figures:
                    v = row[at[f]]
                    ok = isinstance(v, int | float) and abs(float(v) - exp[f]) <= 0.5
                    if not ok:
                        out.append(
                            f"{where}: {excel_header(f)} is {v!r} in the workbook, "
                            f"{exp[f]:,.0f} in the targets"
                        )
            out += [
                f"sheet {ws.title}: {'/'.join(k)} is in the targets but not in the workbook"
                for k in want
                if k not in seen
            ]
    finally:
        wb.close()
    return out


def refresh_level_sheets(
    path: Path | str, targets: pd.DataFrame, only: Collection[str] | None = None
) -> Path:
    """Rewrite the target figures of a workbook's level sheets (those named in ``only``, if
    given) from ``targets`` (and the growth and load derived from them), keeping everything
    else; written atomically."""
    from openpyxl import load_workbook

    path = Path(path)
    wb = load_workbook(path)
    for ws, body, keys, at, figures, want in _level_sheets(wb, targets, only):
        for i, row in body:
            exp = want.get(tuple(str(row[at[k]]) for k in keys))
            if exp is None:
                continue
            for f in figures:
                ws.cell(row=i, column=at[f] + 1, value=exp[f])
            ly, nc = at.get("last_year"), exp.get("target_revenue_no_cushion")
            if "growth_vs_last_year" in at and ly is not None and nc is not None:
                last = row[ly]
                grow = nc / last - 1 if isinstance(last, int | float) and last > 0 else None
                ws.cell(row=i, column=at["growth_vs_last_year"] + 1, value=grow)
            cap, tr = at.get("capacity"), exp.get("target_revenue")
            if "load" in at and cap is not None and tr is not None:
                c = row[cap]
                ws.cell(
                    row=i,
                    column=at["load"] + 1,
                    value=tr / c if isinstance(c, int | float) and c > 0 else None,
                )
    save_workbook(wb, path)
    return path


def save_workbook(wb: Any, path: Path) -> None:
    """Save an openpyxl workbook through a temporary file beside it (never half-written)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        wb.save(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
