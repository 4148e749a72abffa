"""Sales stages: conversion from the pipeline's history, the reverse funnel of the targets, and
the coverage of what is left to sell.

Stages (:data:`~salesanalysis.execution.inputs.STAGES`, lead -> qualified -> proposal -> won): an
opportunity's ``stage`` is the furthest it reached. From the closed opportunities (won or lost):
:func:`stage_conversion` (how many reached each stage, the share going on to the next, and the
win rate from each stage) and :func:`deal_stats` (average won deal, days from created to won),
by region and product line. :func:`reverse_funnel`: per rep and month, the won orders the target
needs (target / average deal) and what each earlier stage must hold (won orders / win rate from
that stage). Without a pipeline file (:func:`orders_funnel`): orders needed = target / average
order value of the transactions, and the new customers the customer targets ask for.
:func:`pipeline_coverage`: per rep, the open pipeline weighted by the win rate from its stage (its
region's, when the region has enough closed history), against the target still to sell; reps
under 1 are short of pipeline.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from salesanalysis.execution.inputs import STAGES

__all__ = [
    "FUNNEL_COLUMNS",
    "with_regions",
    "stage_conversion",
    "deal_stats",
    "reverse_funnel",
    "orders_funnel",
    "pipeline_coverage",
    "MIN_CLOSED_FOR_REGION",
]

FUNNEL_COLUMNS = ["rep_id", "region", "month", "target", "avg_deal", "won", *STAGES[-2::-1]]
_BEFORE_WON = STAGES[:-1]


def with_regions(pipeline: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    """The pipeline with each opportunity's region (its own, else its rep's)."""
    reg = reps.set_index(reps["rep_id"].astype(str))["region"].astype(str)
    out = pipeline.copy()
    mapped = out["rep_id"].map(reg).fillna("")
    out["region"] = out["region"].where(out["region"] != "", mapped)
    return out


def _reached(df: pd.DataFrame) -> pd.DataFrame:
    idx = df["stage"].map({s: i for i, s in enumerate(STAGES)})
    return pd.DataFrame({s: (idx >= i).astype(int) for i, s in enumerate(STAGES)}, index=df.index)


def stage_conversion(pipeline: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per group of ``by`` (``region``, ``product_line``; () = company): closed opportunities
    reaching each stage (``n_<stage>``), the share going on to the next (``conv_<stage>``) and
    the win rate from each stage (``win_<stage>`` = won / reached that stage)."""
    closed = pipeline[pipeline["status"].isin(["won", "lost"])]
    r = _reached(closed)
    keys = [closed[k] for k in by] if by else [pd.Series("*", index=closed.index)]
    counts = r.groupby(keys).sum()
    counts.columns = [f"n_{s}" for s in STAGES]
    for a, b in zip(STAGES[:-1], STAGES[1:], strict=True):
        counts[f"conv_{a}"] = counts[f"n_{b}"] / counts[f"n_{a}"].where(counts[f"n_{a}"] > 0)
    for s in STAGES:
        counts[f"win_{s}"] = counts["n_won"] / counts[f"n_{s}"].where(counts[f"n_{s}"] > 0)
    return counts.reset_index() if by else counts.reset_index(drop=True)


def deal_stats(pipeline: pd.DataFrame, by: tuple[str, ...] = ()) -> pd.DataFrame:
    """Per group of ``by``: ``won`` deals, ``avg_deal`` (their mean amount) and
    ``cycle_days`` (mean days from created to close)."""
    won = pipeline[pipeline["status"] == "won"].assign(
        days=lambda d: (d["close_date"] - d["created"]).dt.days
    )
    keys = list(by) if by else [pd.Series("*", index=won.index)]
    g = won.groupby(keys)
    out = pd.DataFrame(
        {"won": g.size(), "avg_deal": g["amount"].mean(), "cycle_days": g["days"].mean()}
    )
    return out.reset_index() if by else out.reset_index(drop=True)


def _rep_month_targets(targets: pd.DataFrame) -> pd.DataFrame:
    return targets.groupby(["rep_id", "region", "month"], as_index=False).agg(
        target=("target_revenue", "sum"), target_customers=("target_customers", "sum")
    )


def reverse_funnel(targets: pd.DataFrame, pipeline: pd.DataFrame) -> pd.DataFrame:
    """:data:`FUNNEL_COLUMNS` per rep and month of ``targets`` (rep targets, with cushion):
    ``won`` = target / the average won deal of the rep's region (else the company's), then
    proposal, qualified and lead = won / the win rate from that stage (the region's, else the
    company's). Numbers of opportunities, not rounded (a month may need 2.4 won orders)."""
    t = _rep_month_targets(targets)
    deals = deal_stats(pipeline, ("region",)).set_index("region")
    conv = stage_conversion(pipeline, ("region",)).set_index("region")
    comp_deal = float(deal_stats(pipeline)["avg_deal"].iloc[0]) if len(pipeline) else np.nan
    comp = stage_conversion(pipeline)
    t["avg_deal"] = t["region"].map(deals["avg_deal"]).fillna(comp_deal)
    t["won"] = t["target"] / t["avg_deal"]
    for s in _BEFORE_WON:
        rate = t["region"].map(conv[f"win_{s}"]).where(lambda r: r > 0)
        rate = rate.fillna(float(comp[f"win_{s}"].iloc[0]) if len(comp) else np.nan)
        t[s] = t["won"] / rate
    return t[FUNNEL_COLUMNS].sort_values(["rep_id", "month"]).reset_index(drop=True)


def orders_funnel(
    targets: pd.DataFrame, cube: pd.DataFrame, orders: pd.DataFrame, months: list
) -> pd.DataFrame:
    """Without a pipeline: per rep and month, ``orders`` = target / the average order value of
    the rep's region over ``months`` (the cube's revenue / ``orders.parquet``'s whole orders;
    else the company's) and ``new_customers`` = the customer target."""
    t = _rep_month_targets(targets)
    rev = cube[cube["month"].isin(months)].groupby("region")["revenue"].sum()
    n = orders[orders["month"].isin(months)].groupby("region")["orders"].sum()
    aov = (rev / n.where(n > 0)).dropna()
    company = float(rev.sum() / n.sum()) if n.sum() > 0 else np.nan
    t["avg_order"] = t["region"].map(aov).fillna(company)
    t["orders"] = t["target"] / t["avg_order"]
    t["new_customers"] = t["target_customers"]
    return t[["rep_id", "region", "month", "target", "avg_order", "orders", "new_customers"]]


MIN_CLOSED_FOR_REGION = 30
"""Closed opportunities a region needs before its own win rates weigh its open pipeline
(fewer: the company's rates)."""


def _win_rates(closed_by: pd.DataFrame, region: str | None) -> dict[str, float]:
    row = closed_by if region is None else closed_by[closed_by["region"] == region]
    return {s: float(row[f"win_{s}"].iloc[0]) if len(row) else np.nan for s in STAGES}


def pipeline_coverage(
    pipeline: pd.DataFrame, remaining: pd.Series, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Per rep: ``open_weighted`` (open opportunities created by ``as_of``, each amount x the
    win rate from its stage), ``remaining`` target (``remaining``: rep_id -> target left for the
    year) and ``coverage`` = open_weighted / remaining; ``short`` when under 1.

    The win rates are the opportunity's region's when the pipeline has a ``region`` column
    (:func:`with_regions`) and the region has at least :data:`MIN_CLOSED_FOR_REGION` closed
    opportunities by ``as_of``, else the company's; ``win_rates`` says which (``region`` /
    ``company``, the latter also for a rep with regions of both kinds)."""
    known = pipeline[pipeline["created"] <= as_of]
    company = _win_rates(stage_conversion(known), None)
    open_ = known[known["status"] == "open"].copy()
    open_["basis"] = "company"
    open_["rate"] = open_["stage"].map(company)
    if "region" in known.columns and len(open_):
        by_region = stage_conversion(known, by=("region",))
        enough = by_region[by_region["n_lead"] >= MIN_CLOSED_FOR_REGION]
        for region in enough["region"]:
            here = open_["region"] == region
            open_.loc[here, "rate"] = open_.loc[here, "stage"].map(_win_rates(enough, region))
            open_.loc[here, "basis"] = "region"
    w = open_["amount"] * open_["rate"].fillna(0.0)
    out = pd.DataFrame({"remaining": remaining.astype(float)})
    out["open_pipeline"] = open_.groupby("rep_id")["amount"].sum().reindex(out.index).fillna(0.0)
    out["open_weighted"] = w.groupby(open_["rep_id"]).sum().reindex(out.index).fillna(0.0)
    pos = out["remaining"] > 0
    out["coverage"] = (out["open_weighted"] / out["remaining"].where(pos)).where(pos)
    out["short"] = pos & (out["coverage"] < 1)
    regional = open_.groupby("rep_id")["basis"].agg(lambda b: (b == "region").all())
    out["win_rates"] = np.where(regional.reindex(out.index).fillna(False), "region", "company")
    return out.rename_axis("rep_id").reset_index()
