"""The data contract: readers and validation of the raw inputs (transactions, reps, market,
``mapping.yaml``), the fast Arrow ingestion, the monthly cube and customer cube, the one
customer-counting rule, the run context that hands the normalised frames to the steps, and the
seeded sample company.

Modules:

- ``contract``: the schemas of the input tables (columns, required, numeric, dates, keys).
- ``rules``: reader rules shared by the pandas readers and the fast path (labels, blanks,
  delimiter, column renaming, hire dates, cross-table checks).
- ``mapping``: ``mapping.yaml`` and finding each input file.
- ``readers``: the pandas readers and ``load_dataset`` (read + validate once).
- ``ingest``: the Arrow fast path behind ``load_cubes`` (falls back to the readers).
- ``cube``: the monthly cube and the customer cube.
- ``counting``: active customers, activation months, home cells.
- ``context``: ``prepare`` (writes ``outputs/``) and ``open_run`` (what notebooks read).
- ``sample``: the sample company's generator (``python -m salesanalysis.data.sample``).
"""

from salesanalysis.data.context import RunContext, latest_complete_month, open_run, prepare
from salesanalysis.data.counting import (
    activation_months,
    activations,
    active_customers,
    home_cells,
)
from salesanalysis.data.cube import (
    KEYS,
    MIX_COLUMNS,
    UNSPECIFIED,
    build_cube,
    build_customer_cube,
    build_order_counts,
    build_product_cube,
    product_mix,
)
from salesanalysis.data.ingest import Ingested, load_cubes
from salesanalysis.data.readers import (
    Dataset,
    load_dataset,
    read_market,
    read_reps,
    read_table,
    read_transactions,
    sha256_file,
)

__all__ = [
    "Dataset",
    "Ingested",
    "KEYS",
    "RunContext",
    "activation_months",
    "activations",
    "active_customers",
    "build_cube",
    "build_product_cube",
    "product_mix",
    "MIX_COLUMNS",
    "UNSPECIFIED",
    "build_customer_cube",
    "build_order_counts",
    "home_cells",
    "latest_complete_month",
    "load_cubes",
    "load_dataset",
    "open_run",
    "prepare",
    "read_market",
    "read_reps",
    "read_table",
    "read_transactions",
    "sha256_file",
]
