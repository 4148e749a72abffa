"""Charts for the target decomposition (notebook 03).

Each function takes a frame from :class:`salesanalysis.targets.decompose.Decomposition` and returns a
:class:`matplotlib.figure.Figure` made without pyplot (for a frame with nothing to draw,
:func:`~salesanalysis.report.charts.empty_chart`: the title and a sentence). Call
:func:`salesanalysis.report.charts.setup` first so that Chinese labels use the CJK font. Titles,
axes and legends are English msgids translated into the report's language (``tr``); amounts
follow the report's money units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from salesanalysis import i18n
from salesanalysis.i18n import N_, tr
from salesanalysis.report.charts import (
    FIGSIZE,
    empty_chart,
    money_axis,
    money_scale,
    waterfall_bars,
)
from salesanalysis.report.formatting import money
from salesanalysis.targets.explain import BRIDGE_STEPS

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

_NAMES = {
    "month": N_("Month"),
    "region": N_("Region"),
    "product_line": N_("Product line"),
    "customer_type": N_("Customer type"),
    "rep_id": N_("Rep"),
    "revenue": N_("Revenue"),
}


def _name(column: str) -> str:
    """A column's name on an axis or in a title, in the report's language."""
    return tr(_NAMES.get(column, column))


def _scale(value: float) -> tuple[float, str, int]:
    """Divisor, its name and the decimals for amounts around ``value``: the report's units
    when set (one money format per report), else by size."""
    units = i18n.units()
    if units is not None:
        div = {"": 1.0, "万": 1e4, "亿": 1e8}[units]
        return div, units, 2 if units == "亿" else 0
    div, name = money_scale(value)
    return div, name, 0


def _unit_text(name: str, currency: str) -> str:
    suffix = i18n.currency_suffix(currency) if currency else ""
    return f"{name}{suffix}" if suffix == "元" else f"{name} {suffix}".strip()


def bridge_chart(bridge: pd.DataFrame, *, currency: str = "CNY") -> Figure:
    """Waterfall from last year's revenue to the target: volume, price, new customers,
    strategies (``Decomposition.bridge``)."""
    title = tr("Revenue bridge from last year to the target (the axis does not start at zero)")
    if bridge.empty:
        return empty_chart(title)
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    tops = [hi for _, hi in waterfall_bars(ax, bridge, TOTAL_COLOR, POS_COLOR, NEG_COLOR)]
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
    ax.set_xticklabels([tr(BRIDGE_STEPS.get(s, s)) for s in bridge["step"]])
    totals = bridge.loc[bridge["kind"] == "total", "amount"]
    if len(totals) and float(totals.min()) > 0:  # start the axis near the bars (shown in title)
        ax.set_ylim(bottom=float(totals.min()) * 0.85, top=max(tops) * 1.03)
    ax.set_ylabel(_name("revenue"))
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

    title = tr("Annual targets: {rows} x {cols}").format(rows=_name(rows), cols=_name(cols))
    if targets.empty:
        return empty_chart(title)
    tab = targets.pivot_table(
        index=rows, columns=cols, values=value, aggfunc="sum", fill_value=0.0
    )
    if tab.empty:
        return empty_chart(title)
    div, name, dec = _scale(float(np.nanmax(tab.to_numpy())) if tab.size else 0.0)
    unit = _unit_text(name, currency)
    fig = Figure(
        figsize=(max(6.0, 1.6 * tab.shape[1] + 2), max(3.0, 0.6 * tab.shape[0] + 1.5)),
        layout="constrained",
    )
    ax = fig.subplots()
    sns.heatmap(
        tab / div,
        annot=True,
        fmt=f",.{dec}f",
        cmap="Blues",
        ax=ax,
        cbar_kws={"label": unit},
    )
    ax.set_xlabel(_name(cols))
    ax.set_ylabel(_name(rows))
    ax.set_title(tr("{title} ({unit})").format(title=title, unit=unit))
    return fig


def rep_load_chart(
    rep_load: pd.DataFrame, *, load_flag_pct: float = 0.2, currency: str = "CNY"
) -> Figure:
    """Rep target against capacity: one dot per rep, the median load line and the flag band."""
    title = tr("Rep load: target against capacity")
    rl = rep_load.dropna(subset=["capacity", "target_revenue"]) if len(rep_load) else rep_load
    if rl.empty:
        return empty_chart(title, tr("Nothing to show: no rep with a target and capacity"))
    fig = Figure(figsize=FIGSIZE, layout="constrained")
    ax = fig.subplots()
    flagged = (rl["flag"] != "").to_numpy()
    over = (rl["load_vs_median"] > 0).to_numpy() if "load_vs_median" in rl else flagged
    colors = np.where(flagged & over, NEG_COLOR, np.where(flagged, "#e0a030", TOTAL_COLOR))
    ax.scatter(rl["capacity"], rl["target_revenue"], c=list(colors), s=36, zorder=3)
    med = float(rl["load"].median())
    xs = np.linspace(0, float(rl["capacity"].max()) * 1.05, 20)
    ax.plot(xs, med * xs, color=GREY, lw=1, label=tr("median load"))
    ax.fill_between(
        xs,
        med * (1 - load_flag_pct) * xs,
        med * (1 + load_flag_pct) * xs,
        color=GREY,
        alpha=0.12,
        label=tr("median ±{pct}").format(pct=f"{load_flag_pct:.0%}"),
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
    ax.set_xlabel(tr("Capacity (full-time rep-months, with ramp-up)"))
    ax.set_ylabel(tr("Annual target (with cushion)"))
    money_axis(ax, unit=currency)
    ax.set_title(title)
    return fig


def rep_month_heatmap(rep_month: pd.DataFrame, *, currency: str = "CNY") -> Figure:
    """Heatmap of each rep's monthly target (``Decomposition.rep_month``: one row per rep,
    one column per month ``YYYY-MM``), reps in region order, to-be-hired reps included."""
    title = tr("Rep x month targets")
    months = [c for c in rep_month.columns if len(str(c)) == 7 and str(c)[4] == "-"]
    if rep_month.empty or not months:
        return empty_chart(title)
    import seaborn as sns

    tab = rep_month.set_index(rep_month["region"] + " " + rep_month["rep_id"])[months]
    div, name, _ = _scale(float(np.nanmax(tab.to_numpy())) if tab.size else 0.0)
    unit = _unit_text(name, currency)
    fig = Figure(
        figsize=(max(8.0, 0.9 * len(months) + 3), max(4.0, 0.28 * len(tab) + 1.5)),
        layout="constrained",
    )
    ax = fig.subplots()
    sns.heatmap(tab / div, cmap="Blues", ax=ax, cbar_kws={"label": unit})
    ax.set_xlabel(_name("month"))
    ax.set_ylabel(_name("rep_id"))
    ax.set_title(tr("{title} ({unit})").format(title=title, unit=unit))
    return fig


def monthly_target_chart(
    targets: pd.DataFrame, *, value: str = "target_revenue_no_cushion", currency: str = "CNY"
) -> Figure:
    """Company and region targets month by month (two panels: the company total, then one line
    per region)."""
    title = tr("Monthly targets: company and regions")
    if targets.empty:
        return empty_chart(title)
    comp = targets.groupby("month")[value].sum().sort_index()
    reg = targets.pivot_table(index="month", columns="region", values=value, aggfunc="sum")
    fig = Figure(figsize=(FIGSIZE[0], FIGSIZE[1] * 1.6), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.bar(comp.index, comp.to_numpy(), width=20, color=TOTAL_COLOR)
    ax1.set_title(tr("Company target by month"))
    for r in reg.columns:
        ax2.plot(reg.index, reg[r].to_numpy(), marker="o", label=str(r))
    ax2.set_title(tr("Region targets by month"))
    ax2.legend(fontsize="small", ncol=min(5, len(reg.columns)))
    for ax in (ax1, ax2):
        ax.set_ylabel(_name("revenue"))
        money_axis(ax, unit=currency)
    ax2.set_xlabel(_name("month"))
    fig.suptitle(title)
    return fig
