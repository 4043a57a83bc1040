"""Benchmark of the simulator (issue 2 targets): wall time, task steps per second, peak memory.

    python benchmarks/bench_simulate.py            # bert-base (12 layers) and llama2-7b (32 layers)

Each configuration runs in a fresh process so that peak RSS is its own.
"""

import json
import resource
import subprocess
import sys
import time

# (model, T, B, runtime profile). The last is step-bound: the CPU profile builds one Beaver matmul
# task per head (B*H = 160 tasks in each matmul run), so waves, not flushes, dominate.
CONFIGS = [("bert-base", 128, 1, "suf-gpu-bench"), ("llama2-7b", 128, 1, "suf-gpu-bench"),
           ("gpt2", 512, 1, "suf-gpu-bench"), ("llama2-13b", 32, 4, "suf-cpu-bench")]


def one(model: str, seq_len: int, batch: int, runtime: str) -> dict:
    """Best of 3 of ``simflush.simulate_config`` (the engine and the run's trace), all layers."""
    import simflush

    config = simflush.make_config(model=model, seq_len=seq_len, batch=batch, runtime=runtime)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        result = simflush.simulate_config(config)
        best = min(best, time.perf_counter() - start)
    steps = result.task_steps
    return {"model": model, "seq_len": seq_len, "batch": batch, "runtime": runtime, "layers": config.layers,
            "wall_s": best, "task_steps": steps, "steps_per_s": steps / best, "flushes": len(result.trace.flushes),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    if len(sys.argv) == 5:
        print(json.dumps(one(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))
        return
    print(f"{'model':<12} {'T':>5} {'B':>2} {'runtime':<13} {'layers':>6} {'wall s':>8} {'steps':>8} {'steps/s':>10} "
          f"{'flushes':>8} {'RSS MB':>7}")
    for config in CONFIGS:
        out = subprocess.run([sys.executable, __file__, *map(str, config)], check=True, capture_output=True, text=True)
        r = json.loads(out.stdout)
        print(f"{r['model']:<12} {r['seq_len']:>5} {r['batch']:>2} {r['runtime']:<13} {r['layers']:>6} "
              f"{r['wall_s']:>8.3f} {r['task_steps']:>8} {r['steps_per_s']:>10.0f} {r['flushes']:>8} "
              f"{r['peak_rss_mb']:>7.1f}")


if __name__ == "__main__":
    main()
