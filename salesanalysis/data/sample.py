"""A deterministic sample company: transactions, reps, market size and the sales pipeline.

The company sells industrial equipment in five Chinese regions (labels in Chinese), four product
lines and three customer types. Its history has trend, seasonality (Chinese New Year dip, June
and year-end peaks), price changes, customers won and lost, reps hired (and ramping) and reps
who left, and returns (negative lines). Its pipeline (opportunities from lead to won order, from
:data:`PIPELINE_FROM`) is consistent with the transactions: every won opportunity is one of its
orders (same customer, rep, region, main product line, net amount and close date); lost and open
ones are drawn around them with a second generator, so the other files do not change.

    python -m salesanalysis.data.sample --out data/sample

Each line names its product (:data:`PRODUCTS`, three per product line): the band of its unit
price around the line's list price, so the products of a line have distinct average prices
without any further random draw.

The same seed always gives the same files, byte for byte.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SampleSpec", "generate", "write_sample"]

REGIONS = ["华北", "华东", "华南", "华中", "西南"]
REGION_WEIGHT = np.array([0.22, 0.30, 0.22, 0.14, 0.12])
PRODUCT_LINES = ["Pumps", "Valves", "Sensors", "Service Contracts"]
# the products of each line: the unit price's band around the line's list price (below
# PRODUCT_BANDS[0], between, above PRODUCT_BANDS[1]) names the product; no random draw, so the
# other columns are what they were before the products were added
PRODUCTS = [
    ["P-100", "P-200", "P-300"],
    ["V-100", "V-200", "V-300"],
    ["S-100", "S-200", "S-300"],
    ["SC-基础", "SC-标准", "SC-高级"],
]
PRODUCT_BANDS = (0.985, 1.015)
BASE_PRICE = np.array([12_000.0, 3_500.0, 900.0, 6_000.0])
CUSTOMER_TYPES = ["Key Account", "SMB", "Distributor"]
TYPE_WEIGHT = np.array([0.15, 0.60, 0.25])
TYPE_SIZE = np.array([6.0, 1.0, 3.0])  # relative order size
TYPE_ORDER_P = np.array([0.75, 0.30, 0.55])  # monthly order probability
# calendar-month seasonality: Chinese New Year dip, mid-year and year-end peaks
SEASON = np.array([0.70, 0.62, 1.00, 1.02, 1.05, 1.18, 0.95, 0.92, 1.05, 0.98, 1.08, 1.25])
# product-line price changes: (line index, first month, factor)
PRICE_CHANGES = [
    (0, "2023-03", 1.05),
    (2, "2024-07", 0.93),
    (1, "2025-01", 1.04),
    (3, "2026-03", 1.06),
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


@dataclass(frozen=True)
class SampleSpec:
    """Size and shape of the generated company."""

    seed: int = 20261026
    start: str = "2021-01"
    end: str = "2026-10"  # last month of transactions (complete)
    market_end: str = "2026-12"  # market estimates run to the end of the fiscal year
    pipeline_from: str = "2025-01"  # first month of orders with an opportunity in the pipeline
    n_reps: int = 30  # reps at the start; hires come on top
    n_customers_start: int = 420
    monthly_new_customers: float = 9.0
    monthly_churn: float = 0.012


def _rep_name(rng: np.random.Generator) -> str:
    return str(rng.choice(SURNAMES)) + "".join(rng.choice(GIVEN, size=rng.integers(1, 3)))


def _make_reps(spec: SampleSpec, rng: np.random.Generator, months: pd.PeriodIndex) -> pd.DataFrame:
    rows = []
    start = months[0].to_timestamp()
    for i in range(spec.n_reps):
        region = (
            REGIONS[i % len(REGIONS)]
            if i < 2 * len(REGIONS)
            else str(rng.choice(REGIONS, p=REGION_WEIGHT))
        )
        hire = start - pd.DateOffset(months=int(rng.integers(6, 60)))
        rows.append(dict(region=region, hire_date=hire, end_date=pd.NaT, fte=1.0))
    # hires during the history (they ramp), some of them replacing leavers
    for k in range(9):
        m = months[int(8 + k * (len(months) - 12) / 9)]
        region = str(rng.choice(REGIONS, p=REGION_WEIGHT))
        rows.append(
            dict(
                region=region,
                hire_date=m.to_timestamp() + pd.Timedelta(days=int(rng.integers(0, 20))),
                end_date=pd.NaT,
                fte=1.0,
            )
        )
    # two hires in the current fiscal year
    for m in ("2026-02", "2026-07"):
        rows.append(
            dict(
                region=str(rng.choice(REGIONS[:3])),
                hire_date=pd.Timestamp(m + "-01"),
                end_date=pd.NaT,
                fte=1.0,
            )
        )
    reps = pd.DataFrame(rows)
    # leavers: five left during the history, one leaves in the current year
    leavers = rng.choice(np.arange(spec.n_reps), size=6, replace=False)
    for j, idx in enumerate(leavers[:5]):
        reps.loc[idx, "end_date"] = months[int(12 + j * 11)].to_timestamp() + pd.offsets.MonthEnd(
            0
        )
    reps.loc[leavers[5], "end_date"] = pd.Timestamp("2026-05-31")
    # part-timers
    reps.loc[rng.choice(np.arange(spec.n_reps), size=3, replace=False), "fte"] = 0.5
    reps.insert(0, "rep_id", [f"R{i + 1:03d}" for i in range(len(reps))])
    reps.insert(1, "name", [_rep_name(rng) for _ in range(len(reps))])
    return reps


def _active(reps: pd.DataFrame, ts: pd.Timestamp) -> np.ndarray:
    end_ok = reps["end_date"].isna() | (reps["end_date"] >= ts)
    return ((reps["hire_date"] <= ts + pd.offsets.MonthEnd(0)) & end_ok).to_numpy()


def generate(spec: SampleSpec = SampleSpec()) -> dict[str, pd.DataFrame]:
    """Generate the sample company. Returns frames ``transactions``, ``reps``, ``market``.

    One random generator, drawn from in a fixed order: reps, the first customers, then month
    by month acquisitions and churn, owners, orders and their lines (and returns), and last
    the market sizes.
    """
    rng = np.random.default_rng(spec.seed)
    months = pd.period_range(spec.start, spec.end, freq="M")
    reps = _make_reps(spec, rng, months)
    book = _Book(_new_customers(rng, spec.n_customers_start, 0))
    price = _price_table(months)
    for t, m in enumerate(months):
        alive = _customers_this_month(book, spec, rng, t)
        _assign_owners(book.cust, alive, reps, m.to_timestamp(), rng)
        _take_orders(book, rng, alive, m, price[t])
        _book_due_returns(book, m.to_timestamp())
    tx = _transactions(book.lines)
    market = _market_sizes(tx, spec, rng, months)
    reps_out = reps.copy()
    reps_out["hire_date"] = reps_out["hire_date"].dt.strftime("%Y-%m-%d")
    reps_out["end_date"] = reps_out["end_date"].dt.strftime("%Y-%m-%d")
    pipeline = _pipeline(tx, spec)
    return {"transactions": tx, "reps": reps_out, "market": market, "pipeline": pipeline}


# conversion from each stage to the next: lead -> qualified -> proposal -> won
STAGE_CONVERSION = {"lead": 0.70, "qualified": 0.72, "proposal": 0.62}


def _pipeline(tx: pd.DataFrame, spec: SampleSpec) -> pd.DataFrame:
    """Opportunities: one won per order from ``spec.pipeline_from`` (net amount > 0), and the
    lost ones the stage conversions imply, drawn per won one; those that would close after the
    last transaction are open (with their expected close), plus the open pipeline of the coming
    two months (as many won-to-be as the last two months' orders, at their stage)."""
    rng = np.random.default_rng(spec.seed + 1)
    t = tx.assign(date=pd.to_datetime(tx["date"]))
    t = t[t["date"] >= pd.Timestamp(spec.pipeline_from)]
    by_line = t.groupby(["order_id", "product_line"])["revenue"].sum().reset_index()
    main = by_line.sort_values("revenue").groupby("order_id").tail(1).set_index("order_id")
    orders = t.groupby("order_id").agg(
        close=("date", "first"),
        customer_id=("customer_id", "first"),
        rep_id=("rep_id", "first"),
        region=("region", "first"),
        amount=("revenue", "sum"),
    )
    orders = orders[orders["amount"] > 0].sort_values(["close"]).reset_index()
    orders["product_line"] = orders["order_id"].map(main["product_line"])
    cycle = np.round(rng.gamma(3.0, 14.0, len(orders)) + 7).astype(int)
    won = orders.assign(
        stage="won",
        status="won",
        created=orders["close"] - pd.to_timedelta(cycle, unit="D"),
        close_date=orders["close"],
    )
    # per won order: lost ones that stopped at each stage (expected numbers from the conversions)
    p = STAGE_CONVERSION
    win_lead = p["lead"] * p["qualified"] * p["proposal"]
    lost_at = {
        "lead": (1 - p["lead"]) / win_lead,
        "qualified": p["lead"] * (1 - p["qualified"]) / win_lead,
        "proposal": p["lead"] * p["qualified"] * (1 - p["proposal"]) / win_lead,
    }
    lost = []
    for stage, rate in lost_at.items():
        n = rng.poisson(rate, len(orders))
        src = orders.loc[np.repeat(orders.index, n)].reset_index(drop=True)
        days = np.round(rng.gamma(2.0, 12.0, len(src)) + 5).astype(int)
        shift = rng.integers(-20, 21, len(src))
        close = src["close"] + pd.to_timedelta(shift, unit="D")
        lost.append(
            src.assign(
                stage=stage,
                status="lost",
                amount=np.round(src["amount"] * rng.lognormal(0.0, 0.3, len(src)), 2),
                created=close - pd.to_timedelta(days, unit="D"),
                close_date=close,
            )
        )
    opps = pd.concat([won, *lost], ignore_index=True)
    last = pd.Timestamp(t["date"].max())
    opps = pd.concat([opps, _open_pipeline(orders, last, rng)], ignore_index=True)
    late = opps["close_date"] > last
    opps.loc[late, "status"] = "open"
    opps["expected_close"] = opps["close_date"]
    opps.loc[late, "close_date"] = pd.NaT
    opps = opps[opps["created"] <= last].sort_values(["created", "order_id", "stage"])
    opps = opps.reset_index(drop=True)
    opps["id"] = [f"OP{i:06d}" for i in range(1, len(opps) + 1)]
    out = opps[
        [
            "id",
            "rep_id",
            "customer_id",
            "region",
            "product_line",
            "stage",
            "amount",
            "created",
            "expected_close",
            "status",
            "close_date",
        ]
    ].copy()
    for c in ("created", "expected_close", "close_date"):
        out[c] = out[c].dt.strftime("%Y-%m-%d")
    out["amount"] = out["amount"].round(2)
    return out


def _open_pipeline(
    orders: pd.DataFrame, end: pd.Timestamp, rng: np.random.Generator
) -> pd.DataFrame:
    """The open pipeline at ``end``: for each of the last two months' orders, moved two months
    on, the opportunities at the stage it has reached by ``end`` that win it once on average
    (1 / the win rate from that stage of them, the others to be lost)."""
    recent = orders[orders["close"] > end - pd.DateOffset(months=2)].reset_index(drop=True)
    close = recent["close"] + pd.DateOffset(months=2)
    cycle = np.round(rng.gamma(3.0, 14.0, len(recent)) + 7).astype(int)
    created = close - pd.to_timedelta(cycle, unit="D")
    share = ((end - created).dt.days / cycle).clip(0, 1)
    stage = np.select([share < 1 / 3, share < 2 / 3], ["lead", "qualified"], "proposal")
    p = STAGE_CONVERSION
    win = {
        "lead": p["lead"] * p["qualified"] * p["proposal"],
        "qualified": p["qualified"] * p["proposal"],
        "proposal": p["proposal"],
    }
    n = np.maximum(rng.poisson([1 / win[s] for s in stage]), 1)
    idx = np.repeat(np.arange(len(recent)), n)
    rep = recent.iloc[idx].reset_index(drop=True)
    return rep.assign(
        order_id=rep["order_id"] + "-next" + pd.Series(np.arange(len(rep))).astype(str),
        stage=stage[idx],
        status="open",
        created=created.to_numpy()[idx],
        close_date=close.to_numpy()[idx],
        amount=np.round(rep["amount"] * rng.lognormal(0.0, 0.3, len(rep)), 2),
    )


@dataclass
class _Book:
    """The simulation's state: customers, booked lines, returns not yet due, last order."""

    cust: pd.DataFrame  # region, ctype, size, first, last (month index), owner, p0..p3
    lines: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)
    order_no: int = 100000


def _new_customers(rng: np.random.Generator, n: int, first: int) -> pd.DataFrame:
    """Customers won in month ``first``: home region, type, size, product preference (the
    owner rep is assigned later)."""
    region = rng.choice(len(REGIONS), size=n, p=REGION_WEIGHT)
    ctype = rng.choice(len(CUSTOMER_TYPES), size=n, p=TYPE_WEIGHT)
    size = rng.lognormal(0.0, 0.6, size=n) * TYPE_SIZE[ctype]
    pref = rng.dirichlet(np.array([2.0, 2.5, 1.5, 1.0]), size=n)
    return pd.DataFrame(
        dict(
            region=region,
            ctype=ctype,
            size=size,
            first=first,
            last=10**6,
            owner="",
            **{f"p{j}": pref[:, j] for j in range(len(PRODUCT_LINES))},
        )
    )


def _price_table(months: pd.PeriodIndex) -> np.ndarray:
    """List price per month (rows) and product line (columns), with the price changes."""
    price = np.tile(BASE_PRICE, (len(months), 1))
    for j, since, factor in PRICE_CHANGES:
        price[months >= pd.Period(since, "M"), j] *= factor
    return price


def _customers_this_month(
    book: _Book, spec: SampleSpec, rng: np.random.Generator, t: int
) -> pd.Series:
    """Acquisitions (growing over time) and churn in month ``t``; the customers alive."""
    n_new = rng.poisson(spec.monthly_new_customers * (1 + 0.012 * t))
    if t > 0 and n_new:
        book.cust = pd.concat([book.cust, _new_customers(rng, n_new, t)], ignore_index=True)
    cust = book.cust
    alive = (cust["first"] <= t) & (cust["last"] > t)
    churn = alive & (rng.random(len(cust)) < spec.monthly_churn) & (cust["first"] < t)
    cust.loc[churn, "last"] = t
    alive &= ~churn
    return alive


def _assign_owners(
    cust: pd.DataFrame,
    alive: pd.Series,
    reps: pd.DataFrame,
    ts: pd.Timestamp,
    rng: np.random.Generator,
) -> None:
    """(Re)assign owners among the active reps of the customer's region (in place)."""
    act = _active(reps, ts)
    for r in range(len(REGIONS)):
        pool = reps.loc[act & (reps["region"] == REGIONS[r]).to_numpy(), "rep_id"].to_numpy()
        need = alive & (cust["region"] == r) & ~cust["owner"].isin(pool)
        if need.any() and len(pool):
            cust.loc[need, "owner"] = rng.choice(pool, size=int(need.sum()))


def _take_orders(
    book: _Book, rng: np.random.Generator, alive: pd.Series, m: pd.Period, prices: np.ndarray
) -> None:
    """The customers who order this month (by type and season), one order each."""
    a = book.cust[alive]
    season = SEASON[m.month - 1]
    p = np.clip(TYPE_ORDER_P[a["ctype"].to_numpy()] * season, 0, 0.97)
    buys = rng.random(len(a)) < p
    a = a[buys]
    for row in a.itertuples(index=True):
        book.order_no += 1
        _order(book, rng, row, m, season, prices)


def _order(
    book: _Book,
    rng: np.random.Generator,
    row: Any,
    m: pd.Period,
    season: float,
    prices: np.ndarray,
) -> None:
    """One order of ``row`` (a customer): 1-3 product lines by preference, a day of the month,
    quantities, discounts and prices; a few lines are returned later."""
    order_no = book.order_no
    ts = m.to_timestamp()
    pref = np.array([getattr(row, f"p{j}") for j in range(len(PRODUCT_LINES))])
    k = 1 + rng.binomial(2, 0.3)
    lines = rng.choice(len(PRODUCT_LINES), size=k, replace=False, p=pref)
    day = int(rng.integers(1, m.days_in_month + 1))
    date = ts + pd.Timedelta(days=day - 1)
    for j in lines:
        qty = 1 + rng.poisson(row.size * season * (1.6 if j == 2 else 0.8))
        disc = float(rng.choice([0.0, 0.0, 0.0, 0.05, 0.10]))
        unit = round(float(prices[j] * rng.uniform(0.97, 1.03)), 2)
        band = int(np.searchsorted(PRODUCT_BANDS, unit / prices[j], side="right"))
        line = dict(
            date=date,
            order_id=f"SO{order_no}",
            customer_id=f"C{int(row.Index) + 1:05d}",
            customer_type=CUSTOMER_TYPES[row.ctype],
            region=REGIONS[row.region],
            product_line=PRODUCT_LINES[j],
            product=PRODUCTS[j][band],
            rep_id=row.owner,
            quantity=int(qty),
            unit_price=unit,
            discount=disc,
        )
        book.lines.append(line)
        if rng.random() < 0.015:
            book.pending.append(
                dict(
                    line,
                    order_id=f"RT{order_no}{j}",
                    quantity=-int(rng.integers(1, qty + 1)),
                    date=date + pd.Timedelta(days=int(rng.integers(5, 25))),
                )
            )


def _book_due_returns(book: _Book, ts: pd.Timestamp) -> None:
    """Returns that fall inside the month of ``ts`` are booked."""
    due = [r for r in book.pending if r["date"] <= ts + pd.offsets.MonthEnd(0)]
    book.pending = [r for r in book.pending if r["date"] > ts + pd.offsets.MonthEnd(0)]
    book.lines.extend(due)


def _transactions(lines: list[dict]) -> pd.DataFrame:
    """The transactions file: lines in date order, net revenue, ISO dates."""
    tx = pd.DataFrame(lines)
    tx = tx.sort_values(["date", "order_id", "product_line"], kind="stable").reset_index(drop=True)
    tx["revenue"] = (tx["quantity"] * tx["unit_price"] * (1 - tx["discount"])).round(2)
    tx["date"] = tx["date"].dt.strftime("%Y-%m-%d")
    return tx


def _market_sizes(
    tx: pd.DataFrame, spec: SampleSpec, rng: np.random.Generator, months: pd.PeriodIndex
) -> pd.DataFrame:
    """Market size: the company holds roughly 8-20% of each region x product line market."""
    mmonths = pd.period_range(spec.start, spec.market_end, freq="M")
    base = tx.assign(month=pd.to_datetime(tx["date"]).dt.to_period("M"))
    first_year = (
        base[base["month"] < months[0] + 12].groupby(["region", "product_line"])["revenue"].sum()
        / 12
    )
    rows = []
    for (region, pl), monthly in first_year.items():
        share0 = rng.uniform(0.08, 0.20)
        growth = rng.uniform(0.03, 0.09)
        for t, m in enumerate(mmonths):
            size = (
                monthly
                / share0
                * (1 + growth) ** (t / 12)
                * SEASON[m.month - 1]
                * rng.normal(1, 0.03)
            )
            rows.append(
                dict(period=str(m), region=region, product_line=pl, market_size=round(size, -3))
            )
    return pd.DataFrame(rows)


def write_sample(out: Path, spec: SampleSpec = SampleSpec()) -> dict[str, Path]:
    """Write the sample company's CSV files (UTF-8) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    frames = generate(spec)
    paths = {}
    for name, df in frames.items():
        path = out / f"{name}.csv"
        df.to_csv(path, index=False, lineterminator="\n")
        paths[name] = path
    return paths


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "sample"
    )
    ap.add_argument("--seed", type=int, default=SampleSpec.seed)
    args = ap.parse_args(argv)
    paths = write_sample(args.out, SampleSpec(seed=args.seed))
    for name, p in paths.items():
        print(f"{name}: {p} ({p.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
