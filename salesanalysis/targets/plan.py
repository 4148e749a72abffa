"""Plan assumptions: load, validate, edit and save ``plan.yaml``.

The plan is a small YAML file (see ``docs/ARCHITECTURE.md``). :func:`load_plan` reads it with
a safe loader (never evaluates anything; refuses YAML aliases and files over 1 MB, see
:mod:`salesanalysis.untrusted`), rejects unknown keys anywhere (naming the key's
path and the allowed keys), checks every value and returns a frozen :class:`Plan`.

Checks that need the data (an unknown region in a pin, pins above the total, ...) are made by
:mod:`salesanalysis.targets.decompose`, which raises a clear error naming the pin.

Planners edit assumptions in the notebook with :meth:`Plan.with_changes` and keep them as a
named scenario file with :func:`save_scenario`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from salesanalysis.errors import PlanError, Problem
from salesanalysis.i18n import tr
from salesanalysis.untrusted import load_settings_yaml

__all__ = [
    "DIMENSIONS",
    "MEASURES",
    "KEY_NAMES",
    "STRATEGY_KINDS",
    "RAMP_CURVES",
    "CAPACITY_POLICIES",
    "REP_ALLOCATIONS",
    "TargetSpec",
    "Targets",
    "KeyWeights",
    "Allocation",
    "Strategy",
    "Pin",
    "RepSettings",
    "ForecastSettings",
    "ReplanSettings",
    "ReportSettings",
    "IncentiveTier",
    "Incentives",
    "INCENTIVE_MEASURES",
    "Plan",
    "load_plan",
    "plan_from_dict",
    "save_plan",
    "save_scenario",
    "plan_changes",
]

DIMENSIONS = ("region", "product_line", "customer_type")
MEASURES = ("revenue", "customers", "market_share")
KEY_NAMES = ("history", "forecast", "potential", "equal")
STRATEGY_KINDS = ("price", "promotion", "channel_shift", "product")
RAMP_CURVES = ("linear", "step", "s_curve")
CAPACITY_POLICIES = ("hire", "rebalance", "flag")  # reps.capacity_policy
REP_ALLOCATIONS = ("capacity_and_book", "history_share", "equal_capacity")  # reps.allocation
PHASING = ("history", "forecast")
FORECAST_METHODS = ("default", "fast")  # the forecast engine's settings (forecast.engine.METHODS)
FORECAST_DETAILS = ("bottom", "cell")
MAX_ACCURACY_ORIGINS = 12
TARGET_KINDS = ("value", "growth", "forecast_percentile")
INCENTIVE_MEASURES = ("revenue", "revenue_customers")
WEIGHT_TOL = 1e-6
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class TargetSpec:
    """How one overall target is set: exactly one of ``value``, ``growth``, ``forecast_percentile``.

    ``growth`` is over the 12 months before the plan cutoff; ``forecast_percentile`` (1-99) is a
    percentile of the fiscal year's forecast.
    """

    value: float | None = None
    growth: float | None = None
    forecast_percentile: float | None = None

    @property
    def kind(self) -> str:
        """``"value"``, ``"growth"`` or ``"forecast_percentile"``."""
        for k in TARGET_KINDS:
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated TargetSpec has one kind")  # pragma: no cover

    @property
    def amount(self) -> float:
        """The number given for the chosen kind."""
        return float(getattr(self, self.kind))

    def describe(self, share: bool = False) -> str:
        """A short phrase for reports, e.g. ``growth +10.0% over the last 12 months``;
        ``share``: the value is a share (market share), shown in percent."""
        from salesanalysis.i18n import tr

        if self.kind == "value":
            a = self.amount
            value = f"{a:.1%}" if share else f"{a:,.0f}" if abs(a) >= 1000 else f"{a:,.4g}"
            return tr("fixed value {value}").format(value=value)
        if self.kind == "growth":
            return tr("growth {pct} over the last 12 months before the cutoff").format(
                pct=f"{self.amount:+.1%}"
            )
        return tr("P{percentile} of the fiscal-year forecast").format(
            percentile=f"{self.amount:g}"
        )

    def to_dict(self) -> dict[str, float]:
        return {self.kind: self.amount}


@dataclass(frozen=True)
class Targets:
    revenue: TargetSpec
    customers: TargetSpec | None = None
    market_share: TargetSpec | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"revenue": self.revenue.to_dict()}
        if self.customers is not None:
            out["customers"] = self.customers.to_dict()
        if self.market_share is not None:
            out["market_share"] = self.market_share.to_dict()
        return out


@dataclass(frozen=True)
class KeyWeights:
    """Weights of the allocation keys; non-negative, summing to 1."""

    history: float = 1.0
    forecast: float = 0.0
    potential: float = 0.0
    equal: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {k: float(getattr(self, k)) for k in KEY_NAMES}

    to_dict = as_dict


@dataclass(frozen=True)
class Allocation:
    history_window_months: int = 12
    key_weights: KeyWeights = field(default_factory=KeyWeights)
    potential_share: float = 0.20
    customer_tolerance: float = 0.10

    def to_dict(self) -> dict[str, Any]:
        return {
            "history_window_months": self.history_window_months,
            "key_weights": self.key_weights.to_dict(),
            "potential_share": self.potential_share,
            "customer_tolerance": self.customer_tolerance,
        }


@dataclass(frozen=True)
class Strategy:
    """A strategy adjustment for a segment.

    ``kind``: ``price`` (price change %), ``promotion`` (volume uplift %) or ``channel_shift``
    (moves ``pct`` of the segment's target to the segment ``to``) or ``product`` (a new or
    pushed ``product`` of the segment's product line: the segment's target grows by ``pct``,
    carried by that product). Strategies change the mix, not the company total (see
    :mod:`salesanalysis.targets.decompose`).
    """

    name: str
    segment: tuple[tuple[str, str], ...]
    kind: str
    pct: float
    rationale: str
    to: tuple[tuple[str, str], ...] | None = None
    owner: str = ""  # who carries the strategy out (optional)
    product: str = ""  # kind product: the product pushed (within the segment's product line)

    @property
    def segment_dict(self) -> dict[str, str]:
        return dict(self.segment)

    @property
    def to_dict_segment(self) -> dict[str, str] | None:
        return dict(self.to) if self.to is not None else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "segment": dict(self.segment),
            "kind": self.kind,
            "pct": self.pct,
            "rationale": self.rationale,
        }
        if self.to is not None:
            out["to"] = dict(self.to)
        if self.owner:
            out["owner"] = self.owner
        if self.product:
            out["product"] = self.product
        return out


@dataclass(frozen=True)
class Pin:
    """A fixed annual target for a cell or a roll-up (``segment`` fixes 1-3 dimensions)."""

    segment: tuple[tuple[str, str], ...]
    revenue: float | None = None
    customers: float | None = None

    @property
    def segment_dict(self) -> dict[str, str]:
        return dict(self.segment)

    @property
    def label(self) -> str:
        """``region=华东, product_line=泵`` (used in error messages)."""
        return ", ".join(f"{k}={v}" for k, v in self.segment)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"segment": dict(self.segment)}
        if self.revenue is not None:
            out["revenue"] = self.revenue
        if self.customers is not None:
            out["customers"] = self.customers
        return out


@dataclass(frozen=True)
class RepSettings:
    """``reps:``: capacity (ramp, productivity) and how targets are matched to it.

    Attributes:
        ramp_months, ramp_curve, ramp_start: a new hire's ramp (:mod:`~.capacity`).
        productivity_weight: w in effective capacity = capacity x productivity index ^ w.
        load_flag_pct: a rep is flagged when their target per unit of effective capacity is
            more than this above or below the median.
        load_band: the band (around the median target per unit of effective capacity) that
            ``capacity_policy`` holds every rep in; ``None`` = ``load_flag_pct``.
        capacity_policy: ``hire`` (what the team cannot carry goes to to-be-hired reps),
            ``rebalance`` (target moves between regions) or ``flag`` (only flagged).
        book_weight: within a region, a rep's share follows effective capacity x
            (1 - b + b x book index), b this weight (0 = capacity only).
        allocation: ``capacity_and_book`` (the above), ``history_share`` (reps share a
            region's targets by last year's revenue; no band) or ``equal_capacity`` (every
            rep the same target per unit of effective capacity).
    """

    ramp_months: int = 6
    ramp_curve: str = "linear"
    ramp_start: float = 0.25
    productivity_weight: float = 0.0
    load_flag_pct: float = 0.20
    load_band: float | None = None
    capacity_policy: str = "flag"
    book_weight: float = 0.0
    allocation: str = "capacity_and_book"

    @property
    def band(self) -> float:
        """The load band in force (``load_band``, else ``load_flag_pct``)."""
        return self.load_band if self.load_band is not None else self.load_flag_pct

    def to_dict(self) -> dict[str, Any]:
        return {
            "ramp_months": self.ramp_months,
            "ramp_curve": self.ramp_curve,
            "ramp_start": self.ramp_start,
            "productivity_weight": self.productivity_weight,
            "load_flag_pct": self.load_flag_pct,
            "load_band": self.load_band,
            "capacity_policy": self.capacity_policy,
            "book_weight": self.book_weight,
            "allocation": self.allocation,
        }


@dataclass(frozen=True)
class ForecastSettings:
    """``forecast:``: the forecast step's settings (step 02's notebook parameters take these as
    their defaults; a parameter set explicitly, e.g. ``--param accuracy_origins=0``, wins).

    Attributes:
        horizon: months to forecast (1-60).
        levels: interval levels in percent (must include 80).
        accuracy_origins: earlier origins of the check of reconciled against unreconciled
            forecasts (0 = skip it; a short history gets fewer).
        method: the engine setting, ``default`` or ``fast`` (for very many series).
        detail: ``bottom`` (down to rep x cell) or ``cell`` (cells and reps).
    """

    horizon: int = 12
    levels: tuple[int, ...] = (80, 95)
    accuracy_origins: int = 1
    method: str = "default"
    detail: str = "bottom"

    def to_dict(self) -> dict[str, Any]:
        return {
            "horizon": self.horizon,
            "levels": list(self.levels),
            "accuracy_origins": self.accuracy_origins,
            "method": self.method,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ReplanSettings:
    """``replan:``: the bounds of the review's re-planning (step 04, revised targets).

    Attributes:
        max_change: a unit's (rep x segment's) revised remaining target stays within
            ``+/- max_change`` of its planned remaining target (0-1; 0.30 = +/-30%); a rep's
            total, the sum of its units, is then within the same bounds.
        min_chance: a unit or rep whose probability of reaching its full-year target is under
            this (0-1) never gets a higher remaining target than planned; its remainder may be
            lowered toward its landing forecast (within ``max_change``).
    """

    max_change: float = 0.30
    min_chance: float = 0.10

    def to_dict(self) -> dict[str, Any]:
        return {"max_change": self.max_change, "min_chance": self.min_chance}


@dataclass(frozen=True)
class ReportSettings:
    """``report:``: how the reports read.

    Attributes:
        language: ``zh`` (the default: headings, sentences, tables, charts in Chinese) or ``en``.
        units: every amount of the report in one format: ``元`` (in full, with thousands
            separators), ``万`` or ``亿`` (also written ``yuan``, ``wan``, ``yi``); the default
            is 万 in Chinese and in full in English.
    """

    language: str = "zh"
    units: str | None = None

    @property
    def money_units(self) -> str:
        """The unit amounts are shown in: the setting, or the language's default."""
        return self.units or ("万" if self.language == "zh" else "元")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"language": self.language}
        if self.units is not None:
            out["units"] = self.units
        return out


@dataclass(frozen=True)
class IncentiveTier:
    """One band of attainment: from ``start`` up to ``end`` (None = no upper end) the
    commission is the base rate x ``rate`` (below 1 a decelerator, above 1 an accelerator)."""

    start: float
    end: float | None
    rate: float

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"from": self.start, "rate": self.rate}
        if self.end is not None:
            out["to"] = self.end
        return out


@dataclass(frozen=True)
class Incentives:
    """The commission plan (``incentives:``); the payout is computed by
    :mod:`salesanalysis.execution.incentives`.

    ``base_rate``: commission as a share of the target at 100% attainment; ``tiers``: bands of
    attainment, contiguous from 0, each paying the base rate x its ``rate`` on the attainment
    inside it (marginal, like tax brackets, so the payout is continuous); ``cap``: the payout
    is at most this multiple of the on-target payout (None = no cap); ``measure``: ``revenue``
    or ``revenue_customers`` (attainment = the weighted mean of both attainments).
    """

    base_rate: float
    tiers: tuple[IncentiveTier, ...]
    cap: float | None = None
    measure: str = "revenue"
    weights: tuple[tuple[str, float], ...] = (("revenue", 1.0),)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "base_rate": self.base_rate,
            "tiers": [t.to_dict() for t in self.tiers],
            "cap": self.cap,
            "measure": self.measure,
        }
        if self.measure != "revenue":
            out["weights"] = dict(self.weights)
        return out


@dataclass(frozen=True)
class Plan:
    """The validated plan assumptions (immutable; edit with :meth:`with_changes`)."""

    fiscal_year: int
    plan_cutoff: str
    targets: Targets
    currency: str = "CNY"
    name: str = "plan"
    allocation: Allocation = field(default_factory=Allocation)
    strategies: tuple[Strategy, ...] = ()
    pins: tuple[Pin, ...] = ()
    floor_vs_last_year: float | None = None
    cap_vs_potential: float | None = None
    cushion_pct: float = 0.0
    reps: RepSettings = field(default_factory=RepSettings)
    phasing: str = "history"
    rounding_revenue: float = 1000.0
    rounding_customers: int = 1
    forecast: ForecastSettings = field(default_factory=ForecastSettings)
    replan: ReplanSettings = field(default_factory=ReplanSettings)
    incentives: Incentives | None = None
    report: ReportSettings = field(default_factory=ReportSettings)
    source: str | None = field(default=None, compare=False)

    # ----------------------------------------------------------------- derived values
    @property
    def cutoff_period(self):  # -> pd.Period, imported lazily to keep this module light
        import pandas as pd

        return pd.Period(self.plan_cutoff, freq="M")

    def to_dict(self) -> dict[str, Any]:
        """The plan as plain data, with the same keys as ``plan.yaml`` (round-trips)."""
        out: dict[str, Any] = {
            "name": self.name,
            "fiscal_year": self.fiscal_year,
            "plan_cutoff": self.plan_cutoff,
            "currency": self.currency,
            "targets": self.targets.to_dict(),
            "allocation": self.allocation.to_dict(),
            "strategies": [s.to_dict() for s in self.strategies],
            "pins": [p.to_dict() for p in self.pins],
            "floors": {"vs_last_year": self.floor_vs_last_year},
            "caps": {"vs_potential": self.cap_vs_potential},
            "cushion_pct": self.cushion_pct,
            "reps": self.reps.to_dict(),
            "phasing": self.phasing,
            "rounding": {"revenue": self.rounding_revenue, "customers": self.rounding_customers},
            "forecast": self.forecast.to_dict(),
            "replan": self.replan.to_dict(),
            "report": self.report.to_dict(),
        }
        if self.incentives is not None:
            out["incentives"] = self.incentives.to_dict()
        return out

    def with_changes(self, **sections: Any) -> Plan:
        """A new, re-validated plan with whole top-level sections replaced.

        Example: ``plan.with_changes(cushion_pct=0.03, allocation={...})``. Each keyword is a
        top-level key of ``plan.yaml`` and replaces that section entirely.
        """
        data = self.to_dict()
        for key, value in sections.items():
            if key not in _TOP_KEYS:
                raise PlanError(
                    tr("unknown plan section '{key}'").format(key=key),
                    fix=tr("use one of: {keys}").format(keys=", ".join(sorted(_TOP_KEYS))),
                )
            data[key] = _plain(value)
        return plan_from_dict(data, source=self.source)


# --------------------------------------------------------------------------- validation

_TOP_KEYS = {
    "name",
    "fiscal_year",
    "plan_cutoff",
    "currency",
    "targets",
    "allocation",
    "strategies",
    "pins",
    "floors",
    "caps",
    "cushion_pct",
    "reps",
    "phasing",
    "rounding",
    "forecast",
    "replan",
    "incentives",
    "report",
}
_REQUIRED_TOP = ("fiscal_year", "plan_cutoff", "targets")


class _Checker:
    """Collects every problem in the plan so they can be reported at once."""

    def __init__(self, source: str | None):
        self.source = source
        self.problems: list[Problem] = []

    def add(self, path: str, message: str, fix: str | None = None, value: Any = None) -> None:
        values = [] if value is None else [value]
        self.problems.append(
            Problem(message=message, file=self.source, key=path or None, fix=fix, values=values)
        )

    def raise_problems(self) -> None:
        """Raise one :class:`PlanError` listing every problem found (if any were)."""
        if not self.problems:
            return
        n = len(self.problems)
        msg = (
            tr("{n} problem(s) found in the plan assumptions in {file}")
            if self.source
            else tr("{n} problem(s) found in the plan assumptions")
        )
        raise PlanError(
            msg.format(n=n, file=self.source),
            problems=self.problems,
            fix=tr("edit the plan file (see data/sample/plan.yaml and docs/ARCHITECTURE.md)"),
        )

    def mapping(self, value: Any, path: str, allowed: set[str] | tuple[str, ...]) -> dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(
                path, tr("'{path}' must be a mapping (key: value)").format(path=path), value=value
            )
            return {}
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or k not in allowed:
                where = f"{path}.{k}" if path else str(k)
                self.add(
                    where,
                    tr("unknown key '{key}'").format(key=where),
                    fix=tr("allowed keys here: {keys}").format(keys=", ".join(sorted(allowed))),
                )
            else:
                out[k] = v
        return out

    def number(
        self,
        value: Any,
        path: str,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        integer: bool = False,
        default: float | None = None,
    ) -> float | None:
        if value is None:
            return default
        ok_type = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok_type or not math.isfinite(float(value)):
            self.add(path, tr("'{path}' must be a number").format(path=path), value=value)
            return default
        v = float(value)
        if integer and not v.is_integer():
            self.add(path, tr("'{path}' must be a whole number").format(path=path), value=value)
            return default
        if lo is not None and (v < lo or (lo_open and v == lo)):
            rel = ">" if lo_open else ">="
            msg = tr("'{path}' must be {rel} {lo}").format(path=path, rel=rel, lo=f"{lo:g}")
            self.add(path, msg, value=value)
            return default
        if hi is not None and v > hi:
            self.add(
                path, tr("'{path}' must be <= {hi}").format(path=path, hi=f"{hi:g}"), value=value
            )
            return default
        return int(v) if integer else v

    def choice(self, value: Any, path: str, choices: tuple[str, ...], default: str) -> str:
        if value is None:
            return default
        if value not in choices:
            msg = tr("'{path}' must be one of: {choices}")
            self.add(path, msg.format(path=path, choices=", ".join(choices)), value=value)
            return default
        return str(value)

    def text(self, value: Any, path: str, default: str | None = None) -> str | None:
        if value is None:
            return default
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.add(path, tr("'{path}' must be text").format(path=path), value=value)
            return default
        return str(value)

    def segment(self, value: Any, path: str) -> tuple[tuple[str, str], ...] | None:
        if value is None:
            self.add(path, tr("'{path}' is required (e.g. {{region: 华东}})").format(path=path))
            return None
        if not isinstance(value, Mapping):
            msg = tr("'{path}' must be a mapping such as {{region: 华东}}").format(path=path)
            self.add(path, msg, value=value)
            return None
        if not value:
            msg = tr("'{path}' must name at least one of: {dims}")
            self.add(path, msg.format(path=path, dims=", ".join(DIMENSIONS)))
            return None
        seg = self.mapping(value, path, DIMENSIONS)
        if len(seg) != len(value):
            return None
        out = []
        for dim in DIMENSIONS:  # canonical order
            if dim in seg:
                label = seg[dim]
                if not isinstance(label, str | int) or isinstance(label, bool) or label == "":
                    key = f"{path}.{dim}"
                    self.add(key, tr("'{key}' must be a label").format(key=key), value=label)
                    return None
                out.append((dim, str(label)))
        return tuple(out)


# --------------------------------------------------------------------------- section validators
#
# One validator per section of plan.yaml. Each takes the raw section (as read from YAML) and
# the checker ``c`` that collects the problems (``c.problems``, each with the key path and a
# fix), reports everything wrong with that section, and returns the typed piece: ``None`` or the
# documented default where the section is invalid. :func:`plan_from_dict` calls them in a fixed
# order, which is the order in which problems are reported.


def _check_top_level(data: Any, c: _Checker) -> dict[str, Any]:
    """The file as a whole: a mapping with known top-level keys and the required ones.

    Raises:
        PlanError: the data is not a mapping at all (nothing else can be checked).
    """
    if not isinstance(data, Mapping):
        raise PlanError(
            tr("the plan file must be a YAML mapping of keys to values"),
            problems=[Problem(tr("the file is empty or not a mapping"), file=c.source)],
            fix=tr("start from data/sample/plan.yaml"),
        )
    top = c.mapping(data, "", _TOP_KEYS)
    for key in _REQUIRED_TOP:
        if top.get(key) is None:
            c.add(key, tr("'{key}' is required").format(key=key))
    return top


def _check_fiscal_year(raw: Any, c: _Checker) -> int | None:
    """``fiscal_year``: a whole year from 1990 to 2200."""
    year = c.number(raw, "fiscal_year", lo=1990, hi=2200, integer=True)
    return None if year is None else int(year)


def _check_plan_cutoff(raw: Any, fiscal_year: int | None, c: _Checker) -> str | None:
    """``plan_cutoff``: a month ``YYYY-MM`` that leaves at least one month of ``fiscal_year``."""
    if raw is None:
        return None
    s = str(raw).strip()
    m = _MONTH_RE.match(s)
    if not m or not 1 <= int(m.group(2)) <= 12:
        c.add(
            "plan_cutoff",
            tr("'plan_cutoff' must be a month written YYYY-MM"),
            value=raw,
            fix=tr('quote it: plan_cutoff: "2025-12"'),
        )
        return None
    if fiscal_year is not None and (int(s[:4]), int(s[5:])) >= (int(fiscal_year), 12):
        c.add(
            "plan_cutoff",
            tr("plan_cutoff {cutoff} leaves no month of fiscal year {year} to plan").format(
                cutoff=s, year=fiscal_year
            ),
            value=s,
            fix=tr('use a cutoff before {year}-12, e.g. "{before}-12"').format(
                year=fiscal_year, before=int(fiscal_year) - 1
            ),
        )
    return s


def _check_targets(raw: Any, c: _Checker) -> Targets | None:
    """``targets``: how each measure's overall target is set; ``revenue`` is required.

    Returns None when the revenue target is missing or invalid.
    """
    tdict = c.mapping(raw, "targets", MEASURES)
    specs: dict[str, TargetSpec | None] = {}
    for measure in MEASURES:
        if measure in tdict:
            specs[measure] = _check_target_spec(tdict[measure], f"targets.{measure}", measure, c)
    if raw is not None and "revenue" not in tdict:
        c.add(
            "targets.revenue",
            tr("'targets.revenue' is required"),
            fix=tr("e.g. {example}").format(example="revenue: {growth: 0.10}"),
        )
    revenue = specs.get("revenue")
    if revenue is None:
        return None
    return Targets(
        revenue=revenue, customers=specs.get("customers"), market_share=specs.get("market_share")
    )


def _check_target_spec(raw: Any, path: str, measure: str, c: _Checker) -> TargetSpec | None:
    """One measure's target (``targets.<measure>``): exactly one of value / growth /
    forecast_percentile; a market share value is at most 1."""
    d = c.mapping(raw, path, TARGET_KINDS)
    if not isinstance(raw, Mapping):
        if raw is None:
            c.add(
                path,
                tr("'{key}' is required").format(key=path),
                fix=tr("e.g. {example}").format(example="revenue: {growth: 0.10}"),
            )
        return None
    given = [k for k in TARGET_KINDS if d.get(k) is not None]
    if len(given) != 1:
        c.add(
            path,
            tr(
                "'{path}' must have exactly one of value / growth / forecast_percentile "
                "(found: {found})"
            ).format(path=path, found=", ".join(given) or tr("none")),
            fix=tr("e.g. {example}").format(example=f"{measure}: {{growth: 0.10}}"),
        )
        return None
    kind = given[0]
    if kind == "value":
        hi = 1.0 if measure == "market_share" else None
        v = c.number(d[kind], f"{path}.value", lo=0.0, hi=hi)
        return None if v is None else TargetSpec(value=v)
    if kind == "growth":
        v = c.number(d[kind], f"{path}.growth", lo=-1.0)
        return None if v is None else TargetSpec(growth=v)
    v = c.number(d[kind], f"{path}.forecast_percentile", lo=1.0, hi=99.0)
    return None if v is None else TargetSpec(forecast_percentile=v)


def _check_allocation(raw: Any, c: _Checker) -> Allocation:
    """``allocation``: history window (1-120 months), key weights, potential share (0-1],
    the tolerance of a region's customer target around its base x (1 + growth) (0-1)."""
    d = c.mapping(
        raw,
        "allocation",
        ("history_window_months", "key_weights", "potential_share", "customer_tolerance"),
    )
    window = c.number(
        d.get("history_window_months"),
        "allocation.history_window_months",
        lo=1,
        hi=120,
        integer=True,
        default=12,
    )
    key_weights = _check_key_weights(d.get("key_weights"), c)
    potential_share = c.number(
        d.get("potential_share"),
        "allocation.potential_share",
        lo=0.0,
        hi=1.0,
        lo_open=True,
        default=0.20,
    )
    tol = c.number(
        d.get("customer_tolerance"), "allocation.customer_tolerance", lo=0.0, hi=1.0, default=0.10
    )
    return Allocation(
        history_window_months=int(window or 12),
        key_weights=key_weights,
        potential_share=float(potential_share or 0.20),
        customer_tolerance=float(0.10 if tol is None else tol),
    )


def _check_key_weights(raw: Any, c: _Checker) -> KeyWeights:
    """``allocation.key_weights``: non-negative weights summing to 1 (keys not given weigh 0;
    no section at all gives the defaults)."""
    kwd = c.mapping(raw, "allocation.key_weights", KEY_NAMES)
    weights: dict[str, float] = {}
    weights_ok = True
    for k in KEY_NAMES:
        if k in kwd:
            value = kwd[k]
            if isinstance(value, float) and -1e-12 < value < 0:  # float noise, computed weight
                value = 0.0
            v = c.number(value, f"allocation.key_weights.{k}", lo=0.0)
            if v is None:
                weights_ok = False
            weights[k] = v if v is not None else 0.0
        else:
            weights[k] = 0.0
    if raw is None:
        return KeyWeights()
    if weights_ok and isinstance(raw, Mapping):
        total = sum(weights.values())
        if abs(total - 1.0) > WEIGHT_TOL:
            c.add(
                "allocation.key_weights",
                tr("allocation key weights must sum to 1; they sum to {total}").format(
                    total=f"{total:.6g}"
                ),
                value=dict(kwd),
                fix=tr(
                    "adjust the weights of history / forecast / potential / equal so they "
                    "add up to 1"
                ),
            )
    return KeyWeights(**weights)


def _check_strategies(raw: Any, c: _Checker) -> tuple[Strategy, ...]:
    """``strategies``: a list of strategy adjustments with distinct names (the valid ones are
    returned)."""
    if raw is not None and not isinstance(raw, list):
        c.add("strategies", tr("'{key}' must be a list").format(key="strategies"))
        return ()
    seen_names: set[str] = set()
    checked = [
        _check_strategy(item, f"strategies[{i}]", seen_names, c)
        for i, item in enumerate(raw or [])
    ]
    return tuple(s for s in checked if s is not None)


_STRATEGY_KEYS = ("name", "segment", "kind", "pct", "rationale", "to", "owner", "product")


def _check_strategy(raw: Any, p: str, seen_names: set[str], c: _Checker) -> Strategy | None:
    """One strategy ``p`` (``strategies[i]``). ``seen_names`` holds the names of the earlier
    strategies; this one's name is added to it."""
    sd = c.mapping(raw, p, _STRATEGY_KEYS)
    if not isinstance(raw, Mapping):
        return None
    name = c.text(sd.get("name"), f"{p}.name")
    if not name:
        c.add(f"{p}.name", tr("'{key}' is required").format(key=f"{p}.name"))
    elif name in seen_names:
        msg = tr("strategy name '{name}' is used twice").format(name=name)
        c.add(f"{p}.name", msg, value=name)
    seen_names.add(name or "")
    seg = c.segment(sd.get("segment"), f"{p}.segment")
    kind = c.choice(sd.get("kind"), f"{p}.kind", STRATEGY_KINDS, "")
    if sd.get("kind") is None:
        msg = tr("'{key}' is required ({choices})")
        c.add(f"{p}.kind", msg.format(key=f"{p}.kind", choices=", ".join(STRATEGY_KINDS)))
    lo = 0.0 if kind in ("channel_shift", "product") else -0.99
    hi = 1.0 if kind == "channel_shift" else None
    pct = c.number(sd.get("pct"), f"{p}.pct", lo=lo, hi=hi)
    if sd.get("pct") is None:
        c.add(f"{p}.pct", tr("'{key}' is required (e.g. 0.03 for +3%)").format(key=f"{p}.pct"))
    rationale = c.text(sd.get("rationale"), f"{p}.rationale")
    owner = c.text(sd.get("owner"), f"{p}.owner", default="") or ""
    if not rationale:
        c.add(
            f"{p}.rationale",
            tr("'{key}' is required: say why, it is printed beside the numbers it changes").format(
                key=f"{p}.rationale"
            ),
        )
    to = None
    if kind == "channel_shift":
        to = c.segment(sd.get("to"), f"{p}.to")
        if to is not None and seg is not None and to == seg:
            c.add(f"{p}.to", tr("a channel shift must move revenue to a different segment"))
    elif sd.get("to") is not None:
        msg = tr("'{key}' is only used with kind: channel_shift").format(key=f"{p}.to")
        c.add(f"{p}.to", msg)
    product = _check_strategy_product(sd, p, kind, seg, c)
    if not (name and seg and kind and pct is not None and rationale):
        return None
    if (kind == "channel_shift" and not to) or (kind == "product" and not product):
        return None
    return Strategy(
        name=name,
        segment=seg,
        kind=kind,
        pct=pct,
        rationale=rationale,
        to=to,
        owner=owner,
        product=product,
    )


def _check_strategy_product(sd: Mapping, p: str, kind: str, seg: tuple | None, c: _Checker) -> str:
    """``product`` of a strategy: required with kind product (whose segment names a product
    line), not used with the other kinds."""
    product = c.text(sd.get("product"), f"{p}.product", default="") or ""
    if kind == "product":
        if not product:
            c.add(
                f"{p}.product",
                tr("'{key}' is required with kind: product (the product pushed)").format(
                    key=f"{p}.product"
                ),
            )
        if seg is not None and "product_line" not in dict(seg):
            c.add(
                f"{p}.segment",
                tr("a product strategy's segment must name the product's product_line"),
            )
    elif sd.get("product") is not None:
        c.add(f"{p}.product", tr("'{key}.product' is only used with kind: product").format(key=p))
    return product


def _check_pins(raw: Any, c: _Checker) -> tuple[Pin, ...]:
    """``pins``: a list of fixed annual targets, each segment pinned once (the valid ones are
    returned)."""
    if raw is not None and not isinstance(raw, list):
        c.add("pins", tr("'{key}' must be a list").format(key="pins"))
        return ()
    seen_segments: set[tuple] = set()
    checked = [
        _check_pin(item, f"pins[{i}]", seen_segments, c) for i, item in enumerate(raw or [])
    ]
    return tuple(pin for pin in checked if pin is not None)


def _check_pin(raw: Any, p: str, seen_segments: set[tuple], c: _Checker) -> Pin | None:
    """One pin ``p`` (``pins[i]``): a segment and a revenue and/or customer target.
    ``seen_segments`` holds the segments of the earlier pins; this one's is added to it."""
    pd_ = c.mapping(raw, p, ("segment", "revenue", "customers"))
    if not isinstance(raw, Mapping):
        return None
    seg = c.segment(pd_.get("segment"), f"{p}.segment")
    rev = c.number(pd_.get("revenue"), f"{p}.revenue", lo=0.0)
    cust = c.number(pd_.get("customers"), f"{p}.customers", lo=0.0, integer=True)
    if pd_.get("revenue") is None and pd_.get("customers") is None:
        c.add(p, tr("'{key}' must fix revenue and/or customers").format(key=p))
    if seg is None:
        return None
    if seg in seen_segments:
        msg = tr("segment {segment} is pinned twice").format(segment=dict(seg))
        c.add(f"{p}.segment", msg, value=dict(seg))
    seen_segments.add(seg)
    if rev is None and cust is None:
        return None
    return Pin(segment=seg, revenue=rev, customers=None if cust is None else float(cust))


def _check_floors(raw: Any, c: _Checker) -> float | None:
    """``floors.vs_last_year``: the lowest target of a cell vs its last-year revenue (>= 0)."""
    d = c.mapping(raw, "floors", ("vs_last_year",))
    return c.number(d.get("vs_last_year"), "floors.vs_last_year", lo=0.0)


def _check_caps(raw: Any, c: _Checker) -> float | None:
    """``caps.vs_potential``: the highest target of a cell vs its potential (> 0)."""
    d = c.mapping(raw, "caps", ("vs_potential",))
    return c.number(d.get("vs_potential"), "caps.vs_potential", lo=0.0, lo_open=True)


def _check_cushion(raw: Any, c: _Checker) -> float:
    """``cushion_pct``: the extra share on rep targets, 0-1 (default 0)."""
    return float(c.number(raw, "cushion_pct", lo=0.0, hi=1.0, default=0.0))


def _check_reps(raw: Any, c: _Checker) -> RepSettings:
    """``reps``: ramp-up of new hires, productivity blend, the load flag and band, the capacity
    policy, the book weight and the allocation method."""
    rd = c.mapping(raw, "reps", tuple(RepSettings().to_dict()))

    def num(key: str, default: float | None, **kw: Any) -> float | None:
        v = c.number(rd.get(key), f"reps.{key}", default=default, **kw)
        return None if v is None else float(v)

    band = num("load_band", None, lo=0.0, hi=0.9, lo_open=True)
    return RepSettings(
        ramp_months=int(num("ramp_months", 6, lo=0, hi=60, integer=True) or 0),
        ramp_curve=c.choice(rd.get("ramp_curve"), "reps.ramp_curve", RAMP_CURVES, "linear"),
        ramp_start=float(num("ramp_start", 0.25, lo=0.0, hi=1.0) or 0.0),
        productivity_weight=float(num("productivity_weight", 0.0, lo=0.0, hi=1.0) or 0.0),
        load_flag_pct=float(num("load_flag_pct", 0.20, lo=0.0, lo_open=True) or 0.20),
        load_band=band,
        capacity_policy=c.choice(
            rd.get("capacity_policy"), "reps.capacity_policy", CAPACITY_POLICIES, "flag"
        ),
        book_weight=float(num("book_weight", 0.0, lo=0.0, hi=1.0) or 0.0),
        allocation=c.choice(
            rd.get("allocation"), "reps.allocation", REP_ALLOCATIONS, "capacity_and_book"
        ),
    )


def _check_phasing(raw: Any, c: _Checker) -> str:
    """``phasing``: how annual targets are spread over months (``history`` or ``forecast``)."""
    return c.choice(raw, "phasing", PHASING, "history")


def _check_rounding(raw: Any, c: _Checker) -> tuple[float, int]:
    """``rounding``: the revenue unit (> 0, default 1000) and the customer unit (whole, >= 1)."""
    d = c.mapping(raw, "rounding", ("revenue", "customers"))
    revenue = c.number(d.get("revenue"), "rounding.revenue", lo=0.0, lo_open=True, default=1000.0)
    customers = c.number(d.get("customers"), "rounding.customers", lo=1, integer=True, default=1)
    return float(revenue), int(customers)


def _check_forecast(raw: Any, c: _Checker) -> ForecastSettings:
    """``forecast``: the horizon (1-60 months), the interval levels, the accuracy check's
    origins (0-12), the engine method (default | fast) and the detail (bottom | cell)."""
    fd = c.mapping(raw, "forecast", ("horizon", "levels", "accuracy_origins", "method", "detail"))
    horizon = c.number(
        fd.get("horizon"), "forecast.horizon", lo=1, hi=60, integer=True, default=12
    )
    levels = _check_levels(fd.get("levels", [80, 95]), c)
    origins = c.number(
        fd.get("accuracy_origins"),
        "forecast.accuracy_origins",
        lo=0,
        hi=MAX_ACCURACY_ORIGINS,
        integer=True,
        default=1,
    )
    return ForecastSettings(
        horizon=int(horizon),
        levels=levels,
        accuracy_origins=int(origins),
        method=c.choice(fd.get("method"), "forecast.method", FORECAST_METHODS, "default"),
        detail=c.choice(fd.get("detail"), "forecast.detail", FORECAST_DETAILS, "bottom"),
    )


def _check_replan(raw: Any, c: _Checker) -> ReplanSettings:
    """``replan``: the re-planning bounds, ``max_change`` (0-1, default 0.30) and
    ``min_chance`` (0-1, default 0.10)."""
    d = c.mapping(raw, "replan", ("max_change", "min_chance"))
    max_change = c.number(d.get("max_change"), "replan.max_change", lo=0.0, hi=1.0, default=0.30)
    min_chance = c.number(d.get("min_chance"), "replan.min_chance", lo=0.0, hi=1.0, default=0.10)
    return ReplanSettings(max_change=float(max_change), min_chance=float(min_chance))


def _check_report(raw: Any, c: _Checker) -> ReportSettings:
    """``report``: ``language`` (zh | en, default zh) and ``units`` (元 | 万 | 亿)."""
    from salesanalysis.i18n import LANGUAGES, UNITS

    d = c.mapping(raw, "report", ("language", "units"))
    lang = c.choice(d.get("language"), "report.language", LANGUAGES, LANGUAGES[0])
    units = d.get("units")
    if units is not None and str(units) not in UNITS:
        c.add(
            "report.units",
            tr("'report.units' must be one of {choices}").format(choices=", ".join(UNITS)),
            fix=tr("write units: 万 (or 亿, or 元 for amounts in full)"),
            value=units,
        )
        units = None
    return ReportSettings(language=lang, units=None if units is None else str(units))


def _check_levels(raw: Any, c: _Checker) -> tuple[int, ...]:
    """``forecast.levels``: a non-empty list of whole percentages 1-99 that includes 80 (the
    valid ones are returned)."""
    if not isinstance(raw, list) or not raw:
        msg = tr("'forecast.levels' must be a list such as [80, 95]")
        c.add("forecast.levels", msg, value=raw)
        return ()
    levels: list[int] = []
    for j, lv in enumerate(raw):
        v = c.number(lv, f"forecast.levels[{j}]", lo=1, hi=99, integer=True)
        if v is not None:
            levels.append(int(v))
    if 80 not in levels and len(levels) == len(raw):
        c.add(
            "forecast.levels",
            tr(
                "'forecast.levels' must include 80 (the targets' feasibility uses the 80% interval)"
            ),
            value=raw,
        )
    return tuple(levels)


def _check_currency(raw: Any, c: _Checker) -> str:
    """``currency``: a label (default CNY)."""
    return str(c.text(raw, "currency", default="CNY"))


def _check_name(raw: Any, c: _Checker) -> str:
    """``name``: the plan's name (default: the file's stem, or ``plan``)."""
    default = Path(c.source).stem if c.source else "plan"
    return c.text(raw, "name", default=default) or default


_INCENTIVE_KEYS = ("base_rate", "tiers", "cap", "measure", "weights")


def _check_incentives(raw: Any, c: _Checker) -> Incentives | None:
    """``incentives`` (optional): base rate, contiguous ordered tiers from 0, cap, measure."""
    if raw is None:
        return None
    d = c.mapping(raw, "incentives", _INCENTIVE_KEYS)
    if not isinstance(raw, Mapping):
        return None
    n0 = len(c.problems)
    base = c.number(d.get("base_rate"), "incentives.base_rate", lo=0.0, hi=1.0)
    if d.get("base_rate") is None:
        msg = tr("'{key}' is required (e.g. 0.03 for 3%)").format(key="incentives.base_rate")
        c.add("incentives.base_rate", msg)
    cap = c.number(d.get("cap"), "incentives.cap", lo=1.0)
    measure = c.choice(d.get("measure"), "incentives.measure", INCENTIVE_MEASURES, "revenue")
    tiers = _check_tiers(d.get("tiers"), c)
    weights: tuple[tuple[str, float], ...] = (("revenue", 1.0),)
    if measure == "revenue_customers":
        w = c.mapping(d.get("weights"), "incentives.weights", ("revenue", "customers"))
        wr = c.number(w.get("revenue"), "incentives.weights.revenue", lo=0.0, hi=1.0)
        wc = c.number(w.get("customers"), "incentives.weights.customers", lo=0.0, hi=1.0)
        if wr is None or wc is None or abs(wr + wc - 1.0) > WEIGHT_TOL:
            c.add(
                "incentives.weights",
                tr("'incentives.weights' needs revenue and customers weights that sum to 1"),
                value=d.get("weights"),
                fix=tr("e.g. {example}").format(example="weights: {revenue: 0.8, customers: 0.2}"),
            )
        else:
            weights = (("revenue", wr), ("customers", wc))
    elif d.get("weights") is not None:
        c.add(
            "incentives.weights",
            tr("'incentives.weights' is only used with measure: revenue_customers"),
        )
    if len(c.problems) > n0 or base is None or not tiers:
        return None
    return Incentives(base_rate=base, tiers=tiers, cap=cap, measure=measure, weights=weights)


def _check_tiers(raw: Any, c: _Checker) -> tuple[IncentiveTier, ...]:
    """``incentives.tiers``: bands ``{from, to, rate}`` ordered, contiguous from 0, the last
    one open (no ``to``), rates >= 0."""
    if not isinstance(raw, list) or not raw:
        c.add(
            "incentives.tiers",
            tr("'incentives.tiers' must be a list of bands {{from, to, rate}}"),
            value=raw,
            fix=tr("e.g. {example}").format(
                example="[{from: 0, to: 0.8, rate: 0.5}, {from: 0.8, to: 1.0, rate: 1}, "
                "{from: 1.0, rate: 1.5}]"
            ),
        )
        return ()
    out: list[IncentiveTier] = []
    for i, item in enumerate(raw):
        p = f"incentives.tiers[{i}]"
        t = c.mapping(item, p, ("from", "to", "rate"))
        if not isinstance(item, Mapping):
            return ()
        start = c.number(t.get("from"), f"{p}.from", lo=0.0)
        end = c.number(t.get("to"), f"{p}.to", lo=0.0)
        rate = c.number(t.get("rate"), f"{p}.rate", lo=0.0)
        for key in ("from", "rate"):
            if t.get(key) is None:
                c.add(f"{p}.{key}", tr("'{key}' is required").format(key=f"{p}.{key}"))
        if start is None or rate is None:
            return ()
        last = i == len(raw) - 1
        if end is None and not last:
            msg = tr("'{key}' is required (only the last band is open-ended)")
            c.add(f"{p}.to", msg.format(key=f"{p}.to"))
            return ()
        if end is not None and last:
            c.add(
                f"{p}.to",
                tr(
                    "the last band must be open-ended (no 'to'): attainment has no "
                    "upper limit; use 'cap' to limit the payout"
                ),
            )
            return ()
        if end is not None and end <= start:
            c.add(
                f"{p}",
                tr("band {n} ends at {end}, not above where it starts ({start})").format(
                    n=i + 1, end=f"{end:g}", start=f"{start:g}"
                ),
                fix=tr("list the bands in order of attainment, each 'to' above its 'from'"),
            )
            return ()
        prev_end = 0.0 if not out else out[-1].end
        if start != prev_end:
            msg = (
                tr(
                    "band {n} starts at {start}: it overlaps the band before it (which ends at {end})"
                )
                if start < prev_end
                else tr("band {n} starts at {start}: it leaves a gap after (which ends at {end})")
            )
            c.add(
                f"{p}.from",
                msg.format(n=i + 1, start=f"{start:g}", end=f"{prev_end:g}"),
                fix=tr(
                    "the bands must follow each other in order, each 'from' equal to the "
                    "previous 'to', the first from 0"
                ),
            )
            return ()
        out.append(IncentiveTier(start=start, end=end, rate=rate))
    return tuple(out)


def plan_from_dict(data: Any, source: str | None = None) -> Plan:
    """Validate plain data (as read from YAML or ``plan.json``) into a :class:`Plan`.

    Raises:
        PlanError: listing every problem found, each with the key path and a fix.
    """
    c = _Checker(source)
    top = _check_top_level(data, c)
    fiscal_year = _check_fiscal_year(top.get("fiscal_year"), c)
    plan_cutoff = _check_plan_cutoff(top.get("plan_cutoff"), fiscal_year, c)
    targets = _check_targets(top.get("targets"), c)
    allocation = _check_allocation(top.get("allocation"), c)
    strategies = _check_strategies(top.get("strategies"), c)
    pins = _check_pins(top.get("pins"), c)
    floor = _check_floors(top.get("floors"), c)
    cap = _check_caps(top.get("caps"), c)
    cushion = _check_cushion(top.get("cushion_pct"), c)
    reps = _check_reps(top.get("reps"), c)
    phasing = _check_phasing(top.get("phasing"), c)
    rounding_revenue, rounding_customers = _check_rounding(top.get("rounding"), c)
    forecast = _check_forecast(top.get("forecast"), c)
    replan = _check_replan(top.get("replan"), c)
    currency = _check_currency(top.get("currency"), c)
    name = _check_name(top.get("name"), c)
    incentives = _check_incentives(top.get("incentives"), c)
    report = _check_report(top.get("report"), c)
    c.raise_problems()
    return Plan(
        fiscal_year=int(fiscal_year),  # type: ignore[arg-type] - required, checked above
        plan_cutoff=str(plan_cutoff),
        targets=targets,  # type: ignore[arg-type] - required, checked above
        currency=currency,
        name=name,
        allocation=allocation,
        strategies=strategies,
        pins=pins,
        floor_vs_last_year=floor,
        cap_vs_potential=cap,
        cushion_pct=cushion,
        reps=reps,
        phasing=phasing,
        rounding_revenue=rounding_revenue,
        rounding_customers=rounding_customers,
        forecast=forecast,
        replan=replan,
        incentives=incentives,
        report=report,
        source=source,
    )


# --------------------------------------------------------------------------- file I/O


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan YAML file (safe loader; unknown keys are errors).

    Raises:
        PlanError: the file is missing, not valid YAML, or has invalid values.
    """
    p = Path(path)
    if not p.is_file():
        raise PlanError(
            tr("plan file not found: {file}").format(file=p),
            fix=tr("pass --plan with the path of your plan.yaml (see data/sample/plan.yaml)"),
        )
    data = load_settings_yaml(p, PlanError, "plan file")  # size limit, no aliases
    return plan_from_dict(data, source=str(p))


def _plain(value: Any) -> Any:
    """Dataclasses / tuples / mappings to plain YAML-able data."""
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return _plain(value.to_dict())
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    return value


def _dump(plan: Plan, header: str) -> str:
    body = yaml.safe_dump(
        plan.to_dict(), allow_unicode=True, sort_keys=False, default_flow_style=None, width=100
    )
    return header + body


def save_plan(plan: Plan, path: str | Path) -> Path:
    """Write the plan as YAML (UTF-8); :func:`load_plan` reads it back to an equal plan."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    origin = f" (from {Path(plan.source).name})" if plan.source else ""
    header = f"# salesanalysis plan '{plan.name}'{origin}\n"
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(_dump(plan, header), encoding="utf-8")
    tmp.replace(p)
    return p


_BAD_NAME = re.compile(r"[\\/:*?\"<>|\x00-\x1f]")


def save_scenario(plan: Plan, name: str, folder: str | Path) -> Path:
    """Save the (edited) plan as a named scenario ``<folder>/<name>.yaml`` and return its path.

    The scenario's ``name`` is set to ``name``; rerunning with the same name overwrites it.

    Raises:
        PlanError: the name is empty or contains characters not allowed in a file name.
    """
    clean = str(name).strip()
    if not clean or _BAD_NAME.search(clean) or clean.startswith(".") or len(clean) > 100:
        raise PlanError(
            tr("scenario name {name} cannot be used as a file name").format(name=repr(name)),
            fix=tr("use letters, digits, Chinese characters, '-', '_' or spaces (max 100)"),
        )
    named = Plan(**{**{f: getattr(plan, f) for f in plan.__dataclass_fields__}, "name": clean})
    return save_plan(named, Path(folder) / f"{clean}.yaml")


def plan_changes(before: Plan, after: Plan) -> list[str]:
    """Top-level sections of ``plan.yaml`` whose values differ between two plans."""
    a, b = before.to_dict(), after.to_dict()
    return [k for k in b if a.get(k) != b.get(k)]
