"""Guards for files that come from other people and for files that go to other people.

Plans, mappings and data folders come from colleagues, consultants and ERP exports; workbooks go
to managers who open them in Excel. This module holds the few rules applied at those edges:

- :func:`load_settings_yaml`: the one YAML loader of the package (``plan.yaml``, scenario files,
  ``mapping.yaml``). It refuses a file that is not a regular file or is larger than
  :data:`MAX_SETTINGS_BYTES` before parsing it, and parses with a safe loader that refuses YAML
  anchors and aliases (``&name``/``*name``) when it meets them, before anything is expanded:
  a 3 KB "billion laughs" file cannot grow into gigabytes. Nesting deeper than
  :data:`MAX_YAML_DEPTH` is refused too.
- :func:`neutralise_cell` / :func:`neutralise_frame` and :data:`EXCEL_WRITER_KWARGS`: no text
  from data becomes a formula in a workbook. Every xlsxwriter workbook is opened with
  ``strings_to_formulas`` (and ``strings_to_urls``) off, and text cells starting with
  ``= + - @``, a tab or a carriage return get a leading single quote, as OWASP recommends for
  CSV/Excel injection. Text that is a plain number ("-2", "+3.5") is left as it is. Totals that
  should be formulas are written by the code on purpose (``worksheet.write_formula``), never
  from data.
- :func:`is_short_label`: the length limit for names given in settings files.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from salesanalysis.errors import SalesAnalysisError

if TYPE_CHECKING:  # pandas is imported where a frame is neutralised: plan.py stays light
    import pandas as pd

__all__ = [
    "EXCEL_WRITER_KWARGS",
    "FORMULA_TRIGGERS",
    "MAX_LABEL_CHARS",
    "MAX_SETTINGS_BYTES",
    "MAX_YAML_DEPTH",
    "is_short_label",
    "load_settings_yaml",
    "neutralise_cell",
    "neutralise_frame",
]

MAX_SETTINGS_BYTES = 1 << 20
"""Largest plan or mapping file read (1 MB); a real one is a few kilobytes."""

MAX_YAML_DEPTH = 50
"""Deepest nesting of lists/mappings accepted in a settings file (a plan needs 4)."""

MAX_LABEL_CHARS = 200
"""Longest name accepted in a settings file (a column name, a file name in mapping.yaml)."""


# --------------------------------------------------------------------------------------------
# YAML


class _Refused(yaml.composer.ComposerError):
    """YAML the settings loader refuses on purpose (anchors, aliases, deep nesting)."""


class _SettingsLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses anchors, aliases and deep nesting while composing,
    i.e. before any alias could be expanded."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(
                None,
                None,
                "YAML anchors and aliases (&name, *name) are not allowed",
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Refused(
                    None,
                    None,
                    f"lists and mappings are nested more than {MAX_YAML_DEPTH} levels deep",
                    event.start_mark,
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _read_limited(path: Path, limit: int) -> bytes:
    """The file's bytes; raises ``ValueError`` ("not a regular file" / "too large") without
    reading (or blocking on) a FIFO or a device, and without reading more than ``limit`` bytes."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file")
        if st.st_size > limit:
            raise ValueError(f"too large: {st.st_size:,} bytes")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError(f"too large: more than {limit:,} bytes")
    return data


def load_settings_yaml(
    path: str | Path,
    error: type[SalesAnalysisError],
    what: str,
    limit: int = MAX_SETTINGS_BYTES,
) -> Any:
    """Read a settings file (``plan.yaml``, ``mapping.yaml``) safely.

    Args:
        path: the file.
        error: the exception to raise (``PlanError`` or ``InputError``; both exit 2).
        what: how messages name the file ("plan file", "mapping file").
        limit: largest size accepted, in bytes.

    Returns:
        The parsed YAML (plain dicts, lists, strings, numbers, dates; never Python objects).

    Raises:
        error: not a regular file, larger than ``limit``, not UTF-8, not valid YAML, or using
            anchors/aliases or nesting too deep.
    """
    p = Path(path)
    try:
        raw = _read_limited(p, limit)
    except ValueError as exc:
        if str(exc).startswith("not a regular"):
            raise error(
                f"{what} {p} is not a regular file",
                fix="Name a plain file (not a pipe, device or folder).",
            ) from None
        raise error(
            f"{what} {p} is larger than {limit:,} bytes ({exc}); it cannot be a settings file",
            fix=f"Check that {p.name} is the right file: a settings file is a few kilobytes.",
        ) from None
    except OSError as exc:
        raise error(f"cannot open {what} {p}: {exc.strerror}", fix="Check the path.") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(f"{what} {p} is not UTF-8 text", fix="save it as UTF-8") from None
    try:
        return yaml.load(text, Loader=_SettingsLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(
            f"{what} {p} is not valid YAML{where}: {getattr(exc, 'problem', None) or exc}",
            fix="write each value out in full, without &name / *name, and nest less"
            if isinstance(exc, _Refused)
            else "check indentation and quotes near that line",
        ) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        raise error(
            f"{what} {p} is not valid YAML: {type(exc).__name__}: {exc}",
            fix="check the values in the file",
        ) from None


def is_short_label(value: Any, limit: int = MAX_LABEL_CHARS) -> bool:
    """A non-empty string of at most ``limit`` characters."""
    return isinstance(value, str) and 0 < len(value) <= limit


# --------------------------------------------------------------------------------------------
# workbooks

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet treat a cell's text as a formula (OWASP)."""

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

EXCEL_WRITER_KWARGS: dict[str, Any] = {
    "options": {"strings_to_formulas": False, "strings_to_urls": False}
}
"""``pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs=EXCEL_WRITER_KWARGS)``: every text
is written as text (no formula, no hyperlink made from data)."""


def neutralise_cell(value: Any) -> Any:
    """Text a spreadsheet would read as a formula gets a leading ``'``; anything else
    (numbers, dates, plain text, text that is a plain number such as "-2") is unchanged."""
    if (
        isinstance(value, str)
        and value[:1] in FORMULA_TRIGGERS
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells and column names are neutralised for a workbook.

    Numeric, boolean and date columns are left as they are (a negative number stays a number).
    """
    import pandas as pd

    out = df.copy()
    for i in range(df.shape[1]):
        s = df.iloc[:, i]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            out.isetitem(i, s.map(neutralise_cell, na_action="ignore"))
    out.columns = [neutralise_cell(c) for c in df.columns]
    return out
