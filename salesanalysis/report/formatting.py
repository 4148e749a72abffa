"""Number and table formatting for reports: thousands separators, %, HTML-escaped labels.

``money``, ``pct`` and ``number`` format one value for narrative text; ``table`` turns a frame
into a pandas ``Styler`` that renders as an HTML table in notebooks and nbconvert reports, or,
for a frame with no rows or no columns, into an :class:`EmptyTable`: one sentence in place of
the table. Every label (cells, index, column headers, caption) is HTML-escaped, so a region
called ``<script>`` shows as text.
"""

from __future__ import annotations

import hashlib
import html
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

__all__ = ["NA", "EmptyTable", "empty_sentence", "md", "money", "pct", "number", "table"]

NA = "–"
"""What a missing value shows as."""

_SCALES = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9, "万": 1e4, "亿": 1e8}


def _missing(x: Any) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    try:
        return math.isnan(float(x)) or math.isinf(float(x))
    except (TypeError, ValueError):
        return False


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


def md(text: object) -> str:
    """A label from data made safe for Markdown output: HTML-escaped, Markdown characters
    escaped, and ``:`` written as an entity so that no URL in data becomes a link."""
    escaped = html.escape(str(text), quote=False)
    return _MD_SPECIAL.sub(r"\\\1", escaped).replace(":", "&#58;")


def money(
    x: float | None,
    unit: str = "CNY",
    *,
    scale: Literal["", "K", "M", "B", "万", "亿", "auto"] = "",
    decimals: int | None = None,
    signed: bool = False,
) -> str:
    """Format an amount: ``money(1234567)`` -> ``"1,234,567 CNY"``.

    Args:
        unit: currency shown after the number ("" for none).
        scale: divide by 万/亿/K/M/B; ``"auto"`` picks 万 or 亿 from the size of ``x``.
        decimals: digits after the point (default 0 unscaled, 2 for 亿/B, 1 otherwise).
        signed: show a leading ``+`` for positive values (for changes).
    """
    if _missing(x):
        return NA
    v = float(x)
    if scale == "auto":
        scale = "亿" if abs(v) >= 1e8 else "万" if abs(v) >= 1e4 else ""
    if scale not in _SCALES:
        raise ValueError(f"scale must be one of {sorted(_SCALES)} or 'auto', not {scale!r}")
    v = v / _SCALES[scale]
    if decimals is None:
        decimals = 2 if scale in ("亿", "B") else 1 if scale else 0
    sign = "+" if signed else ""
    text = f"{v:{sign},.{decimals}f}"
    if text.lstrip("+-").strip("0.,") == "":  # avoid "-0"
        text = f"{0.0:.{decimals}f}"
    text = f"{text}{scale}"  # "123.5万"
    return f"{text} {unit}" if unit else text


def pct(x: float | None, decimals: int = 1, *, signed: bool = False) -> str:
    """Format a fraction as a percentage: ``pct(0.1234)`` -> ``"12.3%"``.

    ``signed=True`` gives ``"+12.3%"`` for changes. Missing or infinite values give ``"–"``.
    """
    if _missing(x):
        return NA
    v = float(x) * 100
    text = f"{v:{'+' if signed else ''}.{decimals}f}"
    if text.lstrip("+-").strip("0.") == "":
        text = f"{0.0:.{decimals}f}"
    return text + "%"


def number(x: float | None, decimals: int = 0, *, signed: bool = False) -> str:
    """Format a count or quantity with thousands separators: ``number(12345)`` -> ``"12,345"``."""
    if _missing(x):
        return NA
    text = f"{float(x):{'+' if signed else ''},.{decimals}f}"
    if text.lstrip("+-").strip("0.,") == "":
        text = f"{0.0:.{decimals}f}"
    return text


def _points(x: float | None, decimals: int = 1) -> str:
    """A change of a fraction in percentage points: 0.0123 -> "+1.2 pt"."""
    if _missing(x):
        return NA
    return number(float(x) * 100, decimals, signed=True) + " pt"


def _cols(df: pd.DataFrame, names: Iterable[Any] | None, kind: str) -> list[Any]:
    names = list(names or [])
    missing = [c for c in names if c not in df.columns]
    if missing:
        raise KeyError(
            f"table(): {kind} columns {missing} are not in the frame (columns: {list(df.columns)})"
        )
    return names


def _fmt(fn: Callable[..., str], **kw: Any) -> Callable[[Any], str]:
    def f(v: Any) -> str:
        if isinstance(v, str):  # already-formatted or label text: escape, keep as is
            return html.escape(v)
        return fn(v, **kw)

    return f


def _escape_cell(v: Any) -> str:
    if _missing(v):
        return NA
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m") if v == v.normalize() and v.day == 1 else str(v)
    if isinstance(v, pd.Period):
        return str(v)
    if isinstance(v, float):
        return number(v, 2) if not float(v).is_integer() else number(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return number(v)
    return html.escape(str(v))


def _total_cell(label: str) -> Callable[[Any], str]:
    def f(v: Any) -> str:
        return html.escape(label) if isinstance(v, str) and v == "*" else _escape_cell(v)

    return f


_CSS = [
    {"selector": "", "props": "border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0;"},
    {
        "selector": "caption",
        "props": "caption-side: top; text-align: left; font-weight: bold; padding: 4px 0;",
    },
    {
        "selector": "th",
        "props": "text-align: left; padding: 3px 10px; "
        "border-bottom: 1px solid #999; background: #f4f4f4;",
    },
    {
        "selector": "td",
        "props": "padding: 3px 10px; border-bottom: 1px solid #e6e6e6; white-space: nowrap;",
    },
]


_HEADER_WORDS = {
    "mase": "MASE",
    "mae": "MAE",
    "rmse": "RMSE",
    "mape": "MAPE",
    "smape": "sMAPE",
    "ytd": "YTD",
    "qtd": "QTD",
    "fy": "FY",
    "yoy": "YoY",
    "l12m": "L12M",
    "hhi": "HHI",
    "id": "ID",
    "fte": "FTE",
    "pct": "%",
    "cov": "coverage",
    "lo": "low",
    "hi": "high",
    "p10": "P10",
    "p50": "P50",
    "p90": "P90",
    "vs": "vs",
}
_HEADER_NAMES = {"p_reach": "P(reach)", "n_points": "Points", "rel_mae": "Rel. MAE"}


def header_label(name: Any) -> Any:
    """How a column name reads in a report: ``target_with_cushion`` -> ``Target with cushion``,
    ``mase_base`` -> ``MASE base``, ``cushion_pct`` -> ``Cushion %``. Names that are not
    lower-case snake case (labels already, Chinese, numbers) are left as they are."""
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*", name):
        return name
    if name in _HEADER_NAMES:
        return _HEADER_NAMES[name]
    m = re.fullmatch(r"(cov|lo|hi)_(\d+)", name)
    if m:  # an interval level
        return f"{_HEADER_WORDS[m.group(1)].capitalize()} {m.group(2)}%"
    text = " ".join(_HEADER_WORDS.get(w, w) for w in name.split("_"))
    return text[0].upper() + text[1:]


@dataclass(frozen=True)
class EmptyTable:
    """What :func:`table` shows for a frame with no rows or no columns: one sentence.

    Displays like a table in a notebook (``_repr_html_``) and has the ``to_html()`` of a
    ``Styler``, so callers need no special case.
    """

    text: str

    def to_html(self, *args: Any, **kwargs: Any) -> str:
        """The sentence as an HTML paragraph (escaped)."""
        return f'<p class="empty-table"><em>{html.escape(self.text)}</em></p>'

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return self.text


def empty_sentence(caption: str | None) -> str:
    """The default sentence of an empty table: ``"Nothing to show: <caption>."``."""
    what = (caption or "").strip().rstrip(".")
    return f"Nothing to show: {what}." if what else "Nothing to show."


def table(
    df: pd.DataFrame,
    money: Sequence[Any] = (),  # noqa: A002 - public keyword, shadows the function on purpose
    pct: Sequence[Any] = (),
    ints: Sequence[Any] = (),
    *,
    caption: str | None = None,
    unit: str | None = None,
    money_scale: Literal["", "K", "M", "B", "万", "亿"] = "",
    pct_decimals: int = 1,
    signed_pct: Sequence[Any] = (),
    pts: Sequence[Any] = (),
    decimals: dict[Any, int] | None = None,
    hide_index: bool | None = None,
    labels: dict[Any, str] | None = None,
    total: str | None = None,
    row_key: Any = None,
    row_formats: dict[Any, Literal["money", "pct", "ints"]] | None = None,
    empty: str | None = None,
) -> Styler | EmptyTable:
    """Format a frame as a report table (a pandas ``Styler``; display it or call ``.to_html()``).

    A frame with no rows or no columns (nobody behind, no returns, no market rows...) gives an
    :class:`EmptyTable` instead: the sentence ``empty``, by default ``"Nothing to show:
    <caption>."``. The column names are then not checked (a frame built from no rows often has
    no columns at all).

    Args:
        money: columns holding amounts: thousands separators, no decimals (or ``money_scale``).
        pct: columns holding fractions (0.123) shown as ``12.3%``.
        ints: count columns, thousands separators and no decimals.
        caption: title above the table (escaped). ``unit`` adds "（金额单位：CNY）".
        signed_pct: subset of ``pct`` shown with a sign (growth, change in share).
        pts: columns holding a change of a fraction, shown in percentage points
            (0.0123 -> ``+1.2 pt``).
        decimals: per-column decimals for other numeric columns.
        hide_index: default hides a row-number index (an unnamed integer index, sorted or not).
        labels: display names for column headers (``{"revenue": "Revenue"}``); other
            snake-case names are shown by :func:`header_label` (``target_with_cushion`` ->
            ``Target with cushion``).
        total: show text cells holding ``"*"`` (a summed-over key) as this label and the
            rows that hold one in bold.
        row_key, row_formats: for a table whose rows hold different measures. In the rows
            whose ``row_key`` column holds a key of ``row_formats``, the ``money`` columns are
            shown in that row's format instead: ``"pct"`` (a share, 0.17 -> ``17.0%``),
            ``"ints"`` (a count) or ``"money"``. E.g. ``row_key="measure",
            row_formats={"market_share": "pct", "customers": "ints"}``.
        empty: the sentence shown instead of a table with no rows (plain text, escaped), e.g.
            ``"No segment is behind its year-to-date target."``.

    Other columns: floats with up to 2 decimals, dates as YYYY-MM, text escaped. Missing values
    show as "–".
    """
    if df.empty:
        return EmptyTable(empty if empty is not None else empty_sentence(caption))
    roles = _column_roles(df, money, pct, ints, signed_pct, pts, decimals, row_key, row_formats)
    styler = _format_cells(df, roles, money_scale, pct_decimals, total, labels)
    styler = _align(styler, df, roles, total)
    return _frame(styler, df, hide_index, caption, unit, money_scale)


@dataclass(frozen=True)
class _Roles:
    """How each column of a table is shown (every name checked against the frame)."""

    money: list[Any]
    pct: list[Any]
    ints: list[Any]
    signed: set[Any]
    pts: list[Any]
    decimals: dict[Any, int]
    row_key: Any
    row_formats: dict[Any, str]

    def is_numeric(self, df: pd.DataFrame, c: Any) -> bool:
        """Column ``c`` is shown as a number (right-aligned)."""
        return (
            c in self.money
            or c in self.pct
            or c in self.ints
            or c in self.pts
            or c in self.decimals
            or pd.api.types.is_numeric_dtype(df[c])
        )


def _column_roles(
    df: pd.DataFrame,
    money: Sequence[Any],  # noqa: A002 - the keywords of table()
    pct: Sequence[Any],
    ints: Sequence[Any],
    signed_pct: Sequence[Any],
    pts: Sequence[Any],
    decimals: dict[Any, int] | None,
    row_key: Any,
    row_formats: dict[Any, Literal["money", "pct", "ints"]] | None,
) -> _Roles:
    """The column roles given to :func:`table`, checked.

    Raises:
        KeyError: a named column is not in the frame.
        ValueError: a row format is not 'money', 'pct' or 'ints'.
    """
    money_cols = _cols(df, money, "money")
    pct_cols = _cols(df, pct, "pct")
    int_cols = _cols(df, ints, "ints")
    signed = set(_cols(df, signed_pct, "signed_pct"))
    pts_cols = _cols(df, pts, "pts")
    decimals = dict(decimals or {})
    _cols(df, decimals, "decimals")
    row_formats = dict(row_formats or {})
    if row_formats:
        _cols(df, [row_key], "row_key")
        odd = sorted({str(k) for k in row_formats.values()} - {"money", "pct", "ints"})
        if odd:
            raise ValueError(f"table(): row_formats must be 'money', 'pct' or 'ints', not {odd}")
    return _Roles(money_cols, pct_cols, int_cols, signed, pts_cols, decimals, row_key, row_formats)


def _cell_formatter(
    df: pd.DataFrame,
    c: Any,
    roles: _Roles,
    money_scale: str,
    pct_decimals: int,
    total: str | None,
) -> Callable[[Any], str]:
    """How the cells of column ``c`` are written (escaped HTML)."""
    decimals = roles.decimals
    if c in roles.money:
        return _fmt(money, unit="", scale=money_scale, decimals=decimals.get(c))
    if c in roles.pct:
        return _fmt(pct, decimals=decimals.get(c, pct_decimals), signed=c in roles.signed)
    if c in roles.ints:
        return _fmt(number, decimals=0)
    if c in roles.pts:
        return _fmt(_points, decimals=decimals.get(c, 1))
    if c in decimals:
        return _fmt(number, decimals=decimals[c])
    if total is not None and not pd.api.types.is_numeric_dtype(df[c]):
        return _total_cell(total)
    return _escape_cell


def _format_cells(
    df: pd.DataFrame,
    roles: _Roles,
    money_scale: str,
    pct_decimals: int,
    total: str | None,
    labels: dict[Any, str] | None,
) -> Styler:
    """A Styler with every cell, the row labels and the column headers formatted."""
    formatter = {
        c: _cell_formatter(df, c, roles, money_scale, pct_decimals, total) for c in df.columns
    }
    # Styler needs unique labels; show the frame as is otherwise.
    styler = df.style.format(formatter=formatter, na_rep=NA)
    by_kind = {
        "money": _fmt(money, unit="", scale=money_scale),
        "pct": _fmt(pct, decimals=pct_decimals),
        "ints": _fmt(number, decimals=0),
    }
    for value, kind in roles.row_formats.items():
        rows = df.index[df[roles.row_key].eq(value).fillna(False).to_numpy(dtype=bool)]
        if len(rows) and roles.money:
            styler = styler.format(by_kind[kind], subset=(rows, roles.money), na_rep=NA)
    names = dict(labels or {})
    return styler.format_index(_escape_cell, axis=0).format_index(
        lambda v: _escape_cell(names.get(v, header_label(v))), axis=1
    )


def _align(styler: Styler, df: pd.DataFrame, roles: _Roles, total: str | None) -> Styler:
    """Numbers right-aligned, text left-aligned; with ``total``, the total rows in bold."""
    numeric = [c for c in df.columns if roles.is_numeric(df, c)]
    text_cols = [c for c in df.columns if c not in numeric]
    if numeric:
        styler = styler.set_properties(subset=numeric, **{"text-align": "right"})
    if text_cols:
        styler = styler.set_properties(subset=text_cols, **{"text-align": "left"})
    if total is not None and text_cols:
        is_total = df[text_cols].astype("object").eq("*").any(axis=1).to_numpy()
        if is_total.any():
            styler = styler.apply(lambda _: np.where(is_total, "font-weight: bold", ""), axis=0)
    return styler


def _frame(
    styler: Styler,
    df: pd.DataFrame,
    hide_index: bool | None,
    caption: str | None,
    unit: str | None,
    money_scale: str,
) -> Styler:
    """The table around the cells: index shown or hidden, caption with the unit, CSS and a
    stable id (the HTML is the same from one run to the next)."""
    if hide_index is None:  # a plain row-number index (also after sorting) carries no meaning
        hide_index = isinstance(df.index, pd.RangeIndex) or (
            df.index.name is None
            and df.index.nlevels == 1
            and pd.api.types.is_integer_dtype(df.index.dtype)
        )
    if hide_index:
        styler = styler.hide(axis="index")
    text = caption or ""
    if unit:
        scale = f"{money_scale} " if money_scale else ""
        text = f"{text}（金额单位：{scale}{unit}）" if text else f"金额单位：{scale}{unit}"
    if text:
        styler = styler.set_caption(html.escape(text))
    styler = styler.set_table_styles(_CSS, overwrite=True)
    digest = hashlib.sha1(
        (text + "|" + "|".join(map(str, df.columns)) + f"|{df.shape}").encode()
    ).hexdigest()[:10]
    return styler.set_uuid(f"t{digest}")
