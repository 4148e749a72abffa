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

from salesanalysis.report.charts import (
    FIGSIZE,
    empty_chart,
    label,
    money_axis,
    money_scale,
    pct_axis,
    waterfall_bars,
)

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
WINDOW_NAMES = {"month": "当月", "qtd": "季度累计", "ytd": "年度累计", "fy": "全年目标进度"}
STATUS_COLORS = {"ahead": POS_COLOR, "on track": NEUTRAL, "behind": NEG_COLOR, "no target": GREY}


def _txt(s: Any) -> str:
    """Data label safe for matplotlib (no mathtext)."""
    return str(s).replace("$", r"\$")


def _key(row: Any) -> str:
    parts = [str(row[d]) for d in DIMS if d in row and str(row[d]) != "*"]
    return _txt(" / ".join(parts) if parts else "公司")


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
    title = f"{label(measure)}达成率（{WINDOW_NAMES.get(window, window)}）：{label(level)}"
    if review.empty:
        return empty_chart(title)
    d = review[
        (review["level"] == level) & (review["measure"] == measure) & (review["window"] == window)
    ].dropna(subset=["attainment"])
    if d.empty:
        return empty_chart(title, "没有有目标的项 · Nothing with a target to compare")
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
            f"{a:.0%}",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
            color=GREY,
        )
    pct_axis(ax, "x", decimals=0, label="达成率")
    shown = f"（达成率最低的 {len(d)} 个，共 {n_all} 个）" if len(d) < n_all else ""
    ax.set_title(f"{title}{shown}")
    return fig


def pacing_chart(
    curve: pd.DataFrame, *, currency: str = "CNY", title: str | None = None
) -> Figure:
    """Cumulative actual vs the phased target (and the straight line for contrast), the landing
    forecast with its 80% band, and the run rate required to close the year (from
    :func:`salesanalysis.review.pacing_curve`). The months before a mid-year plan (``in_plan``
    False) are shaded grey and labelled 计划前 ("before the plan")."""
    default = "全年进度：实际、分解目标与预计落地"
    if curve.empty:
        return empty_chart(title or default)  # escapes the title itself
    heading = _txt(title) if title else default
    fig, axes = _figure()
    ax = axes[0, 0]
    x = pd.to_datetime(curve["month"])
    ax.plot(x, curve["cum_target"], color=PLAN_COLOR, lw=2.5, label="目标（按季节分解）")
    ax.plot(x, curve["straight_line"], color=GREY, lw=1, ls=":", label="目标（直线，仅作对比）")
    ax.plot(x, curve["cum_actual"], color=CUR_COLOR, lw=2.5, marker="o", ms=3, label="实际累计")
    if "in_plan" in curve.columns and not curve["in_plan"].all():
        # a mid-year plan: the months before it are shown as such and not judged
        before = x[~curve["in_plan"].to_numpy(bool)]
        half = pd.Timedelta(days=15)
        ax.axvspan(
            before.min() - half, before.max() + half, color=GREY, alpha=0.15, lw=0, label="计划前"
        )
    fut = curve["actual"].isna()
    if fut.any() and curve.loc[fut, "landing_mean"].notna().any():
        xf = pd.concat([x[~fut].tail(1), x[fut]])
        sel = curve.loc[xf.index]
        ax.plot(xf, sel["landing_mean"], color=CUR_COLOR, lw=1.5, ls="--", label="预计落地")
        ax.fill_between(
            xf,
            sel["landing_lo_80"],
            sel["landing_hi_80"],
            color=CUR_COLOR,
            alpha=0.15,
            lw=0,
            label="80% 区间",
        )
    if fut.any() and curve.loc[fut, "cum_required"].notna().any():
        xr = pd.concat([x[~fut].tail(1), x[fut]])
        ax.plot(
            xr,
            curve.loc[xr.index, "cum_required"],
            color=NEG_COLOR,
            lw=1.2,
            ls="-.",
            label="达成全年目标所需",
        )
    ax.set_xticks(x)
    ax.set_xticklabels([f"{m.month}月" for m in x])
    ax.set_xlabel(label("month"))
    ax.set_ylabel("累计" + label("revenue"))
    money_axis(ax, unit=currency)
    ax.legend(loc="upper left", fontsize="small")
    ax.set_title(heading)
    return fig


def bridge_waterfall(
    bridge: pd.DataFrame, *, currency: str = "CNY", title: str | None = None
) -> Figure:
    """Waterfall of a variance bridge (:func:`salesanalysis.review.bridge_target` or
    :func:`~salesanalysis.review.bridge_last_year`): start and end totals in blue, increases
    green, decreases red, each bar labelled with its amount."""
    if bridge.empty:
        return empty_chart(title or "收入差异桥")  # escapes the title itself
    heading = _txt(title) if title else "收入差异桥"
    fig, axes = _figure()
    ax = axes[0, 0]
    deltas = bridge.loc[bridge["kind"] == "delta", "amount"].abs()
    div, name = money_scale(
        float(max(deltas.max() if len(deltas) else 0.0, bridge["amount"].abs().max() / 100))
    )
    spans = waterfall_bars(ax, bridge, CUR_COLOR, POS_COLOR, NEG_COLOR)
    bottoms, tops = [lo for lo, _ in spans], [hi for _, hi in spans]
    for i, (r, hi) in enumerate(zip(bridge.itertuples(index=False), tops, strict=True)):
        sign = "+" if r.kind != "total" else ""
        ax.annotate(
            f"{float(r.amount) / div:{sign},.1f}{name}",
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
        note = "（纵轴不从零开始）"
    ax.set_ylabel(label("revenue"))
    money_axis(ax, unit=currency)
    ax.set_title(heading + note)
    return fig


def leaderboard_chart(board: pd.DataFrame, *, max_reps: int = 40) -> Figure:
    """Reps by ramp-adjusted attainment (bars, coloured by status) with the attainment against
    the assigned target as a dot; 100% line dashed."""
    title = "销售代表排行（按在岗月份与爬坡系数调整后的达成率）"
    if board.empty:
        return empty_chart(title)
    d = board.dropna(subset=["ramp_adjusted_attainment"]).head(max_reps).iloc[::-1]
    if d.empty:
        return empty_chart(title, "没有有目标的销售代表 · No rep with a target")
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
    pct_axis(ax, "x", decimals=0, label="年度累计达成率")
    handles = [
        Patch(color=c, label=lbl)
        for lbl, c in (("领先", POS_COLOR), ("正常", NEUTRAL), ("落后", NEG_COLOR))
    ]
    handles.append(
        Line2D([], [], marker="o", ls="", color="black", ms=3, label="对分配目标的达成率")
    )
    ax.legend(handles=handles, loc="lower right", fontsize="small")
    ax.set_title(title)
    return fig


def plan_vs_revised_chart(
    revised: pd.DataFrame, *, by: str = "month", currency: str = "CNY", measure: str = "revenue"
) -> Figure:
    """Original plan beside the revised targets for the open months (after the report
    period), by month or by a dimension (``by="region"`` ...)."""
    title = f"原计划与调整后目标（剩余月份，按{label(by)}）"
    d = revised[revised["status"] == "open"] if len(revised) else revised
    if d.empty:
        return empty_chart(title, "没有剩余月份 · No month left in the year")
    g = d.groupby(by, sort=True)[[f"plan_{measure}", f"revised_{measure}"]].sum()
    fig, axes = _figure()
    ax = axes[0, 0]
    x = np.arange(len(g))
    w = 0.4
    ax.bar(x - w / 2, g[f"plan_{measure}"].to_numpy(), w, color=PLAN_COLOR, label="原计划")
    ax.bar(x + w / 2, g[f"revised_{measure}"].to_numpy(), w, color=CUR_COLOR, label="调整后")
    ax.set_xticks(x)
    if by == "month":
        ax.set_xticklabels([f"{pd.Timestamp(m).year}年{pd.Timestamp(m).month}月" for m in g.index])
    else:
        ax.set_xticklabels([_txt(v) for v in g.index], rotation=20, ha="right")
    ax.set_xlabel(label(by))
    ax.set_ylabel(f"剩余月份{label(measure)}目标")
    if measure.startswith("revenue"):
        money_axis(ax, unit=currency)
    ax.legend(fontsize="small")
    ax.set_title(title)
    return fig
