"""Charts for the forecast step (notebook 02), drawn from :mod:`salesanalysis.forecast.hierarchy` frames.

Every function returns a :class:`matplotlib.figure.Figure` made without pyplot (a notebook shows
it once, as the cell's result); with nothing to draw (no forecast, no backtest scores...) it is
:func:`~salesanalysis.report.charts.empty_chart`: the title and a sentence, never an error.
Titles and axes are in Chinese with units; call :func:`salesanalysis.report.charts.setup` first
so that the CJK font is used.
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

__all__ = [
    "LEVEL_LABELS",
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
    "total": "公司合计",
    "region": "区域",
    "product_line": "产品线",
    "customer_type": "客户类型",
    "cell": "区域×产品线×客户类型",
    "rep": "销售代表",
    "bottom": "代表×产品线×客户类型",
}
HIST_COLOR = "#333333"
MEAN_COLOR = "#1f5f99"
BAND_COLOR = "#1f5f99"
LAST_YEAR_COLOR = "#c0504d"
GREY = "#7f7f7f"
FIGSIZE = (9.0, 4.5)


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
        return LEVEL_LABELS["total"]
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
            label=f"{lv}% 预测区间",
        )
    ax.plot(shown["month"], shown["value"], color=HIST_COLOR, linewidth=1.4, label="实际")
    if len(fc) and len(shown):  # join the forecast line to the last actual month
        join = pd.concat(
            [
                shown.tail(1).rename(columns={"value": "mean"})[["month", "mean"]],
                fc[["month", "mean"]],
            ]
        )
    else:
        join = fc[["month", "mean"]]
    ax.plot(join["month"], join["mean"], color=MEAN_COLOR, linewidth=1.8, label="预测（均值）")
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
            label="上年同月实际",
        )
    if len(fc):
        ax.axvline(
            fc["month"].min() - pd.Timedelta(days=15), color=GREY, linewidth=0.8, linestyle=":"
        )
    ax.set_xlabel("月份")
    ax.set_ylabel("月收入")
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
        return _empty(title or "月收入实际与预测", "没有预测 · No forecast")
    fc = _select(forecast, level, keys)
    hist = _history(history, level, keys)
    if fc.empty:
        raise ValueError(f"no forecast for level {level!r} and keys {dict(keys or {})}")
    fig, axes = _figure()
    ax = axes[0, 0]
    _draw_fan(ax, fc, hist, history_months=history_months, legend=True)
    _money_axis(ax, currency)
    name = series_label(fc.iloc[0])
    ax.set_title(title or f"{name}：月收入实际与预测（{len(fc)} 个月）")
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
    title = f"按{LEVEL_LABELS.get(level, level)}：月收入实际与预测"
    fc = forecast[forecast["level"] == level] if len(forecast) else forecast
    if fc.empty:
        return _empty(title, "没有预测 · No forecast")
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

    title = f"回测平均 {metric.upper()}：按层级和模型（越低越好）"
    d = summary.dropna(subset=[metric]) if len(summary) else summary
    if d.empty:
        return _empty(title, "没有回测结果 · No backtest scores")
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
    ax.set_xticks(range(len(models)), models, rotation=30, ha="right")
    ax.set_yticks(range(len(levels)), [LEVEL_LABELS.get(lv, lv) for lv in levels])
    ax.grid(False)
    ax.set_xlabel("模型（chosen = 各序列自己选中的模型）")
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label(f"相对季节性朴素法的 {metric.upper()}（<1 更好）")
    ax.set_title(title)
    return fig


def reconciliation_chart(accuracy: pd.DataFrame) -> Figure:
    """MASE of base against reconciled forecasts per level (from ``reconciliation_backtest``)."""
    title = "调和前后的预测精度（按层级）"
    d = accuracy.dropna(subset=["mase_base"]) if len(accuracy) else accuracy
    if d.empty:
        return _empty(title, "没有留出期结果 · No hold-out scores")
    levels = list(d["level"])
    fig, axes = _figure(figsize=(9.0, 0.5 * len(levels) + 1.6))
    ax = axes[0, 0]
    y = np.arange(len(levels))
    ax.barh(y - 0.2, d["mase_base"], height=0.4, color="#a9c4de", label="调和前（各自预测）")
    ax.barh(y + 0.2, d["mase_reconciled"], height=0.4, color=MEAN_COLOR, label="调和后（可加总）")
    for yi, (b, r) in enumerate(zip(d["mase_base"], d["mase_reconciled"], strict=True)):
        ax.annotate(
            f"{(r / b - 1):+.1%}",
            (max(b, r), yi),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
            color=GREY,
        )
    ax.set_yticks(y, [LEVEL_LABELS.get(lv, lv) for lv in levels])
    ax.invert_yaxis()
    ax.set_xlabel("留出期平均 MASE（越低越好）")
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="small")
    return fig


def chosen_models_chart(chosen: pd.DataFrame) -> Figure:
    """How many series of each level chose each model family (stacked bars, share of the level).

    Uses the engine's ``candidate`` column (model family) when present, else ``model``.
    """
    title = "各层级选中的预测模型"
    fam = "candidate" if "candidate" in chosen.columns else "model"
    d = chosen[chosen[fam] != "inactive"] if len(chosen) else chosen
    if d.empty:
        return _empty(title, "没有做过模型选择的序列 · No series chose a model")
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
        ax.barh(y, share[model], left=left, color=palette[i % len(palette)], label=model)
        left += share[model].to_numpy()
    ax.set_yticks(
        y, [f"{LEVEL_LABELS.get(lv, lv)}（{int(tab.loc[lv].sum())} 条）" for lv in share.index]
    )
    ax.invert_yaxis()
    from salesanalysis.report.charts import pct_axis

    pct_axis(ax, "x", label="所选模型占该层级序列数的比例")
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
    title = "最难预测的序列（回测误差最大）"
    if n == 0 or forecast.empty:
        return _empty(title, "没有回测误差可比较的序列 · No series with backtest scores")
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
        extra = (
            f"，{score.upper()} {row[score]:.2f}" if score in row and pd.notna(row[score]) else ""
        )
        ax.set_title(
            f"{LEVEL_LABELS.get(row['level'], row['level'])}：{series_label(row)}{extra}",
            fontsize="small",
        )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontweight="bold", x=0.01, ha="left")
    return fig
