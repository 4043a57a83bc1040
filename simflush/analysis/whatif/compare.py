"""What-if comparisons: the product of lists of settings, simulated side by side through the API.

A configuration is a dict of ``simflush.api.simulate``'s keyword arguments (``knobs`` a dict). ``expand``
makes the product of comma lists (``policy="suf,have_pfss_work"``, ``net="lan,wan"``, knob values
``"rsqrt_iters=1,2,3"``, ``chains="1,2"``); ``run_all`` simulates them; ``summaries`` and ``table`` show
the settings that vary, the online time, flushes by kind and branch, bytes, and the speed-up against the
first row. ``simflush compare`` (``simflush.cli.compare``) is the command line on top. It keeps every
``Result`` (its figures and Chrome trace need the traces); a sweep too large for that is ``simflush sweep``
(``.sweep``: one small record per configuration, streamed to a file), which runs on the same executors.
"""

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ...api import Result, make_config, simulate_config
from ...errors import ConfigError, SufRuntimeError
from ...sim.engine import SimConfig
from ..accuracy import AccuracyReport, measure_accuracy
from .executors import InProcess, ProcessPool

LIST_OPTIONS = {  # keyword of simflush.api.simulate -> (default, parse one value)
    "model": ("bert-base", str), "seq_len": ("128", int), "batch": ("1", int), "layers": ("", int),
    "runtime": ("suf-gpu-bench", str), "net": ("loopback", str), "cost": ("suf-h100", str),
    "policy": ("suf", str), "deploy": ("colocated", str), "chains": ("1", int),
}

Progress = Callable[[int, int], None]   # (configurations done, total)


@dataclass
class Row:
    params: dict                 # keyword arguments of simflush.api.simulate
    result: Result | None
    error: str = ""
    accuracy: AccuracyReport | None = None   # with ``add_accuracy``
    accuracy_error: str = ""


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


def expand(options: Mapping[str, str], knobs: Sequence[str] = ()) -> list[dict]:
    """Every combination of the listed values, in the order given (first value of each = first row).

    ``options``: keyword -> comma list (a keyword left out takes its default; ``""``: the API's default);
    ``knobs``: ``"NAME=V1,V2"`` strings, one axis each.
    """
    unknown = set(options) - set(LIST_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown option {sorted(unknown)[0]!r}; allowed: {', '.join(LIST_OPTIONS)}")
    raw = {name: options.get(name, default) for name, (default, _parse) in LIST_OPTIONS.items()}
    axes = {name: _values(name, value) if value else [None] for name, value in raw.items()}
    knob_axes = []
    for pair in knobs:
        name, sep, values = pair.partition("=")
        if not sep or not values:
            raise ConfigError(f"--set {pair!r}: expected NAME=V1[,V2...]")
        knob_axes.append([(name, v) for v in split_list(values)])
    combos = []
    for values in itertools.product(*axes.values(), *knob_axes):
        params = dict(zip(axes, values[:len(axes)], strict=True))
        params["knobs"] = dict(values[len(axes):])
        combos.append(params)
    return combos


def _simulate(item: tuple[int, dict, SimConfig]) -> tuple[int, Row]:
    index, params, config = item
    try:
        return index, Row(params, simulate_config(config))
    except SufRuntimeError as exc:
        return index, Row(params, None, f"runtime error in {exc}")


def run_all(combos: list[dict], jobs: int = 1, progress: Progress | None = None,
            on_config: Callable[[SimConfig], None] | None = None) -> list[Row]:
    """Simulate every configuration (in ``jobs`` processes), in order; a runtime error is a row's error.

    Every configuration is validated before any is simulated (a bad value fails fast, as ConfigError);
    ``on_config`` sees each one as it is validated (the CLI warns there), ``progress`` each finished row.
    """
    configs = []
    for params in combos:
        configs.append(make_config(**params))
        if on_config:
            on_config(configs[-1])
    rows: list[Row] = [Row(params, None) for params in combos]
    executor = ProcessPool(jobs) if jobs > 1 else InProcess()
    items = ((i, params, config) for i, (params, config) in enumerate(zip(combos, configs, strict=True)))
    for done, (index, row) in enumerate(executor.map_unordered(_simulate, items), 1):
        rows[index] = row
        progress and progress(done, len(combos))
    return rows


VALUE_KEYS = ("model", "seq_len", "batch", "layers", "runtime")   # what the values depend on (with the knobs)


def add_accuracy(rows: list[Row], n_bits: int | None = None, progress: Progress | None = None) -> None:
    """Each row's fixed-point error (``analysis.accuracy``) at ``n_bits`` (None: the model's), once per distinct
    model, size, runtime and knobs (policies, networks, costs, deployments and chains leave the values alone); a
    setting with no value definition is the row's ``accuracy_error``."""
    done: dict[tuple, AccuracyReport | str] = {}
    for count, row in enumerate(rows, 1):
        key = (*(row.params[k] for k in VALUE_KEYS), tuple(sorted(row.params["knobs"].items())))
        if key not in done:
            try:
                done[key] = measure_accuracy(**{k: row.params[k] for k in VALUE_KEYS}, knobs=row.params["knobs"],
                                             n_bits=n_bits)
            except ConfigError as exc:
                done[key] = str(exc)
        found = done[key]
        if isinstance(found, str):
            row.accuracy_error = found
        else:
            row.accuracy = found
        progress and progress(count, len(rows))


def varying_keys(rows: list[Row]) -> list[str]:
    """Options and knobs whose value differs between rows (a knob a row lacks counts as '')."""
    keys = [k for k in LIST_OPTIONS if len({str(r.params[k]) for r in rows}) > 1]
    knobs = list(dict.fromkeys(k for r in rows for k in r.params["knobs"]))
    return keys + [k for k in knobs if len({r.params["knobs"].get(k, "") for r in rows}) > 1]


def config_label(varying: Mapping[str, object]) -> str:
    """A configuration named by the settings that vary in its sweep: ``k=v k=v`` (``baseline``: none)."""
    return " ".join(f"{k}={v}" for k, v in varying.items()) or "baseline"


def summaries(rows: list[Row]) -> list[dict]:
    """One flat record per row: the varying settings, time, counts, bytes, branches, speed-up."""
    varying = varying_keys(rows)
    base = next((r for r in rows if r.result), None)
    base_t = base.result.online_time_s if base else None
    out = []
    for r in rows:
        values = {**{k: r.params[k] for k in LIST_OPTIONS}, **r.params["knobs"]}
        params = {k: values.get(k, "") for k in varying}
        rec = {"config": config_label(params), **params}
        if r.result is None:
            rec["error"] = r.error
        else:
            doc = r.result.bench_json()
            t = r.result.online_time_s
            rec.update(online_time_s=t, open_flushes=doc["pfss"]["open_flushes"],
                       pfss_flushes=doc["pfss"]["num_flushes"], net_bytes=doc["communication"]["net_bytes"],
                       opened_words=doc["pfss"]["opened_words"], branches=doc["branches"],
                       speedup=base_t / t if t else None)
        if r.accuracy is not None:
            final = r.accuracy.final
            rec.update(final_max_abs_error=final.max_abs_error, final_rel_rms_error=final.rel_rms_error,
                       n_bits=r.accuracy.n_bits, n_bits_needed=r.accuracy.ranges.n_bits_needed)
        elif r.accuracy_error:
            rec["accuracy_error"] = r.accuracy_error
        out.append(rec)
    return out


def _accuracy_cells(r: dict) -> list[str]:
    """The error columns: the final hidden state's relative RMS and max abs error, and the ring bits this input
    needs against the ring's (``!`` where it overflows)."""
    if "accuracy_error" in r:
        return ["-", "-", "no value definition"]
    flag = "!" if r["n_bits_needed"] > r["n_bits"] else ""
    return [f"{r['final_rel_rms_error']:.3g}", f"{r['final_max_abs_error']:.3g}",
            f"{r['n_bits_needed']}/{r['n_bits']}{flag}"]


def table(records: list[dict]) -> str:
    header = ["config", "online ms", "opens", "pfss", "net MB", "speed-up", "branches"]
    accuracy = any("final_rel_rms_error" in r or "accuracy_error" in r for r in records)
    if accuracy:
        header[6:6] = ["rel err", "max err", "bits"]
    lines = []
    for r in records:
        if "error" in r:
            lines.append([r["config"], "-", "-", "-", "-", "-", *(["-"] * 3 if accuracy else []), r["error"]])
            continue
        branches = " ".join(f"{k.split('/')[0][0]}:{k.split('/')[1]}={v}" for k, v in r["branches"].items())
        lines.append([r["config"], f"{r['online_time_s'] * 1e3:.2f}", r["open_flushes"], r["pfss_flushes"],
                      f"{r['net_bytes'] / 1e6:.2f}", f"{r['speedup']:.3f}x",
                      *(_accuracy_cells(r) if accuracy else []), branches])
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    left = (0, len(header) - 1)
    fmt = lambda row: "  ".join(str(c).ljust(w) if i in left else str(c).rjust(w)  # noqa: E731
                                for i, (c, w) in enumerate(zip(row, widths, strict=True)))
    out = [fmt(header), fmt(["-" * w for w in widths])] + [fmt(r) for r in lines]
    return "\n".join(line.rstrip() for line in out) + "\n"
