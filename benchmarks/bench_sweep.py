"""Benchmark of a 1,000-configuration bert-base sweep (issue 15 target: <= 60 s and < 500 MB on 2 cores).

    python benchmarks/bench_sweep.py [--jobs N] [--sample K] [--out PATH]

4 policies x 5 networks x 5 rsqrt_iters x 5 chains x 2 deployments, through ``run_sweep`` (what
``simflush sweep`` runs) with a process pool of ``--jobs`` workers; ``--sample K`` runs every
(1000/K)-th configuration only (a spread sample, for a quick or a busy machine). Prints the wall time,
the CPU time per configuration (what a busy machine does not inflate), the wall time that CPU time
gives on ``--jobs`` idle cores, and the peak RSS of this process and of the largest worker. ``--out PATH``
keeps the sweep file there (to ``cmp`` against another version's), else it goes to a temporary folder.
"""

import argparse
import os
import resource
import tempfile
import time
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
    parser.add_argument("--sample", type=int)
    parser.add_argument("--out", type=Path, help="write the sweep file here (it must not exist yet)")
    args = parser.parse_args()
    configs = expand(OPTIONS, KNOBS)
    configs = configs[::len(configs) // args.sample][:args.sample] if args.sample else configs
    executor = InProcess() if args.jobs == 1 else ProcessPool(args.jobs)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "sweep.jsonl"
        start = time.perf_counter()
        summary = run_sweep(configs, out, executor)
        wall = time.perf_counter() - start
        size = out.stat().st_size
    usage = {who: resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)}
    cpu = sum(u.ru_utime + u.ru_stime for u in usage.values())
    mb = lambda who: usage[who].ru_maxrss / 1024  # noqa: E731 - Linux: KiB
    print(f"{summary.total} configurations, jobs={args.jobs}: {wall:.1f} s wall, {cpu:.1f} s CPU "
          f"({cpu / summary.total * 1e3:.0f} ms a configuration: {cpu / args.jobs:.1f} s wall on {args.jobs} idle "
          f"cores); file {size / 1e6:.2f} MB ({size / summary.total / 1e3:.1f} kB a record)")
    print(f"peak RSS: parent {mb(resource.RUSAGE_SELF):.0f} MB, largest worker {mb(resource.RUSAGE_CHILDREN):.0f} MB")


if __name__ == "__main__":
    main()
