"""The bad-input corpus (tests/bad_input/cases.yaml): each case's exact outcome through the CLI.

Every case is the small valid company in ``tests/bad_input/base/`` with a few edits; binary
variants (GBK, GB18030, UTF-16, Excel) are produced here from the text. Each case either is
accepted with a stated rule (its numbers and note are checked) or gives a one-screen error that
names the file, column, example rows and the fix, with exit code 2 and no traceback, from both
``validate`` and ``run``. Input files are hashed before and after: none ever changes.
"""

from __future__ import annotations

import csv
import datetime as _dt
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from salesanalysis import cli

CORPUS = Path(__file__).parent / "bad_input"
BASE = CORPUS / "base"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text(encoding="utf-8"))[
    "cases"
]
BY_NAME = {c["name"]: c for c in CASES}
EDITS = {
    "write",
    "delete",
    "delimiter",
    "dates",
    "replace",
    "append",
    "encode",
    "excel",
    "pad",
    "symlink",
    "fifo",
}
KEYS = EDITS | {"name", "expect", "period", "stage"}
MAX_SCREEN_LINES = 40


# --------------------------------------------------------------------------------------------
# building a case's folder


def _cell(v: str) -> Any:
    """Excel cells typed as a person's workbook has them: dates, numbers, text."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
        return _dt.datetime.strptime(v, "%Y-%m-%d")
    if re.fullmatch(r"-?\d+", v):
        return int(v)
    if re.fullmatch(r"-?\d+\.\d+", v):
        return float(v)
    return v if v != "" else None


def _to_excel(csv_path: Path, spec: dict[str, Any]) -> None:
    from openpyxl import Workbook

    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8"))))
    wb = Workbook()
    ws = wb.active
    ws.title = str(spec.get("sheet", "Sheet1"))
    for r in spec.get("title_rows", []):
        ws.append(r) if r else ws.append([None])
    ws.append(rows[0])
    for r in rows[1:]:
        ws.append([_cell(v) for v in r])
    for name, content in (spec.get("other_sheets") or {}).items():
        other = wb.create_sheet(str(name))
        for r in (
            (rows[:1] + [[_cell(v) for v in r] for r in rows[1:]])
            if content == "copy"
            else content
        ):
            other.append(r)
    wb.save(csv_path.with_suffix(".xlsx"))
    csv_path.unlink()


def build(case: dict[str, Any], root: Path) -> Path:
    """The case's data folder under ``root``: base/ with the case's edits applied."""
    assert set(case) <= KEYS, f"unknown keys in case {case['name']}: {set(case) - KEYS}"
    d = root / "data"
    shutil.copytree(BASE, d)
    for name, text in (case.get("write") or {}).items():
        (d / name).write_text(text, encoding="utf-8")
    for name in case.get("delete") or []:
        (d / name).unlink()
    for name, sep in (case.get("delimiter") or {}).items():
        rows = list(csv.reader(io.StringIO((d / name).read_text(encoding="utf-8"))))
        out = io.StringIO()
        csv.writer(out, delimiter=sep, lineterminator="\n").writerows(rows)
        (d / name).write_text(out.getvalue(), encoding="utf-8")
    for name, fmt in (case.get("dates") or {}).items():
        text = (d / name).read_text(encoding="utf-8")
        text = re.sub(
            r"\b(\d{4}-\d{2}-\d{2})\b",
            lambda m, f=fmt: _dt.datetime.strptime(m[1], "%Y-%m-%d").strftime(f),
            text,
        )
        (d / name).write_text(text, encoding="utf-8")
    for name, pairs in (case.get("replace") or {}).items():
        text = (d / name).read_text(encoding="utf-8")
        for old, new in pairs:
            assert old in text, f"{case['name']}: {old!r} not in {name}"
            text = text.replace(old, new)
        (d / name).write_text(text, encoding="utf-8")
    for name, text in (case.get("append") or {}).items():
        with open(d / name, "a", encoding="utf-8") as f:
            f.write(text)
    for name, enc in (case.get("encode") or {}).items():
        (d / name).write_bytes((d / name).read_text(encoding="utf-8").encode(enc))
    for name, spec in (case.get("excel") or {}).items():
        _to_excel(d / name, spec)
    for name, size in (case.get("pad") or {}).items():
        with open(d / name, "a", encoding="utf-8") as f:
            f.write("#" + "x" * (int(size) - 2) + "\n")
    for name, target in (case.get("symlink") or {}).items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).symlink_to(target)
    for name in case.get("fifo") or []:
        os.mkfifo(d / name)
    return d


def hashes(folder: Path) -> dict[str, str]:
    """sha256 of each file (a link: of its target); pipes by name only (never opened)."""
    return {
        str(p.relative_to(folder)): (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "fifo"
        )
        for p in sorted(folder.rglob("*"))
        if p.is_file() or p.is_fifo()
    }


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_clean_error(text: str, expected: list[str]) -> None:
    assert "Traceback" not in text, text
    for s in expected:
        assert s in text, f"{s!r} not in:\n{text}"
    assert len(text.splitlines()) <= MAX_SCREEN_LINES, f"more than one screen:\n{text}"


# --------------------------------------------------------------------------------------------
# the corpus


def test_corpus_size_and_names():
    assert len(CASES) >= 30
    assert len(BY_NAME) == len(CASES), "case names are unique"


def test_base_is_valid(capsys):
    code, out, err = run_cli(capsys, "validate", "--data", str(BASE))
    assert code == 0, err
    assert "OK: 35 transaction lines from 2024-01-01 to 2025-03-27" in out


CLI_CASES = [c for c in CASES if c.get("stage") is None]


@pytest.mark.parametrize("case", CLI_CASES, ids=[c["name"] for c in CLI_CASES])
def test_case(case: dict[str, Any], tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a payload that writes to the working folder would show here
    d = build(case, tmp_path)
    before = hashes(d)
    exp = case["expect"]
    out_dir = tmp_path / "reports"
    if case.get("period"):
        code, out, err = run_cli(
            capsys,
            "run",
            "--data",
            str(d),
            "--period",
            case["period"],
            "--out",
            str(out_dir),
            "--quiet",
        )
    else:
        code, out, err = run_cli(capsys, "validate", "--data", str(d))
    assert code == exp["exit"], f"exit {code}\nstdout:\n{out}\nstderr:\n{err}"
    assert_clean_error(err if code else out, exp.get("output", []))
    if code:
        assert out == "", "errors go to stderr only"
        if not case.get("period"):  # `run` stops at the same problem, before any step
            code2, _, err2 = run_cli(
                capsys, "run", "--data", str(d), "--out", str(out_dir), "--quiet"
            )
            assert code2 == code
            assert_clean_error(err2, exp.get("output", []))
        runs = [json.loads(p.read_text(encoding="utf-8")) for p in out_dir.glob("*/run.json")]
        assert runs and all(r["status"] == "failed" for r in runs), "a failed run leaves run.json"
        assert not [
            p
            for p in out_dir.iterdir()
            if p.is_dir() and not p.name.endswith(".failed") and not p.name.startswith(".")
        ], "no report folder for a failed run"
    else:
        check_numbers(d, exp)
    assert hashes(d) == before, "an input file changed (or a file appeared in the data folder)"
    assert not (tmp_path / "PWNED").exists()


def check_numbers(d: Path, exp: dict[str, Any]) -> None:
    from salesanalysis.data.readers import load_dataset

    ds = load_dataset(d, d / "plan.yaml", today=_dt.date(2026, 1, 1))
    tx = ds.transactions
    if "lines" in exp:
        assert len(tx) == exp["lines"]
    if "revenue" in exp:
        assert tx["revenue"].sum() == pytest.approx(exp["revenue"])
    if "reps" in exp:
        assert len(ds.reps) == exp["reps"]
    if "market_total" in exp:
        assert ds.market["market_size"].sum() == pytest.approx(exp["market_total"])
    for col, labels in (exp.get("labels") or {}).items():
        table, _, c = col.rpartition(".")
        frame = {"": tx, "reps": ds.reps, "market": ds.market}[table]
        assert set(labels) <= set(frame[c]), f"{labels} not all in {sorted(set(frame[c]))}"
    for order, day in (exp.get("dates") or {}).items():
        assert f"{tx.loc[tx['order_id'] == order, 'date'].iloc[0]:%Y-%m-%d}" == day
    for rep, day in (exp.get("hire_dates") or {}).items():
        assert f"{ds.reps.set_index('rep_id').loc[rep, 'hire_date']:%Y-%m-%d}" == day
    # the normalised frames keep the contract whatever the input looked like
    assert tx["month"].dt.is_month_start.all() and tx["revenue"].dtype == "float64"
    assert (
        not tx[["order_id", "customer_id", "region", "product_line", "rep_id"]]
        .isin(["", "nan"])
        .any()
        .any()
    )
    assert ds.reps["hire_date"].notna().all()


PREPARE_CASES = [c for c in CASES if c.get("stage") == "prepare"]


@pytest.mark.parametrize("case", PREPARE_CASES, ids=[c["name"] for c in PREPARE_CASES])
def test_prepare_case(case: dict[str, Any], tmp_path: Path):
    from salesanalysis.data.context import prepare

    d = build(case, tmp_path)
    before = hashes(d)
    manifest = prepare(d, d / "plan.yaml", tmp_path / "outputs", case["period"])
    text = "\n".join(manifest["notes"])
    for s in case["expect"]["notes"]:
        assert s in text, f"{s!r} not in {text}"
    assert manifest["period"] == case["period"]
    assert hashes(d) == before


DECOMPOSE_CASES = [c for c in CASES if c.get("stage") == "decompose"]


@pytest.mark.parametrize("case", DECOMPOSE_CASES, ids=[c["name"] for c in DECOMPOSE_CASES])
def test_decompose_case(case: dict[str, Any], tmp_path: Path):
    """Checks that need the data (pins) are made by salesanalysis.targets.decompose."""
    from salesanalysis import errors
    from salesanalysis.data.cube import build_cube, build_customer_cube
    from salesanalysis.data.readers import load_dataset
    from salesanalysis.targets.decompose import decompose

    d = build(case, tmp_path)
    before = hashes(d)
    ds = load_dataset(d, d / "plan.yaml")
    tx = ds.transactions
    with pytest.raises(getattr(errors, case["expect"]["raises"])) as ei:
        decompose(build_cube(tx), build_customer_cube(tx), ds.reps, ds.market, None, ds.plan)
    assert_clean_error(ei.value.render(), case["expect"]["output"])
    assert ei.value.exit_code != 0
    assert hashes(d) == before


# --------------------------------------------------------------------------------------------
# the real command, in its own process


def _proc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "salesanalysis.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_process_exit_codes_and_debug(tmp_path: Path):
    """One case through a real process: exit 2 and a clean block; --debug adds the traceback."""
    d = build(BY_NAME["tx_text_in_revenue"], tmp_path)
    before = hashes(d)
    r = _proc("validate", "--data", str(d), cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert_clean_error(r.stderr, BY_NAME["tx_text_in_revenue"]["expect"]["output"])
    r = _proc("validate", "--data", str(d), "--debug", cwd=tmp_path)
    assert r.returncode == 2
    assert "Traceback" in r.stderr and "InputError" in r.stderr and "'三百', 'TBD'" in r.stderr
    r = _proc(
        "run", "--data", str(d), "--out", str(tmp_path / "r"), "--period", "2025-02", cwd=tmp_path
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr and "rows: 5, 10" in r.stderr
    assert hashes(d) == before


def test_unexpected_error_has_no_traceback_without_debug(tmp_path: Path, capsys, monkeypatch):
    """A bug (not an input problem) is one line plus a hint to use --debug."""
    import salesanalysis.data.ingest as ingest

    def boom(*a, **k):
        raise KeyError("internal")

    monkeypatch.setattr(ingest, "load_cubes", boom)  # what validate reads with, as run does
    code, out, err = run_cli(capsys, "validate", "--data", str(BASE))
    assert code == 1 and "Traceback" not in err and "--debug" in err


# --------------------------------------------------------------------------------------------
# reader rules the corpus relies on, stated as properties


def test_blank_and_null_markers_are_empty():
    from salesanalysis.data.contract import NULL_MARKERS
    from salesanalysis.data.rules import blank_cells

    s = pd.Series(["a", "", "  ", None, *sorted(NULL_MARKERS), "NA", "0"], dtype=object)
    got = blank_cells(s).tolist()
    assert got[:4] == [False, True, True, True]
    assert all(got[4:-2]) and got[-2:] == [False, False]  # NA (North America) and 0 are values


@pytest.mark.parametrize(
    "values,expected",
    [
        (["1,234.50", "12"], [1234.5, 12.0]),
        (["1.234,50", "12"], [1234.5, 12.0]),
        (["12,5", "3"], [12.5, 3.0]),
        (["1 234", "¥56", "(7)", "+8", "１２"], [1234.0, 56.0, -7.0, 8.0, 12.0]),
        (["1,234", "5"], [1234.0, 5.0]),  # a comma before three digits is a thousands separator
    ],
)
def test_number_rules(values, expected):
    from salesanalysis.data.readers import _to_number

    assert _to_number(pd.Series(values, dtype=object), None, None).tolist() == expected


def test_date_rules():
    from salesanalysis.data.readers import _to_date

    def iso(values, **k):
        return [f"{d:%Y-%m-%d}" for d in _to_date(pd.Series(values, dtype=object), None, **k)]

    assert iso(["2025/1/5", "2025年1月6日", "20250107", "2025-01-08T10:00:00+08:00"]) == [
        "2025-01-05",
        "2025-01-06",
        "2025-01-07",
        "2025-01-08",
    ]
    assert iso(["05.01.2025", "06.01.2025"]) == ["2025-01-05", "2025-01-06"]  # dotted: day first
    assert iso(["01/13/2025", "02/01/2025"]) == ["2025-01-13", "2025-02-01"]  # month first
    assert iso([45662, "2025-01-06"], excel=True) == ["2025-01-05", "2025-01-06"]  # Excel serial


# --------------------------------------------------------------------------------------------
# the same errors in Chinese (issue 16: report-facing errors in the report's language)

ERROR_CASES = [c for c in CLI_CASES if c["expect"]["exit"] != 0 and not c.get("period")]
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`|--[a-z][a-z-]*")
MESSAGE_TOKENS = {"CSV", "Excel", "UTF-8", "GBK", "GB18030", "UTF-16", "YAML", "YYYY-MM-DD"}
"""Latin tokens a Chinese error message may show besides the company's data: file formats and
encodings, the date pattern a reader types."""


def chinese_leaks(text: str, folder: Path) -> list[str]:
    """Latin words of an error message that are neither quoted (values, columns, commands,
    options) nor the company's own data (the labels and headers of its files)."""
    from salesanalysis import i18n

    allowed = set(MESSAGE_TOKENS)
    for p in folder.rglob("*"):
        if not p.is_file() or p.is_symlink():
            continue
        raw = p.read_bytes()[:1_000_000].decode("utf-8", "ignore")
        if p.suffix in {".csv", ".txt", ".tsv"}:
            allowed |= set(re.split(r"[,;\t\n|]", raw))
        elif p.suffix == ".yaml":  # its values, not its keys or comments (never parsed here)
            for line in raw.splitlines()[:2000]:
                value = line.split("#", 1)[0].partition(":")[2] or line.strip().removeprefix("-")
                allowed |= set(re.split(r"[,{}\[\]]", value))
    return i18n.leaked_words(_QUOTED.sub(" ", text), "zh", allowed)


@pytest.mark.parametrize("case", ERROR_CASES, ids=[c["name"] for c in ERROR_CASES])
def test_error_reads_in_chinese(case: dict[str, Any], tmp_path: Path, capsys, monkeypatch):
    """A company whose plan reads in Chinese gets its input errors in Chinese: the same case,
    the same exit code, no English word outside its own data, quoted values and commands."""
    monkeypatch.chdir(tmp_path)
    d = build(case, tmp_path)
    plan = d / "plan.yaml"
    if plan.is_file() and not plan.is_symlink():
        raw = plan.read_bytes()
        if b"language: en" in raw:
            plan.write_bytes(raw.replace(b"language: en", b"language: zh"))
    code, out, err = run_cli(capsys, "validate", "--data", str(d))
    assert code == case["expect"]["exit"], err
    assert "Traceback" not in err
    assert chinese_leaks(err, d) == [], err


@pytest.mark.parametrize("case", DECOMPOSE_CASES, ids=[c["name"] for c in DECOMPOSE_CASES])
def test_decompose_error_reads_in_chinese(case: dict[str, Any], tmp_path: Path):
    """The checks the decomposition makes read in Chinese too (as the CLI cases above)."""
    from salesanalysis import errors, i18n
    from salesanalysis.data.cube import build_cube, build_customer_cube
    from salesanalysis.data.readers import load_dataset
    from salesanalysis.targets.decompose import decompose

    d = build(case, tmp_path)
    ds = load_dataset(d, d / "plan.yaml")
    tx = ds.transactions
    i18n.set_report("zh")
    with pytest.raises(getattr(errors, case["expect"]["raises"])) as ei:
        decompose(build_cube(tx), build_customer_cube(tx), ds.reps, ds.market, None, ds.plan)
    text = ei.value.render()
    assert chinese_leaks(text, d) == [], text
