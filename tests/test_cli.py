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
    assert "quantity" in r.stderr and "rows: 2" in r.stderr and "'abc'" in r.stderr
    assert "transactions.csv" in r.stderr and "fix:" in r.stderr
    assert {p.name: sha256_file(p) for p in tiny_dir.iterdir()} == before


def test_debug_shows_traceback(tiny_dir: Path):
    (tiny_dir / "reps.csv").unlink()
    r = _cli("validate", "--data", str(tiny_dir), "--debug")
    assert r.returncode == 2 and "Traceback" in r.stderr and "no reps file" in r.stderr


def test_run_with_bad_period_exits_2(tiny_dir: Path, tmp_path: Path):
    r = _cli("run", "--data", str(tiny_dir), "--period", "2031-01", "--out", str(tmp_path / "r"))
    assert r.returncode == 2 and "has no data" in r.stderr and "Traceback" not in r.stderr
