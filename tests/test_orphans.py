"""Issue 14: a run killed with SIGKILL mid-forecast leaves no process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

psutil = pytest.importorskip("psutil")

SCRIPT = textwrap.dedent(
    """
    import numpy as np, pandas as pd
    from salesanalysis.forecast import forecast
    rng = np.random.default_rng(0)
    months = pd.date_range("2019-01-01", periods=60, freq="MS")
    df = pd.concat(
        pd.DataFrame({"series_id": f"s{i}", "month": months,
                      "value": 100 + 10 * rng.standard_normal(60).cumsum().clip(-50)})
        for i in range(400)
    )
    forecast(df, 12, n_jobs=2)  # long enough to be killed in the middle
    """
)


def _descendants(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX only")
def test_sigkill_mid_forecast_leaves_no_worker_behind():
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT])
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while time.monotonic() < deadline:  # wait for the pool's workers to be busy
            kids = _descendants(proc.pid)
            busy = [
                k for k in kids if psutil.pid_exists(k) and psutil.Process(k).cpu_percent(0.2) > 0
            ]
            if len(kids) >= 2 and busy:
                workers = kids
                break
            assert proc.poll() is None, "the forecast ended before it could be killed"
            time.sleep(0.5)
        assert workers, "no worker processes appeared"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 15
        alive = workers
        while alive and time.monotonic() < deadline:
            time.sleep(0.5)
            alive = [
                w
                for w in workers
                if psutil.pid_exists(w) and psutil.Process(w).status() != psutil.STATUS_ZOMBIE
            ]
        assert not alive, f"processes left after SIGKILL: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()
        for w in _descendants(proc.pid):
            try:
                os.kill(w, signal.SIGKILL)
            except ProcessLookupError:
                pass
