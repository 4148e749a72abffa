"""House style for charts: a CJK font, seaborn theme, PNG output and axis formatters.

Call :func:`setup` once at the top of a notebook (or in a test) before drawing::

    from salesanalysis.report import charts as plots
    plots.setup()
    fig, ax = plt.subplots()
    ax.plot(months, revenue)
    plots.money_axis(ax, unit="CNY")        # after plotting: the scale follows the data

Every chart function of the step modules takes the frame it draws; when that frame has nothing
to draw (no rows, or none of the kind the chart shows) it draws nothing and returns
:func:`empty_chart`: a small figure with the chart's title and a centred sentence, never an
exception, so a notebook cell shows the same kind of output either way.

The CJK font is the Noto Sans CJK SC file shipped by the ``mplfonts`` package. It is registered
with matplotlib's font manager in memory only: nothing is written into matplotlib's folders.
Step-specific charts live in ``salesanalysis/report/charts/<step>.py`` (for example ``charts.market``).
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import math
from pathlib import Path
from typing import Literal

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter

from salesanalysis import i18n
from salesanalysis.errors import SalesAnalysisError
from salesanalysis.i18n import N_, tr

__all__ = [
    "CJK_FONT_FAMILY",
    "CJK_FONT_FILE",
    "DPI",
    "LABELS",
    "SHORT_MONTHS",
    "FontMissingError",
    "cjk_font_path",
    "setup",
    "money_axis",
    "pct_axis",
    "count_axis",
    "money_scale",
    "label",
    "waterfall_bars",
    "EMPTY_TEXT",
    "empty_chart",
    "is_empty_chart",
]

CJK_FONT_FAMILY = "Noto Sans CJK SC"
CJK_FONT_FILE = "NotoSansCJKsc-Regular.otf"
DPI = 100
"""Resolution of embedded PNG charts: enough for a browser, keeps the HTML report small."""

FIGSIZE = (9.0, 4.5)

SHORT_MONTHS = (
    N_("Jan"),
    N_("Feb"),
    N_("Mar"),
    N_("Apr"),
    N_("May"),
    N_("Jun"),
    N_("Jul"),
    N_("Aug"),
    N_("Sep"),
    N_("Oct"),
    N_("Nov"),
    N_("Dec"),
)
"""Month names on a chart's axis (translated where drawn: ``tr(SHORT_MONTHS[m - 1])``)."""

# Chinese display names for the frame columns used on axes, legends and titles.
LABELS: dict[str, str] = {
    "month": "月份",
    "region": "区域",
    "product_line": "产品线",
    "customer_type": "客户类型",
    "rep_id": "销售代表",
    "revenue": "收入",
    "orders": "订单数",
    "quantity": "销量",
    "customers": "客户数",
    "market_size": "市场规模",
    "market_share": "市场份额",
    "unit_price": "平均单价",
}


class FontMissingError(SalesAnalysisError):
    """The CJK font that charts need is not installed."""

    title = "Chart font missing"


def label(name: str) -> str:
    """Display name of a column in the report's language: :data:`LABELS` in Chinese, the
    column's header in English (the name itself when there is none)."""
    if i18n.language() == "zh":
        return LABELS.get(name, name)
    from salesanalysis.report.formatting import header_label

    return str(header_label(name))


def cjk_font_path() -> Path:
    """Path of the Noto Sans CJK SC font file shipped by the ``mplfonts`` package.

    Raises:
        FontMissingError: ``mplfonts`` is not installed or lacks the font file.
    """
    fix = tr(
        "Install the project with its dependencies (`make setup`, or "
        "`pip install -e .` / `pip install mplfonts`) in the environment that runs the notebooks."
    )
    if importlib.util.find_spec("mplfonts") is None:
        raise FontMissingError(
            tr(
                "The package 'mplfonts', which provides the Chinese font for charts, is not "
                "installed, so Chinese labels would show as empty boxes."
            ),
            fix=fix,
        )
    path = Path(str(importlib.resources.files("mplfonts") / "fonts" / CJK_FONT_FILE))
    if not path.is_file():
        raise FontMissingError(
            tr(
                "The font file {file} was not found in the installed 'mplfonts' package "
                "(looked at {path})."
            ).format(file=CJK_FONT_FILE, path=path),
            fix=tr("Reinstall it: `pip install --force-reinstall mplfonts`."),
        )
    return path


def _register_font() -> None:
    """Register the bundled font file and put it first among fonts of its family.

    A system package (Debian's fonts-noto-cjk) can carry a font of the same family name in a
    .ttc collection; matplotlib keeps the first of equally good matches, so without this the
    report's glyphs would depend on what the machine happens to have installed.
    """
    path = cjk_font_path().resolve()
    fm = font_manager.fontManager
    ours = [f for f in fm.ttflist if Path(f.fname).resolve() == path]
    if not ours:
        fm.addfont(str(path))
        ours = [f for f in fm.ttflist if Path(f.fname).resolve() == path]
    if fm.ttflist[: len(ours)] != ours:
        fm.ttflist = ours + [f for f in fm.ttflist if Path(f.fname).resolve() != path]
        fm._findfont_cached.cache_clear()  # the look-up cache keeps the old winner otherwise


def _configure_inline_backend() -> None:
    """Make the Jupyter inline backend emit PNG at :data:`DPI` (no-op outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency of ipykernel
        return
    shell = get_ipython()
    if shell is None:
        return
    try:
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # pragma: no cover
        return
    set_matplotlib_formats("png", dpi=DPI, bbox_inches="tight")


def setup(*, context: Literal["notebook", "paper", "talk"] = "notebook") -> None:
    """Register the CJK font and apply the house style to matplotlib and seaborn.

    Safe to call more than once. Sets the seaborn ``whitegrid`` theme, the CJK font first in
    ``font.sans-serif`` (DejaVu Sans kept as fallback), ``axes.unicode_minus=False`` (the
    Unicode minus sign is missing from many CJK fonts), a default figure size, and PNG output at
    :data:`DPI` for the inline backend so that charts embed in nbconvert HTML.

    Raises:
        FontMissingError: the font package is not installed.
    """
    import matplotlib.pyplot as plt  # noqa: F401  (activates the backend before we set rc)
    import seaborn as sns

    _register_font()
    sans = [CJK_FONT_FAMILY, "DejaVu Sans", "sans-serif"]
    sns.set_theme(
        context=context,
        style="whitegrid",
        palette="deep",
        font="sans-serif",
        rc={
            "font.family": ["sans-serif"],
            "font.sans-serif": sans,
            "axes.unicode_minus": False,
            "figure.figsize": FIGSIZE,
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "savefig.bbox": "tight",
            "axes.titlesize": "large",
            "axes.titlelocation": "left",
            "legend.frameon": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.autolayout": False,
            "figure.constrained_layout.use": True,
        },
    )
    _configure_inline_backend()
    _quiet_report_warnings()


def _quiet_report_warnings() -> None:
    """Keep matplotlib's chatter out of the business report: glyphs missing for emoji or
    right-to-left text in data labels (drawn as boxes; Chinese is covered by the CJK font, which
    tests check), and layout notices. Tests that look for them record warnings explicitly."""
    import logging
    import warnings

    warnings.filterwarnings("ignore", message=r"Glyph .* missing from font", category=UserWarning)
    warnings.filterwarnings(
        "ignore", message=r".*constrained_layout not applied.*", category=UserWarning
    )
    warnings.filterwarnings("ignore", message=r".*[Tt]ight.?layout.*", category=UserWarning)
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)


# --------------------------------------------------------------------------- axis formatters

_SCALES_CN = [(1e8, "亿"), (1e4, "万"), (1.0, "")]
_SCALES_EN = [(1e9, "B"), (1e6, "M"), (1e3, "K"), (1.0, "")]


def money_scale(value: float, style: Literal["cn", "en"] = "cn") -> tuple[float, str]:
    """Divisor and its name for showing amounts around ``value`` (e.g. ``(1e4, "万")``)."""
    value = abs(float(value)) if value is not None and math.isfinite(value) else 0.0
    for div, name in _SCALES_CN if style == "cn" else _SCALES_EN:
        if value >= div:
            return div, name
    return 1.0, ""


class _ScaledFormatter(Formatter):
    """Tick labels divided by ``scale``, thousands separators, decimals set from tick spacing."""

    def __init__(self, scale: float = 1.0, suffix: str = "", decimals: int | None = None) -> None:
        self.scale = scale
        self.suffix = suffix
        self.fixed = decimals
        self.decimals = decimals or 0

    def set_locs(self, locs) -> None:  # noqa: ANN001 - matplotlib API
        super().set_locs(locs)
        if self.fixed is not None:
            return
        scaled = [float(v) / self.scale for v in locs]
        self.decimals = 3
        for d in range(4):  # fewest decimals that show every tick exactly
            if all(abs(v * 10**d - round(v * 10**d)) < 1e-6 for v in scaled):
                self.decimals = d
                break

    def __call__(self, x: float, pos: int | None = None) -> str:
        v = x / self.scale
        if abs(v) < 0.5 * 10 ** (-self.decimals):
            v = 0.0
        return f"{v:,.{self.decimals}f}{self.suffix}"


def _axes_of(ax: Axes, axis: str) -> list[Axis]:
    if axis not in ("x", "y", "both"):
        raise ValueError(f"axis must be 'x', 'y' or 'both', not {axis!r}")
    return [a for name, a in (("x", ax.xaxis), ("y", ax.yaxis)) if axis in (name, "both")]


def _with_unit(text: str, unit: str) -> str:
    text = text.strip()
    if not unit:
        return text
    if i18n.language() != "zh":
        return f"{text} ({unit})" if text else unit
    return f"{text}（{unit}）" if text else unit


def money_axis(
    ax: Axes,
    axis: Literal["x", "y", "both"] = "y",
    unit: str = "CNY",
    *,
    label: str | None = None,
    scale: float | None = None,
    style: Literal["cn", "en"] = "cn",
) -> float:
    """Format a currency axis: thousands separators, 万/亿 (or K/M/B) scaling, unit in the label.

    Call after plotting. The scale is the report's units when they are set (``report: units``,
    one money format per report: see :mod:`salesanalysis.i18n`), else it follows the axis
    limits; ``scale`` overrides both.
    The axis label becomes ``"<label>（万 CNY）"``; ``label`` defaults to the current one.

    Returns:
        The divisor used (1, 1e4, 1e8, ... ).
    """
    result = 1.0
    report_units = i18n.units()
    if scale is None and report_units is not None:
        scale = {"": 1.0, "万": 1e4, "亿": 1e8}[report_units]
        style = "cn"
    for a in _axes_of(ax, axis):
        lo, hi = a.get_view_interval()
        if scale is None:
            div, name = money_scale(max(abs(lo), abs(hi)), style)
        else:
            div = float(scale)
            pairs = dict(_SCALES_CN if style == "cn" else _SCALES_EN)
            name = pairs.get(div, f"×{div:g}")
        a.set_major_formatter(_ScaledFormatter(div))
        base = label if label is not None else a.get_label_text()
        # drop a unit added by an earlier call
        if "（" in base and base.endswith("）"):
            base = base[: base.rindex("（")]
        elif " (" in base and base.endswith(")"):
            base = base[: base.rindex(" (")]
        suffix = i18n.currency_suffix(unit) if unit else ""
        unit_text = f"{name}{suffix}" if suffix == "元" else f"{name} {suffix}".strip()
        a.set_label_text(_with_unit(base, unit_text))
        result = div
    return result


def pct_axis(
    ax: Axes,
    axis: Literal["x", "y", "both"] = "y",
    *,
    decimals: int | None = None,
    xmax: float = 1.0,
    label: str | None = None,
) -> None:
    """Format an axis holding fractions (0.12) as percentages (12%).

    Use ``xmax=100`` when the data are already in percent points.
    """
    for a in _axes_of(ax, axis):
        a.set_major_formatter(_ScaledFormatter(xmax / 100.0, "%", decimals))
        if label is not None:
            a.set_label_text(_with_unit(label, "%"))


def count_axis(
    ax: Axes,
    axis: Literal["x", "y", "both"] = "y",
    unit: str = "",
    *,
    label: str | None = None,
) -> None:
    """Format a count axis (customers, orders, units): thousands separators, unit in the label."""
    for a in _axes_of(ax, axis):
        a.set_major_formatter(_ScaledFormatter(1.0))
        base = label if label is not None else a.get_label_text()
        a.set_label_text(_with_unit(base, unit))


def waterfall_bars(
    ax: Axes, bridge, total_color: str, pos_color: str = "#3a8a4f", neg_color: str = "#c0504d"
) -> list[tuple[float, float]]:
    """Draw a waterfall of ``bridge`` rows (``kind`` ``total`` or a step, ``amount``): totals
    from zero in ``total_color``, steps floating from the running level, green up, red down.

    Returns:
        ``(low, high)`` of each bar, for labels and axis limits.
    """
    level = 0.0
    spans = []
    for i, r in enumerate(bridge.itertuples(index=False)):
        amt = float(r.amount)
        if r.kind == "total":
            bottom, height, color = 0.0, amt, total_color
            level = amt
        else:
            bottom, height = level, amt
            color = pos_color if amt >= 0 else neg_color
            level += amt
        spans.append((min(bottom, bottom + height), max(bottom, bottom + height)))
        ax.bar(i, height, bottom=bottom, color=color, width=0.6)
    return spans


# --------------------------------------------------------------------------- nothing to draw

EMPTY_TEXT = N_("Nothing to show")
"""The sentence of a chart with nothing to draw (translated where it is drawn)."""


def empty_chart(title: str, note: str | None = None) -> Figure:
    """The chart drawn when its frame is empty: a short figure with no axes, the chart's title
    and a centred sentence (``note``, by default :data:`EMPTY_TEXT`).

    Args:
        title: the title the chart would have had (what is missing).
        note: why there is nothing to show, e.g. ``"没有落后于目标的区域"``.
    """
    fig = Figure(figsize=(FIGSIZE[0], 1.2), layout="constrained")
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(title.replace("$", r"\$"), loc="left")
    ax.text(
        0.5,
        0.5,
        (note or tr(EMPTY_TEXT)).replace("$", r"\$"),
        ha="center",
        va="center",
        transform=ax.transAxes,
        color="#7f7f7f",
    )
    fig.empty_chart = True  # what is_empty_chart looks for
    return fig


def is_empty_chart(fig: Figure) -> bool:
    """True for a figure made by :func:`empty_chart` (nothing was drawn)."""
    return bool(getattr(fig, "empty_chart", False))
