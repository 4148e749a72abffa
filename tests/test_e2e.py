"""End to end: the CLI on the sample data into a temporary folder, read back what it wrote.

One pipeline run serves every test in this module (marked slow: `make test-fast` skips it).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from salesanalysis.paths import SAMPLE_DIR
from salesanalysis.report.browser import Browser, find_chromium, overflow_report, pdf_page_count
from salesanalysis.targets.plan import load_plan
from tests.language import PAGES, leaks

pytestmark = pytest.mark.slow
STEPS = ["01_market_analysis", "02_forecast", "03_target_decomposition", "04_performance_review"]
PERIOD = "2026-10"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reports")
    pdf = ["--pdf"] if find_chromium() else []  # the page tests below need the browser
    r = subprocess.run(
        [sys.executable, "-m", "salesanalysis.cli", "run", "--period", PERIOD, "--out", str(out)]
        + pdf,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    for step in STEPS:  # progress is shown per step
        assert step in r.stdout
    assert f"{out / PERIOD / 'index.html'}" in r.stdout
    return out / PERIOD


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    """The sample transactions read independently of the package."""
    tx = pd.read_csv(SAMPLE_DIR / "transactions.csv", parse_dates=["date"])
    tx["month"] = tx["date"].dt.to_period("M")
    return tx


def test_manifest(run: Path):
    m = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert m["status"] == "ok" and m["period"] == PERIOD
    assert [s["name"] for s in m["steps"]] == STEPS
    assert all(s["status"] == "ok" for s in m["steps"])
    assert set(m["sha256"]) == {
        *("transactions", "reps", "market", "plan"),
        *("actions", "action_status", "pipeline"),  # the sample's optional inputs
    }
    assert m["versions"]["statsmodels"] and m["versions"]["papermill"]
    assert (run / "run.log").read_text(encoding="utf-8").count(" ok in ") == 4


def test_html_reports(run: Path):
    for step in STEPS:
        html = (run / f"{step}.html").read_text(encoding="utf-8")
        assert "open_run(" not in html and "import " not in html, f"{step}: code is shown"
        assert "Traceback" not in html, f"{step}: an error is shown"
        assert not re.search(
            r"<script[^>]+src=|<link[^>]+href=[\"']https?:|src=[\"']https?:", html
        )
        assert html.count("data:image/png;base64") >= 2, f"{step}: charts are embedded"
        assert "华东" in html
    index = (run / "index.html").read_text(encoding="utf-8")
    for step in STEPS:
        assert f'href="{step}.html"' in index
    # the sample reads in Chinese (plan.yaml report: language zh): the 30-second view
    for words in (
        "年初至今收入达成率",
        "全年预计",
        "目标对比",
        "最落后的细分市场",
        "最落后的销售代表",
    ):
        assert words in index, words
    assert index.count("data:image/png;base64") == 1  # the month-by-month chart
    assert 'href="appendix.html"' in index and 'href="outputs/targets.xlsx"' in index
    assert f'href="{PERIOD}/index.html"' in (run.parent / "index.html").read_text(encoding="utf-8")


def test_targets_add_up_to_the_plan(run: Path, raw: pd.DataFrame):
    plan = load_plan(SAMPLE_DIR / "plan.yaml")
    t = pd.read_parquet(run / "outputs" / "targets.parquet")
    assert list(t.columns[:5]) == ["month", "region", "product_line", "customer_type", "rep_id"]
    assert (t["target_revenue"] >= 0).all() and (t["target_customers"] >= 0).all()
    unit = plan.rounding_revenue
    assert (t["target_revenue"] % unit == 0).all()
    last_year = raw.loc[raw["month"].dt.year == plan.fiscal_year - 1, "revenue"].sum()
    company = round(last_year * (1 + plan.targets.revenue.amount) / unit) * unit
    assert t["target_revenue_no_cushion"].sum() == pytest.approx(company)
    assert t["target_revenue"].sum() == pytest.approx(
        round(company * (1 + plan.cushion_pct) / unit) * unit
    )
    pin = plan.pins[0]
    region = dict(pin.segment)["region"]
    assert t.loc[t["region"] == region, "target_revenue_no_cushion"].sum() == pytest.approx(
        pin.revenue
    )
    assert sorted(t["month"].dt.month.unique()) == list(range(1, 13))
    # the managers' workbook says the same
    from salesanalysis.report.excel import TOTAL_LABEL, excel_header, level_sheet_differences
    from salesanalysis.targets.output import LEVEL_SHEETS

    book = pd.read_excel(run / "outputs" / "targets.xlsx", sheet_name=None)
    target = excel_header("target_revenue", plan.currency)  # 目标收入 Target revenue (CNY)
    for sheet in ("Company", "Region", "Product line", "Customer type", "Rep", "Month"):
        df = book[sheet]
        body = df[df.iloc[:, 0] != TOTAL_LABEL]
        assert body[target].sum() == pytest.approx(t["target_revenue"].sum()), sheet
        if sheet != "Company":  # the total row: a formula, shown with its value
            assert df[df.iloc[:, 0] == TOTAL_LABEL][target].item() == body[target].sum()
    region_sheet = book["Region"].set_index(excel_header("region"))
    assert region_sheet[excel_header("target_revenue_no_cushion", plan.currency)][region] == (
        pin.revenue
    )
    assert level_sheet_differences(run / "outputs" / "targets.xlsx", t, only=LEVEL_SHEETS) == []
    assumptions = book["Assumptions"].set_index(excel_header("assumption"))[excel_header("value")]
    assert assumptions["cushion_pct"] == plan.cushion_pct  # a number, not text


def test_attainment_two_ways(run: Path, raw: pd.DataFrame):
    """YTD attainment from the review equals an independent computation from the raw lines."""
    review = pd.read_parquet(run / "outputs" / "review.parquet")
    t = pd.read_parquet(run / "outputs" / "targets.parquet")
    p = pd.Period(PERIOD, "M")
    ytd = raw[(raw["month"] >= pd.Period(f"{p.year}-01", "M")) & (raw["month"] <= p)]
    tgt = t[t["month"] <= p.to_timestamp()]
    for region, lines in ytd.groupby("region"):
        row = review[
            (review["level"] == "region")
            & (review["region"] == region)
            & (review["measure"] == "revenue")
            & (review["window"] == "ytd")
        ].iloc[0]
        assert row["actual"] == pytest.approx(lines["revenue"].sum(), rel=1e-9)
        target = tgt.loc[tgt["region"] == region, "target_revenue_no_cushion"].sum()
        assert row["attainment"] == pytest.approx(lines["revenue"].sum() / target, rel=1e-9)
    total = review[
        (review["level"] == "total")
        & (review["measure"] == "revenue")
        & (review["window"] == "ytd")
    ]
    assert total["actual"].iloc[0] == pytest.approx(ytd["revenue"].sum(), rel=1e-9)


def test_forecast_coherent(run: Path):
    f = pd.read_parquet(run / "outputs" / "forecast.parquet")
    total = f[f["level"] == "total"].set_index("month")["mean"]
    for level in ("region", "product_line", "customer_type", "cell", "rep", "bottom"):
        part = f[f["level"] == level]
        if len(part):
            s = part.groupby("month")["mean"].sum()
            assert np.allclose(s.reindex(total.index).to_numpy(), total.to_numpy(), rtol=1e-6), (
                level
            )


def test_revised_targets_beside_the_plan(run: Path):
    r = pd.read_parquet(run / "outputs" / "revised_targets.parquet")
    t = pd.read_parquet(run / "outputs" / "targets.parquet")
    assert {"plan_revenue", "revised_revenue"} <= set(r.columns)
    assert r["plan_revenue"].sum() == pytest.approx(t["target_revenue"].sum())
    assert (run / "outputs" / "revised_targets.xlsx").exists()


# --------------------------------------------------------------------------------------------
# the pages fit a desktop, a phone and A4 paper (real Chromium, the same run's report)

needs_chromium = pytest.mark.skipif(
    find_chromium() is None, reason="no Chromium (CI installs it with .ci/install-chromium.sh)"
)
A4_LANDSCAPE_PX = 1047  # 297 mm - 2 x 10 mm margins, at 96 px per inch (the steps' @page)
A4_PORTRAIT_PX = 703  # 210 mm - 2 x 12 mm (the index's @page)
# steps 03 and 04 print long sections: the rep x month table, its heatmap and the rep load (49
# reps with the to-be-hired ones), the execution sections (actions, funnel, incentives): 31 and
# 28 pages of A4 landscape on the sample
MAX_PDF_PAGES = {"index": 3, **dict.fromkeys(STEPS, 24)}
MAX_PDF_PAGES.update({"03_target_decomposition": 36, "04_performance_review": 36})


def _pages(run: Path) -> list[Path]:
    return [run / "index.html", *(run / f"{s}.html" for s in STEPS)]


@needs_chromium
def test_no_table_image_or_figure_overflows_at_1440_or_390_px(run: Path):
    """No sideways scroll on a desktop, nothing cut on a phone (the viewport tag makes the
    phone lay the page out at its own width)."""
    found = overflow_report(_pages(run), widths=(1440, 390))
    assert not found, "\n".join(map(str, found))
    with Browser() as b:
        for page in _pages(run):  # laid out at the phone's width, not 980 px scaled down
            b.open(page, 390)
            assert b.evaluate("document.documentElement.clientWidth") == 390, page.name


@needs_chromium
def test_pdf_of_every_page_and_no_cut_table_on_paper(run: Path):
    for page in _pages(run):
        pdf = run / f"{page.stem}.pdf"
        assert pdf.read_bytes()[:5] == b"%PDF-", pdf.name
        assert 1 <= pdf_page_count(pdf) <= MAX_PDF_PAGES[page.stem], pdf.name
    with Browser() as b:  # printed at the page's width, every column is on the paper
        cut = [o for p in _pages(run)[1:] for o in b.overflows(p, A4_LANDSCAPE_PX, "print")]
        cut += b.overflows(run / "index.html", A4_PORTRAIT_PX, "print")
    assert not cut, "\n".join(map(str, cut))


def test_every_page_reads_in_chinese(run: Path):
    """The sample's plan says ``report: language: zh``: no English word on any page apart from
    the company's own data (labels, names, the plan's and the inputs' text) and a short list of
    codes (tests/language.py); the appendix may also name methods and the freeze command."""
    pages = [*(f"{s}.html" for s in STEPS), *PAGES]
    found = {page: leaks(run, page, "zh") for page in pages}
    assert {page: words for page, words in found.items() if words} == {}


def test_execution_outputs_are_consistent(run: Path):
    """The execution half on the sample: strategies in words, actions on known segments and
    called out on the index, the funnel reconciling with rep targets, P50 payouts by the tier
    formula, the demand plan adding up to the revenue targets."""
    from salesanalysis.execution import payout

    out = run / "outputs"
    plan = load_plan(SAMPLE_DIR / "plan.yaml")
    strategies = pd.read_parquet(out / "strategies.parquet")
    assert list(strategies["strategy"]) == [s.name for s in plan.strategies]
    assert not strategies.astype(str).apply(lambda c: c.str.contains("{")).any().any()
    np.testing.assert_allclose(
        strategies["effect"], strategies["target_with"] - strategies["target_without"]
    )
    cube = pd.read_parquet(out / "cube.parquet")
    actions = pd.read_parquet(out / "actions.parquet")
    for d in ("region", "product_line", "customer_type"):
        given = actions[f"segment_{d}"][actions[f"segment_{d}"] != ""]
        assert set(given) <= set(cube[d])
    assert set(actions["state"]) <= {"done", "late", "on time", "not started"}
    called = actions[actions["overdue"] & actions["behind"]]
    index = (run / "index.html").read_text(encoding="utf-8")
    assert len(called) >= 1 and all(a in index for a in called["action_id"])
    targets = pd.read_parquet(out / "targets.parquet")
    funnel = pd.read_parquet(out / "funnel.parquet").set_index(["rep_id", "month"])
    rep_month = targets.groupby(["rep_id", "month"])["target_revenue"].sum()
    np.testing.assert_allclose(
        (funnel["won"] * funnel["avg_deal"]).reindex(rep_month.index), rep_month
    )
    inc = pd.read_parquet(out / "incentives.parquet")
    np.testing.assert_allclose(
        inc["payout_ye_p50"],
        payout(inc["landing_p50"] / inc["fy_target"], inc["fy_target"], plan.incentives),
    )
    demand = pd.read_parquet(out / "demand_plan.parquet")  # per product: the sample has them
    assert set(demand["product"]) == set(pd.read_parquet(out / "product_mix.parquet")["product"])
    want = targets.groupby(["product_line", "month"])["target_revenue_no_cushion"].sum()
    value = (demand["units"] * demand["planned_price"].fillna(0.0)).groupby(
        [demand["product_line"], demand["month"]]
    )
    np.testing.assert_allclose(value.sum().reindex(want.index), want)
    assert (out / "demand_plan.xlsx").stat().st_size > 0
