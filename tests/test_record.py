"""Plan of record: freeze once, adopt revisions as new versions, detect tampering."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

from salesanalysis.errors import RecordError
from salesanalysis.targets import record


def _run(tmp_path: Path, name: str, revised: bool = False, status: str = "ok") -> Path:
    run = tmp_path / name
    (run / "outputs").mkdir(parents=True)
    (run / "run.json").write_text(json.dumps({"status": status, "period": name}), encoding="utf-8")
    months = pd.date_range("2026-01-01", periods=12, freq="MS")
    t = pd.DataFrame(
        {
            "month": months,
            "region": "华东",
            "product_line": "Pumps",
            "customer_type": "SMB",
            "rep_id": "R1",
            "target_revenue": 1000.0,
            "target_customers": 2,
        }
    )
    t.to_parquet(run / "outputs" / "targets.parquet")
    (run / "outputs" / "plan.json").write_text("{}", encoding="utf-8")
    if revised:
        r = t.rename(
            columns={"target_revenue": "plan_revenue", "target_customers": "plan_customers"}
        )
        r["revised_revenue"] = 1100.0
        r["revised_customers"] = 2
        r.to_parquet(run / "outputs" / "revised_targets.parquet")
    return run


def test_freeze_then_adopt(tmp_path: Path):
    records = tmp_path / "plans"
    assert record.current(2026, records) is None
    v1 = record.freeze(_run(tmp_path, "2026-01"), records, note="board approved")
    assert v1.version == "v1" and record.current(2026, records).version == "v1"
    assert v1.targets()["target_revenue"].sum() == 12000
    assert (
        not os.access(v1.targets_path, os.W_OK) or os.geteuid() == 0
    )  # read-only (root ignores modes)
    assert oct(v1.targets_path.stat().st_mode)[-3:] == "444"
    with pytest.raises(RecordError, match="already has a plan of record"):
        record.freeze(_run(tmp_path, "2026-02"), records)
    v2 = record.adopt(_run(tmp_path, "2026-07", revised=True), records, note="re-plan after H1")
    assert v2.version == "v2" and v2.meta["previous"] == "v1"
    cur = record.current(2026, records)
    assert cur.version == "v2" and cur.targets()["target_revenue"].sum() == 13200
    # v1 is kept untouched
    assert record.history(2026, records)[0].targets()["target_revenue"].sum() == 12000


def test_adopt_needs_a_frozen_plan_and_a_good_run(tmp_path: Path):
    records = tmp_path / "plans"
    with pytest.raises(RecordError, match="no plan of record"):
        record.adopt(_run(tmp_path, "2026-07", revised=True), records)
    with pytest.raises(RecordError, match="did not finish"):
        record.freeze(_run(tmp_path, "2026-08", status="failed"), records)


def test_tampering_is_detected(tmp_path: Path):
    records = tmp_path / "plans"
    v1 = record.freeze(_run(tmp_path, "2026-01"), records)
    os.chmod(v1.targets_path, 0o644)
    t = v1.targets()
    t.loc[0, "target_revenue"] = 1.0
    t.to_parquet(v1.targets_path)
    with pytest.raises(RecordError, match="changed after"):
        record.current(2026, records)


def test_apply_record_swaps_in_the_frozen_targets(tmp_path: Path):
    records = tmp_path / "plans"
    outputs = _run(tmp_path, "2026-01") / "outputs"
    note = record.apply_record(outputs, 2026, records)
    assert "draft" in note and not (outputs / "targets_computed.parquet").exists()
    record.freeze(outputs.parent, records)
    later = _run(tmp_path, "2026-05") / "outputs"
    t = pd.read_parquet(later / "targets.parquet")
    t["target_revenue"] *= 2  # today's data would give other targets
    t.to_parquet(later / "targets.parquet")
    note = record.apply_record(later, 2026, records)
    assert "plan of record" in note and "+12,000" in note
    assert pd.read_parquet(later / "targets.parquet")["target_revenue"].sum() == 12000
    assert pd.read_parquet(later / "targets_computed.parquet")["target_revenue"].sum() == 24000
