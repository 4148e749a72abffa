"""``revised_targets.xlsx``: the revised targets as a working tool for managers.

The sheets, each made from :func:`~salesanalysis.review.replan`'s frame (the rows of
``revised_targets.parquet``) so that every sheet adds up to the file:

* *Company*: per month, whether it is closed, the plan, the actual (closed months), the revised
  target and the change, for revenue and customers;
* *Rep x month*: each rep's revised target revenue per month (rep id, name, region, one column
  per month ``YYYY-MM``, total), like ``targets.xlsx``'s *Rep x month*;
* *Rep summary*: per rep, the full-year plan, the actual to date, the plan and the revised
  target of the months left, the change and what the rule did;
* *Detail*: every row of the file (month x region x product line x customer type x rep);
* *Rule*: the re-planning bounds, what is still needed and what the bounds left unallocated.

Formatting (bilingual headers with units, frozen header row and first column, numbers as
numbers, ``SUBTOTAL`` total rows, months as ``YYYY-MM``) is :mod:`salesanalysis.report.excel`'s.

Private module; the public API is :mod:`salesanalysis.review`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.i18n import N_, tr
from salesanalysis.review.common import DIMS, STATUS_NAMES
from salesanalysis.targets.reps import TBH_PREFIX

__all__ = ["REVISED_SHEETS", "revised_workbook_sheets", "write_revised_workbook"]

REVISED_SHEETS = ("Company", "Rep x month", "Rep summary", "Detail", "Rule")
"""The sheets of ``revised_targets.xlsx``, in order."""
_FIGURES = ["plan", "actual", "revised", "change"]
_MEASURES = ["revenue", "customers"]
_NO_TOTALS = ("Rule",)
RULE_ITEMS = {
    "max_change": N_("Largest change of a rep × segment's remaining target (replan: max_change)"),
    "min_chance": N_("No raise below this chance of reaching the target (replan: min_chance)"),
    "need": N_("Still needed: full-year target - actual to date, {measure}"),
    "revised_open_total": N_("Revised targets of the months left, {measure}"),
    "unallocated": N_("Left unallocated by the bounds, {measure}"),
}
"""The rows of the *Rule* sheet (``{measure}``: revenue or customers, in words)."""
_MEASURE_WORDS = {"revenue": N_("revenue"), "customers": N_("customers")}


def _status_words(s: pd.Series) -> pd.Series:
    return s.map(lambda v: tr(STATUS_NAMES[v]) if v in STATUS_NAMES else v)


def _columns(measures: list[str], present: pd.Index) -> list[str]:
    return [f"{f}_{m}" for m in measures for f in _FIGURES if f"{f}_{m}" in present]


def company_by_month(revised: pd.DataFrame) -> pd.DataFrame:
    """Per month: ``month, status``, and per measure (revenue, customers) ``plan_*``,
    ``actual_*`` (closed months only), ``revised_*``, ``change_*``."""
    cols = _columns(_MEASURES, revised.columns)
    out = revised.groupby(["month", "status"], as_index=False, sort=True)[cols].sum(min_count=1)
    for m in _MEASURES:  # an open month has no actual (blank, not 0)
        if f"actual_{m}" in out.columns:
            out.loc[out["status"] == "open", f"actual_{m}"] = np.nan
    out["status"] = _status_words(out["status"])
    return out


def _tbh_name(rep_id: str) -> str:
    """A to-be-hired rep's name as the decomposition gives it (``TBH-华北-2`` -> 待招聘 华北 2);
    '' for another rep."""
    parts = rep_id.removeprefix(TBH_PREFIX).rsplit("-", 1)
    if not rep_id.startswith(TBH_PREFIX) or len(parts) != 2:
        return ""
    return tr("TBH {region} {n}").format(region=parts[0], n=parts[1])


def _rep_info(revised: pd.DataFrame, reps: pd.DataFrame | None) -> pd.DataFrame:
    """Per rep: ``name`` (from ``reps``; a to-be-hired rep's from its id) and ``region`` (the
    one holding most of the rep's plan, for a rep who changed region)."""
    by = revised.groupby(["rep_id", "region"], sort=True)["plan_revenue"].sum().reset_index()
    by = by.sort_values(["rep_id", "plan_revenue"], ascending=[True, False], kind="stable")
    info = by.drop_duplicates("rep_id").set_index("rep_id")[["region"]]
    names = pd.Series(dtype=object)
    if reps is not None and len(reps) and "name" in reps.columns:
        r = reps.drop_duplicates("rep_id")
        names = pd.Series(r["name"].to_numpy(), index=r["rep_id"].astype(str))
    named = names.reindex(info.index.astype(str))
    tbh = pd.Series([_tbh_name(str(r)) for r in info.index], index=named.index)
    info.insert(0, "name", named.fillna(tbh).to_numpy())
    return info


def rep_month(revised: pd.DataFrame, reps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Revised target revenue per rep and month: ``rep_id, name, region``, one column per month
    (``YYYY-MM``), ``total``; closed months hold the plan. Region then rep order."""
    label = pd.to_datetime(revised["month"]).dt.strftime("%Y-%m")
    wide = revised.assign(label=label).pivot_table(
        index="rep_id", columns="label", values="revised_revenue", aggfunc="sum", fill_value=0.0
    )
    wide = wide[sorted(wide.columns)]
    wide["total"] = wide.sum(axis=1)
    wide.columns.name = None
    out = _rep_info(revised, reps).join(wide, how="right").reset_index()
    return out.sort_values(["region", "rep_id"], kind="stable").reset_index(drop=True)


def _rep_rules(open_rows: pd.DataFrame) -> pd.Series:
    """Per rep: what the rule did to its segments, the largest change first (``raised``,
    ``kept``...; several when its segments were treated differently)."""
    if "rule" not in open_rows.columns or not len(open_rows):
        return pd.Series(dtype=object)
    per = open_rows.groupby(["rep_id", "rule"], sort=True)["change_revenue"].sum().reset_index()
    per["size"] = per["change_revenue"].abs()
    per = per.sort_values(["rep_id", "size", "rule"], ascending=[True, False, True])
    return per.groupby("rep_id", sort=True)["rule"].agg(lambda s: "; ".join(dict.fromkeys(s)))


def rep_summary(revised: pd.DataFrame, reps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per rep: ``rep_id, name, region``, ``plan_revenue`` (full year), ``actual_revenue`` (to
    date), ``plan_remaining`` and ``revised_remaining`` (the months left), ``change_revenue``
    (revised - plan of the months left), ``change_pct`` and ``rule``."""
    is_open = revised["status"] == "open"
    g = revised.groupby("rep_id", sort=True)
    out = pd.DataFrame(
        {
            "plan_revenue": g["plan_revenue"].sum(),
            "actual_revenue": revised[~is_open].groupby("rep_id")["actual_revenue"].sum(),
            "plan_remaining": revised[is_open].groupby("rep_id")["plan_revenue"].sum(),
            "revised_remaining": revised[is_open].groupby("rep_id")["revised_revenue"].sum(),
        }
    )
    out = out.fillna({"actual_revenue": 0.0, "plan_remaining": 0.0, "revised_remaining": 0.0})
    out["change_revenue"] = out["revised_remaining"] - out["plan_remaining"]
    base = out["plan_remaining"].where(out["plan_remaining"] != 0)
    out["change_pct"] = out["change_revenue"] / base
    out["rule"] = _rep_rules(revised[is_open]).reindex(out.index).fillna("")
    out = _rep_info(revised, reps).join(out, how="right").reset_index()
    return out.sort_values(["region", "rep_id"], kind="stable").reset_index(drop=True)


def detail(revised: pd.DataFrame) -> pd.DataFrame:
    """Every row of ``revised_targets.parquet``, keys first, the status in words."""
    keys = ["month", *DIMS, "status"]
    extra = [c for c in ("chance", "rule") if c in revised.columns]
    measures = [*_MEASURES, "revenue_no_cushion"]
    figures = _columns(measures, revised.columns)
    rest = [c for c in revised.columns if c not in {*keys, *extra, *figures}]
    out = revised[[*keys, *extra, *figures, *rest]].copy()
    out["status"] = _status_words(out["status"])
    return out.sort_values(["month", *DIMS], kind="stable").reset_index(drop=True)


def rule_table(revised: pd.DataFrame) -> pd.DataFrame:
    """The *Rule* sheet: ``assumption, value`` rows (the bounds; per measure what is still
    needed, what the months left now carry and what is unallocated), from ``attrs``."""
    attrs = revised.attrs or {}
    rows: list[tuple[str, Any]] = []
    for key in ("max_change", "min_chance"):
        v = (attrs.get("rule") or {}).get(key)
        if isinstance(v, int | float):
            rows.append((tr(RULE_ITEMS[key]), float(v)))
    for m in _MEASURES:
        for key in ("need", "revised_open_total", "unallocated"):
            v = (attrs.get(key) or {}).get(m)
            if isinstance(v, int | float):
                rows.append((tr(RULE_ITEMS[key]).format(measure=tr(_MEASURE_WORDS[m])), v))
    return pd.DataFrame(rows, columns=["assumption", "value"], dtype=object)


def revised_workbook_sheets(
    revised: pd.DataFrame, reps: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """The sheets of ``revised_targets.xlsx`` (:data:`REVISED_SHEETS`) from :func:`replan`'s
    frame and the reps table (``rep_id, name``) for the names."""
    r = revised.copy()
    r["month"] = pd.to_datetime(r["month"])
    for k in ("region", "rep_id"):
        r[k] = r[k].astype(str)
    return {
        "Company": company_by_month(r),
        "Rep x month": rep_month(r, reps),
        "Rep summary": rep_summary(r, reps),
        "Detail": detail(r),
        "Rule": rule_table(revised),
    }


def write_revised_workbook(
    revised: pd.DataFrame,
    path: Path | str,
    *,
    reps: pd.DataFrame | None = None,
    currency: str = "CNY",
) -> Path:
    """Write ``revised_targets.xlsx`` (:func:`revised_workbook_sheets`) atomically: total rows
    of ``SUBTOTAL`` formulas on every sheet but *Rule*, whose bounds read as percentages."""
    from salesanalysis.report.excel import write_excel

    sheets = revised_workbook_sheets(revised, reps)
    return write_excel(
        sheets,
        path,
        pct_columns={"change_pct", "chance"},
        currency=currency,
        totals=True,
        no_totals=_NO_TOTALS,
    )
