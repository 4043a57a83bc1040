"""``python -m real_backend.run``: a model's layers for real, two party processes over TCP on this host.

    python -m real_backend.run --model bert-tiny --seq-len 128 [--layers L] [--set K=V ...] [--n-bits N] [--gpu]
                               [--seed S] [--timeout-s T] [--json OUT.json]

The launcher checks the settings (a setting without a value definition, or a ring the range check says overflows
for this input, is refused: one line, exit 2), deals both key tapes (the dealer seed from the operating system's
CSPRNG unless ``--seed`` asks for a fixed one, with a warning), writes each party's tape and input share to its own
file, and starts party 0 and party 1 as separate processes over loopback TCP (``channel``: framed, checksummed,
every receive with a timeout). Each party reads only its file, checks the peer's handshake (a random run id: nothing
derived from the seed goes over the wire) and runs the same tasks through the same executor as the simulator on its
shares. The launcher reconstructs the output and reports, as JSON in SUF's field names: flushes, bytes, online time
per party, key bytes per party, keygen time, the output's digest, whether it equals the plaintext fixed-point run bit
for bit and whether each party's flushes equal the dealer pass's (the executor's schedule of this program: the tests
hold it equal to the simulator's), and its error against the float reference. A
failing party is named within the timeout; the other stops at once (its channel closes).
"""

import argparse
import gzip
import hashlib
import json
import multiprocessing as mp
import pickle
import queue
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

EXIT_BAD_INPUT, EXIT_PARTY_FAILED = 2, 1


def _to_numpy(tree: Any) -> Any:
    """A tape's arrays moved to the host (for the party's file), recursively through keys and triples."""
    from .xp import to_numpy
    if hasattr(tree, "__dataclass_fields__"):
        for name in tree.__dataclass_fields__:
            setattr(tree, name, _to_numpy(getattr(tree, name)))
        return tree
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to_numpy(v) for v in tree)
    return to_numpy(tree) if hasattr(tree, "__array__") or hasattr(tree, "get") else tree


def _to_device(tree: Any, xp: Any) -> Any:
    if hasattr(tree, "__dataclass_fields__"):
        for name in tree.__dataclass_fields__:
            setattr(tree, name, _to_device(getattr(tree, name), xp))
        return tree
    if isinstance(tree, dict):
        return {k: _to_device(v, xp) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to_device(v, xp) for v in tree)
    return xp.asarray(tree) if isinstance(tree, np.ndarray) else tree


def _party(party: int, path: str, ports: Any, results: Any, timeout_s: float) -> None:
    """A party process: its own file, its channel, its run; reports (party, result, error) on ``results``."""
    chan = None
    try:
        from . import channel, opening
        from .twoparty import run_party
        job = pickle.loads(Path(path).read_bytes())
        Path(path).unlink()
        xp = np
        if job["gpu"]:
            import cupy as xp
            job["tape"] = _to_device(job["tape"], xp)
            job["share"].data = xp.asarray(job["share"].data)
            job["share"].rows = None
        if party == 0:
            server = channel.listen("127.0.0.1:0")
            ports.put(server.getsockname()[1])
            chan = channel.accept(server, timeout_s)
        else:
            chan = channel.connect(f"127.0.0.1:{ports.get(timeout=timeout_s)}", timeout_s)
        chan.handshake(job["run_id"])

        def exchange(mine: Any) -> Any:
            theirs = opening.exchange(chan, np.asarray(mine.get() if hasattr(mine, "get") else mine))
            return xp.asarray(theirs)

        from models.specs import get_model
        from simflush.profiles import resolve
        spec = get_model(job["model"])
        settings = resolve(job["runtime"], spec, job["knobs"])
        result = run_party(party, spec, job["weights"], job["share"], settings, job["fixed"], job["batch"],
                           job["seq_len"], job["layers"], job["tape"], exchange, xp)
        result.output = np.asarray(result.output.get() if hasattr(result.output, "get") else result.output)
        results.put((party, result, {"bytes_sent": chan.stats.bytes_sent, "rounds": chan.stats.rounds}, None))
    except BaseException as exc:  # reported to the launcher; closing the channel stops the peer at once
        results.put((party, None, None, f"{type(exc).__name__}: {exc}"))
    finally:
        if chan is not None:
            chan.close()


def _device_name() -> str:
    import cupy
    return cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()


def party_jobs(tapes: Any, shares: Any, model: str, weights: Any, fixed: Any, seq_len: int, layers: int,
               runtime: str, knobs: dict, gpu: bool) -> list[dict]:
    """What each party process gets: its own tape and input share, and the public configuration."""
    return [{"gpu": gpu, "tape": _to_numpy(tapes[p]), "share": shares[p], "run_id": tapes[p].run_id, "model": model,
             "runtime": runtime, "knobs": knobs, "weights": weights, "fixed": fixed, "batch": 1, "seq_len": seq_len,
             "layers": layers} for p in (0, 1)]


def launch(jobs: list[dict], timeout_s: float) -> tuple[dict[int, Any], list[str]]:
    """Write each party's job to its own file (mode 0600) and run the two party processes: their results by party,
    and one line per party that failed. A party that fails closes its channel, so the other fails at once too."""
    ctx = mp.get_context("spawn")
    ports, results = ctx.Queue(), ctx.Queue()
    work = Path(tempfile.mkdtemp(prefix="real_backend_"))
    procs = []
    for p, job in enumerate(jobs):
        path = work / f"party{p}.pkl"
        path.touch(mode=0o600)
        path.write_bytes(pickle.dumps(job))
        procs.append(ctx.Process(target=_party, args=(p, str(path), ports, results, timeout_s)))
    for proc in procs:
        proc.start()
    got: dict[int, Any] = {}
    failed: list[str] = []
    deadline = time.monotonic() + 4 * timeout_s + 600
    while len(got) + len(failed) < 2:
        try:
            party, result, comm, error = results.get(timeout=max(1.0, deadline - time.monotonic()))
        except queue.Empty:
            failed.append("no party finished in time")
            break
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
    p = argparse.ArgumentParser(prog="python -m real_backend.run", description=__doc__.splitlines()[0])
    p.add_argument("--model", default="bert-tiny")
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--layers", type=int)
    p.add_argument("--runtime", default="suf-gpu-bench")
    p.add_argument("--set", action="append", default=[], metavar="K=V")
    p.add_argument("--n-bits", type=int, default=48, help="ring bits (default 48; the range check must pass)")
    p.add_argument("--gpu", action="store_true", help="dealer and both parties on CuPy (one GPU)")
    p.add_argument("--seed", help="a fixed dealer seed (reproducible keys: for tests only; a warning says so)")
    p.add_argument("--timeout-s", type=float, default=60.0, help="every receive's timeout (default 60)")
    p.add_argument("--json", metavar="OUT.json")
    p.add_argument("--trace", metavar="OUT.json[.gz]", help="the run in simflush's trace schema (gzip if .gz)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    from models.float_reference import model_forward
    from models.specs import get_model
    from models.weights import random_hidden_states, random_weights
    from simflush.errors import ConfigError
    from simflush.executor.records import FlushKind
    from simflush.io.bench_json import bench_document
    from simflush.plain.layer import plaintext_output, value_definition_error
    from simflush.plain.ranges import range_check
    from simflush.profiles import parse_overrides, resolve
    from simflush.tasks.values import FixedPoint, RingArith

    from .dealer import Dealer
    from .ring import Ring
    from .trace_out import online_profile, real_trace
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
        settings = resolve(args.runtime, spec, parse_overrides(args.set))
        problem = value_definition_error(spec, args.seq_len, settings)
        if problem:
            raise ConfigError(problem)
        fixed = FixedPoint(args.n_bits, spec.frac_bits)
        if args.timeout_s <= 0:
            raise ConfigError(f"--timeout-s {args.timeout_s}: must be positive")
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
    start = time.perf_counter()
    schedule: list = []
    tapes = deal(spec, weights, settings, fixed, 1, args.seq_len, layers, dealer, schedule=schedule)
    keygen_s = time.perf_counter() - start
    key_bytes = [tapes[0].nbytes, tapes[1].nbytes]
    shares = share_input(x, fixed)
    jobs = party_jobs(tapes, shares, spec.name, weights, fixed, args.seq_len, layers, args.runtime,
                      parse_overrides(args.set), args.gpu)
    del tapes
    got, failed = launch(jobs, args.timeout_s)
    if failed:
        for line in failed:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_PARTY_FAILED
    ring = Ring(fixed.n_bits)
    output = ring.add(got[0][0].output, got[1][0].output)
    want = model_forward(x, weights, spec, layers)[-1]["out"]
    real = RingArith(fixed.n_bits, np).signed(output).astype(np.float64).reshape(want.shape) / 2.0**fixed.frac_bits
    records = [got[p][0].schedule for p in (0, 1)]
    doc = {
        "model": spec.name, "seq_len": args.seq_len, "batch_size": 1, "n_layers": layers, "n_bits": fixed.n_bits,
        "gpu": args.gpu, "keygen_s": keygen_s, "key_bytes_per_party": key_bytes,
        "pfss": {"open_flushes": sum(1 for rs in records for r in rs if r.event is FlushKind.OPEN),
                 "num_flushes": sum(1 for rs in records for r in rs if r.event is FlushKind.PFSS),
                 "opened_words": sum(r.words for rs in records for r in rs if r.event is FlushKind.OPEN)},
        "communication": {"net_bytes": got[0][1]["bytes_sent"] + got[1][1]["bytes_sent"]},
        "timing": {"online_time_s": max(got[p][0].online_s for p in (0, 1)),
                   "online_s_per_party": [got[p][0].online_s for p in (0, 1)]},
        "output_sha256": hashlib.sha256(np.ascontiguousarray(output).tobytes()).hexdigest(),
        "bit_exact_with_plaintext": bool(np.array_equal(output, plaintext_output(spec, weights, x, settings, fixed,
                                                                                  layers))),
        "schedule_equals_dealer_pass": [rs == schedule for rs in records],
        "error_vs_float": {"max_abs": float(np.abs(real - want).max()),
                           "rel_rms": float(np.sqrt(((real - want) ** 2).sum() / (want**2).sum()))},
    }
    device = _device_name() if args.gpu else ""
    trace = real_trace(spec, args.seq_len, settings, fixed.n_bits, (got[0][0], got[1][0]), device)
    doc["online_profile"] = online_profile((got[0][0], got[1][0]), trace)
    doc["bench"] = bench_document(trace)
    if args.trace:
        body = trace.to_json().encode()
        Path(args.trace).write_bytes(gzip.compress(body) if args.trace.endswith(".gz") else body)
    text = json.dumps(doc, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0
