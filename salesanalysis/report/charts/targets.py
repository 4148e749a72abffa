"""Charts for the target decomposition (notebook 03).

Each function takes a frame from :class:`salesanalysis.targets.decompose.Decomposition` and returns a
:class:`matplotlib.figure.Figure` made without pyplot (for a frame with nothing to draw,
:func:`~salesanalysis.report.charts.empty_chart`: the title and a sentence). Call
:func:`salesanalysis.report.charts.setup` first so that Chinese labels use the CJK font.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from salesanalysis.report.charts import (
    FIGSIZE,
    empty_chart,
    label,
    money_axis,
    money_scale,
    waterfall_bars,
)

__all__ = [
    "bridge_chart",
    "target_heatmap",
    "rep_load_chart",
    "rep_month_heatmap",
    "monthly_target_chart",
]

POS_COLOR = "#3a8a4f"
NEG_COLOR = "#c0504d"
TOTAL_COLOR = "#1f5f99"
GREY = "#7f7f7f"

_STEP_LABELS = {
    "last year": "去年",
    "volume": "销量",
    "price": "价格",
    "new customers": "新客户",
    "strategies": "策略",
    "target": "目标",
}


def bridge_chart(bridge: pd.DataFrame, *, currency: str = "CNY") -> Figure:
    """Waterfall from last year's revenue to the target: volume, price, new customers,
    strategies (``Decomposition.bridge``)."""
    title = "从去年到目标的收入桥（纵轴不从零开始）"
    if bridge.empty:
        return empty_chart(title)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    steps = bridge.loc[bridge["kind"] != "total", "amount"].abs()
    sdiv, sname = money_scale(float(steps.max()) if len(steps) else 0.0)
    tops = [hi for _, hi in waterfall_bars(ax, bridge, TOTAL_COLOR, POS_COLOR, NEG_COLOR)]
    for i, (r, hi) in enumerate(zip(bridge.itertuples(index=False), tops, strict=True)):
        sign = "+" if r.kind != "total" else ""
        ax.annotate(
            f"{float(r.amount) / sdiv:{sign},.0f}{sname}",
            (i, hi),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            fontsize="small",
            color=GREY,
        )
    ax.set_xticks(range(len(bridge)))
    ax.set_xticklabels([_STEP_LABELS.get(s, s) for s in bridge["step"]])
    totals = bridge.loc[bridge["kind"] == "total", "amount"]
    if len(totals) and float(totals.min()) > 0:  # start the axis near the bars (shown in title)
        ax.set_ylim(bottom=float(totals.min()) * 0.85, top=max(tops) * 1.03)
    ax.set_ylabel(label("revenue"))
    money_axis(ax, unit=currency)
    ax.set_title(title)
    return fig


def target_heatmap(
    targets: pd.DataFrame,
    *,
    value: str = "target_revenue_no_cushion",
    rows: str = "region",
    cols: str = "product_line",
    currency: str = "CNY",
) -> Figure:
    """Heatmap of annual targets by ``rows`` x ``cols`` (default region x product line)."""
    import seaborn as sns

    if targets.empty:
        return empty_chart(f"年度目标：{label(rows)} x {label(cols)}")
    tab = targets.pivot_table(
        index=rows, columns=cols, values=value, aggfunc="sum", fill_value=0.0
    )
    if tab.empty:
        return empty_chart(f"年度目标：{label(rows)} x {label(cols)}")
    div, name = money_scale(float(np.nanmax(tab.to_numpy())) if tab.size else 0.0)
    fig = Figure(
        figsize=(max(6.0, 1.6 * tab.shape[1] + 2), max(3.0, 0.6 * tab.shape[0] + 1.5)),
        layout="constrained",
    )
    ax = fig.subplots()
    sns.heatmap(
        tab / div,
        annot=True,
        fmt=",.0f",
        cmap="Blues",
        ax=ax,
        cbar_kws={"label": f"{name} {currency}".strip()},
    )
    ax.set_xlabel(label(cols))
    ax.set_ylabel(label(rows))
    ax.set_title(
        f"年度目标：{label(rows)} x {label(cols)}（{name} {currency}）".replace("（ ", "（")
    )
    return fig


def rep_load_chart(
    rep_load: pd.DataFrame, *, load_flag_pct: float = 0.2, currency: str = "CNY"
) -> Figure:
    """Rep target against capacity: one dot per rep, the median load line and the flag band."""
    title = "销售代表负荷：目标 vs 产能"
    rl = rep_load.dropna(subset=["capacity", "target_revenue"]) if len(rep_load) else rep_load
    if rl.empty:
        return empty_chart(title, "没有有目标和产能的销售代表 · No rep with a target and capacity")
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    colors = rl["flag"].map({"above": NEG_COLOR, "below": "#e0a030"}).fillna(TOTAL_COLOR)
    ax.scatter(rl["capacity"], rl["target_revenue"], c=list(colors), s=36, zorder=3)
    med = float(rl["load"].median())
    xs = np.linspace(0, float(rl["capacity"].max()) * 1.05, 20)
    ax.plot(xs, med * xs, color=GREY, lw=1, label="中位负荷")
    ax.fill_between(
        xs,
        med * (1 - load_flag_pct) * xs,
        med * (1 + load_flag_pct) * xs,
        color=GREY,
        alpha=0.12,
        label=f"中位 ±{load_flag_pct:.0%}",
    )
    for r in rl[rl["flag"] != ""].itertuples(index=False):
        ax.annotate(
            str(r.rep_id),
            (r.capacity, r.target_revenue),
            xytext=(4, 2),
            textcoords="offset points",
            fontsize="x-small",
            color=GREY,
        )
    ax.legend(loc="upper left")
    ax.set_xlabel("产能（满编人月，含爬坡）")
    ax.set_ylabel("年度目标（含缓冲）")
    money_axis(ax, unit=currency)
    ax.set_title(title)
    return fig


def rep_month_heatmap(rep_month: pd.DataFrame, *, currency: str = "CNY") -> Figure:
    """Heatmap of each rep's monthly target (``Decomposition.rep_month``: one row per rep,
    one column per month ``YYYY-MM``), reps in region order, to-be-hired reps included."""
    title = "销售人员 x 月 目标"
    months = [c for c in rep_month.columns if len(str(c)) == 7 and str(c)[4] == "-"]
    if rep_month.empty or not months:
        return empty_chart(title)
    import seaborn as sns

    tab = rep_month.set_index(rep_month["region"] + " " + rep_month["rep_id"])[months]
    div, name = money_scale(float(np.nanmax(tab.to_numpy())) if tab.size else 0.0)
    fig = Figure(
        figsize=(max(8.0, 0.9 * len(months) + 3), max(4.0, 0.28 * len(tab) + 1.5)),
        layout="constrained",
    )
    ax = fig.subplots()
    sns.heatmap(tab / div, cmap="Blues", ax=ax, cbar_kws={"label": f"{name} {currency}".strip()})
    ax.set_xlabel(label("month"))
    ax.set_ylabel(label("rep_id"))
    ax.set_title(f"{title}（{name} {currency}）".replace("（ ", "（"))
    return fig


def monthly_target_chart(
    targets: pd.DataFrame, *, value: str = "target_revenue_no_cushion", currency: str = "CNY"
) -> Figure:
    """Company and region targets month by month (two panels: the company total, then one line
    per region)."""
    title = "月度目标：公司与区域"
    if targets.empty:
        return empty_chart(title)
    comp = targets.groupby("month")[value].sum().sort_index()
    reg = targets.pivot_table(index="month", columns="region", values=value, aggfunc="sum")
    fig = Figure(figsize=(FIGSIZE[0], FIGSIZE[1] * 1.6), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.bar(comp.index, comp.to_numpy(), width=20, color=TOTAL_COLOR)
    ax1.set_title("公司月度目标")
    for r in reg.columns:
        ax2.plot(reg.index, reg[r].to_numpy(), marker="o", label=str(r))
    ax2.set_title("区域月度目标")
    ax2.legend(fontsize="small", ncol=min(5, len(reg.columns)))
    for ax in (ax1, ax2):
        ax.set_ylabel(label("revenue"))
        money_axis(ax, unit=currency)
    ax2.set_xlabel(label("month"))
    fig.suptitle(title)
    return fig
