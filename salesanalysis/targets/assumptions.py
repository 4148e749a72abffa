"""The plan's assumptions as a planner reads and edits them in step 03.

Three things live here:

- **The assumption table** (:func:`assumption_table`): every assumption the targets are made
  with, its value in words (``10.0%``, ``4,700.0万元``, names) and its explanation: the plan
  file's own comment on that key (:func:`plan_comments`), else a short standard description.
- **The literal cells** (:data:`ASSUMPTIONS`, :func:`literals`, :func:`seed_cells`,
  :func:`seed_notebook`): notebook 03 holds each assumption as a literal a planner types over
  (``revenue_growth = 0.1``). ``salesanalysis plan seed-notebook`` writes those cells from a
  plan file, with the plan's comments, and records the values it wrote in a ``seeded`` cell.
- **Applying them** (:func:`apply_literals`): a cell still holding its seeded value takes
  ``plan_file``'s value (so an unattended run uses ``plan.yaml`` as it is, whatever the cells
  were seeded from); a cell typed over wins. The edits are listed old -> new
  (:func:`edits_table`).

Plan comments are read without a YAML round-trip library: a ``# ...`` after a ``key:`` on the
same line is that key's comment, and comment-only lines indented under it continue it (see
:func:`plan_comments`). Keys inside lists (strategies, pins, tiers) are not read; a strategy's
explanation is its ``rationale``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from salesanalysis.errors import PlanError
from salesanalysis.i18n import N_, tr
from salesanalysis.targets.output import WORDS
from salesanalysis.targets.plan import KEY_NAMES, Plan

__all__ = [
    "ASSUMPTIONS",
    "Assumption",
    "Applied",
    "CELL_TAGS",
    "SEED_TAG",
    "apply_literals",
    "assumption_table",
    "describe_value",
    "edits_table",
    "literals",
    "plan_comments",
    "seed_cells",
    "seed_notebook",
    "seeded_values",
]


@dataclass(frozen=True)
class Assumption:
    """One literal of notebook 03.

    Attributes:
        name: the notebook variable (``revenue_growth``).
        key: the ``plan.yaml`` key it stands for (``targets.revenue.growth``).
        fmt: how its value reads: ``pct``, ``signed_pct``, ``money``, ``int``, ``number``,
            ``text``, ``months``, ``percentile``, ``strategies``, ``pins``, ``words`` (a code
            read through ``WORDS[words]``).
        label: what it is called on the page (an ``N_`` msgid).
        about: the standard explanation when the plan file has no comment (an ``N_`` msgid).
        cell: the literal cell it is written in (a key of :data:`CELL_TAGS`).
        group: assumptions applied together (a target's three ways, the key weights).
        words: for ``fmt="words"``, the key of :data:`~salesanalysis.targets.output.WORDS`
            whose words the value's code reads in (``capacity_policy``: ``hire`` -> "hire").
    """

    name: str
    key: str
    fmt: str
    label: str
    about: str
    cell: str
    group: str = ""
    words: str = ""


def _a(name: str, key: str, fmt: str, label: str, about: str, cell: str, group: str = ""):
    return Assumption(name, key, fmt, label, about, cell, group)


def _coded(name: str, key: str, label: str, about: str, words: str) -> Assumption:
    """A ``reps`` assumption whose value is one of the plan's codes, shown in words."""
    return Assumption(name, key, "words", label, about, "reps", words=words)


_TARGET_ABOUT = {
    "growth": N_("Growth over the 12 months before the cutoff."),
    "value": N_("A fixed figure for the fiscal year."),
    "forecast_percentile": N_("A percentile of the fiscal year's forecast."),
}
_MEASURE_LABEL = {
    "revenue": N_("Revenue target"),
    "customers": N_("Customer target"),
    "market_share": N_("Market share target"),
}


def _target_rows() -> list[Assumption]:
    rows = []
    short = {"growth": "growth", "value": "value", "forecast_percentile": "percentile"}
    for m in ("revenue", "customers", "market_share"):
        kinds = ("value", "growth", "forecast_percentile") if m == "market_share" else None
        for kind in kinds or ("growth", "value", "forecast_percentile"):
            fmt = {"growth": "signed_pct", "forecast_percentile": "percentile"}.get(kind)
            if fmt is None:
                fmt = {"revenue": "money", "customers": "int", "market_share": "pct"}[m]
            rows.append(
                _a(
                    f"{m}_{short[kind]}",
                    f"targets.{m}.{kind}",
                    fmt,
                    _MEASURE_LABEL[m],
                    _TARGET_ABOUT[kind],
                    "targets",
                    m,
                )
            )
    return rows


ASSUMPTIONS: tuple[Assumption, ...] = (
    _a(
        "fiscal_year",
        "fiscal_year",
        "text",
        N_("Fiscal year"),
        N_("The year the targets are for (a calendar year)."),
        "targets",
    ),
    _a(
        "plan_cutoff",
        "plan_cutoff",
        "text",
        N_("Plan cutoff"),
        N_("The last month of data the plan uses."),
        "targets",
    ),
    *_target_rows(),
    _a(
        "history_window_months",
        "allocation.history_window_months",
        "months",
        N_("History window"),
        N_("Months of history behind the historical share."),
        "allocation",
    ),
    *(
        _a(
            f"key_weight_{k}",
            f"allocation.key_weights.{k}",
            "pct",
            label,
            N_("Weight of this allocation key; the four weights add up to 100%."),
            "allocation",
            "key_weights",
        )
        for k, label in (
            ("history", N_("Allocation key weight: history")),
            ("forecast", N_("Allocation key weight: forecast")),
            ("potential", N_("Allocation key weight: market potential")),
            ("equal", N_("Allocation key weight: equal shares")),
        )
    ),
    _a(
        "potential_share",
        "allocation.potential_share",
        "pct",
        N_("Potential share"),
        N_("Market potential = market size x this share (also the base of the caps)."),
        "allocation",
    ),
    _a(
        "customer_tolerance",
        "allocation.customer_tolerance",
        "pct",
        N_("Customer tolerance"),
        N_("A region whose customer target departs from its base by more is flagged."),
        "allocation",
    ),
    _a(
        "strategies",
        "strategies",
        "strategies",
        N_("Strategies"),
        N_("Strategies change the mix, not the company total."),
        "constraints",
    ),
    _a(
        "pins",
        "pins",
        "pins",
        N_("Pins"),
        N_("Fixed annual targets for a cell or a roll-up."),
        "constraints",
    ),
    _a(
        "floor_vs_last_year",
        "floors.vs_last_year",
        "pct",
        N_("Floor vs last year"),
        N_("No cell below this share of its last-year revenue."),
        "constraints",
    ),
    _a(
        "cap_vs_potential",
        "caps.vs_potential",
        "pct",
        N_("Cap vs potential"),
        N_("No cell above this share of its market potential."),
        "constraints",
    ),
    _a(
        "cushion_pct",
        "cushion_pct",
        "pct",
        N_("Cushion"),
        N_("Rep targets add up to the company target plus this cushion."),
        "reps",
    ),
    _a(
        "ramp_months",
        "reps.ramp_months",
        "months",
        N_("Ramp-up months"),
        N_("Months for a new hire to reach full capacity."),
        "reps",
    ),
    _coded(
        "ramp_curve",
        "reps.ramp_curve",
        N_("Ramp-up curve"),
        N_("linear, step or s_curve."),
        "ramp_curve",
    ),
    _a(
        "ramp_start",
        "reps.ramp_start",
        "pct",
        N_("Ramp-up start"),
        N_("Capacity of a new hire in the first month."),
        "reps",
    ),
    _a(
        "productivity_weight",
        "reps.productivity_weight",
        "number",
        N_("Productivity weight"),
        N_("0 = capacity only; 1 = capacity x historical productivity."),
        "reps",
    ),
    _a(
        "load_flag_pct",
        "reps.load_flag_pct",
        "pct",
        N_("Load flag"),
        N_("Reps whose load is this far above or below the median are flagged."),
        "reps",
    ),
    _a(
        "load_band",
        "reps.load_band",
        "pct",
        N_("Load band"),
        N_("The band around the median load the capacity policy holds reps in."),
        "reps",
    ),
    _coded(
        "capacity_policy",
        "reps.capacity_policy",
        N_("Capacity policy"),
        N_("hire, rebalance or flag: what happens to a region outside the band."),
        "capacity_policy",
    ),
    _a(
        "book_weight",
        "reps.book_weight",
        "number",
        N_("Book weight"),
        N_("Within a region, 0 = capacity only; 1 = capacity x book index."),
        "reps",
    ),
    _coded(
        "rep_allocation",
        "reps.allocation",
        N_("Rep allocation"),
        N_("How a region's target is split over its reps."),
        "allocation",
    ),
    _coded(
        "phasing",
        "phasing",
        N_("Phasing"),
        N_("Months follow the history or the forecast seasonality."),
        "phasing",
    ),
    _a(
        "rounding_revenue",
        "rounding.revenue",
        "money_full",
        N_("Rounding of revenue"),
        N_("Revenue targets are whole multiples of this amount."),
        "reps",
    ),
    _a(
        "rounding_customers",
        "rounding.customers",
        "int",
        N_("Rounding of customers"),
        N_("Customer targets are whole multiples of this count."),
        "reps",
    ),
)
"""Every literal of notebook 03's assumption cells, in the order of the page."""

_BY_NAME = {a.name: a for a in ASSUMPTIONS}

CELL_TAGS = {
    "targets": "assumptions-targets",
    "allocation": "assumptions-allocation",
    "constraints": "assumptions-constraints",
    "reps": "assumptions-reps",
}
"""The tag of each literal cell (group of :data:`ASSUMPTIONS`) in notebook 03."""
SEED_TAG = "assumptions-seed"
"""The tag of the cell that records the values the literal cells were seeded with."""

_CELL_TITLES = {
    "targets": "1. Company targets: for each measure one of growth / value / percentile, the "
    "others None",
    "allocation": "2. Allocation keys: how the company target is split over regions, product "
    "lines and customer types (the weights add up to 1)",
    "constraints": "3. Strategies, pins, floors and caps",
    "reps": "4. Reps, cushion, months and rounding",
}


# --------------------------------------------------------------------------- plan comments

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")  # ideographs, CJK punctuation
_KEY_LINE = re.compile(r"^(?P<indent> *)(?P<dash>- +)?(?P<key>[A-Za-z_][\w]*)\s*:(?P<rest>.*)$")
_COMMENT_LINE = re.compile(r"^(?P<indent> *)#\s?(?P<text>.*)$")


def _split_comment(rest: str) -> tuple[str, str]:
    """The value part and the comment of what follows ``key:`` (a ``#`` inside quotes is
    not a comment)."""
    quote = ""
    for i, ch in enumerate(rest):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or rest[i - 1] in " \t"):
            return rest[:i].strip(), rest[i + 1 :].strip()
    return rest.strip(), ""


def _continue(text: str, more: str) -> str:
    """A comment continued on the next line: joined by a space, or without one where the
    break falls between Chinese characters (``且无策略`` + ``支撑时`` -> ``且无策略支撑时``)."""
    glued = _CJK.match(text[-1:]) and _CJK.match(more[:1])
    return text + ("" if glued else " ") + more


def plan_comments(path: str | Path | None) -> dict[str, str]:
    """The plan file's comments by key path (``targets.revenue``, ``reps.load_band``).

    A key's comment is the ``# ...`` after it on its line, continued by comment-only lines
    indented deeper than the key that follow it (joined by a space, or without one between
    Chinese characters). Keys inside lists are skipped. A missing or
    unreadable file gives no comments.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines() if path else []
    except (OSError, UnicodeDecodeError):
        return {}
    out: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (indent, key); "[]" marks a list item
    last: tuple[str, int] | None = None  # key path and indent of the last commented key
    for line in lines:
        c = _COMMENT_LINE.match(line)
        if c:
            if last and len(c["indent"]) > last[1] and c["text"].strip():
                out[last[0]] = _continue(out[last[0]], c["text"].strip())
            else:
                last = None
            continue
        m = _KEY_LINE.match(line)
        if not m:
            last = None
            continue
        indent = len(m["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if m["dash"]:
            stack.append((indent, "[]"))
            indent += len(m["dash"])
        path_ = [k for _, k in stack] + [m["key"]]
        stack.append((indent, m["key"]))
        _value, comment = _split_comment(m["rest"])
        last = None
        if "[]" not in path_ and comment:
            key = ".".join(path_)
            out[key] = comment
            last = (key, indent)
    return out


def _comment_for(a: Assumption, comments: Mapping[str, str]) -> str:
    """The plan's comment on an assumption's key, or on the key above it (``targets.revenue``
    for ``targets.revenue.growth``, ``floors`` for ``floors.vs_last_year``)."""
    parts = a.key.split(".")
    while parts:
        text = comments.get(".".join(parts))
        if text:
            return text
        parts.pop()
        if len(parts) == 1 and parts[0] in ("targets", "allocation", "reps"):
            break
    return ""


# --------------------------------------------------------------------------- values


def _get(data: Mapping[str, Any], key: str) -> Any:
    cur: Any = data
    for part in key.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


def literals(plan: Plan) -> dict[str, Any]:
    """The plan's value of every literal (:data:`ASSUMPTIONS`), as notebook 03 holds them."""
    data = plan.to_dict()
    out = {}
    for a in ASSUMPTIONS:
        v = _get(data, a.key)
        if isinstance(v, float) and v.is_integer() and a.fmt in ("money_full", "int", "money"):
            v = int(v)
        out[a.name] = v
    return out


def _segment_words(seg: Mapping[str, Any]) -> str:
    return tr(", ").join(str(v) for v in seg.values())


def describe_value(
    fmt: str, value: Any, currency: str = "CNY", words: Mapping[str, str] | None = None
) -> str:
    """A value as the page shows it (``10.0%``, ``4,700.0万元``, ``12 months``, names; with
    ``fmt="words"``, a code in the words of ``words``: ``hire`` -> "hire" / "招聘")."""
    from salesanalysis.report.formatting import money, number, pct

    if value is None:
        return tr("none")
    if fmt == "words":
        return tr(words[value]) if words and value in words else str(value)
    if fmt == "pct":
        return pct(value)
    if fmt == "signed_pct":
        return pct(value, signed=True)
    if fmt == "money":
        return money(value, currency)
    if fmt == "money_full":
        return money(value, currency, scale="")
    if fmt == "int":
        return number(value)
    if fmt == "number":
        return number(value, 2)
    if fmt == "months":
        return tr("{n} months").format(n=number(value))
    if fmt == "percentile":
        return tr("P{n} of the forecast").format(n=number(value))
    if fmt == "strategies":
        return "; ".join(str(s.get("name", "")) for s in value) or tr("none")
    if fmt == "pins":
        return "; ".join(_pin_words(p, currency) for p in value) or tr("none")
    return str(value)


def _pin_words(p: Mapping[str, Any], currency: str) -> str:
    from salesanalysis.report.formatting import money, number

    parts = []
    if p.get("revenue") is not None:
        parts.append(tr("revenue {amount}").format(amount=money(p["revenue"], currency)))
    if p.get("customers") is not None:
        parts.append(tr("customers {n}").format(n=number(p["customers"])))
    return tr("{segment}: {change}").format(
        segment=_segment_words(p.get("segment", {})), change=tr(", ").join(parts)
    )


_KIND_WORDS = {
    "price": N_("price {pct}"),
    "promotion": N_("volume {pct}"),
    "channel_shift": N_("moves {pct} to {to}"),
    "product": N_("{product} pushed, revenue {pct}"),
}


def _strategy_rows(plan: Plan) -> list[dict[str, str]]:
    from salesanalysis.report.formatting import pct

    rows = []
    for s in plan.strategies:
        to = _segment_words(s.to_dict_segment or {})
        change = tr(_KIND_WORDS[s.kind]).format(
            pct=pct(s.pct, signed=s.kind != "channel_shift"), to=to, product=s.product
        )
        rows.append(
            {
                "assumption": tr("Strategy: {name}").format(name=s.name),
                "value": tr("{segment}: {change}").format(
                    segment=_segment_words(s.segment_dict), change=change
                ),
                "explanation": s.rationale,
            }
        )
    return rows


def assumption_table(
    plan: Plan, comments: Mapping[str, str] | None = None, edited: Iterable[str] = ()
) -> pd.DataFrame:
    """Every assumption of the decomposition with its value in words and its explanation.

    Columns ``assumption, value, explanation``. A target's three ways make one row (the way in
    use); the key weights one row each; a strategy one row with its rationale; a pin one row.
    The explanation is the plan file's comment on the key (``comments``, see
    :func:`plan_comments`), else the standard description; for the assumptions named in
    ``edited`` (changed in the notebook, so the plan's comment describes another value), the
    standard description and "(edited in this notebook)".
    """
    comments = {k: v for k, v in (comments or {}).items()}
    for name in edited:
        a = _BY_NAME.get(name)
        if a is not None:
            comments[a.key] = tr(a.about) + " " + tr("(edited in this notebook)")
            if a.group in _MEASURE_LABEL:
                comments[f"targets.{a.group}"] = comments[a.key]
    data, cur = plan.to_dict(), plan.currency
    rows: list[dict[str, str]] = []
    for a in ASSUMPTIONS:
        value = _get(data, a.key)
        if a.group in _MEASURE_LABEL:
            if value is not None:  # the way in use (one per measure)
                rows.append(_row(a, value, _target_comments(a, comments), cur))
            elif _get(data, f"targets.{a.group}") is None and a.key.endswith(".growth"):
                rows.append(
                    {
                        "assumption": tr(a.label),
                        "value": tr("none"),
                        "explanation": tr("The plan sets no target for this measure."),
                    }
                )
            continue
        if a.name == "strategies":
            rows += _strategy_rows(plan) or [_row(a, [], comments, cur)]
            continue
        if a.name == "pins":
            rows += [_row(a, [p], comments, cur) for p in value] or [_row(a, [], comments, cur)]
            continue
        if a.name == "load_band" and value is None:
            value = plan.reps.band
        rows.append(_row(a, value, comments, cur))
    return pd.DataFrame(rows, columns=["assumption", "value", "explanation"])


def _target_comments(a: Assumption, comments: Mapping[str, str]) -> Mapping[str, str]:
    """A target's comment sits on ``targets.<measure>`` (``revenue: {growth: 0.10}  # ...``)."""
    own = comments.get(a.key) or comments.get(f"targets.{a.group}")
    return {a.key: own} if own else {}


def _describe(a: Assumption, value: Any, currency: str) -> str:
    """:func:`describe_value` of one assumption (its codes in words)."""
    return describe_value(a.fmt, value, currency, WORDS.get(a.words))


def _row(a: Assumption, value: Any, comments: Mapping[str, str], currency: str) -> dict[str, str]:
    return {
        "assumption": tr(a.label),
        "value": _describe(a, value, currency),
        "explanation": _comment_for(a, comments) or tr(a.about),
    }


# --------------------------------------------------------------------------- applying literals


@dataclass(frozen=True)
class Applied:
    """What the literal cells made of the plan.

    Attributes:
        plan: the plan used (``plan_file`` with the cells' edits), validated.
        edits: one row per changed assumption: ``name, assumption, plan_file, notebook``
            (values in words; :func:`edits_table`).
        stale: names of cells that still hold their seeded value while ``plan_file`` says
            something else (``plan_file``'s value was used).
    """

    plan: Plan
    edits: pd.DataFrame
    stale: tuple[str, ...]


def seeded_values(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The seeded values recorded in a notebook's namespace (``seeded``), or {} without."""
    seeded = namespace.get("seeded")
    return dict(seeded) if isinstance(seeded, Mapping) else {}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def apply_literals(plan: Plan, namespace: Mapping[str, Any]) -> Applied:
    """The plan a notebook's literal cells describe.

    For each literal of :data:`ASSUMPTIONS` in ``namespace`` (the notebook's ``globals()``):
    when it still holds the value recorded in ``seeded`` (the cell written by ``salesanalysis
    plan seed-notebook``), ``plan``'s own value is used; when it was typed over, the literal
    wins. A target's three ways and the four key weights go together: one edited, the whole
    group comes from the cells. A literal missing from the namespace takes the plan's value.

    Raises:
        PlanError: the edited values do not make a valid plan (the message names the
            notebook variable, e.g. ``revenue_growth``).
    """
    seeded = seeded_values(namespace)
    base = literals(plan)
    edited = {
        a.name
        for a in ASSUMPTIONS
        if a.name in namespace and not _same(namespace[a.name], seeded.get(a.name, base[a.name]))
    }
    groups = {a.group for a in ASSUMPTIONS if a.name in edited and a.group}
    edited |= {a.name for a in ASSUMPTIONS if a.group in groups and a.name in namespace}
    values = {n: (namespace[n] if n in edited else base[n]) for n in base}
    stale = tuple(
        a.name
        for a in ASSUMPTIONS
        if a.name in namespace
        and a.name not in edited
        and a.name in seeded
        and not _same(seeded[a.name], base[a.name])
    )
    used = _plan_from(plan, values)
    now = literals(used)
    rows = [
        {
            "name": a.name,
            "assumption": tr(a.label),
            "plan_file": _describe(a, base[a.name], plan.currency),
            "notebook": _describe(a, now[a.name], used.currency),
        }
        for a in ASSUMPTIONS
        if not _same(base[a.name], now[a.name])
    ]
    edits = pd.DataFrame(rows, columns=["name", "assumption", "plan_file", "notebook"])
    return Applied(used, edits, stale)


def _target(values: Mapping[str, Any], m: str) -> dict[str, Any] | None:
    names = {
        k: f"{m}_{s}"
        for k, s in (
            ("growth", "growth"),
            ("value", "value"),
            ("forecast_percentile", "percentile"),
        )
    }
    given = {k: values[n] for k, n in names.items() if values.get(n) is not None}
    if len(given) > 1:
        shown = ", ".join(names[k] for k in given)
        raise PlanError(
            tr("the {measure} target is set more than one way in the notebook ({shown})").format(
                measure=tr(_MEASURE_WORDS[m]), shown=shown
            ),
            fix=tr("keep one of {names} and set the others to None").format(
                names=", ".join(names.values())
            ),
        )
    return given or None


_MEASURE_WORDS = {
    "revenue": N_("revenue"),
    "customers": N_("customers"),
    "market_share": N_("market share"),
}


def _plan_from(plan: Plan, v: Mapping[str, Any]) -> Plan:
    """The plan with every section the literals describe replaced by them."""
    targets = {m: t for m in ("revenue", "customers", "market_share") if (t := _target(v, m))}
    if "revenue" not in targets:
        raise PlanError(
            tr("the notebook sets no revenue target"),
            fix=tr("set one of revenue_growth, revenue_value, revenue_percentile"),
        )
    return plan.with_changes(
        fiscal_year=v["fiscal_year"],
        plan_cutoff=v["plan_cutoff"],
        targets=targets,
        allocation={
            "history_window_months": v["history_window_months"],
            "key_weights": {k: v[f"key_weight_{k}"] for k in KEY_NAMES},
            "potential_share": v["potential_share"],
            "customer_tolerance": v["customer_tolerance"],
        },
        strategies=list(v["strategies"] or []),
        pins=list(v["pins"] or []),
        floors={"vs_last_year": v["floor_vs_last_year"]},
        caps={"vs_potential": v["cap_vs_potential"]},
        cushion_pct=v["cushion_pct"],
        reps={
            "ramp_months": v["ramp_months"],
            "ramp_curve": v["ramp_curve"],
            "ramp_start": v["ramp_start"],
            "productivity_weight": v["productivity_weight"],
            "load_flag_pct": v["load_flag_pct"],
            "load_band": v["load_band"],
            "capacity_policy": v["capacity_policy"],
            "book_weight": v["book_weight"],
            "allocation": v["rep_allocation"],
        },
        phasing=v["phasing"],
        rounding={"revenue": v["rounding_revenue"], "customers": v["rounding_customers"]},
    )


def edits_table(applied: Applied) -> pd.DataFrame:
    """The edits as the page shows them: ``assumption, plan_file, notebook`` (old -> new)."""
    return applied.edits[["assumption", "plan_file", "notebook"]]


# --------------------------------------------------------------------------- seeding


def _literal(v: Any, indent: int = 0) -> str:
    """A Python literal for a plan value, written to be read and typed over."""
    if v is None or isinstance(v, bool):
        return repr(v)
    if isinstance(v, int):
        return f"{v:_}" if abs(v) >= 10_000 else str(v)
    if isinstance(v, float):
        return _literal(int(v)) if v.is_integer() and abs(v) >= 1000 else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        if not v:
            return "[]"
        pad = " " * (indent + 4)
        items = "".join(f"{pad}{_literal(x, indent + 4)},\n" for x in v)
        return "[\n" + items + " " * indent + "]"
    return repr(v)


def seed_cells(
    plan: Plan, comments: Mapping[str, str] | None = None, source: str = ""
) -> dict[str, str]:
    """The source of each literal cell (by tag, :data:`CELL_TAGS` and :data:`SEED_TAG`) for
    ``plan``, each line ``name = value  # the plan's comment``."""
    comments = dict(comments or {})
    values = literals(plan)
    spec = plan.targets.to_dict()
    out: dict[str, str] = {}
    for cell, tag in CELL_TAGS.items():
        lines = [f"# {_CELL_TITLES[cell]}"]
        for a in (a for a in ASSUMPTIONS if a.cell == cell):
            text = _comment_for(a, comments) or a.about
            if a.group in _MEASURE_LABEL:  # the plan's comment belongs to the way in use
                kind = a.key.rsplit(".", 1)[1]
                in_use = kind in (spec.get(a.group) or {})
                text = (comments.get(f"targets.{a.group}") if in_use else None) or a.about
            text = " ".join(text.split())
            lhs = f"{a.name} = {_literal(values[a.name])}"
            if "\n" in lhs:  # a list: its comment above it
                lines += [f"# {text}", lhs]
            else:
                lines.append(f"{lhs}{' ' * max(1, 34 - len(lhs))}# {text}")
        out[tag] = "\n".join(lines)
    src = f" from {source}" if source else ""
    body = ",\n".join(f"    {json.dumps(k)}: {_literal(v, 4)}" for k, v in values.items())
    out[SEED_TAG] = (
        f"# Written by `salesanalysis plan seed-notebook`{src}: the values the cells above were\n"
        "# seeded with. Leave this cell as it is: a cell still at its seeded value takes\n"
        "# plan_file's value; a value you typed over wins (and is listed as an edit).\n"
        "seeded = {\n" + body + ",\n}"
    )
    return out


def seed_notebook(
    notebook: str | Path, plan_file: str | Path, source: str | None = None
) -> list[str]:
    """Write the literal cells of ``notebook`` (cells tagged :data:`CELL_TAGS`,
    :data:`SEED_TAG`) from ``plan_file``. Only those cells change; outputs are not written.
    Returns the tags of the cells rewritten.

    Raises:
        PlanError: the plan file is invalid, or the notebook has no assumption cells.
    """
    from salesanalysis.targets.plan import load_plan

    plan = load_plan(plan_file)
    if source is None:
        from salesanalysis.paths import REPO_DIR

        resolved = Path(plan_file).resolve()
        inside = resolved.is_relative_to(REPO_DIR.resolve())
        source = resolved.relative_to(REPO_DIR.resolve()).as_posix() if inside else str(plan_file)
    cells = seed_cells(plan, plan_comments(plan_file), source)
    path = Path(notebook)
    nb = json.loads(path.read_text(encoding="utf-8"))
    done = []
    for cell in nb.get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        for tag in tags:
            if tag in cells:
                cell["source"] = _source_lines(cells[tag])
                done.append(tag)
    if not done:
        raise PlanError(
            tr("{file} has no assumption cells (cells tagged {tags})").format(
                file=path.name, tags=", ".join(cells)
            ),
            fix=tr("seed notebooks/03_target_decomposition.ipynb, or a copy of it"),
        )
    path.write_text(json.dumps(nb, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return done


def _source_lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]
