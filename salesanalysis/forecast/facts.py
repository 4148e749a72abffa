"""What a forecast run did, as facts: the history it had, the models that ran, the backtest
origins, seasonality (and why not), the interval floor, and the accuracy check by level.

Short histories are normal (a shop's first year): the forecast runs with what the data
supports and says so. The rules, in one place:

* under ``MIN_HISTORY_MONTHS`` (6) months of company history there is no forecast
  (:func:`too_short_to_forecast` gives the sentence; the step is skipped and the decomposition
  uses history keys only);
* a series shorter than two full seasons has no seasonal part and an interval floor; one too
  short for a backtest gets a model by rule (see :mod:`salesanalysis.forecast._models`);
* the accuracy check by level (:func:`accuracy_plan`) needs ``season_length`` months to forecast
  from and at least ``MIN_ACCURACY_TEST`` months to score: with less history it is shortened
  (fewer origins, a shorter horizon), or skipped with a note; it never fails the step.

:func:`forecast_facts` reads the engine's tables into a :class:`ForecastFacts`; the sentences
are made from them by :mod:`salesanalysis.forecast.narrative`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.forecast import _models as fm
from salesanalysis.forecast.series import HierarchySeries, _month_col, _to_month
from salesanalysis.i18n import N_, tr

__all__ = [
    "MIN_ACCURACY_TEST",
    "MIN_HISTORY_MONTHS",
    "AccuracyPlan",
    "ForecastFacts",
    "accuracy_plan",
    "forecast_facts",
    "history_months",
    "too_short_to_forecast",
]

MIN_HISTORY_MONTHS = 6
"""Fewest months of company history (from the first month with sales) a forecast is made from."""
MIN_ACCURACY_TEST = 3
"""Fewest months after an accuracy-check origin to score the forecast on."""

# the engine's candidate families, in the order the report names them
_FAMILY_ORDER = ("snaive", "naive", "ets", "theta", "arima", "combo_median")
_NOT_MODELS = {"zero", "stopped", "mean", "inactive", "nan", ""}


def history_months(cube: pd.DataFrame, cutoff: Any, value: str = "revenue") -> int:
    """Months from the first month with sales (company total not 0) to ``cutoff``, inclusive
    (0 when nothing was sold up to the cutoff)."""
    cut = _to_month(cutoff)
    if cube is None or len(cube) == 0:
        return 0
    month = _month_col(cube["month"])
    total = pd.to_numeric(cube[value], errors="coerce").fillna(0.0).groupby(month).sum()
    sold = total[(total.index <= cut) & (total != 0)]
    if sold.empty:
        return 0
    first = sold.index.min()
    return (cut.year - first.year) * 12 + cut.month - first.month + 1


def too_short_to_forecast(cube: pd.DataFrame, cutoff: Any, value: str = "revenue") -> str | None:
    """The sentence saying why no forecast is made from ``cutoff``, or None when the history
    has at least ``MIN_HISTORY_MONTHS`` months."""
    n = history_months(cube, cutoff, value)
    if n >= MIN_HISTORY_MONTHS:
        return None
    cut = _to_month(cutoff)
    have = (
        tr("no sales")
        if n == 0
        else (tr("{n} month of sales") if n == 1 else tr("{n} months of sales")).format(n=n)
    )
    return tr(
        "No forecast: the history to {cutoff} has {have}, and a forecast needs at least {need}. "
        "The forecast step is skipped; the targets use the history (the forecast key's weight "
        "goes to the history key) and the review has no landing forecast. It runs by itself "
        "once {need} months of sales exist."
    ).format(cutoff=f"{cut:%Y-%m}", have=have, need=MIN_HISTORY_MONTHS)


# --------------------------------------------------------------------------- accuracy check


@dataclass(frozen=True)
class AccuracyPlan:
    """How the accuracy check by level runs on this history.

    Attributes:
        requested: origins asked for (``accuracy_origins``).
        origins: origins the history can hold (0 = skipped).
        horizon: months ahead scored at each origin (``horizon`` or fewer).
        step: months between origins.
        note: why it differs from the request ('' when it runs as asked).
    """

    requested: int
    origins: int
    horizon: int
    step: int
    note: str = ""


def accuracy_plan(
    history: int, horizon: int, requested: int, step: int = 3, season_length: int = 12
) -> AccuracyPlan:
    """Origins and horizon of the accuracy check that a history of ``history`` months holds.

    Each origin needs ``season_length`` months of history before it (at least
    ``MIN_HISTORY_MONTHS``) and at least ``MIN_ACCURACY_TEST`` months after it to score; the
    scored horizon is ``horizon`` or what is left, and origins ``step`` months apart are added
    while they fit (at most ``requested``).
    """
    requested, horizon, step = int(requested), int(horizon), max(1, int(step))
    if requested <= 0:
        return AccuracyPlan(
            requested,
            0,
            0,
            step,
            tr(
                "it is switched off (accuracy_origins is 0; set forecast.accuracy_origins in "
                "plan.yaml, or run with --param accuracy_origins=1)"
            ),
        )
    train = max(int(season_length), MIN_HISTORY_MONTHS)
    room = int(history) - train
    if room < MIN_ACCURACY_TEST:
        return AccuracyPlan(
            requested,
            0,
            0,
            step,
            tr(
                "the history ({history} months) is too short for it: it needs {train} months to "
                "forecast from and at least {test} more to score, {total} months in all"
            ).format(
                history=history,
                train=train,
                test=MIN_ACCURACY_TEST,
                total=train + MIN_ACCURACY_TEST,
            ),
        )
    h = min(horizon, room)
    origins = min(requested, 1 + (room - h) // step)
    note = ""
    if h < horizon or origins < requested:
        parts = []
        if origins < requested:
            parts.append(
                (
                    tr("{n} origin instead of {asked}")
                    if origins == 1
                    else tr("{n} origins instead of {asked}")
                ).format(n=origins, asked=requested)
            )
        if h < horizon:
            parts.append(tr("{n} months ahead instead of {asked}").format(n=h, asked=horizon))
        note = tr(
            "shortened to what the history ({history} months) holds: {parts} (each origin needs "
            "{train} months before it)"
        ).format(history=history, parts=tr(" and ").join(parts), train=train)
    return AccuracyPlan(requested, origins, h, step, note)


# --------------------------------------------------------------------------- run facts


@dataclass(frozen=True)
class ForecastFacts:
    """What the forecast run did (for the step's text; see :mod:`~.narrative`).

    Attributes:
        history_start, cutoff: first and last month of the history.
        history_months: months from the first month with sales to the cutoff.
        horizon: months forecast.
        method: the engine setting (``default`` or ``fast``).
        season_length: months per season.
        requested_models: the candidates asked for (the engine's default: all).
        models_run: the candidate families that were estimated, backtested or chosen by rule,
            in report order (``snaive``, ``naive``, ``ets``, ``theta``, ``arima``,
            ``combo_median``).
        models_not_run: requested models that did not run, with why.
        chosen: family -> number of series whose forecast it made.
        modelled: series the engine modelled (not all zero, stopped or under 4 months).
        flat: ``zero``/``stopped``/``mean`` -> series forecast flat without a model.
        backtest_origins: origins asked for (the fast method uses 1).
        origins_used: the most origins any series was backtested at (0 = no backtest).
        origins_min: the fewest (over backtested series).
        backtest_horizon: the longest backtest horizon (months).
        backtested: series chosen by a backtest; ``rule_based``: modelled series too short
            for one (model chosen by rule).
        seasonal: series whose models have a seasonal part.
        short: modelled series shorter than two full seasons (no seasonal part, interval floor).
        seasonal_why: why (some) series have no seasonal part ('' when all do).
        interval_floor: the smallest forecast sd of a short series, as a share of its forecast.
        accuracy: the accuracy check's plan (origins used, horizon, note).
        ran_on: ``this process``, ``processes`` (local worker processes) or ``dask``; ``""``
            when the engine does not say.
        workers: processes or Dask workers that took part (0 = not known).
        cluster: the Dask scheduler's address (``""`` when local).
        cluster_workers: the workers the Dask cluster had.
    """

    history_start: pd.Timestamp
    cutoff: pd.Timestamp
    history_months: int
    horizon: int
    method: str
    season_length: int
    requested_models: tuple[str, ...]
    models_run: tuple[str, ...]
    models_not_run: dict[str, str] = field(default_factory=dict)
    chosen: dict[str, int] = field(default_factory=dict)
    modelled: int = 0
    flat: dict[str, int] = field(default_factory=dict)
    backtest_origins: int = 0
    origins_used: int = 0
    origins_min: int = 0
    backtest_horizon: int = 0
    backtested: int = 0
    rule_based: int = 0
    seasonal: int = 0
    short: int = 0
    seasonal_why: str = ""
    interval_floor: float = fm.SD_FLOOR
    accuracy: AccuracyPlan = field(default_factory=lambda: AccuracyPlan(0, 0, 0, 3))
    ran_on: str = ""
    workers: int = 0
    cluster: str = ""
    cluster_workers: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``run.json``-style records and tests)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["history_start"] = f"{self.history_start:%Y-%m}"
        out["cutoff"] = f"{self.cutoff:%Y-%m}"
        out["accuracy"] = dict(self.accuracy.__dict__)
        return out


def _family(label: Any) -> str:
    return str(label).split("[", 1)[0].split("(", 1)[0]


def _ordered(names: set[str]) -> tuple[str, ...]:
    known = [f for f in _FAMILY_ORDER if f in names]
    return tuple(known + sorted(names - set(_FAMILY_ORDER)))


def _column(frame: Any, name: str, default: Any) -> pd.Series:
    if isinstance(frame, pd.DataFrame) and name in frame.columns:
        return frame[name]
    n = len(frame) if isinstance(frame, pd.DataFrame) else 0
    return pd.Series([default] * n, dtype=object)


def forecast_facts(
    series: HierarchySeries,
    chosen: pd.DataFrame | None,
    backtest: pd.DataFrame | None,
    *,
    horizon: int,
    method: str = "default",
    models: Sequence[str] | None = None,
    n_origins: int = 3,
    season_length: int = 12,
    accuracy: AccuracyPlan | None = None,
    execution: Any = None,
) -> ForecastFacts:
    """Read the engine's ``chosen`` and ``backtest`` tables (any engine: missing columns count
    as unknown) into :class:`ForecastFacts`; ``execution``: where the engine ran (its
    ``kind``, ``workers``, ``address``, ``cluster_workers``), None when it does not say."""
    chosen = chosen if isinstance(chosen, pd.DataFrame) else pd.DataFrame()
    backtest = backtest if isinstance(backtest, pd.DataFrame) else pd.DataFrame()
    requested = tuple(models) if models else tuple(fm.ALL_MODELS)
    fam = _column(chosen, "model", "").map(_family)
    flat_mask = fam.isin(["zero", "stopped", "mean"]).to_numpy()
    flat = {k: int((fam == k).sum()) for k in ("zero", "stopped", "mean") if (fam == k).any()}
    modelled = chosen.loc[~flat_mask] if len(chosen) else chosen
    m_fam = fam[~flat_mask]

    # the models that ran: backtested candidates (their labels say naive or seasonal naive)
    # and the models chosen by rule or in the final fit
    ran = set(m_fam) - _NOT_MODELS
    if len(backtest):
        labels = _column(backtest, "model", "").astype(str)
        cands = _column(backtest, "candidate", "").astype(str)
        ran |= {_family(lab) if c == "snaive" else c for c, lab in zip(cands, labels, strict=True)}
        ran -= _NOT_MODELS
    models_run = _ordered(ran)
    not_run: dict[str, str] = {}
    ran_base = {"snaive" if f == "naive" else f for f in ran}
    backtested_any = bool(len(backtest))
    for b in fm.BASE_MODELS:
        if b not in requested or b in ran_base or b == "snaive":
            continue
        if b == "theta" and method == "fast":
            not_run[b] = N_("the fast method leaves it out")
        elif not backtested_any:
            not_run[b] = N_("no series was long enough for the backtest that chooses it")
        else:
            not_run[b] = N_("too little history before the backtest origin to estimate it")
    if "combo" in requested and "combo_median" not in ran and len(modelled):
        not_run["combo"] = (
            N_("fewer than two models could be combined")
            if backtested_any
            else N_("no series was long enough for the backtest that chooses it")
        )

    n_org = pd.to_numeric(_column(modelled, "n_origins", np.nan), errors="coerce")
    if n_org.isna().all() and len(backtest) and "n_origins" in backtest.columns:
        n_org = backtest.groupby("series_id")["n_origins"].max()
    n_org = n_org.dropna().astype(int)
    backtested = int((n_org > 0).sum())
    rule_based = int((n_org == 0).sum())
    h_bt = pd.to_numeric(_column(backtest, "h_backtest", np.nan), errors="coerce")
    seasonal = int(_column(modelled, "seasonal", False).fillna(False).astype(bool).sum())
    n_obs = pd.to_numeric(_column(modelled, "n_obs", np.nan), errors="coerce")
    short = int((n_obs < fm.SHORT_SEASONS * season_length).sum()) if season_length > 1 else 0
    hist = len(series.months)
    return ForecastFacts(
        history_start=series.months[0],
        cutoff=series.cutoff,
        history_months=hist,
        horizon=int(horizon),
        method=str(method),
        season_length=int(season_length),
        requested_models=requested,
        models_run=models_run,
        models_not_run=not_run,
        chosen={f: int(n) for f, n in m_fam.value_counts().items() if f not in _NOT_MODELS},
        modelled=len(modelled),
        flat=flat,
        backtest_origins=1 if method == "fast" else int(n_origins),
        origins_used=int(n_org.max()) if len(n_org) else 0,
        origins_min=int(n_org[n_org > 0].min()) if backtested else 0,
        backtest_horizon=int(h_bt.max()) if h_bt.notna().any() else 0,
        backtested=backtested,
        rule_based=rule_based,
        seasonal=seasonal,
        short=short,
        seasonal_why=_seasonal_why(seasonal, len(modelled), short, hist, season_length),
        accuracy=accuracy or AccuracyPlan(0, 0, 0, 3),
        ran_on=str(getattr(execution, "kind", "")),
        workers=int(getattr(execution, "workers", 0)),
        cluster=str(getattr(execution, "address", "")),
        cluster_workers=int(getattr(execution, "cluster_workers", 0)),
    )


def _seasonal_why(seasonal: int, modelled: int, short: int, history: int, m: int) -> str:
    """Why (some) modelled series have no seasonal part ('' when all do, or none is modelled)."""
    if m <= 1:
        return tr("the season length is 1 (no seasonality asked for)")
    if modelled == 0 or seasonal == modelled:
        return ""
    years = fm.SHORT_SEASONS * m
    room = years + 3  # two seasons + 2 months before the first backtest origin, + 1 to test
    if history < years:
        return tr(
            "the history has {history} months, fewer than two full years ({years}): one year "
            "cannot tell a month pattern from noise, so no model has a seasonal part and the "
            "naive baseline repeats the last month, not the same month a year earlier"
        ).format(history=history, years=years)
    if seasonal == 0 and history < room:
        return tr(
            "the history has {history} months; a seasonal model needs two full years and two "
            "months before its first backtest origin ({room} months in all)"
        ).format(history=history, room=room)
    if seasonal == 0:
        return tr("the seasonal tests found no month pattern in any series")
    why = tr("the seasonal tests found no month pattern in them")
    if short:
        why = tr(
            "{short} started less than two full years ago ({years} months), the others "
            "showed no month pattern in the seasonal tests"
        ).format(short=short, years=years)
    return tr("{without} of {modelled} series have no seasonal part: {why}").format(
        without=modelled - seasonal, modelled=modelled, why=why
    )
