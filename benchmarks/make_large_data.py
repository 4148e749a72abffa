"""Deterministic large sales data in the data contract, for the speed and scale benchmarks.

    .venv/bin/python benchmarks/make_large_data.py                  # 10 million lines
    .venv/bin/python benchmarks/make_large_data.py --lines 1000000  # scaled down

Writes ``benchmarks/_data/lines_<N>/`` (git-ignored): ``transactions.csv``,
``transactions.parquet`` (the same lines), ``reps.csv``, ``market.csv`` and ``plan.yaml``; the
folders ``csv/`` and ``parquet/`` beside them hold a complete data folder for each format
(hard links, no copies) so that the pipeline can be pointed at either.

The company: 200 reps in 8 regions (25 each), 12 product lines, 3 customer types, 60 months
(2021-11 to 2026-10), customers joining over time, seasonality, yearly price rises, about 1% of
lines returns (negative quantity and revenue) and 0.2% exact duplicate lines (an export glitch
the readers must count once). Market size by region and product line runs to 2026-12.

Everything is vectorised numpy and written month by month (about 170,000 lines at a time for
10 million), so memory stays small; the same seed and ``--lines`` give the same files, byte
for byte.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"

SEED = 7_2026
START_MONTH = np.datetime64("2021-11")
N_MONTHS = 60
MARKET_EXTRA_MONTHS = 2  # market estimates to 2026-12
REGIONS = ["华北", "华东", "华南", "华中", "西南", "西北", "东北", "华西"]
REGION_WEIGHT = np.array([0.18, 0.22, 0.17, 0.12, 0.10, 0.07, 0.08, 0.06])
PRODUCT_LINES = [
    "Pumps",
    "Valves",
    "Sensors",
    "Service Contracts",
    "Motors",
    "Compressors",
    "Controllers",
    "Filters",
    "Meters",
    "Spare Parts",
    "Software",
    "Training",
]
PL_WEIGHT = np.array([0.14, 0.13, 0.12, 0.10, 0.09, 0.08, 0.08, 0.07, 0.06, 0.06, 0.04, 0.03])
BASE_PRICE = np.array(
    [
        12_000.0,
        3_500.0,
        900.0,
        6_000.0,
        8_500.0,
        21_000.0,
        2_400.0,
        150.0,
        600.0,
        80.0,
        15_000.0,
        2_000.0,
    ]
)
CUSTOMER_TYPES = ["Key Account", "SMB", "Distributor"]
TYPE_WEIGHT = np.array([0.15, 0.60, 0.25])
TYPE_QTY = np.array([4.0, 1.0, 2.5])  # mean extra units per line
SEASON = np.array([0.70, 0.62, 1.00, 1.02, 1.05, 1.18, 0.95, 0.92, 1.05, 0.98, 1.08, 1.25])
N_REPS, REPS_PER_REGION = 200, 25
LINES_PER_ORDER_P = np.array([0.35, 0.30, 0.20, 0.15])  # 1..4 lines (distinct product lines)
RETURN_RATE, DUP_RATE = 0.01, 0.002
COLUMNS = [
    "date",
    "order_id",
    "customer_id",
    "customer_type",
    "region",
    "product_line",
    "rep_id",
    "quantity",
    "unit_price",
    "discount",
    "revenue",
]
SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高")
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "磊",
    "洋",
    "勇",
    "艳",
    "杰",
    "军",
    "涛",
    "明",
    "超",
    "霞",
    "平",
]

PLAN = """\
# Plan for the generated benchmark company (FY2026, made at the end of 2025).
name: FY2026 benchmark plan
fiscal_year: 2026
plan_cutoff: "2025-12"
currency: CNY
targets:
  revenue: {growth: 0.10}
  customers: {growth: 0.05}
  market_share: {value: 0.15}
allocation:
  history_window_months: 12
  key_weights: {history: 0.5, forecast: 0.3, potential: 0.2, equal: 0.0}
  potential_share: 0.35
strategies:
  - name: "Pumps list price +3%"
    segment: {product_line: Pumps}
    kind: price
    pct: 0.03
    rationale: "List price rise on all pumps from March 2026"
floors: {vs_last_year: 0.95}
caps: {vs_potential: 1.0}
cushion_pct: 0.05
reps:
  ramp_months: 6
  ramp_curve: linear
  ramp_start: 0.25
  productivity_weight: 0.3
  load_flag_pct: 0.20
phasing: history
rounding: {revenue: 1000, customers: 1}
forecast:
  horizon: 12
  levels: [80, 95]
"""


def _labels(prefix: str, n: int, width: int) -> pa.Array:
    return pa.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)])


def _customers(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Static customer master: region, type, rep, size and the month they start buying."""
    region = rng.choice(len(REGIONS), size=n, p=REGION_WEIGHT)
    ctype = rng.choice(3, size=n, p=TYPE_WEIGHT)
    rep = region * REPS_PER_REGION + rng.integers(0, REPS_PER_REGION, size=n)
    weight = rng.lognormal(0.0, 1.0, size=n) * np.array([3.0, 1.0, 2.0])[ctype]
    start = np.where(rng.random(n) < 0.6, 0, rng.integers(0, N_MONTHS, size=n))
    return {"region": region, "type": ctype, "rep": rep, "weight": weight, "start": start}


def _month_lines(
    m: int, n_lines: int, cust: dict[str, np.ndarray], order0: int, seed: int
) -> tuple[dict[str, np.ndarray], int]:
    """The order lines of month ``m`` (0-based), sorted by date; ``order0`` numbers orders."""
    rng = np.random.default_rng([seed, m])
    n_dup = int(round(n_lines * DUP_RATE))
    n_orig = n_lines - n_dup
    k = rng.choice(4, size=n_orig, p=LINES_PER_ORDER_P) + 1  # more orders than needed
    ends = np.cumsum(k)
    n_orders = int(np.searchsorted(ends, n_orig) + 1)
    k = k[:n_orders]
    k[-1] -= int(ends[n_orders - 1] - n_orig)  # cut the last order to hit the line count
    active = cust["start"] <= m
    p = np.where(active, cust["weight"], 0.0)
    order_cust = rng.choice(len(p), size=n_orders, p=p / p.sum())
    month_start = START_MONTH + m
    n_days = int(
        ((month_start + 1).astype("datetime64[D]") - month_start.astype("datetime64[D]")).astype(
            int
        )
    )
    order_day = rng.integers(0, n_days, size=n_orders)
    o = np.repeat(np.arange(n_orders), k)
    j = np.arange(n_orig) - np.repeat(np.cumsum(k) - k, k)  # position of the line in its order
    first_pl = rng.choice(len(PRODUCT_LINES), size=n_orders, p=PL_WEIGHT)
    step = np.array([1, 5, 7, 11])[rng.integers(0, 4, size=n_orders)]  # coprime with 12
    pl = (first_pl[o] + j * step[o]) % len(PRODUCT_LINES)
    c = order_cust[o]
    ctype = cust["type"][c]
    qty = 1 + rng.poisson(TYPE_QTY[ctype])
    year = (m + 10) // 12  # 2021-11 is in year 0
    price = np.round(BASE_PRICE[pl] * (1.04**year) * rng.normal(1.0, 0.03, size=n_orig), 2)
    disc = rng.choice(np.array([0.0, 0.05, 0.10]), size=n_orig, p=[0.6, 0.25, 0.15])
    ret = rng.random(n_orig) < RETURN_RATE
    qty = np.where(ret, -np.maximum(1, qty // 2), qty)
    revenue = np.round(qty * price * (1.0 - disc), 2)
    day = month_start.astype("datetime64[D]") + order_day[o]
    lines = {
        "day": day,
        "order": order0 + o,
        "cust": c,
        "type": ctype,
        "region": cust["region"][c],
        "pl": pl,
        "rep": cust["rep"][c],
        "qty": qty,
        "price": price,
        "disc": disc,
        "revenue": revenue,
    }
    order = np.lexsort((j, lines["order"], day))
    lines = {key: v[order] for key, v in lines.items()}
    if n_dup:  # exact copies, each right after its original line
        pick = np.sort(rng.choice(n_orig, size=n_dup, replace=False))
        idx = np.sort(np.concatenate([np.arange(n_orig), pick]), kind="stable")
        lines = {key: v[idx] for key, v in lines.items()}
    return lines, order0 + n_orders


def _table(lines: dict[str, np.ndarray], labels: dict[str, pa.Array]) -> pa.Table:
    order_ids = pa.array(np.char.add("SO", np.char.zfill(lines["order"].astype(str), 9)))
    return pa.table(
        {
            "date": pa.array(lines["day"].astype("datetime64[D]"), pa.date32()),
            "order_id": order_ids,
            "customer_id": labels["customer"].take(pa.array(lines["cust"])),
            "customer_type": labels["type"].take(pa.array(lines["type"])),
            "region": labels["region"].take(pa.array(lines["region"])),
            "product_line": labels["pl"].take(pa.array(lines["pl"])),
            "rep_id": labels["rep"].take(pa.array(lines["rep"])),
            "quantity": pa.array(lines["qty"].astype(np.int64)),
            "unit_price": pa.array(lines["price"]),
            "discount": pa.array(lines["disc"]),
            "revenue": pa.array(lines["revenue"]),
        }
    )


def _reps(rng: np.random.Generator) -> str:
    rows = ["rep_id,name,region,hire_date,end_date,fte"]
    for i in range(N_REPS):
        name = str(rng.choice(SURNAMES)) + "".join(rng.choice(GIVEN, size=rng.integers(1, 3)))
        hire = np.datetime64("2014-01-01") + int(rng.integers(0, 7 * 365))
        fte = "0.5" if rng.random() < 0.05 else "1.0"
        rows.append(f"R{i + 1:03d},{name},{REGIONS[i // REPS_PER_REGION]},{hire},,{fte}")
    return "\n".join(rows) + "\n"


def _market(revenue: np.ndarray, rng: np.random.Generator) -> str:
    """Market size = the company's revenue over a share per region and product line."""
    share = rng.uniform(0.08, 0.25, size=revenue.shape[1:])
    months = N_MONTHS + MARKET_EXTRA_MONTHS
    size = np.empty((months, *revenue.shape[1:]))
    size[:N_MONTHS] = np.maximum(revenue, 0) / share * rng.normal(1.0, 0.05, size=revenue.shape)
    for m in range(N_MONTHS, months):
        size[m] = size[m - 12] * 1.05
    size = np.round(np.maximum(size, 1000.0), -3)
    rows = ["period,region,product_line,market_size"]
    for m in range(months):
        period = str(START_MONTH + m)
        for r, region in enumerate(REGIONS):
            for q, pl in enumerate(PRODUCT_LINES):
                rows.append(f"{period},{region},{pl},{size[m, r, q]:.1f}")
    return "\n".join(rows) + "\n"


def generate(n_lines: int, out: Path, seed: int = SEED, echo=print) -> Path:
    """Write the data set with ``n_lines`` order lines into ``out``; returns ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_customers = max(200, min(60_000, n_lines // 160))
    cust = _customers(n_customers, rng)
    labels = {
        "customer": _labels("C", n_customers, 6),
        "type": pa.array(CUSTOMER_TYPES),
        "region": pa.array(REGIONS),
        "pl": pa.array(PRODUCT_LINES),
        "rep": _labels("R", N_REPS, 3),
    }
    trend = 1.0 + 0.01 * np.arange(N_MONTHS)
    season = SEASON[(np.arange(N_MONTHS) + 10) % 12]
    w = trend * season
    per_month = np.floor(n_lines * w / w.sum()).astype(int)
    per_month[-1] += n_lines - per_month.sum()
    revenue = np.zeros((N_MONTHS, len(REGIONS), len(PRODUCT_LINES)))
    schema = _table(_month_lines(0, 10, cust, 0, seed)[0], labels).schema
    csv_tmp, pq_tmp = out / ".transactions.csv.part", out / ".transactions.parquet.part"
    order0 = 1
    with open(csv_tmp, "wb") as fcsv, pq.ParquetWriter(pq_tmp, schema, compression="zstd") as fpq:
        fcsv.write((",".join(COLUMNS) + "\n").encode())
        opts = pacsv.WriteOptions(include_header=False, quoting_style="none")
        for m in range(N_MONTHS):
            lines, order0 = _month_lines(m, int(per_month[m]), cust, order0, seed)
            np.add.at(revenue[m], (lines["region"], lines["pl"]), lines["revenue"])
            table = _table(lines, labels)
            pacsv.write_csv(table, fcsv, opts)
            fpq.write_table(table)
            if echo and (m % 12 == 11):
                echo(f"  {m + 1} of {N_MONTHS} months written")
    os.replace(csv_tmp, out / "transactions.csv")
    os.replace(pq_tmp, out / "transactions.parquet")
    (out / "reps.csv").write_text(_reps(rng), encoding="utf-8")
    (out / "market.csv").write_text(_market(revenue, rng), encoding="utf-8")
    (out / "plan.yaml").write_text(PLAN, encoding="utf-8")
    for fmt in ("csv", "parquet"):  # one complete data folder per format, as hard links
        d = out / fmt
        d.mkdir(exist_ok=True)
        for name in ("reps.csv", "market.csv", "plan.yaml", f"transactions.{fmt}"):
            (d / name).unlink(missing_ok=True)
            os.link(out / name, d / name)
    return out


def data_dir(n_lines: int) -> Path:
    """Where the data set with ``n_lines`` lines lives."""
    return DATA / f"lines_{n_lines}"


def ensure(n_lines: int, echo=print) -> Path:
    """The data set with ``n_lines`` lines, generated when it is not there yet."""
    out = data_dir(n_lines)
    if not (out / "transactions.parquet").exists() or not (out / "market.csv").exists():
        t0 = time.perf_counter()
        echo(f"generating {n_lines:,} lines into {out} ...")
        generate(n_lines, out, echo=echo)
        echo(f"  done in {time.perf_counter() - t0:.0f} s")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=10_000_000, help="order lines (default 10M)")
    ap.add_argument("--seed", type=int, default=SEED, help="random seed")
    ap.add_argument(
        "--out", type=Path, default=None, help="folder (default benchmarks/_data/lines_N)"
    )
    args = ap.parse_args(argv)
    out = args.out or data_dir(args.lines)
    t0 = time.perf_counter()
    generate(args.lines, out, seed=args.seed)
    size = (out / "transactions.csv").stat().st_size / 1e6
    psize = (out / "transactions.parquet").stat().st_size / 1e6
    print(
        f"{args.lines:,} lines -> {out} (CSV {size:,.0f} MB, Parquet {psize:,.0f} MB) "
        f"in {time.perf_counter() - t0:.0f} s"
    )


if __name__ == "__main__":
    main()
