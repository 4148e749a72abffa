"""House chart style (CJK font, axis formatters) and report tables (escaping, formats)."""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from salesanalysis import i18n
from salesanalysis.report import charts as plots  # noqa: E402
from salesanalysis.report import formatting


@pytest.fixture(autouse=True)
def _style():
    plots.setup()
    yield
    plt.close("all")


def _render(fig) -> list[str]:
    """Draw the figure to PNG; return the texts of any missing-glyph warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    assert buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
    return [str(w.message) for w in caught if "missing from font" in str(w.message)]


def test_setup_registers_cjk_font_first():
    path = plots.cjk_font_path()
    assert path.is_file()
    assert matplotlib.rcParams["font.sans-serif"][0] == plots.CJK_FONT_FAMILY
    assert "DejaVu Sans" in matplotlib.rcParams["font.sans-serif"]
    assert matplotlib.rcParams["axes.unicode_minus"] is False
    found = font_manager.findfont(
        font_manager.FontProperties(family=plots.CJK_FONT_FAMILY), fallback_to_default=False
    )
    assert found.endswith(plots.CJK_FONT_FILE)
    before = len(font_manager.fontManager.ttflist)
    plots.setup()  # idempotent: the font is registered once
    assert len(font_manager.fontManager.ttflist) == before


def test_chinese_labels_render_without_missing_glyphs():
    fig, ax = plt.subplots()
    ax.bar(["华东", "华南", "西北"], [1.2e6, -3.4e5, 8.9e5])
    ax.set_title("各区域收入（近12个月）")
    ax.set_xlabel("区域")
    ax.set_ylabel("收入")
    plots.money_axis(ax, unit="CNY")
    fig.legend(["产品线：水泵"])
    assert _render(fig) == []
    # the text is laid out with the CJK font file
    prop = ax.xaxis.label.get_fontproperties()
    assert font_manager.findfont(prop).endswith(plots.CJK_FONT_FILE)


def test_without_cjk_font_glyphs_are_reported_missing():
    """Guards the test above: the warning it looks for is really emitted when the font is absent."""
    fig, ax = plt.subplots()
    ax.set_title("华东", fontfamily="DejaVu Sans")
    assert _render(fig), "matplotlib no longer warns about missing glyphs; update the test"


def test_money_axis_scale_and_label():
    i18n.set_report("zh")  # a Chinese report: full-width brackets around units
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [0, 2.5e6, 5e6])
    ax.set_ylabel("收入")
    div = plots.money_axis(ax, unit="CNY")
    assert div == 1e4
    assert ax.get_ylabel() == "收入（万元）"
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "200" in labels and "500" in labels
    plots.money_axis(ax, unit="CNY")  # a second call does not stack units
    assert ax.get_ylabel() == "收入（万元）"
    assert plots.money_axis(ax, unit="USD", style="en", label="Revenue") == 1e6
    assert ax.get_ylabel() == "Revenue（M USD）"
    i18n.set_report("en")
    plots.money_axis(ax, unit="CNY", style="en", label="Revenue")
    assert ax.get_ylabel() == "Revenue (M CNY)"  # an English report: ASCII brackets, the code


def test_money_axis_small_values_and_pct_axis():
    i18n.set_report("zh")  # a Chinese report: full-width brackets around units
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 0.3])
    assert plots.money_axis(ax, unit="CNY", label="单价") == 1.0
    assert ax.get_ylabel() == "单价（元）"
    plots.pct_axis(ax, "x", label="份额")
    fig.canvas.draw()
    assert ax.get_xlabel() == "份额（%）"
    assert all(t.get_text().endswith("%") for t in ax.get_xticklabels() if t.get_text())


def test_scaled_formatter_decimals_follow_tick_spacing():
    f = plots._ScaledFormatter(1e4)
    f.set_locs([0, 5000, 10000, 15000])
    assert [f(v) for v in (0, 5000, 15000)] == ["0.0", "0.5", "1.5"]
    f.set_locs([0, 1e7, 2e7])
    assert f(2e7) == "2,000"


def test_money_scale():
    assert plots.money_scale(5e3) == (1.0, "")
    assert plots.money_scale(5e4) == (1e4, "万")
    assert plots.money_scale(5e5) == (1e4, "万")
    assert plots.money_scale(3e9) == (1e8, "亿")
    assert plots.money_scale(3e9, "en") == (1e9, "B")
    assert plots.money_scale(float("nan")) == (1.0, "")


# ------------------------------------------------------------------------------- formatting


def test_scalar_formats():
    assert formatting.money(1234567.4) == "1,234,567 CNY"
    assert formatting.money(1234567, scale="auto") == "123.5万 CNY"
    assert formatting.money(2.5e8, scale="auto", unit="") == "2.50亿"
    assert formatting.money(-0.2) == "0 CNY"
    assert formatting.money(1500, unit="USD", signed=True) == "+1,500 USD"
    assert formatting.money(None) == formatting.NA
    assert formatting.pct(0.1234) == "12.3%"
    assert formatting.pct(-0.00001) == "0.0%"
    assert formatting.pct(0.05, signed=True) == "+5.0%"
    assert formatting.pct(float("inf")) == formatting.NA
    assert formatting.number(12345.6) == "12,346"
    assert formatting.number(-3, signed=True) == "-3"
    with pytest.raises(ValueError):
        formatting.money(1, scale="X")


def test_table_escapes_html_everywhere():
    evil = "<script>alert('x')</script>"
    df = pd.DataFrame(
        {"region": [evil, "华东"], "revenue": [1234567.0, None], "share": [0.1234, 0.5]}
    )
    df = df.rename(columns={"share": "<b>share</b>"})
    html = formatting.table(
        df, money=["revenue"], pct=["<b>share</b>"], caption="<i>cap</i>", unit="CNY"
    ).to_html()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "<b>share</b>" not in html and "&lt;b&gt;share&lt;/b&gt;" in html
    assert "<i>cap</i>" not in html and "&lt;i&gt;cap&lt;/i&gt;" in html
    assert "(amounts in CNY)" in html  # the source language until a report sets one
    assert "1,234,567" in html and "12.3%" in html and formatting.NA in html


def test_table_escapes_index_labels_and_keeps_named_index():
    df = pd.DataFrame({"revenue": [1.0, 2.0]}, index=pd.Index(["<x>", "华南"], name="区域"))
    html = formatting.table(df, money=["revenue"]).to_html()
    assert "&lt;x&gt;" in html and "<x>" not in html
    assert "华南" in html


def test_table_hides_range_index_only():
    df = pd.DataFrame({"n": [1000, 2000]})
    html = formatting.table(df, ints=["n"]).to_html()
    assert "1,000" in html and "2,000" in html
    assert 'class="row_heading' not in html
    html2 = formatting.table(df.set_index(pd.Index(["a", "b"]))).to_html()
    assert 'class="row_heading' in html2


def test_table_dates_and_unknown_columns():
    df = pd.DataFrame({"month": pd.to_datetime(["2025-01-01", "2025-02-01"]), "x": [1.5, 2.0]})
    html = formatting.table(df, decimals={"x": 1}).to_html()
    assert "2025-01" in html and "00:00" not in html and "1.5" in html
    with pytest.raises(KeyError, match="not in the frame"):
        formatting.table(df, money=["nope"])


def test_table_html_is_stable():
    df = pd.DataFrame({"a": [1.0]})
    assert formatting.table(df).to_html() == formatting.table(df).to_html()


def test_table_labels_and_total_row():
    df = pd.DataFrame({"region": ["华东", "*"], "revenue": [1.0, 2.0]})
    html = formatting.table(
        df, money=["revenue"], labels={"revenue": "Revenue <CNY>"}, total="Total"
    ).to_html()
    assert "Revenue &lt;CNY&gt;" in html and ">Total<" in html
    assert "font-weight: bold" in html
    assert ">*<" not in html


def test_table_points_columns():
    df = pd.DataFrame({"share_change": [0.0123, -0.004, None]})
    html = formatting.table(df, pts=["share_change"]).to_html()
    assert "+1.2 pt" in html and "-0.4 pt" in html and formatting.NA in html


def test_table_row_formats_for_a_table_of_measures():
    """One row per measure: amounts as money, the market share as %, customers as a count."""
    import re

    df = pd.DataFrame(
        {
            "measure": ["revenue", "customers", "market_share"],
            "last_year": [12345678.4, 1234.0, 0.1534],
            "target": [13_000_000.0, 1300.0, 0.17],
            "cushion_pct": [0.05, 0.0, 0.0],
        }
    )
    styled = formatting.table(
        df,
        money=["last_year", "target"],
        pct=["cushion_pct"],
        money_scale="万",
        unit="CNY",
        row_key="measure",
        row_formats={"market_share": "pct", "customers": "ints"},
    )
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", styled.to_html())
    assert cells == [
        "revenue",
        "1,234.6万",
        "1,300.0万",
        "5.0%",
        "customers",
        "1,234",
        "1,300",
        "0.0%",
        "market_share",
        "15.3%",
        "17.0%",
        "0.0%",
    ]
    # without row formats every money column is money (the old behaviour)
    cells = re.findall(
        r"<td[^>]*>([^<]*)</td>", formatting.table(df, money=["last_year", "target"]).to_html()
    )
    assert cells[9:11] == ["0", "0"]
    with pytest.raises(ValueError, match="row_formats"):
        formatting.table(df, money=["target"], row_key="measure", row_formats={"x": "percent"})
    with pytest.raises(KeyError, match="row_key"):
        formatting.table(df, money=["target"], row_key="kind", row_formats={"x": "pct"})


def test_market_charts_render_with_cjk_and_without_missing_glyphs():
    """Every market chart draws on small data with the CJK font and no tofu warnings."""
    import numpy as np

    from salesanalysis import i18n
    from salesanalysis import market as M
    from salesanalysis.report.charts import market as PM

    rng = np.random.default_rng(0)
    rows = []
    for m in pd.period_range("2022-01", "2024-12", freq="M"):
        for c in range(12):
            if rng.random() < 0.7:
                rows.append(
                    {
                        "month": m.to_timestamp(),
                        "customer_id": f"C{c}",
                        "region": ["华东", "西南"][c % 2],
                        "product_line": ["水泵", "Valves"][c % 3 == 0],
                        "customer_type": "SMB",
                        "rep_id": "R1",
                        "revenue": float(rng.integers(100, 1000) * (1 + (m.month == 12))),
                        "quantity": float(rng.integers(1, 10)),
                        "orders": 1,
                    }
                )
    cc = pd.DataFrame(rows)
    cube = cc.groupby(
        ["month", "region", "product_line", "customer_type", "rep_id"], as_index=False
    )[["revenue", "quantity", "orders"]].sum()
    mk = cube.groupby(["month", "region", "product_line"], as_index=False)["revenue"].sum()
    mk = mk.assign(market_size=mk["revenue"] * 5).drop(columns="revenue")
    p = "2024-12"
    monthly = M.monthly_revenue(cube, p)
    ts = M.trend_seasonality(monthly)
    i18n.set_report("zh", "万")  # the charts of a Chinese report
    try:
        figs = _market_figures(PM, M, cube, cc, mk, monthly, ts, p)
    finally:
        i18n._state.update({"language": i18n.SOURCE_LANGUAGE, "units": None})
    for fig in figs:
        assert _render(fig) == []
        texts = [
            t for ax in fig.axes for t in (ax.get_title("left"), ax.get_title(), ax.get_ylabel())
        ]
        assert any(any("\u4e00" <= ch <= "\u9fff" for ch in t) for t in texts)
    # units on the axes
    assert figs[0].axes[0].get_ylabel() == "收入（万元）"
    assert "%" in figs[2].axes[0].get_ylabel()
    assert "客户数" in figs[6].axes[0].get_ylabel()


def _market_figures(PM, M, cube, cc, mk, monthly, ts, p) -> list:
    return [
        PM.revenue_by_month_chart(monthly, p),
        PM.trend_chart(ts.components),
        PM.seasonal_index_chart(ts.indices),
        PM.mix_chart(M.mix_growth(cube, p, "region"), "region"),
        PM.market_share_chart(M.market_share(cube, mk, p, "product_line"), "product_line"),
        PM.market_share_trend_chart(M.market_share_trend(cube, mk, p, "region"), "region"),
        PM.customer_base_chart(M.customer_base(cc, p)),
        PM.pareto_chart(M.customer_revenue(cc, p)),
        PM.price_volume_chart(M.price_volume(cube, p)),
    ]


def test_table_hides_a_sorted_row_number_index():
    import pandas as pd

    from salesanalysis.report.formatting import table

    df = pd.DataFrame({"region": ["华东", "华北"], "revenue": [2.0, 1.0]}).sort_values("revenue")
    html = table(df, money=["revenue"]).to_html()
    assert ">1</th>" not in html and ">0</th>" not in html
    named = df.set_index("region")
    assert "华东" in table(named, money=["revenue"]).to_html()


def test_table_headers_read_as_words():
    df = pd.DataFrame(
        {
            "target_with_cushion": [1.0],
            "mase_base": [0.5],
            "cov_80": [0.8],
            "华东": [1],
            "Own": [2],
        }
    )
    html = formatting.table(df, money=["target_with_cushion"], labels={"Own": "Mine"}).to_html()
    for shown in ("Target with cushion", "MASE base", "Coverage 80%", "华东", "Mine"):
        assert f">{shown}</th>" in html, shown
    assert "target_with_cushion</th>" not in html
