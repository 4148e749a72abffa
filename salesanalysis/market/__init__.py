"""Step 01, market analysis: KPIs, trend and seasonality, mix and growth, market share,
customer base, concentration, price versus volume, and the sentences that describe them.

Modules: ``analysis`` (the numbers, frames in and out), ``narrative`` (KPI table and one
description per analysis), ``params`` (the notebook's parameters, validated).
"""

from salesanalysis.market.analysis import (
    TOTAL,
    TrendSeasonality,
    Window,
    as_period,
    concentration,
    customer_base,
    customer_revenue,
    customer_window_counts,
    headline_kpis,
    market_share,
    market_share_trend,
    market_summary,
    mix_growth,
    monthly_revenue,
    pareto_curve,
    price_volume,
    trend_seasonality,
    window,
)
from salesanalysis.market.narrative import (
    COLUMN_LABELS,
    describe_concentration,
    describe_customers,
    describe_kpis,
    describe_mix,
    describe_price_volume,
    describe_share,
    describe_trend,
    kpi_table,
)
from salesanalysis.market.params import MarketParams, market_parameters
from salesanalysis.report.formatting import md

__all__ = [
    "COLUMN_LABELS",
    "MarketParams",
    "TOTAL",
    "TrendSeasonality",
    "Window",
    "as_period",
    "concentration",
    "customer_base",
    "customer_revenue",
    "customer_window_counts",
    "describe_concentration",
    "describe_customers",
    "describe_kpis",
    "describe_mix",
    "describe_price_volume",
    "describe_share",
    "describe_trend",
    "headline_kpis",
    "kpi_table",
    "market_parameters",
    "market_share",
    "market_share_trend",
    "market_summary",
    "md",
    "mix_growth",
    "monthly_revenue",
    "pareto_curve",
    "price_volume",
    "trend_seasonality",
    "window",
]
