"""A corpus of company shapes, generated in code (issue 12).

Each shape is a small, complete data folder (``transactions``, ``reps.csv``, ``market.csv``,
``plan.yaml`` and, where the shape needs it, ``mapping.yaml``) written by :func:`build`, with
the facts a test needs computed here, independently of the package: the raw rows as a frame,
their revenue sum, the plan's fiscal year and the period to run, and the plan's company targets
computed from the plan rule.

Deliberately no import from ``salesanalysis``: the corpus must not change when the package does.
Everything is seeded; the same shape always gives the same files.

    python -m tests.corpus OUT_DIR [SHAPE ...]     # write the shapes' folders (for a look)
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

__all__ = ["SHAPES", "Built", "Spec", "build", "spec"]

REPO = Path(__file__).resolve().parents[1]
TEMPLATE_PLAN = REPO / "data" / "sample" / "plan.yaml"

# calendar-month seasonality (Chinese New Year dip, June and year-end peaks)
SEASON = np.array([0.80, 0.70, 1.00, 1.00, 1.05, 1.15, 0.95, 0.95, 1.05, 1.00, 1.10, 1.25])
MARKET_SHARE = 0.15  # the company's share of the market the generator assumes
ROUND_REVENUE = 1000  # the template plan's rounding.revenue
CUSHION = 0.05  # the template plan's cushion_pct


@dataclass(frozen=True)
class Rep:
    rep_id: str
    name: str
    region: str  # the region in which the rep starts
    hire_date: str
    end_date: str = ""
    fte: float = 1.0
    moves: tuple[tuple[str, str], ...] = ()  # (first month YYYY-MM, new region)


@dataclass(frozen=True)
class Spec:
    """What one shape looks like."""

    name: str
    what: str  # one line: what the shape is about
    first_month: str  # first month of transactions
    last_month: str  # last month of transactions (complete)
    period: str  # --period to run
    fiscal_year: int  # the plan's fiscal year
    plan_cutoff: str  # the plan's cutoff
    reps: tuple[Rep, ...]
    product_lines: tuple[tuple[str, float], ...] = (("Pumps", 4000.0), ("Valves", 1200.0))
    customer_types: tuple[tuple[str, float, float], ...] = (  # name, weight, order size
        ("SMB", 0.6, 1.0),
        ("Distributor", 0.4, 2.0),
    )
    orders_per_rep: float = 9.0  # orders per fully ramped rep and month (before seasonality)
    yearly_growth: float = 0.08
    fy_boost: float = 0.0  # extra growth in the months of the fiscal year (all segments ahead)
    revenue: dict[str, float] = field(default_factory=lambda: {"growth": 0.10})
    customers: dict[str, float] | None = field(default_factory=lambda: {"growth": 0.05})
    per_item: bool = False  # one row per unit sold (identical rows are real sales)
    chinese_gbk: bool = False  # Chinese headers, GBK-encoded, read through mapping.yaml
    currency: str = "CNY"
    pin_first_region: bool = False  # a pin on the first region (growth shapes only)
    returns_p: float = 0.01  # share of lines returned (one unit, later in the month)
    seed: int = 12


@dataclass
class Built:
    """A written shape and the facts a test checks the run against."""

    spec: Spec
    folder: Path
    plan_file: Path
    plan: dict[str, Any]  # the plan as written
    tx: pd.DataFrame  # every raw row, contract column names, plus ``month`` (Period[M])
    raw_revenue: float  # sum of every raw row's revenue
    identical_rows: int  # rows identical on every column to an earlier row (real sales)
    plan_months: list[pd.Period]  # months the plan's targets cover
    base_months: list[pd.Period]  # months the revenue growth applies to ([] for a value target)
    revenue_target: float  # company revenue target over plan_months, without cushion
    revenue_target_cushion: float  # the same with the cushion (what rep targets add up to)
    customers_target: float | None  # company customer target (None: no exact rule to check)
    review_months: list[pd.Period]  # months the review of the period judges (YTD)
    ytd_months: list[pd.Period]  # fiscal-year-to-date months of the period's fiscal year

    @property
    def period(self) -> str:
        return self.spec.period

    @property
    def fiscal_year(self) -> int:
        return self.spec.fiscal_year

    def revenue_in(self, months: list[pd.Period]) -> float:
        return float(self.tx.loc[self.tx["month"].isin(months), "revenue"].sum())


# --------------------------------------------------------------------------- the shapes

_TEAM = (  # a small, settled team in two regions
    Rep("R01", "王伟", "华东", "2018-03-01"),
    Rep("R02", "李娜", "华东", "2019-07-01"),
    Rep("R03", "张敏", "华北", "2017-11-01"),
    Rep("R04", "刘洋", "华北", "2020-02-01", fte=0.8),
)


def _team_from(first_month: str) -> tuple[Rep, ...]:
    """The team, hired by the first month of data (so no line is outside a rep's employment)."""
    return tuple(
        r
        if r.hire_date <= first_month + "-01"
        else Rep(r.rep_id, r.name, r.region, first_month + "-01", r.end_date, r.fte, r.moves)
        for r in _TEAM
    )


def _specs() -> dict[str, Spec]:
    s: dict[str, Spec] = {}
    s["history_5y"] = Spec(
        "history_5y",
        "five years of history, a plan made at the end of last year, monthly review",
        first_month="2020-01",
        last_month="2025-09",
        period="2025-09",
        fiscal_year=2025,
        plan_cutoff="2024-12",
        reps=_TEAM,
        pin_first_region=True,
        currency="USD",
        seed=5,
        customer_types=(("Key Account", 0.3, 2.5), ("SMB", 0.5, 1.0), ("Distributor", 0.2, 1.8)),
    )
    s["history_18m"] = Spec(
        "history_18m",
        "18 months of history: a company that started in January of last year",
        first_month="2024-01",
        last_month="2025-06",
        period="2025-06",
        fiscal_year=2025,
        plan_cutoff="2024-12",
        reps=_team_from("2024-01"),
        seed=18,
    )
    s["history_12m"] = Spec(
        "history_12m",
        "12 months of history (a shop's first year), plan for next year made in December",
        first_month="2024-01",
        last_month="2024-12",
        period="2024-12",
        fiscal_year=2025,
        plan_cutoff="2024-12",
        reps=_team_from("2024-01"),
        seed=121,
    )
    s["history_6m"] = Spec(
        "history_6m",
        "6 months of history, plan for next year made in December (target by value: "
        "there is no comparable year)",
        first_month="2024-07",
        last_month="2024-12",
        period="2024-12",
        fiscal_year=2025,
        plan_cutoff="2024-12",
        reps=_team_from("2024-07"),
        revenue={"value": 6_500_000.0},
        customers={"value": 70.0},
        seed=6,
    )
    s["history_5m"] = Spec(
        "history_5m",
        "5 months of history, plan for next year made in December: too short to forecast "
        "(the forecast step is skipped, the targets use history keys only)",
        first_month="2024-08",
        last_month="2024-12",
        period="2024-12",
        fiscal_year=2025,
        plan_cutoff="2024-12",
        reps=_team_from("2024-08"),
        revenue={"value": 5_500_000.0},
        customers={"value": 60.0},
        seed=5,
    )
    s["year_end"] = Spec(
        "year_end",
        "year-end plan: four years of history, plan for FY N+1 made in December of "
        "year N (--period = N-12)",
        first_month="2022-01",
        last_month="2024-12",
        period="2024-12",
        fiscal_year=2025,
        plan_cutoff="2024-12",
        reps=_TEAM,
        seed=1231,
    )
    s["mid_year"] = Spec(
        "mid_year",
        "mid-year re-plan: cutoff June, plan for July-December, reviewed in September",
        first_month="2023-01",
        last_month="2025-09",
        period="2025-09",
        fiscal_year=2025,
        plan_cutoff="2025-06",
        reps=_team_from("2023-01"),
        seed=606,
    )
    s["per_item_gbk"] = Spec(
        "per_item_gbk",
        "one row per item sold (identical rows are real sales), Chinese headers, "
        "GBK, read through mapping.yaml",
        first_month="2023-01",
        last_month="2025-09",
        period="2025-09",
        fiscal_year=2025,
        plan_cutoff="2024-12",
        reps=(
            Rep("S01", "陈静", "华东", "2021-05-01"),
            Rep("S02", "杨磊", "华东", "2022-03-01"),
            Rep("S03", "黄超", "华南", "2020-09-01"),
        ),
        product_lines=(("茶叶", 180.0), ("茶具", 320.0)),
        customer_types=(("零售", 0.7, 1.0), ("批发", 0.3, 2.2)),
        orders_per_rep=14.0,
        per_item=True,
        chinese_gbk=True,
        seed=88,
    )
    s["one_region_one_rep"] = Spec(
        "one_region_one_rep",
        "one region with one rep",
        first_month="2023-01",
        last_month="2025-09",
        period="2025-09",
        fiscal_year=2025,
        plan_cutoff="2024-12",
        reps=(Rep("R1", "周杰", "西南", "2019-04-01"),),
        orders_per_rep=20.0,
        seed=11,
    )
    s["new_company"] = Spec(
        "new_company",
        "a new company: every rep hired this year, mid-year plan (cutoff June, "
        "revenue and customers by value)",
        first_month="2025-01",
        last_month="2025-09",
        period="2025-09",
        fiscal_year=2025,
        plan_cutoff="2025-06",
        reps=(
            Rep("N1", "吴芳", "华东", "2025-01-02"),
            Rep("N2", "徐平", "华东", "2025-02-10"),
            Rep("N3", "孙霞", "华南", "2025-04-01"),
        ),
        revenue={"value": 3_000_000.0},
        customers={"value": 80.0},
        seed=2025,
    )
    s["rep_moves"] = Spec(
        "rep_moves",
        "a rep leaving in May and one moving from 华北 to 华东 in April of the fiscal year",
        first_month="2023-01",
        last_month="2025-09",
        period="2025-09",
        fiscal_year=2025,
        plan_cutoff="2024-12",
        reps=(
            Rep("R01", "王伟", "华东", "2018-03-01"),
            Rep("R02", "李娜", "华东", "2019-07-01", end_date="2025-05-15"),
            Rep("R03", "张敏", "华北", "2017-11-01"),
            Rep("R04", "刘洋", "华北", "2020-02-01", moves=(("2025-04", "华东"),)),
            Rep("R05", "郭明", "华北", "2021-06-01"),
        ),
        seed=45,
    )
    s["all_ahead"] = Spec(
        "all_ahead",
        "a fiscal year in which every segment is ahead of target (sales +60%, plan +0%)",
        first_month="2023-01",
        last_month="2025-09",
        period="2025-09",
        fiscal_year=2025,
        plan_cutoff="2024-12",
        reps=_TEAM,
        fy_boost=0.60,
        revenue={"growth": 0.0},
        customers={"growth": 0.0},
        returns_p=0.0,
        seed=77,
    )
    return s


SHAPES: dict[str, Spec] = _specs()


def spec(name: str) -> Spec:
    return SHAPES[name]


# --------------------------------------------------------------------------- generation


def _months(first: str, last: str) -> list[pd.Period]:
    return list(pd.period_range(first, last, freq="M"))


def _region_at(rep: Rep, m: pd.Period) -> str:
    region = rep.region
    for start, new in rep.moves:
        if m >= pd.Period(start, "M"):
            region = new
    return region


def _days_employed(rep: Rep, m: pd.Period) -> tuple[int, int] | None:
    """First and last day of month ``m`` the rep is employed (None: not at all)."""
    lo, hi = 1, m.days_in_month
    hire = pd.Timestamp(rep.hire_date)
    if hire > m.end_time:
        return None
    if hire.to_period("M") == m:
        lo = hire.day
    if rep.end_date:
        end = pd.Timestamp(rep.end_date)
        if end < m.start_time:
            return None
        if end.to_period("M") == m:
            hi = end.day
    return lo, hi


def _ramp(rep: Rep, m: pd.Period) -> float:
    k = (m - pd.Timestamp(rep.hire_date).to_period("M")).n
    return float(min(1.0, 0.3 + 0.7 * k / 6))


def _transactions(sp: Spec, rng: np.random.Generator) -> pd.DataFrame:
    months = _months(sp.first_month, sp.last_month)
    fy_first = pd.Period(f"{sp.fiscal_year}-01", "M")
    fy_last = pd.Period(f"{sp.fiscal_year}-12", "M")
    ct_names = [c[0] for c in sp.customer_types]
    ct_w = np.array([c[1] for c in sp.customer_types])
    ct_size = {c[0]: c[2] for c in sp.customer_types}
    pl_names = [p[0] for p in sp.product_lines]
    pl_price = {p[0]: p[1] for p in sp.product_lines}
    products = {p: [f"{p}-{k}" for k in "ABC"] for p in pl_names}

    # customer books: (rep, region) -> list of (customer_id, customer_type, first month)
    books: dict[tuple[str, str], list[tuple[str, str, pd.Period]]] = {}
    n_cust = 0

    def book(rep_id: str, region: str, since: pd.Period) -> list[tuple[str, str, pd.Period]]:
        nonlocal n_cust
        key = (rep_id, region)
        if key not in books:
            rows = []
            for k in range(30):  # 8 at once, then one more every second month
                n_cust += 1
                first = since + max(0, 2 * (k - 7))
                rows.append((f"C{n_cust:04d}", str(rng.choice(ct_names, p=ct_w)), first))
            books[key] = rows
        return books[key]

    def heir(rep: Rep, region: str, m: pd.Period) -> Rep | None:
        """The rep who takes over a leaver's or mover's customers in ``region``."""
        for r in sp.reps:
            if r is not rep and _region_at(r, m) == region and _days_employed(r, m):
                return r
        return None

    lines: list[dict[str, Any]] = []
    n_order = 0
    for m in months:
        trend = (1 + sp.yearly_growth) ** ((m - months[0]).n / 12)
        boost = 1 + sp.fy_boost if fy_first <= m <= fy_last else 1.0
        season = SEASON[m.month - 1]
        # which customers each employed rep serves this month
        served: dict[str, tuple[str, list[tuple[str, str, pd.Period]]]] = {}
        for rep in sp.reps:
            days = _days_employed(rep, m)
            if days is None:
                continue
            region = _region_at(rep, m)
            since = max(months[0], pd.Timestamp(rep.hire_date).to_period("M"))
            served.setdefault(rep.rep_id, (region, []))[1].extend(book(rep.rep_id, region, since))
        for rep in sp.reps:  # books left behind (leaver, mover) go to a colleague of the region
            for (rid, region), rows in books.items():
                if rid != rep.rep_id:
                    continue
                if rep.rep_id in served and served[rep.rep_id][0] == region:
                    continue
                h = heir(rep, region, m)
                if h is not None and h.rep_id in served:
                    served[h.rep_id][1].extend(rows)
        for rep in sp.reps:
            if rep.rep_id not in served:
                continue
            region, custs = served[rep.rep_id]
            lo, hi = _days_employed(rep, m)  # type: ignore[misc]
            avail = [c for c in custs if c[2] <= m]
            if not avail:
                continue
            lam = sp.orders_per_rep * rep.fte * _ramp(rep, m) * season * trend * boost
            lam *= (hi - lo + 1) / m.days_in_month
            for _ in range(int(rng.poisson(lam))):
                n_order += 1
                cid, ctype, _first = avail[int(rng.integers(len(avail)))]
                day = int(rng.integers(lo, hi + 1))
                date = pd.Timestamp(year=m.year, month=m.month, day=day)
                n_lines = int(rng.integers(1, len(pl_names) + 1))
                for pl in rng.choice(pl_names, size=n_lines, replace=False):
                    pl = str(pl)
                    qty = 1 + int(rng.poisson((0.04 if sp.per_item else 1.2) * ct_size[ctype]))
                    price = round(
                        pl_price[pl]
                        * (1 + 0.03 * rng.standard_normal())
                        * (1.03 ** (m.year - 2020)),
                        2,
                    )
                    disc = 0.05 if (ctype != ct_names[1] and rng.random() < 0.4) else 0.0
                    lines.append(
                        dict(
                            date=date,
                            order_id=f"SO{n_order:06d}",
                            customer_id=cid,
                            customer_type=ctype,
                            region=region,
                            product_line=pl,
                            product=str(rng.choice(products[pl])),
                            rep_id=rep.rep_id,
                            quantity=qty,
                            unit_price=price,
                            discount=disc,
                        )
                    )
                    if rng.random() < sp.returns_p and day < hi:
                        rday = int(rng.integers(day + 1, hi + 1))
                        lines.append(
                            dict(
                                lines[-1],
                                quantity=-1,
                                order_id=f"RT{n_order:06d}",
                                date=pd.Timestamp(year=m.year, month=m.month, day=rday),
                            )
                        )
    tx = pd.DataFrame(lines)
    if sp.per_item:  # one row per unit: a line of quantity q becomes q identical rows
        tx = tx.loc[tx.index.repeat(tx["quantity"].abs())].reset_index(drop=True)
        tx["quantity"] = np.sign(tx["quantity"]).astype(int)
    tx["revenue"] = (tx["quantity"] * tx["unit_price"] * (1 - tx["discount"])).round(2)
    tx = tx.sort_values(["date", "order_id"], kind="stable").reset_index(drop=True)
    tx["month"] = tx["date"].dt.to_period("M")
    return tx


def _market(sp: Spec, tx: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Monthly market size per region and product line, from the first month of data to the end
    of the plan's fiscal year: the company's average monthly revenue there / MARKET_SHARE, with
    seasonality, a trend and noise."""
    regions = sorted(
        {_region_at(r, m) for r in sp.reps for m in _months(sp.first_month, sp.last_month)}
    )
    months = _months(sp.first_month, f"{sp.fiscal_year}-12")
    level = tx.groupby(["region", "product_line"])["revenue"].sum() / tx["month"].nunique()
    rows = []
    for region in regions:
        for pl, _price in sp.product_lines:
            base = float(level.get((region, pl), level.mean())) / MARKET_SHARE
            for m in months:
                size = base * SEASON[m.month - 1] * 1.05 ** ((m - months[0]).n / 12)
                size *= 1 + 0.05 * rng.standard_normal()
                rows.append(
                    dict(
                        period=str(m), region=region, product_line=pl, market_size=round(size, -3)
                    )
                )
    return pd.DataFrame(rows)


def _round(x: float, unit: float = ROUND_REVENUE) -> float:
    """Round half up to ``unit`` (the plan's rounding.revenue)."""
    return float(np.floor(x / unit + 0.5) * unit)


def _active_customers(tx: pd.DataFrame, months: list[pd.Period]) -> int:
    """Customers with at least one month in ``months`` of positive net revenue (the documented
    counting rule, docs/ARCHITECTURE.md)."""
    w = tx[tx["month"].isin(months)]
    net = w.groupby(["customer_id", "month"])["revenue"].sum()
    return int(net[net > 0].index.get_level_values("customer_id").nunique())


def _plan(
    sp: Spec, tx: pd.DataFrame, market: pd.DataFrame, revenue_target: float
) -> dict[str, Any]:
    if not TEMPLATE_PLAN.exists():
        raise FileNotFoundError(f"the template plan {TEMPLATE_PLAN} is missing")
    plan = yaml.safe_load(TEMPLATE_PLAN.read_text(encoding="utf-8"))
    plan["name"] = f"corpus {sp.name} FY{sp.fiscal_year}"
    # the corpus reads in English (the sample in Chinese): both languages are rendered
    plan["report"] = {"language": "en"}
    plan["fiscal_year"] = sp.fiscal_year
    plan["plan_cutoff"] = sp.plan_cutoff
    plan["currency"] = sp.currency
    plan["targets"]["revenue"] = dict(sp.revenue)
    if sp.customers is None:
        plan["targets"].pop("customers", None)
    else:
        plan["targets"]["customers"] = dict(sp.customers)
    # a market share target that agrees with the revenue target (no warning)
    pm = [str(m) for m in _plan_months(sp)]
    mk = float(market.loc[market["period"].isin(pm), "market_size"].sum())
    plan["targets"]["market_share"] = {"value": round(revenue_target / mk, 3) if mk else 0.15}
    pls = [p[0] for p in sp.product_lines]
    cts = [c[0] for c in sp.customer_types]
    regions = sorted(tx["region"].unique())
    strategies: list[dict[str, Any]] = [
        {
            "name": f"{pls[0]} list price +3%",
            "segment": {"product_line": pls[0]},
            "kind": "price",
            "pct": 0.03,
            "rationale": "List price rise from March",
        }
    ]
    if len(pls) > 1:
        strategies.append(
            {
                "name": f"{pls[1]} promotion",
                "segment": {"product_line": pls[1]},
                "kind": "promotion",
                "pct": 0.05,
                "rationale": "Trade promotion in Q2",
            }
        )
    if len(regions) > 1 and {"SMB", "Distributor"} <= set(cts):
        strategies.append(
            {
                "name": f"SMB to distributors in {regions[-1]}",
                "segment": {"region": regions[-1], "customer_type": "SMB"},
                "kind": "channel_shift",
                "pct": 0.10,
                "to": {"region": regions[-1], "customer_type": "Distributor"},
                "rationale": "Small accounts served through distributors",
            }
        )
    plan["strategies"] = strategies
    plan["pins"] = []
    if sp.pin_first_region and "growth" in sp.revenue:
        base = tx[tx["month"].isin(_base_months(sp)) & (tx["region"] == regions[0])]["revenue"]
        plan["pins"] = [
            {
                "segment": {"region": regions[0]},
                "revenue": _round(float(base.sum()) * (1 + sp.revenue["growth"])),
            }
        ]
    return plan


def _plan_months(sp: Spec) -> list[pd.Period]:
    cut = pd.Period(sp.plan_cutoff, "M")
    return [m for m in _months(f"{sp.fiscal_year}-01", f"{sp.fiscal_year}-12") if m > cut]


def _base_months(sp: Spec) -> list[pd.Period]:
    """What revenue growth applies to: the plan months a year earlier (for a full-year plan, the
    12 months to the cutoff; for a mid-year plan, the same months of last year)."""
    if "growth" not in sp.revenue:
        return []
    return [m - 12 for m in _plan_months(sp)]


def _write_tables(sp: Spec, folder: Path, tx: pd.DataFrame, market: pd.DataFrame) -> None:
    cols = [
        "date",
        "order_id",
        "customer_id",
        "customer_type",
        "region",
        "product_line",
        "product",
        "rep_id",
        "quantity",
        "unit_price",
        "discount",
        "revenue",
    ]
    out = tx[cols].copy()
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    reps = pd.DataFrame(
        [
            dict(
                rep_id=r.rep_id,
                name=r.name,
                region=_region_at(r, pd.Period(sp.last_month, "M")),
                hire_date=r.hire_date,
                end_date=r.end_date,
                fte=r.fte,
            )
            for r in sp.reps
        ]
    )
    if any(r.moves for r in sp.reps):  # one move per rep: the region before it, and its month
        reps["prev_region"] = [r.region if r.moves else "" for r in sp.reps]
        reps["region_from"] = [r.moves[0][0] if r.moves else "" for r in sp.reps]
    if sp.chinese_gbk:
        zh = {
            "date": "日期",
            "order_id": "订单号",
            "customer_id": "客户编号",
            "customer_type": "客户类型",
            "region": "大区",
            "product_line": "产品线",
            "product": "商品",
            "rep_id": "销售代表",
            "quantity": "数量",
            "unit_price": "单价",
            "discount": "折扣",
            "revenue": "金额",
        }
        out.rename(columns=zh).to_csv(
            folder / "销售明细.csv", index=False, encoding="gbk", float_format="%.2f"
        )
        zr = {
            "rep_id": "工号",
            "name": "姓名",
            "region": "大区",
            "hire_date": "入职日期",
            "end_date": "离职日期",
            "fte": "编制",
        }
        reps.rename(columns=zr).to_csv(folder / "reps.csv", index=False, encoding="utf-8")
        mapping = {
            "transactions": {
                "file": "销售明细.csv",
                "encoding": "gbk",
                "columns": {v: k for k, v in zh.items()},
            },
            "reps": {"columns": {v: k for k, v in zr.items()}},
        }
        (folder / "mapping.yaml").write_text(
            yaml.safe_dump(mapping, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    else:
        out.to_csv(folder / "transactions.csv", index=False, encoding="utf-8", float_format="%.2f")
        reps.to_csv(folder / "reps.csv", index=False, encoding="utf-8")
    market.to_csv(folder / "market.csv", index=False, encoding="utf-8")


def build(name: str, root: Path) -> Built:
    """Write shape ``name`` into ``root/name`` and return it with the facts to check."""
    sp = SHAPES[name]
    rng = np.random.default_rng(sp.seed)
    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    tx = _transactions(sp, rng)
    market = _market(sp, tx, rng)

    plan_months = _plan_months(sp)
    base_months = _base_months(sp)
    cut = pd.Period(sp.plan_cutoff, "M")
    fy_to_cut = [m for m in _months(f"{sp.fiscal_year}-01", f"{sp.fiscal_year}-12") if m <= cut]
    rev_in = lambda ms: float(tx.loc[tx["month"].isin(ms), "revenue"].sum())  # noqa: E731
    if "growth" in sp.revenue:
        target = _round(rev_in(base_months) * (1 + sp.revenue["growth"]))
    else:  # a value is the full fiscal year's target: the plan months get what is left
        target = _round(sp.revenue["value"] - rev_in(fy_to_cut))
    customers_target: float | None = None
    if sp.customers is not None and not fy_to_cut:  # full-year plans only
        if "growth" in sp.customers:
            base = _active_customers(tx, _months(str(cut - 11), str(cut)))
            customers_target = float(np.floor(base * (1 + sp.customers["growth"]) + 0.5))
        else:
            customers_target = float(sp.customers["value"])

    plan = _plan(sp, tx, market, target)
    _write_tables(sp, folder, tx, market)
    plan_file = folder / "plan.yaml"
    plan_file.write_text(
        f"# corpus shape {name}: {sp.what}\n"
        + yaml.safe_dump(plan, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )

    p = pd.Period(sp.period, "M")
    ytd = [m for m in _months(f"{p.year}-01", str(p))]
    review = [m for m in plan_months if m <= p]
    if not review:  # year-end: the plan's year has not started; the review is of the period's year
        review = ytd
    cols = [
        "date",
        "order_id",
        "customer_id",
        "customer_type",
        "region",
        "product_line",
        "product",
        "rep_id",
        "quantity",
        "unit_price",
        "discount",
        "revenue",
    ]
    return Built(
        spec=sp,
        folder=folder,
        plan_file=plan_file,
        plan=plan,
        tx=tx,
        raw_revenue=float(tx["revenue"].sum()),
        identical_rows=int(tx.duplicated(subset=cols).sum()),
        plan_months=plan_months,
        base_months=base_months,
        revenue_target=target,
        revenue_target_cushion=_round(target * (1 + CUSHION)),
        customers_target=customers_target,
        review_months=review,
        ytd_months=ytd,
    )


if __name__ == "__main__":
    out = Path(sys.argv[1])
    for n in sys.argv[2:] or list(SHAPES):
        b = build(n, out)
        print(
            f"{n:20s} {len(b.tx):6d} rows  {b.tx['month'].min()}..{b.tx['month'].max()}  "
            f"revenue {b.raw_revenue:14,.2f}  identical rows {b.identical_rows:4d}  "
            f"target {b.revenue_target:14,.0f}  period {b.period}  -> {b.folder}"
        )
