"""A GPU as a processor-sharing server: k concurrent kernels each progress at rate 1/k.

Colocated parties share one (the SUF bench, our real backend on one machine); on two machines each
party has its own, and nothing contends.
"""

import math

import simpy

from .clock import skip


class SharedGPU:
    def __init__(self, env: simpy.Environment):
        self.env = env
        self._remaining: dict[simpy.Event, float] = {}
        self._last = env.now
        self._version = 0

    def run(self, work_s: float):
        """A SimPy process body: occupy the GPU for ``work_s`` seconds of exclusive work."""
        if work_s <= 0 or self._alone(work_s):
            return
        done = self.env.event()
        self._advance()
        self._remaining[done] = work_s
        self._reschedule()
        yield done

    def _alone(self, work_s: float) -> bool:
        """With nothing else on it, the GPU ends ``work_s`` at the first timer; if that timer and the
        completion it triggers would be the next two events, go on at once (``clock.skip``), with the clock
        and ``_last`` where they would leave them (True)."""
        if self._remaining:
            return False
        start = self.env.now
        end = start + work_s  # where the timer would fire; the work it would find left:
        if work_s - (end - start) > _resolution(end, 1) or not skip(self.env, work_s):
            return False
        self._last = end
        return True

    def _advance(self) -> None:
        elapsed = self.env.now - self._last
        if self._remaining and elapsed > 0:
            share = elapsed / len(self._remaining)
            for job in self._remaining:
                self._remaining[job] -= share
        self._last = self.env.now

    def _reschedule(self) -> None:
        self._version += 1
        if not self._remaining:
            return
        delay = max(0.0, min(self._remaining.values())) * len(self._remaining)
        version = self._version
        self.env.timeout(delay).callbacks.append(lambda _event: self._on_timer(version))

    def _on_timer(self, version: int) -> None:
        if version != self._version:
            return
        self._advance()
        resolution = _resolution(self.env.now, len(self._remaining))
        finished = [job for job, left in self._remaining.items() if left <= resolution]
        for job in finished:
            del self._remaining[job]
            job.succeed()
        self._reschedule()


def _resolution(now: float, jobs: int) -> float:
    """Work left below the clock's resolution at ``now`` can never elapse (now + delay == now): a job with
    that little left is done, or the timer would re-fire at the same instant forever."""
    return max(1e-12, 4 * math.ulp(now) / jobs)
