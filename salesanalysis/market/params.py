"""Step 01's notebook parameters, validated (``market_parameters``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from salesanalysis.errors import InputError
from salesanalysis.i18n import tr


@dataclass(frozen=True)
class MarketParams:
    """Validated parameters of the market-analysis notebook."""

    period: str
    top_n: int
    history_months: int


def market_parameters(period: str = "", top_n: int = 10, history_months: int = 36) -> MarketParams:
    """Check the notebook's own parameters (the common ones are checked by ``open_run``).

    Raises:
        InputError: a value is malformed, listing every problem at once.
    """
    from salesanalysis.errors import Problem

    problems = []
    if period and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(period).strip()):
        problems.append(
            Problem(
                tr("period {value} is not a month").format(value=repr(period)),
                fix=tr(
                    'Write it as YYYY-MM (e.g. "2026-10"), or "" for the latest complete month.'
                ),
            )
        )
    if isinstance(top_n, bool) or not isinstance(top_n, int) or not 1 <= top_n <= 1000:
        problems.append(
            Problem(
                tr("top_n = {value} must be a whole number from 1 to 1000").format(
                    value=repr(top_n)
                ),
                fix=tr("Use e.g. 10 for the ten largest customers."),
            )
        )
    if (
        isinstance(history_months, bool)
        or not isinstance(history_months, int)
        or not 12 <= history_months <= 240
    ):
        problems.append(
            Problem(
                tr("history_months = {value} must be a whole number from 12 to 240").format(
                    value=repr(history_months)
                ),
                fix=tr("Use e.g. 36 for three years."),
            )
        )
    if problems:
        raise InputError(tr("the market analysis parameters are invalid"), problems)

    return MarketParams(str(period).strip(), int(top_n), int(history_months))
