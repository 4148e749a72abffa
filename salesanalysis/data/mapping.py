"""``mapping.yaml`` (renames, encodings, delimiters, date formats per input) and finding each
input file in the data folder; the sha256 of input files.

Input files are read only inside the data folder: a ``file:`` in ``mapping.yaml`` may not be an
absolute path or contain ``..``, and neither it nor a file found by name may be a symbolic link
leading out of the folder, unless the command was given ``--allow-outside``
(:func:`files_outside_data_folder`). Pipes (FIFOs), devices and folders are refused as "not a
regular file" in any case, before anything is opened.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from salesanalysis.data.contract import DUPLICATE_RULES, MAPPING_FILE, SCHEMAS, SUFFIXES
from salesanalysis.errors import InputError, Problem
from salesanalysis.i18n import N_, tr
from salesanalysis.untrusted import MAX_LABEL_CHARS, load_settings_yaml


def sha256_file(path: Path) -> str:
    """The sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------------------------
# mapping file


_MAPPING_KEYS = {
    "file",
    "encoding",
    "delimiter",
    "decimal",
    "thousands",
    "date_format",
    "sheet",
    "header_row",
    "columns",
    "ignore",
    "duplicates",  # transactions only: keep (default) or drop_exact
}


_TEXT_SETTINGS = ("file", "encoding", "delimiter", "decimal", "thousands", "date_format")


def _is_name(value: Any) -> bool:
    """A column name as YAML may give it: text or a number, at most MAX_LABEL_CHARS long."""
    return (
        isinstance(value, str | int | float)
        and not isinstance(value, bool)
        and 0 < len(str(value)) <= MAX_LABEL_CHARS
    )


def _value_problems(table: str, settings: dict[str, Any], path: Path) -> list[Problem]:
    """Settings that are not short text (or a name) where text is expected."""
    problems = []
    short = tr("at most {n} characters").format(n=MAX_LABEL_CHARS)
    for key in _TEXT_SETTINGS:
        v = settings.get(key)
        if v is not None and not (isinstance(v, str) and len(v) <= MAX_LABEL_CHARS):
            problems.append(
                Problem(
                    tr("'{key}' must be a short text ({short})").format(
                        key=f"{table}.{key}", short=short
                    ),
                    file=str(path),
                    values=[v],
                )
            )
    if "sheet" in settings and not _is_name(settings["sheet"]):
        problems.append(
            Problem(
                tr("'{key}' must be a sheet name or number ({short})").format(
                    key=f"{table}.sheet", short=short
                ),
                file=str(path),
                values=[settings["sheet"]],
            )
        )
    ignore = settings.get("ignore", []) or []
    if isinstance(ignore, list):
        bad = [i for i, v in enumerate(ignore) if not _is_name(v)]
        if bad:
            problems.append(
                Problem(
                    tr(
                        "'{key}' must list column names ({short} each); item {i} is not one"
                    ).format(key=f"{table}.ignore", short=short, i=bad[0] + 1),
                    file=str(path),
                    values=[ignore[bad[0]]],
                    count=len(bad),
                )
            )
    cols = settings.get("columns", {}) or {}
    if isinstance(cols, dict):
        bad_cols = [k for k in cols if not _is_name(k)]
        if bad_cols:
            problems.append(
                Problem(
                    tr("'{key}' must name your columns ({short} each)").format(
                        key=f"{table}.columns", short=short
                    ),
                    file=str(path),
                    values=bad_cols[:1],
                )
            )
    return problems


def load_mapping(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Read ``mapping.yaml`` in ``data_dir`` (empty mapping when there is none).

    The file is read with the package's safe YAML loader (at most 1 MB, no aliases); names in
    it must be short text (see :mod:`salesanalysis.untrusted`).
    """
    path = Path(data_dir) / MAPPING_FILE
    if not os.path.lexists(path):
        return {}
    _confine(Path(data_dir), path, tr("the mapping file {path}").format(path=path))
    raw = load_settings_yaml(path, InputError, "mapping file") or {}
    problems = []
    if not isinstance(raw, dict):
        raise InputError(
            tr("{path} must be a mapping of table name to settings").format(path=path),
            fix=tr("Start each table with its name, e.g. 'transactions:'."),
        )
    raw = dict(raw)
    top_rule = raw.pop("duplicates", None)
    if top_rule is not None:
        problems.extend(_duplicates_problems("duplicates", top_rule, path))
    for table, settings in raw.items():
        if table not in SCHEMAS:
            problems.append(
                Problem(
                    tr("unknown table '{table}'").format(table=table),
                    file=str(path),
                    fix=tr("Use one of: {tables} (and the top-level 'duplicates').").format(
                        tables=", ".join(f"'{t}'" for t in SCHEMAS)
                    ),
                )
            )
            continue
        if not isinstance(settings, dict):
            why = tr("settings for '{table}' must be a mapping").format(table=table)
            problems.append(Problem(why, file=str(path)))
            continue
        for key in settings:
            if key not in _MAPPING_KEYS:
                problems.append(
                    Problem(
                        tr("unknown setting '{key}'").format(key=f"{table}.{key}"),
                        file=str(path),
                        fix=tr("Allowed settings: {keys}.").format(
                            keys=", ".join(f"'{k}'" for k in sorted(_MAPPING_KEYS))
                        ),
                    )
                )
        problems.extend(_value_problems(str(table), settings, path))
        if "duplicates" in settings:
            if table != "transactions":
                problems.append(
                    Problem(
                        tr(
                            "'{key}' is not a setting: the duplicates rule applies to the "
                            "transactions"
                        ).format(key=f"{table}.duplicates"),
                        file=str(path),
                        fix=tr(
                            "Set it as 'transactions: {{duplicates: drop_exact}}' or at the top "
                            "level ('duplicates: drop_exact')."
                        ).format(),
                    )
                )
            else:
                problems.extend(
                    _duplicates_problems(f"{table}.duplicates", settings["duplicates"], path)
                )
        ignore = settings.get("ignore", []) or []
        if not isinstance(ignore, list):
            problems.append(
                Problem(
                    tr("'{key}' must be a list of column names").format(key=f"{table}.ignore"),
                    file=str(path),
                    fix=tr("e.g. ignore: [备注, invoice_no]"),
                )
            )
        if "header_row" in settings and not (
            isinstance(settings["header_row"], int) and settings["header_row"] >= 1
        ):
            problems.append(
                Problem(
                    tr("'{key}' must be a line number (1 = first line)").format(
                        key=f"{table}.header_row"
                    ),
                    file=str(path),
                    values=[settings["header_row"]],
                )
            )
        cols = settings.get("columns", {}) or {}
        if not isinstance(cols, dict):
            problems.append(
                Problem(
                    tr("'{key}' must map your column names to contract names").format(
                        key=f"{table}.columns"
                    ),
                    file=str(path),
                )
            )
            continue
        for src, dst in cols.items():
            if not isinstance(dst, str) or dst not in SCHEMAS[table].columns:
                problems.append(
                    Problem(
                        tr("'{key}' maps '{src}' to unknown contract column '{dst}'").format(
                            key=f"{table}.columns", src=src, dst=dst
                        ),
                        file=str(path),
                        fix=tr("Contract columns: {columns}.").format(
                            columns=", ".join(f"'{c}'" for c in SCHEMAS[table].columns)
                        ),
                    )
                )
    if problems:
        raise InputError(tr("the mapping file {path} is invalid").format(path=path), problems)
    out = {k: dict(v) for k, v in raw.items()}
    if top_rule is not None:  # the top-level rule is the transactions' unless they set their own
        out.setdefault("transactions", {}).setdefault("duplicates", top_rule)
    return out


def _duplicates_problems(key: str, value: Any, path: Path) -> list[Problem]:
    """``duplicates:`` must be one of :data:`DUPLICATE_RULES`."""
    if isinstance(value, str) and value in DUPLICATE_RULES:
        return []
    return [
        Problem(
            tr("'{key}' must be keep or drop_exact").format(key=key),
            file=str(path),
            values=[value],
            fix=tr(
                "keep (the default) counts identical rows as separate sales (one row per "
                "item); drop_exact counts rows identical on every column once (export "
                "duplicates)."
            ),
        )
    ]


def duplicates_rule(settings: dict[str, Any]) -> str:
    """The transactions' duplicates rule from their mapping settings (default ``keep``)."""
    return str(settings.get("duplicates") or "keep")


# --------------------------------------------------------------------------------------------
# raw readers


_ALLOW_OUTSIDE: ContextVar[bool] = ContextVar("salesanalysis_allow_outside", default=False)

OUTSIDE_FIX = N_(
    "Copy the file into the data folder (a subfolder is fine) and name it relative to the "
    "folder, e.g. 'file: exports/sales.csv'; or, if you trust the file, run the command with "
    "--allow-outside."
)


@contextmanager
def files_outside_data_folder(allowed: bool = True) -> Iterator[None]:
    """Within this block, input files may be read from outside the data folder (the CLI's
    ``--allow-outside``). Pipes and devices are refused all the same."""
    token = _ALLOW_OUTSIDE.set(bool(allowed))
    try:
        yield
    finally:
        _ALLOW_OUTSIDE.reset(token)


def _regular(path: Path, what: str) -> None:
    """Refuse anything but a regular file (following links), without opening it."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # a missing file is reported by the caller
    if not stat.S_ISREG(mode):
        raise InputError(
            (
                tr("{what} is not a regular file (it is a folder)")
                if stat.S_ISDIR(mode)
                else tr("{what} is not a regular file (it is a pipe, device or socket)")
            ).format(what=what),
            fix=tr("Name a plain file saved in the data folder."),
        )


def _confine(data_dir: Path, path: Path, what: str, allow: bool | None = None) -> None:
    """Refuse ``path`` when it resolves (links followed) outside ``data_dir``."""
    if allow if allow is not None else _ALLOW_OUTSIDE.get():
        return
    try:
        real, base = path.resolve(), data_dir.resolve()
    except (OSError, RuntimeError):  # a loop of links
        raise InputError(
            tr("{what} is a link that cannot be followed").format(what=what), fix=tr(OUTSIDE_FIX)
        ) from None
    if not real.is_relative_to(base):
        raise InputError(
            tr(
                "{what} is a link to {real}, outside the data folder {base}; "
                "input files are read only inside the data folder"
            ).format(what=what, real=real, base=base),
            fix=tr(OUTSIDE_FIX),
        )


def _mapped_path(data_dir: Path, table: str, name: str, allow: bool) -> Path:
    """The file ``name`` given as ``<table>.file`` in mapping.yaml, checked to stay inside."""
    where = tr("the {table} file '{name}' named in {mapping}").format(
        table=table, name=name, mapping=MAPPING_FILE
    )
    if not allow:
        if PurePosixPath(name).is_absolute() or PureWindowsPath(name).anchor:
            raise InputError(
                tr(
                    "{where} is an absolute path; input files are read only inside the data "
                    "folder {folder}"
                ).format(where=where, folder=data_dir),
                fix=tr(OUTSIDE_FIX),
            )
        if ".." in PureWindowsPath(name).parts:  # splits on both / and \\
            raise InputError(
                tr(
                    "{where} goes up out of the folder ('..'); input files are read only inside "
                    "the data folder {folder}"
                ).format(where=where, folder=data_dir),
                fix=tr(OUTSIDE_FIX),
            )
    return data_dir / name


def find_input(
    data_dir: Path,
    table: str,
    mapping: dict[str, Any] | None = None,
    allow_outside: bool | None = None,
) -> Path:
    """Locate the file for ``table`` in ``data_dir`` (``<table>.csv|parquet|xlsx`` or the
    mapping's ``file``).

    Args:
        allow_outside: read files outside the data folder (absolute paths, ``..``, links out);
            None = as set by :func:`files_outside_data_folder` (default: no).

    Raises:
        InputError: no such file, several candidates, a file outside the data folder, or not
            a regular file (a pipe or device is never opened).
    """
    data_dir = Path(data_dir)
    allow = _ALLOW_OUTSIDE.get() if allow_outside is None else bool(allow_outside)
    settings = (mapping or {}).get(table, {})
    if settings.get("file"):
        path = _mapped_path(data_dir, table, str(settings["file"]), allow)
        where = tr("the {table} file '{name}' named in {mapping}").format(
            table=table, name=path, mapping=MAPPING_FILE
        )
        not_there = tr("{where} does not exist").format(where=where)
        fix = tr("Correct '{key}' in {mapping}.").format(
            key=f"{table}.file", mapping=data_dir / MAPPING_FILE
        )
        if not os.path.lexists(path):
            raise InputError(not_there, fix=fix)
        _confine(data_dir, path, where, allow)
        _regular(path, where)
        if not path.is_file():
            raise InputError(not_there, fix=fix)
        return path
    found = [
        data_dir / f"{table}{s}" for s in SUFFIXES if os.path.lexists(data_dir / f"{table}{s}")
    ]
    if not found:
        raise InputError(
            tr("no {table} file in {folder}").format(table=table, folder=data_dir),
            fix=tr(
                "Put {table}.csv (or .parquet / .xlsx) there, or name the file as "
                "'{table}: {{file: ...}}' in {mapping}."
            ).format(table=table, mapping=MAPPING_FILE),
        )
    if len(found) > 1:
        raise InputError(
            tr("several {table} files in {folder}: {files}").format(
                table=table, folder=data_dir, files=", ".join(p.name for p in found)
            ),
            fix=tr("Keep one, or name the one to use in mapping.yaml."),
        )
    path = found[0]
    what = tr("the {table} file {path}").format(table=table, path=path)
    _confine(data_dir, path, what, allow)
    _regular(path, what)
    if not path.is_file():
        raise InputError(
            tr("the {table} file {path} is a broken link").format(table=table, path=path),
            fix=tr("Put {table}.csv (or .parquet / .xlsx) in {folder}.").format(
                table=table, folder=data_dir
            ),
        )
    return path
