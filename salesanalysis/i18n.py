"""The report's language and money unit: gettext message catalogues, read with Babel.

Source strings are English. In the package they are written ``tr("Forecast used: {source}.")``
and filled with ``.format(...)`` after translation (never an f-string inside ``tr()``); a string
kept in a constant is marked ``N_("...")`` and translated where it is shown. In notebooks the
markdown cells are translated paragraph by paragraph (a paragraph is a block between blank
lines), and code cells use ``tr()`` like the package (not ``_``, which IPython
rebinds to the last output). Column headers are looked up with the
message context ``column`` (msgid = the column name, e.g. ``target_revenue``).

Translations live in ``salesanalysis/locale/<language>/LC_MESSAGES/<domain>.po``, one domain
per step so that work on one step never touches another's file (see :data:`DOMAINS`). At run
time the domains of a language are merged into one table.

- ``python -m salesanalysis.i18n update`` brings every catalogue up to date with the sources:
  new msgids are added untranslated, msgids no longer in the sources are dropped, column
  entries (context ``column``) and translations are kept.
- ``python -m salesanalysis.i18n check [DOMAIN...]`` lists what is missing, untranslated, fuzzy or has
  placeholders that differ from the msgid, and exits 1 if anything is (the test suite runs it).

The language and the money unit are process-wide settings (:func:`set_report`): the CLI sets
them from the plan's ``report:`` section, a notebook through ``open_run``. Until set, the
language is the source language (English) and amounts are shown in full.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "COLUMN",
    "DOMAINS",
    "LANGUAGES",
    "SOURCE_LANGUAGE",
    "UNITS",
    "N_",
    "check",
    "column",
    "currency_suffix",
    "leaked_words",
    "extract",
    "hidden_messages",
    "language",
    "main",
    "visible_text",
    "set_report",
    "set_report_from_outputs",
    "set_report_from_plan",
    "tr",
    "translate_markdown",
    "translate_notebook",
    "units",
    "update",
]

LANGUAGES = ("zh", "en")
"""Report languages; the first is the default of a plan without ``report: language``."""
SOURCE_LANGUAGE = "en"
"""The language the source strings are written in: it needs no catalogue."""
UNITS = {"元": "", "万": "万", "亿": "亿", "yuan": "", "wan": "万", "yi": "亿"}
"""``report: units`` values: amounts in full with separators, in 万 or in 亿."""
COLUMN = "column"
"""The message context of column headers."""

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
LOCALE = PACKAGE / "locale"

# domain -> source paths (relative to the repository root, prefixes) whose strings it holds;
# a path matched by no domain belongs to "common".
DOMAINS: dict[str, tuple[str, ...]] = {
    "market": (
        "salesanalysis/market/",
        "salesanalysis/report/charts/market.py",
        "notebooks/01_",
    ),
    "forecast": (
        "salesanalysis/forecast/",
        "salesanalysis/report/charts/forecast.py",
        "notebooks/02_",
    ),
    "targets": (
        "salesanalysis/targets/",
        "salesanalysis/execution/",
        "salesanalysis/report/charts/targets.py",
        "salesanalysis/report/charts/execution.py",
        "notebooks/03_",
    ),
    "review": (
        "salesanalysis/review/",
        "salesanalysis/report/charts/review.py",
        "notebooks/04_",
    ),
    "common": (),
}

_state: dict[str, str | None] = {"language": SOURCE_LANGUAGE, "units": None}


def set_report(language: str | None = None, units: str | None = None) -> None:
    """Set the report language (``zh``/``en``) and money unit (a :data:`UNITS` key)."""
    if language is not None:
        if language not in LANGUAGES:
            raise ValueError(f"report language must be one of {', '.join(LANGUAGES)}")
        _state["language"] = language
    if units is not None:
        if units not in UNITS:
            raise ValueError(f"report units must be one of {', '.join(UNITS)}")
        _state["units"] = UNITS[units]


def set_report_from_plan(plan: dict | None) -> None:
    """Set language and units from a plan as plain data (``plan.json``, ``Plan.to_dict()``);
    a run without a plan reads in the default language (:data:`LANGUAGES`\\ [0])."""
    report = (plan or {}).get("report") or {}
    lang = report.get("language") or LANGUAGES[0]
    default_units = "万" if lang == "zh" else "元"
    set_report(lang, report.get("units") or default_units)


def set_report_from_outputs(outputs: Path | str) -> None:
    """Set language and units from a run's ``outputs/plan.json`` (the defaults without one)."""
    try:
        plan = json.loads((Path(outputs) / "plan.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        plan = None
    set_report_from_plan(plan if isinstance(plan, dict) else None)


def language() -> str:
    """The current report language."""
    return str(_state["language"])


def units() -> str | None:
    """The report's money scale: ``""`` (in full), ``"万"`` or ``"亿"``; None until set."""
    return _state["units"]


def currency_suffix(currency: str) -> str:
    """How the currency reads after an amount: ``元`` for CNY in Chinese, else the code."""
    return "元" if currency == "CNY" and language() == "zh" else currency


@dataclass(frozen=True)
class _Entry:
    msgid: str
    msgstr: str
    context: str | None
    fuzzy: bool
    locations: tuple[tuple[str, int], ...] = ()


def _po_path(lang: str, domain: str) -> Path:
    return LOCALE / lang / "LC_MESSAGES" / f"{domain}.po"


def _read_po(path: Path) -> list[_Entry]:
    from babel.messages.pofile import read_po

    if not path.exists():
        return []
    with path.open("rb") as fh:
        cat = read_po(fh)
    out = []
    for m in cat:
        if not m.id:
            continue
        out.append(
            _Entry(
                str(m.id),
                str(m.string or ""),
                m.context,
                m.fuzzy,
                tuple(m.locations),
            )
        )
    return out


@cache
def _table(lang: str) -> dict[tuple[str | None, str], str]:
    table: dict[tuple[str | None, str], str] = {}
    if lang == SOURCE_LANGUAGE:
        return table
    for domain in DOMAINS:
        for e in _read_po(_po_path(lang, domain)):
            if e.msgstr and not e.fuzzy:
                table.setdefault((e.context, e.msgid), e.msgstr)
    return table


def tr(msgid: str) -> str:
    """The current language's translation of ``msgid`` (``msgid`` itself when there is none)."""
    if _state["language"] == SOURCE_LANGUAGE:
        return msgid
    return _table(language()).get((None, msgid), msgid)


def N_(msgid: str) -> str:
    """Mark a string for the catalogue without translating it here (constants)."""
    return msgid


def column(name: str, fallback: str | None = None) -> str | None:
    """The header of column ``name`` in the current language: the catalogue's ``column``
    entry; ``fallback`` (or None) when there is none or the language is the source."""
    if _state["language"] == SOURCE_LANGUAGE:
        return fallback
    return _table(language()).get((COLUMN, name), fallback)


_BLANK_LINE = re.compile(r"\n[ \t]*\n")


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in _BLANK_LINE.split(text) if p.strip()]


def translate_markdown(text: str) -> str:
    """A markdown cell's text in the current language, paragraph by paragraph."""
    if _state["language"] == SOURCE_LANGUAGE:
        return text
    parts = _BLANK_LINE.split(text)
    return "\n\n".join(tr(p.strip()) if p.strip() else p for p in parts)


def translate_notebook(nb: dict) -> dict:
    """Translate a notebook's markdown cells in place (and return it)."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            src = cell.get("source", "")
            text = "".join(src) if isinstance(src, list) else src
            cell["source"] = translate_markdown(text)
    return nb


# -- what a rendered page shows that is not in its language ----------------------------------

_HIDDEN = re.compile(r"<(script|style|svg)\b.*?</\1\s*>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z'’]+")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
# names a reader may have to type as they are: file names, snake_case keys and parameters
_IDENTIFIER = re.compile(
    r"[A-Za-z0-9_.-]+\.(?:yaml|yml|csv|xlsx|xls|parquet|json|ipynb|html|log|pdf)\b"
    r"|\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b"
    r"|(?<![\w.])(?:/[A-Za-z0-9_.-]+){2,}/?"  # a folder path
)


def visible_text(markup: str) -> str:
    """The text a reader sees on an HTML page (scripts, styles and inline SVG removed)."""
    import html as _html

    return _html.unescape(_TAG.sub(" ", _HIDDEN.sub(" ", markup)))


def leaked_words(markup: str, lang: str, allowed: Iterable[str] = ()) -> list[str]:
    """Words on a page that are not in ``lang``: Latin words (2+ letters) on a Chinese page,
    runs of Chinese characters on an English one, except those inside an ``allowed`` label
    (data labels such as region or product names, currency codes, model names) and names a
    reader types as they are (file names, folder paths, snake_case keys and parameters)."""
    text = _IDENTIFIER.sub(" ", visible_text(markup))
    allowed = set(allowed)
    pattern = _LATIN_WORD if lang == "zh" else _CJK_RUN
    words = set(pattern.findall(text))
    ok: set[str] = set()
    for label in allowed:
        ok.update(pattern.findall(str(label)))
    return sorted(w for w in words if w not in ok)


# -- the catalogues: extraction, update and check ---------------------------------------------

_KEYWORDS = {"tr": None, "N_": None}
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _domain_of(rel: str) -> str:
    for domain, prefixes in DOMAINS.items():
        if any(rel.startswith(p) for p in prefixes):
            return domain
    return "common"


def _python_messages(source: str) -> Iterator[tuple[int, str]]:
    from babel.messages.extract import extract_python

    for lineno, _funcname, message, _comments in extract_python(
        io.BytesIO(source.encode("utf-8")), _KEYWORDS, [], {}
    ):
        if isinstance(message, str) and message:
            yield lineno, message


def _notebook_messages(path: Path) -> Iterator[tuple[int, str]]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb.get("cells", []), start=1):
        src = cell.get("source", "")
        text = "".join(src) if isinstance(src, list) else src
        if cell.get("cell_type") == "markdown":
            for p in _paragraphs(text):
                yield i, p
        elif cell.get("cell_type") == "code":
            for _line, message in _python_messages(text):
                yield i, message


def _sources(root: Path) -> Iterable[Path]:
    yield from sorted((root / "salesanalysis").rglob("*.py"))
    yield from sorted((root / "notebooks").glob("*.ipynb"))


_CALL_IN_FSTRING = re.compile(r"\b(?:tr|N_)\(\s*[rRuU]?['\"]")


def _hidden_calls(source: str) -> Iterator[int]:
    """Lines of ``tr("...")`` calls written inside an f-string: the extractor does not see
    them, so their text would never reach the catalogue."""
    import tokenize

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return
    for tok in tokens:
        if tok.type != tokenize.STRING:
            continue
        prefix = tok.string[: len(tok.string) - len(tok.string.lstrip("rRbBuUfF"))]
        if "f" in prefix.lower() and _CALL_IN_FSTRING.search(tok.string):
            yield tok.start[0]


def _code_of(path: Path) -> Iterator[tuple[str, str]]:
    """(where, python source) of a module, or of each code cell of a notebook."""
    if path.suffix == ".py":
        yield "", path.read_text(encoding="utf-8")
        return
    nb = json.loads(path.read_text(encoding="utf-8"))
    for i, cell in enumerate(nb.get("cells", []), start=1):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            yield f"cell {i} ", "".join(src) if isinstance(src, list) else src


def hidden_messages(root: Path = ROOT) -> list[str]:
    """Every ``tr("...")`` inside an f-string in the sources, as ``path: cell N line L``."""
    out = []
    for path in _sources(root):
        rel = path.relative_to(root).as_posix()
        if rel == "salesanalysis/i18n.py":
            continue
        for where, code in _code_of(path):
            out += [f"{rel}: {where}line {n}" for n in _hidden_calls(code)]
    return out


def extract(root: Path = ROOT) -> dict[str, dict[str, list[tuple[str, int]]]]:
    """Every source message by domain: msgid -> its locations (path, line or cell)."""
    found: dict[str, dict[str, list[tuple[str, int]]]] = {d: {} for d in DOMAINS}
    for path in _sources(root):
        rel = path.relative_to(root).as_posix()
        if rel == "salesanalysis/i18n.py":
            continue
        if path.suffix == ".ipynb":
            messages = _notebook_messages(path)
        else:
            messages = _python_messages(path.read_text(encoding="utf-8"))
        bucket = found[_domain_of(rel)]
        for line, msgid in messages:
            bucket.setdefault(msgid, []).append((rel, line))
    return found


def _write_po(path: Path, lang: str, domain: str, entries: list[_Entry]) -> None:
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po

    cat = Catalog(locale=lang, domain=domain, project="salesanalysis", fuzzy=False)
    for e in entries:
        flags = ["fuzzy"] if e.fuzzy else []
        if _PLACEHOLDER.search(e.msgid):
            flags.append("python-brace-format")
        cat.add(e.msgid, e.msgstr, locations=e.locations, flags=flags, context=e.context)
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    write_po(buf, cat, width=99, sort_output=False, include_lineno=False)
    # the header's creation date would change the file on every update
    text = re.sub(rb'"POT-Creation-Date: [^"]*"\n', b"", buf.getvalue())
    path.write_bytes(text)


def update(root: Path = ROOT, languages: Iterable[str] = LANGUAGES) -> dict[str, int]:
    """Bring the catalogues up to date with the sources; returns new untranslated msgids by
    language."""
    found = extract(root)
    added: dict[str, int] = {}
    for lang in languages:
        if lang == SOURCE_LANGUAGE:
            continue
        added[lang] = 0
        for domain, messages in found.items():
            old = {(e.context, e.msgid): e for e in _read_po(_po_path(lang, domain))}
            entries = [e for k, e in old.items() if k[0] == COLUMN]
            for msgid, locs in messages.items():
                prev = old.get((None, msgid))
                if prev is None:
                    added[lang] += 1
                entries.append(
                    _Entry(
                        msgid,
                        prev.msgstr if prev else "",
                        None,
                        prev.fuzzy if prev else False,
                        tuple(locs),
                    )
                )
            _write_po(_po_path(lang, domain), lang, domain, entries)
    _table.cache_clear()
    return added


def check(
    root: Path = ROOT,
    languages: Iterable[str] = LANGUAGES,
    domains: Iterable[str] | None = None,
) -> list[str]:
    """What is wrong with the catalogues (of ``domains``, default all): each problem as one
    line, empty when all is well."""
    found = extract(root)
    if domains is not None:
        found = {d: found[d] for d in domains}
    problems: list[str] = [
        f"{where}: tr() inside an f-string is not extracted; compute it outside the f-string"
        for where in hidden_messages(root)
        if _domain_of(where.split(":")[0]) in found
    ]
    for lang in languages:
        if lang == SOURCE_LANGUAGE:
            continue
        seen: dict[tuple[str | None, str], dict[str, str]] = {}
        for domain, messages in found.items():
            path = _po_path(lang, domain)
            rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
            have = {(e.context, e.msgid): e for e in _read_po(path)}
            for msgid, locs in messages.items():
                e = have.get((None, msgid))
                where = f"{locs[0][0]}:{locs[0][1]}"
                if e is None:
                    problems.append(f"{rel}: missing {msgid[:60]!r} ({where})")
                elif not e.msgstr or e.fuzzy:
                    state = "fuzzy" if e.fuzzy else "untranslated"
                    problems.append(f"{rel}: {state} {msgid[:60]!r} ({where})")
                elif sorted(_PLACEHOLDER.findall(msgid)) != sorted(_PLACEHOLDER.findall(e.msgstr)):
                    problems.append(f"{rel}: placeholders differ in {msgid[:60]!r} ({where})")
            for key, e in have.items():
                if e.msgstr and not e.fuzzy:
                    seen.setdefault(key, {}).setdefault(e.msgstr, domain)
            for (ctx, msgid), e in have.items():
                if ctx is None and msgid not in messages:
                    problems.append(f"{rel}: obsolete {msgid[:60]!r} (run update)")
                elif ctx == COLUMN and not e.msgstr:
                    problems.append(f"{rel}: untranslated column {msgid!r}")
        for (_ctx, msgid), versions in seen.items():
            if len(versions) > 1:  # one table at run time: the first domain's would win
                where = ", ".join(f"{d}: {t!r}" for t, d in versions.items())
                problems.append(f"{lang}: {msgid[:60]!r} is translated differently ({where})")
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m salesanalysis.i18n update|check``."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["update"]:
        added = update()
        print("; ".join(f"{lang}: {n} new msgids to translate" for lang, n in added.items()))
        return 0
    if args[:1] == ["check"]:
        problems = check(domains=args[1:] or None)
        for p in problems:
            print(p)
        print(f"{len(problems)} problems in the catalogues")
        return 1 if problems else 0
    print("usage: python -m salesanalysis.i18n update | check [DOMAIN...]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
