"""Empty is normal (issue 12): every report table and chart takes an empty frame (a sentence,
never an exception) and a one-row frame (one region, one rep, one product line...); the index
page shows the plan's currency."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from salesanalysis import market as M  # noqa: E402
from salesanalysis.forecast.hierarchy import ALL  # noqa: E402
from salesanalysis.report import charts as plots  # noqa: E402
from salesanalysis.report.charts import forecast as FC  # noqa: E402
from salesanalysis.report.charts import market as MC  # noqa: E402
from salesanalysis.report.charts import review as RC  # noqa: E402
from salesanalysis.report.charts import targets as TC  # noqa: E402
from salesanalysis.report.formatting import EmptyTable, table  # noqa: E402
from salesanalysis.report.index import (  # noqa: E402
    Headline,
    headline,
    plan_currency,
    render_index,
)

P = "2024-12"


@pytest.fixture(autouse=True)
def _style():
    plots.setup()


def _png(fig: Figure) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    assert buf.getvalue()[:4] == b"\x89PNG"


# ------------------------------------------------------------------------------------ tables


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(),  # built from an empty list: no columns at all
        pd.DataFrame([]),
        pd.DataFrame(columns=["segment", "actual", "target", "gap", "attainment"]),
        pd.DataFrame({"x": [1.0]}).iloc[:, 0:0],  # rows but no columns
    ],
    ids=["no-columns", "empty-list", "no-rows", "rows-no-columns"],
)
def test_empty_table_is_a_sentence(frame: pd.DataFrame):
    t = table(
        frame,
        money=["actual", "target", "gap"],
        pct=["attainment"],
        caption="Segments furthest behind",
        unit="USD",
    )
    assert isinstance(t, EmptyTable)
    assert str(t) == "Nothing to show: Segments furthest behind."
    assert t.to_html() == t._repr_html_()
    assert "Nothing to show: Segments furthest behind." in t.to_html()
    assert "<table" not in t.to_html()


def test_empty_table_sentence_can_be_chosen_and_is_escaped():
    t = table(pd.DataFrame(), money=["gap"], empty="Nobody is <behind>.")
    assert "Nobody is &lt;behind&gt;." in t.to_html()
    assert str(table(pd.DataFrame())) == "Nothing to show."
    assert "&lt;b&gt;" in table(pd.DataFrame(), caption="<b>x</b>").to_html()


def test_one_row_table_is_a_table_and_column_names_still_checked():
    df = pd.DataFrame({"segment": ["西南"], "actual": [1.0], "gap": [-2.0]})
    html = table(df, money=["actual", "gap"], caption="One region").to_html()
    assert "<table" in html and "西南" in html
    with pytest.raises(KeyError, match="money columns"):
        table(df, money=["target"])


# ------------------------------------------------------------------------- one-cell company


def _single_cell_cube(months: int = 36) -> tuple[pd.DataFrame, ...]:
    """One region, one rep, one product line, one customer type, no returns; monthly market
    rows."""
    rng = np.random.default_rng(3)
    rows = []
    for m in pd.period_range(end=P, periods=months, freq="M"):
        for c in range(4):
            rows.append(
                {
                    "month": m.to_timestamp(),
                    "customer_id": f"C{c}",
                    "region": "西南",
                    "product_line": "Pumps",
                    "customer_type": "SMB",
                    "rep_id": "R1",
                    "revenue": float(rng.integers(100, 1000) * (1 + (m.month == 12))),
                    "quantity": float(rng.integers(1, 10)),
                    "orders": 1,
                }
            )
    customers = pd.DataFrame(rows)
    cube = customers.groupby(
        ["month", "region", "product_line", "customer_type", "rep_id"], as_index=False
    )[["revenue", "quantity", "orders"]].sum()
    cube["customers"] = 4
    market = cube.groupby(["month", "region", "product_line"], as_index=False)["revenue"].sum()
    market = market.assign(market_size=market["revenue"] * 6).drop(columns="revenue")
    return cube, customers, market


def _market_charts(cube, customers, market) -> list[Figure]:
    monthly = M.monthly_revenue(cube, P)
    figs = [MC.revenue_by_month_chart(monthly, P, currency="USD")]
    try:
        ts = M.trend_seasonality(monthly)
    except Exception:  # noqa: BLE001 - short history: the notebook says so instead
        ts = None
    if ts is not None:
        figs += [MC.trend_chart(ts.components), MC.seasonal_index_chart(ts.indices)]
    for dim in ("region", "product_line", "customer_type"):
        figs.append(MC.mix_chart(M.mix_growth(cube, P, dim), dim))
    for dim in ("region", "product_line"):
        figs.append(MC.market_share_chart(M.market_share(cube, market, P, dim), dim))
        figs.append(MC.market_share_trend_chart(M.market_share_trend(cube, market, P, dim), dim))
    figs.append(MC.customer_base_chart(M.customer_base(customers, P)))
    figs.append(MC.pareto_chart(M.customer_revenue(customers, P)))
    figs.append(MC.price_volume_chart(M.price_volume(cube, P)))
    return figs


def test_market_charts_and_tables_of_a_one_cell_company_without_returns():
    cube, customers, market = _single_cell_cube()
    assert (customers["revenue"] > 0).all()
    for fig in _market_charts(cube, customers, market):
        assert not plots.is_empty_chart(fig)
        _png(fig)
    mix = M.mix_growth(cube, P, "region")
    assert "<table" in table(mix, money=["revenue", "prior"], pct=["share"]).to_html()
    assert M.describe_mix(mix, "region")


def test_market_charts_with_no_market_rows_for_a_year():
    cube, customers, market = _single_cell_cube()
    market = market[market["month"].dt.year != 2024]
    for dim in ("region", "product_line"):
        share = M.market_share(cube, market, P, dim)
        _png(MC.market_share_chart(share, dim))
        _png(MC.market_share_trend_chart(M.market_share_trend(cube, market, P, dim), dim))
        assert M.describe_share(share, dim, "USD")


# ------------------------------------------------------------------- one-row chart frames


def _fc_frames() -> dict[str, pd.DataFrame]:
    months = pd.date_range("2025-01-01", periods=3, freq="MS")
    hist_months = pd.date_range("2023-01-01", periods=24, freq="MS")
    key = {"region": ALL, "product_line": ALL, "customer_type": ALL, "rep_id": ALL}
    fc = pd.DataFrame(
        {
            "level": "total",
            **key,
            "month": months,
            "mean": [10.0, 11.0, 12.0],
            "base_mean": [10.0, 11.0, 12.0],
            "lo_80": [8.0, 9.0, 10.0],
            "hi_80": [12.0, 13.0, 14.0],
        }
    )
    region = fc.assign(level="region", region="西南")
    history = pd.DataFrame({"level": "total", **key, "month": hist_months, "value": 9.0})
    history = pd.concat([history, history.assign(level="region", region="西南")])
    return {
        "forecast": pd.concat([fc, region], ignore_index=True),
        "history": history,
        "summary": pd.DataFrame(
            {"level": ["total"], "model": ["ets"], "mase": [0.8], "vs_baseline": [0.9]}
        ),
        "accuracy": pd.DataFrame(
            {"level": ["total"], "mase_base": [0.8], "mase_reconciled": [0.7]}
        ),
        "chosen": pd.DataFrame({"level": ["total"], "candidate": ["ets"], **key}),
        "hardest": pd.DataFrame({"level": ["region"], **{**key, "region": "西南"}, "mase": [1.2]}),
    }


def _review_frames() -> dict[str, pd.DataFrame]:
    key = {"region": "西南", "product_line": "*", "customer_type": "*", "rep_id": "*"}
    months = pd.date_range("2025-01-01", periods=12, freq="MS")
    actual = [100.0] * 9 + [np.nan] * 3
    return {
        "review": pd.DataFrame(
            [{"level": "region", "measure": "revenue", "window": "ytd", **key, "attainment": 0.9}]
        ),
        "curve": pd.DataFrame(
            {
                "month": months,
                "actual": actual,
                "cum_actual": np.cumsum(np.nan_to_num(actual)),
                "cum_target": np.arange(1, 13) * 105.0,
                "straight_line": np.arange(1, 13) * 105.0,
                "landing_mean": np.arange(1, 13) * 100.0,
                "landing_lo_80": np.arange(1, 13) * 90.0,
                "landing_hi_80": np.arange(1, 13) * 110.0,
                "cum_required": np.arange(1, 13) * 106.0,
            }
        ),
        "bridge": pd.DataFrame(
            {"label": ["target", "volume", "actual"], "kind": ["total", "delta", "total"]}
        ).assign(amount=[100.0, -10.0, 90.0]),
        "board": pd.DataFrame(
            {
                "rep_id": ["R1"],
                "name": ["周杰"],
                "status": ["behind"],
                "ramp_adjusted_attainment": [0.9],
                "attainment": [0.85],
            }
        ),
        "revised": pd.DataFrame(
            {
                "status": ["open"],
                "month": [pd.Timestamp("2025-12-01")],
                "region": ["西南"],
                "plan_revenue": [100.0],
                "revised_revenue": [110.0],
            }
        ),
    }


def _target_frames() -> dict[str, pd.DataFrame]:
    return {
        "bridge": pd.DataFrame(
            {"step": ["last year", "volume", "target"], "kind": ["total", "step", "total"]}
        ).assign(amount=[100.0, 10.0, 110.0]),
        "rep_month": pd.DataFrame(
            {
                "rep_id": ["R1"],
                "name": ["王伟"],
                "region": ["西南"],
                "2025-01": [1e6],
                "total": [1e6],
            }
        ),
        "monthly": pd.DataFrame(
            {
                "month": [pd.Timestamp("2025-01-01")],
                "region": ["西南"],
                "target_revenue_no_cushion": [1e6],
            }
        ),
        "targets": pd.DataFrame(
            {"region": ["西南"], "product_line": ["Pumps"], "target_revenue_no_cushion": [1e6]}
        ),
        "rep_load": pd.DataFrame(
            {
                "rep_id": ["R1"],
                "capacity": [12.0],
                "target_revenue": [1e6],
                "load": [1e6 / 12],
                "flag": [""],
            }
        ),
    }


def _chart_calls() -> dict[str, tuple[Callable[..., Figure], Callable[[], tuple]]]:
    """Every chart function of the step modules, with its one-row (or one-series) arguments."""
    f, r, t = _fc_frames(), _review_frames(), _target_frames()
    mix = pd.DataFrame(
        {
            "region": ["西南", "*"],
            "window": "l12m",
            "revenue": [10.0, 10.0],
            "prior": [8.0, 8.0],
            "share": [1.0, 1.0],
            "growth": [0.25, 0.25],
        }
    )
    share = pd.DataFrame(
        {
            "region": ["西南", "*"],
            "window": "l12m",
            "revenue": [10.0, 10.0],
            "market_size": [60.0, 60.0],
            "share": [1 / 6, 1 / 6],
            "prior_share": [0.15, 0.15],
        }
    )
    pv = pd.DataFrame(
        {
            "product_line": ["Pumps", "*"],
            "revenue_prior": [8.0, 8.0],
            "revenue": [10.0, 10.0],
            "change": [2.0, 2.0],
            "price_effect": [0.5, 0.5],
            "volume_effect": [1.5, 1.5],
        }
    )
    trend = pd.DataFrame(
        {"month": pd.date_range("2024-01-01", periods=2, freq="MS"), "region": "西南"}
    ).assign(share=0.15)
    base = pd.DataFrame(
        {
            "month": [pd.Timestamp("2024-12-01")],
            "new": [1.0],
            "returning": [0.0],
            "lost": [1.0],
            "active_l12m": [4.0],
            "revenue_per_active_l12m": [100.0],
        }
    )
    components = pd.DataFrame(
        {
            "month": [pd.Timestamp("2024-12-01")],
            "revenue": [10.0],
            "seasonally_adjusted": [10.0],
            "trend": [10.0],
        }
    )
    indices = pd.DataFrame({"calendar_month": [12], "seasonal_index": [1.0]})
    monthly = pd.Series([10.0], index=pd.DatetimeIndex([pd.Timestamp("2024-12-01")]))
    return {
        "revenue_by_month_chart": (MC.revenue_by_month_chart, lambda: (monthly, P)),
        "trend_chart": (MC.trend_chart, lambda: (components,)),
        "seasonal_index_chart": (MC.seasonal_index_chart, lambda: (indices,)),
        "mix_chart": (MC.mix_chart, lambda: (mix, "region")),
        "market_share_chart": (MC.market_share_chart, lambda: (share, "region")),
        "market_share_trend_chart": (MC.market_share_trend_chart, lambda: (trend, "region")),
        "customer_base_chart": (MC.customer_base_chart, lambda: (base,)),
        "pareto_chart": (MC.pareto_chart, lambda: (pd.Series([100.0]),)),
        "price_volume_chart": (MC.price_volume_chart, lambda: (pv,)),
        "fan_chart": (FC.fan_chart, lambda: (f["forecast"], f["history"])),
        "fan_chart_grid": (FC.fan_chart_grid, lambda: (f["forecast"], f["history"])),
        "accuracy_chart": (FC.accuracy_chart, lambda: (f["summary"],)),
        "reconciliation_chart": (FC.reconciliation_chart, lambda: (f["accuracy"],)),
        "chosen_models_chart": (FC.chosen_models_chart, lambda: (f["chosen"],)),
        "hardest_series_chart": (
            FC.hardest_series_chart,
            lambda: (f["forecast"], f["history"], f["hardest"]),
        ),
        "bridge_chart": (TC.bridge_chart, lambda: (t["bridge"],)),
        "target_heatmap": (TC.target_heatmap, lambda: (t["targets"],)),
        "rep_load_chart": (TC.rep_load_chart, lambda: (t["rep_load"],)),
        "rep_month_heatmap": (TC.rep_month_heatmap, lambda: (t["rep_month"],)),
        "monthly_target_chart": (TC.monthly_target_chart, lambda: (t["monthly"],)),
        "attainment_chart": (RC.attainment_chart, lambda: (r["review"],)),
        "pacing_chart": (RC.pacing_chart, lambda: (r["curve"],)),
        "bridge_waterfall": (RC.bridge_waterfall, lambda: (r["bridge"],)),
        "leaderboard_chart": (RC.leaderboard_chart, lambda: (r["board"],)),
        "plan_vs_revised_chart": (RC.plan_vs_revised_chart, lambda: (r["revised"],)),
    }


CHARTS = _chart_calls()


def test_every_chart_function_is_covered():
    public = {
        name
        for mod in (MC, FC, TC, RC)
        for name in mod.__all__
        if name.endswith(("_chart", "_grid", "_heatmap", "_waterfall"))
    }
    assert public == set(CHARTS)


def _empty_like(x):
    if isinstance(x, pd.DataFrame):
        return x.iloc[0:0]
    if isinstance(x, pd.Series):
        return x.iloc[0:0]
    return x


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_on_one_row(name: str):
    fn, args = CHARTS[name]
    fig = fn(*args())
    assert isinstance(fig, Figure) and not plots.is_empty_chart(fig)
    _png(fig)


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_chart_on_empty_frames_is_a_sentence(name: str):
    fn, args = CHARTS[name]
    for how in ("no-rows", "no-columns"):
        a = [_empty_like(x) for x in args()]
        if how == "no-columns":
            a = [pd.DataFrame() if isinstance(x, pd.DataFrame) else x for x in a]
        fig = fn(*a)
        assert plots.is_empty_chart(fig), (name, how)
        texts = [t.get_text() for ax in fig.axes for t in ax.texts]
        assert any(  # a sentence in the report's language (English in unit tests)
            "Nothing to show" in t or "·" in t or t.strip().endswith((".", "。")) for t in texts
        ), texts
        _png(fig)


# ------------------------------------------------------------------------------- index page


def _outputs(tmp_path: Path, currency: str | None, behind: bool, ahead: bool) -> Path:
    out = tmp_path / "outputs"
    out.mkdir()
    months = pd.date_range("2024-01-01", "2025-06-01", freq="MS")
    pd.DataFrame({"month": months, "revenue": 1000.0}).to_parquet(out / "cube.parquet")
    if currency:
        (out / "plan.json").write_text(json.dumps({"currency": currency}), encoding="utf-8")
    dims = {"region": "*", "product_line": "*", "customer_type": "*", "rep_id": "*"}
    base = {"measure": "revenue", "landing_mean": 1.0, "landing_lo_80": 1.0}
    base |= {"landing_hi_80": 1.0, "p_reach_target": 0.5}
    rows = [
        {**base, **dims, "level": "total", "window": "ytd", "actual": 6e3, "target": 6e3},
        {**base, **dims, "level": "total", "window": "fy", "actual": 6e3, "target": 1.2e4},
        {**base, **dims, "level": "cell", "window": "ytd", "actual": 3e3, "target": 3e3},
    ]
    if behind:
        rows.append({**rows[2], "region": "西南", "actual": 1e3, "target": 2e3})
    if ahead:
        rows.append({**rows[2], "region": "华东", "actual": 2e3, "target": 1e3})
    review = pd.DataFrame(rows)
    review["attainment"] = review["actual"] / review["target"]
    review.to_parquet(out / "review.parquet")  # no customers rows: no customer target
    return out


MANIFEST = {"period": "2025-06", "status": "ok", "steps": [], "notes": []}


def test_index_page_in_the_plans_currency(tmp_path: Path):
    out = _outputs(tmp_path, "USD", behind=True, ahead=True)
    assert plan_currency(out) == "USD"
    h = headline(out, "2025-06")
    assert h.currency == "USD" and h.behind and h.ahead
    page = render_index(MANIFEST, h)
    assert "USD" in page and "CNY" not in page
    assert "西南" in page and "华东" in page


@pytest.mark.parametrize(("behind", "ahead"), [(False, True), (True, False), (False, False)])
def test_index_page_nobody_behind_or_ahead(tmp_path: Path, behind: bool, ahead: bool):
    h = headline(_outputs(tmp_path, "USD", behind, ahead), "2025-06")
    page = render_index(MANIFEST, h)
    assert ("No segment is behind its year-to-date target." in page) is not behind
    assert ("No segment is ahead of its year-to-date target." in page) is not ahead
    assert "Active customers" not in page  # no customer target: no customers row, no error


def test_index_page_without_a_plan_or_a_review(tmp_path: Path):
    out = tmp_path / "outputs"
    out.mkdir()
    pd.DataFrame({"month": pd.to_datetime(["2025-06-01"]), "revenue": [5.0]}).to_parquet(
        out / "cube.parquet"
    )
    assert plan_currency(out) == "CNY"  # the plan's own default
    h = headline(out, "2025-06", currency="EUR")
    page = render_index(MANIFEST, h)
    assert "EUR" in page and "No segment" not in page  # no review: no behind/ahead section
    assert "CNY" not in render_index(MANIFEST, None)
    assert "JPY" in render_index(MANIFEST, Headline(cards=[("x", "1 JPY", "")], currency="JPY"))


def test_index_page_written_when_its_figures_cannot_be_shown(tmp_path: Path, monkeypatch):
    """A headline that breaks the page (any error, not only a full disk) leaves the index
    without figures instead of a run that publishes no index at all."""
    from salesanalysis.report import index, pipeline

    out = _outputs(tmp_path, "USD", behind=True, ahead=False)
    real = index.render_index

    def fails_with_figures(manifest, h, currency=None):
        if h is not None:
            raise ValueError("a figure that cannot be formatted")
        return real(manifest, h, currency)

    monkeypatch.setattr(index, "render_index", fails_with_figures)
    build = out.parent
    pipeline._write_run_index(build, {**MANIFEST, "period": "2025-06"})
    page = (build / "index.html").read_text(encoding="utf-8")
    assert "2025-06" in page and "西南" not in page  # the page, without the figures
    assert (build / "appendix.html").exists()
