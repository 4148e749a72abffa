"""The plan-cutoff forecast cache of step 03 (``outputs/forecast_plan.parquet``).

The cache is reused only when it was made from the same cube rows up to the cutoff and the same
forecast settings; the fingerprint travels in the Parquet file's metadata.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow.parquet as pq
import pytest

from salesanalysis.data.context import RunContext
from salesanalysis.forecast import hierarchy as H
from salesanalysis.targets.decompose import (
    PLAN_FORECAST_ATTR,
    forecast_covers,
    forecast_for_plan,
    plan_forecast_fingerprint,
    plan_months,
)

from .test_decompose import make_forecast, make_plan, make_world

CUTOFF = "2025-10"  # mid-year cutoff of the previous year: the plan-cutoff forecast runs 14 months
KEYS = ["region", "product_line", "customer_type", "rep_id"]


@pytest.fixture(scope="module")
def cube() -> pd.DataFrame:
    return make_world(reps_per_region=1, types=("SMB",))["cube"]


@pytest.fixture
def calls(monkeypatch) -> list[dict]:
    """Replace the hierarchy forecast by a cheap one (company total = mean monthly revenue of the
    history it is given) and record each call."""
    seen: list[dict] = []

    def fake(cube, cutoff, horizon, *, levels, detail, method, accuracy_origins, **_):
        seen.append(
            {
                "cutoff": cutoff,
                "horizon": horizon,
                "levels": tuple(levels),
                "detail": detail,
                "method": method,
                "last": cube["month"].max(),
            }
        )
        months = pd.period_range(
            pd.Period(cutoff, "M") + 1, periods=horizon, freq="M"
        ).to_timestamp()
        mean = float(cube["revenue"].sum()) / cube["month"].nunique()
        fc = pd.DataFrame(
            {
                "level": "total",
                **{k: "*" for k in KEYS},
                "month": months,
                "mean": mean,
                "model": "fake",
            }
        )
        for lv in levels:
            fc[f"lo_{lv}"], fc[f"hi_{lv}"] = 0.9 * mean, 1.1 * mean
        return SimpleNamespace(forecast=fc)

    monkeypatch.setattr(H, "forecast_hierarchy", fake)
    return seen


def roundtrip(tmp_path: Path, forecast: pd.DataFrame) -> pd.DataFrame:
    """Write and read back as notebook 03 does (``ctx.write`` / ``ctx.read``)."""
    ctx = RunContext(pd.Period("2026-10", "M"), tmp_path, tmp_path, None)
    ctx.write("forecast_plan", forecast)
    return ctx.read("forecast_plan")


def changed(cube: pd.DataFrame, month: str, delta: float = 1.0) -> pd.DataFrame:
    """The cube with one value of ``month`` changed."""
    out = cube.copy()
    i = out.index[out["month"] == pd.Timestamp(f"{month}-01")][0]
    out.loc[i, "revenue"] += delta
    return out


def test_cache_made_from_the_same_data_is_reused(cube, calls, tmp_path) -> None:
    plan = make_plan(plan_cutoff=CUTOFF)
    fc, source, new = forecast_for_plan(cube, plan, None, None)
    assert new and len(calls) == 1
    assert calls[0]["horizon"] == 14 and calls[0]["last"] == pd.Timestamp(f"{CUTOFF}-01")
    assert "made from the plan cutoff 2025-10" in source and "cached" not in source
    assert fc.attrs[PLAN_FORECAST_ATTR] == plan_forecast_fingerprint(cube, plan)

    cached = roundtrip(tmp_path, fc)
    # the fingerprint lives in the Parquet file itself: no sidecar file
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["forecast_plan.parquet"]
    meta = pq.read_schema(tmp_path / "outputs" / "forecast_plan.parquet").metadata
    assert any(fc.attrs[PLAN_FORECAST_ATTR]["data"].encode() in v for v in meta.values())
    assert cached.attrs[PLAN_FORECAST_ATTR] == fc.attrs[PLAN_FORECAST_ATTR]

    got, source, new = forecast_for_plan(cube, plan, None, cached)
    assert not new and got is cached and len(calls) == 1
    assert source == "the forecast made from the plan cutoff 2025-10 (cached)"

    # same rows in another order, other columns, months after the cutoff changed: still reused
    same = changed(cube, "2025-12", 500.0).sample(frac=1.0, random_state=1)
    same = same[list(reversed(same.columns))]
    got, source, new = forecast_for_plan(same, plan, None, cached)
    assert not new and got is cached and len(calls) == 1


def test_cache_is_rejected_when_a_value_before_the_cutoff_changes(cube, calls, tmp_path) -> None:
    plan = make_plan(plan_cutoff=CUTOFF)
    cached = roundtrip(tmp_path, forecast_for_plan(cube, plan, None, None)[0])
    other = changed(cube, "2025-03", 1.0)
    fc, source, new = forecast_for_plan(other, plan, None, cached)
    assert new and len(calls) == 2
    assert source.endswith(
        "the cached plan-cutoff forecast was made from other data; forecast again"
    )
    assert fc.attrs[PLAN_FORECAST_ATTR]["data"] != cached.attrs[PLAN_FORECAST_ATTR]["data"]
    assert fc.attrs[PLAN_FORECAST_ATTR] == plan_forecast_fingerprint(other, plan)
    assert not fc["mean"].equals(cached["mean"])  # the new forecast reflects the new data
    # the new one, once written, is the cache for the changed data
    again, _, new = forecast_for_plan(other, plan, None, roundtrip(tmp_path, fc))
    assert not new and len(calls) == 2


def test_cache_is_rejected_when_the_interval_levels_change(cube, calls, tmp_path) -> None:
    cached = roundtrip(
        tmp_path, forecast_for_plan(cube, make_plan(plan_cutoff=CUTOFF), None, None)[0]
    )
    plan = make_plan(plan_cutoff=CUTOFF, forecast={"levels": [80, 90]})
    fc, source, new = forecast_for_plan(cube, plan, None, cached)
    assert new and len(calls) == 2 and calls[-1]["levels"] == (80, 90)
    assert (
        "the cached plan-cutoff forecast was made with other interval levels (80, 95 instead "
        "of 80, 90); forecast again" in source
    )
    assert {"lo_90", "hi_90"} <= set(fc.columns) and "lo_95" not in fc.columns
    assert fc.attrs[PLAN_FORECAST_ATTR]["levels"] == [80, 90]


def test_cache_without_fingerprint_is_rejected(cube, calls, tmp_path) -> None:
    plan = make_plan(plan_cutoff=CUTOFF)
    old = forecast_for_plan(cube, plan, None, None)[0].copy()
    old.attrs.clear()  # a file written before the fingerprint existed
    cached = roundtrip(tmp_path, old)
    assert cached.attrs == {} and forecast_covers(cached, plan)
    fc, source, new = forecast_for_plan(cube, plan, None, cached)
    assert new and len(calls) == 2
    assert (
        "the cached plan-cutoff forecast does not record what it was made from (an older "
        "file); forecast again" in source
    )
    assert PLAN_FORECAST_ATTR in fc.attrs


def test_rejected_cache_without_refit_keeps_the_run_forecast(cube, calls, tmp_path) -> None:
    plan = make_plan(plan_cutoff=CUTOFF)
    cached = roundtrip(tmp_path, forecast_for_plan(cube, plan, None, None)[0])
    got, source, new = forecast_for_plan(changed(cube, "2024-06"), plan, None, cached, refit=False)
    assert got is None and not new and len(calls) == 1
    assert source == (
        "the run's forecast (it misses plan months; the cached plan-cutoff "
        "forecast was made from other data)"
    )
    # and with the same data the cache is still used without refitting
    got, _, new = forecast_for_plan(cube, plan, None, cached, refit=False)
    assert got is cached and not new


def test_run_forecast_covering_the_plan_months_wins(cube, calls, tmp_path) -> None:
    plan = make_plan(plan_cutoff=CUTOFF)
    run_fc = make_forecast(cube, plan_months(plan))
    cached = roundtrip(tmp_path, forecast_for_plan(cube, plan, None, None)[0])
    got, source, new = forecast_for_plan(changed(cube, "2025-01"), plan, run_fc, cached)
    assert got is run_fc and not new and len(calls) == 1
    assert source == "the run's forecast"


def test_plan_cutoff_forecast_cache_end_to_end(tmp_path) -> None:
    """The real hierarchy forecast, written and read as the notebook does."""
    cube = make_world(reps_per_region=1, lines=("Pumps",), types=("SMB", "KA"))["cube"]
    plan = make_plan(plan_cutoff=CUTOFF)
    t0 = time.perf_counter()
    fc, source, new = forecast_for_plan(cube, plan, None, None)
    assert new and forecast_covers(fc, plan)
    assert fc["month"].min() == pd.Timestamp("2025-11-01")
    assert fc["month"].max() == pd.Timestamp("2026-12-01")
    assert {"total", "cell", "rep"} <= set(fc["level"])
    cached = roundtrip(tmp_path, fc)
    got, source, new = forecast_for_plan(cube, plan, None, cached)
    assert not new and source.endswith("(cached)")
    pd.testing.assert_frame_equal(got, fc, check_dtype=False)

    other = changed(cube, "2025-10", 5 * cube["revenue"].max())  # a big change in the last month
    fc2, source, new = forecast_for_plan(other, plan, None, cached)
    assert new and "was made from other data; forecast again" in source
    total = fc["level"] == "total"
    assert (
        fc2.loc[fc2["level"] == "total", "mean"].to_numpy()[0]
        != fc.loc[total, "mean"].to_numpy()[0]
    )
    assert time.perf_counter() - t0 < 60
