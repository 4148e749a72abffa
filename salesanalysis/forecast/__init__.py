"""Step 02, forecasting: the per-series engine (candidates, rolling-origin backtest,
selection, calibrated intervals) and the hierarchy (series at every level, reconciliation,
accuracy by level, reps who leave).

Modules: ``engine`` (``forecast``, ``run_forecast``: many series, worker processes or Dask),
``_models`` (the per-series method, private), ``hierarchy`` (the hierarchical forecast).
"""

from salesanalysis.forecast.engine import ForecastResult, forecast, run_forecast
from salesanalysis.forecast.hierarchy import (
    ALL,
    KEY_COLS,
    LEVEL_KEYS,
    LEVELS,
    HierarchyForecast,
    forecast_hierarchy,
    forecast_parameters,
    reconcile_forecasts,
    reps_left_before,
)

__all__ = [
    "ALL",
    "ForecastResult",
    "HierarchyForecast",
    "KEY_COLS",
    "LEVELS",
    "LEVEL_KEYS",
    "forecast",
    "forecast_hierarchy",
    "forecast_parameters",
    "reconcile_forecasts",
    "reps_left_before",
    "run_forecast",
]
