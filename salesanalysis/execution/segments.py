"""Segments in words: ``{product_line: Pumps}`` reads "Pumps, all regions" (or "Pumps，全部区域").

A segment fixes one to three of the plan's dimensions (region, product line, customer type); the
report names it by its labels, region first, and says "all regions" when the region is open, so a
reader never sees a dimension name or a Python mapping.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from salesanalysis.i18n import N_, tr

__all__ = ["DIMENSIONS", "segment_words", "segment_rows"]

DIMENSIONS = ("region", "product_line", "customer_type")
_WORDS = {
    "en": {"sep": N_(", "), "all_regions": N_("all regions"), "company": N_("whole company")},
    "zh": {"sep": "，", "all_regions": "全部区域", "company": "全公司"},
}


def segment_words(
    segment: Mapping[str, str] | Iterable[tuple[str, str]], lang: str | None = None
) -> str:
    """The segment's labels in reading order (region, product line, customer type).

    Args:
        segment: ``{dimension: label}`` (or its items, as :class:`~salesanalysis.targets.plan.
            Strategy.segment` holds them); blank or ``*`` labels are open.
        lang: ``en`` or ``zh``; None (default): the report's language (the catalogue).
    """
    if lang is None:
        words = {k: tr(v) for k, v in _WORDS["en"].items()}
    else:
        words = _WORDS["zh" if lang == "zh" else "en"]
    seg = dict(segment)
    labels = {d: str(seg[d]) for d in DIMENSIONS if seg.get(d) not in (None, "", "*")}
    if not labels:
        return words["company"]
    parts = [labels[d] for d in DIMENSIONS if d in labels]
    if "region" not in labels:
        parts.append(words["all_regions"])
    return words["sep"].join(parts)


def segment_rows(frame: pd.DataFrame, segment: Mapping[str, str]) -> np.ndarray:
    """Which rows of ``frame`` (with the dimension columns) fall in ``segment``."""
    m = np.ones(len(frame), bool)
    for dim, label in dict(segment).items():
        if label in (None, "", "*"):
            continue
        m &= (frame[dim].astype(str) == str(label)).to_numpy()
    return m
