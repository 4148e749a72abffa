"""What a rendered report may show in the other language: the run's own data (labels, names,
the plan's and the inputs' free text) and a short list of technical tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from salesanalysis import i18n

ACCEPTED = {
    # codes and names that read the same in both languages
    "CNY",
    "USD",
    "EUR",
    "Excel",
    "PDF",
    "Notebook",
    "ipynb",
    "html",
    "json",
    "log",
    "csv",
    "xlsx",
    "yaml",
    "parquet",
    # the input files' own column names, quoted by the data notes
    "hire_date/end_date line_id",
    # generated ids of to-be-hired reps (TBH-华东-1), the targets workbook's sheet names, the
    # tool a planner opens for the what-if panel and the command that starts it
    "TBH",
    "Rep x month",
    "Rep load",
    "Headcount",
    "JupyterLab",
    "make lab",
}
"""Latin tokens allowed on a Chinese page (file types, currency codes, product names)."""

TECHNICAL = {
    # the appendix is the analyst's page: method names, the run's command and folders
    "ARIMA",
    "ETS",
    "STL",
    "Theta",
    "IPF",
    "MAE",
    "MASE",
    "RMSE",
    "MinT",
    "OLS",
    "WLS",
    "statsmodels",
    "salesanalysis plan freeze run",
    "replan pins floors caps",  # plan.yaml keys named by the method notes
    "outputs",  # the run folder's outputs/ (files named in the method notes)
}
"""Latin tokens also allowed on the appendix page of a Chinese report."""

PAGES = ("index.html", "appendix.html")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def data_labels(run: Path) -> set[str]:
    """Every text the run took from its inputs: cube labels, rep ids and names, the plan's
    values (strategy names, rationales, owners), the optional inputs' text columns, the input
    file names and the run's data notes' file names."""
    out = run / "outputs"
    labels: set[str] = set()
    for name in (
        "cube",
        "reps",
        "actions_input",
        "action_status",
        "pipeline",
        "market",
        "product_mix",
    ):
        p = out / f"{name}.parquet"
        if not p.exists():
            continue
        df = pd.read_parquet(p)
        for c in df.columns:
            if not pd.api.types.is_numeric_dtype(
                df[c]
            ) and not pd.api.types.is_datetime64_any_dtype(df[c]):
                labels |= set(df[c].dropna().astype(str).unique()[:5000])
    plan = out / "plan.json"
    if plan.exists():  # the plan's free text only, not its codes (hire, linear: shown in words)
        data = json.loads(plan.read_text(encoding="utf-8"))
        labels |= set(_strings([data.get("name"), data.get("strategies"), data.get("pins")]))
    manifest = run / "run.json"
    if manifest.exists():
        m = json.loads(manifest.read_text(encoding="utf-8"))
        labels |= {Path(p).name for p in (m.get("inputs") or {}).values()}
        labels |= {str(m.get("git_commit") or "")}
    return labels


def leaks(run: Path, page: str, lang: str) -> list[str]:
    """Words on ``page`` of ``run`` that are not in ``lang`` and not the run's own data."""
    allowed = data_labels(run) | (ACCEPTED if lang == "zh" else set())
    if lang == "zh" and page == "appendix.html":
        allowed |= TECHNICAL
    markup = (run / page).read_text(encoding="utf-8")
    return i18n.leaked_words(markup, lang, allowed)
