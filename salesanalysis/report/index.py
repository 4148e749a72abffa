"""The run's index page: the review's headline first, then the steps, data notes and records.

Amounts are shown in the plan's currency (``outputs/plan.json``, written by the prepare stage).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.i18n import N_, language, tr
from salesanalysis.report.formatting import label_plain_tables, money, pct, table
from salesanalysis.report.pages import APPENDIX_PAGE
from salesanalysis.targets.reps import TBH_PREFIX

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
    """What the index page leads with (every text already in the report's language)."""

    cards: list[tuple[str, str, str]] = field(default_factory=list)  # label, value, detail
    behind: list[dict[str, Any]] = field(default_factory=list)  # segments, YTD
    ahead: list[dict[str, Any]] = field(default_factory=list)
    reps_behind: list[dict[str, Any]] = field(default_factory=list)  # reps, YTD
    reps_ahead: list[dict[str, Any]] = field(default_factory=list)
    plan_note: str | None = None
    currency: str = NO_PLAN_CURRENCY  # of every amount above
    reviewed: bool = False  # the review step ran: behind / ahead are its answers, even if empty
    alerts: list[str] = field(default_factory=list)  # overdue actions, reps short of pipeline
    targets: pd.DataFrame | None = None  # revenue, market share, customers against target
    chart: str | None = None  # month-by-month target vs actual, a PNG data URI
    workbooks: list[tuple[str, str]] = field(default_factory=list)  # label, href


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


def _monthly_revenue(outputs: Path) -> pd.Series:
    cube = pd.read_parquet(outputs / "cube.parquet", columns=["month", "revenue"])
    monthly = cube.groupby("month")["revenue"].sum()
    monthly.index = monthly.index.to_period("M")
    return monthly


def _sales_card(outputs: Path, p: pd.Period, currency: str) -> tuple[str, str, str]:
    monthly = _monthly_revenue(outputs)
    now = float(monthly.get(p, 0.0))
    before = float(monthly.get(p - 12, 0.0))
    detail = (
        tr("{change} on a year earlier").format(change=pct(now / before - 1, signed=True))
        if before
        else ""
    )
    return (tr("Revenue in {month}").format(month=str(p)), money(now, currency), detail)


MEASURES = {
    "revenue": N_("Revenue"),
    "market_share": N_("Market share"),
    "customers": N_("Active customers"),
}
"""The measures of the index's target table, in order."""


def _targets_table(review: pd.DataFrame) -> pd.DataFrame:
    """Revenue, market share and customers: year to date and full year against target."""
    tot = review[review["level"] == "total"]
    rows = []
    for measure, label in MEASURES.items():
        m = tot[tot["measure"] == measure].set_index("window")
        if "ytd" not in m.index:
            continue
        ytd = m.loc["ytd"]
        fy = m.loc["fy"] if "fy" in m.index else None

        def fy_value(col: str, fy: pd.Series | None = fy) -> float:
            return float(fy[col]) if fy is not None and col in fy and pd.notna(fy[col]) else np.nan

        rows.append(
            {
                "measure": tr(label),
                "ytd_actual": float(ytd["actual"]),
                "ytd_target": float(ytd["target"]),
                "gap": float(ytd["actual"]) - float(ytd["target"]),
                "attainment": float(ytd["attainment"]),
                "fy_target": fy_value("target"),
                "landing": fy_value("landing_mean"),
                "p_reach": fy_value("p_reach_target"),
            }
        )
    return pd.DataFrame(rows)


def _reps(review: pd.DataFrame, outputs: Path, n: int = 3) -> tuple[list[dict], list[dict]]:
    """The ``n`` reps furthest behind and ahead of their year-to-date revenue target."""
    reps = review[
        (review["level"] == "rep") & (review["measure"] == "revenue") & (review["window"] == "ytd")
    ].copy()
    if reps.empty:
        return [], []
    names: dict[str, str] = {}
    if (outputs / "reps.parquet").exists():
        r = pd.read_parquet(outputs / "reps.parquet")
        if {"rep_id", "name"} <= set(r.columns):
            names = dict(zip(r["rep_id"].astype(str), r["name"].astype(str), strict=False))
    reps = reps[~reps["rep_id"].astype(str).str.startswith(TBH_PREFIX)]  # not in post
    reps["gap"] = reps["actual"] - reps["target"]
    reps = reps.sort_values(["gap", "rep_id"], kind="mergesort")

    def items(df: pd.DataFrame) -> list[dict[str, Any]]:
        return [
            {
                "segment": f"{r.rep_id} {names.get(str(r.rep_id), '')}".strip(),
                "actual": float(r.actual),
                "target": float(r.target),
                "gap": float(r.gap),
                "attainment": float(r.attainment),
            }
            for r in df.itertuples()
        ]

    return items(reps[reps["gap"] < 0].head(n)), items(reps[reps["gap"] > 0].iloc[::-1].head(n))


def _coverage_alert(outputs: Path) -> list[str]:
    path = outputs / "pipeline_coverage.parquet"
    if not path.exists():
        return []
    cov = pd.read_parquet(path)
    if "short" not in cov.columns:
        return []
    short = cov[
        cov["short"].fillna(False).astype(bool)
        & ~cov["rep_id"].astype(str).str.startswith(TBH_PREFIX)
    ].sort_values("coverage")
    if short.empty:
        return []
    ids = ", ".join(str(r) for r in short["rep_id"].head(8))
    more = len(short) - min(len(short), 8)
    return [
        tr(
            "{n} reps hold less open pipeline (weighted by stage) than their remaining "
            "target: {reps}{more}."
        ).format(n=len(short), reps=ids, more=tr(" and {n} more").format(n=more) if more else "")
    ]


def _hires_alert(review: pd.DataFrame, currency: str) -> list[str]:
    """Planned hires (``TBH-`` reps) with a target to date: nobody sells it yet."""
    tbh = review[
        (review["level"] == "rep")
        & (review["measure"] == "revenue")
        & (review["window"] == "ytd")
        & review["rep_id"].astype(str).str.startswith(TBH_PREFIX)
        & (review["target"] > 0)
    ]
    if tbh.empty:
        return []
    return [
        tr(
            "{n} planned hires carry {target} of the target to date; until they are in post "
            "and named in reps.csv, nobody sells it."
        ).format(n=len(tbh), target=money(float(tbh["target"].sum()), currency))
    ]


def _month_chart(outputs: Path, p: pd.Period, currency: str) -> str | None:
    """Month by month: actual revenue (bars, through the report month), the plan's target and
    the revised target of the remaining months (lines), as a PNG data URI; None without a
    review (``revised_targets.parquet``)."""
    path = outputs / "revised_targets.parquet"
    if not path.exists():
        return None
    rt = pd.read_parquet(
        path, columns=["month", "plan_revenue_no_cushion", "revised_revenue_no_cushion"]
    )
    if rt.empty:
        return None
    by = rt.groupby(rt["month"].dt.to_period("M"))[
        ["plan_revenue_no_cushion", "revised_revenue_no_cushion"]
    ].sum()
    actual = _monthly_revenue(outputs).reindex(by.index).where(by.index <= p)
    import base64
    import io

    from matplotlib.figure import Figure

    from salesanalysis.report import charts

    charts.setup()
    fig = Figure(figsize=(8.0, 3.2), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(by))
    ax.bar(x, actual.fillna(0.0).to_numpy(), color="#4C72B0", label=tr("Actual"))
    ax.plot(
        x,
        by["plan_revenue_no_cushion"].to_numpy(),
        color="#222",
        marker="o",
        ms=3,
        label=tr("Target (plan)"),
    )
    later = by.index > p
    if later.any():
        ax.plot(
            x[later],
            by["revised_revenue_no_cushion"].to_numpy()[later],
            color="#DD8452",
            ls="--",
            marker="o",
            ms=3,
            label=tr("Revised target, remaining months"),
        )
    ax.set_xticks(x, [str(m.month) for m in by.index])
    ax.set_xlabel(tr("Month of {year}").format(year=by.index[0].year))
    charts.money_axis(ax, unit=currency, label=tr("Revenue"))
    ax.set_title(tr("Revenue by month: target and actual"), loc="left")
    ax.legend(frameon=False, fontsize=8, ncols=3, loc="upper left")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


WORKBOOKS = {
    "targets.xlsx": N_("Targets: region, product line, customer type, rep x month"),
    "revised_targets.xlsx": N_("Revised targets beside the plan"),
    "demand_plan.xlsx": N_("Demand plan for production and logistics"),
}


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

        rv = pd.read_parquet(review)
        r = review_headline(rv)
        start = _mid_year_start(outputs, p)
        h.cards += [
            (
                tr("Attainment since the plan began ({month})").format(month=str(start))
                if start
                else tr("Revenue attainment, year to date"),
                pct(r["ytd_attainment"]),
                tr("{actual} against a target to date of {target}").format(
                    actual=money(r["ytd_actual"], currency),
                    target=money(r["ytd_target"], currency),
                ),
            ),
            (
                tr("Expected full year"),
                money(r["landing_mean"], currency),
                tr("{change} against the target of {target}; 80% range {lo} to {hi}").format(
                    change=pct(r["landing_vs_target"], signed=True),
                    target=money(r["fy_target"], currency),
                    lo=money(r["landing_lo_80"], currency),
                    hi=money(r["landing_hi_80"], currency),
                ),
            ),
            (
                tr("Chance of reaching the full-year target"),
                pct(r["p_reach_target"]),
                tr("from the expected full year"),
            ),
        ]
        h.behind, h.ahead = list(r.get("behind") or []), list(r.get("ahead") or [])
        h.reps_behind, h.reps_ahead = _reps(rv, outputs)
        h.targets = _targets_table(rv)
        h.reviewed = True
        if (outputs / "actions.parquet").exists():
            from salesanalysis.execution import overdue_callouts

            h.alerts = overdue_callouts(pd.read_parquet(outputs / "actions.parquet"))
        h.alerts += _hires_alert(rv, currency) + _coverage_alert(outputs)
        try:
            h.chart = _month_chart(outputs, p, currency)
        except (OSError, ValueError, KeyError) as e:  # the chart is a help, not a must
            h.plan_note = tr("The month-by-month chart could not be drawn: {error}").format(
                error=str(e)
            )
    h.cards.append(_sales_card(outputs, p, currency))
    h.workbooks = [
        (tr(label), f"outputs/{name}")
        for name, label in WORKBOOKS.items()
        if (outputs / name).exists()
    ]
    return h


def _segments(title: str, rows: list[dict[str, Any]], currency: str, none: str) -> str:
    """The table of segments (or reps) behind or ahead; the sentence ``none`` when there are
    none. Gap = actual - target."""
    e = html.escape
    if not rows:
        return f"<h3>{e(title)}</h3><p>{e(none)}</p>"
    body = "".join(
        f"<tr><td>{e(str(r['segment']))}</td><td>{e(money(r['actual'], currency))}</td>"
        f"<td>{e(money(r['target'], currency))}</td>"
        f"<td>{e(money(r['gap'], currency, signed=True))}</td>"
        f"<td>{e(pct(r['attainment']))}</td></tr>"
        for r in rows
    )
    head = "".join(
        f"<th>{e(tr(t))}</th>"
        for t in (N_("Who"), N_("Actual YTD"), N_("Target YTD"), N_("Gap"), N_("Attainment"))
    )
    return f"<h3>{e(title)}</h3><table><tr>{head}</tr>{body}</table>"


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


def _targets_html(h: Headline, currency: str) -> str:
    if h.targets is None or h.targets.empty:
        return ""
    share, customers = tr(MEASURES["market_share"]), tr(MEASURES["customers"])
    labels = {
        "measure": tr("Measure"),
        "ytd_actual": tr("Actual YTD"),
        "ytd_target": tr("Target YTD"),
        "gap": tr("Gap (actual - target)"),
        "attainment": tr("Attainment"),
        "fy_target": tr("Full-year target"),
        "landing": tr("Expected full year"),
        "p_reach": tr("Chance of reaching it"),
    }
    t = table(
        h.targets,
        money=["ytd_actual", "ytd_target", "gap", "fy_target", "landing"],
        pct=["attainment", "p_reach"],
        labels=labels,
        row_key="measure",
        row_formats={share: "pct", customers: "ints"},
        caption=tr("Against target: year to date and full year"),
        unit=currency,
    )
    heading = html.escape(tr("Targets"))
    return f"<h2>{heading}</h2>{t.to_html()}"


def _behind_ahead(h: Headline, currency: str) -> str:
    if not (h.reviewed or h.behind or h.ahead):
        return ""
    parts = [
        _segments(
            tr("Segments furthest behind (YTD)"),
            h.behind,
            currency,
            tr("No segment is behind its year-to-date target."),
        ),
        _segments(
            tr("Segments furthest ahead (YTD)"),
            h.ahead,
            currency,
            tr("No segment is ahead of its year-to-date target."),
        ),
    ]
    if h.reps_behind or h.reps_ahead:
        parts += [
            _segments(
                tr("Reps furthest behind (YTD)"),
                h.reps_behind,
                currency,
                tr("No rep is behind their year-to-date target."),
            ),
            _segments(
                tr("Reps furthest ahead (YTD)"),
                h.reps_ahead,
                currency,
                tr("No rep is ahead of their year-to-date target."),
            ),
        ]
    cells = "".join(f'<div class="half">{p}</div>' for p in parts)
    heading = html.escape(tr("Behind and ahead"))
    note = html.escape(tr("Gap = actual - target: negative is behind."))
    return f'<h2>{heading}</h2><p class="meta">{note}</p><div class="grid">{cells}</div>'


def _step_name(manifest: dict[str, Any], err: dict[str, Any]) -> str:
    """The business name of the step a failed run stopped at (the data preparation, or a
    step's title)."""
    step = str(err.get("step") or "")
    if step == "prepare":
        return tr("data preparation")
    titles = {s["name"]: s.get("title") for s in manifest.get("steps") or []}
    return titles.get(step) or step


def _links(manifest: dict[str, Any], h: Headline | None) -> str:
    e = html.escape
    items = []
    for s in manifest["steps"]:
        name = s.get("title") or s["name"]
        link = f'<a href="{e(s["html"])}">{e(name)}</a>' if s.get("html") else e(name)
        state = ""
        if s["status"] not in ("ok", "reused"):
            why = s.get("note") or s.get("error") or ""
            state = " (" + e(tr(s["status"])) + (": " + e(why) if why else "") + ")"
        items.append(f"<li>{link}{state}</li>")
    books = "".join(
        f'<li><a href="{e(href)}">{e(label)}</a> (Excel)</li>'
        for label, href in (h.workbooks if h else [])
    )
    name, what = (
        e(tr("Technical appendix")),
        e(tr("checks, forecast accuracy, methods, the run record")),
    )
    appendix = f'<li><a href="{APPENDIX_PAGE}">{name}</a>: {what}</li>'
    report, workbooks = e(tr("The report")), e(tr("Workbooks"))
    return (
        f"<h2>{report}</h2><ul>{''.join(items)}</ul>"
        + (f"<h3>{workbooks}</h3><ul>{books}</ul>" if books else "")
        + f"<ul>{appendix}</ul>"
    )


def render_index(manifest: dict[str, Any], h: Headline | None, currency: str | None = None) -> str:
    """The run's ``index.html``: a page a director reads in 30 seconds (every value from data
    is HTML-escaped). Technical detail is on the appendix page.

    Args:
        currency: of the amounts; None takes the headline's (the plan's).
    """
    e = html.escape
    currency = currency or (h.currency if h else NO_PLAN_CURRENCY)
    period = manifest.get("period") or "?"
    status = manifest["status"]
    cards = "".join(
        f'<div class="kpi"><div class="k">{e(k)}</div><div class="v">{e(v)}</div>'
        f'<div class="d">{e(d)}</div></div>'
        for k, v, d in (h.cards if h else [])
    )
    alt = e(tr("Revenue by month: target and actual"))
    chart = f'<img class="chart" src="{h.chart}" alt="{alt}">' if h and h.chart else ""
    alerts = [*(h.alerts if h else []), *(manifest.get("notes") or [])]
    if h and h.plan_note:
        alerts.append(h.plan_note)
    alerts_heading = e(tr("Alerts"))
    alerts_html = (
        f"<h2>{alerts_heading}</h2><ul>{''.join(f'<li>{e(a)}</li>' for a in alerts)}</ul>"
        if alerts
        else ""
    )
    err = manifest.get("error")
    err_html = ""
    if err:
        stopped = e(tr("The run stopped at step {step}").format(step=_step_name(manifest, err)))
        err_html = (
            f'<div class="err"><b>{stopped}</b> ({e(tr(status))})'
            f"<pre>{e(err['message'])}</pre></div>"
        )
    title = tr("Sales report {month}").format(month=period)
    back = e(tr("All reports"))
    lang = "zh-CN" if language() == "zh" else "en"
    return label_plain_tables(f"""<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{e(title)}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", Arial, sans-serif;
       max-width: 1050px; margin: 24px auto; color: #222; }}
h1 {{ font-size: 24px; }} table {{ border-collapse: collapse; margin-bottom: 12px; }}
td, th {{ padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }}
td:nth-child(n+2) {{ font-variant-numeric: tabular-nums; text-align: right; white-space: nowrap; }}
.kpis {{ display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }}
.kpi {{ border: 1px solid #ccd; border-radius: 6px; padding: 10px 14px; width: 220px; }}
.kpi .v {{ font-size: 22px; font-weight: 600; margin: 4px 0; }}
.kpi .k {{ font-size: 13px; color: #333; }} .kpi .d {{ font-size: 11px; color: #666; }}
.grid {{ display: flex; flex-wrap: wrap; gap: 0 24px; }} .half {{ flex: 1 1 460px; min-width: 0; }}
img.chart {{ width: 100%; max-width: 880px; }}
.err {{ background: #fdecea; border: 1px solid #f5c2c0; padding: 10px; }}
.meta {{ font-size: 12px; color: #666; }}
{LAYOUT_CSS}
</style></head><body>
<p><a href="../index.html">&larr; {back}</a></p>
<h1>{e(title)}</h1>
{err_html}
<div class="kpis">{cards}</div>
{_targets_html(h, currency) if h else ""}
{chart}
{_behind_ahead(h, currency) if h else ""}
{alerts_html}
{_links(manifest, h)}
</body></html>""")
