"""Read and validate the raw inputs: transactions, reps, market size (and the plan).

Readers accept CSV (UTF-8, UTF-8 with BOM, GBK/GB18030, UTF-16; comma, semicolon, tab or pipe),
Parquet and Excel. An optional ``mapping.yaml`` beside the data renames the company's own
column names to the contract's and sets encoding, delimiter, decimal and thousands separators,
date format, sheet, header row and columns to ignore (see ``data/README.md``).

Every problem found is collected and reported at once (:class:`~salesanalysis.errors.InputError`)
with file, column, example rows (the line numbers a person sees in the file, header = line 1,
or the sheet's row numbers) and the fix. Input files are only ever opened for reading.

Rules applied to messy exports (each one that changes data is stated in ``Dataset.notes``):

* rows whose cells are all blank (trailing ``,,,,`` rows of Excel exports) are skipped;
* ``NaN``, ``NULL``, ``None``, ``#N/A``, ``N/A`` and ``<NA>`` count as empty cells;
* numbers: ``1,234.50``, ``1 234.50``, ``¥1,234``, ``(200)`` (= -200) and full-width digits are
  read; decimal commas (``1.234,50``, ``12,5``, ``0,500``) are recognised per column when the
  column shows them unambiguously (a comma followed by other than three digits); a column
  mixing both styles is an error. Infinite values are errors. A column whose only commas are
  like ``1,234`` (thousands, or a decimal comma?) follows the file's other number columns when
  they show the style for sure, else is read as thousands with a note saying how to set
  ``decimal``/``thousands``;
* text encoding (unless set): UTF-8, UTF-16 with a BOM, else GBK/GB18030; a GBK reading that is
  mostly rare characters while the bytes read as Latin letters in Windows-1252 (a Western
  European file: ``Müller`` -> ``M黮ler``) is an error asking for ``encoding``;
* line numbers count the lines of the file, also when a quoted value spans several lines;
* dates: ISO (``2025-01-05``, ``2025/1/5``, ``20250105``), Chinese (``2025年1月5日``), English
  month names, Excel serial numbers (Excel files only). Day/month order in ``05.01.2025`` or
  ``01/05/2025`` is decided for the whole column from values above 12 (dotted dates default to
  day.month.year); a column that cannot be decided is an error asking for ``date_format``.
  A time-zone suffix is dropped (the local wall-clock date counts);
* a transaction dated after today is an error (a typo such as 2052 for 2025 would otherwise
  move the report period); months without any transaction inside the history are noted;
* transaction rows identical on every column are kept (one row per item sold) and stated;
  ``duplicates: drop_exact`` in mapping.yaml drops them, and rows repeating a ``line_id``
  within their order are dropped (stated either way);
* a rep without ``hire_date`` is taken as hired in the month of their first transaction;
* market rows repeated with the same size count once; repeated with different sizes, or a year
  given both as a yearly and as monthly rows, is an error;
* Excel workbooks with several sheets: the sheet whose header holds the table's required
  columns is used; when none or several do, ``sheet`` must be set in ``mapping.yaml``
  (the error lists the sheets). Title rows above the header are skipped.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io as _io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.data.contract import (
    ENCODINGS,
    MAPPING_FILE,
    MAX_AMOUNT,
    MAX_DATE,
    MIN_DATE,
    NULL_MARKERS,
    SCHEMAS,
    TableSpec,
)
from salesanalysis.data.mapping import duplicates_rule, find_input, load_mapping, sha256_file
from salesanalysis.data.rules import (
    as_label,
    blank_cells,
    cross_checks,
    discount_outside,
    duplicate_rows,
    fill_hire_dates,
    gaps_note,
    identical_rows_note,
    is_return,
    line_id_repeats_note,
    line_revenue,
    plan_label_mismatches,
    prev_region_mismatches,
    rename,
    returns_note,
    sniff_delimiter,
)
from salesanalysis.errors import InputError, Problem
from salesanalysis.i18n import tr
from salesanalysis.untrusted import MAX_LABEL_CHARS, check_packed_input, read_input

__all__ = [
    "SCHEMAS",
    "Dataset",
    "TableSpec",
    "find_input",
    "load_dataset",
    "load_mapping",
    "numbers_from_text",
    "read_market",
    "read_reps",
    "read_table",
    "read_transactions",
    "sha256_file",
]


def _decode(
    raw: bytes | bytearray, encoding: str | None, path: Path, table: str | None = None
) -> str:
    if encoding:
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as e:
            raise InputError(
                tr("{path} cannot be read as {encoding}: {error}").format(
                    path=path, encoding=encoding, error=e
                ),
                fix=tr(
                    "Set the right 'encoding' for this file in mapping.yaml "
                    "(utf-8, gbk, gb18030, utf-16, cp1252)."
                ),
            ) from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as e:
            raise InputError(
                tr("{path} starts like UTF-16 text but cannot be read as UTF-16: {error}").format(
                    path=path, error=e
                ),
                fix=tr("Export it again (Excel: 'CSV UTF-8')."),
            ) from None
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for enc in ENCODINGS:
        try:
            text = raw.decode(enc)
        except UnicodeDecodeError:
            continue
        if enc == "gb18030":
            _check_chinese(text, path, table)
        return text
    western = ""
    try:
        if _western_share(raw.decode("cp1252")) >= 0.8:
            western = tr(
                " It looks like Western European text (Windows-1252 / Latin-1): set "
                "{setting} in {mapping}."
            ).format(setting=f"'{table or path.stem}: {{encoding: cp1252}}'", mapping=MAPPING_FILE)
    except UnicodeDecodeError:
        pass
    raise InputError(
        tr("{path} is neither UTF-8, UTF-16 nor GBK/GB18030 text").format(path=path),
        fix=tr("Export it as UTF-8 CSV (Excel: 'CSV UTF-8'), or set 'encoding' in mapping.yaml.")
        + western,
    )


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_WORD = re.compile(r"[^\s,;|\"']+")
_SAMPLE_CHARS = 400  # non-ASCII characters looked at to judge a GBK/GB18030 reading


def _is_common_chinese(ch: str) -> bool:
    """GB2312 (the 6,763 common simplified characters, CJK punctuation, full-width forms)."""
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _western_share(text: str) -> float:
    """Share of the (first few hundred) non-ASCII characters of ``text`` that are Latin
    letters (é, ü, ß...)."""
    import unicodedata

    chars = []
    for m in _NON_ASCII.finditer(text):
        chars.append(m.group())
        if len(chars) >= _SAMPLE_CHARS:
            break
    if not chars:
        return 0.0
    latin = sum(
        unicodedata.category(c).startswith("L") and "LATIN" in unicodedata.name(c, "")
        for c in chars
    )
    return latin / len(chars)


def _check_chinese(text: str, path: Path, table: str | None) -> None:
    """A Western European (Windows-1252 / Latin-1) file often decodes as GB18030 without error,
    into rare characters ('Müller' -> 'M黮ler'). Such a reading is refused: mostly not common
    Chinese (GB2312) characters, while the same bytes read as Windows-1252 are mostly Latin
    letters. Real GBK/GB18030 files are mostly GB2312 characters and pass."""
    positions = []
    for m in _NON_ASCII.finditer(text):  # skips ASCII stretches at C speed
        positions.append(m.start())
        if len(positions) >= _SAMPLE_CHARS:
            break
    odd = [i for i in positions if not _is_common_chinese(text[i])]
    if not positions or len(odd) < 0.5 * len(positions):
        return
    try:
        western = "".join(text[i] for i in odd).encode("gb18030").decode("cp1252")
    except UnicodeError:
        return
    if _western_share(western) < 0.8:
        return
    examples, lines = [], []
    line, prev = 1, 0
    for i in odd:  # in file order
        line, prev = line + text.count("\n", prev, i), i
        if line in lines:
            continue
        m = next(
            (w for w in _WORD.finditer(text, max(0, i - 40), i + 40) if w.start() <= i < w.end()),
            None,
        )
        try:
            examples.append((m.group(), m.group().encode("gb18030").decode("cp1252")))
        except (AttributeError, UnicodeError):
            continue
        lines.append(line)
        if len(lines) >= 5:
            break
    if not examples:
        return
    gb, latin = examples[0]
    name = table or path.stem
    fix = tr(
        "Export the file again as UTF-8 (Excel: 'CSV UTF-8'), or set its encoding in "
        "{mapping}: {cp1252} for Western European text, or {gb18030} if the Chinese reading "
        "is right."
    ).format(
        mapping=MAPPING_FILE,
        cp1252=f"'{name}: {{encoding: cp1252}}'",
        gb18030=f"'{name}: {{encoding: gb18030}}'",
    )
    raise InputError(
        tr("{path}: the text encoding looks wrong").format(path=path),
        problems=[
            Problem(
                tr(
                    "the file does not look like Chinese (GBK/GB18030) text: read that way, "
                    "{latin} becomes {gb}. It looks like Western European text "
                    "(Windows-1252 / Latin-1)"
                ).format(latin=repr(latin), gb=repr(gb)),
                file=str(path),
                rows=lines,
                values=list(dict.fromkeys(w for _, w in examples)),
                fix=fix,
            )
        ],
        fix=fix,
    )


_FIELDS_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def read_table(
    path: Path, settings: dict[str, Any] | None = None, table: str | None = None
) -> tuple[pd.DataFrame, int]:
    """Read one raw table as strings/values, unvalidated.

    The frame's index holds the line number of each row in the file (header = line 1; for
    Excel the sheet's row number), so problems are reported by the numbers a person sees.
    Rows whose cells are all blank are dropped.

    Returns:
        The frame and the line number of its first data row.
    """
    df, first, _ = _read_table(Path(path), settings or {}, table)
    return df, first


def _read_table(
    path: Path, settings: dict[str, Any], table: str | None
) -> tuple[pd.DataFrame, int, list[str]]:
    name = path.name.lower()
    notes: list[str] = []
    if name.endswith(".parquet"):
        check_packed_input(path)
        try:
            df = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises many types
            raise InputError(
                tr("{path} is not a readable Parquet file: {error}").format(path=path, error=e),
                fix=tr("Export it again, or use CSV or Excel."),
            ) from None
        df.columns = [str(c).strip() for c in df.columns]
        df.index = pd.RangeIndex(2, 2 + len(df))
        return _drop_blank(df), 2, notes
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        check_packed_input(path)
        return _read_excel(path, settings, table)
    if path.stat().st_size == 0:
        raise InputError(
            tr("{path} is empty (0 bytes)").format(path=path),
            fix=tr("Export the data again; the file has no header and no rows."),
        )
    raw = read_input(path)  # .gz unpacked while read; long lines, bombs refused on the way
    text = _decode(raw, settings.get("encoding"), path, table)
    del raw
    header_row = int(settings.get("header_row", 1))  # 1-based line of the header
    if header_row > 1:
        text = "\n".join(text.splitlines()[header_row - 1 :])
    if not text.strip():
        raise InputError(
            tr("{path} is empty (no header)").format(path=path),
            fix=tr("Export the data again; the file has no header and no rows."),
        )
    sep = settings.get("delimiter") or sniff_delimiter(text)
    try:
        rows = pd.read_csv(
            _io.StringIO(text),
            sep=sep,
            dtype=str,
            header=None,
            index_col=False,
            keep_default_na=False,
            na_values=[""],
            skip_blank_lines=False,
            skipinitialspace=True,
        )
    except pd.errors.ParserError as e:
        m = _FIELDS_RE.search(str(e))
        if m:
            want, record, got = (int(g) for g in m.groups())
            line = _record_start_line(text, sep, record) + header_row - 1
            fix = tr(
                "A value probably contains the delimiter: put such values in double quotes, "
                "or export again with another delimiter (set 'delimiter' in mapping.yaml)."
            )
            raise InputError(
                tr("{path} has rows with more fields than its header").format(path=path),
                problems=[
                    Problem(
                        tr(
                            "line {line} has {got} fields but the header has {want} "
                            "(delimiter {sep})"
                        ).format(line=line, got=got, want=want, sep=repr(sep)),
                        file=str(path),
                        rows=[line],
                        fix=fix,
                    )
                ],
                fix=fix,
            ) from None
        raise InputError(
            tr("{path} is not a well-formed table: {error}").format(path=path, error=e),
            fix=tr("Check the delimiter and quoting (set 'delimiter' in mapping.yaml)."),
        ) from None
    except pd.errors.EmptyDataError:
        raise InputError(
            tr("{path} is empty (no header)").format(path=path),
            fix=tr("Export the data again; the file has no header and no rows."),
        ) from None
    rows.index = _record_lines(rows, text, header_row)
    first = int(rows.index[1]) if len(rows) > 1 else header_row + 1
    return _with_header(rows, rows.index[0]), first, notes


_BREAK_RE = r"\r\n|\r|\n"


def _record_lines(rows: pd.DataFrame, text: str, first_line: int) -> pd.Index:
    """The line of the file on which each record of ``rows`` starts (``first_line`` for the
    first): one line per record, except that a quoted value may span several lines."""
    n = len(rows)
    plain = pd.RangeIndex(first_line, first_line + n)
    if '"' not in text:
        return plain
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    if breaks <= n:  # one line per record (the last one may lack its line break)
        return plain
    inside = np.zeros(n, np.int64)
    for i in range(rows.shape[1]):
        col = rows.iloc[:, i]
        has = col.str.contains("[\r\n]", regex=True, na=False).to_numpy(dtype=bool)
        if has.any():
            inside[has] += col[has].str.count(_BREAK_RE).to_numpy(dtype=np.int64)
    if not inside.any():
        return plain
    before = np.concatenate([[0], np.cumsum(inside)[:-1]])
    return pd.Index(first_line + np.arange(n) + before)


def _record_start_line(text: str, sep: str, record: int) -> int:
    """The line (1-based, in ``text``) on which record number ``record`` (1-based, as the CSV
    parser counts records) starts; they differ after a quoted value that spans lines."""
    if '"' not in text:
        return record
    start = 1
    try:
        reader = csv.reader(_io.StringIO(text, newline=""), delimiter=sep, skipinitialspace=True)
        for k, _ in enumerate(reader, start=1):
            if k == record:
                return start
            start = reader.line_num + 1
    except (csv.Error, TypeError):  # e.g. a delimiter of several characters
        pass
    return record


def _with_header(raw: pd.DataFrame, header_at: Any) -> pd.DataFrame:
    """Use row ``header_at`` of a header-less frame as the header; keep later rows."""
    head = raw.loc[header_at]
    df = raw.loc[raw.index > header_at].copy()
    cols = []
    for i, v in enumerate(head):
        label = "" if pd.isna(v) else str(v).strip()
        if label.endswith(".0") and label[:-2].isdigit():
            label = label[:-2]
        cols.append(label or f"(column {i + 1})")
    df.columns = cols
    # unnamed columns without any value (trailing delimiters) are dropped
    unnamed = [
        i for i, c in enumerate(cols) if c.startswith("(column ") and df.iloc[:, i].isna().all()
    ]
    if unnamed:
        df = df.iloc[:, [i for i in range(len(cols)) if i not in unnamed]]
    return _drop_blank(df)


def _drop_blank(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df
    empty = df.isna().to_numpy().copy()
    for i in range(df.shape[1]):  # cells holding only spaces
        col = df.iloc[:, i]
        if col.dtype == object or pd.api.types.is_string_dtype(col):
            empty[:, i] |= col.astype("string").str.strip().eq("").fillna(True).to_numpy()
    return df[~empty.all(axis=1)]


def _read_excel(
    path: Path, settings: dict[str, Any], table: str | None
) -> tuple[pd.DataFrame, int, list[str]]:
    try:
        book = pd.ExcelFile(path)
    except ImportError as e:
        raise InputError(
            tr("{path} cannot be read: {error}").format(path=path, error=e),
            fix=tr("Save the workbook as .xlsx (Excel: File > Save As > Excel Workbook)."),
        ) from None
    except Exception as e:
        raise InputError(
            tr("{path} is not a readable Excel file: {error}").format(path=path, error=e),
            fix=tr("Open it in Excel and save it again as .xlsx, or export CSV."),
        ) from None
    notes: list[str] = []
    sheets = [str(s) for s in book.sheet_names]
    sheet = settings.get("sheet")
    if sheet is not None:
        if str(sheet) not in sheets:
            raise InputError(
                tr("{path} has no sheet '{sheet}'").format(path=path, sheet=sheet),
                fix=tr("Sheets in the file: {sheets}. Correct 'sheet' in {mapping}.").format(
                    sheets=", ".join(sheets), mapping=MAPPING_FILE
                ),
            )
        sheet = str(sheet)
    elif len(sheets) == 1 or table is None:
        sheet = sheets[0]
    else:
        sheet = _pick_sheet(book, sheets, settings, table, path)
        notes.append(
            tr(
                "{file}: took sheet '{sheet}', the only one with the {table} columns (other "
                "sheets: {others})."
            ).format(
                file=path.name,
                sheet=sheet,
                table=table,
                others=", ".join(s for s in sheets if s != sheet),
            )
        )
    raw = pd.read_excel(book, sheet_name=sheet, header=None, dtype=object)
    if raw.empty:
        raise InputError(
            tr("sheet '{sheet}' of {path} is empty").format(sheet=sheet, path=path),
            fix=tr("Export the data again, or name the sheet that holds it in mapping.yaml."),
        )
    raw.index = pd.RangeIndex(1, 1 + len(raw))  # sheet row numbers
    hdr = int(settings["header_row"]) if "header_row" in settings else _guess_header_row(raw)
    return _with_header(raw, hdr), hdr + 1, notes


def _pick_sheet(
    book: pd.ExcelFile, sheets: list[str], settings: dict[str, Any], table: str, path: Path
) -> str:
    spec = SCHEMAS[table]
    rename = {str(k): v for k, v in (settings.get("columns") or {}).items()}
    fits = []
    for s in sheets:
        head = pd.read_excel(book, sheet_name=s, header=None, dtype=object, nrows=30)
        if head.empty:
            continue
        head.index = pd.RangeIndex(1, 1 + len(head))
        row = head.loc[_guess_header_row(head)]
        cols = {rename.get(str(v).strip(), str(v).strip().lower()) for v in row if pd.notna(v)}
        if set(spec.needed) <= cols:
            fits.append(s)
    if len(fits) == 1:
        return fits[0]
    listed = ", ".join(f"'{s}'" for s in sheets)
    if not fits:
        raise InputError(
            tr(
                "{path} has {n} sheets ({listed}) and none has the {table} columns ({columns})"
            ).format(
                path=path,
                n=len(sheets),
                listed=listed,
                table=table,
                columns=", ".join(spec.needed),
            ),
            fix=tr(
                "Name the sheet in {mapping} ({setting}) and map its column names under 'columns'."
            ).format(mapping=MAPPING_FILE, setting=f"'{table}: {{sheet: ...}}'"),
        )
    raise InputError(
        tr("{path} has several sheets with the {table} columns: {sheets}").format(
            path=path, table=table, sheets=", ".join(repr(s) for s in fits)
        ),
        fix=tr("Name the one to use in {mapping}: {setting}.").format(
            mapping=MAPPING_FILE, setting=f"'{table}: {{sheet: {fits[0]}}}'"
        ),
    )


def _guess_header_row(raw: pd.DataFrame) -> int:
    """The first row (sheet row number) whose cells are mostly filled text: title rows above
    it are skipped."""
    width = raw.shape[1]
    for i in raw.index[:30]:
        row = raw.loc[i]
        filled = row.notna().sum()
        texts = sum(isinstance(v, str) for v in row)
        if filled >= max(2, 0.6 * width) and texts >= 0.6 * filled:
            return int(i)
    return int(raw.index[0])


# --------------------------------------------------------------------------------------------
# validation helpers


@dataclass
class _Read:
    df: pd.DataFrame  # index = line numbers in the file
    path: Path
    first: int
    settings: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    table: str = ""

    @property
    def excel(self) -> bool:
        return self.path.name.lower().endswith((".xlsx", ".xlsm", ".xls"))


def _rows(mask: pd.Series | np.ndarray, index: pd.Index | int) -> tuple[list[int], int]:
    """Example line numbers (at most 5) of the rows in ``mask`` and how many there are."""
    m = np.asarray(mask, dtype=bool)
    idx = np.flatnonzero(m)
    if isinstance(index, int | np.integer):
        lines = [int(i) + int(index) for i in idx[:5]]
    else:
        lines = [int(v) for v in np.asarray(index)[idx[:5]]]
    return lines, int(len(idx))


_CURRENCY_RE = re.compile(r"^(?:CNY|RMB|USD|EUR|[¥￥$€£])\s*|\s*(?:元|CNY|RMB)$")
_US_RE = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_EU_SURE_RE = re.compile(
    r"^-?(0,\d+|\d+,(\d{1,2}|\d{4,})|\d{1,3}(\.\d{3})+,\d+|\d{1,3}(\.\d{3}){2,})$"
)
_DOT_SURE_RE = re.compile(r"^-?\d*\.(\d{1,2}|\d{4,})$|^-?\d{1,3}(,\d{3})+\.\d+$")
_AMBIGUOUS_RE = re.compile(r"^-?[1-9]\d{0,2},\d{3}$")  # 1,234: 1234 or 1.234?


def _to_number(
    raw: pd.Series,
    decimal: str | None,
    thousands: str | None,
    what: str = "",
    notes: list[str] | None = None,
    file_style: Callable[[], str | None] | None = None,
    table: str = "",
) -> pd.Series:
    """Numbers from an export's text (see the module docstring for the rules).

    Args:
        file_style: when a column only holds values such as ``1,234`` (a comma before three
            digits: thousands or decimal?), called for the style the file's other number
            columns show for sure: ``"us"`` (1,234.50), ``"eu"`` (1.234,50) or None.
        table: the table's block in mapping.yaml, for the note on such a column.
    """
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        return raw.astype("float64")
    if not decimal and not thousands:  # fast path: plain numbers need no rule
        num = pd.to_numeric(raw, errors="coerce").astype("float64")
        left = num.isna() & ~blank_cells(raw)
        if not left.any():
            return num
        if (
            left.sum() < len(raw)
            and not raw[~left & raw.notna()].astype(str).str.contains(r"[.,]", regex=True).any()
        ):
            # only the odd values need the rules (a column with decimals is decided as a whole)
            num[left] = _to_number_rules(raw[left], None, None, what, notes, file_style, table)
            return num
    return _to_number_rules(raw, decimal, thousands, what, notes, file_style, table)


def numbers_from_text(raw: pd.Series, what: str = "") -> pd.Series:
    """Numbers as the readers read them (``1,200``, ``¥3,000``, ``(500)``, ``1.234,5``): NaN
    where a cell is not a number, or where a column mixes 1.234,5 and 1,234.5 styles."""
    try:
        return _to_number(raw, None, None, what)
    except _MixedNumbers:
        return pd.Series(np.nan, index=raw.index, dtype="float64")


def _number_text(raw: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """The text of numbers without spaces, currency, accounting brackets or a plus sign;
    which cells hold a (non-text) number, and which had a currency symbol."""
    is_num = raw.map(
        lambda v: isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
    )
    t = raw.astype("string").str.normalize("NFKC").str.strip()
    t = t.mask(t.isin(NULL_MARKERS))
    t = t.str.replace(r"[\s\u00a0\u2009\u202f']", "", regex=True)
    cur = t.str.contains(_CURRENCY_RE).fillna(False)
    if cur.any():
        t = t.str.replace(_CURRENCY_RE, "", regex=True)
    t = t.str.replace(r"^\((.+)\)$", r"-\1", regex=True)  # (200) = -200, accounting style
    t = t.str.replace(r"^\+", "", regex=True)
    return t, is_num, cur


def _number_style(raw: pd.Series) -> str | None:
    """``"us"`` (1,234.50 / 12.5) or ``"eu"`` (1.234,50 / 12,5) when the column shows its
    decimal mark for sure (and only one), else None."""
    if pd.api.types.is_numeric_dtype(raw):
        return None
    t, is_num, _ = _number_text(raw)
    txt = t.where(~is_num)
    eu = bool(txt.str.fullmatch(_EU_SURE_RE).fillna(False).any())
    us = bool(
        (
            txt.str.fullmatch(_DOT_SURE_RE).fillna(False)
            | (
                txt.str.fullmatch(_US_RE).fillna(False)
                & ~txt.str.fullmatch(_AMBIGUOUS_RE).fillna(False)
            )
        ).any()
    )
    return "eu" if eu and not us else "us" if us and not eu else None


def _to_number_rules(
    raw: pd.Series,
    decimal: str | None,
    thousands: str | None,
    what: str = "",
    notes: list[str] | None = None,
    file_style: Callable[[], str | None] | None = None,
    table: str = "",
) -> pd.Series:
    t, is_num, cur = _number_text(raw)
    if cur.any() and notes is not None:
        notes.append(
            tr("{what}: currency symbols removed from {n} values.").format(
                what=what, n=int(cur.sum())
            )
        )
    txt = t.where(~is_num)
    if thousands:
        t = t.str.replace(thousands, "", regex=False)
    if decimal and decimal != ".":
        t = t.str.replace(decimal, ".", regex=False)
    elif not thousands and not decimal:
        eu = txt.str.fullmatch(_EU_SURE_RE).fillna(False)
        dot = txt.str.fullmatch(_DOT_SURE_RE).fillna(False)
        if eu.any() and dot.any():
            raise _MixedNumbers(what, raw[eu].head(3).tolist(), raw[dot].head(3).tolist())
        if eu.any():
            t = t.where(
                is_num, t.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            )
            if notes is not None:
                notes.append(
                    tr(
                        "{what}: numbers are written with a decimal comma (e.g. {example}); read "
                        "that way."
                    ).format(what=what, example=repr(raw[eu].iloc[0]))
                )
        else:
            us = txt.str.fullmatch(_US_RE).fillna(False)
            amb = txt.str.fullmatch(_AMBIGUOUS_RE).fillna(False)
            if amb.any() and not (us & ~amb).any() and not dot.any():
                # only values like 1,234: thousands (1234) or a decimal comma (1.234)?
                style = file_style() if file_style is not None else None
                if style == "eu":
                    t = t.where(~amb, t.str.replace(",", ".", regex=False))
                    us = us & ~amb
                if notes is not None and style != "us":
                    notes.append(_ambiguous_note(raw[amb], style, what, table))
            t = t.where(~us, t.str.replace(",", "", regex=False))
    return pd.to_numeric(t, errors="coerce").astype("float64")


def _ambiguous_note(values: pd.Series, style: str | None, what: str, table: str) -> str:
    ex = str(values.iloc[0]).strip()
    as_thousands = ex.replace(",", "")
    as_decimal = f"{float(ex.replace(',', '.')):g}"
    lines = (
        [int(i) for i in values.index[:5]] if pd.api.types.is_integer_dtype(values.index) else []
    )
    where = tr(" (lines {lines})").format(lines=lines) if lines else ""
    block = table or "<table>"
    fields = {"what": what, "n": len(values), "example": repr(ex), "where": where}
    if style == "eu":
        return tr(
            "{what}: {n} values such as {example}{where} are read as {value} (decimal comma, as "
            "in the file's other number columns); if they mean thousands, the file mixes two "
            "styles: export its numbers in one."
        ).format(value=as_decimal, **fields)
    return tr(
        "{what}: {n} values such as {example}{where} are read as {value} (comma = thousands "
        "separator); nothing in the file shows whether the comma is a decimal mark instead "
        "({raw} = {decimal}). If it is, set {eu_setting} in {mapping}; {us_setting} confirms "
        "this reading and drops this note."
    ).format(
        value=as_thousands,
        raw=ex,
        decimal=as_decimal,
        eu_setting=f'\'{block}: {{decimal: ",", thousands: "."}}\'',
        us_setting=f"'{block}: {{thousands: \",\"}}'",
        mapping=MAPPING_FILE,
        **fields,
    )


class _MixedNumbers(Exception):
    def __init__(self, what: str, eu: list[Any], dot: list[Any]):
        super().__init__(what)
        self.what, self.eu, self.dot = what, eu, dot


_CN_DATE_RE = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?")
_YMD_RE = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})")
_XY_RE = re.compile(r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4})(.*)$")
_TZ_RE = re.compile(r"(?<=\d)(Z|[+-]\d{2}:?\d{2})$")


class _AmbiguousDates(Exception):
    def __init__(self, examples: list[str], mixed: bool):
        super().__init__("ambiguous")
        self.examples, self.mixed = examples, mixed


_NS_FIRST, _NS_LAST = pd.Timestamp.min.ceil("D"), pd.Timestamp.max.floor("D")


def _ns(d: pd.Series) -> pd.Series:
    """Dates at nanosecond resolution. Dates beyond its range (before 1677 or after 2262, such as
    a typo 22025) become the range's first or last day, so that the range check (1990-2100)
    reports them by line, instead of an overflow."""
    if d.dtype == "datetime64[ns]":
        return d
    d = pd.to_datetime(d)
    if getattr(d.dt, "tz", None) is not None:
        d = d.dt.tz_localize(None)
    d = d.mask(d > _NS_LAST, _NS_LAST).mask(d < _NS_FIRST, _NS_FIRST)
    return d.astype("datetime64[ns]")


def _to_date(
    raw: pd.Series,
    fmt: str | None,
    excel: bool = False,
    notes: list[str] | None = None,
    what: str = "",
) -> pd.Series:
    """Dates from an export (see the module docstring for the rules); unreadable -> NaT."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        out = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) is not None else raw
        return _ns(out)
    if not fmt and pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        iso = _iso_dates(raw, fmt, excel, notes, what)
        if iso is not None:
            return iso
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    is_dt = raw.map(lambda v: isinstance(v, _dt.date))
    if is_dt.any():
        out[is_dt] = _ns(_python_dates(raw[is_dt]))
    is_num = raw.map(_is_number)
    if excel and is_num.any():  # Excel serial day numbers (1900 system)
        serial = pd.to_numeric(raw[is_num], errors="coerce")
        ok = serial.between(20000, 80000)
        out[serial[ok].index] = _excel_serial_dates(serial[ok])
    rest = ~is_dt & ~(is_num if excel else pd.Series(False, index=raw.index)) & ~blank_cells(raw)
    if not rest.any():
        return out
    s = raw[rest].astype("string").str.strip()
    if fmt:
        out[rest] = _ns(pd.to_datetime(s, format=fmt, errors="coerce"))
        return out
    s = _day_month_year(_iso_text(s), raw[rest], notes, what)
    out[rest] = _ns(_parse_date_text(s))
    return out


def _iso_dates(
    raw: pd.Series, fmt: str | None, excel: bool, notes: list[str] | None, what: str
) -> pd.Series | None:
    """The fast path for a text column: ISO dates, the odd values by the rules; None when no
    value is ISO (the whole column then goes through the rules)."""
    try:
        iso = pd.to_datetime(raw.str.strip(), format="ISO8601", errors="coerce")
    except (ValueError, TypeError):  # e.g. mixed time zones: the rules below handle them
        iso = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if getattr(iso.dt, "tz", None) is not None:
        iso = iso.dt.tz_localize(None)
    left = iso.isna() & ~blank_cells(raw)
    if not left.any():
        return _ns(iso)
    if left.sum() < len(raw):
        iso = _ns(iso)
        iso[left] = _to_date(raw[left].astype(object), fmt, excel, notes, what)
        return iso
    return None


def _python_dates(raw: pd.Series) -> pd.Series:
    """Date and datetime objects (Excel cells), time zones dropped."""
    return pd.to_datetime(
        raw.map(
            lambda v: pd.Timestamp(v).tz_localize(None) if pd.Timestamp(v).tz else pd.Timestamp(v)
        )
    )


def _is_number(v: Any) -> bool:
    return (
        isinstance(v, int | float | np.integer | np.floating)
        and not isinstance(v, bool)
        and not pd.isna(v)
    )


def _excel_serial_dates(serial: pd.Series) -> pd.Series:
    """Excel serial day numbers (1900 system) to dates."""
    return (pd.Timestamp("1899-12-30") + pd.to_timedelta(serial.round(6), unit="D")).astype(
        "datetime64[ns]"
    )


def _iso_text(s: pd.Series) -> pd.Series:
    """Chinese (2025年1月5日) and year-first (2025/1/5) dates rewritten as ISO; a time-zone
    suffix dropped."""
    s = s.str.replace(_CN_DATE_RE, lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", regex=True)
    s = s.str.replace(_YMD_RE, lambda m: f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}", regex=True)
    return s.str.replace(_TZ_RE, "", regex=True)


def _day_month_year(
    s: pd.Series, original: pd.Series, notes: list[str] | None, what: str
) -> pd.Series:
    """Dates such as 05.01.2025 or 01/05/2025 rewritten as ISO, the day/month order decided
    for the whole column from values above 12 (dotted dates default to day.month.year).

    Raises:
        _AmbiguousDates: the order cannot be decided.
    """
    xy = s.str.extract(_XY_RE)
    has_xy = xy[0].notna()
    if not has_xy.any():
        return s
    a, b = xy.loc[has_xy, 0].astype(int), xy.loc[has_xy, 2].astype(int)
    day_first_ok, month_first_ok = bool((b <= 12).all()), bool((a <= 12).all())
    dotted = bool((xy.loc[has_xy, 1] == ".").all())
    if day_first_ok and (not month_first_ok or dotted):
        day, mon, rule = a, b, "day.month.year" if dotted else "day/month/year"
    elif month_first_ok and not day_first_ok:
        day, mon, rule = b, a, "month/day/year"
    else:
        raise _AmbiguousDates(
            original[has_xy].head(3).astype(str).tolist(),
            mixed=not (day_first_ok or month_first_ok),
        )
    iso = (
        xy.loc[has_xy, 3]
        + "-"
        + mon.map("{:02d}".format)
        + "-"
        + day.map("{:02d}".format)
        + xy.loc[has_xy, 4].fillna("")
    )
    s[has_xy] = iso
    if notes is not None:
        notes.append(
            tr("{what}: dates such as {example} are read as {rule}.").format(
                what=what, example=repr(original[has_xy].iloc[0]), rule=rule
            )
        )
    return s


def _parse_date_text(s: pd.Series) -> pd.Series:
    """ISO text to dates; English month names (5 Jan 2025, Jan 5, 2025) too; else NaT."""
    try:
        parsed = pd.to_datetime(s, format="ISO8601", errors="coerce")
    except (ValueError, TypeError):
        parsed = s.map(lambda v: pd.to_datetime(v, format="ISO8601", errors="coerce"))
    named = parsed.isna() & s.str.contains(r"[A-Za-z]{3}", regex=True).fillna(False)
    if named.any():  # English month names: 5 Jan 2025, Jan 5, 2025
        parsed[named] = pd.to_datetime(s[named], format="mixed", errors="coerce")
    return parsed


def _check_keys(
    df: pd.DataFrame, spec: TableSpec, path: Path, first: int, problems: list[Problem]
) -> None:
    for col in spec.keys:
        if col not in df.columns:
            continue
        blank = blank_cells(df[col])
        if blank.any():
            rows, n = _rows(blank, df.index)
            markers = sorted(
                {
                    str(v).strip()
                    for v in df.loc[blank.to_numpy(), col]
                    if not pd.isna(v) and str(v).strip()
                }
            )
            message = (
                tr("{n} rows have an empty {col} (or {markers})")
                if markers
                else tr("{n} rows have an empty {col}")
            )
            problems.append(
                Problem(
                    message.format(n=n, col=col, markers=", ".join(markers[:3])),
                    file=str(path),
                    column=col,
                    rows=rows,
                    count=n,
                    fix=tr("Fill in {col} on those rows or remove them.").format(col=col),
                )
            )
        long = df[col].astype("string").str.strip().str.len().gt(MAX_LABEL_CHARS).fillna(False)
        if long.any():
            rows, n = _rows(long, df.index)
            problems.append(
                Problem(
                    tr("{n} values in {col} are longer than {max} characters").format(
                        n=n, col=col, max=MAX_LABEL_CHARS
                    ),
                    file=str(path),
                    column=col,
                    rows=rows,
                    count=n,
                    values=[
                        tr("{start}... ({n} characters)").format(start=str(v)[:40], n=len(str(v)))
                        for v in df.loc[long.to_numpy(), col].head(3)
                    ],
                    fix=tr(
                        "Labels are names or codes of at most {max} characters: correct those "
                        "cells (a column shifted, or notes in a label column?)."
                    ).format(max=MAX_LABEL_CHARS),
                )
            )


def _read(
    path: Path, table: str, settings: dict[str, Any], problems: list[Problem]
) -> _Read | None:
    spec = SCHEMAS[table]
    df, first, notes = _read_table(path, settings, table)
    n0 = len(problems)
    df = rename(df, spec, settings, path, problems)
    if len(problems) > n0:
        return None
    if len(df) == 0:
        problems.append(
            Problem(
                tr("the file has a header but no rows"),
                file=str(path),
                fix=tr("Export the {table} data again with its rows.").format(table=table),
            )
        )
        return None
    return _Read(df, path, first, settings, notes, table)


def _numeric(r: _Read, col: str, problems: list[Problem], *, required: bool) -> pd.Series | None:
    if col not in r.df.columns:
        return None
    raw = r.df[col]
    try:
        num = _to_number(
            raw,
            r.settings.get("decimal"),
            r.settings.get("thousands"),
            tr("{file}, column {col}").format(file=r.path.name, col=col),
            r.notes,
            file_style=lambda: _file_style(r, col),
            table=r.table,
        )
    except _MixedNumbers as e:
        problems.append(
            Problem(
                tr("{col} mixes decimal commas ({commas}) with decimal points ({points})").format(
                    col=col, commas=", ".join(map(repr, e.eu)), points=", ".join(map(repr, e.dot))
                ),
                file=str(r.path),
                column=col,
                fix=tr(
                    "Export the numbers in one style, or set 'decimal' and 'thousands' for this "
                    "file in mapping.yaml."
                ),
            )
        )
        return None
    blank = blank_cells(raw)
    bad = num.isna() & ~blank
    if bad.any():
        rows, n = _rows(bad, r.df.index)
        problems.append(
            Problem(
                tr("{n} values in {col} are not numbers").format(n=n, col=col),
                file=str(r.path),
                column=col,
                rows=rows,
                count=n,
                values=list(raw[bad].head(5)),
                fix=tr(
                    "Use plain numbers (set 'decimal'/'thousands' in mapping.yaml "
                    "for 1.234,50 style)."
                ),
            )
        )
    inf = np.isinf(num)
    if inf.any():
        rows, n = _rows(inf, r.df.index)
        problems.append(
            Problem(
                tr("{n} values in {col} are infinite").format(n=n, col=col),
                file=str(r.path),
                column=col,
                rows=rows,
                count=n,
                values=list(raw[inf].head(5)),
                fix=tr("Replace them by the real amounts."),
            )
        )
        num = num.where(~inf)
    huge = np.abs(num) > MAX_AMOUNT
    if huge.any():
        rows, n = _rows(huge, r.df.index)
        problems.append(
            Problem(
                tr("{n} values in {col} are beyond {max} in size (the bound for one line)").format(
                    n=n, col=col, max=f"{MAX_AMOUNT:.0e}"
                ),
                file=str(r.path),
                column=col,
                rows=rows,
                count=n,
                values=list(raw[huge].head(5)),
                fix=tr("Replace them by the real amounts (a unit or decimal-point error?)."),
            )
        )
        num = num.where(~huge)
    if required and blank.any():
        rows, n = _rows(blank, r.df.index)
        problems.append(
            Problem(
                tr("{n} rows have no {col}").format(n=n, col=col),
                file=str(r.path),
                column=col,
                rows=rows,
                count=n,
                fix=tr("Fill in {col} on those rows.").format(col=col),
            )
        )
    return num


_NUMBER_COLUMNS = tuple(dict.fromkeys(c for spec in SCHEMAS.values() for c in spec.numeric))


def _file_style(r: _Read, col: str) -> str | None:
    """The decimal mark the file's other number columns show for sure (see _number_style)."""
    styles = {_number_style(r.df[c]) for c in _NUMBER_COLUMNS if c != col and c in r.df.columns}
    styles.discard(None)
    return styles.pop() if len(styles) == 1 else None


def _dates(r: _Read, col: str, problems: list[Problem], *, required: bool) -> pd.Series | None:
    if col not in r.df.columns:
        return None
    raw = r.df[col]
    try:
        d = _to_date(
            raw,
            r.settings.get("date_format"),
            r.excel,
            r.notes,
            tr("{file}, column {col}").format(file=r.path.name, col=col),
        )
    except _AmbiguousDates as e:
        message = (
            tr("the dates in {col} mix day/month/year and month/day/year")
            if e.mixed
            else tr("the dates in {col} can be read as day/month/year or as month/day/year")
        )
        problems.append(
            Problem(
                message.format(col=col),
                file=str(r.path),
                column=col,
                values=e.examples,
                fix=tr(
                    "Set 'date_format' for this file in mapping.yaml ('%d/%m/%Y' "
                    "or '%m/%d/%Y'), or export the dates as YYYY-MM-DD."
                ),
            )
        )
        return None
    blank = blank_cells(raw)
    bad = d.isna() & ~blank
    if bad.any():
        rows, n = _rows(bad, r.df.index)
        problems.append(
            Problem(
                tr("{n} values in {col} are not dates").format(n=n, col=col),
                file=str(r.path),
                column=col,
                rows=rows,
                count=n,
                values=list(raw[bad].head(5)),
                fix=tr("Use YYYY-MM-DD, or set 'date_format' in mapping.yaml (e.g. '%d.%m.%Y')."),
            )
        )
    out_of_range = d.notna() & ((d < MIN_DATE) | (d > MAX_DATE))
    if out_of_range.any():
        rows, n = _rows(out_of_range, r.df.index)
        problems.append(
            Problem(
                tr("{n} dates in {col} are out of range (before 1990 or after 2100)").format(
                    n=n, col=col
                ),
                file=str(r.path),
                column=col,
                rows=rows,
                count=n,
                values=list(raw[out_of_range].head(5)),
                fix=tr("Correct those dates."),
            )
        )
        d = d.where(~out_of_range)
    if required and blank.any():
        rows, n = _rows(blank, r.df.index)
        problems.append(
            Problem(
                tr("{n} rows have no {col}").format(n=n, col=col),
                file=str(r.path),
                column=col,
                rows=rows,
                count=n,
                fix=tr("Fill in {col} on those rows.").format(col=col),
            )
        )
    return d


@dataclass
class _TxValues:
    """The parsed value columns of the transactions file (None: absent or unreadable)."""

    date: pd.Series | None
    quantity: pd.Series | None
    unit_price: pd.Series | None
    revenue: pd.Series | None
    discount: pd.Series | None


def read_transactions(
    path: Path,
    settings: dict[str, Any] | None = None,
    problems: list[Problem] | None = None,
    notes: list[str] | None = None,
    today: _dt.date | None = None,
) -> pd.DataFrame | None:
    """Read and validate the transactions file into the normalised frame.

    Args:
        today: lines dated after this day are an error (default: the real date).

    Returns None when problems were found (they are appended to ``problems``); raises
    :class:`InputError` when called without a ``problems`` list. The frame keeps a ``_line``
    column (the line in the file) for cross-file checks.
    """
    own = problems is None
    problems = [] if own else problems
    notes = [] if notes is None else notes
    r = _read(Path(path), "transactions", settings or {}, problems)
    if r is None:
        return _finish(own, problems, None, "transactions")
    n0 = len(problems)
    _check_keys(r.df, SCHEMAS["transactions"], r.path, r.first, problems)
    v = _transaction_values(r, problems)
    _check_future(r, v.date, today, problems)
    v.discount = _check_discounts(r, v.discount, problems)
    _check_amounts(r, v, problems)
    _check_line_bound(r, v, problems)
    _check_products(r, problems)
    if len(problems) > n0 or v.date is None or v.quantity is None:
        return _finish(own, problems, None, "transactions")
    out = _transaction_frame(r, v)
    notes.extend(r.notes)
    out = _apply_duplicates_rule(out, r.path, duplicates_rule(r.settings), notes)
    notes.extend(_history_notes(out, r.path))
    out["_line"] = out.index.to_numpy()
    return out.reset_index(drop=True)


def _transaction_values(r: _Read, problems: list[Problem]) -> _TxValues:
    return _TxValues(
        date=_dates(r, "date", problems, required=True),
        quantity=_numeric(r, "quantity", problems, required=True),
        unit_price=_numeric(r, "unit_price", problems, required=False),
        revenue=_numeric(r, "revenue", problems, required=False),
        discount=_numeric(r, "discount", problems, required=False),
    )


def _check_future(
    r: _Read, date: pd.Series | None, today: _dt.date | None, problems: list[Problem]
) -> None:
    """Lines dated after today are an error (a typo such as 2052 for 2025)."""
    if date is None:
        return
    today_ts = pd.Timestamp(today or _dt.date.today())
    future = date.notna() & (date.dt.normalize() > today_ts)
    if future.any():
        rows, n = _rows(future, r.df.index)
        problems.append(
            Problem(
                tr("{n} lines are dated after today ({today})").format(
                    n=n, today=f"{today_ts:%Y-%m-%d}"
                ),
                file=str(r.path),
                column="date",
                rows=rows,
                count=n,
                values=list(r.df["date"][future].head(5)),
                fix=tr(
                    "Correct those dates (a typo in the year?), or remove orders that are not "
                    "yet booked."
                ),
            )
        )


def _check_discounts(
    r: _Read, disc: pd.Series | None, problems: list[Problem]
) -> pd.Series | None:
    """Discounts in [0, 1); an empty discount is 0."""
    if disc is None:
        return None
    bad = discount_outside(disc)
    if bad.any():
        rows, n = _rows(bad, r.df.index)
        problems.append(
            Problem(
                tr("{n} discounts are outside [0, 1)").format(n=n),
                file=str(r.path),
                column="discount",
                rows=rows,
                count=n,
                values=list(r.df["discount"][bad].head(5)),
                fix=tr("Give discounts as fractions (0.05 for 5%)."),
            )
        )
    return disc.fillna(0.0)


def _check_amounts(r: _Read, v: _TxValues, problems: list[Problem]) -> None:
    """Every line has a revenue, or a unit price to compute it from."""
    price, rev = v.unit_price, v.revenue
    if "revenue" not in r.df.columns and price is not None:
        blank = price.isna()
        if blank.any():
            rows, n = _rows(blank, r.df.index)
            problems.append(
                Problem(
                    tr("{n} rows have no unit_price (and there is no revenue column)").format(n=n),
                    file=str(r.path),
                    column="unit_price",
                    rows=rows,
                    count=n,
                    fix=tr("Fill in unit_price, or add a revenue column."),
                )
            )
    elif rev is not None:
        blank = rev.isna() & (price.isna() if price is not None else True)
        if np.asarray(blank).any():
            rows, n = _rows(blank, r.df.index)
            problems.append(
                Problem(
                    tr("{n} rows have no revenue").format(n=n),
                    file=str(r.path),
                    column="revenue",
                    rows=rows,
                    count=n,
                    fix=tr("Fill in revenue on those rows."),
                )
            )


def _check_line_bound(r: _Read, v: _TxValues, problems: list[Problem]) -> None:
    """A revenue computed from quantity x unit_price is within the bound for one line."""
    price, rev = v.unit_price, v.revenue
    if price is None or v.quantity is None:
        return
    computed = line_revenue(v.quantity, price, v.discount).abs() > MAX_AMOUNT
    if rev is not None:
        computed &= rev.isna()
    if computed.any():
        rows, n = _rows(computed, r.df.index)
        problems.append(
            Problem(
                tr(
                    "{n} lines have a quantity x unit_price beyond {max} (the bound for one line)"
                ).format(n=n, max=f"{MAX_AMOUNT:.0e}"),
                file=str(r.path),
                column="unit_price",
                rows=rows,
                count=n,
                fix=tr("Correct quantity or unit_price on those lines."),
            )
        )


def _check_products(r: _Read, problems: list[Problem]) -> None:
    """A product belongs to one product line (blank products are allowed: the line's
    unspecified products)."""
    if "product" not in r.df.columns or "product_line" not in r.df.columns:
        return
    product, line = as_label(r.df["product"]), as_label(r.df["product_line"])
    given = product.notna() & (product.astype(str) != "") & line.notna()
    lines_of = line[given].groupby(product[given]).nunique()
    twice = lines_of.index[lines_of > 1]
    if not len(twice):
        return
    bad = given & product.isin(twice)
    rows, n = _rows(bad, r.df.index)
    names = [
        f"{p} ({', '.join(sorted(line[bad & (product == p)].astype(str).unique()))})"
        for p in sorted(map(str, twice))[:5]
    ]
    problems.append(
        Problem(
            tr("{n} rows name a product that belongs to more than one product line").format(n=n),
            file=str(r.path),
            column="product",
            rows=rows,
            count=n,
            values=names,
            fix=tr(
                "Give each product one product line: correct product or product_line on those "
                "rows, or leave the product column out (ignore: in mapping.yaml)."
            ),
        )
    )


def _transaction_frame(r: _Read, v: _TxValues) -> pd.DataFrame:
    """The normalised frame (index: line numbers); revenue computed where the file gives none
    (:func:`rules.line_revenue`), unit price from revenue when the file gives none."""
    qty, price, rev, disc = v.quantity, v.unit_price, v.revenue, v.discount
    out = pd.DataFrame(
        {
            "date": v.date,
            "month": v.date.dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]"),
        }
    )
    for col in ("order_id", "customer_id", "customer_type", "region", "product_line", "rep_id"):
        out[col] = as_label(r.df[col])
    out["quantity"] = qty
    out["unit_price"] = price if price is not None else np.nan
    if rev is None:
        rev = line_revenue(qty, price, disc)
    elif price is not None:
        rev = rev.fillna(line_revenue(qty, price, disc))
    out["revenue"] = rev.astype("float64")
    if out["unit_price"].isna().all():
        out["unit_price"] = (out["revenue"] / out["quantity"].where(out["quantity"] != 0)).astype(
            "float64"
        )
    if "product" in r.df.columns:
        out["product"] = as_label(r.df["product"])
    if disc is not None:
        out["discount"] = disc
    if "line_id" in r.df.columns:
        out["line_id"] = as_label(r.df["line_id"])
    return out


def _apply_duplicates_rule(
    out: pd.DataFrame, path: Path, rule: str, notes: list[str]
) -> pd.DataFrame:
    """Rows repeating a line_id within their order are dropped; identical rows are kept
    (``keep``) or dropped (``drop_exact``); both stated (:func:`rules.duplicate_rows`)."""
    repeats, identical = duplicate_rows(out, rule)
    if repeats.any():
        rows, n = _rows(repeats, out.index)
        notes.append(line_id_repeats_note(path.name, n, rows))
    if identical.any():
        rows, n = _rows(identical, out.index)
        notes.append(identical_rows_note(path.name, n, rows, rule))
    drop = repeats | (identical if rule == "drop_exact" else False)
    return out[~drop] if drop.any() else out


def _history_notes(out: pd.DataFrame, path: Path) -> list[str]:
    """Returns netted in their month; months without any transaction inside the history."""
    notes = []
    n_ret = int(is_return(out["quantity"], out["revenue"]).sum())
    if n_ret:
        notes.append(returns_note(path.name, n_ret))
    months = pd.period_range(out["month"].min(), out["month"].max(), freq="M")
    gaps = months.difference(pd.PeriodIndex(out["month"].dt.to_period("M").unique()))
    if len(gaps):
        notes.append(gaps_note(path.name, gaps))
    return notes


def read_reps(
    path: Path,
    settings: dict[str, Any] | None = None,
    problems: list[Problem] | None = None,
    notes: list[str] | None = None,
    allow_missing_hire: bool = False,
) -> pd.DataFrame | None:
    """Read and validate the reps file.

    Args:
        allow_missing_hire: keep reps without ``hire_date`` (NaT; :func:`load_dataset` fills it
            from their first transaction); otherwise a missing hire date is an error.
    """
    own = problems is None
    problems = [] if own else problems
    notes = [] if notes is None else notes
    r = _read(Path(path), "reps", settings or {}, problems)
    if r is None:
        return _finish(own, problems, None, "reps")
    n0 = len(problems)
    _check_keys(r.df, SCHEMAS["reps"], r.path, r.first, problems)
    hire = _dates(r, "hire_date", problems, required=not allow_missing_hire)
    end = _dates(r, "end_date", problems, required=False)
    fte = _numeric(r, "fte", problems, required=False)
    if len(problems) > n0 or hire is None:
        return _finish(own, problems, None, "reps")
    out = pd.DataFrame(
        {
            "rep_id": as_label(r.df["rep_id"]),
            "name": r.df["name"].astype("string").fillna("").str.strip().astype("str"),
            "region": as_label(r.df["region"]),
        }
    )
    out["hire_date"] = hire
    out["end_date"] = (
        end if end is not None else pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    )
    out["fte"] = fte.fillna(1.0) if fte is not None else 1.0
    _region_moves(r, out, problems)
    bad_fte = (out["fte"] <= 0) | (out["fte"] > 1.5)
    if bad_fte.any():
        rows, n = _rows(bad_fte, out.index)
        problems.append(
            Problem(
                tr("{n} reps have an fte outside (0, 1.5]").format(n=n),
                file=str(r.path),
                column="fte",
                rows=rows,
                count=n,
                values=list(out.loc[bad_fte, "fte"].head(5)),
                fix=tr("fte is the share of a full-time job (1.0)."),
            )
        )
    before = out["end_date"].notna() & (out["end_date"] < out["hire_date"])
    if before.any():
        rows, n = _rows(before, out.index)
        problems.append(
            Problem(
                tr("{n} reps leave before they were hired").format(n=n),
                file=str(r.path),
                column="end_date",
                rows=rows,
                count=n,
                fix=tr("Correct hire_date or end_date."),
            )
        )
    dup = out["rep_id"].duplicated(keep=False)
    if dup.any():
        rows, n = _rows(dup, out.index)
        problems.append(
            Problem(
                tr("rep_id is not unique ({n} rows)").format(n=n),
                file=str(r.path),
                column="rep_id",
                rows=rows,
                count=n,
                values=sorted(out.loc[dup, "rep_id"].unique())[:5],
                fix=tr("Give each rep one row; a rep who moved region keeps the latest."),
            )
        )
    if len(problems) > n0:
        return _finish(own, problems, None, "reps")
    notes.extend(r.notes)
    out["_line"] = out.index.to_numpy()
    if not allow_missing_hire:
        out = out.drop(columns="_line")
    return out.reset_index(drop=True)


_MONTH_RE = re.compile(r"^\s*(\d{4})\s*(?:[-/.]|年)\s*(\d{1,2})\s*月?\s*$")


def _months(r: _Read, col: str, problems: list[Problem]) -> pd.Series | None:
    """A month column (YYYY-MM; a full date counts for its month), as the first day of the
    month; blank -> NaT. Unreadable values are a problem."""
    if col not in r.df.columns:
        return None
    raw = r.df[col]
    blank = blank_cells(raw)
    out = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(raw):
        out = _ns(raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) else raw)
    else:
        text = raw.astype("string").str.strip()
        m = text.str.extract(_MONTH_RE).astype("Float64")
        ok = m[0].notna() & m[1].between(1, 12).fillna(False) & ~blank
        ym = m[ok].astype(int)
        parts = pd.DataFrame({"year": ym[0], "month": ym[1], "day": 1}, index=ym.index)
        if len(parts):
            out[ok] = pd.to_datetime(parts, errors="coerce").astype("datetime64[ns]")
        rest = ~ok & ~blank & m[0].isna()
        if rest.any():  # full dates (2026-04-15, an Excel date): their month
            try:
                out[rest] = _to_date(raw[rest], r.settings.get("date_format"), r.excel)
            except _AmbiguousDates:
                pass  # left NaT: said below as not months
    out = out.dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]")
    bad = (out.isna() | (out < MIN_DATE) | (out > MAX_DATE)) & ~blank
    if bad.any():
        rows, n = _rows(bad, r.df.index)
        problems.append(
            Problem(
                tr("{n} values in {col} are not months").format(n=n, col=col),
                file=str(r.path),
                column=col,
                rows=rows,
                count=n,
                values=list(raw[bad].head(5)),
                fix=tr(
                    "Write {col} as YYYY-MM (the first month in the new region), e.g. 2026-04."
                ).format(col=col),
            )
        )
        out = out.where(~bad)
    return out


def _region_moves(r: _Read, out: pd.DataFrame, problems: list[Problem]) -> None:
    """The optional ``prev_region`` and ``region_from`` of a rep who changed region: both or
    neither (columns and cells), ``region_from`` a month, ``prev_region`` not the rep's
    ``region``. Adds both columns to ``out`` when the file has them (blank: no move);
    whether ``prev_region`` is a region of the transactions is checked across files
    (:func:`salesanalysis.data.rules.prev_region_mismatches`)."""
    cols = [c for c in ("prev_region", "region_from") if c in r.df.columns]
    if not cols:
        return
    if len(cols) == 1:
        other = ({"prev_region", "region_from"} - set(cols)).pop()
        problems.append(
            Problem(
                tr("the file has {col} but no {other} (a region move needs both)").format(
                    col=cols[0], other=other
                ),
                file=str(r.path),
                column=cols[0],
                fix=tr(
                    "Add the column region_from (YYYY-MM, the first month in the new region) "
                    "beside prev_region (the region before), or remove the column."
                ),
            )
        )
        return
    start = _months(r, "region_from", problems)
    blank_prev = blank_cells(r.df["prev_region"])
    prev = as_label(r.df["prev_region"]).where(~blank_prev)
    blank_from = blank_cells(r.df["region_from"])
    for bad, col, message in (
        (
            ~blank_prev & blank_from,
            "region_from",
            tr("{n} reps have a prev_region but no region_from"),
        ),
        (
            blank_prev & ~blank_from,
            "prev_region",
            tr("{n} reps have a region_from but no prev_region"),
        ),
        (
            ~blank_prev & prev.eq(out["region"]).fillna(False),
            "prev_region",
            tr("{n} reps have a prev_region equal to their region"),
        ),
    ):
        if bad.any():
            rows, n = _rows(bad, r.df.index)
            problems.append(
                Problem(
                    message.format(n=n),
                    file=str(r.path),
                    column=col,
                    rows=rows,
                    count=n,
                    values=sorted(out.loc[bad.to_numpy(), "rep_id"].unique())[:5],
                    fix=tr(
                        "A rep who changed region has both prev_region (the region before) and "
                        "region_from (YYYY-MM, the first month in region); leave both empty "
                        "otherwise."
                    ),
                )
            )
    out["prev_region"] = prev.astype(object).where(prev.notna(), None)
    out["region_from"] = start


_CN_PERIOD_RE = re.compile(r"^(\d{4})\s*年(?:\s*(\d{1,2})\s*月)?$")


@dataclass
class _Periods:
    """The market file's periods: normalised text, which are years, and the month of the
    others (NaT for years and unreadable periods)."""

    text: pd.Series
    is_year: pd.Series
    month: pd.Series


def read_market(
    path: Path,
    settings: dict[str, Any] | None = None,
    problems: list[Problem] | None = None,
    notes: list[str] | None = None,
) -> pd.DataFrame | None:
    """Read and validate the market-size file. Yearly rows are spread evenly over 12 months."""
    own = problems is None
    problems = [] if own else problems
    notes = [] if notes is None else notes
    r = _read(Path(path), "market", settings or {}, problems)
    if r is None:
        return _finish(own, problems, None, "market")
    n0 = len(problems)
    _check_keys(r.df, SCHEMAS["market"], r.path, r.first, problems)
    size = _numeric(r, "market_size", problems, required=True)
    periods = _market_periods(r, problems)
    _check_market_sizes(r, size, problems)
    if len(problems) > n0 or size is None:
        return _finish(own, problems, None, "market")
    df = pd.DataFrame(
        {
            "region": as_label(r.df["region"]),
            "product_line": as_label(r.df["product_line"]),
            "market_size": size,
            "month": periods.month,
            "_year": periods.text.where(periods.is_year),
            "_line": r.df.index.to_numpy(),
        },
        index=r.df.index,
    )
    df = _drop_repeated_market_rows(df, r.path, notes)
    _check_market_clashes(df, r.path, problems)
    yearly = df[df["_year"].notna().to_numpy()]
    monthly = df[df["_year"].isna().to_numpy()]
    _check_yearly_and_monthly(yearly, monthly, r.path, problems)
    if len(problems) > n0:
        return _finish(own, problems, None, "market")
    notes.extend(r.notes)
    return _spread_years(yearly, monthly, r.path, notes)


def _market_periods(r: _Read, problems: list[Problem]) -> _Periods:
    """Periods: a year (2025, 2025年) or a month (2025-03, 2025年3月, a date); others and
    periods before 1990 or after 2100 are problems."""
    raw_period = r.df["period"]
    if (
        pd.api.types.is_datetime64_any_dtype(raw_period)
        or raw_period.map(lambda v: isinstance(v, _dt.date)).any()
    ):
        raw_period = raw_period.map(lambda v: f"{v:%Y-%m}" if isinstance(v, _dt.date) else v)
    period = (
        raw_period.astype("string")
        .str.normalize("NFKC")
        .str.strip()
        .str.replace(r"\.0$", "", regex=True)
    )
    period = period.str.replace(
        _CN_PERIOD_RE, lambda m: m[1] + (f"-{int(m[2]):02d}" if m[2] else ""), regex=True
    )
    is_year = period.str.fullmatch(r"\d{4}").fillna(False)
    month = pd.to_datetime(period.where(~is_year), format="%Y-%m", errors="coerce")
    alt = pd.to_datetime(period.where(~is_year & month.isna()), format="ISO8601", errors="coerce")
    month = month.fillna(alt.dt.to_period("M").dt.to_timestamp())
    bad = ~is_year & month.isna()
    if bad.any():
        rows, n = _rows(bad, r.df.index)
        problems.append(
            Problem(
                tr("{n} periods are neither a year (2025) nor a month (2025-03)").format(n=n),
                file=str(r.path),
                column="period",
                rows=rows,
                count=n,
                values=list(r.df["period"][bad].head(5)),
                fix=tr("Use YYYY or YYYY-MM."),
            )
        )
    years = pd.to_numeric(period.where(is_year), errors="coerce")
    when = month.where(
        ~is_year,
        pd.to_datetime(years.astype("Int64").astype("string") + "-01-01", errors="coerce"),
    )
    odd = when.notna() & ((when < MIN_DATE) | (when > MAX_DATE))
    if odd.any():
        rows, n = _rows(odd, r.df.index)
        problems.append(
            Problem(
                tr("{n} periods are out of range (before 1990 or after 2100)").format(n=n),
                file=str(r.path),
                column="period",
                rows=rows,
                count=n,
                values=list(r.df["period"][odd].head(5)),
                fix=tr("Correct those periods."),
            )
        )
    return _Periods(period, is_year, month)


def _check_market_sizes(r: _Read, size: pd.Series | None, problems: list[Problem]) -> None:
    if size is not None and (size < 0).any():
        rows, n = _rows(size < 0, r.df.index)
        problems.append(
            Problem(
                tr("{n} market sizes are negative").format(n=n),
                file=str(r.path),
                column="market_size",
                rows=rows,
                count=n,
                fix=tr("Market size is the revenue of the whole market."),
            )
        )


def _market_key(df: pd.DataFrame) -> pd.Series:
    """``period|region|product_line`` of each market row (period: YYYY or YYYY-MM)."""
    return (
        df["_year"].fillna(df["month"].dt.strftime("%Y-%m"))
        + "|"
        + df["region"]
        + "|"
        + df["product_line"]
    )


def _drop_repeated_market_rows(df: pd.DataFrame, path: Path, notes: list[str]) -> pd.DataFrame:
    """Rows repeated with the same size count once (stated)."""
    same = df.assign(_k=_market_key(df)).duplicated(["_k", "market_size"])
    if not same.any():
        return df
    rows, n = _rows(same, df.index)
    notes.append(
        tr(
            "{file}: {n} repeated market rows (same period, region, product line and size) "
            "count once; lines {rows}."
        ).format(file=path.name, n=n, rows=rows)
    )
    return df[~same.to_numpy()]


def _check_market_clashes(df: pd.DataFrame, path: Path, problems: list[Problem]) -> None:
    """Rows repeated with different sizes are an error."""
    key = _market_key(df)
    clash = key.duplicated(keep=False)
    if clash.any():
        rows, n = _rows(clash, df.index)
        problems.append(
            Problem(
                tr(
                    "{n} rows give different market sizes for the same period, region "
                    "and product line"
                ).format(n=n),
                file=str(path),
                column="market_size",
                rows=rows,
                count=n,
                values=sorted(key[clash].str.replace("|", " ").unique())[:5],
                fix=tr("Keep one row per period, region and product line."),
            )
        )


def _check_yearly_and_monthly(
    yearly: pd.DataFrame, monthly: pd.DataFrame, path: Path, problems: list[Problem]
) -> None:
    """A year given both as a yearly row and as monthly rows is an error."""
    both = yearly.merge(
        monthly.assign(_year=monthly["month"].dt.strftime("%Y")),
        on=["_year", "region", "product_line"],
        suffixes=("", "_m"),
    )
    if len(both):
        rows = sorted(set(both["_line"].astype(int)) | set(both["_line_m"].astype(int)))
        problems.append(
            Problem(
                tr(
                    "{n} (year, region, product line) are given both as a yearly and as "
                    "monthly market size"
                ).format(n=both[["_year", "region", "product_line"]].drop_duplicates().shape[0]),
                file=str(path),
                column="period",
                rows=rows[:5],
                count=len(rows),
                values=sorted(
                    (both["_year"] + " " + both["region"] + " " + both["product_line"]).unique()
                )[:5],
                fix=tr("Give each year either one yearly row or its monthly rows."),
            )
        )


def _spread_years(
    yearly: pd.DataFrame, monthly: pd.DataFrame, path: Path, notes: list[str]
) -> pd.DataFrame:
    """Yearly sizes spread evenly over the 12 months of their year (stated); the normalised
    frame ``month, region, product_line, market_size``."""
    if len(yearly):
        notes.append(
            tr(
                "{file}: {n} yearly market sizes were spread evenly over the 12 months of their "
                "year."
            ).format(file=path.name, n=len(yearly))
        )
        rep = yearly.loc[yearly.index.repeat(12)].copy()
        rep["month"] = [
            pd.Timestamp(f"{y}-{k:02d}-01") for y in yearly["_year"] for k in range(1, 13)
        ]
        rep["market_size"] = rep["market_size"] / 12
        monthly = pd.concat([monthly, rep], ignore_index=True)
    out = monthly.groupby(["month", "region", "product_line"], as_index=False, sort=True)[
        "market_size"
    ].sum()
    out["month"] = out["month"].astype("datetime64[ns]")
    return out[["month", "region", "product_line", "market_size"]]


def _finish(own: bool, problems: list[Problem], value: Any, table: str) -> Any:
    if own and problems:
        raise InputError(
            tr("the {table} file has {n} problem(s)").format(table=table, n=len(problems)),
            problems,
        )
    return value


# --------------------------------------------------------------------------------------------
# the dataset


@dataclass
class Dataset:
    """Validated inputs of one company."""

    transactions: pd.DataFrame
    reps: pd.DataFrame
    market: pd.DataFrame
    plan: Any | None
    sources: dict[str, Path]
    notes: list[str] = field(default_factory=list)

    @property
    def first_month(self) -> pd.Period:
        return self.transactions["month"].min().to_period("M")

    @property
    def last_month(self) -> pd.Period:
        return self.transactions["month"].max().to_period("M")

    def input_hashes(self) -> dict[str, str]:
        return {str(p): sha256_file(p) for p in self.sources.values()}


def load_dataset(
    data_dir: Path | str, plan_file: Path | str | None = None, today: _dt.date | None = None
) -> Dataset:
    """Read and validate every input in ``data_dir`` (and the plan, when given).

    Args:
        today: transactions dated after it are an error (default: the real date).

    All problems in all files are collected and raised together as one :class:`InputError`.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(
            tr("the data folder {folder} does not exist").format(folder=data_dir),
            fix=tr("Pass --data with the folder that holds transactions, reps and market files."),
        )
    mapping = load_mapping(data_dir)
    problems: list[Problem] = []
    notes: list[str] = []
    paths: dict[str, Path] = {}
    frames: dict[str, pd.DataFrame | None] = {}
    readers = {
        "transactions": lambda p, s, pr, n: read_transactions(p, s, pr, n, today=today),
        "reps": lambda p, s, pr, n: read_reps(p, s, pr, n, allow_missing_hire=True),
        "market": read_market,
    }
    for table, reader in readers.items():
        try:
            path = find_input(data_dir, table, mapping)
            paths[table] = path
            frames[table] = reader(path, mapping.get(table, {}), problems, notes)
        except InputError as e:
            where = str(paths[table]) if table in paths else None
            message = e.message
            if where and message.startswith(where):
                message = tr("the file {what}").format(what=message[len(where) :].lstrip(": ："))
            problems.extend(
                [p if p.fix else Problem(**{**p.__dict__, "fix": e.fix}) for p in e.problems]
                or [Problem(message, file=where, fix=e.fix)]
            )
            frames[table] = None
    if frames.get("transactions") is not None and frames.get("reps") is not None:
        problems.extend(
            prev_region_mismatches(
                {"region": frames["transactions"]["region"].unique()}, frames["reps"], paths
            )
        )
        frames["reps"] = fill_hire_dates(
            frames["transactions"], frames["reps"], paths, problems, notes
        )
    if all(frames.get(t) is not None for t in readers) and not problems:
        cross_checks(
            frames["transactions"], frames["reps"], frames["market"], paths, problems, notes
        )
    plan = None
    if plan_file is not None:
        from salesanalysis.targets.plan import (
            load_plan,  # the plan module validates its own schema
        )

        plan_path = Path(plan_file)
        paths["plan"] = plan_path
        try:
            plan = load_plan(plan_path)
        except Exception as e:  # PlanError and friends: reported with the input problems
            from salesanalysis.errors import SalesAnalysisError

            if not isinstance(e, SalesAnalysisError):
                raise
            problems.append(Problem(e.message, file=str(plan_path), fix=e.fix))
            problems.extend(e.problems)
        if plan is not None and not problems:
            tx = frames["transactions"]
            problems.extend(
                plan_label_mismatches(
                    {c: tx[c].unique() for c in ("region", "product_line", "customer_type")},
                    plan,
                    plan_path,
                    paths["transactions"].name,
                )
            )
    if mapping:
        paths["mapping"] = data_dir / MAPPING_FILE
    if problems:
        files = sorted({p.file for p in problems if p.file})
        raise InputError(
            tr("{n} problem(s) in {files}").format(
                n=len(problems), files=", ".join(files) or data_dir
            ),
            problems,
        )

    tx = frames["transactions"].drop(columns="_line")
    reps = frames["reps"]
    if "_line" in reps.columns:
        reps = reps.drop(columns="_line")
    return Dataset(tx, reps, frames["market"], plan, paths, notes)


def iter_problems(err: InputError) -> Iterable[Problem]:  # pragma: no cover - convenience
    return iter(err.problems)
