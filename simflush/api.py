"""The library API: simulate one configuration, given by keyword arguments, and get a typed result.

    import simflush
    r = simflush.simulate(model="bert-base", seq_len=128, knobs={"SUF_GELU_CONST": "0"}, policy="suf",
                          net="lan", cost="suf-h100")
    r.online_time_s, r.bench_json()["pfss"]["open_flushes"], r.runs[0], r.trace.flushes[0]

The defaults are the CLI's (``simflush simulate`` with no options). The CLI, ``compare``, the what-if
report, the notebooks and the validation scripts are built on ``make_config`` and ``simulate_config``.
Bad values raise ``ConfigError`` with the CLI's one-line message (naming the value by its option).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from models.layer import RunSpec
from models.sigma_layer import sigma_spec
from models.specs import ModelSpec, get_model

from .errors import ConfigError
from .executor.policies import POLICIES
from .io.bench_json import RunRow, bench_document, run_rows
from .io.trace_schema import Trace
from .limits import MAX_CHAINS
from .networks import get_network
from .profiles import SIGMA_GRAPH, Settings, parse_overrides, resolve
from .sim.cost import CostModel, load_cost
from .sim.engine import DEPLOYMENTS, SimConfig
from .sim.engine import simulate as run_engine
from .sim.trace import to_trace

# knob name -> value, or the CLI's "NAME=VALUE" strings
Knobs = Mapping[str, str | int] | Iterable[str]


@dataclass(frozen=True)
class Result:
    """One simulated run: its configuration and its trace (the record every exporter reads)."""

    config: SimConfig
    runs_per_layer: list[RunSpec]     # the workload's executor runs of one layer, in order
    trace: Trace                      # both parties' runs and flushes, simulated seconds
    task_steps: int                   # task steps the engine took, both parties (a speed measure)

    @property
    def online_time_s(self) -> float:
        """Simulated wall time of one online iteration (both parties start at 0; the later one's end)."""
        return self.trace.meta.online_time_s

    @property
    def runs(self) -> list[RunRow]:
        """Per layer and run: party 0's counts and both parties' times."""
        return run_rows(self.trace)

    def bench_json(self, runs: bool = True) -> dict:
        """The document of ``simflush simulate --json``: SUF bench JSON field names and meaning
        (``runs=False``: without the per-run table)."""
        return bench_document(self.trace, runs)


def positive_int(option: str, value, most: int | None = None) -> int:
    """``value`` if it is an integer in 1..``most`` (no bound: None); else the one-line ConfigError every
    command gives (the CLI's options parse with it too)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or (most is not None and value > most):
        allowed = f"an integer in 1..{most}" if most is not None else "a positive integer"
        raise ConfigError(f"{option} must be {allowed}, got {value!r}")
    return value


def _knob_pairs(knobs: Knobs | None) -> list[str]:
    """``NAME=VALUE`` strings, as ``profiles.parse_overrides`` (and ``--set``) take them."""
    if knobs is None:
        return []
    if isinstance(knobs, str):
        raise ConfigError(f"knobs {knobs!r}: expected a mapping NAME -> VALUE or a list of 'NAME=VALUE'")
    if isinstance(knobs, Mapping):
        return [f"{name}={int(v) if isinstance(v, bool) else v}" for name, v in knobs.items()]
    return list(knobs)


def make_config(model: str = "bert-base", seq_len: int = 128, batch: int = 1, layers: int | None = None,
                runtime: str = "suf-gpu-bench", knobs: Knobs | None = None, policy: str = "suf",
                net: str = "loopback", cost: str | CostModel = "suf-h100", deploy: str = "colocated",
                chains: int = 1) -> SimConfig:
    """The validated configuration of these settings.

    ``model``: a model of ``simflush models``; ``seq_len`` T and ``batch`` B; ``layers``: the first L
    layers (None: all); ``runtime``: a runtime profile; ``knobs``: overrides of its knobs by SUF env
    name; ``policy``: a flush policy; ``net``: a network preset or ``custom:BW_GBPS,RTT_MS``; ``cost``: a
    cost preset name, a profile .json path or a ``CostModel``; ``deploy``: ``colocated`` or ``two-gpu``;
    ``chains``: split every run into that many staggered tasks (1: the SUF schedule).
    """
    for option, value in (("--model", model), ("--runtime", runtime), ("--policy", policy), ("--net", net),
                          ("--deploy", deploy), ("--cost", cost)):
        if not isinstance(value, str) and not (option == "--cost" and isinstance(value, CostModel)):
            raise ConfigError(f"{option} must be a name, got {value!r}")
    for option, value in (("--seq-len", seq_len), ("--batch", batch)):
        positive_int(option, value)
    positive_int("--chains", chains, MAX_CHAINS)
    if layers is not None:
        positive_int("--layers", layers)
    try:
        spec = get_model(model)
    except KeyError as exc:
        raise ConfigError(exc.args[0]) from None
    if seq_len > spec.max_seq:
        raise ConfigError(f"--seq-len {seq_len} exceeds {spec.name}'s max_seq {spec.max_seq}")
    layers = layers or spec.n_layers
    if layers > spec.n_layers:
        raise ConfigError(f"--layers {layers}: {spec.name} has {spec.n_layers} layers (allowed 1..{spec.n_layers})")
    POLICIES.get(policy)  # unknown names fail here, before any work, naming the allowed ones
    DEPLOYMENTS.get(deploy)
    settings = resolve(runtime, spec, parse_overrides(_knob_pairs(knobs)), chains=chains)
    if settings.graph == SIGMA_GRAPH:
        spec = _sigma_model(spec, seq_len, batch, chains, settings)
    cost_model = cost if isinstance(cost, CostModel) else load_cost(cost)
    return SimConfig(spec, seq_len, batch, layers, settings, cost_model, get_network(net), policy, deploy)


def _sigma_model(spec: ModelSpec, seq_len: int, batch: int, chains: int, settings: Settings) -> ModelSpec:
    """``spec`` with SIGMA's ring, once the settings are ones SIGMA's code runs (one line naming the value)."""
    if seq_len & (seq_len - 1):
        raise ConfigError(f"--seq-len {seq_len}: SIGMA's code runs powers of 2 only (--runtime {settings.profile})")
    if batch != 1:
        raise ConfigError(f"--batch {batch}: SIGMA's code runs batch 1 only (--runtime {settings.profile})")
    if chains != 1:
        raise ConfigError(f"--chains {chains}: splits SUF's runs; --runtime {settings.profile} allows 1")
    try:
        return sigma_spec(spec)
    except KeyError as exc:
        raise ConfigError(exc.args[0]) from None


def simulate_config(config: SimConfig) -> Result:
    """Simulate ``config``; raises ``SufRuntimeError`` where the SUF runtime would throw."""
    result = run_engine(config)
    return Result(config, result.runs_per_layer, to_trace(result), sum(p.steps for p in result.parties))


def simulate(model: str = "bert-base", seq_len: int = 128, batch: int = 1, layers: int | None = None,
             runtime: str = "suf-gpu-bench", knobs: Knobs | None = None, policy: str = "suf",
             net: str = "loopback", cost: str | CostModel = "suf-h100", deploy: str = "colocated",
             chains: int = 1) -> Result:
    """Simulate the configuration of these settings (``make_config`` says what each one is)."""
    return simulate_config(make_config(model=model, seq_len=seq_len, batch=batch, layers=layers, runtime=runtime,
                                       knobs=knobs, policy=policy, net=net, cost=cost, deploy=deploy, chains=chains))
