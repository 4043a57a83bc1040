"""A run's spans and its matmuls' time are read off its context's clock (a GPU's events for the real backend), so
that a run's span and its flushes' spans come from one clock: with a clock that fills spans only when resolved,
nothing is recorded before ``resolve`` and every span is made of that clock's marks, in order."""

import numpy as np

from models.specs import get_model
from models.weights import random_hidden_states, random_weights
from simflush.plain.context import PlainContext
from simflush.plain.layer import ValueRun, encode_real, fixed_layer
from simflush.profiles import resolve
from simflush.tasks.values import FixedPoint, RingArith


class DeferredClock:
    """Marks are consecutive integers; spans are filled in only when resolved (as CUDA events are)."""

    def __init__(self):
        self.ticks, self.pending = 0, []

    def mark(self):
        self.ticks += 1
        return self.ticks

    def later(self, start, end, fill):
        self.pending.append((start, end, fill))

    def resolve(self):
        for start, end, fill in self.pending:
            fill(float(start), float(end))
        self.pending.clear()


def test_run_spans_and_matmul_time_come_from_the_contexts_clock():
    spec, fixed = get_model("bert-tiny"), FixedPoint(48, 12)
    settings = resolve("suf-gpu-bench", spec, {})
    arith = RingArith(48, np)
    ctx = PlainContext(settings.party_executor(0, "suf"), fixed, arith)
    ctx.clock = DeferredClock()
    runner = ValueRun(spec, settings, fixed, arith, 1, 16, context=ctx)
    x = runner.ring(encode_real(random_hidden_states(spec, 16, 1), 12), 12)
    runner.layer_forward(x, fixed_layer(random_weights(spec, 1, 1).layers[0], spec, 12))
    assert runner.spans == [] and runner.matmul_s == 0.0   # nothing is read before the clock resolves
    ctx.clock.resolve()
    names = [s.run for s in runner.spans]
    assert len(names) >= 4 and len(set(names)) == len(names)
    marks = [t for s in runner.spans for t in (s.start_s, s.end_s)]
    assert marks == sorted(marks) and all(t == int(t) and 1 <= t <= ctx.clock.ticks for t in marks)
    assert runner.matmul_s > 0 and runner.matmul_s == int(runner.matmul_s)   # sums of tick differences
