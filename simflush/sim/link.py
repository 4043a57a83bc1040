"""The network between the two parties: per-direction serialisation, then one-way latency."""

import simpy

from .cost import Network


class Link:
    def __init__(self, env: simpy.Environment, network: Network):
        self.env = env
        self.network = network
        self._wire = [simpy.Resource(env, 1), simpy.Resource(env, 1)]   # direction 0->1, 1->0
        self._inbox = [simpy.Store(env), simpy.Store(env)]               # messages for party 0, 1

    def send(self, src: int, nbytes: int) -> None:
        """Start sending ``nbytes`` from ``src``; it lands in the peer's inbox when it arrives."""
        self.env.process(self._transmit(src, nbytes))

    def _transmit(self, src: int, nbytes: int):
        with self._wire[src].request() as slot:
            yield slot
            yield self.env.timeout(self.network.transfer_s(nbytes))
        yield self.env.timeout(self.network.rtt_s / 2)
        yield self._inbox[1 - src].put(nbytes)

    def recv(self, dst: int):
        """Event: the next message for ``dst`` (all of it)."""
        return self._inbox[dst].get()

    def ping_pong(self, party: int, nbytes: int):
        """One exchange in SUF's order: P0 sends then receives; P1 receives all, then sends."""
        if party == 0:
            self.send(0, nbytes)
            yield self.recv(0)
        else:
            yield self.recv(1)
            self.send(1, nbytes)
