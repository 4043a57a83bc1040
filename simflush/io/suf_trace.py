"""Importer of the SUF runtime's flush trace (spec §5.4) into simflush's trace schema.

Lines look like ``[trace] t=<steady_clock ns> p=<party> EVENT k=v ...`` (the CPU bench omits
``t=``). Per party the events of one flush come in a fixed order, and this parser checks it:

    RUN begin ... RUN end
    OPEN words= beaver= mask= other= reqs=  ->  OPEN_DONE packed= eff= wire= total_ns= pack2_ns= dev=
    [BRANCH planner|lastchance]  PFSS jobs= hatx=  [job hatx= r= ell= deg= kind= ...]
        ->  PFSS_EVAL_DONE ns=  ->  PFSS_FINALIZE_DONE ns= | PFSS_MATERIALIZE_DONE ns=

Untimed traces have no ``*_DONE`` lines. Other lines (``STALL``, program output) are skipped. The
trace does not name runs or layers: runs are counted per party and mapped to (iteration, layer,
run) with the schedule's runs per layer, which the caller takes from the configuration (the bench
JSON of the same run). Timestamps become seconds; a flush's interval is rebuilt from the
``*_DONE`` line's time minus its own timer, because the ``OPEN``/``PFSS`` line is printed after the
flush has begun. A missing, duplicated or out-of-order event is a ConfigError naming file, line
and field.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..executor.records import FlushKind, open_kind
from ..jsonfile import read_input
from .trace_schema import FlushEvent, RunEvent, Trace, TraceMeta

NS = 1e-9
# SUF's gate-kind enum (CPU trace ``job kind=``; spec §5.4). Kind 0 also tags the ReLU keys.
SUF_GATE_KINDS = {0: "SiLUSpline", 1: "GeLUSpline", 2: "NExp", 3: "Reciprocal", 4: "Rsqrt",
                  8: "FaithfulARS", 9: "GapARS"}


@dataclass
class _Party:
    """Parser state of one party."""

    runs: int = 0                         # runs begun so far
    run: RunEvent | None = None
    open: FlushEvent | None = None        # OPEN seen, OPEN_DONE pending
    pfss: FlushEvent | None = None        # PFSS seen, *_DONE pending (timed) or jobs pending (untimed)
    pfss_jobs_seen: int = 0
    eval_end_s: float | None = None
    branch: str = ""
    last_t: int | None = None
    last_line: int = 0


class _Parser:
    def __init__(self, path: Path, run_names: list[str], layers: int):
        self.path, self.run_names, self.layers = path, run_names, layers
        self.parties: dict[int, _Party] = {}
        self.flushes: list[FlushEvent] = []
        self.runs: list[RunEvent] = []
        self.timed: bool | None = None

    def fail(self, line: int, message: str):
        raise ConfigError(f"{self.path}:{line}: {message}")

    # -- tokens ---------------------------------------------------------------------------------

    @staticmethod
    def _fields(tokens: list[str]) -> dict[str, str]:
        out = {}
        for tok in tokens:
            key, sep, value = tok.partition("=")
            if sep:
                out[key] = value
        return out

    def _int(self, kv: dict, key: str, lineno: int, event: str) -> int:
        if key not in kv:
            self.fail(lineno, f"{event}: missing field {key!r}")
        try:
            return int(kv[key])
        except ValueError:
            self.fail(lineno, f"{event}: field {key}={kv[key]!r} is not an integer")

    # -- lines ----------------------------------------------------------------------------------

    def feed(self, lineno: int, text: str) -> None:
        if not text.startswith("[trace]"):
            return
        tokens = text.split()[1:]
        head = self._fields(tokens[:2])
        timed = "t" in head
        if self.timed is None:
            self.timed = timed
        elif timed != self.timed:
            self.fail(lineno, "missing field 't'" if self.timed else "field 't' in an untimed trace")
        rest = tokens[2:] if timed else tokens[1:]
        if "p" not in head:
            self.fail(lineno, "missing field 'p' (party)")
        if not rest:
            self.fail(lineno, "missing event name")
        party = self._int(head, "p", lineno, "trace")
        if party not in (0, 1):
            self.fail(lineno, f"field p={party}: allowed 0 or 1")
        st = self.parties.setdefault(party, _Party())
        t = self._int(head, "t", lineno, "trace") if timed else None
        if t is not None:
            if st.last_t is not None and t < st.last_t:
                self.fail(lineno, f"field t={t} is earlier than line {st.last_line}'s t={st.last_t} "
                                  f"for party {party} (events out of order)")
            st.last_t, st.last_line = t, lineno
        event, kv = rest[0], self._fields(rest[1:])
        if event == "RUN" and rest[1:2] == ["begin"]:
            self._run_begin(st, party, lineno, t)
        elif event == "RUN" and rest[1:2] == ["end"]:
            self._run_end(st, party, lineno, t)
        elif event == FlushKind.OPEN:
            self._open(st, party, lineno, kv)
        elif event == "OPEN_DONE":
            self._open_done(st, party, lineno, t, kv)
        elif event == "BRANCH":
            self._need_run(st, party, lineno, "BRANCH")
            st.branch = rest[1] if len(rest) > 1 else ""
        elif event == FlushKind.PFSS:
            self._pfss(st, party, lineno, kv)
        elif event == "job":
            self._job(st, party, lineno, kv)
        elif event == "PFSS_EVAL_DONE":
            self._eval_done(st, party, lineno, t, kv)
        elif event in ("PFSS_FINALIZE_DONE", "PFSS_MATERIALIZE_DONE"):
            self._finish_done(st, party, lineno, t, kv, event[5:-5].lower())

    def _need_run(self, st: _Party, party: int, lineno: int, event: str) -> None:
        if st.run is None:
            self.fail(lineno, f"{event} of party {party} outside a run (missing 'RUN begin')")

    def _need_idle(self, st: _Party, party: int, lineno: int, event: str) -> None:
        if st.open is not None:
            self.fail(lineno, f"{event} of party {party} before OPEN_DONE of the OPEN at line {st.open.line}")
        if st.pfss is not None and self.timed:
            done = "PFSS_FINALIZE_DONE/PFSS_MATERIALIZE_DONE" if st.eval_end_s is not None else "PFSS_EVAL_DONE"
            self.fail(lineno, f"{event} of party {party} before {done} of the PFSS at line {st.pfss.line}")

    def _locate(self, st: _Party) -> tuple[int, int, int, str]:
        per_layer = len(self.run_names)
        k = st.runs - 1
        index = k % per_layer
        return k // (per_layer * self.layers), (k // per_layer) % self.layers, index, self.run_names[index]

    def _run_begin(self, st: _Party, party: int, lineno: int, t: int | None) -> None:
        if st.run is not None:
            self.fail(lineno, f"RUN begin of party {party} inside the run begun at line {st.run.line} "
                              "(missing 'RUN end')")
        st.runs += 1
        it, layer, index, name = self._locate(st)
        st.run = RunEvent(party, it, layer, index, name, None if t is None else t * NS, None, lineno)

    def _run_end(self, st: _Party, party: int, lineno: int, t: int | None) -> None:
        self._need_run(st, party, lineno, "RUN end")
        self._need_idle(st, party, lineno, "RUN end")
        st.run.end_s = None if t is None else t * NS
        self.runs.append(st.run)
        st.run, st.pfss = None, None

    def _new_flush(self, st: _Party, party: int, lineno: int, kind: FlushKind) -> FlushEvent:
        """A flush of ``kind`` starts: inside a run, with no other flush of this party open."""
        self._need_run(st, party, lineno, kind)
        self._need_idle(st, party, lineno, kind)
        run = st.run
        return FlushEvent(party, run.iteration, run.layer, run.run_index, run.run, kind, line=lineno)

    def _open(self, st: _Party, party: int, lineno: int, kv: dict) -> None:
        ev = self._new_flush(st, party, lineno, FlushKind.OPEN)
        ev.words = self._int(kv, "words", lineno, FlushKind.OPEN)
        ev.words_beaver = self._int(kv, "beaver", lineno, FlushKind.OPEN)
        ev.words_mask = self._int(kv, "mask", lineno, FlushKind.OPEN)
        ev.open_kind = open_kind(ev.words_beaver, ev.words_mask)
        st.pfss = None
        if self.timed:
            st.open = ev
        else:
            self.flushes.append(ev)

    def _open_done(self, st: _Party, party: int, lineno: int, t: int, kv: dict) -> None:
        if st.open is None:
            self.fail(lineno, f"OPEN_DONE of party {party} without an OPEN before it")
        ev, st.open = st.open, None
        total = self._int(kv, "total_ns", lineno, "OPEN_DONE")
        ev.wire_bytes = self._int(kv, "wire", lineno, "OPEN_DONE")
        ev.device = self._int(kv, "dev", lineno, "OPEN_DONE") == 1
        ev.start_s, ev.duration_s = (t - total) * NS, total * NS
        ev.timers = {"pack_s": self._int(kv, "pack2_ns", lineno, "OPEN_DONE") * NS}
        ev.line = lineno
        self.flushes.append(ev)

    def _pfss(self, st: _Party, party: int, lineno: int, kv: dict) -> None:
        ev = self._new_flush(st, party, lineno, FlushKind.PFSS)
        ev.jobs = self._int(kv, "jobs", lineno, FlushKind.PFSS)
        ev.words = self._int(kv, "hatx", lineno, FlushKind.PFSS)
        ev.branch, st.branch = st.branch, ""
        st.pfss, st.pfss_jobs_seen, st.eval_end_s = ev, 0, None
        if not self.timed:
            self.flushes.append(ev)

    def _job(self, st: _Party, party: int, lineno: int, kv: dict) -> None:
        if st.pfss is None or st.pfss_jobs_seen >= st.pfss.jobs:
            self.fail(lineno, f"job record of party {party} without a PFSS line announcing it")
        kind = self._int(kv, "kind", lineno, "job")
        st.pfss.gates += (SUF_GATE_KINDS.get(kind, f"kind{kind}"),)
        st.pfss_jobs_seen += 1

    def _eval_done(self, st: _Party, party: int, lineno: int, t: int, kv: dict) -> None:
        if st.pfss is None or st.eval_end_s is not None:
            self.fail(lineno, f"PFSS_EVAL_DONE of party {party} without a PFSS line before it")
        ns = self._int(kv, "ns", lineno, "PFSS_EVAL_DONE")
        st.pfss.start_s, st.eval_end_s = (t - ns) * NS, t * NS
        st.pfss.timers = {"eval_s": ns * NS}

    def _finish_done(self, st: _Party, party: int, lineno: int, t: int, kv: dict, finish: str) -> None:
        event = f"PFSS_{finish.upper()}_DONE"
        if st.pfss is None or st.eval_end_s is None:
            self.fail(lineno, f"{event} of party {party} without PFSS_EVAL_DONE before it")
        ev, st.pfss = st.pfss, None
        ev.finish = finish
        ev.timers["finish_s"] = self._int(kv, "ns", lineno, event) * NS
        ev.duration_s = t * NS - ev.start_s
        ev.line = lineno
        self.flushes.append(ev)

    def finish(self, last_line: int) -> None:
        for party, st in sorted(self.parties.items()):
            if st.open is not None:
                self.fail(last_line, f"trace ends before OPEN_DONE of party {party}'s OPEN at line {st.open.line}")
            if st.pfss is not None and self.timed:
                self.fail(last_line, f"trace ends before party {party}'s PFSS at line {st.pfss.line} is done")
            if st.run is not None:
                self.fail(last_line, f"trace ends inside party {party}'s run begun at line {st.run.line} "
                                     "(missing 'RUN end')")
        if set(self.parties) != {0, 1}:
            self.fail(last_line, f"field p: the trace has parties {sorted(self.parties)}, expected 0 and 1")
        per_iter = len(self.run_names) * self.layers
        counts = {p: st.runs for p, st in self.parties.items()}
        if len(set(counts.values())) != 1 or counts[0] % per_iter:
            self.fail(last_line, f"RUN count per party {counts} is not a multiple of {per_iter} "
                                 f"({self.layers} layers x {len(self.run_names)} runs): wrong --bench, "
                                 "or a truncated trace")


def _read_lines(path: Path) -> tuple[bytes, list[str]]:
    raw, text = read_input(path, "SUF trace")
    return raw, text.splitlines()


def read_suf_trace(path: Path, run_names: list[str], layers: int, meta: TraceMeta | None = None) -> Trace:
    """Parse a SUF ``[trace]`` file (plain or gzip).

    ``run_names`` are the executor runs of one layer in order and ``layers`` the layers per
    iteration: they map the n-th ``RUN begin`` of a party to (iteration, layer, run). ``meta``
    describes the run (model, T, ...); its ``source``, ``sha256`` and ``iterations`` are filled here.
    """
    path = Path(path)
    raw, lines = _read_lines(path)
    parser = _Parser(path, list(run_names), layers)
    for lineno, text in enumerate(lines, 1):
        parser.feed(lineno, text)
    if parser.timed is None:
        raise ConfigError(f"{path}:1: no '[trace]' lines: not a SUF flush trace")
    parser.finish(len(lines))
    meta = meta or TraceMeta()
    meta.source, meta.sha256 = path.name, hashlib.sha256(raw).hexdigest()
    meta.iterations = parser.parties[0].runs // (len(run_names) * layers)
    flushes = sorted(parser.flushes, key=lambda f: f.party)  # stable: each party keeps its own order
    runs = sorted(parser.runs, key=lambda r: r.party)
    return Trace(meta, runs, flushes)
