"""Reader rules shared by the pandas readers (``readers``) and the Arrow fast path (``ingest``):
blank cells, labels, the delimiter, renaming mapped columns, a line's revenue, discounts, returns,
the notes on duplicates, returns and gaps, hire dates from the first sale, and the checks across
tables. One home per rule: both paths call these."""

from __future__ import annotations

import csv
import difflib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from salesanalysis.data.contract import NULL_MARKERS, TableSpec
from salesanalysis.errors import Problem
from salesanalysis.i18n import N_, tr


def sniff_delimiter(text: str) -> str:
    head = "\n".join(text.splitlines()[:20])
    try:
        return csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
    except csv.Error:
        first = text.splitlines()[0] if text else ""
        counts = {d: first.count(d) for d in ",;\t|"}
        return max(counts, key=counts.get)


def blank_cells(raw: pd.Series) -> pd.Series:
    """Empty cells: missing, whitespace only, or a null marker such as NULL or #N/A."""
    na = raw.isna()
    if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_datetime64_any_dtype(raw):
        return na
    s = raw.astype("string").str.strip()
    return (na | s.eq("").fillna(True) | s.isin(NULL_MARKERS).fillna(False)).astype(bool)


def rename(
    df: pd.DataFrame,
    spec: TableSpec,
    settings: dict[str, Any],
    path: Path,
    problems: list[Problem],
) -> pd.DataFrame:
    mapping = {str(k): v for k, v in (settings.get("columns", {}) or {}).items()}
    ignore = {str(c) for c in settings.get("ignore", []) or []}
    df = df[[c for c in df.columns if c not in ignore]]
    original = list(df.columns)
    new = [
        mapping.get(c, c.strip().lower() if c.strip().lower() in spec.columns else c)
        for c in original
    ]
    df = df.set_axis(new, axis=1)
    n0 = len(problems)
    for col in dict.fromkeys(c for c in new if new.count(c) > 1):
        srcs = [o for o, n in zip(original, new, strict=True) if n == col]
        problems.append(
            Problem(
                tr("column '{col}' appears {n} times (as {names})").format(
                    col=col, n=len(srcs), names=", ".join(repr(s) for s in srcs)
                ),
                file=str(path),
                column=col,
                fix=tr(
                    "Keep one of them, rename the others, or list the extra ones under 'ignore' "
                    "in mapping.yaml."
                ),
            )
        )
    missing = [c for c in spec.required if c not in df.columns]
    for group in spec.one_of:
        if not any(c in df.columns for c in group):
            missing.append(" or ".join(group))
    unknown = [c for c in df.columns if c not in spec.columns]
    for col in missing:
        guess = difflib.get_close_matches(col.split(" or ")[0], unknown, n=1, cutoff=0.6)
        target = col.split(" or ")[0]
        fix = (
            tr(
                "Rename column '{found}' to '{target}', or map it in mapping.yaml ('{setting}')."
            ).format(
                found=guess[0],
                target=target,
                setting=f"{spec.name}: {{columns: {{{guess[0]}: {target}}}}}",
            )
            if guess
            else tr(
                "Add the column, or map your own column name to '{target}' in mapping.yaml."
            ).format(target=target)
        )
        problems.append(
            Problem(
                tr("required column '{col}' is missing (columns found: {found})").format(
                    col=col, found=", ".join(map(str, df.columns))
                ),
                file=str(path),
                fix=fix,
            )
        )
    # a misspelt optional column would be silently ignored: say so instead
    absent = [c for c in spec.columns if c not in df.columns and c not in " ".join(missing)]
    for col in unknown:
        guess = difflib.get_close_matches(str(col).lower(), absent, n=1, cutoff=0.8)
        if guess:
            problems.append(
                Problem(
                    tr(
                        "column '{col}' is not a contract column; it looks like a misspelling "
                        "of '{guess}', which is missing"
                    ).format(col=col, guess=guess[0]),
                    file=str(path),
                    column=str(col),
                    fix=tr(
                        "Rename it to '{guess}' or map it in mapping.yaml ('{setting}'); if it "
                        "is another column, list it under '{ignore}'."
                    ).format(
                        guess=guess[0],
                        setting=f"{spec.name}: {{columns: {{{col}: {guess[0]}}}}}",
                        ignore=f"{spec.name}: {{ignore: [{col}]}}",
                    ),
                )
            )
    if len(problems) > n0:
        return df.loc[:, ~df.columns.duplicated()]
    return df


def as_label(s: pd.Series) -> pd.Series:
    out = s.astype("string").str.strip()
    # ids exported as numbers come back as '123.0' from Excel; keep them as '123'
    out = out.str.replace(r"^(-?\d+)\.0$", r"\1", regex=True)
    return out.fillna("").astype(str)


# --------------------------------------------------------------------------------------------
# transaction lines (pandas Series or numpy arrays alike)

_A = TypeVar("_A", pd.Series, np.ndarray)


def line_revenue(quantity: _A, unit_price: _A, discount: _A | None) -> _A:
    """Net revenue of a line that gives none: ``quantity x unit_price x (1 - discount)``
    (no discount column: 0)."""
    return quantity * unit_price * (1 - (discount if discount is not None else 0.0))


def discount_outside(discount: _A) -> _A:
    """Discounts outside [0, 1) (an error: discounts are fractions, 0.05 for 5%)."""
    return (discount < 0) | (discount >= 1)


def is_return(quantity: _A, revenue: _A) -> _A:
    """Return lines: a negative quantity or a negative revenue (netted in their month)."""
    return (quantity < 0) | (revenue < 0)


def identical_rows_note(file_name: str, n: int, rows: list[int], rule: str) -> str:
    """Rows identical on every column to an earlier row: kept as separate sales (``keep``, the
    default: one row per item sold) or dropped as export duplicates (``drop_exact``)."""
    if rule == "drop_exact":
        text = tr(
            "{file}: {n} row(s) identical to an earlier row (same date, order, customer, product "
            "line, rep, quantity and price) were dropped as export duplicates ('duplicates: "
            "drop_exact' in mapping.yaml); first at lines {rows}."
        )
    else:
        text = tr(
            "{file}: {n} row(s) identical to an earlier row (same date, order, customer, product "
            "line, rep, quantity and price) are kept as separate sales (one row per item); first "
            "at lines {rows}. If they are export duplicates, set 'duplicates: drop_exact' in "
            "mapping.yaml or add a line_id column."
        )
    return text.format(file=file_name, n=n, rows=rows)


def line_id_repeats_note(file_name: str, n: int, lines: list[int]) -> str:
    """Rows whose line_id repeats within their order: export duplicates, the first counts."""
    return tr(
        "{file}: {n} row(s) repeat the line_id of an earlier row of the same order; they were "
        "dropped as export duplicates (the first row of each line counts); first at lines "
        "{rows}."
    ).format(file=file_name, n=n, rows=lines)


def duplicate_rows(lines: pd.DataFrame, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """The duplicates rule on the normalised transaction lines (one row per line).

    Returns:
        ``repeats``: rows whose (non-empty) ``line_id`` repeats within their order (dropped);
        ``identical``: of the other rows, those identical on every column to an earlier one
        (dropped only when ``rule`` is ``drop_exact``; otherwise kept and stated).
    """
    repeats = np.zeros(len(lines), bool)
    if "line_id" in lines.columns:
        given = lines["line_id"].ne("").to_numpy()
        repeats = given & lines.duplicated(["order_id", "line_id"], keep="first").to_numpy()
    identical = np.zeros(len(lines), bool)
    identical[~repeats] = lines[~repeats].duplicated(keep="first").to_numpy()
    return repeats, identical


def returns_note(file_name: str, n: int) -> str:
    return tr(
        "{file}: {n} return lines (negative quantity or revenue) are netted against sales in "
        "their month."
    ).format(file=file_name, n=n)


def gaps_note(file_name: str, gaps: Sequence[pd.Period]) -> str:
    """Months without any transaction inside the history (they count as zero sales)."""
    months = ", ".join(str(g) for g in gaps[:6]) + (" ..." if len(gaps) > 6 else "")
    return tr(
        "{file}: no transactions at all in {n} month(s) inside the history ({months}); they "
        "count as zero sales - check that the export is complete."
    ).format(file=file_name, n=len(gaps), months=months)


def no_market_note(file_name: str, product_lines: list[str]) -> str:
    return tr(
        "{file}: product line(s) {lines} have no market size; their market share is not computed."
    ).format(file=file_name, lines=", ".join(map(str, product_lines[:5])))


def outside_employment_note(file_name: str, n_lines: int) -> str:
    """Lines booked to a rep before the hire month or after the month of the end date."""
    return tr(
        "{file}: {n} line(s) booked to a rep outside their hire_date/end_date; they are kept "
        "as booked."
    ).format(file=file_name, n=n_lines)


# --------------------------------------------------------------------------------------------
# table readers


def fill_hire_dates(
    tx: pd.DataFrame,
    reps: pd.DataFrame,
    paths: dict[str, Path],
    problems: list[Problem],
    notes: list[str],
) -> pd.DataFrame:
    """Reps without hire_date: hired in the month of their first transaction (a stated rule)."""
    missing = reps["hire_date"].isna()
    if not missing.any():
        return reps.drop(columns="_line")
    first = tx.groupby("rep_id")["month"].min()
    filled = reps.loc[missing, "rep_id"].map(first)
    none = filled.isna()
    if none.any():
        ids = reps.loc[missing, "rep_id"][none]
        problems.append(
            Problem(
                tr("{n} reps have no hire_date and no transactions to infer it from").format(
                    n=len(ids)
                ),
                file=str(paths["reps"]),
                column="hire_date",
                rows=[int(x) for x in reps.loc[ids.index, "_line"].head(5)],
                count=len(ids),
                values=list(ids.head(5)),
                fix=tr("Fill in hire_date for those reps (YYYY-MM-DD)."),
            )
        )
    done = filled.dropna()
    if len(done):
        shown = ", ".join(
            f"{k} -> {v:%Y-%m}" for k, v in zip(reps.loc[done.index, "rep_id"], done, strict=True)
        )
        notes.append(
            tr(
                "{file}: {n} reps have no hire_date; rule: hired on the first day of the month "
                "of their first transaction ({reps})."
            ).format(file=paths["reps"].name, n=len(done), reps=shown[:300])
        )
    reps = reps.copy()
    reps.loc[done.index, "hire_date"] = done.astype("datetime64[ns]")
    return reps.drop(columns="_line")


def cross_checks(
    tx: pd.DataFrame,
    reps: pd.DataFrame,
    market: pd.DataFrame,
    paths: dict[str, Path],
    problems: list[Problem],
    notes: list[str],
) -> None:
    tpath = str(paths["transactions"])
    unknown = ~tx["rep_id"].isin(set(reps["rep_id"]))
    if unknown.any():
        ids = sorted(tx.loc[unknown, "rep_id"].unique())
        problems.append(
            Problem(
                tr("{n} lines name {k} rep_id(s) that are not in {file}").format(
                    n=unknown.sum(), k=len(ids), file=paths["reps"].name
                ),
                file=tpath,
                column="rep_id",
                rows=[int(x) for x in tx.loc[unknown, "_line"].head(5)],
                count=int(unknown.sum()),
                values=ids[:5],
                fix=tr(
                    "Add those reps to {file} (with hire_date), or correct the rep_id on those "
                    "lines."
                ).format(file=paths["reps"].name),
            )
        )
    known_regions = set(reps["region"]) | set(market["region"])
    unknown = ~tx["region"].isin(known_regions)
    if unknown.any():
        vals = sorted(tx.loc[unknown, "region"].unique())
        problems.append(
            Problem(
                tr("{n} lines have region(s) found neither in {reps} nor in {market}").format(
                    n=unknown.sum(), reps=paths["reps"].name, market=paths["market"].name
                ),
                file=tpath,
                column="region",
                rows=[int(x) for x in tx.loc[unknown, "_line"].head(5)],
                count=int(unknown.sum()),
                values=vals[:5],
                fix=tr(
                    "Correct the spelling of the region (labels must match across files "
                    "exactly), or map it in mapping.yaml."
                ),
            )
        )
    tx_labels = {c: tx[c].unique() for c in ("region", "product_line", "customer_type")}
    problems.extend(label_mismatches(tx_labels, reps, market, paths))
    unknown_pl = ~tx["product_line"].isin(set(market["product_line"]))
    if unknown_pl.any():
        vals = sorted(tx.loc[unknown_pl, "product_line"].unique())
        notes.append(no_market_note(paths["transactions"].name, vals))
    # lines outside a rep's employment
    r = reps.set_index("rep_id")
    known = tx["rep_id"].isin(r.index)
    hire = tx.loc[known, "rep_id"].map(r["hire_date"]).dt.to_period("M").dt.to_timestamp()
    end = tx.loc[known, "rep_id"].map(r["end_date"])
    outside = (tx.loc[known, "month"] < hire) | (
        end.notna() & (tx.loc[known, "date"] > end + pd.offsets.MonthEnd(0))
    )
    if outside.any():
        notes.append(outside_employment_note(paths["transactions"].name, int(outside.sum())))


# --------------------------------------------------------------------------------------------
# label sets across files (transactions, reps, market, the plan's pins and strategies)

_LABEL_DIMS = ("region", "product_line", "customer_type")
_DIM_WORDS = {
    "region": N_("region"),
    "product_line": N_("product line"),
    "customer_type": N_("customer type"),
}


def _closest(label: str, known: Sequence[str]) -> str:
    """``'华东区' (closest: '华东')``, or the label alone when nothing is close."""
    match = difflib.get_close_matches(label, list(known), n=1, cutoff=0.5)
    if match:
        return tr("'{label}' (closest: '{match}')").format(label=label, match=match[0])
    return tr("'{label}' (no close match)").format(label=label)


def _unmatched(labels: Sequence[str], known: Sequence[str]) -> str:
    shown = ", ".join(_closest(x, known) for x in labels[:5])
    return shown + (tr(" and {n} more").format(n=len(labels) - 5) if len(labels) > 5 else "")


def label_mismatches(
    tx_labels: dict[str, Sequence[str]],
    reps: pd.DataFrame,
    market: pd.DataFrame,
    paths: dict[str, Path],
) -> list[Problem]:
    """Regions of the reps and the market, and product lines of the market, that match no
    label of the transactions (a ghost region, a wrong company market total): each an error
    naming the unmatched labels and the closest transaction label.

    Args:
        tx_labels: the labels of the transactions per column (``region``, ``product_line``).
    """
    tx_name = paths["transactions"].name
    problems = []
    for table, frame, col in (
        ("reps", reps, "region"),
        ("market", market, "region"),
        ("market", market, "product_line"),
    ):
        known = sorted(set(tx_labels[col]))
        extra = sorted(set(frame[col]) - set(known))
        if not extra:
            continue
        name = paths[table].name
        what = tr(_DIM_WORDS[col])
        fix = (
            tr(
                "Labels must match across files exactly: correct them in {name} (or in "
                "{tx}), or remove the {name} rows of a {what} without any sale (it would make a "
                "ghost segment and a wrong company market total)."
            )
            if table == "market"
            else tr(
                "Labels must match across files exactly: correct them in {name} (or in "
                "{tx}), or remove the {name} rows of a {what} without any sale (it would make a "
                "ghost segment)."
            )
        )
        problems.append(
            Problem(
                tr("{n} {what}(s) in {name} match no {what} of {tx}: {labels}").format(
                    n=len(extra),
                    what=what,
                    name=name,
                    tx=tx_name,
                    labels=_unmatched(extra, known),
                ),
                file=str(paths[table]),
                column=col,
                count=len(extra),
                values=extra[:5],
                fix=fix.format(name=name, tx=tx_name, what=what),
            )
        )
    return problems


def prev_region_mismatches(
    tx_labels: dict[str, Sequence[str]], reps: pd.DataFrame, paths: dict[str, Path]
) -> list[Problem]:
    """The optional ``prev_region`` of reps who changed region must be a region of the
    transactions (the rep carries capacity there for the months before ``region_from``); the
    rows are the file's lines when ``reps`` still has the readers' ``_line``."""
    if "prev_region" not in reps.columns:
        return []
    known = sorted(set(tx_labels["region"]))
    prev = reps["prev_region"]
    bad = (prev.notna() & ~prev.isin(known)).to_numpy()
    if not bad.any():
        return []
    name = paths["reps"].name
    lines = reps["_line"] if "_line" in reps.columns else pd.Series(reps.index)
    extra = sorted(set(prev[bad]))
    return [
        Problem(
            tr("{n} reps have a prev_region that is no region of {tx}: {labels}").format(
                n=int(bad.sum()), tx=paths["transactions"].name, labels=_unmatched(extra, known)
            ),
            file=str(paths["reps"]),
            column="prev_region",
            rows=[int(x) for x in lines[bad].head(5)],
            count=int(bad.sum()),
            values=extra[:5],
            fix=tr(
                "prev_region is the region the rep worked in before region_from: correct it in "
                "{name} to one of {labels} (labels must match exactly), or leave prev_region "
                "and region_from empty."
            ).format(name=name, labels=", ".join(known[:8]) + (" ..." if len(known) > 8 else "")),
        )
    ]


def plan_label_mismatches(
    tx_labels: dict[str, Sequence[str]], plan: Any, plan_path: Path, tx_name: str
) -> list[Problem]:
    """Segments of the plan's pins and strategies naming a region, product line or customer
    type that the transactions do not have: each an error with the closest label."""
    problems = []
    segments = [(f"pins[{i}].segment", p.segment) for i, p in enumerate(plan.pins)]
    for i, s in enumerate(plan.strategies):
        segments.append((f"strategies[{i}].segment", s.segment))
        if s.to:
            segments.append((f"strategies[{i}].to", s.to))
    for where, segment in segments:
        for dim, label in segment:
            known = sorted(set(tx_labels.get(dim, ())))
            if dim in _LABEL_DIMS and label not in known:
                what = tr(_DIM_WORDS[dim])
                problems.append(
                    Problem(
                        tr("'{key}' names a {what} that is not in {tx}: {label}").format(
                            key=f"{where}.{dim}",
                            what=what,
                            tx=tx_name,
                            label=_closest(label, known),
                        ),
                        file=str(plan_path),
                        column=dim,
                        values=[label],
                        fix=tr(
                            "Use a {what} of {tx} ({labels}); labels must match exactly."
                        ).format(
                            what=what,
                            tx=tx_name,
                            labels=", ".join(known[:8]) + (" ..." if len(known) > 8 else ""),
                        ),
                    )
                )
    return problems


def plan_product_mismatches(
    products: pd.DataFrame | None, plan: Any, plan_path: Path, tx_name: str
) -> list[Problem]:
    """Product strategies naming a product the transactions do not sell in the strategy's
    product line (only when the transactions have a product column): each an error with the
    closest product of that line."""
    if products is None or plan is None:
        return []
    named = products[products["product"].astype(str) != ""]
    problems = []
    for i, s in enumerate(plan.strategies):
        if s.kind != "product" or not s.product:
            continue
        line = dict(s.segment).get("product_line", "")
        known = sorted(set(named.loc[named["product_line"] == line, "product"].astype(str)))
        if s.product in known:
            continue
        problems.append(
            Problem(
                tr(
                    "'{key}' names a product that {file} does not sell in {line}: {closest}"
                ).format(
                    key=f"strategies[{i}].product",
                    file=tx_name,
                    line=line,
                    closest=_closest(s.product, known),
                ),
                file=str(plan_path),
                key=f"strategies[{i}].product",
                values=[s.product],
                fix=tr(
                    "Use a product of {line} in {file} ({products}); names must match exactly."
                ).format(line=line, file=tx_name, products=", ".join(known[:8]) or "-"),
            )
        )
    return problems
