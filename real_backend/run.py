"""``python -m real_backend.run``: a model's layers for real, two party processes over TCP on this host.

    python -m real_backend.run --model bert-tiny --seq-len 128 [--layers L] [--set K=V ...] [--n-bits N] [--gpu]
                               [--deploy two-gpu] [--seed S] [--timeout-s T] [--spin-us S] [--rehearse-tokens N]
                               [--keys-own-pool] [--pin-cores]
                               [--json OUT.json]

The launcher checks the settings (a setting without a value definition, or a ring the range check says overflows for
this input, is refused: one line, exit 2), deals both key tapes (the dealer seed from the operating system's CSPRNG
unless ``--seed`` asks for a fixed one, with a warning) one layer at a time, writing each party's keys to one file
per layer (``tape.TapeFiles``: the dealer and each party hold one or two layers' keys at a time) and its input share
to its own file, and starts party 0 and party 1 as separate processes over loopback TCP (``channel``: framed,
checksummed, every receive with a timeout). Each party reads only its files, checks the peer's handshake (a random run
id: nothing derived from the seed goes over the wire) and runs the same tasks through the same executor as the
simulator on its shares. The launcher reconstructs the output and reports, as JSON in SUF's field names: flushes,
bytes, online time per party, key bytes per party, keygen time, the output's digest, whether it equals the plaintext
fixed-point run bit for bit and whether each party's flushes equal the dealer pass's (the executor's schedule of this
program: the tests hold it equal to the simulator's), and its error against the float reference. Progress (each layer
dealt, each party's layers as they start) goes to stderr. A failing party is named within the timeout, a party
process that dies (killed) within a second of its death; the other stops at once (its channel closes), naming the
party it lost.
"""

import argparse
import gzip
import hashlib
import json
import math
import multiprocessing as mp
import os
import pickle
import queue
import secrets
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .cores import pin
from .tape import TapeFiles, write_private
from .xp import convert_tree

EXIT_BAD_INPUT, EXIT_PARTY_FAILED = 2, 1
POLL_S = 0.5         # how often the launcher looks whether a party process died
DEAD_GRACE_S = 1.0   # a dead process's last report, already in the queue's pipe, arrives within this


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_job(job: dict, party: int, open_channel: Any) -> tuple[Any, dict]:
    """One party's run of its job (its tape, its input share, the public configuration) over the channel that
    ``open_channel()`` gives; its result, with the output share on the host, and its channel counters."""
    from models.specs import get_model

    from . import channel, opening
    from .twoparty import PeerError, own_key_pool, rehearse, run_party
    xp = np
    if job["gpu"]:
        import cupy as xp
        job["share"] = convert_tree(job["share"], xp)   # the tape moves to the GPU a layer at a time
    chan = open_channel()
    shape(chan, job["net"])
    peer = "{}:{}".format(*chan.sock.getpeername()[:2])
    try:
        exchange = opening.ChannelOpen(chan)   # packed to n bits; CuPy shares packed and unpacked on the GPU
        spec = get_model(job["model"])
        settings = run_settings(job, spec)
        rehearsal_s = 0.0
        if job["gpu"]:   # NumPy has nothing to compile at first use
            rehearsal_s = rehearse(party, spec, job["weights"], settings, job["fixed"], job["batch"], xp,
                                   job["policy"], job["rehearse_tokens"], job["keys_own_pool"])
        keys_allocator = own_key_pool(xp)[0] if job["keys_own_pool"] else None
        exchange.prepare(job["largest_open"], job["fixed"].n_bits, xp)
        # the handshake waits for both parties' first layer and kernels: it is also the online clock's start line
        result = run_party(party, spec, job["weights"], job["share"], settings, job["fixed"], job["batch"],
                           job["seq_len"], job["layers"], job["tape"], exchange, xp, job["policy"], progress=_progress,
                           ready=lambda: chan.handshake(job["run_id"]), keys_allocator=keys_allocator)
        result.output = np.asarray(result.output.get() if hasattr(result.output, "get") else result.output)
        result.rehearsal_s = rehearsal_s
        return result, {"bytes_sent": chan.stats.bytes_sent, "rounds": chan.stats.rounds}
    except channel.PeerError as exc:   # closed, silent or unreachable: name the party that is gone
        raise PeerError(f"lost party {1 - party} (at {peer}): {exc}") from None
    finally:
        chan.close()   # a party that fails closes its channel: the peer's next receive fails at once


def _read_job(path: str) -> dict:
    job = pickle.loads(Path(path).read_bytes())
    Path(path).unlink()   # this party's input share exists once, in this process; its tape files go as read
    if isinstance(job["tape"], TapeFiles):
        job["tape"].folder = Path(path).parent   # the layer files lie next to the job file
    return job


def _party(party: int, path: str, ports: Any, results: Any, timeout_s: float, spin_s: float | None) -> None:
    """A party process of the one-host launcher: reports (party, result, counters, error) on ``results``."""
    from . import channel
    kw = _channel_options(spin_s)

    def open_channel() -> Any:
        if party == 0:
            server = channel.listen("127.0.0.1:0")
            ports.put(server.getsockname()[1])
            return channel.accept(server, timeout_s, **kw)
        return channel.connect(f"127.0.0.1:{ports.get(timeout=timeout_s)}", timeout_s, **kw)

    try:
        result, comm = run_job(_read_job(path), party, open_channel)
        results.put((party, result, comm, None))
    except BaseException as exc:  # reported to the launcher
        results.put((party, None, None, f"{type(exc).__name__}: {exc}"))


def _device_name() -> str:
    import cupy
    return cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()


PUBLIC = ("gpu", "model", "runtime", "knobs", "policy", "chains", "net", "weights", "fixed", "seq_len", "layers",
          "largest_open", "rehearse_tokens", "keys_own_pool")


def party_jobs(tapes: Any, shares: Any, public: dict) -> list[dict]:
    """What each party process gets: its own tape (``TapeFiles``, or ``TapeList`` carried in the job) and input share
    (on the host, for its file), and the public configuration (``PUBLIC``'s entries of the run's record)."""
    return [{"tape": convert_tree(tapes[p], np), "share": convert_tree(shares[p], np), "run_id": tapes[p].run_id,
             "batch": 1, **{k: public[k] for k in PUBLIC}} for p in (0, 1)]


def shape(chan: Any, net_name: str) -> None:
    """Each send of ``chan`` delayed as the simulator's link charges it (``simflush.networks``): half the round trip,
    plus the message's bytes at the link's bandwidth (none on loopback). The peer's sends are shaped by its own
    channel, so each direction has the preset's latency and bandwidth."""
    from simflush.networks import get_network
    net = get_network(net_name)
    chan.latency_s = net.rtt_s / 2
    chan.bandwidth_Bps = net.bandwidth_Bps if math.isfinite(net.bandwidth_Bps) else None


def run_settings(record: dict, spec: Any) -> Any:
    """The settings of a run's record (a party's job or the launcher's public record)."""
    from simflush.profiles import resolve
    return resolve(record["runtime"], spec, record["knobs"], chains=record["chains"])


REFERENCE_KEYS = ("model", "runtime", "knobs", "chains", "weights", "input", "fixed", "layers")


def references(record: dict) -> tuple[np.ndarray, np.ndarray]:
    """What a run's reconstructed output is checked against, from its public record (``REFERENCE_KEYS``) alone: the
    plaintext fixed-point run's ring words (bit for bit) and the float reference's output (the error)."""
    from models.float_reference import model_forward
    from models.specs import get_model
    from simflush.plain.layer import plaintext_output
    spec, x, layers = get_model(record["model"]), record["input"], record["layers"]
    plain = plaintext_output(spec, record["weights"], x, run_settings(record, spec), record["fixed"], layers)
    return plain, model_forward(x, record["weights"], spec, layers)[-1]["out"]


def references_ahead(record: dict) -> Future:
    """``references`` in a process of its own, started now: the launcher computes them while the dealer deals (a
    CPU's seconds a run: 5 for bert-base's layer, more for bert-large's) instead of after the parties finish."""
    pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
    pending = pool.submit(references, {k: record[k] for k in REFERENCE_KEYS})
    pool.shutdown(wait=False)
    return pending


def _death(exitcode: int) -> str:
    return f"killed by {signal.Signals(-exitcode).name}" if exitcode < 0 else f"exit code {exitcode}"


DEPLOYS = ("colocated", "two-gpu")   # the simulator's deployments (simflush.sim.engine.DEPLOYMENTS)


def party_devices(deploy: str, gpu: bool, count: int | None = None) -> list[str] | None:
    """Each party's ``CUDA_VISIBLE_DEVICES`` for ``deploy``: None (colocated: both see what the launcher sees), or
    for two-gpu the first two devices the launcher sees (of its own ``CUDA_VISIBLE_DEVICES`` if set), one a party.
    ``count``: the visible devices (None: ask CUDA). Raises ``ConfigError`` naming what is missing."""
    from simflush.errors import ConfigError

    if deploy not in DEPLOYS:
        raise ConfigError(f"--deploy {deploy!r}: allowed: {', '.join(DEPLOYS)}")
    if deploy == "colocated":
        return None
    if not gpu:
        raise ConfigError("--deploy two-gpu: each party on its own GPU needs --gpu")
    if count is None:
        from .xp import gpu_available
        count = _cuda_device_count() if gpu_available() else 0
    if count < 2:
        raise ConfigError(f"--deploy two-gpu: needs 2 GPUs; this machine shows {count} (CUDA_VISIBLE_DEVICES="
                          f"{os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [v.strip() for v in visible.split(",")] if visible else [str(i) for i in range(count)]
    return ids[:2]


def _cuda_device_count() -> int:
    import cupy
    return cupy.cuda.runtime.getDeviceCount()


def _start(proc: Any, device: str | None) -> None:
    """Start a spawned process with ``CUDA_VISIBLE_DEVICES`` = ``device`` (None: the launcher's), set before its
    interpreter starts, so every thread of it sees that one GPU as device 0."""
    if device is None:
        proc.start()
        return
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = device
    try:
        proc.start()
    finally:
        if before is None:
            del os.environ["CUDA_VISIBLE_DEVICES"]
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = before


def _channel_options(spin_s: float | None) -> dict:
    """The party channel's options: its receive spin when one was asked for (else the channel's default)."""
    return {} if spin_s is None else {"spin_s": spin_s}


def launch(jobs: list[dict], timeout_s: float, work: Path | None = None, pin_cores: bool = False,
           devices: list[str] | None = None, spin_s: float | None = None) -> tuple[dict[int, Any], list[str]]:
    """Write each party's job to its own file (mode 0600) in ``work`` (where its tape files are; a new private folder
    if None) and run the two party processes: their results by party, and one line per party that failed. A party
    that fails closes its channel, so the other fails at once too; a party process that dies without a word (killed)
    is named within a second of its death. ``pin_cores``: each party process on its own physical cores
    (``cores.pin``); ``devices``: each party's ``CUDA_VISIBLE_DEVICES`` (``party_devices``; None: the launcher's);
    ``spin_s``: each channel's receive spin (``channel.Channel``; None: its default)."""
    ctx = mp.get_context("spawn")
    ports, results = ctx.Queue(), ctx.Queue()
    work = work or Path(tempfile.mkdtemp(prefix="real_backend_"))
    procs = []
    for p, job in enumerate(jobs):
        path = work / f"party{p}.pkl"
        write_private(path, job)
        procs.append(ctx.Process(target=_party, args=(p, str(path), ports, results, timeout_s, spin_s)))
    for p, proc in enumerate(procs):
        _start(proc, devices[p] if devices else None)
        where = f" on CPUs {sorted(pin(proc.pid, p))}" if pin_cores else ""
        where += f" on GPU {devices[p]}" if devices else ""
        _progress(f"party {p}: process {proc.pid} started{where}")
    got: dict[int, Any] = {}
    failed: list[str] = []
    reported: set[int] = set()
    dead_since: dict[int, float] = {}
    deadline = time.monotonic() + 4 * timeout_s + 600   # a live party that never finishes: the last resort
    while len(reported) < 2:
        try:
            party, result, comm, error = results.get(timeout=POLL_S)
        except queue.Empty:
            now = time.monotonic()
            for p, proc in enumerate(procs):
                if p not in reported and proc.exitcode is not None and now - dead_since.setdefault(p, now) > \
                        DEAD_GRACE_S:
                    failed.append(f"party {p} failed: its process died without a result ({_death(proc.exitcode)})")
                    reported.add(p)
            if now > deadline:
                failed.append("no party finished in time")
                break
            continue
        reported.add(party)
        if error:
            failed.append(f"party {party} failed: {error}")
        else:
            got[party] = (result, comm)
    for proc in procs:
        proc.join(timeout_s if not failed else 5)
        if proc.is_alive():
            proc.terminate()
    return got, sorted(failed)


def parse(argv: list[str] | None) -> argparse.Namespace:
    from .twoparty import REHEARSAL_SEQ_LEN
    p = argparse.ArgumentParser(prog="python -m real_backend.run", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="bert-tiny")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--layers", type=int)
    p.add_argument("--runtime", default="suf-gpu-bench")
    p.add_argument("--policy", default="suf", help="the executor's flush policy (simflush's; default suf)")
    p.add_argument("--chains", type=int, default=1, help="split every run into this many staggered chains")
    p.add_argument("--net", default="loopback", help="shape the channel as this network of the simulator's "
                   "(lan, wan, custom:BW_GBPS,RTT_MS; default loopback: no shaping)")
    p.add_argument("--set", action="append", default=[], metavar="K=V")
    p.add_argument("--n-bits", type=int, default=48, help="ring bits (default 48; the range check must pass)")
    p.add_argument("--gpu", action="store_true", help="dealer and both parties on CuPy (one GPU)")
    p.add_argument("--deploy", default="colocated", help="with --gpu: colocated (both parties on one GPU, default) or "
                   "two-gpu (party P on the P-th visible GPU)")
    p.add_argument("--seed", help="a fixed dealer seed (reproducible keys: for tests only; a warning says so)")
    p.add_argument("--timeout-s", type=float, default=60.0, help="every receive's timeout (default 60)")
    _spin_argument(p)
    p.add_argument("--rehearse-tokens", type=int, default=REHEARSAL_SEQ_LEN, metavar="N",
                   help="with --gpu: each party's rehearsal before the clock runs one layer at N tokens (default "
                   f"{REHEARSAL_SEQ_LEN}: meets every kernel; the run's --seq-len also meets its array sizes, "
                   "measured slower: docs/real_backend.md)")
    p.add_argument("--keys-own-pool", action="store_true",
                   help="with --gpu: each party's keys in a CuPy memory pool apart from its working arrays")
    p.add_argument("--pin-cores", action="store_true",
                   help="each party process on its own half of the physical cores (as two servers would be)")
    p.add_argument("--json", metavar="OUT.json")
    p.add_argument("--trace", metavar="OUT.json[.gz]", help="the run in simflush's trace schema (gzip if .gz)")
    p.add_argument("--deal-to", metavar="DIR", help="deal only: write each party's file (and the input owner's) to "
                   "DIR, for two hosts (python -m real_backend party ..., then combine DIR)")
    return p.parse_args(argv)


def _spin_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--spin-us", type=float, help="how long a receive spins before it blocks, in µs (default: the "
                   "channel's, channel.SPIN_S; 0: off); less than --timeout-s")


def spin_seconds(args: argparse.Namespace) -> float | None:
    """``--spin-us`` in seconds (None: the channel's default); a ConfigError unless 0 <= it < ``--timeout-s``."""
    from simflush.errors import ConfigError
    if args.spin_us is None:
        return None
    if not 0 <= args.spin_us * 1e-6 < args.timeout_s:
        raise ConfigError(f"--spin-us {args.spin_us:g}: allowed: 0 (off) up to, not including, --timeout-s "
                          f"({args.timeout_s:g} s)")
    return args.spin_us * 1e-6


def prepare(args: argparse.Namespace, folder: Path, check_ahead: bool = False) -> int | tuple[dict, list[dict]]:
    """Check the settings and the range, deal (each party's tape to ``folder``, a file per layer), share the input:
    (the public record, the two party jobs), or an exit code after a one-line error. ``check_ahead``: the record's
    ``references`` is their ``references_ahead``, started before the dealer (take it out before the record is
    written)."""
    from models.specs import get_model
    from models.weights import random_hidden_states, random_weights
    from simflush.errors import ConfigError
    from simflush.executor.policies import get_policy
    from simflush.executor.records import FlushKind
    from simflush.limits import MAX_CHAINS
    from simflush.networks import get_network
    from simflush.plain.layer import value_definition_error
    from simflush.plain.ranges import range_check
    from simflush.profiles import parse_overrides, resolve
    from simflush.tasks.values import FixedPoint
    from simflush.variants import KNOBS

    from .dealer import Dealer
    from .tape import TapeFileWriter
    from .twoparty import deal, share_input
    try:
        try:
            spec = get_model(args.model)
        except KeyError as exc:
            raise ConfigError(exc.args[0]) from None
        layers = spec.n_layers if args.layers is None else args.layers
        if not 1 <= args.seq_len <= spec.max_seq or not 1 <= layers <= spec.n_layers:
            raise ConfigError(f"--seq-len {args.seq_len} --layers {layers}: {spec.name} allows 1..{spec.max_seq} "
                              f"and 1..{spec.n_layers}")
        knobs = parse_overrides(args.set)
        # the channel packs every open at the run's ring, so the schedule's wire bytes are counted at it too
        if knobs.setdefault("ring_bits", str(args.n_bits)) != str(args.n_bits):
            raise ConfigError(f"--set ring_bits={knobs['ring_bits']}: a real run packs its opens at its ring, "
                              f"--n-bits {args.n_bits}")
        # and its trace says how its interval keys were built (traces without it are read as fold 0)
        knobs.setdefault("interval_fold", KNOBS.get("interval_fold").default)
        get_policy(args.policy)
        get_network(args.net)
        if not 1 <= args.chains <= MAX_CHAINS:
            raise ConfigError(f"--chains {args.chains}: allowed: an integer in 1..{MAX_CHAINS}")
        settings = resolve(args.runtime, spec, knobs, chains=args.chains)
        problem = value_definition_error(spec, args.seq_len, settings)
        if problem:
            raise ConfigError(problem)
        fixed = FixedPoint(args.n_bits, spec.frac_bits)
        if args.timeout_s <= 0:
            raise ConfigError(f"--timeout-s {args.timeout_s}: must be positive")
        spin_seconds(args)
        if not 1 <= args.rehearse_tokens <= args.seq_len:
            raise ConfigError(f"--rehearse-tokens {args.rehearse_tokens}: allowed: 1..--seq-len ({args.seq_len})")
        problem = value_definition_error(spec, args.rehearse_tokens, settings)
        if problem:
            raise ConfigError(f"--rehearse-tokens {args.rehearse_tokens}: {problem}")
        devices = party_devices(args.deploy, args.gpu)   # checked before the keys are dealt
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    weights, x = random_weights(spec, 0, layers), random_hidden_states(spec, args.seq_len, 0)
    ranges = range_check(spec, weights, x, settings, fixed, layers)
    if ranges.warning():
        print(f"error: refused: {ranges.warning()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.seed is None:
        seed = secrets.token_bytes(32)
    else:
        seed = args.seed.encode()
        print("warning: --seed fixes the dealer's randomness: the keys are reproducible (tests only)", file=sys.stderr)
    dealer = Dealer(seed, use_gpu=args.gpu)
    record = {"model": spec.name, "runtime": args.runtime, "knobs": knobs, "chains": args.chains, "weights": weights,
              "input": x, "fixed": fixed, "layers": layers}
    pending = references_ahead(record) if check_ahead else None
    start = time.perf_counter()
    schedule: list = []
    tapes = deal(spec, weights, settings, fixed, 1, args.seq_len, layers, dealer, args.policy, schedule=schedule,
                 files=TapeFileWriter(folder), progress=_progress)
    public = {**record, "policy": args.policy, "pin_cores": args.pin_cores, "deploy": args.deploy, "devices": devices,
              "spin_us": args.spin_us, "rehearse_tokens": args.rehearse_tokens,
              "keys_own_pool": args.keys_own_pool, "net": args.net,
              "seq_len": args.seq_len, "gpu": args.gpu, "schedule": schedule,
              "largest_open": max((r.words for r in schedule if r.event is FlushKind.OPEN), default=0),
              "keygen_s": time.perf_counter() - start, "key_bytes": [tapes[0].nbytes, tapes[1].nbytes],
              **({"references": pending} if pending else {})}
    jobs = party_jobs(tapes, share_input(x, fixed), public)
    return public, jobs


def placement(results: list) -> dict:
    """Where each party ran, as its own host saw it: the CPUs it was on (at the clock's start, each later layer's
    start and the end), their NUMA nodes and its GPU's (None where the system does not say), and the state of its
    CuPy memory pool at the clock's start and end (none on NumPy)."""
    return {"cpus_seen_per_party": [r.cpus for r in results],
            "cpu_nodes_per_party": [r.cpu_nodes for r in results],
            "gpu_node_per_party": [r.gpu_node for r in results],
            "memory_pool_per_party": [r.pool for r in results]}


def report(public: dict, got: dict[int, Any], json_out: str | None, trace_out: str | None,
           reference: tuple[np.ndarray, np.ndarray] | None = None) -> int:
    """Reconstruct the output from both parties' results and print (and write) the run's JSON and trace.
    ``reference``: the run's ``references``, if computed already."""
    from models.specs import get_model
    from simflush.executor.records import FlushKind
    from simflush.io.bench_json import bench_document
    from simflush.tasks.values import RingArith

    from .ring import Ring
    from .trace_out import online_profile, real_trace
    spec, fixed, layers = get_model(public["model"]), public["fixed"], public["layers"]
    settings = run_settings(public, spec)
    output = Ring(fixed.n_bits).add(got[0][0].output, got[1][0].output)
    plain, want = reference or references(public)
    real = RingArith(fixed.n_bits, np).signed(output).astype(np.float64).reshape(want.shape) / 2.0**fixed.frac_bits
    records = [got[p][0].schedule for p in (0, 1)]
    doc = {
        "model": spec.name, "seq_len": public["seq_len"], "batch_size": 1, "n_layers": layers, "n_bits": fixed.n_bits,
        "gpu": public["gpu"], "pin_cores": public.get("pin_cores", False),
        "deploy": public.get("deploy", "colocated"), "spin_us": public.get("spin_us"),
        "rehearse_tokens": public["rehearse_tokens"], "keys_own_pool": public["keys_own_pool"],
        "keygen_s": public["keygen_s"],
        "key_bytes_per_party": public["key_bytes"],
        "pfss": {"open_flushes": sum(1 for rs in records for r in rs if r.event is FlushKind.OPEN),
                 "num_flushes": sum(1 for rs in records for r in rs if r.event is FlushKind.PFSS),
                 "opened_words": sum(r.words for rs in records for r in rs if r.event is FlushKind.OPEN)},
        "communication": {"net_bytes": got[0][1]["bytes_sent"] + got[1][1]["bytes_sent"], "network": public["net"]},
        "timing": {"online_time_s": max(got[p][0].online_s for p in (0, 1)),
                   "online_s_per_party": [got[p][0].online_s for p in (0, 1)],
                   "rehearsal_s_per_party": [got[p][0].rehearsal_s for p in (0, 1)],
                   "tape_load_s_per_party": [got[p][0].tape_load_s for p in (0, 1)],
                   "tape_layers_held_per_party": [got[p][0].tape_layers_peak for p in (0, 1)]},
        "placement": placement([got[p][0] for p in (0, 1)]),
        "output_sha256": hashlib.sha256(np.ascontiguousarray(output).tobytes()).hexdigest(),
        "bit_exact_with_plaintext": bool(np.array_equal(output, plain)),
        "schedule_equals_dealer_pass": [rs == public["schedule"] for rs in records],
        "error_vs_float": {"max_abs": float(np.abs(real - want).max()),
                           "rel_rms": float(np.sqrt(((real - want) ** 2).sum() / (want**2).sum()))},
    }
    device = _device_name() if public["gpu"] else ""
    trace = real_trace(spec, public["seq_len"], settings, fixed.n_bits, (got[0][0], got[1][0]), device,
                       public["policy"], public["net"], public.get("deploy", "colocated"))
    doc["device"] = device   # the card every GPU figure is recorded with ("" on NumPy)
    doc["online_profile"] = online_profile((got[0][0], got[1][0]), trace)
    doc["bench"] = bench_document(trace)
    if trace_out:
        body = trace.to_json().encode()
        Path(trace_out).write_bytes(gzip.compress(body) if trace_out.endswith(".gz") else body)
    text = json.dumps(doc, indent=2)
    print(text)
    if json_out:
        Path(json_out).write_text(text + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.deal_to:
        out = Path(args.deal_to)
        out.mkdir(parents=True, exist_ok=True)
        prepared = prepare(args, out)
        if isinstance(prepared, int):
            return prepared
        public, jobs = prepared
        for p, job in enumerate(jobs):
            write_private(out / f"party{p}.pkl", job)
        write_private(out / "public.pkl", public)
        print(f"dealt: give party P its files {out}/partyP.pkl and {out}/partyP.layer*.pkl (one folder); then "
              "python -m real_backend party --job party0.pkl --listen HOST:PORT --out result0.pkl, "
              "python -m real_backend party --job party1.pkl --peer HOST:PORT --out result1.pkl, "
              f"and python -m real_backend combine {out}")
        return 0
    work = Path(tempfile.mkdtemp(prefix="real_backend_"))   # mode 0700
    try:
        # on a GPU run the references' CPU seconds would follow the device's run; on NumPy they are the run's
        # smallest part, and a process for them would take cores from the dealer
        prepared = prepare(args, work, check_ahead=args.gpu)
        if isinstance(prepared, int):
            return prepared
        public, jobs = prepared
        pending = public.pop("references", None)
        reference = pending.result() if pending else None   # before the parties start: nothing beside their clocks
        got, failed = launch(jobs, args.timeout_s, work, args.pin_cores, public["devices"], spin_seconds(args))
    finally:
        shutil.rmtree(work, ignore_errors=True)   # the tape files a failed party did not read
    if failed:
        for line in failed:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_PARTY_FAILED
    return report(public, got, args.json, args.trace, reference)


def party_main(argv: list[str] | None = None) -> int:
    """``python -m real_backend party --job FILE (--listen HOST:PORT | --peer HOST:PORT) --out RESULT``: one party,
    on its own host: party 0 listens, party 1 connects."""
    p = argparse.ArgumentParser(prog="python -m real_backend party")
    p.add_argument("--job", required=True, help="this party's file from run --deal-to (read once, then deleted)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--listen", metavar="HOST:PORT", help="party 0: wait for the peer here")
    where.add_argument("--peer", metavar="HOST:PORT", help="party 1: connect to party 0 there")
    p.add_argument("--out", required=True, help="where this party writes its result (its output share)")
    p.add_argument("--timeout-s", type=float, default=60.0)
    _spin_argument(p)
    args = p.parse_args(argv)
    from . import channel
    party = 0 if args.listen else 1
    from simflush.errors import ConfigError
    try:
        kw = _channel_options(spin_seconds(args))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        job = _read_job(args.job)

        def open_channel() -> Any:
            if party == 0:
                return channel.accept(channel.listen(args.listen), args.timeout_s, **kw)
            return channel.connect(args.peer, args.timeout_s, **kw)

        result, comm = run_job(job, party, open_channel)
    except Exception as exc:
        print(f"error: party {party}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_PARTY_FAILED
    write_private(Path(args.out), (result, comm))
    return 0


def combine_main(argv: list[str] | None = None) -> int:
    """``python -m real_backend combine DIR [--json OUT] [--trace OUT]``: reconstruct a run dealt to DIR from the
    two parties' result files (DIR/result0.pkl, DIR/result1.pkl) and report it as ``run`` does."""
    p = argparse.ArgumentParser(prog="python -m real_backend combine")
    p.add_argument("dir")
    p.add_argument("--json")
    p.add_argument("--trace")
    args = p.parse_args(argv)
    folder = Path(args.dir)
    try:
        public = pickle.loads((folder / "public.pkl").read_bytes())
        got = {party: pickle.loads((folder / f"result{party}.pkl").read_bytes()) for party in (0, 1)}
    except OSError as exc:
        print(f"error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return report(public, got, args.json, args.trace)
