"""``python -m real_backend run``: two party processes over loopback TCP, and its refusals."""

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

from paths import REPO


def run(*argv: str, timeout: float = 300):
    return subprocess.run([sys.executable, "-m", "real_backend", "run", *argv], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def test_two_processes_reconstruct_the_plaintext_run(tmp_path):
    """With a policy and chains of its own (the defaults run in the tests below), each party pinned to its own
    cores: the flushes are the simulator's for them, PFSS flushes beside opens included."""
    from models.specs import MODELS
    from real_backend.cores import party_cpus
    from simflush.executor.records import FlushKind
    from simflush.io.bench_json import bench_document
    from simflush.io.trace_schema import read_trace
    from simflush.profiles import resolve
    from simflush.sim.schedule import flush_schedule
    out, trace_file = tmp_path / "run.json", tmp_path / "run.trace.json.gz"
    proc = run("--model", "bert-tiny", "--seq-len", "2", "--layers", "1", "--timeout-s", "30", "--json", str(out),
               "--trace", str(trace_file), "--policy", "have_pfss_work", "--chains", "2", "--pin-cores",
               "--spin-us", "120")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["bit_exact_with_plaintext"] and doc["schedule_equals_dealer_pass"] == [True, True]
    assert doc["pfss"]["open_flushes"] > 0 and doc["communication"]["net_bytes"] > 0
    assert doc["key_bytes_per_party"][0] == doc["key_bytes_per_party"][1] > 0
    assert all(t > 0 for t in doc["timing"]["tape_load_s_per_party"])
    assert doc["timing"]["tape_layers_held_per_party"] == [1, 1]   # one layer: read before the clock
    assert doc["error_vs_float"]["rel_rms"] < 0.01
    assert "warning" not in proc.stderr       # the dealer seed came from the OS
    assert doc["pin_cores"] is True and " on CPUs [" in proc.stderr   # each party on its own cores (said where)
    seen, pinned = doc["placement"]["cpus_seen_per_party"], party_cpus(os.sched_getaffinity(0))
    assert [len(cpus) for cpus in seen] == [2, 2]   # the clock's start and the end of its one layer
    assert all(set(seen[p]) <= pinned[p] for p in (0, 1)), (seen, pinned)   # ... on the cores it was pinned to
    assert doc["placement"]["gpu_node_per_party"] == [None, None]   # NumPy parties: no GPU
    assert doc["placement"]["memory_pool_per_party"] == [[], []]   # ... and no CuPy pool
    assert doc["spin_us"] == 120 and doc["rehearse_tokens"] == 2 and doc["keys_own_pool"] is False
    trace = read_trace(trace_file)            # the run as a trace: every flush timed, read back as the exporters do
    assert trace.timed and trace.meta.system == "real_backend"
    assert doc["deploy"] == trace.meta.deploy == "colocated"
    assert bench_document(trace)["pfss"]["open_flushes"] == doc["pfss"]["open_flushes"] == doc["bench"]["pfss"][
        "open_flushes"]
    spec = MODELS["bert-tiny"]
    want = flush_schedule(spec, 2, 1, resolve("suf-gpu-bench", spec, {}, chains=2), 1, "have_pfss_work")
    assert trace.meta.policy == "have_pfss_work"
    assert doc["pfss"]["open_flushes"] == 2 * sum(r.event is FlushKind.OPEN for r in want)   # both parties' opens
    assert any(f.concurrent for f in trace.flushes) and any(r.concurrent for r in want)
    profile = doc["online_profile"]
    assert 0 < profile["open_comm_ns"] <= profile["open_flush_ns"] and profile["pfss_flush_eval_ns"] > 0
    assert {"ln1_ns", "attention_ns", "ln2_ns", "mlp_ns"} <= set(profile)
    # the schedule counts the opens' bytes at the run's 48-bit ring, as the channel sent them (it adds its handshake)
    assert trace.meta.settings["ring_bits"] == "48"
    counted, sent = sum(f.wire_bytes for f in trace.flushes), doc["communication"]["net_bytes"]
    assert 0 <= sent - counted <= 256, (sent, counted)


def test_each_party_is_told_the_runs_largest_open_to_size_its_buffers_before_the_clock(tmp_path):
    from real_backend.run import parse, prepare
    from simflush.executor.records import FlushKind

    public, jobs = prepare(parse(["--model", "bert-tiny", "--seq-len", "4", "--layers", "1"]), tmp_path)
    largest = max(r.words for r in public["schedule"] if r.event is FlushKind.OPEN)
    assert largest > 4 * 128   # a Beaver product's E and F: more than a hidden state's words
    assert [job["largest_open"] for job in jobs] == [largest, largest]
    assert [job["rehearse_tokens"] for job in jobs] == [2, 2]   # the default rehearsal: every kernel, 2 tokens
    assert [job["keys_own_pool"] for job in jobs] == [False, False]
    _, jobs = prepare(parse(["--model", "bert-tiny", "--seq-len", "4", "--layers", "1", "--rehearse-tokens", "4",
                             "--keys-own-pool"]), tmp_path)
    assert [(job["rehearse_tokens"], job["keys_own_pool"]) for job in jobs] == [(4, True), (4, True)]


def test_the_check_computed_while_the_dealer_deals_is_the_reports_own(tmp_path):
    """``check_ahead``: the plaintext and float references come from a process started before the dealer, and are
    what ``references`` gives from the public record after it (the two-process run above is checked against them)."""
    import numpy as np

    from real_backend.run import parse, prepare, references
    argv = parse(["--model", "bert-tiny", "--seq-len", "4", "--layers", "1"])
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
    public, _ = prepare(argv, tmp_path / "a", check_ahead=True)
    plain, want = public.pop("references").result(timeout=120)
    again_plain, again_want = references(public)
    assert plain.dtype == np.uint64 and np.array_equal(plain, again_plain) and np.array_equal(want, again_want)
    assert "references" not in prepare(argv, tmp_path / "b")[0]   # --deal-to's record is written: no process in it


def test_a_shaped_link_delays_every_open_by_its_round_trip(tmp_path):
    """``--net custom:10,40``: each send waits half the 40 ms round trip (and its bytes at 10 Gbit/s). An open is
    a ping-pong: party 0 sends, then waits for party 1's answer, which leaves one way later than party 0's words
    arrived, so each of party 0's opens spans a round trip and each of party 1's at least one way; unshaped, an
    open takes well under a millisecond of wire time."""
    from simflush.executor.records import FlushKind
    from simflush.io.trace_schema import read_trace
    out, trace_file = tmp_path / "run.json", tmp_path / "run.trace.json"
    proc = run("--model", "bert-tiny", "--seq-len", "2", "--layers", "1", "--net", "custom:10,40", "--json", str(out),
               "--trace", str(trace_file))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["communication"]["network"] == "custom:10,40"
    opens = [f for f in read_trace(trace_file).flushes if f.kind == FlushKind.OPEN]
    assert min(f.duration_s for f in opens if f.party == 0) >= 0.040
    assert min(f.duration_s for f in opens if f.party == 1) >= 0.020
    # the trace says where the open's time went: the wire (host-timed, inside the open), not the packing
    assert min(f.timers["comm_s"] for f in opens if f.party == 0) >= 0.040
    assert all(f.timers["wait_s"] < 0.020 < f.timers["comm_s"] <= f.duration_s for f in opens)


def test_a_bad_policy_chain_count_network_or_deployment_is_refused():
    for argv, named in ((("--policy", "fastest"), "'fastest'"), (("--chains", "0"), "--chains 0"),
                        (("--net", "custom:0,1"), "custom:0,1"), (("--deploy", "nope"), "colocated, two-gpu"),
                        (("--deploy", "two-gpu"), "needs --gpu"), (("--spin-us", "-5"), "--spin-us -5"),
                        (("--spin-us", "2000000", "--timeout-s", "2"), "--spin-us 2e+06"),
                        (("--rehearse-tokens", "0"), "--rehearse-tokens 0"),
                        (("--rehearse-tokens", "3"), "--rehearse-tokens 3")):
        proc = run("--model", "bert-tiny", "--seq-len", "2", *argv)
        assert proc.returncode == 2 and named in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


def test_the_spin_asked_for_reaches_both_parties_channels(tmp_path, monkeypatch):
    """``--spin-us``: each party's channel is made with that spin (and with the channel's default without it)."""
    from real_backend import channel
    from real_backend import run as launcher
    made = []
    monkeypatch.setattr(channel, "listen", lambda address: type("S", (), {"getsockname": lambda self: ("", 1)})())
    monkeypatch.setattr(channel, "accept", lambda server, timeout_s, **kw: made.append((0, kw)))
    monkeypatch.setattr(channel, "connect", lambda address, timeout_s, **kw: made.append((1, kw)))
    monkeypatch.setattr(launcher, "_read_job", lambda path: None)
    monkeypatch.setattr(launcher, "run_job", lambda job, party, open_channel: (open_channel(), {}))
    ports, results = queue.Queue(), queue.Queue()
    for party in (0, 1):
        launcher._party(party, "job", ports, results, 5.0, 250e-6)
    launcher._party(0, "job", ports, results, 5.0, None)
    assert made == [(0, {"spin_s": 250e-6}), (1, {"spin_s": 250e-6}), (0, {})]
    assert [results.get()[3] for _ in range(3)] == [None] * 3   # no party failed


def test_a_ring_that_overflows_is_refused():
    proc = run("--model", "bert-tiny", "--seq-len", "2", "--layers", "1", "--n-bits", "37")
    assert proc.returncode == 2 and "refused: the 37-bit ring overflows" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_a_packing_ring_other_than_the_runs_is_refused():
    proc = run("--model", "bert-tiny", "--seq-len", "2", "--set", "ring_bits=37")
    assert proc.returncode == 2 and "ring_bits=37" in proc.stderr and "--n-bits 48" in proc.stderr
    assert proc.stderr.count("\n") == 1


def test_a_setting_without_a_value_definition_is_refused():
    proc = run("--model", "bert-tiny", "--seq-len", "2", "--set", "SOFTMAX_TRUNC_REF=1")
    assert proc.returncode == 2 and "SOFTMAX_TRUNC_REF=1" in proc.stderr and proc.stderr.count("\n") == 1


def test_a_fixed_seed_is_warned_about(tmp_path):   # dealt only: the warning comes before any party runs
    proc = run("--model", "bert-tiny", "--seq-len", "2", "--layers", "1", "--seed", "test", "--deal-to", str(tmp_path))
    assert proc.returncode == 0 and "warning: --seed fixes the dealer's randomness" in proc.stderr


def test_a_party_process_that_fails_is_named_and_stops_its_peer():
    """Party 1's tape is cut short: it fails on its tape, closes its channel, and party 0 fails at once on the closed
    connection; the launcher names both well within the receive timeout."""
    import time

    from models.specs import MODELS
    from models.weights import random_hidden_states, random_weights
    from real_backend.dealer import Dealer
    from real_backend.run import launch, party_jobs
    from real_backend.twoparty import deal, share_input
    from simflush.profiles import resolve
    from simflush.tasks.values import FixedPoint

    spec, fixed = MODELS["bert-tiny"], FixedPoint(48, 12)
    weights, x = random_weights(spec, 0, 1), random_hidden_states(spec, 2, 0)
    tapes = deal(spec, weights, resolve("suf-gpu-bench", spec), fixed, 1, 2, 1, Dealer(b"fault"))
    tapes[1].layers[0].streams["flush"] = tapes[1].layers[0].streams["flush"][:2]
    public = {"gpu": False, "model": spec.name, "runtime": "suf-gpu-bench", "knobs": {}, "policy": "suf",
              "chains": 1, "net": "loopback", "weights": weights, "fixed": fixed, "seq_len": 2, "layers": 1,
              "largest_open": 64, "rehearse_tokens": 2, "keys_own_pool": False}
    jobs = party_jobs(tapes, share_input(x, fixed), public)
    start = time.perf_counter()
    got, failed = launch(jobs, timeout_s=60)
    assert not got and len(failed) == 2
    assert "party 1 failed: TapeError" in failed[1] and "party 0 failed" in failed[0]
    assert time.perf_counter() - start < 40   # not a 60 s receive timeout


def test_two_hosts_deal_then_party_then_combine(tmp_path):
    """The two-host flow on loopback: the dealer writes each party's file; party 0 listens, party 1 connects (each a
    separate process with only its own file); combine reconstructs."""
    dealt = run("--model", "bert-tiny", "--seq-len", "2", "--layers", "1", "--deal-to", str(tmp_path))
    assert dealt.returncode == 0, dealt.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"party0.pkl", "party0.layer0.pkl", "party1.pkl",
                                                    "party1.layer0.pkl", "public.pkl"}
    assert all(oct(p.stat().st_mode)[-3:] == "600" for p in tmp_path.iterdir())
    port = free_port()
    base = [sys.executable, "-m", "real_backend", "party", "--timeout-s", "60"]
    p0 = subprocess.Popen([*base, "--job", str(tmp_path / "party0.pkl"), "--listen", f"127.0.0.1:{port}", "--out",
                           str(tmp_path / "result0.pkl")], cwd=REPO, stderr=subprocess.PIPE, text=True)
    p1 = subprocess.run([*base, "--job", str(tmp_path / "party1.pkl"), "--peer", f"127.0.0.1:{port}", "--out",
                         str(tmp_path / "result1.pkl")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert p1.returncode == 0, p1.stderr
    assert p0.wait(timeout=60) == 0, p0.stderr.read()
    assert not list(tmp_path.glob("party*.pkl"))   # each party's files read once, then deleted
    combined = subprocess.run([sys.executable, "-m", "real_backend", "combine", str(tmp_path)], cwd=REPO,
                              capture_output=True, text=True, timeout=300)
    assert combined.returncode == 0, combined.stderr
    doc = json.loads(combined.stdout)
    assert doc["bit_exact_with_plaintext"] and doc["schedule_equals_dealer_pass"] == [True, True]


# -- a process killed mid-run ------------------------------------------------------------------------------------

TIMEOUT_S = 20   # every receive's timeout in these runs: a dead peer must be named well within it plus a margin


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stderr:
    """A process's stderr lines, read on a thread so that waiting for one has a timeout."""

    def __init__(self, proc):
        self.lines, self._q = [], queue.Queue()
        threading.Thread(target=lambda: [self._q.put(line) for line in proc.stderr], daemon=True).start()

    def wait_for(self, text: str, timeout: float = 240) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r} within {timeout} s; got {self.lines}") from None
            self.lines.append(line)
            if text in line:
                return line

    def rest(self) -> list[str]:
        time.sleep(0.2)   # the reader thread's last lines
        while not self._q.empty():
            self.lines.append(self._q.get())
        return self.lines


def errors(lines: list[str]) -> list[str]:
    return [line.rstrip("\n") for line in lines if line.startswith("error")]


def kill_when_layer_2_starts(lines: Stderr, party: int, pid: int) -> float:
    """SIGKILL ``pid`` once party ``party`` starts its second layer (its first layer's flushes done)."""
    lines.wait_for(f"party {party}: layer 2 of 2 started")
    os.kill(pid, signal.SIGKILL)
    return time.monotonic()


def test_a_party_killed_mid_run_is_named_by_its_peer(tmp_path):
    """Two party processes (``party --listen/--peer``); party 1 is killed in its second layer: party 0 exits 1
    within its receive timeout, with one error line naming party 1."""
    dealt = run("--model", "bert-tiny", "--seq-len", "2", "--layers", "2", "--deal-to", str(tmp_path))
    assert dealt.returncode == 0, dealt.stderr
    port, base = free_port(), [sys.executable, "-m", "real_backend", "party", "--timeout-s", str(TIMEOUT_S)]
    procs = [subprocess.Popen([*base, "--job", str(tmp_path / f"party{p}.pkl"), where, f"127.0.0.1:{port}", "--out",
                               str(tmp_path / f"result{p}.pkl")], cwd=REPO, stderr=subprocess.PIPE, text=True)
             for p, where in ((0, "--listen"), (1, "--peer"))]
    try:
        killed = kill_when_layer_2_starts(Stderr(procs[1]), 1, procs[1].pid)
        lines0 = Stderr(procs[0])
        assert procs[0].wait(timeout=TIMEOUT_S + 30) == 1
        assert time.monotonic() - killed < TIMEOUT_S
        assert procs[1].wait(timeout=10) == -signal.SIGKILL
    finally:
        for proc in procs:
            proc.kill()
    (line,) = errors(lines0.rest())
    assert line.startswith("error: party 0: PeerError: lost party 1 (at 127.0.0.1:"), line
    assert not (tmp_path / "result0.pkl").exists()


def test_the_launcher_names_a_party_process_that_was_killed():
    """``run``'s party 1 process is killed in its second layer: the launcher exits 1 well within the receive
    timeout (not after four of them), naming party 1's death and party 0's lost peer."""
    proc = subprocess.Popen([sys.executable, "-m", "real_backend", "run", "--model", "bert-tiny", "--seq-len", "2",
                             "--layers", "2", "--timeout-s", str(TIMEOUT_S)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = Stderr(proc)
        pid = int(lines.wait_for("party 1: process ").split()[3])
        killed = kill_when_layer_2_starts(lines, 1, pid)
        assert proc.wait(timeout=TIMEOUT_S + 30) == 1
        assert time.monotonic() - killed < TIMEOUT_S
    finally:
        proc.kill()
    party0, party1 = errors(lines.rest())
    assert party0.startswith("error: party 0 failed: PeerError: lost party 1 (at 127.0.0.1:"), party0
    assert party1 == "error: party 1 failed: its process died without a result (killed by SIGKILL)"


def test_two_gpus_give_each_party_its_own_device_and_one_gpu_is_refused(monkeypatch):
    """two-gpu: party P sees the P-th device the launcher sees (of its CUDA_VISIBLE_DEVICES when set), set in the
    party process's environment before it starts; fewer than two devices are refused naming the count."""
    import multiprocessing as mp

    import pytest

    from real_backend.run import _start, party_devices
    from simflush.errors import ConfigError
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert party_devices("colocated", True) is None and party_devices("two-gpu", True, count=4) == ["0", "1"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6,7")
    assert party_devices("two-gpu", True, count=3) == ["4", "6"]
    with pytest.raises(ConfigError, match=r"needs 2 GPUs; this machine shows 1 \(CUDA_VISIBLE_DEVICES=4,6,7\)"):
        party_devices("two-gpu", True, count=1)
    ctx = mp.get_context("spawn")
    seen = ctx.Queue()
    proc = ctx.Process(target=_visible_devices, args=(seen,))
    _start(proc, "6")
    assert seen.get(timeout=60) == "6" and os.environ["CUDA_VISIBLE_DEVICES"] == "4,6,7"   # the launcher's kept
    proc.join(timeout=30)


def _visible_devices(out) -> None:
    out.put(os.environ.get("CUDA_VISIBLE_DEVICES"))
