"""Step 03, targets: the plan's assumptions (``plan.yaml``), the top-down decomposition into
month x region x product line x customer type x rep targets, the allocation kernels (IPF,
largest-remainder rounding, feasibility), rep capacity, and the plan of record.

Modules: ``plan`` (load and validate ``plan.yaml``), ``decompose`` (the decomposition),
``kernels`` (numeric kernels shared with re-planning), ``capacity`` (fte x active share x ramp),
``record`` (freeze, adopt and apply the plan of record).
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
