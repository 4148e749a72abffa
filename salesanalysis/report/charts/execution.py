"""Charts for the execution half (notebooks 03 and 04): the payout curve, the action timetable,
budget by month, the sales funnel.

Each function returns a :class:`matplotlib.figure.Figure` made without pyplot (an empty frame
gives :func:`~salesanalysis.report.charts.empty_chart`). Call
:func:`salesanalysis.report.charts.setup` first so that Chinese labels use the CJK font. Titles,
axes and legends are English msgids translated into the report's language (``tr``).
"""

from __future__ import annotations

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.figure import Figure

from salesanalysis.execution.inputs import STAGE_WORDS
from salesanalysis.i18n import tr
from salesanalysis.report.charts import FIGSIZE, count_axis, empty_chart, money_axis, pct_axis

__all__ = ["payout_curve_chart", "timetable_chart", "budget_chart", "funnel_chart"]

_COLORS = ["#1f5f99", "#3a8a4f", "#c0504d", "#e69f00", "#7f5fa8", "#56b4e9", "#7f7f7f"]


def payout_curve_chart(curve: pd.DataFrame) -> Figure:
    """Payout against attainment, both relative to target (``execution.payout_curve``)."""
    title = tr("Payout curve: attainment → payout (relative to the on-target payout)")
    if curve.empty:
        return empty_chart(title)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    ax.plot(curve["attainment"], curve["payout_vs_on_target"], color=_COLORS[0], lw=2)
    ax.axvline(1.0, color="#999999", lw=1, ls="--")
    ax.axhline(1.0, color="#999999", lw=1, ls="--")
    ax.set_xlabel(tr("Attainment"))
    ax.set_ylabel(tr("Payout / on-target payout"))
    pct_axis(ax, "x")
    pct_axis(ax, "y")
    ax.set_title(title)
    return fig


def timetable_chart(actions: pd.DataFrame, fiscal_year: int) -> Figure:
    """One bar per action from its start to its due date over the fiscal year, coloured by
    owner (``execution.action_plan``)."""
    title = tr("Action plan timetable {year} (by owner)").format(year=fiscal_year)
    if actions.empty:
        return empty_chart(title)
    a = actions.sort_values(["owner", "start"]).reset_index(drop=True)
    owners = list(dict.fromkeys(a["owner"]))
    color = {o: _COLORS[i % len(_COLORS)] for i, o in enumerate(owners)}
    fig = Figure(figsize=(FIGSIZE[0], max(2.5, 0.45 * len(a) + 1.2)), layout="constrained")
    ax = fig.subplots()
    for i, r in a.iterrows():
        start = mdates.date2num(r["start"])
        width = mdates.date2num(r["due"] + pd.Timedelta(days=1)) - start
        ax.barh(i, width, left=start, color=color[r["owner"]], label=r["owner"])
    ax.set_yticks(range(len(a)))
    ax.set_yticklabels([f"{r.action_id} {r.title}" for r in a.itertuples()])
    ax.invert_yaxis()
    ax.set_xlim(
        mdates.date2num(pd.Timestamp(f"{fiscal_year}-01-01")),
        mdates.date2num(pd.Timestamp(f"{fiscal_year + 1}-01-01")),
    )
    ax.xaxis.set_major_locator(mdates.MonthLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter(tr("%b")))
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles, strict=True))
    ax.legend(seen.values(), seen.keys(), title=tr("Owner"), fontsize="small", loc="best")
    ax.set_title(title)
    return fig


def budget_chart(budget: pd.DataFrame, *, currency: str = "CNY") -> Figure:
    """Budget by month, stacked by owner (``execution.budget_by_month``)."""
    title = tr("Action budget (by month and owner)")
    if budget.empty or float(budget["budget"].sum()) == 0:
        return empty_chart(title)
    wide = budget.pivot_table(index="month", columns="owner", values="budget", aggfunc="sum")
    wide = wide.fillna(0.0).sort_index()
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    bottom = pd.Series(0.0, index=wide.index)
    labels = [m.strftime("%Y-%m") for m in wide.index]
    for i, owner in enumerate(wide.columns):
        ax.bar(labels, wide[owner], bottom=bottom, color=_COLORS[i % len(_COLORS)], label=owner)
        bottom += wide[owner]
    ax.set_ylabel(tr("Budget"))
    money_axis(ax, unit=currency)
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(title=tr("Owner"), fontsize="small")
    ax.set_title(title)
    return fig


def funnel_chart(stages: pd.Series, title: str | None = None) -> Figure:
    """Horizontal bars, one per stage (index: stage, value: number of opportunities); the
    stages are shown in the report's language."""
    title = title if title is not None else tr("Sales funnel: opportunities needed in the year")
    stages = stages.rename(index=lambda s: tr(STAGE_WORDS.get(str(s), str(s))))
    if stages.empty or not stages.notna().any():
        return empty_chart(title)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    ax.barh(list(stages.index), stages.to_numpy(), color=_COLORS[0])
    for i, v in enumerate(stages.to_numpy()):
        ax.annotate(f"{v:,.0f}", (v, i), xytext=(3, 0), textcoords="offset points", va="center")
    ax.invert_yaxis()
    ax.set_xlabel(tr("Opportunities"))
    count_axis(ax, "x")
    ax.set_title(title)
    return fig
