"""Hierarchical forecast: series for every level of the sales hierarchy, made coherent.

The hierarchy is *grouped* (crossed), not a tree: the company total is at once the sum of the
regions, of the product lines, of the customer types, of the cells (region x product line x
customer type), of the reps and of the bottom series (region x product line x customer type x
rep). See the level table in ``docs/ARCHITECTURE.md``.

Steps (:func:`forecast_hierarchy` runs them all; each lives in a module named for it):

1. :func:`~salesanalysis.forecast.series.build_series` (``series``) sums the cube into one
   monthly series per level and key, filled to regular months with 0 up to the cutoff, with the
   linear constraints that tie the levels.
2. The series worth forecasting: leaves with recent sales, not of a rep who has left
   (``leavers``: :func:`~salesanalysis.forecast.leavers.reps_gone`).
3. :func:`base_forecasts`: the forecast engine (:mod:`salesanalysis.forecast.engine`) makes
   *base* forecasts for every active series independently.
4. :func:`~salesanalysis.forecast.reconcile.reconcile_forecasts` (``reconcile``) turns
   log-scale base forecasts from medians into means, adjusts the base means so that every level
   adds up exactly (MinT with shrinkage by default), keeps the lowest-level series
   non-negative and moves each series' base interval with its mean (same quantile distances
   around the mean). Why MinT, medians and means, non-negativity: see
   :mod:`salesanalysis.forecast.reconcile`.
5. :func:`reconciliation_backtest` measures the accuracy (MASE per level) of the reconciled
   against the engine's forecasts at earlier origins, so a reader can see what it costs
   (scores by level: ``accuracy``). A history too short for the origins asked for gets fewer
   origins or a shorter horizon, or no check, with a note (``facts``:
   :func:`~salesanalysis.forecast.facts.accuracy_plan`).
6. :func:`~salesanalysis.forecast.facts.forecast_facts` (``facts``) records what was done:
   models that ran, backtest origins, seasonality and why not, interval floor, accuracy check;
   ``narrative`` makes the step's sentences from them.

Short histories
    From ``MIN_HISTORY_MONTHS`` (6) months of company history the forecast runs with what the
    data supports (see :mod:`salesanalysis.forecast.facts`); with less it raises
    :class:`HierarchyError` (the notebook checks :func:`too_short_to_forecast` first and skips
    the step).

The names of those modules (and the notebook parameters, ``parameters``) are re-exported here:
``salesanalysis.forecast.hierarchy`` is the one import a notebook needs.

Inactive series
    A leaf with no revenue in the last ``active_months`` months before the cutoff (a rep who
    left, a cell that stopped buying) is not sent to the engine: its forecast is 0 (model
    ``"inactive"``), and aggregates with only inactive leaves are 0 too. Given the reps table
    (``reps=``), a rep whose ``end_date`` is before the first forecast month is inactive too
    (:func:`reps_gone`), and a rep leaving inside the horizon is held at 0 from the month after
    the ``end_date`` (:func:`months_after_leaving`); the reconciliation gives their share of
    the region's forecast to the reps who stay.

Level of detail
    ``detail="bottom"`` reconciles down to region x product line x customer type x rep.
    ``detail="cell"`` skips that level (it is the largest and noisiest): the leaves are then
    the cells *and* the reps, reconciled jointly so that cells add up to total, regions, product
    lines and customer types, and the reps of each region add up to that region (and so to the
    total). Reps are not split by product line or customer type in that mode.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from salesanalysis.forecast.accuracy import (
    accuracy_by_level,
    backtest_summary,
    chosen_scores,
    hardest_series,
    series_accuracy,
)
from salesanalysis.forecast.facts import (
    MIN_HISTORY_MONTHS,
    AccuracyPlan,
    ForecastFacts,
    accuracy_plan,
    forecast_facts,
    history_months,
    too_short_to_forecast,
)
from salesanalysis.forecast.leavers import months_after_leaving, reps_gone, reps_left_before
from salesanalysis.forecast.narrative import (
    accuracy_statement,
    backtest_statement,
    compute_note,
    forecast_by,
    method_statement,
    outlook_statement,
    run_statement,
)
from salesanalysis.forecast.parameters import ForecastParams, forecast_parameters
from salesanalysis.forecast.reconcile import (
    MAX_LOG_SIGMA,
    ErrorCovariance,
    Reconciliation,
    coherence_gaps,
    mint_covariance,
    proxy_residuals,
    reconcile,
    reconcile_forecasts,
)
from salesanalysis.forecast.reconcile import _median_to_mean as _median_to_mean  # tests
from salesanalysis.forecast.reconcile import _shrinkage_intensity as _shrinkage_intensity
from salesanalysis.forecast.series import (
    ALL,
    KEY_COLS,
    LEVEL_KEYS,
    LEVELS,
    Detail,
    HierarchyError,
    HierarchySeries,
    _to_month,
    build_series,
)
from salesanalysis.i18n import tr

__all__ = [
    "KEY_COLS",
    "LEVELS",
    "LEVEL_KEYS",
    "ALL",
    "HierarchySeries",
    "HierarchyForecast",
    "MAX_LOG_SIGMA",
    "ErrorCovariance",
    "HierarchyError",
    "BaseForecasts",
    "base_forecasts",
    "build_series",
    "proxy_residuals",
    "mint_covariance",
    "reconcile",
    "reconcile_forecasts",
    "coherence_gaps",
    "series_accuracy",
    "accuracy_by_level",
    "reconciliation_backtest",
    "chosen_scores",
    "backtest_summary",
    "hardest_series",
    "ForecastParams",
    "forecast_parameters",
    "forecast_hierarchy",
    "reps_gone",
    "reps_left_before",
    "months_after_leaving",
    "MIN_HISTORY_MONTHS",
    "AccuracyPlan",
    "ForecastFacts",
    "accuracy_plan",
    "forecast_facts",
    "history_months",
    "too_short_to_forecast",
    "method_statement",
    "compute_note",
    "backtest_statement",
    "accuracy_statement",
    "outlook_statement",
    "run_statement",
    "forecast_by",
]


# --------------------------------------------------------------------------- driver


@dataclass
class HierarchyForecast:
    """Everything the forecast step produces.

    Attributes:
        forecast: the frame for ``outputs/forecast.parquet``: ``level, region, product_line,
            customer_type, rep_id, month, mean, lo_*, hi_*, model, base_mean``.
        backtest: the engine's backtest scores, with the series' level and keys (for
            ``outputs/backtest.parquet``).
        accuracy: reconciled against base MASE per level at earlier origins (or ``None``).
        accuracy_series: the same per series and origin (or ``None``).
        history: ``level, <keys>, month, value`` up to the cutoff.
        chosen: the model chosen for each active series, with its keys.
        coverage: the engine's backtest interval coverage (as it returns it).
        warnings: the engine's summarised warnings (as it returns it).
        info: run facts: cutoff, horizon, detail, reconciliation, series counts, max gap.
        facts: what the run did (models, backtest origins, seasonality and why not, interval
            floor, accuracy check): the step's sentences are made from them.
    """

    forecast: pd.DataFrame
    backtest: pd.DataFrame
    accuracy: pd.DataFrame | None
    accuracy_series: pd.DataFrame | None
    history: pd.DataFrame
    chosen: pd.DataFrame
    coverage: Any
    warnings: Any
    info: dict[str, Any]
    facts: ForecastFacts | None = None


def _default_engine() -> Callable[..., Any]:
    from salesanalysis.forecast.engine import run_forecast

    return run_forecast


def _call_engine(engine: Callable[..., Any], df: pd.DataFrame, horizon: int, levels, **kw):
    """Call ``engine`` with the keyword arguments its signature accepts (None = its default)."""
    try:
        params = inspect.signature(engine).parameters
        takes_all = any(p.kind is p.VAR_KEYWORD for p in params.values())
    except (TypeError, ValueError):  # pragma: no cover - builtins
        params, takes_all = {}, True
    args = {k: v for k, v in kw.items() if v is not None and (takes_all or k in params)}
    return engine(df, horizon, tuple(levels), **args)


def _with_keys(frame: Any, keys: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame) or "series_id" not in frame.columns:
        return frame if isinstance(frame, pd.DataFrame) else pd.DataFrame()
    return keys.merge(frame, on="series_id", how="right")


def _active(
    series: HierarchySeries, active_months: int | None, gone: np.ndarray | None = None
) -> np.ndarray:
    """Series worth forecasting: a leaf with a non-zero month in the window and not ``gone``
    (the series of a rep who has left), or an aggregate with such a leaf under it."""
    n = len(series.keys)
    gone = np.zeros(n, bool) if gone is None else np.asarray(gone, bool)
    if active_months is None and not gone.any():
        return np.ones(n, bool)
    if active_months is None:
        leaf_active = series.leaves.copy()
    else:
        recent = series.values[:, -int(active_months) :]
        leaf_active = series.leaves & (recent != 0).any(axis=1)
    leaf_active &= ~gone
    # an aggregate is active when a constraint ties it to an active leaf (a rep who has left
    # with detail="bottom": all of the rep's leaves are gone, so is the rep)
    c = abs(sp.csr_matrix(series.constraints))
    agg_rows = (c @ leaf_active.astype(float)) > 0
    act = leaf_active.copy()
    parents = np.asarray((c[agg_rows] > 0).sum(axis=0)).ravel() > 0
    act |= parents & ~series.leaves
    return act


def forecast_hierarchy(
    cube: pd.DataFrame,
    cutoff: Any,
    horizon: int,
    *,
    levels: Sequence[int] = (80, 95),
    detail: Detail = "bottom",
    n_jobs: int | None = None,
    scheduler: str | None = None,
    method: str = "default",
    models: Sequence[str] | None = None,
    n_origins: int = 3,
    season_length: int = 12,
    reconciliation: Reconciliation = "mint_shrink",
    log_mean_correction: bool = True,
    accuracy_origins: int = 1,
    accuracy_step: int = 3,
    active_months: int | None = 12,
    value: str = "revenue",
    engine: Callable[..., Any] | None = None,
    reps: pd.DataFrame | None = None,
) -> HierarchyForecast:
    """Coherent forecasts for every level and key of the sales hierarchy.

    Args:
        cube: the monthly cube.
        cutoff: last month of history (the report period).
        horizon: months to forecast after the cutoff.
        levels: interval levels in percent.
        detail: ``"bottom"`` (down to rep x cell) or ``"cell"`` (cells and reps, see module doc).
        n_jobs, scheduler, method, models, n_origins, season_length: passed to the engine.
        reconciliation: ``"mint_shrink"`` (default), ``"wls_var"``, ``"wls_struct"``, ``"ols"``,
            ``"none"`` (see the module docstring).
        log_mean_correction: turn the engine's log-scale forecasts (medians) into means before
            reconciling (means add up, medians do not).
        accuracy_origins: earlier origins at which reconciled and base forecasts are compared
            against actuals (0 = skip; each origin costs one more engine run). A history too
            short for them gets fewer origins or a shorter horizon, or no check (see
            :func:`accuracy_plan`; ``facts.accuracy`` says what was done and why).
        accuracy_step: months between those origins.
        active_months: a leaf with no sales in this many months is forecast as 0 (None = all
            series are forecast).
        value: the cube measure to forecast.
        engine: the forecast engine (default :func:`salesanalysis.forecast.engine.run_forecast`).
        reps: the reps table (``rep_id, end_date``); a rep who left before the first forecast
            month is forecast at 0 (:func:`reps_gone`). None = every rep with recent sales is
            forecast.

    Returns:
        A :class:`HierarchyForecast`.

    Raises:
        HierarchyError: bad arguments, or fewer than ``MIN_HISTORY_MONTHS`` months of history.
    """
    levels = _checked_levels(horizon, levels)
    _check_history(cube, cutoff, value)
    engine = engine or _default_engine()
    series = build_series(cube, cutoff, value=value, detail=detail)
    gone = reps_gone(series, reps)
    act = _active(series, active_months, gone)
    engine_kw = dict(
        season_length=season_length,
        n_origins=n_origins,
        n_jobs=n_jobs,
        scheduler=scheduler,
        method=method,
        models=models,
    )
    base = base_forecasts(engine, series, act, int(horizon), levels, **engine_kw)
    frame, info = reconcile_forecasts(
        series,
        base.forecasts,
        levels=levels,
        method=reconciliation,
        inactive=~act,
        engine_info=base.chosen,
        log_mean_correction=log_mean_correction,
        season_length=season_length,
        off_months=months_after_leaving(series, reps, _forecast_months(series, horizon)),
    )
    accuracy = acc_series = None
    acc_plan = accuracy_plan(
        history_months(cube, cutoff, value),
        int(horizon),
        int(accuracy_origins or 0),
        accuracy_step,
        season_length,
    )
    if acc_plan.origins > 0:
        accuracy, acc_series = reconciliation_backtest(
            cube,
            cutoff,
            horizon,
            origins=acc_plan.origins,
            step=accuracy_step,
            levels=levels,
            detail=detail,
            reconciliation=reconciliation,
            log_mean_correction=log_mean_correction,
            active_months=active_months,
            value=value,
            engine=engine,
            reps=reps,
            **engine_kw,
        )
    info.update(_run_facts(series, int(horizon), detail, levels, act, gone))
    facts = _facts(series, base, int(horizon), acc_plan, engine_kw)
    return _assemble(series, base, frame, info, accuracy, acc_series, facts)


def _check_history(cube: pd.DataFrame, cutoff: Any, value: str) -> None:
    """Raise :class:`HierarchyError` when the history is too short to forecast from."""
    short = too_short_to_forecast(cube, cutoff, value)
    if short is not None:
        first = re.split(r"(?<=\.) |(?<=。)", short, maxsplit=1)[0]
        raise HierarchyError(
            first if first.endswith((".", "。")) else first + ".",
            fix=tr("Run with a later --period, once {n} months of sales exist.").format(
                n=MIN_HISTORY_MONTHS
            ),
        )


def _facts(
    series: HierarchySeries,
    base: BaseForecasts,
    horizon: int,
    accuracy: AccuracyPlan,
    engine_kw: dict[str, Any],
) -> ForecastFacts:
    """The run's facts from the engine's tables and settings (see :func:`forecast_facts`)."""
    return forecast_facts(
        series,
        base.chosen,
        base.backtest,
        horizon=horizon,
        method=engine_kw["method"],
        models=engine_kw["models"],
        n_origins=engine_kw["n_origins"],
        season_length=engine_kw["season_length"],
        accuracy=accuracy,
        execution=base.execution,
    )


def _checked_levels(horizon: int, levels: Sequence[int]) -> tuple[int, ...]:
    """The interval levels as whole percentages, after checking the horizon and the levels."""
    if int(horizon) < 1:
        raise HierarchyError(
            tr("The forecast horizon must be at least 1 month, not {value}.").format(
                value=horizon
            ),
            fix=tr("Set horizon to the number of months to forecast, e.g. 12."),
        )
    if not levels or any(not 0 < float(lv) < 100 for lv in levels):
        raise HierarchyError(
            tr("Interval levels must be percentages between 0 and 100, not {value}.").format(
                value=list(levels)
            ),
            fix=tr("Use e.g. levels=(80, 95)."),
        )
    return tuple(int(lv) for lv in levels)


def _forecast_months(series: HierarchySeries, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` months after the series' cutoff."""
    return pd.date_range(series.cutoff + pd.DateOffset(months=1), periods=int(horizon), freq="MS")


@dataclass
class BaseForecasts:
    """The engine's run on the active series of a hierarchy.

    Attributes:
        forecasts: the engine's long frame ``series_id, month, mean, lo_<l>, hi_<l>, model``
            (``median`` too for the package's engine).
        chosen: the engine's ``chosen`` table (``series_id, model, seasonal, transform, ...``);
            ``series_id, model`` from ``forecasts`` when the engine has none.
        backtest, coverage, warnings: as the engine returns them (None when it does not).
        execution: where the engine ran and how many workers took part (the package's
            engine's :class:`~salesanalysis.forecast.engine.Execution`; None for another).
    """

    forecasts: pd.DataFrame
    chosen: pd.DataFrame
    backtest: Any = None
    coverage: Any = None
    warnings: Any = None
    execution: Any = None


def base_forecasts(
    engine: Callable[..., Any],
    series: HierarchySeries,
    active: np.ndarray,
    horizon: int,
    levels: Sequence[int],
    *,
    season_length: int | None = None,
    n_origins: int | None = None,
    n_jobs: int | None = None,
    scheduler: str | None = None,
    method: str | None = None,
    models: Sequence[str] | None = None,
) -> BaseForecasts:
    """The engine's forecasts of the ``active`` series (boolean mask over ``series.keys``).

    The keyword arguments are passed to the engine when its signature takes them (None: the
    engine's default). Interval widths are calibrated level by level
    (``calibration_groups``): the many bottom series must not set the width of the total's.
    """
    result = _call_engine(
        engine,
        series.engine_input(np.flatnonzero(active)),
        int(horizon),
        levels,
        season_length=season_length,
        n_origins=n_origins,
        n_jobs=n_jobs,
        scheduler=scheduler,
        method=method,
        models=None if models is None else list(models),
        calibration_groups=dict(
            zip(series.keys["series_id"], series.keys["level"].astype(str), strict=True)
        ),
    )
    chosen = getattr(result, "chosen", None)
    if not isinstance(chosen, pd.DataFrame):
        chosen = result.forecasts.drop_duplicates("series_id")[["series_id", "model"]]
    return BaseForecasts(
        forecasts=result.forecasts,
        chosen=chosen,
        backtest=getattr(result, "backtest", None),
        coverage=getattr(result, "coverage", None),
        warnings=getattr(result, "warnings", None),
        execution=getattr(result, "execution", None),
    )


def _run_facts(
    series: HierarchySeries,
    horizon: int,
    detail: str,
    levels: tuple[int, ...],
    act: np.ndarray,
    gone: np.ndarray,
) -> dict[str, Any]:
    """The run facts ``HierarchyForecast.info`` adds to the reconciliation's."""
    return dict(
        cutoff=series.cutoff,
        horizon=horizon,
        detail=detail,
        levels=levels,
        series=len(series.keys),
        forecast_series=int(act.sum()),
        inactive_series=int((~act).sum()),
        left_reps=int((gone & (series.keys["level"] == "rep").to_numpy()).sum()),
        history_start=series.months[0],
    )


def _assemble(
    series: HierarchySeries,
    base: BaseForecasts,
    frame: pd.DataFrame,
    info: dict[str, Any],
    accuracy: pd.DataFrame | None,
    accuracy_series: pd.DataFrame | None,
    facts: ForecastFacts | None = None,
) -> HierarchyForecast:
    """The step's result: the frames with the series' keys (no ``series_id``)."""
    keys = series.keys
    return HierarchyForecast(
        forecast=frame.drop(columns="series_id"),
        backtest=_with_keys(base.backtest, keys),
        accuracy=accuracy,
        accuracy_series=accuracy_series,
        history=series.long().drop(columns="series_id"),
        chosen=_with_keys(base.chosen, keys),
        coverage=base.coverage,
        warnings=base.warnings,
        info=info,
        facts=facts,
    )


def reconciliation_backtest(
    cube: pd.DataFrame,
    cutoff: Any,
    horizon: int,
    *,
    origins: int = 1,
    step: int = 3,
    season_length: int = 12,
    **kwargs: Any,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accuracy of reconciled against base forecasts at earlier forecast origins.

    The hierarchy is forecast (engine + reconciliation, exactly as :func:`forecast_hierarchy`
    does) from the origins ``cutoff - h - i * step`` (i = 0 .. origins-1), and both the
    base and the reconciled means are scored by MASE against the actuals of the ``h``
    months that followed, series by series. ``h`` and the number of origins are what the
    history holds (:func:`accuracy_plan`): ``horizon`` and ``origins`` or fewer.

    Args:
        cube, cutoff, horizon: as for :func:`forecast_hierarchy`.
        origins: number of origins (at most).
        step: months between origins.
        season_length: seasonal lag of the MASE scale (also passed to the engine).
        **kwargs: other :func:`forecast_hierarchy` arguments (levels, detail, engine, ...).

    Returns:
        ``(by_level, per_series)``: :func:`accuracy_by_level` over all origins, and the
        per-series table from :func:`series_accuracy` with an ``origin`` column.

    Raises:
        HierarchyError: the history is too short for one origin (:func:`forecast_hierarchy`
            skips the check then, with a note).
    """
    cut = _to_month(cutoff)
    value = kwargs.get("value", "revenue")
    detail = kwargs.get("detail", "bottom")
    plan = accuracy_plan(history_months(cube, cut, value), horizon, origins, step, season_length)
    if plan.origins == 0:
        raise HierarchyError(
            tr("The accuracy check by level cannot run from {cutoff}: {why}.").format(
                cutoff=f"{cut:%Y-%m}", why=plan.note
            ),
            fix=tr(
                "Set forecast.accuracy_origins to 0 in plan.yaml (or run with "
                "--param accuracy_origins=0); the forecast itself does not need it."
            ),
        )

    actual = build_series(cube, cut, value=value, detail=detail)
    actual_long = actual.long()
    kwargs = {k: v for k, v in kwargs.items() if k not in ("accuracy_origins", "accuracy_step")}
    per = []
    for i in range(plan.origins):
        origin = cut - pd.DateOffset(months=plan.horizon + i * plan.step)
        hf = forecast_hierarchy(
            cube,
            origin,
            plan.horizon,
            season_length=season_length,
            accuracy_origins=0,
            **kwargs,
        )
        hist = build_series(cube, origin, value=value, detail=detail)
        s = series_accuracy(hf.forecast, actual_long, hist, season_length=season_length)
        s.insert(0, "origin", origin)
        per.append(s)
    per_series = pd.concat(per, ignore_index=True)
    return accuracy_by_level(per_series), per_series
