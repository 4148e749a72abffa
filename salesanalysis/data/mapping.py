"""``mapping.yaml`` (renames, encodings, delimiters, date formats per input) and finding each
input file in the data folder; the sha256 of input files."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from salesanalysis.data.contract import MAPPING_FILE, SCHEMAS, SUFFIXES
from salesanalysis.errors import InputError, Problem


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
}


def load_mapping(data_dir: Path) -> dict[str, dict[str, Any]]:
    """Read ``mapping.yaml`` in ``data_dir`` (empty mapping when there is none)."""
    path = Path(data_dir) / MAPPING_FILE
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise InputError(
            f"cannot read {path}: {e}", fix="Save mapping.yaml as UTF-8 and check its YAML syntax."
        ) from None
    problems = []
    if not isinstance(raw, dict):
        raise InputError(
            f"{path} must be a mapping of table name to settings",
            fix="Start each table with its name, e.g. 'transactions:'.",
        )
    for table, settings in raw.items():
        if table not in SCHEMAS:
            problems.append(
                Problem(
                    f"unknown table '{table}'",
                    file=str(path),
                    fix=f"Use one of: {', '.join(SCHEMAS)}.",
                )
            )
            continue
        if not isinstance(settings, dict):
            problems.append(Problem(f"settings for '{table}' must be a mapping", file=str(path)))
            continue
        for key in settings:
            if key not in _MAPPING_KEYS:
                problems.append(
                    Problem(
                        f"unknown setting '{table}.{key}'",
                        file=str(path),
                        fix=f"Allowed settings: {', '.join(sorted(_MAPPING_KEYS))}.",
                    )
                )
        ignore = settings.get("ignore", []) or []
        if not isinstance(ignore, list):
            problems.append(
                Problem(
                    f"'{table}.ignore' must be a list of column names",
                    file=str(path),
                    fix="e.g. ignore: [备注, invoice_no]",
                )
            )
        if "header_row" in settings and not (
            isinstance(settings["header_row"], int) and settings["header_row"] >= 1
        ):
            problems.append(
                Problem(
                    f"'{table}.header_row' must be a line number (1 = first line)",
                    file=str(path),
                    values=[settings["header_row"]],
                )
            )
        cols = settings.get("columns", {}) or {}
        if not isinstance(cols, dict):
            problems.append(
                Problem(
                    f"'{table}.columns' must map your column names to contract names",
                    file=str(path),
                )
            )
            continue
        for src, dst in cols.items():
            if dst not in SCHEMAS[table].columns:
                problems.append(
                    Problem(
                        f"'{table}.columns' maps '{src}' to unknown contract column '{dst}'",
                        file=str(path),
                        fix=f"Contract columns: {', '.join(SCHEMAS[table].columns)}.",
                    )
                )
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
        if not path.is_file():
            raise InputError(
                f"the {table} file '{path}' named in {MAPPING_FILE} does not exist",
                fix=f"Correct '{table}.file' in {data_dir / MAPPING_FILE}.",
            )
        return path
    found = [data_dir / f"{table}{s}" for s in SUFFIXES if (data_dir / f"{table}{s}").is_file()]
    if not found:
        raise InputError(
            f"no {table} file in {data_dir}",
            fix=f"Put {table}.csv (or .parquet / .xlsx) there, or name the file as "
            f"'{table}: {{file: ...}}' in {MAPPING_FILE}.",
        )
    if len(found) > 1:
        raise InputError(
            f"several {table} files in {data_dir}: {', '.join(p.name for p in found)}",
            fix="Keep one, or name the one to use in mapping.yaml.",
        )
    return found[0]
