"""Unit conversions and counts that stand bare in formulas otherwise."""

NS_PER_S = 1e9
PARTIES = 2


def ns_to_s_per_party(total_ns: float) -> float:
    """A bench timer summed over both parties, in ns -> seconds per party."""
    return total_ns / (PARTIES * NS_PER_S)
