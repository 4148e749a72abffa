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
- :func:`open_input` / :func:`read_input` / :func:`check_packed_input`: data files are read
  through a stream that decompresses ``.gz`` while reading (never the whole file in memory at
  once) and refuses, as soon as it sees it, a line longer than ``SALESANALYSIS_MAX_LINE_BYTES``
  (1 MB), content larger than ``SALESANALYSIS_MAX_INPUT_MB`` (2,048 MB) or a compressed file
  that grows more than ``SALESANALYSIS_MAX_EXPANSION`` (100) times (a decompression bomb).
  Workbooks (zip archives) and Parquet files are checked the same way from their own
  directory of sizes before anything is unpacked. Each limit is an environment variable, read
  when a file is opened, so that a user can raise it for one run from the command line.
"""

from __future__ import annotations

import io
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from salesanalysis.errors import InputError, Problem, SalesAnalysisError
from salesanalysis.i18n import N_, tr

if TYPE_CHECKING:  # pandas is imported where a frame is neutralised: plan.py stays light
    import pandas as pd

__all__ = [
    "EXCEL_WRITER_KWARGS",
    "FORMULA_TRIGGERS",
    "InputLimits",
    "LimitedInput",
    "MAX_LABEL_CHARS",
    "MAX_SETTINGS_BYTES",
    "MAX_YAML_DEPTH",
    "check_packed_input",
    "input_limits",
    "is_short_label",
    "load_settings_yaml",
    "neutralise_cell",
    "neutralise_frame",
    "open_input",
    "read_input",
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
                tr("YAML anchors and aliases (&name, *name) are not allowed"),
                event.start_mark,
            )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _Refused(
                    None,
                    None,
                    tr("lists and mappings are nested more than {n} levels deep").format(
                        n=MAX_YAML_DEPTH
                    ),
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


SETTINGS_FILES = (N_("plan file"), N_("mapping file"))
"""How callers of :func:`load_settings_yaml` name their file (``what``), translated there."""
_YAML_PROBLEMS = (
    N_("mapping values are not allowed here"),
    N_("found character that cannot start any token"),
    N_("could not find expected ':'"),
    N_("found undefined alias"),
    N_("expected ',' or ']', but got '<stream end>'"),
    N_("expected ',' or '}', but got '<stream end>'"),
    N_("found unexpected end of stream"),
    N_("found unexpected ':'"),
    N_("found a tab character that violates indentation"),
    N_("expected <block end>, but found '-'"),
    N_("did not find expected key"),
    N_("did not find expected '-' indicator"),
)
"""The usual problems PyYAML names, translated in a message (any other is shown as it is)."""


_UNKNOWN_TAG = "could not determine a constructor for the tag "


def _yaml_problem(problem: str) -> str:
    """PyYAML's problem in the report's language where the catalogue has it."""
    if problem.startswith(_UNKNOWN_TAG):
        tag = problem[len(_UNKNOWN_TAG) :]
        return tr("could not determine a constructor for the tag {tag}").format(tag=tag)
    return tr(problem) if problem in _YAML_PROBLEMS else problem


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
    what = tr(what)
    try:
        raw = _read_limited(p, limit)
    except ValueError as exc:
        if str(exc).startswith("not a regular"):
            raise error(
                tr("{what} {path} is not a regular file").format(what=what, path=p),
                fix=tr("Name a plain file (not a pipe, device or folder)."),
            ) from None
        raise error(
            tr("{what} {path} is larger than {limit} bytes; it cannot be a settings file").format(
                what=what, path=p, limit=f"{limit:,}"
            ),
            fix=tr(
                "Check that {file} is the right file: a settings file is a few kilobytes."
            ).format(file=p.name),
        ) from None
    except OSError as exc:
        raise error(
            tr("cannot open {what} {path}: {reason}").format(
                what=what, path=p, reason=exc.strerror
            ),
            fix=tr("Check the path."),
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(
            tr("{what} {path} is not UTF-8 text").format(what=what, path=p),
            fix=tr("save it as UTF-8"),
        ) from None
    try:
        return yaml.load(text, Loader=_SettingsLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = str(getattr(exc, "problem", None) or exc)
        message = (
            tr("{what} {path} is not valid YAML at line {line}, column {column}: {problem}")
            if mark
            else tr("{what} {path} is not valid YAML: {problem}")
        )
        raise error(
            message.format(
                what=what,
                path=p,
                line=mark.line + 1 if mark else "",
                column=mark.column + 1 if mark else "",
                problem=_yaml_problem(problem),
            ),
            fix=tr("write each value out in full, without &name / *name, and nest less")
            if isinstance(exc, _Refused)
            else tr("check indentation and quotes near that line"),
        ) from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer of more than 4300 digits
        raise error(
            tr("{what} {path} is not valid YAML: {problem}").format(
                what=what, path=p, problem=f"{type(exc).__name__}: {exc}"
            ),
            fix=tr("check the values in the file"),
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


# --------------------------------------------------------------------------------------------
# data files: streamed, with a limit on line length, size and expansion

_MB = 1 << 20


@dataclass(frozen=True)
class InputLimits:
    """Limits on a data file (transactions, reps, market), each set by an environment variable.

    Attributes:
        line_bytes: longest line accepted (``SALESANALYSIS_MAX_LINE_BYTES``, default 1 MB).
        content_bytes: most bytes of content, after decompression (``SALESANALYSIS_MAX_INPUT_MB``,
            default 2,048 MB).
        expansion: most times a compressed file may grow once unpacked
            (``SALESANALYSIS_MAX_EXPANSION``, default 100; checked from 16 MB of content on:
            sales exports compress 5-20 times, a decompression bomb hundreds of times).
    """

    line_bytes: int = _MB
    content_bytes: int = 2048 * _MB
    expansion: float = 100.0
    expansion_from: int = 16 * _MB


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip().replace("_", "").replace(",", "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(
            tr("the environment variable {name} is {value}, not a number").format(
                name=name, value=repr(raw[:40])
            ),
            fix=tr(
                "Set {name} to a positive number, or unset it to use the default ({default})."
            ).format(name=name, default=f"{default:g}"),
        ) from None
    if not value > 0:
        raise InputError(
            tr("the environment variable {name} is {value}; it must be positive").format(
                name=name, value=repr(raw[:40])
            ),
            fix=tr(
                "Set {name} to a positive number, or unset it to use the default ({default})."
            ).format(name=name, default=f"{default:g}"),
        )
    return value


def input_limits() -> InputLimits:
    """The limits in force now (the defaults, or the environment variables that change them)."""
    d = InputLimits()
    return InputLimits(
        line_bytes=int(_env_number("SALESANALYSIS_MAX_LINE_BYTES", d.line_bytes)),
        content_bytes=int(_env_number("SALESANALYSIS_MAX_INPUT_MB", d.content_bytes / _MB) * _MB),
        expansion=_env_number("SALESANALYSIS_MAX_EXPANSION", d.expansion),
        expansion_from=min(d.expansion_from, d.content_bytes),
    )


def _size(n: float) -> str:
    return f"{n / _MB:,.4g} MB" if n >= _MB else tr("{n} bytes").format(n=f"{n:,.0f}")


def _too_long(path: Path, line: int, limits: InputLimits) -> InputError:
    fix = tr(
        "The file is probably not a CSV export, or its line breaks were lost: export it again "
        "as CSV (one row per line). If such long lines are right, allow them for this run: "
        "`{command}`"
    ).format(command=f"SALESANALYSIS_MAX_LINE_BYTES={4 * limits.line_bytes} salesanalysis ...")
    n = f"{limits.line_bytes:,}"
    return InputError(
        tr("{path}: line {line} is longer than {n} bytes").format(path=path, line=line, n=n),
        problems=[
            Problem(
                tr(
                    "line {line} is longer than {n} bytes (the longest line accepted); it was "
                    "not read"
                ).format(line=line, n=n),
                file=str(path),
                rows=[line],
                fix=fix,
            )
        ],
        fix=fix,
    )


def _too_large(path: Path, limits: InputLimits, packed: bool) -> InputError:
    mb = limits.content_bytes / _MB
    fix = tr(
        "Check that {file} is the right file. If it is, raise the limit for this run: "
        "`{command}` (reading needs several times the file's size in memory)."
    ).format(
        file=path.name,
        command=f"SALESANALYSIS_MAX_INPUT_MB={max(1, round(2 * mb))} salesanalysis ...",
    )
    message = (
        tr("unpacks to more than {size}, the largest data file read")
        if packed
        else tr("holds more than {size}, the largest data file read")
    ).format(size=_size(limits.content_bytes))
    return InputError(
        str(path) + " " + message,
        problems=[
            Problem(tr("the file {message}").format(message=message), file=str(path), fix=fix)
        ],
        fix=fix,
    )


def _bomb(path: Path, limits: InputLimits, content: int, packed: int) -> InputError:
    fix = tr(
        "Unpack {file} yourself and check it. If it is a real export, put the unpacked "
        "file in the data folder instead, or allow it for this run: `{command}`"
    ).format(
        file=path.name,
        command=f"SALESANALYSIS_MAX_EXPANSION={int(10 * limits.expansion)} salesanalysis ...",
    )
    message = tr(
        "grows more than {times} times when unpacked ({content} from the first {packed}): it "
        "looks like a decompression bomb, not a sales export; it was not read further"
    ).format(times=f"{limits.expansion:g}", content=_size(content), packed=_size(packed))
    return InputError(
        str(path) + " " + message,
        problems=[
            Problem(tr("the file {message}").format(message=message), file=str(path), fix=fix)
        ],
        fix=fix,
    )


def _open_regular(path: Path) -> io.BufferedReader:
    """The file opened for reading; a FIFO or device is refused without blocking on it."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputError(
                tr("{path} is not a regular file").format(path=path),
                fix=tr("Name a plain file (not a pipe, device or folder)."),
            )
        os.set_blocking(fd, True)
        return open(fd, "rb", closefd=True)  # noqa: SIM115 - closed by LimitedInput.close
    except BaseException:
        os.close(fd)
        raise


class LimitedInput(io.RawIOBase):
    """A data file as a stream of its content: ``.gz`` is decompressed while it is read, and
    the limits of :class:`InputLimits` are checked on every chunk (line length without holding
    a line, content size, expansion of a compressed file).

    With ``raise_early`` (the default) a limit raises :class:`InputError` from ``read``. Readers
    that cannot let an exception cross them (Arrow's, running in C++) pass ``raise_early=False``:
    the stream then ends (as if at the end of the file) and the error waits in :attr:`problem`.
    """

    def __init__(
        self, path: str | Path, limits: InputLimits | None = None, raise_early: bool = True
    ):
        super().__init__()
        self.path = Path(path)
        self.limits = limits or input_limits()
        self.raise_early = raise_early
        self.problem: InputError | None = None
        self.content = 0  # bytes of content handed out
        self.lines = 0  # line breaks seen
        self._since = 0  # bytes since the last line break
        self._cr = False  # the last byte seen was a carriage return
        self._raw = _open_regular(self.path)
        self.packed = self.path.name.lower().endswith(".gz")
        if self.packed:
            import gzip

            self._src: Any = gzip.GzipFile(fileobj=self._raw, mode="rb")
        else:
            self._src = self._raw
            size = os.fstat(self._raw.fileno()).st_size
            if size > self.limits.content_bytes:
                self._fail(_too_large(self.path, self.limits, packed=False))

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            try:
                self._src.close()
                self._raw.close()
            finally:
                super().close()

    def _fail(self, error: InputError) -> None:
        self.problem = error
        if self.raise_early:
            self.close()
            raise error

    def read(self, size: int = -1) -> bytes:
        if self.problem is not None:
            return b""
        want = 1 << 22 if size is None or size < 0 else size
        try:
            data = self._src.read(want)
        except (OSError, EOFError) as exc:  # a damaged .gz
            self._fail(
                InputError(
                    tr("{path} cannot be unpacked: {reason}").format(path=self.path, reason=exc),
                    fix=tr("Export and compress the file again (gzip), or use the unpacked CSV."),
                )
            )
            return b""
        if data:
            self._check(data)
            if self.problem is not None:
                return b""
        return data

    def readall(self) -> bytearray:  # type: ignore[override]
        buf = bytearray()  # grows in place (no second copy of the content at the end)
        while chunk := self.read(1 << 22):
            buf += chunk
        return buf

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _check(self, data: bytes) -> None:
        lim = self.limits
        self.content += len(data)
        if self.content > lim.content_bytes:
            return self._fail(_too_large(self.path, lim, packed=self.packed))
        if self.packed and self.content >= lim.expansion_from:
            packed = self._raw.tell()
            if self.content > lim.expansion * max(packed, 1):
                return self._fail(_bomb(self.path, lim, self.content, packed))
        self._lines(data)
        return None

    def _lines(self, data: bytes) -> None:
        """Count line breaks (``\\n``, ``\\r\\n`` or ``\\r``) and refuse a line longer than
        the limit. ``data`` is looked at in windows no longer than the limit: inside a window
        two breaks are closer than the limit, so only the stretch from the last break of the
        previous windows to the first break of this one can be too long."""
        limit, n, pos = self.limits.line_bytes, len(data), 0
        while pos < n:
            end = min(n, pos + limit)
            nl, cr = data.find(b"\n", pos, end), data.find(b"\r", pos, end)
            first = min(i for i in (nl, cr, end) if i >= 0)
            if self._since + (first - pos) > limit:
                return self._fail(_too_long(self.path, self.lines + 1, self.limits))
            if first == end:
                self._since += end - pos
            else:
                last = max(data.rfind(b"\n", pos, end), data.rfind(b"\r", pos, end))
                crlf = data.count(b"\r\n", pos, end) + (self._cr and data[pos : pos + 1] == b"\n")
                self.lines += data.count(b"\n", pos, end) + data.count(b"\r", pos, end) - crlf
                self._since = end - last - 1
            self._cr = data[end - 1 : end] == b"\r"
            pos = end
        return None


def open_input(path: str | Path, raise_early: bool = True) -> LimitedInput:
    """A data file opened as a :class:`LimitedInput` with the limits in force now."""
    return LimitedInput(path, input_limits(), raise_early)


def read_input(path: str | Path) -> bytearray:
    """The whole content of a data file (``.gz`` unpacked), refused as soon as a limit is
    passed, so that memory never holds more than the content limit.

    Raises:
        InputError: a line too long, content too large, a decompression bomb, a damaged
            ``.gz``, or not a regular file.
    """
    with open_input(path) as f:
        return f.readall()


def check_packed_input(path: str | Path) -> None:
    """Refuse a workbook (``.xlsx``/``.xlsm``, a zip archive) or a Parquet file whose content,
    by its own directory of sizes, is larger than the content limit or grows more than the
    expansion limit; nothing is unpacked to find out. Any other file (an old ``.xls``) is
    refused when it is larger than the content limit.

    Raises:
        InputError: as :func:`read_input`; a file that is not a valid archive is left to the
            reader, which says so in its own words.
    """
    p = Path(path)
    name = p.name.lower()
    lim = input_limits()
    packed = p.stat().st_size
    content = 0
    if name.endswith((".xlsx", ".xlsm")):
        import zipfile

        try:
            with zipfile.ZipFile(p) as z:
                content = sum(i.file_size for i in z.infolist())
        except (zipfile.BadZipFile, OSError, ValueError):
            return
    elif name.endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(p).metadata
        except Exception:  # noqa: BLE001 - pyarrow raises many types; the reader reports it
            return
        content = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    else:  # e.g. an old .xls workbook: not compressed, its size is its content
        content = packed
    if content > lim.content_bytes:
        raise _too_large(p, lim, packed=True)
    if content >= lim.expansion_from and content > lim.expansion * max(packed, 1):
        raise _bomb(p, lim, content, packed)
