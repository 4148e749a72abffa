"""The workbooks managers work in (issue 16, item 4): targets.xlsx, revised_targets.xlsx and
demand_plan.xlsx opened with openpyxl, as a person would open them.

* every header says its column in Chinese and English (with the unit), months read YYYY-MM;
* revised_targets.xlsx has the sheets people use (company by month, rep x month, rep summary,
  detail), each adding up to revised_targets.parquet, with SUBTOTAL total rows, numbers stored
  as numbers and the header row and first column frozen;
* after ``plan import`` every sheet of targets.xlsx that shows rep targets (the level sheets,
  Rep x month, Rep load, Headcount) agrees with targets.parquet.
"""

from __future__ import annotations

import json
import re
import shutil
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


def test_rep_sheets_name_every_rep_to_be_hired_included():
    from salesanalysis.review import revised_workbook_sheets

    months = pd.date_range("2026-01-01", periods=2, freq="MS")
    r = pd.DataFrame(
        [(m, "华北", "Pumps", "SMB", rep) for rep in ("R1", "TBH-华北-1") for m in months],
        columns=["month", "region", "product_line", "customer_type", "rep_id"],
    )
    r["status"] = np.where(r["month"] == months[0], "closed", "open")
    r["plan_revenue"], r["revised_revenue"] = 100.0, [100.0, 120.0, 100.0, 80.0]
    r["actual_revenue"] = np.where(r["status"] == "closed", 90.0, np.nan)
    r["change_revenue"] = r["revised_revenue"] - r["plan_revenue"]
    reps = pd.DataFrame({"rep_id": ["R1"], "name": ["王伟"]})
    sheets = revised_workbook_sheets(r, reps)
    for name in ("Rep x month", "Rep summary"):
        assert dict(zip(sheets[name]["rep_id"], sheets[name]["name"], strict=True)) == {
            "R1": "王伟",
            "TBH-华北-1": "TBH 华北 1",
        }
    s = sheets["Rep summary"].set_index("rep_id")
    assert s["change_revenue"].to_dict() == {"R1": 20.0, "TBH-华北-1": -20.0}
    assert s["change_pct"].to_dict() == {"R1": 0.2, "TBH-华北-1": -0.2}


# --------------------------------------------------------------------------------------------
# plan import: every sheet of the workbook shows the imported targets


def _edit(src: Path, dest: Path, new: dict[str, float]) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(src)
    ws = wb["Rep"]
    head = [c.value for c in ws[1]]
    rep, target = head.index("销售代表编号 Rep ID"), head.index("目标收入 Target revenue (CNY)")
    for row in ws.iter_rows(min_row=2):
        if row[rep].value in new:
            row[target].value = new[row[rep].value]
    wb.save(dest)


def test_import_leaves_every_sheet_in_line_with_the_targets(run: Path, tmp_path: Path):
    from salesanalysis import i18n
    from salesanalysis.i18n import tr
    from salesanalysis.targets.output import workbook_differences
    from salesanalysis.targets.record_import import import_workbook

    mine = tmp_path / PERIOD
    shutil.copytree(run, mine)
    outputs = mine / "outputs"
    before = pd.read_parquet(outputs / "targets.parquet")
    assert workbook_differences(outputs / "targets.xlsx", before) == []  # as written
    old = before.groupby("rep_id")["target_revenue"].sum()
    edited = tmp_path / "edited.xlsx"
    _edit(outputs / "targets.xlsx", edited, {"R1": old["R1"] + 300})  # R3 offsets (pin)
    stale = outputs / "stale.xlsx"
    shutil.copy(outputs / "targets.xlsx", stale)

    res = import_workbook(mine, edited, tmp_path / "plans")
    after = pd.read_parquet(outputs / "targets.parquet")
    assert res.version is None and after.groupby("rep_id")["target_revenue"].sum()["R1"] == (
        old["R1"] + 300
    )
    assert workbook_differences(outputs / "targets.xlsx", after) == []
    # the check sees what a refresh of the level sheets alone would leave behind
    found = workbook_differences(stale, after)
    assert any(d.startswith("sheet Rep x month") for d in found)
    assert any(d.startswith("sheet Rep load") for d in found)

    sheets = _sheets(outputs / "targets.xlsx")
    load, _ = _frame(sheets["Rep load"])
    load = load.set_index("rep_id")
    assert np.allclose(load["load_eff"], load["target_revenue"] / load["eff_capacity"])
    med = load.loc[~load["tbh"].astype(bool), "load_eff"].median()
    assert np.allclose(load["load_vs_median"], load["load_eff"] / med - 1)
    plan = json.loads((outputs / "plan.json").read_text(encoding="utf-8"))
    lim = plan["reps"]["load_flag_pct"]
    i18n.set_report_from_plan(plan)  # flags read in the run's language
    for rep, row in load.iterrows():
        vs = row["load_vs_median"]
        want = tr("above") if vs > lim else tr("below") if vs < -lim else None
        assert (row["flag"] if isinstance(row["flag"], str) else None) == want, rep
    rep_sheet, _ = _frame(sheets["Rep"])
    shown = rep_sheet.set_index("rep_id")["flag"].fillna("")
    assert shown.to_dict() == load["flag"].fillna("").to_dict()


UNIT = 100.0
TEAM = {"华东": ["E1", "E2"], "华北": ["N1", "N2", "TBH-华北-1"]}


@pytest.fixture
def hiring_run(tmp_path: Path) -> Path:
    """A run whose workbook has the rep sheets of a plan that hires: a to-be-hired rep in 华北
    (Rep x month, Rep load and Headcount as write_targets lays them out)."""
    from salesanalysis.report.excel import write_excel
    from salesanalysis.targets.reps import rep_month_table

    months = pd.date_range("2026-01-01", periods=12, freq="MS")
    rows = [
        (m, region, "Pumps", "SMB", rep, (20 + 5 * k + m.month) * UNIT)
        for region, reps in TEAM.items()
        for k, rep in enumerate(reps)
        for m in months
    ]
    cols = ["month", "region", "product_line", "customer_type", "rep_id", "target_revenue"]
    t = pd.DataFrame(rows, columns=cols)
    t["target_revenue_no_cushion"] = t["target_revenue"]
    t["target_customers"] = 1
    run = tmp_path / "2026-01"
    (run / "outputs").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"status": "ok", "period": "2026-01"}))
    plan = {"currency": "CNY", "rounding": {"revenue": UNIT}, "reps": {"load_flag_pct": 0.2}}
    (run / "outputs" / "plan.json").write_text(json.dumps(plan))
    t.to_parquet(run / "outputs" / "targets.parquet", index=False)
    tot = t.groupby(["region", "rep_id"], as_index=False)["target_revenue"].sum()
    load = tot.assign(
        name=tot["rep_id"],
        tbh=tot["rep_id"].str.startswith("TBH-"),
        capacity=12.0,
        eff_capacity=[12.0, 10.0, 12.0, 6.0, 9.0],
        flag="",
    )
    load["load"] = load["target_revenue"] / load["capacity"]
    load["load_eff"] = load["target_revenue"] / load["eff_capacity"]
    load["load_vs_median"] = load["load_eff"] / load.loc[~load["tbh"], "load_eff"].median() - 1
    tbh = t[t["rep_id"].str.startswith("TBH-")]
    sheets = {
        "Rep": tot.merge(load[["rep_id", "name", "capacity", "load", "flag"]], on="rep_id"),
        "Rep x month": rep_month_table(t, load),
        "Rep load": load,
        "Headcount": pd.DataFrame(
            {"region": ["华北"], "count": [1], "target_revenue": [tbh["target_revenue"].sum()]}
        ),
    }
    write_excel(sheets, run / "outputs" / "targets.xlsx", currency="CNY", totals=True)
    return run


def test_import_refreshes_the_hires_and_rep_sheets(hiring_run: Path, tmp_path: Path):
    from salesanalysis.errors import RecordError
    from salesanalysis.targets import record
    from salesanalysis.targets.output import rep_sheet_differences, workbook_differences
    from salesanalysis.targets.record_import import import_workbook

    outputs = hiring_run / "outputs"
    before = pd.read_parquet(outputs / "targets.parquet")
    assert workbook_differences(outputs / "targets.xlsx", before) == []
    old = before.groupby("rep_id")["target_revenue"].sum()
    edited = tmp_path / "edited.xlsx"
    _edit(outputs / "targets.xlsx", edited, {"N1": old["N1"] + 6_000})
    import_workbook(hiring_run, edited, tmp_path / "plans")
    after = pd.read_parquet(outputs / "targets.parquet")
    carried = after.loc[after["rep_id"] == "TBH-华北-1", "target_revenue"].sum()
    assert carried < old["TBH-华北-1"]  # the hire took part of the offset
    assert workbook_differences(outputs / "targets.xlsx", after) == []
    head, _ = _frame(_sheets(outputs / "targets.xlsx")["Headcount"])
    assert head["target_revenue"].tolist() == [carried]
    # a hand edit of Rep x month after the import is found (freeze refuses it)
    _edit_month(outputs / "targets.xlsx", "E2", "2026-03", 1.0)
    found = rep_sheet_differences(outputs / "targets.xlsx", after)
    assert len(found) == 1 and "(E2 2026-03)" in found[0], found
    with pytest.raises(RecordError, match="sheet Rep x month, row 3 "):
        record.freeze(hiring_run, tmp_path / "plans")


def _edit_month(path: Path, rep: str, month: str, value: float) -> None:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    ws = wb["Rep x month"]
    head = [c.value for c in ws[1]]
    for row in ws.iter_rows(min_row=2):
        if row[0].value == rep:
            row[head.index(month)].value = value
    wb.save(path)
