"""Sweeps that scale: every configuration reduced in the worker to one flat record, streamed to a JSON-lines file.

A record is one line of JSON: ``index`` (position in the sweep), ``key`` (a hash of the settings: what
``resume`` matches on), every setting under the API's keyword names (``model``, ..., ``chains``, knobs as
``knobs.NAME``, constant ones too), ``error`` (null, or the runtime error where the SUF runtime would throw),
then the ``simflush simulate --json`` document flattened with dots in SUF's field names
(``pfss.open_flushes``, ``communication.net_bytes``, ``timing.online_time_s``, ``settings.rsqrt_iters``,
``branches.OPEN/overlap``: every kind/branch pair, 0 where there is none; the per-run table and the prose
``scope`` are left out). Every record of a sweep has the same fields with the same types, except that an error
record has no result fields. No ``Result`` outlives its worker: memory is flat in the number of configurations.

JSON lines, not Parquet: a line is complete or absent, so a file cut by Ctrl-C or a crash is valid up to
its last newline and can be appended to (resume); the parent needs no schema up front (the knobs and
branches a sweep has are known only as records arrive) and no extra dependency; ``pandas.read_json(lines=True)``
reads it. Records are written as they finish; when the sweep is complete the file is rewritten in sweep
order, so the file is the same bytes whatever ran it (process pool, one process, Dask).
"""

import gc
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ...api import make_config
from ...errors import ConfigError, SufRuntimeError
from ...executor.records import FlushBranch, FlushKind
from ...sim.cost import CostModel, load_cost
from ...sim.engine import SimConfig, simulate
from ...sim.replay import ScheduleCache
from ...sim.trace import bench_of
from .compare import config_label
from .executors import Executor
from .grid import SETTING_DEFAULTS

LEFT_OUT = ("scope",)  # of the bench document: constant prose (the per-run table is not even made)
# every kind/branch pair, 0 where a configuration has no such flush: every record has the same fields
NO_BRANCHES = {f"{kind}/{branch}": 0 for kind in FlushKind for branch in FlushBranch}


def config_key(params: dict) -> str:
    """A stable name of a configuration: the first 16 hex digits of the SHA-256 of its settings."""
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _flatten(doc: dict, prefix: str = "") -> dict:
    out = {}
    for name, value in doc.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def _dumps(record: dict) -> str:
    return json.dumps(record, separators=(",", ":"))


# A worker's schedules (under 1 MB each for bert-base): configurations that differ only in network, deployment or
# layer count share one. 128 covers a grid with up to that many schedules between two such configurations (the
# benchmark's: 100, one per policy, chains and rsqrt_iters, within each network).
SCHEDULES = ScheduleCache(capacity=128)
# Python's full collection runs after every 10th of the middle generation's; in a worker it traverses the whole
# schedule cache (up to 128 MB of live objects) and finds nothing there: a configuration's own objects are freed
# by reference counting or die young. Every 100th instead (a worker's first record sets it, for its process).
FULL_COLLECTION_EVERY = 100


@cache
def _rarer_full_collections() -> None:
    young, middle, _full = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


@cache
def _cost(name: str) -> CostModel:
    """A worker reads each cost profile once, not once per configuration."""
    return load_cost(name)


@cache
def _accuracy(value_key: tuple, n_bits: int | None) -> dict:
    """A worker measures each distinct model, size, runtime and knobs once (``analysis.accuracy``, imported here: a
    sweep without ``--accuracy`` keeps its workers' start as light as before)."""
    from ..accuracy import measure_accuracy
    model, seq_len, batch, layers, runtime, knobs = value_key
    try:
        report = measure_accuracy(model=model, seq_len=seq_len, batch=batch, layers=layers, runtime=runtime,
                                  knobs=dict(knobs), n_bits=n_bits)
    except ConfigError as exc:
        return {"accuracy.error": str(exc)}
    return {"accuracy.final_rel_rms_error": report.final.rel_rms_error,
            "accuracy.final_max_abs_error": report.final.max_abs_error, "accuracy.n_bits": report.n_bits,
            "accuracy.n_bits_needed": report.ranges.n_bits_needed}


def reduce_config(index: int, params: dict, accuracy: tuple[bool, int | None] = (False, None)) -> tuple[int, str, str]:
    """Simulate one configuration (in a worker) and reduce it to its record: ``(index, key, JSON line)``; with
    ``accuracy`` (on, ring bits) its record also carries the fixed-point error columns (``accuracy.*``)."""
    _rarer_full_collections()
    key = config_key(params)
    settings = {k: v for k, v in params.items() if k != "knobs"}
    knobs = {f"knobs.{k}": v for k, v in params["knobs"].items()}
    record = {"index": index, "key": key, **settings, **knobs, "error": None}
    config = make_config(**{**params, "cost": _cost(params["cost"])})
    try:
        doc = bench_of(simulate(config, schedules=SCHEDULES, records=False))
        doc["branches"] = {**NO_BRANCHES, **doc["branches"]}
    except SufRuntimeError as exc:
        record["error"] = f"runtime error in {exc}"
    else:
        record.update((k, v) for k, v in _flatten({k: v for k, v in doc.items() if k not in LEFT_OUT}).items()
                      if k not in record)
    if accuracy[0]:
        value_key = (params["model"], params["seq_len"], params["batch"], params["layers"], params["runtime"],
                     tuple(sorted(params["knobs"].items())))
        record.update(_accuracy(value_key, accuracy[1]))
    return index, key, _dumps(record)


def _reduce_item(item: tuple) -> tuple[int, str, str]:
    return reduce_config(*item)


class SweepInterrupted(Exception):
    """Ctrl-C during a sweep: what was finished is in the file."""

    def __init__(self, written: int, total: int, path: Path):
        super().__init__(f"interrupted: {written} of {total} configurations written to {path}; rerun with --resume")
        self.written, self.total, self.path = written, total, path


@dataclass(frozen=True)
class SweepSummary:
    total: int      # configurations in the sweep
    resumed: int    # found in the file already (--resume)
    errors: int     # records with a runtime error
    path: Path


def _scan(path: Path) -> dict[str, int]:
    """key -> byte offset of each complete record line; a cut last line (a crash) is cut off the file."""
    offsets: dict[str, int] = {}
    with open(path, "rb+") as fh:
        offset = 0
        for line in fh:
            if not line.endswith(b"\n"):
                fh.truncate(offset)
                break
            try:
                offsets[json.loads(line)["key"]] = offset
            except (ValueError, KeyError, TypeError):
                raise ConfigError(f"{path}: line at byte {offset} is not a sweep record") from None
            offset += len(line)
    return offsets


def _check(configs: Iterable[dict], source: str, done: dict[str, int], path: Path,
           on_config: Callable[[SimConfig], None] | None) -> int:
    """Validate every configuration before any runs (fail fast, naming it); count those already done."""
    seen: dict[str, int] = {}
    resumed = 0
    for index, params in enumerate(configs):
        try:
            config = make_config(**{**params, "cost": _cost(params["cost"])})
        except ConfigError as exc:
            raise ConfigError(f"{source}: configuration {index}: {exc}") from None
        if on_config:
            on_config(config)
        key = config_key(params)
        if key in seen:
            raise ConfigError(f"{source}: configuration {index} repeats configuration {seen[key]}")
        seen[key] = index
        resumed += key in done
    if resumed != len(done):
        raise ConfigError(f"{path}: {len(done) - resumed} records are not configurations of this sweep "
                          f"(another sweep's file?); write to another file")
    return resumed


def _rewrite_in_order(configs: Iterable[dict], path: Path) -> int:
    """The file in sweep order (records renumbered), replaced atomically; returns the records with errors."""
    offsets = _scan(path)
    tmp = path.with_name(path.name + ".tmp")
    errors = 0
    with open(path, "rb") as src, open(tmp, "w") as dst:
        for index, params in enumerate(configs):
            src.seek(offsets[config_key(params)])
            record = json.loads(src.readline())
            record["index"] = index
            errors += record["error"] is not None
            dst.write(_dumps(record) + "\n")
    os.replace(tmp, path)
    return errors


def run_sweep(configs: Iterable[dict], path: Path, executor: Executor, resume: bool = False,
              source: str = "sweep", progress: Callable[[int, int], None] | None = None,
              on_config: Callable[[SimConfig], None] | None = None,
              accuracy: tuple[bool, int | None] = (False, None)) -> SweepSummary:
    """Run every configuration of ``configs`` (re-iterable, with ``len``) and write its records to ``path``.

    ``resume``: keep the records already in ``path`` and run only the rest (without it, an existing
    non-empty ``path`` is an error, so that a finished sweep is never overwritten by mistake).
    ``progress(done, total)`` sees every record written. Ctrl-C raises ``SweepInterrupted`` after the
    workers are stopped; every record finished by then is in the file. ``accuracy``: see ``reduce_config``.
    """
    total = len(configs)
    exists = path.exists() and path.stat().st_size > 0
    if exists and not resume:
        raise ConfigError(f"{path} exists: pass --resume to continue it, or remove it")
    done = _scan(path) if exists else {}
    resumed = _check(configs, source, done, path, on_config)
    todo = ((i, p, accuracy) for i, p in enumerate(configs) if config_key(p) not in done)
    written = resumed
    progress and progress(written, total)
    with open(path, "a") as out:
        results = executor.map_unordered(_reduce_item, todo)
        try:
            for _index, _key, line in results:
                out.write(line + "\n")
                out.flush()
                written += 1
                progress and progress(written, total)
        except KeyboardInterrupt:
            results.close()  # stops the workers
            raise SweepInterrupted(written, total, path) from None
    errors = _rewrite_in_order(configs, path)
    return SweepSummary(total, resumed, errors, path)


def read_records(path: Path) -> Iterator[dict]:
    """The records of a sweep file, in file order."""
    with open(path) as fh:
        for line in fh:
            yield json.loads(line)


def overview_records(path: Path) -> tuple[list[dict], dict]:
    """A sweep file as ``io.plots.plot_sweep`` reads it: per record its varying settings (``config`` as
    ``k=v k=v``, and each by name), ``net``, ``online_time_s`` (None for a runtime error) and, from a sweep run
    with ``--accuracy``, ``final_rel_rms_error``; and the settings every record shares (for a title). Knobs appear
    without their ``knobs.`` prefix."""
    settings = [*SETTING_DEFAULTS, *sorted({k for r in read_records(path) for k in r if k.startswith("knobs.")})]
    values: dict[str, set] = {k: set() for k in settings}
    for r in read_records(path):
        for k in settings:
            values[k].add(str(r.get(k, "")))
    varying = [k for k in settings if len(values[k]) > 1]
    shared = {k.removeprefix("knobs."): next(iter(v)) for k, v in values.items() if len(v) == 1 and v != {"None"}}
    out = []
    for r in read_records(path):
        named = {k.removeprefix("knobs."): r.get(k, "") for k in varying}
        out.append({"config": config_label(named), **named, "net": r["net"],
                    "online_time_s": r.get("timing.online_time_s"),
                    "final_rel_rms_error": r.get("accuracy.final_rel_rms_error")})
    return out, shared
