"""Charts for the forecast step (notebook 02), drawn from :mod:`salesanalysis.forecast.hierarchy` frames.

Every function returns a :class:`matplotlib.figure.Figure` made without pyplot (a notebook shows
it once, as the cell's result); with nothing to draw (no forecast, no backtest scores...) it is
:func:`~salesanalysis.report.charts.empty_chart`: the title and a sentence, never an error.
Titles, axes and legends are written in English and shown in the report's language through the
message catalogue (domain ``forecast``); call :func:`salesanalysis.report.charts.setup` first so
that the CJK font is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from salesanalysis.forecast.hierarchy import ALL, KEY_COLS, LEVEL_KEYS, LEVELS
from salesanalysis.i18n import N_, tr
from salesanalysis.report.formatting import number, pct

__all__ = [
    "LEVEL_LABELS",
    "level_label",
    "model_label",
    "series_label",
    "fan_chart",
    "fan_chart_grid",
    "MODEL_ORDER",
    "accuracy_chart",
    "reconciliation_chart",
    "chosen_models_chart",
    "hardest_series_chart",
]

LEVEL_LABELS: dict[str, str] = {
    "total": N_("Company total"),
    "region": N_("Region"),
    "product_line": N_("Product line"),
    "customer_type": N_("Customer type"),
    "cell": N_("Region × product line × customer type"),
    "rep": N_("Rep"),
    "bottom": N_("Rep × product line × customer type"),
}
"""The levels' names in English; :func:`level_label` gives them in the report's language."""
_MODEL_LABELS: dict[str, str] = {
    "snaive": N_("seasonal naive"),
    "naive": N_("naive"),
    "mean": N_("mean"),
    "ets": "ETS",
    "theta": "Theta",
    "arima": "ARIMA",
    "combo_median": N_("median of models"),
    "combo": N_("median of models"),
    "chosen": N_("chosen"),
    "zero": N_("all zero"),
    "stopped": N_("stopped selling"),
}
HIST_COLOR = "#333333"
MEAN_COLOR = "#1f5f99"
BAND_COLOR = "#1f5f99"
LAST_YEAR_COLOR = "#c0504d"
GREY = "#7f7f7f"
FIGSIZE = (9.0, 4.5)


def level_label(level: str) -> str:
    """A hierarchy level's name in the report's language (``region`` -> ``区域``)."""
    return tr(LEVEL_LABELS[level]) if level in LEVEL_LABELS else level


def model_label(model: str) -> str:
    """A model's name in the report's language (``snaive`` -> ``seasonal naive``); ETS, Theta
    and ARIMA keep their names."""
    return tr(_MODEL_LABELS[model]) if model in _MODEL_LABELS else model


def _figure(nrows: int = 1, ncols: int = 1, *, figsize=FIGSIZE, **kw) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(nrows, ncols, squeeze=False, **kw)


def _empty(title: str, note: str | None = None) -> Figure:
    from salesanalysis.report.charts import empty_chart  # lazy, like the axis formatters

    return empty_chart(title, note)


def _money_axis(ax: Axes, currency: str) -> None:
    from salesanalysis.report.charts import (
        money_axis,  # lazy: the core module sets the house style
    )

    money_axis(ax, unit=currency)


def _month_axis(ax: Axes, compact: bool) -> None:
    """Month ticks that do not collide: Jan/Jul as YYYY-MM, or January only in small panels."""
    if compact:
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1,)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y"))
        ax.xaxis.set_minor_locator(mdates.MonthLocator(bymonth=(7,)))
    else:
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 7)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))


def series_label(row: Mapping[str, str] | pd.Series) -> str:
    """Readable name of a series: its level and the keys that are not summed over."""
    level = str(row["level"])
    parts = [str(row[c]) for c in LEVEL_KEYS.get(level, KEY_COLS) if str(row[c]) != ALL]
    if level == "total" or not parts:
        return level_label("total")
    return " / ".join(parts)


def _select(frame: pd.DataFrame, level: str, keys: Mapping[str, str] | None) -> pd.DataFrame:
    m = frame["level"] == level
    for c in KEY_COLS:
        want = (keys or {}).get(c, ALL if c not in LEVEL_KEYS[level] else None)
        if want is not None:
            m &= frame[c] == want
    return frame.loc[m]


def _history(history: pd.DataFrame, level: str, keys: Mapping[str, str] | None) -> pd.DataFrame:
    """The history of one series (no rows when there is no history at all)."""
    if history.empty:
        return pd.DataFrame({"month": pd.Series(dtype="datetime64[ns]"), "value": []})
    return _select(history, level, keys)


def _bands(forecast: pd.DataFrame) -> list[int]:
    lv = sorted({int(c[3:]) for c in forecast.columns if c.startswith("lo_")}, reverse=True)
    return [x for x in lv if f"hi_{x}" in forecast.columns]


def _draw_fan(
    ax: Axes,
    fc: pd.DataFrame,
    hist: pd.DataFrame,
    *,
    history_months: int,
    legend: bool,
    compact: bool = False,
) -> None:
    fc = fc.sort_values("month")
    hist = hist.sort_values("month")
    if history_months and len(hist):
        start = hist["month"].max() - pd.DateOffset(months=history_months - 1)
        shown = hist[hist["month"] >= start]
    else:
        shown = hist
    bands = _bands(fc)
    alphas = np.linspace(0.15, 0.35, len(bands)) if bands else []
    for lv, a in zip(bands, alphas, strict=False):
        ax.fill_between(
            fc["month"],
            fc[f"lo_{lv}"],
            fc[f"hi_{lv}"],
            color=BAND_COLOR,
            alpha=float(a),
            linewidth=0,
            label=tr("{level}% interval").format(level=lv),
        )
    ax.plot(shown["month"], shown["value"], color=HIST_COLOR, linewidth=1.4, label=tr("Actual"))
    if len(fc) and len(shown):  # join the forecast line to the last actual month
        join = pd.concat(
            [
                shown.tail(1).rename(columns={"value": "mean"})[["month", "mean"]],
                fc[["month", "mean"]],
            ]
        )
    else:
        join = fc[["month", "mean"]]
    ax.plot(
        join["month"], join["mean"], color=MEAN_COLOR, linewidth=1.8, label=tr("Forecast (mean)")
    )
    # last year: the actual of the same calendar months one year before each forecast month
    ly = hist.set_index("month")["value"]
    ly_months = pd.DatetimeIndex(fc["month"]) - pd.DateOffset(years=1)
    ly_vals = ly.reindex(ly_months).to_numpy()
    if np.isfinite(ly_vals).any():
        ax.plot(
            fc["month"],
            ly_vals,
            color=LAST_YEAR_COLOR,
            linewidth=1.2,
            linestyle="--",
            label=tr("Same month last year"),
        )
    if len(fc):
        ax.axvline(
            fc["month"].min() - pd.Timedelta(days=15), color=GREY, linewidth=0.8, linestyle=":"
        )
    ax.set_xlabel(tr("Month"))
    ax.set_ylabel(tr("Monthly revenue"))
    _month_axis(ax, compact)
    if legend:
        ax.legend(loc="upper left", fontsize="small", ncols=2)


def fan_chart(
    forecast: pd.DataFrame,
    history: pd.DataFrame,
    *,
    level: str = "total",
    keys: Mapping[str, str] | None = None,
    history_months: int = 36,
    currency: str = "CNY",
    title: str | None = None,
) -> Figure:
    """History, forecast mean and interval bands of one series, with last year's months.

    Args:
        forecast: ``level, <keys>, month, mean, lo_*, hi_*`` (:func:`forecast_hierarchy`).
        history: ``level, <keys>, month, value`` up to the cutoff.
        level, keys: the series (keys of the level's dimensions, e.g. ``{"region": "华东"}``).
        history_months: months of history shown before the forecast.
    """
    if forecast.empty:
        return _empty(title or tr("Monthly revenue: actual and forecast"), tr("No forecast."))
    fc = _select(forecast, level, keys)
    hist = _history(history, level, keys)
    if fc.empty:
        raise ValueError(f"no forecast for level {level!r} and keys {dict(keys or {})}")
    fig, axes = _figure()
    ax = axes[0, 0]
    _draw_fan(ax, fc, hist, history_months=history_months, legend=True)
    _money_axis(ax, currency)
    name = series_label(fc.iloc[0])
    ax.set_title(
        title
        or tr("{series}: monthly revenue, actual and forecast ({months} months)").format(
            series=name, months=len(fc)
        )
    )
    return fig


def fan_chart_grid(
    forecast: pd.DataFrame,
    history: pd.DataFrame,
    *,
    level: str = "region",
    ncols: int = 2,
    history_months: int = 24,
    currency: str = "CNY",
    max_panels: int = 12,
) -> Figure:
    """One fan chart per key of ``level`` (e.g. each region), biggest forecast first."""
    title = tr("By {level}: monthly revenue, actual and forecast").format(level=level_label(level))
    fc = forecast[forecast["level"] == level] if len(forecast) else forecast
    if fc.empty:
        return _empty(title, tr("No forecast."))
    cols = list(LEVEL_KEYS[level])
    order = (
        (fc.groupby(cols, sort=True)["mean"].sum().sort_values(ascending=False).index[:max_panels])
        if cols
        else [()]
    )
    n = len(order)
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = _figure(nrows, ncols, figsize=(4.6 * ncols, 3.0 * nrows + 0.6))
    for i, key in enumerate(order):
        ax = axes.flat[i]
        key = key if isinstance(key, tuple) else (key,)
        k = dict(zip(cols, key, strict=True))
        f = _select(forecast, level, k)
        _draw_fan(
            ax,
            f,
            _history(history, level, k),
            history_months=history_months,
            legend=(i == 0),
            compact=True,
        )
        _money_axis(ax, currency)
        ax.set_title(series_label(f.iloc[0]), fontsize="medium")
        if i + ncols < n:  # a panel below shows the month label
            ax.set_xlabel("")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(
        title,
        fontweight="bold",
        x=0.01,
        ha="left",
    )
    return fig


MODEL_ORDER = ("snaive", "naive", "mean", "ets", "theta", "arima", "combo_median")


def accuracy_chart(
    summary: pd.DataFrame, *, metric: str = "mase", baseline: str | None = None
) -> Figure:
    """Backtest accuracy by level (rows) and model (columns) as an annotated heatmap.

    Cells show the mean ``metric`` (lower is better); colour is the score relative to the
    baseline on the same series (blue = better than seasonal naive, red = worse). The
    ``chosen`` column is each series' own choice.

    Args:
        summary: ``level, model, <metric>, vs_baseline`` (from
            :func:`salesanalysis.forecast.hierarchy.backtest_summary`).
        baseline: the reference model (its column comes first).
    """
    from matplotlib.colors import TwoSlopeNorm

    title = tr("Backtest mean {metric} by level and model (lower is better)").format(
        metric=metric.upper()
    )
    d = summary.dropna(subset=[metric]) if len(summary) else summary
    if d.empty:
        return _empty(title, tr("No backtest scores."))
    levels = [lv for lv in LEVELS if lv in set(d["level"])]
    present = list(dict.fromkeys(d["model"]))
    models = [m for m in (baseline,) if m in present]
    models += [m for m in MODEL_ORDER if m in present and m not in models]
    models += [m for m in present if m not in models and m != "chosen"]
    models += ["chosen"] if "chosen" in present else []
    score = d.pivot_table(index="level", columns="model", values=metric).reindex(
        index=levels, columns=models
    )
    rel = d.pivot_table(index="level", columns="model", values="vs_baseline").reindex(
        index=levels, columns=models
    )
    fig, axes = _figure(figsize=(1.05 * len(models) + 3.2, 0.5 * len(levels) + 1.6))
    ax = axes[0, 0]
    vals = rel.to_numpy(dtype=float)
    finite = vals[np.isfinite(vals)]
    span = max(0.05, float(np.max(np.abs(finite - 1.0)))) if finite.size else 0.5
    im = ax.imshow(
        np.where(np.isfinite(vals), vals, 1.0),
        cmap="RdBu_r",
        aspect="auto",
        norm=TwoSlopeNorm(vcenter=1.0, vmin=1.0 - span, vmax=1.0 + span),
    )
    for (r, c), v in np.ndenumerate(score.to_numpy(dtype=float)):
        if np.isfinite(v):
            dark = bool(np.isfinite(vals[r, c]) and abs(vals[r, c] - 1.0) > 0.6 * span)
            ax.text(
                c,
                r,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize="small",
                color="white" if dark else "black",
                fontweight="bold" if models[c] == "chosen" else "normal",
            )
    ax.set_xticks(range(len(models)), [model_label(m) for m in models], rotation=30, ha="right")
    ax.set_yticks(range(len(levels)), [level_label(lv) for lv in levels])
    ax.grid(False)
    ax.set_xlabel(tr("Model (chosen = each series' own choice)"))
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label(
        tr("{metric} relative to the baseline (below 1 is better)").format(metric=metric.upper())
    )
    ax.set_title(title)
    return fig


def reconciliation_chart(accuracy: pd.DataFrame) -> Figure:
    """MASE of base against reconciled forecasts per level (from ``reconciliation_backtest``)."""
    title = tr("Forecast accuracy before and after reconciliation, by level")
    d = accuracy.dropna(subset=["mase_base"]) if len(accuracy) else accuracy
    if d.empty:
        return _empty(title, tr("No hold-out scores."))
    levels = list(d["level"])
    fig, axes = _figure(figsize=(9.0, 0.5 * len(levels) + 1.6))
    ax = axes[0, 0]
    y = np.arange(len(levels))
    ax.barh(
        y - 0.2, d["mase_base"], height=0.4, color="#a9c4de", label=tr("Before reconciliation")
    )
    ax.barh(
        y + 0.2,
        d["mase_reconciled"],
        height=0.4,
        color=MEAN_COLOR,
        label=tr("After reconciliation (adds up)"),
    )
    for yi, (b, r) in enumerate(zip(d["mase_base"], d["mase_reconciled"], strict=True)):
        ax.annotate(
            pct(r / b - 1, signed=True),
            (max(b, r), yi),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
            color=GREY,
        )
    ax.set_yticks(y, [level_label(lv) for lv in levels])
    ax.invert_yaxis()
    ax.set_xlabel(tr("Hold-out mean MASE (lower is better)"))
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return fig


def chosen_models_chart(chosen: pd.DataFrame) -> Figure:
    """How many series of each level chose each model family (stacked bars, share of the level).

    Uses the engine's ``candidate`` column (model family) when present, else ``model``.
    """
    title = tr("Models chosen at each level")
    fam = "candidate" if "candidate" in chosen.columns else "model"
    d = chosen[chosen[fam] != "inactive"] if len(chosen) else chosen
    if d.empty:
        return _empty(title, tr("No series chose a model."))
    tab = d.groupby(["level", fam]).size().unstack(fill_value=0)
    tab = tab.reindex([lv for lv in LEVELS if lv in tab.index])
    share = tab.div(tab.sum(axis=1), axis=0)
    fig, axes = _figure(figsize=(9.0, 0.45 * len(tab) + 1.8))
    ax = axes[0, 0]
    left = np.zeros(len(share))
    palette = [
        "#1f5f99",
        "#3a8a4f",
        "#e08a1e",
        "#8e5ea2",
        "#2aa1b3",
        "#c0504d",
        "#9c755f",
        "#7f7f7f",
    ]
    y = np.arange(len(share))
    for i, model in enumerate(share.columns):
        ax.barh(
            y, share[model], left=left, color=palette[i % len(palette)], label=model_label(model)
        )
        left += share[model].to_numpy()
    ax.set_yticks(
        y,
        [
            tr("{level} ({n} series)").format(level=level_label(lv), n=number(tab.loc[lv].sum()))
            for lv in share.index
        ],
    )
    ax.invert_yaxis()
    from salesanalysis.report.charts import pct_axis

    pct_axis(ax, "x", label=tr("Share of the level's series"))
    ax.set_xlim(0, 1)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return fig


def hardest_series_chart(
    forecast: pd.DataFrame,
    history: pd.DataFrame,
    hardest: pd.DataFrame,
    *,
    ncols: int = 2,
    history_months: int = 36,
    currency: str = "CNY",
    score: str = "mase",
) -> Figure:
    """Fan charts of the series in ``hardest`` (rows with ``level`` and the key columns)."""
    n = len(hardest)
    title = tr("Series that were hardest to forecast (largest backtest errors)")
    if n == 0 or forecast.empty:
        return _empty(title, tr("No series with backtest scores."))
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = _figure(nrows, ncols, figsize=(4.6 * ncols, 3.0 * nrows + 0.6))
    for i, (_, row) in enumerate(hardest.iterrows()):
        ax = axes.flat[i]
        keys = {c: row[c] for c in KEY_COLS}
        f = _select(forecast, row["level"], keys)
        _draw_fan(
            ax,
            f,
            _history(history, row["level"], keys),
            history_months=history_months,
            legend=(i == 0),
            compact=True,
        )
        _money_axis(ax, currency)
        name = tr("{level}: {series}").format(
            level=level_label(row["level"]), series=series_label(row)
        )
        if score in row and pd.notna(row[score]):
            name = tr("{series}, {metric} {value}").format(
                series=name, metric=score.upper(), value=number(row[score], 2)
            )
        ax.set_title(name, fontsize="small")
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontweight="bold", x=0.01, ha="left")
    return fig
