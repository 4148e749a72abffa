"""Step 02, forecasting: the per-series engine (candidates, rolling-origin backtest,
selection, calibrated intervals) and the hierarchy (series at every level, reconciliation,
accuracy by level, reps who leave).

Modules:

- ``engine``: ``forecast``, ``run_forecast``: many series, worker processes or Dask.
- ``_models``: the per-series method (private), in stages: ``classify`` -> ``prepare`` ->
  ``fit_candidates`` -> ``backtest`` -> ``select_model`` -> ``final_forecast`` ->
  ``calibrate_interval``.
- ``hierarchy``: the hierarchical forecast (``forecast_hierarchy``: series -> active series ->
  engine -> reconciliation -> accuracy at earlier origins); re-exports the names of the
  modules below, so notebooks import only it.
- ``series``: the series of every level and the constraints that tie them (``build_series``).
- ``reconcile``: reconciliation (MinT with shrinkage, WLS, OLS), medians into means, intervals
  moved with the means, coherence check.
- ``accuracy``: reconciled against base scores by level, the engine's backtest tables.
- ``leavers``: reps who leave (forecast at 0 after their ``end_date``).
- ``parameters``: the forecast step's notebook parameters (``forecast_parameters``).
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
