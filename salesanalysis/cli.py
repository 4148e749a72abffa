"""The ``salesanalysis`` command.

    salesanalysis run [--period YYYY-MM] [--data DIR] [--plan FILE] [--out DIR] [--allow-outside]
                      [--pdf]
    salesanalysis validate [--data DIR] [--plan FILE] [--allow-outside]
    salesanalysis steps
    salesanalysis plan freeze|adopt --run reports/YYYY-MM [--note TEXT]
    salesanalysis plan import --run reports/YYYY-MM EDITED.xlsx [--note TEXT]
    salesanalysis plan show --year YYYY
    salesanalysis plan seed-notebook [--plan FILE] [--notebook FILE]

Errors meant for the user are printed as one short block and a non-zero exit code
(2 invalid input or plan, 3 conflicting plan constraints, 4 a step failed, 5 another run holds
the lock, 6 plan-of-record refusal, 130 interrupted); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any

# Arrow's allocator (mimalloc) reserves 1 GiB of address space at its first allocation; 64 MiB
# at a time keeps a run (and the notebooks' kernels, which inherit this) within an address-space
# limit (`ulimit -v`) sized to what it really uses. Set before pyarrow is first imported.
os.environ.setdefault("MIMALLOC_ARENA_RESERVE", "64MiB")

from salesanalysis.errors import SalesAnalysisError, shorten
from salesanalysis.i18n import tr
from salesanalysis.paths import REPORTS_DIR, SAMPLE_DIR

__all__ = ["main"]


def _default_plan(data: Path) -> Path | None:
    plan = data / "plan.yaml"
    return plan if plan.exists() else None


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        type=Path,
        default=SAMPLE_DIR,
        help="folder with transactions, reps and market files (default: the sample data)",
    )
    p.add_argument(
        "--plan",
        type=Path,
        default=None,
        help="plan assumptions YAML (default: plan.yaml in the data folder)",
    )
    p.add_argument(
        "--allow-outside",
        action="store_true",
        help="let mapping.yaml name input files outside the data folder (absolute paths, "
        "'..', links out); by default input files are read only inside it",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="salesanalysis",
        description="Sales planning workbook: "
        "market analysis, forecast, target decomposition, performance review.",
    )
    sub = ap.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the monthly report")
    _add_common(run)
    run.add_argument(
        "--period",
        default="",
        help="report month YYYY-MM (default: the latest complete month of the data)",
    )
    run.add_argument(
        "--out", type=Path, default=REPORTS_DIR, help="reports folder (default: reports/)"
    )
    run.add_argument(
        "--steps", nargs="*", default=None, help="run only these steps (names or numbers)"
    )
    run.add_argument(
        "--notebooks",
        type=Path,
        default=None,
        help="folder of the pipeline's notebooks NN_name.ipynb (default: notebooks/)",
    )
    run.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="seconds to wait for another run of the same period to finish (default 0: refuse)",
    )
    run.add_argument(
        "--cell-timeout", type=int, default=1800, help="seconds a notebook cell may take"
    )
    run.add_argument(
        "--scheduler",
        default="",
        help="Dask scheduler address (tcp://host:8786) for the forecast; default: local processes",
    )
    run.add_argument(
        "--records",
        type=Path,
        default=None,
        help="plan-of-record folder (default: plans/ in the project)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="rerun every step even when its inputs, parameters and code are unchanged",
    )
    run.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a notebook parameter for every step that has it (repeatable), "
        "e.g. --param top_n=10 --param month_correlation=0.5",
    )
    run.add_argument(
        "--pdf",
        action="store_true",
        help="also print the index and each step's page to PDF (A4) beside the HTML, with "
        "headless Chromium (install it with .ci/install-chromium.sh)",
    )
    run.add_argument("--quiet", action="store_true", help="print only the report path and errors")

    val = sub.add_parser("validate", help="check the inputs only")
    _add_common(val)
    val.add_argument(
        "--period",
        default="",
        help="also check that a run for this report month YYYY-MM is possible "
        "(data covers it, the plan belongs to it)",
    )

    sub.add_parser("steps", help="list the pipeline's steps")

    _add_plan_commands(sub)
    return ap


def _add_plan_commands(sub: Any) -> None:
    """``salesanalysis plan freeze|adopt|import|seed-notebook|show``."""
    plan = sub.add_parser("plan", help="the plan of record: freeze, adopt a revision, show")
    psub = plan.add_subparsers(dest="plan_command", required=True)
    for name, text in (
        ("freeze", "freeze a run's targets as the fiscal year's plan of record"),
        ("adopt", "adopt a run's proposed revision as the next version"),
    ):
        p = psub.add_parser(name, help=text)
        p.add_argument(
            "--run", type=Path, required=True, help="a successful run folder, reports/<YYYY-MM>"
        )
        p.add_argument(
            "--records", type=Path, default=None, help="plan-of-record folder (default: plans/)"
        )
        p.add_argument("--note", default=None, help="why (kept in record.json)")
        p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument(  # adopt only
        "--accept-lower",
        action="store_true",
        help="adopt a revision whose re-planning left part of the gap unallocated (its "
        "targets add up to less than the full-year target); the shortfall goes in the note",
    )
    p = psub.add_parser(
        "import",
        help="read a manager's edits to rep targets in targets.xlsx back into a run "
        "(and the plan of record, when the year has one)",
        description="Reads the Rep sheet's target revenue of each rep as an override, keeps "
        "pins and the company total by offsetting the change over the unedited reps, shows "
        "old -> new per edit, and writes the run's targets (a draft to freeze) or, when the "
        "year has a plan of record, its next version. Refuses, saying why, when a pin or the "
        "total cannot be kept.",
    )
    p.add_argument("--run", type=Path, required=True, help="the run folder the workbook came from")
    p.add_argument("workbook", type=Path, help="the edited targets.xlsx")
    p.add_argument(
        "--records", type=Path, default=None, help="plan-of-record folder (default: plans/)"
    )
    p.add_argument("--note", default=None, help="why (kept in record.json)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p = psub.add_parser(
        "seed-notebook",
        help="write step 03's assumption cells from a plan file",
        description="Writes the literal assumption cells of the target-decomposition notebook "
        "(revenue_growth = 0.1, cushion_pct = 0.05, ...) from a plan file, with the plan's "
        "comments, and records the values written. A cell left at its seeded value takes the "
        "plan file's value when the notebook runs; a value typed over wins. Only those cells "
        "change.",
    )
    p.add_argument(
        "--plan", type=Path, default=None, help="plan file (default: data/sample/plan.yaml)"
    )
    p.add_argument(
        "--notebook",
        type=Path,
        default=None,
        help="notebook to seed (default: notebooks/03_target_decomposition.ipynb)",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p = psub.add_parser("show", help="list the versions of a year's plan of record")
    p.add_argument("--year", type=int, required=True)
    p.add_argument(
        "--records", type=Path, default=None, help="plan-of-record folder (default: plans/)"
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _plan(args: argparse.Namespace) -> int:
    from salesanalysis.i18n import set_report_from_outputs
    from salesanalysis.targets import record

    if args.plan_command == "seed-notebook":
        return _seed_notebook(args)
    records = args.records or record.RECORDS_DIR
    if args.plan_command == "show":
        cur = record.current(args.year, records)
        versions = record.history(args.year, records)
        if not versions:
            print(f"FY{args.year} has no plan of record in {records}")
        for r in versions:
            mark = "*" if cur is not None and r.version == cur.version else " "
            print(f"{mark} {r.describe()}")
        return 0
    set_report_from_outputs(args.run / "outputs")  # messages in the run's report language
    if args.plan_command == "import":
        return _plan_import(args, records)
    if args.plan_command == "adopt":
        rec = record.adopt(args.run, records, args.note, accept_lower=args.accept_lower)
    else:
        rec = record.freeze(args.run, records, args.note)
    print(rec.describe())
    print(
        tr("stored in {folder} (read-only); it is now the current plan of record").format(
            folder=rec.folder
        )
    )
    return 0


def _seed_notebook(args: argparse.Namespace) -> int:
    from salesanalysis.paths import NOTEBOOKS_DIR, SAMPLE_PLAN
    from salesanalysis.targets.assumptions import seed_notebook

    plan = args.plan or SAMPLE_PLAN
    notebook = args.notebook or NOTEBOOKS_DIR / "03_target_decomposition.ipynb"
    cells = seed_notebook(notebook, plan)
    print(f"{notebook}: {len(cells)} assumption cells written from {plan}")
    return 0


def _plan_import(args: argparse.Namespace, records: Path) -> int:
    import time

    from salesanalysis.targets.record_import import import_workbook

    t0 = time.perf_counter()
    res = import_workbook(args.run, args.workbook, records, args.note)
    print("\n".join(res.report(args.workbook, args.run, records)))
    print(f"({time.perf_counter() - t0:.1f}s)")
    return 0


def _validate(args: argparse.Namespace) -> int:
    """Read and check the inputs as a run does (the same reader: Arrow's fast path when it can
    vouch for the file, else the pandas readers), so that validating a large file takes no
    more memory than running on it."""
    from salesanalysis.data.context import use_plan_language
    from salesanalysis.data.ingest import load_cubes
    from salesanalysis.data.mapping import files_outside_data_folder
    from salesanalysis.execution.inputs import read_execution_inputs

    plan = args.plan or _default_plan(args.data)
    use_plan_language(plan)  # the data notes in the plan's language, as a run writes them
    with files_outside_data_folder(args.allow_outside):
        ing = load_cubes(args.data, plan)
        dims = ("region", "product_line", "customer_type")
        extra = read_execution_inputs(
            args.data, ing.plan, {d: set(ing.cube[d].astype(str)) for d in dims}, ing.reps
        )
    cube = ing.cube
    print(
        f"OK: {ing.n_lines:,} transaction lines from {ing.first_date:%Y-%m-%d} to "
        f"{ing.last_date:%Y-%m-%d}; {cube['region'].nunique()} regions, "
        f"{cube['product_line'].nunique()} product lines, {cube['customer_type'].nunique()} "
        f"customer types, {len(ing.reps)} reps, {len(ing.market):,} market rows"
        + (f"; plan {plan}" if plan else "; no plan file")
    )
    for note in ing.notes:
        print(f"note: {note}")
    for name, df in (
        ("actions", extra.actions),
        ("action status rows", extra.action_status),
        ("pipeline opportunities", extra.pipeline),
    ):
        if df is not None:
            print(f"{name}: {len(df):,}")
    if getattr(args, "period", "") and ing.plan is not None:
        from salesanalysis.review.scope import check_run
        from salesanalysis.targets.record import RECORDS_DIR

        last_month = ing.last_date.to_period("M")
        for line in check_run(args.period, ing.plan, last_month, RECORDS_DIR):
            print(line)
    return 0


def _parse_params(items: list[str]) -> dict[str, object]:
    """``NAME=VALUE`` pairs; a value is read as a YAML scalar (10 -> int, 0.5 -> float,
    true -> bool, anything else a string)."""
    import yaml

    from salesanalysis.errors import InputError

    out: dict[str, object] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise InputError(
                tr("{option} is not NAME=VALUE").format(option=f"--param {item[:80]!r}"),
                fix=tr(
                    "Write it as `--param top_n=10` (the names are listed in each notebook's "
                    "parameters cell, and by `papermill --help-notebook notebooks/<step>.ipynb`)."
                ),
            )
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if not isinstance(value, str | int | float | bool):
            value = raw
        out[name] = value
    return out


def check_scheduler(address: str, timeout: float = 5.0) -> None:
    """Check a ``--scheduler`` address before any step runs: its form (``tcp://host:port``)
    and that something listens there.

    Raises:
        ClusterError: a malformed or unreachable address (exit 2).
    """
    import socket
    from urllib.parse import urlsplit

    from salesanalysis.errors import ClusterError

    parts = urlsplit(address if "://" in address else f"//{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or port is None:
        guess = f"tcp://{parts.hostname or 'host'}:{port or 8786}"
        raise ClusterError(
            tr("{option} is not a Dask scheduler address").format(
                option=f"--scheduler {address[:200]!r}"
            ),
            fix=tr(
                "Give it as `{option}` (the address `dask scheduler` prints), or leave "
                "--scheduler out to use local processes."
            ).format(option=f"--scheduler {guess}"),
        )
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ClusterError(
            tr("nothing answers at {option} ({reason})").format(
                option=f"--scheduler {address}", reason=exc.strerror or exc
            ),
            fix=tr(
                "Start the scheduler (`dask scheduler`) and its workers, correct the address "
                "given with --scheduler, or leave --scheduler out to use local processes."
            ),
        ) from exc


def _run(args: argparse.Namespace) -> int:
    if args.scheduler:
        check_scheduler(args.scheduler)
    if args.pdf:  # before any step runs: a missing browser is found at once
        from salesanalysis.report.browser import Browser

        Browser().close()
    plan = args.plan or _default_plan(args.data)
    echo = (lambda s: None) if args.quiet else (lambda s: print(s, flush=True))
    from salesanalysis.data.mapping import files_outside_data_folder

    with files_outside_data_folder(args.allow_outside):
        result = _run_pipeline(args, plan, echo)
    if args.quiet:
        print(result.index)
    return 0


def _run_pipeline(args: argparse.Namespace, plan: Path | None, echo: Any) -> Any:
    from salesanalysis.paths import NOTEBOOKS_DIR
    from salesanalysis.report.pipeline import run_pipeline
    from salesanalysis.targets.record import RECORDS_DIR

    return run_pipeline(
        args.period or None,
        args.data,
        plan,
        args.out,
        steps=args.steps,
        notebooks_dir=args.notebooks or NOTEBOOKS_DIR,
        echo=echo,
        wait=args.wait,
        cell_timeout=args.cell_timeout,
        force=args.force,
        records_dir=args.records or RECORDS_DIR,
        pdf=args.pdf,
        extra_parameters={
            **_parse_params(args.param),
            **({"scheduler": args.scheduler} if args.scheduler else {}),
        }
        or None,
    )


def _quiet_libraries() -> None:
    """In the command-line process, library loggers never reach the terminal: while a run is
    open they write to its run.log (the pipeline adds that handler); a message that arrives
    after the run closed its log (nbclient's "Kernel died" from a task still winding down when
    a run is interrupted) is dropped instead of reaching Python's last-resort stderr handler."""
    import logging

    from salesanalysis.report.pipeline import LIBRARY_LOGGERS

    for name in LIBRARY_LOGGERS:
        lib = logging.getLogger(name)
        lib.addHandler(logging.NullHandler())
        lib.propagate = False


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "run":
        _quiet_libraries()
    try:
        if args.command == "validate":
            return _validate(args)
        if args.command == "run":
            return _run(args)
        if args.command == "plan":
            return _plan(args)
        if args.command == "steps":
            from salesanalysis.report.pipeline import discover_steps

            for s in discover_steps():
                print(f"{s.number:02d} {s.name}  ({s.path})")
            return 0
    except SalesAnalysisError as e:
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(e.render(), file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("Interrupted: the last good report is unchanged.", file=sys.stderr)
        return 130
    except BaseException as e:
        if type(e).__name__ == "_Interrupted":
            print(f"Interrupted ({e}): the last good report is unchanged.", file=sys.stderr)
            return 143
        if getattr(args, "debug", False) or not isinstance(e, Exception):
            raise
        print(
            f"Unexpected error: {type(e).__name__}: {shorten(str(e))}\n(run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
