"""The command line: clean errors and exit codes, validate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from salesanalysis.data.readers import sha256_file


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "salesanalysis.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def _zh(msgid: str) -> str:
    """``msgid`` in Chinese: a data folder without a plan reads in the default language."""
    from salesanalysis import i18n

    i18n.set_report("zh")
    try:
        return i18n.tr(msgid)
    finally:
        i18n.set_report(i18n.SOURCE_LANGUAGE)


def test_validate_sample_ok():
    r = _cli("validate")
    assert r.returncode == 0, r.stderr
    assert "OK:" in r.stdout and "transaction lines" in r.stdout


def test_validate_bad_input_is_one_clean_block(tiny_dir: Path):
    (tiny_dir / "transactions.csv").write_text(
        "date,order_id,customer_id,customer_type,region,product_line,rep_id,quantity,revenue\n"
        "2025-01-05,O1,C1,SMB,华东,Pumps,R1,abc,200\n",
        encoding="utf-8",
    )
    before = {p.name: sha256_file(p) for p in tiny_dir.iterdir()}
    r = _cli("validate", "--data", str(tiny_dir))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    rows, fix = _zh("rows: {rows}").format(rows=2), _zh("fix: {fix}").format(fix="")
    assert "quantity" in r.stderr and rows in r.stderr and "'abc'" in r.stderr
    assert "transactions.csv" in r.stderr and fix in r.stderr
    assert {p.name: sha256_file(p) for p in tiny_dir.iterdir()} == before


def test_debug_shows_traceback(tiny_dir: Path):
    (tiny_dir / "reps.csv").unlink()
    r = _cli("validate", "--data", str(tiny_dir), "--debug")
    no_reps = _zh("no {table} file in {folder}").format(table="reps", folder=tiny_dir)
    assert r.returncode == 2 and "Traceback" in r.stderr and no_reps in r.stderr


def test_run_with_bad_period_exits_2(tiny_dir: Path, tmp_path: Path):
    r = _cli("run", "--data", str(tiny_dir), "--period", "2031-01", "--out", str(tmp_path / "r"))
    no_data = _zh("report period {period} has no data: the transactions end in {last}")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert no_data.split("{last}")[0].format(period="2031-01") in r.stderr
