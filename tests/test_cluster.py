"""Issue 14: a broken Dask cluster fails fast with its cause, checked against a real
``dask scheduler`` and ``dask worker`` started as separate processes (not a LocalCluster); a
working one is named, with the number of workers that took part, on step 02's page and on its
terminal line."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("distributed")

from salesanalysis.cli import check_scheduler  # noqa: E402
from salesanalysis.errors import ClusterError  # noqa: E402
from salesanalysis.forecast import forecast, forecast_hierarchy  # noqa: E402
from salesanalysis.forecast.narrative import compute_note, method_statement  # noqa: E402

from .nbutil import OPEN, write_notebook  # noqa: E402
from .test_hierarchy import make_cube  # noqa: E402

DASK = Path(sys.executable).with_name("dask")
REPO = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the scheduler did not start on port {port}")


@pytest.fixture
def scheduler():
    port = _free_port()
    proc = subprocess.Popen(
        [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--dashboard-address", ":0", "--no-show"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_listening(port)
        yield f"tcp://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _series() -> pd.DataFrame:
    months = pd.date_range("2021-01-01", periods=36, freq="MS")
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {"series_id": "a", "month": months, "value": 100 + rng.standard_normal(36)}
    )


@pytest.mark.slow
def test_a_scheduler_without_workers_fails_within_the_timeout(scheduler, monkeypatch):
    monkeypatch.setenv("SALESANALYSIS_DASK_TIMEOUT", "5")
    t0 = time.monotonic()
    with pytest.raises(ClusterError, match="has no workers") as e:
        forecast(_series(), 6, scheduler=scheduler)
    assert time.monotonic() - t0 < 60
    assert "dask worker" in e.value.render() and "--scheduler" in e.value.render()


@pytest.mark.slow
def test_workers_that_cannot_import_the_package_are_named(scheduler, monkeypatch, tmp_path):
    broken = tmp_path / "broken" / "salesanalysis"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('not installed here')\n", "utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "broken")}
    worker = subprocess.Popen(
        [str(DASK), "worker", scheduler, "--nworkers", "1", "--nthreads", "1", "--no-nanny",
         "--dashboard-address", ":0"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    monkeypatch.setenv("SALESANALYSIS_DASK_TIMEOUT", "60")
    try:
        t0 = time.monotonic()
        with pytest.raises(ClusterError, match="cannot run the forecast") as e:
            forecast(_series(), 6, scheduler=scheduler)
        assert time.monotonic() - t0 < 90
        assert "tcp://127.0.0.1" in e.value.message  # names the worker
        assert "Install this package" in e.value.render()
    finally:
        worker.terminate()
        worker.wait(timeout=30)


def test_scheduler_address_is_checked_before_any_step():
    with pytest.raises(ClusterError, match="not a Dask scheduler address") as e:
        check_scheduler("localhost:8786")
    assert "--scheduler tcp://localhost:8786" in e.value.render()
    with pytest.raises(ClusterError, match="nothing answers"):
        check_scheduler(f"tcp://127.0.0.1:{_free_port()}", timeout=2)


# --------------------------------------------------------------------------------------------
# where the forecast ran, on the page and on the terminal line


def _small_cube() -> pd.DataFrame:
    return make_cube(n_regions=2, n_lines=1, n_types=1, reps_per_region=1, months=30)


def test_a_local_run_says_where_it_ran():
    hf = forecast_hierarchy(_small_cube(), "2024-06", 3, n_jobs=1, method="fast")
    f = hf.facts
    assert (f.ran_on, f.workers, f.cluster) == ("this process", 1, "")
    assert "Computed on this machine in one process." in method_statement(f)
    assert compute_note(f) == "local, one process"
    hf = forecast_hierarchy(_small_cube(), "2024-06", 3, n_jobs=2, method="fast")
    f = hf.facts
    assert f.ran_on == "processes" and 1 <= f.workers <= 2
    assert f"Computed on this machine in {f.workers} worker process" in method_statement(f)


@pytest.mark.slow
def test_a_cluster_run_says_how_many_workers_took_part(scheduler):
    from distributed import Client

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    workers = [
        subprocess.Popen(
            [
                str(DASK),
                "worker",
                scheduler,
                "--nworkers",
                "1",
                "--nthreads",
                "1",
                "--no-nanny",
                "--dashboard-address",
                ":0",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(2)
    ]
    try:
        with Client(scheduler, timeout="30s", set_as_default=False) as c:
            c.wait_for_workers(2, timeout=120)
        hf = forecast_hierarchy(_small_cube(), "2024-06", 3, scheduler=scheduler, method="fast")
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
    f = hf.facts
    assert (f.ran_on, f.cluster, f.cluster_workers) == ("dask", scheduler, 2)
    assert 1 <= f.workers <= 2
    worker_s = "worker" if f.workers == 1 else "workers"
    assert (
        f"Computed on the Dask cluster at {scheduler}: {f.workers} {worker_s} of its 2 workers "
        "took part." in method_statement(f)
    )
    assert compute_note(f) == f"Dask cluster {scheduler}, {f.workers} of 2 workers"


def test_a_step_note_reaches_its_terminal_line(tiny_dir: Path, tmp_path: Path):
    """What a step writes to outputs/<step>.note (step 02: where the forecast ran) ends its
    line in the terminal and is kept in run.json."""
    from salesanalysis.report.pipeline import run_pipeline

    nb = tmp_path / "nb"
    write_notebook(
        nb / "02_forecast.ipynb",
        OPEN,
        "ctx.path('02_forecast', '.note').write_text('Dask cluster tcp://h:1, 2 of 3 workers')",
    )
    said: list[str] = []
    r = run_pipeline(
        "2025-02", tiny_dir, None, tmp_path / "out", notebooks_dir=nb, echo=said.append
    )
    assert r.status == "ok"
    assert any(
        re.fullmatch(r"\s+ok in [0-9.]+s: Dask cluster tcp://h:1, 2 of 3 workers", line)
        for line in said
    ), said
    run = json.loads((r.folder / "run.json").read_text(encoding="utf-8"))
    assert run["steps"][0]["note"] == "Dask cluster tcp://h:1, 2 of 3 workers"
