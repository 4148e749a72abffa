"""The optional inputs of the execution half: action plans, their monthly status, the pipeline.

``actions`` (one row per action; owners edit it, so it is a table beside the data rather than a
section of ``plan.yaml``), ``action_status`` (one row per action and month) and ``pipeline``
(sales opportunities) are read like the other inputs (any suffix of the data contract, renamed
by ``mapping.yaml``) and checked against the plan and the data: every problem names the file,
the field and the line, and the run stops (exit 2) before anything is written. A data folder
without these files is fine: the steps then leave their sections out or say what they used.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from salesanalysis.data.contract import OPTIONAL_TABLES, SCHEMAS, SUFFIXES
from salesanalysis.data.mapping import find_input, load_mapping
from salesanalysis.data.readers import numbers_from_text, read_table
from salesanalysis.data.rules import rename
from salesanalysis.errors import InputError, Problem
from salesanalysis.execution.segments import DIMENSIONS
from salesanalysis.i18n import N_, tr
from salesanalysis.targets.plan import Plan

__all__ = [
    "STAGES",
    "STAGE_WORDS",
    "STATUSES",
    "ACTION_STATES",
    "ExecutionInputs",
    "read_execution_inputs",
    "check_actions",
    "check_action_status",
    "check_pipeline",
]

STAGES = ("lead", "qualified", "proposal", "won")
"""The stages of a sale, in order; an opportunity's ``stage`` is the furthest it reached."""
STAGE_WORDS = {
    "lead": N_("lead"),
    "qualified": N_("qualified"),
    "proposal": N_("proposal"),
    "won": N_("won"),
}
"""The stages in words (translated where shown)."""
STATUSES = ("open", "won", "lost")
ACTION_STATES = ("not started", "in progress", "done")
_EXAMPLES = 5


@dataclass
class ExecutionInputs:
    """The optional inputs, validated (None when the data folder has no such file)."""

    actions: pd.DataFrame | None = None
    action_status: pd.DataFrame | None = None
    pipeline: pd.DataFrame | None = None
    sources: dict[str, Path] = field(default_factory=dict)


def _has_file(data_dir: Path, table: str, mapping: dict[str, Any]) -> bool:
    if (mapping.get(table) or {}).get("file"):
        return True
    return any(os.path.lexists(data_dir / f"{table}{s}") for s in SUFFIXES)


_UNKNOWN_LABEL = {
    "region": N_("unknown region label"),
    "product_line": N_("unknown product line label"),
    "customer_type": N_("unknown customer type label"),
}


def _problem(path: Path, col: str, rows: pd.Index, msg: str, fix: str, values=()) -> Problem:
    lines = [int(r) for r in rows]
    return Problem(
        (tr("{message} (1 row)") if len(lines) == 1 else tr("{message} ({n} rows)")).format(
            message=msg, n=len(lines)
        ),
        file=str(path),
        column=col,
        rows=lines[:_EXAMPLES],
        values=[str(v) for v in list(values)[:_EXAMPLES]],
        count=len(lines),
        fix=fix,
    )


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    return df[col].map(lambda v: "" if pd.isna(v) else str(v).strip())


def _required_text(df: pd.DataFrame, cols: tuple[str, ...], path: Path, out: list[Problem]):
    for col in cols:
        blank = _text(df, col) == ""
        if blank.any():
            out.append(_problem(path, col, df.index[blank], _empty(col), _fill_in(col)))


def _empty(col: str) -> str:
    return tr("'{col}' is empty").format(col=col)


def _fill_in(col: str) -> str:
    return tr("Fill in {col}.").format(col=col)


def _use_one_of(choices) -> str:
    return tr("Use one of: {choices}.").format(choices=", ".join(choices))


def _dates(df: pd.DataFrame, col: str, path: Path, out: list[Problem], required: bool):
    raw = df[col] if col in df.columns else pd.Series(None, index=df.index, dtype=object)
    txt = raw.map(lambda v: "" if pd.isna(v) else str(v).strip()[:10])
    parsed = pd.to_datetime(txt.where(txt != ""), format="%Y-%m-%d", errors="coerce")
    bad = (txt != "") & parsed.isna()
    if bad.any():
        out.append(
            _problem(
                path,
                col,
                df.index[bad],
                tr("'{col}' is not a date").format(col=col),
                tr("Write dates as YYYY-MM-DD."),
                txt[bad],
            )
        )
    if required:
        miss = txt == ""
        if miss.any():
            out.append(_problem(path, col, df.index[miss], _empty(col), _fill_in(col)))
    return parsed


def _numbers(df: pd.DataFrame, col: str, path: Path, out: list[Problem]) -> pd.Series:
    raw = df[col] if col in df.columns else pd.Series(np.nan, index=df.index)
    num = numbers_from_text(raw, col)  # 1,200 and ¥3,000 as the transactions are read
    given = raw.map(lambda v: not (pd.isna(v) or str(v).strip() == ""))
    bad = given & ~np.isfinite(num.fillna(np.inf).astype(float))
    if bad.any():
        out.append(
            _problem(
                path,
                col,
                df.index[bad],
                tr("'{col}' is not a number").format(col=col),
                tr("Use plain numbers."),
                raw[bad],
            )
        )
    neg = num < 0
    if neg.any():
        out.append(
            _problem(
                path,
                col,
                df.index[neg],
                tr("'{col}' is negative").format(col=col),
                tr("{col} cannot be below 0; correct the value.").format(col=col),
                raw[neg],
            )
        )
    return num.where(~bad & ~neg)


def _unknown(
    df: pd.DataFrame, col: str, known: set[str], path: Path, what: str, fix: str
) -> Problem | None:
    v = _text(df, col)
    bad = (v != "") & ~v.isin(known)
    if not bad.any():
        return None
    return _problem(path, col, df.index[bad], what, fix, v[bad])


def _action_dates(
    df: pd.DataFrame, path: Path, plan: Plan | None, out: list[Problem]
) -> tuple[pd.Series, pd.Series]:
    """``start`` and ``due``: dates, inside the plan's fiscal year, due not before start."""
    start = _dates(df, "start", path, out, required=True)
    due = _dates(df, "due", path, out, required=True)
    if plan is not None:
        lo, hi = (
            pd.Timestamp(f"{plan.fiscal_year}-01-01"),
            pd.Timestamp(f"{plan.fiscal_year}-12-31"),
        )
        for col, d in (("start", start), ("due", due)):
            outside = d.notna() & ((d < lo) | (d > hi))
            if outside.any():
                out.append(
                    _problem(
                        path,
                        col,
                        df.index[outside],
                        tr("'{col}' is outside the fiscal year {year}").format(
                            col=col, year=plan.fiscal_year
                        ),
                        tr("Use a date from {start} to {end}.").format(
                            start=f"{lo:%Y-%m-%d}", end=f"{hi:%Y-%m-%d}"
                        ),
                        d[outside].dt.strftime("%Y-%m-%d"),
                    )
                )
    before = start.notna() & due.notna() & (due < start)
    if before.any():
        out.append(
            _problem(
                path,
                "due",
                df.index[before],
                tr("'due' is before 'start'"),
                tr("Put the due date on or after the start date."),
                due[before].dt.strftime("%Y-%m-%d"),
            )
        )
    return start, due


def check_actions(
    df: pd.DataFrame,
    path: Path,
    plan: Plan | None,
    labels: dict[str, set[str]],
    owners: set[str],
) -> tuple[pd.DataFrame, list[Problem]]:
    """The actions table, validated: ids unique; the strategy a plan strategy, or the segment
    (region / product line / customer type) labels of the data; a known owner (a rep's id or
    name, or a strategy owner in ``plan.yaml``); start and due dates inside the plan's fiscal
    year, due not before start; budget, people and expected effects not negative."""
    out: list[Problem] = []
    _required_text(df, ("id", "title", "owner"), path, out)
    ids = _text(df, "id")
    dup = ids.duplicated(keep=False) & (ids != "")
    if dup.any():
        out.append(
            _problem(
                path,
                "id",
                df.index[dup],
                tr("action id used twice"),
                tr("Give each action its own id."),
                ids[dup],
            )
        )
    names = {s.name for s in plan.strategies} if plan is not None else set()
    strat = _text(df, "strategy")
    for p in (
        _unknown(
            df,
            "strategy",
            names,
            path,
            tr("unknown strategy"),
            tr("Use a strategy name of plan.yaml: {names}.").format(
                names=", ".join(sorted(names)) or tr("(the plan has none)")
            ),
        ),
        *(
            _unknown(
                df,
                d,
                labels.get(d, set()),
                path,
                tr(_UNKNOWN_LABEL[d]),
                _use_one_of(sorted(labels.get(d, set()))),
            )
            for d in DIMENSIONS
        ),
        _unknown(
            df,
            "owner",
            owners,
            path,
            tr("unknown owner"),
            tr("Use a rep id or name of the reps file, or an owner of a strategy in plan.yaml."),
        ),
    ):
        if p is not None:
            out.append(p)
    no_target = (strat == "") & np.logical_and.reduce([_text(df, d) == "" for d in DIMENSIONS])
    if no_target.any():
        out.append(
            _problem(
                path,
                "strategy",
                df.index[no_target],
                tr("the action serves no strategy or segment"),
                tr(
                    "Name the plan strategy it serves, or the region / product_line / "
                    "customer_type of its segment."
                ),
            )
        )
    start, due = _action_dates(df, path, plan, out)
    nums = {
        c: _numbers(df, c, path, out)
        for c in ("budget", "people", "expected_revenue", "expected_customers")
    }
    frame = pd.DataFrame(
        {
            "action_id": ids,
            "title": _text(df, "title"),
            "strategy": strat,
            **{d: _text(df, d) for d in DIMENSIONS},
            "owner": _text(df, "owner"),
            "steps": _text(df, "steps"),
            "start": start,
            "due": due,
            "budget": nums["budget"].fillna(0.0).astype(float),
            "people": nums["people"].fillna(0.0).astype(float),
            # blank = no expected effect of that kind (shown as a dash, not as 0)
            "expected_revenue": nums["expected_revenue"].astype(float),
            "expected_customers": nums["expected_customers"].astype(float),
            "kpi": _text(df, "kpi"),
            "line": df.index.astype(int),
        }
    ).reset_index(drop=True)
    return frame, out


def check_action_status(
    df: pd.DataFrame, path: Path, action_ids: set[str]
) -> tuple[pd.DataFrame, list[Problem]]:
    """The status table, validated: a known action id, a month YYYY-MM, a status of
    :data:`ACTION_STATES`, a % done from 0 to 100, one row per action and month."""
    out: list[Problem] = []
    _required_text(df, ("action_id", "month", "status"), path, out)
    ids = _text(df, "action_id")
    p = _unknown(
        df,
        "action_id",
        action_ids,
        path,
        tr("unknown action id"),
        tr("Use an id of the actions file (or add the action there first)."),
    )
    if p:
        out.append(p)
    mtxt = _text(df, "month").str[:7]
    month = pd.to_datetime(mtxt.where(mtxt != ""), format="%Y-%m", errors="coerce")
    bad = (mtxt != "") & month.isna()
    if bad.any():
        out.append(
            _problem(
                path,
                "month",
                df.index[bad],
                tr("'month' is not a month"),
                tr("Write months as YYYY-MM."),
                mtxt[bad],
            )
        )
    status = _text(df, "status").str.lower()
    p = _unknown(
        df.assign(status=status),
        "status",
        set(ACTION_STATES),
        path,
        tr("unknown status"),
        _use_one_of(ACTION_STATES),
    )
    if p:
        out.append(p)
    pct = _numbers(df, "pct_done", path, out)
    over = pct > 100
    if over.any():
        out.append(
            _problem(
                path,
                "pct_done",
                df.index[over],
                tr("'pct_done' is above 100"),
                tr("Give % done from 0 to 100."),
                pct[over],
            )
        )
    dup = pd.Series(list(zip(ids, mtxt, strict=True)), index=df.index).duplicated(keep=False)
    if dup.any():
        out.append(
            _problem(
                path,
                "month",
                df.index[dup],
                tr("two status rows for the same action and month"),
                tr("Keep one row per action and month."),
                ids[dup] + " " + mtxt[dup],
            )
        )
    pct_done = pct.where(pct <= 100) / 100.0
    pct_done = pct_done.fillna(status.map({"done": 1.0, "not started": 0.0}))
    frame = pd.DataFrame(
        {
            "action_id": ids,
            "month": month,
            "status": status,
            "pct_done": pct_done,
            "note": _text(df, "note"),
            "line": df.index.astype(int),
        }
    ).reset_index(drop=True)
    return frame, out


def check_pipeline(
    df: pd.DataFrame, path: Path, rep_ids: set[str], labels: dict[str, set[str]]
) -> tuple[pd.DataFrame, list[Problem]]:
    """The pipeline, validated: unique ids, a known rep, a stage of :data:`STAGES`, a status
    of :data:`STATUSES` (a won opportunity at stage ``won``, an open or lost one before it), a
    positive amount, dates, a close date on won and lost ones not before the created date."""
    out: list[Problem] = []
    _required_text(df, ("id", "rep_id", "customer_id", "stage", "status"), path, out)
    ids = _text(df, "id")
    dup = ids.duplicated(keep=False) & (ids != "")
    if dup.any():
        out.append(
            _problem(
                path,
                "id",
                df.index[dup],
                tr("opportunity id used twice"),
                tr("Give each opportunity its own id."),
                ids[dup],
            )
        )
    for p in (
        _unknown(
            df, "rep_id", rep_ids, path, tr("unknown rep"), tr("Use a rep_id of the reps file.")
        ),
        *(
            _unknown(
                df,
                d,
                labels.get(d, set()),
                path,
                tr(_UNKNOWN_LABEL[d]),
                _use_one_of(sorted(labels.get(d, set()))),
            )
            for d in ("region", "product_line")
        ),
    ):
        if p:
            out.append(p)
    stage, status = _text(df, "stage").str.lower(), _text(df, "status").str.lower()
    for col, s, allowed in (("stage", stage, STAGES), ("status", status, STATUSES)):
        p = _unknown(
            df.assign(**{col: s}),
            col,
            set(allowed),
            path,
            tr("unknown stage") if col == "stage" else tr("unknown status"),
            tr("Use one of: {choices} (stages in this order).").format(choices=", ".join(allowed)),
        )
        if p:
            out.append(p)
    mismatch = ((status == "won") & (stage != "won") & stage.isin(STAGES)) | (
        status.isin(["open", "lost"]) & (stage == "won")
    )
    if mismatch.any():
        out.append(
            _problem(
                path,
                "stage",
                df.index[mismatch],
                tr(
                    "stage and status disagree (a won opportunity is at stage won; an "
                    "open or lost one is at the stage it reached before)"
                ),
                tr("Correct the stage or the status."),
                stage[mismatch] + "/" + status[mismatch],
            )
        )
    amount = _numbers(df, "amount", path, out)
    created = _dates(df, "created", path, out, required=True)
    expected = _dates(df, "expected_close", path, out, required=False)
    closed = _dates(df, "close_date", path, out, required=False)
    need_close = status.isin(["won", "lost"]) & closed.isna() & (_text(df, "close_date") == "")
    if need_close.any():
        out.append(
            _problem(
                path,
                "close_date",
                df.index[need_close],
                tr("a won or lost opportunity has no close date"),
                _fill_in("close_date"),
            )
        )
    early = closed.notna() & created.notna() & (closed < created)
    if early.any():
        out.append(
            _problem(
                path,
                "close_date",
                df.index[early],
                tr("'close_date' is before 'created'"),
                tr("Correct the dates."),
                closed[early].dt.strftime("%Y-%m-%d"),
            )
        )
    frame = pd.DataFrame(
        {
            "opportunity_id": ids,
            "rep_id": _text(df, "rep_id"),
            "customer_id": _text(df, "customer_id"),
            "region": _text(df, "region"),
            "product_line": _text(df, "product_line"),
            "stage": stage,
            "status": status,
            "amount": amount.fillna(0.0).astype(float),
            "created": created,
            "expected_close": expected,
            "close_date": closed,
        }
    ).reset_index(drop=True)
    return frame, out


def _read(data_dir: Path, table: str, mapping: dict[str, Any], out: list[Problem]):
    path = find_input(data_dir, table, mapping)
    settings = mapping.get(table, {}) or {}
    df, _ = read_table(path, settings, table)
    n0 = len(out)
    df = rename(df, SCHEMAS[table], settings, path, out)
    if len(out) > n0:
        return None, path
    return df, path


def read_execution_inputs(
    data_dir: Path | str,
    plan: Plan | None,
    labels: dict[str, set[str]],
    reps: pd.DataFrame,
) -> ExecutionInputs:
    """Read and check the optional files of ``data_dir`` (:data:`OPTIONAL_TABLES`).

    Args:
        labels: the data's labels per dimension (region, product_line, customer_type).
        reps: the validated reps (``rep_id``, ``name``): owners and pipeline reps.

    Raises:
        InputError: every problem of every file, each with the file, field and lines.
    """
    data_dir = Path(data_dir)
    mapping = load_mapping(data_dir)
    res = ExecutionInputs()
    problems: list[Problem] = []
    raw: dict[str, pd.DataFrame] = {}
    for table in OPTIONAL_TABLES:
        if not _has_file(data_dir, table, mapping):
            continue
        try:
            df, path = _read(data_dir, table, mapping, problems)
        except InputError as e:
            problems.extend(e.problems or [Problem(e.message, fix=e.fix)])
            continue
        res.sources[table] = path
        if df is not None:
            raw[table] = df
    rep_ids = set(reps["rep_id"].astype(str))
    owners = rep_ids | set(reps["name"].astype(str)) if "name" in reps else set(rep_ids)
    if plan is not None:
        owners |= {s.owner for s in plan.strategies if s.owner}
    if "actions" in raw:
        res.actions, p = check_actions(
            raw["actions"], res.sources["actions"], plan, labels, owners
        )
        problems.extend(p)
    if "action_status" in raw:
        known = set(res.actions["action_id"]) if res.actions is not None else set()
        res.action_status, p = check_action_status(
            raw["action_status"], res.sources["action_status"], known
        )
        problems.extend(p)
    if "pipeline" in raw:
        res.pipeline, p = check_pipeline(raw["pipeline"], res.sources["pipeline"], rep_ids, labels)
        problems.extend(p)
    if problems:
        files = sorted({Path(p.file).name for p in problems if p.file})
        msg = tr("{n} problem(s) in {files}").format(n=len(problems), files=", ".join(files))
        raise InputError(msg, problems)
    return res
