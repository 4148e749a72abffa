"""The report: the pipeline that runs the step notebooks with papermill and exports them with
nbconvert into ``reports/<YYYY-MM>/``, the index page, number formatting, charts, Excel writers
and the HTML templates.

Modules: ``pipeline`` (``run_pipeline``: lock, prepare, run the steps, publish), ``index``
(headline and index pages), ``formatting`` (money, percentages, tables), ``charts`` (house
style and one module per step), ``excel`` (formatted workbooks, read back by ``plan import``),
``browser`` (headless Chromium over the DevTools pipe: PDF, overflow measurement).
"""

from salesanalysis.report.formatting import md, money, number, pct, table
from salesanalysis.report.pipeline import RunResult, discover_steps, run_pipeline

__all__ = ["RunResult", "discover_steps", "md", "money", "number", "pct", "run_pipeline", "table"]
