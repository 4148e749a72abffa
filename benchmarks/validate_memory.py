"""Peak memory of ``salesanalysis validate`` against the run's own reading of the inputs.

    .venv/bin/python benchmarks/validate_memory.py                  # 2 million lines
    .venv/bin/python benchmarks/validate_memory.py --lines 10000000

On the data of ``make_large_data.py`` (plain CSV, and the same file gzipped), each variant runs
in its own child process, which reports its own peak resident memory (``VmHWM`` at exit; the
``ru_maxrss`` of ``wait4`` would carry the parent's high-water mark over fork and exec):

* ``validate-before`` - what ``validate`` did before issue 14: ``readers.load_dataset`` (the
  pandas readers, the whole file in memory as text and as Python strings).
* ``validate`` - the command now (``python -m salesanalysis.cli validate --data DIR``): it
  reads with ``ingest.load_cubes``, the Arrow fast path of the run, falling back to the pandas
  readers only when the fast path cannot vouch for the file.
* ``run-ingest`` - what a run's prepare stage reads with (``ingest.load_cubes``), the bar
  ``validate`` should stay within.

No timing goal; figures go to benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

VARIANTS = ("validate-before", "validate", "run-ingest")

_CHILD = """
import atexit, re, sys

def _peak():
    status = open("/proc/self/status").read()
    sys.stderr.write("VmHWM-KB " + re.search(r"VmHWM:\\s+(\\d+)", status).group(1) + "\\n")

atexit.register(_peak)
variant, data = sys.argv[1], sys.argv[2]
plan = data + "/plan.yaml"
if variant == "validate":
    import runpy
    sys.argv = ["salesanalysis", "validate", "--data", data]
    runpy.run_module("salesanalysis.cli", run_name="__main__")
elif variant == "validate-before":
    from salesanalysis.data.readers import load_dataset
    ds = load_dataset(data, plan)
    print(len(ds.transactions), "lines")
else:
    from salesanalysis.data.ingest import load_cubes
    ing = load_cubes(data, plan)
    print(ing.n_lines, "lines", ing.engine)
"""


def _gzip_folder(src: Path) -> Path:
    """``src`` with its transactions gzipped (made once, beside it)."""
    out = src.parent / "csv_gz"
    target = out / "transactions.csv.gz"
    if not target.exists():
        out.mkdir(exist_ok=True)
        for name in ("reps.csv", "market.csv", "plan.yaml"):
            (out / name).unlink(missing_ok=True)
            os.link(src / name, out / name)
        part = out / ".transactions.csv.gz.part"
        with open(src / "transactions.csv", "rb") as f, gzip.open(part, "wb", 6) as g:
            shutil.copyfileobj(f, g, 1 << 24)
        part.rename(target)
    return out


def run_child(variant: str, data: Path, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-c", _CHILD, variant, str(data)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    seconds = time.perf_counter() - t0
    peak = re.search(r"^VmHWM-KB (\d+)$", r.stderr, flags=re.M)
    return {
        "variant": variant,
        "exit": r.returncode,
        "seconds": seconds,
        "peak_mb": int(peak.group(1)) / 1024 if peak else float("nan"),
        "said": (r.stdout.strip().splitlines() or [""])[0][:70],
    }


def main(argv: list[str] | None = None) -> int:
    import make_large_data

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--timeout", type=float, default=3600)
    args = ap.parse_args(argv)
    base = make_large_data.ensure(args.lines)
    folders = {"csv": base / "csv", "csv.gz": _gzip_folder(base / "csv")}
    print(
        f"{args.lines:,} lines; transactions.csv {(base / 'transactions.csv').stat().st_size / 2**20:,.0f} MB"
    )
    print(f"{'file':8} {'variant':16} {'exit':>4} {'seconds':>8} {'peak MB':>8}  output")
    for fmt, data in folders.items():
        for variant in VARIANTS:
            m = run_child(variant, data, args.timeout)
            print(
                f"{fmt:8} {m['variant']:16} {m['exit']:>4} {m['seconds']:>8.1f} "
                f"{m['peak_mb']:>8.0f}  {m['said']}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
