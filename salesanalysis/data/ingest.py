"""Fast ingestion: the raw transactions file straight to the cube, customer cube and order counts.

The pandas readers in :mod:`salesanalysis.data.readers` turn every order line into Python-level strings
before the cube is built; for tens of millions of lines that costs minutes and gigabytes. This
module reads the file with Apache Arrow's multi-threaded CSV/Parquet readers into typed columns
(labels dictionary-encoded: one small integer per line), validates it column by column and
builds both cubes with vectorised numpy on integer codes, without one Python object per line.

The user sees no difference but speed. The fast path only *accepts* a file when it can prove
that the pandas readers would read it without a single problem and to the same values:

* plain UTF-8 (BOM allowed) CSV/TXT/TSV (also gzipped) or Parquet, no ``decimal``,
  ``thousands``, ``date_format``, ``encoding`` other than UTF-8, ``header_row`` or Excel;
* the header passes the same column checks (``io``'s own renaming and mapping rules);
* every number is a plain number (no thousands separators, currency, NaN or infinity),
  every date is ISO ``YYYY-MM-DD`` (optionally with a time) between 1990 and today,
  no key is empty, blank or a null marker, discounts are in [0, 1), revenue or unit price is
  there for every line;
* the reps and market files (always read by the pandas readers: they are small) are valid and
  every rep_id and region of the transactions is known.

Anything else - a problem to report, an unusual format - is handed to the pandas path, which
produces exactly the detailed error (or the result) a user gets today. Rows identical on every
column are kept (one row per item sold) or, with ``duplicates: drop_exact`` in mapping.yaml,
dropped, and stated either way; returns netted, gaps noted, with the same notes as the pandas
readers. A file with a ``line_id`` column is read by the pandas readers.

    ing = load_cubes("data/acme", "data/acme/plan.yaml")
    ing.engine        # "arrow" or "pandas"
    ing.reason        # why the pandas path was used ('' on the fast path)
    ing.cube, ing.customers, ing.orders, ing.notes

Measured on 10 million generated lines (``benchmarks/ingest.py``): 1.8-2.1x (CSV) and 2.5-2.6x
(Parquet) faster than a plain ``read_csv`` + ``groupby``, 12-14x faster than the pandas readers
of this package, peak memory 1.5-1.8 GB against 3.9 GB and 5-7.7 GB.
"""

from __future__ import annotations

import csv
import datetime as _dt
import gzip
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from salesanalysis.data import readers as io
from salesanalysis.data.contract import MAX_AMOUNT, MAX_DATE, MIN_DATE
from salesanalysis.data.cube import (
    build_cube,
    build_customer_cube,
    build_order_counts,
    build_product_cube,
)
from salesanalysis.data.mapping import duplicates_rule
from salesanalysis.data.rules import (
    as_label,
    blank_cells,
    discount_outside,
    fill_hire_dates,
    gaps_note,
    identical_rows_note,
    is_return,
    label_mismatches,
    line_revenue,
    no_market_note,
    outside_employment_note,
    plan_label_mismatches,
    plan_product_mismatches,
    prev_region_mismatches,
    rename,
    returns_note,
    sniff_delimiter,
)
from salesanalysis.errors import InputError, Problem
from salesanalysis.i18n import tr
from salesanalysis.untrusted import (
    MAX_LABEL_CHARS,
    LimitedInput,
    check_packed_input,
    open_input,
)

__all__ = ["Engine", "Ingested", "load_cubes", "pandas_cubes"]

log = logging.getLogger(__name__)

Engine = Literal["auto", "arrow", "pandas"]
LABELS = ("order_id", "customer_id", "customer_type", "region", "product_line", "rep_id")
NUMBERS = ("quantity", "unit_price", "revenue", "discount")
_CSV_SUFFIXES = (".csv", ".txt", ".tsv", ".csv.gz")
_NS_PER_DAY = 86_400 * 10**9


@dataclass
class Ingested:
    """Validated inputs reduced to what the run needs: the two cubes, reps, market, plan."""

    cube: pd.DataFrame
    customers: pd.DataFrame
    orders: pd.DataFrame  # whole orders per month x region x customer_type x rep_id
    reps: pd.DataFrame
    market: pd.DataFrame
    plan: Any | None
    sources: dict[str, Path]
    notes: list[str]
    n_lines: int  # transaction lines counted (after the duplicates rule)
    first_month: pd.Period
    last_date: pd.Timestamp
    lines_per_month: pd.Series  # index: month (Timestamp), value: lines
    engine: str = "pandas"  # "arrow" or "pandas"
    reason: str = ""  # why the pandas path was used
    seconds: dict[str, float] = field(default_factory=dict)
    first_date: pd.Timestamp | None = None  # the earliest transaction date
    products: pd.DataFrame | None = None  # month x product_line x product (build_product_cube)


class _Decline(Exception):
    """The fast path cannot vouch for this input: use the pandas path."""


# --------------------------------------------------------------------------------------------
# public entry points


def pandas_cubes(
    data_dir: Path | str,
    plan_file: Path | str | None = None,
    today: _dt.date | None = None,
    reason: str = "",
) -> Ingested:
    """The reference path: :func:`io.load_dataset` and the pandas cube builders."""
    ds = io.load_dataset(data_dir, plan_file, today=today)
    tx = ds.transactions
    per_month = tx.groupby("month").size()
    per_month.index = pd.DatetimeIndex(per_month.index, name="month")
    ing = Ingested(
        build_cube(tx),
        build_customer_cube(tx),
        build_order_counts(tx),
        ds.reps,
        ds.market,
        ds.plan,
        ds.sources,
        list(ds.notes),
        int(len(tx)),
        ds.first_month,
        pd.Timestamp(tx["date"].max()),
        per_month.astype("int64"),
        "pandas",
        reason,
        first_date=pd.Timestamp(tx["date"].min()),
        products=build_product_cube(tx),
    )
    return _check_plan_products(ing, plan_file)


def load_cubes(
    data_dir: Path | str,
    plan_file: Path | str | None = None,
    today: _dt.date | None = None,
    engine: Engine = "auto",
) -> Ingested:
    """Read and validate the inputs and build the cube and the customer cube.

    Args:
        today: transactions dated after it are an error (default: the real date).
        engine: ``auto`` tries the Arrow path and falls back to pandas whenever it cannot
            vouch for the file (always the same result or error); ``pandas`` forces the
            reference path; ``arrow`` raises ``ValueError`` instead of falling back (tests).

    Raises:
        InputError / PlanError: exactly as :func:`io.load_dataset` does.
    """
    if engine not in ("auto", "arrow", "pandas"):
        raise ValueError(f"engine must be auto, arrow or pandas, not {engine!r}")
    if engine == "pandas":
        return pandas_cubes(data_dir, plan_file, today, reason="engine=pandas")
    try:
        return _check_plan_products(_fast(Path(data_dir), plan_file, today), plan_file)
    except _Decline as d:
        if engine == "arrow":
            raise ValueError(f"fast path declined: {d}") from None
        log.info("reading with the pandas readers: %s", d)
        return pandas_cubes(data_dir, plan_file, today, reason=str(d))


def _check_plan_products(ing: Ingested, plan_file: Path | str | None) -> Ingested:
    """A product strategy naming a product the transactions do not sell in its product line is
    an error (when the transactions name products)."""
    if ing.plan is None or not plan_file:
        return ing
    tx_name = Path(ing.sources["transactions"]).name
    problems = plan_product_mismatches(ing.products, ing.plan, Path(plan_file), tx_name)
    if problems:
        raise InputError(tr("The plan names products the data does not have"), problems)
    return ing


# --------------------------------------------------------------------------------------------
# reading the transactions file with Arrow


def _head_text(path: Path, n_bytes: int = 1 << 16) -> str:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read(n_bytes)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _Decline("UTF-16 file")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    if len(raw) == n_bytes and b"\n" in raw:  # do not cut a character in two
        raw = raw[: raw.rfind(b"\n") + 1]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Decline("not UTF-8 text") from None


def _csv_header(path: Path, settings: dict[str, Any]) -> tuple[list[str], str]:
    text = _head_text(path)
    if not text.strip():
        raise _Decline("empty file")
    sep = settings.get("delimiter") or sniff_delimiter(text)
    if len(sep) != 1:
        raise _Decline(f"delimiter {sep!r}")
    first = text.splitlines()[0] if text else ""
    header = next(csv.reader([first], delimiter=sep), [])
    names = [h.strip() for h in header]
    if not names or any(not n for n in names) or len(set(names)) != len(names):
        raise _Decline("header with empty or repeated names")
    if any(n.endswith(".0") and n[:-2].isdigit() for n in names):
        raise _Decline("numeric header labels")
    return header, sep


def _columns(names: list[str], settings: dict[str, Any], path: Path) -> dict[str, str]:
    """Raw column name -> contract column, via io's own renaming rules (no problem allowed)."""
    problems: list[Problem] = []
    spec = io.SCHEMAS["transactions"]
    df = rename(pd.DataFrame(columns=[n.strip() for n in names]), spec, settings, path, problems)
    if problems:
        raise _Decline("the header has problems")
    renamed = list(df.columns)
    kept = [
        n for n in names if n.strip() not in {str(c) for c in settings.get("ignore", []) or []}
    ]
    if len(kept) != len(renamed):
        raise _Decline("unexpected header")
    return {raw: new for raw, new in zip(kept, renamed, strict=True) if new in spec.columns}


def _csv_batches(
    path: Path, settings: dict[str, Any]
) -> tuple[Iterator[pa.RecordBatch], dict[str, str]]:
    header, sep = _csv_header(path, settings)
    cols = _columns(header, settings, path)
    types: dict[str, pa.DataType] = {}
    for raw, col in cols.items():
        if col == "date":
            types[raw] = pa.timestamp("ns")
        elif col in NUMBERS:
            types[raw] = pa.float64()
        else:
            types[raw] = pa.dictionary(pa.int32(), pa.string())
    # the content through the limits of `untrusted` (.gz unpacked while Arrow reads it)
    stream = open_input(path, raise_early=False)
    try:
        reader = pacsv.open_csv(
            pa.input_stream(stream),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=4 << 20),
            parse_options=pacsv.ParseOptions(
                delimiter=sep,
                quote_char='"',
                double_quote=True,
                newlines_in_values=_has_quotes(path),
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                include_columns=list(cols),
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                check_utf8=True,
            ),
        )
    except _ARROW_ERRORS as e:
        _refuse_over_limit(stream)
        raise _Decline(f"Arrow cannot read it as plain CSV ({_first_line(e)})") from None
    return _guard(reader, stream), cols


def _refuse_over_limit(stream: LimitedInput | None) -> None:
    """The file passed a limit of ``untrusted`` (a line too long, too large, a bomb): the
    stream ended there; raise the refusal as :func:`io.load_dataset` words it (the pandas
    readers would stop at the same place with the same problem)."""
    if stream is None or stream.problem is None:
        return
    stream.close()
    raise _as_dataset_error(stream.problem, stream.path)


def _as_dataset_error(error: InputError, path: Path) -> InputError:
    """A refusal of ``untrusted`` worded as :func:`io.load_dataset` words a file's problem."""
    return InputError(tr("{n} problem(s) in {files}").format(n=1, files=path), error.problems)


_ARROW_ERRORS = (
    pa.ArrowInvalid,
    pa.ArrowNotImplementedError,
    pa.ArrowTypeError,
    OSError,
    ValueError,
)


def _has_quotes(path: Path) -> bool:
    """Whether a CSV has any double quote (only then can a value span lines; Arrow splits
    blocks faster when it knows none does)."""
    if path.name.lower().endswith(".gz"):
        return True
    with open(path, "rb") as f:  # in chunks: mapping the whole file would take its size in
        return any(b'"' in chunk for chunk in iter(lambda: f.read(1 << 24), b""))  # addresses


def _file_lines(
    path: Path, settings: dict[str, Any], positions: Iterable[int], n: int
) -> list[int]:
    """The file lines (header = line 1) of the data records at ``positions`` (0-based), as
    ``io`` reports them: one line per record (no empty lines: Arrow checks) unless a quoted
    value spans several lines; then the records are counted again (only up to the last
    position asked for, and only when the file has more line breaks than records)."""
    positions = [int(p) for p in positions]
    lines = [p + 2 for p in positions]
    if not positions or not path.name.lower().endswith(_CSV_SUFFIXES) or not _has_quotes(path):
        return lines
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    breaks = 0
    with opener(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            breaks += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
    if breaks <= n + 1:  # the header and n records, one line each
        return lines
    sep = _csv_header(path, settings)[1]
    want = {p + 1: i for i, p in enumerate(positions)}  # record 0 is the header
    last = max(want)
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f, delimiter=sep, skipinitialspace=True)
        start = 1
        try:
            for k, _ in enumerate(reader):
                if k in want:
                    lines[want[k]] = start
                if k >= last:
                    break
                start = reader.line_num + 1
        except csv.Error as e:  # e.g. a value beyond the csv module's field size limit
            raise _Decline(f"cannot count the lines of the file ({_first_line(e)})") from None
    return lines


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [""])[0][:160]


def _guard(
    batches: Iterable[pa.RecordBatch], stream: LimitedInput | None = None
) -> Iterator[pa.RecordBatch]:
    """Arrow's parse errors (a bad number, a row with more fields...) become a decline; a
    limit passed by the file (``stream``) is a refusal."""
    it = iter(batches)
    while True:
        try:
            batch = next(it)
        except StopIteration:
            _refuse_over_limit(stream)
            if stream is not None:
                stream.close()
            return
        except _ARROW_ERRORS as e:
            _refuse_over_limit(stream)
            raise _Decline(f"Arrow cannot read it as plain data ({_first_line(e)})") from None
        yield batch


def _parquet_batches(
    path: Path, settings: dict[str, Any]
) -> tuple[Iterator[pa.RecordBatch], dict[str, str]]:
    try:
        check_packed_input(path)
    except InputError as e:
        raise _as_dataset_error(e, path) from None
    try:
        schema = pq.read_schema(path)
    except Exception as e:  # pyarrow raises many types
        raise _Decline(f"unreadable Parquet ({_first_line(e)})") from None
    names = [str(n) for n in schema.names]
    if len({n.strip() for n in names}) != len(names) or any(not n.strip() for n in names):
        raise _Decline("empty or repeated column names")
    cols = _columns(names, settings, path)
    strings = []
    for raw, col in cols.items():
        t = schema.field(raw).type
        if pa.types.is_dictionary(t):
            t = t.value_type
        if col == "date":
            ok = (pa.types.is_timestamp(t) and t.tz is None) or pa.types.is_date(t)
        elif col in NUMBERS:
            ok = pa.types.is_integer(t) or pa.types.is_floating(t)
        else:
            ok = pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_integer(t)
            if pa.types.is_string(t) or pa.types.is_large_string(t):
                strings.append(raw)
        if not ok:
            raise _Decline(f"Parquet column {raw} has type {t}")

    def batches() -> Iterator[pa.RecordBatch]:
        f = pq.ParquetFile(path, read_dictionary=strings)
        for batch in f.iter_batches(batch_size=1 << 18, columns=list(cols)):
            out = []
            for raw in cols:
                arr, col = batch.column(raw), cols[raw]
                if col == "date":
                    arr = arr.cast(pa.timestamp("ns"))
                elif col in NUMBERS:
                    arr = arr.cast(pa.float64())
                elif not pa.types.is_dictionary(arr.type):
                    arr = pc.dictionary_encode(arr.cast(pa.string()))
                out.append(arr)
            yield pa.RecordBatch.from_arrays(out, names=list(cols))

    return _guard(batches()), cols


def _collect(
    batches: Iterator[pa.RecordBatch], cols: dict[str, str]
) -> tuple[dict[str, np.ndarray], dict[str, list[pa.Array]]]:
    """Batches -> numpy columns (dates as month index and timestamp, numbers as float64) and
    the dictionary chunks of the label columns; memory stays near the size of the result."""
    parts: dict[str, list[np.ndarray]] = {"month": [], "ts": []}
    dicts: dict[str, list[pa.Array]] = {}
    for batch in batches:
        for raw, col in cols.items():
            arr = batch.column(raw)
            if col == "date":
                if arr.null_count:
                    raise _Decline("empty dates")
                parts["month"].append(
                    ((pc.year(arr).to_numpy() - 1970) * 12 + pc.month(arr).to_numpy() - 1).astype(
                        np.int32
                    )
                )
                parts["ts"].append(arr.to_numpy().astype("datetime64[ns]").view(np.int64))
            elif col in NUMBERS:
                parts.setdefault(col, []).append(
                    arr.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
                )
            else:
                dicts.setdefault(col, []).append(arr)
        if len(parts["ts"]) % 4 == 0:
            _release()
    if not parts["ts"]:
        raise _Decline("no rows")
    out = {}
    for col in list(parts):
        out[col] = np.concatenate(parts.pop(col))
    return out, dicts


# --------------------------------------------------------------------------------------------
# columns -> numpy


_WS = r"[\s\x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
_ODD_LABEL = f'^{_WS}|{_WS}$|^-?[0-9]+\\.0$|"'  # edges io strips, Excel-style ids, quotes


def _unify(chunks: list[pa.Array], has_null: bool) -> tuple[pa.Array, np.ndarray]:
    """One dictionary for all chunks and each line's index into it (nulls -> len(dictionary)).

    Arrow's own ``unify_dictionaries`` needs about 200 bytes per distinct value (900 MB for
    5 million order ids); for short labels the chunks' dictionaries are instead numbered with
    a 64-bit hash of their bytes, checked exactly against the bytes (a collision declines).
    """
    dicts = [c.dictionary.cast(pa.string()) for c in chunks]
    allv = pa.concat_arrays(dicts) if len(dicts) > 1 else dicts[0]
    offsets = np.cumsum([0] + [len(d) for d in dicts])
    del dicts
    lengths = pc.binary_length(allv).to_numpy(zero_copy_only=False)
    width = int(-(-max(int(lengths.max(initial=0)), 1) // 8) * 8)
    if len(allv) < 100_000 or width > 32:
        unified = pa.chunked_array(chunks).unify_dictionaries().chunks
        dictionary = unified[0].dictionary.cast(pa.string())
        parts = [c.indices.fill_null(len(dictionary)) if has_null else c.indices for c in unified]
        return dictionary, np.concatenate([i.to_numpy(zero_copy_only=False) for i in parts])
    # the bytes of every value, zero-padded to `width`
    m = len(allv)
    starts = np.frombuffer(allv.buffers()[1], np.int32)[allv.offset : allv.offset + m]
    data = np.frombuffer(allv.buffers()[2], np.uint8)
    mat = np.zeros((m, width), np.uint8)
    for j in range(int(lengths.max(initial=0))):  # byte j of every value that long
        has = lengths > j
        mat[has, j] = data[starts[has] + j]
    del has
    words = mat.view(np.uint64)
    h = lengths.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for j in range(words.shape[1]):
        h ^= words[:, j]
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    code, uniq = pd.factorize(h)
    del h
    first = np.empty(len(uniq), np.int64)
    first[code[::-1]] = np.arange(m)[::-1]  # first value with each hash
    if not (words == words[first[code]]).all() or not (lengths == lengths[first[code]]).all():
        raise _Decline("hash collision between labels")
    del mat, words
    dictionary = allv.take(pa.array(first))
    code = code.astype(np.int32)
    null_code = np.int32(len(dictionary))
    idx = np.concatenate(
        [
            np.where(
                c.indices.is_null().to_numpy(zero_copy_only=False),
                null_code,
                code[o + c.indices.fill_null(0).to_numpy(zero_copy_only=False)],
            )
            if has_null and c.null_count
            else code[o + c.indices.to_numpy(zero_copy_only=False)]
            for o, c in zip(offsets, chunks, strict=False)
        ]
    )
    return dictionary, idx


def _release() -> None:
    """Hand memory Arrow has freed back to the system (its allocator keeps it otherwise)."""
    pa.default_memory_pool().release_unused()


def _labels(chunks: list[pa.Array], col: str, sort: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Codes and labels of a dictionary column, normalised as ``as_label`` does.

    With ``sort``, codes follow the sorted label order (as pandas sorts groups) and only labels
    that occur are kept. Declines on empty keys, blanks and null markers; the optional
    ``product`` may be empty (its label is then "", as in io).
    """
    optional = col not in LABELS
    has_null = any(c.null_count for c in chunks)
    if has_null and not optional:
        raise _Decline(f"empty {col}")
    dictionary, idx = _unify(chunks, has_null)
    del chunks
    if (pc.max(pc.utf8_length(dictionary)).as_py() or 0) > MAX_LABEL_CHARS:
        raise _Decline(f"{col} longer than {MAX_LABEL_CHARS} characters")
    odd = pc.match_substring_regex(dictionary, _ODD_LABEL)
    if has_null or pc.any(odd).as_py() or pc.any(pc.equal(pc.utf8_length(dictionary), 0)).as_py():
        # values io would strip or rewrite: normalise them exactly as io does (slower)
        values = pd.Series(
            [*dictionary.to_pylist(), None] if has_null else dictionary.to_pandas(), dtype=object
        )
        if not optional and blank_cells(values).any():
            raise _Decline(f"blank or null-marker {col}")
        if pc.any(pc.match_substring(dictionary, '"')).as_py():
            raise _Decline(f"quote characters in {col}")
        norm = as_label(values).to_numpy(dtype=object)
        uniq, remap = np.unique(norm, return_inverse=True)
        codes = remap.astype(np.int32).ravel()[idx]
    else:
        if (
            not optional
            and pc.any(pc.is_in(dictionary, value_set=pa.array(sorted(io.NULL_MARKERS)))).as_py()
        ):
            raise _Decline(f"null-marker {col}")
        if not sort:
            return idx.astype(np.int32, copy=False), np.empty(len(dictionary), dtype=object)
        order = pc.array_sort_indices(dictionary).to_numpy()
        rank = np.empty(len(order), np.int32)
        rank[order] = np.arange(len(order))
        codes = rank[idx]
        uniq = dictionary.take(pa.array(order)).to_numpy(zero_copy_only=False)
    used = np.bincount(codes, minlength=len(uniq)) > 0
    if not used.all():  # values only in the dictionary: keep the labels actually used
        codes = (np.cumsum(used) - 1)[codes]
        uniq = uniq[used]
    return codes.astype(np.int32, copy=False), uniq


# --------------------------------------------------------------------------------------------
# the fast path


@dataclass
class _Source:
    """The transactions file, its settings in mapping.yaml and the whole mapping."""

    path: Path
    settings: dict[str, Any]
    mapping: dict[str, Any]


@dataclass
class _Others:
    """The small inputs, read by the pandas readers: reps, market and the plan."""

    reps: pd.DataFrame  # still with hire dates to fill from the first transaction
    market: pd.DataFrame
    plan: Any | None
    sources: dict[str, Path]
    notes: list[str]


def _fast(data_dir: Path, plan_file: Path | str | None, today: _dt.date | None) -> Ingested:
    """The Arrow path: read, validate, read the small files, aggregate, state the rules."""
    import time

    t0 = time.perf_counter()
    seconds: dict[str, float] = {}
    source = _source(data_dir)
    arrays, chunks = _read_arrow(source)
    seconds["read"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    n = len(arrays["ts"])
    last_date = _check_dates(arrays["ts"], today)
    first_date = pd.Timestamp(int(arrays["ts"].min()))
    _check_numbers(arrays)
    labels = _encode_labels(arrays, chunks)
    seconds["validate"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    others = _other_inputs(data_dir, source, labels, plan_file)
    seconds["reps_market"] = time.perf_counter() - t2
    if others.reps["end_date"].notna().any() and (arrays["ts"] % _NS_PER_DAY).any():
        raise _Decline("times of day with end dates (employment rule by timestamp)")
    t3 = time.perf_counter()
    m0 = int(arrays["month"].min())
    arrays["month"] -= m0
    agg = _aggregate(
        arrays, labels, m0, duplicates_rule(source.settings)
    )  # takes the arrays over (frees them as it goes)
    del arrays
    seconds["cubes"] = time.perf_counter() - t3
    notes = [*_transaction_notes(source, agg, m0, n), *others.notes]
    reps, rep_notes = _rep_rules(others, agg.rep_month, labels["product_line"], source.path)
    notes.extend(rep_notes)
    months = pd.DatetimeIndex(
        (np.arange(len(agg.per_month)) + m0).astype("datetime64[M]").astype("datetime64[ns]"),
        name="month",
    )
    lines_per_month = pd.Series(agg.per_month, index=months, dtype="int64")
    lines_per_month = lines_per_month[lines_per_month > 0]
    seconds["total"] = time.perf_counter() - t0
    return Ingested(
        agg.cube,
        agg.customers,
        agg.orders,
        reps,
        others.market,
        others.plan,
        others.sources,
        notes,
        int(agg.per_month.sum()),
        months[0].to_period("M"),
        last_date,
        lines_per_month,
        "arrow",
        "",
        seconds,
        first_date,
        agg.products,
    )


def _source(data_dir: Path) -> _Source:
    """The transactions file and its settings; declines settings the fast path does not read."""
    if not data_dir.is_dir():
        raise _Decline("no data folder")
    try:
        mapping = io.load_mapping(data_dir)
        path = io.find_input(data_dir, "transactions", mapping)
    except InputError:
        raise _Decline("mapping or file problem") from None
    settings = mapping.get("transactions", {}) or {}
    for key in ("decimal", "thousands", "date_format", "sheet"):
        if settings.get(key):
            raise _Decline(f"'{key}' is set in mapping.yaml")
    if settings.get("encoding") and str(settings["encoding"]).lower().replace("_", "-") not in (
        "utf-8",
        "utf8",
        "utf-8-sig",
    ):
        raise _Decline(f"encoding {settings['encoding']}")
    if int(settings.get("header_row", 1) or 1) != 1:
        raise _Decline("header_row is set")
    return _Source(path, settings, mapping)


def _read_arrow(source: _Source) -> tuple[dict[str, np.ndarray], dict[str, list[pa.Array]]]:
    """The file's columns (see :func:`_collect`), from Parquet or plain CSV."""
    path, settings = source.path, source.settings
    name = path.name.lower()
    if name.endswith(".parquet"):
        batches, cols = _parquet_batches(path, settings)
    elif name.endswith(_CSV_SUFFIXES):
        if path.stat().st_size == 0:
            raise _Decline("empty file")
        batches, cols = _csv_batches(path, settings)
    else:
        raise _Decline(f"{path.suffix} files are read by the pandas readers")
    if "line_id" in cols.values():
        raise _Decline("line_id column (the pandas readers apply its rule)")
    arrays, chunks = _collect(batches, cols)
    _release()
    return arrays, chunks


def _check_dates(ts: np.ndarray, today: _dt.date | None) -> pd.Timestamp:
    """Dates between 1990 and 2100, none after today; returns the last date."""
    lo, hi = ts.min(), ts.max()
    if lo < MIN_DATE.value or hi > MAX_DATE.value:
        raise _Decline("dates out of range")
    today_ts = pd.Timestamp(today or _dt.date.today())
    if hi // _NS_PER_DAY * _NS_PER_DAY > today_ts.value:
        raise _Decline("dates after today")
    return pd.Timestamp(int(hi))


def _check_numbers(arrays: dict[str, np.ndarray]) -> None:
    """Quantities given and finite, discounts in [0, 1) (empty = 0), revenue given or computed
    from the unit price (:func:`rules.line_revenue`); ``arrays`` is completed in place."""
    n = len(arrays["ts"])
    qty = arrays["quantity"]
    if np.isnan(qty).any() or np.isinf(qty).any():
        raise _Decline("quantity empty or not finite")
    for c in NUMBERS:
        if c in arrays and np.isinf(arrays[c]).any():
            raise _Decline(f"infinite {c}")
    disc = arrays.get("discount")
    if disc is not None:
        if discount_outside(disc).any():
            raise _Decline("discount outside [0, 1)")
        arrays["discount"] = disc = np.where(np.isnan(disc), 0.0, disc)
    price, rev = arrays.get("unit_price"), arrays.get("revenue")
    if rev is None:
        if price is None or np.isnan(price).any():
            raise _Decline("unit_price missing")
        rev = line_revenue(qty, price, disc)
    else:
        missing = np.isnan(rev)
        if missing.any():
            if price is None or np.isnan(price[missing]).any():
                raise _Decline("revenue missing")
            rev = np.where(missing, line_revenue(qty, price, disc), rev)
        del missing
    arrays["revenue"] = rev
    if any(c in arrays and (np.abs(arrays[c]) > MAX_AMOUNT).any() for c in NUMBERS):
        raise _Decline(f"amounts beyond {MAX_AMOUNT:.0e}")
    if price is None:
        arrays["unit_price"] = np.full(n, np.nan)


def _encode_labels(
    arrays: dict[str, np.ndarray], chunks: dict[str, list[pa.Array]]
) -> dict[str, np.ndarray]:
    """Each label column to integer codes in ``arrays``; returns the labels of each column."""
    labels = {}
    for c in (*LABELS, "product"):
        if c in chunks:
            arrays[c], labels[c] = _labels(chunks.pop(c), c, sort=c != "order_id")
            _release()
    return labels


def _other_inputs(
    data_dir: Path, source: _Source, labels: dict[str, np.ndarray], plan_file: Path | str | None
) -> _Others:
    """Reps and market with the pandas readers (small files), the checks across files, the
    plan; any problem declines."""
    mapping = source.mapping
    problems: list[Problem] = []
    notes: list[str] = []
    try:
        rpath = io.find_input(data_dir, "reps", mapping)
        mpath = io.find_input(data_dir, "market", mapping)
    except InputError:
        raise _Decline("reps or market file missing") from None
    reps = io.read_reps(rpath, mapping.get("reps", {}), problems, notes, allow_missing_hire=True)
    market = io.read_market(mpath, mapping.get("market", {}), problems, notes)
    if problems or reps is None or market is None:
        raise _Decline("problems in reps or market")
    if not set(labels["rep_id"]) <= set(reps["rep_id"]):
        raise _Decline("unknown rep_id")
    regions = set(reps["region"]) | set(market["region"])
    if not all(r in regions for r in labels["region"]):
        raise _Decline("unknown region")
    paths = {"transactions": source.path, "reps": rpath, "market": mpath}
    if label_mismatches(labels, reps, market, paths) or prev_region_mismatches(
        labels, reps, paths
    ):
        raise _Decline("labels of reps or market that the transactions do not have")
    plan = None
    sources = {"transactions": source.path, "reps": rpath, "market": mpath}
    if plan_file is not None:
        from salesanalysis.errors import SalesAnalysisError
        from salesanalysis.targets.plan import load_plan

        sources["plan"] = Path(plan_file)
        try:
            plan = load_plan(Path(plan_file))
        except SalesAnalysisError:
            raise _Decline("plan problems") from None
        if plan_label_mismatches(labels, plan, Path(plan_file), source.path.name):
            raise _Decline("plan segments with labels the transactions do not have")
    if mapping:
        sources["mapping"] = data_dir / io.MAPPING_FILE
    return _Others(reps, market, plan, sources, notes)


def _transaction_notes(source: _Source, agg: _Aggregate, m0: int, n: int) -> list[str]:
    """The notes the pandas reader writes: identical rows kept or dropped, returns netted, empty
    months (``n``: lines in the file, to find the identical rows' line numbers)."""
    path = source.path
    notes: list[str] = []
    if len(agg.dup_pos):
        rows = _file_lines(path, source.settings, agg.dup_pos[:5], n)
        rule = duplicates_rule(source.settings)
        notes.append(identical_rows_note(path.name, len(agg.dup_pos), rows, rule))
    if agg.returns:
        notes.append(returns_note(path.name, agg.returns))
    gaps = [
        pd.Period(year=1970 + (m0 + k) // 12, month=(m0 + k) % 12 + 1, freq="M")
        for k in np.flatnonzero(agg.per_month == 0)
    ]
    if gaps:
        notes.append(gaps_note(path.name, gaps))
    return notes


def _rep_rules(
    others: _Others, rep_month: pd.DataFrame, product_lines: np.ndarray, path: Path
) -> tuple[pd.DataFrame, list[str]]:
    """The rules needing transactions and reps together (as ``load_dataset`` applies them):
    hire dates from the first transaction, then the notes of the checks across files."""
    problems: list[Problem] = []
    reps, notes = _hire_notes(others.reps, rep_month, others.sources, problems)
    if problems:
        raise _Decline("reps without hire_date and without transactions")
    notes.extend(_cross_notes(product_lines, others.market, rep_month, reps, path))
    return reps, notes


def _argsort(key: np.ndarray, month: np.ndarray) -> np.ndarray:
    """``np.argsort(key)`` where ``key`` grows with ``month``; when the file is in date order
    (most exports), the months are sorted as blocks on two threads (numpy sorts without the
    GIL), which is faster than one sort of everything."""
    n = len(key)
    if n < 200_000 or not (month[1:] >= month[:-1]).all():
        return np.argsort(key)
    bounds = np.flatnonzero(np.diff(month)) + 1
    edges = np.concatenate([[0], bounds, [n]])
    perm = np.empty(n, np.int64)

    def block(i: int) -> None:
        a, b = edges[i], edges[i + 1]
        perm[a:b] = np.argsort(key[a:b]) + a

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(block, range(len(edges) - 1)))
    return perm


def _dense_factorize(values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize(values, sort=True)`` for non-negative integers below ``size``."""
    if size > 50_000_000:
        return pd.factorize(values, sort=True)
    present = np.zeros(size, bool)
    present[values] = True
    lookup = np.cumsum(present) - 1
    return lookup[values], np.flatnonzero(present)


_DIMS = ["region", "product_line", "customer_type", "rep_id"]  # a cube cell
_ORDER_DIMS = ["region", "customer_type", "rep_id"]  # whole orders (an order spans lines)


@dataclass
class _Aggregate:
    """What :func:`_aggregate` makes of the lines."""

    cube: pd.DataFrame
    customers: pd.DataFrame
    orders: pd.DataFrame
    rep_month: pd.DataFrame  # rep_id, month, lines (employment and hire-date rules)
    dup_pos: np.ndarray  # positions (0-based records) of the rows identical to an earlier one
    returns: int  # return lines (without dropped duplicates)
    per_month: np.ndarray  # lines per month index from m0 (without dropped duplicates)
    products: pd.DataFrame | None = None  # month x product_line x product, when given


@dataclass
class _Grid:
    """Sizes of the integer key space: months x customers x cells (x orders)."""

    n_months: int
    sizes: list[int]  # labels per cell dimension (_DIMS)
    n_cells: int
    n_cust: int
    n_ord: int


@dataclass
class _Groups:
    """The lines sorted once by (month, customer, cell, order): customer-cube groups and
    distinct (group, order) pairs are runs of that order."""

    perm: np.ndarray  # sorted position -> line
    new_pair: np.ndarray  # sorted line opens a (group, order) pair
    new_group: np.ndarray  # sorted line opens a group
    starts: np.ndarray  # sorted position of each group's first line
    pair_starts: np.ndarray  # sorted position of each pair's first line
    keys: np.ndarray  # group key: (month x n_cust + customer) x n_cells + cell


@dataclass
class _GroupSums:
    """The customer cube in codes: sums per group (month x customer x cell), duplicates
    dropped."""

    month: np.ndarray
    cell: np.ndarray  # ((region x product_line + ...) x customer_type + ...) x rep_id
    customer: np.ndarray
    revenue: np.ndarray
    quantity: np.ndarray
    orders: np.ndarray  # distinct orders
    lines: np.ndarray
    pair_group: np.ndarray  # the group of each distinct (group, order) pair
    returns: int
    per_month: np.ndarray


@dataclass
class _CellSums:
    """The cube in codes: sums per cell-month."""

    keys: np.ndarray  # month x n_cells + cell, sorted
    revenue: np.ndarray
    quantity: np.ndarray
    lines: np.ndarray
    customers: np.ndarray
    orders: np.ndarray


def _aggregate(
    arrays: dict[str, np.ndarray], labels: dict[str, np.ndarray], m0: int, rule: str = "keep"
) -> _Aggregate:
    """Identical rows and both cubes from integer codes, with one sort of the lines.

    Label codes follow the sorted label order, so sorting combined integer keys orders groups
    as pandas does. The lines are sorted once by (month, customer, region, product_line,
    customer_type, rep_id, order); customer-cube groups and distinct (group, order) pairs are
    runs of that order, and the cube is built from the customer-cube groups. Exact duplicates
    share a (group, order) pair, so only lines of pairs seen more than once are compared on
    every column (``full``); with ``rule`` ``drop_exact`` they are dropped from sums and line
    counts (distinct counts do not change), with ``keep`` they count as separate sales.

    ``arrays`` (month index from ``m0``, ts, label codes, numbers) is emptied on the way.
    """
    mi = arrays.pop("month")
    codes = arrays  # label codes live beside the other columns
    grid = _grid(mi, labels)
    groups = _sort_groups(mi, codes, grid)
    dup_pos = _exact_duplicates(arrays, groups)
    drop = dup_pos if rule == "drop_exact" else np.zeros(0, np.int64)
    products = _product_sums(mi, arrays, labels, drop, m0)
    for k in ("ts", "unit_price", "product", "discount"):
        arrays.pop(k, None)
    sums = _group_sums(mi, arrays.pop("revenue"), arrays.pop("quantity"), drop, groups, grid)
    del groups
    cells = _cell_sums(mi, codes, sums, grid)
    o_keys, o_orders = _whole_orders(mi, codes, labels, grid.n_months)
    del mi
    arrays.clear()
    cube_parts = _split(cells.keys // grid.n_cells, cells.keys % grid.n_cells, grid.sizes)
    rep_key = cube_parts["rep_id"] * grid.n_months + cube_parts["month"]
    cube = _frame(
        cube_parts,
        _DIMS,
        {
            "revenue": cells.revenue,
            "quantity": cells.quantity,
            "orders": cells.orders.astype(np.int64),
            "customers": cells.customers.astype(np.int64),
        },
        labels,
        m0,
    )
    cust_parts = _split(sums.month, sums.cell, grid.sizes)
    cust_parts["customer_id"] = sums.customer
    customers = _frame(
        cust_parts,
        ["customer_id", *_DIMS],
        {"revenue": sums.revenue, "quantity": sums.quantity, "orders": sums.orders},
        labels,
        m0,
    )
    order_parts = _split_keys(o_keys, _ORDER_DIMS, [len(labels[d]) for d in _ORDER_DIMS])
    orders = _frame(order_parts, _ORDER_DIMS, {"orders": o_orders.astype(np.int64)}, labels, m0)
    return _Aggregate(
        cube,
        customers,
        orders,
        _rep_month(rep_key, cells.lines, labels, grid.n_months, m0),
        dup_pos,
        sums.returns,
        sums.per_month,
        products,
    )


def _product_sums(
    mi: np.ndarray,
    arrays: dict[str, np.ndarray],
    labels: dict[str, np.ndarray],
    drop: np.ndarray,
    m0: int,
) -> pd.DataFrame | None:
    """Revenue and quantity per month x product_line x product (as
    :func:`~salesanalysis.data.cube.build_product_cube`), without the dropped duplicates; None
    without a product column. A product named in two product lines declines (the pandas
    readers report it)."""
    if "product" not in arrays:
        return None
    keep = np.ones(len(mi), bool)
    keep[drop] = False
    n_pl, n_pr = len(labels["product_line"]), len(labels["product"])
    pl, pr = arrays["product_line"][keep].astype(np.int64), arrays["product"][keep]
    pairs = np.unique(pr.astype(np.int64) * n_pl + pl)
    named = labels["product"][pairs // n_pl] != ""
    if len(np.unique(pairs[named] // n_pl)) < int(named.sum()):
        raise _Decline("a product in two product lines")
    key = (mi[keep].astype(np.int64) * n_pl + pl) * n_pr + pr
    uk, inv = np.unique(key, return_inverse=True)
    inv = inv.ravel()
    parts = {"month": uk // (n_pl * n_pr), "product_line": uk // n_pr % n_pl, "product": uk % n_pr}
    values = {
        "revenue": np.bincount(inv, weights=arrays["revenue"][keep]),
        "quantity": np.bincount(inv, weights=arrays["quantity"][keep]),
    }
    return _frame(parts, ["product_line", "product"], values, labels, m0)


def _grid(mi: np.ndarray, labels: dict[str, np.ndarray]) -> _Grid:
    sizes = [len(labels[d]) for d in _DIMS]
    n_months = int(mi.max()) + 1
    n_cells = int(np.prod(sizes, dtype=object))  # region x product_line x type x rep
    n_cust, n_ord = len(labels["customer_id"]), max(1, len(labels["order_id"]))
    if n_months * n_cust * n_cells >= 2**62:
        raise _Decline("too many distinct keys for 64-bit group keys")
    return _Grid(n_months, sizes, n_cells, n_cust, n_ord)


def _run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Whether each element of a sorted array differs from the one before (the first does)."""
    out = np.empty(len(sorted_keys), bool)
    out[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=out[1:])
    return out


def _sort_groups(mi: np.ndarray, codes: dict[str, np.ndarray], grid: _Grid) -> _Groups:
    """Sort the lines by group and order (one combined 64-bit key)."""
    key = mi.astype(np.int64) * grid.n_cust + codes["customer_id"]
    for d, s in zip(_DIMS, grid.sizes, strict=True):
        key *= s
        key += codes[d]
    compact = None
    if grid.n_months * grid.n_cust * grid.n_cells * grid.n_ord >= 2**62:  # number the groups
        code, compact = pd.factorize(key, sort=True)
        key = code.astype(np.int64)
    key *= grid.n_ord
    key += codes["order_id"]
    perm = _argsort(key, mi)
    key = key[perm]  # sorted
    new_pair = _run_starts(key)
    key //= grid.n_ord  # the group of each sorted line
    new_group = _run_starts(key)
    starts = np.flatnonzero(new_group)
    keys = key[starts]
    del key
    if compact is not None:
        keys = compact[keys]
    return _Groups(perm, new_pair, new_group, starts, np.flatnonzero(new_pair), keys)


def _plus_zero(v: np.ndarray) -> np.ndarray:
    """-0.0 equals 0.0, as in pandas."""
    return v + 0.0 if v.dtype.kind == "f" else v


def _exact_duplicates(arrays: dict[str, np.ndarray], groups: _Groups) -> np.ndarray:
    """Positions of the lines identical on every column to an earlier line (only within
    (group, order) pairs that hold several lines)."""
    n = len(groups.perm)
    pair_size = np.diff(np.append(groups.pair_starts, n))
    if not (pair_size > 1).any():
        return np.zeros(0, np.int64)
    cand = np.sort(groups.perm[np.repeat(pair_size > 1, pair_size)])
    del pair_size
    full = ["ts", *LABELS, "quantity", "unit_price", "revenue", "product", "discount"]
    exact = pd.DataFrame({k: _plus_zero(arrays[k][cand]) for k in full if k in arrays}).duplicated(
        keep="first"
    )
    return cand[exact.to_numpy()]


def _group_sums(
    mi: np.ndarray,
    rev: np.ndarray,
    qty: np.ndarray,
    dup_pos: np.ndarray,
    groups: _Groups,
    grid: _Grid,
) -> _GroupSums:
    """Sums per customer-cube group, return lines and lines per month, without duplicates."""
    n = len(mi)
    starts, perm = groups.starts, groups.perm
    lines = np.diff(np.append(starts, n))
    keep = None
    if len(dup_pos):
        keep = np.ones(n, bool)
        keep[dup_pos] = False
        rev, qty = np.where(keep, rev, 0.0), np.where(keep, qty, 0.0)
        lines = lines - np.add.reduceat((~keep)[perm], starts)
    returns = int((is_return(qty, rev) & (keep if keep is not None else True)).sum())
    per_month = (
        np.bincount(mi, weights=keep, minlength=grid.n_months)
        if keep is not None
        else np.bincount(mi, minlength=grid.n_months)
    ).astype(np.int64)
    c_rev = np.add.reduceat(rev[perm], starts)
    c_qty = np.add.reduceat(qty[perm], starts)
    del rev, qty, keep
    c_orders = np.add.reduceat(groups.new_pair, starts).astype(np.int64)
    pair_group = (np.cumsum(groups.new_group) - 1)[groups.pair_starts]
    c_cell, c_rest = groups.keys % grid.n_cells, groups.keys // grid.n_cells
    c_cust, c_month = c_rest % grid.n_cust, c_rest // grid.n_cust
    return _GroupSums(
        c_month, c_cell, c_cust, c_rev, c_qty, c_orders, lines, pair_group, returns, per_month
    )


def _cell_sums(
    mi: np.ndarray, codes: dict[str, np.ndarray], sums: _GroupSums, grid: _Grid
) -> _CellSums:
    """The cube from the customer-cube groups; distinct orders per cell-month."""
    n_cellmonths_max = grid.n_months * grid.n_cells
    kcode, kuniq = _dense_factorize(sums.month * grid.n_cells + sums.cell, n_cellmonths_max)
    n_cellmonths = len(kuniq)
    k_rev = np.bincount(kcode, weights=sums.revenue, minlength=n_cellmonths)
    k_qty = np.bincount(kcode, weights=sums.quantity, minlength=n_cellmonths)
    k_lines = np.bincount(kcode, weights=sums.lines, minlength=n_cellmonths)
    k_customers = np.bincount(kcode, minlength=n_cellmonths)
    # distinct orders per cell: when every order belongs to one customer, the (group, order)
    # pairs are already distinct per cell; otherwise count (cell, order) pairs separately
    order, n_ord = codes["order_id"], grid.n_ord
    owner = np.full(n_ord, -1, np.int64)
    owner[order] = codes["customer_id"]
    if (owner[order] == codes["customer_id"]).all():
        k_orders = np.bincount(kcode[sums.pair_group], minlength=n_cellmonths)
    else:
        cell = mi.astype(np.int64)
        for d, s in zip(_DIMS, grid.sizes, strict=True):
            cell = cell * s + codes[d]
        cell = np.searchsorted(kuniq, cell)  # every line's cell-month is in kuniq
        k_orders = np.bincount(pd.unique(cell * n_ord + order) // n_ord, minlength=n_cellmonths)
        del cell
    return _CellSums(kuniq, k_rev, k_qty, k_lines, k_customers, k_orders)


def _whole_orders(
    mi: np.ndarray, codes: dict[str, np.ndarray], labels: dict[str, np.ndarray], n_months: int
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct orders per month x region x customer_type x rep_id (an order spans product
    lines): the keys (month x sizes + codes, in the order of ``_ORDER_DIMS``) and counts."""
    order = codes["order_id"]
    n_ord = max(1, len(labels["order_id"]))
    osizes = [len(labels[d]) for d in _ORDER_DIMS]
    okey = mi.astype(np.int64)
    for d, s in zip(_ORDER_DIMS, osizes, strict=True):
        okey *= s
        okey += codes[d]
    n_okeys = int(np.prod(osizes, dtype=object)) * n_months
    first_okey = np.full(n_ord, -1, np.int64)
    first_okey[order] = okey
    if (first_okey[order] == okey).all():  # each order in one month, region, type and rep
        seen = np.zeros(n_ord, bool)
        seen[order] = True
        distinct = first_okey[seen]
    elif n_okeys * n_ord < 2**62:
        okey *= n_ord
        okey += order
        okey.sort()
        distinct = okey[np.append(True, okey[1:] != okey[:-1])] // n_ord
    else:  # pragma: no cover - beyond 64-bit keys
        distinct = pd.unique(pd.MultiIndex.from_arrays([okey, order])).get_level_values(0)
    del first_okey, okey
    return np.unique(distinct, return_counts=True)


def _split(month_of: np.ndarray, dim_of: np.ndarray, sizes: list[int]) -> dict[str, np.ndarray]:
    """A cell code back to the code of each cell dimension (and the month)."""
    out = {"month": month_of}
    for d, s in zip(reversed(_DIMS), reversed(sizes), strict=True):
        out[d], dim_of = dim_of % s, dim_of // s
    return out


def _split_keys(keys: np.ndarray, dims: list[str], sizes: list[int]) -> dict[str, np.ndarray]:
    """A key (month x sizes + codes) back to the code of each dimension and the month."""
    parts: dict[str, np.ndarray] = {}
    rest = keys
    for d, s in zip(reversed(dims), reversed(sizes), strict=True):
        parts[d], rest = rest % s, rest // s
    parts["month"] = rest
    return parts


def _frame(
    parts: dict[str, np.ndarray],
    order: list[str],
    values: dict[str, np.ndarray],
    labels: dict[str, np.ndarray],
    m0: int,
) -> pd.DataFrame:
    """The frame of codes ``parts`` (emptied) with labels, month and ``values`` columns."""
    cols: dict[str, pa.Array] = {
        "month": pa.array(
            (parts.pop("month") + m0).astype("datetime64[M]").astype("datetime64[ns]")
        )
    }
    for c in order:
        cols[c] = pa.array(labels[c], pa.string()).take(pa.array(parts.pop(c)))
    for c, v in values.items():
        cols[c] = pa.array(v)
    return pa.table(cols).to_pandas(self_destruct=True)


def _rep_month(
    rep_key: np.ndarray, lines: np.ndarray, labels: dict[str, np.ndarray], n_months: int, m0: int
) -> pd.DataFrame:
    """Lines per rep and month (employment and hire-date rules) from each cell-month's
    ``rep_id x n_months + month`` and lines."""
    ru, rinv = np.unique(rep_key, return_inverse=True)
    return pd.DataFrame(
        {
            "rep_id": pd.Series(labels["rep_id"][ru // n_months], dtype=object).astype(str),
            "month": (ru % n_months + m0).astype("datetime64[M]").astype("datetime64[ns]"),
            "lines": np.bincount(rinv.ravel(), weights=lines).round().astype(np.int64),
        }
    )


def _hire_notes(
    reps: pd.DataFrame, rep_month: pd.DataFrame, paths: dict[str, Path], problems: list[Problem]
) -> tuple[pd.DataFrame, list[str]]:
    """Reps without hire_date: hired in the month of their first transaction (io's rule)."""
    notes: list[str] = []
    reps = fill_hire_dates(rep_month, reps, paths, problems, notes)
    return reps, notes


def _cross_notes(
    product_lines: np.ndarray,
    market: pd.DataFrame,
    rep_month: pd.DataFrame,
    reps: pd.DataFrame,
    path: Path,
) -> list[str]:
    """The notes of ``cross_checks`` from the reduced data (product lines, lines per rep
    and month); its problems (unknown reps or regions) were declined before."""
    notes = []
    unknown_pl = sorted(set(product_lines) - set(market["product_line"]))
    if unknown_pl:
        notes.append(no_market_note(path.name, unknown_pl))
    r = reps.set_index("rep_id")
    hire = rep_month["rep_id"].map(r["hire_date"]).dt.to_period("M").dt.to_timestamp()
    end = rep_month["rep_id"].map(r["end_date"])
    end_month = end.dt.to_period("M").dt.to_timestamp()
    outside = (rep_month["month"] < hire) | (end.notna() & (rep_month["month"] > end_month))
    n_out = int(rep_month.loc[outside.to_numpy(), "lines"].sum())
    if n_out:
        notes.append(outside_employment_note(path.name, n_out))
    return notes
