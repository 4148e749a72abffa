"""The planning calendar: a year-end run (plan for next year, report month in this year), with
and without this year's plan of record, and the checks `validate --period` makes before a run."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from salesanalysis.errors import PlanError
from salesanalysis.paths import REPO_DIR, SAMPLE_DIR
from salesanalysis.review.scope import check_run, plan_start, review_scope
from salesanalysis.targets.plan import load_plan, plan_from_dict
from tests import corpus as C


def _cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "salesanalysis.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        timeout=timeout,
    )


def _plan(**changes) -> object:
    data = yaml.safe_load((SAMPLE_DIR / "plan.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    return plan_from_dict(data, source="plan.yaml")


def test_scope_of_a_monthly_review_is_the_plan_year_from_january():
    plan = load_plan(SAMPLE_DIR / "plan.yaml")  # FY2026, cut off 2025-12
    s = review_scope("2026-10", plan, None)
    assert (s.fiscal_year, s.targets_from, s.reviewable) == (2026, "run", True)
    assert s.first_month == pd.Timestamp("2026-01-01")


def test_scope_of_a_mid_year_plan_starts_after_its_cutoff():
    plan = _plan(plan_cutoff="2026-06")
    assert plan_start(plan) == pd.Timestamp("2026-07-01")
    s = review_scope("2026-09", plan, None)
    assert s.first_month == pd.Timestamp("2026-07-01")
    assert "mid-year plan whose targets start in 2026-07" in s.statement


def test_year_end_run_without_last_years_record_has_nothing_to_review(tmp_path):
    plan = load_plan(SAMPLE_DIR / "plan.yaml")
    s = review_scope("2025-12", plan, tmp_path)
    assert not s.reviewable and s.fiscal_year == 2025
    assert "no FY2025 plan of record" in s.statement
    with pytest.raises(PlanError):
        s.targets()


def test_a_month_that_the_plan_does_not_belong_to_is_refused_with_a_cli_fix():
    plan = load_plan(SAMPLE_DIR / "plan.yaml")
    for period in ("2024-12", "2027-01"):
        with pytest.raises(PlanError) as e:
            review_scope(period, plan, None)
        assert "--plan" in e.value.render()


def test_check_run_refuses_a_month_after_the_data():
    plan = load_plan(SAMPLE_DIR / "plan.yaml")
    with pytest.raises(PlanError, match="after the last month of data"):
        check_run("2026-11", plan, pd.Period("2026-10", "M"), None)
    lines = check_run("2025-12", plan, pd.Period("2026-10", "M"), None)
    assert lines[0] == "OK for 2025-12: a year-end run that makes the FY2026 plan."


def test_validate_period_exit_codes():
    ok = _cli("validate", "--period", "2025-12", timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "year-end run that makes the FY2026 plan" in ok.stdout
    bad = _cli("validate", "--period", "2024-06", timeout=300)
    assert bad.returncode == 2
    from salesanalysis import i18n

    # the error reads in the sample plan's language
    i18n.set_report_from_plan(yaml.safe_load((SAMPLE_DIR / "plan.yaml").read_text("utf-8")))
    said = i18n.tr("the report period {period} is outside the plan's fiscal year {fy}")
    assert said.format(period="2024-06", fy=2026) in bad.stdout + bad.stderr


@pytest.mark.slow
def test_year_end_run_reviews_this_year_against_its_plan_of_record(tmp_path):
    """December 2024 in the corpus's year-end company (history 2022-01..2024-12, its plan for
    FY2025): the FY2024 plan of record exists (frozen from a FY2024 run), the run's plan is
    FY2025. Step 03 makes the FY2025 draft; step 04 reviews 2024 against the FY2024 record, and
    its actual equals the raw rows of 2024. (A small company, not the sample: the forecast step
    runs here, and the sample's takes minutes.)"""
    built = C.build("year_end", tmp_path / "shapes")
    data = built.folder
    plan24 = dict(built.plan, fiscal_year=2024, plan_cutoff="2023-12", pins=[], name="FY2024")
    (tmp_path / "plan2024.yaml").write_text(yaml.safe_dump(plan24, allow_unicode=True), "utf-8")
    out, records = tmp_path / "reports", tmp_path / "plans"

    # the FY2024 plan, made in January 2024 and frozen
    r = _cli("run", "--data", str(data), "--plan", str(tmp_path / "plan2024.yaml"),
             "--period", "2024-01", "--out", str(out / "fy24"), "--records", str(records),
             "--steps", "03")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    r = _cli("plan", "freeze", "--run", str(out / "fy24" / "2024-01"), "--records", str(records))
    assert r.returncode == 0, r.stdout + r.stderr

    # December 2024: next year's plan, and this year's review
    r = _cli("run", "--data", str(data), "--period", "2024-12", "--out", str(out / "ye"),
             "--records", str(records), "--steps", "02", "03", "04")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    run = out / "ye" / "2024-12"
    manifest = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert [s["status"] for s in manifest["steps"]] == ["ok", "ok", "ok"]
    targets = pd.read_parquet(run / "outputs" / "targets.parquet")
    assert set(targets["month"].dt.year) == {2025}  # step 03 made next year's draft
    review = pd.read_parquet(run / "outputs" / "review.parquet")
    tot = review[(review["level"] == "total") & (review["measure"] == "revenue")]
    ytd = tot[tot["window"] == "ytd"].iloc[0]
    raw_2024 = built.tx.loc[built.tx["month"].dt.year == 2024, "revenue"].sum()
    assert ytd["actual"] == pytest.approx(raw_2024, rel=1e-9)
    frozen = pd.read_parquet(records / "FY2024" / "v1" / "targets.parquet")
    assert ytd["target"] == pytest.approx(frozen["target_revenue_no_cushion"].sum(), rel=1e-9)
    page = (run / "04_performance_review.html").read_text(encoding="utf-8")
    # the sentence in the report's language (the plan's, Chinese by default)
    assert re.search(
        r"FY2024 is reviewed against its plan of record|2024 财年对照其计划记录", page
    )


@pytest.mark.slow
def test_year_end_run_without_a_record_skips_the_review_and_says_why(tmp_path):
    out = tmp_path / "reports"
    r = _cli("run", "--period", "2025-12", "--out", str(out), "--records", str(tmp_path / "p"),
             "--steps", "03", "04")  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "skipped" in r.stdout
    run = out / "2025-12"
    manifest = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "ok"
    step = manifest["steps"][-1]
    said = re.compile(r"no FY2025 plan of record|没有 2025 财年的计划记录")  # en | zh
    assert step["status"] == "skipped" and said.search(step["note"])
    index = (run / "index.html").read_text(encoding="utf-8")
    assert said.search(index)
    page = (run / "04_performance_review.html").read_text(encoding="utf-8")
    assert said.search(page) and "Traceback" not in page
    assert not (run / "outputs" / "review.parquet").exists()
