"""Runtime profiles: named sets of knob values that fix the schedule, and ``--set`` overrides.

The knobs themselves (names, defaults, allowed values) are declared in ``simflush.variants``; a
profile lists only where it departs from their defaults (spec §6.2). ``resolve`` turns a profile, a
model and the overrides into the ``Settings`` the simulator runs with.
"""

from dataclasses import dataclass, field

from models.layer import LayerOptions
from models.specs import ModelSpec

from .errors import ConfigError
from .executor.batches import WireFormat
from .executor.executor import PhaseExecutor
from .executor.policies import get_policy
from .limits import ExecutorLimits, LazyLimits, transformer_limits
from .registry import Registry
from .tasks.interval_walk import IntervalBuild
from .variants import KNOBS, Mode, PackFormat, RsqrtInit, profile_defaults

SUF_GRAPH = "suf"      # SUF's transformer layer (models.layer)
SIGMA_GRAPH = "sigma"  # SIGMA's transformer block (models.sigma_layer, tasks.sigma_runtime)
# the knobs that shape a run of SIGMA's graph (the rest shape SUF's tasks)
SIGMA_KNOBS = frozenset({"sigma_merge", "sigma_fss_via_pfss_batch", "pfss_channel", "SUF_OVERLAP_PFSS_OPEN"})


@dataclass(frozen=True)
class RuntimeProfile:
    name: str
    backend: str           # "gpu" or "cpu": caps, batched matmuls, device packing
    description: str
    env: dict = field(default_factory=dict)
    graph: str = SUF_GRAPH  # whose op graph the profile runs


PROFILES: Registry[RuntimeProfile] = Registry("runtime profile")
PROFILES.register(RuntimeProfile("suf-gpu-bench", "gpu", "bench_suf_transformer GPU defaults (spec §6.2)", {
    **profile_defaults(), "SUF_GELU_CONST": "1", "SUF_OPEN_PACK_EFFBITS": "1", "SUF_OPEN_PACK_AUTO": "0",
    "SUF_OPEN_PACK_NO_NEGOTIATE": "1", "SUF_LN_GPU": "1", "SUF_MATMUL_BEAVER_BATCHED": "1"}))
PROFILES.register(RuntimeProfile("suf-cpu-bench", "cpu", "CPU bench with SUF_FORCE_PFSS=1 (SigmaFast PFSS backend)", {
    **profile_defaults(), "SUF_GELU_CONST": "0", "SUF_OPEN_PACK_EFFBITS": "0", "SUF_OPEN_PACK_AUTO": "1",
    "SUF_OPEN_PACK_DEVICE_MIN_WORDS": "0", "SUF_LN_GPU": "0", "SUF_MATMUL_BEAVER_BATCHED": "0"}))
# SIGMA's tasks pack their own payloads (sigma_runtime.PACK): the open carries u64 wire words as they are
PROFILES.register(RuntimeProfile("sigma-gpu", "gpu", "SIGMA's GPU code (GPU-MPC): its block, blocking exchanges", {
    **profile_defaults(), "SUF_OPEN_PACK_EFFBITS": "0", "SUF_OPEN_PACK_NO_NEGOTIATE": "1",
    "SUF_OPEN_PACK_DEVICE_MIN_WORDS": "0", "SUF_OVERLAP_PFSS_OPEN": "0", "sigma_fss_via_pfss_batch": "0",
    "sigma_merge": "0"}, graph=SIGMA_GRAPH))


# How the real backend on the GPU departs from the runtime it runs (timing only: the schedule is the same): it packs
# every open on the device (real_backend.gpu_wire), where SUF packs only opens above a threshold; and a flush with PFSS
# beside its open launches the jobs on the party's one thread between the pack and the send (real_backend.context),
# where SUF runs them on a thread of their own.
REAL_BACKEND_GPU_KNOBS = {"SUF_OPEN_PACK_DEVICE_MIN_WORDS": "1", "overlap_one_thread": "1"}


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["K=V", ...]`` -> validated ``{K: V}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set {pair!r}: expected NAME=VALUE")
        if name not in KNOBS:
            raise ConfigError(f"--set {name}: unknown knob; allowed: {', '.join(KNOBS)}")
        out[name] = KNOBS.get(name).parse(raw)
    return out


def default_device_min_words(model: ModelSpec) -> int:
    """The GPU bench's device-packing threshold (bench: 2^18; gpt2 2^16; d_model >= 1024: 2^17)."""
    if model.name == "gpt2":
        return 1 << 16
    if model.d_model >= 1024:
        return 1 << 17
    return 1 << 18


@dataclass(frozen=True)
class Settings:
    """Everything the simulator needs from the runtime configuration of one run."""

    profile: str
    backend: str
    env: dict
    layer: LayerOptions
    wire: WireFormat
    limits: ExecutorLimits
    device_pipeline: bool
    overlap_pfss_open: bool         # pfss_channel: a dedicated PFSS channel (SUF's overlap_pfss_open)
    opportunistic_overlap: bool     # SUF_OVERLAP_PFSS_OPEN
    device_pack_min_words: int
    budget: LazyLimits              # thresholds of the budget policy
    graph: str = SUF_GRAPH          # whose op graph runs (the profile's)
    sigma_merge: bool = False       # SIGMA's graph: independent exchanges share a flush
    symmetric_exchange: bool = False  # an open is both parties sending at once (SIGMA), not SUF's ping-pong
    interval_fold: int = 0          # how a backend that builds interval keys builds them (tasks.interval_walk)
    overlap_one_thread: bool = False  # PFSS beside an open: launched on the party's one thread, GPU work overlapped

    @property
    def interval_build(self) -> IntervalBuild:
        return IntervalBuild(self.wire.ring_bits, self.interval_fold)

    def party_executor(self, party: int, policy: str) -> PhaseExecutor:
        """One party's executor as SUF's transformer sets it up under these settings, with flush
        ``policy`` (a name of ``executor.policies.POLICIES``). Device-pipeline runs never materialize
        PFSS results on the host (the bench's ``SUF_BENCH_DEVICE_PIPELINE``)."""
        return PhaseExecutor(party, get_policy(policy, self.budget), self.wire, self.limits,
                             overlap_pfss_open=self.overlap_pfss_open,
                             opportunistic_overlap=self.opportunistic_overlap,
                             device_pipeline=self.device_pipeline, device_pipeline_materialize=False)


def check_contradictions(model: ModelSpec, env: dict, overrides: dict) -> None:
    """Reject settings that contradict each other (one line naming both and why)."""
    def explicit(name: str) -> bool:
        return name in overrides
    lut_rsqrt = env["SUF_RSQRT_MODE"] == Mode.SIGMA_GPU
    inv = env["SUF_INV_MODE"]
    rules = [
        (lut_rsqrt and env["rsqrt_init_mode"] == RsqrtInit.MUL_TRUNC,
         f"SUF_RSQRT_MODE={Mode.SIGMA_GPU} with rsqrt_init_mode={RsqrtInit.MUL_TRUNC}: the LUT rsqrt has no affine "
         "init to run"),
        (lut_rsqrt and int(env["rsqrt_iters"]) > 1,
         f"SUF_RSQRT_MODE={Mode.SIGMA_GPU} with rsqrt_iters={env['rsqrt_iters']}: the LUT rsqrt takes 0 or 1 Newton "
         "steps"),
        (inv == Mode.SIGMA_GPU and (explicit("recip_iters") or env["SOFTMAX_TRUNC_REF"] == "1"),
         f"SUF_INV_MODE={Mode.SIGMA_GPU} with recip_iters or SOFTMAX_TRUNC_REF: those shape RecipTask, which it "
         "replaces"),
        (inv == Mode.SUF and explicit("inv_sigma_muls"),
         f"inv_sigma_muls with SUF_INV_MODE={Mode.SUF}: it shapes InvSigmaGpuTask, which is not used"),
        (env["SUF_GELU_MODE"] == Mode.SIGMA_GPU and model.activation != "gelu",
         f"SUF_GELU_MODE={Mode.SIGMA_GPU}: {model.name} uses {model.activation}, not GeLU"),
    ]
    for broken, reason in rules:
        if broken:
            raise ConfigError(f"contradictory settings: {reason}")


def resolve(profile_name: str, model: ModelSpec, overrides: dict[str, str] | None = None,
            chains: int = 1) -> Settings:
    """``chains``: the what-if workload that splits every run into that many staggered tasks."""
    profile = PROFILES.get(profile_name)
    env = dict(profile.env)
    env.update(overrides or {})
    if profile.graph != SIGMA_GRAPH and "sigma_merge" in env:
        raise ConfigError(f"--set sigma_merge: shapes SIGMA's graph; --runtime {profile.name} runs SUF's")
    if profile.graph == SIGMA_GRAPH:
        suf_only = sorted(set(overrides or {}) - SIGMA_KNOBS - {k for k in KNOBS if k.startswith("budget_")})
        if suf_only:
            raise ConfigError(f"--set {suf_only[0]}: shapes SUF's graph; --runtime {profile.name} takes "
                              f"{', '.join(sorted(SIGMA_KNOBS))} and budget_*")
    check_contradictions(model, env, overrides or {})

    def flag(name: str) -> bool:
        return env.get(name, KNOBS.get(name).default) == "1"

    def choice(name: str):
        return KNOBS.get(name).choice(env[name])

    gpu = profile.backend == "gpu"
    device_pipeline = flag("SUF_BENCH_DEVICE_PIPELINE")
    layer = LayerOptions(
        gelu_const=flag("SUF_GELU_CONST"), causal_prefill=flag("SUF_CAUSAL_PREFILL"),
        per_element_masks=flag("SUF_PER_ELEMENT_MASKS"), softmax_trunc_ref=flag("SOFTMAX_TRUNC_REF"),
        rsqrt_iters=int(env["rsqrt_iters"]), recip_iters=int(env["recip_iters"]),
        batched_matmul=gpu and flag("SUF_MATMUL_BEAVER_BATCHED"),
        ln_gpu_variance=gpu and device_pipeline and flag("SUF_LN_GPU"),
        eager_pfss=gpu and flag("SUF_BENCH_EAGER_PFSS"),
        rowmax=choice("SUF_ROWMAX_MODE"), nexp=choice("SUF_NEXP_MODE"), inv=choice("SUF_INV_MODE"),
        rsqrt=choice("SUF_RSQRT_MODE"), gelu_kind=choice("SUF_GELU_MODE").kind,
        rsqrt_live_init=env["rsqrt_init_mode"] == RsqrtInit.MUL_TRUNC,
        sigma_via_batch=flag("sigma_fss_via_pfss_batch"), nexp_final_trunc=flag("nexp_final_trunc"),
        prob_trunc=flag("prob_trunc"), inv_sigma_muls=int(env["inv_sigma_muls"]), chains=chains)
    wire = WireFormat(
        ring_bits=int(env.get("ring_bits", 0)) or model.n_bits, pack=flag("SUF_OPEN_PACK_EFFBITS"),
        auto=flag("SUF_OPEN_PACK_AUTO"),
        min_savings_pct=int(env["SUF_OPEN_PACK_MIN_SAVINGS_PCT"]), max_bits=int(env["SUF_OPEN_PACK_MAX_BITS"]),
        byte_format=env["SUF_OPEN_PACK_FORMAT"] == PackFormat.BYTES,
        no_negotiate=flag("SUF_OPEN_PACK_NO_NEGOTIATE") if "SUF_OPEN_PACK_NO_NEGOTIATE" in env else None)
    limits = transformer_limits(profile.backend)
    min_words = int(env.get("SUF_OPEN_PACK_DEVICE_MIN_WORDS", default_device_min_words(model)))
    return Settings(profile.name, profile.backend, env, layer, wire, limits, device_pipeline,
                    overlap_pfss_open=flag("pfss_channel"), opportunistic_overlap=flag("SUF_OVERLAP_PFSS_OPEN"),
                    device_pack_min_words=min_words if gpu else 0,
                    budget=LazyLimits(*(int(env[k]) for k in ("budget_open_words", "budget_coeff_jobs",
                                                               "budget_trunc_jobs", "budget_hatx_words"))),
                    graph=profile.graph, sigma_merge=flag("sigma_merge"),
                    symmetric_exchange=profile.graph == SIGMA_GRAPH,
                    interval_fold=int(env.get("interval_fold", KNOBS.get("interval_fold").default)),
                    overlap_one_thread=flag("overlap_one_thread"))
