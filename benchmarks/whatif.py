"""Step 03's what-if panel: seconds per slider change against a full decomposition.

    python benchmarks/whatif.py                      # the sample, report month 2026-10
    python benchmarks/whatif.py --run-dir reports/_lab   # reuse a run folder's plan forecast

Prepares the sample data into a run folder (a temporary one unless ``--run-dir``), takes the
forecast the plan uses (the cached ``forecast_plan.parquet`` of the run folder, else made from
the plan cutoff, which takes a minute), then in one process: a full
:func:`salesanalysis.targets.decompose.decompose` ``--repeat`` times, and the what-if
(:class:`salesanalysis.targets.whatif.WhatIf`) for a sequence of slider changes, one assumption
at a time as a planner moves them (revenue growth, cushion, key weights, load band). For each
change it checks that the company and region targets equal those of a full decomposition with
the same assumptions (made after the timing) and prints wall and CPU seconds, the median and
the slowest change, and the ratio full / what-if.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from salesanalysis.data.context import open_run
from salesanalysis.paths import SAMPLE_DIR, SAMPLE_PLAN
from salesanalysis.targets.decompose import decompose, forecast_for_plan, level_tables
from salesanalysis.targets.whatif import WhatIf

CHANGES = [
    ("revenue growth +2 pt", {"revenue_growth": +0.02}),
    ("revenue growth +4 pt", {"revenue_growth": +0.04}),
    ("cushion 3%", {"cushion_pct": 0.03}),
    ("key weight history +0.1", {"key_weights": ("history", +0.1)}),
    ("key weight forecast 0", {"key_weights": ("forecast", None)}),
    ("load band 10%", {"load_band": 0.10}),
    ("load band 30%", {"load_band": 0.30}),
    ("revenue growth back", {"revenue_growth": 0.0}),
]


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def _settings(engine: WhatIf, state: dict, change: dict) -> dict:
    """The panel's slider values after one change (cumulative, as a planner moves them)."""
    p = engine.plan
    for key, v in change.items():
        if key == "revenue_growth":
            state[key] = p.targets.revenue.amount + v
        elif key == "key_weights":
            name, dv = v
            w = dict(state.get(key) or p.allocation.key_weights.as_dict())
            w[name] = 0.0 if dv is None else w[name] + dv
            state[key] = w
        else:
            state[key] = v
    return dict(state)


def _same(dec, result) -> bool:
    comp = dec.company.set_index("measure").loc["revenue"]
    reg = level_tables(dec)["Region"].set_index("region")
    mine = result.regions.set_index("region").loc[reg.index]
    return bool(
        comp["target"] == result.company["target"].iloc[0]
        and comp["target_with_cushion"] == result.company["target_with_cushion"].iloc[0]
        and (mine["target_revenue_no_cushion"] == reg["target_revenue_no_cushion"]).all()
        and (mine["target_revenue"] == reg["target_revenue"]).all()
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=SAMPLE_DIR)
    ap.add_argument("--plan", type=Path, default=SAMPLE_PLAN)
    ap.add_argument("--period", default="2026-10")
    ap.add_argument("--run-dir", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=3, help="full decompositions timed")
    args = ap.parse_args(argv)
    tmp = tempfile.TemporaryDirectory() if args.run_dir is None else None
    run_dir = args.run_dir or Path(tmp.name)  # type: ignore[union-attr]
    ctx = open_run(args.period, run_dir, args.data, args.plan)
    plan = ctx.plan
    cached = ctx.read("forecast_plan") if ctx.has("forecast_plan") else None
    fc, source, new = forecast_for_plan(ctx.cube, plan, None, cached, reps=ctx.reps)
    if new:
        ctx.write("forecast_plan", fc)
    frames = (ctx.cube, ctx.customers, ctx.reps, ctx.market, fc)
    print(f"sample: {args.data}, plan {plan.name}, forecast: {source}")

    full = [_timed(lambda: decompose(*frames, plan))[1:] for _ in range(args.repeat)]
    full_w = statistics.median(w for w, _ in full)
    full_c = statistics.median(c for _, c in full)
    engine, init_w, init_c = _timed(lambda: WhatIf(*frames, plan))
    base, first_w, _ = _timed(lambda: engine.run(plan))  # what the panel shows when it opens
    print(f"full decompose: {full_w:.2f} s wall, {full_c:.2f} s CPU (median of {args.repeat})")
    print(f"what-if set-up: {init_w:.2f} s wall, {init_c:.2f} s CPU; first view {first_w:.2f} s")
    print(f"{'change':<28}{'wall s':>8}{'CPU s':>8}  exact")
    state: dict = {}
    rows = []
    for label, change in CHANGES:
        settings = _settings(engine, state, change)
        p = engine.plan_for(**settings)
        result, w, c = _timed(lambda p=p: engine.run(p))
        rows.append((label, p, result, w, c))
    exact = []
    for label, p, result, w, c in rows:
        ok = _same(decompose(*frames, p), result)
        exact.append(ok)
        print(f"{label:<28}{w:>8.2f}{c:>8.2f}  {'yes' if ok else 'NO'}")
    walls = [r[3] for r in rows]
    cpus = [r[4] for r in rows]
    med_w, med_c = statistics.median(walls), statistics.median(cpus)
    print(
        f"per change: median {med_w:.2f} s wall ({med_c:.2f} s CPU), slowest {max(walls):.2f} s;"
        f" full / what-if = {full_w / med_w:.1f}x wall, {full_c / med_c:.1f}x CPU"
    )
    print(f"company and region targets equal the full decomposition's: {all(exact)}")
    if tmp is not None:
        tmp.cleanup()
    return 0 if all(exact) else 1


if __name__ == "__main__":
    sys.exit(main())
