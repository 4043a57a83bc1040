"""The network between the two parties: per-direction serialisation (FIFO), then one-way latency.

Arrival times are computed when a message is sent (the wire of one direction is a FIFO queue), so a
transfer costs one scheduled event rather than a process.
"""

from collections import deque

import simpy

from ..networks import Network


class Link:
    def __init__(self, env: simpy.Environment, network: Network):
        self.env = env
        self.network = network
        self._wire_free_at = [0.0, 0.0]                  # direction 0->1, 1->0
        self._arrived = [deque(), deque()]               # delivered messages for party 0, 1
        self._waiting: list[simpy.Event | None] = [None, None]

    def send(self, src: int, nbytes: int) -> None:
        """Start sending ``nbytes`` from ``src``; it lands in the peer's inbox when it arrives."""
        start = max(self.env.now, self._wire_free_at[src])
        self._wire_free_at[src] = start + self.network.transfer_s(nbytes)
        arrival = self._wire_free_at[src] + self.network.rtt_s / 2
        self.env.timeout(arrival - self.env.now).callbacks.append(lambda _e: self._deliver(1 - src, nbytes))

    def _deliver(self, dst: int, nbytes: int) -> None:
        waiter = self._waiting[dst]
        if waiter is not None:
            self._waiting[dst] = None
            waiter.succeed(nbytes)
        else:
            self._arrived[dst].append(nbytes)

    def recv(self, dst: int):
        """Process body: wait for the next whole message for ``dst``; returns its size."""
        if self._arrived[dst]:
            return self._arrived[dst].popleft()
        self._waiting[dst] = self.env.event()
        return (yield self._waiting[dst])

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
