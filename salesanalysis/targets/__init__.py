"""Step 03, targets: the plan's assumptions (``plan.yaml``), the top-down decomposition into
month x region x product line x customer type x rep targets, the allocation kernels (IPF,
largest-remainder rounding, feasibility), rep capacity, and the plan of record.

Modules:

- ``plan``: load and validate ``plan.yaml``.
- ``decompose``: the decomposition, :func:`decompose` running the stages below in order, and
  its result :class:`Decomposition`.
- The stages of the decomposition, in the order they run:

  - ``periods``: the plan's month windows (plan months, base window, last year, year to date).
  - ``cells``: the plan's cells: history to the cutoff, forecast coverage, the grid region x
    product line x customer type, per-cell history, last year, forecast, market potential.
  - ``company``: the company targets per measure, and the company table with its statements
    (incl. the market-share target).
  - ``keys``: the allocation keys (history, forecast, potential, equal) and blended margins.
  - ``crossing``: crossing the three dimensions by iterative proportional fitting.
  - ``strategies``: price, promotion and channel-shift strategies (mix, not total).
  - ``constraints``: pins, floors and caps, and the conflict errors.
  - ``phasing``: each cell's annual target over the plan months.
  - ``reps``: splitting a cell-month over the region's reps by capacity; rep load.
  - ``rounding``: rounding so that every level adds up exactly (with and without cushion).
  - ``customers``: customer (activation) targets by the counting rule.
  - ``segments``: the targets frame and its roll-ups per level.
  - ``checks``: every level adds up, constraints held; ``feasibility``: probability of
    reaching each target from the forecast.
  - ``explain``: why a target is what it is (parts per step), and the bridge from last year.
- ``forecast_rows``: the forecast read at one level with a normal sigma;
  ``plan_forecast``: the forecast a plan uses (the run's, or one from the plan cutoff, cached).
- ``output``: ``targets.parquet`` and the Excel workbook; ``params``: notebook 03's parameters.
- ``kernels``: numeric kernels shared with re-planning; ``capacity``: fte x active share x
  ramp; ``record``: freeze, adopt and apply the plan of record.
"""

from salesanalysis.targets.capacity import active_share, ramp_factor, rep_capacity
from salesanalysis.targets.decompose import (
    Decomposition,
    decompose,
    forecast_covers,
    forecast_for_plan,
    level_tables,
    target_parameters,
    write_targets,
)
from salesanalysis.targets.kernels import largest_remainder
from salesanalysis.targets.plan import Plan, load_plan, plan_changes, plan_from_dict, save_scenario
from salesanalysis.targets.record import adopt, apply_record, current, freeze, history

__all__ = [
    "Decomposition",
    "Plan",
    "active_share",
    "adopt",
    "apply_record",
    "current",
    "decompose",
    "forecast_covers",
    "forecast_for_plan",
    "freeze",
    "history",
    "largest_remainder",
    "level_tables",
    "load_plan",
    "plan_changes",
    "plan_from_dict",
    "ramp_factor",
    "rep_capacity",
    "save_scenario",
    "target_parameters",
    "write_targets",
]
