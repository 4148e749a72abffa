"""Pipeline benchmark: the whole monthly run, an unchanged rerun and a forced rerun.

    .venv/bin/python benchmarks/pipeline.py                       # the sample company
    .venv/bin/python benchmarks/pipeline.py --lines 1000000       # sample, then generated data
    .venv/bin/python benchmarks/pipeline.py --lines 1000000 --no-sample

For each data set it runs ``salesanalysis.report.pipeline.run_pipeline`` three times into a fresh
folder under ``benchmarks/_data/runs/`` (git-ignored):

1. a first run (nothing to reuse),
2. an immediate rerun with nothing changed (goal: under 5 s, every step reused),
3. a ``--force`` rerun (everything recomputed, as the first run),

and prints the wall time of each step (from ``run.json``) as a table, with the ratios of the
reruns to the first run. ``prepare`` is the run's total minus its steps: reading, validating
and cubing the inputs, hashing them, and writing the run's pages.

On generated data the forecast uses the documented faster setting (``--forecast-method``,
default ``fast``) and stops at cells and reps (``--forecast-detail``, default ``cell``): the
bottom level of 200 reps x 12 product lines x 3 customer types is 7,200 series, which the
forecasting benchmark (``benchmarks/forecast_speed.py``) covers on its own.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

RUNS = HERE / "_data" / "runs"


def _run(data_dir: Path, plan: Path, out: Path, extra: dict, force: bool = False) -> dict:
    from salesanalysis.report.pipeline import run_pipeline

    t0 = time.perf_counter()
    res = run_pipeline(
        None,
        data_dir,
        plan,
        out,
        echo=None,
        extra_parameters=extra or None,
        force=force,
        records_dir=out / "_plans",
    )
    wall = time.perf_counter() - t0
    manifest = json.loads((res.folder / "run.json").read_text(encoding="utf-8"))
    steps = {
        s["name"]: (float(s.get("seconds") or 0.0), s.get("status", "")) for s in manifest["steps"]
    }
    return {
        "wall": wall,
        "status": res.status,
        "period": res.period,
        "steps": steps,
        "run_seconds": float(manifest.get("seconds") or wall),
        "rows": manifest.get("rows") or {},
    }


def bench(name: str, data_dir: Path, plan: Path, extra: dict) -> dict:
    """The three runs on one data set; prints the table and returns the figures."""
    out = RUNS / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    first = _run(data_dir, plan, out, extra)
    again = _run(data_dir, plan, out, extra)
    forced = _run(data_dir, plan, out, extra, force=True)
    runs = {"first run": first, "unchanged rerun": again, "--force rerun": forced}
    rows = first["rows"]
    print(
        f"\n{name}: {data_dir} (period {first['period']}; "
        f"{rows.get('transactions', 0):,} lines -> {rows.get('cube', 0):,} cube rows, "
        f"{rows.get('customers', 0):,} customer-cube rows)"
    )
    if extra:
        print(f"  notebook parameters: {extra}")
    names = list(first["steps"])
    print(f"  {'step':28s}" + "".join(f"{k:>22s}" for k in runs))
    for r in runs.values():
        r["prepare"] = r["wall"] - sum(s for s, _ in r["steps"].values())
    print(
        f"  {'prepare (+ hashing, pages)':28s}"
        + "".join(f"{r['prepare']:>20.1f} s" for r in runs.values())
    )
    for step in names:
        cells = []
        for r in runs.values():
            sec, status = r["steps"].get(step, (float("nan"), "-"))
            cells.append(f"{sec:>10.1f} s {status:>9s}")
        print(f"  {step:28s}" + "".join(f"{c:>22s}" for c in cells))
    print(f"  {'total (wall)':28s}" + "".join(f"{r['wall']:>20.1f} s" for r in runs.values()))
    reused = all(st == "reused" for _, st in again["steps"].values())
    print(
        f"  unchanged rerun: {again['wall']:.1f} s = {again['wall'] / first['wall']:.3f} x the "
        f"first run ({first['wall'] / again['wall']:.0f}x faster); every step reused: {reused}; "
        f"goal < 5 s: {'met' if again['wall'] < 5 and reused else 'MISSED'}"
    )
    print(
        f"  --force rerun: {forced['wall']:.1f} s = {forced['wall'] / first['wall']:.2f} x the first run"
    )
    return {
        "name": name,
        "data_dir": str(data_dir),
        "extra": extra,
        **{k: {kk: vv for kk, vv in v.items()} for k, v in runs.items()},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=0, help="also run on generated data of N lines")
    ap.add_argument("--no-sample", action="store_true", help="skip the sample company")
    ap.add_argument("--forecast-method", default="fast", help="02_forecast 'method' on large data")
    ap.add_argument("--forecast-detail", default="cell", help="02_forecast 'detail' on large data")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args(argv)
    results = []
    if not args.no_sample:
        sample = ROOT / "data" / "sample"
        results.append(bench("sample", sample, sample / "plan.yaml", {}))
    if args.lines:
        import make_large_data

        data = make_large_data.ensure(args.lines) / "csv"
        extra = {
            "method": args.forecast_method,
            "detail": args.forecast_detail,
            "accuracy_origins": 0,
        }
        results.append(bench(f"lines_{args.lines}", data, data / "plan.yaml", extra))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
