"""Every pipeline notebook is a clean template: one parameters cell, annotated, no outputs."""

from __future__ import annotations

import ast
import json

import pytest

from salesanalysis.paths import NOTEBOOKS_DIR
from salesanalysis.report.pipeline import discover_steps

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
COMMON = {"period", "run_dir", "data_dir", "plan_file"}


def test_pipeline_steps_are_the_four_steps_in_order():
    assert [s.stem for s in discover_steps()] == [
        "01_market_analysis",
        "02_forecast",
        "03_target_decomposition",
        "04_performance_review",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_template(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = nb["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell tagged 'parameters'"
    assert not any(
        c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code"
    ), "notebooks are committed without outputs"
    src = "".join(tagged[0]["source"])
    tree = ast.parse(src)
    names = set()
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign), (
            f"parameters are annotated assignments: {ast.unparse(node)}"
        )
        names.add(node.target.id)
    assert COMMON <= names, f"missing common parameters: {COMMON - names}"
    for line in src.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert "#" in line, f"each parameter has a comment: {line!r}"
    # thin notebooks: no long function definitions
    for c in cells:
        if c["cell_type"] != "code":
            continue
        try:
            body = ast.parse("".join(c["source"]))
        except SyntaxError:  # IPython magics
            continue
        for node in ast.walk(body):
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                assert node.end_lineno - node.lineno < 8, (
                    f"{path.name}: move {node.name} into the package"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_papermill_reads_every_parameter(path, caplog):
    """papermill --help-notebook documents every parameter (comments with '=' or quotes break it)."""
    import papermill as pm

    params = pm.inspect_notebook(str(path))
    nb = json.loads(path.read_text(encoding="utf-8"))
    src = "".join(
        next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))[
            "source"
        ]
    )
    names = {n.target.id for n in ast.parse(src).body}
    assert set(params) == names
    assert all(p["help"] for p in params.values()), "each parameter has a comment"
    assert "Unable to parse" not in caplog.text
