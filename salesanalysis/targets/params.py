"""The parameters of notebook 03 (target decomposition), validated."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from salesanalysis.errors import PlanError
from salesanalysis.i18n import N_, tr

__all__ = ["TargetParams", "target_parameters"]


@dataclass(frozen=True)
class TargetParams:
    """Validated parameters of notebook 03 (see :func:`target_parameters`)."""

    period: str
    scenario_name: str
    explain_rep: str
    forecast_from_cutoff: bool


def target_parameters(
    *,
    period: str = "",
    scenario_name: str = "",
    explain_rep: str = "",
    forecast_from_cutoff: bool = True,
) -> TargetParams:
    """Check the notebook's parameters; raise :class:`PlanError` with the fix when malformed."""

    def bad(name: str, value: Any, expected: str) -> PlanError:
        return PlanError(
            tr("the notebook parameter '{name}' is {value}, which is not {expected}").format(
                name=name, value=repr(value), expected=tr(expected)
            ),
            fix=tr("set '{name}' to {expected} (parameters cell or `-p {name} ...`)").format(
                name=name, expected=tr(expected)
            ),
        )

    if not isinstance(period, str) or (
        period and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period)
    ):
        raise bad("period", period, N_('a month "YYYY-MM" or ""'))
    if (
        not isinstance(scenario_name, str)
        or re.search(r'[\\/:*?"<>|\x00-\x1f]', scenario_name)
        or scenario_name.startswith(".")
        or len(scenario_name) > 100
    ):
        raise bad("scenario_name", scenario_name, N_('a short name usable as a file name, or ""'))
    if not isinstance(explain_rep, str):
        raise bad("explain_rep", explain_rep, N_('a rep_id or ""'))
    if not isinstance(forecast_from_cutoff, bool):
        raise bad("forecast_from_cutoff", forecast_from_cutoff, N_("True or False"))
    return TargetParams(period, scenario_name.strip(), explain_rep.strip(), forecast_from_cutoff)
