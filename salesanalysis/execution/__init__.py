"""The method's execution half: how the organisation carries the targets out.

- :mod:`~salesanalysis.execution.strategies`: each strategy in business words (lever, segment,
  change, its effect on the targets in currency, rationale, owner), and the no-strategy
  baseline the review compares a segment's actual with.
- :mod:`~salesanalysis.execution.actions`: action plans (timetable, budget by month) and, in
  the review, each action's status, the overdue ones in lagging segments, the realised effect.
- :mod:`~salesanalysis.execution.funnel`: sales stages (conversion, deal size, cycle time), the
  reverse funnel of the targets per rep and month, pipeline coverage.
- :mod:`~salesanalysis.execution.incentives`: the commission plan's payout curve, its cost at
  the forecast and what reps earn.
- :mod:`~salesanalysis.execution.demand`: the quantities the targets imply, for production and
  logistics (``demand_plan.xlsx``), per product when the transactions name products.
- :mod:`~salesanalysis.execution.inputs`: the optional inputs (actions, action status,
  pipeline), read and checked with the other inputs.
"""

from salesanalysis.execution.actions import (
    action_plan,
    action_review,
    budget_by_month,
    overdue_callouts,
)
from salesanalysis.execution.demand import (
    DEMAND_COLUMNS,
    PRODUCT_DEMAND_COLUMNS,
    PRODUCT_NOTE,
    cell_prices,
    cell_product_shares,
    demand_plan,
    write_demand_plan,
)
from salesanalysis.execution.funnel import (
    deal_stats,
    orders_funnel,
    pipeline_coverage,
    reverse_funnel,
    stage_conversion,
    with_regions,
)
from salesanalysis.execution.incentives import (
    describe_incentives,
    payout,
    payout_curve,
    payout_multiple,
    plan_cost_summary,
    rep_earnings,
    rep_plan_cost,
)
from salesanalysis.execution.inputs import (
    STAGES,
    ExecutionInputs,
    read_execution_inputs,
)
from salesanalysis.execution.segments import segment_words
from salesanalysis.execution.strategies import (
    NO_STRATEGY,
    baseline_cells,
    strategy_table,
    targets_without,
)

__all__ = [
    "DEMAND_COLUMNS",
    "NO_STRATEGY",
    "PRODUCT_DEMAND_COLUMNS",
    "PRODUCT_NOTE",
    "STAGES",
    "ExecutionInputs",
    "action_plan",
    "action_review",
    "baseline_cells",
    "budget_by_month",
    "cell_prices",
    "cell_product_shares",
    "deal_stats",
    "describe_incentives",
    "demand_plan",
    "orders_funnel",
    "overdue_callouts",
    "payout",
    "payout_curve",
    "payout_multiple",
    "pipeline_coverage",
    "plan_cost_summary",
    "read_execution_inputs",
    "rep_earnings",
    "rep_plan_cost",
    "reverse_funnel",
    "segment_words",
    "stage_conversion",
    "strategy_table",
    "targets_without",
    "with_regions",
    "write_demand_plan",
]
