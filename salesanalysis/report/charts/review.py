"""Charts for the performance review (notebook 04).

Each function takes a frame from :mod:`salesanalysis.review` and returns a
:class:`matplotlib.figure.Figure` made without pyplot (nothing global is touched). Call
:func:`salesanalysis.report.charts.setup` first so that Chinese labels use the CJK font. Labels from the
data are shown as text (``$`` is escaped so it never starts matplotlib math). A frame with nothing
to draw gives :func:`~salesanalysis.report.charts.empty_chart` (the title and a sentence).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from salesanalysis.i18n import N_, tr
from salesanalysis.report.charts import (
    FIGSIZE,
    SHORT_MONTHS,
    empty_chart,
    money_axis,
    pct_axis,
    waterfall_bars,
)
from salesanalysis.report.formatting import money, pct

__all__ = [
    "attainment_chart",
    "pacing_chart",
    "bridge_waterfall",
    "leaderboard_chart",
    "plan_vs_revised_chart",
]

CUR_COLOR = "#1f5f99"
PLAN_COLOR = "#a9c4de"
POS_COLOR = "#3a8a4f"
NEG_COLOR = "#c0504d"
NEUTRAL = "#e0a43a"
GREY = "#7f7f7f"
DIMS = ["region", "product_line", "customer_type", "rep_id"]
WINDOW_NAMES = {
    "month": N_("report month"),
    "qtd": N_("quarter to date"),
    "ytd": N_("year to date"),
    "fy": N_("full year"),
}
STATUS_COLORS = {"ahead": POS_COLOR, "on track": NEUTRAL, "behind": NEG_COLOR, "no target": GREY}
# the names of the frame columns on axes, legends and titles (translated where shown)
NAMES = {
    "month": N_("Month"),
    "region": N_("Region"),
    "product_line": N_("Product line"),
    "customer_type": N_("Customer type"),
    "cell": N_("Segment"),
    "rep": N_("Rep"),
    "rep_id": N_("Rep"),
    "total": N_("Company"),
    "revenue": N_("Revenue"),
    "revenue_no_cushion": N_("Revenue"),
    "customers": N_("Customers"),
    "market_share": N_("Market share"),
}
NOTHING = N_("Nothing to show.")


def _name(key: str) -> str:
    """A column or level name in the report's language (the key itself when unknown)."""
    return tr(NAMES[key]) if key in NAMES else key


def _month(m: Any) -> str:
    """A month as a short tick label: "Oct" / 10月."""
    return tr(SHORT_MONTHS[pd.Timestamp(m).month - 1])


def _txt(s: Any) -> str:
    """Data label safe for matplotlib (no mathtext)."""
    return str(s).replace("$", r"\$")


def _key(row: Any) -> str:
    parts = [str(row[d]) for d in DIMS if d in row and str(row[d]) != "*"]
    return _txt(" / ".join(parts) if parts else tr(NAMES["total"]))


def _figure(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] = FIGSIZE
) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def attainment_chart(
    review: pd.DataFrame,
    *,
    level: str = "region",
    measure: str = "revenue",
    window: str = "ytd",
    max_bars: int = 25,
) -> Figure:
    """Horizontal bars of attainment (actual / target) per key of a level, with the 100% line;
    green at or above 100%, red below. At most ``max_bars`` keys (lowest attainment first)."""
    window_name = tr(WINDOW_NAMES[window]) if window in WINDOW_NAMES else window
    title = tr("{measure} attainment ({window}) by {level}").format(
        measure=_name(measure), window=window_name, level=_name(level).lower()
    )
    if review.empty:
        return empty_chart(title, tr(NOTHING))
    d = review[
        (review["level"] == level) & (review["measure"] == measure) & (review["window"] == window)
    ].dropna(subset=["attainment"])
    if d.empty:
        return empty_chart(title, tr("Nothing with a target to compare."))
    n_all = len(d)
    d = d.sort_values("attainment", kind="mergesort").head(max_bars)
    fig, axes = _figure(figsize=(FIGSIZE[0], max(2.5, 0.35 * len(d) + 1.2)))
    ax = axes[0, 0]
    names = [_key(r) for _, r in d.iterrows()]
    colors = [POS_COLOR if a >= 1 else NEG_COLOR for a in d["attainment"]]
    bars = ax.barh(range(len(d)), d["attainment"].to_numpy(), color=colors)
    ax.set_yticks(range(len(d)))
    ax.set_yticklabels(names)
    ax.axvline(1.0, color=GREY, lw=1, ls="--")
    for bar, a in zip(bars, d["attainment"], strict=True):
        ax.annotate(
            pct(a),
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
            color=GREY,
        )
    pct_axis(ax, "x", decimals=0, label=tr("Attainment"))
    shown = (
        " " + tr("({n} lowest of {total})").format(n=len(d), total=n_all) if len(d) < n_all else ""
    )
    ax.set_title(f"{title}{shown}")
    return fig


def pacing_chart(
    curve: pd.DataFrame, *, currency: str = "CNY", title: str | None = None
) -> Figure:
    """Cumulative actual vs the phased target (and the straight line for contrast), the landing
    forecast with its 80% band, and the run rate required to close the year (from
    :func:`salesanalysis.review.pacing_curve`). The months before a mid-year plan (``in_plan``
    False) are shaded grey and labelled "before the plan"."""
    default = tr("The year so far: actual, phased target and expected landing")
    if curve.empty:
        return empty_chart(title or default, tr(NOTHING))  # escapes the title itself
    heading = _txt(title) if title else default
    fig, axes = _figure()
    ax = axes[0, 0]
    x = pd.to_datetime(curve["month"])
    ax.plot(
        x, curve["cum_target"], color=PLAN_COLOR, lw=2.5, label=tr("Target (phased by season)")
    )
    ax.plot(
        x,
        curve["straight_line"],
        color=GREY,
        lw=1,
        ls=":",
        label=tr("Target (straight line, for contrast only)"),
    )
    ax.plot(
        x,
        curve["cum_actual"],
        color=CUR_COLOR,
        lw=2.5,
        marker="o",
        ms=3,
        label=tr("Actual, cumulative"),
    )
    if "in_plan" in curve.columns and not curve["in_plan"].all():
        # a mid-year plan: the months before it are shown as such and not judged
        before = x[~curve["in_plan"].to_numpy(bool)]
        half = pd.Timedelta(days=15)
        ax.axvspan(
            before.min() - half,
            before.max() + half,
            color=GREY,
            alpha=0.15,
            lw=0,
            label=tr("before the plan"),
        )
    fut = curve["actual"].isna()
    if fut.any() and curve.loc[fut, "landing_mean"].notna().any():
        xf = pd.concat([x[~fut].tail(1), x[fut]])
        sel = curve.loc[xf.index]
        ax.plot(
            xf, sel["landing_mean"], color=CUR_COLOR, lw=1.5, ls="--", label=tr("Expected landing")
        )
        ax.fill_between(
            xf,
            sel["landing_lo_80"],
            sel["landing_hi_80"],
            color=CUR_COLOR,
            alpha=0.15,
            lw=0,
            label=tr("80% interval"),
        )
    if fut.any() and curve.loc[fut, "cum_required"].notna().any():
        xr = pd.concat([x[~fut].tail(1), x[fut]])
        ax.plot(
            xr,
            curve.loc[xr.index, "cum_required"],
            color=NEG_COLOR,
            lw=1.2,
            ls="-.",
            label=tr("Needed to reach the full-year target"),
        )
    ax.set_xticks(x)
    ax.set_xticklabels([_month(m) for m in x])
    ax.set_xlabel(_name("month"))
    ax.set_ylabel(tr("Cumulative revenue"))
    money_axis(ax, unit=currency)
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title(heading)
    return fig


def bridge_waterfall(
    bridge: pd.DataFrame, *, currency: str = "CNY", title: str | None = None
) -> Figure:
    """Waterfall of a variance bridge (:func:`salesanalysis.review.bridge_target` or
    :func:`~salesanalysis.review.bridge_last_year`): start and end totals in blue, increases
    green, decreases red, each bar labelled with its amount (in the report's money units, as
    the axis). The steps are the effects on actual - target (or this year - last year):
    negative = below."""
    default = tr("Revenue bridge")
    if bridge.empty:
        return empty_chart(title or default, tr(NOTHING))  # escapes the title itself
    heading = _txt(title) if title else default
    fig, axes = _figure()
    ax = axes[0, 0]
    spans = waterfall_bars(ax, bridge, CUR_COLOR, POS_COLOR, NEG_COLOR)
    bottoms, tops = [lo for lo, _ in spans], [hi for _, hi in spans]
    for i, (r, hi) in enumerate(zip(bridge.itertuples(index=False), tops, strict=True)):
        ax.annotate(
            money(float(r.amount), "", signed=r.kind != "total"),
            (i, hi),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize="small",
            color=GREY,
        )
    ax.set_xticks(range(len(bridge)))
    ax.set_xticklabels([_txt(s) for s in bridge["label"]], rotation=20, ha="right")
    totals = bridge.loc[bridge["kind"] == "total", "amount"]
    note = ""
    if len(totals) and float(totals.min()) > 0 and min(bottoms[1:-1] or [0.0]) > 0:
        lo = min(float(totals.min()), min(bottoms[1:-1] or [float(totals.min())]))
        span = max(tops) - lo
        ax.set_ylim(bottom=max(0.0, lo - 0.6 * span), top=max(tops) + 0.1 * span)
        note = " " + tr("(the axis does not start at zero)")
    ax.set_ylabel(_name("revenue"))
    money_axis(ax, unit=currency)
    ax.set_title(heading + note)
    return fig


def leaderboard_chart(board: pd.DataFrame, *, max_reps: int = 40) -> Figure:
    """Reps by ramp-adjusted attainment (bars, coloured by status) with the attainment against
    the assigned target as a dot; 100% line dashed."""
    title = tr("Rep leaderboard (attainment adjusted for months in post and ramp-up)")
    if board.empty:
        return empty_chart(title, tr(NOTHING))
    d = board.dropna(subset=["ramp_adjusted_attainment"]).head(max_reps).iloc[::-1]
    if d.empty:
        return empty_chart(title, tr("No rep with a target."))
    fig, axes = _figure(figsize=(FIGSIZE[0], max(3.0, 0.3 * len(d) + 1.2)))
    ax = axes[0, 0]
    names = [_txt(f"{r['rep_id']} {r.get('name', '') or ''}".strip()) for _, r in d.iterrows()]
    colors = [STATUS_COLORS.get(s, GREY) for s in d["status"]]
    y = np.arange(len(d))
    ax.barh(y, d["ramp_adjusted_attainment"].to_numpy(), color=colors)
    ax.plot(d["attainment"].to_numpy(), y, "o", color="black", ms=3)
    ax.set_yticks(y)
    ax.set_yticklabels(names, fontsize="small")
    ax.axvline(1.0, color=GREY, lw=1, ls="--")
    pct_axis(ax, "x", decimals=0, label=tr("Ramp-adjusted attainment"))
    handles = [
        Patch(color=STATUS_COLORS[s], label=tr(s_name))
        for s, s_name in (
            ("ahead", N_("ahead")),
            ("on track", N_("on track")),
            ("behind", N_("behind")),
        )
    ]
    handles.append(
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            color="black",
            ms=3,
            label=tr("Attainment of the assigned target"),
        )
    )
    ax.legend(handles=handles, loc="lower right", fontsize="small")
    ax.set_title(title)
    return fig


def plan_vs_revised_chart(
    revised: pd.DataFrame, *, by: str = "month", currency: str = "CNY", measure: str = "revenue"
) -> Figure:
    """Original plan beside the revised targets for the open months (after the report
    period), by month or by a dimension (``by="region"`` ...)."""
    title = tr("Plan and revised targets (remaining months, by {by})").format(by=_name(by).lower())
    if revised.empty:
        return empty_chart(title, tr(NOTHING))
    d = revised[revised["status"] == "open"]
    if d.empty:  # every month closed: December's review
        return empty_chart(title, tr("No month left in the year."))
    g = d.groupby(by, sort=True)[[f"plan_{measure}", f"revised_{measure}"]].sum()
    fig, axes = _figure()
    ax = axes[0, 0]
    x = np.arange(len(g))
    w = 0.4
    ax.bar(x - w / 2, g[f"plan_{measure}"].to_numpy(), w, color=PLAN_COLOR, label=tr("Plan"))
    ax.bar(x + w / 2, g[f"revised_{measure}"].to_numpy(), w, color=CUR_COLOR, label=tr("Revised"))
    ax.set_xticks(x)
    if by == "month":
        ax.set_xticklabels(
            [
                tr("{month} {year}").format(month=_month(m), year=pd.Timestamp(m).year)
                for m in g.index
            ]
        )
    else:
        ax.set_xticklabels([_txt(v) for v in g.index], rotation=20, ha="right")
    ax.set_xlabel(_name(by))
    ax.set_ylabel(tr("{measure} target, remaining months").format(measure=_name(measure)))
    if measure.startswith("revenue"):
        money_axis(ax, unit=currency)
    ax.legend(fontsize="small")
    ax.set_title(title)
    return fig
