"""Typed exceptions whose messages are written for a business user.

Every error raised on purpose by the package is a :class:`SalesAnalysisError`.  The CLI turns
it into a short block of text (what is wrong, where, how to fix it) and a non-zero exit code;
``--debug`` shows the traceback as well.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Problem",
    "SalesAnalysisError",
    "InputError",
    "PlanError",
    "ConstraintConflict",
    "StepFailed",
    "RunLocked",
    "RecordError",
    "EXIT_CODES",
]

MAX_EXAMPLE_ROWS = 5


@dataclass
class Problem:
    """One problem found in an input.

    Args:
        message: what is wrong, in plain words.
        file: the file it was found in (as the user named it).
        column: the column concerned, as it is named in the user's file.
        rows: 1-based line numbers in the file (header = line 1) or sheet rows, as examples.
        fix: how to fix it.
        values: example offending values, shown beside the rows.
        count: how many rows are affected in all (``rows`` holds examples).
        key: for a settings file such as plan.yaml, the path of the key concerned
            (``targets.revenue``, ``pins[0].segment``); shown as "key '...'", not as a column.
    """

    message: str
    file: str | None = None
    column: str | None = None
    rows: list[int] = field(default_factory=list)
    fix: str | None = None
    values: list[Any] = field(default_factory=list)
    count: int | None = None
    key: str | None = None

    def render(self) -> str:
        where = []
        if self.file:
            where.append(f"file {self.file}")
        if self.key:
            where.append(f"key '{self.key}'")
        if self.column:
            where.append(f"column '{self.column}'")
        head = f"[{', '.join(where)}] " if where else ""
        lines = [f"- {head}{self.message}"]
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:MAX_EXAMPLE_ROWS])
            n = self.count if self.count is not None else len(self.rows)
            more = f" (of {n} rows)" if n > min(len(self.rows), MAX_EXAMPLE_ROWS) else ""
            lines.append(f"    rows: {shown}{more}")
        if self.values:
            shown = ", ".join(repr(v) for v in self.values[:MAX_EXAMPLE_ROWS])
            lines.append(f"    values: {shown}")
        if self.fix:
            lines.append(f"    fix: {self.fix}")
        return "\n".join(lines)


class SalesAnalysisError(Exception):
    """Base class: an error with a message meant for the person running the tool."""

    exit_code = 1
    title = "Error"

    def __init__(
        self, message: str, problems: list[Problem] | None = None, fix: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])
        self.fix = fix

    def render(self) -> str:
        lines = [f"{self.title}: {self.message}"]
        lines += [p.render() for p in self.problems]
        if self.fix:
            lines.append(f"How to fix: {self.fix}")
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.render()


class InputError(SalesAnalysisError):
    """One or more input files are unreadable or invalid (all problems are listed at once)."""

    exit_code = 2
    title = "Invalid input"


class PlanError(SalesAnalysisError):
    """The plan assumptions file is invalid."""

    exit_code = 2
    title = "Invalid plan"


class ConstraintConflict(SalesAnalysisError):
    """Pins, floors and caps that cannot all hold at once; names the constraints in conflict."""

    exit_code = 3
    title = "Conflicting plan constraints"


class StepFailed(SalesAnalysisError):
    """A pipeline step (notebook) failed."""

    exit_code = 4
    title = "Step failed"


class RunLocked(SalesAnalysisError):
    """Another run for the same period is in progress."""

    exit_code = 5
    title = "Run in progress"


class RecordError(SalesAnalysisError):
    """The plan of record cannot be frozen, adopted or read as asked."""

    exit_code = 6
    title = "Plan of record"


EXIT_CODES = {
    "ok": 0,
    "error": SalesAnalysisError.exit_code,
    "input": InputError.exit_code,
    "plan": PlanError.exit_code,
    "conflict": ConstraintConflict.exit_code,
    "step": StepFailed.exit_code,
    "locked": RunLocked.exit_code,
    "record": RecordError.exit_code,
    "interrupted": 130,
}
