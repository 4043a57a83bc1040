"""``simflush sweep GRID.toml``: a sweep of any size, streamed to a JSON-lines file (the file format is
``simflush.analysis.whatif.grid``, the records and resume ``simflush.analysis.whatif.sweep``)."""

import argparse
import os
import sys
from pathlib import Path

from ..analysis.whatif.compare import LIST_OPTIONS, expand
from ..analysis.whatif.executors import Dask, InProcess, ProcessPool
from ..analysis.whatif.grid import load_sweep
from ..analysis.whatif.sweep import SweepInterrupted, overview_records, run_sweep
from ..errors import ConfigError
from .compare import add_list_options, warn_once
from .options import check_outputs, positive
from .progress import callback


def _executor(args: argparse.Namespace):
    if args.dask is not None and args.dask != "local":
        raise ConfigError(f"--dask {args.dask!r}: only 'local' (a LocalCluster); use --scheduler ADDR for a cluster")
    if args.scheduler and args.dask:
        raise ConfigError("--dask local and --scheduler: give one")
    if args.scheduler:
        return Dask(args.scheduler)
    if args.dask:
        return Dask(None, args.jobs)
    return InProcess() if args.jobs == 1 else ProcessPool(args.jobs)


def _configs(args: argparse.Namespace):
    """The sweep of the GRID file, or of compare's list options (the shorthand)."""
    listed = {name: getattr(args, name) for name in LIST_OPTIONS if getattr(args, name) is not None}
    if args.grid:
        if listed or args.set:
            flags = ", ".join(f"--{n.replace('_', '-')}" for n in listed) or "--set"
            raise ConfigError(f"{flags}: give the settings in {args.grid} or as options, not both")
        return load_sweep(args.grid), str(args.grid), args.out or args.grid.with_suffix(".jsonl")
    if args.out is None:
        raise ConfigError("--out FILE is needed without a GRID file")
    return expand(listed, args.set), "the options", args.out


def cmd_sweep(args: argparse.Namespace) -> str:
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: must be >= 1")
    executor = _executor(args)
    configs, source, out = _configs(args)
    check_outputs({"--out": out, "--plot": args.plot})
    try:
        summary = run_sweep(configs, out, executor, args.resume, source, callback("sweep"), warn_once(),
                            (args.accuracy, args.n_bits))
    except SweepInterrupted as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(130) from None
    text = (f"{summary.total} configurations in {summary.path} ({summary.total - summary.resumed} run now, "
            f"{summary.resumed} resumed, {summary.errors} with a runtime error)\n")
    if args.plot:
        from ..io.plots import plot_sweep

        records, shared = overview_records(summary.path)
        settings = ", ".join(f"{k} {v}" for k, v in shared.items() if k != "net")
        plot_sweep(records, args.plot, "online time per configuration — " + settings)
        text += f"wrote {args.plot}\n"
        with_error = [{**r, "label": r["config"], "group": f"net {r['net']}"} for r in records
                      if r.get("final_rel_rms_error") is not None]
        if with_error:   # a sweep run with --accuracy: its time/error Pareto front beside the overview
            from ..io.plots import plot_error_vs_time
            pareto = args.plot.with_name(args.plot.stem + "_accuracy.png")
            plot_error_vs_time(with_error, pareto, "fixed-point error of the final hidden state against online "
                               "time — " + settings, front_per_group=True)
            text += f"wrote {pareto}\n"
    return text


def register(sub) -> None:
    p = sub.add_parser("sweep", help="run a grid of configurations (TOML), streaming records to JSON lines")
    p.add_argument("grid", nargs="?", type=Path, help="TOML file: [base], [grid] axes, [[configs]] (docs/sweeps.md)")
    p.add_argument("--out", type=Path, help="JSON-lines file of records (default: GRID with .jsonl)")
    p.add_argument("--resume", action="store_true", help="keep the records in --out and run only the rest")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="local worker processes, or LocalCluster workers with --dask (default: the CPU count)")
    p.add_argument("--dask", metavar="local", help="run on a Dask LocalCluster")
    p.add_argument("--scheduler", metavar="ADDR", help="run on the Dask scheduler at ADDR (tcp://host:8786)")
    p.add_argument("--plot", type=Path, metavar="PNG",
                   help="the sweep overview (online time per configuration, one row per network, log axes)")
    p.add_argument("--accuracy", action="store_true", help="add each record's fixed-point error (accuracy.*: "
                   "simflush accuracy's final-state columns; once per model, size, runtime and knobs in a worker)")
    p.add_argument("--n-bits", type=positive("--n-bits"),
                   help="ring bits of the accuracy columns (default: the model's)")
    add_list_options(p, defaults=False)
    p.set_defaults(func=cmd_sweep)
