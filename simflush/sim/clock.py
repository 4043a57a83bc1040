"""Simulated time that passes without a SimPy event, where that event would change nothing.

A process that yields ``env.timeout(d)`` goes on when SimPy processes that timeout. SimPy processes the
earliest scheduled event first (equal times by priority, then in the order scheduled, so a timeout due
at the same time as an event already scheduled comes after it). So if every scheduled event is due
strictly after ``now + d``, the timeout is the next event processed, nothing runs in between, and its
one callback resumes the process: setting the clock to ``now + d`` (the float SimPy's ``schedule``
computes) and going on at once does the same things in the same order, with the same floats.

"Nothing runs in between" also needs the process to have been resumed by the last callback of the
event being processed (a later callback could schedule an earlier event). In the engine every process
is: the only event with several callbacks is a wave tick, and the party process waits on it after its
tasks (``engine.WaveBus``); SimPy adds a condition's own callback before its waiter's.
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
