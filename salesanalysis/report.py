"""Headline figures for a run's index page, read from the run's outputs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

__all__ = ["headline_figures"]


def _money(x: float) -> str:
    return f"{x:,.0f}"


def _pct(x: float) -> str:
    return "n/a" if pd.isna(x) else f"{x:+.1%}"


def headline_figures(outputs: Path, period: str) -> list[tuple[str, str]]:
    """(label, formatted value) pairs: revenue of the month, YTD and last 12 months with their
    change on a year earlier; then the review's headline when the review step has run."""
    outputs = Path(outputs)
    p = pd.Period(period, "M")
    cube = pd.read_parquet(outputs / "cube.parquet", columns=["month", "revenue"])
    monthly = cube.groupby("month")["revenue"].sum()
    monthly.index = monthly.index.to_period("M")

    def total(first: pd.Period, last: pd.Period) -> float:
        return float(monthly[(monthly.index >= first) & (monthly.index <= last)].sum())

    ytd_first = pd.Period(f"{p.year}-01", "M")
    figures = [
        (f"Revenue {p}", _money(total(p, p))),
        (f"vs {p - 12}", _pct(total(p, p) / total(p - 12, p - 12) - 1) if total(p - 12, p - 12) else "n/a"),
        (f"Revenue YTD {p.year}", _money(total(ytd_first, p))),
        ("YTD vs last year", _pct(total(ytd_first, p) / total(ytd_first - 12, p - 12) - 1)
         if total(ytd_first - 12, p - 12) else "n/a"),
        ("Revenue last 12 months", _money(total(p - 11, p))),
    ]
    review = outputs / "review.parquet"
    if review.exists():
        from .review import headline  # the review step's own summary

        h = headline(pd.read_parquet(review))
        figures += [(str(k), str(v)) for k, v in h.get("figures", h).items() if not isinstance(v, list | dict)]
    return figures
