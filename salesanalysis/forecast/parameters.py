"""Parameters of the forecast step (notebook 02): checked, with the plan's defaults filled in
(:func:`forecast_parameters`), as keyword arguments for the hierarchical forecast.

Precedence, for the settings ``plan.yaml`` has under ``forecast:`` (``horizon``, ``levels``,
``accuracy_origins``, ``method``, ``detail``): a notebook parameter set explicitly (in the
parameters cell, with ``salesanalysis run --param NAME=VALUE`` or ``papermill -p``) wins; a
parameter left at its "take the plan's" default (``0``, ``""`` or ``-1``) takes the plan's
value; without a plan, the built-in default (12, [80, 95], 1, ``default``, ``bottom``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from salesanalysis.forecast import _models as fm
from salesanalysis.forecast.reconcile import _RECONCILIATIONS
from salesanalysis.forecast.series import HierarchyError
from salesanalysis.i18n import tr

__all__ = ["ForecastParams", "forecast_parameters"]


@dataclass(frozen=True)
class ForecastParams:
    """Validated parameters of the forecast step (see :func:`forecast_parameters`)."""

    horizon: int
    levels: tuple[int, ...]
    models: tuple[str, ...] | None
    method: str
    n_origins: int
    detail: str
    reconciliation: str
    accuracy_origins: int
    n_jobs: int | None
    scheduler: str | None

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`forecast_hierarchy` (after ``cube, cutoff``)."""
        return {
            "horizon": self.horizon,
            "levels": self.levels,
            "models": self.models,
            "method": self.method,
            "n_origins": self.n_origins,
            "detail": self.detail,
            "reconciliation": self.reconciliation,
            "accuracy_origins": self.accuracy_origins,
            "n_jobs": self.n_jobs,
            "scheduler": self.scheduler,
        }


_IN_PLAN = ("horizon", "levels", "accuracy_origins", "method", "detail")
"""The parameters whose default comes from ``forecast:`` in plan.yaml."""


def _param_error(name: str, value: Any, expected: str) -> HierarchyError:
    where = f"`salesanalysis run --param {name}=...`"
    if name in _IN_PLAN:
        where = tr("{key} in plan.yaml, or {option}").format(key=f"forecast.{name}", option=where)
    return HierarchyError(
        tr("The notebook parameter '{name}' is {value}, which is not {expected}.").format(
            name=name, value=repr(value), expected=expected
        ),
        fix=tr("Set '{name}' to {expected}: {where}.").format(
            name=name, expected=expected, where=where
        ),
    )


def forecast_parameters(
    *,
    horizon: int = 0,
    levels: str | Sequence[int] = "",
    models: str | Sequence[str] = "",
    method: str = "",
    backtest_origins: int = 3,
    detail: str = "",
    reconciliation: str = "mint_shrink",
    accuracy_origins: int = -1,
    n_jobs: int = 0,
    scheduler: str = "",
    plan: Any = None,
) -> ForecastParams:
    """Check the notebook's parameters and fill the defaults from the plan.

    ``horizon=0``, ``levels=""``, ``accuracy_origins=-1``, ``method=""`` and ``detail=""`` take
    the plan's ``forecast.horizon`` / ``levels`` / ``accuracy_origins`` / ``method`` /
    ``detail`` (12, [80, 95], 1, ``default`` and ``bottom`` without a plan); a value set
    explicitly wins over the plan's. ``models=""`` lets the engine use its default candidates;
    ``levels`` and ``models`` may be comma-separated strings; ``n_jobs=0`` uses all cores;
    ``scheduler=""`` runs on local processes.

    Raises:
        HierarchyError: a parameter is malformed (the message names it and the fix).
    """
    fs = getattr(plan, "forecast", None)
    try:
        h = int(horizon)
    except (TypeError, ValueError):
        raise _param_error("horizon", horizon, tr("a whole number of months")) from None
    if h == 0:
        h = int(getattr(fs, "horizon", 12))
    if not 1 <= h <= 60:
        raise _param_error("horizon", horizon, tr("between 1 and 60 months (0 = the plan's)"))
    if isinstance(levels, str):
        raw = [x for x in levels.replace(";", ",").split(",") if x.strip()]
    else:
        raw = list(levels)
    if not raw:
        raw = list(getattr(fs, "levels", (80, 95)))
    try:
        lv = tuple(sorted({int(str(x).strip().rstrip("%")) for x in raw}))
    except ValueError:
        raise _param_error("levels", levels, tr("a list of percentages like '80,95'")) from None
    if any(not 1 <= x <= 99 for x in lv):
        raise _param_error("levels", levels, tr("percentages between 1 and 99, like '80,95'"))
    if isinstance(models, str):
        mods = tuple(x.strip() for x in models.split(",") if x.strip())
    else:
        mods = tuple(str(x) for x in models)
    detail = detail or str(getattr(fs, "detail", "bottom"))
    if detail not in ("bottom", "cell"):
        raise _param_error("detail", detail, tr("'bottom' or 'cell'"))
    if reconciliation not in _RECONCILIATIONS:
        raise _param_error(
            "reconciliation", reconciliation, tr(" or ").join(repr(x) for x in _RECONCILIATIONS)
        )
    if isinstance(accuracy_origins, int | np.integer) and accuracy_origins == -1:
        accuracy_origins = int(getattr(fs, "accuracy_origins", 1))
    for name, v, lo in (
        ("backtest_origins", backtest_origins, 1),
        ("accuracy_origins", accuracy_origins, 0),
        ("n_jobs", n_jobs, 0),
    ):
        if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < lo:
            expected = tr("a whole number >= {n}").format(n=lo)
            if name == "accuracy_origins":
                expected = tr("a whole number >= {n} (-1 takes the plan's)").format(n=lo)
            raise _param_error(name, v, expected)
    if method == "":
        method = str(getattr(fs, "method", "default"))
    if method not in fm.METHODS:
        raise _param_error("method", method, tr(" or ").join(repr(x) for x in fm.METHODS))
    sched = str(scheduler or "").strip() or None
    if sched is not None and "://" not in sched:
        raise _param_error(
            "scheduler", scheduler, tr("a Dask address like 'tcp://host:8786' or ''")
        )

    return ForecastParams(
        horizon=h,
        levels=lv,
        models=mods or None,
        method=method,
        n_origins=int(backtest_origins),
        detail=detail,
        reconciliation=reconciliation,
        accuracy_origins=int(accuracy_origins),
        n_jobs=int(n_jobs) or None,
        scheduler=sched,
    )
