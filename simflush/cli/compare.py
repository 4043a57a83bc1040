"""``simflush compare``: the product of lists of settings, simulated side by side (options and files;
the comparison itself is ``simflush.analysis.whatif.compare``)."""

import argparse
import csv
import json
from pathlib import Path

from ..analysis.whatif.compare import (
    LIST_OPTIONS,
    Row,
    add_accuracy,
    expand,
    run_all,
    summaries,
    table,
    varying_keys,
)
from ..errors import ConfigError
from ..sim.engine import SimConfig
from .options import check_outputs, positive, warn_foreign_cost
from .progress import callback


def warn_once():
    """A hook for ``run_all``: warn about a cost profile foreign to a runtime profile once per pair."""
    warned = set()

    def warn(config: SimConfig) -> None:
        key = (config.cost.name, config.settings.profile)
        if key not in warned:
            warned.add(key)
            warn_foreign_cost(config.cost, config.settings.profile)
    return warn


def write_outputs(args: argparse.Namespace, rows: list[Row], records: list[dict]) -> None:
    if args.json:
        Path(args.json).write_text(json.dumps({"configs": records}, indent=2) + "\n")
    if args.csv:
        keys = list(dict.fromkeys(k for r in records for k in r if k != "branches"))
        with open(args.csv, "w", newline="") as fh:
            writer = csv.DictWriter(fh, [*keys, "branches"], lineterminator="\n")
            writer.writeheader()
            for r in records:
                writer.writerow({**r, "branches": json.dumps(r.get("branches", {}), sort_keys=True)})
    done = [(rec["config"], row.result.trace) for rec, row in zip(records, rows, strict=True) if row.result]
    if args.plot:
        write_plots(Path(args.plot), rows, records)
    if args.chrome_trace:
        from ..io.chrome_trace import write_chrome_trace
        write_chrome_trace(args.chrome_trace, done)


TIMELINES = 24  # timelines --plot writes at most (each takes a fraction of a second)


def write_plots(out: Path, rows: list[Row], records: list[dict]) -> None:
    """PNGs in ``out``: ``overview.png`` (every configuration's online time, per network), ``runs.png``
    (time per run of layer 0) and ``timeline_<row>.png`` for at most ``TIMELINES`` configurations: the
    first one and the fastest."""
    from ..io.plots import first_and_fastest, plot_run_bars, plot_sweep, plot_timeline
    out.mkdir(parents=True, exist_ok=True)
    varying = varying_keys(rows)
    fixed = {k: v for k, v in {**rows[0].params, **rows[0].params["knobs"]}.items()
             if k not in varying and k != "knobs" and v is not None}
    plot_sweep(records, out / "overview.png",
               "online time per configuration — " + ", ".join(f"{k} {v}" for k, v in fixed.items()))
    done = [(i, rec, row) for i, (rec, row) in enumerate(zip(records, rows, strict=True)) if row.result]
    plot_run_bars([(rec["config"], row.result.trace) for _, rec, row in done], out / "runs.png")
    digits = max(3, len(str(len(rows) - 1)))
    for i, rec, row in first_and_fastest(done, lambda d: d[1]["online_time_s"], TIMELINES):
        plot_timeline(row.result.trace, out / f"timeline_{i:0{digits}d}.png", {k: rec[k] for k in varying})


def cmd_compare(args: argparse.Namespace) -> str:
    check_outputs({"--json": args.json, "--csv": args.csv, "--chrome-trace": args.chrome_trace}, {"--plot": args.plot})
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: must be >= 1")
    combos = expand({name: getattr(args, name) for name in LIST_OPTIONS}, args.set)
    rows = run_all(combos, args.jobs, callback("compare") if len(combos) > 1 else None, warn_once())
    if args.accuracy:
        add_accuracy(rows, args.n_bits, callback("accuracy") if len(combos) > 1 else None)
    records = summaries(rows)
    write_outputs(args, rows, records)
    return table(records)


def add_list_options(p: argparse.ArgumentParser, defaults: bool = True) -> None:
    """compare's comma-list options (``defaults=False``: left-out options are None, so a caller can tell)."""
    for name, (default, _parse) in LIST_OPTIONS.items():
        p.add_argument(f"--{name.replace('_', '-')}", default=default if defaults else None,
                       help=f"comma list (default {default or 'all'})")
    p.add_argument("--set", action="append", default=[], metavar="K=V1,V2", help="a knob and its values (repeatable)")


def register(sub) -> None:
    p = sub.add_parser("compare", help="simulate the product of lists of settings side by side")
    add_list_options(p)
    p.add_argument("--json", metavar="FILE", help="write the comparison as JSON")
    p.add_argument("--csv", metavar="FILE", help="write the comparison as CSV")
    p.add_argument("--plot", metavar="DIR", help="write a sweep overview, a per-run bar chart and the timelines of "
                   f"at most {TIMELINES} configurations (the first and the fastest) as PNG")
    p.add_argument("--chrome-trace", metavar="FILE", help="write a Chrome trace (Perfetto, chrome://tracing)")
    p.add_argument("--jobs", type=int, default=1, help="simulate in this many processes (default 1)")
    p.add_argument("--accuracy", action="store_true",
                   help="add the fixed-point error of the final hidden state and the ring bits needed "
                        "(simflush accuracy; once per model, size, runtime and knobs)")
    p.add_argument("--n-bits", type=positive("--n-bits"),
                   help="ring bits of the accuracy columns (default: the model's)")
    p.set_defaults(func=cmd_compare)
