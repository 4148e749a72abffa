"""Tests of the performance review (salesanalysis.review): small fixture frames built in code."""

from __future__ import annotations

import json
import math
from collections import defaultdict

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesanalysis import review as rv
from salesanalysis.data.cube import build_cube, build_customer_cube
from salesanalysis.errors import InputError, PlanError
from salesanalysis.report.formatting import money

FY = 2026
PERIOD = "2026-10"
SEASON = np.array([0.6, 0.6, 1.0, 1.0, 1.0, 1.2, 1.0, 0.9, 1.0, 1.0, 1.1, 1.5])
REGIONS = ["华东", "West"]
LINES = ["Pumps", "Valves"]
TYPES = ["SMB", "KA"]
PRICE = {"Pumps": 100.0, "Valves": 20.0}
REPS = pd.DataFrame(
    {
        "rep_id": ["R1", "R2", "R3", "R4"],
        "name": ["甲", "乙", "丙", "丁"],
        "region": ["华东", "华东", "West", "West"],
        "hire_date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-01-01", "2026-07-01"]),
        "end_date": pd.NaT,
        "fte": [1.0, 1.0, 1.0, 1.0],
    }
)
PLAN = {
    "fiscal_year": FY,
    "reps": {"ramp_months": 6, "ramp_curve": "linear", "ramp_start": 0.25},
    "rounding": {"revenue": 10, "customers": 1},
}


def make_lines(seed: int = 0, last: str = PERIOD) -> pd.DataFrame:
    """Transaction-like lines for 2025 and 2026 up to ``last``: 40 customers, 3 lost after 2025,
    5 new in 2026, a 5% Pumps price rise in 2026, rep R4 hired in July 2026, a few returns."""
    rng = np.random.default_rng(seed)
    rows = []
    end = pd.Period(last, "M").to_timestamp()
    for y in (2025, 2026):
        for mth in range(1, 13):
            m = pd.Timestamp(y, mth, 1)
            if m > end:
                break
            for i in range(40):
                if (y == 2025 and i >= 35) or (y == 2026 and i < 3):
                    continue
                if rng.random() > 0.5 * SEASON[mth - 1]:
                    continue
                reg, ct = REGIONS[i % 2], TYPES[(i // 2) % 2]
                rep = ["R1", "R2"][(i // 4) % 2] if reg == "华东" else ["R3", "R4"][(i // 4) % 2]
                if rep == "R4" and m < pd.Timestamp(2026, 7, 1):
                    rep = "R3"
                for pl in LINES:
                    if rng.random() < 0.3:
                        continue
                    q = float(rng.integers(1, 5)) * (-1 if rng.random() < 0.03 else 1)
                    up = PRICE[pl] * (1.05 if y == 2026 and pl == "Pumps" else 1.0)
                    rows.append(
                        {
                            "date": m + pd.Timedelta(days=int(rng.integers(0, 27))),
                            "month": m,
                            "order_id": f"O{len(rows)}",
                            "customer_id": f"C{i:03d}",
                            "customer_type": ct,
                            "region": reg,
                            "product_line": pl,
                            "rep_id": rep,
                            "quantity": q,
                            "unit_price": up,
                            "revenue": q * up,
                        }
                    )
    return pd.DataFrame(rows)


def make_targets(tx: pd.DataFrame, growth: float = 1.1) -> pd.DataFrame:
    """Last year's revenue x growth, same phasing; customers = last year's activations rule
    proxy (1 per active cell-month)."""
    ly = tx[tx["month"].dt.year == FY - 1]
    t = ly.groupby(["month", *rv.DIMS])["revenue"].sum().reset_index()
    t["month"] = t["month"] + pd.DateOffset(years=1)
    t["target_revenue"] = (t["revenue"] * growth).round(-1).clip(lower=0.0)
    t["target_customers"] = np.where(t["month"].dt.month <= 2, 2, 0)
    t["plan_name"] = "test plan"
    return t.drop(columns="revenue")


def make_forecast(
    tgt: pd.DataFrame, start: str = "2026-11", scale: float = 1.0, width: float = 0.1
) -> pd.DataFrame:
    """A coherent forecast at every level for the months from ``start`` (= target x scale)."""
    f = tgt[tgt["month"] >= pd.Period(start, "M").to_timestamp()]
    out = []
    for level in ["total", "region", "product_line", "customer_type", "cell", "rep", "bottom"]:
        keys = rv.LEVEL_KEYS[level]
        g = f.groupby([*keys, "month"])["target_revenue"].sum().reset_index()
        for d in rv.DIMS:
            if d not in keys:
                g[d] = "*"
        g["level"] = level
        g["mean"] = g["target_revenue"] * scale
        g["lo_80"], g["hi_80"] = g["mean"] * (1 - width), g["mean"] * (1 + width)
        g["lo_95"], g["hi_95"] = g["mean"] * (1 - 1.5 * width), g["mean"] * (1 + 1.5 * width)
        g["model"], g["base_mean"] = "test", g["mean"]
        out.append(g.drop(columns="target_revenue"))
    return pd.concat(out, ignore_index=True)


def make_market(tx: pd.DataFrame) -> pd.DataFrame:
    ly = tx[tx["month"].dt.year == FY - 1]
    m = ly.groupby(["month", "region", "product_line"])["revenue"].sum().reset_index()
    m["market_size"] = (m["revenue"].abs() + 100.0) * 5
    m26 = m.assign(month=m["month"] + pd.DateOffset(years=1))
    return pd.concat([m, m26], ignore_index=True).drop(columns="revenue")


@pytest.fixture(scope="module")
def world():
    tx = make_lines()
    cube, cust = build_cube(tx), build_customer_cube(tx)
    tgt = make_targets(tx)
    fc = make_forecast(tgt)
    mk = make_market(tx)
    review = rv.build_review(cube, cust, tgt, fc, mk, PERIOD, FY)
    act = rv.monthly_actuals(cube, cust, PERIOD, FY)
    tgm = rv.monthly_targets(tgt, FY)
    return {
        "tx": tx,
        "cube": cube,
        "cust": cust,
        "tgt": tgt,
        "fc": fc,
        "mk": mk,
        "review": review,
        "act": act,
        "tgm": tgm,
    }


def _row(review, level, measure, window, **key):
    sel = (
        (review["level"] == level) & (review["measure"] == measure) & (review["window"] == window)
    )
    for d in rv.DIMS:
        sel &= review[d] == key.get(d, "*")
    rows = review[sel]
    assert len(rows) == 1, (level, measure, window, key, len(rows))
    return rows.iloc[0]


# --------------------------------------------------------------------------- attainment


def _independent(tx: pd.DataFrame, tgt: pd.DataFrame):
    """Revenue and activations per region from raw lines with plain Python (no groupby)."""
    end = pd.Timestamp(PERIOD + "-01")
    rev = defaultdict(float)
    rev_m = defaultdict(float)
    cust_month_rev = defaultdict(float)
    cust_cell_rev = defaultdict(float)
    for r in tx.itertuples():
        if r.month.year != FY or r.month > end:
            continue
        rev[r.region] += r.revenue
        if r.month == end:
            rev_m[r.region] += r.revenue
        cust_month_rev[(r.customer_id, r.month)] += r.revenue
        cust_cell_rev[(r.customer_id, (r.region, r.product_line, r.customer_type, r.rep_id))] += (
            r.revenue
        )
    first = {}
    for (c, m), v in sorted(cust_month_rev.items()):
        if v > 0 and c not in first:
            first[c] = m
    best = {}
    for (c, cell), v in sorted(cust_cell_rev.items()):
        if c not in best or v > best[c][0]:
            best[c] = (v, cell)
    acts = defaultdict(int)
    for c in first:
        acts[best[c][1][0]] += 1
    t_ytd = defaultdict(float)
    t_fy = defaultdict(float)
    for r in tgt.itertuples():
        t_fy[r.region] += r.target_revenue
        if r.month <= end:
            t_ytd[r.region] += r.target_revenue
    return rev, rev_m, acts, t_ytd, t_fy


def test_attainment_matches_independent_computation_from_lines(world):
    rev, rev_m, acts, t_ytd, t_fy = _independent(world["tx"], world["tgt"])
    review = world["review"]
    for region in REGIONS:
        ytd = _row(review, "region", "revenue", "ytd", region=region)
        assert ytd["actual"] == pytest.approx(rev[region], rel=1e-12)
        assert ytd["target"] == pytest.approx(t_ytd[region], rel=1e-12)
        assert ytd["attainment"] == pytest.approx(rev[region] / t_ytd[region], rel=1e-12)
        fy = _row(review, "region", "revenue", "fy", region=region)
        assert fy["attainment"] == pytest.approx(rev[region] / t_fy[region], rel=1e-12)
        m = _row(review, "region", "revenue", "month", region=region)
        assert m["actual"] == pytest.approx(rev_m[region], rel=1e-12)
        c = _row(review, "region", "customers", "ytd", region=region)
        assert c["actual"] == acts[region]
    total = _row(review, "total", "revenue", "ytd")
    assert total["actual"] == pytest.approx(sum(rev.values()), rel=1e-12)
    assert _row(review, "total", "customers", "ytd")["actual"] == sum(acts.values())


def test_levels_add_up_and_schema(world):
    review = world["review"]
    assert list(review.columns) == rv.REVIEW_COLUMNS
    assert set(review["window"]) == set(rv.WINDOWS)
    assert set(review["measure"]) == set(rv.MEASURES)
    for measure in ("revenue", "customers"):
        for window in rv.WINDOWS:
            total = _row(review, "total", measure, window)
            for level in ("region", "product_line", "customer_type", "cell", "rep"):
                part = review[
                    (review["level"] == level)
                    & (review["measure"] == measure)
                    & (review["window"] == window)
                ]
                assert part["actual"].sum() == pytest.approx(total["actual"], rel=1e-12)
                assert part["target"].sum() == pytest.approx(total["target"], rel=1e-12)
    # landing only on fy rows
    assert review.loc[review["window"] != "fy", "landing_mean"].isna().all()


def test_customer_count_is_additive_distinct_count(world):
    cust = world["cust"]
    a = rv.customer_activations(cust, PERIOD, FY)
    ytd = cust[(cust["month"].dt.year == FY)]
    by_cm = ytd.groupby(["customer_id", "month"])["revenue"].sum()
    assert a["customers"].sum() == by_cm[by_cm > 0].reset_index()["customer_id"].nunique()


def test_home_cell_tie_breaks_on_sorted_keys():
    m = pd.Timestamp("2026-03-01")
    cust = pd.DataFrame(
        {
            "month": [m, m],
            "customer_id": ["C1", "C1"],
            "region": ["B", "A"],
            "product_line": ["P", "P"],
            "customer_type": ["T", "T"],
            "rep_id": ["R", "R"],
            "revenue": [50.0, 50.0],
            "quantity": [1.0, 1.0],
            "orders": [1, 1],
        }
    )
    a = rv.customer_activations(cust, "2026-03", FY)
    assert a[["region", "customers"]].to_dict("records") == [{"region": "A", "customers": 1}]


def test_market_share_is_revenue_over_market_size(world):
    review, mk, tx = world["review"], world["mk"], world["tx"]
    end = pd.Timestamp(PERIOD + "-01")
    ytd = tx[(tx["month"].dt.year == FY) & (tx["month"] <= end)]
    m_ytd = mk[(mk["month"].dt.year == FY) & (mk["month"] <= end)]
    row = _row(
        review, "region_product_line", "market_share", "ytd", region="华东", product_line="Pumps"
    )
    sel = (ytd["region"] == "华东") & (ytd["product_line"] == "Pumps")
    msel = (m_ytd["region"] == "华东") & (m_ytd["product_line"] == "Pumps")
    assert row["actual"] == pytest.approx(
        ytd.loc[sel, "revenue"].sum() / m_ytd.loc[msel, "market_size"].sum()
    )


def test_company_targets_without_cushion_used_above_rep_level(world):
    tgt = world["tgt"]
    cushioned = tgt.assign(target_revenue=tgt["target_revenue"] * 1.05)
    company = (
        tgt.groupby(["month", "region", "product_line", "customer_type"])[
            ["target_revenue", "target_customers"]
        ]
        .sum()
        .reset_index()
    )
    r = rv.build_review(
        world["cube"], world["cust"], cushioned, None, None, PERIOD, FY, company_targets=company
    )
    base = world["review"]
    assert _row(r, "total", "revenue", "fy")["target"] == pytest.approx(
        _row(base, "total", "revenue", "fy")["target"]
    )
    assert _row(r, "rep", "revenue", "fy", region="华东", rep_id="R1")["target"] == pytest.approx(
        1.05 * _row(base, "rep", "revenue", "fy", region="华东", rep_id="R1")["target"]
    )


def test_period_outside_fiscal_year_is_a_plan_error(world):
    with pytest.raises(PlanError, match="outside the plan's fiscal year"):
        rv.build_review(world["cube"], world["cust"], world["tgt"], None, None, "2027-01", FY)


def test_missing_target_column_is_an_input_error(world):
    with pytest.raises(InputError, match="target_revenue"):
        rv.monthly_targets(world["tgt"].drop(columns="target_revenue"), FY)


# --------------------------------------------------------------------------- pacing


def test_pacing_uses_phased_target_not_straight_line():
    months = rv.fiscal_months(FY)
    # a seasonal target: half of the year in November-December
    phased = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 5, 5], dtype=float) * 1000
    tgt = pd.DataFrame(
        {
            "month": months,
            "region": "A",
            "product_line": "P",
            "customer_type": "T",
            "rep_id": "R",
            "target_revenue": phased,
            "target_customers": 0,
        }
    )
    actual = pd.DataFrame(
        {
            "month": months[:10],
            "region": "A",
            "product_line": "P",
            "customer_type": "T",
            "rep_id": "R",
            "revenue": 1000.0,
            "quantity": 1.0,
            "orders": 1,
            "customers": 1,
        }
    )
    cust = actual.assign(customer_id="C1")
    review = rv.build_review(actual, cust, tgt, None, None, PERIOD, FY)
    pace = rv.pacing_table(review, PERIOD, FY)
    tot = pace[pace["level"] == "total"].iloc[0]
    assert tot["expected_to_date"] == pytest.approx(10_000)  # phased: Jan-Oct
    assert tot["straight_line"] == pytest.approx(20_000 * 10 / 12)
    assert tot["expected_to_date"] != pytest.approx(tot["straight_line"])
    assert tot["pace_gap"] == pytest.approx(0.0)  # on pace with the seasonal plan
    assert tot["required_remaining"] == pytest.approx(10_000)
    assert tot["required_per_month"] == pytest.approx(5_000)
    assert tot["required_vs_plan"] == pytest.approx(1.0)
    curve = rv.pacing_curve(
        rv.monthly_actuals(actual, cust, PERIOD, FY), rv.monthly_targets(tgt, FY), None, PERIOD, FY
    )
    assert curve["cum_target"].iloc[9] == pytest.approx(10_000)
    assert curve["required"].iloc[10:].tolist() == pytest.approx([5000, 5000])


# --------------------------------------------------------------------------- landing


def test_landing_forecast_made_before_the_year_uses_only_remaining_months(world):
    fc_full = make_forecast(world["tgt"], start="2026-01", scale=2.0)
    land = rv.landing_forecast(world["act"], world["tgm"], fc_full, PERIOD, FY, levels=["total"])
    row = land.iloc[0]
    rest = world["tgm"][world["tgm"]["month"] > pd.Timestamp(PERIOD + "-01")]["target_revenue"]
    assert row["forecast_rest"] == pytest.approx(2.0 * rest.sum())
    assert row["landing_mean"] == pytest.approx(row["actual_ytd"] + 2.0 * rest.sum())


def test_landing_interval_and_probability(world):
    land = rv.landing_forecast(
        world["act"],
        world["tgm"],
        world["fc"],
        PERIOD,
        FY,
        levels=["total"],
        month_correlation=1.0,
    )
    row = land.iloc[0]
    rest = world["tgm"][world["tgm"]["month"] > pd.Timestamp(PERIOD + "-01")]["target_revenue"]
    # rho = 1 with symmetric bounds: the 80% interval = sum of the monthly bounds
    assert row["landing_hi_80"] - row["landing_mean"] == pytest.approx(0.1 * rest.sum())
    z = (row["target_fy"] - row["landing_mean"]) / row["landing_sd"]
    assert row["p_reach_target"] == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)))
    # target exactly at the landing mean: 50%
    assert rv.p_reach([100.0], [100.0], [10.0])[0] == pytest.approx(0.5)
    indep = rv.landing_forecast(
        world["act"],
        world["tgm"],
        world["fc"],
        PERIOD,
        FY,
        levels=["total"],
        month_correlation=0.0,
    ).iloc[0]
    assert indep["landing_sd"] < row["landing_sd"]


def test_landing_needs_forecast_to_cover_the_rest_of_the_year(world):
    short = world["fc"][world["fc"]["month"] < pd.Timestamp("2026-12-01")]
    with pytest.raises(InputError, match="2026-12"):
        rv.landing_forecast(world["act"], world["tgm"], short, PERIOD, FY)


def test_december_landing_is_the_actual():
    tx = make_lines(last="2026-12")
    cube, cust = build_cube(tx), build_customer_cube(tx)
    tgt = make_targets(tx)
    review = rv.build_review(
        cube, cust, tgt, make_forecast(tgt, start="2027-01"), None, "2026-12", FY
    )
    fy = _row(review, "total", "revenue", "fy")
    assert fy["landing_mean"] == pytest.approx(fy["actual"])
    assert fy["p_reach_target"] == float(fy["actual"] >= fy["target"])


def test_customer_landing_is_pace_adjusted():
    out = rv.customer_landing([50.0], [40.0], [100.0])
    # remaining plan 60 x pace 1.25 = 75 expected activations still to come
    assert out["landing_mean"].iloc[0] == pytest.approx(125.0)
    assert out["landing_lo_80"].iloc[0] < 125 < out["landing_hi_80"].iloc[0]
    assert 0.99 < out["p_reach_target"].iloc[0] <= 1.0


def test_headline_is_json_serialisable(world):
    h = rv.headline(world["review"])
    json.dumps(h, ensure_ascii=False)
    assert h["ytd_attainment"] == pytest.approx(h["ytd_actual"] / h["ytd_target"])
    assert len(h["behind"]) <= 3 and len(h["ahead"]) <= 3
    assert all(b["gap"] < 0 for b in h["behind"]) and all(a["gap"] > 0 for a in h["ahead"])
    gaps = [b["gap"] for b in h["behind"]]
    assert gaps == sorted(gaps)


# --------------------------------------------------------------------------- bridges


def _adds_up(bridge: pd.DataFrame) -> None:
    start, end = bridge["amount"].iloc[0], bridge["amount"].iloc[-1]
    deltas = bridge.loc[bridge["kind"] == "delta", "amount"]
    scale = max(1.0, abs(start), abs(end), float(deltas.abs().max() or 0))
    assert math.fsum(deltas) == pytest.approx(end - start, abs=1e-9 * scale)
    assert bridge["cumulative"].iloc[-2] == pytest.approx(end, abs=1e-9 * scale)


def test_bridges_add_up_on_fixture(world):
    ly = rv.bridge_last_year(world["cust"], PERIOD, FY)
    _adds_up(ly)
    tx = world["tx"]
    ytd = tx[(tx["month"] >= "2026-01-01") & (tx["month"] <= "2026-10-01")]
    assert ly["amount"].iloc[-1] == pytest.approx(ytd["revenue"].sum())
    assert ly.set_index("step").loc["new_customers", "amount"] > 0
    assert ly.set_index("step").loc["lost_customers", "amount"] < 0
    tb = rv.bridge_target(world["cust"], world["tgt"], PERIOD, FY)
    _adds_up(tb)
    assert tb["amount"].iloc[0] == pytest.approx(
        world["tgm"].loc[world["tgm"]["month"] <= "2026-10-01", "target_revenue"].sum()
    )
    _adds_up(
        rv.bridge_target(
            world["cust"], world["tgt"], PERIOD, FY, where={"region": "West"}, window="month"
        )
    )


def test_pvm_chain_known_cases():
    seg = {"region": "A", "product_line": "P", "customer_type": "T"}
    base = pd.DataFrame([{**seg, "revenue": 100.0, "quantity": 10.0}])
    # pure price: +10% price, same quantity
    assert rv.pvm_chain(base, base.assign(revenue=110.0)) == pytest.approx(
        {
            "volume": 0,
            "mix_region": 0,
            "mix_product_line": 0,
            "mix_customer_type": 0,
            "price": 10.0,
        }
    )
    # pure volume: twice the quantity at the same price
    assert rv.pvm_chain(base, base.assign(revenue=200.0, quantity=20.0))["volume"] == 100.0
    # pure region mix: same units, shifted to the dearer region
    two = pd.DataFrame(
        [
            {**seg, "revenue": 100.0, "quantity": 10.0},
            {**seg, "region": "B", "revenue": 300.0, "quantity": 10.0},
        ]
    )
    shifted = two.assign(quantity=[5.0, 15.0], revenue=[50.0, 450.0])
    res = rv.pvm_chain(two, shifted)
    assert res["mix_region"] == pytest.approx(100.0)
    assert res["volume"] == res["price"] == res["mix_product_line"] == 0
    # price measured like for like: a shift between customer types is mix, not price
    ct = pd.DataFrame(
        [
            {**seg, "revenue": 100.0, "quantity": 10.0},
            {**seg, "customer_type": "U", "revenue": 200.0, "quantity": 10.0},
        ]
    )
    res = rv.pvm_chain(ct, ct.assign(quantity=[0.0, 20.0], revenue=[0.0, 400.0]))
    assert res["price"] == pytest.approx(0.0)
    assert res["mix_customer_type"] == pytest.approx(100.0)


_seg = st.tuples(
    st.sampled_from(["A", "B", "C"]), st.sampled_from(["P", "Q"]), st.sampled_from(["S", "K"])
)
_money = st.floats(-50, 5000, allow_nan=False, allow_infinity=False)
_qty = st.sampled_from([-2.0, 0.0, 0.0, 1.0, 2.0, 3.0, 7.5, 40.0])


@st.composite
def _cube_rows(draw):
    n = draw(st.integers(1, 30))
    rows = []
    for _ in range(n):
        r, p, c = draw(_seg)
        rows.append(
            {
                "month": pd.Timestamp(
                    draw(st.sampled_from([2025, 2026])), draw(st.integers(1, 12)), 1
                ),
                "customer_id": draw(st.sampled_from([f"C{i}" for i in range(8)])),
                "region": r,
                "product_line": p,
                "customer_type": c,
                "rep_id": draw(st.sampled_from(["R1", "R2"])),
                "revenue": draw(_money),
                "quantity": draw(_qty),
                "orders": 1,
            }
        )
    return pd.DataFrame(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_cube_rows(), month=st.integers(1, 12))
def test_bridge_last_year_adds_up_exactly(rows, month):
    b = rv.bridge_last_year(rows, f"2026-{month:02d}", FY)
    _adds_up(b)
    ty = rows[(rows["month"].dt.year == 2026) & (rows["month"].dt.month <= month)]
    assert b["amount"].iloc[-1] == pytest.approx(ty["revenue"].sum())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=_cube_rows(),
    tgt=st.lists(
        st.tuples(_seg, st.integers(1, 10), st.floats(0, 9000), st.integers(0, 5)),
        min_size=0,
        max_size=12,
    ),
    price=st.floats(0.5, 500),
    month=st.integers(1, 12),
)
def test_bridge_target_adds_up_exactly(rows, tgt, price, month):
    t = pd.DataFrame(
        [
            {
                "month": pd.Timestamp(2026, m, 1),
                "region": s[0],
                "product_line": s[1],
                "customer_type": s[2],
                "rep_id": "R1",
                "target_revenue": v,
                "target_customers": n,
            }
            for s, m, v, n in tgt
        ],
        columns=["month", *rv.DIMS, "target_revenue", "target_customers"],
    )
    if t.empty:
        t = pd.DataFrame(
            {
                "month": [pd.Timestamp(2026, 1, 1)],
                "region": ["A"],
                "product_line": ["P"],
                "customer_type": ["S"],
                "rep_id": ["R1"],
                "target_revenue": [0.0],
                "target_customers": [0],
            }
        )
    prices = pd.DataFrame(
        [
            {"region": r, "product_line": p, "customer_type": c, "target_price": price * (1 + i)}
            for i, (r, p, c) in enumerate([(r, p, c) for r in "AB" for p in "PQ" for c in "SK"])
        ]
    )
    b = rv.bridge_target(rows, t, f"2026-{month:02d}", FY, prices=prices)
    _adds_up(b)
    b2 = rv.bridge_target(rows, t, f"2026-{month:02d}", FY)  # default prices from last year
    _adds_up(b2)


def test_target_prices_follow_last_year_and_plan_strategies(world):
    plan = {
        "strategies": [
            {
                "name": "pumps +3%",
                "segment": {"product_line": "Pumps"},
                "kind": "price",
                "pct": 0.03,
                "rationale": "list price",
            }
        ]
    }
    p0 = rv.target_unit_prices(world["cust"], PERIOD, FY)
    p1 = rv.target_unit_prices(world["cust"], PERIOD, FY, plan=plan)
    pumps = p0["product_line"] == "Pumps"
    assert p0.loc[pumps, "target_price"].round(6).eq(100.0).all()  # 2025 Pumps price
    assert np.allclose(p1.loc[pumps, "target_price"], 103.0)
    assert np.allclose(p1.loc[~pumps, "target_price"], p0.loc[~pumps, "target_price"])


# --------------------------------------------------------------------------- reps


def test_gini_known_cases():
    assert rv.gini([5, 5, 5, 5]) == pytest.approx(0.0)
    assert rv.gini([0, 0, 0, 1]) == pytest.approx(0.75)
    assert rv.gini([1, 2, 3, 4]) == pytest.approx(0.25)
    assert rv.gini([1, 2], weights=[2, 1]) == pytest.approx(rv.gini([1, 1, 2]))
    assert rv.gini([]) == 0.0
    with pytest.raises(ValueError):
        rv.gini([-1, 2])


@given(st.lists(st.floats(0, 1e6), min_size=1, max_size=40), st.floats(0.1, 100))
def test_gini_bounds_and_scale_invariance(xs, k):
    g = rv.gini(xs)
    assert -1e-12 <= g <= 1 - 1 / len(xs) + 1e-9
    assert rv.gini([x * k for x in xs]) == pytest.approx(g, abs=1e-9)


def test_rep_hired_mid_year_is_judged_on_active_months(world):
    board = rv.rep_leaderboard(
        world["act"], world["tgm"], REPS, PERIOD, FY, plan=PLAN, review=world["review"]
    ).set_index("rep_id")
    r4 = board.loc["R4"]
    assert r4["active_months"] == 4  # July-October
    # linear ramp from 0.25 over 6 months: k = 0..3
    assert r4["capacity_ytd"] == pytest.approx(0.25 + 0.375 + 0.5 + 0.625)
    # fair target: West team's target per unit of capacity, July-October only
    cap = rv.rep_capacity(REPS, FY, ramp_months=6, ramp_curve="linear", ramp_start=0.25)
    tg = world["tgm"]
    fair = 0.0
    for m in pd.date_range("2026-07-01", "2026-10-01", freq="MS"):
        team_t = tg[(tg["month"] == m) & tg["rep_id"].isin(["R3", "R4"])]["target_revenue"].sum()
        c = cap[cap["month"] == m].set_index("rep_id")["capacity"]
        fair += team_t * c["R4"] / (c["R3"] + c["R4"])
    assert r4["fair_target_ytd"] == pytest.approx(fair)
    act = world["act"]
    assert r4["actual_active"] == pytest.approx(act.loc[act["rep_id"] == "R4", "revenue"].sum())
    assert r4["ramp_adjusted_attainment"] == pytest.approx(r4["actual_active"] / fair)
    # fair targets of a team add up to its targets to date
    ytd = tg[tg["month"] <= "2026-10-01"]
    assert board.loc[["R3", "R4"], "fair_target_ytd"].sum() == pytest.approx(
        ytd[ytd["rep_id"].isin(["R3", "R4"])]["target_revenue"].sum()
    )
    assert list(board["rank"]) == list(range(1, len(board) + 1))
    spread = rv.attainment_spread(board.reset_index())
    assert spread["n"] == 4 and 0 <= spread["gini_target_per_capacity"] < 1


def test_rep_who_left_is_not_judged_after_leaving(world):
    reps = REPS.assign(end_date=pd.to_datetime([pd.NaT, "2026-05-31", pd.NaT, pd.NaT]))
    board = rv.rep_leaderboard(world["act"], world["tgm"], reps, PERIOD, FY, plan=PLAN)
    r2 = board.set_index("rep_id").loc["R2"]
    assert r2["active_months"] == 5
    act = world["act"]
    early = act[(act["rep_id"] == "R2") & (act["month"] <= "2026-05-01")]["revenue"].sum()
    assert r2["actual_active"] == pytest.approx(early)


# --------------------------------------------------------------------------- re-planning


def test_replan_totals_add_up_and_plan_is_untouched(world):
    tgm, act = world["tgm"], world["act"]
    before_t, before_a = tgm.copy(deep=True), act.copy(deep=True)
    land = rv.landing_forecast(act, tgm, world["fc"], PERIOD, FY, levels=["bottom"])
    out = rv.replan(tgm, act, PERIOD, FY, p_reach=land, plan=PLAN)
    pd.testing.assert_frame_equal(tgm, before_t)
    pd.testing.assert_frame_equal(act, before_a)
    merged = out.merge(tgm, on=["month", *rv.DIMS], how="left")
    assert np.array_equal(merged["plan_revenue"], merged["target_revenue"])
    closed = out[out["status"] == "closed"]
    assert np.array_equal(closed["revised_revenue"], closed["plan_revenue"])
    open_ = out[out["status"] == "open"]
    need = tgm["target_revenue"].sum() - act["revenue"].sum()
    open_plan = tgm.loc[tgm["month"] > "2026-10-01", "target_revenue"].sum()
    assert need > open_plan  # the fixture is behind plan: the gap is re-planned
    need_r = round(need / 10) * 10
    total = out.attrs["revised_open_total"]["revenue"]
    assert open_["revised_revenue"].sum() == total
    # the bounds (+/-30% per rep x segment) cannot carry this gap: the rest is said, not spread
    assert total + out.attrs["unallocated"]["revenue"] == need_r
    assert out.attrs["unallocated"]["revenue"] > 0
    assert f"{out.attrs['unallocated']['revenue']:,.0f}" in rv.replan_statement(out)
    assert np.allclose(open_["revised_revenue"] % 10, 0)
    need_c = tgm["target_customers"].sum() - act["customers"].sum()
    open_c = tgm.loc[tgm["month"] > "2026-10-01", "target_customers"].sum()
    kept_c = out.attrs["revised_open_total"]["customers"] + out.attrs["unallocated"]["customers"]
    assert kept_c == max(need_c, open_c)
    per = open_.groupby(rv.DIMS)[["plan_revenue", "revised_revenue"]].sum()
    assert (per["revised_revenue"] <= 1.3 * per["plan_revenue"] + 1e-6).all()
    assert (per["revised_revenue"] >= 0.7 * per["plan_revenue"] - 1e-6).all()
    assert (out["revised_revenue"] >= 0).all()
    summary = rv.replan_summary(out)
    assert summary["plan_revenue"].sum() == pytest.approx(tgm["target_revenue"].sum())


def test_replan_when_ahead_keeps_plan_total_or_gives_pure_gap(world):
    tgm = world["tgm"].assign(target_revenue=world["tgm"]["target_revenue"] * 0.1)
    open_plan = tgm.loc[tgm["month"] > "2026-10-01", "target_revenue"].sum()
    out = rv.replan(tgm, world["act"], PERIOD, FY, plan=PLAN)
    assert out.attrs["need"]["revenue"] == 0  # target already reached
    assert out.loc[out["status"] == "open", "revised_revenue"].sum() == pytest.approx(
        round(open_plan / 10) * 10
    )  # the remaining plan is kept, re-allocated
    gap = rv.replan(tgm, world["act"], PERIOD, FY, plan=PLAN, floor_at_plan=False)
    open_ = gap[gap["status"] == "open"]
    # the pure gap is 0, but no rep x segment is cut by more than 30%: the excess is stated
    kept = open_["revised_revenue"].sum()
    assert kept > 0 and gap.attrs["unallocated"]["revenue"] == -kept
    per = open_.groupby(rv.DIMS)[["plan_revenue", "revised_revenue"]].sum()
    assert (per["revised_revenue"] >= 0.7 * per["plan_revenue"] - 1e-6).all()
    assert "more than what is still needed" in rv.replan_statement(gap)


@given(st.lists(st.floats(0, 1e5), min_size=1, max_size=30), st.sampled_from([1.0, 10.0, 1000.0]))
def test_largest_remainder_exact_total(values, unit):
    total = round(sum(values) / unit) * unit
    r = rv.largest_remainder(np.array(values), unit, total)
    assert r.sum() == pytest.approx(total, abs=1e-6)
    assert np.allclose(r / unit, np.round(r / unit))
    assert np.all(np.abs(r - np.array(values)) <= unit + 1e-6)


# --------------------------------------------------------------------------- charts


def test_charts_draw_with_units(world):
    import io

    from salesanalysis.report import charts as plots
    from salesanalysis.report.charts import review as rplots

    plots.setup()
    review, act, tgm = world["review"], world["act"], world["tgm"]
    curve = rv.pacing_curve(act, tgm, world["fc"], PERIOD, FY)
    board = rv.rep_leaderboard(
        act, tgm, REPS.assign(name=["$x$", "乙", "丙", "丁"]), PERIOD, FY, plan=PLAN
    )
    revised = rv.replan(tgm, act, PERIOD, FY, plan=PLAN)
    figs = {
        "attainment": rplots.attainment_chart(review, level="cell"),
        "pacing": rplots.pacing_chart(curve, currency="CNY"),
        "bridge": rplots.bridge_waterfall(
            rv.bridge_target(world["cust"], world["tgt"], PERIOD, FY)
        ),
        "leaderboard": rplots.leaderboard_chart(board),
        "revised": rplots.plan_vs_revised_chart(revised, by="region"),
    }
    for name, fig in figs.items():
        fig.savefig(io.BytesIO(), format="png")
        ax = fig.axes[0]
        labels = ax.get_xlabel() + ax.get_ylabel()
        assert "CNY" in labels or "%" in labels, (name, labels)
    assert "CNY" in figs["pacing"].axes[0].get_ylabel()
    ticks = [t.get_text() for t in figs["leaderboard"].axes[0].get_yticklabels()]
    assert any(r"\$x\$" in t for t in ticks)


def test_market_share_landing_from_cell_forecast_without_bottom_rows(world):
    fc = world["fc"][world["fc"]["level"] != "bottom"]
    review = rv.build_review(
        world["cube"], world["cust"], world["tgt"], fc, world["mk"], PERIOD, FY
    )
    row = _row(
        review, "region_product_line", "market_share", "fy", region="华东", product_line="Pumps"
    )
    assert np.isfinite(row["landing_mean"]) and 0 < row["p_reach_target"] <= 1


# --------------------------------------------------------------------------- the page's language


@pytest.fixture
def chinese():
    """A Chinese report in 万 for one test; the source language again afterwards."""
    from salesanalysis import i18n

    i18n.set_report("zh", "万")
    yield i18n
    i18n._state.update({"language": i18n.SOURCE_LANGUAGE, "units": None})


def test_review_sentences_and_labels_follow_the_report_language(world, chinese):
    """In a Chinese report the bridge labels, the status words, the rule statement and the
    headline read in Chinese (no English word but data labels), amounts in the report's units;
    the headline's gap is actual - target (negative = behind)."""
    i18n = chinese
    review, act, tgm = world["review"], world["act"], world["tgm"]
    bridge = rv.bridge_target(world["cust"], world["tgt"], PERIOD, FY)
    ends = [bridge["label"].iloc[0], bridge["label"].iloc[-1]]
    assert ends == [i18n.tr("Target"), i18n.tr("Actual")] and ends != ["Target", "Actual"]
    board = rv.rep_leaderboard(act, tgm, REPS, PERIOD, FY, plan=PLAN)
    shown = rv.readable(board[["rep_id", "status"]])
    words = {i18n.tr(w) for w in ("ahead", "on track", "behind", "no target")}
    assert set(shown["status"]) <= words
    assert set(board["status"]) <= {"ahead", "on track", "behind", "no target"}  # keys kept
    revised = rv.replan(tgm, act, PERIOD, FY, plan=PLAN)
    labels = set(REGIONS) | {"CNY"}
    text = rv.replan_text(revised, "CNY")
    assert i18n.leaked_words(text, "zh", allowed=labels) == [], text
    assert "万元" in text
    head = rv.headline(review)
    para = rv.headline_text(head, PERIOD, "FY plan", FY, "CNY", rv.to_date_label())
    assert i18n.leaked_words(para, "zh", allowed=labels | {"FY plan"}) == [], para
    gap = head["ytd_actual"] - head["ytd_target"]
    assert money(gap, "CNY", signed=True) in para
    assert all(b["gap"] == pytest.approx(b["actual"] - b["target"]) for b in head["behind"])
