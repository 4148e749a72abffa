"""The execution half (salesanalysis.execution): strategies in words, the payout curve, the
demand plan, action plans and the sales funnel, on small companies built in code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesanalysis import execution as ex
from salesanalysis.errors import InputError, PlanError
from salesanalysis.execution.inputs import check_actions, check_pipeline
from salesanalysis.report.excel import TOTAL_LABEL, column_of_header
from salesanalysis.targets.decompose import decompose, plan_months
from salesanalysis.targets.plan import Incentives, IncentiveTier
from tests.test_decompose import make_forecast, make_plan, make_world

STRATEGIES = [
    {
        "name": "Pumps +3%",
        "segment": {"product_line": "Pumps"},
        "kind": "price",
        "pct": 0.03,
        "rationale": "list price",
        "owner": "Ops",
    },
    {
        "name": "SMB to KA in 华东",
        "segment": {"region": "华东", "customer_type": "SMB"},
        "kind": "channel_shift",
        "pct": 0.1,
        "to": {"region": "华东", "customer_type": "KA"},
        "rationale": "distributors",
    },
]
INC = {
    "base_rate": 0.02,
    "tiers": [
        {"from": 0.0, "to": 0.8, "rate": 0.5},
        {"from": 0.8, "to": 1.0, "rate": 1.0},
        {"from": 1.0, "to": 1.2, "rate": 1.5},
        {"from": 1.2, "rate": 2.0},
    ],
    "cap": 1.6,
}


@pytest.fixture(scope="module")
def planned() -> dict:
    w = make_world()
    plan = make_plan(strategies=STRATEGIES, incentives=INC)
    w["forecast"] = make_forecast(w["cube"], plan_months(plan))
    args = (w["cube"], w["customers"], w["reps"], w["market"], w["forecast"])
    w["plan"], w["dec"] = plan, decompose(*args, plan)
    w["without"] = ex.targets_without(*args, plan)
    return w


# ------------------------------------------------------------------------------- strategies


def test_segment_words_read_like_business_words():
    assert ex.segment_words({"product_line": "Pumps"}) == "Pumps, all regions"
    assert ex.segment_words({"product_line": "Pumps"}, "zh") == "Pumps，全部区域"
    assert ex.segment_words((("region", "西南"), ("customer_type", "SMB"))) == "西南, SMB"
    assert ex.segment_words({}) == "whole company"


def test_strategy_table_is_with_minus_without_and_has_no_mappings(planned):
    plan, dec, without = planned["plan"], planned["dec"], planned["without"]
    tab = ex.strategy_table(plan, dec.targets, without)
    assert list(tab["strategy"]) == [s["name"] for s in STRATEGIES]
    assert list(tab["lever"]) == ["price", "channel"]
    assert list(tab["segment"]) == ["Pumps, all regions", "华东, SMB"]
    pumps = dec.targets["product_line"] == "Pumps"
    wo = without["Pumps +3%"]
    exp = (
        dec.targets.loc[pumps, "target_revenue_no_cushion"].sum()
        - wo.loc[wo["product_line"] == "Pumps", "target_revenue_no_cushion"].sum()
    )
    assert tab.loc[0, "effect"] == pytest.approx(exp)
    assert tab.loc[0, "effect"] > 0  # a price rise gives the segment more of the total
    assert tab.loc[1, "effect"] < 0 < tab.loc[1, "effect_on_receiving"]
    assert tab.loc[0, "owner"] == "Ops" and tab.loc[1, "owner"] == ""
    text = " ".join(str(v) for v in tab.to_numpy().ravel())
    assert "{" not in text and "product_line" not in text


def test_baselines_hold_the_company_total(planned):
    b = ex.baseline_cells(planned["dec"].targets, planned["without"])
    totals = b.groupby("variant")["target"].sum()
    assert set(totals.index) == {"with", ex.NO_STRATEGY, *(s["name"] for s in STRATEGIES)}
    assert np.allclose(totals.to_numpy(), totals.iloc[0])


def test_explain_names_the_segment_in_words(planned):
    steps = planned["dec"].explain(product_line="Pumps")
    detail = " ".join(steps["detail"].astype(str))
    assert "on Pumps:" in detail and "{" not in detail


# ------------------------------------------------------------------------------- incentives


def _inc(**over) -> Incentives:
    return make_plan(incentives={**INC, **over}).incentives


def _plain_payout(att: float, target: float, inc: Incentives) -> float:
    """The tier formula written out: each band pays base x rate on its part of [0, att]."""
    total = 0.0
    for t in inc.tiers:
        top = att if t.end is None else min(att, t.end)
        if top > t.start:
            total += inc.base_rate * target * t.rate * (top - t.start)
    on_target = 0.0
    for t in inc.tiers:
        top = 1.0 if t.end is None else min(1.0, t.end)
        if top > t.start:
            on_target += inc.base_rate * target * t.rate * (top - t.start)
    return min(total, inc.cap * on_target) if inc.cap is not None else total


tiers_st = st.lists(
    st.tuples(st.floats(0.05, 0.6), st.floats(0.0, 3.0)), min_size=1, max_size=5
).map(
    lambda bands: tuple(
        IncentiveTier(
            start=round(sum(w for w, _ in bands[:i]), 6),
            end=None if i == len(bands) - 1 else round(sum(w for w, _ in bands[: i + 1]), 6),
            rate=r,
        )
        for i, (_, r) in enumerate(bands)
    )
)
incentives_st = st.builds(
    Incentives,
    base_rate=st.floats(0.0, 0.2),
    tiers=tiers_st,
    cap=st.one_of(st.none(), st.floats(1.0, 3.0)),
)


@given(incentives_st, st.floats(0, 3), st.floats(0, 3), st.floats(1, 1e7))
def test_payout_is_monotonic_and_capped(inc, a, b, target):
    lo, hi = sorted((a, b))
    p_lo, p_hi = float(ex.payout(lo, target, inc)), float(ex.payout(hi, target, inc))
    assert p_lo <= p_hi + 1e-9 * max(1.0, p_hi)
    if inc.cap is not None:
        cap = inc.cap * float(ex.payout(1.0, target, inc.__class__(inc.base_rate, inc.tiers)))
        assert p_hi <= cap * (1 + 1e-12) + 1e-9


@given(incentives_st, st.floats(1, 1e7))
def test_payout_is_continuous_at_every_band_edge(inc, target):
    for t in inc.tiers[1:]:
        eps = 1e-9
        below = float(ex.payout(t.start - eps, target, inc))
        above = float(ex.payout(t.start + eps, target, inc))
        slope = max(x.rate for x in inc.tiers) * inc.base_rate * target
        assert abs(above - below) <= 2 * eps * slope + 1e-9


@given(incentives_st, st.floats(0, 3), st.floats(1, 1e7))
def test_payout_equals_the_plain_tier_formula(inc, att, target):
    assert float(ex.payout(att, target, inc)) == pytest.approx(
        _plain_payout(att, target, inc), rel=1e-9, abs=1e-6
    )


def test_plan_cost_at_p50_is_the_tier_formula_on_the_forecast(planned):
    inc = planned["plan"].incentives
    cost = ex.rep_plan_cost(planned["dec"].feasibility, inc)
    feas = planned["dec"].feasibility.query("level == 'rep'").set_index("rep_id")
    assert len(cost) == len(feas) > 0
    for r in cost.itertuples():
        att = max(feas.loc[r.rep_id, "forecast_p50"], 0) / r.target
        assert r.payout_p50 == pytest.approx(_plain_payout(att, r.target, inc))
    total = planned["dec"].feasibility.query("level == 'company'").iloc[0]
    for q in ("p10", "p90"):  # the company at its percentile, spread over reps by their P50
        assert cost[f"forecast_{q}"].sum() == pytest.approx(total[f"forecast_{q}"])
        assert np.allclose(
            cost[f"forecast_{q}"] / cost["forecast_p50"],
            cost[f"forecast_{q}"].sum() / cost["forecast_p50"].sum(),
        )
    s = ex.plan_cost_summary(cost).set_index("scenario")
    assert s.loc["P50", "payout"] == pytest.approx(cost["payout_p50"].sum())
    assert s.loc["P10", "payout"] <= s.loc["P50", "payout"] <= s.loc["P90", "payout"]
    assert s.loc["P50", "cost_of_sales"] == pytest.approx(
        s.loc["P50", "payout"] / s.loc["P50", "revenue"]
    )


def test_rep_earnings_from_the_review():
    inc = _inc()
    review = pd.DataFrame(
        [
            ("rep", "R1", "revenue", "ytd", 600.0, 800.0, np.nan, np.nan, np.nan),
            ("rep", "R1", "revenue", "fy", 600.0, 1000.0, 950.0, 850.0, 1050.0),
        ],
        columns=[
            "level",
            "rep_id",
            "measure",
            "window",
            "actual",
            "target",
            "landing_mean",
            "landing_lo_80",
            "landing_hi_80",
        ],
    )
    e = ex.rep_earnings(review, inc).iloc[0]
    assert e["earned_to_date"] == pytest.approx(_plain_payout(0.6, 1000.0, inc))
    assert e["payout_ye_p50"] == pytest.approx(_plain_payout(0.95, 1000.0, inc))
    assert e["payout_ye_p10"] <= e["payout_ye_p50"] <= e["payout_ye_p90"]


@pytest.mark.parametrize(
    "tiers, message",
    [
        ([{"from": 0, "to": 1, "rate": 1}, {"from": 0.9, "rate": 2}], "overlaps the band before"),
        ([{"from": 0, "to": 1, "rate": 1}, {"from": 1.1, "rate": 2}], "leaves a gap"),
        (
            [{"from": 0, "to": 1.2, "rate": 1}, {"from": 1.2, "to": 1.0, "rate": 2}],
            "must be open-ended",
        ),
        ([{"from": 0, "to": 1, "rate": -1}, {"from": 1, "rate": 2}], "must be >= 0"),
        ([{"from": 0.5, "to": 1, "rate": 1}, {"from": 1, "rate": 2}], "leaves a gap"),
    ],
)
def test_bad_tiers_are_refused_by_key(tiers, message):
    with pytest.raises(PlanError) as e:
        make_plan(incentives={"base_rate": 0.02, "tiers": tiers})
    text = "\n".join(p.message for p in e.value.problems)
    assert message in text
    assert all(p.key and p.key.startswith("incentives") for p in e.value.problems)


def test_negative_base_rate_is_refused():
    with pytest.raises(PlanError, match="problem"):
        make_plan(incentives={**INC, "base_rate": -0.01})


# ------------------------------------------------------------------------------- demand plan


def test_demand_units_times_price_is_the_revenue_target(planned):
    plan, dec = planned["plan"], planned["dec"]
    d = ex.demand_plan(dec.targets, planned["cube"], plan)
    want = dec.targets.groupby(["product_line", "month"])["target_revenue_no_cushion"].sum()
    got = d.set_index(["product_line", "month"])
    assert np.allclose((got["units"] * got["planned_price"]).reindex(want.index), want)
    assert (got["units"] == got["units"].round()).all()
    # the price strategy is in the planned price of every pumps cell, and only there
    prices = ex.cell_prices(planned["cube"], plan)
    ratio = prices["planned_price"] / prices["base_price"]
    assert np.allclose(ratio, np.where(prices["product_line"] == "Pumps", 1.03, 1.0))


def test_demand_workbook_is_written(planned, tmp_path):
    d = ex.demand_plan(planned["dec"].targets, planned["cube"], planned["plan"])
    path = ex.write_demand_plan(d, tmp_path, "CNY")
    sheets = pd.read_excel(path, sheet_name=None)
    assert set(sheets) == {"units", "detail"}
    units = sheets["units"]
    total = column_of_header(units.columns[-1], ["total_units"])
    assert total == "total_units", list(units.columns)  # the last column, under its own header
    body = units[units.iloc[:, 0] != TOTAL_LABEL]  # the total row: SUBTOTAL, with its value
    assert body[units.columns[-1]].sum() == d["units"].sum()
    assert units[units.iloc[:, 0] == TOTAL_LABEL][units.columns[-1]].item() == d["units"].sum()


# ------------------------------------------------------------------------------- actions


def _actions_frame(rows):
    cols = [
        "id",
        "title",
        "strategy",
        "region",
        "product_line",
        "customer_type",
        "owner",
        "steps",
        "start",
        "due",
        "budget",
        "people",
        "expected_revenue",
        "expected_customers",
        "kpi",
    ]
    df = pd.DataFrame(rows, columns=cols)
    df.index = pd.RangeIndex(2, 2 + len(df))
    return df


GOOD = [
    "A1",
    "Price list",
    "Pumps +3%",
    "",
    "",
    "",
    "Ops",
    "publish",
    "2026-01-10",
    "2026-03-31",
    "1200",
    "2",
    "1000",
    "",
    "price",
]


def test_actions_are_checked_with_file_field_and_line(planned):
    labels = {
        "region": {"华东", "华北"},
        "product_line": {"Pumps", "Valves"},
        "customer_type": {"SMB", "KA"},
    }
    bad = [
        GOOD,
        [
            "A2",
            "x",
            "",
            "华南",
            "",
            "",
            "Ops",
            "",
            "2026-02-01",
            "2026-03-01",
            "0",
            "",
            "",
            "",
            "",
        ],
        [
            "A3",
            "x",
            "",
            "华东",
            "",
            "",
            "Nobody",
            "",
            "2026-02-01",
            "2026-01-01",
            "-5",
            "",
            "",
            "",
            "",
        ],
        ["A4", "x", "", "华东", "", "", "Ops", "", "2026-02-01", "2027-01-05", "", "", "", "", ""],
    ]
    frame, problems = check_actions(
        _actions_frame(bad), "actions.csv", planned["plan"], labels, {"Ops"}
    )
    found = {(p.column, p.rows[0], p.message.split(" (")[0]) for p in problems}
    assert found == {
        ("region", 3, "unknown region label"),
        ("owner", 4, "unknown owner"),
        ("due", 4, "'due' is before 'start'"),
        ("budget", 4, "'budget' is negative"),
        ("due", 5, "'due' is outside the fiscal year 2026"),
    }
    assert all(p.file == "actions.csv" and p.fix for p in problems)


def test_action_budget_and_review(planned):
    labels = {
        "region": {"华东", "华北"},
        "product_line": {"Pumps", "Valves"},
        "customer_type": {"SMB", "KA"},
    }
    rows = [
        GOOD,
        [
            "A2",
            "KA visits",
            "",
            "华东",
            "",
            "KA",
            "Ops",
            "",
            "2026-02-01",
            "2026-04-30",
            "300",
            "1",
            "",
            "",
            "",
        ],
    ]
    frame, problems = check_actions(
        _actions_frame(rows), "a.csv", planned["plan"], labels, {"Ops"}
    )
    assert problems == []
    plan_actions = ex.action_plan(frame, planned["plan"])
    assert set(plan_actions["segment"]) == {"Pumps, all regions", "华东, KA"}
    budget = ex.budget_by_month(plan_actions)
    assert budget["budget"].sum() == pytest.approx(1500)
    assert budget["month"].min() == pd.Timestamp("2026-01-01")
    status = pd.DataFrame(
        {
            "action_id": ["A1"],
            "month": [pd.Timestamp("2026-03-01")],
            "status": ["done"],
            "pct_done": [1.0],
            "note": [""],
        }
    )
    # actuals: last year's cube moved into 2026 at 80% (every segment behind)
    cube = planned["cube"][planned["cube"]["month"].dt.year == 2025].copy()
    cube["month"] += pd.DateOffset(years=1)
    cube["revenue"] *= 0.8
    base = ex.baseline_cells(planned["dec"].targets, planned["without"])
    rv = ex.action_review(
        plan_actions, status, cube, planned["dec"].targets, base, pd.Period("2026-06", "M")
    ).set_index("action_id")
    assert rv.loc["A1", "state"] == "done" and rv.loc["A2", "state"] == "late"
    assert bool(rv.loc["A2", "overdue"]) and bool(rv.loc["A2", "behind"])
    seg = (
        (cube["region"] == "华东")
        & (cube["customer_type"] == "KA")
        & (cube["month"].dt.month <= 6)
    )
    assert rv.loc["A2", "actual_ytd"] == pytest.approx(cube.loc[seg, "revenue"].sum())
    assert rv.loc["A2", "realised_effect"] == pytest.approx(
        rv.loc["A2", "actual_ytd"] - rv.loc["A2", "baseline_ytd"]
    )
    calls = ex.overdue_callouts(rv.reset_index())
    assert len(calls) == 1 and "A2" in calls[0] and "华东, KA" in calls[0]
    again = ex.action_review(
        rv.reset_index(), status, cube, planned["dec"].targets, base, pd.Period("2026-06", "M")
    )
    assert list(again["state"]) == list(rv["state"])  # re-running the review is stable


# ------------------------------------------------------------------------------- funnel


def _pipeline(won_amounts, lost_stages, rep="R00", region="华东"):
    rows = []
    for i, a in enumerate(won_amounts):
        rows.append(
            (f"W{i}", rep, "C1", region, "Pumps", "won", "won", a, "2025-01-01", "2025-02-10")
        )
    for i, s in enumerate(lost_stages):
        rows.append(
            (f"L{i}", rep, "C1", region, "Pumps", s, "lost", 100.0, "2025-01-01", "2025-01-20")
        )
    df = pd.DataFrame(
        rows,
        columns=[
            "opportunity_id",
            "rep_id",
            "customer_id",
            "region",
            "product_line",
            "stage",
            "status",
            "amount",
            "created",
            "close_date",
        ],
    )
    for c in ("created", "close_date"):
        df[c] = pd.to_datetime(df[c])
    df["expected_close"] = df["close_date"]
    return df


def test_stage_conversion_and_deal_stats():
    p = _pipeline([1000.0, 3000.0], ["lead", "lead", "qualified", "proposal"])
    conv = ex.stage_conversion(p).iloc[0]
    assert conv["n_lead"] == 6 and conv["n_qualified"] == 4 and conv["n_proposal"] == 3
    assert conv["conv_lead"] == pytest.approx(4 / 6)
    assert conv["win_lead"] == pytest.approx(2 / 6) and conv["win_proposal"] == pytest.approx(
        2 / 3
    )
    d = ex.deal_stats(p).iloc[0]
    assert d["avg_deal"] == 2000.0 and d["cycle_days"] == 40.0


def test_reverse_funnel_reconciles_with_rep_targets(planned):
    p = _pipeline([1000.0, 3000.0], ["lead", "lead", "qualified", "proposal"])
    f = ex.reverse_funnel(planned["dec"].targets, p)
    rep_month = planned["dec"].targets.groupby(["rep_id", "month"])["target_revenue"].sum()
    got = f.set_index(["rep_id", "month"])
    assert np.allclose((got["won"] * got["avg_deal"]).reindex(rep_month.index), rep_month)
    assert np.allclose(got["lead"], got["won"] * 3)  # win rate from lead 2/6
    assert (got["lead"] >= got["qualified"]).all() and (got["qualified"] >= got["proposal"]).all()


def test_pipeline_coverage_names_short_reps():
    p = _pipeline([1000.0], ["lead"])
    opens = pd.DataFrame(
        [
            ("O1", "R1", "C", "华东", "Pumps", "proposal", "open", 3000.0),
            ("O2", "R2", "C", "华东", "Pumps", "lead", "open", 100.0),
        ],
        columns=[
            "opportunity_id",
            "rep_id",
            "customer_id",
            "region",
            "product_line",
            "stage",
            "status",
            "amount",
        ],
    ).assign(created=pd.Timestamp("2025-03-01"), close_date=pd.NaT, expected_close=pd.NaT)
    cov = ex.pipeline_coverage(
        pd.concat([p, opens]), pd.Series({"R1": 1000.0, "R2": 1000.0}), pd.Timestamp("2025-06-30")
    ).set_index("rep_id")
    assert cov.loc["R1", "open_weighted"] == pytest.approx(3000.0)  # win rate from proposal 1
    assert cov.loc["R2", "coverage"] == pytest.approx(100 * 0.5 / 1000)
    assert list(cov.index[cov["short"]]) == ["R2"]


def test_pipeline_coverage_uses_a_regions_own_win_rates_when_it_has_the_history():
    """华东 has 40 closed deals (10 won, 30 lost at lead: win rate from lead 25%); 华南 has 10
    (1 won: 10%, too few to trust), the company 11 / 50 = 22%. An open lead of 1,000 weighs
    250 in 华东 (its own rate) and 220 in 华南 (the company's)."""
    east = _pipeline([500.0] * 10, ["lead"] * 30, rep="R1", region="华东")
    south = _pipeline([500.0], ["lead"] * 9, rep="R2", region="华南")
    south["opportunity_id"] = "S" + south["opportunity_id"]
    opens = pd.concat([east.head(1), south.head(1)]).assign(
        opportunity_id=["O1", "O2"],
        stage="lead",
        status="open",
        amount=1000.0,
        close_date=pd.NaT,
    )
    p = pd.concat([east, south, opens], ignore_index=True)
    cov = ex.pipeline_coverage(
        p, pd.Series({"R1": 500.0, "R2": 500.0}), pd.Timestamp("2025-06-30")
    ).set_index("rep_id")
    assert cov.loc["R1", "open_weighted"] == pytest.approx(1000 * 10 / 40)
    assert cov.loc["R2", "open_weighted"] == pytest.approx(1000 * 11 / 50)
    assert cov.loc["R1", "win_rates"] == "region" and cov.loc["R2", "win_rates"] == "company"


def test_pipeline_stage_status_mismatch_is_refused():
    raw = pd.DataFrame(
        [["P1", "R1", "C1", "proposal", "10", "2025-01-01", "", "won", "2025-02-01"]],
        columns=[
            "id",
            "rep_id",
            "customer_id",
            "stage",
            "amount",
            "created",
            "expected_close",
            "status",
            "close_date",
        ],
        index=[2],
    )
    _, problems = check_pipeline(raw, "pipeline.csv", {"R1"}, {})
    assert [p.column for p in problems] == ["stage"] and problems[0].rows == [2]


def test_orders_funnel_without_a_pipeline(planned):
    dec, cube = planned["dec"], planned["cube"]
    months = list(pd.date_range("2025-01-01", "2025-12-01", freq="MS"))
    orders = cube.groupby(["month", "region", "customer_type", "rep_id"], as_index=False)[
        "orders"
    ].sum()
    f = ex.orders_funnel(dec.targets, cube, orders, months)
    hist = cube[cube["month"].isin(months)]
    aov = hist.groupby("region")["revenue"].sum() / hist.groupby("region")["orders"].sum()
    np.testing.assert_allclose(f["avg_order"], f["region"].map(aov))
    np.testing.assert_allclose(f["orders"] * f["avg_order"], f["target"])
    rep_month = dec.targets.groupby(["rep_id", "month"])["target_customers"].sum()
    got = f.set_index(["rep_id", "month"])["new_customers"]
    assert (got.reindex(rep_month.index) == rep_month).all()


def test_optional_inputs_are_mapped_like_the_others(tmp_path):
    """A pipeline export with Chinese headers, renamed by mapping.yaml; no actions file."""
    d = tmp_path / "data"
    d.mkdir()
    (d / "mapping.yaml").write_text(
        "pipeline:\n  file: 商机.csv\n  columns: {编号: id, 销售: rep_id, 客户: customer_id, "
        "阶段: stage, 金额: amount, 创建: created, 状态: status, 关闭: close_date}\n",
        encoding="utf-8",
    )
    (d / "商机.csv").write_text(
        "编号,销售,客户,阶段,金额,创建,状态,关闭\nP1,R1,C1,won,100,2025-01-05,won,2025-02-01\n"
        "P2,R1,C2,proposal,50,2025-03-01,open,\n",
        encoding="utf-8",
    )
    reps = pd.DataFrame({"rep_id": ["R1"], "name": ["王伟"]})
    got = ex.read_execution_inputs(d, None, {}, reps)
    assert got.actions is None and got.action_status is None
    assert list(got.pipeline["opportunity_id"]) == ["P1", "P2"]
    assert got.pipeline["amount"].sum() == 150
    assert set(got.sources) == {"pipeline"}


def test_amounts_written_as_an_export_writes_them(tmp_path):
    """``"1,200"``, ``¥3,000`` and ``(50)`` in pipeline.csv are read as the transactions are
    (1200, 3000, -50 refused as negative); a word is still refused with its line."""
    d = tmp_path / "data"
    d.mkdir()
    head = "id,rep_id,customer_id,stage,amount,created,status,close_date\n"
    (d / "pipeline.csv").write_text(
        head + 'P1,R1,C1,won,"1,200",2025-01-05,won,2025-02-01\n'
        "P2,R1,C2,proposal,¥3000,2025-03-01,open,\n",
        encoding="utf-8",
    )
    reps = pd.DataFrame({"rep_id": ["R1"], "name": ["王伟"]})
    got = ex.read_execution_inputs(d, None, {}, reps)
    assert list(got.pipeline["amount"]) == [1200.0, 3000.0]
    (d / "pipeline.csv").write_text(
        head + "P1,R1,C1,won,many,2025-01-05,won,2025-02-01\n", encoding="utf-8"
    )
    with pytest.raises(InputError) as e:
        ex.read_execution_inputs(d, None, {}, reps)
    assert "amount" in str(e.value) and "many" in str(e.value) and "pipeline.csv" in str(e.value)


# ------------------------------------------------------------------ demand plan per product
PUSH = {
    "name": "P2 push",
    "segment": {"product_line": "Pumps"},
    "kind": "product",
    "pct": 0.08,
    "product": "P2",
    "rationale": "launch",
    "owner": "PM",
}


def _mix(shares: list[float], prices: list[float], line: str = "Pumps") -> pd.DataFrame:
    s = np.asarray(shares, float) / np.sum(shares)
    rev = s * 1000.0
    return pd.DataFrame(
        {
            "product_line": line,
            "product": [f"P{i + 1}" for i in range(len(s))],
            "share": s,
            "price": prices,
            "revenue": rev,
            "quantity": rev / np.asarray(prices),
        }
    )


@pytest.fixture(scope="module")
def pushed() -> dict:
    w = make_world()
    plan = make_plan(strategies=[*STRATEGIES, PUSH])
    w["forecast"] = make_forecast(w["cube"], plan_months(plan))
    args = (w["cube"], w["customers"], w["reps"], w["market"], w["forecast"])
    w["plan"], w["dec"] = plan, decompose(*args, plan)
    w["without"] = ex.targets_without(*args, plan)
    return w


@settings(max_examples=30, deadline=None)
@given(
    shares=st.lists(st.floats(0.05, 1.0), min_size=1, max_size=4),
    price_seed=st.integers(0, 10_000),
    pct=st.floats(0.0, 0.5),
    product=st.sampled_from(["P1", "P2", "NEW"]),
)
def test_demand_per_product_adds_up_to_the_line_targets(pushed, shares, price_seed, pct, product):
    """Per product line and month the products' revenue targets add up to the line's target;
    per product and month units are whole and units x planned price is the revenue target."""
    prices = list(np.random.default_rng(price_seed).uniform(50, 500, len(shares)))
    plan = pushed["plan"].with_changes(
        strategies=[*STRATEGIES, {**PUSH, "pct": pct, "product": product}]
    )
    targets = pushed["dec"].targets
    d = ex.demand_plan(targets, pushed["cube"], plan, _mix(shares, prices))
    assert list(d.columns) == ex.PRODUCT_DEMAND_COLUMNS
    want = targets.groupby(["product_line", "month"])["target_revenue_no_cushion"].sum()
    got = d.groupby(["product_line", "month"])["revenue_target"].sum().reindex(want.index)
    assert np.allclose(got, want, rtol=1e-12, atol=1e-6)
    assert (d["units"] == d["units"].round()).all()
    has = d["units"] > 0
    value = d.loc[has, "units"] * d.loc[has, "planned_price"]
    assert np.allclose(value, d.loc[has, "revenue_target"], rtol=1e-12, atol=1e-6)
    assert set(d.loc[d["product_line"] == "Valves", "product"]) == {"(unspecified)"}


def test_product_push_raises_the_pushed_products_share(pushed):
    plan, cube = pushed["plan"], pushed["cube"]
    cells = pushed["dec"].targets[["region", "product_line", "customer_type"]]
    mix = _mix([0.6, 0.4], [100.0, 300.0])
    line_price = pd.Series({"Pumps": 160.0, "Valves": 40.0})
    shares = ex.cell_product_shares(cells, mix, plan, line_price)
    pumps = shares[shares["product_line"] == "Pumps"]
    assert np.allclose(pumps.loc[pumps["product"] == "P2", "share"], (0.4 + 0.08) / 1.08)
    assert np.allclose(pumps.loc[pumps["product"] == "P1", "share"], 0.6 / 1.08)
    assert np.allclose(pumps.groupby(["region", "customer_type"])["share"].sum(), 1.0)
    # a product the line has not sold yet takes pct / (1 + pct) at the line's average price
    new = plan.with_changes(strategies=[{**PUSH, "product": "P9"}])
    shares = ex.cell_product_shares(cells, mix, new, line_price)
    p9 = shares[shares["product"] == "P9"]
    assert np.allclose(p9["share"], 0.08 / 1.08) and (p9["base_price"] == 160.0).all()
    # the pushed product carries the price strategy of its cells like the others
    d = ex.demand_plan(pushed["dec"].targets, cube, plan, mix)
    p2 = d[(d["product"] == "P2") & (d["units"] > 0)]
    assert (p2["base_price"] == 300.0).all()
    assert np.allclose(p2["planned_price"] / p2["base_price"], 1.03, rtol=2e-2)


def test_product_strategy_row_in_words(pushed):
    tab = ex.strategy_table(pushed["plan"], pushed["dec"].targets, pushed["without"])
    row = tab[tab["strategy"] == "P2 push"].iloc[0]
    assert row["lever"] == "product"
    assert row["segment"] == "Pumps, all regions"
    assert row["change"] == "P2 pushed: segment revenue +8.0%"
    assert row["effect"] == row["target_with"] - row["target_without"]
    assert row["effect"] > 0 and row["owner"] == "PM"


def test_demand_without_products_is_per_product_line(planned):
    d = ex.demand_plan(planned["dec"].targets, planned["cube"], planned["plan"], None)
    assert list(d.columns) == ex.DEMAND_COLUMNS


def test_demand_workbook_per_product(pushed, tmp_path):
    d = ex.demand_plan(pushed["dec"].targets, pushed["cube"], pushed["plan"], _mix([1, 1], [1, 2]))
    path = ex.write_demand_plan(d, tmp_path, "CNY")
    units = pd.read_excel(path, sheet_name="units")
    assert column_of_header(units.columns[1], ["product"]) == "product"
    body = units[units.iloc[:, 0] != TOTAL_LABEL]
    assert body[units.columns[-1]].sum() == d["units"].sum()
