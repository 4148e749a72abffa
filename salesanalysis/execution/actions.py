"""Action plans: the timetable and budget (step 03), and where each action stands (step 04).

Stages: :func:`action_plan` (the validated actions with their segment in words and months) ->
:func:`budget_by_month` (each action's budget spread evenly over its months) ->
:func:`action_review` (the latest status the team reported up to the report month, classified
``done / late / on time / not started``; overdue = past due and not done; whether the action's
segment is behind its year-to-date target; the realised effect = the segment's actual to date
against its no-strategy baseline to date, next to the expected effect) ->
:func:`overdue_callouts` (the sentences the index page shows).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesanalysis.execution.segments import DIMENSIONS, segment_rows, segment_words
from salesanalysis.execution.strategies import NO_STRATEGY
from salesanalysis.i18n import N_, tr
from salesanalysis.targets.plan import Plan

__all__ = [
    "action_plan",
    "budget_by_month",
    "action_review",
    "overdue_callouts",
    "LATE_MARGIN",
    "STATES",
    "REVIEW_COLUMNS",
]

REVIEW_COLUMNS = (
    "reported",
    "pct_done",
    "note",
    "reported_month",
    "state",
    "overdue",
    "actual_ytd",
    "target_ytd",
    "baseline_ytd",
    "behind",
    "realised_effect",
)
"""The columns :func:`action_review` adds (dropped first when the frame already has them)."""
STATES = (N_("done"), N_("late"), N_("on time"), N_("not started"))
"""The states :func:`action_review` gives an action (codes in the frame, words where shown)."""
LATE_MARGIN = 0.25
"""An action in progress is late when its % done trails the share of its time elapsed by more."""


def _segment(row: pd.Series, plan: Plan) -> dict[str, str]:
    by_name = {s.name: s for s in plan.strategies}
    if row["strategy"] and row["strategy"] in by_name:
        return by_name[row["strategy"]].segment_dict
    return {d: row[d] for d in DIMENSIONS if row[d]}


def action_plan(actions: pd.DataFrame, plan: Plan) -> pd.DataFrame:
    """The actions (``outputs/actions_input.parquet``) with ``segment`` in words (the report's
    language) and ``serves`` (the strategy, or the segment), sorted by owner and start."""
    out = actions.copy()
    segs = [_segment(r, plan) for _, r in out.iterrows()]
    out["segment"] = [segment_words(s) for s in segs]
    for d in DIMENSIONS:
        out[f"segment_{d}"] = [s.get(d, "") for s in segs]
    out["serves"] = np.where(out["strategy"] != "", out["strategy"], out["segment"])
    out["months"] = [
        ((d.year - s.year) * 12 + d.month - s.month + 1)
        for s, d in zip(out["start"], out["due"], strict=True)
    ]
    return out.sort_values(["owner", "start", "action_id"]).reset_index(drop=True)


def budget_by_month(actions: pd.DataFrame) -> pd.DataFrame:
    """``month, owner, budget``: each action's budget spread evenly over the months from its
    start to its due date (the months add up to the budget)."""
    rows = []
    for _, a in actions.iterrows():
        months = pd.period_range(a["start"], a["due"], freq="M")
        for m in months:
            rows.append((m.to_timestamp(), a["owner"], a["budget"] / len(months)))
    df = pd.DataFrame(rows, columns=["month", "owner", "budget"])
    return df.groupby(["month", "owner"], as_index=False)["budget"].sum()


def _latest_status(status: pd.DataFrame | None, period: pd.Period) -> pd.DataFrame:
    if status is None or status.empty:
        return pd.DataFrame(
            columns=["action_id", "reported", "pct_done", "note", "reported_month"]
        )
    s = status[status["month"] <= period.to_timestamp()].sort_values("month")
    last = s.groupby("action_id").tail(1)
    return last.rename(columns={"status": "reported", "month": "reported_month"})[
        ["action_id", "reported", "pct_done", "note", "reported_month"]
    ]


def _classify(a: pd.Series, end: pd.Timestamp) -> tuple[str, bool]:
    """``(state, overdue)`` of one action at the end of the report month."""
    done = a["reported"] == "done" or (a["pct_done"] >= 1.0 if pd.notna(a["pct_done"]) else False)
    if done:
        return "done", False
    if a["due"] <= end:
        return "late", True
    if a["start"] > end:
        return "not started", False
    span = max((a["due"] - a["start"]).days, 1)
    elapsed = min(max((end - a["start"]).days, 0) / span, 1.0)
    pct = float(a["pct_done"]) if pd.notna(a["pct_done"]) else 0.0
    return ("late" if pct < elapsed - LATE_MARGIN else "on time"), False


def action_review(
    plan_actions: pd.DataFrame,
    status: pd.DataFrame | None,
    cube: pd.DataFrame,
    targets: pd.DataFrame,
    baselines: pd.DataFrame | None,
    period: pd.Period,
) -> pd.DataFrame:
    """Per action of :func:`action_plan`: ``state`` (done, late, on time, not started),
    ``overdue``, ``pct_done``, the last ``note``; its segment's ``actual_ytd``, ``target_ytd``
    and ``behind``; ``baseline_ytd`` (the segment's target without the action's strategy, or
    without any strategy; ``outputs/strategy_baselines.parquet``) and ``realised_effect`` =
    actual - baseline to date, beside ``expected_revenue``."""
    end = (period + 1).to_timestamp() - pd.Timedelta(days=1)
    fy0 = pd.Timestamp(f"{period.year}-01-01")
    plan_actions = plan_actions.drop(columns=[c for c in REVIEW_COLUMNS if c in plan_actions])
    out = plan_actions.merge(_latest_status(status, period), on="action_id", how="left")
    states = [_classify(r, end) for _, r in out.iterrows()]
    out["state"] = [s for s, _ in states]
    out["overdue"] = [o for _, o in states]
    ytd = cube[(cube["month"] >= fy0) & (cube["month"] <= period.to_timestamp())]
    tgt = targets[(targets["month"] >= fy0) & (targets["month"] <= period.to_timestamp())]
    base = None
    if baselines is not None and not baselines.empty:
        base = baselines[
            (baselines["month"] >= fy0) & (baselines["month"] <= period.to_timestamp())
        ]
    act, tg, bl = [], [], []
    for _, a in out.iterrows():
        seg = {d: a[f"segment_{d}"] for d in DIMENSIONS if a[f"segment_{d}"]}
        act.append(float(ytd.loc[segment_rows(ytd, seg), "revenue"].sum()))
        tg.append(float(tgt.loc[segment_rows(tgt, seg), "target_revenue_no_cushion"].sum()))
        if base is None:
            bl.append(tg[-1])
            continue
        variant = a["strategy"] if a["strategy"] in set(base["variant"]) else NO_STRATEGY
        if variant not in set(base["variant"]):
            variant = "with"
        b = base[base["variant"] == variant]
        bl.append(float(b.loc[segment_rows(b, seg), "target"].sum()))
    out["actual_ytd"], out["target_ytd"], out["baseline_ytd"] = act, tg, bl
    out["behind"] = out["actual_ytd"] < out["target_ytd"]
    out["realised_effect"] = out["actual_ytd"] - out["baseline_ytd"]
    return out


def overdue_callouts(review: pd.DataFrame) -> list[str]:
    """One sentence per overdue action whose segment is behind its year-to-date target (for
    the index page), e.g. "Overdue: A03 Distributor onboarding (Li Wei, due 2026-06-30) in 西南,
    SMB, 92% of its year-to-date target"."""
    if review is None or review.empty or "overdue" not in review:
        return []
    from salesanalysis.report.formatting import pct

    hit = review[review["overdue"].astype(bool) & review["behind"].astype(bool)]
    out = []
    for _, a in hit.sort_values("due").iterrows():
        att = a["actual_ytd"] / a["target_ytd"] if a["target_ytd"] > 0 else float("nan")
        out.append(
            tr(
                "Overdue action {id} “{title}” (owner {owner}, due {due}) in {segment}, which "
                "is at {attainment} of its year-to-date target"
            ).format(
                id=a["action_id"],
                title=a["title"],
                owner=a["owner"],
                due=f"{a['due']:%Y-%m-%d}",
                segment=a["segment"],
                attainment=pct(att),
            )
        )
    return out
