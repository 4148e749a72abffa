"""Step 02's sentences, made from the run's facts (:class:`~.facts.ForecastFacts`): what was
forecast with which models, the backtest, seasonality, intervals, and the accuracy check by
level. The notebook displays them; it does not say anything the facts do not."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

from salesanalysis.forecast.facts import ForecastFacts
from salesanalysis.report.formatting import money, pct

__all__ = [
    "MODEL_NAMES",
    "accuracy_statement",
    "backtest_statement",
    "compute_note",
    "compute_statement",
    "forecast_by",
    "method_statement",
    "outlook_statement",
]

_Z80 = NormalDist().inv_cdf(0.9)

MODEL_NAMES = {
    "snaive": "seasonal naive",
    "naive": "naive (last month)",
    "ets": "ETS",
    "theta": "Theta",
    "arima": "ARIMA",
    "combo_median": "the median of the models",
    "combo": "the median of the models",
}


def _names(items) -> str:
    items = [MODEL_NAMES.get(x, x) for x in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _n(k: int, word: str) -> str:
    plural = word if word.endswith("series") else word + "s"
    return f"{k:,} {word if k == 1 else plural}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _models_sentence(f: ForecastFacts) -> str:
    singles = [m for m in f.models_run if m != "combo_median"]
    if not singles:
        return "No series needed a model."
    text = f"Models that ran: {_names(singles)}"
    if "combo_median" in f.models_run:
        text += ", and their median, month by month"
    text += "."
    if f.models_not_run:
        text += " " + " ".join(
            _cap(f"{MODEL_NAMES.get(m, m)} did not run: {why}.")
            for m, why in f.models_not_run.items()
        )
    return text


def _choice_sentence(f: ForecastFacts) -> str:
    parts = []
    if f.backtested:
        parts.append(
            f"{_n(f.backtested, 'series')} got the model with the best backtest: the median of the "
            "models, or a single model where it had half the median's error or less"
        )
    if f.rule_based:
        parts.append(
            f"{_n(f.rule_based, 'series')} too short to backtest got a model by rule: ETS with "
            "6 months or more, else the naive forecast"
        )
    if f.flat:
        labels = {"zero": "all zero", "stopped": "stopped selling", "mean": "under 4 months"}
        flat = ", ".join(f"{n:,} {labels.get(k, k)}" for k, n in f.flat.items())
        parts.append(f"series forecast flat without a model: {flat}")
    text = _cap("; ".join(parts)) + "." if parts else ""
    if f.chosen:
        used = ", ".join(
            f"{MODEL_NAMES.get(k, k)} {n:,}"
            for k, n in sorted(f.chosen.items(), key=lambda kv: -kv[1])
        )
        text += f" Series forecast by each model: {used}."
    return text.strip()


def _backtest_sentence(f: ForecastFacts) -> str:
    if f.origins_used == 0:
        return (
            "No backtest: every series was too short for one (a backtest needs at least 7 "
            "months of a series)."
        )
    origins = (
        _n(f.origins_used, "earlier origin")
        if f.origins_min == f.origins_used
        else f"{f.origins_min} to {f.origins_used} earlier origins"
    )
    fewer = ""
    if f.origins_used < f.backtest_origins:
        fewer = f" ({f.backtest_origins} asked for; the history holds no more)"
    return (
        f"Backtest: {origins}{fewer}, scoring up to {f.backtest_horizon} months ahead"
        + (
            f" (the horizon is {f.horizon}; the history is too short for more)"
            if f.backtest_horizon < f.horizon
            else ""
        )
        + "."
    )


def _seasonal_sentence(f: ForecastFacts) -> str:
    if f.modelled == 0:
        return ""
    if not f.seasonal_why:
        return "Seasonality: every modelled series has a seasonal part."
    if f.seasonal == 0:
        return f"Seasonality: none, because {f.seasonal_why}."
    return f"Seasonality: {f.seasonal_why}."


def _interval_sentence(f: ForecastFacts) -> str:
    text = "Intervals: the chosen model's spread from its residuals"
    text += (
        ", widened or narrowed by its backtest errors and by one factor per level calibrated on "
        "all backtest errors"
        if f.origins_used
        else " (no backtest to calibrate them on)"
    )
    if f.short:
        text += (
            f"; {_n(f.short, 'series')} with under two full years of history have a floor: "
            f"the forecast's standard deviation is at least {f.interval_floor:.0%} of the "
            "forecast (an 80% interval of at least about ±13%)"
        )
    return text + "."


def method_statement(f: ForecastFacts) -> str:
    """What was done, in a paragraph: history, models, choice, backtest, seasonality, intervals."""
    head = (
        f"History: {f.history_months} months ({f.history_start:%Y-%m} to {f.cutoff:%Y-%m}); "
        f"engine setting `{f.method}`."
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
    return " ".join(p for p in parts if p)


def compute_statement(f: ForecastFacts) -> str:
    """Where the forecast was computed and how many workers took part ('' when the engine
    does not say)."""
    if f.ran_on == "dask":
        of = f" of its {_n(f.cluster_workers, 'worker')}" if f.cluster_workers else ""
        return f"Computed on the Dask cluster at {f.cluster}: {_n(f.workers, 'worker')}{of} took part."
    if f.ran_on == "processes":
        return f"Computed on this machine in {_processes(f.workers)}."
    if f.ran_on == "this process":
        return "Computed on this machine in one process."
    return ""


def _processes(k: int) -> str:
    return "1 worker process" if k == 1 else f"{k:,} worker processes"


def compute_note(f: ForecastFacts) -> str:
    """The same for the terminal line of the step: ``Dask cluster tcp://h:8786, 3 of 3
    workers`` or ``local, 2 worker processes`` ('' when the engine does not say)."""
    if f.ran_on == "dask":
        of = f" of {f.cluster_workers}" if f.cluster_workers else ""
        return f"Dask cluster {f.cluster}, {f.workers}{of} workers"
    if f.ran_on == "processes":
        return f"local, {_processes(f.workers)}"
    if f.ran_on == "this process":
        return "local, one process"
    return ""


def backtest_statement(f: ForecastFacts) -> str:
    """The lead-in of the backtest tables: how the scores were made (or that there are none)."""
    if f.origins_used == 0:
        return (
            "There is no backtest: every series was too short for one, so the models were "
            "chosen by rule and the tables below are empty."
        )
    where = (
        f"at {_n(f.origins_used, 'earlier origin')}"
        if f.origins_min == f.origins_used
        else f"at {f.origins_min} to {f.origins_used} earlier origins (fewer for shorter series)"
    )
    return (
        f"Each candidate model was estimated on the history before the first origin and "
        f"scored {where} on the up to {f.backtest_horizon} months that followed (MASE: mean "
        "absolute error divided by the in-sample error of the naive benchmark, seasonal naive "
        "for series with two full years or more, else the last month; below 1 beats that "
        "benchmark). *chosen* is each series' own choice; *vs baseline* is the score relative "
        "to the baseline on the same series."
    )


def accuracy_statement(f: ForecastFacts) -> str:
    """The lead-in of the accuracy check by level: how it was run, or why it was not."""
    a = f.accuracy
    if a.origins == 0:
        return f"The check of reconciled against unreconciled forecasts was skipped: {a.note}."
    back = (
        f"from {_n(a.origins, 'earlier origin')} ({a.step} months apart; the latest "
        f"{a.horizon} months before the cutoff)"
        if a.origins > 1
        else f"from one earlier origin, {a.horizon} months before the cutoff,"
    )
    text = (
        f"The whole procedure (models, backtest, reconciliation) was rerun {back} and scored "
        f"against what then happened over {a.horizon} months: the engine's own forecasts "
        "against the reconciled ones. *change* compares mean MASE, *median change* the median, "
        "*Rel. MAE* is the geometric mean of each series' MAE ratio (below 1 = reconciliation "
        "helped), *improved* the share of series that got better. *Coverage 80%* and "
        "*Coverage 95%* are the shares of actual months that fell inside the reconciled 80% "
        "and 95% intervals (they should be close to 80% and 95%; a level with few series has "
        "few months, so read them with care)."
    )
    if a.note:
        text += f" The check was {a.note}."
    return text


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
    text = f"Forecast for the next {len(tot)} months: **{money(total, currency, scale='auto')}**"
    if covered and float(ly.sum()):
        text += (
            f", against {money(float(ly.sum()), currency, scale='auto')} in the same months a "
            f"year earlier ({pct(total / float(ly.sum()) - 1, signed=True)})"
        )
    else:
        text += " (the history does not cover the same months a year earlier: no comparison)"
    return text + f" and {money(last, currency, scale='auto')} in the last {n_last} months."


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
