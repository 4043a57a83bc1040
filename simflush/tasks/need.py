"""What one step of a task returns (SUF ``detail::Need``)."""

from enum import Enum


class Need(Enum):
    """``NONE``: the task progressed (or finished). ``OPEN``/``PFSS_*``: it is blocked on that flush.

    ``IDLE`` is simflush's own (no SUF task returns it): a staggered chain that has not started yet;
    it is neither progress nor a demand.
    """

    NONE = 0
    OPEN = 1
    PFSS_COEFF = 2
    PFSS_TRUNC = 3
    IDLE = 4
