"""The language of a plan's own errors: an invalid plan still reads in its ``report: language``
(read leniently, with the safe bounded loader), the default only when that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest

from salesanalysis import i18n
from salesanalysis.data.context import use_plan_language
from salesanalysis.errors import PlanError
from salesanalysis.i18n import tr
from salesanalysis.targets.plan import load_plan
from salesanalysis.untrusted import MAX_SETTINGS_BYTES

BASE = Path(__file__).parent / "bad_input" / "base" / "plan.yaml"


def _invalid_plan(tmp_path: Path, language: str) -> Path:
    """The corpus base plan with an unknown key and a negative cushion, in ``language``."""
    text = BASE.read_text(encoding="utf-8")
    assert "language: en" in text
    text = text.replace("language: en", f"language: {language}")
    text = text.replace("cushion_pct: 0.05", "cushion_pct: -1\ncushion: 0.05")
    p = tmp_path / "plan.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def _errors(plan: Path) -> PlanError:
    use_plan_language(plan)
    with pytest.raises(PlanError) as ei:
        load_plan(plan)
    return ei.value


def test_an_invalid_english_plan_reads_its_errors_in_english(tmp_path: Path) -> None:
    i18n.set_report("zh")  # whatever was set before, the plan's language wins
    err = _errors(_invalid_plan(tmp_path, "en"))
    assert i18n.language() == "en"
    assert err.message.startswith("2 problem(s) found in the plan assumptions")
    messages = [p.message for p in err.problems]
    assert "unknown key 'cushion'" in messages
    assert "'cushion_pct' must be >= 0" in messages


def test_an_invalid_chinese_plan_reads_its_errors_in_chinese(tmp_path: Path) -> None:
    err = _errors(_invalid_plan(tmp_path, "zh"))
    assert i18n.language() == "zh"
    assert i18n.units() == "万"  # the Chinese default unit, as for a valid plan
    expected = tr("unknown key '{key}'").format(key="cushion")
    assert expected != "unknown key 'cushion'"  # the catalogue has it
    assert expected in [p.message for p in err.problems]
    assert err.message == tr("{n} problem(s) found in the plan assumptions in {file}").format(
        n=2, file=tmp_path / "plan.yaml"
    )


@pytest.mark.parametrize(
    "text",
    [
        "base: &a {language: en}\nreport: *a\n",  # an alias: refused, never expanded
        "report: {language: fr}\nfiscal_year: x\n",  # not a report language
        "- report\n",  # not a mapping
    ],
    ids=["alias", "unknown-language", "list"],
)
def test_an_unreadable_language_falls_back_to_the_default(tmp_path: Path, text: str) -> None:
    p = tmp_path / "plan.yaml"
    p.write_text(text, encoding="utf-8")
    i18n.set_report("en")
    use_plan_language(p)
    assert i18n.language() == i18n.LANGUAGES[0]


@pytest.mark.parametrize(
    "text",
    [
        "report: {language: en\n",  # not YAML
        "report:\n  units: 元\n  language: en\n" + "#" * MAX_SETTINGS_BYTES + "\n",  # too large
        'report: {language: en}\nname: "\xff"\n',  # not UTF-8 below (written as bytes)
    ],
    ids=["broken", "huge", "not-utf8"],
)
def test_a_plan_yaml_cannot_read_still_gives_its_language(tmp_path: Path, text: str) -> None:
    """A plan whose YAML cannot be read at all (refused by size before parsing, not YAML, not
    UTF-8): its ``report: language`` is found by pattern in its first MB, so that the errors
    about it read in its language."""
    p = tmp_path / "plan.yaml"
    p.write_bytes(text.encode("utf-8").replace("\xff".encode(), b"\xff"))
    i18n.set_report("zh")
    use_plan_language(p)
    assert i18n.language() == "en"
