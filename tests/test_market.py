"""Market analysis numbers on small hand-computed fixtures (and hypothesis invariants)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesanalysis import market as M
from salesanalysis.errors import InputError

DIMS = ["region", "product_line", "customer_type", "rep_id"]


def customer_cube(rows: list[tuple]) -> pd.DataFrame:
    """Rows ``(month 'YYYY-MM', customer, revenue[, quantity, region, product_line, type])``."""
    recs = []
    for r in rows:
        month, cust, rev, *rest = r
        qty = rest[0] if len(rest) > 0 else 1.0
        region = rest[1] if len(rest) > 1 else "华东"
        line = rest[2] if len(rest) > 2 else "Pumps"
        ctype = rest[3] if len(rest) > 3 else "SMB"
        recs.append(
            {
                "month": pd.Timestamp(f"{month}-01"),
                "customer_id": cust,
                "region": region,
                "product_line": line,
                "customer_type": ctype,
                "rep_id": "R1",
                "revenue": float(rev),
                "quantity": float(qty),
                "orders": 1,
            }
        )
    df = pd.DataFrame(recs)
    keys = ["month", "customer_id", *DIMS]
    return df.groupby(keys, as_index=False).agg(
        revenue=("revenue", "sum"), quantity=("quantity", "sum"), orders=("orders", "sum")
    )


def cube_of(cc: pd.DataFrame) -> pd.DataFrame:
    keys = ["month", *DIMS]
    return cc.groupby(keys, as_index=False).agg(
        revenue=("revenue", "sum"),
        quantity=("quantity", "sum"),
        orders=("orders", "sum"),
        customers=("customer_id", "nunique"),
    )


def months(start: str, end: str) -> list[str]:
    return [p.strftime("%Y-%m") for p in pd.period_range(start, end, freq="M")]


# ----------------------------------------------------------------------------- KPIs


@pytest.fixture
def kpi_data():
    rows = [(m, "A", 100.0) for m in months("2024-01", "2025-06")]
    rows += [("2025-03", "B", 50.0), ("2024-06", "C", 10.0), ("2025-06", "C", -10.0)]
    cc = customer_cube(rows)
    return cube_of(cc), cc


def _kpi(k: pd.DataFrame, measure: str, window: str) -> pd.Series:
    return k.set_index(["measure", "window"]).loc[(measure, window)]


def test_headline_kpis_hand_computed(kpi_data):
    cube, cc = kpi_data
    k = M.headline_kpis(cube, cc, "2025-06")
    assert len(k) == 9
    r = _kpi(k, "revenue", "month")
    assert (r["value"], r["prior"]) == (90.0, 110.0)
    assert r["yoy"] == pytest.approx(90 / 110 - 1)
    r = _kpi(k, "revenue", "ytd")
    assert (r["value"], r["prior"]) == (640.0, 610.0)
    assert r["start"] == pd.Timestamp("2025-01-01") and r["end"] == pd.Timestamp("2025-06-01")
    r = _kpi(k, "revenue", "l12m")
    assert r["value"] == 1240.0
    # the prior 12 months start in 2023-07, before the data: no misleading growth
    assert math.isnan(r["prior"]) and math.isnan(r["yoy"]) and not r["complete_prior"]
    # customers with net revenue > 0: C's return makes them inactive
    assert _kpi(k, "customers", "month")[["value", "prior"]].tolist() == [1.0, 2.0]
    assert _kpi(k, "customers", "ytd")[["value", "prior"]].tolist() == [2.0, 2.0]
    assert _kpi(k, "customers", "l12m")["value"] == 2.0
    assert _kpi(k, "orders", "month")[["value", "prior"]].tolist() == [2.0, 2.0]
    assert _kpi(k, "orders", "ytd")["value"] == 8.0  # A x6, B, C


def test_headline_kpis_order_counts_override(kpi_data):
    cube, cc = kpi_data
    oc = pd.DataFrame({"month": pd.to_datetime(["2025-06-01", "2024-06-01"]), "orders": [7, 4]})
    k = M.headline_kpis(cube, cc, "2025-06", order_counts=oc)
    r = _kpi(k, "orders", "month")
    assert (r["value"], r["prior"], r["orders_basis"]) == (7.0, 4.0, "distinct orders")


def test_kpis_ignore_months_after_period(kpi_data):
    cube, cc = kpi_data
    k = M.headline_kpis(cube, cc, "2025-03")
    assert _kpi(k, "revenue", "ytd")["value"] == 350.0  # A 300 + B 50
    assert _kpi(k, "customers", "ytd")["value"] == 2.0


def test_period_outside_data_is_a_clear_error(kpi_data):
    cube, cc = kpi_data
    with pytest.raises(InputError, match="outside"):
        M.headline_kpis(cube, cc, "2026-01")
    with pytest.raises(InputError, match="not a month"):
        M.as_period("June")


def test_windows():
    w = M.window("2026-03", "l12m")
    assert (w.start, w.end, w.months) == (
        pd.Timestamp("2025-04-01"),
        pd.Timestamp("2026-03-01"),
        12,
    )
    assert M.window("2026-03", "ytd").months == 3
    assert M.window("2026-03", "ytd").shift(-12).start == pd.Timestamp("2025-01-01")


# ----------------------------------------------------------------------------- STL


def _seasonal_series(
    n: int = 72, noise: float = 0.01, seed: int = 1
) -> tuple[pd.Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2020-01-01", periods=n, freq="MS")
    pattern = np.array([0.6, 0.5, 1.0, 1.05, 1.15, 1.3, 1.0, 0.85, 1.05, 0.95, 1.15, 1.4])
    pattern = pattern / pattern.mean()
    trend = 1e6 * 1.01 ** np.arange(n)
    y = trend * pattern[idx.month - 1] * np.exp(rng.normal(0, noise, n))
    return pd.Series(y, index=idx, name="revenue"), pattern


def test_stl_recovers_known_seasonal_pattern():
    y, pattern = _seasonal_series()
    ts = M.trend_seasonality(y)
    assert ts.multiplicative
    got = ts.indices.set_index("calendar_month")["seasonal_index"]
    np.testing.assert_allclose(got.to_numpy(), pattern, atol=0.03)
    assert got.mean() == pytest.approx(1.0)
    assert ts.trend_yoy == pytest.approx(1.01**12 - 1, abs=0.02)
    assert ts.seasonal_strength > 0.9
    c = ts.components
    np.testing.assert_allclose(c["trend"] + c["seasonal"] + c["resid"], c["revenue"], rtol=1e-12)
    assert c["month"].tolist() == y.index.tolist()


def test_stl_additive_when_a_month_is_zero_and_needs_two_years():
    y, _ = _seasonal_series(n=36)
    y.iloc[5] = 0.0
    ts = M.trend_seasonality(y)
    assert not ts.multiplicative
    c = ts.components
    np.testing.assert_allclose(c["trend"] + c["seasonal"] + c["resid"], c["revenue"], atol=1e-6)
    with pytest.raises(InputError, match="at least 24 months"):
        M.trend_seasonality(y.iloc[:20])


def test_monthly_revenue_fills_gaps_with_zero():
    cc = customer_cube([("2024-01", "A", 5.0), ("2024-04", "A", 7.0), ("2024-06", "B", 1.0)])
    s = M.monthly_revenue(cube_of(cc), "2024-05")
    assert s.tolist() == [5.0, 0.0, 0.0, 7.0, 0.0]
    assert s.index[0] == pd.Timestamp("2024-01-01")


# ----------------------------------------------------------------------------- mix, market


def _random_cube(seed: int, n_months: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = []
    for m in months("2023-01", (pd.Period("2023-01", "M") + n_months - 1).strftime("%Y-%m")):
        for c in range(8):
            if rng.random() < 0.6:
                rows.append(
                    (
                        m,
                        f"C{c}",
                        float(rng.integers(1, 1000)),
                        float(rng.integers(1, 20)),
                        ["华东", "华南", "西北"][c % 3],
                        ["Pumps", "Valves"][c % 2],
                        ["SMB", "KA"][c // 4],
                    )
                )
    cc = customer_cube(rows)
    return cube_of(cc), cc


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000), dim=st.sampled_from(["region", "product_line", "customer_type"])
)
def test_mix_shares_sum_to_one_and_contributions_to_growth(seed, dim):
    cube, _ = _random_cube(seed)
    m = M.mix_growth(cube, "2025-06", dim)
    body, tot = m[m[dim] != "*"], m[m[dim] == "*"].iloc[0]
    assert body["share"].sum() == pytest.approx(1.0)
    assert body["revenue"].sum() == pytest.approx(tot["revenue"])
    assert tot["revenue"] == pytest.approx(
        cube.loc[cube["month"].between("2024-07-01", "2025-06-01"), "revenue"].sum()
    )
    assert body["contribution"].sum() == pytest.approx(tot["growth"])
    assert body["share_change"].sum() == pytest.approx(0.0, abs=1e-12)
    assert list(body["revenue"]) == sorted(body["revenue"], reverse=True)


def test_mix_without_full_prior_year_has_no_growth():
    cube, _ = _random_cube(3, n_months=18)
    m = M.mix_growth(cube, "2024-06", "region")
    assert m["growth"].isna().all() and m["prior"].isna().all()
    assert m.loc[m["region"] != "*", "share"].sum() == pytest.approx(1.0)


def _market(cube: pd.DataFrame, size: float = 1000.0) -> pd.DataFrame:
    idx = pd.MultiIndex.from_product(
        [sorted(cube["month"].unique()), ["华东", "华南", "西北"], ["Pumps", "Valves"]],
        names=["month", "region", "product_line"],
    )
    mk = pd.DataFrame(index=idx).reset_index()
    mk["market_size"] = size
    return mk


def test_market_share_is_revenue_over_market_for_the_same_months():
    cube, _ = _random_cube(7)
    mk = _market(cube)
    s = M.market_share(cube, mk, "2025-06", "region")
    sub = cube[cube["month"].between("2024-07-01", "2025-06-01")]
    for region, g in sub.groupby("region"):
        row = s[s["region"] == region].iloc[0]
        assert row["market_size"] == 12 * 2 * 1000.0
        assert row["share"] == pytest.approx(g["revenue"].sum() / 24_000)
        assert row["coverage"] == 1.0
    tot = s[s["region"] == "*"].iloc[0]
    assert tot["share"] == pytest.approx(sub["revenue"].sum() / (12 * 6 * 1000.0))
    # the total's share is the market-size-weighted mean of the rows' shares
    body = s[s["region"] != "*"]
    assert (body["share"] * body["market_size"]).sum() / body[
        "market_size"
    ].sum() == pytest.approx(tot["share"])
    ytd = M.market_share(cube, mk, "2025-06", "product_line", window_name="ytd")
    assert ytd.loc[ytd["product_line"] == "Pumps", "market_size"].iloc[0] == 6 * 3 * 1000.0
    assert ytd["share_change"].notna().all()


def test_market_share_missing_market_months_gives_no_share():
    cube, _ = _random_cube(7)
    mk = _market(cube)
    mk = mk[~((mk["region"] == "西北") & (mk["month"] == pd.Timestamp("2025-02-01")))]
    s = M.market_share(cube, mk, "2025-06", "region").set_index("region")
    assert s.loc["西北", "coverage"] == pytest.approx(11 / 12)
    assert math.isnan(s.loc["西北", "share"])
    assert s.loc["华东", "share"] > 0
    # the total covers the fully covered regions only
    full = s.drop(index=["*", "西北"])
    assert s.loc["*", "share"] == pytest.approx(full["revenue"].sum() / full["market_size"].sum())
    t = M.market_share_trend(cube, mk, "2025-06", "region", months=6)
    assert not ((t["region"] == "西北") & (t["month"] >= pd.Timestamp("2025-02-01"))).any()
    last = t[(t["month"] == pd.Timestamp("2025-06-01")) & (t["region"] == "华东")].iloc[0]
    assert last["share"] == pytest.approx(s.loc["华东", "share"])


# ----------------------------------------------------------------------------- customers


@pytest.fixture
def churn_data():
    rows = [(m, "A", 10.0) for m in months("2023-01", "2024-12")]
    rows += [("2023-01", "B", 10.0)]  # lost in 2024-01
    rows += [("2024-03", "C", 10.0), ("2024-04", "C", 5.0)]  # new in 2024-03
    rows += [("2023-02", "D", 10.0), ("2024-06", "D", 10.0)]  # lost 2024-02, back 2024-06
    rows += [("2024-05", "E", 10.0), ("2024-05", "E", -10.0)]  # net zero: never active
    return customer_cube(rows)


def test_customer_base_flows(churn_data):
    cb = M.customer_base(churn_data, "2024-12").set_index("month")
    assert len(cb) == 24
    first_year = cb.loc[:"2023-12-01"]
    assert first_year[["new", "lost", "returning"]].isna().all().all()
    assert cb.loc["2023-12-01", "active_l12m"] == 3  # A, B, D
    got = cb.loc["2024-01-01":, ["new", "returning", "lost"]]
    expected = {
        "2024-01-01": (0, 0, 1),
        "2024-02-01": (0, 0, 1),
        "2024-03-01": (1, 0, 0),
        "2024-06-01": (0, 1, 0),
    }
    for m, row in got.iterrows():
        assert tuple(row) == expected.get(m.strftime("%Y-%m-%d"), (0, 0, 0)), m
    assert cb.loc["2024-04-01", "active"] == 2  # A and C
    assert cb.loc["2024-05-01", "active"] == 1  # A; E nets to zero
    assert cb.loc["2024-12-01", "active_l12m"] == 3  # A, C, D
    assert cb.loc["2024-03-01", "revenue_per_active"] == pytest.approx(10.0)
    assert cb.loc["2024-12-01", "revenue_per_active_l12m"] == pytest.approx((120 + 15 + 10) / 3)


def test_customer_base_identity_holds(churn_data):
    cb = M.customer_base(churn_data, "2024-12")
    tail = cb.iloc[12:]
    prev = cb["active_l12m"].shift(1).iloc[12:]
    assert (tail["active_l12m"] == prev + tail["new"] + tail["returning"] - tail["lost"]).all()
    assert len(M.customer_base(churn_data, "2024-12", months=6)) == 6


def test_customer_window_counts(churn_data):
    w = M.customer_window_counts(churn_data, "2024-12").iloc[0]
    assert w["active_l12m"] == 3 and w["active_prior_l12m"] == 3  # {A,C,D} vs {A,B,D}
    assert (w["retained"], w["lost"], w["won"], w["new"]) == (2, 1, 1, 1)
    assert w["retention"] == pytest.approx(2 / 3)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_customer_base_identity_random(seed):
    _, cc = _random_cube(seed, n_months=30)
    cb = M.customer_base(cc, "2025-06")
    tail = cb.iloc[12:]
    prev = cb["active_l12m"].shift(1).iloc[12:]
    assert np.array_equal(
        tail["active_l12m"], prev + tail["new"] + tail["returning"] - tail["lost"]
    )


# ----------------------------------------------------------------------------- concentration


def test_concentration_known_cases():
    cc = customer_cube(
        [
            ("2025-01", "A", 70.0),
            ("2025-02", "B", 10.0),
            ("2025-03", "C", 10.0),
            ("2025-04", "D", 10.0),
            ("2025-05", "X", -5.0),
        ]
    )
    c = M.concentration(cc, "2025-06").iloc[0]
    assert c["customers"] == 4  # X has no positive revenue
    assert c["hhi"] == pytest.approx(5200.0)
    assert c["hhi_equivalent"] == pytest.approx(10_000 / 5200)
    assert c["top_n_share"] == pytest.approx(1.0)
    assert c["top_pct_share"] == pytest.approx(0.7)  # ceil(0.2 x 4) = 1 customer
    assert c["customers_for_80pct"] == 2
    p = M.pareto_curve(cc, "2025-06").set_index("customer_pct")
    assert p.loc[0.5, "customers"] == 2 and p.loc[0.5, "revenue_share"] == pytest.approx(0.8)
    assert p.loc[1.0, "revenue_share"] == pytest.approx(1.0)


def test_concentration_equal_customers():
    cc = customer_cube([("2025-06", f"C{i:02d}", 5.0) for i in range(20)])
    c = M.concentration(cc, "2025-06").iloc[0]
    assert c["hhi"] == pytest.approx(500.0)  # 10,000 / 20
    assert c["top_n_share"] == pytest.approx(0.5)
    assert c["top_pct_share"] == pytest.approx(0.2)
    assert c["customers_for_80pct"] == 16
    assert M.pareto_curve(cc, "2025-06")["revenue_share"].is_monotonic_increasing


def test_concentration_only_counts_the_window():
    cc = customer_cube([("2023-01", "OLD", 1e6), ("2025-06", "A", 1.0)])
    assert M.concentration(cc, "2025-06").iloc[0]["customers"] == 1


# ----------------------------------------------------------------------------- price / volume


def _pv_cube(r0: dict, q0: dict, r1: dict, q1: dict) -> pd.DataFrame:
    rows = []
    for line in sorted(set(r0) | set(r1)):
        if line in r0:
            rows.append(("2024-06", "A", r0[line], q0[line], "华东", line))
        if line in r1:
            rows.append(("2025-06", "A", r1[line], q1[line], "华东", line))
    rows.append(("2023-07", "Z", 0.0, 0.0, "华东", "Pad"))  # data start for a complete prior
    return cube_of(customer_cube(rows))


def test_price_volume_known_case():
    cube = _pv_cube({"P": 1000.0}, {"P": 100.0}, {"P": 1320.0}, {"P": 120.0})
    pv = M.price_volume(cube, "2025-06").set_index("product_line")
    row = pv.loc["P"]
    assert (row["price_prior"], row["price"]) == (10.0, 11.0)
    assert row["price_effect"] == pytest.approx(110.0)  # (11-10) x (100+120)/2
    assert row["volume_effect"] == pytest.approx(210.0)  # (120-100) x (10+11)/2
    assert row["change"] == 320.0
    assert row["price_change"] == pytest.approx(0.1) and row["quantity_change"] == pytest.approx(
        0.2
    )


def test_price_volume_new_and_stopped_lines_are_volume():
    cube = _pv_cube(
        {"Old": 500.0, "P": 100.0},
        {"Old": 5.0, "P": 10.0},
        {"New": 300.0, "P": 100.0},
        {"New": 3.0, "P": 10.0},
    )
    pv = M.price_volume(cube, "2025-06").set_index("product_line")
    assert pv.loc["New", "price_effect"] == 0 and pv.loc["New", "volume_effect"] == 300.0
    assert pv.loc["Old", "price_effect"] == 0 and pv.loc["Old", "volume_effect"] == -500.0
    assert pv.loc["*", "change"] == pytest.approx(-200.0)


amounts = st.floats(min_value=0.01, max_value=1e9, allow_nan=False, allow_infinity=False)
qty = st.one_of(
    st.just(0.0),
    st.integers(1, 1_000_000).map(float),
    st.floats(min_value=1e-3, max_value=1e6, allow_nan=False),
)


@settings(max_examples=100, deadline=None)
@given(data=st.lists(st.tuples(amounts, qty, amounts, qty), min_size=1, max_size=5))
def test_price_volume_parts_add_up_exactly(data):
    lines = [f"L{i}" for i in range(len(data))]
    r0 = {k: d[0] for k, d in zip(lines, data, strict=True)}
    q0 = {k: d[1] for k, d in zip(lines, data, strict=True)}
    r1 = {k: d[2] for k, d in zip(lines, data, strict=True)}
    q1 = {k: d[3] for k, d in zip(lines, data, strict=True)}
    pv = M.price_volume(_pv_cube(r0, q0, r1, q1), "2025-06")
    scale = max(max(r0.values()), max(r1.values()))
    parts = pv["price_effect"] + pv["volume_effect"]
    # exact up to float rounding of the largest term (a price x1000 with volume /1000 makes
    # both effects much larger than the change)
    size = np.maximum.reduce(
        [pv["price_effect"].abs(), pv["volume_effect"].abs(), pv["change"].abs()]
    )
    is_tot = (pv["product_line"] == "*").to_numpy()
    size[is_tot] = size[~is_tot].sum() * len(data)  # the total adds the lines' rounding
    assert (np.abs(parts - pv["change"]) <= 4e-16 * size + 1e-300).all()
    assert np.isfinite(pv[["price_effect", "volume_effect"]]).all().all()
    # and they match the symmetric formula where prices are defined
    ok = (pv["quantity_prior"] > 0) & (pv["quantity"] > 0)
    vol = (pv["quantity"] - pv["quantity_prior"]) * (pv["price_prior"] + pv["price"]) / 2
    np.testing.assert_allclose(
        pv.loc[ok, "volume_effect"], vol[ok], rtol=1e-9, atol=1e-9 * float(size.max())
    )
    body = pv[pv["product_line"] != "*"]
    tot = pv[pv["product_line"] == "*"].iloc[0]
    assert tot["change"] == pytest.approx(tot["revenue"] - tot["revenue_prior"], abs=1e-6 * scale)
    assert tot["price_effect"] == pytest.approx(body["price_effect"].sum(), abs=1e-9 * scale)


def test_price_volume_needs_a_prior_year():
    cube = cube_of(customer_cube([("2025-01", "A", 1.0), ("2025-06", "A", 1.0)]))
    with pytest.raises(InputError, match="a year earlier"):
        M.price_volume(cube, "2025-06")


# ----------------------------------------------------------------------------- summary


def test_market_summary_is_tidy():
    cube, cc = _random_cube(11)
    s = M.market_summary(cube, cc, _market(cube), "2025-06")
    assert list(s.columns) == [
        "period",
        "section",
        "measure",
        "dimension",
        "key",
        "window",
        "value",
        "unit",
    ]
    assert (s["period"] == "2025-06").all()
    assert not s.duplicated(["section", "measure", "dimension", "key", "window"]).any()
    assert set(s["section"]) == {
        "kpi",
        "trend",
        "mix",
        "market",
        "customers",
        "concentration",
        "price_volume",
    }
    assert s["value"].dtype == "float64"
    rev = s.query("section == 'kpi' and measure == 'revenue' and window == 'l12m'")["value"]
    assert rev.iloc[0] == pytest.approx(
        cube.loc[cube["month"].between("2024-07-01", "2025-06-01"), "revenue"].sum()
    )
    share = s.query(
        "section == 'mix' and measure == 'share' and dimension == 'region' and key != '*'"
    )["value"]
    assert share.sum() == pytest.approx(1.0)


def test_market_summary_without_two_years_skips_trend():
    cube, cc = _random_cube(5, n_months=14)
    s = M.market_summary(cube, cc, _market(cube), "2024-02")
    assert {"trend", "price_volume"}.isdisjoint(s["section"])
    assert (
        s.query("section == 'kpi' and window == 'l12m' and measure == 'revenue_yoy'")["value"]
        .isna()
        .all()
    )


# ----------------------------------------------------------------------------- notebook helpers


def test_market_parameters():
    p = M.market_parameters(period="2026-10", top_n=5, history_months=24)
    assert (p.period, p.top_n, p.history_months) == ("2026-10", 5, 24)
    assert M.market_parameters().period == ""
    with pytest.raises(InputError) as e:
        M.market_parameters(period="2026-13", top_n=0, history_months=True)
    assert len(e.value.problems) == 3


def test_md_escapes_html_and_markdown():
    assert M.md("<script>x</script>") == "&lt;script&gt;x&lt;/script&gt;"
    assert M.md("a*b_[c]") == r"a\*b\_\[c\]"


def test_kpi_table_and_narratives(kpi_data):
    cube, cc = kpi_data
    k = M.headline_kpis(cube, cc, "2025-06")
    t = M.kpi_table(k)
    assert t["window"].tolist() == ["Month", "Year to date", "Last 12 months"]
    assert t["revenue"].tolist() == [90.0, 640.0, 1240.0]
    text = M.describe_kpis(k, "CNY")
    assert "90 CNY" in text and "-18.2%" in text and "no comparable period" in text


def test_narratives_escape_labels_and_use_the_numbers():
    evil = "<script>alert(1)</script>"
    cc = customer_cube(
        [
            (m, c, v, 1.0, r)
            for m in months("2023-01", "2024-12")
            for c, v, r in (("A", 100.0, evil), ("B", 50.0, "华东"))
        ]
    )
    cube = cube_of(cc)
    mix = M.mix_growth(cube, "2024-12", "region")
    text = M.describe_mix(mix, "region")
    assert "<script>" not in text and "&lt;script&gt;" in text and "66.7%" in text
    mk = _market(cube).assign(region=lambda d: d["region"].replace("西北", evil))
    share_text = M.describe_share(M.market_share(cube, mk, "2024-12", "region"), "region")
    assert "<script>" not in share_text
    pv_text = M.describe_price_volume(M.price_volume(cube, "2024-12"))
    assert "changed by **0 CNY**" in pv_text  # flat prices and volumes: no change
    conc_text = M.describe_concentration(M.concentration(cc, "2024-12"))
    assert "66.7%" in conc_text and "HHI 5,556" in conc_text
    base_text = M.describe_customers(
        M.customer_base(cc, "2024-12"), M.customer_window_counts(cc, "2024-12")
    )
    assert base_text.startswith("2 customers") and "100.0%" in base_text
    ts_text = M.describe_trend(M.trend_seasonality(M.monthly_revenue(cube, "2024-12")))
    assert "Seasonality is weak" in ts_text
