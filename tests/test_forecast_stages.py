"""The stages of the forecast step, one at a time: the per-series method
(``salesanalysis.forecast._models``: classify -> prepare -> fit -> backtest -> select -> final
fit -> interval) and the hierarchy (series, reconciliation, the engine call)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from salesanalysis.errors import InputError
from salesanalysis.forecast import _models as fm
from salesanalysis.forecast.hierarchy import base_forecasts
from salesanalysis.forecast.reconcile import (
    BaseGrid,
    base_grid,
    means_to_reconcile,
    reconciled_means,
)
from salesanalysis.forecast.series import (
    HierarchyError,
    bottom_history,
    build_series,
    constraints,
    level_rollups,
)

PATTERN = np.array([80.0, 90, 100, 120, 130, 125, 110, 100, 95, 90, 85, 105])
PERIODIC = np.tile(PATTERN, 4)  # 48 months, exactly seasonal


def settings(models=fm.ALL_MODELS, method="default", horizon=12, n_origins=3) -> fm.Settings:
    return fm.Settings(horizon, (80, 95), 12, tuple(models), n_origins, method)


# --------------------------------------------------------------------------- per series


def test_classify_trims_a_late_start_and_flags_unmodelled_series():
    s = settings()
    y, flat = fm.classify(np.r_[0.0, 0.0, PERIODIC], s)
    assert flat is None and np.array_equal(y, PERIODIC)

    _, zero = fm.classify(np.zeros(10), s)
    assert (zero.model, zero.reason, zero.n_obs) == ("zero", "all zero", 10)

    y, stopped = fm.classify(np.r_[0.0, np.full(10, 5.0), np.zeros(7)], s)
    assert len(y) == 17 and stopped.n_obs == 17
    assert (stopped.model, stopped.reason) == ("stopped", "no sales in the last 7 months")
    assert np.array_equal(stopped.median(), np.zeros(12))

    _, short = fm.classify(np.array([0.0, 2.0, 4.0, 6.0]), s)
    assert (short.model, short.reason) == ("mean", "only 3 months")
    assert np.allclose(short.median(), 4.0)
    # sd of 2, 4, 6 is 2, widened for the estimated mean: 2 * sqrt(1 + 1/3)
    assert short.sd_t[0] == pytest.approx(2.0 * math.sqrt(4 / 3))


def test_prepare_places_origins_after_two_seasons_of_a_seasonal_history():
    p = fm.prepare(PERIODIC, settings())
    assert p.log and p.nonneg and p.n == 48 and p.m_eff == 12 and not p.fast
    assert np.allclose(p.yt, np.log(PERIODIC))
    assert p.cap == pytest.approx(math.log(130.0) + math.log(1000.0))
    assert p.p_zero == 0.0
    # seasonal: the first origin leaves 2 seasons + 2 months; 3 origins 4 months apart
    assert p.origins == (28, 32, 36) and p.h_bt == 12 and p.first == 28
    assert p.seasonal and p.full_seasonal_ok

    fast = fm.prepare(PERIODIC, settings(method="fast"))
    assert fast.fast and fast.origins == (36,)

    mixed = fm.prepare(np.array([3.0, 0.0, -1.0, 4.0, 5.0, 0.0, 2.0, 1.0]), settings(horizon=6))
    assert not mixed.log and not mixed.nonneg and mixed.cap == np.inf
    assert mixed.p_zero == pytest.approx(2 / 8)
    assert mixed.m_eff == 1 and not mixed.seasonal
    assert mixed.origins == (6,) and mixed.h_bt == 2  # too short for a seasonal model


def test_candidate_set():
    c = fm.candidate_set(settings(("ets", "combo")))
    # one model requested: the combination is of all four; the baseline is always scored
    assert c.base == ("ets", "snaive", "theta", "arima")
    assert c.eligible == {"ets", "combo_median"} and c.combo
    assert c.combo_members == fm.BASE_MODELS

    fast = fm.candidate_set(settings(("ets", "theta", "combo"), method="fast"))
    assert fast.base == ("snaive", "ets") and fast.combo_members == ("ets", "theta")

    only = fm.candidate_set(settings(("arima",)))
    assert only.base == ("snaive", "arima") and only.eligible == {"arima"} and not only.combo


def test_fit_candidates_estimates_at_the_first_origin_only_what_fits():
    st = fm.Stats()
    p = fm.prepare(PERIODIC, settings())
    fitted = fm.fit_candidates(p, fm.candidate_set(settings(("snaive", "theta"))), st)
    assert fitted == {
        "snaive": fm.Fitted("snaive", "snaive"),
        "theta": fm.Fitted("theta", "theta", (True,)),
    }
    assert st.fits == {}  # neither is estimated here

    fitted = fm.fit_candidates(p, fm.candidate_set(settings(("ets",))), st)
    assert list(fitted) == ["snaive", "ets"] and fitted["ets"].spec[2] == "add"  # seasonal
    assert st.fits == {"ets": 2}  # the two seasonal ETS forms, on the first 28 months

    short = fm.prepare(np.arange(1.0, 7.0), settings())  # 6 months: no backtest origin
    assert short.origins == () and fm.fit_candidates(short, fm.candidate_set(settings()), st) == {}


def test_backtest_scores_the_seasonal_naive_of_a_periodic_series_as_exact():
    p = fm.prepare(PERIODIC, settings())
    cands = fm.candidate_set(settings(("snaive",)))
    bt = fm.backtest(p, cands, fm.fit_candidates(p, cands, fm.Stats()), fm.Stats())
    assert list(bt.preds) == ["snaive"] and len(bt.preds["snaive"]) == 3
    assert np.allclose(
        bt.preds["snaive"][0][0], np.log(PATTERN[4:].tolist() + PATTERN[:4].tolist())
    )
    (row,) = bt.rows
    assert (row["candidate"], row["model"], row["n_origins"], row["h_backtest"]) == (
        "snaive",
        "snaive",
        3,
        12,
    )
    for score in ("mase", "mae", "rmse", "mape", "smape"):
        assert row[score] == pytest.approx(0.0, abs=1e-9)


def test_score_candidates_known_errors():
    p = fm.prepare(np.full(12, 10.0), settings(horizon=2))
    assert p.origins == (8, 9, 10) and p.h_bt == 2
    preds = {"x": [(np.log(np.full(2, 12.0)), np.zeros(2))] * 3}  # 12 for an actual of 10
    (row,) = fm.score_candidates(p, {}, preds)
    # MASE scale: the series is constant, so the mean absolute value (10)
    assert row["mae"] == pytest.approx(2.0) and row["mase"] == pytest.approx(0.2)
    assert row["mape"] == pytest.approx(20.0) and row["smape"] == pytest.approx(200 * 2 / 22)
    assert row["model"] == "x" and row["h_backtest"] == 2


def _bt(scores: dict[str, float]) -> fm.Backtest:
    rows = [{"candidate": c, "mase": v} for c, v in scores.items()]
    return fm.Backtest({}, {c: [] for c in scores}, rows)


def test_select_model_reasons():
    p = fm.prepare(PERIODIC, settings())
    cands = fm.candidate_set(settings())
    ch = fm.select_model(p, cands, _bt({"ets": 0.4, "combo_median": 1.0}), fm.Stats())
    assert (ch.name, ch.reason) == ("ets", "backtest MASE below 0.5 x the combination's")
    ch = fm.select_model(p, cands, _bt({"ets": 0.6, "combo_median": 1.0}), fm.Stats())
    assert ch.name == "combo_median"
    assert (
        ch.reason == "combination of the candidates (no single model had half its backtest MASE)"
    )
    ets_only = fm.candidate_set(settings(("ets",)))
    ch = fm.select_model(p, ets_only, _bt({"snaive": 1.0}), fm.Stats())
    assert (ch.name, ch.reason) == (
        "snaive",
        "the requested models could not be estimated; seasonal naive",
    )
    ch = fm.select_model(p, ets_only, _bt({"ets": 2.0, "snaive": 1.0}), fm.Stats())
    assert (ch.name, ch.reason) == ("ets", "lowest backtest MASE of the requested models")

    short = fm.prepare(np.array([4.0, 5.0, 6.0, 5.0, 4.0]), settings())
    ch = fm.select_model(short, cands, fm.Backtest({}, {}, []), fm.Stats())
    assert (ch.name, ch.reason) == ("snaive", "too short to backtest; rule-based choice")
    assert ch.fitted == {"snaive": fm.Fitted("snaive", "naive")}  # shorter than a season


def test_final_forecast_and_calibrated_interval():
    p = fm.prepare(PERIODIC, settings())
    cands = fm.candidate_set(settings(("snaive",)))
    bt = fm.backtest(p, cands, fm.fit_candidates(p, cands, fm.Stats()), fm.Stats())
    final = fm.final_forecast(p, bt, fm.select_model(p, cands, bt, fm.Stats()), fm.Stats())
    assert (final.name, final.label) == ("snaive", "snaive")
    assert np.allclose(np.exp(final.mean_t), PATTERN) and np.array_equal(final.sd_t, np.zeros(12))

    # every backtest error 2 sd: mean square 4 per origin, shrunk with one prior origin at 1
    sd = np.full(12, 0.1)
    preds = [(p.yt[o : o + 12] - 2 * sd, sd) for o in p.origins]
    bt2 = fm.Backtest({}, {"snaive": preds}, [])
    band = fm.calibrate_interval(p, bt2, fm.FinalForecast("snaive", "", "", final.mean_t, sd))
    assert band.scale_factor == pytest.approx(math.sqrt((3 * 4 + 1) / (3 + 1)))
    assert np.allclose(band.sd_t, 0.1 * band.scale_factor)
    # leave-one-origin-out: the other two origins give sqrt((8 + 1) / 3)
    assert band.zabs.shape == (36,) and np.allclose(band.zabs, 2 / math.sqrt(3))

    none = fm.calibrate_interval(p, bt2, fm.FinalForecast("ets", "", "", final.mean_t, sd))
    assert none.scale_factor == 1.0 and none.zabs.size == 0  # no backtest of the chosen model


def test_forecast_series_runs_the_stages():
    out = fm.forecast_series(np.r_[0.0, PERIODIC], settings(("snaive",)), fm.Stats())
    assert (out.model, out.reason) == ("snaive", "lowest backtest MASE of the requested models")
    assert out.n_obs == 48 and out.seasonal and out.log and out.scale_factor == 1.0
    assert np.allclose(out.median(), PATTERN)
    assert [r["chosen"] for r in out.backtest] == [True]


# --------------------------------------------------------------------------- hierarchy


def tiny_cube() -> pd.DataFrame:
    """Two regions with one rep each; one line, one customer type; 2024-01 .. 2024-04."""
    rows = []
    for i, m in enumerate(pd.date_range("2024-01-01", periods=4, freq="MS")):
        rows.append(("N", "R1", m, 10.0 + i))
        rows.append(("S", "R2", m, 20.0))
        rows.append(("S", "R2", m, 1.0))  # a second row of the same cell and month
    df = pd.DataFrame(rows, columns=["region", "rep_id", "month", "revenue"])
    return df.assign(product_line="P", customer_type="T")


def test_bottom_history_sums_rows_up_to_the_cutoff():
    h = bottom_history(tiny_cube(), pd.Timestamp("2024-02-01"), "revenue")
    assert list(h.columns) == ["region", "product_line", "customer_type", "rep_id", "month"] + [
        "value"
    ]
    assert h["value"].tolist() == [10.0, 11.0, 21.0, 21.0]
    assert h["month"].max() == pd.Timestamp("2024-02-01")
    with pytest.raises(InputError, match="no sales history up to 2023-12"):
        bottom_history(tiny_cube(), pd.Timestamp("2023-12-01"), "revenue")


def test_level_rollups_and_constraints():
    bottom = bottom_history(tiny_cube(), pd.Timestamp("2024-04-01"), "revenue")
    bottom = bottom[["region", "product_line", "customer_type", "rep_id"]].drop_duplicates()
    keys, rollup = level_rollups(bottom.reset_index(drop=True), "bottom")
    assert keys["level"].value_counts().to_dict() == {
        "total": 1,
        "region": 2,
        "product_line": 1,
        "customer_type": 1,
        "cell": 2,
        "rep": 2,
        "bottom": 2,
    }
    assert keys["series_id"].iloc[:3].tolist() == ["total/00000", "region/00000", "region/00001"]
    assert rollup.shape == (11, 2) and rollup.toarray()[0].tolist() == [1.0, 1.0]

    tie = constraints(keys, rollup, "bottom")
    assert tie.matrix.shape == (9, 11) and tie.leaves.sum() == 2 and tie.rep_region is None

    keys_c, rollup_c = level_rollups(bottom.reset_index(drop=True), "cell")
    tie_c = constraints(keys_c, rollup_c, "cell")
    # total, 2 regions, a line and a type from the cells (5); 2 regions from their reps
    assert tie_c.matrix.shape == (7, 9) and tie_c.rep_region.toarray().tolist() == [
        [1.0, 0.0],
        [0.0, 1.0],
    ]
    s = build_series(tiny_cube(), "2024-04", detail="cell")
    assert np.abs(s.constraints @ s.values).max() == 0.0
    assert s.values[0].tolist() == [31.0, 32.0, 33.0, 34.0]


def base_frame(series, horizon=2, median=False) -> pd.DataFrame:
    rows = []
    months = pd.date_range(series.cutoff + pd.DateOffset(months=1), periods=horizon, freq="MS")
    for i, sid in enumerate(series.keys["series_id"]):
        for m in months:
            r = {"series_id": sid, "month": m, "mean": 10.0 + i, "model": "m"}
            r["lo_80"], r["hi_80"] = 5.0 + i, 15.0 + i
            if median:
                r["median"] = 9.0 + i
            rows.append(r)
    return pd.DataFrame(rows)


def test_base_grid_and_means_to_reconcile():
    s = build_series(tiny_cube(), "2024-04")
    base = base_frame(s, median=True)
    off = np.zeros((11, 2), bool)
    off[1, 1] = True
    inactive = np.zeros(11, bool)
    inactive[-1] = True
    grid = base_grid(s, base, (80,), inactive=inactive, off_months=off)
    assert isinstance(grid, BaseGrid) and grid.months[0] == pd.Timestamp("2024-05-01")
    assert grid.point[0].tolist() == [9.0, 9.0] and grid.point[1].tolist() == [10.0, 0.0]
    assert grid.point[-1].tolist() == [0.0, 0.0] and grid.model[-1] == "inactive"
    assert grid.bounds[80][1][0].tolist() == [15.0, 15.0]

    mean = means_to_reconcile(grid, np.zeros(11, bool))
    assert mean[0].tolist() == [10.0, 10.0] and mean[1].tolist() == [11.0, 0.0]
    assert mean[-1].tolist() == [0.0, 0.0]
    assert means_to_reconcile(grid, np.zeros(11, bool), False) is grid.point

    with pytest.raises(HierarchyError, match="left 1 series-months without a forecast"):
        base_grid(s, base.iloc[1:], (80,))


def test_reconciled_means_ols_is_the_orthogonal_projection():
    s = build_series(tiny_cube(), "2024-04")
    grid = base_grid(s, base_frame(s), (80,))
    mean = means_to_reconcile(grid, np.zeros(11, bool))
    rec = reconciled_means(s, grid, mean, "ols")
    c = s.constraints.toarray()
    proj = mean - c.T @ np.linalg.solve(c @ c.T, c @ mean)
    assert rec.method == "ols" and rec.shrinkage is None and not rec.zeroed.any()
    assert np.allclose(rec.values, proj, atol=1e-9)
    assert np.abs(c @ rec.values).max() < 1e-9

    none = reconciled_means(s, grid, mean, "none")
    assert none.method == "none" and np.array_equal(none.values, mean)
    # four months of history: too few for MinT's residuals, so WLS on the interval widths
    assert reconciled_means(s, grid, mean, "mint_shrink").method == "wls_var"


def test_base_forecasts_passes_what_the_engine_takes():
    s = build_series(tiny_cube(), "2024-04", detail="cell")
    seen = {}

    def engine(df, horizon, levels, *, n_origins=3, models=None, calibration_groups=None):
        seen.update(
            ids=sorted(df["series_id"].unique()),
            horizon=horizon,
            levels=levels,
            n_origins=n_origins,
            models=models,
            groups=calibration_groups,
        )
        fc = pd.DataFrame({"series_id": ["total/00000"], "month": [0], "model": ["x"]})
        return SimpleNamespace(forecasts=fc)

    active = np.zeros(len(s.keys), bool)
    active[:2] = True
    base = base_forecasts(
        engine, s, active, 3, [80], n_origins=None, models=("ets",), season_length=12
    )
    assert seen["ids"] == ["region/00000", "total/00000"]
    assert (seen["horizon"], seen["levels"], seen["n_origins"]) == (3, (80,), 3)  # None: default
    assert seen["models"] == ["ets"] and seen["groups"]["rep/00001"] == "rep"
    assert base.chosen.to_dict("list") == {"series_id": ["total/00000"], "model": ["x"]}
    assert base.backtest is None and base.coverage is None and base.warnings is None
