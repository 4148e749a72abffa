"""The stages of the target decomposition, each alone on a small company built in code.

``decompose`` runs them in order (tests/test_decompose.py tests the whole); here each stage's
own promise is checked with numbers that can be worked out by hand.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from salesanalysis.errors import ConstraintConflict, PlanError
from salesanalysis.targets.cells import PlanCells, plan_cells, shares
from salesanalysis.targets.checks import adding_up_checks, checks_frame
from salesanalysis.targets.company import company_targets
from salesanalysis.targets.constraints import apply_constraints, constraint_checks
from salesanalysis.targets.crossing import cross_dimensions
from salesanalysis.targets.customers import cell_customers
from salesanalysis.targets.explain import Explanation, bridge_table, explain
from salesanalysis.targets.feasibility import feasibility_table
from salesanalysis.targets.forecast_rows import Z80, annual_forecast, forecast_rows
from salesanalysis.targets.keys import allocation_keys
from salesanalysis.targets.periods import plan_windows
from salesanalysis.targets.phasing import phase_to_months
from salesanalysis.targets.plan import plan_from_dict
from salesanalysis.targets.reps import UNASSIGNED, split_to_reps
from salesanalysis.targets.rounding import round_chain, round_revenue, round_unit
from salesanalysis.targets.segments import LEVELS
from salesanalysis.targets.strategies import apply_strategies

CELL = ["region", "product_line", "customer_type"]
# a season that adds up to 12 over a year (March low, September high)
SEASON = np.array([1.0, 1.0, 0.4, 1.0, 1.0, 1.0, 1.0, 1.0, 1.6, 1.0, 1.0, 1.0])
# annual revenue per cell (region, product line, customer type)
LEVEL = {
    ("E", "Pump", "KA"): 6000.0,
    ("E", "Pump", "SMB"): 2000.0,
    ("E", "Valve", "KA"): 3000.0,
    ("E", "Valve", "SMB"): 1000.0,
    ("N", "Pump", "KA"): 1200.0,
    ("N", "Pump", "SMB"): 1200.0,
    ("N", "Valve", "KA"): 600.0,
    ("N", "Valve", "SMB"): 1000.0,
}


def make_cube(level=LEVEL, years=(2024, 2025)) -> pd.DataFrame:
    """Every cell sells level / 12 x SEASON[month] each month, through rep E1 or N1."""
    rows = []
    for y in years:
        for m in range(1, 13):
            for (r, p, c), v in level.items():
                rows.append(
                    (pd.Timestamp(f"{y}-{m:02d}-01"), r, p, c, f"{r}1", v / 12 * SEASON[m - 1])
                )
    cube = pd.DataFrame(rows, columns=["month", *CELL, "rep_id", "revenue"])
    return cube.assign(quantity=1.0, orders=1, customers=1)


def make_market(years=(2024, 2025, 2026), size=100_000.0) -> pd.DataFrame:
    months = [pd.Timestamp(f"{y}-{m:02d}-01") for y in years for m in range(1, 13)]
    return pd.DataFrame(
        [(mo, r, p, size / 12) for mo in months for r in ("E", "N") for p in ("Pump", "Valve")],
        columns=["month", "region", "product_line", "market_size"],
    )


def make_plan(**over):
    d = {
        "fiscal_year": 2026,
        "plan_cutoff": "2025-12",
        "targets": {"revenue": {"growth": 0.1}},
        "allocation": {"key_weights": {"history": 1.0}},
        "rounding": {"revenue": 100, "customers": 1},
    }
    d.update(over)
    return plan_from_dict(d)


def make_cells(plan=None, cube=None, market=None, forecast=None) -> PlanCells:
    plan = plan or make_plan()
    cube = make_cube() if cube is None else cube
    market = make_market() if market is None else market
    return plan_cells(cube, market, forecast, plan_windows(plan), plan)


def make_reps(rows) -> pd.DataFrame:
    reps = pd.DataFrame(rows, columns=["rep_id", "name", "region", "hire_date", "end_date", "fte"])
    reps["hire_date"] = pd.to_datetime(reps["hire_date"])
    reps["end_date"] = pd.to_datetime(reps["end_date"])
    return reps


# --------------------------------------------------------------------------- periods, cells


def test_plan_windows_full_year_and_mid_year() -> None:
    win = plan_windows(make_plan())
    assert win.months == list(pd.date_range("2026-01-01", periods=12, freq="MS"))
    assert win.base == list(pd.date_range("2025-01-01", periods=12, freq="MS"))
    assert win.last_year == win.base and win.ytd == []
    mid = plan_windows(make_plan(plan_cutoff="2026-06", allocation={"history_window_months": 6}))
    assert [m.month for m in mid.months] == [7, 8, 9, 10, 11, 12]
    assert mid.ytd == list(pd.date_range("2026-01-01", periods=6, freq="MS"))
    assert mid.last_year == list(pd.date_range("2025-07-01", periods=6, freq="MS"))
    assert mid.history == mid.ytd and mid.cutoff == pd.Timestamp("2026-06-01")


def test_plan_cells_vectors_and_market_potential() -> None:
    cells = make_cells(make_plan(allocation={"potential_share": 0.5}))
    assert cells.members == {
        "region": ["E", "N"],
        "product_line": ["Pump", "Valve"],
        "customer_type": ["KA", "SMB"],
    }
    assert cells.shape == (2, 2, 2) and cells.n == 8
    expected = [LEVEL[tuple(r)] for r in cells.cells[CELL].itertuples(index=False)]
    np.testing.assert_allclose(cells.history, expected)
    np.testing.assert_allclose(cells.base, expected)
    np.testing.assert_allclose(cells.last_year, expected)
    np.testing.assert_allclose(cells.forecast, expected)  # no forecast: the history
    # market 100,000 per region x product line, split over customer types by history
    assert cells.market[:2].tolist() == pytest.approx([75_000, 25_000])  # E Pump: 6000 / 2000
    assert cells.market[4:6].tolist() == pytest.approx([50_000, 50_000])  # N Pump: 1200 / 1200
    np.testing.assert_allclose(cells.potential, cells.market * 0.5)
    assert cells.has_market.all()
    # no forecast at all: a failed check, and no note while the forecast key has no weight
    assert [c[0] for c in cells.checks] == ["forecast covers the plan months"]
    assert cells.notes == ()
    assert not cells.coverage.complete and np.isnan(cells.coverage.mean)


def test_plan_cells_notes_and_label_errors() -> None:
    plan = make_plan(allocation={"key_weights": {"history": 0.5, "forecast": 0.5}})
    short = make_cube(years=(2025,))[lambda d: d["month"] >= "2025-04-01"]
    cells = make_cells(plan, cube=short, market=make_market(years=(2024, 2025)))
    assert cells.notes[0].startswith("less than 12 months of history before the cutoff")
    assert "fall back to history" in cells.notes[1]
    assert "previous year are used" in cells.notes[2]
    with pytest.raises(PlanError, match="pins\\[0\\].*names region 'W'"):
        make_cells(make_plan(pins=[{"segment": {"region": "W"}, "revenue": 100}]))
    with pytest.raises(PlanError, match="after the last month of data"):
        make_cells(make_plan(plan_cutoff="2026-03"))


# --------------------------------------------------------------------------- company, keys


def test_company_targets_growth_value_and_mid_year() -> None:
    cube = make_cube()
    plan = make_plan()
    c = company_targets(cube, make_cells(plan), plan_windows(plan), plan)
    assert c.base == pytest.approx(16_000) and c.last_year == pytest.approx(16_000)
    assert c.full_year == pytest.approx(17_600) and c.total == 17_600 and c.actual_ytd == 0
    # a mid-year plan: the full-year value minus the actuals to the cutoff, rounded to 100
    cube26 = make_cube(years=(2024, 2025, 2026))
    mid = make_plan(plan_cutoff="2026-06", targets={"revenue": {"value": 20_049}})
    c = company_targets(cube26, make_cells(mid, cube=cube26), plan_windows(mid), mid)
    ytd = 16_000 / 12 * SEASON[:6].sum()
    assert c.actual_ytd == pytest.approx(ytd)
    assert c.total == round_unit(20_049 - ytd, 100) == 12_800  # 20,049 - 7,200
    with pytest.raises(PlanError, match="already reached"):
        low = make_plan(plan_cutoff="2026-06", targets={"revenue": {"value": 1000}})
        company_targets(cube26, make_cells(low, cube=cube26), plan_windows(low), low)


def test_allocation_keys_margins_are_the_blended_shares() -> None:
    plan = make_plan(allocation={"key_weights": {"history": 0.5, "equal": 0.5}})
    cells = make_cells(plan)
    keys = allocation_keys(cells, 10_000.0, plan)
    # region history: E 12,000 and N 4,000 of 16,000; equal: 1/2 each
    np.testing.assert_allclose(keys.margins[0], [10_000 * (0.5 * 0.75 + 0.25), 3750.0])
    # product line: Pump 10,400, Valve 5,600
    np.testing.assert_allclose(keys.margins[1], [10_000 * (0.5 * 0.65 + 0.25), 4250.0])
    for m in keys.margins:
        assert m.sum() == pytest.approx(10_000)
    row = keys.table.set_index(["dimension", "member"]).loc[("region", "E")]
    assert row["history"] == pytest.approx(0.75) and row["equal"] == 0.5
    assert row["blended"] == pytest.approx(0.625) and row["margin"] == pytest.approx(6250)
    np.testing.assert_allclose(keys.cells["equal"], np.full(8, 1 / 8))
    assert keys.blend(10_000).sum() == pytest.approx(10_000)


# --------------------------------------------------------------------------- crossing


def test_crossing_keeps_the_total_and_every_margin() -> None:
    plan = make_plan(allocation={"key_weights": {"history": 0.4, "equal": 0.6}})
    cells = make_cells(plan)
    keys = allocation_keys(cells, 17_600.0, plan)
    crossed = cross_dimensions(keys, cells.shape, 17_600.0, "CNY")
    table = crossed.cells.reshape(cells.shape)
    assert crossed.cells.sum() == pytest.approx(17_600)
    for ax, margin in enumerate(keys.margins):
        other = tuple(a for a in range(3) if a != ax)
        np.testing.assert_allclose(table.sum(axis=other), margin, atol=1e-4)
    assert crossed.checks[0][0] == "IPF: margins matched" and crossed.error < 1e-9 * 17_600
    # history only: the margins are the history's, so the crossing is the history scaled
    hist = make_plan()
    keys_h = allocation_keys(cells, 17_600.0, hist)
    crossed_h = cross_dimensions(keys_h, cells.shape, 17_600.0, "CNY")
    np.testing.assert_allclose(crossed_h.cells, cells.history * 1.1, rtol=1e-6)


def test_crossing_of_a_zero_total_is_zero() -> None:
    plan = make_plan()
    cells = make_cells(plan)
    crossed = cross_dimensions(allocation_keys(cells, 0.0, plan), cells.shape, 0.0, "CNY")
    assert crossed.cells.tolist() == [0.0] * 8 and crossed.iterations == 0


# --------------------------------------------------------------------------- strategies


def test_price_strategy_moves_the_stated_share_and_keeps_the_total() -> None:
    cells = make_cells()
    x0 = np.full(8, 1000.0)
    s = {"name": "p", "segment": {"product_line": "Pump"}, "kind": "price", "pct": 0.1}
    plan = make_plan(strategies=[{**s, "rationale": "list price"}])
    mix = apply_strategies(x0, cells.cells, cells.grid, plan.strategies, 8000.0)
    pump = (cells.cells["product_line"] == "Pump").to_numpy()
    # pumps x 1.1, then everything scaled back to 8,000: pumps 1.1 / 2.1 of the total
    assert mix.cells.sum() == pytest.approx(8000)
    assert mix.cells[pump].sum() == pytest.approx(8000 * 1.1 / 2.1)
    np.testing.assert_allclose(mix.effects["p"], np.where(pump, 100.0, 0.0))
    np.testing.assert_allclose(mix.renorm, mix.cells - np.where(pump, 1100.0, 1000.0))
    np.testing.assert_allclose(mix.price_mult, np.where(pump, 1.1, 1.0))
    assert (mix.promo_mult == 1).all()


def test_channel_shift_moves_the_share_to_the_mapped_cells() -> None:
    cells = make_cells()
    x0 = np.arange(1.0, 9.0) * 100
    plan = make_plan(
        strategies=[
            {
                "name": "shift",
                "segment": {"region": "E", "customer_type": "SMB"},
                "kind": "channel_shift",
                "pct": 0.25,
                "to": {"customer_type": "KA"},
                "rationale": "via key accounts",
            }
        ]
    )
    mix = apply_strategies(x0, cells.cells, cells.grid, plan.strategies, x0.sum())
    # E/Pump/SMB (200) and E/Valve/SMB (400) give a quarter to their KA cells (100, 300)
    np.testing.assert_allclose(mix.cells, [150, 150, 400, 300, 500, 600, 700, 800])
    assert mix.renorm.tolist() == [0.0] * 8


# --------------------------------------------------------------------------- constraints


def test_constraints_respect_pins_floors_and_caps() -> None:
    plan = make_plan(
        pins=[{"segment": {"region": "N"}, "revenue": 4000}],
        floors={"vs_last_year": 0.9},
        caps={"vs_potential": 1.0},
        allocation={"key_weights": {"history": 1.0}, "potential_share": 0.08},
    )
    cells = make_cells(plan)
    x2 = cells.history * 1.1  # 17,600
    fitted = apply_constraints(x2, cells, 17_600.0, plan)
    north = (cells.cells["region"] == "N").to_numpy()
    assert fitted.cells.sum() == pytest.approx(17_600)
    assert fitted.cells[north].sum() == pytest.approx(4000)
    assert (fitted.cells >= 0.9 * cells.last_year - 1e-6).all()
    assert (fitted.cells <= cells.potential + 1e-6).all()
    np.testing.assert_allclose(fitted.change, fitted.cells - x2)
    # E/Pump/KA would get 6,600 and more of what N gives up; its cap is 0.08 x 75,000
    assert fitted.cells[0] == pytest.approx(6000) and fitted.cells[1] == pytest.approx(2000)
    assert "cap 100% x potential" in fitted.binding[0]
    # the 13,600 left for E: E/Valve shares what the capped pumps cannot take, 3:1
    assert fitted.cells[2:4].tolist() == pytest.approx([4200, 1400])
    assert all("pins[0] (region=N)" in fitted.binding[i] for i in np.flatnonzero(north))
    assert fitted.checks[0][1]  # fitted
    # rounded by the rounding stage, the checks hold too
    r_c = fitted.cells.round(-2)
    assert r_c.sum() == 17_600 and r_c[north].sum() == 4000
    assert [ok for _, ok, _, _ in constraint_checks(r_c, fitted, 100)] == [True] * 3


def test_constraints_that_cannot_hold_name_the_conflict() -> None:
    plan = make_plan(pins=[{"segment": {"region": "N"}, "revenue": 20_000}])
    cells = make_cells(plan)
    with pytest.raises(ConstraintConflict, match=r"pins\[0\] \(region=N\) = 20,000") as ei:
        apply_constraints(cells.history * 1.1, cells, 17_600.0, plan)
    assert "company revenue target 17,600" in str(ei.value)
    both = make_plan(floors={"vs_last_year": 1.0}, caps={"vs_potential": 0.01})
    with pytest.raises(ConstraintConflict, match="8 cells have a floor"):
        apply_constraints(cells.history, cells, 16_000.0, both)


# --------------------------------------------------------------------------- phasing


def test_phasing_sums_to_the_annual_and_follows_the_season() -> None:
    cube = make_cube()
    cube = cube[~((cube["region"] == "N") & (cube["customer_type"] == "SMB"))]
    cube = pd.concat(  # N/Pump/SMB sold only in September
        [cube, make_cube({("N", "Pump", "SMB"): 1200.0})[lambda d: d["month"].dt.month == 9]]
    )
    plan = make_plan()
    cells = make_cells(plan, cube=cube)
    x3 = np.arange(1.0, 9.0) * 1200
    ph = phase_to_months(x3, cells, plan_windows(plan), plan)
    np.testing.assert_allclose(ph.cell_months.sum(axis=1), x3)
    np.testing.assert_allclose(ph.weights.sum(axis=1), 1.0)
    # a cell with a full history: its own season (the same as the company's here)
    np.testing.assert_allclose(ph.cell_months[0], 1200 / 12 * SEASON)
    # N/Pump/SMB has one month of history (< 9 of 12): the company's profile
    i = cells.grid.get_loc(("N", "Pump", "SMB"))
    comp = cube.groupby(cube["month"].dt.month)["revenue"].sum().to_numpy()
    np.testing.assert_allclose(ph.weights[i], comp / comp.sum())
    assert ph.source == "history" and ph.notes == ()


def test_forecast_phasing_without_a_forecast_falls_back_to_history() -> None:
    plan = make_plan(phasing="forecast")
    cells = make_cells(plan)
    ph = phase_to_months(cells.history, cells, plan_windows(plan), plan)
    assert ph.source == "history" and "history used instead" in ph.notes[0]


# --------------------------------------------------------------------------- reps


def test_reps_split_by_capacity_sums_to_the_region() -> None:
    plan = make_plan()
    win = plan_windows(plan)
    reps = make_reps(
        [
            ("E1", "a", "E", "2020-01-01", None, 1.0),
            ("E2", "b", "E", "2020-01-01", None, 0.5),
            ("E3", "c", "E", "2026-07-01", None, 1.0),  # hired in July, ramp from 25%
            ("N1", "d", "N", "2020-01-01", "2026-06-30", 1.0),  # leaves end of June
        ]
    )
    regions = np.array(["E", "E", "N"])
    split = split_to_reps(regions, reps, make_cube(), win, plan)
    rows = split.rows
    np.testing.assert_allclose(rows.groupby(["cell", "m"])["share"].sum(), 1.0)
    jan = rows[(rows["cell"] == 0) & (rows["m"] == 0)].set_index("rep_id")["share"]
    assert jan.to_dict() == pytest.approx({"E1": 2 / 3, "E2": 1 / 3})
    jul = rows[(rows["cell"] == 0) & (rows["m"] == 6)].set_index("rep_id")["share"]
    assert jul.to_dict() == pytest.approx({"E1": 1 / 1.75, "E2": 0.5 / 1.75, "E3": 0.25 / 1.75})
    # amounts split by the shares add up to the region's amounts
    amount = np.array([[1200.0] * 12, [600.0] * 12, [900.0] * 12])
    rows = rows.assign(v=amount[rows["cell"], rows["m"]] * rows["share"])
    assert rows.loc[rows["region"] == "E", "v"].sum() == pytest.approx(1800 * 12)
    # N has nobody after June: those months go to UNASSIGNED, with a note
    north = rows[rows["region"] == "N"]
    assert set(north.loc[north["m"] >= 6, "rep_id"]) == {UNASSIGNED}
    assert north["v"].sum() == pytest.approx(900 * 12)
    assert "no active rep in some months of: N" in split.notes[0]


# --------------------------------------------------------------------------- rounding


def test_rounding_is_exact_on_every_level() -> None:
    rng = np.random.default_rng(1)
    x_cm = rng.uniform(0, 1000, (3, 4))
    x_c = x_cm.sum(axis=1)
    total = round_unit(x_c.sum(), 10)
    x_cm *= total / x_c.sum()
    x_c = x_cm.sum(axis=1)
    bottom = pd.DataFrame(
        [
            (c, m, "E" if c < 2 else "N", rep, share)
            for c in range(3)
            for m in range(4)
            for rep, share in ((["a", 0.3], ["b", 0.7]) if c < 2 else (["n", 1.0],))
        ],
        columns=["cell", "m", "region", "rep_id", "share"],
    )
    notes: list[str] = []
    r_c, r_cm, r_b = round_chain(x_c, x_cm, bottom, 10, total, [], None, None, notes, "t")
    for arr in (r_c, r_cm, r_b):
        np.testing.assert_allclose(arr, np.round(arr / 10) * 10)
    assert r_c.sum() == total
    np.testing.assert_allclose(r_cm.sum(axis=1), r_c)
    assert (np.abs(r_c - x_c) < 10).all()
    by_row = bottom.assign(v=r_b).groupby(["cell", "m"])["v"].sum().to_numpy().reshape(3, 4)
    np.testing.assert_allclose(by_row, r_cm)
    assert round_unit(1250, 100) == 1300 and round_unit(1249.9, 100) == 1200


def test_round_revenue_holds_pins_and_the_cushioned_total() -> None:
    plan = make_plan(pins=[{"segment": {"region": "N"}, "revenue": 4400}], cushion_pct=0.05)
    cells = make_cells(plan)
    win = plan_windows(plan)
    fitted = apply_constraints(cells.history * 1.1, cells, 17_600.0, plan)
    ph = phase_to_months(fitted.cells, cells, win, plan)
    reps = make_reps([("E1", "a", "E", None, None, 1.0), ("N1", "b", "N", None, None, 1.0)])
    split = split_to_reps(cells.cells["region"].to_numpy(), reps, cells.hist, win, plan)
    r = round_revenue(fitted, ph.cell_months, split.rows, 17_600.0, plan)
    assert r.rows.sum() == 17_600 and r.total_c == 18_500 and r.rows_c.sum() == 18_500
    north = (cells.cells["region"] == "N").to_numpy()
    assert r.cells[north].sum() == 4400 and r.cells_c[north].sum() == 4600  # 4,620 -> 4,600
    np.testing.assert_allclose(r.cell_months_c.sum(axis=1), r.cells_c)


# --------------------------------------------------------------------------- customers


def test_cell_customers_follow_revenue_per_customer_and_add_up() -> None:
    plan = make_plan(pins=[{"segment": {"region": "N"}, "customers": 6}])
    cells = make_cells(plan)
    hc = pd.DataFrame(  # base window: E/Pump/KA has 2 customers of 3,000, N/Pump/KA 1 of 1,200
        [
            ("c1", "E", "Pump", "KA", "E1", 3000.0),
            ("c2", "E", "Pump", "KA", "E1", 3000.0),
            ("c3", "N", "Pump", "KA", "N1", 1200.0),
        ],
        columns=["customer_id", *CELL, "rep_id", "revenue"],
    )
    x3 = np.zeros(8)
    x3[cells.grid.get_loc(("E", "Pump", "KA"))] = 12_000  # 4 customers' worth
    x3[cells.grid.get_loc(("N", "Pump", "KA"))] = 2_400  # 2 customers' worth
    no_pin = make_plan()
    cust, pins = cell_customers(hc, x3, cells, 12.0, no_pin)
    assert pins == [] and cust.sum() == pytest.approx(12)
    assert cust[cells.grid.get_loc(("E", "Pump", "KA"))] == pytest.approx(8)
    assert cust[cells.grid.get_loc(("N", "Pump", "KA"))] == pytest.approx(4)
    cust, pins = cell_customers(hc, x3, cells, 12.0, plan)  # the pin moves 2 from E to N
    north = (cells.cells["region"] == "N").to_numpy()
    assert cust.sum() == pytest.approx(12) and cust[north].sum() == pytest.approx(6)
    assert cust[cells.grid.get_loc(("E", "Pump", "KA"))] == pytest.approx(6)
    assert pins[0].target == 6


# --------------------------------------------------------------------------- checks, feasibility


def test_checks_find_targets_that_do_not_add_up() -> None:
    grid = pd.MultiIndex.from_tuples([("E", "P", "K"), ("N", "P", "K")], names=CELL)
    months = [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-02-01")]
    t = pd.DataFrame(
        {"month": months * 2, "region": ["E", "E", "N", "N"], "product_line": "P"}
    ).assign(customer_type="K", rep_id="r", target=[100.0, 200.0, 300.0, 400.0])
    rc, rcm = np.array([300.0, 700.0]), np.array([[100.0, 200.0], [300.0, 400.0]])
    ok = adding_up_checks(
        t, [("target", 1000.0, "total")], [("target", rc, rcm)], grid, months, 100
    )
    assert len(ok) == 5 and all(r[1] for r in ok)
    bad = t.assign(target=[100.0, 250.0, 300.0, 400.0])
    rows = adding_up_checks(
        bad, [("target", 1000.0, "t")], [("target", rc, rcm)], grid, months, 100
    )
    assert [r[1] for r in rows] == [False, False, False, False, True]
    frame = checks_frame(rows, ["a note"])
    assert frame.iloc[-1].tolist()[:2] == ["note", True] and frame.iloc[-1]["detail"] == "a note"


def test_feasibility_reads_the_forecast_as_a_normal() -> None:
    months = list(pd.date_range("2026-01-01", periods=2, freq="MS"))
    fc = pd.DataFrame(
        {"month": months, "mean": [500.0, 500.0], "level": "total"}
        | {c: "*" for c in [*CELL, "rep_id"]}
    )
    fc["lo_80"], fc["hi_80"] = fc["mean"] - 50 * Z80, fc["mean"] + 50 * Z80  # sigma 50 a month
    rows = forecast_rows(fc, "company", months)
    assert rows["sigma"].tolist() == pytest.approx([50, 50])
    an = annual_forecast(rows, [])
    assert an[["fc_mean", "fc_sigma", "fc_months"]].iloc[0].tolist() == pytest.approx(
        [1000, 100, 2]
    )
    seg = pd.DataFrame(
        [("company", "*", "*", "*", "*", 1000.0, 1050.0)],
        columns=["level", *CELL, "rep_id", "target_revenue_no_cushion", "target_revenue"],
    )
    feas = feasibility_table(fc, seg, months, True).iloc[0]
    assert feas["target"] == 1000 and feas["p_reach"] == pytest.approx(0.5)
    assert feas["forecast_p90"] == pytest.approx(1000 + Z80 * 100) and feas["flag"] == ""
    assert feasibility_table(fc, seg, months, False).empty
    assert list(LEVELS) == ["company", "region", "product_line", "customer_type", "cell", "rep"]


# --------------------------------------------------------------------------- explanation


def test_explain_parts_add_up_to_the_target() -> None:
    plan = make_plan(cushion_pct=0.1)
    parts = pd.DataFrame(
        {
            "region": ["E", "N"],
            "product_line": "P",
            "customer_type": "K",
            "key_history": [600.0, 400.0],
            "key_forecast": 0.0,
            "key_potential": 0.0,
            "key_equal": 0.0,
            "ipf": [20.0, -20.0],
            "renorm": 0.0,
            "constraints": [30.0, -30.0],
            "binding": ["pins[0]", ""],
            "final_nc": [700.0, 400.0],
            "final_c": [700.0, 400.0],
        }
    )
    rep_share = pd.DataFrame(
        {"cell": [0, 0], "rep_id": ["a", "b"], "final_nc": [300.0, 400.0]}
        | {"final_c": [300.0, 400.0], "share": [0.4, 0.6]}
        | {"region": "E", "product_line": "P", "customer_type": "K"}
    )
    notes = {"ipf": "crossing", "renorm": "back to the total"}
    ex = explain(Explanation(parts, rep_share, notes), plan, region="E")
    amt = ex.set_index("step")["amount"]
    assert amt["key: history"] == 600 and amt["crossing (IPF)"] == 20
    assert amt["rounding"] == 700 - 650 and amt["target without cushion"] == 700
    assert amt["cushion"] == pytest.approx(65)
    assert ex.loc[ex["step"] == "pins, floors, caps", "detail"].iloc[0] == "pins[0]"
    rep = explain(Explanation(parts, rep_share, notes), plan, rep_id="a").set_index("step")
    assert rep.loc["key: history", "amount"] == pytest.approx(240)  # 40% of the cell
    assert rep.loc["rep targets (with cushion)", "amount"] == 300
    with pytest.raises(PlanError, match="cannot explain by"):
        explain(Explanation(parts, rep_share, notes), plan, colour="red")
    with pytest.raises(PlanError, match="rep z has no target"):
        explain(Explanation(parts, rep_share, notes), plan, rep_id="z")


def test_bridge_steps_add_up_from_last_year_to_the_target() -> None:
    from salesanalysis.targets.company import CompanyTargets
    from salesanalysis.targets.customers import CustomerTargets
    from salesanalysis.targets.strategies import StrategyMix

    company = CompanyTargets(1000.0, 1000.0, 0.0, 1210.0, 1210.0)
    one = np.ones(2)
    mix = StrategyMix(np.array([660.0, 550.0]), {}, 0 * one, np.array([1.1, 1.0]), one)
    custs = CustomerTargets(np.zeros(2), 11.0, 11.0, 10, 0)
    b = bridge_table(company, np.array([660.0, 550.0]), mix, custs).set_index("step")["amount"]
    assert b["price"] == pytest.approx(60) and b["new customers"] == pytest.approx(100)
    assert b["volume"] == pytest.approx(50) and b["strategies"] == 0
    assert b.iloc[1:5].sum() == pytest.approx(b["target"] - b["last year"])


def test_shares_are_non_negative_and_sum_to_one() -> None:
    assert shares(pd.Series([3.0, -1.0, 1.0])).tolist() == [0.75, 0.0, 0.25]
    assert shares(pd.Series([0.0, 0.0])).tolist() == [0.5, 0.5]
