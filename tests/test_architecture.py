"""The package's layout rules (docs/ARCHITECTURE.md), checked so that they cannot drift:
no module imports a private name of another subpackage, every subpackage states its public
API, and no function grows past 120 lines."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from salesanalysis.paths import PACKAGE_DIR

SUBPACKAGES = ["data", "market", "forecast", "targets", "review", "report"]
MAX_FUNCTION_LINES = 120


def _modules() -> list[Path]:
    return sorted(PACKAGE_DIR.rglob("*.py"))


def _subpackage(path: Path) -> str | None:
    rel = path.relative_to(PACKAGE_DIR).parts
    return rel[0] if len(rel) > 1 else None


def _private_uses(path: Path, own: str | None = None) -> list[str]:
    """Private names (and names from private modules) of another subpackage used in ``path``
    (a module of subpackage ``own``; by default, of the one it lies in)."""
    own = own or _subpackage(path)
    found, aliases = [], {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("salesanalysis"):
            parts = node.module.split(".")
            for a in node.names:
                target = parts[1] if len(parts) > 1 else a.name
                private = a.name.startswith("_") or any(p.startswith("_") for p in parts[2:])
                if target != own and private:
                    found.append(f"{node.module}.{a.name}")
                aliases[a.asname or a.name] = target
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and aliases.get(node.value.id, own) != own
        ):
            found.append(f"{node.value.id}.{node.attr}")
    return found


def test_no_module_uses_a_private_name_of_another_subpackage():
    bad = {str(p.relative_to(PACKAGE_DIR)): u for p in _modules() if (u := _private_uses(p))}
    assert bad == {}


def test_the_check_above_can_fail(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from salesanalysis.forecast._models import init_worker\n"
        "from salesanalysis.data import readers as io\n"
        "io._read_table\n",
        "utf-8",
    )
    assert _private_uses(probe, own="report") == [
        "salesanalysis.forecast._models.init_worker",
        "io._read_table",
    ]
    assert _private_uses(probe, own="data") == ["salesanalysis.forecast._models.init_worker"]


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_every_subpackage_documents_and_exports_its_api(name):
    mod = importlib.import_module(f"salesanalysis.{name}")
    assert (mod.__doc__ or "").strip(), f"salesanalysis.{name} has no docstring"
    assert mod.__all__, f"salesanalysis.{name} has no __all__"
    missing = [n for n in mod.__all__ if not hasattr(mod, n)]
    assert missing == []


def test_no_function_is_longer_than_the_limit():
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE_DIR)}:{node.name} ({n} lines)")
    assert long == []


def test_notebooks_import_only_public_names():
    import json

    for nb in sorted((PACKAGE_DIR.parent / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        for cell in cells:
            if cell["cell_type"] != "code":
                continue
            tree = ast.parse("".join(cell["source"]).replace("%", "#"))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "salesanalysis"
                ):
                    names = [node.module, *(a.name for a in node.names)]
                    assert not any(p.startswith("_") for n in names for p in n.split(".")), (
                        nb.name,
                        names,
                    )
