"""A trace (simulated or measured) as a document in the SUF bench JSON's own terms (spec §5.1).

Shared fields keep the bench's names and meaning: ``pfss.*`` and ``communication.*`` are summed over
both parties and every layer run of one iteration (the trace's last), so the document can be diffed
against a real bench JSON. The ``per_party_per_layer``, ``branches`` and ``runs`` sections are
simflush's own and say their scope. The model's shape (heads, width, ...) comes from the model zoo.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from typing import Protocol

from models.specs import get_model

from ..errors import ConfigError
from ..executor.records import FlushKind
from ..tasks.context import Batch
from ..tasks.sigma_runtime import KEY_H2D as KEY_WORDS
from ..tasks.sigma_sizes import WORD_BYTES
from ..version import __version__
from .trace_schema import FlushEvent, Trace, TraceMeta


@dataclass(frozen=True)
class RunRow:
    """One run of one layer: party 0's counts (both parties run the same schedule), both parties' times."""

    layer: int
    run: str
    section: str
    open_flushes: int
    pfss_flushes: int
    opened_words: int
    hatx_words: int
    wire_bytes_per_party: int
    time_s: list[float]         # party 0's and party 1's, seconds


class FlushRow(Protocol):
    """What the document reads of a flush: a trace's ``FlushEvent``, or the engine's ``FlushRecord`` itself."""

    kind: str
    words: int
    words_beaver: int
    words_mask: int
    wire_bytes: int
    jobs: int
    batch: str
    branch: str


@dataclass
class Tally:
    """What the document reads of a set of flushes: their counts, additive (``+``), so that a set is
    tallied once and a run that repeats it adds the tally instead of its records (``sim.trace.bench_of``)."""

    open_flushes: int = 0
    pfss_flushes: int = 0
    pfss_jobs: int = 0
    opened_words: int = 0
    opened_words_beaver: int = 0
    opened_words_mask: int = 0
    hatx_words: int = 0
    wire_bytes: int = 0
    coeff_flushes: int = 0
    coeff_jobs: int = 0
    coeff_hatx_words: int = 0
    trunc_flushes: int = 0
    trunc_jobs: int = 0
    trunc_hatx_words: int = 0
    branches: Counter = field(default_factory=Counter)   # (kind, branch) -> flushes

    @classmethod
    def of(cls, records: Iterable[FlushRow]) -> "Tally":
        t = cls()
        for r in records:  # one pass: a sweep tallies thousands of records per configuration
            t.branches[r.kind, r.branch] += 1
            if r.kind == FlushKind.OPEN:
                t.open_flushes += 1
                t.opened_words += r.words
                t.opened_words_beaver += r.words_beaver
                t.opened_words_mask += r.words_mask
                t.wire_bytes += r.wire_bytes
            elif r.kind == FlushKind.PFSS:
                t.pfss_flushes += 1
                t.pfss_jobs += r.jobs
                t.hatx_words += r.words
                if r.batch == Batch.COEFF:
                    t.coeff_flushes, t.coeff_jobs, t.coeff_hatx_words = (
                        t.coeff_flushes + 1, t.coeff_jobs + r.jobs, t.coeff_hatx_words + r.words)
                elif r.batch == Batch.TRUNC:
                    t.trunc_flushes, t.trunc_jobs, t.trunc_hatx_words = (
                        t.trunc_flushes + 1, t.trunc_jobs + r.jobs, t.trunc_hatx_words + r.words)
        return t

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(Tally)))

    def __mul__(self, times: int) -> "Tally":
        """The tally of ``times`` repeats of these flushes."""
        counts = {f.name: getattr(self, f.name) * times for f in fields(Tally) if f.name != "branches"}
        return Tally(**counts, branches=Counter({key: n * times for key, n in self.branches.items()}))

    def counts(self) -> dict:
        """The per-layer and per-run counts (``per_party_per_layer``, ``RunRow``)."""
        return {"open_flushes": self.open_flushes, "pfss_flushes": self.pfss_flushes, "pfss_jobs": self.pfss_jobs,
                "opened_words": self.opened_words, "opened_words_beaver": self.opened_words_beaver,
                "opened_words_mask": self.opened_words_mask, "hatx_words": self.hatx_words,
                "wire_bytes": self.wire_bytes}


def bench_document(trace: Trace, runs: bool = True) -> dict:
    """The bench-style document of ``trace`` (what ``simflush simulate --json`` prints); ``runs=False``
    leaves out the per-run table (a sweep's record does: it is most of the document's size and work)."""
    trace = trace.last_iteration()
    doc = document(trace.meta, Tally.of(trace.flushes),
                   Tally.of(r for r in trace.flushes if r.party == 0 and r.layer == 0),
                   [trace.end_s(party) for party in (0, 1)], lambda: _bytes_by_section(trace))
    if runs:
        doc["runs"] = [asdict(row) for row in run_rows(trace)]
    return doc


def document(meta: TraceMeta, total: Tally, first_layer: Tally, party_end_s: list[float | None],
             bytes_by_section: Callable[[], dict[str, int]]) -> dict:
    """The document without its per-run table, from one iteration's ``meta``, the ``Tally`` of its flushes
    (``total``: both parties'; ``first_layer``: party 0's of layer 0), when each party ended, and (asked for
    SIGMA's runtime only) its wire bytes per run section."""
    try:
        model = get_model(meta.model)
    except KeyError as exc:
        raise ConfigError(exc.args[0]) from None
    words, beaver, mask = total.opened_words, total.opened_words_beaver, total.opened_words_mask
    net = total.wire_bytes
    packed = lambda part: net * part // words if words else 0  # noqa: E731 - the bench's proportional split
    pfss_bytes = 0  # every gate the transformer uses is non-interactive (spec §2.2)
    doc = {
        "system": meta.system,
        "simflush_version": __version__,
        "backend": meta.backend,
        "runtime_profile": meta.runtime_profile,
        "settings": dict(sorted(meta.settings.items())),
        "policy": meta.policy,
        "deploy": meta.deploy,
        "network": meta.network,
        "cost_preset": meta.cost_preset,
        "model": model.name,
        "seq_len": meta.seq_len,
        "batch_size": meta.batch,
        "n_layers": model.n_layers,
        "n_layers_run": meta.layers,
        "n_heads": model.n_heads,
        "d_model": model.d_model,
        "n_bits": meta.n_bits,
        "frac_bits": model.frac_bits,
        "scope": {
            "pfss": "sum over both parties and all layers run (as the SUF bench)",
            "communication": "bytes sent, sum over both parties (as the SUF bench)",
            "timing": "simulated wall time of one online iteration",
            "per_party_per_layer": "one party, one layer (layer 0; every layer is identical)",
            "branches": "flushes per executor branch, sum over both parties and all layers run",
            "runs": "per layer and run; counts and bytes per party, times of party 0 and 1",
        },
        "timing": {"online_time_s": meta.online_time_s, "online_time_s_mean": meta.online_time_s,
                   "party_end_s": party_end_s},
        "communication": {
            "pfss_bytes": pfss_bytes,
            "net_bytes": net,
            "open_bytes": 8 * words,
            "open_bytes_beaver": 8 * beaver,
            "open_bytes_mask": 8 * mask,
            "open_bytes_other": 0,
            "open_packed_bytes": net,
            "open_packed_bytes_theoretical": -(-words * model.n_bits // 8),
            "open_packed_bytes_beaver": packed(beaver),
            "open_packed_bytes_mask": packed(mask),
            "open_packed_bytes_other": 0,
            "pfss_related_bytes": pfss_bytes + 8 * mask,
            "pfss_related_packed_bytes": pfss_bytes + packed(mask),
            "beaver_related_bytes": 8 * beaver,
            "beaver_related_packed_bytes": packed(beaver),
            "online_bytes": pfss_bytes + net,
            "online_packed_bytes": pfss_bytes + net,
        },
        "pfss": {
            "num_jobs": total.pfss_jobs,
            "num_flushes": total.pfss_flushes,
            "total_hatx_words": total.hatx_words,
            "coeff_jobs": total.coeff_jobs,
            "trunc_jobs": total.trunc_jobs,
            "coeff_flushes": total.coeff_flushes,
            "trunc_flushes": total.trunc_flushes,
            "coeff_hatx_words": total.coeff_hatx_words,
            "trunc_hatx_words": total.trunc_hatx_words,
            "open_flushes": total.open_flushes,
            "opened_words": words,
            "opened_words_beaver": beaver,
            "opened_words_mask": mask,
            "opened_words_other": 0,
        },
        "per_party_per_layer": first_layer.counts(),
        "branches": _branches(total.branches),
    }
    if KEY_WORDS in meta.local_words_per_party:
        doc["scope"]["sigma"] = ("key bytes per party (copied to the GPU in one online iteration, as SIGMA "
                                 "stores them); communication per run section, sum over both parties (= one "
                                 "party's sent + received, SIGMA's Total Comm)")
        doc["sigma"] = {
            "key_bytes_per_party": WORD_BYTES * meta.local_words_per_party[KEY_WORDS],
            "net_bytes_by_section": bytes_by_section(),
            "exchanges_per_party": total.open_flushes // 2,
        }
    return doc


def _bytes_by_section(trace: Trace) -> dict[str, int]:
    by_run = {(r.party, r.layer, r.run): r.section for r in trace.runs}
    return sum_by_section((by_run[(f.party, f.layer, f.run)], f.wire_bytes) for f in trace.flushes)


def sum_by_section(pairs: Iterable[tuple[str, int]]) -> dict[str, int]:
    """Wire bytes per run section, sections in name order, from ``(section, wire_bytes)`` per flush."""
    out: dict[str, int] = defaultdict(int)
    for section, wire_bytes in pairs:
        out[section] += wire_bytes
    return dict(sorted(out.items()))


def _branches(flushes: Counter) -> dict:
    out: dict[str, int] = defaultdict(int)
    for (kind, branch), n in flushes.items():
        out[f"{kind}/{branch}"] += n
    return dict(sorted(out.items()))


def run_rows(trace: Trace) -> list[RunRow]:
    """Per layer and run of the trace's last iteration, in party 0's order."""
    trace = trace.last_iteration()
    by_run: dict[tuple[int, str], list[FlushEvent]] = defaultdict(list)
    for r in trace.flushes:
        if r.party == 0:
            by_run[(r.layer, r.run)].append(r)
    spans = [{(s.layer, s.run): s for s in trace.runs if s.party == party} for party in (0, 1)]
    rows = []
    for key, span0 in spans[0].items():
        c = Tally.of(by_run.get(key, [])).counts()
        span1 = spans[1][key]
        times = [span0.end_s - span0.start_s, span1.end_s - span1.start_s]
        rows.append(RunRow(key[0], key[1], span0.section, c["open_flushes"], c["pfss_flushes"], c["opened_words"],
                           c["hatx_words"], c["wire_bytes"], times))
    return rows
