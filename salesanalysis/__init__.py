"""salesanalysis: a parameterized Jupyter workbook for sales planning.

Market analysis, forecasting, target decomposition and performance review, run by papermill
into a reproducible monthly HTML report. The public entry points:

- :func:`salesanalysis.data.context.open_run`: what a notebook works with (cube, inputs, outputs).
- :func:`salesanalysis.forecast.engine.forecast`: the forecasting engine on a long frame.
- :func:`salesanalysis.targets.decompose.decompose`: company plan -> targets per cell, rep and month.
- :func:`salesanalysis.report.pipeline.run_pipeline`: the monthly run (also `salesanalysis run`).
"""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("salesanalysis")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["__version__"]
