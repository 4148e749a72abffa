"""The growth base of a revenue target: comparable with the months planned (issue 12)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from salesanalysis.paths import SAMPLE_DIR
from salesanalysis.targets.company import growth_base
from salesanalysis.targets.periods import plan_windows
from salesanalysis.targets.plan import plan_from_dict


def _plan(**changes):
    data = yaml.safe_load((SAMPLE_DIR / "plan.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    return plan_from_dict(data, source="plan.yaml")


def _cube(first: str, last: str, monthly) -> pd.DataFrame:
    months = pd.date_range(first, last, freq="MS")
    return pd.DataFrame({"month": months, "revenue": [monthly(m) for m in months]})


def _cells(cube: pd.DataFrame, months) -> SimpleNamespace:
    return SimpleNamespace(last_year=cube.loc[cube["month"].isin(months), "revenue"])


def test_mid_year_plan_grows_the_same_months_a_year_earlier():
    plan = _plan(fiscal_year=2025, plan_cutoff="2025-06")
    win = plan_windows(plan)
    cube = _cube("2023-01", "2025-06", lambda m: 100.0 * m.month)  # seasonal: H2 > H1
    base, rule, months, revenue = growth_base(cube, _cells(cube, win.last_year), win)
    assert months == list(pd.date_range("2024-07-01", "2024-12-01", freq="MS"))
    assert base == revenue == pytest.approx(100.0 * sum(range(7, 13)))
    assert "same months a year earlier (2024-07..2024-12)" in rule


def test_full_year_plan_grows_the_12_months_to_the_cutoff():
    plan = _plan(fiscal_year=2026, plan_cutoff="2025-12")
    win = plan_windows(plan)
    cube = _cube("2024-01", "2025-12", lambda m: 10.0)
    base, rule, months, _ = growth_base(cube, _cells(cube, win.last_year), win)
    assert base == pytest.approx(120.0) and len(months) == 12
    assert "12 months to the cutoff" in rule


def test_a_short_history_is_annualised_and_says_so():
    plan = _plan(fiscal_year=2025, plan_cutoff="2024-12")
    win = plan_windows(plan)
    cube = _cube("2024-04", "2024-12", lambda m: 50.0)  # 9 months of history
    base, rule, months, revenue = growth_base(cube, _cells(cube, win.last_year), win)
    assert revenue == pytest.approx(450.0) and len(months) == 9
    assert base == pytest.approx(50.0 * 12)  # the monthly average x 12 plan months
    assert "annualised" in rule and "9 months of history" in rule


def test_a_mid_year_plan_without_last_years_months_annualises_the_months_it_has():
    plan = _plan(fiscal_year=2025, plan_cutoff="2025-06")
    win = plan_windows(plan)
    cube = _cube("2025-01", "2025-06", lambda m: 30.0)  # a new company
    base, rule, months, _ = growth_base(cube, _cells(cube, win.last_year), win)
    assert base == pytest.approx(30.0 * 6) and len(months) == 6
    assert "annualised" in rule
