"""Step 02's sentences, made from the run's facts (:class:`~.facts.ForecastFacts`): what was
forecast with which models, the backtest, seasonality, intervals, and the accuracy check by
level. The notebook displays them; it does not say anything the facts do not."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

from salesanalysis import i18n
from salesanalysis.forecast.facts import ForecastFacts
from salesanalysis.i18n import N_, tr
from salesanalysis.report.formatting import money, number, pct

__all__ = [
    "MODEL_NAMES",
    "accuracy_statement",
    "backtest_statement",
    "compute_note",
    "compute_statement",
    "forecast_by",
    "method_statement",
    "outlook_statement",
    "run_statement",
]

_Z80 = NormalDist().inv_cdf(0.9)

MODEL_NAMES = {
    "snaive": N_("seasonal naive"),
    "naive": N_("naive (last month)"),
    "ets": "ETS",
    "theta": "Theta",
    "arima": "ARIMA",
    "combo_median": N_("the median of the models"),
    "combo": N_("the median of the models"),
}
"""Model names in English; shown through :func:`~salesanalysis.i18n.tr`."""


def _model(m: str) -> str:
    return tr(MODEL_NAMES[m]) if m in MODEL_NAMES else m


def _names(items) -> str:
    items = [_model(x) for x in items]
    if len(items) <= 1:
        return "".join(items)
    return tr("{items} and {last}").format(items=tr(", ").join(items[:-1]), last=items[-1])


def _n(k: int, one: str, many: str) -> str:
    """A count with its noun: ``one``/``many`` are msgids with ``{n}``."""
    return tr(one if k == 1 else many).format(n=number(k))


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _join(parts) -> str:
    """Sentences joined: with a space in English, without in Chinese."""
    return ("" if i18n.language() == "zh" else " ").join(p for p in parts if p)


def _series(k: int) -> str:
    return _n(k, N_("{n} series"), N_("{n} series"))


def _origins(k: int) -> str:
    return _n(k, N_("{n} earlier origin"), N_("{n} earlier origins"))


def _workers(k: int) -> str:
    return _n(k, N_("{n} worker"), N_("{n} workers"))


def _models_sentence(f: ForecastFacts) -> str:
    singles = [m for m in f.models_run if m != "combo_median"]
    if not singles:
        return tr("No series needed a model.")
    text = (
        tr("Models that ran: {models}, and their median, month by month.")
        if "combo_median" in f.models_run
        else tr("Models that ran: {models}.")
    ).format(models=_names(singles))
    if f.models_not_run:
        text = _join(
            [text]
            + [
                _cap(tr("{model} did not run: {why}.").format(model=_model(m), why=tr(why)))
                for m, why in f.models_not_run.items()
            ]
        )
    return text


_FLAT = {"zero": N_("all zero"), "stopped": N_("stopped selling"), "mean": N_("under 4 months")}


def _choice_sentence(f: ForecastFacts) -> str:
    parts = []
    if f.backtested:
        parts.append(
            tr(
                "{series} got the model with the best backtest: the median of the models, or a "
                "single model where it had half the median's error or less"
            ).format(series=_series(f.backtested))
        )
    if f.rule_based:
        parts.append(
            tr(
                "{series} too short to backtest got a model by rule: ETS with 6 months or more, "
                "else the naive forecast"
            ).format(series=_series(f.rule_based))
        )
    if f.flat:
        flat = tr(", ").join(
            tr("{n} {kind}").format(n=number(n), kind=tr(_FLAT[k]) if k in _FLAT else k)
            for k, n in f.flat.items()
        )
        parts.append(tr("series forecast flat without a model: {flat}").format(flat=flat))
    text = _cap(tr("; ").join(parts)) + tr(".") if parts else ""
    if f.chosen:
        used = tr(", ").join(
            tr("{model} {n}").format(model=_model(k), n=number(n))
            for k, n in sorted(f.chosen.items(), key=lambda kv: -kv[1])
        )
        text = _join([text, tr("Series forecast by each model: {used}.").format(used=used)])
    return text.strip()


def _backtest_sentence(f: ForecastFacts) -> str:
    if f.origins_used == 0:
        return tr(
            "No backtest: every series was too short for one (a backtest needs at least 7 "
            "months of a series)."
        )
    origins = (
        _origins(f.origins_used)
        if f.origins_min == f.origins_used
        else tr("{low} to {high} earlier origins").format(low=f.origins_min, high=f.origins_used)
    )
    fewer = ""
    if f.origins_used < f.backtest_origins:
        fewer = tr(" ({n} asked for; the history holds no more)").format(n=f.backtest_origins)
    shorter = ""
    if f.backtest_horizon < f.horizon:
        shorter = tr(" (the horizon is {horizon}; the history is too short for more)").format(
            horizon=f.horizon
        )
    return tr("Backtest: {origins}{fewer}, scoring up to {months} months ahead{shorter}.").format(
        origins=origins, fewer=fewer, months=f.backtest_horizon, shorter=shorter
    )


def _seasonal_sentence(f: ForecastFacts) -> str:
    if f.modelled == 0:
        return ""
    if not f.seasonal_why:
        return tr("Seasonality: every modelled series has a seasonal part.")
    if f.seasonal == 0:
        return tr("Seasonality: none, because {why}.").format(why=f.seasonal_why)
    return tr("Seasonality: {why}.").format(why=f.seasonal_why)


def _interval_sentence(f: ForecastFacts) -> str:
    if f.origins_used:
        text = tr(
            "Intervals: the chosen model's spread from its residuals, widened or narrowed by its "
            "backtest errors and by one factor per level calibrated on all backtest errors"
        )
    else:
        text = tr(
            "Intervals: the chosen model's spread from its residuals (no backtest to calibrate "
            "them on)"
        )
    if f.short:
        text += tr(
            "; {series} with under two full years of history have a floor: the forecast's "
            "standard deviation is at least {floor} of the forecast (an 80% interval of at "
            "least about ±13%)"
        ).format(series=_series(f.short), floor=pct(f.interval_floor, 0))
    return text + tr(".")


_METHODS = {"default": N_("default"), "fast": N_("fast")}


def method_statement(f: ForecastFacts) -> str:
    """What was done, in a paragraph: history, models, choice, backtest, seasonality, intervals."""
    head = tr("History: {months} months ({start} to {end}); engine setting `{method}`.").format(
        months=f.history_months,
        start=f"{f.history_start:%Y-%m}",
        end=f"{f.cutoff:%Y-%m}",
        method=tr(_METHODS[f.method]) if f.method in _METHODS else f.method,
    )
    parts = [
        head,
        _models_sentence(f),
        _choice_sentence(f),
        _backtest_sentence(f),
        _seasonal_sentence(f),
        _interval_sentence(f),
        compute_statement(f),
    ]
    return _join(parts)


def compute_statement(f: ForecastFacts) -> str:
    """Where the forecast was computed and how many workers took part ('' when the engine
    does not say)."""
    if f.ran_on == "dask":
        if f.cluster_workers:
            return tr(
                "Computed on the Dask cluster at {cluster}: {workers} of its {total} took part."
            ).format(
                cluster=f.cluster, workers=_workers(f.workers), total=_workers(f.cluster_workers)
            )
        return tr("Computed on the Dask cluster at {cluster}: {workers} took part.").format(
            cluster=f.cluster, workers=_workers(f.workers)
        )
    if f.ran_on == "processes":
        return tr("Computed on this machine in {processes}.").format(
            processes=_n(f.workers, N_("{n} worker process"), N_("{n} worker processes"))
        )
    if f.ran_on == "this process":
        return tr("Computed on this machine in one process.")
    return ""


def _processes(k: int) -> str:
    return "1 worker process" if k == 1 else f"{k:,} worker processes"


def compute_note(f: ForecastFacts) -> str:
    """The same for the terminal line of the step and the appendix's run record: ``Dask
    cluster tcp://h:8786, 3 of 3 workers`` or ``local, 2 worker processes`` ('' when the engine
    does not say), in the report's language."""
    if f.ran_on == "dask":
        if f.cluster_workers:
            return tr("Dask cluster {cluster}, {workers} of {total} workers").format(
                cluster=f.cluster, workers=f.workers, total=f.cluster_workers
            )
        return tr("Dask cluster {cluster}, {workers} workers").format(
            cluster=f.cluster, workers=f.workers
        )
    if f.ran_on == "processes":
        if f.workers == 1:
            return tr("local, 1 worker process")
        return tr("local, {n} worker processes").format(n=f"{f.workers:,}")
    if f.ran_on == "this process":
        return tr("local, one process")
    return ""


def backtest_statement(f: ForecastFacts) -> str:
    """The lead-in of the backtest tables: how the scores were made (or that there are none)."""
    if f.origins_used == 0:
        return tr(
            "There is no backtest: every series was too short for one, so the models were "
            "chosen by rule and the tables below are empty."
        )
    where = (
        tr("at {origins}").format(origins=_origins(f.origins_used))
        if f.origins_min == f.origins_used
        else tr("at {low} to {high} earlier origins (fewer for shorter series)").format(
            low=f.origins_min, high=f.origins_used
        )
    )
    return tr(
        "Each candidate model was estimated on the history before the first origin and "
        "scored {where} on the up to {months} months that followed (MASE: mean absolute error "
        "divided by the in-sample error of the naive benchmark, seasonal naive for series with "
        "two full years or more, else the last month; below 1 beats that benchmark). *chosen* "
        "is each series' own choice; *vs baseline* is the score relative to the baseline on the "
        "same series."
    ).format(where=where, months=f.backtest_horizon)


def accuracy_statement(f: ForecastFacts) -> str:
    """The lead-in of the accuracy check by level: how it was run, or why it was not."""
    a = f.accuracy
    if a.origins == 0:
        return tr(
            "The check of reconciled against unreconciled forecasts was skipped: {why}."
        ).format(why=a.note)
    back = (
        tr(
            "from {origins} ({step} months apart; the latest {horizon} months before the cutoff)"
        ).format(origins=_origins(a.origins), step=a.step, horizon=a.horizon)
        if a.origins > 1
        else tr("from one earlier origin, {horizon} months before the cutoff,").format(
            horizon=a.horizon
        )
    )
    text = tr(
        "The whole procedure (models, backtest, reconciliation) was rerun {back} and scored "
        "against what then happened over {horizon} months: the engine's own forecasts against "
        "the reconciled ones. *change* compares mean MASE, *median change* the median, *Rel. "
        "MAE* is the geometric mean of each series' MAE ratio (below 1 = reconciliation "
        "helped), *improved* the share of series that got better. *Coverage 80%* and *Coverage "
        "95%* are the shares of actual months that fell inside the reconciled 80% and 95% "
        "intervals (they should be close to 80% and 95%; a level with few series has few "
        "months, so read them with care)."
    ).format(back=back, horizon=a.horizon)
    if a.note:
        text = _join([text, tr("The check was {note}.").format(note=a.note)])
    return text


def run_statement(info: dict, forecast: pd.DataFrame, max_gap: float, currency: str) -> str:
    """The forecast run in one paragraph: history, horizon, series, reconciliation and the
    largest gap left between a level and the sum of the level below (for the appendix)."""
    text = tr(
        "History {start} to {cutoff}; forecast {horizon} months to {end}. {series} series in the "
        "hierarchy, {forecast_series} forecast by the engine; {inactive} had no sales in the "
        "last 12 months or belong to one of the {left} reps who have left, and are forecast at "
        "0."
    ).format(
        start=f"{info['history_start']:%Y-%m}",
        cutoff=f"{info['cutoff']:%Y-%m}",
        horizon=info["horizon"],
        end=f"{forecast['month'].max():%Y-%m}",
        series=number(info["series"]),
        forecast_series=number(info["forecast_series"]),
        inactive=number(info["inactive_series"]),
        left=number(info["left_reps"]),
    )
    method = f"`{info['method']}`"
    if info.get("shrinkage") is not None:
        method = tr("{method} (shrinkage intensity {value})").format(
            method=method, value=number(info["shrinkage"], 2)
        )
    rest = tr(
        "Reconciliation {method}: the largest gap between any level and the sum of the level "
        "below is {gap} {currency}; {log} log-scale forecasts were converted from medians to "
        "means, and {zeroed} negative series-months of the lowest level were set to 0."
    ).format(
        method=method,
        gap=f"{max_gap:.2g}",
        currency=i18n.currency_suffix(currency),
        log=number(info["log_corrected"]),
        zeroed=number(info["zeroed"]),
    )
    return _join([text, rest])


# --------------------------------------------------------------------------- the outlook


def _last_year(
    forecast: pd.DataFrame, history: pd.DataFrame, level: str
) -> tuple[pd.Series, bool]:
    """History of ``level`` in the forecast months a year earlier, summed per key (the
    level's key column, or the total), and whether the history covers all those months."""
    months = pd.DatetimeIndex(forecast["month"].unique()) - pd.DateOffset(years=1)
    covered = bool(months.isin(pd.DatetimeIndex(history["month"].unique())).all())
    h = history[(history["level"] == level) & history["month"].isin(months)]
    key = level if level in h.columns else None
    return (h.groupby(key)["value"].sum() if key else pd.Series({"*": h["value"].sum()})), covered


def outlook_statement(forecast: pd.DataFrame, history: pd.DataFrame, currency: str) -> str:
    """The company's forecast over the horizon, against the same months a year earlier (when the
    history covers them all) and against the last 12 months (or as many as there are)."""
    tot = forecast[forecast["level"] == "total"]
    hist = history[history["level"] == "total"].set_index("month")["value"].sort_index()
    total = float(tot["mean"].sum())
    n_last = min(12, len(hist))
    last = float(hist.iloc[-n_last:].sum())
    ly, covered = _last_year(tot, history, "total")
    if covered and float(ly.sum()):
        return tr(
            "Forecast for the next {months} months: **{total}**, against {last_year} in the same "
            "months a year earlier ({growth}) and {last} in the last {n_last} months."
        ).format(
            months=len(tot),
            total=money(total, currency),
            last_year=money(float(ly.sum()), currency),
            growth=pct(total / float(ly.sum()) - 1, signed=True),
            last=money(last, currency),
            n_last=n_last,
        )
    return tr(
        "Forecast for the next {months} months: **{total}** (the history does not cover the "
        "same months a year earlier: no comparison) and {last} in the last {n_last} months."
    ).format(
        months=len(tot), total=money(total, currency), last=money(last, currency), n_last=n_last
    )


def forecast_by(forecast: pd.DataFrame, history: pd.DataFrame, level: str) -> pd.DataFrame:
    """Forecast of each key of ``level`` over the horizon: ``<level>, forecast,
    before_reconciliation, last_year, growth`` (last year and growth are empty when the history
    does not cover the same months a year earlier), largest first."""
    f = forecast[forecast["level"] == level]
    out = (
        f.groupby(level, as_index=False)[["mean", "base_mean"]]
        .sum()
        .rename(columns={"mean": "forecast", "base_mean": "before_reconciliation"})
        .sort_values("forecast", ascending=False)
    )
    ly, covered = _last_year(f, history, level)
    out["last_year"] = out[level].map(ly) if covered else np.nan
    out["growth"] = out["forecast"] / out["last_year"].where(out["last_year"] > 0) - 1
    return out.reset_index(drop=True)
