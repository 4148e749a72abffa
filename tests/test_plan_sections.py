"""The plan's section validators, each alone: a valid section gives its typed value, an invalid
one gives the exact problem (message and key path) and the documented fallback."""

from __future__ import annotations

import pytest

from salesanalysis.errors import PlanError
from salesanalysis.targets.plan import (
    Allocation,
    ForecastSettings,
    KeyWeights,
    Pin,
    RepSettings,
    Strategy,
    Targets,
    TargetSpec,
    _check_allocation,
    _check_caps,
    _check_currency,
    _check_cushion,
    _check_fiscal_year,
    _check_floors,
    _check_forecast,
    _check_key_weights,
    _check_levels,
    _check_name,
    _check_phasing,
    _check_pin,
    _check_pins,
    _check_plan_cutoff,
    _check_reps,
    _check_rounding,
    _check_strategies,
    _check_strategy,
    _check_target_spec,
    _check_targets,
    _check_top_level,
    _Checker,
)

EAST = (("region", "华东"),)
PUMPS = (("product_line", "Pumps"),)


@pytest.fixture
def c() -> _Checker:
    return _Checker("plan.yaml")


def problems(c: _Checker) -> list[tuple[str | None, str]]:
    """(key, message) of every problem reported, in order."""
    return [(p.key, p.message) for p in c.problems]


# --------------------------------------------------------------------------- top level


def test_top_level_valid(c):
    data = {"fiscal_year": 2026, "plan_cutoff": "2025-12", "targets": {}}
    assert _check_top_level(data, c) == data
    assert c.problems == []


def test_top_level_unknown_and_missing_keys(c):
    top = _check_top_level({"fiscal_year": 2026, "colour": "red"}, c)
    assert top == {"fiscal_year": 2026}
    assert problems(c) == [
        ("colour", "unknown key 'colour'"),
        ("plan_cutoff", "'plan_cutoff' is required"),
        ("targets", "'targets' is required"),
    ]
    assert "allowed keys here: allocation, caps, currency" in c.problems[0].fix
    assert all(p.file == "plan.yaml" for p in c.problems)


@pytest.mark.parametrize("data", [None, [], "2026"])
def test_top_level_not_a_mapping_raises(c, data):
    with pytest.raises(PlanError) as ei:
        _check_top_level(data, c)
    assert ei.value.message == "the plan file must be a YAML mapping of keys to values"
    assert [(p.message, p.file) for p in ei.value.problems] == [
        ("the file is empty or not a mapping", "plan.yaml")
    ]


# --------------------------------------------------------------------------- period


def test_fiscal_year(c):
    assert _check_fiscal_year(2026, c) == 2026 and isinstance(_check_fiscal_year(2026, c), int)
    assert _check_fiscal_year(None, c) is None
    assert c.problems == []
    assert _check_fiscal_year(2026.5, c) is None
    assert _check_fiscal_year(1900, c) is None
    assert _check_fiscal_year("2026", c) is None
    assert problems(c) == [
        ("fiscal_year", "'fiscal_year' must be a whole number"),
        ("fiscal_year", "'fiscal_year' must be >= 1990"),
        ("fiscal_year", "'fiscal_year' must be a number"),
    ]


def test_plan_cutoff(c):
    assert _check_plan_cutoff(" 2025-12 ", 2026, c) == "2025-12"
    assert _check_plan_cutoff("2026-06", 2026, c) == "2026-06"  # mid-year plan
    assert _check_plan_cutoff(None, 2026, c) is None
    assert _check_plan_cutoff("2026-12", None, c) == "2026-12"  # no year to compare with
    assert c.problems == []


@pytest.mark.parametrize("raw", ["2025-13", "Dec 2025", "2025-1", 202512])
def test_plan_cutoff_not_a_month(c, raw):
    assert _check_plan_cutoff(raw, 2026, c) is None
    assert problems(c) == [("plan_cutoff", "'plan_cutoff' must be a month written YYYY-MM")]
    assert c.problems[0].fix == 'quote it: plan_cutoff: "2025-12"'
    assert c.problems[0].values == [raw]


def test_plan_cutoff_leaves_no_month(c):
    _check_plan_cutoff("2026-12", 2026, c)
    assert problems(c) == [
        ("plan_cutoff", "plan_cutoff 2026-12 leaves no month of fiscal year 2026 to plan")
    ]
    assert c.problems[0].fix == 'use a cutoff before 2026-12, e.g. "2025-12"'


# --------------------------------------------------------------------------- targets


def test_targets_valid(c):
    raw = {"revenue": {"growth": 0.1}, "market_share": {"value": 0.15}}
    assert _check_targets(raw, c) == Targets(
        revenue=TargetSpec(growth=0.1), market_share=TargetSpec(value=0.15)
    )
    assert c.problems == []


def test_targets_without_revenue(c):
    assert _check_targets({"customers": {"growth": 0.05}}, c) is None
    assert problems(c) == [("targets.revenue", "'targets.revenue' is required")]
    assert c.problems[0].fix == "e.g. revenue: {growth: 0.10}"


def test_targets_unknown_measure_and_missing_section(c):
    assert _check_targets({"revenue": {"growth": 0.1}, "profit": {"value": 1}}, c) is not None
    assert problems(c) == [("targets.profit", "unknown key 'targets.profit'")]
    assert _check_targets(None, c) is None  # reported as a missing top-level key
    assert len(c.problems) == 1


@pytest.mark.parametrize(
    "raw, spec",
    [
        ({"value": 5_000_000}, TargetSpec(value=5_000_000.0)),
        ({"growth": -0.2}, TargetSpec(growth=-0.2)),
        ({"forecast_percentile": 60}, TargetSpec(forecast_percentile=60.0)),
        ({"growth": 0.1, "value": None}, TargetSpec(growth=0.1)),
    ],
)
def test_target_spec_valid(c, raw, spec):
    assert _check_target_spec(raw, "targets.revenue", "revenue", c) == spec
    assert c.problems == []


@pytest.mark.parametrize(
    "raw, measure, key, message",
    [
        (None, "revenue", "targets.revenue", "'targets.revenue' is required"),
        (
            {"growth": 0.1, "value": 5},
            "revenue",
            "targets.revenue",
            "'targets.revenue' must have exactly one of value / growth / forecast_percentile "
            "(found: value, growth)",
        ),
        (
            {},
            "revenue",
            "targets.revenue",
            "'targets.revenue' must have exactly one of value / growth / forecast_percentile "
            "(found: none)",
        ),
        (
            {"value": -5},
            "revenue",
            "targets.revenue.value",
            "'targets.revenue.value' must be >= 0",
        ),
        (
            {"value": 1.5},
            "market_share",
            "targets.market_share.value",
            "'targets.market_share.value' must be <= 1",
        ),
        (
            {"growth": -1.5},
            "revenue",
            "targets.revenue.growth",
            "'targets.revenue.growth' must be >= -1",
        ),
        (
            {"forecast_percentile": 120},
            "revenue",
            "targets.revenue.forecast_percentile",
            "'targets.revenue.forecast_percentile' must be <= 99",
        ),
        ("10%", "revenue", "targets.revenue", "'targets.revenue' must be a mapping (key: value)"),
    ],
)
def test_target_spec_invalid(c, raw, measure, key, message):
    assert _check_target_spec(raw, f"targets.{measure}", measure, c) is None
    assert problems(c) == [(key, message)]


def test_target_spec_fix_names_the_measure(c):
    _check_target_spec({}, "targets.customers", "customers", c)
    assert c.problems[0].fix == "e.g. customers: {growth: 0.10}"


# --------------------------------------------------------------------------- allocation


def test_allocation_valid_and_defaults(c):
    raw = {
        "history_window_months": 24,
        "key_weights": {"history": 0.5, "forecast": 0.3, "potential": 0.2},
        "potential_share": 0.3,
    }
    assert _check_allocation(raw, c) == Allocation(
        history_window_months=24,
        key_weights=KeyWeights(history=0.5, forecast=0.3, potential=0.2, equal=0.0),
        potential_share=0.3,
    )
    assert _check_allocation(None, c) == Allocation()
    assert c.problems == []


def test_allocation_invalid_values_fall_back_to_defaults(c):
    raw = {"history_window_months": 0, "potential_share": 0, "history": 1}
    assert _check_allocation(raw, c) == Allocation()
    assert problems(c) == [
        ("allocation.history", "unknown key 'allocation.history'"),
        (
            "allocation.history_window_months",
            "'allocation.history_window_months' must be >= 1",
        ),
        ("allocation.potential_share", "'allocation.potential_share' must be > 0"),
    ]


def test_key_weights_valid(c):
    assert _check_key_weights({"history": 0.3333333, "equal": 0.6666667}, c) == KeyWeights(
        history=0.3333333, equal=0.6666667
    )
    assert _check_key_weights(None, c) == KeyWeights()
    # float noise just below zero from a computed weight counts as 0
    assert _check_key_weights({"history": 1.0, "forecast": -1e-13}, c).forecast == 0.0
    assert c.problems == []


def test_key_weights_must_sum_to_one(c):
    _check_key_weights({"history": 0.5, "forecast": 0.3}, c)
    assert problems(c) == [
        ("allocation.key_weights", "allocation key weights must sum to 1; they sum to 0.8")
    ]
    assert c.problems[0].values == [{"history": 0.5, "forecast": 0.3}]


def test_key_weights_negative_and_unknown(c):
    _check_key_weights({"history": 1.2, "forecast": -0.2, "hist": 0}, c)
    # a weight that is itself invalid is reported alone (no sum check on top of it)
    assert problems(c) == [
        ("allocation.key_weights.hist", "unknown key 'allocation.key_weights.hist'"),
        ("allocation.key_weights.forecast", "'allocation.key_weights.forecast' must be >= 0"),
    ]


# --------------------------------------------------------------------------- strategies

PRICE = {"name": "Price +3%", "segment": {"product_line": "Pumps"}, "kind": "price", "pct": 0.03}


def test_strategy_valid(c):
    seen: set[str] = set()
    s = _check_strategy({**PRICE, "rationale": "list price rise"}, "strategies[0]", seen, c)
    assert s == Strategy("Price +3%", PUMPS, "price", 0.03, "list price rise")
    assert seen == {"Price +3%"}
    shift = {**PRICE, "kind": "channel_shift", "rationale": "why", "to": {"region": "华东"}}
    assert _check_strategy({**shift, "name": "b"}, "strategies[1]", seen, c).to == EAST
    assert c.problems == []


@pytest.mark.parametrize(
    "raw, key, message",
    [
        (PRICE, "strategies[0].rationale", "'strategies[0].rationale' is required: say why, "
         "it is printed beside the numbers it changes"),
        ({**PRICE, "rationale": "r", "name": None}, "strategies[0].name",
         "'strategies[0].name' is required"),
        ({**PRICE, "rationale": "r", "kind": None}, "strategies[0].kind",
         "'strategies[0].kind' is required (price, promotion, channel_shift, product)"),
        ({**PRICE, "rationale": "r", "kind": "discount"}, "strategies[0].kind",
         "'strategies[0].kind' must be one of: price, promotion, channel_shift, product"),
        ({**PRICE, "rationale": "r", "pct": None}, "strategies[0].pct",
         "'strategies[0].pct' is required (e.g. 0.03 for +3%)"),
        ({**PRICE, "rationale": "r", "pct": -1}, "strategies[0].pct",
         "'strategies[0].pct' must be >= -0.99"),
        ({**PRICE, "rationale": "r", "kind": "channel_shift", "pct": 1.5, "to": {"region": "x"}},
         "strategies[0].pct",
         "'strategies[0].pct' must be <= 1"),
        ({**PRICE, "rationale": "r", "to": {"region": "华东"}}, "strategies[0].to",
         "'strategies[0].to' is only used with kind: channel_shift"),
        ({**PRICE, "rationale": "r", "kind": "channel_shift"}, "strategies[0].to",
         "'strategies[0].to' is required (e.g. {region: 华东})"),
        ({**PRICE, "rationale": "r", "kind": "channel_shift", "to": {"product_line": "Pumps"}},
         "strategies[0].to", "a channel shift must move revenue to a different segment"),
        ({**PRICE, "rationale": "r", "segment": {}}, "strategies[0].segment",
         "'strategies[0].segment' must name at least one of: region, product_line, "
         "customer_type"),
    ],
)  # fmt: skip
def test_strategy_invalid(c, raw, key, message):
    # (a strategy whose parts are all valid is still returned: the problem stops the plan)
    _check_strategy(raw, "strategies[0]", set(), c)
    assert problems(c) == [(key, message)]


PUSH = {**PRICE, "kind": "product", "pct": 0.08, "product": "P-200", "rationale": "launch"}


def test_product_strategy_names_its_product(c):
    s = _check_strategy(PUSH, "strategies[0]", set(), c)
    assert (s.kind, s.product, s.to_dict()["product"]) == ("product", "P-200", "P-200")
    assert c.problems == []


@pytest.mark.parametrize(
    "raw, key, message",
    [
        ({**PUSH, "product": None}, "strategies[0].product",
         "'strategies[0].product' is required with kind: product (the product pushed)"),
        ({**PUSH, "segment": {"region": "华东"}}, "strategies[0].segment",
         "a product strategy's segment must name the product's product_line"),
        ({**PUSH, "pct": -0.1}, "strategies[0].pct", "'strategies[0].pct' must be >= 0"),
        ({**PRICE, "rationale": "r", "product": "P-200"}, "strategies[0].product",
         "'strategies[0].product' is only used with kind: product"),
    ],
)  # fmt: skip
def test_product_strategy_invalid(c, raw, key, message):
    _check_strategy(raw, "strategies[0]", set(), c)
    assert problems(c) == [(key, message)]


def test_strategy_names_must_differ(c):
    raw = {**PRICE, "rationale": "r"}
    assert len(_check_strategies([raw, raw], c)) == 2  # both kept; the problem stops the plan
    assert problems(c) == [("strategies[1].name", "strategy name 'Price +3%' is used twice")]


def test_strategies_list(c):
    raw = [{**PRICE, "rationale": "r"}, {**PRICE, "name": "b"}, "not a mapping"]
    assert [s.name for s in _check_strategies(raw, c)] == ["Price +3%"]
    assert problems(c) == [
        ("strategies[1].rationale", "'strategies[1].rationale' is required: say why, it is "
         "printed beside the numbers it changes"),
        ("strategies[2]", "'strategies[2]' must be a mapping (key: value)"),
    ]  # fmt: skip
    assert _check_strategies(None, c) == ()
    assert _check_strategies({"name": "x"}, c) == ()
    assert problems(c)[-1] == ("strategies", "'strategies' must be a list")


# --------------------------------------------------------------------------- pins


def test_pin_valid(c):
    seen: set[tuple] = set()
    raw = {"segment": {"product_line": "Pumps", "region": "华东"}, "revenue": 6e7}
    pin = _check_pin(raw, "pins[0]", seen, c)
    assert pin == Pin(segment=(("region", "华东"), ("product_line", "Pumps")), revenue=6e7)
    assert _check_pin({"segment": {"region": "华北"}, "customers": 40}, "pins[1]", seen, c) == Pin(
        segment=(("region", "华北"),), customers=40.0
    )
    assert c.problems == []


@pytest.mark.parametrize(
    "raw, key, message",
    [
        ({"segment": {"region": "华东"}}, "pins[0]", "'pins[0]' must fix revenue and/or customers"),
        ({"segment": {"region": "华东"}, "revenue": -1}, "pins[0].revenue",
         "'pins[0].revenue' must be >= 0"),
        ({"segment": {"region": "华东"}, "customers": 2.5}, "pins[0].customers",
         "'pins[0].customers' must be a whole number"),
        ({"revenue": 5}, "pins[0].segment", "'pins[0].segment' is required (e.g. {region: 华东})"),
        ({"segment": "华东", "revenue": 5}, "pins[0].segment",
         "'pins[0].segment' must be a mapping such as {region: 华东}"),
        ({"segment": {"regoin": "华东"}, "revenue": 5}, "pins[0].segment.regoin",
         "unknown key 'pins[0].segment.regoin'"),
        ({"segment": {"region": ""}, "revenue": 5}, "pins[0].segment.region",
         "'pins[0].segment.region' must be a label"),
    ],
)  # fmt: skip
def test_pin_invalid(c, raw, key, message):
    assert _check_pin(raw, "pins[0]", set(), c) is None
    assert problems(c) == [(key, message)]


def test_pins_list_and_duplicates(c):
    pin = {"segment": {"region": "华东"}, "revenue": 10}
    assert len(_check_pins([pin, pin], c)) == 2  # both kept; the problem stops the plan
    assert problems(c) == [("pins[1].segment", "segment {'region': '华东'} is pinned twice")]
    assert _check_pins(None, c) == ()
    assert _check_pins({"segment": {}}, c) == ()
    assert problems(c)[-1] == ("pins", "'pins' must be a list")


# --------------------------------------------------------------------------- constraints


def test_floors_caps_cushion(c):
    assert _check_floors({"vs_last_year": 0.95}, c) == 0.95
    assert _check_floors(None, c) is None
    assert _check_caps({"vs_potential": 1}, c) == 1.0
    assert _check_caps(None, c) is None
    assert _check_cushion(0.05, c) == 0.05
    assert _check_cushion(None, c) == 0.0
    assert c.problems == []
    assert _check_floors({"vs_last_year": -0.1}, c) is None
    assert _check_caps({"vs_potential": 0}, c) is None
    assert _check_caps({"vs_budget": 1}, c) is None
    assert _check_cushion("5%", c) == 0.0
    assert _check_cushion(1.5, c) == 0.0
    assert problems(c) == [
        ("floors.vs_last_year", "'floors.vs_last_year' must be >= 0"),
        ("caps.vs_potential", "'caps.vs_potential' must be > 0"),
        ("caps.vs_budget", "unknown key 'caps.vs_budget'"),
        ("cushion_pct", "'cushion_pct' must be a number"),
        ("cushion_pct", "'cushion_pct' must be <= 1"),
    ]


# --------------------------------------------------------------------------- reps


def test_reps_valid_and_defaults(c):
    raw = {
        "ramp_months": 3,
        "ramp_curve": "s_curve",
        "ramp_start": 0.5,
        "productivity_weight": 0.3,
        "load_flag_pct": 0.1,
    }
    assert _check_reps(raw, c) == RepSettings(3, "s_curve", 0.5, 0.3, 0.1)
    assert _check_reps(None, c) == RepSettings()
    assert c.problems == []


def test_reps_invalid_values_fall_back_to_defaults(c):
    raw = {"ramp_months": 61, "ramp_curve": "cubic", "ramp_start": 2, "load_flag_pct": 0}
    assert _check_reps({**raw, "ramp": 3}, c) == RepSettings()
    assert problems(c) == [
        ("reps.ramp", "unknown key 'reps.ramp'"),
        ("reps.ramp_months", "'reps.ramp_months' must be <= 60"),
        ("reps.ramp_curve", "'reps.ramp_curve' must be one of: linear, step, s_curve"),
        ("reps.ramp_start", "'reps.ramp_start' must be <= 1"),
        ("reps.load_flag_pct", "'reps.load_flag_pct' must be > 0"),
    ]


# --------------------------------------------------------------------------- phasing, rounding


def test_phasing(c):
    assert _check_phasing("forecast", c) == "forecast"
    assert _check_phasing(None, c) == "history"
    assert c.problems == []
    assert _check_phasing("weekly", c) == "history"
    assert problems(c) == [("phasing", "'phasing' must be one of: history, forecast")]


def test_rounding(c):
    assert _check_rounding({"revenue": 500, "customers": 5}, c) == (500.0, 5)
    assert _check_rounding(None, c) == (1000.0, 1)
    assert c.problems == []
    assert _check_rounding({"revenue": 0, "customers": 0.5}, c) == (1000.0, 1)
    assert problems(c) == [
        ("rounding.revenue", "'rounding.revenue' must be > 0"),
        ("rounding.customers", "'rounding.customers' must be a whole number"),
    ]


# --------------------------------------------------------------------------- forecast


def test_forecast_valid_and_defaults(c):
    assert _check_forecast({"horizon": 18, "levels": [80]}, c) == ForecastSettings(18, (80,))
    assert _check_forecast(None, c) == ForecastSettings()
    assert c.problems == []


def test_forecast_invalid(c):
    assert _check_forecast({"horizon": 0, "levels": None}, c) == ForecastSettings(12, ())
    assert problems(c) == [
        ("forecast.horizon", "'forecast.horizon' must be >= 1"),
        ("forecast.levels", "'forecast.levels' must be a list such as [80, 95]"),
    ]


def test_forecast_step_settings(c):
    """accuracy_origins, method and detail: the forecast step's defaults (issue 12)."""
    got = _check_forecast({"accuracy_origins": 0, "method": "fast", "detail": "cell"}, c)
    assert got == ForecastSettings(accuracy_origins=0, method="fast", detail="cell")
    assert got.to_dict() == {
        "horizon": 12,
        "levels": [80, 95],
        "accuracy_origins": 0,
        "method": "fast",
        "detail": "cell",
    }
    assert ForecastSettings().accuracy_origins == 1
    assert (ForecastSettings().method, ForecastSettings().detail) == ("default", "bottom")
    assert c.problems == []


def test_forecast_step_settings_invalid(c):
    raw = {"accuracy_origins": -1, "method": "quick", "detail": "rep", "origins": 2}
    assert _check_forecast(raw, c) == ForecastSettings()  # the defaults where invalid
    assert problems(c) == [
        ("forecast.origins", "unknown key 'forecast.origins'"),
        ("forecast.accuracy_origins", "'forecast.accuracy_origins' must be >= 0"),
        ("forecast.method", "'forecast.method' must be one of: default, fast"),
        ("forecast.detail", "'forecast.detail' must be one of: bottom, cell"),
    ]
    c2 = _Checker("plan.yaml")
    _check_forecast({"accuracy_origins": 1.5}, c2)
    _check_forecast({"accuracy_origins": 13}, c2)
    _check_forecast({"accuracy_origins": True}, c2)
    assert problems(c2) == [
        ("forecast.accuracy_origins", "'forecast.accuracy_origins' must be a whole number"),
        ("forecast.accuracy_origins", "'forecast.accuracy_origins' must be <= 12"),
        ("forecast.accuracy_origins", "'forecast.accuracy_origins' must be a number"),
    ]


def test_levels(c):
    assert _check_levels([95, 80], c) == (95, 80)
    assert c.problems == []
    assert _check_levels([], c) == ()
    assert _check_levels([95], c) == (95,)
    assert _check_levels([80, 100], c) == (80,)  # the invalid level is reported alone
    assert problems(c) == [
        ("forecast.levels", "'forecast.levels' must be a list such as [80, 95]"),
        (
            "forecast.levels",
            "'forecast.levels' must include 80 (the targets' feasibility uses the 80% interval)",
        ),
        ("forecast.levels[1]", "'forecast.levels[1]' must be <= 99"),
    ]


# --------------------------------------------------------------------------- labels


def test_currency_and_name(c):
    assert _check_currency("EUR", c) == "EUR"
    assert _check_currency(None, c) == "CNY"
    assert _check_name("base", c) == "base"
    assert _check_name(None, c) == "plan"  # the stem of the source file
    assert _check_name(None, _Checker("plans/stretch.yaml")) == "stretch"
    assert _check_name(None, _Checker(None)) == "plan"
    assert c.problems == []
    assert _check_currency(["CNY"], c) == "CNY"
    assert _check_name(True, c) == "plan"
    assert problems(c) == [
        ("currency", "'currency' must be text"),
        ("name", "'name' must be text"),
    ]


# --------------------------------------------------------------------------- all at once


def test_raise_problems(c):
    c.raise_problems()  # nothing found: nothing raised
    c.add("phasing", "first")
    c.add("colour", "second")
    with pytest.raises(PlanError) as ei:
        c.raise_problems()
    assert ei.value.message == "2 problem(s) found in the plan assumptions in plan.yaml"
    assert [p.message for p in ei.value.problems] == ["first", "second"]
    one = _Checker(None)
    one.add("phasing", "only")
    with pytest.raises(PlanError) as ei:
        one.raise_problems()
    assert ei.value.message == "1 problem(s) found in the plan assumptions"
