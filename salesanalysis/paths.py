"""Path constants, computed from the package location (never from the current directory)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
NOTEBOOKS_DIR = REPO_DIR / "notebooks"
DATA_DIR = REPO_DIR / "data"
SAMPLE_DIR = DATA_DIR / "sample"
SAMPLE_PLAN = SAMPLE_DIR / "plan.yaml"
REPORTS_DIR = REPO_DIR / "reports"

__all__ = [
    "PACKAGE_DIR",
    "REPO_DIR",
    "NOTEBOOKS_DIR",
    "DATA_DIR",
    "SAMPLE_DIR",
    "SAMPLE_PLAN",
    "REPORTS_DIR",
]
