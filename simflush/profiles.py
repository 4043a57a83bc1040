"""Runtime profiles: named sets of SUF knobs that fix the schedule, and ``--set`` overrides.

Knobs use the runtime's own env names (spec §6.2-§6.3); settings SUF has no env name for use
lower-case names (``rsqrt_iters``, ``recip_iters``). ``resolve`` turns a profile, a model and the
overrides into the ``Settings`` the simulator runs with.
"""

from dataclasses import dataclass, field

from models.layer import LayerOptions
from models.specs import ModelSpec

from .errors import ConfigError
from .executor.batches import WireFormat
from .limits import ExecutorLimits, LazyLimits, transformer_limits


@dataclass(frozen=True)
class Knob:
    kind: str                  # "bool", "int" or "choice"
    help: str
    lo: int = 0
    hi: int = 1 << 30
    choices: tuple[str, ...] = ()

    def parse(self, name: str, raw: str) -> str:
        """Validate ``raw``; return it normalised. Raises ConfigError naming what is allowed."""
        if self.kind == "choice":
            if raw not in self.choices:
                raise ConfigError(f"--set {name}={raw}: allowed values are {', '.join(self.choices)}")
            return raw
        try:
            value = int(raw)
        except ValueError:
            value = None
        lo, hi = (0, 1) if self.kind == "bool" else (self.lo, self.hi)
        if value is None or not lo <= value <= hi:
            allowed = "0 or 1" if self.kind == "bool" else f"an integer in [{lo}, {hi}]"
            raise ConfigError(f"--set {name}={raw}: allowed values are {allowed}")
        return str(value)


KNOBS: dict[str, Knob] = {
    "SUF_FORCE_PFSS": Knob("choice", "must be 1: without it SUF takes plaintext reference shortcuts",
                           choices=("1",)),
    "SUF_GELU_CONST": Knob("bool", "GeLU as a piecewise-constant gate (1 O + 1 P) instead of a cubic spline"),
    "SUF_CAUSAL_PREFILL": Knob("bool", "0: causal models take the per-token decode path"),
    "SUF_PER_ELEMENT_MASKS": Knob("bool", "per-element trunc keys: one PFSS flush per 1024 elements"),
    "SOFTMAX_TRUNC_REF": Knob("bool", "RecipTask truncations become local shifts (debug)"),
    "SUF_OPEN_PACK_EFFBITS": Knob("bool", "pack opened words to n_bits on the wire"),
    "SUF_OPEN_PACK_AUTO": Knob("bool", "skip packing when it saves less than MIN_SAVINGS_PCT"),
    "SUF_OPEN_PACK_MIN_SAVINGS_PCT": Knob("int", "threshold of SUF_OPEN_PACK_AUTO", 0, 100),
    "SUF_OPEN_PACK_NO_NEGOTIATE": Knob("bool", "skip the u64 pack negotiation ping-pong(s) per flush"),
    "SUF_OPEN_PACK_MAX_BITS": Knob("int", "widest ring that is packed", 1, 64),
    "SUF_OPEN_PACK_FORMAT": Knob("choice", "packed wire format", choices=("bits", "bytes")),
    "SUF_OPEN_PACK_DYNAMIC": Knob("choice", "data-dependent widths cannot be simulated symbolically",
                                  choices=("0",)),
    "SUF_OPEN_PACK_DEVICE_MIN_WORDS": Knob("int", "opens this large are packed on the GPU (timing only)"),
    "SUF_BENCH_DEVICE_PIPELINE": Knob("bool", "device pipeline on, host materialize off (no planner)"),
    "SUF_LN_GPU": Knob("bool", "with the device pipeline: LayerNorm variance on the GPU, no var open"),
    "SUF_BENCH_EAGER_PFSS": Knob("bool", "no phase planner in attention and MLP (LN keeps it)"),
    "SUF_MATMUL_BEAVER_BATCHED": Knob("bool", "one batched Beaver matmul task instead of B*H tasks"),
    "SUF_OVERLAP_PFSS_OPEN": Knob("bool", "let an open flush run a PFSS flush of pending work beside it"),
    "rsqrt_iters": Knob("int", "Newton iterations of LayerNorm's rsqrt", 0, 16),
    "recip_iters": Knob("int", "Newton iterations of softmax's reciprocal", 0, 16),
    # task variants (DESIGN.md §5; docs/whatif.md)
    "SUF_ROWMAX_MODE": Knob("choice", "softmax row max: suf (ReLU rounds) or sigma_gpu (3 opens/round)",
                            choices=("suf", "sigma_gpu")),
    "SUF_NEXP_MODE": Knob("choice", "nExp: suf (cubic spline) or sigma_gpu (LUT, multiply, trunc)",
                          choices=("suf", "sigma_gpu")),
    "SUF_INV_MODE": Knob("choice", "softmax inverse: suf (RecipTask) or sigma_gpu (LUT + multiplies)",
                         choices=("suf", "sigma_gpu")),
    "SUF_GELU_MODE": Knob("choice", "GeLU: suf (SUF_GELU_CONST decides) or sigma_gpu (LUT GeLU)",
                          choices=("suf", "sigma_gpu")),
    "SUF_RSQRT_MODE": Knob("choice", "LayerNorm rsqrt: suf (Newton RsqrtTask) or sigma_gpu (LUT + 0-1 step)",
                           choices=("suf", "sigma_gpu")),
    "rsqrt_init_mode": Knob("choice", "Newton rsqrt init: local (snapshot) or mul_trunc (live InitMul+InitTrunc)",
                            choices=("local", "mul_trunc")),
    "sigma_fss_via_pfss_batch": Knob("bool", "sigma tasks' FSS through the PFSS batch (1) or evaluated directly (0)"),
    "nexp_final_trunc": Knob("bool", "0: nExp without its final truncation (LUT scale aligned)"),
    "prob_trunc": Knob("bool", "0: softmax probabilities without their final truncation"),
    "inv_sigma_muls": Knob("int", "Beaver multiplies after InvSigmaGpuTask's LUT", 0, 8),
    # thresholds of the budget policy (SUF's LazyLimits; 0 disables one)
    "budget_open_words": Knob("int", "budget policy: flush opens at this many pending words"),
    "budget_coeff_jobs": Knob("int", "budget policy: flush the coeff batch at this many pending jobs"),
    "budget_trunc_jobs": Knob("int", "budget policy: flush the trunc batch at this many pending jobs"),
    "budget_hatx_words": Knob("int", "budget policy: flush the coeff batch at this many pending hatx words"),
}

VARIANT_DEFAULTS = {
    "SUF_ROWMAX_MODE": "suf", "SUF_NEXP_MODE": "suf", "SUF_INV_MODE": "suf", "SUF_GELU_MODE": "suf",
    "SUF_RSQRT_MODE": "suf", "rsqrt_init_mode": "local", "sigma_fss_via_pfss_batch": "1",
    "nexp_final_trunc": "1", "prob_trunc": "1", "inv_sigma_muls": "2",
    "budget_open_words": str(1 << 22), "budget_coeff_jobs": str(1 << 14), "budget_trunc_jobs": str(1 << 14),
    "budget_hatx_words": str(1 << 22),
}


@dataclass(frozen=True)
class RuntimeProfile:
    name: str
    backend: str           # "gpu" or "cpu": caps, batched matmuls, device packing
    description: str
    env: dict = field(default_factory=dict)


# What both benches share; each profile lists only where it differs (spec §6.2).
COMMON_ENV = {
    "SUF_FORCE_PFSS": "1", "SUF_CAUSAL_PREFILL": "1", "SUF_PER_ELEMENT_MASKS": "0", "SOFTMAX_TRUNC_REF": "0",
    "SUF_OPEN_PACK_MIN_SAVINGS_PCT": "25", "SUF_OPEN_PACK_MAX_BITS": "56", "SUF_OPEN_PACK_FORMAT": "bits",
    "SUF_OPEN_PACK_DYNAMIC": "0", "SUF_BENCH_DEVICE_PIPELINE": "0", "SUF_BENCH_EAGER_PFSS": "0",
    "SUF_OVERLAP_PFSS_OPEN": "1", "rsqrt_iters": "1", "recip_iters": "1", **VARIANT_DEFAULTS,
}

PROFILES: dict[str, RuntimeProfile] = {p.name: p for p in (
    RuntimeProfile("suf-gpu-bench", "gpu", "bench_suf_transformer GPU defaults (spec §6.2)", {
        **COMMON_ENV, "SUF_GELU_CONST": "1", "SUF_OPEN_PACK_EFFBITS": "1", "SUF_OPEN_PACK_AUTO": "0",
        "SUF_OPEN_PACK_NO_NEGOTIATE": "1", "SUF_LN_GPU": "1", "SUF_MATMUL_BEAVER_BATCHED": "1"}),
    RuntimeProfile("suf-cpu-bench", "cpu", "CPU bench with SUF_FORCE_PFSS=1 (SigmaFast PFSS backend)", {
        **COMMON_ENV, "SUF_GELU_CONST": "0", "SUF_OPEN_PACK_EFFBITS": "0", "SUF_OPEN_PACK_AUTO": "1",
        "SUF_OPEN_PACK_DEVICE_MIN_WORDS": "0", "SUF_LN_GPU": "0", "SUF_MATMUL_BEAVER_BATCHED": "0"}),
)}


def get_profile(name: str) -> RuntimeProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown runtime profile {name!r}; allowed: {', '.join(PROFILES)}") from None


def parse_overrides(pairs: list[str]) -> dict[str, str]:
    """``["K=V", ...]`` -> validated ``{K: V}``."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise ConfigError(f"--set {pair!r}: expected NAME=VALUE")
        knob = KNOBS.get(name)
        if knob is None:
            raise ConfigError(f"--set {name}: unknown knob; allowed: {', '.join(KNOBS)}")
        out[name] = knob.parse(name, raw)
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
    overlap_pfss_open: bool
    opportunistic_overlap: bool
    device_pack_min_words: int
    budget: LazyLimits              # thresholds of the budget policy


def check_contradictions(model: ModelSpec, env: dict, overrides: dict) -> None:
    """Reject settings that contradict each other (one line naming both and why)."""
    def explicit(name: str) -> bool:
        return name in overrides
    rules = [
        (env["SUF_RSQRT_MODE"] == "sigma_gpu" and env["rsqrt_init_mode"] == "mul_trunc",
         "SUF_RSQRT_MODE=sigma_gpu with rsqrt_init_mode=mul_trunc: the LUT rsqrt has no affine init to run"),
        (env["SUF_RSQRT_MODE"] == "sigma_gpu" and int(env["rsqrt_iters"]) > 1,
         f"SUF_RSQRT_MODE=sigma_gpu with rsqrt_iters={env['rsqrt_iters']}: the LUT rsqrt takes 0 or 1 Newton steps"),
        (env["SUF_INV_MODE"] == "sigma_gpu" and (explicit("recip_iters") or env["SOFTMAX_TRUNC_REF"] == "1"),
         "SUF_INV_MODE=sigma_gpu with recip_iters or SOFTMAX_TRUNC_REF: those shape RecipTask, which it replaces"),
        (env["SUF_INV_MODE"] == "suf" and explicit("inv_sigma_muls"),
         "inv_sigma_muls with SUF_INV_MODE=suf: it shapes InvSigmaGpuTask, which is not used"),
        (env["SUF_GELU_MODE"] == "sigma_gpu" and model.activation != "gelu",
         f"SUF_GELU_MODE=sigma_gpu: {model.name} uses {model.activation}, not GeLU"),
    ]
    for broken, reason in rules:
        if broken:
            raise ConfigError(f"contradictory settings: {reason}")


def resolve(profile_name: str, model: ModelSpec, overrides: dict[str, str] | None = None,
            chains: int = 1) -> Settings:
    """``chains``: the what-if workload that splits every run into that many staggered tasks."""
    profile = get_profile(profile_name)
    env = dict(profile.env)
    env.update(overrides or {})
    check_contradictions(model, env, overrides or {})
    flag = lambda k: env.get(k, "0") == "1"  # noqa: E731
    gpu = profile.backend == "gpu"
    device_pipeline = flag("SUF_BENCH_DEVICE_PIPELINE")
    layer = LayerOptions(
        gelu_const=flag("SUF_GELU_CONST"), causal_prefill=flag("SUF_CAUSAL_PREFILL"),
        per_element_masks=flag("SUF_PER_ELEMENT_MASKS"), softmax_trunc_ref=flag("SOFTMAX_TRUNC_REF"),
        rsqrt_iters=int(env["rsqrt_iters"]), recip_iters=int(env["recip_iters"]),
        batched_matmul=gpu and flag("SUF_MATMUL_BEAVER_BATCHED"),
        ln_gpu_variance=gpu and device_pipeline and flag("SUF_LN_GPU"),
        eager_pfss=gpu and flag("SUF_BENCH_EAGER_PFSS"),
        rowmax_mode=env["SUF_ROWMAX_MODE"], nexp_mode=env["SUF_NEXP_MODE"], inv_mode=env["SUF_INV_MODE"],
        gelu_mode=env["SUF_GELU_MODE"], rsqrt_mode=env["SUF_RSQRT_MODE"], rsqrt_init_mode=env["rsqrt_init_mode"],
        sigma_via_batch=flag("sigma_fss_via_pfss_batch"), nexp_final_trunc=flag("nexp_final_trunc"),
        prob_trunc=flag("prob_trunc"), inv_sigma_muls=int(env["inv_sigma_muls"]), chains=chains)
    wire = WireFormat(
        ring_bits=model.n_bits, pack=flag("SUF_OPEN_PACK_EFFBITS"), auto=flag("SUF_OPEN_PACK_AUTO"),
        min_savings_pct=int(env["SUF_OPEN_PACK_MIN_SAVINGS_PCT"]), max_bits=int(env["SUF_OPEN_PACK_MAX_BITS"]),
        byte_format=env["SUF_OPEN_PACK_FORMAT"] == "bytes",
        no_negotiate=flag("SUF_OPEN_PACK_NO_NEGOTIATE") if "SUF_OPEN_PACK_NO_NEGOTIATE" in env else None)
    limits = transformer_limits(profile.backend)
    min_words = int(env.get("SUF_OPEN_PACK_DEVICE_MIN_WORDS", default_device_min_words(model)))
    return Settings(profile.name, profile.backend, env, layer, wire, limits, device_pipeline,
                    overlap_pfss_open=True, opportunistic_overlap=flag("SUF_OVERLAP_PFSS_OPEN"),
                    device_pack_min_words=min_words if gpu else 0,
                    budget=LazyLimits(*(int(env[k]) for k in ("budget_open_words", "budget_coeff_jobs",
                                                               "budget_trunc_jobs", "budget_hatx_words"))))
