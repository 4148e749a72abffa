"""The monthly run: prepare the inputs, execute the notebooks with papermill, export HTML.

A run for period P writes ``<out>/P/``::

    run.json        status, period, parameters, input hashes, versions, git commit, steps
    run.log         the run's log
    index.html      headline figures and links to each step's report
    NN_step.ipynb   executed notebooks (the audit record)
    NN_step.html    business reports (code and parameter cells hidden, charts embedded)
    outputs/        files the steps hand to each other (Parquet, Excel)

The run is built in a temporary folder beside it and swapped in only when every step
succeeded, so the last good report for P is never destroyed. A failed run is kept in
``<out>/P.failed/`` (with its partial HTML and a ``run.json`` saying what failed). A lock file
stops two runs of the same period from interleaving.

:func:`run_pipeline` composes the stages: select the steps -> fingerprint the run -> open the
build folder -> prepare the inputs (or reuse the last good run's) -> lock the period -> enter
the period -> run the steps (reusing unchanged ones) -> publish (record, swap in, index).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import logging
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from salesanalysis.data.readers import sha256_file
from salesanalysis.errors import (
    PIPELINE_ENV,
    ClusterError,
    ConstraintConflict,
    InputError,
    PlanError,
    RunLocked,
    SalesAnalysisError,
    StepFailed,
    StepSkipped,
    shorten,
)
from salesanalysis.i18n import tr
from salesanalysis.paths import (
    NOTEBOOKS_DIR,
    PACKAGE_DIR,
    REPO_DIR,
    REPORTS_DIR,
    SAMPLE_DIR,
    SAMPLE_PLAN,
)
from salesanalysis.report.pages import (
    atomic_write_text as _atomic_write_text,
)
from salesanalysis.report.pages import (
    export_html,
    notebook_title,
    write_appendix,
)

__all__ = ["Step", "RunResult", "discover_steps", "export_html", "run_pipeline"]

log = logging.getLogger("salesanalysis")

VERSIONED = (
    "salesanalysis",
    "pandas",
    "numpy",
    "statsmodels",
    "scipy",
    "matplotlib",
    "seaborn",
    "papermill",
    "nbconvert",
    "pyarrow",
)


@dataclass(frozen=True)
class Step:
    """One notebook of the pipeline."""

    number: int
    name: str
    path: Path

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def title(self) -> str:
        """The step's business name in the report's language (its notebook's first heading)."""
        return notebook_title(self.path, self.name.replace("_", " ").capitalize())


def discover_steps(notebooks_dir: Path = NOTEBOOKS_DIR) -> list[Step]:
    """The pipeline's steps: ``NN_name.ipynb`` in ``notebooks_dir``, in the order of NN."""
    steps = []
    for p in sorted(Path(notebooks_dir).glob("[0-9][0-9]_*.ipynb")):
        number, _, name = p.stem.partition("_")
        steps.append(Step(int(number), name, p))
    return sorted(steps, key=lambda s: s.number)


@dataclass
class StepRecord:
    name: str
    status: str = "pending"  # pending | ok | reused | skipped | failed | interrupted
    seconds: float = 0.0
    error: str | None = None
    note: str | None = None  # why a step was skipped, or its own line (outputs/<stem>.note)
    html: str | None = None
    title: str | None = None  # the business name, in the report's language
    notebook: str | None = None
    fingerprint: str | None = None
    outputs: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    status: str
    period: str
    folder: Path
    steps: list[StepRecord] = field(default_factory=list)
    error: str | None = None

    @property
    def index(self) -> Path:
        return self.folder / "index.html"


# --------------------------------------------------------------------------------------------
# HTML export


# --------------------------------------------------------------------------------------------
# manifest


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _git_commit() -> str | None:
    try:
        r = subprocess.run(
            ["git", "-C", str(REPO_DIR), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        if r.returncode != 0:
            return None
        dirty = subprocess.run(
            [
                "git",
                "-C",
                str(REPO_DIR),
                "status",
                "--porcelain",
                "--",
                "salesanalysis",
                "notebooks",
            ],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return r.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------------------------
# the run


class _Interrupted(BaseException):
    """SIGTERM turned into an exception so that the run records what happened."""


def _on_sigterm(signum: int, frame: Any) -> None:  # pragma: no cover - exercised via subprocess
    raise _Interrupted(f"received signal {signum}")


# Libraries that log while a notebook runs. Their messages (e.g. nbclient's "Kernel died" and
# asyncio's "Task exception was never retrieved" with a traceback, when a run is interrupted)
# go to run.log, never to the terminal of a scheduler or an analyst.
LIBRARY_LOGGERS = ("papermill", "nbclient", "traitlets", "jupyter_client", "asyncio")


def _setup_log(path: Path, echo: Callable[[str], None] | None) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    handler._sa_saved = []  # type: ignore[attr-defined]
    for name in LIBRARY_LOGGERS:
        lib = logging.getLogger(name)
        handler._sa_saved.append((lib, lib.propagate))  # type: ignore[attr-defined]
        lib.addHandler(handler)
        lib.propagate = False
    return handler


def _close_log(handler: logging.Handler) -> None:
    log.removeHandler(handler)
    for lib, propagate in getattr(handler, "_sa_saved", []):
        lib.removeHandler(handler)
        lib.propagate = propagate
    handler.close()


def _lock(out: Path, period: str, wait: float) -> Any:
    from filelock import FileLock, Timeout

    lock = FileLock(str(out / f".{period}.lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise RunLocked(
            tr("another run for {period} is in progress in {out}").format(period=period, out=out),
            fix=tr("Wait for it to finish (or pass --wait SECONDS to queue behind it)."),
        ) from None
    return lock


def _swap_in(build: Path, final: Path) -> None:
    """Replace ``final`` by ``build``; the old report is removed only once the new one is in."""
    old = final.with_name(f".{final.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        os.replace(final, old)
    os.replace(build, final)
    if old.exists():
        shutil.rmtree(old, ignore_errors=True)


def _recover(final: Path) -> None:
    """A crash between the two renames of a swap leaves ``.P.old``: put it back."""
    old = final.with_name(f".{final.name}.old")
    if old.exists() and not final.exists():
        os.replace(old, final)


def _code_hash() -> str:
    """sha256 of the package's code and templates: a changed package reruns every step."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if (
            path.is_file()
            and path.suffix in (".py", ".j2", ".json")
            and "__pycache__" not in path.parts
        ):
            h.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _input_files(data_dir: Path, plan_path: Path | None) -> dict[str, Path] | None:
    """The raw input files, located without parsing them (None when they cannot be found:
    the prepare stage then reports why)."""
    from salesanalysis.data.readers import MAPPING_FILE, find_input, load_mapping

    try:
        mapping = load_mapping(data_dir)
        files = {t: find_input(data_dir, t, mapping) for t in ("transactions", "reps", "market")}
    except SalesAnalysisError:
        return None
    if plan_path is not None:
        if not plan_path.exists():
            return None
        files["plan"] = plan_path
    if (data_dir / MAPPING_FILE).exists():
        files["mapping"] = data_dir / MAPPING_FILE
    return files


def _records_state(records_dir: Path | str | None) -> dict[str, str]:
    """What the plan-of-record folder holds (a frozen or adopted plan changes the run)."""
    if not records_dir or not Path(records_dir).is_dir():
        return {}
    return {
        str(p.relative_to(records_dir)): sha256_file(p)
        for p in sorted(Path(records_dir).rglob("*"))
        if p.is_file()
    }


def _fingerprints(base: dict[str, Any], steps: Sequence[Step]) -> tuple[str, list[str]]:
    """The run's base fingerprint and one per step, chained: a step's fingerprint covers its
    notebook and every earlier step's, so a change reruns that step and all after it."""
    base_fp = _sha256_text(json.dumps(base, sort_keys=True, ensure_ascii=False))
    fps, prev = [], base_fp
    for step in steps:
        prev = _sha256_text(prev + hashlib.sha256(step.path.read_bytes()).hexdigest())
        fps.append(prev)
    return base_fp, fps


def _find_reusable(out: Path, base_fp: str) -> tuple[Path, dict[str, Any]] | None:
    """The last good run made from the same inputs, parameters and code."""
    for run in sorted(out.glob("*/run.json")):
        if run.parent.name.startswith(".") or run.parent.name.endswith(".failed"):
            continue
        try:
            m = json.loads(run.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (
            m.get("status") == "ok"
            and m.get("prepare_outputs")
            and m.get("fingerprints", {}).get("base") == base_fp
        ):
            return run.parent, m
    return None


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir() if p.is_file()
    }


def _changed(before: dict[str, tuple[int, int]], folder: Path) -> list[str]:
    return sorted(n for n, sig in _snapshot(folder).items() if before.get(n) != sig)


def _normalize_notebook(path: Path, name: str, skipped: bool = False) -> None:
    """Drop run-specific timestamps and paths from an executed notebook so that a rerun with
    the same inputs gives the same file (timestamps are kept in run.json only). A skipped
    step's page keeps what it displayed (why it was skipped), not the StepSkipped traceback
    nor papermill's error banner, and stops at that cell."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if skipped:
        nb.cells = _cells_until_skip(nb.cells)
    pm = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration", "exception"):
        pm.pop(key, None)
    if "output_path" in pm:
        pm["output_path"] = name
    if "input_path" in pm:  # the step's notebook (run from a translated copy in the build)
        pm["input_path"] = name
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell["id"] = "injected-parameters"  # papermill gives it a random id
        cell.metadata.pop("execution", None)
        cpm = cell.metadata.get("papermill", {})
        for key in ("start_time", "end_time", "duration"):
            cpm.pop(key, None)
    nbformat.write(nb, path)


def _cells_until_skip(cells: list[Any]) -> list[Any]:
    kept = []
    for cell in cells:
        if "papermill-error-cell-tag" in cell.metadata.get("tags", []):
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            cell["outputs"] = [o for o in cell["outputs"] if o.get("output_type") != "error"]
            kept.append(cell)
            break
        kept.append(cell)
    return kept


def run_pipeline(
    period: str | None = None,
    data_dir: Path | str = SAMPLE_DIR,
    plan_file: Path | str | None = SAMPLE_PLAN,
    out: Path | str = REPORTS_DIR,
    *,
    steps: Sequence[str] | None = None,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    echo: Callable[[str], None] | None = print,
    wait: float = 0.0,
    cell_timeout: int = 1800,
    extra_parameters: dict[str, Any] | None = None,
    force: bool = False,
    records_dir: Path | str | None = None,
    today: _dt.date | None = None,
    pdf: bool = False,
) -> RunResult:
    """Run the monthly pipeline for ``period`` ('' or None = latest complete month).

    Steps whose notebook, inputs, parameters and package code are unchanged since the last good
    run are reused from it instead of rerun (``force=True`` reruns all). ``pdf=True`` also
    prints the index and each step's page to ``index.pdf``, ``NN_step.pdf`` beside them (A4,
    headless Chromium, see :mod:`salesanalysis.report.browser`).

    Raises:
        InputError / PlanError: the inputs are invalid (nothing is written but a failed record).
        RunLocked: another run for the same period holds the lock.
        StepFailed: a notebook failed; the failed run is kept in ``<out>/<period>.failed``.
    """
    req = _Request.resolve(period, data_dir, plan_file, out, records_dir, extra_parameters, today)
    req.out.mkdir(parents=True, exist_ok=True)
    chosen = _select_steps(notebooks_dir, steps)
    started = _dt.datetime.now(_dt.UTC)
    basis = _fingerprint_run(req, chosen)
    prev = None if (force or basis.files is None) else _find_reusable(req.out, basis.base_fp)
    run = _open_run(req, basis, started, echo or (lambda s: None))
    try:
        if prev is not None:
            p = prev[1]["period"]
            run.lock = _lock(req.out, p, wait)
            prev_steps = _reuse_prepared(run, *prev)
        else:
            p = _prepare(run, req)
            run.lock = _lock(req.out, p, wait)
            prev_steps = {}
        params = _enter_period(run, req, p)
        _check_drift(run, chosen)
        _run_steps(run, chosen, basis.step_fps, prev, prev_steps, params, cell_timeout)
        run.manifest["status"] = "ok"
    except RunLocked as e:  # refused: the run leaves nothing in the reports folder
        _discard_refused(run, e)
        raise
    except (SalesAnalysisError, _Interrupted, KeyboardInterrupt, Exception) as e:
        _record_failure(run, e)
        raise
    finally:
        if not run.refused:
            dest, write_error = _publish(run)
    if write_error is not None:
        raise SalesAnalysisError(
            tr("the report for {period} could not be written: {reason}").format(
                period=run.manifest["period"], reason=write_error
            ),
            fix=tr(
                "Free disk space in the reports folder and run again; the last good report is "
                "unchanged."
            ),
        )
    if pdf:
        _print_pdfs(run, dest)
    run.say(f"Report: {dest / 'index.html'}")
    return RunResult("ok", run.manifest["period"], dest, run.records)


def _print_pdfs(run: _Run, dest: Path) -> list[Path]:
    """The published report's pages printed to PDF (index first, then the steps in order).

    Raises:
        BrowserError: no Chromium, or it failed (the HTML report is published all the same).
    """
    from salesanalysis.report.browser import pdf_page_count, print_pdfs

    t0 = time.perf_counter()
    pages = [dest / "index.html", *(dest / r.html for r in run.records if r.html)]
    pdfs = print_pdfs([p for p in pages if p.exists()])
    pages_n = sum(pdf_page_count(p) for p in pdfs)
    run.say(
        f"PDF: {len(pdfs)} files, {pages_n} A4 pages in {time.perf_counter() - t0:.1f}s "
        f"({', '.join(p.name for p in pdfs)})"
    )
    return pdfs


# ---------------------------------------------------------------------- the run's stages


@dataclass(frozen=True)
class _Request:
    """What the run was asked for, with the folders resolved to absolute paths."""

    period: str | None
    data_dir: Path
    plan_path: Path | None
    out: Path
    records_dir: Path | str | None
    extra: dict[str, Any]
    today: _dt.date | None

    @classmethod
    def resolve(
        cls,
        period: str | None,
        data_dir: Path | str,
        plan_file: Path | str | None,
        out: Path | str,
        records_dir: Path | str | None,
        extra_parameters: dict[str, Any] | None,
        today: _dt.date | None,
    ) -> _Request:
        return cls(
            period=period,
            data_dir=Path(data_dir).resolve(),
            plan_path=Path(plan_file).resolve() if plan_file else None,
            out=Path(out).resolve(),
            records_dir=records_dir,
            extra=extra_parameters or {},
            today=today,
        )


@dataclass(frozen=True)
class _Basis:
    """What the run is made from (inputs, parameters, code, notebooks) and its fingerprints:
    a later run with the same base fingerprint may reuse this one's steps."""

    versions: dict[str, str]
    code: str
    files: dict[str, Path] | None
    base_fp: str
    step_fps: list[str]


@dataclass
class _Run:
    """A run in progress, shared by its stages: what the publish stage needs to write the
    record, swap the report in (or keep the failed run) and release the lock."""

    out: Path
    build: Path
    manifest: dict[str, Any]
    handler: logging.Handler
    say: Callable[[str], None]
    old_sigterm: Any
    t_run: float
    records: list[StepRecord] = field(default_factory=list)
    lock: Any = None
    final: Path | None = None
    refused: bool = False


def _select_steps(notebooks_dir: Path, steps: Sequence[str] | None) -> list[Step]:
    """The steps to run: every notebook, or those named in ``steps`` (stem, name or number).

    Raises:
        SalesAnalysisError: no step found.
    """
    chosen = discover_steps(notebooks_dir)
    if steps:
        wanted = set(steps)
        chosen = [s for s in chosen if wanted & {s.stem, s.name, str(s.number), f"{s.number:02d}"}]
    if not chosen:
        raise SalesAnalysisError(
            (
                tr("no pipeline steps (NN_name.ipynb) found in {folder} matching {steps}")
                if steps
                else tr("no pipeline steps (NN_name.ipynb) found in {folder}")
            ).format(folder=notebooks_dir, steps=", ".join(steps or ())),
            fix=tr(
                "Check the notebooks folder, or the names given to --steps "
                "(see `salesanalysis steps`)."
            ),
        )
    return chosen


def _fingerprint_run(req: _Request, steps: Sequence[Step]) -> _Basis:
    """Fingerprint the inputs (hashed, not parsed), parameters, code and notebooks."""
    versions = _versions()
    request = req.period or f"latest@{(req.today or _dt.date.today()):%Y-%m}"
    files = _input_files(req.data_dir, req.plan_path)
    base = {
        "code": _code_hash(),
        "versions": versions,
        "request": request,
        "inputs": {k: sha256_file(v) for k, v in (files or {}).items()},
        "data_dir": str(req.data_dir),
        "plan_file": str(req.plan_path) if req.plan_path else None,
        "records": _records_state(req.records_dir),
        "extra": req.extra,
        "steps": [s.stem for s in steps],
    }
    base_fp, step_fps = _fingerprints(base, steps)
    return _Basis(versions, base["code"], files, base_fp, step_fps)


def _open_run(
    req: _Request, basis: _Basis, started: _dt.datetime, say: Callable[[str], None]
) -> _Run:
    """Create the build folder beside the reports, start its log and its manifest, and turn
    SIGTERM into an exception so that an interrupted run is recorded."""
    _remove_stale_builds(req.out)
    stamp = f"{os.getpid()}-{int(time.time() * 1000)}"
    build = req.out / f".build-{stamp}"
    build.mkdir()
    (build / "outputs").mkdir()
    handler = _setup_log(build / "run.log", say)
    manifest: dict[str, Any] = {
        "status": "running",
        "period": req.period or "",
        "started": started.isoformat(timespec="seconds"),
        "parameters": {
            "period": req.period or "",
            "data_dir": str(req.data_dir),
            "plan_file": str(req.plan_path) if req.plan_path else None,
            **req.extra,
        },
        "inputs": {},
        "sha256": {},
        "versions": basis.versions,
        "git_commit": _git_commit(),
        "fingerprints": {"base": basis.base_fp, "code": basis.code},
        "steps": [],
        "notes": [],
    }
    old_sigterm = _catch_sigterm()
    return _Run(req.out, build, manifest, handler, say, old_sigterm, time.perf_counter())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _remove_stale_builds(out: Path) -> list[Path]:
    """Remove ``.build-<pid>-<ms>`` folders whose process is gone (a run killed with SIGKILL,
    or a machine that lost power, cannot clean up after itself). Returns what was removed."""
    removed = []
    for build in out.glob(".build-*"):
        pid = build.name[len(".build-") :].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _pid_alive(int(pid)):
            continue
        shutil.rmtree(build, ignore_errors=True)
        removed.append(build)
        log.info("removed %s, left by a run that no longer exists", build.name)
    return removed


def _end_process_state(run: _Run) -> None:
    """Close the run's log and give SIGTERM back its previous handler (every way out)."""
    _close_log(run.handler)
    if run.old_sigterm is not None:
        signal.signal(signal.SIGTERM, run.old_sigterm)


def _discard_refused(run: _Run, e: RunLocked) -> None:
    """A run refused by the lock writes nothing into the reports folder: its build folder is
    removed (the last report, the last failed attempt and the reports' index stay as they
    were) and the refusal is appended to ``<out>/refused.log``, outside every report folder."""
    run.refused = True
    _end_process_state(run)
    shutil.rmtree(run.build, ignore_errors=True)
    stamp = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    try:
        with open(run.out / "refused.log", "a", encoding="utf-8") as f:
            f.write(f"{stamp} refused: {e.message}\n")
    except OSError as err:  # the refusal itself is already on the terminal
        log.error("could not write refused.log: %s", err)


def _catch_sigterm() -> Any:
    """Install the SIGTERM handler; returns the one to restore (None: not in the main thread,
    nothing installed)."""
    old = signal.getsignal(signal.SIGTERM)
    try:
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not in the main thread
        return None
    return old


def _reuse_prepared(run: _Run, prev_dir: Path, prev_m: dict[str, Any]) -> dict[str, Any]:
    """Prepare, reusing the last good run made from the same inputs: copy its prepared inputs
    and their record. Returns that run's step records by name."""
    run.say(
        f"Inputs, parameters and code unchanged since the run of {prev_m.get('started')}: "
        "reusing what has not changed (--force reruns all)."
    )
    for name in prev_m.get("prepare_outputs", []):
        shutil.copy2(prev_dir / "outputs" / name, run.build / "outputs" / name)
    for key in ("inputs", "sha256", "notes", "rows", "prepare_outputs"):
        run.manifest[key] = prev_m.get(key)
    drift_notes = (prev_m.get("notebook_drift") or {}).get("notes") or []
    run.manifest["notes"] = [n for n in run.manifest["notes"] or [] if n not in drift_notes]
    return {s["name"]: s for s in prev_m.get("steps", [])}


def _prepare(run: _Run, req: _Request) -> str:
    """Prepare: read and validate the raw inputs once, write the normalised frames to
    ``outputs/`` and record them. Returns the period (resolved when none was asked for)."""
    from salesanalysis.data import context

    t0 = time.perf_counter()
    run.say("Preparing inputs (read, validate, build the monthly cube)...")
    prep = context.prepare(
        req.data_dir, req.plan_path, run.build / "outputs", req.period, req.today
    )
    p = prep["period"]
    run.manifest.update(
        inputs=prep["inputs"],
        sha256=prep["sha256"],
        notes=prep["notes"],
        rows=prep["rows"],
        prepare_outputs=sorted(x.name for x in (run.build / "outputs").iterdir()),
    )
    log.info("prepared inputs for %s in %.1fs: %s", p, time.perf_counter() - t0, prep["rows"])
    run.say(
        f"  period {p}: {prep['rows']['transactions']:,} lines -> {prep['rows']['cube']:,} cube "
        f"rows ({time.perf_counter() - t0:.1f}s)"
    )
    return p


def _enter_period(run: _Run, req: _Request, p: str) -> dict[str, Any]:
    """Record the period the run is for (once it holds the lock), put back a report left aside
    by a crashed swap, and return the notebooks' parameters."""
    run.manifest["period"] = p
    run.manifest["parameters"]["period"] = p
    for note in run.manifest["notes"] or []:
        run.say(f"  note: {note}")
    run.final = run.out / p
    _recover(run.final)
    return {
        "period": p,
        "run_dir": ".",
        "data_dir": str(req.data_dir),
        "plan_file": str(req.plan_path) if req.plan_path else "",
        "records_dir": str(Path(req.records_dir).resolve()) if req.records_dir else "",
        **req.extra,
    }


def _check_drift(run: _Run, steps: Sequence[Step]) -> None:
    """Warn about step notebooks that differ from the repository's committed version (or
    that they could not be compared): in the log, ``run.json`` and a note on the index page."""
    from salesanalysis import i18n
    from salesanalysis.report.drift import notebook_drift

    drift = notebook_drift([s.path for s in steps])
    i18n.set_report_from_outputs(run.build / "outputs")
    if drift.unchecked:
        notes = [
            i18n.tr(
                "The notebooks could not be compared with the repository's committed "
                "version (no git repository): edits saved in them would not be noticed."
            )
        ]
    else:
        notes = [
            i18n.tr(
                "Step {step} ran from a notebook that differs from the repository's "
                "committed version: its assumptions may not be the plan file's."
            ).format(step=Path(path).stem)
            for path in drift.changed
        ]
    for m in drift.messages():
        log.warning(m)
        run.say(f"  warning: {m}")
    run.manifest["notebook_drift"] = {
        "changed": drift.changed,
        "unchecked": drift.unchecked or None,
        "messages": drift.messages(),
        "notes": notes,
    }
    run.manifest["notes"] = [*(run.manifest["notes"] or []), *notes]


def _run_steps(
    run: _Run,
    steps: Sequence[Step],
    step_fps: Sequence[str],
    prev: tuple[Path, dict[str, Any]] | None,
    prev_steps: dict[str, Any],
    params: dict[str, Any],
    cell_timeout: int,
) -> None:
    """Run the steps in order. A step is reused from the previous run while it and every step
    before it are unchanged; the first changed step and all after it are executed."""
    reusing = prev is not None
    for i, (step, fp) in enumerate(zip(steps, step_fps, strict=True), 1):
        rec = StepRecord(step.stem, fingerprint=fp)
        run.records.append(rec)
        old = prev_steps.get(step.stem)
        reusing = (
            reusing
            and old is not None
            and old.get("fingerprint") == fp
            and old.get("status") in ("ok", "reused", "skipped")
        )
        progress = f"[{i}/{len(steps)}] {step.stem}"
        if reusing:
            _reuse_step(run, step, rec, prev[0], old, progress)  # type: ignore[index]
        else:
            _execute_step(run, step, rec, params, cell_timeout, progress)


def _reuse_step(
    run: _Run, step: Step, rec: StepRecord, prev_dir: Path, old: dict[str, Any], progress: str
) -> None:
    """Copy an unchanged step's notebook, report and outputs from the previous run."""
    for name in [f"{step.stem}.ipynb", f"{step.stem}.html"]:
        shutil.copy2(prev_dir / name, run.build / name)
    for name in old.get("outputs", []):
        shutil.copy2(prev_dir / "outputs" / name, run.build / "outputs" / name)
    rec.status, rec.outputs = "reused", list(old.get("outputs", []))
    rec.notebook, rec.html = f"{step.stem}.ipynb", f"{step.stem}.html"
    run.say(f"{progress}: unchanged, reused")
    log.info("step %s reused", step.stem)


def _execute_step(
    run: _Run,
    step: Step,
    rec: StepRecord,
    params: dict[str, Any],
    cell_timeout: int,
    progress: str,
) -> None:
    """Execute one notebook, record what it wrote and export its report.

    Raises:
        StepFailed: the notebook (or its HTML export) failed.
    """
    run.say(f"{progress} ...")
    t0 = time.perf_counter()
    failure: BaseException | None = None
    before = _snapshot(run.build / "outputs")
    try:
        _execute(step, run.build, params, cell_timeout)
        rec.status = "ok"
    except (_Interrupted, KeyboardInterrupt):
        rec.status = "interrupted"
        raise
    except Exception as e:  # papermill/kernel errors: recorded, then raised as StepFailed
        if getattr(e, "ename", None) == StepSkipped.__name__:
            rec.status, rec.note = "skipped", _strip_title(StepSkipped, str(e.evalue))
        else:
            rec.status = "failed"
            rec.error = _short_error(e)
            log.error("step %s failed: %s\n%s", step.stem, rec.error, traceback.format_exc())
            failure = e
    finally:
        rec.seconds = round(time.perf_counter() - t0, 2)
        rec.outputs = _changed(before, run.build / "outputs")
        _export_step(run.build, step, rec)
    own = run.build / "outputs" / f"{step.stem}.note"  # what a step says of itself, if it does
    if rec.status == "ok" and own.is_file():
        rec.note = shorten(" ".join(own.read_text(encoding="utf-8").split()), 200) or None
    said = rec.error or rec.note
    run.say(f"      {rec.status} in {rec.seconds:.1f}s" + (f": {said}" if said else ""))
    log.info("step %s %s in %.2fs", step.stem, rec.status, rec.seconds)
    if rec.status == "failed":
        raise _step_error(run, step, rec, failure)


# Errors a notebook raises that keep their own exit code when they stop the run (a conflict of
# pins found in step 03 exits 3, an invalid plan value found in a step exits 2, as documented).
_STEP_ERRORS: dict[str, type[SalesAnalysisError]] = {
    c.__name__: c for c in (ClusterError, ConstraintConflict, InputError, PlanError)
}


def _strip_title(cls: type[SalesAnalysisError], text: str) -> str:
    for title in dict.fromkeys((tr(cls.title), cls.title)):
        prefix = f"{title}: "
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def _step_error(run: _Run, step: Step, rec: StepRecord, e: BaseException | None) -> Exception:
    """The error that stops the run after a failed step: the notebook's own business error
    (with its exit code and fix) when it raised one, else StepFailed pointing at the report."""
    cls = _STEP_ERRORS.get(getattr(e, "ename", None) or "")
    if cls is not None:
        return cls(
            tr("step {step}: {message}").format(
                step=step.stem, message=_strip_title(cls, str(e.evalue))
            )
        )
    return StepFailed(
        tr("step {step} failed: {error}").format(step=step.stem, error=rec.error),
        fix=tr(
            "Open {page} (or the .ipynb) to see the error in context; the last good report is "
            "unchanged."
        ).format(page=f"{run.final}.failed/{step.stem}.html"),
    )


def _export_step(build: Path, step: Step, rec: StepRecord) -> None:
    """Normalise the executed notebook (when there is one) and export its HTML report; a
    failed export fails a step that had succeeded."""
    nb_out = build / f"{step.stem}.ipynb"
    if not nb_out.exists():
        return
    rec.notebook = nb_out.name
    try:
        _normalize_notebook(nb_out, nb_out.name, skipped=rec.status == "skipped")
        rec.title = step.title
        export_html(nb_out, build / f"{step.stem}.html", title=rec.title)
        rec.html = f"{step.stem}.html"
    except Exception as e:  # an unexportable notebook must not hide the real error
        log.error("HTML export of %s failed: %s", step.stem, e)
        if rec.status == "ok":
            rec.status, rec.error = "failed", f"HTML export failed: {_short_error(e)}"


def _record_failure(run: _Run, e: BaseException) -> None:
    """Record in the manifest why the run stopped and at which step ('prepare' before any)."""
    status = "interrupted" if isinstance(e, _Interrupted | KeyboardInterrupt) else "failed"
    run.manifest["status"] = status
    failed = next((r for r in run.records if r.status in ("failed", "interrupted")), None)
    run.manifest["error"] = {
        "step": failed.name if failed else "prepare",
        "type": type(e).__name__,
        "message": e.render() if isinstance(e, SalesAnalysisError) else _short_error(e),
    }
    log.error("run %s: %s", status, run.manifest["error"]["message"])


def _publish(run: _Run) -> tuple[Path, OSError | None]:
    """Publish: write run.json and index.html, then swap the report in when the run succeeded
    (or keep it as ``<period>.failed``), update the reports' index and release the lock.

    Returns the report's folder and the error that stopped writing the record (the report is
    then kept as failed: never swapped in without its record).
    """
    manifest = run.manifest
    manifest["steps"] = [r.__dict__ for r in run.records]
    manifest["finished"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    manifest["seconds"] = round(time.perf_counter() - run.t_run, 2)
    write_error: OSError | None = None
    try:
        _atomic_write_text(
            run.build / "run.json", json.dumps(manifest, ensure_ascii=False, indent=2)
        )
        _write_run_index(run.build, manifest)
    except OSError as e:  # e.g. the disk is full: never swap in a report without its record
        write_error = e
        log.error("could not write run.json/index.html: %s", e)
        manifest["status"] = "failed"
    finally:
        _end_process_state(run)
        dest = run.final if run.final is not None else run.out / (manifest["period"] or "unknown")
        if manifest["status"] == "ok":
            _swap_in(run.build, dest)
        else:
            _keep_failed(run.build, dest)
        try:
            _write_reports_index(run.out)
        except OSError as e:
            log.error("could not update %s/index.html: %s", run.out, e)
        if run.lock is not None:
            run.lock.release()
    return dest, write_error


def _keep_failed(build: Path, dest: Path) -> None:
    """Keep a failed run as ``<dest>.failed`` (replacing an older failed run)."""
    failed_dir = dest.with_name(dest.name + ".failed")
    try:
        if failed_dir.exists():
            shutil.rmtree(failed_dir)
        os.replace(build, failed_dir)
    except OSError as e:
        log.error("could not keep the failed run in %s: %s", failed_dir, e)


def _short_error(e: BaseException) -> str:
    name = getattr(e, "ename", None) or type(e).__name__
    value = getattr(e, "evalue", None) or str(e)
    text = f"{name}: {value}".strip()
    return text if len(text) < 2000 else text[:2000] + " ..."


def _kernel_manager_class() -> type:
    from jupyter_client.manager import AsyncKernelManager

    class QuietKernelManager(AsyncKernelManager):
        """A kernel whose stderr (start-up warnings, the traceback of an interrupted kernel) goes
        to the run's ``kernel.log`` instead of the console."""

        async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
            path = os.environ.get("SALESANALYSIS_KERNEL_LOG")
            if path:
                self._sa_log = open(path, "ab")  # noqa: SIM115 - lives as long as the kernel
                kw["stderr"] = self._sa_log
            await super()._async_launch_kernel(kernel_cmd, **kw)

    return QuietKernelManager


def _execute(step: Step, build: Path, params: dict[str, Any], cell_timeout: int) -> None:
    import papermill as pm

    declared = pm.inspect_notebook(str(step.path))
    params = {k: v for k, v in params.items() if k in declared}  # each notebook gets its own

    env_pin = {
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "SALESANALYSIS_KERNEL_LOG": str(build / "kernel.log"),
        PIPELINE_ENV: "1",  # the kernel's errors give command-line advice (errors.in_notebook)
    }
    saved = {k: os.environ.get(k) for k in env_pin}
    os.environ.update(env_pin)
    source = _translated_source(step, build)
    try:
        pm.execute_notebook(
            str(source),
            str(build / f"{step.stem}.ipynb"),
            parameters=params,
            cwd=str(build),
            kernel_name="python3",
            progress_bar=False,
            log_output=False,
            execution_timeout=cell_timeout,
            request_save_on_cell_execute=True,
            kernel_manager_class=_kernel_manager_class(),
        )
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if source != step.path:
            source.unlink(missing_ok=True)


def _translated_source(step: Step, build: Path) -> Path:
    """The step's notebook with its markdown in the report's language (``outputs/plan.json``),
    written beside the build; the notebook itself when the language is the source language."""
    from salesanalysis import i18n

    i18n.set_report_from_outputs(build / "outputs")
    if i18n.language() == i18n.SOURCE_LANGUAGE:
        return step.path
    nb = json.loads(step.path.read_text(encoding="utf-8"))
    source = build / f".{step.stem}.{i18n.language()}.ipynb"
    source.write_text(json.dumps(i18n.translate_notebook(nb), ensure_ascii=False), "utf-8")
    return source


# --------------------------------------------------------------------------------------------
# index pages


def _write_run_index(build: Path, manifest: dict[str, Any]) -> None:
    from salesanalysis.i18n import set_report_from_outputs
    from salesanalysis.report.index import headline, render_index

    set_report_from_outputs(build / "outputs")
    titles = {s["name"]: s.get("title") or s["name"] for s in manifest["steps"]}
    try:
        write_appendix(build, manifest, titles)
    except Exception as e:  # a missing appendix must not fail the run
        log.warning("no appendix page: %s", e)
    h = None
    if manifest["status"] == "ok":
        try:
            h = headline(build / "outputs", manifest["period"])
        except Exception as e:  # a missing headline must not fail the run
            log.warning("no headline figures: %s", e)
    try:
        page = render_index(manifest, h)
    except Exception as e:  # figures that cannot be shown: the page without them
        log.warning("index page without its figures: %s", e)
        page = render_index(manifest, None)
    _atomic_write_text(build / "index.html", page)


def _write_reports_index(out: Path) -> None:
    """``<out>/index.html``: every period's last good report, and failed attempts."""
    e = html.escape
    rows = []
    for d in sorted(
        (p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True
    ):
        run = d / "run.json"
        if not run.exists():
            continue
        try:
            m = json.loads(run.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        rows.append(
            f'<tr><td><a href="{e(d.name)}/index.html">{e(d.name)}</a></td>'
            f"<td>{e(m.get('status', '?'))}</td><td>{e(m.get('started', ''))}</td></tr>"
        )
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Sales reports</title>
<style>body {{ font-family: Arial, sans-serif; max-width: 800px; margin: 24px auto; }}
td, th {{ padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; }}</style></head>
<body><h1>Sales reports</h1><table><tr><th>Report</th><th>Status</th><th>Run at (UTC)</th></tr>
{"".join(rows)}</table></body></html>"""
    _atomic_write_text(out / "index.html", page)


def python_info() -> str:  # pragma: no cover - diagnostic
    return f"{sys.executable} {platform.python_version()}"
