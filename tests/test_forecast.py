"""Tests of the forecast engine (salesanalysis.forecast.engine)."""

from __future__ import annotations

import warnings
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesanalysis import forecast as fc
from salesanalysis.errors import InputError

START = pd.Timestamp("2021-01-01")


def _frame(series: dict[str, np.ndarray | list[float]], start=START) -> pd.DataFrame:
    parts = []
    for sid, values in series.items():
        values = np.asarray(values, dtype=float)
        months = pd.date_range(start, periods=len(values), freq="MS")
        parts.append(pd.DataFrame({"series_id": sid, "month": months, "value": values}))
    return pd.concat(parts, ignore_index=True)


def _seasonal(n: int = 60, seed: int = 0, level: float = 1000.0, noise: float = 0.05):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    pattern = 1 + 0.35 * np.sin(2 * np.pi * t / 12) + 0.15 * np.cos(4 * np.pi * t / 12)
    return level * (1 + 0.004 * t) * pattern * np.exp(rng.normal(0, noise, n)), pattern


def _check_bounds(out: pd.DataFrame, levels=(80, 95)) -> None:
    vals = out[["mean"] + [f"{s}_{lv}" for lv in levels for s in ("lo", "hi")]].to_numpy()
    assert np.all(np.isfinite(vals))
    lo = [out[f"lo_{lv}"].to_numpy() for lv in sorted(levels, reverse=True)]
    hi = [out[f"hi_{lv}"].to_numpy() for lv in sorted(levels)]
    # lo_95 <= lo_80 <= median <= mean <= hi_80 <= hi_95
    chain = lo + [out["median"].to_numpy(), out["mean"].to_numpy()] + hi
    for a, b in zip(chain, chain[1:], strict=False):
        assert np.all(a <= b + 1e-9 * (1 + np.abs(b)))


# --------------------------------------------------------------------------------------------
# schema, ordering, determinism


@pytest.fixture(scope="module")
def basic():
    y1, _ = _seasonal(60, seed=1)
    y2, _ = _seasonal(48, seed=2, level=50.0)
    df = _frame({"A": y1, "B": y2}, start=START).sort_values(["month", "series_id"])
    return df, fc.run_forecast(df, 12, n_jobs=1)


def test_output_schema(basic):
    df, res = basic
    out = res.forecasts
    assert list(out.columns) == [
        "series_id",
        "month",
        "mean",
        "median",
        "lo_80",
        "hi_80",
        "lo_95",
        "hi_95",
        "model",
    ]
    assert len(out) == 2 * 12
    assert pd.api.types.is_datetime64_any_dtype(out["month"])
    assert pd.api.types.is_string_dtype(out["series_id"])
    assert pd.api.types.is_string_dtype(out["model"])
    # B ends earlier (48 months) but every series is forecast from the last month of the frame
    last = df["month"].max()
    for _, g in out.groupby("series_id"):
        expected = pd.date_range(last + pd.offsets.MonthBegin(1), periods=12, freq="MS")
        assert list(g["month"]) == list(expected)
    # the other tables
    assert set(res.chosen["series_id"]) == {"A", "B"}
    assert {"series_id", "candidate", "model", "mase", "chosen"} <= set(res.backtest.columns)
    assert res.backtest.groupby("series_id")["chosen"].sum().eq(1).all()
    assert "snaive" in set(res.backtest["candidate"])
    assert list(res.coverage["level"]) == [80, 95]
    assert res.coverage["empirical"].between(0, 1).all()
    assert (res.warnings["fits"] > 0).all()
    # the chosen model's label is the same in forecasts, chosen and backtest
    ch = res.chosen.set_index("series_id")["model"]
    assert (out.drop_duplicates("series_id").set_index("series_id")["model"] == ch).all()


def test_bounds_are_ordered(basic):
    _check_bounds(basic[1].forecasts)


def test_deterministic(basic):
    df, res = basic
    again = fc.run_forecast(df.sample(frac=1, random_state=3), 12, n_jobs=1)
    pd.testing.assert_frame_equal(res.forecasts, again.forecasts)
    pd.testing.assert_frame_equal(res.backtest, again.backtest)


def test_intervals_widen_with_horizon():
    y, _ = _seasonal(60, seed=4)
    rng = np.random.default_rng(5)
    z = np.cumsum(rng.normal(0, 10, 60))  # crosses zero: additive (raw-scale) models
    res = fc.run_forecast(_frame({"pos": y, "signed": z}), 18, n_jobs=1)
    out = res.forecasts.set_index("series_id")
    pos = out.loc["pos"]
    assert res.chosen.set_index("series_id").loc["pos", "transform"] == "log"
    # log-scale models: the ratio hi/lo (width on the log scale) never shrinks
    for lv in (80, 95):
        w = np.log(pos[f"hi_{lv}"].to_numpy()) - np.log(pos[f"lo_{lv}"].to_numpy())
        assert np.all(np.diff(w) >= -1e-9)
        assert w[-1] > w[0]
    signed = out.loc["signed"]
    for lv in (80, 95):
        w = signed[f"hi_{lv}"].to_numpy() - signed[f"lo_{lv}"].to_numpy()
        assert np.all(np.diff(w) >= -1e-9)
        assert w[-1] > w[0]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.one_of(st.just(0.0), st.floats(-50, 500, allow_nan=False, width=32)),
        min_size=1,
        max_size=30,
    ),
    horizon=st.integers(1, 8),
)
def test_any_series_gives_ordered_finite_bounds(values, horizon):
    res = fc.run_forecast(_frame({"x": values}), horizon, n_jobs=1, method="fast")
    out = res.forecasts
    assert len(out) == horizon
    _check_bounds(out)
    if min(values) >= 0:  # never negative history: no negative forecasts
        assert (out["lo_95"] >= 0).all()


# --------------------------------------------------------------------------------------------
# awkward series


@pytest.fixture(scope="module")
def awkward():
    n = 60
    rng = np.random.default_rng(11)
    base, _ = _seasonal(n, seed=12, level=200.0)
    shift = base.copy()
    shift[40:] *= 3.0  # level shift
    intermittent = np.where(rng.random(n) < 0.7, 0.0, rng.integers(1, 5, n).astype(float))
    negative = base.copy()
    negative[[10, 25, 47]] = [-80.0, -40.0, -120.0]  # months with net returns
    series = {
        "short18": base[-18:],
        "tiny1": [42.0],
        "tiny3": [5.0, 7.0, 6.0],
        "zeros": np.zeros(n),
        "intermittent": intermittent,
        "negative": negative,
        "shift": shift,
        "late": np.concatenate([np.zeros(30), base[30:]]),  # leading zeros
        "full": base,
    }
    # every series ends in the same (last) month, except "stopped"
    df = pd.concat(
        [
            _frame({k: v}, start=START + pd.DateOffset(months=n - len(v)))
            for k, v in series.items()
        ],
        ignore_index=True,
    )
    # a series that stopped: its rows end 12 months before the others
    stopped = _frame({"stopped": base[:48]})
    # a series that starts late by its first row
    late_rows = _frame({"late_rows": base[36:]}, start=START + pd.DateOffset(months=36))
    df = pd.concat([df, stopped, late_rows], ignore_index=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fc.run_forecast(df, 12, n_jobs=1)
    return res, caught


def _rows(res, sid):
    return res.forecasts[res.forecasts["series_id"] == sid]


def _chosen(res, sid):
    return res.chosen.set_index("series_id").loc[sid]


def test_awkward_series_do_not_crash_and_are_ordered(awkward):
    res, _ = awkward
    assert res.forecasts["series_id"].nunique() == 11
    _check_bounds(res.forecasts)


def test_short_history_has_no_seasonal_model(awkward):
    res, _ = awkward
    ch = _chosen(res, "short18")
    assert not ch["seasonal"]
    fitted = res.backtest[res.backtest["series_id"] == "short18"]["model"]
    assert not fitted.str.contains(r"ets\(A,(?:N|Ad),A\)|\)12").any()


def test_very_short_series(awkward):
    res, _ = awkward
    one = _rows(res, "tiny1")
    assert np.allclose(one["mean"], 42.0)
    assert (one["hi_95"] > one["lo_95"]).all()
    three = _rows(res, "tiny3")
    assert np.allclose(three["mean"], 6.0)
    assert _chosen(res, "tiny3")["model"] == "mean"


def test_all_zero(awkward):
    res, _ = awkward
    z = _rows(res, "zeros")
    assert (z[["mean", "lo_80", "hi_80", "lo_95", "hi_95"]].to_numpy() == 0).all()
    assert _chosen(res, "zeros")["model"] == "zero"


def test_intermittent(awkward):
    res, _ = awkward
    r = _rows(res, "intermittent")
    assert (r["lo_95"] >= 0).all() and (r["mean"] >= 0).all()
    assert r["mean"].mean() < 5
    assert _chosen(res, "intermittent")["transform"] == "none"


def test_negative_months(awkward):
    res, _ = awkward
    assert _chosen(res, "negative")["transform"] == "none"
    r = _rows(res, "negative")
    assert r["mean"].mean() > 0


def test_level_shift_follows_new_level(awkward):
    res, _ = awkward
    r = _rows(res, "shift")
    base = _rows(res, "full")
    assert r["mean"].sum() > 2.0 * base["mean"].sum()


def test_late_start(awkward):
    res, _ = awkward
    assert _chosen(res, "late")["n_obs"] == 30
    assert _chosen(res, "late_rows")["n_obs"] == 24
    a, b = _rows(res, "late"), _rows(res, "full")
    assert np.isclose(a["mean"].sum(), b["mean"].sum(), rtol=0.3)


def test_stopped_series_forecasts_zero(awkward):
    res, _ = awkward
    r = _rows(res, "stopped")
    assert (r["mean"] == 0).all()
    assert _chosen(res, "stopped")["model"] == "stopped"


def test_warnings_are_counted_not_shown(awkward):
    res, caught = awkward
    assert [str(w.message) for w in caught] == []
    summary = res.warning_summary()
    for model in ("ets", "arima", "theta"):
        assert model in summary
    assert res.warnings["fits"].sum() > 0


def test_warnings_from_a_failing_optimiser_are_recorded():
    from salesanalysis.forecast import _models as fm

    stats = fm.Stats()

    def noisy():
        from statsmodels.tools.sm_exceptions import ConvergenceWarning

        warnings.warn("did not converge", ConvergenceWarning, stacklevel=1)
        return 1

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert stats.run("ets", noisy) == 1
        assert stats.run("ets", lambda: 1 / 0) is None
    assert caught == []
    assert stats.warns == {"ets": {"ConvergenceWarning": 1}}
    assert stats.fails == {"ets": 1} and stats.fits == {"ets": 2}


# --------------------------------------------------------------------------------------------
# accuracy on a series with known seasonality


def test_known_seasonality_is_recovered():
    n, h = 72, 12
    y, pattern = _seasonal(n + h, seed=21, noise=0.04)
    truth = (1000.0 * (1 + 0.004 * np.arange(n + h)) * pattern)[n:]
    res = fc.run_forecast(_frame({"s": y[:n]}), h, n_jobs=1)
    mean = res.forecasts["mean"].to_numpy()
    assert _chosen(res, "s")["seasonal"]
    assert np.corrcoef(mean, pattern[n:])[0, 1] > 0.95
    snaive = y[n - 12 : n]
    assert np.mean(np.abs(mean - truth)) < np.mean(np.abs(snaive - truth))


# --------------------------------------------------------------------------------------------
# options, validation, executors


def test_levels_models_and_fast_method():
    y, _ = _seasonal(48, seed=7)
    res = fc.run_forecast(_frame({"s": y}), 6, levels=(90,), models=["ets"], n_jobs=1)
    assert {"lo_90", "hi_90"} <= set(res.forecasts.columns)
    assert set(res.backtest["candidate"]) <= {"snaive", "ets"}
    fast = fc.run_forecast(_frame({"s": y}), 6, n_jobs=1, method="fast")
    assert (fast.backtest["n_origins"] == 1).all()
    assert "theta" not in set(fast.backtest["candidate"])
    _check_bounds(fast.forecasts)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"horizon": 0},
        {"levels": (80, 120)},
        {"models": ["prophet"]},
        {"method": "turbo"},
        {"n_origins": 0},
        {"n_jobs": 0},
    ],
)
def test_bad_arguments_raise_input_error(kwargs):
    args = {"horizon": 3, **kwargs}
    with pytest.raises(InputError):
        fc.run_forecast(_frame({"s": [1.0, 2.0, 3.0]}), **args)


def test_bad_frames_raise_input_error():
    with pytest.raises(InputError, match="lacks"):
        fc.forecast(pd.DataFrame({"series_id": ["a"], "value": [1.0]}), 3)
    dup = _frame({"s": [1.0, 2.0]})
    dup = pd.concat([dup, dup.iloc[:1]])
    with pytest.raises(InputError) as info:
        fc.forecast(dup, 3)
    assert "more than one row" in info.value.render()
    nan = _frame({"s": [1.0, np.nan, 2.0]})
    with pytest.raises(InputError, match="invalid"):
        fc.forecast(nan, 3)


def test_empty_frame_gives_empty_result():
    empty = pd.DataFrame({"series_id": [], "month": pd.to_datetime([]), "value": []})
    out = fc.forecast(empty, 4)
    assert out.empty and "lo_95" in out.columns


def test_process_pool_matches_in_process():
    series = {f"s{i}": _seasonal(40, seed=30 + i)[0] for i in range(4)}
    df = _frame(series)
    local = fc.run_forecast(df, 6, n_jobs=1, method="fast")
    pooled = fc.run_forecast(df, 6, n_jobs=2, method="fast")
    pd.testing.assert_frame_equal(local.forecasts, pooled.forecasts)


def test_dask_local_cluster_matches_in_process():
    distributed = pytest.importorskip("distributed")
    series = {f"s{i}": _seasonal(40, seed=40 + i)[0] for i in range(3)}
    df = _frame(series)
    local = fc.run_forecast(df, 6, n_jobs=1, method="fast")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        remote = fc.run_forecast(df, 6, method="fast", scheduler=cluster.scheduler_address)
    pd.testing.assert_frame_equal(local.forecasts, remote.forecasts)
    assert remote.warnings["fits"].sum() == local.warnings["fits"].sum()


def test_mean_is_the_expected_value_of_log_scale_forecasts():
    """Positive series are modelled on the log scale: ``median`` is exp(mu) and ``mean`` is
    exp(mu + sigma^2 / 2), sigma read back from the 80% interval and capped at 0.5; a series
    with zero months is modelled on the raw scale, where mean == median."""
    y, _ = _seasonal(60, seed=3)
    z = y.copy()
    z[[5, 17, 30]] = 0.0
    res = fc.run_forecast(_frame({"pos": y, "zeros": z}, start=START), 12, n_jobs=1)
    out = res.forecasts.set_index("series_id")
    transform = res.chosen.set_index("series_id")["transform"]
    assert transform["pos"] == "log" and transform["zeros"] == "none"
    p = out.loc["pos"]
    sigma = (np.log(p["hi_80"]) - np.log(p["lo_80"])) / (2 * NormalDist().inv_cdf(0.9))
    expected = p["median"] * np.exp(np.minimum(sigma, 0.5) ** 2 / 2)
    np.testing.assert_allclose(p["mean"], expected, rtol=1e-9)
    assert (p["mean"] > p["median"]).all()
    q = out.loc["zeros"]
    np.testing.assert_array_equal(q["mean"].to_numpy(), q["median"].to_numpy())


def test_intermittent_series_interval_reaches_zero():
    """A month without sales is inside the interval when such months are common enough: the
    80% interval's lower bound is 0 once at least 10% of the last 24 months were zero (the 95%
    interval's at 2.5%); a series that always sold keeps a positive lower bound."""
    rng = np.random.default_rng(7)
    n = 60
    sparse = rng.gamma(4.0, 50.0, n) * (rng.random(n) > 0.35)  # ~35% zero months
    sparse[-24:][[0, 5, 9, 14, 20]] = 0.0  # at least 5/24 recent zeros
    rare = rng.gamma(20.0, 50.0, n)
    rare[-24:][3] = 0.0  # one zero in 24 months: ~4% (>= 2.5%, < 10%)
    steady, _ = _seasonal(n, seed=8)
    res = fc.run_forecast(_frame({"sparse": sparse, "rare": rare, "steady": steady}), 12, n_jobs=1)
    out = res.forecasts.set_index("series_id")
    assert (out.loc["sparse", "lo_80"] == 0).all() and (out.loc["sparse", "lo_95"] == 0).all()
    assert (out.loc["sparse", "hi_80"] > 0).all()
    assert (out.loc["rare", "lo_95"] == 0).all()
    assert (out.loc["rare", "lo_80"] > 0).any()
    assert (out.loc["steady", "lo_80"] > 0).all() and (out.loc["steady", "lo_95"] > 0).all()


def test_calibration_groups_calibrate_each_group_on_its_own():
    """With ``calibration_groups`` a series' interval depends only on the series of its group:
    the same as forecasting that group alone. Without groups, the noisy group widens (or
    narrows) the quiet group's intervals through the shared run-wide multiplier."""
    quiet = {f"q{i}": _seasonal(60, seed=100 + i, noise=0.03)[0] for i in range(6)}
    rng = np.random.default_rng(5)
    noisy = {
        f"n{i}": _seasonal(60, seed=200 + i, noise=0.03)[0] * np.exp(rng.standard_t(2, 60) * 0.2)
        for i in range(6)
    }
    both = _frame({**quiet, **noisy})
    groups = {**{k: "quiet" for k in quiet}, **{k: "noisy" for k in noisy}}
    grouped = fc.run_forecast(both, 12, n_jobs=1, calibration_groups=groups).forecasts
    alone = fc.run_forecast(_frame(quiet), 12, n_jobs=1).forecasts
    cols = ["mean", "median", "lo_80", "hi_80", "lo_95", "hi_95"]
    g = grouped[grouped["series_id"].isin(list(quiet))].reset_index(drop=True)
    np.testing.assert_allclose(g[cols].to_numpy(), alone[cols].to_numpy(), rtol=1e-12)
    pooled = fc.run_forecast(both, 12, n_jobs=1).forecasts
    p = pooled[pooled["series_id"].isin(list(quiet))].reset_index(drop=True)
    assert not np.allclose(p["hi_80"].to_numpy(), alone["hi_80"].to_numpy(), rtol=1e-9)
    with pytest.raises(InputError, match="calibration_groups"):
        fc.run_forecast(both, 12, n_jobs=1, calibration_groups=["quiet"])


def test_one_unusual_month_does_not_blow_up_the_interval():
    """A one-off month ten times the usual in the backtest window: the interval stays of the
    order of the series (before the fix the 95% upper bound was about 10^7 for a series of 100)."""
    y, _ = _seasonal(60, seed=11, level=100.0)
    y[52] *= 10  # inside the backtest window of h = 12
    res = fc.run_forecast(_frame({"spike": y}), 12, n_jobs=1)
    out = res.forecasts
    assert (out["hi_95"] <= 10 * out["median"]).all()
    assert out["hi_95"].max() <= 10 * y.max()
    assert (out["lo_80"] > 0).all()


def test_winsorised_mean_square_keeps_a_general_misfit():
    from salesanalysis.forecast import _models as fm

    one_spike = np.array([0.8, -1.1, 0.9, -0.7, 1.2, -1.0, 0.6, 50.0])
    assert fm._msq(one_spike) < 3.0  # the spike counts as 3 robust sd, not 50
    everywhere = np.array([9.0, -11.0, 10.0, -8.0, 12.0, -10.0])  # sd 10x too small throughout
    assert fm._msq(everywhere) == pytest.approx(np.mean(everywhere**2))


def test_a_six_month_history_gets_a_bounded_interval():
    rng = np.random.default_rng(3)
    y = rng.uniform(200_000, 500_000, 6)
    out = fc.run_forecast(_frame({"new_rep": y}, start=pd.Timestamp("2026-05-01")), 12, n_jobs=1)
    f = out.forecasts
    assert np.isfinite(f["hi_95"]).all()
    assert (f["hi_95"] <= 10 * f["median"]).all()  # was ~200x at month 12


@pytest.mark.parametrize("months", [30, 40])
def test_seasonality_is_kept_on_two_to_four_years_of_history(months):
    """A strongly seasonal series with 30 or 40 months (too short for three backtest origins at
    h = 12 after two seasons) still gets a seasonal forecast: the backtest is shortened instead
    of the seasonal models being dropped."""
    y, pattern = _seasonal(months, seed=21, noise=0.03)
    res = fc.run_forecast(_frame({"s": y}), 12, n_jobs=1)
    assert bool(res.chosen["seasonal"].iloc[0])
    f = res.forecasts["median"].to_numpy()
    true_ratio = pattern[-12:].max() / pattern[-12:].min()  # the pattern repeats every 12
    assert f.max() / f.min() > 0.8 * true_ratio


def test_requested_models_are_the_ones_chosen_from():
    y, _ = _seasonal(60, seed=31)
    df = _frame({"s": y})
    only_ets = fc.run_forecast(df, 12, n_jobs=1, models=["ets"]).chosen
    assert only_ets["candidate"].iloc[0] == "ets"
    combo = fc.run_forecast(df, 12, n_jobs=1, models=["combo"]).chosen
    assert combo["candidate"].iloc[0] == "combo_median"
    assert combo["model"].iloc[0].count("+") == 3  # the median of all four
    two = fc.run_forecast(df, 12, n_jobs=1, models=["theta", "arima"]).chosen
    assert two["candidate"].iloc[0] in {"theta", "arima"}
    pair = fc.run_forecast(df, 12, n_jobs=1, models=["ets", "arima", "combo"])
    assert pair.chosen["candidate"].iloc[0] in {"ets", "arima", "combo_median"}
    scored = set(pair.backtest["candidate"])
    assert "snaive" in scored  # the baseline is always scored, for the report
