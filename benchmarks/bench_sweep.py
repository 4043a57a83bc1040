"""Benchmark of a 1,000-configuration bert-base sweep (issue 15 target: <= 60 s and < 500 MB on 2 cores).

    python benchmarks/bench_sweep.py [--jobs N] [--limit K]

4 policies x 5 networks x 5 rsqrt_iters x 5 chains x 2 deployments, through ``run_sweep`` (what
``simflush sweep`` runs) with a process pool of ``--jobs`` workers; ``--limit K`` runs the first K
configurations only. Prints the wall time, the time per configuration and the peak RSS of this
process and of the largest worker.
"""

import argparse
import os
import resource
import tempfile
import time
from itertools import islice
from pathlib import Path

from simflush.analysis.whatif.compare import expand
from simflush.analysis.whatif.executors import InProcess, ProcessPool
from simflush.analysis.whatif.sweep import run_sweep

OPTIONS = {"model": "bert-base", "policy": "suf,have_pfss_work,budget,pfss_eager",
           "net": "loopback,lan,wan,custom:1,1,custom:100,0.01", "chains": "1,2,3,4,5",
           "deploy": "colocated,two-gpu"}
KNOBS = ["rsqrt_iters=1,2,3,4,5"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    configs = expand(OPTIONS, KNOBS)
    configs = list(islice(configs, args.limit)) if args.limit else configs
    executor = InProcess() if args.jobs == 1 else ProcessPool(args.jobs)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep.jsonl"
        start = time.perf_counter()
        summary = run_sweep(configs, out, executor)
        wall = time.perf_counter() - start
        size = out.stat().st_size
    mb = lambda who: resource.getrusage(who).ru_maxrss / 1024  # noqa: E731 - Linux: KiB
    print(f"{summary.total} configurations, jobs={args.jobs}: {wall:.1f} s wall, "
          f"{wall / summary.total * args.jobs * 1e3:.0f} ms per configuration per worker; "
          f"file {size / 1e6:.2f} MB ({size / summary.total / 1e3:.1f} kB a record)")
    print(f"peak RSS: parent {mb(resource.RUSAGE_SELF):.0f} MB, largest worker {mb(resource.RUSAGE_CHILDREN):.0f} MB")


if __name__ == "__main__":
    main()
