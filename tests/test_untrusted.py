"""Untrusted files (issue 14): no formulas from data in workbooks, checked plan records, bounded
YAML, input files confined to the data folder.

The corpus cases of the same kinds (exit code and message through ``validate`` and ``run``) are in
``tests/bad_input/cases.yaml``; here are the checks that need more than a data folder: workbooks
read back with openpyxl, plan records built from a real decomposition, time and memory ceilings
measured on a real process.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesanalysis import cli
from salesanalysis.errors import InputError, PlanError, RecordError
from salesanalysis.untrusted import load_settings_yaml, neutralise_cell

from .test_bad_input import BASE

REPO = Path(__file__).resolve().parent.parent
PAYLOADS = {
    "hyperlink": '=HYPERLINK("http://x","y")',
    "dde": "=cmd|' /C calc'!A0",
    "plus": "+1+1",
    "at": "@SUM(A1)",
    "minus": "-2+3",
}


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def _cli_measured(*args: str, timeout: float = 120) -> tuple[int, str, str, float, float]:
    """Run ``python -m salesanalysis.cli`` in its own process: exit code, stdout, stderr,
    seconds, and that process's own peak resident memory in MB (``os.wait4``)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _MEASURED_CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=REPO,
    )
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []

    def drain(stream: Any, into: list[bytes]) -> None:
        for chunk in iter(lambda: stream.read(65536), b""):
            into.append(chunk)

    threads = [
        threading.Thread(target=drain, args=(proc.stdout, out_chunks), daemon=True),
        threading.Thread(target=drain, args=(proc.stderr, err_chunks), daemon=True),
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            raise AssertionError(f"{args} did not finish within {timeout} s")
        time.sleep(0.02)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    for t in threads:
        t.join(5)
    err = b"".join(err_chunks).decode()
    peak = re.search(r"^VmHWM-MB (\d+(?:\.\d+)?)$", err, flags=re.M)
    mb = float(peak.group(1)) if peak else usage.ru_maxrss / 1024  # kB on Linux
    err = re.sub(r"^VmHWM-MB .*\n?", "", err, flags=re.M)
    return (proc.returncode, b"".join(out_chunks).decode(), err, seconds, mb)


# The CLI in a child that reports its own peak resident memory at exit (VmHWM of its own
# address space). ru_maxrss from wait4 is not usable here: Linux carries the parent's
# high-water mark over fork and exec, so a child of a large pytest process "peaks" at the
# size of pytest whatever it does itself.
_MEASURED_CLI = """
import atexit, re, runpy, sys

def _peak():
    try:
        kb = re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)
        sys.stderr.write(f"VmHWM-MB {int(kb) / 1024:.1f}\\n")
    except (OSError, AttributeError):
        pass

atexit.register(_peak)
sys.argv = ["salesanalysis", *sys.argv[1:]]
runpy.run_module("salesanalysis.cli", run_name="__main__")
"""


def _tree(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        if p.is_file()
        else ""
        for p in sorted(folder.rglob("*"))
    }


# --------------------------------------------------------------------------------------------
# 1. no formulas from data in any workbook


def test_neutralise_cell():
    for text in PAYLOADS.values():
        assert neutralise_cell(text) == "'" + text
    assert neutralise_cell("\tx") == "'\tx" and neutralise_cell("\r=1") == "'\r=1"
    for plain in ("-2", "+3.5", "-1e5", ".5", "华东", "R1", "", "a=b"):
        assert neutralise_cell(plain) == plain
    assert neutralise_cell(-5) == -5 and neutralise_cell(None) is None


def _cells(path: Path) -> list[Any]:
    from openpyxl import load_workbook

    wb = load_workbook(path)
    return [c for ws in wb for row in ws.iter_rows() for c in row]


def test_control_default_xlsxwriter_writes_formulas(tmp_path: Path):
    """Without the guards, pandas + xlsxwriter turn such text into formula cells."""
    pd.DataFrame({"name": [PAYLOADS["hyperlink"]]}).to_excel(
        tmp_path / "x.xlsx", index=False, engine="xlsxwriter"
    )
    assert any(c.data_type == "f" for c in _cells(tmp_path / "x.xlsx"))


def test_write_excel_has_no_formula_cells(tmp_path: Path):
    from salesanalysis.report.excel import write_excel

    labels = list(PAYLOADS.values())
    df = pd.DataFrame(
        {
            "rep_id": labels,
            "name": pd.Series(labels, dtype="string"),
            "region": pd.Categorical(labels),
            "label_number": ["-2", "+3", "1", "-0.5", "7"],
            "revised_revenue": [-5000.0, 1.0, 2.0, 3.0, 4.0],
            "=SUM(A1)": [1, 2, 3, 4, 5],
        }
    )
    path = write_excel({"revised_targets": df}, tmp_path / "revised_targets.xlsx")
    cells = _cells(path)
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    values = [c.value for c in cells]
    for text in labels:
        assert values.count("'" + text) == 3 and text not in values
    assert "'=SUM(A1)" in values  # a header from data is neutralised too
    assert -5000 in values  # a negative number stays a number
    assert {"-2", "+3", "-0.5"} <= set(values)  # text that is a plain number is left alone
    assert df["rep_id"].tolist() == labels  # the caller's frame is not changed


@pytest.fixture(scope="module")
def hostile_decomposition(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The corpus base company with every kind of label (and the plan and strategy names)
    replaced by formula payloads, decomposed."""
    from salesanalysis.data.cube import build_cube, build_customer_cube
    from salesanalysis.data.readers import load_dataset
    from salesanalysis.targets.decompose import decompose

    d = tmp_path_factory.mktemp("hostile") / "data"
    shutil.copytree(BASE, d)
    frames = {
        n: pd.read_csv(d / f"{n}.csv", dtype=str) for n in ("transactions", "reps", "market")
    }
    for f in frames.values():
        f.replace({"华北": PAYLOADS["dde"], "Valves": PAYLOADS["plus"]}, inplace=True)
    tx, reps = frames["transactions"], frames["reps"]
    tx["customer_type"] = tx["customer_type"].replace({"Key Account": PAYLOADS["at"]})
    tx["rep_id"] = tx["rep_id"].replace({"R2": PAYLOADS["minus"]})
    reps["rep_id"] = reps["rep_id"].replace({"R2": PAYLOADS["minus"]})
    reps.loc[0, "name"] = PAYLOADS["hyperlink"]
    for n, f in frames.items():
        f.to_csv(d / f"{n}.csv", index=False)
    plan = yaml.safe_load((d / "plan.yaml").read_text(encoding="utf-8"))
    plan["name"] = PAYLOADS["hyperlink"]
    plan["strategies"] = [
        {
            "name": PAYLOADS["dde"],
            "segment": {"product_line": "Pumps"},
            "kind": "price",
            "pct": 0.03,
            "rationale": PAYLOADS["at"],
        }
    ]
    (d / "plan.yaml").write_text(yaml.safe_dump(plan, allow_unicode=True), encoding="utf-8")
    ds = load_dataset(d, d / "plan.yaml")
    tx = ds.transactions
    return decompose(build_cube(tx), build_customer_cube(tx), ds.reps, ds.market, None, ds.plan)


def test_targets_xlsx_has_no_formula_cells(hostile_decomposition: Any, tmp_path: Path):
    from salesanalysis.report.excel import is_total_formula
    from salesanalysis.targets.decompose import write_targets

    paths = write_targets(hostile_decomposition, tmp_path)
    cells = _cells(paths["xlsx"])
    # the only formulas are the total rows the package writes (SUBTOTAL of a column's cells)
    assert [
        c.coordinate for c in cells if c.data_type == "f" and not is_total_formula(c.value)
    ] == []
    texts = {c.value for c in cells if isinstance(c.value, str)}
    for text in PAYLOADS.values():
        assert "'" + text in texts, text  # each kind of label reached the workbook, neutralised
        assert text not in texts
    # the parquet files keep the labels as they are (only the workbook is neutralised)
    t = pd.read_parquet(paths["targets"])
    assert PAYLOADS["dde"] in set(t["region"]) and PAYLOADS["minus"] in set(t["rep_id"])


# --------------------------------------------------------------------------------------------
# 2. plan freeze / plan adopt validate what they store

YEAR, PERIOD = 2025, "2025-05"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two run folders as the pipeline leaves them, from a real decomposition and re-plan of the
    corpus base company: ``draft`` (targets to freeze) and ``later`` (a revision to adopt)."""
    from salesanalysis.data.cube import build_cube, build_customer_cube
    from salesanalysis.data.readers import load_dataset
    from salesanalysis.report.excel import write_excel
    from salesanalysis.review import monthly_actuals, monthly_targets, replan
    from salesanalysis.targets.decompose import decompose, write_targets

    root = tmp_path_factory.mktemp("runs")
    ds = load_dataset(BASE, BASE / "plan.yaml")
    tx = ds.transactions
    cube, customers = build_cube(tx), build_customer_cube(tx)
    dec = decompose(cube, customers, ds.reps, ds.market, None, ds.plan)
    out = {}
    for name in ("draft", "later"):
        run = root / name
        write_targets(dec, run / "outputs")
        (run / "outputs" / "plan.json").write_text(
            json.dumps(ds.plan.to_dict(), default=str), encoding="utf-8"
        )
        (run / "run.json").write_text(
            json.dumps({"status": "ok", "period": PERIOD}), encoding="utf-8"
        )
        out[name] = run
    later = out["later"] / "outputs"
    targets = pd.read_parquet(later / "targets.parquet")
    revised = replan(
        monthly_targets(targets, YEAR),
        monthly_actuals(cube, customers, PERIOD, YEAR),
        PERIOD,
        YEAR,
        plan=ds.plan,
    )
    assert revised.attrs["revised_open_total"]
    revised.to_parquet(later / "revised_targets.parquet", index=False)
    write_excel({"revised_targets": revised}, later / "revised_targets.xlsx")
    return out


def _copy_run(runs: dict[str, Path], name: str, dest: Path) -> Path:
    run = dest / name
    shutil.copytree(runs[name], run)
    return run


def test_real_outputs_are_frozen_and_adopted(runs: dict[str, Path], tmp_path: Path):
    from salesanalysis.targets import record

    records = tmp_path / "plans"
    v1 = record.freeze(_copy_run(runs, "draft", tmp_path), records)
    v2 = record.adopt(_copy_run(runs, "later", tmp_path), records)
    assert (v1.version, v2.version) == ("v1", "v2")
    assert record.current(YEAR, records).version == "v2"


def _edit(path: Path, fn: Any) -> None:
    df = pd.read_parquet(path)
    attrs = dict(df.attrs)
    df = fn(df).reset_index(drop=True)
    df.attrs = attrs  # an editor that keeps the file's metadata
    df.to_parquet(path, index=False)


def _first_open(df: pd.DataFrame) -> int:
    return int((df["status"] == "open").to_numpy().argmax()) if "status" in df else 0


def _set(df: pd.DataFrame, col: str, value: Any, row: int | None = None) -> pd.DataFrame:
    df = df.copy()
    if df[col].dtype.kind in "iu" and not float(value).is_integer():
        df[col] = df[col].astype(float)
    df.loc[_first_open(df) if row is None else row, col] = value
    return df


def _add(df: pd.DataFrame, cols: list[str], amount: float) -> pd.DataFrame:
    df = df.copy()
    df.loc[_first_open(df), cols] += amount
    return df


CELL_MONTH = ["month", "region", "product_line", "customer_type"]
FREEZE_EDITS = {
    "negative": (
        lambda t: _set(_set(t, "target_revenue", -5000.0), "target_revenue_no_cushion", -5000.0),
        ["'target_revenue' is negative", "rows: 1", "= -5000.0"],
    ),
    "fractional_customers": (
        lambda t: _set(t, "target_customers", 1.5),
        ["'target_customers' is not in whole", "rows: 1"],
    ),
    "duplicated_row": (
        lambda t: pd.concat([t, t.iloc[[3]]]),
        ["2 rows repeat a month x region x product_line x customer_type x rep_id", "rows: 4"],
    ),
    "totals_do_not_add_up": (
        lambda t: _add(t, ["target_revenue", "target_revenue_no_cushion"], 500.0),
        ["'target_revenue' adds up to", "not to the company revenue target_with_cushion"],
    ),
    "not_in_rounding_units": (
        lambda t: _add(t, ["target_revenue"], 1.0),
        ["'target_revenue' is not in whole units of 100"],
    ),
    "missing_cell_month": (
        lambda t: t[~(t[CELL_MONTH] == t.iloc[0][CELL_MONTH]).all(axis=1)],
        ["the targets are incomplete", "have no row"],
    ),
}


@pytest.mark.parametrize("case", FREEZE_EDITS, ids=list(FREEZE_EDITS))
def test_freeze_refuses_hand_edited_targets(
    case: str, runs: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
):
    edit, expected = FREEZE_EDITS[case]
    run = _copy_run(runs, "draft", tmp_path)
    _edit(run / "outputs" / "targets.parquet", edit)
    records = tmp_path / "plans"
    code = cli.main(["plan", "freeze", "--run", str(run), "--records", str(records)])
    err = capsys.readouterr().err
    assert code == 6, err
    assert err.startswith("Plan of record: ") and "Traceback" not in err
    for s in expected:
        assert s in err, f"{s!r} not in:\n{err}"
    assert not records.exists(), "nothing is written under the records folder"


ADOPT_EDITS = {
    "negative": (
        lambda r: _set(r, "revised_revenue", -94_000_000.0),
        ["'revised_revenue' is negative", "= -94000000.0"],
    ),
    "fractional_customers": (
        lambda r: _set(r, "revised_customers", 0.5),
        ["'revised_customers' is not in whole"],
    ),
    "duplicated_row": (
        lambda r: pd.concat([r, r.iloc[[0]]]),
        ["rows repeat a month x region", "rows: 1"],
    ),
    "totals_do_not_add_up": (
        lambda r: _add(r, ["revised_revenue"], 1000.0),
        ["'change_revenue' is not 'revised_revenue' - 'plan_revenue'", "add up to"],
    ),
    "totals_and_changes_edited_together": (
        lambda r: _add(r, ["revised_revenue", "change_revenue"], 1000.0),
        ["the open months' 'revised_revenue' add up to", "the review computed"],
    ),
    "plan_of_another_record": (
        lambda r: _add(r, ["plan_revenue", "revised_revenue"], 1000.0),
        ["this revision does not revise the current plan"],
    ),
}


@pytest.mark.parametrize("case", ADOPT_EDITS, ids=list(ADOPT_EDITS))
def test_adopt_refuses_hand_edited_revision(case: str, runs: dict[str, Path], tmp_path: Path):
    from salesanalysis.targets import record

    records = tmp_path / "plans"
    record.freeze(_copy_run(runs, "draft", tmp_path), records)
    before = _tree(records)
    edit, expected = ADOPT_EDITS[case]
    run = _copy_run(runs, "later", tmp_path)
    _edit(run / "outputs" / "revised_targets.parquet", edit)
    code, out, err, _, _ = _cli_measured(
        "plan", "adopt", "--run", str(run), "--records", str(records)
    )
    assert code == 6, err
    assert out == "" and "Traceback" not in err and err.startswith("Plan of record: ")
    for s in expected:
        assert s in err, f"{s!r} not in:\n{err}"
    assert _tree(records) == before, "nothing is written under the records folder"
    assert record.current(YEAR, records).version == "v1"


def test_freeze_refuses_a_workbook_with_formulas(runs: dict[str, Path], tmp_path: Path):
    from openpyxl import Workbook

    run = _copy_run(runs, "draft", tmp_path)
    wb = Workbook()
    wb.active["A1"] = '=HYPERLINK("http://x","y")'
    wb.save(run / "outputs" / "targets.xlsx")
    with pytest.raises(RecordError, match="holds formulas"):
        from salesanalysis.targets import record

        record.freeze(run, tmp_path / "plans")
    assert not (tmp_path / "plans").exists()


# --------------------------------------------------------------------------------------------
# 3. limits on YAML and file sizes


def _bomb(levels: int = 9, width: int = 9, leaf: str = "lol" * 80) -> list[str]:
    """Lines of a YAML "billion laughs": ``width ** levels`` strings once expanded."""
    lines = [f"&a0 [{', '.join([leaf] * width)}]"]
    lines += [f"&a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    lines.append(f"[{', '.join([f'*a{levels - 1}'] * width)}]")
    return lines


def _check_refused(code: int, err: str, seconds: float, mb: float, fragment: str) -> None:
    """The whole command in its own process: exit 2, a short message, bounded time/memory.

    Time here is mostly the interpreter starting (pandas, pyarrow): several seconds on a busy
    machine, so the ceiling is loose; memory is what tells a bomb (GBs) from a refusal."""
    assert code == 2, err
    assert fragment in err and "Traceback" not in err
    assert seconds < 60, f"took {seconds:.1f} s"
    assert mb < 500, f"peak memory {mb:.0f} MB"
    assert len(err) < 4000, "the error message stays short"


def _refused_in_process(load: Any, error: type[Exception]) -> tuple[float, float]:
    """Seconds and growth of this process's peak memory (MB) while ``load`` refuses."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with pytest.raises(error, match="anchors and aliases"):
        load()
    seconds = time.perf_counter() - t0
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert seconds < 10, f"took {seconds:.2f} s"
    assert grown < 500, f"memory grew by {grown:.0f} MB"
    return seconds, grown


def _plan_bomb_folder(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    shutil.copytree(BASE, d)
    text = (d / "plan.yaml").read_text(encoding="utf-8")
    bomb = _bomb()
    body = "\n".join(f"lol{i}: {line}" for i, line in enumerate(bomb[:-1]))
    (d / "plan.yaml").write_text(
        text.replace("name: corpus base plan", f"{body}\nname: {bomb[-1]}"), encoding="utf-8"
    )
    assert 3000 < (d / "plan.yaml").stat().st_size < 4000  # about 3 KB
    return d


def test_plan_alias_bomb_is_refused_quickly(tmp_path: Path):
    from salesanalysis.targets.plan import load_plan

    d = _plan_bomb_folder(tmp_path)
    seconds, grown = _refused_in_process(lambda: load_plan(d / "plan.yaml"), PlanError)
    code, _, err, p_seconds, mb = _cli_measured("validate", "--data", str(d))
    _check_refused(code, err, p_seconds, mb, "anchors and aliases (&name, *name)")
    print(
        f"plan alias bomb: load_plan {seconds * 1000:.1f} ms, +{grown:.0f} MB; "
        f"validate process {p_seconds:.2f} s, peak {mb:.0f} MB"
    )


def test_mapping_alias_bomb_is_refused_quickly(tmp_path: Path):
    from salesanalysis.data.mapping import load_mapping

    d = tmp_path / "data"
    shutil.copytree(BASE, d)
    items = "".join(f"    - {line}\n" for line in _bomb())
    (d / "mapping.yaml").write_text(f"transactions:\n  ignore:\n{items}", encoding="utf-8")
    seconds, grown = _refused_in_process(lambda: load_mapping(d), InputError)
    code, _, err, p_seconds, mb = _cli_measured("validate", "--data", str(d))
    _check_refused(code, err, p_seconds, mb, "anchors and aliases (&name, *name)")
    print(
        f"mapping alias bomb: load_mapping {seconds * 1000:.1f} ms, +{grown:.0f} MB; "
        f"validate process {p_seconds:.2f} s, peak {mb:.0f} MB"
    )


def test_large_plan_and_mapping_are_refused_before_parsing(tmp_path: Path):
    d = tmp_path / "data"
    shutil.copytree(BASE, d)
    big = d / "plan.yaml"
    with open(big, "a", encoding="utf-8") as f:
        f.write("# " + "x" * 2_000_000 + "\n")
    with pytest.raises(PlanError, match="larger than 1,048,576 bytes"):
        from salesanalysis.targets.plan import load_plan

        load_plan(big)
    code, _, err, seconds, mb = _cli_measured("validate", "--data", str(d))
    _check_refused(code, err, seconds, mb, "is larger than 1,048,576 bytes")
    (d / "plan.yaml").write_bytes((BASE / "plan.yaml").read_bytes())
    (d / "mapping.yaml").write_text("transactions: {}\n" + "#" * 1_100_000 + "\n")
    from salesanalysis.data.mapping import load_mapping

    with pytest.raises(InputError, match="mapping file .* is larger than"):
        load_mapping(d)


def test_safe_loader_reads_what_yaml_safe_load_reads():
    for path in [*REPO.glob("data/*/*.yaml"), BASE / "plan.yaml"]:
        assert load_settings_yaml(path, PlanError, "plan file") == yaml.safe_load(
            path.read_text(encoding="utf-8-sig")
        ), path


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("a: &x 1\nb: 2\n", "anchors and aliases"),  # an anchor alone is refused too
        ("a: [" * 60 + "]" * 60 + "\n", "nested more than 50 levels deep"),
        ("a: " + "9" * 5000 + "\n", "not valid YAML"),  # Python refuses > 4300-digit integers
        ("a: !!python/object/apply:os.system ['true']\n", "not valid YAML"),
    ],
)
def test_loader_refusals(tmp_path: Path, text: str, fragment: str):
    p = tmp_path / "x.yaml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(PlanError, match=None) as ei:
        load_settings_yaml(p, PlanError, "plan file")
    assert fragment in ei.value.render() and ei.value.exit_code == 2


def test_messages_quote_at_most_200_characters_of_a_value(tmp_path: Path, capsys):
    d = tmp_path / "data"
    shutil.copytree(BASE, d)
    (d / "plan.yaml").write_text(
        (BASE / "plan.yaml").read_text(encoding="utf-8") + "phasing: " + "y" * 100_000 + "\n",
        encoding="utf-8",
    )
    code = cli.main(["validate", "--data", str(d)])
    err = capsys.readouterr().err
    assert code == 2 and "phasing" in err
    assert "y" * 201 not in err and "more characters" in err and len(err) < 4000
    from salesanalysis.errors import Problem

    rendered = Problem("bad", values=["z" * 10**7]).render()
    assert "z" * 201 not in rendered and len(rendered) < 400


# --------------------------------------------------------------------------------------------
# 4. mapping.yaml cannot read outside the data folder


def _outside_case(tmp_path: Path, file_entry: str | None) -> Path:
    d = tmp_path / "data"
    shutil.copytree(BASE, d)
    if file_entry is not None:
        (d / "mapping.yaml").write_text(f"transactions:\n  file: {file_entry}\n", encoding="utf-8")
    return d


@pytest.mark.parametrize(
    "entry,fragment",
    [
        ("../../../../../../../../etc/passwd", "goes up out of the folder ('..')"),
        ("/etc/passwd", "is an absolute path"),
        ("exports/../../outside.csv", "goes up out of the folder ('..')"),
        ("link.csv", "is a link to"),
    ],
)
def test_mapping_file_outside_the_data_folder_is_refused(
    tmp_path: Path, capsys, entry: str, fragment: str
):
    d = _outside_case(tmp_path, entry)
    (tmp_path / "outside.csv").write_text("root:x:0:0:secret\n", encoding="utf-8")
    (d / "link.csv").symlink_to(tmp_path / "outside.csv")
    for command in ("validate", "run"):
        args = [command, "--data", str(d)]
        if command == "run":
            args += ["--out", str(tmp_path / "reports"), "--quiet"]
        code = cli.main(args)
        err = capsys.readouterr().err
        assert code == 2, err
        assert fragment in err and "--allow-outside" in err
        assert "root:" not in err and "secret" not in err, "no file content is echoed"


def test_allow_outside_reads_a_file_outside(tmp_path: Path, capsys):
    outside = tmp_path / "exports" / "sales.csv"
    outside.parent.mkdir()
    shutil.copy(BASE / "transactions.csv", outside)
    d = _outside_case(tmp_path, str(outside))
    assert cli.main(["validate", "--data", str(d)]) == 2
    capsys.readouterr()
    assert cli.main(["validate", "--data", str(d), "--allow-outside"]) == 0
    assert "OK: 35 transaction lines" in capsys.readouterr().out
    (d / "mapping.yaml").write_text("transactions:\n  file: ../exports/sales.csv\n")
    assert cli.main(["validate", "--data", str(d), "--allow-outside"]) == 0


def test_links_that_stay_inside_are_followed(tmp_path: Path, capsys):
    d = _outside_case(tmp_path, "exports/sales.csv")
    (d / "archive").mkdir()
    (d / "transactions.csv").rename(d / "archive" / "tx.csv")
    (d / "exports").mkdir()
    (d / "exports" / "sales.csv").symlink_to(d / "archive" / "tx.csv")
    assert cli.main(["validate", "--data", str(d)]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("allow", [False, True])
def test_a_fifo_is_refused_without_being_opened(tmp_path: Path, allow: bool):
    """A reader that opened the pipe would wait forever: the process must end, exit 2."""
    d = _outside_case(tmp_path, "pipe.csv")
    os.mkfifo(d / "pipe.csv")
    extra = ["--allow-outside"] if allow else []
    code, out, err, seconds, _ = _cli_measured("validate", "--data", str(d), *extra, timeout=60)
    assert code == 2, err
    assert "pipe.csv' named in mapping.yaml is not a regular file" in err
    (d / "mapping.yaml").unlink()
    (d / "transactions.csv").unlink()
    os.mkfifo(d / "transactions.csv")
    code, out, err, seconds, _ = _cli_measured("validate", "--data", str(d), *extra, timeout=60)
    assert code == 2 and "transactions.csv is not a regular file" in err, err


# --------------------------------------------------------------------------------------------
# 3b. data files are streamed: a line too long, a decompression bomb, content too large


def _reference_first_long_line(data: bytes, limit: int) -> int | None:
    """The 1-based number of the first line longer than ``limit`` bytes (breaks: \\r\\n, \\r
    or \\n), counted the plain way: the whole text split into lines."""
    for i, line in enumerate(re.split(rb"\r\n|\r|\n", data), start=1):
        if len(line) > limit:
            return i
    return None


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    data=st.lists(
        st.sampled_from([b"a", b"bb", b",", b"\n", b"\r", b"\r\n", b"x" * 9]), max_size=80
    ).map(b"".join),
    limit=st.integers(1, 12),
    reads=st.lists(st.integers(1, 20), min_size=1, max_size=8),
)
def test_line_limit_counts_lines_as_the_file_has_them(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, limit: int, reads: list[int]
):
    """Whatever the chunks a reader asks for, the stream refuses exactly the first line longer
    than the limit, by its number, and hands out the file unchanged otherwise."""
    from salesanalysis.untrusted import InputLimits, LimitedInput

    p = tmp_path_factory.mktemp("lines") / "t.csv"
    p.write_bytes(data)
    expected = _reference_first_long_line(data, limit)
    f = LimitedInput(p, InputLimits(line_bytes=limit), raise_early=True)
    got, i = [], 0
    try:
        while chunk := f.read(reads[i % len(reads)]):
            got.append(chunk)
            i += 1
    except InputError as e:
        assert expected is not None, f"refused a file whose lines are all <= {limit} bytes"
        assert e.problems[0].rows == [expected]
        assert f"line {expected} is longer than {limit:,} bytes" in e.render()
        return
    finally:
        f.close()
    assert expected is None, f"line {expected} is longer than {limit} bytes but was read"
    assert b"".join(got) == data


def _gzip_bomb(path: Path, header: bytes, rows: bytes, total: int) -> None:
    """A .csv.gz of ``total`` bytes of CSV (``header`` and ``rows`` repeated) made of many
    copies of one compressed member (valid gzip: members are concatenated); fast to write."""
    import gzip

    block = rows * max(1, (16 << 20) // len(rows))
    member = gzip.compress(block, compresslevel=9, mtime=0)
    with open(path, "wb") as f:
        f.write(gzip.compress(header, mtime=0))
        for _ in range(max(1, total // len(block))):
            f.write(member)


def _hostile_folder(root: Path, kind: str) -> Path:
    """The corpus company with a hostile transactions file: a 1 GB gzip bomb (about 5 MB on
    disk) or one line of 50 MB without a line break in the middle of the file."""
    d = root / kind
    shutil.copytree(BASE, d)
    tx = d / "transactions.csv"
    lines = tx.read_bytes().splitlines(keepends=True)
    if kind == "gzip_bomb":
        _gzip_bomb(d / "transactions.csv.gz", lines[0], b"".join(lines[1:]), 1 << 30)
        tx.unlink()
    else:
        tx.write_bytes(b"".join([*lines[:5], b"2024-02-01,O9" + b"9" * (50 << 20), *lines[5:]]))
    return d


HOSTILE = {
    "gzip_bomb": "looks like a decompression bomb",
    "long_line": "line 6 is longer than 1,048,576 bytes",
}


def test_gzip_input_is_read_while_unpacked(tmp_path: Path, capsys):
    """A real .csv.gz is read (both readers) exactly as the plain CSV."""
    import gzip

    from salesanalysis.data.ingest import load_cubes

    d = tmp_path / "gz"
    shutil.copytree(BASE, d)
    (d / "transactions.csv.gz").write_bytes(gzip.compress((d / "transactions.csv").read_bytes()))
    (d / "transactions.csv").unlink()
    for engine in ("arrow", "pandas"):
        gz, plain = load_cubes(d, engine=engine), load_cubes(BASE, engine=engine)
        pd.testing.assert_frame_equal(gz.cube, plain.cube)
        assert gz.n_lines == plain.n_lines


def test_gzip_bomb_is_refused_in_bounded_memory(tmp_path: Path):
    from salesanalysis.untrusted import read_input

    d = _hostile_folder(tmp_path, "gzip_bomb")
    path = d / "transactions.csv.gz"
    assert path.stat().st_size < 20 << 20  # a small file ...
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="decompression bomb") as e:
        read_input(path)  # ... that unpacks to 1 GB
    seconds = time.perf_counter() - t0
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert "SALESANALYSIS_MAX_EXPANSION=" in e.value.render()
    assert seconds < 20 and grown < 200, f"{seconds:.1f} s, +{grown:.0f} MB"


def test_content_limit_is_set_from_the_environment(tmp_path: Path, monkeypatch):
    """SALESANALYSIS_MAX_INPUT_MB: a file over it is refused before it is read (plain) or as
    soon as it unpacks past it (.gz); a wrong value is an input error, not a traceback."""
    import gzip

    from salesanalysis.untrusted import read_input

    plain = tmp_path / "t.csv"
    plain.write_bytes(b"a,b\n" + b"1,2\n" * 600_000)  # 2.4 MB
    packed = tmp_path / "t.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    monkeypatch.setenv("SALESANALYSIS_MAX_EXPANSION", "100000")
    assert read_input(packed) == plain.read_bytes()
    monkeypatch.setenv("SALESANALYSIS_MAX_INPUT_MB", "2")
    with pytest.raises(InputError, match="holds more than 2 MB") as e:
        read_input(plain)
    assert "SALESANALYSIS_MAX_INPUT_MB=4" in e.value.render()
    with pytest.raises(InputError, match="unpacks to more than 2 MB"):
        read_input(packed)
    monkeypatch.setenv("SALESANALYSIS_MAX_INPUT_MB", "lots")
    with pytest.raises(InputError, match="SALESANALYSIS_MAX_INPUT_MB is 'lots', not a number"):
        read_input(plain)


def test_workbook_and_parquet_bombs_are_refused_before_unpacking(
    tmp_path: Path, capsys, monkeypatch
):
    """An .xlsx is a zip archive: its directory of sizes is checked before openpyxl unpacks
    a sheet; a Parquet file's row groups the same way."""
    import zipfile

    d = tmp_path / "data"
    shutil.copytree(BASE, d)
    (d / "transactions.csv").unlink()
    with zipfile.ZipFile(d / "transactions.xlsx", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * (200 << 20) + b"/>")
    assert (d / "transactions.xlsx").stat().st_size < 1 << 20
    assert cli.main(["validate", "--data", str(d)]) == 2
    err = capsys.readouterr().err
    assert "looks like a decompression bomb" in err and "Traceback" not in err, err
    (d / "transactions.xlsx").unlink()
    pd.read_csv(BASE / "transactions.csv").to_parquet(d / "transactions.parquet")
    monkeypatch.setenv("SALESANALYSIS_MAX_INPUT_MB", "0.001")
    assert cli.main(["validate", "--data", str(d)]) == 2
    err = capsys.readouterr().err
    assert "transactions.parquet" in err and "the file unpacks to more than 1,048 bytes" in err, (
        err
    )
    assert err.count("fix") == 1


# The whole command under an address-space limit (RLIMIT_AS), set in the child before it
# starts: what it maps, not only what it touches, counts. glibc's per-thread heaps and
# OpenBLAS's thread buffers reserve address space by thread count (machine-dependent), so
# they are kept to a small, fixed number; the limit is about what the program allocates.
AS_LIMIT_MB = int(os.environ.get("SALESANALYSIS_TEST_AS_MB", "1536"))


def _cli_under_as_limit(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    import resource

    limit = AS_LIMIT_MB << 20

    def limit_address_space() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    env = {**_env(), "MALLOC_ARENA_MAX": "2", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "salesanalysis.cli", *args],
        preexec_fn=limit_address_space,  # noqa: PLW1509 - no threads start before exec
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def hostile_inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile_inputs")
    return {kind: _hostile_folder(root, kind) for kind in HOSTILE}


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_file_is_refused_under_an_address_space_limit(
    hostile_inputs: dict[str, Path], tmp_path: Path, kind: str, command: str
):
    """Before: the bomb unpacked whole into memory (over 10 GB; under this limit "Unexpected
    error: MemoryError", exit 1) and a line was read whole whatever its length (200 MB: 15.8 GB).
    Now each is refused after reading at most 16 MB and 1 MB of it."""
    d = hostile_inputs[kind]
    before = _tree(d)
    extra = ["--out", str(tmp_path / "reports"), "--steps", "01"] if command == "run" else []
    r = _cli_under_as_limit(command, "--data", str(d), *extra)
    assert r.returncode == 2, r.stderr[-2000:]
    assert HOSTILE[kind] in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr) < 4000
    assert _tree(d) == before


@pytest.fixture(scope="module")
def large_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated company of 200,000 lines (benchmarks/make_large_data.py), plain CSV."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import make_large_data

    return make_large_data.generate(200_000, tmp_path_factory.mktemp("large"), echo=None) / "csv"


def test_validate_large_file_under_an_address_space_limit(large_inputs: Path):
    before = _tree(large_inputs)
    r = _cli_under_as_limit("validate", "--data", str(large_inputs))
    assert r.returncode == 0, r.stderr[-2000:]
    assert "OK: 200,000 transaction lines from 2021-11-01" in r.stdout
    assert _tree(large_inputs) == before


@pytest.mark.slow  # a notebook kernel under the limit: about a minute on a busy machine
def test_run_large_file_under_an_address_space_limit(large_inputs: Path, tmp_path: Path):
    before = _tree(large_inputs)
    out = tmp_path / "reports"
    r = _cli_under_as_limit(
        "run", "--data", str(large_inputs), "--out", str(out), "--steps", "01", timeout=600
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert (out / "2026-10" / "01_market_analysis.html").is_file()
    assert _tree(large_inputs) == before
