"""Strategies in business words: one row per strategy of the plan, with its effect in currency.

The effect of a strategy is the difference it makes to the targets: the plan's targets against
the targets of the same plan without that strategy (decomposed again, everything else equal).
Strategies change the mix, not the company total (:mod:`salesanalysis.targets.strategies`), so
a price rise on pumps gives pumps more of the target and the other segments less; the table shows
the gain of the strategy's own segment (and, for a channel shift, of the receiving segment).

The targets without every strategy (the *no-strategy baseline*) are kept per cell and month
(:func:`baseline_cells`) so that the review can set a segment's actual against it.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from salesanalysis.execution.segments import DIMENSIONS, segment_rows, segment_words
from salesanalysis.i18n import N_, tr
from salesanalysis.targets.decompose import decompose
from salesanalysis.targets.plan import Plan, Strategy

__all__ = [
    "LEVERS",
    "NO_STRATEGY",
    "STRATEGY_COLUMNS",
    "targets_without",
    "strategy_table",
    "baseline_cells",
    "strategy_change",
]

LEVERS = {
    "price": N_("price"),
    "promotion": N_("promotion"),
    "channel_shift": N_("channel"),
    "product": N_("product"),
}
"""The lever each kind of strategy pulls (product, price, promotion, channel)."""
NO_STRATEGY = ""
"""The key of the targets without any strategy in :func:`targets_without`."""
STRATEGY_COLUMNS = [
    "strategy",
    "lever",
    "segment",
    "change",
    "target_with",
    "target_without",
    "effect",
    "receiving_segment",
    "effect_on_receiving",
    "rationale",
    "owner",
]
_TARGET = "target_revenue_no_cushion"


def targets_without(
    cube: pd.DataFrame,
    customers: pd.DataFrame,
    reps: pd.DataFrame,
    market: pd.DataFrame,
    forecast: pd.DataFrame | None,
    plan: Plan,
) -> dict[str, pd.DataFrame]:
    """The targets frame of ``plan`` decomposed without each of its strategies (key: the
    strategy's name) and without any (key :data:`NO_STRATEGY`); the same inputs as
    :func:`~salesanalysis.targets.decompose.decompose`. Empty when the plan has no strategy."""
    if not plan.strategies:
        return {}
    out: dict[str, pd.DataFrame] = {}
    variants = {s.name: [o for o in plan.strategies if o.name != s.name] for s in plan.strategies}
    variants[NO_STRATEGY] = []
    for key, kept in variants.items():
        p = plan.with_changes(strategies=[s.to_dict() for s in kept])
        out[key] = decompose(cube, customers, reps, market, forecast, p).targets
    return out


def strategy_change(s: Strategy) -> str:
    """The change in words, in the report's language: "list price +3.0%", "promotion volume
    +5.0%", "S-200 pushed: segment revenue +8.0%", "10.0% of the target moved to 西南,
    Distributor"."""
    if s.kind == "price":
        return tr("list price {pct}").format(pct=f"{s.pct:+.1%}")
    if s.kind == "promotion":
        return tr("promotion volume {pct}").format(pct=f"{s.pct:+.1%}")
    if s.kind == "product":
        return tr("{product} pushed: segment revenue {pct}").format(
            product=s.product, pct=f"{s.pct:+.1%}"
        )
    to = segment_words(s.to or ())
    return tr("{pct} of the target moved to {segment}").format(pct=f"{s.pct:.1%}", segment=to)


def _segment_total(targets: pd.DataFrame, segment: Mapping[str, str]) -> float:
    return float(targets.loc[segment_rows(targets, segment), _TARGET].sum())


def strategy_table(
    plan: Plan, targets: pd.DataFrame, without: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """:data:`STRATEGY_COLUMNS`, one row per strategy of ``plan``.

    Args:
        targets: the plan's targets frame (``outputs/targets.parquet`` as decomposed).
        without: :func:`targets_without` of the same plan.

    ``target_with`` / ``target_without``: the segment's annual target (without cushion) with
    and without the strategy; ``effect`` their difference; for a channel shift the receiving
    segment's gain is ``effect_on_receiving``.
    """
    rows = []
    for s in plan.strategies:
        seg, other = s.segment_dict, without[s.name]
        with_, wo = _segment_total(targets, seg), _segment_total(other, seg)
        to = s.to_dict_segment
        recv = _segment_total(targets, to) - _segment_total(other, to) if to else float("nan")
        rows.append(
            {
                "strategy": s.name,
                "lever": tr(LEVERS[s.kind]),
                "segment": segment_words(seg),
                "change": strategy_change(s),
                "target_with": with_,
                "target_without": wo,
                "effect": with_ - wo,
                "receiving_segment": segment_words(to) if to else "",
                "effect_on_receiving": recv,
                "rationale": s.rationale,
                "owner": s.owner,
            }
        )
    return pd.DataFrame(rows, columns=STRATEGY_COLUMNS)


def baseline_cells(targets: pd.DataFrame, without: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Per variant (``with`` = the plan, a strategy's name = the plan without it, ``""`` = no
    strategy), cell and month: the target without cushion. The review reads a segment's
    no-strategy baseline from it (``outputs/strategy_baselines.parquet``)."""
    keys = ["month", *DIMENSIONS]
    frames = [("with", targets)] + [(k, v) for k, v in without.items()]
    out = [
        df.groupby(keys, as_index=False)[_TARGET]
        .sum()
        .rename(columns={_TARGET: "target"})
        .assign(variant=name)
        for name, df in frames
    ]
    return pd.concat(out, ignore_index=True)[["variant", *keys, "target"]]
