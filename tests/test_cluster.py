"""Issue 14: a broken Dask cluster fails fast with its cause, checked against a real
``dask scheduler`` and ``dask worker`` started as separate processes (not a LocalCluster)."""

from __future__ import annotations

import os
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
from salesanalysis.forecast import forecast  # noqa: E402

DASK = Path(sys.executable).with_name("dask")


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
