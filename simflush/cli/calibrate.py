"""``simflush calibrate``: fit a cost profile from measured flush traces."""

import argparse
from pathlib import Path

from ..errors import ConfigError
from ..io.suf_bench import read_bench
from .options import check_outputs
from .progress import bar


def register(subparsers) -> None:
    p = subparsers.add_parser("calibrate", help="fit a cost profile from measured flush traces")
    p.add_argument("--trace", action="append", required=True, type=Path,
                   help="a SUF [trace] file (.txt/.gz) or a simflush trace .json (repeatable)")
    p.add_argument("--bench", action="append", default=[], type=Path,
                   help="bench JSON of each SUF trace, in the same order (gives model, T, B, layers)")
    p.add_argument("--untraced", type=Path,
                   help="profiled bench JSON of the same configuration without tracing: scale to untraced level")
    p.add_argument("--out", required=True, type=Path, help="where to write the profile JSON")
    p.add_argument("--name", help="profile name (default: the output file's stem)")
    p.add_argument("--device", default="", help="device the traces were measured on (provenance)")
    p.add_argument("--plot", type=Path, help="PNG of measured vs fitted (default: next to --out)")
    p.add_argument("--interval-bench", type=Path,
                   help="benchmarks/interval_bench.py --grid lines (the real backend's interval kernel): what the "
                        "profile charges the sigma gates the traces lack")
    p.add_argument("--step-floors", choices=("idle", "family"), default="idle",
                   help="the local steps' floor: idle, one for all, the mean of the idle steps (default); family, one "
                        "per task family fitted with the slopes (a host-bound backend's steps cost their launches)")
    p.add_argument("--cross-validate", action="store_true",
                   help="also calibrate on parts of the first trace and report the errors on the rest")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> str:
    from ..analysis.calibration.calibrate import calibrate, plot_fits, report, with_interval_kernel
    from ..analysis.calibration.samples import load_source

    check_outputs({"--out": args.out, "--plot": args.plot or args.out.with_suffix(".png")})
    if args.bench and len(args.bench) != len(args.trace):
        raise ConfigError(f"--bench given {len(args.bench)} times for {len(args.trace)} --trace files")
    benches = args.bench or [None] * len(args.trace)
    with bar(len(args.trace) + 2 + args.cross_validate, "calibrate", unit="step") as steps:  # read each, fit, plot
        sources = []
        for trace, bench in zip(args.trace, benches, strict=True):
            sources.append(load_source(trace, bench))
            steps.update()
        for src in sources:
            src.trace.meta.device = args.device or src.trace.meta.device
        untraced = read_bench(args.untraced) if args.untraced else None
        cal = calibrate(sources, untraced, name=args.name or args.out.stem, step_floors=args.step_floors)
        if args.interval_bench:
            cal = with_interval_kernel(cal, args.interval_bench)
        steps.update()
        args.out.write_text(cal.cost.to_json() + "\n")
        plot = args.plot or args.out.with_suffix(".png")
        plot_fits(cal.fits, plot)
        steps.update()
        text = report(cal) + f"\nwrote {args.out} and {plot}\n"
        if args.cross_validate:
            from ..analysis.calibration.validate import cross_validate, cross_validation_report

            text += "\n" + cross_validation_report(cross_validate(sources[0]))
            steps.update()
    return text
