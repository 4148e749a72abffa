"""The run context notebooks work in: the validated inputs, the cube and earlier steps' outputs.

The pipeline's *prepare* stage (:func:`prepare`) reads and validates the raw inputs once and
writes the normalised frames into ``<run>/outputs/``. A notebook calls :func:`open_run`, which
reads them from there; when a planner runs a notebook on its own in JupyterLab and the folder is
missing or stale (an input file changed), ``open_run`` prepares it first.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from salesanalysis.data.readers import sha256_file
from salesanalysis.errors import InputError
from salesanalysis.i18n import (
    LANGUAGES,
    UNITS,
    set_report_from_outputs,
    set_report_from_plan,
    tr,
)

__all__ = [
    "RunContext",
    "latest_complete_month",
    "open_run",
    "prepare",
    "resolve_period",
    "use_plan_language",
]

PREPARED = "prepare.json"
FRAMES = ("cube", "customers", "orders", "reps", "market")


def latest_complete_month(last_date: pd.Timestamp, today: _dt.date | None = None) -> pd.Period:
    """The latest month of the data that is complete.

    The month of the last transaction counts as complete once it has ended (the export was made
    after its last day) or when the data reaches its last day; otherwise the month before it.
    """
    last_date = pd.Timestamp(last_date)
    month = last_date.to_period("M")
    today = today or _dt.date.today()
    month_end = month.to_timestamp(how="end").normalize()
    if pd.Timestamp(today) > month_end or last_date.normalize() >= month_end:
        return month
    return month - 1


def resolve_period(
    period: str | None,
    first_month: pd.Period,
    last_date: pd.Timestamp,
    today: _dt.date | None = None,
) -> pd.Period:
    """Validate a ``YYYY-MM`` report period against the data ('' = latest complete month)."""
    if not period:
        return latest_complete_month(last_date, today)
    try:
        p = pd.Period(str(period), freq="M")
    except (ValueError, TypeError):
        raise InputError(
            tr("report period '{period}' is not a month").format(period=period),
            fix=tr("Give the period as YYYY-MM, e.g. 2026-10."),
        ) from None
    if not len(str(period)) == 7 or str(period)[4] != "-":
        raise InputError(
            tr("report period '{period}' is not in the form YYYY-MM").format(period=period),
            fix=tr("Give the period as YYYY-MM, e.g. 2026-10."),
        )
    last = pd.Timestamp(last_date).to_period("M")
    if p < first_month:
        raise InputError(
            tr("report period {period} is before the history starts ({first})").format(
                period=p, first=first_month
            ),
            fix=tr("Choose a month between {first} and {last}.").format(
                first=first_month, last=last
            ),
        )
    if p > last:
        raise InputError(
            tr("report period {period} has no data: the transactions end in {last}").format(
                period=p, last=last
            ),
            fix=tr("Choose a month up to {last}, or add the missing transactions.").format(
                last=last
            ),
        )
    return p


def _hashes(sources: dict[str, Path]) -> dict[str, str]:
    return {name: sha256_file(Path(p)) for name, p in sorted(sources.items())}


def _write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write atomically: a failed write never leaves a half-written file under the final name."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_DIMS = ("region", "product_line", "customer_type")


def use_plan_language(plan_file: Path | str | None) -> None:
    """Set the report's language from the plan file, so that its errors read in it too.

    A plan that does not validate is reported by the ingest that follows; its
    ``report: language`` (and ``units``) are then read leniently from the raw YAML, with the
    same safe, bounded loader (size limit, no anchors or aliases). Only a plan whose YAML
    cannot be read, or whose language is not one of :data:`~salesanalysis.i18n.LANGUAGES`,
    leaves the default language.
    """
    from salesanalysis.targets.plan import load_plan

    plan = None
    if plan_file:
        try:
            plan = load_plan(Path(plan_file)).to_dict()
        except Exception:  # noqa: BLE001 - validated, with a proper message, by load_cubes
            plan = _raw_report(Path(plan_file))
    set_report_from_plan(plan)


def _raw_report(plan_file: Path) -> dict[str, Any] | None:
    """``{"report": {...}}`` with the valid ``language`` / ``units`` of a plan file that does
    not validate, read with the safe settings loader; None when the YAML cannot be read."""
    from salesanalysis.errors import PlanError
    from salesanalysis.untrusted import load_settings_yaml

    try:
        data = load_settings_yaml(plan_file, PlanError, "plan file")
    except Exception:  # noqa: BLE001 - the same file is reported by load_cubes
        return _report_line(plan_file)
    report = data.get("report") if isinstance(data, dict) else None
    if not isinstance(report, dict):
        return None
    lang, units = report.get("language"), report.get("units")
    out = {"language": lang} if isinstance(lang, str) and lang in LANGUAGES else {}
    if out and isinstance(units, str) and units in UNITS:
        out["units"] = units
    return {"report": out} if out else None


_REPORT_LANGUAGE = re.compile(
    r"^report:[ \t]*(?:\{[^}\n]*\blanguage:[ \t]*(\w+)|\n(?:[ \t]+.*\n)*?[ \t]+language:[ \t]*(\w+))",
    re.M,
)


def _report_line(plan_file: Path) -> dict[str, Any] | None:
    """``report: language`` found by pattern in the first MB of a plan whose YAML cannot be
    read at all (not UTF-8, an alias bomb, too large, too deep), so that its errors still read
    in its language; None when there is none."""
    try:
        with open(plan_file, "rb") as fh:
            head = fh.read(1 << 20).decode("utf-8", "replace")
    except OSError:
        return None
    m = _REPORT_LANGUAGE.search(head)
    lang = m and (m[1] or m[2])
    return {"report": {"language": lang}} if lang in LANGUAGES else None


def prepare(
    data_dir: Path | str,
    plan_file: Path | str | None,
    outputs: Path | str,
    period: str | None = None,
    today: _dt.date | None = None,
) -> dict[str, Any]:
    """Read and validate the inputs once and write the normalised frames into ``outputs``.

    Returns the manifest also written as ``outputs/prepare.json``: the report period, the
    sha256 of each input file, the row counts and the rules applied to the data (notes).
    """
    from salesanalysis.data.ingest import (
        load_cubes,  # Arrow fast path; the pandas readers when it cannot vouch
    )

    outputs = Path(outputs)
    use_plan_language(plan_file)  # the notes below are written in the report's language
    ing = load_cubes(data_dir, plan_file, today=today)
    p = resolve_period(period, ing.first_month, ing.last_date, today)
    notes = list(ing.notes)
    after = ing.lines_per_month[ing.lines_per_month.index > p.to_timestamp()]
    if int(after.sum()):
        notes.append(
            tr(
                "{n} lines dated after the report period {period} (up to {last}) are kept in "
                "the cube but not used for this period."
            ).format(n=int(after.sum()), period=p, last=f"{ing.last_date:%Y-%m-%d}")
        )
    cube, customers = ing.cube, ing.customers
    mix = _product_mix(ing, p)
    from salesanalysis.execution.inputs import read_execution_inputs  # optional inputs

    extra = read_execution_inputs(
        data_dir, ing.plan, {d: set(cube[d].astype(str)) for d in _DIMS}, ing.reps
    )
    sources = {**ing.sources, **extra.sources}
    for name, df in {
        "cube": cube,
        "customers": customers,
        "orders": ing.orders,
        "reps": ing.reps,
        "market": ing.market,
        "actions_input": extra.actions,
        "action_status": extra.action_status,
        "pipeline": extra.pipeline,
        "product_mix": mix,
    }.items():
        if df is not None:
            _write_parquet(df, outputs / f"{name}.parquet")
        elif name == "product_mix":  # no products now: an earlier run's mix must not linger
            (outputs / f"{name}.parquet").unlink(missing_ok=True)
    if ing.plan is not None:
        (outputs / "plan.json").write_text(
            json.dumps(ing.plan.to_dict(), ensure_ascii=False, indent=2, default=str),
            encoding="utf-8",
        )
    manifest = {
        "period": str(p),
        "requested_period": period or "",
        "data_dir": str(Path(data_dir).resolve()),
        "plan_file": str(Path(plan_file).resolve()) if plan_file else None,
        "inputs": {name: str(Path(path).resolve()) for name, path in sources.items()},
        "sha256": _hashes(sources),
        "rows": {
            "transactions": int(ing.n_lines),
            "cube": int(len(cube)),
            "customers": int(len(customers)),
            "reps": int(len(ing.reps)),
            "market": int(len(ing.market)),
        },
        "first_month": str(ing.first_month),
        "last_date": f"{ing.last_date:%Y-%m-%d}",
        "notes": notes,
    }
    (outputs / PREPARED).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    return manifest


def _product_mix(ing: Any, period: pd.Period) -> pd.DataFrame | None:
    """The product mix (``outputs/product_mix.parquet``) over the 12 months up to the plan's
    cutoff (the report period without a plan) when the transactions name products (a product
    column left blank throughout names none)."""
    from salesanalysis.data.cube import UNSPECIFIED, product_mix

    if ing.products is None or (ing.products["product"].astype(str) == "").all():
        return None  # no product column, or one left blank throughout: per product line
    cut = ing.plan.cutoff_period if ing.plan is not None else period
    months = [(cut - k).to_timestamp() for k in range(11, -1, -1)]
    return product_mix(ing.products, months, unspecified=tr(UNSPECIFIED))


@dataclass
class RunContext:
    """What a notebook works with. Frames are read lazily from ``outputs/``.

    ``cube`` and ``customers`` hold the months up to and including the report period only.
    """

    period: pd.Period
    run_dir: Path
    data_dir: Path
    plan_file: Path | None
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def outputs(self) -> Path:
        return self.run_dir / "outputs"

    @property
    def notes(self) -> list[str]:
        return list(self.manifest.get("notes", []))

    def path(self, name: str, suffix: str = ".parquet") -> Path:
        return self.outputs / f"{name}{suffix}"

    def has(self, name: str) -> bool:
        return self.path(name).exists()

    def read(self, name: str) -> pd.DataFrame:
        """An output of this run (``outputs/<name>.parquet``) as a frame, with the ``attrs`` it
        was written with (pandas keeps them in the Parquet file's metadata)."""
        path = self.path(name)
        if not path.exists():
            raise InputError(
                tr("{path} does not exist: the step that writes '{name}' has not run").format(
                    path=path, name=name
                ),
                fix=tr(
                    "Run the earlier notebooks first, or the whole pipeline with "
                    "`salesanalysis run`."
                ),
            )
        return pd.read_parquet(path)

    def write(self, name: str, df: pd.DataFrame, excel: bool = False) -> Path:
        """Write ``outputs/<name>.parquet`` (and ``.xlsx`` when ``excel``) atomically.

        ``df.attrs`` (JSON-serialisable) go into the Parquet file's metadata, in the same file:
        e.g. the fingerprint of ``forecast_plan`` (see ``decompose.forecast_for_plan``).
        ``revised_targets`` gets its managers' workbook (company by month, rep x month, rep
        summary, detail: ``review.write_revised_workbook``); another frame one sheet."""
        path = self.path(name)
        _write_parquet(df, path)
        if excel and name == "revised_targets":
            from salesanalysis.review import write_revised_workbook

            currency = self.plan.currency if self.plan_file is not None else "CNY"
            write_revised_workbook(df, self.path(name, ".xlsx"), reps=self.reps, currency=currency)
        elif excel:
            from salesanalysis.report.excel import (
                write_excel,  # formatted workbook for managers
            )

            write_excel({name: df}, self.path(name, ".xlsx"))
        return path

    def _upto(self, df: pd.DataFrame) -> pd.DataFrame:
        return df[df["month"] <= self.period.to_timestamp()].reset_index(drop=True)

    @cached_property
    def cube(self) -> pd.DataFrame:
        return self._upto(self.read("cube"))

    @cached_property
    def customers(self) -> pd.DataFrame:
        return self._upto(self.read("customers"))

    @cached_property
    def orders(self) -> pd.DataFrame:
        """Whole orders per month x region x customer_type x rep_id (see cube.build_order_counts)."""
        return self._upto(self.read("orders"))

    @cached_property
    def reps(self) -> pd.DataFrame:
        return self.read("reps")

    @cached_property
    def market(self) -> pd.DataFrame:
        return self.read("market")

    @cached_property
    def product_mix(self) -> pd.DataFrame | None:
        """Each product's share of its line and price (``data.cube.product_mix``); None when
        the transactions have no product column."""
        return self.read("product_mix") if self.has("product_mix") else None

    @cached_property
    def plan(self) -> Any:
        from salesanalysis.targets.plan import load_plan

        if self.plan_file is None:
            raise InputError(tr("no plan file was given"), fix=tr("Pass plan_file (a plan YAML)."))
        return load_plan(self.plan_file)


def _is_fresh(outputs: Path, data_dir: Path, plan_file: Path | None) -> dict[str, Any] | None:
    path = outputs / PREPARED
    if not path.exists() or not all((outputs / f"{n}.parquet").exists() for n in FRAMES):
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("data_dir") != str(data_dir.resolve()):
        return None
    if (manifest.get("plan_file") or None) != (str(plan_file.resolve()) if plan_file else None):
        return None
    try:
        current = _hashes({k: Path(v) for k, v in manifest["inputs"].items()})
    except OSError:
        return None
    return manifest if current == manifest.get("sha256") else None


def open_run(
    period: str = "",
    run_dir: str | Path = "../reports/_lab",
    data_dir: str | Path = "../data/sample",
    plan_file: str | Path | None = None,
    today: _dt.date | None = None,
) -> RunContext:
    """Open (and if needed prepare) the run folder a notebook reads from and writes to."""
    run_dir, data_dir = Path(run_dir), Path(data_dir)
    plan = Path(plan_file) if plan_file else None
    outputs = run_dir / "outputs"
    manifest = _is_fresh(outputs, data_dir, plan)
    if manifest is None or manifest.get("requested_period", "") != (period or ""):
        manifest = prepare(data_dir, plan, outputs, period, today)
    set_report_from_outputs(outputs)  # the report's language and money unit, from the plan
    return RunContext(pd.Period(manifest["period"], "M"), run_dir, data_dir, plan, manifest)
