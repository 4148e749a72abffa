"""The what-if panel's recomputation: company and region targets exactly as a full
decomposition with the same changed assumptions; rep loads within rounding; the plan at a
glance adds up to the company target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesanalysis.targets.decompose import decompose, level_tables, plan_months
from salesanalysis.targets.whatif import WhatIf, glance_tables
from tests.test_decompose import make_forecast, make_plan, make_world


@pytest.fixture(scope="module")
def world() -> dict:
    """Three regions, one of them short-staffed, with a pin, the hire policy and a book weight:
    the capacity policy, the hires and the book factors all take part."""
    w = make_world(regions=("华东", "华北", "华南"), reps_per_region=2, seed=3)
    w["reps"] = w["reps"][w["reps"]["rep_id"] != "R21"].reset_index(drop=True)
    plan = make_plan(
        pins=[{"segment": {"region": "华东"}, "revenue": 1_500_000}],
        reps={
            "capacity_policy": "hire",
            "load_band": 0.15,
            "book_weight": 0.5,
            "productivity_weight": 0.3,
        },
    )
    w["plan"] = plan
    w["forecast"] = make_forecast(w["cube"], plan_months(plan))
    w["engine"] = WhatIf(w["cube"], w["customers"], w["reps"], w["market"], w["forecast"], plan)
    return w


def _full(world: dict, plan) -> object:
    return decompose(
        world["cube"], world["customers"], world["reps"], world["market"], world["forecast"], plan
    )


def _assert_same(world: dict, plan) -> None:
    got = world["engine"].run(plan)
    dec = _full(world, plan)
    comp = dec.company.set_index("measure").loc["revenue"]
    assert got.company["target"].iloc[0] == comp["target"]
    assert got.company["target_with_cushion"].iloc[0] == comp["target_with_cushion"]
    reg = level_tables(dec)["Region"].set_index("region")
    mine = got.regions.set_index("region").loc[reg.index]
    assert (mine["target_revenue_no_cushion"] == reg["target_revenue_no_cushion"]).all()
    assert (mine["target_revenue"] == reg["target_revenue"]).all()
    cap = dec.capacity.set_index("region").loc[reg.index]
    assert (mine["tbh"].to_numpy() == cap["tbh"].to_numpy()).all()
    # rep loads from unrounded targets: within a rounding unit per rep-month
    full = dec.rep_load.set_index("rep_id")["target_revenue"]
    fast = got.rep_load.set_index("rep_id")["target_revenue"].reindex(full.index)
    n_months = len(dec.months)
    assert ((fast - full).abs() <= plan.rounding_revenue * n_months).all()


def test_the_starting_plan_gives_the_full_decompositions_numbers(world):
    _assert_same(world, world["plan"])
    assert world["engine"].run(world["plan"]).regions["tbh"].sum() > 0, "the fixture hires"


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    growth=st.sampled_from([-0.05, 0.0, 0.07, 0.2]),
    cushion=st.sampled_from([0.0, 0.03, 0.1]),
    weights=st.tuples(*[st.integers(0, 4)] * 4).filter(lambda t: sum(t) > 0),
    band=st.sampled_from([0.05, 0.1, 0.3]),
)
def test_changed_assumptions_give_the_full_decompositions_numbers(
    world, growth, cushion, weights, band
):
    keys = dict(zip(("history", "forecast", "potential", "equal"), weights, strict=True))
    plan = world["engine"].plan_for(
        revenue_growth=growth, cushion_pct=cushion, key_weights=keys, load_band=band
    )
    assert plan.allocation.key_weights.as_dict() == pytest.approx(
        {k: v / sum(weights) for k, v in keys.items()}, abs=1e-12
    )
    _assert_same(world, plan)


def test_plan_for_changes_only_the_given_assumptions(world):
    e = world["engine"]
    p = e.plan_for(cushion_pct=0.02)
    assert p == e.plan.with_changes(cushion_pct=0.02)
    assert e.plan_for() == e.plan


def test_the_glance_adds_up_to_the_company_target(world):
    dec = _full(world, world["plan"])
    g = glance_tables(dec)
    total = dec.company.set_index("measure").loc["revenue", "target"]
    for dim in ("region", "product_line", "customer_type"):
        assert g[dim]["target_revenue_no_cushion"].sum() == total
        assert g[dim]["share_of_target"].sum() == pytest.approx(1.0)
    assert list(g["company"]["measure"]) == list(dec.company["measure"])
    assert isinstance(g["company"], pd.DataFrame) and np.isfinite(g["company"]["target"]).all()
