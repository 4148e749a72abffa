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

from salesanalysis import i18n
from salesanalysis.i18n import tr

__all__ = [
    "NA",
    "EmptyTable",
    "ReportTable",
    "SplitTable",
    "empty_sentence",
    "label_plain_tables",
    "md",
    "money",
    "pct",
    "number",
    "table",
    "unit_note",
]

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
    scale: Literal["", "K", "M", "B", "万", "亿", "auto"] | None = None,
    decimals: int | None = None,
    signed: bool = False,
) -> str:
    """Format an amount: ``money(1234567)`` -> ``"1,234,567 CNY"``.

    One money format per report: once the report's units are set (``report: units`` in
    ``plan.yaml``, see :mod:`salesanalysis.i18n`), the default and ``"auto"`` use them
    (``money(12345678)`` -> ``"1,234.6万元"`` in a Chinese report in 万).

    Args:
        unit: currency shown after the number ("" for none); CNY reads 元 in Chinese.
        scale: divide by 万/亿/K/M/B; ``"auto"`` picks 万 or 亿 from the size of ``x`` when
            the report has no units set; None (default) is the report's units (in full when
            not set).
        decimals: digits after the point (default 0 unscaled, 2 for 亿/B, 1 otherwise).
        signed: show a leading ``+`` for positive values (for changes).
    """
    if _missing(x):
        return NA
    v = float(x)
    report = i18n.units()
    if scale is None:
        scale = report or ""
    elif scale == "auto":
        scale = (
            report
            if report is not None
            else "亿"
            if abs(v) >= 1e8
            else "万"
            if abs(v) >= 1e4
            else ""
        )
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
    suffix = i18n.currency_suffix(unit) if unit else ""
    if suffix == "元":
        return f"{text}元"
    return f"{text} {suffix}" if suffix else text


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
    return tr("{value} pt").format(value=number(float(x) * 100, decimals, signed=True))


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
        "props": "text-align: left; padding: 3px 8px; vertical-align: bottom; "
        "border-bottom: 1px solid #999; background: #f4f4f4;",
    },
    {"selector": "td", "props": "padding: 3px 8px; border-bottom: 1px solid #e6e6e6;"},
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
    return i18n.column(name, _english_header(name))


def _english_header(name: str) -> str:
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


def unit_note(unit: str, scale: str | None = None) -> str:
    """The unit of a table's or chart's amounts: ``（金额单位：万元）`` / `` (amounts in CNY)``."""
    scale = (i18n.units() or "") if scale is None else scale
    suffix = i18n.currency_suffix(unit)
    if i18n.language() == "zh":
        return f"（金额单位：{scale}{suffix}）"
    return " " + tr("(amounts in {unit})").format(unit=f"{scale} {suffix}".strip())


def empty_sentence(caption: str | None) -> str:
    """The default sentence of an empty table: ``"Nothing to show: <caption>."``."""
    what = (caption or "").strip().rstrip(".").rstrip("。")
    return tr("Nothing to show: {what}.").format(what=what) if what else tr("Nothing to show.")


def table(
    df: pd.DataFrame,
    money: Sequence[Any] = (),  # noqa: A002 - public keyword, shadows the function on purpose
    pct: Sequence[Any] = (),
    ints: Sequence[Any] = (),
    *,
    caption: str | None = None,
    unit: str | None = None,
    money_scale: Literal["", "K", "M", "B", "万", "亿"] | None = None,
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
) -> ReportTable | SplitTable | EmptyTable:
    """Format a frame as a report table (a pandas ``Styler``; display it or call ``.to_html()``).

    A frame with no rows or no columns (nobody behind, no returns, no market rows...) gives an
    :class:`EmptyTable` instead: the sentence ``empty``, by default ``"Nothing to show:
    <caption>."``. The column names are then not checked (a frame built from no rows often has
    no columns at all).

    Args:
        money: columns holding amounts: thousands separators, no decimals (or ``money_scale``,
            by default the report's units).
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

    Fitting the page: a frame estimated wider than the report page (:data:`TABLE_WIDTH_PX`)
    gives a :class:`SplitTable`, several tables that each repeat the leading label columns and
    hold one group of the other columns, keeping columns that share a first word (``ytd_*``)
    together; captions get "(1/2)", "(2/2)". Headers and text cells wrap, numbers do not. A
    table wider than a phone (:data:`STACK_WIDTH_PX`) is marked ``sa-stack``: the report's
    style shows it one block per row on a narrow screen, each value beside its header.
    """
    if df.empty:
        return EmptyTable(empty if empty is not None else empty_sentence(caption))
    roles = _column_roles(df, money, pct, ints, signed_pct, pts, decimals, row_key, row_formats)
    scale = (i18n.units() or "") if money_scale is None else money_scale
    look = _Look(scale, pct_decimals, total, labels, hide_index, unit)
    groups = _column_groups(df, roles, look)
    if len(groups) == 1:
        return _render(df, roles, look, caption)
    parts = [
        _render(df[cols], roles.subset(cols), look, _part_caption(caption, i, len(groups)))
        for i, cols in enumerate(groups, start=1)
    ]
    return SplitTable(parts)


@dataclass(frozen=True)
class _Look:
    """How a table looks, apart from its columns' roles (the keywords of :func:`table`)."""

    money_scale: str
    pct_decimals: int
    total: str | None
    labels: dict[Any, str] | None
    hide_index: bool | None
    unit: str | None


def _render(df: pd.DataFrame, roles: _Roles, look: _Look, caption: str | None) -> ReportTable:
    """One HTML table of ``df`` (every column of it)."""
    styler = _format_cells(df, roles, look.money_scale, look.pct_decimals, look.total, look.labels)
    styler = _align(styler, df, roles, look.total)
    styler = _frame(styler, df, look.hide_index, caption, look.unit, look.money_scale)
    stack = _estimated_width(df, roles, look) > STACK_WIDTH_PX
    return styler.set_table_attributes(f'class="sa-table{" sa-stack" if stack else ""}"')


def _part_caption(caption: str | None, i: int, n: int) -> str:
    return f"{caption or ''} ({i}/{n})".strip()


# --------------------------------------------------------------------------------------------
# fitting the page: tables wider than the page are split by column group, and on a narrow
# screen a wide table is shown stacked (one block per row, each value with its header)

TABLE_WIDTH_PX = 1040
"""A table estimated wider than this is split into column groups (the report page's content
is 1,120 px wide at a 1,440 px window; an A4 landscape page has room for about 1,030 px of
the print style's smaller type)."""
STACK_WIDTH_PX = 340
"""A table estimated wider than this is stacked on screens under 640 px (a 390 px phone)."""
_CHAR_PX = 7.4  # a digit or Latin letter at the report's 13 px type; a CJK character is 2
_CELL_PAD_PX = 18  # padding and border of a cell
_WRAP_CHARS = 28  # text cells wrap: a long label needs about this many characters of width


def _text_width(text: str) -> float:
    return sum(2.0 if ord(ch) > 0x2E80 else 1.0 for ch in text)


def _column_width(df: pd.DataFrame, c: Any, roles: _Roles, look: _Look) -> float:
    """The estimated width in px of column ``c``: its widest shown value (text wraps at about
    :data:`_WRAP_CHARS` characters) or its header's longest word (headers wrap)."""
    fmt = _cell_formatter(df, c, roles, look.money_scale, look.pct_decimals, look.total)
    values = [html.unescape(fmt(v)) for v in df[c].head(200)]
    cells = max((_text_width(v) for v in values), default=0.0)
    if not roles.is_numeric(df, c):
        cells = min(cells, _WRAP_CHARS)
    head = str(header_label(c) if look.labels is None else look.labels.get(c, header_label(c)))
    words = max((_text_width(w) for w in head.split()), default=0.0)
    return max(cells, words) * _CHAR_PX + _CELL_PAD_PX


def _estimated_width(df: pd.DataFrame, roles: _Roles, look: _Look) -> float:
    width = sum(_column_width(df, c, roles, look) for c in df.columns)
    if look.hide_index is False or not _plain_index(df):
        width += max(_text_width(str(v)) for v in df.index[:200]) * _CHAR_PX + _CELL_PAD_PX
    return width


def _topic(c: Any) -> str:
    """Columns that share their first word (``ytd_actual``, ``ytd_target``) are one topic."""
    return str(c).split("_")[0].lower() if isinstance(c, str) else str(c)


def _column_groups(df: pd.DataFrame, roles: _Roles, look: _Look) -> list[list[Any]]:
    """The columns of each table a wide frame is split into: the leading label columns (and
    ``row_key``) in every part, the other columns in consecutive groups that keep a topic
    together and fit :data:`TABLE_WIDTH_PX`. One group when the whole frame fits."""
    if _estimated_width(df, roles, look) <= TABLE_WIDTH_PX or df.columns.nlevels > 1:
        return [list(df.columns)]
    cols = list(df.columns)
    keys: list[Any] = []
    for c in cols:
        if roles.is_numeric(df, c):
            break
        keys.append(c)
    if roles.row_key is not None and roles.row_key not in keys:
        keys.append(roles.row_key)
    rest = [c for c in cols if c not in keys]
    if not rest:
        return [cols]
    width = {c: _column_width(df, c, roles, look) for c in cols}
    room = TABLE_WIDTH_PX - (_estimated_width(df[keys], roles.subset(keys), look) if keys else 0)
    topics: list[list[Any]] = []
    for c in rest:
        if topics and _topic(topics[-1][-1]) == _topic(c):
            topics[-1].append(c)
        else:
            topics.append([c])
    groups: list[list[Any]] = [[]]
    for topic in topics:
        for c in topic if sum(width[x] for x in topic) > room else [topic]:
            chunk = c if isinstance(c, list) else [c]
            if groups[-1] and sum(width[x] for x in groups[-1] + chunk) > room:
                groups.append([])
            groups[-1] += chunk
    return [keys + [c for c in cols if c in g] for g in groups if g]


def _plain_index(df: pd.DataFrame) -> bool:
    """A row-number index (hidden by default)."""
    return isinstance(df.index, pd.RangeIndex) or (
        df.index.name is None
        and df.index.nlevels == 1
        and pd.api.types.is_integer_dtype(df.index.dtype)
    )


_HEAD_CELL = re.compile(r'<th [^>]*class="col_heading level\d+ col(\d+)"[^>]*>(.*?)</th>', re.S)
_DATA_CELL = re.compile(r'(<td [^>]*class="data row\d+ col(\d+)")')


def _label_cells(markup: str) -> str:
    """Each data cell carries its column's header as ``data-label`` (shown beside the value
    when a narrow screen stacks the table)."""
    heads: dict[str, str] = {}
    for col, text in _HEAD_CELL.findall(markup):
        plain = html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
        heads[col] = f"{heads[col]} {plain}" if heads.get(col) else plain  # column levels
    return _DATA_CELL.sub(
        lambda m: f'{m.group(1)} data-label="{html.escape(heads.get(m.group(2), ""))}"', markup
    )


_TABLE = re.compile(r"<table\b[^>]*>.*?</table>", re.S)
_ROW = re.compile(r"<tr\b[^>]*>(.*?)</tr>", re.S)
_CELL = re.compile(r"<(td|th)\b([^>]*)>", re.S)


def label_plain_tables(markup: str) -> str:
    """Give the cells of simple HTML tables (a first row of ``<th>`` headers, then rows of
    ``<td>``) their column's header as ``data-label``, and the table the class ``sa-stack``,
    so that a phone can show them stacked (as :func:`table`'s)."""

    def one(m: re.Match[str]) -> str:
        tab = m.group(0)
        rows = _ROW.findall(tab)
        if not rows or "<td" in rows[0]:
            return tab
        heads = [
            html.escape(html.unescape(re.sub(r"<[^>]+>", "", h)).strip())
            for h in re.findall(r"<th\b[^>]*>(.*?)</th>", rows[0], re.S)
        ]

        def row(r: re.Match[str]) -> str:
            k = iter(range(10_000))
            cells = _CELL.sub(
                lambda c: (
                    f'<td{c.group(2)} data-label="{heads[j]}">'
                    if c.group(1) == "td" and (j := next(k)) < len(heads)
                    else c.group(0)
                ),
                r.group(1),
            )
            return r.group(0).replace(r.group(1), cells, 1)

        out = _ROW.sub(row, tab)
        return (
            out.replace("<table", '<table class="sa-stack"', 1)
            if "class=" not in tab[:80]
            else out
        )

    return _TABLE.sub(one, markup)


class ReportTable(Styler):
    """The ``Styler`` that :func:`table` returns: its HTML carries each cell's header, so that
    the report's style can stack a wide table on a phone (see ``templates/report``)."""

    def to_html(self, *args: Any, **kwargs: Any) -> Any:
        """The table's HTML (as ``Styler.to_html``), each data cell labelled."""
        out = super().to_html(*args, **kwargs)
        return _label_cells(out) if isinstance(out, str) else out


@dataclass(frozen=True)
class SplitTable:
    """A frame too wide for the page, shown as several tables: each repeats the label columns
    and holds one group of the other columns (a topic, e.g. the month's or the year's)."""

    parts: list[ReportTable]

    def to_html(self, *args: Any, **kwargs: Any) -> str:
        """The tables one after the other."""
        return "\n".join(p.to_html() for p in self.parts)

    def _repr_html_(self) -> str:
        return self.to_html()

    @property
    def data(self) -> pd.DataFrame:
        """The whole frame (as ``Styler.data``)."""
        return pd.concat([self.parts[0].data, *(p.data for p in self.parts[1:])], axis=1).loc[
            :, lambda d: ~d.columns.duplicated()
        ]


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

    def subset(self, cols: Sequence[Any]) -> _Roles:
        """The roles of the columns ``cols`` only (for one part of a split table)."""
        keep = set(cols)
        return _Roles(
            [c for c in self.money if c in keep],
            [c for c in self.pct if c in keep],
            [c for c in self.ints if c in keep],
            {c for c in self.signed if c in keep},
            [c for c in self.pts if c in keep],
            {c: d for c, d in self.decimals.items() if c in keep},
            self.row_key if self.row_key in keep else None,
            self.row_formats if self.row_key in keep else {},
        )

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
    styler = ReportTable(df).format(formatter=formatter, na_rep=NA)
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
        styler = styler.set_properties(
            subset=numeric, **{"text-align": "right", "white-space": "nowrap"}
        )
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
        hide_index = _plain_index(df)
    if hide_index:
        styler = styler.hide(axis="index")
    text = caption or ""
    if unit:
        text = f"{text}{unit_note(unit, money_scale)}" if text else unit_note(unit, money_scale)
    if text:
        styler = styler.set_caption(html.escape(text))
    styler = styler.set_table_styles(_CSS, overwrite=True)
    digest = hashlib.sha1(
        (text + "|" + "|".join(map(str, df.columns)) + f"|{df.shape}").encode()
    ).hexdigest()[:10]
    return styler.set_uuid(f"t{digest}")
