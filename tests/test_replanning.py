"""Re-planning rules (salesanalysis.review.replan): property tests over random hierarchies.

Each rule of the re-planning is checked on random companies (regions, product lines, customer
types, reps, months, probabilities, landing forecasts, capacities, bounds):

* totals kept: the open months carry the need (floored at the remaining plan) less what is
  stated as unallocated, exactly in whole rounding units, and every roll-up (rep, region,
  product line, customer type, month) adds up to that total; closed months keep the plan;
* no raise for a rep or segment under ``min_chance``;
* bounds held: every rep x segment and every rep within ``+/- max_change`` of its remaining plan;
* unallocated only when the bounds bind.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesanalysis import review as rv
from salesanalysis.errors import PlanError
from salesanalysis.targets.plan import plan_from_dict

FY = 2026
MONTHS = pd.date_range(f"{FY}-01-01", periods=12, freq="MS")
LEVELS = {
    "rep": ["region", "rep_id"],
    "region": ["region"],
    "product_line": ["product_line"],
    "customer_type": ["customer_type"],
    "month": ["month"],
}


@st.composite
def companies(draw):
    """A random company: targets, actuals to date, landing facts, reps and the rule's bounds."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    unit = draw(st.sampled_from([1.0, 10.0, 1000.0]))
    regions = [f"R{i}" for i in range(draw(st.integers(1, 3)))]
    lines = [f"L{i}" for i in range(draw(st.integers(1, 2)))]
    types = [f"T{i}" for i in range(draw(st.integers(1, 2)))]
    reps = [(r, f"{r}-{k}") for r in regions for k in range(draw(st.integers(1, 3)))]
    period = draw(st.integers(1, 12))
    rows = []
    for region, rep in reps:
        for pl in lines:
            for ct in types:
                if rng.random() < 0.2:
                    continue  # not every rep sells every segment
                scale = float(rng.choice([0, 1, 5, 50, 500]))
                for m in MONTHS:
                    rows.append((m, region, pl, ct, rep, scale))
    if not rows:
        rows.append((MONTHS[0], regions[0], lines[0], types[0], reps[0][1], 1.0))
    t = pd.DataFrame(rows, columns=["month", *rv.DIMS, "scale"])
    size = len(t)
    t["target_revenue"] = np.round(t["scale"] * rng.uniform(0, 2, size)) * unit
    t["target_revenue_no_cushion"] = np.floor(t["target_revenue"] / unit * 0.95) * unit
    t["target_customers"] = rng.integers(0, 4, size).astype(float)
    closed = t[t["month"].dt.month <= period]
    a = closed[["month", *rv.DIMS]].copy()
    pace = draw(st.floats(0.0, 1.6))
    a["revenue"] = np.round(closed["target_revenue"] * rng.uniform(0, 2 * pace + 1e-9, len(a)))
    a["customers"] = rng.integers(0, 4, len(a)).astype(float)
    units = t[rv.DIMS].drop_duplicates()
    bottom = units.assign(
        level="bottom",
        p_reach_target=rng.choice(
            [0.0, 0.01, 0.05, 0.099, 0.1, 0.3, 0.7, 1.0, np.nan], len(units)
        ),
        forecast_rest=rng.uniform(0, 2, len(units))
        * 6
        * unit
        * rng.choice([0, 1, 50], len(units)),
    )
    rep_rows = pd.DataFrame(reps, columns=["region", "rep_id"]).assign(
        level="rep",
        product_line="*",
        customer_type="*",
        p_reach_target=rng.choice([0.0, 0.05, 0.2, 0.9, np.nan], len(reps)),
    )
    p_reach = pd.concat([bottom, rep_rows], ignore_index=True)
    p_reach = p_reach.sample(frac=draw(st.sampled_from([0.6, 1.0])), random_state=seed % 1000)
    staff = pd.DataFrame(
        {
            "rep_id": [r for _, r in reps],
            "hire_date": pd.to_datetime(rng.choice(["2020-01-01", "2026-08-01"], len(reps))),
            "end_date": pd.to_datetime(rng.choice([None, None, "2026-11-15"], len(reps))),
            "fte": rng.choice([0.5, 1.0], len(reps)),
        }
    )
    return {
        "targets": t.drop(columns="scale"),
        "actuals": a,
        "period": f"{FY}-{period:02d}",
        "p_reach": p_reach,
        "reps": staff,
        "unit": unit,
        "max_change": draw(st.sampled_from([0.0, 0.1, 0.3, 0.5, 1.0])),
        "min_chance": draw(st.sampled_from([0.0, 0.1, 0.3])),
        "floor_at_plan": draw(st.booleans()),
    }


def _run(c: dict) -> pd.DataFrame:
    return rv.replan(
        c["targets"],
        c["actuals"],
        c["period"],
        FY,
        p_reach=c["p_reach"],
        reps=c["reps"],
        max_change=c["max_change"],
        min_chance=c["min_chance"],
        floor_at_plan=c["floor_at_plan"],
        units={"revenue": c["unit"], "customers": 1.0},
    )


def _chances(c: dict, units: pd.DataFrame) -> pd.Series:
    """Each unit's chance as the rule reads it: the lower of its own and its rep's, 0.5 when
    neither is known (computed here independently of the package)."""
    pr = c["p_reach"]
    own = pr[pr["level"] == "bottom"].set_index(rv.DIMS)["p_reach_target"]
    rep = pr[pr["level"] == "rep"].set_index(["region", "rep_id"])["p_reach_target"]
    u = units.set_index(rv.DIMS).index
    a = own.reindex(u).to_numpy()
    b = rep.reindex(pd.MultiIndex.from_arrays([u.get_level_values(0), u.get_level_values(3)]))
    both = np.vstack([a, b.to_numpy()])
    low = np.where(np.isfinite(both), both, np.inf).min(axis=0)
    return pd.Series(np.where(np.isfinite(low), low, 0.5), index=u)


def _open(out: pd.DataFrame, measure: str) -> pd.DataFrame:
    o = out[out["status"] == "open"]
    return o.groupby(rv.DIMS)[[f"plan_{measure}", f"revised_{measure}"]].sum()


MEASURES = [
    ("revenue", "target_revenue", "revenue"),
    ("customers", "target_customers", "customers"),
]
MEASURES.append(("revenue_no_cushion", "target_revenue_no_cushion", "revenue"))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(companies())
def test_each_rule_holds_on_random_companies(c):
    """One re-plan per random company (a re-plan is the slow part), every rule checked on it."""
    before = {k: c[k].copy(deep=True) for k in ("targets", "actuals", "p_reach", "reps")}
    out = _run(c)
    for k, frame in before.items():
        pd.testing.assert_frame_equal(c[k], frame)  # inputs are never modified
    check_totals_kept_at_every_level(c, out)
    check_no_raise_under_min_chance(c, out)
    check_bounds_held_per_rep_and_segment(c, out)
    check_unallocated_only_where_the_bounds_bind(c, out)


def check_totals_kept_at_every_level(c: dict, out: pd.DataFrame) -> None:
    closed = out[out["status"] == "closed"]
    open_ = out[out["status"] == "open"]
    for measure, tcol, acol in MEASURES:
        unit = 1.0 if measure == "customers" else c["unit"]
        assert np.array_equal(closed[f"revised_{measure}"], closed[f"plan_{measure}"])
        need = max(c["targets"][tcol].sum() - c["actuals"][acol].sum(), 0.0)
        if c["floor_at_plan"]:
            need = max(need, open_[f"plan_{measure}"].clip(lower=0).sum())
        need_r = round(need / unit) * unit if len(open_) else 0.0
        # whole units: compare integers, so "exact" means exact
        units = np.round(open_[f"revised_{measure}"] / unit)
        assert np.allclose(open_[f"revised_{measure}"], units * unit, rtol=0, atol=1e-6 * unit)
        total = out.attrs["revised_open_total"][measure]
        assert units.sum() * unit == pytest.approx(total, abs=1e-6 * unit)
        assert total + out.attrs["unallocated"][measure] == pytest.approx(need_r, abs=1e-6)
    # the tables people read (by rep, region, product line, customer type, month) are whole
    # units that add up exactly to the revised total, and their plan column to the plan
    for keys in LEVELS.values():
        s = rv.replan_summary(open_, by=keys)
        for measure, unit in (("revenue", c["unit"]), ("customers", 1.0)):
            for col in (f"plan_{measure}", f"revised_{measure}"):
                u = s[col].to_numpy() / unit
                assert np.allclose(u, np.round(u), rtol=0, atol=1e-6)
                assert int(np.round(u).sum()) == int(np.round(open_[col] / unit).sum())


def check_no_raise_under_min_chance(c: dict, out: pd.DataFrame) -> None:
    units = out[rv.DIMS].drop_duplicates()
    chance = _chances(c, units)
    behind = chance[chance < c["min_chance"]].index
    for measure, _, _ in MEASURES:
        per = _open(out, measure)
        b = per.reindex(behind).dropna()
        assert (b[f"revised_{measure}"] <= b[f"plan_{measure}"] + 1e-9).all()
        # a rep under min_chance: no raise on the rep as a whole either
        rep_p = c["p_reach"].query("level == 'rep'").set_index(["region", "rep_id"])
        low = rep_p.index[rep_p["p_reach_target"] < c["min_chance"]]
        reps = per.groupby(["region", "rep_id"]).sum().reindex(low).dropna()
        assert (reps[f"revised_{measure}"] <= reps[f"plan_{measure}"] + 1e-9).all()


def check_bounds_held_per_rep_and_segment(c: dict, out: pd.DataFrame) -> None:
    mc = c["max_change"]
    for measure, _, _ in MEASURES:
        unit = 1.0 if measure == "customers" else c["unit"]
        per = _open(out, measure)
        for frame in (per, per.groupby(["region", "rep_id"]).sum()):
            plan, rev = frame[f"plan_{measure}"], frame[f"revised_{measure}"]
            on_grid = np.isclose(plan / unit, np.round(plan / unit))  # plans in whole units
            assert (rev[on_grid] <= (1 + mc) * plan[on_grid] + 1e-6 * unit).all()
            assert (rev[on_grid] >= (1 - mc) * plan[on_grid] - 1e-6 * unit).all()
        assert (per[f"revised_{measure}"][per[f"plan_{measure}"] <= 0] == 0).all()


def check_unallocated_only_where_the_bounds_bind(c: dict, out: pd.DataFrame) -> None:
    unit = c["unit"]
    left = out.attrs["unallocated"]["revenue"]
    per = _open(out, "revenue")
    plan, rev = per["plan_revenue"], per["revised_revenue"]
    chance = _chances(c, per.reset_index()[rv.DIMS]).reindex(plan.index)
    behind = chance.to_numpy() < c["min_chance"]
    lo, hi = rv.unit_bounds(plan.to_numpy(), behind, c["max_change"], unit)
    if left > 0:  # short of the need: nobody who may take more has room left
        able = rev.to_numpy() < hi - 1e-6
        # a unit with room is one that may not be raised: no capacity left in the open months
        cap = rv.rep_capacity(c["reps"], FY)
        months = out.loc[out["status"] == "open", "month"].unique()
        left_cap = cap[cap["month"].isin(months)].groupby("rep_id")["capacity"].sum()
        rep_cap = left_cap.reindex(plan.index.get_level_values("rep_id")).fillna(1.0)
        assert not (able & ~behind & (rep_cap.to_numpy() > 0) & (chance.to_numpy() > 0)).any()
        assert not (able & behind).any()
    if left < 0:  # more than the need: everybody is at the lowest the bounds allow
        assert np.allclose(rev.to_numpy(), lo)


def _two_reps(p_a: float, p_b: float, fte_b: float = 1.0, sold: float = 1000.0) -> dict:
    """Two reps in one segment, 1,000 planned a month each, 10 closed months with ``sold`` a
    month each; A's landing forecast of the 2 open months is 1,800, B's 2,000."""
    t = pd.DataFrame(
        [(m, "N", "L", "T", r) for r in ("A", "B") for m in MONTHS], columns=["month", *rv.DIMS]
    )
    t["target_revenue"] = 1000.0
    a = t[t["month"].dt.month <= 10][["month", *rv.DIMS]].assign(revenue=sold, customers=0.0)
    p = pd.DataFrame(
        {
            "level": "bottom",
            "region": "N",
            "product_line": "L",
            "customer_type": "T",
            "rep_id": ["A", "B"],
            "p_reach_target": [p_a, p_b],
            "forecast_rest": [1800.0, 2000.0],
        }
    )
    reps = pd.DataFrame({"rep_id": ["A", "B"], "fte": [1.0, fte_b]})
    return {"targets": t, "actuals": a, "p_reach": p, "reps": reps}


def _rep_change(out: pd.DataFrame) -> pd.Series:
    o = out[out["status"] == "open"].groupby("rep_id")[["plan_revenue", "revised_revenue"]]
    s = o.sum()
    return s["revised_revenue"] - s["plan_revenue"]


def _replan(w: dict, **kw) -> pd.DataFrame:
    kw.setdefault("units", {"revenue": 10.0})
    return rv.replan(
        w["targets"], w["actuals"], "2026-10", FY, p_reach=w["p_reach"], reps=w["reps"], **kw
    )


def test_rep_behind_is_lowered_toward_its_landing_and_the_difference_moves_ahead():
    out = _replan(_two_reps(0.0, 0.9))  # on plan to date: the open months carry their plan
    change = _rep_change(out)
    assert change["A"] == -200.0 and change["B"] == 200.0  # A down to its landing, 1,800
    assert out.attrs["unallocated"]["revenue"] == 0
    assert set(out.loc[(out["rep_id"] == "A") & (out["status"] == "open"), "rule"]) == {
        "lowered: chance under 10.0%"
    }
    # a landing further down than the bound: A is cut by 30%, not more
    w = _two_reps(0.0, 0.9)
    w["p_reach"]["forecast_rest"] = [100.0, 2000.0]
    change = _rep_change(_replan(w))
    assert change["A"] == -600.0 and change["B"] == 600.0


def test_bounds_win_over_the_total_and_say_so():
    # behind to date: need 6,000 for 4,000 planned; B ahead takes +30% (600), A (0% chance)
    # goes back to its plan rather than being cut, and the rest (1,400) is stated
    out = _replan(_two_reps(0.0, 0.9, sold=900.0))
    change = _rep_change(out)
    assert change["A"] == 0.0 and change["B"] == 600.0
    assert out.attrs["unallocated"]["revenue"] == 6000.0 - 4600.0
    text = rv.replan_statement(out, "CNY")
    assert "1,400 CNY" in text and "10.0%" in text and "30.0%" in text


def test_raises_follow_chance_and_capacity():
    # sold 950 a month: need 5,000 for 4,000 planned, the 1,000 fits within the bounds
    out = _replan(
        _two_reps(0.5, 0.5, fte_b=0.5, sold=950.0), units={"revenue": 1.0}, max_change=1.0
    )
    change = _rep_change(out)
    assert out.attrs["unallocated"]["revenue"] == 0
    assert change["A"] == pytest.approx(2 * change["B"], abs=1)  # a full FTE against a half
    change2 = _rep_change(
        _replan(_two_reps(0.8, 0.2, sold=950.0), units={"revenue": 1.0}, max_change=1.0)
    )
    assert change2["A"] == pytest.approx(4 * change2["B"], abs=1)  # 80% against 20%


def test_plan_replan_settings_are_validated_and_used():
    base = {"fiscal_year": FY, "plan_cutoff": "2025-12", "targets": {"revenue": {"growth": 0.1}}}
    plan = plan_from_dict({**base, "replan": {"max_change": 0.0, "min_chance": 0.2}})
    assert plan.replan.max_change == 0.0 and plan.to_dict()["replan"]["min_chance"] == 0.2
    assert plan_from_dict(base).replan.max_change == pytest.approx(0.30)
    with pytest.raises(PlanError) as err:
        plan_from_dict({**base, "replan": {"max_change": 1.5, "speed": 1}})
    msg = str(err.value) + " ".join(str(p) for p in err.value.problems)
    assert "replan.max_change" in msg and "speed" in msg
    out = _replan(_two_reps(0.0, 0.9, sold=900.0), plan=plan)
    open_ = out[out["status"] == "open"]
    assert np.array_equal(open_["revised_revenue"], open_["plan_revenue"])  # +/-0%: kept
    assert out.attrs["rule"] == {"max_change": 0.0, "min_chance": 0.2}
