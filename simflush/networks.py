"""The links between the two parties: presets by name, or ``custom:BW_GBPS,RTT_MS``.

The simulator charges a link's latency and serialisation (``sim.link``); the real backend's channel emulates the
same numbers on loopback (``real_backend run --net``), so that a network what-if can be run for real on one machine.
"""

import math
from dataclasses import dataclass

from .errors import ConfigError
from .registry import Registry


@dataclass(frozen=True)
class Network:
    """A link: one-way latency = rtt/2, serialisation at ``bandwidth_Bps`` per direction."""

    name: str
    bandwidth_Bps: float      # bytes per second per direction; inf = no serialisation cost
    rtt_s: float

    def transfer_s(self, nbytes: int) -> float:
        return nbytes / self.bandwidth_Bps


NETWORKS: Registry[Network] = Registry("network")
# In-process ring of the SUF bench: its exchange is the cost preset's ``open_s_per_wire_byte``.
NETWORKS.register(Network("loopback", float("inf"), 0.0))
NETWORKS.register(Network("lan", 9.4e9 / 8, 0.05e-3))
NETWORKS.register(Network("wan", 305e6 / 8, 60e-3))


def get_network(name: str) -> Network:
    """A preset by name, or ``custom:BW_GBPS,RTT_MS`` (bandwidth in Gbit/s, round trip in ms)."""
    if name.startswith("custom:"):
        try:
            bw_gbps, rtt_ms = (float(v) for v in name[len("custom:"):].split(","))
        except ValueError:
            bw_gbps = rtt_ms = -1.0
        if not (0 < bw_gbps < math.inf and 0 <= rtt_ms < math.inf):
            raise ConfigError(f"network {name!r}: expected custom:BW_GBPS,RTT_MS with finite BW > 0 and RTT >= 0 "
                              "(loopback: no serialisation cost)")
        return Network(name, bw_gbps * 1e9 / 8, rtt_ms * 1e-3)
    try:
        return NETWORKS.get(name)
    except ConfigError as exc:
        raise ConfigError(f"{exc}, custom:BW_GBPS,RTT_MS") from None
