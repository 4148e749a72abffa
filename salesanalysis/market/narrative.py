"""Step 01's tables and sentences for business readers: KPI table and one description per
analysis (figures formatted by :mod:`salesanalysis.report.formatting`).

Every sentence goes through the message catalogue (:func:`salesanalysis.i18n.tr`, domain
``market``): English in the source, the report's language on the page.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from salesanalysis import i18n
from salesanalysis.i18n import N_, tr
from salesanalysis.market.analysis import TOTAL, WINDOWS, TrendSeasonality, Window
from salesanalysis.report.formatting import md, money, number, pct

COLUMN_LABELS: dict[str, str] = {
    "window": N_("Window"),
    "months": N_("Months"),
    "month": N_("Month"),
    "region": N_("Region"),
    "product_line": N_("Product line"),
    "customer_type": N_("Customer type"),
    "revenue": N_("Revenue"),
    "revenue_prior": N_("Revenue prior year"),
    "revenue_yoy": N_("Revenue YoY"),
    "orders": N_("Orders"),
    "orders_yoy": N_("Orders YoY"),
    "customers": N_("Customers"),
    "customers_prior": N_("Customers prior year"),
    "customers_yoy": N_("Customers YoY"),
    "prior": N_("Revenue prior year"),
    "share": N_("Share"),
    "prior_share": N_("Share prior year"),
    "share_change": N_("Share change"),
    "market_share": N_("Market share"),
    "market_share_change": N_("Market share change"),
    "growth": N_("Growth YoY"),
    "contribution": N_("Contribution"),
    "market_size": N_("Market size"),
    "prior_market_size": N_("Market size prior year"),
    "prior_revenue": N_("Revenue prior year"),
    "market_growth": N_("Market growth"),
    "revenue_growth": N_("Revenue growth"),
    "coverage": N_("Market data coverage"),
    "active": N_("Active in month"),
    "active_l12m": N_("Active, 12 months"),
    "new": N_("New customers"),
    "returning": N_("Returning customers"),
    "lost": N_("Lost customers"),
    "revenue_per_active": N_("Revenue per active"),
    "revenue_per_active_l12m": N_("Revenue per customer, 12 months"),
    "customer_pct": N_("Top customers"),
    "revenue_share": N_("Share of revenue"),
    "change": N_("Change"),
    "quantity_prior": N_("Quantity prior year"),
    "quantity": N_("Quantity"),
    "price_prior": N_("Avg price prior year"),
    "price": N_("Avg price"),
    "price_change": N_("Price change"),
    "quantity_change": N_("Quantity change"),
    "price_effect": N_("Price effect"),
    "volume_effect": N_("Volume effect"),
}
"""English column headers for the notebook's tables; :func:`column_labels` gives them in the
report's language (``formatting.table(labels=...)``)."""

_WINDOW_LABELS = {
    "month": N_("Month"),
    "ytd": N_("Year to date"),
    "l12m": N_("Last 12 months"),
}
_DIMENSIONS = {
    "region": N_("region"),
    "product_line": N_("product line"),
    "customer_type": N_("customer type"),
}
_MONTHS = [
    N_("January"),
    N_("February"),
    N_("March"),
    N_("April"),
    N_("May"),
    N_("June"),
    N_("July"),
    N_("August"),
    N_("September"),
    N_("October"),
    N_("November"),
    N_("December"),
]


def column_labels() -> dict[str, str]:
    """The tables' column headers in the report's language."""
    return {k: tr(v) for k, v in COLUMN_LABELS.items()}


def dimension_name(by: str) -> str:
    """A breakdown in words, lower case (``product_line`` -> ``product line``)."""
    return tr(_DIMENSIONS[by]) if by in _DIMENSIONS else by.replace("_", " ")


def window_label(name: str) -> str:
    """A window's name in words (``ytd`` -> ``Year to date``)."""
    return tr(_WINDOW_LABELS[name]) if name in _WINDOW_LABELS else name


def _window_text(frame: pd.DataFrame) -> str:
    name = str(frame["window"].iloc[0]) if "window" in frame and len(frame) else "l12m"
    text = window_label(name)
    return text.lower() if i18n.language() == "en" else text


def _sentences(*parts: str) -> str:
    """Sentences joined: with a space in English, without in Chinese."""
    sep = "" if i18n.language() == "zh" else " "
    return sep.join(p for p in parts if p)


def kpi_table(kpis: pd.DataFrame) -> pd.DataFrame:
    """Headline KPIs (:func:`headline_kpis`) as one row per window, for display.

    Columns: ``window, months, revenue, revenue_prior, revenue_yoy, orders, orders_yoy,
    customers, customers_prior, customers_yoy``.
    """
    rows = []
    for name in WINDOWS:
        k = kpis.loc[kpis["window"] == name].set_index("measure")
        if k.empty:
            continue
        w = Window(name, k["start"].iloc[0], k["end"].iloc[0])
        rows.append(
            {
                "window": window_label(name),
                "months": w.label(),
                "revenue": k.loc["revenue", "value"],
                "revenue_prior": k.loc["revenue", "prior"],
                "revenue_yoy": k.loc["revenue", "yoy"],
                "orders": k.loc["orders", "value"],
                "orders_yoy": k.loc["orders", "yoy"],
                "customers": k.loc["customers", "value"],
                "customers_prior": k.loc["customers", "prior"],
                "customers_yoy": k.loc["customers", "yoy"],
            }
        )
    return pd.DataFrame(rows)


def share_table(share: pd.DataFrame, share_ytd: pd.DataFrame, by: str) -> pd.DataFrame:
    """The market-share frames of two windows (:func:`market_share`) as one table for display,
    the window in words: ``<by>, window, revenue, market_size, market_share,
    market_share_change, market_growth, revenue_growth``."""
    cols = [by, "window", "revenue", "market_size", "share", "share_change", "market_growth"]
    cols.append("revenue_growth")
    out = pd.concat([share, share_ytd], ignore_index=True)[cols]
    out = out.rename(columns={"share": "market_share", "share_change": "market_share_change"})
    return out.assign(window=out["window"].map(window_label))


def describe_kpis(kpis: pd.DataFrame, currency: str = "CNY") -> str:
    """One or two sentences on revenue and customers (Markdown)."""
    k = kpis.set_index(["measure", "window"])
    m, y, t = (k.loc[("revenue", w)] for w in ("month", "ytd", "l12m"))
    c = k.loc[("customers", "l12m")]
    period = pd.Timestamp(m["end"]).strftime("%Y-%m")

    def vs(row) -> str:
        if not np.isfinite(row["yoy"]):
            return tr("no comparable period a year earlier")
        return tr("{change} year on year").format(change=pct(row["yoy"], signed=True))

    text = tr(
        "Revenue in {month} was **{month_revenue}** ({month_vs}); year to date **{ytd}** "
        "({ytd_vs}) and over the last 12 months **{l12m}** ({l12m_vs})."
    ).format(
        month=period,
        month_revenue=money(m["value"], currency),
        month_vs=vs(m),
        ytd=money(y["value"], currency),
        ytd_vs=vs(y),
        l12m=money(t["value"], currency),
        l12m_vs=vs(t),
    )
    customers = (
        tr("{n} customers bought in the last 12 months ({vs}).").format(
            n=number(c["value"]), vs=vs(c)
        )
        if np.isfinite(c["yoy"])
        else tr("{n} customers bought in the last 12 months.").format(n=number(c["value"]))
    )
    return _sentences(text, customers)


def describe_trend(ts: TrendSeasonality) -> str:
    """Trend growth and the strongest and weakest months (Markdown)."""
    idx = ts.indices.set_index("calendar_month")["seasonal_index"]
    hi, lo = idx.idxmax(), idx.idxmin()
    strength = (
        tr("strong")
        if ts.seasonal_strength >= 0.6
        else tr("moderate")
        if ts.seasonal_strength >= 0.3
        else tr("weak")
    )
    kind = tr("in proportion to the trend") if ts.multiplicative else tr("in fixed amounts")
    trend = (
        tr("The underlying trend grew {change} over the last 12 months.").format(
            change=pct(ts.trend_yoy, signed=True)
        )
        if np.isfinite(ts.trend_yoy)
        else tr("The trend has no value a year ago.")
    )
    season = tr(
        "Seasonality is {strength} (strength {value} on a scale of 0 to 1, {kind}): {high_month} "
        "runs {high} against the trend, {low_month} {low}."
    ).format(
        strength=strength,
        value=number(ts.seasonal_strength, 2),
        kind=kind,
        high_month=tr(_MONTHS[hi - 1]),
        high=pct(idx[hi] - 1, signed=True),
        low_month=tr(_MONTHS[lo - 1]),
        low=pct(idx[lo] - 1, signed=True),
    )
    return _sentences(trend, season)


def describe_mix(mix: pd.DataFrame, by: str) -> str:
    """Largest segment, fastest and slowest growers (Markdown)."""
    body = mix.loc[mix[by] != TOTAL]
    if body.empty:
        return tr("No revenue in the window.")
    top = body.iloc[0]
    text = tr("**{label}** is the largest {dimension} with {share} of revenue ({window}).").format(
        label=md(top[by]),
        dimension=dimension_name(by),
        share=pct(top["share"]),
        window=_window_text(mix),
    )
    g = body.dropna(subset=["growth"])
    if len(g) >= 2:
        fast, slow = g.loc[g["growth"].idxmax()], g.loc[g["growth"].idxmin()]
        tot = mix.loc[mix[by] == TOTAL, "growth"].iloc[0]
        text = _sentences(
            text,
            tr(
                "Fastest growth: **{fast}** ({fast_growth}); slowest: **{slow}** "
                "({slow_growth}), against {total} for the company."
            ).format(
                fast=md(fast[by]),
                fast_growth=pct(fast["growth"], signed=True),
                slow=md(slow[by]),
                slow_growth=pct(slow["growth"], signed=True),
                total=pct(tot, signed=True),
            ),
        )
    return text


def _points(x: float) -> str:
    return number(x * 100, 1, signed=True)


def describe_share(share: pd.DataFrame, by: str, currency: str = "CNY") -> str:
    """Company share of the market and where it moved most (Markdown)."""
    tot = share.loc[share[by] == TOTAL].iloc[0]
    body = share.loc[share[by] != TOTAL]
    if not np.isfinite(tot["share"]):
        return tr("Market size data do not cover the whole window, so no share is shown.")
    if np.isfinite(tot["share_change"]):
        text = tr(
            "Over the {window} the company holds **{share}** of a {size} market ({change} "
            "points on a year earlier)."
        ).format(
            window=_window_text(share),
            share=pct(tot["share"]),
            size=money(tot["market_size"], currency),
            change=_points(tot["share_change"]),
        )
    else:
        text = tr("Over the {window} the company holds **{share}** of a {size} market.").format(
            window=_window_text(share),
            share=pct(tot["share"]),
            size=money(tot["market_size"], currency),
        )
    ch = body.dropna(subset=["share_change"])
    if len(ch):
        up, down = ch.loc[ch["share_change"].idxmax()], ch.loc[ch["share_change"].idxmin()]
        gain = tr("Largest gain: **{label}** ({change} points to {share}).").format(
            label=md(up[by]), change=_points(up["share_change"]), share=pct(up["share"])
        )
        if down[by] != up[by]:
            gain = tr(
                "Largest gain: **{label}** ({change} points to {share}); weakest: **{weak}** "
                "({weak_change} points, {weak_share})."
            ).format(
                label=md(up[by]),
                change=_points(up["share_change"]),
                share=pct(up["share"]),
                weak=md(down[by]),
                weak_change=_points(down["share_change"]),
                weak_share=pct(down["share"]),
            )
        text = _sentences(text, gain)
    missing = body.loc[body["coverage"] < 1, by].tolist()
    if missing:
        text = _sentences(
            text,
            tr("No share for {labels} (market data incomplete for the window).").format(
                labels=tr(", ").join(md(x) for x in missing)
            ),
        )
    return text


def describe_customers(base: pd.DataFrame, counts: pd.DataFrame, currency: str = "CNY") -> str:
    """Customer base size, won and lost, revenue per customer (Markdown)."""
    last = base.iloc[-1]
    w = counts.iloc[0]
    text = tr(
        "{base} customers bought in the last 12 months, {active} of them in {month}; revenue "
        "per customer over 12 months was {per_customer}."
    ).format(
        base=number(last["active_l12m"]),
        active=number(last["active"]),
        month=f"{pd.Timestamp(last['month']):%Y-%m}",
        per_customer=money(last["revenue_per_active_l12m"], currency),
    )
    if np.isfinite(w["lost"]):
        text = _sentences(
            text,
            tr(
                "Compared with the 12 months before, {won} were won ({new} first-time buyers) "
                "and {lost} lost; {retention} of last year's customers bought again."
            ).format(
                won=number(w["won"]),
                new=number(w["new"]),
                lost=number(w["lost"]),
                retention=pct(w["retention"]),
            ),
        )
    return text


def describe_concentration(conc: pd.DataFrame) -> str:
    """Top customers' share and HHI (Markdown)."""
    c = conc.iloc[0]
    if not c["customers"]:
        return tr("No customer had positive revenue in the window.")
    level = (
        tr("highly concentrated")
        if c["hhi"] > 2500
        else tr("moderately concentrated")
        if c["hhi"] > 1500
        else tr("not concentrated")
    )
    return tr(
        "The top {top_n} customers made {top_n_share} of revenue over the last 12 months and "
        "the top {top_pct} ({top_pct_customers} customers) {top_pct_share}; {for_80} customers "
        "({for_80_share}) make 80%. HHI {hhi} ({level}; as concentrated as {equal} equal "
        "customers)."
    ).format(
        top_n=int(c["top_n"]),
        top_n_share=pct(c["top_n_share"]),
        top_pct=pct(c["top_pct"], 0),
        top_pct_customers=number(math.ceil(c["top_pct"] * c["customers"] - 1e-9)),
        top_pct_share=pct(c["top_pct_share"]),
        for_80=number(c["customers_for_80pct"]),
        for_80_share=pct(c["customers_for_80pct_share"]),
        hhi=number(c["hhi"]),
        level=level,
        equal=number(c["hhi_equivalent"]),
    )


def describe_price_volume(
    pv: pd.DataFrame, by: str = "product_line", currency: str = "CNY"
) -> str:
    """How much of the revenue change came from price and from volume (Markdown)."""
    tot = pv.loc[pv[by] == TOTAL].iloc[0]
    body = pv.loc[pv[by] != TOTAL]
    text = tr(
        "Revenue over the last 12 months changed by **{change}** year on year: {price} from "
        "prices and {volume} from volumes."
    ).format(
        change=money(tot["change"], currency, signed=True),
        price=money(tot["price_effect"], currency, signed=True),
        volume=money(tot["volume_effect"], currency, signed=True),
    )
    if len(body):
        top = body.loc[body["price_effect"].abs().idxmax()]
        text = _sentences(
            text,
            tr("The largest price effect is in **{label}** ({effect}).").format(
                label=md(top[by]), effect=money(top["price_effect"], currency, signed=True)
            ),
        )
    return text
