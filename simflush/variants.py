"""The knob table: every runtime setting that ``--set`` accepts, declared once.

A knob is named by the runtime's own env name (spec §6.2-§6.3), or by a lower-case name of ours where
SUF has none (``rsqrt_iters``, ``pfss_channel``). Its entry gives its kind, default, allowed values and
one-line help, and whether ``simflush reconcile`` searches it; a task-variant knob also gives, per
value, the task step it selects (a ``Choice``: the builder in ``simflush.workload`` and the closed
form in ``analysis.checklist.forms``). Runtime profiles (``simflush.profiles``) start from the
defaults, ``--help`` lists the help lines, the reconcile search space takes the variants' values from
here, and ``profiles.resolve`` turns the values into ``Settings``.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from .analysis.checklist import forms
from .errors import ConfigError
from .registry import Registry
from .workload import (
    inv_lut,
    inv_recip,
    nexp_lut,
    nexp_spline,
    row_max_lut,
    row_max_relu,
    rsqrt_lut,
    rsqrt_newton,
)


class Mode(StrEnum):
    """A task variant: SUF's snapshot task, or the sigma-style GPU task that replaces it (DESIGN.md §5)."""

    SUF = "suf"
    SIGMA_GPU = "sigma_gpu"


class RsqrtInit(StrEnum):
    """The Newton rsqrt's initial guess: computed locally (snapshot) or by live InitMul + InitTrunc states."""

    LOCAL = "local"
    MUL_TRUNC = "mul_trunc"


class PackFormat(StrEnum):
    """How packed opened words go on the wire."""

    BITS = "bits"
    BYTES = "bytes"


@dataclass(frozen=True)
class Choice:
    """One value of a task-variant knob and what it selects.

    For a step inside a composite task (LayerNorm's rsqrt, the softmax's row max, nExp, inverse), the
    layer's task specs carry the choice; ``task`` builds the step (``simflush.workload``) and ``form``
    gives its closed form (``analysis.checklist.forms``). For a whole task (the MLP's GeLU), ``kind``
    is the task-spec kind the layer uses instead, with its builder and closed form under that kind.
    """

    value: str
    task: Callable | None = None
    form: Callable | None = None
    kind: str = ""


@dataclass(frozen=True)
class Knob:
    """One ``--set`` knob. Values are strings as given on the command line (``"1"``, ``"sigma_gpu"``).

    ``default``: its value unless a runtime profile or ``--set`` gives one; ``None`` where each profile
    sets it or it is derived when unset (its help says how). ``in_profile``: profiles list it (and so
    does every output of the settings); a knob outside them is listed only when ``--set`` gives it.
    ``searched``: ``simflush reconcile``'s search space varies it (``analysis.reconcile.space``).
    ``options``: a task-variant knob's choices, one per allowed value.
    """

    name: str
    kind: Literal["bool", "int", "choice"]
    help: str
    default: str | None = None
    lo: int = 0
    hi: int = 1 << 30
    choices: tuple[str, ...] = ()
    searched: bool = False
    in_profile: bool = True
    options: tuple[Choice, ...] = ()

    def parse(self, raw: str, source: str = "--set") -> str:
        """Validate ``raw``; return it normalised. Raises ConfigError naming ``source`` (where the value came
        from: ``--set``, an environment variable), the value and what is allowed."""
        if self.kind == "choice":
            if raw not in self.choices:
                raise ConfigError(f"{source} {self.name}={raw}: allowed values are {', '.join(self.choices)}")
            return raw
        try:
            value = int(raw)
        except ValueError:
            value = None
        lo, hi = (0, 1) if self.kind == "bool" else (self.lo, self.hi)
        if value is None or not lo <= value <= hi:
            allowed = "0 or 1" if self.kind == "bool" else f"an integer in [{lo}, {hi}]"
            raise ConfigError(f"{source} {self.name}={raw}: allowed values are {allowed}")
        return str(value)

    def choice(self, value: str) -> Choice:
        """What ``value`` of this task-variant knob selects."""
        return next(c for c in self.options if c.value == value)


def flag(name: str, help: str, default: str | None = None, **kw) -> Knob:
    """A 0/1 knob."""
    return Knob(name, "bool", help, default, **kw)


def integer(name: str, help: str, default: int | None = None, lo: int = 0, hi: int = 1 << 30, **kw) -> Knob:
    """An integer knob in ``[lo, hi]``."""
    return Knob(name, "int", help, None if default is None else str(default), lo, hi, **kw)


def one_of(name: str, help: str, values: tuple[str, ...], default: str | None = None, **kw) -> Knob:
    """A knob that takes one of ``values``."""
    return Knob(name, "choice", help, default, choices=values, **kw)


def task_variant(name: str, help: str, *options: Choice, **kw) -> Knob:
    """A knob that picks a task (step); its first option is the default (the snapshot's task)."""
    return Knob(name, "choice", help, options[0].value, choices=tuple(c.value for c in options), options=options,
                **kw)


KNOBS: Registry[Knob] = Registry("knob")
for _knob in (
    one_of("SUF_FORCE_PFSS", "must be 1: without it SUF takes plaintext reference shortcuts", ("1",), "1"),
    flag("SUF_GELU_CONST", "GeLU as a piecewise-constant gate (1 O + 1 P) instead of a cubic spline",
         searched=True),
    flag("SUF_CAUSAL_PREFILL", "0: causal models take the per-token decode path", "1"),
    flag("SUF_PER_ELEMENT_MASKS", "per-element trunc keys: one PFSS flush per 1024 elements", "0", searched=True),
    flag("SOFTMAX_TRUNC_REF", "RecipTask truncations become local shifts (debug)", "0", searched=True),
    flag("SUF_OPEN_PACK_EFFBITS", "pack opened words to n_bits on the wire"),
    flag("SUF_OPEN_PACK_AUTO", "skip packing when it saves less than MIN_SAVINGS_PCT"),
    integer("SUF_OPEN_PACK_MIN_SAVINGS_PCT", "threshold of SUF_OPEN_PACK_AUTO", 25, 0, 100),
    flag("SUF_OPEN_PACK_NO_NEGOTIATE", "skip the u64 pack negotiation ping-pong(s) per flush"),
    integer("SUF_OPEN_PACK_MAX_BITS", "widest ring that is packed", 56, 1, 64),
    one_of("SUF_OPEN_PACK_FORMAT", "packed wire format", tuple(PackFormat), PackFormat.BITS),
    one_of("SUF_OPEN_PACK_DYNAMIC", "data-dependent widths cannot be simulated symbolically", ("0",), "0"),
    integer("SUF_OPEN_PACK_DEVICE_MIN_WORDS", "opens this large are packed on the GPU (timing only)"),
    integer("ring_bits", "the run's ring: opens packed and interval gates walked at it; 0: the model's n_bits "
            "(a real_backend run records its --n-bits)", 0, 0, 64, in_profile=False),
    integer("interval_fold", "interval keys of a backend that builds them (real_backend): equal rows merged and 2^k "
            "neighbouring points a leaf call; 0: every breakpoint walked (its runs before 2026-12-02)", 2, 0, 3,
            in_profile=False),
    flag("SUF_BENCH_DEVICE_PIPELINE", "device pipeline on, host materialize off (no planner)", "0", searched=True),
    flag("SUF_LN_GPU", "with the device pipeline: LayerNorm variance on the GPU, no var open", searched=True),
    flag("SUF_BENCH_EAGER_PFSS", "no phase planner in attention and MLP (LN keeps it)", "0", searched=True),
    flag("SUF_MATMUL_BEAVER_BATCHED", "one batched Beaver matmul task instead of B*H tasks"),
    flag("SUF_OVERLAP_PFSS_OPEN", "let an open flush run a PFSS flush of pending work beside it", "1"),
    flag("pfss_channel", "a dedicated PFSS channel exists (SUF's overlap_pfss_open); 0: PFSS traffic shares "
         "the net channel and no PFSS flush runs beside an open", "1", in_profile=False),
    flag("overlap_one_thread", "a flush that runs PFSS beside its open does it on the party's one host thread "
         "(real_backend): the jobs' launches between the pack and the send, only their GPU work beside the wire; "
         "0: on a thread of their own (SUF)", "0", in_profile=False),
    integer("rsqrt_iters", "Newton iterations of LayerNorm's rsqrt", 1, 0, 16, searched=True),
    integer("recip_iters", "Newton iterations of softmax's reciprocal", 1, 0, 16, searched=True),
    # task variants (DESIGN.md §5; docs/whatif.md)
    task_variant("SUF_ROWMAX_MODE", "softmax row max: suf (ReLU rounds) or sigma_gpu (3 opens/round)",
                 Choice(Mode.SUF, row_max_relu, forms.rowmax_relu_items),
                 Choice(Mode.SIGMA_GPU, row_max_lut, forms.rowmax_lut_items), searched=True),
    task_variant("SUF_NEXP_MODE", "nExp: suf (cubic spline) or sigma_gpu (LUT, multiply, trunc)",
                 Choice(Mode.SUF, nexp_spline, forms.nexp_spline_block),
                 Choice(Mode.SIGMA_GPU, nexp_lut, forms.nexp_lut_block), searched=True),
    task_variant("SUF_INV_MODE", "softmax inverse: suf (RecipTask) or sigma_gpu (LUT + multiplies)",
                 Choice(Mode.SUF, inv_recip, forms.inv_recip_block),
                 Choice(Mode.SIGMA_GPU, inv_lut, forms.inv_lut_block), searched=True),
    task_variant("SUF_GELU_MODE", "GeLU: suf (SUF_GELU_CONST decides) or sigma_gpu (LUT GeLU)",
                 Choice(Mode.SUF, kind="cubic"), Choice(Mode.SIGMA_GPU, kind="gelu_sigma"), searched=True),
    task_variant("SUF_RSQRT_MODE", "LayerNorm rsqrt: suf (Newton RsqrtTask) or sigma_gpu (LUT + 0-1 step)",
                 Choice(Mode.SUF, rsqrt_newton, forms.rsqrt_newton_block),
                 Choice(Mode.SIGMA_GPU, rsqrt_lut, forms.rsqrt_lut_block), searched=True),
    one_of("rsqrt_init_mode", "Newton rsqrt init: local (snapshot) or mul_trunc (live InitMul+InitTrunc)",
           tuple(RsqrtInit), RsqrtInit.LOCAL, searched=True),
    flag("sigma_fss_via_pfss_batch", "sigma tasks' FSS through the PFSS batch (1) or evaluated directly (0)", "1",
         searched=True),
    flag("sigma_merge", "SIGMA's graph: independent exchanges (LUT U/V, nExp branches, rsqrt syncs, rotary Q/K, "
         "Llama up1/up2) share a flush; 0: program order, as SIGMA's code", "0", in_profile=False),
    flag("nexp_final_trunc", "0: nExp without its final truncation (LUT scale aligned)", "1", searched=True),
    flag("prob_trunc", "0: softmax probabilities without their final truncation", "1", searched=True),
    integer("inv_sigma_muls", "Beaver multiplies after InvSigmaGpuTask's LUT", 2, 0, 8, searched=True),
    # thresholds of the budget policy (SUF's LazyLimits; 0 disables one)
    integer("budget_open_words", "budget policy: flush opens at this many pending words", 1 << 22),
    integer("budget_coeff_jobs", "budget policy: flush the coeff batch at this many pending jobs", 1 << 14),
    integer("budget_trunc_jobs", "budget policy: flush the trunc batch at this many pending jobs", 1 << 14),
    integer("budget_hatx_words", "budget policy: flush the coeff batch at this many pending hatx words", 1 << 22),
):
    KNOBS.register(_knob)


def profile_defaults() -> dict[str, str]:
    """The knobs every runtime profile starts from: those with a default that profiles list."""
    return {k.name: str(k.default) for k in KNOBS.values() if k.default is not None and k.in_profile}
