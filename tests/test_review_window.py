"""The review of a mid-year plan judges only the months the plan covers (issue 12).

A plan cut off inside its fiscal year (e.g. cutoff 2026-06: targets for July to December) is
reviewed from its first month on: year-to-date actuals and targets, attainment, landing, pacing,
bridges, the rep leaderboard and re-planning use the plan's months only; the months before it
are shown as "before the plan" and never counted. Customers activated in the plan's months
exclude the customers already active earlier in the year (the decomposition's rule: full-year
target less the customers active to the cutoff). A full-year plan (``first_month`` January or
None) gives exactly what it gave before.

Every expected number is computed here from the raw lines with plain Python.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesanalysis import review as rv
from salesanalysis.data import counting
from salesanalysis.data.cube import build_cube, build_customer_cube
from salesanalysis.errors import InputError
from salesanalysis.paths import SAMPLE_DIR
from salesanalysis.review.scope import ReviewScope, review_scope
from salesanalysis.targets.plan import plan_from_dict
from tests.test_review import FY, PLAN, REPS, make_forecast, make_lines, make_market, make_targets

PERIOD = "2026-10"
FIRST = pd.Timestamp("2026-07-01")  # a plan cut off at 2026-06
JAN = pd.Timestamp("2026-01-01")


@lru_cache(maxsize=1)
def _data():
    tx = make_lines(seed=3)
    return tx, build_cube(tx), build_customer_cube(tx)


def _plan_targets(tx: pd.DataFrame, first: pd.Timestamp) -> pd.DataFrame:
    """Targets of the plan months only (from ``first`` to December), with a company view
    without the 5% cushion."""
    t = make_targets(tx)
    t = t[t["month"] >= first].reset_index(drop=True)
    return t.assign(target_revenue_no_cushion=(t["target_revenue"] / 1.05).round(2))


@pytest.fixture(scope="module")
def mid():
    tx, cube, cust = _data()
    tgt = _plan_targets(tx, FIRST)
    fc = make_forecast(tgt)
    mk = make_market(tx)
    review = rv.build_review(cube, cust, tgt, fc, mk, PERIOD, FY, first_month=FIRST)
    act = rv.monthly_actuals(cube, cust, PERIOD, FY, first_month=FIRST)
    tgm = rv.monthly_targets(tgt, FY)
    return dict(
        tx=tx, cube=cube, cust=cust, tgt=tgt, fc=fc, mk=mk, review=review, act=act, tgm=tgm
    )


def _row(review, level, measure, window, **key):
    sel = (review["level"] == level) & (review["measure"] == measure)
    sel &= review["window"] == window
    for d in rv.DIMS:
        sel &= review[d] == key.get(d, "*")
    rows = review[sel]
    assert len(rows) == 1, (level, measure, window, key, len(rows))
    return rows.iloc[0]


# --------------------------------------------------------------------------- independent sums


def _raw_revenue(tx, first, last, by="region"):
    """Revenue of the raw lines with ``first <= month <= last``, per ``by`` (plain Python)."""
    out = defaultdict(float)
    for r in tx.itertuples():
        if first <= r.month <= last:
            out[getattr(r, by)] += r.revenue
    return out


def _raw_target(tgt, first, last, col="target_revenue_no_cushion", by="region"):
    out = defaultdict(float)
    for r in tgt.itertuples():
        if first <= r.month <= last:
            out[getattr(r, by)] += getattr(r, col)
    return out


def _raw_activations(tx, first, last):
    """Customers first positive (all cells together) in ``first..last`` among the fiscal year
    to ``last``, per home region (the home cell: most revenue in January..``last``)."""
    jan = pd.Timestamp(last.year, 1, 1)
    month_rev = defaultdict(float)
    cell_rev = defaultdict(float)
    for r in tx.itertuples():
        if jan <= r.month <= last:
            month_rev[(r.customer_id, r.month)] += r.revenue
            key = (r.region, r.product_line, r.customer_type, r.rep_id)
            cell_rev[(r.customer_id, key)] += r.revenue
    activated = {}
    for (c, m), v in sorted(month_rev.items()):
        if v > 0 and c not in activated:
            activated[c] = m
    home = {}
    for (c, cell), v in sorted(cell_rev.items()):
        if c not in home or v > home[c][0]:
            home[c] = (v, cell)
    out = defaultdict(int)
    for c, m in activated.items():
        if m >= first:
            out[home[c][1][0]] += 1
    return out


# --------------------------------------------------------------------------- attainment


def test_attainment_is_the_raw_rows_of_the_plan_months_only(mid):
    tx, tgt, review = mid["tx"], mid["tgt"], mid["review"]
    end = pd.Timestamp(PERIOD + "-01")
    dec = pd.Timestamp(f"{FY}-12-01")
    rev = _raw_revenue(tx, FIRST, end)
    t_ytd = _raw_target(tgt, FIRST, end)
    t_fy = _raw_target(tgt, FIRST, dec)
    for region in sorted(rev):
        ytd = _row(review, "region", "revenue", "ytd", region=region)
        assert ytd["actual"] == pytest.approx(rev[region], rel=1e-12)
        assert ytd["target"] == pytest.approx(t_ytd[region], rel=1e-12)
        assert ytd["attainment"] == pytest.approx(rev[region] / t_ytd[region], rel=1e-12)
        fy = _row(review, "region", "revenue", "fy", region=region)
        assert fy["actual"] == pytest.approx(rev[region], rel=1e-12)
        assert fy["target"] == pytest.approx(t_fy[region], rel=1e-12)
    total = _row(review, "total", "revenue", "ytd")
    assert total["actual"] == pytest.approx(sum(rev.values()), rel=1e-12)
    # the months before the plan carried sales: they are left out, not merely without target
    before = sum(_raw_revenue(tx, JAN, FIRST - pd.DateOffset(months=1)).values())
    assert before > 0
    year = sum(_raw_revenue(tx, JAN, end).values())
    assert total["actual"] == pytest.approx(year - before, rel=1e-12)
    # rep level: the rep targets (with the cushion) of the same months
    for rep, want in _raw_revenue(tx, FIRST, end, by="rep_id").items():
        got = review[(review["level"] == "rep") & (review["rep_id"] == rep)]
        got = got[(got["measure"] == "revenue") & (got["window"] == "ytd")]["actual"].sum()
        assert got == pytest.approx(want, rel=1e-12)


def test_quarter_to_date_starts_at_the_plan_when_the_quarter_began_before_it():
    tx, cube, cust = _data()
    first = pd.Timestamp("2026-08-01")  # cut off at 2026-07; Q3 began in July
    tgt = _plan_targets(tx, first)
    att = rv.attainment_table(
        rv.monthly_actuals(cube, cust, "2026-09", FY, first_month=first),
        rv.monthly_targets(tgt, FY),
        None,
        "2026-09",
        FY,
        levels=["total"],
        first_month=first,
    )
    qtd = _row(att, "total", "revenue", "qtd")
    end = pd.Timestamp("2026-09-01")
    assert qtd["actual"] == pytest.approx(sum(_raw_revenue(tx, first, end).values()), rel=1e-12)
    assert qtd["target"] == pytest.approx(sum(_raw_target(tgt, first, end).values()), rel=1e-12)
    assert rv.report_windows("2026-09", FY, first)["qtd"] == (first, end)


def test_customers_activated_before_the_plan_are_not_counted_again(mid):
    tx, review, cust = mid["tx"], mid["review"], mid["cust"]
    end = pd.Timestamp(PERIOD + "-01")
    want = _raw_activations(tx, FIRST, end)
    for region, n in want.items():
        assert _row(review, "region", "customers", "ytd", region=region)["actual"] == n
    total = _row(review, "total", "customers", "ytd")["actual"]
    assert total == sum(want.values())
    # the decomposition's rule: active in the year to date less those active to the cutoff
    months = rv.fiscal_months(FY)
    to_date = counting.active_customers(cust, months[months <= end])
    to_cutoff = counting.active_customers(cust, months[months < FIRST])
    assert total == len(to_date) - len(to_cutoff)
    assert len(to_cutoff) > 0 and total < len(to_date)


def test_market_share_of_the_plan_months(mid):
    tx, mk, review = mid["tx"], mid["mk"], mid["review"]
    end = pd.Timestamp(PERIOD + "-01")
    size = mk[(mk["month"] >= FIRST) & (mk["month"] <= end)]["market_size"].sum()
    got = _row(review, "total", "market_share", "ytd")
    assert got["actual"] == pytest.approx(sum(_raw_revenue(tx, FIRST, end).values()) / size)


# --------------------------------------------------------------------------- landing and pacing


def test_landing_is_the_plan_months_actual_plus_the_forecast_of_the_rest(mid):
    review, fc, tx = mid["review"], mid["fc"], mid["tx"]
    end = pd.Timestamp(PERIOD + "-01")
    fy = _row(review, "total", "revenue", "fy")
    rest = fc[(fc["level"] == "total") & (fc["month"] > end)]["mean"].sum()
    actual = sum(_raw_revenue(tx, FIRST, end).values())
    assert fy["landing_mean"] == pytest.approx(actual + rest, rel=1e-12)


def test_pacing_counts_the_plan_months(mid):
    review, act, tgm, fc, tx = mid["review"], mid["act"], mid["tgm"], mid["fc"], mid["tx"]
    pace = rv.pacing_table(review, PERIOD, FY, first_month=FIRST)
    tot = pace[pace["level"] == "total"].iloc[0]
    assert tot["remaining_months"] == 2
    assert tot["straight_line"] == pytest.approx(tot["target_fy"] * 4 / 6)
    curve = rv.pacing_curve(act, tgm, fc, PERIOD, FY, first_month=FIRST)
    before = curve[~curve["in_plan"]]
    assert list(before["month"].dt.month) == [1, 2, 3, 4, 5, 6]
    assert before[["cum_actual", "cum_target", "straight_line"]].isna().all().all()
    oct_ = curve[curve["month"] == pd.Timestamp(PERIOD + "-01")].iloc[0]
    end = pd.Timestamp(PERIOD + "-01")
    assert oct_["cum_actual"] == pytest.approx(sum(_raw_revenue(tx, FIRST, end).values()))
    dec = curve.iloc[-1]
    assert dec["straight_line"] == pytest.approx(dec["cum_target"])
    assert dec["cum_required"] == pytest.approx(dec["cum_target"])  # the year closes on target


def test_month_by_month_shows_the_months_before_the_plan(mid):
    tx, cube, cust, tgm = mid["tx"], mid["cube"], mid["cust"], mid["tgm"]
    year = rv.monthly_actuals(cube, cust, PERIOD, FY)
    m = rv.monthly_overview(year, tgm, PERIOD, FY, first_month=FIRST)
    assert list(m["status"]) == [rv.BEFORE_PLAN] * 6 + ["judged"] * 4 + ["to come"] * 2
    raw = _raw_revenue(tx, JAN, pd.Timestamp(PERIOD + "-01"), by="month")
    for r in m.iloc[:10].itertuples():
        assert r.actual == pytest.approx(raw[r.month], rel=1e-12)
    before = m[m["status"] == rv.BEFORE_PLAN]
    assert before[["target", "attainment"]].isna().all().all()
    judged = m[m["status"] == "judged"]
    assert judged["attainment"].notna().all()
    assert m["target"].sum() == pytest.approx(tgm["target_revenue_no_cushion"].sum())


def test_a_report_month_before_the_plan_has_nothing_to_review():
    data = yaml.safe_load((SAMPLE_DIR / "plan.yaml").read_text(encoding="utf-8"))
    plan = plan_from_dict({**data, "plan_cutoff": f"{FY}-06"}, source="plan.yaml")
    scope = review_scope(f"{FY}-05", plan, None)
    assert not scope.reviewable and scope.first_month == FIRST
    assert "none of its months can be judged yet" in scope.statement
    assert review_scope(f"{FY}-07", plan, None).reviewable


def test_the_page_says_which_months_are_before_the_plan():
    scope = ReviewScope(FY, None, "run", None, FIRST, "")
    text = scope.window_statement(PERIOD)
    assert "before the plan" in text and "2026-01 to 2026-06" in text
    assert "2026-07 to 2026-10" in text
    full = ReviewScope(FY, None, "run", None, JAN, "")
    assert not full.mid_year and full.window_statement(PERIOD) == ""


# --------------------------------------------------------------------------- bridges, reps, re-plan


def test_bridges_run_over_the_plan_months(mid):
    tx, cust, tgt = mid["tx"], mid["cust"], mid["tgt"]
    end = pd.Timestamp(PERIOD + "-01")
    b = rv.bridge_target(cust, tgt, PERIOD, FY, plan=PLAN, first_month=FIRST)
    assert b.iloc[0]["amount"] == pytest.approx(sum(_raw_target(tgt, FIRST, end).values()))
    assert b.iloc[-1]["amount"] == pytest.approx(sum(_raw_revenue(tx, FIRST, end).values()))
    assert b.loc[b["kind"] == "delta", "amount"].sum() == pytest.approx(
        b.iloc[-1]["amount"] - b.iloc[0]["amount"]
    )
    ly = rv.bridge_last_year(cust, PERIOD, FY, first_month=FIRST)
    year_ago = sum(
        _raw_revenue(tx, FIRST - pd.DateOffset(years=1), end - pd.DateOffset(years=1)).values()
    )
    assert ly.iloc[0]["amount"] == pytest.approx(year_ago)
    assert ly.iloc[-1]["amount"] == pytest.approx(sum(_raw_revenue(tx, FIRST, end).values()))


def test_rep_leaderboard_judges_the_plan_months(mid):
    tx, act, tgm, tgt = mid["tx"], mid["act"], mid["tgm"], mid["tgt"]
    board = rv.rep_leaderboard(act, tgm, REPS, PERIOD, FY, plan=PLAN, first_month=FIRST)
    end = pd.Timestamp(PERIOD + "-01")
    rev = _raw_revenue(tx, FIRST, end, by="rep_id")
    t_ytd = _raw_target(tgt, FIRST, end, col="target_revenue", by="rep_id")
    t_fy = _raw_target(tgt, FIRST, pd.Timestamp(f"{FY}-12-01"), col="target_revenue", by="rep_id")
    for r in board.itertuples():
        assert r.actual_ytd == pytest.approx(rev.get(r.rep_id, 0.0), rel=1e-12)
        assert r.target_ytd == pytest.approx(t_ytd.get(r.rep_id, 0.0), rel=1e-12)
        assert r.target_fy == pytest.approx(t_fy.get(r.rep_id, 0.0), rel=1e-12)
    # capacity of the plan's months: 4 months to date for a rep employed all year
    r1 = board.set_index("rep_id").loc["R1"]
    assert r1["active_months"] == 4 and r1["capacity_ytd"] == pytest.approx(4.0)


def test_replan_closes_the_gap_of_the_plan_months(mid):
    act, tgm, tgt, tx = mid["act"], mid["tgm"], mid["tgt"], mid["tx"]
    revised = rv.replan(tgm, act, PERIOD, FY, plan=PLAN, floor_at_plan=False, first_month=FIRST)
    end = pd.Timestamp(PERIOD + "-01")
    gap = tgt["target_revenue"].sum() - sum(_raw_revenue(tx, FIRST, end).values())
    unit = PLAN["rounding"]["revenue"]
    assert revised.attrs["need"]["revenue"] == round(max(gap, 0.0) / unit) * unit
    assert set(revised["month"]) == set(tgt["month"])  # no month before the plan
    open_ = revised[revised["status"] == "open"]
    assert open_["revised_revenue"].sum() == pytest.approx(revised.attrs["need"]["revenue"])


# --------------------------------------------------------------------------- full-year plans


def test_a_full_year_plan_gives_what_it_gave_before():
    """``first_month`` January is the full-year review, frame for frame."""
    tx, cube, cust = _data()
    tgt = make_targets(tx)
    fc, mk = make_forecast(tgt), make_market(tx)
    a = rv.build_review(cube, cust, tgt, fc, mk, PERIOD, FY)
    b = rv.build_review(cube, cust, tgt, fc, mk, PERIOD, FY, first_month=JAN)
    pd.testing.assert_frame_equal(a, b)
    act, tgm = rv.monthly_actuals(cube, cust, PERIOD, FY), rv.monthly_targets(tgt, FY)
    pd.testing.assert_frame_equal(act, rv.monthly_actuals(cube, cust, PERIOD, FY, first_month=JAN))
    pd.testing.assert_frame_equal(
        rv.rep_leaderboard(act, tgm, REPS, PERIOD, FY, plan=PLAN, review=a),
        rv.rep_leaderboard(act, tgm, REPS, PERIOD, FY, plan=PLAN, review=a, first_month=JAN),
    )
    pd.testing.assert_frame_equal(
        rv.replan(tgm, act, PERIOD, FY, plan=PLAN),
        rv.replan(tgm, act, PERIOD, FY, plan=PLAN, first_month=JAN),
    )
    pd.testing.assert_frame_equal(
        rv.bridge_target(cust, tgt, PERIOD, FY, plan=PLAN),
        rv.bridge_target(cust, tgt, PERIOD, FY, plan=PLAN, first_month=JAN),
    )
    pd.testing.assert_frame_equal(
        rv.bridge_last_year(cust, PERIOD, FY),
        rv.bridge_last_year(cust, PERIOD, FY, first_month=JAN),
    )
    pd.testing.assert_frame_equal(
        rv.pacing_table(a, PERIOD, FY), rv.pacing_table(a, PERIOD, FY, first_month=JAN)
    )
    curve = rv.pacing_curve(act, tgm, fc, PERIOD, FY)
    assert curve["in_plan"].all()
    pd.testing.assert_frame_equal(
        curve, rv.pacing_curve(act, tgm, fc, PERIOD, FY, first_month=JAN)
    )
    assert (rv.monthly_overview(act, tgm, PERIOD, FY)["status"] != rv.BEFORE_PLAN).all()


def test_a_first_month_outside_the_fiscal_year_is_refused():
    with pytest.raises(InputError, match="2027-01"):
        rv.review_start(FY, "2027-01")


# --------------------------------------------------------------------------- property


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(0, 11), ahead=st.integers(0, 11))
def test_window_targets_sum_to_the_plan_and_actuals_to_the_raw_rows(cut, ahead):
    """For any cutoff (December of last year to November) and any report month from the plan's
    first month: the ``fy`` targets are the plan, the ``ytd`` actuals are the raw rows of the
    plan's months to date, customers the activations of those months."""
    tx, cube, cust = _data()
    first = pd.Timestamp(FY, cut + 1, 1)
    period = pd.Period(first, "M") + min(ahead, 12 - first.month)
    if period > pd.Period(PERIOD, "M"):  # the lines end in October
        period = pd.Period(PERIOD, "M")
    if period < pd.Period(first, "M"):
        period = pd.Period(first, "M")
    tgt = _plan_targets(tx, first)
    att = rv.attainment_table(
        rv.monthly_actuals(cube, cust, period, FY, first_month=first),
        rv.monthly_targets(tgt, FY),
        None,
        period,
        FY,
        levels=["total", "region"],
        first_month=first,
    )
    end = period.to_timestamp()
    fy = _row(att, "total", "revenue", "fy")
    assert fy["target"] == pytest.approx(tgt["target_revenue_no_cushion"].sum(), rel=1e-12)
    ytd = _row(att, "total", "revenue", "ytd")
    assert ytd["actual"] == pytest.approx(sum(_raw_revenue(tx, first, end).values()), abs=1e-6)
    assert ytd["target"] == pytest.approx(sum(_raw_target(tgt, first, end).values()), abs=1e-6)
    cust_ytd = att[(att["measure"] == "customers") & (att["window"] == "ytd")]
    want = _raw_activations(tx, first, end)
    got = cust_ytd[cust_ytd["level"] == "region"].set_index("region")["actual"]
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in want.items() if v}
    assert np.isclose(_row(att, "total", "customers", "ytd")["actual"], sum(want.values()))
