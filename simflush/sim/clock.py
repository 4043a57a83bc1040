"""Simulated time that passes without a SimPy event, where that event would change nothing.

A process that yields ``env.timeout(d)`` goes on when SimPy processes that timeout. SimPy processes the
earliest scheduled event first (equal times by priority, then in the order scheduled, so a timeout due
at the same time as an event already scheduled comes after it). So if every scheduled event is due
strictly after ``now + d``, the timeout is the next event processed, nothing runs in between, and its
one callback resumes the process: setting the clock to ``now + d`` (the float SimPy's ``schedule``
computes) and going on at once does the same things in the same order, with the same floats.

"Nothing runs in between" also needs the process to have been resumed by the last callback of the
event being processed (a later callback could schedule an earlier event). In the engine every process
is: the events with several callbacks are a wave tick, where the party process waits after its tasks
(``engine.WaveBus``), and a message's landing, where the receiver waits after the link's own callback
(``link.Link``).

The same holds for a wake-up: an event scheduled now whose only callback resumes a process (a landing's
for its receiver, an ``all_of``'s for the process that waits for processes to end). With nothing else due
now, it is the next event processed, so the process goes on at once (``wake_up``, ``join``,
``side_by_side``).
"""

import simpy


def skip(env: simpy.Environment, delay: float) -> bool:
    """Advance ``env``'s clock by ``delay`` seconds at once if a timeout of ``delay`` would be the next event
    processed (True), else leave it (False: yield the timeout)."""
    at = env.now + delay
    if at < env.peek():
        env._now = at  # SimPy has no public setter: its step() sets _now from the event it pops
        return True
    return False


def wake_up(env: simpy.Environment) -> tuple[simpy.Timeout, ...]:
    """What to ``yield from`` where SimPy would resume this process one event later, through an event
    scheduled now: that event (a timeout of 0, which goes after the events due now), or nothing when it
    would be the next one processed."""
    return () if skip(env, 0.0) else (env.timeout(0),)


def join(env: simpy.Environment, procs: list[simpy.Process]):
    """Process body: ``yield env.all_of(procs)`` with fewer events. The all_of triggers as the last end is
    processed and resumes the waiter through an event of its own (``wake_up``); waiting for each end in turn
    changes nothing before that (an end that is not the last resumes the waiter only to wait again)."""
    for proc in procs:
        if not proc.processed:
            yield proc
    yield from wake_up(env)


def side_by_side(env: simpy.Environment, bodies: list):
    """Process body: ``yield env.all_of([env.process(body) for body in bodies])`` with fewer events. A process
    starts by an urgent event; with nothing due now, the first body's start is the next event processed (it is
    scheduled before the others'), so this process runs that body itself. Its end then matters only if it is
    the last one: the end's event, then the all_of's, each a ``wake_up``."""
    if not skip(env, 0.0):
        yield from join(env, [env.process(body) for body in bodies])
        return
    procs = [env.process(body) for body in bodies[1:]]
    yield from bodies[0]
    if all(proc.triggered for proc in procs):
        yield from wake_up(env)  # the first body's end, processed after the others'
    yield from join(env, procs)
