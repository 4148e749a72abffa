"""The corpus of company shapes (issue 12): every shape through ``salesanalysis run`` end to end,
numbers checked against independent sums of the raw rows and the plan's rule.

The shapes are written by ``tests/corpus.py`` (no import from the package). Each shape runs once
per session, in a subprocess from the project root, ``CORPUS_JOBS`` (default 2) at a time;
``PYTHONPATH`` names the project root so that the notebooks' kernel imports this checkout too.
A failed run is read from ``<out>/<period>.failed`` (its outputs are kept there).

A check that fails on today's code is marked ``xfail(strict=True)`` with the cause (see
``KNOWN``): when the cause is fixed the test passes, strict xfail turns that into a failure,
and the entry is removed from ``KNOWN``.
"""

from __future__ import annotations

import html as _html
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests import corpus as C
from tests.language import leaks

ROOT = Path(__file__).resolve().parents[1]
JOBS = max(1, int(os.environ.get("CORPUS_JOBS", "2")))
SHAPES = list(C.SHAPES)
SHORT = ["history_5m", "history_6m", "history_12m", "history_18m", "new_company"]  # < 24 months

# --------------------------------------------------------------------------- known failures

KNOWN: dict[tuple[str, str], str] = {
    # (check, shape): the cause, while a check fails on today's code; none at present
}


def cases(check: str, shapes: list[str] = SHAPES, slow: bool = True) -> list:
    out = []
    for s in shapes:
        marks = [pytest.mark.slow] if slow else []
        if (check, s) in KNOWN:
            marks.append(pytest.mark.xfail(reason=f"issue 12: {KNOWN[check, s]}", strict=True))
        out.append(pytest.param(s, marks=marks, id=s))
    return out


# --------------------------------------------------------------------------- running the shapes


def _cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return subprocess.run(
        [sys.executable, "-m", "salesanalysis.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@dataclass
class Run:
    shape: str
    returncode: int
    seconds: float
    stdout: str
    stderr: str
    dir: Path  # <out>/<period>, or <out>/<period>.failed

    @property
    def outputs(self) -> Path:
        return self.dir / "outputs"

    @property
    def manifest(self) -> dict:
        p = self.dir / "run.json"
        return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}

    def read(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.outputs / f"{name}.parquet")

    def html(self, name: str) -> str:
        p = self.dir / name
        return p.read_text(encoding="utf-8") if p.exists() else ""

    def text(self, name: str) -> str:
        """A report page as plain text (tags removed, entities decoded, spaces collapsed)."""
        t = re.sub(r"<style.*?</style>|<script.*?</script>", " ", self.html(name), flags=re.S)
        return re.sub(r"\s+", " ", _html.unescape(re.sub(r"<[^>]+>", " ", t))).strip()

    def headline(self) -> str:
        """The first line the report leads with: its first figure card, or the error."""
        page = self.html("index.html")
        m = re.search(
            r'<div class="kpi"><div class="k">(.*?)</div><div class="v">(.*?)</div>'
            r'<div class="d">(.*?)</div>',
            page,
            flags=re.S,
        )
        if m:
            return _html.unescape(" ".join(m.groups()))
        err = self.manifest.get("error") or {}
        if err:
            msg = str(err.get("message", "")).splitlines()[0]
            msg = re.sub(r"^Step failed: step \S+ failed: ", "", msg)
            return f"failed at {err.get('step')}: {msg}"
        return (self.stderr.strip().splitlines() or ["(nothing)"])[0]


class Corpus:
    """The shapes' data folders and their runs, each made once, ``JOBS`` runs at a time."""

    def __init__(self, base: Path):
        self.base = base
        self.built: dict[str, C.Built] = {}
        self.futures: dict[str, Future] = {}
        self.pool = ThreadPoolExecutor(max_workers=JOBS)

    def data(self, shape: str) -> C.Built:
        if shape not in self.built:
            self.built[shape] = C.build(shape, self.base / "data")
        return self.built[shape]

    def start(self, shape: str) -> None:
        if shape not in self.futures:
            b = self.data(shape)
            self.futures[shape] = self.pool.submit(self._run, shape, b)

    def run(self, shape: str) -> Run:
        self.start(shape)
        return self.futures[shape].result()

    def _run(self, shape: str, b: C.Built) -> Run:
        out = self.base / "reports" / shape
        t0 = time.perf_counter()
        r = _cli(
            "run",
            "--data",
            str(b.folder),
            "--plan",
            str(b.plan_file),
            "--out",
            str(out),
            "--period",
            b.period,
            "--records",
            str(self.base / "plans" / shape),
        )
        seconds = time.perf_counter() - t0
        d = out / b.period
        if not d.exists():
            d = out / f"{b.period}.failed"
        return Run(shape, r.returncode, seconds, r.stdout, r.stderr, d)

    def summary(self) -> list[dict]:
        rows = []
        for shape, f in self.futures.items():
            if f.done() and f.exception() is None:
                r = f.result()
                rows.append(
                    {
                        "shape": shape,
                        "exit": r.returncode,
                        "seconds": round(r.seconds, 1),
                        "headline": r.headline(),
                    }
                )
        return rows


class _Summary:
    """Prints the table of runs (shape, exit code, seconds, headline) after the test summary."""

    def __init__(self, corpus: Corpus):
        self.corpus = corpus

    def pytest_terminal_summary(self, terminalreporter) -> None:
        rows = self.corpus.summary()
        if not rows:
            return
        path = self.corpus.base / "corpus_summary.json"
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
        terminalreporter.section("corpus runs")
        for r in rows:
            terminalreporter.write_line(
                f"{r['shape']:20s} exit {r['exit']}  {r['seconds']:6.1f} s  {r['headline']}"
            )
        terminalreporter.write_line(f"({path})")


@pytest.fixture(scope="session")
def corpus(request, tmp_path_factory) -> Corpus:
    c = Corpus(tmp_path_factory.mktemp("corpus"))
    request.config.pluginmanager.register(_Summary(c), "corpus-summary")
    # start every run this session needs, so that they overlap (JOBS at a time)
    for item in request.session.items:
        spec = getattr(item, "callspec", None)
        if (
            spec
            and "shape" in spec.params
            and item.get_closest_marker("slow")
            and "run" in getattr(item, "fixturenames", ())
        ):
            c.start(spec.params["shape"])
    yield c
    c.pool.shutdown(wait=True)


@pytest.fixture
def shape_data(corpus: Corpus, shape: str) -> C.Built:
    return corpus.data(shape)


@pytest.fixture
def run(corpus: Corpus, shape: str) -> Run:
    return corpus.run(shape)


def _month_sums(tx: pd.DataFrame, months: list[pd.Period] | None = None) -> pd.Series:
    t = tx if months is None else tx[tx["month"].isin(months)]
    return t.groupby(t["month"].dt.to_timestamp())["revenue"].sum()


# --------------------------------------------------------------------------- the checks


@pytest.mark.parametrize("shape", cases("exit"))
def test_run_succeeds(run: Run):
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    m = run.manifest
    assert m["status"] == "ok"
    # every step ran, or was skipped with the reason stated (a year-end run with no plan of
    # record for the year that ends has no review to make)
    assert all(s["status"] == "ok" or (s["status"] == "skipped" and s["note"]) for s in m["steps"])
    assert run.dir.name == m["period"]


@pytest.mark.parametrize("shape", cases("revenue"))
def test_revenue_equals_the_raw_rows(run: Run, shape_data: C.Built):
    """Every raw row counts: the cube's revenue equals the raw rows' sum, month by month."""
    cube = run.read("cube")
    assert cube["revenue"].sum() == pytest.approx(shape_data.raw_revenue, rel=1e-9, abs=0.01)
    got = cube.groupby("month")["revenue"].sum()
    want = _month_sums(shape_data.tx)
    assert list(got.index) == list(want.index)
    assert np.allclose(got.to_numpy(), want.to_numpy(), rtol=1e-9, atol=0.01)


@pytest.mark.parametrize("shape", cases("targets"))
def test_targets_add_up_to_the_plan(run: Run, shape_data: C.Built):
    """The company revenue target over the plan's months, computed from the plan's rule:
    growth over the same months a year earlier (the 12 months to the cutoff for a full-year
    plan), or a full-year value less the actuals to the cutoff; rounded to 1,000."""
    b = shape_data
    t = run.read("targets")
    months = sorted(t["month"].dt.to_period("M").unique())
    assert months == b.plan_months
    assert (t["target_revenue"] >= 0).all() and (t["target_revenue_no_cushion"] >= 0).all()
    assert t["target_revenue_no_cushion"].sum() == pytest.approx(b.revenue_target)
    assert t["target_revenue"].sum() == pytest.approx(b.revenue_target_cushion)
    for pin in b.plan.get("pins") or []:
        ((dim, label),) = pin["segment"].items()
        assert t.loc[t[dim] == label, "target_revenue_no_cushion"].sum() == pytest.approx(
            pin["revenue"]
        )


@pytest.mark.parametrize("shape", cases("customers"))
def test_customer_targets_are_whole_numbers(run: Run, shape_data: C.Built):
    t = run.read("targets")
    c = t["target_customers"]
    assert (c >= 0).all() and np.array_equal(c.to_numpy(), np.round(c.to_numpy()))
    if shape_data.customers_target is not None:  # a full-year plan: growth over active customers
        assert c.sum() == shape_data.customers_target


@pytest.mark.parametrize("shape", cases("review"))
def test_review_ytd_equals_the_raw_rows(run: Run, shape_data: C.Built):
    """The review's year to date at total level: actual = the raw rows of the months the review
    judges (the fiscal year to date; for a mid-year plan only the months the plan covers),
    target = the targets of the same months, attainment = their ratio."""
    b = shape_data
    year_end = not [m for m in b.plan_months if m <= pd.Period(b.period, "M")]
    path = run.outputs / "review.parquet"
    if year_end and not path.exists():
        # no plan of record of the period's year to review: the review step is skipped and
        # says why
        steps = {s["name"]: s for s in run.manifest.get("steps", [])}
        review = steps.get("04_performance_review", {})
        assert review.get("status") == "skipped", steps
        assert re.search("plan of record|计划记录", review.get("note", ""))  # en | zh
        return
    r = run.read("review")
    row = r[(r["level"] == "total") & (r["measure"] == "revenue") & (r["window"] == "ytd")]
    assert len(row) == 1
    row = row.iloc[0]
    actual = b.revenue_in(b.review_months)
    assert row["actual"] == pytest.approx(actual, rel=1e-9)
    if not year_end:
        t = run.read("targets")
        target = t.loc[
            t["month"].dt.to_period("M").isin(b.review_months), "target_revenue_no_cushion"
        ].sum()
        assert row["target"] == pytest.approx(target)
        assert row["attainment"] == pytest.approx(actual / target, rel=1e-9)


# --------------------------------------------------------------------------- what a shape must say

NOTE_SHAPES = ["per_item_gbk", "year_end", "mid_year", "all_ahead", *SHORT]


@pytest.mark.parametrize("shape", cases("notes", NOTE_SHAPES))
def test_the_report_says_what_the_shape_needs(run: Run, shape_data: C.Built, shape: str):
    b = shape_data
    notes = run.manifest.get("notes") or []
    if shape == "per_item_gbk":
        # identical rows are real sales: kept, and the notes say how many there are
        n = b.identical_rows
        said = [
            x
            for x in notes
            if re.search(rf"\b{n}\b|\b{n:,}\b", x) and re.search(r"identical|duplicate", x, re.I)
        ]
        assert said, notes
        assert not any(re.search(r"dropped|removed|count once", x, re.I) for x in said), said
        assert run.returncode == 0
    elif shape == "year_end":
        # the FY N+1 targets are a draft, and there is no FY N plan of record to review
        assert run.returncode == 0, run.stderr[-2000:]
        text = run.text("index.html") + " " + run.text("04_performance_review.html")
        assert re.search(
            r"no (FY ?)?2024 plan|no plan (of record )?for (FY ?)?2024|没有 2024 财年的计划",
            text,
            re.I,
        ), text[:2000]
        assert re.search("draft|草稿", run.text("03_target_decomposition.html"))
    elif shape == "mid_year":
        # the months before the plan are shown as such, not judged
        assert run.returncode == 0, run.stderr[-2000:]
        assert re.search("before the plan|计划前", run.text("04_performance_review.html"))
        assert "Attainment since the plan began (2025-07)" in run.text("index.html")
    elif shape == "all_ahead":
        # nobody behind: a sentence instead of an empty table, and every cell ahead
        assert run.returncode == 0, run.stderr[-2000:]
        r = run.read("review")
        cells = r[(r["level"] == "cell") & (r["measure"] == "revenue") & (r["window"] == "ytd")]
        assert len(cells) and (cells["attainment"] > 1).all()
        assert "Traceback" not in run.html("04_performance_review.html")
    elif shape == "history_5m":  # too short to forecast: skipped, said, history keys only
        assert run.returncode == 0, run.stderr[-2000:]
        steps = {s["name"]: s for s in run.manifest["steps"]}
        assert steps["02_forecast"]["status"] == "skipped"
        have = _in_run_language(run, "{n} months of sales", n=5)  # the page's language
        assert have in steps["02_forecast"]["note"] and have in run.text("02_forecast.html")
        assert not (run.outputs / "forecast.parquet").exists()
        text = run.text("03_target_decomposition.html")  # in the plan's language (zh or en)
        assert re.search(
            "no forecast could be made from the plan cutoff 2024-12|无法从计划截止月 2024-12 做预测",
            text,
        )
        assert re.search("goes to the history key|预测权重转给历史权重", text)
    else:  # short history: the forecast runs with what the data supports and says so
        assert run.returncode == 0, run.stderr[-2000:]
        text = " ".join(  # the step's page and the appendix the technical cells move to
            run.text(p.name)
            for p in sorted(run.dir.glob("*.html"))
            if "forecast" in p.name or "appendix" in p.name
        )
        assert text and "refitted at several earlier origins" not in text
        n = len(shape_data.tx["month"].unique())
        history = _in_run_language(
            run, "History: {months} months ({start} to {end}); engine setting `{method}`."
        ).split("{start}")[0]
        no_season = _in_run_language(
            run,
            "the history has {history} months, fewer than two full years ({years}): one year "
            "cannot tell a month pattern from noise, so no model has a seasonal part and the "
            "naive baseline repeats the last month, not the same month a year earlier",
            history=n,
            years=24,
        )
        assert history.replace("{months}", str(n)) in text and no_season in text
    if shape in SHORT:  # every plan month has a target, even the months the history lacks
        t = run.read("targets").groupby("month")["target_revenue_no_cushion"].sum()
        assert len(t) == len(shape_data.plan_months) and (t > 0).all(), t


def _in_run_language(run: Run, msgid: str, **values: object) -> str:
    """``msgid`` in the language of ``run``'s pages (its ``outputs/plan.json``), filled with
    ``values`` (none: the template itself)."""
    from salesanalysis import i18n

    saved = dict(i18n._state)
    try:
        i18n.set_report_from_outputs(run.outputs)
        text = i18n.tr(msgid)
    finally:
        i18n._state.update(saved)
    return text.format(**values) if values else text


@pytest.mark.parametrize("shape", cases("currency", ["history_5y"]))
def test_the_plans_currency_everywhere(run: Run, shape_data: C.Built):
    cur = shape_data.plan["currency"]
    assert cur != "CNY"
    page = run.text("index.html")
    assert cur in page and "CNY" not in page


@pytest.mark.parametrize("shape", cases("english", ["history_5y"]))
def test_every_page_reads_in_english(run: Run):
    """The corpus plans say ``report: language: en``: no Chinese on any page apart from the
    company's own data (region names, rep names, Chinese headers' values)."""
    pages = ["index.html", "appendix.html", *(p.name for p in sorted(run.dir.glob("0*.html")))]
    assert len(pages) == 6
    found = {page: leaks(run.dir, page, "en") for page in pages}
    assert {page: words for page, words in found.items() if words} == {}


@pytest.mark.parametrize("shape", cases("rep_leaving", ["rep_moves"]))
def test_rep_leaving_and_moving(run: Run, shape_data: C.Built):
    """R02 leaves on 2025-05-15: no target after May. R04 moves from 华北 to 华东 in April:
    the rep's targets are in one region each month."""
    t = run.read("targets")
    after = t[(t["rep_id"] == "R02") & (t["month"] >= pd.Timestamp("2025-06-01"))]
    assert after["target_revenue"].sum() == 0
    per_month = t[t["rep_id"] == "R04"].groupby("month")["region"].nunique()
    assert (per_month <= 1).all()
    # reps.csv says so (prev_region, region_from): 华北 before April, 华东 from April
    r04 = t[(t["rep_id"] == "R04") & (t["target_revenue"] > 0)]
    before = r04["month"] < pd.Timestamp("2025-04-01")
    assert set(r04.loc[before, "region"]) == {"华北"}
    assert set(r04.loc[~before, "region"]) == {"华东"}
    r = run.read("review")
    rep = r[(r["level"] == "rep") & (r["measure"] == "revenue") & (r["window"] == "ytd")]
    ytd = shape_data.tx[shape_data.tx["month"].isin(shape_data.review_months)]
    for rep_id, lines in ytd.groupby("rep_id"):
        assert rep.loc[rep["rep_id"] == rep_id, "actual"].sum() == pytest.approx(
            lines["revenue"].sum(), rel=1e-9
        ), rep_id


# --------------------------------------------------------------------------- validate


@pytest.mark.parametrize("shape", cases("validate", slow=False))
def test_validate(corpus: Corpus, shape: str):
    b = corpus.data(shape)
    r = _cli("validate", "--data", str(b.folder), "--plan", str(b.plan_file), timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("OK:") and "Traceback" not in r.stderr


@pytest.mark.parametrize("shape", cases("validate_period", slow=False))
def test_validate_with_the_period(corpus: Corpus, shape: str):
    """``validate --period`` checks that the period, the plan and the data support a run."""
    b = corpus.data(shape)
    r = _cli(
        "validate",
        "--data",
        str(b.folder),
        "--plan",
        str(b.plan_file),
        "--period",
        b.period,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
