"""The search space of ``simflush reconcile``, split into groups whose contributions add up.

Each variant knob shapes the tasks of one group of runs only: the LayerNorm runs (rsqrt variant,
iterations, init), the softmax run(s) (row max, nExp, inverse, truncations), the MLP activation and
the top-level truncations (per-element masks). ``sigma_fss_via_pfss_batch`` and the device pipeline /
eager switches are shared by several groups. A configuration's counts are therefore the fixed runs'
counts plus, for each group, a contribution that depends only on that group's assignment and the
shared one: the search evaluates every group assignment once and combines them by broadcasting sums
(``reconcile``), instead of evaluating the whole product.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from models.specs import ModelSpec

from ...errors import ConfigError
from ...profiles import PROFILES, SIGMA_GRAPH, resolve
from ...tasks.sigma_runtime import PROTOCOLS
from ...variants import KNOBS, Mode, RsqrtInit

Assignment = dict[str, str]


@dataclass(frozen=True)
class Group:
    """Knobs that shape the tasks of ``kinds`` (task-spec kinds), with their allowed assignments."""

    name: str
    kinds: frozenset[str]
    assignments: tuple[tuple[tuple[str, str], ...], ...]   # each a sorted tuple of (knob, value)


def _values(knob: str) -> tuple[str, ...]:
    """The values of a choice knob, in the table's order (the snapshot's first)."""
    return KNOBS.get(knob).choices


def _ln() -> list[Assignment]:
    out = [{"SUF_RSQRT_MODE": Mode.SUF, "rsqrt_iters": str(i), "rsqrt_init_mode": init}
           for i in range(5) for init in _values("rsqrt_init_mode")]
    out += [{"SUF_RSQRT_MODE": Mode.SIGMA_GPU, "rsqrt_iters": str(i), "rsqrt_init_mode": RsqrtInit.LOCAL}
            for i in (0, 1)]
    return out


def _softmax() -> list[Assignment]:
    inv = [{"SUF_INV_MODE": Mode.SUF, "recip_iters": str(i), "SOFTMAX_TRUNC_REF": ref, "inv_sigma_muls": None}
           for i in range(5) for ref in ("0", "1")]
    inv += [{"SUF_INV_MODE": Mode.SIGMA_GPU, "recip_iters": None, "SOFTMAX_TRUNC_REF": None,
             "inv_sigma_muls": str(m)} for m in range(5)]
    return [{"SUF_ROWMAX_MODE": rm, "SUF_NEXP_MODE": nm, "nexp_final_trunc": ft, "prob_trunc": pt, **i}
            for rm, nm, ft, pt, i in product(_values("SUF_ROWMAX_MODE"), _values("SUF_NEXP_MODE"), ("1", "0"),
                                             ("1", "0"), inv)]


def _activation(model: ModelSpec) -> list[Assignment]:
    if model.activation != "gelu":
        return [{}]
    return [{"SUF_GELU_MODE": Mode.SUF, "SUF_GELU_CONST": "1"}, {"SUF_GELU_MODE": Mode.SUF, "SUF_GELU_CONST": "0"},
            {"SUF_GELU_MODE": Mode.SIGMA_GPU, "SUF_GELU_CONST": None}]


def _shared(backend: str) -> list[Assignment]:
    pipelines = [{"SUF_BENCH_DEVICE_PIPELINE": "0", "SUF_LN_GPU": None}]
    if backend == "gpu":
        pipelines += [{"SUF_BENCH_DEVICE_PIPELINE": "1", "SUF_LN_GPU": "1"},
                      {"SUF_BENCH_DEVICE_PIPELINE": "1", "SUF_LN_GPU": "0"}]
    else:
        pipelines += [{"SUF_BENCH_DEVICE_PIPELINE": "1", "SUF_LN_GPU": None}]
    eager = ("0", "1") if backend == "gpu" else ("0",)
    return [{"sigma_fss_via_pfss_batch": v, **p, "SUF_BENCH_EAGER_PFSS": e}
            for v, p, e in product(("1", "0"), pipelines, eager)]


def _fill(assignment: Assignment, defaults: dict) -> tuple[tuple[str, str], ...]:
    """``None`` (a knob the assignment leaves alone) becomes the profile's value."""
    return tuple(sorted((k, defaults[k] if v is None else v) for k, v in assignment.items()))


@dataclass(frozen=True)
class SearchSpace:
    """The groups, the shared assignments, and the knobs pinned by the user (not searched)."""

    profile: str
    defaults: dict
    groups: tuple[Group, ...]
    shared: tuple[tuple[tuple[str, str], ...], ...]
    pinned: dict

    @property
    def knobs(self) -> list[str]:
        names = {k for g in self.groups for a in g.assignments for k, _ in a} | {k for a in self.shared for k, _ in a}
        return sorted(names)

    @property
    def size(self) -> int:
        """Configurations in the full product."""
        n = len(self.shared)
        for g in self.groups:
            n *= len(g.assignments)
        return n

    def distance(self, assignment: tuple[tuple[str, str], ...]) -> int:
        """Settings of ``assignment`` that differ from the runtime profile's defaults."""
        return sum(1 for k, v in assignment if self.defaults.get(k) != v)

    def overrides(self, *assignments) -> dict[str, str]:
        """``--set`` overrides of a combination: the pinned knobs and every value off the profile default."""
        out = dict(self.pinned)
        for a in assignments:
            out.update((k, v) for k, v in a if self.defaults.get(k) != v and k not in self.pinned)
        return out


def search_space(profile: str, model: ModelSpec, pinned: dict[str, str]) -> SearchSpace:
    """Every valid assignment of each group, filtered to agree with the ``pinned`` knobs."""
    defaults = PROFILES.get(profile).env
    backend = PROFILES.get(profile).backend
    sigma = PROFILES.get(profile).graph == SIGMA_GRAPH

    def keep(assignments: list[Assignment]) -> tuple:
        out = []
        for a in assignments:
            filled = _fill(a, defaults)
            if any(k in pinned and pinned[k] != v for k, v in filled):
                continue
            try:
                resolve(profile, model, {**{k: v for k, v in filled if defaults.get(k) != v}, **pinned})
            except ConfigError:
                continue
            out.append(filled)
        return tuple(dict.fromkeys(out))

    if sigma:  # SIGMA's graph: its exchanges in program order, or the independent ones merged
        groups = (Group("sigma", frozenset(PROTOCOLS), keep([{"sigma_merge": "0"}, {"sigma_merge": "1"}])),)
        shared = keep([{}])
    else:
        groups = (Group("layernorm", frozenset({"layernorm"}), keep(_ln())),
                  Group("softmax", frozenset({"attention_softmax", "decode_softmax"}), keep(_softmax())),
                  Group("activation", frozenset({"cubic", "gelu_sigma"}), keep(_activation(model))),
                  Group("truncations", frozenset({"trunc"}),
                        keep([{"SUF_PER_ELEMENT_MASKS": "0"}, {"SUF_PER_ELEMENT_MASKS": "1"}])))
        shared = keep(_shared(backend))
    for g in groups:
        if not g.assignments:
            raise ConfigError(f"the pinned settings {pinned} leave no valid {g.name} configuration")
    if not shared:
        raise ConfigError(f"the pinned settings {pinned} leave no valid shared configuration")
    return SearchSpace(profile, defaults, groups, shared, dict(pinned))
