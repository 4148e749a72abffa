"""Notebooks that differ from the repository's committed version.

A planner edits an assumption in JupyterLab and saves the notebook; the next monthly run would
use that edit without anyone noticing. :func:`notebook_drift` compares each step's notebook with
the version committed in git (``git show HEAD:<path>``), by its cells' sources only (outputs,
execution counts and metadata change whenever a notebook is run and saved, and are not edits),
and the monthly run warns about each one that differs (run.log, ``run.json``'s
``notebook_drift`` and a note on the index page). Without git, or outside a repository, it
says that the check could not be made.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Drift", "notebook_drift"]


@dataclass(frozen=True)
class Drift:
    """What the comparison found.

    Attributes:
        changed: per notebook that differs (path relative to the repository): how many cells
            differ, or -1 when the notebook is not in the committed version at all.
        unchecked: why the comparison could not be made (no git, not a repository), or ''.
    """

    changed: dict[str, int]
    unchecked: str = ""

    def messages(self) -> list[str]:
        """One line per finding, for the run's log and ``run.json``."""
        if self.unchecked:
            return [f"notebooks not compared with the repository: {self.unchecked}"]
        out = []
        for path, n in self.changed.items():
            if n < 0:
                out.append(f"{path} is not in the repository's committed version (HEAD)")
            else:
                out.append(
                    f"{path} differs from the repository's committed version (HEAD) in {n} "
                    f"cell{'s' if n != 1 else ''}: edits saved in it are used by this run "
                    f"(`git diff {path}` shows them, `git checkout {path}` undoes them)"
                )
        return out


def _sources(text: str) -> list[tuple[str, str]]:
    nb = json.loads(text)
    return [
        (c.get("cell_type", ""), "".join(c.get("source", "")).rstrip())
        for c in nb.get("cells", [])
    ]


def _cells_changed(a: list[tuple[str, str]], b: list[tuple[str, str]]) -> int:
    n = max(len(a), len(b))
    return sum(
        1 for i in range(n) if (a[i] if i < len(a) else None) != (b[i] if i < len(b) else None)
    )


def _git(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=str(cwd), capture_output=True, text=True, timeout=10)


def notebook_drift(notebooks: Iterable[Path]) -> Drift:
    """Compare each notebook with its committed version in the git repository it is in."""
    paths = [Path(p).resolve() for p in notebooks]
    if not paths:
        return Drift({})
    try:
        top = _git(["rev-parse", "--show-toplevel"], paths[0].parent)
    except (OSError, subprocess.SubprocessError):
        return Drift({}, "git is not available on this machine")
    if top.returncode != 0:
        return Drift({}, f"{paths[0].parent} is not in a git repository")
    root = Path(top.stdout.strip()).resolve()
    changed: dict[str, int] = {}
    for p in paths:
        try:
            rel = p.relative_to(root).as_posix()
        except ValueError:
            continue
        shown = _git(["show", f"HEAD:{rel}"], root)
        if shown.returncode != 0:
            changed[rel] = -1
            continue
        try:
            n = _cells_changed(_sources(shown.stdout), _sources(p.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            n = 1  # unreadable as a notebook: certainly not the committed file
        if n:
            changed[rel] = n
    return Drift(changed)
