"""Forecast engine: statsmodels candidates chosen or combined by a rolling-origin backtest.

Public API::

    forecast(df, horizon, levels=(80, 95), *, season_length=12, models=None, n_origins=3,
             n_jobs=None, scheduler=None, method="default") -> pd.DataFrame
    run_forecast(...same...) -> ForecastResult

``df`` is long: ``series_id`` (str), ``month`` (month start), ``value`` (float). Months missing
inside a series count as 0 (the cube stores only months with sales), and every series is
forecast from the last month present in ``df`` as a whole, so a series that stopped selling
early gets trailing zeros. The result is long: ``series_id, month, mean, median, lo_80, hi_80,
lo_95, hi_95, model`` (one ``lo_/hi_`` pair per level).

``median`` is the point forecast (the one to score with absolute errors: MAE, MASE, MAPE) and
``mean`` the expected value (the one to add up). They differ only for series modelled on the
log scale (positive series), where ``mean = median * exp(sigma^2 / 2)`` with ``sigma`` the
calibrated log-scale sd at the narrowest interval level, capped at 0.5 (at most +13%).

The method, per series (details in :mod:`salesanalysis.forecast._models`):

* candidates: seasonal naive (the baseline), ETS (statsmodels ``ETSModel``: additive error on
  the log scale for positive series, i.e. multiplicative in effect; trend none or damped;
  seasonality when two seasons of history and a seasonal test finds it; chosen by AICc), ``ThetaModel``, a seasonal ARIMA (``SARIMAX``, airline-type orders searched by AICc),
  and their combination (the median of the four, month by month);
* rolling-origin backtest at ``n_origins`` origins with the requested horizon; each candidate is
  estimated once (at the first origin) and filtered with those parameters at the later ones;
* choice by backtest MASE: the combination, unless a single model scores less than half its
  MASE (rule and factor set on the M3 monthly series; see ``_models._select``);
* only the chosen model(s) are re-estimated on the full history;
* intervals: the chosen model's analytic forecast variance, scaled per series by its backtest
  errors, then by one multiplier per level calibrated on the pooled backtest errors of the run
  (of each group of series when ``calibration_groups`` is given: the hierarchy groups by level).
  ``ForecastResult.coverage`` reports the empirical coverage in the backtest (leave-one-origin-out
  per series, cross-fitted across two halves of the series for the run-wide multiplier).

Awkward series never raise: all zero (forecast 0), stopped (a trailing run of >= 6 zero months
longer than any earlier gap: forecast 0), fewer than 4 months (flat at the mean, wide band),
fewer than two seasons before the first backtest origin (no seasonal model is fitted),
fewer than two full seasons in all (no seasonal part at all: the baseline is the naive forecast;
the forecast sd is at least 10% of the forecast, ``_models.SD_FLOOR``), too short for a
backtest (6 months or fewer: ETS or naive by rule, intervals from the model's residuals),
intermittent or with negative months (raw scale, additive models), late start (leading zeros
dropped). Series that never went negative get forecasts and bounds floored at 0, and
a lower bound of exactly 0 when months without sales are a likely outcome: at least
``(100 - level) / 2`` % of the last 24 months were zero (10% for the 80% interval; see
``_models.zero_is_inside``). Optimiser
warnings are recorded per fit and summarised per model in ``ForecastResult.warnings``; they are
never printed.

``method="fast"`` (for very many series): one backtest origin, no Theta, ARIMA limited to the
airline order, and no re-estimation on the full history (the backtest parameters are applied to
the full history). On the tourism competition set it took 29% of the default's CPU time
(52 vs 181 ms per series) for 2.1% higher MASE (1.422 vs 1.393; ``benchmarks/README.md``).

Parallelism: ``n_jobs=1`` runs in this process; otherwise chunks of series go to worker
processes (spawned with BLAS/OpenMP threads pinned to 1; ``n_jobs=None`` uses every core when
there are enough series to pay for starting the workers). ``scheduler="tcp://host:8786"`` (or a
``distributed.Client`` / ``LocalCluster``) fans the chunks out over a Dask cluster instead.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.errors import ClusterError, InputError, Problem
from salesanalysis.forecast import _models as fm
from salesanalysis.i18n import tr

__all__ = ["forecast", "run_forecast", "Execution", "ForecastResult", "MODELS", "METHODS"]

MODELS: tuple[str, ...] = fm.ALL_MODELS
METHODS: tuple[str, ...] = fm.METHODS

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_MIN_SERIES_PER_WORKER = 25  # below this, starting processes costs more than it saves
_CALIB_PRIOR = 10  # series-equivalents of weight on "no run-wide correction" (multiplier 1)


@dataclass(frozen=True)
class Execution:
    """Where a forecast ran.

    Attributes:
        kind: ``"this process"``, ``"processes"`` (local worker processes) or ``"dask"``.
        workers: the processes or Dask workers that forecast at least one chunk of series.
        address: the Dask scheduler's address (``""`` when local).
        cluster_workers: the workers the Dask cluster had when the run started.
    """

    kind: str = "this process"
    workers: int = 1
    address: str = ""
    cluster_workers: int = 0

    def describe(self) -> str:
        """One line for a terminal: ``Dask cluster tcp://h:8786, 3 of 3 workers``."""
        if self.kind == "dask":
            of = f" of {self.cluster_workers}" if self.cluster_workers else ""
            return f"Dask cluster {self.address}, {self.workers}{of} workers"
        if self.kind == "processes":
            return f"this machine, {self.workers} worker processes"
        return "this machine, one process"


@dataclass
class ForecastResult:
    """What :func:`run_forecast` returns.

    Attributes:
        forecasts: ``series_id, month, mean, median, lo_<l>, hi_<l>..., model`` (one row per
            series and future month; ``mean`` the expected value, ``median`` the point forecast).
        backtest: one row per series and candidate: ``series_id, candidate, model, mase, mae,
            rmse, mape, smape, n_origins, h_backtest, chosen``.
        chosen: one row per series: ``series_id, candidate, model, reason, transform, seasonal,
            n_obs, short, n_origins, backtest_mase, snaive_mase, scale_factor, cov_<l>...``
            (``short``: fewer than two full seasons, so no seasonal part and an interval floor;
            ``n_origins``: backtest origins, 0 when too short to backtest).
        coverage: one row per level: ``level, nominal, empirical, empirical_uncalibrated,
            multiplier, n_points`` (coverage of the backtest errors; see module docstring).
        warnings: one row per model: ``model, fits, failed, warnings, by_category,
            first_message`` (estimations, failed estimations, optimiser warnings).
        execution: where it ran (this process, local processes, a Dask cluster) and how many
            workers took part.
    """

    forecasts: pd.DataFrame
    backtest: pd.DataFrame
    chosen: pd.DataFrame
    coverage: pd.DataFrame
    warnings: pd.DataFrame
    execution: Execution = field(default_factory=Execution)

    def warning_summary(self) -> str:
        """One line per model, e.g. ``arima: 1200 fits, 3 warnings (ConvergenceWarning 3)``."""
        lines = []
        for r in self.warnings.itertuples(index=False):
            extra = f" ({r.by_category})" if r.by_category else ""
            failed = f", {r.failed} failed" if r.failed else ""
            lines.append(f"{r.model}: {r.fits} fits{failed}, {r.warnings} warnings{extra}")
        return "\n".join(lines) if lines else "no model was estimated"


def forecast(
    df: pd.DataFrame,
    horizon: int,
    levels: Sequence[float] = (80, 95),
    *,
    season_length: int = 12,
    models: Iterable[str] | None = None,
    n_origins: int = 3,
    n_jobs: int | None = None,
    scheduler: Any = None,
    method: str = "default",
    calibration_groups: Mapping[str, Any] | pd.Series | None = None,
) -> pd.DataFrame:
    """Forecast every series of ``df`` ``horizon`` months ahead (see the module docstring).

    Returns:
        ``series_id, month, mean, median, lo_<l>, hi_<l> (each level), model``.
    """
    return run_forecast(
        df,
        horizon,
        levels,
        season_length=season_length,
        models=models,
        n_origins=n_origins,
        n_jobs=n_jobs,
        scheduler=scheduler,
        method=method,
        calibration_groups=calibration_groups,
    ).forecasts


def run_forecast(
    df: pd.DataFrame,
    horizon: int,
    levels: Sequence[float] = (80, 95),
    *,
    season_length: int = 12,
    models: Iterable[str] | None = None,
    n_origins: int = 3,
    n_jobs: int | None = None,
    scheduler: Any = None,
    method: str = "default",
    calibration_groups: Mapping[str, Any] | pd.Series | None = None,
) -> ForecastResult:
    """Like :func:`forecast`, and also return the backtest, the choices, coverage and warnings.

    Args:
        df: long frame ``series_id, month, value``.
        horizon: months to forecast (also the backtest horizon).
        levels: interval levels in percent.
        season_length: months per season (12; 1 = no seasonality).
        models: candidates among ``snaive, ets, theta, arima, combo`` (None = all). Seasonal
            naive is always scored as the baseline.
        n_origins: rolling backtest origins (the fast method uses 1).
        n_jobs: worker processes (1 = in this process; None = all cores for many series).
        scheduler: Dask scheduler address (``"tcp://..."``), ``distributed.Client`` or
            ``LocalCluster``; None = local.
        method: ``"default"`` or ``"fast"``.
        calibration_groups: ``series_id -> group`` (a dict or Series). The run-wide interval
            multiplier is then calibrated within each group (e.g. each level of a hierarchy,
            so that thousands of small series do not set the width of the total's interval);
            series not in it form one group. None = one group.

    Raises:
        InputError: malformed frame or arguments (the message says what and how to fix it).
    """
    settings = _settings(horizon, levels, season_length, models, n_origins, method)
    if n_jobs is not None and (not isinstance(n_jobs, int | np.integer) or n_jobs == 0):
        raise InputError(
            tr("n_jobs must be a positive whole number or None, not {value}.").format(
                value=repr(n_jobs)
            ),
            fix=tr("Use n_jobs=1 to run in this process, or None to use every core."),
        )
    ids, series, last = _regularise(df)
    if not ids:
        return _empty_result(settings)

    chunks = _chunks(len(ids), _workers(len(ids), n_jobs, scheduler))
    items = [[(i, series[i]) for i in range(a, b)] for a, b in chunks]
    if scheduler is not None:
        parts, execution = _run_dask(scheduler, settings, items)
    else:
        workers = _workers(len(ids), n_jobs, None)
        if workers <= 1:
            parts = [fm.run_chunk(settings, chunk) for chunk in items]
            execution = Execution()
        else:
            parts, execution = _run_processes(workers, settings, items)

    outs: list[fm.SeriesOutput | None] = [None] * len(ids)
    stats = fm.Stats()
    for results, st in parts:
        stats.merge(st)
        for i, out in results:
            outs[i] = out
    groups = _group_index(ids, calibration_groups)
    result = _assemble(ids, outs, last, settings, stats, groups)  # type: ignore[arg-type]
    result.execution = execution
    return result


# --------------------------------------------------------------------------------------------
# validation and shaping


def _settings(horizon, levels, season_length, models, n_origins, method) -> fm.Settings:
    problems: list[Problem] = []

    def bad(msg: str, fix: str) -> None:
        problems.append(Problem(msg, fix=fix))

    if not isinstance(horizon, int | np.integer) or isinstance(horizon, bool) or horizon < 1:
        bad(
            tr("horizon must be a whole number of months >= 1, not {value}.").format(
                value=repr(horizon)
            ),
            tr("e.g. {example}.").format(example=12),
        )
    try:
        lv = tuple(float(x) for x in levels)
    except (TypeError, ValueError):
        lv = ()
        bad(
            tr("levels must be numbers between 0 and 100, not {value}.").format(
                value=repr(levels)
            ),
            tr("e.g. {example}.").format(example="(80, 95)"),
        )
    lv = tuple(int(x) if float(x).is_integer() else x for x in lv)
    if any(not 0 < x < 100 for x in lv) or len(set(lv)) != len(lv):
        bad(
            tr(
                "levels must be distinct percentages strictly between 0 and 100, not {value}."
            ).format(value=repr(levels)),
            tr("e.g. {example}.").format(example="(80, 95)"),
        )
    if not isinstance(season_length, int | np.integer) or season_length < 1:
        bad(
            tr("season_length must be a whole number >= 1, not {value}.").format(
                value=repr(season_length)
            ),
            tr("12 for monthly data; 1 for no seasonality."),
        )
    chosen = tuple(fm.ALL_MODELS) if models is None else tuple(str(x) for x in models)
    unknown = [x for x in chosen if x not in fm.ALL_MODELS]
    if unknown or not chosen:
        bad(
            tr("unknown or no models: {models}.").format(models=unknown or list(chosen)),
            tr("Choose among {models} (or None for all).").format(models=", ".join(fm.ALL_MODELS)),
        )
    if not isinstance(n_origins, int | np.integer) or n_origins < 1:
        bad(
            tr("n_origins must be a whole number >= 1, not {value}.").format(
                value=repr(n_origins)
            ),
            tr("e.g. {example}.").format(example=3),
        )
    if method not in fm.METHODS:
        bad(
            tr("method must be one of {methods}, not {value}.").format(
                methods=", ".join(fm.METHODS), value=repr(method)
            ),
            tr("Use 'default', or 'fast' for very many series."),
        )
    if problems:
        raise InputError(tr("The forecast settings are invalid."), problems)
    return fm.Settings(
        int(horizon), tuple(sorted(lv)), int(season_length), chosen, int(n_origins), method
    )


def _regularise(df: pd.DataFrame) -> tuple[list[str], list[np.ndarray], pd.Period | None]:
    """Validate the long frame; one regular monthly array per series up to the last month."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(
            tr("The forecast input must be a table (DataFrame), not {type}.").format(
                type=type(df).__name__
            )
        )
    missing = [c for c in ("series_id", "month", "value") if c not in df.columns]
    if missing:
        raise InputError(
            tr("The forecast input lacks the column(s) {columns}.").format(
                columns=", ".join(missing)
            ),
            fix=tr("Pass a long table with columns series_id, month, value."),
        )
    if df.empty:
        return [], [], None
    problems: list[Problem] = []
    try:
        month = pd.to_datetime(df["month"]).dt.to_period("M")
    except (ValueError, TypeError) as exc:
        raise InputError(
            tr("The forecast input has values in 'month' that are not dates."),
            fix=tr("Use the first day of each month, e.g. 2025-01-01."),
        ) from exc
    value = pd.to_numeric(df["value"], errors="coerce").to_numpy(dtype=float)
    sid = df["series_id"].astype(str).to_numpy()
    bad = ~np.isfinite(value) | month.isna().to_numpy()
    if bad.any():
        rows = (np.flatnonzero(bad)[:5] + 2).tolist()
        problems.append(
            Problem(
                tr("Some rows have no month or a value that is not a finite number."),
                column="value",
                rows=rows,
                count=int(bad.sum()),
                values=df["value"].to_numpy()[bad][:5].tolist(),
                fix=tr("Use 0 for months without sales, or drop the row."),
            )
        )
    mi = np.where(bad, 0, np.asarray(month.array.asi8, dtype=np.int64))
    frame = pd.DataFrame({"sid": sid, "mi": mi})
    dup = frame.duplicated(["sid", "mi"], keep=False).to_numpy() & ~bad
    if dup.any():
        rows = (np.flatnonzero(dup)[:5] + 2).tolist()
        problems.append(
            Problem(
                tr("Some series have more than one row for the same month."),
                column="month",
                rows=rows,
                count=int(dup.sum()),
                values=[f"{s} {m}" for s, m in zip(sid[dup][:5], month[dup][:5], strict=False)],
                fix=tr("Sum the values per series and month before forecasting."),
            )
        )
    if problems:
        raise InputError(tr("The forecast input is invalid."), problems)
    last = int(mi.max())
    codes, ids = pd.factorize(sid, sort=True)
    order = np.lexsort((mi, codes))
    codes, mi_s, val_s = codes[order], mi[order], value[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    series = []
    for m_, v in zip(np.split(mi_s, bounds), np.split(val_s, bounds), strict=True):
        arr = np.zeros(last - int(m_[0]) + 1)
        arr[m_ - m_[0]] = v
        series.append(arr)
    return [str(x) for x in ids], series, pd.Period(ordinal=last, freq="M")


def _empty_result(s: fm.Settings) -> ForecastResult:
    cols = ["series_id", "month", "mean", "median"]
    for lev in s.levels:
        cols += [f"lo_{lev}", f"hi_{lev}"]
    fc = pd.DataFrame({c: pd.Series(dtype=float) for c in cols + ["model"]})
    fc["series_id"] = fc["series_id"].astype(str)
    fc["model"] = fc["model"].astype(str)
    fc["month"] = pd.Series(dtype="datetime64[ns]")
    return ForecastResult(
        fc,
        pd.DataFrame(
            columns=[
                "series_id",
                "candidate",
                "model",
                "mase",
                "mae",
                "rmse",
                "mape",
                "smape",
                "n_origins",
                "h_backtest",
                "chosen",
            ]
        ),
        pd.DataFrame(columns=["series_id", "candidate", "model", "reason"]),
        _coverage_frame(s.levels, [], [], {}),
        _warnings_frame(fm.Stats()),
    )


# --------------------------------------------------------------------------------------------
# execution


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def _workers(n_series: int, n_jobs: int | None, scheduler: Any) -> int:
    if scheduler is not None:
        return max(1, min(n_series, 4 * _cores()))
    if n_jobs is None:
        return max(1, min(_cores(), n_series // _MIN_SERIES_PER_WORKER))
    if n_jobs < 0:
        return max(1, min(_cores(), n_series))
    return max(1, min(int(n_jobs), n_series))


def _chunks(n: int, workers: int) -> list[tuple[int, int]]:
    """About four chunks per worker (load balance), at most 200 series each."""
    if workers <= 1:
        size = max(1, min(n, 200))
    else:
        size = max(1, min(200, math.ceil(n / (4 * workers))))
    return [(a, min(n, a + size)) for a in range(0, n, size)]


@contextmanager
def _single_threaded_children():
    """Set BLAS/OpenMP thread counts to 1 in the environment that spawned workers inherit."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    os.environ.update({k: "1" for k in _THREAD_VARS})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_chunk_here(settings: fm.Settings, chunk: list) -> tuple[Any, str]:
    """:func:`fm.run_chunk` in a worker, with the worker that ran it: a Dask worker's address,
    else the process id."""
    try:
        from distributed import get_worker

        who = get_worker().address
    except (ImportError, ValueError):  # not on a Dask worker
        who = f"pid {os.getpid()}"
    return fm.run_chunk(settings, chunk), who


def _run_processes(workers: int, settings: fm.Settings, items: list) -> tuple[list, Execution]:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # safe under Jupyter kernels and threads; fresh BLAS state
    with _single_threaded_children():
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=fm.init_worker,
            initargs=(os.getpid(),),  # workers exit when this process dies, however it dies
        )
        try:
            futures = [pool.submit(_run_chunk_here, settings, chunk) for chunk in items]
            done = [f.result() for f in futures]
            took_part = len({who for _, who in done})
            return [part for part, _ in done], Execution("processes", took_part)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(scheduler: Any, settings: fm.Settings, items: list) -> tuple[list, Execution]:
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - optional dependency
        raise InputError(
            tr("A Dask scheduler was given but dask.distributed is not installed."),
            fix=tr("pip install 'salesanalysis[dask]', or run without a scheduler."),
        ) from exc
    own = False
    if isinstance(scheduler, Client):
        client = scheduler
    else:
        address = getattr(scheduler, "scheduler_address", scheduler)
        if not isinstance(address, str):
            raise InputError(
                tr(
                    "scheduler must be an address like 'tcp://host:8786', a Client or a "
                    "cluster, not {type}."
                ).format(type=type(scheduler).__name__)
            )
        try:
            client = Client(address, timeout="20s", set_as_default=False)
        except OSError as exc:
            raise InputError(
                tr("Could not reach the Dask scheduler at {address}.").format(address=address),
                fix=tr("Check the address and that the scheduler is running, or leave it empty."),
            ) from exc
        own = True
    try:
        n_workers = _check_cluster(client, _worker_timeout())
        futures = client.map(_run_chunk_here, [settings] * len(items), items, pure=False)
        done = client.gather(futures)
        took_part = len({who for _, who in done})
        address = getattr(getattr(client, "scheduler", None), "address", "") or ""
        return [part for part, _ in done], Execution("dask", took_part, address, n_workers)
    finally:
        if own:
            client.close()


def _worker_timeout() -> float:
    """Seconds to wait for a Dask cluster's first worker (env SALESANALYSIS_DASK_TIMEOUT)."""
    raw = os.environ.get("SALESANALYSIS_DASK_TIMEOUT", "60")
    try:
        return max(1.0, float(raw))
    except ValueError:
        return 60.0


def _probe_worker() -> str:
    """Run on each worker: it can import the forecasting code (the package is installed)."""
    from salesanalysis.forecast import _models  # noqa: F401

    return "ok"


def _check_cluster(client: Any, timeout: float) -> int:
    """Check, within ``timeout`` seconds, that the cluster has workers and that every worker
    can import this package; returns the number of workers.

    Raises:
        ClusterError: no worker joined in time, or a worker cannot import the package (the
            message names the worker and the cause, which is otherwise only in its own log).
    """
    address = getattr(client, "scheduler", None)
    address = getattr(address, "address", "") or tr("the Dask scheduler")
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError) as exc:
        raise ClusterError(
            tr("{address} has no workers (waited {seconds} s).").format(
                address=address, seconds=f"{timeout:.0f}"
            ),
            fix=tr(
                "Start one with {command} on a machine where this package is installed, or run "
                "without --scheduler (local processes). The wait is set by the environment "
                "variable SALESANALYSIS_DASK_TIMEOUT (seconds)."
            ).format(command=f"`dask worker {address}`"),
        ) from exc
    answers = client.run(_probe_worker, on_error="return")
    broken = {w: a for w, a in answers.items() if a != "ok"}
    if broken:
        worker, cause = next(iter(broken.items()))
        raise ClusterError(
            tr("{n} of {total} Dask workers cannot run the forecast; {worker}: {cause}").format(
                n=len(broken),
                total=len(answers),
                worker=worker,
                cause=f"{type(cause).__name__}: {cause}",
            ),
            fix=tr(
                "Install this package (same version) in the Python environment of every "
                "worker and restart them, or run without --scheduler (local processes)."
            ),
        )
    return len(answers)


# --------------------------------------------------------------------------------------------
# assembling the result


def _group_index(ids: list[str], groups: Any) -> list[np.ndarray]:
    """Positions of the series of each calibration group (one group when ``groups`` is None)."""
    if groups is None:
        return [np.arange(len(ids))]
    if isinstance(groups, pd.Series):
        groups = groups.to_dict()
    if not isinstance(groups, Mapping):
        raise InputError(
            tr("calibration_groups must map series_id to a group, not {type}.").format(
                type=type(groups).__name__
            ),
            fix=tr("Pass a dict or a pandas Series indexed by series_id, or None."),
        )

    codes, _ = pd.factorize(pd.Series([str(groups.get(i, "")) for i in ids]))
    return [np.flatnonzero(codes == k) for k in range(codes.max() + 1)]


def _assemble(ids, outs, last, s: fm.Settings, stats: fm.Stats, groups) -> ForecastResult:
    h = s.horizon
    zs = [o.zabs for o in outs]
    mult = {lev: np.ones(len(outs)) for lev in s.levels}  # per series: its group's multiplier
    for g in groups:
        for lev in s.levels:
            mult[lev][g] = _multiplier(zs, lev, g)

    months = pd.period_range(last + 1, periods=h, freq="M").to_timestamp()
    n = len(ids)
    data: dict[str, Any] = {
        "series_id": np.repeat(np.array(ids, dtype=object), h),
        "month": np.tile(months.to_numpy(), n),
        "mean": np.concatenate([o.mean(mult[s.levels[0]][i]) for i, o in enumerate(outs)]),
        "median": np.concatenate([o.median() for o in outs]),
    }
    for lev in s.levels:
        pairs = [o.bounds(lev, mult[lev][i]) for i, o in enumerate(outs)]
        data[f"lo_{lev}"] = np.concatenate([p[0] for p in pairs])
        data[f"hi_{lev}"] = np.concatenate([p[1] for p in pairs])
    data["model"] = np.repeat(np.array([o.model for o in outs], dtype=object), h)
    fc = pd.DataFrame(data)
    fc["series_id"] = fc["series_id"].astype(str)
    fc["model"] = fc["model"].astype(str)

    bt_rows = []
    ch_rows = []
    for k, (sid, o) in enumerate(zip(ids, outs, strict=True)):
        score = {}
        for r in o.backtest:
            bt_rows.append({"series_id": sid, **r})
            score[r["candidate"]] = r["mase"]
        row = {
            "series_id": sid,
            "candidate": _family(o.model),
            "model": o.model,
            "reason": o.reason,
            "transform": "log" if o.log else "none",
            "seasonal": o.seasonal,
            "n_obs": o.n_obs,
            "short": fm.is_short(o.n_obs, s.season_length),
            "n_origins": o.n_origins,
            "backtest_mase": min(
                (r["mase"] for r in o.backtest if r.get("chosen")), default=math.nan
            ),
            "snaive_mase": score.get("snaive", math.nan),
            "scale_factor": o.scale_factor,
        }
        for lev in s.levels:
            zq = NormalDist().inv_cdf(0.5 + lev / 200) * mult[lev][k]
            row[f"cov_{lev}"] = float(np.mean(o.zabs <= zq)) if o.zabs.size else math.nan
        ch_rows.append(row)
    bt_cols = [
        "series_id",
        "candidate",
        "model",
        "mase",
        "mae",
        "rmse",
        "mape",
        "smape",
        "n_origins",
        "h_backtest",
        "chosen",
    ]
    backtest = pd.DataFrame(bt_rows, columns=bt_cols)
    for c in ("series_id", "candidate", "model"):
        backtest[c] = backtest[c].astype(str)
    backtest["chosen"] = backtest["chosen"].astype(bool)
    chosen = pd.DataFrame(ch_rows)
    for c in ("series_id", "candidate", "model", "reason", "transform"):
        chosen[c] = chosen[c].astype(str)
    return ForecastResult(
        fc, backtest, chosen, _coverage_frame(s.levels, zs, groups, mult), _warnings_frame(stats)
    )


def _family(label: str) -> str:
    head = label.split("[", 1)[0].split("(", 1)[0]
    return head


def _multiplier(zs: list[np.ndarray], level: float, idx: Iterable[int] | None = None) -> float:
    """Run-wide factor so that the pooled backtest coverage at ``level`` is nominal (shrunk)."""
    sel = [zs[i] for i in (range(len(zs)) if idx is None else idx) if zs[i].size]
    if not sel:
        return 1.0
    z = np.concatenate(sel)
    raw = float(np.quantile(z, level / 100)) / NormalDist().inv_cdf(0.5 + level / 200)
    if not np.isfinite(raw) or raw <= 0:
        return 1.0
    raw = min(max(raw, 0.5), 2.0)
    w = len(sel) / (len(sel) + _CALIB_PRIOR)
    return float(math.exp(w * math.log(raw)))


def _coverage_frame(levels, zs, groups, mult) -> pd.DataFrame:
    """Backtest coverage per level, cross-fitted: within each calibration group, the multiplier
    of one half of the series scores the other half. ``multiplier`` is the geometric mean of
    the series' multipliers (the one multiplier when there is one group)."""
    rows = []
    idx = [i for i in range(len(zs)) if zs[i].size]
    for lev in levels:
        zq = NormalDist().inv_cdf(0.5 + lev / 200)
        pooled = np.concatenate([zs[i] for i in idx]) if idx else np.empty(0)
        inside = total = 0
        for g in groups:
            gi = [int(i) for i in g if zs[i].size]
            halves = (gi[0::2], gi[1::2])
            for a, b in (halves, halves[::-1]):
                if not b:
                    continue
                mb = _multiplier(zs, lev, a) if a else 1.0
                zb = np.concatenate([zs[i] for i in b])
                inside += int(np.sum(zb <= zq * mb))
                total += zb.size
        m = mult.get(lev)
        rows.append(
            {
                "level": lev,
                "nominal": lev / 100,
                "empirical": inside / total if total else math.nan,
                "empirical_uncalibrated": float(np.mean(pooled <= zq))
                if pooled.size
                else math.nan,
                "multiplier": float(np.exp(np.mean(np.log(m))))
                if m is not None and m.size
                else 1.0,
                "n_points": int(pooled.size),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "level",
            "nominal",
            "empirical",
            "empirical_uncalibrated",
            "multiplier",
            "n_points",
        ],
    )


def _warnings_frame(st: fm.Stats) -> pd.DataFrame:
    names = sorted(set(st.fits) | set(st.warns) | set(st.fails))
    rows = []
    for name in names:
        cats = st.warns.get(name, {})
        rows.append(
            {
                "model": name,
                "fits": st.fits.get(name, 0),
                "failed": st.fails.get(name, 0),
                "warnings": sum(cats.values()),
                "by_category": ", ".join(f"{k} {v}" for k, v in sorted(cats.items())),
                "first_message": st.first_msg.get(name, ""),
            }
        )
    return pd.DataFrame(
        rows, columns=["model", "fits", "failed", "warnings", "by_category", "first_message"]
    )
