"""The planner's loop around the monthly run: a notebook that differs from the repository's
committed version is found (a temporary git repository), a notebook's errors give notebook
advice, and ``make lab`` works as root and passes extra arguments."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from salesanalysis.errors import (
    PIPELINE_ENV,
    InputError,
    Problem,
    in_notebook,
    notebook_advice,
    shorten,
)
from salesanalysis.paths import REPO_DIR
from salesanalysis.report.drift import notebook_drift

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env=env)


def _notebook(path: Path, sources: list[str], outputs: bool = False) -> Path:
    cells = [
        {
            "cell_type": "code",
            "id": f"c{i}",
            "metadata": {},
            "execution_count": i if outputs else None,
            "outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}]
            if outputs
            else [],
            "source": s,
        }
        for i, s in enumerate(sources)
    ]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


@needs_git
def test_an_edited_notebook_is_found_and_a_run_one_is_not(tmp_path):
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    a = _notebook(repo / "notebooks" / "01_a.ipynb", ["x = 1", "y = 2"])
    b = _notebook(repo / "notebooks" / "02_b.ipynb", ["z = 3"])
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "notebooks")
    assert notebook_drift([a, b]).changed == {}
    _notebook(b, ["z = 3"], outputs=True)  # run and saved: outputs are not edits
    assert notebook_drift([a, b]).changed == {}
    _notebook(a, ["x = 5", "y = 2"])  # an assumption typed over
    c = _notebook(repo / "notebooks" / "03_c.ipynb", ["new"])  # never committed
    drift = notebook_drift([a, b, c])
    assert drift.changed == {"notebooks/01_a.ipynb": 1, "notebooks/03_c.ipynb": -1}
    text = " ".join(drift.messages())
    assert "notebooks/01_a.ipynb differs" in text and "git checkout notebooks/01_a.ipynb" in text
    assert "03_c.ipynb is not in the repository's committed version" in text


@needs_git
def test_outside_a_repository_the_check_says_it_could_not_be_made(tmp_path):
    nb = _notebook(tmp_path / "01_a.ipynb", ["x = 1"])
    drift = notebook_drift([nb])
    assert drift.changed == {} and "not in a git repository" in drift.unchecked
    assert drift.messages() == [f"notebooks not compared with the repository: {drift.unchecked}"]


def test_without_git_the_check_says_so(tmp_path, monkeypatch):
    nb = _notebook(tmp_path / "01_a.ipynb", ["x = 1"])
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    drift = notebook_drift([nb])
    assert drift.unchecked == "git is not available on this machine"


def test_command_line_advice_becomes_notebook_advice():
    assert notebook_advice("Pass --data with the folder that holds the files.") == (
        "Set the parameter `data_dir` (parameters cell) to the folder that holds the files."
    )
    assert notebook_advice("pass --plan with the path of your plan.yaml") == (
        "set the parameter `plan_file` (parameters cell) to the path of your plan.yaml"
    )
    assert notebook_advice("Use --period 2026-09 or earlier.") == (
        'Use `period = "2026-09"` or earlier.'
    )
    assert notebook_advice("or `salesanalysis run --param horizon=...`.") == (
        "or the parameter `horizon` (parameters cell)."
    )
    # a command of its own stays as it is
    text = "Freeze it with `salesanalysis plan freeze --run <run>`."
    assert notebook_advice(text) == text


def test_notebook_advice_in_chinese():
    """The options stay `--data`, `--period 2026-09`, `salesanalysis run --param x=1` in the
    Chinese messages; the advice that replaces them reads in Chinese."""
    from salesanalysis import i18n

    i18n.set_report("zh")
    assert notebook_advice("请用 --data 指定存放交易、销售代表和市场文件的文件夹。") == (
        "请在参数单元格中把参数 `data_dir` 设为存放交易、销售代表和市场文件的文件夹。"
    )
    assert notebook_advice("请使用 --plan FILE 指定您的 plan.yaml。") == (
        "请在参数单元格中把参数 `plan_file` 设为您的 plan.yaml。"
    )
    assert notebook_advice("请使用 --period 2026-09 或更早的月份。") == (
        '请使用 `period = "2026-09"` 或更早的月份。'
    )
    assert notebook_advice("或用 `salesanalysis run --param horizon=...` 设置。") == (
        "或用 参数单元格中的参数 `horizon` 设置。"
    )
    # any other wording still names the parameter instead of the option
    assert notebook_advice("--data 指向的文件夹不存在") == "`data_dir` 指向的文件夹不存在"
    text = "请用 `salesanalysis plan freeze --run <run>` 冻结。"
    assert notebook_advice(text) == text
    # an error rendered in a planner's notebook: labels and advice in Chinese
    err = InputError("找不到数据文件夹", fix=i18n.tr("Pass plan_file (a plan YAML)."))
    assert err.render().startswith(i18n.tr("Invalid input") + ": ")
    assert "如何修正" in err.render()
    # an error renders in the language it was raised in (its message was written in it), even
    # when a run has reset the language before printing it
    i18n.set_report("en")
    english = InputError("no data", [Problem("bad", rows=[2, 3], count=9)], fix="Add some.")
    i18n.set_report("zh")
    assert english.render().splitlines() == [
        "Invalid input: no data",
        "- bad",
        "    rows: 2, 3 (of 9 rows)",
        "How to fix: Add some.",
    ]
    assert i18n.language() == "zh"
    # a long value is cut with the note in the report's language, and stays bounded
    cut = shorten("数" * 500)
    assert cut.startswith("数" * 200) and "数" * 201 not in cut and "另有 300 个字符" in cut


def test_errors_give_notebook_advice_only_in_a_planners_notebook(monkeypatch):
    err = InputError("data folder not found", fix="Pass --data with the folder.")
    assert not in_notebook()  # pytest is not a notebook kernel
    assert "--data" in err.render()

    class ZMQInteractiveShell:  # what get_ipython() returns in a Jupyter kernel
        pass

    monkeypatch.setattr("IPython.get_ipython", lambda: ZMQInteractiveShell())
    monkeypatch.delenv(PIPELINE_ENV, raising=False)
    assert in_notebook()
    assert "`data_dir`" in err.render() and "--data" not in err.render()
    assert err._render_traceback_() == err.render().splitlines()
    monkeypatch.setenv(PIPELINE_ENV, "1")  # a kernel the monthly run started
    assert not in_notebook() and "--data" in err.render()
    # no such attribute: IPython shows the usual traceback and reports the error's type (a
    # method that raised instead made IPython drop the error, and a skipped step failed)
    assert not hasattr(err, "_render_traceback_")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("args", ["", "--port 8890 --no-browser"])
def test_make_lab_passes_its_arguments_and_allows_root(tmp_path, args):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed").touch()  # newer than pyproject.toml: no install
    out = subprocess.run(
        ["make", "-n", "-C", str(REPO_DIR), "lab", f"VENV={venv}", f"ARGS={args}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if "jupyter lab" in x)
    assert line.split("jupyter lab", 1)[0].endswith(f"{venv}/bin/")
    assert ("--allow-root" in line) == (os.getuid() == 0)
    assert line.rstrip().endswith(
        f"jupyter lab{' --allow-root' * (os.getuid() == 0)} {args}".rstrip()
    )


@needs_git
def test_the_monthly_run_warns_about_a_saved_edit(tiny_dir, tmp_path):
    """A step notebook edited after its commit: the run says so in run.json, its log and the
    index page's notes; the next run with the notebook back as committed says nothing."""
    from salesanalysis.report.pipeline import run_pipeline

    from .nbutil import OPEN, write_notebook

    repo = tmp_path / "repo"
    nb = write_notebook(repo / "notebooks" / "01_only.ipynb", OPEN, "x = 1")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "notebooks")
    out = tmp_path / "reports"
    said: list[str] = []
    run_pipeline("2025-02", tiny_dir, None, out, notebooks_dir=nb.parent, echo=said.append)
    run = json.loads((out / "2025-02" / "run.json").read_text(encoding="utf-8"))
    assert run["notebook_drift"]["changed"] == {} and run["notebook_drift"]["notes"] == []

    write_notebook(nb, OPEN, "x = 2")  # an assumption typed over and saved
    said.clear()
    run_pipeline("2025-02", tiny_dir, None, out, notebooks_dir=nb.parent, echo=said.append)
    folder = out / "2025-02"
    run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert run["notebook_drift"]["changed"] == {"notebooks/01_only.ipynb": 1}
    note = run["notebook_drift"]["notes"][0]
    assert note in run["notes"]
    assert "01_only" in note
    assert any("warning: notebooks/01_only.ipynb differs" in s for s in said)
    assert "notebooks/01_only.ipynb differs" in (folder / "run.log").read_text(encoding="utf-8")
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "01_only" in page
