"""Tests for the hierarchical forecast: series builder, reconciliation, accuracy check."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from salesanalysis.errors import InputError, SalesAnalysisError
from salesanalysis.forecast import hierarchy as H

KEYS = list(H.KEY_COLS)
OUT_COLS = [
    "level",
    "region",
    "product_line",
    "customer_type",
    "rep_id",
    "month",
    "mean",
    "lo_80",
    "hi_80",
    "lo_95",
    "hi_95",
    "model",
    "base_mean",
]


# --------------------------------------------------------------------------- fixtures


def snaive_engine(df: pd.DataFrame, horizon: int, levels=(80, 95), *, season_length=12, **_):
    """A tiny stand-in for the forecast engine: seasonal naive with normal intervals."""
    rows, bt = [], []
    for sid, g in df.groupby("series_id", sort=False):
        v = g["value"].to_numpy(float)
        last = pd.Timestamp(g["month"].max())
        m = season_length if len(v) >= season_length else 1
        res = v[m:] - v[:-m]
        sd = float(np.sqrt(np.mean(res**2))) if res.size else 0.0
        for k in range(1, horizon + 1):
            mean = v[len(v) - m + (k - 1) % m]
            r = {
                "series_id": sid,
                "month": last + pd.DateOffset(months=k),
                "mean": mean,
                "model": "snaive",
            }
            for lv in levels:
                z = norm.ppf(0.5 + lv / 200) * sd * np.sqrt((k - 1) // m + 1)
                r[f"lo_{lv}"], r[f"hi_{lv}"] = mean - z, mean + z
            rows.append(r)
        bt.append({"series_id": sid, "model": "snaive", "mase": 1.0})
    bt = pd.DataFrame(bt)
    return SimpleNamespace(
        forecasts=pd.DataFrame(rows),
        backtest=bt,
        chosen=bt[["series_id", "model"]],
        coverage=None,
        warnings=None,
    )


def make_cube(
    n_regions=2,
    n_lines=2,
    n_types=2,
    reps_per_region=2,
    months=30,
    seed=0,
    density=0.8,
    start="2022-01",
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    month_idx = pd.date_range(start, periods=months, freq="MS")
    for r in range(n_regions):
        for k in range(reps_per_region):
            rep = f"R{r}{k}"
            for p in range(n_lines):
                for c in range(n_types):
                    level = rng.uniform(50, 500)
                    for m in month_idx:
                        if rng.random() > density:
                            continue
                        season = 1 + 0.3 * np.sin(2 * np.pi * m.month / 12)
                        rows.append(
                            {
                                "month": m,
                                "region": f"区域{r}",
                                "product_line": f"P{p}",
                                "customer_type": f"T{c}",
                                "rep_id": rep,
                                "revenue": level * season * rng.uniform(0.7, 1.3),
                            }
                        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- series builder


def test_build_series_totals_match_cube():
    cube = make_cube(seed=1)
    cut = "2023-12"
    s = H.build_series(cube, cut)
    assert list(s.months) == list(pd.date_range("2022-01", cut, freq="MS"))
    upto = cube[cube["month"] <= cut]
    monthly = upto.groupby("month")["revenue"].sum().reindex(s.months, fill_value=0).to_numpy()
    lvl = s.keys["level"].to_numpy()
    for level in H.LEVELS:
        np.testing.assert_allclose(s.values[lvl == level].sum(axis=0), monthly, rtol=1e-12)
    # one cell, checked against the cube directly (months without sales are 0)
    row = s.keys.index[
        (s.keys["level"] == "cell")
        & (s.keys["region"] == "区域1")
        & (s.keys["product_line"] == "P0")
        & (s.keys["customer_type"] == "T1")
    ][0]
    sel = upto[
        (upto["region"] == "区域1")
        & (upto["product_line"] == "P0")
        & (upto["customer_type"] == "T1")
    ]
    expect = sel.groupby("month")["revenue"].sum().reindex(s.months, fill_value=0).to_numpy()
    np.testing.assert_allclose(s.values[row], expect)
    # keys: '*' for summed-over dimensions, real labels elsewhere
    rep = s.keys[s.keys["level"] == "rep"]
    assert (rep["product_line"] == H.ALL).all() and (rep["customer_type"] == H.ALL).all()
    assert set(rep["rep_id"]) == set(cube["rep_id"])
    total = s.keys[s.keys["level"] == "total"]
    assert len(total) == 1 and (total[KEYS] == H.ALL).all(axis=None)
    assert s.keys["series_id"].is_unique
    # coherent history satisfies the constraints
    assert np.abs(s.constraints @ s.values).max() < 1e-8 * np.abs(s.values).max()


def test_build_series_long_and_cell_detail():
    cube = make_cube(seed=2, months=14)
    s = H.build_series(cube, "2023-02", detail="cell")
    assert "bottom" not in set(s.keys["level"])
    assert set(s.keys.loc[s.leaves, "level"]) == {"cell", "rep"}
    long = s.long()
    assert len(long) == len(s.keys) * len(s.months)
    tot = long[long["level"] == "total"]["value"].sum()
    assert tot == pytest.approx(cube["revenue"].sum())
    assert np.abs(s.constraints @ s.values).max() < 1e-8 * np.abs(s.values).max()


def test_engine_input_trims_leading_zeros():
    cube = make_cube(n_regions=1, n_lines=1, n_types=1, reps_per_region=1, months=12, density=1)
    late = cube.assign(rep_id="NEW", revenue=5.0)[cube["month"] >= "2022-07"]
    s = H.build_series(pd.concat([cube, late]), "2022-12")
    df = s.engine_input()
    new = s.keys.loc[(s.keys["rep_id"] == "NEW") & (s.keys["level"] == "rep"), "series_id"].iloc[0]
    got = df[df["series_id"] == new]
    assert got["month"].min() == pd.Timestamp("2022-07-01") and len(got) == 6
    total = s.keys.loc[s.keys["level"] == "total", "series_id"].iloc[0]
    assert (df["series_id"] == total).sum() == 12


def test_build_series_errors():
    cube = make_cube(months=6)
    with pytest.raises(InputError, match="lacks columns"):
        H.build_series(cube.drop(columns="rep_id"), "2022-06")
    with pytest.raises(InputError, match="no sales history up to 2021-05"):
        H.build_series(cube, "2021-05")
    with pytest.raises(SalesAnalysisError, match="level of detail"):
        H.build_series(cube, "2022-06", detail="rep")
    with pytest.raises(SalesAnalysisError, match="not a month"):
        H.build_series(cube, "June")


# --------------------------------------------------------------------------- reconciliation


@st.composite
def hierarchies(draw):
    """A random crossed hierarchy (cube) and a cutoff, sparse on purpose."""
    n_regions = draw(st.integers(1, 3))
    n_lines = draw(st.integers(1, 3))
    n_types = draw(st.integers(1, 2))
    reps = draw(st.integers(1, 3))
    months = draw(st.sampled_from([2, 5, 8, 16, 20]))  # >= 15 months: MinT has residuals
    seed = draw(st.integers(0, 10_000))
    density = draw(st.sampled_from([0.3, 0.7, 1.0]))
    cube = make_cube(n_regions, n_lines, n_types, reps, months, seed, density)
    if cube.empty:
        cube = make_cube(1, 1, 1, 1, months, seed, 1.0)
    return cube, cube["month"].max(), seed


def random_base(series: H.HierarchySeries, horizon: int, seed: int, coherent=False):
    """Base forecasts (incoherent unless asked) with random, sometimes asymmetric, intervals."""
    rng = np.random.default_rng(seed)
    n = len(series.keys)
    lvl = series.keys["level"].to_numpy()
    scale = np.maximum(np.abs(series.values).mean(axis=1), 1.0)
    if coherent:
        # build up from non-negative leaves
        mean = np.zeros((n, horizon))
        leaves = series.leaves
        mean[leaves] = rng.uniform(0, 2, (leaves.sum(), horizon)) * scale[leaves, None]
        if series.detail == "bottom":
            mean[~leaves] = series._primary @ mean[leaves]
        else:
            raise AssertionError("coherent base only for detail='bottom'")
    else:
        mean = rng.normal(1.0, 0.6, (n, horizon)) * scale[:, None]
    w80 = rng.uniform(0.05, 1.0, (n, horizon)) * scale[:, None]
    skew = rng.uniform(0.5, 1.5, (n, horizon))
    months = pd.date_range(series.cutoff + pd.DateOffset(months=1), periods=horizon, freq="MS")
    f = pd.DataFrame(
        {
            "series_id": np.repeat(series.keys["series_id"].to_numpy(), horizon),
            "month": np.tile(months, n),
            "mean": mean.reshape(-1),
            "lo_80": (mean - w80).reshape(-1),
            "hi_80": (mean + w80 * skew).reshape(-1),
            "lo_95": (mean - 1.5 * w80).reshape(-1),
            "hi_95": (mean + 1.6 * w80 * skew).reshape(-1),
            "model": np.repeat(np.where(lvl == "total", "ets", "theta"), horizon),
        }
    )
    return f, mean


def assert_coherent(frame: pd.DataFrame, col="mean"):
    scale = max(frame[col].abs().max(), 1.0)
    gaps = H.coherence_gaps(frame, col)
    assert len(gaps) > 0
    assert (gaps["max_abs_gap"] <= 1e-9 * scale).all(), gaps


def assert_ordered(frame: pd.DataFrame):
    tol = 1e-9 * max(frame["mean"].abs().max(), 1.0)
    assert (frame["lo_95"] <= frame["lo_80"] + tol).all()
    assert (frame["lo_80"] <= frame["mean"] + tol).all()
    assert (frame["mean"] <= frame["hi_80"] + tol).all()
    assert (frame["hi_80"] <= frame["hi_95"] + tol).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hierarchies(),
    st.sampled_from(["bottom", "cell"]),
    st.sampled_from(["mint_shrink", "wls_var", "wls_struct", "ols"]),
    st.integers(1, 4),
)
def test_reconciled_output_is_coherent_at_every_level(hier, detail, method, horizon):
    cube, cutoff, seed = hier
    s = H.build_series(cube, cutoff, detail=detail)
    base, _ = random_base(s, horizon, seed)
    out, info = H.reconcile_forecasts(s, base, method=method)
    assert_coherent(out)
    # every level present, each sums to the total
    assert set(out["level"]) == set(s.keys["level"])
    # leaves never negative; intervals ordered; lower bounds of non-negative series >= 0
    assert (
        out.loc[
            out["level"].isin(["bottom", "cell", "rep"])
            & out["series_id"].isin(s.keys.loc[s.leaves, "series_id"]),
            "mean",
        ]
        >= 0
    ).all()
    assert_ordered(out)
    assert info["max_gap"] <= 1e-8 * max(out["mean"].abs().max(), 1.0)
    # the bounds moved with the mean: base half-widths are kept (unless clipped at 0)
    hw = (base["hi_80"] - base["mean"]).to_numpy()
    np.testing.assert_allclose((out["hi_80"] - out["mean"]).to_numpy(), hw, rtol=1e-9, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    hierarchies(),
    st.sampled_from(["mint_shrink", "wls_var", "wls_struct", "ols"]),
    st.integers(1, 3),
)
def test_coherent_base_is_left_unchanged(hier, method, horizon):
    cube, cutoff, seed = hier
    s = H.build_series(cube, cutoff)
    base, mean = random_base(s, horizon, seed, coherent=True)
    out, info = H.reconcile_forecasts(s, base, method=method)
    np.testing.assert_allclose(
        out["mean"].to_numpy(),
        out["base_mean"].to_numpy(),
        rtol=1e-9,
        atol=1e-9 * np.abs(mean).max(),
    )
    assert info["zeroed"] == 0


def test_wls_moves_the_noisy_series_not_the_precise_one():
    # total = a + b; base says total 100 (precise), a 30 and b 50 (noisy): a and b absorb the
    # gap of 20 in proportion to their variances
    base = np.array([100.0, 30.0, 50.0])
    c = np.array([[1.0, -1.0, -1.0]])
    var = np.array([1e-6, 1.0, 3.0])
    y, zeroed = H.reconcile(base, c, var)
    assert y[0] == pytest.approx(100.0, abs=1e-4)
    assert y[1] == pytest.approx(35.0, abs=1e-3) and y[2] == pytest.approx(65.0, abs=1e-3)
    assert not zeroed.any()
    # OLS splits the gap equally among all three
    y, _ = H.reconcile(base, c, np.ones(3))
    assert y == pytest.approx([100 - 20 / 3, 30 + 20 / 3, 50 + 20 / 3])


def test_nonnegativity_fixes_negative_leaves_at_zero():
    # total = a + b + c; base c is negative: it is set to 0 and a, b absorb the difference
    base = np.array([90.0, 50.0, 60.0, -40.0])
    c = np.array([[1.0, -1.0, -1.0, -1.0]])
    y, zeroed = H.reconcile(base, c, np.ones(4), nonneg=np.array([False, True, True, True]))
    assert y[3] == 0.0 and zeroed.tolist() == [False, False, False, True]
    assert y[0] == pytest.approx(y[1] + y[2])
    assert (y >= 0).all()
    # without the rule, c stays negative
    y2, _ = H.reconcile(base, c, np.ones(4))
    assert y2[3] < 0


def test_mint_projection_matches_the_dense_formula():
    rng = np.random.default_rng(7)
    s = H.build_series(make_cube(seed=7, months=30), "2024-06")
    n = len(s.keys)
    d = rng.uniform(0.5, 2.0, n)
    f = rng.normal(size=(6, n))
    cov = H.ErrorCovariance(diag=d, factor=f)
    b = rng.normal(100, 30, n)
    y, _ = H.reconcile(b, s.constraints, cov)
    w = np.diag(d) + f.T @ f
    c = s.constraints.toarray()
    expect = b - w @ c.T @ np.linalg.solve(c @ w @ c.T, c @ b)
    np.testing.assert_allclose(y, expect, rtol=1e-9, atol=1e-7)


def test_shrinkage_intensity_matches_the_direct_formula():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(15, 6)) @ rng.normal(size=(6, 6))
    x = x - x.mean(axis=0)
    z = x / x.std(axis=0, ddof=1)
    t, n = z.shape
    w = np.einsum("ti,tj->tij", z, z)
    wbar = w.mean(axis=0)
    r = wbar * t / (t - 1)
    var_r = t / (t - 1) ** 3 * ((w - wbar) ** 2).sum(axis=0)
    off = ~np.eye(n, dtype=bool)
    expect = min(1.0, var_r[off].sum() / (r[off] ** 2).sum())
    assert H._shrinkage_intensity(z) == pytest.approx(expect, rel=1e-9)


def test_mint_covariance_and_proxy_residuals():
    months = np.arange(30)
    season = 1 + 0.5 * np.sin(2 * np.pi * months / 12)
    v = np.vstack([100 * season, 50 * season + np.arange(30), np.zeros(30)])
    e = H.proxy_residuals(v, np.array([True, False, True]))
    assert e.shape == (18, 3)
    np.testing.assert_allclose(e[:, 0], 0, atol=1e-9)  # seasonal naive is exact here
    np.testing.assert_allclose(e[0, 1], v[1, 12] - v[1, :12].mean())
    cov = H.mint_covariance(v, np.array([True, False, True]))
    assert 0 <= cov.shrinkage <= 1 and cov.factor.shape == (18, 3)
    assert (cov.diag > 0).all()  # zero-variance series get a small floor
    assert H.mint_covariance(v[:, :13], np.ones(3, bool)) is None  # too short: no residuals


def test_median_to_mean_for_log_scale_forecasts():
    med, sigma, z = 100.0, 0.4, norm.ppf(0.9)
    bounds = {80: (np.array([[med * np.exp(-z * sigma)]]), np.array([[med * np.exp(z * sigma)]]))}
    out = H._median_to_mean(np.array([[med]]), bounds, np.array([True]))
    assert out[0, 0] == pytest.approx(med * np.exp(sigma**2 / 2))
    assert H._median_to_mean(np.array([[med]]), bounds, np.array([False]))[0, 0] == med
    # a very wide interval (sigma 1.7, a rep with five months of history) is capped
    wide = {80: (np.array([[med * np.exp(-z * 1.7)]]), np.array([[med * np.exp(z * 1.7)]]))}
    out = H._median_to_mean(np.array([[med]]), wide, np.array([True]))
    assert out[0, 0] == pytest.approx(med * np.exp(H.MAX_LOG_SIGMA**2 / 2))
    # a very wide interval (sigma 1.7, a rep with five months of history) is capped
    wide = {80: (np.array([[med * np.exp(-z * 1.7)]]), np.array([[med * np.exp(z * 1.7)]]))}
    out = H._median_to_mean(np.array([[med]]), wide, np.array([True]))
    assert out[0, 0] == pytest.approx(med * np.exp(H.MAX_LOG_SIGMA**2 / 2))


def test_mint_keeps_a_good_total_when_bottom_forecasts_miss_the_season():
    # 30 bottom series share a strong season; their base forecasts are flat (no seasonality
    # found), the total's base forecast has it right. WLS trusts the flat sum of 30 "precise"
    # forecasts and damages the total; MinT sees their correlated errors and keeps it.
    rng = np.random.default_rng(11)
    t = np.arange(48)
    season = 1 + 0.6 * np.sin(2 * np.pi * t / 12)
    months = pd.date_range("2021-01", periods=48, freq="MS")
    rows = []
    for i in range(30):
        y = 100 * season * rng.uniform(0.8, 1.2) + rng.normal(0, 25, 48)
        rows.append(
            pd.DataFrame(
                {
                    "month": months,
                    "region": "A",
                    "product_line": f"P{i % 3}",
                    "customer_type": "T",
                    "rep_id": f"R{i}",
                    "revenue": y,
                }
            )
        )
    cube = pd.concat(rows, ignore_index=True)
    s = H.build_series(cube, "2024-12")
    lvl = s.keys["level"].to_numpy()
    horizon = 12
    truth_season = 1 + 0.6 * np.sin(2 * np.pi * np.arange(48, 60) / 12)
    level = s.values[:, -12:].mean(axis=1)
    seasonal = np.isin(lvl, ["total", "region", "product_line", "customer_type"])
    mean = np.where(seasonal[:, None], level[:, None] * truth_season, level[:, None])
    mean = mean * np.ones((1, horizon))
    months_f = pd.date_range("2025-01", periods=horizon, freq="MS")
    sd = 0.1 * np.maximum(level, 1.0)[:, None] * np.ones((1, horizon))
    base = pd.DataFrame(
        {
            "series_id": np.repeat(s.keys["series_id"].to_numpy(), horizon),
            "month": np.tile(months_f, len(lvl)),
            "mean": mean.reshape(-1),
            "lo_80": (mean - 1.28 * sd).reshape(-1),
            "hi_80": (mean + 1.28 * sd).reshape(-1),
            "lo_95": (mean - 1.96 * sd).reshape(-1),
            "hi_95": (mean + 1.96 * sd).reshape(-1),
            "model": "x",
        }
    )
    info = pd.DataFrame(
        {"series_id": s.keys["series_id"], "seasonal": seasonal, "transform": "none"}
    )
    err = {}
    for method in ("mint_shrink", "wls_var"):
        out, meta = H.reconcile_forecasts(s, base, method=method, engine_info=info)
        assert meta["method"] == method
        total = out.loc[out["level"] == "total", "mean"].to_numpy()
        err[method] = np.abs(total - mean[lvl == "total"][0]).mean()
    assert err["mint_shrink"] < 0.5 * err["wls_var"]


def test_unknown_reconciliation_method():
    s = H.build_series(make_cube(months=4), "2022-04")
    base, _ = random_base(s, 2, 0)
    with pytest.raises(SalesAnalysisError, match="reconciliation method"):
        H.reconcile_forecasts(s, base, method="mint")


# --------------------------------------------------------------------------- driver


@pytest.mark.parametrize("detail", ["bottom", "cell"])
def test_forecast_hierarchy_with_standin_engine(detail):
    cube = make_cube(seed=3, months=30)
    # a rep who left a year before the cutoff: forecast 0, model 'inactive'
    gone = cube[(cube["rep_id"] == "R00") & (cube["month"] <= "2022-12")]
    cube = pd.concat([cube[cube["rep_id"] != "R00"], gone], ignore_index=True)
    hf = H.forecast_hierarchy(
        cube, "2024-06", 6, detail=detail, engine=snaive_engine, accuracy_origins=1
    )
    f = hf.forecast
    assert list(f.columns) == OUT_COLS
    assert f["month"].min() == pd.Timestamp("2024-07-01")
    assert f["month"].max() == pd.Timestamp("2024-12-01")
    assert_coherent(f)
    assert_ordered(f)
    gone_rows = f[(f["rep_id"] == "R00")]
    assert len(gone_rows) > 0 and (gone_rows["mean"] == 0).all()
    assert (gone_rows["model"] == "inactive").all()
    assert hf.info["inactive_series"] > 0
    levels = set(f["level"])
    assert ("bottom" in levels) == (detail == "bottom")
    # backtest and chosen carry the keys of their series
    assert {"level", *KEYS, "model"} <= set(hf.backtest.columns)
    assert {"level", *KEYS, "model"} <= set(hf.chosen.columns)
    # the accuracy check ran at one origin (6 months before the cutoff)
    acc = hf.accuracy
    assert list(acc["level"]) == [lv for lv in H.LEVELS if lv in levels]
    assert (hf.accuracy_series["origin"] == pd.Timestamp("2023-12-01")).all()
    assert np.isfinite(acc["mase_base"]).all() and np.isfinite(acc["mase_reconciled"]).all()
    # history runs to the cutoff
    assert hf.history["month"].max() == pd.Timestamp("2024-06-01")


@pytest.mark.parametrize("detail", ["bottom", "cell"])
def test_a_rep_who_has_left_is_forecast_at_zero(detail):
    """A rep with sales until two months before the cutoff and an end_date before the first
    forecast month: the rep's series (and rep x cell series) are 0, the region keeps its
    forecast, shared by the reps who stay. A rep leaving inside the horizon is forecast up to
    the month of the end_date and at 0 after it."""
    cube = make_cube(seed=5, months=30)  # 2022-01 .. 2024-06; regions R0, R1; reps R00..R11
    cube = cube[~((cube["rep_id"] == "R01") & (cube["month"] > "2024-04-01"))]
    reps = pd.DataFrame(
        {
            "rep_id": ["R00", "R01", "R10", "R11"],
            "end_date": pd.to_datetime([None, "2024-04-30", "2024-09-30", None]),
        }
    )
    kept = H.forecast_hierarchy(
        cube, "2024-06", 6, detail=detail, engine=snaive_engine, accuracy_origins=0
    )
    left = H.forecast_hierarchy(
        cube, "2024-06", 6, detail=detail, engine=snaive_engine, accuracy_origins=0, reps=reps
    )
    f = left.forecast
    assert_coherent(f)
    r01 = f[f["rep_id"] == "R01"]
    assert len(r01) and (r01["mean"] == 0).all() and (r01["model"] == "inactive").all()
    assert (r01["hi_95"] == 0).all()
    assert left.info["left_reps"] == 1 and kept.info["left_reps"] == 0
    k = kept.forecast
    assert (k.loc[(k["level"] == "rep") & (k["rep_id"] == "R01"), "mean"] > 0).any()

    # the region of the leaver: R00 now carries more than before
    def rep_total(frame, rep):
        return frame.loc[(frame["level"] == "rep") & (frame["rep_id"] == rep), "mean"].sum()

    assert rep_total(f, "R00") > rep_total(k, "R00")
    # R10 leaves on 2024-09-30: July to September forecast, October to December 0
    r10 = f[(f["level"] == "rep") & (f["rep_id"] == "R10")].set_index("month")["mean"]
    assert (r10.loc[:"2024-09-01"] > 0).all() and (r10.loc["2024-10-01":] == 0).all()
    r10_all = f[(f["rep_id"] == "R10") & (f["month"] >= "2024-10-01")]
    assert (r10_all[["mean", "lo_80", "hi_80", "lo_95", "hi_95"]].to_numpy() == 0).all()
    region1 = f[(f["level"] == "region") & (f["region"] == "区域1")]["mean"].sum()
    assert region1 == pytest.approx(
        f[(f["level"] == "rep") & (f["region"] == "区域1")]["mean"].sum(), rel=1e-9
    )
    fingerprint = decompose_fingerprint_reps(reps)
    assert fingerprint == ["R01"]


def decompose_fingerprint_reps(reps):
    from salesanalysis.targets.decompose import _left_by

    return _left_by(reps, pd.Period("2024-06", "M"))


def test_forecast_hierarchy_argument_errors():
    cube = make_cube(months=6)
    with pytest.raises(SalesAnalysisError, match="horizon"):
        H.forecast_hierarchy(cube, "2022-06", 0, engine=snaive_engine)
    with pytest.raises(SalesAnalysisError, match="Interval levels"):
        H.forecast_hierarchy(cube, "2022-06", 3, levels=(80, 120), engine=snaive_engine)
    # a history too short for the accuracy check: skipped with a note, never an error
    hf = H.forecast_hierarchy(cube, "2022-06", 3, engine=snaive_engine, accuracy_origins=1)
    assert hf.accuracy is None and hf.facts.accuracy.origins == 0
    assert "too short" in hf.facts.accuracy.note
    with pytest.raises(SalesAnalysisError, match="too short"):  # asked for directly
        H.reconciliation_backtest(cube, "2022-06", 3, engine=snaive_engine)
    # under six months of sales: no forecast at all
    with pytest.raises(SalesAnalysisError, match="a forecast needs at least 6"):
        H.forecast_hierarchy(cube, "2022-05", 3, engine=snaive_engine)


# --------------------------------------------------------------------------- accuracy


def one_series_cube(months: pd.DatetimeIndex, revenue) -> pd.DataFrame:
    """A cube of one region x line x type x rep series over ``months``."""
    return pd.DataFrame(
        {
            "month": months,
            "region": "A",
            "product_line": "P",
            "customer_type": "T",
            "rep_id": "R1",
            "revenue": revenue,
        }
    )


def test_series_accuracy_and_by_level_known_values():
    # one total series with 14 months of history: seasonal-naive MAE (lag 12) is 2
    months = pd.date_range("2022-01", periods=14, freq="MS")
    vals = np.array([10.0] * 12 + [12.0, 8.0])  # |12-10| = 2, |8-10| = 2 -> scale 2
    cube = one_series_cube(months, vals)
    hist = H.build_series(cube, "2023-02")
    fmonths = pd.date_range("2023-03", periods=2, freq="MS")
    rows = []
    for lv in ["total", "bottom"]:
        for m, base, rec in zip(fmonths, [14.0, 10.0], [12.0, 10.0], strict=True):
            keys = (
                dict(zip(KEYS, ["*"] * 4, strict=True))
                if lv == "total"
                else dict(region="A", product_line="P", customer_type="T", rep_id="R1")
            )
            rows.append(
                {"level": lv, **keys, "month": m, "mean": rec, "base_mean": base, "model": "ets"}
            )
    fc = pd.DataFrame(rows)
    actual = pd.DataFrame(
        {
            "level": "total",
            **dict(zip(KEYS, ["*"] * 4, strict=True)),
            "month": fmonths,
            "value": [11.0, 10.0],
        }
    )
    per = H.series_accuracy(fc, actual, hist)
    tot = per[per["level"] == "total"].iloc[0]
    assert tot["scale"] == pytest.approx(2.0)
    assert tot["mae_base"] == pytest.approx((3 + 0) / 2)
    assert tot["mae_reconciled"] == pytest.approx((1 + 0) / 2)
    assert tot["mase_base"] == pytest.approx(0.75) and tot["mase_reconciled"] == pytest.approx(
        0.25
    )
    # the bottom series has no actuals in the frame: they count as 0
    bot = per[per["level"] == "bottom"].iloc[0]
    assert bot["mae_base"] == pytest.approx((14 + 10) / 2)
    by = H.accuracy_by_level(per)
    assert list(by["level"]) == ["total", "bottom"]
    t = by.iloc[0]
    assert t["change"] == pytest.approx(0.25 / 0.75 - 1)
    assert t["improved"] == 1.0 and t["scored"] == 1


def test_holdout_interval_coverage_by_level():
    """``inside_<l>`` counts the months whose actual lies in the reconciled interval (bounds
    included); ``cov_<l>`` pools them over the series of a level."""
    months = pd.date_range("2022-01", periods=14, freq="MS")
    cube = one_series_cube(months, [10.0] * 12 + [12.0, 8.0])
    hist = H.build_series(cube, "2023-02")
    fmonths = pd.date_range("2023-03", periods=3, freq="MS")
    total = dict(zip(KEYS, ["*"] * 4, strict=True))
    bottom = dict(region="A", product_line="P", customer_type="T", rep_id="R1")
    rows = []
    # total: actual 11 in [10, 13]; 10 on the lower bound [10, 12]; 9 below [9.5, 12]
    for m, lo, hi in zip(fmonths, [10.0, 10.0, 9.5], [13.0, 12.0, 12.0], strict=True):
        rows.append(
            {
                "level": "total",
                **total,
                "month": m,
                "mean": 11.0,
                "base_mean": 11.0,
                "model": "ets",
                "lo_80": lo,
                "hi_80": hi,
                "lo_95": lo - 2,
                "hi_95": hi,
            }
        )
    # bottom: no actuals in the frame (0), interval [0, 5] then [1, 5] twice
    for m, lo in zip(fmonths, [0.0, 1.0, 1.0], strict=True):
        rows.append(
            {
                "level": "bottom",
                **bottom,
                "month": m,
                "mean": 2.0,
                "base_mean": 2.0,
                "model": "ets",
                "lo_80": lo,
                "hi_80": 5.0,
                "lo_95": 0.0,
                "hi_95": 5.0,
            }
        )
    fc = pd.DataFrame(rows)
    actual = pd.DataFrame(
        {"level": "total", **total, "month": fmonths, "value": [11.0, 10.0, 9.0]}
    )
    per = H.series_accuracy(fc, actual, hist).set_index("level")
    assert per.loc["total", "inside_80"] == 2 and per.loc["total", "inside_95"] == 3
    assert per.loc["bottom", "inside_80"] == 1 and per.loc["bottom", "inside_95"] == 3
    by = H.accuracy_by_level(per.reset_index()).set_index("level")
    assert by.loc["total", "cov_80"] == pytest.approx(2 / 3)
    assert by.loc["bottom", "cov_80"] == pytest.approx(1 / 3)
    assert by.loc["total", "cov_95"] == 1.0
    # without interval columns there are no coverage columns
    plain = H.series_accuracy(fc.drop(columns=["lo_80", "hi_80", "lo_95", "hi_95"]), actual, hist)
    assert not any(c.startswith("inside_") for c in plain.columns)
    assert not any(c.startswith("cov_") for c in H.accuracy_by_level(plain).columns)


def test_series_accuracy_constant_history_is_not_scored():
    months = pd.date_range("2022-01", periods=14, freq="MS")
    cube = one_series_cube(months, 5.0)
    hist = H.build_series(cube, "2023-02")
    fc = pd.DataFrame(
        {
            "level": "total",
            **dict(zip(KEYS, ["*"] * 4, strict=True)),
            "month": [pd.Timestamp("2023-03-01")],
            "mean": 5.0,
            "base_mean": 6.0,
            "model": "ets",
        }
    )
    actual = fc[["level", *KEYS, "month"]].assign(value=5.0)
    per = H.series_accuracy(fc, actual, hist)
    assert np.isnan(per["mase_base"].iloc[0])
    by = H.accuracy_by_level(per)
    assert by["scored"].iloc[0] == 0 and by["series"].iloc[0] == 1


# --------------------------------------------------------------------------- tables, parameters


def test_backtest_summary_against_baseline_and_hardest():
    bt = pd.DataFrame(
        {
            "series_id": ["a", "a", "b", "b", "a", "b"],
            "level": ["total", "total", "region", "region", "total", "region"],
            "model": ["snaive", "ets", "snaive", "ets", "ets", "theta"],
            "origin": [1, 1, 1, 1, 2, 1],
            "mase": [2.0, 1.0, 1.0, 1.5, 0.5, 3.0],
        }
    )
    chosen = pd.DataFrame(
        {
            "series_id": ["a", "b"],
            "level": ["total", "region"],
            "region": ["*", "X"],
            "product_line": "*",
            "customer_type": "*",
            "rep_id": "*",
            "model": ["ets", "theta"],
        }
    )
    s = H.backtest_summary(bt, chosen)
    assert s.attrs["baseline"] == "snaive"
    row = s[(s["level"] == "total") & (s["model"] == "ets")].iloc[0]
    assert row["mase"] == pytest.approx(0.75)  # mean over the two origins
    assert row["vs_baseline"] == pytest.approx(0.75 / 2.0)
    ch = s[(s["level"] == "region") & (s["model"] == "chosen")].iloc[0]
    assert ch["mase"] == pytest.approx(3.0) and ch["vs_baseline"] == pytest.approx(3.0)
    assert list(s["level"].unique()) == ["total", "region"]
    # hardest: the chosen model's score, largest first
    hard = H.hardest_series(H.chosen_scores(bt, chosen), n=1)
    assert hard["series_id"].tolist() == ["b"] and hard["mase"].iloc[0] == 3.0
    with pytest.raises(SalesAnalysisError, match="no column 'smape'"):
        H.backtest_summary(bt, metric="smape")


def test_backtest_tables_with_the_engine_schema():
    # the engine's backtest names the family in 'candidate' and flags the chosen row
    keys = {"region": "*", "product_line": "*", "customer_type": "*", "rep_id": "*"}
    bt = pd.DataFrame(
        {
            "series_id": ["a", "a", "a"],
            "level": "total",
            **keys,
            "candidate": ["snaive", "ets", "combo_median"],
            "model": ["snaive", "ETS(A,Ad,A)", "combo_median"],
            "mase": [1.2, 0.9, 0.6],
            "chosen": [False, False, True],
        }
    )
    chosen = pd.DataFrame(
        {
            "series_id": ["a"],
            "level": "total",
            **keys,
            "candidate": ["combo_median"],
            "model": ["combo_median"],
            "backtest_mase": [0.6],
        }
    )
    s = H.backtest_summary(bt, chosen)
    assert set(s["model"]) == {"snaive", "ets", "combo_median", "chosen"}
    assert s.set_index("model").loc["chosen", "vs_baseline"] == pytest.approx(0.5)
    sc = H.chosen_scores(bt, chosen)
    assert sc["model"].tolist() == ["combo_median"] and sc["mase"].tolist() == [0.6]
    sc2 = H.chosen_scores(bt, chosen.drop(columns="backtest_mase"))
    assert sc2["mase"].tolist() == [0.6]  # from the row flagged chosen


def test_forecast_parameters_defaults_and_errors():
    plan = SimpleNamespace(forecast=SimpleNamespace(horizon=18, levels=(95, 80)))
    p = H.forecast_parameters(plan=plan)
    assert p.horizon == 18 and p.levels == (80, 95) and p.models is None and p.n_jobs is None
    p = H.forecast_parameters(
        horizon=6, levels="90, 50", models="ets, theta", n_jobs=2, scheduler="tcp://h:8786"
    )
    assert p.levels == (50, 90) and p.models == ("ets", "theta") and p.scheduler == "tcp://h:8786"
    assert p.kwargs()["horizon"] == 6 and p.kwargs()["n_origins"] == 3
    for kw, name in [
        ({"horizon": -1}, "horizon"),
        ({"levels": "80,150"}, "levels"),
        ({"levels": "eighty"}, "levels"),
        ({"detail": "rep"}, "detail"),
        ({"reconciliation": "mint"}, "reconciliation"),
        ({"accuracy_origins": -2}, "accuracy_origins"),
        ({"method": "quick"}, "method"),
        ({"scheduler": "localhost"}, "scheduler"),
    ]:
        with pytest.raises(SalesAnalysisError, match=f"parameter '{name}'"):
            H.forecast_parameters(**kw)


def test_engine_gets_only_the_arguments_it_accepts():
    seen = {}

    def engine(df, horizon, levels=(80, 95), *, season_length=12, n_origins=3):
        seen.update(season_length=season_length, n_origins=n_origins)
        return snaive_engine(df, horizon, levels, season_length=season_length)

    cube = make_cube(months=16)
    hf = H.forecast_hierarchy(
        cube,
        "2023-04",
        2,
        engine=engine,
        accuracy_origins=0,
        n_jobs=2,
        scheduler="tcp://x:1",
        method="fast",
        n_origins=2,
    )
    assert seen == {"season_length": 12, "n_origins": 2}
    assert hf.accuracy is None


# --------------------------------------------------------------------------- charts


def test_charts_draw_with_units():
    from matplotlib.figure import Figure

    from salesanalysis import i18n
    from salesanalysis.report.charts import forecast as fplots

    cube = make_cube(seed=5, months=30)
    hf = H.forecast_hierarchy(cube, "2024-06", 6, engine=snaive_engine, accuracy_origins=1)
    fig = fplots.fan_chart(hf.forecast, hf.history)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Month" and "CNY" in ax.get_ylabel()
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"80% interval", "95% interval", "Same month last year", "Actual"} <= labels
    i18n.set_report("zh", "万")  # a Chinese report: the same chart in Chinese, in 万元
    try:
        ax = fplots.fan_chart(hf.forecast, hf.history).axes[0]
    finally:
        i18n._state.update({"language": i18n.SOURCE_LANGUAGE, "units": None})
    assert ax.get_xlabel() == "月份" and ax.get_ylabel() == "月收入（万元）"
    labels = {t.get_text() for t in ax.get_legend().get_texts()}
    assert {"80% 预测区间", "95% 预测区间", "上年同月实际", "实际"} <= labels
    grid = fplots.fan_chart_grid(hf.forecast, hf.history, level="region")
    assert sum(a.get_visible() for a in grid.axes) == 2
    summary = H.backtest_summary(hf.backtest, hf.chosen)
    for f in (
        fplots.accuracy_chart(summary, baseline="snaive"),
        fplots.reconciliation_chart(hf.accuracy),
        fplots.chosen_models_chart(hf.chosen),
        fplots.hardest_series_chart(
            hf.forecast, hf.history, H.hardest_series(H.chosen_scores(hf.backtest, hf.chosen), n=3)
        ),
    ):
        ax = f.axes[0]
        assert isinstance(f, Figure) and (ax.get_title() or ax.get_title(loc="left"))
    with pytest.raises(ValueError, match="no forecast"):
        fplots.fan_chart(hf.forecast, hf.history, level="region", keys={"region": "nowhere"})
