"""Short histories degrade gracefully, and say so (issue 12).

From 6 to 23 months of history the forecast runs with what the data supports (fewer or no
backtest origins, no seasonal part, intervals from the residuals with a stated floor, a
shortened or skipped accuracy check) and its facts say exactly what was done; under 6 months
there is no forecast, and the targets use history keys only. Everything is built in code.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from salesanalysis.forecast import _models as fm
from salesanalysis.forecast import hierarchy as H
from salesanalysis.targets.cells import plan_cells
from salesanalysis.targets.decompose import decompose, forecast_for_plan
from salesanalysis.targets.explain import step_notes
from salesanalysis.targets.keys import allocation_keys
from salesanalysis.targets.periods import plan_windows
from salesanalysis.targets.plan import plan_from_dict

from .test_decompose import make_world

SHORT = [6, 9, 12, 18, 23]
SEASON = np.array([0.80, 0.70, 1.00, 1.00, 1.05, 1.15, 0.95, 0.95, 1.05, 1.00, 1.10, 1.25])
Z80 = 1.2815515655446004


def series(n: int, seed: int = 0) -> np.ndarray:
    """A positive monthly series of ``n`` months with a trend, a season and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 100.0 * (1.01**t) * SEASON[t % 12] * rng.uniform(0.9, 1.1, n)


def short_cube(n: int, start: str = "2024-01", seed: int = 0) -> pd.DataFrame:
    """Two regions x two product lines x one customer type, one rep per region, ``n`` months."""
    rng = np.random.default_rng(seed)
    rows = []
    for r, rep in (("华东", "E1"), ("华北", "N1")):
        for p, level in (("Pumps", 4000.0), ("Valves", 1500.0)):
            for k, m in enumerate(pd.date_range(start, periods=n, freq="MS")):
                v = level * (1.01**k) * SEASON[m.month - 1] * rng.uniform(0.85, 1.15)
                rows.append((m, r, p, "SMB", rep, v))
    cube = pd.DataFrame(
        rows, columns=["month", "region", "product_line", "customer_type", "rep_id", "revenue"]
    )
    return cube.assign(quantity=1.0, orders=1, customers=1)


def settings(horizon: int = 12) -> fm.Settings:
    return fm.Settings(horizon, (80, 95), 12, fm.ALL_MODELS, 3, "default")


# --------------------------------------------------------------------------- per series


@pytest.mark.parametrize("n", SHORT)
def test_a_short_series_is_forecast_without_a_seasonal_part_and_with_a_floor(n):
    y = series(n, seed=n)
    p = fm.prepare(y, settings())
    assert p.m_eff == 1 and not p.seasonal and not p.full_seasonal_ok  # no seasonal part
    assert fm.is_short(n, 12)
    out = fm.forecast_series(y, settings(), fm.Stats())
    assert not out.seasonal and out.n_obs == n
    if n == 6:  # too short to backtest: a model by rule, its own sd from the residuals
        assert out.n_origins == 0 and out.reason == "too short to backtest; rule-based choice"
        assert out.model == "ets(A,N,N)" and out.backtest == [] and out.scale_factor == 1.0
    else:
        assert out.n_origins >= 1 and out.backtest
        assert all(r["model"] != "snaive" for r in out.backtest)  # the baseline is naive
        assert "arima" not in out.model or n >= 13
    for mult in (0.5, 1.0, 2.0):  # the floor holds after the run-wide multiplier
        assert np.all(out.sd(mult) >= fm.SD_FLOOR - 1e-12)
        for level in (80, 95):
            lo, hi = out.bounds(level, mult)
            assert np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))
            assert np.all(lo >= 0) and np.all(lo <= out.median()) and np.all(out.median() <= hi)
    lo, hi = out.bounds(80, 0.5)
    # log scale: at least exp(+-z80 x 10%) around the median
    assert np.all(hi / out.median() >= math.exp(Z80 * fm.SD_FLOOR) - 1e-9)
    assert np.all(np.isfinite(out.mean())) and np.all(out.mean() >= out.median())


def test_two_full_seasons_keep_the_seasonal_naive_and_no_floor():
    y = series(24, seed=3)
    p = fm.prepare(y, settings())
    assert p.m_eff == 12 and not fm.is_short(24, 12)
    out = fm.forecast_series(y, settings(), fm.Stats())
    assert np.all(np.asarray(out.sd_floor) == 0.0)
    # a raw-scale short series (a month with returns) floors at 10% of its forecast's size
    raw = series(10, seed=4)
    raw[3] = -5.0
    band = fm.forecast_series(raw, settings(6), fm.Stats())
    assert not band.log
    np.testing.assert_allclose(band.sd_floor, fm.SD_FLOOR * np.abs(band.mean_t))


# --------------------------------------------------------------------------- accuracy plan


@pytest.mark.parametrize(
    "history, horizon, requested, origins, h, note",
    [
        (60, 12, 1, 1, 12, ""),  # five years: as asked
        (60, 12, 3, 3, 12, ""),
        (30, 12, 3, 3, 12, ""),  # room 18: origins at 12, 15, 18 months back
        (23, 12, 1, 1, 11, "11 months ahead instead of 12"),
        (18, 12, 2, 1, 6, "1 origin instead of 2 and 6 months ahead instead of 12"),
        (15, 12, 1, 1, 3, "3 months ahead"),
        (14, 12, 1, 0, 0, "needs 12 months to forecast from and at least 3 more"),
        (12, 12, 1, 0, 0, "too short"),
        (6, 12, 1, 0, 0, "15 months in all"),
        (60, 12, 0, 0, 0, "accuracy_origins is 0"),
    ],
)
def test_accuracy_plan_shrinks_or_skips_with_a_note(history, horizon, requested, origins, h, note):
    a = H.accuracy_plan(history, horizon, requested)
    assert (a.origins, a.horizon) == (origins, h)
    assert note in a.note and (a.note == "") == (note == "")
    if origins:  # every origin has 12 months before it and h months after it
        assert history - h - (origins - 1) * a.step >= 12


def test_history_months_and_the_six_month_minimum():
    cube = short_cube(5, start="2024-08")
    assert H.history_months(cube, "2024-12") == 5
    assert H.history_months(cube, "2025-02") == 7  # months without sales after the first count
    said = H.too_short_to_forecast(cube, "2024-12")
    assert said.startswith("No forecast: the history to 2024-12 has 5 months of sales")
    assert "at least 6" in said and "history key" in said
    assert H.too_short_to_forecast(cube, "2025-01") is None
    zero = cube.assign(revenue=np.where(cube["month"] == "2024-08-01", 0.0, cube["revenue"]))
    assert H.history_months(zero, "2025-01") == 5  # leading months without sales do not count
    assert "no sales" in H.too_short_to_forecast(cube, "2024-07")


# --------------------------------------------------------------------------- the hierarchy


@pytest.fixture(scope="module")
def runs() -> dict[int, H.HierarchyForecast]:
    return {
        n: H.forecast_hierarchy(
            short_cube(n, seed=n),
            pd.Timestamp("2024-01-01") + pd.DateOffset(months=n - 1),
            12,
            detail="cell",
            n_jobs=1,
            accuracy_origins=1,
        )
        for n in SHORT
    }


@pytest.mark.parametrize("n", SHORT)
def test_short_hierarchy_runs_and_its_facts_say_what_was_done(runs, n):
    hf = runs[n]
    f = hf.facts
    assert f.history_months == n and f.horizon == 12 and f.method == "default"
    assert f.modelled == len(hf.chosen) and f.seasonal == 0 and f.short == f.modelled
    assert "fewer than two full years (24)" in f.seasonal_why
    assert "snaive" not in f.models_run and "naive" in f.models_run or n == 6
    if n == 6:
        assert f.origins_used == 0 and f.rule_based == f.modelled and f.models_run == ("ets",)
        assert set(f.models_not_run) == {"theta", "arima", "combo"}
    else:
        assert f.rule_based == 0 and f.backtested == f.modelled
        assert 1 <= f.origins_min <= f.origins_used < 3
        assert {"ets", "theta", "combo_median"} <= set(f.models_run)
        assert f.backtest_horizon == min(12, n - 6)
    if n < 13:  # ARIMA needs 7 months before the first backtest origin
        assert "arima" in f.models_not_run
    assert set(hf.backtest["n_origins"]) <= {f.origins_used, f.origins_min} or n == 6
    # the accuracy check: skipped under 15 months, shortened to what the history holds
    a = f.accuracy
    if n < 15:
        assert a.origins == 0 and hf.accuracy is None and "too short" in a.note
    else:
        assert a.origins == 1 and a.horizon == n - 12 and hf.accuracy is not None
        assert "instead of 12" in a.note
    # the sentences state exactly that
    text = " ".join([H.method_statement(f), H.backtest_statement(f), H.accuracy_statement(f)])
    assert "refitted at several earlier origins" not in text
    assert f"History: {n} months" in text and "no model has a seasonal part" in text
    assert "at least 10% of the forecast" in text
    if n == 6:
        assert "No backtest" in text and "by rule" in text
    else:
        assert f"{f.origins_used} earlier origin" in text
    if n < 15:
        assert "was skipped" in text
    else:
        assert f"over {n - 12} months" in text


@pytest.mark.parametrize("n", SHORT)
def test_short_hierarchy_intervals_are_finite_and_non_negative(runs, n):
    fc = runs[n].forecast
    bounds = fc[["lo_80", "hi_80", "lo_95", "hi_95"]].to_numpy()
    assert np.isfinite(bounds).all() and np.isfinite(fc["mean"]).all()
    assert (fc["lo_95"] >= 0).all() and (fc["lo_80"] >= fc["lo_95"] - 1e-9).all()
    assert (fc["lo_80"] <= fc["mean"] + 1e-9).all() and (fc["mean"] <= fc["hi_80"] + 1e-9).all()
    tot = fc[fc["level"] == "total"]
    assert len(tot) == 12 and (tot["mean"] > 0).all()
    # the total's 80% interval is at least the floor's width (about +-13%)
    width = (tot["hi_80"] - tot["lo_80"]) / tot["mean"]
    assert (width >= 2 * math.sinh(Z80 * fm.SD_FLOOR) * 0.95).all()


@pytest.mark.parametrize("n", [6, 12, 18])
def test_the_outlook_compares_with_last_year_only_when_the_history_has_it(runs, n):
    hf = runs[n]
    text = H.outlook_statement(hf.forecast, hf.history, "CNY")
    table = H.forecast_by(hf.forecast, hf.history, "region")
    assert list(table.columns) == [
        "region",
        "forecast",
        "before_reconciliation",
        "last_year",
        "growth",
    ]
    assert sorted(table["region"]) == ["华东", "华北"]
    assert f"in the last {min(n, 12)} months" in text
    if n < 12:  # the forecast months a year earlier are before the history: nothing to compare
        assert "no comparison" in text and "a year earlier (" not in text
        assert table["last_year"].isna().all() and table["growth"].isna().all()
    else:  # 12 months or more: the 12 forecast months a year earlier are all in the history
        assert "in the same months a year earlier (" in text
        assert table["last_year"].notna().all()


def test_the_outlook_of_two_years():
    hf = H.forecast_hierarchy(
        short_cube(24, seed=24), "2025-12", 12, engine=_flat_engine, accuracy_origins=0
    )
    text = H.outlook_statement(hf.forecast, hf.history, "CNY")
    assert "in the same months a year earlier (" in text and "no comparison" not in text
    table = H.forecast_by(hf.forecast, hf.history, "region")
    ly = hf.history[(hf.history["level"] == "region") & (hf.history["month"] >= "2025-01-01")]
    want = ly.groupby("region")["value"].sum()
    assert table.set_index("region")["last_year"].to_dict() == pytest.approx(want.to_dict())


def _flat_engine(df, horizon, levels=(80, 95), **_):
    """A stand-in engine: each series' last value, +-10%."""
    rows = []
    for sid, g in df.groupby("series_id"):
        last, v = g["month"].max(), float(g["value"].iloc[-1])
        for k in range(1, horizon + 1):
            r = {"series_id": sid, "month": last + pd.DateOffset(months=k), "mean": v}
            for lv in levels:
                r[f"lo_{lv}"], r[f"hi_{lv}"] = 0.9 * v, 1.1 * v
            rows.append(r | {"model": "naive"})
    fc = pd.DataFrame(rows)
    return SimpleNamespace(
        forecasts=fc, chosen=fc.drop_duplicates("series_id")[["series_id", "model"]]
    )


def test_facts_of_a_long_history_and_with_the_check_off():
    hf = H.forecast_hierarchy(
        short_cube(30, seed=30), "2026-06", 6, detail="cell", n_jobs=1, accuracy_origins=0
    )
    f = hf.facts
    assert f.history_months == 30 and f.short == 0 and f.origins_used >= 1
    assert "snaive" in f.models_run and "naive" not in f.models_run
    assert f.accuracy.origins == 0 and "accuracy_origins is 0" in f.accuracy.note
    assert "--param accuracy_origins=1" in H.accuracy_statement(f)
    assert f"{f.origins_used} earlier origin" in H.backtest_statement(f)
    assert "at least 10%" not in H.method_statement(f)  # no short series: no floor
    d = f.to_dict()
    assert d["cutoff"] == "2026-06" and d["accuracy"]["origins"] == 0


def test_forecast_facts_from_a_stand_in_engine():
    """An engine without the package's columns: the facts count what they can."""
    hist = H.build_series(short_cube(8), "2024-08", detail="cell")
    chosen = pd.DataFrame({"series_id": hist.keys["series_id"], "model": "snaive"})
    f = H.forecast_facts(hist, chosen, None, horizon=3)
    assert f.models_run == ("snaive",) and f.origins_used == 0 and f.modelled == len(chosen)
    assert "History: 8 months" in H.method_statement(f)


# --------------------------------------------------------------------------- parameters


def test_forecast_parameters_take_the_plans_settings_unless_set():
    fs = SimpleNamespace(
        horizon=9, levels=(80, 95), accuracy_origins=0, method="fast", detail="cell"
    )
    plan = SimpleNamespace(forecast=fs)
    p = H.forecast_parameters(plan=plan)
    assert (p.horizon, p.accuracy_origins, p.method, p.detail) == (9, 0, "fast", "cell")
    p = H.forecast_parameters(plan=plan, accuracy_origins=2, method="default", detail="bottom")
    assert (p.accuracy_origins, p.method, p.detail) == (2, "default", "bottom")
    p = H.forecast_parameters()  # no plan: the built-in defaults
    assert (p.horizon, p.accuracy_origins, p.method, p.detail) == (12, 1, "default", "bottom")
    with pytest.raises(H.HierarchyError) as e:
        H.forecast_parameters(method="quick")
    fix = e.value.render()
    assert "forecast.method in plan.yaml" in fix and "--param method=" in fix


# --------------------------------------------------------------------------- targets


def _plan(**over):
    d = {
        "fiscal_year": 2025,
        "plan_cutoff": "2024-12",
        "targets": {"revenue": {"value": 100_000.0}, "customers": {"value": 20}},
        "allocation": {"key_weights": {"history": 0.5, "forecast": 0.3, "equal": 0.2}},
        "rounding": {"revenue": 100, "customers": 1},
    }
    d.update(over)
    return plan_from_dict(d)


def _five_months() -> dict[str, pd.DataFrame]:
    """The test company of tests/test_decompose.py, selling from 2024-08 only."""
    w = make_world(years=(2024,))
    for k in ("cube", "customers"):
        w[k] = w[k][w[k]["month"] >= "2024-08-01"].reset_index(drop=True)
    return w


def test_under_six_months_the_plan_gets_no_forecast_and_history_takes_its_weight(monkeypatch):
    w = _five_months()
    plan = _plan()

    def no_call(*a, **k):  # pragma: no cover - must not be reached
        raise AssertionError("no forecast may be attempted")

    monkeypatch.setattr(H, "forecast_hierarchy", no_call)
    fc, source, new = forecast_for_plan(w["cube"], plan, None, reps=w["reps"])
    assert fc is None and not new
    assert "no forecast could be made from the plan cutoff 2024-12" in source
    assert "5 months of sales" in source and "at least 6" in source

    cells = plan_cells(w["cube"], w["market"], None, plan_windows(plan), plan)
    keys = allocation_keys(cells, 100_000.0, plan)
    assert keys.weights == {"history": 0.8, "forecast": 0.0, "potential": 0.0, "equal": 0.2}
    assert any("weight (30%) is moved to the history key (50% -> 80%)" in n for n in keys.notes)
    notes = step_notes(plan, False)
    assert "(with the forecast key's 30%: no forecast)" in notes["key_history"]
    assert notes["key_forecast"].startswith("weight 0%")

    dec = decompose(w["cube"], w["customers"], w["reps"], w["market"], None, plan)
    assert dec.targets["target_revenue_no_cushion"].sum() == pytest.approx(100_000.0)
    detail = " ".join(dec.checks["detail"].astype(str))
    assert "moved to the history key" in detail
    assert dec.feasibility.empty
    # no full calendar year of history: the months are phased evenly, not left at 0
    assert "spread evenly over the plan months" in detail
    by_month = dec.targets.groupby("month")[["target_revenue_no_cushion", "target_customers"]]
    sums = by_month.sum()
    assert len(sums) == 12 and (sums["target_revenue_no_cushion"] > 0).all()
    assert sums["target_revenue_no_cushion"].max() - sums["target_revenue_no_cushion"].min() <= 200
    assert sums["target_customers"].sum() == 20 and (sums["target_customers"] >= 1).all()


def test_a_plan_without_forecast_weight_keeps_its_weights():
    w = _five_months()
    plan = _plan(allocation={"key_weights": {"history": 0.8, "equal": 0.2}})
    cells = plan_cells(w["cube"], w["market"], None, plan_windows(plan), plan)
    assert not cells.coverage.complete
    keys = allocation_keys(cells, 1.0, plan)
    assert keys.weights == plan.allocation.key_weights.as_dict() and keys.notes == ()
