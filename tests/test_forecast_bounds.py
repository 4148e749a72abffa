"""Forecast bounds of a positive series are never below 0, at every level and wherever a lower
bound is made: the reconciled monthly forecast (step 02), the plan's feasibility P10 (step 03)
and the review's landing interval (step 04). Property tests over random hierarchies whose
base intervals are often far below 0 and whose histories have returns (negative months)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from salesanalysis import review as rv
from salesanalysis.forecast import hierarchy as H
from salesanalysis.forecast.reconcile import positive_series
from salesanalysis.targets.feasibility import feasibility_table
from salesanalysis.targets.forecast_rows import Z80

LEVELS = ["total", "region", "product_line", "customer_type", "cell", "rep", "bottom"]
SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def histories(draw):
    """A random cube (regions x lines x types x reps, 8-20 months) with returns: some months
    of some series are negative, and a few series are net returns."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows = []
    months = pd.date_range("2024-01-01", periods=draw(st.sampled_from([8, 14, 20])), freq="MS")
    for r in range(draw(st.integers(1, 3))):
        for k in range(draw(st.integers(1, 2))):
            for p in range(draw(st.integers(1, 2))):
                for c in range(draw(st.integers(1, 2))):
                    level = rng.uniform(10, 1000)
                    returns_only = rng.random() < 0.1
                    for m in months:
                        if rng.random() < 0.3:
                            continue
                        v = level * rng.uniform(0.2, 1.5)
                        if returns_only or rng.random() < 0.1:
                            v = -v  # a month of returns
                        rows.append((m, f"区{r}", f"P{p}", f"T{c}", f"R{r}{k}", v))
    if not rows:
        rows.append((months[0], "区0", "P0", "T0", "R00", 100.0))
    cube = pd.DataFrame(
        rows, columns=["month", "region", "product_line", "customer_type", "rep_id", "revenue"]
    )
    return cube, months[-1], rng


def wide_base(series: H.HierarchySeries, horizon: int, rng: np.random.Generator) -> pd.DataFrame:
    """Base forecasts with intervals that are often much wider than the mean (lo far below 0)."""
    n = len(series.keys)
    scale = np.maximum(np.abs(series.values).mean(axis=1), 1.0)[:, None]
    mean = rng.uniform(-0.2, 1.5, (n, horizon)) * scale
    w80 = rng.uniform(0.1, 4.0, (n, horizon)) * scale
    months = pd.date_range(series.cutoff + pd.DateOffset(months=1), periods=horizon, freq="MS")
    return pd.DataFrame(
        {
            "series_id": np.repeat(series.keys["series_id"].to_numpy(), horizon),
            "month": np.tile(months, n),
            "mean": mean.reshape(-1),
            "lo_80": (mean - w80).reshape(-1),
            "hi_80": (mean + 1.3 * w80).reshape(-1),
            "lo_95": (mean - 1.6 * w80).reshape(-1),
            "hi_95": (mean + 2.0 * w80).reshape(-1),
            "model": "test",
        }
    )


@SETTINGS
@given(histories(), st.sampled_from(["mint_shrink", "wls_struct", "ols"]), st.integers(1, 3))
def test_reconciled_lower_bounds_of_positive_series_are_not_below_zero(hist, method, horizon):
    cube, cutoff, rng = hist
    s = H.build_series(cube, cutoff, detail="bottom")
    out, _ = H.reconcile_forecasts(s, wide_base(s, horizon, rng), method=method)
    positive = dict(zip(s.keys["series_id"], positive_series(s.values), strict=True))
    pos = out["series_id"].map(positive).to_numpy(bool)
    total_id = s.keys.loc[s.keys["level"] == "total", "series_id"].iloc[0]
    if positive[total_id]:  # net sales overall: every level splits them, one series is positive
        assert set(out.loc[pos, "level"]) == set(out["level"])
    for lv in (80, 95):
        assert (out.loc[pos, f"lo_{lv}"] >= 0).all(), lv
    # P10 <= P50 <= P90 and nested levels, after clipping
    tol = 1e-9 * max(out["mean"].abs().max(), 1.0)
    assert (out["lo_95"] <= out["lo_80"] + tol).all()
    assert (out["lo_80"] <= out["mean"] + tol).all()
    assert (out["mean"] <= out["hi_80"] + tol).all()
    assert (out["hi_80"] <= out["hi_95"] + tol).all()
    # clipping moves no mean: the means still add up at every level
    gaps = H.coherence_gaps(out, "mean")
    assert (gaps["max_abs_gap"] <= 1e-9 * max(out["mean"].abs().max(), 1.0)).all()


def test_positive_series_are_net_sales():
    v = np.array([[1.0, 0.0, 2.0], [5.0, -1.0, 2.0], [1.0, -3.0, 0.0], [0.0, 0.0, 0.0]])
    assert positive_series(v).tolist() == [True, True, False, True]


@st.composite
def plan_forecasts(draw):
    """A forecast of every level of a small plan (2 months), intervals often wider than the
    mean, and targets per level."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    months = list(pd.date_range("2026-11-01", periods=2, freq="MS"))
    keys = [
        (f"区{r}", f"P{p}", "T", f"R{r}{k}")
        for r in range(draw(st.integers(1, 3)))
        for k in range(2)
        for p in range(2)
    ]
    bottom = pd.DataFrame(keys, columns=rv.DIMS)
    mean = rng.uniform(0, 1000, (len(keys), len(months)))
    width = rng.uniform(0.1, 5.0, (len(keys), len(months))) * mean
    rows = []
    for level in LEVELS:
        ks = rv.LEVEL_KEYS[level]
        for j, m in enumerate(months):
            f = bottom.assign(mean=mean[:, j], w=width[:, j])
            g = f.groupby(ks)[["mean", "w"]].sum().reset_index() if ks else f[["mean", "w"]].sum()
            g = g if ks else pd.DataFrame([g])
            for d in rv.DIMS:
                if d not in ks:
                    g[d] = "*"
            g = g.assign(level=level, month=m, model="test")
            g["lo_80"], g["hi_80"] = (g["mean"] - g["w"]).clip(lower=0), g["mean"] + 2 * g["w"]
            g["lo_95"], g["hi_95"] = (g["mean"] - 2 * g["w"]).clip(lower=0), g["mean"] + 3 * g["w"]
            rows.append(g.drop(columns="w"))
    return pd.concat(rows, ignore_index=True), bottom, months, rng


@SETTINGS
@given(plan_forecasts())
def test_feasibility_p10_is_not_below_zero_at_every_level(world):
    fc, bottom, months, rng = world
    seg = []
    for level, ks in {"company": [], "region": ["region"], "rep": ["region", "rep_id"]}.items():
        g = bottom.drop_duplicates(ks)[ks] if ks else pd.DataFrame(index=[0])
        for d in rv.DIMS:
            if d not in ks:
                g[d] = "*"
        t = rng.uniform(0, 3000, len(g)) * (len(bottom) if level == "company" else 1)
        seg.append(g.assign(level=level, target_revenue_no_cushion=t, target_revenue=t * 1.05))
    feas = feasibility_table(fc, pd.concat(seg, ignore_index=True), months, True)
    assert set(feas["level"]) == {"company", "region", "rep"}
    assert (feas["forecast_p10"] >= 0).all()
    assert (feas["forecast_p10"] <= feas["forecast_p50"]).all()
    assert (feas["forecast_p50"] <= feas["forecast_p90"]).all()
    # the probability of a positive target is that of the uncensored normal
    sigma = (feas["forecast_p90"] - feas["forecast_p50"]) / Z80
    f = feas[sigma > 0]
    expect = norm.sf((f["target"] - f["forecast_p50"]) / sigma[sigma > 0])
    np.testing.assert_allclose(f["p_reach"], expect, rtol=1e-9, atol=1e-12)


@SETTINGS
@given(plan_forecasts(), st.floats(0.0, 1.0))
def test_landing_lower_bound_is_not_below_the_actual_to_date(world, rho):
    fc, bottom, months, rng = world
    closed = pd.date_range("2026-01-01", periods=10, freq="MS")
    act = pd.concat([bottom.assign(month=m) for m in closed], ignore_index=True)
    act["revenue"] = rng.uniform(0, 500, len(act))
    act["customers"] = 0.0
    tgt = pd.concat([bottom.assign(month=m) for m in [*closed, *months]], ignore_index=True)
    tgt["target_revenue"] = rng.uniform(0, 900, len(tgt))
    land = rv.landing_forecast(act, tgt, fc, "2026-10", 2026, month_correlation=rho)
    assert set(land["level"]) == set(rv.REVIEW_LEVELS)
    for lv in ("80", "95"):
        assert (land[f"landing_lo_{lv}"] >= land["actual_ytd"] - 1e-6).all()
        assert (land[f"landing_lo_{lv}"] <= land["landing_mean"] + 1e-6).all()
        assert (land["landing_mean"] <= land[f"landing_hi_{lv}"] + 1e-6).all()
    reached = land["actual_ytd"] >= land["target_fy"]
    assert (land.loc[reached, "p_reach_target"] == 1.0).all()
