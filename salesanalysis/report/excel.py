"""Formatted Excel workbooks for managers (thousands separators, %, frozen header, widths).

Text from the data is always written as text: the workbook is opened with xlsxwriter's
``strings_to_formulas``/``strings_to_urls`` off and text cells that a spreadsheet would read as a
formula get a leading ``'`` (see :mod:`salesanalysis.untrusted`)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from salesanalysis.untrusted import EXCEL_WRITER_KWARGS, neutralise_cell, neutralise_frame

__all__ = ["write_excel", "is_pct_column"]

PCT_HINTS = ("attainment", "share", "pct", "percent", "growth", "probability", "p_reach", "%")


def is_pct_column(name: str) -> bool:
    """Columns whose name says they hold a fraction shown as a percentage."""
    n = str(name).lower()
    return any(h in n for h in PCT_HINTS)


def write_excel(
    sheets: Mapping[str, pd.DataFrame], path: Path | str, pct_columns: set[str] | None = None
) -> Path:
    """Write one sheet per frame, formatted, atomically (a failed write leaves no file).

    Numbers get thousands separators (two decimals only where the column has fractions);
    columns named like a share/attainment/probability, or listed in ``pct_columns``, get %.
    Sheet names are cut to Excel's 31 characters. No text from the frames becomes a formula
    or a link.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    try:
        with pd.ExcelWriter(tmp, engine="xlsxwriter", engine_kwargs=EXCEL_WRITER_KWARGS) as xw:
            book = xw.book
            head = book.add_format(
                {"bold": True, "bg_color": "#DDE6F0", "border": 1, "text_wrap": True}
            )
            fmt_int = book.add_format({"num_format": "#,##0"})
            fmt_dec = book.add_format({"num_format": "#,##0.00"})
            fmt_pct = book.add_format({"num_format": "0.0%"})
            fmt_date = book.add_format({"num_format": "yyyy-mm"})
            for name, df in sheets.items():
                sheet = str(name)[:31]
                df = df.reset_index(drop=True)
                neutralise_frame(df).to_excel(xw, sheet_name=sheet, index=False)
                ws = xw.sheets[sheet]
                for j, col in enumerate(df.columns):
                    ws.write_string(0, j, neutralise_cell(str(col)), head)
                    s = df[col]
                    width = (
                        max(len(str(col)), *(len(str(v)) for v in s.head(200)))
                        if len(s)
                        else len(str(col))
                    )
                    fmt = None
                    if pd.api.types.is_datetime64_any_dtype(s):
                        fmt = fmt_date
                    elif pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                        if is_pct_column(col) or (pct_columns and col in pct_columns):
                            fmt = fmt_pct
                        else:
                            frac = (s.dropna() % 1 != 0).any()
                            fmt = fmt_dec if frac else fmt_int
                    ws.set_column(j, j, min(max(10, width + 2), 40), fmt)
                ws.freeze_panes(1, 0)
                if len(df):
                    ws.autofilter(0, 0, len(df), max(len(df.columns) - 1, 0))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
