"""The data contract: the input tables, their columns (required, numeric, dates, keys), file
suffixes, encodings and null markers. See ``data/README.md``."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

MAPPING_FILE = "mapping.yaml"
SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv", ".parquet", ".xlsx", ".xlsm", ".xls")
ENCODINGS = ("utf-8", "gb18030")  # gb18030 is a superset of GBK and GB2312
NULL_MARKERS = frozenset(
    {
        "nan",
        "NaN",
        "NAN",
        "NULL",
        "null",
        "Null",
        "None",
        "none",
        "#N/A",
        "N/A",
        "n/a",
        "<NA>",
        "NaT",
        "#NULL!",
    }
)
MIN_DATE, MAX_DATE = pd.Timestamp("1990-01-01"), pd.Timestamp("2100-01-01")
MAX_AMOUNT = (
    1e15  # a line's quantity, unit price or revenue (and a market size) beyond it is refused
)
DUPLICATE_RULES = ("keep", "drop_exact")  # mapping.yaml 'duplicates:'; keep is the default


@dataclass(frozen=True)
class TableSpec:
    """Columns of one input table in the data contract."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()  # must not be empty
    numeric: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()  # at least one column of each group

    @property
    def columns(self) -> tuple[str, ...]:
        extra = tuple(c for g in self.one_of for c in g)
        return tuple(dict.fromkeys(self.required + extra + self.optional))

    @property
    def needed(self) -> tuple[str, ...]:
        """Columns a file must have (one column of each ``one_of`` group is enough)."""
        return self.required


SCHEMAS: dict[str, TableSpec] = {
    "transactions": TableSpec(
        name="transactions",
        required=(
            "date",
            "order_id",
            "customer_id",
            "customer_type",
            "region",
            "product_line",
            "rep_id",
            "quantity",
        ),
        optional=("product", "discount", "line_id"),
        keys=("order_id", "customer_id", "customer_type", "region", "product_line", "rep_id"),
        numeric=("quantity", "unit_price", "revenue", "discount"),
        dates=("date",),
        one_of=(("unit_price", "revenue"),),
    ),
    "reps": TableSpec(
        name="reps",
        required=("rep_id", "name", "region", "hire_date"),
        # a rep who changed region during the year: the region before and the first month in
        # `region` (YYYY-MM); both or neither (see data/README.md)
        optional=("end_date", "fte", "prev_region", "region_from"),
        keys=("rep_id", "region"),
        numeric=("fte",),
        dates=("hire_date", "end_date"),
    ),
    "market": TableSpec(
        name="market",
        required=("period", "region", "product_line", "market_size"),
        keys=("region", "product_line"),
        numeric=("market_size",),
    ),
    # optional inputs of the method's execution half (read by salesanalysis.execution.inputs)
    "pipeline": TableSpec(  # sales opportunities, one row each
        name="pipeline",
        required=("id", "rep_id", "customer_id", "stage", "amount", "created", "status"),
        optional=("expected_close", "close_date", "region", "product_line"),
        keys=("id", "rep_id", "stage", "status"),
        numeric=("amount",),
        dates=("created", "expected_close", "close_date"),
    ),
    "actions": TableSpec(  # action plans, one row per action (owners update them)
        name="actions",
        required=("id", "title", "owner", "start", "due"),
        optional=(
            "strategy",
            "region",
            "product_line",
            "customer_type",
            "steps",
            "budget",
            "people",
            "expected_revenue",
            "expected_customers",
            "kpi",
        ),
        keys=("id", "title", "owner"),
        numeric=("budget", "people", "expected_revenue", "expected_customers"),
        dates=("start", "due"),
    ),
    "action_status": TableSpec(  # one row per action and month: the status the team reports
        name="action_status",
        required=("action_id", "month", "status"),
        optional=("pct_done", "note"),
        keys=("action_id", "month", "status"),
        numeric=("pct_done",),
    ),
}
OPTIONAL_TABLES = ("pipeline", "actions", "action_status")
"""Inputs a company may leave out (read by :mod:`salesanalysis.execution.inputs`)."""
