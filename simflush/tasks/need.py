"""What one step of a task returns (SUF ``detail::Need``)."""

from enum import Enum


class Need(Enum):
    """``NONE``: the task progressed (or finished). ``OPEN``/``PFSS_*``: it is blocked on that flush.

    A task returns ``NONE`` on every state transition, including one that only reserved an open or
    enqueued a PFSS job, and a waiting Need only while the result it needs is not ready (spec §1.2).
    A wave with any ``NONE`` is a wave with progress (the policy's ``budget`` hook runs); otherwise
    the wanted kinds select the demand flush (``FlushPolicy.demand``).

    ``IDLE`` is simflush's own (no SUF task returns it): a staggered chain that has not started yet;
    it is neither progress nor a demand.
    """

    NONE = 0
    OPEN = 1
    PFSS_COEFF = 2
    PFSS_TRUNC = 3
    IDLE = 4
