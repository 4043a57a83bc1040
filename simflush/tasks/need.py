"""What one step of a task returns (SUF ``detail::Need``)."""

from enum import Enum


class Need(Enum):
    """``NONE``: the task progressed (or finished). The others: it is blocked on that flush."""

    NONE = 0
    OPEN = 1
    PFSS_COEFF = 2
    PFSS_TRUNC = 3
