"""The run's HTML pages from executed notebooks: each step's business page and the appendix.

A step's page shows its business content: code, parameter cells and cells tagged
:data:`APPENDIX_TAG` are left out. Those technical cells (checks, backtest scores,
reconciliations, method details) are collected, step by step, on ``appendix.html`` together with
the run's own record (status, time and audit notebook of each step, versions, logs), for the
analyst. Every page is self-contained (images embedded, nothing fetched from another host).
"""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from salesanalysis.i18n import N_, language, tr

__all__ = [
    "APPENDIX_PAGE",
    "APPENDIX_TAG",
    "HIDDEN_TAGS",
    "STATUS_WORDS",
    "atomic_write_text",
    "export_html",
    "notebook_title",
    "write_appendix",
]

HIDDEN_TAGS = {"parameters", "injected-parameters", "remove_cell", "hide"}
"""Cells dropped from every page."""
APPENDIX_TAG = "appendix"
"""Cells shown on the appendix page instead of the step's page."""
APPENDIX_PAGE = "appendix.html"

STATUS_WORDS = (
    N_("ok"),
    N_("reused"),
    N_("skipped"),
    N_("failed"),
    N_("interrupted"),
    N_("pending"),
)
"""A run's and a step's states (``run.json``), translated where a page shows them."""

PACKAGE_DIR = Path(__file__).resolve().parent.parent


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file (never a half-written page)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _exporter(remove_tags: Iterable[str]) -> Any:
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    c = Config()
    c.TagRemovePreprocessor.enabled = True
    c.TagRemovePreprocessor.remove_cell_tags = set(remove_tags)
    c.HTMLExporter.exclude_input = True
    c.HTMLExporter.exclude_input_prompt = True
    c.HTMLExporter.exclude_output_prompt = True
    c.HTMLExporter.embed_images = True
    c.HTMLExporter.extra_template_basedirs = [str(PACKAGE_DIR / "report" / "templates")]
    c.HTMLExporter.template_name = "report"
    c.HTMLExporter.language_code = "zh-CN" if language() == "zh" else "en"
    exporter = HTMLExporter(config=c)
    exporter.register_preprocessor("nbconvert.preprocessors.TagRemovePreprocessor", enabled=True)
    return exporter


def export_html(notebook: Path, target: Path, title: str | None = None) -> Path:
    """Export an executed notebook as a self-contained business report.

    Code cells' inputs and prompts are hidden, cells tagged ``parameters``/``injected-parameters``
    and ``appendix`` are dropped, images are embedded, and nothing is loaded from another host.
    """
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    # papermill's error banner and the failing cell's traceback stay visible
    if title:
        nb.metadata["title"] = title
    nb.metadata["sa_back"] = tr("Report index")
    body, _ = _exporter(HIDDEN_TAGS | {APPENDIX_TAG}).from_notebook_node(nb)
    atomic_write_text(target, body)
    return target


def notebook_title(notebook: Path, fallback: str) -> str:
    """A step's business name: the first ``# heading`` of its notebook, translated (the
    markdown is translated by paragraph, so a heading is its own msgid)."""
    try:
        nb = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return fallback
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        src = cell.get("source", "")
        first = ("".join(src) if isinstance(src, list) else src).strip().split("\n\n")[0]
        if first.startswith("# "):
            return tr(first).removeprefix("# ").strip()
    return fallback


def _tagged(cell: Any, tag: str) -> bool:
    return tag in (cell.get("metadata", {}).get("tags") or [])


def _run_record(manifest: dict[str, Any], titles: dict[str, str]) -> str:
    """The run's record as HTML: status, steps (time, audit notebook, note), notes, files."""
    e = html.escape
    w = {
        "status": e(tr("Status")),
        "started": e(tr("started")),
        "version": e(tr("code version")),
        "step": e(tr("Step")),
        "time": e(tr("Time")),
        "notebook": e(tr("Executed notebook")),
        "note": e(tr("Note")),
        "notes": e(tr("Data notes")),
        "inputs": e(tr("Inputs, versions and parameters")),
        "logs": e(tr("logs")),
    }
    rows = []
    for s in manifest.get("steps") or []:
        nb = f'<a href="{e(s["notebook"])}">{e(s["notebook"])}</a>' if s.get("notebook") else ""
        name, state = e(titles.get(s["name"], s["name"])), e(tr(s["status"]))
        rows.append(
            f"<tr><td>{name}</td><td>{state}</td><td>{s.get('seconds', 0):.1f} s</td>"
            f"<td>{nb}</td><td>{e(s.get('error') or s.get('note') or '')}</td></tr>"
        )
    notes = "".join(f"<li>{e(n)}</li>" for n in manifest.get("notes") or [])
    commit = e(str(manifest.get("git_commit") or "–"))
    run_state = e(tr(manifest.get("status", "")))
    return (
        f"<p>{w['status']}: <b>{run_state}</b> · {w['started']} "
        f"{e(str(manifest.get('started', '')))} · {manifest.get('seconds', 0):.0f} s · "
        f"{w['version']} {commit}</p>"
        f"<table><tr><th>{w['step']}</th><th>{w['status']}</th><th>{w['time']}</th>"
        f"<th>{w['notebook']}</th><th>{w['note']}</th></tr>{''.join(rows)}</table>"
        f"<h3>{w['notes']}</h3><ul>{notes or '<li>–</li>'}</ul>"
        f'<p>{w["inputs"]}: <a href="run.json">run.json</a> · '
        f'{w["logs"]}: <a href="run.log">run.log</a>, <a href="kernel.log">kernel.log</a></p>'
    )


def write_appendix(build: Path, manifest: dict[str, Any], titles: dict[str, str]) -> Path:
    """``appendix.html``: the run's record, then each step's cells tagged ``appendix``.

    Args:
        titles: step name -> business name, for the section headings.
    """
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["title"] = tr("Technical appendix")
    nb.metadata["sa_back"] = tr("Report index")
    cells = [
        nbformat.v4.new_markdown_cell(
            "# "
            + tr("Technical appendix")
            + "\n\n"
            + tr(
                "For the analyst: how the run went, the checks behind the numbers, the "
                "forecast's accuracy and the methods used. The business pages leave them out."
            )
        ),
        nbformat.v4.new_markdown_cell("## " + tr("The run")),
        nbformat.v4.new_code_cell(
            outputs=[
                nbformat.v4.new_output(
                    "display_data", data={"text/html": _run_record(manifest, titles)}
                )
            ]
        ),
    ]
    for s in manifest.get("steps") or []:
        path = build / f"{s.get('notebook') or ''}"
        if not s.get("notebook") or not path.is_file():
            continue
        step_nb = nbformat.read(path, as_version=4)
        tagged = [c for c in step_nb.cells if _tagged(c, APPENDIX_TAG)]
        if tagged:
            title = titles.get(s["name"], s["name"])
            cells.append(nbformat.v4.new_markdown_cell(f"## {title}"))
            for c in tagged:
                c.metadata["tags"] = [t for t in c.metadata.get("tags", []) if t != APPENDIX_TAG]
                cells.append(c)
    nb.cells = cells
    body, _ = _exporter(HIDDEN_TAGS).from_notebook_node(nb)
    target = build / APPENDIX_PAGE
    atomic_write_text(target, body)
    return target
