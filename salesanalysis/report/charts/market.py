"""Charts for the market analysis (notebook 01), one function per analysis in
:mod:`salesanalysis.market.analysis`.

Every function takes the frame that the matching analysis function returns and gives back a
:class:`matplotlib.figure.Figure` (made without pyplot, so a notebook shows it once, as the
cell's result, and nothing piles up in pyplot's state). A frame with nothing to draw gives
:func:`~salesanalysis.report.charts.empty_chart` (the title and a sentence), never an error.
Titles, axes and legends are written in English and shown in the report's language through the
message catalogue (domain ``market``), with units; call :func:`salesanalysis.report.charts.setup`
first so that the CJK font is used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from salesanalysis.i18n import tr
from salesanalysis.market import dimension_name
from salesanalysis.report.charts import (
    FIGSIZE,
    SHORT_MONTHS,
    count_axis,
    empty_chart,
    money_axis,
    pct_axis,
)
from salesanalysis.report.formatting import money, number, pct

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
    return [_month_name(m.month) for m in pd.to_datetime(months)]


def _month_name(month: int) -> str:
    return tr(SHORT_MONTHS[month - 1])


def _body(df: pd.DataFrame, by: str) -> pd.DataFrame:
    return df.loc[df[by] != TOTAL] if by in df.columns else df.iloc[0:0]


def _total(df: pd.DataFrame, by: str) -> pd.Series | None:
    """The summed-over row (``by == "*"``), None when the frame has none."""
    if by not in df.columns:
        return None
    rows = df.loc[df[by] == TOTAL]
    return rows.iloc[0] if len(rows) else None


def _window_name(df: pd.DataFrame) -> str:
    if "window" not in df.columns or df.empty or df["window"].iloc[0] == "l12m":
        return tr("Last 12 months")
    return tr("Year to date")


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
    title = tr("Monthly revenue: {year} against the same months a year earlier").format(
        year=p.year
    )
    if cur.isna().all() and prior.isna().all():
        return empty_chart(title)
    fig, axes = _figure()
    ax = axes[0, 0]
    x = np.arange(len(months))
    ax.bar(
        x - 0.2,
        prior.to_numpy(),
        width=0.4,
        color=PRIOR_COLOR,
        label=tr("Year {year}").format(year=p.year - 1),
    )
    ax.bar(
        x + 0.2,
        cur.to_numpy(),
        width=0.4,
        color=CUR_COLOR,
        label=tr("Year {year}").format(year=p.year),
    )
    ax.set_xticks(x, _month_labels(pd.Series(months)))
    ax.set_title(title)
    ax.set_ylabel(tr("Revenue"))
    ax.set_xlabel(tr("Month"))
    money_axis(ax, unit=currency)
    ax.legend(loc="upper left")
    return fig


def trend_chart(components: pd.DataFrame, *, currency: str = "CNY") -> Figure:
    """Monthly revenue with its STL trend and the seasonally adjusted series
    (``TrendSeasonality.components``)."""
    title = tr("Total revenue: trend and seasonally adjusted")
    if components.empty:
        return empty_chart(title)
    fig, axes = _figure()
    ax = axes[0, 0]
    ax.plot(
        components["month"],
        components["revenue"],
        color=PRIOR_COLOR,
        lw=1.5,
        label=tr("Actual revenue"),
    )
    ax.plot(
        components["month"],
        components["seasonally_adjusted"],
        color=GREY,
        lw=1,
        ls="--",
        label=tr("Seasonally adjusted"),
    )
    ax.plot(components["month"], components["trend"], color=CUR_COLOR, lw=2.5, label=tr("Trend"))
    ax.set_title(title)
    ax.set_ylabel(tr("Monthly revenue"))
    ax.set_xlabel(tr("Month"))
    ax.set_ylim(bottom=0)
    money_axis(ax, unit=currency)
    ax.legend(loc="upper left")
    return fig


def seasonal_index_chart(indices: pd.DataFrame) -> Figure:
    """Seasonal index by calendar month (100% = trend level; ``TrendSeasonality.indices``)."""
    title = tr("Seasonal index: each month's revenue against the trend (100% = trend)")
    if indices.empty or not np.isfinite(indices["seasonal_index"].to_numpy(float)).any():
        return empty_chart(title)
    fig, axes = _figure(figsize=(9.0, 3.8))
    ax = axes[0, 0]
    idx = indices["seasonal_index"].to_numpy()
    colors = [POS_COLOR if v >= 1 else NEG_COLOR for v in idx]
    ax.bar(indices["calendar_month"], idx - 1, bottom=1, color=colors)
    ax.axhline(1, color=GREY, lw=1)
    ax.set_xticks(indices["calendar_month"], [_month_name(m) for m in indices["calendar_month"]])
    lo, hi = float(np.nanmin(idx)), float(np.nanmax(idx))
    pad = 0.1 * max(hi - lo, 0.05)
    ax.set_ylim(min(lo, 1) - pad, max(hi, 1) + pad)
    ax.set_title(title)
    ax.set_xlabel(tr("Month"))
    pct_axis(ax, label=tr("Seasonal index"))
    return fig


# ----------------------------------------------------------------------------- mix


def mix_chart(mix: pd.DataFrame, by: str, *, currency: str = "CNY") -> Figure:
    """Revenue by ``by`` (current and prior window, with share) and YoY growth
    (``market.mix_growth``)."""
    body = _body(mix, by).iloc[::-1]
    total = _total(mix, by)
    win = _window_name(mix)
    title = tr("Revenue by {dimension} ({window})").format(
        dimension=dimension_name(by), window=win
    )
    if body.empty:
        return empty_chart(title)
    fig, axes = _figure(
        1, 2, figsize=(10.0, 0.5 * len(body) + 2.2), gridspec_kw={"width_ratios": [3, 2]}
    )
    ax, ax2 = axes[0]
    y = np.arange(len(body))
    ax.barh(
        y + 0.2, body["prior"], height=0.4, color=PRIOR_COLOR, label=tr("Same months last year")
    )
    bars = ax.barh(y - 0.2, body["revenue"], height=0.4, color=CUR_COLOR, label=win)
    _value_labels(ax, bars, [tr("share {share}").format(share=pct(s)) for s in body["share"]])
    ax.set_yticks(y, body[by].tolist())
    ax.set_xlabel(tr("Revenue"))
    money_axis(ax, "x", unit=currency)
    ax.margins(x=0.18)
    ax.legend(loc="lower right")
    ax.set_title(title)
    g = body["growth"].to_numpy(dtype=float)
    ax2.barh(
        y, np.nan_to_num(g), color=[POS_COLOR if v >= 0 else NEG_COLOR for v in np.nan_to_num(g)]
    )
    if total is not None and np.isfinite(total["growth"]):
        ax2.axvline(total["growth"], color=GREY, ls="--", lw=1)
        ax2.annotate(
            tr("company {growth}").format(growth=pct(total["growth"], signed=True)),
            (total["growth"], len(body) - 0.5),
            xytext=(3, 0),
            textcoords="offset points",
            fontsize="small",
            color=GREY,
        )
    ax2.axvline(0, color="black", lw=0.8)
    ax2.set_yticks(y, [""] * len(y))
    ax2.set_title(tr("Growth year on year"))
    pct_axis(ax2, "x", label=tr("Growth year on year"))
    return fig


# ----------------------------------------------------------------------------- market share


def market_share_chart(share: pd.DataFrame, by: str, *, currency: str = "CNY") -> Figure:
    """Market size (bars) and the company's share this window vs a year earlier
    (``market.market_share``)."""
    body = _body(share, by)
    total = _total(share, by)
    win = _window_name(share)
    title = tr("Market size and company revenue by {dimension} ({window})").format(
        dimension=dimension_name(by), window=win
    )
    if body.empty:
        return empty_chart(title)
    fig, axes = _figure(1, 2, figsize=(10.0, 4.2))
    ax, ax2 = axes[0]
    x = np.arange(len(body))
    ax.bar(x, body["market_size"], color=PRIOR_COLOR, label=tr("Market size"))
    ax.bar(x, body["revenue"], color=CUR_COLOR, width=0.5, label=tr("Company revenue"))
    ax.set_xticks(x, body[by].tolist(), rotation=20 if len(body) > 6 else 0)
    ax.set_ylabel(tr("Amount"))
    money_axis(ax, unit=currency)
    ax.legend(loc="upper right")
    ax.set_ylim(0, 1.1 * float(np.nanmax(body["market_size"].to_numpy(float), initial=1.0)))
    ax.set_title(title)
    ax2.bar(
        x - 0.2,
        body["prior_share"],
        width=0.4,
        color=PRIOR_COLOR,
        label=tr("Same months last year"),
    )
    ax2.bar(x + 0.2, body["share"], width=0.4, color=CUR_COLOR, label=win)
    if total is not None and np.isfinite(total["share"]):
        ax2.axhline(
            total["share"],
            color=GREY,
            ls="--",
            lw=1,
            label=tr("Company as a whole ({window}) {share}").format(
                window=win, share=pct(total["share"])
            ),
        )
    top = np.nanmax(
        np.r_[body["share"].to_numpy(float), body["prior_share"].to_numpy(float), [0.01]]
    )
    ax2.set_ylim(0, 1.3 * top)
    ax2.set_xticks(x, body[by].tolist(), rotation=20 if len(body) > 6 else 0)
    ax2.set_title(tr("Market share"))
    pct_axis(ax2, label=tr("Market share"))
    ax2.legend(loc="upper left", ncols=3, fontsize="small")
    return fig


def market_share_trend_chart(trend: pd.DataFrame, by: str) -> Figure:
    """Rolling 12-month market share by ``by`` over time (``market.market_share_trend``)."""
    title = tr("Market share over time (rolling 12 months, by {dimension})").format(
        dimension=dimension_name(by)
    )
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
        ax.plot(
            tot["month"],
            tot["share"],
            color="black",
            lw=2.5,
            ls="--",
            label=tr("Company as a whole"),
        )
    ax.set_title(title)
    ax.set_xlabel(tr("Month"))
    pct_axis(ax, label=tr("Market share"))
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


# ----------------------------------------------------------------------------- customers


def customer_base_chart(base: pd.DataFrame, *, currency: str = "CNY") -> Figure:
    """Customer flows (new, returning, lost) with the 12-month base, and revenue per customer
    (``market.customer_base``)."""
    b = base.dropna(subset=["new"]) if "new" in base.columns else base.iloc[0:0]
    title = tr("Customers won and lost: new, returning and lost (monthly)")
    if b.empty:
        return empty_chart(title, tr("The flows start once the data hold 12 months."))
    fig, axes = _figure(2, 1, figsize=(9.0, 7.0), sharex=True)
    ax, ax2 = axes[:, 0]
    width = 20  # days
    ax.bar(b["month"], b["new"], width=width, color=POS_COLOR, label=tr("New customers"))
    ax.bar(
        b["month"],
        b["returning"],
        width=width,
        bottom=b["new"],
        color="#8cc084",
        label=tr("Returning customers"),
    )
    ax.bar(b["month"], -b["lost"], width=width, color=NEG_COLOR, label=tr("Lost customers"))
    ax.axhline(0, color="black", lw=0.8)
    top = float(np.nanmax((b["new"] + b["returning"]).to_numpy(dtype=float), initial=1.0))
    bottom = float(np.nanmax(b["lost"].to_numpy(dtype=float), initial=1.0))
    ax.set_ylim(-1.1 * bottom, 1.45 * top)  # room for the legend
    ax.set_title(title)
    count_axis(ax, label=tr("Customers"))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{abs(v):,.0f}"))
    axr = ax.twinx()
    base_label = tr("Active customers, last 12 months")
    axr.plot(b["month"], b["active_l12m"], color=CUR_COLOR, lw=2, label=base_label)
    axr.grid(False)
    count_axis(axr, label=base_label)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = axr.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", ncols=4, fontsize="small")
    ax2.plot(b["month"], b["revenue_per_active_l12m"], color=CUR_COLOR, lw=2)
    ax2.set_title(
        tr("Revenue per customer (last 12 months' revenue ÷ active customers, last 12 months)")
    )
    ax2.set_ylabel(tr("Revenue per customer"))
    ax2.set_xlabel(tr("Month"))
    money_axis(ax2, unit=currency)
    return fig


def pareto_chart(customer_revenue: pd.Series, *, top_pct: float = 0.2) -> Figure:
    """Pareto curve: cumulative share of revenue against the share of customers, largest
    first (``market.customer_revenue``)."""
    s = customer_revenue.to_numpy(dtype=float)
    n = len(s)
    if n == 0 or not s.sum() > 0:
        return empty_chart(
            tr("Customer concentration: Pareto curve (last 12 months)"),
            tr("No customer with positive revenue in the last 12 months."),
        )
    fig, axes = _figure(figsize=(7.0, 5.0))
    ax = axes[0, 0]
    x = np.concatenate([[0.0], np.arange(1, n + 1) / n])
    y = np.concatenate([[0.0], np.cumsum(s) / s.sum()])
    ax.plot(x, y, color=CUR_COLOR, lw=2.5, label=tr("Cumulative share of revenue"))
    ax.plot([0, 1], [0, 1], color=GREY, ls=":", lw=1, label=tr("All customers equal"))
    k = max(1, int(np.ceil(top_pct * n - 1e-9)))
    ax.axvline(k / n, color=NEG_COLOR, ls="--", lw=1)
    ax.annotate(
        tr("The top {top} of customers ({n}) make {share} of revenue").format(
            top=pct(top_pct, 0), n=number(k), share=pct(y[k])
        ),
        (k / n, y[k]),
        xytext=(8, -18),
        textcoords="offset points",
        fontsize="small",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(
        tr(
            "Customer concentration: Pareto curve (last 12 months, {n} customers with revenue)"
        ).format(n=number(n))
    )
    pct_axis(ax, "x")
    ax.set_xlabel(tr("Share of customers, largest first (%)"))
    pct_axis(ax, label=tr("Cumulative share of revenue"))
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
    title = tr("Revenue change year on year by {dimension}: price and volume").format(
        dimension=dimension_name(by)
    )
    if body.empty or total is None:
        return empty_chart(title)
    fig, axes = _figure(1, 2, figsize=(11.0, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    ax, ax2 = axes[0]
    y = np.arange(len(body))[::-1]
    ax.barh(y + 0.2, body["price_effect"], height=0.4, color="#e0a030", label=tr("Price effect"))
    ax.barh(y - 0.2, body["volume_effect"], height=0.4, color=CUR_COLOR, label=tr("Volume effect"))
    ax.scatter(
        body["change"], y, color="black", marker="D", s=25, zorder=3, label=tr("Total change")
    )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, body[by].tolist())
    ax.set_xlabel(tr("Revenue change"))
    money_axis(ax, "x", unit=currency)
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title(title)
    # bridge: last year -> price -> volume -> this year
    steps = [
        (tr("Same months last year"), total["revenue_prior"]),
        (tr("Price effect"), total["price_effect"]),
        (tr("Volume effect"), total["volume_effect"]),
        (tr("Last 12 months"), total["revenue"]),
    ]
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
            money(v, "", signed=0 < i < len(steps) - 1),
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
        tr("Revenue bridge: a year earlier → last 12 months (the axis does not start at 0)")
        if ax2.get_ylim()[0] > 0
        else tr("Revenue bridge: a year earlier → last 12 months")
    )
    ax2.set_ylabel(tr("Revenue"))
    money_axis(ax2, unit=currency)
    return fig
