"""``simflush compare``: the product of lists of settings, simulated side by side.

Every option takes a comma-separated list (``--policy suf,have_pfss_work --net lan,wan --set
rsqrt_iters=1,2,3 --chains 1,2``); the table shows the options that vary, the online time, flushes by
kind and branch, bytes, and the speed-up against the first row.
"""

import argparse
import itertools
import re
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from ...cli.options import build_config, warn_foreign_cost
from ...errors import ConfigError, SufRuntimeError
from ...io.bench_json import bench_document
from ...sim.engine import SimResult, simulate

LIST_OPTIONS = {  # option -> (default, parse one value)
    "model": ("bert-base", str), "seq_len": ("128", int), "batch": ("1", int), "layers": ("", int),
    "runtime": ("suf-gpu-bench", str), "net": ("loopback", str), "cost": ("suf-h100", str),
    "policy": ("suf", str), "deploy": ("colocated", str), "chains": ("1", int),
}


@dataclass
class Row:
    params: dict
    result: SimResult | None
    error: str = ""



def split_list(raw: str) -> list[str]:
    """Comma-separated values; ``custom:BW,RTT`` network specs keep their own comma."""
    return re.findall(r"custom:[^,]+,[^,]+|[^,]+", raw)


def _values(name: str, raw: str) -> list:
    parse = LIST_OPTIONS[name][1]
    out = []
    for item in split_list(raw):
        try:
            out.append(parse(item))
        except ValueError:
            raise ConfigError(f"--{name.replace('_', '-')} {item!r}: expected {parse.__name__} values") from None
    return out


def expand(args: argparse.Namespace) -> list[dict]:
    """Every combination of the listed values, in the order given (first value of each = first row)."""
    axes = {name: _values(name, getattr(args, name)) if getattr(args, name) else [None] for name in LIST_OPTIONS}
    set_axes = []
    for pair in args.set:
        name, sep, raw = pair.partition("=")
        if not sep or not raw:
            raise ConfigError(f"--set {pair!r}: expected NAME=V1[,V2...]")
        set_axes.append([f"{name}={v}" for v in split_list(raw)])
    combos = []
    for values in itertools.product(*axes.values(), *set_axes):
        params = dict(zip(axes, values[:len(axes)]))
        params["set"] = list(values[len(axes):])
        combos.append(params)
    return combos


def _simulate(params: dict) -> Row:
    ns = argparse.Namespace(**{k: v for k, v in params.items() if k != "set"}, set=params["set"])
    try:
        return Row(params, simulate(build_config(ns)))
    except SufRuntimeError as exc:
        return Row(params, None, f"runtime error in {exc.run}: {exc.message}")


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // total
    print(f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total}", end="" if done < total else "\n",
          file=sys.stderr, flush=True)


def run_all(combos: list[dict], jobs: int = 1) -> list[Row]:
    warned = set()
    for params in combos:  # validate everything before simulating anything (exit 2 early)
        config = build_config(argparse.Namespace(**{k: v for k, v in params.items() if k != "set"}, set=params["set"]))
        if (config.cost.name, config.settings.profile) not in warned:
            warned.add((config.cost.name, config.settings.profile))
            warn_foreign_cost(config)
    rows: list[Row] = []
    show = len(combos) > 1
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            for row in pool.map(_simulate, combos):
                rows.append(row)
                show and _progress(len(rows), len(combos))
    else:
        for params in combos:
            rows.append(_simulate(params))
            show and _progress(len(rows), len(combos))
    return rows


def _sets(row: Row) -> dict[str, str]:
    return dict(item.split("=", 1) for item in row.params["set"])


def varying_keys(rows: list[Row]) -> list[str]:
    """Options and ``--set`` knobs whose value differs between rows (a knob a row lacks counts as '')."""
    keys = [k for k in LIST_OPTIONS if len({str(r.params[k]) for r in rows}) > 1]
    knobs = list(dict.fromkeys(k for r in rows for k in _sets(r)))
    return keys + [k for k in knobs if len({_sets(r).get(k, "") for r in rows}) > 1]


def summaries(rows: list[Row]) -> list[dict]:
    """One flat record per row: the varying settings, time, counts, bytes, branches, speed-up."""
    varying = varying_keys(rows)
    base = next((r for r in rows if r.result), None)
    base_t = base.result.online_time_s if base else None
    out = []
    for r in rows:
        values = {**{k: r.params[k] for k in LIST_OPTIONS}, **_sets(r)}
        params = {k: values.get(k, "") for k in varying}
        rec = {"config": " ".join(f"{k}={v}" for k, v in params.items()) or "baseline", **params}
        if r.result is None:
            rec["error"] = r.error
        else:
            doc = bench_document(r.result)
            t = r.result.online_time_s
            rec.update(online_time_s=t, open_flushes=doc["pfss"]["open_flushes"],
                       pfss_flushes=doc["pfss"]["num_flushes"], net_bytes=doc["communication"]["net_bytes"],
                       opened_words=doc["pfss"]["opened_words"], branches=doc["branches"],
                       speedup=base_t / t if t else None)
        out.append(rec)
    return out


def table(records: list[dict]) -> str:
    header = ["config", "online ms", "opens", "pfss", "net MB", "speed-up", "branches"]
    lines = []
    for r in records:
        if "error" in r:
            lines.append([r["config"], "-", "-", "-", "-", "-", r["error"]])
            continue
        branches = " ".join(f"{k.split('/')[0][0]}:{k.split('/')[1]}={v}" for k, v in r["branches"].items())
        lines.append([r["config"], f"{r['online_time_s'] * 1e3:.2f}", r["open_flushes"], r["pfss_flushes"],
                      f"{r['net_bytes'] / 1e6:.2f}", f"{r['speedup']:.3f}x", branches])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    fmt = lambda row: "  ".join(str(c).ljust(w) if i in (0, 6) else str(c).rjust(w)  # noqa: E731
                                for i, (c, w) in enumerate(zip(row, widths)))
    return "\n".join(line.rstrip() for line in [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in lines]) + "\n"
