"""The report's language: message catalogues complete, markdown translated by paragraph, one
money format, the plan's ``report:`` section validated, leaks found on a rendered page."""

from __future__ import annotations

import pytest

from salesanalysis import i18n
from salesanalysis.report.formatting import money, table, unit_note
from salesanalysis.targets.plan import PlanError, load_plan, plan_from_dict

PENDING: set[str] = set()
"""Domains whose sources are still being moved to the catalogue (strict xfail: remove a domain
here once its catalogue is complete)."""


@pytest.mark.parametrize(
    "domain",
    [
        pytest.param(d, marks=pytest.mark.xfail(strict=True, reason="being translated"))
        if d in PENDING
        else d
        for d in sorted(i18n.DOMAINS)
    ],
)
def test_catalogue_is_complete(domain: str):
    """Every message of the domain's sources is in the Chinese catalogue and translated, with
    the same placeholders; nothing obsolete. Fix: ``python -m salesanalysis.i18n update``,
    then translate the empty ``msgstr`` entries."""
    assert i18n.check(domains=[domain]) == []


def test_markdown_is_translated_paragraph_by_paragraph(monkeypatch):
    table_ = {(None, "First paragraph."): "第一段。", (None, "- a\n- b"): "- 甲\n- 乙"}
    monkeypatch.setattr(i18n, "_table", lambda lang: table_)
    text = "First paragraph.\n\n- a\n- b\n\nNot in the catalogue."
    i18n.set_report("en")
    assert i18n.translate_markdown(text) == text
    i18n.set_report("zh")
    assert i18n.translate_markdown(text) == "第一段。\n\n- 甲\n- 乙\n\nNot in the catalogue."
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["First ", "paragraph."]},
            {"cell_type": "code", "source": "x = 1"},
        ]
    }
    assert i18n.translate_notebook(nb)["cells"][0]["source"] == "第一段。"
    assert nb["cells"][1]["source"] == "x = 1"


def test_one_money_format_per_report():
    assert money(123_456_789) == "123,456,789 CNY"  # units not set: in full, as before
    i18n.set_report("zh", "万")
    assert money(123_456_789) == "12,345.7万元"
    assert money(123_456_789, scale="auto") == "12,345.7万元"  # auto follows the report
    assert money(-5_000, "USD", signed=True) == "-0.5万 USD"
    assert unit_note("CNY") == "（金额单位：万元）"
    i18n.set_report("en", "元")
    assert money(123_456_789, scale="auto") == "123,456,789 CNY"
    assert unit_note("CNY") == " (amounts in CNY)"
    i18n.set_report("zh", "亿")
    html = table(
        __import__("pandas").DataFrame({"region": ["华北"], "target_revenue": [2.5e8]}),
        money=["target_revenue"],
        unit="CNY",
    ).to_html()
    assert "2.50亿" in html and "金额单位：亿元" in html


def test_plan_report_section():
    plan = load_plan("data/sample/plan.yaml")
    assert plan.report.language == "zh" and plan.report.money_units == "万"
    data = plan.to_dict()
    data["report"] = {"language": "en"}
    en = plan_from_dict(data)
    assert en.report.money_units == "元"
    assert plan_from_dict(en.to_dict()) == en  # round-trips
    data["report"] = {"language": "fr", "units": "k"}
    with pytest.raises(PlanError) as e:
        plan_from_dict(data)
    assert "report.language" in str(e.value) and "report.units" in str(e.value)


def test_plan_sets_the_language_of_a_run(tmp_path):
    (tmp_path / "plan.json").write_text('{"report": {"language": "en"}}', encoding="utf-8")
    i18n.set_report_from_outputs(tmp_path)
    assert (i18n.language(), i18n.units()) == ("en", "")
    (tmp_path / "plan.json").write_text("{}", encoding="utf-8")
    i18n.set_report_from_outputs(tmp_path)
    assert (i18n.language(), i18n.units()) == ("zh", "万")


def test_leaked_words():
    page = (
        "<html><style>.x{color:red}</style><script>var a=1</script>"
        "<h1>目标分解</h1><p>华北 Sensors 目标 Target revenue</p></html>"
    )
    assert i18n.leaked_words(page, "zh", allowed=["Sensors"]) == ["Target", "revenue"]
    assert i18n.leaked_words(page, "en", allowed=["华北"]) == ["目标", "目标分解"]


def test_a_message_inside_an_f_string_is_reported(tmp_path):
    """``f"{tr('Targets')}"`` is invisible to the extractor (Python 3.11 tokenizes an f-string
    as one string), so the check names it."""
    (tmp_path / "salesanalysis" / "review").mkdir(parents=True)
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "salesanalysis" / "review" / "x.py").write_text(
        'a = tr("Seen")\nb = f"<h2>{tr(\'Hidden\')}</h2>"\n', encoding="utf-8"
    )
    assert i18n.hidden_messages(tmp_path) == ["salesanalysis/review/x.py: line 2"]
    assert list(i18n.extract(tmp_path)["review"]) == ["Seen"]
    problems = i18n.check(tmp_path, domains=["review"])
    assert any("inside an f-string" in p for p in problems)


def test_no_message_is_translated_two_ways():
    """At run time the domains form one table (the first domain's translation would win): a
    msgid shared by two steps has one translation."""
    assert [p for p in i18n.check() if "translated differently" in p] == []


# -- error messages go through the catalogue ----------------------------------------------------


def error_calls(root=i18n.ROOT) -> set[str]:
    """The calls whose message, ``fix`` and ``message`` arguments a reader sees:
    :class:`Problem` and every class of the package derived from ``SalesAnalysisError``
    (found in the sources, so a new error class is covered without listing it)."""
    import ast

    bases: dict[str, set[str]] = {}
    for path in (root / "salesanalysis").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names = {
                    b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases
                }
                bases[node.name] = names
    found = {"SalesAnalysisError"}
    while True:
        more = {c for c, b in bases.items() if b & found} - found
        if not more:
            return found | {"Problem"}
        found |= more


def _literal_texts(node):
    """The parts of an argument that are text written in the code (not through ``tr``)."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if any(c.isalpha() for c in node.value):
            yield node
    elif isinstance(node, ast.JoinedStr):
        yield node
    elif isinstance(node, ast.BinOp):
        yield from _literal_texts(node.left)
        yield from _literal_texts(node.right)
    elif isinstance(node, ast.IfExp):
        yield from _literal_texts(node.body)
        yield from _literal_texts(node.orelse)
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
    ):
        yield from _literal_texts(node.func.value)


def untranslated_errors(root=i18n.ROOT) -> list[str]:
    """``file:line`` of each error message (the first argument or ``fix=``/``message=`` of an
    error or :class:`Problem`, the message of a plan checker's ``add``) written as plain text
    instead of ``tr("...")``."""
    import ast

    out, calls = [], error_calls(root)
    for path in sorted((root / "salesanalysis").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            name = (
                f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            )
            if name in calls:
                args = node.args[:1]
            elif name == "add" and len(node.args) >= 2:  # plan checkers: add(path, message)
                args = node.args[1:2]
            else:
                continue
            args += [k.value for k in node.keywords if k.arg in ("message", "fix")]
            for a in args:
                for lit in _literal_texts(a):
                    out.append(f"{rel}:{lit.lineno}")
    return out


def test_error_messages_go_through_the_catalogue():
    """Every error a reader sees is written ``tr("...")`` so that it reads in the report's
    language (checked statically: a message written as a plain string or f-string fails)."""
    assert untranslated_errors() == []
