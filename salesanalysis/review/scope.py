"""What a run reviews: which fiscal year, against which targets, from which month.

A company's planning year has three moments, and the review step must know which one a run is:

* **Monthly review** (the report month lies in the plan's fiscal year): the year is reviewed
  against the run's targets (the plan of record when the year has one, else the draft that
  step 03 computed). A *mid-year* plan (``plan_cutoff`` inside the fiscal year) covers only the
  months after its cutoff: the review judges only those months; the months before it are
  shown as "before the plan". A report month before the plan's first month has nothing to
  judge: the review is skipped and says so.
* **Year-end planning** (the plan is for the year after the report month, e.g. the FY2027 plan
  made in December 2026): step 03 makes next year's targets, and the review looks back at the
  report month's year against *that* year's plan of record, when there is one. When there is
  none, there is nothing to review and the run says so plainly.
* Any other combination (a report month two years before or any time after the plan's year)
  is an error: the plan does not belong to that month.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from salesanalysis.errors import PlanError
from salesanalysis.i18n import tr
from salesanalysis.review.common import (
    BEFORE_PLAN,
    as_period,
    before_plan_months,
    review_months,
)
from salesanalysis.targets.plan import Plan, plan_from_dict
from salesanalysis.targets.record import current

__all__ = ["BEFORE_PLAN", "ReviewScope", "check_run", "plan_start", "review_scope"]


@dataclass(frozen=True)
class ReviewScope:
    """The fiscal year a run reviews and what it is reviewed against.

    Attributes:
        fiscal_year: the year under review (the report month's year).
        plan: the plan whose targets are reviewed (the record's own plan for a year-end run);
            None when there is nothing to review.
        targets_from: ``"run"`` (the run's ``outputs/targets.parquet``), ``"record"`` (the
            plan of record of ``fiscal_year``, read from its folder) or ``"none"``.
        record_folder: the record's folder when ``targets_from == "record"``.
        first_month: first month the targets cover (January, or the month after a mid-year
            plan's cutoff); months before it are "before the plan".
        statement: one sentence for the report saying what is reviewed against what.
    """

    fiscal_year: int
    plan: Plan | None
    targets_from: str
    record_folder: Path | None
    first_month: pd.Timestamp | None
    statement: str

    @property
    def reviewable(self) -> bool:
        return self.targets_from != "none"

    @property
    def mid_year(self) -> bool:
        """The plan starts after January: the months before it are "before the plan"."""
        return self.first_month is not None and self.first_month.month > 1

    def window_statement(self, period: object) -> str:
        """One sentence on which months the review judges; empty for a full-year plan.

        For a mid-year plan: the plan's months, the months before it shown as "before the
        plan" and not counted, and what "to date" means on the page.
        """
        if not self.mid_year:
            return ""
        fy, first = self.fiscal_year, self.first_month
        before = before_plan_months(period, fy, first)
        judged = review_months(period, fy, first)
        text = tr(
            "A mid-year plan: its targets cover {first} to {last}. The months of FY{fy} "
            "before it ({span}) are shown as “{before}”: their sales are shown for reference "
            "and are not counted in attainment, pacing, the landing forecast, the bridges, "
            "the rep leaderboard or the revised targets."
        ).format(
            first=f"{first:%Y-%m}",
            last=f"{fy}-12",
            fy=fy,
            span=_span(before),
            before=tr(BEFORE_PLAN),
        )
        if len(judged):
            text += " " + tr("“To date” below means {span}.").format(span=_span(judged))
        else:
            text += " " + tr(
                "The report month {period} is before the plan: nothing is judged yet."
            ).format(period=as_period(period))
        return text

    def targets(self, run_targets: pd.DataFrame | None = None) -> pd.DataFrame:
        """The targets under review: the run's (passed in) or the record's."""
        if self.targets_from == "record":
            return pd.read_parquet(self.record_folder / "targets.parquet")
        if self.targets_from == "run" and run_targets is not None:
            return run_targets
        raise PlanError(
            tr("there are no targets to review for FY{fy}").format(fy=self.fiscal_year),
            fix=self.statement,
        )


def _span(months: pd.DatetimeIndex) -> str:
    """``2026-01 to 2026-06`` (one month: ``2026-01``; none: empty)."""
    if len(months) > 1:
        first, last = f"{months[0]:%Y-%m}", f"{months[-1]:%Y-%m}"
        return tr("{first} to {last}").format(first=first, last=last)
    return f"{months[0]:%Y-%m}" if len(months) else ""


def plan_start(plan: Plan) -> pd.Timestamp:
    """First month a plan's targets cover: January, or the month after a mid-year cutoff."""
    january = pd.Period(year=int(plan.fiscal_year), month=1, freq="M")
    after_cutoff = pd.Period(plan.plan_cutoff, freq="M") + 1
    return max(january, after_cutoff).to_timestamp()


def review_scope(period: object, plan: Plan, records_dir: Path | str | None) -> ReviewScope:
    """Decide what the run reviews (see the module docstring).

    Raises:
        PlanError: the report month is neither in the plan's fiscal year nor in the year
            before it.
    """
    p = as_period(period)
    fy = int(plan.fiscal_year)
    if p.year == fy:
        start = plan_start(plan)
        mid = start.month > 1
        if p.to_timestamp() < start:  # the plan has not begun: none of its months to judge
            return ReviewScope(
                fy,
                plan,
                "none",
                None,
                start,
                tr(
                    "The FY{fy} plan is a mid-year plan whose targets start in {start}, after "
                    "the report month {period}: none of its months can be judged yet, so the "
                    "performance review is skipped."
                ).format(fy=fy, start=f"{start:%Y-%m}", period=p),
            )
        text = (
            tr(
                "Reviewed against the FY{fy} plan, a mid-year plan whose targets start in {start}."
            ).format(fy=fy, start=f"{start:%Y-%m}")
            if mid
            else tr("Reviewed against the FY{fy} plan.").format(fy=fy)
        )
        return ReviewScope(fy, plan, "run", None, start, text)
    if p.year == fy - 1:
        year = p.year
        rec = current(year, records_dir) if records_dir else None
        if rec is None:
            return ReviewScope(
                year,
                None,
                "none",
                None,
                None,
                tr(
                    "This run makes the FY{fy} plan in {period}. There is no FY{year} plan of "
                    "record to review {year} against, so the performance review is skipped."
                ).format(fy=fy, period=p, year=year),
            )
        record_plan = _record_plan(rec.folder) or plan
        start = plan_start(record_plan) if record_plan.fiscal_year == year else None
        return ReviewScope(
            year,
            record_plan,
            "record",
            rec.folder,
            start,
            tr(
                "This run makes the FY{fy} plan; FY{year} is reviewed against its plan of "
                "record ({version}, {date})."
            ).format(
                fy=fy,
                year=year,
                version=rec.version,
                date=str(rec.meta.get("frozen_at", ""))[:10] or "–",
            ),
        )
    raise PlanError(
        tr("the report period {period} is outside the plan's fiscal year {fy}").format(
            period=p, fy=fy
        ),
        fix=tr(
            "Choose a report month in {fy} (or December {prev} to make the FY{fy} plan at "
            "year end), or use the plan for {year} with --plan."
        ).format(fy=fy, prev=fy - 1, year=p.year),
    )


def _record_plan(folder: Path) -> Plan | None:
    path = folder / "plan.json"
    if not path.exists():
        return None
    return plan_from_dict(json.loads(path.read_text(encoding="utf-8")), source=str(path))


def check_run(
    period: object, plan: Plan, last_month: pd.Period, records_dir: Path | str | None
) -> list[str]:
    """Check, before any step runs, that a run for ``period`` is possible with this plan and
    data; returns the lines ``salesanalysis validate --period`` prints.

    Raises:
        PlanError: the report month is after the data, or the plan does not belong to it.
        InputError: the period is malformed.
    """
    p = as_period(period)
    last = pd.Period(last_month, freq="M")
    if p > last:
        raise PlanError(
            tr("the report period {period} is after the last month of data ({last})").format(
                period=p, last=last
            ),
            fix=tr("Use --period {last} or earlier, or add the data for {period}.").format(
                last=last, period=p
            ),
        )

    scope = review_scope(p, plan, records_dir)
    fy = int(plan.fiscal_year)
    cutoff = pd.Period(plan.plan_cutoff, freq="M")
    lines = []
    if p.year == fy - 1:
        lines.append(f"OK for {p}: a year-end run that makes the FY{fy} plan.")
    elif cutoff.year == fy:
        lines.append(
            f"OK for {p}: a monthly review of a mid-year FY{fy} plan (cut off at {cutoff})."
        )
    else:
        lines.append(f"OK for {p}: a monthly review of the FY{fy} plan.")
    if cutoff > last:
        lines.append(
            f"note: the plan's cutoff {cutoff} is after the last month of data ({last}): "
            "the targets will be grounded in the data up to that month only."
        )
    lines.append(scope.statement)
    return lines
