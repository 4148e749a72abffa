"""Reports that fit: wide tables split by column group and stacked on a phone; the browser
measurement that the end-to-end page tests rely on; the managers' workbook format; the
spreading of imported edits (totals and pins kept, whole units)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesanalysis.errors import RecordError
from salesanalysis.report.browser import Browser, find_chromium, pdf_page_count
from salesanalysis.report.formatting import (
    STACK_WIDTH_PX,
    TABLE_WIDTH_PX,
    ReportTable,
    SplitTable,
    table,
)

TOPICS = ["month", "qtd", "ytd"]


def _review_like(rows: int = 3) -> pd.DataFrame:
    """A frame as wide as the review's summary: a label, then 3 measures x 3 windows and more."""
    cols = {"segment": [f"区域{i}" for i in range(rows)]}
    for t in TOPICS:
        for m in ("actual", "target"):
            cols[f"{t}_{m}"] = np.linspace(1e8, 2e8, rows)
        cols[f"{t}_attainment"] = np.linspace(0.9, 1.1, rows)
    for c in ("fy_target", "landing_mean", "landing_lo_80", "landing_hi_80", "pace_gap"):
        cols[c] = np.linspace(1.2e8, 1.6e8, rows)
    cols["p_reach_target"] = np.linspace(0.2, 0.9, rows)
    return pd.DataFrame(cols)


def _roles(df: pd.DataFrame) -> dict[str, list[str]]:
    pct = [c for c in df.columns if "attainment" in c or c.startswith("p_")]
    money = [c for c in df.columns if c != "segment" and c not in pct]
    return {"money": money, "pct": pct}


def test_a_wide_table_is_split_by_topic_and_every_column_shown_once():
    df = _review_like()
    t = table(df, **_roles(df), caption="Revenue by region", unit="CNY")
    assert isinstance(t, SplitTable) and len(t.parts) >= 2
    shown = [c for p in t.parts for c in p.data.columns if c != "segment"]
    assert sorted(shown) == sorted(c for c in df.columns if c != "segment")  # once each
    for p in t.parts:
        assert list(p.data.columns)[0] == "segment"  # the label repeats in every part
        for topic in TOPICS:  # a topic's columns stay together
            cols = [c for c in p.data.columns if c.startswith(topic + "_")]
            assert cols == [] or len(cols) == 3
    html = t.to_html()
    n = len(t.parts)
    assert all(f"Revenue by region ({i}/{n})" in html for i in range(1, n + 1))
    pd.testing.assert_frame_equal(t.data, df)


def test_a_table_that_fits_is_one_table_and_cells_carry_their_header():
    df = pd.DataFrame({"region": ["华东", "<b>x</b>"], "target_revenue": [1e6, 2e6]})
    t = table(df, money=["target_revenue"])
    assert isinstance(t, ReportTable)
    html = t.to_html()
    labels = re.findall(r'<td [^>]*data-label="([^"]*)"', html)
    assert labels == ["Region", "Target revenue"] * 2
    assert "sa-stack" not in html  # narrow enough for a phone as it is
    assert "&lt;b&gt;x&lt;/b&gt;" in html


def test_a_table_wider_than_a_phone_is_marked_to_stack():
    df = _review_like().iloc[:, :7]
    html = table(df, **_roles(df)).to_html()
    assert 'class="sa-table sa-stack"' in html
    assert STACK_WIDTH_PX < TABLE_WIDTH_PX


needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="no Chromium installed")


@needs_chromium
def test_the_browser_measures_overflow_and_prints_a4(tmp_path: Path):
    """The measurement the end-to-end page tests use: a table wider than the page is found,
    the same table from table() fits; a page prints to A4 PDF pages."""
    wide = pd.DataFrame({f"column_{i}": [123456789.0] for i in range(16)})
    head = '<meta name="viewport" content="width=device-width, initial-scale=1">'
    css = (
        Path(__file__).parents[1] / "salesanalysis/report/templates/report/index.html.j2"
    ).read_text()
    style = re.search(r"<style[^>]*>(.*?)</style>", css, re.S).group(1)
    raw = tmp_path / "raw.html"
    raw.write_text(f"<html><head>{head}</head><body>{wide.to_html()}</body></html>")
    fitted = tmp_path / "fitted.html"
    fitted.write_text(
        f"<html><head>{head}<style>{style}</style></head><body>"
        f'<div class="jp-RenderedHTMLCommon">{table(wide, money=list(wide)).to_html()}</div>'
        "</body></html>",
        encoding="utf-8",
    )
    with Browser() as b:
        assert [o.tag for o in b.overflows(raw, 1440)] == ["html", "table"]
        assert b.overflows(fitted, 1440) == []
        assert b.overflows(fitted, 390) == []  # stacked
        pdf = b.pdf(fitted, tmp_path / "fitted.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf_page_count(pdf) >= 1


_CHART_THEN_BROWSER = """
import io, sys
from matplotlib.figure import Figure
from salesanalysis.report import charts
from salesanalysis.report.browser import Browser
charts.setup()
fig = Figure()
fig.subplots().set_title("每月收入")
fig.savefig(io.BytesIO(), format="png")
with Browser() as b:
    assert b.overflows(sys.argv[1], 390) == []
print("started")
"""


@needs_chromium
def test_the_browser_starts_after_a_chart_is_drawn(tmp_path: Path):
    """In a fresh process, drawing a chart leaves matplotlib's font files open on fds 3 and 4,
    where Chromium expects its DevTools pipe: the browser still starts. It failed with EBADF
    in its child when `run --pdf` drew the index's chart first."""
    import subprocess
    import sys

    page = tmp_path / "p.html"
    page.write_text("<html><body><p>x</p></body></html>", encoding="utf-8")
    r = subprocess.run(
        [sys.executable, "-c", _CHART_THEN_BROWSER, str(page)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "started" in r.stdout, r.stderr[-2000:]


def test_workbook_sheet_format(tmp_path: Path):
    from openpyxl import load_workbook

    from salesanalysis.report.excel import TOTAL_LABEL, write_excel

    df = pd.DataFrame(
        {
            "month": pd.date_range("2026-01-01", periods=3, freq="MS"),
            "region": ["华东", "=1+1", "华北"],
            "target_revenue": [1000.0, 2500.0, 700.0],
            "growth_vs_last_year": [0.1, -0.05, 0.2],
        }
    )
    path = write_excel({"Month": df}, tmp_path / "m.xlsx", currency="EUR", totals=True)
    ws = load_workbook(path)["Month"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == (
        "月份 Month (YYYY-MM)",
        "区域 Region",
        "目标收入 Target revenue (EUR)",
        "同比增长 Growth vs last year (%)",
    )
    assert [r[0] for r in rows[1:4]] == ["2026-01", "2026-02", "2026-03"]
    assert rows[2][1] == "'=1+1" and rows[2][2] == 2500  # text stays text, numbers numbers
    assert rows[4][:3] == (TOTAL_LABEL, None, "=SUBTOTAL(9,C2:C4)") and rows[4][3] is None
    assert ws.freeze_panes == "B2"
    assert ws["D2"].number_format == "0.0%" and ws["C2"].number_format == "#,##0"
    cached = load_workbook(path, data_only=True)["Month"]["C5"].value
    assert cached == df["target_revenue"].sum()


# --------------------------------------------------------------------------------------------
# spreading imported edits: a property of any edits


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=6, max_size=6),
    edited=st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True),
    changes=st.lists(st.integers(-40, 60), min_size=3, max_size=3),
)
def test_spread_keeps_totals_and_pins_in_whole_units(sizes, edited, changes):
    from salesanalysis.targets.record_import import spread_edits

    unit = 100.0
    reps = [("A", "a1"), ("A", "a2"), ("A", "a3"), ("B", "b1"), ("B", "b2"), ("B", "b3")]
    rows = []
    for (region, rep), size in zip(reps, sizes, strict=True):
        for m in range(1, 13):
            v = (size * 10 + m) * unit
            rows.append((f"2026-{m:02d}", region, "P", "SMB", rep, v, v + unit))
    t = pd.DataFrame(
        rows,
        columns=[
            "month",
            "region",
            "product_line",
            "customer_type",
            "rep_id",
            "target_revenue_no_cushion",
            "target_revenue",
        ],
    )
    pin_total = t.loc[t["region"] == "A", "target_revenue_no_cushion"].sum()
    pins = [{"segment": {"region": "A"}, "revenue": pin_total}]
    old = t.groupby("rep_id")["target_revenue"].sum()
    chosen = [reps[i] for i in edited]
    edits = pd.DataFrame(
        [
            (r, p, old[p], max(0.0, old[p] + c * unit * 10))
            for (r, p), c in zip(chosen, changes, strict=False)
        ],
        columns=["region", "rep_id", "old", "new"],
    )
    edits["change"] = edits["new"] - edits["old"]
    try:
        new, _ = spread_edits(t, edits, unit, 0.0, pins)
    except RecordError as e:
        assert any(w in e.render() for w in ("pin", "company total", "below zero"))
        return
    for col in ("target_revenue", "target_revenue_no_cushion"):
        assert new[col].sum() == t[col].sum()
        assert (new[col] % unit == 0).all() and (new[col] >= 0).all()
    assert new.loc[new["region"] == "A", "target_revenue_no_cushion"].sum() == pin_total
    got = new.groupby("rep_id")["target_revenue"].sum()
    for e in edits.itertuples():
        assert got[e.rep_id] == e.new


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 30), min_size=6, max_size=6),
    edited=st.lists(st.integers(0, 5), min_size=1, max_size=3, unique=True),
    changes=st.lists(st.integers(-40, 60), min_size=3, max_size=3),
)
def test_cell_edits_keep_totals_and_pins_in_whole_units(sizes, edited, changes):
    """The same for edits of cells (region x product line x customer type): each edited cell
    gets its new target exactly, the pinned region and the company total are kept."""
    from salesanalysis.targets.record_import import spread_edits

    unit = 100.0
    cells = [(r, pl, "SMB") for r in ("A", "B") for pl in ("P", "Q", "S")]
    rows = []
    for (region, pl, ct), size in zip(cells, sizes, strict=True):
        for rep in (f"{region}1", f"{region}2"):
            for m in range(1, 13):
                v = (size * 10 + m + (7 if rep.endswith("2") else 0)) * unit
                rows.append((f"2026-{m:02d}", region, pl, ct, rep, v, v + unit))
    cols = ["month", "region", "product_line", "customer_type", "rep_id"]
    t = pd.DataFrame(rows, columns=[*cols, "target_revenue_no_cushion", "target_revenue"])
    pin_total = t.loc[t["region"] == "A", "target_revenue_no_cushion"].sum()
    pins = [{"segment": {"region": "A"}, "revenue": pin_total}]
    old = t.groupby(cols[1:4])["target_revenue"].sum()
    chosen = [cells[i] for i in edited]
    edits = pd.DataFrame(
        [
            (*c, old[c], max(0.0, old[c] + d * unit * 10))
            for c, d in zip(chosen, changes, strict=False)
        ],
        columns=[*cols[1:4], "old", "new"],
    )
    edits["change"] = edits["new"] - edits["old"]
    try:
        new, offsets = spread_edits(t, edits, unit, 0.0, pins, level="cell")
    except RecordError as e:
        assert any(w in e.render() for w in ("pin", "company total", "below zero"))
        return
    for col in ("target_revenue", "target_revenue_no_cushion"):
        assert new[col].sum() == t[col].sum()
        assert (new[col] % unit == 0).all() and (new[col] >= 0).all()
    assert new.loc[new["region"] == "A", "target_revenue_no_cushion"].sum() == pin_total
    got = new.groupby(cols[1:4])["target_revenue"].sum()
    for e in edits.itertuples():
        assert got[(e.region, e.product_line, e.customer_type)] == e.new
    # what the offsets say moved is what the unedited cells lost or gained
    untouched = ~new[cols[1:4]].apply(tuple, axis=1).isin(chosen)
    moved = (new.loc[untouched, "target_revenue"] - t.loc[untouched, "target_revenue"]).sum()
    assert moved == offsets["change"].sum()


def test_plain_tables_get_labels_to_stack():
    from salesanalysis.report.formatting import label_plain_tables

    page = (
        "<p>x</p><table><tr><th>Segment</th><th>Gap &amp; more</th></tr>"
        "<tr><td>华东</td><td>-5</td></tr><tr><td>华北</td><td>7</td></tr></table>"
    )
    out = label_plain_tables(page)
    assert out.count('data-label="Segment"') == 2 and out.count('data-label="Gap &amp; more"') == 2
    assert '<table class="sa-stack">' in out and out.startswith("<p>x</p>")
    assert label_plain_tables("<table><tr><td>1</td></tr></table>") == (
        "<table><tr><td>1</td></tr></table>"  # no header row: left as it is
    )
