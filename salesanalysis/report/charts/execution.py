"""Charts for the execution half (notebooks 03 and 04): the payout curve, the action timetable,
budget by month, the sales funnel.

Each function returns a :class:`matplotlib.figure.Figure` made without pyplot (an empty frame
gives :func:`~salesanalysis.report.charts.empty_chart`). Call
:func:`salesanalysis.report.charts.setup` first so that Chinese labels use the CJK font.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import pandas as pd
from matplotlib.figure import Figure

from salesanalysis.report.charts import FIGSIZE, count_axis, empty_chart, money_axis, pct_axis

__all__ = ["payout_curve_chart", "timetable_chart", "budget_chart", "funnel_chart"]

_COLORS = ["#1f5f99", "#3a8a4f", "#c0504d", "#e69f00", "#7f5fa8", "#56b4e9", "#7f7f7f"]


def payout_curve_chart(curve: pd.DataFrame) -> Figure:
    """Payout against attainment, both relative to target (``execution.payout_curve``)."""
    title = "提成曲线：达成率 → 提成（相对于达标提成）"
    if curve.empty:
        return empty_chart(title)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    ax.plot(curve["attainment"], curve["payout_vs_on_target"], color=_COLORS[0], lw=2)
    ax.axvline(1.0, color="#999999", lw=1, ls="--")
    ax.axhline(1.0, color="#999999", lw=1, ls="--")
    ax.set_xlabel("达成率 attainment")
    ax.set_ylabel("提成 / 达标提成 payout vs on-target")
    pct_axis(ax, "x")
    pct_axis(ax, "y")
    ax.set_title(title)
    return fig


def timetable_chart(actions: pd.DataFrame, fiscal_year: int) -> Figure:
    """One bar per action from its start to its due date over the fiscal year, coloured by
    owner (``execution.action_plan``)."""
    title = f"行动计划时间表 {fiscal_year}（按负责人）"
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
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m月"))
    handles, labels = ax.get_legend_handles_labels()
    seen = dict(zip(labels, handles, strict=True))
    ax.legend(seen.values(), seen.keys(), title="负责人 owner", fontsize="small", loc="best")
    ax.set_title(title)
    return fig


def budget_chart(budget: pd.DataFrame, *, currency: str = "CNY") -> Figure:
    """Budget by month, stacked by owner (``execution.budget_by_month``)."""
    title = "行动预算（按月、按负责人）"
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
    ax.set_ylabel("预算 budget")
    money_axis(ax, unit=currency)
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(title="负责人 owner", fontsize="small")
    ax.set_title(title)
    return fig


def funnel_chart(stages: pd.Series, title: str = "销售漏斗：全年需要的机会数") -> Figure:
    """Horizontal bars, one per stage (index: stage, value: number of opportunities)."""
    if stages.empty or not stages.notna().any():
        return empty_chart(title)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    ax.barh(list(stages.index), stages.to_numpy(), color=_COLORS[0])
    for i, v in enumerate(stages.to_numpy()):
        ax.annotate(f"{v:,.0f}", (v, i), xytext=(3, 0), textcoords="offset points", va="center")
    ax.invert_yaxis()
    ax.set_xlabel("机会数 opportunities")
    count_axis(ax, "x")
    ax.set_title(title)
    return fig
