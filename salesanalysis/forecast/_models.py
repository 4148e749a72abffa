"""Per-series forecasting core: candidate models, rolling-origin backtest, selection, intervals.

Private to :mod:`salesanalysis.forecast.engine`. Everything here works on one numpy array per series
(regular monthly values, oldest first) and is free of pandas, so that a worker process can run
thousands of series with little overhead.

How a series is forecast (the *default* method); :func:`forecast_series` runs the stages
:func:`classify` -> :func:`prepare` (steps 2-4) -> :func:`fit_candidates` ->
:func:`backtest` -> :func:`select_model` -> :func:`final_forecast` ->
:func:`calibrate_interval`, each a function with a small typed result:

1. Classify: all zero, stopped (a trailing run of zeros longer than any earlier gap), too short
   (< 4 points), otherwise modelled. Leading zeros (a late start) are dropped.
   A *short* series (fewer than two full seasons, :func:`is_short`: under 24 months) gets no
   seasonal part anywhere, not even the baseline: its seasonal naive is the naive forecast (the
   last month), since one season cannot tell a month pattern from noise.
2. Transform: log when every value is positive (multiplicative seasonality and error in effect),
   otherwise the raw values (zeros, returns).
3. Seasonality: a model with a seasonal part needs at least two full seasons plus two months
   before the first backtest origin, and a seasonal test must find it (ANOVA month effect at 5%,
   or the autocorrelation test of the M-competition benchmarks at 90%). When the whole history
   is seasonal and has that room, the origins are placed after it (a shorter backtest) rather
   than the seasonal models being dropped (2-4 years of history, e.g. a rep hired in 2023).
4. Backtest: origins ``o_1 < ... < o_k`` ending ``h`` months before the end (``h`` = horizon,
   shortened for short series). Each candidate is *estimated once*, on data up to ``o_1``; at the
   later origins the same parameters are applied to the longer history (state filtering only).
   Candidates: seasonal naive, ETS (additive error on the transformed scale; trend none/damped,
   seasonality by the test; chosen by AICc), Theta, seasonal ARIMA (small order search by AICc)
   and their combination (the median of the four, month by month).
5. Selection: the combination, unless a single model's backtest MASE is less than half the
   combination's (see ``_select``; the rule and the factor were set on the M3 monthly series,
   not on the tourism set the accuracy benchmark reports).
6. Final fit: only the chosen model(s) are re-estimated on the full history, keeping the
   specification chosen in the backtest (ETS form, ARIMA orders).
7. Intervals: the model's own forecast standard deviation (analytic), multiplied by a factor
   calibrated on the backtest errors of the chosen model (shrunk towards 1; one unusual month
   winsorised, see ``_msq``), capped at ``MAX_SD_LOG`` on the log scale, normal quantiles on
   the transformed scale, a lower bound of 0 for intermittent series (``zero_is_inside``); the
   caller applies one run-wide multiplier per level calibrated on the pooled backtest errors
   (per calibration group). Coverage is reported leave-one-origin-out. Without a backtest (a
   series too short for one) the sd is the model's own, from its in-sample residuals. A short
   series' sd is never below ``SD_FLOOR`` (10%) of its forecast, after the run-wide multiplier:
   a few months of residuals understate what a year ahead holds.
"""

from __future__ import annotations

import math
import os
import threading
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

BASE_MODELS = ("snaive", "ets", "theta", "arima")
COMBOS = {"combo_median": ("snaive", "ets", "theta", "arima")}
ALL_MODELS = BASE_MODELS + ("combo",)

METHODS = ("default", "fast")
MIN_POINTS = 4  # fewer points: flat forecast at the mean
MIN_FIT = 6  # fewest training points for an estimated (non-seasonal) model
STOP_RUN = 6  # trailing zero months that (with no gap as long before) mark a stopped series
LOG_CAP = math.log(1e3)  # a log-scale forecast may not exceed 1000x the largest value seen

# largest log-scale forecast sd (before the run-wide multiplier): a 95% interval of at most
# about x7 / /7 around the median, however short or wild the history
MAX_SD_LOG = 1.0
ZERO_WINDOW = 24  # recent months whose share of zeros sets the intervals' point mass at 0
MAX_LOG_SIGMA = 0.5  # largest log-scale sd used to turn a median into a mean (factor <= 1.13)
SINGLE_EDGE = 0.5  # a single model replaces the combination only if its MASE is half or less
_SD_SHRINK = 1.0  # prior weight (in origins) of "the model's own sd is right" in calibration
SHORT_SEASONS = 2  # a series with fewer full seasons than this is short (no seasonal part)
# smallest forecast sd of a short series, as a share of its forecast (on the log scale: 0.10):
# an 80% interval of at least about +-13%, a 95% interval of at least about +-20%
SD_FLOOR = 0.10


# --------------------------------------------------------------------------------------------
# bookkeeping

_WARN_LOCK = threading.RLock()


@dataclass
class Stats:
    """Per-model counts of estimations, warnings and failures (summed over series)."""

    fits: dict[str, int] = field(default_factory=dict)
    warns: dict[str, dict[str, int]] = field(default_factory=dict)
    fails: dict[str, int] = field(default_factory=dict)
    first_msg: dict[str, str] = field(default_factory=dict)

    def run(self, model: str, fn: Callable[[], Any], *, count_fit: bool = True) -> Any:
        """Call ``fn`` with warnings recorded (never shown) and exceptions counted; None on error."""
        if count_fit:
            self.fits[model] = self.fits.get(model, 0) + 1
        # catch_warnings swaps process-global state: one fit at a time per process (threads)
        with _WARN_LOCK, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                out = fn()
            except Exception as exc:  # noqa: BLE001 - any optimiser failure drops the candidate
                self.fails[model] = self.fails.get(model, 0) + 1
                self.first_msg.setdefault(model, f"{type(exc).__name__}: {exc}"[:200])
                out = None
        if caught:
            bucket = self.warns.setdefault(model, {})
            for w in caught:
                cat = w.category.__name__
                bucket[cat] = bucket.get(cat, 0) + 1
                self.first_msg.setdefault(model, f"{cat}: {w.message}"[:200])
        return out

    def merge(self, other: Stats) -> None:
        for k, v in other.fits.items():
            self.fits[k] = self.fits.get(k, 0) + v
        for k, v in other.fails.items():
            self.fails[k] = self.fails.get(k, 0) + v
        for k, d in other.warns.items():
            mine = self.warns.setdefault(k, {})
            for c, n in d.items():
                mine[c] = mine.get(c, 0) + n
        for k, v in other.first_msg.items():
            self.first_msg.setdefault(k, v)


@dataclass
class Fitted:
    """A candidate's specification and estimated parameters (re-usable on a longer history)."""

    kind: str
    label: str
    spec: tuple = ()
    params: np.ndarray | None = None


@dataclass
class SeriesOutput:
    """Everything the engine reports for one series (intervals are finished by ``bounds``)."""

    mean_t: np.ndarray  # point forecast on the transformed scale
    sd_t: np.ndarray  # calibrated forecast standard deviation on the transformed scale
    log: bool  # transformed scale is log
    nonneg: bool  # history never negative: forecasts and bounds are floored at 0
    model: str  # label of the chosen model or combination
    reason: str
    seasonal: bool
    n_obs: int
    scale_factor: float  # per-series interval factor from the backtest
    backtest: list[dict[str, Any]]  # one row per candidate
    zabs: np.ndarray  # |standardised backtest errors| of the chosen model, leave-one-origin-out
    p_zero: float = 0.0  # share of zero months in the recent history (ZERO_WINDOW months)
    sd_floor: np.ndarray | float = 0.0  # smallest sd after the run-wide multiplier (short series)
    n_origins: int = 0  # backtest origins (0: too short to backtest, or not modelled)

    def sd(self, mult: float = 1.0) -> np.ndarray:
        """The forecast sd on the transformed scale: calibrated x ``mult``, at least the floor."""
        return np.maximum(np.abs(self.sd_t) * mult, self.sd_floor)

    def median(self) -> np.ndarray:
        """The point forecast: on the log scale back-transformed with ``exp``, i.e. the median."""
        out = _back(self.mean_t, self.log)
        return np.maximum(out, 0.0) if self.nonneg else out

    def mean(self, mult: float = 1.0) -> np.ndarray:
        """The expected value: ``median * exp(sigma^2 / 2)`` for log-scale forecasts.

        ``sigma`` is the calibrated log-scale sd (times the run-wide multiplier ``mult``),
        capped at :data:`MAX_LOG_SIGMA` so that a very wide interval, i.e. the assumed tail and
        not the data, cannot set the mean (at most +13%). On the raw scale mean = median.
        """
        med = self.median()
        if not self.log:
            return med
        sig = np.minimum(self.sd(mult), MAX_LOG_SIGMA)
        return med * np.exp(sig**2 / 2.0)

    def bounds(self, level: float, mult: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Interval at ``level`` percent; ``mult`` is the run-wide calibration multiplier."""
        z = NormalDist().inv_cdf(0.5 + level / 200)
        sd = self.sd(mult)
        lo = _back(self.mean_t - z * sd, self.log)
        hi = _back(self.mean_t + z * sd, self.log)
        if self.nonneg:
            lo, hi = np.maximum(lo, 0.0), np.maximum(hi, 0.0)
            if zero_is_inside(self.p_zero, level):
                lo = np.zeros_like(lo)
        return lo, hi


def is_short(n: int, m: int) -> bool:
    """Whether a series of ``n`` months is *short*: fewer than ``SHORT_SEASONS`` full seasons of
    ``m`` months (no seasonal part, an interval floor)."""
    return m > 1 and n < SHORT_SEASONS * m


def zero_is_inside(p_zero: float, level: float) -> bool:
    """Whether a month without sales is a likely enough outcome to be inside the interval.

    An intermittent series has a point mass at 0: when the share of zero months in its recent
    history reaches the interval's lower tail, ``(1 - level) / 2`` (10% for the 80% interval),
    the lower quantile of the forecast distribution is 0, whatever the normal approximation
    around the mean says. On the sample company's rep x cell series (step 02's one-year
    hold-out table), 34% of the months had no sale, and the 80% interval held 65% of the months
    without this rule and 81% with it (commit 33c8d29).
    """
    return p_zero > 0 and p_zero >= (1 - level / 100) / 2 - 1e-12


# --------------------------------------------------------------------------------------------
# candidate models; each predict() returns (mean, sd) on the transformed scale


def _snaive_predict(yt: np.ndarray, h: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    m = m if len(yt) >= m else 1
    last = yt[-m:]
    mean = last[np.arange(h) % m]
    d = yt[m:] - yt[:-m] if len(yt) > m else np.diff(yt)
    sigma = float(np.sqrt(np.mean(d**2))) if len(d) else 0.0
    k = np.arange(h) // m + 1
    return mean, sigma * np.sqrt(k)


def _mean_predict(yt: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    mu = float(np.mean(yt))
    sd = float(np.std(yt, ddof=1)) if len(yt) > 1 else 0.0
    if sd == 0.0:  # one point, or all equal: a band of a quarter of the level
        sd = 0.25 * abs(mu)
    return np.full(h, mu), np.full(h, sd * math.sqrt(1 + 1 / len(yt)))


_ETS_CONFIGS_SEASONAL = ((None, False, "add"), ("add", True, "add"))
_ETS_CONFIGS_PLAIN = ((None, False, None), ("add", True, None))


def _ets_model(yt: np.ndarray, spec: tuple, m: int):
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    trend, damped, seasonal = spec
    init = "heuristic" if len(yt) >= (10 + 2 * (m // 2) if seasonal else 10) else "estimated"
    return ETSModel(
        yt,
        error="add",
        trend=trend,
        damped_trend=damped,
        seasonal=seasonal,
        seasonal_periods=m if seasonal else None,
        initialization_method=init,
    )


def _ets_label(spec: tuple) -> str:
    trend, damped, seasonal = spec
    t = "N" if trend is None else ("Ad" if damped else "A")
    return f"ets(A,{t},{'A' if seasonal else 'N'})"


def _ets_fit(yt: np.ndarray, m: int, seasonal: bool, st: Stats, configs=None) -> Fitted | None:
    best = None
    for spec in configs or (_ETS_CONFIGS_SEASONAL if seasonal else _ETS_CONFIGS_PLAIN):
        res = st.run("ets", lambda spec=spec: _ets_model(yt, spec, m).fit(disp=False))
        if res is None or not np.isfinite(res.aicc) or not np.all(np.isfinite(res.params)):
            continue
        if best is None or res.aicc < best[0]:
            best = (res.aicc, spec, np.asarray(res.params, dtype=float))
    if best is None:
        return None
    return Fitted("ets", _ets_label(best[1]), best[1], best[2])


def _ets_refit(fit: Fitted, yt: np.ndarray, m: int, st: Stats) -> Fitted | None:
    return _ets_fit(yt, m, fit.spec[2] is not None, st, configs=(fit.spec,))


def _ets_predict(fit: Fitted, yt: np.ndarray, h: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    trend, damped, seasonal = fit.spec
    res = _ets_model(yt, fit.spec, m).smooth(fit.params)
    mean = np.asarray(res.forecast(h), dtype=float)
    resid = np.asarray(res.resid, dtype=float)
    sigma2 = float(np.mean(resid**2))
    names = list(res.model.param_names)
    p = dict(zip(names, np.asarray(fit.params, dtype=float), strict=False))
    alpha = p.get("smoothing_level", 0.0)
    beta = p.get("smoothing_trend", 0.0) if trend else 0.0
    gamma = p.get("smoothing_seasonal", 0.0) if seasonal else 0.0
    phi = p.get("damping_trend", 1.0) if damped else 1.0
    j = np.arange(1, h)
    phi_j = j.astype(float) if phi == 1.0 else phi * (1 - phi**j) / (1 - phi)
    c = alpha + beta * phi_j + (gamma * (j % m == 0) if seasonal else 0.0)
    var = sigma2 * (1 + np.concatenate([[0.0], np.cumsum(c**2)]))
    return mean, np.sqrt(var)


def _theta_predict(
    yt: np.ndarray, h: int, m: int, seasonal: bool, st: Stats
) -> tuple[np.ndarray, np.ndarray] | None:
    """Theta is cheap to estimate and has no fixed-parameter filter in statsmodels: refit."""
    from statsmodels.tsa.forecasting.theta import ThetaModel

    def go():
        mod = ThetaModel(
            yt,
            period=m if seasonal else 1,
            deseasonalize=seasonal,
            use_test=False,
            method="additive",
        )
        res = mod.fit()
        mean = np.asarray(res.forecast(h), dtype=float)
        alpha = float(res.params.iloc[1])
        x = yt
        if seasonal:
            from statsmodels.tsa.seasonal import seasonal_decompose

            x = yt - np.asarray(seasonal_decompose(yt, model="additive", period=m).seasonal)
        e = np.empty(len(x) - 1)
        level = x[0]
        for t in range(1, len(x)):
            e[t - 1] = x[t] - level
            level += alpha * e[t - 1]
        sigma2 = float(np.mean(e**2)) if len(e) else 0.0
        var = sigma2 * (1 + np.arange(h) * (1 + (alpha - 1) ** 2))
        return mean, np.sqrt(var)

    return st.run("theta", go)


_ARIMA_ORDERS_SEASONAL = ((0, 1, 1), (1, 1, 1), (2, 1, 0))
_ARIMA_ORDERS_PLAIN = ((0, 1, 1), (1, 1, 0), (1, 1, 1))


def _arima_model(yt: np.ndarray, spec: tuple, m: int):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    order, sorder = spec
    return SARIMAX(
        yt, order=order, seasonal_order=sorder, simple_differencing=True, concentrate_scale=True
    )


def _arima_label(spec: tuple) -> str:
    (p, d, q), (sp, sd, sq, s) = spec
    seas = f"({sp},{sd},{sq}){s}" if s else ""
    return f"arima({p},{d},{q}){seas}"


def _arima_fit(
    yt: np.ndarray,
    m: int,
    seasonal: bool,
    st: Stats,
    specs=None,
    first_only: bool = False,
    start_params: np.ndarray | None = None,
) -> Fitted | None:
    if specs is None:
        if seasonal:
            specs = tuple((o, (0, 1, 1, m)) for o in _ARIMA_ORDERS_SEASONAL)
        else:
            specs = tuple((o, (0, 0, 0, 0)) for o in _ARIMA_ORDERS_PLAIN)
        if first_only:
            specs = specs[:1]
    best = None
    for spec in specs:
        start = _arima_start(spec) if start_params is None else start_params
        res = st.run(
            "arima",
            lambda spec=spec, start=start: _arima_model(yt, spec, m).fit(
                start_params=start, disp=False, cov_type="none", low_memory=True
            ),
        )
        if res is None or not np.isfinite(res.aicc) or not np.all(np.isfinite(res.params)):
            continue
        if best is None or res.aicc < best[0]:
            best = (res.aicc, spec, np.asarray(res.params, dtype=float))
    if best is None:
        return None
    return Fitted("arima", _arima_label(best[1]), best[1], best[2])


def _arima_start(spec: tuple) -> np.ndarray:
    """Fixed, invertible starting values (statsmodels' own start search costs a fit's worth)."""
    (p, _, q), (_, _, sq, _) = spec
    ar = [0.2, -0.1][:p] if p else []
    return np.array(ar + [-0.4] * q + [-0.4] * sq, dtype=float)


def _psi(ar: np.ndarray, ma: np.ndarray, n: int) -> np.ndarray:
    """MA(inf) weights of ma(B)/ar(B), both given as [1, c1, c2, ...] in powers of B."""
    psi = np.zeros(n)
    for j in range(n):
        v = ma[j] if j < len(ma) else 0.0
        for i in range(1, min(j, len(ar) - 1) + 1):
            v -= ar[i] * psi[j - i]
        psi[j] = v
    return psi


def _arima_predict(fit: Fitted, yt: np.ndarray, h: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    (p, d, q), (sp, sd, sq, s) = fit.spec
    mod = _arima_model(yt, fit.spec, m)
    res = mod.filter(fit.params)
    w = np.asarray(res.forecast(h), dtype=float)
    names = mod.param_names
    par = dict(zip(names, fit.params, strict=False))
    ar = np.array([1.0] + [-par[f"ar.L{i}"] for i in range(1, p + 1)])
    ma = np.array([1.0] + [par[f"ma.L{i}"] for i in range(1, q + 1)])
    if sq:
        sma = np.zeros(s * sq + 1)
        sma[0] = 1.0
        for i in range(1, sq + 1):
            sma[i * s] = par[f"ma.S.L{i * s}"]
        ma = np.convolve(ma, sma)
    delta = np.array([1.0])
    for _ in range(d):
        delta = np.convolve(delta, [1.0, -1.0])
    for _ in range(sd):
        seas = np.zeros(s + 1)
        seas[0], seas[s] = 1.0, -1.0
        delta = np.convolve(delta, seas)
    # integrate: x_t = w_t - sum_{i>=1} delta_i x_{t-i}
    hist = list(yt[-(len(delta) - 1) :]) if len(delta) > 1 else []
    out = np.empty(h)
    for t in range(h):
        v = w[t]
        for i in range(1, len(delta)):
            v -= delta[i] * hist[-i]
        hist.append(v)
        out[t] = v
    psi = _psi(np.convolve(ar, delta), ma, h)
    var = float(res.scale) * np.cumsum(psi**2)
    return out, np.sqrt(var)


# --------------------------------------------------------------------------------------------
# helpers


def _seasonal_test(yt: np.ndarray, m: int) -> bool:
    """Seasonal if either test finds it: the ANOVA F-test below or the autocorrelation test.

    The autocorrelation test (lag ``m``, 90%, Bartlett's standard error) is the one of the
    M-competition benchmarks; it lacks power on short series (3-5 years) with a smooth pattern,
    which the ANOVA test has.
    """
    return _anova_seasonal(yt, m) or _acf_seasonal(yt, m)


def _acf_seasonal(yt: np.ndarray, m: int) -> bool:
    n = len(yt)
    if m <= 1 or n < 3 * m:
        return False
    x = yt - yt.mean()
    denom = float(np.dot(x, x))
    if denom <= 0:
        return False
    acf = np.array([np.dot(x[k:], x[:-k]) / denom for k in range(1, m + 1)])
    se = math.sqrt((1 + 2 * float(np.sum(acf[:-1] ** 2))) / n)
    return bool(abs(acf[-1]) > 1.645 * se)


def _anova_seasonal(yt: np.ndarray, m: int, alpha: float = 0.05) -> bool:
    """ANOVA F-test of a month effect in the series detrended by a centred 2x``m`` moving average
    (size close to ``alpha``; keeps its power on short series)."""
    n = len(yt)
    if m <= 1 or n < 2 * m + 1:
        return False
    from scipy.stats import f as f_dist

    k = np.ones(m + 1)
    if m % 2 == 0:
        k[0] = k[-1] = 0.5
        k /= m
        trend = np.convolve(yt, k, mode="valid")
        off = m // 2
    else:
        k = np.ones(m) / m
        trend = np.convolve(yt, k, mode="valid")
        off = m // 2
    d = yt[off : off + len(trend)] - trend
    ph = (np.arange(len(d)) + off) % m
    cnt = np.bincount(ph, minlength=m)
    if cnt.min() < 1:
        return False
    means = np.bincount(ph, weights=d, minlength=m) / cnt
    ss_seas = float(np.sum(cnt * (means - d.mean()) ** 2))
    ss_rem = float(np.sum((d - means[ph]) ** 2))
    df1, df2 = m - 1, len(d) - m
    if df2 <= 0:
        return False
    if ss_rem <= 1e-12 * max(ss_seas, 1e-300):
        return ss_seas > 0
    return (ss_seas / df1) / (ss_rem / df2) > float(f_dist.ppf(1 - alpha, df1, df2))


def _mase_scale(y: np.ndarray, m: int) -> float:
    for lag in (m, 1):
        if len(y) > lag:
            s = float(np.mean(np.abs(y[lag:] - y[:-lag])))
            if s > 0:
                return s
    s = float(np.mean(np.abs(y))) if len(y) else 0.0
    return s if s > 0 else 1.0


def _origins(n: int, h: int, k: int, min_train: int) -> tuple[list[int], int]:
    """Backtest origins (training lengths, ascending) and the backtest horizon."""
    if k <= 0 or n - 1 < min_train:
        return [], 0
    h_bt = max(1, min(h, n - min_train))
    step = max(1, h_bt // k) if k > 1 else 1
    origins = [n - h_bt - j * step for j in range(k)]
    origins = sorted(o for o in origins if o >= min_train)
    return origins, h_bt


def _back(x: np.ndarray, log: bool) -> np.ndarray:
    return np.exp(np.minimum(x, 700.0)) if log else x


# --------------------------------------------------------------------------------------------
# the per-series driver: classify -> prepare -> fit -> backtest -> select -> final fit -> interval


@dataclass
class Settings:
    horizon: int
    levels: tuple[int, ...]
    season_length: int
    models: tuple[str, ...]
    n_origins: int
    method: str


def _flat_output(
    y: np.ndarray, s: Settings, value: float, model: str, reason: str, sd: float = 0.0
) -> SeriesOutput:
    h = s.horizon
    nonneg = bool(y.size == 0 or y.min() >= 0)
    return SeriesOutput(
        np.full(h, value),
        np.full(h, sd),
        False,
        nonneg,
        model,
        reason,
        False,
        int(y.size),
        1.0,
        [],
        np.empty(0),
    )


def forecast_series(y_all: np.ndarray, s: Settings, st: Stats) -> SeriesOutput:
    """Forecast one regular monthly series (oldest first; missing months already 0)."""
    y, flat = classify(np.asarray(y_all, dtype=float), s)
    if flat is not None:
        return flat
    series = prepare(y, s)
    cands = candidate_set(s)
    fitted = fit_candidates(series, cands, st)
    bt = backtest(series, cands, fitted, st)
    choice = select_model(series, cands, bt, st)
    final = final_forecast(series, bt, choice, st)
    band = calibrate_interval(series, bt, final)
    rows = [{**r, "chosen": r["candidate"] == final.name} for r in bt.rows]
    return SeriesOutput(
        band.mean_t,
        band.sd_t,
        series.log,
        series.nonneg,
        final.label,
        final.reason,
        series.seasonal,
        series.n,
        band.scale_factor,
        rows,
        band.zabs,
        series.p_zero,
        band.sd_floor,
        len(series.origins),
    )


# ---- step 1: classify


def classify(y_all: np.ndarray, s: Settings) -> tuple[np.ndarray, SeriesOutput | None]:
    """The series from its first non-zero month, and its forecast when it is not modelled.

    All zero: 0; stopped (a trailing run of at least ``STOP_RUN`` zeros longer than any earlier
    gap): 0; fewer than ``MIN_POINTS`` months: the mean. Otherwise the forecast is None.
    """
    if y_all.size == 0 or not np.any(y_all != 0):
        return y_all, _flat_output(y_all, s, 0.0, "zero", "all zero")
    nz = np.flatnonzero(y_all != 0)
    y = y_all[nz[0] :]  # late start: drop leading zeros
    trail = len(y) - 1 - nz[-1] + nz[0]
    gaps = np.diff(nz) - 1
    if trail >= STOP_RUN and trail > (gaps.max() if gaps.size else 0):
        return y, _flat_output(y, s, 0.0, "stopped", f"no sales in the last {trail} months")
    n = len(y)
    if n < MIN_POINTS:
        mean_t, sd_t = _mean_predict(y, 1)
        return y, _flat_output(y, s, float(mean_t[0]), "mean", f"only {n} months", float(sd_t[0]))
    return y, None


# ---- steps 2-4: transform, seasonality, backtest design


@dataclass(frozen=True)
class Prepared:
    """A modelled series on its transformed scale, with its backtest design.

    Attributes:
        y: values from the first non-zero month, oldest first.
        yt: ``y`` on the transformed scale (``log(y)`` when ``log``).
        log: every value is positive, so the models work on the log scale.
        nonneg: the history is never negative (forecasts and bounds are floored at 0).
        cap: largest transformed-scale forecast (``max(yt) + LOG_CAP`` on the log scale).
        p_zero: share of zero months in the last ``ZERO_WINDOW`` months.
        h: forecast horizon; m: season length; m_eff: lag of the seasonal naive model (1 when
            the series is short: fewer than two full seasons, see :func:`is_short`).
        fast: the ``"fast"`` method (one origin, no Theta, first ARIMA order only, no refit).
        origins: backtest origins (training lengths, ascending; empty: too short to backtest).
        h_bt: backtest horizon.
        first: training length at the first origin (``n`` without origins).
        seasonal: the models have a seasonal part (tested on the data up to ``first``).
        full_seasonal_ok: the full history has room for a seasonal model.
    """

    y: np.ndarray
    yt: np.ndarray
    log: bool
    nonneg: bool
    cap: float
    p_zero: float
    h: int
    m: int
    m_eff: int
    fast: bool
    origins: tuple[int, ...]
    h_bt: int
    first: int
    seasonal: bool
    full_seasonal_ok: bool

    @property
    def n(self) -> int:
        return len(self.y)


def prepare(y: np.ndarray, s: Settings) -> Prepared:
    """Transform ``y`` (from :func:`classify`) and place the backtest origins.

    Seasonal models need two full seasons + 2 months before the first origin. A seasonal
    history with room for it (>= 2 seasons + 3 months) has its origins placed after them (a
    shorter backtest horizon) rather than losing its seasonal models.
    """
    h, m, n = s.horizon, s.season_length, len(y)
    log = bool(y.min() > 0)
    yt = np.log(y) if log else y.copy()
    fast = s.method == "fast"
    k = 1 if fast else s.n_origins
    seasonal_room = m > 1 and n >= 2 * m + 3 and _seasonal_test(yt, m)
    origins, h_bt = _origins(n, h, k, 2 * m + 2 if seasonal_room else MIN_FIT)
    first = origins[0] if origins else n
    return Prepared(
        y=y,
        yt=yt,
        log=log,
        nonneg=bool(y.min() >= 0),
        cap=float(yt.max()) + LOG_CAP if log else np.inf,
        p_zero=float(np.mean(y[-ZERO_WINDOW:] == 0)),
        h=h,
        m=m,
        m_eff=1 if is_short(n, m) else m,
        fast=fast,
        origins=tuple(origins),
        h_bt=h_bt,
        first=first,
        seasonal=m > 1 and first >= 2 * m + 2 and _seasonal_test(yt[:first], m),
        full_seasonal_ok=m > 1 and n >= 2 * m + 2,
    )


@dataclass(frozen=True)
class Candidates:
    """The models a series is backtested with.

    Attributes:
        base: the single models to backtest, in order (seasonal naive always included).
        eligible: the candidates that may be chosen (the requested ones).
        combo_members: the members of the combination: the requested single models, or all
            four when fewer than two are requested.
        combo: the combination was requested.
    """

    base: tuple[str, ...]
    eligible: frozenset[str]
    combo_members: tuple[str, ...]
    combo: bool


def candidate_set(s: Settings) -> Candidates:
    """The candidates of the settings' ``models`` and ``method``."""
    wanted = set(s.models)
    requested = [b for b in BASE_MODELS if b in wanted]
    members = tuple(requested) if len(requested) >= 2 else BASE_MODELS
    combo = "combo" in wanted
    base = list(dict.fromkeys(requested + list(members))) if combo else list(requested)
    if s.method == "fast":
        base = [b for b in base if b != "theta"]
    if "snaive" not in base:
        base.insert(0, "snaive")  # the baseline is always scored (chosen only if requested)
    eligible = set(requested) | (set(COMBOS) if combo else set())
    return Candidates(tuple(base), frozenset(eligible), members, combo)


# ---- fit: estimate each candidate once, at the first origin


def fit_candidates(series: Prepared, cands: Candidates, st: Stats) -> dict[str, Fitted]:
    """Each candidate estimated on the data up to the first origin (empty without origins).

    A candidate is left out when the training data are too short for it or its estimation
    fails; Theta is re-estimated at each origin (it is cheap), so only its form is fixed here.
    """
    fitted: dict[str, Fitted] = {}
    if not series.origins:
        return fitted
    yt, m, first, seasonal = series.yt, series.m, series.first, series.seasonal
    for b in cands.base:
        if b == "snaive":
            fitted[b] = Fitted("snaive", "snaive" if series.m_eff > 1 else "naive")
        elif b == "ets" and first >= MIN_FIT:
            f = _ets_fit(yt[:first], m, seasonal, st)
            if f is not None:
                fitted[b] = f
        elif b == "arima" and first >= MIN_FIT + (m + 1 if seasonal else 1):
            f = _arima_fit(yt[:first], m, seasonal, st, first_only=series.fast)
            if f is not None:
                fitted[b] = f
        elif b == "theta" and first >= MIN_FIT:
            fitted[b] = Fitted("theta", "theta", (seasonal,))
    return fitted


# ---- backtest: filter at every origin with the parameters of the first, then score


MeanSd = tuple[np.ndarray, np.ndarray]  # (mean, sd) on the transformed scale


@dataclass
class Backtest:
    """The candidates' backtest.

    Attributes:
        fitted: the candidates that forecast every origin (finite), and the combination(s).
        preds: per candidate, one transformed-scale ``(mean, sd)`` per origin.
        rows: one score row per candidate (``candidate, model, mase, mae, rmse, mape, smape,
            n_origins, h_backtest``), in the order of ``preds``.
    """

    fitted: dict[str, Fitted]
    preds: dict[str, list[MeanSd]]
    rows: list[dict[str, Any]]


def backtest(
    series: Prepared, cands: Candidates, fitted: dict[str, Fitted], st: Stats
) -> Backtest:
    """Forecast each origin with each fitted candidate and their combination; score them.

    A candidate with a failed or non-finite forecast at any origin is dropped.
    """
    fitted = dict(fitted)
    preds: dict[str, list[MeanSd]] = {}
    if series.origins:
        for b, f in list(fitted.items()):
            out = _origin_forecasts(series, b, f, st)
            if out is None:
                del fitted[b]
            else:
                preds[b] = out
        if cands.combo:
            for cname in COMBOS:
                mem = tuple(b for b in cands.combo_members if b in preds)
                if len(mem) >= 2:
                    preds[cname] = [
                        _combine(cname, [preds[b][i] for b in mem])
                        for i in range(len(series.origins))
                    ]
                    fitted[cname] = Fitted(cname, cname, mem)
    return Backtest(fitted, preds, score_candidates(series, fitted, preds))


def _origin_forecasts(series: Prepared, b: str, f: Fitted, st: Stats) -> list[MeanSd] | None:
    """Candidate ``b``'s forecasts at every origin; None if one fails or is not finite."""
    yt, m, n = series.yt, series.m, series.n
    out = []
    for o in series.origins:
        hh = min(series.h_bt, n - o)
        if b == "snaive":
            r = _snaive_predict(yt[:o], hh, series.m_eff)
        elif b == "theta":
            r = _theta_predict(yt[:o], hh, m, series.seasonal, st)
        elif b == "ets":
            r = st.run(
                "ets",
                lambda o=o, hh=hh, f=f: _ets_predict(f, yt[:o], hh, m),
                count_fit=False,
            )
        else:
            r = st.run(
                "arima",
                lambda o=o, hh=hh, f=f: _arima_predict(f, yt[:o], hh, m),
                count_fit=False,
            )
        if r is None or not (np.all(np.isfinite(r[0])) and np.all(np.isfinite(r[1]))):
            return None
        out.append(r)
    return out


def score_candidates(
    series: Prepared, fitted: dict[str, Fitted], preds: dict[str, list[MeanSd]]
) -> list[dict[str, Any]]:
    """Backtest scores of each candidate on the original scale (MASE, MAE, RMSE, MAPE, sMAPE)."""
    y, origins = series.y, series.origins
    scale = _mase_scale(y, series.m_eff)
    rows: list[dict[str, Any]] = []
    for name in preds:
        errs, ape, sape = [], [], []
        for o, (mt, _) in zip(origins, preds[name], strict=True):
            actual = y[o : o + len(mt)]
            fc = _back(np.minimum(mt, series.cap), series.log)
            if series.nonneg:
                fc = np.maximum(fc, 0.0)
            e = actual - fc
            errs.append(e)
            with np.errstate(divide="ignore", invalid="ignore"):
                ape.append(np.where(actual != 0, np.abs(e) / np.abs(actual), np.nan))
                den = np.abs(actual) + np.abs(fc)
                sape.append(np.where(den > 0, 2 * np.abs(e) / den, 0.0))
        e = np.concatenate(errs)
        mase = float(np.mean(np.abs(e)) / scale)
        apes = np.concatenate(ape)
        rows.append(
            {
                "candidate": name,
                "model": _label(name, fitted),
                "mase": mase,
                "mae": float(np.mean(np.abs(e))),
                "rmse": float(np.sqrt(np.mean(e**2))),
                "mape": float(np.nanmean(apes) * 100) if np.any(np.isfinite(apes)) else math.nan,
                "smape": float(np.mean(np.concatenate(sape)) * 100),
                "n_origins": len(origins),
                "h_backtest": series.h_bt,
            }
        )
    return rows


# ---- select


@dataclass(frozen=True)
class Choice:
    """The chosen candidate, why, and the fitted candidates the final fit may use."""

    name: str
    reason: str
    fitted: dict[str, Fitted]


def select_model(series: Prepared, cands: Candidates, bt: Backtest, st: Stats) -> Choice:
    """Choose by the backtest (:func:`_select`); without a backtest, by rule: ETS when it can
    be estimated on the full history (at least ``MIN_FIT`` months), else seasonal naive."""
    best_name = _select([r for r in bt.rows if r["candidate"] in cands.eligible])
    fitted = dict(bt.fitted)
    if not bt.preds:  # no backtest possible: the default by rule
        best_name = "ets" if "ets" in cands.base and series.n >= MIN_FIT else "snaive"
        fitted.setdefault("snaive", Fitted("snaive", "snaive" if series.m_eff > 1 else "naive"))
        if best_name == "ets":
            seasonal = series.full_seasonal_ok and _seasonal_test(series.yt, series.m)
            f = _ets_fit(series.yt, series.m, seasonal, st)
            if f is None:
                best_name = "snaive"
            else:
                fitted["ets"] = f
        return Choice(best_name, "too short to backtest; rule-based choice", fitted)
    if best_name not in cands.eligible:
        reason = "the requested models could not be estimated; seasonal naive"
    elif best_name in COMBOS:
        reason = "combination of the candidates (no single model had half its backtest MASE)"
    elif any(r["candidate"] in COMBOS for r in bt.rows):
        reason = f"backtest MASE below {SINGLE_EDGE:g} x the combination's"
    else:
        reason = "lowest backtest MASE of the requested models"
    return Choice(best_name, reason, fitted)


# ---- final fit of the chosen model(s) on the full history


@dataclass(frozen=True)
class FinalForecast:
    """The chosen model's forecast of the full history (transformed scale, not calibrated).

    ``name`` is the chosen candidate, or ``"snaive"`` when it failed on the full history.
    """

    name: str
    reason: str
    label: str
    mean_t: np.ndarray
    sd_t: np.ndarray


def final_forecast(series: Prepared, bt: Backtest, choice: Choice, st: Stats) -> FinalForecast:
    """Re-estimate the chosen model(s) on the full history, keeping the specification chosen
    in the backtest (not with the fast method), and forecast; seasonal naive if all fail."""
    best_name, reason, fitted = choice.name, choice.reason, choice.fitted
    members = fitted[best_name].spec if best_name in COMBOS else (best_name,)
    finals: list[MeanSd] = []
    labels = []
    for b in members:
        r = _final_predict(
            b,
            fitted.get(b),
            series.yt,
            series.h,
            series.m,
            series.m_eff,
            series.seasonal,
            st,
            refit=not series.fast and bool(bt.preds),
        )
        if r is None:
            continue
        finals.append(r[0])
        labels.append(r[1])
    if not finals:  # everything failed: seasonal naive cannot fail
        best_name, reason = "snaive", reason + "; chosen model failed on full data"
        finals = [_snaive_predict(series.yt, series.h, series.m_eff)]
        labels = ["snaive" if series.m_eff > 1 else "naive"]
    if best_name in COMBOS and len(finals) >= 2:
        mean_t, sd_t = _combine(best_name, finals)
        label = f"{best_name}[{'+'.join(labels)}]"
    else:
        mean_t, sd_t = finals[0]
        label = labels[0]
    return FinalForecast(best_name, reason, label, mean_t, sd_t)


# ---- interval: calibrate the width on the backtest errors of the chosen candidate


@dataclass(frozen=True)
class Interval:
    """The final point forecast and calibrated sd on the transformed scale.

    Attributes:
        mean_t: the point forecast (capped at ``cap`` on the log scale).
        sd_t: the model's sd times ``scale_factor`` (capped at ``MAX_SD_LOG`` on the log scale).
        scale_factor: the per-series interval factor from the backtest (1 without one).
        zabs: |standardised backtest errors| of the chosen model, leave-one-origin-out.
        sd_floor: the smallest sd once the run-wide multiplier is applied: ``SD_FLOOR`` of the
            forecast for a short series (:func:`is_short`), else 0.
    """

    mean_t: np.ndarray
    sd_t: np.ndarray
    scale_factor: float
    zabs: np.ndarray
    sd_floor: np.ndarray | float = 0.0


def calibrate_interval(series: Prepared, bt: Backtest, final: FinalForecast) -> Interval:
    """Scale the chosen model's sd by its backtest errors (RMS of the standardised errors,
    one unusual month winsorised, shrunk towards 1; see :func:`_msq`, :func:`_shrunk`); without
    a backtest of the chosen model, its own sd (from the residuals). A short series
    (:func:`is_short`) gets a floor of ``SD_FLOOR`` of its forecast."""
    y, log, origins = series.y, series.log, series.origins
    kfac, zabs = 1.0, np.empty(0)
    if final.name in bt.preds:
        preds = bt.preds[final.name]
        target = series.yt if log else y
        zs = []
        for o, (mt, sdt) in zip(origins, preds, strict=True):
            if log:
                sdt = np.minimum(sdt, MAX_SD_LOG)
            with np.errstate(divide="ignore", invalid="ignore"):
                zs.append((target[o : o + len(mt)] - mt) / sdt)
        ratios = np.array([_msq(z) for z in zs])
        kfac = _shrunk(ratios[np.isfinite(ratios)])
        loo = []
        for i, z in enumerate(zs):  # leave-one-origin-out factor for the coverage report
            others = np.delete(ratios, i)
            loo.append(np.abs(z) / _shrunk(others[np.isfinite(others)]))
        zabs = np.concatenate(loo)
        zabs = np.where(np.isnan(zabs), 0.0, zabs)  # 0/0: an exact forecast with zero sd
        if series.nonneg and zero_is_inside(series.p_zero, 80):
            # a month without sales is inside the 80% (and wider) intervals of this series
            actual = np.concatenate(
                [y[o : o + len(mt)] for o, (mt, _) in zip(origins, preds, strict=True)]
            )
            zabs = np.where(actual == 0, 0.0, zabs)
    mean_t, sd_out = final.mean_t, kfac * final.sd_t
    if log:
        mean_t = np.minimum(mean_t, series.cap)
        sd_out = np.minimum(sd_out, MAX_SD_LOG)
    floor: np.ndarray | float = 0.0
    if is_short(series.n, series.m):
        floor = SD_FLOOR if log else SD_FLOOR * np.abs(mean_t)
    return Interval(mean_t, sd_out, kfac, zabs, floor)


def _msq(z: np.ndarray) -> float:
    """Mean square of standardised errors, one unusual month winsorised.

    Errors beyond ``3 x`` their robust scale (median |z| / 0.6745, at least 1) are clipped
    there: a single spike in a backtest window (a one-off order) would otherwise multiply the
    series' interval width many times over, while a model whose sd is too small everywhere
    (all |z| large) is still corrected in full.
    """
    z = z[np.isfinite(z)]
    if not z.size:
        return math.nan
    limit = 3.0 * max(float(np.median(np.abs(z))) / 0.6745, 1.0)
    return float(np.mean(np.minimum(np.abs(z), limit) ** 2))


def _select(rows: list[dict[str, Any]]) -> str:
    """The combination, unless a single model's backtest MASE is below ``SINGLE_EDGE`` times it.

    Backtest scores over a few origins are noisy, and picking the plain minimum over-fits the
    choice. Measured with ``benchmarks/forecast_selection.py`` on the development set (1,428 M3
    monthly series, h = 18; not the tourism set): test MASE 0.911 for the lowest backtest MASE,
    0.875 / 0.864 / 0.861 / 0.859 with a single model needing 0.8 / 0.7 / 0.6 / 0.5 times the
    median combination's MASE, 0.859 for the combination always, 0.866 for the previous rule
    (a second combination, the mean of ETS and ARIMA, and 0.7). A single model still wins
    where it is far better (e.g. a flat series, where the combination's seasonal naive member
    adds noise).
    """
    if not rows:
        return "snaive"
    score = {r["candidate"]: r["mase"] for r in rows}
    combos = [c for c in score if c in COMBOS]
    singles = [c for c in score if c not in COMBOS]
    best_single = min(singles, key=lambda c: (score[c], c)) if singles else None
    if not combos:
        return best_single or "snaive"
    best_combo = min(combos, key=lambda c: (score[c], c))
    if best_single is not None and score[best_single] < SINGLE_EDGE * score[best_combo]:
        return best_single
    return best_combo


def _label(name: str, fitted: dict[str, Fitted]) -> str:
    f = fitted.get(name)
    if f is None:
        return name
    if name in COMBOS:
        return f"{name}[{'+'.join(fitted[b].label for b in f.spec if b in fitted)}]"
    return f.label


def _combine(
    name: str, parts: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    means = np.vstack([p[0] for p in parts])
    sds = np.vstack([p[1] for p in parts])
    mean = np.median(means, axis=0) if name == "combo_median" else means.mean(axis=0)
    return mean, sds.mean(axis=0)


def _final_predict(b, fit, yt, h, m, m_eff, seasonal, st, refit):
    """Forecast the full history with member ``b``; re-estimate only when ``refit``."""
    if b == "snaive" or fit is None and b not in ("ets", "arima", "theta"):
        return _snaive_predict(yt, h, m_eff), "snaive" if m_eff > 1 else "naive"
    if b == "theta":
        r = _theta_predict(yt, h, m, seasonal, st)
        return (r, "theta") if r is not None and _finite(r) else None
    if fit is None:
        return None
    if refit:
        new = (
            _ets_refit(fit, yt, m, st)
            if b == "ets"
            else _arima_fit(yt, m, seasonal, st, specs=(fit.spec,), start_params=fit.params)
        )
        fit = new or fit  # a failed refit falls back to the backtest parameters
    fn = _ets_predict if b == "ets" else _arima_predict
    r = st.run(b, lambda: fn(fit, yt, h, m), count_fit=False)
    return (r, fit.label) if r is not None and _finite(r) else None


def _finite(r) -> bool:
    return bool(np.all(np.isfinite(r[0])) and np.all(np.isfinite(r[1])))


def _shrunk(ratios: np.ndarray) -> float:
    """Interval scale factor: RMS of standardised backtest errors, shrunk towards 1."""
    if ratios.size == 0:
        return 1.0
    return float(math.sqrt((ratios.sum() + _SD_SHRINK) / (ratios.size + _SD_SHRINK)))


# --------------------------------------------------------------------------------------------
# worker entry points (picklable by reference for process pools and Dask)


def init_worker(parent_pid: int | None = None) -> None:
    """Process-pool initializer: keep BLAS/OpenMP single-threaded, import the models once, and
    exit when the process that started the pool is gone (``parent_pid``).

    A pool's workers only notice their parent's death when it shuts the pool down; a parent
    killed with SIGKILL (or an out-of-memory kill) never does, and its workers would run on,
    orphaned, holding memory. A daemon thread checks twice a second that the parent is still
    the one that started the worker, and ends the worker at once when it is not.
    """
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(k, "1")
    if parent_pid is not None:
        threading.Thread(
            target=_exit_with_parent, args=(parent_pid,), name="exit-with-parent", daemon=True
        ).start()
    _import_models()


def _exit_with_parent(parent_pid: int, every: float = 0.5) -> None:
    import time

    while True:
        if os.getppid() != parent_pid:  # re-parented: the pool's process has died
            os._exit(1)
        time.sleep(every)


def _import_models() -> None:
    """Import statsmodels outside any ``catch_warnings`` block.

    statsmodels installs its own warning filters on import; importing it inside a fit's
    ``catch_warnings`` would drop them on exit and re-run nothing later.
    """
    import statsmodels.tsa.exponential_smoothing.ets  # noqa: F401
    import statsmodels.tsa.forecasting.theta  # noqa: F401
    import statsmodels.tsa.seasonal  # noqa: F401
    import statsmodels.tsa.statespace.sarimax  # noqa: F401


def run_chunk(
    settings: Settings, chunk: list[tuple[int, np.ndarray]]
) -> tuple[list[tuple[int, SeriesOutput]], Stats]:
    """Forecast a chunk of ``(index, values)`` series; returns outputs and the chunk's stats."""
    _import_models()
    st = Stats()
    with single_threaded_blas():
        return [(i, forecast_series(y, settings, st)) for i, y in chunk], st


@contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread while fitting (these small fits are ~10x slower threaded).

    Uses threadpoolctl when installed, else sets OpenBLAS' thread count through ctypes for every
    OpenBLAS library loaded in the process (numpy's and scipy's), restoring it afterwards.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
        return
    restore = []
    for setter, getter in _openblas_handles():
        try:
            restore.append((setter, int(getter())))
            setter(1)
        except Exception:  # noqa: BLE001 - best effort
            pass
    try:
        yield
    finally:
        for setter, n in restore:
            setter(n)


_OPENBLAS: list | None = None


def _openblas_handles() -> list:
    """(set_num_threads, get_num_threads) of each loaded OpenBLAS (Linux; cached)."""
    global _OPENBLAS
    if _OPENBLAS is not None:
        return _OPENBLAS
    import ctypes

    found, paths = [], set()
    try:
        with open("/proc/self/maps") as fh:
            for line in fh:
                path = line.rsplit(" ", 1)[-1].strip()
                if "openblas" in path.lower() and ".so" in path:
                    paths.add(path)
    except OSError:
        paths = set()
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                try:
                    setter = getattr(lib, f"{prefix}_set_num_threads{suffix}")
                    getter = getattr(lib, f"{prefix}_get_num_threads{suffix}")
                except AttributeError:
                    continue
                found.append((setter, getter))
                break
            else:
                continue
            break
    _OPENBLAS = found
    return found
