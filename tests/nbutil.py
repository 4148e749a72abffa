"""Write small notebooks for pipeline tests."""

from __future__ import annotations

from pathlib import Path

import nbformat as nbf

PARAMS = (
    'period: str = ""  # report month\nrun_dir: str = "."  # run folder\n'
    'data_dir: str = ""  # data folder\nplan_file: str = ""  # plan file'
)


def write_notebook(path: Path, *cells: str, markdown: str = "# Step") -> Path:
    nb = nbf.v4.new_notebook()
    p = nbf.v4.new_code_cell(PARAMS)
    p.metadata["tags"] = ["parameters"]
    nb.cells = [nbf.v4.new_markdown_cell(markdown), p, *(nbf.v4.new_code_cell(c) for c in cells)]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    nbf.write(nb, path)
    return path


OPEN = "from salesanalysis.data.context import open_run\nctx = open_run(period, run_dir, data_dir, plan_file or None)"
