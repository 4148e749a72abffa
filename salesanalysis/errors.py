"""Typed exceptions whose messages are written for a business user.

Every error raised on purpose by the package is a :class:`SalesAnalysisError`.  The CLI turns
it into a short block of text (what is wrong, where, how to fix it) and a non-zero exit code;
``--debug`` shows the traceback as well.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from salesanalysis import i18n
from salesanalysis.i18n import N_, tr

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
    "MAX_QUOTE_CHARS",
    "PIPELINE_ENV",
    "in_notebook",
    "notebook_advice",
    "quote",
    "shorten",
]

MAX_EXAMPLE_ROWS = 5
MAX_QUOTE_CHARS = 200
"""Most characters of any one value an error message shows (a label, a cell, a YAML value)."""
MAX_LINE_CHARS = 1000
"""Most characters of one line of an error message."""

_QUOTE_RUN = f"{{{MAX_QUOTE_CHARS + 1},}}"
_LONG_QUOTED = re.compile(r"'[^'\n]" + _QUOTE_RUN + r"'|" + r'"[^"\n]' + _QUOTE_RUN + r'"')


def _more(n: int) -> str:
    """The note after a cut text: how many characters were left out."""
    return tr("... ({n} more characters)").format(n=f"{n:,}")


def shorten(text: Any, limit: int = MAX_QUOTE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how many were left out."""
    text = text if isinstance(text, str) else str(text)
    if len(text) <= limit:
        return text
    return text[:limit] + _more(len(text) - limit)


def quote(value: Any, limit: int = MAX_QUOTE_CHARS) -> str:
    """``repr(value)`` for a message, at most about ``limit`` characters (a long string is cut
    before it is quoted, so a huge value is never copied whole)."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + _more(len(value) - limit)
    return shorten(repr(value), limit)


def _cap(line: str) -> str:
    """The one place messages are bounded: quoted values longer than MAX_QUOTE_CHARS are cut,
    then the line to MAX_LINE_CHARS."""
    if len(line) > MAX_QUOTE_CHARS + 2:
        line = _LONG_QUOTED.sub(lambda m: m[0][0] + shorten(m[0][1:-1]) + m[0][0], line)
    return shorten(line, MAX_LINE_CHARS)


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
            where.append(tr("file {file}").format(file=self.file))
        if self.key:
            where.append(tr("key '{key}'").format(key=self.key))
        if self.column:
            where.append(tr("column '{column}'").format(column=self.column))
        head = "[" + tr(", ").join(where) + "] " if where else ""
        lines = [_cap(f"- {head}{self.message}")]
        if self.rows:
            shown = ", ".join(str(r) for r in self.rows[:MAX_EXAMPLE_ROWS])
            n = self.count if self.count is not None else len(self.rows)
            if n > min(len(self.rows), MAX_EXAMPLE_ROWS):
                shown += tr(" (of {n} rows)").format(n=n)
            lines.append("    " + tr("rows: {rows}").format(rows=shown))
        if self.values:
            shown = ", ".join(quote(v) for v in self.values[:MAX_EXAMPLE_ROWS])
            lines.append(_cap("    " + tr("values: {values}").format(values=shown)))
        if self.fix:
            lines.append(_cap("    " + tr("fix: {fix}").format(fix=self.fix)))
        return "\n".join(lines)


PIPELINE_ENV = "SALESANALYSIS_PIPELINE"
"""Set (to 1) by the monthly run in the environment of the kernels it starts."""

# command-line options and the notebook parameter that does the same
_OPTION_PARAMETERS = {
    "data": "data_dir",
    "plan": "plan_file",
    "period": "period",
    "out": "run_dir",
    "records": "records_dir",
}
_OPTIONS = "|".join(_OPTION_PARAMETERS)
_PASS_OPTION = re.compile(rf"\b([Pp])ass --({_OPTIONS})\b(?: [A-Z_]+)? with\b")
# the same advice in Chinese: "请用 --data 指定……" (as the catalogue writes "Pass --data with")
_PASS_OPTION_ZH = re.compile(
    rf"(?:用|使用|通过) ?--({_OPTIONS})\b(?: [A-Z_]+)? ?(?:指定|给出|传入)"
)
_PARAM_OPTION = re.compile(r"`?salesanalysis run --param (\w+)=[^`\s]*`?")
_OPTION = re.compile(rf"--({_OPTIONS})\b(?:[ =](YYYY-MM|DIR|FILE|\d{{4}}-\d{{2}}))?")


def in_notebook() -> bool:
    """True in a Jupyter kernel that the monthly run did not start: a planner running a
    notebook in JupyterLab (or nbval), whose messages name notebook parameters."""
    if os.environ.get(PIPELINE_ENV):
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def notebook_advice(text: str) -> str:
    """A message written for the command line, with notebook advice instead: ``Pass --data
    with the folder`` -> ``Set the parameter `data_dir` (parameters cell) to the folder``,
    ``--period 2026-09`` -> ``period = "2026-09"``, ``salesanalysis run --param top_n=10`` ->
    ``the parameter `top_n` (parameters cell)``."""

    def option(m: re.Match[str]) -> str:
        name = _OPTION_PARAMETERS[m[1]]
        if m[2] and m[2][0].isdigit():
            return f'`{name} = "{m[2]}"`'
        return f"`{name}`"

    def parameter(m: re.Match[str]) -> str:
        return tr("the parameter `{name}` (parameters cell)").format(name=m[1])

    def set_parameter(m: re.Match[str]) -> str:
        said = tr("set the parameter `{name}` (parameters cell) to").format(
            name=_OPTION_PARAMETERS[m[2]]
        )
        return said[:1].upper() + said[1:] if m[1] == "P" else said

    def set_parameter_zh(m: re.Match[str]) -> str:
        return tr("set the parameter `{name}` (parameters cell) to").format(
            name=_OPTION_PARAMETERS[m[1]]
        )

    text = _PARAM_OPTION.sub(parameter, text)
    text = _PASS_OPTION.sub(set_parameter, text)
    text = _PASS_OPTION_ZH.sub(set_parameter_zh, text)
    return _OPTION.sub(option, text)


class SalesAnalysisError(Exception):
    """Base class: an error with a message meant for the person running the tool."""

    exit_code = 1
    title = N_("Error")

    def __init__(
        self, message: str, problems: list[Problem] | None = None, fix: str | None = None
    ):
        super().__init__(message)
        self.message = message
        self.problems = list(problems or [])
        self.fix = fix
        # the report language when the error was raised: its message was written in it, so its
        # labels are rendered in it too (a run may reset the language before printing)
        self.language = i18n.language()

    def render(self) -> str:
        now = i18n.language()
        lang = getattr(self, "language", now)
        if lang == now:
            return self._render()
        i18n.set_report(lang)
        try:
            return self._render()
        finally:
            i18n.set_report(now)

    def _render(self) -> str:
        lines = [_cap(f"{tr(self.title)}: {self.message}")]
        lines += [p.render() for p in self.problems]
        if self.fix:
            lines.append(_cap(tr("How to fix: {fix}").format(fix=self.fix)))
        text = "\n".join(lines)
        return notebook_advice(text) if in_notebook() else text

    @property
    def _render_traceback_(self) -> Callable[[], list[str]]:
        """How IPython shows the error in a notebook: the message alone, without the
        traceback. In a monthly run's kernels the attribute does not exist, so IPython shows
        the usual traceback and reports the error's type (the run reads a skipped step from
        it). Raising from the method instead makes IPython drop the error altogether."""
        if os.environ.get(PIPELINE_ENV):
            raise AttributeError("_render_traceback_")
        return lambda: self.render().splitlines()

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.render()


class InputError(SalesAnalysisError):
    """One or more input files are unreadable or invalid (all problems are listed at once)."""

    exit_code = 2
    title = N_("Invalid input")


class PlanError(SalesAnalysisError):
    """The plan assumptions file is invalid."""

    exit_code = 2
    title = N_("Invalid plan")


class ConstraintConflict(SalesAnalysisError):
    """Pins, floors and caps that cannot all hold at once; names the constraints in conflict."""

    exit_code = 3
    title = N_("Conflicting plan constraints")


class StepFailed(SalesAnalysisError):
    """A pipeline step (notebook) failed."""

    exit_code = 4
    title = N_("Step failed")


class StepSkipped(SalesAnalysisError):
    """Raised by a step's notebook when the step has nothing to do for this run (for example
    the performance review of a year-end planning run when last year has no plan of record).
    The pipeline records the step as ``skipped`` with this message and goes on; it is not an
    error of the run."""

    exit_code = 0
    title = N_("Step skipped")


class ClusterError(SalesAnalysisError):
    """The Dask cluster given with --scheduler cannot be used (unreachable, no workers, or
    workers that cannot import the package)."""

    exit_code = 2
    title = N_("Cluster problem")


class RunLocked(SalesAnalysisError):
    """Another run for the same period is in progress."""

    exit_code = 5
    title = N_("Run in progress")


class RecordError(SalesAnalysisError):
    """The plan of record cannot be frozen, adopted or read as asked."""

    exit_code = 6
    title = N_("Plan of record")


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
