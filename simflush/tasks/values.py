"""Values of the value path (issue #11): ring arrays with their scale and row layout, and the arithmetic they use.

A ``RingArray`` is a flat array of ring words (the cleartext in ``PlainContext``, one party's shares in the real
backend) with its fixed-point ``scale`` (frac bits: the word encodes real * 2^scale) and, for row-structured values,
the length of each row in order (``rows``; the data is the rows back to back, so ragged causal rows need no padding).
A gate with several outputs per element returns a ``GateOutput`` (one ``RingArray`` per output, in the gate's order).

The arithmetic is a parameter: ``RingArith`` is exact Z_{2^n} on uint64 (NumPy or CuPy), ``UnboundedArith`` the same
operations on float64 without wrapping, so that the range probe sees how large each intermediate gets at its scale.
"""

from dataclasses import dataclass
from typing import Any

MIN_RING_BITS, MAX_RING_BITS = 8, 64


@dataclass(frozen=True)
class FixedPoint:
    """The fixed-point format of a run: ring Z_{2^n_bits}, reals at ``frac_bits`` frac bits (Qf)."""

    n_bits: int
    frac_bits: int

    def __post_init__(self):
        if not MIN_RING_BITS <= self.n_bits <= MAX_RING_BITS:
            raise ValueError(f"n_bits = {self.n_bits}: allowed are {MIN_RING_BITS} to {MAX_RING_BITS}")
        if not 6 <= self.frac_bits <= (self.n_bits - 2) // 2:
            raise ValueError(f"frac_bits = {self.frac_bits}: allowed are 6 to {(self.n_bits - 2) // 2} "
                             f"(a Q2f product must fit the {self.n_bits}-bit ring)")


@dataclass
class RingArray:
    """Flat ring words at ``scale`` frac bits; ``rows`` the row lengths in order, a host NumPy int64 array whatever
    module the words are on (None: no row structure)."""

    data: Any
    scale: int
    rows: Any = None

    @property
    def words(self) -> int:
        return int(self.data.size)


@dataclass
class GateOutput:
    """A gate's outputs per element (coefficients, or a LUT value and a bit), each a ``RingArray``."""

    parts: tuple[RingArray, ...]

    @property
    def words(self) -> int:
        return self.parts[0].words


class RingArith:
    """Exact arithmetic mod 2^n on uint64 arrays of ``xp`` (numpy or cupy): uint64 wraps mod 2^64, ``wrap`` reduces."""

    exact = True

    def __init__(self, n_bits: int, xp: Any):
        self.xp = xp
        self.n_bits = n_bits
        self.dtype = xp.uint64
        self._mask = xp.uint64((1 << n_bits) - 1)
        self._half = 1 << (n_bits - 1)

    def wrap(self, a: Any) -> Any:
        return a & self._mask

    def const(self, c: int) -> Any:
        """A public integer as a ring word (negative ones as their two's complement)."""
        return self.xp.uint64(int(c) % (1 << 64))

    def encode(self, values: Any) -> Any:
        """Signed integers (int64 array) to ring words."""
        return self.wrap(self.xp.asarray(values, dtype=self.xp.int64).astype(self.xp.uint64))

    def signed(self, a: Any) -> Any:
        """SUF's ``to_signed``: the n-bit word read as two's complement, as int64."""
        a = self.wrap(a).astype(self.xp.int64)
        return self.xp.where(a >= self._half, a - (1 << self.n_bits), a) if self.n_bits < 64 else a

    def floor_shift(self, signed: Any, s: int) -> Any:
        """floor(v / 2^s) of signed values, back in the ring."""
        return self.encode(signed >> s)

    def matmul(self, a: Any, b: Any) -> Any:
        return self.wrap(a @ b)


class UnboundedArith:
    """The same operations on float64 with no ring: values grow as they would without wrapping (the range probe).
    Floors are exact while |v| < 2^53; beyond that the magnitude, which is what the probe reads, is still right."""

    exact = False

    def __init__(self, n_bits: int, xp: Any):
        self.xp = xp
        self.n_bits = n_bits
        self.dtype = xp.float64

    def wrap(self, a: Any) -> Any:
        return a

    def const(self, c: int) -> float:
        return float(c)

    def encode(self, values: Any) -> Any:
        return self.xp.asarray(values, dtype=self.xp.float64)

    def signed(self, a: Any) -> Any:
        return a

    def floor_shift(self, signed: Any, s: int) -> Any:
        return self.xp.floor(signed / float(1 << s))

    def matmul(self, a: Any, b: Any) -> Any:
        return a @ b
