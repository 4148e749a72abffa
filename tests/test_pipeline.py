"""The pipeline on small notebooks: manifest, HTML, failure handling, lock."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from salesanalysis.errors import InputError, RunLocked, StepFailed
from salesanalysis.report.pipeline import _lock, discover_steps, run_pipeline

from .nbutil import OPEN, write_notebook


@pytest.fixture
def nbdir(tmp_path: Path) -> Path:
    d = tmp_path / "nb"
    write_notebook(
        d / "01_first.ipynb",
        OPEN,
        "s = ctx.cube.groupby('region')['revenue'].sum()\nctx.write('first', s.reset_index())\ns",
        "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\nax.bar(s.index, s.values)\n"
        "ax.set_ylabel('Revenue (CNY)')\nplt.show()",
    )
    write_notebook(d / "02_second.ipynb", OPEN, "print(len(ctx.read('first')))")
    return d


def _assert_self_contained(html: str) -> None:
    # no script, stylesheet, image or font is fetched from anywhere
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=[\"']https?:", html)
    assert not re.search(r"src=[\"']https?:", html)
    assert not re.search(r"url\([\"']?https?:", html)


def test_discover_steps_in_order(nbdir: Path):
    write_notebook(nbdir / "10_tenth.ipynb")
    assert [s.stem for s in discover_steps(nbdir)] == ["01_first", "02_second", "10_tenth"]


def test_run_writes_report(tiny_dir: Path, tmp_path: Path, nbdir: Path):
    out = tmp_path / "reports"
    r = run_pipeline("2025-02", tiny_dir, None, out, notebooks_dir=nbdir, echo=None)
    folder = out / "2025-02"
    assert r.folder == folder and r.status == "ok"
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert run["status"] == "ok" and run["period"] == "2025-02"
    assert [s["name"] for s in run["steps"]] == ["01_first", "02_second"]
    assert all(s["status"] == "ok" and s["seconds"] > 0 for s in run["steps"])
    assert set(run["sha256"]) == {"transactions", "reps", "market"}
    assert all(len(h) == 64 for h in run["sha256"].values())
    assert "pandas" in run["versions"] and "statsmodels" in run["versions"]
    for name in ("01_first", "02_second"):
        html = (folder / f"{name}.html").read_text(encoding="utf-8")
        _assert_self_contained(html)
        assert "ctx.cube.groupby" not in html  # code hidden
        assert "injected-parameters" not in html and 'period: str = ""' not in html
        assert (folder / f"{name}.ipynb").exists()
    assert "data:image/png;base64" in (folder / "01_first.html").read_text(encoding="utf-8")
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert "01_first.html" in index and "2025-02 收入" in index  # no plan: Chinese, the default
    assert (folder / "outputs" / "first.parquet").exists()
    assert "2025-02/index.html" in (out / "index.html").read_text(encoding="utf-8")
    assert "step 01_first ok" in (folder / "run.log").read_text(encoding="utf-8")


def test_failed_step_keeps_last_good_report(tiny_dir: Path, tmp_path: Path, nbdir: Path):
    out = tmp_path / "reports"
    run_pipeline("2025-02", tiny_dir, None, out, notebooks_dir=nbdir, echo=None)
    good = (out / "2025-02" / "run.json").read_bytes()
    write_notebook(nbdir / "03_broken.ipynb", "raise ValueError('no such segment')")
    with pytest.raises(StepFailed, match="03_broken"):
        run_pipeline("2025-02", tiny_dir, None, out, notebooks_dir=nbdir, echo=None)
    assert (out / "2025-02" / "run.json").read_bytes() == good
    failed = json.loads((out / "2025-02.failed" / "run.json").read_text(encoding="utf-8"))
    assert failed["status"] == "failed" and failed["error"]["step"] == "03_broken"
    assert [s["status"] for s in failed["steps"]] == ["ok", "ok", "failed"]
    html = (out / "2025-02.failed" / "03_broken.html").read_text(encoding="utf-8")
    assert "no such segment" in html
    assert not [p for p in out.iterdir() if p.name.startswith(".build")]


def test_bad_input_fails_before_any_step(tiny_dir: Path, tmp_path: Path, nbdir: Path):
    (tiny_dir / "reps.csv").write_text("rep_id,name\nR1,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="problem|问题"):
        run_pipeline("2025-02", tiny_dir, None, tmp_path / "r", notebooks_dir=nbdir, echo=None)
    failed = json.loads(
        (tmp_path / "r" / "2025-02.failed" / "run.json").read_text(encoding="utf-8")
    )
    assert failed["status"] == "failed" and failed["error"]["step"] == "prepare"
    assert "hire_date" in failed["error"]["message"]


@pytest.mark.parametrize(
    "period,match",
    [
        ("2024-12", "before the history|早于历史"),
        ("2025-05", "has no data|没有数据"),
        ("2025-13", "not|不是"),
        ("May 2025", "not|不是"),
    ],
)
def test_period_checked(tiny_dir: Path, tmp_path: Path, nbdir: Path, period: str, match: str):
    with pytest.raises(InputError, match=match):
        run_pipeline(period, tiny_dir, None, tmp_path / "r", notebooks_dir=nbdir, echo=None)


def test_second_run_of_a_period_is_refused(tiny_dir: Path, tmp_path: Path, nbdir: Path):
    out = tmp_path / "r"
    out.mkdir()
    held = _lock(out, "2025-02", 0)
    try:
        with pytest.raises(RunLocked, match="in progress|正在进行"):
            run_pipeline("2025-02", tiny_dir, None, out, notebooks_dir=nbdir, echo=None)
    finally:
        held.release()
    assert not (out / "2025-02").exists()


def test_rerun_reuses_unchanged_steps_and_is_byte_identical(
    tiny_dir: Path, tmp_path: Path, nbdir: Path
):
    out = tmp_path / "r"
    run_pipeline("2025-02", tiny_dir, None, out, notebooks_dir=nbdir, echo=None)
    first = {
        p.relative_to(out / "2025-02"): p.read_bytes()
        for p in (out / "2025-02").rglob("*")
        if p.is_file()
        and p.name not in ("run.json", "run.log", "kernel.log", "index.html", "appendix.html")
    }
    # same inputs and code: every step reused, identical files
    r2 = run_pipeline("2025-02", tiny_dir, None, out, notebooks_dir=nbdir, echo=None)
    assert [s.status for s in r2.steps] == ["reused", "reused"]
    again = {
        p.relative_to(out / "2025-02"): p.read_bytes()
        for p in (out / "2025-02").rglob("*")
        if p.is_file()
        and p.name not in ("run.json", "run.log", "kernel.log", "index.html", "appendix.html")
    }
    assert again == first
    # forced: rerun for real, still byte-identical outputs and notebooks
    r3 = run_pipeline("2025-02", tiny_dir, None, out, notebooks_dir=nbdir, echo=None, force=True)
    assert [s.status for s in r3.steps] == ["ok", "ok"]
    forced = {
        p.relative_to(out / "2025-02"): p.read_bytes()
        for p in (out / "2025-02").rglob("*")
        if p.is_file()
        and p.name not in ("run.json", "run.log", "kernel.log", "index.html", "appendix.html")
    }
    assert forced.keys() == first.keys()
    assert [k for k in first if forced[k] != first[k]] == []
    # a changed second notebook reruns only that step; a changed input reruns all
    write_notebook(nbdir / "02_second.ipynb", OPEN, "print('changed', len(ctx.read('first')))")
    r4 = run_pipeline("2025-02", tiny_dir, None, out, notebooks_dir=nbdir, echo=None)
    assert [s.status for s in r4.steps] == ["reused", "ok"]
    with open(tiny_dir / "market.csv", "a", encoding="utf-8") as f:
        f.write("2025,华北,Valves,5000\n")
    r5 = run_pipeline("2025-02", tiny_dir, None, out, notebooks_dir=nbdir, echo=None)
    assert [s.status for s in r5.steps] == ["ok", "ok"]
    run = json.loads((out / "2025-02" / "run.json").read_text(encoding="utf-8"))
    assert run["steps"][0]["outputs"] == ["first.parquet"]


def test_a_refused_run_leaves_the_reports_folder_as_it_was(
    tiny_dir: Path, tmp_path: Path, nbdir: Path
):
    """Issue 14: the last failed attempt (evidence) and the index stay; nothing is added."""
    out = tmp_path / "r"
    (out / "2025-02.failed").mkdir(parents=True)
    (out / "2025-02.failed" / "run.json").write_text('{"status": "failed"}', encoding="utf-8")
    (out / "index.html").write_text("old index", encoding="utf-8")
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    held = _lock(out, "2025-02", 0)
    try:
        for period in ("2025-02", None):  # with --period, and the latest month of the data
            with pytest.raises(RunLocked):
                run_pipeline(period, tiny_dir, None, out, notebooks_dir=nbdir, echo=None)
    finally:
        held.release()
    after = sorted(p.relative_to(out) for p in out.rglob("*") if p.name != "refused.log")
    assert [p for p in after if not p.name.endswith(".lock")] == before
    assert (out / "index.html").read_text(encoding="utf-8") == "old index"
    assert not list(out.glob("unknown*")) and not list(out.glob(".build-*"))
    log_lines = (out / "refused.log").read_text(encoding="utf-8").splitlines()
    assert len(log_lines) == 2 and all(
        re.search("in progress|正在进行", line) for line in log_lines
    )


def test_stale_build_folders_of_dead_runs_are_removed(tmp_path: Path):
    import subprocess
    import sys

    from salesanalysis.report.pipeline import _remove_stale_builds

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = tmp_path / f".build-{dead.stdout.strip()}-1"
    live = tmp_path / f".build-{os.getppid()}-2"  # the process that started pytest is alive
    odd = tmp_path / ".build-notapid"
    for d in (stale, live, odd):
        (d / "outputs").mkdir(parents=True)
    assert _remove_stale_builds(tmp_path) == [stale]
    assert not stale.exists() and live.exists() and odd.exists()


def test_a_step_that_skips_is_recorded_as_skipped(tiny_dir: Path, tmp_path: Path):
    """A notebook that raises StepSkipped (too short a history, no plan of record) gives a
    skipped step with its reason and a run that succeeds: the kernel must report the error's
    type (a business error's notebook rendering once hid it, and the step failed)."""
    d = tmp_path / "nb"
    write_notebook(d / "01_first.ipynb", OPEN, "print(len(ctx.cube))")
    write_notebook(
        d / "02_second.ipynb",
        OPEN,
        "from salesanalysis.errors import StepSkipped\nraise StepSkipped('nothing to review yet')",
    )
    r = run_pipeline("2025-02", tiny_dir, None, tmp_path / "r", notebooks_dir=d, echo=None)
    assert r.status == "ok"
    assert [s.status for s in r.steps] == ["ok", "skipped"]
    assert "nothing to review yet" in (r.steps[1].note or "")
