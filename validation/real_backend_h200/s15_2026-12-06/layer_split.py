"""Each run's layers, from its trace: how long each party's layer took (its first executor run's start to its last
run's end), where each party ran (its CPUs and their NUMA nodes, the GPU's node; runs from session 15 on) and, over
the runs of one configuration, the median of each executor run in each layer (party 0).

    python layer_split.py DIR [DIR ...]

A first-use cost shows as layer 0 slower than layer 1 in the same run (the layers do the same work)."""
import gzip
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def layer_spans(trace: dict) -> dict[tuple[int, int], float]:
    """(party, layer) -> seconds."""
    first, last = {}, {}
    for r in trace["runs"]:
        key = (r["party"], r["layer"])
        first[key] = min(first.get(key, r["start_s"]), r["start_s"])
        last[key] = max(last.get(key, r["end_s"]), r["end_s"])
    return {k: last[k] - first[k] for k in first}


def main(folders: list[str]) -> None:
    per_config: dict[str, list[dict]] = defaultdict(list)
    print(f"{'run':58s} {'online ms':>9s} {'rehearsal s':>11s}  p0 layers ms     p1 layers ms")
    for folder in folders:
        for doc_file in sorted(Path(folder).glob("*_r*.json")):
            doc = json.loads(doc_file.read_text())
            trace_file = doc_file.with_suffix(".trace.json.gz")
            if not trace_file.exists():
                continue
            trace = json.load(gzip.open(trace_file))
            spans = layer_spans(trace)
            layers = sorted({layer for _, layer in spans})
            cells = ["/".join(f"{1e3 * spans[(p, layer)]:.1f}" for layer in layers) for p in (0, 1)]
            rehearsal = max(doc["timing"].get("rehearsal_s_per_party", [0.0]))
            where = doc.get("placement")
            seen = "" if where is None else "  " + " | ".join(
                f"p{p} cpus {where['cpus_seen_per_party'][p]} nodes {where['cpu_nodes_per_party'][p]} "
                f"gpu node {where['gpu_node_per_party'][p]} pool {where.get('memory_pool_per_party', [[], []])[p]}"
                for p in (0, 1))
            print(f"{doc_file.stem:58s} {1e3 * doc['timing']['online_time_s']:9.1f} {rehearsal:11.1f}  "
                  f"{cells[0]:16s} {cells[1]}{seen}")
            config = doc_file.stem.rsplit("_r", 1)[0]
            per_config[config].append({"online": doc["timing"]["online_time_s"], "trace": trace, "spans": spans})
    for config, runs in per_config.items():
        layers = sorted({layer for _, layer in runs[0]["spans"]})
        online = statistics.median(r["online"] for r in runs)
        medians = [statistics.median(r["spans"][(0, layer)] for r in runs) for layer in layers]
        print(f"\n{config}: {len(runs)} runs, online median {1e3 * online:.1f} ms; party 0's layers (median ms): "
              + ", ".join(f"{1e3 * m:.1f}" for m in medians))
        if len(layers) < 2:
            continue
        by_run: dict[tuple[str, int], list[float]] = defaultdict(list)
        for r in runs:
            for rec in r["trace"]["runs"]:
                if rec["party"] == 0:
                    by_run[(rec["run"], rec["layer"])].append(rec["end_s"] - rec["start_s"])
        names = list(dict.fromkeys(rec["run"] for rec in runs[0]["trace"]["runs"] if rec["party"] == 0))
        print(f"  {'executor run':22s}" + "".join(f" {'layer ' + str(layer):>9s}" for layer in layers))
        for name in names:
            cells = [statistics.median(by_run[(name, layer)]) * 1e3 if by_run[(name, layer)] else float("nan")
                     for layer in layers]
            print(f"  {name:22s}" + "".join(f" {c:9.2f}" for c in cells))


if __name__ == "__main__":
    main(sys.argv[1:])
