"""Step 01's tables and sentences for business readers: KPI table and one description per
analysis (figures formatted by :mod:`salesanalysis.report.formatting`)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from salesanalysis.market.analysis import TOTAL, WINDOWS, TrendSeasonality, Window
from salesanalysis.report.formatting import md

COLUMN_LABELS: dict[str, str] = {
    "window": "Window",
    "months": "Months",
    "month": "Month",
    "region": "Region",
    "product_line": "Product line",
    "customer_type": "Customer type",
    "revenue": "Revenue",
    "revenue_prior": "Revenue prior year",
    "revenue_yoy": "Revenue YoY",
    "orders": "Orders",
    "orders_yoy": "Orders YoY",
    "customers": "Customers",
    "customers_prior": "Customers prior year",
    "customers_yoy": "Customers YoY",
    "prior": "Revenue prior year",
    "share": "Share",
    "prior_share": "Share prior year",
    "share_change": "Share change",
    "growth": "Growth YoY",
    "contribution": "Contribution",
    "market_size": "Market size",
    "prior_market_size": "Market size prior year",
    "prior_revenue": "Revenue prior year",
    "market_growth": "Market growth",
    "revenue_growth": "Revenue growth",
    "coverage": "Market data coverage",
    "active": "Active in month",
    "active_l12m": "Active, 12 months",
    "new": "New",
    "returning": "Returning",
    "lost": "Lost",
    "revenue_per_active": "Revenue per active",
    "revenue_per_active_l12m": "Revenue per customer, 12 months",
    "customer_pct": "Top customers",
    "revenue_share": "Share of revenue",
    "change": "Change",
    "quantity_prior": "Quantity prior year",
    "quantity": "Quantity",
    "price_prior": "Avg price prior year",
    "price": "Avg price",
    "price_change": "Price change",
    "quantity_change": "Quantity change",
    "price_effect": "Price effect",
    "volume_effect": "Volume effect",
}
"""English column headers for the notebook's tables (``formatting.table(labels=...)``)."""

_WINDOW_LABELS = {"month": "Month", "ytd": "Year to date", "l12m": "Last 12 months"}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


def _window_text(frame: pd.DataFrame) -> str:
    name = str(frame["window"].iloc[0]) if "window" in frame and len(frame) else "l12m"
    return _WINDOW_LABELS.get(name, name).lower()


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
                "window": _WINDOW_LABELS[name],
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


def describe_kpis(kpis: pd.DataFrame, currency: str = "CNY") -> str:
    """One or two sentences on revenue and customers (Markdown)."""
    from salesanalysis.report.formatting import money, number, pct

    k = kpis.set_index(["measure", "window"])
    m, y, t = (k.loc[("revenue", w)] for w in ("month", "ytd", "l12m"))
    c = k.loc[("customers", "l12m")]
    period = pd.Timestamp(m["end"]).strftime("%Y-%m")

    def vs(row) -> str:
        if not np.isfinite(row["yoy"]):
            return "no comparable period a year earlier"
        return f"{pct(row['yoy'], signed=True)} year on year"

    text = (
        f"Revenue in {period} was **{money(m['value'], currency, scale='auto')}** "
        f"({vs(m)}); year to date **{money(y['value'], currency, scale='auto')}** ({vs(y)}) "
        f"and over the last 12 months **{money(t['value'], currency, scale='auto')}** "
        f"({vs(t)}). "
    )
    text += f"{number(c['value'])} customers bought in the last 12 months"
    text += f" ({vs(c)})." if np.isfinite(c["yoy"]) else "."
    return text


def describe_trend(ts: TrendSeasonality) -> str:
    """Trend growth and the strongest and weakest months (Markdown)."""
    from salesanalysis.report.formatting import pct

    idx = ts.indices.set_index("calendar_month")["seasonal_index"]
    hi, lo = idx.idxmax(), idx.idxmin()
    strength = (
        "strong"
        if ts.seasonal_strength >= 0.6
        else "moderate"
        if ts.seasonal_strength >= 0.3
        else "weak"
    )
    kind = "multiplicative" if ts.multiplicative else "additive"
    trend = (
        f"The underlying trend grew {pct(ts.trend_yoy, signed=True)} over the last 12 months"
        if np.isfinite(ts.trend_yoy)
        else "The trend has no value a year ago"
    )
    return (
        f"{trend}. Seasonality is {strength} (strength {ts.seasonal_strength:.2f}, "
        f"{kind}): {_MONTHS[hi - 1]} runs {pct(idx[hi] - 1, signed=True)} against the "
        f"trend, {_MONTHS[lo - 1]} {pct(idx[lo] - 1, signed=True)}."
    )


def describe_mix(mix: pd.DataFrame, by: str) -> str:
    """Largest segment, fastest and slowest growers (Markdown)."""
    from salesanalysis.report.formatting import pct

    body = mix.loc[mix[by] != TOTAL]
    if body.empty:
        return "No revenue in the window."
    top = body.iloc[0]
    text = (
        f"**{md(top[by])}** is the largest {by.replace('_', ' ')} with "
        f"{pct(top['share'])} of revenue ({_window_text(mix)})."
    )
    g = body.dropna(subset=["growth"])
    if len(g) >= 2:
        fast, slow = g.loc[g["growth"].idxmax()], g.loc[g["growth"].idxmin()]
        tot = mix.loc[mix[by] == TOTAL, "growth"].iloc[0]
        text += (
            f" Fastest growth: **{md(fast[by])}** ({pct(fast['growth'], signed=True)}); "
            f"slowest: **{md(slow[by])}** ({pct(slow['growth'], signed=True)}), against "
            f"{pct(tot, signed=True)} for the company."
        )
    return text


def describe_share(share: pd.DataFrame, by: str, currency: str = "CNY") -> str:
    """Company share of the market and where it moved most (Markdown)."""
    from salesanalysis.report.formatting import money, pct

    tot = share.loc[share[by] == TOTAL].iloc[0]
    body = share.loc[share[by] != TOTAL]
    if not np.isfinite(tot["share"]):
        return "Market size data do not cover the whole window, so no share is shown."
    text = (
        f"Over the {_window_text(share)} the company holds **{pct(tot['share'])}** of a "
        f"{money(tot['market_size'], currency, scale='auto')} market"
    )
    if np.isfinite(tot["share_change"]):
        text += f" ({tot['share_change'] * 100:+.1f} points on a year earlier)"
    text += "."
    ch = body.dropna(subset=["share_change"])
    if len(ch):
        up, down = ch.loc[ch["share_change"].idxmax()], ch.loc[ch["share_change"].idxmin()]
        text += (
            f" Largest gain: **{md(up[by])}** ({up['share_change'] * 100:+.1f} points to "
            f"{pct(up['share'])})"
        )
        if down[by] != up[by]:
            text += (
                f"; weakest: **{md(down[by])}** ({down['share_change'] * 100:+.1f} points, "
                f"{pct(down['share'])})"
            )
        text += "."
    missing = body.loc[body["coverage"] < 1, by].tolist()
    if missing:
        text += (
            " No share for "
            + ", ".join(md(x) for x in missing)
            + " (market data incomplete for the window)."
        )
    return text


def describe_customers(base: pd.DataFrame, counts: pd.DataFrame, currency: str = "CNY") -> str:
    """Customer base size, won and lost, revenue per customer (Markdown)."""
    from salesanalysis.report.formatting import money, number, pct

    last = base.iloc[-1]
    w = counts.iloc[0]
    text = (
        f"{number(last['active_l12m'])} customers bought in the last 12 months, "
        f"{number(last['active'])} of them in {pd.Timestamp(last['month']):%Y-%m}; "
        f"revenue per customer over 12 months was "
        f"{money(last['revenue_per_active_l12m'], currency, scale='auto')}."
    )
    if np.isfinite(w["lost"]):
        text += (
            f" Compared with the 12 months before, {number(w['won'])} were won "
            f"({number(w['new'])} first-time buyers) and {number(w['lost'])} lost; "
            f"{pct(w['retention'])} of last year's customers bought again."
        )
    return text


def describe_concentration(conc: pd.DataFrame) -> str:
    """Top customers' share and HHI (Markdown)."""
    from salesanalysis.report.formatting import number, pct

    c = conc.iloc[0]
    if not c["customers"]:
        return "No customer had positive revenue in the window."
    level = (
        "highly concentrated"
        if c["hhi"] > 2500
        else "moderately concentrated"
        if c["hhi"] > 1500
        else "not concentrated"
    )
    return (
        f"The top {int(c['top_n'])} customers made {pct(c['top_n_share'])} of revenue over "
        f"the last 12 months and the top {pct(c['top_pct'], 0)} "
        f"({number(math.ceil(c['top_pct'] * c['customers'] - 1e-9))} customers) "
        f"{pct(c['top_pct_share'])}; {number(c['customers_for_80pct'])} customers "
        f"({pct(c['customers_for_80pct_share'])}) make 80%. HHI {c['hhi']:,.0f} "
        f"({level}; as concentrated as {c['hhi_equivalent']:,.0f} equal customers)."
    )


def describe_price_volume(
    pv: pd.DataFrame, by: str = "product_line", currency: str = "CNY"
) -> str:
    """How much of the revenue change came from price and from volume (Markdown)."""
    from salesanalysis.report.formatting import money

    tot = pv.loc[pv[by] == TOTAL].iloc[0]
    body = pv.loc[pv[by] != TOTAL]
    text = (
        f"Revenue over the last 12 months changed by "
        f"**{money(tot['change'], currency, scale='auto', signed=True)}** year on year: "
        f"{money(tot['price_effect'], currency, scale='auto', signed=True)} from prices and "
        f"{money(tot['volume_effect'], currency, scale='auto', signed=True)} from volumes."
    )
    if len(body):
        top = body.loc[body["price_effect"].abs().idxmax()]
        text += (
            f" The largest price effect is in **{md(top[by])}** "
            f"({money(top['price_effect'], currency, scale='auto', signed=True)})."
        )
    return text
