"""The network between the two parties: per-direction serialisation (FIFO), then one-way latency.

Arrival times are computed when a message is sent (the wire of one direction is a FIFO queue), so a
transfer costs one scheduled event rather than a process: its landing, which resumes a receiver that
waits for it. A receiver goes on after the events already due at the instant its message lands, as if
the landing had triggered an event of its own for it; with none due, that event would be the next one
processed, so it goes on at once (``clock.wake_up``).
"""

from collections import deque

import simpy

from ..networks import Network
from .clock import wake_up


class _Landing(simpy.Event):
    """A message's landing for a receiver that waits before it is sent (its delay is known only then)."""

    def land_in(self, delay: float, nbytes: int) -> None:
        # what simpy.Timeout's constructor does for an event made with its delay
        self._ok, self._value = True, nbytes
        self.env.schedule(self, delay=delay)


class Link:
    def __init__(self, env: simpy.Environment, network: Network):
        self.env = env
        self.network = network
        self._wire_free_at = [0.0, 0.0]                  # direction 0->1, 1->0
        self._arrived = [deque(), deque()]               # landed messages for party 0, 1: their sizes
        self._on_the_way = [deque(), deque()]            # sent, not landed: their landing events
        self._waiting: list[_Landing | None] = [None, None]  # a receiver's, made before the send

    def send(self, src: int, nbytes: int) -> None:
        """Start sending ``nbytes`` from ``src``; it lands in the peer's inbox when it arrives."""
        dst, now = 1 - src, self.env.now
        free = self._wire_free_at[src] = max(now, self._wire_free_at[src]) + self.network.transfer_s(nbytes)
        delay = free + self.network.rtt_s / 2 - now
        waiter = self._waiting[dst]
        if waiter is not None:
            self._waiting[dst] = None
            waiter.land_in(delay, nbytes)
        else:
            landing = self.env.timeout(delay, nbytes)
            landing.callbacks.append(lambda _e: self._land(dst, nbytes))
            self._on_the_way[dst].append(landing)

    def _land(self, dst: int, nbytes: int) -> None:
        self._on_the_way[dst].popleft()
        self._arrived[dst].append(nbytes)

    def recv(self, dst: int):
        """Process body: wait for the next whole message for ``dst``; returns its size."""
        if self._arrived[dst]:
            return self._arrived[dst].popleft()
        if self._on_the_way[dst]:
            yield self._on_the_way[dst][0]  # after its own callback, which moved it to the inbox
            nbytes = self._arrived[dst].popleft()
        else:
            self._waiting[dst] = _Landing(self.env)
            nbytes = yield self._waiting[dst]
        yield from wake_up(self.env)  # after the events due now
        return nbytes

    def ping_pong(self, party: int, nbytes: int):
        """One exchange in SUF's order: P0 sends then receives; P1 receives all, then sends."""
        if party == 0:
            self.send(0, nbytes)
            yield from self.recv(0)
        else:
            yield from self.recv(1)
            self.send(1, nbytes)

    def exchange(self, party: int, nbytes: int):
        """One symmetric exchange (SIGMA's ``reconstructInPlace``): send on a thread of one's own while
        receiving, so both directions are on the wire at once."""
        self.send(party, nbytes)
        yield from self.recv(party)
