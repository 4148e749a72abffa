"""The plan of record: a fiscal year's targets, frozen once and then kept as they were.

Where it lives: ``plans/FY<year>/`` (``--records DIR``; default ``plans/`` in the project)::

    plans/FY2026/
      CURRENT            the adopted version, e.g. "v2"
      v1/                frozen from run reports/2026-01 on 2026-02-03
        targets.parquet  the targets (month x region x product_line x customer_type x rep_id)
        targets.xlsx     the same for managers, when the run had it
        plan.json        the assumptions the targets were made from
        record.json      who/when/from which run, sha256 of each file, totals
      v2/                a revision adopted from run reports/2026-07 (revised_targets)

How it is frozen: ``salesanalysis plan freeze --run reports/2026-01`` copies the run's
``outputs/targets.parquet`` into ``v1`` and makes the files read-only; a year that already has
a plan of record is never frozen again. How a revision is adopted: each monthly run proposes
``outputs/revised_targets.parquet`` beside the plan; ``salesanalysis plan adopt --run
reports/2026-07 --note "..."`` stores it as the next version and makes it current. Earlier
versions are kept untouched. Every run reviews against the current version (or, before a year
is frozen, against the draft targets it computes, and says so).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from salesanalysis.data.readers import sha256_file
from salesanalysis.errors import RecordError
from salesanalysis.i18n import N_, tr
from salesanalysis.paths import REPO_DIR
from salesanalysis.targets import record_checks

__all__ = [
    "RECORDS_DIR",
    "Record",
    "adopt",
    "apply_record",
    "record_details",
    "current",
    "freeze",
    "history",
    "run_targets",
    "store_import",
]

RECORDS_DIR = REPO_DIR / "plans"
RECORD_KINDS = (N_("frozen"), N_("revision"), N_("import"))
"""How a version came to be (``record.json`` ``kind``), shown translated."""
TARGET_COLUMNS = [
    "month",
    "region",
    "product_line",
    "customer_type",
    "rep_id",
    "target_revenue",
    "target_customers",
]
OPTIONAL_COLUMNS = ["target_revenue_no_cushion", "plan_name"]


@dataclass(frozen=True)
class Record:
    """One version of a fiscal year's plan of record."""

    year: int
    version: str
    folder: Path
    meta: dict[str, Any]

    @property
    def targets_path(self) -> Path:
        return self.folder / "targets.parquet"

    def targets(self) -> pd.DataFrame:
        return pd.read_parquet(self.targets_path)

    def verify(self) -> None:
        """Raise when a frozen file was changed after freezing."""
        for name, digest in self.meta.get("sha256", {}).items():
            path = self.folder / name
            if not path.exists() or sha256_file(path) != digest:
                raise RecordError(
                    tr("{file} was changed after FY{year} {version} was frozen").format(
                        file=path, year=self.year, version=self.version
                    ),
                    fix=tr(
                        "Restore it from version control; revisions are adopted as a new "
                        "version with `salesanalysis plan adopt`."
                    ),
                )

    def describe(self) -> str:

        m = self.meta
        return tr(
            "FY{year} {version}: {kind} {date} from run {run} (total revenue {total})"
        ).format(
            year=self.year,
            version=self.version,
            kind=tr(str(m.get("kind", "frozen"))),
            date=m.get("frozen_at", "")[:10],
            run=m.get("source_run", "?"),
            total=f"{m.get('total_revenue', 0):,.0f}",
        ) + (f" - {m['note']}" if m.get("note") else "")


def _year_dir(records: Path, year: int) -> Path:
    return Path(records) / f"FY{year}"


def history(year: int, records: Path | str = RECORDS_DIR) -> list[Record]:
    """All versions of a year's plan of record, oldest first."""
    d = _year_dir(Path(records), year)
    out = []
    for v in sorted(d.glob("v*"), key=lambda p: int(p.name[1:]) if p.name[1:].isdigit() else 0):
        meta_path = v / "record.json"
        if meta_path.exists():
            out.append(Record(year, v.name, v, json.loads(meta_path.read_text(encoding="utf-8"))))
    return out


def current(year: int, records: Path | str = RECORDS_DIR) -> Record | None:
    """The adopted version of the year's plan of record (None before the year is frozen)."""
    d = _year_dir(Path(records), year)
    marker = d / "CURRENT"
    if not marker.exists():
        return None
    version = marker.read_text(encoding="utf-8").strip()
    meta = d / version / "record.json"
    if not meta.exists():
        raise RecordError(
            tr("{file} names {version}, which has no record.json").format(
                file=marker, version=version
            ),
            fix=tr("Correct {file} to an existing version ({versions}).").format(
                file=marker,
                versions=", ".join(r.version for r in history(year, records)) or tr("none"),
            ),
        )
    rec = Record(year, version, d / version, json.loads(meta.read_text(encoding="utf-8")))
    rec.verify()
    return rec


def _run_outputs(run: Path, name: str) -> Path:
    path = Path(run) / "outputs" / f"{name}.parquet"
    if not path.exists():
        raise RecordError(
            tr("{file} does not exist").format(file=path),
            fix=tr(
                "Give --run the folder of a successful run (reports/<YYYY-MM>) that has "
                "the {name} output."
            ).format(name=name),
        )
    status = (
        json.loads((Path(run) / "run.json").read_text(encoding="utf-8")).get("status")
        if (Path(run) / "run.json").exists()
        else None
    )
    if status != "ok":
        raise RecordError(
            tr("run {run} did not finish successfully (status {status})").format(
                run=run, status=status
            ),
            fix=tr("Freeze or adopt only from a successful run."),
        )
    return path


def _read_checked(
    targets_src: Path, run: Path, year: int, previous: Record | None
) -> pd.DataFrame:
    """The targets to store, read and checked (see :mod:`salesanalysis.targets.record_checks`);
    nothing is written before this passes."""
    targets = pd.read_parquet(targets_src)
    revision = "revised_revenue" in targets.columns
    needed = (
        ["month", "region", "product_line", "customer_type", "rep_id"]
        + ["revised_revenue", "revised_customers"]
        if revision
        else TARGET_COLUMNS
    )
    missing = [c for c in needed if c not in targets.columns]
    if missing:
        raise RecordError(
            tr("{file} lacks the columns {columns}").format(
                file=targets_src, columns=", ".join(missing)
            ),
            fix=tr("Freeze the targets written by the target-decomposition step."),
        )
    if revision:  # a revision: the revised figures become the targets
        record_checks.check_revision(
            targets, targets_src, run, year, previous.meta if previous else {}
        )
        targets = targets.assign(
            target_revenue=targets["revised_revenue"],
            target_customers=targets["revised_customers"],
        )
        if "revised_revenue_no_cushion" in targets.columns:
            targets["target_revenue_no_cushion"] = targets["revised_revenue_no_cushion"]
    else:
        record_checks.check_targets(targets, targets_src, run, year)
    return targets


def _store(
    year: int,
    records: Path,
    targets_src: Path,
    run: Path,
    kind: str,
    note: str | None,
    excel_src: Path | None,
    previous: Record | None = None,
    extra: dict[str, Any] | None = None,
) -> Record:
    targets = _read_checked(targets_src, run, year, previous)
    if excel_src is not None and excel_src.exists():
        record_checks.check_workbook(excel_src)
        if kind in ("frozen", "import"):  # the managers' workbook shows these very targets
            record_checks.check_workbook_matches(excel_src, targets)
    d = _year_dir(records, year)
    d.mkdir(parents=True, exist_ok=True)
    existing = history(year, records)
    version = f"v{len(existing) + 1}"
    tmp = d / f".{version}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    keep = TARGET_COLUMNS + [c for c in OPTIONAL_COLUMNS if c in targets.columns]
    targets[keep].to_parquet(tmp / "targets.parquet", index=False)
    if excel_src is not None and excel_src.exists():
        shutil.copy2(excel_src, tmp / "targets.xlsx")
    plan_json = Path(run) / "outputs" / "plan.json"
    if plan_json.exists():
        shutil.copy2(plan_json, tmp / "plan.json")
    files = sorted(p.name for p in tmp.iterdir())
    meta = {
        "year": year,
        "version": version,
        "kind": kind,
        "frozen_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "source_run": str(Path(run).resolve()),
        "source_period": json.loads((Path(run) / "run.json").read_text(encoding="utf-8")).get(
            "period"
        ),
        "previous": existing[-1].version if existing else None,
        "note": note,
        "total_revenue": float(targets["target_revenue"].sum()),
        "total_customers": float(targets["target_customers"].sum()),
        "sha256": {name: sha256_file(tmp / name) for name in files},
        **(extra or {}),
    }
    (tmp / "record.json").write_text(
        json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    for p in tmp.iterdir():
        os.chmod(p, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    os.replace(tmp, d / version)
    marker = d / "CURRENT"
    marker_tmp = d / ".CURRENT.tmp"
    marker_tmp.write_text(version + "\n", encoding="utf-8")
    os.replace(marker_tmp, marker)
    return Record(year, version, d / version, meta)


def _year_of(targets_path: Path) -> int:
    months = pd.read_parquet(targets_path, columns=["month"])["month"]
    years = sorted(set(pd.to_datetime(months).dt.year))
    if len(years) != 1:
        raise RecordError(
            tr("{file} spans the years {years}; a plan of record covers one fiscal year").format(
                file=targets_path, years=", ".join(str(y) for y in years)
            )
        )
    return int(years[0])


def freeze(run: Path | str, records: Path | str = RECORDS_DIR, note: str | None = None) -> Record:
    """Freeze a run's targets as the plan of record of their fiscal year (version v1)."""
    run, records = Path(run), Path(records)
    src = _run_outputs(run, "targets")
    year = _year_of(src)
    cur = current(year, records)
    if cur is not None:
        raise RecordError(
            tr("FY{year} already has a plan of record ({record})").format(
                year=year, record=cur.describe()
            ),
            fix=tr(
                "A frozen plan is kept as it was; adopt a revision with "
                "`salesanalysis plan adopt --run <run>` instead."
            ),
        )
    return _store(year, records, src, run, "frozen", note, run / "outputs" / "targets.xlsx")


def run_targets(run: Path | str) -> Path:
    """The ``outputs/targets.parquet`` of a successful run.

    Raises:
        RecordError: no such file, or the run did not finish successfully.
    """
    return _run_outputs(Path(run), "targets")


def store_import(run: Path | str, records: Path | str, note: str, previous: Record) -> Record:
    """Store a run's targets, as ``plan import`` left them, as the next version of the year's
    plan of record (kind ``import``), checked as a freeze is."""
    run = Path(run)
    src = _run_outputs(run, "targets")
    return _store(
        previous.year,
        Path(records),
        src,
        run,
        "import",
        note,
        run / "outputs" / "targets.xlsx",
        previous,
    )


def adopt(
    run: Path | str,
    records: Path | str = RECORDS_DIR,
    note: str | None = None,
    *,
    accept_lower: bool = False,
) -> Record:
    """Adopt a run's proposed revision (``revised_targets``) as the next version.

    A revision whose re-planning could not place all that the year still needs (its targets
    add up to less than the full-year target) is refused unless ``accept_lower``; then the
    shortfall is added to the note and kept in ``record.json`` (``accepted_shortfall``)."""
    run, records = Path(run), Path(records)
    src = _run_outputs(run, "revised_targets")
    year = _year_of(src)
    cur = current(year, records)
    if cur is None:
        raise RecordError(
            tr("FY{year} has no plan of record to revise").format(year=year),
            fix=tr("Freeze the plan first with `salesanalysis plan freeze --run <run>`."),
        )
    short = record_checks.revision_shortfall(pd.read_parquet(src), run)
    extra = None
    if short and not accept_lower:
        record_checks.refuse_shortfall(short, src, run, year)
    if short:
        said = record_checks.shortfall_note(short, run)
        note = f"{note} - {said}" if note else said
        extra = {"accepted_shortfall": short}
    return _store(
        year,
        records,
        src,
        run,
        "revision",
        note,
        run / "outputs" / "revised_targets.xlsx",
        cur,
        extra,
    )


def apply_record(outputs: Path | str, year: int, records: Path | str | None = RECORDS_DIR) -> str:
    """Make the run review against the plan of record, when the year has one.

    The targets this run computed are kept as ``targets_computed.parquet``; ``targets.parquet``
    (and ``targets.xlsx`` when the record has one) become the record's. Returns a sentence for
    the report saying which targets the run uses and how the computed ones compare.
    """
    from salesanalysis.report.formatting import money

    outputs = Path(outputs)
    rec = current(year, records) if records else None
    computed = outputs / "targets.parquet"
    if rec is None:
        return tr(
            "No plan of record for FY{year} yet: this run's targets are a **draft**."
        ).format(year=year)
    comp = pd.read_parquet(computed)
    shutil.copy2(computed, outputs / "targets_computed.parquet")
    frozen = rec.targets()
    shutil.copy2(rec.targets_path, computed)
    os.chmod(computed, 0o644)
    if (rec.folder / "targets.xlsx").exists():
        shutil.copy2(rec.folder / "targets.xlsx", outputs / "targets.xlsx")
        os.chmod(outputs / "targets.xlsx", 0o644)
    diff = float(comp["target_revenue"].sum() - frozen["target_revenue"].sum())
    return tr(
        "Targets used: the plan of record, {record}. Recomputed from today's data and "
        "assumptions, the company target would differ by {diff} (for information only)."
    ).format(record=rec.describe(), diff=money(diff, "", signed=True))


def record_details(year: int, records: Path | str | None = RECORDS_DIR) -> str:
    """For the appendix: where the plan of record is looked for and how to freeze or where the
    targets computed today are kept (the files and commands :func:`apply_record` leaves out)."""

    if not records:
        return tr("No plan-of-record folder is used (records_dir is empty).")
    if current(year, records) is None:
        return tr(
            "Plan-of-record folder: `{folder}`. Freeze this run's targets with "
            "`salesanalysis plan freeze --run <this run folder>`."
        ).format(folder=records)
    return tr(
        "Plan-of-record folder: `{folder}`. The targets computed today are kept as "
        "`targets_computed.parquet`."
    ).format(folder=records)
