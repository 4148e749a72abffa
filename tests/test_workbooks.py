"""The workbooks managers work in (issue 16, item 4): targets.xlsx, revised_targets.xlsx and
demand_plan.xlsx opened with openpyxl, as a person would open them.

* every header says its column in Chinese and English (with the unit), months read YYYY-MM;
* revised_targets.xlsx has the sheets people use (company by month, rep x month, rep summary,
  detail), each adding up to revised_targets.parquet, with SUBTOTAL total rows, numbers stored
  as numbers and the header row and first column frozen;
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from .test_bad_input import BASE

YEAR, PERIOD = 2025, "2025-07"
MONTH = re.compile(r"\d{4}-\d{2}")
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run of the corpus base company: targets.xlsx (write_targets), the review's
    revision (replan, written as step 04 writes it) and the demand plan."""
    from salesanalysis import execution as ex
    from salesanalysis.data.context import RunContext
    from salesanalysis.data.cube import build_cube, build_customer_cube
    from salesanalysis.data.readers import load_dataset
    from salesanalysis.review import monthly_actuals, monthly_targets, replan
    from salesanalysis.targets.decompose import decompose, write_targets

    run = tmp_path_factory.mktemp("runs") / PERIOD
    outputs = run / "outputs"
    ds = load_dataset(BASE, BASE / "plan.yaml")
    cube, customers = build_cube(ds.transactions), build_customer_cube(ds.transactions)
    dec = decompose(cube, customers, ds.reps, ds.market, None, ds.plan)
    write_targets(dec, outputs)
    (outputs / "plan.json").write_text(
        json.dumps(ds.plan.to_dict(), default=str, ensure_ascii=False), encoding="utf-8"
    )
    (run / "run.json").write_text(json.dumps({"status": "ok", "period": PERIOD}))
    ds.reps.to_parquet(outputs / "reps.parquet", index=False)
    revised = replan(
        monthly_targets(dec.targets, YEAR),
        monthly_actuals(cube, customers, PERIOD, YEAR),
        PERIOD,
        YEAR,
        plan=ds.plan,
        reps=ds.reps,
    )
    ctx = RunContext(pd.Period(PERIOD, "M"), run, BASE, BASE / "plan.yaml")
    ctx.write("revised_targets", revised, excel=True)  # what step 04 calls
    ex.write_demand_plan(ex.demand_plan(dec.targets, cube, ds.plan), outputs, ds.plan.currency)
    return run


def _sheets(path: Path, data_only: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, data_only=data_only)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}


def _frame(rows: list[tuple[Any, ...]]) -> tuple[pd.DataFrame, tuple[Any, ...] | None]:
    """A sheet as a frame with its columns named by HEADERS (months as they are), and its
    total row (None without one)."""
    from salesanalysis.report.excel import HEADERS, TOTAL_LABEL, column_of_header

    names = [h if MONTH.fullmatch(str(h)) else column_of_header(h, HEADERS) for h in rows[0]]
    body = [r for r in rows[1:] if r[0] != TOTAL_LABEL]
    total = next((r for r in rows[1:] if r[0] == TOTAL_LABEL), None)
    return pd.DataFrame(body, columns=names), total


# --------------------------------------------------------------------------------------------
# headers


@pytest.mark.parametrize("name", ["targets.xlsx", "revised_targets.xlsx", "demand_plan.xlsx"])
def test_every_header_is_bilingual_with_its_unit(run: Path, name: str):
    from salesanalysis.report.excel import HEADERS, column_of_header, excel_header

    for sheet, rows in _sheets(run / "outputs" / name).items():
        for head in rows[0]:
            if MONTH.fullmatch(str(head)):
                continue  # a month column: 2026-03 reads the same in both languages
            col = column_of_header(head, HEADERS)
            assert col is not None, f"{name} / {sheet}: {head!r} is not a known column"
            assert head == excel_header(col), (name, sheet, head)
            zh, en, unit = HEADERS[col]
            assert CJK.search(zh) and re.search(r"[A-Za-z]", en) and not CJK.search(en)
            if unit == "money":
                assert head.endswith("(CNY)"), head


# --------------------------------------------------------------------------------------------
# revised_targets.xlsx


def _revised(run: Path) -> pd.DataFrame:
    r = pd.read_parquet(run / "outputs" / "revised_targets.parquet")
    return r.assign(label=pd.to_datetime(r["month"]).dt.strftime("%Y-%m"))


def _assert_total_row(rows: list[tuple[Any, ...]], cached: list[tuple[Any, ...]]) -> None:
    """The total row holds SUBTOTAL(9, ...) over the whole body of each summed column, and its
    value (as the workbook shows it before recalculation) is the sum of that body."""
    from salesanalysis.report.excel import TOTAL_LABEL, is_total_formula

    n = len(rows) - 2  # header and total row
    assert rows[-1][0] == TOTAL_LABEL
    summed = 0
    for j, formula in enumerate(rows[-1][1:], start=1):
        if formula is None:
            continue
        assert is_total_formula(formula), formula
        first, last = re.search(r"(\d+):\$?[A-Z]+\$?(\d+)\)", formula).groups()
        assert (int(first), int(last)) == (2, n + 1), formula  # the whole body
        body = [v for r in rows[1:-1] if isinstance(v := r[j], int | float)]
        assert cached[-1][j] == pytest.approx(sum(body), abs=1e-6)
        summed += 1
    assert summed


def test_revised_workbook_sheets_add_up_to_the_parquet(run: Path):
    r = _revised(run)
    is_open = r["status"] == "open"
    path = run / "outputs" / "revised_targets.xlsx"
    sheets, cached = _sheets(path), _sheets(path, data_only=True)
    assert list(sheets) == ["Company", "Rep x month", "Rep summary", "Detail", "Rule"]

    company, _ = _frame(sheets["Company"])
    assert list(company["month"]) == sorted(r["label"].unique())  # YYYY-MM text, every month
    for col in ("plan_revenue", "actual_revenue", "revised_revenue", "change_revenue"):
        assert company[col].sum() == pytest.approx(r[col].sum()), col
    by_month = r.groupby("label")["revised_revenue"].sum()
    assert np.allclose(company["revised_revenue"], by_month.to_numpy())
    assert company["actual_revenue"].notna().sum() == r.loc[~is_open, "label"].nunique()

    wide, _ = _frame(sheets["Rep x month"])
    months = [c for c in wide.columns if MONTH.fullmatch(str(c))]
    assert months == sorted(r["label"].unique())
    assert sorted(wide["rep_id"]) == sorted(r["rep_id"].unique())  # one row per rep
    assert np.allclose(wide[months].sum().to_numpy(), by_month.to_numpy())
    assert np.allclose(wide[months].sum(axis=1), wide["total"])
    per_rep = r.groupby("rep_id")["revised_revenue"].sum()
    assert np.allclose(wide.set_index("rep_id")["total"], per_rep.reindex(wide["rep_id"]))

    summary, _ = _frame(sheets["Rep summary"])
    s = summary.set_index("rep_id")
    g = r.groupby("rep_id")
    assert np.allclose(s["plan_revenue"], g["plan_revenue"].sum().reindex(s.index))
    assert s["actual_revenue"].sum() == pytest.approx(r["actual_revenue"].sum())
    open_rev = r[is_open].groupby("rep_id")[["plan_revenue", "revised_revenue"]].sum()
    assert np.allclose(s["revised_remaining"], open_rev["revised_revenue"].reindex(s.index))
    change = open_rev["revised_revenue"] - open_rev["plan_revenue"]
    assert np.allclose(s["change_revenue"], change.reindex(s.index))
    assert s["rule"].astype(bool).all()  # what the rule did, for every rep

    detail, _ = _frame(sheets["Detail"])
    assert len(detail) == len(r)
    for col in ("plan_revenue", "revised_revenue", "revised_customers", "change_revenue"):
        assert detail[col].sum() == pytest.approx(r[col].sum()), col

    rule, _ = _frame(sheets["Rule"])
    assert r.attrs["unallocated"]["revenue"] in list(rule["value"])

    for name in ("Company", "Rep x month", "Rep summary", "Detail"):
        _assert_total_row(sheets[name], cached[name])


def test_revised_workbook_is_formatted_for_work(run: Path):
    from openpyxl import load_workbook

    wb = load_workbook(run / "outputs" / "revised_targets.xlsx")
    for ws in wb.worksheets:
        assert ws.freeze_panes == "B2", ws.title  # header row and first column
    ws = wb["Rep summary"]
    head = [c.value for c in ws[1]]
    j = head.index("剩余月份修订目标 Revised, months left (CNY)")
    pct = head.index("调整比例 Change vs plan (%)")
    for row in ws.iter_rows(min_row=2, max_row=ws.max_row - 1):
        assert isinstance(row[j].value, int | float) and row[j].number_format == "#,##0"
        assert row[pct].value is None or row[pct].number_format == "0.0%"
