"""Plan assumptions: loading, validation messages, round trip, scenarios."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from salesanalysis.errors import PlanError
from salesanalysis.paths import SAMPLE_PLAN
from salesanalysis.targets.plan import (
    Plan,
    TargetSpec,
    load_plan,
    plan_from_dict,
    save_plan,
    save_scenario,
)

MINIMAL = {"fiscal_year": 2026, "plan_cutoff": "2025-12", "targets": {"revenue": {"growth": 0.1}}}


def _err(data: dict) -> PlanError:
    with pytest.raises(PlanError) as ei:
        plan_from_dict(data, source="plan.yaml")
    return ei.value


def _with(**changes) -> dict:
    d = yaml.safe_load(yaml.safe_dump(MINIMAL))
    d.update(changes)
    return d


def test_sample_plan_loads_and_round_trips(tmp_path: Path) -> None:
    plan = load_plan(SAMPLE_PLAN)
    assert plan.fiscal_year == 2026 and plan.plan_cutoff == "2025-12"
    assert plan.targets.revenue.kind == "growth" and plan.targets.revenue.amount == 0.10
    assert abs(sum(plan.allocation.key_weights.as_dict().values()) - 1) < 1e-9
    assert {s.kind for s in plan.strategies} == {"price", "promotion", "channel_shift", "product"}
    out = save_plan(plan, tmp_path / "copy.yaml")
    again = load_plan(out)
    assert again == plan
    assert again.to_dict() == plan.to_dict()


def test_minimal_plan_gets_documented_defaults() -> None:
    plan = plan_from_dict(MINIMAL)
    assert plan.cushion_pct == 0.0
    assert plan.rounding_revenue == 1000 and plan.rounding_customers == 1
    assert plan.reps.ramp_curve == "linear" and plan.phasing == "history"
    assert plan.floor_vs_last_year is None and plan.cap_vs_potential is None


@pytest.mark.parametrize(
    "data, path, allowed",
    [
        (_with(colour="red"), "colour", "allocation"),
        (
            _with(targets={"revenue": {"growth": 0.1}, "profit": {"value": 1}}),
            "targets.profit",
            "market_share",
        ),
        (
            _with(allocation={"key_weights": {"history": 1.0, "hist": 0.0}}),
            "allocation.key_weights.hist",
            "potential",
        ),
        (_with(reps={"ramp": 3}), "reps.ramp", "ramp_months"),
        (
            _with(pins=[{"segment": {"regoin": "华东"}, "revenue": 10}]),
            "pins[0].segment.regoin",
            "region",
        ),
    ],
)
def test_unknown_keys_name_the_path_and_the_allowed_keys(data, path, allowed) -> None:
    err = _err(data)
    text = err.render()
    assert f"unknown key '{path}'" in text
    assert allowed in text
    assert "plan.yaml" in text


def test_forecast_settings_in_the_plan() -> None:
    """forecast: {accuracy_origins: 0, method: fast} is accepted and kept; bad values are
    refused with the key path and the choices."""
    plan = plan_from_dict(_with(forecast={"accuracy_origins": 0, "method": "fast"}))
    assert plan.forecast.accuracy_origins == 0 and plan.forecast.method == "fast"
    assert plan.forecast.detail == "bottom" and plan.forecast.horizon == 12
    assert plan_from_dict(plan.to_dict()) == plan
    text = _err(_with(forecast={"accuracy_origins": -1, "method": "quick"})).render()
    assert "key 'forecast.accuracy_origins'" in text and "must be >= 0" in text
    assert "key 'forecast.method'" in text and "default, fast" in text
    text = _err(_with(forecast={"detail": "rep", "horizon": 0})).render()
    assert "key 'forecast.detail'" in text and "bottom, cell" in text
    assert "key 'forecast.horizon'" in text


def test_exactly_one_way_to_set_a_target() -> None:
    err = _err(_with(targets={"revenue": {"growth": 0.1, "value": 5}}))
    assert "exactly one of value / growth / forecast_percentile" in err.render()
    assert "found: value, growth" in err.render()
    err = _err(_with(targets={"revenue": {}}))
    assert "found: none" in err.render()


def test_negative_targets_and_bad_numbers_rejected() -> None:
    assert (
        "'targets.revenue.value' must be >= 0"
        in _err(_with(targets={"revenue": {"value": -5}})).render()
    )
    assert (
        "'targets.revenue.forecast_percentile' must be <= 99"
        in _err(_with(targets={"revenue": {"forecast_percentile": 120}})).render()
    )
    assert (
        "'pins[0].revenue' must be >= 0"
        in _err(_with(pins=[{"segment": {"region": "华东"}, "revenue": -1}])).render()
    )
    assert "must be a number" in _err(_with(cushion_pct="5%")).render()


def test_plan_problems_name_the_key_not_a_column() -> None:
    """A plan setting is shown as a key of plan.yaml; only data files have columns."""
    err = _err(_with(targets={"revenue": {"value": -5}}, colour="red"))
    text = err.render()
    assert (
        "- [file plan.yaml, key 'targets.revenue.value'] 'targets.revenue.value' must be >= 0"
        in text
    )
    assert "- [file plan.yaml, key 'colour'] unknown key 'colour'" in text
    assert "column" not in text
    assert [p.key for p in err.problems] == ["colour", "targets.revenue.value"]
    assert all(p.column is None for p in err.problems)


def test_key_weights_must_be_non_negative_and_sum_to_one() -> None:
    err = _err(_with(allocation={"key_weights": {"history": 0.5, "forecast": 0.3}}))
    assert "must sum to 1; they sum to 0.8" in err.render()
    err = _err(_with(allocation={"key_weights": {"history": 1.2, "forecast": -0.2}}))
    assert "'allocation.key_weights.forecast' must be >= 0" in err.render()
    ok = plan_from_dict(
        _with(allocation={"key_weights": {"history": 0.3333333, "equal": 0.6666667}})
    )
    assert ok.allocation.key_weights.equal == pytest.approx(0.6666667)


def test_rounding_units_positive_and_cutoff_valid() -> None:
    assert "'rounding.revenue' must be > 0" in _err(_with(rounding={"revenue": 0})).render()
    assert (
        "'rounding.customers' must be a whole number"
        in _err(_with(rounding={"customers": 0.5})).render()
    )
    assert "YYYY-MM" in _err(_with(plan_cutoff="2025-13")).render()
    assert "YYYY-MM" in _err(_with(plan_cutoff="Dec 2025")).render()
    assert "leaves no month" in _err(_with(plan_cutoff="2026-12")).render()


def test_all_problems_reported_at_once() -> None:
    err = _err(_with(cushion_pct=-1, phasing="weekly", colour=1))
    assert len(err.problems) == 3
    assert "3 problem(s)" in err.message


def test_strategy_validation() -> None:
    base = {"name": "x", "segment": {"product_line": "Pumps"}, "kind": "price", "pct": 0.03}
    assert "rationale' is required" in _err(_with(strategies=[base])).render()
    shift = {**base, "kind": "channel_shift", "rationale": "why"}
    assert "'strategies[0].to' is required" in _err(_with(strategies=[shift])).render()
    good = plan_from_dict(_with(strategies=[{**shift, "to": {"product_line": "Valves"}}]))
    assert good.strategies[0].to == (("product_line", "Valves"),)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("fiscal_year: 2026\n  targets: [\n", encoding="utf-8")
    with pytest.raises(PlanError, match="not valid YAML at line"):
        load_plan(p)
    with pytest.raises(PlanError, match="not found"):
        load_plan(tmp_path / "nope.yaml")


def test_safe_loader_refuses_python_tags(tmp_path: Path) -> None:
    p = tmp_path / "evil.yaml"
    p.write_text("fiscal_year: !!python/object/apply:os.system ['echo hi']\n", encoding="utf-8")
    with pytest.raises(PlanError, match="not valid YAML"):
        load_plan(p)


def test_with_changes_revalidates_and_scenario_saves(tmp_path: Path) -> None:
    plan = load_plan(SAMPLE_PLAN)
    edited = plan.with_changes(cushion_pct=0.08, targets={"revenue": {"forecast_percentile": 60}})
    assert edited.cushion_pct == 0.08 and edited.targets.revenue.kind == "forecast_percentile"
    assert plan.cushion_pct == 0.05  # frozen original untouched
    with pytest.raises(PlanError, match="must sum to 1"):
        plan.with_changes(allocation={"key_weights": {"history": 2.0}})
    with pytest.raises(PlanError, match="unknown plan section"):
        plan.with_changes(colour="red")
    path = save_scenario(edited, "高增长 scenario", tmp_path)
    assert path == tmp_path / "高增长 scenario.yaml"
    back = load_plan(path)
    assert back.name == "高增长 scenario" and back.cushion_pct == 0.08
    assert back.to_dict() == {**edited.to_dict(), "name": "高增长 scenario"}
    for bad in ["", "../x", "a/b", "a:b"]:
        with pytest.raises(PlanError, match="cannot be used as a file name"):
            save_scenario(edited, bad, tmp_path)


def test_plan_is_frozen() -> None:
    plan = plan_from_dict(MINIMAL)
    with pytest.raises(AttributeError):
        plan.cushion_pct = 0.1  # type: ignore[misc]
    assert isinstance(plan, Plan)


def test_target_description_shows_a_share_in_percent():
    assert TargetSpec(value=0.17).describe(share=True) == "fixed value 17.0%"
    assert TargetSpec(value=150_000_000).describe() == "fixed value 150,000,000"
    assert TargetSpec(value=800).describe() == "fixed value 800"
    assert TargetSpec(growth=0.1).describe().startswith("growth +10.0%")
