"""Accuracy by level: reconciled against base forecasts scored on actuals (MASE, interval
coverage), and the engine's backtest scores per level and model.

:func:`series_accuracy` scores each series, :func:`accuracy_by_level` sums them up per level;
:func:`chosen_scores`, :func:`backtest_summary` and :func:`hardest_series` read the engine's
backtest tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from salesanalysis.forecast.series import KEY_COLS, LEVELS, HierarchyError, HierarchySeries
from salesanalysis.i18n import tr

__all__ = [
    "accuracy_by_level",
    "backtest_summary",
    "chosen_scores",
    "hardest_series",
    "series_accuracy",
]

_ID_COLS = ["level", *KEY_COLS]


def _mase_scale(values: np.ndarray, season_length: int) -> np.ndarray:
    """In-sample MAE of the seasonal naive forecast (lag 1 when history is too short).

    Leading zeros are ignored (a series starts at its first non-zero month).
    """
    out = np.full(values.shape[0], np.nan)
    for i, v in enumerate(values):
        nz = np.flatnonzero(v != 0)
        if nz.size == 0:
            continue
        v = v[nz[0] :]
        lag = season_length if v.size > season_length else 1
        if v.size <= lag:
            continue
        out[i] = np.mean(np.abs(v[lag:] - v[:-lag]))
    return out


def series_accuracy(
    forecast: pd.DataFrame,
    actuals: pd.DataFrame,
    history: HierarchySeries,
    *,
    season_length: int = 12,
) -> pd.DataFrame:
    """Errors of base and reconciled forecasts of each series against actuals.

    Args:
        forecast: frame from :func:`forecast_hierarchy` (``level, <keys>, month, mean,
            base_mean, model``), made with ``history`` as its history.
        actuals: long ``level, <keys>, month, value`` frame of what happened (e.g.
            ``build_series(cube, later_cutoff).long()``); months absent count as 0.
        history: the history the forecast was made from (for the MASE scale).
        season_length: seasonal lag of the MASE scale.

    Returns:
        One row per scored series: ``level, <keys>, model, months, mae_base, mae_reconciled,
        scale, mase_base, mase_reconciled`` (MASE is NaN when the scale is 0: a constant or
        empty history), and ``inside_<l>`` per interval level present in ``forecast``: the
        months whose actual fell inside the reconciled ``lo_<l>``..``hi_<l>`` interval.
        Inactive series are left out (both forecasts are 0).
    """
    levels = _interval_levels(forecast)
    bounds = [c for lv in levels for c in (f"lo_{lv}", f"hi_{lv}")]
    f = forecast.loc[
        forecast["model"] != "inactive",
        [*_ID_COLS, "month", "mean", "base_mean", "model", *bounds],
    ]
    a = actuals[[*_ID_COLS, "month", "value"]]
    m = f.merge(a, on=[*_ID_COLS, "month"], how="left")
    m["value"] = m["value"].fillna(0.0)
    m["err_base"] = (m["base_mean"] - m["value"]).abs()
    m["err_rec"] = (m["mean"] - m["value"]).abs()
    for lv in levels:
        m[f"inside_{lv}"] = (m["value"] >= m[f"lo_{lv}"]) & (m["value"] <= m[f"hi_{lv}"])
    g = (
        m.groupby(_ID_COLS, sort=False)
        .agg(
            model=("model", "first"),
            months=("month", "size"),
            mae_base=("err_base", "mean"),
            mae_reconciled=("err_rec", "mean"),
            **{f"inside_{lv}": (f"inside_{lv}", "sum") for lv in levels},
        )
        .reset_index()
    )
    scale = pd.DataFrame(history.keys[_ID_COLS]).assign(
        scale=_mase_scale(history.values, season_length)
    )
    g = g.merge(scale, on=_ID_COLS, how="left")
    ok = g["scale"] > 0
    g["mase_base"] = np.where(ok, g["mae_base"] / g["scale"].where(ok, 1.0), np.nan)
    g["mase_reconciled"] = np.where(ok, g["mae_reconciled"] / g["scale"].where(ok, 1.0), np.nan)
    return g


def _interval_levels(frame: pd.DataFrame) -> list[int]:
    """Interval levels with both ``lo_<l>`` and ``hi_<l>`` columns in ``frame``, ascending."""
    found = [int(c[3:]) for c in frame.columns if re.fullmatch(r"lo_\d+", str(c))]
    return sorted(lv for lv in found if f"hi_{lv}" in frame.columns)


def accuracy_by_level(per_series: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per level, base against reconciled (from :func:`series_accuracy`).

    Returns:
        ``level, series, scored, mase_base, mase_reconciled, change, median_change, rel_mae,
        improved`` and ``cov_<l>`` per interval level: ``series`` counts series x origin pairs
        (``scored``: those with a MASE scale); mean MASE of each; ``change = mase_reconciled /
        mase_base - 1`` (negative = reconciliation helped); ``median_change`` the same for the
        median MASE; ``rel_mae`` the geometric mean over series of ``MAE reconciled / MAE
        base`` (below 1 = better; robust to a few series with a huge error); ``improved`` the
        share of scored series whose error went down; ``cov_<l>`` the share of series-months
        whose actual fell inside the reconciled ``<l>``% interval (nominal: ``l``/100). Levels
        in hierarchy order.
    """
    d = per_series.copy()
    d["scored"] = d["mase_base"].notna()
    d["better"] = (d["mase_reconciled"] < d["mase_base"] - 1e-12) & d["scored"]
    ok = d["scored"] & (d["mae_base"] > 0) & (d["mae_reconciled"] > 0)
    d["log_ratio"] = np.where(
        ok, np.log(d["mae_reconciled"].where(ok, 1.0) / d["mae_base"].where(ok, 1.0)), np.nan
    )
    cov_levels = sorted(int(c[7:]) for c in d.columns if re.fullmatch(r"inside_\d+", str(c)))
    g = d.groupby("level", sort=False).agg(
        months=("months", "sum"),
        **{f"inside_{lv}": (f"inside_{lv}", "sum") for lv in cov_levels},
        series=("level", "size"),
        scored=("scored", "sum"),
        mase_base=("mase_base", "mean"),
        mase_reconciled=("mase_reconciled", "mean"),
        med_base=("mase_base", "median"),
        med_rec=("mase_reconciled", "median"),
        log_ratio=("log_ratio", "mean"),
        better=("better", "sum"),
    )
    g["change"] = g["mase_reconciled"] / g["mase_base"] - 1.0
    g["median_change"] = g["med_rec"] / g["med_base"] - 1.0
    g["rel_mae"] = np.exp(g["log_ratio"])
    g["improved"] = g["better"] / g["scored"].where(g["scored"] > 0)
    for lv in cov_levels:
        g[f"cov_{lv}"] = g[f"inside_{lv}"] / g["months"].where(g["months"] > 0)
    order = {lv: i for i, lv in enumerate(LEVELS)}
    g = g.reset_index().sort_values("level", key=lambda s: s.map(order)).reset_index(drop=True)
    cols = [
        "level",
        "series",
        "scored",
        "mase_base",
        "mase_reconciled",
        "change",
        "median_change",
        "rel_mae",
        "improved",
        *(f"cov_{lv}" for lv in cov_levels),
    ]
    return g[cols]


# --------------------------------------------------------------------------- backtest tables


def _baseline_name(models: Sequence[str]) -> str | None:
    names = [m for m in models if "naive" in str(m).lower()]
    seasonal = [m for m in names if str(m).lower().startswith(("s", "seasonal"))]
    return (seasonal or names or [None])[0]


def _family_col(frame: pd.DataFrame) -> str:
    """The column naming the model family: ``candidate`` (engine) when present, else ``model``."""
    return "candidate" if "candidate" in frame.columns else "model"


def chosen_scores(
    backtest: pd.DataFrame, chosen: pd.DataFrame, metric: str = "mase"
) -> pd.DataFrame:
    """Backtest score of the model each series chose.

    Uses the engine's ``chosen.backtest_mase`` when present, else the backtest rows flagged
    ``chosen``, else the backtest row of the chosen model (scores averaged over rows).

    Returns:
        ``series_id, level, <keys>, model, <metric>`` (``model``: the chosen model's family).
    """
    fam = _family_col(chosen)
    ch = chosen[["series_id", "level", *KEY_COLS]].assign(model=chosen[fam].astype(str))
    if metric == "mase" and "backtest_mase" in chosen.columns:
        return ch.assign(mase=chosen["backtest_mase"].to_numpy(dtype=float))
    if "chosen" in backtest.columns:
        sc = backtest[backtest["chosen"].astype(bool)].groupby("series_id")[metric].min()
        return ch.assign(**{metric: ch["series_id"].map(sc).to_numpy(dtype=float)})
    bfam = _family_col(backtest)
    per = backtest.groupby(["series_id", bfam], as_index=False, sort=False)[metric].mean()
    per = per.rename(columns={bfam: "model"})
    return ch.merge(per, on=["series_id", "model"], how="left")


def backtest_summary(
    backtest: pd.DataFrame,
    chosen: pd.DataFrame | None = None,
    *,
    metric: str = "mase",
    baseline: str | None = None,
) -> pd.DataFrame:
    """Mean backtest score per level and model, and against the baseline on the same series.

    Args:
        backtest: the engine's backtest with ``series_id, level, candidate`` (or ``model``) and
            ``<metric>``: one row per series and candidate (or per series, candidate, origin).
        chosen: the engine's ``chosen`` table with the series' level; adds a row
            ``model="chosen"`` per level (the score of each series' own choice).
        baseline: the reference model (default: the seasonal naive candidate).

    Returns:
        ``level, model, series, <metric>, vs_baseline`` where ``vs_baseline`` is the mean score
        divided by the baseline's mean score over the same series (below 1 = better).
        ``.attrs["baseline"]`` names the baseline.
    """
    if metric not in backtest.columns:
        raise HierarchyError(
            tr("The backtest table has no column {column}.").format(column=repr(metric)),
            fix=tr("Use one of: {choices}.").format(choices=", ".join(map(str, backtest.columns))),
        )

    fam = _family_col(backtest)
    per = backtest.groupby(["series_id", "level", fam], as_index=False, sort=False)[metric].mean()
    per = per.rename(columns={fam: "model"})
    per = per[np.isfinite(per[metric])]
    if chosen is not None and len(chosen):
        ch = chosen_scores(backtest, chosen, metric).dropna(subset=[metric])
        per = pd.concat(
            [
                per,
                ch[["series_id", "level"]].assign(
                    model="chosen", **{metric: ch[metric].to_numpy()}
                ),
            ],
            ignore_index=True,
        )
    baseline = baseline or _baseline_name(list(dict.fromkeys(per["model"])))
    base = (
        per[per["model"] == baseline][["series_id", metric]].rename(columns={metric: "_base"})
        if baseline is not None
        else pd.DataFrame(columns=["series_id", "_base"])
    )
    per = per.merge(base, on="series_id", how="left")
    g = per.groupby(["level", "model"], as_index=False, sort=False).agg(
        series=("series_id", "size"), score=(metric, "mean"), _b=("_base", "mean")
    )
    both = (
        per.dropna(subset=["_base"])
        .groupby(["level", "model"], sort=False)
        .agg(s=(metric, "mean"), b=("_base", "mean"))
    )
    ratio = (both["s"] / both["b"]).rename("vs_baseline").reset_index()
    g = g.merge(ratio, on=["level", "model"], how="left").drop(columns="_b")
    g = g.rename(columns={"score": metric})
    order = {lv: i for i, lv in enumerate(LEVELS)}
    g["_o"] = g["level"].map(order)
    g["_m"] = g["model"].map(lambda m: (m == baseline, m == "chosen"))
    g = g.sort_values(["_o", "_m", metric]).drop(columns=["_o", "_m"]).reset_index(drop=True)
    g.attrs["baseline"] = baseline
    return g


def hardest_series(
    scores: pd.DataFrame,
    *,
    n: int = 8,
    score: str = "mase",
    levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The ``n`` series with the largest ``score`` (e.g. from :func:`chosen_scores` or
    :func:`series_accuracy`), optionally only from some levels."""
    d = scores.dropna(subset=[score])
    if levels is not None:
        d = d[d["level"].isin(list(levels))]
    return d.sort_values(score, ascending=False, kind="stable").head(n).reset_index(drop=True)
