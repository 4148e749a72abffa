"""Writing the targets: ``targets.parquet`` and friends, the Excel workbook, and the per-level
tables reports and the workbook show.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from salesanalysis.i18n import N_, tr
from salesanalysis.targets.cells import CELL
from salesanalysis.targets.plan import Plan
from salesanalysis.untrusted import EXCEL_WRITER_KWARGS

if TYPE_CHECKING:
    from salesanalysis.targets.decompose import Decomposition

__all__ = ["LEVEL_SHEETS", "WORDS", "in_words", "level_tables", "write_targets"]

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
