"""Ingestion benchmark: raw order lines -> the monthly cube and the customer cube.

    .venv/bin/python benchmarks/ingest.py                   # 10 million lines (generated once)
    .venv/bin/python benchmarks/ingest.py --lines 1000000   # a quicker run

On the same generated file, as CSV and as Parquet, it times three variants, each in its own
child process so that its peak memory (the child's maximum resident set size, from
``os.wait4``) is measured alone:

* ``baseline`` - the straightforward pandas way: ``pd.read_csv`` (or ``read_parquet``), month
  from the date, two ``groupby`` (cube with distinct orders and customers, customer cube).
  No validation, no duplicate handling: the floor a careful user would write by hand.
* ``package-pandas`` - the package's reference path (``ingest.load_cubes(engine="pandas")``):
  the validating readers of ``salesanalysis.data.readers`` plus ``cube.build_cube`` /
  ``build_customer_cube`` (also reads reps, market and the plan).
* ``fast`` - the package's default (``ingest.load_cubes()``): Arrow readers and numpy cubes,
  same validation outcome, falling back to the pandas path when it cannot vouch for a file.

Ratios are against the baseline measured in the same run. Goals (issue 7): ``fast`` at least
3x faster than ``baseline`` and under 2 GB peak memory for 10 million lines.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

VARIANTS = ("baseline", "package-pandas", "fast")


def _baseline(path: Path) -> dict:
    import pandas as pd

    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    df["month"] = pd.to_datetime(df["date"]).dt.to_period("M").dt.to_timestamp()
    keys = ["month", "region", "product_line", "customer_type", "rep_id"]
    cube = (
        df.groupby(keys)
        .agg(
            revenue=("revenue", "sum"),
            quantity=("quantity", "sum"),
            orders=("order_id", "nunique"),
            customers=("customer_id", "nunique"),
        )
        .reset_index()
    )
    ckeys = ["month", "customer_id", "region", "product_line", "customer_type", "rep_id"]
    customers = (
        df.groupby(ckeys)
        .agg(
            revenue=("revenue", "sum"),
            quantity=("quantity", "sum"),
            orders=("order_id", "nunique"),
        )
        .reset_index()
    )
    return {
        "cube_rows": len(cube),
        "customer_rows": len(customers),
        "revenue": float(cube["revenue"].sum()),
        "lines": len(df),
        "engine": "pandas",
    }


def _package(path: Path, engine: str) -> dict:
    from salesanalysis.data.ingest import load_cubes

    ing = load_cubes(path.parent, path.parent / "plan.yaml", engine=engine)
    return {
        "cube_rows": len(ing.cube),
        "customer_rows": len(ing.customers),
        "revenue": float(ing.cube["revenue"].sum()),
        "lines": ing.n_lines,
        "engine": ing.engine,
        "reason": ing.reason,
        "steps": {k: round(v, 2) for k, v in ing.seconds.items()},
    }


def child(variant: str, path: Path) -> None:
    """Run one variant and print its result as JSON (the parent measures memory).

    Imports happen before the clock starts: the pipeline has them loaded already.
    """
    import pandas  # noqa: F401

    if variant != "baseline":
        import salesanalysis.data.ingest  # noqa: F401
        import salesanalysis.targets.plan  # noqa: F401
    t0 = time.perf_counter()
    if variant == "baseline":
        out = _baseline(path)
    else:
        out = _package(path, "pandas" if variant == "package-pandas" else "auto")
    out["seconds"] = time.perf_counter() - t0
    print(json.dumps(out))


def run_child(variant: str, path: Path, timeout: float) -> dict:
    """Run a variant in a child process; returns its JSON plus the child's own peak RSS (MB)."""
    cmd = [sys.executable, __file__, "--child", variant, "--file", str(path)]
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        t0 = time.perf_counter()
        out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # this child's rusage alone
        wall = time.perf_counter() - t0
        timed_out = not timer.is_alive()
        timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stdout.close()
        err.seek(0)
        tail = err.read().strip().splitlines()
    rss = usage.ru_maxrss / 1024  # KB on Linux
    if proc.returncode != 0:
        why = (
            f"timeout after {timeout:.0f} s"
            if timed_out
            else (tail[-1] if tail else f"exit {proc.returncode}")
        )
        return {"error": why, "seconds": float("nan"), "rss_mb": rss}
    res = json.loads(out.strip().splitlines()[-1])
    res.update(wall=wall, rss_mb=rss)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=10_000_000, help="order lines (default 10M)")
    ap.add_argument("--formats", default="csv,parquet", help="csv,parquet")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=",".join(VARIANTS))
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per variant")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--file", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.file)
        return 0
    import make_large_data

    data = make_large_data.ensure(args.lines)
    variants = [v for v in args.variants.split(",") if v]
    results = []
    print(
        f"ingestion benchmark, {args.lines:,} lines, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for fmt in [f for f in args.formats.split(",") if f]:
        path = data / fmt / f"transactions.{fmt}"
        size = path.stat().st_size / 1e6
        for variant in variants:
            r = run_child(variant, path, args.timeout)
            r.update(format=fmt, variant=variant, file_mb=size)
            results.append(r)
            print(
                f"  {fmt:8s} {variant:15s} "
                + (
                    f"{r['seconds']:8.1f} s  {r['rss_mb']:7.0f} MB"
                    if "error" not in r
                    else r["error"]
                ),
                flush=True,
            )
    print()
    print(
        f"{'format':8s} {'variant':15s} {'seconds':>8s} {'x faster':>9s} {'peak MB':>8s} "
        f"{'x memory':>9s} {'engine':>7s} {'cube rows':>10s} {'lines':>11s}"
    )
    for fmt in dict.fromkeys(r["format"] for r in results):
        rows = [r for r in results if r["format"] == fmt]
        base = next((r for r in rows if r["variant"] == "baseline" and "error" not in r), None)
        for r in rows:
            if "error" in r:
                print(f"{fmt:8s} {r['variant']:15s} failed: {r['error']}")
                continue
            speed = base["seconds"] / r["seconds"] if base else float("nan")
            mem = r["rss_mb"] / base["rss_mb"] if base else float("nan")
            r["speedup_vs_baseline"], r["memory_vs_baseline"] = speed, mem
            print(
                f"{fmt:8s} {r['variant']:15s} {r['seconds']:8.1f} {speed:9.2f} {r['rss_mb']:8.0f} "
                f"{mem:9.2f} {r['engine']:>7s} {r['cube_rows']:10,} {r['lines']:11,}"
            )
        fast = next((r for r in rows if r["variant"] == "fast" and "error" not in r), None)
        if fast and fast.get("steps"):
            print(
                f"{'':8s} fast path steps (s): {fast['steps']}"
                + (f"; fell back: {fast['reason']}" if fast.get("reason") else "")
            )
    print("\nGoals: fast >= 3x faster than baseline; fast peak < 2,000 MB at 10M lines.")
    if args.json:
        args.json.write_text(json.dumps({"lines": args.lines, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
