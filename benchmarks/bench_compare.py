"""Benchmark of ``simflush compare`` over 100 configurations of bert-tiny (issue 3 target: < 30 s, 2 cores).

    python benchmarks/bench_compare.py
"""

import subprocess
import sys
import time

ARGS = ["compare", "--model", "bert-tiny", "--policy", "suf,have_pfss_work,budget,pfss_eager",
        "--net", "loopback,lan,wan,custom:1,1,custom:100,0.01", "--chains", "1,2,3,4,5"]  # 4 x 5 x 5


def main() -> None:
    for jobs in (1, 2):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "simflush.cli", *ARGS, "--jobs", str(jobs)],
                             check=True, capture_output=True, text=True).stdout
        rows = len(out.splitlines()) - 2
        print(f"jobs={jobs}: {rows} configurations in {time.perf_counter() - start:.2f} s (wall, incl. start-up)")


if __name__ == "__main__":
    main()
