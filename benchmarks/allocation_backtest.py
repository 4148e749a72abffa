"""Allocation backtest: FY N-1's targets made from data up to December N-2 by each allocation
method, scored against what FY N-1 actually sold (issue 13, item 7).

    .venv/bin/python benchmarks/allocation_backtest.py                      # the sample company
    .venv/bin/python benchmarks/allocation_backtest.py --shape history_5y   # a corpus shape
    .venv/bin/python benchmarks/allocation_backtest.py --lines 300000       # make_large_data
    .venv/bin/python benchmarks/allocation_backtest.py --data DIR --fiscal-year 2024

For one company: the fiscal year scored is the last complete calendar year of the data (or
``--fiscal-year``); the company's ``plan.yaml`` is moved to that year (``fiscal_year`` N-1,
``plan_cutoff`` December N-2) without its pins and strategies (they are about the plan's own
year); the cube and the customer cube are cut at the cutoff; the forecast from the cutoff is
made once (:func:`salesanalysis.targets.forecast_for_plan`: cells and reps, the engine's fast
setting) and every method decomposes with it (:func:`salesanalysis.targets.decompose`).

Methods (settings applied on top of the company's plan):

* ``historical share``: ``allocation.key_weights: {history: 1}``, ``reps.allocation:
  history_share`` (the baseline);
* ``before issue 13``: ``reps: {capacity_policy: flag, book_weight: 0}``;
* ``new default``: the sample plan's ``reps`` section (``capacity_policy: hire``, ``book_weight:
  0.5``, ``load_band: 0.2``, ``productivity_weight: 0.3``);
* ``equal per capacity``: the new default with ``reps.allocation: equal_capacity``.

Scoring: to-be-hired (``TBH-``) and unassigned targets have no actuals and are left out; the
reps (and cells region x product line x customer type x rep) scored are those with a positive
target under every method; each method's targets on them are scaled to their actual FY N-1
total, so that only the allocation differs (the company level is taken as known). Per rep and
per cell: median |attainment - 100%|, share within +/-15%, interquartile range of attainment,
Gini of attainment (attainment below 0 counts as 0), Spearman rank correlation of target and
actual, and, per rep, the Brier score of P(reach) = P(forecast >= scaled target) read from the
December N-2 forecast (normal from its 80% interval, the decomposition's feasibility rule),
against whether the rep reached the scaled target. Reps without a forecast (hired after the
cutoff) are left out of the Brier score only.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from salesanalysis.data import load_cubes  # noqa: E402
from salesanalysis.targets import decompose, forecast_for_plan, load_plan, plan_from_dict  # noqa: E402

BASELINE = "historical share"
NEW_DEFAULT_REPS = {  # the sample plan's reps section (data/sample/plan.yaml)
    "productivity_weight": 0.3,
    "load_band": 0.20,
    "capacity_policy": "hire",
    "book_weight": 0.5,
    "allocation": "capacity_and_book",
}
METHODS: dict[str, dict[str, Any]] = {
    BASELINE: {
        "allocation": {"key_weights": {"history": 1.0, "forecast": 0.0, "potential": 0.0}},
        "reps": {"allocation": "history_share"},
    },
    "before issue 13": {"reps": {"capacity_policy": "flag", "book_weight": 0.0}},
    "new default": {"reps": NEW_DEFAULT_REPS},
    "equal per capacity": {"reps": {**NEW_DEFAULT_REPS, "allocation": "equal_capacity"}},
}
MEASURES = ["med_abs_dev", "within_15", "iqr", "gini", "spearman", "brier"]
HIGHER_IS_BETTER = {"within_15", "spearman"}
CELL_KEYS = ["region", "product_line", "customer_type", "rep_id"]
Z80 = float(stats.norm.ppf(0.9))
DATA = HERE / "_data"


# ------------------------------------------------------------------------------ the measures


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: all equal); values below 0 count as 0."""
    x = np.sort(np.clip(np.asarray(x, float), 0.0, None))
    n, total = len(x), float(x.sum())
    if n == 0 or total <= 0:
        return float("nan")
    return float(2.0 * np.sum(np.arange(1, n + 1) * x) / (n * total) - (n + 1) / n)


def scores(target: np.ndarray, actual: np.ndarray, p_reach: np.ndarray | None = None) -> dict:
    """The backtest's measures for targets (already scaled) against actuals.

    Returns ``n``, ``med_abs_dev`` (median |actual / target - 1|), ``within_15`` (share with
    |attainment - 1| <= 0.15), ``iqr`` (75th - 25th percentile of attainment), ``gini`` (of
    attainment), ``spearman`` (rank correlation of target and actual), ``brier`` (mean of
    (P(reach) - reached)^2 over the finite ``p_reach``; NaN without it) and ``n_brier``.
    """
    t, a = np.asarray(target, float), np.asarray(actual, float)
    att = a / t
    dev = np.abs(att - 1.0)
    q25, q75 = np.percentile(att, [25, 75])
    out = {
        "n": len(t),
        "med_abs_dev": float(np.median(dev)),
        "within_15": float(np.mean(dev <= 0.15 + 1e-12)),
        "iqr": float(q75 - q25),
        "gini": gini(att),
        "spearman": float(stats.spearmanr(t, a).statistic) if len(t) > 2 else float("nan"),
        "brier": float("nan"),
        "n_brier": 0,
    }
    if p_reach is not None:
        p = np.asarray(p_reach, float)
        ok = np.isfinite(p)
        if ok.any():
            reached = (a[ok] >= t[ok]).astype(float)
            out["brier"] = float(np.mean((p[ok] - reached) ** 2))
            out["n_brier"] = int(ok.sum())
    return out


def p_reach(target: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """P(forecast >= target) for a normal forecast (the decomposition's feasibility rule: with
    no spread, 1 when the mean reaches the target, else 0; NaN without a forecast)."""
    t, m, s = (np.asarray(v, float) for v in (target, mean, sigma))
    with np.errstate(divide="ignore", invalid="ignore"):
        pr = 1.0 - stats.norm.cdf((t - m) / s)
    det = np.where(t <= m, 1.0, 0.0)
    return np.where(np.isfinite(s) & (s > 0), pr, np.where(np.isfinite(m), det, np.nan))


# ------------------------------------------------------------------------------ one company


@dataclass
class Company:
    """A company's FY N-1 backtest inputs."""

    name: str
    cube: pd.DataFrame  # to the cutoff
    customers: pd.DataFrame  # to the cutoff
    reps: pd.DataFrame
    market: pd.DataFrame
    plan_dict: dict[str, Any]  # the company's plan moved to FY N-1
    actual: pd.DataFrame  # FY N-1 revenue by CELL_KEYS
    fiscal_year: int


def _last_complete_year(cube: pd.DataFrame) -> int:
    last = pd.Timestamp(cube["month"].max())
    return int(last.year if last.month == 12 else last.year - 1)


def backtest_plan(raw: dict[str, Any], fiscal_year: int) -> dict[str, Any]:
    """The company's plan moved to ``fiscal_year`` (cutoff December before), without pins and
    strategies; a revenue or customer target given by value becomes +10% / +5%."""
    plan = {k: v for k, v in raw.items() if k not in ("pins", "strategies")}
    plan["name"] = f"backtest FY{fiscal_year}"
    plan["fiscal_year"] = fiscal_year
    plan["plan_cutoff"] = f"{fiscal_year - 1}-12"
    t = dict(plan.get("targets") or {})
    t.pop("market_share", None)  # a share of FY N's market, not FY N-1's
    if "growth" not in (t.get("revenue") or {}):
        t["revenue"] = {"growth": 0.10}
    if "customers" in t and "growth" not in (t["customers"] or {}):
        t["customers"] = {"growth": 0.05}
    plan["targets"] = t
    return plan


def with_method(plan: dict[str, Any], method: dict[str, Any]) -> dict[str, Any]:
    """``plan`` with a method's sections merged in (one level deep)."""
    out = dict(plan)
    for section, values in method.items():
        merged = dict(out.get(section) or {})
        for k, v in values.items():
            merged[k] = {**(merged.get(k) or {}), **v} if isinstance(v, dict) else v
        if section == "allocation" and "key_weights" in values:
            merged["key_weights"] = {
                "history": 0.0,
                "forecast": 0.0,
                "potential": 0.0,
                "equal": 0.0,
                **values["key_weights"],
            }
        out[section] = merged
    return out


def load_company(data_dir: Path, name: str, fiscal_year: int | None = None) -> Company:
    ing = load_cubes(data_dir)
    cube = ing.cube.assign(month=pd.to_datetime(ing.cube["month"]))
    fy = fiscal_year or _last_complete_year(cube)
    cutoff = pd.Timestamp(f"{fy - 1}-12-01")
    in_fy = cube["month"].dt.year == fy
    if cube.loc[in_fy, "month"].nunique() < 12:
        raise SystemExit(f"{name}: FY{fy} is not complete in the data")
    raw = load_plan(data_dir / "plan.yaml").to_dict()
    cust = ing.customers.assign(month=pd.to_datetime(ing.customers["month"]))
    actual = cube[in_fy].groupby(CELL_KEYS, as_index=False)["revenue"].sum()
    return Company(
        name=name,
        cube=cube[cube["month"] <= cutoff].reset_index(drop=True),
        customers=cust[cust["month"] <= cutoff].reset_index(drop=True),
        reps=ing.reps,
        market=ing.market,
        plan_dict=backtest_plan(raw, fy),
        actual=actual,
        fiscal_year=fy,
    )


def _rep_forecast(feasibility: pd.DataFrame) -> pd.DataFrame:
    """Per rep: the annual forecast mean and sigma (from its P90) of the plan months."""
    f = feasibility[feasibility["level"] == "rep"]
    return pd.DataFrame(
        {
            "rep_id": f["rep_id"].astype(str).to_numpy(),
            "fc_mean": f["forecast"].astype(float).to_numpy(),
            "fc_sigma": ((f["forecast_p90"] - f["forecast"]) / Z80).astype(float).to_numpy(),
        }
    )


def method_targets(targets: pd.DataFrame) -> pd.DataFrame:
    """Annual revenue target per cell (CELL_KEYS) of the reps who exist: to-be-hired and
    unassigned targets left out."""
    t = targets.groupby(CELL_KEYS, as_index=False)["target_revenue"].sum()
    rep = t["rep_id"].astype(str)
    return t[~rep.str.startswith("TBH-") & ~rep.str.startswith("(")].reset_index(drop=True)


def score_methods(
    per_method: dict[str, pd.DataFrame], actual: pd.DataFrame, fc: pd.DataFrame | None
) -> pd.DataFrame:
    """Rows (method, level) with :func:`scores`' measures, on the reps and cells that have a
    positive target under every method, each method scaled to their actual total."""
    rows = []
    for level, keys in (("rep", ["rep_id"]), ("cell", CELL_KEYS)):
        tabs = {
            m: t.groupby(keys, as_index=False)["target_revenue"].sum()
            for m, t in per_method.items()
        }
        common = None
        for t in tabs.values():
            k = t.loc[t["target_revenue"] > 0, keys]
            common = k if common is None else common.merge(k, on=keys)
        act = actual.groupby(keys, as_index=False)["revenue"].sum()
        base = common.merge(act, on=keys, how="left").fillna({"revenue": 0.0})
        for m, t in tabs.items():
            d = base.merge(t, on=keys, how="left")
            scale = d["revenue"].sum() / d["target_revenue"].sum()
            target = d["target_revenue"].to_numpy() * scale
            pr = None
            if level == "rep" and fc is not None and len(fc):
                f = d[["rep_id"]].merge(fc, on="rep_id", how="left")
                pr = p_reach(target, f["fc_mean"].to_numpy(), f["fc_sigma"].to_numpy())
            rows.append(
                {"method": m, "level": level, "scale": scale, **scores(target, d["revenue"], pr)}
            )
    return pd.DataFrame(rows)


def run_company(co: Company, forecast: str = "plan") -> tuple[pd.DataFrame, dict[str, Any]]:
    """Decompose FY N-1 by every method and score it; returns the scores and facts of the run."""
    facts: dict[str, Any] = {"company": co.name, "fiscal_year": co.fiscal_year}
    base_plan = plan_from_dict(co.plan_dict)
    fc = None
    t0 = time.perf_counter()
    if forecast == "plan":
        fc, source, _ = forecast_for_plan(co.cube, base_plan, None, reps=co.reps)
        facts["forecast"] = source
    else:
        facts["forecast"] = "none (history keys only, no P(reach))"
    facts["forecast_s"] = time.perf_counter() - t0
    per_method, rep_fc, excluded = {}, None, {}
    t0 = time.perf_counter()
    for name, method in METHODS.items():
        plan = plan_from_dict(with_method(co.plan_dict, method), source=f"{co.name}: {name}")
        dec = decompose(co.cube, co.customers, co.reps, co.market, fc, plan)
        kept = method_targets(dec.targets)
        total = float(dec.targets["target_revenue"].sum())
        excluded[name] = 1.0 - float(kept["target_revenue"].sum()) / total
        per_method[name] = kept
        if rep_fc is None and len(dec.feasibility):
            rep_fc = _rep_forecast(dec.feasibility)
    facts["decompose_s"] = time.perf_counter() - t0
    facts["tbh_share"] = excluded
    res = score_methods(per_method, co.actual, rep_fc)
    scored = res.loc[res["level"] == "rep", "n"].iloc[0]
    facts["reps_scored"] = int(scored)
    facts["actual_total"] = float(co.actual["revenue"].sum())
    return res, facts


# ------------------------------------------------------------------------------ printing


def ratios(res: pd.DataFrame) -> pd.DataFrame:
    """Each measure over the baseline's, per level (1 = the baseline)."""
    out = res.copy()
    for level in out["level"].unique():
        sel = out["level"] == level
        base = out[sel & (out["method"] == BASELINE)].iloc[0]
        for m in MEASURES:
            out.loc[sel, m] = out.loc[sel, m] / base[m]
    return out


def ahead(res: pd.DataFrame, method: str = "new default") -> dict[str, bool]:
    """Per (level, measure): whether ``method`` is strictly better than the baseline."""
    out = {}
    for level in res["level"].unique():
        sub = res[res["level"] == level].set_index("method")
        for m in MEASURES:
            a, b = sub.loc[method, m], sub.loc[BASELINE, m]
            if np.isfinite(a) and np.isfinite(b):
                out[f"{level} {m}"] = bool(a > b if m in HIGHER_IS_BETTER else a < b)
    return out


def table(res: pd.DataFrame, fmt: str = "{:.3f}") -> str:
    head = f"{'level':<5} {'method':<20} {'n':>5} " + " ".join(f"{m:>11}" for m in MEASURES)
    lines = [head]
    for _, r in res.iterrows():
        vals = " ".join(f"{fmt.format(r[m]) if np.isfinite(r[m]) else '-':>11}" for m in MEASURES)
        lines.append(f"{r['level']:<5} {r['method']:<20} {int(r['n']):>5} {vals}")
    return "\n".join(lines)


def report(res: pd.DataFrame, facts: dict[str, Any]) -> str:
    tbh = ", ".join(f"{m} {v:.1%}" for m, v in facts["tbh_share"].items())
    won = ahead(res)
    behind = [k for k, v in won.items() if not v]
    return "\n".join(
        [
            f"== {facts['company']}: FY{facts['fiscal_year']} targets from data to "
            f"{facts['fiscal_year'] - 1}-12, scored on FY{facts['fiscal_year']} actuals "
            f"({facts['actual_total']:,.0f})",
            f"forecast: {facts['forecast']} ({facts['forecast_s']:.1f} s); "
            f"4 decompositions {facts['decompose_s']:.1f} s",
            f"reps scored: {facts['reps_scored']}; target left out as to-be-hired or "
            f"unassigned: {tbh}",
            "measures (median |att-1|, share within +/-15%, IQR and Gini of attainment: lower "
            "is better except within_15; Spearman: higher is better; Brier: lower is better)",
            table(res),
            f"ratio to {BASELINE}:",
            table(ratios(res)),
            "new default ahead of the baseline on "
            f"{sum(won.values())} of {len(won)} measures"
            + (f"; not ahead on: {', '.join(behind)}" if behind else ""),
        ]
    )


def _company_dir(args: argparse.Namespace) -> tuple[Path, str]:
    if args.shape:
        import tests.corpus as corpus

        root = DATA / "corpus"
        folder = root / args.shape
        if not (folder / "plan.yaml").exists():
            corpus.build(args.shape, root)
        return folder, f"corpus {args.shape}"
    if args.lines:
        import make_large_data

        return make_large_data.ensure(args.lines) / "parquet", f"generated {args.lines:,} lines"
    return Path(args.data), str(args.data)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--data", default=str(ROOT / "data" / "sample"), help="a data folder")
    src.add_argument("--shape", help="a shape of tests/corpus.py (built under benchmarks/_data)")
    src.add_argument("--lines", type=int, help="make_large_data's company with N lines")
    ap.add_argument("--fiscal-year", type=int, help="FY N-1 (default: last complete year)")
    ap.add_argument(
        "--forecast",
        choices=["plan", "none"],
        default="plan",
        help="plan: one forecast from the cutoff (fast setting); none: history keys, no Brier",
    )
    args = ap.parse_args(argv)
    folder, name = _company_dir(args)
    co = load_company(folder, name, args.fiscal_year)
    res, facts = run_company(co, args.forecast)
    print(report(res, facts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
