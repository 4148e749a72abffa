"""The run's index page: the review's headline first, then the steps, data notes and records.

Amounts are shown in the plan's currency (``outputs/plan.json``, written by the prepare stage).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from salesanalysis.report.formatting import label_plain_tables, money, number, pct

__all__ = ["Headline", "headline", "plan_currency", "render_index"]

NO_PLAN_CURRENCY = "CNY"
"""The currency of a run without a plan file (the plan's own default, ``targets.plan``)."""


def plan_currency(outputs: Path | str) -> str:
    """The currency of the run's plan (``outputs/plan.json``); :data:`NO_PLAN_CURRENCY` when
    the run has no plan or the file cannot be read."""
    try:
        plan = json.loads((Path(outputs) / "plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return NO_PLAN_CURRENCY
    cur = plan.get("currency") if isinstance(plan, dict) else None
    return str(cur) if cur else NO_PLAN_CURRENCY


@dataclass
class Headline:
    """What the index page leads with."""

    cards: list[tuple[str, str, str]] = field(default_factory=list)  # label, value, detail
    behind: list[dict[str, Any]] = field(default_factory=list)
    ahead: list[dict[str, Any]] = field(default_factory=list)
    plan_note: str | None = None
    currency: str = NO_PLAN_CURRENCY  # of every amount above
    reviewed: bool = False  # the review step ran: behind / ahead are its answers, even if empty
    alerts: list[str] = field(default_factory=list)  # overdue actions in lagging segments


def _mid_year_start(outputs: Path, p: pd.Period) -> pd.Period | None:
    """The first month of the run's plan when it is a mid-year plan whose year is the report
    month's (its review judges only the plan's months); None otherwise."""
    try:
        plan = json.loads((outputs / "plan.json").read_text(encoding="utf-8"))
        cut = pd.Period(str(plan["plan_cutoff"]), "M")
        year = int(plan["fiscal_year"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return cut + 1 if cut.year == year == p.year and cut.month < 12 else None


def _sales_cards(outputs: Path, p: pd.Period, currency: str) -> list[tuple[str, str, str]]:
    cube = pd.read_parquet(outputs / "cube.parquet", columns=["month", "revenue"])
    monthly = cube.groupby("month")["revenue"].sum()
    monthly.index = monthly.index.to_period("M")

    def total(first: pd.Period, last: pd.Period) -> float:
        return float(monthly[(monthly.index >= first) & (monthly.index <= last)].sum())

    def yoy(first: pd.Period, last: pd.Period) -> str:
        before = total(first - 12, last - 12)
        return (
            f"{pct(total(first, last) / before - 1, signed=True)} on a year earlier"
            if before
            else ""
        )

    jan = pd.Period(f"{p.year}-01", "M")
    return [
        (f"Revenue {p}", money(total(p, p), currency), yoy(p, p)),
        (f"Revenue YTD {p.year}", money(total(jan, p), currency), yoy(jan, p)),
        ("Revenue, last 12 months", money(total(p - 11, p), currency), yoy(p - 11, p)),
    ]


def headline(outputs: Path | str, period: str, currency: str | None = None) -> Headline:
    """Headline figures of a run from its outputs (the review's when the review step ran).

    Args:
        currency: of the amounts; None takes the plan's (:func:`plan_currency`).
    """
    outputs = Path(outputs)
    p = pd.Period(period, "M")
    currency = currency or plan_currency(outputs)
    h = Headline(currency=currency)
    review = outputs / "review.parquet"
    if review.exists():
        from salesanalysis.review import headline as review_headline

        r = review_headline(pd.read_parquet(review))
        start = _mid_year_start(outputs, p)
        h.cards += [
            (
                f"Attainment since the plan began ({start})" if start else "YTD attainment",
                pct(r["ytd_attainment"]),
                f"{money(r['ytd_actual'], currency)} of {money(r['ytd_target'], currency)} phased target",
            ),
            (
                "Landing forecast FY",
                money(r["landing_mean"], currency),
                f"80%: {money(r['landing_lo_80'], currency)} to {money(r['landing_hi_80'], currency)}; "
                f"{pct(r['landing_vs_target'], signed=True)} vs target {money(r['fy_target'], currency)}",
            ),
            (
                "Chance to reach the FY target",
                pct(r["p_reach_target"], decimals=0),
                "from the landing forecast",
            ),
            (
                "Customers YTD",
                number(r["customers_ytd"]),
                f"target to date {number(r['customers_target_ytd'])}",
            ),
        ]
        h.behind, h.ahead = list(r.get("behind") or []), list(r.get("ahead") or [])
        h.reviewed = True
        if (outputs / "actions.parquet").exists():
            from salesanalysis.execution import overdue_callouts

            h.alerts = overdue_callouts(pd.read_parquet(outputs / "actions.parquet"))
    h.cards += _sales_cards(outputs, p, currency)
    return h


def _segments(title: str, rows: list[dict[str, Any]], currency: str, none: str) -> str:
    """The table of segments behind or ahead; the sentence ``none`` when there are none."""
    e = html.escape
    if not rows:
        return f"<h3>{e(title)}</h3><p>{e(none)}</p>"
    body = "".join(
        f"<tr><td>{e(str(r['segment']))}</td><td>{e(money(r['actual'], currency))}</td>"
        f"<td>{e(money(r['target'], currency))}</td><td>{e(money(r['gap'], currency, signed=True))}</td>"
        f"<td>{e(pct(r['attainment']))}</td></tr>"
        for r in rows
    )
    return (
        f"<h3>{e(title)}</h3><table><tr><th>Segment</th><th>Actual YTD</th><th>Target YTD</th>"
        f"<th>Gap</th><th>Attainment</th></tr>{body}</table>"
    )


LAYOUT_CSS = """
body { padding: 0 12px; } img { max-width: 100%; height: auto; }
td, th { vertical-align: top; } pre { white-space: pre-wrap; overflow-wrap: anywhere; }
@media screen and (max-width: 640px) {
  body { margin: 8px auto; font-size: 14px; } h1 { font-size: 20px; }
  table { width: 100%; font-size: 13px; } td, th { padding: 3px 4px; overflow-wrap: anywhere; }
  .kpi { width: 100%; box-sizing: border-box; }
  table.sa-stack, table.sa-stack tbody, table.sa-stack tr {
    display: block; width: auto; box-sizing: border-box;
  }
  table.sa-stack tr:first-child { display: none; }
  table.sa-stack tr { margin-bottom: 8px; border-top: 2px solid #999; }
  table.sa-stack td { display: flex; justify-content: space-between; gap: 12px; }
  table.sa-stack td::before { content: attr(data-label); font-weight: 600; color: #444; }
  table.sa-stack td:nth-child(n+2) { text-align: right; }
}
@page { size: A4; margin: 12mm; }
@media print {
  body { margin: 0; max-width: none; padding: 0; font-size: 11px; }
  thead { display: table-header-group; } tr, .kpi { break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; } .kpi { width: 200px; }
}
"""
"""Screen widths from a phone to a desktop, and A4 paper (the index is short: portrait)."""


def render_index(manifest: dict[str, Any], h: Headline | None, currency: str | None = None) -> str:
    """The run's ``index.html`` (self-contained; every value from data is HTML-escaped).

    Args:
        currency: of the amounts; None takes the headline's (the plan's).
    """
    e = html.escape
    currency = currency or (h.currency if h else NO_PLAN_CURRENCY)
    period = manifest.get("period") or "?"
    status = manifest["status"]
    rows = []
    for s in manifest["steps"]:
        link = f'<a href="{e(s["html"])}">{e(s["name"])}</a>' if s.get("html") else e(s["name"])
        nb = f'<a href="{e(s["notebook"])}">notebook</a>' if s.get("notebook") else ""
        rows.append(
            f"<tr><td>{link}</td><td>{e(s['status'])}</td><td>{s['seconds']:.1f} s</td>"
            f"<td>{nb}</td><td>{e(s.get('error') or s.get('note') or '')}</td></tr>"
        )
    cards = "".join(
        f'<div class="kpi"><div class="k">{e(k)}</div><div class="v">{e(v)}</div>'
        f'<div class="d">{e(d)}</div></div>'
        for k, v, d in (h.cards if h else [])
    )
    segs = (
        (
            _segments(
                "Furthest behind (YTD)",
                h.behind,
                currency,
                "No segment is behind its year-to-date target.",
            )
            + _segments(
                "Furthest ahead (YTD)",
                h.ahead,
                currency,
                "No segment is ahead of its year-to-date target.",
            )
        )
        if h and (h.reviewed or h.behind or h.ahead)
        else ""
    )
    notes = "".join(f"<li>{e(n)}</li>" for n in manifest.get("notes") or [])
    alerts = "".join(f"<li>{e(a)}</li>" for a in (h.alerts if h else []))
    if alerts:
        segs += f"<h3>Overdue actions in segments behind target</h3><ul>{alerts}</ul>"
    err = manifest.get("error")
    err_html = (
        f'<div class="err"><b>Run {e(status)}</b> at step {e(err["step"])}:'
        f"<pre>{e(err['message'])}</pre></div>"
        if err
        else ""
    )
    return label_plain_tables(f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>Sales report {e(period)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", Arial, sans-serif;
       max-width: 1050px; margin: 24px auto; color: #222; }}
h1 {{ font-size: 24px; }} table {{ border-collapse: collapse; margin-bottom: 12px; }}
td, th {{ padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }}
td:nth-child(n+2) {{ font-variant-numeric: tabular-nums; }}
.kpis {{ display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }}
.kpi {{ border: 1px solid #ccd; border-radius: 6px; padding: 10px 14px; width: 220px; }}
.kpi .v {{ font-size: 22px; font-weight: 600; margin: 4px 0; }}
.kpi .k {{ font-size: 13px; color: #333; }} .kpi .d {{ font-size: 11px; color: #666; }}
.err {{ background: #fdecea; border: 1px solid #f5c2c0; padding: 10px; }}
.meta {{ font-size: 12px; color: #666; }}
{LAYOUT_CSS}
</style></head><body>
<p><a href="../index.html">&larr; All reports</a></p>
<h1>Sales report {e(period)}</h1>
<p class="meta">Status: <b>{e(status)}</b> &middot; run {e(manifest.get("started", ""))} &middot;
{manifest.get("seconds", 0):.0f} s &middot; commit {e(str(manifest.get("git_commit") or "n/a"))}</p>
{err_html}
<div class="kpis">{cards}</div>
{segs}
<h2>Steps</h2>
<table><tr><th>Step</th><th>Status</th><th>Time</th><th>Audit</th><th>Note</th></tr>
{"".join(rows)}</table>
<h2>Data notes</h2><ul>{notes or "<li>none</li>"}</ul>
<p class="meta">Inputs, versions and parameters: <a href="run.json">run.json</a> &middot;
log: <a href="run.log">run.log</a>, <a href="kernel.log">kernel.log</a> &middot; outputs: <code>outputs/</code></p>
</body></html>""")
