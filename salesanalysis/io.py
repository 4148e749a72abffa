"""Read and validate the raw inputs: transactions, reps, market size (and the plan).

Readers accept CSV (UTF-8, UTF-8 with BOM, GBK/GB18030, UTF-16; comma, semicolon or tab),
Parquet and Excel. An optional ``mapping.yaml`` beside the data renames the company's own
column names to the contract's and sets encoding, delimiter, decimal and thousands separators,
date format, sheet and header row (see ``data/README.md``).

Every problem found is collected and reported at once (:class:`~salesanalysis.errors.InputError`)
with file, column, example rows and the fix. Input files are only ever opened for reading.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import io as _io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .errors import InputError, Problem

__all__ = [
    "SCHEMAS",
    "Dataset",
    "TableSpec",
    "find_input",
    "load_dataset",
    "load_mapping",
    "read_market",
    "read_reps",
    "read_table",
    "read_transactions",
    "sha256_file",
]

MAPPING_FILE = "mapping.yaml"
SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv", ".parquet", ".xlsx", ".xlsm", ".xls")
ENCODINGS = ("utf-8", "gb18030")  # gb18030 is a superset of GBK and GB2312


@dataclass(frozen=True)
class TableSpec:
    """Columns of one input table in the data contract."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()  # must not be empty
    numeric: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()  # at least one column of each group

    @property
    def columns(self) -> tuple[str, ...]:
        extra = tuple(c for g in self.one_of for c in g)
        return tuple(dict.fromkeys(self.required + extra + self.optional))


SCHEMAS: dict[str, TableSpec] = {
    "transactions": TableSpec(
        name="transactions",
        required=("date", "order_id", "customer_id", "customer_type", "region", "product_line",
                  "rep_id", "quantity"),
        optional=("product", "discount"),
        keys=("order_id", "customer_id", "customer_type", "region", "product_line", "rep_id"),
        numeric=("quantity", "unit_price", "revenue", "discount"),
        dates=("date",),
        one_of=(("unit_price", "revenue"),),
    ),
    "reps": TableSpec(
        name="reps",
        required=("rep_id", "name", "region", "hire_date"),
        optional=("end_date", "fte"),
        keys=("rep_id", "region"),
        numeric=("fte",),
        dates=("hire_date", "end_date"),
    ),
    "market": TableSpec(
        name="market",
        required=("period", "region", "product_line", "market_size"),
        keys=("region", "product_line"),
        numeric=("market_size",),
    ),
}


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# mapping file


_MAPPING_KEYS = {"file", "encoding", "delimiter", "decimal", "thousands", "date_format", "sheet",
                 "header_row", "columns"}


def load_mapping(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Read ``mapping.yaml`` in ``data_dir`` (empty mapping when there is none)."""
    path = Path(data_dir) / MAPPING_FILE
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {e}",
                         fix="Save mapping.yaml as UTF-8 and check its YAML syntax.") from None
    problems = []
    if not isinstance(raw, dict):
        raise InputError(f"{path} must be a mapping of table name to settings")
    for table, settings in raw.items():
        if table not in SCHEMAS:
            problems.append(Problem(f"unknown table '{table}'", file=str(path),
                                    fix=f"Use one of: {', '.join(SCHEMAS)}."))
            continue
        if not isinstance(settings, dict):
            problems.append(Problem(f"settings for '{table}' must be a mapping", file=str(path)))
            continue
        for key in settings:
            if key not in _MAPPING_KEYS:
                problems.append(Problem(f"unknown setting '{table}.{key}'", file=str(path),
                                        fix=f"Allowed settings: {', '.join(sorted(_MAPPING_KEYS))}."))
        cols = settings.get("columns", {}) or {}
        if not isinstance(cols, dict):
            problems.append(Problem(f"'{table}.columns' must map your column names to contract names",
                                    file=str(path)))
            continue
        for src, dst in cols.items():
            if dst not in SCHEMAS[table].columns:
                problems.append(Problem(
                    f"'{table}.columns' maps '{src}' to unknown contract column '{dst}'",
                    file=str(path), fix=f"Contract columns: {', '.join(SCHEMAS[table].columns)}."))
    if problems:
        raise InputError(f"the mapping file {path} is invalid", problems)
    return {k: dict(v) for k, v in raw.items()}


# --------------------------------------------------------------------------------------------
# raw readers


def find_input(data_dir: Path, table: str, mapping: dict[str, Any] | None = None) -> Path:
    """Locate the file for ``table`` in ``data_dir`` (``<table>.csv|parquet|xlsx`` or the
    mapping's ``file``)."""
    data_dir = Path(data_dir)
    settings = (mapping or {}).get(table, {})
    if settings.get("file"):
        path = data_dir / settings["file"]
        if not path.exists():
            raise InputError(f"the {table} file '{path}' named in {MAPPING_FILE} does not exist",
                             fix=f"Correct '{table}.file' in {data_dir / MAPPING_FILE}.")
        return path
    found = [data_dir / f"{table}{s}" for s in SUFFIXES if (data_dir / f"{table}{s}").exists()]
    if not found:
        raise InputError(
            f"no {table} file in {data_dir}",
            fix=f"Put {table}.csv (or .parquet / .xlsx) there, or name the file as "
                f"'{table}: {{file: ...}}' in {MAPPING_FILE}.")
    if len(found) > 1:
        raise InputError(f"several {table} files in {data_dir}: {', '.join(p.name for p in found)}",
                         fix="Keep one, or name the one to use in mapping.yaml.")
    return found[0]


def _decode(raw: bytes, encoding: str | None, path: Path) -> str:
    if encoding:
        try:
            return raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as e:
            raise InputError(f"{path} cannot be read as {encoding}: {e}",
                             fix="Set the right 'encoding' for this file in mapping.yaml "
                                 "(utf-8, gbk, gb18030, utf-16).") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8", errors="strict")
    for enc in ENCODINGS:
        try:
            return raw.decode(enc)
        except UnicodeDecodeError:
            continue
    raise InputError(f"{path} is neither UTF-8 nor GBK/GB18030 text",
                     fix="Export it as UTF-8 CSV, or set 'encoding' in mapping.yaml.")


def _sniff_delimiter(text: str) -> str:
    head = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
    except csv.Error:
        counts = {d: head.count(d) for d in ",;\t|"}
        return max(counts, key=counts.get)


def read_table(path: Path, settings: dict[str, Any] | None = None) -> tuple[pd.DataFrame, int]:
    """Read one raw table as strings/values, unvalidated.

    Returns:
        The frame and the file line (or sheet row) number of its first data row, so that
        problems can be reported by the row numbers a person sees in the file.
    """
    settings = settings or {}
    path = Path(path)
    name = path.name.lower()
    header_row = int(settings.get("header_row", 1))  # 1-based line of the header
    if name.endswith(".parquet"):
        try:
            df = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises many types
            raise InputError(f"{path} is not a readable Parquet file: {e}") from None
        return df, 2
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        return _read_excel(path, settings)
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty", fix="Export the data again; the file has no header.")
    raw = path.read_bytes()
    if name.endswith(".gz"):
        import gzip

        raw = gzip.decompress(raw)
    text = _decode(raw, settings.get("encoding"), path)
    lines = text.splitlines()
    if header_row > 1:
        text = "\n".join(lines[header_row - 1:])
    if not text.strip():
        raise InputError(f"{path} is empty", fix="Export the data again; the file has no header.")
    sep = settings.get("delimiter") or _sniff_delimiter(text)
    try:
        df = pd.read_csv(_io.StringIO(text), sep=sep, dtype=str, keep_default_na=False,
                         na_values=[""], skipinitialspace=True)
    except pd.errors.ParserError as e:
        raise InputError(f"{path} is not a well-formed table: {e}",
                         fix="Check the delimiter and quoting (set 'delimiter' in mapping.yaml).") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df, header_row + 1


def _read_excel(path: Path, settings: dict[str, Any]) -> tuple[pd.DataFrame, int]:
    try:
        book = pd.ExcelFile(path)
    except Exception as e:
        raise InputError(f"{path} is not a readable Excel file: {e}") from None
    sheet = settings.get("sheet")
    if sheet is None:
        if len(book.sheet_names) > 1:
            # take the first sheet that looks like it holds the table
            sheet = book.sheet_names[0]
        else:
            sheet = book.sheet_names[0]
    elif sheet not in book.sheet_names:
        raise InputError(f"{path} has no sheet '{sheet}'",
                         fix=f"Sheets in the file: {', '.join(map(str, book.sheet_names))}.")
    raw = pd.read_excel(book, sheet_name=sheet, header=None, dtype=object)
    if "header_row" in settings:
        hdr = int(settings["header_row"]) - 1
    else:
        hdr = _guess_header_row(raw)
    df = raw.iloc[hdr + 1:].reset_index(drop=True)
    df.columns = [str(c).strip() for c in raw.iloc[hdr]]
    df = df.dropna(how="all")
    return df, hdr + 2


def _guess_header_row(raw: pd.DataFrame) -> int:
    """The first row whose cells are mostly filled text: title rows above it are skipped."""
    width = raw.shape[1]
    for i in range(min(len(raw), 30)):
        row = raw.iloc[i]
        filled = row.notna().sum()
        texts = sum(isinstance(v, str) for v in row)
        if filled >= max(2, 0.6 * width) and texts >= 0.6 * filled:
            return i
    return 0


# --------------------------------------------------------------------------------------------
# validation helpers


def _rows(mask: pd.Series | np.ndarray, first_line: int) -> tuple[list[int], int]:
    idx = np.flatnonzero(np.asarray(mask))
    return [int(i) + first_line for i in idx[:5]], int(len(idx))


def _to_number(s: pd.Series, decimal: str | None, thousands: str | None) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s):
        return s.astype("float64")
    t = s.astype("string").str.strip()
    t = t.str.replace("\u00a0", "", regex=False).str.replace(" ", "", regex=False)
    if thousands:
        t = t.str.replace(thousands, "", regex=False)
    if decimal and decimal != ".":
        t = t.str.replace(decimal, ".", regex=False)
    elif not thousands:
        # 1,234.50 style thousands separators are removed when a dot is also the decimal mark
        t = t.where(~t.str.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?").fillna(False),
                    t.str.replace(",", "", regex=False))
    return pd.to_numeric(t, errors="coerce").astype("float64")


def _to_date(s: pd.Series, fmt: str | None) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.astype("datetime64[ns]")
    if fmt:
        out = pd.to_datetime(s, format=fmt, errors="coerce")
    else:
        out = pd.to_datetime(s, format="ISO8601", errors="coerce")
        bad = out.isna() & s.notna()
        if bad.any():
            alt = pd.to_datetime(s[bad], format="mixed", errors="coerce", dayfirst=False)
            out = out.where(~bad, alt)
    return out.astype("datetime64[ns]")


def _rename(df: pd.DataFrame, spec: TableSpec, settings: dict[str, Any], path: Path,
            problems: list[Problem]) -> pd.DataFrame:
    mapping = settings.get("columns", {}) or {}
    df = df.rename(columns={k: v for k, v in mapping.items() if k in df.columns})
    df = df.rename(columns={c: c.strip().lower() for c in df.columns if c.strip().lower() in spec.columns})
    missing = [c for c in spec.required if c not in df.columns]
    for group in spec.one_of:
        if not any(c in df.columns for c in group):
            missing.append(" or ".join(group))
    for col in missing:
        unknown = [c for c in df.columns if c not in spec.columns]
        guess = difflib.get_close_matches(col, unknown, n=1, cutoff=0.6)
        fix = (f"Rename column '{guess[0]}' to '{col}', or map it in mapping.yaml "
               f"('{spec.name}: {{columns: {{{guess[0]}: {col}}}}}')." if guess else
               f"Add the column, or map your own column name to '{col}' in mapping.yaml.")
        problems.append(Problem(f"required column '{col}' is missing (columns found: "
                                f"{', '.join(map(str, df.columns))})", file=str(path), fix=fix))
    return df


def _check_keys(df: pd.DataFrame, spec: TableSpec, path: Path, first: int,
                problems: list[Problem]) -> None:
    for col in spec.keys:
        if col not in df.columns:
            continue
        blank = df[col].isna() | (df[col].astype("string").str.strip() == "")
        if blank.any():
            rows, n = _rows(blank, first)
            problems.append(Problem(f"{n} rows have an empty {col}", file=str(path), column=col,
                                    rows=rows, count=n, fix=f"Fill in {col} on those rows or remove them."))


def _as_label(s: pd.Series) -> pd.Series:
    out = s.astype("string").str.strip()
    # ids exported as numbers come back as '123.0' from Excel; keep them as '123'
    out = out.str.replace(r"^(-?\d+)\.0$", r"\1", regex=True)
    return out.fillna("").astype(str)


# --------------------------------------------------------------------------------------------
# table readers


@dataclass
class _Read:
    df: pd.DataFrame
    path: Path
    first: int
    settings: dict[str, Any]


def _read(path: Path, table: str, settings: dict[str, Any], problems: list[Problem]) -> _Read | None:
    spec = SCHEMAS[table]
    df, first = read_table(path, settings)
    df = _rename(df, spec, settings, path, problems)
    if any(p.file == str(path) and "is missing" in p.message for p in problems):
        return None
    if len(df) == 0:
        problems.append(Problem("the file has a header but no rows", file=str(path),
                                fix=f"Export the {table} data again with its rows."))
        return None
    return _Read(df.reset_index(drop=True), path, first, settings)


def _numeric(r: _Read, col: str, problems: list[Problem], *, required: bool) -> pd.Series | None:
    if col not in r.df.columns:
        return None
    raw = r.df[col]
    num = _to_number(raw, r.settings.get("decimal"), r.settings.get("thousands"))
    blank = raw.isna() | (raw.astype("string").str.strip() == "")
    bad = num.isna() & ~blank
    if bad.any():
        rows, n = _rows(bad, r.first)
        problems.append(Problem(f"{n} values in {col} are not numbers", file=str(r.path), column=col,
                                rows=rows, count=n, values=list(raw[bad].head(5)),
                                fix="Use plain numbers (set 'decimal'/'thousands' in mapping.yaml "
                                    "for 1.234,50 style)."))
    if required and blank.any():
        rows, n = _rows(blank, r.first)
        problems.append(Problem(f"{n} rows have no {col}", file=str(r.path), column=col, rows=rows,
                                count=n, fix=f"Fill in {col} on those rows."))
    return num


def _dates(r: _Read, col: str, problems: list[Problem], *, required: bool) -> pd.Series | None:
    if col not in r.df.columns:
        return None
    raw = r.df[col]
    d = _to_date(raw, r.settings.get("date_format"))
    blank = raw.isna() | (raw.astype("string").str.strip() == "")
    bad = d.isna() & ~blank
    if bad.any():
        rows, n = _rows(bad, r.first)
        problems.append(Problem(f"{n} values in {col} are not dates", file=str(r.path), column=col,
                                rows=rows, count=n, values=list(raw[bad].head(5)),
                                fix="Use YYYY-MM-DD, or set 'date_format' in mapping.yaml "
                                    "(e.g. '%d.%m.%Y')."))
    out_of_range = d.notna() & ((d < pd.Timestamp("1990-01-01")) | (d > pd.Timestamp("2100-01-01")))
    if out_of_range.any():
        rows, n = _rows(out_of_range, r.first)
        problems.append(Problem(f"{n} dates in {col} are out of range (before 1990 or after 2100)",
                                file=str(r.path), column=col, rows=rows, count=n,
                                values=list(raw[out_of_range].head(5)), fix="Correct those dates."))
    if required and blank.any():
        rows, n = _rows(blank, r.first)
        problems.append(Problem(f"{n} rows have no {col}", file=str(r.path), column=col, rows=rows,
                                count=n, fix=f"Fill in {col} on those rows."))
    return d


def read_transactions(path: Path, settings: dict[str, Any] | None = None,
                      problems: list[Problem] | None = None, notes: list[str] | None = None
                      ) -> pd.DataFrame | None:
    """Read and validate the transactions file into the normalised frame.

    Returns None when problems were found (they are appended to ``problems``); raises
    :class:`InputError` when called without a ``problems`` list.
    """
    own = problems is None
    problems = [] if own else problems
    notes = [] if notes is None else notes
    r = _read(Path(path), "transactions", settings or {}, problems)
    if r is None:
        return _finish(own, problems, None, "transactions")
    n0 = len(problems)
    spec = SCHEMAS["transactions"]
    _check_keys(r.df, spec, r.path, r.first, problems)
    date = _dates(r, "date", problems, required=True)
    qty = _numeric(r, "quantity", problems, required=True)
    price = _numeric(r, "unit_price", problems, required=False)
    rev = _numeric(r, "revenue", problems, required=False)
    disc = _numeric(r, "discount", problems, required=False)
    if disc is not None:
        if ((disc < 0) | (disc >= 1)).any():
            bad = (disc < 0) | (disc >= 1)
            rows, n = _rows(bad, r.first)
            problems.append(Problem(f"{n} discounts are outside [0, 1)", file=str(r.path),
                                    column="discount", rows=rows, count=n,
                                    values=list(r.df["discount"][bad].head(5)),
                                    fix="Give discounts as fractions (0.05 for 5%)."))
        disc = disc.fillna(0.0)
    if rev is None and price is not None:
        blank = price.isna()
        if blank.any():
            rows, n = _rows(blank, r.first)
            problems.append(Problem(f"{n} rows have no unit_price (and there is no revenue column)",
                                    file=str(r.path), column="unit_price", rows=rows, count=n,
                                    fix="Fill in unit_price, or add a revenue column."))
    elif rev is not None:
        blank = rev.isna() & (price.isna() if price is not None else True)
        if np.asarray(blank).any():
            rows, n = _rows(blank, r.first)
            problems.append(Problem(f"{n} rows have no revenue", file=str(r.path), column="revenue",
                                    rows=rows, count=n, fix="Fill in revenue on those rows."))
    if len(problems) > n0:
        return _finish(own, problems, None, "transactions")

    out = pd.DataFrame({
        "date": date,
        "month": date.dt.to_period("M").dt.to_timestamp().astype("datetime64[ns]"),
    })
    for col in ("order_id", "customer_id", "customer_type", "region", "product_line", "rep_id"):
        out[col] = _as_label(r.df[col])
    out["quantity"] = qty
    out["unit_price"] = price if price is not None else np.nan
    if rev is None:
        rev = qty * price * (1 - (disc if disc is not None else 0.0))
    elif price is not None:
        rev = rev.fillna(qty * price * (1 - (disc if disc is not None else 0.0)))
    out["revenue"] = rev.astype("float64")
    if out["unit_price"].isna().all():
        out["unit_price"] = (out["revenue"] / out["quantity"].where(out["quantity"] != 0)).astype("float64")
    if "product" in r.df.columns:
        out["product"] = _as_label(r.df["product"])
    if disc is not None:
        out["discount"] = disc
    # exact duplicate lines: keep one, say so
    dup = out.duplicated(keep="first")
    if dup.any():
        rows, n = _rows(dup, r.first)
        notes.append(f"{r.path.name}: {n} exact duplicate order lines were dropped (rule: identical "
                     f"lines on every column count once); first at lines {rows}.")
        out = out[~dup]
    n_ret = int((out["quantity"] < 0).sum() + ((out["quantity"] >= 0) & (out["revenue"] < 0)).sum())
    if n_ret:
        notes.append(f"{r.path.name}: {n_ret} return lines (negative quantity or revenue) are netted "
                     "against sales in their month.")
    out["_line"] = out.index.to_numpy() + r.first
    return out.reset_index(drop=True)


def read_reps(path: Path, settings: dict[str, Any] | None = None,
              problems: list[Problem] | None = None, notes: list[str] | None = None
              ) -> pd.DataFrame | None:
    """Read and validate the reps file."""
    own = problems is None
    problems = [] if own else problems
    r = _read(Path(path), "reps", settings or {}, problems)
    if r is None:
        return _finish(own, problems, None, "reps")
    n0 = len(problems)
    _check_keys(r.df, SCHEMAS["reps"], r.path, r.first, problems)
    hire = _dates(r, "hire_date", problems, required=True)
    end = _dates(r, "end_date", problems, required=False)
    fte = _numeric(r, "fte", problems, required=False)
    if len(problems) > n0:
        return _finish(own, problems, None, "reps")
    out = pd.DataFrame({"rep_id": _as_label(r.df["rep_id"]), "name": r.df["name"].astype("string")
                        .fillna("").astype("str"), "region": _as_label(r.df["region"])})
    out["hire_date"] = hire
    out["end_date"] = end if end is not None else pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    out["fte"] = fte.fillna(1.0) if fte is not None else 1.0
    bad_fte = (out["fte"] <= 0) | (out["fte"] > 1.5)
    if bad_fte.any():
        rows, n = _rows(bad_fte, r.first)
        problems.append(Problem(f"{n} reps have an fte outside (0, 1.5]", file=str(r.path), column="fte",
                                rows=rows, count=n, fix="fte is the share of a full-time job (1.0)."))
    before = out["end_date"].notna() & (out["end_date"] < out["hire_date"])
    if before.any():
        rows, n = _rows(before, r.first)
        problems.append(Problem(f"{n} reps leave before they were hired", file=str(r.path),
                                column="end_date", rows=rows, count=n, fix="Correct hire_date or end_date."))
    dup = out["rep_id"].duplicated(keep=False)
    if dup.any():
        rows, n = _rows(dup, r.first)
        problems.append(Problem(f"rep_id is not unique ({n} rows)", file=str(r.path), column="rep_id",
                                rows=rows, count=n, values=sorted(out.loc[dup, "rep_id"].unique())[:5],
                                fix="Give each rep one row; a rep who moved region keeps the latest."))
    if len(problems) > n0:
        return _finish(own, problems, None, "reps")
    return out.reset_index(drop=True)


def read_market(path: Path, settings: dict[str, Any] | None = None,
                problems: list[Problem] | None = None, notes: list[str] | None = None
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
    period = r.df["period"].astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    is_year = period.str.fullmatch(r"\d{4}").fillna(False)
    month = pd.to_datetime(period.where(~is_year), format="%Y-%m", errors="coerce")
    alt = pd.to_datetime(period.where(~is_year & month.isna()), format="ISO8601", errors="coerce")
    month = month.fillna(alt.dt.to_period("M").dt.to_timestamp())
    bad = ~is_year & month.isna()
    if bad.any():
        rows, n = _rows(bad, r.first)
        problems.append(Problem(f"{n} periods are neither a year (2025) nor a month (2025-03)",
                                file=str(r.path), column="period", rows=rows, count=n,
                                values=list(r.df["period"][bad].head(5)), fix="Use YYYY or YYYY-MM."))
    if size is not None and (size < 0).any():
        rows, n = _rows(size < 0, r.first)
        problems.append(Problem(f"{n} market sizes are negative", file=str(r.path), column="market_size",
                                rows=rows, count=n, fix="Market size is the revenue of the whole market."))
    if len(problems) > n0:
        return _finish(own, problems, None, "market")
    df = pd.DataFrame({"region": _as_label(r.df["region"]), "product_line": _as_label(r.df["product_line"]),
                       "market_size": size, "month": month, "_year": period.where(is_year)})
    yearly = df[is_year.to_numpy()]
    monthly = df[~is_year.to_numpy()]
    if len(yearly):
        notes.append(f"{r.path.name}: {len(yearly)} yearly market sizes were spread evenly over the "
                     "12 months of their year.")
        rep = yearly.loc[yearly.index.repeat(12)].copy()
        rep["month"] = [pd.Timestamp(f"{y}-{k:02d}-01") for y in yearly["_year"] for k in range(1, 13)]
        rep["market_size"] = rep["market_size"] / 12
        monthly = pd.concat([monthly, rep], ignore_index=True)
    out = (monthly.groupby(["month", "region", "product_line"], as_index=False, sort=True)["market_size"].sum())
    dup = monthly.duplicated(["month", "region", "product_line"])
    if dup.any():
        notes.append(f"{r.path.name}: {int(dup.sum())} repeated (period, region, product_line) rows were "
                     "added together.")
    out["month"] = out["month"].astype("datetime64[ns]")
    return out[["month", "region", "product_line", "market_size"]]


def _finish(own: bool, problems: list[Problem], value: Any, table: str) -> Any:
    if own and problems:
        raise InputError(f"the {table} file has {len(problems)} problem(s)", problems)
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


def _cross_checks(tx: pd.DataFrame, reps: pd.DataFrame, market: pd.DataFrame,
                  paths: dict[str, Path], problems: list[Problem], notes: list[str]) -> None:
    tpath = str(paths["transactions"])
    unknown = ~tx["rep_id"].isin(set(reps["rep_id"]))
    if unknown.any():
        ids = sorted(tx.loc[unknown, "rep_id"].unique())
        problems.append(Problem(
            f"{unknown.sum()} lines name {len(ids)} rep_id(s) that are not in {paths['reps'].name}",
            file=tpath, column="rep_id", rows=list(tx.loc[unknown, "_line"].head(5)), count=int(unknown.sum()),
            values=ids[:5], fix=f"Add those reps to {paths['reps'].name} (with hire_date), or correct the "
                                "rep_id on those lines."))
    known_regions = set(reps["region"]) | set(market["region"])
    unknown = ~tx["region"].isin(known_regions)
    if unknown.any():
        vals = sorted(tx.loc[unknown, "region"].unique())
        problems.append(Problem(
            f"{unknown.sum()} lines have region(s) found neither in {paths['reps'].name} nor in "
            f"{paths['market'].name}", file=tpath, column="region",
            rows=list(tx.loc[unknown, "_line"].head(5)), count=int(unknown.sum()), values=vals[:5],
            fix="Correct the spelling of the region (labels must match across files exactly), or map "
                "it in mapping.yaml."))
    unknown_pl = ~tx["product_line"].isin(set(market["product_line"]))
    if unknown_pl.any():
        vals = sorted(tx.loc[unknown_pl, "product_line"].unique())
        notes.append(f"{paths['transactions'].name}: product line(s) {vals[:5]} have no market size; "
                     "their market share is not computed.")
    # lines outside a rep's employment
    r = reps.set_index("rep_id")
    known = tx["rep_id"].isin(r.index)
    hire = tx.loc[known, "rep_id"].map(r["hire_date"]).dt.to_period("M").dt.to_timestamp()
    end = tx.loc[known, "rep_id"].map(r["end_date"])
    outside = (tx.loc[known, "month"] < hire) | (end.notna() & (tx.loc[known, "date"] > end + pd.offsets.MonthEnd(0)))
    if outside.any():
        notes.append(f"{paths['transactions'].name}: {int(outside.sum())} lines are booked to a rep outside "
                     "their hire_date/end_date; they are kept as booked.")


def load_dataset(data_dir: Path | str, plan_file: Path | str | None = None) -> Dataset:
    """Read and validate every input in ``data_dir`` (and the plan, when given).

    All problems in all files are collected and raised together as one :class:`InputError`.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"the data folder {data_dir} does not exist",
                         fix="Pass --data with the folder that holds transactions, reps and market files.")
    mapping = load_mapping(data_dir)
    problems: list[Problem] = []
    notes: list[str] = []
    paths: dict[str, Path] = {}
    frames: dict[str, pd.DataFrame | None] = {}
    readers = {"transactions": read_transactions, "reps": read_reps, "market": read_market}
    for table, reader in readers.items():
        try:
            path = find_input(data_dir, table, mapping)
            paths[table] = path
            frames[table] = reader(path, mapping.get(table, {}), problems, notes)
        except InputError as e:
            problems.extend(e.problems or [Problem(e.message, fix=e.fix)])
            frames[table] = None
    if all(frames.get(t) is not None for t in readers) and not problems:
        _cross_checks(frames["transactions"], frames["reps"], frames["market"], paths, problems, notes)
    plan = None
    if plan_file is not None:
        from .plan import load_plan  # the plan module validates its own schema

        plan_path = Path(plan_file)
        paths["plan"] = plan_path
        try:
            plan = load_plan(plan_path)
        except Exception as e:  # PlanError and friends: reported with the input problems
            from .errors import SalesAnalysisError

            if not isinstance(e, SalesAnalysisError):
                raise
            problems.append(Problem(e.message, file=str(plan_path), fix=e.fix))
            problems.extend(e.problems)
    if mapping:
        paths["mapping"] = data_dir / MAPPING_FILE
    if problems:
        files = sorted({p.file for p in problems if p.file})
        raise InputError(f"{len(problems)} problem(s) in {', '.join(files) or data_dir}", problems)
    tx = frames["transactions"].drop(columns="_line")
    return Dataset(tx, frames["reps"], frames["market"], plan, paths, notes)


def iter_problems(err: InputError) -> Iterable[Problem]:  # pragma: no cover - convenience
    return iter(err.problems)
