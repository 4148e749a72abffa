"""Charts for the market analysis (notebook 01), one function per analysis in
:mod:`salesanalysis.market.analysis`.

Every function takes the frame that the matching analysis function returns and gives back a
:class:`matplotlib.figure.Figure` (made without pyplot, so a notebook shows it once, as the
cell's result, and nothing piles up in pyplot's state). A frame with nothing to draw gives
:func:`~salesanalysis.report.charts.empty_chart` (the title and a sentence), never an error.
Titles and axes are in Chinese with units; call :func:`salesanalysis.report.charts.setup` first
so that the CJK font is used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from salesanalysis.report.charts import (
    FIGSIZE,
    count_axis,
    empty_chart,
    label,
    money_axis,
    money_scale,
    pct_axis,
)
from salesanalysis.report.formatting import money

__all__ = [
    "revenue_by_month_chart",
    "trend_chart",
    "seasonal_index_chart",
    "mix_chart",
    "market_share_chart",
    "market_share_trend_chart",
    "customer_base_chart",
    "pareto_chart",
    "price_volume_chart",
]

TOTAL = "*"
CUR_COLOR = "#1f5f99"
PRIOR_COLOR = "#a9c4de"
POS_COLOR = "#3a8a4f"
NEG_COLOR = "#c0504d"
GREY = "#7f7f7f"


def _figure(
    nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float] = FIGSIZE, **kw
) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _month_labels(months: pd.Series) -> list[str]:
    return [f"{m.month}月" for m in pd.to_datetime(months)]


def _body(df: pd.DataFrame, by: str) -> pd.DataFrame:
    return df.loc[df[by] != TOTAL] if by in df.columns else df.iloc[0:0]


def _total(df: pd.DataFrame, by: str) -> pd.Series | None:
    """The summed-over row (``by == "*"``), None when the frame has none."""
    if by not in df.columns:
        return None
    rows = df.loc[df[by] == TOTAL]
    return rows.iloc[0] if len(rows) else None


def _window_name(df: pd.DataFrame) -> str:
    if "window" not in df.columns or df.empty:
        return "近12个月"
    return "近12个月" if df["window"].iloc[0] == "l12m" else "年初至今"


def _value_labels(ax, bars, texts: list[str]) -> None:
    for bar, text in zip(bars, texts, strict=False):
        ax.annotate(
            text,
            (bar.get_x() + bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            ha="left",
            fontsize="small",
            color=GREY,
        )


# ----------------------------------------------------------------------------- KPIs / trend


def revenue_by_month_chart(
    monthly: pd.Series, period: str | pd.Period, *, currency: str = "CNY"
) -> Figure:
    """Monthly revenue of the report year beside the same months a year earlier.

    Args:
        monthly: total revenue by month (``market.monthly_revenue``), up to ``period``.
    """
    p = pd.Period(period, freq="M")
    months = pd.date_range(pd.Timestamp(year=p.year, month=1, day=1), p.to_timestamp(), freq="MS")
    cur = monthly.reindex(months)
    prior = monthly.reindex(months - pd.DateOffset(years=1))
    title = f"月度收入：{p.year}年与上年同期对比"
    if cur.isna().all() and prior.isna().all():
        return empty_chart(title)
    fig, axes = _figure()
    ax = axes[0, 0]
    x = np.arange(len(months))
    ax.bar(x - 0.2, prior.to_numpy(), width=0.4, color=PRIOR_COLOR, label=f"{p.year - 1}年")
    ax.bar(x + 0.2, cur.to_numpy(), width=0.4, color=CUR_COLOR, label=f"{p.year}年")
    ax.set_xticks(x, _month_labels(pd.Series(months)))
    ax.set_title(title)
    ax.set_ylabel("收入")
    ax.set_xlabel("月份")
    money_axis(ax, unit=currency)
    ax.legend(loc="upper left")
    return fig


def trend_chart(components: pd.DataFrame, *, currency: str = "CNY") -> Figure:
    """Monthly revenue with its STL trend and the seasonally adjusted series
    (``TrendSeasonality.components``)."""
    title = "总收入：趋势与季节调整（STL 分解）"
    if components.empty:
        return empty_chart(title)
    fig, axes = _figure()
    ax = axes[0, 0]
    ax.plot(
        components["month"], components["revenue"], color=PRIOR_COLOR, lw=1.5, label="实际收入"
    )
    ax.plot(
        components["month"],
        components["seasonally_adjusted"],
        color=GREY,
        lw=1,
        ls="--",
        label="季节调整后",
    )
    ax.plot(components["month"], components["trend"], color=CUR_COLOR, lw=2.5, label="趋势（STL）")
    ax.set_title(title)
    ax.set_ylabel("月收入")
    ax.set_xlabel("月份")
    ax.set_ylim(bottom=0)
    money_axis(ax, unit=currency)
    ax.legend(loc="upper left")
    return fig


def seasonal_index_chart(indices: pd.DataFrame) -> Figure:
    """Seasonal index by calendar month (100% = trend level; ``TrendSeasonality.indices``)."""
    title = "季节指数：各月收入相对趋势水平（100% = 趋势）"
    if indices.empty or not np.isfinite(indices["seasonal_index"].to_numpy(float)).any():
        return empty_chart(title)
    fig, axes = _figure(figsize=(9.0, 3.8))
    ax = axes[0, 0]
    idx = indices["seasonal_index"].to_numpy()
    colors = [POS_COLOR if v >= 1 else NEG_COLOR for v in idx]
    ax.bar(indices["calendar_month"], idx - 1, bottom=1, color=colors)
    ax.axhline(1, color=GREY, lw=1)
    ax.set_xticks(indices["calendar_month"], [f"{m}月" for m in indices["calendar_month"]])
    lo, hi = float(np.nanmin(idx)), float(np.nanmax(idx))
    pad = 0.1 * max(hi - lo, 0.05)
    ax.set_ylim(min(lo, 1) - pad, max(hi, 1) + pad)
    ax.set_title(title)
    ax.set_xlabel("月份")
    pct_axis(ax, label="季节指数")
    return fig


# ----------------------------------------------------------------------------- mix


def mix_chart(mix: pd.DataFrame, by: str, *, currency: str = "CNY") -> Figure:
    """Revenue by ``by`` (current and prior window, with share) and YoY growth
    (``market.mix_growth``)."""
    body = _body(mix, by).iloc[::-1]
    total = _total(mix, by)
    win = _window_name(mix)
    if body.empty:
        return empty_chart(f"按{label(by)}的收入结构（{win}）")
    fig, axes = _figure(
        1, 2, figsize=(10.0, 0.5 * len(body) + 2.2), gridspec_kw={"width_ratios": [3, 2]}
    )
    ax, ax2 = axes[0]
    y = np.arange(len(body))
    ax.barh(y + 0.2, body["prior"], height=0.4, color=PRIOR_COLOR, label="上年同期")
    bars = ax.barh(y - 0.2, body["revenue"], height=0.4, color=CUR_COLOR, label=win)
    _value_labels(ax, bars, [f"占比 {s:.1%}" for s in body["share"]])
    ax.set_yticks(y, body[by].tolist())
    ax.set_xlabel("收入")
    money_axis(ax, "x", unit=currency)
    ax.margins(x=0.18)
    ax.legend(loc="lower right")
    ax.set_title(f"按{label(by)}的收入结构（{win}）")
    g = body["growth"].to_numpy(dtype=float)
    ax2.barh(
        y, np.nan_to_num(g), color=[POS_COLOR if v >= 0 else NEG_COLOR for v in np.nan_to_num(g)]
    )
    if total is not None and np.isfinite(total["growth"]):
        ax2.axvline(total["growth"], color=GREY, ls="--", lw=1)
        ax2.annotate(
            f"整体 {total['growth']:+.1%}",
            (total["growth"], len(body) - 0.5),
            xytext=(3, 0),
            textcoords="offset points",
            fontsize="small",
            color=GREY,
        )
    ax2.axvline(0, color="black", lw=0.8)
    ax2.set_yticks(y, [""] * len(y))
    ax2.set_title("同比增长")
    pct_axis(ax2, "x", label="同比增长")
    return fig


# ----------------------------------------------------------------------------- market share


def market_share_chart(share: pd.DataFrame, by: str, *, currency: str = "CNY") -> Figure:
    """Market size (bars) and the company's share this window vs a year earlier
    (``market.market_share``)."""
    body = _body(share, by)
    total = _total(share, by)
    win = _window_name(share)
    if body.empty:
        return empty_chart(f"按{label(by)}的市场规模与本公司收入（{win}）")
    fig, axes = _figure(1, 2, figsize=(10.0, 4.2))
    ax, ax2 = axes[0]
    x = np.arange(len(body))
    ax.bar(x, body["market_size"], color=PRIOR_COLOR, label="市场规模")
    ax.bar(x, body["revenue"], color=CUR_COLOR, width=0.5, label="本公司收入")
    ax.set_xticks(x, body[by].tolist(), rotation=20 if len(body) > 6 else 0)
    ax.set_ylabel("金额")
    money_axis(ax, unit=currency)
    ax.legend(loc="upper right")
    ax.set_ylim(0, 1.1 * float(np.nanmax(body["market_size"].to_numpy(float), initial=1.0)))
    ax.set_title(f"按{label(by)}的市场规模与本公司收入（{win}）")
    ax2.bar(x - 0.2, body["prior_share"], width=0.4, color=PRIOR_COLOR, label="上年同期")
    ax2.bar(x + 0.2, body["share"], width=0.4, color=CUR_COLOR, label=win)
    if total is not None and np.isfinite(total["share"]):
        ax2.axhline(
            total["share"], color=GREY, ls="--", lw=1, label=f"整体（{win}）{total['share']:.1%}"
        )
    top = np.nanmax(
        np.r_[body["share"].to_numpy(float), body["prior_share"].to_numpy(float), [0.01]]
    )
    ax2.set_ylim(0, 1.3 * top)
    ax2.set_xticks(x, body[by].tolist(), rotation=20 if len(body) > 6 else 0)
    ax2.set_title("市场份额")
    pct_axis(ax2, label="市场份额")
    ax2.legend(loc="upper left", ncols=3, fontsize="small")
    return fig


def market_share_trend_chart(trend: pd.DataFrame, by: str) -> Figure:
    """Rolling 12-month market share by ``by`` over time (``market.market_share_trend``)."""
    title = f"市场份额走势（滚动12个月，按{label(by)}）"
    if trend.empty or not trend["share"].notna().any():
        return empty_chart(title)
    fig, axes = _figure()
    ax = axes[0, 0]
    for key, g in trend.groupby(by, sort=True):
        if key == TOTAL:
            continue
        ax.plot(g["month"], g["share"], lw=1.5, label=str(key))
    tot = trend.loc[trend[by] == TOTAL]
    if len(tot):
        ax.plot(tot["month"], tot["share"], color="black", lw=2.5, ls="--", label="整体")
    ax.set_title(title)
    ax.set_xlabel("月份")
    pct_axis(ax, label="市场份额")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


# ----------------------------------------------------------------------------- customers


def customer_base_chart(base: pd.DataFrame, *, currency: str = "CNY") -> Figure:
    """Customer flows (new, returning, lost) with the 12-month base, and revenue per customer
    (``market.customer_base``)."""
    b = base.dropna(subset=["new"]) if "new" in base.columns else base.iloc[0:0]
    if b.empty:
        return empty_chart(
            "客户增减：新增、回流与流失（每月）",
            "客户流动从有12个月数据起计算 · The flows start once the data hold 12 months",
        )
    fig, axes = _figure(2, 1, figsize=(9.0, 7.0), sharex=True)
    ax, ax2 = axes[:, 0]
    width = 20  # days
    ax.bar(b["month"], b["new"], width=width, color=POS_COLOR, label="新客户")
    ax.bar(
        b["month"], b["returning"], width=width, bottom=b["new"], color="#8cc084", label="回流客户"
    )
    ax.bar(b["month"], -b["lost"], width=width, color=NEG_COLOR, label="流失客户")
    ax.axhline(0, color="black", lw=0.8)
    top = float(np.nanmax((b["new"] + b["returning"]).to_numpy(dtype=float), initial=1.0))
    bottom = float(np.nanmax(b["lost"].to_numpy(dtype=float), initial=1.0))
    ax.set_ylim(-1.1 * bottom, 1.45 * top)  # room for the legend
    ax.set_title("客户增减：新增、回流与流失（每月）")
    count_axis(ax, unit="户", label="客户数")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):,.0f}"))
    axr = ax.twinx()
    axr.plot(b["month"], b["active_l12m"], color=CUR_COLOR, lw=2, label="近12个月活跃客户")
    axr.grid(False)
    count_axis(axr, unit="户", label="近12个月活跃客户")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = axr.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", ncols=4, fontsize="small")
    ax2.plot(b["month"], b["revenue_per_active_l12m"], color=CUR_COLOR, lw=2)
    ax2.set_title("客均收入（近12个月收入 ÷ 近12个月活跃客户）")
    ax2.set_ylabel("客均收入")
    ax2.set_xlabel("月份")
    money_axis(ax2, unit=f"{currency}/户")
    return fig


def pareto_chart(customer_revenue: pd.Series, *, top_pct: float = 0.2) -> Figure:
    """Pareto curve: cumulative share of revenue against the share of customers, largest
    first (``market.customer_revenue``)."""
    s = customer_revenue.to_numpy(dtype=float)
    n = len(s)
    if n == 0 or not s.sum() > 0:
        return empty_chart(
            "客户集中度：帕累托曲线（近12个月）",
            "近12个月没有收入为正的客户 · No customer with positive revenue in the last 12 months",
        )
    fig, axes = _figure(figsize=(7.0, 5.0))
    ax = axes[0, 0]
    x = np.concatenate([[0.0], np.arange(1, n + 1) / n])
    y = np.concatenate([[0.0], np.cumsum(s) / s.sum()])
    ax.plot(x, y, color=CUR_COLOR, lw=2.5, label="累计收入占比")
    ax.plot([0, 1], [0, 1], color=GREY, ls=":", lw=1, label="完全均匀")
    k = max(1, int(np.ceil(top_pct * n - 1e-9)))
    ax.axvline(k / n, color=NEG_COLOR, ls="--", lw=1)
    ax.annotate(
        f"前 {top_pct:.0%} 客户（{k:,} 户）贡献 {y[k]:.1%} 收入",
        (k / n, y[k]),
        xytext=(8, -18),
        textcoords="offset points",
        fontsize="small",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"客户集中度：帕累托曲线（近12个月，{n:,} 户有收入客户）")
    pct_axis(ax, "x")
    ax.set_xlabel("客户占比（按收入从高到低，%）")
    pct_axis(ax, label="累计收入占比")
    ax.legend(loc="lower right")
    return fig


# ----------------------------------------------------------------------------- price / volume


def price_volume_chart(
    pv: pd.DataFrame, *, by: str = "product_line", currency: str = "CNY"
) -> Figure:
    """Revenue change YoY per product line split into price and volume effects, and the
    bridge from last year's revenue to this year's (``market.price_volume``)."""
    body = _body(pv, by)
    total = _total(pv, by)
    if body.empty or total is None:
        return empty_chart(f"按{label(by)}的收入同比变化：价格与销量")
    fig, axes = _figure(1, 2, figsize=(11.0, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    ax, ax2 = axes[0]
    y = np.arange(len(body))[::-1]
    ax.barh(y + 0.2, body["price_effect"], height=0.4, color="#e0a030", label="价格效应")
    ax.barh(y - 0.2, body["volume_effect"], height=0.4, color=CUR_COLOR, label="销量效应")
    ax.scatter(body["change"], y, color="black", marker="D", s=25, zorder=3, label="收入变化合计")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, body[by].tolist())
    ax.set_xlabel("收入变化")
    money_axis(ax, "x", unit=currency)
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(f"按{label(by)}的收入同比变化：价格与销量")
    # bridge: last year -> price -> volume -> this year
    steps = [
        ("上年同期", total["revenue_prior"]),
        ("价格效应", total["price_effect"]),
        ("销量效应", total["volume_effect"]),
        ("本期", total["revenue"]),
    ]
    div, _name = money_scale(max(abs(total["revenue"]), abs(total["revenue_prior"])))
    run = 0.0
    for i, (_lab, v) in enumerate(steps):
        if i in (0, len(steps) - 1):
            bottom, height, color = 0.0, v, CUR_COLOR if i else PRIOR_COLOR
            run = v
        else:
            bottom, height = run, v
            color = POS_COLOR if v >= 0 else NEG_COLOR
            run += v
        ax2.bar(i, height, bottom=bottom, color=color)
        ax2.annotate(
            money(v, "", scale="auto", signed=0 < i < len(steps) - 1),
            (i, max(bottom, bottom + height)),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            fontsize="small",
        )
    lo = min(total["revenue_prior"], total["revenue"]) + min(
        0.0, total["price_effect"], total["volume_effect"]
    )
    hi = max(total["revenue_prior"], total["revenue"]) + max(
        total["price_effect"], total["volume_effect"], 0.0
    )
    span = max(hi - lo, 1.0)
    ax2.set_ylim(max(0.0, lo - 0.6 * span), hi + 0.25 * span)
    ax2.set_xticks(range(len(steps)), [s[0] for s in steps])
    ax2.set_title(
        "收入桥：上年同期 → 本期（纵轴未从0开始）"
        if ax2.get_ylim()[0] > 0
        else "收入桥：上年同期 → 本期"
    )
    ax2.set_ylabel("收入")
    money_axis(ax2, unit=currency, scale=div)
    return fig
