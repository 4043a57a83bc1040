"""Accuracy beside time (issue #11, item 6): the plaintext fixed-point model against the float reference.

``measure_accuracy`` runs the range probe, then the fixed-point layers (``plain.layer``: the same tasks through the
same executor as the simulator, on cleartext), then ``models.float_reference`` on the same weights and input, and
reports per phase (over every layer) and for the final hidden state the largest absolute error, the relative RMS
error sqrt(sum err^2 / sum ref^2), and the largest intermediate of the phase's runs in bits against the ring.
docs/accuracy.md says what the inputs and weights are and how to read the figures.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.float_reference import PHASES, model_forward
from models.weights import ModelWeights, random_hidden_states, random_weights

from ..api import Knobs, make_config
from ..errors import ConfigError
from ..io.checkpoint import load_checkpoint
from ..plain.context import ValueUndefined
from ..plain.layer import run_model, value_definition_error
from ..plain.ranges import RangeReport, bits_needed, range_check
from ..tasks.values import FixedPoint, RingArith

# the executor runs whose intermediates belong to each phase (h1 and out are local residual adds)
PHASE_RUNS = {"ln1": ("LN1",), "q": ("QKV_trunc",), "k": ("QKV_trunc",), "v": ("QKV_trunc",),
              "scores": ("Score_matmul", "Score_trunc"), "probs": ("Softmax",), "ctx": ("Ctx_matmul", "Ctx_trunc"),
              "attn_out": ("OutProj_trunc",), "h1": (), "ln2": ("LN2",), "mlp_hidden": ("MLP_trunc1",),
              "act": ("MLP_act",), "mlp_out": ("MLP_trunc2",), "out": ()}


@dataclass(frozen=True)
class PhaseError:
    phase: str
    max_abs_error: float
    rel_rms_error: float
    peak_bits: int        # the largest intermediate of the phase (its runs' and its own values), in ring bits


@dataclass(frozen=True)
class AccuracyReport:
    model: str
    seq_len: int
    batch: int
    layers: int
    n_bits: int
    frac_bits: int
    knobs: dict
    weights: str
    input: str
    phases: tuple[PhaseError, ...]
    final: PhaseError
    ranges: RangeReport = field(repr=False)

    def to_json(self) -> dict:
        def phase(p: PhaseError) -> dict:
            return {"phase": p.phase, "max_abs_error": p.max_abs_error, "rel_rms_error": p.rel_rms_error,
                    "peak_bits": p.peak_bits}
        return {
            "model": self.model, "seq_len": self.seq_len, "batch": self.batch, "layers": self.layers,
            "n_bits": self.n_bits, "frac_bits": self.frac_bits, "knobs": self.knobs, "weights": self.weights,
            "input": self.input, "phases": [phase(p) for p in self.phases], "final": phase(self.final),
            "range": {"n_bits_needed": self.ranges.n_bits_needed, "warning": self.ranges.warning(),
                      "overflows": [{"run": r.run, "value": r.value, "scale": r.scale, "bits": r.bits}
                                    for r in self.ranges.overflows]},
        }


def _errors(name: str, fixed: list[np.ndarray], ref: list[np.ndarray], peak_bits: int) -> PhaseError:
    err = np.concatenate([(a - b).ravel() for a, b in zip(fixed, ref, strict=True)])
    den = sum(float((b * b).sum()) for b in ref)
    rel = float(np.sqrt((err * err).sum() / den)) if den else float(np.abs(err).max() > 0)
    return PhaseError(name, float(np.abs(err).max()), rel, peak_bits)


def _weights(spec, weights: ModelWeights | str | Path | None, seed: int, layers: int) -> ModelWeights:
    if weights is None:
        return random_weights(spec, seed, layers)
    if isinstance(weights, ModelWeights):
        return weights
    return load_checkpoint(Path(weights), spec, layers)


def measure_accuracy(model: str = "bert-tiny", seq_len: int = 128, batch: int = 1, layers: int | None = None,
                     runtime: str = "suf-gpu-bench", knobs: Knobs | None = None, n_bits: int | None = None,
                     frac_bits: int | None = None, seed: int = 0,
                     weights: ModelWeights | str | Path | None = None) -> AccuracyReport:
    """The fixed-point run of these settings against float64 (``make_config`` validates the settings; ``n_bits`` and
    ``frac_bits`` default to the model's; ``weights``: seeded random ones, loaded ones, or a safetensors path)."""
    config = make_config(model=model, seq_len=seq_len, batch=batch, layers=layers, runtime=runtime, knobs=knobs)
    spec, settings = config.model, config.settings
    problem = value_definition_error(spec, seq_len, settings)
    if problem:
        raise ConfigError(problem)
    try:
        fixed = FixedPoint(spec.n_bits if n_bits is None else n_bits,
                           spec.frac_bits if frac_bits is None else frac_bits)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    model_weights = _weights(spec, weights, seed, config.layers)
    x = random_hidden_states(spec, seq_len, seed, batch)
    try:
        ranges = range_check(spec, model_weights, x, settings, fixed, config.layers)
        fixed_phases, _ = run_model(spec, model_weights, x, settings, fixed, RingArith, layers=config.layers)
    except ValueUndefined as exc:
        raise ConfigError(str(exc)) from None
    ref = model_forward(x, model_weights, spec, config.layers)
    by_run: dict[str, int] = {}
    for row in ranges.rows:
        by_run[row.run] = max(by_run.get(row.run, 0), row.bits)
    phases = []
    for name in (n for n in PHASES if n in fixed_phases[0]):   # the decode path has no scores or probs phase
        own = max(bits_needed(float(np.abs(r[name]).max()) * 2.0**fixed.frac_bits, False) for r in ref)
        peak = max([own, *(by_run.get(run, 0) for run in PHASE_RUNS[name])])
        phases.append(_errors(name, [p[name] for p in fixed_phases], [r[name] for r in ref], peak))
    final = _errors("final hidden state", [fixed_phases[-1]["out"]], [ref[-1]["out"]], phases[-1].peak_bits)
    knob_values = dict(sorted(knobs.items())) if isinstance(knobs, dict) else {}
    return AccuracyReport(spec.name, seq_len, batch, config.layers, fixed.n_bits, fixed.frac_bits, knob_values,
                          model_weights.origin, f"N(0, 1) hidden states, seed {seed}", tuple(phases), final, ranges)


def accuracy_table(report: AccuracyReport) -> str:
    """The report as a text table, the range warning (if any) last."""
    head = (f"accuracy of {report.model}, T={report.seq_len}, B={report.batch}, {report.layers} layer(s), "
            f"n_bits {report.n_bits}, f {report.frac_bits}; weights {report.weights}; input {report.input}")
    if report.knobs:
        head += "; " + " ".join(f"{k}={v}" for k, v in report.knobs.items())
    lines = [head, "", f"{'phase':<20} {'max abs err':>12} {'rel RMS err':>12} {'largest':>12}"]
    for p in (*report.phases, report.final):
        lines.append(f"{p.phase:<20} {p.max_abs_error:>12.4g} {p.rel_rms_error:>12.4g} "
                     f"{f'{p.peak_bits}/{report.n_bits} bits':>12}")
    warning = report.ranges.warning()
    lines += ["", f"range: {warning}" if warning else
              f"range: every intermediate fits (n_bits >= {report.ranges.n_bits_needed} needed for this input)"]
    return "\n".join(lines) + "\n"
