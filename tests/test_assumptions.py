"""Step 03's assumptions: the plan's comments, the assumption table, the literal cells seeded
from a plan file, the edits read back from them (old -> new), and seeding a notebook."""

from __future__ import annotations

import json
import re
import shutil

import pytest

from salesanalysis.errors import PlanError
from salesanalysis.paths import NOTEBOOKS_DIR, SAMPLE_PLAN
from salesanalysis.report.formatting import pct
from salesanalysis.targets.assumptions import (
    ASSUMPTIONS,
    CELL_TAGS,
    SEED_TAG,
    apply_literals,
    assumption_table,
    edits_table,
    literals,
    plan_comments,
    seed_cells,
    seed_notebook,
)
from salesanalysis.targets.plan import load_plan, save_plan

NOTEBOOK = NOTEBOOKS_DIR / "03_target_decomposition.ipynb"


def _namespace(cells: dict[str, str]) -> dict:
    """What running the literal cells leaves in a notebook's namespace."""
    ns: dict = {}
    for source in cells.values():
        exec(source, ns)  # noqa: S102 - the cells are the package's own output
    return ns


def test_plan_comments_reads_line_comments_and_their_continuations(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(
        "# a header comment\n"
        "fiscal_year: 2026   # the year\n"
        'name: "a # not a comment"\n'
        "targets:\n"
        "  revenue: {growth: 0.1}   # ten percent\n"
        "                           # over last year\n"
        "strategies:\n"
        "  - name: x   # inside a list: not read\n"
        "    pct: 0.1  # nor this\n"
        "reps:\n"
        "  load_band: 0.2   # the band\n"
        "  book_weight: 0.5\n"
        "cushion_pct: 0.05 # cushion\n",
        encoding="utf-8",
    )
    assert plan_comments(path) == {
        "fiscal_year": "the year",
        "targets.revenue": "ten percent over last year",
        "reps.load_band": "the band",
        "cushion_pct": "cushion",
    }
    assert plan_comments(tmp_path / "missing.yaml") == {}


def test_assumption_table_shows_every_value_in_words_with_the_plans_comment():
    plan = load_plan(SAMPLE_PLAN)
    comments = plan_comments(SAMPLE_PLAN)
    t = assumption_table(plan, comments)
    assert list(t.columns) == ["assumption", "value", "explanation"]
    assert (t["value"].str.len() > 0).all() and (t["explanation"].str.len() > 0).all()
    assert not t["value"].str.contains(r"[{}\[\]]").any(), "no dicts or lists on the page"
    rows = t.set_index("assumption")
    rev = rows.loc["Revenue target"]
    assert rev["value"] == pct(plan.targets.revenue.amount, signed=True)
    assert rev["explanation"] == comments["targets.revenue"]
    assert rows.loc["Cushion", "value"] == pct(plan.cushion_pct)
    assert rows.loc["Cushion", "explanation"] == comments["cushion_pct"]
    assert rows.loc["Load band", "explanation"] == comments["reps.load_band"]
    # one row per strategy, explained by its rationale; one per pin
    for s in plan.strategies:
        assert rows.loc[f"Strategy: {s.name}", "explanation"] == s.rationale
    assert (t["assumption"] == "Pins").sum() == len(plan.pins)
    # an edited assumption is not explained by the plan's comment on the old value
    edited = assumption_table(plan, comments, edited=["cushion_pct"]).set_index("assumption")
    assert edited.loc["Cushion", "explanation"] != comments["cushion_pct"]
    assert "edited in this notebook" in edited.loc["Cushion", "explanation"]


def test_plan_comments_join_a_chinese_continuation_without_a_space(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(
        "reps:\n"
        "  load_band: 0.2      # 每位销售代表的单位有效产能目标\n"
        "                      # 保持在中位数的 ±20% 以内\n"
        "  book_weight: 0.5    # 区域客户目标相差超过 10%\n"
        "                      # 且无策略支撑时\n"
        "  ramp_months: 6      # months until a new hire\n"
        "                      # reaches full capacity\n",
        encoding="utf-8",
    )
    assert plan_comments(path) == {
        "reps.load_band": "每位销售代表的单位有效产能目标保持在中位数的 ±20% 以内",
        "reps.book_weight": "区域客户目标相差超过 10% 且无策略支撑时",
        "reps.ramp_months": "months until a new hire reaches full capacity",
    }


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_plans_codes_read_in_words_in_the_reports_language(lang):
    """ramp_curve, capacity_policy, reps.allocation and phasing hold codes (``hire``,
    ``capacity_and_book``): the page shows the words of targets.output.WORDS, in both
    languages, in the assumption table and in the edits table."""
    from salesanalysis import i18n
    from salesanalysis.targets.output import WORDS

    i18n.set_report(lang)
    plan = load_plan(SAMPLE_PLAN)
    rows = assumption_table(plan).set_index("assumption")["value"]
    coded = {
        "Ramp-up curve": ("ramp_curve", plan.reps.ramp_curve),
        "Capacity policy": ("capacity_policy", plan.reps.capacity_policy),
        "Rep allocation": ("allocation", plan.reps.allocation),
        "Phasing": ("phasing", plan.phasing),
    }
    for label, (words, code) in coded.items():
        shown = rows[i18n.tr(label)]
        assert shown == i18n.tr(WORDS[words][code])
        if lang == "zh":  # translated: no code left on a Chinese page
            assert not re.search(r"[A-Za-z]", shown), shown
    ns = _namespace(seed_cells(plan))
    ns["capacity_policy"] = "rebalance"
    edits = edits_table(apply_literals(plan, ns)).set_index("assumption")
    edit = edits.loc[i18n.tr("Capacity policy")]
    assert (edit["plan_file"], edit["notebook"]) == (
        i18n.tr(WORDS["capacity_policy"][plan.reps.capacity_policy]),
        i18n.tr(WORDS["capacity_policy"]["rebalance"]),
    )


def test_seeded_cells_read_back_as_the_plan_with_no_edit():
    plan = load_plan(SAMPLE_PLAN)
    ns = _namespace(seed_cells(plan, plan_comments(SAMPLE_PLAN)))
    assert {a.name for a in ASSUMPTIONS} <= set(ns)
    applied = apply_literals(plan, ns)
    assert applied.plan == plan
    assert applied.edits.empty and applied.stale == ()


def test_an_edited_literal_wins_and_is_listed_old_to_new():
    plan = load_plan(SAMPLE_PLAN)
    ns = _namespace(seed_cells(plan))
    new_growth = plan.targets.revenue.amount + 0.02
    new_cushion = plan.cushion_pct / 2
    ns["revenue_growth"], ns["cushion_pct"] = new_growth, new_cushion
    applied = apply_literals(plan, ns)
    assert applied.plan.targets.revenue.growth == new_growth
    assert applied.plan.cushion_pct == new_cushion
    t = edits_table(applied).set_index("assumption")
    assert list(t.index) == ["Revenue target", "Cushion"]
    assert t.loc["Revenue target", "plan_file"] == pct(plan.targets.revenue.amount, signed=True)
    assert t.loc["Revenue target", "notebook"] == pct(new_growth, signed=True)
    assert t.loc["Cushion", "plan_file"] == pct(plan.cushion_pct)
    assert t.loc["Cushion", "notebook"] == pct(new_cushion)


def test_cells_at_their_seed_take_the_plan_files_values(tmp_path):
    """Seeded from the sample plan, run with another plan file: that plan is used as it is
    (what an unattended run does), and the cells still at their seed are named as stale."""
    sample = load_plan(SAMPLE_PLAN)
    ns = _namespace(seed_cells(sample))
    other = sample.with_changes(
        cushion_pct=sample.cushion_pct + 0.01, targets={"revenue": {"value": 150_000_000}}
    )
    applied = apply_literals(other, ns)
    assert applied.plan == other
    assert applied.edits.empty
    assert set(applied.stale) >= {"cushion_pct", "revenue_growth", "revenue_value"}
    # one edit on top: only that assumption differs from the other plan
    ns["ramp_months"] = other.reps.ramp_months + 1
    applied = apply_literals(other, ns)
    assert applied.plan == other.with_changes(
        reps={**other.reps.to_dict(), "ramp_months": other.reps.ramp_months + 1}
    )
    assert list(applied.edits["name"]) == ["ramp_months"]


def test_a_target_set_two_ways_names_the_notebook_variables():
    plan = load_plan(SAMPLE_PLAN)
    ns = _namespace(seed_cells(plan))
    ns["revenue_value"] = 150_000_000  # typed over, but revenue_growth left as seeded
    with pytest.raises(PlanError) as e:
        apply_literals(plan, ns)
    assert "revenue_growth" in e.value.render() and "revenue_value" in e.value.render()
    ns["revenue_growth"] = None
    assert apply_literals(plan, ns).plan.targets.revenue.value == 150_000_000


def test_key_weights_are_edited_together():
    plan = load_plan(SAMPLE_PLAN)
    ns = _namespace(seed_cells(plan))
    w = plan.allocation.key_weights.as_dict()
    ns["key_weight_history"] = w["history"] + w["forecast"]
    ns["key_weight_forecast"] = 0.0
    used = apply_literals(plan, ns).plan
    assert used.allocation.key_weights.history == w["history"] + w["forecast"]
    assert used.allocation.key_weights.forecast == 0.0
    ns["key_weight_equal"] = 0.5  # the weights no longer add up to 1: the plan's own check
    with pytest.raises(PlanError, match="sum to 1"):
        apply_literals(plan, ns)


def test_seed_notebook_writes_only_the_assumption_cells(tmp_path):
    nb_path = shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    before = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    plan = load_plan(SAMPLE_PLAN).with_changes(cushion_pct=0.08, name="other")
    plan_path = save_plan(plan, tmp_path / "other.yaml")
    done = seed_notebook(nb_path, plan_path)
    assert sorted(done) == sorted([*CELL_TAGS.values(), SEED_TAG])
    after = json.loads(nb_path.read_text(encoding="utf-8"))
    assert len(after["cells"]) == len(before["cells"])
    tags = {t for c in after["cells"] for t in c.get("metadata", {}).get("tags", [])}
    assert set(done) <= tags
    ns: dict = {}
    for old, new in zip(before["cells"], after["cells"], strict=True):
        t = set(new.get("metadata", {}).get("tags", [])) & set(done)
        if t:
            exec("".join(new["source"]), ns)  # noqa: S102
        else:
            assert old == new, "a cell that is not an assumption cell changed"
    assert ns["cushion_pct"] == 0.08 and ns["seeded"]["cushion_pct"] == 0.08
    assert apply_literals(plan, ns).plan == load_plan(plan_path)


def test_the_committed_notebook_is_seeded_from_the_sample_plan():
    """The cells a planner sees hold the sample plan's values (reseed with `salesanalysis plan
    seed-notebook` after changing data/sample/plan.yaml)."""
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    expected = seed_cells(
        load_plan(SAMPLE_PLAN), plan_comments(SAMPLE_PLAN), "data/sample/plan.yaml"
    )
    found = {
        tag: "".join(c["source"])
        for c in nb["cells"]
        for tag in c.get("metadata", {}).get("tags", [])
        if tag in expected
    }
    assert found == expected
    assert literals(load_plan(SAMPLE_PLAN)) == _namespace(found)["seeded"]


def test_the_command_seeds_a_notebook(tmp_path, capsys):
    from salesanalysis.cli import main

    nb_path = shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    plan_path = save_plan(
        load_plan(SAMPLE_PLAN).with_changes(cushion_pct=0.07), tmp_path / "p.yaml"
    )
    assert (
        main(["plan", "seed-notebook", "--plan", str(plan_path), "--notebook", str(nb_path)]) == 0
    )
    assert "5 assumption cells written" in capsys.readouterr().out
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    reps = next(c for c in nb["cells"] if CELL_TAGS["reps"] in c["metadata"].get("tags", []))
    assert "cushion_pct = 0.07" in "".join(reps["source"])
    # a file that is not notebook 03 (no assumption cells): refused with a message, exit 2
    other = shutil.copy(NOTEBOOKS_DIR / "01_market_analysis.ipynb", tmp_path / "01.ipynb")
    assert main(["plan", "seed-notebook", "--notebook", str(other)]) == 2
    assert "has no assumption cells" in capsys.readouterr().err
