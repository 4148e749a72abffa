"""Shared fixtures: tiny input folders written in code."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

from salesanalysis.paths import SAMPLE_DIR

# Property tests: the gate (make test, CI) is deterministic: a fixed derandomised search and no
# example database, so a latent edge case cannot turn CI red at random. For a wider, randomised
# search locally: `make test-random` (HYPOTHESIS_PROFILE=random), which also keeps a database
# of failing examples in .hypothesis/ and runs 300 examples (not 100) where a test sets no count.
settings.register_profile("gate", derandomize=True, database=None, print_blob=True)
settings.register_profile("random", derandomize=False, max_examples=300, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "gate"))


TX_HEADER = "date,order_id,customer_id,customer_type,region,product_line,rep_id,quantity,unit_price,revenue\n"


def tx_rows() -> list[str]:
    return [
        "2025-01-05,O1,C1,SMB,华东,Pumps,R1,2,100,200",
        "2025-01-05,O1,C1,SMB,华东,Valves,R1,1,50,50",
        "2025-01-20,O2,C2,Key Account,华北,Pumps,R2,3,100,300",
        "2025-02-03,O3,C1,SMB,华东,Pumps,R1,1,100,100",
        "2025-02-10,RT1,C2,Key Account,华北,Pumps,R2,-1,100,-100",
        "2025-02-11,O4,C3,SMB,华东,Pumps,R3,5,90,450",
    ]


REPS = (
    "rep_id,name,region,hire_date,end_date,fte\n"
    "R1,王伟,华东,2020-01-01,,1.0\n"
    "R2,李娜,华北,2019-05-01,,1.0\n"
    "R3,张敏,华东,2025-02-01,,0.5\n"
)
MARKET = (
    "period,region,product_line,market_size\n"
    "2025,华东,Pumps,120000\n2025,华东,Valves,24000\n2025,华北,Pumps,60000\n"
)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``make test`` runs the suite on every core (pytest-xdist, ``--dist loadscope``) with
    one work unit per test file, so a file's module and session fixtures (a whole pipeline
    run, the corpus) are built once, on one worker; the four notebooks are one unit and run in
    order, as nbval needs. (``--dist loadgroup`` cannot do this here: xdist 3.8 renames node
    ids in a way pytest 9.2 ignores.) Other ``--dist`` modes are xdist's own."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "notebooks" if path.endswith(".ipynb") else path

    return ByFile(config, log)


@pytest.fixture(autouse=True)
def _report_language_reset():
    """Each test starts in the source language with no report units: a test that prepares a
    run (which sets the language from its plan) must not change what the next one reads."""
    from salesanalysis import i18n

    i18n.set_report(i18n.SOURCE_LANGUAGE)
    i18n._state["units"] = None
    yield


@pytest.fixture
def tiny_dir(tmp_path: Path) -> Path:
    """A minimal valid data folder (6 lines, 3 reps, yearly market)."""
    d = tmp_path / "tiny"
    d.mkdir()
    (d / "transactions.csv").write_text(TX_HEADER + "\n".join(tx_rows()) + "\n", encoding="utf-8")
    (d / "reps.csv").write_text(REPS, encoding="utf-8")
    (d / "market.csv").write_text(MARKET, encoding="utf-8")
    return d


@pytest.fixture(scope="session")
def sample_tx() -> pd.DataFrame:
    from salesanalysis.data.readers import load_dataset

    return load_dataset(SAMPLE_DIR).transactions


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A writable copy of the sample data folder."""
    d = tmp_path / "sample"
    shutil.copytree(SAMPLE_DIR, d)
    return d
