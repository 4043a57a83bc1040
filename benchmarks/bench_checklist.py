"""Timing of the checklist (closed forms) and of reconcile's full search; figures go in docs/checklist.md.

    python benchmarks/bench_checklist.py

Best of 5 per configuration, in this process (imports excluded). Targets: checklist < 100 ms for any
model; reconcile over the full search space < 2 s.
"""

import time
from functools import partial
from pathlib import Path

from models.specs import get_model
from simflush.analysis.checklist.counts import build_checklist
from simflush.analysis.reconcile.search import Problem, search
from simflush.analysis.reconcile.space import search_space
from simflush.profiles import resolve

GOLDEN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "suf_h100"


def best_of(fn, n: int = 5) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    print("| what | model | T | configurations | best of 5, ms |\n|---|---|--:|--:|--:|")
    for name, T, sets in (("bert-base", 128, {}), ("gpt2", 1024, {}), ("llama2-13b", 2048, {}),
                          ("gpt2", 128, {"SUF_CAUSAL_PREFILL": "0"})):
        m = get_model(name)
        s = resolve("suf-gpu-bench", m, sets)
        label = "checklist" + (" (decode path)" if sets else "")
        print(f"| {label} | {name} | {T} | 1 | {best_of(partial(build_checklist, m, T, 1, s)) * 1e3:.1f} |")
    for name, T in (("bert-base", 128), ("llama2-7b", 2048)):
        m = get_model(name)
        space = search_space("suf-gpu-bench", m, {})
        check = build_checklist(m, T, 1, resolve("suf-gpu-bench", m, {}))
        target = {"open_flushes": check.per_layer.open_flushes + 1, "pfss_flushes": check.per_layer.pfss_flushes}
        t = best_of(partial(search, Problem(m, T, 1, m.n_layers, space), target), 3)
        print(f"| reconcile, whole layer, no exact match (nearest) | {name} | {T} | {space.size:,} | {t * 1e3:.0f} |")
    if GOLDEN.is_dir():
        from simflush.analysis.reconcile.trace import reconcile_trace

        m = get_model("bert-base")
        problem = Problem(m, 128, 1, m.n_layers, search_space("suf-gpu-bench", m, {}))

        trace = partial(reconcile_trace, problem, GOLDEN / "gpu_h100_trace_bert-base.txt.gz", 5)
        print(f"| reconcile --trace (4,368 flushes) | bert-base | 128 | {problem.space.size:,} "
              f"| {best_of(trace, 3) * 1e3:.0f} |")


if __name__ == "__main__":
    main()
