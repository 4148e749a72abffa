"""Plan of record: freeze once, adopt revisions as new versions, detect tampering."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from salesanalysis.errors import InputError, RecordError
from salesanalysis.targets import record


def _run(tmp_path: Path, name: str, revised: bool = False, status: str = "ok") -> Path:
    run = tmp_path / name
    (run / "outputs").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"status": status, "period": name}), encoding="utf-8")
    months = pd.date_range("2026-01-01", periods=12, freq="MS")
    t = pd.DataFrame(
        {
            "month": months,
            "region": "华东",
            "product_line": "Pumps",
            "customer_type": "SMB",
            "rep_id": "R1",
            "target_revenue": 1000.0,
            "target_customers": 2,
        }
    )
    t.to_parquet(run / "outputs" / "targets.parquet")
    (run / "outputs" / "plan.json").write_text("{}", encoding="utf-8")
    if revised:
        r = t.rename(
            columns={"target_revenue": "plan_revenue", "target_customers": "plan_customers"}
        )
        r["revised_revenue"] = 1100.0
        r["revised_customers"] = 2
        r.to_parquet(run / "outputs" / "revised_targets.parquet")
    return run


def test_freeze_then_adopt(tmp_path: Path):
    records = tmp_path / "plans"
    assert record.current(2026, records) is None
    v1 = record.freeze(_run(tmp_path, "2026-01"), records, note="board approved")
    assert v1.version == "v1" and record.current(2026, records).version == "v1"
    assert v1.targets()["target_revenue"].sum() == 12000
    assert (
        not os.access(v1.targets_path, os.W_OK) or os.geteuid() == 0
    )  # read-only (root ignores modes)
    assert oct(v1.targets_path.stat().st_mode)[-3:] == "444"
    with pytest.raises(RecordError, match="already has a plan of record"):
        record.freeze(_run(tmp_path, "2026-02"), records)
    v2 = record.adopt(_run(tmp_path, "2026-07", revised=True), records, note="re-plan after H1")
    assert v2.version == "v2" and v2.meta["previous"] == "v1"
    cur = record.current(2026, records)
    assert cur.version == "v2" and cur.targets()["target_revenue"].sum() == 13200
    # v1 is kept untouched
    assert record.history(2026, records)[0].targets()["target_revenue"].sum() == 12000


def test_adopt_needs_a_frozen_plan_and_a_good_run(tmp_path: Path):
    records = tmp_path / "plans"
    with pytest.raises(RecordError, match="no plan of record"):
        record.adopt(_run(tmp_path, "2026-07", revised=True), records)
    with pytest.raises(RecordError, match="did not finish"):
        record.freeze(_run(tmp_path, "2026-08", status="failed"), records)


def test_tampering_is_detected(tmp_path: Path):
    records = tmp_path / "plans"
    v1 = record.freeze(_run(tmp_path, "2026-01"), records)
    os.chmod(v1.targets_path, 0o644)
    t = v1.targets()
    t.loc[0, "target_revenue"] = 1.0
    t.to_parquet(v1.targets_path)
    with pytest.raises(RecordError, match="changed after"):
        record.current(2026, records)


def test_apply_record_swaps_in_the_frozen_targets(tmp_path: Path):
    records = tmp_path / "plans"
    outputs = _run(tmp_path, "2026-01") / "outputs"
    note = record.apply_record(outputs, 2026, records)
    assert "draft" in note and not (outputs / "targets_computed.parquet").exists()
    record.freeze(outputs.parent, records)
    later = _run(tmp_path, "2026-05") / "outputs"
    t = pd.read_parquet(later / "targets.parquet")
    t["target_revenue"] *= 2  # today's data would give other targets
    t.to_parquet(later / "targets.parquet")
    note = record.apply_record(later, 2026, records)
    assert "plan of record" in note and "+12,000" in note
    assert pd.read_parquet(later / "targets.parquet")["target_revenue"].sum() == 12000
    assert pd.read_parquet(later / "targets_computed.parquet")["target_revenue"].sum() == 24000


# --------------------------------------------------------------------------------------------
# plan import: a manager's edits to rep targets in targets.xlsx, read back

UNIT, CUSHION = 100.0, 0.05
CELL = ["region", "product_line", "customer_type"]
TEAM = {"华东": ["E1", "E2", "E3"], "华北": ["N1", "N2", "N3", "N4"]}
PIN = 6_000_000.0  # 华东's annual revenue without cushion


def _team_targets() -> pd.DataFrame:
    """Rep targets month x cell x rep in whole units, 华东 adding up to the pin."""
    rows = []
    months = pd.date_range("2026-01-01", periods=12, freq="MS")
    for region, reps in TEAM.items():
        for k, rep in enumerate(reps):
            for pl in ("Pumps", "Valves"):
                for m in months:
                    nc = (3000 + 700 * k + (400 if pl == "Pumps" else 0) + 50 * m.month) * UNIT
                    rows.append((m, region, pl, "SMB", rep, nc))
    t = pd.DataFrame(
        rows,
        columns=[
            "month",
            "region",
            "product_line",
            "customer_type",
            "rep_id",
            "target_revenue_no_cushion",
        ],
    )
    east = t["region"] == "华东"
    scale = PIN / t.loc[east, "target_revenue_no_cushion"].sum()
    t.loc[east, "target_revenue_no_cushion"] = (
        t.loc[east, "target_revenue_no_cushion"] * scale / UNIT
    ).round() * UNIT
    diff = PIN - t.loc[east, "target_revenue_no_cushion"].sum()
    t.loc[t.index[east][0], "target_revenue_no_cushion"] += diff  # exact pin
    t["target_revenue"] = (t["target_revenue_no_cushion"] * (1 + CUSHION) / UNIT).round() * UNIT
    t["target_customers"] = 1
    return t


@pytest.fixture
def team_run(tmp_path: Path) -> Path:
    """A finished run of seven reps in two regions (华东 pinned), with the workbook the
    pipeline writes for managers (level sheets through report.excel)."""
    from salesanalysis.report.excel import write_excel

    run = tmp_path / "2026-01"
    (run / "outputs").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"status": "ok", "period": "2026-01"}))
    plan = {
        "currency": "CNY",
        "cushion_pct": CUSHION,
        "rounding": {"revenue": UNIT, "customers": 1},
        "pins": [{"segment": {"region": "华东"}, "revenue": PIN}],
        "report": {"language": "en"},  # the console text is checked in English
    }
    (run / "outputs" / "plan.json").write_text(json.dumps(plan, ensure_ascii=False))
    t = _team_targets()
    t.to_parquet(run / "outputs" / "targets.parquet", index=False)
    vals = ["target_revenue_no_cushion", "target_revenue", "target_customers"]
    month = t.groupby("month", as_index=False)[vals].sum()
    month["month"] = month["month"].dt.strftime("%Y-%m")
    sheets = {
        "Company": pd.DataFrame([t[vals].sum()]),
        "Region": t.groupby("region", as_index=False)[vals].sum(),
        "Cell": t.groupby(CELL, as_index=False)[vals].sum(),
        "Rep": t.groupby(["region", "rep_id"], as_index=False)[vals].sum(),
        "Month": month,
    }
    write_excel(sheets, run / "outputs" / "targets.xlsx", currency="CNY", totals=True)
    return run


def _edit_cells(src: Path, dest: Path, new: dict[tuple[str, str, str], float]) -> None:
    """Type new target revenues (with cushion) over cells in the Cell sheet."""
    from openpyxl import load_workbook

    from salesanalysis.report.excel import excel_header

    wb = load_workbook(src)
    ws = wb["Cell"]
    head = [c.value for c in ws[1]]
    at = [head.index(excel_header(k, "CNY")) + 1 for k in CELL]
    target_col = head.index(excel_header("target_revenue", "CNY")) + 1
    for r in range(2, ws.max_row + 1):
        key = tuple(str(ws.cell(r, c).value) for c in at)
        if key in new:
            ws.cell(r, target_col, new[key])
    wb.save(dest)


def _edit_reps(src: Path, dest: Path, new: dict[str, float]) -> None:
    """Type new target revenues (with cushion) over reps in the Rep sheet, as a manager would."""
    from openpyxl import load_workbook

    wb = load_workbook(src)
    ws = wb["Rep"]
    head = [c.value for c in ws[1]]
    rep_col = head.index("销售代表编号 Rep ID") + 1
    target_col = head.index("目标收入 Target revenue (CNY)") + 1
    for r in range(2, ws.max_row + 1):
        rep = ws.cell(r, rep_col).value
        if rep in new:
            ws.cell(r, target_col, new[rep])
    wb.save(dest)


def test_import_three_rep_edits_keeps_pins_and_totals(team_run: Path, tmp_path: Path, capsys):
    from salesanalysis.cli import main
    from salesanalysis.report.excel import level_sheet_differences

    before = pd.read_parquet(team_run / "outputs" / "targets.parquet")
    old = before.groupby("rep_id")["target_revenue"].sum()
    new = {"E1": old["E1"] + 50_000, "N2": old["N2"] - 120_000, "N4": old["N4"] + 300_000}
    edited = tmp_path / "edited.xlsx"
    _edit_reps(team_run / "outputs" / "targets.xlsx", edited, new)
    records = tmp_path / "plans"
    code = main(["plan", "import", "--run", str(team_run), str(edited), "--records", str(records)])
    out = capsys.readouterr().out
    assert code == 0, out
    after = pd.read_parquet(team_run / "outputs" / "targets.parquet")
    # the edited reps have exactly their new targets; the diff is shown old -> new
    got = after.groupby("rep_id")["target_revenue"].sum()
    for rep, value in new.items():
        assert got[rep] == value
        assert f"{rep}: {old[rep]:,.0f} -> {value:,.0f} CNY" in out
    # the company totals (with and without cushion) and the pin are kept, in whole units
    for col in ("target_revenue", "target_revenue_no_cushion", "target_customers"):
        assert after[col].sum() == before[col].sum(), col
    east = after["region"] == "华东"
    assert after.loc[east, "target_revenue_no_cushion"].sum() == PIN
    assert after.loc[east, "target_revenue"].sum() == before.loc[east, "target_revenue"].sum()
    assert (after["target_revenue"] % UNIT == 0).all() and (after["target_revenue"] >= 0).all()
    # the offsets went to the unedited reps of the same pin group only
    changed = set(after.loc[after["target_revenue"] != before["target_revenue"], "rep_id"])
    assert changed <= set(TEAM["华东"]) | set(TEAM["华北"])
    assert {"E2", "E3"} & changed and {"N1", "N3"} & changed
    # the run's own targets are kept; the workbook now shows the imported targets
    assert (team_run / "outputs" / "targets_before_import.parquet").exists()
    assert level_sheet_differences(team_run / "outputs" / "targets.xlsx", after) == []
    assert "draft" in out
    # so the draft can be frozen, and the record holds the imported targets
    rec = record.freeze(team_run, records)
    assert rec.targets().groupby("rep_id")["target_revenue"].sum()["N4"] == new["N4"]


def test_import_refuses_an_edit_that_breaks_a_pin(team_run: Path, tmp_path: Path):
    from salesanalysis.targets.record_import import import_workbook

    t = pd.read_parquet(team_run / "outputs" / "targets.parquet")
    old = t.groupby("rep_id")["target_revenue"].sum()
    edited = tmp_path / "edited.xlsx"
    # every 华东 rep raised: nobody is left in the pinned region to offset the rise
    _edit_reps(
        team_run / "outputs" / "targets.xlsx",
        edited,
        {rep: old[rep] + 10_000 for rep in TEAM["华东"]},
    )
    before = (team_run / "outputs" / "targets.parquet").read_bytes()
    with pytest.raises(RecordError, match="pin region=华东") as e:
        import_workbook(team_run, edited, tmp_path / "plans")
    assert "no unedited rep" in e.value.render() and "nothing was written" in e.value.render()
    assert (team_run / "outputs" / "targets.parquet").read_bytes() == before


def test_import_lists_every_bad_edit(team_run: Path, tmp_path: Path, capsys):
    from salesanalysis.cli import main

    edited = tmp_path / "edited.xlsx"
    _edit_reps(
        team_run / "outputs" / "targets.xlsx",
        edited,
        {"E1": -500.0, "E2": 123_456.0, "N1": "lots"},
    )
    code = main(["plan", "import", "--run", str(team_run), str(edited)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "3 edit(s) cannot be read" in err
    for text in ("negative", "whole units of 100", "not a number", "rows: 2", "rows: 3"):
        assert text in err, text


def test_import_cell_edits_keeps_pins_and_totals(team_run: Path, tmp_path: Path, capsys):
    """A manager's edits of cell targets (the Cell sheet): each edited cell gets its new target
    exactly, spread over its reps and months; the offsets go to the unedited cells of the same
    pin group; the pin and the company totals are kept; the rep sheets follow."""
    from salesanalysis.cli import main
    from salesanalysis.report.excel import level_sheet_differences

    before = pd.read_parquet(team_run / "outputs" / "targets.parquet")
    old = before.groupby(CELL)["target_revenue"].sum()
    east, north = ("华东", "Pumps", "SMB"), ("华北", "Valves", "SMB")
    new = {east: old[east] + 240_000, north: old[north] - 96_000}
    edited = tmp_path / "edited.xlsx"
    _edit_cells(team_run / "outputs" / "targets.xlsx", edited, new)
    code = main(
        [
            "plan",
            "import",
            "--run",
            str(team_run),
            str(edited),
            "--records",
            str(tmp_path / "plans"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 cell target(s) edited" in out
    assert f"华东/Pumps/SMB: {old[east]:,.0f} -> {new[east]:,.0f} CNY (+240,000)" in out
    after = pd.read_parquet(team_run / "outputs" / "targets.parquet")
    got = after.groupby(CELL)["target_revenue"].sum()
    for cell, value in new.items():
        assert got[cell] == value
    # the offsets: the other cell of each region (华东 pinned, 华北 under no pin)
    assert got[("华东", "Valves", "SMB")] == old[("华东", "Valves", "SMB")] - 240_000
    assert got[("华北", "Pumps", "SMB")] == old[("华北", "Pumps", "SMB")] + 96_000
    for col in ("target_revenue", "target_revenue_no_cushion", "target_customers"):
        assert after[col].sum() == before[col].sum(), col
    in_east = after["region"] == "华东"
    assert after.loc[in_east, "target_revenue_no_cushion"].sum() == PIN
    assert (after["target_revenue"] % UNIT == 0).all() and (after["target_revenue"] >= 0).all()
    # each rep of an edited cell carries its share of the change (in proportion, whole units)
    reps = after[after[CELL].apply(tuple, axis=1) == east].groupby("rep_id")["target_revenue"]
    was = before[before[CELL].apply(tuple, axis=1) == east].groupby("rep_id")["target_revenue"]
    assert (reps.sum() > was.sum()).all() and reps.sum().sum() - was.sum().sum() == 240_000
    assert level_sheet_differences(team_run / "outputs" / "targets.xlsx", after) == []


def test_import_refuses_cell_edits_that_break_a_pin_or_mix_levels(team_run: Path, tmp_path: Path):
    from salesanalysis.targets.record_import import import_workbook

    t = pd.read_parquet(team_run / "outputs" / "targets.parquet")
    old = t.groupby(CELL)["target_revenue"].sum()
    src, edited = team_run / "outputs" / "targets.xlsx", tmp_path / "edited.xlsx"
    before = (team_run / "outputs" / "targets.parquet").read_bytes()
    # both 华东 cells raised: no unedited cell is left in the pinned region
    _edit_cells(src, edited, {c: old[c] + 10_000 for c in old.index if c[0] == "华东"})
    with pytest.raises(RecordError, match="pin region=华东") as e:
        import_workbook(team_run, edited, tmp_path / "plans")
    assert "no unedited cell" in e.value.render()
    # a cell edit and a rep edit in one workbook: one level per import
    _edit_cells(src, edited, {("华北", "Pumps", "SMB"): old[("华北", "Pumps", "SMB")] + 1_000})
    reps = t.groupby("rep_id")["target_revenue"].sum()
    _edit_reps(edited, edited, {"N1": reps["N1"] + 1_000})
    with pytest.raises(InputError, match="both the Rep and the Cell sheet"):
        import_workbook(team_run, edited, tmp_path / "plans")
    # an unknown cell and a bad value are listed together
    _edit_cells(src, edited, {("华北", "Pumps", "SMB"): 1_050.5})
    with pytest.raises(InputError, match="whole units of 100"):
        import_workbook(team_run, edited, tmp_path / "plans")
    assert (team_run / "outputs" / "targets.parquet").read_bytes() == before


def test_import_reads_in_the_plan_language(team_run: Path, tmp_path: Path, capsys):
    """A Chinese company's import prints, and refuses, in Chinese."""
    from salesanalysis.cli import main

    plan_path = team_run / "outputs" / "plan.json"
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    plan["report"] = {"language": "zh"}
    plan_path.write_text(json.dumps(plan, ensure_ascii=False), encoding="utf-8")
    t = pd.read_parquet(team_run / "outputs" / "targets.parquet")
    old = t.groupby(CELL)["target_revenue"].sum()
    edited = tmp_path / "edited.xlsx"
    _edit_cells(team_run / "outputs" / "targets.xlsx", edited, {c: -1.0 for c in old.index})
    assert main(["plan", "import", "--run", str(team_run), str(edited)]) == 2
    err = capsys.readouterr().err
    assert "目标为负数" in err, err
    cell = ("华北", "Pumps", "SMB")
    _edit_cells(team_run / "outputs" / "targets.xlsx", edited, {cell: old[cell] + 1_000})
    assert (
        main(
            [
                "plan",
                "import",
                "--run",
                str(team_run),
                str(edited),
                "--records",
                str(tmp_path / "plans"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "个单元目标已修改" in out and "公司总额不变" in out, out


def test_freeze_refuses_a_workbook_edited_after_the_run(team_run: Path, tmp_path: Path, capsys):
    from salesanalysis.cli import main

    wb_path = team_run / "outputs" / "targets.xlsx"
    _edit_reps(wb_path, wb_path, {"N3": 1_000.0})
    code = main(["plan", "freeze", "--run", str(team_run), "--records", str(tmp_path / "p")])
    err = capsys.readouterr().err
    assert code == 6
    assert "no longer matches targets.parquet" in err and "sheet Rep" in err
    assert "plan import" in err
    assert not (tmp_path / "p" / "FY2026").exists()


def test_import_into_a_frozen_year_stores_the_next_version(team_run: Path, tmp_path: Path):
    from salesanalysis.targets.record_import import import_workbook

    records = tmp_path / "plans"
    v1 = record.freeze(team_run, records)
    old = v1.targets().groupby("rep_id")["target_revenue"].sum()
    edited = tmp_path / "edited.xlsx"
    _edit_reps(team_run / "outputs" / "targets.xlsx", edited, {"N1": old["N1"] + 20_000})
    res = import_workbook(team_run, edited, records, note="sales meeting")
    assert res.version == "v2"
    cur = record.current(2026, records)
    assert cur.version == "v2" and cur.meta["kind"] == "import" and cur.meta["previous"] == "v1"
    assert cur.targets()["target_revenue"].sum() == v1.targets()["target_revenue"].sum()
    assert record.history(2026, records)[0].targets().equals(v1.targets())  # v1 untouched


# --------------------------------------------------------------------------------------------
# plan adopt: a revision that leaves part of the gap unallocated is not adopted silently


def _behind_runs(tmp_path: Path, max_change: float = 0.30) -> tuple[Path, Path]:
    """A frozen-to-be run (two reps, 1,000 a month each) and a later run whose review finds
    the company behind (900 sold a month for ten months, rep A with no chance): the bounds
    place only part of what is still needed."""
    from salesanalysis import review as rv

    months = pd.date_range("2026-01-01", periods=12, freq="MS")
    keys = ["region", "product_line", "customer_type", "rep_id"]
    t = pd.DataFrame([(m, "N", "L", "T", r) for r in ("A", "B") for m in months])
    t.columns = ["month", *keys]
    t["target_revenue"], t["target_customers"] = 1000.0, 0.0
    plan = {"currency": "CNY", "rounding": {"revenue": 10, "customers": 1}}
    plan["replan"] = {"max_change": max_change, "min_chance": 0.1}
    plan["report"] = {"language": "en"}  # the refusals are checked in English
    runs = []
    for name in ("2026-01", "2026-10"):
        run = tmp_path / name
        (run / "outputs").mkdir(parents=True)
        (run / "run.json").write_text(json.dumps({"status": "ok", "period": name}))
        (run / "outputs" / "plan.json").write_text(json.dumps(plan))
        t.to_parquet(run / "outputs" / "targets.parquet", index=False)
        runs.append(run)
    sold = t[t["month"].dt.month <= 10][["month", *keys]].assign(revenue=900.0, customers=0.0)
    p = pd.DataFrame({"level": "bottom", "region": "N", "product_line": "L"}, index=[0, 1])
    p = p.assign(customer_type="T", rep_id=["A", "B"], p_reach_target=[0.0, 0.9])
    p["forecast_rest"] = [1800.0, 2000.0]
    revised = rv.replan(
        rv.monthly_targets(t, 2026),
        sold,
        "2026-10",
        2026,
        p_reach=p,
        max_change=max_change,
        units={"revenue": 10.0, "customers": 1.0},
    )
    revised.to_parquet(runs[1] / "outputs" / "revised_targets.parquet", index=False)
    return runs[0], runs[1]


def test_adopt_refuses_a_revision_below_the_full_year_target(tmp_path: Path, capsys):
    from salesanalysis.cli import main

    first, later = _behind_runs(tmp_path)
    records = tmp_path / "plans"
    record.freeze(first, records)
    left = pd.read_parquet(later / "outputs" / "revised_targets.parquet").attrs["unallocated"]
    assert left["revenue"] > 0  # what the review could not place: 6,000 needed, 4,600 placed
    code = main(["plan", "adopt", "--run", str(later), "--records", str(records)])
    err = capsys.readouterr().err
    assert code == 6, err
    assert f"{left['revenue']:,.0f} CNY of revenue" in err and "FY2026" in err
    assert "replan: max_change" in err and "(now 30%)" in err and "--accept-lower" in err
    assert record.current(2026, records).version == "v1"  # nothing stored

    code = main(
        ["plan", "adopt", "--run", str(later), "--records", str(records), "--note", "H2"]
        + ["--accept-lower"]
    )
    assert code == 0, capsys.readouterr().err
    v2 = record.current(2026, records)
    assert v2.version == "v2" and v2.meta["accepted_shortfall"] == {
        m: v for m, v in left.items() if v > 0
    }
    assert v2.meta["note"].startswith("H2 - adopted below the full-year target")
    assert f"{left['revenue']:,.0f} CNY of revenue" in v2.meta["note"]


def test_adopt_takes_a_revision_that_places_the_whole_gap(tmp_path: Path):
    first, later = _behind_runs(tmp_path, max_change=1.0)  # a bound wide enough
    revised = pd.read_parquet(later / "outputs" / "revised_targets.parquet")
    assert revised.attrs["unallocated"]["revenue"] == 0
    records = tmp_path / "plans"
    record.freeze(first, records)
    v2 = record.adopt(later, records)
    assert "accepted_shortfall" not in v2.meta and v2.meta["note"] is None
    sold = revised["actual_revenue"].sum()
    assert sold + revised.loc[revised["status"] == "open", "revised_revenue"].sum() == 24_000
