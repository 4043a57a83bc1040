"""Benchmark of the what-if comparison over 100 configurations of bert-tiny (issue 3 target: < 30 s, 2 cores).

    python benchmarks/bench_compare.py

Runs ``simflush.analysis.whatif.compare`` (what ``simflush compare`` runs) in this process, so the
times are without the interpreter's start-up.
"""

import time

from simflush.analysis.whatif.compare import expand, run_all

OPTIONS = {"model": "bert-tiny", "policy": "suf,have_pfss_work,budget,pfss_eager",
           "net": "loopback,lan,wan,custom:1,1,custom:100,0.01", "chains": "1,2,3,4,5"}  # 4 x 5 x 5


def main() -> None:
    for jobs in (1, 2):
        start = time.perf_counter()
        rows = run_all(expand(OPTIONS), jobs)
        print(f"jobs={jobs}: {len(rows)} configurations in {time.perf_counter() - start:.2f} s (wall, in-process)")


if __name__ == "__main__":
    main()
