"""Throughput of the forecast engine: single process vs all cores, default vs fast method.

N synthetic monthly series of 60 months (seeded: level, trend, seasonality and noise vary; some
series are intermittent, some have months with returns) are forecast 12 months ahead with the
full backtest and selection. Prints series per second and CPU milliseconds per series (all
processes, start-up of the workers included) for each setting, and the ratios.

Usage::

    python benchmarks/forecast_speed.py               # N=200
    python benchmarks/forecast_speed.py --n 10000     # the scale of issue 7 (~10 min on 2 cores)
    python benchmarks/forecast_speed.py --skip-single # only the parallel runs
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from salesanalysis.forecast.engine import run_forecast  # noqa: E402


def synthetic(n: int, months: int = 60, seed: int = 0) -> pd.DataFrame:
    """``n`` monthly series of ``months`` months, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(months)
    idx = pd.period_range("2021-01", periods=months, freq="M").to_timestamp()
    level = np.exp(rng.uniform(3, 10, n))
    trend = rng.normal(0.003, 0.006, n)
    amp = rng.uniform(0, 0.5, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    noise = rng.uniform(0.03, 0.3, n)
    kind = rng.random(n)
    values = np.empty((n, months))
    for i in range(n):
        y = level[i] * np.exp(trend[i] * t + noise[i] * rng.standard_normal(months))
        y *= 1 + amp[i] * np.sin(2 * np.pi * t / 12 + phase[i])
        if kind[i] < 0.08:  # intermittent
            y = np.where(rng.random(months) < 0.6, 0.0, np.round(y / level[i] * 3))
        elif kind[i] < 0.13:  # months with returns
            y[rng.integers(0, months, 3)] *= -0.3
        values[i] = y
    return pd.DataFrame(
        {
            "series_id": np.repeat([f"S{i:05d}" for i in range(n)], months),
            "month": np.tile(idx.to_numpy(), n),
            "value": values.ravel(),
        }
    )


def cpu_seconds() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(df: pd.DataFrame, n: int, **kw) -> tuple[float, float]:
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    run_forecast(df, 12, **kw)
    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return n / wall, 1000 * cpu / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="number of series (default 200)")
    ap.add_argument("--months", type=int, default=60, help="history length (default 60)")
    ap.add_argument("--skip-single", action="store_true", help="skip the single-process runs")
    args = ap.parse_args(argv)

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    df = synthetic(args.n, args.months)
    print(f"{args.n} synthetic series x {args.months} months, horizon 12, {cores} cores")
    rows = []
    for method in ("default", "fast"):
        if not args.skip_single:
            rows.append((method, "1 process", *timed(df, args.n, n_jobs=1, method=method)))
        rows.append(
            (method, f"{cores} processes", *timed(df, args.n, n_jobs=cores, method=method))
        )
    print()
    print(f"{'method':10s}{'executor':14s}{'series/s':>10s}{'CPU ms/series':>15s}")
    for method, ex, sps, cpu in rows:
        print(f"{method:10s}{ex:14s}{sps:10.1f}{cpu:15.0f}")
    print()
    by = {(m, e.split()[1] if " " in e else e): (s, c) for m, e, s, c in rows}
    if not args.skip_single:
        for method in ("default", "fast"):
            single, multi = by[(method, "process")], by[(method, "processes")]
            print(f"{method}: parallel speed-up {multi[0] / single[0]:.2f}x on {cores} cores")
    d = by.get(("default", "processes"))
    f = by.get(("fast", "processes"))
    if d and f:
        print(
            f"fast vs default (parallel): {f[0] / d[0]:.2f}x throughput, "
            f"{f[1] / d[1]:.2f}x CPU per series"
        )
    print("goal: <= 250 CPU ms per series for the default method")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
